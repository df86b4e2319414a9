//! What is on disk: the state of deps and outputs, hashed through the stat cache and memoised
//! for one invocation (many stages often read the same path).

use crate::error::PipelineError;
use slipway_core::RelPath;
use slipway_core::pipeline::{Observed, PathState, StageSpec};
use slipway_store::{HashedPath, StoreError, TreeHasher, Workspace};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Hashes project paths on demand and remembers the answers until told a path changed.
pub struct Observer<'a> {
    root: PathBuf,
    hasher: TreeHasher<'a>,
    /// Paths hashed so far, by path text (ordered, so everything under a directory is one range).
    known: Mutex<BTreeMap<String, Option<PathState>>>,
}

/// The state of a hashed path.
pub fn path_state(hashed: &HashedPath) -> PathState {
    match hashed {
        HashedPath::File { digest, size, .. } => PathState {
            digest: *digest,
            size: *size,
            nfiles: None,
        },
        HashedPath::Directory { manifest, digest } => PathState {
            digest: *digest,
            size: manifest.total_size(),
            nfiles: Some(manifest.entries().len() as u64),
        },
    }
}

impl<'a> Observer<'a> {
    /// An observer of the project at `root`, using the workspace's stat cache.
    pub fn new(ws: &'a Workspace, root: &Path) -> Observer<'a> {
        let hasher = TreeHasher::new(ws.meta());
        // One query for the whole project instead of one per path; on failure, per-path queries.
        if let Err(e) = hasher.preload(root) {
            tracing::debug!(error = %e, "stat cache not preloaded");
        }
        Observer {
            root: root.to_path_buf(),
            hasher,
            known: Mutex::new(BTreeMap::new()),
        }
    }

    /// The state of a path, or `None` if it does not exist.
    pub fn state(&self, path: &RelPath) -> Result<Option<PathState>, PipelineError> {
        if let Some(known) = self.known.lock().expect("observer lock").get(path.as_str()) {
            return Ok(*known);
        }
        let abs = self.root.join(path.as_str());
        let state = match self.hasher.hash(&abs) {
            Ok(hashed) => Some(path_state(&hashed)),
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                None
            }
            Err(e) => return Err(e.into()),
        };
        self.known
            .lock()
            .expect("observer lock")
            .insert(path.to_string(), state);
        Ok(state)
    }

    /// What a stage's deps and outputs look like now.
    pub fn observe(&self, stage: &StageSpec) -> Result<Observed, PipelineError> {
        let mut observed = Observed::default();
        for dep in &stage.deps {
            if let Some(state) = self.state(&dep.path)? {
                observed.deps.insert(dep.path.clone(), state);
            }
        }
        for out in stage.outputs() {
            if let Some(state) = self.state(&out.path)? {
                observed.outputs.insert(out.path.clone(), state.digest);
            }
        }
        Ok(observed)
    }

    /// Forgets everything known about `path`, what contains it and what is inside it.
    pub fn invalidate(&self, path: &RelPath) {
        let mut known = self.known.lock().expect("observer lock");
        // The path itself and its ancestors (a directory containing it changed too)...
        let text = path.as_str();
        known.remove(text);
        for (i, _) in text.match_indices('/') {
            known.remove(&text[..i]);
        }
        // ...and everything under it: the keys from `path/` up to `path0` ('0' follows '/').
        let inside: Vec<String> = known
            .range(format!("{text}/")..format!("{text}0"))
            .map(|(k, _)| k.clone())
            .collect();
        for key in inside {
            known.remove(&key);
        }
    }

    /// Records a path's state that the caller has just established (e.g. after storing it).
    pub fn set(&self, path: &RelPath, state: Option<PathState>) {
        self.invalidate(path);
        self.known
            .lock()
            .expect("observer lock")
            .insert(path.to_string(), state);
    }

    /// How many files were read (not answered by the stat cache) so far.
    pub fn files_read(&self) -> u64 {
        self.hasher.stats().files_read()
    }
}
