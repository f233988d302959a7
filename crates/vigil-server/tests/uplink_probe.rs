//! The uplink probe (`POST /api/v1/uplink-probe`, issue 19): a student's
//! throwaway bytes measured and answered; refused with its reason before the
//! body is read (no token, too large, over the student's budget, a slot
//! taken), and a body that stops arriving refused once its deadline passes,
//! its slots free again.

mod common;

use std::time::Duration;

use common::{Harness, PATIENCE};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vigil_core::uplink::ProbeLimits;
use vigil_proto::Role;

const PATH: &str = "/api/v1/uplink-probe";

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(131) >> 3) as u8).collect()
}

async fn probe(h: &Harness, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{PATH}", h.base))
        .header("content-type", "application/octet-stream")
        .body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.expect("a response");
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

fn reason(answer: &(u16, Value)) -> (u16, Option<&str>) {
    (answer.0, answer.1["error"]["reason"].as_str())
}

/// A probe written by hand: its head declaring `declared` bytes, then
/// `body` (perhaps fewer), the connection left open.
async fn raw_probe(h: &Harness, token: &str, declared: usize, body: &[u8]) -> TcpStream {
    let addr = h.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.expect("connects");
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/octet-stream\r\ncontent-length: {declared}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("the head is sent");
    s.write_all(body).await.expect("the body is sent");
    s
}

/// The answer on a hand-written probe's connection: its status and JSON body.
async fn raw_answer(mut s: TcpStream) -> (u16, Value) {
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.expect("the answer is readable");
            assert!(n > 0, "the connection closed before a whole answer: {:?}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a content-length");
            if buf.len() >= end + 4 + len {
                let status = head[9..12].parse().expect("a status");
                return (status, serde_json::from_slice(&buf[end + 4..end + 4 + len]).expect("a JSON body"));
            }
        }
    };
    tokio::time::timeout(PATIENCE, read).await.expect("an answer within patience")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_is_measured_and_answered() {
    let h = Harness::start(&["ada"]).await;
    let token = h.token(Role::Student, "ada").await;
    let res = reqwest::Client::new()
        .post(format!("{}{PATH}", h.base))
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(bytes(256 * 1024))
        .send()
        .await
        .expect("a response");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(body["bytes"].as_u64(), Some(256 * 1024), "{body}");
    let elapsed = body["elapsed_ms"].as_f64().expect("elapsed_ms");
    let bps = body["bps"].as_u64().expect("bps");
    assert!(elapsed >= 0.0 && elapsed < PATIENCE.as_millis() as f64, "{body}");
    // The rate is the bytes over the time (at least 1 ms): what the page plans with.
    let expected = (256.0 * 1024.0 * 8.0) / (elapsed.max(1.0) / 1000.0);
    assert!((bps as f64 - expected).abs() <= expected * 0.01 + 1.0, "{body}");
    // A chunked body (no declared length) is measured the same way.
    let stream = futures::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(bytes(16 * 1024))));
    let res = reqwest::Client::new()
        .post(format!("{}{PATH}", h.base))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("a response");
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(body["bytes"].as_u64(), Some(64 * 1024), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_without_a_students_token_is_refused() {
    let h = Harness::start(&["ada"]).await;
    assert_eq!(reason(&probe(&h, None, bytes(32 * 1024)).await), (401, Some("missing_token")));
    assert_eq!(reason(&probe(&h, Some("not.a.token"), bytes(32 * 1024)).await), (401, Some("invalid_token")));
    let proctor = h.token(Role::Proctor, "pat").await;
    assert_eq!(reason(&probe(&h, Some(&proctor), bytes(32 * 1024)).await), (403, Some("wrong_scope")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_of_the_wrong_size_is_refused_with_its_reason() {
    let h = Harness::start(&["ada"]).await;
    let token = h.token(Role::Student, "ada").await;
    // Declared over the limit: refused from the head, no body sent at all.
    let max = ProbeLimits::default().max_bytes as usize;
    let s = raw_probe(&h, &token, max + 1, &[]).await;
    let answer = raw_answer(s).await;
    assert_eq!(reason(&answer), (413, Some("too_large")), "{}", answer.1);
    // Too small to measure anything.
    let answer = probe(&h, Some(&token), bytes(1_000)).await;
    assert_eq!(reason(&answer), (422, Some("invalid_payload")), "{}", answer.1);
    // Neither cost the student a probe of their budget: four still go through.
    for i in 0..4 {
        let answer = probe(&h, Some(&token), bytes(16 * 1024)).await;
        assert_eq!(answer.0, 200, "probe {i}: {}", answer.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_probing_too_often_is_refused_until_the_budget_refills() {
    let h = Harness::start(&["ada", "bob"]).await;
    let ada = h.token(Role::Student, "ada").await;
    let mut measured = 0;
    let refusal = loop {
        let answer = probe(&h, Some(&ada), bytes(16 * 1024)).await;
        if answer.0 != 200 {
            break answer;
        }
        measured += 1;
        assert!(measured <= 10, "never refused");
    };
    assert_eq!(measured, 4, "the burst");
    assert_eq!(reason(&refusal), (429, Some("rate_limited")), "{}", refusal.1);
    let wait = refusal.1["error"]["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!((1..=20_000).contains(&wait), "{}", refusal.1);
    // Another student is not held back.
    let bob = h.token(Role::Student, "bob").await;
    assert_eq!(probe(&h, Some(&bob), bytes(16 * 1024)).await.0, 200);
    // Once the budget has refilled, one more.
    h.clock.advance(i64::try_from(wait).expect("a small wait"));
    let answer = probe(&h, Some(&ada), bytes(16 * 1024)).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_in_flight_holds_the_students_slot_and_one_of_the_servers() {
    let h = Harness::start_configured(&["ada", "bob"], |c| c.uplink_probes_in_flight = 1).await;
    let (ada, bob) = (h.token(Role::Student, "ada").await, h.token(Role::Student, "bob").await);
    // Ada's probe is being read (held here, in process, for as long as the test likes).
    let sess = h.service.authenticate_live_student(Some(&ada)).await.expect("ada");
    let ticket = h.service.uplink_precheck(&sess, Some(64 * 1024)).expect("admitted");
    for (token, message) in [(&ada, "previous uplink probe"), (&bob, "many uplinks")] {
        let answer = probe(&h, Some(token), bytes(16 * 1024)).await;
        assert_eq!(reason(&answer), (429, Some("rate_limited")), "{}", answer.1);
        assert_eq!(answer.1["error"]["retry_after_ms"].as_u64(), Some(1_000), "{}", answer.1);
        let text = answer.1["error"]["message"].as_str().unwrap_or("");
        assert!(text.contains(message), "{text}");
    }
    drop(ticket);
    // Refused for a busy server did not spend Bob's budget: his four go through.
    for i in 0..4 {
        let answer = probe(&h, Some(&bob), bytes(16 * 1024)).await;
        assert_eq!(answer.0, 200, "probe {i}: {}", answer.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_that_stops_arriving_is_refused_and_frees_its_slots() {
    let limits =
        ProbeLimits { max_gap: Duration::from_millis(300), deadline: Duration::from_secs(2), ..Default::default() };
    let h = Harness::start_configured(&["ada"], |c| {
        c.uplink = limits;
        c.uplink_probes_in_flight = 1;
    })
    .await;
    let token = h.token(Role::Student, "ada").await;
    // A slow-loris: part of the body, then nothing.
    let s = raw_probe(&h, &token, 64 * 1024, &bytes(20 * 1024)).await;
    let answer = raw_answer(s).await;
    assert_eq!(reason(&answer), (408, Some("too_slow")), "{}", answer.1);
    // Its slots were given back: the student (and the server's one slot) may probe again.
    let answer = probe(&h, Some(&token), bytes(16 * 1024)).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
}
