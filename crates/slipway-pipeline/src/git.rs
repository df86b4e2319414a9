//! The code version a run was built from: the git commit and whether the tree was dirty.

use std::path::Path;
use std::process::Command;

/// The state of the git work tree at the start of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitState {
    /// `HEAD`'s commit, if the project is in a git repository with a commit.
    pub commit: Option<String>,
    /// Whether tracked or untracked files differ from `HEAD` (ignoring `slipway.lock`, which
    /// records results rather than code). `None` outside a repository.
    pub dirty: Option<bool>,
}

/// Reads the git state of `root`; outside a repository (or without git) both fields are `None`.
pub fn state(root: &Path) -> GitState {
    let commit = git(root, &["rev-parse", "--verify", "-q", "HEAD"]).map(|s| s.trim().to_string());
    let Some(commit) = commit.filter(|c| !c.is_empty()) else {
        return GitState::default();
    };
    let dirty = git(
        root,
        &["status", "--porcelain", "--", ".", ":(exclude)slipway.lock"],
    )
    .map(|s| !s.trim().is_empty());
    GitState {
        commit: Some(commit),
        dirty,
    }
}

/// Whether `root` is inside a git work tree.
pub fn is_repo(root: &Path) -> bool {
    git(root, &["rev-parse", "--is-inside-work-tree"]).is_some_and(|s| s.trim() == "true")
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}
