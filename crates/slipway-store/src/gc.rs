//! Garbage collection: delete objects that nothing references.
//!
//! Roots are every digest the metadata store references (run inputs and outputs, named refs,
//! and what later parts add, such as model versions) plus every digest written in the project's
//! `slipway.lock`. A root that is a directory manifest keeps all of its files. Objects younger
//! than the grace period are kept, so a pipeline that has stored outputs but not yet recorded
//! them is never raced. If a root manifest cannot be read, gc stops without deleting anything.

use crate::error::Result;
use crate::meta::MetadataStore;
use crate::objects::ObjectStore;
use crate::workspace::Workspace;
use slipway_core::Digest;
use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

/// What gc found, and did (or would do, in a dry run).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Objects kept because something references them.
    pub kept: usize,
    /// Unreferenced objects kept because they are younger than the grace period.
    pub kept_recent: usize,
    /// Unreferenced objects deleted (or to delete), with their sizes.
    pub deleted: Vec<(Digest, u64)>,
    /// Leftover temp files of interrupted puts removed (or to remove).
    pub temp_files: usize,
    /// Whether this was a dry run (nothing deleted).
    pub dry_run: bool,
}

impl GcReport {
    /// Total bytes freed (or that would be freed).
    pub fn bytes_freed(&self) -> u64 {
        self.deleted.iter().map(|d| d.1).sum()
    }
}

/// The name of the pipeline lock file in the project root.
pub const LOCK_FILE: &str = "slipway.lock";

/// Every digest gc must keep: metadata references, lock-file digests, and manifest contents.
pub fn live_digests(ws: &Workspace) -> Result<BTreeSet<Digest>> {
    let mut roots = ws.meta().referenced_digests()?;
    let lock = ws.root().join(LOCK_FILE);
    if let Ok(text) = fs::read_to_string(&lock) {
        roots.extend(digests_in_text(&text));
    }
    let mut live = roots.clone();
    for root in &roots {
        if ws.objects().has(root)? && ws.is_manifest(root)? {
            for entry in ws.manifest(root)?.entries() {
                live.insert(entry.digest);
            }
        }
    }
    Ok(live)
}

/// Finds every 64-hex-character token in a text (the lock file's digests), whatever its layout.
pub fn digests_in_text(text: &str) -> Vec<Digest> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|token| token.len() == 64)
        .filter_map(|token| token.parse().ok())
        .collect()
}

/// Deletes unreferenced objects older than `grace` (or only reports them, with `dry_run`).
pub fn collect(ws: &Workspace, dry_run: bool, grace: Duration) -> Result<GcReport> {
    let live = live_digests(ws)?;
    let cutoff = crate::now_ms() - grace.as_millis() as i64;
    let mut report = GcReport {
        dry_run,
        ..GcReport::default()
    };
    for object in ws.objects().list()? {
        if live.contains(&object.digest) {
            report.kept += 1;
        } else if object.modified_ms > cutoff {
            report.kept_recent += 1;
        } else {
            report.deleted.push((object.digest, object.size));
        }
    }
    let tmp = ws.objects().tmp_dir();
    if let Ok(entries) = fs::read_dir(tmp) {
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .map(|m| crate::objects::modified_ms(&m) <= cutoff)
                .unwrap_or(false);
            if old {
                report.temp_files += 1;
                if !dry_run {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
    if !dry_run {
        for (digest, _) in &report.deleted {
            ws.objects().delete(digest)?;
        }
        let gone: Vec<Digest> = report.deleted.iter().map(|d| d.0).collect();
        ws.meta().forget_artifacts(&gone)?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{NewRun, RunIo};
    use slipway_core::tracking::{IoRole, RunOrigin, RunStatus};

    #[test]
    fn keeps_referenced_and_manifest_children_deletes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, _) = Workspace::init(dir.path()).unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("a"), b"kept by manifest").unwrap();
        let tree = ws.store_path(&data, None, 0).unwrap();
        let orphan = ws.objects().put_bytes(b"orphan").unwrap();
        let in_lock = ws.objects().put_bytes(b"in lock").unwrap();
        fs::write(
            dir.path().join(LOCK_FILE),
            format!("outs:\n- digest: {}\n", in_lock.digest),
        )
        .unwrap();
        let exp = ws.meta().create_experiment("e", 0).unwrap();
        let run = ws
            .meta()
            .create_run(&NewRun {
                experiment_id: exp.id,
                name: "r".into(),
                origin: RunOrigin::Pipeline,
                status: RunStatus::Running,
                start_ms: 0,
                user: "u".into(),
                git_commit: None,
                git_dirty: None,
            })
            .unwrap();
        ws.meta()
            .add_run_io(
                &run.id,
                &[RunIo {
                    digest: tree.artifact.digest,
                    role: IoRole::Output,
                    path: "data".into(),
                }],
            )
            .unwrap();

        let dry = collect(&ws, true, Duration::ZERO).unwrap();
        assert_eq!(
            dry.deleted.iter().map(|d| d.0).collect::<Vec<_>>(),
            vec![orphan.digest]
        );
        assert!(
            ws.objects().has(&orphan.digest).unwrap(),
            "dry run deletes nothing"
        );

        let recent = collect(&ws, false, Duration::from_secs(3600)).unwrap();
        assert!(recent.deleted.is_empty());
        assert_eq!(recent.kept_recent, 1);

        let real = collect(&ws, false, Duration::ZERO).unwrap();
        assert_eq!(real.deleted.len(), 1);
        assert_eq!(real.kept, 3, "manifest, its file and the lock-file object");
        assert!(!ws.objects().has(&orphan.digest).unwrap());
        ws.restore(&tree.artifact.digest, &dir.path().join("again"))
            .unwrap();
    }
}
