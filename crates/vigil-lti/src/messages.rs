//! What vigil sends: the LtiStartAssessment message (Proctoring Services
//! §3.3), the OAuth 2 client-credentials token request (Security Framework
//! §4.1, RFC 7523) and Assessment Control Service requests. Each builder
//! returns data; the adapter does the HTTP.

use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::form_urlencoded;

use crate::claims;
use crate::keys::{KeyError, ToolKeys};
use crate::launch::{AcsAction, AttemptNumber, ResourceLink, SessionData, StartProctoringLaunch};
use crate::types::{HttpsUrl, PlatformRegistration, UnixSeconds};
use crate::{random_token, text_fits};

/// Lifetime of the JWTs vigil signs: long enough for a slow browser, short
/// enough that a leaked one is soon useless.
pub const MESSAGE_TTL_SECS: i64 = 300;
/// The form field that carries a tool-originated message's JWT.
pub const MESSAGE_FORM_FIELD: &str = "JWT";
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
pub const ACS_CONTENT_TYPE: &str = "application/vnd.ims.lti-ap.v1.control+json";
/// Largest token or ACS response body read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("an OAuth scope must be non-empty and contain no spaces")]
    InvalidScope,
    #[error("the platform offered no Assessment Control Service for this attempt")]
    NoAcs,
    #[error("the platform does not accept the ACS action {}", action.as_str())]
    ActionNotOffered { action: AcsAction },
    #[error("an incident severity must lie between 0 and 1")]
    InvalidSeverity,
    #[error("the ACS {field} is too long or contains control characters")]
    InvalidText { field: &'static str },
    #[error("the response is too large")]
    ResponseTooLarge,
    #[error("the response is not what the service defines")]
    MalformedResponse,
}

/// The identity claims vigil's checks verified (Proctoring Services verified
/// user claim). It has no `iss` or `sub` on purpose: those are the
/// platform's, and vigil cannot verify them. A `picture` must be one vigil
/// took, never the platform's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

impl VerifiedUser {
    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A tool-originated message: a signed JWT to be form-posted by the browser.
#[derive(Clone, PartialEq, Eq)]
pub struct ToolMessage {
    pub url: HttpsUrl,
    pub jwt: String,
}

impl fmt::Debug for ToolMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolMessage").field("url", &self.url).finish_non_exhaustive()
    }
}

impl ToolMessage {
    /// A page that posts the JWT to the platform as soon as it loads, with a
    /// button for browsers without scripts. `script_nonce` is the CSP nonce
    /// of the response, if the server sends a `script-src` policy.
    pub fn auto_post_html(&self, script_nonce: Option<&str>) -> String {
        let nonce = script_nonce.map(|n| format!(" nonce=\"{}\"", escape_html(n))).unwrap_or_default();
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\n<title>Returning to your course</title>\n</head>\n<body>\n\
             <form id=\"lti-message\" method=\"post\" action=\"{action}\">\n\
             <input type=\"hidden\" name=\"{field}\" value=\"{jwt}\">\n\
             <p>Returning you to your course…</p>\n<button type=\"submit\">Continue</button>\n</form>\n\
             <script{nonce}>document.getElementById(\"lti-message\").submit();</script>\n</body>\n</html>\n",
            action = escape_html(self.url.as_str()),
            field = MESSAGE_FORM_FIELD,
            jwt = escape_html(&self.jwt),
        )
    }
}

/// Escapes text for HTML element content and quoted attribute values.
/// By hand: five replacements, not worth a template engine dependency.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Serialize)]
struct StartAssessmentClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    nonce: String,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/message_type")]
    message_type: &'static str,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/version")]
    version: &'static str,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/deployment_id")]
    deployment_id: &'a str,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/resource_link")]
    resource_link: &'a ResourceLink,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti-ap/claim/attempt_number")]
    attempt_number: AttemptNumber,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti-ap/claim/session_data")]
    session_data: &'a SessionData,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti-ap/claim/end_assessment_return")]
    end_assessment_return: bool,
    #[serde(
        rename = "https://purl.imsglobal.org/spec/lti-ap/claim/verified_user",
        skip_serializing_if = "Option::is_none"
    )]
    verified_user: Option<&'a VerifiedUser>,
}

