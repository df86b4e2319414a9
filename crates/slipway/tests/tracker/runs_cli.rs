//! `slipway runs list|show|search|compare`: the same answers embedded and against a server.

use crate::util::{Server, record_pipeline_runs};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn slipway(dir: &Path, args: &[&str], server: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slipway"));
    cmd.args(args).current_dir(dir).env_remove("SLIPWAY_SERVER");
    if let Some(url) = server {
        cmd.env("SLIPWAY_SERVER", url);
    }
    cmd.output().unwrap()
}

fn json(dir: &Path, args: &[&str], server: Option<&str>) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let out = slipway(dir, &full, server);
    assert!(
        out.status.success(),
        "slipway {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn runs_commands_agree_embedded_and_over_http() {
    let project = tempfile::tempdir().unwrap();
    slipway_store::Workspace::init(project.path()).unwrap();
    let runs = record_pipeline_runs(project.path());
    let dir = project.path();
    let server = Server::start(dir);
    let url = server.url.as_str();

    for args in [
        vec!["runs", "list"],
        vec![
            "runs",
            "search",
            "metrics.accuracy > 0.5",
            "--order-by",
            "metrics.accuracy DESC",
        ],
        vec!["runs", "show", runs.train.as_str()],
        vec![
            "runs",
            "compare",
            runs.prepare.as_str(),
            runs.train.as_str(),
        ],
    ] {
        let embedded = json(dir, &args, None);
        let remote = json(dir, &args, Some(url));
        assert_eq!(
            embedded, remote,
            "slipway {args:?} differs between embedded and --server"
        );
    }
    let list = json(dir, &["runs", "list"], None);
    assert_eq!(list["runs"].as_array().unwrap().len(), 2);
    let show = json(dir, &["runs", "show", &runs.train], Some(url));
    assert_eq!(show["git_commit"], "0123abcd");
    assert_eq!(show["git_dirty"], true);
    assert_eq!(show["outputs"].as_array().unwrap().len(), 2);
    assert_eq!(show["artifacts"].as_array().unwrap().len(), 2, "{show}");
    let found = json(dir, &["runs", "search", "params.train.lr = '0.05'"], None);
    assert_eq!(found["runs"][0]["id"], runs.train.as_str());

    // Tables for people.
    let out = slipway(dir, &["runs", "show", &runs.train], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("commit      0123abcd (dirty work tree)"),
        "{text}"
    );
    assert!(text.contains("reports/eval.txt"), "{text}");
    let out = slipway(dir, &["runs", "compare", &runs.prepare, &runs.train], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("params.train.lr") && text.contains("0.05"),
        "{text}"
    );
    let out = slipway(dir, &["runs", "list"], Some(url));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("prepare") && text.contains("pipeline"),
        "{text}"
    );

    // Errors name the problem and exit 2, either way.
    for server in [None, Some(url)] {
        let out = slipway(dir, &["runs", "show", "nope"], server);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
        let out = slipway(dir, &["runs", "search", "metrics.x >"], server);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("invalid filter"));
    }
}
