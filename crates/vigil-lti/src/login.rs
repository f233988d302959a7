//! OIDC third-party-initiated login (Security Framework §5.1.1, LTI Core
//! §4.1): the platform sends the browser to vigil's login endpoint; vigil
//! picks the registration, checks where the launch is headed, and sends the
//! browser on to the platform's authentication endpoint with a fresh `state`
//! and `nonce`.
//!
//! The `state` is not kept in a cookie: inside an LMS iframe third-party
//! cookies are blocked, so the server keeps the [`PendingLogin`] itself
//! (see [`crate::PendingLogins`]) and finds it again by the `state` the
//! platform posts back with the id_token.

use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::types::{ClientId, DeploymentId, HttpsUrl, Issuer, PlatformRegistration, ToolConfig, UnixSeconds};
use crate::{random_token, text_fits};

/// Longest `login_hint` or `lti_message_hint` accepted. Both are opaque to
/// vigil; some platforms put a signed JWT in the message hint.
pub const MAX_HINT_LEN: usize = 4096;
/// Most parameters a login initiation may carry, known or not.
pub const MAX_LOGIN_PARAMS: usize = 64;

/// Why a login initiation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("The sign-in request from your course platform was incomplete.")]
    MissingParameter { name: &'static str },
    #[error("The sign-in request from your course platform was malformed.")]
    RepeatedParameter { name: &'static str },
    #[error("The sign-in request from your course platform was malformed.")]
    InvalidParameter { name: &'static str },
    #[error("The sign-in request from your course platform was malformed.")]
    TooManyParameters,
    #[error("vigil is not registered with this course platform. Ask your administrator to register it.")]
    UnknownPlatform,
    #[error(
        "vigil is registered more than once with this course platform, and the platform did not say which registration to use."
    )]
    AmbiguousClient,
    #[error("This deployment of vigil is not registered. Ask your administrator to register it.")]
    UnknownDeployment { deployment_id: DeploymentId },
    #[error("The course platform asked to launch a page that is not part of vigil.")]
    ForeignTarget,
}

impl LoginError {
    /// A stable, machine-readable reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingParameter { .. } => "missing_parameter",
            Self::RepeatedParameter { .. } => "repeated_parameter",
            Self::InvalidParameter { .. } => "invalid_parameter",
            Self::TooManyParameters => "too_many_parameters",
            Self::UnknownPlatform => "unknown_platform",
            Self::AmbiguousClient => "ambiguous_client",
            Self::UnknownDeployment { .. } => "unknown_deployment",
            Self::ForeignTarget => "foreign_target",
        }
    }
}

/// The parameters of a login initiation (Core §4.1), parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginInitiation {
    pub issuer: Issuer,
    pub login_hint: String,
    pub target_link_uri: HttpsUrl,
    pub lti_message_hint: Option<String>,
    pub client_id: Option<ClientId>,
    pub deployment_id: Option<DeploymentId>,
}

impl LoginInitiation {
    /// Parses the (name, value) pairs of the GET query or the POST form; the
    /// adapter passes whichever it received. Unknown parameters are ignored
    /// (platforms add their own), known ones must not repeat, and an empty
    /// optional parameter counts as absent.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, LoginError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        const NAMES: [&str; 6] =
            ["iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id"];
        let mut slots: [Option<String>; 6] = Default::default();
        for (count, (key, value)) in pairs.into_iter().enumerate() {
            if count >= MAX_LOGIN_PARAMS {
                return Err(LoginError::TooManyParameters);
            }
            let Some(index) = NAMES.iter().position(|n| *n == key.as_ref()) else {
                continue;
            };
            if slots[index].is_some() {
                return Err(LoginError::RepeatedParameter { name: NAMES[index] });
            }
            slots[index] = Some(value.as_ref().to_owned());
        }
        let [iss, login_hint, target_link_uri, lti_message_hint, client_id, deployment_id] = slots;
        let present = |value: Option<String>| value.filter(|v| !v.is_empty());
        let required =
            |name: &'static str, value: Option<String>| present(value).ok_or(LoginError::MissingParameter { name });
        let invalid = |name: &'static str| move |_| LoginError::InvalidParameter { name };
        let hint = |name: &'static str, value: String| {
            if text_fits(&value, MAX_HINT_LEN) { Ok(value) } else { Err(LoginError::InvalidParameter { name }) }
        };

        Ok(Self {
            issuer: Issuer::new(required("iss", iss)?).map_err(invalid("iss"))?,
            login_hint: hint("login_hint", required("login_hint", login_hint)?)?,
            target_link_uri: HttpsUrl::parse(&required("target_link_uri", target_link_uri)?)
                .map_err(invalid("target_link_uri"))?,
            lti_message_hint: present(lti_message_hint).map(|v| hint("lti_message_hint", v)).transpose()?,
            client_id: present(client_id).map(ClientId::new).transpose().map_err(invalid("client_id"))?,
            deployment_id: present(deployment_id)
                .map(DeploymentId::new)
                .transpose()
                .map_err(invalid("lti_deployment_id"))?,
        })
    }
}

