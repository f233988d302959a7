//! Offers answered before they reach the router: screening, parsing, the
//! new peer's `Rtc` (with its DTLS certificate) and str0m's answer.
//!
//! This is the expensive part of signalling: a browser's offer costs about
//! a millisecond, and a hostile offer that passes the size screen costs
//! str0m far more. None of it needs the router's state, so the driver runs
//! it on its own thread and the SFU thread only inserts the prepared peer
//! (`Router::accept_publisher`, `Router::accept_subscriber`), which costs
//! microseconds whatever the offer was.

use std::time::{Duration, Instant};

use rand::Rng;
use rand::distr::Alphanumeric;
use str0m::format::Codec;
use str0m::media::{Direction, Mid, Pt, Rids};
use str0m::{Candidate, IceCreds, Rtc, RtcConfig};

use super::metrics::Refusals;
use super::sdp::{self, Screened};
use super::slots::{Slot, paired_audio};
use super::{FastMap, RouterConfig, fast_map};
use crate::SfuError;
use crate::keyframe::VideoCodec;

/// A student's offer, answered and ready to insert.
pub struct PreparedPublisher {
    pub(super) rtc: Rtc,
    pub(super) screened: Screened,
    pub(super) answer: String,
    /// The video payload types the answer accepted.
    pub(super) pt_codec: FastMap<Pt, (Codec, VideoCodec)>,
    /// The Opus payload type the answer accepted, if the offer had audio.
    /// Whether it is forwarded is the caller's choice (`PublishOptions`).
    pub(super) opus_pt: Option<Pt>,
    /// The offer declared several encodings (`a=rid` / `a=simulcast`).
    pub(super) simulcast: bool,
}

/// A proctor's offer of video slots (and audio paired with them), answered
/// and ready to insert.
pub struct PreparedSubscriber {
    pub(super) rtc: Rtc,
    pub(super) screened: Screened,
    pub(super) answer: String,
    pub(super) slots: Vec<Slot>,
    /// The payload type the answer gave each codec.
    pub(super) codec_pt: Vec<(Codec, Pt)>,
}

/// The codecs forwarded to proctors.
fn forwarded_codec(codec: Codec) -> bool {
    matches!(codec, Codec::Vp8 | Codec::H264 | Codec::Opus)
}

impl std::fmt::Debug for PreparedPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPublisher").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PreparedSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedSubscriber").field("slots", &self.slots.len()).finish_non_exhaustive()
    }
}

/// Answers offers for peers of one router, on any thread. Cheap to clone.
#[derive(Clone)]
pub struct OfferPreparer {
    cfg: RouterConfig,
    refusals: Refusals,
}

impl OfferPreparer {
    pub fn new(cfg: RouterConfig) -> Self {
        OfferPreparer { cfg, refusals: Refusals::new() }
    }

    /// Answers a student's camera offer.
    pub fn publisher(&self, now: Instant, offer_sdp: &str) -> Result<PreparedPublisher, SfuError> {
        let result = self.try_publisher(now, offer_sdp);
        if let Err(e) = &result {
            self.refusals.count(e);
        }
        result
    }

