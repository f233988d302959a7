//! LTI 1.3 resource-link launches against the real server, with a real
//! platform on loopback: its own RSA keys, a JWKS endpoint (switchable, to
//! rotate keys), an endpoint that never answers, and id_tokens signed with
//! `jsonwebtoken` (RS256, `kid`) as an LMS signs them. The test drives the
//! browser's part: the login initiation, the redirect to the platform, the
//! form post of the id_token, and the page that lands each role.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use common::{Harness, PATIENCE};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use vigil_load::sio::SioClient;
use vigil_lti::{ToolKey, claims};
use vigil_proto::Exam;
use vigil_proto::events::{ExamRoster, LtiPlatform, names};
use vigil_server::service::nrps;
use vigil_server::transport::lti::REFUSAL_HEADER;

const ISSUER: &str = "https://lms.test";
const SLOW_ISSUER: &str = "https://slow.lms.test";
const CLIENT_ID: &str = "vigil-tool";
const DEPLOYMENT: &str = "deployment-1";
const INSTRUCTOR: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor";
const LEARNER: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner";
const TEACHING_ASSISTANT: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant";

/// RSA keys are slow to make: one set per test binary.
fn key(which: usize) -> &'static ToolKey {
    static KEYS: OnceLock<Vec<ToolKey>> = OnceLock::new();
    &KEYS.get_or_init(|| (0..3).map(|_| ToolKey::generate().expect("an RSA key")).collect())[which]
}
/// The platform's key.
fn platform_key() -> &'static ToolKey {
    key(0)
}
/// The platform's next key (rotation).
fn next_key() -> &'static ToolKey {
    key(1)
}
/// Someone else's key.
fn attacker_key() -> &'static ToolKey {
    key(2)
}

/// The LMS on loopback.
struct Platform {
    base: String,
    published: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicUsize>,
    services: Arc<Services>,
}

/// What the platform's token and Assessment Control endpoints were sent.
#[derive(Default)]
struct Services {
    /// Form fields of each token request.
    token_requests: Mutex<Vec<HashMap<String, String>>>,
    /// (Authorization header, content type, JSON body) of each ACS call.
    acs_calls: Mutex<Vec<(String, String, Value)>>,
    /// ACS calls still to answer 503 before the platform works again.
    acs_failures: AtomicUsize,
    /// (Authorization header, Accept header, query) of each membership GET.
    membership_requests: Mutex<Vec<(String, String, String)>>,
}

const ACCESS_TOKEN: &str = "platform-access-token-1";

impl Platform {
    async fn start() -> Platform {
        let published = Arc::new(Mutex::new(vec![platform_key().public_jwk().clone()]));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (keys, count) = (published.clone(), fetches.clone());
        let services = Arc::new(Services::default());
        let (token_log, acs_log, nrps_log) = (services.clone(), services.clone(), services.clone());
        let app = Router::new()
            .route(
                "/token",
                axum::routing::post(move |body: String| {
                    let log = token_log.clone();
                    async move {
                        let form: HashMap<String, String> =
                            url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                        log.token_requests.lock().unwrap().push(form);
                        axum::Json(json!({ "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600 }))
                    }
                }),
            )
            .route(
                "/acs",
                axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                    let log = acs_log.clone();
                    async move {
                        let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                        let call = (
                            header(axum::http::header::AUTHORIZATION),
                            header(axum::http::header::CONTENT_TYPE),
                            serde_json::from_str(&body).unwrap_or(Value::Null),
                        );
                        log.acs_calls.lock().unwrap().push(call);
                        let failing =
                            log.acs_failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
                        if failing.is_ok() {
                            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({})))
                                .into_response();
                        }
                        axum::Json(json!({ "status": "paused" })).into_response()
                    }
                }),
            )
            // Names and Role Provisioning: two pages of a course's members.
            .route(
                "/memberships",
                get(move |headers: axum::http::HeaderMap, uri: axum::http::Uri| {
                    let log = nrps_log.clone();
                    async move {
                        let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                        let query = uri.query().unwrap_or("").to_owned();
                        let second = query.contains("page=2");
                        log.membership_requests.lock().unwrap().push((
                            header(axum::http::header::AUTHORIZATION),
                            header(axum::http::header::ACCEPT),
                            query,
                        ));
                        let member = |sub: &str, role: &str, extra: Value| {
                            let mut m = json!({ "user_id": sub, "roles": [role] });
                            m.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
                            m
                        };
                        let members = if second {
                            vec![
                                member(
                                    "learner-2",
                                    LEARNER,
                                    json!({ "given_name": "Charles", "family_name": "Babbage" }),
                                ),
                                member("learner-1", LEARNER, json!({ "name": "Ada again" })),
                                json!({ "roles": [LEARNER] }),
                            ]
                        } else {
                            vec![
                                member("learner-1", LEARNER, json!({ "name": "Ada Lovelace", "status": "Active" })),
                                member("teacher-1", INSTRUCTOR, json!({ "name": "Grace Hopper" })),
                                member("learner-9", LEARNER, json!({ "name": "Gone", "status": "Inactive" })),
                            ]
                        };
                        let body = axum::Json(
                            json!({ "id": "memberships", "context": { "id": "course-1" }, "members": members }),
                        );
                        let mut res = body.into_response();
                        if !second {
                            let next = "</memberships?course=1&page=2>; rel=\"next\"".parse().unwrap();
                            res.headers_mut().insert(axum::http::header::LINK, next);
                        }
                        res
                    }
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    let (keys, count) = (keys.clone(), count.clone());
                    async move {
                        count.fetch_add(1, Ordering::SeqCst);
                        let set = JwkSet { keys: keys.lock().unwrap().clone() };
                        axum::Json(set)
                    }
                }),
            )
            // A key endpoint that never answers.
            .route(
                "/slow-jwks",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "never"
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Platform { base, published, fetches, services }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn register(h: &Harness, issuer: &str, jwks_url: &str, platform: &Platform) {
    let body = json!({
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "deployment_ids": [DEPLOYMENT],
        "auth_login_url": format!("{}/auth", platform.base),
        "jwks_url": jwks_url,
        "token_url": format!("{}/token", platform.base),
    });
    let res = client()
        .post(format!("{}/api/v1/lti/platforms", h.base))
        .bearer_auth("admin")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let registered: LtiPlatform = res.json().await.unwrap();
    assert_eq!(registered.issuer, issuer);
    assert_eq!(registered.deployment_ids, vec![DEPLOYMENT.to_owned()]);
}

fn launch_url(h: &Harness) -> String {
    format!("{}/lti/launch", h.base)
}

/// The login initiation, as the platform's browser redirect makes it.
/// Returns (state, nonce) from vigil's redirect to the platform.
async fn login(h: &Harness, platform: &Platform, issuer: &str, hint: &str) -> (String, String) {
    let target = launch_url(h);
    let params = [
        ("iss", issuer),
        ("login_hint", hint),
        ("target_link_uri", target.as_str()),
        ("client_id", CLIENT_ID),
        ("lti_deployment_id", DEPLOYMENT),
    ];
    let url = url::Url::parse_with_params(&format!("{}/lti/login", h.base), params).unwrap();
    let res = client().get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap_or_default());
    let location = res.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{}/auth?", platform.base)), "{location}");
    let url = url::Url::parse(&location).unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], "openid");
    assert_eq!(q["response_type"], "id_token");
    assert_eq!(q["response_mode"], "form_post");
    assert_eq!(q["prompt"], "none");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], launch_url(h));
    assert_eq!(q["login_hint"], hint);
    assert!(q["state"].len() >= 32 && q["nonce"].len() >= 32);
    (q["state"].clone(), q["nonce"].clone())
}

