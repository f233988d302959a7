//! WebRTC signalling over the Socket.IO namespaces, and the SFU's own
//! observations fed into the incident pipeline.
//!
//! Authorisation lives here, not in the SFU: a student may only publish
//! their own camera; a proctor may only watch students of their own exam;
//! nobody on `/student` can subscribe to anything.

use std::sync::Arc;

use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::socket::Sid;
use tokio::sync::broadcast;
use vigil_proto::events::{IceCandidate, RequestAck, RtcAck, SessionDescription, UnwatchRequest, WatchRequest, names};
use vigil_proto::{RejectReason, Rejection};
use vigil_sfu::{PeerId, PublisherId, SfuError, SfuEvent, SubscriberId};

use crate::App;
use crate::exams::{ExamRuntime, StudentCell, lock};
use crate::ingest;

fn rejection(e: &SfuError) -> Rejection {
    let reason = match e {
        SfuError::BadSdp(_) | SfuError::OfferRejected(_) | SfuError::BadCandidate(_) | SfuError::NoSuchSlot { .. } => {
            RejectReason::InvalidPayload
        }
        SfuError::UnknownPeer => RejectReason::NotPublishing,
        _ => RejectReason::Unavailable,
    };
    Rejection::new(reason, e.to_string())
}

fn invalid(e: &socketioxide::ParserError) -> Rejection {
    Rejection::new(RejectReason::InvalidPayload, format!("payload does not match the schema: {e}"))
}

fn unavailable() -> Rejection {
    Rejection::new(RejectReason::Unavailable, "live video is not enabled on this server")
}

fn publisher(rt: &ExamRuntime, cell: &StudentCell) -> PublisherId {
    PublisherId { exam: rt.id().to_owned(), student: cell.person.id.clone() }
}

