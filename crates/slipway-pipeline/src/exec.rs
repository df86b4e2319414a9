//! The executor: runs what is stale, in dependency order, up to `jobs` stages at once.
//!
//! Per stage, on a worker thread: observe deps and outputs → if up to date, done → if the run
//! cache knows the stage key and every output object restores and verifies, restore → else
//! remove the outputs, run the command (logged), check and store every declared output, record
//! the run, append the lock entry to the journal, remember the key in the run cache.
//!
//! Staleness is evaluated when a stage becomes ready, after its upstream finished, against the
//! upstream's *actual* new outputs: an upstream that reran and produced identical bytes leaves its
//! downstream cached (early cutoff).

use crate::builtins::{BuiltinContext, BuiltinFailure, Builtins};
use crate::command::{Children, LineResult, StageCommand, tail};
use crate::error::PipelineError;
use crate::git;
use crate::lockfile::{self, LockWriter};
use crate::observe::Observer;
use crate::project::Project;
use crate::runcache::{CachedOutput, RunCache, RunCacheEntry};
use crate::tracking::{StageResult, Tracker, read_metrics};
use slipway_core::pipeline::{
    Action, LockEntry, LockFile, PathState, Schedule, StageId, StageSpec, stage_key, stage_status,
};
use slipway_core::tracking::{MetricPoint, RunStatus};
use slipway_core::{Digest, RelPath};
use slipway_store::objects::ObjectStore;
use slipway_store::{StoreError, Workspace};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Stages to run (with their upstream); empty = all.
    pub targets: Vec<String>,
    /// Stages at once (at least 1).
    pub jobs: usize,
    /// Run every selected stage, whatever its status (no cache restores).
    pub force: bool,
    /// Only report what would happen.
    pub dry_run: bool,
    /// After a failure, keep running stages that do not depend on it.
    pub keep_going: bool,
    /// Echo command output to stderr, prefixed with the stage name.
    pub echo_output: bool,
    /// Run only the target stages, not their upstream (their deps must exist).
    pub only_targets: bool,
    /// The built-ins `uses:` stages may name.
    pub builtins: Builtins,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            targets: Vec::new(),
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            force: false,
            dry_run: false,
            keep_going: false,
            echo_output: false,
            only_targets: false,
            builtins: Builtins::standard(),
        }
    }
}

/// How one stage ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageOutcome {
    /// Nothing changed since its last run.
    UpToDate,
    /// Outputs restored from the run cache, without running the command.
    Restored {
        /// The run that really produced them.
        run_id: Option<String>,
        /// Why the stage was stale.
        reason: String,
    },
    /// The command ran and succeeded.
    Ran {
        /// Its tracker run.
        run_id: String,
        /// Why it ran.
        reason: String,
    },
    /// The command (or the checks after it) failed.
    Failed {
        /// What went wrong.
        message: String,
        /// The end of its log.
        log_tail: String,
        /// The full log.
        log_path: Option<PathBuf>,
    },
    /// Not run because a stage it depends on failed (or the run stopped at a failure).
    Skipped {
        /// Why.
        because: String,
    },
    /// Stopped by an interrupt; nothing was recorded for it.
    Interrupted,
    /// Dry run: would run the command.
    WouldRun {
        /// Why.
        reason: String,
    },
    /// Dry run: would restore outputs from the run cache.
    WouldRestore {
        /// Why.
        reason: String,
    },
}

impl StageOutcome {
    /// Whether this outcome fails the run.
    pub fn is_failure(&self) -> bool {
        matches!(self, StageOutcome::Failed { .. })
    }
}

/// Progress reported while running, for the live display.
#[derive(Clone, Debug)]
pub enum Event {
    /// The selected stages, in the order they may run.
    Planned {
        /// Stage names.
        stages: Vec<String>,
    },
    /// A stage's command started.
    Running {
        /// The stage.
        stage: String,
    },
    /// A stage finished (in any way).
    Finished {
        /// The stage.
        stage: String,
        /// How.
        outcome: StageOutcome,
        /// Wall time spent on it.
        elapsed: Duration,
    },
}

/// One stage's line in the summary.
#[derive(Clone, Debug)]
pub struct StageReport {
    /// The stage.
    pub name: String,
    /// How it ended.
    pub outcome: StageOutcome,
    /// Wall time.
    pub elapsed: Duration,
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Every selected stage, in the order they finished.
    pub stages: Vec<StageReport>,
    /// Whether the run was interrupted.
    pub interrupted: bool,
    /// Commands actually executed.
    pub commands_run: usize,
}

