//! The identity check before an exam: the student's photos, checked like
//! evidence frames (cheap checks and limits first, then the body read within
//! its size limit and decoded off the async workers), kept for the exam's
//! retention; their submission to the proctors' queue, or its approval at
//! once when the exam approves automatically. A proctor's decision is an
//! `action` (`approve_identity`, `reject_identity`), see `live.rs`.
//!
//! No biometric template is made or kept: proctors compare the photos with
//! their own eyes.

use bytes::Bytes;
use vigil_core::evidence::inspect_jpeg;
use vigil_core::session::Change;
use vigil_proto::events::{IdentityPhoto, IdentityPhotos, RequestAck};
use vigil_proto::{IdentityCheck, IdentityPhotoKind, RejectReason, Rejection, SessionPhase, StudentId, UnixMillis};
use vigil_store::IdentityPhotoRow;

use super::evidence::UploadPermits;
use super::{ProctorSession, Service, StudentSession, lock, sessions, unavailable};
use crate::metrics as m;

/// How far ahead of the server's clock a capture time may be (clock skew).
const CAPTURE_SKEW_MS: i64 = 5_000;

/// An upload that passed every check that needs no body.
#[derive(Debug)]
pub struct IdentityTicket {
    sess: StudentSession,
    kind: IdentityPhotoKind,
    captured_at: UnixMillis,
    _permits: UploadPermits,
}

pub fn photo_of(row: &IdentityPhotoRow) -> IdentityPhoto {
    IdentityPhoto {
        kind: row.kind,
        sha256: row.sha256.clone(),
        width: row.width,
        height: row.height,
        bytes: row.bytes,
        captured_at: row.captured_at,
    }
}

fn count(outcome: &'static str) {
    metrics::counter!(m::IDENTITY_PHOTOS, "outcome" => outcome).increment(1);
}

impl Service {
    /// Every check of an identity photo upload that needs no body.
    pub async fn identity_precheck(
        &self,
        sess: StudentSession,
        kind: IdentityPhotoKind,
        captured_at: Option<UnixMillis>,
    ) -> Result<IdentityTicket, Rejection> {
        let refused = |r: Rejection| {
            count(r.reason.as_str());
            r
        };
        sessions::admit(&sess.cell).map_err(refused)?;
        let check = sess.rt.exam().settings.identity_check;
        if !check.required().contains(&kind) {
            return Err(refused(Rejection::new(
                RejectReason::InvalidPayload,
                format!("this exam does not ask for a {} photo", kind.as_str()),
            )));
        }
        let phase = sess.cell.session_phase();
        if phase != SessionPhase::Waiting {
            return Err(refused(Rejection::new(
                RejectReason::StaleTransition,
                format!("photos are taken while waiting to start, not while {}", phase.as_str()),
            )));
        }
        let now = self.clock.now_ms();
        let captured_at = captured_at.ok_or_else(|| {
            refused(Rejection::new(
                RejectReason::InvalidPayload,
                "send the capture time: x-vigil-captured-at: <unix ms>",
            ))
        })?;
        if captured_at > now + CAPTURE_SKEW_MS {
            return Err(refused(Rejection::new(RejectReason::TimestampInFuture, "the capture time is in the future")));
        }
        lock(&sess.cell.live).identity_bucket.try_take(now).map_err(|wait| {
            refused(Rejection {
                reason: RejectReason::RateLimited,
                message: "too many photos; wait and retry".into(),
                retry_after_ms: Some(wait),
            })
        })?;
        // The same slots as evidence: one upload in flight per student, and
        // a bounded number server-wide, whatever they carry.
        let permits = self.upload_permits(&sess.cell).map_err(refused)?;
        Ok(IdentityTicket { sess, kind, captured_at, _permits: permits })
    }

