//! Helpers: a temporary project directory and a way to run the binary in it.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// A temporary directory that is (optionally) a slipway project.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// An empty directory, not initialised.
    pub fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A directory with `slipway init` done.
    pub fn new() -> Project {
        let p = Project::empty();
        p.slipway(&["init"]).assert().success();
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `slipway ARGS` with the project as working directory.
    pub fn slipway(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("slipway").expect("binary built");
        cmd.current_dir(self.dir.path()).args(args);
        cmd
    }

    /// Runs `slipway --json ARGS`, expects success, parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.slipway(&full).output().expect("runs");
        assert!(
            out.status.success(),
            "slipway {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("stdout is JSON")
    }

    /// Writes a file (creating parents) with an mtime in the past, so the stat cache trusts it.
    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(past)
            .unwrap();
    }

    /// Path of a stored object.
    pub fn object_path(&self, digest: &str) -> PathBuf {
        self.join(&format!(
            ".slipway/objects/{}/{}",
            &digest[..2],
            &digest[2..]
        ))
    }

    /// Names of leftover temp files of interrupted puts.
    pub fn temp_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.join(".slipway/tmp"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

/// Output as a string.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
