//! vigil-load: simulated students and proctors against a real vigil server,
//! measured per step of a ramp.
//!
//! Each simulated student speaks the protocol a browser speaks (Socket.IO
//! `/student`: heartbeats, signals, incidents with acks; HTTP evidence
//! uploads with real JPEGs; a WebRTC camera publishing VP8 over the SFU).
//! Proctors connect to `/proctor`, time every score from the moment its
//! incident was sent, and watch students' video, counting the RTP and the
//! gaps in it.

pub mod media;
pub mod report;
pub mod sim;
pub mod sio;
pub mod storm;
mod target;
pub use target::sibling_vigil as target_vigil;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use tokio::sync::watch;

pub use target::{ClusterServices, Target};

#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Students at each step of the ramp (one step without a ramp).
    pub steps: Vec<u32>,
    pub proctors: u32,
    /// Students each proctor watches over the SFU.
    pub watch: u32,
    /// Measured time per step, after a short warm-up.
    pub duration: Duration,
    pub student: sim::StudentConfig,
    pub show_progress: bool,
    /// The load generator's nice value, reported with each step.
    pub loadgen_nice: i32,
    /// The nice value of the threads that run the cameras and the proctors'
    /// video (see [`media_runtime`]), reported with each step.
    pub media_nice: i32,
    /// The exam records every student's camera (privacy tier `recording`).
    pub record: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// One step's measurements; field names are the JSON output's.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub students: u32,
    pub proctors: u32,
    pub duration_s: f64,
    pub server_cpu_cores: Option<f64>,
    pub server_cpu_per_student: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    pub loadgen_cpu_cores: f64,
    pub loadgen_nice: i32,
    pub media_nice: i32,
    /// RTP packets: sent by the students' cameras, received by the SFU,
    /// forwarded by it to proctors, received by the proctors, and missing
    /// from the proctors' sequence numbers. Null when no video is sent.
    pub rtp_sent: Option<u64>,
    pub rtp_sfu_received: Option<u64>,
    pub rtp_forwarded: Option<u64>,
    pub rtp_received: Option<u64>,
    pub rtp_lost: Option<u64>,
    /// Packets that arrived after a later one on the same slot (counted
    /// as lost when the gap was seen); zero on loopback.
    pub rtp_reordered: Option<u64>,
    /// PLIs the cameras answered with a keyframe.
    pub rtp_keyframe_requests: Option<u64>,
    /// With `--record`: whether the exam recorded, the recorder's dropped
    /// packets, and the segments and bytes stored during the step (the disk
    /// bandwidth is bytes / duration_s).
    pub recording: bool,
    pub record_dropped: Option<u64>,
    pub recording_segments_stored: Option<u64>,
    pub recording_bytes_stored: Option<u64>,
    pub incidents_sent: u64,
    pub incidents_acked: u64,
    pub scores_received: u64,
    pub evidence_sent: u64,
    pub evidence_accepted: u64,
    /// Uploads the server asked to send again later (429 or 5xx), and
    /// that were (see `sim::upload_evidence`).
    pub evidence_retries: u64,
    /// Incident sent → score at a proctor, for incidents that start a burst.
    pub score_latency_ms: Option<Quantiles>,
    /// The server's own part of it: incident stored → score handed to the
    /// proctors' sockets, p99 as the upper bound of the server's histogram
    /// bucket that holds it (from `/metrics`).
    pub server_fanout_p99_ms: Option<f64>,
    /// The same for incidents within 100 ms of the student's previous one,
    /// whose score the server may hold (leading-edge throttle, latest wins).
    pub coalesced_score_latency_ms: Option<Quantiles>,
    /// How many incidents fell in each of the two groups.
    pub latency_samples: [u64; 2],
    pub reconnects: u64,
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Each node's share (one entry for a single server).
    pub nodes: Vec<NodeStep>,
    /// A cluster's relayed socket messages, there and back through Redis
    /// (median and p99 as the upper bound of the histogram bucket that
    /// holds them); null on a single node.
    pub relay_p50_ms: Option<f64>,
    pub relay_p99_ms: Option<f64>,
}

/// One node's CPU and memory over a step.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStep {
    pub url: String,
    pub cpu_cores: Option<f64>,
    pub rss_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    sent: u64,
    acked: u64,
    scores: u64,
    evidence_sent: u64,
    evidence_ok: u64,
    evidence_retries: u64,
    reconnects: u64,
    rtp_sent: u64,
    rtp_received: u64,
    rtp_lost: u64,
    rtp_reordered: u64,
    rtp_keyframe_requests: u64,
}

