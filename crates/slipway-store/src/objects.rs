//! The content-addressed object store.
//!
//! Crash-safety contract of the local backend (every step of a put):
//! 1. bytes are written to a fresh temp file under `.slipway/tmp/` while being hashed;
//! 2. the temp file is fsynced and made read-only;
//! 3. it is renamed (never replacing) to `objects/ab/cdef…` (its digest), and the fan-out
//!    directory is fsynced.
//!
//! A crash before step 3 leaves only a temp file, which no reader ever looks at and `gc` removes.
//! Rename is atomic, so an object path either does not exist or holds the complete bytes. Readers
//! re-hash what they read and refuse bytes that do not match their address (invariant 2).

use crate::error::{Result, StoreError};
use slipway_core::Digest;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What a put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutOutcome {
    /// The address of the bytes.
    pub digest: Digest,
    /// Their size.
    pub size: u64,
    /// False when the store already had these bytes (deduplicated).
    pub newly_stored: bool,
}

/// One object as listed by the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its address.
    pub digest: Digest,
    /// Its size on disk.
    pub size: u64,
    /// Last modification time, milliseconds since the epoch (used by gc's grace period).
    pub modified_ms: i64,
}

/// A store of immutable byte strings addressed by their BLAKE3 digest.
///
/// Every backend guarantees: a put is atomic (an object is visible whole or not at all); putting
/// the same bytes twice stores them once; every read verifies the digest and fails with
/// [`StoreError::Corrupt`] rather than returning bytes that do not match their address.
pub trait ObjectStore: Send + Sync {
    /// Stores everything `reader` yields, streaming with bounded memory.
    fn put_reader(&self, reader: &mut dyn Read) -> Result<PutOutcome>;
    /// Stores a file's bytes. Uses a copy-on-write clone where the filesystem supports it.
    fn put_file(&self, path: &Path) -> Result<PutOutcome>;
    /// Stores a byte slice.
    fn put_bytes(&self, bytes: &[u8]) -> Result<PutOutcome> {
        self.put_reader(&mut io::Cursor::new(bytes))
    }
    /// Whether the object exists (without verifying its bytes).
    fn has(&self, digest: &Digest) -> Result<bool>;
    /// Reads a whole object into memory, verified. Meant for small objects such as manifests.
    fn read_verified(&self, digest: &Digest) -> Result<Vec<u8>>;
    /// Writes an object to `dest` (replacing it atomically), verified before it becomes visible.
    /// Uses a copy-on-write clone where the filesystem supports it; `executable` sets the mode.
    fn restore_to(&self, digest: &Digest, dest: &Path, executable: bool) -> Result<()>;
    /// Streams a verified object into `out`. The whole object is checked before the first byte
    /// is written, so corrupt bytes are never emitted.
    fn copy_to_writer(&self, digest: &Digest, out: &mut dyn Write) -> Result<u64>;
    /// Re-hashes one object: `Ok(())` when intact, [`StoreError::Corrupt`] or
    /// [`StoreError::Missing`] otherwise.
    fn verify(&self, digest: &Digest) -> Result<()>;
    /// Every object in the store, in digest order.
    fn list(&self) -> Result<Vec<ObjectInfo>>;
    /// Removes an object (used by gc only).
    fn delete(&self, digest: &Digest) -> Result<()>;
}

/// The default backend: a directory, `objects/ab/cdef…`, with a sibling `tmp/` for puts in flight.
#[derive(Debug)]
pub struct LocalObjectStore {
    objects: PathBuf,
    tmp: PathBuf,
    #[cfg(test)]
    fail_writes_after: Option<u64>,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

const BUFFER_SIZE: usize = 1 << 20;

impl LocalObjectStore {
    /// Opens (creating if needed) a store whose objects live in `objects` and temp files in `tmp`.
    /// Both must be on the same filesystem so that renames are atomic.
    pub fn open(objects: impl Into<PathBuf>, tmp: impl Into<PathBuf>) -> Result<LocalObjectStore> {
        let objects = objects.into();
        let tmp = tmp.into();
        for dir in [&objects, &tmp] {
            fs::create_dir_all(dir).map_err(|e| StoreError::io("create directory", dir, e))?;
        }
        Ok(LocalObjectStore {
            objects,
            tmp,
            #[cfg(test)]
            fail_writes_after: None,
        })
    }

    /// Where an object lives (whether or not it exists).
    pub fn object_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.objects.join(&hex[..2]).join(&hex[2..])
    }

