//! The demo's live part: a `slipway server` child process (the gateway), client traffic built
//! from the example's generator, and a one-shot webhook receiver that stands in for an alerting
//! system.

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The running server.
pub struct Gateway {
    child: Child,
    /// Its base URL.
    pub url: String,
}

impl Gateway {
    /// Starts `slipway server --port 0` in `root` and waits for its address.
    pub fn start(exe: &Path, root: &Path) -> Result<Gateway> {
        let mut child = Command::new(exe)
            .args(["server", "--port", "0"])
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start slipway server")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, url)) = line.split_once("listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => Ok(Gateway { child, url }),
            Err(_) => {
                let _ = child.kill();
                bail!("slipway server did not start within 60 s")
            }
        }
    }

    /// SIGTERM and wait: a clean stop flushes the prediction log.
    pub fn stop(mut self) -> Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("cannot signal the server")?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Request rows from the example's CSV: the model's inputs only (no id, region or label).
pub fn rows(csv: &str) -> Vec<Value> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    lines
        .map(|line| {
            Value::Object(
                header
                    .iter()
                    .zip(line.split(','))
                    .filter(|(h, _)| !matches!(**h, "applicant_id" | "region" | "default"))
                    .filter_map(|(h, v)| Some((h.to_string(), json!(v.parse::<f64>().ok()?))))
                    .collect(),
            )
        })
        .collect()
}

/// Sends `rows` to a slot in requests of `batch` rows; returns the versions that answered.
pub fn send(url: &str, token: &str, rows: &[Value], batch: usize) -> Result<Vec<String>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut versions = Vec::new();
    for chunk in rows.chunks(batch.max(1)) {
        let mut response = agent
            .post(url)
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(json!({ "rows": chunk }))
            .with_context(|| format!("POST {url}"))?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string()?;
        if status != 200 {
            bail!("POST {url} answered {status}: {body}");
        }
        let answer: Value = serde_json::from_str(&body)?;
        let v = answer["version"].as_str().unwrap_or("?").to_string();
        if versions.last() != Some(&v) {
            versions.push(v);
        }
    }
    Ok(versions)
}

/// Listens on a free loopback port for one webhook POST; the handle yields its JSON body.
pub fn webhook_receiver() -> Result<(String, std::thread::JoinHandle<Option<Value>>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hooks/ml-incidents", listener.local_addr()?);
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).ok()?;
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        serde_json::from_slice(&body).ok()
    });
    Ok((url, handle))
}
