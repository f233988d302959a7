//! Forwarding benchmark: N synthetic VP8 publishers (str0m clients), each
//! watched by its own proctor connection, against one `Sfu` on loopback.
//!
//! cargo run --release --example forward_bench -- OUT.json [N ...] [--secs S] [--pps P] [--bwe]
//!     [--watched-share F]
//!
//! Reports forwarded packets/s and the SFU thread's CPU time (from
//! /proc/self/task/<tid>/stat), hence forwarded packets per CPU-second.
//! `--watched-share F` (default 1) watches only the first F×N publishers,
//! as in an exam where proctors look at a few students: the rest is
//! ingress-only load, reported as `ingress_pps_per_sfu_core`.

mod support;

use std::time::{Duration, Instant};

use str0m::Input;
use str0m::format::Codec;
use str0m::media::{Direction, Pt};
use str0m::rtp::RtpWrite;
use support::{Client, publisher_id, sfu_thread_cpu, sub_id};
use vigil_proto::events::WatchQuality;
use vigil_sfu::keyframe::vp8_test_payload;
use vigil_sfu::{PublishOptions, Sfu, SfuConfig};

struct Pub {
    c: Client,
    pt: Pt,
    seq: u64,
    ts: u32,
    pid: u16,
    seen_requests: u64,
    sent: u64,
    next_send: Instant,
}

impl Pub {
    fn send(&mut self, now: Instant, body: &[u8], key: bool) {
        let key = key || self.c.key_requests > self.seen_requests;
        self.seen_requests = self.c.key_requests;
        let payload = vp8_test_payload(self.pid, true, key, body);
        let Some(mid) = self.c.mid else { return };
        let mut api = self.c.rtc.direct_api();
        if let Some(tx) = api.stream_tx_by_mid(mid, None) {
            tx.write_rtp(RtpWrite::new(self.pt, self.seq.into(), self.ts, now, payload).marker(true).nackable(true));
            self.sent += 1;
        }
        self.seq += 1;
        self.ts = self.ts.wrapping_add(3000);
        self.pid = (self.pid + 1) & 0x7fff;
        let _ = self.c.rtc.handle_input(Input::Timeout(now));
        self.c.drain();
    }
}

