//! Sequence-number anti-replay with a sliding window, as in IPsec and DTLS.
//!
//! Socket.IO handlers run as separate tasks, and a reconnecting client
//! resends its outbox, so messages may arrive slightly out of order. A
//! window accepts each sequence number once, in any order, as long as it is
//! not older than `WINDOW` below the highest seen.

/// How far below the highest accepted number a late one is still taken.
pub const WINDOW: u64 = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Highest accepted number, if any.
    top: Option<u64>,
    /// Bit i set: `top - i` was accepted. Bit 0 is `top` itself.
    seen: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqError {
    Replayed,
    TooOld,
}

impl ReplayWindow {
    /// Whether `seq` would be accepted, without recording it.
    pub fn check(&self, seq: u64) -> Result<(), SeqError> {
        let Some(top) = self.top else { return Ok(()) };
        if seq > top {
            return Ok(());
        }
        let age = top - seq;
        if age >= WINDOW {
            Err(SeqError::TooOld)
        } else if self.seen & (1u64 << age) != 0 {
            Err(SeqError::Replayed)
        } else {
            Ok(())
        }
    }

    /// Records `seq` as used. Call only after `check` passed and the message
    /// was durably accepted.
    pub fn mark(&mut self, seq: u64) {
        match self.top {
            None => {
                self.top = Some(seq);
                self.seen = 1;
            }
            Some(top) if seq > top => {
                let shift = seq - top;
                self.seen = if shift >= WINDOW { 0 } else { self.seen << shift };
                self.seen |= 1;
                self.top = Some(seq);
            }
            Some(top) => {
                let age = top - seq;
                if age < WINDOW {
                    self.seen |= 1u64 << age;
                }
            }
        }
    }

    /// The smallest number guaranteed to be accepted next.
    pub fn next_seq(&self) -> u64 {
        self.top.map_or(1, |t| t.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_each_number_once_in_any_order_within_window() {
        let mut w = ReplayWindow::default();
        for s in [5, 3, 4, 10, 6] {
            assert_eq!(w.check(s), Ok(()));
            w.mark(s);
        }
        assert_eq!(w.check(4), Err(SeqError::Replayed));
        assert_eq!(w.check(7), Ok(()));
        assert_eq!(w.next_seq(), 11);
        w.mark(200);
        assert_eq!(w.check(10), Err(SeqError::TooOld));
    }

    proptest! {
        /// No number is ever accepted twice, whatever the arrival order.
        #[test]
        fn never_accepts_a_number_twice(seqs in proptest::collection::vec(0u64..300, 0..400)) {
            let mut w = ReplayWindow::default();
            let mut accepted = std::collections::HashSet::new();
            for s in seqs {
                if w.check(s).is_ok() {
                    prop_assert!(accepted.insert(s), "accepted {} twice", s);
                    w.mark(s);
                }
            }
        }

        /// An in-order stream is always accepted in full.
        #[test]
        fn increasing_stream_is_accepted(start in 0u64..1000, gaps in proptest::collection::vec(1u64..100, 1..100)) {
            let mut w = ReplayWindow::default();
            let mut s = start;
            for g in gaps {
                prop_assert_eq!(w.check(s), Ok(()));
                w.mark(s);
                s += g;
            }
        }
    }
}
