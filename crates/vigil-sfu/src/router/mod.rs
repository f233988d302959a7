//! The sans-IO routing core: every peer's `Rtc`, the demultiplexer, the
//! deadline set, the watch slots and the health monitors.
//!
//! Nothing here reads a clock or touches a socket. The driver feeds
//! datagrams and `Instant`s in, and drains transmits, events and the next
//! timeout out, exactly like `str0m::Rtc` itself; tests can drive it on
//! simulated time.
//!
//! By concern:
//! * this file: the public types, peers coming and going (commands), the
//!   demultiplexer and draining each `Rtc`;
//! * `peer`: per-peer state by role and the accessors that pick a role;
//! * `prepare`: offers answered off the SFU thread (the peer's `Rtc`, its
//!   answer);
//! * `sdp`: offers (screened on the raw text, directions forced, m-lines
//!   read) and the signalling limits;
//! * `slots`: watch/unwatch, layer choice and keyframe requests;
//! * `forward`: the per-packet path;
//! * `timers`: the deadline set and the 250 ms tick;
//! * `metrics`: aggregate metric handles.

mod forward;
mod metrics;
mod peer;
mod prepare;
mod sdp;
mod slots;
#[cfg(test)]
mod tests;
mod timers;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use str0m::media::KeyframeRequestKind;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Reason, Rtc};
use vigil_proto::{ExamId, IncidentKind, StudentId, UnixMillis};

#[cfg(test)]
pub(crate) use self::prepare::peer_rtc_config;
pub use self::prepare::{OfferPreparer, PreparedPublisher, PreparedSubscriber};
pub use self::sdp::SignallingLimits;

use self::metrics::RouterMetrics;
use self::peer::{Peer, Peers, PubAudio, PubState, Role, SubState};
use self::sdp::Screened;
use self::timers::{Deadlines, NACK_SLACK, RATE_WINDOW, TICK};
use crate::SfuError;
use crate::health::{HealthConfig, HealthFinding, MediaHealth};
use crate::stun;

/// A student's camera publication. One per student per exam; publishing
/// again replaces the previous peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublisherId {
    pub exam: ExamId,
    pub student: StudentId,
}

impl PublisherId {
    pub fn new(exam: ExamId, student: StudentId) -> Self {
        PublisherId { exam, student }
    }
}

/// What one publication may do beyond publishing its camera, decided by the
/// caller (the server, from the exam's settings) for each `publish`. The
/// default allows nothing more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// Forward the publication's microphone (its Opus audio m-line) to the
    /// proctors watching it. Without it, audio the browser sends anyway is
    /// dropped and counted (`vigil_sfu_audio_dropped_packets_total`).
    pub audio: bool,
}

/// One proctor connection, watching students of `exam`: the exam places
/// it on a worker (see `Sfu`), and `connection` is an opaque id chosen by
/// the caller (the server uses its own connection id), only compared and
/// hashed, never parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriberId {
    pub exam: ExamId,
    pub connection: String,
}

