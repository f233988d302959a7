//! After the exam: the review queue, a student's whole record, decisions
//! and incident readings, and the audit log. Everything is read from the
//! store (never from what a dashboard saw live) and recomputed by
//! `vigil_core::review`; every record read, evidence view and decision is
//! written to the audit log before the answer goes out.

use std::collections::HashMap;

use vigil_core::rate::{KeyedTake, RateLimit};
use vigil_core::review::{check_based_on, check_note, priority, score_curve};
use vigil_proto::events::{EvidenceMedia, IncidentRecord, ProctorAction, RecordedAction};
use vigil_proto::review::{
    Appeal, AuditRecord, Decision, ErasureReport, ExamArchive, IncidentReview, RecordedTransition, ReviewIncident,
    ReviewQueue, ReviewRow, SetDecision, StudentRecord, StudentReview, SubmitAppeal,
};
use vigil_proto::{Exam, ExamId, IncidentId, RejectReason, Rejection, StudentId};
use vigil_store::{AuditEntry, StoreError};

use super::exams::{ExamRuntime, StudentCell};
use super::identity::photo_of;
use super::{ProctorSession, Service, StudentSession, lock, unavailable};

/// Review requests per proctor: a reviewer pages through students quickly,
/// but each record read is a handful of queries.
pub const REVIEW_RATE: RateLimit = RateLimit { burst: 60, per_second: 10.0 };
/// The most chat messages a record carries.
const MAX_RECORD_CHAT: usize = 10_000;
/// The longest appeal.
pub const MAX_APPEAL_CHARS: usize = 5_000;
/// The most audit entries one read returns.
pub const MAX_AUDIT_ENTRIES: usize = 10_000;

fn store_failed(e: &StoreError) -> Rejection {
    tracing::error!(error = %e, "review store error");
    unavailable("the record could not be read or written; retry")
}

/// Stored proctor actions in their wire form; a kind this server no longer
/// knows is left out.
pub fn recorded_actions(rows: Vec<vigil_store::ActionRow>) -> Vec<RecordedAction> {
    rows.into_iter()
        .filter_map(|r| {
            let kind = serde_json::from_value(serde_json::Value::String(r.kind)).ok()?;
            let action = ProctorAction { kind, text: r.text, minutes: r.minutes, at: r.at };
            Some(RecordedAction { action, proctor_id: r.proctor_id })
        })
        .collect()
}

impl Service {
    /// One from the proctor's review budget.
    pub(super) fn admit_review(&self, sess: &ProctorSession) -> Result<(), Rejection> {
        let key = (sess.rt.id().clone(), sess.proctor.clone());
        match lock(&self.review_budget).try_take(&key, self.clock.now_ms()) {
            KeyedTake::Refused { retry_after_ms } => Err(Rejection {
                reason: RejectReason::RateLimited,
                message: "too many review requests; slow down".into(),
                retry_after_ms: Some(retry_after_ms),
            }),
            KeyedTake::Admitted | KeyedTake::Untracked => Ok(()),
        }
    }

    /// Records what a proctor looked at or changed; the answer waits for it.
    pub async fn audit(
        &self,
        sess: &ProctorSession,
        action: &str,
        student: Option<&StudentId>,
        detail: Option<String>,
    ) -> Result<(), Rejection> {
        let entry = AuditEntry {
            at: self.clock.now_ms(),
            actor: format!("proctor:{}", sess.proctor),
            action: action.to_owned(),
            exam_id: sess.rt.id().clone(),
            student_id: student.cloned(),
            detail,
        };
        self.store.audit(&entry).await.map_err(|e| store_failed(&e))
    }

