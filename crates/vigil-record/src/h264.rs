//! The H.264 RTP payload format (RFC 6184) in packetization mode 1, as
//! browsers send it: each packet's share of an access unit (a frame) turned
//! back into Annex B (NAL units after `00 00 00 01` start codes), and the
//! few facts about a whole access unit a recorder needs (key frame or not,
//! and the picture size its sequence parameter set gives). Nothing here
//! decodes video.
//!
//! Mode 1 allows single NAL unit packets, STAP-A (several small NAL units in
//! one packet) and FU-A (one large NAL unit over several packets). An FU-A's
//! fragments only make sense together and in order, so the caller keeps an
//! [`FuState`] per stream and feeds payloads in sequence order.

use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::rbsp::{BitReader, ByteReader};
use thiserror::Error;

/// The Annex B start code put before every NAL unit. Always the 4-byte
/// form, so that the same NAL units give the same bytes whatever their
/// source wrote.
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// NAL unit types (H.264 table 7-1) the recorder looks for.
pub const NAL_SLICE: u8 = 1;
pub const NAL_IDR: u8 = 5;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
/// Packet types of RFC 6184 that packetization mode 1 uses; 25–27 and 29
/// (STAP-B, MTAP16, MTAP24, FU-B) belong to the interleaved mode.
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// Why a packet's payload is not H.264 as packetization mode 1 lays it out,
/// or does not follow on from the packets before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum H264Error {
    #[error("the payload is empty")]
    Empty,
    /// 0, 30 and 31 are undefined; 25–27 and 29 need the interleaved mode,
    /// which browsers do not offer.
    #[error("NAL unit or packet type {0} is not one packetization mode 1 allows")]
    Unsupported(u8),
    #[error("the payload ends inside a length, header or NAL unit it announces")]
    Truncated,
    /// A STAP-A holding nothing, a NAL unit of length 0, or an FU-A whose
    /// header marks it both first and last.
    #[error("the payload is malformed: {0}")]
    Malformed(&'static str),
    /// A middle or last FU-A fragment with no first fragment before it
    /// (the first was lost, or belongs to another NAL unit).
    #[error("an FU-A fragment continues a NAL unit whose first fragment never came")]
    FuWithoutStart,
    /// A packet other than the FU-A's next fragment while one is open: the
    /// NAL unit being put together lost its end.
    #[error("a fragmented NAL unit (FU-A) never got its last fragment")]
    FuUnfinished,
}

/// The FU-A being put together, kept from packet to packet of one stream.
/// Reset it (to `FuState::default()`) after a loss: a fragment cannot be
/// joined to one from before the gap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FuState {
    /// The NAL unit header of the open FU-A, if one is open.
    open: Option<u8>,
}

impl FuState {
    /// An FU-A is open: its first fragment came, its last has not.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }
}

/// A set of NAL unit types (1–23).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NalTypes(u32);

impl NalTypes {
    fn insert(&mut self, nal_type: u8) {
        self.0 |= 1 << (nal_type & 0x1f);
    }

    pub fn contains(self, nal_type: u8) -> bool {
        nal_type < 32 && self.0 & (1 << nal_type) != 0
    }

    /// A slice of an IDR picture: where decoding can start.
    pub fn has_idr(self) -> bool {
        self.contains(NAL_IDR)
    }

    pub fn has_sps(self) -> bool {
        self.contains(NAL_SPS)
    }
}

/// One packet's share of its access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depacketised {
    /// Annex B: every whole NAL unit after a start code; an FU-A's first
    /// fragment gives the start code, the rebuilt NAL unit header and its
    /// bytes, a later fragment its bytes only (they continue that NAL unit).
    pub data: Vec<u8>,
    /// The types of the NAL units it carries (a fragment's: that of its NAL
    /// unit).
    pub nal_types: NalTypes,
}

/// Reads one RTP payload, in sequence order: `fu` carries an FU-A from one
/// fragment to the next. On an error the packet gives nothing and `fu` is
/// closed (an FU-A it had open is abandoned): its access unit is broken.
pub fn parse_payload(payload: &[u8], fu: &mut FuState) -> Result<Depacketised, H264Error> {
    let result = parse(payload, fu);
    if result.is_err() {
        *fu = FuState::default();
    }
    result
}

