//! Which vigil node holds an exam's live state, when several nodes share one
//! database (issue 15).
//!
//! One node at a time owns an exam: its ledgers, sessions, presence, chat
//! numbering and its SFU peers. Other nodes relay their sockets to it. The
//! ownership is a lease recorded in the database; the owner renews all its
//! leases every [`RENEW_EVERY_MS`], and a lease not renewed for
//! [`LEASE_MS`] may be taken by any node. These are the rules, fed the
//! stored rows and the time; the server reads and writes the rows.
//!
//! A node stops serving an exam on its own once its lease could have run
//! out ([`Tenure`]): a node cut off from the database must not keep
//! acknowledging incidents while another node has taken the exam over.

use std::fmt;
use std::str::FromStr;

use crate::proto::UnixMillis;

/// How long a placement holds without renewal.
pub const LEASE_MS: i64 = 6_000;

/// How often a node renews its leases and says it is alive.
pub const RENEW_EVERY_MS: i64 = 2_000;

/// A node not heard from for this long is not given new exams.
pub const NODE_ALIVE_MS: i64 = LEASE_MS;

/// A node stops serving this long before its lease could run out, so that
/// clock drift between nodes (NTP keeps it far below this) cannot make two
/// owners at once.
pub const TENURE_MARGIN_MS: i64 = 1_000;

/// One vigil process in a cluster: random for each start, so a restarted
/// node never mistakes its predecessor's leases for its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a node id is 1 to 64 characters of [A-Za-z0-9_-]")]
pub struct BadNodeId;

impl FromStr for NodeId {
    type Err = BadNodeId;
    fn from_str(s: &str) -> Result<Self, BadNodeId> {
        let ok =
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok { Ok(NodeId(s.to_owned())) } else { Err(BadNodeId) }
    }
}

impl NodeId {
    /// A fresh id from 64 random bits (given, so this module stays pure).
    pub fn from_random(bits: u64) -> NodeId {
        NodeId(format!("n{bits:016x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored placement: `node` holds the exam until `expires_at`; `epoch`
/// grows by one each time the exam changes hands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub node: NodeId,
    pub epoch: i64,
    pub expires_at: UnixMillis,
}

/// A live node and how many exams it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLoad {
    pub node: NodeId,
    pub exams: u32,
}

/// Who serves an exam now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This node.
    Me,
    /// Another node, alive as far as its lease says.
    Other(NodeId),
    /// Nobody: never placed, or the lease ran out.
    Nobody,
}

/// Reads a stored lease from `me`'s point of view at `now`.
pub fn owner(lease: Option<&Lease>, me: &NodeId, now: UnixMillis) -> Owner {
    match lease {
        Some(l) if l.expires_at > now => {
            if &l.node == me {
                Owner::Me
            } else {
                Owner::Other(l.node.clone())
            }
        }
        _ => Owner::Nobody,
    }
}

/// Where a new (or orphaned) exam goes: the live node holding the fewest
/// exams, so exams spread as nodes join; on a tie this node, which saves a
/// hop for the client that asked; then the lowest id, so that two nodes
/// choosing at once mostly agree. `me` is always a candidate: a node asking
/// is alive even if its own heartbeat row is late.
pub fn choose_node(me: &NodeId, live: &[NodeLoad]) -> NodeId {
    let mine = live.iter().find(|n| &n.node == me).map_or(0, |n| n.exams);
    let mut best = (mine, false, me.clone());
    for n in live.iter().filter(|n| &n.node != me) {
        // Ordered by (load, not-me, id): `false` (me) sorts first.
        let candidate = (n.exams, true, n.node.clone());
        if candidate < best {
            best = candidate;
        }
    }
    best.2
}

/// The lease a renewal at `now` gives.
pub fn renewed_until(now: UnixMillis) -> UnixMillis {
    now + LEASE_MS
}

/// How long this node may go on serving its exams: until its last renewal
/// could have run out, less a margin. A renewal that fails leaves the tenure
/// as it was, so a node cut off from the database stops on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tenure {
    serve_until: UnixMillis,
}

