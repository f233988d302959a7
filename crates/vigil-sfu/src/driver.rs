//! The I/O half: one thread owning the UDP socket, the clock and a `Router`.

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use metrics::histogram;
use tokio::sync::{broadcast, oneshot};
use vigil_proto::events::{IceCandidate, SlotUpdate, WatchQuality};

use crate::SfuError;
use crate::health::HealthConfig;
use crate::router::{PeerId, PublisherId, Router, RouterConfig, SfuEvent, SubscriberId};

/// How to run the SFU.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Where the UDP socket binds. Port 0 picks one.
    pub bind: SocketAddr,
    /// The address peers are told to send to, when it differs from the bound
    /// one (NAT, cloud). Required when `bind` is unspecified (0.0.0.0).
    pub advertised: Option<SocketAddr>,
    pub max_slots: usize,
    pub health: HealthConfig,
    /// Starting proctor bandwidth estimate; `None` (the default) disables
    /// BWE. With it on, `Full` follows str0m's TWCC estimate, but its pacer
    /// made the SFU thread CPU-bound at 500 proctor connections in
    /// `forward_bench`, so it stays opt-in until that is understood.
    pub bwe_initial_bps: Option<u64>,
    /// Capacity of the event channel.
    pub event_capacity: usize,
}

impl SfuConfig {
    pub fn new(bind: SocketAddr) -> Self {
        SfuConfig {
            bind,
            advertised: None,
            max_slots: 16,
            health: HealthConfig::default(),
            bwe_initial_bps: None,
            event_capacity: 1024,
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, SfuError>>;

enum Command {
    Publish(PublisherId, String, Reply<String>),
    Subscribe(SubscriberId, String, Reply<(String, Vec<String>)>),
    Candidate(PeerId, IceCandidate, Reply<()>),
    Watch(SubscriberId, u32, PublisherId, WatchQuality, Reply<SlotUpdate>),
    Unwatch(SubscriberId, u32, Reply<SlotUpdate>),
    Close(PeerId, Reply<()>),
    Shutdown,
}

/// Cheap, cloneable handle to a running SFU. The SFU thread stops when
/// `shutdown` is called or every handle is dropped.
#[derive(Clone)]
pub struct Sfu {
    cmd: mpsc::Sender<Command>,
    events: broadcast::Sender<SfuEvent>,
    local_addr: SocketAddr,
}

/// Longest the thread sleeps in `recv_from`: bounds command latency and
/// timer lateness without a per-iteration `setsockopt`.
const IDLE_WAIT: Duration = Duration::from_millis(2);

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu").field("local_addr", &self.local_addr()).finish_non_exhaustive()
    }
}

impl Sfu {
    /// Binds the socket and starts the SFU thread.
    pub fn start(config: SfuConfig) -> Result<(Sfu, JoinHandle<()>), SfuError> {
        let socket = bind_socket(config.bind)?;
        let local_addr = socket.local_addr()?;
        let candidate_addr = config.advertised.unwrap_or(local_addr);
        if candidate_addr.ip().is_unspecified() || candidate_addr.port() == 0 {
            return Err(SfuError::Config(format!("cannot advertise {candidate_addr}: set an advertised address")));
        }
        socket.set_read_timeout(Some(IDLE_WAIT))?;
        let mut rcfg = RouterConfig::new(candidate_addr);
        rcfg.max_slots = config.max_slots;
        rcfg.health = config.health.clone();
        rcfg.bwe_initial_bps = config.bwe_initial_bps;
        let (cmd, rx) = mpsc::channel();
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let ev = events.clone();
        let handle = std::thread::Builder::new().name("vigil-sfu".into()).spawn(move || run(socket, rcfg, rx, ev))?;
        Ok((Sfu { cmd, events, local_addr }, handle))
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Subscribes to SFU events (health findings, peer lifecycle). Events
    /// sent before this call are not seen.
    pub fn events(&self) -> broadcast::Receiver<SfuEvent> {
        self.events.subscribe()
    }

    async fn call<T>(&self, f: impl FnOnce(Reply<T>) -> Command) -> Result<T, SfuError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(f(tx)).map_err(|_| SfuError::Stopped)?;
        rx.await.map_err(|_| SfuError::Stopped)?
    }

