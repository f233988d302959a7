//! Where a recorded student's video leaves the SFU thread: a bounded queue
//! to a recorder that runs elsewhere (issue 17).
//!
//! The SFU thread never waits for the recorder. A full queue drops the
//! packet and counts it (`vigil_sfu_record_dropped_total`): a recorder that
//! falls behind loses video from its recordings (and asks for a key frame
//! to recover), never forwarding time. The packets are the SFU's decrypted
//! RTP, handed over without decoding.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use metrics::{Counter, counter};

use crate::keyframe::VideoCodec;
use crate::router::PublisherId;

/// One recorded packet: the RTP fields a depacketiser needs.
#[derive(Debug)]
pub struct RecordedPacket {
    pub publisher: Arc<PublisherId>,
    pub arrived: Instant,
    pub codec: VideoCodec,
    /// The encoding's SSRC. A simulcast publisher's recorded encoding may
    /// change (see `Router::measure_layer_rates`); sequence numbers and
    /// timestamps start anew with it, so a recorder starts a new recording.
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    /// The SFU's own buffer, shared: recording copies no video.
    pub payload: Arc<[u8]>,
}

/// What the recorder receives, in the order the SFU thread saw it.
#[derive(Debug)]
pub enum RecordFeed {
    Packet(RecordedPacket),
    /// The publication ended (the student left or published anew): finish
    /// its recording. If the queue was full this is lost too, so a
    /// recorder also finishes a recording that has been silent a while.
    Ended(Arc<PublisherId>),
}

/// The sending side, cloned into every worker's router.
#[derive(Debug, Clone)]
pub struct RecordTap {
    tx: mpsc::SyncSender<RecordFeed>,
    dropped: Counter,
}

impl RecordTap {
    /// A tap and the receiver a recorder reads; at most `capacity` items
    /// wait between them (at 46 packets a second per student, 16,384 is
    /// about a third of a second of 1,000 students' video).
    pub fn channel(capacity: usize) -> (RecordTap, mpsc::Receiver<RecordFeed>) {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        (RecordTap { tx, dropped: counter!("vigil_sfu_record_dropped_total") }, rx)
    }

    pub(crate) fn send(&self, item: RecordFeed) {
        if self.tx.try_send(item).is_err() {
            self.dropped.increment(1);
        }
    }
}
