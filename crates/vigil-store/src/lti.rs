//! LTI 1.3 rows: platform registrations, vigil's tool keys, resource links
//! to exams and LTI users to vigil people. The store keeps plain strings;
//! the server checks them through `vigil-lti`'s types before writing and
//! after reading.

use sqlx::{AnyConnection, Row};
use vigil_proto::{Exam, ExamId, Role, UnixMillis};

use crate::writer::Write;
use crate::{Result, Store, StoreError, parse_id, role_str};

/// One platform (LMS) registration, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LtiPlatformRow {
    pub issuer: String,
    pub client_id: String,
    pub deployment_ids: Vec<String>,
    pub auth_login_url: String,
    pub jwks_url: String,
    pub token_url: String,
    pub created_at: UnixMillis,
}

/// One of vigil's signing keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LtiToolKeyRow {
    pub kid: String,
    pub pkcs8_pem: String,
    pub created_at: UnixMillis,
    pub retired_at: Option<UnixMillis>,
}

/// What names one resource link of one course on one deployment. A launch
/// without a context has `context_id` empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LtiLinkKey {
    pub issuer: String,
    pub client_id: String,
    pub deployment_id: String,
    pub context_id: String,
    pub resource_link_id: String,
}

/// A person a launch puts on an exam's roster, and the LTI user they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LtiEnrolment {
    pub exam_id: ExamId,
    pub role: Role,
    pub person_id: String,
    pub name: String,
    pub issuer: String,
    pub sub: String,
}

/// A student's latest LTI proctoring attempt on an exam. `launch` is the
/// validated LtiStartProctoring launch as JSON; the store does not read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LtiAttemptRow {
    pub exam_id: ExamId,
    pub student_id: String,
    pub issuer: String,
    pub attempt_number: u32,
    pub launch: String,
    pub started_at: UnixMillis,
    pub assessment_started_at: Option<UnixMillis>,
    pub ended_at: Option<UnixMillis>,
}

pub(crate) enum LtiWrite {
    Platform(LtiPlatformRow),
    ToolKey(LtiToolKeyRow),
    LinkedExam {
        exam: Box<Exam>,
        link: LtiLinkKey,
        now: UnixMillis,
    },
    Enrol {
        enrolments: Vec<LtiEnrolment>,
        now: UnixMillis,
    },
    /// A new current key; the previous current key is published until `retire_at`.
    RotateKey {
        new_key: LtiToolKeyRow,
        previous_kid: String,
        retire_at: UnixMillis,
    },
    /// Starts (or restarts, for a new attempt) a student's attempt.
    AttemptStarted(LtiAttemptRow),
    AssessmentStarted {
        exam_id: ExamId,
        student_id: String,
        attempt_number: u32,
        at: UnixMillis,
    },
    AttemptEnded {
        exam_id: ExamId,
        student_id: String,
        attempt_number: u32,
        at: UnixMillis,
    },
}

impl Store {
    /// Registers a platform; `AlreadyExists` when (issuer, client id) is registered.
    pub async fn insert_lti_platform(&self, row: &LtiPlatformRow) -> Result<()> {
        self.write(Write::Lti(LtiWrite::Platform(row.clone()))).await
    }

