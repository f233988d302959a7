//! The two Socket.IO namespaces. Handshakes are authenticated in connect
//! middleware, before the socket joins anything: a refused client gets a
//! `connect_error` whose message starts with the machine-readable reason
//! (`expired_token: ...`).

use std::sync::Arc;

use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use vigil_proto::events::{
    ActionRequest, ExamSnapshot, HandshakeAuth, Heartbeat, IncidentAck, IncidentEnd, IncidentReport, PresenceUpdate,
    ProctorAction, QualityUpdate, RequestAck, Signals, StudentWelcome, names,
};
use vigil_proto::{IncidentKind, RejectReason, Rejection, Role};

use crate::App;
use crate::clock::now_ms;
use crate::exams::{ExamRuntime, StudentCell, lock, quality_of};
use crate::fanout::{exam_room, student_room};
use crate::ingest;
use crate::metrics as m;

/// A refused handshake; its text is what the client's `connect_error` shows.
#[derive(Debug)]
pub struct ConnectRefused(pub Rejection);

impl std::fmt::Display for ConnectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.reason.as_str(), self.0.message)
    }
}

impl std::error::Error for ConnectRefused {}

fn refuse(reason: RejectReason, message: impl Into<String>) -> ConnectRefused {
    let r = Rejection::new(reason, message);
    metrics::counter!(m::CONNECTS_REFUSED, "reason" => r.reason.as_str()).increment(1);
    ConnectRefused(r)
}

#[derive(Clone)]
pub(crate) struct StudentSession {
    pub rt: Arc<ExamRuntime>,
    pub cell: Arc<StudentCell>,
}

#[derive(Clone)]
pub(crate) struct ProctorSession {
    pub rt: Arc<ExamRuntime>,
    pub proctor_id: String,
}

pub fn register(io: &SocketIo) {
    io.ns(names::STUDENT_NS, student_connected.with(student_handshake));
    io.ns(names::PROCTOR_NS, proctor_connected.with(proctor_handshake));
}

/// Verifies the token and the roster; returns the exam and the subject.
async fn authenticate(
    app: &App,
    auth: Result<HandshakeAuth, socketioxide::ParserError>,
    role: Role,
) -> Result<(Arc<ExamRuntime>, String), ConnectRefused> {
    let auth = auth.map_err(|_| refuse(RejectReason::MissingToken, "the handshake must carry auth: { token }"))?;
    let claims = app.keys.verify(&auth.token, role).map_err(|r| refuse(r.reason, r.message))?;
    let rt = app
        .exams
        .get(&claims.exam)
        .await
        .map_err(|_| refuse(RejectReason::Unavailable, "the server cannot load this exam right now"))?
        .ok_or_else(|| refuse(RejectReason::UnknownExam, format!("no exam {}", claims.exam)))?;
    Ok((rt, claims.sub))
}

async fn student_handshake(
    s: SocketRef,
    State(app): State<App>,
    TryData(auth): TryData<HandshakeAuth>,
) -> Result<(), ConnectRefused> {
    let (rt, student_id) = authenticate(&app, auth, Role::Student).await?;
    let cell = app
        .exams
        .student(&rt, &student_id)
        .await
        .map_err(|_| refuse(RejectReason::Unavailable, "the server cannot load this student right now"))?
        .ok_or_else(|| refuse(RejectReason::UnknownStudent, format!("{student_id} is not on this exam's roster")))?;
    s.extensions.insert(StudentSession { rt, cell });
    Ok(())
}

