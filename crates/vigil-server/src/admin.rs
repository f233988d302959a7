//! Exams, rosters and join links: shared by the REST API, the CLI and the demo.

use std::sync::Arc;
use vigil_core::score::check_rules;

use vigil_proto::events::{AddPerson, CreateExam, ExamRoster, IssueLink, JoinLink, SetAccessCode};
use vigil_proto::{
    Exam, ExamId, ExamSettings, ExamWindow, IdError, Proctor, ProctorId, RejectReason, Rejection, Role, Student,
    StudentId, UnixMillis,
};
use vigil_store::{Store, StoreError};

use crate::auth::{Claims, Keys, claims};
use crate::clock::Clock;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{}", .0.message)]
    Invalid(Rejection),
    #[error("{0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("not on the roster: {0}")]
    NotOnRoster(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists(what) => AdminError::Conflict(format!("{what} already exists")),
            other => AdminError::Store(other),
        }
    }
}

/// The longest access code: quiz passwords are short words or numbers.
const MAX_ACCESS_CODE_CHARS: usize = 64;
/// The longest assessment URL (an LMS quiz link with its parameters).
const MAX_ASSESSMENT_URL_BYTES: usize = 2048;

/// An assessment URL the page can frame: `http` or `https`, with a host.
fn check_assessment_url(url: &str) -> Result<(), String> {
    let reason = || format!("assessment_url must be an http or https URL of at most {MAX_ASSESSMENT_URL_BYTES} bytes");
    if url.len() > MAX_ASSESSMENT_URL_BYTES {
        return Err(reason());
    }
    let parsed = url::Url::parse(url).map_err(|_| reason())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(reason());
    }
    Ok(())
}

/// Whether `settings` are valid on their own (what may change once the exam
/// has opened is `vigil_core::settings`'s rule).
pub fn check_settings(settings: &ExamSettings) -> Result<(), Rejection> {
    let invalid = |msg: String| Rejection::new(RejectReason::InvalidPayload, msg);
    check_rules(&settings.scoring).map_err(|e| invalid(e.to_string()))?;
    if let Some(url) = &settings.assessment_url {
        check_assessment_url(url).map_err(invalid)?;
    }
    // Checked arithmetic: an open-ended window (i64::MAX) must not wrap
    // when links add their grace period to it.
    if settings.window.closes_at <= settings.window.opens_at
        || settings.window.closes_at.checked_add(LINK_GRACE_MS).is_none()
    {
        return Err(invalid("the exam window must close after it opens".into()));
    }
    if settings.stall_after_s == 0 || settings.stall_after_s > MAX_STALL_AFTER_S {
        return Err(invalid(format!("stall_after_s must be 1 to {MAX_STALL_AFTER_S}")));
    }
    if let Some(b) = &settings.breaks {
        vigil_core::settings::check_breaks(b).map_err(invalid)?;
    }
    if let Some(t) = &settings.thresholds {
        vigil_core::settings::check_thresholds(t).map_err(invalid)?;
    }
    if settings.evidence_retention_days > MAX_RETENTION_DAYS {
        return Err(invalid(format!("evidence_retention_days must be at most {MAX_RETENTION_DAYS}")));
    }
    Ok(())
}

/// A heartbeat gap longer than this is not "stalled" but gone.
const MAX_STALL_AFTER_S: u32 = 600;
/// Ten years: longer is a typo, and would overflow nothing but surprise everyone.
const MAX_RETENTION_DAYS: u32 = 3650;

fn invalid(msg: impl Into<String>) -> AdminError {
    AdminError::Invalid(Rejection::new(RejectReason::InvalidPayload, msg))
}

/// Parses an id from an admin request, or makes a fresh one.
fn id_or_new<T: std::str::FromStr<Err = IdError>>(
    what: &str,
    given: Option<String>,
    prefix: &str,
) -> Result<T, AdminError> {
    let raw = given.unwrap_or_else(|| {
        let u = uuid::Uuid::new_v4().simple().to_string();
        format!("{prefix}-{}", &u[..12])
    });
    raw.parse().map_err(|e: IdError| invalid(format!("{what}: {e}")))
}

fn check_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(invalid("name must be 1 to 200 characters"));
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Admin {
    pub store: Store,
    pub keys: Keys,
    /// Base of the join links, e.g. `https://exams.example.org`.
    pub public_url: String,
    pub clock: Arc<dyn Clock>,
}

