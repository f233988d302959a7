//! Keyframe detection from RTP payloads, without decoding.
//!
//! A slot only starts forwarding a source at a keyframe, and the health
//! monitor needs to know when a requested keyframe arrived. Both only need
//! "does this packet start a keyframe?", which the payload descriptors answer.

/// The video codecs whose payload formats we understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    H264,
}

/// True when `payload` (RTP payload, no header) begins a keyframe.
///
/// Never panics on short or garbage input: anything we cannot parse is "not
/// a keyframe", which only delays a slot until the next real one.
pub fn is_keyframe_start(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::Vp8 => vp8_keyframe_start(payload),
        VideoCodec::H264 => h264_keyframe(payload),
    }
}

/// RFC 7741 §4.2 descriptor, then §4.3 payload header: a keyframe starts in
/// the packet with S=1, PID=0, and the VP8 frame tag's P bit (inverse
/// keyframe flag) clear.
fn vp8_keyframe_start(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let x = b0 & 0x80 != 0;
    let s = b0 & 0x10 != 0;
    let pid = b0 & 0x07;
    if !s || pid != 0 {
        return false;
    }
    let mut i = 1;
    if x {
        let Some(&b1) = p.get(i) else { return false };
        i += 1;
        if b1 & 0x80 != 0 {
            // I: PictureID, 7 or 15 bits depending on M.
            let Some(&pic) = p.get(i) else { return false };
            i += if pic & 0x80 != 0 { 2 } else { 1 };
        }
        if b1 & 0x40 != 0 {
            i += 1; // L: TL0PICIDX
        }
        if b1 & 0x30 != 0 {
            i += 1; // T or K: TID/Y/KEYIDX share one byte
        }
    }
    match p.get(i) {
        Some(&tag) => tag & 0x01 == 0,
        None => false,
    }
}

/// RFC 6184: IDR (5) or SPS (7), also inside STAP-A (24) and at the start
/// of an FU-A (28). Encoders send SPS/PPS right before an IDR, so SPS marks
/// the start of the keyframe's access unit.
fn h264_keyframe(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    match b0 & 0x1f {
        5 | 7 => true,
        24 => {
            let mut i = 1;
            while i + 2 < p.len() {
                let size = u16::from_be_bytes([p[i], p[i + 1]]) as usize;
                i += 2;
                let Some(&nal) = p.get(i) else { return false };
                if matches!(nal & 0x1f, 5 | 7) {
                    return true;
                }
                i += size;
            }
            false
        }
        28 => match p.get(1) {
            Some(&fu) => fu & 0x80 != 0 && matches!(fu & 0x1f, 5 | 7),
            None => false,
        },
        _ => false,
    }
}

/// Builds a minimal VP8 payload: descriptor with a 15-bit PictureID, then a
/// frame tag whose P bit says key or delta. Used by tests and the benchmark.
pub fn vp8_test_payload(picture_id: u16, start: bool, key: bool, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + body.len());
    v.push(0x80 | if start { 0x10 } else { 0 });
    v.push(0x80);
    v.push(0x80 | ((picture_id >> 8) as u8 & 0x7f));
    v.push(picture_id as u8);
    if start {
        v.push(if key { 0x00 } else { 0x01 });
    }
    v.extend_from_slice(body);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_minimal_descriptor() {
        assert!(is_keyframe_start(VideoCodec::Vp8, &[0x10, 0x00]));
        assert!(!is_keyframe_start(VideoCodec::Vp8, &[0x10, 0x01]));
        // Not the start of a partition.
        assert!(!is_keyframe_start(VideoCodec::Vp8, &[0x00, 0x00]));
        // Start of partition 1, not 0.
        assert!(!is_keyframe_start(VideoCodec::Vp8, &[0x11, 0x00]));
    }

    #[test]
    fn vp8_extended_descriptor() {
        assert!(is_keyframe_start(VideoCodec::Vp8, &vp8_test_payload(300, true, true, b"x")));
        assert!(!is_keyframe_start(VideoCodec::Vp8, &vp8_test_payload(300, true, false, b"x")));
        assert!(!is_keyframe_start(VideoCodec::Vp8, &vp8_test_payload(300, false, true, b"x")));
        // X, I (7-bit id), L, T: tag at index 5.
        assert!(is_keyframe_start(VideoCodec::Vp8, &[0x90, 0xe0, 0x05, 0x01, 0x20, 0x00]));
        assert!(!is_keyframe_start(VideoCodec::Vp8, &[0x90, 0xe0, 0x05, 0x01, 0x20, 0x01]));
    }

    #[test]
    fn truncated_input_is_not_a_keyframe() {
        for codec in [VideoCodec::Vp8, VideoCodec::H264] {
            assert!(!is_keyframe_start(codec, &[]));
        }
        assert!(!is_keyframe_start(VideoCodec::Vp8, &[0x90]));
        assert!(!is_keyframe_start(VideoCodec::Vp8, &[0x90, 0x80, 0x85]));
        assert!(!is_keyframe_start(VideoCodec::H264, &[28]));
        assert!(!is_keyframe_start(VideoCodec::H264, &[24, 0xff, 0xff]));
    }

    #[test]
    fn h264_single_stap_fu() {
        assert!(is_keyframe_start(VideoCodec::H264, &[0x65, 1, 2]));
        assert!(is_keyframe_start(VideoCodec::H264, &[0x67, 1, 2]));
        assert!(!is_keyframe_start(VideoCodec::H264, &[0x41, 1, 2]));
        // STAP-A carrying SPS + PPS.
        assert!(is_keyframe_start(VideoCodec::H264, &[0x78, 0, 2, 0x67, 0, 0, 2, 0x68, 0]));
        // STAP-A carrying only PPS.
        assert!(!is_keyframe_start(VideoCodec::H264, &[0x78, 0, 2, 0x68, 0]));
        // FU-A start of an IDR, and a middle fragment.
        assert!(is_keyframe_start(VideoCodec::H264, &[0x7c, 0x85, 9]));
        assert!(!is_keyframe_start(VideoCodec::H264, &[0x7c, 0x05, 9]));
    }
}
