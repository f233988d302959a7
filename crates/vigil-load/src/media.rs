//! Video over the SFU, as browsers do it: each simulated student publishes
//! one VP8 camera stream from a str0m client, and each simulated proctor
//! subscribes with `K` receive slots and watches `K` students.
//!
//! The VP8 is synthetic: real RTP packetisation (payload descriptor with a
//! 15-bit PictureID, frame tag with the key/delta bit, keyframe start code
//! and dimensions), with filler in place of coded macroblocks. The SFU never
//! decodes, so to it this is indistinguishable from a camera; what it costs
//! is packets and bytes, which match the configured bitrate and frame rate.
//!
//! Loss is measured at the watcher from the SFU's rewritten sequence
//! numbers: on one slot they are continuous, so a gap is a lost packet.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::{oneshot, watch};
use vigil_proto::events::names;

use crate::sim::Stats;
use crate::sio::SioClient;

/// What each simulated camera sends.
#[derive(Debug, Clone)]
pub struct VideoConfig {
    pub bitrate_bps: u32,
    pub fps: u32,
    /// A periodic keyframe, as encoders insert; PLIs get one at once.
    pub keyframe_every: Duration,
}

impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig { bitrate_bps: 300_000, fps: 15, keyframe_every: Duration::from_secs(3) }
    }
}

