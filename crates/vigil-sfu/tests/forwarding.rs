//! End-to-end: str0m clients over loopback UDP against a running `Sfu`.

mod common;

use std::time::Duration;

use common::*;
use str0m::media::Direction;
use vigil_proto::IncidentKind;
use vigil_proto::events::{IceCandidate, WatchQuality};
use vigil_sfu::{PeerId, PublishOptions, PublisherId, RecordFeed, RecordTap, SfuError, SfuEvent, SubscriberId};

/// Proctor connection `connection`, watching exam `exam1`.
fn sub_id(connection: impl Into<String>) -> SubscriberId {
    SubscriberId::new("exam1".parse().expect("exam id"), connection)
}

fn subscribe(
    rt: &tokio::runtime::Runtime,
    sfu: &vigil_sfu::Sfu,
    name: &str,
    slots: usize,
    shim: Option<&Shim>,
) -> (Client, Vec<String>) {
    let mut w = Client::new();
    let (offer, pending) = w.offer(slots, Direction::RecvOnly);
    let (answer, mids) = rt.block_on(sfu.subscribe(sub_id(name), offer)).expect("subscribe");
    let answer = match shim {
        Some(s) => s.rewrite_answer(&answer),
        None => answer,
    };
    w.accept(pending, &answer);
    (w, mids)
}

/// Sends `n` frames at ~`gap` while pumping everyone.
fn stream(p: &mut Synth, others: &mut [&mut Client], n: usize, gap: Duration, first_key: bool) {
    for i in 0..n {
        p.send(first_key && i == 0);
        pump_until(others, gap, |_| false);
    }
}

#[test]
fn a_watcher_receives_every_payload_in_order() {
    let rt = rt();
    let sfu = start_sfu(|_| {});
    let mut p = publish(&rt, &sfu, "s1", 1);
    let (mut w, mids) = subscribe(&rt, &sfu, "proctor", 2, None);
    assert_eq!(mids.len(), 2);
    assert!(pump_until(&mut [&mut w, &mut p.c], Duration::from_secs(5), |c| c[0].connected));
    let up = rt.block_on(sfu.watch(sub_id("proctor"), 0, pid("s1"), WatchQuality::Thumbnail)).unwrap();
    assert_eq!(up.mid, mids[0]);
    assert_eq!(up.student_id.as_ref().map(|s| s.as_str()), Some("s1"));

    stream(&mut p, &mut [&mut w], 100, Duration::from_millis(3), true);
    pump_until(&mut [&mut w, &mut p.c], Duration::from_secs(2), |c| c[0].received.len() >= 100);

    let frames: Vec<u32> = w.received.iter().filter_map(decode).map(|d| d.1).collect();
    assert_eq!(frames, (0..100).collect::<Vec<_>>());
    let seqs: Vec<u64> = w.received.iter().map(|p| *p.seq_no).collect();
    assert!(seqs.windows(2).all(|x| x[1] == x[0] + 1), "{seqs:?}");
    assert!(decode(&w.received[0]).unwrap().2, "starts with a keyframe");
    sfu.shutdown();
}

#[test]
fn b_new_watcher_triggers_keyframe_request() {
    let rt = rt();
    let sfu = start_sfu(|_| {});
    let mut p = publish(&rt, &sfu, "s1", 1);
    p.auto_key = false;
    let (mut w, _) = subscribe(&rt, &sfu, "proctor", 1, None);
    assert!(pump_until(&mut [&mut w, &mut p.c], Duration::from_secs(5), |c| c[0].connected));
    // Deltas only: the SFU learns the layer, then must ask for a keyframe.
    stream(&mut p, &mut [&mut w], 5, Duration::from_millis(5), false);
    rt.block_on(sfu.watch(sub_id("proctor"), 0, pid("s1"), WatchQuality::Full)).unwrap();
    let mut asked = false;
    for _ in 0..200 {
        p.send(false);
        pump_until(&mut [&mut w], Duration::from_millis(5), |_| false);
        if p.c.keyframe_requests > 0 {
            asked = true;
            break;
        }
    }
    assert!(asked, "publisher got a PLI");
    assert!(w.received.is_empty(), "nothing forwarded before a keyframe");
    p.send(true);
    stream(&mut p, &mut [&mut w], 5, Duration::from_millis(5), false);
    pump_until(&mut [&mut w, &mut p.c], Duration::from_secs(2), |c| c[0].received.len() >= 6);
    assert!(decode(&w.received[0]).unwrap().2, "first forwarded packet is the keyframe");
    assert_eq!(w.received.len(), 6);
    sfu.shutdown();
}

