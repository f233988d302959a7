//! One student's ledger: the referee's decisions on incidents.
//!
//! Deciding and recording are two steps so that the server can store a new
//! incident durably *between* them and acknowledge only what is stored:
//!
//! ```text
//! check_report(report, now) -> Admit::New(pending) | Admit::Duplicate | Err(rejection)
//!   ... server writes `pending.record` to the database ...
//! commit_report(pending) -> ScoreView
//! ```
//!
//! The caller must not interleave two checks of the same student with a
//! commit (the server holds a per-student lock from check to commit).
//! [`Ledger::restore`] rebuilds the same state from stored incidents after
//! a restart.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use vigil_proto::events::{IncidentEnd, IncidentRecord, IncidentReport, ScoreView};
use vigil_proto::{
    ExamSettings, IncidentId, IncidentKind, IncidentSource, RejectReason, Rejection, StudentId, UnixMillis,
};

use crate::rate::{RateLimit, TokenBucket};
use crate::replay::{ReplayWindow, SeqError};
use crate::score::{self, StudentScore};

/// Limits that are the server operator's, not the exam owner's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// How far a client clock may run ahead of ours.
    pub max_clock_skew_ms: i64,
    /// Incident and incident_end messages per student.
    pub incident_rate: RateLimit,
    pub max_detail_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_clock_skew_ms: 2_000,
            incident_rate: RateLimit { burst: 20, per_second: 2.0 },
            max_detail_chars: 200,
        }
    }
}

/// A stored incident's identity as the ledger remembers it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    fingerprint: [u8; 32],
    kind: IncidentKind,
    started_at: UnixMillis,
    ended_at: Option<UnixMillis>,
}

/// A new incident that passed every check and awaits durable storage.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingIncident {
    pub record: IncidentRecord,
    /// The sequence number it consumed; `None` for server-originated incidents.
    pub seq: Option<u64>,
    pub fingerprint: [u8; 32],
}

/// A new end of a known incident, awaiting durable storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEnd {
    pub id: IncidentId,
    pub seq: u64,
    pub ended_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Admit<P> {
    New(P),
    /// Already recorded with this exact payload: answer as before, change nothing.
    Duplicate,
}

#[derive(Debug, Clone)]
pub struct Ledger {
    student_id: StudentId,
    entries: HashMap<IncidentId, Entry>,
    seqs: ReplayWindow,
    bucket: TokenBucket,
    score: StudentScore,
    /// Bumped by every change to the score's inputs; orders score updates.
    score_seq: u64,
    last_incident_at: Option<UnixMillis>,
}

fn reject(reason: RejectReason, message: impl Into<String>) -> Rejection {
    Rejection::new(reason, message)
}

/// The identity of a report's content, for telling retries from conflicts.
pub fn fingerprint(report: &IncidentReport) -> [u8; 32] {
    // Serialising our own derived type cannot fail: no maps with non-string
    // keys, no non-finite floats reach here (checked before).
    let canonical = serde_json::to_vec(report).unwrap_or_default();
    Sha256::digest(&canonical).into()
}

impl Ledger {
    pub fn new(student_id: StudentId, limits: &Limits) -> Self {
        Ledger {
            student_id,
            entries: HashMap::new(),
            seqs: ReplayWindow::default(),
            bucket: TokenBucket::new(limits.incident_rate),
            score: StudentScore::default(),
            score_seq: 0,
            last_incident_at: None,
        }
    }

    /// Decides on an incident reported by the student's client.
    pub fn check_report(
        &mut self,
        settings: &ExamSettings,
        limits: &Limits,
        report: &IncidentReport,
        now: UnixMillis,
    ) -> Result<Admit<PendingIncident>, Rejection> {
        self.take_token(now)?;
        check_client_id(&report.id)?;
        check_seq_range(report.seq)?;
        let fingerprint = fingerprint(report);
        if let Some(entry) = self.entries.get(&report.id) {
            return if entry.fingerprint == fingerprint {
                Ok(Admit::Duplicate)
            } else {
                Err(reject(
                    RejectReason::ConflictingDuplicate,
                    format!("incident {} was already recorded with a different payload", report.id),
                ))
            };
        }
        if report.kind.is_server_only() {
            return Err(reject(
                RejectReason::ServerOnlyKind,
                format!("{} is raised by the server only", report.kind.as_str()),
            ));
        }
        if settings.disabled_detectors.contains(&report.kind) {
            return Err(reject(
                RejectReason::DetectorDisabled,
                format!("{} is switched off for this exam", report.kind.as_str()),
            ));
        }
        if let Some(c) = report.confidence
            && !(c.is_finite() && (0.0..=1.0).contains(&c))
        {
            return Err(reject(RejectReason::InvalidPayload, "confidence must lie in [0, 1]"));
        }
        if let Some(d) = &report.detail
            && d.chars().count() > limits.max_detail_chars
        {
            return Err(reject(
                RejectReason::InvalidPayload,
                format!("detail is longer than {} characters", limits.max_detail_chars),
            ));
        }
        check_time(settings, limits, report.started_at, now)?;
        if let Some(end) = report.ended_at {
            check_end_time(limits, report.started_at, end, now)?;
        }
        self.check_seq(report.seq)?;
        Ok(Admit::New(PendingIncident {
            record: IncidentRecord {
                id: report.id.clone(),
                student_id: self.student_id.clone(),
                kind: report.kind,
                source: IncidentSource::Client,
                started_at: report.started_at,
                ended_at: report.ended_at,
                confidence: report.confidence,
                detail: report.detail.clone(),
                accepted_at: now,
                evidence_sha256: None,
                during_pause: false,
            },
            seq: Some(report.seq),
            fingerprint,
        }))
    }

