//! RTP packets of one video stream (VP8 or H.264) in, whole frames out:
//! sans-IO, fed packets and the time they arrived.
//!
//! Packets may arrive out of order, late, twice or never. The assembler
//! holds a few for reordering; a gap that outlives the hold is a loss.
//! Frames refer to earlier ones, so after a loss no frame is usable
//! until the next key frame: the assembler drops them (counted) and asks
//! for a key frame (`Output::NeedKeyframe`, at most once per
//! `keyframe_request_interval`), which the SFU turns into a PLI.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::h264;
use crate::vp8::{self, FrameHeader};

/// The video codecs a recording takes: what the SFU negotiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Codec {
    /// RFC 7741; recorded as WebM.
    #[default]
    Vp8,
    /// RFC 6184, packetization mode 1; recorded as MP4.
    H264,
}

/// One RTP packet as the SFU received it, decrypted.
#[derive(Debug, Clone, Copy)]
pub struct RtpIn<'a> {
    pub seq: u16,
    /// The RTP timestamp: 90 kHz for video, the same for every packet of a frame.
    pub timestamp: u32,
    pub marker: bool,
    pub payload: &'a [u8],
}

/// A whole frame (a VP8 frame, or an H.264 access unit in Annex B form),
/// ready for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The RTP timestamp extended past its 32-bit wrap, 90 kHz.
    pub timestamp: u64,
    pub keyframe: bool,
    /// Width and height, on key frames.
    pub size: Option<(u16, u16)>,
    pub data: Vec<u8>,
    /// When its last packet arrived (or the gap before it was given up on):
    /// places the frame in wall-clock time, which the RTP clock does not.
    pub completed_at: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Frame(Frame),
    /// A loss made the stream undecodable until the next key frame.
    NeedKeyframe,
}

#[derive(Debug, Clone)]
pub struct AssemblerConfig {
    /// Packets held while a gap before them may still be filled.
    pub reorder_packets: usize,
    /// How long a gap may wait for its packet before it counts as lost.
    pub reorder_time: Duration,
    /// Frames larger than this are dropped (a 1080p key frame is a few
    /// hundred kilobytes).
    pub max_frame_bytes: usize,
    pub keyframe_request_interval: Duration,
    pub codec: Codec,
}

impl Default for AssemblerConfig {
    fn default() -> Self {
        AssemblerConfig {
            codec: Codec::Vp8,
            reorder_packets: 64,
            reorder_time: Duration::from_millis(150),
            max_frame_bytes: 4 << 20,
            keyframe_request_interval: Duration::from_secs(1),
        }
    }
}

/// What happened to the packets and frames so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssemblerStats {
    pub frames: u64,
    pub keyframes: u64,
    /// Packets never received (gaps given up on).
    pub packets_lost: u64,
    /// Packets that came after their place was given up on, or twice.
    pub packets_late: u64,
    pub packets_malformed: u64,
    /// Frames dropped: incomplete, too large, or undecodable after a loss.
    pub frames_dropped: u64,
}

/// A packet held in the reorder buffer.
#[derive(Debug)]
struct Held {
    timestamp: u64,
    marker: bool,
    starts_frame: bool,
    data: Vec<u8>,
}

/// The frame being put together from consecutive packets.
#[derive(Debug)]
struct Partial {
    timestamp: u64,
    header: Option<FrameHeader>,
    data: Vec<u8>,
    broken: bool,
}

#[derive(Debug)]
pub struct FrameAssembler {
    cfg: AssemblerConfig,
    /// Extended sequence number of the next packet to consume.
    next_seq: Option<u64>,
    /// Highest extended sequence number and timestamp seen, for unwrapping.
    highest_seq: u64,
    last_timestamp: Option<u64>,
    held: BTreeMap<u64, Held>,
    /// Since when the packet `next_seq` has been missing.
    gap_since: Option<Instant>,
    partial: Option<Partial>,
    /// Until a key frame arrives, frames are dropped.
    need_keyframe: bool,
    /// H.264 marks no frame's first packet: the packet after one with the
    /// marker starts the next frame. False after a loss, until a marker.
    at_frame_boundary: bool,
    /// H.264: the fragmented NAL unit (FU-A) being put together.
    fu: h264::FuState,
    last_request: Option<Instant>,
    out: VecDeque<Output>,
    stats: AssemblerStats,
}