    /// A student publishes; returns the SDP answer.
    pub async fn publish(&self, id: PublisherId, offer_sdp: String) -> Result<String, SfuError> {
        self.call(|r| Command::Publish(id, offer_sdp, r)).await
    }

    /// A proctor connection offers recvonly video slots; returns the answer
    /// and the slots' mids in order.
    pub async fn subscribe(&self, id: SubscriberId, offer_sdp: String) -> Result<(String, Vec<String>), SfuError> {
        self.call(|r| Command::Subscribe(id, offer_sdp, r)).await
    }

    pub async fn add_candidate(&self, peer: PeerId, candidate: IceCandidate) -> Result<(), SfuError> {
        self.call(|r| Command::Candidate(peer, candidate, r)).await
    }

    pub async fn watch(
        &self,
        subscriber: SubscriberId,
        slot: u32,
        publisher: PublisherId,
        quality: WatchQuality,
    ) -> Result<SlotUpdate, SfuError> {
        self.call(|r| Command::Watch(subscriber, slot, publisher, quality, r)).await
    }

    pub async fn unwatch(&self, subscriber: SubscriberId, slot: u32) -> Result<SlotUpdate, SfuError> {
        self.call(|r| Command::Unwatch(subscriber, slot, r)).await
    }

    pub async fn close(&self, peer: PeerId) -> Result<(), SfuError> {
        self.call(|r| Command::Close(peer, r)).await
    }

    /// Asks the thread to stop; join the handle from `start` to wait.
    pub fn shutdown(&self) {
        let _ = self.cmd.send(Command::Shutdown);
    }
}

fn bind_socket(addr: SocketAddr) -> Result<UdpSocket, SfuError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Bursts of keyframes from many students arrive together; a small
    // kernel buffer would drop them before we read.
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    force_buffers(&s);
    s.bind(&addr.into())?;
    Ok(s.into())
}

const SOCKET_BUFFER: usize = 8 << 20;

/// The kernel caps the sizes above at `net.core.rmem_max`/`wmem_max`
/// (often 208 KiB to 4 MiB). With CAP_NET_ADMIN the cap can be bypassed,
/// so a server run as root gets the full buffer without a sysctl; others
/// keep what they got (docs/OPERATIONS.md says how to raise the cap).
#[cfg(target_os = "linux")]
fn force_buffers(s: &socket2::Socket) {
    use std::os::fd::AsRawFd;
    if s.recv_buffer_size().unwrap_or(0) >= SOCKET_BUFFER {
        return;
    }
    let size = SOCKET_BUFFER as libc::c_int;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
        // SAFETY: a valid socket and a c_int option value of the size given.
        // Failure (no privilege) leaves the buffer as it was.
        let _ = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }
    tracing::debug!(recv = ?s.recv_buffer_size(), send = ?s.send_buffer_size(), "SFU socket buffers");
}

#[cfg(not(target_os = "linux"))]
fn force_buffers(_: &socket2::Socket) {}

