//! The router's metrics: aggregate, with bounded labels only.
//!
//! No series is labelled with a peer, subscriber, exam or student id. Such
//! ids would leak on /metrics, and every reconnect would start a series that
//! is never dropped. Labels are limited to `role`, `reason`, `kind`,
//! `layer` and `where`, whose values are fixed below. Every handle is created once, with
//! the router. The per-packet counters are plain integers on the router's
//! thread (`PacketCounts`), added to the shared counters once per driver
//! loop turn (`Router::flush_metrics`): a batch of packets costs a few
//! atomic adds, not a few per packet.

use metrics::{Counter, Gauge, counter, gauge};
use str0m::media::KeyframeRequestKind;
use vigil_proto::IncidentKind;

use super::peer::MAX_LAYERS;
use crate::SfuError;

/// The labels any SFU metric may carry.
#[cfg(test)]
pub(super) const ALLOWED_LABELS: &[&str] = &["role", "reason", "kind", "layer", "where"];

/// The incident kinds `MediaHealth` raises.
const HEALTH_KINDS: [IncidentKind; 3] =
    [IncidentKind::MediaStalled, IncidentKind::FrameRateCollapsed, IncidentKind::KeyframesMissing];

const LAYER_NAMES: [&str; MAX_LAYERS] = ["0", "1", "2", "3"];

/// Per-packet counts not yet added to the shared counters.
#[derive(Default)]
pub(super) struct PacketCounts {
    pub rtp_in_packets: u64,
    pub rtp_in_bytes: u64,
    pub rtp_out_packets: u64,
    pub rtp_out_bytes: u64,
    /// Audio packets written towards proctors (also in `rtp_out_*`).
    pub audio_forwarded: u64,
    /// Audio of a publication made without audio permission.
    pub audio_dropped_not_allowed: u64,
    /// Audio from a publisher's second audio stream (only the first is
    /// forwarded).
    pub audio_dropped_second_stream: u64,
}

pub(super) struct RouterMetrics {
    /// Counted here, flushed to the counters below.
    pub packets: PacketCounts,
    /// RTP from publishers (all of it, audio too). vigil-load reads the
    /// packet counters by name: keep them.
    rtp_in_packets: Counter,
    rtp_in_bytes: Counter,
    /// RTP written towards proctors (video and audio).
    rtp_out_packets: Counter,
    rtp_out_bytes: Counter,
    /// Audio packets written towards proctors, one per watching slot.
    audio_forwarded: Counter,
    /// Publishers' audio packets that no proctor may hear, by reason.
    audio_dropped_not_allowed: Counter,
    audio_dropped_second_stream: Counter,
    keyframe_requests_pli: Counter,
    keyframe_requests_fir: Counter,
    /// NACKs proctors sent us (str0m answers them from its RTX cache).
    pub nacks_received: Counter,
    /// Watching slots by the layer they were last given, 0 being the
    /// lowest-rate layer.
    slots_by_layer: [Gauge; MAX_LAYERS],
    pub peers_pub: Gauge,
    pub peers_sub: Gauge,
    pub dropped_unknown: Counter,
    pub dropped_garbage: Counter,
    pub dropped_wrong_direction: Counter,
    findings: [Counter; HEALTH_KINDS.len()],
    /// Peers closed because str0m panicked on their input.
    pub panics: Counter,
    /// Peers closed because their connection never came up.
    pub never_connected: Counter,
    /// Recorded publications whose recorded simulcast layer changed.
    pub record_layer_switched: Counter,
    pub refusals: Refusals,
}

