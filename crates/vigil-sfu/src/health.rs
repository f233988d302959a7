//! Media health from RTP arrival alone: no decoding, injected time.
//!
//! A student whose camera froze still sends an event stream that looks fine.
//! The SFU is the one place that sees the video itself arrive, so it raises
//! three server-side incidents per publisher:
//!
//! * **stalled**: no video RTP for `stall_after` (the camera or the network
//!   went away), or none at all within `first_video_within` of publishing
//!   (the connection never came up, or the camera never started);
//! * **frame-rate collapse**: fewer than `collapse_below_fps` frames/s over
//!   `collapse_window`, after at least `armed_at_fps` had been seen (a
//!   throttled tab, a starving CPU);
//! * **keyframes missing**: a keyframe was requested and none arrived within
//!   `keyframe_within` (a broken encoder; watchers would see nothing).
//!
//! Frames are counted by distinct RTP timestamps per SSRC, so neither marker
//! bits nor packetisation matter; with simulcast the best layer counts.
//! Each condition is reported once per episode and re-arms when it clears.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use vigil_proto::IncidentKind;

#[derive(Debug, Clone)]
pub struct HealthConfig {
    pub stall_after: Duration,
    /// How long after publishing the first video may take: ICE, DTLS and
    /// the encoder's first keyframe, on a slow network.
    pub first_video_within: Duration,
    pub collapse_below_fps: f64,
    pub armed_at_fps: f64,
    pub collapse_window: Duration,
    pub keyframe_within: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            stall_after: Duration::from_secs(3),
            first_video_within: Duration::from_secs(10),
            collapse_below_fps: 3.0,
            armed_at_fps: 8.0,
            collapse_window: Duration::from_secs(5),
            keyframe_within: Duration::from_secs(5),
        }
    }
}

/// One finding, for the caller to turn into an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthFinding {
    pub kind: IncidentKind,
    pub at: Instant,
    pub detail: String,
}

#[derive(Debug)]
struct SsrcFrames {
    ssrc: u32,
    last_ts: Option<u32>,
    /// Arrival time of each new frame inside the window.
    frames: VecDeque<Instant>,
}

/// Health state of one publisher's video.
#[derive(Debug)]
pub struct MediaHealth {
    cfg: HealthConfig,
    since: Instant,
    last_rtp: Option<Instant>,
    stalled: bool,
    streams: Vec<SsrcFrames>,
    armed: bool,
    collapsed: bool,
    pli_pending: Option<Instant>,
}

/// Cap on SSRCs tracked; simulcast has three, more is a misbehaving client.
const MAX_SSRCS: usize = 4;

impl MediaHealth {
    /// `now` is when the publisher published: the first video is awaited
    /// from here.
    pub fn new(cfg: HealthConfig, now: Instant) -> Self {
        MediaHealth {
            cfg,
            since: now,
            last_rtp: None,
            stalled: false,
            streams: Vec::new(),
            armed: false,
            collapsed: false,
            pli_pending: None,
        }
    }

    /// A video RTP packet arrived.
    pub fn on_video_rtp(&mut self, now: Instant, ssrc: u32, rtp_ts: u32, keyframe: bool) {
        if self.last_rtp.is_none() && self.pli_pending.is_some() {
            // A request made before any video could not be answered yet:
            // the publisher's clock starts with its first packet.
            self.pli_pending = Some(now);
        }
        self.last_rtp = Some(now);
        self.stalled = false;
        if keyframe {
            self.pli_pending = None;
        }
        let idx = match self.streams.iter().position(|s| s.ssrc == ssrc) {
            Some(i) => i,
            None if self.streams.len() < MAX_SSRCS => {
                self.streams.push(SsrcFrames { ssrc, last_ts: None, frames: VecDeque::new() });
                self.streams.len() - 1
            }
            None => return,
        };
        let window = self.cfg.collapse_window;
        let s = &mut self.streams[idx];
        if s.last_ts != Some(rtp_ts) {
            s.last_ts = Some(rtp_ts);
            s.frames.push_back(now);
            while let Some(&f) = s.frames.front() {
                if now.saturating_duration_since(f) > window {
                    s.frames.pop_front();
                } else {
                    break;
                }
            }
        }
    }

    /// A keyframe request was sent to this publisher.
    pub fn on_keyframe_requested(&mut self, now: Instant) {
        // The clock runs from the first unanswered request.
        self.pli_pending.get_or_insert(now);
    }