fn parse(payload: &[u8], fu: &mut FuState) -> Result<Depacketised, H264Error> {
    let header = *payload.first().ok_or(H264Error::Empty)?;
    let packet_type = header & 0x1f;
    let mut nal_types = NalTypes::default();
    if packet_type != FU_A && fu.is_open() {
        return Err(H264Error::FuUnfinished);
    }
    match packet_type {
        1..=23 => {
            nal_types.insert(packet_type);
            let mut data = Vec::with_capacity(START_CODE.len() + payload.len());
            data.extend_from_slice(&START_CODE);
            data.extend_from_slice(payload);
            Ok(Depacketised { data, nal_types })
        }
        STAP_A => {
            // [STAP-A header] then, for each NAL unit, its 16-bit length and
            // its bytes (header included).
            let mut rest = &payload[1..];
            if rest.is_empty() {
                return Err(H264Error::Malformed("a STAP-A without NAL units"));
            }
            // Each 2-byte length becomes a 4-byte start code.
            let mut data = Vec::with_capacity(payload.len() + payload.len() / 2);
            while !rest.is_empty() {
                let (len, after) = rest.split_first_chunk::<2>().ok_or(H264Error::Truncated)?;
                let len = usize::from(u16::from_be_bytes(*len));
                let nal = after.get(..len).ok_or(H264Error::Truncated)?;
                let nal_type = *nal.first().ok_or(H264Error::Malformed("a NAL unit of length 0 in a STAP-A"))? & 0x1f;
                if !(1..=23).contains(&nal_type) {
                    return Err(H264Error::Unsupported(nal_type));
                }
                nal_types.insert(nal_type);
                data.extend_from_slice(&START_CODE);
                data.extend_from_slice(nal);
                rest = &after[len..];
            }
            Ok(Depacketised { data, nal_types })
        }
        FU_A => {
            // [FU indicator: F, NRI, 28] [FU header: S, E, R, type] [bytes].
            let fu_header = *payload.get(1).ok_or(H264Error::Truncated)?;
            let (start, end) = (fu_header & 0x80 != 0, fu_header & 0x40 != 0);
            let nal_type = fu_header & 0x1f;
            if start && end {
                return Err(H264Error::Malformed("an FU-A both first and last fragment"));
            }
            if !(1..=23).contains(&nal_type) {
                return Err(H264Error::Unsupported(nal_type));
            }
            let nal_header = (header & 0xe0) | nal_type;
            let bytes = &payload[2..];
            let mut data;
            if start {
                if fu.is_open() {
                    return Err(H264Error::FuUnfinished);
                }
                data = Vec::with_capacity(START_CODE.len() + 1 + bytes.len());
                data.extend_from_slice(&START_CODE);
                data.push(nal_header);
                fu.open = Some(nal_header);
            } else {
                // A fragment of another NAL unit than the open one continues
                // a NAL unit whose start is missing, as much as one with
                // none open.
                match fu.open {
                    Some(open) if open & 0x1f == nal_type => {}
                    _ => return Err(H264Error::FuWithoutStart),
                }
                data = Vec::with_capacity(bytes.len());
            }
            data.extend_from_slice(bytes);
            if end {
                fu.open = None;
            }
            nal_types.insert(nal_type);
            Ok(Depacketised { data, nal_types })
        }
        other => Err(H264Error::Unsupported(other)),
    }
}

/// The NAL units of an Annex B byte stream, each without its start code
/// (3- or 4-byte) and without the zero bytes that may pad it before the
/// next (a NAL unit never ends in a zero byte). Bytes before the first
/// start code are not a NAL unit and are skipped.
pub fn nal_units(annex_b: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = match find_start_code(annex_b) {
        Some((_, after)) => &annex_b[after..],
        None => &[],
    };
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let (nal, next) = match find_start_code(rest) {
                Some((at, after)) => (&rest[..at], &rest[after..]),
                None => (rest, &[][..]),
            };
            rest = next;
            let len = nal.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
            if len > 0 {
                return Some(&nal[..len]);
            }
        }
        None
    })
}

