//! Writes the committed seed corpus (`fuzz/seeds/<target>/`) and the stun
//! target's fixture offer (`fuzz/fixtures/publisher-offer.sdp`).
//!
//! From `fuzz/`: `cargo run -p vigil-fuzz-harness --example make_seeds`.
//! Files it does not name are left alone (crash inputs kept as regression
//! seeds, say). The fixture offer and the stun seeds, which are recorded
//! against it, are kept unless `-- --new-fixture` is given (or the fixture
//! is missing): a new fixture makes the stun corpus grown so far useless.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use vigil_fuzz_harness::TARGETS;
use vigil_fuzz_harness::evidence::{self, Window};
use vigil_fuzz_harness::incident::T0;
use vigil_fuzz_harness::sdp::{self, Op, Who};
use vigil_fuzz_harness::stun::{self, PUBLISHER_ADDR, Source, World};
use vigil_sfu::keyframe::vp8_test_payload;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = fuzz_dir().join("seeds").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
    // The stun target runs the fixtures compiled into the library, which
    // this run may just have replaced: tests/seeds.rs checks those seeds.
    if target != "stun" {
        let run = TARGETS.iter().find(|(t, _)| *t == target).unwrap().1;
        run(bytes);
    }
    println!("seeds/{target}/{name}: {} bytes", bytes.len());
}

fn fixture(name: &str) -> String {
    fs::read_to_string(fuzz_dir().join("fixtures").join(name)).unwrap()
}

// ------------------------------------------------------------------ incident

