//! The artifact tree as clients see it: files uploaded through the artifact proxy (the artifact
//! index) plus the outputs that pipeline runs recorded (directories expanded through their
//! manifests), under the same `<experiment>/<run>/artifacts/…` paths. One store, two doors:
//! an MLflow client lists and downloads a pipeline run's outputs like any uploaded file.
//!
//! Bytes are streamed both ways in bounded chunks, never held whole in memory.

use crate::error::ApiError;
use axum::body::{Body, Bytes};
use slipway_core::tracking::IoRole;
use slipway_core::{Digest, RelPath};
use slipway_store::Workspace;
use slipway_store::meta::MetadataStore;
use std::collections::BTreeMap;
use std::io::Read;

/// A file in the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeFile {
    /// Full path under the artifact root (`3/<run>/artifacts/model/MLmodel`).
    pub path: String,
    /// Its bytes' address.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    /// The entry's name (one path component).
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size of a file (`None` for directories).
    pub size: Option<u64>,
}

/// Validates an artifact path from the network: relative, normalised, confined (no `..`, no
/// absolute path, no backslash, no NUL or control characters, no percent-encoded sequence left
/// after decoding — so no layer below can decode it into something else). Empty means the root.
pub fn checked_path(text: &str) -> Result<String, ApiError> {
    if text.is_empty() || text == "/" {
        return Ok(String::new());
    }
    let bytes = text.as_bytes();
    if bytes
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
    {
        return Err(ApiError::InvalidParameter(format!(
            "invalid artifact path `{}`: it contains a percent-encoded sequence after decoding",
            text.escape_debug()
        )));
    }
    Ok(RelPath::new(text)?.as_str().to_string())
}

/// Every file at or under `path` (which is already checked).
pub fn files_under(
    workspace: &Workspace,
    store: &dyn MetadataStore,
    path: &str,
) -> Result<Vec<TreeFile>, ApiError> {
    let mut files: BTreeMap<String, TreeFile> = BTreeMap::new();
    for (path, file) in pipeline_outputs(workspace, store, path)? {
        files.insert(path, file);
    }
    // Uploaded files take precedence over recorded outputs at the same path.
    for f in store.artifact_files(path)? {
        files.insert(
            f.path.clone(),
            TreeFile {
                path: f.path,
                digest: f.digest,
                size: f.size,
            },
        );
    }
    Ok(files
        .into_values()
        .filter(|f| within(&f.path, path))
        .collect())
}

/// The file at exactly `path`, if any.
pub fn file_at(
    workspace: &Workspace,
    store: &dyn MetadataStore,
    path: &str,
) -> Result<Option<TreeFile>, ApiError> {
    if let Some(f) = store.artifact_file(path)? {
        return Ok(Some(TreeFile {
            path: f.path,
            digest: f.digest,
            size: f.size,
        }));
    }
    Ok(pipeline_outputs(workspace, store, path)?.remove(path))
}

/// The direct children of `dir` among `files` (all at or under `dir`).
pub fn children(files: &[TreeFile], dir: &str) -> Vec<Child> {
    let mut out: BTreeMap<String, Child> = BTreeMap::new();
    for f in files {
        let rest = if dir.is_empty() {
            f.path.as_str()
        } else {
            match f.path.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) {
                Some(rest) => rest,
                None => continue, // the file *is* `dir`: a file has no children
            }
        };
        match rest.split_once('/') {
            Some((name, _)) => {
                out.entry(name.to_string()).or_insert(Child {
                    name: name.to_string(),
                    is_dir: true,
                    size: None,
                });
            }
            None => {
                out.insert(
                    rest.to_string(),
                    Child {
                        name: rest.to_string(),
                        is_dir: false,
                        size: Some(f.size),
                    },
                );
            }
        }
    }
    out.into_values().collect()
}

