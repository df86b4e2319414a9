//! `slipway card` and `slipway evidence` from a real registry.

use crate::util::{Project, text};

fn registered_and_approved() -> Project {
    let p = Project::new();
    p.slipway(&["--as", "root", "users", "add", "root", "--role", "admin"])
        .assert()
        .success();
    p.slipway(&["--as", "root", "users", "add", "ana", "--role", "deployer"])
        .assert()
        .success();
    p.slipway(&["--as", "root", "users", "add", "val", "--role", "validator"])
        .assert()
        .success();
    p.write("model.json", br#"{"weights": [0.1, 0.2]}"#);
    p.slipway(&[
        "--as",
        "ana",
        "models",
        "register",
        "scorecard",
        "--artifact",
        "model.json",
        "--tier",
        "medium",
        "--intended-use",
        "consumer credit decisions",
        "--limitations",
        "not validated for SMEs",
    ])
    .assert()
    .success();
    p.slipway(&[
        "--as",
        "val",
        "models",
        "approve",
        "scorecard@1",
        "--comment",
        "VR-17 reviewed",
    ])
    .assert()
    .success();
    p
}

#[test]
fn model_card_is_generated_from_the_registry() {
    let p = registered_and_approved();
    let out = p.slipway(&["card", "scorecard@1"]).output().unwrap();
    assert!(out.status.success());
    let card = text(&out.stdout);
    for needle in [
        "# Model card: scorecard@1",
        "**Risk tier:** medium",
        "**Intended use:** consumer credit decisions",
        "**Limitations:** not validated for SMEs",
        "| val | validator |",
        "VR-17 reviewed",
        "No gate decision is recorded for this version.",
        "model.register_version",
        "model.approve",
    ] {
        assert!(card.contains(needle), "card lacks `{needle}`:\n{card}");
    }
    let html = p
        .slipway(&["card", "scorecard@1", "--format", "html"])
        .output()
        .unwrap();
    assert!(text(&html.stdout).contains("<h1>Model card: scorecard@1</h1>"));
}

#[test]
fn evidence_bundle_has_a_manifest_of_digests() {
    let p = registered_and_approved();
    let out = p.json(&["evidence", "scorecard@1", "-o", "bundle"]);
    assert_eq!(out["files"], 8);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("bundle/MANIFEST.json")).unwrap()).unwrap();
    for file in manifest["files"].as_array().unwrap() {
        let path = p.join(&format!("bundle/{}", file["path"].as_str().unwrap()));
        let digest = p.json(&["artifacts", "hash", path.to_str().unwrap()])[0]["digest"].clone();
        assert_eq!(digest, file["digest"], "{}", file["path"]);
    }
    let audit: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("bundle/audit.json")).unwrap()).unwrap();
    assert_eq!(audit["chain_verified"], true);
    assert!(audit["entries"].as_array().unwrap().len() >= 2);
}

/// Replaces what differs between runs — digests and ids (runs of 12+ hex digits) and UTC
/// times — so a generated document can be compared with a checked-in snapshot.
fn normalize(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len());
    let chars: Vec<char> = doc.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // 2026-11-26 10:36:14Z
        let time = chars.len() >= i + 20
            && chars[i..i + 20].iter().enumerate().all(|(k, c)| match k {
                4 | 7 => *c == '-',
                10 => *c == ' ',
                13 | 16 => *c == ':',
                19 => *c == 'Z',
                _ => c.is_ascii_digit(),
            });
        if time {
            out.push_str("<time>");
            i += 20;
            continue;
        }
        let hex = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if hex >= 12 && boundary {
            out.push_str("<hex>");
            i += hex;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Compares with `tests/cli/snapshots/NAME`; `UPDATE_SNAPSHOTS=1` rewrites the file instead.
fn assert_snapshot(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its snapshot at line {}:\n  snapshot: {:?}\n  actual:   {:?}\nwhole document:\n{actual}\n(UPDATE_SNAPSHOTS=1 accepts the change)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn model_card_and_validation_report_match_their_snapshots() {
    let p = registered_and_approved();
    p.slipway(&[
        "--as",
        "ana",
        "gate",
        "--model",
        "scorecard",
        "--challenger-version",
        "1",
        "--metric",
        "auc",
        "--champion",
        "0.5",
        "--challenger",
        "0.81",
        "--delta",
        "0.01",
        "--guardrail",
        "p99_latency_ms=12<=200",
        "--guardrail",
        "fairness_gap=0.03<=0.05",
    ])
    .assert()
    .success();
    p.slipway(&[
        "--as",
        "val",
        "models",
        "approve",
        "scorecard@1",
        "--comment",
        "gate reviewed",
    ])
    .assert()
    .success();
    let card = text(&p.slipway(&["card", "scorecard@1"]).output().unwrap().stdout);
    assert_snapshot("model_card.md", &normalize(&card));
    let report = p.slipway(&["validation", "scorecard@1"]).output().unwrap();
    assert!(report.status.success(), "{}", text(&report.stderr));
    assert_snapshot("validation_report.md", &normalize(&text(&report.stdout)));
}
