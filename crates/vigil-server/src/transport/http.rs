//! The HTTP adapter: the API under `/api/v1`, health and metrics, and the
//! web apps. Handlers parse (ids in paths, JSON bodies, bearer tokens), call
//! the service or the admin operations, and map the answer.
//!
//! Every refusal is an [`ErrorBody`] with a machine-readable reason.

use std::path::Path;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path as UrlPath, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use vigil_proto::events::{AccessCode, AddPerson, CreateExam, EvidenceMedia, IssueLink, SetAccessCode};
use vigil_proto::{ErrorBody, ExamId, IdentityPhotoKind, IncidentId, RejectReason, Rejection, StudentId};

use crate::admin::{Admin, AdminError};
use crate::auth::token_eq;
use crate::metrics as m;
use crate::service::Service;

/// What the HTTP handlers share.
#[derive(Debug)]
pub struct HttpState {
    pub service: Arc<Service>,
    pub admin: Admin,
    pub admin_token: String,
    pub metrics: PrometheusHandle,
    /// Origins (an LMS) allowed to embed the pages in a frame.
    pub frame_ancestors: Vec<String>,
    /// When set, `/metrics` answers only to `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// LTI 1.3 launches and registrations.
    pub lti: Arc<crate::service::lti::LtiService>,
    /// A cluster node's link to Redis (set once the sockets are built), for `/healthz`.
    pub relay: Arc<std::sync::OnceLock<Arc<super::relay::Relay>>>,
}

type AppState = State<Arc<HttpState>>;

/// A refusal as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub Rejection);

impl ApiError {
    pub fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        ApiError(Rejection::new(reason, message))
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        ApiError(r)
    }
}

fn status_for(reason: RejectReason) -> StatusCode {
    use RejectReason::*;
    match reason {
        MissingToken | InvalidToken | ExpiredToken => StatusCode::UNAUTHORIZED,
        WrongScope | Forbidden | EvidenceNotCollected | SessionTerminated => StatusCode::FORBIDDEN,
        UnknownExam | UnknownStudent | UnknownIncident | NoAccessCode => StatusCode::NOT_FOUND,
        TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        TooSlow => StatusCode::REQUEST_TIMEOUT,
        NotJpeg | UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ConflictingDuplicate
        | ReplayedFrame
        | EvidenceAlreadyAttached
        | AlreadyEnded
        | StaleTransition
        | IdentityRequired => StatusCode::CONFLICT,
        UnknownRecording => StatusCode::NOT_FOUND,
        RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
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
            AdminError::NotOnRoster(m) => ApiError::new(RejectReason::UnknownStudent, m),
            AdminError::Store(e) => store_error(&e),
        }
    }
}

pub(crate) fn store_error(e: &vigil_store::StoreError) -> ApiError {
    tracing::error!(error = %e, "store error");
    ApiError(Rejection {
        reason: RejectReason::Unavailable,
        message: "storage is unavailable; retry".into(),
        retry_after_ms: Some(1_000),
    })
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Path parameters parsed into their types (ids in the one grammar), with a
/// refusal in our own error format instead of axum's plain text.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match UrlPath::<T>::from_request_parts(parts, state).await {
            Ok(UrlPath(v)) => Ok(ApiPath(v)),
            Err(e @ PathRejection::FailedToDeserializePathParams(_)) => {
                Err(ApiError::new(RejectReason::InvalidPayload, format!("bad path: {}", e.body_text())))
            }
            Err(e) => Err(ApiError::new(RejectReason::InvalidPayload, e.body_text())),
        }
    }
}

