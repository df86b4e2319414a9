//! Integration tests that drive the real `slipway` binary on real directories.
//! One test binary (faster to link), one module per command group.

mod artifacts;
mod builtins;
mod crash;
mod gate;
mod governance;
mod lineage;
mod models;
mod monitor;
mod pipeline;
mod util;
