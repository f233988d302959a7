//! Token buckets, in milliseconds of the caller's clock.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

use vigil_proto::UnixMillis;

/// Capacity and refill of one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Largest burst, in messages.
    pub burst: u32,
    /// Sustained messages per second.
    pub per_second: f64,
}

#[derive(Debug, Clone)]
pub struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    updated_at: Option<UnixMillis>,
}

impl TokenBucket {
    pub fn new(limit: RateLimit) -> Self {
        TokenBucket { limit, tokens: f64::from(limit.burst), updated_at: None }
    }

    /// Takes one token, or says after how many ms one will be available.
    pub fn try_take(&mut self, now: UnixMillis) -> Result<(), u64> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if self.limit.per_second <= 0.0 {
            Err(u64::MAX)
        } else {
            let wait_s = (1.0 - self.tokens) / self.limit.per_second;
            Err((wait_s * 1000.0).ceil() as u64)
        }
    }

    /// Whether the bucket has refilled completely by `now`: forgetting it
    /// then loses nothing, as a new bucket starts full.
    pub fn is_full_at(&self, now: UnixMillis) -> bool {
        let elapsed_ms = self.updated_at.map_or(0, |prev| now.saturating_sub(prev).max(0)) as f64;
        self.tokens + elapsed_ms / 1000.0 * self.limit.per_second >= f64::from(self.limit.burst)
    }

    fn refill(&mut self, now: UnixMillis) {
        if let Some(prev) = self.updated_at {
            // A clock that steps backwards must not mint tokens.
            let elapsed_ms = now.saturating_sub(prev).max(0) as f64;
            self.tokens = (self.tokens + elapsed_ms / 1000.0 * self.limit.per_second).min(f64::from(self.limit.burst));
        }
        self.updated_at = Some(self.updated_at.map_or(now, |p| p.max(now)));
    }
}

/// One token bucket per key (a client address, say), with a bounded number
/// of keys so that many distinct keys cannot grow memory without end.
#[derive(Debug)]
pub struct KeyedBuckets<K> {
    limit: RateLimit,
    max_keys: usize,
    buckets: HashMap<K, TokenBucket>,
    last_sweep: Option<UnixMillis>,
}

/// What [`KeyedBuckets::try_take`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyedTake {
    Admitted,
    /// Over the key's rate; a token is available after this many ms.
    Refused {
        retry_after_ms: u64,
    },
    /// Every slot is held by a key that is still refilling: this key is
    /// admitted untracked. Per-key limiting is a backstop to the per-token
    /// limits, and refusing unknown keys here would lock out newcomers
    /// (a school's next student) whenever someone fills the table.
    Untracked,
}

impl<K: Eq + Hash + Clone> KeyedBuckets<K> {
    /// A full sweep of refilled buckets runs at most this often.
    const SWEEP_EVERY_MS: i64 = 1_000;

    pub fn new(limit: RateLimit, max_keys: usize) -> Self {
        KeyedBuckets { limit, max_keys: max_keys.max(1), buckets: HashMap::new(), last_sweep: None }
    }

    pub fn try_take(&mut self, key: &K, now: UnixMillis) -> KeyedTake {
        if let Some(bucket) = self.buckets.get_mut(key) {
            return match bucket.try_take(now) {
                Ok(()) => KeyedTake::Admitted,
                Err(wait) => KeyedTake::Refused { retry_after_ms: wait },
            };
        }
        if self.buckets.len() >= self.max_keys {
            self.sweep(now);
        }
        if self.buckets.len() >= self.max_keys {
            return KeyedTake::Untracked;
        }
        let mut bucket = TokenBucket::new(self.limit);
        let taken = bucket.try_take(now);
        self.buckets.insert(key.clone(), bucket);
        match taken {
            Ok(()) => KeyedTake::Admitted,
            Err(wait) => KeyedTake::Refused { retry_after_ms: wait },
        }
    }

    /// Keys currently tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Forgets buckets that have refilled (rate-limited to once a second, as
    /// it walks every key).
    fn sweep(&mut self, now: UnixMillis) {
        if self.last_sweep.is_some_and(|t| now >= t && now - t < Self::SWEEP_EVERY_MS) {
            return;
        }
        self.last_sweep = Some(now);
        self.buckets.retain(|_, b| !b.is_full_at(now));
    }
}

/// The part of a client's address that one party controls: an IPv4 address,
/// or an IPv6 /64 (one home or host gets a whole /64, so single IPv6
/// addresses would cost an attacker nothing). IPv4-mapped IPv6 is IPv4.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let mut b = TokenBucket::new(RateLimit { burst: 3, per_second: 2.0 });
        for _ in 0..3 {
            assert!(b.try_take(0).is_ok());
        }
        assert_eq!(b.try_take(0), Err(500));
        assert!(b.try_take(500).is_ok());
        assert!(b.try_take(500).is_err());
    }

    #[test]
    fn clock_going_backwards_mints_nothing() {
        let mut b = TokenBucket::new(RateLimit { burst: 1, per_second: 1.0 });
        assert!(b.try_take(10_000).is_ok());
        assert!(b.try_take(0).is_err());
        assert!(b.try_take(10_500).is_err());
        assert!(b.try_take(11_000).is_ok());
    }

    #[test]
    fn keyed_buckets_limit_each_key_on_its_own() {
        let mut k = KeyedBuckets::new(RateLimit { burst: 2, per_second: 1.0 }, 10);
        assert_eq!(k.try_take(&"a", 0), KeyedTake::Admitted);
        assert_eq!(k.try_take(&"a", 0), KeyedTake::Admitted);
        assert_eq!(k.try_take(&"a", 0), KeyedTake::Refused { retry_after_ms: 1_000 });
        assert_eq!(k.try_take(&"b", 0), KeyedTake::Admitted);
        assert_eq!(k.try_take(&"a", 1_000), KeyedTake::Admitted);
    }

    #[test]
    fn a_full_table_forgets_refilled_keys_and_admits_the_rest_untracked() {
        let mut k = KeyedBuckets::new(RateLimit { burst: 1, per_second: 1.0 }, 2);
        assert_eq!(k.try_take(&1, 0), KeyedTake::Admitted);
        assert_eq!(k.try_take(&2, 0), KeyedTake::Admitted);
        // Both still refilling: a third key is neither tracked nor refused.
        assert_eq!(k.try_take(&3, 500), KeyedTake::Untracked);
        assert_eq!(k.len(), 2);
        // Once they refill, the sweep frees their slots.
        assert_eq!(k.try_take(&3, 1_600), KeyedTake::Admitted);
        assert_eq!(k.len(), 1);
        assert_eq!(k.try_take(&3, 1_600), KeyedTake::Refused { retry_after_ms: 1_000 });
    }

    #[test]
    fn addresses_are_keyed_by_ipv4_or_ipv6_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
