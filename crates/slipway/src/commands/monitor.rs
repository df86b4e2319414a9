//! `slipway monitor slo` (and, as they land, the other monitors).

use super::Context;
use crate::Outcome;
use crate::cli::{MonitorCommand, PsiArgs, SloArgs};
use crate::output::{print_json, print_line};
use anyhow::{Context as _, Result, bail};
use slipway_core::monitor::slo::{SloSpec, evaluate};

pub fn run(ctx: &Context, cmd: MonitorCommand) -> Result<Outcome> {
    match cmd {
        MonitorCommand::Slo(args) => slo(ctx, args),
        MonitorCommand::Psi(args) => psi(ctx, args),
    }
}

/// Reads `day,value` rows; returns the day labels and the values, naming the line at fault.
fn read_series(path: &std::path::Path) -> Result<(Vec<String>, Vec<f64>)> {
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
    let drift = slipway_data::distribution::psi_between(&args.baseline, &args.current, &options)?;
    let status = |psi: f64| match thresholds.read(psi) {
        Reading::Stable => "stable",
        Reading::Moderate => "moderate",
        Reading::Significant => "significant",
    };
    let drifted = drift
        .iter()
        .filter(|f| thresholds.read(f.psi) == Reading::Significant)
        .count();
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
