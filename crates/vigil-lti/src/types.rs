//! Values parsed once at the edge: identifiers, URLs, registrations, time.
//!
//! Every type here can only hold a checked value: constructors validate and
//! `Deserialize` goes through the same constructors, so a registration read
//! back from the database is checked exactly like one typed by an admin.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// Longest identifier accepted. LTI Core caps `sub`, `deployment_id` and
/// `resource_link.id` at 255 ASCII characters; the same cap bounds what the
/// server stores for issuers and client ids.
pub const MAX_ID_LEN: usize = 255;

/// Longest URL accepted anywhere (registration URLs, launch claims).
pub const MAX_URL_LEN: usize = 2048;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} bytes")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} contains control characters")]
    ControlCharacter { what: &'static str },
    #[error("{what} is not an absolute URL")]
    NotAUrl { what: &'static str },
    #[error("{what} must use https (plain http only for localhost)")]
    NotHttps { what: &'static str },
    #[error("{what} must not carry credentials or a fragment")]
    UrlExtras { what: &'static str },
    #[error("{what} must list at least one deployment")]
    NoDeployments { what: &'static str },
}

fn check_text(what: &'static str, value: &str, max: usize) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue::Empty { what });
    }
    if value.len() > max {
        return Err(InvalidValue::TooLong { what, max });
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidValue::ControlCharacter { what });
    }
    Ok(())
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks the value: not empty, at most the cap, no control characters.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
                let value = value.into();
                check_text($what, &value, $max)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, InvalidValue> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

bounded_text!(
    /// The platform's issuer identifier (`iss`), compared byte for byte.
    /// Usually an https URL, but LTI does not require one (the 1EdTech
    /// reference platform lets issuers be plain names), so only its size and
    /// characters are checked.
    Issuer,
    "issuer",
    MAX_ID_LEN
);
bounded_text!(
    /// The OAuth client id the platform assigned to vigil.
    ClientId,
    "client_id",
    MAX_ID_LEN
);
bounded_text!(
    /// One deployment of vigil on the platform (LTI Core §3.1.3).
    DeploymentId,
    "deployment_id",
    MAX_ID_LEN
);
bounded_text!(
    /// The platform's stable id for the user (`sub`).
    UserId,
    "sub",
    MAX_ID_LEN
);
bounded_text!(
    /// The platform's id for a placement of vigil (`resource_link.id`).
    ResourceLinkId,
    "resource_link.id",
    MAX_ID_LEN
);
bounded_text!(
    /// The platform's id for a course or other context (`context.id`).
    ContextId,
    "context.id",
    MAX_ID_LEN
);
bounded_text!(
    /// The `aud` of vigil's client assertions when the platform's
    /// authorization server wants something other than its token URL
    /// (Brightspace does, for one).
    TokenAudience,
    "token audience",
    MAX_URL_LEN
);

/// An absolute URL that uses https, or plain http on a loopback host (for
/// tests and local development). No user info, no fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpsUrl(Url);

impl HttpsUrl {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::parse_named("URL", value)
    }

    pub(crate) fn parse_named(what: &'static str, value: &str) -> Result<Self, InvalidValue> {
        check_text(what, value, MAX_URL_LEN)?;
        let url = Url::parse(value).map_err(|_| InvalidValue::NotAUrl { what })?;
        let secure = match url.scheme() {
            "https" => true,
            "http" => is_loopback(&url),
            _ => false,
        };
        if !secure || url.host().is_none() {
            return Err(InvalidValue::NotHttps { what });
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(InvalidValue::UrlExtras { what });
        }
        Ok(Self(url))
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether `other` lies under this URL: same scheme, host and port, and a
    /// path equal to this one or below it on a segment boundary (so a base of
    /// `/lti` owns `/lti/launch` but not `/lti-evil`).
    pub fn contains(&self, other: &Url) -> bool {
        let base = &self.0;
        if base.scheme() != other.scheme()
            || base.host_str() != other.host_str()
            || base.port_or_known_default() != other.port_or_known_default()
        {
            return false;
        }
        let base_path = base.path().trim_end_matches('/');
        let path = other.path();
        match path.strip_prefix(base_path) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl TryFrom<String> for HttpsUrl {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, InvalidValue> {
        Self::parse(&value)
    }
}

impl From<HttpsUrl> for String {
    fn from(value: HttpsUrl) -> String {
        value.0.into()
    }
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Seconds since the Unix epoch: the unit of JWT times. The adapter passes
/// its clock's reading in; nothing in this crate reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixSeconds(pub i64);

impl UnixSeconds {
    /// From the server clock's milliseconds, rounding down.
    pub fn from_millis(millis: i64) -> Self {
        Self(millis.div_euclid(1000))
    }

    pub fn plus(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }
}

/// What vigil knows about one platform (an LMS) it is registered with
/// (LTI Core §3.1, Security Framework §5.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RegistrationFields")]
pub struct PlatformRegistration {
    pub issuer: Issuer,
    pub client_id: ClientId,
    /// The deployments of vigil on this platform whose launches are accepted.
    pub deployment_ids: Vec<DeploymentId>,
    /// Where the OIDC authentication request goes.
    pub auth_login_url: HttpsUrl,
    /// Where the platform publishes its signing keys.
    pub jwks_url: HttpsUrl,
    /// The platform's OAuth 2 token endpoint.
    pub token_url: HttpsUrl,
    /// Overrides the `aud` of client assertions; the token URL when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_audience: Option<TokenAudience>,
}

// Deserialisation checks each field through its own type, then the whole
// through `PlatformRegistration::new`.
#[derive(Deserialize)]
struct RegistrationFields {
    issuer: Issuer,
    client_id: ClientId,
    deployment_ids: Vec<DeploymentId>,
    auth_login_url: HttpsUrl,
    jwks_url: HttpsUrl,
    token_url: HttpsUrl,
    #[serde(default)]
    token_audience: Option<TokenAudience>,
}

impl TryFrom<RegistrationFields> for PlatformRegistration {
    type Error = InvalidValue;
    fn try_from(f: RegistrationFields) -> Result<Self, InvalidValue> {
        let mut registration =
            Self::new(f.issuer, f.client_id, f.deployment_ids, f.auth_login_url, f.jwks_url, f.token_url)?;
        registration.token_audience = f.token_audience;
        Ok(registration)
    }
}

impl PlatformRegistration {
    pub fn new(
        issuer: Issuer,
        client_id: ClientId,
        deployment_ids: Vec<DeploymentId>,
        auth_login_url: HttpsUrl,
        jwks_url: HttpsUrl,
        token_url: HttpsUrl,
    ) -> Result<Self, InvalidValue> {
        if deployment_ids.is_empty() {
            return Err(InvalidValue::NoDeployments { what: "registration" });
        }
        Ok(Self { issuer, client_id, deployment_ids, auth_login_url, jwks_url, token_url, token_audience: None })
    }

    pub fn has_deployment(&self, deployment_id: &str) -> bool {
        self.deployment_ids.iter().any(|d| d.as_str() == deployment_id)
    }

    /// The `aud` of client assertions sent to this platform's token endpoint.
    pub fn assertion_audience(&self) -> &str {
        match &self.token_audience {
            Some(audience) => audience.as_str(),
            None => self.token_url.as_str(),
        }
    }
}

/// vigil's own side of the registration: where it lives and how strict it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolConfig {
    /// Every `target_link_uri` a platform asks for must lie under this URL.
    pub base_url: HttpsUrl,
    /// The `redirect_uri` of authentication requests: the endpoint that
    /// receives the platform's form post of the id_token. It must be
    /// registered with each platform.
    pub launch_url: HttpsUrl,
    /// How long a login may take from initiation to id_token.
    pub login_ttl_secs: i64,
    /// Allowed difference between the platform's clock and ours.
    pub clock_skew_secs: i64,
}

impl ToolConfig {
    pub const DEFAULT_LOGIN_TTL_SECS: i64 = 300;
    pub const DEFAULT_CLOCK_SKEW_SECS: i64 = 60;

    pub fn new(base_url: HttpsUrl, launch_url: HttpsUrl) -> Self {
        Self {
            base_url,
            launch_url,
            login_ttl_secs: Self::DEFAULT_LOGIN_TTL_SECS,
            clock_skew_secs: Self::DEFAULT_CLOCK_SKEW_SECS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_and_printable() {
        assert!(Issuer::new("https://lms.example.edu").is_ok());
        assert_eq!(Issuer::new(""), Err(InvalidValue::Empty { what: "issuer" }));
        assert_eq!(ClientId::new("x".repeat(256)), Err(InvalidValue::TooLong { what: "client_id", max: 255 }));
        assert!(ClientId::new("x".repeat(255)).is_ok());
        assert_eq!(DeploymentId::new("1\n2"), Err(InvalidValue::ControlCharacter { what: "deployment_id" }));
    }

    #[test]
    fn ids_deserialise_through_the_checks() {
        let ok: ClientId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(ok.as_str(), "abc");
        assert!(serde_json::from_str::<ClientId>("\"\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"abc\"");
    }

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        assert!(HttpsUrl::parse("https://lms.example.edu/auth").is_ok());
        assert!(HttpsUrl::parse("http://localhost:8080/auth").is_ok());
        assert!(HttpsUrl::parse("http://127.0.0.1/auth").is_ok());
        assert!(HttpsUrl::parse("http://[::1]/auth").is_ok());
        assert_eq!(HttpsUrl::parse("http://lms.example.edu/auth"), Err(InvalidValue::NotHttps { what: "URL" }));
        assert_eq!(HttpsUrl::parse("http://localhost.evil.com/"), Err(InvalidValue::NotHttps { what: "URL" }));
        assert_eq!(HttpsUrl::parse("ftp://lms.example.edu/"), Err(InvalidValue::NotHttps { what: "URL" }));
        assert_eq!(HttpsUrl::parse("/relative"), Err(InvalidValue::NotAUrl { what: "URL" }));
        assert_eq!(HttpsUrl::parse("https://user:pw@lms.example.edu/"), Err(InvalidValue::UrlExtras { what: "URL" }));
        assert_eq!(HttpsUrl::parse("https://lms.example.edu/#frag"), Err(InvalidValue::UrlExtras { what: "URL" }));
        let long = format!("https://lms.example.edu/{}", "a".repeat(MAX_URL_LEN));
        assert!(matches!(HttpsUrl::parse(&long), Err(InvalidValue::TooLong { .. })));
    }

    #[test]
    fn containment_respects_origin_and_segments() {
        let base = HttpsUrl::parse("https://vigil.example.edu/lti").unwrap();
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(base.contains(&url("https://vigil.example.edu/lti")));
        assert!(base.contains(&url("https://vigil.example.edu/lti/")));
        assert!(base.contains(&url("https://vigil.example.edu/lti/launch?x=1")));
        assert!(base.contains(&url("https://vigil.example.edu:443/lti/launch")));
        assert!(!base.contains(&url("https://vigil.example.edu/lti-evil")));
        assert!(!base.contains(&url("https://vigil.example.edu/other")));
        assert!(!base.contains(&url("https://vigil.example.edu.evil.com/lti")));
        assert!(!base.contains(&url("http://vigil.example.edu/lti")));
        assert!(!base.contains(&url("https://vigil.example.edu:8443/lti")));
        let root = HttpsUrl::parse("https://vigil.example.edu/").unwrap();
        assert!(root.contains(&url("https://vigil.example.edu/anything")));
    }

    #[test]
    fn unix_seconds_from_millis_rounds_down() {
        assert_eq!(UnixSeconds::from_millis(1_999), UnixSeconds(1));
        assert_eq!(UnixSeconds::from_millis(-1), UnixSeconds(-1));
        assert_eq!(UnixSeconds(i64::MAX).plus(5), UnixSeconds(i64::MAX));
    }

    fn registration_json() -> serde_json::Value {
        serde_json::json!({
            "issuer": "https://lms.example.edu",
            "client_id": "vigil",
            "deployment_ids": ["1"],
            "auth_login_url": "https://lms.example.edu/auth",
            "jwks_url": "https://lms.example.edu/jwks",
            "token_url": "https://lms.example.edu/token",
        })
    }

    #[test]
    fn registrations_round_trip_and_are_checked() {
        let registration: PlatformRegistration = serde_json::from_value(registration_json()).unwrap();
        assert!(registration.has_deployment("1"));
        assert!(!registration.has_deployment("2"));
        assert_eq!(registration.assertion_audience(), "https://lms.example.edu/token");
        let back = serde_json::to_value(&registration).unwrap();
        assert_eq!(back, registration_json());

        let mut insecure = registration_json();
        insecure["jwks_url"] = "http://lms.example.edu/jwks".into();
        assert!(serde_json::from_value::<PlatformRegistration>(insecure).is_err());

        let mut no_deployments = registration_json();
        no_deployments["deployment_ids"] = serde_json::json!([]);
        assert!(serde_json::from_value::<PlatformRegistration>(no_deployments).is_err());

        let mut with_audience = registration_json();
        with_audience["token_audience"] = "https://api.example.edu/auth/token".into();
        let registration: PlatformRegistration = serde_json::from_value(with_audience).unwrap();
        assert_eq!(registration.assertion_audience(), "https://api.example.edu/auth/token");
    }
}