fn run_step(
    rt: &tokio::runtime::Runtime,
    n: usize,
    secs: u64,
    pps: u32,
    bwe: bool,
    watched_share: f64,
) -> serde_json::Value {
    let watched = ((n as f64 * watched_share).round() as usize).min(n);
    let mut cfg = SfuConfig::new("127.0.0.1:0".parse().expect("addr"));
    if bwe {
        cfg.bwe_initial_bps = Some(1_500_000);
    }
    cfg.max_slots = 1;
    let (sfu, join) = Sfu::start(cfg).expect("sfu");
    let mut pubs = Vec::with_capacity(n);
    let mut subs = Vec::with_capacity(n);
    let setup = Instant::now();
    let mut buf = vec![0u8; 2000];
    for i in 0..n {
        let mut c = Client::new();
        let (offer, pending) = c.offer(Direction::SendOnly, 1);
        let id = publisher_id(i);
        let answer = rt.block_on(sfu.publish(id, offer, PublishOptions::default())).expect("publish");
        c.accept(pending, &answer);
        let pt = c.rtc.codec_config().params().iter().find(|p| p.spec().codec == Codec::Vp8).expect("vp8").pt();
        pubs.push(Pub { c, pt, seq: 1, ts: 0, pid: 0, seen_requests: 0, sent: 0, next_send: Instant::now() });
        let mut w = Client::new();
        let (offer, pending) = w.offer(Direction::RecvOnly, 1);
        let (answer, _) = rt.block_on(sfu.subscribe(sub_id(format!("p{i}")), offer)).expect("subscribe");
        w.accept(pending, &answer);
        subs.push(w);
        // Keep handshakes moving while the rest are being set up.
        for c in pubs.iter_mut().map(|p| &mut p.c).chain(subs.iter_mut()) {
            c.step(&mut buf);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        for c in pubs.iter_mut().map(|p| &mut p.c).chain(subs.iter_mut()) {
            c.step(&mut buf);
        }
        if pubs.iter().all(|p| p.c.connected) && subs.iter().all(|s| s.connected) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let connected = pubs.iter().filter(|p| p.c.connected).count() + subs.iter().filter(|s| s.connected).count();
    for i in 0..watched {
        let id = publisher_id(i);
        let _ = rt.block_on(sfu.watch(sub_id(format!("p{i}")), 0, id, WatchQuality::Full));
    }
    let setup_secs = setup.elapsed().as_secs_f64();
    let body = vec![0x5au8; 1000];
    let gap = Duration::from_secs_f64(1.0 / pps as f64);
    // Warm-up: one keyframe each, then measure from a clean baseline.
    let now = Instant::now();
    for (i, p) in pubs.iter_mut().enumerate() {
        p.send(now, &body, true);
        p.next_send = now + gap.mul_f64(i as f64 / n as f64);
    }
    let warm = Instant::now() + Duration::from_millis(500);
    while Instant::now() < warm {
        for c in pubs.iter_mut().map(|p| &mut p.c).chain(subs.iter_mut()) {
            c.step(&mut buf);
        }
    }
    let sent0: u64 = pubs.iter().map(|p| p.sent).sum();
    let fwd0: u64 = subs.iter().map(|s| s.rtp_in).sum();
    let cpu0 = sfu_thread_cpu().unwrap_or(0.0);
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(secs);
    while Instant::now() < end {
        let now = Instant::now();
        for p in pubs.iter_mut() {
            if now >= p.next_send {
                // A keyframe every ~2 s per publisher, as encoders do.
                let key = p.seq % (2 * pps as u64) == 0;
                p.send(now, &body, key);
                p.next_send += gap;
            }
        }
        for c in pubs.iter_mut().map(|p| &mut p.c).chain(subs.iter_mut()) {
            c.step(&mut buf);
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = sfu_thread_cpu().unwrap_or(0.0) - cpu0;
    let sent: u64 = pubs.iter().map(|p| p.sent).sum::<u64>() - sent0;
    // Let the tail drain before counting.
    let tail = Instant::now() + Duration::from_millis(300);
    while Instant::now() < tail {
        for c in subs.iter_mut() {
            c.step(&mut buf);
        }
    }
    let fwd: u64 = subs.iter().map(|s| s.rtp_in).sum::<u64>() - fwd0;
    sfu.shutdown();
    let _ = join.join();
    let fwd_pps = fwd as f64 / wall;
    serde_json::json!({
        "publishers": n,
        "bwe": bwe,
        "watchers": n,
        "watched_publishers": watched,
        "connected_peers": connected,
        "setup_seconds": setup_secs,
        "seconds": wall,
        "target_pps_per_publisher": pps,
        "packets_sent": sent,
        "packets_forwarded": fwd,
        "forwarded_pps": fwd_pps,
        "sfu_cpu_seconds": cpu,
        "sfu_cpu_utilisation": cpu / wall,
        "forwarded_pps_per_sfu_core": if cpu > 0.0 { fwd as f64 / cpu } else { 0.0 },
        "ingress_pps_per_sfu_core": if cpu > 0.0 { sent as f64 / cpu } else { 0.0 },
        // Of what was sent by watched publishers (all sent when every one is watched).
        "delivery_ratio": if sent > 0 && watched > 0 {
            fwd as f64 / (sent as f64 * watched as f64 / n as f64)
        } else {
            0.0
        },
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "forward_bench.json".into());
    let mut sizes = Vec::new();
    let mut secs = 10;
    let mut pps = 50;
    let mut bwe = false;
    let mut watched_share = 1.0;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => secs = args.next().and_then(|v| v.parse().ok()).unwrap_or(secs),
            "--bwe" => bwe = true,
            "--watched-share" => watched_share = args.next().and_then(|v| v.parse().ok()).unwrap_or(watched_share),
            "--pps" => pps = args.next().and_then(|v| v.parse().ok()).unwrap_or(pps),
            n => sizes.extend(n.parse::<usize>().ok()),
        }
    }
    if sizes.is_empty() {
        sizes = vec![100, 500];
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut steps = Vec::new();
    for n in sizes {
        let r = run_step(&rt, n, secs, pps, bwe, watched_share);
        eprintln!("{r}");
        steps.push(r);
    }
    let doc = serde_json::json!({ "benchmark": "vigil-sfu forward_bench", "steps": steps });
    std::fs::write(&out, serde_json::to_string_pretty(&doc).expect("json")).expect("write output");
}