/// A login in flight: what the server keeps, keyed by `state`, until the
/// platform posts the id_token back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub issuer: Issuer,
    pub client_id: ClientId,
    /// Where the platform said the launch is headed; the id_token's
    /// `target_link_uri` claim must say the same (Core §5.3.4).
    pub target_link_uri: HttpsUrl,
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
}

/// What a successful login initiation produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStart {
    /// Where to redirect the browser: the platform's authentication endpoint
    /// with the authentication request (Security Framework §5.1.1.2).
    pub redirect_url: Url,
    /// What to keep until the id_token arrives.
    pub pending: PendingLogin,
}

/// Finds the registration for a login initiation, checks it, and builds the
/// authentication request.
///
/// `registrations` may be every registration or only those of the
/// initiation's issuer. Without a `client_id` the issuer must have exactly
/// one registration.
pub fn start_login<'r, R>(
    initiation: &LoginInitiation,
    registrations: impl IntoIterator<Item = &'r PlatformRegistration>,
    tool: &ToolConfig,
    now: UnixSeconds,
    rng: &mut R,
) -> Result<LoginStart, LoginError>
where
    R: CryptoRng + ?Sized,
{
    let registration = find_registration(initiation, registrations)?;
    if let Some(deployment_id) = &initiation.deployment_id
        && !registration.has_deployment(deployment_id.as_str())
    {
        return Err(LoginError::UnknownDeployment { deployment_id: deployment_id.clone() });
    }
    if !tool.base_url.contains(initiation.target_link_uri.as_url()) {
        return Err(LoginError::ForeignTarget);
    }

    let pending = PendingLogin {
        state: random_token(rng),
        nonce: random_token(rng),
        issuer: registration.issuer.clone(),
        client_id: registration.client_id.clone(),
        target_link_uri: initiation.target_link_uri.clone(),
        created_at: now,
        expires_at: now.plus(tool.login_ttl_secs),
    };

    let mut redirect_url = registration.auth_login_url.as_url().clone();
    {
        let mut query = redirect_url.query_pairs_mut();
        query
            .append_pair("scope", "openid")
            .append_pair("response_type", "id_token")
            .append_pair("response_mode", "form_post")
            .append_pair("prompt", "none")
            .append_pair("client_id", registration.client_id.as_str())
            .append_pair("redirect_uri", tool.launch_url.as_str())
            .append_pair("login_hint", &initiation.login_hint);
        if let Some(hint) = &initiation.lti_message_hint {
            query.append_pair("lti_message_hint", hint);
        }
        query.append_pair("state", &pending.state).append_pair("nonce", &pending.nonce);
    }
    Ok(LoginStart { redirect_url, pending })
}

