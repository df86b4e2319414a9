//! The run cache: stage key → the outputs a run with exactly those inputs produced, so that a
//! combination of inputs seen before is restored from the object store instead of rerun (also
//! after `rm -rf` of the outputs or switching git branches back and forth).
//!
//! One small JSON file per key under `.slipway/runcache/ab/…`, replaced atomically.

use serde::{Deserialize, Serialize};
use slipway_core::pipeline::PathState;
use slipway_core::{Digest, RelPath};
use std::path::{Path, PathBuf};

/// One output as the producing run left it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedOutput {
    /// Project-relative path.
    pub path: RelPath,
    /// Digest (a manifest's for a directory).
    pub digest: Digest,
    /// Total size.
    pub size: u64,
    /// Number of files, for a directory.
    pub nfiles: Option<u64>,
}

impl CachedOutput {
    /// The state recorded in the lock file.
    pub fn state(&self) -> PathState {
        PathState {
            digest: self.digest,
            size: self.size,
            nfiles: self.nfiles,
        }
    }
}

/// What a key maps to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCacheEntry {
    /// The stage that produced it (informational: stages with the same key share entries).
    pub stage: String,
    /// The tracker run that really produced the outputs.
    pub run_id: Option<String>,
    /// The outputs, by path.
    pub outputs: Vec<CachedOutput>,
    /// When recorded, ms.
    pub created_ms: i64,
}

/// The run cache directory.
pub struct RunCache {
    dir: PathBuf,
}

impl RunCache {
    /// The run cache of a workspace (`.slipway/runcache`).
    pub fn new(state_dir: &Path) -> RunCache {
        RunCache {
            dir: state_dir.join("runcache"),
        }
    }

    fn path(&self, key: &Digest) -> PathBuf {
        let hex = key.to_hex();
        self.dir.join(&hex[..2]).join(format!("{}.json", &hex[2..]))
    }

    /// The entry for a key, if any (an unreadable entry counts as none).
    pub fn get(&self, key: &Digest) -> Option<RunCacheEntry> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Records an entry (atomically replacing an older one).
    pub fn put(&self, key: &Digest, entry: &RunCacheEntry) -> std::io::Result<()> {
        let path = self.path(key);
        let dir = path.parent().expect("entry paths have a parent");
        std::fs::create_dir_all(dir)?;
        let temp = dir.join(format!(".{}.tmp-{}", key.short(16), std::process::id()));
        std::fs::write(&temp, serde_json::to_vec(entry).expect("entries serialise"))?;
        std::fs::rename(&temp, &path)
    }

    /// Drops an entry whose outputs could not be restored (it is rewritten by the rerun).
    pub fn remove(&self, key: &Digest) {
        let _ = std::fs::remove_file(self.path(key));
    }
}
