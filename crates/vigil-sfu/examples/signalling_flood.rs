//! Signalling flood benchmark: how much delay does a flood of signalling
//! from one client add to a stream another proctor is watching?
//!
//! cargo run --release -p vigil-sfu --example signalling_flood -- OUT.json [--secs S] [--pps P]
//!
//! Writes OUT.json and, beside it, OUT.svg (each packet's delay over time,
//! by phase).
//!
//! One synthetic VP8 publisher is watched by one proctor connection, on
//! loopback. Each packet carries its send time, so the watcher measures the
//! one-way delay through the SFU. Three phases of S seconds (default 5):
//!
//! * `baseline`: no signalling;
//! * `candidate_flood`: a second student's connection fires `add_candidate`
//!   calls, 20,000 per round without awaiting, then awaits them all, round
//!   after round;
//! * `publish_flood`: a third student re-publishes the same offer, 1,000
//!   calls per round, each building a new peer (DTLS certificate, answer);
//! * `hostile_offer_flood`: a fourth re-publishes the costliest offer that
//!   passes the screen (an offer padded to 32 KiB with short unknown
//!   attribute lines, which str0m parses slowly), 40 calls per round: the
//!   server's per-student signalling burst.
//!
//! Reported per phase: delay percentiles, delivery, and the flood's calls by
//! outcome; `added_delay_ms` is each flood phase's p50/p99/max minus the
//! baseline's. The flood runs on its own thread, like the server's socket
//! tasks do.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use str0m::Input;
use str0m::format::Codec;
use str0m::media::{Direction, Pt};
use str0m::rtp::RtpWrite;
use support::Client;
use vigil_proto::events::{IceCandidate, WatchQuality};
use vigil_sfu::keyframe::vp8_test_payload;
use vigil_sfu::{PeerId, PublishOptions, PublisherId, Sfu, SfuConfig, SfuError, SubscriberId};

/// Offset of the synthetic body in a `vp8_test_payload` packet.
const BODY_AT: usize = 5;

/// The watched publisher: one packet per frame, body = [frame u32, sent ns u64, filler].
struct Publisher {
    c: Client,
    pt: Pt,
    seq: u64,
    ts: u32,
    pid: u16,
    seen_requests: u64,
    frame: u32,
}

impl Publisher {
    fn send(&mut self, epoch: Instant, key: bool) {
        let key = key || self.c.key_requests > self.seen_requests;
        self.seen_requests = self.c.key_requests;
        let now = Instant::now();
        let mut body = self.frame.to_be_bytes().to_vec();
        body.extend_from_slice(&(now.duration_since(epoch).as_nanos() as u64).to_be_bytes());
        body.resize(1000, 0x5a);
        let payload = vp8_test_payload(self.pid, true, key, &body);
        let Some(mid) = self.c.mid else { return };
        let mut api = self.c.rtc.direct_api();
        if let Some(tx) = api.stream_tx_by_mid(mid, None) {
            tx.write_rtp(RtpWrite::new(self.pt, self.seq.into(), self.ts, now, payload).marker(true).nackable(true));
        }
        self.seq += 1;
        self.ts = self.ts.wrapping_add(3000);
        self.pid = (self.pid + 1) & 0x7fff;
        self.frame += 1;
        let _ = self.c.rtc.handle_input(Input::Timeout(now));
        self.c.drain();
    }
}

/// (frame, delay) of one forwarded packet.
fn decode(epoch: Instant, arrival: Instant, payload: &[u8]) -> Option<(u32, Duration)> {
    let b = payload.get(BODY_AT..BODY_AT + 12)?;
    let frame = u32::from_be_bytes(b[..4].try_into().ok()?);
    let sent = epoch + Duration::from_nanos(u64::from_be_bytes(b[4..12].try_into().ok()?));
    Some((frame, arrival.saturating_duration_since(sent)))
}

fn student(name: &str) -> PublisherId {
    PublisherId::new("bench".parse().expect("exam id"), name.parse().expect("student id"))
}

/// Proctor connection `connection`, watching exam `bench`.
fn sub_id(connection: impl Into<String>) -> SubscriberId {
    SubscriberId::new("bench".parse().expect("exam id"), connection)
}

