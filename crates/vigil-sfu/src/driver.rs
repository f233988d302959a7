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
    Watch(
        SubscriberId,
        u32,
        PublisherId,
        WatchQuality,
        Reply<SlotUpdate>,
    ),
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
            return Err(SfuError::Config(format!(
                "cannot advertise {candidate_addr}: set an advertised address"
            )));
        }
        socket.set_read_timeout(Some(IDLE_WAIT))?;
        let mut rcfg = RouterConfig::new(candidate_addr);
        rcfg.max_slots = config.max_slots;
        rcfg.health = config.health.clone();
        rcfg.bwe_initial_bps = config.bwe_initial_bps;
        let (cmd, rx) = mpsc::channel();
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let ev = events.clone();
        let handle = std::thread::Builder::new()
            .name("vigil-sfu".into())
            .spawn(move || run(socket, rcfg, rx, ev))?;
        Ok((
            Sfu {
                cmd,
                events,
                local_addr,
            },
            handle,
        ))
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
    pub async fn subscribe(
        &self,
        id: SubscriberId,
        offer_sdp: String,
    ) -> Result<(String, Vec<String>), SfuError> {
        self.call(|r| Command::Subscribe(id, offer_sdp, r)).await
    }

    pub async fn add_candidate(
        &self,
        peer: PeerId,
        candidate: IceCandidate,
    ) -> Result<(), SfuError> {
        self.call(|r| Command::Candidate(peer, candidate, r)).await
    }

    pub async fn watch(
        &self,
        subscriber: SubscriberId,
        slot: u32,
        publisher: PublisherId,
        quality: WatchQuality,
    ) -> Result<SlotUpdate, SfuError> {
        self.call(|r| Command::Watch(subscriber, slot, publisher, quality, r))
            .await
    }

    pub async fn unwatch(
        &self,
        subscriber: SubscriberId,
        slot: u32,
    ) -> Result<SlotUpdate, SfuError> {
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
    let _ = s.set_recv_buffer_size(8 << 20);
    let _ = s.set_send_buffer_size(8 << 20);
    s.bind(&addr.into())?;
    Ok(s.into())
}

fn run(
    socket: UdpSocket,
    cfg: RouterConfig,
    rx: mpsc::Receiver<Command>,
    events: broadcast::Sender<SfuEvent>,
) {
    let mut router = Router::new(cfg, Instant::now(), SystemTime::now());
    let mut buf = vec![0u8; 2000];
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
        let received = socket.recv_from(&mut buf);
        let started = Instant::now();
        match received {
            Ok((n, src)) => router.handle_datagram(started, src, &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => tracing::debug!(error = %e, "recv_from"),
        }
        if router.poll_timeout() <= started {
            router.handle_timeout(started);
        }
        while let Some(t) = router.poll_transmit() {
            if socket.send_to(&t.contents, t.destination).is_err() {
                send_errors.increment(1);
            }
        }
        while let Some(e) = router.poll_event() {
            // No receivers is fine: nobody is listening yet.
            let _ = events.send(e);
        }
        loop_time.record(started.elapsed().as_secs_f64());
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
