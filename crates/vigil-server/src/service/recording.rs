//! Recording (issue 17): the SFU's recorded packets into stored WebM
//! segments.
//!
//! One thread (`vigil-recorder`) owns a [`Recorder`] per recorded
//! publication and does the depacketising and muxing, away from the SFU
//! thread and the async workers. It stores each finished segment itself
//! (waiting on the store is this thread's time: while it waits, the SFU's
//! bounded tap fills and then drops and counts packets, and forwarding
//! never waits). Key frame requests go back to the SFU as PLIs.
//!
//! A recording ends when its publication ends (the SFU says so), when its
//! packets stop for `IDLE_FINISH` (the end message can be dropped with a
//! full tap), or when the SFU stops.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use metrics::counter;
use sha2::{Digest, Sha256};
use vigil_proto::UnixMillis;
use vigil_record::{FinishedSegment, Recorder, RecorderConfig, RecorderOutput, RtpIn};
use vigil_sfu::keyframe::VideoCodec;
use vigil_sfu::{PublisherId, RecordFeed};
use vigil_store::{RecordingSegmentRow, Store};

use crate::clock::Clock;
use crate::service::{ProctorSession, Service, unavailable};
use vigil_proto::review::RecordingSegment;
use vigil_proto::{RejectReason, Rejection, StudentId};

/// A recording whose packets stopped this long ago is finished.
const IDLE_FINISH: Duration = Duration::from_secs(10);
/// How often a segment's store is tried before the segment is given up.
const STORE_ATTEMPTS: u32 = 3;
/// The pause between two batches from a busy queue (see `RecorderThread::run`).
const BATCH_EVERY: Duration = Duration::from_millis(20);

/// One reading of the monotonic and the wall clock, to place instants.
type Anchor = (Instant, UnixMillis);

/// What the recorder thread needs from the rest of the server.
pub struct RecorderThread {
    pub feed: Receiver<RecordFeed>,
    /// Weak: the recorder must not keep the SFU running (it ends after it).
    pub sfu: vigil_sfu::WeakSfu,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub runtime: tokio::runtime::Handle,
}

struct Recording {
    recorder: Recorder,
    last_packet: Instant,
}

impl RecorderThread {
    /// Runs until every sender of the feed is gone (the SFU stopped), then
    /// finishes and stores what is being recorded.
    ///
    /// It takes the queue in batches: after a turn that found packets it
    /// sleeps `BATCH_EVERY` before the next, so that the SFU thread, which
    /// only wakes a blocked receiver, wakes this one about 50 times a
    /// second instead of once per packet (46,000 times a second at 1,000
    /// students). With nothing queued it blocks until the next packet.
    pub fn run(self) {
        // Instants map to wall-clock time through one reading of both.
        let anchor = (Instant::now(), self.clock.now_ms());
        let mut recordings: HashMap<Arc<PublisherId>, Recording> = HashMap::new();
        let mut idle_checked = Instant::now();
        loop {
            let mut took = 0usize;
            loop {
                match self.feed.try_recv() {
                    Ok(item) => {
                        took += 1;
                        self.take(item, &mut recordings, anchor);
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return self.finish_all(&mut recordings, anchor),
                }
            }
            if idle_checked.elapsed() >= Duration::from_secs(1) {
                idle_checked = Instant::now();
                self.finish_idle(&mut recordings, anchor);
            }
            if took > 0 {
                std::thread::sleep(BATCH_EVERY);
                continue;
            }
            match self.feed.recv_timeout(Duration::from_secs(1)) {
                Ok(item) => self.take(item, &mut recordings, anchor),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return self.finish_all(&mut recordings, anchor),
            }
        }
    }

    fn take(&self, item: RecordFeed, recordings: &mut HashMap<Arc<PublisherId>, Recording>, anchor: Anchor) {
        match item {
            RecordFeed::Packet(p) => {
                if p.codec != VideoCodec::Vp8 {
                    // H.264 is not depacketised yet: counted, not recorded.
                    counter!("vigil_recording_packets_unsupported_total").increment(1);
                    return;
                }
                let rec = recordings.entry(p.publisher.clone()).or_insert_with(|| Recording {
                    recorder: Recorder::new(RecorderConfig::default()),
                    last_packet: p.arrived,
                });
                rec.last_packet = p.arrived;
                rec.recorder.push(
                    p.arrived,
                    RtpIn { seq: p.seq, timestamp: p.timestamp, marker: p.marker, payload: &p.payload },
                );
                self.drain(&p.publisher, &mut rec.recorder, anchor);
            }
            RecordFeed::Ended(id) => {
                if let Some(mut rec) = recordings.remove(&id) {
                    rec.recorder.finish();
                    self.drain(&id, &mut rec.recorder, anchor);
                }
            }
        }
    }

    /// Finishes recordings whose packets stopped `IDLE_FINISH` ago.
    fn finish_idle(&self, recordings: &mut HashMap<Arc<PublisherId>, Recording>, anchor: Anchor) {
        let now = Instant::now();
        let idle: Vec<Arc<PublisherId>> = recordings
            .iter()
            .filter(|(_, r)| now.saturating_duration_since(r.last_packet) >= IDLE_FINISH)
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            if let Some(mut rec) = recordings.remove(&id) {
                rec.recorder.finish();
                self.drain(&id, &mut rec.recorder, anchor);
            }
        }
    }