#[derive(Clone, Copy, PartialEq)]
enum Flood {
    None,
    Candidates,
    Publishes,
    HostileOffers,
}

impl Flood {
    fn name(self) -> &'static str {
        match self {
            Flood::None => "baseline",
            Flood::Candidates => "candidate_flood",
            Flood::Publishes => "publish_flood",
            Flood::HostileOffers => "hostile_offer_flood",
        }
    }
}

/// The flood's calls by outcome.
#[derive(Default)]
struct Outcomes {
    ok: u64,
    busy: u64,
    too_many_candidates: u64,
    other: u64,
}

/// Fires rounds of calls without awaiting, then awaits the round, until
/// `stop`; returns the outcomes.
fn flood(sfu: Sfu, kind: Flood, offer: String, hostile: String, stop: Arc<AtomicBool>) -> Outcomes {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let peer = PeerId::Publisher(student("flooder"));
    let mut out = Outcomes::default();
    let mut next = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let results: Vec<Result<(), SfuError>> = match kind {
            Flood::None => return out,
            Flood::Candidates => {
                let calls: Vec<_> = (0..20_000)
                    .map(|_| {
                        next += 1;
                        let i = next;
                        let candidate = format!(
                            "candidate:{i} 1 udp 2130706431 10.{}.{}.{} 9 typ host",
                            (i >> 16) & 255,
                            (i >> 8) & 255,
                            i & 255
                        );
                        sfu.add_candidate(
                            peer.clone(),
                            IceCandidate { candidate, sdp_mid: None, sdp_m_line_index: None },
                        )
                    })
                    .collect();
                calls.into_iter().map(|c| rt.block_on(c)).collect()
            }
            Flood::Publishes => {
                let calls: Vec<_> = (0..1_000)
                    .map(|_| sfu.publish(student("republisher"), offer.clone(), PublishOptions::default()))
                    .collect();
                calls.into_iter().map(|c| rt.block_on(c).map(|_| ())).collect()
            }
            Flood::HostileOffers => {
                let calls: Vec<_> = (0..40)
                    .map(|_| sfu.publish(student("hostile"), hostile.clone(), PublishOptions::default()))
                    .collect();
                calls.into_iter().map(|c| rt.block_on(c).map(|_| ())).collect()
            }
        };
        for r in results {
            match r {
                Ok(()) => out.ok += 1,
                Err(SfuError::Busy) => out.busy += 1,
                Err(SfuError::TooManyCandidates { .. }) => out.too_many_candidates += 1,
                Err(_) => out.other += 1,
            }
        }
    }
    out
}

/// The publisher's byte budget (4 m-lines of 8 KiB), less a margin.
fn cfg_limit_bytes() -> usize {
    let limits = vigil_sfu::SignallingLimits::default();
    limits.offer_bytes_per_mline * limits.max_publisher_mlines - 64
}

/// `offer` with its video section padded to `bytes` with short unknown
/// attribute lines: of the shapes that pass the screen, the costliest for
/// str0m to parse per byte (see docs/BENCHMARKS.md).
fn hostile_offer(offer: &str, bytes: usize) -> String {
    let at = offer.find("a=mid:").expect("the offer has a mid");
    let at = at + offer[at..].find('\n').expect("line end") + 1;
    let line = "a=x-foo:bar\r\n";
    let pad = line.repeat(bytes.saturating_sub(offer.len()) / line.len());
    format!("{}{pad}{}", &offer[..at], &offer[at..])
}

