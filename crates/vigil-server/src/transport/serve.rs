//! The accept loop of the HTTP server, plain and TLS alike: every connection
//! comes through the [`BoundedListener`] (the connection cap, the first-byte
//! and idle timeouts), then, for TLS, a handshake with a deadline, then hyper
//! with a deadline for each HTTP/1 request head.
//!
//! Why by hand: `axum::serve` builds hyper without a timer, so hyper's
//! header-read timeout never fires and a client that trickles one header
//! byte every few seconds holds its connection for ever; and it has no
//! connection cap. axum-server (which served TLS before) has no connection
//! cap and no deadline for the TLS handshake. Here both listeners get all of
//! them, in one place.
//!
//! Each request carries the peer address as
//! `axum::extract::ConnectInfo<SocketAddr>`, as
//! `Router::into_make_service_with_connect_info::<SocketAddr>()` would add it:
//! the socket handshake reads it for the per-address budget.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::Service;

use super::listener::{BoundedIo, BoundedListener, ConnectionLimits};

/// How long open connections get to finish once shutdown begins; the ones
/// still open then are closed.
pub const DRAIN: Duration = Duration::from_secs(10);

/// hyper's per-connection buffer for HTTP/1.1, each way (see `http`).
const HTTP1_MAX_BUF: usize = 64 * 1024;

/// Serves `router` on every connection `listener` accepts (over TLS when
/// `tls` is given) until `shutdown` resolves. Then it stops accepting, asks
/// every connection to finish (HTTP/1: close once the current response is
/// sent; HTTP/2: GOAWAY), waits at most [`DRAIN`] and closes the rest.
///
/// Connections upgraded to WebSocket have left hyper by then and are not
/// waited for (as under `axum::serve`); they end with the process.
pub async fn serve(
    mut listener: BoundedListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = *listener.limits();
    let tls = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(done) = connections.join_next(), if !connections.is_empty() => log_panic(done),
            (io, peer) = listener.accept() => {
                // Subscribed before the shutdown signal can be sent, so a
                // connection still in its TLS handshake sees it too.
                let watcher = graceful.watcher();
                connections.spawn(connection(io, peer, tls.clone(), router.clone(), limits, watcher));
            }
        }
    }
    // Close the listening socket: new connections are refused from now on.
    drop(listener);
    tracing::debug!(open = connections.len(), "draining HTTP connections");
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::debug!(open = connections.len(), "closing HTTP connections still open after the drain");
    }
    connections.abort_all();
    while let Some(done) = connections.join_next().await {
        log_panic(done);
    }
}

fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(error = %e, "an HTTP connection task panicked");
    }
}

/// One connection, from acceptance to close. Its failures (a timeout, a
/// reset, a bad handshake or request) are the client's and are logged at
/// debug only.
async fn connection(
    io: BoundedIo,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: ConnectionLimits,
    watcher: Watcher,
) {
    match tls {
        None => http(io, peer, router, limits, watcher).await,
        Some(acceptor) => match tokio::time::timeout(limits.tls_handshake, acceptor.accept(io)).await {
            Ok(Ok(stream)) => http(stream, peer, router, limits, watcher).await,
            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        },
    }
}

async fn http<I>(io: I, peer: SocketAddr, router: Router, limits: ConnectionLimits, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // What `into_make_service_with_connect_info::<SocketAddr>()` adds.
        req.extensions_mut().insert(ConnectInfo(peer));
        // A Router is always ready; `call` needs no `poll_ready` first.
        let mut router = router.clone();
        async move { Ok::<_, Infallible>(router.call(req).await.unwrap_or_else(|never| match never {})) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The whole request head within `header_read`, whatever the pace of its
    // bytes. hyper needs a timer for it, or the setting does nothing.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read);
    // hyper queues up to ~400 KiB of a response per connection before it
    // stops asking the body for more; at an exam start a thousand students
    // each download the models on several connections, and a client that
    // reads slowly left that much of every file in memory (2.1 GB of RSS in
    // a storm of 1,000 students in 10 s, docs/BENCHMARKS.md). 64 KiB is one
    // chunk of a served file; it also bounds a request head, far above any
    // a browser sends.
    builder.http1().max_buf_size(HTTP1_MAX_BUF);
    // HTTP/2 stays on (browsers negotiate it over TLS) but without RFC 8441
    // extended CONNECT, which axum::serve enables: browsers that see it
    // open their WebSockets as HTTP/2 streams, and socketioxide accepts
    // WebSockets only as HTTP/1.1 upgrades (it answers an extended CONNECT
    // with 400), so every socket would fail. Without it browsers open the
    // WebSocket on an HTTP/1.1 connection of its own. A test checks that
    // the setting stays off.
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

/// The TLS configuration from PEM files: the certificate chain (leaf first)
/// and its private key (PKCS#8, PKCS#1 or SEC1). The crypto provider is
/// aws-lc-rs, chosen here rather than left to a process-wide default. ALPN
/// offers HTTP/2 and HTTP/1.1.
pub async fn tls_config(cert: &Path, key: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let invalid =
        |path: &Path, what: String| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {what}", path.display()));
    let read = |path: &Path| {
        let path = path.to_owned();
        async move { tokio::fs::read(&path).await.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))) }
    };
    let cert_pem = read(cert).await?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(invalid(cert, "no certificate in the file".into()));
    }
    let key_pem = read(key).await?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| invalid(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| invalid(key, e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
