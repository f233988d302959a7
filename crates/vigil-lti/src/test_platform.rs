//! A simulated platform for the tests: RSA keys made once per test binary
//! (key generation is the slow part), a registration, and id_tokens signed
//! with `jsonwebtoken` exactly as an LMS would sign them.

use std::sync::OnceLock;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::{
    ClientId, DeploymentId, HttpsUrl, Issuer, JwkSet, PendingLogin, PlatformRegistration, ToolConfig, ToolKey,
    UnixSeconds, claims,
};

pub const ISSUER: &str = "https://lms.example.edu";
pub const CLIENT_ID: &str = "vigil-client";
pub const DEPLOYMENT_ID: &str = "deployment-1";
pub const STATE: &str = "state-0123456789";
pub const NONCE: &str = "nonce-0123456789";
pub const TARGET: &str = "https://vigil.example.edu/lti/exam/9";
pub const NOW: UnixSeconds = UnixSeconds(1_700_000_000);

/// The platform's signing key.
pub fn platform_key() -> &'static ToolKey {
    static KEY: OnceLock<ToolKey> = OnceLock::new();
    KEY.get_or_init(|| ToolKey::generate().expect("RSA key generation"))
}

/// A second key: the platform's next key, or an attacker's.
pub fn other_key() -> &'static ToolKey {
    static KEY: OnceLock<ToolKey> = OnceLock::new();
    KEY.get_or_init(|| ToolKey::generate().expect("RSA key generation"))
}

pub fn registration() -> PlatformRegistration {
    PlatformRegistration::new(
        Issuer::new(ISSUER).unwrap(),
        ClientId::new(CLIENT_ID).unwrap(),
        vec![DeploymentId::new(DEPLOYMENT_ID).unwrap(), DeploymentId::new("deployment-2").unwrap()],
        HttpsUrl::parse("https://lms.example.edu/auth").unwrap(),
        HttpsUrl::parse("https://lms.example.edu/jwks").unwrap(),
        HttpsUrl::parse("https://lms.example.edu/token").unwrap(),
    )
    .unwrap()
}

pub fn tool() -> ToolConfig {
    ToolConfig::new(
        HttpsUrl::parse("https://vigil.example.edu/lti").unwrap(),
        HttpsUrl::parse("https://vigil.example.edu/lti/launch").unwrap(),
    )
}

pub fn pending() -> PendingLogin {
    PendingLogin {
        state: STATE.to_owned(),
        nonce: NONCE.to_owned(),
        issuer: Issuer::new(ISSUER).unwrap(),
        client_id: ClientId::new(CLIENT_ID).unwrap(),
        target_link_uri: HttpsUrl::parse(TARGET).unwrap(),
        created_at: NOW.plus(-5),
        expires_at: NOW.plus(295),
    }
}

/// The platform's published key set.
pub fn jwks() -> JwkSet {
    JwkSet { keys: vec![platform_key().public_jwk().clone()] }
}

fn common_claims(message_type: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "user-42",
        "iat": NOW.0 - 2,
        "exp": NOW.0 + 300,
        "nonce": NONCE,
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": "ada@example.edu",
        claims::VERSION: "1.3.0",
        claims::MESSAGE_TYPE: message_type,
        claims::DEPLOYMENT_ID: DEPLOYMENT_ID,
        claims::TARGET_LINK_URI: TARGET,
        claims::RESOURCE_LINK: { "id": "link-7", "title": "Midterm", "description": "Closed book" },
        claims::CONTEXT: { "id": "course-1", "title": "Analytical Engines", "label": "AE101", "type": ["CourseOffering"] },
        claims::CUSTOM: { "exam_code": "ae-mid", "retries": 2 },
        claims::NAMES_ROLE_SERVICE: {
            "context_memberships_url": "https://lms.example.edu/api/courses/1/memberships",
            "service_versions": ["2.0"],
        },
        "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": { "scope": [], "lineitems": "https://lms.example.edu/li" },
    })
}

pub fn resource_link_claims() -> Value {
    let mut claims = common_claims(claims::LTI_RESOURCE_LINK_REQUEST);
    claims[claims::ROLES] = json!([
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty",
    ]);
    claims
}

/// As the 1EdTech reference platform sends it: the attempt number as a
/// string, the session data as a number.
pub fn start_proctoring_claims() -> Value {
    let mut claims = common_claims(claims::LTI_START_PROCTORING);
    claims[claims::ROLES] = json!(["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]);
    claims[claims::ATTEMPT_NUMBER] = json!("1");
    claims[claims::START_ASSESSMENT_URL] = json!("https://lms.example.edu/assessments/7/start");
    claims[claims::SESSION_DATA] = json!(76995);
    claims[claims::PROCTORING_SETTINGS] = json!({ "data": "video=on" });
    claims[claims::ACS] = json!({
        "assessment_control_url": "https://lms.example.edu/acs",
        "actions": ["flag", "terminate", "pause", "teleport", "flag"],
    });
    claims
}

pub fn end_assessment_claims() -> Value {
    let mut claims = common_claims(claims::LTI_END_ASSESSMENT);
    remove(&mut claims, claims::RESOURCE_LINK);
    claims[claims::ATTEMPT_NUMBER] = json!(2);
    claims
}

pub fn remove(claims: &mut Value, name: &str) {
    claims.as_object_mut().unwrap().remove(name);
}

pub fn header(alg: Algorithm, kid: Option<&str>) -> Header {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    header
}

/// Signs with `key` under `header`.
pub fn sign_with(key: &ToolKey, header: &Header, claims: &Value) -> String {
    let encoding = EncodingKey::from_rsa_pem(key.pkcs8_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(header, claims, &encoding).unwrap()
}

/// Signs as the platform does: RS256 with its key and `kid`.
pub fn sign(claims: &Value) -> String {
    sign_with(platform_key(), &header(Algorithm::RS256, Some(platform_key().kid())), claims)
}
