//! `init`, `artifacts put|get|ls|verify|hash` and `gc` through the real binary.

use crate::util::{Project, text};
use std::os::unix::fs::PermissionsExt;

#[test]
fn uninitialised_directory_is_a_clear_error() {
    let p = Project::empty();
    let out = p.slipway(&["artifacts", "ls"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("not a slipway project") && err.contains("slipway init"),
        "{err}"
    );
}

#[test]
fn init_twice_is_fine() {
    let p = Project::new();
    let again = p.json(&["init"]);
    assert_eq!(again["created"], false);
}

#[test]
fn put_get_round_trip_for_file_and_directory() {
    let p = Project::new();
    p.write("data/a.csv", b"x,y\n1,2\n");
    p.write("data/nested/b.csv", b"x,y\n3,4\n");
    p.write("model.bin", &[0u8, 1, 2, 3, 255]);
    let put = p.json(&["artifacts", "put", "data", "model.bin", "--kind", "dataset"]);
    let dir_digest = put[0]["digest"].as_str().unwrap().to_string();
    let file_digest = put[1]["digest"].as_str().unwrap().to_string();
    assert_eq!(put[0]["files"], 2);

    let out = p
        .slipway(&["artifacts", "get", &file_digest])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, [0u8, 1, 2, 3, 255]);

    p.slipway(&["artifacts", "get", &dir_digest[..10], "-o", "restored"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(p.join("restored/nested/b.csv")).unwrap(),
        b"x,y\n3,4\n"
    );
    let hashed = p.json(&["artifacts", "hash", "restored"]);
    assert_eq!(
        hashed[0]["digest"],
        dir_digest.as_str(),
        "restored tree hashes to the same digest"
    );

    let refused = p
        .slipway(&["artifacts", "get", &dir_digest, "-o", "restored"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("--force"));
    p.slipway(&["artifacts", "get", &dir_digest, "-o", "restored", "--force"])
        .assert()
        .success();
}

#[test]
fn putting_the_same_bytes_twice_stores_once() {
    let p = Project::new();
    p.write("a.txt", b"same");
    p.write("b.txt", b"same");
    let first = p.json(&["artifacts", "put", "a.txt"]);
    let second = p.json(&["artifacts", "put", "b.txt"]);
    assert_eq!(first[0]["digest"], second[0]["digest"]);
    assert_eq!(first[0]["new_objects"], 1);
    assert_eq!(second[0]["new_objects"], 0);
}

#[test]
fn named_reference_resolves_and_survives_gc() {
    let p = Project::new();
    p.write("keep.txt", b"keep me");
    p.write("drop.txt", b"drop me");
    let keep = p.json(&["artifacts", "put", "keep.txt", "--name", "golden"]);
    let drop = p.json(&["artifacts", "put", "drop.txt"]);
    let gc = p.json(&["gc", "--grace", "0s"]);
    assert_eq!(gc["deleted"].as_array().unwrap().len(), 1);
    assert_eq!(gc["deleted"][0]["digest"], drop[0]["digest"]);
    let out = p.slipway(&["artifacts", "get", "golden"]).output().unwrap();
    assert_eq!(out.stdout, b"keep me");
    let ls = p.json(&["artifacts", "ls"]);
    assert_eq!(
        ls["artifacts"].as_array().unwrap().len(),
        1,
        "gc forgot the deleted artifact"
    );
    assert_eq!(ls["refs"][0]["digest"], keep[0]["digest"]);
}

#[test]
fn gc_respects_the_grace_period_and_dry_run() {
    let p = Project::new();
    p.write("x.txt", b"unreferenced");
    p.json(&["artifacts", "put", "x.txt"]);
    let recent = p.json(&["gc"]);
    assert_eq!(
        recent["kept_recent"], 1,
        "default grace keeps fresh objects"
    );
    let dry = p.json(&["gc", "--dry-run", "--grace", "0s"]);
    assert_eq!(dry["deleted"].as_array().unwrap().len(), 1);
    let again = p.json(&["gc", "--dry-run", "--grace", "0s"]);
    assert_eq!(
        again["deleted"].as_array().unwrap().len(),
        1,
        "dry run deleted nothing"
    );
}

#[test]
fn corrupted_object_fails_get_and_verify_naming_it() {
    let p = Project::new();
    p.write("data.bin", &vec![42u8; 100_000]);
    let put = p.json(&["artifacts", "put", "data.bin"]);
    let digest = put[0]["digest"].as_str().unwrap().to_string();
    let object = p.object_path(&digest);
    std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[50_000] ^= 0x01;
    std::fs::write(&object, bytes).unwrap();

    let get = p.slipway(&["artifacts", "get", &digest]).output().unwrap();
    assert_eq!(get.status.code(), Some(2));
    assert!(get.stdout.is_empty(), "corrupt bytes are never served");
    assert!(text(&get.stderr).contains(&digest), "{}", text(&get.stderr));

    let restore = p
        .slipway(&["artifacts", "get", &digest, "-o", "out.bin"])
        .output()
        .unwrap();
    assert_eq!(restore.status.code(), Some(2));
    assert!(!p.join("out.bin").exists());

    let verify = p.slipway(&["artifacts", "verify"]).output().unwrap();
    assert_eq!(verify.status.code(), Some(1), "verify answers no");
    let listed = text(&verify.stdout);
    assert!(
        listed.contains(&digest) && listed.contains("corrupt"),
        "{listed}"
    );
}

#[test]
fn missing_object_is_reported_by_verify() {
    let p = Project::new();
    p.write("a.txt", b"a");
    let put = p.json(&["artifacts", "put", "a.txt"]);
    let digest = put[0]["digest"].as_str().unwrap();
    let report = p.json(&["artifacts", "verify"]);
    assert_eq!(report["ok"], true);
    std::fs::remove_file(p.object_path(digest)).unwrap();
    let out = p
        .slipway(&["artifacts", "verify", digest])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("missing"));
}

#[test]
fn symlinks_are_refused_with_the_path() {
    let p = Project::new();
    p.write("tree/a.txt", b"a");
    std::os::unix::fs::symlink("/etc/hostname", p.join("tree/link")).unwrap();
    let out = p.slipway(&["artifacts", "put", "tree"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("tree/link") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(
        p.json(&["artifacts", "ls"])["artifacts"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "nothing recorded"
    );
}

#[test]
fn unreadable_file_is_named() {
    let p = Project::new();
    let out = p
        .slipway(&["artifacts", "put", "no/such/file.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no/such/file.csv"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn damaged_database_is_reported_with_its_path() {
    let p = Project::new();
    std::fs::write(p.join(".slipway/metadata.db"), vec![b'z'; 10_000]).unwrap();
    let _ = std::fs::remove_file(p.join(".slipway/metadata.db-wal"));
    let _ = std::fs::remove_file(p.join(".slipway/metadata.db-shm"));
    let out = p.slipway(&["artifacts", "ls"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("metadata.db") && err.contains("damaged"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let p = Project::new();
    let out = p.slipway(&["artifacts", "put"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = p.slipway(&["gc", "--grace", "5 weeks"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = p
        .slipway(&["artifacts", "put", "x", "--kind", "weights"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected one of"));
}

#[test]
fn help_documents_exit_codes() {
    let p = Project::empty();
    let out = p.slipway(&["--help"]).output().unwrap();
    let help = text(&out.stdout);
    assert!(help.contains("Exit codes: 0"), "{help}");
}

#[test]
fn second_hash_of_unchanged_tree_reads_no_file() {
    let p = Project::new();
    for i in 0..50 {
        p.write(&format!("tree/f{i:02}.bin"), &vec![i as u8; 2_000_000]); // 100 MB
    }
    p.json(&["artifacts", "hash", "tree"]);
    let out = p
        .slipway(&["-v", "artifacts", "hash", "tree"])
        .output()
        .unwrap();
    let log = text(&out.stderr);
    assert!(
        log.contains("files_read=0") && log.contains("files_cached=50"),
        "{log}"
    );
}

#[test]
fn demo_runs_and_leaves_an_explorable_project() {
    let p = Project::empty();
    let out = p.json(&["demo", "demo-project"]);
    assert_eq!(
        out["live"], 2,
        "the challenger ends live after the rollback drill: {out}"
    );
    assert_eq!(out["audit_ok"], true);
    assert_eq!(out["slo_alert_day"], 27);
    let history = p.json(&[
        "-C",
        "demo-project",
        "--as",
        "ana",
        "models",
        "history",
        "credit-risk",
    ]);
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["promote", "stage", "promote", "rollback", "promote"]
    );
    let status = p.json(&["-C", "demo-project", "status"]);
    assert_eq!(status["stale"], 0, "the project is left up to date");
    // The drift incident: opened by the monitor, notified, a proposal made (never promoted by
    // the monitor itself), resolved by a person.
    let incidents = p.json(&["-C", "demo-project", "monitor", "incidents", "--all"]);
    let incident = &incidents["incidents"][0];
    assert_eq!(incident["monitor"], "input-drift", "{incidents}");
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["notified"], "HTTP 200");
    assert_eq!(incident["proposal"]["version"], 2);
    assert_eq!(incident["proposal"]["gate"], "promote");
    let promoted_by: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["action"] == "promote")
        .map(|h| h["actor"].as_str().unwrap())
        .collect();
    assert!(promoted_by.iter().all(|a| *a == "ana"), "{history}");
    let logged = p.json(&[
        "-C",
        "demo-project",
        "monitor",
        "predictions",
        "--limit",
        "5000",
    ]);
    assert!(logged["predictions"].as_array().unwrap().len() >= 3_000);
    assert!(p.join("demo-project/model-card.md").exists());
    // The version's ML Test Score comes from the evidence recorded for it, and is stored on it.
    let score = p.json(&[
        "-C",
        "demo-project",
        "--as",
        "ana",
        "score",
        "credit-risk@2",
    ]);
    let evidence = score["evidence"].as_array().unwrap();
    assert!(
        evidence
            .iter()
            .any(|e| e["report"] == "reports/validation.json"),
        "{score}"
    );
    assert!(
        evidence
            .iter()
            .any(|e| e["report"] == "reports/evaluation.json"),
        "{score}"
    );
    let shown = p.json(&[
        "-C",
        "demo-project",
        "--as",
        "ana",
        "models",
        "show",
        "credit-risk@2",
    ]);
    assert_eq!(shown["ml_test_score"], score["score"]);
    let again = p.slipway(&["demo", "demo-project"]).output().unwrap();
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing project is never overwritten"
    );
}
