//! The HTTP API under `/api/v1`, health and metrics, and the web apps.
//!
//! Every refusal is an [`ErrorBody`] with a machine-readable reason.

use std::path::Path;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use vigil_proto::events::{AddPerson, CreateExam, EvidenceAccepted, IssueLink};
use vigil_proto::{ErrorBody, PrivacyTier, RejectReason, Rejection, Role};

use crate::admin::AdminError;
use crate::auth::token_eq;
use crate::exams::{ExamRuntime, StudentCell};
use crate::metrics as m;
use crate::{App, sockets};

/// A refusal as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub Rejection);

impl ApiError {
    pub fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        ApiError(Rejection::new(reason, message))
    }
}

fn status_for(reason: RejectReason) -> StatusCode {
    use RejectReason::*;
    match reason {
        MissingToken | InvalidToken | ExpiredToken => StatusCode::UNAUTHORIZED,
        WrongScope | Forbidden | EvidenceNotCollected => StatusCode::FORBIDDEN,
        UnknownExam | UnknownStudent | UnknownIncident => StatusCode::NOT_FOUND,
        TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        NotJpeg => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ConflictingDuplicate | ReplayedFrame | EvidenceAlreadyAttached | AlreadyEnded => StatusCode::CONFLICT,
        Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (status_for(self.0.reason), Json(ErrorBody { error: self.0 })).into_response()
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(r) => ApiError(r),
            AdminError::Conflict(m) => ApiError::new(RejectReason::ConflictingDuplicate, m),
            AdminError::NotFound(m) => ApiError::new(RejectReason::UnknownExam, m),
            AdminError::Store(e) => store_error(&e),
        }
    }
}

fn store_error(e: &vigil_store::StoreError) -> ApiError {
    tracing::error!(error = %e, "store error");
    ApiError(Rejection {
        reason: RejectReason::Unavailable,
        message: "storage is unavailable; retry".into(),
        retry_after_ms: Some(1_000),
    })
}

type ApiResult<T> = Result<T, ApiError>;

pub fn router(app: App, web_dir: Option<&Path>) -> Router {
    let api = Router::new()
        .route("/exams", post(create_exam).get(list_exams))
        .route("/exams/{exam}", get(roster))
        .route("/exams/{exam}/students", post(add_student))
        .route("/exams/{exam}/proctors", post(add_proctor))
        .route("/exams/{exam}/links", post(issue_link))
        .route("/exams/{exam}/snapshot", get(snapshot))
        .route("/exams/{exam}/students/{student}/incidents", get(student_incidents))
        .route("/evidence/{incident}", post(crate::evidence::upload))
        .route("/exams/{exam}/evidence/{sha256}", get(crate::evidence::download));
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/", get(landing))
        .nest("/api/v1", api);
    for page in ["student", "dashboard"] {
        router =
            router.route(&format!("/{page}"), get(move || async move { Redirect::permanent(&format!("/{page}/")) }));
        let dist = web_dir.map(|d| d.join(page).join("dist")).filter(|d| d.join("index.html").is_file());
        router = match dist {
            Some(dir) => router.nest_service(&format!("/{page}/"), tower_http::services::ServeDir::new(dir)),
            None => router.route(&format!("/{page}/"), get(move || async move { placeholder(page) })),
        };
    }
    router.with_state(app)
}

async fn landing() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><meta charset=utf-8><title>vigil</title>",
        "<h1>vigil</h1><p>Live exam proctoring with in-browser inference.</p>",
        "<p>Open the join link you were given: students at <code>/student/#token=…</code>, ",
        "proctors at <code>/dashboard/#token=…</code>. Health: <a href=/healthz>/healthz</a>, ",
        "metrics: <a href=/metrics>/metrics</a>.</p>"
    ))
}

fn placeholder(page: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>vigil {page}</title><h1>vigil {page}</h1>\
         <p>The {page} app is not built into this server yet (no <code>web/{page}/dist</code>). \
         The API and Socket.IO namespaces are live; see docs/PROTOCOL.md.</p>"
    ))
}

async fn healthz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "store unavailable" })))
                .into_response()
        }
    }
}

async fn metrics(State(app): State<App>) -> Response {
    let stats = app.store.writer_stats();
    metrics::counter!(m::STORE_COMMITS).absolute(stats.commits);
    metrics::counter!(m::STORE_WRITES).absolute(stats.writes);
    let mut res = app.metrics.render().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    res
}

// ---------------------------------------------------------------- auth

pub fn bearer(headers: &HeaderMap) -> ApiResult<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::new(RejectReason::MissingToken, "send Authorization: Bearer <token>"))
}

fn require_admin(app: &App, headers: &HeaderMap) -> ApiResult<()> {
    if token_eq(bearer(headers)?, &app.admin_token) {
        Ok(())
    } else {
        Err(ApiError::new(RejectReason::InvalidToken, "not the admin token"))
    }
}

