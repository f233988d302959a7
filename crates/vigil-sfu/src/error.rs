use thiserror::Error;

/// Why an SFU call failed. Variants say whose fault it is: the remote peer
/// (its SDP or candidate), the caller (unknown ids, bad slot), or us.
#[derive(Debug, Error)]
pub enum SfuError {
    /// Peer's fault: the offer does not parse as SDP.
    #[error("malformed SDP offer: {0}")]
    BadSdp(String),
    /// Peer's fault: the offer parses but cannot be served (no video, wrong
    /// direction, no common codec, too many slots).
    #[error("offer rejected: {0}")]
    OfferRejected(String),
    /// Peer's fault: the trickled candidate does not parse.
    #[error("malformed ICE candidate: {0}")]
    BadCandidate(String),
    /// Caller's fault: no such publisher or subscriber connected.
    #[error("unknown peer")]
    UnknownPeer,
    /// Caller's fault: the slot index is not below the subscriber's slot count.
    #[error("slot {slot} out of range (subscriber has {slots})")]
    NoSuchSlot { slot: u32, slots: usize },
    /// Caller's fault: the configuration cannot work.
    #[error("bad configuration: {0}")]
    Config(String),
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
