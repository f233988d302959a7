//! Rules on proctor actions.

use vigil_proto::events::ActionRequest;
use vigil_proto::{RejectReason, Rejection};

/// The longest message a proctor may send with an action, in characters.
pub const MAX_ACTION_TEXT_CHARS: usize = 1_000;

pub fn check_action(req: &ActionRequest) -> Result<(), Rejection> {
    if req.text.as_ref().is_some_and(|t| t.chars().count() > MAX_ACTION_TEXT_CHARS) {
        return Err(Rejection::new(
            RejectReason::InvalidPayload,
            format!("text is longer than {MAX_ACTION_TEXT_CHARS} characters"),
        ));
    }
    Ok(())
}
