//! Built-in stages (`uses: slipway/NAME` + `with:`): work every project needs that should not
//! require Python. Each built-in declares the deps and outs its arguments imply, so users need
//! not repeat them, and runs inside the binary.
//!
//! Built-ins are values of the [`Builtin`] trait collected in a [`Builtins`] registry. This crate
//! registers only `slipway/copy` ([`Builtins::standard`]); crates with heavy dependencies (data
//! validation, training, evaluation) implement the trait and the binary registers them, so the
//! executor never links arrow or an ONNX runtime.

use slipway_core::pipeline::{Action, DepSpec, OutSpec, SpecError, SpecProblem, StageSpec};
use slipway_core::{ArtifactKind, RelPath};
use slipway_store::Workspace;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// One built-in stage.
pub trait Builtin: Send + Sync {
    /// The name used in `uses:`, e.g. `slipway/copy`.
    fn name(&self) -> &'static str;

    /// Checks the `with:` arguments and returns the deps and outs they imply. The message of an
    /// error names the argument and what would be valid.
    fn declare(&self, with: &serde_json::Value) -> Result<Declared, String>;

    /// Runs the stage. `Err` fails the stage; its params, metrics and log are still recorded.
    fn run(&self, ctx: &BuiltinContext<'_>) -> Result<BuiltinOutput, BuiltinFailure>;
}

/// The paths a built-in's arguments imply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// Files or directories it reads.
    pub deps: Vec<RelPath>,
    /// Files or directories it writes, with their kind.
    pub outs: Vec<(RelPath, Option<ArtifactKind>)>,
}

/// What a running built-in gets.
pub struct BuiltinContext<'a> {
    /// The project root.
    pub root: &'a Path,
    /// The project's workspace (object store, metadata).
    pub workspace: &'a Workspace,
    /// The stage's name.
    pub stage: &'a str,
    /// Its `with:` arguments (already checked by [`Builtin::declare`]).
    pub with: &'a serde_json::Value,
    /// The registry the executor runs with (a built-in that reruns a stage needs it).
    pub builtins: &'a Builtins,
    /// Set when the run is interrupted; long built-ins should check it and stop.
    pub cancel: &'a AtomicBool,
}

impl BuiltinContext<'_> {
    /// The absolute path of a project-relative path.
    pub fn path(&self, rel: &RelPath) -> std::path::PathBuf {
        self.root.join(rel.as_str())
    }
}

/// One metric value a built-in logs on its stage's run.
#[derive(Clone, Debug, PartialEq)]
pub struct BuiltinMetric {
    /// Metric name.
    pub key: String,
    /// The value.
    pub value: f64,
    /// Step (epoch, tree, iteration); 0 for a single value.
    pub step: i64,
}

/// What a built-in produced besides its output files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuiltinOutput {
    /// Params to log on the stage's run (added to the stage's tracked params).
    pub params: Vec<(String, String)>,
    /// Metrics to log on the stage's run, with steps.
    pub metrics: Vec<BuiltinMetric>,
    /// Text for the stage's log.
    pub log: String,
}

impl BuiltinOutput {
    /// Appends a line to the log.
    pub fn say(&mut self, line: impl fmt::Display) {
        use std::fmt::Write;
        let _ = writeln!(self.log, "{line}");
    }

    /// Logs a param.
    pub fn param(&mut self, key: impl Into<String>, value: impl fmt::Display) {
        self.params.push((key.into(), value.to_string()));
    }

    /// Logs a metric at a step.
    pub fn metric(&mut self, key: impl Into<String>, value: f64, step: i64) {
        self.metrics.push(BuiltinMetric {
            key: key.into(),
            value,
            step,
        });
    }
}

/// A built-in that failed: why, and what it had produced until then.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuiltinFailure {
    /// What failed, naming the file, column, expectation or check and what would pass.
    pub message: String,
    /// Params, metrics and log produced before failing (recorded on the failed run).
    pub output: BuiltinOutput,
}

impl BuiltinFailure {
    /// A failure with nothing produced.
    pub fn new(message: impl Into<String>) -> BuiltinFailure {
        BuiltinFailure {
            message: message.into(),
            output: BuiltinOutput::default(),
        }
    }

    /// A failure after producing `output`.
    pub fn with_output(message: impl Into<String>, output: BuiltinOutput) -> BuiltinFailure {
        BuiltinFailure {
            message: message.into(),
            output,
        }
    }
}

impl From<String> for BuiltinFailure {
    fn from(message: String) -> BuiltinFailure {
        BuiltinFailure::new(message)
    }
}

/// The built-ins available to a run, by name. Cheap to clone.
#[derive(Clone, Default)]
pub struct Builtins {
    by_name: BTreeMap<&'static str, Arc<dyn Builtin>>,
}

impl fmt::Debug for Builtins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_name.keys()).finish()
    }
}

impl Builtins {
    /// No built-ins at all.
    pub fn empty() -> Builtins {
        Builtins::default()
    }

