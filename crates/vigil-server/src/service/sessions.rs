//! Exam sessions the server enforces: every change (a student starting or
//! handing in, a proctor pausing, resuming or terminating, the time running
//! out) is checked by `vigil_core::session`, stored, then applied, and the
//! student's pages and the proctors are told. A restart replays the stored
//! transitions (`exams::replay_sessions`), so a reload or a reconnect comes
//! back to the same state, and a terminated student's token is refused.

use vigil_core::session::{Change, NotAllowed, Refused, Session, Timing, Transition, may_start, may_take_break};
use vigil_proto::events::{RequestAck, SessionUpdate};
use vigil_proto::{IdentityCheck, RejectReason, Rejection, SessionPhase, SessionView};
use vigil_store::{SessionTransitionRow, StoreError};

use super::exams::{ExamRuntime, StudentCell};
use super::fanout::{ProctorEvent, StudentEvent};
use super::{Service, StudentSession, lock, unavailable};

/// The longest reason kept with a pause or a termination.
const MAX_REASON_CHARS: usize = 500;

/// A refused transition as the client sees it.
pub fn refusal(e: &Refused) -> Rejection {
    let reason = match e {
        Refused::Terminated => RejectReason::SessionTerminated,
        Refused::BadAmount => RejectReason::InvalidPayload,
        Refused::Over(_) | Refused::Stale { .. } | Refused::OutOfOrder => RejectReason::StaleTransition,
    };
    Rejection::new(reason, e.to_string())
}

/// What a message still queued on an erased student's socket gets.
pub fn erased() -> Rejection {
    Rejection::new(RejectReason::UnknownStudent, "you are not on this exam's roster any more")
}

/// A student's own change the exam's configuration does not allow.
fn not_allowed(e: NotAllowed) -> Rejection {
    let reason = match e {
        NotAllowed::IdentityFirst => RejectReason::IdentityRequired,
        NotAllowed::NoBreaksLeft => RejectReason::StaleTransition,
    };
    Rejection::new(reason, e.to_string())
}

/// A rule a change must pass under the session's lock, besides the state
/// machine's own: what the exam's configuration allows the student.
type Policy<'a> = &'a (dyn Fn(&Session, &Timing) -> Result<(), Rejection> + Sync);

/// The check for what a terminated session may no longer do (see
/// `Service::authenticate_live_student`).
pub fn admit(cell: &StudentCell) -> Result<(), Rejection> {
    if cell.is_erased() {
        return Err(erased());
    }
    if cell.session_phase() == SessionPhase::Terminated {
        return Err(Rejection::new(RejectReason::SessionTerminated, "your proctor ended your exam"));
    }
    Ok(())
}

impl Service {
    /// Checks, stores and applies one change to a student's session, then
    /// tells the student's pages and the proctors. `by` is who caused it
    /// (`student`, `server`, `proctor:<id>`), for the record.
    pub async fn change_session(
        &self,
        rt: &ExamRuntime,
        cell: &StudentCell,
        change: Change,
        by: &str,
        reason: Option<&str>,
    ) -> Result<SessionView, Rejection> {
        self.change_session_if(rt, cell, change, by, reason, &|_, _| Ok(())).await
    }

    /// [`Service::change_session`], if `policy` allows it too.
    async fn change_session_if(
        &self,
        rt: &ExamRuntime,
        cell: &StudentCell,
        change: Change,
        by: &str,
        reason: Option<&str>,
        policy: Policy<'_>,
    ) -> Result<SessionView, Rejection> {
        let _one_at_a_time = cell.session_writes.lock().await;
        if cell.is_erased() {
            return Err(erased());
        }
        let now = self.clock.now_ms();
        let reason: Option<String> = reason.map(|r| r.chars().take(MAX_REASON_CHARS).collect());
        let transition = Transition { change, at: now, reason: reason.clone() };
        let timing = cell.timing_in(&rt.exam());
        let seq = {
            let state = lock(&cell.session);
            state.session.check(&transition).map_err(|e| refusal(&e))?;
            policy(&state.session, &timing)?;
            state.next_seq.max(1)
        };
        let row = SessionTransitionRow {
            exam_id: rt.id().clone(),
            student_id: cell.id().clone(),
            seq,
            change: change.as_str().to_owned(),
            added_ms: match change {
                Change::AddTime { ms } => Some(ms),
                _ => None,
            },
            at: now,
            by: by.to_owned(),
            reason,
        };
        if let Err(e) = self.store.insert_transition(&row).await {
            tracing::error!(error = %e, "storing a session transition failed");
            return Err(match e {
                StoreError::AlreadyExists(_) => {
                    Rejection::new(RejectReason::StaleTransition, "the session changed meanwhile; retry")
                }
                _ => unavailable("the change could not be stored; retry"),
            });
        }
        let view = {
            let mut state = lock(&cell.session);
            // Checked above under the same write lock: this cannot fail.
            if let Err(e) = state.session.apply(&transition) {
                tracing::error!(error = %e, "a checked session transition did not apply");
            }
            state.next_seq = seq + 1;
            state.session.view(&timing)
        };
        tracing::info!(exam = %rt.id(), student = %cell.id(), change = change.as_str(), by, "session changed");
        let out = self.fanout.out();
        out.to_student(rt.id(), cell.id(), StudentEvent::Session(view.clone())).await;
        let update = SessionUpdate { student_id: cell.id().clone(), session: view.clone() };
        out.to_proctors(rt.id(), ProctorEvent::Session(update)).await;
        Ok(view)
    }

    /// Ends the sessions whose time or window has run out, and the breaks
    /// whose time is up (every presence tick).
    pub async fn expire_sessions(&self) {
        let now = self.clock.now_ms();
        for rt in self.exams.loaded() {
            let exam = rt.exam();
            for cell in rt.cells() {
                let Some(change) = cell.session_due(&exam, now) else { continue };
                if let Err(r) = self.change_session(&rt, &cell, change, "server", None).await {
                    // Another change won the race (a hand-in at the last second), or storage failed:
                    // the next tick looks again.
                    tracing::debug!(student = %cell.id(), reason = r.reason.as_str(), "expiry not applied");
                }
            }
        }
    }

    /// The student's own `start`, `submit`, `break_start` or `break_end`,
    /// within what the exam allows them.
    pub async fn student_session(&self, sess: &StudentSession, change: Change) -> RequestAck {
        let identity_checked = sess.rt.exam().settings.identity_check != IdentityCheck::Off;
        let policy = move |session: &Session, timing: &Timing| match change {
            Change::Start => may_start(session.phase(), identity_checked).map_err(not_allowed),
            Change::BreakStart => may_take_break(session, timing).map_err(not_allowed),
            _ => Ok(()),
        };
        match self.change_session_if(&sess.rt, &sess.cell, change, "student", None, &policy).await {
            Ok(_) => RequestAck::Ok,
            Err(rejection) => RequestAck::Rejected { rejection },
        }
    }
}
