//! Sockets relayed to the node that holds their exam (issue 15).
//!
//! A client may reach any node (the load balancer chooses), but an exam's
//! live state lives on one node at a time (`service::placement`). The node
//! that holds the socket keeps it, with its ordering and its rooms, and
//! sends each message to the holder over Redis pub/sub; the holder runs it
//! through `transport::dispatch` on a session of its own for that
//! connection and answers the ack. What the holder emits reaches the socket
//! through the rooms, which the Redis adapter spans across nodes.
//!
//! socketioxide's Redis adapter carries broadcasts, not requests to one
//! node, so this small request/answer protocol rides on the adapter's own
//! pub/sub driver (one connection for both).
//!
//! Every call has a deadline ([`CALL_TIMEOUT`]). A call that fails (the
//! holder died, or the exam moved) makes the relaying node close the
//! socket: the client reconnects, is routed afresh, and resends whatever
//! was not acknowledged from its outbox; the new holder's ledger, replayed
//! from the database, answers those resends as duplicates.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use socketioxide_redis::drivers::Driver;
use socketioxide_redis::drivers::redis::RedisDriver;
use tokio::sync::{Semaphore, oneshot};
use vigil_core::placement::{NODE_ALIVE_MS, NodeId, RENEW_EVERY_MS};
use vigil_proto::{ExamId, Rejection, StudentId};

use super::dispatch::{ProctorAnswer, proctor_event, student_event};
use crate::metrics as m;
use crate::service::placement::Route;
use crate::service::{ConnectionId, ProctorSession, Service, StudentSession, lock, unavailable};

/// How long a relayed message may take, there and back, before the socket
/// is closed and its client reconnects.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Relayed messages served at once; beyond, a request is answered `Busy`
/// (the relaying node closes that socket; its client retries later).
const MAX_SERVING: usize = 1_024;

/// Calls waiting for an answer at once.
const MAX_WAITING: usize = 16_384;

fn request_channel(node: &NodeId) -> String {
    format!("vigil-relay#{node}#request")
}

fn answer_channel(node: &NodeId) -> String {
    format!("vigil-relay#{node}#answer")
}

/// What one node asks the node that holds an exam.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RelayRequest {
    /// A student's handshake: authenticate, admit, open a session.
    StudentHello { token: Option<String> },
    /// A proctor's handshake.
    ProctorHello { token: Option<String> },
    /// The socket is connected: the student's welcome (a proctor's is empty).
    Connected { conn: u64 },
    /// One message of the socket.
    Event { conn: u64, event: String, data: Value },
    /// The socket closed.
    Bye { conn: u64 },
}

/// The holder's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RelayReply {
    Hello(Result<Hello, Rejection>),
    Answer(ProctorAnswer),
    /// No such connection here (this node restarted, or gave the exam up).
    Gone,
    /// Too many relayed messages at once.
    Busy,
}

/// An accepted handshake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub conn: u64,
    pub exam: ExamId,
    /// The student, for a student's handshake.
    pub student: Option<StudentId>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope<T> {
    id: u64,
    from: String,
    body: T,
}

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("too many relayed messages are waiting")]
    Saturated,
    #[error("redis: {0}")]
    Redis(String),
}

/// A session this node serves for a socket another node holds.
#[derive(Debug, Clone)]
enum Remote {
    Student(StudentSession),
    Proctor(ProctorSession),
}

/// Exams this node relays sockets for, each to the node last known to hold
/// it, with the number of such sockets.
type RelayedExams = HashMap<ExamId, (NodeId, usize)>;

/// Closes this node's own sockets of an exam (set by the transport, which
/// knows the Socket.IO type).
pub type CloseLocal = Box<dyn Fn(ExamId) -> BoxFuture<'static, ()> + Send + Sync>;

