//! Every endpoint of the tracker, in process: the MLflow API, the artifact proxy, the native API,
//! health and metrics — including malformed JSON, wrong types, missing fields, huge bodies and
//! path traversal, each of which must be a clear 4xx in MLflow's error shape that writes nothing.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use slipway_core::tracking::{IoRole, MetricPoint, RunOrigin, RunStatus};
use slipway_server::{AppState, Limits, router};
use slipway_store::meta::{MetadataStore, NewRun, RunIo};
use slipway_store::{ObjectStore, Workspace};
use tower::ServiceExt;

struct Harness {
    dir: tempfile::TempDir,
    app: Router,
}

const JSON_LIMIT: usize = 64 << 10;
const ARTIFACT_LIMIT: u64 = 1 << 20;

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let (ws, _) = Workspace::init(dir.path()).unwrap();
    let (state, _writer) = AppState::open(
        ws,
        Limits {
            json_body: JSON_LIMIT,
            artifact_body: ARTIFACT_LIMIT,
        },
    )
    .unwrap();
    Harness {
        dir,
        app: router(state),
    }
}

impl Harness {
    /// A second, independent view of the project's stores, to check what was written.
    fn workspace(&self) -> Workspace {
        Workspace::open(self.dir.path()).unwrap()
    }

    async fn raw(&self, method: Method, uri: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, bytes.to_vec())
    }

    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, out) = self.raw(method, uri, bytes).await;
        let value = if out.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&out)
                .unwrap_or(Value::String(String::from_utf8_lossy(&out).into()))
        };
        (status.as_u16(), value)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, &format!("/api/2.0/mlflow/{path}"), Some(body))
            .await
    }

    async fn get(&self, path_and_query: &str) -> (u16, Value) {
        self.call(
            Method::GET,
            &format!("/api/2.0/mlflow/{path_and_query}"),
            None,
        )
        .await
    }

    async fn ok_post(&self, path: &str, body: Value) -> Value {
        let (status, out) = self.post(path, body).await;
        assert_eq!(status, 200, "{path}: {out}");
        out
    }

    async fn new_run(&self, experiment_id: &str) -> String {
        let out = self
            .ok_post(
                "runs/create",
                json!({"experiment_id": experiment_id, "start_time": 1000, "tags": [{"key": "mlflow.user", "value": "alice"}]}),
            )
            .await;
        out["run"]["info"]["run_id"].as_str().unwrap().to_string()
    }
}