    /// `GET …/review`: every student, highest review priority first.
    pub async fn review_queue(&self, sess: &ProctorSession) -> Result<ReviewQueue, Rejection> {
        self.admit_review(sess)?;
        let rt = &sess.rt;
        let exam = rt.exam();
        let mut incidents: HashMap<StudentId, Vec<IncidentRecord>> = HashMap::new();
        for stored in self.store.exam_incidents(rt.id()).await.map_err(|e| store_failed(&e))? {
            let record = stored.pending.record;
            incidents.entry(record.student_id.clone()).or_default().push(record);
        }
        let readings = self.store.exam_incident_reviews(rt.id()).await.map_err(|e| store_failed(&e))?;
        let mut decisions = self.store.latest_decisions(rt.id()).await.map_err(|e| store_failed(&e))?;
        let mut students: Vec<ReviewRow> = rt
            .views()
            .into_iter()
            .map(|view| {
                let id = &view.student.id;
                let mine = incidents.get(id).map_or(&[][..], Vec::as_slice);
                let read = readings.get(id).map_or(&[][..], Vec::as_slice);
                ReviewRow {
                    priority: priority(mine, &exam.settings.scoring, read),
                    decision: decisions.remove(id),
                    session: view.session,
                    student: view.student,
                }
            })
            .collect();
        students.sort_by(|a, b| {
            b.priority.priority.total_cmp(&a.priority.priority).then_with(|| a.student.id.cmp(&b.student.id))
        });
        let decided = students.iter().filter(|r| r.decision.is_some()).count();
        Ok(ReviewQueue { exam: Exam::clone(&exam), students, decided: u32::try_from(decided).unwrap_or(u32::MAX) })
    }

    /// `GET …/students/{student}/review`: the student's whole record.
    pub async fn student_review(&self, sess: &ProctorSession, student: &StudentId) -> Result<StudentReview, Rejection> {
        self.admit_review(sess)?;
        let cell = self.on_roster(&sess.rt, student).await?;
        let record = self.record_of(&sess.rt, &cell).await?;
        self.audit(sess, "view_record", Some(student), None).await?;
        Ok(record)
    }

    /// `GET …/export.json`: every student's record (audited once, as an export).
    pub async fn exam_archive(&self, sess: &ProctorSession) -> Result<ExamArchive, Rejection> {
        self.admit_review(sess)?;
        let rt = &sess.rt;
        let mut students = Vec::new();
        for cell in rt.cells() {
            students.push(self.record_of(rt, &cell).await?);
        }
        students.sort_by(|a, b| a.student.id.cmp(&b.student.id));
        let proctors = self.store.proctors(rt.id()).await.map_err(|e| store_failed(&e))?;
        self.audit(sess, "export", None, Some("json".into())).await?;
        Ok(ExamArchive { exam: Exam::clone(&rt.exam()), proctors, students, exported_at: self.clock.now_ms() })
    }

    /// `GET …/students/{student}/report.pdf`: the student's report, with
    /// the first [`crate::report::MAX_THUMBNAILS`] evidence frames.
    pub async fn student_report(&self, sess: &ProctorSession, student: &StudentId) -> Result<Vec<u8>, Rejection> {
        self.admit_review(sess)?;
        let cell = self.on_roster(&sess.rt, student).await?;
        let record = self.record_of(&sess.rt, &cell).await?;
        let mut evidence = crate::report::ReportEvidence::default();
        for i in record.incidents.iter() {
            let Some(sha) = &i.evidence_sha256 else { continue };
            // Evidence purged meanwhile is reported as no longer kept.
            let Ok(Some(row)) = self.store.evidence(sess.rt.id(), sha).await else { continue };
            match row.media {
                EvidenceMedia::Wav => evidence.clips.push(crate::report::ClipNote {
                    incident: i.id.clone(),
                    duration_ms: row.duration_ms.unwrap_or(0),
                }),
                EvidenceMedia::Jpeg if evidence.thumbnails.len() < crate::report::MAX_THUMBNAILS => {
                    if let Ok(bytes) = self.store.evidence_bytes(sha, EvidenceMedia::Jpeg).await {
                        evidence
                            .thumbnails
                            .push(crate::report::Thumbnail { incident: i.id.clone(), jpeg: bytes.to_vec() });
                    }
                }
                EvidenceMedia::Jpeg => evidence.not_shown.push(i.id.clone()),
            }
        }
        let now = self.clock.now_ms();
        // Layout is CPU work: off the async workers.
        let pdf = tokio::task::spawn_blocking(move || crate::report::render(&record, &evidence, now))
            .await
            .map_err(|_| unavailable("the report could not be written; retry"))?;
        self.audit(sess, "export", Some(student), Some("pdf".into())).await?;
        Ok(pdf)
    }

