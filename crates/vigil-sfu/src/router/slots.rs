//! Watch slots: binding a slot to a publisher, choosing its layer, and
//! asking sources for keyframes.

use std::time::Instant;

use str0m::media::{KeyframeRequestKind, Mid};
use str0m::rtp::Ssrc;
use vigil_proto::events::{SlotUpdate, WatchQuality};

use super::{Key, PublisherId, Router, SubscriberId};
use crate::SfuError;
use crate::rewrite::Rewriter;

/// Headroom `Full` keeps between a layer's rate and the proctor's estimate.
const BWE_HEADROOM: f64 = 1.15;

/// The layer a slot of `quality` shows, and its rank (0 = lowest rate), for
/// a proctor whose downlink is estimated at `estimate_bps`. Layers are
/// ranked by measured rate, not by rid: browsers name them differently.
/// Only layers that sent in the last rate window count while any did: a
/// layer the browser paused (a weak uplink, or the page's own plan) keeps
/// its entry at 0 bit/s, and ranked lowest it would freeze a thumbnail.
pub(super) fn slot_layer(
    layers: &[super::peer::Layer],
    quality: WatchQuality,
    estimate_bps: Option<u64>,
) -> Option<(Ssrc, usize)> {
    let sending = layers.iter().any(|l| l.bps > 0.0);
    let mut ranked: Vec<(Ssrc, f64)> =
        layers.iter().filter(|l| !sending || l.bps > 0.0).map(|l| (l.ssrc, l.bps)).collect();
    if ranked.is_empty() {
        return None;
    }
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
    let chosen = match quality {
        WatchQuality::Thumbnail => 0,
        WatchQuality::Full => match estimate_bps {
            // Highest layer that fits the estimate with headroom.
            Some(bps) => ranked.iter().rposition(|l| l.1 * BWE_HEADROOM <= bps as f64).unwrap_or(0),
            None => ranked.len() - 1,
        },
    };
    Some((ranked[chosen].0, chosen))
}

/// RTP clock rates: video's is 90 kHz, Opus's 48 kHz (RFC 7587), whatever
/// the sample rate the encoder runs at.
const VIDEO_CLOCK_RATE: u32 = 90_000;
pub(super) const OPUS_CLOCK_RATE: u32 = 48_000;

/// A source a slot can show: one encoding (SSRC) of one publisher peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Src {
    pub peer: Key,
    pub ssrc: Ssrc,
}

/// One recvonly video transceiver of a proctor: one outgoing SSRC for the
/// life of the connection, whoever it shows.
pub(super) struct Slot {
    pub mid: Mid,
    /// Who the slot is bound to, by id, so a re-publish continues here.
    pub publisher: Option<PublisherId>,
    pub quality: WatchQuality,
    /// The source being forwarded now.
    pub current: Option<Src>,
    /// The source to switch to at its next keyframe.
    pub pending: Option<Src>,
    pub last_request: Option<Instant>,
    pub rw: Rewriter,
    /// The layer (0 = lowest rate) last chosen, as counted in the
    /// `vigil_sfu_slots{layer}` gauge.
    pub shown_layer: Option<usize>,
    /// str0m's cumulative NACK count for this mid, to count only the growth.
    pub nacks_seen: u64,
    /// The proctor's audio m-line paired with this slot, if it offered one.
    pub audio: Option<AudioSlot>,
}

/// The recvonly audio m-line paired with a video slot: it plays whoever the
/// slot is bound to, with one outgoing SSRC for the life of the connection.
/// No keyframes: it switches at the new source's first packet.
pub(super) struct AudioSlot {
    pub mid: Mid,
    /// The audio stream being forwarded now.
    pub current: Option<Src>,
    pub rw: Rewriter,
}

impl AudioSlot {
    pub fn new(mid: Mid) -> AudioSlot {
        AudioSlot { mid, current: None, rw: Rewriter::new() }
    }

    /// Maps a packet of `src` to the outgoing sequence number and
    /// timestamp, switching to `src` first if it is not the one playing;
    /// `None` for a late packet from before the switch.
    pub fn rewrite(&mut self, src: Src, seq: u64, ts: u32, now: Instant) -> Option<(u64, u32)> {
        if self.current != Some(src) {
            self.current = Some(src);
            self.rw.switch(seq, ts, now, OPUS_CLOCK_RATE);
        }
        self.rw.rewrite(seq, ts, now)
    }

    /// Nothing plays until the next packet of a source the slot is bound to.
    pub fn stop(&mut self) {
        self.current = None;
        self.rw.stop();
    }
}

