//! Live state around the incidents: connections and presence, signals and
//! heartbeats, proctor actions and snapshots.

use std::sync::Arc;

use vigil_core::actions::check_action;
use vigil_core::presence::Transition;
use vigil_core::session::Change;
use vigil_core::signals::quality_of;
use vigil_proto::events::{
    ActionRequest, AssessmentEntry, ExamSnapshot, Heartbeat, PresenceUpdate, ProctorAction, ProctorActionKind,
    QualityUpdate, RequestAck, Signals, StudentWelcome,
};
use vigil_proto::{Exam, ExamId, IncidentKind, StudentId, UnixMillis};

use super::acs::AcsJob;
use super::exams::{ExamRuntime, MAX_STUDENT_CONNECTIONS, StudentCell};
use super::fanout::{ProctorEvent, StudentEvent};
use super::{ProctorSession, Service, StudentSession, lock, unavailable};
use crate::metrics as m;

/// How often stalled heartbeats are looked for. A stall is announced at most
/// this much after its deadline.
pub const PRESENCE_TICK_MS: i64 = 250;

impl Service {
    /// A student's socket is connected: it counts as present from now, and
    /// proctors are told if that changes the student's presence.
    pub async fn student_connected(&self, sess: &StudentSession) -> StudentWelcome {
        let (rt, cell) = (&sess.rt, &sess.cell);
        let now = self.clock.now_ms();
        metrics::gauge!(m::STUDENTS_CONNECTED).increment(1);
        let replaced = {
            let mut live = lock(&cell.live);
            live.connections.push_back(sess.conn);
            if live.connections.len() > MAX_STUDENT_CONNECTIONS { live.connections.pop_front() } else { None }
        };
        if let Some(oldest) = replaced {
            tracing::info!(exam = %rt.id(), student = %cell.id(), "a new connection replaced the oldest of this student's");
            metrics::counter!(m::CONNECTIONS_REPLACED).increment(1);
            self.fanout.out().disconnect(oldest).await;
        }
        let change = lock(&rt.presence).connected(cell.id(), now, rt.stall_after_ms());
        let next_seq = cell.ledger.lock().await.next_seq();
        self.announce_presence(rt, change).await;
        let assessment = match self.store.lti_attempt(rt.id(), cell.id().as_str()).await {
            Ok(attempt) => attempt
                .map(|a| AssessmentEntry::LtiProctoring { attempt_number: a.attempt_number, ended_at: a.ended_at }),
            Err(e) => {
                // The page then shows its own assessment, and asking for the
                // platform's later still works.
                tracing::warn!(error = %e, "the student's LTI attempt could not be read");
                None
            }
        };
        let exam = rt.exam();
        let settings = cell.settings_in(&exam).into_owned();
        let session = cell.session_view(&exam);
        StudentWelcome {
            session,
            student: cell.student.clone(),
            exam_id: exam.id.clone(),
            exam_title: exam.title.clone(),
            settings,
            next_seq,
            server_time: now,
            assessment,
        }
    }

    /// The learning platform ended a student's attempt: their open pages are
    /// told, and stop proctoring. A student id that is not one (an LTI person
    /// id always is) or an exam not loaded has no page to tell.
    pub async fn assessment_ended(&self, exam: &ExamId, person_id: &str, attempt_number: u32, ended_at: UnixMillis) {
        let Ok(student) = person_id.parse::<StudentId>() else { return };
        let entry = AssessmentEntry::LtiProctoring { attempt_number, ended_at: Some(ended_at) };
        self.fanout.out().to_student(exam, &student, StudentEvent::Assessment(entry)).await;
    }

    pub async fn student_disconnected(&self, sess: &StudentSession) {
        metrics::gauge!(m::STUDENTS_CONNECTED).decrement(1);
        lock(&sess.cell.live).connections.retain(|c| *c != sess.conn);
        self.stop_publishing(sess).await;
        let change = lock(&sess.rt.presence).disconnected(sess.cell.id(), self.clock.now_ms());
        self.announce_presence(&sess.rt, change).await;
    }

