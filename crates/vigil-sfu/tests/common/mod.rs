//! Test peers: str0m clients on real loopback UDP, driven by hand.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, RtpWrite};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use vigil_sfu::keyframe::vp8_test_payload;
use vigil_sfu::{PublishOptions, PublisherId, Sfu, SfuConfig};

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

pub fn start_sfu(f: impl FnOnce(&mut SfuConfig)) -> Sfu {
    let mut cfg = SfuConfig::new("127.0.0.1:0".parse().unwrap());
    f(&mut cfg);
    let (sfu, _join) = Sfu::start(cfg).expect("sfu starts");
    sfu
}

/// Student `student` of exam `exam1`.
pub fn pid(student: &str) -> PublisherId {
    PublisherId::new("exam1".parse().unwrap(), student.parse().unwrap())
}

/// Connects `c` as `student`'s publication (one video m-line); returns it connected.
pub fn connect_publisher(rt: &tokio::runtime::Runtime, sfu: &Sfu, student: &str, mut c: Client) -> Client {
    let (offer, pending) = c.offer(1, Direction::SendOnly);
    let answer = rt.block_on(sfu.publish(pid(student), offer, PublishOptions { audio: false })).expect("publish");
    c.accept(pending, &answer);
    assert!(pump_until(&mut [&mut c], Duration::from_secs(5), |c| c[0].connected), "publisher connects");
    c
}

/// Connects a publisher of synthetic frames; returns it connected.
pub fn publish(rt: &tokio::runtime::Runtime, sfu: &Sfu, student: &str, tag: u8) -> Synth {
    let mut p = Synth::new(tag);
    p.c = connect_publisher(rt, sfu, student, p.c);
    p
}

pub struct Client {
    pub rtc: Rtc,
    pub sock: UdpSocket,
    pub addr: SocketAddr,
    next_timeout: Instant,
    pub connected: bool,
    pub received: Vec<RtpPacket>,
    /// The mid each packet of `received` arrived on (same index), as the
    /// receive stream of its SSRC says.
    pub received_mid: Vec<Option<Mid>>,
    pub keyframe_requests: usize,
    /// NACKs received for what this client sent, as its last egress stats
    /// said (only with a stats interval, see `Client::with_config`).
    pub nacks_received: u64,
    pub mids: Vec<Mid>,
    /// The audio m-lines' mids, in offer order (`offer_av`).
    pub audio_mids: Vec<Mid>,
}

impl Client {
    pub fn new() -> Client {
        Client::with_config(|c| c)
    }

    /// A client whose RTP-mode config `f` adjusts.
    pub fn with_config(f: impl FnOnce(RtcConfig) -> RtcConfig) -> Client {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let addr = sock.local_addr().unwrap();
        let mut rtc = f(RtcConfig::new().set_rtp_mode(true)).build(Instant::now());
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        Client {
            rtc,
            sock,
            addr,
            next_timeout: Instant::now(),
            connected: false,
            received: Vec::new(),
            received_mid: Vec::new(),
            keyframe_requests: 0,
            nacks_received: 0,
            mids: Vec::new(),
            audio_mids: Vec::new(),
        }
    }

    /// An offer with `video` m-lines of direction `dir`.
    pub fn offer(&mut self, video: usize, dir: Direction) -> (String, SdpPendingOffer) {
        self.offer_av(video, 0, dir)
    }

    /// An offer with `video` m-lines, then `audio` m-lines (Opus among the
    /// codecs str0m offers), all of direction `dir`.
    pub fn offer_av(&mut self, video: usize, audio: usize, dir: Direction) -> (String, SdpPendingOffer) {
        let mut api = self.rtc.sdp_api();
        for _ in 0..video {
            let mid = api.add_media(MediaKind::Video, dir, None, None, None);
            self.mids.push(mid);
        }
        for _ in 0..audio {
            let mid = api.add_media(MediaKind::Audio, dir, None, None, None);
            self.audio_mids.push(mid);
        }
        let (offer, pending) = api.apply().unwrap();
        (offer.to_sdp_string(), pending)
    }

    /// Packets received on `mid`.
    pub fn received_on(&self, mid: Mid) -> Vec<&RtpPacket> {
        self.received.iter().zip(&self.received_mid).filter(|(_, m)| **m == Some(mid)).map(|(p, _)| p).collect()
    }

    pub fn opus_pt(&self) -> Pt {
        self.rtc.codec_config().params().iter().find(|p| p.spec().codec == Codec::Opus).unwrap().pt()
    }

