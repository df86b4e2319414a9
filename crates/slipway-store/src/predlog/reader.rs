//! Reading the log back: by time range (segments outside the range are skipped by their index)
//! and by id (the id's millisecond picks the segments, the sparse index the starting offset).

use super::codec::{Decoded, PredictionRecord, StreamDecl, decode, split_frame};
use super::{
    LogError, PredictionId, codec::HEADER, codec::MAX_PAYLOAD, index_path, io, segment_numbers,
    segment_path,
};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How far records of one segment may be out of time order (requests finish in any order).
const DISORDER_MS: i64 = 10_000;

/// A stream declared in a segment, as its index lists it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct IndexedStream {
    pub id: u32,
    pub model: String,
    pub slot: String,
    pub version: u64,
    pub features: Vec<String>,
}

/// A closed segment's index (`NNNNNN.idx`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct IndexFile {
    pub segment: u64,
    pub count: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub bytes: u64,
    /// `(time ms, offset)` of every `SPARSE_EVERY`-th record.
    pub sparse: Vec<(i64, u64)>,
    pub streams: Vec<IndexedStream>,
}

impl IndexFile {
    pub(crate) fn empty(segment: u64) -> IndexFile {
        IndexFile {
            segment,
            count: 0,
            first_ms: None,
            last_ms: None,
            bytes: 0,
            sparse: Vec::new(),
            streams: Vec::new(),
        }
    }

    /// Counts one record at `ms`.
    pub(crate) fn note(&mut self, ms: i64) {
        self.count += 1;
        self.first_ms = Some(self.first_ms.map_or(ms, |f| f.min(ms)));
        self.last_ms = Some(self.last_ms.map_or(ms, |l| l.max(ms)));
    }
}

/// What a segment holds.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentInfo {
    /// Its number.
    pub number: u64,
    /// Records in it.
    pub count: u64,
    /// Earliest and latest record time, ms.
    pub first_ms: Option<i64>,
    /// See `first_ms`.
    pub last_ms: Option<i64>,
    /// Size in bytes.
    pub bytes: u64,
    /// Whether it is closed (has an index); the open one is being written.
    pub closed: bool,
}

/// Reads a prediction log directory; safe to use while a writer appends.
pub struct PredictionReader {
    dir: PathBuf,
}

impl PredictionReader {
    /// A reader of the log in `dir` (which may not exist yet: then the log is empty).
    pub fn new(dir: &Path) -> PredictionReader {
        PredictionReader {
            dir: dir.to_path_buf(),
        }
    }

    /// The segments, oldest first. The open segment's numbers come from scanning it.
    pub fn segments(&self) -> Result<Vec<SegmentInfo>, LogError> {
        segment_numbers(&self.dir)?
            .into_iter()
            .map(|n| {
                let (index, closed) = self.index(n)?;
                Ok(SegmentInfo {
                    number: n,
                    count: index.count,
                    first_ms: index.first_ms,
                    last_ms: index.last_ms,
                    bytes: index.bytes,
                    closed,
                })
            })
            .collect()
    }

    fn index(&self, n: u64) -> Result<(IndexFile, bool), LogError> {
        let path = index_path(&self.dir, n);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let index = serde_json::from_slice(&bytes).map_err(|e| LogError::BadIndex {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                Ok((index, true))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok((scan_segment(&segment_path(&self.dir, n), n, false)?, false))
            }
            Err(e) => Err(io(path)(e)),
        }
    }

