//! Exams, rosters and join links: shared by the REST API, the CLI and the demo.

use vigil_core::score::check_rules;
use vigil_proto::events::{AddPerson, CreateExam, ExamRoster, IssueLink, JoinLink};
use vigil_proto::{Exam, ExamSettings, ExamWindow, Person, RejectReason, Rejection, Role, UnixMillis};
use vigil_store::{Store, StoreError};

use crate::auth::{Keys, claims};
use crate::clock::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{}", .0.message)]
    Invalid(Rejection),
    #[error("{0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
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

fn invalid(msg: impl Into<String>) -> AdminError {
    AdminError::Invalid(Rejection::new(RejectReason::InvalidPayload, msg))
}

/// Identifiers appear in URLs, rooms and file names: keep them plain.
fn check_ident(what: &str, id: &str) -> Result<(), AdminError> {
    let ok = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(invalid(format!("{what} must be 1 to 64 characters of [A-Za-z0-9-_]"))) }
}

fn new_id(prefix: &str) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &u[..12])
}

#[derive(Debug, Clone)]
pub struct Admin {
    pub store: Store,
    pub keys: Keys,
    /// Base of the join links, e.g. `https://exams.example.org`.
    pub public_url: String,
}

impl Admin {
    pub async fn create_exam(&self, req: CreateExam) -> Result<Exam, AdminError> {
        let id = req.id.unwrap_or_else(|| new_id("exam"));
        check_ident("exam id", &id)?;
        if req.title.trim().is_empty() || req.title.chars().count() > 200 {
            return Err(invalid("title must be 1 to 200 characters"));
        }
        let now = now_ms();
        let settings = req
            .settings
            .unwrap_or_else(|| ExamSettings::with_window(ExamWindow { opens_at: now, closes_at: now + 3 * 3_600_000 }));
        check_rules(&settings.scoring).map_err(invalid)?;
        if settings.window.closes_at <= settings.window.opens_at {
            return Err(invalid("the exam window must close after it opens"));
        }
        let exam = Exam { id, title: req.title, settings };
        self.store.create_exam(&exam, now).await?;
        Ok(exam)
    }

    pub async fn exam(&self, exam_id: &str) -> Result<Exam, AdminError> {
        self.store.exam(exam_id).await?.ok_or_else(|| AdminError::NotFound(format!("exam {exam_id}")))
    }

    pub async fn roster(&self, exam_id: &str) -> Result<ExamRoster, AdminError> {
        let exam = self.exam(exam_id).await?;
        Ok(ExamRoster {
            students: self.store.people(exam_id, Role::Student).await?,
            proctors: self.store.people(exam_id, Role::Proctor).await?,
            exam,
        })
    }

    pub async fn add_person(&self, exam_id: &str, role: Role, req: AddPerson) -> Result<Person, AdminError> {
        self.exam(exam_id).await?;
        let prefix = match role {
            Role::Student => "student",
            Role::Proctor => "proctor",
        };
        let person = Person { id: req.id.unwrap_or_else(|| new_id(prefix)), name: req.name };
        check_ident("id", &person.id)?;
        if person.name.trim().is_empty() || person.name.chars().count() > 200 {
            return Err(invalid("name must be 1 to 200 characters"));
        }
        self.store.add_person(exam_id, role, &person).await?;
        Ok(person)
    }

    pub async fn issue_link(&self, exam_id: &str, req: IssueLink) -> Result<JoinLink, AdminError> {
        let exam = self.exam(exam_id).await?;
        if self.store.person(exam_id, req.role, &req.subject).await?.is_none() {
            return Err(AdminError::NotFound(
                format!("{:?} {} in exam {exam_id}", req.role, req.subject).to_lowercase(),
            ));
        }
        let now = now_ms();
        let expires_at: UnixMillis = match req.ttl_s {
            Some(ttl) => now.saturating_add(i64::try_from(ttl.saturating_mul(1000)).unwrap_or(i64::MAX)),
            None => exam.settings.window.closes_at + 3_600_000,
        };
        let token = self.keys.issue(&claims(req.role, exam_id, &req.subject, now, expires_at));
        let page = match req.role {
            Role::Student => "student",
            Role::Proctor => "dashboard",
        };
        // The token rides in the fragment: browsers never send it to the
        // server in the request line, so it stays out of access logs.
        let url = format!("{}/{page}/#token={token}", self.public_url.trim_end_matches('/'));
        Ok(JoinLink { role: req.role, exam_id: exam_id.to_owned(), subject: req.subject, token, url, expires_at })
    }
}
