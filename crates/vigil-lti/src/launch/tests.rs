//! The launch validator against a simulated platform: every refusal, and the
//! happy path of each message type.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use super::*;
use crate::PendingLogins;
use crate::roles::LaunchRole;
use crate::test_platform::*;

fn validate(token: &str) -> Result<Launch, LaunchError> {
    validate_id_token(token, STATE, &jwks(), &registration(), &pending(), &tool(), NOW)
}

fn validate_claims(claims: &Value) -> Result<Launch, LaunchError> {
    validate(&sign(claims))
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    remove(&mut claims, name);
    claims
}

#[test]
fn a_resource_link_launch_is_accepted() {
    let Launch::ResourceLink(launch) = validate_claims(&resource_link_claims()).unwrap() else {
        panic!("not a resource link launch");
    };
    let common = &launch.common;
    assert_eq!(common.issuer.as_str(), ISSUER);
    assert_eq!(common.client_id.as_str(), CLIENT_ID);
    assert_eq!(common.deployment_id.as_str(), DEPLOYMENT_ID);
    assert_eq!(common.issued_at, NOW.plus(-2));
    assert_eq!(common.user.sub.as_str(), "user-42");
    assert_eq!(common.user.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(common.user.given_name.as_deref(), Some("Ada"));
    assert_eq!(common.user.family_name.as_deref(), Some("Lovelace"));
    assert_eq!(common.user.email.as_deref(), Some("ada@example.edu"));
    assert_eq!(common.user.picture, None);
    assert!(common.roles.is_proctor_capable());
    assert!(!common.roles.is_learner());
    assert_eq!(common.roles.uris.len(), 2);
    let context = common.context.as_ref().unwrap();
    assert_eq!(context.id.as_str(), "course-1");
    assert_eq!(context.title.as_deref(), Some("Analytical Engines"));
    assert_eq!(context.label.as_deref(), Some("AE101"));
    assert_eq!(common.custom.get("exam_code").map(String::as_str), Some("ae-mid"));
    assert_eq!(common.custom.get("retries").map(String::as_str), Some("2"));
    let nrps = common.names_roles.as_ref().unwrap();
    assert_eq!(nrps.context_memberships_url.as_str(), "https://lms.example.edu/api/courses/1/memberships");
    assert_eq!(nrps.service_versions, vec!["2.0".to_owned()]);
    assert_eq!(launch.resource_link.id.as_str(), "link-7");
    assert_eq!(launch.resource_link.title.as_deref(), Some("Midterm"));
    assert_eq!(launch.target_link_uri.as_str(), TARGET);
}

#[test]
fn a_start_proctoring_launch_is_accepted() {
    let launch = validate_claims(&start_proctoring_claims()).unwrap();
    assert_eq!(launch.message_type(), "LtiStartProctoring");
    let Launch::StartProctoring(launch) = launch else {
        panic!("not a start proctoring launch");
    };
    assert!(launch.common.roles.is_learner());
    assert!(!launch.common.roles.is_proctor_capable());
    assert_eq!(launch.resource_link.id.as_str(), "link-7");
    assert_eq!(launch.attempt_number, AttemptNumber { number: 1, sent_as_string: true });
    assert_eq!(launch.start_assessment_url.as_str(), "https://lms.example.edu/assessments/7/start");
    assert_eq!(launch.session_data, SessionData::Number(76995.into()));
    assert_eq!(launch.proctoring_settings, Some(json!({ "data": "video=on" })));
    let acs = launch.acs.unwrap();
    assert_eq!(acs.assessment_control_url.as_str(), "https://lms.example.edu/acs");
    assert_eq!(acs.actions, vec![AcsAction::Pause, AcsAction::Terminate, AcsAction::Flag]);
}

#[test]
fn an_end_assessment_launch_is_accepted_without_a_resource_link() {
    let Launch::EndAssessment(launch) = validate_claims(&end_assessment_claims()).unwrap() else {
        panic!("not an end assessment launch");
    };
    assert_eq!(launch.resource_link, None);
    assert_eq!(launch.attempt_number, AttemptNumber::new(2));
    assert_eq!(launch.session_data, None);
    assert!(launch.common.roles.mapped.is_empty(), "roles are optional here");

    let with_link = with(end_assessment_claims(), claims::RESOURCE_LINK, json!({ "id": "link-7" }));
    let with_link = with(with_link, claims::SESSION_DATA, json!("csrf"));
    let Launch::EndAssessment(launch) = validate_claims(&with_link).unwrap() else { panic!() };
    assert_eq!(launch.resource_link.unwrap().id.as_str(), "link-7");
    assert_eq!(launch.session_data, Some(SessionData::Text("csrf".into())));
}

#[test]
fn launches_survive_storage() {
    let launch = validate_claims(&start_proctoring_claims()).unwrap();
    let stored = serde_json::to_string(&launch).unwrap();
    let back: Launch = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, launch);
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["message_type"], "LtiStartProctoring");
    assert_eq!(stored["attempt_number"], "1", "echoed as it came");
    assert_eq!(stored["session_data"], 76995);
}

