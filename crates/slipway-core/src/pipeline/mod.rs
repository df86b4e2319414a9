//! The pipeline: `slipway.yaml` parsing, the stage DAG, stage cache keys, the lock file and
//! staleness.
//!
//! The flow for an executor: [`params_file`] names the params file; read it and build a
//! [`ParamsDoc`]; [`parse_pipeline`] gives a [`PipelineSpec`]; [`Pipeline::new`] checks the graph
//! and orders it; [`stage_key`] and [`stage_status`] decide what to run; [`LockFile`] records
//! what ran.

mod dag;
mod emit;
mod error;
mod key;
mod lock;
mod params;
mod parse;
mod paths;
mod schedule;
mod spec;
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