/// Pairs a proctor's audio m-lines with its video slots by order: the i-th
/// audio m-line belongs to the i-th video slot. Slots beyond the audio
/// m-lines get none; audio m-lines beyond the slots belong to none (they
/// are answered inactive, see `prepare`).
pub(super) fn paired_audio(slots: usize, audio_mids: &[Mid]) -> Vec<Option<Mid>> {
    (0..slots).map(|i| audio_mids.get(i).copied()).collect()
}

impl Slot {
    pub fn new(mid: Mid, audio: Option<Mid>) -> Slot {
        Slot {
            mid,
            publisher: None,
            quality: WatchQuality::Thumbnail,
            current: None,
            pending: None,
            last_request: None,
            rw: Rewriter::new(),
            shown_layer: None,
            nacks_seen: 0,
            audio: audio.map(AudioSlot::new),
        }
    }

    /// Switches to `src` if the slot waits for it and this packet starts a
    /// keyframe; the rewriter then continues the outgoing sequence.
    pub fn switch_at_keyframe(&mut self, src: Src, keyframe: bool, seq: u64, ts: u32, now: Instant) {
        if keyframe && self.pending == Some(src) {
            self.current = Some(src);
            self.pending = None;
            self.rw.switch(seq, ts, now, VIDEO_CLOCK_RATE);
        }
    }

    /// Whether packets from `src` are forwarded to this slot.
    pub fn shows(&self, src: Src) -> bool {
        self.current == Some(src)
    }
}

impl Router {
    /// Shows `publisher` in slot `slot` of `subscriber`. The slot keeps its
    /// old picture until the new source's keyframe arrives. Its paired
    /// audio m-line, if any, plays `publisher` from their next audio packet
    /// (if their publication may forward audio); the old one's packets stop
    /// reaching the slot at once.
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
            let s = self.peers.slot_mut(key, idx).ok_or(SfuError::UnknownPeer)?;
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
        self.mirror_watchers(&publisher);
        self.reselect(now, key, idx, true);
        self.flush_dirty(now);
        Ok(self.slot_update(key, idx))
    }

    /// Empties a slot: nothing more is forwarded to it, video or audio.
    pub fn unwatch(&mut self, _now: Instant, subscriber: &SubscriberId, slot: u32) -> Result<SlotUpdate, SfuError> {
        let (key, idx) = self.subscriber_slot(subscriber, slot)?;
        let (old, layer) = {
            let s = self.peers.slot_mut(key, idx).ok_or(SfuError::UnknownPeer)?;
            s.current = None;
            s.pending = None;
            s.rw.stop();
            if let Some(audio) = &mut s.audio {
                audio.stop();
            }
            (s.publisher.take(), s.shown_layer.take())
        };
        self.metrics.slot_layer_changed(layer, None);
        if let Some(old) = old {
            self.detach_watcher(&old, key, idx);
        }
        Ok(self.slot_update(key, idx))
    }

    /// The subscriber's key and the index of its `slot`, or why there is none.
    pub(super) fn subscriber_slot(&self, subscriber: &SubscriberId, slot: u32) -> Result<(Key, usize), SfuError> {
        let key = *self.subscribers.get(subscriber).ok_or(SfuError::UnknownPeer)?;
        let sub = self.peers.sub(key).ok_or(SfuError::UnknownPeer)?;
        let idx = slot as usize;
        if idx >= sub.slots.len() {
            return Err(SfuError::NoSuchSlot { slot, slots: sub.slots.len() });
        }
        Ok((key, idx))
    }

    pub(super) fn slot_update(&self, key: Key, idx: usize) -> SlotUpdate {
        let slot = self.peers.slot(key, idx);
        SlotUpdate {
            slot: idx as u32,
            mid: slot.map(|s| s.mid.to_string()).unwrap_or_default(),
            student_id: slot.and_then(|s| s.publisher.as_ref()).map(|p| p.student.clone()),
            quality: slot.and_then(|s| s.publisher.as_ref().map(|_| s.quality)),
        }
    }

    pub(super) fn detach_watcher(&mut self, publisher: &PublisherId, key: Key, idx: usize) {
        if let Some(list) = self.watchers.get_mut(publisher) {
            list.retain(|w| *w != (key, idx));
            if list.is_empty() {
                self.watchers.remove(publisher);
            }
        }
        self.mirror_watchers(publisher);
    }

    /// Copies `publisher`'s watcher list into its peer, if it is here.
    /// Called wherever the list changes (signalling, never per packet).
    fn mirror_watchers(&mut self, publisher: &PublisherId) {
        let Some(&pk) = self.publishers.get(publisher) else {
            return;
        };
        let list = self.watchers.get(publisher).cloned().unwrap_or_default();
        if let Some(p) = self.peers.get_mut(pk).and_then(|p| p.as_pub_mut()) {
            p.watchers = list;
        }
    }

    /// Picks the layer a slot should show and asks for a keyframe when it
    /// changes. `force` re-requests even if the choice is unchanged.
    pub(super) fn reselect(&mut self, now: Instant, sk: Key, idx: usize, force: bool) {
        let Some((want, chosen)) = self.choose_layer(sk, idx) else {
            return;
        };
        let Some(slot) = self.peers.slot_mut(sk, idx) else {
            return;
        };
        let was = slot.shown_layer.replace(chosen);
        self.metrics.slot_layer_changed(was, Some(chosen));
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

    /// The source a slot should show and its rank among the publisher's
    /// layers (0 = lowest rate); `None` while the slot is empty or the
    /// publisher is absent or has sent nothing yet.
    fn choose_layer(&self, sk: Key, idx: usize) -> Option<(Src, usize)> {
        let sub = self.peers.sub(sk)?;
        let slot = sub.slots.get(idx)?;
        let publisher = slot.publisher.as_ref()?;
        let pk = *self.publishers.get(publisher)?;
        let (ssrc, chosen) = slot_layer(&self.peers.publisher(pk)?.layers, slot.quality, sub.estimate_bps)?;
        Some((Src { peer: pk, ssrc }, chosen))
    }

    /// A proctor's decoder lost the picture of the slot at `mid`: ask the
    /// source it currently shows.
    pub(super) fn on_proctor_keyframe_request(&mut self, now: Instant, sk: Key, mid: Mid, kind: KeyframeRequestKind) {
        let shown = self.peers.sub(sk).and_then(|s| {
            let idx = s.slots.iter().position(|sl| sl.mid == mid)?;
            Some((idx, s.slots[idx].current?))
        });
        if let Some((idx, src)) = shown {
            self.request_keyframe(now, sk, idx, src, kind);
        }
    }

    /// Asks `src` for a keyframe on behalf of one slot, at most once per
    /// `keyframe_request_interval` per slot.
    pub(super) fn request_keyframe(&mut self, now: Instant, sk: Key, idx: usize, src: Src, kind: KeyframeRequestKind) {
        let interval = self.cfg.keyframe_request_interval;
        let Some(slot) = self.peers.slot_mut(sk, idx) else {
            return;
        };
        if slot.last_request.is_some_and(|t| now.saturating_duration_since(t) < interval) {
            return;
        }
        slot.last_request = Some(now);
        let Some(peer) = self.peers.get_mut(src.peer).filter(|p| p.is_publisher()) else {
            return;
        };
        let mut api = peer.rtc.direct_api();
        let Some(rx) = api.stream_rx(&src.ssrc) else {
            return;
        };
        rx.request_keyframe(kind);
        if let Some(p) = peer.as_pub_mut() {
            p.health.on_keyframe_requested(now);
        }
        self.metrics.keyframe_requested(kind);
        if peer.mark_dirty() {
            self.dirty.push(src.peer);
        }
    }
}

