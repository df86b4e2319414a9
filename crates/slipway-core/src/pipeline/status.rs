//! Staleness: whether a stage must run, and the first reason why.
//!
//! Checks follow DVC's order (first hit wins): no lock entry; the command; deps and params (and
//! the other inputs of the key: wdir, env, declared outs); the outs on disk; `always_changed`
//! (or a stage with no deps and no outs); and last, for a whole-pipeline status, a stale stage
//! upstream. A `frozen` stage only has its outs checked.

use super::dag::{Pipeline, StageId};
use super::key::{canonical_json, stage_key};
use super::lock::{LockEntry, LockFile, PathState};
use super::spec::StageSpec;
use crate::{Digest, RelPath};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt;

/// What the executor found on disk for one stage: the state of each dep and the digest of each
/// output (outs and metrics). A path absent from a map is missing on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Deps that exist, with their state.
    pub deps: BTreeMap<RelPath, PathState>,
    /// Outputs that exist, with their digest.
    pub outputs: BTreeMap<RelPath, Digest>,
}

/// Why a stage must run.
#[derive(Clone, Debug, PartialEq)]
pub enum StaleReason {
    /// No lock entry: the stage never ran (successfully).
    NeverRun,
    /// The command lines, or the built-in or its arguments, differ from the last run.
    CommandChanged,
    /// A dep is missing on disk.
    DepMissing {
        /// The dep.
        path: RelPath,
    },
    /// A dep that the last run did not have.
    DepAdded {
        /// The dep.
        path: RelPath,
    },
    /// A dep of the last run that the stage no longer lists.
    DepRemoved {
        /// The dep.
        path: RelPath,
    },
    /// A dep's content changed.
    DepChanged {
        /// The dep.
        path: RelPath,
        /// Digest at the last run.
        old: Digest,
        /// Digest now.
        new: Digest,
    },
    /// A tracked param the last run did not track.
    ParamAdded {
        /// Dotted key.
        key: String,
        /// Its value now.
        value: Json,
    },
    /// A param the last run tracked and the stage no longer does.
    ParamRemoved {
        /// Dotted key.
        key: String,
    },
    /// A tracked param's value changed.
    ParamChanged {
        /// Dotted key.
        key: String,
        /// Value at the last run.
        old: Json,
        /// Value now.
        new: Json,
    },
    /// The working directory changed.
    WdirChanged,
    /// An environment pin was added, removed or changed.
    EnvChanged {
        /// The variable.
        name: String,
    },
    /// An output the last run did not declare.
    OutAdded {
        /// The output.
        path: RelPath,
    },
    /// An output of the last run that the stage no longer declares.
    OutRemoved {
        /// The output.
        path: RelPath,
    },
    /// Something else in the stage key changed (an out's kind or cache flag, or the key format).
    DefinitionChanged,
    /// An output is missing on disk.
    OutMissing {
        /// The output.
        path: RelPath,
    },
    /// An output differs from what the last run produced.
    OutModified {
        /// The output.
        path: RelPath,
    },
    /// The stage is marked `always_changed`.
    AlwaysChanged,
    /// A command stage with no deps and no outs (DVC's callback stage) runs every time.
    NoDepsNoOuts,
    /// An upstream stage is stale, so this stage's deps are about to change.
    UpstreamStale {
        /// The upstream stage's name.
        stage: String,
    },
}

fn short(d: &Digest) -> String {
    d.short(12)
}

fn value(v: &Json) -> String {
    canonical_json(v)
}

impl fmt::Display for StaleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaleReason::NeverRun => write!(f, "never run"),
            StaleReason::CommandChanged => write!(f, "command changed"),
            StaleReason::DepMissing { path } => write!(f, "dep missing: {path}"),
            StaleReason::DepAdded { path } => write!(f, "dep added: {path}"),
            StaleReason::DepRemoved { path } => write!(f, "dep removed: {path}"),
            StaleReason::DepChanged { path, old, new } => {
                write!(f, "dep changed: {path} ({}… → {}…)", short(old), short(new))
            }
            StaleReason::ParamAdded { key, value: v } => {
                write!(f, "param added: {key} = {}", value(v))
            }
            StaleReason::ParamRemoved { key } => write!(f, "param removed: {key}"),
            StaleReason::ParamChanged { key, old, new } => {
                write!(f, "param changed: {key} {} → {}", value(old), value(new))
            }
            StaleReason::WdirChanged => write!(f, "wdir changed"),
            StaleReason::EnvChanged { name } => write!(f, "env changed: {name}"),
            StaleReason::OutAdded { path } => write!(f, "out added: {path}"),
            StaleReason::OutRemoved { path } => write!(f, "out removed: {path}"),
            StaleReason::DefinitionChanged => write!(f, "stage definition changed"),
            StaleReason::OutMissing { path } => write!(f, "out missing: {path}"),
            StaleReason::OutModified { path } => write!(f, "out modified: {path}"),
            StaleReason::AlwaysChanged => write!(f, "always changed"),
            StaleReason::NoDepsNoOuts => write!(f, "always changed (no deps and no outs)"),
            StaleReason::UpstreamStale { stage } => write!(f, "upstream stale: {stage}"),
        }
    }
}

