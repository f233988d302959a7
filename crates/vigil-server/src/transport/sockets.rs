//! The two Socket.IO namespaces. Handshakes are authenticated in connect
//! middleware, before the socket joins anything: a refused client gets a
//! `connect_error` whose message starts with the machine-readable reason
//! (`expired_token: ...`). Each handler parses its payload, calls the
//! service and sends back what it answers.
//!
//! In a cluster, a socket whose exam another node holds is relayed: this
//! node keeps the socket, its ordering and its rooms; the holder runs the
//! very same [`student_event`] / [`proctor_event`] on its own session (see
//! `transport::relay`), and its emits reach the socket through the rooms,
//! which the Redis adapter spans across nodes.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts};
use socketioxide::socket::Socket;
use socketioxide_core::adapter::DefinedAdapter;
use tokio::sync::watch;
use vigil_core::placement::NodeId;
use vigil_proto::events::{HandshakeAuth, names};
use vigil_proto::{ExamId, Rejection, Role};

use super::dispatch::{
    PROCTOR_EVENTS, ProctorAnswer, STUDENT_INCIDENT_EVENTS, STUDENT_OTHER_EVENTS, STUDENT_SIGNAL_EVENTS, proctor_event,
    student_event,
};
use super::relay::{Relay, RelayReply, RelayRequest};
use super::sio_fanout::{connection_room, exam_room, exam_students_room, student_room};
use crate::service::placement::Route;
use crate::service::{ConnectionId, ProctorSession, Service, StudentSession, count_refused_connect, unavailable};

type Svc = State<Arc<Service>>;

/// The relay to other nodes; `None` when this node runs alone.
#[derive(Debug, Clone, Default)]
pub struct Relays(pub Option<Arc<Relay>>);

type RelayState = State<Relays>;

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

