//! The pure core of vigil's LTI 1.3 tool, with LTI Proctoring Services 1.0.
//!
//! This crate does no I/O: no sockets, no files, no clock. Every function
//! takes the time (`now`, [`UnixSeconds`]), the randomness (a
//! [`rand::CryptoRng`]) and the data it needs, and returns a decision or data.
//! The one exception is [`ToolKey::generate`], which draws on aws-lc's own
//! entropy to make an RSA key.
//!
//! # The flow
//!
//! LTI 1.3 launches are OpenID Connect third-party-initiated logins
//! (1EdTech Security Framework 1.0 §5.1.1; LTI Core 1.3 §5.1):
//!
//! 1. **Login initiation.** The platform (the LMS) sends the browser to
//!    vigil's login endpoint with `iss`, `login_hint`, `target_link_uri` and
//!    optionally `lti_message_hint`, `client_id`, `lti_deployment_id`.
//!    [`LoginInitiation::from_pairs`] parses them; [`start_login`] finds the
//!    [`PlatformRegistration`], checks that the target lies under vigil's
//!    base URL, and returns the redirect and a [`PendingLogin`] holding a
//!    fresh `state` and `nonce`.
//! 2. **Authentication request.** The browser follows the redirect to the
//!    platform's `auth_login_url` with `scope=openid`,
//!    `response_type=id_token`, `response_mode=form_post`, `prompt=none`,
//!    `client_id`, `redirect_uri`, `login_hint`, `lti_message_hint`, `state`
//!    and `nonce`.
//! 3. **Authentication response.** The platform form-posts `id_token` and
//!    `state` to vigil's launch endpoint. [`parse_auth_response`] reads the
//!    form; [`PendingLogins::take`] consumes the pending login (a state, and
//!    with it its nonce, works once); [`validate_id_token`] checks the token
//!    (Security Framework §5.1.3: RS256 only, key by `kid`, signature, `iss`,
//!    `aud`/`azp`, `exp`/`iat` with a clock skew, `nonce`; LTI Core §5.3:
//!    version, deployment, message type and its required claims).
//! 4. **Launch.** The result is a typed [`Launch`]: a resource link launch
//!    (a user opening vigil from a course), `LtiStartProctoring` (the
//!    platform handing a candidate to vigil before an assessment) or
//!    `LtiEndAssessment`. Roles map to [`LaunchRole`]s: instructors,
//!    teaching assistants and administrators may proctor; learners sit exams.
//!
//! With Proctoring Services, once vigil's checks pass,
//! [`start_assessment_message`] builds the `LtiStartAssessment` JWT and
//! [`ToolMessage::auto_post_html`] the page that posts it (form field `JWT`)
//! to the platform's `start_assessment_url`. Proctor actions go back through
//! the Assessment Control Service: [`token_request`] (OAuth 2 client
//! credentials with a JWT assertion, Security Framework §4.1, RFC 7523) and
//! [`acs_request`].
//!
//! Names and Role Provisioning Services 2.0 lists a course's learners, so
//! that vigil can enrol them before anyone launches: the launch's
//! [`NamesRoleService`] claim gives the endpoint, [`first_membership_page`]
//! the first URL (learners only, a page size), and [`parse_membership_page`]
//! each answer (body and `Link` header, fetched with [`NRPS_ACCEPT`] and a
//! token for [`claims::scope::NRPS_MEMBERSHIP_READ`]): the active learners,
//! filtered again since platforms may ignore the role filter, and the next
//! page, refused unless it lies on the endpoint's own origin. The adapter
//! caps its reads at [`MAX_PAGE_BYTES`], follows `next` until there is none
//! (with its own cap on pages and no URL fetched twice), and treats the
//! pages' learners as one set.
//!
//! vigil's own keys are [`ToolKeys`]: RSA-2048, stored by the server as
//! PKCS#8 PEM, published as a JWK set with the previous key kept during a
//! grace period after [`ToolKeys::rotate`].
//!
//! # The adapter's job
//!
//! The server wraps this crate and owns everything with side effects:
//!
//! * **HTTP**: the login endpoint (GET and POST), the launch endpoint (form
//!   POST), vigil's JWKS endpoint, and every outbound call (platform JWKS,
//!   token endpoint, ACS), with its own timeouts and size limits.
//! * **Storage**: registrations, pending logins (in a [`PendingLogins`] or a
//!   database; cookies do not work inside LMS iframes, where third-party
//!   cookies are blocked), the tool keys' PEM, access tokens until they
//!   expire, and a `StartProctoringLaunch` until its `LtiStartAssessment` is
//!   sent.
//! * **Clock and randomness**: `now` from the server clock
//!   ([`UnixSeconds::from_millis`]); a CSPRNG such as `rand::rng()`.
//! * **Platform keys**: fetch each platform's `jwks_url`, parse it with
//!   [`parse_platform_jwks`], cache it, and on [`LaunchError::UnknownKey`]
//!   refetch once (rate-limited per platform) and validate again: that is how
//!   a platform's key rotation is followed.
//! * **Pages**: show [`LaunchError`]'s and [`LoginError`]'s `Display`
//!   sentence to the user, and log [`LaunchError::reason`] with the variant's
//!   fields.
//!
//! # Specifications
//!
//! * 1EdTech Security Framework 1.0: §4.1 (client credentials with a JWT),
//!   §5.1.1 (OIDC launch flow), §5.1.3 (authentication response validation),
//!   §6 (key management).
//! * LTI Core 1.3: §5.1 (resource link launch), §5.3 and §5.4 (message
//!   claims), appendix A.2 (role vocabularies).
//! * LTI Proctoring Services 1.0: `LtiStartProctoring`,
//!   `LtiStartAssessment`, `LtiEndAssessment`, the Assessment Control
//!   Service.
//! * RFC 7519 (JWT), RFC 7517 (JWK), RFC 7638 (JWK thumbprint, used as
//!   vigil's `kid`), RFC 7523 (JWT client authentication).

