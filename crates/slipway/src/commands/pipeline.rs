//! `slipway run`, `slipway status`, `slipway dag`.

use super::Context;
use crate::Outcome;
use crate::cli::{DagArgs, DagFormat, RunArgs};
use crate::output::{print_json, print_line};
use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use slipway_pipeline::render::{Format, render};
use slipway_pipeline::{Event, Project, RunOptions, StageOutcome, run_pipeline};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn run(ctx: &Context, args: RunArgs, verbose: u8) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let opts = RunOptions {
        targets: args.stages,
        jobs: args.jobs.unwrap_or_else(|| RunOptions::default().jobs),
        force: args.force,
        dry_run: args.dry_run,
        keep_going: args.keep_going,
        echo_output: verbose > 0 && !ctx.json,
        only_targets: false,
        builtins: crate::builtins::registry(),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&cancel))?;
    }
    let display = Display::new(ctx.messages.enabled && !ctx.json, verbose > 0);
    let summary = run_pipeline(&ws, &opts, &cancel, &|event| display.show(event))?;
    display.finish();

    let count = |pred: fn(&StageOutcome) -> bool| {
        summary.stages.iter().filter(|s| pred(&s.outcome)).count()
    };
    let ran = count(|o| matches!(o, StageOutcome::Ran { .. }));
    let restored = count(|o| matches!(o, StageOutcome::Restored { .. }));
    let up_to_date = count(|o| matches!(o, StageOutcome::UpToDate));
    let failed = count(StageOutcome::is_failure);
    let skipped = count(|o| matches!(o, StageOutcome::Skipped { .. } | StageOutcome::Interrupted));
    if ctx.json {
        let stages: Vec<_> = summary
            .stages
            .iter()
            .map(|s| {
                let (state, detail) = describe(&s.outcome);
                serde_json::json!({
                    "name": s.name,
                    "outcome": state,
                    "detail": detail,
                    "run_id": run_id(&s.outcome),
                    "seconds": s.elapsed.as_secs_f64(),
                })
            })
            .collect();
        print_json(&serde_json::json!({
            "stages": stages,
            "ran": ran,
            "restored": restored,
            "up_to_date": up_to_date,
            "failed": failed,
            "skipped": skipped,
            "commands_run": summary.commands_run,
            "interrupted": summary.interrupted,
            "dry_run": opts.dry_run,
        }))?;
    } else {
        for s in &summary.stages {
            if let StageOutcome::Failed {
                message,
                log_tail,
                log_path,
            } = &s.outcome
            {
                eprintln!("\nstage '{}' failed: {message}", s.name);
                if !log_tail.is_empty() {
                    eprintln!(
                        "--- last lines of its log{} ---",
                        log_path
                            .as_ref()
                            .map(|p| format!(" ({})", p.display()))
                            .unwrap_or_default()
                    );
                    eprintln!("{log_tail}");
                    eprintln!("---");
                }
            }
        }
        if opts.dry_run {
            ctx.messages.say(format_args!(
                "Dry run: {} stage(s) would run, {} would be restored from cache, {up_to_date} up to date",
                count(|o| matches!(o, StageOutcome::WouldRun { .. })),
                count(|o| matches!(o, StageOutcome::WouldRestore { .. }))
            ));
        } else {
            ctx.messages.say(format_args!(
                "{} stage(s): {ran} ran, {restored} restored from cache, {up_to_date} up to date{}{}",
                summary.stages.len(),
                if failed > 0 { format!(", {failed} failed") } else { String::new() },
                if skipped > 0 { format!(", {skipped} not run") } else { String::new() },
            ));
        }
    }
    Ok(if summary.interrupted {
        Outcome::Interrupted
    } else if summary.failed() {
        Outcome::No
    } else {
        Outcome::Ok
    })
}

fn run_id(outcome: &StageOutcome) -> Option<&str> {
    match outcome {
        StageOutcome::Ran { run_id, .. } => Some(run_id),
        StageOutcome::Restored { run_id, .. } => run_id.as_deref(),
        _ => None,
    }
}

