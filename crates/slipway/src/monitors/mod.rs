//! Monitors over live traffic: `monitors.yaml` declares them, `slipway monitor run` runs them
//! once and `slipway server` on their schedule. A breach opens an incident (deduplicated while
//! open, with a cooldown after it is resolved), POSTs it to the webhook and, when configured,
//! proposes a retrained challenger; a healthy reading resolves the open incident. Every step
//! lands in the audit chain (through the store).
//!
//! - [`config`]: the file. [`checks`]: PSI over the prediction log, SLO on labelled accuracy.
//! - [`act`]: webhook and retraining proposal.

pub mod act;
pub mod charts;
pub mod checks;
pub mod config;

use anyhow::Result;
use checks::Verdict;
use serde_json::{Value, json};
use slipway_store::Workspace;
use slipway_store::registry::{Breach, BreachReport};

/// The audit actor of monitor actions.
pub const ACTOR: &str = "monitor";

/// What one monitor run did.
#[derive(Debug)]
pub struct RunReport {
    /// The monitor.
    pub monitor: String,
    /// `healthy`, `breach`, `not_enough_data` or `error`.
    pub state: &'static str,
    /// One line.
    pub summary: String,
    /// The numbers.
    pub details: Value,
    /// The incident touched: (id, `opened` | `repeated` | `cooling_down` | `resolved`).
    pub incident: Option<(i64, &'static str)>,
    /// The webhook's answer, for a new incident.
    pub notified: Option<String>,
    /// The retraining proposal, for a new incident.
    pub proposal: Option<Value>,
}

impl RunReport {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "monitor": self.monitor,
            "state": self.state,
            "summary": self.summary,
            "details": self.details,
            "incident": self.incident.map(|(id, what)| json!({"id": id, "action": what})),
            "notified": self.notified,
            "proposal": self.proposal,
        })
    }
}

/// Runs one monitor and acts on its verdict.
pub fn run_one(
    ws: &Workspace,
    file: &config::MonitorsFile,
    spec: &config::MonitorSpec,
    now_ms: i64,
) -> RunReport {
    let mut report = RunReport {
        monitor: spec.name.clone(),
        state: "error",
        summary: String::new(),
        details: Value::Null,
        incident: None,
        notified: None,
        proposal: None,
    };
    let verdict = match checks::check(ws, spec, now_ms) {
        Ok(v) => v,
        Err(e) => {
            report.summary = format!("{e:#}");
            return report;
        }
    };
    let cooldown = config::duration(&spec.name, "cooldown", &spec.cooldown)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(3_600_000);
    match verdict {
        Verdict::NotEnoughData { summary } => {
            report.state = "not_enough_data";
            report.summary = summary;
        }
        Verdict::Healthy { summary, details } => {
            report.state = "healthy";
            match ws.meta().resolve_monitor_incident(
                &spec.name,
                &format!("healthy again: {summary}"),
                ACTOR,
                now_ms,
            ) {
                Ok(Some(incident)) => report.incident = Some((incident.id, "resolved")),
                Ok(None) => {}
                Err(e) => report.summary = format!("{summary}; cannot resolve the incident: {e}"),
            }
            if report.summary.is_empty() {
                report.summary = summary;
            }
            report.details = details;
        }
        Verdict::Breach { summary, details } => {
            report.state = "breach";
            let recorded = ws.meta().record_breach(
                &BreachReport {
                    monitor: &spec.name,
                    model: &spec.model,
                    slot: &spec.slot,
                    summary: &summary,
                    details: &details,
                    cooldown_ms: cooldown,
                },
                ACTOR,
                now_ms,
            );
            report.summary = summary;
            report.details = details;
            match recorded {
                Ok(Breach::Opened(incident)) => {
                    report.incident = Some((incident.id, "opened"));
                    if let Some(url) = &file.webhook {
                        let answer = act::notify(url, &incident, ws.root());
                        let _ = ws.meta().note_incident(
                            incident.id,
                            Some(&answer),
                            None,
                            ACTOR,
                            now_ms,
                        );
                        report.notified = Some(answer);
                    }
                    if let Some(retrain) = &spec.retrain {
                        let proposal = act::propose(ws, spec, retrain).unwrap_or_else(
                            |e| json!({"outcome": "failed", "why": format!("{e:#}")}),
                        );
                        let _ = ws.meta().note_incident(
                            incident.id,
                            None,
                            Some(&proposal),
                            ACTOR,
                            slipway_store::now_ms(),
                        );
                        report.proposal = Some(proposal);
                    }
                }
                Ok(Breach::Repeated(incident)) => report.incident = Some((incident.id, "repeated")),
                Ok(Breach::CoolingDown { last, .. }) => {
                    report.incident = Some((last.id, "cooling_down"))
                }
                Err(e) => {
                    report.summary = format!("{}; cannot record the incident: {e}", report.summary)
                }
            }
        }
    }
    report
}

/// Runs every monitor (or the one named) once.
pub fn run_all(ws: &Workspace, only: Option<&str>, now_ms: i64) -> Result<Vec<RunReport>> {
    let Some(file) = config::load(ws.root())? else {
        anyhow::bail!(
            "{} not found in {}: declare monitors there (see `slipway monitor run --help`)",
            config::FILE,
            ws.root().display()
        );
    };
    if let Some(name) = only
        && !file.monitors.iter().any(|m| m.name == name)
    {
        anyhow::bail!("no monitor named `{name}` in {}", config::FILE);
    }
    Ok(file
        .monitors
        .iter()
        .filter(|m| only.is_none_or(|n| n == m.name))
        .map(|m| run_one(ws, &file, m, now_ms))
        .collect())
}

/// Runs the monitors on their schedules until `stop` is set: checked every second, the file
/// re-read each time (edits apply without a restart), each monitor every `every`, the first
/// time one interval after it was first seen.
pub fn schedule(root: std::path::PathBuf, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::collections::HashMap;
    use std::sync::atomic::Ordering;
    let mut last_run: HashMap<String, i64> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let file = match config::load(&root) {
            Ok(Some(f)) => f,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "Cannot read the monitors; none run until it is fixed.");
                std::thread::sleep(std::time::Duration::from_secs(30));
                continue;
            }
        };
        let Ok(ws) = Workspace::open(&root) else {
            continue;
        };
        for spec in &file.monitors {
            let every = config::duration(&spec.name, "every", &spec.every)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(300_000);
            let now = slipway_store::now_ms();
            // A monitor first runs one interval after the server (or the monitor) appeared:
            // a restart does not fire every monitor at once, nor race a `monitor run`.
            let last = *last_run.entry(spec.name.clone()).or_insert(now);
            if now < last + every {
                continue;
            }
            last_run.insert(spec.name.clone(), now);
            let report = run_one(&ws, &file, spec, now);
            tracing::info!(monitor = %report.monitor, state = report.state, incident = ?report.incident, "{}", report.summary);
        }
    }
}