/// Registers both namespaces. Each answers its adapter's start-up (for
/// the Redis adapter, subscribing to the cluster's channels), which the
/// caller awaits before serving.
pub fn register<A: Adapter + DefinedAdapter>(io: &SocketIo<A>) -> [A::InitRes; 2] {
    [
        io.ns(names::STUDENT_NS, student_connected::<A>.with(student_handshake::<A>)),
        io.ns(names::PROCTOR_NS, proctor_connected::<A>.with(proctor_handshake::<A>)),
    ]
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
fn admit_address<A: Adapter>(s: &SocketRef<A>, svc: &Service) -> Result<(), ConnectRefused> {
    let parts = s.req_parts();
    svc.admit_handshake_from(super::client_address(&parts.extensions, &parts.headers, svc.trusted_proxies()))
        .map_err(refused)
}

/// A socket whose exam another node holds.
#[derive(Debug, Clone)]
struct Relayed {
    node: NodeId,
    conn: ConnectionId,
    exam: ExamId,
}

/// A student socket: served here, or relayed to the exam's node.
#[derive(Debug, Clone)]
enum StudentLink {
    Here(StudentSession),
    There(Relayed),
}

/// A proctor socket: served here, or relayed to the exam's node.
#[derive(Debug, Clone)]
enum ProctorLink {
    Here(ProctorSession),
    There(Relayed),
}

/// Where a handshake goes: its token says the exam, the placement says the node.
async fn route(svc: &Service, token: Option<&str>, role: Role) -> Result<Route, ConnectRefused> {
    if svc.cluster().is_none() {
        // Alone: no need to read the token twice.
        return Ok(Route::Here);
    }
    let exam = svc.token_exam(token, role).map_err(refused)?;
    svc.route(&exam).await.map_err(refused)
}

fn relay_of(relays: &Relays) -> Result<&Arc<Relay>, ConnectRefused> {
    relays.0.as_ref().ok_or_else(|| refused(unavailable("this exam is held by another server, and no relay is set up")))
}

/// Sends one message of a relayed socket; a failure closes the socket (its
/// client reconnects and is routed afresh).
async fn relayed_event<A: Adapter>(
    s: &SocketRef<A>,
    svc: &Service,
    relays: &Relays,
    r: &Relayed,
    event: &str,
    data: Value,
) -> ProctorAnswer {
    let req = RelayRequest::Event { conn: r.conn.raw(), event: event.to_owned(), data };
    let reply = match &relays.0 {
        Some(relay) => relay.call(&r.node, req).await.ok(),
        None => None,
    };
    match reply {
        Some(RelayReply::Answer(answer)) => answer,
        _ => {
            svc.forget_route(&r.exam);
            let _ = s.clone().disconnect();
            ProctorAnswer::default()
        }
    }
}

fn data_or_null(data: Result<Value, socketioxide::ParserError>) -> Value {
    data.unwrap_or(Value::Null)
}

// ---------------------------------------------------------------- students

async fn student_handshake<A: Adapter>(
    s: SocketRef<A>,
    State(svc): Svc,
    State(relays): RelayState,
    TryData(auth): TryData<HandshakeAuth>,
) -> Result<(), ConnectRefused> {
    admit_address(&s, &svc)?;
    let link = match route(&svc, token(&auth), Role::Student).await? {
        Route::Here => {
            let sess = svc.authenticate_live_student(token(&auth)).await.map_err(refused)?;
            svc.admit_student_connection(&sess).map_err(refused)?;
            // Everything the connection needs is in place before this
            // middleware returns: socketioxide sends the CONNECT packet right
            // after it and runs the connect handler as a task of its own, so
            // a client that emits at once would otherwise race the handlers'
            // registration.
            s.join(student_room(sess.rt.id(), sess.cell.id()));
            s.join(exam_students_room(sess.rt.id()));
            s.join(connection_room(sess.conn));
            StudentLink::Here(sess)
        }
        Route::Node(node) => {
            let relay = relay_of(&relays)?;
            let req = RelayRequest::StudentHello { token: token(&auth).map(str::to_owned) };
            let hello = relay.hello(&node, req).await.map_err(refused)?;
            let (Some(student), conn) = (hello.student, ConnectionId::from_raw(hello.conn)) else {
                return Err(refused(unavailable("the exam's server answered without a student; retry")));
            };
            s.join(student_room(&hello.exam, &student));
            s.join(exam_students_room(&hello.exam));
            s.join(connection_room(conn));
            StudentLink::There(Relayed { node, conn, exam: hello.exam })
        }
    };
    s.extensions.insert(link);
    s.extensions.insert(Arc::new(Arrivals::<IncidentQueue>::default()));
    s.extensions.insert(Arc::new(Arrivals::<SignalQueue>::default()));
    register_student_events(&s);
    Ok(())
}

async fn student_connected<A: Adapter>(
    s: SocketRef<A>,
    State(svc): Svc,
    State(relays): RelayState,
    Extension(link): Extension<StudentLink>,
) {
    match link {
        StudentLink::Here(sess) => {
            let welcome = svc.student_connected(&sess).await;
            let _ = s.emit(names::WELCOME, &welcome);
        }
        StudentLink::There(r) => {
            let reply = match &relays.0 {
                Some(relay) => relay.call(&r.node, RelayRequest::Connected { conn: r.conn.raw() }).await.ok(),
                None => None,
            };
            match reply {
                Some(RelayReply::Answer(ProctorAnswer { ack: Some(welcome), .. })) => {
                    let _ = s.emit(names::WELCOME, &welcome);
                }
                _ => {
                    svc.forget_route(&r.exam);
                    let _ = s.disconnect();
                }
            }
        }
    }
}

/// One student message, here or relayed; the answer is its ack.
async fn on_student<A: Adapter>(
    s: &SocketRef<A>,
    svc: &Service,
    relays: &Relays,
    link: &StudentLink,
    event: &str,
    data: Value,
) -> Option<Value> {
    match link {
        StudentLink::Here(sess) => student_event(svc, sess, event, data).await,
        StudentLink::There(r) => relayed_event(s, svc, relays, r, event, data).await.ack,
    }
}

fn register_student_events<A: Adapter>(s: &SocketRef<A>) {
    for event in STUDENT_INCIDENT_EVENTS {
        s.on(
            event,
            async move |s: SocketRef<A>,
                        State(svc): Svc,
                        State(relays): RelayState,
                        Extension(link): Extension<StudentLink>,
                        TryData(data): TryData<Value>,
                        ack: AckSender<A>,
                        order: InOrder<IncidentQueue>| {
                let _turn = order.turn().await;
                if let Some(reply) = on_student(&s, &svc, &relays, &link, event, data_or_null(data)).await {
                    let _ = ack.send(&reply);
                }
            },
        );
    }
    for event in STUDENT_SIGNAL_EVENTS {
        s.on(
            event,
            async move |s: SocketRef<A>,
                        State(svc): Svc,
                        State(relays): RelayState,
                        Extension(link): Extension<StudentLink>,
                        TryData(data): TryData<Value>,
                        order: InOrder<SignalQueue>| {
                let _turn = order.turn().await;
                on_student(&s, &svc, &relays, &link, event, data_or_null(data)).await;
            },
        );
    }
    for event in STUDENT_OTHER_EVENTS {
        s.on(
            event,
            async move |s: SocketRef<A>,
                        State(svc): Svc,
                        State(relays): RelayState,
                        Extension(link): Extension<StudentLink>,
                        TryData(data): TryData<Value>,
                        ack: AckSender<A>| {
                if let Some(reply) = on_student(&s, &svc, &relays, &link, event, data_or_null(data)).await {
                    let _ = ack.send(&reply);
                }
            },
        );
    }
    s.on_disconnect(async |State(svc): Svc, State(relays): RelayState, Extension(link): Extension<StudentLink>| {
        match link {
            StudentLink::Here(sess) => svc.student_disconnected(&sess).await,
            StudentLink::There(r) => {
                if let Some(relay) = &relays.0 {
                    relay.bye(&r.node, &r.exam, r.conn).await;
                }
            }
        }
    });
}

// ---------------------------------------------------------------- proctors

async fn proctor_handshake<A: Adapter>(
    s: SocketRef<A>,
    State(svc): Svc,
    State(relays): RelayState,
    TryData(auth): TryData<HandshakeAuth>,
) -> Result<(), ConnectRefused> {
    admit_address(&s, &svc)?;
    let link = match route(&svc, token(&auth), Role::Proctor).await? {
        Route::Here => {
            let sess = svc.authenticate_proctor(token(&auth)).await.map_err(refused)?;
            // As for students: ready before the CONNECT packet leaves.
            s.join(exam_room(sess.rt.id()));
            ProctorLink::Here(sess)
        }
        Route::Node(node) => {
            let relay = relay_of(&relays)?;
            let req = RelayRequest::ProctorHello { token: token(&auth).map(str::to_owned) };
            let hello = relay.hello(&node, req).await.map_err(refused)?;
            s.join(exam_room(&hello.exam));
            ProctorLink::There(Relayed { node, conn: ConnectionId::from_raw(hello.conn), exam: hello.exam })
        }
    };
    s.extensions.insert(link);
    register_proctor_events(&s);
    Ok(())
}

async fn proctor_connected<A: Adapter>(
    s: SocketRef<A>,
    State(svc): Svc,
    State(relays): RelayState,
    Extension(link): Extension<ProctorLink>,
) {
    match link {
        ProctorLink::Here(sess) => svc.proctor_connected(&sess),
        ProctorLink::There(r) => {
            let reply = match &relays.0 {
                Some(relay) => relay.call(&r.node, RelayRequest::Connected { conn: r.conn.raw() }).await.ok(),
                None => None,
            };
            if !matches!(reply, Some(RelayReply::Answer(_))) {
                svc.forget_route(&r.exam);
                let _ = s.disconnect();
            }
        }
    }
}

fn register_proctor_events<A: Adapter>(s: &SocketRef<A>) {
    for event in PROCTOR_EVENTS {
        s.on(
            event,
            async move |s: SocketRef<A>,
                        State(svc): Svc,
                        State(relays): RelayState,
                        Extension(link): Extension<ProctorLink>,
                        TryData(data): TryData<Value>,
                        ack: AckSender<A>| {
                let data = data_or_null(data);
                let answer = match &link {
                    ProctorLink::Here(sess) => proctor_event(&svc, sess, event, data).await,
                    ProctorLink::There(r) => relayed_event(&s, &svc, &relays, r, event, data).await,
                };
                if let Some(update) = answer.slot {
                    let _ = s.emit(names::SLOT, &update);
                }
                if let Some(reply) = answer.ack {
                    let _ = ack.send(&reply);
                }
            },
        );
    }
    s.on_disconnect(async |State(svc): Svc, State(relays): RelayState, Extension(link): Extension<ProctorLink>| {
        match link {
            ProctorLink::Here(sess) => svc.proctor_disconnected(&sess).await,
            ProctorLink::There(r) => {
                if let Some(relay) = &relays.0 {
                    relay.bye(&r.node, &r.exam, r.conn).await;
                }
            }
        }
    });
}
