//! Errors of the object store, hashing, workspace and garbage collection. Each names the path or
//! digest at fault and, where there is one, what to do about it.

use slipway_core::Digest;
use std::io;
use std::path::PathBuf;

/// An error from the object store, the tree hasher, the workspace or gc.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No `.slipway/` directory was found.
    #[error("not a slipway project: no .slipway/ directory in {} or any parent; run `slipway init` there first", .start.display())]
    NotInitialized {
        /// Where the search started.
        start: PathBuf,
    },
    /// An I/O operation on a path failed.
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        /// What was being done (`read`, `create`, `rename`, ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The disk filled up while writing.
    #[error("no space left on device while writing {}; free some space (e.g. `slipway gc`) and retry — nothing was stored", .path.display())]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// A stored object's bytes do not hash to its address.
    #[error(
        "object {digest} is corrupt: its bytes hash to {actual}; it was not used. Restore it with `slipway pull` or re-add the original (`slipway artifacts put`), then run `slipway artifacts verify`"
    )]
    Corrupt {
        /// The address of the object.
        digest: Digest,
        /// What the bytes actually hash to.
        actual: Digest,
    },
    /// The object is not in the store.
    #[error("object {0} is not in the store")]
    Missing(Digest),
    /// A symlink was found where only files and directories are stored.
    #[error("{} is a symbolic link; slipway stores regular files and directories only (copy the target instead)", .0.display())]
    Symlink(PathBuf),
    /// A path is neither a regular file nor a directory.
    #[error("{} is not a regular file or directory", .0.display())]
    NotAFileOrDir(PathBuf),
    /// A manifest object could not be parsed.
    #[error("object {digest} is not a valid directory manifest: {source}")]
    BadManifest {
        /// The manifest's address.
        digest: Digest,
        /// Why it is invalid.
        #[source]
        source: slipway_core::ManifestError,
    },
    /// A path inside a directory is not representable (non-UTF-8 or otherwise invalid).
    #[error("{}: {reason}", .path.display())]
    BadPath {
        /// The offending path.
        path: PathBuf,
        /// Why it cannot be stored.
        reason: String,
    },
    /// The workspace configuration is invalid.
    #[error("{}: {reason}", .path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// An error from the metadata store.
    #[error(transparent)]
    Meta(#[from] crate::meta::MetaError),
}

impl StoreError {
    /// Wraps an I/O error with the operation and path, turning "no space left" into [`StoreError::DiskFull`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> StoreError {
        let path = path.into();
        if source.raw_os_error() == Some(28) || source.kind() == io::ErrorKind::StorageFull {
            return StoreError::DiskFull { path };
        }
        StoreError::Io { op, path, source }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
