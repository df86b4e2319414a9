//! Reading `with:` arguments and the files they name, shared by the built-ins of this crate.

use slipway_core::{Digest, RelPath};
use slipway_pipeline::{BuiltinContext, BuiltinFailure};
use slipway_store::hashing::TreeHasher;

/// A number argument with a default, checked against `valid` (whose description is shown).
pub fn number(
    with: &serde_json::Value,
    key: &str,
    default: f64,
    valid: (&str, fn(f64) -> bool),
) -> Result<f64, String> {
    match with.get(key) {
        None => Ok(default),
        Some(v) => v
            .as_f64()
            .filter(|x| valid.1(*x))
            .ok_or_else(|| format!("argument '{key}' must be {}, found {v}", valid.0)),
    }
}

/// A whole-number argument with a default and a minimum.
pub fn count(with: &serde_json::Value, key: &str, default: u64, min: u64) -> Result<u64, String> {
    match with.get(key) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|x| *x >= min)
            .ok_or_else(|| format!("argument '{key}' must be an integer >= {min}, found {v}")),
    }
}

/// A string argument.
pub fn text(with: &serde_json::Value, key: &str) -> Result<Option<String>, String> {
    match with.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .map(|s| Some(s.to_string()))
            .ok_or_else(|| format!("argument '{key}' must be a string, found {v}")),
    }
}

/// A required string argument.
pub fn required_text(with: &serde_json::Value, key: &str, what: &str) -> Result<String, String> {
    text(with, key)?.ok_or_else(|| format!("missing argument '{key}' ({what})"))
}

/// A list-of-strings argument.
pub fn list(with: &serde_json::Value, key: &str) -> Result<Option<Vec<String>>, String> {
    match with.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_array()
            .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_string)).collect())
            .map(Some)
            .ok_or_else(|| format!("argument '{key}' must be a list of names, found {v}")),
    }
}

/// A map of metric name to bound (`min:`/`max:`).
pub fn bounds(
    with: &serde_json::Value,
    key: &str,
) -> Result<std::collections::BTreeMap<String, f64>, String> {
    let mut out = std::collections::BTreeMap::new();
    let Some(v) = with.get(key) else {
        return Ok(out);
    };
    let map = v
        .as_object()
        .ok_or_else(|| format!("argument '{key}' must map metric names to numbers, found {v}"))?;
    for (k, b) in map {
        let b = b
            .as_f64()
            .ok_or_else(|| format!("argument '{key}.{k}' must be a number, found {b}"))?;
        out.insert(k.clone(), b);
    }
    Ok(out)
}

/// The digest of a project file (through the stat cache).
pub fn digest(ctx: &BuiltinContext<'_>, rel: &RelPath) -> Result<Digest, BuiltinFailure> {
    TreeHasher::new(ctx.workspace.meta())
        .hash(&ctx.path(rel))
        .map(|h| h.digest())
        .map_err(|e| BuiltinFailure::new(e.to_string()))
}

/// Writes a file of the project, creating its directory.
pub fn write(ctx: &BuiltinContext<'_>, rel: &RelPath, text: &str) -> Result<(), BuiltinFailure> {
    let path = ctx.path(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| BuiltinFailure::new(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(&path, text)
        .map_err(|e| BuiltinFailure::new(format!("cannot write {}: {e}", path.display())))
}

/// A report path argument (default `default`), which must end in `.json`.
pub fn report_path(with: &serde_json::Value, default: &str) -> Result<RelPath, String> {
    let rel = slipway_pipeline::builtins::opt_path_arg(with, "report")?
        .unwrap_or_else(|| RelPath::new(default).expect("valid default"));
    if rel.as_str().ends_with(".json") {
        Ok(rel)
    } else {
        Err(format!(
            "argument 'report' must end in .json, found '{rel}'"
        ))
    }
}