    /// `GET …/export.csv`: the queue as CSV (audited as an export).
    pub async fn exam_csv(&self, sess: &ProctorSession) -> Result<Vec<u8>, Rejection> {
        let queue = self.review_queue(sess).await?;
        let csv = queue_csv(&queue)?;
        self.audit(sess, "export", None, Some("csv".into())).await?;
        Ok(csv)
    }

    /// One student's whole record from the store.
    async fn record_of(&self, rt: &ExamRuntime, cell: &StudentCell) -> Result<StudentReview, Rejection> {
        let student = cell.id();
        let exam = rt.exam();
        let (id, store) = (rt.id(), &self.store);
        let fail = |e: StoreError| store_failed(&e);
        let incidents = store.student_incidents(id, student).await.map_err(fail)?;
        let incident_reviews = store.incident_reviews(id, student).await.map_err(fail)?;
        let transitions = store
            .student_transitions(id, student)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|t| RecordedTransition {
                change: t.change,
                at: t.at,
                by: t.by,
                reason: t.reason,
                added_ms: t.added_ms,
            })
            .collect();
        let actions = recorded_actions(store.student_actions(id, student).await.map_err(fail)?);
        let chat = store.student_chat(id, student, 0, MAX_RECORD_CHAT).await.map_err(fail)?;
        let identity_photos = store.identity_photos(id, student).await.map_err(fail)?.iter().map(photo_of).collect();
        let decisions = store.decisions(id, student).await.map_err(fail)?;
        let appeals = store.appeals(id, student).await.map_err(fail)?;
        Ok(StudentReview {
            appeals,
            priority: priority(&incidents, &exam.settings.scoring, &incident_reviews),
            score_curve: score_curve(&incidents, &exam.settings.scoring, &incident_reviews),
            session: cell.session_view(&exam),
            accommodations: cell.accommodations(),
            student: cell.student.clone(),
            exam: Exam::clone(&exam),
            incidents,
            incident_reviews,
            transitions,
            actions,
            chat,
            identity_photos,
            decisions,
        })
    }

    /// `PUT …/students/{student}/decision`: a new version of the decision,
    /// made on the version the reviewer saw.
    pub async fn decide(
        &self,
        sess: &ProctorSession,
        student: &StudentId,
        req: SetDecision,
    ) -> Result<Decision, Rejection> {
        let note = req.note.trim();
        check_note(note, true)?;
        self.admit_review(sess)?;
        let cell = self.on_roster(&sess.rt, student).await?;
        // One decision at a time per student (across reviewers): read the
        // latest, check, store.
        let _one_at_a_time = cell.session_writes.lock().await;
        let history = self.store.decisions(sess.rt.id(), student).await.map_err(|e| store_failed(&e))?;
        let current = history.last();
        check_based_on(req.based_on, current.map_or(0, |d| d.version))?;
        let decision = Decision {
            version: current.map_or(1, |d| d.version + 1),
            verdict: req.verdict,
            note: note.to_owned(),
            reviewer: sess.proctor.clone(),
            at: self.clock.now_ms(),
            previous: current.map(|d| d.verdict),
        };
        match self.store.insert_decision(sess.rt.id(), student, &decision).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(_)) => {
                // Another server wrote this version first (the lock above is per process).
                return Err(Rejection::new(
                    RejectReason::StaleTransition,
                    "another reviewer decided meanwhile; reload",
                ));
            }
            Err(e) => return Err(store_failed(&e)),
        }
        let verdict = serde_json::to_value(decision.verdict).ok().and_then(|v| v.as_str().map(str::to_owned));
        self.audit(sess, "decide", Some(student), verdict.map(|v| format!("version {}: {v}", decision.version)))
            .await?;
        Ok(decision)
    }

    /// `PUT …/students/{student}/incidents/{incident}/review`.
    pub async fn review_incident(
        &self,
        sess: &ProctorSession,
        student: &StudentId,
        incident: &IncidentId,
        req: ReviewIncident,
    ) -> Result<IncidentReview, Rejection> {
        if let Some(note) = &req.note {
            check_note(note.trim(), false)?;
        }
        self.admit_review(sess)?;
        self.on_roster(&sess.rt, student).await?;
        let incidents = self.store.student_incidents(sess.rt.id(), student).await.map_err(|e| store_failed(&e))?;
        if !incidents.iter().any(|i| &i.id == incident) {
            return Err(Rejection::new(RejectReason::UnknownIncident, format!("{student} has no incident {incident}")));
        }
        let review = IncidentReview {
            incident_id: incident.clone(),
            verdict: req.verdict,
            note: req.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            reviewer: sess.proctor.clone(),
            at: self.clock.now_ms(),
        };
        self.store.insert_incident_review(sess.rt.id(), student, &review).await.map_err(|e| store_failed(&e))?;
        let verdict = serde_json::to_value(review.verdict).ok().and_then(|v| v.as_str().map(str::to_owned));
        self.audit(
            sess,
            "review_incident",
            Some(student),
            Some(format!("{incident}: {}", verdict.unwrap_or_default())),
        )
        .await?;
        Ok(review)
    }

    /// One from the student's budget for reading their own record.
    fn admit_own_read(&self, sess: &StudentSession) -> Result<(), Rejection> {
        lock(&sess.cell.live).record_bucket.try_take(self.clock.now_ms()).map_err(|wait| Rejection {
            reason: RejectReason::RateLimited,
            message: "too many requests; wait and retry".into(),
            retry_after_ms: Some(wait),
        })
    }

    async fn audit_student(
        &self,
        sess: &StudentSession,
        action: &str,
        detail: Option<String>,
    ) -> Result<(), Rejection> {
        let entry = AuditEntry {
            at: self.clock.now_ms(),
            actor: format!("student:{}", sess.cell.id()),
            action: action.to_owned(),
            exam_id: sess.rt.id().clone(),
            student_id: Some(sess.cell.id().clone()),
            detail,
        };
        self.store.audit(&entry).await.map_err(|e| store_failed(&e))
    }

    /// `GET /api/v1/me/record`: the student's own record, as reviewers read
    /// it but without what is for proctors only (the accommodations note).
    pub async fn own_record(&self, sess: &StudentSession) -> Result<StudentRecord, Rejection> {
        self.admit_own_read(sess)?;
        let r = self.record_of(&sess.rt, &sess.cell).await?;
        self.audit_student(sess, "view_own_record", None).await?;
        Ok(StudentRecord {
            exam_id: r.exam.id,
            exam_title: r.exam.title,
            student: r.student,
            session: r.session,
            incidents: r.incidents,
            incident_reviews: r.incident_reviews,
            transitions: r.transitions,
            actions: r.actions,
            chat: r.chat,
            identity_photos: r.identity_photos,
            decisions: r.decisions,
            appeals: r.appeals,
        })
    }

    /// `GET /api/v1/me/evidence/{sha256}`: one of the student's own frames.
    /// Any miss (another student's frame, none) reads the same.
    pub async fn own_evidence(
        &self,
        sess: &StudentSession,
        sha256: &str,
    ) -> Result<(EvidenceMedia, bytes::Bytes), Rejection> {
        self.admit_own_read(sess)?;
        let not_found = || Rejection::new(RejectReason::UnknownIncident, "you have no such evidence frame");
        let row = self.store.evidence(sess.rt.id(), sha256).await.map_err(|_| not_found())?.ok_or_else(not_found)?;
        if &row.student_id != sess.cell.id() {
            return Err(not_found());
        }
        let bytes = self.store.evidence_bytes(sha256, row.media).await.map_err(|_| not_found())?;
        self.audit_student(sess, "view_evidence", Some(sha256.to_owned())).await?;
        Ok((row.media, bytes))
    }

    /// `POST /api/v1/me/appeals`: the student's one response to a decision version.
    pub async fn appeal(&self, sess: &StudentSession, req: SubmitAppeal) -> Result<Appeal, Rejection> {
        let text = req.text.trim();
        if text.is_empty() || text.chars().count() > MAX_APPEAL_CHARS {
            return Err(Rejection::new(
                RejectReason::InvalidPayload,
                format!("an appeal is 1 to {MAX_APPEAL_CHARS} characters"),
            ));
        }
        check_note(text, true)?;
        self.admit_own_read(sess)?;
        let (exam, student) = (sess.rt.id(), sess.cell.id());
        let decisions = self.store.decisions(exam, student).await.map_err(|e| store_failed(&e))?;
        if !decisions.iter().any(|d| d.version == req.decision_version) {
            return Err(Rejection::new(
                RejectReason::InvalidPayload,
                format!("there is no decision version {} on you", req.decision_version),
            ));
        }
        let appeal = Appeal { decision_version: req.decision_version, text: text.to_owned(), at: self.clock.now_ms() };
        match self.store.insert_appeal(exam, student, &appeal).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(_)) => {
                return Err(Rejection::new(
                    RejectReason::ConflictingDuplicate,
                    "you have already answered this decision",
                ));
            }
            Err(e) => return Err(store_failed(&e)),
        }
        self.audit_student(sess, "appeal", Some(format!("version {}", appeal.decision_version))).await?;
        Ok(appeal)
    }

    /// An access request (admin): everything kept about one student, as a
    /// reviewer reads it, the proctors' notes included.
    pub async fn export_student(&self, exam: &ExamId, student: &StudentId) -> Result<StudentReview, Rejection> {
        let rt = self.loaded_exam(exam).await?;
        let cell = self.on_roster(&rt, student).await?;
        let record = self.record_of(&rt, &cell).await?;
        self.audit_admin(exam, "export_student", Some(student)).await?;
        Ok(record)
    }

    /// An erasure request (admin): everything kept about one student of
    /// the exam goes, their roster entry included; their open pages are
    /// closed. The audit log keeps that things were done, without them.
    pub async fn erase_student(&self, exam: &ExamId, student: &StudentId) -> Result<ErasureReport, Rejection> {
        let rt = self.loaded_exam(exam).await?;
        let cell = self.on_roster(&rt, student).await?;
        // No session change or incident may be half-written meanwhile.
        let _session = cell.session_writes.lock().await;
        let _ledger = cell.ledger.lock().await;
        let erased = self.store.erase_student(exam, student).await.map_err(|e| store_failed(&e))?;
        cell.erased.store(true, std::sync::atomic::Ordering::Release);
        let connections: Vec<_> = lock(&cell.live).connections.drain(..).collect();
        rt.remove_student(student);
        for conn in connections {
            self.fanout.out().disconnect(conn).await;
        }
        self.audit_admin(exam, "erase_student", None).await?;
        tracing::info!(exam = %exam, "a student's data was erased on request");
        Ok(ErasureReport {
            incidents: erased.incidents,
            evidence_frames: erased.evidence_frames,
            chat_messages: erased.chat_messages,
            identity_photos: erased.identity_photos,
        })
    }

    /// Deletes the personal data of every exam whose retention has ended
    /// (its window closed `evidence_retention_days` ago). Returns how many
    /// exams were purged.
    pub async fn purge_expired_exams(&self) -> Result<usize, StoreError> {
        let now = self.clock.now_ms();
        let due = self.store.exams_past_retention(now).await?;
        for exam in &due {
            if let Some(rt) = self.exams.loaded().into_iter().find(|rt| rt.id() == exam) {
                for cell in rt.cells() {
                    {
                        let _session = cell.session_writes.lock().await;
                        let _ledger = cell.ledger.lock().await;
                        cell.erased.store(true, std::sync::atomic::Ordering::Release);
                    }
                    let connections: Vec<_> = lock(&cell.live).connections.drain(..).collect();
                    rt.remove_student(cell.id());
                    for conn in connections {
                        self.fanout.out().disconnect(conn).await;
                    }
                }
            }
            let erased = self.store.purge_exam(exam, now).await?;
            tracing::info!(exam = %exam, incidents = erased.incidents, frames = erased.evidence_frames, "exam data purged at the end of its retention");
        }
        Ok(due.len())
    }

    async fn loaded_exam(&self, exam: &ExamId) -> Result<std::sync::Arc<ExamRuntime>, Rejection> {
        self.exams
            .get(exam)
            .await
            .map_err(|_| unavailable("the exam cannot be loaded right now"))?
            .ok_or_else(|| Rejection::new(RejectReason::UnknownExam, format!("no exam {exam}")))
    }

    async fn audit_admin(&self, exam: &ExamId, action: &str, student: Option<&StudentId>) -> Result<(), Rejection> {
        let entry = AuditEntry {
            at: self.clock.now_ms(),
            actor: "admin".into(),
            action: action.to_owned(),
            exam_id: exam.clone(),
            student_id: student.cloned(),
            detail: None,
        };
        self.store.audit(&entry).await.map_err(|e| store_failed(&e))
    }

    /// An exam's audit log, for its administrator.
    pub async fn audit_log(&self, exam: &ExamId) -> Result<Vec<AuditRecord>, Rejection> {
        let entries = self.store.audit_log(exam, MAX_AUDIT_ENTRIES).await.map_err(|e| store_failed(&e))?;
        Ok(entries
            .into_iter()
            .map(|e| AuditRecord {
                at: e.at,
                actor: e.actor,
                action: e.action,
                student_id: e.student_id,
                detail: e.detail,
            })
            .collect())
    }
}