#[test]
fn a_forged_signature_is_refused() {
    let forged = sign_with(other_key(), &header(Algorithm::RS256, Some(platform_key().kid())), &resource_link_claims());
    assert_eq!(validate(&forged), Err(LaunchError::BadSignature));

    let genuine = sign(&resource_link_claims());
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let tampered_claims = with(resource_link_claims(), "sub", json!("someone-else"));
    let tampered_payload = URL_SAFE_NO_PAD.encode(tampered_claims.to_string());
    parts[1] = &tampered_payload;
    assert_eq!(validate(&parts.join(".")), Err(LaunchError::BadSignature));
}

#[test]
fn alg_none_is_refused() {
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "kid": platform_key().kid() }).to_string());
    let payload = URL_SAFE_NO_PAD.encode(resource_link_claims().to_string());
    assert_eq!(
        validate(&format!("{header}.{payload}.")),
        Err(LaunchError::UnsupportedAlgorithm { alg: "none".into() })
    );
}

#[test]
fn hs256_keyed_with_the_public_key_is_refused() {
    // The classic confusion attack: an HMAC "signed" with the platform's
    // public key, which anyone can fetch.
    let public = serde_json::to_vec(platform_key().public_jwk()).unwrap();
    let token = jsonwebtoken::encode(
        &header(Algorithm::HS256, Some(platform_key().kid())),
        &resource_link_claims(),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    assert_eq!(validate(&token), Err(LaunchError::UnsupportedAlgorithm { alg: "HS256".into() }));
}

#[test]
fn other_rsa_algorithms_are_refused() {
    let token =
        sign_with(platform_key(), &header(Algorithm::RS512, Some(platform_key().kid())), &resource_link_claims());
    assert_eq!(validate(&token), Err(LaunchError::UnsupportedAlgorithm { alg: "RS512".into() }));
    let token =
        sign_with(platform_key(), &header(Algorithm::PS256, Some(platform_key().kid())), &resource_link_claims());
    assert_eq!(validate(&token), Err(LaunchError::UnsupportedAlgorithm { alg: "PS256".into() }));
}

#[test]
fn a_missing_kid_is_refused() {
    let token = sign_with(platform_key(), &header(Algorithm::RS256, None), &resource_link_claims());
    assert_eq!(validate(&token), Err(LaunchError::MissingKeyId));
}

#[test]
fn an_unknown_kid_asks_for_a_refetch_and_then_succeeds() {
    // The platform rotated to its next key; vigil's cached set is stale.
    let token = sign_with(other_key(), &header(Algorithm::RS256, Some(other_key().kid())), &resource_link_claims());
    let error = validate(&token).unwrap_err();
    assert_eq!(error, LaunchError::UnknownKey { kid: other_key().kid().to_owned() });
    assert_eq!(error.reason(), "unknown_key");

    // The adapter refetches the set once and validates again with the same
    // pending login.
    let refreshed = JwkSet { keys: vec![platform_key().public_jwk().clone(), other_key().public_jwk().clone()] };
    let launch = validate_id_token(&token, STATE, &refreshed, &registration(), &pending(), &tool(), NOW).unwrap();
    assert_eq!(launch.common().user.sub.as_str(), "user-42");
}

#[test]
fn keys_not_meant_for_rs256_signatures_are_unusable() {
    let kid = platform_key().kid();
    let mut for_encryption = platform_key().public_jwk().clone();
    for_encryption.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Encryption);
    let mut for_rs512 = platform_key().public_jwk().clone();
    for_rs512.common.key_algorithm = Some(KeyAlgorithm::RS512);
    let hmac: Jwk = serde_json::from_value(json!({ "kty": "oct", "kid": kid, "k": "c2VjcmV0" })).unwrap();
    let token = sign(&resource_link_claims());
    for jwk in [for_encryption, for_rs512, hmac] {
        let set = JwkSet { keys: vec![jwk] };
        assert_eq!(
            validate_id_token(&token, STATE, &set, &registration(), &pending(), &tool(), NOW),
            Err(LaunchError::UnusableKey { kid: kid.to_owned() })
        );
    }
}

