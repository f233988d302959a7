//! vigil's network edge: the HTTP API (axum), the `/student` and
//! `/proctor` Socket.IO namespaces (socketioxide), evidence intake and
//! metrics. Decisions are delegated to `vigil-core`, persistence to
//! `vigil-store`.
//!
//! Like mini-redis, [`Server::bind`] takes its configuration and
//! [`Server::run`] takes a shutdown future, so the binary and the tests
//! start it the same way.

//! ## Layout (dependencies point down only)
//!
//! ```text
//! lib.rs (Server: wiring, tasks, shutdown)
//!   ├─ transport/   http (axum), sockets (socketioxide), sio_fanout
//!   │    └─ calls ─┐
//!   ├─ admin.rs    exams, rosters, join links (REST, CLI, demo)
//!   └─ service/    transport-agnostic: exams, ingest, evidence, live, media, fanout (trait)
//!        └─ vigil-core (rules), vigil-store, vigil-sfu, clock.rs
//! ```
//!
//! The service holds no transport type: connections are [`service::ConnectionId`]s
//! and events leave through [`service::fanout::Fanout`].

pub mod admin;
pub mod auth;
pub mod clock;
pub mod logging;
pub mod metrics;
pub mod report;
pub mod service;
pub mod transport;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use socketioxide::SocketIo;
use tokio::task::JoinHandle;
use vigil_core::evidence::EvidenceLimits;
use vigil_core::ledger::Limits;
use vigil_core::worker::WorkerWatchConfig;
use vigil_store::{Durability, Store, StoreConfig, StoreError};

