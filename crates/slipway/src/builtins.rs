//! The built-in stages this binary offers: the executor's own (`slipway/copy`) plus data tests,
//! training, evaluation, model and infrastructure tests from `slipway-data` and `slipway-ml`.

use slipway_pipeline::Builtins;

/// Every built-in, for `slipway run`, `status`, `dag` and `score`.
pub fn registry() -> Builtins {
    let mut builtins = Builtins::standard();
    slipway_ml::register_all(&mut builtins);
    builtins
}