pub struct Relay {
    me: NodeId,
    driver: RedisDriver,
    svc: Arc<Service>,
    next_id: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<RelayReply>>>,
    /// Sessions served here for sockets elsewhere, by connection, with the
    /// node that holds each socket.
    remote: Mutex<HashMap<u64, (NodeId, Remote)>>,
    relayed: Mutex<RelayedExams>,
    serving: Arc<Semaphore>,
    close_local: std::sync::OnceLock<CloseLocal>,
    /// The last Redis check and when it ran; the lock makes checks single-flight.
    health: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").field("me", &self.me).finish_non_exhaustive()
    }
}

impl Relay {
    /// Subscribes this node's two channels and starts serving requests.
    pub async fn start(me: NodeId, driver: RedisDriver, svc: Arc<Service>) -> Result<Arc<Relay>, String> {
        let relay = Arc::new(Relay {
            me,
            driver,
            svc,
            next_id: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
            remote: Mutex::new(HashMap::new()),
            relayed: Mutex::new(HashMap::new()),
            serving: Arc::new(Semaphore::new(MAX_SERVING)),
            close_local: std::sync::OnceLock::new(),
            health: tokio::sync::Mutex::new(None),
        });
        let mut requests =
            relay.driver.subscribe(request_channel(&relay.me), 4_096).await.map_err(|e| e.to_string())?;
        let mut answers = relay.driver.subscribe(answer_channel(&relay.me), 4_096).await.map_err(|e| e.to_string())?;
        let weak = Arc::downgrade(&relay);
        tokio::spawn(async move {
            while let Some((_, bytes)) = answers.next().await {
                let Some(relay) = weak.upgrade() else { return };
                relay.answered(&bytes);
            }
        });
        let weak = Arc::downgrade(&relay);
        tokio::spawn(async move {
            while let Some((_, bytes)) = requests.next().await {
                let Some(relay) = weak.upgrade() else { return };
                relay.requested(bytes);
            }
        });
        Ok(relay)
    }

    /// Whether Redis answers and still delivers this node's requests: the
    /// number of subscribers of its own request channel (itself) is asked,
    /// at most once a second.
    pub async fn health(&self) -> Result<(), String> {
        let mut last = self.health.lock().await;
        if let Some((at, res)) = last.as_ref()
            && at.elapsed() < Duration::from_secs(1)
        {
            return res.clone();
        }
        let asked =
            tokio::time::timeout(Duration::from_secs(2), self.driver.num_serv(&request_channel(&self.me))).await;
        let res = match asked {
            Ok(Ok(n)) if n >= 1 => Ok(()),
            Ok(Ok(_)) => Err("this node's relay channel has no subscriber".to_owned()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("Redis did not answer within 2 s".to_owned()),
        };
        *last = Some((Instant::now(), res.clone()));
        res
    }

    /// How this node closes its own sockets of an exam that moved.
    pub fn close_local_with(&self, close: CloseLocal) {
        let _ = self.close_local.set(close);
    }

    /// Sends `req` to `node` and waits for its answer.
    pub async fn call(&self, node: &NodeId, req: RelayRequest) -> Result<RelayReply, RelayError> {
        let started = Instant::now();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut waiting = lock(&self.waiting);
            if waiting.len() >= MAX_WAITING {
                return Err(RelayError::Saturated);
            }
            waiting.insert(id, tx);
        }
        let envelope = Envelope { id, from: self.me.to_string(), body: req };
        let sent = match serde_json::to_vec(&envelope) {
            Ok(bytes) => {
                self.driver.publish(request_channel(node), bytes).await.map_err(|e| RelayError::Redis(e.to_string()))
            }
            Err(e) => Err(RelayError::Redis(e.to_string())),
        };
        let res = match sent {
            Ok(()) => match tokio::time::timeout(CALL_TIMEOUT, rx).await {
                Ok(Ok(reply)) => Ok(reply),
                _ => Err(RelayError::Timeout(CALL_TIMEOUT)),
            },
            Err(e) => Err(e),
        };
        lock(&self.waiting).remove(&id);
        let outcome = if res.is_ok() { "answered" } else { "failed" };
        metrics::counter!(m::RELAY_CALLS, "outcome" => outcome).increment(1);
        // Round trips only: a failure's wait is the deadline, not a latency.
        if res.is_ok() {
            metrics::histogram!(m::RELAY_LATENCY).record(started.elapsed().as_secs_f64());
        }
        res
    }

