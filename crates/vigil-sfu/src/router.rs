//! The sans-IO routing core: every peer's `Rtc`, the demultiplexer, the
//! timer wheel, the watch slots and the health monitors.
//!
//! Nothing here reads a clock or touches a socket. The driver feeds
//! datagrams and `Instant`s in, and drains transmits, events and the next
//! timeout out, exactly like `str0m::Rtc` itself; tests can drive it on
//! simulated time.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metrics::{Counter, Gauge, counter, gauge};
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequestKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, RtpWrite, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Reason, Rtc, RtcConfig};
use vigil_proto::events::{SlotUpdate, WatchQuality};
use vigil_proto::{ExamId, IncidentKind, StudentId, UnixMillis};

use crate::SfuError;
use crate::health::{HealthConfig, HealthFinding, MediaHealth};
use crate::keyframe::{VideoCodec, is_keyframe_start};
use crate::rewrite::Rewriter;
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

/// One proctor connection: an opaque id chosen by the caller (the server
/// uses its own connection id). Only compared and hashed, never parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriberId(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerId {
    Publisher(PublisherId),
    Subscriber(SubscriberId),
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
}

impl RouterConfig {
    pub fn new(candidate_addr: SocketAddr) -> Self {
        RouterConfig {
            candidate_addr,
            max_slots: 16,
            health: HealthConfig::default(),
            bwe_initial_bps: None,
            keyframe_request_interval: Duration::from_millis(500),
        }
    }
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

type Key = u64;

/// A source a slot can show: one encoding (SSRC) of one publisher peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Src {
    peer: Key,
    ssrc: Ssrc,
}

struct Layer {
    ssrc: Ssrc,
    /// Bytes since the last rate tick, and the resulting rate.
    bytes: u64,
    bps: f64,
}

struct PubState {
    id: PublisherId,
    pt_codec: HashMap<Pt, (Codec, VideoCodec)>,
    layers: Vec<Layer>,
    health: MediaHealth,
    in_packets: Counter,
    in_bytes: Counter,
    plis: Counter,
}

struct Slot {
    mid: Mid,
    publisher: Option<PublisherId>,
    quality: WatchQuality,
    current: Option<Src>,
    pending: Option<Src>,
    last_request: Option<Instant>,
    rw: Rewriter,
    out_packets: Counter,
    out_bytes: Counter,
    layer: Gauge,
}

struct SubState {
    id: SubscriberId,
    slots: Vec<Slot>,
    codec_pt: Vec<(Codec, Pt)>,
    estimate_bps: Option<u64>,
    nacks: Counter,
}

enum Role {
    Pub(Box<PubState>),
    Sub(Box<SubState>),
}

struct Peer {
    rtc: Rtc,
    ufrag: String,
    addrs: Vec<SocketAddr>,
    timer: Option<Instant>,
    dirty: bool,
    connected: bool,
    role: Role,
}

impl Peer {
    fn id(&self) -> PeerId {
        match &self.role {
            Role::Pub(p) => PeerId::Publisher(p.id.clone()),
            Role::Sub(s) => PeerId::Subscriber(s.id.clone()),
        }
    }
}

/// Remembered addresses per peer; a peer trying more is misbehaving.
const MAX_ADDRS_PER_PEER: usize = 8;
const TICK: Duration = Duration::from_millis(250);
/// How much later than str0m asks a publisher is woken for NACKs alone
/// (see `drive`). Shorter than a 30 fps frame gap, so a stream that stops
/// mid-frame still gets its NACKs within about one frame.
const NACK_SLACK: Duration = Duration::from_millis(25);
const RATE_WINDOW: Duration = Duration::from_secs(1);

pub struct Router {
    cfg: RouterConfig,
    /// Wall-clock reading paired with `epoch`, to stamp events without
    /// reading a clock.
    epoch: (Instant, SystemTime),
    next_key: Key,
    peers: HashMap<Key, Peer>,
    by_addr: HashMap<SocketAddr, Key>,
    by_ufrag: HashMap<String, Key>,
    publishers: HashMap<PublisherId, Key>,
    subscribers: HashMap<SubscriberId, Key>,
    /// Slots showing or waiting for each student, by id so they survive a
    /// re-publish: (subscriber peer, slot index).
    watchers: HashMap<PublisherId, Vec<(Key, usize)>>,
    /// Scratch copy of one publisher's watcher list (see `on_rtp`).
    watcher_buf: Vec<(Key, usize)>,
    timers: BTreeSet<(Instant, Key)>,
    next_tick: Instant,
    next_rate: Instant,
    dirty: Vec<Key>,
    due: Vec<Key>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SfuEvent>,
    findings: Vec<HealthFinding>,
    dropped_unknown: Counter,
    dropped_garbage: Counter,
    dropped_wrong_direction: Counter,
    peers_pub: Gauge,
    peers_sub: Gauge,
}

