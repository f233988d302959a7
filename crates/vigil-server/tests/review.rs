//! After the exam: the review queue ranks from the store, readings and
//! decisions are kept with who and when (every version), a stale decision
//! is refused, everything looked at is audited, and only the exam's
//! proctors see any of it.

mod common;

use common::Harness;
use serde_json::{Value, json};
use vigil_proto::Role;
use vigil_proto::events::names;

async fn get(h: &Harness, path: &str, token: &str) -> (u16, Value) {
    h.call(reqwest::Method::GET, &format!("/exams/{}{path}", h.exam), Some(token), None).await
}

async fn put(h: &Harness, path: &str, token: &str, body: Value) -> (u16, Value) {
    h.call(reqwest::Method::PUT, &format!("/exams/{}{path}", h.exam), Some(token), Some(&body)).await
}

fn order(queue: &Value) -> Vec<&str> {
    queue["students"].as_array().unwrap().iter().map(|r| r["student"]["id"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_rank_read_and_decide_from_the_store() {
    let h = Harness::start(&["ada", "bob", "cyd"]).await;
    let t = h.now();
    let ada = h.student("ada").await;
    for (id, seq, kind) in [("a-1", 1, "multiple_faces"), ("a-2", 2, "tab_hidden")] {
        let ack = ada
            .request(names::INCIDENT, common::incident(id, seq, kind, t - 60_000 + i64::from(seq as u8) * 1_000))
            .await;
        assert_eq!(ack["status"], json!("accepted"), "{ack}");
    }
    ada.request(names::CHAT, json!({ "id": "q-1", "text": "My camera froze" })).await;
    let bob = h.student("bob").await;
    bob.request(names::INCIDENT, common::incident("b-1", 1, "window_blur", t - 30_000)).await;
    let pat = h.token(Role::Proctor, "pat").await;

    let (status, queue) = get(&h, "/review", &pat).await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(order(&queue), ["ada", "bob", "cyd"]);
    assert_eq!(queue["decided"], json!(0));
    let top = &queue["students"][0];
    assert_eq!((top["incident_count"].as_u64(), top["unreviewed"].as_u64()), (Some(2), Some(2)));
    assert_eq!(top["counts"], json!({ "multiple_faces": 1, "tab_hidden": 1 }));
    assert_eq!(top["peak_score"].as_f64().map(|s| s > 7.9), Some(true), "{top}");

    // Ada's whole record, recomputed from the store.
    let (status, record) = get(&h, "/students/ada/review", &pat).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["incidents"].as_array().unwrap().len(), 2);
    assert_eq!(record["score_curve"].as_array().unwrap().len(), 2);
    assert_eq!(record["score_curve"][0]["score"], json!(5.0));
    assert_eq!(record["chat"][0]["text"], json!("My camera froze"));
    assert_eq!(record["decisions"], json!([]));

    // A reading: the multiple faces were a poster behind her.
    let (status, read) =
        put(&h, "/students/ada/incidents/a-1/review", &pat, json!({ "verdict": "dismissed", "note": "A poster" }))
            .await;
    assert_eq!((status, read["reviewer"].as_str()), (200, Some("pat")), "{read}");
    let (status, body) = put(&h, "/students/ada/incidents/nope/review", &pat, json!({ "verdict": "confirmed" })).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (404, Some("unknown_incident")));
    let (_, after) = get(&h, "/students/ada/review", &pat).await;
    assert_eq!(
        (after["incident_count"].as_u64(), after["unreviewed"].as_u64()),
        (Some(1), Some(1)),
        "dismissed no longer counts"
    );
    assert_eq!(after["score_curve"].as_array().unwrap().len(), 1);

    // Decisions: a note is required; versions are kept; a stale one is refused.
    let (status, body) =
        put(&h, "/students/ada/decision", &pat, json!({ "verdict": "concern", "note": " ", "based_on": 0 })).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (422, Some("invalid_payload")));
    let (status, first) =
        put(&h, "/students/ada/decision", &pat, json!({ "verdict": "concern", "note": "Left the tab", "based_on": 0 }))
            .await;
    assert_eq!((status, first["version"].as_u64()), (200, Some(1)), "{first}");
    h.admin(reqwest::Method::POST, &format!("/exams/{}/proctors", h.exam), json!({ "id": "quinn", "name": "Quinn" }))
        .await;
    let quinn = h.token(Role::Proctor, "quinn").await;
    let (status, stale) =
        put(&h, "/students/ada/decision", &quinn, json!({ "verdict": "violation", "note": "Cheated", "based_on": 0 }))
            .await;
    assert_eq!((status, stale["error"]["reason"].as_str()), (409, Some("stale_transition")), "{stale}");
    let (status, second) = put(
        &h,
        "/students/ada/decision",
        &quinn,
        json!({ "verdict": "no_concern", "note": "Checked with the invigilator", "based_on": 1 }),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        (second["version"].as_u64(), second["previous"].as_str(), second["reviewer"].as_str()),
        (Some(2), Some("concern"), Some("quinn"))
    );
    let (_, queue) = get(&h, "/review", &pat).await;
    assert_eq!(queue["decided"], json!(1));
    assert_eq!(
        queue["students"].as_array().unwrap().iter().find(|r| r["student"]["id"] == "ada").unwrap()["decision"]["version"],
        json!(2)
    );
    let (_, record) = get(&h, "/students/ada/review", &pat).await;
    let verdicts: Vec<&str> =
        record["decisions"].as_array().unwrap().iter().map(|d| d["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["concern", "no_concern"]);

    // What was looked at and changed is in the audit log, for the admin only.
    let (status, audit) = h.call(reqwest::Method::GET, &format!("/exams/{}/audit", h.exam), Some("admin"), None).await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<(&str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("proctor:pat", "view_record"),
            ("proctor:pat", "review_incident"),
            ("proctor:pat", "view_record"),
            ("proctor:pat", "decide"),
            ("proctor:quinn", "decide"),
            ("proctor:pat", "view_record"),
        ]
    );
    let (status, _) = h.call(reqwest::Method::GET, &format!("/exams/{}/audit", h.exam), Some(&pat), None).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_exams_proctors_review_and_evidence_views_are_audited() {
    let h = Harness::start(&["ada"]).await;
    h.add_exam("other", &["eve"]).await;
    let ada_token = h.token(Role::Student, "ada").await;
    let other_proctor = h.token_in("other", Role::Proctor, "pat").await;
    for path in ["/review", "/students/ada/review"] {
        let (status, body) = get(&h, path, &ada_token).await;
        assert_eq!((status, body["error"]["reason"].as_str()), (403, Some("wrong_scope")), "{path}");
        let (status, body) = get(&h, path, &other_proctor).await;
        assert_eq!((status, body["error"]["reason"].as_str()), (403, Some("forbidden")), "{path}");
    }
    let (status, body) =
        put(&h, "/students/ada/decision", &other_proctor, json!({ "verdict": "concern", "note": "x", "based_on": 0 }))
            .await;
    assert_eq!((status, body["error"]["reason"].as_str()), (403, Some("forbidden")));
    let pat = h.token(Role::Proctor, "pat").await;
    let (status, body) = get(&h, "/students/eve/review", &pat).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (404, Some("unknown_student")), "another exam's student");

    // An evidence frame looked at is audited with its hash.
    let sha = raise_with_frame(&h, &ada_token, "e-1", "frame-a.jpg").await;
    let (status, _) = get(&h, &format!("/evidence/{sha}"), &pat).await;
    assert_eq!(status, 200);
    let (_, audit) = h.call(reqwest::Method::GET, &format!("/exams/{}/audit", h.exam), Some("admin"), None).await;
    assert_eq!(audit[0]["action"], json!("view_evidence"));
    assert_eq!(audit[0]["detail"], json!(sha));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exam_exports_as_csv_and_as_a_json_archive() {
    let h = Harness::start(&["ada", "bob"]).await;
    let t = h.now();
    let ada = h.student("ada").await;
    ada.request(names::INCIDENT, common::incident("a-1", 1, "multiple_faces", t - 5_000)).await;
    ada.request(names::INCIDENT, common::incident("a-2", 2, "multiple_faces", t - 4_000)).await;
    let pat = h.token(Role::Proctor, "pat").await;
    // A name with a comma and a quote must survive the CSV.
    h.admin(
        reqwest::Method::POST,
        &format!("/exams/{}/students", h.exam),
        json!({ "id": "cyd", "name": "Doe, \"Cy\"" }),
    )
    .await;
    put(&h, "/students/ada/decision", &pat, json!({ "verdict": "violation", "note": "Two people", "based_on": 0 }))
        .await;

    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/exams/{}/export.csv", h.base, h.exam))
        .bearer_auth(&pat)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let body = res.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_ref());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..4], ["student_id", "name", "decision", "decision_version"]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!((&rows[0][0], &rows[0][col("decision")], &rows[0][col("reviewer")]), ("ada", "violation", "pat"));
    assert_eq!((&rows[0][col("multiple_faces")], &rows[0][col("incidents")]), ("2", "2"));
    let cyd = rows.iter().find(|r| &r[0] == "cyd").unwrap();
    assert_eq!((&cyd[1], &cyd[col("decision")]), ("Doe, \"Cy\"", ""));

    let (status, archive) = get(&h, "/export.json", &pat).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> =
        archive["students"].as_array().unwrap().iter().map(|s| s["student"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["ada", "bob", "cyd"]);
    assert_eq!(archive["students"][0]["incidents"].as_array().unwrap().len(), 2);
    assert_eq!(archive["students"][0]["decisions"][0]["note"], json!("Two people"));
    assert_eq!(archive["proctors"][0]["id"], json!("pat"));

    let (_, audit) = h.call(reqwest::Method::GET, &format!("/exams/{}/audit", h.exam), Some("admin"), None).await;
    let exports: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "export")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(exports, ["csv", "json"]);
    let ada_token = h.token(Role::Student, "ada").await;
    assert_eq!(get(&h, "/export.csv", &ada_token).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_reads_their_own_record_and_answers_a_decision_once() {
    let h = Harness::start(&["ada", "bob"]).await;
    let ada_token = h.token(Role::Student, "ada").await;
    let bob_token = h.token(Role::Student, "bob").await;
    let sha = raise_with_frame(&h, &ada_token, "a-1", "frame-a.jpg").await;
    let jpeg = frame_bytes("frame-a.jpg");
    let pat = h.token(Role::Proctor, "pat").await;
    let note_path = format!("/exams/{}/students/ada/accommodations", h.exam);
    h.call(reqwest::Method::PUT, &note_path, Some("admin"), Some(&json!({ "note": "Anxious; be gentle" }))).await;
    put(&h, "/students/ada/decision", &pat, json!({ "verdict": "concern", "note": "Face out of view", "based_on": 0 }))
        .await;

    let (status, record) = me(&h, &ada_token, "/me/record").await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["student"]["id"], json!("ada"));
    assert_eq!(record["incidents"][0]["evidence_sha256"], json!(sha));
    assert_eq!(record["decisions"][0]["note"], json!("Face out of view"));
    assert!(!record.to_string().contains("Anxious"), "the proctors' note never reaches the student");
    // Her own frame, and nobody else's.
    let frame = reqwest::Client::new()
        .get(format!("{}/api/v1/me/evidence/{sha}", h.base))
        .bearer_auth(&ada_token)
        .send()
        .await
        .unwrap();
    assert_eq!(frame.bytes().await.unwrap().as_ref(), jpeg.as_slice());
    let (status, body) = me(&h, &bob_token, &format!("/me/evidence/{sha}")).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (404, Some("unknown_incident")));
    let (status, bobs) = me(&h, &bob_token, "/me/record").await;
    assert_eq!((status, bobs["incidents"].as_array().map(Vec::len)), (200, Some(0)));
    assert_eq!(me(&h, &pat, "/me/record").await.0, 403, "a proctor's token is not a student's");

    // One appeal per decision version; reviewers see it.
    let (status, body) = appeal(&h, &ada_token, json!({ "decision_version": 2, "text": "?" })).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (422, Some("invalid_payload")));
    let (status, _) = appeal(&h, &ada_token, json!({ "decision_version": 1, "text": "My camera slipped" })).await;
    assert_eq!(status, 201);
    let (status, body) = appeal(&h, &ada_token, json!({ "decision_version": 1, "text": "Again" })).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (409, Some("conflicting_duplicate")));
    let (status, body) = appeal(&h, &bob_token, json!({ "decision_version": 1, "text": "Me too" })).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (422, Some("invalid_payload")), "no decision on Bob");
    let (_, review) = get(&h, "/students/ada/review", &pat).await;
    assert_eq!(review["appeals"][0]["text"], json!("My camera slipped"));
    let (_, audit) = h.call(reqwest::Method::GET, &format!("/exams/{}/audit", h.exam), Some("admin"), None).await;
    let by_ada: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "student:ada")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(by_ada, ["view_own_record", "view_evidence", "appeal"]);
}