    /// The directory holding temp files of puts in flight.
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// Opens an object for streaming out in one pass: the reader hashes what it reads and, at
    /// the end, fails instead of reporting end-of-file when the bytes do not hash to the
    /// object's address. A consumer that holds back the last chunk it read until it sees
    /// end-of-file therefore never passes on a corrupt object whole (invariant 2), without
    /// reading the object twice.
    pub fn open_verifying(&self, digest: &Digest) -> Result<VerifyingReader> {
        let path = self.object_path(digest);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Missing(*digest));
            }
            Err(e) => return Err(StoreError::io("open", path, e)),
        };
        Ok(VerifyingReader {
            file,
            hasher: blake3::Hasher::new(),
            digest: *digest,
        })
    }

    fn temp_path(&self, dir: &Path) -> PathBuf {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        dir.join(format!(".slipway-tmp-{}-{n}", std::process::id()))
    }

    /// Moves a complete, fsynced temp file into place under its digest.
    fn commit_temp(&self, temp: &Path, digest: Digest, size: u64) -> Result<PutOutcome> {
        let dest = self.object_path(&digest);
        if dest.exists() {
            let _ = fs::remove_file(temp);
            return Ok(PutOutcome {
                digest,
                size,
                newly_stored: false,
            });
        }
        let fan_out = dest.parent().expect("object paths have a parent");
        if !fan_out.exists() {
            fs::create_dir_all(fan_out)
                .map_err(|e| StoreError::io("create directory", fan_out, e))?;
            sync_dir(&self.objects)?;
        }
        fs::set_permissions(temp, fs::Permissions::from_mode(0o444))
            .map_err(|e| StoreError::io("set permissions of", temp, e))?;
        // A no-replace rename never overwrites an existing object, so of two concurrent puts
        // of the same bytes exactly one reports the object as newly stored.
        match rename_noreplace(temp, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let _ = fs::remove_file(temp);
                return Ok(PutOutcome {
                    digest,
                    size,
                    newly_stored: false,
                });
            }
            Err(e) => {
                let _ = fs::remove_file(temp);
                return Err(StoreError::io("move into place", &dest, e));
            }
        }
        sync_dir(fan_out)?;
        Ok(PutOutcome {
            digest,
            size,
            newly_stored: true,
        })
    }

    /// Starts a streamed put: bytes are pushed with [`PendingPut::write`] (hashed and written to a
    /// temp file as they come) and [`PendingPut::finish`] makes the object visible. Dropping an
    /// unfinished put removes its temp file, so nothing of it is ever visible. This is the
    /// push-style twin of [`ObjectStore::put_reader`], for producers such as a network body.
    pub fn begin_put(&self) -> Result<PendingPut<'_>> {
        let temp = self.temp_path(&self.tmp);
        let file = File::create(&temp).map_err(|e| StoreError::io("create", &temp, e))?;
        // For large objects, a helper thread starts writing back what is already written (an
        // fdatasync every WRITEBACK_EVERY bytes), so the disk works while bytes still arrive and
        // the final fsync only waits for the tail. It never replaces that final fsync.
        let (nudge, nudges) = std::sync::mpsc::sync_channel::<()>(1);
        let writeback = file.try_clone().ok().map(|clone| {
            std::thread::spawn(move || {
                while nudges.recv().is_ok() {
                    let _ = clone.sync_data();
                }
            })
        });
        Ok(PendingPut {
            store: self,
            sink: Some(self.wrap_sink(file)),
            temp,
            hasher: blake3::Hasher::new(),
            size: 0,
            nudge: Some(nudge),
            writeback,
        })
    }

    #[cfg(not(test))]
    fn wrap_sink(&self, file: File) -> Sink {
        Sink { file }
    }

    #[cfg(test)]
    fn wrap_sink(&self, file: File) -> Sink {
        Sink {
            file,
            budget: self.fail_writes_after,
        }
    }

    /// Hashes an object file as it is on disk.
    fn hash_object_file(&self, digest: &Digest) -> Result<(Digest, u64)> {
        let path = self.object_path(digest);
        match hash_file(&path) {
            Ok(found) => Ok(found),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::Missing(*digest)),
            Err(e) => Err(StoreError::io("read", path, e)),
        }
    }
}

/// A put in progress; see [`LocalObjectStore::begin_put`].
pub struct PendingPut<'a> {
    store: &'a LocalObjectStore,
    sink: Option<Sink>,
    temp: PathBuf,
    hasher: blake3::Hasher,
    size: u64,
    nudge: Option<std::sync::mpsc::SyncSender<()>>,
    writeback: Option<std::thread::JoinHandle<()>>,
}

