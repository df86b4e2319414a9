//! `slipway monitor slo` (and, as they land, the other monitors).

use super::Context;
use crate::Outcome;
use crate::cli::{
    IncidentsArgs, LabelsArgs, LatencyArgs, MonitorCommand, MonitorRunArgs, PredictionsArgs,
    ProfileArgs, PsiArgs, ResolveArgs, SloArgs,
};
use crate::output::{print_json, print_line};
use anyhow::{Context as _, Result, bail};
use slipway_core::monitor::slo::{SloSpec, evaluate};
use slipway_store::predlog::{PredictionId, PredictionReader};
use slipway_store::registry::RegistryStore;

pub fn run(ctx: &Context, cmd: MonitorCommand) -> Result<Outcome> {
    match cmd {
        MonitorCommand::Slo(args) => slo(ctx, args),
        MonitorCommand::Psi(args) => psi(ctx, args),
        MonitorCommand::Labels(args) => labels(ctx, args),
        MonitorCommand::Profile(args) => profile(ctx, args),
        MonitorCommand::Predictions(args) => predictions(ctx, args),
        MonitorCommand::Latency(args) => latency(ctx, args),
        MonitorCommand::Run(args) => run_monitors(ctx, args),
        MonitorCommand::Incidents(args) => incidents(ctx, args),
        MonitorCommand::Resolve(args) => resolve(ctx, args),
        MonitorCommand::Prune(args) => {
            let ws = ctx.workspace()?;
            let cutoff = slipway_store::now_ms() - args.older_than.as_millis() as i64;
            let (segments, records) = prediction_log(&ws).prune(cutoff)?;
            if ctx.json {
                print_json(&serde_json::json!({"segments": segments, "predictions": records}))?;
            } else {
                print_line(format_args!(
                    "Deleted {segments} segment(s) holding {records} prediction(s) older than {}",
                    slipway_core::timefmt::utc(cutoff)
                ))?;
            }
            Ok(Outcome::Ok)
        }
    }
}

/// Reads `day,value` rows; returns the day labels and the values, naming the line at fault.
pub(crate) fn read_series(path: &std::path::Path) -> Result<(Vec<String>, Vec<f64>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        bail!(
            "{}: the file is empty; expected a header `day,value` and one row a day",
            path.display()
        );
    };
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    if columns != ["day", "value"] {
        bail!(
            "{}:1: header is `{header}`; expected `day,value`",
            path.display()
        );
    }
    let (mut days, mut values) = (Vec::new(), Vec::new());
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let Some((day, value)) = line.split_once(',') else {
            bail!(
                "{}:{}: `{line}` has no comma; expected `day,value`",
                path.display(),
                i + 1
            );
        };
        let value: f64 = value.trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "{}:{}: value `{}` is not a number",
                path.display(),
                i + 1,
                value.trim()
            )
        })?;
        if !value.is_finite() {
            bail!(
                "{}:{}: value `{value}` is not a finite number",
                path.display(),
                i + 1
            );
        }
        days.push(day.trim().to_string());
        values.push(value);
    }
    Ok((days, values))
}

