//! The two Socket.IO namespaces. Handshakes are authenticated in connect
//! middleware, before the socket joins anything: a refused client gets a
//! `connect_error` whose message starts with the machine-readable reason
//! (`expired_token: ...`). Each handler parses its payload, calls the
//! service and sends back what it answers.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts};
use socketioxide::socket::Socket;
use tokio::sync::watch;
use vigil_proto::events::{
    ActionRequest, ChatAck, ChatHistory, ChatSend, ChatSync, HandshakeAuth, Heartbeat, IceCandidate, IncidentAck,
    ProctorChatSend, RequestAck, RtcAck, SessionDescription, Signals, SlotUpdate, UnwatchRequest, WatchRequest, names,
};
use vigil_proto::{IncidentId, RejectReason, Rejection};

use vigil_core::session::Change;

use super::sio_fanout::{connection_room, exam_room, exam_students_room, student_room};
use crate::service::ingest::rejected;
use crate::service::{ProctorSession, Service, StudentSession, count_refused_connect};

type Svc = State<Arc<Service>>;

/// A refused handshake; its text is what the client's `connect_error` shows.
#[derive(Debug)]
pub struct ConnectRefused(pub Rejection);

impl std::fmt::Display for ConnectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.reason.as_str(), self.0.message)
    }
}

impl std::error::Error for ConnectRefused {}

fn refused(r: Rejection) -> ConnectRefused {
    count_refused_connect(&r);
    ConnectRefused(r)
}

fn invalid(e: &socketioxide::ParserError) -> Rejection {
    Rejection::new(RejectReason::InvalidPayload, format!("payload does not match the schema: {e}"))
}

/// Parses an `incident` or `incident_end`. A refusal names the message's id
/// whenever it has one in the id grammar, even if another field is wrong.
fn parse_incident_message<T: serde::de::DeserializeOwned>(
    raw: Result<serde_json::Value, socketioxide::ParserError>,
) -> Result<T, IncidentAck> {
    let raw = raw.map_err(|e| rejected(None, invalid(&e)))?;
    let id = raw.get("id").and_then(|v| v.as_str()).and_then(|s| s.parse::<IncidentId>().ok());
    serde_json::from_value(raw).map_err(|e| {
        rejected(id, Rejection::new(RejectReason::InvalidPayload, format!("payload does not match the schema: {e}")))
    })
}

pub fn register(io: &SocketIo) {
    io.ns(names::STUDENT_NS, student_connected.with(student_handshake));
    io.ns(names::PROCTOR_NS, proctor_connected.with(proctor_handshake));
}

/// Arrival order of one socket's `incident` and `incident_end` messages.
///
/// socketioxide runs every event's handler as a task of its own, and Tokio
/// may start the newest task first, so two incidents of one student could
/// reach the ledger in either order: the later one then pushes the earlier
/// out of the anti-replay window, or uses up the rate-limit burst. Ticket
/// numbers are taken by an extractor, which socketioxide runs synchronously
/// in arrival order; handlers then wait for their turn.
///
/// Each queue `Q` is ordered on its own: incidents wait for the store, and
/// signals and heartbeats must not wait behind them.
#[derive(Debug)]
struct Arrivals<Q> {
    issued: AtomicU64,
    served: watch::Sender<u64>,
    queue: PhantomData<fn() -> Q>,
}

impl<Q> Default for Arrivals<Q> {
    fn default() -> Self {
        Arrivals { issued: AtomicU64::new(0), served: watch::Sender::new(0), queue: PhantomData }
    }
}

/// The queue of `incident` and `incident_end`.
struct IncidentQueue;
/// The queue of `signals` and `heartbeat`.
struct SignalQueue;

/// A handler's place in its socket's arrival order (see [`Arrivals`]). Put
/// it last among the extractors, so no extractor can fail after it took a
/// ticket; if the handler panics, dropping the turn still lets the next go.
struct InOrder<Q> {
    arrivals: Option<Arc<Arrivals<Q>>>,
    ticket: u64,
}

