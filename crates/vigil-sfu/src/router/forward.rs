//! Forwarding: one publisher's RTP packet to every slot that shows it.
//!
//! This is the per-packet path. A packet is accounted on arrival (metrics,
//! health, layer rates), then written once per watching slot with its
//! sequence number and timestamp rewritten for that slot. An unwatched
//! student's packet ends after the first step without allocating.
//!
//! Audio (Opus) takes a path of its own before any of that: it feeds
//! neither health nor layers nor the recording, and goes to the audio
//! m-line paired with each watching slot, if the publication may forward
//! audio at all.

use std::time::Instant;

use str0m::format::Codec;
use str0m::rtp::{RtpPacket, RtpWrite};

use super::peer::{AudioVerdict, Layer, MAX_LAYERS, Peer, PubState};
use super::slots::Src;
use super::{Key, Router};
use crate::keyframe::{VideoCodec, is_keyframe_start};
use crate::record::{RecordFeed, RecordedPacket};

/// What forwarding needs to know about an arrived video packet.
pub(super) struct Arrival {
    codec: Codec,
    video: VideoCodec,
    keyframe: bool,
    /// The packet's SSRC had not been seen: slots re-rank layers.
    new_layer: bool,
    len: u64,
}

impl PubState {
    /// Feeds health and layer rates with a video packet. `None` for what is
    /// not forwarded as video: other payload types (audio has taken its own
    /// path before this), and SSRCs beyond `MAX_LAYERS`.
    fn track_video(&mut self, pkt: &RtpPacket, now: Instant) -> Option<Arrival> {
        let &(codec, vc) = self.pt_codec.get(&pkt.header.payload_type)?;
        let ssrc = pkt.header.ssrc;
        let keyframe = is_keyframe_start(vc, &pkt.payload);
        self.health.on_video_rtp(now, *ssrc, pkt.header.timestamp, keyframe);
        let len = pkt.payload.len() as u64;
        let known = self.layers.len();
        let new_layer = match self.layers.iter_mut().find(|l| l.ssrc == ssrc) {
            Some(l) => {
                l.bytes += len;
                false
            }
            None if known < MAX_LAYERS => {
                self.layers.push(Layer { ssrc, bytes: len, bps: 0.0 });
                true
            }
            None => return None,
        };
        Some(Arrival { codec, video: vc, keyframe, new_layer, len })
    }
}

impl Router {
    pub(super) fn on_rtp(&mut self, key: Key, mut pkt: RtpPacket, now: Instant) {
        let Some(p) = self.peers.get_mut(key).and_then(Peer::as_pub_mut) else {
            // Directions are forced, so this only happens if a proctor sends
            // anyway; never forward what a proctor sends.
            self.metrics.dropped_wrong_direction.increment(1);
            return;
        };
        self.metrics.packets.rtp_in_packets += 1;
        self.metrics.packets.rtp_in_bytes += pkt.payload.len() as u64;
        match p.audio.verdict(pkt.header.payload_type, pkt.header.ssrc) {
            AudioVerdict::NotAudio => {}
            AudioVerdict::NotAllowed => {
                self.metrics.packets.audio_dropped_not_allowed += 1;
                return;
            }
            AudioVerdict::SecondStream => {
                self.metrics.packets.audio_dropped_second_stream += 1;
                return;
            }
            AudioVerdict::Forward => {
                if !p.watchers.is_empty() {
                    self.forward_audio(key, &pkt, now);
                }
                return;
            }
        }
        let Some(arrival) = p.track_video(&pkt, now) else {
            return;
        };
        if let (Some(id), Some(tap)) = (&p.recorded, &self.cfg.recorder)
            && p.recorded_ssrc.or((!p.simulcast).then_some(pkt.header.ssrc)) == Some(pkt.header.ssrc)
        {
            p.recorded_ssrc = Some(pkt.header.ssrc);
            tap.send(RecordFeed::Packet(RecordedPacket {
                publisher: id.clone(),
                arrived: now,
                codec: arrival.video,
                ssrc: *pkt.header.ssrc,
                seq: pkt.header.sequence_number,
                timestamp: pkt.header.timestamp,
                marker: pkt.header.marker,
                payload: pkt.payload.clone(),
            }));
        }
        // Most students are not watched at any moment.
        if p.watchers.is_empty() {
            return;
        }
        // The publisher's own list, borrowed out for the loop (the writes
        // need `&mut self`) and put back: no lookup by id, no copy.
        let watchers = std::mem::take(&mut p.watchers);
        if arrival.new_layer {
            for &(sk, idx) in &watchers {
                self.reselect(now, sk, idx, false);
            }
        }
        let src = Src { peer: key, ssrc: pkt.header.ssrc };
        let last = watchers.len().saturating_sub(1);
        for (i, &(sk, idx)) in watchers.iter().enumerate() {
            self.forward_to_slot(sk, idx, src, &arrival, &mut pkt, i == last, now);
        }
        if let Some(p) = self.peers.get_mut(key).and_then(Peer::as_pub_mut) {
            p.watchers = watchers;
        }
    }