/// Extends a wrapping counter of `bits` bits to 64 bits, as the value
/// nearest to `reference`.
fn extend(value: u64, reference: u64, bits: u32) -> u64 {
    let range = 1u64 << bits;
    let half = range / 2;
    let base = reference & !(range - 1);
    let candidate = base | value;
    if candidate + half < reference {
        candidate + range
    } else if candidate > reference + half && candidate >= range {
        candidate - range
    } else {
        candidate
    }
}

impl FrameAssembler {
    pub fn new(cfg: AssemblerConfig) -> Self {
        FrameAssembler {
            cfg,
            next_seq: None,
            highest_seq: 0,
            last_timestamp: None,
            held: BTreeMap::new(),
            gap_since: None,
            partial: None,
            need_keyframe: true,
            at_frame_boundary: false,
            fu: h264::FuState::default(),
            last_request: None,
            out: VecDeque::new(),
            stats: AssemblerStats::default(),
        }
    }

    pub fn stats(&self) -> AssemblerStats {
        self.stats
    }

    /// The next frame or key frame request, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Takes one packet that arrived at `now`.
    pub fn push(&mut self, now: Instant, packet: RtpIn<'_>) {
        // VP8's descriptor is read now (it says whether the packet starts a
        // frame); H.264's payload only makes sense in order, in `consume`.
        let (starts_frame, data) = match self.cfg.codec {
            Codec::Vp8 => match vp8::parse_payload(packet.payload) {
                Ok((descriptor, data)) => (descriptor.starts_frame, data),
                Err(_) => {
                    self.stats.packets_malformed += 1;
                    // Its sequence number is taken: the gap it leaves is a loss.
                    return self.place_gap_filler(packet.seq, now);
                }
            },
            Codec::H264 => (false, packet.payload),
        };
        let seq = match self.next_seq {
            None => u64::from(packet.seq) + (1 << 16), // room to reorder below the first
            Some(_) => extend(u64::from(packet.seq), self.highest_seq, 16),
        };
        let timestamp = match self.last_timestamp {
            None => u64::from(packet.timestamp) + (1 << 32),
            Some(last) => extend(u64::from(packet.timestamp), last, 32),
        };
        if self.next_seq.is_none() {
            // The first packet seen is taken as a frame's first: a stream
            // starts with one (and a wrong guess is a broken frame, dropped).
            self.at_frame_boundary = true;
        }
        let next = *self.next_seq.get_or_insert(seq);
        if seq < next || self.held.contains_key(&seq) {
            self.stats.packets_late += 1;
            return;
        }
        if seq - next > 1 << 15 {
            // Far ahead of anything held: the sender restarted its
            // sequence. Start over at a key frame.
            self.restart(seq);
        }
        self.highest_seq = self.highest_seq.max(seq);
        self.last_timestamp = Some(self.last_timestamp.map_or(timestamp, |t| t.max(timestamp)));
        self.held.insert(seq, Held { timestamp, marker: packet.marker, starts_frame, data: data.to_vec() });
        self.drain(now);
    }

    /// A packet whose payload could not be read still fills its place, so
    /// that the gap is seen as a loss at once rather than after the hold.
    fn place_gap_filler(&mut self, seq: u16, now: Instant) {
        if let Some(next) = self.next_seq {
            let seq = extend(u64::from(seq), self.highest_seq, 16);
            if seq == next {
                self.lose(1, now);
                self.next_seq = Some(next + 1);
                self.drain(now);
            }
        }
    }

    fn restart(&mut self, seq: u64) {
        self.held.clear();
        self.partial = None;
        self.at_frame_boundary = false;
        self.fu = h264::FuState::default();
        self.next_seq = Some(seq);
        self.highest_seq = seq;
        self.gap_since = None;
        self.need_keyframe = true;
    }

    /// Consumes held packets in order; gives up on a gap once the hold is
    /// full or the gap is older than `reorder_time`.
    fn drain(&mut self, now: Instant) {
        while let Some(next) = self.next_seq {
            if let Some(p) = self.held.remove(&next) {
                self.next_seq = Some(next + 1);
                self.gap_since = None;
                self.consume(now, p);
                continue;
            }
            let Some((&first_held, _)) = self.held.first_key_value() else { return };
            let since = *self.gap_since.get_or_insert(now);
            if self.held.len() < self.cfg.reorder_packets
                && now.saturating_duration_since(since) < self.cfg.reorder_time
            {
                return;
            }
            self.lose(first_held - next, now);
            self.next_seq = Some(first_held);
            self.gap_since = None;
        }
    }

