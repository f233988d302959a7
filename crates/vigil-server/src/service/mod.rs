//! The transport-agnostic service: exam runtimes, the incident pipeline,
//! evidence rules, presence, actions, live video authorisation, and what fans
//! out to whom.
//!
//! It knows nothing of HTTP or Socket.IO. The adapters in `crate::transport`
//! parse a request, call one method here and map the answer; events for
//! connections leave through the [`Fanout`] trait. Time comes only from the
//! injected [`Clock`], so tests can drive every timer by hand. The rules
//! themselves are `vigil-core`'s; this layer sequences them around the store
//! and the SFU.

pub mod acs;
pub mod chat;
pub mod conn;
pub mod evidence;
pub mod exams;
pub mod fanout;
pub mod identity;
pub mod ingest;
pub mod live;
pub mod lti;
pub mod media;
pub mod nrps;
pub mod placement;
pub mod recording;
pub mod review;
pub mod sessions;
pub mod settings;
pub mod uplink;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use vigil_core::evidence::EvidenceLimits;
use vigil_core::ledger::Limits;
use vigil_core::rate::{KeyedBuckets, KeyedTake, RateLimit, address_key};
use vigil_core::worker::WorkerWatchConfig;
use vigil_proto::{ProctorId, RejectReason, Rejection, Role};
use vigil_store::Store;

use crate::auth::Keys;
use crate::clock::Clock;
use crate::metrics as m;
pub use conn::{ConnectionId, lock};
use exams::{ExamRegistry, ExamRuntime, StudentCell};
use fanout::{CoalescedFanout, Fanout};

/// An authenticated student connection.
#[derive(Debug, Clone)]
pub struct StudentSession {
    pub rt: Arc<ExamRuntime>,
    pub cell: Arc<StudentCell>,
    pub conn: ConnectionId,
}

/// An authenticated proctor connection.
#[derive(Debug, Clone)]
pub struct ProctorSession {
    pub rt: Arc<ExamRuntime>,
    pub proctor: ProctorId,
    /// May change the exam's settings (an instructor's token).
    pub may_configure: bool,
    pub conn: ConnectionId,
}

/// What the service is built from.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub limits: Limits,
    pub evidence: EvidenceLimits,
    pub worker: WorkerWatchConfig,
    /// Evidence uploads read and decoded at once, server-wide.
    pub evidence_in_flight: usize,
    /// The uplink probe's limits (size, deadlines).
    pub uplink: vigil_core::uplink::ProbeLimits,
    /// Uplink probes read at once, server-wide.
    pub uplink_probes_in_flight: usize,
    /// Socket handshakes per client address; `None` is no limit.
    pub address_handshakes: Option<RateLimit>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// This node's part in a cluster; `None` serves every exam here.
    pub cluster: Option<placement::ClusterConfig>,
}

/// Socket handshakes per client address. A whole school may sit behind one
/// NAT address and open its exam in the same minute, so the budget admits a
/// thousand at once; it stops one host's reconnect loop or a spray of many
/// tokens (which the per-token budget cannot see).
pub const DEFAULT_ADDRESS_HANDSHAKES: RateLimit = RateLimit { burst: 1_000, per_second: 20.0 };

/// Client addresses tracked at once (about 100 bytes each).
const MAX_TRACKED_ADDRESSES: usize = 100_000;

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            limits: Limits::default(),
            evidence: EvidenceLimits::default(),
            worker: WorkerWatchConfig::default(),
            // Each holds at most a 512 KiB body and one decoded frame (up to
            // 1920² RGB, 11 MiB): about 100 MiB at worst.
            evidence_in_flight: 8,
            uplink: vigil_core::uplink::ProbeLimits::default(),
            uplink_probes_in_flight: vigil_core::uplink::DEFAULT_PROBES_IN_FLIGHT,
            address_handshakes: Some(DEFAULT_ADDRESS_HANDSHAKES),
            trusted_proxies: Vec::new(),
            cluster: None,
        }
    }
}

#[derive(Debug)]
pub struct Service {
    store: Store,
    keys: Keys,
    clock: Arc<dyn Clock>,
    exams: ExamRegistry,
    fanout: Arc<CoalescedFanout>,
    sfu: Option<vigil_sfu::Sfu>,
    config: ServiceConfig,
    next_conn: AtomicU64,
    evidence_slots: Arc<tokio::sync::Semaphore>,
    /// Uplink probes being read, server-wide (see `service::uplink`).
    probe_slots: Arc<tokio::sync::Semaphore>,
    address_handshakes: Option<Mutex<KeyedBuckets<IpAddr>>>,
    /// Where proctor actions go to be reported to LTI platforms, once the
    /// LTI service is wired (see `service::acs`).
    acs: std::sync::OnceLock<acs::AcsQueue>,
    /// Settings changes, one at a time (see `service::settings`).
    settings_writes: tokio::sync::Mutex<()>,
    settings_budget: Mutex<KeyedBuckets<vigil_proto::ExamId>>,
    accommodation_budget: Mutex<KeyedBuckets<vigil_proto::ExamId>>,
    /// Chat messages per proctor of each exam.
    chat_budget: Mutex<KeyedBuckets<(vigil_proto::ExamId, ProctorId)>>,
    /// Review reads and writes per proctor of each exam.
    review_budget: Mutex<KeyedBuckets<(vigil_proto::ExamId, ProctorId)>>,
    cluster: Option<placement::Cluster>,
}