    fn finish_all(&self, recordings: &mut HashMap<Arc<PublisherId>, Recording>, anchor: Anchor) {
        for (id, mut rec) in recordings.drain() {
            rec.recorder.finish();
            self.drain(&id, &mut rec.recorder, anchor);
        }
    }

    /// Acts on everything the recorder has to say.
    fn drain(&self, id: &Arc<PublisherId>, recorder: &mut Recorder, anchor: Anchor) {
        while let Some(out) = recorder.poll_output() {
            match out {
                RecorderOutput::Segment(s) => self.store_segment(id, s, anchor),
                RecorderOutput::NeedKeyframe => {
                    let Some(sfu) = self.sfu.upgrade() else { continue };
                    let ask = sfu.request_recording_keyframe(PublisherId::clone(id));
                    // The request is queued now; its answer only says
                    // whether the student is still publishing.
                    self.runtime.spawn(async move {
                        let _ = ask.await;
                    });
                }
                RecorderOutput::Failed(e) => {
                    counter!("vigil_recording_segments_lost_total", "why" => "mux").increment(1);
                    tracing::warn!(exam = %id.exam, error = %e, "a recording segment could not be written");
                }
            }
        }
    }

    fn store_segment(&self, id: &PublisherId, s: FinishedSegment, anchor: Anchor) {
        let since_anchor = s.started.saturating_duration_since(anchor.0).as_millis();
        let row = RecordingSegmentRow {
            exam_id: id.exam.clone(),
            student_id: id.student.clone(),
            segment: RecordingSegment {
                sha256: hex::encode(Sha256::digest(&s.webm)),
                started_at: anchor.1.saturating_add(i64::try_from(since_anchor).unwrap_or(i64::MAX)),
                duration_ms: u64::try_from(s.duration.as_millis()).unwrap_or(u64::MAX),
                frames: s.frames,
                keyframes: s.keyframes,
                width: u32::from(s.size.0),
                height: u32::from(s.size.1),
                bytes: s.webm.len() as u64,
            },
        };
        let webm = bytes::Bytes::from(s.webm);
        for attempt in 1..=STORE_ATTEMPTS {
            match self.runtime.block_on(self.store.put_recording_segment(&row, webm.clone())) {
                Ok(()) => {
                    counter!("vigil_recording_segments_stored_total").increment(1);
                    counter!("vigil_recording_bytes_stored_total").increment(row.segment.bytes);
                    return;
                }
                Err(e) if attempt < STORE_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "storing a recording segment failed; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(e) => tracing::error!(exam = %id.exam, error = %e, "a recording segment could not be stored"),
            }
        }
        counter!("vigil_recording_segments_lost_total", "why" => "store").increment(1);
    }
}

impl Service {
    /// A student's recording, as its segments in order, for the exam's
    /// proctors (within their review budget).
    pub async fn recording_index(
        &self,
        sess: &ProctorSession,
        student: &StudentId,
    ) -> Result<Vec<RecordingSegment>, Rejection> {
        self.admit_review(sess)?;
        let cell = self.on_roster(&sess.rt, student).await?;
        let rows = self
            .store
            .recording_segments(sess.rt.id(), cell.id())
            .await
            .map_err(|_| unavailable("the recording could not be read; retry"))?;
        Ok(rows.into_iter().map(|r| r.segment).collect())
    }