    pub async fn lti_platforms(&self) -> Result<Vec<LtiPlatformRow>> {
        let rows = sqlx::query("SELECT * FROM lti_platforms ORDER BY created_at, issuer, client_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let deployments: String = r.get("deployment_ids");
                Ok(LtiPlatformRow {
                    issuer: r.get("issuer"),
                    client_id: r.get("client_id"),
                    deployment_ids: serde_json::from_str(&deployments)
                        .map_err(|e| StoreError::Corrupt(format!("lti deployment ids: {e}")))?,
                    auth_login_url: r.get("auth_login_url"),
                    jwks_url: r.get("jwks_url"),
                    token_url: r.get("token_url"),
                    created_at: r.get("created_at"),
                })
            })
            .collect()
    }

    pub async fn insert_lti_tool_key(&self, row: &LtiToolKeyRow) -> Result<()> {
        self.write(Write::Lti(LtiWrite::ToolKey(row.clone()))).await
    }

    /// Makes `new_key` vigil's current key and retires the current one
    /// (`previous_kid`) at `retire_at`, both or neither.
    pub async fn rotate_lti_tool_key(
        &self,
        new_key: &LtiToolKeyRow,
        previous_kid: &str,
        retire_at: UnixMillis,
    ) -> Result<()> {
        let write = LtiWrite::RotateKey { new_key: new_key.clone(), previous_kid: previous_kid.to_owned(), retire_at };
        self.write(Write::Lti(write)).await
    }

    /// vigil's keys that are not retired, newest first.
    pub async fn lti_tool_keys(&self) -> Result<Vec<LtiToolKeyRow>> {
        let rows = sqlx::query("SELECT * FROM lti_tool_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(tool_key_row).collect())
    }

    /// vigil's keys not retired by `now`: the current ones (no retirement
    /// time) first, newest first, then those still retiring.
    pub async fn lti_tool_keys_at(&self, now: UnixMillis) -> Result<Vec<LtiToolKeyRow>> {
        let rows = sqlx::query(
            "SELECT * FROM lti_tool_keys WHERE retired_at IS NULL OR retired_at > $1 \
             ORDER BY retired_at IS NOT NULL, created_at DESC, kid",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(tool_key_row).collect())
    }

    /// The exam a resource link opens, if one was created.
    pub async fn lti_link(&self, key: &LtiLinkKey) -> Result<Option<ExamId>> {
        let row = sqlx::query(
            "SELECT exam_id FROM lti_links WHERE issuer = $1 AND client_id = $2 AND deployment_id = $3 \
             AND context_id = $4 AND resource_link_id = $5",
        )
        .bind(&key.issuer)
        .bind(&key.client_id)
        .bind(&key.deployment_id)
        .bind(&key.context_id)
        .bind(&key.resource_link_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| parse_id(r.get("exam_id"))).transpose()
    }

    /// Creates `exam` and links `link` to it, both or neither.
    /// `AlreadyExists` when the link (or the exam id) exists already: two
    /// first launches raced, and the caller reads the winner's link.
    pub async fn create_linked_exam(&self, exam: &Exam, link: &LtiLinkKey, now: UnixMillis) -> Result<()> {
        self.write(Write::Lti(LtiWrite::LinkedExam { exam: Box::new(exam.clone()), link: link.clone(), now })).await
    }

    /// Puts a person on an exam's roster and records which LTI user they
    /// are, both or neither; a person already there is left as is.
    pub async fn lti_enrol(&self, enrolment: &LtiEnrolment, now: UnixMillis) -> Result<()> {
        self.write(Write::Lti(LtiWrite::Enrol { enrolments: vec![enrolment.clone()], now })).await
    }

    /// [`Store::lti_enrol`] for many people in one write (a roster sync):
    /// one commit, and one place in the writer's queue.
    pub async fn lti_enrol_all(&self, enrolments: Vec<LtiEnrolment>, now: UnixMillis) -> Result<()> {
        if enrolments.is_empty() {
            return Ok(());
        }
        self.write(Write::Lti(LtiWrite::Enrol { enrolments, now })).await
    }

    /// Records an LtiStartProctoring launch as the student's current
    /// attempt on the exam, replacing an earlier one.
    pub async fn lti_attempt_started(&self, row: &LtiAttemptRow) -> Result<()> {
        self.write(Write::Lti(LtiWrite::AttemptStarted(row.clone()))).await
    }

    /// Notes that the attempt was handed back to the platform. A no-op when
    /// the student's current attempt is another one.
    pub async fn lti_assessment_started(
        &self,
        exam_id: &ExamId,
        student_id: &str,
        attempt_number: u32,
        at: UnixMillis,
    ) -> Result<()> {
        let (exam_id, student_id) = (exam_id.clone(), student_id.to_owned());
        self.write(Write::Lti(LtiWrite::AssessmentStarted { exam_id, student_id, attempt_number, at })).await
    }

    /// Ends the attempt (LtiEndAssessment). A no-op when the student's
    /// current attempt is another one, or it has ended already.
    pub async fn lti_attempt_ended(
        &self,
        exam_id: &ExamId,
        student_id: &str,
        attempt_number: u32,
        at: UnixMillis,
    ) -> Result<()> {
        let (exam_id, student_id) = (exam_id.clone(), student_id.to_owned());
        self.write(Write::Lti(LtiWrite::AttemptEnded { exam_id, student_id, attempt_number, at })).await
    }

    /// The student's current attempt on the exam, if LTI started one.
    pub async fn lti_attempt(&self, exam_id: &ExamId, student_id: &str) -> Result<Option<LtiAttemptRow>> {
        let row = sqlx::query("SELECT * FROM lti_attempts WHERE exam_id = $1 AND student_id = $2")
            .bind(exam_id.as_str())
            .bind(student_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let attempt: i64 = r.get("attempt_number");
            Ok(LtiAttemptRow {
                exam_id: exam_id.clone(),
                student_id: student_id.to_owned(),
                issuer: r.get("issuer"),
                attempt_number: u32::try_from(attempt)
                    .map_err(|_| StoreError::Corrupt(format!("lti attempt number {attempt}")))?,
                launch: r.get("launch"),
                started_at: r.get("started_at"),
                assessment_started_at: r.get("assessment_started_at"),
                ended_at: r.get("ended_at"),
            })
        })
        .transpose()
    }

    /// The exam of a person's latest attempt from this issuer that has not
    /// ended, for an LtiEndAssessment without a resource link.
    pub async fn lti_open_attempt(&self, issuer: &str, student_id: &str) -> Result<Option<ExamId>> {
        let row = sqlx::query(
            "SELECT exam_id FROM lti_attempts WHERE issuer = $1 AND student_id = $2 AND ended_at IS NULL \
             ORDER BY started_at DESC LIMIT 1",
        )
        .bind(issuer)
        .bind(student_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| parse_id(r.get("exam_id"))).transpose()
    }

    /// The vigil person an LTI user is, once they have launched.
    pub async fn lti_user(&self, issuer: &str, sub: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT person_id FROM lti_users WHERE issuer = $1 AND sub = $2")
            .bind(issuer)
            .bind(sub)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get("person_id")))
    }
}