/// A short state word and the detail (reason or message) for an outcome.
fn describe(outcome: &StageOutcome) -> (&'static str, String) {
    match outcome {
        StageOutcome::UpToDate => ("up-to-date", String::new()),
        StageOutcome::Restored { reason, .. } => ("restored", reason.clone()),
        StageOutcome::Ran { reason, .. } => ("ran", reason.clone()),
        StageOutcome::Failed { message, .. } => ("failed", message.clone()),
        StageOutcome::Skipped { because } => ("skipped", because.clone()),
        StageOutcome::Interrupted => ("interrupted", String::new()),
        StageOutcome::WouldRun { reason } => ("would-run", reason.clone()),
        StageOutcome::WouldRestore { reason } => ("would-restore", reason.clone()),
    }
}

/// The live display on stderr: spinners for running stages on a terminal, plain lines otherwise.
struct Display {
    enabled: bool,
    verbose: bool,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Display {
    fn new(enabled: bool, verbose: bool) -> Display {
        let multi = (enabled && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Display {
            enabled,
            verbose,
            multi,
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: String) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn show(&self, event: Event) {
        if !self.enabled {
            return;
        }
        match event {
            Event::Planned { .. } => {}
            Event::Running { stage } => {
                if let Some(multi) = &self.multi {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                            .expect("static template"),
                    );
                    bar.set_message(stage.clone());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.bars.lock().expect("bars").insert(stage, bar);
                } else if self.verbose {
                    eprintln!("running    {stage}");
                }
            }
            Event::Finished {
                stage,
                outcome,
                elapsed,
            } => {
                if let Some(bar) = self.bars.lock().expect("bars").remove(&stage) {
                    bar.finish_and_clear();
                }
                let secs = elapsed.as_secs_f64();
                let text = match &outcome {
                    StageOutcome::UpToDate => {
                        if !self.verbose {
                            return;
                        }
                        format!("up to date {stage}")
                    }
                    StageOutcome::Restored { run_id, reason } => format!(
                        "restored   {stage} from cache ({reason}; run {})",
                        run_id.as_deref().unwrap_or("?")
                    ),
                    StageOutcome::Ran { reason, .. } => {
                        format!("ran        {stage} in {secs:.2}s ({reason})")
                    }
                    StageOutcome::Failed { message, .. } => {
                        format!("FAILED     {stage} after {secs:.2}s: {message}")
                    }
                    StageOutcome::Skipped { because } => format!("not run    {stage}: {because}"),
                    StageOutcome::Interrupted => format!("interrupted {stage}"),
                    StageOutcome::WouldRun { reason } => format!("would run  {stage} ({reason})"),
                    StageOutcome::WouldRestore { reason } => {
                        format!("would restore {stage} from cache ({reason})")
                    }
                };
                self.line(text);
            }
        }
    }

    fn finish(&self) {
        for (_, bar) in self.bars.lock().expect("bars").drain() {
            bar.finish_and_clear();
        }
    }
}

pub fn status(ctx: &Context) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let project = Project::load_with(ws.root(), &crate::builtins::registry())?;
    let (statuses, files_read) = slipway_pipeline::status::status(&ws, &project)?;
    tracing::info!(files_read, "status computed");
    let stale: Vec<_> = statuses.iter().filter(|s| s.reason.is_some()).collect();
    if ctx.json {
        let stages: Vec<_> = statuses
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "stale": s.reason.is_some(),
                    "reason": s.reason.as_ref().map(|r| r.to_string()),
                })
            })
            .collect();
        print_json(&serde_json::json!({"stages": stages, "stale": stale.len()}))?;
    } else if stale.is_empty() {
        print_line(format_args!(
            "Everything is up to date ({} stage(s)).",
            statuses.len()
        ))?;
    } else {
        for s in &stale {
            print_line(format_args!(
                "{}: {}",
                s.name,
                s.reason.as_ref().expect("stale")
            ))?;
        }
        ctx.messages.say(format_args!(
            "{} of {} stage(s) stale",
            stale.len(),
            statuses.len()
        ));
    }
    Ok(Outcome::Ok)
}

pub fn dag(ctx: &Context, args: DagArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let project = Project::load_with(ws.root(), &crate::builtins::registry())?;
    let (statuses, _) = slipway_pipeline::status::status(&ws, &project)?;
    let format = if ctx.json {
        Format::Json
    } else {
        match args.format {
            DagFormat::Text => Format::Text,
            DagFormat::Dot => Format::Dot,
            DagFormat::Mermaid => Format::Mermaid,
            DagFormat::Json => Format::Json,
        }
    };
    print!("{}", render(&project.pipeline, &statuses, format));
    Ok(Outcome::Ok)
}
