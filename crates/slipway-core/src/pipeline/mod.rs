//! The pipeline: `slipway.yaml` parsing, the stage DAG, stage cache keys, the lock file and
//! staleness.
//!
//! The flow for an executor:
//! 1. [`params_file`] names the params file; read it and build a [`ParamsDoc`] (or
//!    [`ParamsDoc::missing`]).
//! 2. [`Pipeline::from_yaml`] (= [`parse_pipeline`] + [`Pipeline::new`]) parses, expands and
//!    checks the pipeline, reporting every problem with file, line, stage and field.
//! 3. Choose stages ([`Pipeline::select`], [`Pipeline::upstream_closure`]) and hand them out with
//!    a [`Schedule`] (or walk [`Pipeline::levels`]).
//! 4. For each ready stage, hash its deps and outputs into an [`Observed`], ask
//!    [`stage_status`]; if stale, compute [`stage_key`] (the run-cache key), run it, and record a
//!    [`LockEntry`] in the [`LockFile`], written with [`LockFile::to_yaml`].
//! 5. `slipway status` is [`Pipeline::status`].

mod dag;
mod emit;
mod error;
mod key;
mod lock;
mod lock_read;
mod params;
mod parse;
mod paths;
mod schedule;
mod spec;
mod stage;
mod status;
mod template;
mod vars;
mod yaml;

pub use dag::{Pipeline, StageId};
pub use error::{SpecError, SpecLocation, SpecProblem};
pub use key::{MissingState, STAGE_KEY_FORMAT, canonical_json, stage_key, stage_key_bytes};
pub use lock::{
    LOCK_SCHEMA, LockEntry, LockError, LockFile, LockProblem, LockedPath, PathState, entry_yaml,
};
pub use params::ParamsDoc;
pub use parse::{DEFAULT_PARAMS_FILE, params_file, parse_pipeline};
pub use schedule::{Progress, Schedule};
pub use spec::{Action, DepSpec, OutSpec, ParamSpec, PipelineSpec, StageSpec};
pub use status::{Observed, StaleReason, stage_status};