pub mod claims;
mod keys;
mod launch;
mod login;
mod messages;
mod nrps;
mod pending;
mod roles;
mod types;

#[cfg(test)]
mod test_platform;

pub use jsonwebtoken::jwk::JwkSet;
pub use keys::{
    JwksError, KeyError, MAX_JWKS_BYTES, MAX_JWKS_KEYS, MAX_PEM_BYTES, MIN_RSA_BITS, ToolKey, ToolKeys,
    parse_platform_jwks,
};
pub use launch::{
    AcsAction, AcsClaim, AttemptNumber, AuthResponse, Context, EndAssessmentLaunch, Launch, LaunchCommon, LaunchError,
    LaunchUser, MAX_ID_TOKEN_BYTES, NamesRoleService, ResourceLink, ResourceLinkLaunch, SessionData,
    StartProctoringLaunch, parse_auth_response, validate_id_token,
};
pub use login::{LoginError, LoginInitiation, LoginStart, MAX_HINT_LEN, MAX_LOGIN_PARAMS, PendingLogin, start_login};
pub use messages::{
    ACS_CONTENT_TYPE, AccessToken, AcsControl, AcsResult, AcsStatus, CLIENT_ASSERTION_TYPE, FORM_CONTENT_TYPE,
    MAX_REASON_MSG_LEN, MAX_RESPONSE_BYTES, MESSAGE_FORM_FIELD, MESSAGE_TTL_SECS, ServiceError, ServiceRequest,
    TokenRequest, ToolMessage, VerifiedUser, acs_request, client_assertion, escape_html, parse_acs_response,
    parse_token_response, start_assessment_message, token_request,
};
pub use nrps::{
    MAX_MEMBER_NAME_CHARS, MAX_MEMBERS_PER_PAGE, MAX_PAGE_BYTES, Member, MembershipPage, NRPS_ACCEPT, NrpsError,
    first_membership_page, parse_membership_page,
};
pub use pending::PendingLogins;
pub use roles::{LaunchRole, Roles, map_role};
pub use types::{
    ClientId, ContextId, DeploymentId, HttpsUrl, InvalidValue, Issuer, MAX_ID_LEN, MAX_URL_LEN, PlatformRegistration,
    ResourceLinkId, TokenAudience, ToolConfig, UnixSeconds, UserId,
};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::CryptoRng;

/// 256 random bits, base64url: for `state`, `nonce` and `jti`.
fn random_token<R: CryptoRng + ?Sized>(rng: &mut R) -> String {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares secrets without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Not empty, at most `max` bytes, no control characters.
fn text_fits(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && !text.chars().any(char::is_control)
}

/// At most `max` bytes of `text`, cut on a character boundary: for echoing
/// untrusted values into errors and logs.
fn truncated(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = random_token(&mut rng);
        let b = random_token(&mut rng);
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn helpers() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert_eq!(truncated("héllo", 2), "h");
        assert_eq!(truncated("abc", 10), "abc");
        assert!(text_fits("ok", 2));
        assert!(!text_fits("", 2));
        assert!(!text_fits("abc", 2));
        assert!(!text_fits("a\tb", 10));
    }
}
