//! Gives memory back to the operating system after many connections close
//! or are parked (and sets glibc's allocator up for a proxy's allocations:
//! [`configure_allocator`]).
//!
//! A busy connection holds some tens of KiB (hyper's read and write
//! buffers, its task); a parked one (an idle keep-alive connection, see
//! `connection`) only its socket and task. glibc keeps what they freed in
//! its arenas, so one burst of 10,000 connections would leave the process
//! at its peak size for good. When the busy or the open connections have
//! fallen well below their peak, `malloc_trim` hands the free pages back,
//! on a blocking thread so the async workers never wait for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{watch, Semaphore};

/// How often the connection counts are compared with their peaks.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Fewer closed connections than this are not worth a trim.
const MIN_CLOSED: usize = 256;

/// Open connections of one listener (read off its connection permits), the
/// busy ones among them (not parked), and the peaks of both since the last
/// trim.
#[derive(Debug)]
pub(super) struct ConnectionCount {
    permits: Arc<Semaphore>,
    max: usize,
    parked: AtomicUsize,
    peak_open: AtomicUsize,
    peak_busy: AtomicUsize,
    /// `cpos_parked_connections`, when metrics are on.
    parked_gauge: Option<Gauge>,
}

impl ConnectionCount {
    /// Counts what `permits`, a semaphore of `max` permits, has handed out;
    /// parked connections are also shown on `parked_gauge`.
    pub(super) fn new(
        permits: Arc<Semaphore>,
        max: usize,
        parked_gauge: Option<Gauge>,
    ) -> ConnectionCount {
        ConnectionCount {
            permits,
            max,
            parked: AtomicUsize::new(0),
            peak_open: AtomicUsize::new(0),
            peak_busy: AtomicUsize::new(0),
            parked_gauge,
        }
    }

    fn open(&self) -> usize {
        self.max.saturating_sub(self.permits.available_permits())
    }

    fn busy(&self) -> usize {
        self.open()
            .saturating_sub(self.parked.load(Ordering::Relaxed))
    }

    /// Notes a connection accepted (its permit held).
    pub(super) fn accepted(&self) {
        self.peak_open.fetch_max(self.open(), Ordering::Relaxed);
        self.peak_busy.fetch_max(self.busy(), Ordering::Relaxed);
    }

    /// Notes a connection parked: open, its buffers freed.
    pub(super) fn park(&self) {
        self.parked.fetch_add(1, Ordering::Relaxed);
        if let Some(g) = &self.parked_gauge {
            g.inc();
        }
    }

    /// Notes a parked connection busy again (or closing).
    pub(super) fn unpark(&self) {
        self.parked.fetch_sub(1, Ordering::Relaxed);
        if let Some(g) = &self.parked_gauge {
            g.dec();
        }
        self.peak_busy.fetch_max(self.busy(), Ordering::Relaxed);
    }
}

/// True when a count has fallen far enough below its peak that what the
/// connections freed is worth returning: by at least [`MIN_CLOSED`], and
/// to half the peak.
fn worth_trimming(peak: usize, now: usize) -> bool {
    peak >= now + MIN_CLOSED && now <= peak / 2
}

/// Runs until `shutdown`: every [`CHECK_EVERY`], trims when
/// [`worth_trimming`] says so of the busy connections (many parked or
/// closed) or of the open ones (many closed, parked ones too), then
/// measures the next peaks from now.
pub(super) async fn trim_after_closes(
    count: Arc<ConnectionCount>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let (open, busy) = (count.open(), count.busy());
        let peak_open = count.peak_open.load(Ordering::Relaxed);
        let peak_busy = count.peak_busy.load(Ordering::Relaxed);
        if !worth_trimming(peak_busy, busy) && !worth_trimming(peak_open, open) {
            continue;
        }
        count.peak_open.store(open, Ordering::Relaxed);
        count.peak_busy.store(busy, Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(release_free_memory).await;
        tracing::debug!(
            open,
            busy,
            peak_open,
            peak_busy,
            "connections closed or parked; freed memory returned to the OS"
        );
    }
}

/// Turns off glibc's fast bins (glibc only; elsewhere a no-op). Every
/// request allocates hyper's 8 KiB read buffers, and an allocation that
/// size first merges every fast-bin chunk back into the heap
/// (`malloc_consolidate`, twice per proxied request); without fast bins,
/// small frees beyond the per-thread cache are merged as they are freed.
/// Measured: 151.8k → 149.4k instructions per proxied JSON POST, and the
/// memory figures of `benches/memory.rs` unchanged (docs/PERFORMANCE.md).
pub fn configure_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's own tuning parameters.
    unsafe {
        libc::mallopt(libc::M_MXFAST, 0);
    }
}

/// Returns free heap pages to the OS (glibc only; elsewhere a no-op).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_only_after_many_connections_closed() {
        // A burst of 10,000 that has closed: trim.
        assert!(worth_trimming(10_000, 0));
        assert!(worth_trimming(10_000, 5_000));
        // Half still open, or too few closed to matter: leave it.
        assert!(!worth_trimming(10_000, 5_001));
        assert!(!worth_trimming(300, 100));
        assert!(!worth_trimming(0, 0));
        let permits = Arc::new(Semaphore::new(10));
        let count = ConnectionCount::new(permits.clone(), 10, None);
        let mut held: Vec<_> = (0..3)
            .map(|_| {
                let permit = permits.clone().try_acquire_owned().unwrap();
                count.accepted();
                permit
            })
            .collect();
        held.pop();
        assert_eq!(count.busy(), 2);
        assert_eq!(count.peak_open.load(Ordering::Relaxed), 3);
        assert_eq!(count.peak_busy.load(Ordering::Relaxed), 3);
        // A parked connection is open but not busy; woken, it counts again.
        count.park();
        assert_eq!(count.busy(), 1);
        count.unpark();
        assert_eq!(count.busy(), 2);
    }
}