impl Summary {
    /// Whether any stage failed.
    pub fn failed(&self) -> bool {
        self.stages.iter().any(|s| s.outcome.is_failure())
    }
}

struct Ctx<'a> {
    ws: &'a Workspace,
    project: &'a Project,
    opts: &'a RunOptions,
    previous: LockFile,
    observer: Observer<'a>,
    runcache: RunCache,
    tracker: Tracker<'a>,
    writer: Mutex<LockWriter>,
    children: Children,
    cancel: &'a AtomicBool,
    logs: PathBuf,
    in_git: OnceLock<bool>,
    ignorer: crate::gitignore::Ignorer,
    would_change: Mutex<HashSet<StageId>>,
    commands_run: AtomicUsize,
    on_event: &'a (dyn Fn(Event) + Sync),
}

/// Runs the pipeline of the project in `ws`. `cancel` stops it (set it from a signal handler):
/// running commands get SIGTERM, nothing half-done is recorded.
pub fn run_pipeline(
    ws: &Workspace,
    opts: &RunOptions,
    cancel: &AtomicBool,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<Summary, PipelineError> {
    let project = Project::load_with(ws.root(), &opts.builtins)?;
    let selected = if opts.only_targets {
        project.select_only(&opts.targets)?
    } else {
        project.select(&opts.targets)?
    };
    let previous = lockfile::read(ws.root(), ws.dir())?;
    let experiment = project
        .pipeline
        .spec()
        .experiment
        .clone()
        .unwrap_or_else(|| {
            ws.root()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pipeline".into())
        });
    let logs = ws.dir().join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| PipelineError::io("create directory", &logs, e))?;
    let ctx = Ctx {
        ws,
        project: &project,
        opts,
        observer: Observer::new(ws, ws.root()),
        runcache: RunCache::open(ws.dir()),
        tracker: Tracker::new(ws, &experiment),
        writer: Mutex::new(LockWriter::new(ws.root(), ws.dir(), previous.clone())),
        previous,
        children: Children::default(),
        cancel,
        logs,
        in_git: OnceLock::new(),
        ignorer: crate::gitignore::Ignorer::default(),
        would_change: Mutex::new(HashSet::new()),
        commands_run: AtomicUsize::new(0),
        on_event,
    };
    let pipeline = &project.pipeline;
    let order: Vec<StageId> = pipeline
        .topo_order()
        .iter()
        .copied()
        .filter(|id| selected.contains(id))
        .collect();
    on_event(Event::Planned {
        stages: order
            .iter()
            .map(|id| pipeline.stage(*id).name.clone())
            .collect(),
    });

    let mut schedule = Schedule::new(pipeline, &selected);
    let mut summary = Summary::default();
    let jobs = opts.jobs.max(1);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(StageId, StageOutcome, Duration)>();
        let mut running = 0usize;
        let mut stopping = false;
        let report =
            |summary: &mut Summary, id: StageId, outcome: StageOutcome, elapsed: Duration| {
                let name = pipeline.stage(id).name.clone();
                on_event(Event::Finished {
                    stage: name.clone(),
                    outcome: outcome.clone(),
                    elapsed,
                });
                summary.stages.push(StageReport {
                    name,
                    outcome,
                    elapsed,
                });
            };
        loop {
            if cancel.load(Ordering::SeqCst) && !summary.interrupted {
                summary.interrupted = true;
                stopping = true;
                ctx.children.terminate_all();
                for id in schedule.cancel_pending() {
                    report(
                        &mut summary,
                        id,
                        StageOutcome::Skipped {
                            because: "interrupted".into(),
                        },
                        Duration::ZERO,
                    );
                }
            }
            while !stopping && running < jobs {
                let Some(id) = schedule.next_ready() else {
                    break;
                };
                running += 1;
                let tx = tx.clone();
                let ctx = &ctx;
                scope.spawn(move || {
                    let started = Instant::now();
                    let outcome = process_stage(ctx, id);
                    let _ = tx.send((id, outcome, started.elapsed()));
                });
            }
            if running == 0 {
                break;
            }
            let (id, outcome, elapsed) = match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(done) => done,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            running -= 1;
            match &outcome {
                StageOutcome::Failed { .. } => {
                    let name = pipeline.stage(id).name.clone();
                    let skipped = schedule.fail(id);
                    report(&mut summary, id, outcome, elapsed);
                    for down in skipped {
                        report(
                            &mut summary,
                            down,
                            StageOutcome::Skipped {
                                because: format!("upstream stage '{name}' failed"),
                            },
                            Duration::ZERO,
                        );
                    }
                    if !opts.keep_going {
                        stopping = true;
                        for pending in schedule.cancel_pending() {
                            report(
                                &mut summary,
                                pending,
                                StageOutcome::Skipped {
                                    because: format!(
                                        "stopped after '{name}' failed (use --keep-going to continue)"
                                    ),
                                },
                                Duration::ZERO,
                            );
                        }
                    }
                }
                StageOutcome::Interrupted => {
                    schedule.fail(id);
                    summary.interrupted = true;
                    stopping = true;
                    report(&mut summary, id, outcome, elapsed);
                }
                _ => {
                    schedule.complete(id);
                    report(&mut summary, id, outcome, elapsed);
                }
            }
        }
    });
    summary.commands_run = ctx.commands_run.load(Ordering::SeqCst);
    if !opts.dry_run {
        let names: HashSet<String> = pipeline.stages().iter().map(|s| s.name.clone()).collect();
        let writer = ctx.writer.into_inner().expect("lock writer");
        writer.finish(|stage| names.contains(stage))?;
    }
    Ok(summary)
}

