//! The real `mlflow==3.17.2` Python client against the real `slipway server`: the scripts in
//! `tests/mlflow_compat/` must pass unchanged. The virtual environment is created (once) at
//! `target/py-venv`, so a fresh machine installs what it needs by itself.

use crate::util::{Server, record_pipeline_runs};
use std::path::PathBuf;
use std::process::Command;

const MLFLOW: &str = "3.17.2";

/// The venv's python, created once per test process: tests run on threads of one process, so
/// a `OnceLock` keeps two of them from building the same venv at the same time.
fn venv_python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(make_venv).clone()
}

fn make_venv() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_path_buf();
    let venv = target.join("py-venv");
    let python = venv.join("bin/python");
    let ready = || {
        Command::new(&python)
            .args([
                "-c",
                &format!(
                    "import mlflow, sys; sys.exit(0 if mlflow.__version__ == '{MLFLOW}' else 1)"
                ),
            ])
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready() {
        return python;
    }
    if !python.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is installed (needed for the MLflow compatibility suite)");
        assert!(made.success(), "python3 -m venv {} failed", venv.display());
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--disable-pip-version-check",
            "--quiet",
            &format!("mlflow=={MLFLOW}"),
        ])
        .status()
        .expect("pip runs");
    assert!(installed.success(), "pip install mlflow=={MLFLOW} failed");
    assert!(
        ready(),
        "mlflow {MLFLOW} is not importable after installing it"
    );
    python
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/mlflow_compat")
        .join(name)
}

#[test]
fn real_mlflow_client_session_passes_unchanged() {
    let python = venv_python();
    let project = tempfile::tempdir().unwrap();
    slipway_store::Workspace::init(project.path()).unwrap();
    let pipeline = record_pipeline_runs(project.path());
    let server = Server::start(project.path());
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(&python)
        .arg(script("client_session.py"))
        .current_dir(scratch.path())
        .env("MLFLOW_TRACKING_URI", &server.url)
        .env("PIPELINE_RUN_ID", &pipeline.train)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .env("GIT_PYTHON_REFRESH", "quiet")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(" passed, 0 failed"),
        "the MLflow client session failed:\n{stdout}\n{stderr}"
    );

    // The CLI sees what the client logged (origin adhoc) next to the pipeline runs.
    let cli = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["--json", "runs", "search", "attributes.run_name = 'parent'"])
        .current_dir(project.path())
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let page: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    let run = &page["runs"][0];
    assert_eq!(run["origin"], "adhoc", "{page}");
    assert_eq!(run["params"]["lr"], "0.01");
    assert_eq!(run["metrics"]["loss"]["value"], 0.2);
}

/// The registry scenario with the real client, authenticated with an API token, on a project
/// with users (so requests without a token are refused) and a guarded medium-tier model.
#[test]
fn real_mlflow_client_registry_session_passes_unchanged() {
    let python = venv_python();
    let project = tempfile::tempdir().unwrap();
    let slipway = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(args)
            .current_dir(project.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slipway {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    slipway(&["init"]);
    slipway(&["--as", "root", "users", "add", "root", "--role", "admin"]);
    slipway(&["--as", "root", "users", "add", "ci", "--role", "deployer"]);
    let token = slipway(&["--as", "root", "tokens", "create", "--user", "ci"])
        .trim()
        .to_string();
    std::fs::write(project.path().join("weights.json"), b"{\"w\": 1}").unwrap();
    slipway(&[
        "--as",
        "ci",
        "models",
        "register",
        "guarded",
        "--artifact",
        "weights.json",
        "--tier",
        "medium",
    ]);
    let server = Server::start(project.path());

    let unauthenticated = crate::util::agent()
        .get(&format!(
            "{}/api/2.0/mlflow/registered-models/get?name=guarded",
            server.url
        ))
        .call()
        .unwrap();
    assert_eq!(
        unauthenticated.status(),
        401,
        "a server with users refuses requests without a token"
    );

    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(&python)
        .arg(script("registry_session.py"))
        .current_dir(scratch.path())
        .env("MLFLOW_TRACKING_URI", &server.url)
        .env("MLFLOW_TRACKING_TOKEN", &token)
        .env("GUARDED_MODEL", "guarded")
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .env("GIT_PYTHON_REFRESH", "quiet")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(" passed, 0 failed"),
        "the MLflow registry session failed:\n{stdout}\n{stderr}"
    );
    drop(server);
    // Everything the client did is in the audit chain, attributed to the token's user.
    let log = slipway(&["--json", "--as", "root", "audit", "log"]);
    assert!(
        log.contains("\"actor\": \"ci\"") && log.contains("model.promote"),
        "{log}"
    );
    assert!(slipway(&["--json", "--as", "root", "audit", "verify"]).contains("\"ok\": true"));
}