#[test]
fn malformed_and_oversized_tokens_are_refused() {
    for token in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.sig", "e30.e30.sig"] {
        assert_eq!(validate(token), Err(LaunchError::MalformedToken), "{token:?}");
    }
    // Well signed, but the payload is not JSON.
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "RS256", "kid": platform_key().kid() }).to_string());
    let signed_part = format!("{header}.{}", URL_SAFE_NO_PAD.encode("not json"));
    let encoding = EncodingKey::from_rsa_pem(platform_key().pkcs8_pem().as_bytes()).unwrap();
    let signature = jsonwebtoken::crypto::sign(signed_part.as_bytes(), &encoding, Algorithm::RS256).unwrap();
    assert_eq!(validate(&format!("{signed_part}.{signature}")), Err(LaunchError::MalformedToken));
    // A garbage signature is checked before the payload is read.
    assert_eq!(validate(&format!("{header}.bm90IGpzb24.c2ln")), Err(LaunchError::BadSignature));

    let padded = with(resource_link_claims(), "padding", json!("x".repeat(MAX_ID_TOKEN_BYTES)));
    assert_eq!(validate(&sign(&padded)), Err(LaunchError::TokenTooLarge));
}

#[test]
fn the_wrong_issuer_is_refused() {
    let claims = with(resource_link_claims(), "iss", json!("https://evil.example.com"));
    assert_eq!(validate_claims(&claims), Err(LaunchError::WrongIssuer));
    assert_eq!(
        validate_claims(&without(resource_link_claims(), "iss")),
        Err(LaunchError::MissingClaim { claim: "iss" })
    );
}