    fn try_publisher(&self, now: Instant, offer_sdp: &str) -> Result<PreparedPublisher, SfuError> {
        let screened = sdp::screen_offer(offer_sdp, &self.cfg.limits, self.cfg.limits.max_publisher_mlines)?;
        // Directions are forced before str0m sees the offer, so the answer
        // can only ever receive from a publisher.
        let offer = sdp::parse_offer(&sdp::force_directions(offer_sdp, Direction::SendOnly))?;
        let mut rtc = self.new_rtc(now, false);
        let answer = sdp::accept_offer(&mut rtc, offer)?;
        let video = sdp::mids_of_kind(offer_sdp, "video");
        let has_video = video.iter().any(|&m| rtc.media(m).is_some_and(|md| md.direction() == Direction::RecvOnly));
        let simulcast = video
            .iter()
            .any(|&m| rtc.media(m).is_some_and(|md| matches!(md.rids_rx(), Rids::Specific(r) if r.len() > 1)));
        if !has_video {
            return Err(SfuError::OfferRejected("no video track to publish".into()));
        }
        let mut pt_codec = fast_map();
        let mut opus_pt = None;
        for p in rtc.codec_config().params() {
            let vc = match p.spec().codec {
                Codec::Vp8 => VideoCodec::Vp8,
                Codec::H264 => VideoCodec::H264,
                // The config enables Opus alone for audio: the one audio
                // payload type there can be.
                Codec::Opus => {
                    opus_pt.get_or_insert(p.pt());
                    continue;
                }
                _ => continue,
            };
            pt_codec.insert(p.pt(), (p.spec().codec, vc));
        }
        if pt_codec.is_empty() {
            return Err(SfuError::OfferRejected("no VP8 or H.264 in offer".into()));
        }
        // An offer without an audio m-line that sends Opus leaves no audio
        // to forward, whatever the codec list says.
        let audio_mids = sdp::mids_of_kind(offer_sdp, "audio");
        let opus_pt = opus_pt.filter(|&pt| audio_mids.iter().any(|&m| carries(&rtc, m, Direction::RecvOnly, pt)));
        Ok(PreparedPublisher { rtc, screened, answer: answer.to_sdp_string(), pt_codec, opus_pt, simulcast })
    }

    /// Answers a proctor's offer of recvonly video slots, each with the
    /// recvonly audio m-line of the same rank if there is one
    /// (`slots::paired_audio`); audio m-lines beyond the slots are answered
    /// inactive.
    pub fn subscriber(&self, now: Instant, offer_sdp: &str) -> Result<PreparedSubscriber, SfuError> {
        let result = self.try_subscriber(now, offer_sdp);
        if let Err(e) = &result {
            self.refusals.count(e);
        }
        result
    }

    fn try_subscriber(&self, now: Instant, offer_sdp: &str) -> Result<PreparedSubscriber, SfuError> {
        let max_mlines = self.cfg.max_slots.saturating_add(self.cfg.limits.extra_subscriber_mlines);
        let budget = sdp::MLineBudget { max: max_mlines, paired_audio: self.cfg.max_slots };
        let screened = sdp::screen_offer_within(offer_sdp, &self.cfg.limits, budget)?;
        let video_mids = sdp::mids_of_kind(offer_sdp, "video");
        let audio_mids = sdp::mids_of_kind(offer_sdp, "audio");
        let mut forced = sdp::force_directions(offer_sdp, Direction::RecvOnly);
        if audio_mids.len() > video_mids.len() {
            // Audio m-lines no slot pairs with would be answered sendonly
            // and never carry anything: say so in the answer instead.
            forced = sdp::make_surplus_inactive(&forced, "audio", video_mids.len());
        }
        let offer = sdp::parse_offer(&forced)?;
        if video_mids.is_empty() {
            return Err(SfuError::OfferRejected("no video slots offered".into()));
        }
        if video_mids.len() > self.cfg.max_slots {
            return Err(SfuError::OfferRejected(format!(
                "{} video slots offered, at most {} allowed",
                video_mids.len(),
                self.cfg.max_slots
            )));
        }
        let mut rtc = self.new_rtc(now, true);
        let answer = sdp::accept_offer(&mut rtc, offer)?;
        let mut codec_pt = Vec::new();
        for p in rtc.codec_config().params() {
            let codec = p.spec().codec;
            if forwarded_codec(codec) && !codec_pt.iter().any(|(c, _)| *c == codec) {
                codec_pt.push((codec, p.pt()));
            }
        }
        if !codec_pt.iter().any(|(c, _)| c.is_video()) {
            return Err(SfuError::OfferRejected("no VP8 or H.264 in offer".into()));
        }
        let opus_pt = codec_pt.iter().find(|(c, _)| *c == Codec::Opus).map(|(_, pt)| *pt);
        let mut slots = Vec::new();
        for (mid, audio) in video_mids.iter().zip(paired_audio(video_mids.len(), &audio_mids)) {
            if !rtc.media(*mid).is_some_and(|m| m.direction() == Direction::SendOnly) {
                // Rejected m-lines (port 0) are not slots we can fill.
                return Err(SfuError::OfferRejected(format!("video m-line {mid} cannot receive")));
            }
            // An audio m-line the answer does not send on (no Opus in it,
            // or offered inactive) leaves its slot silent, not refused: the
            // video is what a proctor cannot do without.
            let audio = audio.filter(|&a| opus_pt.is_some_and(|pt| carries(&rtc, a, Direction::SendOnly, pt)));
            slots.push(Slot::new(*mid, audio));
            if let Some(tx) = rtc.direct_api().stream_tx_by_mid(*mid, None) {
                tx.set_rtx_cache(RTX_CACHE_PACKETS, RTX_CACHE_AGE, Some(RTX_RATIO_CAP));
            }
        }
        Ok(PreparedSubscriber { rtc, screened, answer: answer.to_sdp_string(), slots, codec_pt })
    }

