//! Simulated students and proctors. Each speaks the real protocol with the
//! same messages and rates a browser would: heartbeats, signals, incidents
//! with acks, evidence uploads, and proctors receiving every score.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::watch;
use vigil_proto::events::names;

use crate::sio::SioClient;

/// The server's per-student score coalescing interval (vigil-server's
/// `fanout::SCORE_INTERVAL_MS`), plus a little for the round trip.
const COALESCE_INTERVAL: Duration = Duration::from_millis(110);

/// Tries per evidence frame before it counts as an error.
const EVIDENCE_ATTEMPTS: u32 = 5;

/// A real JPEG (a frame made by the project, see testdata/frames).
const FRAME: &[u8] = include_bytes!("../../../testdata/frames/frame-a.jpg");

#[derive(Debug, Clone)]
pub struct StudentConfig {
    /// Incidents per second per student.
    pub incident_rate: f64,
    /// Share of incidents that get an evidence upload.
    pub evidence_share: f64,
    pub heartbeat_every: Duration,
    pub signals_every: Duration,
    /// The camera each student publishes over the SFU; `None` for events only.
    pub video: Option<crate::media::VideoConfig>,
}

/// Counters shared by every simulated client.
#[derive(Debug)]
pub struct Stats {
    pub incidents_sent: AtomicU64,
    pub incidents_acked: AtomicU64,
    pub scores_received: AtomicU64,
    pub evidence_sent: AtomicU64,
    pub evidence_accepted: AtomicU64,
    /// Uploads refused with "later" (429 or 5xx) and sent again.
    pub evidence_retries: AtomicU64,
    pub reconnects: AtomicU64,
    /// RTP packets the students' cameras sent.
    pub rtp_sent: AtomicU64,
    /// RTP packets the proctors' slots received, and the gaps in their
    /// sequence numbers (lost) or packets that came late (reordered).
    pub rtp_received: AtomicU64,
    pub rtp_lost: AtomicU64,
    pub rtp_reordered: AtomicU64,
    /// PLIs the cameras answered with a keyframe.
    pub rtp_keyframe_requests: AtomicU64,
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Incident sent → score received at a proctor, in microseconds, for
    /// incidents that start a burst (the server emits those at once).
    pub latency_us: Mutex<Histogram<u64>>,
    /// The same for incidents sent within the server's coalescing interval
    /// of the student's previous one: their score may be held up to 100 ms.
    pub coalesced_latency_us: Mutex<Histogram<u64>>,
    /// (student, expected score seq) → when its incident was sent, and
    /// whether it followed the previous one within the coalescing interval.
    pending: Mutex<HashMap<(u32, u64), (Instant, bool)>>,
    /// Incidents acked per student.
    acked_by_student: Mutex<HashMap<u32, u64>>,
    /// Highest score seq each proctor received per student. Coalescing may
    /// skip a seq, but the latest one covers every incident before it.
    delivered: Mutex<HashMap<(u32, u32), u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Stats {
    pub fn new() -> Arc<Stats> {
        Arc::new(Stats {
            incidents_sent: AtomicU64::new(0),
            incidents_acked: AtomicU64::new(0),
            scores_received: AtomicU64::new(0),
            evidence_sent: AtomicU64::new(0),
            evidence_accepted: AtomicU64::new(0),
            evidence_retries: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            rtp_sent: AtomicU64::new(0),
            rtp_received: AtomicU64::new(0),
            rtp_lost: AtomicU64::new(0),
            rtp_reordered: AtomicU64::new(0),
            rtp_keyframe_requests: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            // 1 µs .. 60 s at 3 significant digits; the bounds are valid constants.
            latency_us: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")),
            coalesced_latency_us: Mutex::new(
                Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            ),
            pending: Mutex::new(HashMap::new()),
            acked_by_student: Mutex::new(HashMap::new()),
            delivered: Mutex::new(HashMap::new()),
        })
    }

    /// Incidents acked but not covered by a score at each of `proctors` proctors.
    pub fn undelivered(&self, proctors: u32) -> u64 {
        let acked = lock(&self.acked_by_student).clone();
        let delivered = lock(&self.delivered);
        (0..proctors)
            .flat_map(|p| acked.iter().map(move |(s, n)| (p, *s, *n)))
            .map(|(p, s, n)| n.saturating_sub(delivered.get(&(p, s)).copied().unwrap_or(0)))
            .sum()
    }

    pub fn error(&self, kind: impl Into<String>) {
        *lock(&self.errors).entry(kind.into()).or_default() += 1;
    }

    /// Starts a new measurement step: latencies and pending sends are per step.
    pub fn reset_latency(&self) {
        lock(&self.latency_us).reset();
        lock(&self.coalesced_latency_us).reset();
        lock(&self.pending).clear();
    }
}

pub fn token_payload(token: &str) -> Value {
    json!({ "token": token })
}

/// One student, until `stop` turns true.
pub async fn student(
    idx: u32,
    base: String,
    token: String,
    cfg: StudentConfig,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
    media: tokio::runtime::Handle,
) {
    let http = reqwest::Client::new();
    let mut next_seq = 1u64;
    let mut accepted = 0u64;
    let mut first = true;
    let local_ip = crate::media::local_ip_towards(&base);
    while !*stop.borrow() {
        let connected = SioClient::connect(&base, names::STUDENT_NS, &token_payload(&token)).await;
        let (client, mut events) = match connected {
            Ok(c) => c,
            Err(e) => {
                stats.error(format!("student connect: {e}"));
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if !first {
            stats.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        // Dropped with this connection: the SFU ends a publication when its
        // socket closes, so the camera starts over on the next connection.
        let (_camera_alive, alive) = tokio::sync::oneshot::channel::<()>();
        if let Some(video) = &cfg.video {
            media.spawn(crate::media::publish(
                client.clone(),
                local_ip,
                video.clone(),
                idx,
                stats.clone(),
                stop.clone(),
                alive,
                None,
            ));
        }
        let mut heartbeat = tokio::time::interval(cfg.heartbeat_every);
        let mut signals = tokio::time::interval(cfg.signals_every);
        let mut next_incident = Instant::now() + exp_gap(cfg.incident_rate);
        let mut last_incident: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = stop.changed() => if *stop.borrow() {
                    // The camera stops on the same signal; closing the socket
                    // ends the publication, so let its last packets land first.
                    if cfg.video.is_some() {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    client.close();
                    return;
                },
                ev = events.recv() => match ev {
                    None => break, // connection lost: reconnect
                    Some((name, v)) if name == names::WELCOME => {
                        let server_next = v.get("next_seq").and_then(Value::as_u64).unwrap_or(1);
                        next_seq = next_seq.max(server_next);
                    }
                    Some(_) => {}
                },
                _ = heartbeat.tick() => {
                    let _ = client.emit(names::HEARTBEAT, &healthy_heartbeat());
                }
                _ = signals.tick() => {
                    let s = json!({ "at": now_ms(), "faces": 1, "yaw_deg": 2.0, "pitch_deg": -1.0, "confidence": 0.95, "brightness": 0.5, "tab_visible": true, "fullscreen": true });
                    let _ = client.emit(names::SIGNALS, &s);
                }
                _ = tokio::time::sleep_until(next_incident.into()), if cfg.incident_rate > 0.0 => {
                    next_incident = Instant::now() + exp_gap(cfg.incident_rate);
                    let seq = next_seq;
                    next_seq += 1;
                    let id = format!("load-{idx}-{seq}");
                    let report = json!({ "id": id, "seq": seq, "kind": "looking_away", "started_at": now_ms() - 10, "confidence": 0.9 });
                    // Incidents go one at a time per student, so the score
                    // that this one produces has the next sequence number.
                    let sent = Instant::now();
                    let in_burst = last_incident.is_some_and(|t| sent.duration_since(t) < COALESCE_INTERVAL);
                    last_incident = Some(sent);
                    lock(&stats.pending).insert((idx, accepted + 1), (sent, in_burst));
                    stats.incidents_sent.fetch_add(1, Ordering::Relaxed);
                    match client.emit_with_ack(names::INCIDENT, &report, Duration::from_secs(10)).await {
                        Ok(ack) if ack.get("status").and_then(Value::as_str) == Some("accepted") => {
                            accepted += 1;
                            stats.incidents_acked.fetch_add(1, Ordering::Relaxed);
                            *lock(&stats.acked_by_student).entry(idx).or_default() += 1;
                            if rand::rng().random_bool(cfg.evidence_share.clamp(0.0, 1.0)) {
                                upload_evidence(&http, &base, &token, &id, &stats).await;
                            }
                        }
                        Ok(ack) => {
                            lock(&stats.pending).remove(&(idx, accepted + 1));
                            let reason = ack.get("reason").and_then(Value::as_str).unwrap_or("unknown").to_owned();
                            stats.error(format!("incident rejected: {reason}"));
                        }
                        Err(e) => {
                            lock(&stats.pending).remove(&(idx, accepted + 1));
                            stats.error(format!("incident: {e}"));
                        }
                    }
                }
            }
        }
    }
}

async fn upload_evidence(http: &reqwest::Client, base: &str, token: &str, incident: &str, stats: &Stats) {
    // A comment segment right after SOI makes every frame's bytes (and hash)
    // unique while keeping it the same valid JPEG.
    let tag = incident.as_bytes();
    let mut body = Vec::with_capacity(FRAME.len() + tag.len() + 4);
    body.extend_from_slice(&FRAME[..2]);
    body.extend_from_slice(&[0xFF, 0xFE]);
    body.extend_from_slice(&((tag.len() + 2) as u16).to_be_bytes());
    body.extend_from_slice(tag);
    body.extend_from_slice(&FRAME[2..]);
    stats.evidence_sent.fetch_add(1, Ordering::Relaxed);
    // Like the page's outbox: a refusal that says "later" (429, or a 5xx)
    // is retried after the server's `retry_after_ms`, or a growing backoff.
    let mut backoff = Duration::from_millis(200);
    for attempt in 1..=EVIDENCE_ATTEMPTS {
        let res = http
            .post(format!("{base}/api/v1/evidence/{incident}"))
            .bearer_auth(token)
            .header("content-type", "image/jpeg")
            .header("x-vigil-captured-at", now_ms().to_string())
            .body(body.clone())
            .send()
            .await;
        let status = match res {
            Ok(r) if r.status().is_success() => {
                stats.evidence_accepted.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(r) => r,
            Err(e) => return stats.error(format!("evidence: {e}")),
        };
        let code = status.status().as_u16();
        let later = code == 429 || code >= 500;
        if !later || attempt == EVIDENCE_ATTEMPTS {
            return stats.error(format!("evidence: HTTP {code}"));
        }
        let asked = status.json::<Value>().await.ok().and_then(|b| b.pointer("/error/retry_after_ms")?.as_u64());
        stats.evidence_retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(asked.map_or(backoff, Duration::from_millis).max(backoff)).await;
        backoff = backoff.saturating_mul(2);
    }
}

/// One proctor: receives every score of its exam and times it, and watches
/// the video of the students in `watching`.
pub async fn proctor(
    index: u32,
    base: String,
    token: String,
    watching: Vec<String>,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
    media: tokio::runtime::Handle,
) {
    let local_ip = crate::media::local_ip_towards(&base);
    while !*stop.borrow() {
        let (client, mut events) = match SioClient::connect(&base, names::PROCTOR_NS, &token_payload(&token)).await {
            Ok(c) => c,
            Err(e) => {
                stats.error(format!("proctor connect: {e}"));
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let (_video_alive, alive) = tokio::sync::oneshot::channel::<()>();
        media.spawn(crate::media::watch_students(
            client.clone(),
            local_ip,
            watching.clone(),
            stats.clone(),
            stop.clone(),
            alive,
        ));
        loop {
            tokio::select! {
                _ = stop.changed() => if *stop.borrow() { client.close(); return; },
                ev = events.recv() => match ev {
                    None => { stats.reconnects.fetch_add(1, Ordering::Relaxed); break; }
                    Some((name, v)) if name == names::SCORE => {
                        let received = Instant::now();
                        stats.scores_received.fetch_add(1, Ordering::Relaxed);
                        let student = v.get("student_id").and_then(Value::as_str).and_then(|s| s.strip_prefix('s')).and_then(|s| s.parse::<u32>().ok());
                        let seq = v.get("seq").and_then(Value::as_u64);
                        if let (Some(student), Some(seq)) = (student, seq) {
                            let mut delivered = lock(&stats.delivered);
                            let best = delivered.entry((index, student)).or_default();
                            *best = (*best).max(seq);
                            drop(delivered);
                            let sent = lock(&stats.pending).get(&(student, seq)).copied();
                            if let Some((sent, in_burst)) = sent {
                                let us = received.saturating_duration_since(sent).as_micros().max(1) as u64;
                                let hist = if in_burst { &stats.coalesced_latency_us } else { &stats.latency_us };
                                let _ = lock(hist).record(us.min(60_000_000));
                            }
                        }
                    }
                    Some(_) => {}
                },
            }
        }
    }
}

fn exp_gap(rate: f64) -> Duration {
    if rate <= 0.0 {
        return Duration::from_secs(3600);
    }
    // Poisson arrivals: exponential gaps with mean 1/rate.
    let u: f64 = rand::rng().random_range(f64::EPSILON..1.0);
    Duration::from_secs_f64(-u.ln() / rate)
}

/// A healthy page's heartbeat: the worker running at the rate a laptop
/// manages, the camera live.
pub fn healthy_heartbeat() -> Value {
    let beat = vigil_proto::events::Heartbeat {
        at: now_ms(),
        inference_fps: 12.0,
        worker_ok: true,
        worker_restarts: 0,
        camera_live: true,
    };
    serde_json::to_value(beat).unwrap_or(Value::Null)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
