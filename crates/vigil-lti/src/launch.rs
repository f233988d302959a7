//! The authentication response: the id_token the platform form-posts to
//! vigil's launch endpoint, validated (Security Framework §5.1.3, LTI Core
//! §5.1.3) and turned into a typed [`Launch`].

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::claims;
use crate::login::PendingLogin;
use crate::roles::Roles;
use crate::types::{
    ClientId, ContextId, DeploymentId, HttpsUrl, Issuer, PlatformRegistration, ResourceLinkId, ToolConfig, UnixSeconds,
    UserId,
};
use crate::{constant_time_eq, truncated};

/// Largest id_token read; anything bigger is refused before it is parsed.
pub const MAX_ID_TOKEN_BYTES: usize = 64 * 1024;

/// Why a launch was refused. [`LaunchError::reason`] is stable and
/// machine-readable; `Display` is a sentence for the page the user sees and
/// names no internals. The fields are for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    #[error("Your course platform could not sign you in to vigil. Please go back and try again.")]
    PlatformError { error: String, description: Option<String> },
    #[error("The launch from your course platform was incomplete.")]
    MissingParameter { name: &'static str },
    #[error("The launch from your course platform was malformed.")]
    RepeatedParameter { name: &'static str },
    #[error("This sign-in is unknown or was already used. Please launch vigil again from your course.")]
    UnknownState,
    #[error("This sign-in does not match the launch. Please launch vigil again from your course.")]
    StateMismatch,
    #[error("This sign-in took too long. Please launch vigil again from your course.")]
    LoginExpired,
    #[error("This sign-in belongs to a different platform registration.")]
    LoginMismatch,
    #[error("The launch message is too large.")]
    TokenTooLarge,
    #[error("The launch message could not be read.")]
    MalformedToken,
    #[error("The launch message is signed in a way vigil does not accept.")]
    UnsupportedAlgorithm { alg: String },
    #[error("The launch message does not say which key signed it.")]
    MissingKeyId,
    /// The adapter should refetch the platform's key set once (the platform
    /// may have rotated its keys) and validate again.
    #[error("The launch message is signed with a key vigil does not know.")]
    UnknownKey { kid: String },
    #[error("The course platform's signing key cannot be used to check the launch.")]
    UnusableKey { kid: String },
    #[error("The launch message's signature is not valid.")]
    BadSignature,
    #[error("The launch message comes from a different platform than the sign-in.")]
    WrongIssuer,
    #[error("The launch message is meant for another tool.")]
    WrongAudience,
    #[error("The launch message is meant for several tools and does not say which one it is for.")]
    MissingAuthorizedParty,
    #[error("The launch message is meant for another tool.")]
    WrongAuthorizedParty,
    #[error("The launch message has expired. Please launch vigil again from your course.")]
    Expired,
    #[error("The launch message is dated in the future; a clock is probably wrong.")]
    IssuedInFuture,
    #[error("The launch message does not belong to this sign-in. Please launch vigil again from your course.")]
    NonceMismatch,
    #[error("The course platform does not speak LTI 1.3.")]
    WrongVersion { version: String },
    #[error("This deployment of vigil is not registered. Ask your administrator to register it.")]
    UnknownDeployment { deployment_id: String },
    #[error("vigil cannot handle this kind of launch.")]
    UnsupportedMessageType { message_type: String },
    #[error("The launch message is missing information vigil needs ({}).", short_claim(claim))]
    MissingClaim { claim: &'static str },
    #[error("The launch message carries information vigil cannot use ({}).", short_claim(claim))]
    InvalidClaim { claim: &'static str },
    #[error("The launch does not say who you are; vigil needs to know who takes or proctors the exam.")]
    AnonymousLaunch,
    #[error("The launch message points somewhere other than where the sign-in started.")]
    TargetLinkMismatch,
}

impl LaunchError {
    /// A stable, machine-readable reason for logs, metrics and the adapter.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::PlatformError { .. } => "platform_error",
            Self::MissingParameter { .. } => "missing_parameter",
            Self::RepeatedParameter { .. } => "repeated_parameter",
            Self::UnknownState => "unknown_state",
            Self::StateMismatch => "state_mismatch",
            Self::LoginExpired => "login_expired",
            Self::LoginMismatch => "login_mismatch",
            Self::TokenTooLarge => "token_too_large",
            Self::MalformedToken => "malformed_token",
            Self::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Self::MissingKeyId => "missing_kid",
            Self::UnknownKey { .. } => "unknown_key",
            Self::UnusableKey { .. } => "unusable_key",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingAuthorizedParty => "missing_azp",
            Self::WrongAuthorizedParty => "wrong_azp",
            Self::Expired => "expired",
            Self::IssuedInFuture => "issued_in_future",
            Self::NonceMismatch => "nonce_mismatch",
            Self::WrongVersion { .. } => "wrong_version",
            Self::UnknownDeployment { .. } => "unknown_deployment",
            Self::UnsupportedMessageType { .. } => "unsupported_message_type",
            Self::MissingClaim { .. } => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
            Self::AnonymousLaunch => "anonymous_launch",
            Self::TargetLinkMismatch => "target_link_mismatch",
        }
    }
}

/// `https://purl.imsglobal.org/spec/lti/claim/resource_link` → `resource_link`.
fn short_claim(claim: &str) -> &str {
    claim.rsplit('/').next().unwrap_or(claim)
}

/// The form post of the authentication response (Security Framework
/// §5.1.1.3): an id_token and the state, or an error from the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResponse {
    pub id_token: String,
    pub state: String,
}

