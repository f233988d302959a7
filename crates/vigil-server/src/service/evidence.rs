//! Evidence: a camera frame, or for a voice (where the privacy tier keeps
//! sound) a short clip. Every check that is cheap runs before the body is
//! read or decoded: the token (done by the caller), the privacy tier and what
//! it keeps, the capture time, the incident (one of this student's own, never
//! a server one) and its window, and the upload rate and concurrency limits.
//! Only then is the body read, within its size limit, and decoded. Then: not
//! a replay of another upload, stored, and the incident re-announced with its
//! evidence.
//!
//! Memory is bounded by the concurrency limits: one upload in flight per
//! student, and at most [`ServiceConfig::evidence_in_flight`] server-wide,
//! each holding at most one body (512 KiB) and one decoded frame. Beyond
//! either, the answer is `rate_limited` with `retry_after_ms`.
//!
//! [`ServiceConfig::evidence_in_flight`]: super::ServiceConfig::evidence_in_flight

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;
use vigil_core::evidence::{PriorFrame, check_window, classify_prior, collects, inspect_jpeg, inspect_wav};
use vigil_proto::events::{EvidenceAccepted, EvidenceMedia};
use vigil_proto::{ExamId, IncidentId, RejectReason, Rejection, UnixMillis};
use vigil_store::EvidenceRow;

use super::exams::StudentCell;
use super::fanout::ProctorEvent;
use super::{Service, StudentSession, lock, unavailable};

/// An upload that passed every check that needs no body.
#[derive(Debug)]
pub struct EvidenceTicket {
    sess: StudentSession,
    incident_id: IncidentId,
    media: EvidenceMedia,
    captured_at: UnixMillis,
    /// Held until the upload is done: this student's one upload in flight,
    /// and one of the server's.
    _permits: UploadPermits,
}

/// See [`Service::upload_permits`].
pub type UploadPermits = (OwnedSemaphorePermit, OwnedSemaphorePermit);

/// The outcome of an accepted upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceStored {
    pub accepted: EvidenceAccepted,
    /// False when this exact upload had been stored before (a retry).
    pub created: bool,
}

fn store_error(e: &vigil_store::StoreError) -> Rejection {
    tracing::error!(error = %e, "evidence store error");
    unavailable("storage unavailable; retry")
}

impl Service {
    /// Every check of an upload that needs no body.
    pub async fn evidence_precheck(
        &self,
        sess: StudentSession,
        incident_id: IncidentId,
        media: EvidenceMedia,
        captured_at: Option<UnixMillis>,
    ) -> Result<EvidenceTicket, Rejection> {
        if sess.cell.is_erased() {
            return Err(super::sessions::erased());
        }
        // The tier first: an exam that keeps nothing answers so at once.
        vigil_core::evidence::collects_evidence(sess.rt.exam().settings.privacy)?;
        let captured_at = captured_at.ok_or_else(|| {
            Rejection::new(RejectReason::InvalidPayload, "send the capture time: x-vigil-captured-at: <unix ms>")
        })?;
        let now = self.clock.now_ms();
        lock(&sess.cell.live).evidence_bucket.try_take(now).map_err(|wait| Rejection {
            reason: RejectReason::RateLimited,
            message: "too many evidence uploads; slow down and retry".into(),
            retry_after_ms: Some(wait),
        })?;
        let span = sess.cell.ledger.lock().await.evidence_span(&incident_id);
        let Some((kind, started_at, ended_at)) = span else {
            return Err(Rejection::new(RejectReason::UnknownIncident, format!("you have no incident {incident_id}")));
        };
        let settings = &sess.rt.exam().settings;
        collects(media, kind, settings.privacy, settings.microphone)?;
        check_window(&self.config.evidence, started_at, ended_at, captured_at, now)?;
        let permits = self.upload_permits(&sess.cell)?;
        Ok(EvidenceTicket { sess, incident_id, media, captured_at, _permits: permits })
    }