    /// Calls `f` with every record whose time is in `[from_ms, to_ms)` (unbounded where
    /// `None`), segment by segment in log order. `f` returns `false` to stop early.
    pub fn scan(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        mut f: impl FnMut(PredictionRecord) -> bool,
    ) -> Result<(), LogError> {
        let in_range = |ms: i64| from_ms.is_none_or(|a| ms >= a) && to_ms.is_none_or(|b| ms < b);
        for n in segment_numbers(&self.dir)? {
            let (index, closed) = match std::fs::metadata(index_path(&self.dir, n)) {
                Ok(_) => {
                    let (index, _) = self.index(n)?;
                    (Some(index), true)
                }
                Err(_) => (None, false),
            };
            let mut start = 0;
            let mut streams = HashMap::new();
            if let Some(index) = &index {
                let (Some(first), Some(last)) = (index.first_ms, index.last_ms) else {
                    continue;
                };
                if from_ms.is_some_and(|a| last < a) || to_ms.is_some_and(|b| first >= b) {
                    continue;
                }
                start = start_offset(index, from_ms);
                streams = declared(index);
            }
            let mut go_on = true;
            let scanned = for_each_frame(&segment_path(&self.dir, n), start, |decoded, _| {
                match decoded {
                    Decoded::Stream(id, decl) => {
                        streams.insert(id, decl);
                    }
                    Decoded::Prediction {
                        stream,
                        id,
                        latency_us,
                        route,
                        output,
                        inputs,
                    } => {
                        let ms = id.time_ms();
                        if closed && to_ms.is_some_and(|b| ms >= b + DISORDER_MS) {
                            return false;
                        }
                        if in_range(ms)
                            && let Some(decl) = streams.get(&stream)
                        {
                            go_on = f(PredictionRecord {
                                id,
                                model: decl.model.clone(),
                                slot: decl.slot.clone(),
                                version: decl.version,
                                route,
                                features: Arc::clone(&decl.features),
                                inputs,
                                output,
                                latency_us,
                            });
                        }
                    }
                }
                go_on
            });
            match scanned {
                Ok(_) => {}
                // Pruned while this scan ran: it held only records older than the retention.
                Err(LogError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    /// Deletes the closed segments whose newest record is older than `before_ms` (the open
    /// segment is never touched); returns (segments, records) deleted.
    pub fn prune(&self, before_ms: i64) -> Result<(u64, u64), LogError> {
        let (mut segments, mut records) = (0, 0);
        for info in self.segments()? {
            if info.closed && info.last_ms.is_none_or(|last| last < before_ms) {
                let index = index_path(&self.dir, info.number);
                let segment = segment_path(&self.dir, info.number);
                // The segment first: a crash in between leaves an index without a segment,
                // which readers never look at (they list `.seg` files).
                std::fs::remove_file(&segment).map_err(io(&segment))?;
                std::fs::remove_file(&index).map_err(io(&index))?;
                segments += 1;
                records += info.count;
            }
        }
        Ok((segments, records))
    }

    /// The record with this id, if the log has it.
    pub fn find(&self, id: PredictionId) -> Result<Option<PredictionRecord>, LogError> {
        let ms = id.time_ms();
        let mut found = None;
        self.scan(Some(ms), Some(ms + 1), |record| {
            if record.id == id {
                found = Some(record);
                false
            } else {
                true
            }
        })?;
        Ok(found)
    }
}

fn declared(index: &IndexFile) -> HashMap<u32, StreamDecl> {
    index
        .streams
        .iter()
        .map(|s| {
            (
                s.id,
                StreamDecl {
                    model: s.model.clone(),
                    slot: s.slot.clone(),
                    version: s.version,
                    features: Arc::new(s.features.clone()),
                },
            )
        })
        .collect()
}

/// Where to start reading for records at or after `from_ms`: the last sparse entry early
/// enough that out-of-order records cannot precede it.
fn start_offset(index: &IndexFile, from_ms: Option<i64>) -> u64 {
    let Some(from) = from_ms else { return 0 };
    index
        .sparse
        .iter()
        .take_while(|(ms, _)| *ms < from - DISORDER_MS)
        .last()
        .map_or(0, |(_, offset)| *offset)
}

/// Calls `f(frame, offset)` for every whole, valid frame from `start`; stops at a torn or
/// corrupt frame, or when `f` returns `false`. Returns the offset after the last valid frame.
fn for_each_frame(
    path: &Path,
    start: u64,
    mut f: impl FnMut(Decoded, u64) -> bool,
) -> Result<u64, LogError> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    file.seek(SeekFrom::Start(start)).map_err(io(path))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut offset = start;
    let mut frame = Vec::with_capacity(4096);
    loop {
        let mut header = [0u8; HEADER];
        if read_full(&mut reader, &mut header).map_err(io(path))? < HEADER {
            return Ok(offset);
        }
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        if len == 0 || len > MAX_PAYLOAD {
            return Ok(offset);
        }
        frame.clear();
        frame.extend_from_slice(&header);
        frame.resize(HEADER + len, 0);
        if read_full(&mut reader, &mut frame[HEADER..]).map_err(io(path))? < len {
            return Ok(offset);
        }
        let Some((payload, size)) = split_frame(&frame) else {
            return Ok(offset);
        };
        let Some(decoded) = decode(payload) else {
            return Ok(offset);
        };
        let at = offset;
        offset += size as u64;
        if !f(decoded, at) {
            return Ok(offset);
        }
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Builds a segment's index by reading it; with `truncate`, cuts a torn or corrupt tail off
/// (only the writer does that, when it recovers a segment a crash left open).
pub(crate) fn scan_segment(
    path: &Path,
    number: u64,
    truncate: bool,
) -> Result<IndexFile, LogError> {
    let mut index = IndexFile::empty(number);
    let end = for_each_frame(path, 0, |decoded, offset| {
        match decoded {
            Decoded::Stream(id, decl) => index.streams.push(IndexedStream {
                id,
                model: decl.model,
                slot: decl.slot,
                version: decl.version,
                features: decl.features.to_vec(),
            }),
            Decoded::Prediction { id, .. } => {
                if index.count.is_multiple_of(super::SPARSE_EVERY) {
                    index.sparse.push((id.time_ms(), offset));
                }
                index.note(id.time_ms());
            }
        }
        true
    })?;
    index.bytes = end;
    if truncate {
        let len = std::fs::metadata(path).map_err(io(path))?.len();
        if len > end {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io(path))?;
            file.set_len(end).map_err(io(path))?;
            file.sync_all().map_err(io(path))?;
        }
    }
    Ok(index)
}