fn incident_seeds() {
    let t = |ms: i64| T0 + ms;
    let basic = format!(
        "now {now}\n\
         incident {{\"id\":\"nf-1\",\"seq\":1,\"kind\":\"no_face\",\"started_at\":{a},\"confidence\":0.93,\"detail\":\"no face for 3 s\"}}\n\
         advance 2500\n\
         incident_end {{\"id\":\"nf-1\",\"seq\":2,\"ended_at\":{b}}}\n\
         evidence nf-1 {c}\n\
         incident {{\"id\":\"tab-1\",\"seq\":3,\"kind\":\"tab_hidden\",\"started_at\":{d},\"ended_at\":{e}}}\n\
         server heartbeat_lost 1200\n\
         evidence tab-1 {e}\n",
        now = t(1_000),
        a = t(500),
        b = t(3_000),
        c = t(1_500),
        d = t(3_200),
        e = t(3_400),
    );
    write("incident", "basic.txt", basic.as_bytes());

    // Every refusal the ledger has, in one session.
    let mut s = format!("now {}\n", t(10_000));
    let r = |id: &str, seq: u64, kind: &str, at: i64| {
        format!("incident {{\"id\":\"{id}\",\"seq\":{seq},\"kind\":\"{kind}\",\"started_at\":{at}}}\n")
    };
    s += &r("a", 5, "looking_away", t(9_000));
    s += &r("a", 5, "looking_away", t(9_000)); // retry: duplicate
    s += &r("a", 6, "multiple_faces", t(9_000)); // same id, other payload: conflict
    s += &r("b", 5, "window_blur", t(9_100)); // sequence replayed
    s += &r("c", 200, "copy_paste", t(9_200));
    s += &r("d", 7, "second_screen", t(9_300)); // too old now
    s += &r("e", 201, "media_stalled", t(9_400)); // server-only kind
    s += &r("srv-x-1", 202, "no_face", t(9_500)); // reserved id
    s += &r("f", 203, "no_face", t(20_000)); // in the future
    s += &r("g", 204, "no_face", t(-5)); // before the window
    s += &r("h", 9_223_372_036_854_775_808, "no_face", t(9_600)); // seq past i64
    s += &format!("incident? {}", &r("i", 205, "fullscreen_exit", t(9_700))); // store failed
    s += &r("i", 205, "fullscreen_exit", t(9_700)); // retried, stored
    s += "incident_end {\"id\":\"zz\",\"seq\":206,\"ended_at\":1}\n";
    s += &format!("incident_end {{\"id\":\"i\",\"seq\":207,\"ended_at\":{}}}\n", t(9_600)); // before start
    s += &format!("incident_end {{\"id\":\"i\",\"seq\":208,\"ended_at\":{}}}\n", t(9_800));
    s += &format!("incident_end {{\"id\":\"i\",\"seq\":208,\"ended_at\":{}}}\n", t(9_800)); // duplicate
    s += &format!("incident_end {{\"id\":\"i\",\"seq\":209,\"ended_at\":{}}}\n", t(9_900)); // already ended
    s += "incident {\"id\":\"j\",\"seq\":210,\"kind\":\"no_face\",\"started_at\":1700000009000,\"confidence\":1.5}\n";
    s += &format!(
        "incident {{\"id\":\"k\",\"seq\":211,\"kind\":\"no_face\",\"started_at\":{},\"detail\":\"{}\"}}\n",
        t(1),
        "é".repeat(201)
    );
    s += "incident {\"id\":\"l\",\"seq\":212,\"kind\":\"no_such_kind\",\"started_at\":1700000009000}\n";
    s += "incident {\"id\":\"m n\",\"seq\":213,\"kind\":\"no_face\",\"started_at\":1700000009000}\n";
    s += "incident {\"id\":\"o\",\"seq\":214,\"kind\":\"no_face\",\"started_at\":1700000009000,\"future_field\":[1,{}]}\n";
    s += "incident {\"id\":\"p\",\"seq\":2.5,\"kind\":\"no_face\",\"started_at\":1700000009000}\n";
    s += "evidence srv-heartbeat_lost-1 1700000009000\nevidence zz 1\n";
    for i in 0..24 {
        s += &r(&format!("flood-{i}"), 300 + i, "tab_hidden", t(9_950)); // rate limited
    }
    s += "advance 60000\n";
    s += &r("after", 400, "camera_ended", t(69_000));
    write("incident", "refusals.txt", s.as_bytes());

    let settings = format!(
        "window {} {}\ndisable looking_away\nnow {}\n{}{}advance 600000\n{}",
        t(0),
        t(3_600_000),
        t(1_000),
        r("la", 1, "looking_away", t(500)),
        r("ws", 2, "worker_stalled", t(600)),
        r("late", 3, "inference_rate_low", t(601_000)),
    );
    write("incident", "settings.txt", settings.as_bytes());

    // An exam that is always open, as the admin API allows: times reach
    // far below zero.
    let always = format!(
        "window {} {}\nnow {}\n{}{}evidence w2 {}\n",
        i64::MIN,
        t(3_600_000),
        t(1_000),
        r("w1", 1, "no_face", t(500)),
        r("w2", 2, "tab_hidden", -8_000_000_000_000_000_000),
        -8_000_000_000_000_000_000i64,
    );
    write("incident", "always-open.txt", always.as_bytes());
}

// ------------------------------------------------------------------ evidence

fn jpeg(width: u16, height: u16, color: ColorType, tune: impl FnOnce(&mut Encoder<&mut Vec<u8>>)) -> Vec<u8> {
    let channels = match color {
        ColorType::Luma => 1,
        ColorType::Cmyk => 4,
        _ => 3,
    };
    let mut pixels = Vec::new();
    for y in 0..usize::from(height) {
        for x in 0..usize::from(width) {
            for c in 0..channels {
                pixels.push(((x * 4 + y * 2 + c * 85) % 256) as u8 ^ if (x / 8 + y / 8) % 2 == 0 { 0 } else { 0x40 });
            }
        }
    }
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, 80);
    tune(&mut enc);
    enc.encode(&pixels, width, height, color).unwrap();
    out
}

