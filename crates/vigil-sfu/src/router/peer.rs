//! One peer's state, by role, and the accessors that pick a role out of it.
//!
//! Most router code wants "the subscriber behind this key" or "that slot of
//! it"; those lookups live here so that the role is matched in one place.

use std::collections::hash_map;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::Rtc;
use str0m::format::Codec;
use str0m::media::Pt;
use str0m::rtp::Ssrc;

use super::slots::Slot;
use super::{FastMap, Key, PeerId, PublisherId, SubscriberId};
use crate::health::MediaHealth;
use crate::keyframe::VideoCodec;

/// Simulcast has three encodings; more from one publisher is a misbehaving
/// client, and the rest are ignored.
pub(super) const MAX_LAYERS: usize = 4;

/// One encoding (SSRC) of a publisher, with its measured rate.
pub(super) struct Layer {
    pub ssrc: Ssrc,
    /// Bytes since the last rate tick, and the resulting rate.
    pub bytes: u64,
    pub bps: f64,
}

/// The rate a recording aims under: a browser's middle simulcast layer
/// (about 300 kbit/s) is sharp enough to review a student by, and a
/// thousand students' full layers (0.9–1.5 Mbit/s) would triple storage.
pub(super) const RECORD_MAX_BPS: f64 = 500_000.0;

/// The encoding a recording keeps, given the one it keeps now: the fastest
/// layer at or under `RECORD_MAX_BPS`, else the slowest; only layers that
/// sent in the last rate window count. The current one stays unless it
/// stopped, or is well over the cap, or the pick is much better (1.5 times
/// its rate): a rate that wavers near the cap does not flip the recording
/// back and forth (each switch costs a key frame and starts a segment).
pub(super) fn recording_layer(layers: &[Layer], current: Option<Ssrc>) -> Option<Ssrc> {
    let active = || layers.iter().filter(|l| l.bps > 0.0);
    let pick = active()
        .filter(|l| l.bps <= RECORD_MAX_BPS)
        .max_by(|a, b| a.bps.total_cmp(&b.bps))
        .or_else(|| active().min_by(|a, b| a.bps.total_cmp(&b.bps)))?;
    let Some(now) = current.and_then(|c| active().find(|l| l.ssrc == c)) else {
        return Some(pick.ssrc);
    };
    let switch = now.bps > RECORD_MAX_BPS * 1.25 || pick.bps > now.bps * 1.5;
    Some(if switch { pick.ssrc } else { now.ssrc })
}

pub(super) struct PubState {
    pub id: PublisherId,
    /// The video payload types the answer accepted, and how to spot their
    /// keyframes. Audio is told apart by `audio` below; anything else is
    /// not forwarded.
    pub pt_codec: FastMap<Pt, (Codec, VideoCodec)>,
    pub audio: PubAudio,
    pub layers: Vec<Layer>,
    pub health: MediaHealth,
    /// The slots showing or waiting for this student: a copy of the
    /// router's `watchers` entry for its id, kept here so that a packet
    /// finds them without hashing the id (see `Router::mirror_watchers`).
    pub watchers: Vec<(Key, usize)>,
    /// Set while this publication is recorded: its id as the recorder
    /// sees it (shared, so a packet costs no copy of the id).
    pub recorded: Option<Arc<PublisherId>>,
    /// The one encoding recorded (a simulcast publisher sends several; a
    /// recording keeps one size): the one `recording_layer` picks from
    /// the measured rates, or for a publication of one encoding, the
    /// first one seen.
    pub recorded_ssrc: Option<Ssrc>,
    /// The offer declared several encodings: its recording waits for the
    /// first rate measurement (at most `RATE_WINDOW`) to pick one, rather
    /// than start on whichever came first and switch a second later (a
    /// one-second segment and a key frame request per student).
    pub simulcast: bool,
}

/// A publication's microphone: what the answer accepted, whether the caller
/// allowed it to be forwarded (`PublishOptions::audio`), and the one stream
/// that is.
pub(super) struct PubAudio {
    /// The Opus payload type the answer accepted, if the offer had audio.
    pub opus_pt: Option<Pt>,
    /// The caller allowed this publication's audio to reach proctors.
    pub allowed: bool,
    /// The first Opus SSRC seen: the one stream forwarded. A second one
    /// (an offer with two audio m-lines) would make every watching slot
    /// switch back and forth between them.
    pub ssrc: Option<Ssrc>,
}