fn process_stage(ctx: &Ctx<'_>, id: StageId) -> StageOutcome {
    let stage = ctx.project.pipeline.stage(id);
    match evaluate_and_run(ctx, id, stage) {
        Ok(outcome) => outcome,
        Err(e) => StageOutcome::Failed {
            message: e.to_string(),
            log_tail: String::new(),
            log_path: None,
        },
    }
}

fn failed(message: impl Into<String>) -> StageOutcome {
    StageOutcome::Failed {
        message: message.into(),
        log_tail: String::new(),
        log_path: None,
    }
}

fn evaluate_and_run(
    ctx: &Ctx<'_>,
    id: StageId,
    stage: &StageSpec,
) -> Result<StageOutcome, PipelineError> {
    let observed = ctx.observer.observe(stage)?;
    let entry = ctx.previous.entry(&stage.name);
    let upstream_stale = if ctx.opts.dry_run {
        let changing = ctx.would_change.lock().expect("dry-run set");
        ctx.project
            .pipeline
            .dependencies(id)
            .iter()
            .find(|up| changing.contains(up))
            .map(|up| ctx.project.pipeline.stage(*up).name.clone())
    } else {
        None
    };
    let reason = if ctx.opts.force {
        Some("forced".to_string())
    } else {
        stage_status(stage, &observed, entry, upstream_stale.as_deref()).map(|r| r.to_string())
    };
    let Some(reason) = reason else {
        return Ok(StageOutcome::UpToDate);
    };
    if stage.frozen && !ctx.opts.force {
        return Ok(failed(format!(
            "stage '{}' is frozen but {reason}; restore its outputs or unfreeze it",
            stage.name
        )));
    }
    if ctx.opts.dry_run && upstream_stale.is_some() {
        ctx.would_change.lock().expect("dry-run set").insert(id);
        return Ok(StageOutcome::WouldRun { reason });
    }
    if let Some(missing) = stage
        .deps
        .iter()
        .find(|d| !observed.deps.contains_key(&d.path))
    {
        return Ok(failed(format!(
            "dep '{}' is missing; create it or add a stage that writes it",
            missing.path
        )));
    }
    let key = stage_key(stage, &observed.deps)?;
    let cacheable = !stage.always_changed
        && !stage.is_callback()
        && stage.outputs().next().is_some()
        && stage.outputs().all(|o| o.cache);
    let hit = (cacheable && !ctx.opts.force)
        .then(|| ctx.runcache.get(&key))
        .flatten()
        .filter(|hit| covers(stage, hit));
    if let Some(hit) = hit {
        if ctx.opts.dry_run {
            return Ok(StageOutcome::WouldRestore { reason });
        }
        match restore(ctx, &hit) {
            Ok(outputs) => {
                let lock_entry = LockEntry::new(stage, key, &observed.deps, &outputs)?;
                record_lock(ctx, &stage.name, lock_entry)?;
                return Ok(StageOutcome::Restored {
                    run_id: hit.run_id,
                    reason,
                });
            }
            Err(e) => {
                tracing::warn!(stage = %stage.name, error = %e, "run cache entry could not be restored; running the stage");
                ctx.runcache.remove(&key);
            }
        }
    }
    if ctx.opts.dry_run {
        ctx.would_change.lock().expect("dry-run set").insert(id);
        return Ok(StageOutcome::WouldRun { reason });
    }
    execute(ctx, stage, key, &observed.deps, reason)
}