/// Parses the (name, value) pairs of the form post to the launch endpoint.
pub fn parse_auth_response<I, K, V>(pairs: I) -> Result<AuthResponse, LaunchError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    const NAMES: [&str; 4] = ["id_token", "state", "error", "error_description"];
    let mut slots: [Option<String>; 4] = Default::default();
    for (key, value) in pairs {
        let Some(index) = NAMES.iter().position(|n| *n == key.as_ref()) else {
            continue;
        };
        if slots[index].is_some() {
            return Err(LaunchError::RepeatedParameter { name: NAMES[index] });
        }
        let value = value.as_ref();
        if index == 0 && value.len() > MAX_ID_TOKEN_BYTES {
            return Err(LaunchError::TokenTooLarge);
        }
        slots[index] = Some(value.to_owned());
    }
    let [id_token, state, error, description] = slots;
    if let Some(error) = error {
        return Err(LaunchError::PlatformError {
            error: truncated(&error, 64),
            description: description.map(|d| truncated(&d, 512)),
        });
    }
    Ok(AuthResponse {
        id_token: id_token.filter(|t| !t.is_empty()).ok_or(LaunchError::MissingParameter { name: "id_token" })?,
        state: state.filter(|s| !s.is_empty()).ok_or(LaunchError::MissingParameter { name: "state" })?,
    })
}

/// A validated launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "message_type")]
pub enum Launch {
    /// A user opened vigil from a course (Core §5.1).
    #[serde(rename = "LtiResourceLinkRequest")]
    ResourceLink(ResourceLinkLaunch),
    /// The platform hands a candidate to vigil before an assessment
    /// (Proctoring Services §3.2). vigil answers, when its checks pass, with
    /// [`crate::start_assessment_message`].
    #[serde(rename = "LtiStartProctoring")]
    StartProctoring(StartProctoringLaunch),
    /// The platform tells vigil the assessment attempt is over.
    #[serde(rename = "LtiEndAssessment")]
    EndAssessment(EndAssessmentLaunch),
}

impl Launch {
    pub fn common(&self) -> &LaunchCommon {
        match self {
            Self::ResourceLink(l) => &l.common,
            Self::StartProctoring(l) => &l.common,
            Self::EndAssessment(l) => &l.common,
        }
    }

    pub fn message_type(&self) -> &'static str {
        match self {
            Self::ResourceLink(_) => claims::LTI_RESOURCE_LINK_REQUEST,
            Self::StartProctoring(_) => claims::LTI_START_PROCTORING,
            Self::EndAssessment(_) => claims::LTI_END_ASSESSMENT,
        }
    }
}

/// What every launch carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchCommon {
    pub issuer: Issuer,
    pub client_id: ClientId,
    pub deployment_id: DeploymentId,
    pub user: LaunchUser,
    pub roles: Roles,
    pub context: Option<Context>,
    /// Custom parameters (Core §5.4.6). Non-string values are kept as their
    /// JSON text.
    pub custom: BTreeMap<String, String>,
    pub names_roles: Option<NamesRoleService>,
    pub issued_at: UnixSeconds,
}

