//! Leading-edge throttle for fan-out: per key, at most one emission per
//! interval, latest value wins, and the first update after a quiet spell goes
//! out at once (a proctor never waits for the first sign of trouble).

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use vigil_proto::UnixMillis;

#[derive(Debug)]
pub struct Coalescer<K, V> {
    interval_ms: i64,
    last_emit: HashMap<K, UnixMillis>,
    pending: HashMap<K, V>,
    /// When each pending key may go out, ordered for `next_due`.
    due: BTreeSet<(UnixMillis, K)>,
}

impl<K: Clone + Eq + Hash + Ord, V> Coalescer<K, V> {
    pub fn new(interval_ms: i64) -> Self {
        Coalescer { interval_ms, last_emit: HashMap::new(), pending: HashMap::new(), due: BTreeSet::new() }
    }

    /// Offers a new value for `key`. Returns it when it should be emitted now;
    /// otherwise keeps it (replacing an older pending one) until it is due.
    pub fn offer(&mut self, now: UnixMillis, key: K, value: V) -> Option<V> {
        // A value already waiting keeps its slot; overtaking it would emit
        // an older value after a newer one.
        if let Some(waiting) = self.pending.get_mut(&key) {
            *waiting = value;
            return None;
        }
        match self.last_emit.get(&key) {
            Some(&last) if now < last + self.interval_ms => {
                self.pending.insert(key.clone(), value);
                self.due.insert((last + self.interval_ms, key));
                None
            }
            _ => {
                self.last_emit.insert(key, now);
                Some(value)
            }
        }
    }

    /// The earliest time a pending value becomes due.
    pub fn next_due(&self) -> Option<UnixMillis> {
        self.due.first().map(|(t, _)| *t)
    }

    /// Removes and returns every value due at `now`.
    pub fn drain_due(&mut self, now: UnixMillis) -> Vec<(K, V)> {
        let mut out = Vec::new();
        while let Some((t, _)) = self.due.first() {
            if *t > now {
                break;
            }
            let Some((_, key)) = self.due.pop_first() else { break };
            if let Some(v) = self.pending.remove(&key) {
                self.last_emit.insert(key.clone(), now);
                out.push((key, v));
            }
        }
        out
    }

    /// Forgets a key entirely (its student left the exam), dropping anything pending.
    pub fn forget(&mut self, key: &K) {
        self.last_emit.remove(key);
        if self.pending.remove(key).is_some() {
            self.due.retain(|(_, k)| k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_edge_then_latest_wins() {
        let mut c = Coalescer::new(100);
        assert_eq!(c.offer(0, "a", 1), Some(1));
        assert_eq!(c.offer(10, "a", 2), None);
        assert_eq!(c.offer(20, "a", 3), None);
        // Another key is independent.
        assert_eq!(c.offer(20, "b", 9), Some(9));
        assert_eq!(c.next_due(), Some(100));
        assert!(c.drain_due(99).is_empty());
        assert_eq!(c.drain_due(100), vec![("a", 3)]);
        assert_eq!(c.next_due(), None);
        // Within the interval of the trailing emission: held again.
        assert_eq!(c.offer(150, "a", 4), None);
        assert_eq!(c.drain_due(200), vec![("a", 4)]);
        // After a quiet spell: immediate.
        assert_eq!(c.offer(1_000, "a", 5), Some(5));
    }

    #[test]
    fn at_most_one_emission_per_interval() {
        let mut c = Coalescer::new(100);
        let mut emitted = Vec::new();
        for t in 0..1_000 {
            if let Some(v) = c.offer(t, 0u8, t) {
                emitted.push(v);
            }
            for (_, v) in c.drain_due(t) {
                emitted.push(v);
            }
        }
        for (_, v) in c.drain_due(10_000) {
            emitted.push(v);
        }
        // One per 100 ms plus the final trailing value, and the last offer is never lost.
        assert!(emitted.len() <= 11, "{emitted:?}");
        assert_eq!(emitted.last(), Some(&999));
        assert!(emitted.windows(2).all(|w| w[1] - w[0] >= 99));
    }
}