/// The LtiStartAssessment message that hands the candidate back to the
/// platform once vigil's checks pass. Issued by vigil's client id to the
/// platform's issuer; resource link, attempt number and session data echo
/// the LtiStartProctoring launch. `end_assessment_return` asks the platform
/// to send LtiEndAssessment when the attempt ends.
pub fn start_assessment_message<R>(
    keys: &ToolKeys,
    launch: &StartProctoringLaunch,
    verified_user: Option<&VerifiedUser>,
    end_assessment_return: bool,
    now: UnixSeconds,
    rng: &mut R,
) -> Result<ToolMessage, KeyError>
where
    R: CryptoRng + ?Sized,
{
    let claims = StartAssessmentClaims {
        iss: launch.common.client_id.as_str(),
        aud: launch.common.issuer.as_str(),
        iat: now.0,
        exp: now.plus(MESSAGE_TTL_SECS).0,
        nonce: random_token(rng),
        message_type: claims::LTI_START_ASSESSMENT,
        version: claims::LTI_VERSION,
        deployment_id: launch.common.deployment_id.as_str(),
        resource_link: &launch.resource_link,
        attempt_number: launch.attempt_number,
        session_data: &launch.session_data,
        end_assessment_return,
        verified_user: verified_user.filter(|u| !u.is_empty()),
    };
    Ok(ToolMessage { url: launch.start_assessment_url.clone(), jwt: keys.sign(&claims)? })
}

#[derive(Serialize)]
struct ClientAssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// The JWT with which vigil authenticates to a platform's token endpoint
/// (RFC 7523 §2.2 as profiled by Security Framework §4.1): issuer and subject
/// are vigil's client id, the audience is the token endpoint (or the
/// registration's override), `jti` is random.
pub fn client_assertion<R>(
    keys: &ToolKeys,
    registration: &PlatformRegistration,
    now: UnixSeconds,
    rng: &mut R,
) -> Result<String, KeyError>
where
    R: CryptoRng + ?Sized,
{
    keys.sign(&ClientAssertionClaims {
        iss: registration.client_id.as_str(),
        sub: registration.client_id.as_str(),
        aud: registration.assertion_audience(),
        iat: now.0,
        exp: now.plus(MESSAGE_TTL_SECS).0,
        jti: random_token(rng),
    })
}

/// A POST to make: URL and form body (content type [`FORM_CONTENT_TYPE`]).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub url: HttpsUrl,
    pub body: String,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest").field("url", &self.url).finish_non_exhaustive()
    }
}

/// The client-credentials token request for `scopes`.
pub fn token_request<R>(
    keys: &ToolKeys,
    registration: &PlatformRegistration,
    scopes: &[&str],
    now: UnixSeconds,
    rng: &mut R,
) -> Result<TokenRequest, ServiceError>
where
    R: CryptoRng + ?Sized,
{
    if scopes.is_empty()
        || scopes.iter().any(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(ServiceError::InvalidScope);
    }
    let assertion = client_assertion(keys, registration, now, rng)?;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_assertion_type", CLIENT_ASSERTION_TYPE)
        .append_pair("client_assertion", &assertion)
        .append_pair("scope", &scopes.join(" "))
        .finish();
    Ok(TokenRequest { url: registration.token_url.clone(), body })
}

/// An access token from a platform's token endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: UnixSeconds,
    /// The scopes granted, when the platform says; otherwise empty.
    pub scopes: Vec<String>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    expires_in: Option<i64>,
    scope: Option<String>,
}

/// Parses a successful token response (RFC 6749 §5.1). `expires_in` defaults
/// to an hour, the Security Framework's recommended lifetime.
pub fn parse_token_response(body: &[u8], now: UnixSeconds) -> Result<AccessToken, ServiceError> {
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(ServiceError::ResponseTooLarge);
    }
    let response: TokenResponse = serde_json::from_slice(body).map_err(|_| ServiceError::MalformedResponse)?;
    if !response.token_type.eq_ignore_ascii_case("bearer") || response.access_token.is_empty() {
        return Err(ServiceError::MalformedResponse);
    }
    Ok(AccessToken {
        token: response.access_token,
        expires_at: now.plus(response.expires_in.unwrap_or(3_600).max(0)),
        scopes: response.scope.unwrap_or_default().split_whitespace().map(str::to_owned).collect(),
    })
}

