//! Slipway's pipeline executor.
//!
//! The pure parts (spec parsing, the DAG, stage keys, staleness, the lock file model) live in
//! `slipway_core::pipeline`; this crate does the I/O around them:
//!
//! - [`project`]: reads `slipway.yaml` and the params file into a validated `Pipeline`.
//! - [`observe`]: hashes deps and outputs (stat cache), once per path per invocation.
//! - [`lockfile`]: reads `slipway.lock` (+ the journal a crash left), appends each finished
//!   stage to the journal, rewrites the lock once at the end — linear, not quadratic.
//! - [`runcache`]: stage key → outputs, so a seen combination of inputs is restored, not rerun.
//! - [`command`]: runs a stage's shell lines in their own process group, output to a log.
//! - [`builtins`]: `uses: slipway/…` stages that run inside the binary.
//! - [`exec`]: the parallel executor; [`status`]: what is stale and why; [`render`]: the DAG as
//!   text, Graphviz dot, Mermaid or JSON.
#![deny(missing_docs)]

pub mod builtins;
pub mod command;
pub mod error;
pub mod exec;
pub mod git;
pub mod gitignore;
pub mod lockfile;
pub mod observe;
pub mod project;
pub mod render;
pub mod runcache;
pub mod status;
mod tracking;

pub use builtins::{
    Builtin, BuiltinContext, BuiltinFailure, BuiltinMetric, BuiltinOutput, Builtins, Declared,
};
pub use error::PipelineError;
pub use exec::{Event, RunOptions, StageOutcome, Summary, run_pipeline};
pub use project::Project;
