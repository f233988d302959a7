//! The `sdp` target: signalling on a sans-IO `Router`. Offers and
//! candidates are arbitrary text: the router's screening (`router/sdp.rs`)
//! and str0m's SDP and candidate parsers see whatever the fuzzer makes of
//! the seeds' real offers, in any order with the other commands.
//!
//! Input: a list of [`Op`]s in the format of [`crate::ops`]. Four students
//! and four proctors, chosen by index, so that publishing again, watching a
//! student who left and closing twice all happen.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use arbitrary::{Arbitrary, Unstructured};
use vigil_proto::events::WatchQuality;
use vigil_sfu::{PeerId, PublishOptions, PublisherId, Router, RouterConfig, SubscriberId};

use crate::ops;

/// The SFU's advertised address.
pub const SFU_ADDR: &str = "127.0.0.1:4000";
/// Ops read from one input: bounds the time one input may take (a
/// proctor's offer with the most slots takes str0m a few ms to answer).
pub const MAX_OPS: usize = 32;
/// Students and proctors in play.
const PEOPLE: u8 = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Publish {
        student: u8,
        offer: String,
    },
    Subscribe {
        proctor: u8,
        offer: String,
    },
    Candidate {
        peer: Who,
        candidate: String,
    },
    Watch {
        proctor: u8,
        slot: u8,
        student: u8,
        full: bool,
    },
    Unwatch {
        proctor: u8,
        slot: u8,
    },
    Close {
        peer: Who,
    },
    /// Time passes: the router's timers run as the driver would run them.
    Advance {
        ms: u16,
    },
}

/// A peer by role and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Student(u8),
    Proctor(u8),
}

impl Who {
    fn read(u: &mut Unstructured<'_>) -> Who {
        let b = ops::u8(u);
        if b & 0x80 == 0 { Who::Student(b % PEOPLE) } else { Who::Proctor(b % PEOPLE) }
    }

    fn byte(self) -> u8 {
        match self {
            Who::Student(i) => i,
            Who::Proctor(i) => 0x80 | i,
        }
    }

    fn peer(self) -> PeerId {
        match self {
            Who::Student(i) => PeerId::Publisher(publisher(i)),
            Who::Proctor(i) => PeerId::Subscriber(subscriber(i)),
        }
    }
}

impl<'a> Arbitrary<'a> for Op {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Op> {
        Ok(match ops::u8(u) % 7 {
            0 => Op::Publish { student: ops::u8(u) % PEOPLE, offer: ops::text(u) },
            1 => Op::Subscribe { proctor: ops::u8(u) % PEOPLE, offer: ops::text(u) },
            2 => Op::Candidate { peer: Who::read(u), candidate: ops::text(u) },
            3 => Op::Watch {
                proctor: ops::u8(u) % PEOPLE,
                slot: ops::u8(u),
                student: ops::u8(u) % PEOPLE,
                full: ops::bool(u),
            },
            4 => Op::Unwatch { proctor: ops::u8(u) % PEOPLE, slot: ops::u8(u) },
            5 => Op::Close { peer: Who::read(u) },
            _ => Op::Advance { ms: ops::u16(u) },
        })
    }
}

impl Op {
    /// Appends this op in the format `arbitrary` reads it from.
    pub fn write(&self, w: &mut ops::Writer) {
        match self {
            Op::Publish { student, offer } => w.op(0).u8(*student).payload(offer.as_bytes()),
            Op::Subscribe { proctor, offer } => w.op(1).u8(*proctor).payload(offer.as_bytes()),
            Op::Candidate { peer, candidate } => w.op(2).u8(peer.byte()).payload(candidate.as_bytes()),
            Op::Watch { proctor, slot, student, full } => w.op(3).u8(*proctor).u8(*slot).u8(*student).bool(*full),
            Op::Unwatch { proctor, slot } => w.op(4).u8(*proctor).u8(*slot),
            Op::Close { peer } => w.op(5).u8(peer.byte()),
            Op::Advance { ms } => w.op(6).u16(*ms),
        };
    }
}

/// Reads ops until the input ends (at most [`MAX_OPS`]).
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

pub fn publisher(i: u8) -> PublisherId {
    PublisherId::new("exam-1".parse().expect("a valid id"), format!("s{i}").parse().expect("a valid id"))
}

pub fn subscriber(i: u8) -> SubscriberId {
    SubscriberId::new("exam-1".parse().expect("a valid id"), format!("p{i}"))
}

/// Runs the router's timers up to `now`, as the driver does; bounded, so a
/// timer that keeps asking for `now` cannot hold an input forever.
pub fn run_timers(r: &mut Router, now: Instant) {
    for _ in 0..64 {
        if r.poll_timeout() > now {
            break;
        }
        r.handle_timeout(now);
    }
}

/// Drops what the router wants to send and tell.
pub fn drain(r: &mut Router) {
    while r.poll_transmit().is_some() {}
    while r.poll_event().is_some() {}
}

pub fn run(data: &[u8]) {
    let addr: SocketAddr = SFU_ADDR.parse().expect("a valid address");
    let t0 = Instant::now();
    let mut now = t0;
    let mut r = Router::new(RouterConfig::new(addr), t0, SystemTime::now());
    for op in parse(data) {
        match op {
            Op::Publish { student, offer } => {
                // Audio allowed: the offer's audio m-lines take their forwarding path too.
                let _ = r.publish(now, publisher(student), &offer, PublishOptions { audio: true });
            }
            Op::Subscribe { proctor, offer } => {
                if let Ok((_, mids)) = r.subscribe(now, subscriber(proctor), &offer) {
                    // Property: a proctor gets at least one slot, at most the maximum.
                    assert!(!mids.is_empty() && mids.len() <= RouterConfig::new(addr).max_slots, "{mids:?}");
                }
            }
            Op::Candidate { peer, candidate } => {
                let _ = r.add_candidate(now, &peer.peer(), &candidate);
            }
            Op::Watch { proctor, slot, student, full } => {
                let quality = if full { WatchQuality::Full } else { WatchQuality::Thumbnail };
                let _ = r.watch(now, &subscriber(proctor), u32::from(slot), publisher(student), quality);
            }
            Op::Unwatch { proctor, slot } => {
                let _ = r.unwatch(now, &subscriber(proctor), u32::from(slot));
            }
            Op::Close { peer } => {
                let _ = r.close(&peer.peer());
            }
            Op::Advance { ms } => {
                now += Duration::from_millis(u64::from(ms));
                run_timers(&mut r, now);
            }
        }
        drain(&mut r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip() {
        let ops = vec![
            Op::Publish { student: 1, offer: "v=0\r\n".into() },
            Op::Subscribe { proctor: 3, offer: String::new() },
            Op::Candidate { peer: Who::Proctor(2), candidate: "candidate:1 1 udp 1 10.0.0.1 9 typ host".into() },
            Op::Watch { proctor: 3, slot: 200, student: 1, full: true },
            Op::Unwatch { proctor: 0, slot: 1 },
            Op::Close { peer: Who::Student(0) },
            Op::Advance { ms: 65535 },
        ];
        assert_eq!(parse(&encode(&ops)), ops);
    }
}
