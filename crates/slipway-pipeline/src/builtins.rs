//! Built-in stages (`uses: slipway/NAME` + `with:`): work every project needs that should not
//! require Python. Each built-in declares the deps and outs its arguments imply, so users need
//! not repeat them, and runs inside the binary.

use slipway_core::RelPath;
use slipway_core::pipeline::{Action, DepSpec, OutSpec, SpecError, SpecProblem, StageSpec};
use std::path::Path;

/// The built-ins this binary has.
pub const AVAILABLE: &[&str] = &["slipway/copy"];

/// Adds the deps and outs a built-in stage's arguments imply (unless already listed), and checks
/// the arguments. Command stages are left alone.
pub fn declare(file: &str, stage: &mut StageSpec) -> Result<(), SpecError> {
    let Action::Uses { name, with } = &stage.action else {
        return Ok(());
    };
    let err = |problem| {
        SpecError::new(file, stage.line, problem)
            .in_stage(&stage.name)
            .in_field("with")
    };
    match name.as_str() {
        "slipway/copy" => {
            let from = path_arg(with, "from").map_err(|message| {
                err(SpecProblem::BuiltinArgs {
                    builtin: name.clone(),
                    message,
                })
            })?;
            let to = path_arg(with, "to").map_err(|message| {
                err(SpecProblem::BuiltinArgs {
                    builtin: name.clone(),
                    message,
                })
            })?;
            let line = stage.line;
            if !stage.deps.iter().any(|d| d.path == from) {
                stage.deps.push(DepSpec { path: from, line });
            }
            if !stage.outs.iter().any(|o| o.path == to) {
                stage.outs.push(OutSpec {
                    path: to,
                    kind: None,
                    cache: true,
                    line,
                });
            }
            Ok(())
        }
        other => Err(SpecError::new(
            file,
            stage.line,
            SpecProblem::UnknownBuiltin {
                name: other.to_string(),
                available: AVAILABLE.join(", "),
            },
        )
        .in_stage(&stage.name)
        .in_field("uses")),
    }
}

fn path_arg(with: &serde_json::Value, key: &str) -> Result<RelPath, String> {
    let value = with
        .get(key)
        .ok_or_else(|| format!("missing argument '{key}' (a path relative to the project root)"))?;
    let text = value
        .as_str()
        .ok_or_else(|| format!("argument '{key}' must be a path string, found {value}"))?;
    RelPath::new(text).map_err(|e| format!("argument '{key}': {e}"))
}

/// Runs a built-in stage from the project root. Returns a failure message on error.
pub fn run(root: &Path, name: &str, with: &serde_json::Value) -> Result<(), String> {
    match name {
        "slipway/copy" => {
            let from = root.join(path_arg(with, "from")?.as_str());
            let to = root.join(path_arg(with, "to")?.as_str());
            copy_tree(&from, &to)
                .map_err(|e| format!("slipway/copy {} -> {}: {e}", from.display(), to.display()))
        }
        other => Err(format!("unknown built-in '{other}'")),
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else if meta.is_file() {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to).map(|_| ())
    } else {
        Err(std::io::Error::other(
            "only regular files and directories can be copied",
        ))
    }
}
