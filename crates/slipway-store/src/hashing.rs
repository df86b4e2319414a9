//! Hashing files and directories into digests and manifests, with a stat cache.
//!
//! A file whose (size, mtime ns, ctime ns, inode) match the stat cache is not read again. Files
//! modified within [`RACY_WINDOW_NS`] of the scan are hashed but not cached, because a second
//! write in the same timestamp tick would leave the stat unchanged ("racy" entries, as in git).
//! Files that do need reading are hashed in parallel on all cores.

use crate::error::{Result, StoreError};
use crate::meta::{MetadataStore, StatEntry};
use crate::objects::hash_file;
use rayon::prelude::*;
use slipway_core::{Digest, Manifest, ManifestEntry, RelPath};
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Files modified this recently (before the scan started) are not put in the stat cache.
pub const RACY_WINDOW_NS: i64 = 1_000_000_000;

/// Counters of one hasher's work: how many files were read and how many came from the cache.
#[derive(Debug, Default)]
pub struct HashStats {
    files_read: AtomicU64,
    bytes_read: AtomicU64,
    files_cached: AtomicU64,
}

impl HashStats {
    /// Files whose contents were read and hashed.
    pub fn files_read(&self) -> u64 {
        self.files_read.load(Ordering::Relaxed)
    }
    /// Bytes read and hashed.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }
    /// Files answered by the stat cache without reading.
    pub fn files_cached(&self) -> u64 {
        self.files_cached.load(Ordering::Relaxed)
    }
}

/// The result of hashing a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashedPath {
    /// A regular file.
    File {
        /// Digest of its bytes.
        digest: Digest,
        /// Size in bytes.
        size: u64,
        /// Whether any execute bit is set.
        executable: bool,
    },
    /// A directory: its manifest (whose digest is the directory's digest).
    Directory {
        /// The sorted list of files.
        manifest: Manifest,
        /// The manifest's digest.
        digest: Digest,
    },
}

impl HashedPath {
    /// The path's digest (the manifest's, for a directory).
    pub fn digest(&self) -> Digest {
        match self {
            HashedPath::File { digest, .. } | HashedPath::Directory { digest, .. } => *digest,
        }
    }
    /// Total size in bytes.
    pub fn size(&self) -> u64 {
        match self {
            HashedPath::File { size, .. } => *size,
            HashedPath::Directory { manifest, .. } => manifest.total_size(),
        }
    }
}

/// A file found while walking a directory.
#[derive(Clone, Debug)]
pub struct WalkedFile {
    /// Path relative to the walked directory.
    pub rel: RelPath,
    /// Absolute path.
    pub abs: PathBuf,
    /// Its stat at walk time.
    pub stat: FileStat,
}

/// The identity of a file's contents as far as the stat cache is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns.
    pub mtime_ns: i64,
    /// Status-change time, ns.
    pub ctime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// Any execute bit set.
    pub executable: bool,
}

impl FileStat {
    /// Reads the stat of a file's metadata.
    pub fn of(meta: &fs::Metadata) -> FileStat {
        FileStat {
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            inode: meta.ino(),
            executable: meta.mode() & 0o111 != 0,
        }
    }

    fn matches(&self, entry: &StatEntry) -> bool {
        self.size == entry.size
            && self.mtime_ns == entry.mtime_ns
            && self.ctime_ns == entry.ctime_ns
            && self.inode == entry.inode
    }
}

/// Hashes paths, consulting and updating the stat cache in a [`MetadataStore`].
pub struct TreeHasher<'a> {
    meta: &'a dyn MetadataStore,
    stats: HashStats,
    on_bytes: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Stat-cache entries loaded up front: (the directory they cover, entries by path).
    preloaded: Mutex<Option<(String, HashMap<String, StatEntry>)>>,
}