/// A WAV clip as the student page writes it (PCM 16-bit, one channel), with
/// an integer sawtooth so the bytes are the same on every platform.
fn wav(rate: u32, samples: u32) -> Vec<u8> {
    let data = samples * 2;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    for v in [16u32.to_le_bytes().to_vec(), 1u16.to_le_bytes().to_vec(), 1u16.to_le_bytes().to_vec()] {
        out.extend_from_slice(&v);
    }
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for i in 0..samples {
        let s = i32::try_from((i * 37) % 2000).unwrap() - 1000;
        out.extend_from_slice(&i16::try_from(s).unwrap().to_le_bytes());
    }
    out
}

fn evidence_seeds() {
    let w = Window {
        started_at: T0,
        ended_at: T0 + 3_000,
        open: false,
        captured_at: T0 + 1_000,
        now: T0 + 5_000,
        capture_slack_ms: 5_000,
        upload_deadline_ms: 30 * 60_000,
    };
    let open = Window { open: true, captured_at: T0 - 4_000, now: T0 + 60_000, ..w };
    let frame = fs::read(fuzz_dir().join("../testdata/frames/frame-a.jpg")).unwrap();
    let seeds: [(&str, Window, Vec<u8>); 6] = [
        ("clip-16k.bin", w, wav(16_000, 8_000)),
        ("frame-a.bin", w, frame),
        ("baseline-420.bin", open, jpeg(64, 64, ColorType::Rgb, |e| e.set_sampling_factor(SamplingFactor::R_4_2_0))),
        (
            "progressive-444.bin",
            w,
            jpeg(80, 64, ColorType::Rgb, |e| {
                e.set_progressive(true);
                e.set_sampling_factor(SamplingFactor::R_4_4_4);
            }),
        ),
        ("gray-restart.bin", open, jpeg(64, 72, ColorType::Luma, |e| e.set_restart_interval(2))),
        ("cmyk.bin", w, jpeg(64, 64, ColorType::Cmyk, |_| {})),
    ];
    for (name, w, body) in seeds {
        let mut bytes = evidence::prefix(&w);
        bytes.extend_from_slice(&body);
        write("evidence", name, &bytes);
    }
}

// ------------------------------------------------------------------ str0m clients

struct Client {
    rtc: Rtc,
    addr: SocketAddr,
    timeout: Instant,
    connected: bool,
    out: Vec<Vec<u8>>,
    mid: Option<Mid>,
}

impl Client {
    /// A client offering str0m's full codec list, or VP8 alone (a short
    /// offer: str0m's SDP parser is most of what a fuzz input costs).
    fn new(addr: &str, now: Instant, vp8_only: bool) -> Client {
        let addr = addr.parse().unwrap();
        let cfg = RtcConfig::new().set_rtp_mode(true);
        let cfg = if vp8_only { cfg.clear_codecs().enable_vp8(true) } else { cfg };
        let mut rtc = cfg.build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        Client { rtc, addr, timeout: now, connected: false, out: vec![], mid: None }
    }

    fn offer(&mut self, dir: Direction, video: usize, simulcast: bool) -> (String, SdpPendingOffer) {
        let mut api = self.rtc.sdp_api();
        for _ in 0..video {
            let sc = simulcast.then(|| {
                let mut sc = Simulcast::new();
                for rid in ["q", "h", "f"] {
                    sc.add_send_layer(SimulcastLayer::new(rid));
                }
                sc
            });
            self.mid = Some(api.add_media(MediaKind::Video, dir, None, None, sc));
        }
        let (offer, pending) = api.apply().unwrap();
        (offer.to_sdp_string(), pending)
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(t) => {
                    self.timeout = t;
                    return;
                }
                Output::Transmit(t) => self.out.push(t.contents.into()),
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(_) => {}
            }
        }
    }
}