    /// A handshake relayed to `node`; on success this node counts the
    /// socket against the exam, to notice when the exam moves.
    pub async fn hello(&self, node: &NodeId, req: RelayRequest) -> Result<Hello, Rejection> {
        match self.call(node, req).await {
            Ok(RelayReply::Hello(Ok(hello))) => {
                let mut relayed = lock(&self.relayed);
                let entry = relayed.entry(hello.exam.clone()).or_insert_with(|| (node.clone(), 0));
                entry.0 = node.clone();
                entry.1 += 1;
                Ok(hello)
            }
            Ok(RelayReply::Hello(Err(rejection))) => Err(rejection),
            Ok(_) | Err(_) => Err(unavailable("the server that holds this exam did not answer; retry")),
        }
    }

    /// The socket of a relayed connection closed.
    pub async fn bye(&self, node: &NodeId, exam: &ExamId, conn: ConnectionId) {
        {
            let mut relayed = lock(&self.relayed);
            if let Some(entry) = relayed.get_mut(exam) {
                entry.1 = entry.1.saturating_sub(1);
                if entry.1 == 0 {
                    relayed.remove(exam);
                }
            }
        }
        // Best effort: if the holder is gone, so is the session.
        let _ = self.call(node, RelayRequest::Bye { conn: conn.raw() }).await;
    }

    fn answered(&self, bytes: &[u8]) {
        let Ok(envelope) = serde_json::from_slice::<Envelope<RelayReply>>(bytes) else {
            tracing::warn!("an unreadable relay answer; dropped");
            return;
        };
        if let Some(tx) = lock(&self.waiting).remove(&envelope.id) {
            let _ = tx.send(envelope.body);
        }
    }

    fn requested(self: Arc<Self>, bytes: Vec<u8>) {
        let Ok(envelope) = serde_json::from_slice::<Envelope<RelayRequest>>(&bytes) else {
            tracing::warn!("an unreadable relay request; dropped");
            return;
        };
        let Ok(from) = envelope.from.parse::<NodeId>() else { return };
        let permit = self.serving.clone().try_acquire_owned();
        tokio::spawn(async move {
            let body = match permit {
                Ok(_permit) => self.serve(&from, envelope.body).await,
                Err(_) => RelayReply::Busy,
            };
            let answer = Envelope { id: envelope.id, from: self.me.to_string(), body };
            if let Ok(bytes) = serde_json::to_vec(&answer)
                && let Err(e) = self.driver.publish(answer_channel(&from), bytes).await
            {
                tracing::debug!(error = %e, "could not answer a relayed request");
            }
        });
    }