fn slo(ctx: &Context, args: SloArgs) -> Result<Outcome> {
    let (days, values) = read_series(&args.series)?;
    let spec = SloSpec {
        floor: args.floor,
        window: args.window,
        breaches: args.breaches,
    };
    let report = evaluate(&spec, &values)?;
    if let Some(path) = &args.svg {
        let svg = crate::monitors::charts::slo(
            &format!(
                "{} (floor {}, {}-day mean)",
                args.series.display(),
                spec.floor,
                spec.window
            ),
            &values,
            &report.rolling,
            spec.window,
            spec.floor,
            report.alert_day,
        );
        std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let alert_label = report.alert_day.and_then(|d| days.get(d as usize)).cloned();
    if ctx.json {
        print_json(&serde_json::json!({
            "alert_day": report.alert_day,
            "alert_label": alert_label,
            "longest_breach": report.longest_breach,
            "min_rolling": report.min_rolling,
            "min_value": report.min_value,
            "alert_days": report.alert_days,
            "days": values.len(),
            "floor": spec.floor,
            "window": spec.window,
            "breaches": spec.breaches,
        }))?;
    } else {
        print_line(format_args!(
            "SLO floor          : {}   rolling window: {} day(s)",
            spec.floor, spec.window
        ))?;
        if let (Some(min_rolling), Some(min_value)) = (report.min_rolling, report.min_value) {
            print_line(format_args!(
                "min rolling value  : {min_rolling:.3}   (raw min {min_value:.3})"
            ))?;
        }
        print_line(format_args!(
            "longest breach run : {} day(s)   threshold: {}",
            report.longest_breach, spec.breaches
        ))?;
        match report.alert_day {
            Some(day) => print_line(format_args!(
                "BREACH ALERT       : FIRE on day {day}{}",
                alert_label
                    .filter(|l| *l != day.to_string())
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            ))?,
            None => print_line("BREACH ALERT       : none")?,
        }
    }
    Ok(if report.alert_day.is_some() {
        Outcome::No
    } else {
        Outcome::Ok
    })
}

/// PSI of a model's live traffic (the prediction log over `--window`) against `--baseline`
/// or the live version's stored profile — the drift monitor's check, run ad hoc.
fn live_drift(
    ctx: &Context,
    args: &PsiArgs,
    model: &str,
) -> Result<Vec<(String, &'static str, f64)>> {
    use crate::monitors::checks::{Verdict, check};
    use crate::monitors::config::{MonitorSpec, PsiSpec};
    if args.binning != crate::cli::PsiBinning::Quantile {
        bail!("--binning evidently compares two files; live traffic is scored against frozen bins");
    }
    let ws = ctx.workspace()?;
    let spec = MonitorSpec {
        name: "psi".into(),
        model: model.to_string(),
        slot: args.slot.clone(),
        every: "5m".into(),
        cooldown: "1h".into(),
        psi: Some(PsiSpec {
            baseline: args.baseline.clone(),
            columns: args.columns.clone(),
            window: args.window.clone(),
            // Fewer values than this make a PSI too noisy to read (per feature, too).
            min_rows: 100,
            bins: args.bins,
            moderate: args.moderate,
            significant: args.significant,
        }),
        slo: None,
        retrain: None,
    };
    let details = match check(&ws, &spec, slipway_store::now_ms())? {
        Verdict::Healthy { details, .. } | Verdict::Breach { details, .. } => details,
        Verdict::NotEnoughData { summary } => bail!("{summary}"),
    };
    Ok(details["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some((
                f["name"].as_str()?.to_string(),
                "numeric",
                f["psi"].as_f64()?,
            ))
        })
        .collect())
}

fn psi(ctx: &Context, args: PsiArgs) -> Result<Outcome> {
    use slipway_core::monitor::psi::{Reading, Thresholds};
    let thresholds = Thresholds::new(args.moderate, args.significant)?;
    let options = slipway_data::distribution::PsiOptions {
        bins: args.bins,
        columns: args.columns.clone(),
        threshold: args.significant,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let drift: Vec<(String, &'static str, f64)> = match (&args.model, &args.current) {
        (Some(model), _) => live_drift(ctx, &args, model)?,
        (None, Some(current)) => {
            let baseline = args
                .baseline
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("--baseline FILE is needed with --current"))?;
            let features = match args.binning {
                crate::cli::PsiBinning::Quantile => {
                    slipway_data::distribution::psi_between(baseline, current, &options)?
                }
                crate::cli::PsiBinning::Evidently => {
                    slipway_data::distribution::psi_between_evidently(baseline, current, &options)?
                }
            };
            features
                .into_iter()
                .map(|f| (f.name, f.binning, f.psi))
                .collect()
        }
        (None, None) => bail!("give --current FILE, or --model NAME for its live traffic"),
    };
    let drift: Vec<slipway_data::distribution::FeatureDrift> = drift
        .into_iter()
        .map(|(name, binning, psi)| slipway_data::distribution::FeatureDrift { name, binning, psi })
        .collect();
    let status = |psi: f64| match thresholds.read(psi) {
        Reading::Stable => "stable",
        Reading::Moderate => "moderate",
        Reading::Significant => "significant",
    };
    let drifted = drift
        .iter()
        .filter(|f| thresholds.read(f.psi) == Reading::Significant)
        .count();
    if let Some(path) = &args.svg {
        let svg = crate::monitors::charts::psi(
            &format!(
                "PSI per feature: {} vs {}",
                args.current.as_deref().map_or_else(
                    || format!(
                        "live traffic of {}/{}",
                        args.model.as_deref().unwrap_or("?"),
                        args.slot
                    ),
                    |p| p.display().to_string()
                ),
                args.baseline
                    .as_deref()
                    .map_or("the live version's profile".to_string(), |p| p
                        .display()
                        .to_string())
            ),
            &drift
                .iter()
                .map(|f| (f.name.clone(), f.psi))
                .collect::<Vec<_>>(),
            args.moderate,
            args.significant,
        );
        std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if ctx.json {
        print_json(&serde_json::json!({
            "features": drift.iter().map(|f| serde_json::json!({"name": f.name, "psi": f.psi, "status": status(f.psi), "binning": f.binning})).collect::<Vec<_>>(),
            "drifted": drifted,
            "thresholds": {"moderate": args.moderate, "significant": args.significant},
        }))?;
    } else {
        let mut t = crate::output::table(&["feature", "binning", "psi", "status"]);
        for f in &drift {
            t.add_row(vec![
                f.name.clone(),
                f.binning.to_string(),
                format!("{:.4}", f.psi),
                status(f.psi).to_string(),
            ]);
        }
        print_line(t)?;
        ctx.messages.say(format_args!(
            "{drifted} of {} feature(s) drifted significantly (PSI >= {}); {:.2?}",
            drift.len(),
            args.significant,
            started.elapsed()
        ));
    }
    Ok(if drifted > 0 {
        Outcome::No
    } else {
        Outcome::Ok
    })
}

/// The gateway's prediction log of a project.
fn prediction_log(ws: &slipway_store::Workspace) -> PredictionReader {
    PredictionReader::new(&ws.dir().join("predictions"))
}

fn since_ms(since: Option<&str>) -> Result<Option<i64>> {
    since
        .map(slipway_core::timefmt::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--since: {e}"))
}

/// Reads `prediction_id,label` rows, naming the line at fault, and records them in one
/// transaction (all or nothing).
fn labels(ctx: &Context, args: LabelsArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let path = &args.file;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header))
            if header.split(',').map(str::trim).collect::<Vec<_>>()
                == ["prediction_id", "label"] => {}
        Some((_, header)) => bail!(
            "{}:1: header is `{header}`; expected `prediction_id,label`",
            path.display()
        ),
        None => bail!(
            "{}: the file is empty; expected a header `prediction_id,label`",
            path.display()
        ),
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let Some((id, label)) = line.split_once(',') else {
            bail!("{at}: `{line}` has no comma; expected `prediction_id,label`");
        };
        let id: PredictionId = id
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
        let label: f64 = label
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| {
                anyhow::anyhow!("{at}: label `{}` is not a finite number", label.trim())
            })?;
        rows.push((id.to_string(), label));
    }
    let n = ws.meta().put_labels(&rows, slipway_store::now_ms())?;
    if ctx.json {
        print_json(&serde_json::json!({ "recorded": n }))?;
    } else {
        print_line(format_args!(
            "Recorded {n} label(s) from {}",
            path.display()
        ))?;
    }
    Ok(Outcome::Ok)
}

