//! The messages vigil sends, decoded the way a platform would decode them.

use jsonwebtoken::{DecodingKey, Validation};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::*;
use crate::launch::{Launch, validate_id_token};
use crate::test_platform::*;
use crate::{JwkSet, ToolKey};

/// vigil's own keys; the platform key of the test platform doubles as a
/// stranger's key here.
fn vigil_keys() -> ToolKeys {
    ToolKeys::new(other_key().clone())
}

fn start_proctoring() -> StartProctoringLaunch {
    let token = sign(&start_proctoring_claims());
    match validate_id_token(&token, STATE, &jwks(), &registration(), &pending(), &tool(), NOW).unwrap() {
        Launch::StartProctoring(launch) => launch,
        other => panic!("unexpected {other:?}"),
    }
}

/// Decodes a JWT vigil signed, as the platform would, with vigil's JWK set.
fn platform_decodes(token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let set: JwkSet = vigil_keys().jwks(NOW);
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("kid published in vigil's JWKS");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    // jsonwebtoken's expiry check reads the real clock; the tokens here are
    // dated in 2023 on purpose, so check `exp` by hand instead.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap().claims
}

#[test]
fn start_assessment_echoes_the_launch() {
    let launch = start_proctoring();
    let verified = VerifiedUser {
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
        ..VerifiedUser::default()
    };
    let mut rng = StdRng::seed_from_u64(3);
    let message = start_assessment_message(&vigil_keys(), &launch, Some(&verified), true, NOW, &mut rng).unwrap();
    assert_eq!(message.url.as_str(), "https://lms.example.edu/assessments/7/start");

    let claims = platform_decodes(&message.jwt, ISSUER);
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["aud"], ISSUER);
    assert_eq!(claims["iat"], NOW.0);
    assert_eq!(claims["exp"], NOW.0 + MESSAGE_TTL_SECS);
    assert_eq!(claims["nonce"].as_str().unwrap().len(), 43);
    assert_eq!(claims[crate::claims::MESSAGE_TYPE], "LtiStartAssessment");
    assert_eq!(claims[crate::claims::VERSION], "1.3.0");
    assert_eq!(claims[crate::claims::DEPLOYMENT_ID], DEPLOYMENT_ID);
    assert_eq!(
        claims[crate::claims::RESOURCE_LINK],
        json!({ "id": "link-7", "title": "Midterm", "description": "Closed book" })
    );
    assert_eq!(claims[crate::claims::ATTEMPT_NUMBER], "1", "echoed as the platform sent it");
    assert_eq!(claims[crate::claims::SESSION_DATA], 76995, "echoed as the platform sent it");
    assert_eq!(claims[crate::claims::END_ASSESSMENT_RETURN], true);
    assert_eq!(claims[crate::claims::VERIFIED_USER], json!({ "given_name": "Ada", "family_name": "Lovelace" }));
    assert!(claims.get("sub").is_none());
}

#[test]
fn start_assessment_without_verified_claims_omits_the_claim() {
    let launch = start_proctoring();
    let mut rng = StdRng::seed_from_u64(4);
    let empty = VerifiedUser::default();
    for verified in [None, Some(&empty)] {
        let message = start_assessment_message(&vigil_keys(), &launch, verified, false, NOW, &mut rng).unwrap();
        let claims = platform_decodes(&message.jwt, ISSUER);
        assert!(claims.get(crate::claims::VERIFIED_USER).is_none());
        assert_eq!(claims[crate::claims::END_ASSESSMENT_RETURN], false);
    }
}

#[test]
fn the_auto_post_page_escapes_what_it_embeds() {
    let message = ToolMessage {
        url: HttpsUrl::parse("https://lms.example.edu/start?a=1&b=\"x\"<y>").unwrap(),
        jwt: "header.payload.sig'\"<&>".into(),
    };
    let html = message.auto_post_html(Some("n\"once"));
    assert!(html.contains("name=\"JWT\""));
    assert!(html.contains("method=\"post\""));
    assert!(html.contains("action=\"https://lms.example.edu/start?a=1&amp;b=%22x%22%3Cy%3E\""));
    assert!(html.contains("value=\"header.payload.sig&#39;&quot;&lt;&amp;&gt;\""));
    assert!(html.contains("<script nonce=\"n&quot;once\">"));
    assert!(!html.contains("sig'"));
    let plain = message.auto_post_html(None);
    assert!(plain.contains("<script>document.getElementById(\"lti-message\").submit();</script>"));
    assert!(!format!("{message:?}").contains("payload"), "Debug hides the JWT");
}