    /// Writes one Opus packet on the first audio m-line and sends what is due.
    pub fn write_audio(&mut self, seq: u64, timestamp: u32, payload: Vec<u8>) {
        let pt = self.opus_pt();
        let mid = self.audio_mids[0];
        let now = Instant::now();
        let mut api = self.rtc.direct_api();
        let tx = api.stream_tx_by_mid(mid, None).expect("publisher audio tx stream");
        tx.write_rtp(RtpWrite::new(pt, seq.into(), timestamp, now, payload));
        let _ = self.rtc.handle_input(Input::Timeout(now));
        self.step();
    }

    pub fn accept(&mut self, pending: SdpPendingOffer, answer: &str) {
        let answer = SdpAnswer::from_sdp_string(answer).unwrap();
        self.rtc.sdp_api().accept_answer(pending, answer).unwrap();
        self.drain(Instant::now());
    }

    pub fn vp8_pt(&self) -> Pt {
        self.rtc.codec_config().params().iter().find(|p| p.spec().codec == Codec::Vp8).unwrap().pt()
    }

    /// Writes one VP8 packet on the first m-line, exactly as given (str0m
    /// keeps it for NACKs), and sends what is due.
    pub fn write_rtp(&mut self, seq: u64, timestamp: u32, marker: bool, payload: Vec<u8>) {
        let pt = self.vp8_pt();
        let mid = self.mids[0];
        let now = Instant::now();
        let mut api = self.rtc.direct_api();
        let tx = api.stream_tx_by_mid(mid, None).expect("publisher tx stream");
        tx.write_rtp(RtpWrite::new(pt, seq.into(), timestamp, now, payload).marker(marker).nackable(true));
        let _ = self.rtc.handle_input(Input::Timeout(now));
        self.step();
    }

    pub fn step(&mut self) {
        let mut buf = [0u8; 2000];
        while let Ok((n, src)) = self.sock.recv_from(&mut buf) {
            if let Ok(r) = Receive::new(Protocol::Udp, src, self.addr, &buf[..n]) {
                let _ = self.rtc.handle_input(Input::Receive(Instant::now(), r));
                self.drain(Instant::now());
            }
        }
        let now = Instant::now();
        if now >= self.next_timeout {
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
        self.drain(now);
    }

    fn drain(&mut self, _now: Instant) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    let _ = self.sock.send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => self.connected = true,
                    Event::RtpPacket(p) => {
                        let mid = self.rtc.direct_api().stream_rx(&p.header.ssrc).map(|s| s.mid());
                        self.received_mid.push(mid);
                        self.received.push(p);
                    }
                    Event::KeyframeRequest(_) => self.keyframe_requests += 1,
                    Event::MediaEgressStats(s) => self.nacks_received = s.nacks,
                    _ => {}
                },
                Err(_) => return,
            }
        }
    }
}

/// Connects `c` as `student`'s publication with one video and one audio
/// m-line; returns it connected.
pub fn connect_av_publisher(
    rt: &tokio::runtime::Runtime,
    sfu: &Sfu,
    student: &str,
    options: PublishOptions,
    mut c: Client,
) -> Client {
    let (offer, pending) = c.offer_av(1, 1, Direction::SendOnly);
    let answer = rt.block_on(sfu.publish(pid(student), offer, options)).expect("publish");
    c.accept(pending, &answer);
    assert!(pump_until(&mut [&mut c], Duration::from_secs(5), |c| c[0].connected), "publisher connects");
    c
}

/// Connects a publisher of synthetic frames and Opus packets; returns it
/// connected.
pub fn publish_av(rt: &tokio::runtime::Runtime, sfu: &Sfu, student: &str, tag: u8, options: PublishOptions) -> Synth {
    let mut p = Synth::new(tag);
    p.c = connect_av_publisher(rt, sfu, student, options, p.c);
    p
}

/// Samples in one 20 ms Opus packet on its 48 kHz RTP clock.
pub const OPUS_TICKS_PER_PACKET: u32 = 960;

/// Parses (tag, packet number) out of a forwarded synthetic audio payload.
pub fn decode_audio(p: &RtpPacket) -> Option<(u8, u32)> {
    let pl = &p.payload;
    (pl.len() >= 6 && pl[0] == AUDIO_MARK).then(|| (pl[1], u32::from_be_bytes([pl[2], pl[3], pl[4], pl[5]])))
}

/// First byte of a synthetic audio payload (an Opus TOC byte: CELT, 20 ms).
const AUDIO_MARK: u8 = 0xfc;

/// A publisher of synthetic VP8: one packet per frame, body = [tag, frame u32 BE, filler].
/// It can send synthetic Opus too (`send_audio`), body = [TOC, tag, packet u32 BE, filler].
pub struct Synth {
    pub c: Client,
    pub tag: u8,
    pub frame: u32,
    seq: u64,
    ts: u32,
    pid: u16,
    seen_requests: usize,
    pub audio_sent: u32,
    audio_seq: u64,
    audio_ts: u32,
    /// Answers keyframe requests with a keyframe.
    pub auto_key: bool,
}