impl<A: Adapter, Q: 'static> FromMessageParts<A> for InOrder<Q> {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket<A>>,
        _: &mut socketioxide::handler::Value,
        _: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let arrivals = s.extensions.get::<Arc<Arrivals<Q>>>();
        let ticket = arrivals.as_ref().map_or(0, |a| a.issued.fetch_add(1, Ordering::Relaxed));
        Ok(InOrder { arrivals, ticket })
    }
}

impl<Q> InOrder<Q> {
    /// Resolves when every message that arrived before this one is done.
    async fn turn(self) -> Turn<Q> {
        if let Some(a) = &self.arrivals {
            let mut rx = a.served.subscribe();
            // The sender lives in `a`, which we hold: the wait cannot fail.
            let _ = rx.wait_for(|served| *served >= self.ticket).await;
        }
        Turn(self)
    }
}

/// Held while a message is processed; lets the next one go when dropped.
struct Turn<Q>(InOrder<Q>);

impl<Q> Drop for Turn<Q> {
    fn drop(&mut self) {
        if let Some(a) = &self.0.arrivals {
            let next = self.0.ticket + 1;
            a.served.send_modify(|served| *served = (*served).max(next));
        }
    }
}

fn token(auth: &Result<HandshakeAuth, socketioxide::ParserError>) -> Option<&str> {
    auth.as_ref().ok().map(|a| a.token.as_str())
}

/// Every handshake first spends from its client address's budget, before
/// any token is read.
fn admit_address(s: &SocketRef, svc: &Service) -> Result<(), ConnectRefused> {
    let parts = s.req_parts();
    svc.admit_handshake_from(super::client_address(&parts.extensions, &parts.headers, svc.trusted_proxies()))
        .map_err(refused)
}

// ---------------------------------------------------------------- students

async fn student_handshake(
    s: SocketRef,
    State(svc): Svc,
    TryData(auth): TryData<HandshakeAuth>,
) -> Result<(), ConnectRefused> {
    admit_address(&s, &svc)?;
    let sess = svc.authenticate_live_student(token(&auth)).await.map_err(refused)?;
    svc.admit_student_connection(&sess).map_err(refused)?;
    // Everything the connection needs is in place before this middleware
    // returns: socketioxide sends the CONNECT packet right after it and
    // runs the connect handler as a task of its own, so a client that emits
    // at once would otherwise race the handlers' registration.
    s.join(student_room(sess.rt.id(), sess.cell.id()));
    s.join(exam_students_room(sess.rt.id()));
    s.join(connection_room(sess.conn));
    s.extensions.insert(sess);
    s.extensions.insert(Arc::new(Arrivals::<IncidentQueue>::default()));
    s.extensions.insert(Arc::new(Arrivals::<SignalQueue>::default()));
    register_student_events(&s);
    Ok(())
}

async fn student_connected(s: SocketRef, State(svc): Svc, Extension(sess): Extension<StudentSession>) {
    let welcome = svc.student_connected(&sess).await;
    let _ = s.emit(names::WELCOME, &welcome);
}

