//! What the service tells whom, behind a trait so that the transport (one
//! node's socketioxide today, a cross-node adapter later) can change without
//! touching the service.
//!
//! Score and presence updates go through leading-edge [`Coalescer`]s: the
//! first change after a quiet spell is sent at once, and bursts collapse to
//! at most one update per student per [`SCORE_INTERVAL_MS`] (scores) or
//! [`PRESENCE_INTERVAL_MS`] (presence), latest wins. Presence is coalesced
//! because a student who reconnects in a loop would otherwise send every
//! proctor two events per reconnect. The trailing edge runs on the service's
//! clock (see [`CoalescedFanout::run_trailing`]).

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::Notify;
use vigil_core::coalesce::Coalescer;
use vigil_proto::events::{
    AssessmentEntry, ChatMessage, IncidentRecord, PresenceUpdate, ProctorAction, QualityUpdate, ScoreUpdate, ScoreView,
    SessionUpdate, StudentView,
};
use vigil_proto::{Exam, ExamId, ExamSettings, SessionView, StudentId};

use super::conn::{ConnectionId, lock};
use crate::clock::Clock;
use crate::metrics as m;

/// At most about ten score updates per second per student.
pub const SCORE_INTERVAL_MS: i64 = 100;

/// At most one presence update per second per student after the first.
pub const PRESENCE_INTERVAL_MS: i64 = 1_000;

/// An event for every proctor of one exam.
#[derive(Debug, Clone, PartialEq)]
pub enum ProctorEvent {
    Score(ScoreUpdate),
    Incident(IncidentRecord),
    Presence(PresenceUpdate),
    Quality(QualityUpdate),
    /// The exam after its settings changed.
    Exam(Exam),
    /// A student's tile, for a student added to the roster since the
    /// snapshot.
    Student(StudentView),
    /// A student's session changed.
    Session(SessionUpdate),
    /// A chat message was stored.
    Chat(ChatMessage),
}

/// An event for every connection of one student.
#[derive(Debug, Clone, PartialEq)]
pub enum StudentEvent {
    Action(ProctorAction),
    Assessment(AssessmentEntry),
    /// The exam's settings after a change.
    Settings(ExamSettings),
    /// The exam's access code was set or replaced.
    AccessCodeChanged,
    /// The student's session changed.
    Session(SessionView),
    /// A chat message of the student's conversation, or an announcement.
    Chat(ChatMessage),
}

/// Delivers events to connections. Implementations must not block: a slow
/// connection loses its own events, never delays anyone else's.
pub trait Fanout: Send + Sync + std::fmt::Debug + 'static {
    /// To every proctor of `exam`. Resolves to whether the event was handed
    /// to the transport.
    fn to_proctors<'a>(&'a self, exam: &'a ExamId, event: ProctorEvent) -> BoxFuture<'a, bool>;
    /// To every connection of one student.
    fn to_student<'a>(&'a self, exam: &'a ExamId, student: &'a StudentId, event: StudentEvent) -> BoxFuture<'a, bool>;
    /// To every connection of every student of `exam`.
    fn to_students<'a>(&'a self, exam: &'a ExamId, event: StudentEvent) -> BoxFuture<'a, bool>;
    /// Closes one connection (it was replaced by a newer one).
    fn disconnect(&self, conn: ConnectionId) -> BoxFuture<'_, ()>;
    /// Closes every connection of an exam whose socket this node holds,
    /// students' and proctors' (this node no longer serves the exam).
    fn disconnect_exam<'a>(&'a self, exam: &'a ExamId) -> BoxFuture<'a, ()>;
}

#[derive(Debug)]
struct PendingScore {
    view: ScoreView,
    /// Service time the incident behind this score was committed.
    accepted_at: std::time::Instant,
}

type StudentKey = (ExamId, StudentId);

/// Score and presence coalescing in front of a [`Fanout`].
#[derive(Debug)]
pub struct CoalescedFanout {
    out: Arc<dyn Fanout>,
    clock: Arc<dyn Clock>,
    scores: Mutex<Coalescer<StudentKey, PendingScore>>,
    presence: Mutex<Coalescer<StudentKey, PresenceUpdate>>,
    wake: Notify,
}

impl CoalescedFanout {
    pub fn new(out: Arc<dyn Fanout>, clock: Arc<dyn Clock>) -> Self {
        CoalescedFanout {
            out,
            clock,
            scores: Mutex::new(Coalescer::new(SCORE_INTERVAL_MS)),
            presence: Mutex::new(Coalescer::new(PRESENCE_INTERVAL_MS)),
            wake: Notify::new(),
        }
    }

    pub fn out(&self) -> &dyn Fanout {
        &*self.out
    }

    /// A student's score changed; `accepted_at` is when its incident was stored.
    pub async fn score(&self, exam: &ExamId, student: &StudentId, view: ScoreView, accepted_at: std::time::Instant) {
        let key = (exam.clone(), student.clone());
        let now_emit = lock(&self.scores).offer(self.clock.now_ms(), key, PendingScore { view, accepted_at });
        match now_emit {
            Some(p) => self.emit_score(exam, student, p, "leading").await,
            None => self.wake.notify_one(),
        }
    }

    /// A student's presence changed.
    pub async fn presence(&self, exam: &ExamId, update: PresenceUpdate) {
        let key = (exam.clone(), update.student_id.clone());
        let now_emit = lock(&self.presence).offer(self.clock.now_ms(), key, update);
        match now_emit {
            Some(u) => {
                self.out.to_proctors(exam, ProctorEvent::Presence(u)).await;
            }
            None => self.wake.notify_one(),
        }
    }

    async fn emit_score(&self, exam: &ExamId, student: &StudentId, p: PendingScore, edge: &'static str) {
        let update = ScoreUpdate { student_id: student.clone(), score: p.view, emitted_at: self.clock.now_ms() };
        if self.out.to_proctors(exam, ProctorEvent::Score(update)).await {
            metrics::counter!(m::SCORES_EMITTED).increment(1);
            metrics::histogram!(m::FANOUT_LATENCY, "edge" => edge).record(p.accepted_at.elapsed().as_secs_f64());
        }
    }

    /// Emits coalesced updates as they fall due, until the task is aborted.
    pub async fn run_trailing(self: Arc<Self>) {
        loop {
            let next_score = lock(&self.scores).next_due();
            let next_presence = lock(&self.presence).next_due();
            let next = next_score.into_iter().chain(next_presence).min();
            match next {
                None => self.wake.notified().await,
                Some(due) => {
                    tokio::select! {
                        () = self.clock.sleep_until(due) => {}
                        () = self.wake.notified() => continue,
                    }
                }
            }
            let now = self.clock.now_ms();
            let due = lock(&self.scores).drain_due(now);
            for ((exam, student), p) in due {
                self.emit_score(&exam, &student, p, "trailing").await;
            }
            let due = lock(&self.presence).drain_due(now);
            for ((exam, _), update) in due {
                self.out.to_proctors(&exam, ProctorEvent::Presence(update)).await;
            }
        }
    }
}