impl<'a> TreeHasher<'a> {
    /// A hasher using `meta`'s stat cache.
    pub fn new(meta: &'a dyn MetadataStore) -> TreeHasher<'a> {
        TreeHasher {
            meta,
            stats: HashStats::default(),
            on_bytes: None,
            preloaded: Mutex::new(None),
        }
    }

    /// Reports progress: `on_bytes(n)` is called (from any thread) after each file is read.
    pub fn with_progress(mut self, on_bytes: &'a (dyn Fn(u64) + Sync)) -> TreeHasher<'a> {
        self.on_bytes = Some(on_bytes);
        self
    }

    /// What this hasher has done so far.
    pub fn stats(&self) -> &HashStats {
        &self.stats
    }

    /// Hashes a file or a directory (recursively). Symlinks and special files are refused.
    pub fn hash(&self, path: &Path) -> Result<HashedPath> {
        let abs = absolute(path)?;
        let meta = fs::symlink_metadata(&abs).map_err(|e| StoreError::io("read", &abs, e))?;
        if meta.file_type().is_symlink() {
            return Err(StoreError::Symlink(abs));
        }
        if meta.is_file() {
            let stat = FileStat::of(&meta);
            let key = path_key(&abs)?;
            let digest = self.hash_files(&[(key, abs.clone(), stat)])?[0];
            return Ok(HashedPath::File {
                digest,
                size: stat.size,
                executable: stat.executable,
            });
        }
        if !meta.is_dir() {
            return Err(StoreError::NotAFileOrDir(abs));
        }
        let files = walk(&abs)?;
        let keyed: Vec<(String, PathBuf, FileStat)> = files
            .iter()
            .map(|f| Ok((path_key(&f.abs)?, f.abs.clone(), f.stat)))
            .collect::<Result<_>>()?;
        let digests = self.hash_files_under(&path_key(&abs)?, &keyed)?;
        let entries = files
            .into_iter()
            .zip(digests)
            .map(|(f, digest)| ManifestEntry {
                path: f.rel,
                digest,
                size: f.stat.size,
                executable: f.stat.executable,
            })
            .collect();
        let manifest = Manifest::new(entries).map_err(|e| StoreError::BadPath {
            path: abs.clone(),
            reason: e.to_string(),
        })?;
        let digest = manifest.digest();
        Ok(HashedPath::Directory { manifest, digest })
    }

    /// Loads every stat-cache entry under `dir` into memory in one query, so that hashing many
    /// paths below it (as `slipway status` does) costs no query per path.
    pub fn preload(&self, dir: &Path) -> Result<()> {
        let key = path_key(&absolute(dir)?)?;
        let entries = self.meta.stat_entries_under(&key)?;
        let mut preloaded = self.preloaded.lock().expect("preloaded stat cache");
        let map = preloaded.get_or_insert_with(|| (key.clone(), HashMap::new()));
        map.0 = key;
        map.1
            .extend(entries.into_iter().map(|e| (e.path.clone(), e)));
        Ok(())
    }

    /// The cached entries for `keys` (all under `dir_key` when given), from the preloaded map
    /// when it covers them, else from the store.
    fn cached_entries(
        &self,
        dir_key: Option<&str>,
        keys: &[&str],
    ) -> Result<HashMap<String, StatEntry>> {
        if let Some((prefix, map)) = &*self.preloaded.lock().expect("preloaded stat cache") {
            let covered = |k: &str| {
                k == prefix
                    || (k.starts_with(prefix.as_str())
                        && k.as_bytes().get(prefix.len()) == Some(&b'/'))
            };
            if keys.iter().all(|k| covered(k)) {
                return Ok(keys
                    .iter()
                    .filter_map(|k| map.get(*k).map(|e| (k.to_string(), e.clone())))
                    .collect());
            }
        }
        let mut cached = HashMap::new();
        match dir_key {
            Some(dir) => {
                for entry in self.meta.stat_entries_under(dir)? {
                    cached.insert(entry.path.clone(), entry);
                }
            }
            None => {
                for key in keys {
                    for entry in self.meta.stat_entries_under(key)? {
                        if entry.path == *key {
                            cached.insert(entry.path.clone(), entry);
                        }
                    }
                }
            }
        }
        Ok(cached)
    }

    fn hash_files(&self, files: &[(String, PathBuf, FileStat)]) -> Result<Vec<Digest>> {
        let keys: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        let cached = self.cached_entries(None, &keys)?;
        self.resolve(files, &cached)
    }

    fn hash_files_under(
        &self,
        dir_key: &str,
        files: &[(String, PathBuf, FileStat)],
    ) -> Result<Vec<Digest>> {
        let keys: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        let cached = self.cached_entries(Some(dir_key), &keys)?;
        self.resolve(files, &cached)
    }

    /// Answers each file from the cache or by hashing it (in parallel), then records new entries.
    fn resolve(
        &self,
        files: &[(String, PathBuf, FileStat)],
        cached: &HashMap<String, StatEntry>,
    ) -> Result<Vec<Digest>> {
        let scan_start_ns = now_ns();
        let mut digests: Vec<Option<Digest>> = vec![None; files.len()];
        let mut to_hash = Vec::new();
        for (i, (key, _, stat)) in files.iter().enumerate() {
            match cached.get(key) {
                Some(entry) if stat.matches(entry) => digests[i] = Some(entry.digest),
                _ => to_hash.push(i),
            }
        }
        self.stats
            .files_cached
            .fetch_add((files.len() - to_hash.len()) as u64, Ordering::Relaxed);
        let hashed: Vec<(usize, Digest, FileStat)> = to_hash
            .par_iter()
            .map(|&i| {
                let (_, abs, _) = &files[i];
                let (digest, _) = hash_file(abs).map_err(|e| StoreError::io("read", abs, e))?;
                // Re-stat after reading: if the file changed while we read it, the digest may
                // describe neither version, so it must not be cached under either stat.
                let after =
                    fs::symlink_metadata(abs).map_err(|e| StoreError::io("read", abs, e))?;
                self.stats.files_read.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .bytes_read
                    .fetch_add(after.len(), Ordering::Relaxed);
                Ok((i, digest, FileStat::of(&after)))
            })
            .collect::<Result<_>>()?;
        let mut fresh = Vec::new();
        for (i, digest, after) in hashed {
            digests[i] = Some(digest);
            let (key, _, before) = &files[i];
            let racy = after.mtime_ns >= scan_start_ns - RACY_WINDOW_NS;
            if after == *before && !racy {
                fresh.push(StatEntry {
                    path: key.clone(),
                    size: after.size,
                    mtime_ns: after.mtime_ns,
                    ctime_ns: after.ctime_ns,
                    inode: after.inode,
                    digest,
                });
            }
        }
        self.meta.put_stat_entries(&fresh)?;
        if let Some((_, map)) = &mut *self.preloaded.lock().expect("preloaded stat cache") {
            map.extend(fresh.into_iter().map(|e| (e.path.clone(), e)));
        }
        Ok(digests
            .into_iter()
            .map(|d| d.expect("every file resolved"))
            .collect())
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The absolute, lexically normalised form of a path (symlinks in parent directories resolved).
pub fn absolute(path: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(path).map_err(|e| StoreError::io("resolve", path, e))?;
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) if parent.exists() => {
            let parent =
                fs::canonicalize(parent).map_err(|e| StoreError::io("resolve", parent, e))?;
            Ok(parent.join(name))
        }
        _ => Ok(abs),
    }
}

fn path_key(abs: &Path) -> Result<String> {
    abs.to_str()
        .map(str::to_string)
        .ok_or_else(|| StoreError::BadPath {
            path: abs.to_path_buf(),
            reason: "path is not valid UTF-8".into(),
        })
}

/// Lists every regular file under `root`, sorted by relative path. Symlinks and special files are
/// refused with an error naming them; empty directories are skipped.
pub fn walk(root: &Path) -> Result<Vec<WalkedFile>> {
    let mut files = Vec::new();
    let mut pending = vec![(root.to_path_buf(), None::<RelPath>)];
    while let Some((dir, rel_dir)) = pending.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| StoreError::io("list", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("list", &dir, e))?;
            let abs = entry.path();
            let name = entry.file_name();
            let name = name.to_str().ok_or_else(|| StoreError::BadPath {
                path: abs.clone(),
                reason: "file name is not valid UTF-8".into(),
            })?;
            let name_rel = RelPath::new(name).map_err(|e| StoreError::BadPath {
                path: abs.clone(),
                reason: e.to_string(),
            })?;
            let rel = match &rel_dir {
                Some(parent) => parent.join(&name_rel),
                None => name_rel,
            };
            let file_type = entry
                .file_type()
                .map_err(|e| StoreError::io("stat", &abs, e))?;
            if file_type.is_symlink() {
                return Err(StoreError::Symlink(abs));
            } else if file_type.is_dir() {
                pending.push((abs, Some(rel)));
            } else if file_type.is_file() {
                let meta = entry
                    .metadata()
                    .map_err(|e| StoreError::io("stat", &abs, e))?;
                files.push(WalkedFile {
                    rel,
                    abs,
                    stat: FileStat::of(&meta),
                });
            } else {
                return Err(StoreError::NotAFileOrDir(abs));
            }
        }
    }
    files.sort_by(|a, b| a.rel.as_str().cmp(b.rel.as_str()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::SqliteStore;
    use std::time::{Duration, SystemTime};

    fn age(path: &Path) {
        let past = SystemTime::now() - Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(past)
            .unwrap();
    }

    fn make_tree(root: &Path, files: usize, size: usize) {
        for i in 0..files {
            let path = root.join(format!("d{}/f{i:04}.bin", i % 7));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            let bytes: Vec<u8> = (0..size).map(|j| ((i * 31 + j) % 251) as u8).collect();
            fs::write(&path, bytes).unwrap();
            age(&path);
        }
    }

    #[test]
    fn second_hash_of_unchanged_tree_reads_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteStore::open(dir.path().join("m.db")).unwrap();
        let tree = dir.path().join("tree");
        make_tree(&tree, 100, 1 << 20); // 100 MB
        let first = TreeHasher::new(&meta);
        let a = first.hash(&tree).unwrap();
        assert_eq!(first.stats().files_read(), 100);
        let second = TreeHasher::new(&meta);
        let b = second.hash(&tree).unwrap();
        assert_eq!(a, b);
        assert_eq!(second.stats().files_read(), 0, "no file contents read");
        assert_eq!(second.stats().files_cached(), 100);
    }

    #[test]
    fn an_edit_is_seen_even_with_the_old_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteStore::open(dir.path().join("m.db")).unwrap();
        let tree = dir.path().join("tree");
        make_tree(&tree, 5, 100);
        let before = TreeHasher::new(&meta).hash(&tree).unwrap();
        // Same size, and the mtime put back: only the ctime betrays the edit.
        let victim = tree.join("d1/f0001.bin");
        let mtime = fs::metadata(&victim).unwrap().modified().unwrap();
        let mut bytes = fs::read(&victim).unwrap();
        bytes[0] ^= 0xff;
        fs::write(&victim, bytes).unwrap();
        fs::File::options()
            .write(true)
            .open(&victim)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let hasher = TreeHasher::new(&meta);
        let after = hasher.hash(&tree).unwrap();
        assert_ne!(before.digest(), after.digest());
        assert_eq!(hasher.stats().files_read(), 1);
    }

