//! Erasing personal data: one student's (an erasure request), or a whole
//! exam's at the end of its retention. Bytes first, then rows, as for
//! evidence: a crash between the two leaves rows whose bytes read as
//! missing, never bytes no row accounts for.

use sqlx::{AnyConnection, Row};
use vigil_proto::{ExamId, StudentId, UnixMillis};

use crate::writer::Write;
use crate::{Result, Store, parse_id};

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    pub incidents: u64,
    pub evidence_frames: u64,
    pub chat_messages: u64,
    pub identity_photos: u64,
    pub recording_segments: u64,
}

/// Tables keyed by (exam_id, student_id) whose rows are the student's.
const STUDENT_TABLES: [&str; 12] = [
    "incidents",
    "evidence",
    "proctor_actions",
    "session_transitions",
    "accommodations",
    "chat_messages",
    "identity_photos",
    "review_decisions",
    "incident_reviews",
    "appeals",
    "lti_attempts",
    "recording_segments",
];

impl Store {
    async fn count(&self, sql: &'static str, exam_id: &ExamId, student_id: &StudentId) -> Result<u64> {
        let n: i64 =
            sqlx::query(sql).bind(exam_id.as_str()).bind(student_id.as_str()).fetch_one(&self.pool).await?.get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Deletes everything kept about one student of one exam, their roster
    /// entry included. The audit log keeps that things were done, with the
    /// student and the details taken out.
    pub async fn erase_student(&self, exam_id: &ExamId, student_id: &StudentId) -> Result<Erased> {
        let erased = Erased {
            // Counted as their bytes are deleted, below.
            recording_segments: 0,
            incidents: self
                .count("SELECT COUNT(*) FROM incidents WHERE exam_id = $1 AND student_id = $2", exam_id, student_id)
                .await?,
            evidence_frames: self
                .count("SELECT COUNT(*) FROM evidence WHERE exam_id = $1 AND student_id = $2", exam_id, student_id)
                .await?,
            chat_messages: self
                .count("SELECT COUNT(*) FROM chat_messages WHERE exam_id = $1 AND student_id = $2", exam_id, student_id)
                .await?,
            identity_photos: self
                .count(
                    "SELECT COUNT(*) FROM identity_photos WHERE exam_id = $1 AND student_id = $2",
                    exam_id,
                    student_id,
                )
                .await?,
        };
        let frames = sqlx::query("SELECT sha256, media FROM evidence WHERE exam_id = $1 AND student_id = $2")
            .bind(exam_id.as_str())
            .bind(student_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        for r in frames {
            let sha: String = r.get("sha256");
            if !self.blob_held_elsewhere(exam_id, &sha).await? {
                self.delete_evidence_blob(&sha, super::media_of(&r)?).await?;
            }
        }
        for photo in self.identity_photos(exam_id, student_id).await? {
            self.delete_identity_blob(&photo).await?;
        }
        let recording_segments = self.delete_recording_blobs(exam_id, student_id).await?;
        self.write(Write::EraseStudent { exam_id: exam_id.clone(), student_id: student_id.clone() }).await?;
        Ok(Erased { recording_segments, ..erased })
    }

    /// Exams whose retention has ended by `now` (their window closed more
    /// than `evidence_retention_days` ago) and whose data is still there.
    pub async fn exams_past_retention(&self, now: UnixMillis) -> Result<Vec<ExamId>> {
        let mut due = Vec::new();
        for exam in self.exams().await? {
            let days = i64::from(exam.settings.evidence_retention_days);
            let ends = exam.settings.window.closes_at.saturating_add(days.saturating_mul(86_400_000));
            if ends <= now && !self.purged(&exam.id).await? {
                due.push(exam.id);
            }
        }
        Ok(due)
    }

    async fn purged(&self, exam_id: &ExamId) -> Result<bool> {
        let row = sqlx::query("SELECT purged_at FROM exams WHERE id = $1")
            .bind(exam_id.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<Option<i64>, _>("purged_at").is_some())
    }

    /// Deletes every student's data of the exam, and its announcements;
    /// the exam itself (title, settings) and its pseudonymous audit log stay.
    pub async fn purge_exam(&self, exam_id: &ExamId, now: UnixMillis) -> Result<Erased> {
        let mut total = Erased::default();
        let students = sqlx::query("SELECT id FROM people WHERE exam_id = $1 AND role = 'student'")
            .bind(exam_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        for r in students {
            let id: StudentId = parse_id(r.get("id"))?;
            let e = self.erase_student(exam_id, &id).await?;
            total.incidents += e.incidents;
            total.evidence_frames += e.evidence_frames;
            total.chat_messages += e.chat_messages;
            total.identity_photos += e.identity_photos;
            total.recording_segments += e.recording_segments;
        }
        self.write(Write::PurgeExam { exam_id: exam_id.clone(), at: now }).await?;
        Ok(total)
    }
}

pub(crate) async fn apply_erase_student(
    conn: &mut AnyConnection,
    exam_id: &ExamId,
    student_id: &StudentId,
) -> Result<()> {
    for table in STUDENT_TABLES {
        // Table names come from the constant list above, never from input.
        let sql = format!("DELETE FROM {table} WHERE exam_id = $1 AND student_id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(exam_id.as_str())
            .bind(student_id.as_str())
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM people WHERE exam_id = $1 AND role = 'student' AND id = $2")
        .bind(exam_id.as_str())
        .bind(student_id.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE audit_log SET student_id = NULL, detail = NULL WHERE exam_id = $1 AND student_id = $2")
        .bind(exam_id.as_str())
        .bind(student_id.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE audit_log SET actor = 'student' WHERE exam_id = $1 AND actor = $2")
        .bind(exam_id.as_str())
        .bind(format!("student:{student_id}"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn apply_purge_exam(conn: &mut AnyConnection, exam_id: &ExamId, at: UnixMillis) -> Result<()> {
    sqlx::query("DELETE FROM chat_messages WHERE exam_id = $1").bind(exam_id.as_str()).execute(&mut *conn).await?;
    sqlx::query("UPDATE audit_log SET detail = NULL WHERE exam_id = $1")
        .bind(exam_id.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE exams SET purged_at = $1 WHERE id = $2")
        .bind(at)
        .bind(exam_id.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
