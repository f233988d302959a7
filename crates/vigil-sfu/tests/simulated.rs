//! The routing core on simulated time: no sockets, no clock. Two str0m
//! peers and a `Router` exchange datagrams in memory, and time only moves
//! when everyone is idle, to the earliest deadline.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, RtpWrite};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use vigil_proto::IncidentKind;
use vigil_proto::events::WatchQuality;
use vigil_sfu::keyframe::vp8_test_payload;
use vigil_sfu::{PublishOptions, PublisherId, Router, RouterConfig, SfuEvent, SubscriberId};

/// Proctor connection `connection`, watching exam `e`.
fn sub_id(connection: impl Into<String>) -> SubscriberId {
    SubscriberId::new("e".parse().expect("exam id"), connection)
}

struct Peer {
    rtc: Rtc,
    addr: SocketAddr,
    timeout: Instant,
    connected: bool,
    rtp: Vec<RtpPacket>,
    out: Vec<(SocketAddr, Vec<u8>)>,
    mid: Option<Mid>,
}

impl Peer {
    fn new(addr: &str, now: Instant) -> Peer {
        let addr = addr.parse().unwrap();
        let mut rtc = RtcConfig::new().set_rtp_mode(true).build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        Peer { rtc, addr, timeout: now, connected: false, rtp: vec![], out: vec![], mid: None }
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(t) => {
                    self.timeout = t;
                    return;
                }
                Output::Transmit(t) => self.out.push((t.destination, t.contents.into())),
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::RtpPacket(p)) => self.rtp.push(p),
                Output::Event(_) => {}
            }
        }
    }
}

struct World {
    now: Instant,
    sfu_addr: SocketAddr,
    router: Router,
    peers: Vec<Peer>,
    events: Vec<SfuEvent>,
}

impl World {
    /// Delivers everything in flight, then advances time to the next
    /// deadline (capped at `until`).
    fn step(&mut self, until: Instant) {
        let mut moved = true;
        while moved {
            moved = false;
            while let Some(t) = self.router.poll_transmit() {
                moved = true;
                if let Some(p) = self.peers.iter_mut().find(|p| p.addr == t.destination) {
                    let r = Receive::new(Protocol::Udp, self.sfu_addr, p.addr, &t.contents).unwrap();
                    p.rtc.handle_input(Input::Receive(self.now, r)).unwrap();
                    p.drain();
                }
            }
            for i in 0..self.peers.len() {
                let out = std::mem::take(&mut self.peers[i].out);
                for (_, d) in out {
                    moved = true;
                    self.router.handle_datagram(self.now, self.peers[i].addr, &d);
                }
            }
            while let Some(e) = self.router.poll_event() {
                self.events.push(e);
            }
        }
        let next = self.peers.iter().map(|p| p.timeout).chain([self.router.poll_timeout(), until]).min().unwrap();
        // Something due now and still due: let a millisecond pass, as
        // str0m's own two-peer tests do.
        self.now = if next <= self.now { self.now + Duration::from_millis(1) } else { next };
        if self.router.poll_timeout() <= self.now {
            self.router.handle_timeout(self.now);
        }
        for p in &mut self.peers {
            if p.timeout <= self.now {
                p.rtc.handle_input(Input::Timeout(self.now)).unwrap();
                p.drain();
            }
        }
    }

    fn run_until(&mut self, t: Instant) {
        for _ in 0..200_000 {
            if self.now >= t {
                return;
            }
            self.step(t);
        }
        panic!("simulation did not reach its deadline");
    }
}

