//! The decision tape: an append-only, hash-chained, metadata-only JSON Lines
//! log with one record per request. See docs/TAPE.md for the format.

pub mod chain;
mod encode;
mod record;
mod segments;
pub mod verify;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{mpsc, oneshot, watch};

pub use chain::{row_hash, GENESIS};
pub use record::{ActionSummary, Outcome, TapeRecord};
pub use segments::{expand as expand_paths, list as list_segments};
pub use writer::{now_rfc3339, Recovery};

use crate::config::TapeSettings;

/// Why an append or the tape itself failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TapeError {
    /// A file operation failed.
    #[error("tape I/O error: {0}")]
    Io(String),
    /// Another process holds the directory's writer lock.
    #[error(
        "{0}: another cpos process is writing this tape; give each process its own [tape] dir"
    )]
    Busy(String),
    /// An existing segment does not verify.
    #[error("tape is corrupt: {0}")]
    Corrupt(String),
    /// The writer has stopped (shutdown or a fatal error).
    #[error("tape writer has stopped")]
    Closed,
    /// The writer's queue stayed full for longer than an answer may wait.
    #[error("tape queue is full")]
    QueueFull,
}

impl TapeError {
    fn io(path: &Path, e: std::io::Error) -> Self {
        TapeError::Io(format!("{}: {e}", path.display()))
    }
}

/// Proof that a decision's record was accepted by the tape: the only way to
/// get one is [`Tape::write_ahead`], and forwarding, sandbox runs and held-call
/// releases take it as an argument — nothing runs unrecorded, by construction.
#[derive(Debug)]
pub struct Recorded {
    _private: (),
}

impl Recorded {
    /// For the operator's own CLI runs (`cpos sandbox validate`): not an
    /// agent's action, and no tape of the sidecar's to put it on.
    pub(crate) fn operator_cli() -> Recorded {
        Recorded { _private: () }
    }
}

/// How long an answer may wait for room in the writer's queue.
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What the writer promises once a record is acknowledged.
#[derive(Debug, Clone, Copy)]
pub struct Receipt {
    /// The record's seq.
    pub seq: u64,
}

/// The chain head, published after every group commit.
#[derive(Debug, Clone)]
pub struct Head {
    /// Seq of the last record written.
    pub seq: u64,
    /// Its `row_hash` (the genesis hash when the tape is empty).
    pub row_hash: String,
    /// The segment being written.
    pub segment: String,
}

/// Metrics the writer updates.
#[derive(Clone)]
pub struct TapeMetrics {
    /// Records appended.
    pub appends: Counter,
    /// fsync latency.
    pub fsync_seconds: Histogram,
    /// Seq of the chain head.
    pub head_seq: Gauge,
    /// Writes or fsyncs that failed.
    pub write_failures: Counter,
}

impl Default for TapeMetrics {
    fn default() -> Self {
        TapeMetrics {
            appends: Counter::default(),
            fsync_seconds: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.000_025, 2.0, 20),
            ),
            head_seq: Gauge::default(),
            write_failures: Counter::default(),
        }
    }
}

/// Handle to the tape writer; cheap to clone.
#[derive(Clone)]
pub struct Tape {
    tx: mpsc::Sender<writer::Msg>,
    head: watch::Receiver<Head>,
    /// `fsync = "always"`: answers wait for the write and the fsync.
    durable: bool,
    /// Set by the writer when a write or fsync failed, cleared by the next
    /// successful one; while set, every record waits for its write.
    failed: Arc<AtomicBool>,
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape")
            .field("durable", &self.durable)
            .field("healthy", &self.is_healthy())
            .finish_non_exhaustive()
    }
}

/// The running writer thread; join it after the last handle is dropped.
pub struct TapeThread(std::thread::JoinHandle<()>);

impl TapeThread {
    /// Waits for the writer to drain, fsync and exit.
    pub fn join(self) {
        let _ = self.0.join();
    }
}

