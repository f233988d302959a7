//! Adapters between the network and the [`crate::service::Service`]: they
//! parse, call and map, and hold no rules of their own.
//!
//! - [`http`]: axum routes (admin API, proctor reads, evidence, health, metrics, web apps).
//! - [`sockets`]: the `/student` and `/proctor` Socket.IO namespaces (socketioxide).
//! - [`listener`]: the TCP listener with a connection cap and silence timeouts.
//! - [`serve`]: the accept loop (plain and TLS) with the TLS-handshake and request-head deadlines.
//! - [`sio_fanout`]: the service's [`crate::service::fanout::Fanout`] over socketioxide rooms.

pub mod http;
pub mod listener;
pub mod serve;
pub mod sio_fanout;
pub mod sockets;