#[test]
fn audiences_are_checked() {
    let claims = with(resource_link_claims(), "aud", json!("another-tool"));
    assert_eq!(validate_claims(&claims), Err(LaunchError::WrongAudience));

    let several = with(resource_link_claims(), "aud", json!([CLIENT_ID, "another-tool"]));
    assert_eq!(validate_claims(&several), Err(LaunchError::MissingAuthorizedParty));
    let with_azp = with(several.clone(), "azp", json!(CLIENT_ID));
    assert!(validate_claims(&with_azp).is_ok());
    let wrong_azp = with(several, "azp", json!("another-tool"));
    assert_eq!(validate_claims(&wrong_azp), Err(LaunchError::WrongAuthorizedParty));

    let single_wrong_azp = with(resource_link_claims(), "azp", json!("another-tool"));
    assert_eq!(validate_claims(&single_wrong_azp), Err(LaunchError::WrongAuthorizedParty));
    let array_of_one = with(resource_link_claims(), "aud", json!([CLIENT_ID]));
    assert!(validate_claims(&array_of_one).is_ok());
    let not_ours = with(resource_link_claims(), "aud", json!(["another-tool"]));
    assert_eq!(validate_claims(&not_ours), Err(LaunchError::WrongAudience));

    assert_eq!(
        validate_claims(&with(resource_link_claims(), "aud", json!(7))),
        Err(LaunchError::InvalidClaim { claim: "aud" })
    );
    assert_eq!(
        validate_claims(&with(resource_link_claims(), "aud", json!([7]))),
        Err(LaunchError::InvalidClaim { claim: "aud" })
    );
    assert_eq!(
        validate_claims(&without(resource_link_claims(), "aud")),
        Err(LaunchError::MissingClaim { claim: "aud" })
    );
}

#[test]
fn expiry_is_checked_with_the_clock_skew() {
    let claims = |exp: i64| with(resource_link_claims(), "exp", json!(exp));
    assert_eq!(validate_claims(&claims(NOW.0 - 61)), Err(LaunchError::Expired));
    assert_eq!(validate_claims(&claims(NOW.0 - 60)), Err(LaunchError::Expired));
    assert!(validate_claims(&claims(NOW.0 - 59)).is_ok(), "within the skew");
    assert!(validate_claims(&with(resource_link_claims(), "exp", json!(NOW.0 as f64 + 10.5))).is_ok());
    assert_eq!(
        validate_claims(&without(resource_link_claims(), "exp")),
        Err(LaunchError::MissingClaim { claim: "exp" })
    );
    assert_eq!(
        validate_claims(&with(resource_link_claims(), "exp", json!("soon"))),
        Err(LaunchError::InvalidClaim { claim: "exp" })
    );

    let mut strict = tool();
    strict.clock_skew_secs = 0;
    let token = sign(&claims(NOW.0 - 1));
    assert_eq!(
        validate_id_token(&token, STATE, &jwks(), &registration(), &pending(), &strict, NOW),
        Err(LaunchError::Expired)
    );
}

#[test]
fn a_token_issued_in_the_future_is_refused() {
    let claims = |iat: i64| with(resource_link_claims(), "iat", json!(iat));
    assert_eq!(validate_claims(&claims(NOW.0 + 61)), Err(LaunchError::IssuedInFuture));
    assert!(validate_claims(&claims(NOW.0 + 60)).is_ok(), "within the skew");
    assert_eq!(
        validate_claims(&without(resource_link_claims(), "iat")),
        Err(LaunchError::MissingClaim { claim: "iat" })
    );
}

#[test]
fn the_nonce_must_be_the_pending_one() {
    let claims = with(resource_link_claims(), "nonce", json!("someone-elses-nonce"));
    assert_eq!(validate_claims(&claims), Err(LaunchError::NonceMismatch));
    assert_eq!(
        validate_claims(&without(resource_link_claims(), "nonce")),
        Err(LaunchError::MissingClaim { claim: "nonce" })
    );
}

#[test]
fn the_state_must_be_pending_and_is_good_once() {
    let token = sign(&resource_link_claims());
    assert_eq!(
        validate_id_token(&token, "another-state", &jwks(), &registration(), &pending(), &tool(), NOW),
        Err(LaunchError::StateMismatch)
    );

    let mut logins = PendingLogins::new(16);
    logins.insert(pending(), NOW.plus(-5));
    let taken = logins.take(STATE, NOW).unwrap();
    assert!(validate_id_token(&token, STATE, &jwks(), &registration(), &taken, &tool(), NOW).is_ok());
    // The same form post again: the state is gone.
    assert_eq!(logins.take(STATE, NOW), Err(LaunchError::UnknownState));
    assert_eq!(logins.take("never-issued", NOW), Err(LaunchError::UnknownState));
}

