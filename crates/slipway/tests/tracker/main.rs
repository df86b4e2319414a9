//! The tracker end to end: the real `slipway server` process driven by the real MLflow client,
//! kill -9 durability, graceful shutdown, and `slipway runs` embedded and against a server.

mod durability;
mod gateway;
mod mlflow_compat;
mod runs_cli;
mod util;