use crate::admin::Admin;
use crate::auth::{KeyError, Keys};
use crate::clock::{Clock, SystemClock};
use crate::service::{Service, ServiceConfig};
use crate::transport::http::HttpState;
use crate::transport::relay::Relay;
use crate::transport::sio_fanout::{LateFanout, SioFanout};
use crate::transport::sockets::Relays;

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub http: SocketAddr,
    /// Base URL printed in join links; defaults to the bound address.
    pub public_url: Option<String>,
    pub tls: Option<TlsConfig>,
    /// Overrides the admin token generated into the data dir.
    pub admin_token: Option<String>,
    /// Where the built web apps live (`<dir>/student/dist`, `<dir>/dashboard/dist`).
    pub web_dir: Option<PathBuf>,
    /// UDP address of the SFU (one socket for all peers); `None` runs without live video.
    pub udp: Option<SocketAddr>,
    /// The media address peers are told, when it differs from `udp` (NAT, cloud).
    pub udp_advertised: Option<SocketAddr>,
    /// SFU workers: threads with a UDP socket each (ports `udp`, `udp`+1, …
    /// when `udp`'s port is fixed). An exam's peers all live on one.
    pub sfu_workers: usize,
    pub durability: Durability,
    /// Where the SQL state lives (SQLite in the data dir by default).
    pub database: vigil_store::DatabaseLocation,
    /// Where evidence frames and identity photos live (local disk by default).
    pub blobs: vigil_store::BlobLocation,
    pub limits: Limits,
    pub evidence: EvidenceLimits,
    /// The uplink probe's size and deadlines, and how many are read at once.
    pub uplink: vigil_core::uplink::ProbeLimits,
    pub uplink_probes_in_flight: usize,
    pub worker: WorkerWatchConfig,
    /// The service's time; tests pass a [`clock::ManualClock`].
    pub clock: Arc<dyn Clock>,
    /// Origins allowed to frame the web apps besides this one (the LMS).
    pub frame_ancestors: Vec<String>,
    /// When set, `/metrics` requires this bearer token.
    pub metrics_token: Option<String>,
    /// Socket handshakes per client address (IPv4, or IPv6 /64); `None`
    /// turns the limit off (a load generator that is one address).
    pub address_handshakes: Option<vigil_core::rate::RateLimit>,
    /// Reverse proxies whose `X-Forwarded-For` names the client address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// LTI login and launch requests per client address; `None` is no limit.
    pub lti_requests: Option<vigil_core::rate::RateLimit>,
    /// Open HTTP connections (plain and TLS), and their deadlines: first
    /// byte, silence, TLS handshake, request head (see `transport::serve`).
    pub connections: transport::listener::ConnectionLimits,
    /// Redis (`redis://…`): this node joins a cluster of nodes sharing the
    /// database; `None` serves every exam here.
    pub redis: Option<String>,
    /// Where the other nodes of the cluster reach this one's HTTP API
    /// (default: the bound address).
    pub node_url: Option<String>,
    /// Names the cluster's rooms in Redis, so that two clusters can share
    /// one Redis ([A-Za-z0-9_-], up to 64).
    pub cluster_name: String,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf, http: SocketAddr) -> Self {
        ServerConfig {
            data_dir,
            http,
            public_url: None,
            tls: None,
            admin_token: None,
            web_dir: None,
            udp: None,
            udp_advertised: None,
            sfu_workers: 1,
            durability: Durability::default(),
            database: vigil_store::DatabaseLocation::default(),
            blobs: vigil_store::BlobLocation::default(),
            limits: Limits::default(),
            evidence: EvidenceLimits::default(),
            uplink: vigil_core::uplink::ProbeLimits::default(),
            uplink_probes_in_flight: vigil_core::uplink::DEFAULT_PROBES_IN_FLIGHT,
            worker: WorkerWatchConfig::default(),
            clock: Arc::new(SystemClock),
            frame_ancestors: Vec::new(),
            metrics_token: None,
            address_handshakes: Some(service::DEFAULT_ADDRESS_HANDSHAKES),
            trusted_proxies: Vec::new(),
            lti_requests: Some(service::lti::DEFAULT_LTI_REQUESTS),
            connections: transport::listener::ConnectionLimits::for_this_process(),
            redis: None,
            node_url: None,
            cluster_name: "vigil".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("keys: {0}")]
    Keys(#[from] KeyError),
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("SFU: {0}")]
    Sfu(#[from] vigil_sfu::SfuError),
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error("LTI: {0}")]
    Lti(#[from] service::lti::FetchError),
    #[error("cluster: {0}")]
    Cluster(String),
}

/// The largest Socket.IO message (WebSocket message or frame, polling body).
pub const MAX_SOCKET_MESSAGE: usize = 256 * 1024;

/// How often evidence past its retention is deleted.
const RETENTION_EVERY_MS: i64 = 3_600_000;
/// Recorded packets waiting for the recorder at most: about a third of a
/// second of 1,000 recorded students' video (46 packets a second each).
const RECORD_QUEUE: usize = 16_384;

pub struct Server {
    service: Arc<Service>,
    admin: Admin,
    router: axum::Router,
    listener: std::net::TcpListener,
    tls: Option<TlsConfig>,
    connections: transport::listener::ConnectionLimits,
    sfu_thread: Option<vigil_sfu::SfuThreads>,
    /// Turns recorded students' video into stored segments (see
    /// `service::recording`); ends after the SFU, finishing its recordings.
    recorder: Option<std::thread::JoinHandle<()>>,
    lti: Arc<service::lti::LtiService>,
    /// Proctor actions to report to LTI platforms (`LtiService::run_acs`).
    acs_jobs: tokio::sync::mpsc::Receiver<service::acs::AcsJob>,
    /// Sockets relayed to and from the other nodes of a cluster.
    relay: Option<Arc<Relay>>,
}

impl Server {
    /// Opens the store and keys, binds the HTTP port, and wires the routes.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        // First: the SFU creates its metric handles when it starts, and a
        // handle made before the recorder exists records nothing.
        let metrics = metrics::install();
        let store = Store::open(&StoreConfig {
            data_dir: config.data_dir.clone(),
            durability: config.durability,
            database: config.database.clone(),
            blobs: config.blobs.clone(),
        })
        .await?;
        let keys = Keys::load(&config.data_dir)?;
        let admin_token = auth::admin_token(&config.data_dir, config.admin_token.as_deref())?;
        let listener = std::net::TcpListener::bind(config.http)
            .map_err(|source| ServerError::Bind { addr: config.http, source })?;
        listener.set_nonblocking(true).map_err(|source| ServerError::Bind { addr: config.http, source })?;
        let local = listener.local_addr().map_err(|source| ServerError::Bind { addr: config.http, source })?;
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("{scheme}://{local}"));
        let (sfu, sfu_thread) = match config.udp {
            None => (None, None),
            Some(bind) => {
                let mut sfu_config = vigil_sfu::SfuConfig::new(bind);
                sfu_config.advertised = config.udp_advertised;
                sfu_config.workers = config.sfu_workers;
                let (tap, feed) = vigil_sfu::RecordTap::channel(RECORD_QUEUE);
                sfu_config.recorder = Some(tap);
                let (sfu, thread) = vigil_sfu::Sfu::start(sfu_config)?;
                (Some((sfu, feed)), Some(thread))
            }
        };
        let (sfu, recorder) = match sfu {
            Some((sfu, feed)) => {
                let recorder = service::recording::RecorderThread {
                    feed,
                    sfu: sfu.downgrade(),
                    store: store.clone(),
                    clock: config.clock.clone(),
                    runtime: tokio::runtime::Handle::current(),
                };
                let thread = std::thread::Builder::new()
                    .name("vigil-recorder".into())
                    .spawn(move || recorder.run())
                    .map_err(ServerError::Serve)?;
                (Some(sfu), Some(thread))
            }
            None => (None, None),
        };

        if config.redis.is_some() && matches!(config.database, vigil_store::DatabaseLocation::Sqlite) {
            return Err(ServerError::Cluster(
                "a cluster (--redis) needs a database every node shares: pass --database postgres://…".into(),
            ));
        }
        let cluster = config.redis.as_ref().map(|_| service::placement::ClusterConfig {
            node: vigil_core::placement::NodeId::from_random(rand::random()),
            url: config.node_url.clone().unwrap_or_else(|| format!("{scheme}://{local}")),
        });
        let fanout = Arc::new(LateFanout::default());
        let service = Arc::new(Service::new(
            store.clone(),
            keys.clone(),
            config.clock.clone(),
            fanout.clone(),
            sfu,
            ServiceConfig {
                limits: config.limits,
                evidence: config.evidence,
                uplink: config.uplink,
                uplink_probes_in_flight: config.uplink_probes_in_flight,
                worker: config.worker,
                address_handshakes: config.address_handshakes,
                trusted_proxies: config.trusted_proxies.clone(),
                cluster: cluster.clone(),
                ..ServiceConfig::default()
            },
        ));
        // The first renewal before serving: this node may place exams on
        // itself only once it is known to the others.
        service.renew_placements().await;
        let admin = Admin { store, keys, public_url, clock: config.clock.clone() };
        let platform_client =
            Arc::new(transport::jwks_client::HttpJwksFetcher::new(transport::jwks_client::JWKS_TIMEOUT)?);
        let lti = Arc::new(
            service::lti::LtiService::start(
                admin.clone(),
                platform_client.clone(),
                platform_client,
                service::lti::LtiConfig {
                    requests_per_address: config.lti_requests,
                    trusted_proxies: config.trusted_proxies.clone(),
                },
            )
            .await?,
        );
        let (acs_queue, acs_jobs) = service::acs::AcsQueue::channel();
        service.report_actions_to(acs_queue);
        let relay_slot = Arc::new(std::sync::OnceLock::new());
        let http = Arc::new(HttpState {
            relay: relay_slot.clone(),
            service: service.clone(),
            admin: admin.clone(),
            admin_token,
            metrics,
            frame_ancestors: config.frame_ancestors.clone(),
            metrics_token: config.metrics_token.clone(),
            lti: lti.clone(),
        });
        let routes =
            transport::http::router(http, config.web_dir.as_deref()).layer(axum::middleware::from_fn_with_state(
                transport::forward::Forwarder::new(service.clone()),
                transport::forward::forward_to_holder,
            ));

        let (routes, relay) = match (&config.redis, cluster) {
            (Some(url), Some(cluster)) => {
                let name: vigil_core::placement::NodeId = config
                    .cluster_name
                    .parse()
                    .map_err(|_| ServerError::Cluster("a cluster name is 1 to 64 of [A-Za-z0-9_-]".into()))?;
                let (layer, relay) = cluster_sockets(url, &name, cluster.node, &service, &fanout).await?;
                let _ = relay_slot.set(relay.clone());
                (routes.layer(layer), Some(relay))
            }
            _ => {
                let (layer, io) = socket_settings(SocketIo::builder())
                    .with_state(service.clone())
                    .with_state(Relays(None))
                    .build_layer();
                // The local adapter has nothing to start.
                let [(), ()] = transport::sockets::register(&io);
                let out = Arc::new(SioFanout::default());
                out.attach(io);
                fanout.attach(out);
                (routes.layer(layer), None)
            }
        };
        let router = routes.layer(tower_http::trace::TraceLayer::new_for_http());
        Ok(Server {
            service,
            admin,
            router,
            listener,
            tls: config.tls,
            connections: config.connections,
            sfu_thread,
            recorder,
            lti,
            acs_jobs,
            relay,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // Bound successfully in `bind`, so the address is known.
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The UDP addresses media goes to (one per SFU worker), when live
    /// video is enabled.
    pub fn media_addrs(&self) -> Vec<SocketAddr> {
        self.service.sfu().map(vigil_sfu::Sfu::local_addrs).unwrap_or_default()
    }

    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    pub fn admin(&self) -> &Admin {
        &self.admin
    }

    /// Serves until `shutdown` resolves, then drains connections gracefully,
    /// stops every task it started and joins the SFU thread.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let Server {
            service,
            admin: _,
            router,
            listener,
            tls,
            connections,
            sfu_thread,
            recorder,
            lti,
            acs_jobs,
            relay,
        } = self;
        let mut tasks: Vec<JoinHandle<()>> = vec![
            tokio::spawn(service.coalesced_fanout().clone().run_trailing()),
            tokio::spawn(lti.run_acs(acs_jobs)),
            tokio::spawn(service.clone().run_presence()),
            tokio::spawn(service.clone().run_retention(RETENTION_EVERY_MS)),
            tokio::spawn(service.clone().run_placement()),
        ];
        if let Some(relay) = relay {
            tasks.push(tokio::spawn(relay.run_watch()));
        }
        if let Some(sfu) = service.sfu() {
            tasks.push(tokio::spawn(service.clone().run_media_health(sfu.events())));
        }
        let served = serve(router, listener, tls, connections, shutdown).await;
        // Hand this node's exams over at once rather than after the lease.
        service.release_placements().await;
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            // Aborted on purpose; a panic inside is worth a log line.
            if let Err(e) = t.await
                && e.is_panic()
            {
                tracing::error!(error = %e, "a server task panicked");
            }
        }
        if let Some(sfu) = service.sfu() {
            sfu.shutdown();
        }
        if let Some(thread) = sfu_thread {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("the SFU thread did not stop cleanly");
            }
        }
        // The SFU's queue to it is closed now: it stores what it was
        // recording and ends.
        if let Some(recorder) = recorder {
            let joined = tokio::task::spawn_blocking(move || recorder.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("the recorder thread did not stop cleanly");
            }
        }
        served
    }
}