/// The user identity claims (Core §5.3.6). Only `sub` is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchUser {
    pub sub: UserId,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub id: ContextId,
    pub title: Option<String>,
    pub label: Option<String>,
}

/// The resource link claim (Core §5.3.5). Kept as sent: vigil echoes it in
/// LtiStartAssessment and in ACS requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLink {
    pub id: ResourceLinkId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The Names and Role Provisioning Services endpoint (NRPS 2.0 §3.6.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamesRoleService {
    pub context_memberships_url: HttpsUrl,
    pub service_versions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLinkLaunch {
    pub common: LaunchCommon,
    pub resource_link: ResourceLink,
    pub target_link_uri: HttpsUrl,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartProctoringLaunch {
    pub common: LaunchCommon,
    pub resource_link: ResourceLink,
    pub attempt_number: AttemptNumber,
    /// Where LtiStartAssessment goes when vigil's checks pass.
    pub start_assessment_url: HttpsUrl,
    /// The platform's anti-CSRF token, echoed in LtiStartAssessment.
    pub session_data: SessionData,
    /// The platform's proctoring settings claim, uninterpreted.
    pub proctoring_settings: Option<Value>,
    pub acs: Option<AcsClaim>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndAssessmentLaunch {
    pub common: LaunchCommon,
    /// Optional: not every platform sends it with LtiEndAssessment.
    pub resource_link: Option<ResourceLink>,
    pub attempt_number: AttemptNumber,
    pub session_data: Option<SessionData>,
}

/// The proctoring attempt number. The spec makes it an integer, but the
/// 1EdTech reference platform sends a string ("1"); it is echoed back in the
/// form it came in, since platforms compare it with what they sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttemptNumber {
    pub number: u32,
    pub sent_as_string: bool,
}

impl AttemptNumber {
    pub fn new(number: u32) -> Self {
        Self { number, sent_as_string: false }
    }

    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => {
                n.as_u64().and_then(|n| u32::try_from(n).ok()).map(|number| Self { number, sent_as_string: false })
            }
            Value::String(s) if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok().map(|number| Self { number, sent_as_string: true })
            }
            _ => None,
        }
    }
}

impl Serialize for AttemptNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.sent_as_string { serializer.collect_str(&self.number) } else { serializer.serialize_u32(self.number) }
    }
}

impl<'de> Deserialize<'de> for AttemptNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(&value).ok_or_else(|| serde::de::Error::custom("attempt number"))
    }
}

impl fmt::Display for AttemptNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.number.fmt(f)
    }
}

/// The platform's opaque session data: a string by the spec, a number from
/// the 1EdTech reference platform. Echoed exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SessionData {
    Text(String),
    Number(serde_json::Number),
}

impl SessionData {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) if !s.is_empty() => Some(Self::Text(s.clone())),
            Value::Number(n) => Some(Self::Number(n.clone())),
            _ => None,
        }
    }
}

/// An action of the Assessment Control Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcsAction {
    Pause,
    Resume,
    Terminate,
    Update,
    Flag,
}

impl AcsAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Terminate => "terminate",
            Self::Update => "update",
            Self::Flag => "flag",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Self::Pause, Self::Resume, Self::Terminate, Self::Update, Self::Flag].into_iter().find(|a| a.as_str() == name)
    }
}

/// The ACS claim of LtiStartProctoring: where to send control requests and
/// which actions the platform accepts. Actions vigil does not know are
/// dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsClaim {
    pub assessment_control_url: HttpsUrl,
    pub actions: Vec<AcsAction>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

