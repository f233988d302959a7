//! The router's cost per packet on a fixed workload, with no sockets and no
//! clock: what `callgrind` counts the same way on a busy machine as on a
//! quiet one, so that each trim of the forwarding path can be measured on
//! its own.
//!
//! cargo build --release -p vigil-sfu --example router_cost
//! target/release/examples/router_cost OUT.json [--mode receive|one-to-one|fan-out]
//!     [--publishers N] [--rounds R] [--fan-out F]
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*router_cost*measured*' \
//!     target/release/examples/router_cost … (scripts/bench-sfu-cost does this for every mode)
//!
//! Str0m clients connect to a `Router` in memory on simulated time (as in
//! `tests/simulated.rs`). Every publisher's packets are then written and
//! encrypted up front, `R` rounds of one packet each, 20 ms apart (50
//! packets/s per publisher, a keyframe every 100). `measured` alone feeds
//! them to the router in batches of 32, as the driver does, runs its timers
//! as they fall due and takes every transmit: the work of the SFU thread
//! minus the system calls.
//!
//! Modes: `receive` (no proctor watches anyone), `one-to-one` (a proctor per
//! publisher, one slot each), `fan-out` (proctors with 16 slots; each group
//! of 16 publishers is watched by `F` proctors, default 4).

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use support::{publisher_id, sub_id};
use vigil_proto::events::WatchQuality;
use vigil_sfu::keyframe::vp8_test_payload;
use vigil_sfu::{PublishOptions, Router, RouterConfig};

const SLOTS: usize = 16;
const BATCH: usize = 32;
const GAP: Duration = Duration::from_millis(20);

struct Client {
    rtc: Rtc,
    addr: SocketAddr,
    timeout: Instant,
    connected: bool,
    out: Vec<Vec<u8>>,
    mid: Option<Mid>,
    rtp_in: u64,
}

impl Client {
    fn new(addr: SocketAddr, now: Instant) -> Client {
        let mut rtc = RtcConfig::new().set_rtp_mode(true).set_stats_interval(None).build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
        Client { rtc, addr, timeout: now, connected: false, out: Vec::new(), mid: None, rtp_in: 0 }
    }

    fn drain(&mut self) {
        while let Ok(o) = self.rtc.poll_output() {
            match o {
                Output::Timeout(t) => {
                    self.timeout = t;
                    return;
                }
                Output::Transmit(t) => self.out.push(t.contents.into()),
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::RtpPacket(_)) => self.rtp_in += 1,
                Output::Event(_) => {}
            }
        }
    }

    fn offer(&mut self, dir: Direction, sections: usize) -> (String, str0m::change::SdpPendingOffer) {
        let (first, offer, pending) = support::video_offer(&mut self.rtc, dir, sections);
        self.mid.get_or_insert(first);
        (offer, pending)
    }
}

struct World {
    now: Instant,
    sfu: SocketAddr,
    router: Router,
    clients: Vec<Client>,
    by_addr: HashMap<SocketAddr, usize>,
}

impl World {
    fn add(&mut self, c: Client) -> usize {
        self.by_addr.insert(c.addr, self.clients.len());
        self.clients.push(c);
        self.clients.len() - 1
    }

    /// Delivers everything in flight both ways, then moves time to the next
    /// deadline (at most `until`).
    fn step(&mut self, until: Instant) {
        let mut moved = true;
        while moved {
            moved = false;
            while let Some(t) = self.router.poll_transmit() {
                moved = true;
                if let Some(&i) = self.by_addr.get(&t.destination) {
                    let c = &mut self.clients[i];
                    if let Ok(r) = Receive::new(Protocol::Udp, self.sfu, c.addr, &t.contents) {
                        let _ = c.rtc.handle_input(Input::Receive(self.now, r));
                        c.drain();
                    }
                }
            }
            for i in 0..self.clients.len() {
                let out = std::mem::take(&mut self.clients[i].out);
                for d in out {
                    moved = true;
                    self.router.handle_datagram(self.now, self.clients[i].addr, &d);
                }
            }
            while self.router.poll_event().is_some() {}
        }
        let next = self.clients.iter().map(|c| c.timeout).chain([self.router.poll_timeout(), until]).min();
        let next = next.unwrap_or(until);
        self.now = if next <= self.now { self.now + Duration::from_millis(1) } else { next };
        if self.router.poll_timeout() <= self.now {
            self.router.handle_timeout(self.now);
        }
        for c in &mut self.clients {
            if c.timeout <= self.now {
                let _ = c.rtc.handle_input(Input::Timeout(self.now));
                c.drain();
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step(end);
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Receive,
    OneToOne,
    FanOut,
}

struct Workload {
    world: World,
    /// Publisher client indices.
    pubs: Vec<usize>,
    pts: Vec<Pt>,
    /// Subscriber client indices.
    subs: Vec<usize>,
    /// How many slots receive each publisher's packets.
    fan_out: usize,
}

fn address(i: usize) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 1000))
}

