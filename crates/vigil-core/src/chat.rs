//! Chat between a student and the exam's proctors: what a message may say
//! and how often each sender may speak.
//!
//! Messages are plain text, shown as text by every client. The limits keep
//! one sender from flooding the others: a student asks a question now and
//! then; a proctor answers many students; an announcement reaches every
//! student of the exam, so it has the smallest budget.

use vigil_proto::{RejectReason, Rejection};

use crate::rate::RateLimit;

/// The longest message, in characters.
pub const MAX_CHARS: usize = 1_000;

/// Per student: a few lines in a row, then one every two seconds.
pub const STUDENT_RATE: RateLimit = RateLimit { burst: 5, per_second: 0.5 };
/// Per proctor: answers to many students.
pub const PROCTOR_RATE: RateLimit = RateLimit { burst: 20, per_second: 2.0 };
/// Per exam: announcements interrupt every student.
pub const ANNOUNCEMENT_RATE: RateLimit = RateLimit { burst: 3, per_second: 0.1 };
/// Per student: `chat_sync` asks (one after each connect, and one per page
/// of history).
pub const SYNC_RATE: RateLimit = RateLimit { burst: 10, per_second: 1.0 };
/// The most messages one sync answers.
pub const SYNC_PAGE: usize = 500;

/// Whether `text` may be sent: 1 to [`MAX_CHARS`] characters, not only
/// blanks, and no control characters but line breaks and tabs (which a
/// text box produces; others only hide or garble what proctors read).
pub fn check_text(text: &str) -> Result<(), Rejection> {
    if text.chars().count() > MAX_CHARS {
        return Err(Rejection::new(RejectReason::TooLarge, format!("a message is at most {MAX_CHARS} characters")));
    }
    if text.trim().is_empty() {
        return Err(Rejection::new(RejectReason::InvalidPayload, "the message is empty"));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
        return Err(Rejection::new(
            RejectReason::InvalidPayload,
            "a message may not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_bounded_and_plain() {
        assert_eq!(check_text("May I use a calculator?\nThanks"), Ok(()));
        assert_eq!(check_text(&"é".repeat(MAX_CHARS)), Ok(()), "characters, not bytes");
        assert_eq!(check_text(&"a".repeat(MAX_CHARS + 1)).unwrap_err().reason, RejectReason::TooLarge);
        for bad in ["", "  \n\t ", "bell\u{7}", "esc\u{1b}[31m", "nul\0"] {
            assert_eq!(check_text(bad).unwrap_err().reason, RejectReason::InvalidPayload, "{bad:?}");
        }
        // Markup is text like any other: clients show it as typed.
        assert_eq!(check_text("<script>alert(1)</script>"), Ok(()));
    }
}