    /// Decodes, checks and stores the body of a prechecked photo.
    pub async fn identity_accept(&self, ticket: IdentityTicket, body: Bytes) -> Result<IdentityPhoto, Rejection> {
        let IdentityTicket { sess, kind, captured_at, _permits } = ticket;
        let limits = self.config.evidence;
        let jpeg = body.clone();
        let frame = tokio::task::spawn_blocking(move || inspect_jpeg(&jpeg, &limits))
            .await
            .map_err(|_| unavailable("decoder failed; retry"))?
            .inspect_err(|r| count(r.reason.as_str()))?;
        let now = self.clock.now_ms();
        let exam = sess.rt.exam();
        let row = IdentityPhotoRow {
            exam_id: exam.id.clone(),
            student_id: sess.cell.id().clone(),
            kind,
            sha256: frame.sha256,
            width: frame.width,
            height: frame.height,
            bytes: body.len() as u64,
            captured_at,
            received_at: now,
            expires_at: now.saturating_add(i64::from(exam.settings.evidence_retention_days) * 86_400_000),
        };
        self.store.put_identity_photo(&row, body).await.map_err(|e| {
            tracing::error!(error = %e, "storing an identity photo failed");
            count("unavailable");
            unavailable("storage unavailable; retry")
        })?;
        count("accepted");
        Ok(photo_of(&row))
    }

    /// The student's `identity_submit`: with every photo the exam asks for
    /// kept, the session goes to the proctors' queue, or on to `ready` at
    /// once when the exam approves automatically.
    pub async fn identity_submit(&self, sess: &StudentSession) -> RequestAck {
        let reject = |rejection| RequestAck::Rejected { rejection };
        let settings = sess.rt.exam().settings.clone();
        if settings.identity_check == IdentityCheck::Off {
            return reject(Rejection::new(RejectReason::InvalidPayload, "this exam has no identity check"));
        }
        let kept = match self.store.identity_photos(sess.rt.id(), sess.cell.id()).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "reading identity photos failed");
                return reject(unavailable("the photos could not be checked; retry"));
            }
        };
        if let Some(missing) = settings.identity_check.required().iter().find(|k| !kept.iter().any(|r| r.kind == **k)) {
            return reject(Rejection::new(
                RejectReason::IdentityRequired,
                format!("send your {} photo first", missing.as_str()),
            ));
        }
        if let Err(r) = self.change_session(&sess.rt, &sess.cell, Change::IdentitySubmit, "student", None).await {
            return reject(r);
        }
        if settings.identity_auto_approve
            && let Err(r) = self.change_session(&sess.rt, &sess.cell, Change::IdentityApprove, "server", None).await
        {
            // A proctor decided first (or the store failed): the queue has it.
            tracing::warn!(student = %sess.cell.id(), reason = r.reason.as_str(), "automatic identity approval not applied");
        }
        RequestAck::Ok
    }

    /// A student's identity photos, for a proctor of their exam.
    pub async fn identity_photos(
        &self,
        sess: &ProctorSession,
        student: &StudentId,
    ) -> Result<IdentityPhotos, Rejection> {
        let cell = self.on_roster(&sess.rt, student).await?;
        let rows = self.store.identity_photos(sess.rt.id(), cell.id()).await.map_err(|e| {
            tracing::error!(error = %e, "reading identity photos failed");
            unavailable("the photos could not be read; retry")
        })?;
        Ok(IdentityPhotos { photos: rows.iter().map(photo_of).collect() })
    }

    /// One identity photo's JPEG, for a proctor of the student's exam.
    pub async fn identity_photo_bytes(
        &self,
        sess: &ProctorSession,
        student: &StudentId,
        kind: IdentityPhotoKind,
    ) -> Result<Bytes, Rejection> {
        let cell = self.on_roster(&sess.rt, student).await?;
        let not_found =
            || Rejection::new(RejectReason::IdentityRequired, format!("{student} has sent no {} photo", kind.as_str()));
        let row = self
            .store
            .identity_photo(sess.rt.id(), cell.id(), kind)
            .await
            .map_err(|_| unavailable("the photo could not be read; retry"))?
            .ok_or_else(not_found)?;
        self.store.identity_photo_bytes(&row).await.map_err(|_| not_found())
    }

    /// Deletes identity photos past their exam's retention.
    pub async fn purge_expired_identity(&self) -> Result<usize, vigil_store::StoreError> {
        self.store.purge_expired_identity(self.clock.now_ms()).await
    }
}
