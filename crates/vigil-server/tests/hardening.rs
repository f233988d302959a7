//! One student must not be able to exhaust the server for the others.

mod common;

use common::{Harness, T0, incident};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use vigil_proto::Role;
use vigil_proto::events::names;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_socket_message_closes_only_that_connection() {
    let mut h = Harness::start(&["ada", "bo"]).await;
    let mut ada = h.student("ada").await;
    let bo = h.student("bo").await;
    // 300 KiB in one WebSocket message: over the limit, whatever it says.
    let huge = json!({ "id": "a", "seq": 1, "kind": "no_face", "started_at": T0, "detail": "x".repeat(300 * 1024) });
    ada.client.emit(names::INCIDENT, &huge).expect("sent");
    // Ada's connection ends: her event stream closes.
    let ended = tokio::time::timeout(common::PATIENCE, async { while ada.events.recv().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the oversized message did not close the connection");
    // Bo is unaffected.
    assert_eq!(bo.request(names::INCIDENT, incident("b", 1, "no_face", T0)).await["status"], "accepted");
    h.stop().await;
}

/// Starts an evidence upload and leaves its body unfinished, so that it
/// holds its place until the returned stream is dropped.
async fn stalled_upload(h: &Harness, token: &str, incident_id: &str) -> tokio::net::TcpStream {
    let addr = h.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let head = format!(
        "POST /api/v1/evidence/{incident_id} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: image/jpeg\r\nx-vigil-captured-at: {T0}\r\ncontent-length: 100000\r\n\r\nJPEG"
    );
    tcp.write_all(head.as_bytes()).await.expect("writes");
    tcp
}

async fn upload_status(h: &Harness, token: &str, incident_id: &str) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/evidence/{incident_id}", h.base))
        .bearer_auth(token)
        .header("x-vigil-captured-at", T0.to_string())
        .body(vec![0xff, 0xd8, 0xff, 0xd9])
        .send()
        .await
        .expect("a response");
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

/// Uploads until `done(status, body)`. The stalled upload's head may not
/// have been read yet, or its loss not noticed yet: those answers are passed
/// over. The per-student upload rate refills on the service's clock, which
/// is moved on when it runs dry.
async fn upload_until(
    h: &Harness,
    token: &str,
    incident_id: &str,
    done: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..500 {
        let (status, body) = upload_status(h, token, incident_id).await;
        if done(status, &body) {
            return body;
        }
        let message = body["error"]["message"].as_str().unwrap_or_default();
        if message.contains("too many evidence uploads") {
            h.advance(1_000);
        } else {
            tokio::task::yield_now().await;
        }
    }
    panic!("no matching answer for {incident_id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_evidence_upload_in_flight_per_student() {
    let mut h = Harness::start(&["ada", "bo"]).await;
    let ada = h.student("ada").await;
    let bo = h.student("bo").await;
    for (who, conn) in [("ada", &ada), ("bo", &bo)] {
        let ack = conn.request(names::INCIDENT, incident(&format!("{who}-1"), 1, "no_face", T0)).await;
        assert_eq!(ack["status"], "accepted");
        let ack = conn.request(names::INCIDENT, incident(&format!("{who}-2"), 2, "tab_hidden", T0)).await;
        assert_eq!(ack["status"], "accepted");
    }
    let ada_token = h.token(Role::Student, "ada").await;
    let bo_token = h.token(Role::Student, "bo").await;

    // An upload for an incident that does not exist is refused before any
    // body is read, and takes no place.
    assert_eq!(upload_status(&h, &ada_token, "nope").await.0, 404);

    let held = stalled_upload(&h, &ada_token, "ada-1").await;
    // Proof the first upload holds its place: a second of Ada's is turned
    // away (retry later), while Bo's goes through to the decoder.
    let still_checking = |status: u16, body: &serde_json::Value| {
        status == 429 && body["error"]["message"].as_str().is_some_and(|m| m.contains("still being checked"))
    };
    let body = upload_until(&h, &ada_token, "ada-2", still_checking).await;
    assert_eq!(body["error"]["reason"], "rate_limited");
    assert!(body["error"]["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{body}");
    let (status, body) = upload_status(&h, &bo_token, "bo-1").await;
    assert_eq!((status, body["error"]["reason"].as_str()), (422, Some("undecodable")), "bo is not held up: {body}");
    // Once the stalled upload is gone, Ada may upload again.
    drop(held);
    let body = upload_until(&h, &ada_token, "ada-2", |status, _| status != 429).await;
    assert_eq!(body["error"]["reason"], "undecodable", "{body}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let lms = "https://lms.example.edu";
    let mut h = Harness::start_configured(&[], |c| c.frame_ancestors = vec![lms.to_owned()]).await;
    for path in ["/student/", "/healthz", "/api/v1/exams/nope/snapshot"] {
        let res = reqwest::get(format!("{}{path}", h.base)).await.expect("a response");
        let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        let csp = header("content-security-policy");
        assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("default-src 'self'"), "{path}: {csp}");
        // The LMS may frame vigil's pages, and the student page may frame the
        // LMS's assessment; no other site either way.
        assert!(csp.contains(&format!("frame-ancestors 'self' {lms}")), "{path}: {csp}");
        assert!(csp.contains(&format!("frame-src 'self' {lms};")), "{path}: {csp}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_cannot_hold_many_sockets_or_reconnect_in_a_loop() {
    let mut h = Harness::start(&["ada", "bo"]).await;
    let mut first = h.student("ada").await;
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(h.student("ada").await);
    }
    // The fourth replaced the oldest: its connection is closed.
    let closed = tokio::time::timeout(common::PATIENCE, async { while first.events.recv().await.is_some() {} }).await;
    assert!(closed.is_ok(), "the oldest connection is still open");
    for conn in &others {
        let ack = conn.request(names::INCIDENT_END, json!({ "id": "none", "seq": 1, "ended_at": T0 })).await;
        assert_eq!(ack["reason"], "unknown_incident", "the newer connections work");
    }
    // Ten handshakes in a burst; the eleventh is refused with a reason and a wait.
    let token = h.token(Role::Student, "ada").await;
    let mut refusal = None;
    for _ in 0..10 {
        match vigil_load::sio::SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": token })).await {
            Ok(c) => others.push(common::Conn { client: c.0, events: c.1 }),
            Err(e) => {
                refusal = Some(e.to_string());
                break;
            }
        }
    }
    let refusal = refusal.expect("the burst ran out");
    assert!(refusal.contains("rate_limited: too many connections"), "{refusal}");
    // Another student is not affected.
    let bo = h.student("bo").await;
    assert_eq!(bo.request(names::INCIDENT, incident("b", 1, "no_face", T0)).await["status"], "accepted");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_carry_no_connection_ids() {
    let mut h = Harness::start(&["ada"]).await;
    let proctor = h.proctor().await;
    let student = h.student("ada").await;
    student.request(names::INCIDENT, incident("a", 1, "no_face", T0)).await;
    proctor.request(names::ACTION, json!({ "student_id": "ada", "kind": "warn" })).await;
    let text = reqwest::get(format!("{}/metrics", h.base)).await.unwrap().text().await.unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let labels = line.split_once('{').and_then(|(_, rest)| rest.split_once('}')).map_or("", |(l, _)| l);
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = value.trim_matches('"');
            let id_like = ["sid", "socket", "subscriber", "peer", "student", "proctor", "exam", "connection"];
            assert!(!id_like.contains(&key), "a metric is labelled by {key}: {line}");
            assert!(!["ada", "pat", "exam-1"].contains(&value), "a metric label carries an id: {line}");
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_the_cap_frees_up() {
    use tokio::io::AsyncReadExt;
    let mut h = Harness::start_configured(&[], |config| {
        config.connections.max_connections = 3;
        config.connections.first_byte = std::time::Duration::from_millis(300);
    })
    .await;
    let addr = h.base.trim_start_matches("http://").to_owned();
    // Three silent connections fill the cap...
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.expect("connects"));
    }
    // ...and are closed by the server for sending nothing (read returns 0 or
    // an error: either way the server let go).
    for conn in &mut silent {
        let mut byte = [0u8; 1];
        let closed = tokio::time::timeout(common::PATIENCE, conn.read(&mut byte)).await;
        assert!(matches!(closed, Ok(Ok(0) | Err(_))), "a silent connection stayed open: {closed:?}");
    }
    // Their places are free again: a real request is answered.
    let res = reqwest::get(format!("{}/healthz", h.base)).await.expect("answered");
    assert!(res.status().is_success());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_are_limited_per_address_before_any_token_is_read() {
    use vigil_core::rate::RateLimit;
    use vigil_load::sio::SioClient;
    let mut h = Harness::start_configured(&["ada", "bo"], |config| {
        config.address_handshakes = Some(RateLimit { burst: 3, per_second: 1.0 });
    })
    .await;
    // Three handshakes whose tokens are not even tokens spend the address's budget...
    for _ in 0..3 {
        let refused = SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": "not-a-token" })).await;
        let err = refused.expect_err("an invalid token is refused");
        assert!(err.to_string().contains("invalid_token"), "{err}");
    }
    // ...so a good token from the same address is refused for the address.
    let token = h.token(Role::Student, "bo").await;
    let refused = SioClient::connect(&h.base, names::PROCTOR_NS, &json!({ "token": token })).await;
    let err = refused.expect_err("the address's budget is spent");
    assert!(err.to_string().contains("rate_limited: too many connections from this network"), "{err}");
    // The budget refills on the service's clock.
    h.advance(1_000);
    let bo = h.student_with(&token).await;
    assert_eq!(bo.request(names::INCIDENT, incident("b", 1, "no_face", T0)).await["status"], "accepted");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_loop_reaches_proctors_as_at_most_one_presence_change_a_second() {
    let mut h = Harness::start(&["ada", "bo"]).await;
    let mut proctor = h.proctor().await;
    let token = h.token(Role::Student, "ada").await;
    let offline = |v: &serde_json::Value| {
        v["students"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["student"]["id"] == "ada" && s["presence"] == "offline")
    };
    for _ in 0..5 {
        let conn = h.student_with(&token).await;
        conn.client.close();
        // Proof that the server has processed the disconnect: the snapshot says so.
        for attempt in 0.. {
            if offline(&proctor.request(names::SNAPSHOT, serde_json::Value::Null).await) {
                break;
            }
            assert!(attempt < 2_000, "the disconnect was never processed");
            tokio::task::yield_now().await;
        }
    }
    // Ten changes within one instant of the service's clock: the first went
    // out at once, the rest wait for the trailing edge, latest wins.
    h.advance(1_000);
    let is_presence = |n: &str, v: &serde_json::Value| n == names::PRESENCE && v["student_id"] == "ada";
    let (last, before) =
        proctor.next_matching("ada offline", |n, v| is_presence(n, v) && v["presence"] == "offline").await;
    assert_eq!(last["presence"], "offline");
    let earlier: Vec<_> = before.iter().filter(|(n, v)| is_presence(n, v)).collect();
    assert_eq!(earlier.len(), 1, "one leading change before the trailing one: {earlier:?}");
    assert_eq!(earlier[0].1["presence"], "live");
    // Nothing else about ada is queued: the next thing the proctor hears is bo's incident.
    let bo = h.student("bo").await;
    bo.request(names::INCIDENT, incident("b", 1, "no_face", T0)).await;
    let (_, between) = proctor.next_matching("bo's incident", |n, v| n == names::INCIDENT && v["id"] == "b").await;
    let more: Vec<_> = between.iter().filter(|(n, v)| is_presence(n, v)).collect();
    assert!(more.is_empty(), "presence changes beyond the coalesced two: {more:?}");
    h.stop().await;
}

fn frame_fixture() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/frames/frame-a.jpg");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn upload_frame(h: &Harness, token: &str, incident_id: &str, jpeg: &[u8]) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/evidence/{incident_id}", h.base))
        .bearer_auth(token)
        .header("content-type", "image/jpeg")
        .header("x-vigil-captured-at", T0.to_string())
        .body(jpeg.to_vec())
        .send()
        .await
        .expect("a response");
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frame_replay_check_sees_only_the_uploaders_exam() {
    let mut h = Harness::start(&["ada"]).await;
    h.add_exam("exam-2", &["cy"]).await;
    let jpeg = frame_fixture();
    let ada_token = h.token(Role::Student, "ada").await;
    let ada = h.student_with(&ada_token).await;
    for (seq, id) in [(1, "a1"), (2, "a2")] {
        assert_eq!(ada.request(names::INCIDENT, incident(id, seq, "no_face", T0)).await["status"], "accepted");
    }
    assert_eq!(upload_frame(&h, &ada_token, "a1", &jpeg).await.0, 201);
    // In another exam the same bytes are a new frame: the answer must not
    // reveal that they exist elsewhere.
    let cy_token = h.token_in("exam-2", Role::Student, "cy").await;
    let cy = h.student_with(&cy_token).await;
    assert_eq!(cy.request(names::INCIDENT, incident("c1", 1, "no_face", T0)).await["status"], "accepted");
    let (status, body) = upload_frame(&h, &cy_token, "c1", &jpeg).await;
    assert_eq!(status, 201, "{body}");
    // Within one exam a replay is still refused.
    let (status, body) = upload_frame(&h, &ada_token, "a2", &jpeg).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (409, Some("replayed_frame")), "{body}");
    h.stop().await;
}