    /// The bytes of one of a student's segments, for the exam's proctors.
    pub async fn recording_segment(
        &self,
        sess: &ProctorSession,
        student: &StudentId,
        sha256: &str,
    ) -> Result<bytes::Bytes, Rejection> {
        self.admit_review(sess)?;
        let cell = self.on_roster(&sess.rt, student).await?;
        self.store
            .recording_segment_bytes(sess.rt.id(), cell.id(), sha256)
            .await
            .map_err(|_| unavailable("the recording could not be read; retry"))?
            .ok_or_else(|| Rejection::new(RejectReason::UnknownRecording, format!("{student} has no such segment")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::sync_channel;

    use vigil_proto::{Exam, ExamSettings, ExamWindow};
    use vigil_record::testing::{Packetiser, decodes_cleanly, probe, vp8_frames};
    use vigil_sfu::RecordedPacket;
    use vigil_store::{BlobLocation, DatabaseLocation, Durability, StoreConfig};

    use super::*;
    use crate::clock::ManualClock;

    const T0: UnixMillis = 1_700_000_000_000;

    /// Real VP8 (ffmpeg's test pattern) fed as the SFU feeds the recorder,
    /// through to stored segments that ffprobe decodes frame for frame.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recorded_packets_become_stored_segments_that_decode() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig {
            data_dir: dir.path().to_owned(),
            durability: Durability::Process,
            database: DatabaseLocation::Sqlite,
            blobs: BlobLocation::Local,
        })
        .await
        .unwrap();
        let window = ExamWindow { opens_at: T0, closes_at: T0 + 3_600_000 };
        let exam =
            Exam { id: "e1".parse().unwrap(), title: "Algebra".into(), settings: ExamSettings::with_window(window) };
        store.create_exam(&exam, T0).await.unwrap();
        // An SFU with nobody on it: the recorder's key frame requests are
        // queued and answered `UnknownPeer`.
        let (sfu, sfu_threads) =
            vigil_sfu::Sfu::start(vigil_sfu::SfuConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
        let (tx, feed) = sync_channel(1 << 16);
        let recorder = RecorderThread {
            feed,
            sfu: sfu.downgrade(),
            store: store.clone(),
            clock: Arc::new(ManualClock::new(T0)),
            runtime: tokio::runtime::Handle::current(),
        };
        let thread = std::thread::spawn(move || recorder.run());

        // 70 s of video at 5 fps: one segment cut after a minute, one left.
        let frames = vp8_frames(dir.path(), "160x120", 5, 70, 25);
        let publisher = Arc::new(PublisherId { exam: exam.id.clone(), student: "s1".parse().unwrap() });
        let mut camera = Packetiser { seq: 1, timestamp: 0, ticks_per_frame: 90_000 / 5 };
        let start = Instant::now();
        for (n, frame) in frames.iter().enumerate() {
            let arrived = start + Duration::from_millis(n as u64 * 200);
            for (seq, timestamp, marker, payload) in camera.packets(frame) {
                let p = RecordedPacket {
                    publisher: publisher.clone(),
                    arrived,
                    codec: VideoCodec::Vp8,
                    seq,
                    timestamp,
                    marker,
                    payload: payload.into(),
                };
                tx.send(RecordFeed::Packet(p)).unwrap();
            }
        }
        tx.send(RecordFeed::Ended(publisher.clone())).unwrap();
        // The SFU stopping closes the feed: the thread stores what it has and ends.
        drop(tx);
        tokio::task::spawn_blocking(move || thread.join()).await.unwrap().expect("the recorder ends cleanly");

        let segments: Vec<RecordingSegment> = store
            .recording_segments(&exam.id, &publisher.student)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.segment)
            .collect();
        assert_eq!(segments.len(), 2, "{segments:?}");
        assert_eq!(segments.iter().map(|s| s.frames).sum::<u64>(), frames.len() as u64, "every frame stored");
        // Placed in wall-clock time by their first frames' arrival (the
        // clock stands at T0 from before the first packet).
        assert!(segments[0].started_at >= T0);
        assert_eq!(segments[1].started_at - segments[0].started_at, 60_000);
        for s in &segments {
            let bytes = store.recording_segment_bytes(&exam.id, &publisher.student, &s.sha256).await.unwrap().unwrap();
            assert_eq!(hex::encode(Sha256::digest(&bytes)), s.sha256);
            let file = dir.path().join(format!("{}.webm", s.sha256));
            std::fs::write(&file, &bytes).unwrap();
            let (decoded, keyframes, duration) = probe(&file);
            assert_eq!((decoded, keyframes), (s.frames, s.keyframes));
            assert!(
                (duration * 1000.0 - s.duration_ms as f64).abs() < 300.0,
                "{duration} s against {} ms",
                s.duration_ms
            );
            decodes_cleanly(&file);
        }
        sfu.shutdown();
        drop(sfu);
        tokio::task::spawn_blocking(move || sfu_threads.join()).await.unwrap().unwrap();
    }
}