    fn lose(&mut self, packets: u64, now: Instant) {
        self.stats.packets_lost += packets;
        if let Some(p) = &mut self.partial {
            p.broken = true;
        }
        self.at_frame_boundary = false;
        self.fu = h264::FuState::default();
        self.want_keyframe(now);
    }

    fn want_keyframe(&mut self, now: Instant) {
        self.need_keyframe = true;
        let due =
            self.last_request.is_none_or(|t| now.saturating_duration_since(t) >= self.cfg.keyframe_request_interval);
        if due {
            self.last_request = Some(now);
            self.out.push_back(Output::NeedKeyframe);
        }
    }

    fn consume(&mut self, now: Instant, mut p: Held) {
        if self.cfg.codec == Codec::H264 {
            p.starts_frame = std::mem::replace(&mut self.at_frame_boundary, p.marker);
            match h264::parse_payload(&p.data, &mut self.fu) {
                Ok(d) => p.data = d.data,
                Err(_) => {
                    // A payload that cannot be read (or a fragment whose
                    // start is gone) breaks its frame, as a loss does.
                    self.stats.packets_malformed += 1;
                    self.fu = h264::FuState::default();
                    if let Some(partial) = &mut self.partial {
                        partial.broken = true;
                    }
                    self.want_keyframe(now);
                    if p.marker {
                        self.finish_frame(now);
                    }
                    return;
                }
            }
        }
        if p.starts_frame {
            if let Some(unfinished) = self.partial.take() {
                // Its last packet (with the marker) never came.
                drop(unfinished);
                self.stats.frames_dropped += 1;
                self.want_keyframe(now);
            }
            // An H.264 frame's header is read when it is whole (its SPS
            // and IDR may come in any of its packets).
            let header = match self.cfg.codec {
                Codec::Vp8 => vp8::frame_header(&p.data),
                Codec::H264 => None,
            };
            self.partial = Some(Partial { timestamp: p.timestamp, header, data: p.data, broken: false });
        } else {
            match &mut self.partial {
                Some(partial) if partial.timestamp == p.timestamp => {
                    if partial.data.len() + p.data.len() > self.cfg.max_frame_bytes {
                        partial.broken = true;
                    } else if !partial.broken {
                        partial.data.extend_from_slice(&p.data);
                    }
                }
                _ => {
                    // The frame's first packet is gone: nothing to add to.
                    if self.partial.take().is_some() {
                        self.stats.frames_dropped += 1;
                    }
                    if p.marker {
                        self.stats.frames_dropped += 1;
                    }
                    self.want_keyframe(now);
                    return;
                }
            }
        }
        if p.marker {
            self.finish_frame(now);
        }
    }

