//! The server's suspicion score: a decaying weighted sum.
//!
//! ```text
//! score(t) = Σ_i  w(kind_i) · 2^(−(t − s_i) / h)
//! ```
//! over accepted incidents `i` with start time `s_i`, weights `w` and
//! half-life `h` from the exam's [`ScoringRules`]. Each incident counts at
//! its own start time, not at its arrival, so the score does not depend on
//! the order incidents arrive in (the outbox may deliver them late), and a
//! restart rebuilds exactly the same score from the stored incidents.
//!
//! Weak signals ([`IncidentKind::is_weak_signal`]) are summed apart and count
//! at most [`weak_cap`] (half of `watch_at`), so they can add to a case but
//! never make one on their own ([`StudentScore`]).

use vigil_proto::{IncidentKind, Level, ScoringRules, UnixMillis};

/// The sum, kept as its value at `as_of`; older and newer terms are folded in
/// by decaying one side to the other.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DecayingScore {
    value: f64,
    as_of: Option<UnixMillis>,
}

/// `dt_ms` saturates at i64::MAX (where the factor is 0): an exam window may
/// span all of i64, so two times in it can be further apart than that.
fn decay(half_life_s: f64, dt_ms: i64) -> f64 {
    (-(dt_ms as f64) / (half_life_s * 1000.0)).exp2()
}

impl DecayingScore {
    /// Adds `weight` at time `at`.
    pub fn add(&mut self, half_life_s: f64, weight: f64, at: UnixMillis) {
        match self.as_of {
            None => {
                self.value = weight;
                self.as_of = Some(at);
            }
            Some(as_of) if at >= as_of => {
                self.value = self.value * decay(half_life_s, at.saturating_sub(as_of)) + weight;
                self.as_of = Some(at);
            }
            Some(as_of) => self.value += weight * decay(half_life_s, as_of.saturating_sub(at)),
        }
    }

    /// The score at time `t`. Before the newest term it is the value then;
    /// the sum is never extrapolated backwards.
    pub fn value_at(&self, half_life_s: f64, t: UnixMillis) -> f64 {
        match self.as_of {
            None => 0.0,
            Some(as_of) if t > as_of => self.value * decay(half_life_s, t.saturating_sub(as_of)),
            Some(_) => self.value,
        }
    }
}

/// The most weak signals together add to a score: half of `watch_at`.
pub fn weak_cap(rules: &ScoringRules) -> f64 {
    rules.watch_at / 2.0
}

/// One student's score: the decaying sum of the incidents that count, plus
/// that of the weak signals up to [`weak_cap`]. The cap applies to the weak
/// sum at the time asked, so it depends on the incidents and not on the
/// order they arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StudentScore {
    strong: DecayingScore,
    weak: DecayingScore,
}

impl StudentScore {
    pub fn add(&mut self, rules: &ScoringRules, kind: IncidentKind, at: UnixMillis) {
        let sum = if kind.is_weak_signal() { &mut self.weak } else { &mut self.strong };
        sum.add(rules.half_life_s, weight(rules, kind), at);
    }

    pub fn value_at(&self, rules: &ScoringRules, t: UnixMillis) -> f64 {
        let h = rules.half_life_s;
        self.strong.value_at(h, t) + self.weak.value_at(h, t).min(weak_cap(rules))
    }
}

/// Validates rules an exam owner wrote, so scoring never sees nonsense.
pub fn check_rules(rules: &ScoringRules) -> Result<(), String> {
    if !(rules.half_life_s.is_finite() && rules.half_life_s > 0.0) {
        return Err("half_life_s must be a positive number".into());
    }
    if let Some((k, w)) = rules.weights.iter().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
        return Err(format!("weight for {} must be a non-negative number, got {w}", k.as_str()));
    }
    if !(rules.watch_at.is_finite()
        && rules.alert_at.is_finite()
        && 0.0 < rules.watch_at
        && rules.watch_at <= rules.alert_at)
    {
        return Err("thresholds must satisfy 0 < watch_at <= alert_at".into());
    }
    Ok(())
}

pub fn weight(rules: &ScoringRules, kind: IncidentKind) -> f64 {
    rules.weights.get(&kind).copied().unwrap_or(0.0)
}

