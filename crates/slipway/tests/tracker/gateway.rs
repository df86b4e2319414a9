//! The serving gateway end to end: a real `slipway server`, real HTTP, models registered and
//! promoted with the real CLI (a separate process, as users do it).

use crate::util::{Server, agent};
use serde_json::{Value, json};
use slipway_store::Workspace;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A built-in logistic model over `x1, x2` whose output is `sigmoid(bias + x1 + 2·x2)`.
fn write_model(dir: &Path, name: &str, bias: f64) -> std::path::PathBuf {
    let doc = json!({
        "format": "slipway-model/1",
        "task": "binary_classification",
        "signature": {
            "inputs": [{"name": "x1", "type": "float"}, {"name": "x2", "type": "float"}],
            "outputs": [{"name": "probability", "type": "float"}]
        },
        "model": {"kind": "linear", "link": "logistic", "intercept": bias, "weights": [1.0, 2.0]}
    });
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Runs the CLI in `dir`; panics with its output when it fails.
fn slipway(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "slipway {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> (u16, Value, Option<String>) {
    let mut response = match (method, body) {
        ("GET", _) => agent.get(url).call().unwrap(),
        (_, Some(body)) => agent.post(url).send_json(body).unwrap(),
        (_, None) => agent.post(url).send_empty().unwrap(),
    };
    let status = response.status().as_u16();
    let version = response
        .headers()
        .get("slipway-model-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        version,
    )
}

fn predict_url(server: &Server, model: &str, slot: &str) -> String {
    format!("{}/v1/models/{model}/slots/{slot}:predict", server.url)
}

/// A project with `credit@1` (bias 0) live in `default`.
fn project_with_live_model() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    Workspace::init(project.path()).unwrap();
    let file = write_model(project.path(), "v1.json", 0.0);
    slipway(
        project.path(),
        &[
            "models",
            "register",
            "credit",
            "--artifact",
            file.to_str().unwrap(),
        ],
    );
    slipway(project.path(), &["models", "promote", "credit@1"]);
    project
}