/// The first reason `stage` must run, or `None` if it is up to date.
///
/// `entry` is its lock entry, `observed` what is on disk now, and `upstream_stale` the name of a
/// stale stage upstream (pass `None` while executing: once the upstream has run, its new outputs
/// show up as changed deps, so identical outputs cut the rerun off, as in DVC).
pub fn stage_status(
    stage: &StageSpec,
    observed: &Observed,
    entry: Option<&LockEntry>,
    upstream_stale: Option<&str>,
) -> Option<StaleReason> {
    if stage.frozen {
        return outputs_reason(stage, observed, entry);
    }
    let Some(entry) = entry else {
        return Some(StaleReason::NeverRun);
    };
    if entry.action != stage.action {
        return Some(StaleReason::CommandChanged);
    }
    if let Some(reason) = inputs_reason(stage, observed, entry) {
        return Some(reason);
    }
    if let Some(reason) = outputs_reason(stage, observed, Some(entry)) {
        return Some(reason);
    }
    if stage.always_changed {
        return Some(StaleReason::AlwaysChanged);
    }
    if stage.is_callback() {
        return Some(StaleReason::NoDepsNoOuts);
    }
    upstream_stale.map(|name| StaleReason::UpstreamStale {
        stage: name.to_string(),
    })
}

/// Deps, params, wdir, env, declared outputs, then anything else in the key.
fn inputs_reason(stage: &StageSpec, observed: &Observed, entry: &LockEntry) -> Option<StaleReason> {
    for dep in &stage.deps {
        let Some(now) = observed.deps.get(&dep.path) else {
            return Some(StaleReason::DepMissing {
                path: dep.path.clone(),
            });
        };
        match entry.dep(&dep.path) {
            None => {
                return Some(StaleReason::DepAdded {
                    path: dep.path.clone(),
                });
            }
            Some(then) if then.digest != now.digest => {
                return Some(StaleReason::DepChanged {
                    path: dep.path.clone(),
                    old: then.digest,
                    new: now.digest,
                });
            }
            Some(_) => {}
        }
    }
    if let Some(gone) = entry
        .deps
        .iter()
        .find(|d| !stage.deps.iter().any(|s| s.path == d.path))
    {
        return Some(StaleReason::DepRemoved {
            path: gone.path.clone(),
        });
    }
    for param in &stage.params {
        match entry.params.get(&param.key) {
            None => {
                return Some(StaleReason::ParamAdded {
                    key: param.key.clone(),
                    value: param.value.clone(),
                });
            }
            Some(old) if *old != param.value => {
                return Some(StaleReason::ParamChanged {
                    key: param.key.clone(),
                    old: old.clone(),
                    new: param.value.clone(),
                });
            }
            Some(_) => {}
        }
    }
    if let Some(gone) = entry.params.keys().find(|k| stage.param(k).is_none()) {
        return Some(StaleReason::ParamRemoved { key: gone.clone() });
    }
    if entry.wdir != stage.wdir {
        return Some(StaleReason::WdirChanged);
    }
    let env_names = entry.env.keys().chain(stage.env.keys());
    if let Some(name) = env_names
        .into_iter()
        .find(|k| entry.env.get(*k) != stage.env.get(*k))
    {
        return Some(StaleReason::EnvChanged { name: name.clone() });
    }
    if let Some(added) = stage.outputs().find(|o| entry.output(&o.path).is_none()) {
        return Some(StaleReason::OutAdded {
            path: added.path.clone(),
        });
    }
    let recorded = entry.outs.iter().chain(&entry.metrics);
    if let Some(gone) = recorded
        .into_iter()
        .find(|o| !stage.outputs().any(|s| s.path == o.path))
    {
        return Some(StaleReason::OutRemoved {
            path: gone.path.clone(),
        });
    }
    match stage_key(stage, &observed.deps) {
        Ok(key) if key == entry.key => None,
        _ => Some(StaleReason::DefinitionChanged),
    }
}

/// Outputs missing, or different from the lock entry's digests.
fn outputs_reason(
    stage: &StageSpec,
    observed: &Observed,
    entry: Option<&LockEntry>,
) -> Option<StaleReason> {
    for out in stage.outputs() {
        let Some(now) = observed.outputs.get(&out.path) else {
            return Some(StaleReason::OutMissing {
                path: out.path.clone(),
            });
        };
        if let Some(then) = entry.and_then(|e| e.output(&out.path))
            && then.digest != *now
        {
            return Some(StaleReason::OutModified {
                path: out.path.clone(),
            });
        }
    }
    None
}

impl Pipeline {
    /// The status of every stage, in topological order: `None` when up to date, otherwise the
    /// first reason. A stage whose own checks pass is stale when a stage it depends on is
    /// (`upstream stale: NAME`, naming the first stale dependency by name), since its deps are
    /// about to change; frozen stages never are.
    pub fn status(
        &self,
        lock: &LockFile,
        mut observe: impl FnMut(StageId) -> Observed,
    ) -> Vec<(StageId, Option<StaleReason>)> {
        let mut stale = vec![false; self.len()];
        let mut out = Vec::with_capacity(self.len());
        for &id in self.topo_order() {
            let stage = self.stage(id);
            let upstream = self
                .dependencies(id)
                .iter()
                .find(|up| stale[up.index()])
                .map(|up| self.stage(*up).name.as_str());
            let reason = stage_status(stage, &observe(id), lock.entry(&stage.name), upstream);
            stale[id.index()] = reason.is_some();
            out.push((id, reason));
        }
        out
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
