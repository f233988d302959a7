//! The I/O half: one thread owning the UDP socket, the clock and a `Router`,
//! and one that answers offers for it.
//!
//! Offers are answered on their own thread (`OfferPreparer`): parsing an
//! offer, making the peer's DTLS certificate and str0m's answer cost a
//! millisecond for a browser's offer and far more for a hostile one that
//! passes the size screen, and none of it may hold up forwarding. That
//! thread runs at a lower scheduling priority, so on a busy machine offers
//! wait rather than the media path. It hands the prepared peer to the SFU
//! thread, which only inserts it.
//!
//! Signalling reaches the SFU thread through a bounded command queue. A full
//! queue answers `SfuError::Busy` at once, so no async caller ever waits on
//! the SFU for room. The thread takes a few commands per loop turn (at most
//! `commands_per_turn`, for at most `COMMAND_TIME_PER_TURN`) and then goes
//! back to the socket, so a flood of signalling from one client costs the
//! forwarding path a short slice per turn instead of stalling it.
//!
//! The thread never polls. When its socket is drained and no command is
//! waiting it sleeps in `epoll` (through mio) until a datagram arrives, a
//! command is queued (whoever queues it rings the worker's `Doorbell`, an
//! eventfd) or the router's next timer is due. An idle worker therefore
//! wakes a few times a second, not every few milliseconds.

use std::collections::HashMap;
use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use metrics::{Counter, counter, histogram};
use tokio::sync::{broadcast, oneshot};
use vigil_proto::ExamId;
use vigil_proto::events::{IceCandidate, SlotUpdate, WatchQuality};

use crate::SfuError;
use crate::health::HealthConfig;
use crate::router::{
    OfferPreparer, PeerId, PreparedPublisher, PreparedSubscriber, PublishOptions, PublisherId, Router, RouterConfig,
    SfuEvent, SignallingLimits, SubscriberId, Transmit,
};

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
    /// What one connection may send in signalling.
    pub limits: SignallingLimits,
    /// Commands waiting for the SFU thread at most; beyond, calls fail with
    /// `SfuError::Busy` at once.
    pub command_queue: usize,
    /// Commands the thread applies before it reads the socket again.
    pub commands_per_turn: usize,
    /// Offers waiting to be answered at most; beyond, `publish` and
    /// `subscribe` fail with `SfuError::Busy` at once. Each holds its SDP
    /// (at most 32 KiB from a student, 144 KiB from a proctor).
    pub offer_queue: usize,
    /// SFU threads (workers), each with its own socket, router and offer
    /// thread. Every peer of one exam lives on one worker (see `Sfu`). With
    /// a fixed `bind` port P, worker i binds P + i (and advertises the
    /// advertised port + i); with port 0 each picks its own.
    pub workers: usize,
    /// Where recorded publications' packets go (see `Sfu::record`); every
    /// worker sends to the same recorder. `None`: recording is off.
    pub recorder: Option<crate::record::RecordTap>,
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
            limits: SignallingLimits::default(),
            command_queue: 1024,
            commands_per_turn: 32,
            offer_queue: 128,
            workers: 1,
            recorder: None,
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, SfuError>>;
/// A queued message's reply to come, or why it was not queued.
type Queued<T> = Result<oneshot::Receiver<Result<T, SfuError>>, SfuError>;

/// The reply to a queued message. A reply sender dropped unanswered means a
/// thread stopped with the message still queued.
async fn reply<T>(queued: Queued<T>) -> Result<T, SfuError> {
    queued?.await.map_err(|_| SfuError::Stopped)?
}

/// An offer for the preparer thread.
enum Offer {
    Publish(PublisherId, String, PublishOptions, Reply<String>),
    Subscribe(SubscriberId, String, Reply<(String, Vec<String>)>),
}

/// What the SFU thread applies.
enum Command {
    Publish(PublisherId, Box<PreparedPublisher>, PublishOptions, Reply<String>),
    Subscribe(SubscriberId, Box<PreparedSubscriber>, Reply<(String, Vec<String>)>),
    Candidate(PeerId, IceCandidate, Reply<()>),
    Watch(SubscriberId, u32, PublisherId, WatchQuality, Reply<SlotUpdate>),
    Unwatch(SubscriberId, u32, Reply<SlotUpdate>),
    Close(PeerId, Reply<()>),
    Record(PublisherId, Reply<()>),
    RecordingKeyframe(PublisherId, Reply<()>),
}

/// Cheap, cloneable handle to a running SFU: one or more workers. The
/// workers stop when `shutdown` is called or every handle is dropped.
///
/// Each call queues its command at once, before the returned future is
/// first polled, so calls fired without awaiting still reach the SFU in
/// order; awaiting the future gives the reply. The one exception is an
/// offer (`publish`, `subscribe`): it is answered on another thread first,
/// so a command for the same peer sent before the offer's reply arrived may
/// overtake it. Offers keep their order among themselves.
///
/// ## Workers
///
/// An exam is placed on a worker when its first peer arrives (the worker
/// with the fewest peers then) and stays there: every publisher and every
/// proctor connection of the exam lives on that worker, so forwarding never
/// crosses threads. A proctor watches only their own exam's students (the
/// server checks it), so no packet has to. A watch that would cross
/// workers is refused (`SfuError::OtherWorker`) rather than half-served.
#[derive(Clone)]
pub struct Sfu {
    workers: Arc<[Worker]>,
    placement: Arc<Mutex<Placement>>,
    events: broadcast::Sender<SfuEvent>,
    refused_busy: Counter,
}