pub fn router(state: Arc<HttpState>, web_dir: Option<&Path>) -> Router {
    let api = Router::new()
        .route("/exams", post(create_exam).get(list_exams))
        .route("/exams/{exam}", get(roster))
        .route("/exams/{exam}/students", post(add_student))
        .route("/exams/{exam}/proctors", post(add_proctor))
        .route("/exams/{exam}/links", post(issue_link))
        .route("/exams/{exam}/access-code", axum::routing::put(set_access_code))
        .route("/exams/{exam}/settings", axum::routing::put(change_settings))
        .route("/exams/{exam}/students/{student}/accommodations", axum::routing::put(set_accommodations))
        .route("/access-code", post(access_code))
        .route("/exams/{exam}/snapshot", get(snapshot))
        .route("/exams/{exam}/students/{student}/incidents", get(student_incidents))
        .route("/exams/{exam}/students/{student}/actions", get(student_actions))
        .route("/exams/{exam}/students/{student}/chat", get(student_chat))
        .route("/exams/{exam}/students/{student}/identity", get(identity_photos))
        .route("/exams/{exam}/students/{student}/identity/{kind}", get(identity_photo))
        .route("/exams/{exam}/students/{student}/recording", get(recording_index))
        .route("/exams/{exam}/students/{student}/recording/{sha256}", get(recording_segment))
        .route("/identity/{kind}", post(upload_identity))
        .route("/exams/{exam}/review", get(review_queue))
        .route("/exams/{exam}/students/{student}/review", get(student_review))
        .route("/exams/{exam}/students/{student}/report.pdf", get(student_report))
        .route("/exams/{exam}/students/{student}/decision", axum::routing::put(decide))
        .route("/exams/{exam}/students/{student}/incidents/{incident}/review", axum::routing::put(review_incident))
        .route("/exams/{exam}/audit", get(audit_log))
        .route("/exams/{exam}/export.csv", get(export_csv))
        .route("/me/record", get(own_record))
        .route("/exams/{exam}/students/{student}/data", get(export_student).delete(erase_student))
        .route("/me/evidence/{sha256}", get(own_evidence))
        .route("/me/appeals", post(appeal))
        .route("/exams/{exam}/export.json", get(export_json))
        .route("/evidence/{incident}", post(upload_evidence))
        .route("/uplink-probe", post(uplink_probe))
        .route("/exams/{exam}/evidence/{sha256}", get(download_evidence))
        .merge(super::lti::admin_routes());
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/", get(landing))
        .merge(super::lti::routes())
        .nest("/api/v1", api);
    for page in ["student", "dashboard"] {
        router =
            router.route(&format!("/{page}"), get(move || async move { Redirect::permanent(&format!("/{page}/")) }));
        let dist = web_dir.map(|d| d.join(page).join("dist")).filter(|d| d.join("index.html").is_file());
        router = match dist {
            Some(dir) => router.nest_service(&format!("/{page}/"), web_app(dir)),
            None => router.route(&format!("/{page}/"), get(move || async move { placeholder(page) })),
        };
    }
    let headers = Arc::new(security_headers(&state.frame_ancestors));
    router.with_state(state).layer(axum::middleware::map_response(move |mut res: Response| {
        let headers = headers.clone();
        async move {
            for (name, value) in headers.iter() {
                res.headers_mut().entry(name).or_insert_with(|| value.clone());
            }
            res
        }
    }))
}

/// A built web app, served as a CDN would: the brotli or gzip copy made at
/// build time (`web/tools/precompress.mjs`) when the browser accepts it, with
/// `Vary: Accept-Encoding`; `Last-Modified` with 304s, and ranges (tower-http's
/// `ServeDir`, but for `Vary`). What is named by its content's hash never
/// changes and is cached for a year (see [`content_hashed`]); everything else
/// (the HTML entry point, `models/manifest.json`) is `no-cache`: kept, and
/// revalidated with a 304 on each visit.
fn web_app(dir: std::path::PathBuf) -> axum::routing::MethodRouter<()> {
    let files = tower_http::services::ServeDir::new(dir).precompressed_br().precompressed_gzip();
    axum::routing::get_service(files).layer(axum::middleware::from_fn(static_cache_control))
}

/// Hex digits of the hash in a model group's directory name
/// (`web/student/scripts/hash-models.mjs`, `GROUP_HASH_HEX`).
const MODEL_GROUP_HASH_HEX: usize = 16;

