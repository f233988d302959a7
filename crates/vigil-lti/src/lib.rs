//! The pure core of vigil's LTI 1.3 tool, with LTI Proctoring Services 1.0.
//!
//! This crate does no I/O: no sockets, no files, no clock. It starts with
//! the values every later step parses once: identifiers, https URLs,
//! platform registrations, time, role mapping and claim names.

pub mod claims;
mod roles;
mod types;

pub use roles::{LaunchRole, Roles, map_role};
pub use types::{
    ClientId, ContextId, DeploymentId, HttpsUrl, InvalidValue, Issuer, MAX_ID_LEN, MAX_URL_LEN, PlatformRegistration,
    ResourceLinkId, TokenAudience, ToolConfig, UnixSeconds, UserId,
};
