//! The writer: one thread owns the open segment. Requests hand it whole batches through a
//! bounded queue (bounded memory: when the queue is full, senders wait), it encodes them into
//! one buffer per wake-up, writes that buffer, syncs at most every [`LogConfig::sync_every`],
//! and rotates segments at [`LogConfig::segment_bytes`]. On a clean stop (every handle dropped)
//! it writes what is queued, syncs and closes the segment with its index, so nothing
//! acknowledged is lost.

use super::codec::{PredictionFrame, StreamDecl, encode_prediction, encode_stream};
use super::reader::{IndexFile, IndexedStream, scan_segment};
use super::{
    IdGenerator, LogError, PredictionId, Route, SPARSE_EVERY, index_path, io, segment_numbers,
    segment_path,
};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// Tuning of the writer.
#[derive(Clone, Copy, Debug)]
pub struct LogConfig {
    /// Rotate to a new segment once the current one reaches this size.
    pub segment_bytes: u64,
    /// Batches the queue holds before senders wait.
    pub queue: usize,
    /// Longest time written records stay unsynced.
    pub sync_every: Duration,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: 64 << 20,
            queue: 16_384,
            sync_every: Duration::from_secs(1),
        }
    }
}

/// What the predictions of one (model, slot, version) take: declared once per segment.
#[derive(Debug, PartialEq)]
pub struct Stream {
    /// The model.
    pub model: String,
    /// The deployment slot.
    pub slot: String,
    /// The version.
    pub version: u64,
    /// Input feature names in the order of the inputs.
    pub features: Arc<Vec<String>>,
}

/// A request's predictions: `ids.len()` rows of `stream.features.len()` inputs each.
pub struct Batch {
    /// Whose predictions.
    pub stream: Arc<Stream>,
    /// How it was routed.
    pub route: Route,
    /// One id per row.
    pub ids: Vec<PredictionId>,
    /// One output per row.
    pub outputs: Vec<f64>,
    /// Row-major inputs.
    pub inputs: Vec<f64>,
    /// Time the model took for the whole batch, in microseconds (each row records it).
    pub latency_us: u32,
}

enum Msg {
    Batch(Batch),
    Flush(SyncSender<Result<(), String>>),
}

/// A cheap, cloneable handle that appends to the log.
#[derive(Clone)]
pub struct LogHandle {
    tx: SyncSender<Msg>,
    ids: Arc<IdGenerator>,
}

impl LogHandle {
    /// The id generator every prediction of this log takes its id from.
    pub fn ids(&self) -> &IdGenerator {
        &self.ids
    }

    /// Queues a batch without waiting; gives it back when the queue is full.
    pub fn try_append(&self, batch: Batch) -> Result<(), (Batch, bool)> {
        match self.tx.try_send(Msg::Batch(batch)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(Msg::Batch(b))) => Err((b, true)),
            Err(TrySendError::Disconnected(Msg::Batch(b))) => Err((b, false)),
            Err(_) => unreachable!("only batches are sent here"),
        }
    }

    /// Queues a batch, waiting while the queue is full.
    pub fn append(&self, batch: Batch) -> Result<(), LogError> {
        self.tx
            .send(Msg::Batch(batch))
            .map_err(|_| LogError::Closed)
    }

    /// Waits until everything queued before this call is written and synced.
    pub fn flush(&self) -> Result<(), LogError> {
        let (ack, done) = std::sync::mpsc::sync_channel(1);
        self.tx
            .send(Msg::Flush(ack))
            .map_err(|_| LogError::Closed)?;
        match done.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(LogError::Io {
                path: PathBuf::from("(prediction log)"),
                source: std::io::Error::other(message),
            }),
            Err(_) => Err(LogError::Closed),
        }
    }
}

/// The writer thread; [`LogWriter::join`] waits for it after the handles are dropped.
pub struct LogWriter {
    thread: std::thread::JoinHandle<Result<(), LogError>>,
}

impl LogWriter {
    /// Opens the log in `dir` (created if missing): takes the directory's lock (one writer per
    /// log), indexes a segment a crash left without an index (dropping its torn tail), and
    /// starts a new segment.
    pub fn start(dir: &Path, config: LogConfig) -> Result<(LogHandle, LogWriter), LogError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock = lock_dir(dir)?;
        let numbers = segment_numbers(dir)?;
        for &n in &numbers {
            if !index_path(dir, n).exists() {
                let seg = segment_path(dir, n);
                let index = scan_segment(&seg, n, true)?;
                write_index(dir, n, &index)?;
            }
        }
        let next = numbers.last().map_or(1, |n| n + 1);
        let segment = Segment::create(dir, next)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(config.queue.max(1));
        let state = WriterState {
            dir: dir.to_path_buf(),
            config,
            segment,
            buf: Vec::with_capacity(1 << 20),
            _lock: lock,
        };
        let thread = std::thread::Builder::new()
            .name("slipway-predlog".into())
            .spawn(move || state.run(rx))
            .map_err(io(dir))?;
        Ok((
            LogHandle {
                tx,
                ids: Arc::new(IdGenerator::new()),
            },
            LogWriter { thread },
        ))
    }

    /// Waits for the writer to finish (it does once every handle is dropped).
    pub fn join(self) -> Result<(), LogError> {
        self.thread.join().unwrap_or(Err(LogError::Closed))
    }
}