pub fn level(rules: &ScoringRules, score: f64) -> Level {
    if score >= rules.alert_at {
        Level::Alert
    } else if score >= rules.watch_at {
        Level::Watch
    } else {
        Level::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: f64 = 60.0;

    #[test]
    fn one_incident_halves_each_half_life() {
        let mut s = DecayingScore::default();
        s.add(H, 8.0, 1_000);
        assert_eq!(s.value_at(H, 1_000), 8.0);
        assert!((s.value_at(H, 61_000) - 4.0).abs() < 1e-9);
        assert!((s.value_at(H, 121_000) - 2.0).abs() < 1e-9);
    }

    /// The time differences overflowed (found while writing `fuzz/`'s
    /// `incident` target, which replays it from
    /// `seeds/incident/regression-score-overflow.txt`). The admin API accepts
    /// an exam window opening at i64::MIN, so a student can report incidents
    /// that far back, next to ones at the current time.
    #[test]
    fn times_at_the_ends_of_i64() {
        let now = 1_700_000_000_500;
        let mut s = DecayingScore::default();
        s.add(H, 1.0, now);
        s.add(H, 2.0, i64::MIN + 1_000);
        assert_eq!(s.value_at(H, now), 1.0, "the ancient incident has decayed to nothing");
        let mut s = DecayingScore::default();
        s.add(H, 2.0, i64::MIN);
        assert_eq!(s.value_at(H, i64::MAX), 0.0);
        s.add(H, 1.0, i64::MAX);
        assert_eq!(s.value_at(H, i64::MAX), 1.0);
    }

    #[test]
    fn default_rules_are_valid() {
        check_rules(&ScoringRules::default()).unwrap();
        let mut bad = ScoringRules::default();
        bad.weights.insert(IncidentKind::NoFace, -1.0);
        assert!(check_rules(&bad).is_err());
    }

    /// However many weak signals a student gathers, they stay under
    /// `watch`; with a real incident they still add up.
    #[test]
    fn weak_signals_alone_never_reach_watch() {
        let rules = ScoringRules::default();
        let mut s = StudentScore::default();
        for i in 0..50 {
            s.add(&rules, IncidentKind::DevtoolsOpen, i * 1_000);
            s.add(&rules, IncidentKind::CameraSuspect, i * 1_000);
        }
        assert_eq!(s.value_at(&rules, 50_000), weak_cap(&rules));
        assert_eq!(level(&rules, s.value_at(&rules, 50_000)), Level::Ok);
        s.add(&rules, IncidentKind::LookingAway, 50_000);
        let with_real = s.value_at(&rules, 50_000);
        assert_eq!(with_real, weak_cap(&rules) + weight(&rules, IncidentKind::LookingAway));
        assert_eq!(level(&rules, with_real), Level::Watch);
        // Long after, the weak sum has decayed below the cap and fades like any other.
        let late = 50_000 + 3_000_000;
        assert!(s.value_at(&rules, late) < weak_cap(&rules));
    }

    fn terms() -> impl Strategy<Value = Vec<(f64, i64)>> {
        proptest::collection::vec((0.0f64..10.0, 0i64..3_600_000), 0..40)
    }

    proptest! {
        /// Any arrival order of the same incidents gives the same score.
        #[test]
        fn order_does_not_matter(ts in terms(), seed in any::<u64>(), probe in 0i64..7_200_000) {
            let mut a = DecayingScore::default();
            for &(w, t) in &ts { a.add(H, w, t); }
            let mut shuffled = ts.clone();
            // Fisher-Yates with a seeded LCG: proptest shrinks the seed.
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (x >> 33) as usize % (i + 1));
            }
            let mut b = DecayingScore::default();
            for &(w, t) in &shuffled { b.add(H, w, t); }
            let (va, vb) = (a.value_at(H, probe), b.value_at(H, probe));
            prop_assert!((va - vb).abs() <= 1e-9 * va.abs().max(1.0), "{} vs {}", va, vb);
        }

        /// Non-negative weights never make a negative score, at any time.
        #[test]
        fn never_negative(ts in terms(), probe in -1_000i64..10_000_000) {
            let mut s = DecayingScore::default();
            for &(w, t) in &ts { s.add(H, w, t); }
            prop_assert!(s.value_at(H, probe) >= 0.0);
        }

        /// With no new incidents the score only falls, and reaches zero.
        #[test]
        fn decays_to_zero(ts in terms(), step in 1i64..600_000) {
            let mut s = DecayingScore::default();
            for &(w, t) in &ts { s.add(H, w, t); }
            let mut t = 3_600_000;
            let mut prev = s.value_at(H, t);
            for _ in 0..50 {
                t += step;
                let v = s.value_at(H, t);
                prop_assert!(v <= prev);
                prev = v;
            }
            // 1,100 half-lives take any f64 below the smallest subnormal.
            prop_assert_eq!(s.value_at(H, 3_600_000 + (H * 1000.0) as i64 * 1_100), 0.0);
        }
    }
}