impl Admin {
    pub async fn create_exam(&self, req: CreateExam) -> Result<Exam, AdminError> {
        let id = match req.id {
            Some(id) => id,
            None => id_or_new("exam id", None, "exam")?,
        };
        if req.title.trim().is_empty() || req.title.chars().count() > 200 {
            return Err(invalid("title must be 1 to 200 characters"));
        }
        let now = self.clock.now_ms();
        let settings = req
            .settings
            .unwrap_or_else(|| ExamSettings::with_window(ExamWindow { opens_at: now, closes_at: now + 3 * 3_600_000 }));
        check_settings(&settings).map_err(AdminError::Invalid)?;
        let exam = Exam { id, title: req.title, settings };
        self.store.create_exam(&exam, now).await?;
        Ok(exam)
    }

    /// Sets the code the exam's assessment asks for (see `SetAccessCode`).
    pub async fn set_access_code(&self, exam_id: &ExamId, req: SetAccessCode) -> Result<(), AdminError> {
        self.exam(exam_id).await?;
        let code = req.code.trim();
        if code.is_empty() || code.chars().count() > MAX_ACCESS_CODE_CHARS || code.chars().any(char::is_control) {
            return Err(invalid(format!(
                "an access code is 1 to {MAX_ACCESS_CODE_CHARS} characters, none a control character"
            )));
        }
        self.store.set_access_code(exam_id, code, self.clock.now_ms()).await?;
        Ok(())
    }

    pub async fn exam(&self, exam_id: &ExamId) -> Result<Exam, AdminError> {
        self.store.exam(exam_id).await?.ok_or_else(|| AdminError::NotFound(format!("exam {exam_id}")))
    }

    pub async fn roster(&self, exam_id: &ExamId) -> Result<ExamRoster, AdminError> {
        let exam = self.exam(exam_id).await?;
        Ok(ExamRoster {
            students: self.store.students(exam_id).await?,
            proctors: self.store.proctors(exam_id).await?,
            exam,
        })
    }

    pub async fn add_student(&self, exam_id: &ExamId, req: AddPerson) -> Result<Student, AdminError> {
        self.exam(exam_id).await?;
        let student = Student { id: id_or_new("id", req.id, "student")?, name: req.name };
        check_name(&student.name)?;
        self.store.add_student(exam_id, &student).await?;
        Ok(student)
    }

    pub async fn add_proctor(&self, exam_id: &ExamId, req: AddPerson) -> Result<Proctor, AdminError> {
        self.exam(exam_id).await?;
        let proctor = Proctor { id: id_or_new("id", req.id, "proctor")?, name: req.name };
        check_name(&proctor.name)?;
        self.store.add_proctor(exam_id, &proctor).await?;
        Ok(proctor)
    }

    pub async fn issue_link(&self, exam_id: &ExamId, req: IssueLink) -> Result<JoinLink, AdminError> {
        let exam = self.exam(exam_id).await?;
        let missing =
            || AdminError::NotOnRoster(format!("{:?} {} in exam {exam_id}", req.role, req.subject).to_lowercase());
        let on_roster = match req.role {
            Role::Student => match req.subject.parse::<StudentId>() {
                Ok(id) => self.store.student(exam_id, &id).await?.is_some(),
                Err(_) => false,
            },
            Role::Proctor => match req.subject.parse::<ProctorId>() {
                Ok(id) => self.store.proctor(exam_id, &id).await?.is_some(),
                Err(_) => false,
            },
        };
        if !on_roster {
            return Err(missing());
        }
        let configure = req.may_configure.unwrap_or(false);
        if configure && req.role != Role::Proctor {
            return Err(invalid("may_configure is for proctor links only"));
        }
        let now = self.clock.now_ms();
        let expires_at: UnixMillis = match req.ttl_s {
            Some(ttl) => now.saturating_add(i64::try_from(ttl.saturating_mul(1000)).unwrap_or(i64::MAX)),
            None => exam.settings.window.closes_at.saturating_add(LINK_GRACE_MS),
        };
        let token = self.keys.issue(&Claims { configure, ..claims(req.role, exam_id, &req.subject, now, expires_at) });
        let page = match req.role {
            Role::Student => "student",
            Role::Proctor => "dashboard",
        };
        // The token rides in the fragment: browsers never send it to the
        // server in the request line, so it stays out of access logs.
        let url = format!("{}/{page}/#token={token}", self.public_url.trim_end_matches('/'));
        Ok(JoinLink { role: req.role, exam_id: exam_id.clone(), subject: req.subject, token, url, expires_at })
    }
}

/// How long after the exam window closes a default join link still works.
const LINK_GRACE_MS: i64 = 3_600_000;