fn within(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path == dir
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

/// Outputs recorded by a pipeline run, when `path` lies inside `<exp>/<run>/artifacts`.
fn pipeline_outputs(
    workspace: &Workspace,
    store: &dyn MetadataStore,
    path: &str,
) -> Result<BTreeMap<String, TreeFile>, ApiError> {
    let mut found = BTreeMap::new();
    let parts: Vec<&str> = path.splitn(4, '/').collect();
    if parts.len() < 3 || parts[2] != "artifacts" || parts[1].len() != 32 {
        return Ok(found);
    }
    let Ok(experiment) = parts[0].parse::<i64>() else {
        return Ok(found);
    };
    let run_id = parts[1];
    let details = store.run_details(&[run_id.to_string()])?;
    let Some(detail) = details.first() else {
        return Ok(found);
    };
    if detail.run.experiment_id != experiment {
        return Ok(found);
    }
    let root = format!("{experiment}/{run_id}/artifacts");
    for io in detail.io.iter().filter(|io| io.role == IoRole::Output) {
        let Ok(rel) = RelPath::new(&io.path) else {
            continue;
        };
        let base = format!("{root}/{rel}");
        if !(within(&base, path) || within(path, &base)) {
            continue;
        }
        if workspace.is_manifest(&io.digest).unwrap_or(false) {
            let manifest = workspace.manifest(&io.digest)?;
            for entry in manifest.entries() {
                let full = format!("{base}/{}", entry.path);
                found.insert(
                    full.clone(),
                    TreeFile {
                        path: full,
                        digest: entry.digest,
                        size: entry.size,
                    },
                );
            }
        } else {
            let size = std::fs::metadata(workspace.objects().object_path(&io.digest))
                .map(|m| m.len())
                .unwrap_or(0);
            found.insert(
                base.clone(),
                TreeFile {
                    path: base,
                    digest: io.digest,
                    size,
                },
            );
        }
    }
    Ok(found)
}

/// Bytes per chunk when streaming objects out.
const CHUNK: usize = 1 << 20;

/// A streamed response body with the verified bytes of an object, in one pass.
///
/// A blocking task reads 1 MiB chunks through the store's verifying reader, staying at most a
/// few chunks ahead of the socket, and always holds back the chunk it read last until the next
/// read: the final chunk is sent only after end-of-file, which the reader reports only when the
/// whole object hashed to its address. A corrupt object therefore ends in an aborted response
/// (the client sees a failed, short transfer), never in a complete one.
pub async fn object_body(
    workspace: std::sync::Arc<Workspace>,
    digest: Digest,
) -> Result<Body, ApiError> {
    let ws = std::sync::Arc::clone(&workspace);
    let reader = tokio::task::spawn_blocking(move || ws.objects().open_verifying(&digest))
        .await
        .map_err(|e| ApiError::Internal(format!("read task failed: {e}")))??;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        let mut held: Option<Bytes> = None;
        loop {
            let mut buffer = vec![0u8; CHUNK];
            let n = match read_full(&mut reader, &mut buffer) {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(%digest, error = %e, "Refusing to finish serving an object.");
                    let _ = sender.blocking_send(Err(e));
                    return;
                }
            };
            if n == 0 {
                if let Some(last) = held.take() {
                    let _ = sender.blocking_send(Ok(last));
                }
                return;
            }
            buffer.truncate(n);
            if let Some(previous) = held.replace(Bytes::from(buffer))
                && sender.blocking_send(Ok(previous)).is_err()
            {
                return; // the client went away
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Ok(Body::from_stream(stream))
}

/// Reads until `buffer` is full or the end; 0 means end-of-file (verified).
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A content type for a file name, by extension (MLflow's UI and client only need a guess).
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt" | "log" | "md" | "py" | "mlmodel") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("yaml" | "yml") => "text/yaml; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        _ if path.ends_with("MLmodel") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_paths_are_refused() {
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "/etc/passwd",
            "a\\..\\b",
            "a\0b",
            "a/%2e%2e/b",
            "%2F",
            "C:/windows",
            "a//b",
            "./a",
        ] {
            assert!(checked_path(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(checked_path("").unwrap(), "");
        assert_eq!(
            checked_path("3/abc/artifacts/a b.txt").unwrap(),
            "3/abc/artifacts/a b.txt"
        );
        assert_eq!(checked_path("50%.txt").unwrap(), "50%.txt");
    }

    #[test]
    fn children_are_direct_and_component_wise() {
        let f = |p: &str| TreeFile {
            path: p.into(),
            digest: Digest::of(p.as_bytes()),
            size: 1,
        };
        let files = [f("r/a.txt"), f("r/d/x"), f("r/d/y"), f("r/d2")];
        let names: Vec<(String, bool)> = children(&files, "r")
            .into_iter()
            .map(|c| (c.name, c.is_dir))
            .collect();
        assert_eq!(
            names,
            [
                ("a.txt".into(), false),
                ("d".into(), true),
                ("d2".into(), false)
            ]
        );
        assert!(
            children(&files[..1], "r/a.txt").is_empty(),
            "a file lists as empty"
        );
        assert!(within("r/d/x", "r/d") && !within("r/d2", "r/d"));
    }
}
