//! Router unit tests that need more than one concern: commands, metrics.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use ::metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::{Candidate, RtcConfig};
use vigil_proto::events::WatchQuality;

use super::metrics::ALLOWED_LABELS;
use super::*;

fn router() -> Router {
    Router::new(RouterConfig::new("127.0.0.1:4000".parse().unwrap()), Instant::now(), SystemTime::now())
}

fn pid(student: &str) -> PublisherId {
    PublisherId::new("exam-1".parse().unwrap(), student.parse().unwrap())
}

/// Proctor connection `connection`, watching exam `exam-1`.
fn sub_id(connection: impl Into<String>) -> SubscriberId {
    SubscriberId::new("exam-1".parse().expect("exam id"), connection)
}

/// An offer from a str0m client with `video` m-lines of direction `dir`.
fn offer(video: usize, dir: Direction) -> String {
    let mut rtc = RtcConfig::new().build(Instant::now());
    rtc.add_local_candidate(Candidate::host("127.0.0.1:5000".parse().unwrap(), "udp").unwrap());
    let mut api = rtc.sdp_api();
    for _ in 0..video {
        api.add_media(MediaKind::Video, dir, None, None, None);
    }
    let (offer, _) = api.apply().unwrap();
    offer.to_sdp_string()
}

#[test]
fn malformed_sdp_is_a_typed_error() {
    let mut r = router();
    assert!(matches!(
        r.publish(Instant::now(), pid("s"), "not sdp", PublishOptions::default()),
        Err(SfuError::BadSdp(_))
    ));
    let sub = sub_id("p");
    assert!(matches!(r.subscribe(Instant::now(), sub, ""), Err(SfuError::BadSdp(_) | SfuError::OfferRejected(_))));
    assert_eq!(r.peer_count(), 0);
}

#[test]
fn garbage_datagrams_are_dropped() {
    let mut r = router();
    let src: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let now = Instant::now();
    for len in 0..64usize {
        let junk: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
        r.handle_datagram(now, src, &junk);
    }
    let mut stunish = vec![0u8, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42];
    stunish.extend_from_slice(&[0; 12]);
    stunish.extend_from_slice(&[0, 6, 0, 4, b'a', b'b', b':', b'c']);
    r.handle_datagram(now, src, &stunish);
    assert!(r.poll_transmit().is_none());
}

/// Remembers the key of every metric registered while it is installed.
#[derive(Default)]
struct KeyRecorder(Mutex<Vec<Key>>);

impl Recorder for KeyRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0.lock().unwrap().push(key.clone());
        Counter::noop()
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0.lock().unwrap().push(key.clone());
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.0.lock().unwrap().push(key.clone());
        Histogram::noop()
    }
}

#[test]
fn metrics_never_name_a_peer() {
    let recorder = KeyRecorder::default();
    let (student, proctor) = ("student-7", "socket-4f2a");
    ::metrics::with_local_recorder(&recorder, || {
        let t0 = Instant::now();
        let mut r = Router::new(RouterConfig::new("127.0.0.1:4000".parse().unwrap()), t0, SystemTime::now());
        r.publish(t0, pid(student), &offer(1, Direction::SendOnly), PublishOptions::default()).expect("publish");
        let sub = sub_id(proctor);
        r.subscribe(t0, sub.clone(), &offer(2, Direction::RecvOnly)).expect("subscribe");
        r.watch(t0, &sub, 0, pid(student), WatchQuality::Full).expect("watch");
        r.handle_timeout(t0 + Duration::from_secs(4));
        r.unwatch(t0, &sub, 0).expect("unwatch");
        r.close(&PeerId::Subscriber(sub)).expect("close");
    });
    let keys = recorder.0.into_inner().unwrap();
    let names: Vec<&str> = keys.iter().map(|k| k.name()).collect();
    // vigil-load sums these two by name.
    assert!(names.contains(&"vigil_sfu_rtp_in_packets_total"), "{names:?}");
    assert!(names.contains(&"vigil_sfu_rtp_out_packets_total"), "{names:?}");
    for key in &keys {
        for label in key.labels() {
            assert!(ALLOWED_LABELS.contains(&label.key()), "{key:?} has label {}", label.key());
            for id in [student, proctor, "exam-1"] {
                assert!(!label.value().contains(id), "{key:?} names {id}");
            }
        }
    }
}

