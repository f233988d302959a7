//! The LTI 1.3 endpoints: vigil's JWKS, the OIDC login initiation (GET and
//! POST), the launch (the platform's form post of the id_token), the
//! student page's request for LtiStartAssessment, and the admin API for
//! platform registrations.
//!
//! Every answer to a browser is a small HTML page with `Cache-Control:
//! no-store`. A refusal's page carries the sentence for the person (the
//! refusal's `Display`), its status, and the machine reason in the
//! [`REFUSAL_HEADER`] header; the log gets the same reason, never the token.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use vigil_lti::{LaunchError, LoginError, escape_html};
use vigil_proto::RejectReason;
use vigil_proto::events::RegisterLtiPlatform;

use super::http::{ApiError, ApiResult, HttpState, parse_json, require_admin, store_error};
use crate::service::lti::{KEY_GRACE_MS, Landing, LaunchOutcome, LtiRefusal, RegisterError};

/// The largest body `/lti/*` reads: an id_token is at most 64 KiB.
pub const MAX_LTI_BODY: usize = 80 * 1024;
/// The machine reason of a refused login or launch.
pub const REFUSAL_HEADER: &str = "x-vigil-lti-refusal";

type AppState = State<Arc<HttpState>>;

/// The browser-facing LTI routes.
pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/lti/jwks", get(jwks))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/lti/login", get(login).post(login))
        .route("/lti/launch", post(launch))
}

/// The API routes, nested under `/api/v1`: the admin's registrations and
/// the student page's LtiStartAssessment.
pub fn admin_routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/lti/platforms", post(register_platform).get(list_platforms))
        .route("/lti/start-assessment", post(start_assessment))
        .route("/lti/keys/rotate", post(rotate_key))
}

/// `POST /api/v1/lti/keys/rotate` (admin, no body): a new signing key now,
/// the previous one published for [`KEY_GRACE_MS`].
async fn rotate_key(State(app): AppState, headers: HeaderMap) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    let rotation = app.lti.rotate_key(KEY_GRACE_MS).await.map_err(|e| store_error(&e))?;
    Ok(Json(rotation).into_response())
}

/// `POST /api/v1/lti/start-assessment` with a student token and no body:
/// the signed LtiStartAssessment for the student's attempt, which the page
/// form-posts to the platform. Only while proctoring is live: the camera
/// must be publishing when the server runs video. The token and the
/// student's signalling budget are checked before anything is read or
/// signed; a body is never read.
async fn start_assessment(State(app): AppState, headers: HeaderMap) -> ApiResult<Response> {
    let sess = app.service.authenticate_live_student(super::http::bearer(&headers)).await?;
    app.service.admit_proctored_request(&sess)?;
    let message = app.lti.start_assessment(sess.rt.id(), sess.cell.id()).await?;
    let body = vigil_proto::events::StartAssessment { url: message.url.as_str().to_owned(), jwt: message.jwt };
    Ok(with_no_store(Json(body).into_response()))
}

async fn jwks(State(app): AppState) -> Response {
    let mut res = Json(app.lti.jwks()).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    res
}

/// The request's (name, value) pairs: the query of a GET, the form body of
/// a POST (or its query when the body is empty).
async fn pairs(request: Request) -> Result<Vec<(String, String)>, Response> {
    let (parts, body) = request.into_parts();
    let is_post = parts.method == axum::http::Method::POST;
    let query = parts.uri.query().unwrap_or("").as_bytes().to_vec();
    let body: Bytes = match axum::body::to_bytes(body, MAX_LTI_BODY).await {
        Ok(b) => b,
        Err(_) => {
            tracing::info!(reason = "body_too_large", "LTI: request refused");
            return Err(page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "vigil cannot sign you in",
                "The request from your learning platform is too large.",
                Some("body_too_large"),
            ));
        }
    };
    let source: &[u8] = if is_post && !body.is_empty() { &body } else { &query };
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(source).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    Ok(pairs)
}

/// A login or launch request, once its address is within budget: its
/// parameters (query or form).
async fn admitted_pairs(app: &HttpState, request: Request) -> Result<Vec<(String, String)>, Response> {
    let client = super::client_address(request.extensions(), request.headers(), app.lti.trusted_proxies());
    app.lti.admit_from(client).map_err(|refusal| refused(&refusal))?;
    pairs(request).await
}

