//! The single tape writer: it owns the open segment and the chain head,
//! batches whatever is queued into one write (group commit), fsyncs per the
//! policy, and acknowledges each record only after the write it promised.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use super::chain::{self, Link, GENESIS};
use super::segments;
use super::verify::{self, ScanError};
use super::{Head, Receipt, TapeError, TapeMetrics, TapeRecord};
use crate::config::{FsyncPolicy, TapeSettings};

/// Largest number of records written in one group commit.
const MAX_BATCH: usize = 1024;

/// Under `batch` and `interval` nobody waits for the write, so after a group
/// commit the writer lets records accumulate this long: while it sleeps it is
/// not parked on the channel, and senders do not pay a wake-up each.
const COALESCE: Duration = Duration::from_millis(1);

// `Append` is the common, hot variant; boxing it would cost an allocation
// per request to shrink the rare `Sync`.
#[allow(clippy::large_enum_variant)]
pub(super) enum Msg {
    Append(
        TapeRecord,
        Option<oneshot::Sender<Result<Receipt, TapeError>>>,
    ),
    Sync(oneshot::Sender<Result<(), TapeError>>),
}

/// What start-up recovery did to the last segment.
#[derive(Debug, Clone)]
pub struct Recovery {
    /// The segment that had a torn last line.
    pub segment: String,
    /// Bytes removed from its end.
    pub truncated_bytes: u64,
}

pub(super) struct Writer {
    settings: TapeSettings,
    file: File,
    segment: u64,
    size: u64,
    seq: u64,
    prev: String,
    unsynced: u64,
    last_sync: Instant,
    buf: Vec<u8>,
    canonical: Vec<u8>,
    head: watch::Sender<Head>,
    metrics: TapeMetrics,
    /// Background fsyncs for `batch` and `interval`, so appends never wait on them.
    syncer: Option<std::sync::mpsc::Sender<File>>,
    /// Exclusive lock on the directory's `.lock` file: one writer per tape.
    _lock: File,
    /// Shared with the handles: the last write or fsync failed.
    failed: Arc<AtomicBool>,
}

