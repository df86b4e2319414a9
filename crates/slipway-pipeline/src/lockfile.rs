//! `slipway.lock` on disk, with a journal so that a crash loses at most the running stages
//! while the cost per stage stays constant.
//!
//! Each finished stage's entry is appended to `.slipway/lock.journal` (one record, fsynced).
//! At the end of a run the lock file is rewritten once, atomically, and the journal removed.
//! Readers (`run`, `status`) fold a leftover journal into the lock they read, ignoring a torn
//! last record.

use crate::error::PipelineError;
use slipway_core::pipeline::{LOCK_SCHEMA, LockEntry, LockFile, entry_yaml};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock file's name in the project root.
pub const LOCK_FILE: &str = "slipway.lock";
const JOURNAL_FILE: &str = "lock.journal";
const RECORD_MARK: &str = "# slipway-lock-journal-record\n";

/// Reads the lock file and any journal a crashed run left behind.
pub fn read(root: &Path, state_dir: &Path) -> Result<LockFile, PipelineError> {
    let path = root.join(LOCK_FILE);
    let mut lock = match std::fs::read_to_string(&path) {
        Ok(text) => LockFile::parse(LOCK_FILE, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => LockFile::new(),
        Err(e) => return Err(PipelineError::io("read", path, e)),
    };
    let journal = state_dir.join(JOURNAL_FILE);
    if let Ok(text) = std::fs::read_to_string(&journal) {
        for record in text.split(RECORD_MARK).filter(|r| !r.trim().is_empty()) {
            let doc = format!("schema: {LOCK_SCHEMA}\nstages:\n{record}");
            // A record that does not parse is the torn tail of a crash: it never finished.
            if let Ok(parsed) = LockFile::parse(JOURNAL_FILE, &doc) {
                for (name, entry) in parsed.stages {
                    lock.record(&name, entry);
                }
            }
        }
    }
    Ok(lock)
}

/// Appends finished stages to the journal and writes the lock file at the end.
pub struct LockWriter {
    root: PathBuf,
    journal_path: PathBuf,
    journal: Option<std::sync::Arc<File>>,
    lock: LockFile,
}

impl LockWriter {
    /// Starts from the lock as read (journal folded in).
    pub fn new(root: &Path, state_dir: &Path, lock: LockFile) -> LockWriter {
        LockWriter {
            root: root.to_path_buf(),
            journal_path: state_dir.join(JOURNAL_FILE),
            journal: None,
            lock,
        }
    }

    /// The entries so far.
    pub fn lock(&self) -> &LockFile {
        &self.lock
    }

    /// Records a finished stage (journal append). The returned handle must be synced (see
    /// [`sync`]) before the stage counts as recorded; syncing outside the writer's lock lets
    /// parallel stages share the wait.
    pub fn record(
        &mut self,
        stage: &str,
        entry: LockEntry,
    ) -> Result<std::sync::Arc<File>, PipelineError> {
        let mut text = String::from(RECORD_MARK);
        text.push_str(&entry_yaml(stage, &entry));
        if self.journal.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.journal_path)
                .map_err(|e| PipelineError::io("open", &self.journal_path, e))?;
            self.journal = Some(std::sync::Arc::new(file));
        }
        let journal = self.journal.as_ref().expect("journal opened above");
        (&**journal)
            .write_all(text.as_bytes())
            .map_err(|e| PipelineError::io("append to", &self.journal_path, e))?;
        self.lock.record(stage, entry);
        Ok(std::sync::Arc::clone(journal))
    }

    /// The journal's path (for error messages).
    pub fn journal_path(&self) -> &Path {
        &self.journal_path
    }

    /// Writes `slipway.lock` atomically (keeping only `keep` stages) and removes the journal.
    pub fn finish(mut self, keep: impl Fn(&str) -> bool) -> Result<(), PipelineError> {
        self.lock.retain_stages(keep);
        let path = self.root.join(LOCK_FILE);
        let text = self.lock.to_yaml();
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == text);
        if !unchanged {
            let temp = self.root.join(format!(".{LOCK_FILE}.tmp"));
            let write = || -> std::io::Result<()> {
                let mut file = File::create(&temp)?;
                file.write_all(text.as_bytes())?;
                file.sync_all()?;
                std::fs::rename(&temp, &path)
            };
            write().map_err(|e| PipelineError::io("write", &path, e))?;
        }
        drop(self.journal.take());
        match std::fs::remove_file(&self.journal_path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PipelineError::io("remove", &self.journal_path, e)),
        }
    }
}

/// Makes a recorded entry durable.
pub fn sync(journal: &File, path: &Path) -> Result<(), PipelineError> {
    journal
        .sync_data()
        .map_err(|e| PipelineError::io("fsync", path, e))
}
