//! Just enough STUN parsing to route a binding request to its peer.
//!
//! The first datagram from a new address is a STUN binding request whose
//! USERNAME is `<our ufrag>:<their ufrag>` (RFC 8445 §7.2.2). Reading our
//! ufrag out of it lets the router find the peer with one map lookup instead
//! of asking every `Rtc` whether it `accepts()` the packet.

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const ATTR_USERNAME: u16 = 0x0006;

/// True if the datagram looks like STUN (RFC 7983 demultiplexing plus the
/// magic cookie).
pub fn is_stun(buf: &[u8]) -> bool {
    buf.len() >= 20 && buf[0] < 2 && buf[4..8] == MAGIC_COOKIE
}

/// The local ufrag from a STUN message's USERNAME attribute, if any.
pub fn local_ufrag(buf: &[u8]) -> Option<&str> {
    if !is_stun(buf) {
        return None;
    }
    let declared = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    let end = (20 + declared).min(buf.len());
    let mut i = 20;
    while i + 4 <= end {
        let typ = u16::from_be_bytes([buf[i], buf[i + 1]]);
        let len = u16::from_be_bytes([buf[i + 2], buf[i + 3]]) as usize;
        let start = i + 4;
        let stop = start.checked_add(len)?;
        if stop > end {
            return None;
        }
        if typ == ATTR_USERNAME {
            let user = std::str::from_utf8(&buf[start..stop]).ok()?;
            return user.split(':').next().filter(|s| !s.is_empty());
        }
        // Attribute values are padded to 4 bytes.
        i = start + len.div_ceil(4) * 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(user: &[u8]) -> Vec<u8> {
        let mut attrs = Vec::new();
        // A PRIORITY attribute first, so the walk has to skip one.
        attrs.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]);
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(user.len() as u16).to_be_bytes());
        attrs.extend_from_slice(user);
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&attrs);
        m
    }

    #[test]
    fn finds_local_ufrag() {
        let m = binding_request(b"abcd:wxyz");
        assert!(is_stun(&m));
        assert_eq!(local_ufrag(&m), Some("abcd"));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(local_ufrag(&[]), None);
        assert_eq!(local_ufrag(&[0u8; 19]), None);
        assert_eq!(local_ufrag(&[0x80; 40]), None);
        let mut m = binding_request(b"abcd:wxyz");
        // Declared attribute length running past the end.
        m[30] = 0xff;
        assert_eq!(local_ufrag(&m), None);
        let truncated = &binding_request(b"abcd:wxyz")[..30];
        assert_eq!(local_ufrag(truncated), None);
        assert_eq!(local_ufrag(&binding_request(b":x")), None);
        assert_eq!(local_ufrag(&binding_request(&[0xff, 0xfe])), None);
    }
}