#[test]
fn an_expired_or_mismatched_login_is_refused() {
    let token = sign(&resource_link_claims());
    let late = pending().expires_at;
    assert_eq!(
        validate_id_token(&token, STATE, &jwks(), &registration(), &pending(), &tool(), late),
        Err(LaunchError::LoginExpired)
    );
    let mut foreign = pending();
    foreign.client_id = ClientId::new("another-client").unwrap();
    assert_eq!(
        validate_id_token(&token, STATE, &jwks(), &registration(), &foreign, &tool(), NOW),
        Err(LaunchError::LoginMismatch)
    );
}

#[test]
fn deployments_must_be_registered() {
    let claims = with(resource_link_claims(), claims::DEPLOYMENT_ID, json!("deployment-9"));
    assert_eq!(validate_claims(&claims), Err(LaunchError::UnknownDeployment { deployment_id: "deployment-9".into() }));
    let other = with(resource_link_claims(), claims::DEPLOYMENT_ID, json!("deployment-2"));
    assert_eq!(validate_claims(&other).unwrap().common().deployment_id.as_str(), "deployment-2");
    assert_eq!(
        validate_claims(&without(resource_link_claims(), claims::DEPLOYMENT_ID)),
        Err(LaunchError::MissingClaim { claim: claims::DEPLOYMENT_ID })
    );
}

#[test]
fn only_lti_1_3_is_accepted() {
    let claims = with(resource_link_claims(), claims::VERSION, json!("1.1"));
    assert_eq!(validate_claims(&claims), Err(LaunchError::WrongVersion { version: "1.1".into() }));
    assert_eq!(
        validate_claims(&without(resource_link_claims(), claims::VERSION)),
        Err(LaunchError::MissingClaim { claim: claims::VERSION })
    );
}

#[test]
fn unknown_message_types_are_refused() {
    for message_type in ["LtiDeepLinkingRequest", "LtiSubmissionReviewRequest", "LtiStartAssessment"] {
        let claims = with(resource_link_claims(), claims::MESSAGE_TYPE, json!(message_type));
        let error = validate_claims(&claims).unwrap_err();
        assert_eq!(error, LaunchError::UnsupportedMessageType { message_type: message_type.into() });
        assert_eq!(error.reason(), "unsupported_message_type");
    }
    assert_eq!(
        validate_claims(&without(resource_link_claims(), claims::MESSAGE_TYPE)),
        Err(LaunchError::MissingClaim { claim: claims::MESSAGE_TYPE })
    );
}

#[test]
fn resource_link_launches_need_their_claims() {
    for claim in [claims::RESOURCE_LINK, claims::TARGET_LINK_URI, claims::ROLES] {
        assert_eq!(validate_claims(&without(resource_link_claims(), claim)), Err(LaunchError::MissingClaim { claim }));
    }
    let no_id = with(resource_link_claims(), claims::RESOURCE_LINK, json!({ "title": "Midterm" }));
    assert_eq!(validate_claims(&no_id), Err(LaunchError::InvalidClaim { claim: claims::RESOURCE_LINK }));
    let long_id = with(resource_link_claims(), claims::RESOURCE_LINK, json!({ "id": "x".repeat(256) }));
    assert_eq!(validate_claims(&long_id), Err(LaunchError::InvalidClaim { claim: claims::RESOURCE_LINK }));
    let bad_roles = with(resource_link_claims(), claims::ROLES, json!("Instructor"));
    assert_eq!(validate_claims(&bad_roles), Err(LaunchError::InvalidClaim { claim: claims::ROLES }));
    let empty_roles = with(resource_link_claims(), claims::ROLES, json!([]));
    assert!(validate_claims(&empty_roles).is_ok(), "Core allows an empty roles array");
}

