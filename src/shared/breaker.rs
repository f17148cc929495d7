//! A circuit breaker in front of Redis: after `threshold` consecutive
//! failures it opens and every call fails at once for `cooldown`; then one
//! probe goes through, and its success closes the breaker again. A dead or
//! slow Redis therefore costs one timeout per cooldown, not one per request.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The breaker's state; lock-free (atomics only).
pub struct Breaker {
    threshold: u32,
    cooldown_ms: u64,
    epoch: Instant,
    failures: AtomicU32,
    /// Milliseconds since `epoch` until which calls are refused; 0 = closed.
    open_until: AtomicU64,
    probing: AtomicBool,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            cooldown_ms: cooldown.as_millis().max(1) as u64,
            epoch: Instant::now(),
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            probing: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// True when a call may be made now (closed, or this is the one probe
    /// after the cooldown).
    pub fn permit(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        self.now_ms() >= until
            && self
                .probing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// A call succeeded: the breaker closes.
    pub fn success(&self) {
        self.failures.store(0, Ordering::Release);
        self.open_until.store(0, Ordering::Release);
        self.probing.store(false, Ordering::Release);
    }

    /// A call failed (error or timeout): the breaker may open.
    pub fn failure(&self) {
        let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures >= self.threshold || self.probing.load(Ordering::Acquire) {
            self.open_until
                .store(self.now_ms() + self.cooldown_ms, Ordering::Release);
            self.probing.store(false, Ordering::Release);
        }
    }

    /// True while calls are being refused without trying.
    pub fn is_open(&self) -> bool {
        self.open_until.load(Ordering::Acquire) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_probes_once_after_cooldown_and_closes() {
        let breaker = Breaker::new(2, Duration::from_millis(30));
        assert!(breaker.permit());
        breaker.failure();
        assert!(
            breaker.permit() && !breaker.is_open(),
            "one failure: still closed"
        );
        breaker.failure();
        assert!(
            breaker.is_open() && !breaker.permit(),
            "open: refused at once"
        );
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.permit(), "the probe");
        assert!(!breaker.permit(), "only one probe at a time");
        breaker.failure();
        assert!(!breaker.permit(), "a failed probe reopens it");
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.permit());
        breaker.success();
        assert!(!breaker.is_open() && breaker.permit() && breaker.permit());
    }
}