impl Synth {
    pub fn new(tag: u8) -> Synth {
        Synth {
            c: Client::new(),
            tag,
            frame: 0,
            seq: 100,
            ts: 1000 * tag as u32,
            pid: 0,
            seen_requests: 0,
            audio_sent: 0,
            // Far from the video's numbers and from other tags': the SFU
            // must rewrite them into one sequence.
            audio_seq: 40_000 + 1000 * tag as u64,
            audio_ts: 7_000_000u32.wrapping_mul(tag as u32),
            auto_key: true,
        }
    }

    /// Sends one frame; a keyframe when `key` or when one was requested.
    /// Returns whether it was a keyframe.
    pub fn send(&mut self, key: bool) -> bool {
        let key = key || (self.auto_key && self.c.keyframe_requests > self.seen_requests);
        self.seen_requests = self.c.keyframe_requests;
        let mut body = vec![self.tag];
        body.extend_from_slice(&self.frame.to_be_bytes());
        body.resize(200, 0xab);
        let payload = vp8_test_payload(self.pid, true, key, &body);
        self.c.write_rtp(self.seq, self.ts, true, payload);
        self.seq += 1;
        self.ts = self.ts.wrapping_add(3000);
        self.pid = (self.pid + 1) & 0x7fff;
        self.frame += 1;
        key
    }

    /// Sends one 20 ms Opus packet on the audio m-line.
    pub fn send_audio(&mut self) {
        let mut body = vec![AUDIO_MARK, self.tag];
        body.extend_from_slice(&self.audio_sent.to_be_bytes());
        body.resize(80, 0x5a);
        self.c.write_audio(self.audio_seq, self.audio_ts, body);
        self.audio_seq += 1;
        self.audio_ts = self.audio_ts.wrapping_add(OPUS_TICKS_PER_PACKET);
        self.audio_sent += 1;
    }
}

/// Parses (tag, frame, keyframe) out of a forwarded synthetic payload.
pub fn decode(p: &RtpPacket) -> Option<(u8, u32, bool)> {
    let pl = &p.payload;
    if pl.len() < 10 {
        return None;
    }
    let key = vigil_sfu::keyframe::is_keyframe_start(vigil_sfu::keyframe::VideoCodec::Vp8, pl);
    Some((pl[5], u32::from_be_bytes([pl[6], pl[7], pl[8], pl[9]]), key))
}

/// Pumps all clients until `done` or `limit` passes. Returns whether done.
pub fn pump_until(clients: &mut [&mut Client], limit: Duration, mut done: impl FnMut(&[&mut Client]) -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        for c in clients.iter_mut() {
            c.step();
        }
        if done(clients) {
            return true;
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    false
}

/// A lossy UDP middlebox between the SFU and one client.
pub struct Shim {
    pub sock: UdpSocket,
    pub addr: SocketAddr,
    sfu: SocketAddr,
    client: Option<SocketAddr>,
    rtp_seen: u64,
    pub dropped: u64,
    pub drop_every: u64,
}

impl Shim {
    pub fn new(sfu: SocketAddr, drop_every: u64) -> Shim {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let addr = sock.local_addr().unwrap();
        Shim { sock, addr, sfu, client: None, rtp_seen: 0, dropped: 0, drop_every }
    }

    /// Makes a client talk to the shim instead of the SFU.
    pub fn rewrite_answer(&self, answer: &str) -> String {
        let from = format!("{} {}", self.sfu.ip(), self.sfu.port());
        let to = format!("{} {}", self.addr.ip(), self.addr.port());
        answer.replace(&from, &to)
    }

    pub fn step(&mut self) {
        let mut buf = [0u8; 2000];
        while let Ok((n, src)) = self.sock.recv_from(&mut buf) {
            let d = &buf[..n];
            if src == self.sfu {
                // RTP, not RTCP (RFC 5761: RTCP packet types 192..=223).
                let is_rtp = n > 12 && d[0] >> 6 == 2 && !(192..=223).contains(&d[1]);
                if is_rtp {
                    self.rtp_seen += 1;
                    if self.rtp_seen.is_multiple_of(self.drop_every) {
                        self.dropped += 1;
                        continue;
                    }
                }
                if let Some(c) = self.client {
                    let _ = self.sock.send_to(d, c);
                }
            } else {
                self.client = Some(src);
                let _ = self.sock.send_to(d, self.sfu);
            }
        }
    }
}
