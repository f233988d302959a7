//! The `stun` target: datagrams from arbitrary source addresses into a
//! `Router` that has one publisher, and the STUN helpers the router
//! demultiplexes with (`is_stun`, `local_ufrag`).
//!
//! The publisher comes from a real str0m offer (`fuzz/fixtures`). Its ICE
//! credentials are drawn from str0m's non-cryptographic generator, which
//! [`World::new`] seeds, so they are the same on every run: the seed
//! corpus's binding requests (recorded from a real str0m client by
//! `examples/make_seeds.rs`) carry valid USERNAME and MESSAGE-INTEGRITY
//! attributes, str0m accepts them, and the router remembers the source
//! address. Everything after that (DTLS, SRTP, more STUN) reaches the peer's
//! `Rtc` from that address, so mutations are fuzzing str0m's ICE and DTLS
//! input paths rather than only the router's drop counters.
//!
//! Input: a list of [`Op`]s in the format of [`crate::ops`].

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use arbitrary::{Arbitrary, Unstructured};
use vigil_sfu::fuzzing::{is_stun, local_ufrag};
use vigil_sfu::{PublishOptions, Router, RouterConfig, SfuError};

use crate::ops;
use crate::sdp::{SFU_ADDR, drain, publisher, run_timers};

/// A str0m client's offer to publish one video track (VP8 only: a short
/// offer, as parsing it is much of what one input costs), from
/// `PUBLISHER_ADDR`.
pub const PUBLISHER_OFFER: &str = include_str!("../../fixtures/publisher-offer.sdp");
/// Where the fixture client sends from.
pub const PUBLISHER_ADDR: &str = "10.0.0.2:5000";
/// Seeds str0m's generator (fastrand) before the router makes its peers.
pub const ICE_SEED: u64 = 0x005E_ED0F_F022;
/// Ops read from one input.
pub const MAX_OPS: usize = 256;

