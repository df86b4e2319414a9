//! The prediction log: every prediction the gateway answers (id, time, model, version, slot,
//! route, inputs, output, latency), appended off the request path to rotated segment files.
//!
//! Layout under a directory (the workspace uses `.slipway/predictions/`):
//! `000001.seg` holds frames; `000001.idx` (JSON, written when the segment is closed) holds its
//! time range, record count and a sparse index of `(time, offset)` every [`SPARSE_EVERY`]
//! records. A segment without an index is the one being written (or one a crash left): readers
//! scan it and stop at the first torn or corrupt frame.
//!
//! Frames are compact binary ([`codec`]): a *stream* frame declares (model, slot, version,
//! feature names) once per segment; each *prediction* frame refers to its stream and carries
//! the inputs as `f64`s in signature order. A prediction costs about `40 + 8 × features` bytes.
//!
//! Prediction ids are time-ordered ([`PredictionId`]): the id carries its millisecond, so a
//! lookup by id goes straight to the segments covering that time.

mod codec;
mod id;
mod reader;
mod writer;

pub use codec::{PredictionRecord, Route};
pub use id::{IdGenerator, PredictionId};
pub use reader::{PredictionReader, SegmentInfo};
pub use writer::{Batch, LogConfig, LogHandle, LogWriter, Stream};

use std::path::PathBuf;

/// One sparse-index entry per this many records.
pub const SPARSE_EVERY: u64 = 1024;

/// An error of the prediction log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file of the log could not be read or written.
    #[error("prediction log {}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A segment's index is not valid JSON of the expected shape.
    #[error("prediction log index {}: {message}", .path.display())]
    BadIndex {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The writer has stopped; the record was not accepted.
    #[error("the prediction log writer has stopped")]
    Closed,
}

fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LogError {
    let path = path.into();
    move |source| LogError::Io { path, source }
}

/// The segment file of a number.
fn segment_path(dir: &std::path::Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}.seg"))
}

/// The index file of a number.
fn index_path(dir: &std::path::Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}.idx"))
}

/// The segment numbers present in `dir`, ascending.
fn segment_numbers(dir: &std::path::Path) -> Result<Vec<u64>, LogError> {
    let mut numbers = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(numbers),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".seg")
            && let Ok(n) = stem.parse::<u64>()
        {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

#[cfg(test)]
mod tests;
