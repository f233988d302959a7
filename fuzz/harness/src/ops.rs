//! The byte format of the stateful targets' operation lists (`sdp`, `stun`).
//!
//! Each target's `Op` implements `arbitrary::Arbitrary` on top of these few
//! readers, so the fuzzer can build any sequence of operations, and
//! [`Writer`] writes the same format, so the seed corpus holds real offers
//! and datagrams byte for byte (libFuzzer then mutates the SDP text itself,
//! not a length-prefixed encoding of it that `arbitrary`'s own string
//! format would scatter across the input). Every reader accepts every
//! input: running out of bytes reads zeros and empty payloads.
//!
//! Format of one op: an opcode byte, then the op's fields in order: `u8`
//! and `bool` are one byte, `u16` two (little-endian), and a payload is a
//! `u16` length followed by that many bytes (fewer if the input ends).

use arbitrary::{Arbitrary, Unstructured};

pub fn u8(u: &mut Unstructured<'_>) -> u8 {
    u.bytes(1).map_or(0, |b| b[0])
}

pub fn u16(u: &mut Unstructured<'_>) -> u16 {
    u16::from_le_bytes([u8(u), u8(u)])
}

pub fn bool(u: &mut Unstructured<'_>) -> bool {
    u8(u) & 1 == 1
}

pub fn payload<'a>(u: &mut Unstructured<'a>) -> &'a [u8] {
    let len = usize::from(u16(u)).min(u.len());
    u.bytes(len).unwrap_or_default()
}

/// A payload as text, as it would arrive in a JSON string (always UTF-8).
pub fn text(u: &mut Unstructured<'_>) -> String {
    String::from_utf8_lossy(payload(u)).into_owned()
}

/// Reads ops until the input ends, at most `max` of them.
pub fn parse_list<'a, T: Arbitrary<'a>>(data: &'a [u8], max: usize) -> Vec<T> {
    let mut u = Unstructured::new(data);
    let mut out = Vec::new();
    while !u.is_empty() && out.len() < max {
        match T::arbitrary(&mut u) {
            Ok(op) => out.push(op),
            Err(_) => break,
        }
    }
    out
}

/// An op that can be written back in the format above.
pub trait WriteOp {
    fn write_to(&self, w: &mut Writer);
}

/// Writes an op list as [`parse_list`] reads it.
pub fn encode_list<T: WriteOp>(ops: &[T]) -> Vec<u8> {
    let mut w = Writer::default();
    for op in ops {
        op.write_to(&mut w);
    }
    w.finish()
}

/// Writes op lists in the format above (for seeds and tests).
#[derive(Debug, Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    pub fn op(&mut self, opcode: u8) -> &mut Self {
        self.u8(opcode)
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    /// # Panics
    /// If `bytes` is longer than a payload can be (64 KiB).
    pub fn payload(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u16::try_from(bytes.len()).expect("a payload is at most 65535 bytes");
        self.u16(len);
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_short_input() {
        let bytes = Writer::default().op(3).u16(0xBEEF).bool(true).payload(b"v=0\r\n").finish();
        let mut u = Unstructured::new(&bytes);
        assert_eq!((u8(&mut u), u16(&mut u), bool(&mut u), text(&mut u)), (3, 0xBEEF, true, "v=0\r\n".into()));
        assert!(u.is_empty());
        // A payload that claims more than is left takes what is left.
        let mut u = Unstructured::new(&[0xFF, 0xFF, b'a', b'b']);
        assert_eq!(payload(&mut u), b"ab");
        assert_eq!((u8(&mut u), u16(&mut u), payload(&mut u)), (0, 0, &b""[..]));
    }
}