impl Tape {
    /// Opens (and if needed recovers) the tape and starts its writer thread.
    pub fn open(
        settings: &TapeSettings,
        metrics: TapeMetrics,
    ) -> Result<(Tape, TapeThread, Option<Recovery>), TapeError> {
        let failed = Arc::new(AtomicBool::new(false));
        let (mut writer, head, recovery) =
            writer::Writer::open(settings.clone(), metrics, failed.clone())?;
        if let Some(r) = &recovery {
            writer.append_now(TapeRecord {
                event: "tape_recovered",
                detail: Some(serde_json::json!({
                    "segment": r.segment,
                    "truncated_bytes": r.truncated_bytes,
                })),
                ..TapeRecord::default()
            })?;
        }
        let (tx, rx) = mpsc::channel(settings.queue_capacity);
        let thread = std::thread::Builder::new()
            .name("cpos-tape".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build();
                match runtime {
                    Ok(rt) => rt.block_on(writer.run(rx)),
                    Err(e) => tracing::error!(error = %e, "tape writer runtime failed"),
                }
            })
            .map_err(|e| TapeError::Io(format!("starting the tape writer: {e}")))?;
        let durable = settings.fsync == crate::config::FsyncPolicy::Always;
        Ok((
            Tape {
                tx,
                head,
                durable,
                failed,
            },
            TapeThread(thread),
            recovery,
        ))
    }

    /// Records a decision before its answer is given: under `fsync =
    /// "always"` this waits until the record is written and fsynced; under
    /// `batch` and `interval` it waits until the writer holds it (so a slow
    /// disk never stalls answers), back-pressured by `queue_capacity`.
    ///
    /// The common case — a healthy writer with room in its queue — is
    /// settled when this is called, without a timer or a waker: the
    /// returned future is then ready at once (and small, so the request
    /// futures that hold it stay small).
    pub fn record(
        &self,
        record: TapeRecord,
    ) -> impl std::future::Future<Output = Result<(), TapeError>> + Send + '_ {
        use futures_util::future::{ready, Either};
        if self.durable || self.failed.load(Ordering::Relaxed) {
            return Either::Right(
                Box::pin(async move { self.append(record).await.map(|_| ()) })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>>,
            );
        }
        match self.tx.try_send(writer::Msg::Append(record, None)) {
            Ok(()) => Either::Left(ready(Ok(()))),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Either::Left(ready(Err(TapeError::Closed)))
            }
            // A full queue: wait for room, at most `QUEUE_WAIT`.
            Err(mpsc::error::TrySendError::Full(msg)) => Either::Right(Box::pin(async move {
                match tokio::time::timeout(QUEUE_WAIT, self.tx.send(msg)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(_)) => Err(TapeError::Closed),
                    Err(_) => Err(TapeError::QueueFull),
                }
            })),
        }
    }

    /// Records a decision before it is acted on and hands out the proof that
    /// it was: durable under `fsync = "always"`, held by a healthy writer
    /// otherwise (after a failed write, written before anything runs).
    pub fn write_ahead(
        &self,
        record: TapeRecord,
    ) -> impl std::future::Future<Output = Result<Recorded, TapeError>> + Send + '_ {
        let recorded = self.record(record);
        async move {
            recorded.await?;
            Ok(Recorded { _private: () })
        }
    }

    /// Records without waiting (for a request whose client went away while
    /// it ran: its outcome is still recorded, from a destructor).
    pub fn record_detached(&self, record: TapeRecord) {
        if self.tx.try_send(writer::Msg::Append(record, None)).is_err() {
            tracing::error!("tape queue full or closed; an outcome record was lost");
        }
    }

    /// Records waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// False after a failed write until a write succeeds again, or once the
    /// writer has stopped: readiness reports it.
    pub fn is_healthy(&self) -> bool {
        !self.failed.load(Ordering::Relaxed) && self.is_open()
    }

    /// Appends a record and waits until it is written (and fsynced under
    /// `fsync = "always"`).
    pub async fn append(&self, record: TapeRecord) -> Result<Receipt, TapeError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(writer::Msg::Append(record, Some(ack)))
            .await
            .map_err(|_| TapeError::Closed)?;
        done.await.map_err(|_| TapeError::Closed)?
    }

    /// Forces everything appended so far to stable storage.
    pub async fn sync(&self) -> Result<(), TapeError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(writer::Msg::Sync(ack))
            .await
            .map_err(|_| TapeError::Closed)?;
        done.await.map_err(|_| TapeError::Closed)?
    }

    /// The current chain head.
    pub fn head(&self) -> Head {
        self.head.borrow().clone()
    }

    /// True while the writer thread is alive.
    pub fn is_open(&self) -> bool {
        !self.tx.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FsyncPolicy;

    fn settings(dir: &Path, segment_max_bytes: u64) -> TapeSettings {
        TapeSettings {
            dir: dir.to_path_buf(),
            fsync: FsyncPolicy::Always,
            fsync_interval_ms: 1000,
            fsync_batch_records: 10,
            segment_max_bytes,
            queue_capacity: 64,
            anchor: None,
        }
    }

    fn record() -> TapeRecord {
        TapeRecord {
            event: "request",
            request_id: Some("r".into()),
            ..TapeRecord::default()
        }
    }

    /// A handle on a writer that reads nothing until the test lets it.
    fn stalled(capacity: usize) -> (Tape, mpsc::Receiver<writer::Msg>) {
        let (tx, rx) = mpsc::channel(capacity);
        let (_head_tx, head) = watch::channel(Head {
            seq: 0,
            row_hash: GENESIS.into(),
            segment: String::new(),
        });
        let tape = Tape {
            tx,
            head,
            durable: false,
            failed: Arc::new(AtomicBool::new(false)),
        };
        (tape, rx)
    }

    #[tokio::test]
    async fn a_full_queue_waits_for_room_then_refuses() {
        let (tape, mut rx) = stalled(1);
        // Room: settled at once.
        tape.record(record()).await.unwrap();
        // Full, and the writer frees a slot 100 ms later: the record waits
        // for it and is taken.
        let started = std::time::Instant::now();
        let (first, second) = tokio::join!(tape.record(record()), async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            rx.recv().await
        });
        first.unwrap();
        assert!(second.is_some());
        assert!(started.elapsed() >= std::time::Duration::from_millis(90));
        // Full and nobody reads: refused after the queue wait, nothing lost
        // silently.
        let refused = tape.record(record()).await;
        assert!(matches!(refused, Err(TapeError::QueueFull)), "{refused:?}");
        // Closed: refused at once.
        drop(rx);
        let closed = tape.record(record()).await;
        assert!(matches!(closed, Err(TapeError::Closed)), "{closed:?}");
    }

    #[tokio::test]
    async fn appends_chain_across_segments_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path(), 4096);
        let (tape, thread, _) = Tape::open(&s, TapeMetrics::default()).unwrap();
        for i in 1..=40 {
            assert_eq!(tape.append(record()).await.unwrap().seq, i);
        }
        drop(tape);
        thread.join();
        assert!(
            list_segments(dir.path()).unwrap().len() > 1,
            "rotation happened"
        );
        let (tape, thread, recovery) = Tape::open(&s, TapeMetrics::default()).unwrap();
        assert!(recovery.is_none());
        assert_eq!(tape.append(record()).await.unwrap().seq, 41);
        drop(tape);
        thread.join();
        let report = verify::verify_files(&expand_paths(&[dir.path().into()]).unwrap()).unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.records, 41);
        assert!(report.from_genesis);
    }

    #[tokio::test]
    async fn interval_records_handed_over_are_all_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path(), 1 << 20);
        s.fsync = FsyncPolicy::Interval;
        s.fsync_interval_ms = 5;
        let (tape, thread, _) = Tape::open(&s, TapeMetrics::default()).unwrap();
        assert!(tape.is_healthy());
        for _ in 0..500 {
            tape.record(record()).await.unwrap();
        }
        tape.sync().await.unwrap();
        assert_eq!(tape.head().seq, 500);
        drop(tape);
        thread.join();
        let report = verify::verify_files(&expand_paths(&[dir.path().into()]).unwrap()).unwrap();
        assert!(report.ok && report.records == 500, "{report:?}");
    }

    #[tokio::test]
    async fn a_torn_tail_is_truncated_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path(), 1 << 20);
        let (tape, thread, _) = Tape::open(&s, TapeMetrics::default()).unwrap();
        tape.append(record()).await.unwrap();
        drop(tape);
        thread.join();
        let path = dir.path().join(segments::segment_name(1));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let torn = b"{\"_chain\":{\"algo\":\"sha";
        std::io::Write::write_all(&mut f, torn).unwrap();
        let (tape, thread, recovery) = Tape::open(&s, TapeMetrics::default()).unwrap();
        assert_eq!(recovery.unwrap().truncated_bytes, torn.len() as u64);
        assert_eq!(tape.append(record()).await.unwrap().seq, 3);
        drop(tape);
        thread.join();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().nth(1).unwrap().contains("tape_recovered"));
        let report = verify::verify_files(&[path]).unwrap();
        assert!(report.ok && report.records == 3, "{report:?}");
    }

    #[tokio::test]
    async fn a_tampered_segment_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path(), 1 << 20);
        let (tape, thread, _) = Tape::open(&s, TapeMetrics::default()).unwrap();
        for _ in 0..3 {
            tape.append(record()).await.unwrap();
        }
        drop(tape);
        thread.join();
        let path = dir.path().join(segments::segment_name(1));
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"r\"", "\"x\"", 2)).unwrap();
        let err = Tape::open(&s, TapeMetrics::default()).err().unwrap();
        assert!(err.to_string().contains("line 1 (seq 1)"), "{err}");
    }
}
