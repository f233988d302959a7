//! Identifiers, parsed once at the edge.
//!
//! Every id vigil handles (exam, student, proctor, incident) has one grammar:
//! 1 to [`MAX_ID_LEN`] bytes of `[A-Za-z0-9._-]`. Ids appear in URLs, Socket.IO
//! room names, metric-free log fields and file names, so the grammar leaves
//! out every separator those use (`/`, `:`, `?`, `#`, `%`, whitespace).
//!
//! Each kind is its own type, so a student id can never be passed where an
//! exam id is expected. Deserialising one parses it (`serde(try_from)`): a
//! message whose id breaks the grammar fails to deserialise, and code behind
//! the edge never sees an unparsed id. On the wire (and in TypeScript) each is
//! a plain string.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The longest id, in bytes (all of them ASCII).
pub const MAX_ID_LEN: usize = 64;

/// Prefix reserved for incidents the server raises itself. A client may not
/// use it, so a server incident's id can never collide with a client's.
pub const SERVER_INCIDENT_PREFIX: &str = "srv-";

/// Why a string is not an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id must not be empty")]
    Empty,
    #[error("an id is at most {MAX_ID_LEN} characters")]
    TooLong,
    #[error("an id may only contain A-Z, a-z, 0-9, '.', '_' and '-'")]
    BadCharacter,
}

/// Checks the one id grammar.
pub fn check_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        Err(IdError::Empty)
    } else if s.len() > MAX_ID_LEN {
        Err(IdError::TooLong)
    } else if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        Err(IdError::BadCharacter)
    } else {
        Ok(())
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
        #[serde(try_from = "String", into = "String")]
        #[ts(type = "string")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                check_id(&s)?;
                Ok($name(s))
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                check_id(s)?;
                Ok($name(s.to_owned()))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// An exam.
    ExamId
);
id_type!(
    /// A student on one exam's roster.
    StudentId
);
id_type!(
    /// A proctor on one exam's roster.
    ProctorId
);
id_type!(
    /// An incident of one student: chosen by the student's client (the
    /// idempotency key of `incident`), or by the server for its own incidents
    /// (always starting with [`SERVER_INCIDENT_PREFIX`]).
    IncidentId
);

id_type!(
    /// A chat message, chosen by its sender: the idempotency key of `chat`
    /// (a resend after a lost answer is the same message, stored once).
    ChatMessageId
);

impl IncidentId {
    /// A server incident's id: the reserved prefix, the kind, and `unique`
    /// (random, so that it cannot be predicted and pre-registered).
    pub fn for_server(kind: &str, unique: &str) -> Result<IncidentId, IdError> {
        format!("{SERVER_INCIDENT_PREFIX}{kind}-{unique}").parse()
    }

    /// Whether this id is in the server's reserved space.
    pub fn is_server(&self) -> bool {
        self.0.starts_with(SERVER_INCIDENT_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_grammar() {
        assert!("exam-1.a_B".parse::<ExamId>().is_ok());
        assert_eq!("".parse::<StudentId>(), Err(IdError::Empty));
        assert_eq!("a".repeat(65).parse::<ProctorId>(), Err(IdError::TooLong));
        assert!("a".repeat(64).parse::<ProctorId>().is_ok());
        for bad in ["a:b", "a/b", "a b", "é", "a%2f", "a#b", "a?b"] {
            assert_eq!(bad.parse::<IncidentId>(), Err(IdError::BadCharacter), "{bad}");
        }
    }

    #[test]
    fn serde_parses_and_prints_plain_strings() {
        let id: ExamId = serde_json::from_str("\"algebra-1\"").unwrap();
        assert_eq!(id, "algebra-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"algebra-1\"");
        assert!(serde_json::from_str::<ExamId>("\"no:colons\"").is_err());
        assert!(serde_json::from_str::<ExamId>("7").is_err());
    }

    #[test]
    fn server_ids_are_reserved() {
        let id = IncidentId::for_server("heartbeat_lost", "3f2a").unwrap();
        assert!(id.is_server());
        assert!(!"tab-1".parse::<IncidentId>().unwrap().is_server());
    }
}
