//! The accept loop against slow and idle clients, over plain HTTP and TLS:
//! a request head must arrive in full within `header_read` however steadily
//! its bytes trickle, a TLS handshake within `tls_handshake`, and the
//! connection cap holds for TLS too.
//!
//! Limits are small so that the tests are quick; the silence timeouts are
//! set well above the test's patience, so that a connection closed within
//! it was closed by the deadline under test. Nothing asserts that something
//! happened quickly, only that it happened (or, for the cap, had not yet).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use vigil_server::transport::listener::ConnectionLimits;
use vigil_server::{Server, ServerConfig, TlsConfig};

/// How long a test waits for something that must happen (real time;
/// generous for a loaded machine, never reached when the server works).
const PATIENCE: Duration = Duration::from_secs(20);
/// Longer than [`PATIENCE`]: a timeout this long never explains an outcome.
const NEVER: Duration = Duration::from_secs(120);
const SHORT: Duration = Duration::from_millis(300);

/// Limits under which only the deadlines a test shortens can close anything.
fn patient_limits(limits: &mut ConnectionLimits) {
    limits.first_byte = NEVER;
    limits.idle = NEVER;
    limits.tls_handshake = NEVER;
    limits.header_read = NEVER;
}

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(tls: Option<&SelfSigned>, limits: impl FnOnce(&mut ConnectionLimits)) -> Running {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut config = ServerConfig::new(dir.path().to_owned(), "127.0.0.1:0".parse().expect("an address"));
        config.admin_token = Some("admin".into());
        config.tls = tls.map(|t| TlsConfig { cert: t.cert.clone(), key: t.key.clone() });
        patient_limits(&mut config.connections);
        limits(&mut config.connections);
        let server = Server::bind(config).await.expect("the server binds");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the server runs");
        });
        Running { addr, stop: Some(stop), task: Some(task), _dir: dir }
    }

    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(PATIENCE, task).await.expect("the server stops").expect("the server stops cleanly");
        }
    }
}

/// A self-signed certificate for `localhost` in PEM files, and a client
/// that trusts it.
struct SelfSigned {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    roots: Arc<rustls::RootCertStore>,
}

impl SelfSigned {
    fn new() -> SelfSigned {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
        let dir = tempfile::tempdir().expect("a temp dir");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).expect("cert written");
        std::fs::write(&key, certified.signing_key.serialize_pem()).expect("key written");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certified.cert.der().clone()).expect("a root");
        SelfSigned { _dir: dir, cert, key, roots: Arc::new(roots) }
    }

    fn connector(&self, alpn: &[&[u8]]) -> TlsConnector {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsConnector::from(Arc::new(config))
    }

    /// A TLS connection that has completed its handshake (HTTP/1.1 by ALPN).
    async fn connect(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        self.connect_alpn(addr, &[b"http/1.1"]).await
    }

    async fn connect_alpn(&self, addr: SocketAddr, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(addr).await.expect("connects");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
        self.connector(alpn).connect(name, tcp).await.expect("the TLS handshake completes")
    }
}

/// Sends `request` and reads the whole response (the request should say
/// `Connection: close`).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, request: &[u8]) -> String {
    stream.write_all(request).await.expect("request sent");
    stream.flush().await.expect("request sent");
    let mut response = Vec::new();
    // A TLS peer may close without close_notify: what arrived is kept.
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response)).await.expect("a response");
    String::from_utf8_lossy(&response).into_owned()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