    /// Records an incident the server raised itself (media health, heartbeats).
    /// Such incidents carry no client sequence number and skip the rate limit.
    pub fn admit_server_incident(
        &self,
        id: IncidentId,
        kind: IncidentKind,
        started_at: UnixMillis,
        detail: Option<String>,
        now: UnixMillis,
    ) -> Admit<PendingIncident> {
        debug_assert!(id.is_server(), "server incidents use the reserved id space");
        if self.entries.contains_key(&id) {
            return Admit::Duplicate;
        }
        let record = IncidentRecord {
            id,
            student_id: self.student_id.clone(),
            kind,
            source: IncidentSource::Server,
            started_at,
            ended_at: None,
            confidence: None,
            detail,
            accepted_at: now,
            evidence_sha256: None,
            during_pause: false,
        };
        let fingerprint = Sha256::digest(serde_json::to_vec(&record).unwrap_or_default()).into();
        Admit::New(PendingIncident { record, seq: None, fingerprint })
    }

    /// Applies a stored incident to the score; returns the new score.
    pub fn commit_report(&mut self, settings: &ExamSettings, pending: &PendingIncident) -> ScoreView {
        if let Some(seq) = pending.seq {
            self.seqs.mark(seq);
        }
        let r = &pending.record;
        self.entries.insert(
            r.id.clone(),
            Entry { fingerprint: pending.fingerprint, kind: r.kind, started_at: r.started_at, ended_at: r.ended_at },
        );
        self.score.add(&settings.scoring, r.kind, r.started_at);
        self.score_seq += 1;
        self.last_incident_at = Some(self.last_incident_at.map_or(r.started_at, |t| t.max(r.started_at)));
        self.score_view(settings, r.accepted_at)
    }

    /// Decides on the end of an incident reported earlier.
    pub fn check_end(
        &mut self,
        limits: &Limits,
        end: &IncidentEnd,
        now: UnixMillis,
    ) -> Result<Admit<PendingEnd>, Rejection> {
        self.take_token(now)?;
        // Before any lookup: the answer for a server incident must not say
        // whether it exists.
        check_client_id(&end.id)?;
        check_seq_range(end.seq)?;
        let Some(entry) = self.entries.get(&end.id) else {
            return Err(reject(RejectReason::UnknownIncident, format!("no incident {} to end", end.id)));
        };
        match entry.ended_at {
            Some(t) if t == end.ended_at => return Ok(Admit::Duplicate),
            Some(t) => {
                return Err(reject(RejectReason::AlreadyEnded, format!("incident {} already ended at {t}", end.id)));
            }
            None => {}
        }
        check_end_time(limits, entry.started_at, end.ended_at, now)?;
        self.check_seq(end.seq)?;
        Ok(Admit::New(PendingEnd { id: end.id.clone(), seq: end.seq, ended_at: end.ended_at }))
    }

    pub fn commit_end(&mut self, pending: &PendingEnd) {
        self.seqs.mark(pending.seq);
        if let Some(e) = self.entries.get_mut(&pending.id) {
            e.ended_at = Some(pending.ended_at);
        }
    }

    /// Rebuilds state from one stored incident (any order) at start-up.
    pub fn restore(&mut self, settings: &ExamSettings, stored: &PendingIncident, end_seq: Option<u64>) {
        self.commit_report(settings, stored);
        if let Some(seq) = end_seq {
            self.seqs.mark(seq);
        }
    }

