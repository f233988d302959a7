//! End-to-end: a student's microphone reaches the proctor who watches them,
//! on the audio m-line paired with the slot, and only when the publication
//! may forward audio. str0m clients over loopback UDP against a running `Sfu`.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use str0m::media::{Direction, Mid};
use str0m::rtp::RtpPacket;
use vigil_proto::IncidentKind;
use vigil_proto::events::WatchQuality;
use vigil_sfu::{PublishOptions, RecordFeed, RecordTap, Sfu, SfuEvent, SubscriberId};

const WITH_AUDIO: PublishOptions = PublishOptions { audio: true };
const WITHOUT_AUDIO: PublishOptions = PublishOptions { audio: false };

/// The process-wide metrics recorder, installed before any SFU of this test
/// binary starts (an SFU takes its metric handles when it starts). Every
/// test here shares it: read counters as differences.
fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().expect("the only recorder of this binary"))
}

/// The value of one counter series as rendered, `series` being its name and
/// labels exactly as Prometheus prints them; 0 before it first counts.
fn counter(series: &str) -> u64 {
    metrics()
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

const DROPPED_NOT_ALLOWED: &str = "vigil_sfu_audio_dropped_packets_total{reason=\"not_allowed\"}";

fn start() -> Sfu {
    metrics();
    start_sfu(|_| {})
}

/// Proctor connection `connection`, watching exam `exam1`.
fn sub_id(connection: &str) -> SubscriberId {
    SubscriberId::new("exam1".parse().expect("exam id"), connection)
}

/// A proctor offering `slots` video slots, then `audio` audio m-lines.
fn subscribe_av(rt: &tokio::runtime::Runtime, sfu: &Sfu, name: &str, slots: usize, audio: usize) -> (Client, String) {
    let mut w = Client::new();
    let (offer, pending) = w.offer_av(slots, audio, Direction::RecvOnly);
    let (answer, mids) = rt.block_on(sfu.subscribe(sub_id(name), offer)).expect("subscribe");
    let video: Vec<String> = w.mids.iter().map(|m| m.to_string()).collect();
    assert_eq!(mids, video, "the slots are the video m-lines, in order");
    w.accept(pending, &answer);
    (w, answer)
}

/// Sends `n` rounds of one video frame (the first a keyframe if
/// `first_key`) and one audio packet from each publisher, pumping the
/// proctor for ~`gap` after each round.
fn stream_av(publishers: &mut [&mut Synth], w: &mut Client, n: usize, gap: Duration, first_key: bool) {
    for i in 0..n {
        for p in publishers.iter_mut() {
            p.send(first_key && i == 0);
            p.send_audio();
        }
        pump_until(&mut [w], gap, |_| false);
    }
}

fn seqs(packets: &[&RtpPacket]) -> Vec<u64> {
    packets.iter().map(|p| *p.seq_no).collect()
}

fn continuous(seqs: &[u64]) -> bool {
    seqs.windows(2).all(|x| x[1] == x[0] + 1)
}

fn audio_tags(packets: &[&RtpPacket]) -> Vec<(u8, u32)> {
    packets.iter().map(|p| decode_audio(p).expect("a synthetic audio payload")).collect()
}

/// (a) and (d): the watched student's audio arrives on the audio m-line
/// paired with the slot (the second slot, the second audio m-line), every
/// packet in order with continuous sequence numbers; the video alongside it
/// arrives exactly as without audio.
#[test]
fn a_watched_students_audio_arrives_on_the_paired_mid() {
    let rt = rt();
    let sfu = start();
    let mut s = publish_av(&rt, &sfu, "s1", 1, WITH_AUDIO);
    let (mut w, _) = subscribe_av(&rt, &sfu, "proctor-a", 2, 2);
    assert!(pump_until(&mut [&mut w, &mut s.c], Duration::from_secs(5), |c| c[0].connected));
    rt.block_on(sfu.watch(sub_id("proctor-a"), 1, pid("s1"), WatchQuality::Thumbnail)).expect("watch");

    let n = 60;
    stream_av(&mut [&mut s], &mut w, n, Duration::from_millis(3), true);
    let (video_mid, audio_mid) = (w.mids[1], w.audio_mids[1]);
    let done = |c: &[&mut Client]| c[0].received_on(audio_mid).len() >= n && c[0].received_on(video_mid).len() >= n;
    assert!(pump_until(&mut [&mut w, &mut s.c], Duration::from_secs(3), done), "audio and video arrived");

    let audio = w.received_on(audio_mid);
    assert_eq!(audio_tags(&audio), (0..n as u32).map(|i| (1, i)).collect::<Vec<_>>(), "every packet, in order");
    assert!(continuous(&seqs(&audio)), "{:?}", seqs(&audio));
    let ts: Vec<u32> = audio.iter().map(|p| p.header.timestamp).collect();
    assert!(ts.windows(2).all(|t| t[1].wrapping_sub(t[0]) == OPUS_TICKS_PER_PACKET), "48 kHz steps: {ts:?}");
    assert!(w.received_on(w.audio_mids[0]).is_empty(), "the empty slot's audio m-line is silent");
    assert!(w.received_on(w.mids[0]).is_empty(), "the empty slot shows nothing");

    // (d) The video of the same peers is unaffected.
    let video = w.received_on(video_mid);
    let frames: Vec<u32> = video.iter().filter_map(|p| decode(p)).map(|d| d.1).collect();
    assert_eq!(frames, (0..n as u32).collect::<Vec<_>>());
    assert!(continuous(&seqs(&video)), "{:?}", seqs(&video));
    assert!(decode(video[0]).expect("a frame").2, "video starts with a keyframe");
    assert_eq!(w.received.len(), 2 * n, "nothing else arrived");
    sfu.shutdown();
}

/// (b) Re-watching the slot switches the audio with the video: first one
/// student's packets, then only the other's, in one sequence.
#[test]
fn b_switching_the_slot_switches_the_audio_seamlessly() {
    let rt = rt();
    let sfu = start();
    let mut a = publish_av(&rt, &sfu, "a", 1, WITH_AUDIO);
    let mut b = publish_av(&rt, &sfu, "b", 2, WITH_AUDIO);
    let (mut w, _) = subscribe_av(&rt, &sfu, "proctor-b", 1, 1);
    assert!(pump_until(&mut [&mut w, &mut a.c, &mut b.c], Duration::from_secs(5), |c| c[0].connected));
    let sub = sub_id("proctor-b");
    rt.block_on(sfu.watch(sub.clone(), 0, pid("a"), WatchQuality::Thumbnail)).expect("watch a");
    stream_av(&mut [&mut a, &mut b], &mut w, 30, Duration::from_millis(3), true);
    let audio_mid = w.audio_mids[0];
    assert!(
        pump_until(&mut [&mut w, &mut a.c, &mut b.c], Duration::from_secs(3), |c| c[0].received_on(audio_mid).len()
            >= 30),
        "a's audio arrived"
    );
    rt.block_on(sfu.watch(sub, 0, pid("b"), WatchQuality::Thumbnail)).expect("watch b");
    stream_av(&mut [&mut a, &mut b], &mut w, 30, Duration::from_millis(3), false);
    let b_heard = |c: &[&mut Client]| c[0].received_on(audio_mid).iter().filter(|p| p.payload[1] == 2).count() >= 30;
    assert!(pump_until(&mut [&mut w, &mut a.c, &mut b.c], Duration::from_secs(3), b_heard), "b's audio arrived");

    let audio = w.received_on(audio_mid);
    let tags = audio_tags(&audio);
    let first_b = tags.iter().position(|t| t.0 == 2).expect("b was forwarded");
    assert!(tags[..first_b].iter().all(|t| t.0 == 1) && tags[first_b..].iter().all(|t| t.0 == 2), "{tags:?}");
    assert_eq!(tags[..first_b], (0..30).map(|i| (1, i)).collect::<Vec<_>>(), "all of a's before the switch");
    assert_eq!(tags[first_b..], (30..60).map(|i| (2, i)).collect::<Vec<_>>(), "all of b's after it");
    assert!(continuous(&seqs(&audio)), "one sequence across the switch: {:?}", seqs(&audio));
    let step = audio[first_b].header.timestamp.wrapping_sub(audio[first_b - 1].header.timestamp);
    assert!(step > 0 && step < 48_000 * 5, "the timestamp moves forward a little across the switch: {step}");
    assert!(audio.iter().all(|p| p.header.ssrc == audio[0].header.ssrc), "one outgoing SSRC");

    // Unwatching silences the slot at once: b's next packets go nowhere.
    rt.block_on(sfu.unwatch(sub_id("proctor-b"), 0)).expect("unwatch");
    let heard = w.received_on(audio_mid).len();
    stream_av(&mut [&mut b], &mut w, 10, Duration::from_millis(3), false);
    // Watching a again: a's packets, sent after b's, arrive; the SFU reads
    // one socket in order, so b's ten were handled by then.
    rt.block_on(sfu.watch(sub_id("proctor-b"), 0, pid("a"), WatchQuality::Thumbnail)).expect("watch a again");
    stream_av(&mut [&mut a], &mut w, 10, Duration::from_millis(3), false);
    let resumed = |c: &[&mut Client]| c[0].received_on(audio_mid).len() >= heard + 10;
    assert!(pump_until(&mut [&mut w, &mut a.c, &mut b.c], Duration::from_secs(3), resumed), "a is heard again");
    let audio = w.received_on(audio_mid);
    // a sent its packets 30..60 while b was watched: a's next are 60..70.
    assert_eq!(audio_tags(&audio[heard..]), (60..70).map(|i| (1, i)).collect::<Vec<_>>(), "none of b's after unwatch");
    assert!(continuous(&seqs(&audio)), "the sequence continues after a pause: {:?}", seqs(&audio));
    sfu.shutdown();
}

/// (c) and (d): a publication made without audio permission forwards none
/// of its audio, though its browser sends it and it is watched; its video
/// is forwarded as ever. The drop counter proves the packets were handled.
#[test]
fn c_audio_without_permission_is_dropped_and_counted() {
    let rt = rt();
    let sfu = start();
    let mut s = publish_av(&rt, &sfu, "muted", 3, WITHOUT_AUDIO);
    let (mut w, _) = subscribe_av(&rt, &sfu, "proctor-c", 1, 1);
    assert!(pump_until(&mut [&mut w, &mut s.c], Duration::from_secs(5), |c| c[0].connected));
    rt.block_on(sfu.watch(sub_id("proctor-c"), 0, pid("muted"), WatchQuality::Thumbnail)).expect("watch");
    let dropped = counter(DROPPED_NOT_ALLOWED);
    let n = 40;
    stream_av(&mut [&mut s], &mut w, n, Duration::from_millis(3), true);
    // Only this test publishes without audio permission, so the counter's
    // growth is this student's packets.
    assert!(
        pump_until(&mut [&mut w, &mut s.c], Duration::from_secs(5), |_| counter(DROPPED_NOT_ALLOWED)
            >= dropped + n as u64),
        "every audio packet was dropped and counted: {} of {n}",
        counter(DROPPED_NOT_ALLOWED) - dropped
    );
    let video_mid = w.mids[0];
    assert!(pump_until(&mut [&mut w, &mut s.c], Duration::from_secs(3), |c| c[0].received_on(video_mid).len() >= n));
    assert!(w.received_on(w.audio_mids[0]).is_empty(), "no audio reached the proctor");
    let video = w.received_on(video_mid);
    let frames: Vec<u32> = video.iter().filter_map(|p| decode(p)).map(|d| d.1).collect();
    assert_eq!(frames, (0..n as u32).collect::<Vec<_>>(), "the video is forwarded as ever");
    assert!(continuous(&seqs(&video)));
    assert_eq!(w.received.len(), n, "nothing but the video arrived");
    sfu.shutdown();
}

/// (e) A proctor that offers no audio m-line is served as before: video
/// only, even from a student whose audio may be forwarded.
#[test]
fn e_a_proctor_without_audio_m_lines_gets_video_only() {
    let rt = rt();
    let sfu = start();
    let mut s = publish_av(&rt, &sfu, "s1", 4, WITH_AUDIO);
    let (mut w, answer) = subscribe_av(&rt, &sfu, "proctor-e", 2, 0);
    assert!(!answer.contains("m=audio"), "nothing added to the answer");
    assert!(pump_until(&mut [&mut w, &mut s.c], Duration::from_secs(5), |c| c[0].connected));
    rt.block_on(sfu.watch(sub_id("proctor-e"), 0, pid("s1"), WatchQuality::Thumbnail)).expect("watch");
    let n = 30;
    stream_av(&mut [&mut s], &mut w, n, Duration::from_millis(3), true);
    let video_mid = w.mids[0];
    assert!(pump_until(&mut [&mut w, &mut s.c], Duration::from_secs(3), |c| c[0].received_on(video_mid).len() >= n));
    // The SFU reads one socket in order: the student's last audio packet
    // was handled before its last frame, which has arrived.
    pump_until(&mut [&mut w, &mut s.c], Duration::from_millis(200), |_| false);
    assert_eq!(w.received.len(), n, "video only");
    let frames: Vec<u32> = w.received.iter().filter_map(decode).map(|d| d.1).collect();
    assert_eq!(frames, (0..n as u32).collect::<Vec<_>>());
    sfu.shutdown();
}

/// Audio m-lines beyond the video slots belong to no slot: the answer says
/// they are inactive, and nothing is sent on them.
#[test]
fn f_surplus_audio_m_lines_are_answered_inactive() {
    let rt = rt();
    let sfu = start();
    let mut s = publish_av(&rt, &sfu, "s1", 5, WITH_AUDIO);
    let (mut w, answer) = subscribe_av(&rt, &sfu, "proctor-f", 1, 2);
    let section = |mid: Mid| {
        let at = answer.find(&format!("a=mid:{mid}\r\n")).expect("the mid is answered");
        let end = answer[at..].find("m=").map_or(answer.len(), |e| at + e);
        answer[answer[..at].rfind("m=").expect("its m-line")..end].to_owned()
    };
    assert!(section(w.audio_mids[0]).contains("a=sendonly"), "{}", section(w.audio_mids[0]));
    assert!(section(w.audio_mids[1]).contains("a=inactive"), "{}", section(w.audio_mids[1]));
    assert!(pump_until(&mut [&mut w, &mut s.c], Duration::from_secs(5), |c| c[0].connected));
    rt.block_on(sfu.watch(sub_id("proctor-f"), 0, pid("s1"), WatchQuality::Thumbnail)).expect("watch");
    stream_av(&mut [&mut s], &mut w, 20, Duration::from_millis(3), true);
    let first = w.audio_mids[0];
    assert!(pump_until(&mut [&mut w, &mut s.c], Duration::from_secs(3), |c| c[0].received_on(first).len() >= 20));
    assert!(w.received_on(w.audio_mids[1]).is_empty());
    sfu.shutdown();
}

/// Audio feeds neither the media-health rules nor the recording: a student
/// whose camera stopped is stalled though their microphone goes on, and a
/// recorded publication with audio records its video alone.
#[test]
fn g_audio_is_neither_health_nor_recorded() {
    let rt = rt();
    metrics();
    let (tap, rx) = RecordTap::channel(4096);
    let sfu = start_sfu(|c| {
        c.health.stall_after = Duration::from_millis(600);
        c.recorder = Some(tap);
    });
    let mut events = sfu.events();
    let mut s = publish_av(&rt, &sfu, "s1", 6, WITH_AUDIO);
    rt.block_on(sfu.record(pid("s1"))).expect("recorded");
    let n = 20;
    for i in 0..n {
        s.send_audio();
        s.send(i == 0);
        pump_until(&mut [&mut s.c], Duration::from_millis(5), |_| false);
    }
    // The tap's last packet is the last frame, sent after every audio
    // packet but the ones below: the SFU had handled those by then.
    let mut recorded = Vec::new();
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while recorded.len() < n && std::time::Instant::now() < end {
        if let Ok(RecordFeed::Packet(p)) = rx.recv_timeout(Duration::from_millis(50)) {
            recorded.push(p);
        }
    }
    assert_eq!(recorded.len(), n, "every frame recorded");
    // Each is the frame of its rank (tag, frame number in the synthetic
    // VP8 body), so none is an audio packet.
    let frames: Vec<(u8, u32)> = recorded
        .iter()
        .map(|p| (p.payload[5], u32::from_be_bytes([p.payload[6], p.payload[7], p.payload[8], p.payload[9]])))
        .collect();
    assert_eq!(frames, (0..n as u32).map(|i| (6, i)).collect::<Vec<_>>(), "video only");

    // Audio alone from now on: the camera is stalled all the same.
    let mut stalled = false;
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while !stalled && std::time::Instant::now() < end {
        s.send_audio();
        pump_until(&mut [&mut s.c], Duration::from_millis(20), |_| false);
        while let Ok(e) = events.try_recv() {
            stalled |= matches!(e, SfuEvent::MediaHealth { kind: IncidentKind::MediaStalled, .. });
        }
    }
    assert!(stalled, "a microphone does not keep a stopped camera healthy");
    assert!(rx.try_iter().all(|f| !matches!(f, RecordFeed::Packet(_))), "no audio reached the recorder");
    sfu.shutdown();
}