/// Bytes between two background writebacks of a large put.
const WRITEBACK_EVERY: u64 = 64 << 20;

impl PendingPut<'_> {
    /// Hashes and writes the next bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let sink = self.sink.as_mut().expect("an unfinished put has its file");
        self.hasher.update(bytes);
        sink.write_all(bytes)
            .map_err(|e| StoreError::io("write", &self.temp, e))?;
        let size = self.size + bytes.len() as u64;
        if size / WRITEBACK_EVERY != self.size / WRITEBACK_EVERY
            && let Some(nudge) = &self.nudge
        {
            // Busy syncing already: skip this nudge rather than wait.
            let _ = nudge.try_send(());
        }
        self.size = size;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Fsyncs the bytes and moves them into place under their digest.
    pub fn finish(mut self) -> Result<PutOutcome> {
        self.stop_writeback();
        let sink = self.sink.take().expect("an unfinished put has its file");
        let file = sink
            .into_file()
            .map_err(|e| StoreError::io("write", &self.temp, e))?;
        file.sync_all()
            .map_err(|e| StoreError::io("fsync", &self.temp, e))?;
        drop(file);
        let digest: Digest = self.hasher.finalize().into();
        let outcome = self.store.commit_temp(&self.temp, digest, self.size);
        if outcome.is_err() {
            let _ = fs::remove_file(&self.temp);
        }
        outcome
    }

    fn stop_writeback(&mut self) {
        self.nudge = None;
        if let Some(handle) = self.writeback.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for PendingPut<'_> {
    fn drop(&mut self) {
        self.stop_writeback();
        if self.sink.take().is_some() {
            // Abandoned before `finish`: nothing of it may become visible.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// An object's bytes, hashed as they are read; see [`LocalObjectStore::open_verifying`].
#[derive(Debug)]
pub struct VerifyingReader {
    file: File,
    hasher: blake3::Hasher,
    digest: Digest,
}

impl Read for VerifyingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 || buf.is_empty() {
            self.hasher.update(&buf[..n]);
            return Ok(n);
        }
        let actual: Digest = self.hasher.finalize().into();
        if actual != self.digest {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                StoreError::Corrupt {
                    digest: self.digest,
                    actual,
                }
                .to_string(),
            ));
        }
        Ok(0)
    }
}

/// The writer behind a put; in unit tests it can simulate a full disk after N bytes.
struct Sink {
    file: File,
    #[cfg(test)]
    budget: Option<u64>,
}

impl Sink {
    fn into_file(self) -> io::Result<File> {
        Ok(self.file)
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        #[cfg(test)]
        if let Some(budget) = self.budget.as_mut() {
            if *budget < buf.len() as u64 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            *budget -= buf.len() as u64;
        }
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Hashes a file's bytes (memory-mapped for large files, using all cores for very large ones).
pub fn hash_file(path: &Path) -> io::Result<(Digest, u64)> {
    let mut hasher = blake3::Hasher::new();
    let size = fs::metadata(path)?.len();
    if size >= 16 << 20 {
        hasher.update_mmap_rayon(path)?;
    } else if size >= 64 << 10 {
        hasher.update_mmap(path)?;
    } else {
        let bytes = fs::read(path)?;
        hasher.update(&bytes);
        return Ok((hasher.finalize().into(), bytes.len() as u64));
    }
    Ok((hasher.finalize().into(), hasher.count()))
}

/// Renames `from` to `to` unless `to` exists (then `AlreadyExists`). Uses `renameat2` with
/// `RENAME_NOREPLACE`; where the filesystem does not support it, a hard link plus unlink gives
/// the same guarantee.
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c_from = CString::new(from.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let c_to = CString::new(to.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            c_from.as_ptr(),
            libc::AT_FDCWD,
            c_to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) => {
            fs::hard_link(from, to)?;
            fs::remove_file(from)
        }
        _ => Err(err),
    }
}

/// Fsyncs a directory so that a rename inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("fsync directory", dir, e))
}

