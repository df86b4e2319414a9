//! `monitors.yaml`: what to watch, how often, and what to do on a breach.
//!
//! ```yaml
//! webhook: http://alerts.internal/hooks/ml     # optional: every new incident is POSTed here
//! monitors:
//!   - name: input-drift
//!     model: credit-risk
//!     slot: default                # default: default
//!     every: 5m                    # how often `slipway server` runs it (default 5m)
//!     cooldown: 1h                 # after a resolution, no new incident for this long
//!     psi:                         # PSI of live inputs (the prediction log) vs a baseline
//!       baseline: data/train.csv   # default: the live version's stored profile
//!       columns: [income, debt_ratio]     # default: the live version's inputs
//!       window: 1h                 # predictions of the last hour (default 24h)
//!       min_rows: 200              # fewer predictions: not enough evidence, no verdict
//!     retrain:                     # optional: on a new incident, propose a challenger
//!       as: ana                    # the user it acts as (deployer)
//!       model_file: models/model.json
//!       report: reports/evaluation.json
//!       metric: auc
//!       delta: 0.005
//!       guardrails: ["fairness_gap<=0.2"]
//!       profile: data/train.csv    # record the challenger's baseline profile from this
//!   - name: live-accuracy
//!     model: credit-risk
//!     slo: {floor: 0.88, window: 5, breaches: 3}   # daily accuracy from labelled predictions
//! ```

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file's name in the project root.
pub const FILE: &str = "monitors.yaml";

/// The whole file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorsFile {
    /// Where new incidents are POSTed.
    pub webhook: Option<String>,
    /// The monitors.
    #[serde(default)]
    pub monitors: Vec<MonitorSpec>,
}

/// One monitor.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    /// Its name (unique; incidents are deduplicated by it).
    pub name: String,
    /// The registered model.
    pub model: String,
    /// The deployment slot.
    #[serde(default = "default_slot")]
    pub slot: String,
    /// How often the server runs it.
    #[serde(default = "default_every")]
    pub every: String,
    /// Quiet time after a resolution.
    #[serde(default = "default_cooldown")]
    pub cooldown: String,
    /// A drift monitor.
    pub psi: Option<PsiSpec>,
    /// A service-level monitor.
    pub slo: Option<SloSpec>,
    /// What to propose on a new incident.
    pub retrain: Option<RetrainSpec>,
}

/// PSI of live inputs against a baseline file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsiSpec {
    /// The baseline (CSV or Parquet; e.g. the training data). Without one, the live version's
    /// stored profile (`slipway monitor profile FILE --model NAME@VERSION`) is the baseline.
    pub baseline: Option<PathBuf>,
    /// Features to check (default: the live version's inputs found in the baseline).
    pub columns: Option<Vec<String>>,
    /// The window of predictions.
    #[serde(default = "default_window")]
    pub window: String,
    /// The least predictions that make a verdict.
    #[serde(default = "default_min_rows")]
    pub min_rows: u64,
    /// Bins for numeric features.
    #[serde(default = "default_bins")]
    pub bins: usize,
    /// Moderate threshold.
    #[serde(default = "default_moderate")]
    pub moderate: f64,
    /// Significant threshold (a breach).
    #[serde(default = "default_significant")]
    pub significant: f64,
}

/// A sustained-breach SLO on daily accuracy from labelled predictions, or on a CSV series.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// The floor.
    pub floor: f64,
    /// Days in the rolling mean.
    #[serde(default = "default_slo_window")]
    pub window: usize,
    /// Consecutive smoothed breaches that alert.
    #[serde(default = "default_breaches")]
    pub breaches: usize,
    /// A CSV `day,value` instead of the labelled predictions.
    pub series: Option<PathBuf>,
    /// The score above which a prediction counts as the positive class.
    #[serde(default = "default_cutoff")]
    pub cutoff: f64,
}

/// The retraining proposal: run the pipeline, register its model, stage it, gate it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainSpec {
    /// The user the proposal acts as.
    #[serde(rename = "as")]
    pub actor: Option<String>,
    /// The pipeline's model output.
    pub model_file: PathBuf,
    /// The pipeline's evaluation report (on the frozen holdout).
    pub report: PathBuf,
    /// The gate's primary metric.
    #[serde(default = "default_metric")]
    pub metric: String,
    /// The margin the challenger must beat the champion by.
    #[serde(default)]
    pub delta: f64,
    /// Guardrails (`name<=bound`, values from the challenger's report).
    #[serde(default)]
    pub guardrails: Vec<String>,
    /// The training data: the challenger's baseline profile is recorded from it.
    pub profile: Option<PathBuf>,
}

fn default_slot() -> String {
    "default".into()
}
fn default_every() -> String {
    "5m".into()
}
fn default_cooldown() -> String {
    "1h".into()
}
fn default_window() -> String {
    "24h".into()
}
fn default_min_rows() -> u64 {
    100
}
fn default_bins() -> usize {
    10
}
fn default_moderate() -> f64 {
    0.1
}
fn default_significant() -> f64 {
    0.25
}
fn default_slo_window() -> usize {
    5
}
fn default_breaches() -> usize {
    3
}
fn default_cutoff() -> f64 {
    0.5
}
fn default_metric() -> String {
    "auc".into()
}

/// A duration field, naming the monitor and field when it is not valid.
pub fn duration(monitor: &str, field: &str, text: &str) -> Result<Duration> {
    crate::cli::parse_duration(text)
        .map_err(|e| anyhow::anyhow!("monitor `{monitor}`, {field}: {e}"))
}

/// Reads and checks the project's monitors file; `None` when there is none.
pub fn load(root: &Path) -> Result<Option<MonitorsFile>> {
    let path = root.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let file: MonitorsFile =
        serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut names = std::collections::BTreeSet::new();
    for m in &file.monitors {
        let at = format!("{}: monitor `{}`", path.display(), m.name);
        if !names.insert(m.name.as_str()) {
            bail!("{at}: the name is used twice; monitor names must be unique");
        }
        match (&m.psi, &m.slo) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => bail!("{at}: give exactly one of `psi:` or `slo:`"),
        }
        duration(&m.name, "every", &m.every).with_context(|| path.display().to_string())?;
        duration(&m.name, "cooldown", &m.cooldown).with_context(|| path.display().to_string())?;
        if let Some(p) = &m.psi {
            duration(&m.name, "psi.window", &p.window)
                .with_context(|| path.display().to_string())?;
            if !(p.moderate > 0.0 && p.moderate <= p.significant) {
                bail!(
                    "{at}: psi.moderate ({}) must be > 0 and at most psi.significant ({})",
                    p.moderate,
                    p.significant
                );
            }
        }
    }
    Ok(Some(file))
}