    fn new_rtc(&self, now: Instant, subscriber: bool) -> Rtc {
        let mut cfg = peer_rtc_config()
            // Per-peer stats cost a timer per second; only proctor NACK
            // counts use them.
            .set_stats_interval(subscriber.then(|| Duration::from_secs(1)));
        if let Some(creds) = ice_credentials() {
            cfg = cfg.set_local_ice_credentials(creds);
        }
        if subscriber && let Some(bps) = self.cfg.bwe_initial_bps {
            cfg = cfg.enable_bwe(Some(str0m::bwe::Bitrate::bps(bps)));
        }
        let mut rtc = cfg.build(now);
        // Host candidate construction only fails for unspecified addresses,
        // which `Sfu::start` rules out.
        if let Ok(c) = Candidate::host(self.cfg.candidate_addr, "udp") {
            rtc.add_local_candidate(c);
        }
        rtc
    }
}

/// Whether the answer gave m-line `mid` direction `dir` (ours) with payload
/// type `pt` among those agreed for it.
fn carries(rtc: &Rtc, mid: Mid, dir: Direction, pt: Pt) -> bool {
    rtc.media(mid).is_some_and(|m| m.direction() == dir && m.remote_pts().contains(&pt))
}

/// What a slot's retransmission cache keeps: the packets of the last
/// second, at most 256 of them. A proctor's NACK comes within a round trip,
/// and a packet older than the jitter buffer (well under a second) is of
/// no use when it arrives; str0m's default (3 s, up to 2,000 packets)
/// holds up to 2.4 MB per slot, and first touching that memory is paid on
/// the forwarding path.
const RTX_CACHE_PACKETS: usize = 256;
const RTX_CACHE_AGE: Duration = Duration::from_secs(1);
/// str0m's default: resends are dropped once they are 15% of what is sent.
const RTX_RATIO_CAP: f32 = 0.15;

/// What every peer's `Rtc` is: ICE-lite, RTP mode (forwarded, never
/// depacketised), VP8, H.264 and Opus.
pub(crate) fn peer_rtc_config() -> RtcConfig {
    RtcConfig::new()
        .set_ice_lite(true)
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_vp8(true)
        .enable_h264(true)
        .enable_opus(true, false)
}

/// A peer's ICE username fragment and password, from a cryptographic
/// generator. str0m's own come from a fast non-cryptographic one (wyrand,
/// 64 bits of state), whose next outputs a client could work out from the
/// credentials in its own answer; with another peer's ufrag and password it
/// could send that peer's connectivity checks and move its media to
/// itself. RFC 8445 (section 5.3) asks for unguessable values with at least
/// 128 bits of randomness in the password: 22 alphanumerics carry 131.
///
/// The fuzz build keeps str0m's generator (`None`), which the `stun`
/// target seeds so that its saved inputs carry valid credentials.
fn ice_credentials() -> Option<IceCreds> {
    if cfg!(feature = "fuzzing") {
        return None;
    }
    let mut rng = rand::rng();
    let mut text = |len: usize| -> String { (&mut rng).sample_iter(Alphanumeric).take(len).map(char::from).collect() };
    Some(IceCreds { ufrag: text(16), pass: text(22) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_credentials_are_long_and_fresh() {
        let a = ice_credentials().expect("credentials outside the fuzz build");
        let b = ice_credentials().expect("credentials outside the fuzz build");
        assert_eq!((a.ufrag.len(), a.pass.len()), (16, 22));
        assert!(a.ufrag.chars().chain(a.pass.chars()).all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.ufrag, b.ufrag);
        assert_ne!(a.pass, b.pass);
    }
}