    /// Frames per second over the window, best SSRC.
    pub fn fps(&self, now: Instant) -> f64 {
        let window = self.cfg.collapse_window;
        let best = self
            .streams
            .iter()
            .map(|s| s.frames.iter().filter(|&&f| now.saturating_duration_since(f) <= window).count())
            .max()
            .unwrap_or(0);
        best as f64 / window.as_secs_f64()
    }

    /// Evaluates the rules at `now`; call at least every few hundred ms.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<HealthFinding>) {
        match self.last_rtp {
            None => self.poll_first_video(now, out),
            Some(last) => self.poll_stall(now, last, out),
        }

        // The rate is only meaningful over a full window of history.
        let full_window = now.saturating_duration_since(self.since) >= self.cfg.collapse_window;
        let fps = self.fps(now);
        if fps >= self.cfg.armed_at_fps {
            self.armed = true;
            self.collapsed = false;
        } else if full_window && self.armed && !self.collapsed && !self.stalled && fps < self.cfg.collapse_below_fps {
            // A stall is reported as such, not also as a collapse.
            self.collapsed = true;
            self.armed = false;
            out.push(HealthFinding {
                kind: IncidentKind::FrameRateCollapsed,
                at: now,
                detail: format!("{fps:.1} frames/s over {} s", self.cfg.collapse_window.as_secs()),
            });
        }

        // Before any video a missing keyframe says nothing more than the
        // missing video does, which `poll_first_video` reports.
        if let Some(asked) = self.pli_pending.filter(|_| self.last_rtp.is_some()) {
            let waited = now.saturating_duration_since(asked);
            if waited >= self.cfg.keyframe_within && !self.stalled {
                self.pli_pending = None;
                out.push(HealthFinding {
                    kind: IncidentKind::KeyframesMissing,
                    at: now,
                    detail: format!("no keyframe {} ms after request", waited.as_millis()),
                });
            }
        }
    }

    /// No video yet: reported once, `first_video_within` after publishing.
    /// The first packet ends the episode like any stall's.
    fn poll_first_video(&mut self, now: Instant, out: &mut Vec<HealthFinding>) {
        let waited = now.saturating_duration_since(self.since);
        if !self.stalled && waited >= self.cfg.first_video_within {
            self.stalled = true;
            out.push(HealthFinding {
                kind: IncidentKind::MediaStalled,
                at: now,
                detail: format!("no video arrived within {} of publishing", spoken(self.cfg.first_video_within)),
            });
        }
    }

    /// Video flowed and stopped for `stall_after`.
    fn poll_stall(&mut self, now: Instant, last: Instant, out: &mut Vec<HealthFinding>) {
        let silent = now.saturating_duration_since(last);
        if !self.stalled && silent >= self.cfg.stall_after {
            self.stalled = true;
            out.push(HealthFinding {
                kind: IncidentKind::MediaStalled,
                at: now,
                detail: format!("no video RTP for {} ms", silent.as_millis()),
            });
        }
    }
}