/// `/student`: publish the camera; trickle candidates; refuse any watching.
pub fn register_student(s: &SocketRef) {
    s.on(
        names::RTC_PUBLISH,
        async |s: SocketRef,
               State(app): State<App>,
               Extension(sess): Extension<crate::sockets::StudentSession>,
               TryData(offer): TryData<SessionDescription>,
               ack: AckSender| {
            let reply = match (offer, app.sfu.as_ref()) {
                (Err(e), _) => RtcAck::Rejected { rejection: invalid(&e) },
                (_, None) => RtcAck::Rejected { rejection: unavailable() },
                (Ok(offer), Some(sfu)) => match sfu.publish(publisher(&sess.rt, &sess.cell), offer.sdp).await {
                    Ok(sdp) => {
                        *lock(&sess.cell.publishing_socket) = Some(s.id);
                        RtcAck::Answer { sdp }
                    }
                    Err(e) => RtcAck::Rejected { rejection: rejection(&e) },
                },
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::RTC_CANDIDATE,
        async |State(app): State<App>,
               Extension(sess): Extension<crate::sockets::StudentSession>,
               TryData(c): TryData<IceCandidate>| {
            if let (Ok(c), Some(sfu)) = (c, app.sfu.as_ref()) {
                let peer = PeerId::Publisher(publisher(&sess.rt, &sess.cell));
                if let Err(e) = sfu.add_candidate(peer, c).await {
                    tracing::debug!(error = %e, "student candidate refused");
                }
            }
        },
    );
    for event in [names::RTC_SUBSCRIBE, names::WATCH, names::UNWATCH] {
        s.on(event, async |ack: AckSender| {
            let rejection = Rejection::new(RejectReason::Forbidden, "students cannot watch anyone");
            let _ = ack.send(&RequestAck::Rejected { rejection });
        });
    }
}

/// A student socket closed: stop its publication if it was the one publishing
/// (a reconnect that already re-published has taken over).
pub async fn student_disconnected(app: &App, rt: &ExamRuntime, cell: &StudentCell, sid: Sid) {
    let was_publisher = {
        let mut p = lock(&cell.publishing_socket);
        let mine = *p == Some(sid);
        if mine {
            *p = None;
        }
        mine
    };
    if was_publisher && let Some(sfu) = app.sfu.as_ref() {
        let _ = sfu.close(PeerId::Publisher(publisher(rt, cell))).await;
    }
}

fn subscriber(s: &SocketRef) -> SubscriberId {
    SubscriberId(s.id.to_string())
}

/// `/proctor`: a receive-only session with bounded slots, and watch/unwatch.
pub fn register_proctor(s: &SocketRef) {
    s.on(
        names::RTC_SUBSCRIBE,
        async |s: SocketRef, State(app): State<App>, TryData(offer): TryData<SessionDescription>, ack: AckSender| {
            let reply = match (offer, app.sfu.as_ref()) {
                (Err(e), _) => RtcAck::Rejected { rejection: invalid(&e) },
                (_, None) => RtcAck::Rejected { rejection: unavailable() },
                (Ok(offer), Some(sfu)) => match sfu.subscribe(subscriber(&s), offer.sdp).await {
                    Ok((sdp, _mids)) => RtcAck::Answer { sdp },
                    Err(e) => RtcAck::Rejected { rejection: rejection(&e) },
                },
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(names::RTC_CANDIDATE, async |s: SocketRef, State(app): State<App>, TryData(c): TryData<IceCandidate>| {
        if let (Ok(c), Some(sfu)) = (c, app.sfu.as_ref())
            && let Err(e) = sfu.add_candidate(PeerId::Subscriber(subscriber(&s)), c).await
        {
            tracing::debug!(error = %e, "proctor candidate refused");
        }
    });
    s.on(
        names::WATCH,
        async |s: SocketRef,
               State(app): State<App>,
               Extension(sess): Extension<crate::sockets::ProctorSession>,
               TryData(req): TryData<WatchRequest>,
               ack: AckSender| {
            let reply = match req {
                Err(e) => RequestAck::Rejected { rejection: invalid(&e) },
                Ok(req) => watch(&app, &s, &sess.rt, req).await,
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::UNWATCH,
        async |s: SocketRef, State(app): State<App>, TryData(req): TryData<UnwatchRequest>, ack: AckSender| {
            let reply = match (req, app.sfu.as_ref()) {
                (Err(e), _) => RequestAck::Rejected { rejection: invalid(&e) },
                (_, None) => RequestAck::Rejected { rejection: unavailable() },
                (Ok(req), Some(sfu)) => match sfu.unwatch(subscriber(&s), req.slot).await {
                    Ok(update) => {
                        let _ = s.emit(names::SLOT, &update);
                        RequestAck::Ok
                    }
                    Err(e) => RequestAck::Rejected { rejection: rejection(&e) },
                },
            };
            let _ = ack.send(&reply);
        },
    );
}

async fn watch(app: &App, s: &SocketRef, rt: &Arc<ExamRuntime>, req: WatchRequest) -> RequestAck {
    let reject = |reason, msg: String| RequestAck::Rejected { rejection: Rejection::new(reason, msg) };
    let Some(sfu) = app.sfu.as_ref() else { return RequestAck::Rejected { rejection: unavailable() } };
    // Only students of this proctor's own exam.
    match app.exams.student(rt, &req.student_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return reject(RejectReason::UnknownStudent, format!("{} is not on this exam", req.student_id)),
        Err(_) => return reject(RejectReason::Unavailable, "retry".into()),
    }
    let publisher = PublisherId { exam: rt.id().to_owned(), student: req.student_id.clone() };
    match sfu.watch(subscriber(s), req.slot, publisher, req.quality).await {
        Ok(update) => {
            let _ = s.emit(names::SLOT, &update);
            RequestAck::Ok
        }
        Err(e) => RequestAck::Rejected { rejection: rejection(&e) },
    }
}

pub async fn proctor_disconnected(app: &App, sid: Sid) {
    if let Some(sfu) = app.sfu.as_ref() {
        let _ = sfu.close(PeerId::Subscriber(SubscriberId(sid.to_string()))).await;
    }
}

/// Raises what the SFU observes (video stopped, frame rate collapsed,
/// keyframes missing) as server incidents: the client cannot hide them.
pub async fn run_health(app: App, mut events: broadcast::Receiver<SfuEvent>) {
    loop {
        match events.recv().await {
            Ok(SfuEvent::MediaHealth { publisher, kind, at, detail }) => {
                let Ok(Some(rt)) = app.exams.get(&publisher.exam).await else { continue };
                let Some(cell) = rt.cached_student(&publisher.student) else { continue };
                let id = format!("srv-{}-{at}", kind.as_str());
                ingest::server_incident(&app, &rt, &cell, id, kind, at, Some(detail)).await;
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "media-health events were dropped: the pipeline fell behind");
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}