async fn serve(
    router: axum::Router,
    listener: std::net::TcpListener,
    tls: Option<TlsConfig>,
    connections: transport::listener::ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let tls = match tls {
        None => None,
        Some(tls) => Some(transport::serve::tls_config(&tls.cert, &tls.key).await.map_err(ServerError::Tls)?),
    };
    let listener = tokio::net::TcpListener::from_std(listener).map_err(ServerError::Serve)?;
    let listener = transport::listener::BoundedListener::new(listener, connections);
    transport::serve::serve(listener, router, tls, shutdown).await;
    Ok(())
}

/// The Socket.IO settings every node uses, whatever its adapter.
fn socket_settings<A: socketioxide::adapter::Adapter>(
    builder: socketioxide::SocketIoBuilder<A>,
) -> socketioxide::SocketIoBuilder<A> {
    builder
        // A proctor of a large exam receives many updates a second; the
        // default 128-packet buffer would drop them under bursts.
        .max_buffer_size(4096)
        // No client message is near this (the largest is a proctor's SDP
        // offer with 16 slots, under 150 KiB). Without it a peer that has
        // not even authenticated can make the server buffer 64 MiB
        // WebSocket messages; polling bodies get the same cap.
        .ws_max_message_size(MAX_SOCKET_MESSAGE)
        .ws_max_frame_size(MAX_SOCKET_MESSAGE)
        .max_payload(MAX_SOCKET_MESSAGE as u64)
        // A connection that never names a namespace is closed.
        .connect_timeout(Duration::from_secs(10))
        // WebSocket only. A polling session is an `sid` in the query
        // string, and anyone who learns it can send as that connection
        // from anywhere; a WebSocket session is bound to its one TCP
        // connection. Both web apps use WebSocket from the start.
        .transports([socketioxide::TransportType::Websocket])
}