/// A proctor token for `exam_id`, whose subject is on that exam's roster.
pub async fn require_proctor(app: &App, headers: &HeaderMap, exam_id: &str) -> ApiResult<Arc<ExamRuntime>> {
    let claims = app.keys.verify(bearer(headers)?, Role::Proctor).map_err(ApiError)?;
    if claims.exam != exam_id {
        return Err(ApiError::new(RejectReason::Forbidden, "this token is for another exam"));
    }
    let on_roster = app.store.person(exam_id, Role::Proctor, &claims.sub).await.map_err(|e| store_error(&e))?;
    if on_roster.is_none() {
        return Err(ApiError::new(RejectReason::Forbidden, "not a proctor of this exam"));
    }
    exam_runtime(app, exam_id).await
}

/// A student token; returns the exam and the student's cell.
pub async fn require_student(app: &App, headers: &HeaderMap) -> ApiResult<(Arc<ExamRuntime>, Arc<StudentCell>)> {
    let claims = app.keys.verify(bearer(headers)?, Role::Student).map_err(ApiError)?;
    let rt = exam_runtime(app, &claims.exam).await?;
    let cell = app
        .exams
        .student(&rt, &claims.sub)
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| ApiError::new(RejectReason::UnknownStudent, "not on this exam's roster"))?;
    Ok((rt, cell))
}

async fn exam_runtime(app: &App, exam_id: &str) -> ApiResult<Arc<ExamRuntime>> {
    app.exams
        .get(exam_id)
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| ApiError::new(RejectReason::UnknownExam, format!("no exam {exam_id}")))
}

// ---------------------------------------------------------------- admin

async fn create_exam(State(app): State<App>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    let req: CreateExam = parse_json(&body)?;
    let exam = app.admin.create_exam(req).await?;
    Ok((StatusCode::CREATED, Json(exam)).into_response())
}

async fn list_exams(State(app): State<App>, headers: HeaderMap) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    Ok(Json(app.store.exams().await.map_err(|e| store_error(&e))?).into_response())
}

async fn roster(State(app): State<App>, headers: HeaderMap, UrlPath(exam): UrlPath<String>) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    Ok(Json(app.admin.roster(&exam).await?).into_response())
}

async fn add_student(
    State(app): State<App>,
    headers: HeaderMap,
    UrlPath(exam): UrlPath<String>,
    body: Bytes,
) -> ApiResult<Response> {
    add_person(app, headers, exam, Role::Student, body).await
}

async fn add_proctor(
    State(app): State<App>,
    headers: HeaderMap,
    UrlPath(exam): UrlPath<String>,
    body: Bytes,
) -> ApiResult<Response> {
    add_person(app, headers, exam, Role::Proctor, body).await
}

async fn add_person(app: App, headers: HeaderMap, exam: String, role: Role, body: Bytes) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    let req: AddPerson = parse_json(&body)?;
    let person = app.admin.add_person(&exam, role, req).await?;
    Ok((StatusCode::CREATED, Json(person)).into_response())
}

async fn issue_link(
    State(app): State<App>,
    headers: HeaderMap,
    UrlPath(exam): UrlPath<String>,
    body: Bytes,
) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    let req: IssueLink = parse_json(&body)?;
    Ok((StatusCode::CREATED, Json(app.admin.issue_link(&exam, req).await?)).into_response())
}

/// Parses a JSON body with serde's own message on failure, so a client sees
/// which field is wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(RejectReason::InvalidPayload, format!("invalid JSON body: {e}")))
}

// ---------------------------------------------------------------- proctor reads

async fn snapshot(State(app): State<App>, headers: HeaderMap, UrlPath(exam): UrlPath<String>) -> ApiResult<Response> {
    let rt = require_proctor(&app, &headers, &exam).await?;
    Ok(Json(sockets::snapshot(&rt)).into_response())
}

async fn student_incidents(
    State(app): State<App>,
    headers: HeaderMap,
    UrlPath((exam, student)): UrlPath<(String, String)>,
) -> ApiResult<Response> {
    require_proctor(&app, &headers, &exam).await?;
    let incidents = app.store.student_incidents(&exam, &student).await.map_err(|e| store_error(&e))?;
    Ok(Json(incidents).into_response())
}

pub fn evidence_collected(rt: &ExamRuntime) -> ApiResult<()> {
    match rt.exam.settings.privacy {
        PrivacyTier::FlaggedFrames => Ok(()),
        PrivacyTier::EventsOnly => {
            Err(ApiError::new(RejectReason::EvidenceNotCollected, "this exam's privacy tier keeps no evidence frames"))
        }
    }
}

pub fn evidence_accepted_response(e: EvidenceAccepted, created: bool) -> Response {
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(e)).into_response()
}

pub fn jpeg_response(bytes: Bytes) -> Response {
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    // Evidence is personal data: never cached by shared caches.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res
}
