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