/// Whether a run-cache entry has exactly the stage's declared outputs.
fn covers(stage: &StageSpec, hit: &RunCacheEntry) -> bool {
    let declared: HashSet<&RelPath> = stage.outputs().map(|o| &o.path).collect();
    let cached: HashSet<&RelPath> = hit.outputs.iter().map(|o| &o.path).collect();
    declared == cached
}

/// Restores every output of a run-cache hit, verified; a corrupt object is deleted so the rerun
/// stores fresh bytes under its address.
fn restore(ctx: &Ctx<'_>, hit: &RunCacheEntry) -> Result<BTreeMap<RelPath, PathState>, StoreError> {
    let mut states = BTreeMap::new();
    for out in &hit.outputs {
        let dest = ctx.project.path(&out.path);
        ctx.observer.invalidate(&out.path);
        if let Err(e) = ctx.ws.restore(&out.digest, &dest) {
            if let StoreError::Corrupt { digest, .. } = &e {
                let _ = ctx.ws.objects().delete(digest);
            }
            return Err(e);
        }
        ctx.observer.set(&out.path, Some(out.state()));
        states.insert(out.path.clone(), out.state());
    }
    Ok(states)
}

fn execute(
    ctx: &Ctx<'_>,
    stage: &StageSpec,
    key: Digest,
    deps: &BTreeMap<RelPath, PathState>,
    reason: String,
) -> Result<StageOutcome, PipelineError> {
    (ctx.on_event)(Event::Running {
        stage: stage.name.clone(),
    });
    let root = ctx.project.root.as_path();
    // Pin the code version before any command of this run touches the work tree.
    ctx.tracker.git();
    for out in stage.outputs() {
        let abs = ctx.project.path(&out.path);
        remove_path(&abs)?;
        ctx.observer.invalidate(&out.path);
        if let Some(parent) = abs.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| PipelineError::io("create directory", parent, e))?;
        }
    }
    let log_path = ctx.logs.join(format!("{}.log", log_name(&stage.name)));
    let start_ms = slipway_store::now_ms();
    ctx.commands_run.fetch_add(1, Ordering::SeqCst);
    let mut produced = crate::builtins::BuiltinOutput::default();
    let failure = match &stage.action {
        Action::Cmd(lines) => {
            let cwd = match &stage.wdir {
                Some(w) => root.join(w.as_str()),
                None => root.to_path_buf(),
            };
            let mut env = stage.env.clone();
            env.insert("SLIPWAY_ROOT".into(), root.display().to_string());
            env.insert("SLIPWAY_STAGE".into(), stage.name.clone());
            let command = StageCommand {
                lines,
                cwd,
                env,
                log_path: log_path.clone(),
                echo_prefix: ctx.opts.echo_output.then(|| format!("[{}] ", stage.name)),
            };
            match command.run(&ctx.children) {
                Ok(LineResult::Success) => None,
                Ok(LineResult::Exit { line, code }) => {
                    Some(format!("`{line}` exited with code {code}"))
                }
                Ok(LineResult::Signal { line, signal }) => {
                    if ctx.cancel.load(Ordering::SeqCst) {
                        return Ok(StageOutcome::Interrupted);
                    }
                    Some(format!("`{line}` was killed by signal {signal}"))
                }
                Err(e) => Some(format!("cannot run the command: {e}")),
            }
        }
        Action::Uses { name, with } => {
            let result = match ctx.opts.builtins.get(name) {
                Some(builtin) => builtin.run(&BuiltinContext {
                    root,
                    workspace: ctx.ws,
                    stage: &stage.name,
                    with,
                    builtins: &ctx.opts.builtins,
                    cancel: ctx.cancel,
                }),
                None => Err(BuiltinFailure::new(format!("unknown built-in '{name}'"))),
            };
            let (failure, output) = match result {
                Ok(output) => (None, output),
                Err(f) => (Some(f.message), f.output),
            };
            let mut text = output.log.clone();
            match &failure {
                None => text.push_str(&format!("{name}: done\n")),
                Some(message) => text.push_str(&format!("{message}\n")),
            }
            std::fs::write(&log_path, text)
                .map_err(|e| PipelineError::io("write", &log_path, e))?;
            produced = output;
            failure
        }
    };
    if ctx.cancel.load(Ordering::SeqCst) {
        return Ok(StageOutcome::Interrupted);
    }
    // Quiet commands leave an empty log; only logs with content become artifacts.
    let log_has_content = std::fs::metadata(&log_path).is_ok_and(|m| m.len() > 0);
    let log_digest = log_has_content
        .then(|| ctx.ws.objects().put_file(&log_path).ok().map(|p| p.digest))
        .flatten();
    let end_ms = slipway_store::now_ms();
    let builtin_metrics: Vec<MetricPoint> = produced
        .metrics
        .iter()
        .map(|m| MetricPoint {
            key: m.key.clone(),
            value: m.value,
            timestamp_ms: end_ms,
            step: m.step,
        })
        .collect();
    let failure = failure.or_else(|| {
        stage
            .outputs()
            .find(|o| !ctx.project.path(&o.path).exists())
            .map(|o| {
                format!(
                    "declared output '{}' was not created by the command",
                    o.path
                )
            })
    });
    if let Some(message) = failure {
        let empty = BTreeMap::new();
        let run = ctx.tracker.record(StageResult {
            stage,
            key,
            status: RunStatus::Failed,
            start_ms,
            end_ms,
            deps,
            outputs: &empty,
            metrics: builtin_metrics,
            extra_params: &produced.params,
            log: log_digest,
        });
        if let Err(e) = run {
            tracing::warn!(stage = %stage.name, error = %e, "could not record the failed run");
        }
        return Ok(StageOutcome::Failed {
            message,
            log_tail: tail(&log_path, 20),
            log_path: Some(log_path),
        });
    }

    let mut outputs = BTreeMap::new();
    for out in stage.outputs() {
        let abs = ctx.project.path(&out.path);
        let state = if out.cache {
            let stored = ctx.ws.store_path(&abs, out.kind, end_ms)?;
            PathState {
                digest: stored.artifact.digest,
                size: stored.artifact.size,
                nfiles: abs.is_dir().then_some(stored.files as u64),
            }
        } else {
            ctx.observer.state(&out.path)?.ok_or_else(|| {
                PipelineError::io(
                    "read",
                    &abs,
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                )
            })?
        };
        outputs.insert(out.path.clone(), state);
    }
    let mut metrics = builtin_metrics;
    for m in &stage.metrics {
        match read_metrics(&ctx.project.path(&m.path), end_ms) {
            Ok(points) => metrics.extend(points),
            Err(message) => {
                return Ok(StageOutcome::Failed {
                    message,
                    log_tail: tail(&log_path, 20),
                    log_path: Some(log_path),
                });
            }
        }
    }
    let run = ctx.tracker.record(StageResult {
        stage,
        key,
        status: RunStatus::Finished,
        start_ms,
        end_ms,
        deps,
        outputs: &outputs,
        metrics,
        extra_params: &produced.params,
        log: log_digest,
    })?;
    let lock_entry = LockEntry::new(stage, key, deps, &outputs)?;
    record_lock(ctx, &stage.name, lock_entry)?;
    if stage.outputs().all(|o| o.cache) && !stage.always_changed && !stage.is_callback() {
        let entry = RunCacheEntry {
            stage: stage.name.clone(),
            run_id: Some(run.id.clone()),
            outputs: outputs
                .iter()
                .map(|(path, s)| CachedOutput {
                    path: path.clone(),
                    digest: s.digest,
                    size: s.size,
                    nfiles: s.nfiles,
                })
                .collect(),
            created_ms: end_ms,
        };
        if let Err(e) = ctx.runcache.put(&key, &entry) {
            tracing::warn!(stage = %stage.name, error = %e, "could not write the run cache entry");
        }
    }
    for (path, state) in &outputs {
        ctx.observer.set(path, Some(*state));
        let cached = stage.outputs().any(|o| &o.path == path && o.cache);
        if cached && *ctx.in_git.get_or_init(|| git::is_repo(root)) {
            ctx.ignorer.ignore(root, path);
        }
    }
    Ok(StageOutcome::Ran {
        run_id: run.id,
        reason,
    })
}

/// Appends a lock entry to the journal and makes it durable (the fsync happens outside the
/// writer's lock, so parallel stages do not queue behind each other's syncs).
fn record_lock(ctx: &Ctx<'_>, stage: &str, entry: LockEntry) -> Result<(), PipelineError> {
    let (journal, path) = {
        let mut writer = ctx.writer.lock().expect("lock writer");
        let journal = writer.record(stage, entry)?;
        (journal, writer.journal_path().to_path_buf())
    };
    crate::lockfile::sync(&journal, &path)
}

/// Stage names may contain `@` and `.`; keep log file names plain.
fn log_name(stage: &str) -> String {
    stage
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn remove_path(path: &Path) -> Result<(), PipelineError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            std::fs::remove_dir_all(path).map_err(|e| PipelineError::io("remove", path, e))
        }
        Ok(_) => std::fs::remove_file(path).map_err(|e| PipelineError::io("remove", path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(PipelineError::io("stat", path, e)),
    }
}