    async fn serve(&self, from: &NodeId, req: RelayRequest) -> RelayReply {
        let svc = &self.svc;
        match req {
            RelayRequest::StudentHello { token } => {
                let sess = match svc.authenticate_live_student(token.as_deref()).await {
                    Ok(sess) => sess,
                    Err(rejection) => return RelayReply::Hello(Err(rejection)),
                };
                if let Err(rejection) = svc.admit_student_connection(&sess) {
                    return RelayReply::Hello(Err(rejection));
                }
                let hello =
                    Hello { conn: sess.conn.raw(), exam: sess.rt.id().clone(), student: Some(sess.cell.id().clone()) };
                lock(&self.remote).insert(hello.conn, (from.clone(), Remote::Student(sess)));
                RelayReply::Hello(Ok(hello))
            }
            RelayRequest::ProctorHello { token } => {
                let sess = match svc.authenticate_proctor(token.as_deref()).await {
                    Ok(sess) => sess,
                    Err(rejection) => return RelayReply::Hello(Err(rejection)),
                };
                let hello = Hello { conn: sess.conn.raw(), exam: sess.rt.id().clone(), student: None };
                lock(&self.remote).insert(hello.conn, (from.clone(), Remote::Proctor(sess)));
                RelayReply::Hello(Ok(hello))
            }
            RelayRequest::Connected { conn } => match self.session(conn) {
                Some(Remote::Student(sess)) => {
                    let welcome = svc.student_connected(&sess).await;
                    RelayReply::Answer(ProctorAnswer { ack: serde_json::to_value(&welcome).ok(), slot: None })
                }
                Some(Remote::Proctor(sess)) => {
                    svc.proctor_connected(&sess);
                    RelayReply::Answer(ProctorAnswer::default())
                }
                None => RelayReply::Gone,
            },
            RelayRequest::Event { conn, event, data } => match self.session(conn) {
                Some(Remote::Student(sess)) => {
                    RelayReply::Answer(ProctorAnswer { ack: student_event(svc, &sess, &event, data).await, slot: None })
                }
                Some(Remote::Proctor(sess)) => RelayReply::Answer(proctor_event(svc, &sess, &event, data).await),
                None => RelayReply::Gone,
            },
            RelayRequest::Bye { conn } => {
                let gone = lock(&self.remote).remove(&conn);
                match gone {
                    Some((_, Remote::Student(sess))) => svc.student_disconnected(&sess).await,
                    Some((_, Remote::Proctor(sess))) => svc.proctor_disconnected(&sess).await,
                    None => {}
                }
                RelayReply::Answer(ProctorAnswer::default())
            }
        }
    }

    fn session(&self, conn: u64) -> Option<Remote> {
        let remote = lock(&self.remote);
        let (_, session) = remote.get(&conn)?;
        // A session of an exam this node gave up is no longer served.
        let rt = match session {
            Remote::Student(s) => &s.rt,
            Remote::Proctor(s) => &s.rt,
        };
        self.svc.exams().is_current(rt).then(|| session.clone())
    }

    /// Every [`RENEW_EVERY_MS`]: closes this node's sockets of exams whose
    /// holder changed, and ends the sessions served here for sockets of
    /// nodes that stopped (their clients reconnect elsewhere).
    pub async fn run_watch(self: Arc<Self>) {
        loop {
            tokio::time::sleep(Duration::from_millis(RENEW_EVERY_MS as u64)).await;
            self.watch_once().await;
        }
    }

    async fn watch_once(&self) {
        let relayed: Vec<(ExamId, NodeId)> =
            lock(&self.relayed).iter().map(|(exam, (node, _))| (exam.clone(), node.clone())).collect();
        for (exam, node) in relayed {
            let moved = match self.svc.route(&exam).await {
                Ok(Route::Node(now)) => now != node,
                Ok(Route::Here) => true,
                // Cannot tell: keep the sockets; their next message decides.
                Err(_) => false,
            };
            if moved {
                tracing::info!(exam = %exam, from = %node, "exam moved; closing the sockets relayed for it");
                lock(&self.relayed).remove(&exam);
                if let Some(close) = self.close_local.get() {
                    close(exam).await;
                }
            }
        }
        let now = self.svc.now_ms();
        let Ok(live) = self.svc.store().live_nodes(now - NODE_ALIVE_MS, now).await else { return };
        let orphans: Vec<Remote> = {
            let mut remote = lock(&self.remote);
            let gone: Vec<u64> = remote
                .iter()
                .filter(|(_, (node, _))| node != &self.me && !live.iter().any(|n| &n.load.node == node))
                .map(|(conn, _)| *conn)
                .collect();
            gone.into_iter().filter_map(|c| remote.remove(&c)).map(|(_, r)| r).collect()
        };
        for session in orphans {
            match session {
                Remote::Student(sess) => self.svc.student_disconnected(&sess).await,
                Remote::Proctor(sess) => self.svc.proctor_disconnected(&sess).await,
            }
        }
    }
}
