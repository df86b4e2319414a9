//! Keeping cached outputs out of git, as DVC users expect: each cached output gets a `/name`
//! line in the `.gitignore` of its directory, so the tree stays clean after a run (and the
//! next run's commit is not marked dirty by build products).

use slipway_core::RelPath;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Remembers, for one invocation, which lines each `.gitignore` already has, so that a run of
/// N stages writing into one directory reads that directory's `.gitignore` once, not N times.
#[derive(Default)]
pub struct Ignorer {
    known: Mutex<HashMap<PathBuf, HashSet<String>>>,
}

impl Ignorer {
    /// Adds `/name` for `out` to the `.gitignore` beside it, unless a line already ignores it.
    pub fn ignore(&self, root: &Path, out: &RelPath) {
        let (dir, name) = match out.as_str().rsplit_once('/') {
            Some((dir, name)) => (root.join(dir), name),
            None => (root.to_path_buf(), out.as_str()),
        };
        let file = dir.join(".gitignore");
        let line = format!("/{name}");
        let mut known = self.known.lock().expect("gitignore cache");
        let lines = known.entry(file.clone()).or_insert_with(|| {
            std::fs::read_to_string(&file)
                .unwrap_or_default()
                .lines()
                .map(|l| l.trim().trim_end_matches('/').to_string())
                .collect()
        });
        if lines.contains(&line) {
            return;
        }
        ignore(root, out);
        lines.insert(line);
    }
}

/// Adds `/name` for `out` to the `.gitignore` beside it, unless a line already ignores it.
/// Failures are logged, not fatal: ignoring outputs is a convenience.
pub fn ignore(root: &Path, out: &RelPath) {
    let (dir, name) = match out.as_str().rsplit_once('/') {
        Some((dir, name)) => (root.join(dir), name),
        None => (root.to_path_buf(), out.as_str()),
    };
    let file = dir.join(".gitignore");
    let line = format!("/{name}");
    let existing = std::fs::read_to_string(&file).unwrap_or_default();
    if existing
        .lines()
        .any(|l| l.trim() == line || l.trim() == format!("{line}/"))
    {
        return;
    }
    let result = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .and_then(|mut f| {
            if !existing.is_empty() && !existing.ends_with('\n') {
                writeln!(f)?;
            }
            writeln!(f, "{line}")
        });
    if let Err(e) = result {
        tracing::warn!(path = %file.display(), error = %e, "could not add the output to .gitignore");
    }
}