/// Runs the fixture world with a real client and records every datagram the
/// router receives: (time since start, sender index, bytes).
fn record_session(
    offer: &str,
    mut client: Client,
    pending: SdpPendingOffer,
    t0: Instant,
) -> Vec<(Duration, u8, Vec<u8>)> {
    let mut w = World::new(t0, SystemTime::now(), offer).expect("the router accepts str0m's offer");
    client.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&w.answer).unwrap()).unwrap();
    client.drain();
    let mut peers = vec![client];
    let sfu: SocketAddr = sdp::SFU_ADDR.parse().unwrap();
    let mut log = Vec::new();
    let mut now = t0;
    let mut frame = 0u32;
    let mut next_frame = t0;
    while now < t0 + Duration::from_millis(1_500) {
        let mut moved = true;
        while moved {
            moved = false;
            for (i, p) in peers.iter_mut().enumerate() {
                for d in std::mem::take(&mut p.out) {
                    moved = true;
                    log.push((now - t0, i as u8, d.clone()));
                    w.router.handle_datagram(now, p.addr, &d);
                }
            }
            while let Some(t) = w.router.poll_transmit() {
                moved = true;
                if let Some(p) = peers.iter_mut().find(|p| p.addr == t.destination) {
                    let r = Receive::new(Protocol::Udp, sfu, p.addr, &t.contents).unwrap();
                    p.rtc.handle_input(Input::Receive(now, r)).unwrap();
                    p.drain();
                }
            }
            while w.router.poll_event().is_some() {}
        }
        // Once connected, the publisher sends a frame every 33 ms.
        if peers[0].connected && now >= next_frame {
            let p = &mut peers[0];
            let pt = p.rtc.codec_config().params().iter().find(|c| c.spec().codec == Codec::Vp8).unwrap().pt();
            let mut body = frame.to_be_bytes().to_vec();
            body.resize(120, 0x5A);
            let payload = vp8_test_payload(frame as u16, true, frame == 0, &body);
            let mid = p.mid.unwrap();
            let mut api = p.rtc.direct_api();
            api.stream_tx_by_mid(mid, None)
                .unwrap()
                .write_rtp(RtpWrite::new(pt, (10 + u64::from(frame)).into(), 3000 * frame, now, payload).marker(true));
            p.rtc.handle_input(Input::Timeout(now)).unwrap();
            p.drain();
            frame += 1;
            next_frame = now + Duration::from_millis(33);
            continue;
        }
        let next = peers.iter().map(|p| p.timeout).chain([w.router.poll_timeout(), next_frame]).min().unwrap();
        now = if next <= now { now + Duration::from_millis(1) } else { next };
        if w.router.poll_timeout() <= now {
            w.router.handle_timeout(now);
        }
        for p in &mut peers {
            if p.timeout <= now {
                p.rtc.handle_input(Input::Timeout(now)).unwrap();
                p.drain();
            }
        }
    }
    assert!(peers[0].connected, "the client connects");
    assert!(frame > 10, "the publisher sent video");
    log
}

/// Op list replaying `log`: datagrams from the fixed sources, time moving
/// as it did.
fn replay_ops(log: &[(Duration, u8, Vec<u8>)]) -> Vec<stun::Op> {
    let mut ops = Vec::new();
    let mut at = Duration::ZERO;
    for (t, from, bytes) in log {
        let mut gap = t.saturating_sub(at).as_millis() as u64;
        while gap > 0 {
            let ms = gap.min(u64::from(u16::MAX)) as u16;
            ops.push(stun::Op::Advance { ms });
            gap -= u64::from(ms);
        }
        at = *t;
        ops.push(stun::Op::Datagram { from: Source::Fixed(*from), bytes: bytes.clone() });
    }
    ops
}

/// A binding request with `user` as USERNAME and no integrity.
fn bare_binding_request(user: &[u8]) -> Vec<u8> {
    let mut attrs = vec![0x00, 0x24, 0x00, 0x04, 0x6e, 0x7f, 0x1e, 0xff];
    attrs.extend_from_slice(&[0x00, 0x06]);
    attrs.extend_from_slice(&(user.len() as u16).to_be_bytes());
    attrs.extend_from_slice(user);
    while attrs.len() % 4 != 0 {
        attrs.push(0);
    }
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    m.extend_from_slice(b"fuzzseedtxid");
    m.extend_from_slice(&attrs);
    m
}

