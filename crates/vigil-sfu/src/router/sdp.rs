//! Offers: screening the raw text, forcing directions, parsing, and reading
//! m-lines.
//!
//! Everything a client sends is screened here before str0m parses it: str0m
//! answers an offer in time that grows faster than its m-line count, and
//! compares each remote candidate with every stored one, all on the one SFU
//! thread. The screen is a single pass over a string whose length is capped
//! first, so a hostile offer costs at most a few microseconds.

use str0m::Rtc;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, Mid};

use crate::SfuError;

/// What one connection may send in signalling. The defaults leave room for
/// any browser's offer; see each field for the budget.
#[derive(Debug, Clone)]
pub struct SignallingLimits {
    /// Offer bytes allowed per permitted m-line. One video section from
    /// Chrome, which lists every codec profile it has, is 3–5 KiB, so the
    /// dashboard's 7-slot offer is about 30 KiB; a flat cap would either
    /// refuse it or admit huge publisher offers. 8 KiB per m-line is twice
    /// what a browser needs.
    pub offer_bytes_per_mline: usize,
    /// m-lines a publisher's offer may have: camera video, audio, a data
    /// channel, and one spare (a screen share).
    pub max_publisher_mlines: usize,
    /// m-lines a proctor's offer may have beyond its video slots (audio, a
    /// data channel).
    pub extra_subscriber_mlines: usize,
    /// Remote ICE candidates per connection, in the offer and trickled
    /// together. A browser gathers a handful (host, mDNS, server-reflexive
    /// per interface); the SFU is ICE-lite and never checks them anyway.
    pub max_remote_candidates: usize,
}

impl Default for SignallingLimits {
    fn default() -> Self {
        SignallingLimits {
            offer_bytes_per_mline: 8 * 1024,
            max_publisher_mlines: 4,
            extra_subscriber_mlines: 2,
            max_remote_candidates: 16,
        }
    }
}

/// Longer than any candidate line a browser writes (about 150 bytes with
/// every extension); longer ones are refused unparsed.
pub(super) const MAX_CANDIDATE_LEN: usize = 512;

/// What the screen learnt about an offer that passed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Screened {
    /// `a=candidate` lines in the offer: they count against the peer's
    /// candidate budget.
    pub candidates: usize,
}

/// Checks an offer's size, m-line count and candidate count on the raw
/// text, before anything parses it.
pub(super) fn screen_offer(sdp: &str, limits: &SignallingLimits, max_mlines: usize) -> Result<Screened, SfuError> {
    let max_bytes = limits.offer_bytes_per_mline.saturating_mul(max_mlines);
    if sdp.len() > max_bytes {
        return Err(SfuError::OfferTooLarge { size: sdp.len(), max: max_bytes });
    }
    let (mut mlines, mut candidates) = (0usize, 0usize);
    for line in sdp.lines() {
        // Leading blanks are tolerated here so that no parser that accepts
        // them can see more m-lines than were counted.
        let line = line.trim_start();
        if line.starts_with("m=") {
            mlines += 1;
        } else if line.starts_with("a=candidate:") {
            candidates += 1;
        }
    }
    if mlines > max_mlines {
        return Err(SfuError::TooManyMLines { max: max_mlines });
    }
    if candidates > limits.max_remote_candidates {
        return Err(SfuError::TooManyCandidates { max: limits.max_remote_candidates });
    }
    Ok(Screened { candidates })
}

/// Parses a screened offer. str0m's error text can carry internals (it has
/// included heap addresses), so the client gets a fixed reason and the
/// detail goes to the debug log.
pub(super) fn parse_offer(sdp: &str) -> Result<SdpOffer, SfuError> {
    SdpOffer::from_sdp_string(sdp).map_err(|e| {
        tracing::debug!(error = %e, "offer does not parse");
        SfuError::BadSdp(
            "not an SDP session description; send the offer from RTCPeerConnection.createOffer() unchanged",
        )
    })
}

/// Has `rtc` answer `offer`, with the same care for str0m's error text.
pub(super) fn accept_offer(rtc: &mut Rtc, offer: SdpOffer) -> Result<SdpAnswer, SfuError> {
    rtc.sdp_api().accept_offer(offer).map_err(|e| {
        tracing::debug!(error = %e, "offer not accepted");
        SfuError::OfferRejected("its media sections cannot be answered (inconsistent or unsupported)".into())
    })
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

    #[test]
    fn screen_counts_on_the_raw_text() {
        let limits = SignallingLimits::default();
        let ok = "v=0\r\nm=video 9 x 96\r\na=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\nm=audio 9 x 111\r\n";
        assert_eq!(screen_offer(ok, &limits, 2).ok(), Some(Screened { candidates: 1 }));
        let three = format!("{ok}m=application 9 x 0\r\n");
        assert!(matches!(screen_offer(&three, &limits, 2), Err(SfuError::TooManyMLines { max: 2 })));
        let big = "a".repeat(2 * limits.offer_bytes_per_mline + 1);
        let too_large = screen_offer(&big, &limits, 2);
        assert!(matches!(too_large, Err(SfuError::OfferTooLarge { size, max: 16384 }) if size == big.len()));
        let cands = "a=candidate:1 1 udp 1 10.0.0.1 9 typ host\n".repeat(limits.max_remote_candidates + 1);
        assert!(matches!(screen_offer(&cands, &limits, 2), Err(SfuError::TooManyCandidates { max: 16 })));
    }

    #[test]
    fn parse_errors_do_not_echo_the_parser() {
        let Err(SfuError::BadSdp(reason)) = parse_offer("v=0\r\nthis is not sdp") else {
            panic!("garbage parsed as an offer");
        };
        assert!(!reason.contains("0x") && !reason.contains("this is not sdp"), "{reason}");
    }
}