    pub fn score_view(&self, settings: &ExamSettings, now: UnixMillis) -> ScoreView {
        let score = self.score.value_at(&settings.scoring, now);
        ScoreView { seq: self.score_seq, score, level: score::level(&settings.scoring, score), as_of: now }
    }

    /// The smallest sequence number a client can safely use next.
    pub fn next_seq(&self) -> u64 {
        self.seqs.next_seq()
    }

    /// The time window in which the student's evidence for `incident_id` is
    /// accepted: from its start to its end (or still open). `None` for an
    /// unknown incident and for every server incident alike, so the answer
    /// never tells a student whether the server raised one.
    pub fn evidence_span(&self, incident_id: &IncidentId) -> Option<(IncidentKind, UnixMillis, Option<UnixMillis>)> {
        if incident_id.is_server() {
            return None;
        }
        self.entries.get(incident_id).map(|e| (e.kind, e.started_at, e.ended_at))
    }

    pub fn incident_count(&self) -> usize {
        self.entries.len()
    }

    fn take_token(&mut self, now: UnixMillis) -> Result<(), Rejection> {
        self.bucket.try_take(now).map_err(|wait| Rejection {
            reason: RejectReason::RateLimited,
            message: "too many incident messages; slow down and retry".into(),
            retry_after_ms: Some(wait),
        })
    }

    fn check_seq(&self, seq: u64) -> Result<(), Rejection> {
        self.seqs.check(seq).map_err(|e| match e {
            SeqError::Replayed => {
                reject(RejectReason::SequenceReplayed, format!("sequence number {seq} was already used"))
            }
            SeqError::TooOld => reject(
                RejectReason::SequenceTooOld,
                format!("sequence number {seq} is too old; continue from {}", self.seqs.next_seq()),
            ),
        })
    }
}

/// Ids are already in the one grammar (parsed at the edge); clients may not
/// use the server's reserved prefix.
fn check_client_id(id: &IncidentId) -> Result<(), Rejection> {
    if id.is_server() {
        return Err(reject(
            RejectReason::InvalidPayload,
            format!("ids starting with {} are reserved for the server", vigil_proto::ids::SERVER_INCIDENT_PREFIX),
        ));
    }
    Ok(())
}

/// Sequence numbers are stored as SQL integers (i64): a larger one can never
/// be stored, so it is the client's error, not a retryable failure.
fn check_seq_range(seq: u64) -> Result<(), Rejection> {
    if i64::try_from(seq).is_err() {
        return Err(reject(RejectReason::InvalidPayload, format!("seq must be below 2^63, got {seq}")));
    }
    Ok(())
}

fn check_time(settings: &ExamSettings, limits: &Limits, at: UnixMillis, now: UnixMillis) -> Result<(), Rejection> {
    let w = settings.window;
    if at < w.opens_at || at > w.closes_at {
        return Err(reject(
            RejectReason::OutsideExamWindow,
            format!("time {at} is outside the exam window [{}, {}]", w.opens_at, w.closes_at),
        ));
    }
    if at > now.saturating_add(limits.max_clock_skew_ms) {
        return Err(reject(
            RejectReason::TimestampInFuture,
            format!("time {at} is {} ms ahead of the server clock", at - now),
        ));
    }
    Ok(())
}

