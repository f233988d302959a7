//! Offers: screening the raw text, forcing directions, parsing, and reading
//! m-lines.
//!
//! Everything a client sends is screened here before str0m parses it: str0m
//! answers an offer in time that grows faster than its m-line count, parses
//! SDP at about a microsecond a byte, and compares each remote candidate with
//! every stored one. Offers are answered off the SFU thread (see
//! `prepare`), candidates on it. The screen is a single pass over a string
//! whose length is capped first, so refusing a hostile offer costs at most a
//! few microseconds; an offer that passes costs str0m at most tens of
//! milliseconds on the thread that answers offers.
//!
//! The screen also refuses offers that str0m 0.25 would panic on: see
//! [`PayloadTypes`]. The panic would be contained (the offer refused), but
//! refusing first gives the client its reason.

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
    /// m-lines a proctor's offer may have beyond its video slots and the
    /// audio m-lines paired with them (one per slot at most): a data
    /// channel, an unpaired audio m-line.
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

/// How many m-lines an offer may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MLineBudget {
    pub max: usize,
    /// Audio m-lines that ride free, each paired with a video m-line: a
    /// proctor's audio slots (up to one per video slot, at most this many).
    /// Each also brings its byte allowance.
    pub paired_audio: usize,
}

/// Checks an offer's size, m-line count and candidate count on the raw
/// text, and that each payload type means one thing, before anything parses
/// it.
pub(super) fn screen_offer(sdp: &str, limits: &SignallingLimits, max_mlines: usize) -> Result<Screened, SfuError> {
    screen_offer_within(sdp, limits, MLineBudget { max: max_mlines, paired_audio: 0 })
}

/// `screen_offer` with audio m-lines paired with video ones not counted
/// against `budget.max`.
pub(super) fn screen_offer_within(
    sdp: &str,
    limits: &SignallingLimits,
    budget: MLineBudget,
) -> Result<Screened, SfuError> {
    let bytes_for = |mlines: usize| limits.offer_bytes_per_mline.saturating_mul(mlines);
    // The most any offer may be, before a byte of it is read; the budget
    // its m-lines earn is checked once they are counted.
    let ceiling = bytes_for(budget.max.saturating_add(budget.paired_audio));
    if sdp.len() > ceiling {
        return Err(SfuError::OfferTooLarge { size: sdp.len(), max: bytes_for(budget.max) });
    }
    let (mut mlines, mut audio, mut video, mut candidates) = (0usize, 0usize, 0usize, 0usize);
    let mut pts = PayloadTypes::new();
    for line in sdp.lines() {
        // Leading blanks are tolerated here so that no parser that accepts
        // them can see more m-lines than were counted.
        let line = line.trim_start();
        if let Some(media) = line.strip_prefix("m=") {
            mlines += 1;
            match media.split(' ').next() {
                Some("audio") => audio += 1,
                Some("video") => video += 1,
                _ => {}
            }
            pts.section(media);
        } else if line.starts_with("a=candidate:") {
            candidates += 1;
        } else if let Some(v) = line.strip_prefix("a=rtpmap:") {
            pts.attribute(Attribute::RtpMap, v);
        } else if let Some(v) = line.strip_prefix("a=fmtp:") {
            pts.attribute(Attribute::Fmtp, v);
        }
    }
    let paired = audio.min(video).min(budget.paired_audio);
    if mlines - paired > budget.max {
        return Err(SfuError::TooManyMLines { max: budget.max });
    }
    let max_bytes = bytes_for(budget.max + paired);
    if sdp.len() > max_bytes {
        return Err(SfuError::OfferTooLarge { size: sdp.len(), max: max_bytes });
    }
    if candidates > limits.max_remote_candidates {
        return Err(SfuError::TooManyCandidates { max: limits.max_remote_candidates });
    }
    pts.verdict()?;
    Ok(Screened { candidates })
}

/// What one m-section says a payload type is: its `a=rtpmap` and `a=fmtp`
/// values, `None` where it has none.
type PtDefinition<'a> = (Option<&'a str>, Option<&'a str>);

#[derive(Debug, Clone, Copy)]
enum Attribute {
    RtpMap,
    Fmtp,
}

