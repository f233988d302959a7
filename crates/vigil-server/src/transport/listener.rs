//! The TCP listener the HTTP server (plain and TLS) accepts through: a cap
//! on open connections, and timeouts for connections that send nothing.
//!
//! Without a cap a few hundred idle sockets use up the process's file
//! descriptors so that nobody else is answered. At the cap the listener stops
//! accepting, and new connections wait in the kernel's accept backlog until
//! one closes. A connection must send its first byte within `first_byte` (a
//! slow or silent client), and after that may stay silent at most `idle` in
//! either direction. Live Socket.IO connections are never idle that long: the
//! server pings every 25 s and the client answers. The deadlines above the
//! byte stream (TLS handshake, request head) are set in
//! [`super::serve`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Connection limits of the HTTP listener (plain and TLS alike).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections at once; more wait in the kernel's accept backlog.
    pub max_connections: usize,
    /// How long a new connection may take to send its first byte.
    pub first_byte: Duration,
    /// How long an established connection may send and receive nothing.
    pub idle: Duration,
    /// How long a TLS handshake may take, from the connection's acceptance.
    pub tls_handshake: Duration,
    /// How long an HTTP/1 request head (request line and every header) may
    /// take to arrive in full. The clock starts when the server waits for a
    /// request: on a new connection (after the TLS handshake), and again
    /// after each response, so it is also the keep-alive timeout.
    pub header_read: Duration,
}

impl ConnectionLimits {
    /// Defaults that leave room under the process's open-file limit for the
    /// database, evidence files and the SFU socket.
    pub fn for_this_process() -> Self {
        const HEADROOM: usize = 64;
        let max_connections = open_file_limit().map_or(4_096, |n| n.saturating_sub(HEADROOM).max(16));
        ConnectionLimits {
            max_connections,
            first_byte: Duration::from_secs(10),
            idle: Duration::from_secs(90),
            tls_handshake: Duration::from_secs(10),
            header_read: Duration::from_secs(10),
        }
    }
}

/// The soft `RLIMIT_NOFILE`, read from `/proc` (no unsafe call needed).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

pub struct BoundedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    limits: ConnectionLimits,
}

impl BoundedListener {
    pub fn new(inner: TcpListener, limits: ConnectionLimits) -> Self {
        BoundedListener { inner, slots: Arc::new(Semaphore::new(limits.max_connections.max(1))), limits }
    }

    /// The next connection, with its place under the cap. Cancel-safe: a
    /// dropped call has taken no place and accepted nothing.
    pub async fn accept(&mut self) -> (BoundedIo, SocketAddr) {
        // At the cap, wait for a connection to close before accepting. The
        // semaphore is never closed, so the permit is always granted.
        let permit = self.slots.clone().acquire_owned().await.ok();
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (BoundedIo::new(stream, permit, self.limits), addr);
                }
                Err(e) => {
                    // Out of descriptors or a connection reset before accept:
                    // back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }
}

/// A connection that holds its place under the cap and closes when silent.
pub struct BoundedIo {
    stream: TcpStream,
    _slot: Option<OwnedSemaphorePermit>,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl BoundedIo {
    fn new(stream: TcpStream, slot: Option<OwnedSemaphorePermit>, limits: ConnectionLimits) -> Self {
        let deadline = Box::pin(tokio::time::sleep(limits.first_byte));
        BoundedIo { stream, _slot: slot, idle: limits.idle, deadline }
    }

    fn touch(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// Whether the connection has been silent too long (registers the waker
    /// for the deadline when not).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the connection was silent too long")
}

impl AsyncRead for BoundedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.stream).poll_read(cx, buf);
        match res {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for BoundedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.stream).poll_write(cx, data);
        match res {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
