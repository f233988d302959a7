//! A small Socket.IO v5 client over WebSocket (engine.io protocol 4), for the
//! load generator.
//!
//! Why not a client crate: the maintained Rust client (rust_socketio) pulls
//! reqwest with native-tls into the build, and the load generator needs
//! thousands of lightweight connections with no TLS on loopback. The wire
//! format it needs is small: the engine.io open/ping/pong frames and the
//! Socket.IO CONNECT, EVENT and ACK packets, all as text frames.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, thiserror::Error)]
pub enum SioError {
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("connection refused by the server: {0}")]
    Refused(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("timed out")]
    Timeout,
    #[error("connection closed")]
    Closed,
    #[error("tcp: {0}")]
    Io(#[from] std::io::Error),
}

type AckMap = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// One connection to one namespace.
#[derive(Debug, Clone)]
pub struct SioClient {
    ns: String,
    out: mpsc::UnboundedSender<Message>,
    acks: AckMap,
    next_ack: Arc<AtomicU64>,
}

/// An event received from the server: name and first argument.
pub type Event = (String, Value);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SioClient {
    /// Connects to `base` (`http://host:port`) and joins namespace `ns` with
    /// the handshake `auth`. Events arrive on the returned receiver; it ends
    /// when the connection does.
    pub async fn connect(
        base: &str,
        ns: &str,
        auth: &Value,
    ) -> Result<(SioClient, mpsc::UnboundedReceiver<Event>), SioError> {
        SioClient::connect_from(base, ns, auth, None).await
    }

    /// [`SioClient::connect`] from the local address `local` (a simulated
    /// student's own address, so that `tc` can shape each student's link).
    pub async fn connect_from(
        base: &str,
        ns: &str,
        auth: &Value,
        local: Option<std::net::IpAddr>,
    ) -> Result<(SioClient, mpsc::UnboundedReceiver<Event>), SioError> {
        let ws_url = format!("{}/socket.io/?EIO=4&transport=websocket", base.replacen("http", "ws", 1));
        let ws = match local {
            None => tokio_tungstenite::connect_async(ws_url).await?.0,
            Some(ip) => {
                let host = base.split("://").nth(1).unwrap_or(base).split('/').next().unwrap_or_default();
                let server = tokio::net::lookup_host(host)
                    .await?
                    .next()
                    .ok_or_else(|| SioError::Protocol(format!("{host} resolves to no address")))?;
                let socket =
                    if ip.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
                socket.bind(std::net::SocketAddr::new(ip, 0))?;
                let stream = socket.connect(server).await?;
                let plain = tokio_tungstenite::MaybeTlsStream::Plain(stream);
                tokio_tungstenite::client_async(ws_url, plain).await?.0
            }
        };
        let (mut sink, mut stream) = ws.split();

        // Engine.io open packet: `0{"sid":…}`.
        match next_text(&mut stream).await? {
            t if t.starts_with('0') => {}
            other => return Err(SioError::Protocol(format!("expected an open packet, got {other:?}"))),
        }
        sink.send(Message::text(format!("40{ns},{auth}"))).await?;
        loop {
            let t = next_text(&mut stream).await?;
            if t == "2" {
                sink.send(Message::text("3")).await?;
            } else if let Some(rest) = t.strip_prefix(&format!("40{ns},")) {
                let _ = rest;
                break;
            } else if let Some(rest) = t.strip_prefix(&format!("44{ns},")) {
                let msg = serde_json::from_str::<Value>(rest)
                    .ok()
                    .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| rest.to_owned());
                return Err(SioError::Refused(msg));
            }
        }

        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let acks: AckMap = Arc::default();
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                let close = matches!(m, Message::Close(_));
                if sink.send(m).await.is_err() || close {
                    break;
                }
            }
        });
        let client = SioClient { ns: ns.to_owned(), out: out_tx.clone(), acks: acks.clone(), next_ack: Arc::default() };
        let ns = ns.to_owned();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(t) = msg else { continue };
                let t = t.as_str();
                if t == "2" {
                    let _ = out_tx.send(Message::text("3"));
                } else if let Some(body) = t.strip_prefix("42").and_then(|r| strip_ns(r, &ns)) {
                    if let Some(ev) = parse_event(body) {
                        let _ = ev_tx.send(ev);
                    }
                } else if let Some(body) = t.strip_prefix("43").and_then(|r| strip_ns(r, &ns)) {
                    if let Some((id, value)) = parse_ack(body)
                        && let Some(waiter) = lock(&acks).remove(&id)
                    {
                        let _ = waiter.send(value);
                    }
                } else if t.starts_with("41") || t.starts_with('1') {
                    break;
                }
            }
            // Dropping the senders ends the event stream and fails pending acks.
            lock(&acks).clear();
        });
        Ok((client, ev_rx))
    }

    pub fn emit(&self, event: &str, data: &Value) -> Result<(), SioError> {
        let frame = format!("42{},{}", self.ns, Value::Array(vec![Value::from(event), data.clone()]));
        self.out.send(Message::text(frame)).map_err(|_| SioError::Closed)
    }

    pub async fn emit_with_ack(&self, event: &str, data: &Value, timeout: Duration) -> Result<Value, SioError> {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.acks).insert(id, tx);
        let frame = format!("42{},{id}{}", self.ns, Value::Array(vec![Value::from(event), data.clone()]));
        if self.out.send(Message::text(frame)).is_err() {
            lock(&self.acks).remove(&id);
            return Err(SioError::Closed);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(SioError::Closed),
            Err(_) => {
                lock(&self.acks).remove(&id);
                Err(SioError::Timeout)
            }
        }
    }

    pub fn close(&self) {
        let _ = self.out.send(Message::text(format!("41{},", self.ns)));
        let _ = self.out.send(Message::Close(None));
    }
}

