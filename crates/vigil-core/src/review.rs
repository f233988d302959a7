//! After the exam: what ranks a student for review, the score curve a
//! reviewer reads, and the rules of decisions, recomputed from the stored
//! incidents and readings (never from what a dashboard happened to see).
//!
//! A reviewer's dismissal takes an incident out of all of it: a false alarm
//! a human has looked at must not keep pushing the student up the queue.

use std::collections::{BTreeMap, HashMap};

use vigil_proto::events::IncidentRecord;
use vigil_proto::review::{IncidentReview, IncidentVerdict, ReviewPriority, ScorePoint};
use vigil_proto::{IncidentId, IncidentKind, RejectReason, Rejection, ScoringRules};

use crate::score::{StudentScore, weight};

/// The longest note with a decision or an incident's reading.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// Unreviewed incidents and gaps count up to these, so one noisy detector
/// cannot bury every other student.
const MAX_UNREVIEWED_COUNTED: u32 = 20;
const MAX_GAPS_COUNTED: u32 = 10;

/// The latest reading of each incident (readings oldest first).
fn latest_readings(reviews: &[IncidentReview]) -> HashMap<&IncidentId, IncidentVerdict> {
    reviews.iter().map(|r| (&r.incident_id, r.verdict)).collect()
}

/// Incidents that count: all but those whose latest reading dismissed them.
fn counting<'a>(
    incidents: &'a [IncidentRecord],
    readings: &HashMap<&IncidentId, IncidentVerdict>,
) -> impl Iterator<Item = &'a IncidentRecord> {
    incidents.iter().filter(move |i| readings.get(&i.id) != Some(&IncidentVerdict::Dismissed))
}

/// The score after each counting incident, in time order: the server's own
/// score function (`score::StudentScore`) replayed over the stored
/// incidents, so it is the curve a live dashboard would have drawn had it
/// seen everything.
pub fn score_curve(incidents: &[IncidentRecord], rules: &ScoringRules, reviews: &[IncidentReview]) -> Vec<ScorePoint> {
    let readings = latest_readings(reviews);
    let mut ordered: Vec<&IncidentRecord> = counting(incidents, &readings).collect();
    ordered.sort_by_key(|i| i.started_at);
    let mut score = StudentScore::default();
    ordered
        .into_iter()
        .map(|i| {
            score.add(rules, i.kind, i.started_at);
            ScorePoint { at: i.started_at, score: score.value_at(rules, i.started_at) }
        })
        .collect()
}

/// What ranks a student for review (see `ReviewPriority::priority`).
pub fn priority(incidents: &[IncidentRecord], rules: &ScoringRules, reviews: &[IncidentReview]) -> ReviewPriority {
    let readings = latest_readings(reviews);
    let curve = score_curve(incidents, rules, reviews);
    let peak = curve.iter().copied().fold(None, |best: Option<ScorePoint>, p| match best {
        Some(b) if b.score >= p.score => Some(b),
        _ => Some(p),
    });
    let mut counts: BTreeMap<IncidentKind, u32> = BTreeMap::new();
    let mut unreviewed = 0;
    let mut gaps = 0;
    let mut total = 0;
    for i in counting(incidents, &readings) {
        total += 1;
        *counts.entry(i.kind).or_default() += 1;
        if !readings.contains_key(&i.id) {
            unreviewed += 1;
        }
        if matches!(i.kind, IncidentKind::HeartbeatLost | IncidentKind::MediaStalled) {
            gaps += 1;
        }
    }
    let alert = rules.alert_at.max(f64::MIN_POSITIVE);
    let peak_score = peak.map_or(0.0, |p| p.score);
    let kinds: f64 = counts.keys().map(|k| weight(rules, *k)).sum();
    let priority = peak_score / alert
        + 0.25 * kinds / alert
        + 0.1 * f64::from(unreviewed.min(MAX_UNREVIEWED_COUNTED))
        + 0.2 * f64::from(gaps.min(MAX_GAPS_COUNTED));
    ReviewPriority {
        priority,
        peak_score,
        peak_at: peak.map(|p| p.at),
        counts,
        incident_count: total,
        unreviewed,
        gaps,
    }
}

/// A note with a decision (required) or a reading (optional): not blank,
/// at most [`MAX_NOTE_CHARS`], no control characters but line breaks and tabs.
pub fn check_note(note: &str, required: bool) -> Result<(), Rejection> {
    let invalid = |m: String| Rejection::new(RejectReason::InvalidPayload, m);
    if required && note.trim().is_empty() {
        return Err(invalid("a decision needs a note saying why".into()));
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid(format!("a note is at most {MAX_NOTE_CHARS} characters")));
    }
    if note.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
        return Err(invalid("a note may not contain control characters other than line breaks and tabs".into()));
    }
    Ok(())
}

