//! vigil's network edge: the HTTP API (axum), the `/student` and
//! `/proctor` Socket.IO namespaces (socketioxide), evidence intake and
//! metrics. Decisions are delegated to `vigil-core`, persistence to
//! `vigil-store`.
//!
//! Like mini-redis, [`Server::bind`] takes its configuration and
//! [`Server::run`] takes a shutdown future, so the binary and the tests
//! start it the same way.

pub mod admin;
pub mod auth;
pub mod clock;
pub mod evidence;
pub mod exams;
pub mod fanout;
pub mod http;
pub mod ingest;
pub mod media;
pub mod metrics;
pub mod sockets;

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use socketioxide::SocketIo;
use vigil_core::evidence::EvidenceLimits;
use vigil_core::ledger::Limits;
use vigil_store::{Durability, Store, StoreConfig, StoreError};

use crate::admin::Admin;
use crate::auth::{KeyError, Keys};
use crate::exams::ExamRegistry;
use crate::fanout::Fanout;

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
    pub durability: Durability,
    pub limits: Limits,
    pub evidence: EvidenceLimits,
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
            durability: Durability::default(),
            limits: Limits::default(),
            evidence: EvidenceLimits::default(),
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
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppInner {
    pub store: Store,
    pub keys: Keys,
    pub admin: Admin,
    pub admin_token: String,
    pub exams: ExamRegistry,
    pub fanout: Arc<Fanout>,
    pub evidence_limits: EvidenceLimits,
    pub metrics: PrometheusHandle,
    /// The SFU, when live video is enabled.
    pub sfu: Option<vigil_sfu::Sfu>,
    io: OnceLock<SocketIo>,
}

#[derive(Debug, Clone)]
pub struct App(Arc<AppInner>);

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    pub fn io(&self) -> Option<&SocketIo> {
        self.io.get()
    }
}

pub struct Server {
    app: App,
    router: axum::Router,
    listener: std::net::TcpListener,
    tls: Option<TlsConfig>,
}

impl Server {
    /// Opens the store and keys, binds the HTTP port, and wires the routes.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let store =
            Store::open(&StoreConfig { data_dir: config.data_dir.clone(), durability: config.durability }).await?;
        let keys = Keys::load(&config.data_dir)?;
        let admin_token = auth::admin_token(&config.data_dir, config.admin_token.as_deref())?;
        let listener = std::net::TcpListener::bind(config.http)
            .map_err(|source| ServerError::Bind { addr: config.http, source })?;
        listener.set_nonblocking(true).map_err(|source| ServerError::Bind { addr: config.http, source })?;
        let local = listener.local_addr().map_err(|source| ServerError::Bind { addr: config.http, source })?;
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("{scheme}://{local}"));
        let sfu = match config.udp {
            None => None,
            Some(bind) => {
                let mut sfu_config = vigil_sfu::SfuConfig::new(bind);
                sfu_config.advertised = config.udp_advertised;
                // The SFU thread runs until every handle is dropped.
                let (sfu, _thread) = vigil_sfu::Sfu::start(sfu_config)?;
                Some(sfu)
            }
        };

        let app = App(Arc::new(AppInner {
            admin: Admin { store: store.clone(), keys: keys.clone(), public_url },
            exams: ExamRegistry::new(store.clone(), config.limits),
            store,
            keys,
            admin_token,
            fanout: Arc::new(Fanout::default()),
            evidence_limits: config.evidence,
            metrics: metrics::install(),
            sfu,
            io: OnceLock::new(),
        }));
        let (layer, io) = SocketIo::builder()
            .with_state(app.clone())
            // A proctor of a large exam receives many updates a second; the
            // default 128-packet buffer would drop them under bursts.
            .max_buffer_size(4096)
            .build_layer();
        sockets::register(&io);
        app.fanout.attach(io.clone());
        let _ = app.io.set(io);

        let router = http::router(app.clone(), config.web_dir.as_deref())
            .layer(layer)
            .layer(tower_http::trace::TraceLayer::new_for_http());
        Ok(Server { app, router, listener, tls: config.tls })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // Bound successfully in `bind`, so the address is known.
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The UDP address media goes to, when live video is enabled.
    pub fn media_addr(&self) -> Option<SocketAddr> {
        self.app.sfu.as_ref().map(vigil_sfu::Sfu::local_addr)
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Serves until `shutdown` resolves, then drains connections gracefully.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let Server { app, router, listener, tls } = self;
        tokio::spawn(app.fanout.clone().run_trailing());
        tokio::spawn(housekeeping(app.clone()));
        if let Some(sfu) = app.sfu.as_ref() {
            tokio::spawn(media::run_health(app.clone(), sfu.events()));
        }
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        match tls {
            None => {
                let listener = tokio::net::TcpListener::from_std(listener).map_err(ServerError::Serve)?;
                axum::serve(listener, service).with_graceful_shutdown(shutdown).await.map_err(ServerError::Serve)
            }
            Some(tls) => {
                let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                    .await
                    .map_err(ServerError::Tls)?;
                let handle = axum_server::Handle::new();
                let h = handle.clone();
                tokio::spawn(async move {
                    shutdown.await;
                    h.graceful_shutdown(Some(Duration::from_secs(10)));
                });
                axum_server::from_tcp_rustls(listener, rustls)
                    .map_err(ServerError::Serve)?
                    .handle(handle)
                    .serve(service)
                    .await
                    .map_err(ServerError::Serve)
            }
        }
    }
}

/// Periodic work that is cheap per exam: stalled heartbeats and evidence
/// retention.
async fn housekeeping(app: App) {
    let mut presence = tokio::time::interval(Duration::from_millis(250));
    presence.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_purge = std::time::Instant::now() - Duration::from_secs(3600);
    loop {
        presence.tick().await;
        sockets::tick_presence(&app).await;
        if last_purge.elapsed() >= Duration::from_secs(600) {
            last_purge = std::time::Instant::now();
            match app.store.purge_expired_evidence(clock::now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(frames = n, "purged evidence past retention"),
                Err(e) => tracing::warn!(error = %e, "evidence purge failed"),
            }
        }
    }
}
