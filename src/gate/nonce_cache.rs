//! Replay protection: nonces seen per key, remembered until their timestamp
//! can no longer pass the skew window. Bounded; sharded so concurrent
//! requests rarely contend; insertion is atomic per nonce so two copies of
//! one request racing each other cannot both pass. Entries are a keyed
//! 128-bit hash of (key id, nonce), not the strings: ~40 bytes each.
//!
//! [`NonceStore`] is the seam a shared (Redis `SET NX PX`) backend implements.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;

/// A replay-protection backend.
pub trait NonceStore: Send + Sync {
    /// True when `nonce` was already used with `key_id` and is still remembered.
    fn seen(&self, key_id: &str, nonce: &str, now: i64) -> bool;
    /// Remembers `nonce` until `expires_at`; `Ok(false)` when it was already
    /// there (a replay racing this request), `Err` when the store is full.
    fn remember(
        &self,
        key_id: &str,
        nonce: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreFull>;
}

/// The nonce store is at capacity with unexpired entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFull;

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    expiry: HashMap<u128, i64>,
    order: VecDeque<(i64, u128)>,
}

impl Shard {
    fn evict(&mut self, now: i64) {
        while let Some((expires, _)) = self.order.front() {
            if *expires >= now {
                break;
            }
            if let Some((expires, key)) = self.order.pop_front() {
                if self.expiry.get(&key) == Some(&expires) {
                    self.expiry.remove(&key);
                }
            }
        }
    }
}

/// The in-process nonce store.
pub struct NonceCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    /// Two independently keyed SipHash instances: 128 bits of identity.
    hashers: [std::collections::hash_map::RandomState; 2],
}

impl NonceCache {
    /// A cache holding at most `capacity` nonces.
    pub fn new(capacity: usize) -> NonceCache {
        NonceCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hashers: Default::default(),
        }
    }

    /// The entry's identity and its shard.
    fn locate(&self, key_id: &str, nonce: &str) -> (u128, &Mutex<Shard>) {
        let half = |i: usize| {
            let mut h = self.hashers[i].build_hasher();
            key_id.hash(&mut h);
            nonce.hash(&mut h);
            h.finish()
        };
        let (hi, lo) = (half(0), half(1));
        let id = ((hi as u128) << 64) | lo as u128;
        (id, &self.shards[lo as usize % SHARDS])
    }
}

impl NonceStore for NonceCache {
    fn seen(&self, key_id: &str, nonce: &str, now: i64) -> bool {
        let (id, shard) = self.locate(key_id, nonce);
        let Ok(shard) = shard.lock() else {
            return true; // poisoned: fail closed
        };
        shard.expiry.get(&id).is_some_and(|e| *e >= now)
    }

    fn remember(
        &self,
        key_id: &str,
        nonce: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreFull> {
        let (key, shard) = self.locate(key_id, nonce);
        let Ok(mut shard) = shard.lock() else {
            return Err(StoreFull);
        };
        shard.evict(now);
        if shard.expiry.get(&key).is_some_and(|e| *e >= now) {
            return Ok(false);
        }
        if shard.expiry.len() >= self.per_shard {
            return Err(StoreFull);
        }
        shard.expiry.insert(key, expires_at);
        // Entries are evicted in insertion order; expiry times are close to
        // monotonic because the window bounds them (now ± window).
        shard.order.push_back((expires_at, key));
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_key_until_expiry() {
        let cache = NonceCache::new(100);
        assert!(!cache.seen("k1", "n", 1000));
        assert_eq!(cache.remember("k1", "n", 1000, 1300), Ok(true));
        assert!(cache.seen("k1", "n", 1200));
        assert!(!cache.seen("k2", "n", 1200), "nonces are per key");
        assert_eq!(
            cache.remember("k1", "n", 1200, 1500),
            Ok(false),
            "racing replay"
        );
        assert!(!cache.seen("k1", "n", 1301), "forgotten after the window");
        assert_eq!(cache.remember("k1", "n", 1301, 1600), Ok(true));
    }

    #[test]
    fn bounded_and_fails_closed_when_full() {
        let cache = NonceCache::new(SHARDS);
        let mut full = false;
        for i in 0..10 * SHARDS {
            if cache.remember("k", &i.to_string(), 0, 100) == Err(StoreFull) {
                full = true;
            }
        }
        assert!(full);
        // Once entries expire, room returns.
        assert_eq!(cache.remember("k", "later", 200, 500), Ok(true));
    }
}