/// Whether a web app's path (below the app's prefix) names a file by its
/// content: what Vite builds under `/assets/` (its hash is in the file name),
/// or a file directly inside a model group directory the student app's build
/// named by its content, `/models/<group>-<16 lowercase hex>/<file>`
/// (`hash-models.mjs`). A new model lands in a new directory, so such a file
/// never changes. Only that exact shape: `models/manifest.json`, which says
/// where the groups are now, and a model directory without its hash (a build
/// that skipped hashing) must be revalidated.
fn content_hashed(path: &str) -> bool {
    if path.starts_with("/assets/") {
        return true;
    }
    let mut parts = path.split('/');
    let (Some(""), Some("models"), Some(dir), Some(file), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some((group, hash)) = dir.rsplit_once('-') else { return false };
    !group.is_empty()
        && group.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && hash.len() == MODEL_GROUP_HASH_HEX
        && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && !file.is_empty()
}

/// `Cache-Control` for a web app's file (see [`web_app`]).
async fn static_cache_control(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let hashed = content_hashed(req.uri().path());
    let mut res = next.run(req).await;
    let cacheable = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
    if cacheable {
        let policy = if hashed { "public, max-age=31536000, immutable" } else { "no-cache" };
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        // ServeDir picks the encoding but does not say that it did: a shared
        // cache must not give a brotli copy to a browser that asked for none.
        res.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

/// Headers every response carries. The CSP fits the student page: its
/// inference worker compiles WebAssembly (`wasm-unsafe-eval`) and MediaPipe
/// loads its modules and workers from this origin or from `blob:` URLs;
/// pages talk only to this origin (HTTP, WebSocket). `frame-ancestors` is
/// this origin plus the LMS origins the operator allows, so an LMS can embed
/// the pages and nobody else can frame them; `frame-src` is the same list,
/// so the student page can show those LMSs' assessments in its exam frame
/// (LTI Proctoring Services hands the attempt back into that frame) and no
/// other site.
fn security_headers(frame_ancestors: &[String]) -> HeaderMap {
    let mut ancestors = String::from("'self'");
    for origin in frame_ancestors {
        ancestors.push(' ');
        ancestors.push_str(origin);
    }
    let csp = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' blob:; worker-src 'self' blob:; \
         connect-src 'self' ws: wss: blob: data:; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
         style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-src {ancestors}; \
         frame-ancestors {ancestors}"
    );
    let mut h = HeaderMap::new();
    // The origins were checked when the configuration was parsed; a value
    // that still fails here leaves the policy out rather than the server down.
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h
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

/// Each dependency's state: 200 when all answer, 503 naming the one that
/// does not (a load balancer takes the node out; an operator sees why).
async fn healthz(State(app): AppState) -> Response {
    let health = app.service.store().health().await;
    let redis = match app.relay.get() {
        Some(relay) => Some(relay.health().await),
        None => None,
    };
    let ok = health.ok() && redis.as_ref().is_none_or(Result::is_ok);
    let check = |r: &Result<(), String>, kind: &str| match r {
        Ok(()) => serde_json::json!({ "status": "ok", "kind": kind }),
        Err(e) => {
            tracing::error!(error = %e, kind, "health check failed");
            serde_json::json!({ "status": "unavailable", "kind": kind })
        }
    };
    let mut checks = serde_json::json!({
        "database": check(&health.database, health.database_kind),
        "blob_store": check(&health.blobs, health.blob_kind),
    });
    if let Some(redis) = &redis {
        checks["redis"] = check(redis, "redis");
    }
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "unavailable" },
        "version": env!("CARGO_PKG_VERSION"),
        "checks": checks,
    });
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

async fn metrics(State(app): AppState, headers: HeaderMap) -> Response {
    if let Some(expected) = &app.metrics_token
        && !bearer(&headers).is_some_and(|t| token_eq(t, expected))
    {
        return ApiError::new(RejectReason::InvalidToken, "send Authorization: Bearer <metrics token>").into_response();
    }
    let stats = app.service.store().writer_stats();
    metrics::counter!(m::STORE_COMMITS).absolute(stats.commits);
    metrics::counter!(m::STORE_WRITES).absolute(stats.writes);
    let mut res = app.metrics.render().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    res
}

// ---------------------------------------------------------------- auth

/// The token of an `Authorization: Bearer <token>` header. The scheme is
/// case-insensitive (RFC 9110 §11.1).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub(crate) fn require_admin(app: &HttpState, headers: &HeaderMap) -> ApiResult<()> {
    let token = bearer(headers)
        .ok_or_else(|| ApiError::new(RejectReason::MissingToken, "send Authorization: Bearer <admin token>"))?;
    if token_eq(token, &app.admin_token) {
        Ok(())
    } else {
        Err(ApiError::new(RejectReason::InvalidToken, "not the admin token"))
    }
}

// ---------------------------------------------------------------- admin

async fn create_exam(State(app): AppState, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    let req: CreateExam = parse_json(&body)?;
    let exam = app.admin.create_exam(req).await?;
    Ok((StatusCode::CREATED, Json(exam)).into_response())
}

/// Who may configure `exam`: the admin, or a proctor of that exam whose
/// token grants it (an instructor's). Returns who it is, for the log.
async fn require_configurer(app: &HttpState, headers: &HeaderMap, exam: &ExamId) -> ApiResult<String> {
    let token = bearer(headers)
        .ok_or_else(|| ApiError::new(RejectReason::MissingToken, "send Authorization: Bearer <token>"))?;
    if token_eq(token, &app.admin_token) {
        return Ok("admin".to_owned());
    }
    let sess = app.service.authenticate_proctor_of(Some(token), exam).await?;
    if !sess.may_configure {
        return Err(ApiError::new(
            RejectReason::Forbidden,
            "only the exam's instructors may change its settings; ask one of them or the administrator",
        ));
    }
    Ok(format!("proctor {}", sess.proctor))
}