    #[test]
    fn preloaded_cache_answers_without_queries_and_sees_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteStore::open(dir.path().join("m.db")).unwrap();
        let tree = dir.path().join("tree");
        make_tree(&tree, 10, 100);
        TreeHasher::new(&meta).hash(&tree).unwrap();
        let h = TreeHasher::new(&meta);
        h.preload(dir.path()).unwrap();
        let one = tree.join("d3/f0003.bin");
        h.hash(&one).unwrap();
        h.hash(&tree).unwrap();
        assert_eq!(h.stats().files_read(), 0);
        let fresh = dir.path().join("other.bin");
        fs::write(&fresh, b"new").unwrap();
        age(&fresh);
        h.hash(&fresh).unwrap();
        h.hash(&fresh).unwrap();
        assert_eq!(
            h.stats().files_read(),
            1,
            "a file hashed once is remembered"
        );
    }

    #[test]
    fn fresh_files_are_not_cached_but_still_correct() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteStore::open(dir.path().join("m.db")).unwrap();
        let file = dir.path().join("new.txt");
        fs::write(&file, b"just written").unwrap();
        let h = TreeHasher::new(&meta);
        assert_eq!(h.hash(&file).unwrap().digest(), Digest::of(b"just written"));
        let again = TreeHasher::new(&meta);
        again.hash(&file).unwrap();
        assert_eq!(again.stats().files_read(), 1, "racy entry was not trusted");
    }

    #[test]
    fn symlinks_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteStore::open(dir.path().join("m.db")).unwrap();
        let tree = dir.path().join("tree");
        fs::create_dir_all(&tree).unwrap();
        fs::write(tree.join("a"), b"a").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", tree.join("escape")).unwrap();
        let err = TreeHasher::new(&meta).hash(&tree).unwrap_err();
        assert!(matches!(err, StoreError::Symlink(_)));
        assert!(err.to_string().contains("escape"), "{err}");
    }

    #[test]
    fn executable_bit_is_part_of_the_digest() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteStore::open(dir.path().join("m.db")).unwrap();
        let tree = dir.path().join("tree");
        fs::create_dir_all(&tree).unwrap();
        fs::write(tree.join("run.sh"), b"echo").unwrap();
        let before = TreeHasher::new(&meta).hash(&tree).unwrap().digest();
        fs::set_permissions(tree.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(before, TreeHasher::new(&meta).hash(&tree).unwrap().digest());
    }
}
