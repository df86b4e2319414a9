//! Crash safety: a put killed with SIGKILL leaves no visible partial object.

use crate::util::Project;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn killed_put_leaves_no_partial_object() {
    let p = Project::new();
    let data = pseudo_random(96 << 20, 7);
    let half = 48 << 20;
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("slipway"))
        .current_dir(p.path())
        .args(["artifacts", "put", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Feed half of a large stream, wait until the put has written it to its temp file, then kill
    // the process in the middle of the put: deterministic, no timing guesswork.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&data[..half]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let written: u64 = p
            .temp_files()
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        if written >= (half as u64) - (2 << 20) {
            break;
        }
        assert!(Instant::now() < deadline, "put never wrote its temp file");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(stdin);

    assert!(!p.temp_files().is_empty(), "the kill happened mid-put");
    let ls = p.json(&["artifacts", "ls"]);
    assert_eq!(
        ls["artifacts"].as_array().unwrap().len(),
        0,
        "nothing recorded"
    );
    let objects: usize = std::fs::read_dir(p.join(".slipway/objects"))
        .unwrap()
        .count();
    assert_eq!(objects, 0, "no partial object is visible");
    assert_eq!(p.json(&["artifacts", "verify"])["ok"], true);

    std::fs::write(p.join("big.bin"), &data).unwrap();
    let put = p.json(&["artifacts", "put", "big.bin"]);
    assert_eq!(
        put[0]["new_objects"], 1,
        "the next put of the same data succeeds"
    );
    let verify = p.json(&["artifacts", "verify"]);
    assert_eq!(verify["ok"], true);
    assert_eq!(verify["checked"], 1);
    let gc = p.json(&["gc", "--grace", "0s"]);
    assert_eq!(
        gc["temp_files"], 1,
        "gc removes the interrupted put's temp file"
    );
    assert!(p.temp_files().is_empty());
}