impl Writer {
    /// Opens the tape directory, verifies the whole chain (every segment,
    /// from genesis or the configured anchor, every line in its canonical
    /// form), truncates a torn last line and positions the chain after the
    /// last good record.
    pub(super) fn open(
        settings: TapeSettings,
        metrics: TapeMetrics,
        failed: Arc<AtomicBool>,
    ) -> Result<(Writer, watch::Receiver<Head>, Option<Recovery>), TapeError> {
        let dir = settings.dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| TapeError::io(&dir, e))?;
        let lock = lock_dir(&dir)?;
        let existing = segments::list(&dir).map_err(|e| TapeError::io(&dir, e))?;
        let start = settings
            .anchor
            .clone()
            .unwrap_or_else(|| GENESIS.to_owned());
        let mut previous = Some(Link {
            seq: 0,
            row_hash: start.clone(),
            prev_hash: String::new(),
        });
        let mut recovery = None;
        for (i, (n, path)) in existing.iter().enumerate() {
            let last = i + 1 == existing.len();
            let mut records = 0;
            let scan = verify::scan_file(path, previous.clone(), &mut records)
                .map_err(|e| start_error(path, e, i == 0, &start, settings.anchor.is_some()))?;
            if scan.torn_bytes > 0 && !last {
                return Err(TapeError::Corrupt(format!(
                    "{}: an incomplete line in a closed segment; run `cpos tape verify {}`",
                    path.display(),
                    dir.display()
                )));
            }
            if scan.torn_bytes > 0 {
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| TapeError::io(path, e))?;
                file.set_len(scan.valid_len)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| TapeError::io(path, e))?;
                recovery = Some(Recovery {
                    segment: segments::segment_name(*n),
                    truncated_bytes: scan.torn_bytes,
                });
            }
            if scan.last.is_some() {
                previous = scan.last;
            }
        }
        let segment = existing.last().map_or(1, |(n, _)| *n);
        let previous = previous.filter(|l| l.seq > 0 || !l.prev_hash.is_empty());
        let path = dir.join(segments::segment_name(segment));
        let file = open_append(&path)?;
        let size = file.metadata().map_err(|e| TapeError::io(&path, e))?.len();
        let (seq, prev) = match previous {
            Some(Link { seq, row_hash, .. }) => (seq, row_hash),
            None => (0, start),
        };
        let (head, head_rx) = watch::channel(Head {
            seq,
            row_hash: prev.clone(),
            segment: segments::segment_name(segment),
        });
        metrics.head_seq.set(seq as i64);
        let writer = Writer {
            _lock: lock,
            settings,
            file,
            segment,
            size,
            seq,
            prev,
            unsynced: 0,
            last_sync: Instant::now(),
            buf: Vec::with_capacity(64 * 1024),
            canonical: Vec::with_capacity(1024),
            head,
            metrics,
            syncer: None,
            failed,
        };
        Ok((writer, head_rx, recovery))
    }

    /// Appends records synchronously (used before the writer task starts).
    pub(super) fn append_now(&mut self, record: TapeRecord) -> Result<Receipt, TapeError> {
        let receipt = self
            .commit(std::iter::once(record))
            .map(|mut r| r.remove(0))?;
        self.sync()?;
        Ok(receipt)
    }

    /// The writer loop: runs on its own thread until every sender is gone.
    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        if self.settings.fsync != FsyncPolicy::Always {
            self.syncer = spawn_syncer(self.metrics.clone());
        }
        let period = Duration::from_millis(self.settings.fsync_interval_ms.max(1));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            tokio::select! {
                n = rx.recv_many(&mut batch, MAX_BATCH) => {
                    if n == 0 {
                        break;
                    }
                    self.handle(&mut batch);
                    if self.settings.fsync != FsyncPolicy::Always {
                        tokio::time::sleep(COALESCE).await;
                    }
                }
                _ = tick.tick(), if self.settings.fsync == FsyncPolicy::Interval && self.unsynced > 0 => {
                    if let Err(e) = self.sync() {
                        self.failed.store(true, Ordering::Relaxed);
                        self.metrics.write_failures.inc();
                        tracing::error!(error = %e, "tape fsync failed");
                    }
                }
            }
        }
        if let Err(e) = self.sync() {
            tracing::error!(error = %e, "final tape fsync failed");
        }
    }

    fn handle(&mut self, batch: &mut Vec<Msg>) {
        let mut records = Vec::with_capacity(batch.len());
        let mut acks = Vec::with_capacity(batch.len());
        let mut syncs = Vec::new();
        for msg in batch.drain(..) {
            match msg {
                Msg::Append(record, ack) => {
                    records.push(record);
                    acks.push(ack);
                }
                Msg::Sync(ack) => syncs.push(ack),
            }
        }
        let mut result = self.commit(records.into_iter());
        let due = match self.settings.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::Batch => self.unsynced >= self.settings.fsync_batch_records,
            FsyncPolicy::Interval => {
                self.last_sync.elapsed().as_millis() as u64 >= self.settings.fsync_interval_ms
            }
        };
        if self.unsynced > 0 && (due || !syncs.is_empty()) {
            // `always` and explicit sync requests wait for the fsync;
            // scheduled fsyncs of the other policies run in the background.
            let synced = if syncs.is_empty() && self.settings.fsync != FsyncPolicy::Always {
                self.sync_in_background()
            } else {
                self.sync()
            };
            if let Err(e) = synced {
                result = Err(e);
            }
        }
        self.failed.store(result.is_err(), Ordering::Relaxed);
        if result.is_err() {
            self.metrics.write_failures.inc();
        }
        match result {
            Ok(receipts) => {
                for (ack, receipt) in acks.into_iter().zip(receipts) {
                    if let Some(ack) = ack {
                        let _ = ack.send(Ok(receipt));
                    }
                }
                for ack in syncs {
                    let _ = ack.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "tape append failed; records refused");
                for ack in acks.into_iter().flatten() {
                    let _ = ack.send(Err(e.clone()));
                }
                for ack in syncs {
                    let _ = ack.send(Err(e.clone()));
                }
            }
        }
    }

    /// Chains, serialises and writes records; on failure the file and the
    /// chain head are rolled back to where they were.
    fn commit(
        &mut self,
        records: impl Iterator<Item = TapeRecord>,
    ) -> Result<Vec<Receipt>, TapeError> {
        let (start_seq, start_prev, start_size) = (self.seq, self.prev.clone(), self.size);
        let mut receipts = Vec::new();
        self.buf.clear();
        for mut record in records {
            record.seq = self.seq + 1;
            record.ts = now_rfc3339();
            self.canonical.clear();
            super::encode::write_record(&mut self.canonical, &record);
            let hash = chain::row_hash(&self.prev, &self.canonical);
            let before = self.buf.len();
            chain::write_line(&mut self.buf, &self.prev, &hash, &self.canonical);
            let line_len = (self.buf.len() - before) as u64;
            if self.size + before as u64 + line_len > self.settings.segment_max_bytes
                && self.size + before as u64 > 0
            {
                // This line starts the next segment.
                let line = self.buf.split_off(before);
                if let Err(e) = self.flush_buf().and_then(|()| self.rotate()) {
                    self.rollback(start_seq, start_prev, start_size);
                    return Err(e);
                }
                self.buf = line;
            }
            self.seq = record.seq;
            self.prev = hash;
            receipts.push(Receipt { seq: record.seq });
        }
        if let Err(e) = self.flush_buf() {
            self.rollback(start_seq, start_prev, start_size);
            return Err(e);
        }
        self.metrics.appends.inc_by(receipts.len() as u64);
        self.metrics.head_seq.set(self.seq as i64);
        self.head.send_replace(Head {
            seq: self.seq,
            row_hash: self.prev.clone(),
            segment: segments::segment_name(self.segment),
        });
        Ok(receipts)
    }

    fn flush_buf(&mut self) -> Result<(), TapeError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.buf)
            .map_err(|e| TapeError::io(&self.path(), e))?;
        self.size += self.buf.len() as u64;
        self.unsynced += 1;
        self.buf.clear();
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), TapeError> {
        self.sync()?;
        self.segment += 1;
        let path = self.path();
        self.file = open_append(&path)?;
        self.size = 0;
        sync_dir(&self.settings.dir);
        Ok(())
    }

    fn rollback(&mut self, seq: u64, prev: String, size: u64) {
        self.buf.clear();
        self.seq = seq;
        self.prev = prev;
        // Only the current segment can hold a partial write.
        if self.size >= size {
            let _ = self.file.set_len(size);
            self.size = size;
        }
    }

    fn sync(&mut self) -> Result<(), TapeError> {
        let started = Instant::now();
        let path = self.path();
        self.file.sync_data().map_err(|e| TapeError::io(&path, e))?;
        self.metrics
            .fsync_seconds
            .observe(started.elapsed().as_secs_f64());
        self.unsynced = 0;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Hands an fsync to the syncer thread; falls back to an inline fsync.
    fn sync_in_background(&mut self) -> Result<(), TapeError> {
        let sent = match (&self.syncer, self.file.try_clone()) {
            (Some(syncer), Ok(file)) => syncer.send(file).is_ok(),
            _ => false,
        };
        if !sent {
            return self.sync();
        }
        self.unsynced = 0;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn path(&self) -> PathBuf {
        self.settings.dir.join(segments::segment_name(self.segment))
    }
}

/// A thread that fsyncs the file handles sent to it, coalescing a backlog
/// into one fsync.
fn spawn_syncer(metrics: TapeMetrics) -> Option<std::sync::mpsc::Sender<File>> {
    let (tx, rx) = std::sync::mpsc::channel::<File>();
    std::thread::Builder::new()
        .name("cpos-tape-sync".into())
        .spawn(move || {
            while let Ok(mut file) = rx.recv() {
                while let Ok(newer) = rx.try_recv() {
                    file = newer;
                }
                let started = Instant::now();
                if let Err(e) = file.sync_data() {
                    tracing::error!(error = %e, "background tape fsync failed");
                }
                metrics
                    .fsync_seconds
                    .observe(started.elapsed().as_secs_f64());
            }
        })
        .ok()
        .map(|_| tx)
}

/// Takes the tape directory's writer lock, or says who holds it.
fn lock_dir(dir: &Path) -> Result<File, TapeError> {
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| TapeError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(TapeError::Busy(dir.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(TapeError::io(&path, e)),
    }
}

fn open_append(path: &Path) -> Result<File, TapeError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TapeError::io(path, e))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A start-up verification failure, said in the operator's terms.
fn start_error(path: &Path, e: ScanError, first: bool, start: &str, anchored: bool) -> TapeError {
    if let (true, ScanError::Bad(f)) = (first, &e) {
        if f.line == 1 && f.reason.contains("prev_hash") {
            let (what, fix) = if anchored {
                ("the configured tape.anchor", "check tape.anchor")
            } else {
                (
                    "genesis",
                    "if older segments were archived on purpose, set tape.anchor to the first \
                     record's prev_hash; otherwise records were deleted",
                )
            };
            return TapeError::Corrupt(format!(
                "{} line 1: the tape does not start at {what} ({}…); {fix}",
                path.display(),
                &start[..start.len().min(16)]
            ));
        }
    }
    scan_error(path, e)
}

fn scan_error(path: &Path, e: ScanError) -> TapeError {
    match e {
        ScanError::Io(e) => TapeError::io(path, e),
        ScanError::Bad(f) => TapeError::Corrupt(format!(
            "{} line {} (seq {}): {}. Run `cpos tape verify {}`; to start a new chain, move the tape directory aside",
            f.file.display(),
            f.line,
            f.seq,
            f.reason,
            path.parent().unwrap_or(path).display()
        )),
    }
}

/// The current time as RFC 3339 UTC with microseconds.
pub fn now_rfc3339() -> String {
    rfc3339(std::time::SystemTime::now())
}

/// `at` as RFC 3339 UTC with microseconds. The date and time of day are
/// formatted once per second per thread (every record of the tape writer
/// needs one; `time`'s formatter costs more than the rest of a record).
fn rfc3339(at: std::time::SystemTime) -> String {
    use std::cell::RefCell;
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let since = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    SECOND.with_borrow_mut(|(cached, prefix)| {
        if *cached != secs {
            *prefix = time::OffsetDateTime::from_unix_timestamp(secs)
                .ok()
                .and_then(|t| t.format(TS_SECOND).ok())
                .unwrap_or_default();
            *cached = secs;
        }
        let mut out = String::with_capacity(prefix.len() + 8);
        out.push_str(prefix);
        out.push('.');
        let micros = since.subsec_micros();
        for place in [100_000, 10_000, 1_000, 100, 10, 1] {
            out.push(char::from(b'0' + (micros / place % 10) as u8));
        }
        out.push('Z');
        out
    })
}

const TS_SECOND: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_match_the_rfc3339_formatter() {
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        for micros in [
            0u64,
            1,
            999_999,
            1_733_140_000_123_456,
            4_102_444_799_999_999,
        ] {
            let at = UNIX_EPOCH + Duration::from_micros(micros);
            let want = time::OffsetDateTime::from(at).format(format).unwrap();
            assert_eq!(super::rfc3339(at), want);
            // The same second again: from the cached prefix.
            assert_eq!(super::rfc3339(at), want);
        }
    }
}