    /// Signals and heartbeats share one rate limit per student; over it, a
    /// message is dropped and counted, never answered (they are fire and forget).
    fn admit_signal(&self, sess: &StudentSession) -> bool {
        let admitted = lock(&sess.cell.live).signal_bucket.try_take(self.clock.now_ms()).is_ok();
        if !admitted {
            metrics::counter!(m::SIGNALS_DROPPED).increment(1);
        }
        admitted
    }

    /// A student's `signals`: they feed the detection-quality indicator only.
    pub async fn signals(&self, sess: &StudentSession, sig: Signals) {
        if !self.admit_signal(sess) {
            return;
        }
        let quality = quality_of(sig.brightness, sig.confidence);
        let changed = std::mem::replace(&mut lock(&sess.cell.live).quality, quality) != quality;
        if changed {
            let update = QualityUpdate { student_id: sess.cell.id().clone(), quality, at: self.clock.now_ms() };
            self.fanout.out().to_proctors(sess.rt.id(), ProctorEvent::Quality(update)).await;
        }
    }

    /// A student's `heartbeat`: proof of life, and the worker's health as the
    /// page reports it, which the server turns into incidents itself.
    pub async fn heartbeat(&self, sess: &StudentSession, hb: Heartbeat) {
        if !self.admit_signal(sess) {
            return;
        }
        let now = self.clock.now_ms();
        let change = lock(&sess.rt.presence).heartbeat(sess.cell.id(), now, sess.rt.stall_after_ms());
        self.announce_presence(&sess.rt, change).await;
        let finding = lock(&sess.cell.live).worker.heartbeat(&self.config.worker, &hb, now);
        if let Some(f) = finding {
            self.raise_server_incident(&sess.rt, &sess.cell, f.kind, f.started_at, Some(f.detail)).await;
        }
    }

    async fn announce_presence(&self, rt: &ExamRuntime, change: Option<Transition>) {
        let Some(t) = change else { return };
        let update = PresenceUpdate { student_id: t.student_id, presence: t.presence, at: t.at };
        self.fanout.presence(rt.id(), update).await;
    }

    /// Marks students whose heartbeats stopped as stalled, and raises each
    /// stall as a server incident: the client cannot hide it.
    pub async fn tick_presence(&self) {
        let now = self.clock.now_ms();
        for rt in self.exams.loaded() {
            let stalled = lock(&rt.presence).tick(now);
            for t in stalled {
                let student_id = t.student_id.clone();
                self.announce_presence(&rt, Some(t)).await;
                if let Some(cell) = rt.cached_student(&student_id) {
                    let detail = format!("no heartbeat for {} s", rt.exam().settings.stall_after_s);
                    self.raise_server_incident(&rt, &cell, IncidentKind::HeartbeatLost, now, Some(detail)).await;
                }
            }
        }
        self.expire_sessions().await;
    }

    /// Runs [`Service::tick_presence`] every [`PRESENCE_TICK_MS`] of the
    /// service's clock, until the task is aborted.
    pub async fn run_presence(self: Arc<Self>) {
        let mut next = self.clock.now_ms();
        loop {
            next += PRESENCE_TICK_MS;
            self.clock.sleep_until(next).await;
            self.tick_presence().await;
            // After a long pause (a suspended machine), skip the missed ticks.
            next = next.max(self.clock.now_ms() - PRESENCE_TICK_MS);
        }
    }

    /// Deletes evidence past its exam's retention. Returns how many frames went.
    pub async fn purge_expired_evidence(&self) -> Result<usize, vigil_store::StoreError> {
        self.store.purge_expired_evidence(self.clock.now_ms()).await
    }