fn counts(s: &sim::Stats) -> Counts {
    Counts {
        sent: s.incidents_sent.load(Ordering::Relaxed),
        acked: s.incidents_acked.load(Ordering::Relaxed),
        scores: s.scores_received.load(Ordering::Relaxed),
        evidence_sent: s.evidence_sent.load(Ordering::Relaxed),
        evidence_ok: s.evidence_accepted.load(Ordering::Relaxed),
        evidence_retries: s.evidence_retries.load(Ordering::Relaxed),
        reconnects: s.reconnects.load(Ordering::Relaxed),
        rtp_sent: s.rtp_sent.load(Ordering::Relaxed),
        rtp_received: s.rtp_received.load(Ordering::Relaxed),
        rtp_lost: s.rtp_lost.load(Ordering::Relaxed),
        rtp_reordered: s.rtp_reordered.load(Ordering::Relaxed),
        rtp_keyframe_requests: s.rtp_keyframe_requests.load(Ordering::Relaxed),
    }
}

/// The outcome of a whole run: per-step results plus totals for checking
/// that nothing was lost.
#[derive(Debug)]
pub struct RunOutcome {
    pub steps: Vec<StepResult>,
    pub total_sent: u64,
    pub total_acked: u64,
    pub total_scores: u64,
    pub total_evidence_sent: u64,
    pub total_evidence_accepted: u64,
    /// Acked incidents that some proctor never saw a covering score for.
    pub undelivered: u64,
    /// Whole-run RTP counts, read after the cameras stopped and the last
    /// packets drained (see `StepResult`); zero without video.
    pub total_rtp_sent: u64,
    pub total_rtp_sfu_received: u64,
    pub total_rtp_forwarded: u64,
    pub total_rtp_received: u64,
    pub total_rtp_lost: u64,
    pub errors: std::collections::BTreeMap<String, u64>,
}

/// The runtime for the students' cameras and the proctors' video, apart
/// from the one that runs the Socket.IO clients. A thousand cameras keep a
/// runtime's workers busy encrypting and pacing RTP; on the same runtime a
/// proctor's score would wait behind them in the run queue, and the score
/// latency measured would be the generator's own queueing. With threads of
/// their own (optionally niced) the cameras are what a thousand laptops
/// are to the server: load beside it, not ahead of the measurement.
pub fn media_runtime(nice: i32) -> Result<tokio::runtime::Runtime> {
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("vigil-load-media")
        .enable_all()
        .on_thread_start(move || {
            if let Err(e) = report::renice_this_thread(nice) {
                eprintln!("vigil-load: could not set the media threads' nice value to {nice}: {e}");
            }
        })
        .build()
        .context("starting the media runtime")
}

/// Runs the ramp against `target`.
pub async fn run(target: &Target, cfg: &LoadConfig) -> Result<RunOutcome> {
    if cfg.watch > 0 && cfg.student.video.is_none() {
        bail!("--watch needs the students to publish video");
    }
    let media = media_runtime(cfg.media_nice)?;
    let outcome = run_on(target, cfg, media.handle().clone()).await;
    // Dropping a runtime from async code would block this one's worker.
    media.shutdown_background();
    outcome
}

