//! The SFU thread at saturation: packet operations (received plus sent) per
//! SFU core-second, with the SFU thread pinned to one CPU and a
//! multi-threaded generator on the others.
//!
//! cargo run --release -p vigil-sfu --example sfu_saturate -- OUT.json
//!     [--mode receive|one-to-one|fan-out] [--publishers N] [--rates R1,R2,…]
//!     [--secs S] [--generators G] [--fan-out F] [--sfu-cpu C] [--workers W]
//!
//! Writes OUT.json and OUT.svg. Each step offers `R` packets/s in all from
//! the publishers for `S` seconds. Why the generator can outrun the SFU:
//! every publisher's packets for a step are written and SRTP-encrypted
//! through its own str0m `Rtc` before the step starts, so during the step a
//! generator thread only paces and sends ready datagrams; subscribers'
//! sockets count arriving RTP without decrypting it (STUN, RTCP and DTLS
//! still go to their `Rtc`, which keeps every connection alive). The SFU's
//! own counters (`vigil_sfu_rtp_{in,out}_packets_total`, read from the
//! production Prometheus recorder) give the operations, and
//! `/proc/self/task/<tid>/stat` the SFU thread's CPU time.
//!
//! With `--workers W`, the SFU runs W workers, worker i pinned to CPU
//! C + i, and the publishers are spread over W exams (16 at a time, so a
//! fan-out group stays in one exam): each exam lands on its own worker.
//! The generator runs on the CPUs no worker has, or shares them all when
//! none is left (reported as `generator_shares_sfu_cpus`).
//!
//! Modes as in `router_cost`: `receive` (nobody watched), `one-to-one` (a
//! proctor per publisher, one slot), `fan-out` (proctors with 16 slots, each
//! group of 16 publishers watched by `F` proctors, default 4).

mod support;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use str0m::Input;
use str0m::format::Codec;
use str0m::media::{Direction, Pt};
use str0m::rtp::RtpWrite;
use support::{Client, Datagram, is_rtp, pin, process_cpu, thread_cpu, thread_id};
use vigil_proto::events::WatchQuality;
use vigil_sfu::keyframe::vp8_test_payload;
use vigil_sfu::{PublishOptions, PublisherId, SubscriberId};
use vigil_sfu::{Sfu, SfuConfig};

const SLOTS: usize = 16;
/// How often a generator thread reads its sockets, and runs its clients' timers.
const READ_EVERY: Duration = Duration::from_millis(2);
const TIMERS_EVERY: Duration = Duration::from_millis(20);

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Receive,
    OneToOne,
    FanOut,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Receive => "receive",
            Mode::OneToOne => "one-to-one",
            Mode::FanOut => "fan-out",
        }
    }
}

struct Publisher {
    c: Client,
    pt: Pt,
    seq: u64,
    /// The SFU worker's socket.
    to: SocketAddr,
    /// This step's packets, encrypted, in order.
    ready: VecDeque<Vec<u8>>,
}

/// One generator thread's share of the clients.
#[derive(Default)]
struct Share {
    pubs: Vec<Publisher>,
    subs: Vec<Client>,
    sent: u64,
    delivered: u64,
}

impl Share {
    /// Writes and encrypts `per_publisher` packets for each publisher; what
    /// is not RTP (a sender report, say) is sent at once.
    fn prepare(&mut self, per_publisher: usize) {
        let body = vec![0x5au8; 1000];
        let now = Instant::now();
        for p in &mut self.pubs {
            let mid = p.c.mid.expect("mid");
            for _ in 0..per_publisher {
                // A keyframe every 100 packets, as an encoder would every 2 s or so.
                let key = p.seq.is_multiple_of(100);
                let payload = vp8_test_payload(p.seq as u16 & 0x7fff, true, key, &body);
                if let Some(tx) = p.c.rtc.direct_api().stream_tx_by_mid(mid, None) {
                    let ts = (p.seq as u32).wrapping_mul(1800);
                    tx.write_rtp(RtpWrite::new(p.pt, p.seq.into(), ts, now, payload).marker(true).nackable(true));
                }
                p.seq += 1;
                let _ = p.c.rtc.handle_input(Input::Timeout(now));
                let ready = &mut p.ready;
                p.c.drain_with(|sock, Datagram(to, bytes)| {
                    if is_rtp(&bytes) {
                        ready.push_back(bytes);
                    } else {
                        let _ = sock.send_to(&bytes, to);
                    }
                });
            }
        }
    }