impl ObjectStore for LocalObjectStore {
    fn put_reader(&self, reader: &mut dyn Read) -> Result<PutOutcome> {
        let mut put = self.begin_put()?;
        let mut buffer = vec![0u8; BUFFER_SIZE];
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StoreError::io("read input for", &put.temp, e)),
            };
            put.write(&buffer[..n])?;
        }
        put.finish()
    }

    fn put_file(&self, path: &Path) -> Result<PutOutcome> {
        let meta = fs::symlink_metadata(path).map_err(|e| StoreError::io("read", path, e))?;
        if meta.file_type().is_symlink() {
            return Err(StoreError::Symlink(path.to_path_buf()));
        }
        if !meta.is_file() {
            return Err(StoreError::NotAFileOrDir(path.to_path_buf()));
        }
        // A copy-on-write clone costs no data copy; hashing the clone (not the source) means the
        // object's address always matches the bytes stored, even if the source changes meanwhile.
        let temp = self.temp_path(&self.tmp);
        if reflink_copy::reflink(path, &temp).is_ok() {
            let hashed = hash_file(&temp).and_then(|found| {
                File::open(&temp)?.sync_all()?;
                Ok(found)
            });
            return match hashed {
                Ok((digest, size)) => self.commit_temp(&temp, digest, size),
                Err(e) => {
                    let _ = fs::remove_file(&temp);
                    Err(StoreError::io("read", &temp, e))
                }
            };
        }
        let mut file = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
        self.put_reader(&mut file)
    }

    fn has(&self, digest: &Digest) -> Result<bool> {
        Ok(self.object_path(digest).exists())
    }

    fn read_verified(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.object_path(digest);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Missing(*digest));
            }
            Err(e) => return Err(StoreError::io("read", path, e)),
        };
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(StoreError::Corrupt {
                digest: *digest,
                actual,
            });
        }
        Ok(bytes)
    }

    fn restore_to(&self, digest: &Digest, dest: &Path, executable: bool) -> Result<()> {
        let source = self.object_path(digest);
        if !source.exists() {
            return Err(StoreError::Missing(*digest));
        }
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| StoreError::io("create directory", parent, e))?;
        let temp = self.temp_path(parent);
        let placed = (|| {
            let actual = if reflink_copy::reflink(&source, &temp).is_ok() {
                hash_file(&temp)
                    .map_err(|e| StoreError::io("read", &temp, e))?
                    .0
            } else {
                let mut input =
                    File::open(&source).map_err(|e| StoreError::io("open", &source, e))?;
                let output = File::create(&temp).map_err(|e| StoreError::io("create", &temp, e))?;
                copy_hashing(&mut input, output, &temp)?
            };
            if actual != *digest {
                return Err(StoreError::Corrupt {
                    digest: *digest,
                    actual,
                });
            }
            let mode = if executable { 0o755 } else { 0o644 };
            fs::set_permissions(&temp, fs::Permissions::from_mode(mode))
                .map_err(|e| StoreError::io("set permissions of", &temp, e))?;
            if dest.is_dir() {
                fs::remove_dir_all(dest).map_err(|e| StoreError::io("remove", dest, e))?;
            }
            fs::rename(&temp, dest).map_err(|e| StoreError::io("rename into place", dest, e))
        })();
        if placed.is_err() {
            let _ = fs::remove_file(&temp);
        }
        placed
    }

    fn copy_to_writer(&self, digest: &Digest, out: &mut dyn Write) -> Result<u64> {
        self.verify(digest)?;
        let path = self.object_path(digest);
        let mut file = File::open(&path).map_err(|e| StoreError::io("open", &path, e))?;
        io::copy(&mut file, out).map_err(|e| StoreError::io("copy", &path, e))
    }

    fn verify(&self, digest: &Digest) -> Result<()> {
        let (actual, _) = self.hash_object_file(digest)?;
        if actual != *digest {
            return Err(StoreError::Corrupt {
                digest: *digest,
                actual,
            });
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<ObjectInfo>> {
        let mut found = Vec::new();
        let fan_outs =
            fs::read_dir(&self.objects).map_err(|e| StoreError::io("list", &self.objects, e))?;
        for fan_out in fan_outs {
            let fan_out = fan_out.map_err(|e| StoreError::io("list", &self.objects, e))?;
            let prefix = fan_out.file_name();
            let Some(prefix) = prefix.to_str().filter(|p| p.len() == 2) else {
                continue;
            };
            let dir = fan_out.path();
            for entry in fs::read_dir(&dir).map_err(|e| StoreError::io("list", &dir, e))? {
                let entry = entry.map_err(|e| StoreError::io("list", &dir, e))?;
                let name = entry.file_name();
                let Some(rest) = name.to_str() else { continue };
                let Ok(digest) = format!("{prefix}{rest}").parse::<Digest>() else {
                    continue;
                };
                let meta = entry
                    .metadata()
                    .map_err(|e| StoreError::io("stat", entry.path(), e))?;
                found.push(ObjectInfo {
                    digest,
                    size: meta.len(),
                    modified_ms: modified_ms(&meta),
                });
            }
        }
        found.sort_by_key(|o| o.digest);
        Ok(found)
    }

    fn delete(&self, digest: &Digest) -> Result<()> {
        let path = self.object_path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("delete", path, e)),
        }
    }
}

