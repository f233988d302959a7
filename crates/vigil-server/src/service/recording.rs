//! Recording (issue 17): the SFU's recorded packets into stored WebM
//! segments.
//!
//! One thread (`vigil-recorder`) owns a [`Recorder`] per recorded
//! publication and does the depacketising and muxing, away from the SFU
//! thread and the async workers. It hands each finished segment to a
//! task of its own for storing, so a slow store does not hold up the
//! packets; segments waiting for the store are bounded (`STORE_BACKLOG_MIB`),
//! and past that the thread waits: the SFU's bounded tap then fills and
//! drops and counts packets, and forwarding never waits. Key frame
//! requests go back to the SFU as PLIs.
//!
//! Students who start together would cut their segments together, every
//! minute; each recording's first segment is shortened by an amount of
//! its own (`first_segment_length`) to spread the cuts and the stores.
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
use tokio::sync::Semaphore;
use vigil_proto::UnixMillis;
use vigil_record::{
    AssemblerConfig, Codec, Container, FinishedSegment, Recorder, RecorderConfig, RecorderOutput, RtpIn,
};
use vigil_sfu::keyframe::VideoCodec;
use vigil_sfu::{PublisherId, RecordFeed};
use vigil_store::{RecordingSegmentRow, Store};

use crate::clock::Clock;
use crate::service::{ProctorSession, Service, unavailable};
use vigil_proto::review::{RecordingContainer, RecordingSegment};
use vigil_proto::{RejectReason, Rejection, StudentId};

/// A recording whose packets stopped this long ago is finished.
const IDLE_FINISH: Duration = Duration::from_secs(10);
/// How often a segment's store is tried before the segment is given up.
const STORE_ATTEMPTS: u32 = 3;
/// The pause between two batches from a busy queue (see `RecorderThread::run`).
const BATCH_EVERY: Duration = Duration::from_millis(20);
/// Finished segments waiting for the store, in MiB (a segment counts at
/// least one): the memory a slow store may hold before the recorder waits.
const STORE_BACKLOG_MIB: u32 = 256;

/// The first segment's length for one recording: between half and all of
/// `segment_length`, fixed per student (a hash of the ids), so that the
/// segments of students who joined together are cut and stored apart.
pub fn first_segment_length(id: &PublisherId, segment_length: Duration) -> Duration {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same spread on every run and node.
    let mut h = std::hash::DefaultHasher::new();
    id.exam.as_str().hash(&mut h);
    id.student.as_str().hash(&mut h);
    let half = segment_length / 2;
    let spread_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_millis(h.finish() % spread_ms)
}

/// One reading of the monotonic and the wall clock, to place instants.
type Anchor = (Instant, UnixMillis);

/// Runs one step of one student's recording, and tells whether it returned.
/// The recorder reads what the student's browser sent (and the libraries
/// under it parse an H.264 parameter set, mux a file): if any of that
/// panics on a hostile stream, that student's recording stops there
/// (counted), and the thread goes on with everyone else's.
fn survived(step: impl FnOnce()) -> bool {
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).is_ok();
    if !ok {
        counter!("vigil_recording_panics_total").increment(1);
    }
    ok
}

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
    /// The encoding being recorded, and its codec: another one (the SFU
    /// moved to another simulcast layer, the student published anew) has
    /// its own sequence numbers and timestamps, so the recording in
    /// progress is finished and a new one started.
    ssrc: u32,
    codec: VideoCodec,
    last_packet: Instant,
}

impl Recording {
    fn new(id: &PublisherId, p: &vigil_sfu::RecordedPacket) -> Recording {
        let defaults = RecorderConfig::default();
        let first = first_segment_length(id, defaults.segment_length);
        let codec = match p.codec {
            VideoCodec::Vp8 => Codec::Vp8,
            VideoCodec::H264 => Codec::H264,
        };
        let assembler = AssemblerConfig { codec, ..defaults.assembler.clone() };
        Recording {
            recorder: Recorder::new(RecorderConfig { first_segment_length: Some(first), assembler, ..defaults }),
            ssrc: p.ssrc,
            codec: p.codec,
            last_packet: p.arrived,
        }
    }
}