/// Whether a decision made on version `based_on` may become the next one
/// after `current` (0: none yet): a reviewer who did not see the latest
/// must not overwrite it unknowingly.
pub fn check_based_on(based_on: u32, current: u32) -> Result<(), Rejection> {
    if based_on == current {
        Ok(())
    } else {
        Err(Rejection::new(
            RejectReason::StaleTransition,
            format!("another reviewer decided meanwhile (version {current}, you saw {based_on}); reload"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use vigil_proto::IncidentSource;

    use super::*;

    const T0: i64 = 1_800_000_000_000;

    fn incident(id: &str, kind: IncidentKind, at: i64) -> IncidentRecord {
        IncidentRecord {
            id: id.parse().unwrap(),
            student_id: "ada".parse().unwrap(),
            kind,
            source: if kind.is_server_only() { IncidentSource::Server } else { IncidentSource::Client },
            started_at: at,
            ended_at: None,
            confidence: None,
            detail: None,
            accepted_at: at,
            evidence_sha256: None,
            during_pause: false,
        }
    }

    fn reading(id: &str, verdict: IncidentVerdict, at: i64) -> IncidentReview {
        IncidentReview { incident_id: id.parse().unwrap(), verdict, note: None, reviewer: "pat".parse().unwrap(), at }
    }

    #[test]
    fn the_curve_is_the_live_score_replayed_and_peaks_where_incidents_cluster() {
        let rules = ScoringRules::default();
        let incidents = [
            incident("b", IncidentKind::TabHidden, T0 + 1_000),
            incident("a", IncidentKind::MultipleFaces, T0),
            incident("c", IncidentKind::NoFace, T0 + 600_000),
        ];
        let curve = score_curve(&incidents, &rules, &[]);
        assert_eq!(curve.iter().map(|p| p.at).collect::<Vec<_>>(), [T0, T0 + 1_000, T0 + 600_000]);
        assert_eq!(curve[0].score, 5.0);
        assert!((curve[1].score - (5.0 * (-1.0f64 / 300.0).exp2() + 3.0)).abs() < 1e-9);
        // Ten minutes later (two half-lives less a second), 3 on top of what is left.
        assert!((curve[2].score - (curve[1].score * (-599.0f64 / 300.0).exp2() + 3.0)).abs() < 1e-9);
        let p = priority(&incidents, &rules, &[]);
        assert_eq!((p.peak_score, p.peak_at), (curve[1].score, Some(T0 + 1_000)));
        assert_eq!((p.incident_count, p.unreviewed, p.gaps), (3, 3, 0));
    }

    #[test]
    fn dismissed_incidents_stop_counting_and_readings_lower_the_priority() {
        let rules = ScoringRules::default();
        let incidents =
            [incident("a", IncidentKind::MultipleFaces, T0), incident("b", IncidentKind::TabHidden, T0 + 1_000)];
        let before = priority(&incidents, &rules, &[]);
        let confirmed = priority(&incidents, &rules, &[reading("a", IncidentVerdict::Confirmed, T0 + 9)]);
        assert_eq!(confirmed.unreviewed, 1);
        assert!(confirmed.priority < before.priority, "a reading takes off the unreviewed part");
        assert_eq!(confirmed.peak_score, before.peak_score, "a confirmation keeps the score");
        // The latest reading counts: confirmed, then dismissed.
        let readings =
            [reading("a", IncidentVerdict::Confirmed, T0 + 9), reading("a", IncidentVerdict::Dismissed, T0 + 10)];
        let dismissed = priority(&incidents, &rules, &readings);
        assert_eq!((dismissed.incident_count, dismissed.peak_score), (1, 3.0));
        assert!(!dismissed.counts.contains_key(&IncidentKind::MultipleFaces));
        assert_eq!(score_curve(&incidents, &rules, &readings).len(), 1);
    }

    #[test]
    fn the_ranking_weighs_peaks_kinds_unreviewed_incidents_and_gaps() {
        let rules = ScoringRules::default();
        let quiet = priority(&[], &rules, &[]);
        assert_eq!(quiet.priority, 0.0);
        // The same peak from one serious kind, or from the same kind twice plus gaps.
        let varied =
            [incident("a", IncidentKind::MultipleFaces, T0), incident("b", IncidentKind::SecondScreen, T0 + 3_600_000)];
        let repeated = [
            incident("a", IncidentKind::MultipleFaces, T0),
            incident("b", IncidentKind::MultipleFaces, T0 + 3_600_000),
        ];
        assert!(priority(&varied, &rules, &[]).priority > priority(&repeated, &rules, &[]).priority);
        let gaps: Vec<IncidentRecord> =
            (0..30).map(|i| incident(&format!("g{i}"), IncidentKind::HeartbeatLost, T0 + i * 3_600_000)).collect();
        let p = priority(&gaps, &rules, &[]);
        assert_eq!((p.gaps, p.unreviewed), (30, 30));
        // Capped: 20 unreviewed and 10 gaps at most, plus the peak (one gap's
        // weight and a trace of the others) and the kind.
        let expected = 1.0 / 8.0 + 0.25 * 1.0 / 8.0 + 0.1 * 20.0 + 0.2 * 10.0;
        assert!((p.priority - expected).abs() < 1e-3, "{}", p.priority);
    }

    #[test]
    fn decisions_need_a_note_and_the_latest_version() {
        assert_eq!(check_note("Phone seen twice; confirmed on video", true), Ok(()));
        assert_eq!(check_note(" \n", true).unwrap_err().reason, RejectReason::InvalidPayload);
        assert_eq!(check_note("", false), Ok(()));
        assert_eq!(
            check_note(&"x".repeat(MAX_NOTE_CHARS + 1), false).unwrap_err().reason,
            RejectReason::InvalidPayload
        );
        assert_eq!(check_note("esc\u{1b}", false).unwrap_err().reason, RejectReason::InvalidPayload);
        assert_eq!(check_based_on(0, 0), Ok(()));
        assert_eq!(check_based_on(2, 2), Ok(()));
        assert_eq!(check_based_on(1, 2).unwrap_err().reason, RejectReason::StaleTransition);
        assert_eq!(check_based_on(0, 1).unwrap_err().reason, RejectReason::StaleTransition);
    }
}