/// The source addresses ops pick by index: the client, the same host on
/// another port, a stranger, and the client's port over IPv6.
pub fn fixed_sources() -> [SocketAddr; 4] {
    [PUBLISHER_ADDR, "10.0.0.2:5001", "10.0.0.9:7000", "[fd00::2]:5000"].map(|a| a.parse().expect("a valid address"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `Router::handle_datagram`.
    Datagram {
        from: Source,
        bytes: Vec<u8>,
    },
    /// `Router::handle_datagram_deferred`: one datagram of a batch.
    Deferred {
        from: Source,
        bytes: Vec<u8>,
    },
    /// `Router::flush`: the end of a batch.
    Flush,
    Advance {
        ms: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// One of [`fixed_sources`].
    Fixed(u8),
    Any(SocketAddr),
}

impl Source {
    fn read(u: &mut Unstructured<'_>) -> Source {
        let b = ops::u8(u);
        if b < 0xF0 {
            return Source::Fixed(b % 4);
        }
        let port = ops::u16(u);
        if b & 1 == 0 {
            let ip = Ipv4Addr::from([ops::u8(u), ops::u8(u), ops::u8(u), ops::u8(u)]);
            Source::Any(SocketAddr::new(ip.into(), port))
        } else {
            let ip = Ipv6Addr::from(std::array::from_fn::<u8, 16, _>(|_| ops::u8(u)));
            Source::Any(SocketAddr::new(ip.into(), port))
        }
    }

    fn write(self, w: &mut ops::Writer) {
        match self {
            Source::Fixed(i) => {
                w.u8(i);
            }
            Source::Any(SocketAddr::V4(a)) => {
                w.u8(0xF0).u16(a.port());
                for b in a.ip().octets() {
                    w.u8(b);
                }
            }
            Source::Any(SocketAddr::V6(a)) => {
                w.u8(0xF1).u16(a.port());
                for b in a.ip().octets() {
                    w.u8(b);
                }
            }
        }
    }

    pub fn addr(self) -> SocketAddr {
        match self {
            Source::Fixed(i) => fixed_sources()[usize::from(i) % 4],
            Source::Any(a) => a,
        }
    }
}

impl<'a> Arbitrary<'a> for Op {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Op> {
        Ok(match ops::u8(u) % 4 {
            0 => Op::Datagram { from: Source::read(u), bytes: ops::payload(u).to_vec() },
            1 => Op::Deferred { from: Source::read(u), bytes: ops::payload(u).to_vec() },
            2 => Op::Flush,
            _ => Op::Advance { ms: ops::u16(u) },
        })
    }
}

impl Op {
    pub fn write(&self, w: &mut ops::Writer) {
        match self {
            Op::Datagram { from, bytes } => {
                w.op(0);
                from.write(w);
                w.payload(bytes);
            }
            Op::Deferred { from, bytes } => {
                w.op(1);
                from.write(w);
                w.payload(bytes);
            }
            Op::Flush => {
                w.op(2);
            }
            Op::Advance { ms } => {
                w.op(3).u16(*ms);
            }
        }
    }
}

pub fn parse(data: &[u8]) -> Vec<Op> {
    ops::parse_list(data, MAX_OPS)
}

pub fn encode(ops: &[Op]) -> Vec<u8> {
    ops::encode_list(ops)
}

impl ops::WriteOp for Op {
    fn write_to(&self, w: &mut ops::Writer) {
        self.write(w);
    }
}

/// A router with the fixture publisher.
pub struct World {
    pub router: Router,
    pub t0: Instant,
    pub answer: String,
}

impl World {
    /// Seeds str0m's generator, then makes the router and its peer, so that
    /// the same offer always gets the same ICE credentials.
    pub fn new(t0: Instant, wall: SystemTime, publisher_offer: &str) -> Result<World, SfuError> {
        fastrand::seed(ICE_SEED);
        let mut router = Router::new(RouterConfig::new(SFU_ADDR.parse().expect("a valid address")), t0, wall);
        let answer = router.publish(t0, publisher(0), publisher_offer, PublishOptions::default())?;
        drain(&mut router);
        Ok(World { router, t0, answer })
    }

    /// The world of the committed fixture.
    pub fn fixture(t0: Instant) -> World {
        World::new(t0, SystemTime::now(), PUBLISHER_OFFER)
            .expect("the router accepts the fixture offer (regenerate it: see fuzz/README.md)")
    }
}

/// Properties of the STUN helpers on any datagram.
pub fn check_stun_helpers(buf: &[u8]) {
    let stun = is_stun(buf);
    if let Some(ufrag) = local_ufrag(buf) {
        assert!(stun, "a ufrag was read from a datagram that is not STUN");
        assert!(!ufrag.is_empty() && !ufrag.contains(':'));
        // It is a slice of the attribute area, not of the header.
        let start = ufrag.as_ptr() as usize - buf.as_ptr() as usize;
        assert!(start >= 20 + 4 && start + ufrag.len() <= buf.len(), "ufrag at {start}");
    }
}

pub fn run(data: &[u8]) {
    let ops = parse(data);
    let mut w = World::fixture(Instant::now());
    let mut now = w.t0;
    for op in ops {
        match op {
            Op::Datagram { from, bytes } => {
                check_stun_helpers(&bytes);
                w.router.handle_datagram(now, from.addr(), &bytes);
            }
            Op::Deferred { from, bytes } => {
                check_stun_helpers(&bytes);
                w.router.handle_datagram_deferred(now, from.addr(), &bytes);
            }
            Op::Flush => w.router.flush(now),
            Op::Advance { ms } => {
                now += Duration::from_millis(u64::from(ms));
                run_timers(&mut w.router, now);
            }
        }
        drain(&mut w.router);
        // Property: datagrams never make peers.
        assert!(w.router.peer_count() <= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip() {
        let ops = vec![
            Op::Datagram { from: Source::Fixed(1), bytes: vec![0, 1, 0, 0] },
            Op::Deferred { from: Source::Any("192.0.2.1:9".parse().unwrap()), bytes: vec![] },
            Op::Datagram { from: Source::Any("[2001:db8::1]:65535".parse().unwrap()), bytes: vec![0x80; 3] },
            Op::Flush,
            Op::Advance { ms: 250 },
        ];
        assert_eq!(parse(&encode(&ops)), ops);
    }

    #[test]
    fn the_fixture_peer_gets_the_same_credentials_every_time() {
        let creds =
            |sdp: &str| sdp.lines().filter(|l| l.starts_with("a=ice-ufrag:") || l.starts_with("a=ice-pwd:")).count();
        let (a, b) = (World::fixture(Instant::now()), World::fixture(Instant::now()));
        assert_eq!(creds(&a.answer), 2);
        let lines = |sdp: &str| sdp.lines().filter(|l| l.starts_with("a=ice-")).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(lines(&a.answer), lines(&b.answer));
    }
}
