//! The `.slipway/` directory of a project: configuration, object store and metadata store.
//!
//! ```text
//! .slipway/
//!   config.yaml     format version and backends
//!   objects/ab/…    content-addressed objects (read-only files)
//!   tmp/            temp files of puts in flight (removed by gc)
//!   metadata.db     SQLite metadata store (WAL)
//! ```

use crate::error::{Result, StoreError};
use crate::hashing::{HashedPath, TreeHasher};
use crate::meta::{ArtifactRecord, MetadataStore, SqliteStore};
use crate::objects::{LocalObjectStore, ObjectStore};
use rayon::prelude::*;
use slipway_core::{ArtifactKind, ArtifactRef, Digest, Manifest};
use std::fs;
use std::path::{Path, PathBuf};

/// Name of the directory that marks a Slipway project.
pub const DIR_NAME: &str = ".slipway";
const CONFIG_FILE: &str = "config.yaml";
const CONFIG_FORMAT: u32 = 1;

/// The workspace configuration (`.slipway/config.yaml`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Layout version of the `.slipway/` directory.
    pub format: u32,
    /// Where objects are stored.
    pub objects: BackendConfig,
    /// Where metadata is stored.
    pub metadata: BackendConfig,
}

/// One backend: its kind and location (relative paths are relative to `.slipway/`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// `local` for objects; `sqlite` for metadata.
    pub backend: String,
    /// Directory or file.
    pub path: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            format: CONFIG_FORMAT,
            objects: BackendConfig {
                backend: "local".into(),
                path: "objects".into(),
            },
            metadata: BackendConfig {
                backend: "sqlite".into(),
                path: "metadata.db".into(),
            },
        }
    }
}

/// An opened project: its root, configuration, object store and metadata store.
pub struct Workspace {
    root: PathBuf,
    dir: PathBuf,
    config: Config,
    objects: LocalObjectStore,
    meta: SqliteStore,
}

/// What storing a path produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The artifact (a manifest for a directory).
    pub artifact: ArtifactRef,
    /// Number of files in it.
    pub files: usize,
    /// Objects that were new to the store.
    pub new_objects: usize,
    /// Bytes of those new objects.
    pub new_bytes: u64,
}