async fn student_connected(s: SocketRef, State(app): State<App>, Extension(sess): Extension<StudentSession>) {
    let (rt, cell) = (&sess.rt, &sess.cell);
    let now = now_ms();
    s.join(student_room(rt.id(), &cell.person.id));
    metrics::gauge!(m::STUDENTS_CONNECTED).increment(1);
    let presence_change = lock(&rt.presence).connected(&cell.person.id, now, rt.stall_after_ms());

    // Handlers before any await: the client may emit as soon as it is
    // connected, and an event that arrives before its handler is dropped.
    s.on(
        names::INCIDENT,
        async |State(app): State<App>,
               Extension(sess): Extension<StudentSession>,
               TryData(r): TryData<IncidentReport>,
               ack: AckSender| {
            let reply = match r {
                Ok(report) => ingest::report(&app, &sess.rt, &sess.cell, report).await,
                Err(e) => invalid_payload(&e),
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::INCIDENT_END,
        async |State(app): State<App>,
               Extension(sess): Extension<StudentSession>,
               TryData(r): TryData<IncidentEnd>,
               ack: AckSender| {
            let reply = match r {
                Ok(end) => ingest::end(&app, &sess.rt, &sess.cell, end).await,
                Err(e) => invalid_payload(&e),
            };
            let _ = ack.send(&reply);
        },
    );
    s.on(
        names::SIGNALS,
        async |State(app): State<App>, Extension(sess): Extension<StudentSession>, TryData(sig): TryData<Signals>| {
            let Some(sig) = admit_signal(&sess.cell, sig.ok()) else { return };
            let quality = quality_of(sig.brightness, sig.confidence);
            let changed = {
                let mut live = lock(&sess.cell.live);
                std::mem::replace(&mut live.quality, quality) != quality
            };
            if changed {
                let update = QualityUpdate { student_id: sess.cell.person.id.clone(), quality, at: now_ms() };
                app.fanout.quality(sess.rt.id(), &update).await;
            }
        },
    );
    s.on(
        names::HEARTBEAT,
        async |State(app): State<App>, Extension(sess): Extension<StudentSession>, TryData(hb): TryData<Heartbeat>| {
            if admit_signal(&sess.cell, hb.ok()).is_none() {
                return;
            }
            let change = lock(&sess.rt.presence).heartbeat(&sess.cell.person.id, now_ms(), sess.rt.stall_after_ms());
            announce_presence(&app, &sess.rt, change).await;
        },
    );
    crate::media::register_student(&s);
    s.on_disconnect(async |s: SocketRef, State(app): State<App>, Extension(sess): Extension<StudentSession>| {
        metrics::gauge!(m::STUDENTS_CONNECTED).decrement(1);
        crate::media::student_disconnected(&app, &sess.rt, &sess.cell, s.id).await;
        let change = lock(&sess.rt.presence).disconnected(&sess.cell.person.id, now_ms());
        announce_presence(&app, &sess.rt, change).await;
    });

    let next_seq = cell.ledger.lock().await.next_seq();
    let welcome = StudentWelcome {
        student: cell.person.clone(),
        exam_id: rt.exam.id.clone(),
        exam_title: rt.exam.title.clone(),
        settings: rt.exam.settings.clone(),
        next_seq,
        server_time: now,
    };
    let _ = s.emit(names::WELCOME, &welcome);
    announce_presence(&app, rt, presence_change).await;
}

/// Signals and heartbeats are fire-and-forget: malformed or over-rate ones
/// are dropped and counted, never answered.
fn admit_signal<T>(cell: &StudentCell, msg: Option<T>) -> Option<T> {
    let admitted = msg.filter(|_| lock(&cell.live).signal_bucket.try_take(now_ms()).is_ok());
    if admitted.is_none() {
        metrics::counter!(m::SIGNALS_DROPPED).increment(1);
    }
    admitted
}

fn invalid_payload(e: &socketioxide::ParserError) -> IncidentAck {
    metrics::counter!(m::INCIDENTS_REJECTED, "reason" => RejectReason::InvalidPayload.as_str()).increment(1);
    IncidentAck::Rejected {
        id: None,
        rejection: Rejection::new(RejectReason::InvalidPayload, format!("payload does not match the schema: {e}")),
    }
}

pub async fn announce_presence(app: &App, rt: &ExamRuntime, change: Option<vigil_core::presence::Transition>) {
    let Some(t) = change else { return };
    let update = PresenceUpdate { student_id: t.student_id, presence: t.presence, at: t.at };
    app.fanout.presence(rt.id(), &update).await;
}

/// Marks students whose heartbeats stopped as stalled, and raises the
/// stall as a server incident: the client cannot hide it.
pub async fn tick_presence(app: &App) {
    let now = now_ms();
    for rt in app.exams.loaded() {
        let stalled = lock(&rt.presence).tick(now);
        for t in stalled {
            let student_id = t.student_id.clone();
            announce_presence(app, &rt, Some(t)).await;
            if let Some(cell) = rt.cached_student(&student_id) {
                let id = format!("srv-heartbeat-{now}");
                let detail = Some(format!("no heartbeat for {} s", rt.exam.settings.stall_after_s));
                ingest::server_incident(app, &rt, &cell, id, IncidentKind::HeartbeatLost, now, detail).await;
            }
        }
    }
}

// ---------------------------------------------------------------- proctors

async fn proctor_handshake(
    s: SocketRef,
    State(app): State<App>,
    TryData(auth): TryData<HandshakeAuth>,
) -> Result<(), ConnectRefused> {
    let (rt, proctor_id) = authenticate(&app, auth, Role::Proctor).await?;
    let on_roster = app
        .store
        .person(rt.id(), Role::Proctor, &proctor_id)
        .await
        .map_err(|_| refuse(RejectReason::Unavailable, "the server cannot check the roster right now"))?;
    if on_roster.is_none() {
        return Err(refuse(RejectReason::Forbidden, format!("{proctor_id} is not a proctor of this exam")));
    }
    s.extensions.insert(ProctorSession { rt, proctor_id });
    Ok(())
}

async fn proctor_connected(s: SocketRef, Extension(sess): Extension<ProctorSession>) {
    s.join(exam_room(sess.rt.id()));
    metrics::gauge!(m::PROCTORS_CONNECTED).increment(1);
    s.on(names::SNAPSHOT, async |Extension(sess): Extension<ProctorSession>, ack: AckSender| {
        let _ = ack.send(&snapshot(&sess.rt));
    });
    s.on(
        names::ACTION,
        async |State(app): State<App>,
               Extension(sess): Extension<ProctorSession>,
               TryData(req): TryData<ActionRequest>,
               ack: AckSender| {
            let reply = match req {
                Ok(req) => act(&app, &sess, req).await,
                Err(e) => RequestAck::Rejected {
                    rejection: Rejection::new(
                        RejectReason::InvalidPayload,
                        format!("payload does not match the schema: {e}"),
                    ),
                },
            };
            let _ = ack.send(&reply);
        },
    );
    crate::media::register_proctor(&s);
    s.on_disconnect(async |s: SocketRef, State(app): State<App>| {
        metrics::gauge!(m::PROCTORS_CONNECTED).decrement(1);
        crate::media::proctor_disconnected(&app, s.id).await;
    });
}

pub fn snapshot(rt: &ExamRuntime) -> ExamSnapshot {
    ExamSnapshot { exam: rt.exam.clone(), students: rt.views(), server_time: now_ms() }
}

async fn act(app: &App, sess: &ProctorSession, req: ActionRequest) -> RequestAck {
    let reject = |reason, msg: String| RequestAck::Rejected { rejection: Rejection::new(reason, msg) };
    if req.text.as_ref().is_some_and(|t| t.chars().count() > 1_000) {
        return reject(RejectReason::InvalidPayload, "text is longer than 1000 characters".into());
    }
    match app.exams.student(&sess.rt, &req.student_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return reject(RejectReason::UnknownStudent, format!("{} is not on this exam", req.student_id)),
        Err(_) => return reject(RejectReason::Unavailable, "retry".into()),
    }
    let action = ProctorAction { kind: req.kind, text: req.text, at: now_ms() };
    let kind = serde_json::to_value(action.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    if let Err(e) = app
        .store
        .record_action(sess.rt.id(), &req.student_id, &sess.proctor_id, &kind, action.text.as_deref(), action.at)
        .await
    {
        tracing::error!(error = %e, "could not record a proctor action");
        return reject(RejectReason::Unavailable, "the action could not be recorded; retry".into());
    }
    if let Some(ns) = app.io().and_then(|io| io.of(names::STUDENT_NS)) {
        let _ = ns.to(student_room(sess.rt.id(), &req.student_id)).emit(names::PROCTOR_ACTION, &action).await;
    }
    RequestAck::Ok
}
