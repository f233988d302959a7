//! Adapters between the network and the [`crate::service::Service`]: they
//! parse, call and map, and hold no rules of their own.
//!
//! - [`http`]: axum routes (admin API, proctor reads, evidence, health, metrics, web apps).
//! - [`sockets`]: the `/student` and `/proctor` Socket.IO namespaces (socketioxide).
//! - [`listener`]: the TCP listener with a connection cap and silence timeouts.
//! - [`serve`]: the accept loop (plain and TLS) with the TLS-handshake and request-head deadlines.
//! - [`lti`]: the LTI 1.3 endpoints (login, launch, JWKS) and their HTML pages.
//! - [`jwks_client`]: fetching platforms' key sets over HTTPS (reqwest), bounded.
//! - [`sio_fanout`]: the service's [`crate::service::fanout::Fanout`] over socketioxide rooms.

pub mod dispatch;
pub mod forward;
pub mod http;
pub mod jwks_client;
pub mod listener;
pub mod lti;
pub mod relay;
pub mod serve;
pub mod sio_fanout;
pub mod sockets;

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

/// The client's address: the TCP peer, or, when the peer is a trusted
/// reverse proxy, the last address in `X-Forwarded-For` that is not one of
/// the trusted proxies (earlier entries are whatever the client claimed).
/// Shared by the socket handshakes and the LTI endpoints' budgets.
pub(crate) fn client_address(extensions: &Extensions, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let hops: Vec<IpAddr> = forwarded.flat_map(|v| v.split(',')).filter_map(|h| h.trim().parse().ok()).collect();
    Some(hops.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(parts: &axum::http::request::Parts, trusted: &[IpAddr]) -> Option<IpAddr> {
        client_address(&parts.extensions, &parts.headers, trusted)
    }

    fn parts(peer: &str, forwarded: &[&str]) -> axum::http::request::Parts {
        let mut req = axum::http::Request::builder().uri("/socket.io/");
        for f in forwarded {
            req = req.header("x-forwarded-for", *f);
        }
        let (mut parts, ()) = req.body(()).expect("a request").into_parts();
        parts.extensions.insert(ConnectInfo::<SocketAddr>(peer.parse().expect("an address")));
        parts
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an ip")
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let proxy = [ip("10.0.0.1"), ip("10.0.0.2")];
        // An untrusted peer's header is the client's own claim: ignored.
        assert_eq!(ca(&parts("198.51.100.7:5000", &["1.2.3.4"]), &proxy), Some(ip("198.51.100.7")));
        // Through two trusted proxies: the last address neither of them is.
        let via = parts("10.0.0.1:5000", &["6.6.6.6, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(ca(&via, &proxy), Some(ip("203.0.113.9")));
        // A trusted proxy that sent no usable header: the proxy itself.
        assert_eq!(ca(&parts("10.0.0.1:5000", &["garbage"]), &proxy), Some(ip("10.0.0.1")));
        // No peer information at all: unknown.
        let (bare, ()) = axum::http::Request::builder().body(()).expect("a request").into_parts();
        assert_eq!(ca(&bare, &proxy), None);
    }
}