/// One control request to the platform's Assessment Control Service.
#[derive(Debug, Clone, PartialEq)]
pub struct AcsControl {
    pub action: AcsAction,
    /// When what prompted the action happened.
    pub incident_time: UnixSeconds,
    /// From 0 (benign) to 1 (certain misconduct).
    pub incident_severity: Option<f64>,
    /// A short machine-readable code, e.g. vigil's incident kind.
    pub reason_code: Option<String>,
    /// A sentence for the people reviewing the attempt.
    pub reason_msg: Option<String>,
    /// Extra time granted, with the `update` action.
    pub extra_time_secs: Option<u32>,
}

impl AcsControl {
    pub fn new(action: AcsAction, incident_time: UnixSeconds) -> Self {
        Self {
            action,
            incident_time,
            incident_severity: None,
            reason_code: None,
            reason_msg: None,
            extra_time_secs: None,
        }
    }
}

/// A service call to make with a bearer token for `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    pub url: HttpsUrl,
    pub content_type: &'static str,
    pub scope: &'static str,
    pub body: String,
}

#[derive(Serialize)]
struct AcsUser<'a> {
    iss: &'a str,
    sub: &'a str,
}

#[derive(Serialize)]
struct AcsBody<'a> {
    user: AcsUser<'a>,
    resource_link: &'a ResourceLink,
    attempt_number: AttemptNumber,
    action: AcsAction,
    incident_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    incident_severity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_msg: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra_time: Option<u32>,
}

const MAX_REASON_CODE_LEN: usize = 64;
/// The longest `reason_msg` [`acs_request`] sends, in bytes.
pub const MAX_REASON_MSG_LEN: usize = 1024;

/// The ACS request for `control` on the attempt `launch` started. Refused
/// when the launch carried no ACS claim or the platform did not offer the
/// action.
pub fn acs_request(launch: &StartProctoringLaunch, control: &AcsControl) -> Result<ServiceRequest, ServiceError> {
    let acs = launch.acs.as_ref().ok_or(ServiceError::NoAcs)?;
    if !acs.actions.contains(&control.action) {
        return Err(ServiceError::ActionNotOffered { action: control.action });
    }
    if control.incident_severity.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
        return Err(ServiceError::InvalidSeverity);
    }
    if control.reason_code.as_deref().is_some_and(|c| !text_fits(c, MAX_REASON_CODE_LEN)) {
        return Err(ServiceError::InvalidText { field: "reason_code" });
    }
    if control.reason_msg.as_deref().is_some_and(|m| m.is_empty() || m.len() > MAX_REASON_MSG_LEN) {
        return Err(ServiceError::InvalidText { field: "reason_msg" });
    }
    let incident_time = UNIX_EPOCH + Duration::from_secs(u64::try_from(control.incident_time.0).unwrap_or(0));
    let body = AcsBody {
        user: AcsUser { iss: launch.common.issuer.as_str(), sub: launch.common.user.sub.as_str() },
        resource_link: &launch.resource_link,
        attempt_number: launch.attempt_number,
        action: control.action,
        incident_time: humantime::format_rfc3339_seconds(incident_time).to_string(),
        incident_severity: control.incident_severity,
        reason_code: control.reason_code.as_deref(),
        reason_msg: control.reason_msg.as_deref(),
        extra_time: control.extra_time_secs,
    };
    Ok(ServiceRequest {
        url: acs.assessment_control_url.clone(),
        content_type: ACS_CONTENT_TYPE,
        scope: claims::scope::ACS_CONTROL,
        // Serialising plain strings and numbers cannot fail.
        body: serde_json::to_string(&body).unwrap_or_default(),
    })
}

/// The attempt's status as the platform reports it after a control request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcsStatus {
    None,
    Running,
    Paused,
    Terminated,
    Complete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcsResult {
    pub status: AcsStatus,
    pub extra_time_secs: Option<i64>,
}

/// Parses the platform's answer to a control request.
pub fn parse_acs_response(body: &[u8]) -> Result<AcsResult, ServiceError> {
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(ServiceError::ResponseTooLarge);
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| ServiceError::MalformedResponse)?;
    let status = value.get("status").cloned().ok_or(ServiceError::MalformedResponse)?;
    let status: AcsStatus = serde_json::from_value(status).map_err(|_| ServiceError::MalformedResponse)?;
    let extra_time_secs = match value.get("extra_time") {
        None | Some(Value::Null) => None,
        Some(extra) => Some(extra.as_i64().ok_or(ServiceError::MalformedResponse)?),
    };
    Ok(AcsResult { status, extra_time_secs })
}

#[cfg(test)]
mod tests;