/// Each packet's delay over time, one colour per phase.
fn plot(path: &std::path::Path, series: &[(&str, Vec<(f64, f64)>)]) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let points = series.iter().flat_map(|(_, s)| s.iter());
    let (x0, x1, y1) = points.fold((f64::MAX, 0.0f64, 0.0f64), |(a, b, c), (x, y)| (a.min(*x), b.max(*x), c.max(*y)));
    let mut chart = ChartBuilder::on(&root)
        .caption("watched stream's delay through the SFU, by flood", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(x0.min(x1)..x1.max(x0 + 1.0), 0.0..(y1 * 1.1).max(1.0))?;
    chart.configure_mesh().x_desc("seconds").y_desc("one-way delay, ms").draw()?;
    let colours = [RGBColor(0, 114, 178), RGBColor(213, 94, 0), RGBColor(0, 158, 115), RGBColor(204, 121, 167)];
    for (i, (name, s)) in series.iter().enumerate() {
        let colour = colours[i % colours.len()];
        chart
            .draw_series(s.iter().map(|p| Circle::new(*p, 2, colour.filled())))?
            .label(*name)
            .legend(move |(x, y)| Circle::new((x, y), 4, colour.filled()));
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    root.present()?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

struct Rig {
    sfu: Sfu,
    publisher: Publisher,
    watcher: Client,
    epoch: Instant,
    gap: Duration,
    offer: String,
    hostile: String,
    buf: Vec<u8>,
    /// (seconds since `epoch`, delay in ms) of every packet, by phase.
    series: Vec<(&'static str, Vec<(f64, f64)>)>,
}

impl Rig {
    /// Streams for `secs` (and lets the tail arrive) while `kind` floods.
    fn phase(&mut self, kind: Flood, secs: f64) -> serde_json::Value {
        let stop = Arc::new(AtomicBool::new(false));
        let flooder = {
            let (sfu, offer, hostile, stop) =
                (self.sfu.clone(), self.offer.clone(), self.hostile.clone(), stop.clone());
            std::thread::spawn(move || flood(sfu, kind, offer, hostile, stop))
        };
        let first = self.publisher.frame;
        let received_before = self.watcher.arrivals.as_ref().map_or(0, Vec::len);
        let start = Instant::now();
        let mut next_send = start;
        while start.elapsed().as_secs_f64() < secs {
            if Instant::now() >= next_send {
                self.publisher.send(self.epoch, false);
                next_send += self.gap;
            }
            self.publisher.c.step(&mut self.buf);
            self.watcher.step(&mut self.buf);
            std::thread::sleep(Duration::from_micros(50));
        }
        let sent = self.publisher.frame - first;
        stop.store(true, Ordering::Relaxed);
        let outcomes = flooder.join().expect("flood thread");
        // Packets still in flight belong to this phase.
        let tail = Instant::now() + Duration::from_millis(500);
        while Instant::now() < tail {
            self.publisher.c.step(&mut self.buf);
            self.watcher.step(&mut self.buf);
            std::thread::sleep(Duration::from_micros(200));
        }
        let timed: Vec<(Instant, Duration)> = self.watcher.arrivals.as_deref().unwrap_or_default()[received_before..]
            .iter()
            .filter_map(|(at, p)| Some((*at, decode(self.epoch, *at, p)?)))
            .filter(|(_, (frame, _))| *frame >= first)
            .map(|(at, (_, d))| (at, d))
            .collect();
        self.series.push((
            kind.name(),
            timed.iter().map(|(at, d)| (at.duration_since(self.epoch).as_secs_f64(), d.as_secs_f64() * 1e3)).collect(),
        ));
        let mut delays: Vec<Duration> = timed.into_iter().map(|(_, d)| d).collect();
        delays.sort();
        let calls = outcomes.ok + outcomes.busy + outcomes.too_many_candidates + outcomes.other;
        let result = serde_json::json!({
            "phase": kind.name(),
            "seconds": secs,
            "frames_sent": sent,
            "frames_received": delays.len(),
            "delivery_ratio": delays.len() as f64 / sent.max(1) as f64,
            "delay_ms": {
                "p50": percentile(&delays, 0.50),
                "p99": percentile(&delays, 0.99),
                "p999": percentile(&delays, 0.999),
                "max": delays.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
            },
            "flood_calls": {
                "total": calls,
                "per_second": calls as f64 / secs,
                "ok": outcomes.ok,
                "busy": outcomes.busy,
                "too_many_candidates": outcomes.too_many_candidates,
                "other": outcomes.other,
            },
        });
        eprintln!("{result}");
        result
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "signalling_flood.json".into());
    let (mut secs, mut pps) = (5.0f64, 100u32);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => secs = args.next().and_then(|v| v.parse().ok()).unwrap_or(secs),
            "--pps" => pps = args.next().and_then(|v| v.parse().ok()).unwrap_or(pps),
            other => eprintln!("ignoring {other}"),
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cfg = SfuConfig::new("127.0.0.1:0".parse().expect("addr"));
    let (queue, per_turn) = (cfg.command_queue, cfg.commands_per_turn);
    let (sfu, join) = Sfu::start(cfg).expect("sfu");
    let mut buf = vec![0u8; 2000];

    let mut c = Client::new();
    let (offer, pending) = c.offer(Direction::SendOnly, 1);
    let answer = rt.block_on(sfu.publish(student("watched"), offer, PublishOptions::default())).expect("publish");
    c.accept(pending, &answer);
    let pt = c.rtc.codec_config().params().iter().find(|p| p.spec().codec == Codec::Vp8).expect("vp8").pt();
    let publisher = Publisher { c, pt, seq: 1, ts: 0, pid: 0, seen_requests: 0, frame: 0 };
    let mut watcher = Client::new();
    watcher.arrivals = Some(Vec::new());
    let (offer, pending) = watcher.offer(Direction::RecvOnly, 1);
    let (answer, _) = rt.block_on(sfu.subscribe(sub_id("proctor"), offer)).expect("subscribe");
    watcher.accept(pending, &answer);
    // The flooders' own peers: one to trickle candidates to, one offer to repeat.
    let (flood_offer, _) = Client::new().offer(Direction::SendOnly, 1);
    rt.block_on(sfu.publish(student("flooder"), flood_offer.clone(), PublishOptions::default()))
        .expect("flooder publishes");
    let hostile = hostile_offer(&flood_offer, cfg_limit_bytes());
    let started = Instant::now();
    rt.block_on(sfu.publish(student("hostile"), hostile.clone(), PublishOptions::default()))
        .expect("the hostile offer passes the screen");
    let hostile_offer_ms = started.elapsed().as_secs_f64() * 1e3;

    let mut rig = Rig {
        sfu: sfu.clone(),
        publisher,
        watcher,
        epoch: Instant::now(),
        gap: Duration::from_secs_f64(1.0 / pps as f64),
        offer: flood_offer,
        hostile,
        buf: Vec::new(),
        series: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(rig.publisher.c.connected && rig.watcher.connected) && Instant::now() < deadline {
        rig.publisher.c.step(&mut buf);
        rig.watcher.step(&mut buf);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(rig.publisher.c.connected && rig.watcher.connected, "peers connect");
    rt.block_on(sfu.watch(sub_id("proctor"), 0, student("watched"), WatchQuality::Full)).expect("watch");
    rig.buf = buf;
    // Warm-up: the first keyframe through, then measure.
    rig.publisher.send(rig.epoch, true);
    rig.phase(Flood::None, 1.0);
    rig.series.clear();

    let phases: Vec<serde_json::Value> = [Flood::None, Flood::Candidates, Flood::Publishes, Flood::HostileOffers]
        .into_iter()
        .map(|k| rig.phase(k, secs))
        .collect();
    let added = |i: usize, q: &str| {
        phases[i]["delay_ms"][q].as_f64().unwrap_or(f64::NAN) - phases[0]["delay_ms"][q].as_f64().unwrap_or(f64::NAN)
    };
    let doc = serde_json::json!({
        "benchmark": "vigil-sfu signalling_flood",
        "pps": pps,
        "command_queue": queue,
        "commands_per_turn": per_turn,
        "hostile_offer": { "bytes": rig.hostile.len(), "first_answer_ms": hostile_offer_ms },
        "phases": phases,
        "added_delay_ms": {
            "candidate_flood": { "p50": added(1, "p50"), "p99": added(1, "p99"), "max": added(1, "max") },
            "publish_flood": { "p50": added(2, "p50"), "p99": added(2, "p99"), "max": added(2, "max") },
            "hostile_offer_flood": { "p50": added(3, "p50"), "p99": added(3, "p99"), "max": added(3, "max") },
        },
    });
    std::fs::write(&out, serde_json::to_string_pretty(&doc).expect("json")).expect("write output");
    let svg = std::path::Path::new(&out).with_extension("svg");
    if let Err(e) = plot(&svg, &rig.series) {
        eprintln!("plot {}: {e}", svg.display());
    }
    sfu.shutdown();
    let _ = join.join();
}