/// A handle that does not keep the SFU running: for a component (the
/// recorder) that talks to the SFU but must not outlive it or keep its
/// threads alive.
#[derive(Clone)]
pub struct WeakSfu {
    workers: std::sync::Weak<[Worker]>,
    placement: std::sync::Weak<Mutex<Placement>>,
    events: broadcast::Sender<SfuEvent>,
    refused_busy: Counter,
}

impl WeakSfu {
    /// The SFU, while any `Sfu` handle is left.
    pub fn upgrade(&self) -> Option<Sfu> {
        Some(Sfu {
            workers: self.workers.upgrade()?,
            placement: self.placement.upgrade()?,
            events: self.events.clone(),
            refused_busy: self.refused_busy.clone(),
        })
    }
}

/// The handle's side of one worker.
struct Worker {
    cmd: mpsc::SyncSender<Command>,
    /// Rung after each command is queued.
    bell: Doorbell,
    offers: mpsc::SyncSender<Offer>,
    stop: Arc<AtomicBool>,
    local_addr: SocketAddr,
    /// The worker's peer count, as its thread last published it.
    peers: Arc<AtomicUsize>,
}

/// Which worker holds each exam.
#[derive(Default)]
struct Placement {
    /// Worker index, and when a peer of the exam last arrived.
    exams: HashMap<ExamId, (usize, Instant)>,
}

/// Placements kept at most before old ones are forgotten; see `Placement::forget_old`.
const PLACEMENTS_KEPT: usize = 4096;
/// A placement no peer arrived for in this long may be forgotten.
const PLACEMENT_IDLE: Duration = Duration::from_secs(24 * 3600);

impl Placement {
    /// The exam's worker, placing it on the least-loaded one if new.
    fn place(&mut self, exam: &ExamId, workers: &[Worker], now: Instant) -> usize {
        if let Some((w, at)) = self.exams.get_mut(exam) {
            *at = now;
            return *w;
        }
        // Fewest peers; on a tie (a worker's count is published once per
        // loop turn, so it can trail a moment), fewest exams placed.
        let exams_on = |i: usize| self.exams.values().filter(|(w, _)| *w == i).count();
        let least =
            (0..workers.len()).min_by_key(|&i| (workers[i].peers.load(Ordering::Relaxed), exams_on(i))).unwrap_or(0);
        self.place_on(exam, least, now);
        least
    }

    /// Places a new exam on worker `w` (a student watched before any
    /// peer of their exam arrived goes where the watcher is).
    fn place_on(&mut self, exam: &ExamId, w: usize, now: Instant) {
        if self.exams.len() >= PLACEMENTS_KEPT {
            self.forget_old(now);
        }
        self.exams.entry(exam.clone()).or_insert((w, now));
    }

    fn find(&self, exam: &ExamId) -> Option<usize> {
        self.exams.get(exam).map(|(w, _)| *w)
    }

    /// Bounds the map: exams no peer joined for a day are forgotten (their
    /// peers, if any are left, stay where they are; a new one would be
    /// placed afresh).
    fn forget_old(&mut self, now: Instant) {
        self.exams.retain(|_, (_, at)| now.saturating_duration_since(*at) < PLACEMENT_IDLE);
    }
}

/// Longest the thread sleeps with nothing to do. Commands, datagrams and
/// the router's timers wake it sooner; this only bounds the damage of a
/// wake-up that went missing.
const LONGEST_SLEEP: Duration = Duration::from_secs(1);
/// mio tokens: the UDP socket and the doorbell.
const SOCKET: mio::Token = mio::Token(0);
const BELL: mio::Token = mio::Token(1);

/// Wakes a worker's thread from its sleep in `epoll`. Cloned into every
/// producer of commands (the `Sfu` handle, the offer thread).
#[derive(Clone)]
struct Doorbell(Arc<mio::Waker>);

impl Doorbell {
    /// A doorbell no thread listens to, for tests without a worker thread.
    #[cfg(test)]
    fn unattached() -> Doorbell {
        // The waker owns its eventfd and outlives the poll; ringing it
        // then wakes nobody.
        let poll = mio::Poll::new().expect("epoll for a test");
        Doorbell(Arc::new(mio::Waker::new(poll.registry(), BELL).expect("eventfd for a test")))
    }

    fn ring(&self) {
        // An eventfd write fails only when its counter would overflow, and
        // then the thread already has a wake-up pending.
        if let Err(e) = self.0.wake() {
            tracing::debug!(error = %e, "SFU doorbell");
        }
    }
}