    /// The built-ins of this crate: `slipway/copy`.
    pub fn standard() -> Builtins {
        let mut b = Builtins::empty();
        b.register(Arc::new(Copy));
        b
    }

    /// Adds (or replaces) a built-in.
    pub fn register(&mut self, builtin: Arc<dyn Builtin>) {
        self.by_name.insert(builtin.name(), builtin);
    }

    /// The built-in named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Builtin>> {
        self.by_name.get(name)
    }

    /// Every name, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.by_name.keys().copied().collect()
    }

    /// Adds the deps and outs a built-in stage's arguments imply (unless already listed), and
    /// checks the arguments. Command stages are left alone.
    pub fn declare(&self, file: &str, stage: &mut StageSpec) -> Result<(), SpecError> {
        let Action::Uses { name, with } = &stage.action else {
            return Ok(());
        };
        let Some(builtin) = self.get(name) else {
            return Err(SpecError::new(
                file,
                stage.line,
                SpecProblem::UnknownBuiltin {
                    name: name.clone(),
                    available: self.names().join(", "),
                },
            )
            .in_stage(&stage.name)
            .in_field("uses"));
        };
        let declared = builtin.declare(with).map_err(|message| {
            SpecError::new(
                file,
                stage.line,
                SpecProblem::BuiltinArgs {
                    builtin: name.clone(),
                    message,
                },
            )
            .in_stage(&stage.name)
            .in_field("with")
        })?;
        let line = stage.line;
        for path in declared.deps {
            if !stage.deps.iter().any(|d| d.path == path) {
                stage.deps.push(DepSpec { path, line });
            }
        }
        for (path, kind) in declared.outs {
            let listed = stage.outputs().any(|o| o.path == path);
            if !listed {
                stage.outs.push(OutSpec {
                    path,
                    kind,
                    cache: true,
                    line,
                });
            }
        }
        Ok(())
    }
}

/// A required path argument: a string that is a valid project-relative path.
pub fn path_arg(with: &serde_json::Value, key: &str) -> Result<RelPath, String> {
    let value = with
        .get(key)
        .ok_or_else(|| format!("missing argument '{key}' (a path relative to the project root)"))?;
    let text = value
        .as_str()
        .ok_or_else(|| format!("argument '{key}' must be a path string, found {value}"))?;
    RelPath::new(text).map_err(|e| format!("argument '{key}': {e}"))
}

/// An optional path argument.
pub fn opt_path_arg(with: &serde_json::Value, key: &str) -> Result<Option<RelPath>, String> {
    match with.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(_) => path_arg(with, key).map(Some),
    }
}

/// Checks that `with` names only `allowed` keys; the error names the unknown key and lists the
/// valid ones.
pub fn known_args(with: &serde_json::Value, allowed: &[&str]) -> Result<(), String> {
    let Some(map) = with.as_object() else {
        return Err(format!("'with' must be a mapping, found {with}"));
    };
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(format!(
                "unknown argument '{key}'; valid arguments are: {}",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

/// `slipway/copy`: copies a file or directory (`from` → `to`).
struct Copy;

impl Builtin for Copy {
    fn name(&self) -> &'static str {
        "slipway/copy"
    }

    fn declare(&self, with: &serde_json::Value) -> Result<Declared, String> {
        known_args(with, &["from", "to"])?;
        Ok(Declared {
            deps: vec![path_arg(with, "from")?],
            outs: vec![(path_arg(with, "to")?, None)],
        })
    }

    fn run(&self, ctx: &BuiltinContext<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let from = ctx.path(&path_arg(ctx.with, "from")?);
        let to = ctx.path(&path_arg(ctx.with, "to")?);
        copy_tree(&from, &to).map_err(|e| {
            BuiltinFailure::new(format!(
                "slipway/copy {} -> {}: {e}",
                from.display(),
                to.display()
            ))
        })?;
        let mut out = BuiltinOutput::default();
        out.say(format!("copied {} -> {}", from.display(), to.display()));
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_arguments_name_the_valid_ones() {
        let err = known_args(&serde_json::json!({"form": "a"}), &["from", "to"]).unwrap_err();
        assert!(err.contains("'form'") && err.contains("from, to"), "{err}");
        assert!(known_args(&serde_json::json!([1]), &["from"]).is_err());
    }

    #[test]
    fn the_standard_registry_has_copy_only() {
        let b = Builtins::standard();
        assert_eq!(b.names(), vec!["slipway/copy"]);
        let d = b
            .get("slipway/copy")
            .unwrap()
            .declare(&serde_json::json!({"from": "a", "to": "b/c"}))
            .unwrap();
        assert_eq!(d.deps[0].as_str(), "a");
        assert_eq!(d.outs[0].0.as_str(), "b/c");
        assert!(
            b.get("slipway/copy")
                .unwrap()
                .declare(&serde_json::json!({"from": "/abs", "to": "b"}))
                .is_err()
        );
    }
}