/// The columns of the exam CSV before the per-kind counts.
const CSV_COLUMNS: [&str; 11] = [
    "student_id",
    "name",
    "decision",
    "decision_version",
    "reviewer",
    "decided_at",
    "peak_score",
    "priority",
    "incidents",
    "unreviewed",
    "gaps",
];

/// The exam's review as CSV (RFC 4180, through the `csv` crate): one row
/// per student in queue order, then a count column per incident kind.
pub fn queue_csv(queue: &ReviewQueue) -> Result<Vec<u8>, Rejection> {
    let failed = |e: csv::Error| {
        tracing::error!(error = %e, "writing the CSV failed");
        unavailable("the export could not be written; retry")
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let kinds = vigil_proto::IncidentKind::ALL;
    let header: Vec<&str> = CSV_COLUMNS.iter().copied().chain(kinds.iter().map(|k| k.as_str())).collect();
    out.write_record(&header).map_err(failed)?;
    for row in &queue.students {
        let d = row.decision.as_ref();
        let verdict = d
            .and_then(|d| serde_json::to_value(d.verdict).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let p = &row.priority;
        let mut record = vec![
            row.student.id.to_string(),
            row.student.name.clone(),
            verdict,
            d.map(|d| d.version.to_string()).unwrap_or_default(),
            d.map(|d| d.reviewer.to_string()).unwrap_or_default(),
            d.map(|d| d.at.to_string()).unwrap_or_default(),
            format!("{:.3}", p.peak_score),
            format!("{:.3}", p.priority),
            p.incident_count.to_string(),
            p.unreviewed.to_string(),
            p.gaps.to_string(),
        ];
        record.extend(kinds.iter().map(|k| p.counts.get(k).copied().unwrap_or(0).to_string()));
        out.write_record(&record).map_err(failed)?;
    }
    out.into_inner().map_err(|e| failed(e.into_error().into()))
}