async fn me(h: &Harness, token: &str, path: &str) -> (u16, Value) {
    h.call(reqwest::Method::GET, path, Some(token), None).await
}

async fn appeal(h: &Harness, token: &str, body: Value) -> (u16, Value) {
    h.call(reqwest::Method::POST, "/me/appeals", Some(token), Some(&body)).await
}

/// One of the project's test frames (testdata/frames).
fn frame_bytes(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/frames").join(name))
        .expect("a test frame")
}

/// A fresh connection of the student raises incident `id` (no_face, a
/// second ago) and uploads `frame` as its evidence; the frame's hash.
async fn raise_with_frame(h: &Harness, token: &str, id: &str, frame: &str) -> String {
    let conn = h.student_with(token).await;
    let t = h.now();
    let ack = conn.request(names::INCIDENT, common::incident(id, 1, "no_face", t - 1_000)).await;
    assert_eq!(ack["status"], json!("accepted"), "{ack}");
    let jpeg = frame_bytes(frame);
    let res: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/evidence/{id}", h.base))
        .bearer_auth(token)
        .header("x-vigil-captured-at", (t - 500).to_string())
        .body(jpeg)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["sha256"].as_str().unwrap_or_else(|| panic!("a stored frame: {res}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_students_data_is_exported_and_erased_on_request_and_nobody_elses() {
    let h = Harness::start(&["ada", "bob"]).await;
    let ada_token = h.token(Role::Student, "ada").await;
    let bob_token = h.token(Role::Student, "bob").await;
    let ada_frame = raise_with_frame(&h, &ada_token, "a-1", "frame-a.jpg").await;
    raise_with_frame(&h, &bob_token, "b-1", "frame-b.jpg").await;
    let ada = h.student_with(&ada_token).await;
    ada.request(names::CHAT, json!({ "id": "q-1", "text": "hello" })).await;
    let pat = h.token(Role::Proctor, "pat").await;
    put(&h, "/students/ada/decision", &pat, json!({ "verdict": "concern", "note": "n", "based_on": 0 })).await;
    get(&h, "/students/ada/review", &pat).await;

    // The access request: everything, for the admin only.
    let data = format!("/exams/{}/students/ada/data", h.exam);
    assert_eq!(h.call(reqwest::Method::GET, &data, Some(&pat), None).await.0, 401);
    let (status, export) = h.call(reqwest::Method::GET, &data, Some("admin"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (export["incidents"][0]["id"].as_str(), export["chat"][0]["text"].as_str()),
        (Some("a-1"), Some("hello"))
    );

    // The erasure request.
    let (status, erased) = h.call(reqwest::Method::DELETE, &data, Some("admin"), None).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased, json!({ "incidents": 1, "evidence_frames": 1, "chat_messages": 1, "identity_photos": 0 }));
    let roster = h.admin(reqwest::Method::GET, &format!("/exams/{}", h.exam), Value::Null).await;
    let ids: Vec<&str> = roster["students"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["bob"]);
    assert_eq!(get(&h, &format!("/evidence/{ada_frame}"), &pat).await.0, 404, "the frame is gone");
    let (status, body) = get(&h, "/students/ada/review", &pat).await;
    assert_eq!((status, body["error"]["reason"].as_str()), (404, Some("unknown_student")));
    let refused = vigil_load::sio::SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": ada_token })).await;
    assert!(refused.expect_err("not on the roster any more").to_string().contains("unknown_student"));
    // Bob's record is whole; the audit log no longer names Ada.
    let (_, bobs) = get(&h, "/students/bob/review", &pat).await;
    assert_eq!(bobs["incidents"][0]["evidence_sha256"].as_str().map(str::len), Some(64));
    let (_, audit) = h.call(reqwest::Method::GET, &format!("/exams/{}/audit", h.exam), Some("admin"), None).await;
    assert!(!audit.to_string().contains("ada"), "{audit}");
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "erase_student"));
    let (status, again) = h.call(reqwest::Method::DELETE, &data, Some("admin"), None).await;
    assert_eq!((status, again["error"]["reason"].as_str()), (404, Some("unknown_student")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_still_queued_for_an_erased_student_writes_nothing() {
    let h = Harness::start(&["ada"]).await;
    // Ada's connection as the server holds it, from before the erasure:
    // what a message still queued on her socket would be processed with.
    let rt = h.service.exams().get(&h.exam).await.unwrap().expect("the exam");
    let cell = h.service.exams().student(&rt, &"ada".parse().unwrap()).await.unwrap().expect("ada").cell;
    let queued = h.service.session_for(rt, cell);
    let data = format!("/exams/{}/students/ada/data", h.exam);
    assert_eq!(h.call(reqwest::Method::DELETE, &data, Some("admin"), None).await.0, 200);

    let report = serde_json::from_value(common::incident("late", 1, "no_face", h.now() - 1_000)).unwrap();
    let ack = serde_json::to_value(h.service.report_incident(&queued, report).await).unwrap();
    assert_eq!(ack["reason"], json!("unknown_student"), "{ack}");
    let chat = serde_json::from_value(json!({ "id": "q-1", "text": "still here?" })).unwrap();
    let ack = serde_json::to_value(h.service.student_chat(&queued, chat).await).unwrap();
    assert_eq!(ack["reason"], json!("unknown_student"), "{ack}");
    let start =
        serde_json::to_value(h.service.student_session(&queued, vigil_core::session::Change::Start).await).unwrap();
    assert_eq!(start["reason"], json!("unknown_student"), "{start}");
    assert_eq!(h.service.store().student_incidents(&h.exam, &"ada".parse().unwrap()).await.unwrap(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_an_exams_personal_data_and_nothing_else() {
    let h = Harness::start(&["ada"]).await;
    // A short exam kept for no days after it closes, beside the long one.
    let now = h.now();
    let mut settings =
        h.admin(reqwest::Method::GET, &format!("/exams/{}", h.exam), Value::Null).await["exam"]["settings"].clone();
    settings["window"] = json!({ "opens_at": now - 3_600_000, "closes_at": now + 60_000 });
    settings["evidence_retention_days"] = json!(0);
    h.admin(reqwest::Method::POST, "/exams", json!({ "id": "short", "title": "Quiz", "settings": settings })).await;
    h.admin(reqwest::Method::POST, "/exams/short/students", json!({ "id": "cyd", "name": "Cyd" })).await;
    h.admin(reqwest::Method::POST, "/exams/short/proctors", json!({ "id": "pat", "name": "Pat" })).await;
    let cyd_token = h.token_in("short", Role::Student, "cyd").await;
    let cyd_frame = raise_with_frame(&h, &cyd_token, "c-1", "frame-a.jpg").await;
    let cyd = h.student_with(&cyd_token).await;
    cyd.request(names::CHAT, json!({ "id": "q-1", "text": "hi" })).await;
    drop(cyd);
    let ada_token = h.token(Role::Student, "ada").await;
    let ada_frame = raise_with_frame(&h, &ada_token, "a-1", "frame-a.jpg").await;

    // Past the short exam's end: the hourly job purges it.
    h.advance(2 * 3_600_000);
    let mut purged = false;
    for _ in 0..200 {
        let roster = h.admin(reqwest::Method::GET, "/exams/short", Value::Null).await;
        if roster["students"].as_array().is_some_and(Vec::is_empty) {
            purged = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(purged, "the short exam's students were not purged");
    let (status, _) = h.call(reqwest::Method::GET, "/exams/short/audit", Some("admin"), None).await;
    assert_eq!(status, 200, "the exam itself and its audit log stay");
    // The exam is long over: a fresh link, as an administrator would issue.
    let link = json!({ "role": "proctor", "subject": "pat", "ttl_s": 3_600 });
    let short_proctor =
        h.admin(reqwest::Method::POST, "/exams/short/links", link).await["token"].as_str().unwrap().to_owned();
    let (status, _) =
        h.call(reqwest::Method::GET, &format!("/exams/short/evidence/{cyd_frame}"), Some(&short_proctor), None).await;
    assert_eq!(status, 404, "the short exam's frame is gone");
    let (_, queue) = h.call(reqwest::Method::GET, "/exams/short/review", Some(&short_proctor), None).await;
    assert_eq!(queue["students"], json!([]));
    // The long exam is untouched: its student, incident and frame are there.
    let pat = h.token(Role::Proctor, "pat").await;
    let (_, record) = get(&h, "/students/ada/review", &pat).await;
    assert_eq!(record["incidents"][0]["evidence_sha256"], json!(ada_frame));
    assert_eq!(get(&h, &format!("/evidence/{ada_frame}"), &pat).await.0, 200);
}

/// Runs a poppler tool (Debian's poppler-utils, which scripts/test installs).
fn poppler(tool: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils) is needed to read the PDF: {e}"));
    assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_student_report_is_a_pdf_that_reads_back() {
    let h = Harness::start(&["ada"]).await;
    h.admin(reqwest::Method::POST, &format!("/exams/{}/students", h.exam), json!({ "id": "zoe", "name": "Zoë Ng" }))
        .await;
    let token = h.token(Role::Student, "zoe").await;
    raise_with_frame(&h, &token, "z-1", "frame-a.jpg").await;
    let zoe = h.student_with(&token).await;
    zoe.request(names::INCIDENT, common::incident("z-2", 2, "tab_hidden", h.now() - 500)).await;
    zoe.request(names::CHAT, json!({ "id": "q-1", "text": "Is the calculator allowed?" })).await;
    let pat = h.token(Role::Proctor, "pat").await;
    put(&h, "/students/zoe/incidents/z-2/review", &pat, json!({ "verdict": "confirmed", "note": "Left twice" })).await;
    put(
        &h,
        "/students/zoe/decision",
        &pat,
        json!({ "verdict": "concern", "note": "Tab left; Łukasz, Ольга and Δήμητρα saw it (李)", "based_on": 0 }),
    )
    .await;

    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/exams/{}/students/zoe/report.pdf", h.base, h.exam))
        .bearer_auth(&pat)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let path = file.to_str().unwrap();
    let text = poppler("pdftotext", &["-layout", path, "-"]);
    for expected in [
        "Proctoring review report",
        "Student: Zoë Ng (zoe)",
        "concern (version 1, by pat",
        // Scripts beyond Latin-1 print and copy out as written; a character
        // the embedded face lacks reads as U+FFFD.
        "Tab left; Łukasz, Ольга and Δήμητρα saw it (\u{fffd})",
        "no_face",
        "tab_hidden",
        "confirmed by pat: Left twice",
        "student: Is the calculator allowed?",
    ] {
        assert!(text.contains(expected), "{expected:?} not in the report:\n{text}");
    }
    // The evidence frame is in it, as a thumbnail.
    if let Ok(keep) = std::env::var("VIGIL_KEEP_REPORT") {
        std::fs::copy(&file, keep).unwrap();
    }
    let images = poppler("pdfimages", &["-list", path]);
    assert_eq!(images.lines().skip(2).count(), 1, "{images}");
    // The text face is embedded, and as a subset, not the whole face.
    let fonts = poppler("pdffonts", &[path]);
    assert!(
        fonts.lines().skip(2).all(|f| f.contains("+DejaVuSans") && f.contains("CID TrueType") && f.contains("yes yes")),
        "{fonts}"
    );
    assert!(pdf.len() < 200_000, "{} bytes", pdf.len());
    let ada = h.token(Role::Student, "ada").await;
    assert_eq!(get(&h, "/students/zoe/report.pdf", &ada).await.0, 403);
}
