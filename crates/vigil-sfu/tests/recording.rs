//! Loss injected in a str0m publisher's RTP still gives a playable
//! recording (issue 17).
//!
//! A student publishes real VP8 (ffmpeg's test pattern, packetised as a
//! browser does) from a str0m client over loopback to an SFU that records
//! it. The test drains the SFU's record tap into a `vigil_record::Recorder`,
//! as the server's recorder thread does, passes its key frame requests back
//! to the SFU, and has ffmpeg play what it wrote.
//!
//! The loss cannot be repaired: the lost packets are never written, their
//! sequence numbers skipped, so when the SFU NACKs them the student's str0m
//! has nothing to resend (a drop on the wire, which NACK does repair, is
//! `forwarding.rs`'s `c_nack_recovers_injected_loss`). One is the middle
//! packet of a frame, so a frame arrives with a hole in it. A recording
//! stays playable only if the recorder leaves out that frame and every
//! frame after it up to the next key frame (they refer to it), asks for a
//! key frame (a PLI to the student), and carries on at the next key frame:
//! here ffmpeg's next natural one, as the student does not re-encode.
//!
//! 800x600 at 5 frames a second: at `vp8_frames`' 300 kbit/s, delta frames
//! that small are one packet of 1,100 bytes; these are three, so a packet
//! can be lost from the middle of one.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

use common::*;
use vigil_record::testing::{Packetiser, TestPacket, decodes_cleanly, probe, run, vp8_frames};
use vigil_record::{FinishedSegment, Recorder, RecorderConfig, RecorderOutput, RtpIn};
use vigil_sfu::{PeerId, RecordFeed, RecordTap};

const FPS: u32 = 5;
const SECS: u32 = 8;
/// A key frame every two seconds.
const GOP: usize = 10;
/// The camera's pace: packets reach the recorder at a camera's times, which
/// its reorder hold and key frame requests go by.
const FRAME_INTERVAL: Duration = Duration::from_millis(1000 / FPS as u64);

/// The recorder's side, as the server's recorder thread runs it: the tap's
/// packets in; segments and key frame requests out.
struct Recording {
    feed: Receiver<RecordFeed>,
    recorder: Recorder,
    /// Sequence numbers in the order the tap delivered them.
    seqs: Vec<u16>,
    segments: Vec<FinishedSegment>,
    /// Key frame requests not yet passed on to the SFU.
    keyframes_wanted: usize,
    ended: bool,
}

impl Recording {
    /// Takes everything the tap holds now.
    fn take(&mut self) {
        loop {
            match self.feed.try_recv() {
                Ok(RecordFeed::Packet(p)) => {
                    self.seqs.push(p.seq);
                    let packet = RtpIn { seq: p.seq, timestamp: p.timestamp, marker: p.marker, payload: &p.payload };
                    self.recorder.push(p.arrived, packet);
                }
                Ok(RecordFeed::Ended(_)) => {
                    self.recorder.finish();
                    self.ended = true;
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => panic!("the SFU closed its record tap"),
            }
            while let Some(out) = self.recorder.poll_output() {
                match out {
                    RecorderOutput::Segment(s) => self.segments.push(s),
                    RecorderOutput::NeedKeyframe => self.keyframes_wanted += 1,
                    RecorderOutput::Failed(e) => panic!("the muxer refused a segment: {e}"),
                }
            }
        }
    }
}

/// When each frame ffmpeg decodes from `file` is shown, in frame
/// intervals from the file's start.
///
/// `decodes_cleanly` alone cannot tell a good recording from a damaged
/// one: ffmpeg's VP8 decoder conceals a frame with a hole in it, or one
/// whose reference is missing, without a word. Which frames are in the
/// file can.
fn shown_at(file: &Path) -> Vec<u64> {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0"])
        .arg(file));
    out.split_whitespace()
        .map(|t| {
            let secs: f64 = t.parse().unwrap_or_else(|_| panic!("ffprobe said {t:?}"));
            (secs * f64::from(FPS)).round() as u64
        })
        .collect()
}