#[test]
fn c_nack_recovers_injected_loss() {
    let rt = rt();
    let sfu = start_sfu(|_| {});
    let mut p = publish(&rt, &sfu, "s1", 1);
    let mut shim = Shim::new(sfu.local_addr(), 10);
    let (mut w, _) = subscribe(&rt, &sfu, "proctor", 1, Some(&shim));
    let ok = {
        let end = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            shim.step();
            w.step();
            p.c.step();
            if w.connected || std::time::Instant::now() > end {
                break w.connected;
            }
            std::thread::sleep(Duration::from_micros(300));
        }
    };
    assert!(ok, "watcher connects through the shim");
    rt.block_on(sfu.watch(sub_id("proctor"), 0, pid("s1"), WatchQuality::Thumbnail)).unwrap();
    let n = 200u32;
    for i in 0..n {
        p.send(i == 0);
        let end = std::time::Instant::now() + Duration::from_millis(4);
        while std::time::Instant::now() < end {
            shim.step();
            w.step();
            p.c.step();
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let end = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < end {
        shim.step();
        w.step();
        p.c.step();
        let mut got: Vec<u32> = w.received.iter().filter_map(decode).map(|d| d.1).collect();
        got.sort();
        got.dedup();
        if got.len() == n as usize {
            break;
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    assert!(shim.dropped >= (n / 10) as u64 - 1, "the shim dropped packets: {}", shim.dropped);
    let mut got: Vec<u32> = w.received.iter().filter_map(decode).map(|d| d.1).collect();
    got.sort();
    got.dedup();
    assert_eq!(got, (0..n).collect::<Vec<_>>(), "every frame recovered (dropped {})", shim.dropped);
    sfu.shutdown();
}

#[test]
fn d_switching_student_is_seamless() {
    let rt = rt();
    let sfu = start_sfu(|_| {});
    let mut a = publish(&rt, &sfu, "a", 1);
    let mut b = publish(&rt, &sfu, "b", 2);
    let (mut w, _) = subscribe(&rt, &sfu, "proctor", 1, None);
    assert!(pump_until(&mut [&mut w, &mut a.c, &mut b.c], Duration::from_secs(5), |c| c[0].connected));
    let sub = sub_id("proctor");
    rt.block_on(sfu.watch(sub.clone(), 0, pid("a"), WatchQuality::Thumbnail)).unwrap();
    for i in 0..30 {
        a.send(i == 0);
        b.send(false);
        pump_until(&mut [&mut w], Duration::from_millis(4), |_| false);
    }
    rt.block_on(sfu.watch(sub, 0, pid("b"), WatchQuality::Thumbnail)).unwrap();
    for _ in 0..60 {
        a.send(false);
        b.send(false); // turns into a keyframe once the PLI arrives
        pump_until(&mut [&mut w], Duration::from_millis(4), |_| false);
    }
    pump_until(&mut [&mut w, &mut a.c, &mut b.c], Duration::from_millis(300), |_| false);

    let d: Vec<(u8, u32, bool)> = w.received.iter().filter_map(decode).collect();
    let first_b = d.iter().position(|x| x.0 == 2).expect("b was forwarded");
    assert!(d[first_b].2, "b starts with a keyframe");
    assert!(d[..first_b].iter().all(|x| x.0 == 1) && d[first_b..].iter().all(|x| x.0 == 2), "no interleaving");
    assert!(first_b >= 30, "all of a's frames before the switch arrived");
    let seqs: Vec<u64> = w.received.iter().map(|p| *p.seq_no).collect();
    assert!(seqs.windows(2).all(|x| x[1] == x[0] + 1), "continuous: {seqs:?}");
    let ts: Vec<u32> = w.received.iter().map(|p| p.header.timestamp).collect();
    assert!(
        ts[first_b].wrapping_sub(ts[first_b - 1]) > 0 && ts[first_b].wrapping_sub(ts[first_b - 1]) < 90_000 * 5,
        "timestamp moves forward a little across the switch"
    );
    sfu.shutdown();
}

#[test]
fn e_stalled_publisher_raises_media_stalled() {
    let rt = rt();
    let sfu = start_sfu(|c| c.health.stall_after = Duration::from_millis(600));
    let mut events = sfu.events();
    let mut p = publish(&rt, &sfu, "s1", 1);
    stream(&mut p, &mut [], 20, Duration::from_millis(10), true);
    let mut found = None;
    pump_until(&mut [&mut p.c], Duration::from_secs(5), |_| {
        while let Ok(e) = events.try_recv() {
            if let SfuEvent::MediaHealth { publisher, kind: IncidentKind::MediaStalled, .. } = e {
                found = Some(publisher);
            }
        }
        found.is_some()
    });
    assert_eq!(found, Some(pid("s1")));
    sfu.shutdown();
}

#[test]
fn f_garbage_and_malformed_sdp_do_not_hurt() {
    let rt = rt();
    let sfu = start_sfu(|_| {});
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..500u32 {
        let len = (i % 300) as usize;
        let mut d: Vec<u8> = (0..len).map(|j| (j as u32 * 31 + i) as u8).collect();
        if let Some(first) = d.first_mut() {
            *first = [0u8, 1, 20, 23, 128, 144, 200][i as usize % 7];
        }
        let _ = junk.send_to(&d, sfu.local_addr());
    }
    let bad = rt.block_on(sfu.publish(pid("x"), "v=0\r\nthis is not sdp".into(), PublishOptions::default()));
    assert!(matches!(bad, Err(SfuError::BadSdp(_)) | Err(SfuError::OfferRejected(_))), "{bad:?}");
    let bad = rt.block_on(sfu.subscribe(sub_id("p"), String::new()));
    assert!(bad.is_err());
    let bad = rt.block_on(sfu.watch(sub_id("nobody"), 0, pid("x"), WatchQuality::Full));
    assert!(matches!(bad, Err(SfuError::UnknownPeer)));
    // A subscriber offering to send gets a receive-nothing answer, not a publication.
    let mut c = Client::new();
    let (offer, _) = c.offer(1, Direction::SendOnly);
    assert!(rt.block_on(sfu.subscribe(sub_id("p"), offer)).is_err());
    // Still alive and serving.
    let mut p = publish(&rt, &sfu, "s1", 1);
    let (mut w, _) = subscribe(&rt, &sfu, "proctor", 1, None);
    assert!(pump_until(&mut [&mut w, &mut p.c], Duration::from_secs(5), |c| c[0].connected));
    let bad = rt.block_on(sfu.watch(sub_id("proctor"), 7, pid("s1"), WatchQuality::Full));
    assert!(matches!(bad, Err(SfuError::NoSuchSlot { .. })));
    sfu.shutdown();
}

fn candidate(i: usize) -> IceCandidate {
    let candidate =
        format!("candidate:{i} 1 udp 2130706431 10.{}.{}.{} 9 typ host", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    IceCandidate { candidate, sdp_mid: None, sdp_m_line_index: None }
}

/// One student floods signalling (20,000 candidates and a stream of
/// re-publishes, all fired without awaiting) while another is watched: the
/// watched stream keeps arriving during the flood, not after it.
#[test]
fn g_signalling_flood_does_not_stall_forwarding() {
    let rt = rt();
    let sfu = start_sfu(|_| {});
    let mut p = publish(&rt, &sfu, "s1", 1);
    let (mut w, _) = subscribe(&rt, &sfu, "proctor", 1, None);
    assert!(pump_until(&mut [&mut w, &mut p.c], Duration::from_secs(5), |c| c[0].connected));
    rt.block_on(sfu.watch(sub_id("proctor"), 0, pid("s1"), WatchQuality::Thumbnail)).unwrap();
    stream(&mut p, &mut [&mut w], 10, Duration::from_millis(3), true);
    assert!(pump_until(&mut [&mut w, &mut p.c], Duration::from_secs(2), |c| c[0].received.len() >= 10));

    let (offer, _) = Client::new().offer(1, Direction::SendOnly);
    rt.block_on(sfu.publish(pid("flood"), offer.clone(), PublishOptions::default())).expect("flooder publishes");
    let flooder = PeerId::Publisher(pid("flood"));
    let (mut candidates, mut publishes) = (Vec::new(), Vec::new());
    let before = w.received.len();
    let rounds = 100;
    for round in 0..rounds {
        for i in 0..200 {
            candidates.push(sfu.add_candidate(flooder.clone(), candidate(round * 200 + i)));
        }
        // Each re-publish builds a peer (certificate, answer) on the SFU thread.
        for _ in 0..3 {
            publishes.push(sfu.publish(pid("again"), offer.clone(), PublishOptions::default()));
        }
        p.send(false);
        pump_until(&mut [&mut w], Duration::from_millis(3), |_| false);
    }
    let during = w.received.len() - before;

    // Proof that the flood was processed: every call has its answer.
    let (mut accepted, mut capped, mut busy) = (0, 0, 0);
    for c in candidates {
        match rt.block_on(c) {
            Ok(()) => accepted += 1,
            Err(SfuError::TooManyCandidates { .. }) => capped += 1,
            Err(SfuError::Busy) => busy += 1,
            Err(e) => panic!("candidate: {e}"),
        }
    }
    let published = publishes.into_iter().filter_map(|f| rt.block_on(f).ok()).count();
    eprintln!(
        "flood: {during}/{rounds} frames during; candidates {accepted} ok, {capped} capped, {busy} busy; {published} re-publishes"
    );
    assert!(accepted <= 16 && capped > 0, "accepted {accepted}, capped {capped}, busy {busy}");
    assert!(published > 0, "no re-publish was served");
    assert!(
        during * 2 >= rounds,
        "{during} of {rounds} frames reached the watcher during the flood \
         (candidates: {accepted} accepted, {capped} capped, {busy} busy; {published} re-publishes)"
    );
    sfu.shutdown();
}

/// Offers are answered on a thread of their own: while a student's queue
/// of the costliest offers the screen admits is being answered, another
/// client's commands are served at once, not after the offers. (On the SFU
/// thread, one queue for all, the close below waited for every offer.)
#[test]
fn h_costly_offers_do_not_hold_up_other_commands() {
    let rt = rt();
    let sfu = start_sfu(|_| {});
    let (offer, _) = Client::new().offer(1, Direction::SendOnly);
    // Padded with short unknown attributes to just under the publisher's
    // 32 KiB: str0m parses each line, at several milliseconds an offer.
    let at = offer.find("a=mid:").expect("mid");
    let at = at + offer[at..].find('\n').expect("eol") + 1;
    let pad = "a=x-foo:bar\r\n".repeat((32 * 1024 - 64 - offer.len()) / 13);
    let hostile = format!("{}{pad}{}", &offer[..at], &offer[at..]);
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let offers: Vec<_> = (0..120)
        .map(|_| {
            let (reply, answered) =
                (sfu.publish(pid("hostile"), hostile.clone(), PublishOptions::default()), answered.clone());
            rt.spawn(async move {
                let r = reply.await;
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                r
            })
        })
        .collect();
    // Another client's command, queued after all of them.
    rt.block_on(sfu.close(PeerId::Subscriber(sub_id("nobody")))).expect_err("no such peer");
    let answered_before_close = answered.load(std::sync::atomic::Ordering::SeqCst);
    for r in offers.into_iter().map(|f| rt.block_on(f).expect("task")) {
        r.expect("every offer is answered");
    }
    eprintln!("{answered_before_close} of 120 offers were answered before the close");
    assert!(answered_before_close < 60, "the close waited for {answered_before_close} of 120 offers");
    sfu.shutdown();
}

/// Two workers: two exams land on different workers (each answer names
/// its own worker's port), each forwards its own students, and a watch
/// across the two is refused with a typed error, not half-served.
#[test]
fn i_exams_are_placed_on_workers() {
    let rt = rt();
    let sfu = start_sfu(|c| c.workers = 2);
    let ports: Vec<u16> = sfu.local_addrs().iter().map(|a| a.port()).collect();
    assert_eq!(ports.len(), 2);
    assert_ne!(ports[0], ports[1], "each worker has its own socket");
    let in_exam = |exam: &str, student: &str| PublisherId::new(exam.parse().unwrap(), student.parse().unwrap());
    let mut rigs = Vec::new();
    for (tag, exam) in [(1u8, "exam-a"), (2, "exam-b")] {
        let mut p = Synth::new(tag);
        let (offer, pending) = p.c.offer(1, Direction::SendOnly);
        let answer = rt.block_on(sfu.publish(in_exam(exam, "s"), offer, PublishOptions::default())).expect("publish");
        p.c.accept(pending, &answer);
        let port = ports.iter().copied().find(|port| answer.contains(&format!(" {port} typ host")));
        let mut w = Client::new();
        let (offer, pending) = w.offer(1, Direction::RecvOnly);
        let proctor = SubscriberId::new(exam.parse().unwrap(), "proctor");
        let (answer, _) = rt.block_on(sfu.subscribe(proctor.clone(), offer)).expect("subscribe");
        w.accept(pending, &answer);
        assert!(answer.contains(&format!(" {} typ host", port.expect("a worker's port"))), "same worker as its exam");
        assert!(pump_until(&mut [&mut w, &mut p.c], Duration::from_secs(5), |c| c[0].connected && c[1].connected));
        rt.block_on(sfu.watch(proctor.clone(), 0, in_exam(exam, "s"), WatchQuality::Full)).expect("watch");
        rigs.push((p, w, proctor, port));
    }
    assert_ne!(rigs[0].3, rigs[1].3, "the second exam goes to the idle worker");
    for (p, w, _, _) in &mut rigs {
        stream(p, &mut [w], 20, Duration::from_millis(3), true);
        pump_until(&mut [w], Duration::from_secs(2), |c| c[0].received.len() >= 20);
        let tags: Vec<u8> = w.received.iter().filter_map(decode).map(|d| d.0).collect();
        assert_eq!(tags, vec![p.tag; 20], "each proctor sees their own exam's student");
    }
    let across = rt.block_on(sfu.watch(rigs[0].2.clone(), 0, in_exam("exam-b", "s"), WatchQuality::Full));
    assert!(matches!(across, Err(SfuError::OtherWorker)), "{across:?}");
    // A student of an exam no worker holds yet is placed with the watcher.
    // (exam-b's watcher: the least-loaded choice would be worker 0 on this tie.)
    rt.block_on(sfu.watch(rigs[1].2.clone(), 0, in_exam("exam-c", "s"), WatchQuality::Full)).expect("watch");
    let mut c = Synth::new(3);
    let (offer, _) = c.c.offer(1, Direction::SendOnly);
    let answer = rt.block_on(sfu.publish(in_exam("exam-c", "s"), offer, PublishOptions::default())).expect("publish");
    let port = rigs[1].3.expect("a worker's port");
    assert!(answer.contains(&format!(" {port} typ host")), "exam-c is on exam-b's worker");
    sfu.shutdown();
}

/// Everything the tap holds now, and then what arrives until `done` says
/// enough (or 5 s pass).
fn drain_tap(
    rx: &std::sync::mpsc::Receiver<RecordFeed>,
    mut done: impl FnMut(&[RecordFeed]) -> bool,
) -> Vec<RecordFeed> {
    let end = std::time::Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while !done(&got) {
        let left = end.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(item) => got.push(item),
            Err(_) => break,
        }
    }
    got
}

fn packets_of<'a>(feed: &'a [RecordFeed], student: &str) -> Vec<&'a vigil_sfu::RecordedPacket> {
    feed.iter()
        .filter_map(|f| match f {
            RecordFeed::Packet(p) if p.publisher.student.as_str() == student => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn j_a_recorded_publication_reaches_the_recorder() {
    let rt = rt();
    let (tap, rx) = RecordTap::channel(4096);
    let sfu = start_sfu(|c| c.recorder = Some(tap));
    let mut recorded = publish(&rt, &sfu, "s1", 1);
    let mut other = publish(&rt, &sfu, "s2", 2);
    rt.block_on(sfu.record(pid("s1"))).expect("s1 is recorded");
    assert!(matches!(rt.block_on(sfu.record(pid("nobody"))), Err(SfuError::UnknownPeer)));

    // The SFU reads one socket in arrival order: s2's frames, sent first,
    // are handled before s1's, so once s1's are in the tap, s2's would be.
    stream(&mut other, &mut [&mut recorded.c], 10, Duration::from_millis(2), true);
    stream(&mut recorded, &mut [&mut other.c], 10, Duration::from_millis(2), true);
    let feed = drain_tap(&rx, |got| packets_of(got, "s1").len() >= 10);
    let s1 = packets_of(&feed, "s1");
    assert_eq!(s1.len(), 10, "every recorded packet reaches the recorder");
    assert!(packets_of(&feed, "s2").is_empty(), "a student not recorded is not");
    assert!(s1.windows(2).all(|w| w[1].seq == w[0].seq.wrapping_add(1)), "in order");
    assert!(s1.windows(2).all(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) == 3000));
    // The payload is the one sent, not decoded or altered: tag, frame number.
    assert_eq!((s1[0].payload[5], s1[9].payload[9]), (1, 9));

    // A key frame request from the recorder reaches the student as a PLI.
    let before = recorded.c.keyframe_requests;
    rt.block_on(sfu.request_recording_keyframe(pid("s1"))).expect("asked");
    assert!(
        pump_until(&mut [&mut recorded.c], Duration::from_secs(5), |c| c[0].keyframe_requests > before),
        "the publisher got a PLI"
    );

    // The end of the publication is told, so the recording is finished.
    rt.block_on(sfu.close(PeerId::Publisher(pid("s1")))).expect("closed");
    let feed = drain_tap(&rx, |got| got.iter().any(|f| matches!(f, RecordFeed::Ended(_))));
    assert!(matches!(feed.last(), Some(RecordFeed::Ended(p)) if p.student.as_str() == "s1"));
    sfu.shutdown();

    // Without a recorder nothing can be recorded, and the refusal says so.
    let plain = start_sfu(|_| {});
    let _s = publish(&rt, &plain, "s3", 3);
    assert!(matches!(rt.block_on(plain.record(pid("s3"))), Err(SfuError::NotRecording)));
    plain.shutdown();
}

#[test]
fn k_a_recorder_that_falls_behind_loses_recording_not_forwarding() {
    let rt = rt();
    // Room for two packets, and nobody reading.
    let (tap, rx) = RecordTap::channel(2);
    let sfu = start_sfu(|c| c.recorder = Some(tap));
    let mut p = publish(&rt, &sfu, "s1", 1);
    let (mut w, _) = subscribe(&rt, &sfu, "proctor", 1, None);
    assert!(pump_until(&mut [&mut w, &mut p.c], Duration::from_secs(5), |c| c[0].connected));
    rt.block_on(sfu.record(pid("s1"))).expect("recorded");
    rt.block_on(sfu.watch(sub_id("proctor"), 0, pid("s1"), WatchQuality::Thumbnail)).expect("watch");
    stream(&mut p, &mut [&mut w], 30, Duration::from_millis(2), true);
    assert!(
        pump_until(&mut [&mut w, &mut p.c], Duration::from_secs(5), |c| c[0].received.len() >= 30),
        "the watcher got every packet: {}",
        w.received.len()
    );
    // The SFU handled all 30 (the watcher has them); the tap kept two.
    assert_eq!(rx.try_iter().count(), 2);
    sfu.shutdown();
}