/// Payload types as an offer's m-sections define them, to refuse an offer in
/// which one payload type means two things: two codecs, one codec with two
/// sets of parameters, a codec in one section and RTX in another. RFC 8843
/// (section 9.1) forbids that within a BUNDLE group, browsers never do it,
/// and str0m 0.25 panics on it in `accept_offer` ("Pt locked multiple
/// times", `format/codec_config.rs`), whatever the directions. The values
/// are compared as text, which is stricter than str0m (parameter order,
/// spelling), and only ever refuses what no browser sends.
struct PayloadTypes<'a> {
    /// What earlier sections defined, by payload type (0..=127).
    offer: [Option<PtDefinition<'a>>; 128],
    /// What the current section lists on its m-line or defines.
    section: [Option<PtDefinition<'a>>; 128],
    conflict: bool,
    /// A section defines a payload type twice.
    repeated: bool,
}

impl<'a> PayloadTypes<'a> {
    fn new() -> Self {
        PayloadTypes { offer: [None; 128], section: [None; 128], conflict: false, repeated: false }
    }

    /// An m-line (without `m=`) starts a section: `video 9 UDP/TLS/RTP/SAVPF 96 97`.
    fn section(&mut self, media: &'a str) {
        self.end_section();
        let mut words = media.split_whitespace();
        // Only RTP sections list payload types (a data channel's lists a
        // name, or an SCTP port).
        if words.nth(2).is_some_and(|proto| proto.contains("RTP")) {
            for pt in words.filter_map(payload_type) {
                self.section[pt].get_or_insert((None, None));
            }
        }
    }

    /// An `a=rtpmap:` or `a=fmtp:` value: `96 VP8/90000`, `97 apt=96`.
    fn attribute(&mut self, attribute: Attribute, value: &'a str) {
        let (pt, rest) = value.split_once(' ').unwrap_or((value, ""));
        let Some(pt) = payload_type(pt) else { return };
        let definition = self.section[pt].get_or_insert((None, None));
        let slot = match attribute {
            Attribute::RtpMap => &mut definition.0,
            Attribute::Fmtp => &mut definition.1,
        };
        // A second line for one payload type in one section is refused even
        // when it repeats the first: RFC 8866 allows one of each, browsers
        // write one, and str0m's parser spends tens of milliseconds on an
        // offer of thousands of repeats before refusing it.
        match slot {
            None => *slot = Some(rest.trim()),
            Some(_) => self.repeated = true,
        }
    }

    fn end_section(&mut self) {
        for (offer, section) in self.offer.iter_mut().zip(&mut self.section) {
            match (offer, section.take()) {
                (_, None) => {}
                (offer @ None, defined) => *offer = defined,
                (Some(earlier), Some(defined)) => self.conflict |= *earlier != defined,
            }
        }
    }

    /// Why the offer's payload types are refused, if they are.
    fn verdict(mut self) -> Result<(), SfuError> {
        self.end_section();
        if self.repeated {
            return Err(SfuError::BadSdp("a payload type has two a=rtpmap or two a=fmtp lines in one media section"));
        }
        if self.conflict {
            return Err(SfuError::BadSdp("a payload type is defined differently in two media sections"));
        }
        Ok(())
    }
}

fn payload_type(s: &str) -> Option<usize> {
    s.parse::<u8>().ok().filter(|pt| *pt < 128).map(usize::from)
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

/// Makes every m-section of `kind` after the first `keep` of them inactive:
/// its direction attribute is dropped and `a=inactive` ends the section.
/// The answer then says inactive too, so a client sees which of its
/// m-lines will carry nothing.
pub(super) fn make_surplus_inactive(sdp: &str, kind: &str, keep: usize) -> String {
    let mut out = String::with_capacity(sdp.len() + 16);
    let mut seen = 0usize;
    let mut surplus = false;
    // The line ending the offer uses, for the lines added.
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    for line in sdp.split_inclusive('\n') {
        let bare = line.trim();
        if let Some(media) = bare.strip_prefix("m=") {
            if surplus {
                out.push_str("a=inactive");
                out.push_str(eol);
            }
            surplus = media.split(' ').next() == Some(kind) && {
                seen += 1;
                seen > keep
            };
        } else if surplus && matches!(bare, "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive") {
            continue;
        }
        out.push_str(line);
    }
    if surplus {
        if !out.ends_with('\n') {
            out.push_str(eol);
        }
        out.push_str("a=inactive");
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
    fn surplus_sections_are_made_inactive() {
        let sdp = "v=0\r\nm=audio 9 x 111\r\na=mid:a0\r\na=recvonly\r\nm=video 9 x 96\r\na=mid:v0\r\na=recvonly\r\n\
                   m=audio 9 x 111\r\na=mid:a1\r\na=recvonly\r\nm=audio 9 x 111\r\na=mid:a2\r\n";
        let out = make_surplus_inactive(sdp, "audio", 1);
        assert!(out.contains("a=mid:a0\r\na=recvonly\r\nm=video"), "{out}");
        assert!(out.contains("a=mid:v0\r\na=recvonly\r\n"), "{out}");
        // Its direction replaced, and one without a direction given one.
        assert!(out.contains("a=mid:a1\r\na=inactive\r\nm=audio"), "{out}");
        assert!(out.ends_with("a=mid:a2\r\na=inactive\r\n"), "{out}");
        assert_eq!(make_surplus_inactive(sdp, "audio", 3), sdp);
    }

    #[test]
    fn paired_audio_rides_free_of_the_mline_budget() {
        let limits = SignallingLimits::default();
        let pair = "m=video 9 x 96\r\na=mid:v\r\nm=audio 9 x 111\r\na=mid:a\r\n";
        let budget = MLineBudget { max: 3, paired_audio: 2 };
        // Two slots with their audio and a data channel: five m-lines.
        let two = format!("v=0\r\n{pair}{pair}m=application 9 x 0\r\n");
        assert!(screen_offer_within(&two, &limits, budget).is_ok());
        // An audio m-line without a video one to pair with counts.
        let lonely = format!("v=0\r\n{pair}{pair}m=audio 9 x 111\r\nm=audio 9 x 111\r\n");
        assert!(matches!(screen_offer_within(&lonely, &limits, budget), Err(SfuError::TooManyMLines { max: 3 })));
        // A paired audio m-line brings its bytes: 3.5 m-lines' worth is
        // over the budget of three, unless one audio m-line is paired.
        let pad = "a=x\r\n".repeat(7 * limits.offer_bytes_per_mline / 10);
        let unpaired = format!("v=0\r\nm=video 9 x 96\r\n{pad}");
        let too_large = screen_offer_within(&unpaired, &limits, budget);
        assert!(matches!(too_large, Err(SfuError::OfferTooLarge { max: 24576, .. })), "{too_large:?}");
        assert!(screen_offer_within(&format!("v=0\r\n{pair}{pad}"), &limits, budget).is_ok());
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

    /// Found by `fuzz/` (target `sdp`): str0m panics ("Pt locked multiple
    /// times") on an offer whose sections give one payload type two meanings,
    /// which would end the SFU thread.
    #[test]
    fn a_payload_type_means_one_thing() {
        let limits = SignallingLimits::default();
        let screen = |sdp: &str| screen_offer(sdp, &limits, 4).map(|_| ());
        let video = |pts: &str, attrs: &str| format!("m=video 9 UDP/TLS/RTP/SAVPF {pts}\r\na=mid:x\r\n{attrs}");
        let vp8 = "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n";
        let ok = format!("v=0\r\n{}{}", video("96 97", vp8), video("96 97", vp8));
        assert!(screen(&ok).is_ok());
        // The same codec under other numbers, a data channel, an old-style
        // SCTP port that looks like a payload type: all fine.
        let other_pts = vp8.replace("96", "98").replace("97", "99");
        let fine = format!(
            "v=0\r\n{}{}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nm=application 9 DTLS/SCTP 96\r\n",
            video("96 97", vp8),
            video("98 99", &other_pts)
        );
        let screen_all = |sdp: &str| screen_offer(sdp, &limits, 8).map(|_| ());
        assert!(screen_all(&fine).is_ok());
        let conflicts = [
            // Another codec.
            video("96 97", &vp8.replace("VP8", "H264")),
            // The same codec with other parameters.
            video("96 97", &format!("{vp8}a=fmtp:96 max-fs=12288\r\n")),
            // A payload type listed without the definition it had.
            video("96 97", "a=rtpmap:96 VP8/90000\r\n"),
            // The first section's RTX as a codec.
            video("97", "a=rtpmap:97 H264/90000\r\n"),
            // RTX for another codec.
            video("97 98", "a=rtpmap:98 H264/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=98\r\n"),
            // Audio on a video payload type.
            "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 opus/48000/2\r\n".to_owned(),
        ];
        for second in &conflicts {
            let sdp = format!("v=0\r\n{}{second}", video("96 97", vp8));
            assert!(matches!(screen(&sdp), Err(SfuError::BadSdp(_))), "{second}");
        }
        // Within one section, two values for one payload type, or one
        // repeated.
        for again in ["a=rtpmap:96 H264/90000\r\n", "a=rtpmap:96 VP8/90000\r\n", "a=fmtp:97 apt=96\r\n"] {
            let twice = format!("v=0\r\n{}", video("96 97", &format!("{vp8}{again}")));
            assert!(matches!(screen(&twice), Err(SfuError::BadSdp(m)) if m.contains("two a=rtpmap")), "{again}");
        }
    }

    #[test]
    fn parse_errors_do_not_echo_the_parser() {
        let Err(SfuError::BadSdp(reason)) = parse_offer("v=0\r\nthis is not sdp") else {
            panic!("garbage parsed as an offer");
        };
        assert!(!reason.contains("0x") && !reason.contains("this is not sdp"), "{reason}");
    }
}