impl SubscriberId {
    pub fn new(exam: ExamId, connection: impl Into<String>) -> Self {
        SubscriberId { exam, connection: connection.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerId {
    Publisher(PublisherId),
    Subscriber(SubscriberId),
}

impl PeerId {
    /// The exam the peer belongs to.
    pub fn exam(&self) -> &ExamId {
        match self {
            PeerId::Publisher(p) => &p.exam,
            PeerId::Subscriber(s) => &s.exam,
        }
    }
}

/// What the SFU tells the server.
#[derive(Debug, Clone, PartialEq)]
pub enum SfuEvent {
    /// A media-health finding to raise as a server-side incident.
    MediaHealth {
        publisher: PublisherId,
        kind: IncidentKind,
        at: UnixMillis,
        detail: String,
    },
    PeerConnected(PeerId),
    PeerClosed(PeerId),
}

#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// The address put in our ICE candidate: where peers send datagrams.
    pub candidate_addr: SocketAddr,
    /// Upper bound on recvonly video slots a proctor may offer.
    pub max_slots: usize,
    pub health: HealthConfig,
    /// Starting egress estimate for proctors; `None` disables BWE (then
    /// `Full` always gets the best layer).
    pub bwe_initial_bps: Option<u64>,
    /// Minimum gap between keyframe requests for one slot.
    pub keyframe_request_interval: Duration,
    /// What one connection may send in signalling (offer size, m-lines,
    /// candidates): everything it sends is handled on the SFU thread.
    pub limits: SignallingLimits,
    /// A peer whose connection has not come up by then is closed. Nobody
    /// else would close it when its answer never reached the client (the
    /// socket closed while the offer was being answered): a browser gives
    /// up on ICE after about 30 s, and a working one connects in seconds.
    pub connect_within: Duration,
    /// Where recorded publications' packets go; `None`: nothing is recorded.
    pub recorder: Option<crate::record::RecordTap>,
}

impl RouterConfig {
    pub fn new(candidate_addr: SocketAddr) -> Self {
        RouterConfig {
            candidate_addr,
            max_slots: 16,
            health: HealthConfig::default(),
            bwe_initial_bps: None,
            keyframe_request_interval: Duration::from_millis(500),
            limits: SignallingLimits::default(),
            connect_within: Duration::from_secs(60),
            recorder: None,
        }
    }
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// A peer's handle inside the router; never reused.
type Key = u64;

/// The router's maps, looked up several times per packet. foldhash instead
/// of std's SipHash: it is several times cheaper on short keys (addresses,
/// ids), and its per-process random seed keeps the hash unpredictable. The
/// keys clients choose (addresses, ufrags) only enter a map once str0m has
/// accepted the peer's traffic, so no client can fill a bucket at will.
pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

pub(super) fn fast_map<K, V>() -> FastMap<K, V> {
    FastMap::with_hasher(foldhash::fast::RandomState::default())
}

/// Runs one call into a peer's `Rtc`, turning a panic into `None`. str0m
/// 0.25 has panicked on input no browser sends (see `sdp::PayloadTypes`);
/// uncontained, a panic would end the SFU thread and every peer's media. The
/// caller then drops the peer (`Router::remove_panicked`), so no state the
/// panic left half-changed is used again; that is why asserting unwind
/// safety is sound here. On the forwarding path it showed no cost beyond
/// run-to-run noise (`forward_bench`, docs/BENCHMARKS.md).
fn contain<T>(call: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).ok()
}

/// Remembered addresses per peer; a peer trying more is misbehaving.
const MAX_ADDRS_PER_PEER: usize = 8;
/// Outputs drained from one `Rtc` per `drive`, so that a misbehaving peer
/// cannot hold the loop forever.
const MAX_OUTPUTS_PER_DRIVE: usize = 10_000;

pub struct Router {
    cfg: RouterConfig,
    /// Wall-clock reading paired with `epoch`, to stamp events without
    /// reading a clock.
    epoch: (Instant, SystemTime),
    next_key: Key,
    peers: Peers,
    by_addr: FastMap<SocketAddr, Key>,
    by_ufrag: FastMap<String, Key>,
    publishers: FastMap<PublisherId, Key>,
    subscribers: FastMap<SubscriberId, Key>,
    /// Slots showing or waiting for each student, by id so they survive a
    /// re-publish: (subscriber peer, slot index). Mirrored into the
    /// publisher's `PubState::watchers` for the packet path.
    watchers: FastMap<PublisherId, Vec<(Key, usize)>>,
    deadlines: Deadlines,
    next_tick: Instant,
    next_rate: Instant,
    /// Peers written to since the last flush (see `Peer::mark_dirty`).
    dirty: Vec<Key>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SfuEvent>,
    /// Scratch list for one publisher's health findings.
    findings: Vec<HealthFinding>,
    metrics: RouterMetrics,
    preparer: OfferPreparer,
}

impl Router {
    /// `now` and `wall` are the same moment on the two clocks.
    pub fn new(cfg: RouterConfig, now: Instant, wall: SystemTime) -> Self {
        Router {
            preparer: OfferPreparer::new(cfg.clone()),
            cfg,
            epoch: (now, wall),
            next_key: 1,
            peers: Peers::default(),
            by_addr: fast_map(),
            by_ufrag: fast_map(),
            publishers: fast_map(),
            subscribers: fast_map(),
            watchers: fast_map(),
            deadlines: Deadlines::default(),
            next_tick: now + TICK,
            next_rate: now + RATE_WINDOW,
            dirty: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            findings: Vec::new(),
            metrics: RouterMetrics::new(),
        }
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    // ------------------------------------------------------------ commands

    /// The preparer for this router's offers, to answer them on another
    /// thread (see `prepare`).
    pub fn preparer(&self) -> &OfferPreparer {
        &self.preparer
    }

    /// Prepares and accepts a student's offer here; returns the answer SDP.
    /// The driver prepares on another thread and calls `accept_publisher`.
    pub fn publish(
        &mut self,
        now: Instant,
        id: PublisherId,
        offer_sdp: &str,
        options: PublishOptions,
    ) -> Result<String, SfuError> {
        let prepared = self.preparer.publisher(now, offer_sdp)?;
        Ok(self.accept_publisher(now, id, prepared, options))
    }

    /// Inserts a prepared publisher, replacing the student's previous
    /// publication; returns the answer SDP. `options` are this
    /// publication's: a re-publish states them again.
    pub fn accept_publisher(
        &mut self,
        now: Instant,
        id: PublisherId,
        prepared: PreparedPublisher,
        options: PublishOptions,
    ) -> String {
        let PreparedPublisher { rtc, screened, answer, pt_codec, opus_pt, simulcast } = prepared;
        if let Some(old) = self.publishers.get(&id).copied() {
            self.remove_peer(old, false);
        }
        let st = PubState {
            id: id.clone(),
            pt_codec,
            audio: PubAudio::new(opus_pt, options.audio),
            layers: Vec::new(),
            health: MediaHealth::new(self.cfg.health.clone(), now),
            watchers: self.watchers.get(&id).cloned().unwrap_or_default(),
            recorded: None,
            recorded_ssrc: None,
            simulcast,
        };
        let key = self.insert_peer(rtc, Role::Pub(Box::new(st)), screened, now);
        self.publishers.insert(id, key);
        self.metrics.peers_pub.increment(1.0);
        answer
    }

    /// Records `id`'s current publication from now on: its packets go to the
    /// recorder (`RouterConfig::recorder`) until it ends.
    pub fn record_publisher(&mut self, id: &PublisherId) -> Result<(), SfuError> {
        if self.cfg.recorder.is_none() {
            return Err(SfuError::NotRecording);
        }
        let key = self.publishers.get(id).copied().ok_or(SfuError::UnknownPeer)?;
        let p = self.peers.get_mut(key).and_then(Peer::as_pub_mut).ok_or(SfuError::UnknownPeer)?;
        if p.recorded.is_none() {
            p.recorded = Some(std::sync::Arc::new(id.clone()));
        }
        Ok(())
    }

    /// Asks a recorded publisher for a key frame (a PLI on its recorded
    /// encoding): its recording lost a packet, or a segment is due. The
    /// recorder paces these; nothing is sent before the first packet.
    pub fn request_recording_keyframe(&mut self, now: Instant, id: &PublisherId) -> Result<(), SfuError> {
        let key = self.publishers.get(id).copied().ok_or(SfuError::UnknownPeer)?;
        let peer = self.peers.get_mut(key).ok_or(SfuError::UnknownPeer)?;
        let Some(ssrc) = peer.as_pub_mut().and_then(|p| p.recorded_ssrc) else {
            return Ok(());
        };
        let mut api = peer.rtc.direct_api();
        let Some(rx) = api.stream_rx(&ssrc) else {
            return Ok(());
        };
        rx.request_keyframe(KeyframeRequestKind::Pli);
        if let Some(p) = peer.as_pub_mut() {
            p.health.on_keyframe_requested(now);
        }
        self.metrics.keyframe_requested(KeyframeRequestKind::Pli);
        if peer.mark_dirty() {
            self.dirty.push(key);
        }
        Ok(())
    }

    /// Prepares and accepts a proctor's offer of recvonly video slots here,
    /// with the audio m-lines paired with them; returns the answer and the
    /// video slots' mids in order.
    pub fn subscribe(
        &mut self,
        now: Instant,
        id: SubscriberId,
        offer_sdp: &str,
    ) -> Result<(String, Vec<String>), SfuError> {
        let prepared = self.preparer.subscriber(now, offer_sdp)?;
        Ok(self.accept_subscriber(now, id, prepared))
    }

    /// Inserts a prepared subscriber, replacing the connection's previous
    /// one; returns the answer and the slots' mids in order.
    pub fn accept_subscriber(
        &mut self,
        now: Instant,
        id: SubscriberId,
        prepared: PreparedSubscriber,
    ) -> (String, Vec<String>) {
        let PreparedSubscriber { rtc, screened, answer, slots, codec_pt } = prepared;
        if let Some(old) = self.subscribers.get(&id).copied() {
            self.remove_peer(old, false);
        }
        let mids = slots.iter().map(|s| s.mid.to_string()).collect();
        let st = SubState { id: id.clone(), slots, codec_pt, estimate_bps: self.cfg.bwe_initial_bps };
        let key = self.insert_peer(rtc, Role::Sub(Box::new(st)), screened, now);
        self.subscribers.insert(id, key);
        self.metrics.peers_sub.increment(1.0);
        (answer, mids)
    }

    /// A trickled remote candidate. With ICE-lite we never send checks, so
    /// this only helps str0m accept traffic from the address early.
    pub fn add_candidate(&mut self, now: Instant, peer: &PeerId, candidate: &str) -> Result<(), SfuError> {
        let result = self.try_add_candidate(now, peer, candidate);
        if let Err(e) = &result {
            self.metrics.refusals.count(e);
        }
        result
    }

    fn try_add_candidate(&mut self, now: Instant, peer: &PeerId, candidate: &str) -> Result<(), SfuError> {
        let key = self.key_of(peer).ok_or(SfuError::UnknownPeer)?;
        let line = candidate.trim();
        if line.is_empty() {
            // End-of-candidates.
            return Ok(());
        }
        let max = self.cfg.limits.max_remote_candidates;
        let peer = self.peers.get_mut(key).ok_or(SfuError::UnknownPeer)?;
        // Refused before parsing: str0m compares each new candidate with
        // every stored one, so without a cap the n-th costs O(n).
        if peer.remote_candidates >= max {
            return Err(SfuError::TooManyCandidates { max });
        }
        if line.len() > sdp::MAX_CANDIDATE_LEN {
            return Err(SfuError::BadCandidate("longer than any ICE candidate line"));
        }
        let line = line.strip_prefix("a=").unwrap_or(line);
        let c = Candidate::from_sdp_string(line).map_err(|e| {
            tracing::debug!(error = %e, "candidate does not parse");
            SfuError::BadCandidate("not an ICE candidate line (RFC 8839, section 5.1)")
        })?;
        peer.remote_candidates += 1;
        peer.rtc.add_remote_candidate(c);
        self.drive(key, now);
        Ok(())
    }

    pub fn close(&mut self, peer: &PeerId) -> Result<(), SfuError> {
        let key = self.key_of(peer).ok_or(SfuError::UnknownPeer)?;
        self.remove_peer(key, true);
        Ok(())
    }

    // ------------------------------------------------------------ input

    /// One datagram from the socket.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, buf: &[u8]) {
        self.handle_datagram_deferred(now, source, buf);
        self.flush(now);
    }

    /// Like `handle_datagram`, but what it wrote towards proctors stays
    /// queued until `flush`. A driver reading datagrams in batches calls
    /// `flush` once per batch, so a proctor receiving several packets in one
    /// batch pays for one str0m timeout pass instead of one per packet.
    pub fn handle_datagram_deferred(&mut self, now: Instant, source: SocketAddr, buf: &[u8]) {
        let Some(key) = self.demux(source, buf) else {
            self.metrics.dropped_unknown.increment(1);
            return;
        };
        let Ok(recv) = Receive::new(Protocol::Udp, source, self.cfg.candidate_addr, buf) else {
            self.metrics.dropped_garbage.increment(1);
            return;
        };
        let Some(peer) = self.peers.get_mut(key) else {
            self.metrics.dropped_unknown.increment(1);
            return;
        };
        let Some(accepted) = contain(|| peer.rtc.handle_input(Input::Receive(now, recv))) else {
            self.remove_panicked(key);
            return;
        };
        if let Err(e) = accepted {
            tracing::debug!(error = %e, "datagram refused by peer");
            self.metrics.dropped_garbage.increment(1);
        } else if !peer.addrs.contains(&source) && peer.addrs.len() < MAX_ADDRS_PER_PEER {
            // Only addresses whose traffic str0m accepted are remembered.
            peer.addrs.push(source);
            if let Some(prev) = self.by_addr.insert(source, key)
                && prev != key
                && let Some(p) = self.peers.get_mut(prev)
            {
                p.addrs.retain(|a| *a != source);
            }
        }
        self.drive(key, now);
    }

    /// The peer a datagram is for. New addresses always start with a
    /// binding request; its USERNAME names the peer, so no peer has to be
    /// asked.
    fn demux(&self, source: SocketAddr, buf: &[u8]) -> Option<Key> {
        if stun::is_stun(buf)
            && let Some(key) = stun::local_ufrag(buf).and_then(|u| self.by_ufrag.get(u))
        {
            return Some(*key);
        }
        self.by_addr.get(&source).copied()
    }

    /// Hands packets written by `handle_datagram_deferred` to str0m for
    /// sending; afterwards they are available from `poll_transmit`.
    pub fn flush(&mut self, now: Instant) {
        self.flush_dirty(now);
    }

    // ------------------------------------------------------------ output

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Adds what was counted per packet since the last call to the shared
    /// metrics. The driver calls it once per loop turn; until then the
    /// packet counters on /metrics trail by at most that turn.
    pub fn flush_metrics(&mut self) {
        self.metrics.flush();
    }

    pub fn poll_event(&mut self) -> Option<SfuEvent> {
        self.events.pop_front()
    }

    // ------------------------------------------------------------ internals

    fn insert_peer(&mut self, mut rtc: Rtc, role: Role, offer: Screened, now: Instant) -> Key {
        let key = self.next_key;
        self.next_key += 1;
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        self.by_ufrag.insert(ufrag.clone(), key);
        let peer = Peer {
            rtc,
            ufrag,
            addrs: Vec::new(),
            timer: None,
            dirty: false,
            connected: false,
            since: now,
            remote_candidates: offer.candidates,
            role,
        };
        self.peers.insert(key, peer);
        self.drive(key, now);
        key
    }

    /// Drops a peer whose `Rtc` panicked: its state may be half-changed, and
    /// the SFU thread must go on forwarding for everyone else.
    fn remove_panicked(&mut self, key: Key) {
        self.metrics.panics.increment(1);
        tracing::warn!("str0m panicked on a peer's input; the peer was closed");
        self.remove_peer(key, true);
    }

    fn key_of(&self, peer: &PeerId) -> Option<Key> {
        match peer {
            PeerId::Publisher(p) => self.publishers.get(p).copied(),
            PeerId::Subscriber(s) => self.subscribers.get(s).copied(),
        }
    }

    fn remove_peer(&mut self, key: Key, announce: bool) {
        let Some(mut peer) = self.peers.remove(key) else {
            return;
        };
        // A peer removed because str0m panicked may panic here again.
        let _ = contain(|| peer.rtc.disconnect());
        self.by_ufrag.remove(&peer.ufrag);
        for a in &peer.addrs {
            if self.by_addr.get(a) == Some(&key) {
                self.by_addr.remove(a);
            }
        }
        self.deadlines.cancel(key, peer.timer);
        match &peer.role {
            Role::Pub(p) => self.forget_publisher(key, p),
            Role::Sub(s) => self.forget_subscriber(key, s),
        }
        if announce || peer.connected {
            self.events.push_back(SfuEvent::PeerClosed(peer.id()));
        }
    }

    /// Slots keep their binding to a departed publisher (a re-publish
    /// continues them) but stop pointing at its peer.
    fn forget_publisher(&mut self, key: Key, p: &PubState) {
        if let (Some(id), Some(tap)) = (&p.recorded, &self.cfg.recorder) {
            tap.send(crate::record::RecordFeed::Ended(id.clone()));
        }
        if self.publishers.get(&p.id) == Some(&key) {
            self.publishers.remove(&p.id);
        }
        self.metrics.peers_pub.decrement(1.0);
        for &(sk, idx) in self.watchers.get(&p.id).map(Vec::as_slice).unwrap_or_default() {
            if let Some(s) = self.peers.slot_mut(sk, idx) {
                if s.current.is_some_and(|c| c.peer == key) {
                    s.current = None;
                    s.rw.stop();
                }
                if s.pending.is_some_and(|c| c.peer == key) {
                    s.pending = None;
                }
                // A re-publish plays from its first packet, continuing the
                // outgoing sequence.
                if let Some(a) = s.audio.as_mut().filter(|a| a.current.is_some_and(|c| c.peer == key)) {
                    a.stop();
                }
            }
        }
    }

    fn forget_subscriber(&mut self, key: Key, s: &SubState) {
        if self.subscribers.get(&s.id) == Some(&key) {
            self.subscribers.remove(&s.id);
        }
        self.metrics.peers_sub.decrement(1.0);
        for (idx, slot) in s.slots.iter().enumerate() {
            self.metrics.slot_layer_changed(slot.shown_layer, None);
            if let Some(p) = &slot.publisher {
                self.detach_watcher(p, key, idx);
            }
        }
    }

    /// Drains one peer's output until it asks for a timeout.
    fn drive(&mut self, key: Key, now: Instant) {
        for _ in 0..MAX_OUTPUTS_PER_DRIVE {
            let Some(peer) = self.peers.get_mut(key) else {
                return;
            };
            let Some(output) = contain(|| peer.rtc.poll_output()) else {
                self.remove_panicked(key);
                return;
            };
            match output {
                Ok(Output::Timeout(t)) => {
                    // str0m wakes a receiving peer every 33 ms to send NACKs,
                    // whether or not anything was lost; with many students
                    // that timer outnumbered the packets. Every datagram runs
                    // str0m's timeout handling anyway, so a streaming
                    // publisher's NACKs still go out within one packet gap;
                    // only a quiet one's wait up to NACK_SLACK longer.
                    let t = if peer.is_publisher() && peer.rtc.last_timeout_reason() == Reason::Nack {
                        t + NACK_SLACK
                    } else {
                        t
                    };
                    self.deadlines.schedule(key, &mut peer.timer, t);
                    if !peer.rtc.is_alive() {
                        self.remove_peer(key, true);
                    }
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    self.transmits.push_back(Transmit { destination: t.destination, contents: t.contents.into() });
                }
                Ok(Output::Event(e)) => self.on_event(key, e, now),
                Err(e) => {
                    tracing::debug!(error = %e, "peer failed");
                    self.remove_peer(key, true);
                    return;
                }
            }
        }
    }

    /// Has str0m send what was written into each dirty peer.
    fn flush_dirty(&mut self, now: Instant) {
        while let Some(key) = self.dirty.pop() {
            if let Some(p) = self.peers.get_mut(key) {
                p.dirty = false;
                // Written packets leave str0m's queue on the next timeout.
                match contain(|| p.rtc.handle_input(Input::Timeout(now))) {
                    None => {
                        self.remove_panicked(key);
                        continue;
                    }
                    Some(Err(e)) => tracing::debug!(error = %e, "timeout failed"),
                    Some(Ok(())) => {}
                }
                self.drive(key, now);
            }
        }
    }

    fn on_event(&mut self, key: Key, e: Event, now: Instant) {
        match e {
            Event::Connected => {
                if let Some(p) = self.peers.get_mut(key) {
                    p.connected = true;
                    self.events.push_back(SfuEvent::PeerConnected(p.id()));
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                if let Some(p) = self.peers.get_mut(key) {
                    p.rtc.disconnect();
                }
            }
            Event::RtpPacket(pkt) => self.on_rtp(key, pkt, now),
            Event::KeyframeRequest(req) => self.on_proctor_keyframe_request(now, key, req.mid, req.kind),
            Event::EgressBitrateEstimate(str0m::bwe::BweKind::Twcc { estimate, .. }) => {
                if let Some(s) = self.peers.sub_mut(key) {
                    s.estimate_bps = Some(estimate.as_u64());
                }
            }
            Event::MediaEgressStats(st) => {
                // str0m's count is cumulative per mid; the metric is one
                // counter for all proctors, so only the growth is added.
                if let Some(slot) = self.peers.sub_mut(key).and_then(|s| s.slots.iter_mut().find(|sl| sl.mid == st.mid))
                {
                    self.metrics.nacks_received.increment(st.nacks.saturating_sub(slot.nacks_seen));
                    slot.nacks_seen = slot.nacks_seen.max(st.nacks);
                }
            }
            _ => {}
        }
    }
}