    /// Sends the prepared packets at `rate` packets/s from `start`,
    /// round-robin over the publishers, until they run out or `end`.
    fn run(&mut self, rate: f64, start: Instant, end: Instant) {
        let mut buf = vec![0u8; 2048];
        let mut sent_here = 0u64;
        let (mut next_read, mut next_timers) = (start, start);
        let mut turn = 0usize;
        loop {
            let now = Instant::now();
            if now >= end {
                break;
            }
            let due = (now.saturating_duration_since(start).as_secs_f64() * rate) as u64;
            let mut idle = 0;
            while sent_here < due && idle < self.pubs.len() {
                let n = self.pubs.len();
                let p = &mut self.pubs[turn % n];
                turn += 1;
                match p.ready.pop_front() {
                    Some(d) => {
                        let _ = p.c.sock.send_to(&d, p.to);
                        sent_here += 1;
                        idle = 0;
                    }
                    None => idle += 1,
                }
            }
            if now >= next_read {
                next_read = now + READ_EVERY;
                self.read(&mut buf);
            }
            if now >= next_timers {
                next_timers = now + TIMERS_EVERY;
                for c in self.pubs.iter_mut().map(|p| &mut p.c).chain(self.subs.iter_mut()) {
                    c.run_timers(now);
                }
            }
            if idle >= self.pubs.len() && self.pubs.iter().all(|p| p.ready.is_empty()) {
                // Everything sent: keep the connections alive until `end`.
                std::thread::sleep(READ_EVERY);
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        self.sent += sent_here;
        for p in &mut self.pubs {
            p.ready.clear();
        }
    }

    /// Counts RTP arriving at subscribers; hands everything else (STUN,
    /// RTCP, DTLS) to the client it is for.
    fn read(&mut self, buf: &mut [u8]) {
        for c in &mut self.subs {
            while let Ok((n, src)) = c.sock.recv_from(buf) {
                if is_rtp(&buf[..n]) {
                    self.delivered += 1;
                } else {
                    c.receive(src, &buf[..n]);
                }
            }
        }
        for p in &mut self.pubs {
            while let Ok((n, src)) = p.c.sock.recv_from(buf) {
                p.c.receive(src, &buf[..n]);
            }
        }
    }
}

/// `vigil_sfu_rtp_{in,out}_packets_total` from the Prometheus text.
fn sfu_counters(text: &str) -> (u64, u64) {
    let read = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok()).unwrap_or(0.0)
            as u64
    };
    (read("vigil_sfu_rtp_in_packets_total"), read("vigil_sfu_rtp_out_packets_total"))
}

struct Args {
    out: String,
    mode: Mode,
    publishers: usize,
    rates: Vec<u64>,
    secs: f64,
    generators: usize,
    fan_out: usize,
    sfu_cpu: usize,
    workers: usize,
}