/// Longest the thread spends on commands before it reads the socket again
/// (a command that runs longer still finishes). An offer costs about a
/// millisecond (a DTLS certificate, str0m's answer), a candidate a few
/// microseconds.
const COMMAND_TIME_PER_TURN: Duration = Duration::from_millis(2);

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu").field("local_addr", &self.local_addr()).finish_non_exhaustive()
    }
}

impl Sfu {
    /// Binds the sockets and starts the workers.
    pub fn start(config: SfuConfig) -> Result<(Sfu, SfuThreads), SfuError> {
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let mut workers = Vec::new();
        let mut threads = Vec::new();
        for i in 0..config.workers.max(1) {
            let (worker, thread) = start_worker(&config, i, events.clone())?;
            workers.push(worker);
            threads.push(thread);
        }
        let refused_busy = counter!("vigil_sfu_signalling_refused_total", "reason" => "busy");
        let sfu = Sfu { workers: workers.into(), placement: Arc::default(), events, refused_busy };
        Ok((sfu, SfuThreads(threads)))
    }

    #[cfg(test)]
    fn from_parts(
        cmd: mpsc::SyncSender<Command>,
        offers: mpsc::SyncSender<Offer>,
        stop: Arc<AtomicBool>,
        events: broadcast::Sender<SfuEvent>,
        local_addr: SocketAddr,
    ) -> Sfu {
        let refused_busy = counter!("vigil_sfu_signalling_refused_total", "reason" => "busy");
        let worker = Worker { cmd, bell: Doorbell::unattached(), offers, stop, local_addr, peers: Arc::default() };
        Sfu { workers: vec![worker].into(), placement: Arc::default(), events, refused_busy }
    }

    /// A handle that lets the SFU stop when every `Sfu` handle is gone.
    pub fn downgrade(&self) -> WeakSfu {
        WeakSfu {
            workers: Arc::downgrade(&self.workers),
            placement: Arc::downgrade(&self.placement),
            events: self.events.clone(),
            refused_busy: self.refused_busy.clone(),
        }
    }