#[test]
fn start_proctoring_launches_need_their_claims() {
    for claim in [claims::RESOURCE_LINK, claims::ATTEMPT_NUMBER, claims::START_ASSESSMENT_URL, claims::SESSION_DATA] {
        assert_eq!(
            validate_claims(&without(start_proctoring_claims(), claim)),
            Err(LaunchError::MissingClaim { claim })
        );
    }
    for attempt in [json!(0), json!(-1), json!("abc"), json!("1.5"), json!(1.5), json!(""), json!(null)] {
        let claims = with(start_proctoring_claims(), claims::ATTEMPT_NUMBER, attempt.clone());
        assert_eq!(
            validate_claims(&claims),
            Err(LaunchError::InvalidClaim { claim: claims::ATTEMPT_NUMBER }),
            "{attempt}"
        );
    }
    for session in [json!(""), json!({}), json!(true)] {
        let claims = with(start_proctoring_claims(), claims::SESSION_DATA, session);
        assert_eq!(validate_claims(&claims), Err(LaunchError::InvalidClaim { claim: claims::SESSION_DATA }));
    }
    let insecure = with(start_proctoring_claims(), claims::START_ASSESSMENT_URL, json!("http://lms.example.edu/start"));
    assert_eq!(validate_claims(&insecure), Err(LaunchError::InvalidClaim { claim: claims::START_ASSESSMENT_URL }));
    let bad_acs = with(start_proctoring_claims(), claims::ACS, json!({ "actions": ["flag"] }));
    assert_eq!(validate_claims(&bad_acs), Err(LaunchError::InvalidClaim { claim: claims::ACS }));
    let no_acs = without(start_proctoring_claims(), claims::ACS);
    let Launch::StartProctoring(launch) = validate_claims(&no_acs).unwrap() else { panic!() };
    assert_eq!(launch.acs, None);
    let no_roles = without(start_proctoring_claims(), claims::ROLES);
    assert!(validate_claims(&no_roles).is_ok(), "roles are optional for proctoring messages");
}

#[test]
fn end_assessment_launches_need_an_attempt_number() {
    assert_eq!(
        validate_claims(&without(end_assessment_claims(), claims::ATTEMPT_NUMBER)),
        Err(LaunchError::MissingClaim { claim: claims::ATTEMPT_NUMBER })
    );
}

#[test]
fn anonymous_launches_are_refused() {
    assert_eq!(validate_claims(&without(resource_link_claims(), "sub")), Err(LaunchError::AnonymousLaunch));
    assert_eq!(validate_claims(&with(resource_link_claims(), "sub", json!(""))), Err(LaunchError::AnonymousLaunch));
    assert_eq!(
        validate_claims(&with(resource_link_claims(), "sub", json!(42))),
        Err(LaunchError::InvalidClaim { claim: "sub" })
    );
    let long = with(resource_link_claims(), "sub", json!("u".repeat(256)));
    assert_eq!(validate_claims(&long), Err(LaunchError::InvalidClaim { claim: "sub" }));
}

#[test]
fn the_target_must_be_where_the_login_pointed() {
    let elsewhere =
        with(resource_link_claims(), claims::TARGET_LINK_URI, json!("https://vigil.example.edu/lti/exam/10"));
    assert_eq!(validate_claims(&elsewhere), Err(LaunchError::TargetLinkMismatch));
    let garbage = with(resource_link_claims(), claims::TARGET_LINK_URI, json!("not a url"));
    assert_eq!(validate_claims(&garbage), Err(LaunchError::InvalidClaim { claim: claims::TARGET_LINK_URI }));
    let elsewhere = with(start_proctoring_claims(), claims::TARGET_LINK_URI, json!("https://evil.example.com/"));
    assert_eq!(validate_claims(&elsewhere), Err(LaunchError::TargetLinkMismatch));
}

