//! The serving gateway inside `slipway server`: every live (model, slot) behind one server,
//! hot-swapped when the registry changes, with canary and shadow challengers, a prediction log
//! and per-version latency histograms.
//!
//! - [`table`]: the immutable route table and the loader that fills it.
//! - [`predict`]: the HTTP endpoints (`/v1/models`, `…:predict`, MLflow's `/invocations`,
//!   `/v1/labels`).
//! - [`latency`]: lock-free latency histograms.
//!
//! Change detection: every registry change (promotion, rollback, alias move, traffic change —
//! from this server, another one or the CLI) appends to the audit chain, so the reloader reads
//! the entries past the last one it saw (one range query) every [`POLL`], and rebuilds the
//! table only when one of them is a registry change, not a tracker run event. New versions load on a blocking thread while the old table keeps
//! serving; the swap is one pointer store.

pub mod latency;
pub mod predict;
pub mod table;

use crate::error::ServerError;
use crate::state::AppState;
use slipway_store::SqliteStore;
use slipway_store::predlog::{LogConfig, LogHandle, LogWriter};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use table::{Loader, RouteTable};

/// How often the reloader looks for registry changes.
pub const POLL: Duration = Duration::from_millis(200);

/// The gateway's shared state.
pub struct Gateway {
    table: RwLock<Arc<RouteTable>>,
    log: LogHandle,
    loader: Arc<Mutex<Loader>>,
    /// The loader's histograms, read without waiting for a model load in progress.
    latency: table::Histograms,
    store: Arc<SqliteStore>,
    /// The audit chain's sequence number the table reflects (checked up to).
    seen: std::sync::atomic::AtomicU64,
}

impl Gateway {
    /// Opens the prediction log, loads every live version (so the first request after the
    /// server says it is listening is served), and starts the reloader. The returned writer
    /// is joined after the server stops, which flushes the log.
    pub fn start(state: &AppState) -> Result<(Arc<Gateway>, LogWriter), ServerError> {
        let workspace = Arc::clone(state.workspace());
        let log_dir = workspace.dir().join("predictions");
        let (log, writer) = LogWriter::start(&log_dir, LogConfig::default())
            .map_err(|e| ServerError::Gateway(e.to_string()))?;
        let store = Arc::new(
            SqliteStore::open(workspace.meta().path())
                .map_err(|e| ServerError::Gateway(e.to_string()))?,
        );
        let mut loader = Loader::new(workspace);
        let (seen, _) = store
            .audit_changes_since(0)
            .map_err(|e| ServerError::Gateway(e.to_string()))?;
        let table = table::build(&store, &mut loader, &RouteTable::default())
            .map_err(ServerError::Gateway)?;
        for (model, slots) in &table.models {
            for (slot, route) in slots {
                tracing::info!(model, slot, version = route.champion.version, "Serving.");
            }
        }
        let latency = Arc::clone(&loader.latency);
        let gateway = Arc::new(Gateway {
            table: RwLock::new(Arc::new(table)),
            log,
            loader: Arc::new(Mutex::new(loader)),
            latency,
            store,
            seen: std::sync::atomic::AtomicU64::new(seen),
        });
        tokio::spawn(reload_loop(Arc::downgrade(&gateway)));
        Ok((gateway, writer))
    }

    /// The table serving now.
    pub fn table(&self) -> Arc<RouteTable> {
        Arc::clone(&self.table.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The prediction log.
    pub fn log(&self) -> &LogHandle {
        &self.log
    }

    /// Rebuilds the table if the registry changed since it was built; returns whether it did.
    pub async fn reload(self: &Arc<Self>) -> Result<bool, String> {
        use std::sync::atomic::Ordering;
        let current = self.table();
        let seen = self.seen.load(Ordering::Acquire);
        let store = Arc::clone(&self.store);
        let loader = Arc::clone(&self.loader);
        let (latest, rebuilt) =
            tokio::task::spawn_blocking(move || -> Result<(u64, Option<RouteTable>), String> {
                let (latest, changed) =
                    store.audit_changes_since(seen).map_err(|e| e.to_string())?;
                if !changed {
                    return Ok((latest, None));
                }
                let mut loader = loader.lock().unwrap_or_else(|p| p.into_inner());
                let started = std::time::Instant::now();
                let table = table::build(&store, &mut loader, &current)?;
                tracing::debug!(
                    seq = latest,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "Rebuilt the route table."
                );
                Ok((latest, Some(table)))
            })
            .await
            .map_err(|e| e.to_string())??;
        let did = rebuilt.is_some();
        if let Some(table) = rebuilt {
            let old = self.table();
            log_changes(&old, &table);
            *self.table.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(table);
        }
        // Only after a successful rebuild: a failed one is retried on the next poll.
        self.seen.store(latest, Ordering::Release);
        Ok(did)
    }

    /// Per-version latency in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let histograms = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<_> = histograms.keys().cloned().collect();
        keys.sort();
        out.push_str("# HELP slipway_prediction_latency_seconds Time from request body to response, per model version.\n");
        out.push_str("# TYPE slipway_prediction_latency_seconds histogram\n");
        for (model, version) in &keys {
            let labels = format!(
                "model=\"{}\",version=\"{version}\"",
                crate::observe::escape(model)
            );
            histograms[&(model.clone(), *version)].render(
                out,
                "slipway_prediction_latency_seconds",
                &labels,
            );
        }
        for (q, name) in [(0.5, "p50"), (0.99, "p99")] {
            let _ = writeln!(
                out,
                "# TYPE slipway_prediction_latency_{name}_milliseconds gauge"
            );
            for (model, version) in &keys {
                if let Some(ms) = histograms[&(model.clone(), *version)].quantile_ms(q) {
                    let _ = writeln!(
                        out,
                        "slipway_prediction_latency_{name}_milliseconds{{model=\"{}\",version=\"{version}\"}} {ms}",
                        crate::observe::escape(model)
                    );
                }
            }
        }
    }

    /// p50 and p99 (ms) and the count of a version's latency histogram, if it served.
    pub fn latency(&self, model: &str, version: u64) -> Option<(f64, f64, u64)> {
        let histograms = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = histograms.get(&(model.to_string(), version))?;
        Some((h.quantile_ms(0.5)?, h.quantile_ms(0.99)?, h.count()))
    }
}

fn log_changes(old: &RouteTable, new: &RouteTable) {
    for (model, slots) in &new.models {
        for (slot, route) in slots {
            let before = old.get(model, slot).map(|r| r.champion.version);
            if before != Some(route.champion.version) {
                tracing::info!(model, slot, from = ?before, to = route.champion.version, "Swapped the live version.");
            }
        }
    }
}

/// Polls for registry changes while the gateway exists.
async fn reload_loop(gateway: Weak<Gateway>) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(gateway) = gateway.upgrade() else {
            return;
        };
        if let Err(e) = gateway.reload().await {
            tracing::error!(error = %e, "Cannot reload the gateway's routes; serving the previous ones.");
        }
    }
}