/// RTP payload bytes per packet, below a 1,200-byte datagram once the RTP
/// header, SRTP tag and header extensions are added (what browsers aim for).
const MAX_PAYLOAD: usize = 1_100;
/// Keyframes are this many times a delta frame's size, as in real streams.
const KEYFRAME_FACTOR: usize = 3;
const VP8_CLOCK_HZ: u32 = 90_000;
/// Starts the filler of every frame, followed by the camera's tag (big
/// endian): the SFU forwards payloads untouched, so a watcher can tell whose
/// video reached a slot without trusting the timing of a switch.
const TAG_MAGIC: &[u8; 4] = b"VGLt";
/// The camera the synthetic keyframes claim to be.
const WIDTH: u16 = 640;
const HEIGHT: u16 = 480;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("udp: {0}")]
    Io(#[from] std::io::Error),
    #[error("webrtc: {0}")]
    Rtc(#[from] str0m::RtcError),
    #[error("sdp: {0}")]
    Sdp(String),
    #[error("signalling: {0}")]
    Signalling(String),
    #[error("refused: {reason}")]
    Refused { reason: String, retry_after_ms: Option<u64> },
}

/// Offers made again after a refusal that asks for a retry (`unavailable`
/// with `retry_after_ms`: the SFU's queue was full), as the protocol says a
/// client does; bounded, so a server that stays busy is reported.
const OFFER_ATTEMPTS: u32 = 8;

/// What ended a peer's wait.
enum Woke {
    Input,
    Deadline,
    /// The run or the connection ended.
    Ended,
}

/// One str0m client on its own UDP socket.
struct Peer {
    rtc: Rtc,
    sock: UdpSocket,
    local: SocketAddr,
    next_timeout: Instant,
}

impl Peer {
    async fn new(local_ip: IpAddr) -> Result<Peer, MediaError> {
        let sock = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await?;
        let local = sock.local_addr()?;
        let mut rtc = RtcConfig::new().set_rtp_mode(true).set_stats_interval(None).build(Instant::now());
        let candidate = Candidate::host(local, "udp").map_err(|e| MediaError::Sdp(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        Ok(Peer { rtc, sock, local, next_timeout: Instant::now() })
    }

    /// Offers `count` video m-lines, sends the offer as `event` and applies
    /// the SFU's answer.
    async fn negotiate(
        &mut self,
        client: &SioClient,
        event: &str,
        count: usize,
        dir: Direction,
    ) -> Result<Vec<Mid>, MediaError> {
        let mut api = self.rtc.sdp_api();
        let mids: Vec<Mid> = (0..count).map(|_| api.add_media(MediaKind::Video, dir, None, None, None)).collect();
        let (offer, pending): (_, SdpPendingOffer) =
            api.apply().ok_or_else(|| MediaError::Sdp("nothing to offer".into()))?;
        let ack = client
            .emit_with_ack(event, &json!({ "sdp": offer.to_sdp_string() }), Duration::from_secs(10))
            .await
            .map_err(|e| MediaError::Signalling(e.to_string()))?;
        let Some(sdp) = ack.get("sdp").and_then(Value::as_str) else {
            return Err(MediaError::Refused {
                reason: format!(
                    "{} ({})",
                    ack.get("reason").and_then(Value::as_str).unwrap_or("no answer"),
                    ack.get("message").and_then(Value::as_str).unwrap_or(""),
                ),
                retry_after_ms: ack.get("retry_after_ms").and_then(Value::as_u64),
            });
        };
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| MediaError::Sdp(e.to_string()))?;
        self.rtc.sdp_api().accept_answer(pending, answer)?;
        Ok(mids)
    }

    /// A new peer and its negotiation, offered again (on a new peer) while
    /// the server asks to retry.
    async fn negotiated(
        local_ip: IpAddr,
        client: &SioClient,
        event: &str,
        count: usize,
        dir: Direction,
    ) -> Result<(Peer, Vec<Mid>), MediaError> {
        let mut attempt = 1;
        loop {
            let mut peer = Peer::new(local_ip).await?;
            match peer.negotiate(client, event, count, dir).await {
                Ok(mids) => return Ok((peer, mids)),
                Err(MediaError::Refused { retry_after_ms: Some(wait), .. }) if attempt < OFFER_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn vp8_pt(&self) -> Option<Pt> {
        self.rtc.codec_config().params().iter().find(|p| p.spec().codec == Codec::Vp8).map(|p| p.pt())
    }

    /// Sends what str0m has queued and hands its events to `on_event`;
    /// returns false once the connection is gone.
    fn flush(&mut self, stats: &Stats, mut on_event: impl FnMut(Event)) -> bool {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    return true;
                }
                Ok(Output::Transmit(t)) => {
                    // Non-blocking: a full socket buffer is loss the watcher
                    // will see, which is what we want to measure.
                    match self.sock.try_send_to(&t.contents, t.destination) {
                        Ok(_) if is_rtp(&t.contents) => {
                            stats.rtp_sent.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(_) => stats.error("rtp: send buffer full"),
                    }
                }
                Ok(Output::Event(Event::IceConnectionStateChange(IceConnectionState::Disconnected))) => return false,
                Ok(Output::Event(e)) => on_event(e),
                Err(e) => {
                    stats.error(format!("webrtc: {e}"));
                    return false;
                }
            }
        }
    }

    fn receive(&mut self, data: &[u8], source: SocketAddr) {
        if let Ok(r) = Receive::new(Protocol::Udp, source, self.local, data) {
            let _ = self.rtc.handle_input(Input::Receive(Instant::now(), r));
        }
    }

    /// Waits for a datagram (handed to str0m), the `wake` deadline, or the
    /// end of the run or of the Socket.IO connection the peer belongs to.
    async fn wait(
        &mut self,
        wake: Instant,
        stop: &mut watch::Receiver<bool>,
        alive: &mut oneshot::Receiver<()>,
        buf: &mut [u8],
    ) -> Result<Woke, std::io::Error> {
        tokio::select! {
            _ = stop.changed() => Ok(if *stop.borrow() { Woke::Ended } else { Woke::Input }),
            _ = alive => Ok(Woke::Ended),
            r = self.sock.recv_from(buf) => {
                let (n, src) = r?;
                self.receive(&buf[..n], src);
                Ok(Woke::Input)
            }
            _ = tokio::time::sleep_until(wake.into()) => Ok(Woke::Deadline),
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        if now >= self.next_timeout {
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
    }
}

/// SRTP leaves the RTP header in the clear: version 2, and a payload type
/// outside the 64–95 that RTCP packet types 192–223 become once the marker bit is masked (RFC 5761 §4).
fn is_rtp(datagram: &[u8]) -> bool {
    datagram.len() >= 12 && datagram[0] >> 6 == 2 && !(64..=95).contains(&(datagram[1] & 0x7f))
}

/// The tag of the camera that sent `payload`, the first packet of a VP8
/// frame from [`Camera`] (RFC 7741's payload descriptor, then the frame
/// tag and, in a keyframe, the start code and dimensions); `None` for any
/// other packet.
pub fn camera_tag(payload: &[u8]) -> Option<u32> {
    let first = *payload.first()?;
    let (extended, start, partition) = (first & 0x80 != 0, first & 0x10 != 0, first & 0x07);
    if !start || partition != 0 {
        return None;
    }
    let mut at = 1;
    if extended {
        let ext = *payload.get(at)?;
        at += 1;
        if ext & 0x80 != 0 {
            // PictureID: 7 bits, or 15 with the M bit.
            at += if payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if ext & 0x30 != 0 {
            at += 1; // TID / KEYIDX
        }
    }
    let keyframe = payload.get(at)? & 0x01 == 0;
    at += if keyframe { 10 } else { 3 };
    let body = payload.get(at..at + 8)?;
    (&body[..4] == TAG_MAGIC).then(|| u32::from_be_bytes([body[4], body[5], body[6], body[7]]))
}

/// The address the SFU can reach this machine on: the source address the
/// kernel picks towards the server (127.0.0.1 on loopback).
pub fn local_ip_towards(base: &str) -> IpAddr {
    let host = base.split("://").nth(1).unwrap_or(base).split(['/', ':']).next().unwrap_or("127.0.0.1");
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        s.connect((host, 9))?;
        s.local_addr()
    });
    probe.map(|a| a.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A synthetic VP8 camera: frame sizes from the bitrate, keyframes on a
/// period and on request, packetised as a browser would.
struct Camera {
    cfg: VideoConfig,
    seq: u64,
    rtp_time: u32,
    picture_id: u16,
    last_key: Option<Instant>,
    key_requested: bool,
    filler: Vec<u8>,
}

impl Camera {
    fn new(cfg: VideoConfig, tag: u32) -> Camera {
        let fps = cfg.fps.max(1);
        let frames_per_key =
            ((cfg.keyframe_every.as_secs_f64() * f64::from(fps)).round() as usize).max(KEYFRAME_FACTOR + 1);
        // Delta frames shrink so that keyframes keep the average at the bitrate.
        let per_frame = cfg.bitrate_bps as usize / 8 / fps as usize;
        let delta = (per_frame * frames_per_key).saturating_sub(KEYFRAME_FACTOR * per_frame) / (frames_per_key - 1);
        let mut filler = vec![0x5a; delta.max(16) * KEYFRAME_FACTOR];
        filler[..4].copy_from_slice(TAG_MAGIC);
        filler[4..8].copy_from_slice(&tag.to_be_bytes());
        Camera {
            cfg,
            seq: u64::from(rand::random::<u16>()),
            rtp_time: rand::random(),
            picture_id: rand::random::<u16>() & 0x7fff,
            last_key: None,
            key_requested: false,
            filler,
        }
    }

    fn frame_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / f64::from(self.cfg.fps.max(1)))
    }

    /// The payloads of the next frame, and whether it is a keyframe.
    fn next_frame(&mut self, now: Instant) -> (Vec<Vec<u8>>, bool) {
        let key = self.key_requested || self.last_key.is_none_or(|t| now.duration_since(t) >= self.cfg.keyframe_every);
        if key {
            self.last_key = Some(now);
            self.key_requested = false;
        }
        let size = if key { self.filler.len() } else { self.filler.len() / KEYFRAME_FACTOR };
        let mut header = Vec::with_capacity(10);
        if key {
            // Frame tag with P=0 (key), version 0, shown; then the start
            // code and the dimensions, as RFC 6386 §9.1 lays them out.
            header.extend_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
            header.extend_from_slice(&WIDTH.to_le_bytes());
            header.extend_from_slice(&HEIGHT.to_le_bytes());
        } else {
            header.extend_from_slice(&[0x11, 0x02, 0x00]);
        }
        let body_len = size.max(header.len());
        let mut packets = Vec::with_capacity(body_len / MAX_PAYLOAD + 1);
        let mut offset = 0;
        while offset < body_len {
            let take = (body_len - offset).min(MAX_PAYLOAD);
            let start = offset == 0;
            // Descriptor: X=1, S on the first packet, partition 0; I=1; M=1 with a 15-bit PictureID.
            let mut p = Vec::with_capacity(4 + take);
            p.extend_from_slice(&[
                0x80 | if start { 0x10 } else { 0 },
                0x80,
                0x80 | (self.picture_id >> 8) as u8,
                self.picture_id as u8,
            ]);
            if start {
                p.extend_from_slice(&header);
                p.extend_from_slice(&self.filler[..take - header.len()]);
            } else {
                p.extend_from_slice(&self.filler[..take]);
            }
            packets.push(p);
            offset += take;
        }
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        (packets, key)
    }
}

/// Publishes one student's camera until `stop` or until `alive` is dropped
/// (the student's Socket.IO connection went away, so the SFU closed the
/// publication). Counts packets sent and keyframe requests answered.
#[allow(clippy::too_many_arguments)] // one camera's whole context; a struct would only rename them
pub async fn publish(
    client: SioClient,
    local_ip: IpAddr,
    cfg: VideoConfig,
    tag: u32,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
    mut alive: oneshot::Receiver<()>,
    mut on_connected: Option<oneshot::Sender<()>>,
) {
    let (mut peer, mids) = match Peer::negotiated(local_ip, &client, names::RTC_PUBLISH, 1, Direction::SendOnly).await {
        Ok(p) => p,
        Err(e) => return stats.error(format!("publish: {e}")),
    };
    let (Some(&mid), Some(pt)) = (mids.first(), peer.vp8_pt()) else {
        return stats.error("publish: the answer has no VP8");
    };
    let mut camera = Camera::new(cfg, tag);
    let mut connected = false;
    let mut next_frame = Instant::now();
    let mut buf = vec![0u8; 2048];
    loop {
        let mut key_requested = false;
        let open = peer.flush(&stats, |e| match e {
            Event::Connected => connected = true,
            Event::KeyframeRequest(_) => key_requested = true,
            _ => {}
        });
        if !open {
            return stats.error("publish: ICE disconnected");
        }
        if connected && let Some(tx) = on_connected.take() {
            let _ = tx.send(());
        }
        if key_requested {
            camera.key_requested = true;
            stats.rtp_keyframe_requests.fetch_add(1, Ordering::Relaxed);
        }
        let wake = if connected { peer.next_timeout.min(next_frame) } else { peer.next_timeout };
        match peer.wait(wake, &mut stop, &mut alive, &mut buf).await {
            Err(e) => return stats.error(format!("publish: udp: {e}")),
            Ok(Woke::Ended) => return,
            Ok(Woke::Input) => {}
            Ok(Woke::Deadline) => {
                let now = Instant::now();
                if connected && now >= next_frame {
                    // Catch up from a stall by skipping, not bursting: a camera does not queue frames.
                    next_frame = (next_frame + camera.frame_interval()).max(now);
                    let (packets, _key) = camera.next_frame(now);
                    let count = packets.len();
                    let mut api = peer.rtc.direct_api();
                    let Some(tx) = api.stream_tx_by_mid(mid, None) else {
                        return stats.error("publish: no send stream after connecting");
                    };
                    for (i, payload) in packets.into_iter().enumerate() {
                        let write = RtpWrite::new(pt, camera.seq.into(), camera.rtp_time, now, payload)
                            .marker(i + 1 == count)
                            .nackable(true);
                        tx.write_rtp(write);
                        camera.seq += 1;
                    }
                    camera.rtp_time = camera.rtp_time.wrapping_add(VP8_CLOCK_HZ / camera.cfg.fps.max(1));
                }
                peer.tick();
            }
        }
    }
}

/// One proctor's video: subscribes with one slot per student in `students`,
/// watches them, and counts the RTP that arrives and the gaps in it.
pub async fn watch_students(
    client: SioClient,
    local_ip: IpAddr,
    students: Vec<String>,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
    mut alive: oneshot::Receiver<()>,
) {
    if students.is_empty() {
        return;
    }
    let (mut peer, _) =
        match Peer::negotiated(local_ip, &client, names::RTC_SUBSCRIBE, students.len(), Direction::RecvOnly).await {
            Ok(p) => p,
            Err(e) => return stats.error(format!("subscribe: {e}")),
        };
    let mut connected = false;
    // Slots still to bind; a refused watch (student not yet publishing) is retried.
    let mut unbound: Vec<u32> = (0..students.len() as u32).collect();
    let mut retry_at = Instant::now();
    // The SFU gives each slot its own SSRC: the last sequence number per SSRC.
    let mut last_seq: HashMap<u32, u64> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    loop {
        let open = peer.flush(&stats, |e| match e {
            Event::Connected => connected = true,
            Event::RtpPacket(p) => {
                let seq = *p.seq_no;
                match last_seq.get(&*p.header.ssrc).copied() {
                    Some(last) if seq <= last => {
                        stats.rtp_reordered.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Some(last) => {
                        stats.rtp_lost.fetch_add(seq - last - 1, Ordering::Relaxed);
                    }
                    None => {}
                }
                last_seq.insert(*p.header.ssrc, seq);
                stats.rtp_received.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        });
        if !open {
            return stats.error("subscribe: ICE disconnected");
        }
        if connected && !unbound.is_empty() && Instant::now() >= retry_at {
            let mut still = Vec::new();
            for slot in unbound {
                let req = json!({ "slot": slot, "student_id": students[slot as usize], "quality": "thumbnail" });
                match client.emit_with_ack(names::WATCH, &req, Duration::from_secs(10)).await {
                    Ok(ack) if ack.get("status").and_then(Value::as_str) == Some("ok") => {}
                    Ok(ack) if ack.get("reason").and_then(Value::as_str) == Some("not_publishing") => still.push(slot),
                    Ok(ack) => {
                        stats.error(format!(
                            "watch refused: {}",
                            ack.get("reason").and_then(Value::as_str).unwrap_or("unknown")
                        ));
                    }
                    Err(e) => {
                        stats.error(format!("watch: {e}"));
                        still.push(slot);
                    }
                }
            }
            unbound = still;
            retry_at = Instant::now() + Duration::from_millis(500);
        }
        let wake = if unbound.is_empty() || !connected { peer.next_timeout } else { peer.next_timeout.min(retry_at) };
        match peer.wait(wake, &mut stop, &mut alive, &mut buf).await {
            Err(e) => return stats.error(format!("subscribe: udp: {e}")),
            Ok(Woke::Ended) => return,
            Ok(Woke::Input) => {}
            Ok(Woke::Deadline) => peer.tick(),
        }
    }
}

/// A student to be seen live by a proctor: their index (their camera's
/// tag), their id on the exam, and where to say when their video arrived
/// (dropped unsent if the proctor gave up on them).
pub struct LiveRequest {
    pub idx: u32,
    pub student_id: String,
    pub seen: oneshot::Sender<Instant>,
}

/// How long a bound slot waits for the student's first frame before the
/// student is watched again (a keyframe request answered on loopback takes
/// milliseconds; this only catches a watch lost in a re-publish).
const LIVE_SLOT_PATIENCE: Duration = Duration::from_secs(5);
/// A watch refused with `not_publishing` (the publication is not up yet)
/// is asked again after this long.
const NOT_PUBLISHING_RETRY: Duration = Duration::from_millis(250);

/// One proctor's receive slots used as a turnstile, as a proctor pages
/// through the tiles of students who just arrived: each student from
/// `arrivals` is watched in a free slot until the first frame *their*
/// camera sent (by its tag, not by timing) reaches this proctor; then the
/// slot takes the next student.
#[allow(clippy::too_many_arguments)] // one proctor's whole context
pub async fn watch_arrivals(
    client: SioClient,
    local_ip: IpAddr,
    slots: usize,
    mut arrivals: tokio::sync::mpsc::UnboundedReceiver<LiveRequest>,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
    mut alive: oneshot::Receiver<()>,
) {
    let (mut peer, mids) =
        match Peer::negotiated(local_ip, &client, names::RTC_SUBSCRIBE, slots, Direction::RecvOnly).await {
            Ok(p) => p,
            Err(e) => return stats.error(format!("subscribe: {e}")),
        };
    let mut connected = false;
    let mut bound: Vec<Option<(LiveRequest, Instant)>> = (0..mids.len()).map(|_| None).collect();
    // Slots still forwarding the last student seen in them: emptied once
    // nobody waits, so that a proctor between arrivals receives nothing
    // (on a shaped link, idle slots would take the bandwidth of the next).
    let mut streaming: Vec<bool> = vec![false; mids.len()];
    let mut waiting: std::collections::VecDeque<(LiveRequest, Instant)> = std::collections::VecDeque::new();
    let mut arrivals_open = true;
    let mut buf = vec![0u8; 2048];
    loop {
        let mut frames: Vec<(u32, Option<u32>)> = Vec::new();
        let open = peer.flush(&stats, |e| match e {
            Event::Connected => connected = true,
            Event::RtpPacket(p) => {
                stats.rtp_received.fetch_add(1, Ordering::Relaxed);
                frames.push((*p.header.ssrc, camera_tag(&p.payload)));
            }
            _ => {}
        });
        if !open {
            return stats.error("subscribe: ICE disconnected");
        }
        let now = Instant::now();
        for (ssrc, tag) in frames {
            let Some(tag) = tag else { continue };
            let Some(mid) = peer.rtc.direct_api().stream_rx(&ssrc.into()).map(|s| s.mid()) else { continue };
            let Some(slot) = mids.iter().position(|m| *m == mid) else { continue };
            if bound[slot].as_ref().is_some_and(|(req, _)| req.idx == tag)
                && let Some((req, _)) = bound[slot].take()
            {
                let _ = req.seen.send(now);
                streaming[slot] = true;
            }
        }
        for slot in &mut bound {
            if slot.as_ref().is_some_and(|(_, at)| now.duration_since(*at) > LIVE_SLOT_PATIENCE)
                && let Some((req, _)) = slot.take()
            {
                stats.error("live check: no frame within 5 s of the watch; watched again");
                waiting.push_back((req, now));
            }
        }
        if connected {
            for slot in 0..bound.len() {
                if bound[slot].is_some() {
                    continue;
                }
                let Some(pos) = waiting.iter().position(|(_, not_before)| *not_before <= now) else { break };
                let Some((req, _)) = waiting.remove(pos) else { break };
                let ask = json!({ "slot": slot, "student_id": req.student_id, "quality": "thumbnail" });
                match client.emit_with_ack(names::WATCH, &ask, Duration::from_secs(10)).await {
                    Ok(ack) if ack.get("status").and_then(Value::as_str) == Some("ok") => {
                        bound[slot] = Some((req, Instant::now()));
                        streaming[slot] = true;
                    }
                    Ok(ack) if ack.get("reason").and_then(Value::as_str) == Some("not_publishing") => {
                        waiting.push_back((req, Instant::now() + NOT_PUBLISHING_RETRY));
                    }
                    Ok(ack) => stats.error(format!(
                        "watch refused: {}",
                        ack.get("reason").and_then(Value::as_str).unwrap_or("unknown")
                    )),
                    Err(e) => {
                        stats.error(format!("watch: {e}"));
                        waiting.push_back((req, Instant::now() + NOT_PUBLISHING_RETRY));
                    }
                }
            }
        }
        if connected && waiting.is_empty() {
            for slot in 0..bound.len() {
                if bound[slot].is_none() && streaming[slot] {
                    // Awaited, so that a later watch of this slot cannot overtake it.
                    match client.emit_with_ack(names::UNWATCH, &json!({ "slot": slot }), Duration::from_secs(10)).await
                    {
                        Ok(_) => streaming[slot] = false,
                        Err(e) => stats.error(format!("unwatch: {e}")),
                    }
                }
            }
        }
        let mut wake = peer.next_timeout;
        if connected
            && bound.iter().any(Option::is_none)
            && let Some(t) = waiting.iter().map(|(_, t)| *t).min()
        {
            wake = wake.min(t);
        }
        if let Some(t) = bound.iter().flatten().map(|(_, at)| *at + LIVE_SLOT_PATIENCE).min() {
            wake = wake.min(t);
        }
        tokio::select! {
            _ = stop.changed() => if *stop.borrow() { return },
            _ = &mut alive => return,
            r = peer.sock.recv_from(&mut buf) => match r {
                Ok((n, src)) => peer.receive(&buf[..n], src),
                Err(e) => return stats.error(format!("subscribe: udp: {e}")),
            },
            req = arrivals.recv(), if arrivals_open => match req {
                Some(req) => waiting.push_back((req, Instant::now())),
                None => arrivals_open = false,
            },
            _ = tokio::time::sleep_until(wake.into()) => peer.tick(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_average_the_bitrate_and_start_keyframes() {
        let cfg = VideoConfig::default();
        let mut cam = Camera::new(cfg.clone(), 7);
        let t0 = Instant::now();
        let mut bytes = 0usize;
        let mut keys = 0;
        let frames = cfg.fps as usize * 30;
        for i in 0..frames {
            let (packets, key) = cam.next_frame(t0 + cam.frame_interval() * i as u32);
            assert!(packets.iter().all(|p| p.len() <= MAX_PAYLOAD + 4));
            // Only the first packet starts the partition; its frame tag carries the key bit.
            assert_eq!(packets[0][0] & 0x10, 0x10);
            assert!(packets[1..].iter().all(|p| p[0] & 0x10 == 0));
            assert_eq!(packets[0][4] & 0x01 == 0, key);
            keys += usize::from(key);
            bytes += packets.iter().map(|p| p.len() - 4).sum::<usize>();
        }
        let bps = bytes as f64 * 8.0 / 30.0;
        assert!((bps / f64::from(cfg.bitrate_bps) - 1.0).abs() < 0.05, "{bps} bit/s");
        assert_eq!(keys, 10, "one keyframe every 3 s over 30 s");
    }

    #[test]
    fn every_frame_says_whose_camera_sent_it() {
        let mut cam = Camera::new(VideoConfig::default(), 0xA1B2_C3D4);
        let t0 = Instant::now();
        for i in 0..20u32 {
            let (packets, _) = cam.next_frame(t0 + cam.frame_interval() * i);
            assert_eq!(camera_tag(&packets[0]), Some(0xA1B2_C3D4), "frame {i}");
            assert!(packets[1..].iter().all(|p| camera_tag(p).is_none()), "only a frame's first packet");
        }
        // A 7-bit PictureID (no M bit) moves the frame tag one byte earlier.
        let (mut packets, _) = cam.next_frame(t0 + Duration::from_secs(5));
        let p = &mut packets[0];
        p.remove(3);
        p[2] &= 0x7f;
        assert_eq!(camera_tag(p), Some(0xA1B2_C3D4));
        assert_eq!(camera_tag(&[]), None);
        assert_eq!(camera_tag(&[0x90, 0x80, 0x80]), None, "truncated");
    }

    #[test]
    fn a_keyframe_request_makes_the_next_frame_a_keyframe() {
        let mut cam = Camera::new(VideoConfig::default(), 7);
        let t0 = Instant::now();
        assert!(cam.next_frame(t0).1);
        assert!(!cam.next_frame(t0 + Duration::from_millis(66)).1);
        cam.key_requested = true;
        let (packets, key) = cam.next_frame(t0 + Duration::from_millis(133));
        assert!(key);
        assert_eq!(&packets[0][7..10], &[0x9d, 0x01, 0x2a], "keyframe start code");
        assert!(!cam.next_frame(t0 + Duration::from_millis(200)).1);
    }
}