/// What becomes of a publisher's audio packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AudioVerdict {
    /// Not Opus: the video path decides.
    NotAudio,
    /// The publication was made without audio permission.
    NotAllowed,
    /// Opus from another SSRC than the first one seen.
    SecondStream,
    Forward,
}

impl PubAudio {
    pub fn new(opus_pt: Option<Pt>, allowed: bool) -> Self {
        PubAudio { opus_pt, allowed, ssrc: None }
    }

    /// Sorts one packet; fixes the forwarded stream at the first one allowed.
    pub fn verdict(&mut self, pt: Pt, ssrc: Ssrc) -> AudioVerdict {
        if self.opus_pt != Some(pt) {
            return AudioVerdict::NotAudio;
        }
        if !self.allowed {
            return AudioVerdict::NotAllowed;
        }
        match self.ssrc {
            Some(s) if s != ssrc => AudioVerdict::SecondStream,
            Some(_) => AudioVerdict::Forward,
            None => {
                self.ssrc = Some(ssrc);
                AudioVerdict::Forward
            }
        }
    }
}

pub(super) struct SubState {
    pub id: SubscriberId,
    pub slots: Vec<Slot>,
    /// The payload type this proctor's answer gave each codec (VP8, H.264,
    /// and Opus when it offered audio slots).
    pub codec_pt: Vec<(Codec, Pt)>,
    pub estimate_bps: Option<u64>,
}

impl SubState {
    /// The payload type to write `codec` with, if the proctor can take it.
    pub fn pt_for(&self, codec: Codec) -> Option<Pt> {
        self.codec_pt.iter().find(|(c, _)| *c == codec).map(|(_, pt)| *pt)
    }
}

pub(super) enum Role {
    Pub(Box<PubState>),
    Sub(Box<SubState>),
}

// The role's accessors are also on `Role` itself, so that code holding a
// peer can borrow its role and its `rtc` at the same time.
impl Role {
    pub fn as_pub(&self) -> Option<&PubState> {
        match self {
            Role::Pub(p) => Some(p),
            Role::Sub(_) => None,
        }
    }

    pub fn as_pub_mut(&mut self) -> Option<&mut PubState> {
        match self {
            Role::Pub(p) => Some(p),
            Role::Sub(_) => None,
        }
    }

    pub fn as_sub(&self) -> Option<&SubState> {
        match self {
            Role::Sub(s) => Some(s),
            Role::Pub(_) => None,
        }
    }

    pub fn as_sub_mut(&mut self) -> Option<&mut SubState> {
        match self {
            Role::Sub(s) => Some(s),
            Role::Pub(_) => None,
        }
    }
}

pub(super) struct Peer {
    pub rtc: Rtc,
    pub ufrag: String,
    /// Source addresses whose traffic str0m accepted (see `handle_datagram`).
    pub addrs: Vec<SocketAddr>,
    /// This peer's entry in the deadline set, if any.
    pub timer: Option<Instant>,
    /// Packets were written since the last flush (see `mark_dirty`).
    pub dirty: bool,
    pub connected: bool,
    /// When the peer was inserted: one that has not connected within
    /// `RouterConfig::connect_within` is closed.
    pub since: Instant,
    /// Remote ICE candidates handed to str0m so far, from the offer and
    /// trickled; capped because str0m compares each new one with all.
    pub remote_candidates: usize,
    pub role: Role,
}

impl Peer {
    pub fn id(&self) -> PeerId {
        match &self.role {
            Role::Pub(p) => PeerId::Publisher(p.id.clone()),
            Role::Sub(s) => PeerId::Subscriber(s.id.clone()),
        }
    }

    pub fn as_pub(&self) -> Option<&PubState> {
        self.role.as_pub()
    }

    pub fn as_pub_mut(&mut self) -> Option<&mut PubState> {
        self.role.as_pub_mut()
    }

    pub fn as_sub(&self) -> Option<&SubState> {
        self.role.as_sub()
    }

    pub fn as_sub_mut(&mut self) -> Option<&mut SubState> {
        self.role.as_sub_mut()
    }

    pub fn is_publisher(&self) -> bool {
        matches!(self.role, Role::Pub(_))
    }

