//! An exam's own assessment (an LMS quiz in the student page's exam frame):
//! its URL travels in the settings every student gets; its access code is
//! kept apart and told to a student of the exam only while proctored.

mod common;

use common::Harness;
use serde_json::{Value, json};
use vigil_proto::Role;

async fn put_code(h: &Harness, exam: &str, token: &str, body: Value) -> u16 {
    h.call(reqwest::Method::PUT, &format!("/exams/{exam}/access-code"), Some(token), Some(&body)).await.0
}

async fn ask_code(h: &Harness, token: &str) -> (u16, Value) {
    h.call(reqwest::Method::POST, "/access-code", Some(token), None).await
}

async fn create_exam(h: &Harness, id: &str, assessment_url: &str) -> (u16, Value) {
    let roster: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/exams/{}", h.base, h.exam))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut settings = roster["exam"]["settings"].clone();
    settings["assessment_url"] = json!(assessment_url);
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/exams", h.base))
        .bearer_auth("admin")
        .json(&json!({ "id": id, "title": "Quiz", "settings": settings }))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_code_is_told_only_to_a_student_of_the_exam() {
    let h = Harness::start(&["ada"]).await;
    h.add_exam("exam-2", &["bo"]).await;
    let ada = h.token(Role::Student, "ada").await;
    let bo = h.token_in("exam-2", Role::Student, "bo").await;

    // The URL: http(s) only, and every student of the exam gets it.
    let (status, body) = create_exam(&h, "quiz-bad", "javascript:alert(1)").await;
    assert_eq!((status, body["error"]["reason"].as_str()), (422, Some("invalid_payload")), "{body}");
    let (status, body) = create_exam(&h, "quiz", "https://lms.example.edu/mod/quiz/view.php?id=7").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["settings"]["assessment_url"], json!("https://lms.example.edu/mod/quiz/view.php?id=7"));

    // No code yet.
    let (status, body) = ask_code(&h, &ada).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (404, Some("no_access_code")), "{body}");
    // Only the admin (or an instructor, tests/settings.rs) sets it, on an
    // exam that exists, to something sensible.
    assert_eq!(put_code(&h, "exam-1", &ada, json!({ "code": "x" })).await, 403);
    assert_eq!(put_code(&h, "nope", "admin", json!({ "code": "x" })).await, 404);
    assert_eq!(put_code(&h, "exam-1", "admin", json!({ "code": "  " })).await, 422);
    assert_eq!(put_code(&h, "exam-1", "admin", json!({ "code": "a\u{7}b" })).await, 422);
    assert_eq!(put_code(&h, "exam-1", "admin", json!({ "code": "x".repeat(65) })).await, 422);
    assert_eq!(put_code(&h, "exam-1", "admin", json!({ "code": "x", "extra": 1 })).await, 422);
    assert_eq!(put_code(&h, "exam-1", "admin", json!({ "code": " tulip-42 " })).await, 204);

    // The exam's student gets it (no live video on this server); another
    // exam's student does not, nor does anyone without a token.
    let (status, body) = ask_code(&h, &ada).await;
    assert_eq!((status, body), (200, json!({ "code": "tulip-42" })));
    let (status, body) = ask_code(&h, &bo).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (404, Some("no_access_code")), "{body}");
    let res = reqwest::Client::new().post(format!("{}/api/v1/access-code", h.base)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // Replaced, not added.
    assert_eq!(put_code(&h, "exam-1", "admin", json!({ "code": "rose-7" })).await, 204);
    assert_eq!(ask_code(&h, &ada).await.1, json!({ "code": "rose-7" }));
}

/// With live video on, the code waits for the student's camera.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_video_on_the_code_waits_for_the_camera() {
    let h = Harness::start_configured(&["ada"], |c| c.udp = Some("127.0.0.1:0".parse().unwrap())).await;
    assert_eq!(put_code(&h, "exam-1", "admin", json!({ "code": "tulip-42" })).await, 204);
    let ada = h.token(Role::Student, "ada").await;
    let _page = h.student_with(&ada).await;
    let (status, body) = ask_code(&h, &ada).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (422, Some("not_publishing")), "{body}");
}
