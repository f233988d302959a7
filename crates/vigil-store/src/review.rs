//! Review: decisions (versioned), incident readings and the audit log.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};
use vigil_proto::review::{Appeal, Decision, IncidentReview, IncidentVerdict, Verdict};
use vigil_proto::{ExamId, StudentId, UnixMillis};

use crate::writer::Write;
use crate::{Result, Store, StoreError, parse_id};

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: UnixMillis,
    /// `proctor:<id>`, `student:<id>` or `admin`.
    pub actor: String,
    /// What was done: `view_record`, `view_evidence`, `decide`, `review_incident`, `export`…
    pub action: String,
    pub exam_id: ExamId,
    pub student_id: Option<StudentId>,
    pub detail: Option<String>,
}

fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::NoConcern => "no_concern",
        Verdict::Concern => "concern",
        Verdict::Violation => "violation",
    }
}

fn parse_verdict(s: &str) -> Result<Verdict> {
    match s {
        "no_concern" => Ok(Verdict::NoConcern),
        "concern" => Ok(Verdict::Concern),
        "violation" => Ok(Verdict::Violation),
        other => Err(StoreError::Corrupt(format!("verdict {other}"))),
    }
}

fn reading_str(v: IncidentVerdict) -> &'static str {
    match v {
        IncidentVerdict::Confirmed => "confirmed",
        IncidentVerdict::Dismissed => "dismissed",
    }
}

fn parse_reading(s: &str) -> Result<IncidentVerdict> {
    match s {
        "confirmed" => Ok(IncidentVerdict::Confirmed),
        "dismissed" => Ok(IncidentVerdict::Dismissed),
        other => Err(StoreError::Corrupt(format!("incident verdict {other}"))),
    }
}

fn decision_from_row(r: &sqlx::any::AnyRow) -> Result<Decision> {
    let version: i64 = r.get("version");
    Ok(Decision {
        version: u32::try_from(version).map_err(|_| StoreError::Corrupt("decision version".into()))?,
        verdict: parse_verdict(r.get("verdict"))?,
        note: r.get("note"),
        reviewer: parse_id(r.get("reviewer"))?,
        at: r.get("at"),
        previous: r.get::<Option<String>, _>("previous").as_deref().map(parse_verdict).transpose()?,
    })
}

fn reading_from_row(r: &sqlx::any::AnyRow) -> Result<IncidentReview> {
    Ok(IncidentReview {
        incident_id: parse_id(r.get("incident_id"))?,
        verdict: parse_reading(r.get("verdict"))?,
        note: r.get("note"),
        reviewer: parse_id(r.get("reviewer"))?,
        at: r.get("at"),
    })
}

impl Store {
    /// Stores a new version of the decision on a student. A version stored
    /// already (a concurrent decision) is refused with `AlreadyExists`.
    pub async fn insert_decision(&self, exam_id: &ExamId, student_id: &StudentId, d: &Decision) -> Result<()> {
        self.write(Write::Decision { exam_id: exam_id.clone(), student_id: student_id.clone(), decision: d.clone() })
            .await
    }