    /// Notes that packets were written into this peer's `Rtc`. Returns true
    /// the first time since the last flush, when the caller must queue the
    /// peer for `flush_dirty`; later writes ride on that one flush.
    pub fn mark_dirty(&mut self) -> bool {
        !std::mem::replace(&mut self.dirty, true)
    }
}

/// Every peer by key, with role-aware lookups.
pub(super) struct Peers(FastMap<Key, Peer>);

impl Default for Peers {
    fn default() -> Self {
        Peers(super::fast_map())
    }
}

impl Peers {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn get(&self, key: Key) -> Option<&Peer> {
        self.0.get(&key)
    }

    pub fn get_mut(&mut self, key: Key) -> Option<&mut Peer> {
        self.0.get_mut(&key)
    }

    pub fn insert(&mut self, key: Key, peer: Peer) {
        self.0.insert(key, peer);
    }

    pub fn remove(&mut self, key: Key) -> Option<Peer> {
        self.0.remove(&key)
    }

    pub fn iter(&self) -> hash_map::Iter<'_, Key, Peer> {
        self.0.iter()
    }

    pub fn values_mut(&mut self) -> hash_map::ValuesMut<'_, Key, Peer> {
        self.0.values_mut()
    }

    pub fn publisher(&self, key: Key) -> Option<&PubState> {
        self.get(key).and_then(Peer::as_pub)
    }

    pub fn sub(&self, key: Key) -> Option<&SubState> {
        self.get(key).and_then(Peer::as_sub)
    }

    pub fn sub_mut(&mut self, key: Key) -> Option<&mut SubState> {
        self.get_mut(key).and_then(Peer::as_sub_mut)
    }

    pub fn slot(&self, key: Key, idx: usize) -> Option<&Slot> {
        self.sub(key).and_then(|s| s.slots.get(idx))
    }

    pub fn slot_mut(&mut self, key: Key, idx: usize) -> Option<&mut Slot> {
        self.sub_mut(key).and_then(|s| s.slots.get_mut(idx))
    }
}

/// Layers with these (SSRC, measured bit/s), for tests of layer choice.
#[cfg(test)]
pub(super) fn test_layers(rates: &[(u32, f64)]) -> Vec<Layer> {
    rates.iter().map(|&(ssrc, bps)| Layer { ssrc: ssrc.into(), bytes: 0, bps }).collect()
}

#[cfg(test)]
mod recording_layer_tests {
    use super::test_layers as layers;
    use super::*;

    #[test]
    fn a_recording_keeps_the_fastest_layer_under_the_cap() {
        let simulcast = layers(&[(1, 100_000.0), (2, 300_000.0), (3, 900_000.0)]);
        // From the first one seen (rates unknown) to the middle layer.
        assert_eq!(recording_layer(&simulcast, Some(1.into())), Some(2.into()));
        assert_eq!(recording_layer(&simulcast, None), Some(2.into()));
        // One encoding, however fast, is the recording.
        assert_eq!(recording_layer(&layers(&[(7, 2_000_000.0)]), None), Some(7.into()));
        // Nothing sent yet: no choice.
        assert_eq!(recording_layer(&layers(&[(1, 0.0)]), None), None);
    }

    #[test]
    fn a_recording_moves_when_its_layer_stops_and_not_on_a_wavering_rate() {
        // The browser paused the middle layer (a weak uplink): down to the lowest.
        let paused = layers(&[(1, 100_000.0), (2, 0.0), (3, 0.0)]);
        assert_eq!(recording_layer(&paused, Some(2.into())), Some(1.into()));
        // A layer wavering over the cap stays recorded while not far over…
        let wavering = layers(&[(1, 100_000.0), (2, 560_000.0)]);
        assert_eq!(recording_layer(&wavering, Some(2.into())), Some(2.into()));
        // …and a slightly faster layer under the cap does not take over.
        let close = layers(&[(1, 250_000.0), (2, 300_000.0)]);
        assert_eq!(recording_layer(&close, Some(1.into())), Some(1.into()));
        // Far over the cap (the browser raised it): down to one under it.
        let raised = layers(&[(1, 100_000.0), (2, 1_200_000.0)]);
        assert_eq!(recording_layer(&raised, Some(2.into())), Some(1.into()));
    }
}
