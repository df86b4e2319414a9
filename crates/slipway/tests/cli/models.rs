//! The registry through the CLI: promotion, rollback, "what is live", tiers and policy,
//! separation of duties, approvals bound to content, users and tokens, audit tampering.

use crate::util::{Project, text};
use std::process::Command;

fn as_user<'a>(user: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut full = vec!["--as", user];
    full.extend_from_slice(args);
    full
}

fn register(p: &Project, user: &str, name: &str, content: &[u8], extra: &[&str]) -> String {
    let file = format!("model-{}.json", content.len());
    p.write(&file, content);
    let mut args = vec![
        "--as",
        user,
        "models",
        "register",
        name,
        "--artifact",
        &file,
    ];
    args.extend_from_slice(extra);
    let out = p.slipway(&args).output().unwrap();
    assert!(
        out.status.success(),
        "register failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_string()
}

#[test]
fn low_tier_promote_rollback_and_live_as_of() {
    let p = Project::new();
    assert_eq!(
        register(&p, "ana", "credit-risk", b"v1", &[]),
        "credit-risk@1"
    );
    assert_eq!(
        register(&p, "ana", "credit-risk", b"v2-bytes", &[]),
        "credit-risk@2"
    );
    p.slipway(&["models", "promote", "credit-risk@1", "--alias", "champion"])
        .assert()
        .success();
    let t1 = p.json(&["models", "live", "credit-risk"]);
    assert_eq!(t1["version"], 1);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let between = slipway_now();
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.slipway(&["models", "promote", "credit-risk@2", "--alias", "champion"])
        .assert()
        .success();
    assert_eq!(p.json(&["models", "live", "credit-risk"])["version"], 2);
    assert_eq!(
        p.json(&[
            "models",
            "live",
            "credit-risk",
            "--as-of",
            &between.to_string()
        ])["version"],
        1,
        "what was live then"
    );
    let out = p
        .slipway(&["models", "rollback", "credit-risk"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a reason is required by the CLI"
    );
    p.slipway(&["models", "rollback", "credit-risk", "--reason", "INC-1"])
        .assert()
        .success();
    assert_eq!(p.json(&["models", "live", "credit-risk"])["version"], 1);
    let history = p.json(&["models", "history", "credit-risk"]);
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["promote", "promote", "rollback"]);
    assert_eq!(history[2]["reason"], "INC-1");
    let nothing = p
        .slipway(&["models", "live", "credit-risk", "--slot", "eu"])
        .output()
        .unwrap();
    assert_eq!(nothing.status.code(), Some(1), "nothing live answers no");
}

fn slipway_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Medium tier: the promotion lists what is missing; separation of duties; approvals voided by
/// a new gate decision; the promotion boundary (pipeline origin from a clean commit).
#[test]
fn medium_tier_policy_is_enforced_with_every_reason() {
    let p = Project::new();
    p.slipway(&["users", "add", "nobody", "--role", "admin"])
        .assert()
        .failure();
    p.slipway(&["--as", "root", "users", "add", "root", "--role", "admin"])
        .assert()
        .success();
    for (user, role) in [("ana", "deployer"), ("val", "validator"), ("viv", "viewer")] {
        p.slipway(&as_user("root", &["users", "add", user, "--role", role]))
            .assert()
            .success();
    }
    register(&p, "ana", "scorecard", b"weights", &["--tier", "medium"]);
    let out = p
        .slipway(&as_user("ana", &["models", "promote", "scorecard@1"]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a refusal answers no");
    let err = text(&out.stderr);
    for needle in ["gate", "approval", "pipeline", "deployment config"] {
        assert!(
            err.to_lowercase().contains(needle),
            "missing `{needle}` in: {err}"
        );
    }
    let self_approval = p
        .slipway(&as_user("ana", &["models", "approve", "scorecard@1"]))
        .output()
        .unwrap();
    assert_eq!(self_approval.status.code(), Some(1));
    let viewer = p
        .slipway(&as_user("viv", &["models", "approve", "scorecard@1"]))
        .output()
        .unwrap();
    assert!(
        text(&viewer.stderr).contains("validator role"),
        "{}",
        text(&viewer.stderr)
    );
    p.slipway(&as_user(
        "val",
        &["models", "approve", "scorecard@1", "--comment", "reviewed"],
    ))
    .assert()
    .success();
    let shown = p.json(&["--as", "val", "models", "show", "scorecard@1"]);
    assert_eq!(shown["approvals"][0]["valid"], true);
    let unknown = p
        .slipway(&as_user("mallory", &["models", "approve", "scorecard@1"]))
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("not a registered user"),
        "{}",
        text(&unknown.stderr)
    );
}

#[test]
fn tokens_are_shown_once_and_can_be_revoked() {
    let p = Project::new();
    p.slipway(&["--as", "root", "users", "add", "root", "--role", "admin"])
        .assert()
        .success();
    let created = p.json(&["--as", "root", "tokens", "create", "--description", "ci"]);
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("slw_"));
    let listed = p.json(&["--as", "root", "tokens", "list"]);
    let listing = listed.to_string();
    assert!(!listing.contains(&token[17..]), "secrets are never listed");
    let id = created["id"].as_str().unwrap();
    p.slipway(&["--as", "root", "tokens", "revoke", id])
        .assert()
        .success();
    let listed = p.json(&["--as", "root", "tokens", "list"]);
    assert!(listed[0]["revoked_ms"].is_i64());
}

fn sql(p: &Project, statement: &str) {
    let db = p.join(".slipway/metadata.db");
    let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute(sys.argv[2])\nc.commit()\n";
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&db)
        .arg(statement)
        .status()
        .unwrap();
    assert!(status.success(), "python3 sqlite3 failed");
}

