//! The run cache: stage key → the outputs a run with exactly those inputs produced, so that a
//! combination of inputs seen before is restored from the object store instead of rerun (also
//! after `rm -rf` of the outputs or switching git branches back and forth).
//!
//! Stored as one append-only JSON-lines file, `.slipway/runcache.jsonl`.

use serde::{Deserialize, Serialize};
use slipway_core::pipeline::PathState;
use slipway_core::{Digest, RelPath};
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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

/// The run cache: an append-only file of `key → entry` records (JSON lines), read once per
/// invocation. Appending one short line per stage costs no new file (creating files is what
/// dominates per-stage time on ext4), and a torn last line from a crash is ignored.
pub struct RunCache {
    path: PathBuf,
    entries: Mutex<HashMap<Digest, RunCacheEntry>>,
}

#[derive(Serialize, Deserialize)]
struct Record {
    key: Digest,
    #[serde(flatten)]
    entry: Option<RunCacheEntry>,
}

impl RunCache {
    /// The run cache of a workspace (`.slipway/runcache.jsonl`), loaded into memory.
    pub fn open(state_dir: &Path) -> RunCache {
        let path = state_dir.join("runcache.jsonl");
        let mut entries = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for line in text.lines() {
                if let Ok(record) = serde_json::from_str::<Record>(line) {
                    match record.entry {
                        Some(entry) => entries.insert(record.key, entry),
                        None => entries.remove(&record.key),
                    };
                }
            }
        }
        RunCache {
            path,
            entries: Mutex::new(entries),
        }
    }

    /// The entry for a key, if any.
    pub fn get(&self, key: &Digest) -> Option<RunCacheEntry> {
        self.entries.lock().expect("run cache").get(key).cloned()
    }

    /// Records an entry (a later record for the same key wins).
    pub fn put(&self, key: &Digest, entry: &RunCacheEntry) -> std::io::Result<()> {
        self.append(&Record {
            key: *key,
            entry: Some(entry.clone()),
        })?;
        self.entries
            .lock()
            .expect("run cache")
            .insert(*key, entry.clone());
        Ok(())
    }

    /// Drops an entry whose outputs could not be restored (the rerun records a fresh one).
    pub fn remove(&self, key: &Digest) {
        let _ = self.append(&Record {
            key: *key,
            entry: None,
        });
        self.entries.lock().expect("run cache").remove(key);
    }

    fn append(&self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).expect("records serialise");
        line.push(b'\n');
        // One write of one line with O_APPEND: concurrent writers never interleave within it.
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stage: &str) -> RunCacheEntry {
        RunCacheEntry {
            stage: stage.into(),
            run_id: Some("r".into()),
            outputs: vec![CachedOutput {
                path: RelPath::new("out.txt").unwrap(),
                digest: Digest::of(stage.as_bytes()),
                size: 3,
                nfiles: None,
            }],
            created_ms: 1,
        }
    }

    #[test]
    fn entries_survive_reopening_and_later_records_win() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        {
            let cache = RunCache::open(dir.path());
            cache.put(&a, &entry("first")).unwrap();
            cache.put(&a, &entry("second")).unwrap();
            cache.put(&b, &entry("gone")).unwrap();
            cache.remove(&b);
        }
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join("runcache.jsonl"))
            .unwrap();
        file.write_all(b"{\"key\": \"torn").unwrap();
        let cache = RunCache::open(dir.path());
        assert_eq!(cache.get(&a).unwrap().stage, "second");
        assert!(cache.get(&b).is_none());
    }
}