impl Service {
    pub fn new(
        store: Store,
        keys: Keys,
        clock: Arc<dyn Clock>,
        fanout: Arc<dyn Fanout>,
        sfu: Option<vigil_sfu::Sfu>,
        config: ServiceConfig,
    ) -> Self {
        Service {
            exams: ExamRegistry::new(store.clone(), config.limits, clock.clone()),
            fanout: Arc::new(CoalescedFanout::new(fanout, clock.clone())),
            store,
            keys,
            clock,
            sfu,
            evidence_slots: Arc::new(tokio::sync::Semaphore::new(config.evidence_in_flight.max(1))),
            probe_slots: Arc::new(tokio::sync::Semaphore::new(config.uplink_probes_in_flight.max(1))),
            address_handshakes: config
                .address_handshakes
                .map(|limit| Mutex::new(KeyedBuckets::new(limit, MAX_TRACKED_ADDRESSES))),
            cluster: config.cluster.clone().map(placement::Cluster::new),
            config,
            // Random high bits: connection ids stay unique across the nodes
            // of a cluster, whose rooms (`conn:…`) are shared through Redis.
            next_conn: AtomicU64::new((u64::from(rand::random::<u32>()) << 32) | 1),
            acs: std::sync::OnceLock::new(),
            settings_writes: tokio::sync::Mutex::new(()),
            settings_budget: Mutex::new(KeyedBuckets::new(settings::SETTINGS_CHANGES, settings::MAX_EXAMS_TRACKED)),
            accommodation_budget: Mutex::new(KeyedBuckets::new(
                settings::ACCOMMODATION_CHANGES,
                settings::MAX_EXAMS_TRACKED,
            )),
            chat_budget: Mutex::new(KeyedBuckets::new(vigil_core::chat::PROCTOR_RATE, chat::MAX_PROCTORS_TRACKED)),
            review_budget: Mutex::new(KeyedBuckets::new(review::REVIEW_RATE, chat::MAX_PROCTORS_TRACKED)),
        }
    }

    /// Proctor actions are reported to LTI platforms through `queue` from
    /// now on. Set once, when the server is wired; later calls are ignored.
    pub fn report_actions_to(&self, queue: acs::AcsQueue) {
        let _ = self.acs.set(queue);
    }