impl Router {
    /// `now` and `wall` are the same moment on the two clocks.
    pub fn new(cfg: RouterConfig, now: Instant, wall: SystemTime) -> Self {
        Router {
            cfg,
            epoch: (now, wall),
            next_key: 1,
            peers: HashMap::new(),
            by_addr: HashMap::new(),
            by_ufrag: HashMap::new(),
            publishers: HashMap::new(),
            subscribers: HashMap::new(),
            watchers: HashMap::new(),
            watcher_buf: Vec::new(),
            timers: BTreeSet::new(),
            next_tick: now + TICK,
            next_rate: now + RATE_WINDOW,
            dirty: Vec::new(),
            due: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            findings: Vec::new(),
            dropped_unknown: counter!("vigil_sfu_datagrams_dropped_total", "reason" => "unknown_source"),
            dropped_garbage: counter!("vigil_sfu_datagrams_dropped_total", "reason" => "unparseable"),
            dropped_wrong_direction: counter!("vigil_sfu_rtp_dropped_total", "reason" => "wrong_direction"),
            peers_pub: gauge!("vigil_sfu_peers", "role" => "publisher"),
            peers_sub: gauge!("vigil_sfu_peers", "role" => "subscriber"),
        }
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    // ------------------------------------------------------------ commands

    /// Accepts a student's offer; returns the answer SDP.
    pub fn publish(&mut self, now: Instant, id: PublisherId, offer_sdp: &str) -> Result<String, SfuError> {
        // Directions are forced before str0m sees the offer, so the answer
        // can only ever receive from a publisher.
        let offer = parse_offer(&force_directions(offer_sdp, Direction::SendOnly))?;
        let mut rtc = self.new_rtc(now, false);
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| SfuError::OfferRejected(e.to_string()))?;
        let video_mid = mids_of_kind(offer_sdp, "video")
            .into_iter()
            .find(|m| rtc.media(*m).is_some_and(|md| md.direction() == Direction::RecvOnly));
        if video_mid.is_none() {
            return Err(SfuError::OfferRejected("no video track to publish".into()));
        }
        let mut pt_codec = HashMap::new();
        for p in rtc.codec_config().params() {
            let vc = match p.spec().codec {
                Codec::Vp8 => VideoCodec::Vp8,
                Codec::H264 => VideoCodec::H264,
                _ => continue,
            };
            pt_codec.insert(p.pt(), (p.spec().codec, vc));
        }
        if pt_codec.is_empty() {
            return Err(SfuError::OfferRejected("no VP8 or H.264 in offer".into()));
        }
        if let Some(old) = self.publishers.get(&id).copied() {
            self.remove_peer(old, false);
        }
        let labels = [("exam", id.exam.to_string()), ("student", id.student.to_string())];
        let st = PubState {
            id: id.clone(),
            pt_codec,
            layers: Vec::new(),
            health: MediaHealth::new(self.cfg.health.clone(), now),
            in_packets: counter!("vigil_sfu_rtp_in_packets_total", &labels),
            in_bytes: counter!("vigil_sfu_rtp_in_bytes_total", &labels),
            plis: counter!("vigil_sfu_keyframe_requests_total", &labels),
        };
        let key = self.insert_peer(rtc, Role::Pub(Box::new(st)), now);
        self.publishers.insert(id, key);
        self.peers_pub.increment(1.0);
        Ok(answer.to_sdp_string())
    }

