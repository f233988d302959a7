//! Live video: who may publish and watch what, and the SFU's own
//! observations fed into the incident pipeline.
//!
//! Authorisation lives here, not in the SFU: a student may only publish
//! their own camera; a proctor may only watch students of their own exam.
//! Peers are keyed by the service's own ids (exam and student for a
//! publication, the connection for a proctor), never by a transport's.

use std::sync::Arc;

use metrics::counter;
use tokio::sync::broadcast;
use vigil_proto::events::{IceCandidate, RtcAck, SessionDescription, SlotUpdate, UnwatchRequest, WatchRequest};
use vigil_proto::{PrivacyTier, RejectReason, Rejection};
use vigil_sfu::{PeerId, PublishOptions, PublisherId, SfuError, SfuEvent, SubscriberId};

use super::{ProctorSession, Service, StudentSession, lock, unavailable};

/// How a failed SFU call reads to the client. `UnknownPeer` depends on who
/// asked: for a watch it is the proctor's own subscription that is missing.
fn rejection(e: &SfuError, missing_peer: RejectReason) -> Rejection {
    let reason = match e {
        SfuError::BadSdp(_)
        | SfuError::OfferRejected(_)
        | SfuError::BadCandidate(_)
        | SfuError::NoSuchSlot { .. }
        | SfuError::OfferTooLarge { .. }
        | SfuError::TooManyMLines { .. }
        | SfuError::TooManyCandidates { .. } => RejectReason::InvalidPayload,
        SfuError::UnknownPeer => missing_peer,
        _ => RejectReason::Unavailable,
    };
    let message = match (e, reason) {
        (SfuError::UnknownPeer, RejectReason::NotSubscribed) => {
            "call rtc_subscribe and wait for its answer before watching".to_owned()
        }
        (SfuError::UnknownPeer, _) => "no live video session for this connection".to_owned(),
        _ => e.to_string(),
    };
    let mut r = Rejection::new(reason, message);
    if matches!(e, SfuError::Busy) {
        // The SFU's command queue is full: a moment later it will not be.
        r.retry_after_ms = Some(250);
    }
    r
}

fn video_off() -> Rejection {
    Rejection::new(RejectReason::Unavailable, "live video is not enabled on this server")
}

fn publisher(sess: &StudentSession) -> PublisherId {
    PublisherId { exam: sess.rt.id().clone(), student: sess.cell.id().clone() }
}

fn subscriber(sess: &ProctorSession) -> SubscriberId {
    SubscriberId::new(sess.rt.id().clone(), sess.conn.to_string())
}

impl Service {
    /// A student's `rtc_publish`: the answer to their camera offer. A new
    /// publication replaces the previous one (a reload, an ICE restart).
    pub async fn publish(&self, sess: &StudentSession, offer: SessionDescription) -> RtcAck {
        let Some(sfu) = self.sfu.as_ref() else { return RtcAck::Rejected { rejection: video_off() } };
        if let Err(rejection) = self.admit_signalling(sess) {
            return RtcAck::Rejected { rejection };
        }
        // The microphone reaches the proctors only in an exam that turned it
        // on (the students consented to it); otherwise the SFU drops it.
        let options = PublishOptions { audio: sess.rt.exam().settings.microphone };
        match sfu.publish(publisher(sess), offer.sdp, options).await {
            Ok(sdp) => {
                *lock(&sess.cell.publishing) = Some(sess.conn);
                if sess.rt.exam().settings.privacy == PrivacyTier::Recording
                    && let Err(e) = sfu.record(publisher(sess)).await
                {
                    // The student agreed to be recorded; live proctoring
                    // goes on without it, and the operator is told.
                    counter!("vigil_recording_not_started_total").increment(1);
                    tracing::warn!(exam = %sess.rt.id(), error = %e, "a recording could not start");
                }
                RtcAck::Answer { sdp }
            }
            Err(e) => RtcAck::Rejected { rejection: rejection(&e, RejectReason::NotPublishing) },
        }
    }

    /// A trickled candidate from a student. Fire and forget: a refused one
    /// is logged, not answered.
    pub async fn student_candidate(&self, sess: &StudentSession, candidate: IceCandidate) {
        let Some(sfu) = self.sfu.as_ref() else { return };
        if self.admit_signalling(sess).is_err() {
            return;
        }
        if let Err(e) = sfu.add_candidate(PeerId::Publisher(publisher(sess)), candidate).await {
            tracing::debug!(error = %e, "student candidate refused");
        }
    }

    /// Whether a student may have what only a proctored student gets (the
    /// LTI hand-back, the access code): within their signalling budget, and,
    /// when the server runs video, with their camera publishing from a live
    /// connection. The page's own checks (system check, consent) came first;
    /// this is the part the server can see.
    pub fn admit_proctored_request(&self, sess: &StudentSession) -> Result<(), Rejection> {
        self.admit_signalling(sess)?;
        if self.sfu.is_some() && lock(&sess.cell.publishing).is_none() {
            return Err(Rejection::new(
                RejectReason::NotPublishing,
                "your camera is not being proctored yet: allow the camera, wait for it to connect, then try again",
            ));
        }
        Ok(())
    }