async fn next_text<S>(stream: &mut S) -> Result<String, SioError>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.next()).await {
            Err(_) => return Err(SioError::Timeout),
            Ok(None) => return Err(SioError::Closed),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.as_str().to_owned()),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// `"/ns,rest"` → `"rest"` for our namespace; anything else is not ours.
fn strip_ns<'a>(packet: &'a str, ns: &str) -> Option<&'a str> {
    packet.strip_prefix(ns)?.strip_prefix(',')
}

/// `[ "name", arg ]` → (name, arg). A leading ack id (server asking for an
/// ack) is skipped: the load generator never acknowledges server events.
fn parse_event(body: &str) -> Option<Event> {
    let json = body.trim_start_matches(|c: char| c.is_ascii_digit());
    let mut arr = match serde_json::from_str::<Value>(json).ok()? {
        Value::Array(a) => a,
        _ => return None,
    };
    if arr.is_empty() {
        return None;
    }
    let name = arr.remove(0).as_str()?.to_owned();
    Some((name, arr.into_iter().next().unwrap_or(Value::Null)))
}

/// `17[ value ]` → (17, value).
fn parse_ack(body: &str) -> Option<(u64, Value)> {
    let digits = body.find(|c: char| !c.is_ascii_digit())?;
    let id = body[..digits].parse().ok()?;
    match serde_json::from_str::<Value>(&body[digits..]).ok()? {
        Value::Array(a) => Some((id, a.into_iter().next().unwrap_or(Value::Null))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_and_acks() {
        assert_eq!(parse_event(r#"["score",{"seq":1}]"#), Some(("score".into(), serde_json::json!({"seq":1}))));
        assert_eq!(parse_event(r#"5["x"]"#), Some(("x".into(), Value::Null)));
        assert_eq!(parse_event("[]"), None);
        assert_eq!(parse_event("garbage"), None);
        assert_eq!(parse_ack(r#"17[{"status":"accepted"}]"#), Some((17, serde_json::json!({"status":"accepted"}))));
        assert_eq!(parse_ack("x"), None);
        assert_eq!(strip_ns("/student,[1]", "/student"), Some("[1]"));
        assert_eq!(strip_ns("/proctor,[1]", "/student"), None);
    }
}