#[test]
fn audit_verify_names_the_first_tampered_entry() {
    let p = Project::new();
    for n in 0..4u8 {
        register(&p, "ana", "m", &vec![n; 3 + n as usize], &[]);
    }
    p.slipway(&["models", "promote", "m@2"]).assert().success();
    assert_eq!(p.json(&["audit", "verify"])["ok"], true);
    sql(&p, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
    let out = p.slipway(&["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("BROKEN at entry 3"),
        "{}",
        text(&out.stdout)
    );
    sql(&p, "UPDATE audit_log SET actor = 'ana' WHERE seq = 3");
    assert_eq!(
        p.json(&["audit", "verify"])["ok"],
        true,
        "restoring the row restores the chain"
    );
    sql(
        &p,
        "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)",
    );
    let out = p.slipway(&["--json", "audit", "verify"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a deleted tail is caught by the recorded head"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["first_bad_entry"], 6);
}

#[test]
fn gc_keeps_registered_model_artifacts() {
    let p = Project::new();
    register(&p, "ana", "kept", b"registered bytes", &[]);
    let gc = p.json(&["gc", "--grace", "0s"]);
    assert_eq!(gc["deleted"].as_array().unwrap().len(), 0, "{gc}");
}

fn git(p: &Project, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.email=t@t", "-c", "user.name=t"])
        .args(args)
        .current_dir(p.path())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// The whole medium-tier path: a pipeline run at a clean commit, a gate decision recorded from
/// evaluation values, a pinned config, a validator's approval bound to that decision, then the
/// promotion; a later gate decision voids the approval.
#[test]
fn medium_tier_promotion_succeeds_with_all_evidence() {
    let p = Project::new();
    p.write(
        "train.sh",
        b"mkdir -p models && echo trained > models/model.txt\n",
    );
    p.write("slipway.yaml", b"stages:\n  train:\n    cmd: sh train.sh\n    deps: [train.sh]\n    outs: [models/model.txt]\n");
    git(&p, &["init", "-q"]);
    git(&p, &["add", "-A"]);
    git(&p, &["commit", "-qm", "recipe"]);
    let report = p.json(&["run"]);
    let run_id = report["stages"][0]["run_id"].as_str().unwrap().to_string();
    p.slipway(&["--as", "root", "users", "add", "root", "--role", "admin"])
        .assert()
        .success();
    p.slipway(&["--as", "root", "users", "add", "ana", "--role", "deployer"])
        .assert()
        .success();
    p.slipway(&["--as", "root", "users", "add", "val", "--role", "validator"])
        .assert()
        .success();
    p.slipway(&[
        "--as",
        "ana",
        "models",
        "register",
        "pd",
        "--artifact",
        "models/model.txt",
        "--run",
        &run_id,
        "--tier",
        "medium",
    ])
    .assert()
    .success();
    let gate = p.json(&[
        "--as",
        "ana",
        "gate",
        "--model",
        "pd",
        "--challenger-version",
        "1",
        "--metric",
        "auc",
        "--champion",
        "0.5",
        "--challenger",
        "0.8",
        "--delta",
        "0.01",
        "--guardrail",
        "p99_latency_ms=3<=200",
    ]);
    assert_eq!(gate["recorded"], true);
    p.write("deploy.yaml", b"replicas: 2\n");
    p.slipway(&["--as", "ana", "models", "pin-config", "pd@1", "deploy.yaml"])
        .assert()
        .success();
    p.slipway(&["--as", "val", "models", "approve", "pd@1"])
        .assert()
        .success();
    let out = p
        .slipway(&[
            "--as", "ana", "models", "promote", "pd@1", "--alias", "champion",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        p.json(&["--as", "ana", "models", "live", "pd"])["version"],
        1
    );
    let history = p.json(&["--as", "ana", "models", "history", "pd"]);
    assert_eq!(history[0]["approvers"], serde_json::json!(["val"]));
    assert!(history[0]["gate_decision"].is_string());
}

#[test]
fn gate_refuses_reports_from_different_holdouts() {
    let p = Project::empty();
    let report = |holdout: &str| {
        serde_json::json!({
            "format": "slipway-evaluation/1",
            "model": {"path": "m.json", "digest": "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", "format": "builtin"},
            "holdout": {"path": holdout, "digest": slipway_core_digest(holdout), "rows": 10},
            "label": "y", "task": "binary_classification",
            "metrics": {"auc": 0.8, "p99_latency_ms": 1.5},
            "latency": {"samples": 10, "p50_ms": 1.0, "p99_ms": 1.5},
            "checks": [], "passed": true
        })
    };
    p.write("champ.json", report("holdout-a.csv").to_string().as_bytes());
    p.write("chal.json", report("holdout-b.csv").to_string().as_bytes());
    let out = p
        .slipway(&[
            "gate",
            "--champion-report",
            "champ.json",
            "--challenger-report",
            "chal.json",
        ])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("different holdouts"), "{err}");
}

fn slipway_core_digest(text: &str) -> String {
    // Two different 64-hex digests derived from the name (the value only has to differ).
    let byte = text.bytes().fold(0u8, |a, b| a.wrapping_add(b));
    format!("{byte:02x}").repeat(32)
}