async fn login(State(app): AppState, request: Request) -> Response {
    let pairs = match admitted_pairs(&app, request).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    match app.lti.login(pairs).await {
        Ok(url) => {
            let mut res = StatusCode::FOUND.into_response();
            match HeaderValue::from_str(url.as_str()) {
                Ok(v) => {
                    res.headers_mut().insert(header::LOCATION, v);
                }
                Err(_) => return refused(&LtiRefusal::Unavailable),
            }
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(refusal) => refused(&refusal),
    }
}

async fn launch(State(app): AppState, request: Request) -> Response {
    let pairs = match admitted_pairs(&app, request).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    match app.lti.launch(pairs).await {
        Ok(LaunchOutcome::Landing(landing, sync)) => {
            if let Some(sync) = sync {
                // Off the launch: the instructor's page does not wait for
                // the course's roster, and gets its tiles as they come.
                let (lti, service) = (app.lti.clone(), app.service.clone());
                tokio::spawn(async move {
                    let exam = sync.exam_id.clone();
                    let students = lti.sync_roster(*sync).await;
                    service.roster_grew(&exam, students).await;
                });
            }
            landed(&landing)
        }
        Ok(LaunchOutcome::AttemptEnded { exam_id, person_id, attempt_number, ended_at }) => {
            app.service.assessment_ended(&exam_id, &person_id, attempt_number, ended_at).await;
            page(
                StatusCode::OK,
                "Your exam has ended",
                "Your learning platform has ended this attempt, and vigil has stopped proctoring it. You can close this tab.",
                None,
            )
        }
        Err(refusal) => refused(&refusal),
    }
}

/// The page that takes the browser on to its app, the token in the URL
/// fragment (never sent to a server, so never in a log). A meta refresh
/// needs no script, so the strict CSP stands as it is.
fn landed(landing: &Landing) -> Response {
    let target = escape_html(&landing.path);
    let (what, title) = match landing.role {
        vigil_proto::Role::Student => ("your exam", "Opening your exam"),
        vigil_proto::Role::Proctor => ("the proctoring dashboard", "Opening the dashboard"),
    };
    let body = format!(
        "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <meta http-equiv=refresh content=\"0;url={target}\"><title>vigil: {title}</title>\
         <h1>{title}</h1><p>vigil is opening {what}. If nothing happens, <a href=\"{target}\">continue here</a>.</p>"
    );
    with_no_store(Html(body).into_response())
}

fn status_of(refusal: &LtiRefusal) -> StatusCode {
    match refusal {
        LtiRefusal::Login(e) => match e {
            LoginError::UnknownPlatform | LoginError::UnknownDeployment { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        },
        LtiRefusal::Launch(e) => match e {
            LaunchError::TokenTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            LaunchError::UnknownDeployment { .. } | LaunchError::LoginMismatch => StatusCode::FORBIDDEN,
            LaunchError::MissingKeyId
            | LaunchError::UnknownKey { .. }
            | LaunchError::UnusableKey { .. }
            | LaunchError::BadSignature
            | LaunchError::UnsupportedAlgorithm { .. }
            | LaunchError::WrongIssuer
            | LaunchError::WrongAudience
            | LaunchError::MissingAuthorizedParty
            | LaunchError::WrongAuthorizedParty
            | LaunchError::Expired
            | LaunchError::IssuedInFuture
            | LaunchError::NonceMismatch => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        },
        LtiRefusal::NotOpenYet => StatusCode::NOT_FOUND,
        LtiRefusal::NoRole => StatusCode::FORBIDDEN,
        LtiRefusal::NoAttempt => StatusCode::NOT_FOUND,
        // The platform's key endpoint failed us: a gateway error.
        LtiRefusal::KeysUnavailable(_) => StatusCode::BAD_GATEWAY,
        LtiRefusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        LtiRefusal::Disabled => StatusCode::NOT_FOUND,
        LtiRefusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn refused(refusal: &LtiRefusal) -> Response {
    let reason = refusal.reason();
    match refusal {
        LtiRefusal::Launch(e) => tracing::info!(reason, detail = ?e, "LTI: launch refused"),
        LtiRefusal::Login(e) => tracing::info!(reason, detail = ?e, "LTI: login refused"),
        LtiRefusal::KeysUnavailable(e) => tracing::info!(reason, detail = %e, "LTI: launch refused"),
        other => tracing::info!(reason, detail = %other, "LTI: request refused"),
    }
    let mut res = page(status_of(refusal), "vigil cannot open this", &refusal.to_string(), Some(reason));
    if let LtiRefusal::RateLimited { retry_after_ms } = refusal
        && let Ok(v) = HeaderValue::from_str(&retry_after_ms.div_ceil(1000).to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

fn page(status: StatusCode, title: &str, sentence: &str, reason: Option<&'static str>) -> Response {
    // Only a refusal asks the person to tell someone.
    let help = match reason {
        Some(_) => "<p>If this keeps happening, tell your instructor or your school's learning platform team.</p>",
        None => "",
    };
    let body = format!(
        "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>{title}</title><h1>{title}</h1><p>{}</p>{help}",
        escape_html(sentence)
    );
    let mut res = with_no_store((status, Html(body)).into_response());
    if let Some(reason) = reason {
        res.headers_mut().insert(REFUSAL_HEADER, HeaderValue::from_static(reason));
    }
    res
}

fn with_no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

// ---------------------------------------------------------------- admin

async fn register_platform(State(app): AppState, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    let body = axum::body::to_bytes(body, MAX_LTI_BODY)
        .await
        .map_err(|_| ApiError::new(RejectReason::TooLarge, "body too large"))?;
    let req: RegisterLtiPlatform = parse_json(&body)?;
    match app.lti.register_platform(req).await {
        Ok(platform) => Ok((StatusCode::CREATED, Json(platform)).into_response()),
        Err(RegisterError::Invalid(m)) => Err(ApiError::new(RejectReason::InvalidPayload, m)),
        Err(RegisterError::Exists) => {
            Err(ApiError::new(RejectReason::ConflictingDuplicate, "this issuer and client id are registered already"))
        }
        Err(RegisterError::Store(e)) => Err(store_error(&e)),
    }
}

async fn list_platforms(State(app): AppState, headers: HeaderMap) -> ApiResult<Response> {
    require_admin(&app, &headers)?;
    Ok(Json(app.lti.platforms().await.map_err(|e| store_error(&e))?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