/// Where the first `00 00 01` in `bytes` is: its first index and the index
/// after it.
fn find_start_code(bytes: &[u8]) -> Option<(usize, usize)> {
    // Only a zero can be one of a start code's zeros: any other byte lets
    // the search move three on.
    let mut i = 2;
    while i < bytes.len() {
        match bytes[i] {
            0 => i += 1,
            1 if bytes[i - 2] == 0 && bytes[i - 1] == 0 => return Some((i - 2, i + 1)),
            _ => i += 3,
        }
    }
    None
}

/// What a whole access unit says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessUnitHeader {
    /// It holds a slice of an IDR picture: decoding can start here.
    pub keyframe: bool,
    /// Width and height in pixels (cropping applied) from its first
    /// sequence parameter set, which a browser sends before every IDR
    /// picture. `None` without one, or when it cannot be read.
    pub size: Option<(u16, u16)>,
}

/// Reads an access unit in Annex B form (as [`parse_payload`] gives it).
pub fn access_unit_header(annex_b: &[u8]) -> AccessUnitHeader {
    let mut header = AccessUnitHeader { keyframe: false, size: None };
    let mut sps_seen = false;
    for nal in nal_units(annex_b) {
        match nal[0] & 0x1f {
            NAL_IDR => header.keyframe = true,
            NAL_SPS if !sps_seen => {
                sps_seen = true;
                header.size = sps_size(nal);
            }
            _ => {}
        }
    }
    header
}

