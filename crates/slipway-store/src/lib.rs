//! Slipway's storage layer.
//!
//! - [`objects`]: the content-addressed object store (`ObjectStore` trait; local directory backend).
//! - [`hashing`]: hashing files and directories into digests and manifests, with a stat cache so
//!   unchanged files are not read again.
//! - [`meta`]: the metadata store (`MetadataStore` trait; SQLite backend) with versioned migrations.
//! - [`workspace`]: the `.slipway/` directory that holds both, and its configuration.
//! - [`registry`]: the model registry (versions, slots, approvals, gate decisions, policy,
//!   users and tokens) and the tamper-evident audit chain, on the metadata store.
//! - [`gc`]: deleting objects nothing references.
//!
//! Stores never print: they return values and typed errors, and the CLI decides how to show them.
#![deny(missing_docs)]

pub mod error;
pub mod gc;
pub mod governance;
pub mod hashing;
pub mod lineage;
pub mod meta;
pub mod objects;
pub mod predlog;
pub mod registry;
pub mod workspace;

pub use error::StoreError;
pub use hashing::{HashStats, HashedPath, TreeHasher};
pub use meta::{MetaError, MetadataStore, SqliteStore};
pub use objects::{LocalObjectStore, ObjectStore, PendingPut, PutOutcome, VerifyingReader};
pub use workspace::Workspace;

/// Milliseconds since the Unix epoch, from the system clock (the store layer may read the clock;
/// the core may not).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