/// Validates an id_token and builds the [`Launch`].
///
/// * `state` is the form field posted with the token; `pending` is the login
///   the adapter took from its store by that state. It is borrowed, not
///   consumed, so that after [`LaunchError::UnknownKey`] the adapter can
///   refetch the platform's key set once and call again.
/// * `registration` is the one `pending` names (issuer and client id).
/// * `platform_keys` is the platform's JWK set, from the adapter's cache.
pub fn validate_id_token(
    id_token: &str,
    state: &str,
    platform_keys: &JwkSet,
    registration: &PlatformRegistration,
    pending: &PendingLogin,
    tool: &ToolConfig,
    now: UnixSeconds,
) -> Result<Launch, LaunchError> {
    if id_token.len() > MAX_ID_TOKEN_BYTES {
        return Err(LaunchError::TokenTooLarge);
    }
    if !constant_time_eq(state.as_bytes(), pending.state.as_bytes()) {
        return Err(LaunchError::StateMismatch);
    }
    if pending.issuer != registration.issuer || pending.client_id != registration.client_id {
        return Err(LaunchError::LoginMismatch);
    }
    if now >= pending.expires_at {
        return Err(LaunchError::LoginExpired);
    }

    let claims = verify_signature(id_token, platform_keys)?;
    let skew = tool.clock_skew_secs;

    if claims.required_str("iss")? != registration.issuer.as_str() {
        return Err(LaunchError::WrongIssuer);
    }
    check_audience(&claims, registration.client_id.as_str())?;
    let expires = claims.required_time("exp")?;
    if now.0 >= expires.saturating_add(skew) {
        return Err(LaunchError::Expired);
    }
    let issued_at = claims.required_time("iat")?;
    if issued_at > now.0.saturating_add(skew) {
        return Err(LaunchError::IssuedInFuture);
    }
    if !constant_time_eq(claims.required_str("nonce")?.as_bytes(), pending.nonce.as_bytes()) {
        return Err(LaunchError::NonceMismatch);
    }
    let version = claims.required_str(claims::VERSION)?;
    if version != claims::LTI_VERSION {
        return Err(LaunchError::WrongVersion { version: truncated(version, 32) });
    }
    let deployment_id = claims.required_str(claims::DEPLOYMENT_ID)?;
    if !registration.has_deployment(deployment_id) {
        return Err(LaunchError::UnknownDeployment { deployment_id: truncated(deployment_id, 255) });
    }
    let deployment_id = DeploymentId::new(deployment_id).map_err(|_| invalid(claims::DEPLOYMENT_ID))?;
    let message_type = claims.required_str(claims::MESSAGE_TYPE)?;
    if ![claims::LTI_RESOURCE_LINK_REQUEST, claims::LTI_START_PROCTORING, claims::LTI_END_ASSESSMENT]
        .contains(&message_type)
    {
        return Err(LaunchError::UnsupportedMessageType { message_type: truncated(message_type, 64) });
    }
    if let Some(target) = claims.optional_str(claims::TARGET_LINK_URI)? {
        let target = url::Url::parse(target).map_err(|_| invalid(claims::TARGET_LINK_URI))?;
        if &target != pending.target_link_uri.as_url() {
            return Err(LaunchError::TargetLinkMismatch);
        }
    }

    let roles_required = message_type == claims::LTI_RESOURCE_LINK_REQUEST;
    let common = LaunchCommon {
        issuer: registration.issuer.clone(),
        client_id: registration.client_id.clone(),
        deployment_id,
        user: claims.user()?,
        roles: claims.roles(roles_required)?,
        context: claims.context()?,
        custom: claims.custom(),
        names_roles: claims.names_roles()?,
        issued_at: UnixSeconds(issued_at),
    };

    match message_type {
        claims::LTI_RESOURCE_LINK_REQUEST => {
            if claims.get(claims::TARGET_LINK_URI).is_none() {
                return Err(missing(claims::TARGET_LINK_URI));
            }
            Ok(Launch::ResourceLink(ResourceLinkLaunch {
                common,
                resource_link: claims.resource_link()?.ok_or(missing(claims::RESOURCE_LINK))?,
                target_link_uri: pending.target_link_uri.clone(),
            }))
        }
        claims::LTI_START_PROCTORING => Ok(Launch::StartProctoring(StartProctoringLaunch {
            common,
            resource_link: claims.resource_link()?.ok_or(missing(claims::RESOURCE_LINK))?,
            attempt_number: claims.attempt_number()?,
            start_assessment_url: HttpsUrl::parse(claims.required_str(claims::START_ASSESSMENT_URL)?)
                .map_err(|_| invalid(claims::START_ASSESSMENT_URL))?,
            session_data: claims.session_data()?.ok_or(missing(claims::SESSION_DATA))?,
            proctoring_settings: claims.get(claims::PROCTORING_SETTINGS).cloned(),
            acs: claims.acs()?,
        })),
        _ => Ok(Launch::EndAssessment(EndAssessmentLaunch {
            common,
            resource_link: claims.resource_link()?,
            attempt_number: claims.attempt_number()?,
            session_data: claims.session_data()?,
        })),
    }
}