fn predictions(ctx: &Context, args: PredictionsArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let since = since_ms(args.since.as_deref())?;
    let mut newest = std::collections::VecDeque::new();
    prediction_log(&ws).scan(since, None, |r| {
        if args.model.as_deref().is_none_or(|m| m == r.model) {
            newest.push_back(r);
            if newest.len() > args.limit {
                newest.pop_front();
            }
        }
        true
    })?;
    let labels = ws.meta().labels()?;
    if ctx.json {
        let rows: Vec<serde_json::Value> = newest
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id.to_string(),
                    "time_ms": r.time_ms(),
                    "model": r.model,
                    "version": r.version,
                    "slot": r.slot,
                    "route": r.route.as_str(),
                    "inputs": r.features.iter().zip(&r.inputs).map(|(f, v)| (f.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
                    "output": r.output,
                    "latency_us": r.latency_us,
                    "label": labels.get(&r.id.to_string()),
                })
            })
            .collect();
        print_json(&serde_json::json!({ "predictions": rows }))?;
    } else {
        let mut t =
            crate::output::table(&["id", "time", "model", "slot", "route", "output", "label"]);
        for r in &newest {
            t.add_row(vec![
                r.id.to_string(),
                slipway_core::timefmt::utc(r.time_ms()),
                format!("{}@{}", r.model, r.version),
                r.slot.clone(),
                r.route.as_str().to_string(),
                format!("{:.4}", r.output),
                labels
                    .get(&r.id.to_string())
                    .map_or(String::new(), |l| l.to_string()),
            ]);
        }
        print_line(t)?;
    }
    Ok(Outcome::Ok)
}