    /// Accepts a proctor's offer of recvonly video slots; returns the answer
    /// and the slots' mids in order.
    pub fn subscribe(
        &mut self,
        now: Instant,
        id: SubscriberId,
        offer_sdp: &str,
    ) -> Result<(String, Vec<String>), SfuError> {
        let offer = parse_offer(&force_directions(offer_sdp, Direction::RecvOnly))?;
        let video_mids = mids_of_kind(offer_sdp, "video");
        if video_mids.is_empty() {
            return Err(SfuError::OfferRejected("no video slots offered".into()));
        }
        if video_mids.len() > self.cfg.max_slots {
            return Err(SfuError::OfferRejected(format!(
                "{} video slots offered, at most {} allowed",
                video_mids.len(),
                self.cfg.max_slots
            )));
        }
        let mut rtc = self.new_rtc(now, true);
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| SfuError::OfferRejected(e.to_string()))?;
        let mut codec_pt = Vec::new();
        for p in rtc.codec_config().params() {
            if matches!(p.spec().codec, Codec::Vp8 | Codec::H264) && !codec_pt.iter().any(|(c, _)| *c == p.spec().codec)
            {
                codec_pt.push((p.spec().codec, p.pt()));
            }
        }
        if codec_pt.is_empty() {
            return Err(SfuError::OfferRejected("no VP8 or H.264 in offer".into()));
        }
        let mut slots = Vec::new();
        for (i, mid) in video_mids.iter().enumerate() {
            let sends = rtc.media(*mid).is_some_and(|m| m.direction() == Direction::SendOnly);
            if !sends {
                // Rejected m-lines (port 0) are not slots we can fill.
                return Err(SfuError::OfferRejected(format!("video m-line {mid} cannot receive")));
            }
            let labels = [("subscriber", id.0.clone()), ("slot", i.to_string())];
            slots.push(Slot {
                mid: *mid,
                publisher: None,
                quality: WatchQuality::Thumbnail,
                current: None,
                pending: None,
                last_request: None,
                rw: Rewriter::new(),
                out_packets: counter!("vigil_sfu_rtp_out_packets_total", &labels),
                out_bytes: counter!("vigil_sfu_rtp_out_bytes_total", &labels),
                layer: gauge!("vigil_sfu_slot_layer", &labels),
            });
        }
        if let Some(old) = self.subscribers.get(&id).copied() {
            self.remove_peer(old, false);
        }
        let mids = slots.iter().map(|s| s.mid.to_string()).collect();
        let st = SubState {
            nacks: counter!("vigil_sfu_nacks_received_total", "subscriber" => id.0.clone()),
            id: id.clone(),
            slots,
            codec_pt,
            estimate_bps: self.cfg.bwe_initial_bps,
        };
        let key = self.insert_peer(rtc, Role::Sub(Box::new(st)), now);
        self.subscribers.insert(id, key);
        self.peers_sub.increment(1.0);
        Ok((answer.to_sdp_string(), mids))
    }

    /// A trickled remote candidate. With ICE-lite we never send checks, so
    /// this only helps str0m accept traffic from the address early.
    pub fn add_candidate(&mut self, now: Instant, peer: &PeerId, candidate: &str) -> Result<(), SfuError> {
        let key = self.key_of(peer).ok_or(SfuError::UnknownPeer)?;
        let line = candidate.trim();
        if line.is_empty() {
            // End-of-candidates.
            return Ok(());
        }
        let line = line.strip_prefix("a=").unwrap_or(line);
        let c = Candidate::from_sdp_string(line).map_err(|e| SfuError::BadCandidate(e.to_string()))?;
        if let Some(p) = self.peers.get_mut(&key) {
            p.rtc.add_remote_candidate(c);
        }
        self.drive(key, now);
        Ok(())
    }

    /// Shows `publisher` in slot `slot` of `subscriber`. The slot keeps its
    /// old picture until the new source's keyframe arrives.
    pub fn watch(
        &mut self,
        now: Instant,
        subscriber: &SubscriberId,
        slot: u32,
        publisher: PublisherId,
        quality: WatchQuality,
    ) -> Result<SlotUpdate, SfuError> {
        let (key, idx) = self.subscriber_slot(subscriber, slot)?;
        let old = {
            let s = self.sub_slot_mut(key, idx).ok_or(SfuError::UnknownPeer)?;
            s.quality = quality;
            s.publisher.replace(publisher.clone())
        };
        if let Some(old) = old {
            self.detach_watcher(&old, key, idx);
        }
        let list = self.watchers.entry(publisher.clone()).or_default();
        if !list.contains(&(key, idx)) {
            list.push((key, idx));
        }
        self.reselect(now, key, idx, true);
        self.flush_dirty(now);
        Ok(self.slot_update(key, idx))
    }

    /// The subscriber's key and the index of its `slot`, or why there is none.
    fn subscriber_slot(&self, subscriber: &SubscriberId, slot: u32) -> Result<(Key, usize), SfuError> {
        let key = *self.subscribers.get(subscriber).ok_or(SfuError::UnknownPeer)?;
        Ok((key, self.slot_index(key, slot)?))
    }

    /// Empties a slot: nothing more is forwarded to it.
    pub fn unwatch(&mut self, _now: Instant, subscriber: &SubscriberId, slot: u32) -> Result<SlotUpdate, SfuError> {
        let (key, idx) = self.subscriber_slot(subscriber, slot)?;
        let old = {
            let s = self.sub_slot_mut(key, idx).ok_or(SfuError::UnknownPeer)?;
            s.current = None;
            s.pending = None;
            s.rw.stop();
            s.publisher.take()
        };
        if let Some(old) = old {
            self.detach_watcher(&old, key, idx);
        }
        Ok(self.slot_update(key, idx))
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
        let key = if stun::is_stun(buf) {
            // New addresses always start with a binding request; its
            // USERNAME names the peer, so no peer has to be asked.
            match stun::local_ufrag(buf).and_then(|u| self.by_ufrag.get(u)).copied() {
                Some(k) => Some(k),
                None => self.by_addr.get(&source).copied(),
            }
        } else {
            self.by_addr.get(&source).copied()
        };
        let Some(key) = key else {
            self.dropped_unknown.increment(1);
            return;
        };
        let Ok(recv) = Receive::new(Protocol::Udp, source, self.cfg.candidate_addr, buf) else {
            self.dropped_garbage.increment(1);
            return;
        };
        let Some(peer) = self.peers.get_mut(&key) else {
            self.dropped_unknown.increment(1);
            return;
        };
        if let Err(e) = peer.rtc.handle_input(Input::Receive(now, recv)) {
            tracing::debug!(error = %e, "datagram refused by peer");
            self.dropped_garbage.increment(1);
        } else if !peer.addrs.contains(&source) && peer.addrs.len() < MAX_ADDRS_PER_PEER {
            // Only addresses whose traffic str0m accepted are remembered.
            peer.addrs.push(source);
            if let Some(prev) = self.by_addr.insert(source, key)
                && prev != key
                && let Some(p) = self.peers.get_mut(&prev)
            {
                p.addrs.retain(|a| *a != source);
            }
        }
        self.drive(key, now);
    }

    /// Hands packets written by `handle_datagram_deferred` to str0m for
    /// sending; afterwards they are available from `poll_transmit`.
    pub fn flush(&mut self, now: Instant) {
        self.flush_dirty(now);
    }

    /// Advances timers up to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Expired peers are collected first: a peer that asks to be woken
        // again at `now` is served on the next call, not in a loop here.
        let mut due = std::mem::take(&mut self.due);
        while let Some(&(at, key)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            due.push(key);
        }
        for key in due.drain(..) {
            if let Some(p) = self.peers.get_mut(&key) {
                p.timer = None;
                if let Err(e) = p.rtc.handle_input(Input::Timeout(now)) {
                    tracing::debug!(error = %e, "timeout failed");
                }
            }
            self.drive(key, now);
        }
        self.due = due;
        if now >= self.next_tick {
            self.next_tick = now + TICK;
            self.tick(now);
        }
        self.flush_dirty(now);
    }

    // ------------------------------------------------------------ output

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<SfuEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Instant {
        match self.timers.first() {
            Some(&(t, _)) => t.min(self.next_tick),
            None => self.next_tick,
        }
    }

    // ------------------------------------------------------------ internals

    fn new_rtc(&self, now: Instant, subscriber: bool) -> Rtc {
        let mut cfg = RtcConfig::new()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_vp8(true)
            .enable_h264(true)
            .enable_opus(true, false)
            // Per-peer stats cost a timer per second; only proctor NACK
            // counts use them.
            .set_stats_interval(subscriber.then(|| Duration::from_secs(1)));
        if subscriber && let Some(bps) = self.cfg.bwe_initial_bps {
            cfg = cfg.enable_bwe(Some(str0m::bwe::Bitrate::bps(bps)));
        }
        let mut rtc = cfg.build(now);
        // Host candidate construction only fails for unspecified addresses,
        // which `Sfu::start` rules out.
        if let Ok(c) = Candidate::host(self.cfg.candidate_addr, "udp") {
            rtc.add_local_candidate(c);
        }
        rtc
    }

    fn insert_peer(&mut self, mut rtc: Rtc, role: Role, now: Instant) -> Key {
        let key = self.next_key;
        self.next_key += 1;
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        self.by_ufrag.insert(ufrag.clone(), key);
        self.peers
            .insert(key, Peer { rtc, ufrag, addrs: Vec::new(), timer: None, dirty: false, connected: false, role });
        self.drive(key, now);
        key
    }

    fn key_of(&self, peer: &PeerId) -> Option<Key> {
        match peer {
            PeerId::Publisher(p) => self.publishers.get(p).copied(),
            PeerId::Subscriber(s) => self.subscribers.get(s).copied(),
        }
    }

    fn slot_index(&self, key: Key, slot: u32) -> Result<usize, SfuError> {
        let Some(Peer { role: Role::Sub(s), .. }) = self.peers.get(&key) else {
            return Err(SfuError::UnknownPeer);
        };
        let idx = slot as usize;
        if idx >= s.slots.len() {
            return Err(SfuError::NoSuchSlot { slot, slots: s.slots.len() });
        }
        Ok(idx)
    }

    fn sub_slot_mut(&mut self, key: Key, idx: usize) -> Option<&mut Slot> {
        match self.peers.get_mut(&key) {
            Some(Peer { role: Role::Sub(s), .. }) => s.slots.get_mut(idx),
            _ => None,
        }
    }

    fn slot_update(&self, key: Key, idx: usize) -> SlotUpdate {
        let slot = match self.peers.get(&key) {
            Some(Peer { role: Role::Sub(s), .. }) => s.slots.get(idx),
            _ => None,
        };
        SlotUpdate {
            slot: idx as u32,
            mid: slot.map(|s| s.mid.to_string()).unwrap_or_default(),
            student_id: slot.and_then(|s| s.publisher.as_ref()).map(|p| p.student.clone()),
            quality: slot.and_then(|s| s.publisher.as_ref().map(|_| s.quality)),
        }
    }

    fn detach_watcher(&mut self, publisher: &PublisherId, key: Key, idx: usize) {
        if let Some(list) = self.watchers.get_mut(publisher) {
            list.retain(|w| *w != (key, idx));
            if list.is_empty() {
                self.watchers.remove(publisher);
            }
        }
    }

    fn remove_peer(&mut self, key: Key, announce: bool) {
        let Some(mut peer) = self.peers.remove(&key) else {
            return;
        };
        peer.rtc.disconnect();
        self.by_ufrag.remove(&peer.ufrag);
        for a in &peer.addrs {
            if self.by_addr.get(a) == Some(&key) {
                self.by_addr.remove(a);
            }
        }
        if let Some(t) = peer.timer {
            self.timers.remove(&(t, key));
        }
        match &peer.role {
            Role::Pub(p) => {
                if self.publishers.get(&p.id) == Some(&key) {
                    self.publishers.remove(&p.id);
                }
                self.peers_pub.decrement(1.0);
                // Slots keep their binding (a re-publish continues them) but
                // stop pointing at this peer.
                for (sk, idx) in self.watchers.get(&p.id).cloned().unwrap_or_default() {
                    if let Some(s) = self.sub_slot_mut(sk, idx) {
                        if s.current.is_some_and(|c| c.peer == key) {
                            s.current = None;
                            s.rw.stop();
                        }
                        if s.pending.is_some_and(|c| c.peer == key) {
                            s.pending = None;
                        }
                    }
                }
            }
            Role::Sub(s) => {
                if self.subscribers.get(&s.id) == Some(&key) {
                    self.subscribers.remove(&s.id);
                }
                self.peers_sub.decrement(1.0);
                for (idx, slot) in s.slots.iter().enumerate() {
                    if let Some(p) = &slot.publisher {
                        let p = p.clone();
                        self.detach_watcher(&p, key, idx);
                    }
                }
            }
        }
        if announce || peer.connected {
            self.events.push_back(SfuEvent::PeerClosed(peer.id()));
        }
    }

    /// Drains one peer's output until it asks for a timeout.
    fn drive(&mut self, key: Key, now: Instant) {
        // Bounded so a misbehaving peer cannot hold the loop forever.
        for _ in 0..10_000 {
            let Some(peer) = self.peers.get_mut(&key) else {
                return;
            };
            match peer.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    // str0m wakes a receiving peer every 33 ms to send NACKs,
                    // whether or not anything was lost; with many students
                    // that timer outnumbered the packets. Every datagram runs
                    // str0m's timeout handling anyway, so a streaming
                    // publisher's NACKs still go out within one packet gap;
                    // only a quiet one's wait up to NACK_SLACK longer.
                    let t = if matches!(peer.role, Role::Pub(_)) && peer.rtc.last_timeout_reason() == Reason::Nack {
                        t + NACK_SLACK
                    } else {
                        t
                    };
                    if peer.timer != Some(t) {
                        if let Some(old) = peer.timer.replace(t) {
                            self.timers.remove(&(old, key));
                        }
                        self.timers.insert((t, key));
                    }
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

    fn flush_dirty(&mut self, now: Instant) {
        while let Some(key) = self.dirty.pop() {
            if let Some(p) = self.peers.get_mut(&key) {
                p.dirty = false;
                // Written packets leave str0m's queue on the next timeout.
                if let Err(e) = p.rtc.handle_input(Input::Timeout(now)) {
                    tracing::debug!(error = %e, "timeout failed");
                }
                self.drive(key, now);
            }
        }
    }

    fn on_event(&mut self, key: Key, e: Event, now: Instant) {
        match e {
            Event::Connected => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.connected = true;
                    let id = p.id();
                    self.events.push_back(SfuEvent::PeerConnected(id));
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.rtc.disconnect();
                }
            }
            Event::RtpPacket(pkt) => self.on_rtp(key, pkt, now),
            Event::KeyframeRequest(req) => {
                // A proctor's decoder lost the picture: ask the source.
                let src = match self.peers.get(&key) {
                    Some(Peer { role: Role::Sub(s), .. }) => {
                        s.slots.iter().position(|sl| sl.mid == req.mid).map(|i| (i, s.slots[i].current))
                    }
                    _ => None,
                };
                if let Some((idx, Some(src))) = src {
                    self.request_keyframe(now, key, idx, src, req.kind);
                }
            }
            Event::EgressBitrateEstimate(str0m::bwe::BweKind::Twcc { estimate, .. }) => {
                if let Some(Peer { role: Role::Sub(s), .. }) = self.peers.get_mut(&key) {
                    s.estimate_bps = Some(estimate.as_u64());
                }
            }
            Event::MediaEgressStats(st) => {
                if let Some(Peer { role: Role::Sub(s), .. }) = self.peers.get_mut(&key) {
                    s.nacks.absolute(st.nacks);
                }
            }
            _ => {}
        }
    }

    fn on_rtp(&mut self, key: Key, mut pkt: RtpPacket, now: Instant) {
        let Some(Peer { role: Role::Pub(p), .. }) = self.peers.get_mut(&key) else {
            // Directions are forced, so this only happens if a peer sends
            // anyway; never forward what a proctor sends.
            self.dropped_wrong_direction.increment(1);
            return;
        };
        let len = pkt.payload.len() as u64;
        p.in_packets.increment(1);
        p.in_bytes.increment(len);
        let Some(&(codec, vc)) = p.pt_codec.get(&pkt.header.payload_type) else {
            // Audio and anything else: not forwarded (see crate docs).
            return;
        };
        let ssrc = pkt.header.ssrc;
        let keyframe = is_keyframe_start(vc, &pkt.payload);
        p.health.on_video_rtp(now, *ssrc, pkt.header.timestamp, keyframe);
        let n_layers = p.layers.len();
        let new_layer = match p.layers.iter_mut().find(|l| l.ssrc == ssrc) {
            Some(l) => {
                l.bytes += len;
                false
            }
            None if n_layers < 4 => {
                p.layers.push(Layer { ssrc, bytes: len, bps: 0.0 });
                true
            }
            None => return,
        };
        // Most students are not watched at any moment: their packets must
        // end here without allocating.
        let Some(list) = self.watchers.get(&p.id) else {
            return;
        };
        // `reselect` needs `&mut self`, so the list is copied into a reused
        // buffer rather than a fresh Vec per packet.
        let mut list_buf = std::mem::take(&mut self.watcher_buf);
        list_buf.clear();
        list_buf.extend_from_slice(list);
        if new_layer {
            for &(sk, idx) in &list_buf {
                self.reselect(now, sk, idx, false);
            }
        }
        let src = Src { peer: key, ssrc };
        let last = list_buf.len().saturating_sub(1);
        for (i, &(sk, idx)) in list_buf.iter().enumerate() {
            let Some(Peer { role: Role::Sub(s), rtc, dirty, .. }) = self.peers.get_mut(&sk) else {
                continue;
            };
            let Some(pt) = s.codec_pt.iter().find(|(c, _)| *c == codec).map(|(_, pt)| *pt) else {
                continue;
            };
            let Some(slot) = s.slots.get_mut(idx) else {
                continue;
            };
            if slot.pending == Some(src) && keyframe {
                slot.current = Some(src);
                slot.pending = None;
                slot.rw.switch(*pkt.seq_no, pkt.header.timestamp, now, 90_000);
            }
            if slot.current != Some(src) {
                continue;
            }
            let Some((seq, ts)) = slot.rw.rewrite(*pkt.seq_no, pkt.header.timestamp, now) else {
                continue;
            };
            let mut api = rtc.direct_api();
            let Some(tx) = api.stream_tx_by_mid(slot.mid, None) else {
                continue;
            };
            // The last watcher takes the payload itself: with one watcher,
            // the common case, nothing is copied.
            let payload = if i == last { std::mem::take(&mut pkt.payload) } else { pkt.payload.clone() };
            tx.write_rtp(RtpWrite::new(pt, seq.into(), ts, now, payload).marker(pkt.header.marker).nackable(true));
            slot.out_packets.increment(1);
            slot.out_bytes.increment(len);
            if !*dirty {
                *dirty = true;
                self.dirty.push(sk);
            }
        }
        self.watcher_buf = list_buf;
    }

    /// Picks the layer a slot should show and asks for a keyframe when it
    /// changes. `force` re-requests even if the choice is unchanged.
    fn reselect(&mut self, now: Instant, sk: Key, idx: usize, force: bool) {
        let (publisher, quality, estimate) = match self.peers.get(&sk) {
            Some(Peer { role: Role::Sub(s), .. }) => match s.slots.get(idx) {
                Some(slot) => match &slot.publisher {
                    Some(p) => (p.clone(), slot.quality, s.estimate_bps),
                    None => return,
                },
                None => return,
            },
            _ => return,
        };
        let Some(&pk) = self.publishers.get(&publisher) else {
            return;
        };
        let mut layers: Vec<(Ssrc, f64)> = match self.peers.get(&pk) {
            Some(Peer { role: Role::Pub(p), .. }) => p.layers.iter().map(|l| (l.ssrc, l.bps)).collect(),
            _ => return,
        };
        if layers.is_empty() {
            return;
        }
        layers.sort_by(|a, b| a.1.total_cmp(&b.1));
        let chosen = match quality {
            WatchQuality::Thumbnail => 0,
            WatchQuality::Full => match estimate {
                // Highest layer that fits the estimate with 15% headroom.
                Some(bps) => layers.iter().rposition(|l| l.1 * 1.15 <= bps as f64).unwrap_or(0),
                None => layers.len() - 1,
            },
        };
        let want = Src { peer: pk, ssrc: layers[chosen].0 };
        let Some(slot) = self.sub_slot_mut(sk, idx) else {
            return;
        };
        slot.layer.set(chosen as f64);
        if slot.current == Some(want) {
            slot.pending = None;
            return;
        }
        if slot.pending == Some(want) && !force {
            return;
        }
        if slot.pending != Some(want) {
            // The throttle is per source: a new one is asked at once.
            slot.last_request = None;
        }
        slot.pending = Some(want);
        self.request_keyframe(now, sk, idx, want, KeyframeRequestKind::Pli);
    }

    fn request_keyframe(&mut self, now: Instant, sk: Key, idx: usize, src: Src, kind: KeyframeRequestKind) {
        let interval = self.cfg.keyframe_request_interval;
        let Some(slot) = self.sub_slot_mut(sk, idx) else {
            return;
        };
        if slot.last_request.is_some_and(|t| now.saturating_duration_since(t) < interval) {
            return;
        }
        slot.last_request = Some(now);
        let Some(Peer { role: Role::Pub(p), rtc, dirty, .. }) = self.peers.get_mut(&src.peer) else {
            return;
        };
        let mut api = rtc.direct_api();
        let Some(rx) = api.stream_rx(&src.ssrc) else {
            return;
        };
        rx.request_keyframe(kind);
        p.plis.increment(1);
        p.health.on_keyframe_requested(now);
        if !*dirty {
            *dirty = true;
            self.dirty.push(src.peer);
        }
    }

    fn tick(&mut self, now: Instant) {
        let rate = now >= self.next_rate;
        if rate {
            self.next_rate = now + RATE_WINDOW;
        }
        let mut findings = std::mem::take(&mut self.findings);
        for peer in self.peers.values_mut() {
            let Role::Pub(p) = &mut peer.role else {
                continue;
            };
            if rate {
                for l in &mut p.layers {
                    l.bps = l.bytes as f64 * 8.0 / RATE_WINDOW.as_secs_f64();
                    l.bytes = 0;
                }
            }
            if !peer.connected {
                continue;
            }
            findings.clear();
            p.health.poll(now, &mut findings);
            for f in findings.drain(..) {
                let at = self.epoch.1 + f.at.saturating_duration_since(self.epoch.0);
                let at = at.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
                counter!("vigil_sfu_health_findings_total", "kind" => f.kind.as_str()).increment(1);
                self.events.push_back(SfuEvent::MediaHealth {
                    publisher: p.id.clone(),
                    kind: f.kind,
                    at,
                    detail: f.detail,
                });
            }
        }
        self.findings = findings;
        // Slots waiting for a keyframe ask again (throttled), and every
        // slot re-ranks layers once a second: rates are unknown when a
        // layer first appears, and `Full` follows the bandwidth estimate.
        let subs: Vec<(Key, usize, bool)> = self
            .peers
            .iter()
            .filter_map(|(k, p)| match &p.role {
                Role::Sub(s) => Some((*k, s)),
                _ => None,
            })
            .flat_map(|(k, s)| {
                s.slots.iter().enumerate().filter_map(move |(i, sl)| {
                    let waiting = sl.pending.is_some();
                    let follow = rate && sl.publisher.is_some();
                    (waiting || follow).then_some((k, i, waiting))
                })
            })
            .collect();
        for (k, i, waiting) in subs {
            self.reselect(now, k, i, waiting);
        }
    }
}

