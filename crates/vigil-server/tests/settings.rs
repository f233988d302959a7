//! An exam's settings changed while it runs: who may, what an open exam
//! still accepts, and that every page and the referee follow at once.

mod common;

use common::{Harness, T0, incident};
use serde_json::{Value, json};
use vigil_proto::Role;
use vigil_proto::events::{IssueLink, names};

async fn put_settings(h: &Harness, token: Option<&str>, body: &Value) -> (u16, Value) {
    h.call(reqwest::Method::PUT, &format!("/exams/{}/settings", h.exam), token, Some(body)).await
}

async fn put_access_code(h: &Harness, token: &str, code: &str) -> u16 {
    let body = json!({ "code": code });
    h.call(reqwest::Method::PUT, &format!("/exams/{}/access-code", h.exam), Some(token), Some(&body)).await.0
}

/// A proctor link for "pat" that may configure the exam.
async fn instructor_token(h: &Harness) -> String {
    let req = IssueLink { role: Role::Proctor, subject: "pat".into(), ttl_s: None, may_configure: Some(true) };
    let link = h.admin(reqwest::Method::POST, &format!("/exams/{}/links", h.exam), json!(req)).await;
    link["token"].as_str().unwrap().to_owned()
}

async fn current(h: &Harness) -> Value {
    h.admin(reqwest::Method::GET, &format!("/exams/{}", h.exam), Value::Null).await["exam"]["settings"].clone()
}