    /// The exam's access code for a student whose camera is proctored (when
    /// the server runs video), within their signalling budget.
    pub async fn access_code(&self, sess: &StudentSession) -> Result<String, Rejection> {
        self.admit_proctored_request(sess)?;
        match self.store.access_code(sess.rt.id()).await {
            Ok(Some(code)) => Ok(code),
            Ok(None) => Err(Rejection::new(RejectReason::NoAccessCode, "this exam has no access code")),
            Err(e) => {
                tracing::error!(error = %e, "could not read an access code");
                Err(unavailable("the access code could not be read; retry"))
            }
        }
    }

    /// One student's WebRTC signalling is rate-limited before it reaches the
    /// SFU thread, whose command queue all students share.
    fn admit_signalling(&self, sess: &StudentSession) -> Result<(), Rejection> {
        lock(&sess.cell.live).signalling_bucket.try_take(self.clock.now_ms()).map_err(|wait| {
            metrics::counter!(crate::metrics::SIGNALLING_DROPPED).increment(1);
            Rejection {
                reason: RejectReason::RateLimited,
                message: "too much WebRTC signalling; retry later".into(),
                retry_after_ms: Some(wait),
            }
        })
    }

    /// A student connection closed: stop its publication if it was the one
    /// publishing (a reconnect that already re-published has taken over).
    pub(super) async fn stop_publishing(&self, sess: &StudentSession) {
        let was_publisher = {
            let mut p = lock(&sess.cell.publishing);
            let mine = *p == Some(sess.conn);
            if mine {
                *p = None;
            }
            mine
        };
        if was_publisher && let Some(sfu) = self.sfu.as_ref() {
            let _ = sfu.close(PeerId::Publisher(publisher(sess))).await;
        }
    }

    /// A proctor's `rtc_subscribe`: a receive-only session with bounded slots.
    pub async fn subscribe(&self, sess: &ProctorSession, offer: SessionDescription) -> RtcAck {
        let Some(sfu) = self.sfu.as_ref() else { return RtcAck::Rejected { rejection: video_off() } };
        match sfu.subscribe(subscriber(sess), offer.sdp).await {
            Ok((sdp, _mids)) => RtcAck::Answer { sdp },
            Err(e) => RtcAck::Rejected { rejection: rejection(&e, RejectReason::NotSubscribed) },
        }
    }

    pub async fn proctor_candidate(&self, sess: &ProctorSession, candidate: IceCandidate) {
        let Some(sfu) = self.sfu.as_ref() else { return };
        if let Err(e) = sfu.add_candidate(PeerId::Subscriber(subscriber(sess)), candidate).await {
            tracing::debug!(error = %e, "proctor candidate refused");
        }
    }

    /// A proctor's `watch`: binds a slot to a student of their own exam. The
    /// slot is bound whether or not the student publishes right now; video
    /// starts at the student's next keyframe once they do.
    pub async fn watch(&self, sess: &ProctorSession, req: WatchRequest) -> Result<SlotUpdate, Rejection> {
        let sfu = self.sfu.as_ref().ok_or_else(video_off)?;
        self.on_roster(&sess.rt, &req.student_id).await?;
        let source = PublisherId { exam: sess.rt.id().clone(), student: req.student_id };
        sfu.watch(subscriber(sess), req.slot, source, req.quality)
            .await
            .map_err(|e| rejection(&e, RejectReason::NotSubscribed))
    }

    pub async fn unwatch(&self, sess: &ProctorSession, req: UnwatchRequest) -> Result<SlotUpdate, Rejection> {
        let sfu = self.sfu.as_ref().ok_or_else(video_off)?;
        sfu.unwatch(subscriber(sess), req.slot).await.map_err(|e| rejection(&e, RejectReason::NotSubscribed))
    }

    pub(super) async fn stop_subscription(&self, sess: &ProctorSession) {
        if let Some(sfu) = self.sfu.as_ref() {
            let _ = sfu.close(PeerId::Subscriber(subscriber(sess))).await;
        }
    }

    /// Raises what the SFU observes (video stopped, frame rate collapsed,
    /// keyframes missing) as server incidents: the client cannot hide them.
    /// Runs until the SFU stops.
    pub async fn run_media_health(self: Arc<Self>, mut events: broadcast::Receiver<SfuEvent>) {
        loop {
            match events.recv().await {
                Ok(SfuEvent::MediaHealth { publisher, kind, at, detail }) => {
                    let Ok(Some(rt)) = self.exams.get(&publisher.exam).await else { continue };
                    let Some(cell) = rt.cached_student(&publisher.student) else { continue };
                    self.raise_server_incident(&rt, &cell, kind, at, Some(detail)).await;
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "media-health events were dropped: the pipeline fell behind");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}
