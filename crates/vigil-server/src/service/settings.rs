//! An exam's settings changed by its instructor (or the admin) while the
//! exam may be live: checked, stored, swapped into the running exam, and
//! sent to every proctor and student page so they apply it at once.

use vigil_core::rate::{KeyedTake, RateLimit};
use vigil_proto::{Exam, ExamId, ExamSettings, RejectReason, Rejection};

use super::fanout::{ProctorEvent, StudentEvent};
use super::{Service, lock, unavailable};

/// Settings changes per exam: each one reaches every student page, so a
/// script (or an impatient double-click) must not turn into a flood.
pub const SETTINGS_CHANGES: RateLimit = RateLimit { burst: 10, per_second: 0.2 };
/// Exams tracked at once for that budget.
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
        let rt = self
            .exams
            .get(exam_id)
            .await
            .map_err(|_| unavailable("the server cannot load this exam right now"))?
            .ok_or_else(|| Rejection::new(RejectReason::UnknownExam, format!("no exam {exam_id}")))?;
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
        let out = self.fanout.out();
        out.to_proctors(exam_id, ProctorEvent::Exam(Exam::clone(&exam))).await;
        out.to_students(exam_id, StudentEvent::Settings(settings)).await;
        Ok(Exam::clone(&exam))
    }

    /// The exam's access code was set: pages showing the assessment ask
    /// for it again.
    pub async fn access_code_changed(&self, exam_id: &ExamId) {
        self.fanout.out().to_students(exam_id, StudentEvent::AccessCodeChanged).await;
    }
}