    /// The two slots any upload holds while its body is read and decoded
    /// (evidence and identity photos alike): the student's one upload in
    /// flight, and one of the server's. Refused at once, never queued.
    pub fn upload_permits(&self, cell: &StudentCell) -> Result<UploadPermits, Rejection> {
        let busy = |message: &str, retry_after_ms| Rejection {
            reason: RejectReason::RateLimited,
            message: message.to_owned(),
            retry_after_ms: Some(retry_after_ms),
        };
        let mine = cell
            .evidence_slot
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy("your previous upload is still being checked; retry", 500))?;
        let server = self
            .evidence_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy("the server is checking many uploads; retry", 250))?;
        Ok((mine, server))
    }

    /// Decodes, checks and stores the body of a prechecked upload.
    pub async fn evidence_accept(&self, ticket: EvidenceTicket, body: Bytes) -> Result<EvidenceStored, Rejection> {
        let EvidenceTicket { sess, incident_id, media, captured_at, _permits } = ticket;
        let limits = self.config.evidence;
        if body.len() > limits.max_bytes {
            return Err(Rejection::new(RejectReason::TooLarge, format!("upload exceeds {} bytes", limits.max_bytes)));
        }
        let upload = body.clone();
        // Decoding is CPU work: off the async workers.
        let inspected = tokio::task::spawn_blocking(move || inspect(media, &upload, &limits))
            .await
            .map_err(|_| unavailable("decoder failed; retry"))??;
        let (rt, cell) = (&sess.rt, &sess.cell);
        let accepted = EvidenceAccepted {
            incident_id: incident_id.clone(),
            sha256: inspected.sha256.clone(),
            media,
            width: inspected.width,
            height: inspected.height,
            bytes: body.len() as u64,
            duration_ms: inspected.duration_ms,
        };
        if let Some(prior) = self.store.evidence(rt.id(), &inspected.sha256).await.map_err(|e| store_error(&e))? {
            // Looked up in this exam only: the answer says nothing of others.
            return match classify_prior(&prior.student_id == cell.id(), prior.incident_id == incident_id) {
                PriorFrame::Retry => Ok(EvidenceStored { accepted, created: false }),
                PriorFrame::Replay => Err(Rejection::new(
                    RejectReason::ReplayedFrame,
                    "this exact frame was already submitted as evidence",
                )),
            };
        }
        let now = self.clock.now_ms();
        let row = EvidenceRow {
            sha256: inspected.sha256.clone(),
            exam_id: rt.id().clone(),
            student_id: cell.id().clone(),
            incident_id: incident_id.clone(),
            media,
            duration_ms: inspected.duration_ms,
            width: inspected.width,
            height: inspected.height,
            bytes: body.len() as u64,
            captured_at,
            received_at: now,
            expires_at: now.saturating_add(i64::from(rt.exam().settings.evidence_retention_days) * 86_400_000),
        };
        match self.store.put_evidence(&row, body).await {
            Ok(()) => {}
            Err(vigil_store::StoreError::AlreadyExists(_)) => {
                return Err(Rejection::new(
                    RejectReason::EvidenceAlreadyAttached,
                    "this incident already has its evidence",
                ));
            }
            Err(e) => return Err(store_error(&e)),
        }
        // Proctors upsert incidents by id: re-announce it with its evidence.
        let sha = inspected.sha256;
        if let Some(record) =
            self.updated_record(rt, cell, &incident_id, |r| r.evidence_sha256 = Some(sha.clone())).await
        {
            self.fanout.out().to_proctors(rt.id(), ProctorEvent::Incident(record)).await;
        }
        Ok(EvidenceStored { accepted, created: true })
    }

    /// Evidence of `exam` (a frame or a clip), for that exam's proctors. Any
    /// miss reads the same.
    pub async fn evidence_frame(&self, exam: &ExamId, sha256: &str) -> Result<(EvidenceMedia, Bytes), Rejection> {
        let not_found = || Rejection::new(RejectReason::UnknownIncident, "no such evidence in this exam");
        let row = self.store.evidence(exam, sha256).await.map_err(|_| not_found())?.ok_or_else(not_found)?;
        Ok((row.media, self.store.evidence_bytes(sha256, row.media).await.map_err(|_| not_found())?))
    }
}

/// What the decoder made of an upload.
struct Inspected {
    sha256: String,
    width: u32,
    height: u32,
    duration_ms: Option<u32>,
}

fn inspect(
    media: EvidenceMedia,
    body: &[u8],
    limits: &vigil_core::evidence::EvidenceLimits,
) -> Result<Inspected, Rejection> {
    Ok(match media {
        EvidenceMedia::Jpeg => {
            let frame = inspect_jpeg(body, limits)?;
            Inspected { sha256: frame.sha256, width: frame.width, height: frame.height, duration_ms: None }
        }
        EvidenceMedia::Wav => {
            let clip = inspect_wav(body, limits)?;
            Inspected { sha256: clip.sha256, width: 0, height: 0, duration_ms: Some(clip.duration_ms) }
        }
    })
}