impl RouterMetrics {
    pub fn new() -> Self {
        RouterMetrics {
            packets: PacketCounts::default(),
            rtp_in_packets: counter!("vigil_sfu_rtp_in_packets_total"),
            rtp_in_bytes: counter!("vigil_sfu_rtp_in_bytes_total"),
            rtp_out_packets: counter!("vigil_sfu_rtp_out_packets_total"),
            rtp_out_bytes: counter!("vigil_sfu_rtp_out_bytes_total"),
            audio_forwarded: counter!("vigil_sfu_audio_forwarded_packets_total"),
            audio_dropped_not_allowed: counter!("vigil_sfu_audio_dropped_packets_total", "reason" => "not_allowed"),
            audio_dropped_second_stream: counter!("vigil_sfu_audio_dropped_packets_total", "reason" => "second_stream"),
            keyframe_requests_pli: counter!("vigil_sfu_keyframe_requests_total", "kind" => "pli"),
            keyframe_requests_fir: counter!("vigil_sfu_keyframe_requests_total", "kind" => "fir"),
            nacks_received: counter!("vigil_sfu_nacks_received_total"),
            slots_by_layer: LAYER_NAMES.map(|l| gauge!("vigil_sfu_slots", "layer" => l)),
            peers_pub: gauge!("vigil_sfu_peers", "role" => "publisher"),
            peers_sub: gauge!("vigil_sfu_peers", "role" => "subscriber"),
            dropped_unknown: counter!("vigil_sfu_datagrams_dropped_total", "reason" => "unknown_source"),
            dropped_garbage: counter!("vigil_sfu_datagrams_dropped_total", "reason" => "unparseable"),
            dropped_wrong_direction: counter!("vigil_sfu_rtp_dropped_total", "reason" => "wrong_direction"),
            findings: HEALTH_KINDS.map(|k| counter!("vigil_sfu_health_findings_total", "kind" => k.as_str())),
            panics: counter!("vigil_sfu_panics_total", "where" => "peer"),
            never_connected: counter!("vigil_sfu_peers_closed_total", "reason" => "never_connected"),
            record_layer_switched: counter!("vigil_sfu_record_layer_switches_total"),
            refusals: Refusals::new(),
        }
    }

    /// Adds the per-packet counts to the shared counters.
    pub fn flush(&mut self) {
        let p = std::mem::take(&mut self.packets);
        for (counter, n) in [
            (&self.rtp_in_packets, p.rtp_in_packets),
            (&self.rtp_in_bytes, p.rtp_in_bytes),
            (&self.rtp_out_packets, p.rtp_out_packets),
            (&self.rtp_out_bytes, p.rtp_out_bytes),
            (&self.audio_forwarded, p.audio_forwarded),
            (&self.audio_dropped_not_allowed, p.audio_dropped_not_allowed),
            (&self.audio_dropped_second_stream, p.audio_dropped_second_stream),
        ] {
            if n > 0 {
                counter.increment(n);
            }
        }
    }

    pub fn keyframe_requested(&self, kind: KeyframeRequestKind) {
        match kind {
            KeyframeRequestKind::Fir => self.keyframe_requests_fir.increment(1),
            _ => self.keyframe_requests_pli.increment(1),
        }
    }

    pub fn health_finding(&self, kind: IncidentKind) {
        if let Some(i) = HEALTH_KINDS.iter().position(|k| *k == kind) {
            self.findings[i].increment(1);
        }
    }

    /// Moves a slot from the gauge of the layer it showed to the one it
    /// shows now (`None`: not counted, the slot is empty).
    pub fn slot_layer_changed(&self, from: Option<usize>, to: Option<usize>) {
        if from == to {
            return;
        }
        if let Some(g) = from.and_then(|l| self.slots_by_layer.get(l)) {
            g.decrement(1.0);
        }
        if let Some(g) = to.and_then(|l| self.slots_by_layer.get(l)) {
            g.increment(1.0);
        }
    }
}

/// Refused offers and candidates by reason, counted where they are refused:
/// offers on the thread that prepares them, candidates on the SFU thread.
#[derive(Clone)]
pub(super) struct Refusals {
    offer_too_large: Counter,
    too_many_mlines: Counter,
    too_many_candidates: Counter,
    bad_sdp: Counter,
}

impl Refusals {
    pub fn new() -> Self {
        Refusals {
            offer_too_large: refused("offer_too_large"),
            too_many_mlines: refused("too_many_mlines"),
            too_many_candidates: refused("too_many_candidates"),
            bad_sdp: refused("bad_sdp"),
        }
    }

    /// Counts a refused offer or candidate by the reason it was refused.
    pub fn count(&self, e: &SfuError) {
        let c = match e {
            SfuError::OfferTooLarge { .. } => &self.offer_too_large,
            SfuError::TooManyMLines { .. } => &self.too_many_mlines,
            SfuError::TooManyCandidates { .. } => &self.too_many_candidates,
            SfuError::BadSdp(_) => &self.bad_sdp,
            _ => return,
        };
        c.increment(1);
    }
}

/// `vigil_sfu_signalling_refused_total{reason}`; the driver counts `busy`
/// under the same name.
fn refused(reason: &'static str) -> Counter {
    counter!("vigil_sfu_signalling_refused_total", "reason" => reason)
}