#[test]
fn the_client_assertion_follows_rfc_7523() {
    let mut rng = StdRng::seed_from_u64(5);
    let assertion = client_assertion(&vigil_keys(), &registration(), NOW, &mut rng).unwrap();
    let claims = platform_decodes(&assertion, "https://lms.example.edu/token");
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["aud"], "https://lms.example.edu/token");
    assert_eq!(claims["iat"], NOW.0);
    assert_eq!(claims["exp"], NOW.0 + MESSAGE_TTL_SECS);
    let first_jti = claims["jti"].as_str().unwrap().to_owned();
    let again = client_assertion(&vigil_keys(), &registration(), NOW, &mut rng).unwrap();
    assert_ne!(platform_decodes(&again, "https://lms.example.edu/token")["jti"], first_jti.as_str());

    let mut with_audience = registration();
    with_audience.token_audience = Some(crate::TokenAudience::new("https://auth.example.edu/aud").unwrap());
    let assertion = client_assertion(&vigil_keys(), &with_audience, NOW, &mut rng).unwrap();
    assert_eq!(platform_decodes(&assertion, "https://auth.example.edu/aud")["aud"], "https://auth.example.edu/aud");
}

#[test]
fn the_token_request_is_a_client_credentials_form() {
    let mut rng = StdRng::seed_from_u64(6);
    let scopes = [crate::claims::scope::ACS_CONTROL, crate::claims::scope::NRPS_MEMBERSHIP_READ];
    let request = token_request(&vigil_keys(), &registration(), &scopes, NOW, &mut rng).unwrap();
    assert_eq!(request.url.as_str(), "https://lms.example.edu/token");
    let form: Vec<(String, String)> = form_urlencoded::parse(request.body.as_bytes()).into_owned().collect();
    let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["grant_type", "client_assertion_type", "client_assertion", "scope"]);
    assert_eq!(form[0].1, "client_credentials");
    assert_eq!(form[1].1, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert_eq!(platform_decodes(&form[2].1, "https://lms.example.edu/token")["iss"], CLIENT_ID);
    assert_eq!(
        form[3].1,
        "https://purl.imsglobal.org/spec/lti-ap/scope/control.all \
         https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
    );
    assert!(!format!("{request:?}").contains("client_assertion"), "Debug hides the assertion");

    for bad in [&[][..], &[""][..], &["two words"][..]] {
        assert_eq!(token_request(&vigil_keys(), &registration(), bad, NOW, &mut rng), Err(ServiceError::InvalidScope));
    }
}

#[test]
fn token_responses_are_parsed() {
    let body = json!({ "access_token": "tok", "token_type": "Bearer", "expires_in": 1800, "scope": "a b" });
    let token = parse_token_response(body.to_string().as_bytes(), NOW).unwrap();
    assert_eq!(token.token, "tok");
    assert_eq!(token.expires_at, NOW.plus(1800));
    assert_eq!(token.scopes, vec!["a".to_owned(), "b".to_owned()]);
    assert!(!format!("{token:?}").contains("tok\""), "Debug hides the token");

    let minimal = json!({ "access_token": "tok", "token_type": "bearer" });
    let token = parse_token_response(minimal.to_string().as_bytes(), NOW).unwrap();
    assert_eq!(token.expires_at, NOW.plus(3600));
    assert!(token.scopes.is_empty());

    for bad in [
        json!({ "access_token": "tok", "token_type": "mac" }),
        json!({ "access_token": "", "token_type": "Bearer" }),
        json!({ "error": "invalid_client" }),
    ] {
        assert_eq!(parse_token_response(bad.to_string().as_bytes(), NOW), Err(ServiceError::MalformedResponse));
    }
    assert_eq!(parse_token_response(&vec![b' '; MAX_RESPONSE_BYTES + 1], NOW), Err(ServiceError::ResponseTooLarge));
}

