//! The single writer: one thread owns the write connection and commits writes in groups.
//!
//! Handlers send a [`WriteOp`] and wait for its outcome. The writer takes the first waiting op,
//! then everything else already queued (up to a bound), applies them all in one transaction —
//! each op in its own savepoint, so one refusal does not affect the others — commits once (one
//! fsync for the whole group), and only then answers each waiter. Under load the group grows by
//! itself: while one commit syncs, the next group queues up. Nobody ever sees "database is
//! locked", and every acknowledged write is on disk.
//!
//! Copying the write-ahead log back into the database file (checkpointing) is done by a second
//! thread on its own connection, a few times a second, so a commit never waits for it.

use slipway_store::meta::{
    MetaError, MetaResult, MetadataStore, SqliteStore, WriteOp, WriteOutcome,
};
use std::sync::Arc;
use std::time::Duration;

/// How often the background checkpoint runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
use tokio::sync::{mpsc, oneshot};

/// Most ops in one group commit.
const MAX_GROUP_OPS: usize = 4096;
/// Most metric points in one group commit (bounds the transaction's size and latency).
const MAX_GROUP_POINTS: usize = 200_000;
/// Requests that may wait for the writer; beyond this, senders wait (backpressure).
const QUEUE: usize = 16_384;

struct Job {
    op: WriteOp,
    reply: oneshot::Sender<MetaResult<WriteOutcome>>,
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread over `store`, and a checkpoint thread over `checkpointer` (a
    /// second connection to the same database). Both end when every handle is dropped, after
    /// applying what was queued; the returned handle joins both.
    pub fn start(
        store: Arc<dyn MetadataStore>,
        checkpointer: SqliteStore,
    ) -> (Writer, std::thread::JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let checkpoints = std::thread::Builder::new()
            .name("slipway-checkpoint".into())
            .spawn(move || {
                // Ends when the writer drops `stop`; a failed checkpoint is retried next time
                // (the writer's own automatic checkpoint is the backstop).
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(e) = checkpointer.checkpoint() {
                        tracing::warn!(error = %e, "Background checkpoint failed; will retry.");
                    }
                }
                let _ = checkpointer.checkpoint();
            })
            .expect("the checkpoint thread starts");
        let handle = std::thread::Builder::new()
            .name("slipway-writer".into())
            .spawn(move || {
                run(store, receiver);
                drop(stop);
                let _ = checkpoints.join();
            })
            .expect("the writer thread starts");
        (Writer { queue }, handle)
    }

    /// Applies one write; returns after it is committed (or refused).
    pub async fn submit(&self, op: WriteOp) -> MetaResult<WriteOutcome> {
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Job { op, reply }).await.is_err() {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> MetaError {
    MetaError::Invalid("the server is shutting down and accepts no more writes".into())
}

fn weight(op: &WriteOp) -> usize {
    match op {
        WriteOp::LogBatch { metrics, .. } => metrics.len().max(1),
        _ => 1,
    }
}

fn run(store: Arc<dyn MetadataStore>, mut receiver: mpsc::Receiver<Job>) {
    while let Some(first) = receiver.blocking_recv() {
        let mut points = weight(&first.op);
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP_OPS && points < MAX_GROUP_POINTS {
            match receiver.try_recv() {
                Ok(job) => {
                    points += weight(&job.op);
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let (ops, replies): (Vec<WriteOp>, Vec<_>) =
            jobs.into_iter().map(|j| (j.op, j.reply)).unzip();
        match store.apply(&ops) {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(group_error) => {
                // The group's transaction failed as a whole (e.g. the disk is full, or another
                // process held the database past the busy timeout). Nothing of it was written;
                // apply each op alone so that each waiter gets its own, precise answer.
                tracing::warn!(ops = ops.len(), error = %group_error, "Group commit failed; applying its writes one by one.");
                for (op, reply) in ops.into_iter().zip(replies) {
                    let _ = reply.send(store.apply_one(op));
                }
            }
        }
    }
}