#[test]
fn unrepairable_loss_still_gives_a_playable_recording() {
    let dir = tempfile::tempdir().unwrap();
    let frames = vp8_frames(dir.path(), "800x600", FPS, SECS, GOP as u32);
    let keyframe = |f: &[u8]| f[0] & 0x01 == 0;
    assert!(
        frames.iter().enumerate().all(|(i, f)| keyframe(f) == i.is_multiple_of(GOP)),
        "a key frame every {GOP} frames, and only there"
    );
    let mut camera = Packetiser { seq: 1, timestamp: 0, ticks_per_frame: 90_000 / FPS };
    // What the student writes at each frame's turn, in the order written.
    let mut plan: Vec<Vec<TestPacket>> = frames.iter().map(|f| camera.packets(f)).collect();

    // A reordering in the first GOP, which must cost nothing: a frame's
    // last packet (with the marker) is written before the one it follows.
    let reordered = (1..GOP).find(|&i| plan[i].len() >= 3).expect("a delta frame of three packets");
    let n = plan[reordered].len();
    plan[reordered].swap(n - 2, n - 1);
    let swapped = (plan[reordered][n - 2].0, plan[reordered][n - 1].0);

    // The loss, in the middle of the second GOP: the middle packet of a
    // frame, and the first packet of a frame two later (its rest then has
    // no start to be added to). Never written, so never resent.
    let first_loss = (GOP + 2..2 * GOP - 3).find(|&i| plan[i].len() >= 3).expect("a delta frame of three packets");
    let next_key = 2 * GOP;
    let middle = plan[first_loss].len() / 2;
    let mut lost = vec![plan[first_loss].remove(middle).0];
    assert!(plan[first_loss + 2].len() >= 2, "a frame of two packets or more");
    lost.push(plan[first_loss + 2].remove(0).0);
    let written: usize = plan.iter().map(Vec::len).sum();

    let rt = rt();
    let (tap, feed) = RecordTap::channel(4096);
    let sfu = start_sfu(|c| c.recorder = Some(tap));
    // Egress stats tell the student's NACKs.
    let student = Client::with_config(|c| c.set_stats_interval(Some(Duration::from_millis(100))));
    let mut student = connect_publisher(&rt, &sfu, "s1", student);
    rt.block_on(sfu.record(pid("s1"))).expect("recorded");
    let mut rec = Recording {
        feed,
        recorder: Recorder::new(RecorderConfig::default()),
        seqs: Vec::new(),
        segments: Vec::new(),
        keyframes_wanted: 0,
        ended: false,
    };

    // Nothing else asks this student for key frames (nobody watches it):
    // the PLIs it gets are the recorder's.
    let mut plis_before_asking = None;
    let mut asked = 0;
    for frame in &plan {
        for (seq, timestamp, marker, payload) in frame {
            student.write_rtp(u64::from(*seq), *timestamp, *marker, payload.clone());
        }
        // The rest of the frame interval: the student's str0m answers the
        // SFU (NACKs included), the recorder takes what the tap has.
        pump_until(&mut [&mut student], FRAME_INTERVAL, |_| {
            rec.take();
            false
        });
        while rec.keyframes_wanted > 0 {
            rec.keyframes_wanted -= 1;
            let before = student.keyframe_requests;
            plis_before_asking.get_or_insert(before);
            rt.block_on(sfu.request_recording_keyframe(pid("s1"))).expect("asked");
            asked += 1;
            assert!(
                pump_until(&mut [&mut student], Duration::from_secs(5), |c| c[0].keyframe_requests > before),
                "the student got the PLI the recorder asked for"
            );
        }
    }
    assert!(
        pump_until(&mut [&mut student], Duration::from_secs(5), |_| {
            rec.take();
            rec.seqs.len() >= written
        }),
        "every packet written reached the recorder: {} of {written}",
        rec.seqs.len()
    );
    assert!(
        pump_until(&mut [&mut student], Duration::from_secs(5), |c| c[0].nacks_received > 0),
        "the SFU asked the student for the lost packets"
    );
    // The end of the publication finishes the recording.
    rt.block_on(sfu.close(PeerId::Publisher(pid("s1")))).expect("closed");
    assert!(
        pump_until(&mut [], Duration::from_secs(5), |_| {
            rec.take();
            rec.ended
        }),
        "the tap told the end"
    );
    sfu.shutdown();

    let at = |seq: u16| rec.seqs.iter().position(|&s| s == seq);
    assert!(at(swapped.0) < at(swapped.1), "the tap kept the order written: {swapped:?} in {:?}", rec.seqs);
    let stats = rec.recorder.stats();
    assert_eq!(stats.packets_lost, lost.len() as u64, "the loss was not repaired: {stats:?}");
    assert!(asked >= 1, "the recorder asked for a key frame");
    assert_eq!(plis_before_asking, Some(0), "no PLI before the recorder asked");

    let sent = frames.len() as u64;
    // Left out: the frame with the hole and the frames after it up to the
    // next key frame. The count is checked with a little room, then which
    // frames were played, exactly.
    let unusable = (next_key - first_loss) as u64;
    let margin = 2;
    assert!(!rec.segments.is_empty(), "a segment was written");
    let (mut played, mut keyframes, mut duration) = (0, 0, 0.0);
    // Which of the frames sent were played (by the RTP timestamp of each
    // segment's start, from the recording's first frame).
    let mut shown = Vec::new();
    for (i, segment) in rec.segments.iter().enumerate() {
        let file = dir.path().join(format!("segment-{i}.webm"));
        std::fs::write(&file, &segment.file).unwrap();
        decodes_cleanly(&file);
        let (decoded, keys, secs) = probe(&file);
        assert_eq!((decoded, keys), (segment.frames, segment.keyframes), "ffmpeg plays every frame written");
        played += decoded;
        keyframes += keys;
        duration += secs;
        let start = (segment.first_timestamp - rec.segments[0].first_timestamp) / u64::from(camera.ticks_per_frame);
        shown.extend(shown_at(&file).into_iter().map(|at| start + at));
    }
    eprintln!(
        "sent {sent} frames, lost packets {lost:?} from frame {first_loss} (key frame {next_key} next); \
         recorded {played} frames ({keyframes} key) in {} segment(s), {duration:.2} s; \
         {asked} key frame request(s), {} PLI(s), {} NACK(s); {stats:?}",
        rec.segments.len(),
        student.keyframe_requests,
        student.nacks_received,
    );
    assert!(played < sent, "frames after the loss are left out: {played} of {sent}");
    assert!(
        played + unusable + margin >= sent,
        "only frames {first_loss}..{next_key} are left out: {played} of {sent} played"
    );
    let expected_frames: Vec<u64> = (0..sent).filter(|&i| !(first_loss as u64..next_key as u64).contains(&i)).collect();
    assert_eq!(shown, expected_frames, "every frame is played but the broken one and those that refer to it");
    assert!(keyframes >= 2, "recording went on at a key frame after the loss: {keyframes}");
    let expected = f64::from(SECS);
    assert!((duration - expected).abs() <= 1.0, "{duration} s of video, {expected} s sent");
}