impl Tenure {
    /// A renewal that began at `started` (before the write, so the lease it
    /// wrote is at least this long) went through.
    pub fn renewed(&mut self, started: UnixMillis) {
        self.serve_until = self.serve_until.max(renewed_until(started) - TENURE_MARGIN_MS);
    }

    /// Whether the exams this node holds may still be served at `now`.
    pub fn valid(&self, now: UnixMillis) -> bool {
        now < self.serve_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        s.parse().unwrap()
    }

    fn load(node: &str, exams: u32) -> NodeLoad {
        NodeLoad { node: id(node), exams }
    }

    #[test]
    fn node_ids_are_parsed() {
        assert!("n0123abcd".parse::<NodeId>().is_ok());
        assert!("node-a_1".parse::<NodeId>().is_ok());
        for bad in ["", "a b", "a:b", "é", &"x".repeat(65)] {
            assert_eq!(bad.parse::<NodeId>(), Err(BadNodeId), "{bad:?}");
        }
        assert_eq!(NodeId::from_random(0xab).as_str(), "n00000000000000ab");
    }

    #[test]
    fn a_lease_belongs_to_its_node_until_it_runs_out() {
        let me = id("a");
        let lease = Lease { node: id("b"), epoch: 3, expires_at: 10_000 };
        assert_eq!(owner(Some(&lease), &me, 9_999), Owner::Other(id("b")));
        assert_eq!(owner(Some(&lease), &me, 10_000), Owner::Nobody);
        assert_eq!(owner(None, &me, 0), Owner::Nobody);
        let mine = Lease { node: me.clone(), ..lease };
        assert_eq!(owner(Some(&mine), &me, 5_000), Owner::Me);
        assert_eq!(owner(Some(&mine), &me, 10_001), Owner::Nobody);
    }

    #[test]
    fn new_exams_go_to_the_least_loaded_node_preferring_the_asker() {
        let me = id("m");
        assert_eq!(choose_node(&me, &[]), me, "alone");
        assert_eq!(choose_node(&me, &[load("m", 2), load("a", 1), load("z", 1)]), id("a"));
        assert_eq!(choose_node(&me, &[load("m", 1), load("a", 1)]), me, "a tie stays here");
        assert_eq!(choose_node(&me, &[load("a", 0)]), me, "missing from the list: counted as empty");
        assert_eq!(choose_node(&me, &[load("m", 3), load("a", 5)]), me);
    }

    #[test]
    fn exams_spread_evenly_as_they_are_placed() {
        // Three nodes place 30 exams, each asked in turn: 10 each.
        let nodes = [id("a"), id("b"), id("c")];
        let mut loads: Vec<NodeLoad> = nodes.iter().map(|n| NodeLoad { node: n.clone(), exams: 0 }).collect();
        for i in 0..30 {
            let chosen = choose_node(&nodes[i % 3], &loads);
            loads.iter_mut().find(|l| l.node == chosen).unwrap().exams += 1;
        }
        assert!(loads.iter().all(|l| l.exams == 10), "{loads:?}");
    }

    #[test]
    fn tenure_ends_before_the_lease_could_and_a_failed_renewal_does_not_extend_it() {
        let mut t = Tenure::default();
        assert!(!t.valid(0), "nothing renewed yet");
        t.renewed(1_000);
        assert!(t.valid(1_000 + LEASE_MS - TENURE_MARGIN_MS - 1));
        assert!(!t.valid(1_000 + LEASE_MS - TENURE_MARGIN_MS));
        // Renewals out of order never shorten it.
        t.renewed(500);
        assert!(t.valid(1_000 + LEASE_MS - TENURE_MARGIN_MS - 1));
        t.renewed(3_000);
        assert!(t.valid(3_000 + LEASE_MS - TENURE_MARGIN_MS - 1));
    }
}
