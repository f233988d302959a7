//! The `incident` target: the student's incident messages, decoded as the
//! server decodes them, then decided by one student's `Ledger` on simulated
//! time.
//!
//! Input: text, one command per line (`verb rest`); unknown or malformed
//! lines are skipped, so any bytes are an input.
//!
//! | line | what happens |
//! |---|---|
//! | `incident <json>` | decoded like `sockets::parse_incident_message` (JSON value, then `IncidentReport`); `check_report`, and `commit_report` if new |
//! | `incident? <json>` | the same, but the store "fails": checked, never committed |
//! | `incident_end <json>` / `incident_end? <json>` | the same for `IncidentEnd` (`check_end`, `commit_end`) |
//! | `server <kind> <ago_ms>` | an incident the server raises (`admit_server_incident`), started up to a day before now |
//! | `evidence <incident id> <captured_at>` | an evidence precheck: `evidence_span`, then `check_window` |
//! | `now <ms>` / `advance <ms>` | set the server clock / move it forward (within `0..=MAX_NOW`: `SystemClock` is never below 0) |
//! | `window <opens_at> <closes_at>` / `disable <kind>` | exam settings, before the first message only, and only what `Admin::create_exam` accepts |
//!
//! After the last line, the ledger is rebuilt from what was committed with
//! `Ledger::restore` (as after a restart), in commit order and reversed, and
//! must give the same score, sequence and incident count.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use vigil_core::evidence::{EvidenceLimits, check_window};
use vigil_core::ledger::{Admit, Ledger, Limits, PendingIncident};
use vigil_proto::events::{IncidentEnd, IncidentReport, ScoreView};
use vigil_proto::{ExamSettings, ExamWindow, IncidentId, IncidentKind, StudentId, UnixMillis};

/// Where simulated time starts unless a `now` line says otherwise.
pub const T0: UnixMillis = 1_700_000_000_000;
/// `Admin::create_exam` refuses a window whose close plus this overflows.
const LINK_GRACE_MS: i64 = 3_600_000;
/// The latest server clock simulated: 2^53 ms, some 285,000 years from 1970.
pub const MAX_NOW: UnixMillis = 1 << 53;
/// Lines read from one input: bounds the time one input may take.
const MAX_LINES: usize = 512;

/// The server's decoding of an `incident` or `incident_end` payload
/// (`transport::sockets::parse_incident_message`): the payload arrives as a
/// JSON value; the id is read separately so a refusal can name it.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let raw: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let _id_for_the_refusal = raw.get("id").and_then(|v| v.as_str()).and_then(|s| s.parse::<IncidentId>().ok());
    serde_json::from_value(raw).ok()
}

struct Sim {
    settings: ExamSettings,
    limits: Limits,
    ledger: Ledger,
    now: UnixMillis,
    started: bool,
    /// What the store holds: incidents in commit order, with the sequence
    /// number of their end, if any.
    stored: Vec<(PendingIncident, Option<u64>)>,
    stored_at: HashMap<IncidentId, usize>,
    server_ids: u64,
}

fn student() -> StudentId {
    "s1".parse().expect("a valid id")
}

impl Sim {
    fn new() -> Sim {
        let limits = Limits::default();
        Sim {
            settings: ExamSettings::with_window(ExamWindow { opens_at: T0, closes_at: T0 + 3 * 3_600_000 }),
            ledger: Ledger::new(student(), &limits),
            limits,
            now: T0,
            started: false,
            stored: Vec::new(),
            stored_at: HashMap::new(),
            server_ids: 0,
        }
    }