fn candidate(i: usize) -> String {
    format!("candidate:{i} 1 udp 2130706431 10.{}.{}.{} 9 typ host", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

#[test]
fn a_flood_of_candidates_is_refused_after_the_cap() {
    let mut r = router();
    let now = Instant::now();
    let sdp = offer(1, Direction::SendOnly);
    let in_offer = sdp.lines().filter(|l| l.starts_with("a=candidate:")).count();
    r.publish(now, pid("s"), &sdp, PublishOptions::default()).expect("publish");
    let peer = PeerId::Publisher(pid("s"));
    let max = r.cfg.limits.max_remote_candidates;
    let mut accepted = 0;
    for i in 0..20_000 {
        match r.add_candidate(now, &peer, &candidate(i)) {
            Ok(()) => accepted += 1,
            Err(SfuError::TooManyCandidates { max: m }) => assert_eq!(m, max),
            Err(e) => panic!("candidate {i}: {e}"),
        }
    }
    // The offer's own candidates count against the same budget.
    assert_eq!(accepted + in_offer, max);
    // End-of-candidates is not a candidate and is still fine.
    assert!(r.add_candidate(now, &peer, "").is_ok());
}

#[test]
fn candidate_errors_do_not_echo_the_input() {
    let mut r = router();
    let now = Instant::now();
    r.publish(now, pid("s"), &offer(1, Direction::SendOnly), PublishOptions::default()).expect("publish");
    let peer = PeerId::Publisher(pid("s"));
    for bad in ["candidate:zzz secret-token".to_owned(), "x".repeat(100_000)] {
        let e = r.add_candidate(now, &peer, &bad).expect_err("refused");
        assert!(matches!(e, SfuError::BadCandidate(_)), "{e}");
        assert!(!e.to_string().contains("secret-token") && e.to_string().len() < 200, "{e}");
    }
}

#[test]
fn huge_offers_are_refused_before_parsing() {
    let mut r = router();
    let now = Instant::now();
    // 12,001 m-lines: larger than any offer with that many sections may be.
    let many = format!("v=0\r\n{}", "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=recvonly\r\n".repeat(12_001));
    let e = r.subscribe(now, sub_id("p"), &many).expect_err("refused");
    assert!(matches!(e, SfuError::OfferTooLarge { .. }), "{e}");
    // A real offer padded past the publisher's budget.
    let padded = format!("{}{}", offer(1, Direction::SendOnly), "a=x-pad\r\n".repeat(4_000));
    let e = r.publish(now, pid("s"), &padded, PublishOptions::default()).expect_err("refused");
    assert!(matches!(e, SfuError::OfferTooLarge { .. }), "{e}");
    // Within the byte budget but with more m-lines than the role may have:
    // one more than the slots plus audio and data.
    let slots = r.cfg.max_slots + r.cfg.limits.extra_subscriber_mlines + 1;
    let e = r.subscribe(now, sub_id("p"), &offer(slots, Direction::RecvOnly)).expect_err("refused");
    assert!(matches!(e, SfuError::TooManyMLines { .. }), "{e}");
    let e = r.publish(now, pid("s"), &offer(5, Direction::SendOnly), PublishOptions::default()).expect_err("refused");
    assert!(matches!(e, SfuError::TooManyMLines { max: 4 }), "{e}");
    assert_eq!(r.peer_count(), 0);
}

/// Found by `fuzz/` (target `sdp`): str0m 0.25 panics in `accept_offer`
/// ("Pt locked multiple times") when one payload type means two codecs in
/// two sections, and the panic would end the SFU thread. Such offers are
/// refused before str0m sees them, from students and proctors alike.
#[test]
fn a_payload_type_with_two_meanings_is_refused_before_str0m() {
    let mut r = router();
    let now = Instant::now();
    // From a client offering VP8 alone, the second video section says
    // VP8's payload type is H.264.
    let two_meanings = |dir| {
        let mut rtc = RtcConfig::new().clear_codecs().enable_vp8(true).build(Instant::now());
        rtc.add_local_candidate(Candidate::host("127.0.0.1:5000".parse().unwrap(), "udp").unwrap());
        let mut api = rtc.sdp_api();
        for _ in 0..2 {
            api.add_media(MediaKind::Video, dir, None, None, None);
        }
        let sdp = api.apply().unwrap().0.to_sdp_string();
        let second = sdp.match_indices("m=video").nth(1).expect("two video sections").0;
        format!("{}{}", &sdp[..second], sdp[second..].replacen("VP8/90000", "H264/90000", 1))
    };
    for dir in [Direction::RecvOnly, Direction::SendOnly] {
        let e = r.publish(now, pid("s"), &two_meanings(dir), PublishOptions::default()).expect_err("refused");
        assert!(matches!(e, SfuError::BadSdp(_)), "{e}");
        let e = r.subscribe(now, sub_id("p"), &two_meanings(dir)).expect_err("refused");
        assert!(matches!(e, SfuError::BadSdp(_)), "{e}");
    }
    assert_eq!(r.peer_count(), 0);
    // Still serving.
    r.publish(now, pid("s"), &offer(1, Direction::SendOnly), PublishOptions::default()).expect("publish");
    r.subscribe(now, sub_id("p"), &offer(2, Direction::RecvOnly)).expect("subscribe");
}

#[test]
fn a_publisher_that_never_sends_video_is_reported() {
    let t0 = Instant::now();
    let mut r = Router::new(RouterConfig::new("127.0.0.1:4000".parse().unwrap()), t0, SystemTime::now());
    r.publish(t0, pid("s"), &offer(1, Direction::SendOnly), PublishOptions::default()).expect("publish");
    let within = r.cfg.health.first_video_within;
    // Never connected, never sent: the tick still looks at it.
    let mut t = t0;
    while t < t0 + within + Duration::from_secs(1) {
        t += Duration::from_millis(250);
        r.handle_timeout(t);
    }
    let findings: Vec<SfuEvent> =
        std::iter::from_fn(|| r.poll_event()).filter(|e| matches!(e, SfuEvent::MediaHealth { .. })).collect();
    let [SfuEvent::MediaHealth { publisher, kind: IncidentKind::MediaStalled, detail, .. }] = findings.as_slice()
    else {
        panic!("{findings:?}");
    };
    assert_eq!(*publisher, pid("s"));
    assert_eq!(detail, "no video arrived within 10 s of publishing");
}

/// A peer whose answer never reached its client (the socket closed while
/// the offer was being answered) is closed by the router itself.
#[test]
fn a_peer_that_never_connects_is_closed() {
    let t0 = Instant::now();
    let mut r = Router::new(RouterConfig::new("127.0.0.1:4000".parse().unwrap()), t0, SystemTime::now());
    r.publish(t0, pid("s"), &offer(1, Direction::SendOnly), PublishOptions::default()).expect("publish");
    let limit = r.cfg.connect_within;
    // Half-way there, a proctor subscribes: its own deadline starts then.
    let mut t = t0;
    while t < t0 + limit / 2 {
        t += Duration::from_millis(250);
        r.handle_timeout(t);
    }
    let sub = sub_id("p");
    r.subscribe(t, sub.clone(), &offer(2, Direction::RecvOnly)).expect("subscribe");
    let closed = |r: &mut Router| {
        std::iter::from_fn(|| r.poll_event()).filter(|e| matches!(e, SfuEvent::PeerClosed(_))).collect::<Vec<_>>()
    };
    while t < t0 + limit + Duration::from_secs(1) {
        t += Duration::from_millis(250);
        r.handle_timeout(t);
    }
    assert_eq!(closed(&mut r), [SfuEvent::PeerClosed(PeerId::Publisher(pid("s")))]);
    assert_eq!(r.peer_count(), 1, "the proctor's deadline has not passed yet");
    while t < t0 + limit + limit / 2 + Duration::from_secs(1) {
        t += Duration::from_millis(250);
        r.handle_timeout(t);
    }
    assert_eq!(closed(&mut r), [SfuEvent::PeerClosed(PeerId::Subscriber(sub))]);
    assert_eq!(r.peer_count(), 0);
}

/// Prepared offers are inserted later, in another order than they were
/// prepared in: each takes its place as the id's current peer.
#[test]
fn prepared_offers_are_inserted_by_the_router() {
    let now = Instant::now();
    let mut r = router();
    let preparer = r.preparer().clone();
    let first = preparer.publisher(now, &offer(1, Direction::SendOnly)).expect("prepared");
    let second = preparer.publisher(now, &offer(1, Direction::SendOnly)).expect("prepared");
    let proctor = preparer.subscriber(now, &offer(3, Direction::RecvOnly)).expect("prepared");
    assert_eq!(r.peer_count(), 0, "preparing touches no router state");
    let (answer, mids) = r.accept_subscriber(now, sub_id("p"), proctor);
    assert_eq!(mids.len(), 3);
    assert!(answer.starts_with("v=0"));
    let a = r.accept_publisher(now, pid("s"), first, PublishOptions::default());
    let b = r.accept_publisher(now, pid("s"), second, PublishOptions::default());
    assert_ne!(a, b, "each prepared peer has its own credentials and certificate");
    assert_eq!(r.peer_count(), 2, "the second publication replaced the first");
    let ufrag = |sdp: &str| sdp.lines().find_map(|l| l.strip_prefix("a=ice-ufrag:")).map(str::to_owned);
    assert_eq!(r.by_ufrag.len(), 2);
    assert!(r.by_ufrag.contains_key(&ufrag(&b).expect("ufrag")));
    assert!(!r.by_ufrag.contains_key(&ufrag(&a).expect("ufrag")));
}

/// A simulcast publication's recording waits for the layer rates to pick
/// its layer; a publication of one encoding is recorded from its first
/// packet. What the offer declares is what tells them apart.
#[test]
fn an_offer_of_several_encodings_is_known_as_simulcast() {
    use str0m::media::{Simulcast, SimulcastLayer};
    let now = Instant::now();
    let r = router();
    let plain = r.preparer().publisher(now, &offer(1, Direction::SendOnly)).expect("prepared");
    assert!(!plain.simulcast);

    let mut rtc = RtcConfig::new().build(now);
    rtc.add_local_candidate(Candidate::host("127.0.0.1:5000".parse().unwrap(), "udp").unwrap());
    let mut layers = Simulcast::new();
    for rid in ["q", "h", "f"] {
        layers.add_send_layer(SimulcastLayer::new(rid));
    }
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::SendOnly, None, None, Some(layers));
    let (sdp, _) = api.apply().unwrap();
    let sdp = sdp.to_sdp_string();
    assert!(sdp.contains("a=simulcast:send q;h;f"), "{sdp}");
    let simulcast = r.preparer().publisher(now, &sdp).expect("prepared");
    assert!(simulcast.simulcast);
}

/// An offer from a str0m client with one m-line per kind in `kinds`, in
/// that order, all of direction `dir`; the mids come back by kind.
fn offer_of(kinds: &[MediaKind], dir: Direction) -> (String, Vec<Mid>, Vec<Mid>) {
    let mut rtc = RtcConfig::new().build(Instant::now());
    rtc.add_local_candidate(Candidate::host("127.0.0.1:5000".parse().unwrap(), "udp").unwrap());
    let mut api = rtc.sdp_api();
    let (mut video, mut audio) = (Vec::new(), Vec::new());
    for &kind in kinds {
        let mid = api.add_media(kind, dir, None, None, None);
        if kind == MediaKind::Audio { audio.push(mid) } else { video.push(mid) }
    }
    let (offer, _) = api.apply().unwrap();
    (offer.to_sdp_string(), video, audio)
}

/// Each slot's video mid and the audio mid paired with it.
fn slot_mids(r: &Router, sub: &SubscriberId) -> Vec<(Mid, Option<Mid>)> {
    let key = r.subscribers[sub];
    r.peers.sub(key).expect("a subscriber").slots.iter().map(|s| (s.mid, s.audio.as_ref().map(|a| a.mid))).collect()
}

/// The direction line of the answer's section for `mid`.
fn answered_direction(answer: &str, mid: Mid) -> &str {
    let at = answer.find(&format!("a=mid:{mid}\r\n")).expect("the mid is answered");
    let start = answer[..at].rfind("m=").expect("its m-line");
    let end = answer[at..].find("m=").map_or(answer.len(), |e| at + e);
    let dirs = ["a=sendonly", "a=recvonly", "a=sendrecv", "a=inactive"];
    answer[start..end].lines().find(|l| dirs.contains(l)).expect("a direction")
}

#[test]
fn audio_m_lines_pair_with_video_slots_by_order() {
    use slots::paired_audio;
    let (v, a): (Vec<Mid>, Vec<Mid>) = (vec!["v0".into(), "v1".into()], vec!["a0".into()]);
    assert_eq!(paired_audio(2, &a), vec![Some(a[0]), None]);
    assert_eq!(paired_audio(1, &[a[0], v[0]]), vec![Some(a[0])]);
    assert_eq!(paired_audio(2, &[]), vec![None, None]);

    let now = Instant::now();
    let mut r = router();
    use MediaKind::{Audio as A, Video as V};
    // Interleaved or not, the i-th audio m-line goes with the i-th video one.
    let (sdp, video, audio) = offer_of(&[A, V, V, A, V, A], Direction::RecvOnly);
    let (answer, mids) = r.subscribe(now, sub_id("mixed"), &sdp).expect("subscribe");
    assert_eq!(mids, video.iter().map(|m| m.to_string()).collect::<Vec<_>>(), "the slots are the video m-lines");
    let expected: Vec<_> = video.iter().copied().zip(audio.iter().copied().map(Some)).collect();
    assert_eq!(slot_mids(&r, &sub_id("mixed")), expected);
    assert!(audio.iter().all(|&m| answered_direction(&answer, m) == "a=sendonly"), "{answer}");

    // Fewer audio m-lines than slots: the last slots have none.
    let (sdp, video, audio) = offer_of(&[V, V, V, A], Direction::RecvOnly);
    r.subscribe(now, sub_id("fewer"), &sdp).expect("subscribe");
    assert_eq!(slot_mids(&r, &sub_id("fewer")), vec![(video[0], Some(audio[0])), (video[1], None), (video[2], None)]);

    // More: the extras belong to no slot and are answered inactive, even
    // when offered sendrecv.
    let (sdp, video, audio) = offer_of(&[V, A, A, A], Direction::SendRecv);
    let (answer, _) = r.subscribe(now, sub_id("more"), &sdp).expect("subscribe");
    assert_eq!(slot_mids(&r, &sub_id("more")), vec![(video[0], Some(audio[0]))]);
    assert_eq!(answered_direction(&answer, audio[0]), "a=sendonly");
    assert_eq!(answered_direction(&answer, audio[1]), "a=inactive");
    assert_eq!(answered_direction(&answer, audio[2]), "a=inactive");

    // None: slots as ever.
    let (sdp, video, _) = offer_of(&[V, V], Direction::RecvOnly);
    r.subscribe(now, sub_id("none"), &sdp).expect("subscribe");
    assert_eq!(slot_mids(&r, &sub_id("none")), vec![(video[0], None), (video[1], None)]);

    // An audio m-line offered inactive leaves its slot silent, not refused.
    let (sdp, video, _) = offer_of(&[V, A], Direction::Inactive);
    let sdp = sdp.replacen("a=inactive", "a=recvonly", 1);
    r.subscribe(now, sub_id("silent"), &sdp).expect("subscribe");
    assert_eq!(slot_mids(&r, &sub_id("silent")), vec![(video[0], None)]);

    // So does an audio m-line without Opus.
    let mut rtc = RtcConfig::new().clear_codecs().enable_vp8(true).enable_pcmu(true, false).build(now);
    rtc.add_local_candidate(Candidate::host("127.0.0.1:5000".parse().unwrap(), "udp").unwrap());
    let mut api = rtc.sdp_api();
    let video = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    let sdp = api.apply().unwrap().0.to_sdp_string();
    assert!(sdp.contains("PCMU/8000") && !sdp.contains("opus"), "{sdp}");
    r.subscribe(now, sub_id("pcmu"), &sdp).expect("subscribe");
    assert_eq!(slot_mids(&r, &sub_id("pcmu")), vec![(video, None)]);
}

/// Every slot may bring its audio m-line on top of the m-lines a proctor
/// had before; an audio m-line with no slot to pair with still counts.
#[test]
fn audio_slots_fit_the_mline_budget() {
    let now = Instant::now();
    let mut r = router();
    let slots = r.cfg.max_slots;
    let extra = r.cfg.limits.extra_subscriber_mlines;
    let mut kinds = vec![MediaKind::Video; slots];
    kinds.extend(vec![MediaKind::Audio; slots + extra]);
    let (sdp, _, _) = offer_of(&kinds, Direction::RecvOnly);
    r.subscribe(now, sub_id("full"), &sdp).expect("every slot with audio, and two more m-lines");
    kinds.push(MediaKind::Audio);
    let (sdp, _, _) = offer_of(&kinds, Direction::RecvOnly);
    let e = r.subscribe(now, sub_id("over"), &sdp).expect_err("one m-line too many");
    assert!(matches!(e, SfuError::TooManyMLines { .. }), "{e}");
}

/// Whether a publication's audio may be forwarded is the caller's word,
/// whatever the offer carries; an offer without audio has none to forward.
#[test]
fn a_publications_audio_follows_its_options() {
    let now = Instant::now();
    let mut r = router();
    let (with_audio, _, _) = offer_of(&[MediaKind::Video, MediaKind::Audio], Direction::SendOnly);
    let audio = |r: &Router, student: &str| {
        let p = r.peers.publisher(r.publishers[&pid(student)]).expect("a publisher");
        (p.audio.opus_pt.is_some(), p.audio.allowed)
    };
    r.publish(now, pid("muted"), &with_audio, PublishOptions { audio: false }).expect("publish");
    assert_eq!(audio(&r, "muted"), (true, false));
    r.publish(now, pid("heard"), &with_audio, PublishOptions { audio: true }).expect("publish");
    assert_eq!(audio(&r, "heard"), (true, true));
    r.publish(now, pid("camera"), &offer(1, Direction::SendOnly), PublishOptions { audio: true }).expect("publish");
    assert_eq!(audio(&r, "camera"), (false, true));
    // A re-publish states its options again.
    r.publish(now, pid("heard"), &with_audio, PublishOptions::default()).expect("publish");
    assert_eq!(audio(&r, "heard"), (true, false));
}

#[test]
fn audio_verdicts() {
    use peer::{AudioVerdict, PubAudio};
    let (opus, vp8): (Pt, Pt) = (111.into(), 96.into());
    let mut muted = PubAudio::new(Some(opus), false);
    assert_eq!(muted.verdict(vp8, 1.into()), AudioVerdict::NotAudio);
    assert_eq!(muted.verdict(opus, 1.into()), AudioVerdict::NotAllowed);
    let mut heard = PubAudio::new(Some(opus), true);
    assert_eq!(heard.verdict(opus, 7.into()), AudioVerdict::Forward);
    assert_eq!(heard.verdict(opus, 8.into()), AudioVerdict::SecondStream, "one audio stream is forwarded");
    assert_eq!(heard.verdict(opus, 7.into()), AudioVerdict::Forward);
    let mut none = PubAudio::new(None, true);
    assert_eq!(none.verdict(opus, 1.into()), AudioVerdict::NotAudio);
}