fn build(mode: Mode, publishers: usize, fan_out: usize) -> Workload {
    let start = Instant::now();
    let sfu: SocketAddr = "10.255.0.1:5000".parse().expect("addr");
    let router = Router::new(RouterConfig::new(sfu), start, SystemTime::now());
    let mut world = World { now: start, sfu, router, clients: Vec::new(), by_addr: HashMap::new() };
    let mut pubs = Vec::new();
    for i in 0..publishers {
        let mut c = Client::new(address(1 + i), start);
        let (offer, pending) = c.offer(Direction::SendOnly, 1);
        let answer = world.router.publish(start, publisher_id(i), &offer, PublishOptions::default()).expect("publish");
        c.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("answer")).expect("accept");
        c.drain();
        pubs.push(world.add(c));
    }
    // (subscriber, slot, publisher) bindings.
    let mut bindings = Vec::new();
    let mut subs = Vec::new();
    let (proctors, slots) = match mode {
        Mode::Receive => (0, 0),
        Mode::OneToOne => (publishers, 1),
        Mode::FanOut => (publishers.div_ceil(SLOTS) * fan_out, SLOTS),
    };
    for k in 0..proctors {
        let mut c = Client::new(address(50_000 + k), start);
        let (offer, pending) = c.offer(Direction::RecvOnly, slots);
        let sid = sub_id(format!("p{k}"));
        let (answer, _) = world.router.subscribe(start, sid.clone(), &offer).expect("subscribe");
        c.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("answer")).expect("accept");
        c.drain();
        subs.push(world.add(c));
        match mode {
            Mode::OneToOne => bindings.push((sid, 0, k)),
            _ => {
                let group = k / fan_out;
                for s in 0..slots {
                    let p = group * SLOTS + s;
                    if p < publishers {
                        bindings.push((sid.clone(), s as u32, p));
                    }
                }
            }
        }
    }
    for _ in 0..20_000 {
        if world.clients.iter().all(|c| c.connected) {
            break;
        }
        let until = world.now + Duration::from_millis(50);
        world.step(until);
    }
    assert!(world.clients.iter().all(|c| c.connected), "every client connects on simulated time");
    for (sid, slot, p) in bindings {
        world.router.watch(world.now, &sid, slot, publisher_id(p), WatchQuality::Full).expect("watch");
    }
    let pts = pubs
        .iter()
        .map(|&i| {
            let c = &world.clients[i];
            c.rtc.codec_config().params().iter().find(|p| p.spec().codec == Codec::Vp8).expect("vp8").pt()
        })
        .collect();
    let fan_out = match mode {
        Mode::Receive => 0,
        Mode::OneToOne => 1,
        Mode::FanOut => fan_out,
    };
    Workload { world, pubs, pts, subs, fan_out }
}

/// One round: every publisher writes one packet at `now`.
fn write_round(w: &mut Workload, round: u64, now: Instant) {
    let body = vec![0x5au8; 1000];
    for (n, &i) in w.pubs.iter().enumerate() {
        let c = &mut w.world.clients[i];
        let mid = c.mid.expect("mid");
        let payload = vp8_test_payload(round as u16 & 0x7fff, true, round.is_multiple_of(100), &body);
        if let Some(tx) = c.rtc.direct_api().stream_tx_by_mid(mid, None) {
            let ts = (round as u32).wrapping_mul(1800);
            tx.write_rtp(RtpWrite::new(w.pts[n], (1 + round).into(), ts, now, payload).marker(true).nackable(true));
        }
        let _ = c.rtc.handle_input(Input::Timeout(now));
        c.drain();
    }
}

