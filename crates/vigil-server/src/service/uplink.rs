//! The uplink probe (`POST /api/v1/uplink-probe`): a student's system check
//! uploads throwaway bytes and is told how fast they arrived
//! (`vigil_core::uplink`). The transport reads and times the body; this is
//! what is decided before a byte of it is read: the student (the caller
//! authenticated the token), the declared length, and the budgets.
//!
//! A probe holds no memory (its body is dropped as it arrives) but holds a
//! connection and part of the server's downlink for up to
//! [`ProbeLimits::deadline`], so they are bounded three ways: one in flight
//! per student, [`ServiceConfig::uplink_probes_in_flight`] server-wide, and a
//! per-student rate ([`vigil_core::uplink::PROBE_RATE`]). The slots are tried
//! before the rate is spent, so a page refused for a busy server keeps its
//! budget for the retry.
//!
//! [`ServiceConfig::uplink_probes_in_flight`]: super::ServiceConfig::uplink_probes_in_flight

use tokio::sync::OwnedSemaphorePermit;
use vigil_core::uplink::{BUSY_RETRY_MS, ProbeLimits, check_declared};
use vigil_proto::{RejectReason, Rejection};

use super::{Service, StudentSession, lock};

/// A probe that may be read: held until its body has been read.
#[derive(Debug)]
pub struct ProbeTicket {
    _student: OwnedSemaphorePermit,
    _server: OwnedSemaphorePermit,
}

fn busy(message: &str) -> Rejection {
    Rejection { reason: RejectReason::RateLimited, message: message.to_owned(), retry_after_ms: Some(BUSY_RETRY_MS) }
}

impl Service {
    /// What a probe may be and how long it may take.
    pub fn probe_limits(&self) -> &ProbeLimits {
        &self.config.uplink
    }

    /// Every check of a probe that needs no body: the declared length
    /// (`Content-Length`, absent for a chunked body), then the slots, then
    /// the student's rate.
    pub fn uplink_precheck(&self, sess: &StudentSession, declared: Option<u64>) -> Result<ProbeTicket, Rejection> {
        if sess.cell.is_erased() {
            return Err(super::sessions::erased());
        }
        check_declared(declared, &self.config.uplink)?;
        let student = sess
            .cell
            .probe_slot
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy("your previous uplink probe is still being read; retry"))?;
        let server = self
            .probe_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy("the server is measuring many uplinks; retry"))?;
        lock(&sess.cell.live).probe_bucket.try_take(self.clock.now_ms()).map_err(|wait| Rejection {
            reason: RejectReason::RateLimited,
            message: "too many uplink probes; the last measurement still holds".into(),
            retry_after_ms: Some(wait),
        })?;
        Ok(ProbeTicket { _student: student, _server: server })
    }
}
