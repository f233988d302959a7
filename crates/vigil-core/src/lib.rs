//! The referee: everything the server decides about what a student sends,
//! as pure code with no I/O.
//!
//! Callers feed inputs and the current time (`now`, Unix ms) and get
//! decisions back, in the style of str0m and quinn-proto: the server owns
//! sockets, storage and clocks; this crate owns the rules. That keeps every
//! rule testable without a network and replayable after a restart.
//!
//! - [`ledger`]: one student's accepted incidents: validation, dedupe,
//!   sequence anti-replay, rate limiting and the score.
//! - [`score`]: the decaying weighted score.
//! - [`coalesce`]: leading-edge throttle for score fan-out.
//! - [`presence`]: heartbeats to live / stalled / offline.
//! - [`evidence`]: evidence-frame checks (JPEG decode, limits, time window).
//! - [`rate`]: token buckets.
//! - [`signals`]: detection quality from continuous signals.
//! - [`worker`]: the inference worker's health from heartbeats.
//! - [`actions`]: proctor action rules.
//! - [`settings`]: which settings changes an open exam still accepts.
//! - [`session`]: one student's exam session: states, transitions, clock.
//! - [`chat`]: what a chat message may say, and how often.
//! - [`review`]: after the exam: review priority, the score curve, decision rules.
//! - [`placement`]: which node of a cluster holds an exam (leases, choice, tenure).
//! - [`uplink`]: the uplink probe: its limits, and a body's arrival into a rate.

pub mod actions;
pub mod chat;
pub mod coalesce;
pub mod evidence;
pub mod ledger;
pub mod placement;
pub mod presence;
pub mod rate;
pub mod replay;
pub mod review;
pub mod score;
pub mod session;
pub mod settings;
pub mod signals;
pub mod uplink;
pub mod worker;

pub use vigil_proto as proto;
