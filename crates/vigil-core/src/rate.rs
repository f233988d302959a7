//! Token buckets, in milliseconds of the caller's clock.

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

    fn refill(&mut self, now: UnixMillis) {
        if let Some(prev) = self.updated_at {
            // A clock that steps backwards must not mint tokens.
            let elapsed_ms = now.saturating_sub(prev).max(0) as f64;
            self.tokens = (self.tokens + elapsed_ms / 1000.0 * self.limit.per_second).min(f64::from(self.limit.burst));
        }
        self.updated_at = Some(self.updated_at.map_or(now, |p| p.max(now)));
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
}
