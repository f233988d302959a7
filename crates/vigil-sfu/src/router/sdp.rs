//! Offers: forcing directions, parsing, and reading m-lines.

use str0m::Rtc;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, Mid};

use crate::SfuError;

pub(super) fn parse_offer(sdp: &str) -> Result<SdpOffer, SfuError> {
    SdpOffer::from_sdp_string(sdp).map_err(|e| SfuError::BadSdp(e.to_string()))
}

pub(super) fn accept_offer(rtc: &mut Rtc, offer: SdpOffer) -> Result<SdpAnswer, SfuError> {
    rtc.sdp_api().accept_offer(offer).map_err(|e| SfuError::OfferRejected(e.to_string()))
}

/// Rewrites every media direction in an offer to what the role allows:
/// a publisher may only send (`SendOnly`), a proctor only receive
/// (`RecvOnly`). A direction the role cannot have at all becomes inactive.
pub(super) fn force_directions(sdp: &str, allowed: Direction) -> String {
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
pub(super) fn mids_of_kind(sdp: &str, kind: &str) -> Vec<Mid> {
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
}