/// An id_token's claims as the platform sends them.
fn claims_for(h: &Harness, nonce: &str, sub: &str, role: &str, name: Option<&str>) -> Value {
    let now = h.now() / 1000;
    let mut c = json!({
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": sub,
        "iat": now - 2,
        "exp": now + 300,
        "nonce": nonce,
        claims::VERSION: "1.3.0",
        claims::MESSAGE_TYPE: claims::LTI_RESOURCE_LINK_REQUEST,
        claims::DEPLOYMENT_ID: DEPLOYMENT,
        claims::TARGET_LINK_URI: launch_url(h),
        claims::RESOURCE_LINK: { "id": "link-7", "title": "Midterm" },
        claims::CONTEXT: { "id": "course-1", "title": "Analytical Engines" },
        claims::ROLES: [role],
    });
    if let Some(name) = name {
        c["name"] = json!(name);
    }
    c
}

fn sign_with(key: &ToolKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(key.pkcs8_pem().as_bytes()).unwrap()).unwrap()
}

fn sign(claims: &Value) -> String {
    sign_with(platform_key(), platform_key().kid(), claims)
}

struct Page {
    status: u16,
    refusal: Option<String>,
    headers: reqwest::header::HeaderMap,
    text: String,
}

/// The platform's form post of the id_token, as the browser makes it.
async fn post_launch(h: &Harness, id_token: &str, state: &str) -> Page {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token", id_token)
        .append_pair("state", state)
        .finish();
    post_form(h, body).await
}

async fn post_form(h: &Harness, body: String) -> Page {
    let res = client()
        .post(launch_url(h))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let refusal = headers.get(REFUSAL_HEADER).map(|v| v.to_str().unwrap().to_owned());
    Page { status, refusal, headers, text: res.text().await.unwrap() }
}

/// (app page, token) from a landing page's refresh target.
fn landing(page: &Page) -> (String, String) {
    assert_eq!(page.status, 200, "{:?}: {}", page.refusal, page.text);
    assert_eq!(page.headers[reqwest::header::CACHE_CONTROL], "no-store");
    let start = page.text.find("url=").expect("a refresh target") + 4;
    let target = &page.text[start..start + page.text[start..].find('"').unwrap()];
    let (app, token) = target.split_once("/#token=").expect("a token in the fragment");
    (app.trim_start_matches('/').to_owned(), token.to_owned())
}

async fn admin_get<T: serde::de::DeserializeOwned>(h: &Harness, path: &str) -> T {
    let res = client().get(format!("{}/api/v1{path}", h.base)).bearer_auth("admin").send().await.unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap()
}

/// Exams and roster entries: what a refused launch must not change.
async fn rows(h: &Harness) -> (usize, usize) {
    let exams: Vec<Exam> = admin_get(h, "/exams").await;
    let mut people = 0;
    for exam in &exams {
        let roster: ExamRoster = admin_get(h, &format!("/exams/{}", exam.id)).await;
        people += roster.students.len() + roster.proctors.len();
    }
    (exams.len(), people)
}