fn check_end_time(limits: &Limits, start: UnixMillis, end: UnixMillis, now: UnixMillis) -> Result<(), Rejection> {
    if end < start {
        return Err(reject(RejectReason::EndBeforeStart, format!("ended_at {end} is before started_at {start}")));
    }
    if end > now.saturating_add(limits.max_clock_skew_ms) {
        return Err(reject(
            RejectReason::TimestampInFuture,
            format!("ended_at {end} is {} ms ahead of the server clock", end - now),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use vigil_proto::ExamWindow;

    const T0: UnixMillis = 1_700_000_000_000;

    fn sid(s: &str) -> StudentId {
        s.parse().expect("test ids are valid")
    }

    fn iid(s: &str) -> IncidentId {
        s.parse().expect("test ids are valid")
    }

    fn settings() -> ExamSettings {
        ExamSettings::with_window(ExamWindow { opens_at: T0, closes_at: T0 + 3 * 3_600_000 })
    }

    fn report(id: &str, seq: u64, kind: IncidentKind, at: UnixMillis) -> IncidentReport {
        IncidentReport { id: iid(id), seq, kind, started_at: at, ended_at: None, confidence: None, detail: None }
    }

    fn accept(l: &mut Ledger, s: &ExamSettings, r: &IncidentReport, now: UnixMillis) -> ScoreView {
        match l.check_report(s, &Limits::default(), r, now) {
            Ok(Admit::New(p)) => l.commit_report(s, &p),
            other => panic!("expected new, got {other:?}"),
        }
    }

    fn reason<T: std::fmt::Debug>(r: Result<T, Rejection>) -> RejectReason {
        r.expect_err("expected a rejection").reason
    }

    #[test]
    fn server_incidents_are_out_of_the_clients_reach() {
        let (s, lim) = (settings(), Limits::default());
        let mut l = Ledger::new(sid("s1"), &lim);
        let server_id = IncidentId::for_server("heartbeat_lost", "r4nd0m").unwrap();
        let Admit::New(p) =
            l.admit_server_incident(server_id.clone(), IncidentKind::HeartbeatLost, T0 + 1, None, T0 + 2)
        else {
            panic!("a new server incident is admitted");
        };
        l.commit_report(&s, &p);
        // A client may not report under the reserved prefix...
        let forged = report(server_id.as_str(), 1, IncidentKind::NoFace, T0 + 3);
        assert_eq!(reason(l.check_report(&s, &lim, &forged, T0 + 4)), RejectReason::InvalidPayload);
        // ...nor end a server incident, and the refusal is the same whether
        // or not it exists.
        let end_real = IncidentEnd { id: server_id.clone(), seq: 2, ended_at: T0 + 5 };
        let end_missing =
            IncidentEnd { id: IncidentId::for_server("heartbeat_lost", "nope").unwrap(), seq: 3, ended_at: T0 + 5 };
        let a = l.check_end(&lim, &end_real, T0 + 6).unwrap_err();
        let b = l.check_end(&lim, &end_missing, T0 + 6).unwrap_err();
        assert_eq!((a.reason, a.message.replace("r4nd0m", "nope")), (b.reason, b.message.replace("r4nd0m", "nope")));
        // ...nor attach evidence to one.
        assert_eq!(l.evidence_span(&server_id), None);
    }

    #[test]
    fn sequence_numbers_past_i64_are_the_clients_error() {
        let (s, lim) = (settings(), Limits::default());
        let mut l = Ledger::new(sid("s1"), &lim);
        let r = report("a", 1 << 63, IncidentKind::NoFace, T0 + 1);
        assert_eq!(reason(l.check_report(&s, &lim, &r, T0 + 2)), RejectReason::InvalidPayload);
        let last_good = report("b", (1 << 63) - 1, IncidentKind::NoFace, T0 + 1);
        assert!(matches!(l.check_report(&s, &lim, &last_good, T0 + 2), Ok(Admit::New(_))));
    }
    #[test]
    fn retry_is_duplicate_and_changed_payload_is_conflict() {
        let (s, lim) = (settings(), Limits::default());
        let mut l = Ledger::new(sid("s1"), &lim);
        let r = report("a", 1, IncidentKind::NoFace, T0 + 1000);
        let v = accept(&mut l, &s, &r, T0 + 1500);
        assert_eq!(v.seq, 1);
        assert_eq!(l.check_report(&s, &lim, &r, T0 + 1600), Ok(Admit::Duplicate));
        let mut changed = r.clone();
        changed.kind = IncidentKind::TabHidden;
        assert_eq!(reason(l.check_report(&s, &lim, &changed, T0 + 1700)), RejectReason::ConflictingDuplicate);
    }

    #[test]
    fn time_checks() {
        let (s, lim) = (settings(), Limits::default());
        let mut l = Ledger::new(sid("s1"), &lim);
        let before = report("a", 1, IncidentKind::NoFace, T0 - 1);
        assert_eq!(reason(l.check_report(&s, &lim, &before, T0 + 10)), RejectReason::OutsideExamWindow);
        let future = report("b", 2, IncidentKind::NoFace, T0 + 10_000);
        assert_eq!(reason(l.check_report(&s, &lim, &future, T0 + 5_000)), RejectReason::TimestampInFuture);
        let mut backwards = report("c", 3, IncidentKind::NoFace, T0 + 5_000);
        backwards.ended_at = Some(T0 + 4_000);
        assert_eq!(reason(l.check_report(&s, &lim, &backwards, T0 + 6_000)), RejectReason::EndBeforeStart);
    }

    #[test]
    fn sequence_numbers_are_single_use() {
        let (s, lim) = (settings(), Limits::default());
        let mut l = Ledger::new(sid("s1"), &lim);
        accept(&mut l, &s, &report("a", 7, IncidentKind::NoFace, T0 + 1), T0 + 10);
        let reuse = report("b", 7, IncidentKind::NoFace, T0 + 2);
        assert_eq!(reason(l.check_report(&s, &lim, &reuse, T0 + 10)), RejectReason::SequenceReplayed);
        assert_eq!(l.next_seq(), 8);
    }

    #[test]
    fn client_cannot_raise_server_kinds_or_disabled_detectors() {
        let (mut s, lim) = (settings(), Limits::default());
        s.disabled_detectors.push(IncidentKind::LookingAway);
        let mut l = Ledger::new(sid("s1"), &lim);
        let r = report("a", 1, IncidentKind::MediaStalled, T0 + 1);
        assert_eq!(reason(l.check_report(&s, &lim, &r, T0 + 10)), RejectReason::ServerOnlyKind);
        let r = report("b", 2, IncidentKind::LookingAway, T0 + 1);
        assert_eq!(reason(l.check_report(&s, &lim, &r, T0 + 10)), RejectReason::DetectorDisabled);
    }

    #[test]
    fn flood_is_rate_limited_with_retry_hint() {
        let (s, lim) = (settings(), Limits::default());
        let mut l = Ledger::new(sid("s1"), &lim);
        let mut limited = 0;
        for i in 0..100u64 {
            let r = report(&format!("i{i}"), i + 1, IncidentKind::TabHidden, T0 + 1);
            match l.check_report(&s, &lim, &r, T0 + 100) {
                Ok(Admit::New(p)) => {
                    l.commit_report(&s, &p);
                }
                Ok(Admit::Duplicate) => unreachable!(),
                Err(e) => {
                    assert_eq!(e.reason, RejectReason::RateLimited);
                    assert!(e.retry_after_ms.is_some());
                    limited += 1;
                }
            }
        }
        assert_eq!(l.incident_count(), lim.incident_rate.burst as usize);
        assert_eq!(limited, 100 - lim.incident_rate.burst as usize);
    }

    #[test]
    fn end_once() {
        let (s, lim) = (settings(), Limits::default());
        let mut l = Ledger::new(sid("s1"), &lim);
        accept(&mut l, &s, &report("a", 1, IncidentKind::NoFace, T0 + 1_000), T0 + 1_100);
        let end = IncidentEnd { id: iid("a"), seq: 2, ended_at: T0 + 4_000 };
        let Ok(Admit::New(p)) = l.check_end(&lim, &end, T0 + 4_100) else { panic!() };
        l.commit_end(&p);
        assert_eq!(l.check_end(&lim, &end, T0 + 4_200), Ok(Admit::Duplicate));
        let other = IncidentEnd { id: iid("a"), seq: 3, ended_at: T0 + 5_000 };
        assert_eq!(reason(l.check_end(&lim, &other, T0 + 5_100)), RejectReason::AlreadyEnded);
        let unknown = IncidentEnd { id: iid("zz"), seq: 4, ended_at: T0 + 5_000 };
        assert_eq!(reason(l.check_end(&lim, &unknown, T0 + 5_100)), RejectReason::UnknownIncident);
    }

    proptest! {
        /// Replaying any permutation of a set of incidents gives the same final
        /// score, and restoring them from storage in any order does too.
        #[test]
        fn permutation_gives_same_score(
            incs in proptest::collection::vec((0usize..IncidentKind::ALL.len(), 0i64..3_600_000), 1..20),
            seed in any::<u64>(),
        ) {
            let s = settings();
            let lim = Limits { incident_rate: RateLimit { burst: 1000, per_second: 1000.0 }, ..Limits::default() };
            let client_kinds: Vec<_> = IncidentKind::ALL.into_iter().filter(|k| !k.is_server_only()).collect();
            let reports: Vec<_> = incs.iter().enumerate().map(|(i, &(k, t))| {
                report(&format!("i{i}"), 0, client_kinds[k % client_kinds.len()], T0 + t)
            }).collect();
            let now = T0 + 3_600_000;
            let run = |order: &[usize]| {
                let mut l = Ledger::new(sid("s1"), &lim);
                for (n, &i) in order.iter().enumerate() {
                    // Sequence numbers follow arrival order, as a client's do.
                    let mut r = reports[i].clone();
                    r.seq = n as u64 + 1;
                    accept(&mut l, &s, &r, now);
                }
                l.score_view(&s, now + 1)
            };
            let identity: Vec<usize> = (0..reports.len()).collect();
            let mut perm = identity.clone();
            let mut x = seed | 1;
            for i in (1..perm.len()).rev() {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                perm.swap(i, (x >> 33) as usize % (i + 1));
            }
            let (a, b) = (run(&identity), run(&perm));
            prop_assert_eq!(a.seq, b.seq);
            prop_assert_eq!(a.level, b.level);
            prop_assert!((a.score - b.score).abs() <= 1e-9 * a.score.max(1.0));
            prop_assert!(a.score >= 0.0);
        }
    }
}
