//! One student's exam session: the state machine and its clock, on
//! injected time.
//!
//! ```text
//! waiting ─identity_submit─► identity_check ─identity_approve─► ready
//!    ▲                             │                              │
//!    └──────identity_reject────────┘                              │
//! waiting, identity_check or ready ──start──► in_progress ◄──resume── paused
//!                                    in_progress ──pause──► paused (from any phase not over;
//!                                                                   resume goes back there)
//!                                    in_progress ◄─break_end── on_break ◄─break_start─ in_progress
//! any phase not over ──submit──► submitted, ──expire──► expired, ──terminate──► terminated
//! ```
//!
//! Every change is a [`Transition`]: the server checks it here, stores it,
//! then applies it, and replays the stored ones in order on restart, so a
//! session comes back exactly where it was. Nothing leaves `submitted`,
//! `terminated` or `expired`. Exam time runs only while `in_progress`; a
//! proctor may add time at any point before the end.
//!
//! What the exam's configuration allows (an identity check before the
//! start, how many breaks) is checked apart, by [`may_start`] and
//! [`may_take_break`], before a student's own change is stored: the replay
//! then never depends on settings that changed since.

use serde::{Deserialize, Serialize};
use vigil_proto::{SessionPhase, SessionView, UnixMillis};

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Change {
    Start,
    Pause,
    Resume,
    Submit,
    Terminate,
    Expire,
    /// Extra exam time (ms), given live by a proctor.
    AddTime {
        ms: i64,
    },
    /// The student sent their identity photos.
    IdentitySubmit,
    /// A proctor (or the exam's auto-approval) accepted them.
    IdentityApprove,
    /// A proctor refused them; the student takes them again.
    IdentityReject,
    /// The student takes one of their breaks.
    BreakStart,
    /// The student is back, or the break's time is up.
    BreakEnd,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Start => "start",
            Change::Pause => "pause",
            Change::Resume => "resume",
            Change::Submit => "submit",
            Change::Terminate => "terminate",
            Change::Expire => "expire",
            Change::AddTime { .. } => "add_time",
            Change::IdentitySubmit => "identity_submit",
            Change::IdentityApprove => "identity_approve",
            Change::IdentityReject => "identity_reject",
            Change::BreakStart => "break_start",
            Change::BreakEnd => "break_end",
        }
    }

    /// A stored change's name (and, for `add_time`, its amount) back to the change.
    pub fn parse(name: &str, added_ms: Option<i64>) -> Option<Change> {
        Some(match name {
            "start" => Change::Start,
            "pause" => Change::Pause,
            "resume" => Change::Resume,
            "submit" => Change::Submit,
            "terminate" => Change::Terminate,
            "expire" => Change::Expire,
            "add_time" => Change::AddTime { ms: added_ms? },
            "identity_submit" => Change::IdentitySubmit,
            "identity_approve" => Change::IdentityApprove,
            "identity_reject" => Change::IdentityReject,
            "break_start" => Change::BreakStart,
            "break_end" => Change::BreakEnd,
            _ => return None,
        })
    }
}

/// A change with when it happened and, for a proctor's, their words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub change: Change,
    pub at: UnixMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The exam's timing, from its settings and the student's accommodations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Exam time per student; `None`: the window alone ends sessions.
    pub duration_ms: Option<i64>,
    pub closes_at: UnixMillis,
    /// Breaks the student may take.
    pub breaks_allowed: u32,
    /// The longest a break lasts.
    pub break_ms: i64,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the session was terminated")]
    Terminated,
    #[error("the session is over ({})", .0.as_str())]
    Over(SessionPhase),
    #[error("cannot {} a session that is {}", .change, .phase.as_str())]
    Stale { change: &'static str, phase: SessionPhase },
    #[error("time added must be between 1 minute and 24 hours")]
    BadAmount,
    #[error("a transition cannot come before the previous one")]
    OutOfOrder,
}

/// The most a proctor may add at once.
const MAX_ADDED_MS: i64 = 24 * 3_600_000;
const MIN_ADDED_MS: i64 = 60_000;

/// Why a student's own change is refused by the exam's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAllowed {
    #[error("this exam checks identity first: send your photos, then wait for a proctor's approval")]
    IdentityFirst,
    #[error("no breaks are left")]
    NoBreaksLeft,
}