impl Workspace {
    /// Creates `.slipway/` under `root` (or opens it if it exists). Returns the workspace and
    /// whether it was newly created.
    pub fn init(root: &Path) -> Result<(Workspace, bool)> {
        let dir = root.join(DIR_NAME);
        let config_path = dir.join(CONFIG_FILE);
        if config_path.exists() {
            return Ok((Workspace::open(root)?, false));
        }
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("create directory", &dir, e))?;
        let text = format!(
            "# Slipway workspace configuration. Paths are relative to this directory.\n{}",
            serde_saphyr::to_string(&Config::default()).map_err(|e| StoreError::Config {
                path: config_path.clone(),
                reason: e.to_string(),
            })?
        );
        // Everything in .slipway/ is local state (objects, database, logs): keep it out of git.
        let ignore = dir.join(".gitignore");
        fs::write(&ignore, "# slipway's local state; never commit it\n*\n")
            .map_err(|e| StoreError::io("write", &ignore, e))?;
        // Write the config last (atomically), so a half-initialised directory is re-initialised.
        let ws = Workspace::open_with(root, Config::default())?;
        let temp = dir.join("config.yaml.tmp");
        fs::write(&temp, text).map_err(|e| StoreError::io("write", &temp, e))?;
        fs::rename(&temp, &config_path).map_err(|e| StoreError::io("write", &config_path, e))?;
        Ok((ws, true))
    }

    /// Finds the project containing `start` (the nearest ancestor with `.slipway/`) and opens it.
    pub fn discover(start: &Path) -> Result<Workspace> {
        let start = crate::hashing::absolute(start)?;
        let mut dir = Some(start.as_path());
        while let Some(candidate) = dir {
            if candidate.join(DIR_NAME).join(CONFIG_FILE).is_file() {
                return Workspace::open(candidate);
            }
            dir = candidate.parent();
        }
        Err(StoreError::NotInitialized { start })
    }

    /// Opens the project rooted at `root`.
    pub fn open(root: &Path) -> Result<Workspace> {
        let config_path = root.join(DIR_NAME).join(CONFIG_FILE);
        if !config_path.is_file() {
            return Err(StoreError::NotInitialized {
                start: root.to_path_buf(),
            });
        }
        let text = fs::read_to_string(&config_path)
            .map_err(|e| StoreError::io("read", &config_path, e))?;
        let config: Config = serde_saphyr::from_str(&text).map_err(|e| StoreError::Config {
            path: config_path.clone(),
            reason: e.to_string(),
        })?;
        if config.format != CONFIG_FORMAT {
            return Err(StoreError::Config {
                path: config_path,
                reason: format!(
                    "format {} is not supported by this slipway (expected {CONFIG_FORMAT})",
                    config.format
                ),
            });
        }
        if config.objects.backend != "local" {
            return Err(StoreError::Config {
                path: config_path,
                reason: format!(
                    "objects.backend `{}` is not known; expected `local`",
                    config.objects.backend
                ),
            });
        }
        if config.metadata.backend != "sqlite" {
            return Err(StoreError::Config {
                path: config_path,
                reason: format!(
                    "metadata.backend `{}` is not known; expected `sqlite`",
                    config.metadata.backend
                ),
            });
        }
        Workspace::open_with(root, config)
    }

    fn open_with(root: &Path, config: Config) -> Result<Workspace> {
        let root = crate::hashing::absolute(root)?;
        let dir = root.join(DIR_NAME);
        let objects = LocalObjectStore::open(dir.join(&config.objects.path), dir.join("tmp"))?;
        let meta = SqliteStore::open(dir.join(&config.metadata.path))?;
        Ok(Workspace {
            root,
            dir,
            config,
            objects,
            meta,
        })
    }

    /// The project root (the directory containing `.slipway/`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `.slipway/` directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The object store.
    pub fn objects(&self) -> &LocalObjectStore {
        &self.objects
    }

    /// The metadata store.
    pub fn meta(&self) -> &SqliteStore {
        &self.meta
    }

    /// Stores a file or directory: hashes it (stat cache), puts every object not yet stored,
    /// records the artifact. `kind` defaults to `file` or `directory`.
    pub fn store_path(
        &self,
        path: &Path,
        kind: Option<ArtifactKind>,
        created_ms: i64,
    ) -> Result<Stored> {
        self.store_path_observed(path, kind, created_ms, &|_| {})
    }

    /// [`Workspace::store_path`], calling `on_bytes(n)` (from any thread) as bytes are hashed
    /// and as new objects are written, for progress display.
    pub fn store_path_observed(
        &self,
        path: &Path,
        kind: Option<ArtifactKind>,
        created_ms: i64,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<Stored> {
        let hasher = TreeHasher::new(&self.meta).with_progress(on_bytes);
        let hashed = hasher.hash(path)?;
        let (files, new_objects, new_bytes) = match &hashed {
            HashedPath::File { digest, size, .. } => {
                let fresh = self.put_checked(path, *digest)?;
                if fresh {
                    on_bytes(*size);
                }
                (1, fresh as usize, if fresh { *size } else { 0 })
            }
            HashedPath::Directory { manifest, digest } => {
                let base = crate::hashing::absolute(path)?;
                // Identical files inside the tree are stored once.
                let mut unique: Vec<&slipway_core::ManifestEntry> =
                    manifest.entries().iter().collect();
                unique.sort_by_key(|e| e.digest);
                unique.dedup_by_key(|e| e.digest);
                let results: Vec<(bool, u64)> = unique
                    .par_iter()
                    .map(|entry| {
                        let fresh =
                            self.put_checked(&base.join(entry.path.as_str()), entry.digest)?;
                        if fresh {
                            on_bytes(entry.size);
                        }
                        Ok((fresh, entry.size))
                    })
                    .collect::<Result<_>>()?;
                let put = self.objects.put_bytes(&manifest.to_canonical_bytes())?;
                debug_assert_eq!(put.digest, *digest);
                let new = results.iter().filter(|r| r.0).count() + put.newly_stored as usize;
                let bytes = results.iter().filter(|r| r.0).map(|r| r.1).sum();
                (manifest.entries().len(), new, bytes)
            }
        };
        let default_kind = match hashed {
            HashedPath::File { .. } => ArtifactKind::File,
            HashedPath::Directory { .. } => ArtifactKind::Directory,
        };
        let artifact = ArtifactRef {
            digest: hashed.digest(),
            size: hashed.size(),
            kind: kind.unwrap_or(default_kind),
            media_type: None,
        };
        self.meta.put_artifact(&ArtifactRecord {
            artifact: artifact.clone(),
            created_ms,
            source: Some(path.display().to_string()),
        })?;
        Ok(Stored {
            artifact,
            files,
            new_objects,
            new_bytes,
        })
    }

    /// Puts a file whose digest the hasher computed; the bytes actually stored must match it.
    fn put_checked(&self, path: &Path, expected: Digest) -> Result<bool> {
        if self.objects.has(&expected)? {
            return Ok(false);
        }
        let put = self.objects.put_file(path)?;
        if put.digest != expected {
            return Err(StoreError::BadPath {
                path: path.to_path_buf(),
                reason: "file changed while it was being stored; retry when it is no longer being written".into(),
            });
        }
        Ok(put.newly_stored)
    }

    /// Whether a stored object is a directory manifest.
    pub fn is_manifest(&self, digest: &Digest) -> Result<bool> {
        if let Some(record) = self.meta.artifact(digest)?
            && record.artifact.kind == ArtifactKind::Directory
        {
            return Ok(true);
        }
        let path = self.objects.object_path(digest);
        let mut prefix = [0u8; 32];
        let n = read_prefix(&path, &mut prefix).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::Missing(*digest),
            _ => StoreError::io("read", &path, e),
        })?;
        Ok(Manifest::looks_like_manifest(&prefix[..n]))
    }

    /// Reads and verifies a directory manifest.
    pub fn manifest(&self, digest: &Digest) -> Result<Manifest> {
        let bytes = self.objects.read_verified(digest)?;
        Manifest::from_bytes(&bytes).map_err(|source| StoreError::BadManifest {
            digest: *digest,
            source,
        })
    }

    /// Restores a stored file or directory to `dest`, verifying every byte. An existing `dest`
    /// is replaced. Restored files are not put in the stat cache: they are freshly written, so
    /// their mtimes fall in the racy window the cache refuses to trust.
    pub fn restore(&self, digest: &Digest, dest: &Path) -> Result<usize> {
        if self.is_manifest(digest)? {
            let manifest = self.manifest(digest)?;
            if dest.exists() {
                remove_path(dest)?;
            }
            fs::create_dir_all(dest).map_err(|e| StoreError::io("create directory", dest, e))?;
            manifest.entries().par_iter().try_for_each(|entry| {
                let target = dest.join(entry.path.as_str());
                self.objects
                    .restore_to(&entry.digest, &target, entry.executable)
            })?;
            Ok(manifest.entries().len())
        } else {
            if dest.is_dir() {
                remove_path(dest)?;
            }
            self.objects.restore_to(digest, dest, false)?;
            Ok(1)
        }
    }

    /// Re-hashes the given objects in parallel; returns the failures (corrupt or missing), in
    /// digest order. `on_done` is called once per object checked, from any thread.
    pub fn verify_objects(
        &self,
        digests: &[Digest],
        on_done: &(dyn Fn() + Sync),
    ) -> Vec<(Digest, StoreError)> {
        let mut failures: Vec<(Digest, StoreError)> = digests
            .par_iter()
            .filter_map(|d| {
                let result = self.objects.verify(d);
                on_done();
                result.err().map(|e| (*d, e))
            })
            .collect();
        failures.sort_by_key(|f| f.0);
        failures
    }

    /// Resolves user input to a digest: a full digest, a named reference, or a unique prefix
    /// (at least 6 hex characters) of a stored object.
    pub fn resolve(&self, text: &str) -> Result<Digest> {
        if let Ok(d) = text.parse::<Digest>() {
            return Ok(d);
        }
        if let Some(d) = self.meta.get_ref(text)? {
            return Ok(d);
        }
        let is_hex = text.len() >= 6 && text.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
        if is_hex {
            let matches: Vec<Digest> = self
                .objects
                .list()?
                .into_iter()
                .map(|o| o.digest)
                .filter(|d| d.to_hex().starts_with(text))
                .collect();
            match matches.len() {
                1 => return Ok(matches[0]),
                0 => {}
                n => {
                    return Err(StoreError::BadPath {
                        path: PathBuf::from(text),
                        reason: format!("digest prefix matches {n} objects; give more characters"),
                    });
                }
            }
        }
        Err(StoreError::BadPath {
            path: PathBuf::from(text),
            reason: "not a digest, a known reference name, or a prefix (6+ hex characters) of a stored object".into(),
        })
    }
}

