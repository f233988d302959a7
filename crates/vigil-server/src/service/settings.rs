//! An exam's settings changed by its instructor (or the admin) while the
//! exam may be live: checked, stored, swapped into the running exam, and
//! sent to every proctor and student page so they apply it at once.

use vigil_core::rate::{KeyedTake, RateLimit};
use vigil_proto::events::{SessionUpdate, StudentView};
use vigil_proto::{Accommodations, Exam, ExamId, ExamSettings, RejectReason, Rejection, SessionView, StudentId};

use super::exams::{ExamRuntime, StudentCell};
use super::fanout::{ProctorEvent, StudentEvent};
use super::{Service, lock, unavailable};

/// Settings changes per exam: each one reaches every student page, so a
/// script (or an impatient double-click) must not turn into a flood.
pub const SETTINGS_CHANGES: RateLimit = RateLimit { burst: 10, per_second: 0.2 };
/// Accommodation changes per exam: a class's are set one by one, so the
/// burst is a class.
pub const ACCOMMODATION_CHANGES: RateLimit = RateLimit { burst: 200, per_second: 2.0 };
/// Exams tracked at once for those budgets.
pub const MAX_EXAMS_TRACKED: usize = 10_000;

impl Service {
    /// Replaces the settings of `exam_id` with `settings`. Valid settings
    /// only (`admin::check_settings`), and once the exam has opened only the
    /// changes `vigil_core::settings` allows. Changes are made one at a time,
    /// each against the settings the previous one left. `by` names who
    /// asked, for the log.
    pub async fn change_settings(&self, exam_id: &ExamId, settings: ExamSettings, by: &str) -> Result<Exam, Rejection> {
        crate::admin::check_settings(&settings)?;
        match lock(&self.settings_budget).try_take(exam_id, self.clock.now_ms()) {
            KeyedTake::Admitted | KeyedTake::Untracked => {}
            KeyedTake::Refused { retry_after_ms } => {
                return Err(Rejection {
                    reason: RejectReason::RateLimited,
                    message: "too many settings changes in a short time; wait and retry".into(),
                    retry_after_ms: Some(retry_after_ms),
                });
            }
        }
        let _one_at_a_time = self.settings_writes.lock().await;
        // Loaded first (if not yet), so a load that read the old settings
        // cannot finish after the swap below.
        let rt = self.exam_runtime(exam_id).await?;
        let before = rt.exam();
        vigil_core::settings::check_change(&before.settings, &settings, self.clock.now_ms())
            .map_err(|e| Rejection::new(RejectReason::SettingsLocked, e.to_string()))?;
        if before.settings == settings {
            return Ok(Exam::clone(&before));
        }
        match self.store.update_exam_settings(exam_id, &settings).await {
            Ok(true) => {}
            Ok(false) => return Err(Rejection::new(RejectReason::UnknownExam, format!("no exam {exam_id}"))),
            Err(e) => {
                tracing::error!(error = %e, "storing exam settings failed");
                return Err(unavailable("storage is unavailable; retry"));
            }
        }
        let exam = rt.replace_settings(settings.clone());
        tracing::info!(exam = %exam_id, by, "exam settings changed");
        self.fanout.out().to_proctors(exam_id, ProctorEvent::Exam(Exam::clone(&exam))).await;
        self.tell_students_their_settings(&rt, &exam).await;
        Ok(Exam::clone(&exam))
    }

    /// The runtime of `exam_id`, loaded if it is not yet.
    async fn exam_runtime(&self, exam_id: &ExamId) -> Result<std::sync::Arc<ExamRuntime>, Rejection> {
        self.exams
            .get(exam_id)
            .await
            .map_err(|_| unavailable("the server cannot load this exam right now"))?
            .ok_or_else(|| Rejection::new(RejectReason::UnknownExam, format!("no exam {exam_id}")))
    }

    /// Each loaded student's pages get the settings as they apply to them
    /// (their accommodations on top) and their session's time under them.
    async fn tell_students_their_settings(&self, rt: &ExamRuntime, exam: &Exam) {
        for cell in rt.cells() {
            self.tell_student_their_settings(rt, &cell, exam).await;
        }
    }

    /// One student's pages get their settings and their session's time.
    async fn tell_student_their_settings(&self, rt: &ExamRuntime, cell: &StudentCell, exam: &Exam) -> SessionView {
        let out = self.fanout.out();
        let session = cell.session_view(exam);
        out.to_student(rt.id(), cell.id(), StudentEvent::Settings(cell.settings_in(exam).into_owned())).await;
        out.to_student(rt.id(), cell.id(), StudentEvent::Session(session.clone())).await;
        session
    }

    /// Replaces a student's accommodations (already checked on their own),
    /// and tells the student's pages (settings and time) and the proctors
    /// (the tile). `by` names who asked, for the log.
    pub async fn set_accommodations(
        &self,
        exam_id: &ExamId,
        student_id: &StudentId,
        accommodations: Accommodations,
        by: &str,
    ) -> Result<StudentView, Rejection> {
        vigil_core::settings::check_accommodations(&accommodations)
            .map_err(|m| Rejection::new(RejectReason::InvalidPayload, m))?;
        if let KeyedTake::Refused { retry_after_ms } =
            lock(&self.accommodation_budget).try_take(exam_id, self.clock.now_ms())
        {
            return Err(Rejection {
                reason: RejectReason::RateLimited,
                message: "too many accommodation changes in a short time; wait and retry".into(),
                retry_after_ms: Some(retry_after_ms),
            });
        }
        let rt = self.exam_runtime(exam_id).await?;
        let cell = self.on_roster(&rt, student_id).await?;
        let body = serde_json::to_string(&accommodations)
            .map_err(|_| Rejection::new(RejectReason::InvalidPayload, "accommodations do not serialise"))?;
        if let Err(e) = self.store.set_accommodations(exam_id, student_id, &body, self.clock.now_ms()).await {
            tracing::error!(error = %e, "storing accommodations failed");
            return Err(unavailable("storage is unavailable; retry"));
        }
        *lock(&cell.accommodations) = Some(accommodations);
        tracing::info!(exam = %exam_id, student = %student_id, by, "accommodations set");
        let session = self.tell_student_their_settings(&rt, &cell, &rt.exam()).await;
        let view = rt.view(&cell);
        let out = self.fanout.out();
        out.to_proctors(exam_id, ProctorEvent::Student(view.clone())).await;
        out.to_proctors(exam_id, ProctorEvent::Session(SessionUpdate { student_id: student_id.clone(), session }))
            .await;
        Ok(view)
    }

    /// The exam's access code was set: pages showing the assessment ask
    /// for it again.
    pub async fn access_code_changed(&self, exam_id: &ExamId) {
        self.fanout.out().to_students(exam_id, StudentEvent::AccessCodeChanged).await;
    }
}
