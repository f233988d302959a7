use thiserror::Error;

/// Why an SFU call failed. Variants say whose fault it is: the remote peer
/// (its SDP or candidate), the caller (unknown ids, bad slot), or us.
///
/// Messages go back to clients as they are, so none carries a parser's or
/// str0m's own text: those can include internals (heap addresses, struct
/// dumps) and are only logged, at debug.
#[derive(Debug, Error)]
pub enum SfuError {
    /// Peer's fault: the offer does not parse as SDP. The reason is fixed
    /// text chosen by the SFU.
    #[error("malformed SDP offer: {0}")]
    BadSdp(&'static str),
    /// Peer's fault: the offer parses but cannot be served (no video, wrong
    /// direction, no common codec, too many slots).
    #[error("offer rejected: {0}")]
    OfferRejected(String),
    /// Peer's fault: the offer is longer than its m-lines could need.
    /// Checked before anything parses it.
    #[error("the offer is {size} bytes; at most {max} are accepted")]
    OfferTooLarge { size: usize, max: usize },
    /// Peer's fault: the offer has more m-lines than its role may use.
    /// Checked before anything parses it.
    #[error("the offer has more than {max} media sections")]
    TooManyMLines { max: usize },
    /// Peer's fault: the trickled candidate does not parse. The reason is
    /// fixed text chosen by the SFU.
    #[error("malformed ICE candidate: {0}")]
    BadCandidate(&'static str),
    /// Peer's fault: the connection already gave `max` remote candidates
    /// (in its offer and trickled); more are refused unparsed.
    #[error("at most {max} ICE candidates are accepted per connection")]
    TooManyCandidates { max: usize },
    /// Caller's fault: no such publisher or subscriber connected.
    #[error("unknown peer")]
    UnknownPeer,
    /// Caller's fault: the slot index is not below the subscriber's slot count.
    #[error("slot {slot} out of range (subscriber has {slots})")]
    NoSuchSlot { slot: u32, slots: usize },
    /// Caller's fault: the student's exam is on another SFU worker than the
    /// proctor connection's; a proctor watches their own exam's students.
    #[error("that student's video is on another SFU worker than this connection")]
    OtherWorker,
    /// Caller's fault: the configuration cannot work.
    #[error("this SFU records nothing (it has no recorder)")]
    NotRecording,

    #[error("bad configuration: {0}")]
    Config(String),
    /// Ours, for now: the SFU thread's command queue is full. Nothing was
    /// done; the call may be repeated later.
    #[error("the SFU is busy; try again shortly")]
    Busy,
    /// Ours: the UDP socket.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// Ours: str0m refused something we asked of it.
    #[error("webrtc: {0}")]
    Rtc(#[from] str0m::RtcError),
    /// The SFU thread has stopped; the call was not carried out.
    #[error("the SFU has stopped")]
    Stopped,
}