    /// Every version of the decision on a student, oldest first.
    pub async fn decisions(&self, exam_id: &ExamId, student_id: &StudentId) -> Result<Vec<Decision>> {
        let rows =
            sqlx::query("SELECT * FROM review_decisions WHERE exam_id = $1 AND student_id = $2 ORDER BY version")
                .bind(exam_id.as_str())
                .bind(student_id.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(decision_from_row).collect()
    }

    /// The latest decision on each decided student of the exam.
    pub async fn latest_decisions(&self, exam_id: &ExamId) -> Result<HashMap<StudentId, Decision>> {
        let rows = sqlx::query(
            "SELECT d.* FROM review_decisions d WHERE d.exam_id = $1 AND d.version = \
             (SELECT MAX(version) FROM review_decisions m WHERE m.exam_id = d.exam_id AND m.student_id = d.student_id)",
        )
        .bind(exam_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((parse_id(r.get("student_id"))?, decision_from_row(r)?))).collect()
    }

    /// Records a reading of one incident.
    pub async fn insert_incident_review(
        &self,
        exam_id: &ExamId,
        student_id: &StudentId,
        review: &IncidentReview,
    ) -> Result<()> {
        self.write(Write::IncidentReview {
            exam_id: exam_id.clone(),
            student_id: student_id.clone(),
            review: review.clone(),
        })
        .await
    }

    /// Every reading of a student's incidents, oldest first.
    pub async fn incident_reviews(&self, exam_id: &ExamId, student_id: &StudentId) -> Result<Vec<IncidentReview>> {
        let rows = sqlx::query("SELECT * FROM incident_reviews WHERE exam_id = $1 AND student_id = $2 ORDER BY rowid")
            .bind(exam_id.as_str())
            .bind(student_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(reading_from_row).collect()
    }

    /// Every reading in the exam by student, each oldest first.
    pub async fn exam_incident_reviews(&self, exam_id: &ExamId) -> Result<HashMap<StudentId, Vec<IncidentReview>>> {
        let rows = sqlx::query("SELECT * FROM incident_reviews WHERE exam_id = $1 ORDER BY rowid")
            .bind(exam_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        let mut out: HashMap<StudentId, Vec<IncidentReview>> = HashMap::new();
        for r in &rows {
            out.entry(parse_id(r.get("student_id"))?).or_default().push(reading_from_row(r)?);
        }
        Ok(out)
    }

    /// Stores a student's appeal of one decision version; a second one for
    /// the same version is refused (`AlreadyExists`).
    pub async fn insert_appeal(&self, exam_id: &ExamId, student_id: &StudentId, appeal: &Appeal) -> Result<()> {
        self.write(Write::Appeal { exam_id: exam_id.clone(), student_id: student_id.clone(), appeal: appeal.clone() })
            .await
    }

    /// A student's appeals, oldest first.
    pub async fn appeals(&self, exam_id: &ExamId, student_id: &StudentId) -> Result<Vec<Appeal>> {
        let rows =
            sqlx::query("SELECT * FROM appeals WHERE exam_id = $1 AND student_id = $2 ORDER BY decision_version")
                .bind(exam_id.as_str())
                .bind(student_id.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let version: i64 = r.get("decision_version");
                Ok(Appeal {
                    decision_version: u32::try_from(version)
                        .map_err(|_| StoreError::Corrupt("appeal version".into()))?,
                    text: r.get("body"),
                    at: r.get("at"),
                })
            })
            .collect()
    }

    /// Appends to the audit log (durably, before the audited answer goes out).
    pub async fn audit(&self, entry: &AuditEntry) -> Result<()> {
        self.write(Write::Audit(entry.clone())).await
    }

    /// The exam's audit log, oldest first, at most `limit` entries.
    pub async fn audit_log(&self, exam_id: &ExamId, limit: usize) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE exam_id = $1 ORDER BY rowid LIMIT $2")
            .bind(exam_id.as_str())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.get("at"),
                    actor: r.get("actor"),
                    action: r.get("action"),
                    exam_id: exam_id.clone(),
                    student_id: r.get::<Option<String>, _>("student_id").map(parse_id).transpose()?,
                    detail: r.get("detail"),
                })
            })
            .collect()
    }
}

pub(crate) async fn apply_decision(
    conn: &mut AnyConnection,
    exam_id: &ExamId,
    student_id: &StudentId,
    d: &Decision,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO review_decisions (exam_id, student_id, version, verdict, note, reviewer, at, previous) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(exam_id.as_str())
    .bind(student_id.as_str())
    .bind(i64::from(d.version))
    .bind(verdict_str(d.verdict))
    .bind(&d.note)
    .bind(d.reviewer.as_str())
    .bind(d.at)
    .bind(d.previous.map(verdict_str))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn apply_incident_review(
    conn: &mut AnyConnection,
    exam_id: &ExamId,
    student_id: &StudentId,
    r: &IncidentReview,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_reviews (exam_id, student_id, incident_id, verdict, note, reviewer, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(exam_id.as_str())
    .bind(student_id.as_str())
    .bind(r.incident_id.as_str())
    .bind(reading_str(r.verdict))
    .bind(&r.note)
    .bind(r.reviewer.as_str())
    .bind(r.at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn apply_audit(conn: &mut AnyConnection, e: &AuditEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, exam_id, student_id, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(e.at)
    .bind(&e.actor)
    .bind(&e.action)
    .bind(e.exam_id.as_str())
    .bind(e.student_id.as_ref().map(|s| s.as_str()))
    .bind(&e.detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn apply_appeal(
    conn: &mut AnyConnection,
    exam_id: &ExamId,
    student_id: &StudentId,
    a: &Appeal,
) -> Result<()> {
    sqlx::query("INSERT INTO appeals (exam_id, student_id, decision_version, body, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(exam_id.as_str())
        .bind(student_id.as_str())
        .bind(i64::from(a.decision_version))
        .bind(&a.text)
        .bind(a.at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