#[test]
fn acs_requests_have_the_control_shape() {
    let launch = start_proctoring();
    let mut control = AcsControl::new(AcsAction::Flag, UnixSeconds(1_700_000_000));
    control.incident_severity = Some(0.75);
    control.reason_code = Some("two_faces".into());
    control.reason_msg = Some("A second face was visible for 6 s.".into());
    let request = acs_request(&launch, &control).unwrap();
    assert_eq!(request.url.as_str(), "https://lms.example.edu/acs");
    assert_eq!(request.content_type, "application/vnd.ims.lti-ap.v1.control+json");
    assert_eq!(request.scope, "https://purl.imsglobal.org/spec/lti-ap/scope/control.all");
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "user": { "iss": ISSUER, "sub": "user-42" },
            "resource_link": { "id": "link-7", "title": "Midterm", "description": "Closed book" },
            "attempt_number": "1",
            "action": "flag",
            "incident_time": "2023-11-14T22:13:20Z",
            "incident_severity": 0.75,
            "reason_code": "two_faces",
            "reason_msg": "A second face was visible for 6 s.",
        })
    );

    let terminate = acs_request(&launch, &AcsControl::new(AcsAction::Terminate, NOW)).unwrap();
    let body: Value = serde_json::from_str(&terminate.body).unwrap();
    assert_eq!(body["action"], "terminate");
    assert!(body.get("incident_severity").is_none() && body.get("extra_time").is_none());
}

#[test]
fn acs_requests_are_refused_when_the_platform_cannot_take_them() {
    let launch = start_proctoring();
    assert_eq!(
        acs_request(&launch, &AcsControl::new(AcsAction::Resume, NOW)),
        Err(ServiceError::ActionNotOffered { action: AcsAction::Resume })
    );
    let mut without_acs = launch.clone();
    without_acs.acs = None;
    assert_eq!(acs_request(&without_acs, &AcsControl::new(AcsAction::Flag, NOW)), Err(ServiceError::NoAcs));

    for severity in [-0.1, 1.1, f64::NAN] {
        let mut control = AcsControl::new(AcsAction::Flag, NOW);
        control.incident_severity = Some(severity);
        assert_eq!(acs_request(&launch, &control), Err(ServiceError::InvalidSeverity), "{severity}");
    }
    let mut control = AcsControl::new(AcsAction::Flag, NOW);
    control.reason_code = Some("bad\ncode".into());
    assert_eq!(acs_request(&launch, &control), Err(ServiceError::InvalidText { field: "reason_code" }));
    let mut control = AcsControl::new(AcsAction::Flag, NOW);
    control.reason_msg = Some("m".repeat(2000));
    assert_eq!(acs_request(&launch, &control), Err(ServiceError::InvalidText { field: "reason_msg" }));
}

#[test]
fn acs_responses_are_parsed() {
    let result = parse_acs_response(br#"{"status":"paused","extra_time":300}"#).unwrap();
    assert_eq!(result, AcsResult { status: AcsStatus::Paused, extra_time_secs: Some(300) });
    let result = parse_acs_response(br#"{"status":"terminated"}"#).unwrap();
    assert_eq!(result, AcsResult { status: AcsStatus::Terminated, extra_time_secs: None });
    for bad in [&br#"{"status":"exploded"}"#[..], br#"{}"#, br#"{"status":"none","extra_time":"lots"}"#, b"nope"] {
        assert_eq!(parse_acs_response(bad), Err(ServiceError::MalformedResponse));
    }
}

#[test]
fn messages_are_signed_with_the_current_key_after_rotation() {
    let mut keys = vigil_keys();
    keys.rotate(platform_key().clone(), NOW, 600);
    let mut rng = StdRng::seed_from_u64(8);
    let assertion = client_assertion(&keys, &registration(), NOW, &mut rng).unwrap();
    let kid = jsonwebtoken::decode_header(&assertion).unwrap().kid.unwrap();
    assert_eq!(kid, platform_key().kid());
    let _: &ToolKey = keys.current();
}