    /// The first worker's bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.workers[0].local_addr
    }

    /// Every worker's bound UDP address, in worker order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.workers.iter().map(|w| w.local_addr).collect()
    }

    /// The worker holding `exam`, placing the exam if `place` and it has
    /// none yet.
    fn worker(&self, exam: &ExamId, place: bool) -> Option<&Worker> {
        let mut placement = self.placement.lock().unwrap_or_else(|e| e.into_inner());
        let i = if place { Some(placement.place(exam, &self.workers, Instant::now())) } else { placement.find(exam) };
        i.and_then(|i| self.workers.get(i))
    }

    /// Subscribes to SFU events (health findings, peer lifecycle). Events
    /// sent before this call are not seen.
    pub fn events(&self) -> broadcast::Receiver<SfuEvent> {
        self.events.subscribe()
    }

    /// Queues a command for the worker holding `exam` now; `reply` waits
    /// for the answer. A full queue is `Busy` and a stopped thread
    /// `Stopped`, both without waiting; an exam no worker holds has no
    /// peers (`UnknownPeer`).
    fn call<T: Send + 'static>(&self, exam: &ExamId, command: impl FnOnce(Reply<T>) -> Command) -> Queued<T> {
        match self.worker(exam, false) {
            Some(w) => {
                let queued = self.queue(&w.cmd, command);
                if queued.is_ok() {
                    w.bell.ring();
                }
                queued
            }
            None => Err(SfuError::UnknownPeer),
        }
    }

    /// Like `call`, for the offer thread of the worker `exam` is placed on.
    fn offer<T: Send + 'static>(&self, exam: &ExamId, offer: impl FnOnce(Reply<T>) -> Offer) -> Queued<T> {
        match self.worker(exam, true) {
            Some(w) => self.queue(&w.offers, offer),
            None => Err(SfuError::Stopped),
        }
    }

    /// Queues `message`; the receiver of its reply, or why it was not queued.
    fn queue<T: Send + 'static, M>(
        &self,
        queue: &mpsc::SyncSender<M>,
        message: impl FnOnce(Reply<T>) -> M,
    ) -> Queued<T> {
        let (tx, rx) = oneshot::channel();
        match queue.try_send(message(tx)) {
            Ok(()) => Ok(rx),
            Err(mpsc::TrySendError::Full(_)) => {
                self.refused_busy.increment(1);
                Err(SfuError::Busy)
            }
            Err(mpsc::TrySendError::Disconnected(_)) => Err(SfuError::Stopped),
        }
    }

    /// A student publishes; resolves to the SDP answer. `options` say what
    /// this publication may do beyond its camera (its audio reaches
    /// proctors only with `PublishOptions { audio: true }`).
    pub fn publish(
        &self,
        id: PublisherId,
        offer_sdp: String,
        options: PublishOptions,
    ) -> impl Future<Output = Result<String, SfuError>> + Send + 'static {
        let exam = id.exam.clone();
        reply(self.offer(&exam, move |r| Offer::Publish(id, offer_sdp, options, r)))
    }

    /// A proctor connection offers recvonly video slots (each with the
    /// recvonly audio m-line of the same rank, if any); resolves to the
    /// answer and the video slots' mids in order.
    pub fn subscribe(
        &self,
        id: SubscriberId,
        offer_sdp: String,
    ) -> impl Future<Output = Result<(String, Vec<String>), SfuError>> + Send + 'static {
        let exam = id.exam.clone();
        reply(self.offer(&exam, move |r| Offer::Subscribe(id, offer_sdp, r)))
    }

    pub fn add_candidate(
        &self,
        peer: PeerId,
        candidate: IceCandidate,
    ) -> impl Future<Output = Result<(), SfuError>> + Send + 'static {
        let exam = peer.exam().clone();
        reply(self.call(&exam, move |r| Command::Candidate(peer, candidate, r)))
    }

    /// Shows `publisher` in a slot of `subscriber`. A student of another
    /// exam may be watched only if both exams are on one worker; a student
    /// whose exam no worker holds yet is placed with the subscriber.
    pub fn watch(
        &self,
        subscriber: SubscriberId,
        slot: u32,
        publisher: PublisherId,
        quality: WatchQuality,
    ) -> impl Future<Output = Result<SlotUpdate, SfuError>> + Send + 'static {
        let crosses = publisher.exam != subscriber.exam && {
            let mut placement = self.placement.lock().unwrap_or_else(|e| e.into_inner());
            match (placement.find(&subscriber.exam), placement.find(&publisher.exam)) {
                (Some(s), Some(p)) => s != p,
                (Some(s), None) => {
                    placement.place_on(&publisher.exam, s, Instant::now());
                    false
                }
                (None, _) => false,
            }
        };
        let exam = subscriber.exam.clone();
        let queued = if crosses {
            Err(SfuError::OtherWorker)
        } else {
            self.call(&exam, move |r| Command::Watch(subscriber, slot, publisher, quality, r))
        };
        reply(queued)
    }

    pub fn unwatch(
        &self,
        subscriber: SubscriberId,
        slot: u32,
    ) -> impl Future<Output = Result<SlotUpdate, SfuError>> + Send + 'static {
        let exam = subscriber.exam.clone();
        reply(self.call(&exam, move |r| Command::Unwatch(subscriber, slot, r)))
    }

    /// Records `publisher`'s current publication until it ends: its
    /// decrypted RTP goes to `SfuConfig::recorder`. Call it once `publish`
    /// has answered; `NotRecording` when the SFU has no recorder.
    pub fn record(&self, publisher: PublisherId) -> impl Future<Output = Result<(), SfuError>> + Send + 'static {
        let exam = publisher.exam.clone();
        reply(self.call(&exam, move |r| Command::Record(publisher, r)))
    }

    /// Asks a recorded publisher for a key frame (a PLI), for its recorder.
    pub fn request_recording_keyframe(
        &self,
        publisher: PublisherId,
    ) -> impl Future<Output = Result<(), SfuError>> + Send + 'static {
        let exam = publisher.exam.clone();
        reply(self.call(&exam, move |r| Command::RecordingKeyframe(publisher, r)))
    }

    pub fn close(&self, peer: PeerId) -> impl Future<Output = Result<(), SfuError>> + Send + 'static {
        let exam = peer.exam().clone();
        reply(self.call(&exam, move |r| Command::Close(peer, r)))
    }

    /// Asks the workers to stop (within one loop turn, a few
    /// milliseconds); join the threads from `start` to wait. Commands still
    /// queued are answered `Stopped`.
    pub fn shutdown(&self) {
        for w in self.workers.iter() {
            w.stop.store(true, Ordering::Relaxed);
            w.bell.ring();
        }
    }
}

/// The workers' threads, to join after `Sfu::shutdown`.
pub struct SfuThreads(Vec<JoinHandle<()>>);

impl SfuThreads {
    /// Waits for every worker; an error if any of them panicked.
    pub fn join(self) -> std::thread::Result<()> {
        let mut result = Ok(());
        for t in self.0 {
            if let Err(e) = t.join() {
                result = Err(e);
            }
        }
        result
    }
}

/// Worker `i`'s address given the configured one: the port counts up from
/// a fixed port (P, P+1, …); port 0 stays 0, for the kernel to pick.
fn worker_addr(a: SocketAddr, i: usize) -> Result<SocketAddr, SfuError> {
    if a.port() == 0 {
        return Ok(a);
    }
    let port = u16::try_from(usize::from(a.port()) + i)
        .map_err(|_| SfuError::Config(format!("no port for worker {i} above {a}")))?;
    Ok(SocketAddr::new(a.ip(), port))
}

