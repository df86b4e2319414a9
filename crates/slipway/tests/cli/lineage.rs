//! `slipway lineage`: from a live model version back to the raw data, and forward from a data
//! file to the live slot it feeds.

use crate::util::Project;
use serde_json::Value;

fn project_with_live_model() -> Project {
    let p = Project::new();
    p.write("data/raw.csv", b"x,y\n1,0\n2,1\n");
    p.write(
        "train.sh",
        b"mkdir -p models && sort data/prepared.csv > models/model.txt\n",
    );
    p.write(
        "slipway.yaml",
        b"stages:\n  prepare:\n    cmd: grep -v '^x' data/raw.csv > data/prepared.csv\n    deps: [data/raw.csv]\n    outs: [data/prepared.csv]\n  train:\n    cmd: sh train.sh\n    deps: [train.sh, data/prepared.csv]\n    outs: [models/model.txt]\n",
    );
    let report = p.json(&["run"]);
    let run_id = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "train")
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    p.slipway(&[
        "models",
        "register",
        "credit",
        "--artifact",
        "models/model.txt",
        "--run",
        &run_id,
    ])
    .assert()
    .success();
    p.slipway(&["models", "promote", "credit@1"])
        .assert()
        .success();
    p
}

fn find<'a>(node: &'a Value, pred: &dyn Fn(&Value) -> bool) -> Option<&'a Value> {
    if pred(node) {
        return Some(node);
    }
    node["children"]
        .as_array()?
        .iter()
        .find_map(|c| find(c, pred))
}

#[test]
fn backward_lineage_reaches_raw_data_and_code() {
    let p = project_with_live_model();
    let raw_digest = p.json(&["artifacts", "hash", "data/raw.csv"])[0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let tree = p.json(&["lineage", "credit@1"]);
    assert_eq!(tree["kind"], "model_version");
    let raw =
        find(&tree, &|n| n["id"] == raw_digest.as_str()).expect("raw data digest in the lineage");
    assert!(raw["details"].to_string().contains("no run produced it"));
    assert!(
        find(&tree, &|n| n["label"]
            .as_str()
            .is_some_and(|l| l.starts_with("train.sh")))
        .is_some(),
        "code file"
    );
    assert!(
        find(&tree, &|n| n["kind"] == "run"
            && n["label"].as_str().unwrap().contains("'prepare'"))
        .is_some()
    );
}

#[test]
fn forward_lineage_of_an_input_lists_the_live_slot() {
    let p = project_with_live_model();
    let tree = p.json(&["lineage", "--forward", "data/raw.csv"]);
    assert!(
        find(&tree, &|n| n["kind"] == "slot"
            && n["id"] == "credit/default")
        .is_some(),
        "{tree}"
    );
    let dot = p
        .slipway(&["lineage", "credit@1", "--format", "dot"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&dot.stdout).starts_with("digraph lineage"));
}
