//! The VP8 RTP payload format (RFC 7741): the payload descriptor in front
//! of every packet's share of a frame, and the few bytes of the frame
//! header a recorder needs (key frame or not, and a key frame's size).
//! Nothing here decodes video.

use thiserror::Error;

/// Why a packet's payload is not VP8 as RFC 7741 lays it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Vp8Error {
    #[error("the payload ends inside its VP8 payload descriptor")]
    TruncatedDescriptor,
    #[error("the payload has a descriptor but no VP8 data")]
    Empty,
}

/// What the payload descriptor says about the packet's place in its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Descriptor {
    /// S = 1 and partition index 0: the packet carries the first bytes of
    /// the frame (and so its payload header).
    pub starts_frame: bool,
    /// N: a frame no other frame refers to; losing it hurts no later frame.
    pub non_reference: bool,
}

/// Splits an RTP payload into its descriptor and its share of the frame.
pub fn parse_payload(payload: &[u8]) -> Result<(Vp8Descriptor, &[u8]), Vp8Error> {
    let first = *payload.first().ok_or(Vp8Error::TruncatedDescriptor)?;
    let extended = first & 0x80 != 0;
    let non_reference = first & 0x20 != 0;
    let start_of_partition = first & 0x10 != 0;
    let partition = first & 0x07;
    let mut len = 1;
    if extended {
        let x = *payload.get(1).ok_or(Vp8Error::TruncatedDescriptor)?;
        len = 2;
        if x & 0x80 != 0 {
            // I: a picture id of 7 bits, or 15 when its first bit (M) is set.
            let id = *payload.get(len).ok_or(Vp8Error::TruncatedDescriptor)?;
            len += if id & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            len += 1; // L: TL0PICIDX
        }
        if x & 0x30 != 0 {
            len += 1; // T or K: TID, Y and KEYIDX share one byte
        }
    }
    let data = payload.get(len..).ok_or(Vp8Error::TruncatedDescriptor)?;
    if data.is_empty() {
        return Err(Vp8Error::Empty);
    }
    Ok((Vp8Descriptor { starts_frame: start_of_partition && partition == 0, non_reference }, data))
}

/// What the first bytes of a frame (its payload header) say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub keyframe: bool,
    /// Width and height in pixels, which only a key frame carries.
    pub size: Option<(u16, u16)>,
}

/// Reads the frame tag (RFC 6386 §9.1) from the start of a frame: the P bit
/// (0 for a key frame) and, after a key frame's start code, its 14-bit
/// width and height. `None` when a key frame's header is cut short or its
/// start code is wrong: such a frame cannot start a recording.
pub fn frame_header(frame_start: &[u8]) -> Option<FrameHeader> {
    let tag = *frame_start.first()?;
    if tag & 0x01 != 0 {
        return Some(FrameHeader { keyframe: false, size: None });
    }
    let header = frame_start.get(..10)?;
    if header[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([header[6], header[7]]) & 0x3fff;
    let height = u16::from_le_bytes([header[8], header[9]]) & 0x3fff;
    if width == 0 || height == 0 {
        return None;
    }
    Some(FrameHeader { keyframe: true, size: Some((width, height)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_of_every_length_are_skipped() {
        // No extension: one byte.
        assert_eq!(
            parse_payload(&[0x10, 0xaa]),
            Ok((Vp8Descriptor { starts_frame: true, non_reference: false }, &[0xaa][..]))
        );
        // X, I with a 15-bit picture id, L, T: five bytes.
        let p = [0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0xbb, 0xcc];
        assert_eq!(parse_payload(&p).map(|(_, d)| d), Ok(&[0xbb, 0xcc][..]));
        // X, I with a 7-bit picture id: three bytes; a continuation of partition 0.
        let p = [0x80, 0x80, 0x12, 0xdd];
        assert_eq!(parse_payload(&p), Ok((Vp8Descriptor { starts_frame: false, non_reference: false }, &[0xdd][..])));
        // Start of partition 1 is not the start of the frame; N is read.
        let p = [0x31, 0xee];
        assert_eq!(parse_payload(&p), Ok((Vp8Descriptor { starts_frame: false, non_reference: true }, &[0xee][..])));
    }

    #[test]
    fn cut_descriptors_are_errors_not_panics() {
        assert_eq!(parse_payload(&[]), Err(Vp8Error::TruncatedDescriptor));
        assert_eq!(parse_payload(&[0x90]), Err(Vp8Error::TruncatedDescriptor));
        assert_eq!(parse_payload(&[0x90, 0x80]), Err(Vp8Error::TruncatedDescriptor));
        assert_eq!(parse_payload(&[0x90, 0x80, 0x81]), Err(Vp8Error::TruncatedDescriptor));
        assert_eq!(parse_payload(&[0x10]), Err(Vp8Error::Empty));
    }

    #[test]
    fn key_frames_carry_their_size() {
        // 640x480 with a scale of 1 in the top bits, which are not size.
        let key = [0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x42, 0xe0, 0x01, 0x00];
        assert_eq!(frame_header(&key), Some(FrameHeader { keyframe: true, size: Some((640, 480)) }));
        assert_eq!(frame_header(&[0x51, 0, 0]), Some(FrameHeader { keyframe: false, size: None }));
        // A key frame with a wrong start code, or cut short, is not usable.
        assert_eq!(frame_header(&[0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2b, 0x80, 0x02, 0xe0, 0x01]), None);
        assert_eq!(frame_header(&key[..7]), None);
        assert_eq!(frame_header(&[]), None);
    }
}