/// Copies `input` to `output` (fsynced) and returns the digest of the bytes copied.
fn copy_hashing(input: &mut dyn Read, mut output: File, path: &Path) -> Result<Digest> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; BUFFER_SIZE];
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StoreError::io("read object for", path, e)),
        };
        hasher.update(&buffer[..n]);
        output
            .write_all(&buffer[..n])
            .map_err(|e| StoreError::io("write", path, e))?;
    }
    output
        .sync_all()
        .map_err(|e| StoreError::io("fsync", path, e))?;
    Ok(hasher.finalize().into())
}

/// Modification time of a file in milliseconds since the epoch (0 when unknown).
pub fn modified_ms(meta: &fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> LocalObjectStore {
        LocalObjectStore::open(dir.join("objects"), dir.join("tmp")).unwrap()
    }

    #[test]
    fn put_is_content_addressed_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let first = s.put_bytes(b"hello").unwrap();
        assert_eq!(first.digest, Digest::of(b"hello"));
        assert!(first.newly_stored);
        let second = s.put_bytes(b"hello").unwrap();
        assert_eq!(second.digest, first.digest);
        assert!(!second.newly_stored);
        assert_eq!(s.list().unwrap().len(), 1);
        assert_eq!(s.read_verified(&first.digest).unwrap(), b"hello");
        let mode = fs::metadata(s.object_path(&first.digest))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o222, 0, "objects are read-only");
        assert_eq!(
            fs::read_dir(s.tmp_dir()).unwrap().count(),
            0,
            "no temp files left"
        );
    }

    #[test]
    fn corrupted_object_is_refused_naming_the_digest() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let put = s.put_bytes(b"precious bytes").unwrap();
        let path = s.object_path(&put.digest);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes[0] ^= 1;
        fs::write(&path, bytes).unwrap();
        let err = s.read_verified(&put.digest).unwrap_err();
        assert!(err.to_string().contains(&put.digest.to_hex()), "{err}");
        assert!(matches!(
            s.verify(&put.digest),
            Err(StoreError::Corrupt { .. })
        ));
        let dest = dir.path().join("restored");
        assert!(matches!(
            s.restore_to(&put.digest, &dest, false),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(!dest.exists(), "corrupt bytes never reach the work tree");
        let mut out = Vec::new();
        assert!(s.copy_to_writer(&put.digest, &mut out).is_err());
        assert!(out.is_empty(), "corrupt bytes are never emitted");
    }

    #[test]
    fn disk_full_leaves_nothing_visible() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        s.fail_writes_after = Some(3 << 20);
        let big = vec![7u8; 5 << 20];
        let err = s.put_bytes(&big).unwrap_err();
        assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
        assert!(err.to_string().contains("no space left"), "{err}");
        assert!(s.list().unwrap().is_empty());
        assert_eq!(
            fs::read_dir(s.tmp_dir()).unwrap().count(),
            0,
            "temp file removed"
        );
        s.fail_writes_after = None;
        assert!(s.put_bytes(&big).unwrap().newly_stored, "a retry succeeds");
    }

    #[test]
    fn restore_writes_verified_copy_with_mode() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let put = s.put_bytes(b"#!/bin/sh\necho hi\n").unwrap();
        let dest = dir.path().join("work/bin/run.sh");
        s.restore_to(&put.digest, &dest, true).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"#!/bin/sh\necho hi\n");
        assert_eq!(
            fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o755
        );
        // The work-tree copy is independent: editing it never touches the store.
        fs::write(&dest, b"changed").unwrap();
        s.verify(&put.digest).unwrap();
    }

    #[test]
    fn verifying_reader_fails_at_the_end_on_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let put = s.put_bytes(&vec![5u8; 3 << 20]).unwrap();
        let mut out = Vec::new();
        s.open_verifying(&put.digest)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 3 << 20);
        let path = s.object_path(&put.digest);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes[100] ^= 1;
        fs::write(&path, bytes).unwrap();
        let err = s
            .open_verifying(&put.digest)
            .unwrap()
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert!(matches!(
            s.open_verifying(&Digest::of(b"absent")),
            Err(StoreError::Missing(_))
        ));
    }

    #[test]
    fn missing_object_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let d = Digest::of(b"nothing");
        assert!(matches!(s.verify(&d), Err(StoreError::Missing(x)) if x == d));
        assert!(!s.has(&d).unwrap());
    }
}
