//! Leaf helpers the service's modules share (no dependency on the rest of
//! the service, so that `exams` and `fanout` never import `mod.rs`).

use std::sync::Mutex;

/// Poisoning only follows a panic in another holder; the state itself is
/// still consistent (every critical section is a few assignments), so go on.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The service's own id for one connection (a socket), never a transport's:
/// it keys SFU peers and publication ownership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub(super) u64);

impl ConnectionId {
    /// The number inside, for a node that relays this connection's socket.
    pub fn raw(self) -> u64 {
        self.0
    }

    /// A connection another node made (see `transport::relay`).
    pub fn from_raw(raw: u64) -> Self {
        ConnectionId(raw)
    }
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}