/// A new fixture offer, and the stun seeds recorded against it; returns the
/// offer.
fn stun_seeds() -> String {
    let t0 = Instant::now();
    let mut publisher = Client::new(PUBLISHER_ADDR, t0, true);
    let (pub_offer, pub_pending) = publisher.offer(Direction::SendOnly, 1, false);
    fs::write(fuzz_dir().join("fixtures/publisher-offer.sdp"), &pub_offer).unwrap();
    println!("fixtures/publisher-offer.sdp: written");

    // -------- stun: recorded against the router the stun target builds.
    let log = record_session(&pub_offer, publisher, pub_pending, t0);
    let first_from = |who: u8| log.iter().find(|(_, f, _)| *f == who).map(|(_, _, b)| b.clone()).unwrap();
    let session = replay_ops(&log);
    let stun_seed = |ops: &[stun::Op]| stun::encode(ops);
    let binding = stun::Op::Datagram { from: Source::Fixed(0), bytes: first_from(0) };
    let stun_bytes: Vec<(&str, Vec<u8>)> = vec![
        ("binding-publisher.bin", stun_seed(std::slice::from_ref(&binding))),
        ("session.bin", stun_seed(&session[..session.len().min(80)])),
        (
            "batch.bin",
            stun_seed(&[
                stun::Op::Deferred { from: Source::Fixed(0), bytes: first_from(0) },
                stun::Op::Deferred { from: Source::Fixed(1), bytes: first_from(0) },
                stun::Op::Flush,
                stun::Op::Advance { ms: 250 },
            ]),
        ),
        (
            "strangers.bin",
            stun_seed(&[
                stun::Op::Datagram {
                    from: Source::Any("192.0.2.7:3478".parse().unwrap()),
                    bytes: bare_binding_request(b"nobody:x"),
                },
                stun::Op::Datagram { from: Source::Fixed(2), bytes: bare_binding_request(b"") },
                // The publisher's first request, replayed from another address.
                stun::Op::Datagram { from: Source::Any("[2001:db8::7]:40000".parse().unwrap()), bytes: first_from(0) },
                binding,
                // RTP, RTCP and DTLS-looking datagrams from a remembered address.
                stun::Op::Datagram {
                    from: Source::Fixed(0),
                    bytes: [&[0x80u8, 96, 0, 1, 0, 0, 0, 9, 0, 0, 0, 42][..], &[0; 20]].concat(),
                },
                stun::Op::Datagram { from: Source::Fixed(0), bytes: vec![0x81, 200, 0, 6, 0, 0, 0, 42, 0, 0, 0, 0] },
                stun::Op::Datagram {
                    from: Source::Fixed(0),
                    bytes: vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
                },
                stun::Op::Advance { ms: 30_000 },
            ]),
        ),
    ];
    for (name, bytes) in &stun_bytes {
        write("stun", name, bytes);
    }

    pub_offer
}