    /// Runs the evidence purge every `every_ms`, apart from the presence tick
    /// so that a slow purge never delays a stall.
    pub async fn run_retention(self: Arc<Self>, every_ms: i64) {
        loop {
            match self.purge_expired_evidence().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(frames = n, "purged evidence past retention"),
                Err(e) => tracing::warn!(error = %e, "evidence purge failed"),
            }
            match self.purge_expired_exams().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(exams = n, "purged exams past retention"),
                Err(e) => tracing::warn!(error = %e, "exam purge failed"),
            }
            match self.purge_expired_identity().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(photos = n, "purged identity photos past retention"),
                Err(e) => tracing::warn!(error = %e, "identity photo purge failed"),
            }
            let next = self.clock.now_ms() + every_ms;
            self.clock.sleep_until(next).await;
        }
    }

    /// A student joined the roster after proctors loaded their snapshots
    /// (an LTI learner's first launch, a roster sync): their tile is sent.
    pub async fn announce_student(&self, rt: &ExamRuntime, cell: &StudentCell) {
        self.fanout.out().to_proctors(rt.id(), ProctorEvent::Student(rt.view(cell))).await;
    }

    /// Students put on the roster (stored already) while the exam may be
    /// loaded: a loaded exam takes them in and proctors get their tiles.
    /// An exam not loaded reads them from the store when it is.
    pub async fn roster_grew(&self, exam: &ExamId, students: Vec<vigil_proto::Student>) {
        let Some(rt) = self.exams.loaded().into_iter().find(|rt| rt.id() == exam) else { return };
        for found in self.exams.added(&rt, students) {
            if found.new {
                self.announce_student(&rt, &found.cell).await;
            }
        }
    }

    pub fn proctor_connected(&self, _sess: &ProctorSession) {
        metrics::gauge!(m::PROCTORS_CONNECTED).increment(1);
    }

    pub async fn proctor_disconnected(&self, sess: &ProctorSession) {
        metrics::gauge!(m::PROCTORS_CONNECTED).decrement(1);
        self.stop_subscription(sess).await;
    }

    pub fn snapshot(&self, sess: &ProctorSession) -> ExamSnapshot {
        let rt = &sess.rt;
        ExamSnapshot {
            exam: Exam::clone(&rt.exam()),
            students: rt.views(),
            server_time: self.clock.now_ms(),
            may_configure: sess.may_configure,
        }
    }

    /// A proctor's `action`: recorded, then delivered to every connection of
    /// the student.
    pub async fn act(&self, sess: &ProctorSession, req: ActionRequest) -> RequestAck {
        let reject = |rejection| RequestAck::Rejected { rejection };
        if let Err(r) = check_action(&req) {
            return reject(r);
        }
        let cell = match self.on_roster(&sess.rt, &req.student_id).await {
            Ok(cell) => cell,
            Err(r) => return reject(r),
        };
        // Pause, resume and terminate change the session, which the server
        // holds: a stale one (resume when not paused) or one on an ended
        // session is refused, and nothing is recorded or sent.
        let change = match req.kind {
            ProctorActionKind::Pause => Some(Change::Pause),
            ProctorActionKind::Resume => Some(Change::Resume),
            ProctorActionKind::Terminate => Some(Change::Terminate),
            ProctorActionKind::AddTime => req.minutes.map(|m| Change::AddTime { ms: i64::from(m) * 60_000 }),
            ProctorActionKind::ApproveIdentity => Some(Change::IdentityApprove),
            ProctorActionKind::RejectIdentity => Some(Change::IdentityReject),
            ProctorActionKind::Warn | ProctorActionKind::Message | ProctorActionKind::FlagForReview => None,
        };
        if let Some(change) = change {
            let by = format!("proctor:{}", sess.proctor);
            if let Err(r) = self.change_session(&sess.rt, &cell, change, &by, req.text.as_deref()).await {
                return reject(r);
            }
        }
        let action = ProctorAction { kind: req.kind, text: req.text, minutes: req.minutes, at: self.clock.now_ms() };
        let kind =
            serde_json::to_value(action.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        if let Err(e) = self
            .store
            .record_action(&vigil_store::ActionRecord {
                exam_id: sess.rt.id().clone(),
                student_id: req.student_id.clone(),
                proctor_id: sess.proctor.clone(),
                kind,
                text: action.text.clone(),
                minutes: action.minutes,
                at: action.at,
            })
            .await
        {
            tracing::error!(error = %e, "could not record a proctor action");
            return reject(unavailable("the action could not be recorded; retry"));
        }
        if let Some(acs) = self.acs.get() {
            let job = AcsJob { exam: sess.rt.id().clone(), student: req.student_id.clone(), action: action.clone() };
            acs.offer(job);
        }
        self.fanout.out().to_student(sess.rt.id(), &req.student_id, StudentEvent::Action(action)).await;
        RequestAck::Ok
    }
}