/// Sends a request line, then one header byte every 100 ms for as long as
/// the server takes them. Returns what the server sent back before it
/// closed the connection (panics if it never does).
async fn trickle_head<S: AsyncRead + AsyncWrite + Send + 'static>(stream: S) -> Vec<u8> {
    let (mut rx, mut tx) = tokio::io::split(stream);
    let writer = tokio::spawn(async move {
        let mut sent = 0usize;
        if tx.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ").await.is_err() {
            return sent;
        }
        loop {
            if tx.write_all(b"a").await.is_err() || tx.flush().await.is_err() {
                return sent;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut received = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, rx.read_to_end(&mut received)).await;
    writer.abort();
    // Ok(_) is a close (with or without TLS close_notify), Err a reset.
    assert!(closed.is_ok(), "a connection trickling its request head stayed open for {PATIENCE:?}");
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_request_head_is_cut_though_never_silent() {
    let mut server = Running::start(None, |l| l.header_read = SHORT).await;
    let stream = TcpStream::connect(server.addr).await.expect("connects");
    let received = trickle_head(stream).await;
    assert!(received.is_empty(), "the trickled request got an answer: {:?}", String::from_utf8_lossy(&received));
    // The server itself is fine.
    let mut fresh = TcpStream::connect(server.addr).await.expect("connects");
    assert!(exchange(&mut fresh, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_head_within_the_deadline_is_answered() {
    // The first byte is due within 300 ms and the whole head within 5 s: a
    // head that takes longer than the first-byte deadline, in pieces, is fine.
    let mut server = Running::start(None, |l| {
        l.first_byte = SHORT;
        l.header_read = Duration::from_secs(5);
    })
    .await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    for piece in [&b"GET /healthz HTTP/1.1\r\n"[..], b"Host: localhost\r\n", b"Connection: close\r\n"] {
        stream.write_all(piece).await.expect("sent");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let response = exchange(&mut stream, b"\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_waiting_for_its_next_request_is_closed() {
    let mut server = Running::start(None, |l| l.header_read = SHORT).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.expect("sent");
    // The response, then nothing: the header deadline of the next request
    // runs out and the server closes (a read of 0 after the response).
    let mut received = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
    assert!(closed.is_ok(), "an idle keep-alive connection stayed open");
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_served_over_http1_and_http2() {
    let tls = SelfSigned::new();
    let mut server = Running::start(Some(&tls), |_| {}).await;
    let mut stream = tls.connect(server.addr).await;
    let response = exchange(&mut stream, HEALTHZ).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // HTTP/2 by ALPN, as browsers ask for it.
    let stream = tls.connect_alpn(server.addr, &[b"h2", b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("an HTTP/2 connection");
    let mut conn = std::pin::pin!(conn);
    let request = hyper::Request::get("https://localhost/healthz").body(String::new()).expect("a request");
    let response = tokio::time::timeout(PATIENCE, async {
        tokio::select! {
            response = sender.send_request(request) => response.expect("a response"),
            closed = conn.as_mut() => panic!("the HTTP/2 connection ended: {closed:?}"),
        }
    })
    .await
    .expect("in time");
    assert_eq!(response.status(), 200);
    // Socket.IO's WebSocket is an HTTP/1.1 upgrade only; a server that
    // offered WebSockets over HTTP/2 (RFC 8441) would have browsers try it.
    assert!(!conn.is_extended_connect_protocol_enabled());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_work_over_tls() {
    let tls = SelfSigned::new();
    let mut server = Running::start(Some(&tls), |_| {}).await;
    let mut stream = tls.connect(server.addr).await;
    let request = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n\
                   Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut byte)).await.expect("in time").expect("read");
        assert_eq!(n, 1, "closed before the end of the response head: {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // Engine.IO's open packet arrives over the upgraded stream.
    let mut frame = [0u8; 2];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut frame)).await.expect("in time").expect("a frame");
    assert_eq!(frame[0], 0x81, "a final text frame");
    drop(stream);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_that_never_finishes_is_cut() {
    let tls = SelfSigned::new();
    let mut server = Running::start(Some(&tls), |l| l.tls_handshake = SHORT).await;

    // Silent: no ClientHello at all.
    let mut silent = TcpStream::connect(server.addr).await.expect("connects");
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(PATIENCE, silent.read(&mut byte)).await;
    assert!(matches!(closed, Ok(Ok(0) | Err(_))), "a silent TLS client stayed connected: {closed:?}");

    // Trickling: a TLS record header, then one byte of its body every 100 ms.
    let trickler = TcpStream::connect(server.addr).await.expect("connects");
    let (mut rx, mut tx) = trickler.into_split();
    let writer = tokio::spawn(async move {
        if tx.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).await.is_err() {
            return;
        }
        while tx.write_all(&[0x01]).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut received = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, rx.read_to_end(&mut received)).await;
    writer.abort();
    assert!(closed.is_ok(), "a client trickling its ClientHello stayed connected");
    assert!(received.is_empty());

    // A real client still gets in.
    let mut stream = tls.connect(server.addr).await;
    assert!(exchange(&mut stream, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_request_head_is_cut_over_tls() {
    let tls = SelfSigned::new();
    let mut server = Running::start(Some(&tls), |l| l.header_read = SHORT).await;
    let stream = tls.connect(server.addr).await;
    let received = trickle_head(stream).await;
    assert!(received.is_empty(), "the trickled request got an answer: {:?}", String::from_utf8_lossy(&received));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds_for_tls() {
    let tls = SelfSigned::new();
    let mut server = Running::start(Some(&tls), |l| l.max_connections = 2).await;
    // Two handshaken, idle connections hold both places.
    let first = tls.connect(server.addr).await;
    let _second = tls.connect(server.addr).await;

    let third = {
        let connector = tls.connector(&[b"http/1.1"]);
        let addr = server.addr;
        tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await.expect("connects (into the backlog)");
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
            let mut stream = connector.connect(name, tcp).await.expect("the TLS handshake completes");
            exchange(&mut stream, HEALTHZ).await
        })
    };
    // Not answered while both places are taken (not even its handshake).
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!third.is_finished(), "a third connection was served past the cap");

    // One closes; the third gets its place and its answer.
    drop(first);
    let response = tokio::time::timeout(PATIENCE, third).await.expect("answered once a place freed").expect("ran");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.stop().await;
}

/// The accept loop on its own, with a route that shows what it is given.
mod accept_loop {
    use super::*;
    use axum::Router;
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use vigil_server::transport::listener::BoundedListener;
    use vigil_server::transport::serve::{serve, tls_config};

    fn router() -> Router {
        Router::new()
            .route("/peer", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    "done"
                }),
            )
    }

    async fn start(tls: Option<&SelfSigned>) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = tcp.local_addr().expect("an address");
        let mut limits = ConnectionLimits::for_this_process();
        patient_limits(&mut limits);
        let tls = match tls {
            Some(t) => Some(tls_config(&t.cert, &t.key).await.expect("the PEM files load")),
            None => None,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(BoundedListener::new(tcp, limits), router(), tls, async move {
            let _ = stopped.await;
        }));
        (addr, stop, task)
    }

    fn body(response: &str) -> &str {
        response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handlers_see_the_peer_address_as_connect_info() {
        let tls = SelfSigned::new();
        for tls in [None, Some(&tls)] {
            let (addr, stop, task) = start(tls).await;
            let request = b"GET /peer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
            let (local, response) = match tls {
                None => {
                    let mut stream = TcpStream::connect(addr).await.expect("connects");
                    (stream.local_addr().expect("an address"), exchange(&mut stream, request).await)
                }
                Some(tls) => {
                    let mut stream = tls.connect(addr).await;
                    (stream.get_ref().0.local_addr().expect("an address"), exchange(&mut stream, request).await)
                }
            };
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            assert_eq!(body(&response), local.to_string());
            let _ = stop.send(());
            tokio::time::timeout(PATIENCE, task).await.expect("stops").expect("ran");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_finishes_requests_in_flight_and_refuses_new_connections() {
        let (addr, stop, task) = start(None).await;
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        stream.write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n").await.expect("sent");
        // Also an idle connection, which must not hold the shutdown up.
        let _idle = TcpStream::connect(addr).await.expect("connects");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = stop.send(());
        // The request in flight is answered, then the connection is closed
        // (no keep-alive after shutdown began).
        let mut response = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response)).await.expect("closed").expect("read");
        let response = String::from_utf8_lossy(&response);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert_eq!(body(&response), "done");
        tokio::time::timeout(PATIENCE, task).await.expect("serve returns").expect("ran");
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
    }
}