fn run(socket: UdpSocket, cfg: RouterConfig, rx: mpsc::Receiver<Command>, events: broadcast::Sender<SfuEvent>) {
    let mut router = Router::new(cfg, Instant::now(), SystemTime::now());
    let mut rbatch = RecvBatch::new();
    let mut sbatch = Vec::with_capacity(BATCH);
    let loop_time = histogram!("vigil_sfu_loop_seconds");
    let send_errors = metrics::counter!("vigil_sfu_send_errors_total");
    loop {
        loop {
            match rx.try_recv() {
                Ok(Command::Shutdown) | Err(mpsc::TryRecvError::Disconnected) => return,
                Ok(c) => apply(&mut router, c),
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        let received = rbatch.recv(&socket);
        // One clock read per batch: a batch is what the kernel had queued,
        // so its datagrams arrived within microseconds of each other.
        let started = Instant::now();
        match received {
            Ok(n) => {
                for i in 0..n {
                    if let Some((src, data)) = rbatch.get(i) {
                        router.handle_datagram_deferred(started, src, data);
                    }
                }
                router.flush(started);
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => tracing::debug!(error = %e, "recv"),
        }
        if router.poll_timeout() <= started {
            router.handle_timeout(started);
        }
        loop {
            sbatch.clear();
            while sbatch.len() < BATCH
                && let Some(t) = router.poll_transmit()
            {
                sbatch.push(t);
            }
            if sbatch.is_empty() {
                break;
            }
            let failed = send_batch(&socket, &sbatch);
            if failed > 0 {
                send_errors.increment(failed);
            }
        }
        while let Some(e) = router.poll_event() {
            // No receivers is fine: nobody is listening yet.
            let _ = events.send(e);
        }
        loop_time.record(started.elapsed().as_secs_f64());
    }
}

/// Datagrams per `recvmmsg`/`sendmmsg` call.
const BATCH: usize = 32;
/// Larger than any datagram a WebRTC peer sends (they keep under the
/// ~1200-byte path MTU budget); longer ones are truncated and fail SRTP.
const DATAGRAM_MAX: usize = 2048;

#[cfg(target_os = "linux")]
use batch_linux::{RecvBatch, send_batch};
#[cfg(not(target_os = "linux"))]
use batch_portable::{RecvBatch, send_batch};

/// `recvmmsg`/`sendmmsg`: one system call per batch instead of per datagram.
#[cfg(target_os = "linux")]
mod batch_linux {
    use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
    use std::os::fd::AsRawFd;

    use socket2::SockAddr;

    use super::{BATCH, DATAGRAM_MAX};
    use crate::router::Transmit;

    pub struct RecvBatch {
        bufs: Vec<[u8; DATAGRAM_MAX]>,
        addrs: Vec<libc::sockaddr_storage>,
        lens: [usize; BATCH],
        n: usize,
    }

    impl RecvBatch {
        pub fn new() -> Self {
            RecvBatch {
                bufs: vec![[0; DATAGRAM_MAX]; BATCH],
                // SAFETY: sockaddr_storage is plain data; all zeroes is a
                // valid (AF_UNSPEC) value.
                addrs: vec![unsafe { std::mem::zeroed() }; BATCH],
                lens: [0; BATCH],
                n: 0,
            }
        }

        /// Waits (up to the socket's read timeout) for one datagram, then
        /// takes whatever else is already queued, up to `BATCH`.
        pub fn recv(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
            self.n = 0;
            let mut iovs: [libc::iovec; BATCH] = std::array::from_fn(|i| libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: DATAGRAM_MAX,
            });
            // SAFETY: mmsghdr is plain data; the fields that matter are set
            // below.
            let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
            for (i, h) in hdrs.iter_mut().enumerate() {
                h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                h.msg_hdr.msg_iov = &mut iovs[i];
                h.msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: every header points at a live buffer and address of
            // the sizes given, all outliving the call.
            let r = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_WAITFORONE,
                    std::ptr::null_mut(),
                )
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let n = (r as usize).min(BATCH);
            for (len, h) in self.lens.iter_mut().zip(&hdrs).take(n) {
                *len = (h.msg_len as usize).min(DATAGRAM_MAX);
            }
            self.n = n;
            Ok(n)
        }

        /// The `i`th datagram of the last `recv`; `None` for an address
        /// family we do not serve.
        pub fn get(&self, i: usize) -> Option<(SocketAddr, &[u8])> {
            if i >= self.n {
                return None;
            }
            let a = &self.addrs[i];
            let src = match a.ss_family as libc::c_int {
                libc::AF_INET => {
                    // SAFETY: the kernel wrote a sockaddr_in for AF_INET, and
                    // sockaddr_storage is large and aligned enough for it.
                    let v4 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                    SocketAddr::V4(SocketAddrV4::new(
                        u32::from_be(v4.sin_addr.s_addr).into(),
                        u16::from_be(v4.sin_port),
                    ))
                }
                libc::AF_INET6 => {
                    // SAFETY: as above, for sockaddr_in6.
                    let v6 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                    SocketAddr::V6(SocketAddrV6::new(
                        v6.sin6_addr.s6_addr.into(),
                        u16::from_be(v6.sin6_port),
                        v6.sin6_flowinfo,
                        v6.sin6_scope_id,
                    ))
                }
                _ => return None,
            };
            Some((src, &self.bufs[i][..self.lens[i]]))
        }
    }

    /// Sends every transmit; returns how many failed. A failing datagram is
    /// skipped and the rest still go, as with one `send_to` each.
    pub fn send_batch(socket: &UdpSocket, ts: &[Transmit]) -> u64 {
        debug_assert!(ts.len() <= BATCH);
        let ts = &ts[..ts.len().min(BATCH)];
        let addrs: Vec<SockAddr> = ts.iter().map(|t| SockAddr::from(t.destination)).collect();
        let mut iovs: [libc::iovec; BATCH] = std::array::from_fn(|i| libc::iovec {
            iov_base: ts.get(i).map_or(std::ptr::null_mut(), |t| t.contents.as_ptr() as *mut _),
            iov_len: ts.get(i).map_or(0, |t| t.contents.len()),
        });
        // SAFETY: plain data, filled in below.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (i, a) in addrs.iter().enumerate() {
            let h = &mut hdrs[i].msg_hdr;
            h.msg_name = a.as_ptr() as *mut libc::c_void;
            h.msg_namelen = a.len();
            h.msg_iov = &mut iovs[i];
            h.msg_iovlen = 1;
        }
        let mut failed = 0;
        let mut off = 0;
        while off < ts.len() {
            // SAFETY: headers `off..len` point at live addresses and payloads
            // (the kernel only reads them for sendmmsg).
            let r = unsafe {
                libc::sendmmsg(socket.as_raw_fd(), hdrs[off..].as_mut_ptr(), (ts.len() - off) as libc::c_uint, 0)
            };
            if r <= 0 {
                if r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                // The first unsent datagram failed: drop it, go on.
                failed += 1;
                off += 1;
            } else {
                off += r as usize;
            }
        }
        failed
    }
}

#[cfg(not(target_os = "linux"))]
mod batch_portable {
    use std::net::{SocketAddr, UdpSocket};

    use super::DATAGRAM_MAX;
    use crate::router::Transmit;

    pub struct RecvBatch {
        buf: Vec<u8>,
        last: Option<(SocketAddr, usize)>,
    }

    impl RecvBatch {
        pub fn new() -> Self {
            RecvBatch { buf: vec![0; DATAGRAM_MAX], last: None }
        }

        pub fn recv(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
            self.last = None;
            let (n, src) = socket.recv_from(&mut self.buf)?;
            self.last = Some((src, n));
            Ok(1)
        }

        pub fn get(&self, i: usize) -> Option<(SocketAddr, &[u8])> {
            let (src, n) = self.last.filter(|_| i == 0)?;
            Some((src, &self.buf[..n]))
        }
    }

    pub fn send_batch(socket: &UdpSocket, ts: &[Transmit]) -> u64 {
        ts.iter().filter(|t| socket.send_to(&t.contents, t.destination).is_err()).count() as u64
    }
}

fn apply(router: &mut Router, c: Command) {
    let now = Instant::now();
    // A dropped reply receiver means the caller gave up; nothing to do.
    match c {
        Command::Publish(id, sdp, r) => {
            let _ = r.send(router.publish(now, id, &sdp));
        }
        Command::Subscribe(id, sdp, r) => {
            let _ = r.send(router.subscribe(now, id, &sdp));
        }
        Command::Candidate(p, c, r) => {
            let _ = r.send(router.add_candidate(now, &p, &c.candidate));
        }
        Command::Watch(s, slot, p, q, r) => {
            let _ = r.send(router.watch(now, &s, slot, p, q));
        }
        Command::Unwatch(s, slot, r) => {
            let _ = r.send(router.unwatch(now, &s, slot));
        }
        Command::Close(p, r) => {
            let _ = r.send(router.close(&p));
        }
        Command::Shutdown => {}
    }
}
