//! Every acknowledged write survives `kill -9` of the server; SIGTERM stops it gracefully.

use crate::util::{Server, agent};
use serde_json::{Value, json};
use slipway_store::Workspace;
use slipway_store::meta::MetadataStore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn post(agent: &ureq::Agent, url: &str, path: &str, body: &Value) -> Option<(u16, Value)> {
    let mut response = agent
        .post(&format!("{url}/api/2.0/mlflow/{path}"))
        .send_json(body)
        .ok()?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let project = tempfile::tempdir().unwrap();
    Workspace::init(project.path()).unwrap();
    let mut server = Server::start(project.path());
    let url = server.url.clone();
    let (status, created) = post(
        &agent(),
        &url,
        "runs/create",
        &json!({"experiment_id": "0"}),
    )
    .unwrap();
    assert_eq!(status, 200);
    let run_id = created["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();

    let acked_steps = Arc::new(Mutex::new(Vec::new()));
    let acked_params = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8u64)
        .map(|w| {
            let (url, run_id) = (url.clone(), run_id.clone());
            let (steps, params, stop) = (acked_steps.clone(), acked_params.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let step = w * 1_000_000 + i;
                    let metric = json!({"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": step});
                    match post(&agent, &url, "runs/log-metric", &metric) {
                        Some((200, _)) => steps.lock().unwrap().push(step),
                        _ => break, // the server is gone
                    }
                    if i.is_multiple_of(10) {
                        let key = format!("p{step}");
                        let param = json!({"run_id": run_id, "key": key, "value": "v"});
                        match post(&agent, &url, "runs/log-parameter", &param) {
                            Some((200, _)) => params.lock().unwrap().push(key),
                            _ => break,
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.child.kill().unwrap(); // SIGKILL: no chance to flush anything
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let steps = acked_steps.lock().unwrap().clone();
    let params = acked_params.lock().unwrap().clone();
    assert!(
        steps.len() > 50,
        "the load ran ({} writes acknowledged)",
        steps.len()
    );

    let ws = Workspace::open(project.path()).unwrap();
    ws.meta().integrity_check().unwrap();
    let stored: std::collections::HashSet<i64> = ws
        .meta()
        .metric_history(&run_id, "m")
        .unwrap()
        .iter()
        .map(|p| p.step)
        .collect();
    let lost: Vec<u64> = steps
        .iter()
        .filter(|s| !stored.contains(&(**s as i64)))
        .copied()
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged metric points lost: {:?}",
        lost.len(),
        steps.len(),
        &lost[..lost.len().min(10)]
    );
    let stored_params: std::collections::HashSet<String> = ws
        .meta()
        .params(&run_id)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        params.iter().all(|p| stored_params.contains(p)),
        "an acknowledged param was lost"
    );
}

#[test]
fn sigterm_stops_gracefully_and_refuses_open_binds() {
    let project = tempfile::tempdir().unwrap();
    Workspace::init(project.path()).unwrap();
    let mut server = Server::start(project.path());
    let (status, _) = post(&agent(), &server.url, "runs/create", &json!({})).unwrap();
    assert_eq!(status, 200);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "graceful stop exits 0: {exit:?}");

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["server", "--host", "0.0.0.0", "--port", "0"])
        .current_dir(project.path())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--insecure") && stderr.contains("without authentication"),
        "{stderr}"
    );
}

/// 64 concurrent promotions of different versions into one slot, through the server, repeated:
/// exactly one Production every time, every request answered (no 5xx), every transition in the
/// history and the audit chain intact.
#[test]
fn concurrent_promotions_through_the_server_keep_one_production() {
    let project = tempfile::tempdir().unwrap();
    Workspace::init(project.path()).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(args)
            .current_dir(project.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for i in 0..64 {
        std::fs::write(project.path().join("m.bin"), format!("model {i}")).unwrap();
        run(&["-q", "models", "register", "race", "--artifact", "m.bin"]);
    }
    let server = Server::start(project.path());
    let agent = agent();
    for round in 0..3 {
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = (1..=64)
                .map(|v| {
                    let (agent, url) = (agent.clone(), server.url.clone());
                    s.spawn(move || {
                        let body = serde_json::json!({"name": "race", "version": v.to_string(), "stage": "Production"});
                        post(&agent, &url, "model-versions/transition-stage", &body).map(|r| r.0).unwrap_or(0)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 400),
            "round {round}: {statuses:?}"
        );
        let (status, page) = get(
            &agent,
            &server.url,
            "/api/2.0/mlflow/model-versions/search?filter=name%3D%27race%27",
        )
        .unwrap();
        assert_eq!(status, 200);
        let production = page["model_versions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["current_stage"] == "Production")
            .count();
        assert_eq!(production, 1, "round {round}: exactly one Production");
    }
    drop(server);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["--json", "audit", "verify"])
        .current_dir(project.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"ok\": true"));
}

fn get(agent: &ureq::Agent, url: &str, path: &str) -> Option<(u16, Value)> {
    let mut response = agent.get(&format!("{url}{path}")).call().ok()?;
    let status = response.status().as_u16();
    let value = response.body_mut().read_json::<Value>().ok()?;
    Some((status, value))
}