async fn run_on(target: &Target, cfg: &LoadConfig, media: tokio::runtime::Handle) -> Result<RunOutcome> {
    let max_students = cfg.steps.iter().copied().max().unwrap_or(0);
    let privacy =
        if cfg.record { vigil_proto::PrivacyTier::Recording } else { vigil_proto::PrivacyTier::FlaggedFrames };
    let roster = target.roster(max_students, cfg.proctors, privacy).await.context("creating the load exam")?;
    let stats = sim::Stats::new();
    // Students stop first; proctors keep listening until the last scores are in.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (stop_proctors_tx, stop_proctors_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut proctor_tasks = Vec::new();
    // Proctors watch students who exist from the first step on, spread so
    // that different proctors watch different students where they can.
    let first_step = cfg.steps.first().copied().unwrap_or(0);
    let per_proctor = cfg.watch.min(first_step);
    for (i, token) in roster.proctors.iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let watching = (0..per_proctor).map(|j| format!("s{}", (i * per_proctor + j) % first_step.max(1))).collect();
        proctor_tasks.push(tokio::spawn(sim::proctor(
            i,
            target.proctor_base(i).to_owned(),
            token.clone(),
            watching,
            stats.clone(),
            stop_proctors_rx.clone(),
            media.clone(),
        )));
    }
    let mut running = 0u32;
    let mut results = Vec::new();
    for &step in &cfg.steps {
        while running < step {
            let idx = running;
            let token = roster.students[idx as usize].clone();
            tasks.push(tokio::spawn(sim::student(
                idx,
                target.student_base(idx).to_owned(),
                token,
                cfg.student.clone(),
                stats.clone(),
                stop_rx.clone(),
                media.clone(),
            )));
            running += 1;
            // Spread connection setup so the ramp does not measure a thundering herd.
            if idx % 50 == 49 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        results.push(measure(target, cfg, step, &stats).await?);
    }
    // Stop sending, then give the last scores a moment to arrive.
    let deadline = Instant::now() + Duration::from_secs(10);
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), t).await;
    }
    while stats.undelivered(cfg.proctors) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // RTP still in flight (SFU queues, socket buffers) lands within a moment on loopback.
    let video = cfg.student.video.is_some();
    if video {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let sfu_end = if video { target.sfu_packets().await } else { None };
    let _ = stop_proctors_tx.send(true);
    for t in proctor_tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    let end = counts(&stats);
    Ok(RunOutcome {
        steps: results,
        total_sent: end.sent,
        total_acked: end.acked,
        total_scores: end.scores,
        total_evidence_sent: end.evidence_sent,
        total_evidence_accepted: end.evidence_ok,
        undelivered: stats.undelivered(cfg.proctors),
        total_rtp_sent: end.rtp_sent,
        total_rtp_sfu_received: sfu_end.map_or(0, |p| p.received),
        total_rtp_forwarded: sfu_end.map_or(0, |p| p.forwarded),
        total_rtp_received: end.rtp_received,
        total_rtp_lost: end.rtp_lost,
        errors: stats.errors.lock().map(|e| e.clone()).unwrap_or_default(),
    })
}

