//! Slipway's built-in machine learning: a deterministic trainer ([`linear`], [`trees`]),
//! evaluation metrics that agree with scikit-learn ([`metrics`]), and the pipeline built-ins
//! `slipway/train`, `slipway/evaluate`, `slipway/model-tests` and `slipway/infra-tests`.
//!
//! Models are written in the built-in JSON format (`slipway_core::model`) and read back
//! through the serving runtimes (`slipway_serve`), so what is evaluated and tested is exactly
//! what the gateway serves.
#![deny(missing_docs)]

mod args;
pub mod evaluate;
pub mod gate;
mod holdout;
pub mod infra_tests;
pub mod linear;
pub mod metrics;
pub mod model_tests;
pub mod rng;
pub mod train;
pub mod trees;

pub use evaluate::EvaluateBuiltin;
pub use infra_tests::InfraTestsBuiltin;
pub use model_tests::ModelTestsBuiltin;
pub use train::TrainBuiltin;

use std::sync::Arc;

/// Registers every built-in of this crate and of `slipway-data` into `builtins`.
pub fn register_all(builtins: &mut slipway_pipeline::Builtins) {
    builtins.register(Arc::new(slipway_data::ValidateBuiltin));
    builtins.register(Arc::new(TrainBuiltin));
    builtins.register(Arc::new(EvaluateBuiltin));
    builtins.register(Arc::new(ModelTestsBuiltin));
    builtins.register(Arc::new(InfraTestsBuiltin));
    builtins.register(Arc::new(gate::GateBuiltin));
}
