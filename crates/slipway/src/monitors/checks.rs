//! Running one monitor: PSI of the live inputs in a window of the prediction log against a
//! baseline file, or a sustained-breach SLO on daily accuracy from labelled predictions (or a
//! CSV series). The arithmetic is the core's; this only gathers the numbers.

use super::config::{MonitorSpec, PsiSpec, SloSpec, duration};
use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use slipway_core::monitor::psi::{Reading, Thresholds};
use slipway_store::Workspace;
use slipway_store::predlog::{PredictionReader, Route};
use slipway_store::registry::RegistryStore;

/// What a monitor found.
#[derive(Debug)]
pub enum Verdict {
    /// Within bounds.
    Healthy { summary: String, details: Value },
    /// Out of bounds: an incident.
    Breach { summary: String, details: Value },
    /// Too little data for a verdict (nothing opens or resolves).
    NotEnoughData { summary: String },
}

/// Runs one monitor at `now_ms`.
pub fn check(ws: &Workspace, spec: &MonitorSpec, now_ms: i64) -> Result<Verdict> {
    ws.meta()
        .model(&spec.model)
        .with_context(|| format!("monitor `{}`", spec.name))?;
    match (&spec.psi, &spec.slo) {
        (Some(psi), _) => check_psi(ws, spec, psi, now_ms),
        (_, Some(slo)) => check_slo(ws, spec, slo),
        _ => bail!("monitor `{}` has neither psi nor slo", spec.name),
    }
}

fn log(ws: &Workspace) -> PredictionReader {
    PredictionReader::new(&ws.dir().join("predictions"))
}

/// Live traffic of the slot: what the champion and a canary answered (shadow copies are the
/// same requests again).
fn live_traffic(r: &slipway_store::predlog::PredictionRecord, spec: &MonitorSpec) -> bool {
    r.model == spec.model && r.slot == spec.slot && r.route != Route::Shadow
}

/// Named frozen bins.
type References = Vec<(String, slipway_data::distribution::Reference)>;

/// The profile feature that describes the model's outputs.
const PREDICTION: &str = "prediction";

/// Frozen bins fitted from a baseline file: the asked-for columns, else the live inputs the
/// file has.
fn fit_file(
    ws: &Workspace,
    spec: &MonitorSpec,
    psi: &PsiSpec,
    file: &std::path::Path,
    features: &[String],
) -> Result<References> {
    let baseline = ws.root().join(file);
    let columns: Vec<String> = match &psi.columns {
        Some(c) => c.clone(),
        None => {
            let in_baseline = slipway_data::table::column_names(&baseline)
                .with_context(|| format!("monitor `{}`: baseline {}", spec.name, file.display()))?;
            features
                .iter()
                .filter(|f| in_baseline.contains(f))
                .cloned()
                .collect()
        }
    };
    if columns.is_empty() {
        bail!(
            "monitor `{}`: the baseline {} has none of the model's inputs ({})",
            spec.name,
            file.display(),
            features.join(", ")
        );
    }
    let options = slipway_data::distribution::PsiOptions {
        bins: psi.bins,
        columns: Some(columns.clone()),
        threshold: psi.significant,
        ..Default::default()
    };
    slipway_data::distribution::fit_baseline(&baseline, &columns, &options)
        .with_context(|| format!("monitor `{}`: baseline {}", spec.name, file.display()))
}