async fn measure(target: &Target, cfg: &LoadConfig, students: u32, stats: &Arc<sim::Stats>) -> Result<StepResult> {
    stats.reset_latency();
    let before = counts(stats);
    let errors_before = stats.errors.lock().map(|e| e.clone()).unwrap_or_default();
    let node_cpu0: Vec<Option<f64>> =
        target.nodes.iter().map(|n| n.pid.and_then(report::process_cpu_seconds)).collect();
    let relay0 = target.relay_buckets().await;
    let self_cpu0 = report::process_cpu_seconds(std::process::id());
    let video = cfg.student.video.is_some();
    let sfu0 = if video { target.sfu_packets().await } else { None };
    let fanout0 = target.fanout_buckets().await;
    let started = Instant::now();
    let bar = cfg.show_progress.then(|| report::progress(students, cfg.duration));
    while started.elapsed() < cfg.duration {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some(b) = &bar {
            let c = counts(stats);
            b.set_position(started.elapsed().as_millis() as u64);
            b.set_message(format!("{} acked, {} scores", c.acked - before.acked, c.scores - before.scores));
        }
    }
    if let Some(b) = bar {
        b.finish();
    }
    let wall = started.elapsed().as_secs_f64();
    let after = counts(stats);
    let sfu1 = if video { target.sfu_packets().await } else { None };
    let sfu = sfu0.zip(sfu1);
    let server_fanout_p99_ms =
        fanout0.zip(target.fanout_buckets().await).and_then(|(a, b)| bucket_quantile(&a, &b, 0.99)).map(|s| s * 1000.0);
    let rtp = |n: u64| video.then_some(n);
    let nodes: Vec<NodeStep> = target
        .nodes
        .iter()
        .zip(&node_cpu0)
        .map(|(n, cpu0)| NodeStep {
            url: n.base.clone(),
            cpu_cores: cpu0.zip(n.pid.and_then(report::process_cpu_seconds)).map(|(a, b)| (b - a) / wall),
            rss_bytes: n.pid.and_then(report::process_rss_bytes),
        })
        .collect();
    let server_cpu = nodes.iter().map(|n| n.cpu_cores).sum::<Option<f64>>();
    let relay = relay0.zip(target.relay_buckets().await);
    let relay_ms = |q| relay.as_ref().and_then(|(a, b)| bucket_quantile(a, b, q)).map(|s| s * 1000.0);
    let self_cpu = match (self_cpu0, report::process_cpu_seconds(std::process::id())) {
        (Some(a), Some(b)) => (b - a) / wall,
        _ => 0.0,
    };
    let quantiles = |h: &hdrhistogram::Histogram<u64>| {
        (!h.is_empty()).then(|| Quantiles {
            p50: h.value_at_quantile(0.50) as f64 / 1000.0,
            p95: h.value_at_quantile(0.95) as f64 / 1000.0,
            p99: h.value_at_quantile(0.99) as f64 / 1000.0,
            max: h.max() as f64 / 1000.0,
        })
    };
    let (leading, coalesced) = match (stats.latency_us.lock(), stats.coalesced_latency_us.lock()) {
        (Ok(a), Ok(b)) => (a.clone(), b.clone()),
        _ => return Err(anyhow::anyhow!("latency histograms poisoned")),
    };
    let mut errors = stats.errors.lock().map(|e| e.clone()).unwrap_or_default();
    for (k, v) in errors_before {
        if let Some(e) = errors.get_mut(&k) {
            *e -= v;
        }
    }
    errors.retain(|_, v| *v > 0);
    Ok(StepResult {
        students,
        proctors: cfg.proctors,
        duration_s: wall,
        server_cpu_cores: server_cpu,
        server_cpu_per_student: server_cpu.map(|c| c / f64::from(students.max(1))),
        server_rss_bytes: nodes.iter().map(|n| n.rss_bytes).sum::<Option<u64>>(),
        loadgen_cpu_cores: self_cpu,
        loadgen_nice: cfg.loadgen_nice,
        media_nice: cfg.media_nice,
        rtp_sent: rtp(after.rtp_sent - before.rtp_sent),
        rtp_sfu_received: sfu.map(|(a, b)| b.received.saturating_sub(a.received)),
        rtp_forwarded: sfu.map(|(a, b)| b.forwarded.saturating_sub(a.forwarded)),
        rtp_received: rtp(after.rtp_received - before.rtp_received),
        rtp_lost: rtp(after.rtp_lost - before.rtp_lost),
        rtp_reordered: rtp(after.rtp_reordered - before.rtp_reordered),
        rtp_keyframe_requests: rtp(after.rtp_keyframe_requests - before.rtp_keyframe_requests),
        recording: cfg.record,
        record_dropped: sfu.map(|(a, b)| b.record_dropped.saturating_sub(a.record_dropped)),
        recording_segments_stored: sfu.map(|(a, b)| b.recording_segments.saturating_sub(a.recording_segments)),
        recording_bytes_stored: sfu.map(|(a, b)| b.recording_bytes.saturating_sub(a.recording_bytes)),
        incidents_sent: after.sent - before.sent,
        incidents_acked: after.acked - before.acked,
        scores_received: after.scores - before.scores,
        evidence_sent: after.evidence_sent - before.evidence_sent,
        evidence_accepted: after.evidence_ok - before.evidence_ok,
        evidence_retries: after.evidence_retries - before.evidence_retries,
        score_latency_ms: quantiles(&leading),
        server_fanout_p99_ms,
        coalesced_score_latency_ms: quantiles(&coalesced),
        latency_samples: [leading.len(), coalesced.len()],
        reconnects: after.reconnects - before.reconnects,
        errors,
        relay_p50_ms: relay_ms(0.5),
        relay_p99_ms: relay_ms(0.99),
        nodes,
    })
}

/// The `q` quantile of what a cumulative histogram gained between two
/// readings, as the upper bound of the bucket it falls in.
fn bucket_quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> Option<f64> {
    let delta: Vec<(f64, u64)> = after
        .iter()
        .map(|&(le, n)| (le, n.saturating_sub(before.iter().find(|b| b.0 == le).map_or(0, |b| b.1))))
        .collect();
    let total = delta.iter().map(|d| d.1).max()?;
    if total == 0 {
        return None;
    }
    let mut sorted = delta;
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    sorted.iter().find(|(_, n)| *n as f64 >= q * total as f64).map(|(le, _)| *le)
}

#[cfg(test)]
mod tests {
    use super::bucket_quantile;

    #[test]
    fn quantile_of_the_difference_between_two_readings() {
        let before = [(0.001, 10), (0.01, 10), (f64::INFINITY, 10)];
        // 100 new samples: 98 under 1 ms, 2 between 1 and 10 ms.
        let after = [(0.001, 108), (0.01, 110), (f64::INFINITY, 110)];
        assert_eq!(bucket_quantile(&before, &after, 0.5), Some(0.001));
        assert_eq!(bucket_quantile(&before, &after, 0.99), Some(0.01));
        assert_eq!(bucket_quantile(&after, &after, 0.99), None);
    }
}