/// Checks the header, finds the key and verifies the signature; returns the
/// claims, not yet checked.
fn verify_signature(id_token: &str, platform_keys: &JwkSet) -> Result<Claims, LaunchError> {
    let mut parts = id_token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(LaunchError::MalformedToken);
    };
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| LaunchError::MalformedToken)?;
    let header: RawHeader = serde_json::from_slice(&header).map_err(|_| LaunchError::MalformedToken)?;
    // Only RS256 (Security Framework §5.1.3 item 6): never `none`, and never
    // HS*, which would let anyone holding the platform's public key sign.
    if header.alg != "RS256" {
        return Err(LaunchError::UnsupportedAlgorithm { alg: truncated(&header.alg, 32) });
    }
    let kid = header.kid.ok_or(LaunchError::MissingKeyId)?;
    let jwk = platform_keys.find(&kid).ok_or_else(|| LaunchError::UnknownKey { kid: truncated(&kid, 128) })?;
    let key = rsa_verification_key(jwk).ok_or_else(|| LaunchError::UnusableKey { kid: truncated(&kid, 128) })?;

    // jsonwebtoken checks only the algorithm and the signature here: its own
    // time checks read the system clock, so every claim check below is ours.
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => LaunchError::BadSignature,
            ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
                LaunchError::UnusableKey { kid: truncated(&kid, 128) }
            }
            _ => LaunchError::MalformedToken,
        }
    })?;
    Ok(Claims(data.claims))
}

/// An RSA key meant for RS256 signatures: keys published for another
/// algorithm or for encryption are not used.
fn rsa_verification_key(jwk: &Jwk) -> Option<DecodingKey> {
    let AlgorithmParameters::RSA(_) = &jwk.algorithm else {
        return None;
    };
    if jwk.common.key_algorithm.is_some_and(|alg| alg != KeyAlgorithm::RS256) {
        return None;
    }
    if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
        return None;
    }
    DecodingKey::from_jwk(jwk).ok()
}

/// `aud` must name vigil; with several audiences `azp` must be present, and
/// when present it must name vigil (Security Framework §5.1.3 items 3–5).
fn check_audience(claims: &Claims, client_id: &str) -> Result<(), LaunchError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        None => return Err(missing("aud")),
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().map(|a| a.as_str().ok_or(invalid("aud"))).collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("aud")),
    };
    if !audiences.contains(&client_id) {
        return Err(LaunchError::WrongAudience);
    }
    match claims.optional_str("azp")? {
        Some(azp) if azp != client_id => Err(LaunchError::WrongAuthorizedParty),
        None if audiences.len() > 1 => Err(LaunchError::MissingAuthorizedParty),
        _ => Ok(()),
    }
}

fn missing(claim: &'static str) -> LaunchError {
    LaunchError::MissingClaim { claim }
}

fn invalid(claim: &'static str) -> LaunchError {
    LaunchError::InvalidClaim { claim }
}

/// Signature-checked claims, read one by one.
struct Claims(Map<String, Value>);

impl Claims {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    fn required_str(&self, name: &'static str) -> Result<&str, LaunchError> {
        self.optional_str(name)?.ok_or(missing(name))
    }

