//! Helpers: a project with recorded runs, and a `slipway server` child process.

use slipway_core::tracking::{IoRole, MetricPoint, RunOrigin, RunStatus};
use slipway_store::meta::{MetadataStore, NewRun, RunIo};
use slipway_store::{ObjectStore, Workspace};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `slipway server` on a free loopback port; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    /// Starts the server in `dir` and waits until it prints its address.
    pub fn start(dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(["server", "--port", "0"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("slipway server starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, url)) = line.split_once("listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
                // Keep draining so the server never blocks on a full pipe.
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server printed its address");
        Server { child, url }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP agent that returns error statuses as responses.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Runs recorded as `slipway run` records them: a `prepare` stage that wrote `reports/`, and a
/// `train` stage that read it and wrote `model.json`, with params, metrics and a commit.
pub struct PipelineRuns {
    pub prepare: String,
    pub train: String,
}

pub fn record_pipeline_runs(root: &Path) -> PipelineRuns {
    let ws = Workspace::open(root).unwrap();
    let store = ws.meta();
    std::fs::create_dir_all(root.join("reports")).unwrap();
    std::fs::write(root.join("reports/eval.txt"), b"accuracy 0.875\n").unwrap();
    let reports = ws.store_path(&root.join("reports"), None, 1).unwrap();
    let model = ws.objects().put_bytes(b"{\"weights\": [1, 2]}").unwrap();
    let exp = store.create_experiment("pipeline", 1).unwrap();
    let new_run = |name: &str| NewRun {
        experiment_id: exp.id,
        name: name.into(),
        origin: RunOrigin::Pipeline,
        status: RunStatus::Running,
        start_ms: 1_795_000_000_000,
        user: "ci".into(),
        git_commit: Some("0123abcd".into()),
        git_dirty: Some(true),
    };
    let prepare = store.create_run(&new_run("prepare")).unwrap();
    store
        .add_run_io(
            &prepare.id,
            &[RunIo {
                digest: reports.artifact.digest,
                role: IoRole::Output,
                path: "reports".into(),
            }],
        )
        .unwrap();
    store
        .finish_run(&prepare.id, RunStatus::Finished, 1_795_000_001_000)
        .unwrap();
    let train = store.create_run(&new_run("train")).unwrap();
    store
        .add_run_io(
            &train.id,
            &[
                RunIo {
                    digest: reports.artifact.digest,
                    role: IoRole::Input,
                    path: "reports".into(),
                },
                RunIo {
                    digest: reports.artifact.digest,
                    role: IoRole::Output,
                    path: "reports".into(),
                },
                RunIo {
                    digest: model.digest,
                    role: IoRole::Output,
                    path: "model.json".into(),
                },
            ],
        )
        .unwrap();
    store
        .log_params(&train.id, &[("train.lr".into(), "0.05".into())])
        .unwrap();
    store
        .log_metrics(
            &train.id,
            &[MetricPoint {
                key: "accuracy".into(),
                value: 0.875,
                timestamp_ms: 1_795_000_002_000,
                step: 0,
            }],
        )
        .unwrap();
    store
        .finish_run(&train.id, RunStatus::Finished, 1_795_000_003_000)
        .unwrap();
    PipelineRuns {
        prepare: prepare.id,
        train: train.id,
    }
}