fn lock_dir(dir: &Path) -> Result<File, LogError> {
    use std::os::fd::AsRawFd;
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    // SAFETY: flock on a descriptor this function owns; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(LogError::Io {
            path,
            source: std::io::Error::other(
                "another server is writing this prediction log (one gateway per project)",
            ),
        });
    }
    Ok(file)
}

fn write_index(dir: &Path, n: u64, index: &IndexFile) -> Result<(), LogError> {
    let path = index_path(dir, n);
    let tmp = path.with_extension("idx.tmp");
    let text = serde_json::to_vec(index).expect("an index serializes");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(())
}

struct Segment {
    number: u64,
    path: PathBuf,
    file: File,
    /// Streams declared in this segment, by the address of their `Arc` (kept alive here, so
    /// an address is never reused while it is a key).
    streams: HashMap<usize, (u32, Arc<Stream>)>,
    index: IndexFile,
    dirty: bool,
    last_sync: Instant,
}

impl Segment {
    fn create(dir: &Path, number: u64) -> Result<Segment, LogError> {
        let path = segment_path(dir, number);
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        Ok(Segment {
            number,
            path,
            file,
            streams: HashMap::new(),
            index: IndexFile::empty(number),
            dirty: false,
            last_sync: Instant::now(),
        })
    }
}

struct WriterState {
    dir: PathBuf,
    config: LogConfig,
    segment: Segment,
    buf: Vec<u8>,
    _lock: File,
}

impl WriterState {
    fn run(mut self, rx: Receiver<Msg>) -> Result<(), LogError> {
        let mut acks = Vec::new();
        loop {
            let first = match rx.recv_timeout(self.config.sync_every) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    self.sync_if_due(true)?;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            self.take(first, &mut acks);
            // Drain what queued up meanwhile, so one write covers many requests.
            while self.buf.len() < (4 << 20) {
                match rx.try_recv() {
                    Ok(m) => self.take(m, &mut acks),
                    Err(_) => break,
                }
            }
            let written = self.write_out();
            let synced = written.and_then(|()| {
                if acks.is_empty() {
                    self.sync_if_due(false)
                } else {
                    self.sync()
                }
            });
            for ack in acks.drain(..) {
                let _ = ack.send(synced.as_ref().map(|_| ()).map_err(|e| e.to_string()));
            }
            synced?;
            if self.segment.index.bytes >= self.config.segment_bytes {
                self.rotate()?;
            }
        }
        self.write_out()?;
        self.close_segment()
    }

    fn take(&mut self, msg: Msg, acks: &mut Vec<SyncSender<Result<(), String>>>) {
        match msg {
            Msg::Batch(batch) => self.encode(&batch),
            Msg::Flush(ack) => acks.push(ack),
        }
    }

    fn encode(&mut self, batch: &Batch) {
        let key = Arc::as_ptr(&batch.stream) as usize;
        let next_id = self.segment.streams.len() as u32;
        let (stream_id, fresh) = match self.segment.streams.get(&key) {
            Some((id, _)) => (*id, false),
            None => {
                self.segment
                    .streams
                    .insert(key, (next_id, Arc::clone(&batch.stream)));
                (next_id, true)
            }
        };
        if fresh {
            let s = &batch.stream;
            let decl = StreamDecl {
                model: s.model.clone(),
                slot: s.slot.clone(),
                version: s.version,
                features: Arc::clone(&s.features),
            };
            encode_stream(&mut self.buf, stream_id, &decl);
            self.segment.index.streams.push(IndexedStream {
                id: stream_id,
                model: decl.model,
                slot: decl.slot,
                version: decl.version,
                features: decl.features.to_vec(),
            });
        }
        let width = batch.stream.features.len();
        for (row, (id, output)) in batch.ids.iter().zip(&batch.outputs).enumerate() {
            let inputs = batch
                .inputs
                .get(row * width..(row + 1) * width)
                .unwrap_or(&[]);
            let offset = self.segment.index.bytes + self.buf.len() as u64;
            let index = &mut self.segment.index;
            if index.count.is_multiple_of(SPARSE_EVERY) {
                index.sparse.push((id.time_ms(), offset));
            }
            index.note(id.time_ms());
            encode_prediction(
                &mut self.buf,
                &PredictionFrame {
                    stream: stream_id,
                    id: *id,
                    latency_us: batch.latency_us,
                    route: batch.route,
                    output: *output,
                    inputs,
                },
            );
        }
    }

    fn write_out(&mut self) -> Result<(), LogError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.segment
            .file
            .write_all(&self.buf)
            .map_err(io(&self.segment.path))?;
        self.segment.index.bytes += self.buf.len() as u64;
        self.segment.dirty = true;
        self.buf.clear();
        Ok(())
    }

    fn sync(&mut self) -> Result<(), LogError> {
        if self.segment.dirty {
            self.segment
                .file
                .sync_data()
                .map_err(io(&self.segment.path))?;
            self.segment.dirty = false;
        }
        self.segment.last_sync = Instant::now();
        Ok(())
    }

    fn sync_if_due(&mut self, idle: bool) -> Result<(), LogError> {
        if idle || self.segment.last_sync.elapsed() >= self.config.sync_every {
            self.sync()?;
        }
        Ok(())
    }

    fn close_segment(&mut self) -> Result<(), LogError> {
        self.sync()?;
        write_index(&self.dir, self.segment.number, &self.segment.index)
    }

    fn rotate(&mut self) -> Result<(), LogError> {
        self.close_segment()?;
        self.segment = Segment::create(&self.dir, self.segment.number + 1)?;
        Ok(())
    }
}