async fn set_access_code(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath(exam): ApiPath<ExamId>,
    body: Bytes,
) -> ApiResult<Response> {
    let by = require_configurer(&app, &headers, &exam).await?;
    let req: SetAccessCode = parse_json(&body)?;
    app.admin.set_access_code(&exam, req).await?;
    tracing::info!(exam = %exam, by, "access code set");
    app.service.access_code_changed(&exam).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /api/v1/exams/{exam}/students/{student}/accommodations`: the whole
/// `Accommodations`; the answer is the student's tile as it now is.
async fn set_accommodations(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
    body: Body,
) -> ApiResult<Response> {
    let by = require_configurer(&app, &headers, &exam).await?;
    let body = read_body(body, MAX_ACCOMMODATIONS_BYTES, "accommodations").await?;
    let accommodations: vigil_proto::Accommodations = parse_json(&body)?;
    Ok(Json(app.service.set_accommodations(&exam, &student, accommodations, &by).await?).into_response())
}

/// An accommodations body: a note of 500 characters and a few detectors.
const MAX_ACCOMMODATIONS_BYTES: usize = 16 * 1024;

/// A settings body: a few hundred bytes in practice.
const MAX_SETTINGS_BYTES: usize = 64 * 1024;

/// `PUT /api/v1/exams/{exam}/settings`: the whole settings object, as in
/// `CreateExam`; the answer is the exam as it now is.
async fn change_settings(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath(exam): ApiPath<ExamId>,
    body: Body,
) -> ApiResult<Response> {
    let by = require_configurer(&app, &headers, &exam).await?;
    let body = read_body(body, MAX_SETTINGS_BYTES, "settings").await?;
    let settings: vigil_proto::ExamSettings = parse_json(&body)?;
    Ok(Json(app.service.change_settings(&exam, settings, &by).await?).into_response())
}

/// `POST /api/v1/access-code` with a student token and no body: the exam's
/// access code, only while the student's camera is proctored.
async fn access_code(State(app): AppState, headers: HeaderMap) -> ApiResult<Response> {
    let sess = app.service.authenticate_live_student(bearer(&headers)).await?;
    let code = app.service.access_code(&sess).await?;
    let mut res = Json(AccessCode { code }).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn list_exams(State(app): AppState, headers: HeaderMap) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    Ok(Json(app.service.store().exams().await.map_err(|e| store_error(&e))?).into_response())
}

async fn roster(State(app): AppState, headers: HeaderMap, ApiPath(exam): ApiPath<ExamId>) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    Ok(Json(app.admin.roster(&exam).await?).into_response())
}

async fn add_student(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath(exam): ApiPath<ExamId>,
    body: Bytes,
) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    let req: AddPerson = parse_json(&body)?;
    let student = app.admin.add_student(&exam, req).await?;
    app.service.roster_grew(&exam, vec![student.clone()]).await;
    Ok((StatusCode::CREATED, Json(student)).into_response())
}

async fn add_proctor(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath(exam): ApiPath<ExamId>,
    body: Bytes,
) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    let req: AddPerson = parse_json(&body)?;
    Ok((StatusCode::CREATED, Json(app.admin.add_proctor(&exam, req).await?)).into_response())
}

async fn issue_link(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath(exam): ApiPath<ExamId>,
    body: Bytes,
) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    let req: IssueLink = parse_json(&body)?;
    Ok((StatusCode::CREATED, Json(app.admin.issue_link(&exam, req).await?)).into_response())
}

/// A request body of at most `max` bytes, or `too_large` naming `what`.
async fn read_body(body: Body, max: usize, what: &str) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, max)
        .await
        .map_err(|_| ApiError::new(RejectReason::TooLarge, format!("{what} are at most {max} bytes")))
}

/// Parses a JSON body with serde's own message on failure, so a client sees
/// which field is wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(RejectReason::InvalidPayload, format!("invalid JSON body: {e}")))
}

// ---------------------------------------------------------------- proctor reads

async fn snapshot(State(app): AppState, headers: HeaderMap, ApiPath(exam): ApiPath<ExamId>) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    Ok(Json(app.service.snapshot(&sess)).into_response())
}

async fn student_incidents(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
) -> ApiResult<Response> {
    app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let incidents = app.service.store().student_incidents(&exam, &student).await.map_err(|e| store_error(&e))?;
    Ok(Json(incidents).into_response())
}

// ---------------------------------------------------------------- review

/// Review bodies are a verdict and a note of at most 2,000 characters.
const REVIEW_BODY_LIMIT: usize = 16 * 1024;

async fn review_queue(State(app): AppState, headers: HeaderMap, ApiPath(exam): ApiPath<ExamId>) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    Ok(Json(app.service.review_queue(&sess).await?).into_response())
}

async fn student_review(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let mut res = Json(app.service.student_review(&sess, &student).await?).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(res)
}

/// `GET /api/v1/exams/{exam}/students/{student}/report.pdf`.
async fn student_report(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let pdf = app.service.student_report(&sess, &student).await?;
    let mut res = Body::from(pdf).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{exam}-{student}.pdf\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

async fn decide(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
    body: Body,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let req = parse_json(&read_body(body, REVIEW_BODY_LIMIT, "decisions").await?)?;
    Ok(Json(app.service.decide(&sess, &student, req).await?).into_response())
}

async fn review_incident(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student, incident)): ApiPath<(ExamId, StudentId, IncidentId)>,
    body: Body,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let req = parse_json(&read_body(body, REVIEW_BODY_LIMIT, "incident reviews").await?)?;
    Ok(Json(app.service.review_incident(&sess, &student, &incident, req).await?).into_response())
}

/// `GET /api/v1/exams/{exam}/students/{student}/data` (admin): an access request.
async fn export_student(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    let mut res = Json(app.service.export_student(&exam, &student).await?).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(res)
}

/// `DELETE /api/v1/exams/{exam}/students/{student}/data` (admin): an erasure request.
async fn erase_student(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    Ok(Json(app.service.erase_student(&exam, &student).await?).into_response())
}

/// `GET /api/v1/me/record` (student): the student's own record.
async fn own_record(State(app): AppState, headers: HeaderMap) -> ApiResult<Response> {
    let sess = app.service.authenticate_student(bearer(&headers)).await?;
    let mut res = Json(app.service.own_record(&sess).await?).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(res)
}

/// `GET /api/v1/me/evidence/{sha256}` (student): one of their own frames.
async fn own_evidence(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath(sha256): ApiPath<String>,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_student(bearer(&headers)).await?;
    let (media, bytes) = app.service.own_evidence(&sess, &sha256).await?;
    private_media(media, bytes)
}

/// `POST /api/v1/me/appeals` (student): a response to a decision.
async fn appeal(State(app): AppState, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let sess = app.service.authenticate_student(bearer(&headers)).await?;
    let req = parse_json(&read_body(body, REVIEW_BODY_LIMIT * 2, "appeals").await?)?;
    Ok((StatusCode::CREATED, Json(app.service.appeal(&sess, req).await?)).into_response())
}

/// `GET /api/v1/exams/{exam}/export.csv`: one row per student, queue order.
async fn export_csv(State(app): AppState, headers: HeaderMap, ApiPath(exam): ApiPath<ExamId>) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let csv = app.service.exam_csv(&sess).await?;
    let mut res = Body::from(csv).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{exam}-review.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// `GET /api/v1/exams/{exam}/export.json`: the whole exam's records.
async fn export_json(State(app): AppState, headers: HeaderMap, ApiPath(exam): ApiPath<ExamId>) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let mut res = Json(app.service.exam_archive(&sess).await?).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(res)
}

/// `GET /api/v1/exams/{exam}/audit` (admin): who looked at or changed what.
async fn audit_log(State(app): AppState, headers: HeaderMap, ApiPath(exam): ApiPath<ExamId>) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    Ok(Json(app.service.audit_log(&exam).await?).into_response())
}

/// `GET /api/v1/exams/{exam}/students/{student}/actions`: what the exam's
/// proctors did to the student (flags with their notes, pauses, time added),
/// oldest first. A recorded kind this server no longer knows is left out.
async fn student_actions(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
) -> ApiResult<Response> {
    app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let rows = app.service.store().student_actions(&exam, &student).await.map_err(|e| store_error(&e))?;
    Ok(Json(crate::service::review::recorded_actions(rows)).into_response())
}

/// `GET /api/v1/exams/{exam}/students/{student}/chat?after=N`: the
/// student's conversation and the exam's announcements after message `N`
/// (default 0), a page at a time.
async fn student_chat(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let after = match query.as_deref().and_then(|q| q.split('&').find_map(|p| p.strip_prefix("after="))) {
        None => 0,
        Some(n) => {
            n.parse::<u64>().map_err(|_| ApiError::new(RejectReason::InvalidPayload, "after must be a number"))?
        }
    };
    let cell = app.service.on_roster(&sess.rt, &student).await?;
    Ok(Json(app.service.chat_history(&sess.rt, cell.id(), after).await?).into_response())
}

/// `GET /api/v1/exams/{exam}/students/{student}/identity`: the student's
/// identity photos (without the images).
async fn identity_photos(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    Ok(Json(app.service.identity_photos(&sess, &student).await?).into_response())
}

/// `GET /api/v1/exams/{exam}/students/{student}/identity/{kind}`: one
/// identity photo's JPEG, for the exam's proctors.
async fn identity_photo(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student, kind)): ApiPath<(ExamId, StudentId, IdentityPhotoKind)>,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let bytes = app.service.identity_photo_bytes(&sess, &student, kind).await?;
    app.service.audit(&sess, "view_identity_photo", Some(&student), Some(kind.as_str().to_owned())).await?;
    private_jpeg(bytes)
}

/// `GET /api/v1/exams/{exam}/students/{student}/recording` for the exam's
/// proctors: the student's recording segments in order.
async fn recording_index(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student)): ApiPath<(ExamId, StudentId)>,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let segments = app.service.recording_index(&sess, &student).await?;
    app.service.audit(&sess, "view_recording_index", Some(&student), None).await?;
    let mut res = Json(segments).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(res)
}

/// `GET /api/v1/exams/{exam}/students/{student}/recording/{sha256}`: a
/// segment's WebM, whole or one byte range (a video element seeks with
/// `Range`). A view is audited once, at its first request (no `Range`, or
/// one from byte 0), not at every seek within it.
async fn recording_segment(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, student, sha256)): ApiPath<(ExamId, StudentId, String)>,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let (segment, bytes) = app.service.recording_segment(&sess, &student, &sha256).await?;
    let range = match headers.get(header::RANGE).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(byte_range(v, bytes.len() as u64)?),
        Some(Err(_)) => return Err(ApiError::new(RejectReason::InvalidPayload, "the Range header is not text")),
    };
    if range.as_ref().is_none_or(|r| *r.start() == 0) {
        app.service.audit(&sess, "view_recording", Some(&student), Some(sha256)).await?;
    }
    let total = bytes.len();
    let (status, body) = match &range {
        // Both ends are within the segment: `byte_range` checked them.
        Some(r) => (StatusCode::PARTIAL_CONTENT, bytes.slice(*r.start() as usize..=*r.end() as usize)),
        None => (StatusCode::OK, bytes),
    };
    let mut res = (status, Body::from(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(segment.container.content_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(r) = range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{total}", r.start(), r.end()))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(res)
}

/// The one byte range a `Range` header asks of `len` bytes. Several ranges
/// are refused rather than answered as multipart: a video element asks for
/// one at a time.
fn byte_range(value: &str, len: u64) -> Result<std::ops::RangeInclusive<u64>, ApiError> {
    let unsatisfiable = |why: &str| {
        ApiError::new(RejectReason::RangeNotSatisfiable, format!("Range {value:?} of a {len}-byte segment: {why}"))
    };
    let ranges = http_range_header::parse_range_header(value)
        .map_err(|_| unsatisfiable("not a bytes range"))?
        .validate(len)
        .map_err(|_| unsatisfiable("outside the segment"))?;
    match ranges.as_slice() {
        [r] if r.start() <= r.end() && *r.end() < len => Ok(r.clone()),
        [_] => Err(unsatisfiable("outside the segment")),
        _ => Err(unsatisfiable("only one range at a time")),
    }
}

/// `POST /api/v1/identity/{kind}` with a student token and a JPEG body.
/// Everything that needs no body is checked before the body is read.
async fn upload_identity(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath(kind): ApiPath<IdentityPhotoKind>,
    body: Body,
) -> ApiResult<Response> {
    let precheck = async {
        let sess = app.service.authenticate_student(bearer(&headers)).await?;
        app.service.identity_precheck(sess, kind, captured_at(&headers)).await
    };
    let (ticket, bytes) = prechecked_upload(&app, body, precheck).await?;
    Ok(Json(app.service.identity_accept(ticket, bytes).await?).into_response())
}

/// An upload's body, read only once every check that needs no body has
/// passed (`precheck`), within the upload limit; a refused upload's body is
/// drained first (see [`discard`]).
async fn prechecked_upload<T>(
    app: &HttpState,
    body: Body,
    precheck: impl std::future::Future<Output = Result<T, Rejection>>,
) -> ApiResult<(T, Bytes)> {
    let max = app.service.evidence_limits().max_bytes;
    match precheck.await {
        Ok(ticket) => {
            // Read at most one byte past the limit: enough to know it is too large.
            let bytes = axum::body::to_bytes(body, max + 1)
                .await
                .map_err(|_| ApiError::new(RejectReason::TooLarge, format!("an upload is at most {max} bytes")))?;
            Ok((ticket, bytes))
        }
        Err(r) => {
            discard(body, max).await;
            Err(r.into())
        }
    }
}

/// Reads and drops what a client still sends of an upload refused before
/// its body was read, before the refusal goes out: closing a connection
/// with unread data resets it, and the client would see the reset instead
/// of the reason. At most `max` bytes (the upload limit) and one second,
/// never kept; a client sending more or slower just gets the reset.
async fn discard(body: Body, max: usize) {
    use futures::StreamExt;
    let drain = async {
        let mut left = max;
        let mut stream = body.into_data_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            left = match left.checked_sub(chunk.len()) {
                Some(left) => left,
                None => return,
            };
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
}

/// A JPEG of personal data: never kept by shared caches.
fn private_jpeg(bytes: Bytes) -> ApiResult<Response> {
    private_media(EvidenceMedia::Jpeg, bytes)
}

/// Evidence (a frame or a clip) of personal data: never kept by shared caches.
fn private_media(media: EvidenceMedia, bytes: Bytes) -> ApiResult<Response> {
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(res)
}

/// What an evidence upload says it is, from its `Content-Type`: a WAV type
/// is a sound clip; no type, or any that is not sound, is taken for a JPEG
/// (as before clips existed), and the body check says `not_jpeg` if not.
/// Any other sound or video type is refused before the body is read.
fn upload_media(headers: &HeaderMap) -> Result<EvidenceMedia, Rejection> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(EvidenceMedia::Jpeg) };
    let value = value.to_str().unwrap_or("");
    if let Some(media) = EvidenceMedia::from_content_type(value) {
        return Ok(media);
    }
    let lower = value.trim().to_ascii_lowercase();
    if lower.starts_with("audio/") || lower.starts_with("video/") {
        return Err(Rejection::new(
            RejectReason::UnsupportedMedia,
            format!("evidence is image/jpeg or audio/wav, not {lower}"),
        ));
    }
    Ok(EvidenceMedia::Jpeg)
}

fn captured_at(headers: &HeaderMap) -> Option<i64> {
    headers.get(CAPTURED_AT_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

// ---------------------------------------------------------------- evidence

/// Header carrying the frame's capture time (Unix ms, the student's clock).
pub const CAPTURED_AT_HEADER: &str = "x-vigil-captured-at";

/// `POST /api/v1/evidence/{incident}` with a student token and a JPEG body
/// (or, for a voice where the exam keeps sound, a WAV clip).
/// Everything that needs no body is checked before the body is read.
async fn upload_evidence(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath(incident_id): ApiPath<IncidentId>,
    body: Body,
) -> Response {
    let res = accept_evidence(&app, &headers, incident_id, body).await;
    evidence_answer(res)
}

fn evidence_answer(res: ApiResult<crate::service::evidence::EvidenceStored>) -> Response {
    match res {
        Ok(stored) => {
            metrics::counter!(m::EVIDENCE_ACCEPTED).increment(1);
            let status = if stored.created { StatusCode::CREATED } else { StatusCode::OK };
            (status, Json(stored.accepted)).into_response()
        }
        Err(e) => {
            metrics::counter!(m::EVIDENCE_REJECTED, "reason" => e.0.reason.as_str()).increment(1);
            e.into_response()
        }
    }
}

async fn accept_evidence(
    app: &HttpState,
    headers: &HeaderMap,
    incident_id: IncidentId,
    body: Body,
) -> ApiResult<crate::service::evidence::EvidenceStored> {
    let precheck = async {
        let sess = app.service.authenticate_student(bearer(headers)).await?;
        let media = upload_media(headers)?;
        app.service.evidence_precheck(sess, incident_id, media, captured_at(headers)).await
    };
    let (ticket, bytes) = prechecked_upload(app, body, precheck).await?;
    Ok(app.service.evidence_accept(ticket, bytes).await?)
}

// ---------------------------------------------------------------- uplink probe

/// `POST /api/v1/uplink-probe` with a student token and a body of
/// throwaway bytes: how fast they arrived (`vigil_core::uplink`). The token,
/// the declared length and the budgets are checked before the body is read;
/// the body is then read and dropped piece by piece, never kept.
async fn uplink_probe(State(app): AppState, headers: HeaderMap, body: Body) -> Response {
    // The request's head has just arrived: the body started with it.
    let arrived = std::time::Instant::now();
    let precheck = async {
        let sess = app.service.authenticate_live_student(bearer(&headers)).await?;
        app.service.uplink_precheck(&sess, content_length(&headers))
    };
    let res = match precheck.await {
        Ok(ticket) => {
            let measured = read_probe(body, arrived, app.service.probe_limits()).await;
            drop(ticket);
            measured.map_err(ApiError)
        }
        Err(r) => {
            // A declared length over the limit is not read at all: the
            // client learns the reason, or sees the connection close.
            if r.reason != RejectReason::TooLarge {
                discard(body, usize::try_from(app.service.probe_limits().max_bytes).unwrap_or(usize::MAX)).await;
            }
            Err(ApiError(r))
        }
    };
    let outcome = match &res {
        Ok(_) => "measured",
        Err(e) => e.0.reason.as_str(),
    };
    metrics::counter!(m::UPLINK_PROBES, "outcome" => outcome).increment(1);
    match res {
        Ok(probe) => {
            let mut res = Json(probe).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => e.into_response(),
    }
}

/// A request's declared body length; `None` when absent or not a number
/// (the body is then checked as it arrives).
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

/// Reads a probe's body to its end, dropping each piece, and times it from
/// `arrived`; refused when it grows past the limit, pauses too long or runs
/// past its deadline (a slow-loris holds its slots no longer than that).
async fn read_probe(
    body: Body,
    arrived: std::time::Instant,
    limits: &vigil_core::uplink::ProbeLimits,
) -> Result<vigil_proto::events::UplinkProbe, Rejection> {
    use futures::StreamExt;
    let mut timer = vigil_core::uplink::ProbeTimer::new(arrived.elapsed());
    let mut stream = body.into_data_stream();
    loop {
        let wait = timer.wait_for_next(arrived.elapsed(), limits)?;
        match tokio::time::timeout(wait, stream.next()).await {
            Err(_) => return Err(timer.expired(arrived.elapsed(), limits)),
            Ok(None) => return timer.finish(limits),
            Ok(Some(Ok(chunk))) => timer.on_chunk(chunk.len(), arrived.elapsed(), limits)?,
            Ok(Some(Err(_))) => {
                return Err(Rejection::new(RejectReason::InvalidPayload, "the probe's body broke off"));
            }
        }
    }
}

/// `GET /api/v1/exams/{exam}/evidence/{sha256}` for the exam's proctors.
async fn download_evidence(
    State(app): AppState,
    headers: HeaderMap,
    ApiPath((exam, sha256)): ApiPath<(ExamId, String)>,
) -> ApiResult<Response> {
    let sess = app.service.authenticate_proctor_of(bearer(&headers), &exam).await?;
    let (media, bytes) = app.service.evidence_frame(&exam, &sha256).await?;
    app.service.audit(&sess, "view_evidence", None, Some(sha256)).await?;
    private_media(media, bytes)
}

#[cfg(test)]
mod tests {
    use super::{byte_range, content_hashed};

    #[test]
    fn only_content_hashed_paths_are_cached_for_a_year() {
        for hashed in [
            "/assets/index-Ab12Cd34.js",
            "/models/wasm-0123456789abcdef/vision_wasm_internal.wasm",
            "/models/face-80e3f5a5a7c6a9f8/face_landmarker.task",
            "/models/tfjs_2-ffffffffffffffff/x.wasm",
        ] {
            assert!(content_hashed(hashed), "{hashed}");
        }
        for revalidated in [
            "/",
            "/index.html",
            "/models/manifest.json",
            // A group at its plain name (a build that did not hash), or whose hash is not one.
            "/models/wasm/vision_wasm_internal.wasm",
            "/models/wasm-0123456789abcde/x.wasm",
            "/models/wasm-0123456789abcdef0/x.wasm",
            "/models/wasm-0123456789ABCDEF/x.wasm",
            "/models/wasm-0123456789abcdeg/x.wasm",
            "/models/-0123456789abcdef/x.wasm",
            "/models/Wasm-0123456789abcdef/x.wasm",
            // Not one file directly in the group.
            "/models/wasm-0123456789abcdef/",
            "/models/wasm-0123456789abcdef",
            "/models/wasm-0123456789abcdef/a/b.wasm",
            "/other/wasm-0123456789abcdef/x.wasm",
        ] {
            assert!(!content_hashed(revalidated), "{revalidated}");
        }
    }

    #[test]
    fn one_byte_range_is_read_as_a_player_sends_it() {
        assert_eq!(byte_range("bytes=0-99", 1000).ok(), Some(0..=99));
        assert_eq!(byte_range("bytes=900-", 1000).ok(), Some(900..=999));
        assert_eq!(byte_range("bytes=-100", 1000).ok(), Some(900..=999));
        // An end past the segment is cut to it, as HTTP says.
        assert_eq!(byte_range("bytes=10-5000", 1000).ok(), Some(10..=999));
    }

    #[test]
    fn ranges_it_cannot_serve_are_refused_with_their_reason() {
        for bad in ["bytes=1000-", "bytes=5-2", "bytes=0-1,5-6", "items=0-1", "bytes=x-y", "bytes=-0"] {
            let e = byte_range(bad, 1000).expect_err(bad);
            assert_eq!(e.0.reason, vigil_proto::RejectReason::RangeNotSatisfiable, "{bad}");
        }
    }
}