/// "10 s" for whole seconds, "600 ms" otherwise.
fn spoken(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{} ms", d.as_millis()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds `fps` frames per second (2 packets per frame) from `from` for `dur`.
    fn feed(
        h: &mut MediaHealth,
        from: Instant,
        dur: Duration,
        fps: u64,
        ts: &mut u32,
        out: &mut Vec<HealthFinding>,
    ) -> Instant {
        let step = ms(1000 / fps);
        let mut t = from;
        while t < from + dur {
            *ts = ts.wrapping_add(90_000 / fps as u32);
            h.on_video_rtp(t, 1, *ts, false);
            h.on_video_rtp(t, 1, *ts, false);
            h.poll(t, out);
            t += step;
        }
        t
    }

    #[test]
    fn steady_stream_is_healthy() {
        let t0 = Instant::now();
        let mut h = MediaHealth::new(HealthConfig::default(), t0);
        let mut out = vec![];
        let mut ts = 0;
        feed(&mut h, t0, Duration::from_secs(20), 15, &mut ts, &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert!((h.fps(t0 + Duration::from_secs(20)) - 15.0).abs() < 1.0);
    }

    #[test]
    fn stall_reported_once_and_rearms() {
        let t0 = Instant::now();
        let mut h = MediaHealth::new(HealthConfig::default(), t0);
        let mut out = vec![];
        let mut ts = 0;
        let t = feed(&mut h, t0, Duration::from_secs(2), 15, &mut ts, &mut out);
        h.poll(t + ms(2900), &mut out);
        assert!(out.is_empty());
        h.poll(t + ms(3100), &mut out);
        h.poll(t + ms(9000), &mut out);
        assert_eq!(out.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![IncidentKind::MediaStalled]);
        // Recovery, then a second stall is a second episode.
        let t = feed(&mut h, t + ms(9000), Duration::from_secs(1), 15, &mut ts, &mut out);
        h.poll(t + ms(3500), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].kind, IncidentKind::MediaStalled);
    }

    #[test]
    fn no_video_after_publishing_is_reported_once() {
        let t0 = Instant::now();
        let cfg = HealthConfig::default();
        let mut h = MediaHealth::new(cfg.clone(), t0);
        let mut out = vec![];
        // Connection setup takes longer than a stall: no finding yet, and a
        // keyframe request meanwhile is not reported as missing keyframes.
        h.on_keyframe_requested(t0 + ms(100));
        for t in (0..cfg.first_video_within.as_millis() as u64).step_by(250) {
            h.poll(t0 + ms(t), &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        h.poll(t0 + cfg.first_video_within, &mut out);
        h.poll(t0 + cfg.first_video_within + ms(5000), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].kind, IncidentKind::MediaStalled);
        assert_eq!(out[0].detail, "no video arrived within 10 s of publishing");
        // Video that finally arrives ends the episode; a later stop is a stall.
        let mut ts = 0;
        let t = feed(&mut h, t0 + ms(16_000), Duration::from_secs(2), 15, &mut ts, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        h.poll(t + cfg.stall_after, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out[1].detail.starts_with("no video RTP for"), "{}", out[1].detail);
    }

    #[test]
    fn frame_rate_collapse_after_being_healthy() {
        let t0 = Instant::now();
        let mut h = MediaHealth::new(HealthConfig::default(), t0);
        let mut out = vec![];
        let mut ts = 0;
        let t = feed(&mut h, t0, Duration::from_secs(6), 15, &mut ts, &mut out);
        assert!(out.is_empty());
        // 2 frames/s: still arriving (no stall), but collapsed.
        feed(&mut h, t, Duration::from_secs(8), 2, &mut ts, &mut out);
        assert_eq!(out.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![IncidentKind::FrameRateCollapsed]);
    }

    #[test]
    fn low_rate_from_the_start_is_not_a_collapse() {
        let t0 = Instant::now();
        let mut h = MediaHealth::new(HealthConfig::default(), t0);
        let mut out = vec![];
        let mut ts = 0;
        feed(&mut h, t0, Duration::from_secs(20), 2, &mut ts, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn keyframe_missing_after_request() {
        let t0 = Instant::now();
        let mut h = MediaHealth::new(HealthConfig::default(), t0);
        let mut out = vec![];
        let mut ts = 0;
        let t = feed(&mut h, t0, Duration::from_secs(1), 15, &mut ts, &mut out);
        h.on_keyframe_requested(t);
        let t2 = feed(&mut h, t, Duration::from_secs(4), 15, &mut ts, &mut out);
        assert!(out.is_empty());
        // A keyframe in time clears it.
        h.on_video_rtp(t2, 1, ts + 1, true);
        feed(&mut h, t2, Duration::from_secs(3), 15, &mut ts, &mut out);
        assert!(out.is_empty());
        // Unanswered request.
        let t3 = t2 + Duration::from_secs(3);
        h.on_keyframe_requested(t3);
        feed(&mut h, t3, Duration::from_secs(6), 15, &mut ts, &mut out);
        assert_eq!(out.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![IncidentKind::KeyframesMissing]);
    }

    #[test]
    fn best_simulcast_layer_counts() {
        let t0 = Instant::now();
        let mut h = MediaHealth::new(HealthConfig::default(), t0);
        for i in 0..50u32 {
            let t = t0 + ms(100 * i as u64);
            h.on_video_rtp(t, 1, i * 9000, false);
            if i % 5 == 0 {
                h.on_video_rtp(t, 2, i * 9000, false);
            }
        }
        assert!((h.fps(t0 + ms(4900)) - 10.0).abs() < 0.5);
    }
}