#[cfg(test)]
mod slot_layer_tests {
    use super::super::peer::test_layers as layers;
    use super::*;

    #[test]
    fn thumbnails_take_the_lowest_layer_and_full_the_highest_that_fits() {
        let simulcast = layers(&[(3, 900_000.0), (1, 100_000.0), (2, 300_000.0)]);
        assert_eq!(slot_layer(&simulcast, WatchQuality::Thumbnail, None), Some((1.into(), 0)));
        assert_eq!(slot_layer(&simulcast, WatchQuality::Full, None), Some((3.into(), 2)));
        assert_eq!(slot_layer(&simulcast, WatchQuality::Full, Some(400_000)), Some((2.into(), 1)));
        assert_eq!(slot_layer(&simulcast, WatchQuality::Full, Some(10_000)), Some((1.into(), 0)));
        assert_eq!(slot_layer(&[], WatchQuality::Full, None), None);
    }

    #[test]
    fn a_paused_layer_is_not_shown() {
        // The quarter layer stopped (its entry stays, at 0 bit/s): a
        // thumbnail shows the lowest layer still sending, not a frozen one.
        let paused = layers(&[(1, 0.0), (2, 300_000.0), (3, 900_000.0)]);
        assert_eq!(slot_layer(&paused, WatchQuality::Thumbnail, None), Some((2.into(), 0)));
        // Only the quarter layer sends (a weak uplink): full shows it too.
        let quarter_only = layers(&[(1, 100_000.0), (2, 0.0), (3, 0.0)]);
        assert_eq!(slot_layer(&quarter_only, WatchQuality::Full, None), Some((1.into(), 0)));
        // Before the first rate window nothing has a rate: any layer seen will do.
        let unmeasured = layers(&[(5, 0.0)]);
        assert_eq!(slot_layer(&unmeasured, WatchQuality::Thumbnail, None), Some((5.into(), 0)));
    }
}
