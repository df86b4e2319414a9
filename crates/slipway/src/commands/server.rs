//! `slipway server`: serve this project's tracker until SIGINT/SIGTERM.

use crate::Outcome;
use crate::cli::ServerArgs;
use crate::commands::Context;
use anyhow::{Context as _, Result};
use std::net::ToSocketAddrs;

pub fn run(ctx: &Context, args: ServerArgs) -> Result<Outcome> {
    let workspace = ctx.workspace()?;
    let addr = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve --host {}", args.host))?
        .next()
        .with_context(|| format!("--host {} resolves to no address", args.host))?;
    let config = slipway_server::ServerConfig {
        addr,
        insecure: args.insecure,
        limits: slipway_server::Limits {
            json_body: args.max_json_mib << 20,
            artifact_body: args.max_artifact_gib << 30,
        },
    };
    let root = workspace.root().display().to_string();
    let messages = ctx.messages;
    // Monitors run on their schedules beside the server (monitors.yaml, re-read every second).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scheduler = {
        let (root, stop) = (workspace.root().to_path_buf(), stop.clone());
        std::thread::Builder::new()
            .name("slipway-monitors".into())
            .spawn(move || crate::monitors::schedule(root, stop))?
    };
    let served = slipway_server::run_blocking(workspace, config, move |bound| {
        // Printed even with --quiet's opposite default: tests and scripts read the address here.
        eprintln!("slipway tracker for {root} listening on http://{bound}");
        messages.say(format!(
            "MLflow clients: export MLFLOW_TRACKING_URI=http://{bound}  (Ctrl-C stops)"
        ));
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = scheduler.join();
    served?;
    Ok(Outcome::Ok)
}
