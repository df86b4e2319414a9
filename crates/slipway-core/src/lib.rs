//! Slipway's pure domain.
//!
//! Everything in this crate is deterministic computation over values: content digests, directory
//! manifests, validated relative paths, and (as later parts land) pipeline specs, registry
//! transitions, gates and monitoring math. It performs no I/O, starts no threads, reads no clock
//! and knows no wire format beyond the canonical encodings that define digests. Time, when a
//! function needs it, is passed in. This keeps the crate fast to compile and its tests fast to run,
//! and `tests/core_is_pure.rs` fails if the crate ever depends on an async runtime, a database
//! driver, an HTTP stack, a cloud SDK or a thread pool.
#![deny(missing_docs)]

pub mod artifact;
pub mod audit;
pub mod chart;
pub mod digest;
pub mod document;
pub mod gate;
pub mod manifest;
pub mod mltestscore;
pub mod model;
pub mod monitor;
pub mod pipeline;
pub mod registry;
pub mod relpath;
pub mod reports;
pub mod search;
pub mod timefmt;
pub mod tracking;

pub use artifact::{ArtifactKind, ArtifactRef};
pub use digest::{Digest, DigestParseError};
pub use manifest::{Manifest, ManifestEntry, ManifestError};
pub use relpath::{RelPath, RelPathError};
