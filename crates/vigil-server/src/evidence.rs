//! Evidence frames: `POST /api/v1/evidence/{incident}` with a student token
//! and a JPEG body; `GET /api/v1/exams/{exam}/evidence/{sha256}` for the
//! exam's proctors. Checks, in order: privacy tier, size, real JPEG
//! (header and full decode), bound to an incident of this student, captured
//! within its span, and not a replay of another frame.

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::Response;
use vigil_core::evidence::{check_window, inspect_jpeg};
use vigil_proto::events::EvidenceAccepted;
use vigil_proto::{RejectReason, Rejection};
use vigil_store::EvidenceRow;

use crate::App;
use crate::clock::now_ms;
use crate::exams::lock;
use crate::http::{
    ApiError, evidence_accepted_response, evidence_collected, jpeg_response, require_proctor, require_student,
};
use crate::metrics as m;

/// Header carrying the frame's capture time (Unix ms, the student's clock).
pub const CAPTURED_AT_HEADER: &str = "x-vigil-captured-at";

pub async fn upload(
    State(app): State<App>,
    headers: HeaderMap,
    UrlPath(incident_id): UrlPath<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let res = accept(&app, &headers, &incident_id, body).await;
    match &res {
        Ok(_) => metrics::counter!(m::EVIDENCE_ACCEPTED).increment(1),
        Err(e) => metrics::counter!(m::EVIDENCE_REJECTED, "reason" => e.0.reason.as_str()).increment(1),
    }
    res
}

async fn accept(app: &App, headers: &HeaderMap, incident_id: &str, body: Body) -> Result<Response, ApiError> {
    let (rt, cell) = require_student(app, headers).await?;
    evidence_collected(&rt)?;
    let limits = app.evidence_limits;
    let captured_at: i64 =
        headers.get(CAPTURED_AT_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok()).ok_or_else(
            || ApiError::new(RejectReason::InvalidPayload, format!("send {CAPTURED_AT_HEADER}: <unix ms>")),
        )?;
    // Read at most one byte past the limit: enough to know it is too large.
    let bytes = axum::body::to_bytes(body, limits.max_bytes + 1)
        .await
        .map_err(|_| ApiError::new(RejectReason::TooLarge, format!("frame exceeds {} bytes", limits.max_bytes)))?;
    let jpeg = bytes.clone();
    // Decoding is CPU work: keep it off the async workers.
    let frame = tokio::task::spawn_blocking(move || inspect_jpeg(&jpeg, &limits))
        .await
        .map_err(|_| ApiError::new(RejectReason::Unavailable, "decoder failed; retry"))?
        .map_err(ApiError)?;

    let span = cell.ledger.lock().await.incident_span(incident_id);
    let Some((_, started_at, ended_at)) = span else {
        return Err(ApiError::new(RejectReason::UnknownIncident, format!("you have no incident {incident_id}")));
    };
    let now = now_ms();
    check_window(&limits, started_at, ended_at, captured_at, now).map_err(ApiError)?;

    let accepted = EvidenceAccepted {
        incident_id: incident_id.to_owned(),
        sha256: frame.sha256.clone(),
        width: frame.width,
        height: frame.height,
        bytes: bytes.len() as u64,
    };
    let store_err = |e: vigil_store::StoreError| {
        tracing::error!(error = %e, "evidence store error");
        ApiError(Rejection {
            reason: RejectReason::Unavailable,
            message: "storage unavailable; retry".into(),
            retry_after_ms: Some(1_000),
        })
    };
    if let Some(prior) = app.store.evidence(&frame.sha256).await.map_err(store_err)? {
        // The same upload retried (its response was lost) is not a replay.
        let same = prior.exam_id == rt.id() && prior.student_id == cell.person.id && prior.incident_id == incident_id;
        return if same {
            Ok(evidence_accepted_response(accepted, false))
        } else {
            Err(ApiError::new(RejectReason::ReplayedFrame, "this exact frame was already submitted as evidence"))
        };
    }
    let row = EvidenceRow {
        sha256: frame.sha256.clone(),
        exam_id: rt.id().to_owned(),
        student_id: cell.person.id.clone(),
        incident_id: incident_id.to_owned(),
        width: frame.width,
        height: frame.height,
        bytes: bytes.len() as u64,
        captured_at,
        received_at: now,
        expires_at: now + i64::from(rt.exam.settings.evidence_retention_days) * 86_400_000,
    };
    match app.store.put_evidence(&row, bytes).await {
        Ok(()) => {}
        Err(vigil_store::StoreError::AlreadyExists(_)) => {
            return Err(ApiError::new(
                RejectReason::EvidenceAlreadyAttached,
                "this incident already has an evidence frame",
            ));
        }
        Err(e) => return Err(store_err(e)),
    }
    let record = {
        let mut live = lock(&cell.live);
        match live.last_incident.as_mut() {
            Some(last) if last.id == incident_id => {
                last.evidence_sha256 = Some(frame.sha256.clone());
                Some(last.clone())
            }
            _ => None,
        }
    };
    // Proctors upsert incidents by id: re-announce it with its evidence.
    let record = match record {
        Some(r) => Some(r),
        None => app
            .store
            .student_incidents(rt.id(), &cell.person.id)
            .await
            .ok()
            .and_then(|all| all.into_iter().find(|r| r.id == incident_id)),
    };
    if let Some(r) = record {
        app.fanout.incident(rt.id(), &r).await;
    }
    Ok(evidence_accepted_response(accepted, true))
}

pub async fn download(
    State(app): State<App>,
    headers: HeaderMap,
    UrlPath((exam, sha256)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    require_proctor(&app, &headers, &exam).await?;
    let not_found = || ApiError::new(RejectReason::UnknownIncident, "no such evidence in this exam");
    let row = app.store.evidence(&sha256).await.map_err(|_| not_found())?.ok_or_else(not_found)?;
    if row.exam_id != exam {
        return Err(not_found());
    }
    let bytes = app.store.evidence_bytes(&sha256).await.map_err(|_| not_found())?;
    Ok(jpeg_response(bytes))
}