/// A cluster node's sockets: socketioxide's Redis adapter, so rooms span
/// the nodes, and the relay to the nodes that hold other exams, both on
/// one Redis connection.
async fn cluster_sockets(
    url: &str,
    cluster_name: &vigil_core::placement::NodeId,
    me: vigil_core::placement::NodeId,
    service: &Arc<Service>,
    fanout: &LateFanout,
) -> Result<
    (socketioxide::layer::SocketIoLayer<socketioxide_redis::RedisAdapter<socketioxide::adapter::Emitter>>, Arc<Relay>),
    ServerError,
> {
    use socketioxide_redis::drivers::redis::RedisDriver;
    use socketioxide_redis::{RedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
    let failed = |what: &str, e: &dyn std::fmt::Display| ServerError::Cluster(format!("{what}: {e}"));
    // The adapter's driver reads pub/sub messages as RESP3 pushes.
    let url = if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    };
    let client = redis::Client::open(url.as_str()).map_err(|e| failed("Redis URL", &e))?;
    let driver = tokio::time::timeout(Duration::from_secs(10), RedisDriver::new(&client))
        .await
        .map_err(|e| failed("connecting to Redis", &e))?
        .map_err(|e| failed("connecting to Redis", &e))?;
    let relay = Relay::start(me, driver.clone(), service.clone()).await.map_err(|e| failed("Redis relay", &e))?;
    let adapter = RedisAdapterCtr::new_with_driver(
        driver,
        RedisAdapterConfig::new().with_prefix(format!("{cluster_name}-socket.io")),
    );
    let (layer, io) = socket_settings(SocketIo::builder().with_adapter::<RedisAdapter<_>>(adapter))
        .with_state(service.clone())
        .with_state(Relays(Some(relay.clone())))
        .build_layer();
    for init in transport::sockets::register(&io) {
        init.await.map_err(|e| failed("subscribing the Socket.IO namespaces", &e))?;
    }
    let out = Arc::new(SioFanout::default());
    out.attach(io.clone());
    fanout.attach(out);
    relay.close_local_with(Box::new(move |exam| {
        let io = io.clone();
        Box::pin(async move {
            use vigil_proto::events::names;
            for (ns, room) in [
                (names::STUDENT_NS, transport::sio_fanout::exam_students_room(&exam)),
                (names::PROCTOR_NS, transport::sio_fanout::exam_room(&exam)),
            ] {
                if let Some(ns) = io.of(ns) {
                    let _ = ns.local().within(room).disconnect().await;
                }
            }
        })
    }));
    Ok((layer, relay))
}