fn assert_error(status: u16, body: &Value, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn experiments_lifecycle() {
    let h = harness();
    let (s, out) = h.get("experiments/get?experiment_id=0").await;
    assert_eq!(
        (s, out["experiment"]["name"].clone()),
        (200, json!("Default"))
    );
    let out = h
        .ok_post(
            "experiments/create",
            json!({"name": "exp-a", "tags": [{"key": "team", "value": "risk"}]}),
        )
        .await;
    let id = out["experiment_id"].as_str().unwrap().to_string();
    let (s, dup) = h.post("experiments/create", json!({"name": "exp-a"})).await;
    assert_error(s, &dup, 400, "RESOURCE_ALREADY_EXISTS");
    let (s, got) = h.get("experiments/get-by-name?experiment_name=exp-a").await;
    assert_eq!(s, 200);
    assert_eq!(got["experiment"]["experiment_id"], id.as_str());
    assert_eq!(
        got["experiment"]["artifact_location"],
        format!("mlflow-artifacts:/{id}")
    );
    assert_eq!(got["experiment"]["tags"][0]["value"], "risk");
    let (s, missing) = h.get("experiments/get-by-name?experiment_name=nope").await;
    assert_error(s, &missing, 404, "RESOURCE_DOES_NOT_EXIST");
    let (s, missing) = h.get("experiments/get?experiment_id=424242").await;
    assert_error(s, &missing, 404, "RESOURCE_DOES_NOT_EXIST");

    h.ok_post(
        "experiments/set-experiment-tag",
        json!({"experiment_id": id, "key": "k", "value": "v"}),
    )
    .await;
    h.ok_post(
        "experiments/update",
        json!({"experiment_id": id, "new_name": "exp-b"}),
    )
    .await;
    let (_, found) = h
        .post(
            "experiments/search",
            json!({"filter": "name LIKE 'exp-%' and tags.k = 'v'"}),
        )
        .await;
    assert_eq!(found["experiments"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["experiments"][0]["name"], "exp-b");
    h.ok_post("experiments/delete", json!({"experiment_id": id}))
        .await;
    let (_, active) = h.get("experiments/search?view_type=ACTIVE_ONLY").await;
    assert_eq!(
        active["experiments"].as_array().unwrap().len(),
        1,
        "only Default: {active}"
    );
    let (_, page) = h
        .get("experiments/search?view_type=ALL&max_results=1")
        .await;
    assert_eq!(page["experiments"].as_array().unwrap().len(), 1);
    let token = page["next_page_token"].as_str().unwrap().to_string();
    let (_, rest) = h
        .get(&format!(
            "experiments/search?view_type=ALL&max_results=1&page_token={token}"
        ))
        .await;
    assert_eq!(rest["experiments"].as_array().unwrap().len(), 1);
    assert!(rest.get("next_page_token").is_none());
    h.ok_post("experiments/restore", json!({"experiment_id": id}))
        .await;
    let (s, e) = h
        .post("experiments/delete", json!({"experiment_id": "0"}))
        .await;
    assert_error(s, &e, 400, "INVALID_PARAMETER_VALUE");
    // The ajax alias serves the same API.
    let (s, _) = h
        .call(
            Method::GET,
            "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0",
            None,
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn runs_logging_and_search() {
    let h = harness();
    let exp = h
        .ok_post("experiments/create", json!({"name": "runs"}))
        .await["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = h.new_run(&exp).await;
    let (s, got) = h.get(&format!("runs/get?run_uuid={run}")).await;
    assert_eq!(s, 200);
    let info = &got["run"]["info"];
    assert_eq!(info["run_id"], info["run_uuid"]);
    assert_eq!(info["status"], "RUNNING");
    assert_eq!(info["user_id"], "alice");
    assert_eq!(
        info["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/{run}/artifacts")
    );
    assert!(
        info["run_name"].as_str().unwrap().split('-').count() == 3,
        "generated name: {info}"
    );

    h.ok_post(
        "runs/log-metric",
        json!({"run_id": run, "key": "loss", "value": 0.5, "timestamp": 10, "step": 1}),
    )
    .await;
    h.ok_post(
        "runs/log-metric",
        json!({"run_id": run, "key": "loss", "value": "NaN", "timestamp": "11", "step": "2"}),
    )
    .await;
    h.ok_post(
        "runs/log-parameter",
        json!({"run_id": run, "key": "lr", "value": "0.1"}),
    )
    .await;
    let (s, conflict) = h
        .post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "lr", "value": "0.2"}),
        )
        .await;
    assert_error(s, &conflict, 400, "INVALID_PARAMETER_VALUE");
    h.ok_post(
        "runs/log-batch",
        json!({"run_id": run,
               "metrics": [{"key": "acc", "value": 0.9, "timestamp": 12, "step": 0}, {"key": "acc", "value": 0.95, "timestamp": 13, "step": 1}],
               "params": [{"key": "depth", "value": "3"}],
               "tags": [{"key": "team", "value": "risk"}]}),
    )
    .await;
    h.ok_post(
        "runs/set-tag",
        json!({"run_id": run, "key": "gone", "value": "soon"}),
    )
    .await;
    h.ok_post("runs/delete-tag", json!({"run_id": run, "key": "gone"}))
        .await;
    let (s, e) = h
        .post("runs/delete-tag", json!({"run_id": run, "key": "gone"}))
        .await;
    assert_error(s, &e, 404, "RESOURCE_DOES_NOT_EXIST");
    h.ok_post(
        "runs/log-inputs",
        json!({"run_id": run, "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "training"}],
               "dataset": {"name": "d", "digest": "abc", "source_type": "local", "source": "{}", "schema": "{}"}}]}),
    )
    .await;
    h.ok_post(
        "runs/outputs",
        json!({"run_id": run, "models": [{"model_id": "m-1", "step": 2}]}),
    )
    .await;
    let updated = h
        .ok_post(
            "runs/update",
            json!({"run_id": run, "status": "FINISHED", "end_time": 99, "run_name": "renamed"}),
        )
        .await;
    assert_eq!(updated["run_info"]["status"], "FINISHED");
    assert_eq!(updated["run_info"]["run_name"], "renamed");

    let (_, got) = h.get(&format!("runs/get?run_id={run}")).await;
    let data = &got["run"]["data"];
    let metric = |k: &str| {
        data["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(
        metric("loss")["value"],
        "NaN",
        "latest loss is the NaN at step 2"
    );
    assert_eq!(metric("acc")["value"], 0.95);
    assert_eq!(data["params"].as_array().unwrap().len(), 2);
    assert!(
        data["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "mlflow.runName" && t["value"] == "renamed")
    );
    assert!(
        !data["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "gone")
    );
    assert_eq!(
        got["run"]["inputs"]["dataset_inputs"][0]["dataset"]["name"],
        "d"
    );
    assert_eq!(got["run"]["outputs"]["model_outputs"][0]["model_id"], "m-1");

    let (_, hist) = h
        .get(&format!(
            "metrics/get-history?run_id={run}&metric_key=acc&max_results=1"
        ))
        .await;
    assert_eq!(hist["metrics"].as_array().unwrap().len(), 1);
    let token = hist["next_page_token"].as_str().unwrap().to_string();
    let (_, rest) = h
        .get(&format!(
            "metrics/get-history?run_id={run}&metric_key=acc&max_results=1&page_token={token}"
        ))
        .await;
    assert_eq!(rest["metrics"][0]["value"], 0.95);
    assert!(rest.get("next_page_token").is_none());

    let other = h.new_run(&exp).await;
    h.ok_post(
        "runs/log-metric",
        json!({"run_id": other, "key": "acc", "value": 0.5, "timestamp": 1}),
    )
    .await;
    let (_, found) = h
        .post("runs/search", json!({"experiment_ids": [exp], "filter": "metrics.acc > 0.6", "order_by": ["metrics.acc DESC"]}))
        .await;
    assert_eq!(found["runs"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["runs"][0]["info"]["run_id"], run.as_str());
    let (_, page) = h
        .post(
            "runs/search",
            json!({"experiment_ids": [exp], "max_results": 1, "order_by": ["metrics.acc ASC"]}),
        )
        .await;
    assert_eq!(page["runs"][0]["info"]["run_id"], other.as_str());
    assert!(page["next_page_token"].is_string());
    let (_, none) = h
        .post(
            "runs/search",
            json!({"experiment_ids": [exp], "filter": "params.lr = 'x'"}),
        )
        .await;
    assert_eq!(none, json!({}), "an empty result is an empty object");
    let (s, bad) = h
        .post(
            "runs/search",
            json!({"experiment_ids": [exp], "filter": "metrics.acc >"}),
        )
        .await;
    assert_error(s, &bad, 400, "INVALID_PARAMETER_VALUE");
    let (s, bad) = h
        .post(
            "runs/search",
            json!({"experiment_ids": [exp], "max_results": 60000}),
        )
        .await;
    assert_error(s, &bad, 400, "INVALID_PARAMETER_VALUE");

    h.ok_post("runs/delete", json!({"run_id": other})).await;
    let (s, refused) = h
        .post(
            "runs/log-metric",
            json!({"run_id": other, "key": "x", "value": 1, "timestamp": 1}),
        )
        .await;
    assert_error(s, &refused, 400, "INVALID_PARAMETER_VALUE");
    let (_, deleted) = h
        .post(
            "runs/search",
            json!({"experiment_ids": [exp], "run_view_type": "DELETED_ONLY"}),
        )
        .await;
    assert_eq!(deleted["runs"].as_array().unwrap().len(), 1);
    h.ok_post("runs/restore", json!({"run_id": other})).await;
    let (s, e) = h.get(&format!("runs/get?run_id={}", "0".repeat(32))).await;
    assert_error(s, &e, 404, "RESOURCE_DOES_NOT_EXIST");
}

#[tokio::test]
async fn logged_models() {
    let h = harness();
    let run = h.new_run("0").await;
    let (s, created) = h
        .call(
            Method::POST,
            "/api/2.0/mlflow/logged-models",
            Some(json!({"experiment_id": "0", "name": "model", "source_run_id": run, "model_type": "pyfunc",
                        "tags": [{"key": "a", "value": "1"}]})),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let info = &created["model"]["info"];
    assert_eq!(info["status"], "LOGGED_MODEL_PENDING");
    let id = info["model_id"].as_str().unwrap().to_string();
    assert_eq!(
        info["artifact_uri"],
        format!("mlflow-artifacts:/0/models/{id}/artifacts")
    );
    let base = format!("/api/2.0/mlflow/logged-models/{id}");
    let (s, done) = h
        .call(
            Method::PATCH,
            &base,
            Some(json!({"model_id": id, "status": "LOGGED_MODEL_READY"})),
        )
        .await;
    assert_eq!(
        (s, done["model"]["info"]["status"].clone()),
        (200, json!("LOGGED_MODEL_READY"))
    );
    let (s, _) = h
        .call(
            Method::PATCH,
            &format!("{base}/tags"),
            Some(json!({"tags": [{"key": "b", "value": "2"}]})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = h
        .call(Method::DELETE, &format!("{base}/tags/a"), None)
        .await;
    assert_eq!(s, 200);
    let (_, got) = h.call(Method::GET, &base, None).await;
    assert_eq!(
        got["model"]["info"]["tags"],
        json!([{"key": "b", "value": "2"}])
    );
    let (_, found) = h
        .post("logged-models/search", json!({"experiment_ids": ["0"], "filter": format!("name = 'model' AND source_run_id = '{run}'")}))
        .await;
    assert_eq!(found["models"][0]["info"]["model_id"], id.as_str());
    let (_, none) = h
        .post(
            "logged-models/search",
            json!({"experiment_ids": ["0"], "filter": "name = 'other'"}),
        )
        .await;
    assert_eq!(none, json!({}));
    let (s, bad) = h
        .call(Method::PATCH, &base, Some(json!({"status": "DONE"})))
        .await;
    assert_error(s, &bad, 400, "INVALID_PARAMETER_VALUE");
    let (s, _) = h.call(Method::DELETE, &base, None).await;
    assert_eq!(s, 200);
    let (s, e) = h
        .call(Method::GET, "/api/2.0/mlflow/logged-models/m-none", None)
        .await;
    assert_error(s, &e, 404, "RESOURCE_DOES_NOT_EXIST");
}

#[tokio::test]
async fn artifact_proxy_round_trip() {
    let h = harness();
    let run = h.new_run("0").await;
    let root = format!("/api/2.0/mlflow-artifacts/artifacts/0/{run}/artifacts");
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (s, body) = h
        .raw(
            Method::PUT,
            &format!("{root}/data/blob.bin"),
            payload.clone(),
        )
        .await;
    assert_eq!(
        (s.as_u16(), body.len()),
        (200, 0),
        "MLflow's client expects 200 with an empty body"
    );
    let (s, _) = h
        .raw(
            Method::PUT,
            &format!("{root}/notes%20one.txt"),
            b"hi".to_vec(),
        )
        .await;
    assert_eq!(s, 200);
    let (s, listing) = h
        .call(
            Method::GET,
            &format!("/api/2.0/mlflow-artifacts/artifacts?path=0/{run}/artifacts"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        listing,
        json!({"files": [{"path": "data", "is_dir": true}, {"path": "notes one.txt", "is_dir": false, "file_size": 2}]})
    );
    let (_, file_listing) = h
        .call(
            Method::GET,
            &format!("/api/2.0/mlflow-artifacts/artifacts?path=0/{run}/artifacts/data/blob.bin"),
            None,
        )
        .await;
    assert_eq!(file_listing, json!({}), "a file lists as empty");
    let (s, bytes) = h
        .raw(Method::GET, &format!("{root}/data/blob.bin"), vec![])
        .await;
    assert_eq!(s, 200);
    assert_eq!(bytes, payload);
    let (s, missing) = h.call(Method::GET, &format!("{root}/nope.txt"), None).await;
    assert_error(s, &missing, 404, "RESOURCE_DOES_NOT_EXIST");
    // Overwriting keeps the old bytes as a gc root (nothing logged is lost).
    let (s, _) = h
        .raw(
            Method::PUT,
            &format!("{root}/notes%20one.txt"),
            b"v2".to_vec(),
        )
        .await;
    assert_eq!(s, 200);
    let roots = h.workspace().meta().referenced_digests().unwrap();
    assert!(roots.contains(&slipway_core::Digest::of(b"hi")));
    let (s, _) = h.raw(Method::DELETE, &format!("{root}/data"), vec![]).await;
    assert_eq!(s, 200);
    let (s, _) = h
        .raw(Method::GET, &format!("{root}/data/blob.bin"), vec![])
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn bad_requests_are_clear_4xx_and_write_nothing() {
    let h = harness();
    let run = h.new_run("0").await;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("runs/log-metric", b"{\"run_id\": ".to_vec(), 400, "MALFORMED_REQUEST"),
        ("runs/log-metric", b"not json at all".to_vec(), 400, "MALFORMED_REQUEST"),
        ("runs/log-metric", json!({"run_id": run, "key": "m", "value": "high", "timestamp": 1}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/log-metric", json!({"run_id": run, "key": "m", "value": 1.0, "timestamp": [1]}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/log-metric", json!({"run_id": run, "key": "m", "value": 1.0}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/log-metric", json!({"key": "m", "value": 1.0, "timestamp": 1}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/log-metric", json!({"run_id": run, "key": "../m", "value": 1.0, "timestamp": 1}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/log-parameter", json!({"run_id": run, "key": "p", "value": 5}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/log-parameter", json!({"run_id": run, "key": "p", "value": "x".repeat(6001)}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/set-tag", json!({"run_id": run, "key": "t"}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/log-batch", json!({"run_id": run, "metrics": "many"}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/log-batch", json!({"run_id": run, "metrics": [{"key": "ok", "value": 1, "timestamp": 1}, {"key": "bad", "timestamp": 1}]}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/log-batch", json!({"run_id": run, "params": (0..101).map(|i| json!({"key": format!("p{i}"), "value": "v"})).collect::<Vec<_>>()}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/create", json!({"experiment_id": "424242"}).to_string().into_bytes(), 404, "RESOURCE_DOES_NOT_EXIST"),
        ("runs/create", json!({"experiment_id": {"id": 1}}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("experiments/create", json!({"name": ""}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("experiments/create", json!({"name": ["x"]}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/update", json!({"run_id": run, "status": "DONE"}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/search", json!({"experiment_ids": []}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
        ("runs/search", json!({"experiment_ids": ["0"], "page_token": "garbage!"}).to_string().into_bytes(), 400, "INVALID_PARAMETER_VALUE"),
    ];
    for (path, body, status, code) in cases {
        let (s, out) = h
            .raw(
                Method::POST,
                &format!("/api/2.0/mlflow/{path}"),
                body.clone(),
            )
            .await;
        let value: Value =
            serde_json::from_slice(&out).unwrap_or_else(|_| panic!("{path}: not JSON: {out:?}"));
        assert_error(s.as_u16(), &value, status, code);
    }
    // A huge body is refused before it is read, whether announced or not.
    let huge = json!({"run_id": run, "key": "big", "value": "x".repeat(JSON_LIMIT)}).to_string();
    let (s, out) = h
        .raw(
            Method::POST,
            "/api/2.0/mlflow/runs/set-tag",
            huge.into_bytes(),
        )
        .await;
    let value: Value = serde_json::from_slice(&out).unwrap();
    assert_error(s.as_u16(), &value, 413, "INVALID_PARAMETER_VALUE");

    let ws = h.workspace();
    let store = ws.meta();
    assert!(store.metric_history(&run, "m").unwrap().is_empty());
    assert!(
        store.metric_history(&run, "ok").unwrap().is_empty(),
        "a refused batch writes nothing"
    );
    assert!(store.params(&run).unwrap().is_empty());
    let tags = store.tags(&run).unwrap();
    assert!(
        tags.iter()
            .all(|(k, _)| k == "mlflow.runName" || k == "mlflow.user"),
        "{tags:?}"
    );
    assert_eq!(
        store.experiments().unwrap().len(),
        1,
        "no experiment was created"
    );
    assert_eq!(store.runs(0).unwrap().len(), 1, "no run was created");
    assert_eq!(store.run(&run).unwrap().status, RunStatus::Running);
}

#[tokio::test]
async fn traversal_attempts_are_refused_and_write_nothing() {
    let h = harness();
    let before = h.workspace().objects().list().unwrap().len();
    let prefix = "/api/2.0/mlflow-artifacts/artifacts";
    for path in [
        "../../etc/passwd",
        "0/run/artifacts/../../../etc/passwd",
        "%2e%2e/%2e%2e/etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "0/run/artifacts/..%5c..%5cwin.ini",
        "0/run/artifacts/a%00b",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "%252e%252e/secret",
        "0/run/artifacts/.%2e/x",
        "0/run/artifacts/a/./b",
        "C:%5cwindows",
    ] {
        for method in [Method::PUT, Method::GET, Method::DELETE] {
            let (s, out) = h
                .raw(
                    method.clone(),
                    &format!("{prefix}/{path}"),
                    b"owned".to_vec(),
                )
                .await;
            let value: Value = serde_json::from_slice(&out).unwrap_or_else(|_| {
                panic!(
                    "{method} {path}: not JSON: {}",
                    String::from_utf8_lossy(&out)
                )
            });
            assert!(
                s.is_client_error() && value["error_code"].is_string(),
                "{method} {path}: {s} {value}"
            );
        }
        let (s, out) = h
            .call(Method::GET, &format!("{prefix}?path={path}"), None)
            .await;
        assert!(
            s == 400 && out["error_code"] == "INVALID_PARAMETER_VALUE",
            "list {path}: {s} {out}"
        );
    }
    let ws = h.workspace();
    assert!(
        ws.meta().artifact_files("").unwrap().is_empty(),
        "nothing indexed"
    );
    assert_eq!(
        ws.objects().list().unwrap().len(),
        before,
        "no object stored"
    );
    assert!(!h.dir.path().join("etc").exists());
}

#[tokio::test]
async fn oversized_artifact_upload_is_refused_and_nothing_is_stored() {
    let h = harness();
    let before = h.workspace().objects().list().unwrap().len();
    let big = vec![7u8; ARTIFACT_LIMIT as usize + 1];
    let (s, out) = h
        .raw(
            Method::PUT,
            "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/big.bin",
            big,
        )
        .await;
    let value: Value = serde_json::from_slice(&out).unwrap();
    assert_error(s.as_u16(), &value, 413, "INVALID_PARAMETER_VALUE");
    let ws = h.workspace();
    assert_eq!(ws.objects().list().unwrap().len(), before);
    assert!(ws.meta().artifact_files("").unwrap().is_empty());
    let leftovers = std::fs::read_dir(ws.objects().tmp_dir()).unwrap().count();
    assert_eq!(leftovers, 0, "the temp file of the refused upload is gone");
}

#[tokio::test]
async fn unknown_endpoints_health_and_metrics() {
    let h = harness();
    let (s, out) = h
        .call(Method::GET, "/api/2.0/mlflow/registered-models/nope", None)
        .await;
    assert_error(s, &out, 404, "ENDPOINT_NOT_FOUND");
    let (s, out) = h
        .call(Method::GET, "/api/2.0/mlflow/runs/create", None)
        .await;
    assert_error(s, &out, 405, "ENDPOINT_NOT_FOUND");
    let (s, body) = h.raw(Method::GET, "/healthz", vec![]).await;
    assert_eq!((s.as_u16(), body), (200, b"ok".to_vec()));
    let (s, body) = h.raw(Method::GET, "/health", vec![]).await;
    assert_eq!((s.as_u16(), body), (200, b"OK".to_vec()));
    let (s, info) = h
        .call(Method::GET, "/api/3.0/mlflow/server-info", None)
        .await;
    assert_eq!(
        (s, info["multipart_uploads_enabled"].clone()),
        (200, json!(false))
    );
    let run = h.new_run("0").await;
    h.get(&format!("runs/get?run_id={run}")).await;
    let (_, text) = h.raw(Method::GET, "/metrics", vec![]).await;
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(r#"slipway_http_requests_total{method="GET",route="/api/2.0/mlflow/runs/get",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains("slipway_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(!text.contains(&run), "no run id may become a label");
}

/// The checked-in OpenAPI document and the router agree: same (method, path) set, the document
/// served is the file, and every documented route is actually answered.
#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let h = harness();
    let doc: Value = serde_json::from_str(slipway_server::api::OPENAPI).unwrap();
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_lowercase(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut routed: Vec<(String, String)> = slipway_server::api::table()
        .into_iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    routed.sort();
    assert_eq!(
        documented, routed,
        "crates/slipway-server/openapi.json and api::table() disagree; update the document with the routes"
    );
    let (s, served) = h.raw(Method::GET, "/api/v1/openapi.json", vec![]).await;
    assert_eq!(s, 200);
    assert_eq!(served, slipway_server::api::OPENAPI.as_bytes());
    for (method, path) in &documented {
        let uri = path
            .replace("{experiment}", "0")
            .replace("{run_id}", &"0".repeat(32))
            .replace("{digest}", &"0".repeat(64));
        let m: Method = method.to_uppercase().parse().unwrap();
        let (s, out) = h.call(m, &uri, None).await;
        assert!(
            s != 405 && out["error_code"] != "ENDPOINT_NOT_FOUND",
            "{method} {path} is documented but not served: {s} {out}"
        );
    }
}

#[tokio::test]
async fn native_api_shows_pipeline_and_adhoc_runs() {
    let h = harness();
    // A pipeline run recorded through the store, as `slipway run` does.
    let ws = h.workspace();
    let store = ws.meta();
    let data_dir = h.dir.path().join("data");
    std::fs::create_dir_all(data_dir.join("raw")).unwrap();
    std::fs::write(data_dir.join("raw/a.csv"), b"x,y\n1,2\n").unwrap();
    let stored = ws.store_path(&data_dir, None, 1).unwrap();
    let model = ws.objects().put_bytes(b"{\"w\": 1}").unwrap();
    let exp = store.create_experiment("pipe", 1).unwrap();
    let make = |name: &str| {
        store
            .create_run(&NewRun {
                experiment_id: exp.id,
                name: name.into(),
                origin: RunOrigin::Pipeline,
                status: RunStatus::Running,
                start_ms: 5,
                user: "ci".into(),
                git_commit: Some("0123abcd".into()),
                git_dirty: Some(true),
            })
            .unwrap()
    };
    let prepare = make("prepare");
    store
        .add_run_io(
            &prepare.id,
            &[RunIo {
                digest: stored.artifact.digest,
                role: IoRole::Output,
                path: "data".into(),
            }],
        )
        .unwrap();
    let train = make("train");
    store
        .add_run_io(
            &train.id,
            &[
                RunIo {
                    digest: stored.artifact.digest,
                    role: IoRole::Input,
                    path: "data".into(),
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
        .log_params(&train.id, &[("lr".into(), "0.1".into())])
        .unwrap();
    store
        .log_metrics(
            &train.id,
            &[MetricPoint {
                key: "acc".into(),
                value: 0.9,
                timestamp_ms: 1,
                step: 0,
            }],
        )
        .unwrap();
    store.finish_run(&train.id, RunStatus::Finished, 9).unwrap();
    let adhoc = h.new_run(&exp.id.to_string()).await;
    h.ok_post("runs/log-batch", json!({"run_id": adhoc, "metrics": [{"key": "acc", "value": 0.8, "timestamp": 1}], "params": [{"key": "lr", "value": "0.2"}]}))
        .await;

    let (s, page) = h.call(Method::GET, "/api/v1/runs?experiment=pipe&filter=metrics.acc%20%3E%200.5&order_by=metrics.acc%20DESC", None).await;
    assert_eq!(s, 200, "{page}");
    let ids: Vec<&str> = page["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [train.id.as_str(), adhoc.as_str()]);
    let (_, run) = h
        .call(Method::GET, &format!("/api/v1/runs/{}", train.id), None)
        .await;
    assert_eq!(run["git_commit"], "0123abcd");
    assert_eq!(run["git_dirty"], true);
    assert_eq!(run["origin"], "pipeline");
    assert_eq!(run["inputs"][0]["digest"], stored.artifact.digest.to_hex());
    assert_eq!(run["artifacts"][0]["path"], "model.json");
    let (_, files) = h
        .call(
            Method::GET,
            &format!("/api/v1/runs/{}/artifacts", prepare.id),
            None,
        )
        .await;
    assert_eq!(
        files[0]["path"], "data/raw/a.csv",
        "directory outputs are expanded: {files}"
    );
    let (_, lineage) = h
        .call(
            Method::GET,
            &format!("/api/v1/runs/{}/lineage", train.id),
            None,
        )
        .await;
    assert_eq!(lineage["upstream"], json!([prepare.id]));
    let (_, cmp) = h
        .call(
            Method::GET,
            &format!("/api/v1/runs/compare?run={}&run={adhoc}", train.id),
            None,
        )
        .await;
    assert_eq!(
        cmp["params"],
        json!([{"key": "lr", "values": ["0.1", "0.2"]}])
    );
    let delta = cmp["metrics"][0]["deltas"][1].as_f64().unwrap();
    assert!((delta + 0.1).abs() < 1e-9, "{cmp}");
    let (_, history) = h
        .call(
            Method::GET,
            &format!("/api/v1/runs/{}/metrics?key=acc", train.id),
            None,
        )
        .await;
    assert_eq!(history[0]["value"], 0.9);
    let (s, bytes) = h
        .raw(
            Method::GET,
            &format!("/api/v1/objects/{}", model.digest),
            vec![],
        )
        .await;
    assert_eq!((s.as_u16(), bytes), (200, b"{\"w\": 1}".to_vec()));
    let (s, _) = h
        .call(Method::GET, "/api/v1/runs/compare?run=only-one", None)
        .await;
    assert_eq!(s, 400);
    let (_, exps) = h.call(Method::GET, "/api/v1/experiments/pipe", None).await;
    assert_eq!(exps["id"], exp.id);

    // MLflow's door shows the same pipeline run, with its outputs as artifacts.
    let (_, mlrun) = h.get(&format!("runs/get?run_id={}", train.id)).await;
    let tags = mlrun["run"]["data"]["tags"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["key"] == "mlflow.source.git.commit" && t["value"] == "0123abcd")
    );
    let (_, listing) = h
        .call(
            Method::GET,
            &format!(
                "/api/2.0/mlflow-artifacts/artifacts?path={}/{}/artifacts",
                exp.id, prepare.id
            ),
            None,
        )
        .await;
    assert_eq!(
        listing,
        json!({"files": [{"path": "data", "is_dir": true}]})
    );
    let (s, bytes) = h
        .raw(
            Method::GET,
            &format!(
                "/api/2.0/mlflow-artifacts/artifacts/{}/{}/artifacts/data/raw/a.csv",
                exp.id, prepare.id
            ),
            vec![],
        )
        .await;
    assert_eq!((s.as_u16(), bytes), (200, b"x,y\n1,2\n".to_vec()));
}

#[tokio::test]
async fn corrupt_artifact_is_never_served_whole() {
    use std::os::unix::fs::PermissionsExt;
    let h = harness();
    let run = h.new_run("0").await;
    let uri = format!("/api/2.0/mlflow-artifacts/artifacts/0/{run}/artifacts/data.bin");
    let payload = vec![42u8; 1_000_000];
    let (s, _) = h.raw(Method::PUT, &uri, payload.clone()).await;
    assert_eq!(s, 200);
    let (_, intact) = h.raw(Method::GET, &uri, vec![]).await;
    assert_eq!(intact, payload);
    let ws = h.workspace();
    let path = ws
        .objects()
        .object_path(&slipway_core::Digest::of(&payload));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[999_990] ^= 0xff; // damage the end
    std::fs::write(&path, bytes).unwrap();
    let request = Request::builder().uri(&uri).body(Body::empty()).unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    assert!(
        body.is_err(),
        "a corrupt object must end in an aborted body, not a complete one"
    );
}