#[test]
fn forwards_and_detects_stall_on_simulated_time() {
    let start = Instant::now();
    let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let sfu_addr: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let mut router = Router::new(RouterConfig::new(sfu_addr), start, wall);

    let mut publ = Peer::new("10.0.0.2:1000", start);
    let mut api = publ.rtc.sdp_api();
    publ.mid = Some(api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None));
    let (offer, pending) = api.apply().unwrap();
    let id = PublisherId::new("e".parse().unwrap(), "s".parse().unwrap());
    let answer = router.publish(start, id.clone(), &offer.to_sdp_string(), PublishOptions::default()).unwrap();
    publ.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).unwrap();
    publ.drain();

    let mut watcher = Peer::new("10.0.0.3:1000", start);
    let mut api = watcher.rtc.sdp_api();
    for _ in 0..3 {
        api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    }
    let (offer, pending) = api.apply().unwrap();
    let sub = sub_id("proctor");
    let (answer, mids) = router.subscribe(start, sub.clone(), &offer.to_sdp_string()).unwrap();
    assert_eq!(mids.len(), 3);
    watcher.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).unwrap();
    watcher.drain();

    let mut w = World { now: start, sfu_addr, router, peers: vec![publ, watcher], events: vec![] };
    w.run_until(start + Duration::from_secs(2));
    assert!(w.peers.iter().all(|p| p.connected), "both connect on simulated time");
    let up = w.router.watch(w.now, &sub, 1, id.clone(), WatchQuality::Full).unwrap();
    assert_eq!(up.mid, mids[1]);

    // 30 frames at 30 fps, one packet each.
    let mut last_send = w.now;
    let pt = w.peers[0].rtc.codec_config().params().iter().find(|p| p.spec().codec == Codec::Vp8).unwrap().pt();
    for i in 0..30u32 {
        let now = w.now;
        last_send = now;
        let p = &mut w.peers[0];
        let mid = p.mid.unwrap();
        let mut body = i.to_be_bytes().to_vec();
        body.resize(100, 0);
        let payload = vp8_test_payload(i as u16, true, i == 0, &body);
        let mut api = p.rtc.direct_api();
        api.stream_tx_by_mid(mid, None).unwrap().write_rtp(
            RtpWrite::new(pt, (10 + i as u64).into(), 90_000 + 3000 * i, now, payload).marker(true).nackable(true),
        );
        p.rtc.handle_input(Input::Timeout(now)).unwrap();
        p.drain();
        let t = now + Duration::from_millis(33);
        w.run_until(t);
    }
    w.run_until(w.now + Duration::from_millis(200));
    let got: Vec<u32> = w.peers[1]
        .rtp
        .iter()
        .map(|p| u32::from_be_bytes([p.payload[5], p.payload[6], p.payload[7], p.payload[8]]))
        .collect();
    assert_eq!(got, (0..30).collect::<Vec<_>>());
    assert!(w.peers[1].rtp.iter().all(|p| { p.header.ext_vals.mid.is_none_or(|m| m == mids[1].as_str().into()) }));
    assert!(w.events.iter().all(|e| !matches!(e, SfuEvent::MediaHealth { .. })), "{:?}", w.events);

    // The camera stops: 3 s of silence is a stall, stamped on the injected wall clock.
    let stopped = w.now;
    w.run_until(stopped + Duration::from_millis(3500));
    let stall = w.events.iter().find_map(|e| match e {
        SfuEvent::MediaHealth { publisher, kind: IncidentKind::MediaStalled, at, .. } => Some((publisher.clone(), *at)),
        _ => None,
    });
    let (who, at) = stall.expect("stall detected");
    assert_eq!(who, id);
    let at_expected =
        |d: Duration| (wall + (last_send - start) + d).duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!(at >= at_expected(Duration::from_secs(3)) && at <= at_expected(Duration::from_millis(3300)), "at {at}");
    let _ = SystemTime::now;
}

/// Three simulcast layers; `Thumbnail` gets the smallest, `Full` (no BWE)
/// the largest, and the switch between them keeps sequence numbers
/// continuous and starts at a keyframe.
#[test]
fn simulcast_layers_follow_quality() {
    let start = Instant::now();
    let sfu_addr: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let mut router = Router::new(RouterConfig::new(sfu_addr), start, SystemTime::now());
    let rids = ["l", "m", "h"];
    let sizes = [100usize, 400, 1000];

    let mut publ = Peer::new("10.0.0.2:1000", start);
    let mut sc = Simulcast::new();
    for r in rids {
        sc.add_send_layer(SimulcastLayer::new(r));
    }
    let mut api = publ.rtc.sdp_api();
    publ.mid = Some(api.add_media(MediaKind::Video, Direction::SendOnly, None, None, Some(sc)));
    let (offer, pending) = api.apply().unwrap();
    let id = PublisherId::new("e".parse().unwrap(), "s".parse().unwrap());
    let answer = router.publish(start, id.clone(), &offer.to_sdp_string(), PublishOptions::default()).unwrap();
    publ.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).unwrap();
    publ.drain();

    let mut watcher = Peer::new("10.0.0.3:1000", start);
    let mut api = watcher.rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    let (offer, pending) = api.apply().unwrap();
    let sub = sub_id("proctor");
    let (answer, _) = router.subscribe(start, sub.clone(), &offer.to_sdp_string()).unwrap();
    watcher.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).unwrap();
    watcher.drain();

    let mut w = World { now: start, sfu_addr, router, peers: vec![publ, watcher], events: vec![] };
    w.run_until(start + Duration::from_secs(2));
    assert!(w.peers.iter().all(|p| p.connected));
    w.router.watch(w.now, &sub, 0, id.clone(), WatchQuality::Thumbnail).unwrap();

    let pt = w.peers[0].rtc.codec_config().params().iter().find(|p| p.spec().codec == Codec::Vp8).unwrap().pt();
    let mut frame = 0u32;
    let mut send = |w: &mut World, frames: u32| {
        for _ in 0..frames {
            let now = w.now;
            let p = &mut w.peers[0];
            let mid = p.mid.unwrap();
            for (li, rid) in rids.iter().enumerate() {
                let mut body = vec![li as u8];
                body.extend_from_slice(&frame.to_be_bytes());
                body.resize(sizes[li], 0);
                let payload = vp8_test_payload(frame as u16, true, frame.is_multiple_of(10), &body);
                let mut api = p.rtc.direct_api();
                let Some(tx) = api.stream_tx_by_mid(mid, Some(Rid::from(*rid))) else { panic!("no tx for rid {rid}") };
                tx.write_rtp(
                    RtpWrite::new(pt, (10 + frame as u64).into(), 3000 * frame, now, payload)
                        .marker(true)
                        .nackable(true),
                );
            }
            p.rtc.handle_input(Input::Timeout(now)).unwrap();
            p.drain();
            frame += 1;
            let t = now + Duration::from_millis(33);
            w.run_until(t);
        }
    };
    // Two seconds: rates get measured, the thumbnail settles on the small layer.
    send(&mut w, 60);
    let layer_of = |p: &RtpPacket| p.payload[5];
    let settled: Vec<u8> = w.peers[1].rtp.iter().rev().take(10).map(layer_of).collect();
    assert!(settled.iter().all(|&l| l == 0), "thumbnail shows the smallest layer: {settled:?}");

    let before = w.peers[1].rtp.len();
    w.router.watch(w.now, &sub, 0, id.clone(), WatchQuality::Full).unwrap();
    send(&mut w, 30);
    let rtp = &w.peers[1].rtp;
    let after: Vec<u8> = rtp[before..].iter().map(layer_of).collect();
    let first_full = after.iter().position(|&l| l == 2).expect("full layer forwarded");
    assert!(after[first_full..].iter().all(|&l| l == 2), "{after:?}");
    assert!(after[..first_full].iter().all(|&l| l == 0), "{after:?}");
    let p = &rtp[before + first_full];
    assert!(vigil_sfu::keyframe::is_keyframe_start(vigil_sfu::keyframe::VideoCodec::Vp8, &p.payload));
    let seqs: Vec<u64> = rtp.iter().map(|p| *p.seq_no).collect();
    assert!(seqs.windows(2).all(|x| x[1] == x[0] + 1), "continuous: {seqs:?}");
}