fn find_registration<'r>(
    initiation: &LoginInitiation,
    registrations: impl IntoIterator<Item = &'r PlatformRegistration>,
) -> Result<&'r PlatformRegistration, LoginError> {
    let mut of_issuer = registrations.into_iter().filter(|r| r.issuer == initiation.issuer);
    match &initiation.client_id {
        Some(client_id) => of_issuer.find(|r| &r.client_id == client_id).ok_or(LoginError::UnknownPlatform),
        None => {
            let first = of_issuer.next().ok_or(LoginError::UnknownPlatform)?;
            match of_issuer.next() {
                None => Ok(first),
                Some(_) => Err(LoginError::AmbiguousClient),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn registration(issuer: &str, client_id: &str) -> PlatformRegistration {
        PlatformRegistration::new(
            Issuer::new(issuer).unwrap(),
            ClientId::new(client_id).unwrap(),
            vec![DeploymentId::new("d1").unwrap()],
            HttpsUrl::parse(&format!("{issuer}/auth?tenant=7")).unwrap(),
            HttpsUrl::parse(&format!("{issuer}/jwks")).unwrap(),
            HttpsUrl::parse(&format!("{issuer}/token")).unwrap(),
        )
        .unwrap()
    }

    fn tool() -> ToolConfig {
        ToolConfig::new(
            HttpsUrl::parse("https://vigil.example.edu/lti").unwrap(),
            HttpsUrl::parse("https://vigil.example.edu/lti/launch").unwrap(),
        )
    }

    fn params() -> Vec<(&'static str, &'static str)> {
        vec![
            ("iss", "https://lms.example.edu"),
            ("login_hint", "user-42"),
            ("target_link_uri", "https://vigil.example.edu/lti/exam/9"),
            ("lti_message_hint", "msg & hint"),
            ("client_id", "vigil"),
            ("lti_deployment_id", "d1"),
            ("platform_extra", "ignored"),
        ]
    }

    fn with(name: &'static str, value: &'static str) -> Vec<(&'static str, &'static str)> {
        params().into_iter().map(|(k, v)| if k == name { (k, value) } else { (k, v) }).collect()
    }

    fn without(name: &str) -> Vec<(&'static str, &'static str)> {
        params().into_iter().filter(|(k, _)| *k != name).collect()
    }

    fn start(
        pairs: Vec<(&'static str, &'static str)>,
        registrations: &[PlatformRegistration],
    ) -> Result<LoginStart, LoginError> {
        let initiation = LoginInitiation::from_pairs(pairs)?;
        start_login(&initiation, registrations, &tool(), UnixSeconds(1_000), &mut StdRng::seed_from_u64(7))
    }

    #[test]
    fn builds_the_authentication_request() {
        let registrations = [registration("https://lms.example.edu", "vigil")];
        let LoginStart { redirect_url, pending } = start(params(), &registrations).unwrap();

        assert_eq!(redirect_url.origin().ascii_serialization(), "https://lms.example.edu");
        assert_eq!(redirect_url.path(), "/auth");
        let query: Vec<(String, String)> = redirect_url.query_pairs().into_owned().collect();
        let map: HashMap<_, _> = query.iter().cloned().collect();
        assert_eq!(map.len(), query.len(), "no parameter repeats");
        assert_eq!(map["tenant"], "7", "the endpoint's own query survives");
        assert_eq!(map["scope"], "openid");
        assert_eq!(map["response_type"], "id_token");
        assert_eq!(map["response_mode"], "form_post");
        assert_eq!(map["prompt"], "none");
        assert_eq!(map["client_id"], "vigil");
        assert_eq!(map["redirect_uri"], "https://vigil.example.edu/lti/launch");
        assert_eq!(map["login_hint"], "user-42");
        assert_eq!(map["lti_message_hint"], "msg & hint");
        assert_eq!(map["state"], pending.state);
        assert_eq!(map["nonce"], pending.nonce);

        assert_eq!(pending.issuer.as_str(), "https://lms.example.edu");
        assert_eq!(pending.client_id.as_str(), "vigil");
        assert_eq!(pending.target_link_uri.as_str(), "https://vigil.example.edu/lti/exam/9");
        assert_eq!(pending.created_at, UnixSeconds(1_000));
        assert_eq!(pending.expires_at, UnixSeconds(1_000 + ToolConfig::DEFAULT_LOGIN_TTL_SECS));
        assert_eq!(pending.state.len(), 43, "256 random bits, base64url");
        assert_ne!(pending.state, pending.nonce);
    }

    #[test]
    fn omits_an_absent_message_hint() {
        let registrations = [registration("https://lms.example.edu", "vigil")];
        let started = start(without("lti_message_hint"), &registrations).unwrap();
        assert!(!started.redirect_url.query_pairs().any(|(k, _)| k == "lti_message_hint"));
    }

    #[test]
    fn without_client_id_the_issuer_must_have_one_registration() {
        let one = [registration("https://lms.example.edu", "vigil"), registration("https://other.example.edu", "x")];
        let started = start(without("client_id"), &one).unwrap();
        assert_eq!(started.pending.client_id.as_str(), "vigil");

        let two =
            [registration("https://lms.example.edu", "vigil"), registration("https://lms.example.edu", "vigil-2")];
        assert_eq!(start(without("client_id"), &two), Err(LoginError::AmbiguousClient));
        let picked = start(with("client_id", "vigil-2"), &two).unwrap();
        assert_eq!(picked.pending.client_id.as_str(), "vigil-2");
    }

    #[test]
    fn refuses_unknown_platforms_and_deployments() {
        let registrations = [registration("https://lms.example.edu", "vigil")];
        assert_eq!(start(with("iss", "https://evil.example.com"), &registrations), Err(LoginError::UnknownPlatform));
        assert_eq!(start(with("client_id", "someone-else"), &registrations), Err(LoginError::UnknownPlatform));
        assert_eq!(start(params(), &[]), Err(LoginError::UnknownPlatform));
        let error = start(with("lti_deployment_id", "d2"), &registrations).unwrap_err();
        assert_eq!(error.reason(), "unknown_deployment");
    }

    #[test]
    fn refuses_targets_outside_the_tool() {
        let registrations = [registration("https://lms.example.edu", "vigil")];
        for target in [
            "https://evil.example.com/lti/exam",
            "https://vigil.example.edu.evil.com/lti",
            "https://vigil.example.edu/lti-evil",
            "https://vigil.example.edu/admin",
        ] {
            let pairs =
                params().into_iter().map(|(k, v)| if k == "target_link_uri" { (k, target) } else { (k, v) }).collect();
            assert_eq!(start(pairs, &registrations), Err(LoginError::ForeignTarget), "{target}");
        }
        assert_eq!(
            start(with("target_link_uri", "http://vigil.example.edu/lti"), &registrations),
            Err(LoginError::InvalidParameter { name: "target_link_uri" })
        );
    }

    #[test]
    fn refuses_malformed_initiations() {
        for name in ["iss", "login_hint", "target_link_uri"] {
            assert_eq!(LoginInitiation::from_pairs(without(name)), Err(LoginError::MissingParameter { name }));
        }
        assert_eq!(
            LoginInitiation::from_pairs(with("login_hint", "")),
            Err(LoginError::MissingParameter { name: "login_hint" })
        );
        let mut repeated = params();
        repeated.push(("iss", "https://evil.example.com"));
        assert_eq!(LoginInitiation::from_pairs(repeated), Err(LoginError::RepeatedParameter { name: "iss" }));

        let long = "h".repeat(MAX_HINT_LEN + 1);
        let pairs = vec![
            ("iss", "https://lms.example.edu".to_owned()),
            ("login_hint", long),
            ("target_link_uri", "https://vigil.example.edu/lti".to_owned()),
        ];
        assert_eq!(LoginInitiation::from_pairs(pairs), Err(LoginError::InvalidParameter { name: "login_hint" }));

        let flood: Vec<(String, String)> = (0..=MAX_LOGIN_PARAMS).map(|i| (format!("p{i}"), String::new())).collect();
        assert_eq!(LoginInitiation::from_pairs(flood), Err(LoginError::TooManyParameters));

        assert_eq!(
            LoginInitiation::from_pairs(with("client_id", "a\u{0}b")),
            Err(LoginError::InvalidParameter { name: "client_id" })
        );
        let empty_optional = LoginInitiation::from_pairs(with("lti_message_hint", "")).unwrap();
        assert_eq!(empty_optional.lti_message_hint, None);
    }

    #[test]
    fn reasons_are_stable_and_messages_are_plain() {
        let error = LoginError::MissingParameter { name: "iss" };
        assert_eq!(error.reason(), "missing_parameter");
        assert!(!error.to_string().contains("iss"));
    }
}