    /// Writes an audio packet into the audio m-line paired with each slot
    /// bound to this publisher. Unlike video there is no keyframe to wait
    /// for: a slot switches to this source at its first packet.
    fn forward_audio(&mut self, key: Key, pkt: &RtpPacket, now: Instant) {
        let Some(p) = self.peers.get_mut(key).and_then(Peer::as_pub_mut) else {
            return;
        };
        // Borrowed out and put back, as for video.
        let watchers = std::mem::take(&mut p.watchers);
        let src = Src { peer: key, ssrc: pkt.header.ssrc };
        for &(sk, idx) in &watchers {
            self.forward_audio_to_slot(sk, idx, src, pkt, now);
        }
        if let Some(p) = self.peers.get_mut(key).and_then(Peer::as_pub_mut) {
            p.watchers = watchers;
        }
    }

    fn forward_audio_to_slot(&mut self, sk: Key, idx: usize, src: Src, pkt: &RtpPacket, now: Instant) {
        let Some(peer) = self.peers.get_mut(sk) else {
            return;
        };
        let Some(sub) = peer.role.as_sub_mut() else {
            return;
        };
        let Some(pt) = sub.pt_for(Codec::Opus) else {
            return;
        };
        let Some(audio) = sub.slots.get_mut(idx).and_then(|s| s.audio.as_mut()) else {
            return;
        };
        let Some((seq, ts)) = audio.rewrite(src, *pkt.seq_no, pkt.header.timestamp, now) else {
            return;
        };
        let mid = audio.mid;
        let mut api = peer.rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(mid, None) else {
            return;
        };
        // The payload is shared (`Arc`), not copied. Audio is not written
        // nackable: browsers do not NACK Opus, and a resend would come after
        // the jitter buffer played past it.
        tx.write_rtp(RtpWrite::new(pt, seq.into(), ts, now, pkt.payload.clone()).marker(pkt.header.marker));
        self.metrics.packets.rtp_out_packets += 1;
        self.metrics.packets.rtp_out_bytes += pkt.payload.len() as u64;
        self.metrics.packets.audio_forwarded += 1;
        if peer.mark_dirty() {
            self.dirty.push(sk);
        }
    }

    /// Writes the packet into one slot if the slot shows this source (or
    /// switches to it at this keyframe). `take_payload` hands the payload
    /// over instead of copying it: the last watcher takes it, so with one
    /// watcher, the common case, nothing is copied.
    #[allow(clippy::too_many_arguments)]
    fn forward_to_slot(
        &mut self,
        sk: Key,
        idx: usize,
        src: Src,
        arrival: &Arrival,
        pkt: &mut RtpPacket,
        take_payload: bool,
        now: Instant,
    ) {
        let Some(peer) = self.peers.get_mut(sk) else {
            return;
        };
        let Some(sub) = peer.role.as_sub_mut() else {
            return;
        };
        let Some(pt) = sub.pt_for(arrival.codec) else {
            return;
        };
        let Some(slot) = sub.slots.get_mut(idx) else {
            return;
        };
        slot.switch_at_keyframe(src, arrival.keyframe, *pkt.seq_no, pkt.header.timestamp, now);
        if !slot.shows(src) {
            return;
        }
        let Some((seq, ts)) = slot.rw.rewrite(*pkt.seq_no, pkt.header.timestamp, now) else {
            return;
        };
        let mid = slot.mid;
        let mut api = peer.rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(mid, None) else {
            return;
        };
        let payload = if take_payload { std::mem::take(&mut pkt.payload) } else { pkt.payload.clone() };
        tx.write_rtp(RtpWrite::new(pt, seq.into(), ts, now, payload).marker(pkt.header.marker).nackable(true));
        self.metrics.packets.rtp_out_packets += 1;
        self.metrics.packets.rtp_out_bytes += arrival.len;
        if peer.mark_dirty() {
            self.dirty.push(sk);
        }
    }
}
