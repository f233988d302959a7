//! # vigil-sfu: the selective forwarding unit
//!
//! Students publish their webcam over WebRTC; proctors watch whichever
//! students they choose. The SFU forwards encoded RTP and never decodes it:
//! its per-packet work is a map lookup, a header rewrite and SRTP.
//!
//! ## Shape
//!
//! * [`router::Router`] is the sans-IO core, in the style of `str0m::Rtc`
//!   and quinn-proto: it owns every peer's `Rtc` (str0m 0.25 in RTP mode,
//!   ICE-lite) and is fed datagrams and `Instant`s; it hands back transmits,
//!   [`SfuEvent`]s and the next deadline. It never reads a clock or touches
//!   a socket, so it can be driven on simulated time (see its tests). Its
//!   module folder is split by concern: peers and demultiplexing, SDP,
//!   slots, the forwarding path, timers, metrics.
//! * [`Sfu`] is the driver: one or more workers, each a thread that owns
//!   one UDP socket, the clock and a `Router`, plus a cheap cloneable handle
//!   whose methods queue commands for the worker holding the peer's exam
//!   and return a future of the reply.
//!
//! ## Signalling cannot stall forwarding
//!
//! Everything runs on the one thread, so signalling is bounded wherever a
//! client could make it expensive:
//!
//! * The command queue is bounded ([`SfuConfig::command_queue`]); a full
//!   queue answers [`SfuError::Busy`] at once instead of making the caller
//!   wait. The thread applies at most [`SfuConfig::commands_per_turn`]
//!   commands (and at most 2 ms of them) per loop turn, then reads the
//!   socket again, without waiting on it while commands are queued. With
//!   nothing to read and nothing queued it sleeps in epoll until a
//!   datagram, a command (whose sender rings the worker's eventfd) or its
//!   next timer: no polling.
//! * Offers are screened on the raw text before str0m parses them
//!   ([`SignallingLimits`]): size (8 KiB per permitted m-line), m-lines
//!   (a few for a publisher; for a proctor the slots, an audio m-line per
//!   slot, and two more) and candidates. str0m's answer time grows faster than the m-line count.
//!   The screen also refuses an offer in which one payload type means two
//!   things in two sections: str0m 0.25 panics on it, and a panic would end
//!   this thread and every peer with it.
//! * Remote candidates are capped per connection (16, offer and trickle
//!   together): str0m compares each new one with every stored one.
//! * Error messages reach clients, so none carries str0m's or a parser's
//!   text; that is logged at debug.
//!
//! ## Demultiplexing
//!
//! All peers of a worker share its UDP port. A datagram is routed by its source address
//! (`HashMap<SocketAddr, peer>`). The first datagram from an unknown address
//! is always a STUN binding request; its USERNAME starts with our ufrag,
//! which `HashMap<ufrag, peer>` resolves (see `stun.rs`). Only after str0m
//! accepted the request is the address remembered. No peer is ever asked
//! `accepts()`: the cost per datagram does not grow with the number of
//! peers. Unroutable or unparseable datagrams are dropped and counted
//! (`vigil_sfu_datagrams_dropped_total{reason}`).
//!
//! ## Timers
//!
//! Each peer's next str0m deadline sits in a `BTreeSet<(Instant, peer)>`;
//! `handle_timeout` pops only the expired ones. A peer's entry is replaced
//! whenever its deadline changes. A publisher's deadline that only serves
//! str0m's 33 ms NACK timer is pushed back 25 ms: its datagrams run that
//! check anyway, and at scale the timer woke peers more often than packets
//! arrived. A router tick every 250 ms runs the health
//! rules and layer re-selection; it is the one place that walks all
//! publishers, which is O(n) four times a second, not per packet.
//!
//! ## Directions are the authorisation boundary
//!
//! Authorisation (which proctor may watch whom) is the server's. The SFU
//! enforces the roles: a publisher's offer has every `sendrecv` forced to
//! `sendonly` (a `recvonly` m-line becomes `inactive`) before str0m sees it,
//! so the answer can only receive; a proctor's offer is forced to `recvonly`.
//! RTP that still arrives from a proctor is dropped and counted, and nothing
//! is ever written towards a publisher.
//!
//! ## Slots and rewriting
//!
//! A proctor offers K recvonly video transceivers (at most
//! [`SfuConfig::max_slots`]); each is a slot with one outgoing SSRC for the
//! life of the connection, however many students it shows (and, if the
//! proctor offered it, an audio m-line: see "Audio" below). `watch` binds a
//! slot to a [`PublisherId`] (by id, so a student's re-publish continues in
//! the same slot) and picks a layer; the SFU sends a PLI and keeps showing
//! the previous source until the new source's keyframe arrives (VP8: S=1,
//! PID=0, P=0; H.264: IDR/SPS, also in STAP-A and FU-A; see `keyframe.rs`).
//! At that keyframe [`rewrite::Rewriter`] fixes a sequence number offset (the
//! outgoing sequence continues by one) and a timestamp offset (the outgoing
//! clock advances by the wall time since the last packet), so the proctor's
//! jitter buffer sees one continuous stream. Requests are re-sent every
//! 500 ms while a slot waits. A proctor's own PLI/FIR is passed to the source
//! it currently sees.
//!
//! Forwarded packets are written `nackable`, so str0m answers the proctor's
//! NACKs from its RTX cache when RTX is negotiated (browsers and str0m
//! always offer it); str0m also sends NACKs to publishers for their losses.
//!
//! ## Audio
//!
//! A student's microphone is forwarded only if the caller says so for that
//! publication: [`Sfu::publish`] takes [`PublishOptions`], and with
//! `audio: false` (the default) whatever arrives on the audio m-line is
//! dropped and counted, never forwarded. The publisher's offer may carry one
//! audio m-line with Opus, forced send-only like the rest; only the first
//! Opus SSRC seen is forwarded (no simulcast for audio), so a second audio
//! m-line cannot make slots flip between two streams.
//!
//! A proctor's offer may carry recvonly audio m-lines beside its video
//! slots. They pair by order: the i-th audio m-line (counting audio m-lines
//! only, wherever they sit) belongs to video slot i. Slots beyond the audio
//! m-lines are silent; audio m-lines beyond the slots are rewritten
//! `inactive` before str0m sees the offer, so the answer says so; an audio
//! m-line the answer does not send Opus on leaves its slot silent rather
//! than refusing the offer. Paired audio m-lines do not count against the
//! proctor's m-line budget (each brings its own 8 KiB too).
//!
//! `watch` binds the slot's audio to the same student as its video. Audio
//! needs no keyframe: a slot's audio switches to a source at that source's
//! first packet, and the student being left stops reaching the slot at
//! once (the slot leaves their watcher list). A second [`rewrite::Rewriter`]
//! per slot, on Opus's 48 kHz clock, keeps the audio m-line's SSRC,
//! sequence numbers and timestamps continuous across switches, re-publishes
//! and `unwatch`. Audio is written non-nackable: browsers do not NACK Opus.
//! It feeds neither [`health`] (whose findings are about video) nor the
//! recording tap: recordings have no sound.
//!
//! ## Simulcast and layer choice
//!
//! Each SSRC a publisher sends is a layer (at most 4); layers are ranked by
//! their measured bitrate (1 s window) rather than by rid names, which
//! browsers spell differently. `Thumbnail` takes the lowest; `Full` takes the
//! highest whose rate ×1.15 fits the proctor's TWCC estimate from str0m's
//! BWE, re-evaluated every second. BWE is opt-in
//! ([`SfuConfig::bwe_initial_bps`]): with it off, `Full` is the top layer.
//!
//! ## Media health (★)
//!
//! [`health::MediaHealth`] is pure and fed only RTP arrivals and keyframe
//! requests with injected time. Per publisher it detects a stall (no video
//! for 3 s, or none at all within 10 s of publishing, connected or not), a
//! frame-rate collapse (< 3 fps over 5 s after ≥ 8), and missing keyframes
//! (none within 5 s of a request, once video flows). Findings leave as
//! [`SfuEvent::MediaHealth`] for the server to raise as incidents.
//!
//! ## Metrics
//!
//! Aggregate only: no series names a peer, exam, student or proctor
//! connection (ids would leak on /metrics, and each reconnect would start a
//! series that never goes away). Labels are bounded: `role`, `reason`,
//! `kind`, `layer`. `vigil_sfu_rtp_{in,out}_{packets,bytes}_total`,
//! `vigil_sfu_keyframe_requests_total{kind}`, `vigil_sfu_nacks_received_total`,
//! `vigil_sfu_slots{layer}` (watching slots by the layer they were given,
//! 0 = lowest rate), `vigil_sfu_peers{role}`,
//! `vigil_sfu_health_findings_total{kind}`, `vigil_sfu_loop_seconds`
//! (histogram), `vigil_sfu_audio_forwarded_packets_total` (audio packets
//! written towards proctors, also in `rtp_out`),
//! `vigil_sfu_audio_dropped_packets_total{reason}` (`not_allowed`: a
//! publication without audio permission; `second_stream`), drop counters, and
//! `vigil_sfu_signalling_refused_total{reason}` (offer_too_large,
//! too_many_mlines, too_many_candidates, bad_sdp, busy). Handles are
//! created once, with the router, so the per-packet cost is an atomic add.
//!
//! ## More than one core
//!
//! [`SfuConfig::workers`] routers run side by side, each on its own thread
//! with its own socket (its own port, advertised in its answers' candidate)
//! and its own offer thread. An exam is placed on a worker when its first
//! peer arrives (the worker with the fewest peers) and stays there while
//! peers of it keep arriving, so every publisher and proctor connection of
//! one exam shares a router and forwarding never crosses threads: a
//! proctor watches their own exam's students only. A watch across workers
//! is refused (`SfuError::OtherWorker`). One big exam therefore uses one
//! core for media; `sfu_saturate` measured over 100k packets received and
//! forwarded per second on one worker (docs/BENCHMARKS.md), about 1,000
//! students at 100 packets/s each.
//!
//! ## Not done yet
//!
//! * A slot's audio and video reach the browser as two separate tracks, not
//!   lip-synchronised by the SFU; after a switch the new student may be
//!   heard before their keyframe shows them.
//! * An exam's media uses one worker (see above). Datagrams are read and
//!   sent with `recvmmsg`/`sendmmsg` in batches of up to 32 (Linux).
//! * NACKs towards a proctor without RTX are not answered (str0m only
//!   retransmits via RTX).
//! * VP8 picture ids and TL0PICIDX are not rewritten across a switch; the
//!   keyframe at the switch makes decoders accept the jump.
//! * The advertised address is one UDP host candidate; no TCP/TURN fallback.
//! * The command queue is shared: one client flooding it makes other
//!   clients' signalling `Busy` (forwarding is unaffected). Per-client rate
//!   limits belong to the server, which knows who is who.

mod driver;
mod error;
pub mod health;
pub mod keyframe;
pub mod record;
pub mod rewrite;
pub mod router;
mod stun;

/// Internals the fuzz targets in `fuzz/` call directly (feature `fuzzing`);
/// not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::stun::{is_stun, local_ufrag};
}

pub use driver::{Sfu, SfuConfig, SfuThreads, WeakSfu};
pub use error::SfuError;
pub use health::HealthConfig;
pub use record::{RecordFeed, RecordTap, RecordedPacket};
pub use router::{
    PeerId, PublishOptions, PublisherId, Router, RouterConfig, SfuEvent, SignallingLimits, SubscriberId, Transmit,
};
