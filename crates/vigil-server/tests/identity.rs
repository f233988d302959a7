//! The identity check before the exam and the student's breaks: enforced
//! by the server, whatever the page sends.

mod common;

use common::{Conn, Harness};
use serde_json::{Value, json};
use vigil_load::sio::SioClient;
use vigil_proto::Role;
use vigil_proto::events::names;

fn frame(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/frames").join(name);
    std::fs::read(path).expect("a test frame")
}

/// Sets the exam's settings field by field (as its admin).
async fn configure(h: &Harness, change: impl FnOnce(&mut Value)) {
    let path = format!("/exams/{}", h.exam);
    let mut settings = h.admin(reqwest::Method::GET, &path, Value::Null).await["exam"]["settings"].clone();
    change(&mut settings);
    let (status, body) =
        h.call(reqwest::Method::PUT, &format!("{path}/settings"), Some("admin"), Some(&settings)).await;
    assert_eq!(status, 200, "{body}");
}

async fn upload(h: &Harness, token: &str, kind: &str, body: Vec<u8>, content_type: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/identity/{kind}", h.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .header("x-vigil-captured-at", h.now().to_string())
        .body(body)
        .send()
        .await
        .expect("a response");
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn welcome(h: &Harness, token: &str) -> (Conn, Value) {
    let (client, events) = SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": token })).await.unwrap();
    let mut conn = Conn { client, events };
    let (welcome, _) = conn.next_named(names::WELCOME).await;
    (conn, welcome)
}

async fn phase_change(conn: &mut Conn, phase: &str) -> Value {
    conn.next_matching(phase, |n, v| n == names::SESSION && v["phase"] == json!(phase)).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exam_waits_for_a_proctors_approval_of_the_photos() {
    let h = Harness::start(&["ada"]).await;
    configure(&h, |s| s["identity_check"] = json!("photo_and_id")).await;
    let token = h.token(Role::Student, "ada").await;
    let (mut ada, first) = welcome(&h, &token).await;
    assert_eq!(first["settings"]["identity_check"], json!("photo_and_id"));

    // Nothing starts before the check.
    let early = ada.request(names::START, Value::Null).await;
    assert_eq!(early["reason"], json!("identity_required"), "{early}");
    let empty = ada.request(names::IDENTITY_SUBMIT, Value::Null).await;
    assert_eq!(empty["reason"], json!("identity_required"), "{empty}");

    // Photos are checked like evidence frames.
    let (status, body) = upload(&h, &token, "face", b"not a jpeg".to_vec(), "image/jpeg").await;
    assert_eq!((status, body["error"]["reason"].as_str()), (415, Some("not_jpeg")), "{body}");
    let (status, body) = upload(&h, &token, "face", frame("too-wide.jpg"), "image/jpeg").await;
    assert_eq!((status, body["error"]["reason"].as_str()), (422, Some("dimensions_out_of_range")), "{body}");
    let (status, body) = upload(&h, &token, "passport", frame("frame-a.jpg"), "image/jpeg").await;
    assert_eq!((status, body["error"]["reason"].as_str()), (422, Some("invalid_payload")), "{body}");
    let (status, face) = upload(&h, &token, "face", frame("frame-a.jpg"), "image/jpeg").await;
    assert_eq!((status, face["kind"].as_str()), (200, Some("face")), "{face}");
    let half = ada.request(names::IDENTITY_SUBMIT, Value::Null).await;
    assert_eq!(half["reason"], json!("identity_required"), "the document is missing: {half}");
    let (status, _) = upload(&h, &token, "id_document", frame("frame-b.jpg"), "image/jpeg").await;
    assert_eq!(status, 200);
    assert_eq!(ada.request(names::IDENTITY_SUBMIT, Value::Null).await, json!({ "status": "ok" }));
    phase_change(&mut ada, "identity_check").await;
    let still_early = ada.request(names::START, Value::Null).await;
    assert_eq!(still_early["reason"], json!("identity_required"), "{still_early}");
    // Sent, the photos are the proctors' to judge: no retake meanwhile.
    let (status, _) = upload(&h, &token, "face", frame("frame-b.jpg"), "image/jpeg").await;
    assert_eq!(status, 409);

    // The proctor sees the photos…
    let mut proctor = h.proctor().await;
    let snapshot = proctor.request(names::SNAPSHOT, Value::Null).await;
    assert_eq!(snapshot["students"][0]["session"]["phase"], json!("identity_check"));
    let pat = h.token(Role::Proctor, "pat").await;
    let listed =
        h.call(reqwest::Method::GET, &format!("/exams/{}/students/ada/identity", h.exam), Some(&pat), None).await;
    let kinds: Vec<&str> = listed.1["photos"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["face", "id_document"]);
    let jpeg = reqwest::Client::new()
        .get(format!("{}/api/v1/exams/{}/students/ada/identity/face", h.base, h.exam))
        .bearer_auth(&pat)
        .send()
        .await
        .unwrap();
    assert_eq!(jpeg.headers()["cache-control"], "private, no-store");
    assert_eq!(jpeg.bytes().await.unwrap().as_ref(), frame("frame-a.jpg").as_slice());
    // …which a student's token cannot read.
    let (status, _) =
        h.call(reqwest::Method::GET, &format!("/exams/{}/students/ada/identity", h.exam), Some(&token), None).await;
    assert_eq!(status, 403);

    // A rejection needs a reason, and sends the student back to retake.
    let bare = proctor.request(names::ACTION, json!({ "student_id": "ada", "kind": "reject_identity" })).await;
    assert_eq!(bare["reason"], json!("invalid_payload"), "{bare}");
    let rejected = proctor
        .request(
            names::ACTION,
            json!({ "student_id": "ada", "kind": "reject_identity", "text": "The document is unreadable" }),
        )
        .await;
    assert_eq!(rejected, json!({ "status": "ok" }));
    let back = phase_change(&mut ada, "waiting").await;
    assert_eq!(back["reason"], json!("The document is unreadable"));
    let (update, _) = proctor
        .next_matching("the queue update", |n, v| n == names::SESSION && v["session"]["phase"] == json!("waiting"))
        .await;
    assert_eq!(update["student_id"], json!("ada"));
    let (status, _) = upload(&h, &token, "id_document", frame("frame-a.jpg"), "image/jpeg").await;
    assert_eq!(status, 200, "a retake replaces the earlier photo");
    assert_eq!(ada.request(names::IDENTITY_SUBMIT, Value::Null).await, json!({ "status": "ok" }));
    let approved = proctor.request(names::ACTION, json!({ "student_id": "ada", "kind": "approve_identity" })).await;
    assert_eq!(approved, json!({ "status": "ok" }));
    phase_change(&mut ada, "ready").await;
    // A reload comes back ready, and the exam starts.
    let (ada, again) = welcome(&h, &token).await;
    assert_eq!(again["session"]["phase"], json!("ready"));
    assert_eq!(ada.request(names::START, Value::Null).await, json!({ "status": "ok" }));
    let twice = proctor.request(names::ACTION, json!({ "student_id": "ada", "kind": "approve_identity" })).await;
    assert_eq!(twice["reason"], json!("stale_transition"), "{twice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exam_may_approve_the_photo_itself() {
    let h = Harness::start(&["ada"]).await;
    configure(&h, |s| {
        s["identity_check"] = json!("photo");
        s["identity_auto_approve"] = json!(true);
    })
    .await;
    let token = h.token(Role::Student, "ada").await;
    let (mut ada, _) = welcome(&h, &token).await;
    // The exam asks for a face only.
    let (status, _) = upload(&h, &token, "id_document", frame("frame-a.jpg"), "image/jpeg").await;
    assert_eq!(status, 422);
    assert_eq!(upload(&h, &token, "face", frame("frame-a.jpg"), "image/jpeg").await.0, 200);
    assert_eq!(ada.request(names::IDENTITY_SUBMIT, Value::Null).await, json!({ "status": "ok" }));
    phase_change(&mut ada, "identity_check").await;
    phase_change(&mut ada, "ready").await;
    assert_eq!(ada.request(names::START, Value::Null).await, json!({ "status": "ok" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaks_stop_the_clock_are_counted_and_end_on_time() {
    let h = Harness::start(&["ada"]).await;
    configure(&h, |s| {
        s["duration_s"] = json!(3_600);
        s["breaks"] = json!({ "count": 1, "minutes": 5 });
    })
    .await;
    // One more for Ada.
    let path = format!("/exams/{}/students/ada/accommodations", h.exam);
    let (status, _) = h.call(reqwest::Method::PUT, &path, Some("admin"), Some(&json!({ "extra_breaks": 1 }))).await;
    assert_eq!(status, 200);
    let token = h.token(Role::Student, "ada").await;
    let (mut ada, first) = welcome(&h, &token).await;
    assert_eq!(
        (first["session"]["breaks_left"].as_u64(), first["settings"]["breaks"]["count"].as_u64()),
        (Some(2), Some(2))
    );
    let early = ada.request(names::BREAK_START, Value::Null).await;
    assert_eq!(early["reason"], json!("stale_transition"), "no break before the start: {early}");
    ada.request(names::START, Value::Null).await;
    phase_change(&mut ada, "in_progress").await;

    h.advance(10 * 60_000);
    assert_eq!(ada.request(names::BREAK_START, Value::Null).await, json!({ "status": "ok" }));
    let on_break = phase_change(&mut ada, "on_break").await;
    assert_eq!(on_break["breaks_left"], json!(1));
    assert_eq!(on_break["break_ends_at"].as_i64(), Some(h.now() + 5 * 60_000));
    h.advance(2 * 60_000);
    assert_eq!(ada.request(names::BREAK_END, Value::Null).await, json!({ "status": "ok" }));
    let back = phase_change(&mut ada, "in_progress").await;
    assert_eq!(back["time_left_ms"], json!(50 * 60_000), "the break did not count");

    // The second break runs out by itself: the server ends it.
    assert_eq!(ada.request(names::BREAK_START, Value::Null).await, json!({ "status": "ok" }));
    phase_change(&mut ada, "on_break").await;
    h.advance(5 * 60_000);
    let ended = phase_change(&mut ada, "in_progress").await;
    assert_eq!((ended["breaks_left"].as_u64(), ended["time_left_ms"].as_i64()), (Some(0), Some(50 * 60_000)));
    let none_left = ada.request(names::BREAK_START, Value::Null).await;
    assert_eq!(none_left["reason"], json!("stale_transition"), "{none_left}");
    assert_eq!(none_left["message"], json!("no breaks are left"));
}