    fn finish_frame(&mut self, now: Instant) {
        let Some(mut partial) = self.partial.take() else { return };
        if self.cfg.codec == Codec::H264 && !partial.broken {
            let h = h264::access_unit_header(&partial.data);
            partial.header = Some(FrameHeader { keyframe: h.keyframe, size: h.size });
        }
        let header = match partial.header {
            Some(h) if !partial.broken => h,
            _ => {
                self.stats.frames_dropped += 1;
                return self.want_keyframe(now);
            }
        };
        if header.keyframe {
            self.need_keyframe = false;
        } else if self.need_keyframe {
            // Refers to a frame that was lost, or to one from before the
            // recording started (a browser sends key frames rarely, so ask).
            self.stats.frames_dropped += 1;
            return self.want_keyframe(now);
        }
        self.stats.frames += 1;
        self.stats.keyframes += u64::from(header.keyframe);
        self.out.push_back(Output::Frame(Frame {
            timestamp: partial.timestamp,
            keyframe: header.keyframe,
            size: header.size,
            data: partial.data,
            completed_at: now,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 key frame of `size` bytes, 320x240.
    fn keyframe(size: usize, fill: u8) -> Vec<u8> {
        let mut f = vec![0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];
        f.resize(size.max(10), fill);
        f
    }

    fn delta(size: usize, fill: u8) -> Vec<u8> {
        let mut f = vec![0x51];
        f.resize(size.max(1), fill);
        f
    }

    /// Packetises a frame as a browser does: descriptor with S on the first
    /// packet, marker on the last, at most `mtu` bytes of frame each.
    struct Sender {
        seq: u16,
        packets: Vec<(u16, u32, bool, Vec<u8>)>,
    }

    impl Sender {
        fn new(seq: u16) -> Self {
            Sender { seq, packets: Vec::new() }
        }

        fn frame(&mut self, timestamp: u32, frame: &[u8], mtu: usize) {
            let chunks: Vec<&[u8]> = frame.chunks(mtu).collect();
            for (i, c) in chunks.iter().enumerate() {
                let mut payload = vec![if i == 0 { 0x10 } else { 0x00 }];
                payload.extend_from_slice(c);
                self.packets.push((self.seq, timestamp, i + 1 == chunks.len(), payload));
                self.seq = self.seq.wrapping_add(1);
            }
        }
    }

    fn feed(a: &mut FrameAssembler, at: Instant, packets: &[(u16, u32, bool, Vec<u8>)]) -> Vec<Output> {
        for (seq, ts, marker, payload) in packets {
            a.push(at, RtpIn { seq: *seq, timestamp: *ts, marker: *marker, payload });
        }
        std::iter::from_fn(|| a.poll_output()).collect()
    }

    fn frames(out: &[Output]) -> Vec<&Frame> {
        out.iter()
            .filter_map(|o| match o {
                Output::Frame(f) => Some(f),
                Output::NeedKeyframe => None,
            })
            .collect()
    }

    #[test]
    fn frames_are_reassembled_across_packets() {
        let mut s = Sender::new(100);
        let k = keyframe(3000, 1);
        let d = delta(700, 2);
        s.frame(1000, &k, 1100);
        s.frame(4000, &d, 1100);
        let mut a = FrameAssembler::new(AssemblerConfig::default());
        let out = feed(&mut a, Instant::now(), &s.packets);
        let f = frames(&out);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].keyframe, f[0].size, &f[0].data), (true, Some((320, 240)), &k));
        assert_eq!((f[1].keyframe, &f[1].data), (false, &d));
        assert_eq!(f[1].timestamp - f[0].timestamp, 3000);
        assert_eq!(a.stats().packets_lost, 0);
    }

    #[test]
    fn reordered_packets_are_put_back_in_order() {
        let mut s = Sender::new(7);
        s.frame(0, &keyframe(3000, 1), 1000);
        s.frame(6000, &delta(2500, 2), 1000);
        s.packets.swap(1, 2);
        s.packets.swap(3, 5);
        let mut a = FrameAssembler::new(AssemblerConfig::default());
        let out = feed(&mut a, Instant::now(), &s.packets);
        assert_eq!(frames(&out).len(), 2);
        assert_eq!(a.stats(), AssemblerStats { frames: 2, keyframes: 1, ..Default::default() });
    }

    #[test]
    fn a_loss_drops_frames_until_the_next_keyframe_and_asks_for_one() {
        let mut s = Sender::new(65530); // the sequence wraps on the way
        s.frame(0, &keyframe(2000, 1), 1000);
        s.frame(3000, &delta(2000, 2), 1000);
        s.frame(6000, &delta(500, 3), 1000);
        s.frame(9000, &keyframe(1500, 4), 1000);
        s.frame(12000, &delta(500, 5), 1000);
        s.packets.remove(3); // the second half of the first delta frame
        let start = Instant::now();
        let mut a = FrameAssembler::new(AssemblerConfig::default());
        let (early, late) = s.packets.split_at(5);
        let mut out = feed(&mut a, start, early);
        // The gap is given up on once it is older than the hold.
        out.extend(feed(&mut a, start + Duration::from_millis(200), late));
        let got: Vec<(bool, u8)> = frames(&out).iter().map(|f| (f.keyframe, f.data[f.data.len() - 1])).collect();
        assert_eq!(got, vec![(true, 1), (true, 4), (false, 5)]);
        assert_eq!(out.iter().filter(|o| **o == Output::NeedKeyframe).count(), 1);
        let st = a.stats();
        assert_eq!((st.packets_lost, st.frames_dropped), (1, 2));
    }

    #[test]
    fn timestamps_continue_across_the_32_bit_wrap() {
        let mut s = Sender::new(0);
        s.frame(u32::MAX - 1499, &keyframe(100, 1), 1000);
        s.frame(1500, &delta(100, 2), 1000);
        let mut a = FrameAssembler::new(AssemblerConfig::default());
        let out = feed(&mut a, Instant::now(), &s.packets);
        let f = frames(&out);
        assert_eq!(f[1].timestamp - f[0].timestamp, 3000);
    }

    #[test]
    fn duplicates_late_packets_and_garbage_are_counted_not_used() {
        let mut s = Sender::new(10);
        s.frame(0, &keyframe(2000, 1), 1000);
        let dup = s.packets[0].clone();
        let mut a = FrameAssembler::new(AssemblerConfig::default());
        let now = Instant::now();
        feed(&mut a, now, &s.packets);
        let out = feed(&mut a, now, &[dup, (12, 0, true, vec![0x90])]);
        assert_eq!(out, vec![Output::NeedKeyframe]);
        // The malformed packet took seq 12's place: the next frame, at 13,
        // follows a loss and cannot be decoded, but a key frame can.
        let mut s = Sender::new(13);
        s.frame(3000, &delta(100, 2), 1000);
        s.frame(6000, &keyframe(100, 3), 1000);
        let out = feed(&mut a, now, &s.packets);
        let got: Vec<bool> = frames(&out).iter().map(|f| f.keyframe).collect();
        assert_eq!(got, vec![true]);
        let st = a.stats();
        assert_eq!((st.packets_late, st.packets_malformed, st.packets_lost), (1, 1, 1));
    }

    #[test]
    fn nothing_is_emitted_before_the_first_keyframe() {
        let mut s = Sender::new(0);
        s.frame(0, &delta(100, 1), 1000);
        s.frame(3000, &keyframe(100, 2), 1000);
        let mut a = FrameAssembler::new(AssemblerConfig::default());
        let out = feed(&mut a, Instant::now(), &s.packets);
        assert_eq!(frames(&out).iter().map(|f| f.keyframe).collect::<Vec<_>>(), vec![true]);
        assert_eq!(out[0], Output::NeedKeyframe, "joining mid-stream, it asks for a key frame at once");
    }

    #[test]
    fn an_oversized_frame_is_dropped_and_a_key_frame_asked_for() {
        let cfg = AssemblerConfig { max_frame_bytes: 2500, ..AssemblerConfig::default() };
        let mut s = Sender::new(0);
        s.frame(0, &keyframe(1000, 1), 1000);
        s.frame(3000, &delta(4000, 2), 1000); // over the cap
        s.frame(6000, &delta(100, 3), 1000);
        s.frame(9000, &keyframe(1000, 4), 1000);
        let mut a = FrameAssembler::new(cfg);
        let out = feed(&mut a, Instant::now(), &s.packets);
        let got: Vec<u8> = frames(&out).iter().map(|f| f.data[f.data.len() - 1]).collect();
        assert_eq!(got, vec![1, 4], "the big frame and the one after it are left out");
        assert!(out.contains(&Output::NeedKeyframe));
        assert_eq!(a.stats().frames_dropped, 2);
    }

    #[test]
    fn a_full_hold_gives_up_on_a_gap_without_waiting() {
        let cfg = AssemblerConfig { reorder_packets: 4, ..AssemblerConfig::default() };
        let mut s = Sender::new(0);
        for (i, ts) in [0u32, 3000, 6000, 9000, 12000, 15000].iter().enumerate() {
            let frame = if i == 0 || i == 2 { keyframe(100, i as u8) } else { delta(100, i as u8) };
            s.frame(*ts, &frame, 1000);
        }
        s.packets.remove(1);
        let mut a = FrameAssembler::new(cfg);
        // All at the same instant: only the hold's size can end the wait.
        let out = feed(&mut a, Instant::now(), &s.packets);
        assert_eq!(a.stats().packets_lost, 1);
        let got: Vec<u8> = frames(&out).iter().map(|f| f.data[f.data.len() - 1]).collect();
        assert_eq!(got, vec![0, 2, 3, 4, 5]);
    }

    #[test]
    fn sequence_numbers_extend_both_ways() {
        assert_eq!(extend(5, 65_530 + (1 << 16), 16), 5 + (2 << 16));
        assert_eq!(extend(65_530, 5 + (2 << 16), 16), 65_530 + (1 << 16));
        assert_eq!(extend(100, 90, 16), 100);
        assert_eq!(extend(u64::from(u32::MAX), 10 + (1 << 32), 32), u64::from(u32::MAX));
    }
}