    fn optional_str(&self, name: &'static str) -> Result<Option<&str>, LaunchError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(name)),
        }
    }

    fn object(&self, name: &'static str) -> Result<Option<&Map<String, Value>>, LaunchError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(invalid(name)),
        }
    }

    /// A NumericDate: whole seconds, though fractions are allowed (RFC 7519 §2).
    fn required_time(&self, name: &'static str) -> Result<i64, LaunchError> {
        match self.get(name) {
            None => Err(missing(name)),
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f.floor() as i64)).ok_or(invalid(name)),
            Some(_) => Err(invalid(name)),
        }
    }

    fn user(&self) -> Result<LaunchUser, LaunchError> {
        let sub = match self.get("sub") {
            None | Some(Value::Null) => return Err(LaunchError::AnonymousLaunch),
            Some(Value::String(s)) if s.is_empty() => return Err(LaunchError::AnonymousLaunch),
            Some(Value::String(s)) => UserId::new(s.as_str()).map_err(|_| invalid("sub"))?,
            Some(_) => return Err(invalid("sub")),
        };
        // Profile claims are informative: a malformed one is dropped, not fatal.
        let text = |name: &str| self.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(LaunchUser {
            sub,
            name: text("name"),
            given_name: text("given_name"),
            family_name: text("family_name"),
            email: text("email"),
            picture: text("picture"),
        })
    }

    fn roles(&self, required: bool) -> Result<Roles, LaunchError> {
        let uris = match self.get(claims::ROLES) {
            None | Some(Value::Null) if required => return Err(missing(claims::ROLES)),
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|r| r.as_str().map(str::to_owned).ok_or(invalid(claims::ROLES)))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid(claims::ROLES)),
        };
        Ok(Roles::from_uris(uris))
    }

    fn context(&self) -> Result<Option<Context>, LaunchError> {
        let Some(context) = self.object(claims::CONTEXT)? else {
            return Ok(None);
        };
        let id = context.get("id").and_then(Value::as_str).ok_or(invalid(claims::CONTEXT))?;
        Ok(Some(Context {
            id: ContextId::new(id).map_err(|_| invalid(claims::CONTEXT))?,
            title: context.get("title").and_then(Value::as_str).map(str::to_owned),
            label: context.get("label").and_then(Value::as_str).map(str::to_owned),
        }))
    }

    fn custom(&self) -> BTreeMap<String, String> {
        let Some(Value::Object(custom)) = self.get(claims::CUSTOM) else {
            return BTreeMap::new();
        };
        custom
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k.clone(), s.clone()),
                other => (k.clone(), other.to_string()),
            })
            .collect()
    }

    fn names_roles(&self) -> Result<Option<NamesRoleService>, LaunchError> {
        let Some(nrps) = self.object(claims::NAMES_ROLE_SERVICE)? else {
            return Ok(None);
        };
        let bad = || invalid(claims::NAMES_ROLE_SERVICE);
        let url = nrps.get("context_memberships_url").and_then(Value::as_str).ok_or_else(bad)?;
        let versions = match nrps.get("service_versions") {
            None => Vec::new(),
            Some(Value::Array(v)) => v.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(_) => return Err(bad()),
        };
        Ok(Some(NamesRoleService {
            context_memberships_url: HttpsUrl::parse(url).map_err(|_| bad())?,
            service_versions: versions,
        }))
    }

    fn resource_link(&self) -> Result<Option<ResourceLink>, LaunchError> {
        let Some(link) = self.object(claims::RESOURCE_LINK)? else {
            return Ok(None);
        };
        let bad = || invalid(claims::RESOURCE_LINK);
        let id = match link.get("id") {
            Some(Value::String(id)) => ResourceLinkId::new(id.as_str()).map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        Ok(Some(ResourceLink {
            id,
            title: link.get("title").and_then(Value::as_str).map(str::to_owned),
            description: link.get("description").and_then(Value::as_str).map(str::to_owned),
        }))
    }

    fn attempt_number(&self) -> Result<AttemptNumber, LaunchError> {
        let value = self.get(claims::ATTEMPT_NUMBER).ok_or(missing(claims::ATTEMPT_NUMBER))?;
        AttemptNumber::from_value(value).filter(|a| a.number >= 1).ok_or(invalid(claims::ATTEMPT_NUMBER))
    }

    fn session_data(&self) -> Result<Option<SessionData>, LaunchError> {
        match self.get(claims::SESSION_DATA) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => SessionData::from_value(value).map(Some).ok_or(invalid(claims::SESSION_DATA)),
        }
    }

    fn acs(&self) -> Result<Option<AcsClaim>, LaunchError> {
        let Some(acs) = self.object(claims::ACS)? else {
            return Ok(None);
        };
        let bad = || invalid(claims::ACS);
        let url = acs.get("assessment_control_url").and_then(Value::as_str).ok_or_else(bad)?;
        let Some(Value::Array(names)) = acs.get("actions") else {
            return Err(bad());
        };
        let mut actions: Vec<AcsAction> = names.iter().filter_map(Value::as_str).filter_map(AcsAction::parse).collect();
        actions.sort();
        actions.dedup();
        Ok(Some(AcsClaim { assessment_control_url: HttpsUrl::parse(url).map_err(|_| bad())?, actions }))
    }
}

#[cfg(test)]
mod tests;