/// Binds worker `i`'s socket and starts its thread and its offer thread.
fn start_worker(
    config: &SfuConfig,
    i: usize,
    events: broadcast::Sender<SfuEvent>,
) -> Result<(Worker, JoinHandle<()>), SfuError> {
    let socket = bind_socket(worker_addr(config.bind, i)?)?;
    let local_addr = socket.local_addr()?;
    let candidate_addr = match config.advertised {
        Some(a) => worker_addr(a, i)?,
        None => local_addr,
    };
    if candidate_addr.ip().is_unspecified() || candidate_addr.port() == 0 {
        return Err(SfuError::Config(format!("cannot advertise {candidate_addr}: set an advertised address")));
    }
    socket.set_nonblocking(true)?;
    let poll = mio::Poll::new()?;
    poll.registry().register(
        &mut mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&socket)),
        SOCKET,
        mio::Interest::READABLE,
    )?;
    let bell = Doorbell(Arc::new(mio::Waker::new(poll.registry(), BELL)?));
    let mut rcfg = RouterConfig::new(candidate_addr);
    rcfg.max_slots = config.max_slots;
    rcfg.health = config.health.clone();
    rcfg.bwe_initial_bps = config.bwe_initial_bps;
    rcfg.limits = config.limits.clone();
    let (cmd, rx) = mpsc::sync_channel(config.command_queue.max(1));
    let (offers, offers_rx) = mpsc::sync_channel(config.offer_queue.max(1));
    let stop = Arc::new(AtomicBool::new(false));
    let peers = Arc::new(AtomicUsize::new(0));
    let preparer = Preparer {
        preparer: OfferPreparer::new(rcfg.clone()),
        offers: offers_rx,
        cmd: cmd.clone(),
        bell: bell.clone(),
    };
    // Only the router holds the recorder's queue, not the offer thread
    // (which lives as long as any `Sfu` handle): when the SFU threads
    // stop, the queue closes and the recorder finishes its recordings.
    rcfg.recorder = config.recorder.clone();
    std::thread::Builder::new().name(format!("vigil-sfu-offer{i}")).spawn(move || preparer.run())?;
    let thread = Thread {
        socket,
        poll,
        commands: rx,
        commands_per_turn: config.commands_per_turn.max(1),
        stop: stop.clone(),
        events,
        peers: peers.clone(),
    };
    // Thread names are at most 15 bytes on Linux: "vigil-sfu-N".
    let handle = std::thread::Builder::new().name(format!("vigil-sfu-{i}")).spawn(move || thread.run(rcfg))?;
    Ok((Worker { cmd, bell, offers, stop, local_addr, peers }, handle))
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
#[allow(unsafe_code)] // setsockopt with a *FORCE option: socket2 has no safe wrapper for it
fn force_buffers(s: &socket2::Socket) {
    use std::os::fd::AsRawFd;
    if s.recv_buffer_size().unwrap_or(0) >= SOCKET_BUFFER {
        return;
    }
    let size = SOCKET_BUFFER as libc::c_int;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
        // SAFETY: the descriptor is owned by `s`, which is borrowed and so
        // open for the whole call; `optval` points at a live c_int and
        // `optlen` is its size, so the kernel reads exactly that int and
        // writes nothing. Failure (no CAP_NET_ADMIN) leaves the buffer as
        // it was.
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

/// The thread that answers offers, and where it sends them.
struct Preparer {
    preparer: OfferPreparer,
    offers: mpsc::Receiver<Offer>,
    cmd: mpsc::SyncSender<Command>,
    bell: Doorbell,
}

impl Preparer {
    /// Answers offers until every handle is gone, then lets go of the
    /// command queue so that the SFU thread sees it close.
    fn run(self) {
        lower_priority();
        let busy = counter!("vigil_sfu_signalling_refused_total", "reason" => "busy");
        for offer in self.offers.iter() {
            let now = Instant::now();
            let queued = match offer {
                Offer::Publish(id, sdp, options, reply) => match contain(|| self.preparer.publisher(now, &sdp)) {
                    Ok(prepared) => self.cmd.try_send(Command::Publish(id, Box::new(prepared), options, reply)),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                },
                Offer::Subscribe(id, sdp, reply) => match contain(|| self.preparer.subscriber(now, &sdp)) {
                    Ok(prepared) => self.cmd.try_send(Command::Subscribe(id, Box::new(prepared), reply)),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                },
            };
            // A command that finds the queue full or closed is answered
            // here; `Stopped` needs nothing, as its reply is dropped with it.
            match queued {
                Ok(()) => self.bell.ring(),
                Err(mpsc::TrySendError::Full(command)) => {
                    busy.increment(1);
                    command.refuse(SfuError::Busy);
                }
                Err(mpsc::TrySendError::Disconnected(_)) => {}
            }
        }
    }
}

/// Answers an offer, turning a panic in str0m into a refusal: str0m 0.25
/// has panicked on offers that no browser sends (see `sdp::PayloadTypes`),
/// and the fuzzers may not have found the last of them. The prepared peer
/// is discarded with the panic, so no state it touched outlives it.
fn contain<T>(prepare: impl FnOnce() -> Result<T, SfuError>) -> Result<T, SfuError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(prepare)).unwrap_or_else(|_| {
        counter!("vigil_sfu_panics_total", "where" => "offer").increment(1);
        tracing::warn!("str0m panicked answering an offer; the offer was refused");
        Err(SfuError::OfferRejected("its media sections cannot be answered (inconsistent or unsupported)".into()))
    })
}