/// The live version's stored baseline profile (its inputs and, when profiled with the model,
/// its predictions).
fn stored_profile(
    ws: &Workspace,
    spec: &MonitorSpec,
    psi: &PsiSpec,
) -> Result<(References, String, Option<u64>)> {
    use crate::commands::monitor::PROFILE_TAG;
    let live = ws
        .meta()
        .live(&spec.model, &spec.slot, None)?
        .with_context(|| {
            format!(
                "monitor `{}`: nothing is live in {}/{}",
                spec.name, spec.model, spec.slot
            )
        })?;
    let Some((_, digest)) = live.tags.iter().find(|(k, _)| k == PROFILE_TAG) else {
        bail!(
            "monitor `{}`: {}@{} has no baseline profile; record one with `slipway monitor profile TRAINING_DATA --model {}@{}`, or give `psi.baseline: FILE`",
            spec.name,
            spec.model,
            live.number(),
            spec.model,
            live.number()
        );
    };
    let digest: slipway_core::Digest = digest.parse()?;
    let tmp = ws
        .dir()
        .join("tmp")
        .join(format!("profile-read-{}.json", std::process::id()));
    if let Some(parent) = tmp.parent() {
        std::fs::create_dir_all(parent)?;
    }
    ws.restore(&digest, &tmp)?;
    let text = std::fs::read_to_string(&tmp);
    let _ = std::fs::remove_file(&tmp);
    let profile: slipway_core::monitor::psi::BaselineProfile = serde_json::from_str(&text?)
        .with_context(|| {
            format!(
                "profile {} of {}@{}",
                digest.short(12),
                spec.model,
                live.number()
            )
        })?;
    let references = profile
        .features
        .iter()
        .filter(|f| psi.columns.as_ref().is_none_or(|c| c.contains(&f.name)))
        .map(|f| {
            (
                f.name.clone(),
                slipway_data::distribution::Reference::from_profile(&f.baseline),
            )
        })
        .collect();
    Ok((
        references,
        format!(
            "profile {} of {}@{}",
            digest.short(12),
            spec.model,
            live.number()
        ),
        Some(live.number()),
    ))
}