fn sdp_seeds(pub_offer: &str) {
    let t0 = Instant::now();
    let (sub_offer, _) = Client::new("10.0.0.3:5001", t0, true).offer(Direction::RecvOnly, 2, false);
    let seed = |name: &str, ops: &[Op]| write("sdp", name, &sdp::encode(ops));
    let publish = |student: u8, offer: &str| Op::Publish { student, offer: offer.to_owned() };
    let subscribe = |proctor: u8, offer: &str| Op::Subscribe { proctor, offer: offer.to_owned() };
    let cand = |peer: Who, line: &str| Op::Candidate { peer, candidate: line.to_owned() };
    let chrome_pub = fixture("chrome-publish.sdp");
    let chrome_sub = fixture("chrome-subscribe.sdp");
    let firefox_pub = fixture("firefox-publish.sdp");
    let (full_offer, _) = Client::new("10.0.0.6:5004", t0, false).offer(Direction::SendOnly, 1, false);
    let (simulcast_offer, _) = Client::new("10.0.0.4:5002", t0, false).offer(Direction::SendOnly, 1, true);
    let (sub7_offer, _) = Client::new("10.0.0.5:5003", t0, false).offer(Direction::RecvOnly, 7, false);
    seed("publish-str0m-vp8.bin", &[publish(0, pub_offer), Op::Advance { ms: 100 }]);
    seed("publish-str0m.bin", &[publish(3, &full_offer)]);
    seed("subscribe-str0m-vp8.bin", &[subscribe(2, &sub_offer), Op::Unwatch { proctor: 2, slot: 1 }]);
    seed("publish-str0m-simulcast.bin", &[publish(1, &simulcast_offer)]);
    seed("publish-chrome.bin", &[publish(0, &chrome_pub)]);
    seed("publish-firefox.bin", &[publish(2, &firefox_pub)]);
    seed(
        "subscribe-chrome.bin",
        &[subscribe(0, &chrome_sub), Op::Watch { proctor: 0, slot: 2, student: 1, full: false }],
    );
    seed("subscribe-str0m-7.bin", &[subscribe(1, &sub7_offer)]);
    seed(
        "candidates.bin",
        &[
            publish(0, &chrome_pub),
            cand(
                Who::Student(0),
                "candidate:1467250027 1 udp 2122260223 192.168.1.23 51234 typ host generation 0 ufrag Fq2h network-id 1 network-cost 10",
            ),
            cand(
                Who::Student(0),
                "a=candidate:842163049 1 udp 1677729535 198.51.100.4 61002 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag Fq2h network-cost 999",
            ),
            cand(Who::Student(0), "candidate:2999745851 1 udp 2122262783 2001:db8::5 54321 typ host generation 0"),
            cand(
                Who::Student(0),
                "candidate:3617469138 1 udp 2113937151 0b8a9c11-4d7e-4e8a-9f0b-1c2d3e4f5a6b.local 55667 typ host generation 0 network-cost 999",
            ),
            cand(Who::Student(0), "candidate:1 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active generation 0"),
            cand(
                Who::Student(0),
                "candidate:4 1 udp 41885439 203.0.113.9 3478 typ relay raddr 198.51.100.4 rport 61002",
            ),
            cand(Who::Student(0), ""),
            cand(Who::Proctor(0), "candidate:1 1 udp 1 10.0.0.1 9 typ host"),
        ],
    );
    seed(
        "session.bin",
        &[
            publish(0, pub_offer),
            publish(1, &chrome_pub),
            subscribe(0, &sub_offer),
            subscribe(1, &chrome_sub),
            Op::Watch { proctor: 0, slot: 0, student: 0, full: true },
            Op::Watch { proctor: 0, slot: 1, student: 1, full: false },
            Op::Watch { proctor: 1, slot: 2, student: 3, full: true },
            Op::Advance { ms: 250 },
            Op::Advance { ms: 600 },
            publish(0, &firefox_pub),
            Op::Watch { proctor: 1, slot: 0, student: 0, full: false },
            Op::Close { peer: Who::Student(1) },
            Op::Advance { ms: 3_500 },
            Op::Unwatch { proctor: 0, slot: 1 },
            Op::Unwatch { proctor: 0, slot: 9 },
            Op::Close { peer: Who::Proctor(0) },
            Op::Close { peer: Who::Proctor(0) },
            Op::Advance { ms: 11_000 },
        ],
    );
}

fn main() {
    incident_seeds();
    evidence_seeds();
    let fixture = fuzz_dir().join("fixtures/publisher-offer.sdp");
    let pub_offer = if std::env::args().any(|a| a == "--new-fixture") || !fixture.exists() {
        stun_seeds()
    } else {
        println!("fixtures/publisher-offer.sdp and seeds/stun: kept (--new-fixture replaces them)");
        fs::read_to_string(fixture).unwrap()
    };
    sdp_seeds(&pub_offer);
}