/// Whether the student may start from `phase`: with an identity check,
/// only once approved (`ready`).
pub fn may_start(phase: SessionPhase, identity_checked: bool) -> Result<(), NotAllowed> {
    if identity_checked && phase != SessionPhase::Ready { Err(NotAllowed::IdentityFirst) } else { Ok(()) }
}

/// Whether the student has a break left under `timing`.
pub fn may_take_break(session: &Session, timing: &Timing) -> Result<(), NotAllowed> {
    if session.breaks_taken < timing.breaks_allowed { Ok(()) } else { Err(NotAllowed::NoBreaksLeft) }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    phase: SessionPhase,
    /// Exam time used before the current run.
    used_ms: i64,
    /// Set while in progress: when the current run began.
    running_since: Option<UnixMillis>,
    added_ms: i64,
    /// The latest transition's time: time never runs backwards here.
    last_at: Option<UnixMillis>,
    reason: Option<String>,
    /// Where a resume goes back to.
    paused_from: SessionPhase,
    breaks_taken: u32,
    /// Set while on a break: when it began.
    break_since: Option<UnixMillis>,
    /// Started once: the exam's time may run out.
    started: bool,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    pub fn new() -> Self {
        Session {
            phase: SessionPhase::Waiting,
            used_ms: 0,
            running_since: None,
            added_ms: 0,
            last_at: None,
            reason: None,
            paused_from: SessionPhase::Waiting,
            breaks_taken: 0,
            break_since: None,
            started: false,
        }
    }

    pub fn phase(&self) -> SessionPhase {
        self.phase
    }

    /// Whether `t` may happen now; nothing changes.
    pub fn check(&self, t: &Transition) -> Result<(), Refused> {
        use SessionPhase::*;
        if self.last_at.is_some_and(|last| t.at < last) {
            return Err(Refused::OutOfOrder);
        }
        if self.phase == Terminated {
            return Err(Refused::Terminated);
        }
        if self.phase.is_over() {
            return Err(Refused::Over(self.phase));
        }
        let ok = match t.change {
            Change::Start => matches!(self.phase, Waiting | IdentityCheck | Ready),
            Change::Pause => self.phase != Paused,
            Change::Resume => self.phase == Paused,
            Change::Submit | Change::Expire | Change::Terminate => true,
            Change::AddTime { ms } => {
                if !(MIN_ADDED_MS..=MAX_ADDED_MS).contains(&ms) {
                    return Err(Refused::BadAmount);
                }
                true
            }
            Change::IdentitySubmit => self.phase == Waiting,
            Change::IdentityApprove | Change::IdentityReject => self.phase == IdentityCheck,
            Change::BreakStart => self.phase == InProgress,
            Change::BreakEnd => self.phase == OnBreak,
        };
        if ok { Ok(()) } else { Err(Refused::Stale { change: t.change.as_str(), phase: self.phase }) }
    }

    /// Checks and applies `t`.
    pub fn apply(&mut self, t: &Transition) -> Result<(), Refused> {
        self.check(t)?;
        let at = t.at;
        self.stop_clock(at);
        let was = self.phase;
        match t.change {
            Change::Start => {
                self.started = true;
                self.run(at);
            }
            Change::BreakEnd => self.run(at),
            Change::Resume => {
                self.reason = None;
                match self.paused_from {
                    SessionPhase::InProgress => self.run(at),
                    other => self.phase = other,
                }
            }
            Change::Pause => {
                // A pause during a break ends the break: the proctor's
                // resume goes back to the exam.
                self.paused_from = if was == SessionPhase::OnBreak { SessionPhase::InProgress } else { was };
                self.phase = SessionPhase::Paused;
                self.reason = t.reason.clone();
            }
            Change::Submit => self.phase = SessionPhase::Submitted,
            Change::Expire => self.phase = SessionPhase::Expired,
            Change::Terminate => {
                self.phase = SessionPhase::Terminated;
                self.reason = t.reason.clone();
            }
            Change::AddTime { ms } => {
                self.added_ms = self.added_ms.saturating_add(ms);
                // The clock was stopped to count; a running session runs on.
                if self.phase == SessionPhase::InProgress {
                    self.running_since = Some(at);
                }
            }
            Change::IdentitySubmit => {
                self.phase = SessionPhase::IdentityCheck;
                self.reason = None;
            }
            Change::IdentityApprove => self.phase = SessionPhase::Ready,
            Change::IdentityReject => {
                self.phase = SessionPhase::Waiting;
                self.reason = t.reason.clone();
            }
            Change::BreakStart => {
                self.phase = SessionPhase::OnBreak;
                self.breaks_taken += 1;
                self.break_since = Some(at);
            }
        }
        if self.phase != SessionPhase::OnBreak {
            // Whatever left the break (its end, a pause, the end of the
            // exam) ended it.
            self.break_since = None;
        }
        self.last_at = Some(at);
        Ok(())
    }

    fn run(&mut self, at: UnixMillis) {
        self.phase = SessionPhase::InProgress;
        self.running_since = Some(at);
        self.reason = None;
    }

    fn stop_clock(&mut self, at: UnixMillis) {
        if let Some(since) = self.running_since.take() {
            self.used_ms = self.used_ms.saturating_add((at - since).max(0));
        }
    }

    /// Exam time used by `now`.
    pub fn used_at(&self, now: UnixMillis) -> i64 {
        self.used_ms.saturating_add(self.running_since.map_or(0, |since| (now - since).max(0)))
    }

    /// Exam time left at `now`, for an exam with a duration.
    pub fn time_left(&self, timing: &Timing, now: UnixMillis) -> Option<i64> {
        let allowed = timing.duration_ms?.saturating_add(self.added_ms);
        Some((allowed - self.used_at(now)).max(0))
    }

    /// Whether the session must expire at `now`: the window has closed on
    /// a session not over, or a started one has used its time.
    pub fn expires_at_now(&self, timing: &Timing, now: UnixMillis) -> bool {
        !self.phase.is_over() && (now >= timing.closes_at || (self.started && self.time_left(timing, now) == Some(0)))
    }

    /// When the current break's time is up; `None` when not on a break.
    pub fn break_ends_at(&self, timing: &Timing) -> Option<UnixMillis> {
        self.break_since.map(|since| since.saturating_add(timing.break_ms))
    }

    /// Whether a break's time is up at `now` (the server then ends it).
    pub fn break_over_at_now(&self, timing: &Timing, now: UnixMillis) -> bool {
        self.break_ends_at(timing).is_some_and(|end| now >= end)
    }

    /// The session as of its last change (0 when it never changed: then no
    /// time has run), so two reads between changes are equal; a reader
    /// counts down from `as_of` while `in_progress`.
    pub fn view(&self, timing: &Timing) -> SessionView {
        let as_of = self.last_at.unwrap_or(0);
        SessionView {
            phase: self.phase,
            time_left_ms: self.time_left(timing, as_of),
            closes_at: timing.closes_at,
            reason: self.reason.clone(),
            breaks_left: timing.breaks_allowed.saturating_sub(self.breaks_taken),
            break_ends_at: self.break_ends_at(timing),
            as_of,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const T0: UnixMillis = 1_800_000_000_000;
    const MIN: i64 = 60_000;

    fn timing() -> Timing {
        Timing { duration_ms: Some(60 * MIN), closes_at: T0 + 3 * 60 * MIN, breaks_allowed: 2, break_ms: 10 * MIN }
    }

    fn t(change: Change, at: UnixMillis) -> Transition {
        Transition { change, at, reason: None }
    }

    #[test]
    fn a_pause_stops_the_clock_and_a_resume_restarts_it() {
        let mut s = Session::new();
        s.apply(&t(Change::Start, T0)).unwrap();
        assert_eq!(s.time_left(&timing(), T0 + 10 * MIN), Some(50 * MIN));
        s.apply(&Transition { change: Change::Pause, at: T0 + 10 * MIN, reason: Some("noise".into()) }).unwrap();
        let paused = s.view(&timing());
        assert_eq!(
            (paused.reason.as_deref(), paused.as_of, paused.time_left_ms),
            (Some("noise"), T0 + 10 * MIN, Some(50 * MIN))
        );
        assert_eq!(Session::new().view(&timing()).as_of, 0);
        assert_eq!(s.time_left(&timing(), T0 + 30 * MIN), Some(50 * MIN), "paused: no time passes");
        s.apply(&t(Change::Resume, T0 + 30 * MIN)).unwrap();
        assert_eq!(s.time_left(&timing(), T0 + 40 * MIN), Some(40 * MIN));
        assert!(!s.expires_at_now(&timing(), T0 + 80 * MIN - 1));
        assert!(s.expires_at_now(&timing(), T0 + 80 * MIN));
    }

    #[test]
    fn added_time_extends_and_the_window_still_ends_everything() {
        let mut s = Session::new();
        s.apply(&t(Change::Start, T0)).unwrap();
        s.apply(&t(Change::AddTime { ms: 30 * MIN }, T0 + 5 * MIN)).unwrap();
        assert_eq!(s.time_left(&timing(), T0 + 5 * MIN), Some(85 * MIN));
        assert_eq!(s.check(&t(Change::AddTime { ms: 0 }, T0 + 6 * MIN)), Err(Refused::BadAmount));
        // A late start: the window closes before the time would run out.
        let mut late = Session::new();
        late.apply(&t(Change::Start, T0 + 170 * MIN)).unwrap();
        assert!(!late.expires_at_now(&timing(), T0 + 180 * MIN - 1));
        assert!(late.expires_at_now(&timing(), T0 + 180 * MIN));
        // Without a duration, only the window.
        let open = Timing { duration_ms: None, ..timing() };
        assert_eq!(late.time_left(&open, T0 + 171 * MIN), None);
        assert!(!late.expires_at_now(&open, T0 + 179 * MIN) && late.expires_at_now(&open, T0 + 180 * MIN));
    }

    #[test]
    fn stale_and_final_transitions_are_refused() {
        let mut s = Session::new();
        assert_eq!(
            s.check(&t(Change::Resume, T0)),
            Err(Refused::Stale { change: "resume", phase: SessionPhase::Waiting })
        );
        // Paused before starting: the resume goes back to waiting, and no
        // time was used.
        s.apply(&t(Change::Pause, T0)).unwrap();
        s.apply(&t(Change::Resume, T0 + MIN)).unwrap();
        assert_eq!((s.phase(), s.used_at(T0 + 2 * MIN)), (SessionPhase::Waiting, 0));
        s.apply(&t(Change::Start, T0)).unwrap_err();
        s.apply(&t(Change::Start, T0 + 2 * MIN)).unwrap();
        assert!(s.check(&t(Change::Start, T0 + 3 * MIN)).is_err(), "started once");
        s.apply(&t(Change::Submit, T0 + 3 * MIN)).unwrap();
        assert_eq!(s.check(&t(Change::Terminate, T0 + 4 * MIN)), Err(Refused::Over(SessionPhase::Submitted)));
        let mut ended = Session::new();
        ended.apply(&t(Change::Terminate, T0)).unwrap();
        assert_eq!(ended.check(&t(Change::Start, T0 + 1)), Err(Refused::Terminated));
        assert_eq!(ended.check(&t(Change::Pause, T0 - 1)), Err(Refused::OutOfOrder));
    }

    #[test]
    fn the_identity_check_comes_before_the_start_and_a_rejection_asks_again() {
        let mut s = Session::new();
        assert_eq!(may_start(s.phase(), true), Err(NotAllowed::IdentityFirst));
        assert_eq!(may_start(s.phase(), false), Ok(()));
        assert!(s.check(&t(Change::IdentityApprove, T0)).is_err(), "nothing to approve yet");
        s.apply(&t(Change::IdentitySubmit, T0)).unwrap();
        assert_eq!(may_start(s.phase(), true), Err(NotAllowed::IdentityFirst));
        s.apply(&Transition { change: Change::IdentityReject, at: T0 + MIN, reason: Some("blurred".into()) }).unwrap();
        assert_eq!((s.phase(), s.view(&timing()).reason.as_deref()), (SessionPhase::Waiting, Some("blurred")));
        s.apply(&t(Change::IdentitySubmit, T0 + 2 * MIN)).unwrap();
        // A pause while waiting for approval comes back to it.
        s.apply(&t(Change::Pause, T0 + 3 * MIN)).unwrap();
        s.apply(&t(Change::Resume, T0 + 4 * MIN)).unwrap();
        assert_eq!(s.phase(), SessionPhase::IdentityCheck);
        s.apply(&t(Change::IdentityApprove, T0 + 5 * MIN)).unwrap();
        assert_eq!((s.phase(), may_start(SessionPhase::Ready, true)), (SessionPhase::Ready, Ok(())));
        assert_eq!(s.used_at(T0 + 6 * MIN), 0, "no exam time before the start");
        s.apply(&t(Change::Start, T0 + 6 * MIN)).unwrap();
        assert_eq!(s.time_left(&timing(), T0 + 16 * MIN), Some(50 * MIN));
    }

    #[test]
    fn a_break_stops_the_clock_ends_by_itself_and_is_counted() {
        let mut s = Session::new();
        assert!(s.check(&t(Change::BreakStart, T0)).is_err(), "no break before the start");
        s.apply(&t(Change::Start, T0)).unwrap();
        s.apply(&t(Change::BreakStart, T0 + 10 * MIN)).unwrap();
        let view = s.view(&timing());
        assert_eq!((view.phase, view.breaks_left, view.break_ends_at), (SessionPhase::OnBreak, 1, Some(T0 + 20 * MIN)));
        assert_eq!(s.time_left(&timing(), T0 + 15 * MIN), Some(50 * MIN), "on a break: no exam time passes");
        assert!(!s.break_over_at_now(&timing(), T0 + 20 * MIN - 1));
        assert!(s.break_over_at_now(&timing(), T0 + 20 * MIN));
        s.apply(&t(Change::BreakEnd, T0 + 20 * MIN)).unwrap();
        assert_eq!((s.phase(), s.break_ends_at(&timing())), (SessionPhase::InProgress, None));
        assert_eq!(may_take_break(&s, &timing()), Ok(()));
        s.apply(&t(Change::BreakStart, T0 + 30 * MIN)).unwrap();
        // A proctor's pause during a break ends it; the resume goes back to the exam.
        s.apply(&t(Change::Pause, T0 + 31 * MIN)).unwrap();
        assert_eq!(s.break_ends_at(&timing()), None);
        s.apply(&t(Change::Resume, T0 + 40 * MIN)).unwrap();
        assert_eq!(s.phase(), SessionPhase::InProgress);
        assert_eq!(may_take_break(&s, &timing()), Err(NotAllowed::NoBreaksLeft));
        assert_eq!(s.view(&timing()).breaks_left, 0);
    }

    #[test]
    fn stored_names_parse_back() {
        for change in [
            Change::Start,
            Change::Pause,
            Change::Resume,
            Change::Submit,
            Change::Terminate,
            Change::Expire,
            Change::AddTime { ms: MIN },
            Change::IdentitySubmit,
            Change::IdentityApprove,
            Change::IdentityReject,
            Change::BreakStart,
            Change::BreakEnd,
        ] {
            let added = match change {
                Change::AddTime { ms } => Some(ms),
                _ => None,
            };
            assert_eq!(Change::parse(change.as_str(), added), Some(change));
        }
        assert_eq!(Change::parse("add_time", None), None);
        assert_eq!(Change::parse("teleport", None), None);
    }

    fn any_change() -> impl Strategy<Value = Change> {
        prop_oneof![
            Just(Change::Start),
            Just(Change::Pause),
            Just(Change::Resume),
            Just(Change::Submit),
            Just(Change::Terminate),
            Just(Change::Expire),
            (0i64..3 * 60 * MIN).prop_map(|ms| Change::AddTime { ms }),
            Just(Change::IdentitySubmit),
            Just(Change::IdentityApprove),
            Just(Change::IdentityReject),
            Just(Change::BreakStart),
            Just(Change::BreakEnd),
        ]
    }

    proptest! {
        /// Whatever is tried, in whatever order: nothing leaves an ended
        /// session, the clock never runs backwards, and it does not run
        /// while not in progress.
        #[test]
        fn sessions_hold_their_invariants(steps in proptest::collection::vec((any_change(), 0i64..10 * MIN), 0..40)) {
            let mut s = Session::new();
            let mut now = T0;
            let mut ended_as: Option<SessionPhase> = None;
            let mut used = 0;
            for (change, gap) in steps {
                now += gap;
                let before = s.clone();
                let used_now = s.used_at(now);
                prop_assert!(used_now >= used, "the clock ran backwards");
                if before.phase != SessionPhase::InProgress {
                    prop_assert_eq!(used_now, before.used_ms, "the clock ran while {:?}", before.phase);
                }
                used = used_now;
                let result = s.apply(&t(change, now));
                if let Some(phase) = ended_as {
                    prop_assert!(result.is_err());
                    prop_assert_eq!(s.phase(), phase);
                }
                if result.is_err() {
                    prop_assert_eq!(&s, &before, "a refused transition changed the session");
                }
                if s.phase().is_over() {
                    ended_as = Some(s.phase());
                }
                prop_assert_eq!(s.phase() == SessionPhase::OnBreak, s.break_ends_at(&timing()).is_some());
            }
        }
    }
}