fn check_psi(ws: &Workspace, spec: &MonitorSpec, psi: &PsiSpec, now_ms: i64) -> Result<Verdict> {
    let window = duration(&spec.name, "psi.window", &psi.window)?;
    let from = now_ms - window.as_millis() as i64;
    // Which features: the ones asked for, else the live inputs the baseline also has.
    let mut features: Option<std::sync::Arc<Vec<String>>> = None;
    log(ws).scan(Some(from), None, |r| {
        if live_traffic(&r, spec) {
            features = Some(r.features);
            false
        } else {
            true
        }
    })?;
    let Some(features) = features else {
        return Ok(Verdict::NotEnoughData {
            summary: format!(
                "no predictions of {}/{} in the last {}",
                spec.model, spec.slot, psi.window
            ),
        });
    };
    // The outputs compared with a profile are only those of the version it profiles.
    let (references, baseline_name, profiled_version) = match &psi.baseline {
        Some(file) => (
            fit_file(ws, spec, psi, file, &features)?,
            file.display().to_string(),
            None,
        ),
        None => stored_profile(ws, spec, psi)?,
    };
    let mut windows: Vec<_> = references.iter().map(|(_, r)| r.window()).collect();
    let mut rows = 0u64;
    let mut counted = vec![0u64; references.len()];
    log(ws).scan(Some(from), None, |r| {
        if live_traffic(&r, spec) {
            rows += 1;
            for (i, ((name, _), window)) in references.iter().zip(windows.iter_mut()).enumerate() {
                let value = r.input(name).or_else(|| {
                    (name == PREDICTION && profiled_version.is_none_or(|v| v == r.version))
                        .then_some(r.output)
                });
                if let Some(v) = value {
                    window.push_number(v);
                    counted[i] += 1;
                }
            }
        }
        true
    })?;
    // A feature with too few values (e.g. the outputs of a version just promoted) gets no
    // verdict yet, like the whole monitor below `min_rows`.
    let missing: Vec<String> = references
        .iter()
        .zip(&counted)
        .filter(|(_, n)| **n < psi.min_rows.max(1))
        .map(|((name, _), _)| name.clone())
        .collect();
    if rows < psi.min_rows {
        return Ok(Verdict::NotEnoughData {
            summary: format!(
                "{rows} prediction(s) of {}/{} in the last {} (at least {} needed)",
                spec.model, spec.slot, psi.window, psi.min_rows
            ),
        });
    }
    let thresholds = Thresholds::new(psi.moderate, psi.significant)?;
    let mut scored = Vec::new();
    for ((name, reference), window) in references.iter().zip(&windows) {
        if missing.contains(name) {
            continue;
        }
        let value = reference.score(name, window)?;
        let status = match thresholds.read(value) {
            Reading::Stable => "stable",
            Reading::Moderate => "moderate",
            Reading::Significant => "significant",
        };
        scored.push((name.clone(), value, status));
    }
    let drifted: Vec<&(String, f64, &str)> =
        scored.iter().filter(|s| s.2 == "significant").collect();
    let details = json!({
        "kind": "psi",
        "rows": rows,
        "window": psi.window,
        "baseline": baseline_name,
        "thresholds": {"moderate": psi.moderate, "significant": psi.significant},
        "features": scored.iter().map(|(n, v, s)| json!({"name": n, "psi": v, "status": s})).collect::<Vec<_>>(),
        "no_data": missing,
    });
    let worst = scored
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(n, v, _)| format!("{n} {v:.3}"))
        .unwrap_or_default();
    Ok(if drifted.is_empty() {
        Verdict::Healthy {
            summary: format!(
                "PSI of {} input(s) over {rows} predictions below {} (highest: {worst})",
                scored.len(),
                psi.significant
            ),
            details,
        }
    } else {
        Verdict::Breach {
            summary: format!(
                "input drift on {}/{}: PSI ≥ {} on {} over {rows} predictions",
                spec.model,
                spec.slot,
                psi.significant,
                drifted
                    .iter()
                    .map(|(n, v, _)| format!("{n} ({v:.3})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            details,
        }
    })
}

/// Daily accuracy of the slot's labelled predictions (UTC days, oldest first).
pub fn daily_accuracy(
    ws: &Workspace,
    model: &str,
    slot: &str,
    cutoff: f64,
) -> Result<Vec<(i64, f64, u64)>> {
    let labels = ws.meta().labels()?;
    let mut days: std::collections::BTreeMap<i64, (u64, u64)> = Default::default();
    log(ws).scan(None, None, |r| {
        if r.model == model
            && r.slot == slot
            && r.route != Route::Shadow
            && let Some(label) = labels.get(&r.id.to_string())
        {
            let day = r.time_ms().div_euclid(86_400_000);
            let entry = days.entry(day).or_default();
            entry.1 += 1;
            if (r.output >= cutoff) == (*label >= 0.5) {
                entry.0 += 1;
            }
        }
        true
    })?;
    Ok(days
        .into_iter()
        .map(|(day, (right, n))| (day, right as f64 / n as f64, n))
        .collect())
}

fn check_slo(ws: &Workspace, spec: &MonitorSpec, slo: &SloSpec) -> Result<Verdict> {
    let (source, values): (String, Vec<f64>) = match &slo.series {
        Some(file) => {
            let path = ws.root().join(file);
            let (_, values) = crate::commands::monitor::read_series(&path)?;
            (file.display().to_string(), values)
        }
        None => (
            "daily accuracy of labelled predictions".into(),
            daily_accuracy(ws, &spec.model, &spec.slot, slo.cutoff)?
                .into_iter()
                .map(|(_, v, _)| v)
                .collect(),
        ),
    };
    if values.len() < slo.window {
        return Ok(Verdict::NotEnoughData {
            summary: format!(
                "{} day(s) of {source}; the rolling window needs {}",
                values.len(),
                slo.window
            ),
        });
    }
    let report = slipway_core::monitor::slo::evaluate(
        &slipway_core::monitor::slo::SloSpec {
            floor: slo.floor,
            window: slo.window,
            breaches: slo.breaches,
        },
        &values,
    )?;
    let last = report.rolling.last().copied().unwrap_or(f64::NAN);
    let details = json!({
        "kind": "slo",
        "source": source,
        "floor": slo.floor,
        "window": slo.window,
        "breaches": slo.breaches,
        "days": values.len(),
        "alert_day": report.alert_day,
        "longest_breach": report.longest_breach,
        "last_rolling": last,
    });
    // In breach while the latest smoothed value is under the floor after an alert fired.
    Ok(if report.alert_day.is_some() && last < slo.floor {
        Verdict::Breach {
            summary: format!(
                "{source} of {}/{}: {}-day mean {last:.4} below the floor {} (alert on day {})",
                spec.model,
                spec.slot,
                slo.window,
                slo.floor,
                report.alert_day.unwrap_or_default()
            ),
            details,
        }
    } else {
        Verdict::Healthy {
            summary: format!(
                "{source}: {}-day mean {last:.4} (floor {})",
                slo.window, slo.floor
            ),
            details,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitors::config::{MonitorSpec, SloSpec};
    use slipway_core::registry::{Actor, Role};
    use slipway_store::predlog::{Batch, LogConfig, LogWriter, Stream};
    use slipway_store::registry::NewModel;
    use std::sync::Arc;

    const DAY_MS: i64 = 86_400_000;

    /// A project with model `m` and a prediction log of 20 predictions (score 0.9) a day for
    /// ten days; the labels agree on every prediction of days 0–4 and on half of days 5–9.
    fn labelled_project() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let (ws, _) = Workspace::init(dir.path()).unwrap();
        let admin = Actor::new("root", Role::Admin);
        ws.meta()
            .create_model(
                &NewModel {
                    name: "m".into(),
                    ..NewModel::default()
                },
                &admin,
                1,
            )
            .unwrap();
        let (log, writer) =
            LogWriter::start(&ws.dir().join("predictions"), LogConfig::default()).unwrap();
        let stream = Arc::new(Stream {
            model: "m".into(),
            slot: "default".into(),
            version: 1,
            features: Arc::new(vec!["x".into()]),
        });
        let mut labels = Vec::new();
        for day in 0..10 {
            let ids: Vec<_> = (0..20)
                .map(|_| log.ids().next(1_700_000_000_000 + day * DAY_MS))
                .collect();
            for (i, id) in ids.iter().enumerate() {
                let right = day < 5 || i % 2 == 0;
                labels.push((id.to_string(), if right { 1.0 } else { 0.0 }));
            }
            log.append(Batch {
                stream: Arc::clone(&stream),
                route: Route::Champion,
                outputs: vec![0.9; ids.len()],
                inputs: vec![0.0; ids.len()],
                ids,
                latency_us: 100,
            })
            .unwrap();
        }
        drop(log);
        writer.join().unwrap();
        ws.meta().put_labels(&labels, 2).unwrap();
        (dir, ws)
    }

    fn slo_monitor(series: Option<std::path::PathBuf>) -> MonitorSpec {
        MonitorSpec {
            name: "accuracy".into(),
            model: "m".into(),
            slot: "default".into(),
            every: "5m".into(),
            cooldown: "1h".into(),
            psi: None,
            slo: Some(SloSpec {
                floor: 0.88,
                window: 3,
                breaches: 2,
                series,
                cutoff: 0.5,
            }),
            retrain: None,
        }
    }

    #[test]
    fn daily_accuracy_joins_labels_by_prediction_id_and_the_slo_breaches_on_it() {
        let (_dir, ws) = labelled_project();
        let days = daily_accuracy(&ws, "m", "default", 0.5).unwrap();
        let values: Vec<f64> = days.iter().map(|d| d.1).collect();
        assert_eq!(values, [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]);
        assert!(days.iter().all(|d| d.2 == 20));
        match check(&ws, &slo_monitor(None), 0).unwrap() {
            Verdict::Breach { details, .. } => {
                // Rolling means of 3: index 3 (days 3–5, 0.833) is the first below 0.88; the
                // second consecutive breach (index 4) fires on day 4 + 3 − 1 = 6.
                assert_eq!(details["alert_day"], 6, "{details}");
                assert_eq!(details["days"], 10);
            }
            other => panic!("expected a breach, got {other:?}"),
        }
    }

    #[test]
    fn the_slo_reads_a_series_file_too_and_is_healthy_above_the_floor() {
        let (dir, ws) = labelled_project();
        std::fs::write(
            dir.path().join("daily.csv"),
            "day,value\n0,0.95\n1,0.94\n2,0.96\n3,0.93\n",
        )
        .unwrap();
        match check(&ws, &slo_monitor(Some("daily.csv".into())), 0).unwrap() {
            Verdict::Healthy { details, .. } => assert_eq!(details["alert_day"], Value::Null),
            other => panic!("expected healthy, got {other:?}"),
        }
    }
}