fn tool_key_row(r: &sqlx::any::AnyRow) -> LtiToolKeyRow {
    LtiToolKeyRow {
        kid: r.get("kid"),
        pkcs8_pem: r.get("pem"),
        created_at: r.get("created_at"),
        retired_at: r.get("retired_at"),
    }
}

pub(crate) async fn apply(conn: &mut AnyConnection, write: &LtiWrite) -> Result<()> {
    match write {
        LtiWrite::Platform(p) => {
            let deployments =
                serde_json::to_string(&p.deployment_ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO lti_platforms (issuer, client_id, deployment_ids, auth_login_url, jwks_url, token_url, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&p.issuer)
            .bind(&p.client_id)
            .bind(deployments)
            .bind(&p.auth_login_url)
            .bind(&p.jwks_url)
            .bind(&p.token_url)
            .bind(p.created_at)
            .execute(&mut *conn)
            .await?;
        }
        LtiWrite::ToolKey(k) => insert_tool_key(conn, k).await?,
        LtiWrite::LinkedExam { exam, link, now } => {
            let settings = serde_json::to_string(&exam.settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query("INSERT INTO exams (id, title, settings, created_at) VALUES ($1, $2, $3, $4)")
                .bind(exam.id.as_str())
                .bind(&exam.title)
                .bind(settings)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO lti_links (issuer, client_id, deployment_id, context_id, resource_link_id, exam_id, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&link.issuer)
            .bind(&link.client_id)
            .bind(&link.deployment_id)
            .bind(&link.context_id)
            .bind(&link.resource_link_id)
            .bind(exam.id.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        LtiWrite::Enrol { enrolments, now } => {
            for e in enrolments {
                sqlx::query(
                    "INSERT INTO lti_users (issuer, sub, person_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (issuer, sub) DO NOTHING",
                )
                .bind(&e.issuer)
                .bind(&e.sub)
                .bind(&e.person_id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "INSERT INTO people (exam_id, role, id, name) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (exam_id, role, id) DO NOTHING",
                )
                .bind(e.exam_id.as_str())
                .bind(role_str(e.role))
                .bind(&e.person_id)
                .bind(&e.name)
                .execute(&mut *conn)
                .await?;
            }
        }
        LtiWrite::RotateKey { new_key, previous_kid, retire_at } => {
            sqlx::query("UPDATE lti_tool_keys SET retired_at = $2 WHERE kid = $1")
                .bind(previous_kid)
                .bind(retire_at)
                .execute(&mut *conn)
                .await?;
            insert_tool_key(conn, new_key).await?;
        }
        LtiWrite::AttemptStarted(a) => {
            sqlx::query(
                "INSERT INTO lti_attempts (exam_id, student_id, issuer, attempt_number, launch, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (exam_id, student_id) DO UPDATE SET \
                 issuer = excluded.issuer, attempt_number = excluded.attempt_number, launch = excluded.launch, \
                 started_at = excluded.started_at, assessment_started_at = NULL, ended_at = NULL",
            )
            .bind(a.exam_id.as_str())
            .bind(&a.student_id)
            .bind(&a.issuer)
            .bind(i64::from(a.attempt_number))
            .bind(&a.launch)
            .bind(a.started_at)
            .execute(&mut *conn)
            .await?;
        }
        LtiWrite::AssessmentStarted { exam_id, student_id, attempt_number, at } => {
            sqlx::query(
                "UPDATE lti_attempts SET assessment_started_at = COALESCE(assessment_started_at, $4) \
                 WHERE exam_id = $1 AND student_id = $2 AND attempt_number = $3",
            )
            .bind(exam_id.as_str())
            .bind(student_id)
            .bind(i64::from(*attempt_number))
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
        LtiWrite::AttemptEnded { exam_id, student_id, attempt_number, at } => {
            sqlx::query(
                "UPDATE lti_attempts SET ended_at = $4 \
                 WHERE exam_id = $1 AND student_id = $2 AND attempt_number = $3 AND ended_at IS NULL",
            )
            .bind(exam_id.as_str())
            .bind(student_id)
            .bind(i64::from(*attempt_number))
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

async fn insert_tool_key(conn: &mut AnyConnection, k: &LtiToolKeyRow) -> Result<()> {
    sqlx::query("INSERT INTO lti_tool_keys (kid, pem, created_at, retired_at) VALUES ($1, $2, $3, $4)")
        .bind(&k.kid)
        .bind(&k.pkcs8_pem)
        .bind(k.created_at)
        .bind(k.retired_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