    fn line(&mut self, line: &[u8]) {
        let (verb, rest) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &[][..]),
        };
        let words = || std::str::from_utf8(rest).ok().map(|s| s.split_ascii_whitespace());
        let number = |w: Option<&str>| w.and_then(|w| w.parse::<i64>().ok());
        match verb {
            b"incident" | b"incident?" => {
                if let Some(report) = decode::<IncidentReport>(rest) {
                    self.report(&report, verb == b"incident");
                }
            }
            b"incident_end" | b"incident_end?" => {
                if let Some(end) = decode::<IncidentEnd>(rest) {
                    self.end(&end, verb == b"incident_end");
                }
            }
            b"server" => {
                let Some(mut w) = words() else { return };
                let (Some(kind), Some(ago)) = (w.next().and_then(IncidentKind::parse), number(w.next())) else {
                    return;
                };
                self.server_incident(kind, self.now - ago.clamp(0, 86_400_000));
            }
            b"evidence" => {
                let Some(mut w) = words() else { return };
                let (Some(id), Some(at)) = (w.next().and_then(|s| s.parse::<IncidentId>().ok()), number(w.next()))
                else {
                    return;
                };
                self.evidence(&id, at);
            }
            b"now" => {
                if let Some(t) = words().and_then(|mut w| number(w.next())) {
                    self.now = t.clamp(0, MAX_NOW);
                }
            }
            b"advance" => {
                if let Some(ms) = words().and_then(|mut w| number(w.next())) {
                    self.now = self.now.saturating_add(ms.max(0)).min(MAX_NOW);
                }
            }
            b"window" if !self.started => {
                let Some(mut w) = words() else { return };
                let (Some(opens_at), Some(closes_at)) = (number(w.next()), number(w.next())) else { return };
                if closes_at > opens_at && closes_at.checked_add(LINK_GRACE_MS).is_some() {
                    self.settings.window = ExamWindow { opens_at, closes_at };
                }
            }
            b"disable" if !self.started => {
                if let Some(kind) = words().and_then(|mut w| w.next().and_then(IncidentKind::parse)) {
                    self.settings.disabled_detectors.push(kind);
                }
            }
            _ => {}
        }
    }

    fn report(&mut self, report: &IncidentReport, store_ok: bool) {
        self.started = true;
        let Ok(Admit::New(pending)) = self.ledger.check_report(&self.settings, &self.limits, report, self.now) else {
            return;
        };
        if store_ok {
            let view = self.ledger.commit_report(&self.settings, &pending);
            check_view(&view);
            self.store(pending);
        }
    }

    fn end(&mut self, end: &IncidentEnd, store_ok: bool) {
        self.started = true;
        let Ok(Admit::New(pending)) = self.ledger.check_end(&self.limits, end, self.now) else { return };
        if store_ok {
            self.ledger.commit_end(&pending);
            let i = *self.stored_at.get(&pending.id).expect("an incident the ledger ended is stored");
            let (stored, end_seq) = &mut self.stored[i];
            stored.record.ended_at = Some(pending.ended_at);
            *end_seq = Some(pending.seq);
        }
    }

    fn server_incident(&mut self, kind: IncidentKind, started_at: UnixMillis) {
        self.started = true;
        self.server_ids += 1;
        let Ok(id) = IncidentId::for_server(kind.as_str(), &self.server_ids.to_string()) else { return };
        if let Admit::New(pending) = self.ledger.admit_server_incident(id, kind, started_at, None, self.now) {
            let view = self.ledger.commit_report(&self.settings, &pending);
            check_view(&view);
            self.store(pending);
        }
    }

    fn evidence(&mut self, id: &IncidentId, captured_at: UnixMillis) {
        if let Some((_, started_at, ended_at)) = self.ledger.evidence_span(id) {
            let _ = check_window(&EvidenceLimits::default(), started_at, ended_at, captured_at, self.now);
        }
    }

    fn store(&mut self, pending: PendingIncident) {
        self.stored_at.insert(pending.record.id.clone(), self.stored.len());
        self.stored.push((pending, None));
    }

    /// Property: restoring what was stored rebuilds the same state, as the
    /// server relies on after a restart.
    fn check_restore(&self) {
        let live = self.ledger.score_view(&self.settings, self.now);
        check_view(&live);
        let restore = |order: &mut dyn Iterator<Item = &(PendingIncident, Option<u64>)>| {
            let mut l = Ledger::new(student(), &self.limits);
            for (p, end_seq) in order {
                l.restore(&self.settings, p, *end_seq);
            }
            l
        };
        let same_order = restore(&mut self.stored.iter());
        let view = same_order.score_view(&self.settings, self.now);
        assert_eq!(view, live, "restored in commit order, the score differs");
        assert_eq!(same_order.next_seq(), self.ledger.next_seq());
        assert_eq!(same_order.incident_count(), self.ledger.incident_count());
        let reversed = restore(&mut self.stored.iter().rev());
        let view = reversed.score_view(&self.settings, self.now);
        assert_eq!((view.seq, view.as_of), (live.seq, live.as_of));
        let tolerance = 1e-9 * live.score.abs().max(1.0);
        assert!((view.score - live.score).abs() <= tolerance, "restored in reverse: {} vs {}", view.score, live.score);
        assert_eq!(reversed.next_seq(), self.ledger.next_seq());
        assert_eq!(reversed.incident_count(), self.ledger.incident_count());
    }
}

/// Property: a score is a finite, non-negative number.
fn check_view(view: &ScoreView) {
    assert!(view.score.is_finite() && view.score >= 0.0, "score {view:?}");
}

pub fn run(data: &[u8]) {
    let mut sim = Sim::new();
    for line in data.split(|&b| b == b'\n').take(MAX_LINES) {
        sim.line(line);
    }
    sim.check_restore();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reaches_the_ledger_and_its_end_the_store() {
        let mut sim = Sim::new();
        let input = format!(
            "advance 1000\nincident {{\"id\":\"a\",\"seq\":1,\"kind\":\"no_face\",\"started_at\":{}}}\n\
             advance 2000\nincident_end {{\"id\":\"a\",\"seq\":2,\"ended_at\":{}}}\n",
            T0 + 500,
            T0 + 2500
        );
        for line in input.as_bytes().split(|&b| b == b'\n') {
            sim.line(line);
        }
        assert_eq!(sim.ledger.incident_count(), 1);
        assert_eq!(sim.stored[0].1, Some(2));
        assert_eq!(sim.stored[0].0.record.ended_at, Some(T0 + 2500));
        assert_eq!(sim.ledger.next_seq(), 3);
        sim.check_restore();
    }

    #[test]
    fn settings_are_checked_like_the_admin_api_and_fixed_at_the_first_message() {
        let mut sim = Sim::new();
        sim.line(format!("window {} {}", i64::MIN, i64::MAX).as_bytes());
        assert_eq!(sim.settings.window.opens_at, T0, "closes_at + grace overflows: refused");
        sim.line(b"window 10 20");
        sim.line(b"now 15");
        sim.line(b"server heartbeat_lost 0");
        sim.line(b"window 30 40");
        assert_eq!(sim.settings.window, ExamWindow { opens_at: 10, closes_at: 20 });
    }
}
