//! HTTP requests for an exam another node holds go to that node (issue 15).
//!
//! An exam's live state is on one node (`service::placement`), and the
//! HTTP API reads and changes it (evidence is bound through the student's
//! ledger, settings and accommodations are swapped into the runtime), so a
//! request that reached another node is forwarded there, streamed both
//! ways. The exam comes from the path (`/api/v1/exams/{exam}/…`) or, for a
//! student's or proctor's own requests, from the bearer token, whose
//! signature is checked before anything else is done. The holder checks
//! everything again: forwarding grants nothing.
//!
//! A request forwarded once is never forwarded again
//! ([`FORWARDED_BY`]): if the exam moved meanwhile, the holder-to-be
//! answers `unavailable` and the client retries.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use vigil_proto::{ExamId, Rejection, Role};

use super::http::{ApiError, bearer};
use crate::metrics as m;
use crate::service::placement::Route;
use crate::service::{Service, unavailable};

/// Names the node that forwarded a request.
pub const FORWARDED_BY: HeaderName = HeaderName::from_static("x-vigil-forwarded-by");

/// A forwarded request's whole exchange, body included (a PDF report or an
/// export of a large exam takes a while on a slow link).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(120);

/// Headers that describe one connection, not the request (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::TE,
    header::TRAILER,
    header::PROXY_AUTHORIZATION,
];

#[derive(Debug, Clone)]
pub struct Forwarder {
    svc: Arc<Service>,
    client: reqwest::Client,
}

impl Forwarder {
    pub fn new(svc: Arc<Service>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(FORWARD_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Forwarder { svc, client }
    }
}

/// The exam a request is about, if it names one.
fn exam_of(svc: &Service, req: &Request) -> Option<ExamId> {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/api/v1/exams/") {
        return rest.split('/').next().and_then(|id| id.parse().ok());
    }
    if !path.starts_with("/api/v1/") {
        return None;
    }
    let token = bearer(req.headers());
    [Role::Student, Role::Proctor].into_iter().find_map(|role| svc.token_exam(token, role).ok())
}

/// The middleware: serves here, or forwards to the exam's node.
pub async fn forward_to_holder(State(f): State<Forwarder>, req: Request, next: Next) -> Response {
    if f.svc.cluster().is_none() || req.headers().contains_key(FORWARDED_BY) {
        return next.run(req).await;
    }
    let Some(exam) = exam_of(&f.svc, &req) else { return next.run(req).await };
    match f.svc.route(&exam).await {
        Ok(Route::Here) => next.run(req).await,
        Ok(Route::Node(node)) => match f.forward(&node, req).await {
            Ok(res) => {
                metrics::counter!(m::HTTP_FORWARDED, "outcome" => "answered").increment(1);
                res
            }
            Err(rejection) => {
                metrics::counter!(m::HTTP_FORWARDED, "outcome" => "failed").increment(1);
                f.svc.forget_route(&exam);
                ApiError(rejection).into_response()
            }
        },
        Err(rejection) => ApiError(rejection).into_response(),
    }
}

impl Forwarder {
    async fn forward(&self, node: &vigil_core::placement::NodeId, req: Request) -> Result<Response, Rejection> {
        let base =
            self.svc.node_url(node).await?.ok_or_else(|| unavailable("the exam's server is not known; retry"))?;
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let (parts, body) = req.into_parts();
        let mut headers = parts.headers;
        for h in HOP_BY_HOP {
            headers.remove(h);
        }
        headers.remove(header::HOST);
        if let Some(me) = self.svc.cluster().map(|c| c.me().to_string())
            && let Ok(v) = HeaderValue::from_str(&me)
        {
            headers.insert(FORWARDED_BY, v);
        }
        let sent = self
            .client
            .request(parts.method, url)
            .headers(headers)
            .body(reqwest::Body::wrap_stream(body.into_data_stream()))
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, node = %node, "could not forward a request to the exam's server");
                unavailable("the server that holds this exam did not answer; retry")
            })?;
        let mut res = Response::builder().status(sent.status());
        if let Some(h) = res.headers_mut() {
            for (name, value) in sent.headers() {
                if !HOP_BY_HOP.contains(name) {
                    h.append(name, value.clone());
                }
            }
        }
        res.body(Body::from_stream(sent.bytes_stream()))
            .map_err(|_| unavailable("the answer of the exam's server could not be passed on; retry"))
    }
}