    pub fn now_ms(&self) -> vigil_proto::UnixMillis {
        self.clock.now_ms()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn exams(&self) -> &ExamRegistry {
        &self.exams
    }

    pub fn sfu(&self) -> Option<&vigil_sfu::Sfu> {
        self.sfu.as_ref()
    }

    pub fn evidence_limits(&self) -> &EvidenceLimits {
        &self.config.evidence
    }

    /// The coalesced score and presence fan-out; its trailing edge runs as a task.
    pub fn coalesced_fanout(&self) -> &Arc<CoalescedFanout> {
        &self.fanout
    }

    fn new_connection(&self) -> ConnectionId {
        ConnectionId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Verifies a token for `role` and loads its exam.
    async fn authenticate(
        &self,
        token: Option<&str>,
        role: Role,
    ) -> Result<(Arc<ExamRuntime>, crate::auth::Claims), Rejection> {
        let token = token.ok_or_else(|| Rejection::new(RejectReason::MissingToken, "send the join token"))?;
        let claims = self.keys.verify(token, role, self.clock.now_ms())?;
        self.ensure_here(&claims.exam).await?;
        let rt = self
            .exams
            .get(&claims.exam)
            .await
            .map_err(|_| unavailable("the server cannot load this exam right now"))?
            .ok_or_else(|| Rejection::new(RejectReason::UnknownExam, format!("no exam {}", claims.exam)))?;
        Ok((rt, claims))
    }

    /// The exam a token is for, once its signature, expiry and role are
    /// checked; nothing is loaded (the transport routes on it).
    pub fn token_exam(&self, token: Option<&str>, role: Role) -> Result<vigil_proto::ExamId, Rejection> {
        let token = token.ok_or_else(|| Rejection::new(RejectReason::MissingToken, "send the join token"))?;
        Ok(self.keys.verify(token, role, self.clock.now_ms())?.exam)
    }

    /// A session for a student already looked up (benchmarks, tests).
    pub fn session_for(&self, rt: Arc<ExamRuntime>, cell: Arc<StudentCell>) -> StudentSession {
        StudentSession { rt, cell, conn: self.new_connection() }
    }

    /// A student's token: its exam, and the student on that exam's roster.
    pub async fn authenticate_student(&self, token: Option<&str>) -> Result<StudentSession, Rejection> {
        let (rt, claims) = self.authenticate(token, Role::Student).await?;
        let not_on_roster = || Rejection::new(RejectReason::UnknownStudent, "you are not on this exam's roster");
        let student_id = claims.sub.parse().map_err(|_| not_on_roster())?;
        let found = self
            .exams
            .student(&rt, &student_id)
            .await
            .map_err(|_| unavailable("the server cannot load this student right now"))?
            .ok_or_else(not_on_roster)?;
        if found.new {
            self.announce_student(&rt, &found.cell).await;
        }
        Ok(StudentSession { rt, cell: found.cell, conn: self.new_connection() })
    }

    /// [`Service::authenticate_student`], for what a terminated session may
    /// no longer do: connect, be told the access code, hand the attempt
    /// back. (Evidence for incidents raised before the end still uploads,
    /// so that nothing raised is lost.)
    pub async fn authenticate_live_student(&self, token: Option<&str>) -> Result<StudentSession, Rejection> {
        let sess = self.authenticate_student(token).await?;
        sessions::admit(&sess.cell)?;
        Ok(sess)
    }

    /// Reverse proxies trusted to name the client in `X-Forwarded-For`.
    pub fn trusted_proxies(&self) -> &[IpAddr] {
        &self.config.trusted_proxies
    }

    /// Any socket handshake, before its token is even read: one from the
    /// client address's budget. An unknown address (no peer information) is
    /// not limited here.
    pub fn admit_handshake_from(&self, client: Option<IpAddr>) -> Result<(), Rejection> {
        let (Some(buckets), Some(ip)) = (&self.address_handshakes, client) else { return Ok(()) };
        match lock(buckets).try_take(&address_key(ip), self.clock.now_ms()) {
            KeyedTake::Admitted => Ok(()),
            KeyedTake::Untracked => {
                metrics::counter!(m::ADDRESSES_UNTRACKED).increment(1);
                Ok(())
            }
            KeyedTake::Refused { retry_after_ms } => Err(Rejection {
                reason: RejectReason::RateLimited,
                message: "too many connections from this network in a short time; wait and retry".into(),
                retry_after_ms: Some(retry_after_ms),
            }),
        }
    }

    /// A student's socket handshake (not an HTTP request) takes one from the
    /// student's handshake budget: a reconnect loop would otherwise flood
    /// every proctor with presence changes.
    pub fn admit_student_connection(&self, sess: &StudentSession) -> Result<(), Rejection> {
        lock(&sess.cell.live).handshake_bucket.try_take(self.clock.now_ms()).map_err(|wait| Rejection {
            reason: RejectReason::RateLimited,
            message: "too many connections in a short time; wait and retry".into(),
            retry_after_ms: Some(wait),
        })
    }

    /// A proctor's token: its exam, and the proctor on that exam's roster.
    pub async fn authenticate_proctor(&self, token: Option<&str>) -> Result<ProctorSession, Rejection> {
        let (rt, claims) = self.authenticate(token, Role::Proctor).await?;
        let forbidden = || Rejection::new(RejectReason::Forbidden, "you are not a proctor of this exam");
        let proctor: ProctorId = claims.sub.parse().map_err(|_| forbidden())?;
        let on_roster =
            self.store.proctor(rt.id(), &proctor).await.map_err(|_| unavailable("cannot check the roster; retry"))?;
        if on_roster.is_none() {
            return Err(forbidden());
        }
        Ok(ProctorSession { rt, proctor, may_configure: claims.configure, conn: self.new_connection() })
    }

    /// The student `id` of `rt`'s roster, for a proctor's request about them.
    pub async fn on_roster(
        &self,
        rt: &ExamRuntime,
        id: &vigil_proto::StudentId,
    ) -> Result<Arc<StudentCell>, Rejection> {
        match self.exams.student(rt, id).await {
            Ok(Some(found)) => {
                if found.new {
                    self.announce_student(rt, &found.cell).await;
                }
                Ok(found.cell)
            }
            Ok(None) => Err(Rejection::new(RejectReason::UnknownStudent, format!("{id} is not on this exam"))),
            Err(_) => Err(unavailable("cannot check the roster; retry")),
        }
    }

    /// A proctor's token, for an HTTP read of `exam`.
    pub async fn authenticate_proctor_of(
        &self,
        token: Option<&str>,
        exam: &vigil_proto::ExamId,
    ) -> Result<ProctorSession, Rejection> {
        let sess = self.authenticate_proctor(token).await?;
        if sess.rt.id() != exam {
            return Err(Rejection::new(RejectReason::Forbidden, "this token is for another exam"));
        }
        Ok(sess)
    }
}

/// Our fault, retryable.
pub fn unavailable(message: &str) -> Rejection {
    Rejection { reason: RejectReason::Unavailable, message: message.to_owned(), retry_after_ms: Some(1_000) }
}

/// Counts a refused handshake by reason.
pub fn count_refused_connect(r: &Rejection) {
    metrics::counter!(m::CONNECTS_REFUSED, "reason" => r.reason.as_str()).increment(1);
}