/// A slot is bound to a student, not to a connection: watched before the
/// student publishes, it shows them once they do, and it goes on showing
/// them after they publish again from a new connection (a reload).
#[test]
fn a_slot_follows_its_student_across_publications() {
    let start = Instant::now();
    let sfu_addr: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let router = Router::new(RouterConfig::new(sfu_addr), start, SystemTime::now());
    let mut w = World { now: start, sfu_addr, router, peers: vec![], events: vec![] };
    let id = PublisherId::new("e".parse().unwrap(), "s".parse().unwrap());

    let mut watcher = Peer::new("10.0.0.3:1000", start);
    let mut api = watcher.rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    let (offer, pending) = api.apply().unwrap();
    let sub = sub_id("proctor");
    let (answer, _) = w.router.subscribe(start, sub.clone(), &offer.to_sdp_string()).unwrap();
    watcher.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).unwrap();
    watcher.drain();
    w.peers.push(watcher);
    w.run_until(start + Duration::from_secs(1));
    w.router.watch(w.now, &sub, 0, id.clone(), WatchQuality::Full).expect("a student not yet here can be watched");

    // Publishes from `addr` and sends five frames tagged `tag`, a keyframe first.
    let publish_and_send = |w: &mut World, addr: &str, tag: u8| {
        let mut publ = Peer::new(addr, w.now);
        let mut api = publ.rtc.sdp_api();
        publ.mid = Some(api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None));
        let (offer, pending) = api.apply().unwrap();
        let answer = w.router.publish(w.now, id.clone(), &offer.to_sdp_string(), PublishOptions::default()).unwrap();
        publ.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).unwrap();
        publ.drain();
        w.peers.push(publ);
        let i = w.peers.len() - 1;
        w.run_until(w.now + Duration::from_secs(1));
        assert!(w.peers[i].connected);
        let pt = w.peers[i].rtc.codec_config().params().iter().find(|p| p.spec().codec == Codec::Vp8).unwrap().pt();
        for f in 0..5u32 {
            let now = w.now;
            let p = &mut w.peers[i];
            let payload = vp8_test_payload(f as u16, true, f == 0, &[tag; 100]);
            let mut api = p.rtc.direct_api();
            api.stream_tx_by_mid(p.mid.unwrap(), None).unwrap().write_rtp(
                RtpWrite::new(pt, (1 + f as u64).into(), 3000 * f, now, payload).marker(true).nackable(true),
            );
            p.rtc.handle_input(Input::Timeout(now)).unwrap();
            p.drain();
            w.run_until(now + Duration::from_millis(33));
        }
        w.run_until(w.now + Duration::from_millis(100));
    };
    publish_and_send(&mut w, "10.0.0.2:1000", 1);
    publish_and_send(&mut w, "10.0.0.2:2000", 2);
    let tags: Vec<u8> = w.peers[0].rtp.iter().map(|p| p.payload[5]).collect();
    assert_eq!(tags, [1, 1, 1, 1, 1, 2, 2, 2, 2, 2], "both publications reach the slot, in order");
    assert!(w.events.contains(&SfuEvent::PeerClosed(vigil_sfu::PeerId::Publisher(id))), "the first was replaced");
}