/// The datagrams of one round, by sender.
type Round = (Instant, Vec<(SocketAddr, Vec<u8>)>);

/// Everything the router does with `rounds`, and nothing else: this is the
/// function callgrind counts. Returns (datagrams in, datagrams out).
#[inline(never)]
fn measured(router: &mut Router, rounds: &[Round]) -> (u64, u64) {
    let (mut n_in, mut n_out) = (0, 0);
    for (now, datagrams) in rounds {
        let now = *now;
        if router.poll_timeout() <= now {
            router.handle_timeout(now);
        }
        for batch in datagrams.chunks(BATCH) {
            for (src, d) in batch {
                router.handle_datagram_deferred(now, *src, d);
                n_in += 1;
            }
            router.flush(now);
            while let Some(t) = router.poll_transmit() {
                std::hint::black_box(&t);
                n_out += 1;
            }
            // As the driver does once per loop turn.
            router.flush_metrics();
        }
        while router.poll_event().is_some() {}
    }
    (n_in, n_out)
}

/// CPU time of the calling thread.
#[allow(unsafe_code)] // clock_gettime has no safe wrapper in std or libc
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec owned here; the call writes
    // only into it, and CLOCK_THREAD_CPUTIME_ID is always supported on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "router_cost.json".into());
    let (mut mode, mut publishers, mut rounds, mut fan_out) = (Mode::OneToOne, 64usize, 150u64, 4usize);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match a.as_str() {
            "--mode" => {
                mode = match value().as_str() {
                    "receive" => Mode::Receive,
                    "one-to-one" => Mode::OneToOne,
                    "fan-out" => Mode::FanOut,
                    m => panic!("unknown mode {m}: receive, one-to-one or fan-out"),
                }
            }
            "--publishers" => publishers = value().parse().expect("--publishers N"),
            "--rounds" => rounds = value().parse().expect("--rounds R"),
            "--fan-out" => fan_out = value().parse().expect("--fan-out F"),
            other => panic!("unknown argument {other}"),
        }
    }
    // The production recorder, so that metric updates cost what they cost
    // in vigil (without one, every counter is a no-op).
    let _metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().expect("recorder");
    let mut w = build(mode, publishers, fan_out);
    // One keyframe each and a little time, so every slot shows its source.
    let t = w.world.now;
    write_round(&mut w, 0, t);
    w.world.run_for(Duration::from_millis(200));
    let shown: u64 = w.subs.iter().map(|&i| w.world.clients[i].rtp_in).sum();
    assert_eq!(shown as usize, publishers * w.fan_out, "every slot shows its student before measuring");

    let t0 = w.world.now;
    let mut pregen: Vec<Round> = Vec::with_capacity(rounds as usize);
    for r in 1..=rounds {
        let now = t0 + GAP * r as u32;
        write_round(&mut w, r, now);
        let mut datagrams = Vec::new();
        for &i in &w.pubs {
            let c = &mut w.world.clients[i];
            datagrams.extend(c.out.drain(..).map(|d| (c.addr, d)));
        }
        pregen.push((now, datagrams));
    }
    let cpu0 = thread_cpu();
    let (n_in, n_out) = measured(&mut w.world.router, &pregen);
    let cpu = thread_cpu() - cpu0;
    let expected_out = publishers as u64 * rounds * w.fan_out as u64;
    let ops = n_in + n_out;
    let doc = serde_json::json!({
        "benchmark": "vigil-sfu router_cost",
        "mode": match mode { Mode::Receive => "receive", Mode::OneToOne => "one-to-one", Mode::FanOut => "fan-out" },
        "publishers": publishers,
        "subscribers": w.subs.len(),
        "fan_out": w.fan_out,
        "rounds": rounds,
        "datagrams_in": n_in,
        "datagrams_out": n_out,
        "rtp_out_expected": expected_out,
        "packet_operations": ops,
        "cpu_seconds": cpu.as_secs_f64(),
        "ns_per_operation": cpu.as_nanos() as f64 / ops.max(1) as f64,
        "operations_per_core_second": ops as f64 / cpu.as_secs_f64().max(1e-9),
    });
    eprintln!("{doc}");
    assert!(n_out >= expected_out, "every packet reached every slot: {n_out} of {expected_out}");
    std::fs::write(&out, serde_json::to_string_pretty(&doc).expect("json")).expect("write output");
}