/// What every step of the thread needs: where instants sit on the wall
/// clock, and the store's backlog.
#[derive(Clone, Copy)]
struct Cx<'a> {
    /// One reading of the monotonic and the wall clock, to place instants.
    anchor: Anchor,
    backlog: &'a Arc<Semaphore>,
}

impl RecorderThread {
    /// Runs until every sender of the feed is gone (the SFU stopped), then
    /// finishes what is being recorded and waits until it is stored.
    pub fn run(self) {
        let backlog = Arc::new(Semaphore::new(STORE_BACKLOG_MIB as usize));
        let cx = Cx { anchor: (Instant::now(), self.clock.now_ms()), backlog: &backlog };
        let mut recordings = HashMap::new();
        self.take_feed(&mut recordings, cx);
        for (id, rec) in recordings.drain() {
            self.finish(&id, rec, cx);
        }
        // Each store in flight holds permits until it is done: all of them
        // back means every segment is stored (or given up).
        let _ = self.runtime.block_on(backlog.acquire_many(STORE_BACKLOG_MIB));
    }

    /// Takes the queue in batches until the SFU is gone: after a turn
    /// that found packets it sleeps `BATCH_EVERY` before the next, so that
    /// the SFU thread, which only wakes a blocked receiver, wakes this one
    /// about 50 times a second instead of once per packet (46,000 times a
    /// second at 1,000 students). With nothing queued it blocks until the
    /// next packet.
    fn take_feed(&self, recordings: &mut HashMap<Arc<PublisherId>, Recording>, cx: Cx<'_>) {
        let mut idle_checked = Instant::now();
        loop {
            let mut took = 0usize;
            loop {
                match self.feed.try_recv() {
                    Ok(item) => {
                        took += 1;
                        self.take(item, recordings, cx);
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            if idle_checked.elapsed() >= Duration::from_secs(1) {
                idle_checked = Instant::now();
                self.finish_idle(recordings, cx);
            }
            if took > 0 {
                std::thread::sleep(BATCH_EVERY);
                continue;
            }
            match self.feed.recv_timeout(Duration::from_secs(1)) {
                Ok(item) => self.take(item, recordings, cx),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn take(&self, item: RecordFeed, recordings: &mut HashMap<Arc<PublisherId>, Recording>, cx: Cx<'_>) {
        match item {
            RecordFeed::Packet(p) => {
                let rec = recordings.entry(p.publisher.clone()).or_insert_with(|| Recording::new(&p.publisher, &p));
                if (rec.ssrc, rec.codec) != (p.ssrc, p.codec) {
                    let was = std::mem::replace(rec, Recording::new(&p.publisher, &p));
                    self.finish(&p.publisher, was, cx);
                }
                rec.last_packet = p.arrived;
                let packet = RtpIn { seq: p.seq, timestamp: p.timestamp, marker: p.marker, payload: &p.payload };
                if !survived(|| rec.recorder.push(p.arrived, packet)) {
                    recordings.remove(&p.publisher);
                    return;
                }
                self.drain(&p.publisher, &mut rec.recorder, cx);
            }
            RecordFeed::Ended(id) => {
                if let Some(rec) = recordings.remove(&id) {
                    self.finish(&id, rec, cx);
                }
            }
        }
    }

    /// Finishes recordings whose packets stopped `IDLE_FINISH` ago.
    fn finish_idle(&self, recordings: &mut HashMap<Arc<PublisherId>, Recording>, cx: Cx<'_>) {
        let now = Instant::now();
        let idle: Vec<Arc<PublisherId>> = recordings
            .iter()
            .filter(|(_, r)| now.saturating_duration_since(r.last_packet) >= IDLE_FINISH)
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            if let Some(rec) = recordings.remove(&id) {
                self.finish(&id, rec, cx);
            }
        }
    }

    /// Ends a recording: its last segment is written and stored.
    fn finish(&self, id: &Arc<PublisherId>, mut rec: Recording, cx: Cx<'_>) {
        if survived(|| rec.recorder.finish()) {
            self.drain(id, &mut rec.recorder, cx);
        }
    }

    /// Acts on everything the recorder has to say.
    fn drain(&self, id: &Arc<PublisherId>, recorder: &mut Recorder, cx: Cx<'_>) {
        while let Some(out) = recorder.poll_output() {
            match out {
                RecorderOutput::Segment(s) => self.store_segment(id, s, cx),
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

    /// Names the segment and hands it to a task that stores it (3 tries),
    /// once the backlog has room for it.
    fn store_segment(&self, id: &PublisherId, s: FinishedSegment, cx: Cx<'_>) {
        let (anchor_instant, anchor_ms) = cx.anchor;
        let since_anchor = s.started.saturating_duration_since(anchor_instant).as_millis();
        let row = RecordingSegmentRow {
            exam_id: id.exam.clone(),
            student_id: id.student.clone(),
            segment: RecordingSegment {
                sha256: hex::encode(Sha256::digest(&s.file)),
                container: match s.container {
                    Container::Webm => RecordingContainer::Webm,
                    Container::Mp4 => RecordingContainer::Mp4,
                },
                started_at: anchor_ms.saturating_add(i64::try_from(since_anchor).unwrap_or(i64::MAX)),
                duration_ms: u64::try_from(s.duration.as_millis()).unwrap_or(u64::MAX),
                frames: s.frames,
                keyframes: s.keyframes,
                width: u32::from(s.size.0),
                height: u32::from(s.size.1),
                bytes: s.file.len() as u64,
            },
        };
        let mib = u32::try_from(s.file.len().div_ceil(1 << 20)).unwrap_or(u32::MAX).clamp(1, STORE_BACKLOG_MIB);
        let permit = match cx.backlog.clone().try_acquire_many_owned(mib) {
            Ok(p) => p,
            Err(_) => {
                // The store is behind: wait here (the SFU's tap takes the strain).
                counter!("vigil_recording_store_waits_total").increment(1);
                match self.runtime.block_on(cx.backlog.clone().acquire_many_owned(mib)) {
                    Ok(p) => p,
                    // Never closed; if it were, storing anyway beats losing video.
                    Err(_) => return self.runtime.block_on(store_with_retries(self.store.clone(), row, s.file.into())),
                }
            }
        };
        let store = self.store.clone();
        self.runtime.spawn(async move {
            store_with_retries(store, row, s.file.into()).await;
            drop(permit);
        });
    }
}

/// Stores one segment, trying `STORE_ATTEMPTS` times a second apart.
async fn store_with_retries(store: Store, row: RecordingSegmentRow, file: bytes::Bytes) {
    for attempt in 1..=STORE_ATTEMPTS {
        match store.put_recording_segment(&row, file.clone()).await {
            Ok(()) => {
                counter!("vigil_recording_segments_stored_total").increment(1);
                counter!("vigil_recording_bytes_stored_total").increment(row.segment.bytes);
                return;
            }
            Err(e) if attempt < STORE_ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "storing a recording segment failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => tracing::error!(exam = %row.exam_id, error = %e, "a recording segment could not be stored"),
        }
    }
    counter!("vigil_recording_segments_lost_total", "why" => "store").increment(1);
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
    ) -> Result<(RecordingSegment, bytes::Bytes), Rejection> {
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
    use std::path::{Path, PathBuf};
    use std::sync::mpsc::sync_channel;

    use vigil_proto::{Exam, ExamSettings, ExamWindow};
    use vigil_record::testing::{H264Packetiser, Packetiser, decodes_cleanly, h264_frames, probe, vp8_frames};
    use vigil_sfu::RecordedPacket;
    use vigil_store::{BlobLocation, DatabaseLocation, Durability, StoreConfig};

    use super::*;
    use crate::clock::ManualClock;

    const T0: UnixMillis = 1_700_000_000_000;

    #[test]
    fn first_segments_are_spread_over_half_a_segment_and_fixed_per_student() {
        let minute = Duration::from_secs(60);
        let lengths: Vec<Duration> = (0..1000)
            .map(|i| {
                let id = PublisherId { exam: "e1".parse().unwrap(), student: format!("s{i}").parse().unwrap() };
                let first = first_segment_length(&id, minute);
                assert_eq!(first, first_segment_length(&id, minute), "the same for the same student");
                assert!((Duration::from_secs(30)..minute).contains(&first), "{first:?}");
                first
            })
            .collect();
        // Spread: a thousand students' first cuts fall into every 3 s of the 30.
        let mut buckets = [0u32; 10];
        for l in &lengths {
            buckets[((l.as_millis() - 30_000) / 3_000) as usize] += 1;
        }
        assert!(buckets.iter().all(|&b| (50..=150).contains(&b)), "{buckets:?}");
    }

    /// A store with exam `e1`, an SFU with nobody on it (the recorder's
    /// key frame requests are queued and answered `UnknownPeer`), and a
    /// recorder thread on its feed.
    struct Rig {
        dir: tempfile::TempDir,
        store: Store,
        exam: Exam,
        sfu: vigil_sfu::Sfu,
        sfu_threads: vigil_sfu::SfuThreads,
        tx: std::sync::mpsc::SyncSender<RecordFeed>,
        thread: std::thread::JoinHandle<()>,
    }

    async fn rig() -> Rig {
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
        Rig { dir, store, exam, sfu, sfu_threads, tx, thread }
    }

    impl Rig {
        /// Closes the feed as the SFU stopping does, waits for the thread to
        /// store what it has, stops the SFU; the student's segments.
        async fn finish(self, student: &StudentId) -> (tempfile::TempDir, Store, Vec<RecordingSegment>) {
            drop(self.tx);
            let thread = self.thread;
            tokio::task::spawn_blocking(move || thread.join()).await.unwrap().expect("the recorder ends cleanly");
            self.sfu.shutdown();
            drop(self.sfu);
            let threads = self.sfu_threads;
            tokio::task::spawn_blocking(move || threads.join()).await.unwrap().unwrap();
            let segments =
                self.store.recording_segments(&self.exam.id, student).await.unwrap().into_iter().map(|r| r.segment);
            (self.dir, self.store, segments.collect())
        }
    }

    /// A stored segment read back through the store (its bytes hash to its
    /// name), written to `dir` as the file its container says, and decoded
    /// by ffmpeg without a complaint: the file, for ffprobe.
    async fn stored_file(store: &Store, publisher: &PublisherId, s: &RecordingSegment, dir: &Path) -> PathBuf {
        let (row, bytes) =
            store.recording_segment_bytes(&publisher.exam, &publisher.student, &s.sha256).await.unwrap().unwrap();
        assert_eq!((&row, hex::encode(Sha256::digest(&bytes))), (s, s.sha256.clone()));
        let file = dir.join(format!("{}.{}", s.sha256, s.container.as_str()));
        std::fs::write(&file, &bytes).unwrap();
        decodes_cleanly(&file);
        file
    }

    fn packet(publisher: &Arc<PublisherId>, arrived: Instant, ssrc: u32, p: (u16, u32, bool, Vec<u8>)) -> RecordFeed {
        coded(VideoCodec::Vp8, publisher, arrived, ssrc, p)
    }

    fn coded(
        codec: VideoCodec,
        publisher: &Arc<PublisherId>,
        arrived: Instant,
        ssrc: u32,
        p: (u16, u32, bool, Vec<u8>),
    ) -> RecordFeed {
        let (seq, timestamp, marker, payload) = p;
        RecordFeed::Packet(RecordedPacket {
            publisher: publisher.clone(),
            arrived,
            codec,
            ssrc,
            seq,
            timestamp,
            marker,
            payload: payload.into(),
        })
    }

    /// The SFU moving a simulcast publisher's recording to another layer:
    /// the new encoding's numbering starts a new recording (a segment of
    /// its own), and neither loses a frame.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_layer_starts_a_new_segment() {
        let rig = rig().await;
        // 20 s at 5 fps, a key frame every 5 s: layer 1's first ten seconds, layer 2's next ten.
        let frames = vp8_frames(rig.dir.path(), "160x120", 5, 20, 25);
        let publisher = Arc::new(PublisherId { exam: rig.exam.id.clone(), student: "s1".parse().unwrap() });
        let mut layers = [
            (1, Packetiser { seq: 1, timestamp: 0, ticks_per_frame: 90_000 / 5 }),
            (2, Packetiser { seq: 40_000, timestamp: 123_456_789, ticks_per_frame: 90_000 / 5 }),
        ];
        let start = Instant::now();
        for (n, frame) in frames.iter().enumerate() {
            let arrived = start + Duration::from_millis(n as u64 * 200);
            let (ssrc, camera) = &mut layers[n / 50];
            for p in camera.packets(frame) {
                rig.tx.send(packet(&publisher, arrived, *ssrc, p)).unwrap();
            }
        }
        let dir = rig.dir.path().to_owned();
        let (_dir, store, segments) = rig.finish(&publisher.student).await;
        assert_eq!(segments.iter().map(|s| s.frames).collect::<Vec<_>>(), [50, 50], "{segments:?}");
        assert_eq!(segments[1].started_at - segments[0].started_at, 10_000);
        for s in &segments {
            assert_eq!(probe(&stored_file(&store, &publisher, s, &dir).await).0, 50);
        }
    }

    /// A student whose browser publishes H.264 is recorded as MP4, stored
    /// as such, and plays frame for frame.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn h264_is_stored_as_mp4() {
        let rig = rig().await;
        let dir = rig.dir.path().to_owned();
        let frames = h264_frames(&dir, "320x240", 10, 6, 20);
        let publisher = Arc::new(PublisherId { exam: rig.exam.id.clone(), student: "s1".parse().unwrap() });
        let mut camera = H264Packetiser { seq: 7, timestamp: 0, ticks_per_frame: 9_000 };
        let start = Instant::now();
        for (n, frame) in frames.iter().enumerate() {
            let arrived = start + Duration::from_millis(n as u64 * 100);
            for p in camera.packets(frame) {
                rig.tx.send(coded(VideoCodec::H264, &publisher, arrived, 1, p)).unwrap();
            }
        }
        let (_dir, store, segments) = rig.finish(&publisher.student).await;
        assert_eq!(segments.len(), 1, "{segments:?}");
        let s = &segments[0];
        assert_eq!((s.container, s.frames, s.keyframes, s.width, s.height), (RecordingContainer::Mp4, 60, 3, 320, 240));
        assert_eq!(probe(&stored_file(&store, &publisher, s, &dir).await).0, 60);
    }

    /// Real VP8 (ffmpeg's test pattern) fed as the SFU feeds the recorder,
    /// through to stored segments that ffprobe decodes frame for frame.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recorded_packets_become_stored_segments_that_decode() {
        let rig = rig().await;
        let dir = rig.dir.path().to_owned();
        let exam = rig.exam.clone();
        // 70 s of video at 5 fps: one segment cut after 30–60 s, one left.
        let frames = vp8_frames(&dir, "160x120", 5, 70, 25);
        let publisher = Arc::new(PublisherId { exam: exam.id.clone(), student: "s1".parse().unwrap() });
        let mut camera = Packetiser { seq: 1, timestamp: 0, ticks_per_frame: 90_000 / 5 };
        let start = Instant::now();
        for (n, frame) in frames.iter().enumerate() {
            let arrived = start + Duration::from_millis(n as u64 * 200);
            for p in camera.packets(frame) {
                rig.tx.send(packet(&publisher, arrived, 1, p)).unwrap();
            }
        }
        rig.tx.send(RecordFeed::Ended(publisher.clone())).unwrap();
        // The SFU stopping closes the feed: the thread stores what it has and ends.
        let (_dir, store, segments) = rig.finish(&publisher.student).await;
        assert_eq!(segments.len(), 2, "{segments:?}");
        assert_eq!(segments.iter().map(|s| s.frames).sum::<u64>(), frames.len() as u64, "every frame stored");
        // Placed in wall-clock time by their first frames' arrival (the
        // clock stands at T0 from before the first packet).
        assert!(segments[0].started_at >= T0);
        // The first cut is at the first key frame (every 5 s) after this
        // student's first segment length.
        let first = first_segment_length(&publisher, Duration::from_secs(60)).as_millis() as u64;
        assert_eq!(segments[1].started_at - segments[0].started_at, (first.div_ceil(5_000) * 5_000) as i64);
        for s in &segments {
            let (decoded, keyframes, duration) = probe(&stored_file(&store, &publisher, s, &dir).await);
            assert_eq!((decoded, keyframes), (s.frames, s.keyframes));
            assert!(
                (duration * 1000.0 - s.duration_ms as f64).abs() < 300.0,
                "{duration} s against {} ms",
                s.duration_ms
            );
        }
    }
}
