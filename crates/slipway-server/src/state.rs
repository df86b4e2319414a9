//! What every handler shares: the project's stores, the writer, the reader connections, the
//! request metrics and the limits. Built once by `main` and passed in; there are no globals.

use crate::error::ApiError;
use crate::observe::HttpMetrics;
use crate::writer::Writer;
use slipway_store::meta::{MetadataStore, SqliteStore, WriteOp, WriteOutcome};

use slipway_store::{StoreError, Workspace};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Size limits applied to requests.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest JSON body accepted, in bytes.
    pub json_body: usize,
    /// Largest artifact upload accepted, in bytes (uploads are streamed, never buffered).
    pub artifact_body: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            json_body: 16 << 20,
            artifact_body: 64 << 30,
        }
    }
}

/// Reader connections: SQLite in WAL mode lets readers run beside the writer, so reads never
/// wait for a commit's fsync.
const READERS: usize = 4;

/// The shared state of the server; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    workspace: Arc<Workspace>,
    readers: Vec<Arc<SqliteStore>>,
    next_reader: AtomicUsize,
    writer: Writer,
    /// The connection registry writes go through (transitions are short transactions of
    /// their own; SQLite's lock orders them with the tracker writer's group commits).
    registry: Arc<SqliteStore>,
    /// Whether the project has no users (single-user mode), and when that was last read (ms):
    /// re-read at most once a second so unauthenticated requests cost no query.
    single_user: std::sync::atomic::AtomicBool,
    single_user_checked_ms: std::sync::atomic::AtomicI64,
    metrics: HttpMetrics,
    limits: Limits,
    /// The serving gateway, once `serve` has started it.
    gateway: std::sync::OnceLock<Arc<crate::gateway::Gateway>>,
    /// Tokens verified in the last second.
    tokens: crate::auth::TokenCache,
    /// Why the gateway is not running, when it could not start.
    gateway_error: std::sync::OnceLock<String>,
}

impl AppState {
    /// Opens the stores of `workspace` and starts the writer thread (whose handle is returned;
    /// it ends once every clone of the state is dropped).
    pub fn open(
        workspace: Workspace,
        limits: Limits,
    ) -> Result<(AppState, std::thread::JoinHandle<()>), StoreError> {
        let db = workspace.meta().path().to_path_buf();
        let write_store = SqliteStore::open(&db)?;
        // Checkpoints run on their own connection and thread (see `writer`); the writer's own
        // automatic checkpoint stays only as a backstop far above the usual WAL size.
        write_store.set_wal_autocheckpoint(50_000)?;
        let checkpointer = SqliteStore::open(&db)?;
        let (writer, handle) = Writer::start(Arc::new(write_store), checkpointer);
        let readers = (0..READERS)
            .map(|_| SqliteStore::open(&db).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let registry = Arc::new(SqliteStore::open(&db)?);
        let state = AppState {
            inner: Arc::new(Inner {
                workspace: Arc::new(workspace),
                readers,
                next_reader: AtomicUsize::new(0),
                writer,
                registry,
                single_user: std::sync::atomic::AtomicBool::new(false),
                single_user_checked_ms: std::sync::atomic::AtomicI64::new(i64::MIN),
                metrics: HttpMetrics::default(),
                limits,
                gateway: std::sync::OnceLock::new(),
                tokens: crate::auth::TokenCache::default(),
                gateway_error: std::sync::OnceLock::new(),
            }),
        };
        Ok((state, handle))
    }

    /// The project.
    pub fn workspace(&self) -> &Arc<Workspace> {
        &self.inner.workspace
    }

    /// Request counters and latency histograms.
    pub fn metrics(&self) -> &HttpMetrics {
        &self.inner.metrics
    }

    /// Tokens verified in the last second.
    pub fn tokens(&self) -> &crate::auth::TokenCache {
        &self.inner.tokens
    }

    /// The serving gateway, if this server runs one.
    pub fn gateway(&self) -> Option<&Arc<crate::gateway::Gateway>> {
        self.inner.gateway.get()
    }

    /// Starts the serving gateway for this state (once; later calls return the running one's
    /// writer as `None`). Needs a Tokio runtime.
    pub fn start_gateway(
        &self,
    ) -> Result<Option<slipway_store::predlog::LogWriter>, crate::ServerError> {
        if self.inner.gateway.get().is_some() {
            return Ok(None);
        }
        match crate::gateway::Gateway::start(self) {
            Ok((gateway, writer)) => {
                let _ = self.inner.gateway.set(gateway);
                Ok(Some(writer))
            }
            Err(e) => {
                let _ = self.inner.gateway_error.set(e.to_string());
                Err(e)
            }
        }
    }

    /// Why the gateway is not running, if it failed to start.
    pub fn gateway_error(&self) -> Option<&str> {
        self.inner.gateway_error.get().map(String::as_str)
    }

    /// The request limits.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// Runs a read on a reader connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Workspace, &dyn MetadataStore) -> Result<T, ApiError> + Send + 'static,
    {
        let i = self.inner.next_reader.fetch_add(1, Ordering::Relaxed) % self.inner.readers.len();
        let reader = Arc::clone(&self.inner.readers[i]);
        let workspace = Arc::clone(&self.inner.workspace);
        tokio::task::spawn_blocking(move || f(&workspace, reader.as_ref()))
            .await
            .map_err(|e| ApiError::Internal(format!("read task failed: {e}")))?
    }

    /// Whether the project is in single-user mode (no users), read at most once a second.
    pub async fn single_user(&self) -> Result<bool, ApiError> {
        let now = slipway_store::now_ms();
        let checked = self.inner.single_user_checked_ms.load(Ordering::Relaxed);
        if now.saturating_sub(checked) < 1_000 {
            return Ok(self.inner.single_user.load(Ordering::Relaxed));
        }
        let single = self
            .registry_read(|store| {
                Ok(slipway_store::registry::RegistryStore::users(store)?.is_empty())
            })
            .await?;
        self.inner.single_user.store(single, Ordering::Relaxed);
        self.inner
            .single_user_checked_ms
            .store(now, Ordering::Relaxed);
        Ok(single)
    }

    /// Runs a registry read on a reader connection, off the async threads.
    pub async fn registry_read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteStore) -> Result<T, ApiError> + Send + 'static,
    {
        let i = self.inner.next_reader.fetch_add(1, Ordering::Relaxed) % self.inner.readers.len();
        let reader = Arc::clone(&self.inner.readers[i]);
        tokio::task::spawn_blocking(move || f(reader.as_ref()))
            .await
            .map_err(|e| ApiError::Internal(format!("read task failed: {e}")))?
    }

    /// Runs a registry write (one transaction, audit entry included) off the async threads.
    pub async fn registry_write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Workspace, &SqliteStore) -> Result<T, ApiError> + Send + 'static,
    {
        let store = Arc::clone(&self.inner.registry);
        let workspace = Arc::clone(&self.inner.workspace);
        tokio::task::spawn_blocking(move || f(&workspace, store.as_ref()))
            .await
            .map_err(|e| ApiError::Internal(format!("registry task failed: {e}")))?
    }

    /// Applies a write through the group-committing writer; returns once it is durable.
    pub async fn write(&self, op: WriteOp) -> Result<WriteOutcome, ApiError> {
        Ok(self.inner.writer.submit(op).await?)
    }
}