fn parse_offer(sdp: &str) -> Result<SdpOffer, SfuError> {
    SdpOffer::from_sdp_string(sdp).map_err(|e| SfuError::BadSdp(e.to_string()))
}

/// Rewrites every media direction in an offer to what the role allows:
/// a publisher may only send (`SendOnly`), a proctor only receive
/// (`RecvOnly`). A direction the role cannot have at all becomes inactive.
fn force_directions(sdp: &str, allowed: Direction) -> String {
    let (keep, flip) = match allowed {
        Direction::SendOnly => ("a=sendonly", "a=recvonly"),
        _ => ("a=recvonly", "a=sendonly"),
    };
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let bare = line.trim_end();
        let eol = &line[bare.len()..];
        let replaced = match bare {
            "a=sendrecv" => keep,
            l if l == flip => "a=inactive",
            l => l,
        };
        out.push_str(replaced);
        out.push_str(eol);
    }
    out
}

/// The mids of all m-sections of `kind`, in SDP order.
fn mids_of_kind(sdp: &str, kind: &str) -> Vec<Mid> {
    let mut out = Vec::new();
    let mut in_kind = false;
    for line in sdp.lines() {
        let line = line.trim();
        if let Some(m) = line.strip_prefix("m=") {
            in_kind = m.split(' ').next() == Some(kind);
        } else if in_kind && let Some(mid) = line.strip_prefix("a=mid:") {
            out.push(Mid::from(mid));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_are_forced() {
        let sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=sendrecv\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n";
        let p = force_directions(sdp, Direction::SendOnly);
        assert!(p.contains("a=mid:0\r\na=sendonly\r\n"));
        assert!(p.contains("a=mid:1\r\na=inactive\r\n"));
        let s = force_directions(sdp, Direction::RecvOnly);
        assert!(s.contains("a=mid:0\r\na=recvonly\r\n"));
        assert!(s.contains("a=mid:1\r\na=recvonly\r\n"));
    }

    #[test]
    fn mids_in_order() {
        let sdp = "m=audio 9 x 111\na=mid:a\nm=video 9 x 96\na=mid:v1\nm=video 9 x 96\na=mid:v2\n";
        assert_eq!(mids_of_kind(sdp, "video"), vec![Mid::from("v1"), Mid::from("v2")]);
        assert_eq!(mids_of_kind(sdp, "audio"), vec![Mid::from("a")]);
    }

    fn router() -> Router {
        Router::new(RouterConfig::new("127.0.0.1:4000".parse().unwrap()), Instant::now(), SystemTime::now())
    }

    #[test]
    fn malformed_sdp_is_a_typed_error() {
        let mut r = router();
        let id = PublisherId::new("e".parse().unwrap(), "s".parse().unwrap());
        assert!(matches!(r.publish(Instant::now(), id, "not sdp"), Err(SfuError::BadSdp(_))));
        let sub = SubscriberId("p".into());
        assert!(matches!(r.subscribe(Instant::now(), sub, ""), Err(SfuError::BadSdp(_) | SfuError::OfferRejected(_))));
        assert_eq!(r.peer_count(), 0);
    }

    #[test]
    fn garbage_datagrams_are_dropped() {
        let mut r = router();
        let src: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let now = Instant::now();
        for len in 0..64usize {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            r.handle_datagram(now, src, &junk);
        }
        let mut stunish = vec![0u8, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42];
        stunish.extend_from_slice(&[0; 12]);
        stunish.extend_from_slice(&[0, 6, 0, 4, b'a', b'b', b':', b'c']);
        r.handle_datagram(now, src, &stunish);
        assert!(r.poll_transmit().is_none());
    }
}