async fn lti_exam(h: &Harness) -> ExamRoster {
    let exams: Vec<Exam> = admin_get(h, "/exams").await;
    let exam = exams.iter().find(|e| e.id.as_str().starts_with("lti-exam-")).expect("the LTI exam");
    admin_get(h, &format!("/exams/{}", exam.id)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_link_launches_create_the_exam_and_land_each_role_authenticated() {
    let h = Harness::start(&[]).await;
    let platform = Platform::start().await;
    register(&h, ISSUER, &format!("{}/jwks", platform.base), &platform).await;

    // vigil's own keys are published.
    let res = client().get(format!("{}/lti/jwks", h.base)).send().await.unwrap();
    assert_eq!(res.headers()[reqwest::header::CACHE_CONTROL], "public, max-age=300");
    let tool_jwks: JwkSet = res.json().await.unwrap();
    assert_eq!(tool_jwks.keys.len(), 1);
    let well_known: JwkSet =
        client().get(format!("{}/.well-known/jwks.json", h.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(well_known, tool_jwks);

    // The instructor's first launch creates the exam and lands on the dashboard.
    let (state, nonce) = login(&h, &platform, ISSUER, "instructor-hint").await;
    let form = sign(&claims_for(&h, &nonce, "teacher-1", INSTRUCTOR, Some("Grace Hopper")));
    let page = post_launch(&h, &form, &state).await;
    let (app, proctor_token) = landing(&page);
    assert_eq!(app, "dashboard");
    let roster = lti_exam(&h).await;
    assert_eq!(roster.exam.title, "Midterm");
    assert_eq!(roster.proctors.len(), 1);
    assert_eq!(roster.proctors[0].name, "Grace Hopper");
    assert!(roster.proctors[0].id.as_str().starts_with("lti-"));
    let (proctor, _events) =
        SioClient::connect(&h.base, names::PROCTOR_NS, &json!({ "token": proctor_token })).await.expect("connects");
    let snapshot = proctor.emit_with_ack(names::SNAPSHOT, &Value::Null, PATIENCE).await.expect("a snapshot");
    assert_eq!(snapshot["exam"]["id"], json!(roster.exam.id.as_str()), "{snapshot}");
    // The instructor configures the exam there: its assessment, for one.
    assert_eq!(snapshot["may_configure"], json!(true), "{snapshot}");
    let mut settings = snapshot["exam"]["settings"].clone();
    settings["assessment_url"] = json!("https://lms.test/mod/quiz/view.php?id=9");
    let res = client()
        .put(format!("{}/api/v1/exams/{}/settings", h.base, roster.exam.id))
        .bearer_auth(proctor_token)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        lti_exam(&h).await.exam.settings.assessment_url.as_deref(),
        Some("https://lms.test/mod/quiz/view.php?id=9")
    );

    // A teaching assistant proctors but does not configure.
    let (state, nonce) = login(&h, &platform, ISSUER, "ta-hint").await;
    let page = post_launch(&h, &sign(&claims_for(&h, &nonce, "ta-1", TEACHING_ASSISTANT, None)), &state).await;
    let (app, ta_token) = landing(&page);
    assert_eq!(app, "dashboard");
    let (ta, _events) =
        SioClient::connect(&h.base, names::PROCTOR_NS, &json!({ "token": ta_token })).await.expect("connects");
    let snapshot = ta.emit_with_ack(names::SNAPSHOT, &Value::Null, PATIENCE).await.expect("a snapshot");
    assert_eq!(snapshot["may_configure"], json!(false), "{snapshot}");
    let res = client()
        .put(format!("{}/api/v1/exams/{}/settings", h.base, roster.exam.id))
        .bearer_auth(ta_token)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // The same form post again: its state was used up.
    let before = rows(&h).await;
    let replay = post_launch(&h, &form, &state).await;
    assert_eq!((replay.status, replay.refusal.as_deref()), (400, Some("unknown_state")));
    assert!(replay.text.contains("<p>"), "{}", replay.text);
    assert_eq!(rows(&h).await, before);

    // A learner: the student page, the roster with the claims' name.
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let page =
        post_launch(&h, &sign(&claims_for(&h, &nonce, "learner-1", LEARNER, Some("Ada Lovelace"))), &state).await;
    let (app, student_token) = landing(&page);
    assert_eq!(app, "student");
    let roster = lti_exam(&h).await;
    assert_eq!(roster.students.len(), 1);
    assert_eq!(roster.students[0].name, "Ada Lovelace");
    // `student_with` waits for the welcome.
    let _student = h.student_with(&student_token).await;

    // The same learner again: the same person, not a second roster entry.
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let page = post_launch(&h, &sign(&claims_for(&h, &nonce, "learner-1", LEARNER, None)), &state).await;
    assert_eq!(landing(&page).0, "student");
    let again = lti_exam(&h).await;
    assert_eq!(again.students, roster.students);

    // A learner without a name is "Student".
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let page = post_launch(&h, &sign(&claims_for(&h, &nonce, "learner-2", LEARNER, None)), &state).await;
    landing(&page);
    let roster = lti_exam(&h).await;
    assert!(roster.students.iter().any(|s| s.name == "Student"), "{:?}", roster.students);

    // The platform rotates its key: after one refetch the launch succeeds.
    assert_eq!(platform.fetches(), 1);
    *platform.published.lock().unwrap() = vec![next_key().public_jwk().clone()];
    h.advance(11_000);
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let rotated = sign_with(next_key(), next_key().kid(), &claims_for(&h, &nonce, "learner-3", LEARNER, None));
    let page = post_launch(&h, &rotated, &state).await;
    assert_eq!(landing(&page).0, "student");
    assert_eq!(platform.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_launches_say_why_and_write_nothing() {
    let h = Harness::start(&[]).await;
    let platform = Platform::start().await;
    register(&h, ISSUER, &format!("{}/jwks", platform.base), &platform).await;
    register(&h, SLOW_ISSUER, &format!("{}/slow-jwks", platform.base), &platform).await;
    let before = rows(&h).await;

    async fn refused(h: &Harness, platform: &Platform, make: impl FnOnce(&str) -> String) -> Page {
        let (state, nonce) = login(h, platform, ISSUER, "hint").await;
        let page = post_launch(h, &make(&nonce), &state).await;
        assert!(page.text.starts_with("<!doctype html>"), "{}", page.text);
        assert_eq!(page.headers[reqwest::header::CACHE_CONTROL], "no-store");
        page
    }

    // A learner before any instructor opened the exam.
    let page = refused(&h, &platform, |n| sign(&claims_for(&h, n, "learner-1", LEARNER, None))).await;
    assert_eq!((page.status, page.refusal.as_deref()), (404, Some("exam_not_open")));
    assert!(page.text.contains("has not opened proctoring for this exam yet"), "{}", page.text);

    // Signed by someone else under the platform's kid.
    let page = refused(&h, &platform, |n| {
        sign_with(attacker_key(), platform_key().kid(), &claims_for(&h, n, "teacher-1", INSTRUCTOR, None))
    })
    .await;
    assert_eq!((page.status, page.refusal.as_deref()), (401, Some("bad_signature")));

    // Expired.
    let page = refused(&h, &platform, |n| {
        let mut c = claims_for(&h, n, "teacher-1", INSTRUCTOR, None);
        let now = h.now() / 1000;
        c["iat"] = json!(now - 900);
        c["exp"] = json!(now - 600);
        sign(&c)
    })
    .await;
    assert_eq!((page.status, page.refusal.as_deref()), (401, Some("expired")));

    // For another tool.
    let page = refused(&h, &platform, |n| {
        let mut c = claims_for(&h, n, "teacher-1", INSTRUCTOR, None);
        c["aud"] = json!("another-tool");
        sign(&c)
    })
    .await;
    assert_eq!((page.status, page.refusal.as_deref()), (401, Some("wrong_audience")));

    // From a deployment that is not registered.
    let page = refused(&h, &platform, |n| {
        let mut c = claims_for(&h, n, "teacher-1", INSTRUCTOR, None);
        c[claims::DEPLOYMENT_ID] = json!("deployment-9");
        sign(&c)
    })
    .await;
    assert_eq!((page.status, page.refusal.as_deref()), (403, Some("unknown_deployment")));

    // An unknown kid: one refetch (the platform's set is ten seconds old),
    // then refused; at once again: refused without another fetch.
    assert_eq!(platform.fetches(), 1);
    h.advance(11_000);
    let stranger = |n: &str| sign_with(attacker_key(), attacker_key().kid(), &claims_for(&h, n, "t", INSTRUCTOR, None));
    let page = refused(&h, &platform, stranger).await;
    assert_eq!((page.status, page.refusal.as_deref()), (401, Some("unknown_key")));
    assert_eq!(platform.fetches(), 2);
    let page = refused(&h, &platform, stranger).await;
    assert_eq!((page.status, page.refusal.as_deref()), (401, Some("unknown_key")));
    assert_eq!(platform.fetches(), 2);

    // An id_token over the limit, and a body over the cap.
    let page = refused(&h, &platform, |_| "a".repeat(70 * 1024)).await;
    assert_eq!((page.status, page.refusal.as_deref()), (413, Some("token_too_large")));
    let page = post_launch(&h, &"a".repeat(100 * 1024), "state").await;
    assert_eq!((page.status, page.refusal.as_deref()), (413, Some("body_too_large")));

    // A platform whose key endpoint never answers: refused within the fetch timeout.
    let (state, nonce) = login(&h, &platform, SLOW_ISSUER, "hint").await;
    let mut c = claims_for(&h, &nonce, "teacher-1", INSTRUCTOR, None);
    c["iss"] = json!(SLOW_ISSUER);
    let started = Instant::now();
    let page = post_launch(&h, &sign(&c), &state).await;
    let took = started.elapsed();
    assert_eq!((page.status, page.refusal.as_deref()), (502, Some("platform_keys_unavailable")));
    assert!(took >= Duration::from_secs(4) && took < Duration::from_secs(9), "{took:?}");
    assert!(page.text.contains("signing keys"), "{}", page.text);

    // An unknown platform at login.
    let target = launch_url(&h);
    let params = [("iss", "https://unknown.test"), ("login_hint", "x"), ("target_link_uri", target.as_str())];
    let url = url::Url::parse_with_params(&format!("{}/lti/login", h.base), params).unwrap();
    let res = client().get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()[REFUSAL_HEADER], "unknown_platform");

    assert_eq!(rows(&h).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_admin_only_and_strict_logins_take_forms_and_the_tool_key_persists() {
    let mut h = Harness::start_configured(&[], |c| {
        c.lti_requests = Some(vigil_core::rate::RateLimit { burst: 3, per_second: 0.001 });
    })
    .await;
    let platform = Platform::start().await;
    let url = format!("{}/api/v1/lti/platforms", h.base);
    let good = json!({
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "deployment_ids": [DEPLOYMENT],
        "auth_login_url": format!("{}/auth", platform.base),
        "jwks_url": format!("{}/jwks", platform.base),
        "token_url": format!("{}/token", platform.base),
    });
    // No admin token; a wrong one.
    assert_eq!(client().post(&url).json(&good).send().await.unwrap().status(), 401);
    assert_eq!(client().get(&url).bearer_auth("nope").send().await.unwrap().status(), 401);
    // Unknown field, plain http off loopback, no deployment.
    let mut typo = good.clone();
    typo["jwks_uri"] = json!("https://x.test/jwks");
    let mut plain = good.clone();
    plain["jwks_url"] = json!("http://lms.example.edu/jwks");
    let mut none = good.clone();
    none["deployment_ids"] = json!([]);
    for bad in [typo, plain, none] {
        let res = client().post(&url).bearer_auth("admin").json(&bad).send().await.unwrap();
        assert_eq!(res.status(), 422, "{bad}");
    }
    let res = client().post(&url).bearer_auth("admin").json(&good).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let res = client().post(&url).bearer_auth("admin").json(&good).send().await.unwrap();
    assert_eq!(res.status(), 409);
    let listed: Vec<LtiPlatform> = admin_get(&h, "/lti/platforms").await;
    assert_eq!(listed.len(), 1);

    // A login initiation posted as a form.
    let target = launch_url(&h);
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("iss", ISSUER)
        .append_pair("login_hint", "hint")
        .append_pair("target_link_uri", &target)
        .finish();
    let res = client()
        .post(format!("{}/lti/login", h.base))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
    let q: HashMap<String, String> = url::Url::parse(&location).unwrap().query_pairs().into_owned().collect();

    // The launch that follows a form-posted login is served like any other.
    let c = proctoring_claims(&h, &platform, &q["nonce"], "learner-1", claims::LTI_START_PROCTORING, 1);
    let page = post_launch(&h, &sign(&c), &q["state"]).await;
    assert_eq!(landing(&page).0, "student");

    // The per-address budget (3 here): the third request still passes, the
    // fourth gets a clear page and 429.
    let res = client()
        .post(format!("{}/lti/login", h.base))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let res2 = client().get(format!("{}/lti/login", h.base)).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res2.status(), 429);
    assert_eq!(res2.headers()[REFUSAL_HEADER], "rate_limited");
    assert!(res2.headers().contains_key(reqwest::header::RETRY_AFTER));

    // vigil's tool key is stored: the same key set after a restart.
    let before: JwkSet = client().get(format!("{}/lti/jwks", h.base)).send().await.unwrap().json().await.unwrap();
    h.stop().await;
    let dir = h.data_dir.clone();
    let h2 = Harness::start_in(dir, h.clock.clone()).await;
    let after: JwkSet = client().get(format!("{}/lti/jwks", h2.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_resource_link_is_one_exam_even_when_first_launches_race() {
    let h = Harness::start(&[]).await;
    let platform = Platform::start().await;
    register(&h, ISSUER, &format!("{}/jwks", platform.base), &platform).await;

    // Two instructors open the same link at once: one exam, both its proctors.
    let (s1, n1) = login(&h, &platform, ISSUER, "a").await;
    let (s2, n2) = login(&h, &platform, ISSUER, "b").await;
    let t1 = sign(&claims_for(&h, &n1, "teacher-1", INSTRUCTOR, Some("One")));
    let t2 = sign(&claims_for(&h, &n2, "teacher-2", INSTRUCTOR, Some("Two")));
    let (p1, p2) = tokio::join!(post_launch(&h, &t1, &s1), post_launch(&h, &t2, &s2));
    assert_eq!(landing(&p1).0, "dashboard");
    assert_eq!(landing(&p2).0, "dashboard");
    let exams: Vec<Exam> = admin_get(&h, "/exams").await;
    let lti: Vec<&Exam> = exams.iter().filter(|e| e.id.as_str().starts_with("lti-exam-")).collect();
    assert_eq!(lti.len(), 1, "{exams:?}");
    let roster: ExamRoster = admin_get(&h, &format!("/exams/{}", lti[0].id)).await;
    assert_eq!(roster.proctors.len(), 2);

    // Another resource link in the same course is another exam, and a
    // learner's token from it does not open the first one.
    let (state, nonce) = login(&h, &platform, ISSUER, "c").await;
    let mut c = claims_for(&h, &nonce, "teacher-1", INSTRUCTOR, None);
    c[claims::RESOURCE_LINK] = json!({ "id": "link-8" });
    landing(&post_launch(&h, &sign(&c), &state).await);
    let (state, nonce) = login(&h, &platform, ISSUER, "d").await;
    let mut c = claims_for(&h, &nonce, "learner-1", LEARNER, None);
    c[claims::RESOURCE_LINK] = json!({ "id": "link-8" });
    let (_, token) = landing(&post_launch(&h, &sign(&c), &state).await);
    let exams: Vec<Exam> = admin_get(&h, "/exams").await;
    let second: Vec<&Exam> =
        exams.iter().filter(|e| e.id.as_str().starts_with("lti-exam-") && e.id != lti[0].id).collect();
    assert_eq!(second.len(), 1);
    // Without a resource link title, the course's title names the exam.
    assert_eq!(second[0].title, "Analytical Engines");
    let first: ExamRoster = admin_get(&h, &format!("/exams/{}", lti[0].id)).await;
    assert!(first.students.is_empty());
    let res = client()
        .get(format!("{}/api/v1/exams/{}/snapshot", h.base, lti[0].id))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
}

/// LTI Proctoring Services: claims of an LtiStartProctoring or
/// LtiEndAssessment launch for `sub`'s attempt `attempt` on link-7.
fn proctoring_claims(
    h: &Harness,
    platform: &Platform,
    nonce: &str,
    sub: &str,
    message_type: &str,
    attempt: u32,
) -> Value {
    let mut c = claims_for(h, nonce, sub, LEARNER, Some("Ada Lovelace"));
    c[claims::MESSAGE_TYPE] = json!(message_type);
    c[claims::ATTEMPT_NUMBER] = json!(attempt);
    if message_type == claims::LTI_START_PROCTORING {
        c[claims::START_ASSESSMENT_URL] = json!(format!("{}/assessments/7/start", platform.base));
        c[claims::ACS] = json!({
            "assessment_control_url": format!("{}/acs", platform.base),
            "actions": ["pause", "resume", "terminate", "flag"],
        });
        c[claims::SESSION_DATA] = json!("csrf-7f3a");
    }
    c
}

async fn start_assessment(h: &Harness, token: Option<&str>) -> (u16, Value) {
    let mut req = client().post(format!("{}/api/v1/lti/start-assessment", h.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proctoring_services_start_hand_back_and_end_an_attempt() {
    let h = Harness::start(&["plain"]).await;
    let platform = Platform::start().await;
    register(&h, ISSUER, &format!("{}/jwks", platform.base), &platform).await;

    // LtiStartProctoring before any instructor launched: the platform's
    // signed word makes the exam, and the learner lands on the student page.
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let start = proctoring_claims(&h, &platform, &nonce, "learner-1", claims::LTI_START_PROCTORING, 1);
    let (app, token) = landing(&post_launch(&h, &sign(&start), &state).await);
    assert_eq!(app, "student");
    let roster = lti_exam(&h).await;
    assert_eq!(roster.students.len(), 1);
    assert_eq!(roster.students[0].name, "Ada Lovelace");

    // The welcome says the assessment is the platform's, attempt 1.
    let (student, mut events) =
        SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": token })).await.expect("connects");
    let (_, welcome) = tokio::time::timeout(PATIENCE, events.recv()).await.unwrap().unwrap();
    assert_eq!(welcome["assessment"], json!({ "kind": "lti_proctoring", "attempt_number": 1 }), "{welcome}");

    // Handing back: the signed LtiStartAssessment, to the platform's URL.
    let (status, body) = start_assessment(&h, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["url"], json!(format!("{}/assessments/7/start", platform.base)));
    // Checked as the platform checks it: vigil's published key, vigil's
    // client id as issuer, the platform as audience.
    let tool_jwks: JwkSet = client().get(format!("{}/lti/jwks", h.base)).send().await.unwrap().json().await.unwrap();
    let jwt = body["jwt"].as_str().expect("a JWT");
    let kid = jsonwebtoken::decode_header(jwt).unwrap().kid.expect("a kid");
    let jwk = tool_jwks.find(&kid).expect("the signing key is published");
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&[ISSUER]);
    validation.set_issuer(&[CLIENT_ID]);
    // The server's clock is simulated; the signature and claims are what matter here.
    validation.validate_exp = false;
    let message = jsonwebtoken::decode::<Value>(jwt, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("signed by vigil's published key")
        .claims;
    assert_eq!(message[claims::MESSAGE_TYPE], json!(claims::LTI_START_ASSESSMENT));
    assert_eq!(message[claims::VERSION], json!("1.3.0"));
    assert_eq!(message[claims::DEPLOYMENT_ID], json!(DEPLOYMENT));
    assert_eq!(message[claims::SESSION_DATA], json!("csrf-7f3a"), "the session data is echoed");
    assert_eq!(message[claims::ATTEMPT_NUMBER], json!(1));
    assert_eq!(message[claims::RESOURCE_LINK]["id"], json!("link-7"));
    assert_eq!(message[claims::END_ASSESSMENT_RETURN], json!(true));
    assert!(message["nonce"].as_str().is_some_and(|n| n.len() >= 16), "{message}");
    assert_eq!(message["exp"].as_i64().unwrap() - message["iat"].as_i64().unwrap(), 300, "{message}");

    // Refusals: no token; a student whose exam LTI did not start.
    let (status, body) = start_assessment(&h, None).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (401, Some("missing_token")));
    let plain = h.token(vigil_proto::Role::Student, "plain").await;
    let (status, body) = start_assessment(&h, Some(&plain)).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (422, Some("no_lti_attempt")), "{body}");

    // LtiEndAssessment for another attempt: refused, nothing ends.
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let other = proctoring_claims(&h, &platform, &nonce, "learner-1", claims::LTI_END_ASSESSMENT, 2);
    let page = post_launch(&h, &sign(&other), &state).await;
    assert_eq!((page.status, page.refusal.as_deref()), (404, Some("no_attempt")), "{}", page.text);
    assert_eq!(start_assessment(&h, Some(&token)).await.0, 200, "attempt 1 is still open");

    // LtiEndAssessment for attempt 1: the person is told, the attempt ends.
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let end = proctoring_claims(&h, &platform, &nonce, "learner-1", claims::LTI_END_ASSESSMENT, 1);
    let page = post_launch(&h, &sign(&end), &state).await;
    assert_eq!((page.status, page.refusal.as_deref()), (200, None), "{}", page.text);
    assert!(page.text.contains("Your exam has ended"), "{}", page.text);
    // The open student page is told at once.
    let told = tokio::time::timeout(PATIENCE, async {
        loop {
            match events.recv().await {
                Some((name, v)) if name == names::ASSESSMENT => return v,
                Some(_) => continue,
                None => panic!("the student's connection closed"),
            }
        }
    })
    .await
    .expect("an assessment event");
    assert_eq!(told, json!({ "kind": "lti_proctoring", "attempt_number": 1, "ended_at": h.now() }));
    let (status, body) = start_assessment(&h, Some(&token)).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (409, Some("already_ended")), "{body}");
    drop(student);
    let (_again, mut events) =
        SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": token })).await.expect("connects");
    let (_, welcome) = tokio::time::timeout(PATIENCE, events.recv()).await.unwrap().unwrap();
    assert_eq!(welcome["assessment"]["ended_at"], json!(h.now()), "{welcome}");

    // Someone the platform never sent to be proctored has no attempt to end.
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let stranger = proctoring_claims(&h, &platform, &nonce, "learner-9", claims::LTI_END_ASSESSMENT, 1);
    let page = post_launch(&h, &sign(&stranger), &state).await;
    assert_eq!((page.status, page.refusal.as_deref()), (404, Some("no_attempt")), "{}", page.text);
}

/// With video on, the attempt is handed back only while the camera
/// publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assessment_is_handed_back_only_while_the_camera_publishes() {
    let h = Harness::start_configured(&[], |c| c.udp = Some("127.0.0.1:0".parse().unwrap())).await;
    let platform = Platform::start().await;
    register(&h, ISSUER, &format!("{}/jwks", platform.base), &platform).await;
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let start = proctoring_claims(&h, &platform, &nonce, "learner-1", claims::LTI_START_PROCTORING, 3);
    let (_, token) = landing(&post_launch(&h, &sign(&start), &state).await);
    let _student = h.student_with(&token).await;
    let (status, body) = start_assessment(&h, Some(&token)).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (422, Some("not_publishing")), "{body}");
}

/// A proctor's pause reaches the platform's Assessment Control Service: an
/// access token by client credentials with vigil's signed assertion, then
/// the control message, tried again when the platform fails; a warning,
/// which ACS has no word for, is not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proctor_actions_reach_the_assessment_control_service() {
    let h = Harness::start(&[]).await;
    let platform = Platform::start().await;
    register(&h, ISSUER, &format!("{}/jwks", platform.base), &platform).await;
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let start = proctoring_claims(&h, &platform, &nonce, "learner-1", claims::LTI_START_PROCTORING, 2);
    landing(&post_launch(&h, &sign(&start), &state).await);
    let (state, nonce) = login(&h, &platform, ISSUER, "instructor-hint").await;
    let teacher = sign(&claims_for(&h, &nonce, "teacher-1", INSTRUCTOR, Some("Grace Hopper")));
    let (app, proctor_token) = landing(&post_launch(&h, &teacher, &state).await);
    assert_eq!(app, "dashboard");
    let roster = lti_exam(&h).await;
    let student = roster.students[0].id.clone();
    let (proctor, _events) =
        SioClient::connect(&h.base, names::PROCTOR_NS, &json!({ "token": proctor_token })).await.expect("connects");

    // The platform is down for the first call.
    platform.services.acs_failures.store(1, Ordering::SeqCst);
    for (kind, text) in [("warn", "eyes on your screen"), ("pause", "Your camera is covered")] {
        let ack = proctor
            .emit_with_ack(names::ACTION, &json!({ "student_id": student, "kind": kind, "text": text }), PATIENCE)
            .await
            .expect("an ack");
        assert_eq!(ack, json!({ "status": "ok" }), "{kind}: the proctor does not wait for the platform");
    }
    let started = Instant::now();
    let calls = loop {
        let calls = platform.services.acs_calls.lock().unwrap().clone();
        if calls.len() >= 2 {
            break calls;
        }
        assert!(started.elapsed() < PATIENCE, "ACS calls so far: {calls:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The failed call and its retry, both the pause; never the warning.
    assert_eq!(calls.len(), 2, "{calls:?}");
    for (authorization, content_type, body) in &calls {
        assert_eq!(authorization, &format!("Bearer {ACCESS_TOKEN}"));
        assert_eq!(content_type, "application/vnd.ims.lti-ap.v1.control+json");
        assert_eq!(body["action"], json!("pause"), "{body}");
        assert_eq!(body["reason_msg"], json!("Your camera is covered"));
        assert_eq!(body["attempt_number"], json!(2));
        assert_eq!(body["user"], json!({ "iss": ISSUER, "sub": "learner-1" }));
        assert_eq!(body["resource_link"]["id"], json!("link-7"));
        assert!(body["incident_time"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
    }

    // The token request: client credentials, the ACS scope, and an
    // assertion signed with vigil's published key for the token URL.
    let requests = platform.services.token_requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "the token is reused for the retry: {requests:?}");
    let form = &requests[0];
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert_eq!(form["scope"], "https://purl.imsglobal.org/spec/lti-ap/scope/control.all");
    let tool_jwks: JwkSet = client().get(format!("{}/lti/jwks", h.base)).send().await.unwrap().json().await.unwrap();
    let assertion = &form["client_assertion"];
    let kid = jsonwebtoken::decode_header(assertion).unwrap().kid.expect("a kid");
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&[format!("{}/token", platform.base)]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(
        assertion,
        &jsonwebtoken::DecodingKey::from_jwk(tool_jwks.find(&kid).expect("published")).unwrap(),
        &validation,
    )
    .expect("signed by vigil's published key")
    .claims;
    assert_eq!(claims["sub"], json!(CLIENT_ID));
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16), "{claims}");
}

/// vigil's signing key rotates on the admin's request: the new key signs
/// from then on, the previous one stays published for its grace period
/// (across a restart), then is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_keys_rotate_and_the_previous_stays_published_for_its_grace() {
    let mut h = Harness::start(&[]).await;
    let jwks = |base: String| async move {
        let set: JwkSet = client().get(format!("{base}/lti/jwks")).send().await.unwrap().json().await.unwrap();
        set.keys.iter().map(|k| k.common.key_id.clone().expect("a kid")).collect::<Vec<_>>()
    };
    let first = jwks(h.base.clone()).await;
    assert_eq!(first.len(), 1);
    let rotate =
        |token: &'static str| client().post(format!("{}/api/v1/lti/keys/rotate", h.base)).bearer_auth(token).send();
    assert_eq!(rotate("not-the-admin").await.unwrap().status(), 401);
    let res = rotate("admin").await.unwrap();
    assert_eq!(res.status(), 200);
    let rotation: vigil_proto::events::LtiKeyRotation = res.json().await.unwrap();
    assert_eq!(rotation.previous_kid, first[0]);
    assert_ne!(rotation.current_kid, first[0]);
    assert_eq!(rotation.previous_published_until, h.now() + 24 * 3_600_000);
    let both = vec![rotation.current_kid.clone(), rotation.previous_kid.clone()];
    assert_eq!(jwks(h.base.clone()).await, both);

    // A restart restores both.
    h.stop().await;
    let h2 = Harness::start_in(h.data_dir.clone(), h.clock.clone()).await;
    assert_eq!(jwks(h2.base.clone()).await, both);
    // After the grace period only the new key is published.
    h2.advance(24 * 3_600_000);
    assert_eq!(jwks(h2.base.clone()).await, vec![rotation.current_kid.clone()]);
}

/// The membership requests the platform has answered so far.
fn membership_requests(platform: &Platform) -> Vec<(String, String, String)> {
    platform.services.membership_requests.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instructors_launch_brings_the_courses_learners_onto_the_roster() {
    let h = Harness::start(&[]).await;
    let platform = Platform::start().await;
    register(&h, ISSUER, &format!("{}/jwks", platform.base), &platform).await;
    let with_roster = |nonce: &str| {
        let mut c = claims_for(&h, nonce, "teacher-1", INSTRUCTOR, Some("Grace Hopper"));
        c[claims::NAMES_ROLE_SERVICE] = json!({
            "context_memberships_url": format!("{}/memberships?course=1", platform.base),
            "service_versions": ["2.0"],
        });
        sign(&c)
    };

    // The first launch (without the service) makes the exam; the dashboard is open.
    let (state, nonce) = login(&h, &platform, ISSUER, "instructor-hint").await;
    let page = post_launch(&h, &sign(&claims_for(&h, &nonce, "teacher-1", INSTRUCTOR, None)), &state).await;
    let (_, proctor_token) = landing(&page);
    let (client, events) =
        SioClient::connect(&h.base, names::PROCTOR_NS, &json!({ "token": proctor_token })).await.expect("connects");
    let mut proctor = common::Conn { client, events };
    let snapshot = proctor.request(names::SNAPSHOT, Value::Null).await;
    assert_eq!(snapshot["students"], json!([]));

    // A launch that offers the roster: the learners arrive as tiles.
    let (state, nonce) = login(&h, &platform, ISSUER, "instructor-hint").await;
    landing(&post_launch(&h, &with_roster(&nonce), &state).await);
    let (first, _) = proctor.next_named(names::STUDENT_ADDED).await;
    let (second, _) = proctor.next_named(names::STUDENT_ADDED).await;
    let mut names_seen = vec![first["student"]["name"].clone(), second["student"]["name"].clone()];
    names_seen.sort_by_key(|v| v.to_string());
    assert_eq!(names_seen, vec![json!("Ada Lovelace"), json!("Charles Babbage")]);
    assert_eq!(first["presence"], json!("offline"));
    let roster = lti_exam(&h).await;
    assert_eq!(roster.students.len(), 2, "active learners only: {:?}", roster.students);

    // Asked as NRPS says: the token for its scope, the media type, learners, pages.
    let tokens = platform.services.token_requests.lock().unwrap().clone();
    assert!(tokens.iter().any(|t| t["scope"] == claims::scope::NRPS_MEMBERSHIP_READ), "{tokens:?}");
    let requests = membership_requests(&platform);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].0, format!("Bearer {ACCESS_TOKEN}"));
    assert_eq!(requests[0].1, vigil_lti::NRPS_ACCEPT);
    assert!(requests[0].2.starts_with("course=1&"), "{requests:?}");
    assert!(
        requests[0].2.contains("role=http%3A%2F%2Fpurl.imsglobal.org%2Fvocab%2Flis%2Fv2%2Fmembership%23Learner"),
        "{requests:?}"
    );
    assert!(requests[1].2.contains("page=2"), "{requests:?}");

    // The learner's own launch later finds the roster entry: the same person.
    let (state, nonce) = login(&h, &platform, ISSUER, "learner-hint").await;
    let page = post_launch(&h, &sign(&claims_for(&h, &nonce, "learner-1", LEARNER, None)), &state).await;
    assert_eq!(landing(&page).0, "student");
    assert_eq!(lti_exam(&h).await.students, roster.students);

    // Another instructor launch within ten minutes does not ask again (the
    // decision is counted); one after does. (The metrics are the process's:
    // no other test in this binary syncs a roster.)
    let (state, nonce) = login(&h, &platform, ISSUER, "instructor-hint").await;
    landing(&post_launch(&h, &with_roster(&nonce), &state).await);
    wait_for_metric(&h, "vigil_lti_nrps_syncs_total{outcome=\"recent\"} 1").await;
    h.advance(nrps::SYNC_EVERY_MS);
    let (state, nonce) = login(&h, &platform, ISSUER, "instructor-hint").await;
    landing(&post_launch(&h, &with_roster(&nonce), &state).await);
    wait_for_metric(&h, "vigil_lti_nrps_syncs_total{outcome=\"synced\"} 2").await;
    assert_eq!(membership_requests(&platform).len(), 4);
}

async fn wait_for_metric(h: &Harness, line: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = client_text(h, "/metrics").await;
        if text.lines().any(|l| l == line) {
            return;
        }
        assert!(Instant::now() < deadline, "no {line} in\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn client_text(h: &Harness, path: &str) -> String {
    client().get(format!("{}{path}", h.base)).send().await.unwrap().text().await.unwrap()
}