fn reason(body: &Value) -> Option<&str> {
    body["error"]["reason"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instructor_changes_a_live_exam_and_everyone_follows() {
    let h = Harness::start(&["ada"]).await;
    let instructor = instructor_token(&h).await;
    let mut ada = h.student("ada").await;
    let mut proctor = h.proctor().await;
    let snapshot = proctor.request(names::SNAPSHOT, Value::Null).await;
    assert_eq!(snapshot["may_configure"], json!(false), "a plain proctor link does not configure");

    // Looking away is switched off and the exam gets 30 more minutes.
    let mut settings = current(&h).await;
    settings["disabled_detectors"] = json!(["looking_away"]);
    let closes = settings["window"]["closes_at"].as_i64().unwrap() + 30 * 60_000;
    settings["window"]["closes_at"] = json!(closes);
    let (status, exam) = put_settings(&h, Some(&instructor), &settings).await;
    assert_eq!(status, 200, "{exam}");
    assert_eq!(exam["settings"], settings);

    // The student's page and the proctor's dashboard are told.
    let (got, _) = ada.next_named(names::EXAM_SETTINGS).await;
    assert_eq!(got, settings);
    let (got, _) = proctor.next_named(names::EXAM).await;
    assert_eq!(got["settings"], settings);
    // The referee follows too: a looking_away report is refused from now on…
    let ack = ada.request(names::INCIDENT, incident("i-1", 1, "looking_away", T0)).await;
    assert_eq!(ack["reason"], json!("detector_disabled"), "{ack}");
    // …and a reconnecting page gets the new settings in its welcome.
    let token = h.token(Role::Student, "ada").await;
    let (client, events) =
        vigil_load::sio::SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": token })).await.unwrap();
    let (welcome, _) = common::Conn { client, events }.next_named(names::WELCOME).await;
    assert_eq!(welcome["settings"], settings);

    // A new access code: the pages showing the assessment are told to ask again.
    assert_eq!(put_access_code(&h, &instructor, "tulip-42").await, 204);
    let (payload, _) = ada.next_named(names::ACCESS_CODE_CHANGED).await;
    assert_eq!(payload, Value::Null, "nothing but the news: the code itself is asked for");

    // A student added to the roster now gets a tile on open dashboards.
    h.admin(reqwest::Method::POST, &format!("/exams/{}/students", h.exam), json!({ "id": "bo", "name": "Bo" })).await;
    let (tile, _) = proctor.next_named(names::STUDENT_ADDED).await;
    assert_eq!((tile["student"]["id"].as_str(), tile["presence"].as_str()), (Some("bo"), Some("offline")), "{tile}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_admin_and_instructors_configure() {
    let h = Harness::start(&["ada"]).await;
    let settings = current(&h).await;
    let proctor = h.token(Role::Proctor, "pat").await;
    let student = h.token(Role::Student, "ada").await;
    assert_eq!(reason(&put_settings(&h, None, &settings).await.1), Some("missing_token"));
    let (status, body) = put_settings(&h, Some(&proctor), &settings).await;
    assert_eq!((status, reason(&body)), (403, Some("forbidden")), "{body}");
    let (status, body) = put_settings(&h, Some(&student), &settings).await;
    assert_eq!((status, reason(&body)), (403, Some("wrong_scope")), "{body}");
    // An instructor of another exam is not one of this exam's.
    h.add_exam("exam-2", &[]).await;
    let req = IssueLink { role: Role::Proctor, subject: "pat".into(), ttl_s: None, may_configure: Some(true) };
    let other = h.admin(reqwest::Method::POST, "/exams/exam-2/links", json!(req)).await;
    let (status, body) = put_settings(&h, other["token"].as_str(), &settings).await;
    assert_eq!((status, reason(&body)), (403, Some("forbidden")), "{body}");
    // A configuring link is for proctors only.
    let req = IssueLink { role: Role::Student, subject: "ada".into(), ttl_s: None, may_configure: Some(true) };
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/exams/{}/links", h.base, h.exam))
        .bearer_auth("admin")
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    // The admin may, and the access code is an instructor's to set too.
    assert_eq!(put_settings(&h, Some("admin"), &settings).await.0, 200);
    let instructor = instructor_token(&h).await;
    assert_eq!(put_access_code(&h, &instructor, "tulip-42").await, 204);
    assert_eq!(put_access_code(&h, &proctor, "rose-7").await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_exam_keeps_what_students_agreed_to_and_its_scores_rules() {
    // The harness's exam opened an hour ago.
    let h = Harness::start(&["ada"]).await;
    let before = current(&h).await;
    assert_eq!(before["privacy"], json!("flagged_frames"));
    let change = |f: &dyn Fn(&mut Value)| {
        let mut s = before.clone();
        f(&mut s);
        s
    };

    // Lowering the privacy tier is fine; raising it back is not.
    let lowered = change(&|s| s["privacy"] = json!("events_only"));
    assert_eq!(put_settings(&h, Some("admin"), &lowered).await.0, 200);
    let (status, body) = put_settings(&h, Some("admin"), &before).await;
    assert_eq!((status, reason(&body)), (422, Some("settings_locked")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("privacy"), "{body}");

    let longer = change(&|s| {
        s["privacy"] = json!("events_only");
        s["evidence_retention_days"] = json!(31);
    });
    assert_eq!(reason(&put_settings(&h, Some("admin"), &longer).await.1), Some("settings_locked"));
    let rescored = change(&|s| {
        s["privacy"] = json!("events_only");
        s["scoring"]["alert_at"] = json!(100.0);
    });
    assert_eq!(reason(&put_settings(&h, Some("admin"), &rescored).await.1), Some("settings_locked"));
    let moved = change(&|s| {
        s["privacy"] = json!("events_only");
        s["window"]["opens_at"] = json!(T0);
    });
    assert_eq!(reason(&put_settings(&h, Some("admin"), &moved).await.1), Some("settings_locked"));
    // Nothing refused was stored.
    assert_eq!(current(&h).await, lowered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_refused_with_a_reason() {
    let h = Harness::start(&["ada"]).await;
    let before = current(&h).await;
    let with = |path: &[&str], v: Value| {
        let mut s = before.clone();
        let mut at = &mut s;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = v;
        s
    };
    for (bad, why) in [
        (with(&["window", "closes_at"], before["window"]["opens_at"].clone()), "window closes at its opening"),
        (with(&["assessment_url"], json!("javascript:alert(1)")), "not an http URL"),
        (with(&["stall_after_s"], json!(0)), "no stall threshold"),
        (with(&["unknown"], json!(1)), "an unknown field"),
        (with(&["privacy"], json!("everything")), "an unknown tier"),
        (json!("settings"), "not an object"),
    ] {
        let (status, body) = put_settings(&h, Some("admin"), &bad).await;
        assert_eq!((status, reason(&body)), (422, Some("invalid_payload")), "{why}: {body}");
    }
    let huge = with(&["assessment_url"], json!(format!("https://lms.example.edu/{}", "a".repeat(70_000))));
    let (status, body) = put_settings(&h, Some("admin"), &huge).await;
    assert_eq!((status, reason(&body)), (413, Some("too_large")), "{body}");
    let (status, body) = {
        let res = reqwest::Client::new()
            .put(format!("{}/api/v1/exams/no-such-exam/settings", h.base))
            .bearer_auth("admin")
            .json(&before)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    assert_eq!((status, reason(&body)), (404, Some("unknown_exam")), "{body}");
    assert_eq!(current(&h).await, before, "nothing refused was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_changes_are_rate_limited_per_exam() {
    let h = Harness::start(&["ada"]).await;
    let before = current(&h).await;
    let closes = before["window"]["closes_at"].as_i64().unwrap();
    for i in 1..=10 {
        let mut s = before.clone();
        s["window"]["closes_at"] = json!(closes + i * 60_000);
        assert_eq!(put_settings(&h, Some("admin"), &s).await.0, 200, "change {i}");
    }
    let (status, body) = put_settings(&h, Some("admin"), &before).await;
    assert_eq!((status, reason(&body)), (429, Some("rate_limited")), "{body}");
    assert!(body["error"]["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{body}");
    // The budget refills on the server's clock.
    h.advance(5_000);
    assert_eq!(put_settings(&h, Some("admin"), &before).await.0, 200);
}