/// Waits until the gateway serves `version` in the slot (the reloader polls the registry).
fn wait_for_version(server: &Server, slot: &str, version: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, models, _) = call(&agent(), "GET", &format!("{}/v1/models", server.url), None);
        let live = models["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["slot"] == slot && m["version"] == version);
        if live {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "version {version} never went live: {models}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then wait: a clean stop writes and syncs every acknowledged prediction.
fn stop_cleanly(mut server: Server) {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            assert!(exit.success(), "clean stop exits 0: {exit:?}");
            return;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn predicts_lists_models_and_names_the_feature_at_fault() {
    let project = project_with_live_model();
    let server = Server::start(project.path());
    let a = agent();

    let (status, models, _) = call(&a, "GET", &format!("{}/v1/models", server.url), None);
    assert_eq!(status, 200);
    assert_eq!(models["models"][0]["name"], "credit");
    assert_eq!(models["models"][0]["slot"], "default");
    assert_eq!(models["models"][0]["version"], "1");
    assert_eq!(
        models["models"][0]["inputs"],
        json!([{"name": "x1", "type": "float"}, {"name": "x2", "type": "float"}])
    );

    let body = json!({"rows": [{"x1": 0.5, "x2": -1.0}, {"x1": 2, "x2": 0.25}]});
    let (status, answer, version) = call(
        &a,
        "POST",
        &predict_url(&server, "credit", "default"),
        Some(&body),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(version.as_deref(), Some("1"));
    assert_eq!(answer["model"], "credit");
    assert_eq!(answer["version"], "1");
    let p: Vec<f64> = serde_json::from_value(answer["predictions"].clone()).unwrap();
    assert!((p[0] - sigmoid(0.5 - 2.0)).abs() < 1e-12);
    assert!((p[1] - sigmoid(2.0 + 0.5)).abs() < 1e-12);
    assert_eq!(answer["prediction_ids"].as_array().unwrap().len(), 2);

    // A large batch (run as a blocking section) answers every row, in order.
    let many: Vec<Value> = (0..2_000)
        .map(|i| json!({"x1": i as f64 / 1000.0, "x2": 0}))
        .collect();
    let (status, answer, _) = call(
        &a,
        "POST",
        &predict_url(&server, "credit", "default"),
        Some(&json!({ "rows": many })),
    );
    assert_eq!(status, 200);
    let p: Vec<f64> = serde_json::from_value(answer["predictions"].clone()).unwrap();
    assert_eq!(p.len(), 2_000);
    assert!((p[1_999] - sigmoid(1.999)).abs() < 1e-12);
    assert_eq!(answer["prediction_ids"].as_array().unwrap().len(), 2_000);

    // MLflow's scoring formats on /invocations (default slot).
    for body in [
        json!({"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, -1.0]]}}),
        json!({"dataframe_records": [{"x1": 0.5, "x2": -1.0}]}),
        json!({"inputs": {"x1": [0.5], "x2": [-1.0]}}),
    ] {
        let (status, answer, _) = call(
            &a,
            "POST",
            &format!("{}/v1/models/credit/invocations", server.url),
            Some(&body),
        );
        assert_eq!(status, 200, "{body}: {answer}");
        assert!((answer["predictions"][0].as_f64().unwrap() - sigmoid(-1.5)).abs() < 1e-12);
    }

    // Signature errors are 400s naming the feature.
    let refused = |url: &str, body: &Value, status: u16, needle: &str| {
        let (got, err, _) = call(&a, "POST", url, Some(body));
        assert_eq!(got, status, "{err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle}: {err}");
    };
    let default = predict_url(&server, "credit", "default");
    refused(
        &default,
        &json!({"rows": [{"x1": 1.0}]}),
        400,
        "missing feature `x2`",
    );
    refused(
        &default,
        &json!({"rows": [{"x1": "high", "x2": 1}]}),
        400,
        "`x1`",
    );
    refused(
        &predict_url(&server, "credit", "eu"),
        &body,
        404,
        "live slots: default",
    );
    refused(&predict_url(&server, "nope", "default"), &body, 404, "nope");

    // The latency histogram of the version is exposed.
    let metrics = a
        .get(&format!("{}/metrics", server.url))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics
            .contains("slipway_prediction_latency_seconds_count{model=\"credit\",version=\"1\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "slipway_prediction_latency_p99_milliseconds{model=\"credit\",version=\"1\"}"
        )
    );
}

/// The request rows of an `onnx_expected.json` (its inputs, named by its features).
fn expected_rows(expected: &Value) -> Vec<Value> {
    let features: Vec<String> = serde_json::from_value(expected["features"].clone()).unwrap();
    expected["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let values = r.as_array().unwrap().iter().cloned();
            Value::Object(features.iter().cloned().zip(values).collect())
        })
        .collect()
}

#[test]
fn onnx_models_from_skl2onnx_serve_what_scikit_learn_predicted() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../slipway-serve/tests/fixtures");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("onnx_expected.json")).unwrap(),
    )
    .unwrap();
    let project = tempfile::tempdir().unwrap();
    Workspace::init(project.path()).unwrap();
    let model_dir = project.path().join("onnx-model");
    std::fs::create_dir(&model_dir).unwrap();
    for f in ["logreg.onnx", "logreg.onnx.signature.json"] {
        std::fs::copy(fixtures.join(f), model_dir.join(f)).unwrap();
    }
    slipway(
        project.path(),
        &["models", "register", "risk", "--artifact", "onnx-model"],
    );
    slipway(project.path(), &["models", "promote", "risk@1"]);
    let server = Server::start(project.path());
    let rows = expected_rows(&expected);
    let (status, answer, _) = call(
        &agent(),
        "POST",
        &predict_url(&server, "risk", "default"),
        Some(&json!({"rows": rows})),
    );
    assert_eq!(status, 200, "{answer}");
    let got: Vec<f64> = serde_json::from_value(answer["predictions"].clone()).unwrap();
    let want: Vec<f64> = serde_json::from_value(expected["predictions"]["logreg"].clone()).unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "{g} vs scikit-learn {w}");
    }
}

#[test]
fn promotion_and_rollback_under_load_fail_no_request() {
    let project = project_with_live_model();
    let v2 = write_model(project.path(), "v2.json", 3.0);
    slipway(
        project.path(),
        &[
            "models",
            "register",
            "credit",
            "--artifact",
            v2.to_str().unwrap(),
        ],
    );
    let server = Server::start(project.path());
    let url = predict_url(&server, "credit", "default");
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let total = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, failures, seen, total, url) = (
                stop.clone(),
                failures.clone(),
                seen.clone(),
                total.clone(),
                url.clone(),
            );
            std::thread::spawn(move || {
                let a = agent();
                let body = json!({"rows": [{"x1": 0.0, "x2": 0.0}]});
                while !stop.load(Ordering::Relaxed) {
                    let (status, answer, version) = call(&a, "POST", &url, Some(&body));
                    total.fetch_add(1, Ordering::Relaxed);
                    if status != 200 {
                        failures.lock().unwrap().push(format!("{status}: {answer}"));
                        continue;
                    }
                    // The body and the header agree, and the number is that version's.
                    let v = version.unwrap();
                    assert_eq!(answer["version"], v.as_str());
                    let p = answer["predictions"][0].as_f64().unwrap();
                    let bias = if v == "1" { 0.0 } else { 3.0 };
                    assert!(
                        (p - sigmoid(bias)).abs() < 1e-12,
                        "version {v} answered {p}"
                    );
                    let mut seen = seen.lock().unwrap();
                    if seen.last() != Some(&v) {
                        seen.push(v);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    slipway(project.path(), &["models", "promote", "credit@2"]);
    wait_for_version(&server, "default", "2");
    std::thread::sleep(Duration::from_millis(300));
    slipway(
        project.path(),
        &["models", "rollback", "credit", "--reason", "drill"],
    );
    wait_for_version(&server, "default", "1");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}",
        failures.len(),
        total.load(Ordering::Relaxed),
        &failures[..failures.len().min(5)]
    );
    let seen = seen.lock().unwrap().clone();
    // Each worker sees 1 → 2 → 1; merged, the sequence must contain both switches.
    assert!(seen.windows(2).any(|w| w == ["1", "2"]), "{seen:?}");
    assert!(seen.windows(2).any(|w| w == ["2", "1"]), "{seen:?}");
}

/// `credit@2` (bias 3) in Staging in `default`, beside the live `credit@1`.
fn stage_challenger(project: &Path) {
    let v2 = write_model(project, "v2.json", 3.0);
    slipway(
        project,
        &[
            "models",
            "register",
            "credit",
            "--artifact",
            v2.to_str().unwrap(),
        ],
    );
    slipway(project, &["models", "stage", "credit@2", "--to", "staging"]);
}

#[test]
fn canary_share_is_within_bounds_and_sticky_by_key() {
    let project = project_with_live_model();
    stage_challenger(project.path());
    slipway(
        project.path(),
        &[
            "models", "traffic", "credit", "--canary", "2", "--share", "0.2",
        ],
    );
    let server = Server::start(project.path());
    let a = agent();
    let url = predict_url(&server, "credit", "default");
    let n = 1000;
    let mut canary = 0;
    for _ in 0..n {
        let (status, answer, _) = call(
            &a,
            "POST",
            &url,
            Some(&json!({"rows": [{"x1": 0, "x2": 0}]})),
        );
        assert_eq!(status, 200);
        if answer["version"] == "2" {
            canary += 1;
        }
    }
    // Binomial(1000, 0.2): mean 200, sd 12.6; ±5 sd never fails by chance in practice.
    assert!(
        (137..=263).contains(&canary),
        "{canary} of {n} went to the canary"
    );
    // The same key always takes the same route.
    for key in ["customer-17", "customer-18", "customer-19"] {
        let versions: std::collections::BTreeSet<String> = (0..20)
            .map(|_| {
                call(
                    &a,
                    "POST",
                    &url,
                    Some(&json!({"rows": [{"x1": 0, "x2": 0}], "key": key})),
                )
                .1["version"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(versions.len(), 1, "{key} was routed to {versions:?}");
    }
    let shown = slipway(project.path(), &["models", "traffic", "credit", "--json"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["mode"], "canary");
    assert_eq!(shown["challenger"], 2);
    let audit = slipway(project.path(), &["audit", "log", "--json"]);
    assert!(
        audit.contains("traffic.set"),
        "the traffic change is in the audit chain"
    );
    // The canary's served latency is the gate's latency guardrail.
    stop_cleanly(server);
    let gate = |bound: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args([
                "--json",
                "gate",
                "--model",
                "credit",
                "--challenger-version",
                "2",
                "--metric",
                "auc",
                "--champion",
                "0.80",
                "--challenger",
                "0.85",
                "--latency-from-log",
                "--guardrail",
                &format!("p99_latency_ms<={bound}"),
            ])
            .current_dir(project.path())
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "gate printed no JSON: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    assert_eq!(gate("200")["decision"], "promote");
    let kept = gate("0.000001");
    assert_eq!(kept["decision"], "keep");
    assert_eq!(kept["breaches"], json!(["p99_latency_ms"]));
}

#[test]
fn a_canary_must_be_in_staging() {
    let project = project_with_live_model();
    let v2 = write_model(project.path(), "v2.json", 3.0);
    slipway(
        project.path(),
        &[
            "models",
            "register",
            "credit",
            "--artifact",
            v2.to_str().unwrap(),
        ],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["models", "traffic", "credit", "--canary", "2"])
        .current_dir(project.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must be in Staging"), "{err}");
}

#[test]
fn shadow_outputs_are_logged_never_returned_and_the_log_survives_a_restart() {
    let project = project_with_live_model();
    stage_challenger(project.path());
    slipway(
        project.path(),
        &["models", "traffic", "credit", "--shadow", "2"],
    );
    let server = Server::start(project.path());
    let a = agent();
    let mut ids = Vec::new();
    for i in 0..20 {
        let (status, answer, version) = call(
            &a,
            "POST",
            &predict_url(&server, "credit", "default"),
            Some(&json!({"rows": [{"x1": i, "x2": 0}]})),
        );
        assert_eq!(status, 200);
        assert_eq!(
            version.as_deref(),
            Some("1"),
            "shadow output is never returned"
        );
        assert!((answer["predictions"][0].as_f64().unwrap() - sigmoid(f64::from(i))).abs() < 1e-12);
        ids.push(answer["prediction_ids"][0].as_str().unwrap().to_string());
    }
    // A clean stop flushes the log.
    stop_cleanly(server);
    let logged: Value = serde_json::from_str(&slipway(
        project.path(),
        &["--json", "monitor", "predictions", "--limit", "100"],
    ))
    .unwrap();
    let logged = logged["predictions"].as_array().unwrap();
    let champion: Vec<&Value> = logged.iter().filter(|r| r["route"] == "champion").collect();
    let shadow: Vec<&Value> = logged.iter().filter(|r| r["route"] == "shadow").collect();
    assert_eq!(champion.len(), 20);
    assert_eq!(
        shadow.len(),
        20,
        "every mirrored request logged the challenger's output"
    );
    assert!(shadow.iter().all(|r| r["version"] == 2));
    for r in &shadow {
        let x1 = r["inputs"]["x1"].as_f64().unwrap();
        assert!((r["output"].as_f64().unwrap() - sigmoid(3.0 + x1)).abs() < 1e-12);
    }
    let logged_ids: Vec<&str> = champion.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        logged_ids,
        ids.iter().map(String::as_str).collect::<Vec<_>>()
    );

    // After a restart the old records are still there and new ones are added.
    let server = Server::start(project.path());
    let (status, _, _) = call(
        &a,
        "POST",
        &predict_url(&server, "credit", "default"),
        Some(&json!({"rows": [{"x1": 0, "x2": 0}]})),
    );
    assert_eq!(status, 200);
    stop_cleanly(server);
    let logged: Value = serde_json::from_str(&slipway(
        project.path(),
        &["--json", "monitor", "predictions", "--limit", "1000"],
    ))
    .unwrap();
    assert!(logged["predictions"].as_array().unwrap().len() >= 41);
}

#[test]
fn labels_join_predictions_by_id() {
    let project = project_with_live_model();
    let server = Server::start(project.path());
    let a = agent();
    let (_, answer, _) = call(
        &a,
        "POST",
        &predict_url(&server, "credit", "default"),
        Some(&json!({"rows": [{"x1": 1, "x2": 1}, {"x1": 0, "x2": 0}]})),
    );
    let ids: Vec<String> = serde_json::from_value(answer["prediction_ids"].clone()).unwrap();
    let (status, recorded, _) = call(
        &a,
        "POST",
        &format!("{}/v1/labels", server.url),
        Some(&json!({"labels": [{"prediction_id": ids[0], "label": 1}]})),
    );
    assert_eq!(status, 200, "{recorded}");
    assert_eq!(recorded["recorded"], 1);
    let (status, err, _) = call(
        &a,
        "POST",
        &format!("{}/v1/labels", server.url),
        Some(&json!({"labels": [{"prediction_id": "nope", "label": 1}]})),
    );
    assert_eq!(status, 400);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("labels[0].prediction_id"),
        "{err}"
    );
    let csv = project.path().join("labels.csv");
    std::fs::write(&csv, format!("prediction_id,label\n{},0\n", ids[1])).unwrap();
    slipway(project.path(), &["monitor", "labels", "labels.csv"]);
    std::fs::write(&csv, "prediction_id,label\nnot-an-id,0\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["monitor", "labels", "labels.csv"])
        .current_dir(project.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("labels.csv:2"));
    stop_cleanly(server);
    let logged: Value = serde_json::from_str(&slipway(
        project.path(),
        &["--json", "monitor", "predictions"],
    ))
    .unwrap();
    let by_id = |id: &str| {
        logged["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["label"]
            .clone()
    };
    assert_eq!(by_id(&ids[0]), json!(1.0));
    assert_eq!(by_id(&ids[1]), json!(0.0));
}

#[test]
fn lineage_of_a_prediction_reaches_the_raw_data_and_forward_lineage_the_live_slot() {
    let dir = tempfile::tempdir().unwrap();
    slipway(dir.path(), &["demo", "demo"]);
    let project = dir.path().join("demo");
    let server = Server::start(&project);
    let row: Value = {
        let text = std::fs::read_to_string(project.join("data/holdout.csv")).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let values: Vec<&str> = lines.next().unwrap().split(',').collect();
        Value::Object(
            header
                .iter()
                .zip(values)
                .filter(|(h, _)| !matches!(**h, "applicant_id" | "region" | "default"))
                .map(|(h, v)| (h.to_string(), json!(v.parse::<f64>().unwrap())))
                .collect(),
        )
    };
    // The demo project has users, so the gateway needs a token like every other endpoint.
    let token: Value = serde_json::from_str(&slipway(
        &project,
        &["--json", "tokens", "create", "--user", "ana"],
    ))
    .unwrap();
    let url = predict_url(&server, "credit-risk", "default");
    let unauthenticated = call(&agent(), "POST", &url, Some(&json!({"rows": [row]})));
    assert_eq!(unauthenticated.0, 401);
    let mut response = agent()
        .post(&url)
        .header(
            "Authorization",
            &format!("Bearer {}", token["token"].as_str().unwrap()),
        )
        .send_json(json!({"rows": [row]}))
        .unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    assert_eq!(response.status().as_u16(), 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let id = answer["prediction_ids"][0].as_str().unwrap().to_string();
    stop_cleanly(server);
    let tree: Value =
        serde_json::from_str(&slipway(&project, &["--json", "lineage", &id])).unwrap();
    assert_eq!(tree["kind"], "prediction");
    let text = tree.to_string();
    let raw = slipway(&project, &["artifacts", "hash", "data/train.csv"]);
    let raw = raw.split_whitespace().next().unwrap();
    assert!(text.contains("credit-risk@2"), "{text}");
    assert!(
        text.contains(&raw[..12]),
        "the chain reaches data/train.csv ({raw}): {text}"
    );
    let human = slipway(&project, &["lineage", &id]);
    assert!(human.contains("promote to default by"), "{human}");

    let forward = slipway(&project, &["lineage", "--forward", "data/train.csv"]);
    assert!(
        forward.contains("LIVE in slot default of credit-risk"),
        "{forward}"
    );
    let forward = slipway(
        &project,
        &["--json", "lineage", "--forward", "data/train.csv"],
    );
    assert!(forward.contains("\"credit-risk/default\""), "{forward}");
    // A changed input: its new digest fed nothing yet, but the path did.
    let mut data = std::fs::read_to_string(project.join("data/train.csv")).unwrap();
    data.push_str(&data.lines().last().unwrap().replacen("1", "2", 1));
    data.push('\n');
    std::fs::write(project.join("data/train.csv"), data).unwrap();
    let forward = slipway(&project, &["lineage", "--forward", "data/train.csv"]);
    assert!(
        forward.contains("LIVE in slot default of credit-risk"),
        "{forward}"
    );
}

/// Runs `slipway --json monitor run` and returns (exit code, the first monitor's report).
fn monitor_run(project: &Path) -> (i32, Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["--json", "monitor", "run"])
        .current_dir(project)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "monitor run printed no JSON: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report["monitors"][0].clone())
}

#[test]
fn drift_on_live_traffic_opens_one_incident_deduplicated_then_cooling_down() {
    let project = project_with_live_model();
    // The baseline: x1, x2 roughly uniform on [0, 1).
    let mut baseline = String::from("x1,x2\n");
    for i in 0..2_000 {
        baseline.push_str(&format!(
            "{},{}\n",
            (i * 7919 % 2000) as f64 / 2000.0,
            (i * 104729 % 2000) as f64 / 2000.0
        ));
    }
    std::fs::write(project.path().join("baseline.csv"), baseline).unwrap();
    // A webhook nobody listens on: the failure is recorded, the incident still opens.
    std::fs::write(
        project.path().join("monitors.yaml"),
        "webhook: http://127.0.0.1:9/hook\nmonitors:\n  - name: drift\n    model: credit\n    cooldown: 1h\n    psi: {baseline: baseline.csv, window: 1h, min_rows: 200}\n",
    )
    .unwrap();
    let server = Server::start(project.path());
    let a = agent();
    let url = predict_url(&server, "credit", "default");
    let (code, report) = monitor_run(project.path());
    assert_eq!(
        (code, report["state"].as_str()),
        (0, Some("not_enough_data")),
        "{report}"
    );
    let steady: Vec<Value> = (0..400)
        .map(|i| json!({"x1": (i * 31 % 400) as f64 / 400.0, "x2": (i * 17 % 400) as f64 / 400.0}))
        .collect();
    for chunk in steady.chunks(50) {
        assert_eq!(call(&a, "POST", &url, Some(&json!({"rows": chunk}))).0, 200);
    }
    let (code, report) = monitor_run(project.path());
    assert_eq!(
        (code, report["state"].as_str()),
        (0, Some("healthy")),
        "{report}"
    );
    // Shifted traffic: x1 moves to [0.5, 1.5).
    let shifted: Vec<Value> = (0..2_000)
        .map(|i| json!({"x1": 0.5 + (i * 31 % 400) as f64 / 400.0, "x2": (i * 17 % 400) as f64 / 400.0}))
        .collect();
    for chunk in shifted.chunks(100) {
        assert_eq!(call(&a, "POST", &url, Some(&json!({"rows": chunk}))).0, 200);
    }
    // The same check ad hoc, on the live traffic.
    let adhoc = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args([
            "--json",
            "monitor",
            "psi",
            "--model",
            "credit",
            "--baseline",
            "baseline.csv",
            "--window",
            "1h",
        ])
        .current_dir(project.path())
        .output()
        .unwrap();
    assert_eq!(
        adhoc.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&adhoc.stderr)
    );
    let adhoc: Value = serde_json::from_slice(&adhoc.stdout).unwrap();
    assert_eq!(adhoc["drifted"], 1, "{adhoc}");
    let (code, report) = monitor_run(project.path());
    assert_eq!(code, 1, "a breach exits 1");
    assert_eq!(report["state"], "breach", "{report}");
    assert_eq!(report["incident"]["action"], "opened");
    assert!(
        report["notified"].as_str().unwrap().starts_with("failed"),
        "{report}"
    );
    let drifted: Vec<&str> = report["details"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "significant")
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(drifted, ["x1"]);
    let id = report["incident"]["id"].as_i64().unwrap();
    // Still drifting: the same incident, counted.
    let (_, report) = monitor_run(project.path());
    assert_eq!(report["incident"], json!({"id": id, "action": "repeated"}));
    let listed: Value = serde_json::from_str(&slipway(
        project.path(),
        &["--json", "monitor", "incidents"],
    ))
    .unwrap();
    assert_eq!(listed["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(listed["incidents"][0]["occurrences"], 2);
    // Resolved by hand while the drift goes on: the cooldown keeps it from reopening at once.
    slipway(
        project.path(),
        &[
            "monitor",
            "resolve",
            &id.to_string(),
            "--reason",
            "known campaign",
        ],
    );
    let (_, report) = monitor_run(project.path());
    assert_eq!(
        report["incident"],
        json!({"id": id, "action": "cooling_down"})
    );
    let listed: Value = serde_json::from_str(&slipway(
        project.path(),
        &["--json", "monitor", "incidents"],
    ))
    .unwrap();
    assert!(listed["incidents"].as_array().unwrap().is_empty());
    let audit = slipway(project.path(), &["--json", "audit", "log"]);
    for action in ["incident.open", "incident.notify", "incident.resolve"] {
        assert!(audit.contains(action), "{action} is in the audit chain");
    }
    drop(server);
}

/// A venv with scikit-learn and skl2onnx from PyPI (created once under the target dir).
fn sklearn_python() -> std::path::PathBuf {
    static PYTHON: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let target = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .expect("target dir")
                .to_path_buf();
            let venv = target.join("py-venv-sklearn");
            let python = venv.join("bin/python");
            let ready = || {
                std::process::Command::new(&python)
                    .args(["-c", "import sklearn, skl2onnx, onnx, numpy"])
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if !ready() {
                if !python.exists() {
                    let made = std::process::Command::new("python3")
                        .args(["-m", "venv"])
                        .arg(&venv)
                        .status()
                        .expect("python3 is installed");
                    assert!(made.success(), "python3 -m venv failed");
                }
                let installed = std::process::Command::new(venv.join("bin/pip"))
                    .args([
                        "install",
                        "--disable-pip-version-check",
                        "--quiet",
                        "scikit-learn",
                        "skl2onnx",
                        "onnx",
                        "numpy",
                    ])
                    .status()
                    .expect("pip runs");
                assert!(
                    installed.success(),
                    "pip install scikit-learn skl2onnx failed"
                );
                assert!(
                    ready(),
                    "scikit-learn/skl2onnx not importable after installing"
                );
            }
            python
        })
        .clone()
}

#[test]
fn freshly_converted_scikit_learn_models_serve_what_scikit_learn_predicts() {
    // Train and convert with today's scikit-learn and skl2onnx from PyPI, then serve.
    let python = sklearn_python();
    let out = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../slipway-serve/tests/fixtures/make_onnx_fixtures.py");
    let made = std::process::Command::new(&python)
        .arg(&script)
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("onnx_expected.json")).unwrap(),
    )
    .unwrap();
    let project = tempfile::tempdir().unwrap();
    Workspace::init(project.path()).unwrap();
    for (name, model) in [
        ("logreg", "risk"),
        ("forest", "forest"),
        ("linreg", "amount"),
    ] {
        let dir = project.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for f in [
            format!("{name}.onnx"),
            format!("{name}.onnx.signature.json"),
        ] {
            std::fs::copy(out.path().join(&f), dir.join(&f)).unwrap();
        }
        slipway(
            project.path(),
            &["models", "register", model, "--artifact", name],
        );
        slipway(
            project.path(),
            &["models", "promote", &format!("{model}@1")],
        );
    }
    let server = Server::start(project.path());
    let rows = expected_rows(&expected);
    for (name, model) in [
        ("logreg", "risk"),
        ("forest", "forest"),
        ("linreg", "amount"),
    ] {
        let (status, answer, _) = call(
            &agent(),
            "POST",
            &predict_url(&server, model, "default"),
            Some(&json!({ "rows": rows })),
        );
        assert_eq!(status, 200, "{answer}");
        let got: Vec<f64> = serde_json::from_value(answer["predictions"].clone()).unwrap();
        let want: Vec<f64> = serde_json::from_value(expected["predictions"][name].clone()).unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            let tolerance = 1e-5 * w.abs().max(1.0);
            assert!(
                (g - w).abs() <= tolerance,
                "{name}: {g} vs scikit-learn {w}"
            );
        }
    }
}

#[test]
fn an_alias_is_served_and_moving_it_swaps_the_version() {
    let project = project_with_live_model();
    let v2 = write_model(project.path(), "v2.json", 3.0);
    slipway(
        project.path(),
        &[
            "models",
            "register",
            "credit",
            "--artifact",
            v2.to_str().unwrap(),
        ],
    );
    slipway(
        project.path(),
        &["models", "alias", "credit", "challenger", "2"],
    );
    let server = Server::start(project.path());
    let url = format!("{}/v1/models/credit/aliases/challenger:predict", server.url);
    let body = json!({"rows": [{"x1": 0, "x2": 0}]});
    let (status, answer, version) = call(&agent(), "POST", &url, Some(&body));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(version.as_deref(), Some("2"));
    assert!((answer["predictions"][0].as_f64().unwrap() - sigmoid(3.0)).abs() < 1e-12);
    let (_, models, _) = call(&agent(), "GET", &format!("{}/v1/models", server.url), None);
    assert_eq!(
        models["aliases"],
        json!([{"name": "credit", "alias": "challenger", "version": "2"}])
    );
    slipway(
        project.path(),
        &["models", "alias", "credit", "challenger", "1"],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while call(&agent(), "POST", &url, Some(&body)).2.as_deref() != Some("1") {
        assert!(
            Instant::now() < deadline,
            "the alias move never reached the gateway"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, err, _) = call(
        &agent(),
        "POST",
        &format!("{}/v1/models/credit/aliases/nope:predict", server.url),
        Some(&body),
    );
    assert_eq!(status, 404);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("no alias \"nope\""),
        "{err}"
    );
}

#[test]
fn a_second_server_on_the_project_tracks_but_leaves_serving_to_the_first() {
    let project = project_with_live_model();
    let first = Server::start(project.path());
    let second = Server::start(project.path());
    let a = agent();
    let (status, _, _) = call(&a, "GET", &format!("{}/healthz", second.url), None);
    assert_eq!(status, 200);
    let (status, err, _) = call(&a, "GET", &format!("{}/v1/models", second.url), None);
    assert_eq!(status, 503);
    assert!(
        err["message"].as_str().unwrap().contains("another server"),
        "{err}"
    );
    let (status, _, _) = call(
        &a,
        "POST",
        &predict_url(&first, "credit", "default"),
        Some(&json!({"rows": [{"x1": 0, "x2": 0}]})),
    );
    assert_eq!(status, 200);
}