#[test]
fn malformed_optional_claims() {
    // Profile claims are informative: a malformed one is dropped.
    let odd_name = with(resource_link_claims(), "name", json!({ "first": "Ada" }));
    assert_eq!(validate_claims(&odd_name).unwrap().common().user.name, None);
    // Service and context claims that are present must be usable.
    let bad_context = with(resource_link_claims(), claims::CONTEXT, json!({ "title": "no id" }));
    assert_eq!(validate_claims(&bad_context), Err(LaunchError::InvalidClaim { claim: claims::CONTEXT }));
    let bad_nrps =
        with(resource_link_claims(), claims::NAMES_ROLE_SERVICE, json!({ "context_memberships_url": "ftp://x" }));
    assert_eq!(validate_claims(&bad_nrps), Err(LaunchError::InvalidClaim { claim: claims::NAMES_ROLE_SERVICE }));
    let no_context = without(resource_link_claims(), claims::CONTEXT);
    assert_eq!(validate_claims(&no_context).unwrap().common().context, None);
}

#[test]
fn roles_decide_proctor_or_student() {
    let role = |uris: Value| {
        let claims = with(resource_link_claims(), claims::ROLES, uris);
        validate_claims(&claims).unwrap().common().roles.clone()
    };
    let ta = role(json!([
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
        "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    ]));
    assert!(ta.is_proctor_capable() && ta.contains(LaunchRole::TeachingAssistant));
    let admin = role(json!(["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"]));
    assert!(admin.is_proctor_capable() && admin.contains(LaunchRole::Administrator));
    let learner = role(json!(["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]));
    assert!(learner.is_learner() && !learner.is_proctor_capable());
    let faculty_in_class = role(json!([
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty",
    ]));
    assert!(faculty_in_class.is_learner() && !faculty_in_class.is_proctor_capable());
}

#[test]
fn the_auth_response_form_is_parsed() {
    let response = parse_auth_response([("id_token", "a.b.c"), ("state", "s"), ("extra", "x")]).unwrap();
    assert_eq!(response, AuthResponse { id_token: "a.b.c".into(), state: "s".into() });

    let error = parse_auth_response([("error", "login_required"), ("error_description", "no session"), ("state", "s")])
        .unwrap_err();
    assert_eq!(
        error,
        LaunchError::PlatformError { error: "login_required".into(), description: Some("no session".into()) }
    );
    assert_eq!(error.reason(), "platform_error");

    assert_eq!(parse_auth_response([("state", "s")]), Err(LaunchError::MissingParameter { name: "id_token" }));
    assert_eq!(parse_auth_response([("id_token", "a.b.c")]), Err(LaunchError::MissingParameter { name: "state" }));
    assert_eq!(
        parse_auth_response([("id_token", "a.b.c"), ("state", "s"), ("state", "t")]),
        Err(LaunchError::RepeatedParameter { name: "state" })
    );
    let huge = "x".repeat(MAX_ID_TOKEN_BYTES + 1);
    assert_eq!(parse_auth_response([("id_token", huge.as_str()), ("state", "s")]), Err(LaunchError::TokenTooLarge));
}

#[test]
fn messages_for_people_name_no_internals() {
    let errors = [
        LaunchError::UnknownKey { kid: "secret-kid".into() },
        LaunchError::UnsupportedAlgorithm { alg: "none".into() },
        LaunchError::UnknownDeployment { deployment_id: "deployment-9".into() },
        LaunchError::MissingClaim { claim: claims::RESOURCE_LINK },
        LaunchError::PlatformError { error: "login_required".into(), description: Some("<script>".into()) },
    ];
    for error in errors {
        let text = error.to_string();
        for internal in ["secret-kid", "none", "deployment-9", "https://", "<script>", "login_required"] {
            assert!(!text.contains(internal), "{text}");
        }
        assert!(text.ends_with('.'), "{text}");
    }
    assert_eq!(
        LaunchError::MissingClaim { claim: claims::RESOURCE_LINK }.to_string(),
        "The launch message is missing information vigil needs (resource_link)."
    );
}