fn args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        out: it.next().unwrap_or_else(|| "sfu_saturate.json".into()),
        mode: Mode::OneToOne,
        publishers: 100,
        rates: vec![5_000, 10_000, 15_000, 20_000, 25_000, 30_000],
        secs: 5.0,
        generators: 2,
        fan_out: 4,
        sfu_cpu: 0,
        workers: 1,
    };
    while let Some(k) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match k.as_str() {
            "--mode" => {
                a.mode = match value().as_str() {
                    "receive" => Mode::Receive,
                    "one-to-one" => Mode::OneToOne,
                    "fan-out" => Mode::FanOut,
                    m => panic!("unknown mode {m}: receive, one-to-one or fan-out"),
                }
            }
            "--publishers" => a.publishers = value().parse().expect("--publishers N"),
            "--rates" => a.rates = value().split(',').map(|r| r.parse().expect("--rates R1,R2,…")).collect(),
            "--secs" => a.secs = value().parse().expect("--secs S"),
            "--generators" => a.generators = value().parse().expect("--generators G"),
            "--fan-out" => a.fan_out = value().parse().expect("--fan-out F"),
            "--sfu-cpu" => a.sfu_cpu = value().parse().expect("--sfu-cpu C"),
            "--workers" => a.workers = value().parse().expect("--workers W"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn main() {
    let a = args();
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().expect("recorder");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = a.workers.max(1);
    let sfu_cpus: Vec<usize> = (0..workers).map(|i| (a.sfu_cpu + i) % cpus).collect();
    let free: Vec<usize> = (0..cpus).filter(|c| !sfu_cpus.contains(c)).collect();
    let generator_shares_sfu_cpus = free.is_empty();
    let gen_cpus = if generator_shares_sfu_cpus { (0..cpus).collect() } else { free };
    // Threads inherit this: the generator and the SFU's offer thread keep
    // off the SFU's CPU; the SFU thread is moved onto it below.
    pin(0, &gen_cpus).expect("pin the main thread");
    let mut cfg = SfuConfig::new("127.0.0.1:0".parse().expect("addr"));
    cfg.max_slots = SLOTS;
    cfg.workers = workers;
    let (sfu, join) = Sfu::start(cfg).expect("sfu");
    // A spawned thread names itself once it runs: look until it has.
    let sfu_tids: Vec<i32> = (0..workers)
        .map(|i| {
            let name = format!("vigil-sfu-{i}");
            (0..1000)
                .find_map(|_| {
                    let tid = thread_id(&name);
                    if tid.is_none() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    tid
                })
                .expect("the SFU worker's thread")
        })
        .collect();
    for (tid, cpu) in sfu_tids.iter().zip(&sfu_cpus) {
        pin(*tid, &[*cpu]).expect("pin an SFU worker");
    }
    let sfu_cpu_now = || sfu_tids.iter().map(|t| thread_cpu(*t).unwrap_or(0.0)).collect::<Vec<f64>>();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    // Connect everyone, as forward_bench does, then hand them out to the generator threads.
    let mut pubs = Vec::new();
    for i in 0..a.publishers {
        let mut c = Client::new();
        let (offer, pending) = c.offer(Direction::SendOnly, 1);
        let answer =
            rt.block_on(sfu.publish(publisher(i, workers), offer, PublishOptions::default())).expect("publish");
        // The worker's address is the one in the answer's candidate.
        let to = sfu.local_addrs().into_iter().find(|a| answer.contains(&format!(" {} typ host", a.port())));
        c.accept(pending, &answer);
        let pt = c.rtc.codec_config().params().iter().find(|p| p.spec().codec == Codec::Vp8).expect("vp8").pt();
        // From 100: the first packet is a keyframe (see `prepare`), so every slot shows its student at once.
        pubs.push(Publisher { c, pt, seq: 100, ready: VecDeque::new(), to: to.expect("the answer names a worker") });
    }
    let (proctors, slots, fan_out) = match a.mode {
        Mode::Receive => (0, 0, 0),
        Mode::OneToOne => (a.publishers, 1, 1),
        Mode::FanOut => (a.publishers.div_ceil(SLOTS) * a.fan_out, SLOTS, a.fan_out),
    };
    let mut subs = Vec::new();
    let mut bindings = Vec::new();
    for k in 0..proctors {
        let mut c = Client::new();
        let (offer, pending) = c.offer(Direction::RecvOnly, slots);
        // A proctor watches publishers of one exam: its first one's.
        let first = if a.mode == Mode::OneToOne { k } else { (k / a.fan_out) * SLOTS };
        let sid = SubscriberId::new(publisher(first, workers).exam, format!("p{k}"));
        let (answer, _) = rt.block_on(sfu.subscribe(sid.clone(), offer)).expect("subscribe");
        c.accept(pending, &answer);
        subs.push(c);
        if a.mode == Mode::OneToOne {
            bindings.push((sid, 0u32, k));
        } else {
            let group = k / a.fan_out;
            for s in 0..slots {
                if group * SLOTS + s < a.publishers {
                    bindings.push((sid.clone(), s as u32, group * SLOTS + s));
                }
            }
        }
    }
    let mut buf = vec![0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !(pubs.iter().all(|p| p.c.connected) && subs.iter().all(|s| s.connected)) {
        for c in pubs.iter_mut().map(|p| &mut p.c).chain(subs.iter_mut()) {
            c.step(&mut buf);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(pubs.iter().all(|p| p.c.connected) && subs.iter().all(|s| s.connected), "every client connects");
    for (sid, slot, p) in bindings {
        rt.block_on(sfu.watch(sid, slot, publisher(p, workers), WatchQuality::Full)).expect("watch");
    }
    let mut shares: Vec<Share> = (0..a.generators.max(1)).map(|_| Share::default()).collect();
    let n_shares = shares.len();
    for (i, p) in pubs.into_iter().enumerate() {
        shares[i % n_shares].pubs.push(p);
    }
    for (i, s) in subs.into_iter().enumerate() {
        shares[i % n_shares].subs.push(s);
    }

    let mut steps = Vec::new();
    for &rate in &a.rates {
        let per_publisher = ((rate as f64 * a.secs) / a.publishers as f64).ceil() as usize;
        std::thread::scope(|s| {
            for share in shares.iter_mut() {
                s.spawn(|| share.prepare(per_publisher));
            }
        });
        let (sent0, delivered0): (u64, u64) = shares.iter().map(|s| (s.sent, s.delivered)).fold((0, 0), add);
        let (in0, out0) = sfu_counters(&recorder.render());
        let (sfu0, proc0) = (sfu_cpu_now(), process_cpu().unwrap_or(0.0));
        let start = Instant::now() + Duration::from_millis(20);
        let end = start + Duration::from_secs_f64(a.secs);
        let barrier = Barrier::new(n_shares);
        std::thread::scope(|s| {
            for share in shares.iter_mut() {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    share.run(rate as f64 / n_shares as f64, start, end);
                });
            }
        });
        let wall = start.elapsed().as_secs_f64();
        let sfu_run: Vec<f64> = sfu_cpu_now().iter().zip(&sfu0).map(|(b, a)| b - a).collect();
        // The tail: what is still queued in the SFU's socket, and the
        // counters' next flush.
        let tail_end = Instant::now() + Duration::from_millis(400);
        while Instant::now() < tail_end {
            for share in shares.iter_mut() {
                share.read(&mut buf);
            }
            std::thread::sleep(READ_EVERY);
        }
        let sfu_cpu: f64 = sfu_cpu_now().iter().zip(&sfu0).map(|(b, a)| b - a).sum();
        let generator_cpu = process_cpu().unwrap_or(0.0) - proc0 - sfu_cpu;
        let (in1, out1) = sfu_counters(&recorder.render());
        let (sent1, delivered1) = shares.iter().map(|s| (s.sent, s.delivered)).fold((0, 0), add);
        let (received, forwarded) = (in1 - in0, out1 - out0);
        let (sent, delivered) = (sent1 - sent0, delivered1 - delivered0);
        let ops = received + forwarded;
        let step = serde_json::json!({
            "offered_pps": rate,
            "seconds": wall,
            "sent": sent,
            "sfu_received": received,
            "sfu_forwarded": forwarded,
            "delivered": delivered,
            "received_share": received as f64 / sent.max(1) as f64,
            "delivered_share": if fan_out > 0 { delivered as f64 / (received.max(1) * fan_out as u64) as f64 } else { 0.0 },
            "sfu_cpu_seconds": sfu_cpu,
            // The busiest worker's share of its CPU, and each worker's.
            "sfu_utilisation": sfu_run.iter().fold(0.0f64, |m, c| m.max(*c)) / wall,
            "sfu_worker_utilisation": sfu_run.iter().map(|c| c / wall).collect::<Vec<f64>>(),
            "packet_operations_per_second": ops as f64 / wall,
            "generator_cpu_seconds": generator_cpu,
            "packet_operations_per_sfu_core_second": ops as f64 / sfu_cpu.max(1e-9),
            "received_per_sfu_core_second": received as f64 / sfu_cpu.max(1e-9),
        });
        eprintln!("{step}");
        steps.push(step);
    }
    sfu.shutdown();
    let _ = join.join();
    let saturated: Vec<&serde_json::Value> =
        steps.iter().filter(|s| s["sfu_utilisation"].as_f64().unwrap_or(0.0) >= 0.9).collect();
    let best = saturated
        .iter()
        .map(|s| s["packet_operations_per_sfu_core_second"].as_f64().unwrap_or(0.0))
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let doc = serde_json::json!({
        "benchmark": "vigil-sfu sfu_saturate",
        "mode": a.mode.name(),
        "publishers": a.publishers,
        "subscribers": proctors,
        "slots_per_subscriber": slots,
        "fan_out": fan_out,
        "generator_threads": n_shares,
        "cpus": cpus,
        "sfu_cpus": sfu_cpus,
        "workers": workers,
        "generator_shares_sfu_cpus": generator_shares_sfu_cpus,
        "steps": steps,
        // The steps with the SFU thread at 90% or more of its CPU.
        "saturated_steps": saturated.len(),
        "packet_operations_per_sfu_core_second_at_saturation": best,
    });
    std::fs::write(&a.out, serde_json::to_string_pretty(&doc).expect("json")).expect("write output");
    let svg = std::path::Path::new(&a.out).with_extension("svg");
    if let Err(e) = plot(&svg, a.mode.name(), &steps) {
        eprintln!("plot: {e}");
    }
}

/// Publisher `i`, in exam `bench<e>`: 16 consecutive publishers share an
/// exam, and the exams take turns over `exams`.
fn publisher(i: usize, exams: usize) -> PublisherId {
    let exam = format!("bench{}", (i / SLOTS) % exams);
    PublisherId::new(exam.parse().expect("exam id"), format!("s{i}").parse().expect("student id"))
}

fn add(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0 + b.0, a.1 + b.1)
}

/// Operations per SFU core-second and the SFU thread's utilisation, by offered rate.
fn plot(path: &std::path::Path, mode: &str, steps: &[serde_json::Value]) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let get = |s: &serde_json::Value, k: &str| s[k].as_f64().unwrap_or(0.0);
    let ops: Vec<(f64, f64)> = steps
        .iter()
        .map(|s| (get(s, "offered_pps") / 1e3, get(s, "packet_operations_per_sfu_core_second") / 1e3))
        .collect();
    let util: Vec<(f64, f64)> =
        steps.iter().map(|s| (get(s, "offered_pps") / 1e3, get(s, "sfu_utilisation") * 100.0)).collect();
    let x1 = ops.iter().map(|p| p.0).fold(1.0, f64::max) * 1.05;
    let y1 = ops.iter().map(|p| p.1).chain(util.iter().map(|p| p.1)).fold(100.0, f64::max) * 1.1;
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("SFU thread at saturation ({mode})"), ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x1, 0.0..y1)?;
    chart.configure_mesh().x_desc("offered, thousand packets/s").y_desc("k ops per SFU core-second / SFU %").draw()?;
    for (name, series, colour) in [
        ("packet operations per SFU core-second, thousands", &ops, RGBColor(0, 114, 178)),
        ("SFU thread utilisation, %", &util, RGBColor(213, 94, 0)),
    ] {
        chart
            .draw_series(LineSeries::new(series.iter().copied(), colour.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
        chart.draw_series(series.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    root.present()?;
    Ok(())
}
