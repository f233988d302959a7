//! Exam sessions the server enforces: a pause and a termination hold
//! against a reconnect and a restart, the clock is the server's, and stale
//! transitions are refused.

mod common;

use common::{Conn, Harness};
use serde_json::{Value, json};
use vigil_load::sio::SioClient;
use vigil_proto::Role;
use vigil_proto::events::names;

async fn action(proctor: &Conn, student: &str, kind: &str, text: Option<&str>) -> Value {
    let mut req = json!({ "student_id": student, "kind": kind });
    if let Some(text) = text {
        req["text"] = json!(text);
    }
    proctor.request(names::ACTION, req).await
}

/// The welcome of a fresh connection on `token`.
async fn welcome(h: &Harness, token: &str) -> (Conn, Value) {
    let (client, events) = SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": token })).await.unwrap();
    let mut conn = Conn { client, events };
    let (welcome, _) = conn.next_named(names::WELCOME).await;
    (conn, welcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_holds_against_a_reconnect_and_a_restart() {
    let mut h = Harness::start(&["ada"]).await;
    let token = h.token(Role::Student, "ada").await;
    let (mut ada, first) = welcome(&h, &token).await;
    assert_eq!(first["session"]["phase"], json!("waiting"));
    assert_eq!(ada.request(names::START, Value::Null).await, json!({ "status": "ok" }));
    let (started, _) = ada.next_named(names::SESSION).await;
    assert_eq!(started["phase"], json!("in_progress"));
    // Starting twice is stale.
    let again = ada.request(names::START, Value::Null).await;
    assert_eq!(again["reason"], json!("stale_transition"), "{again}");

    let proctor = h.proctor().await;
    assert_eq!(action(&proctor, "ada", "pause", Some("Phone on the desk")).await, json!({ "status": "ok" }));
    let (paused, _) = ada.next_named(names::SESSION).await;
    assert_eq!((paused["phase"].as_str(), paused["reason"].as_str()), (Some("paused"), Some("Phone on the desk")));
    // A second pause is stale: nothing is recorded or sent.
    let stale = action(&proctor, "ada", "pause", None).await;
    assert_eq!(stale["reason"], json!("stale_transition"), "{stale}");

    // What the page reports during the pause is kept, and marked.
    let at = h.now();
    let ack = ada.request(names::INCIDENT, common::incident("p-1", 1, "tab_hidden", at)).await;
    assert_eq!(ack["status"], json!("accepted"), "{ack}");
    let mut proctor = proctor;
    let (notice, _) = proctor.next_named(names::INCIDENT_NOTICE).await;
    assert_eq!((notice["id"].as_str(), notice["during_pause"].as_bool()), (Some("p-1"), Some(true)), "{notice}");

    // A reload comes back paused…
    let (_reloaded, again) = welcome(&h, &token).await;
    assert_eq!(again["session"]["phase"], json!("paused"));
    // …and so does a restarted server.
    h.stop().await;
    let h = Harness::start_in(h.data_dir.clone(), h.clock.clone()).await;
    let (_after, restarted) = welcome(&h, &token).await;
    assert_eq!(restarted["session"]["phase"], json!("paused"));
    assert_eq!(restarted["session"]["reason"], json!("Phone on the desk"));
    let proctor = h.proctor().await;
    assert_eq!(action(&proctor, "ada", "resume", None).await, json!({ "status": "ok" }));
    let snapshot = proctor.request(names::SNAPSHOT, Value::Null).await;
    assert_eq!(snapshot["students"][0]["session"]["phase"], json!("in_progress"), "{snapshot}");
    // The mark survives the restart; an incident after the resume has none.
    let (ada, _) = welcome(&h, &token).await;
    let ack = ada.request(names::INCIDENT, common::incident("p-2", 2, "copy_paste", h.now())).await;
    assert_eq!(ack["status"], json!("accepted"), "{ack}");
    let pat = h.token(Role::Proctor, "pat").await;
    let stored: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/exams/{}/students/ada/incidents", h.base, h.exam))
        .bearer_auth(pat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let marks: Vec<(Value, Value)> =
        stored.as_array().unwrap().iter().map(|r| (r["id"].clone(), r["during_pause"].clone())).collect();
    assert_eq!(marks, vec![(json!("p-1"), json!(true)), (json!("p-2"), Value::Null)], "{stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_students_token_opens_nothing_any_more() {
    let mut h = Harness::start(&["ada", "bo"]).await;
    let token = h.token(Role::Student, "ada").await;
    let (mut ada, _) = welcome(&h, &token).await;
    let mut proctor = h.proctor().await;
    assert_eq!(action(&proctor, "ada", "terminate", Some("Notes on the desk")).await, json!({ "status": "ok" }));
    let (ended, _) = ada.next_named(names::SESSION).await;
    assert_eq!(ended["phase"], json!("terminated"));
    let (update, _) = proctor.next_named(names::SESSION).await;
    assert_eq!((update["student_id"].as_str(), update["session"]["phase"].as_str()), (Some("ada"), Some("terminated")));

    let refused = SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": token })).await;
    let err = refused.expect_err("a terminated student's handshake is refused");
    assert!(err.to_string().contains("session_terminated"), "{err}");
    let res =
        reqwest::Client::new().post(format!("{}/api/v1/access-code", h.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["reason"], json!("session_terminated"));
    // Terminated is final, for proctors too; another student is untouched.
    let resume = action(&proctor, "ada", "resume", None).await;
    assert_eq!(resume["reason"], json!("session_terminated"), "{resume}");
    let bo = h.token(Role::Student, "bo").await;
    let (_bo, welcome_bo) = welcome(&h, &bo).await;
    assert_eq!(welcome_bo["session"]["phase"], json!("waiting"));

    // After a restart, still refused.
    h.stop().await;
    let h = Harness::start_in(h.data_dir.clone(), h.clock.clone()).await;
    let refused = SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": token })).await;
    assert!(refused.expect_err("still refused").to_string().contains("session_terminated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_clock_ends_the_exam_whatever_the_page_thinks() {
    let h = Harness::start(&[]).await;
    // An exam of 10 minutes of exam time.
    let mut settings =
        h.admin(reqwest::Method::GET, &format!("/exams/{}", h.exam), Value::Null).await["exam"]["settings"].clone();
    settings["duration_s"] = json!(600);
    let created = h
        .admin(reqwest::Method::POST, "/exams", json!({ "id": "timed", "title": "Timed", "settings": settings }))
        .await;
    assert_eq!(created["settings"]["duration_s"], json!(600));
    h.admin(reqwest::Method::POST, "/exams/timed/students", json!({ "id": "ada", "name": "Ada" })).await;
    h.admin(reqwest::Method::POST, "/exams/timed/proctors", json!({ "id": "pat", "name": "Pat" })).await;
    let token = h.token_in("timed", Role::Student, "ada").await;
    let (mut ada, first) = welcome(&h, &token).await;
    assert_eq!(first["session"]["time_left_ms"], json!(600_000));
    ada.request(names::START, Value::Null).await;
    ada.next_named(names::SESSION).await;

    // Four minutes in, a five-minute pause: the clock stops.
    h.advance(4 * 60_000);
    let proctor_token = h.token_in("timed", Role::Proctor, "pat").await;
    let (client, events) =
        SioClient::connect(&h.base, names::PROCTOR_NS, &json!({ "token": proctor_token })).await.unwrap();
    let proctor = Conn { client, events };
    action(&proctor, "ada", "pause", None).await;
    h.advance(5 * 60_000);
    action(&proctor, "ada", "resume", None).await;
    let (_, resumed) = welcome(&h, &token).await;
    assert_eq!(resumed["session"]["time_left_ms"], json!(360_000), "{resumed}");
    // A proctor adds two minutes live; without minutes it is refused.
    let bad = proctor.request(names::ACTION, json!({ "student_id": "ada", "kind": "add_time" })).await;
    assert_eq!(bad["reason"], json!("invalid_payload"), "{bad}");
    let added = proctor.request(names::ACTION, json!({ "student_id": "ada", "kind": "add_time", "minutes": 2 })).await;
    assert_eq!(added, json!({ "status": "ok" }));
    let (told, _) =
        ada.next_matching("the added time", |n, v| n == names::PROCTOR_ACTION && v["kind"] == json!("add_time")).await;
    assert_eq!(told["minutes"], json!(2));
    let (_, longer) = welcome(&h, &token).await;
    assert_eq!(longer["session"]["time_left_ms"], json!(480_000), "{longer}");

    // The page's own clock is irrelevant: the server ends it on time.
    h.advance(8 * 60_000);
    let (expired, _) =
        ada.next_matching("the expiry", |n, v| n == names::SESSION && v["phase"] == json!("expired")).await;
    assert_eq!(expired["time_left_ms"], json!(0));
    // An expired session may still reconnect (its page drains its outbox),
    // and it cannot be handed in any more.
    let (mut again, welcome_again) = welcome(&h, &token).await;
    assert_eq!(welcome_again["session"]["phase"], json!("expired"));
    let submit = again.request(names::SUBMIT, Value::Null).await;
    assert_eq!(submit["reason"], json!("stale_transition"), "{submit}");
    let _ = again.events.try_recv();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_in_session_is_over() {
    let h = Harness::start(&["ada"]).await;
    let token = h.token(Role::Student, "ada").await;
    let (ada, _) = welcome(&h, &token).await;
    ada.request(names::START, Value::Null).await;
    assert_eq!(ada.request(names::SUBMIT, Value::Null).await, json!({ "status": "ok" }));
    let proctor = h.proctor().await;
    let pause = action(&proctor, "ada", "pause", None).await;
    assert_eq!(pause["reason"], json!("stale_transition"), "{pause}");
    // Warnings and messages are not session changes: still delivered.
    assert_eq!(action(&proctor, "ada", "message", Some("Thanks")).await, json!({ "status": "ok" }));
    let (_, welcome) = welcome(&h, &token).await;
    assert_eq!(welcome["session"]["phase"], json!("submitted"));
}

async fn put_accommodations(h: &Harness, exam: &str, student: &str, body: &Value) -> (u16, Value) {
    let path = format!("/exams/{exam}/students/{student}/accommodations");
    h.call(reqwest::Method::PUT, &path, Some("admin"), Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accommodations_apply_to_one_student_on_the_server_and_the_page() {
    let mut h = Harness::start(&[]).await;
    let mut settings =
        h.admin(reqwest::Method::GET, &format!("/exams/{}", h.exam), Value::Null).await["exam"]["settings"].clone();
    settings["duration_s"] = json!(600);
    h.admin(reqwest::Method::POST, "/exams", json!({ "id": "timed", "title": "Timed", "settings": settings })).await;
    for s in ["ada", "bo"] {
        h.admin(reqwest::Method::POST, "/exams/timed/students", json!({ "id": s, "name": s })).await;
    }
    h.admin(reqwest::Method::POST, "/exams/timed/proctors", json!({ "id": "pat", "name": "Pat" })).await;
    let ada_token = h.token_in("timed", Role::Student, "ada").await;
    let (mut ada, _) = welcome(&h, &ada_token).await;

    let granted =
        json!({ "extra_time_pct": 50, "disabled_detectors": ["looking_away"], "note": "Reads questions aloud" });
    let (status, tile) = put_accommodations(&h, "timed", "ada", &granted).await;
    assert_eq!(status, 200, "{tile}");
    assert_eq!(tile["accommodations"]["note"], json!("Reads questions aloud"));
    // Ada's page gets her settings and time; the note is not in them.
    let (mine, _) = ada.next_named(names::EXAM_SETTINGS).await;
    assert_eq!(mine["disabled_detectors"], json!(["looking_away"]));
    assert_eq!(mine["duration_s"], json!(900));
    assert!(!mine.to_string().contains("aloud"), "the note is the proctors': {mine}");
    let (session, _) = ada.next_named(names::SESSION).await;
    assert_eq!(session["time_left_ms"], json!(900_000));
    let at = h.now();
    let ack = ada.request(names::INCIDENT, common::incident("i-1", 1, "looking_away", at)).await;
    assert_eq!(ack["reason"], json!("detector_disabled"), "{ack}");

    // Bo is untouched.
    let bo_token = h.token_in("timed", Role::Student, "bo").await;
    let (bo, bo_welcome) = welcome(&h, &bo_token).await;
    assert_eq!(bo_welcome["settings"]["disabled_detectors"], json!([]));
    assert_eq!(bo_welcome["session"]["time_left_ms"], json!(600_000));
    assert!(!bo_welcome.to_string().contains("aloud"), "{bo_welcome}");
    let ack = bo.request(names::INCIDENT, common::incident("i-2", 1, "looking_away", at)).await;
    assert_eq!(ack["status"], json!("accepted"), "{ack}");

    // Refusals, with nothing stored.
    for (body, reason) in [
        (json!({ "extra_time_pct": 301 }), "invalid_payload"),
        (json!({ "disabled_detectors": ["heartbeat_lost"] }), "invalid_payload"),
        (json!({ "extra_time": 5 }), "invalid_payload"),
    ] {
        let (status, err) = put_accommodations(&h, "timed", "ada", &body).await;
        assert_eq!((status, err["error"]["reason"].as_str()), (422, Some(reason)), "{body}: {err}");
    }
    let (status, _) = put_accommodations(&h, "timed", "nobody", &granted).await;
    assert_eq!(status, 404);
    let huge = json!({ "note": "x".repeat(17 * 1024) });
    let (status, err) = put_accommodations(&h, "timed", "ada", &huge).await;
    assert_eq!((status, err["error"]["reason"].as_str()), (413, Some("too_large")), "{err}");
    let proctor = h.token_in("timed", Role::Proctor, "pat").await;
    let path = "/exams/timed/students/ada/accommodations";
    let (status, _) = h.call(reqwest::Method::PUT, path, Some(&proctor), Some(&granted)).await;
    assert_eq!(status, 403, "a proctor without configure");

    // A change of the exam's settings keeps each student's own on top.
    let mut exam_settings = bo_welcome["settings"].clone();
    exam_settings["disabled_detectors"] = json!(["copy_paste"]);
    exam_settings["duration_s"] = json!(600);
    let (status, body) =
        h.call(reqwest::Method::PUT, "/exams/timed/settings", Some("admin"), Some(&exam_settings)).await;
    assert_eq!(status, 200, "{body}");
    let (mine, _) = ada.next_named(names::EXAM_SETTINGS).await;
    assert_eq!(mine["disabled_detectors"], json!(["copy_paste", "looking_away"]));
    let mut bo = bo;
    let (theirs, _) = bo.next_named(names::EXAM_SETTINGS).await;
    assert_eq!(theirs["disabled_detectors"], json!(["copy_paste"]));

    // Kept across a restart: the welcome after it still has them.
    h.stop().await;
    let h = Harness::start_in(h.data_dir.clone(), h.clock.clone()).await;
    let (_, again) = welcome(&h, &ada_token).await;
    assert_eq!(again["settings"]["disabled_detectors"], json!(["copy_paste", "looking_away"]));
    assert_eq!(again["session"]["time_left_ms"], json!(900_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_and_other_actions_are_kept_with_their_notes() {
    let h = Harness::start(&["ada"]).await;
    let token = h.token(Role::Student, "ada").await;
    let (ada, _) = welcome(&h, &token).await;
    ada.request(names::START, Value::Null).await;
    let proctor = h.proctor().await;
    action(&proctor, "ada", "flag_for_review", Some("Looked at a phone at 10:02")).await;
    proctor.request(names::ACTION, json!({ "student_id": "ada", "kind": "add_time", "minutes": 5 })).await;
    // A refused action is not recorded.
    action(&proctor, "ada", "resume", None).await;
    let pat = h.token(Role::Proctor, "pat").await;
    let get = |token: String| {
        let url = format!("{}/api/v1/exams/{}/students/ada/actions", h.base, h.exam);
        async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap() }
    };
    let actions: Value = get(pat).await.json().await.unwrap();
    assert_eq!(actions.as_array().map(Vec::len), Some(2), "{actions}");
    assert_eq!(actions[0]["kind"], json!("flag_for_review"));
    assert_eq!(actions[0]["text"], json!("Looked at a phone at 10:02"));
    assert_eq!(actions[0]["proctor_id"], json!("pat"));
    assert_eq!((actions[1]["kind"].as_str(), actions[1]["minutes"].as_u64()), (Some("add_time"), Some(5)));
    // Only the exam's proctors read them.
    h.add_exam("exam-2", &[]).await;
    let other = h.token_in("exam-2", Role::Proctor, "pat").await;
    assert_eq!(get(other).await.status(), 403);
    assert_eq!(get(token).await.status(), 403, "a student token");
}