/// Served latency of a version, from the prediction log.
pub(crate) struct ServedLatency {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// p50/p99 of every version of `model` (or one) in the prediction log since `since`.
pub(crate) fn served_latency(
    ws: &slipway_store::Workspace,
    model: &str,
    version: Option<u64>,
    since: Option<i64>,
) -> Result<std::collections::BTreeMap<u64, ServedLatency>> {
    let mut by_version: std::collections::BTreeMap<u64, Vec<u32>> = Default::default();
    prediction_log(ws).scan(since, None, |r| {
        if r.model == model && version.is_none_or(|v| v == r.version) {
            by_version.entry(r.version).or_default().push(r.latency_us);
        }
        true
    })?;
    Ok(by_version
        .into_iter()
        .map(|(v, mut us)| {
            us.sort_unstable();
            let q = |p: f64| {
                let rank = ((p * us.len() as f64).ceil() as usize).clamp(1, us.len());
                f64::from(us[rank - 1]) / 1000.0
            };
            (
                v,
                ServedLatency {
                    count: us.len(),
                    p50_ms: q(0.5),
                    p99_ms: q(0.99),
                },
            )
        })
        .collect())
}

fn latency(ctx: &Context, args: LatencyArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let (model, version) =
        match args.model.rsplit_once('@') {
            Some((m, v)) => (
                m.to_string(),
                Some(v.parse::<u64>().map_err(|_| {
                    anyhow::anyhow!("`{}`: expected NAME or NAME@VERSION", args.model)
                })?),
            ),
            None => (args.model.clone(), None),
        };
    ws.meta().model(&model)?;
    let since = since_ms(args.since.as_deref())?;
    let rows: Vec<serde_json::Value> = served_latency(&ws, &model, version, since)?
        .into_iter()
        .map(|(v, l)| serde_json::json!({"version": v, "count": l.count, "p50_ms": l.p50_ms, "p99_ms": l.p99_ms}))
        .collect();
    if ctx.json {
        print_json(&serde_json::json!({ "model": model, "versions": rows }))?;
    } else if rows.is_empty() {
        print_line(format_args!("{model}: no predictions logged"))?;
    } else {
        let mut t = crate::output::table(&["version", "predictions", "p50 ms", "p99 ms"]);
        for r in &rows {
            t.add_row(vec![
                r["version"].to_string(),
                r["count"].to_string(),
                format!("{:.3}", r["p50_ms"].as_f64().unwrap_or(0.0)),
                format!("{:.3}", r["p99_ms"].as_f64().unwrap_or(0.0)),
            ]);
        }
        print_line(t)?;
    }
    Ok(Outcome::Ok)
}

fn run_monitors(ctx: &Context, args: MonitorRunArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let reports = crate::monitors::run_all(&ws, args.name.as_deref(), slipway_store::now_ms())?;
    if ctx.json {
        print_json(&serde_json::json!({
            "monitors": reports.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        }))?;
    } else {
        for r in &reports {
            print_line(format_args!("{}: {} — {}", r.monitor, r.state, r.summary))?;
            if let Some((id, action)) = r.incident {
                print_line(format_args!(
                    "  incident #{id} {}",
                    action.replace('_', " ")
                ))?;
            }
            if let Some(n) = &r.notified {
                print_line(format_args!("  webhook: {n}"))?;
            }
            if let Some(p) = &r.proposal {
                print_line(format_args!("  retraining proposal: {p}"))?;
            }
        }
    }
    Ok(if reports.iter().any(|r| r.state == "breach") {
        Outcome::No
    } else {
        Outcome::Ok
    })
}

fn incident_json(i: &slipway_store::registry::Incident) -> serde_json::Value {
    serde_json::json!({
        "id": i.id, "monitor": i.monitor, "model": i.model, "slot": i.slot,
        "status": if i.open { "open" } else { "resolved" },
        "summary": i.summary, "details": i.details, "occurrences": i.occurrences,
        "opened_ms": i.opened_ms, "updated_ms": i.updated_ms, "resolved_ms": i.resolved_ms,
        "resolution": i.resolution, "notified": i.notified, "proposal": i.proposal,
    })
}

fn incidents(ctx: &Context, args: IncidentsArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let list = ws.meta().incidents(!args.all)?;
    if ctx.json {
        print_json(
            &serde_json::json!({"incidents": list.iter().map(incident_json).collect::<Vec<_>>()}),
        )?;
    } else {
        let mut t = crate::output::table(&[
            "#", "status", "monitor", "slot", "opened", "seen", "summary",
        ]);
        for i in &list {
            t.add_row(vec![
                i.id.to_string(),
                if i.open {
                    "open".into()
                } else {
                    "resolved".to_string()
                },
                i.monitor.clone(),
                format!("{}/{}", i.model, i.slot),
                slipway_core::timefmt::utc(i.opened_ms),
                i.occurrences.to_string(),
                i.summary.clone(),
            ]);
        }
        print_line(t)?;
    }
    Ok(Outcome::Ok)
}

fn resolve(ctx: &Context, args: ResolveArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let me = super::access::actor(ctx, &ws)?;
    let i = ws
        .meta()
        .resolve_incident(args.id, &args.reason, &me.name, slipway_store::now_ms())?;
    if ctx.json {
        print_json(&incident_json(&i))?;
    } else {
        print_line(format_args!("Resolved incident #{}: {}", i.id, args.reason))?;
    }
    Ok(Outcome::Ok)
}

/// The version tag that records a version's baseline profile (its digest).
pub const PROFILE_TAG: &str = "slipway.profile";

/// Loads the model file of a registered version (restored, verified, into a temporary dir).
pub(crate) fn load_version_model(
    ws: &slipway_store::Workspace,
    model: &str,
    version: u64,
) -> Result<Box<dyn slipway_serve::Model>> {
    let record = ws.meta().version(model, version)?;
    let tmp = ws
        .dir()
        .join("tmp")
        .join(format!("model-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let restored = tmp.join("artifact");
    ws.restore(&record.version.artifact, &restored)?;
    let loaded = slipway_serve::model_file(&restored)
        .ok_or_else(|| {
            anyhow::anyhow!("{model}@{version}'s artifact holds no model file (.json or .onnx)")
        })
        .and_then(|file| Ok(slipway_serve::load(&file)?));
    let _ = std::fs::remove_dir_all(&tmp);
    loaded
}

fn profile(ctx: &Context, args: ProfileArgs) -> Result<Outcome> {
    use slipway_core::monitor::psi::{
        BaselineProfile, FeatureBaseline, FeatureProfile, NumericBaseline,
    };
    let ws = ctx.workspace()?;
    let target = args
        .model
        .as_deref()
        .map(super::models::model_version)
        .transpose()?;
    let model = target
        .as_ref()
        .map(|(name, version)| load_version_model(&ws, name, *version))
        .transpose()?;
    let inputs: Option<Vec<String>> = model.as_ref().map(|m| {
        m.signature()
            .inputs
            .iter()
            .map(|f| f.name.clone())
            .collect()
    });
    let columns = match (&args.columns, &inputs) {
        (Some(c), _) => c.clone(),
        (None, Some(i)) => i.clone(),
        (None, None) => slipway_data::table::column_names(&args.file)?,
    };
    let options = slipway_data::distribution::PsiOptions {
        bins: args.bins,
        columns: Some(columns.clone()),
        ..Default::default()
    };
    let references = slipway_data::distribution::fit_baseline(&args.file, &columns, &options)
        .with_context(|| format!("cannot profile {}", args.file.display()))?;
    let mut features: Vec<FeatureProfile> = references
        .iter()
        .map(|(name, r)| FeatureProfile {
            name: name.clone(),
            baseline: r.to_profile(),
        })
        .collect();
    if let (Some(model), Some(inputs)) = (&model, &inputs) {
        let frame = slipway_data::load_frame(&args.file, inputs, &[])
            .with_context(|| format!("{} lacks the model's inputs", args.file.display()))?;
        let x = frame.row_major(inputs);
        let predictions = model.predict_matrix(&x)?;
        features.push(FeatureProfile {
            name: "prediction".into(),
            baseline: FeatureBaseline::Numeric(NumericBaseline::fit(&predictions, args.bins)?),
        });
    }
    let profile = BaselineProfile::new(features)?;
    let text = slipway_core::pipeline::canonical_json(&serde_json::to_value(&profile)?);
    let path = match &args.output {
        Some(p) => p.clone(),
        None => ws
            .dir()
            .join("tmp")
            .join(format!("profile-{}.json", std::process::id())),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    let now = slipway_store::now_ms();
    let stored = ws.store_path(&path, Some(slipway_core::ArtifactKind::Report), now)?;
    if args.output.is_none() {
        let _ = std::fs::remove_file(&path);
    }
    let digest = stored.artifact.digest;
    if let Some((name, version)) = &target {
        let me = super::access::actor(ctx, &ws)?;
        ws.meta().set_version_tag(
            name,
            *version,
            PROFILE_TAG,
            Some(&digest.to_hex()),
            &me,
            now,
        )?;
    }
    if ctx.json {
        print_json(&serde_json::json!({
            "profile": digest.to_hex(),
            "features": profile.features.iter().map(|f| &f.name).collect::<Vec<_>>(),
            "model": args.model,
        }))?;
    } else {
        print_line(format_args!("{digest}"))?;
        ctx.messages.say(format_args!(
            "Profiled {} feature(s) of {}{}",
            profile.features.len(),
            args.file.display(),
            match &args.model {
                Some(m) => format!(" (and {m}'s predictions); recorded on {m}"),
                None => String::new(),
            }
        ));
    }
    Ok(Outcome::Ok)
}