fn register_student_events(s: &SocketRef) {
    s.on(
        names::INCIDENT,
        async |State(svc): Svc,
               Extension(sess): Extension<StudentSession>,
               TryData(r): TryData<serde_json::Value>,
               ack: AckSender,
               order: InOrder<IncidentQueue>| {
            let _turn = order.turn().await;
            let reply = match parse_incident_message(r) {
                Ok(report) => svc.report_incident(&sess, report).await,
                Err(refusal) => refusal,
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::INCIDENT_END,
        async |State(svc): Svc,
               Extension(sess): Extension<StudentSession>,
               TryData(r): TryData<serde_json::Value>,
               ack: AckSender,
               order: InOrder<IncidentQueue>| {
            let _turn = order.turn().await;
            let reply: IncidentAck = match parse_incident_message(r) {
                Ok(end) => svc.end_incident(&sess, end).await,
                Err(refusal) => refusal,
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::SIGNALS,
        async |State(svc): Svc,
               Extension(sess): Extension<StudentSession>,
               TryData(sig): TryData<Signals>,
               order: InOrder<SignalQueue>| {
            let _turn = order.turn().await;
            match sig {
                Ok(sig) => svc.signals(&sess, sig).await,
                Err(_) => metrics::counter!(crate::metrics::SIGNALS_DROPPED).increment(1),
            }
        },
    );
    s.on(
        names::HEARTBEAT,
        async |State(svc): Svc,
               Extension(sess): Extension<StudentSession>,
               TryData(hb): TryData<Heartbeat>,
               order: InOrder<SignalQueue>| {
            let _turn = order.turn().await;
            match hb {
                Ok(hb) => svc.heartbeat(&sess, hb).await,
                Err(_) => metrics::counter!(crate::metrics::SIGNALS_DROPPED).increment(1),
            }
        },
    );
    // A session's own changes: each applies at most once (start once, hand
    // in once), and a repeat is refused by the state machine before any
    // write, so they need no budget of their own.
    s.on(names::START, async |State(svc): Svc, Extension(sess): Extension<StudentSession>, ack: AckSender| {
        let _ = ack.send(&svc.student_session(&sess, Change::Start).await);
    });
    s.on(names::SUBMIT, async |State(svc): Svc, Extension(sess): Extension<StudentSession>, ack: AckSender| {
        let _ = ack.send(&svc.student_session(&sess, Change::Submit).await);
    });
    s.on(names::BREAK_START, async |State(svc): Svc, Extension(sess): Extension<StudentSession>, ack: AckSender| {
        let _ = ack.send(&svc.student_session(&sess, Change::BreakStart).await);
    });
    s.on(names::BREAK_END, async |State(svc): Svc, Extension(sess): Extension<StudentSession>, ack: AckSender| {
        let _ = ack.send(&svc.student_session(&sess, Change::BreakEnd).await);
    });
    s.on(
        names::IDENTITY_SUBMIT,
        async |State(svc): Svc, Extension(sess): Extension<StudentSession>, ack: AckSender| {
            let _ = ack.send(&svc.identity_submit(&sess).await);
        },
    );
    s.on(
        names::CHAT,
        async |State(svc): Svc,
               Extension(sess): Extension<StudentSession>,
               TryData(msg): TryData<ChatSend>,
               ack: AckSender| {
            let reply = match msg {
                Ok(msg) => svc.student_chat(&sess, msg).await,
                Err(e) => ChatAck::Rejected { rejection: invalid(&e) },
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::CHAT_SYNC,
        async |State(svc): Svc,
               Extension(sess): Extension<StudentSession>,
               TryData(req): TryData<ChatSync>,
               ack: AckSender| {
            // A malformed ask reads from the beginning: the page merges by number.
            let req = req.unwrap_or(ChatSync { after: 0 });
            let reply: ChatHistory = svc.student_chat_sync(&sess, req).await;
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::RTC_PUBLISH,
        async |State(svc): Svc,
               Extension(sess): Extension<StudentSession>,
               TryData(offer): TryData<SessionDescription>,
               ack: AckSender| {
            let reply = match offer {
                Ok(offer) => svc.publish(&sess, offer).await,
                Err(e) => RtcAck::Rejected { rejection: invalid(&e) },
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::RTC_CANDIDATE,
        async |State(svc): Svc, Extension(sess): Extension<StudentSession>, TryData(c): TryData<IceCandidate>| {
            if let Ok(c) = c {
                svc.student_candidate(&sess, c).await;
            }
        },
    );
    for event in [names::RTC_SUBSCRIBE, names::WATCH, names::UNWATCH] {
        s.on(event, async |ack: AckSender| {
            let rejection = Rejection::new(RejectReason::Forbidden, "students cannot watch anyone");
            let _ = ack.send(&RequestAck::Rejected { rejection });
        });
    }
    s.on_disconnect(async |State(svc): Svc, Extension(sess): Extension<StudentSession>| {
        svc.student_disconnected(&sess).await;
    });
}

// ---------------------------------------------------------------- proctors

async fn proctor_handshake(
    s: SocketRef,
    State(svc): Svc,
    TryData(auth): TryData<HandshakeAuth>,
) -> Result<(), ConnectRefused> {
    admit_address(&s, &svc)?;
    let sess = svc.authenticate_proctor(token(&auth)).await.map_err(refused)?;
    // As for students: ready before the CONNECT packet leaves.
    s.join(exam_room(sess.rt.id()));
    s.extensions.insert(sess);
    register_proctor_events(&s);
    Ok(())
}

fn answer_slot(s: &SocketRef, res: Result<SlotUpdate, Rejection>) -> RequestAck {
    match res {
        Ok(update) => {
            let _ = s.emit(names::SLOT, &update);
            RequestAck::Ok
        }
        Err(rejection) => RequestAck::Rejected { rejection },
    }
}

async fn proctor_connected(State(svc): Svc, Extension(sess): Extension<ProctorSession>) {
    svc.proctor_connected(&sess);
}

fn register_proctor_events(s: &SocketRef) {
    s.on(names::SNAPSHOT, async |State(svc): Svc, Extension(sess): Extension<ProctorSession>, ack: AckSender| {
        let _ = ack.send(&svc.snapshot(&sess));
    });
    s.on(
        names::ACTION,
        async |State(svc): Svc,
               Extension(sess): Extension<ProctorSession>,
               TryData(req): TryData<ActionRequest>,
               ack: AckSender| {
            let reply = match req {
                Ok(req) => svc.act(&sess, req).await,
                Err(e) => RequestAck::Rejected { rejection: invalid(&e) },
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::CHAT,
        async |State(svc): Svc,
               Extension(sess): Extension<ProctorSession>,
               TryData(msg): TryData<ProctorChatSend>,
               ack: AckSender| {
            let reply = match msg {
                Ok(msg) => svc.proctor_chat(&sess, msg).await,
                Err(e) => ChatAck::Rejected { rejection: invalid(&e) },
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::RTC_SUBSCRIBE,
        async |State(svc): Svc,
               Extension(sess): Extension<ProctorSession>,
               TryData(offer): TryData<SessionDescription>,
               ack: AckSender| {
            let reply = match offer {
                Ok(offer) => svc.subscribe(&sess, offer).await,
                Err(e) => RtcAck::Rejected { rejection: invalid(&e) },
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::RTC_CANDIDATE,
        async |State(svc): Svc, Extension(sess): Extension<ProctorSession>, TryData(c): TryData<IceCandidate>| {
            if let Ok(c) = c {
                svc.proctor_candidate(&sess, c).await;
            }
        },
    );
    s.on(
        names::WATCH,
        async |s: SocketRef,
               State(svc): Svc,
               Extension(sess): Extension<ProctorSession>,
               TryData(req): TryData<WatchRequest>,
               ack: AckSender| {
            let reply = match req {
                Ok(req) => answer_slot(&s, svc.watch(&sess, req).await),
                Err(e) => RequestAck::Rejected { rejection: invalid(&e) },
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::UNWATCH,
        async |s: SocketRef,
               State(svc): Svc,
               Extension(sess): Extension<ProctorSession>,
               TryData(req): TryData<UnwatchRequest>,
               ack: AckSender| {
            let reply = match req {
                Ok(req) => answer_slot(&s, svc.unwatch(&sess, req).await),
                Err(e) => RequestAck::Rejected { rejection: invalid(&e) },
            };
            let _ = ack.send(&reply);
        },
    );
    s.on_disconnect(async |State(svc): Svc, Extension(sess): Extension<ProctorSession>| {
        svc.proctor_disconnected(&sess).await;
    });
}
