//! What the socket benchmarks (`forward_bench`, `sfu_saturate`) share: a
//! str0m client on its own loopback socket, and the SFU thread's CPU time.

#![allow(dead_code)] // each example uses a different part

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use vigil_sfu::{PublisherId, SubscriberId};

/// A WebRTC client (str0m, RTP mode) with its own non-blocking socket.
pub struct Client {
    pub rtc: Rtc,
    pub sock: UdpSocket,
    pub addr: SocketAddr,
    pub next_timeout: Instant,
    pub connected: bool,
    pub rtp_in: u64,
    pub key_requests: u64,
    /// The first m-line's mid.
    pub mid: Option<Mid>,
    /// When `Some`, every RTP packet received: when, and its payload.
    pub arrivals: Option<Vec<(Instant, Arc<[u8]>)>>,
}

impl Client {
    pub fn new() -> Client {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_nonblocking(true).expect("nonblocking");
        let addr = sock.local_addr().expect("addr");
        let mut rtc = RtcConfig::new().set_rtp_mode(true).set_stats_interval(None).build(Instant::now());
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
        Client {
            rtc,
            sock,
            addr,
            next_timeout: Instant::now(),
            connected: false,
            rtp_in: 0,
            key_requests: 0,
            mid: None,
            arrivals: None,
        }
    }

    /// An offer of `sections` video m-lines in direction `dir`.
    pub fn offer(&mut self, dir: Direction, sections: usize) -> (String, SdpPendingOffer) {
        let (first, offer, pending) = video_offer(&mut self.rtc, dir, sections);
        self.mid.get_or_insert(first);
        (offer, pending)
    }

    pub fn accept(&mut self, pending: SdpPendingOffer, answer: &str) {
        let a = SdpAnswer::from_sdp_string(answer).expect("answer parses");
        self.rtc.sdp_api().accept_answer(pending, a).expect("answer accepted");
    }

    /// Reads what the socket holds into the `Rtc`, then runs its timers if due.
    pub fn step(&mut self, buf: &mut [u8]) {
        while let Ok((n, src)) = self.sock.recv_from(buf) {
            self.receive(src, &buf[..n]);
        }
        self.run_timers(Instant::now());
    }

    pub fn receive(&mut self, src: SocketAddr, datagram: &[u8]) {
        if let Ok(r) = Receive::new(Protocol::Udp, src, self.addr, datagram) {
            let _ = self.rtc.handle_input(Input::Receive(Instant::now(), r));
        }
        self.drain();
    }

    pub fn run_timers(&mut self, now: Instant) {
        if now >= self.next_timeout {
            let _ = self.rtc.handle_input(Input::Timeout(now));
            self.drain();
        }
    }

    /// Sends what the `Rtc` has to send and notes its events.
    pub fn drain(&mut self) {
        self.drain_with(|sock, Datagram(to, bytes)| {
            let _ = sock.send_to(&bytes, to);
        });
    }

    /// Like `drain`, but hands each datagram to `send` with the socket.
    pub fn drain_with(&mut self, mut send: impl FnMut(&UdpSocket, Datagram)) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    return;
                }
                Ok(Output::Transmit(t)) => send(&self.sock, Datagram(t.destination, t.contents.into())),
                Ok(Output::Event(Event::Connected)) => self.connected = true,
                Ok(Output::Event(Event::RtpPacket(p))) => {
                    self.rtp_in += 1;
                    if let Some(a) = &mut self.arrivals {
                        a.push((Instant::now(), p.payload));
                    }
                }
                Ok(Output::Event(Event::KeyframeRequest(_))) => self.key_requests += 1,
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }
}

/// An offer from `rtc` of `sections` video m-lines in direction `dir`:
/// the first m-line's mid, the SDP, and what accepting the answer needs.
pub fn video_offer(rtc: &mut Rtc, dir: Direction, sections: usize) -> (Mid, String, SdpPendingOffer) {
    let mut api = rtc.sdp_api();
    let mids: Vec<Mid> = (0..sections.max(1)).map(|_| api.add_media(MediaKind::Video, dir, None, None, None)).collect();
    let (o, p) = api.apply().expect("offer");
    (mids[0], o.to_sdp_string(), p)
}

/// One datagram from a client: where to, and its bytes.
pub struct Datagram(pub SocketAddr, pub Vec<u8>);

/// Whether a datagram is SRTP media rather than SRTCP, STUN or DTLS
/// (RFC 7983 demultiplexing, then RFC 5761 for RTP against RTCP).
pub fn is_rtp(d: &[u8]) -> bool {
    d.len() >= 12 && (128..=191).contains(&d[0]) && !(192..=223).contains(&d[1])
}

pub fn publisher_id(i: usize) -> PublisherId {
    PublisherId::new("bench".parse().expect("exam id"), format!("s{i}").parse().expect("student id"))
}

/// Proctor connection `connection`, watching exam `bench`.
pub fn sub_id(connection: impl Into<String>) -> SubscriberId {
    SubscriberId::new("bench".parse().expect("exam id"), connection)
}

/// The thread named `name` in this process: its kernel id.
pub fn thread_id(name: &str) -> Option<i32> {
    for e in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            return e.file_name().to_str()?.parse().ok();
        }
    }
    None
}

/// CPU seconds (user + system) the thread `tid` of this process has used.
pub fn thread_cpu(tid: i32) -> Option<f64> {
    cpu_of_stat(&std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?)
}

/// CPU seconds of this whole process.
pub fn process_cpu() -> Option<f64> {
    cpu_of_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// User plus system CPU seconds from a `/proc/…/stat` line.
#[allow(unsafe_code)] // sysconf(_SC_CLK_TCK): libc has no safe wrapper
fn cpu_of_stat(stat: &str) -> Option<f64> {
    // SAFETY: sysconf takes an integer name and reads or writes no memory
    // of ours; any name is allowed (an unknown one returns -1, refused below).
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if tick <= 0 {
        return None;
    }
    let tick = tick as f64;
    // Fields after the parenthesised comm: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / tick)
}

/// CPU seconds of the first SFU worker thread, the one named `vigil-sfu-0`.
pub fn sfu_thread_cpu() -> Option<f64> {
    thread_cpu(thread_id("vigil-sfu-0")?)
}

/// Pins thread `tid` (0: the calling thread) to the given CPUs.
#[allow(unsafe_code)] // sched_setaffinity: no safe wrapper in std or libc
pub fn pin(tid: i32, cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit array, valid when zeroed; CPU_SET
    // writes one bit inside it (ids past its size are skipped by the
    // filter); sched_setaffinity reads exactly `size_of::<cpu_set_t>()`
    // bytes from the set we own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