/// The picture size a sequence parameter set NAL unit (header included)
/// gives. The SPS is read by `h264-reader`, which removes emulation
/// prevention bytes and applies the frame cropping (a 1080-line picture is
/// coded as 1088 lines, cropped).
fn sps_size(nal: &[u8]) -> Option<(u16, u16)> {
    let sps = SeqParameterSet::from_bits(BitReader::new(ByteReader::skipping_h264_header(nal))).ok()?;
    let (width, height) = sps.pixel_dimensions().ok()?;
    let size = (u16::try_from(width).ok()?, u16::try_from(height).ok()?);
    (size.0 > 0 && size.1 > 0).then_some(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x264's sequence parameter set for 320x180 (baseline, from ffmpeg's
    /// test pattern): 180 lines are coded as 192 and cropped, and its VUI
    /// timing info (`num_units_in_tick` = 1) needs two emulation prevention
    /// bytes (the `00 00 03`s).
    const SPS_320X180: &[u8] = &[
        0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0x9f, 0x9f, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00,
        0x03, 0x01, 0xe8, 0xf1, 0x42, 0xa4, 0x80,
    ];
    /// The picture parameter set that goes with it.
    const PPS: &[u8] = &[0x68, 0xcb, 0x8c, 0xb2];

    fn annex_b(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter().flat_map(|n| START_CODE.iter().chain(n.iter())).copied().collect()
    }

    fn parse(payload: &[u8]) -> Result<Depacketised, H264Error> {
        parse_payload(payload, &mut FuState::default())
    }

    #[test]
    fn a_single_nal_unit_packet_is_one_nal_unit_after_a_start_code() {
        let slice = [0x41, 0x9a, 0x02, 0x03];
        let d = parse(&slice).expect("a single NAL unit");
        assert_eq!(d.data, annex_b(&[&slice]));
        assert!(d.nal_types.contains(NAL_SLICE) && !d.nal_types.has_idr() && !d.nal_types.has_sps());
        // A NAL unit of only its header (end of sequence, type 10) is one too.
        assert_eq!(parse(&[0x0a]).map(|d| d.data), Ok(annex_b(&[&[0x0a]])));
    }

    #[test]
    fn a_stap_a_gives_each_of_its_nal_units() {
        let mut p = vec![0x78]; // NRI 3, type 24
        for nal in [SPS_320X180, PPS] {
            p.extend_from_slice(&(nal.len() as u16).to_be_bytes());
            p.extend_from_slice(nal);
        }
        let d = parse(&p).expect("a STAP-A");
        assert_eq!(d.data, annex_b(&[SPS_320X180, PPS]));
        assert!(d.nal_types.has_sps() && d.nal_types.contains(NAL_PPS) && !d.nal_types.has_idr());
    }

    #[test]
    fn fu_a_fragments_rebuild_their_nal_unit() {
        let nal: Vec<u8> = [0x65].into_iter().chain((0..3000u32).map(|i| (i % 251) as u8 | 1)).collect();
        // FU indicator: the NAL unit's F and NRI, type 28.
        let indicator = (nal[0] & 0xe0) | 28;
        let chunks: Vec<&[u8]> = nal[1..].chunks(1000).collect();
        let mut fu = FuState::default();
        let mut out = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let s = if i == 0 { 0x80 } else { 0 };
            let e = if i + 1 == chunks.len() { 0x40 } else { 0 };
            let mut p = vec![indicator, s | e | (nal[0] & 0x1f)];
            p.extend_from_slice(c);
            let d = parse_payload(&p, &mut fu).expect("a fragment");
            assert!(d.nal_types.has_idr());
            assert_eq!(fu.is_open(), i + 1 < chunks.len());
            out.extend(d.data);
        }
        assert_eq!(out, annex_b(&[&nal]));
    }

    #[test]
    fn fragments_out_of_place_are_errors() {
        // A middle or last fragment with no first.
        let mut fu = FuState::default();
        assert_eq!(parse_payload(&[0x7c, 0x05, 1, 2], &mut fu), Err(H264Error::FuWithoutStart));
        assert_eq!(parse_payload(&[0x7c, 0x45, 1, 2], &mut fu), Err(H264Error::FuWithoutStart));
        // A new first fragment, or a whole NAL unit, while one is open: the
        // open one lost its end. The error closes it.
        assert!(parse_payload(&[0x7c, 0x85, 1, 2], &mut fu).is_ok());
        assert_eq!(parse_payload(&[0x7c, 0x85, 3, 4], &mut fu), Err(H264Error::FuUnfinished));
        assert!(!fu.is_open());
        assert!(parse_payload(&[0x7c, 0x85, 1, 2], &mut fu).is_ok());
        assert_eq!(parse_payload(&[0x41, 9, 9], &mut fu), Err(H264Error::FuUnfinished));
        // A fragment of another NAL unit than the open one.
        assert!(parse_payload(&[0x7c, 0x85, 1, 2], &mut fu).is_ok());
        assert_eq!(parse_payload(&[0x5c, 0x41, 3, 4], &mut fu), Err(H264Error::FuWithoutStart));
        // First and last at once is not an FU-A.
        assert_eq!(
            parse_payload(&[0x7c, 0xc5, 1], &mut fu),
            Err(H264Error::Malformed("an FU-A both first and last fragment"))
        );
        assert_eq!(parse_payload(&[0x7c], &mut fu), Err(H264Error::Truncated));
    }

    #[test]
    fn cut_stap_as_are_errors_not_panics() {
        let full = [0x78, 0x00, 0x04, 0x68, 0xcb, 0x8c, 0xb2, 0x00, 0x02, 0x41, 0x9a];
        assert!(parse(&full).is_ok());
        for cut in 2..full.len() {
            if cut == 7 {
                continue; // ends between two NAL units: whole
            }
            assert_eq!(parse(&full[..cut]), Err(H264Error::Truncated), "cut at {cut}");
        }
        assert!(matches!(parse(&full[..1]), Err(H264Error::Malformed(_))));
        assert!(matches!(parse(&[0x78, 0x00, 0x00, 0x00, 0x01, 0x41]), Err(H264Error::Malformed(_))));
        // An aggregation inside an aggregation.
        assert_eq!(parse(&[0x78, 0x00, 0x02, 0x78, 0x00]), Err(H264Error::Unsupported(24)));
    }

    #[test]
    fn packet_types_outside_mode_1_are_refused() {
        assert_eq!(parse(&[]), Err(H264Error::Empty));
        for t in [0u8, 25, 26, 27, 29, 30, 31] {
            assert_eq!(parse(&[0x60 | t, 0x80, 0x01, 0x02]), Err(H264Error::Unsupported(t)), "type {t}");
        }
        // An FU-A cannot carry an aggregation or type 0 either.
        assert_eq!(parse(&[0x7c, 0x98, 1]), Err(H264Error::Unsupported(24)));
        assert_eq!(parse(&[0x7c, 0x80, 1]), Err(H264Error::Unsupported(0)));
    }

    #[test]
    fn the_size_comes_from_the_sps_with_emulation_prevention_and_cropping() {
        let au = annex_b(&[SPS_320X180, PPS, &[0x65, 0x88, 0x84]]);
        assert_eq!(access_unit_header(&au), AccessUnitHeader { keyframe: true, size: Some((320, 180)) });
        // The emulation prevention bytes sit in the VUI's timing info, which
        // reads right (15 fps: 1 tick of 1/30 s per field) only once they
        // are removed; left in, the SPS does not parse at all.
        let sps = SeqParameterSet::from_bits(BitReader::new(ByteReader::skipping_h264_header(SPS_320X180)))
            .expect("x264's SPS");
        let timing = sps.vui_parameters.and_then(|v| v.timing_info).expect("timing info");
        assert_eq!((timing.num_units_in_tick, timing.time_scale), (1, 30));
        assert!(SeqParameterSet::from_bits(BitReader::new(&SPS_320X180[1..])).is_err());
    }

    #[test]
    fn sizes_beyond_16_bits_are_none() {
        use h264_reader::nal::{NalHeader, WritableNal};
        let header = NalHeader::new(SPS_320X180[0]).expect("an SPS header");
        let mut sps = SeqParameterSet::from_bits(BitReader::new(ByteReader::skipping_h264_header(SPS_320X180)))
            .expect("x264's SPS");
        // Level 6.2, whose picture buffer takes pictures that wide.
        sps.level_idc = 62;
        sps.pic_width_in_mbs_minus1 = 4094; // 65,520 pixels
        assert_eq!(sps_size(&sps.to_vec_with_header(header)), Some((65_520, 180)));
        sps.pic_width_in_mbs_minus1 = 4095; // 65,536
        assert_eq!(sps_size(&sps.to_vec_with_header(header)), None);
    }

    #[test]
    fn key_frames_are_access_units_with_an_idr_slice() {
        let delta = annex_b(&[&[0x41, 0x9a, 0x02], &[0x41, 0x9a, 0x03]]);
        assert_eq!(access_unit_header(&delta), AccessUnitHeader { keyframe: false, size: None });
        // 3-byte start codes and zero padding between NAL units read the same.
        let mixed = [&[0, 0, 1][..], SPS_320X180, &[0, 0, 0, 0, 1], PPS, &[0, 0, 1, 0x65, 0x88, 0x84, 0, 0]].concat();
        assert_eq!(nal_units(&mixed).collect::<Vec<_>>(), [SPS_320X180, PPS, &[0x65, 0x88, 0x84]]);
        assert_eq!(access_unit_header(&mixed), AccessUnitHeader { keyframe: true, size: Some((320, 180)) });
        // An IDR without its SPS is a key frame of unknown size.
        let bare = annex_b(&[&[0x65, 0x88, 0x84]]);
        assert_eq!(access_unit_header(&bare), AccessUnitHeader { keyframe: true, size: None });
        assert_eq!(access_unit_header(&[]), AccessUnitHeader { keyframe: false, size: None });
    }

    #[test]
    fn broken_spss_have_no_size_and_do_not_panic() {
        for cut in 1..SPS_320X180.len() {
            let au = annex_b(&[&SPS_320X180[..cut]]);
            assert_eq!(access_unit_header(&au).size, None, "cut at {cut}");
        }
        for bit in 8..SPS_320X180.len() * 8 {
            let mut sps = SPS_320X180.to_vec();
            sps[bit / 8] ^= 0x80 >> (bit % 8);
            let _ = access_unit_header(&annex_b(&[&sps]));
        }
    }

    #[test]
    fn arbitrary_payloads_give_errors_not_panics() {
        // A small xorshift: the same bytes every run.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut fu = FuState::default();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let payload: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8 ^ i as u8).collect();
            let _ = parse_payload(&payload, &mut fu);
            let _ = access_unit_header(&payload);
        }
    }
}