impl Command {
    /// Answers the command with `e` instead of applying it.
    fn refuse(self, e: SfuError) {
        match self {
            Command::Publish(.., r) => drop(r.send(Err(e))),
            Command::Subscribe(.., r) => drop(r.send(Err(e))),
            Command::Candidate(.., r)
            | Command::Close(.., r)
            | Command::Record(.., r)
            | Command::RecordingKeyframe(.., r) => drop(r.send(Err(e))),
            Command::Watch(.., r) | Command::Unwatch(.., r) => drop(r.send(Err(e))),
        }
    }
}

/// Runs the calling thread at nice 10, so that answering offers yields to
/// forwarding and to the server's own work whenever both want a core. On
/// Linux, nice is per thread. Failure leaves the priority as it was.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // setpriority and gettid have no safe wrapper in std
fn lower_priority() {
    // SAFETY: gettid has no preconditions and cannot fail; setpriority
    // takes plain integers, touches no memory of ours, and only changes
    // the scheduling weight of the thread named (this one).
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
    if r != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower the offer thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// What the SFU thread owns besides its router.
struct Thread {
    /// Non-blocking, registered with `poll` (edge-triggered).
    socket: UdpSocket,
    poll: mio::Poll,
    commands: mpsc::Receiver<Command>,
    commands_per_turn: usize,
    stop: Arc<AtomicBool>,
    events: broadcast::Sender<SfuEvent>,
    /// Where the thread publishes its peer count, for placing new exams.
    peers: Arc<AtomicUsize>,
}

/// The command queue after one turn's share was taken.
enum Queue {
    Empty,
    /// Commands may be waiting: read only what the socket already holds.
    Backlog,
    /// Every handle is gone.
    Closed,
}

impl Thread {
    fn run(self, cfg: RouterConfig) {
        let Thread { socket, mut poll, commands, commands_per_turn, stop, events, peers } = self;
        let mut router = Router::new(cfg, Instant::now(), SystemTime::now());
        let mut io = Io {
            socket,
            rbatch: RecvBatch::new(),
            sbatch: Vec::with_capacity(BATCH),
            send_errors: counter!("vigil_sfu_send_errors_total"),
        };
        let loop_time = histogram!("vigil_sfu_loop_seconds");
        let mut woken = mio::Events::with_capacity(4);
        while !stop.load(Ordering::Relaxed) {
            let commands_waiting = match apply_commands(&mut router, &commands, commands_per_turn) {
                Queue::Empty => false,
                Queue::Backlog => true,
                Queue::Closed => return,
            };
            let (started, drained) = io.receive(&mut router);
            if router.poll_timeout() <= started {
                router.handle_timeout(started);
            }
            io.send_all(&mut router);
            while let Some(e) = router.poll_event() {
                // No receivers is fine: nobody is listening yet.
                let _ = events.send(e);
            }
            router.flush_metrics();
            peers.store(router.peer_count(), Ordering::Relaxed);
            loop_time.record(started.elapsed().as_secs_f64());
            if drained && !commands_waiting {
                // Sleep until a datagram, a command (the doorbell) or the
                // next timer. The socket is edge-triggered, which is safe
                // because it was just drained: anything that arrived since
                // raises a new edge. A command queued after `apply_commands`
                // rang the bell, which stays pending until this call.
                let due = router.poll_timeout().saturating_duration_since(Instant::now());
                if let Err(e) = poll.poll(&mut woken, Some(due.min(LONGEST_SLEEP)))
                    && e.kind() != std::io::ErrorKind::Interrupted
                {
                    tracing::warn!(error = %e, "SFU epoll");
                }
            }
        }
    }
}

/// Applies this turn's share of the queued commands: at most `max`, and
/// none once `COMMAND_TIME_PER_TURN` has passed.
fn apply_commands(router: &mut Router, commands: &mpsc::Receiver<Command>, max: usize) -> Queue {
    let started = Instant::now();
    for _ in 0..max {
        match commands.try_recv() {
            Ok(c) => apply(router, c),
            Err(mpsc::TryRecvError::Empty) => return Queue::Empty,
            // Queued commands are all received before this is reported.
            Err(mpsc::TryRecvError::Disconnected) => return Queue::Closed,
        }
        if started.elapsed() >= COMMAND_TIME_PER_TURN {
            break;
        }
    }
    Queue::Backlog
}

/// The socket and its batches.
struct Io {
    socket: UdpSocket,
    rbatch: RecvBatch,
    sbatch: Vec<Transmit>,
    send_errors: Counter,
}

impl Io {
    /// Hands the datagrams the socket holds (one batch) to the router;
    /// returns when the batch was read, and whether that emptied the socket.
    fn receive(&mut self, router: &mut Router) -> (Instant, bool) {
        let received = self.rbatch.recv(&self.socket);
        // One clock read per batch: a batch is what the kernel had queued,
        // so its datagrams arrived within microseconds of each other.
        let now = Instant::now();
        let drained = match received {
            Ok(n) => {
                for i in 0..n {
                    if let Some((src, data)) = self.rbatch.get(i) {
                        router.handle_datagram_deferred(now, src, data);
                    }
                }
                router.flush(now);
                // A short batch means the queue ran dry during the call.
                n < RecvBatch::CAPACITY
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
            Err(e) => {
                tracing::debug!(error = %e, "recv");
                false
            }
        };
        (now, drained)
    }

    /// Sends everything the router has queued, a batch per system call.
    fn send_all(&mut self, router: &mut Router) {
        loop {
            self.sbatch.clear();
            while self.sbatch.len() < BATCH
                && let Some(t) = router.poll_transmit()
            {
                self.sbatch.push(t);
            }
            if self.sbatch.is_empty() {
                return;
            }
            let failed = send_batch(&self.socket, &self.sbatch);
            if failed > 0 {
                self.send_errors.increment(failed);
            }
        }
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
#[allow(unsafe_code)] // recvmmsg/sendmmsg have no safe wrapper in std or socket2
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
                // SAFETY: sockaddr_storage is a C struct of integers and byte
                // arrays, for which every bit pattern is valid; all zeroes
                // is AF_UNSPEC, which `get` reads as "no address".
                addrs: vec![unsafe { std::mem::zeroed() }; BATCH],
                lens: [0; BATCH],
                n: 0,
            }
        }

        /// Datagrams per call at most. Fewer means the socket's queue ran
        /// dry during the call: with `MSG_WAITFORONE` the kernel stops at
        /// the first empty read after one datagram (errors from ICMP, which
        /// could also cut a batch short, are not queued on an unconnected
        /// UDP socket without `IP_RECVERR`).
        pub const CAPACITY: usize = BATCH;

        /// Takes what the (non-blocking) socket holds, up to `CAPACITY`; an
        /// empty socket is `WouldBlock`.
        pub fn recv(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
            self.n = 0;
            let mut iovs: [libc::iovec; BATCH] = std::array::from_fn(|i| libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: DATAGRAM_MAX,
            });
            // SAFETY: mmsghdr is a C struct of integers and raw pointers, for
            // which all zeroes is valid (null pointers, zero lengths). Every
            // header gets its name, iov and lengths below, before the kernel
            // sees it.
            let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
            for (i, h) in hdrs.iter_mut().enumerate() {
                h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                h.msg_hdr.msg_iov = &mut iovs[i];
                h.msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: `hdrs` has BATCH entries, the count passed. Header i
            // points at `self.addrs[i]` (namelen = its size) and at
            // `iovs[i]`, which points at `self.bufs[i]` (DATAGRAM_MAX bytes).
            // All of them are owned here and untouched until the call
            // returns, and the kernel writes at most those sizes into each.
            let r = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_WAITFORONE | libc::MSG_DONTWAIT,
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
                    // SAFETY: family AF_INET means the kernel wrote a
                    // sockaddr_in at the start of this storage, and
                    // sockaddr_storage is at least as large and as aligned as
                    // any socket address (POSIX), so the reference is in
                    // bounds, aligned, initialised, and lives no longer than `a`.
                    let v4 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                    SocketAddr::V4(SocketAddrV4::new(
                        u32::from_be(v4.sin_addr.s_addr).into(),
                        u16::from_be(v4.sin_port),
                    ))
                }
                libc::AF_INET6 => {
                    // SAFETY: as for AF_INET above: the kernel wrote a
                    // sockaddr_in6 here, which sockaddr_storage can hold and
                    // is aligned for.
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
        // SAFETY: mmsghdr is a C struct of integers and raw pointers, for
        // which all zeroes is valid. Headers `0..ts.len()` get their name and
        // iov below; the kernel is never shown the others.
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
            // SAFETY: the count `ts.len() - off` keeps the kernel within
            // `hdrs[off..ts.len()]` (ts.len() <= BATCH). Each of those headers
            // points at `addrs[i]` (namelen = its length) and at `iovs[i]`,
            // which points at `ts[i].contents`; all are borrowed or owned
            // here until the call returns. sendmmsg only reads through them
            // (`iov_base` is `*mut` because iovec is shared with recv).
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
        /// One datagram per call: only `WouldBlock` shows the socket is empty.
        pub const CAPACITY: usize = 1;

        pub fn new() -> Self {
            RecvBatch { buf: vec![0; DATAGRAM_MAX], last: None }
        }

        /// One datagram from the (non-blocking) socket; an empty socket is
        /// `WouldBlock`.
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
        Command::Publish(id, prepared, options, r) => {
            let _ = r.send(Ok(router.accept_publisher(now, id, *prepared, options)));
        }
        Command::Subscribe(id, prepared, r) => {
            let _ = r.send(Ok(router.accept_subscriber(now, id, *prepared)));
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
        Command::Record(p, r) => {
            let _ = r.send(router.record_publisher(&p));
        }
        Command::RecordingKeyframe(p, r) => {
            let _ = r.send(router.request_recording_keyframe(now, &p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid() -> PeerId {
        PeerId::Publisher(PublisherId::new("e".parse().unwrap(), "s".parse().unwrap()))
    }

    fn worker_with(peers: usize) -> Worker {
        let (cmd, _) = mpsc::sync_channel(1);
        let (offers, _) = mpsc::sync_channel(1);
        let local_addr = "127.0.0.1:9".parse().unwrap();
        Worker {
            cmd,
            bell: Doorbell::unattached(),
            offers,
            stop: Arc::default(),
            local_addr,
            peers: Arc::new(AtomicUsize::new(peers)),
        }
    }

    #[test]
    fn workers_count_ports_up_from_a_fixed_one() {
        let addr = |s: &str| -> SocketAddr { s.parse().unwrap() };
        assert_eq!(worker_addr(addr("0.0.0.0:3478"), 0).unwrap(), addr("0.0.0.0:3478"));
        assert_eq!(worker_addr(addr("203.0.113.7:3478"), 2).unwrap(), addr("203.0.113.7:3480"));
        assert_eq!(worker_addr(addr("127.0.0.1:0"), 3).unwrap(), addr("127.0.0.1:0"), "the kernel picks");
        assert!(matches!(worker_addr(addr("[::1]:65535"), 1), Err(SfuError::Config(_))), "no port past 65535");
    }

    #[test]
    fn exams_go_to_the_least_loaded_worker_and_stay() {
        let exam = |e: &str| -> ExamId { e.parse().unwrap() };
        let now = Instant::now();
        let mut p = Placement::default();
        let workers = [worker_with(5), worker_with(0)];
        assert_eq!(p.place(&exam("a"), &workers, now), 1, "fewest peers");
        let idle = [worker_with(0), worker_with(0)];
        let mut q = Placement::default();
        assert_eq!(q.place(&exam("a"), &idle, now), 0);
        assert_eq!(q.place(&exam("b"), &idle, now), 1, "a tie goes to the worker with fewer exams");
        idle[0].peers.store(0, Ordering::Relaxed);
        idle[1].peers.store(100, Ordering::Relaxed);
        assert_eq!(q.place(&exam("b"), &idle, now), 1, "a placed exam stays where it is");
        q.place_on(&exam("b"), 0, now);
        assert_eq!(q.find(&exam("b")), Some(1), "place_on does not move a placed exam");
        q.place_on(&exam("c"), 1, now);
        assert_eq!(q.find(&exam("c")), Some(1));
        assert_eq!(q.find(&exam("d")), None);
    }

    #[test]
    fn a_full_queue_is_busy_at_once() {
        // A queue nobody drains: the third call finds it full.
        let (cmd, commands) = mpsc::sync_channel(2);
        let (offers, _offers) = mpsc::sync_channel(1);
        let (events, _) = broadcast::channel(1);
        let sfu =
            Sfu::from_parts(cmd, offers, Arc::new(AtomicBool::new(false)), events, "127.0.0.1:9".parse().unwrap());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        // Its one worker holds the exam, as if a peer of it had arrived.
        assert!(sfu.worker(pid().exam(), true).is_some());
        let queued = [sfu.close(pid()), sfu.close(pid())];
        assert!(matches!(rt.block_on(sfu.close(pid())), Err(SfuError::Busy)));
        // The queued two were not lost: they are there, in order, and are
        // answered `Stopped` when the thread's end goes away unanswered.
        assert_eq!(commands.try_iter().count(), 2);
        drop(commands);
        for q in queued {
            assert!(matches!(rt.block_on(q), Err(SfuError::Stopped)));
        }
        assert!(matches!(rt.block_on(sfu.close(pid())), Err(SfuError::Stopped)));
    }

    /// The offer str0m 0.25 panics on (found by `fuzz/`, target `sdp`; the
    /// router's screen refuses it before str0m, so it is answered here
    /// unscreened): the panic becomes a refusal, and the thread lives on.
    #[test]
    fn a_panic_in_str0m_refuses_the_offer() {
        use str0m::change::SdpOffer;
        use str0m::media::{Direction, MediaKind};
        use str0m::{Candidate, RtcConfig};
        let mut client = RtcConfig::new().clear_codecs().enable_vp8(true).build(Instant::now());
        client.add_local_candidate(Candidate::host("127.0.0.1:5000".parse().unwrap(), "udp").unwrap());
        let mut api = client.sdp_api();
        // A proctor's offer: the SFU's answer sends on both sections.
        for _ in 0..2 {
            api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        }
        let sdp = api.apply().unwrap().0.to_sdp_string();
        let second = sdp.match_indices("m=video").nth(1).expect("two video sections").0;
        let two_meanings = format!("{}{}", &sdp[..second], sdp[second..].replacen("VP8/90000", "H264/90000", 1));
        let answer = |sdp: &str| {
            let sdp = sdp.to_owned();
            contain(move || {
                let mut rtc = crate::router::peer_rtc_config().build(Instant::now());
                let offer = SdpOffer::from_sdp_string(&sdp).map_err(|_| SfuError::BadSdp("test"))?;
                rtc.sdp_api().accept_offer(offer).map(|_| ()).map_err(|_| SfuError::OfferRejected("test".into()))
            })
        };
        let refused = answer(&two_meanings);
        assert!(matches!(&refused, Err(SfuError::OfferRejected(m)) if m.contains("cannot be answered")), "{refused:?}");
        assert!(answer(&sdp).is_ok(), "the same thread answers the next offer");
    }
}
