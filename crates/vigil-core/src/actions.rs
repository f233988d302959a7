//! Rules on proctor actions.

use vigil_proto::events::{ActionRequest, ProctorActionKind};
use vigil_proto::{RejectReason, Rejection};

/// The longest message a proctor may send with an action, in characters.
pub const MAX_ACTION_TEXT_CHARS: usize = 1_000;

/// The most time a proctor may add at once (a day), in minutes.
pub const MAX_ADDED_MINUTES: u32 = 1_440;

pub fn check_action(req: &ActionRequest) -> Result<(), Rejection> {
    if req.kind == ProctorActionKind::AddTime && !req.minutes.is_some_and(|m| (1..=MAX_ADDED_MINUTES).contains(&m)) {
        return Err(Rejection::new(
            RejectReason::InvalidPayload,
            format!("add_time needs minutes between 1 and {MAX_ADDED_MINUTES}"),
        ));
    }
    if req.kind == ProctorActionKind::RejectIdentity && req.text.as_ref().is_none_or(|t| t.trim().is_empty()) {
        return Err(Rejection::new(RejectReason::InvalidPayload, "reject_identity needs a reason in text"));
    }
    if req.text.as_ref().is_some_and(|t| t.chars().count() > MAX_ACTION_TEXT_CHARS) {
        return Err(Rejection::new(
            RejectReason::InvalidPayload,
            format!("text is longer than {MAX_ACTION_TEXT_CHARS} characters"),
        ));
    }
    Ok(())
}
