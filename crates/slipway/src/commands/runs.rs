//! `slipway runs list|show|search|compare`: read tracked runs through one client interface,
//! embedded (this project's `.slipway/`) or from a server (`--server` / `SLIPWAY_SERVER`).

use crate::Outcome;
use crate::cli::{RunsArgs, RunsCommand};
use crate::commands::Context;
use crate::output::{self, print_json, print_line, table};
use anyhow::Result;
use slipway_server::api::dto::{Comparison, RunPage, RunSummary, RunView};
use slipway_server::client::{Embedded, Http, TrackerClient};
use slipway_server::query::RunSearch;

pub fn run(ctx: &Context, args: RunsArgs) -> Result<Outcome> {
    let client: Box<dyn TrackerClient> = match &args.server {
        Some(url) => Box::new(Http::new(url)),
        None => Box::new(Embedded::new(ctx.workspace()?)),
    };
    match args.command {
        RunsCommand::List(a) => {
            let page = client.search_runs(&RunSearch {
                experiments: a.experiment,
                max_results: Some(a.max_results),
                view: Some(a.view),
                ..RunSearch::default()
            })?;
            print_page(ctx, &page)
        }
        RunsCommand::Search(a) => {
            let page = client.search_runs(&RunSearch {
                experiments: a.experiment,
                filter: a.filter,
                order_by: a.order_by,
                max_results: Some(a.max_results),
                page_token: a.page_token,
                view: Some(a.view),
            })?;
            print_page(ctx, &page)
        }
        RunsCommand::Show(a) => {
            let run = client.run(&a.run_id)?;
            if ctx.json {
                print_json(&serde_json::to_value(&run)?)?;
            } else {
                print_run(&run)?;
            }
            Ok(Outcome::Ok)
        }
        RunsCommand::Compare(a) => {
            let comparison = client.compare(&a.run_ids)?;
            if ctx.json {
                print_json(&serde_json::to_value(&comparison)?)?;
            } else {
                print_comparison(&comparison)?;
            }
            Ok(Outcome::Ok)
        }
    }
}

fn print_page(ctx: &Context, page: &RunPage) -> Result<Outcome> {
    if ctx.json {
        print_json(&serde_json::to_value(page)?)?;
        return Ok(Outcome::Ok);
    }
    let mut t = table(&[
        "RUN", "NAME", "EXP", "ORIGIN", "STATUS", "STARTED", "METRICS",
    ]);
    for r in &page.runs {
        t.add_row(vec![
            r.id.clone(),
            r.name.clone(),
            r.experiment_id.to_string(),
            r.origin.clone(),
            r.status.clone(),
            time(r.start_ms),
            metrics_line(r, 3),
        ]);
    }
    print_line(t)?;
    if let Some(token) = &page.next_page_token {
        ctx.messages
            .say(format!("more runs follow: add --page-token {token}"));
    }
    Ok(Outcome::Ok)
}

fn metrics_line(r: &RunSummary, at_most: usize) -> String {
    let mut parts: Vec<String> = r
        .metrics
        .iter()
        .take(at_most)
        .map(|(k, m)| format!("{k}={}", number(m.value)))
        .collect();
    if r.metrics.len() > at_most {
        parts.push(format!("(+{})", r.metrics.len() - at_most));
    }
    parts.join(" ")
}

fn number(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.is_finite() {
        format!("{v:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{v}")
    }
}

fn print_run(run: &RunView) -> Result<()> {
    let r = &run.summary;
    let commit = match (&r.git_commit, r.git_dirty) {
        (Some(c), Some(true)) => format!("{c} (dirty work tree)"),
        (Some(c), _) => c.clone(),
        (None, _) => "unknown".into(),
    };
    let mut lines = vec![
        format!("run         {}", r.id),
        format!("name        {}", r.name),
        format!("experiment  {}", r.experiment_id),
        format!("origin      {}", r.origin),
        format!("status      {} ({})", r.status, r.lifecycle),
        format!("user        {}", r.user),
        format!("started     {}", time(r.start_ms)),
        format!(
            "ended       {}",
            r.end_ms.map(time).unwrap_or_else(|| "-".into())
        ),
        format!("commit      {commit}"),
    ];
    let mut section = |title: &str, rows: Vec<String>| {
        if !rows.is_empty() {
            lines.push(String::new());
            lines.push(title.to_string());
            lines.extend(rows.into_iter().map(|row| format!("  {row}")));
        }
    };
    section(
        "params",
        r.params.iter().map(|(k, v)| format!("{k} = {v}")).collect(),
    );
    section(
        "metrics (latest)",
        r.metrics
            .iter()
            .map(|(k, m)| format!("{k} = {} (step {})", number(m.value), m.step))
            .collect(),
    );
    section(
        "inputs",
        run.inputs
            .iter()
            .map(|i| format!("{}  {}", i.digest, i.path))
            .collect(),
    );
    section(
        "datasets",
        run.datasets
            .iter()
            .map(|d| {
                format!(
                    "{}  {} ({}{})",
                    d.digest,
                    d.name,
                    d.source_type,
                    d.context
                        .as_ref()
                        .map(|c| format!(", {c}"))
                        .unwrap_or_default()
                )
            })
            .collect(),
    );
    section(
        "outputs",
        run.outputs
            .iter()
            .map(|o| format!("{}  {}", o.digest, o.path))
            .collect(),
    );
    section(
        "artifacts",
        run.artifacts
            .iter()
            .map(|a| {
                format!(
                    "{}  {:>10}  {}",
                    &a.digest[..16],
                    a.size.map(output::bytes).unwrap_or_default(),
                    a.path
                )
            })
            .collect(),
    );
    section("logged models", run.models.clone());
    section(
        "tags",
        r.tags
            .iter()
            .filter(|(k, _)| !k.starts_with("mlflow.log-model"))
            .map(|(k, v)| format!("{k} = {v}"))
            .collect(),
    );
    for line in lines {
        print_line(line)?;
    }
    Ok(())
}

fn print_comparison(c: &Comparison) -> Result<()> {
    let mut header = vec!["".to_string()];
    header.extend(
        c.runs
            .iter()
            .map(|r| format!("{} ({})", r.name, &r.id[..8])),
    );
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = table(&header);
    for p in &c.params {
        let mut row = vec![format!("params.{}", p.key)];
        row.extend(
            p.values
                .iter()
                .map(|v| v.clone().unwrap_or_else(|| "-".into())),
        );
        t.add_row(row);
    }
    for m in &c.metrics {
        let mut row = vec![format!("metrics.{}", m.key)];
        for (i, (v, d)) in m.values.iter().zip(&m.deltas).enumerate() {
            row.push(match (v, d) {
                (Some(v), Some(d)) if i > 0 => format!(
                    "{} ({}{})",
                    number(*v),
                    if *d >= 0.0 { "+" } else { "" },
                    number(*d)
                ),
                (Some(v), _) => number(*v),
                (None, _) => "-".into(),
            });
        }
        t.add_row(row);
    }
    print_line(t)?;
    if c.params.is_empty() {
        print_line("(all params are equal)")?;
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` UTC from milliseconds since the epoch.
fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_numbers_format() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_795_000_000_000), "2026-11-18 11:06:40");
        assert_eq!(number(0.8125), "0.8125");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(-0.0001234567), "-0.000123");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