fn read_prefix(path: &Path, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

fn remove_path(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).map_err(|e| StoreError::io("stat", path, e))?;
    if meta.is_dir() {
        fs::remove_dir_all(path).map_err(|e| StoreError::io("remove", path, e))
    } else {
        fs::remove_file(path).map_err(|e| StoreError::io("remove", path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_idempotent_and_discoverable() {
        let dir = tempfile::tempdir().unwrap();
        let (_, created) = Workspace::init(dir.path()).unwrap();
        assert!(created);
        let (_, created) = Workspace::init(dir.path()).unwrap();
        assert!(!created);
        let nested = dir.path().join("a/b");
        fs::create_dir_all(&nested).unwrap();
        let ws = Workspace::discover(&nested).unwrap();
        assert_eq!(ws.root(), crate::hashing::absolute(dir.path()).unwrap());
    }

    #[test]
    fn uninitialised_directory_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let err = Workspace::discover(dir.path()).err().expect("no workspace");
        let text = err.to_string();
        assert!(text.contains("slipway init"), "{text}");
    }

    #[test]
    fn bad_config_names_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        Workspace::init(dir.path()).unwrap();
        let config = dir.path().join(".slipway/config.yaml");
        fs::write(&config, "format: 1\nobjects: {backend: ftp, path: objects}\nmetadata: {backend: sqlite, path: metadata.db}\n").unwrap();
        let err = Workspace::open(dir.path()).err().expect("bad backend");
        let text = err.to_string();
        assert!(
            text.contains("config.yaml") && text.contains("ftp") && text.contains("local"),
            "{text}"
        );
    }

    #[test]
    fn store_and_restore_a_directory_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, _) = Workspace::init(dir.path()).unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(data.join("sub")).unwrap();
        fs::write(data.join("a.csv"), b"x,y\n1,2\n").unwrap();
        fs::write(data.join("sub/b.csv"), b"x,y\n1,2\n").unwrap(); // same bytes: stored once
        let stored = ws
            .store_path(&data, Some(ArtifactKind::Dataset), 1)
            .unwrap();
        assert_eq!(stored.files, 2);
        assert_eq!(
            stored.new_objects, 2,
            "one file object (deduplicated) plus the manifest"
        );
        let again = ws.store_path(&data, None, 2).unwrap();
        assert_eq!(again.new_objects, 0);
        assert_eq!(again.artifact.digest, stored.artifact.digest);

        let out = dir.path().join("restored");
        assert_eq!(ws.restore(&stored.artifact.digest, &out).unwrap(), 2);
        assert_eq!(fs::read(out.join("sub/b.csv")).unwrap(), b"x,y\n1,2\n");
        let rehash = TreeHasher::new(ws.meta()).hash(&out).unwrap();
        assert_eq!(rehash.digest(), stored.artifact.digest);
        assert_eq!(
            ws.resolve(&stored.artifact.digest.short(10)).unwrap(),
            stored.artifact.digest
        );
    }
}
