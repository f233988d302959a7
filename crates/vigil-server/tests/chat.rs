//! Chat between students and proctors: stored once whatever is resent,
//! delivered to whom it concerns, caught up after a reconnect and a
//! restart, and refused with a reason when it floods, is too long or goes
//! to someone it may not.

mod common;

use common::Harness;
use serde_json::{Value, json};
use vigil_load::sio::SioClient;
use vigil_proto::Role;
use vigil_proto::events::names;

fn say(id: &str, text: &str) -> Value {
    json!({ "id": id, "text": text })
}

async fn history(h: &Harness, student: &str, after: u64) -> Value {
    let pat = h.token(Role::Proctor, "pat").await;
    let path = format!("/exams/{}/students/{student}/chat?after={after}", h.exam);
    let (status, body) = h.call(reqwest::Method::GET, &path, Some(&pat), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn texts(history: &Value) -> Vec<&str> {
    history["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_stored_once_and_reaches_the_proctors() {
    let h = Harness::start(&["ada"]).await;
    let ada = h.student("ada").await;
    let mut proctor = h.proctor().await;

    let ack = ada.request(names::CHAT, say("q-1", "May I use a calculator?")).await;
    assert_eq!(ack["status"], json!("accepted"), "{ack}");
    let stored = ack["message"].clone();
    assert_eq!(
        (stored["seq"].as_u64(), stored["from"].as_str(), stored["student_id"].as_str()),
        (Some(1), Some("student"), Some("ada"))
    );
    let (seen, _) = proctor.next_named(names::CHAT).await;
    assert_eq!(seen, stored);

    // A resend after a lost answer is the same message; the same id with
    // other words is refused.
    let again = ada.request(names::CHAT, say("q-1", "May I use a calculator?")).await;
    assert_eq!(again, json!({ "status": "duplicate", "message": stored }));
    let other = ada.request(names::CHAT, say("q-1", "Something else")).await;
    assert_eq!(other["reason"], json!("conflicting_duplicate"), "{other}");

    for (bad, reason) in [
        (say("q-2", &"a".repeat(1_001)), "too_large"),
        (say("q-3", "  \n "), "invalid_payload"),
        (say("q-4", "bell\u{7}"), "invalid_payload"),
        (say("no spaces", "hi"), "invalid_payload"),
        (json!({ "id": "q-5" }), "invalid_payload"),
    ] {
        let ack = ada.request(names::CHAT, bad.clone()).await;
        assert_eq!(ack["reason"], json!(reason), "{bad} → {ack}");
    }
    // Markup is kept as typed: clients show it as text.
    let markup = ada.request(names::CHAT, say("q-6", "<b>help</b>")).await;
    assert_eq!(markup["message"]["text"], json!("<b>help</b>"));

    // A flood: the burst of five (two used above), then a refusal with
    // when to retry. A resend of a stored message is still answered.
    for i in 0..3 {
        let ack = ada.request(names::CHAT, say(&format!("f-{i}"), "flood")).await;
        assert_eq!(ack["status"], json!("accepted"), "{ack}");
    }
    let refused = ada.request(names::CHAT, say("f-3", "flood")).await;
    assert_eq!(refused["reason"], json!("rate_limited"), "{refused}");
    assert!(refused["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{refused}");
    assert_eq!(ada.request(names::CHAT, say("q-1", "May I use a calculator?")).await["status"], json!("duplicate"));
    h.advance(2_000);
    assert_eq!(ada.request(names::CHAT, say("f-3", "flood")).await["status"], json!("accepted"));

    // Stored exactly once each: the calculator question, the markup, four floods.
    let stored = history(&h, "ada", 0).await;
    assert_eq!(texts(&stored), ["May I use a calculator?", "<b>help</b>", "flood", "flood", "flood", "flood"]);
    assert_eq!(stored["more"], json!(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_and_announcements_reach_whom_they_concern_across_a_reconnect_and_a_restart() {
    let mut h = Harness::start(&["ada", "bob"]).await;
    let ada_token = h.token(Role::Student, "ada").await;
    let mut ada = h.student_with(&ada_token).await;
    let mut bob = h.student("bob").await;
    let proctor = h.proctor().await;

    let reply = proctor.request(names::CHAT, json!({ "id": "r-1", "student_id": "ada", "text": "Yes." })).await;
    assert_eq!(reply["status"], json!("accepted"), "{reply}");
    assert_eq!(
        (reply["message"]["from"].as_str(), reply["message"]["proctor_id"].as_str()),
        (Some("proctor"), Some("pat"))
    );
    let (got, _) = ada.next_named(names::CHAT).await;
    assert_eq!(got["text"], json!("Yes."));
    let all = proctor.request(names::CHAT, json!({ "id": "a-1", "text": "Ten minutes left" })).await;
    assert_eq!(all["status"], json!("accepted"), "{all}");
    assert!(all["message"].get("student_id").is_none(), "{all}");
    // Bob gets the announcement, and nothing of Ada's conversation came first.
    let (first_for_bob, _) = bob.next_named(names::CHAT).await;
    assert_eq!(first_for_bob["text"], json!("Ten minutes left"));
    let (_, _) = ada.next_named(names::CHAT).await;

    // Ada's page goes away; a reply arrives meanwhile. Back, she asks for
    // what came after the last message she saw and gets exactly that.
    let seen = all["message"]["seq"].as_u64().unwrap();
    drop(ada);
    let missed =
        proctor.request(names::CHAT, json!({ "id": "r-2", "student_id": "ada", "text": "Are you there?" })).await;
    assert_eq!(missed["status"], json!("accepted"));
    let ada = h.student_with(&ada_token).await;
    let caught_up = ada.request(names::CHAT_SYNC, json!({ "after": seen })).await;
    assert_eq!(texts(&caught_up), ["Are you there?"]);
    let from_start = ada.request(names::CHAT_SYNC, json!({ "after": 0 })).await;
    assert_eq!(texts(&from_start), ["Yes.", "Ten minutes left", "Are you there?"]);
    let bobs = bob.request(names::CHAT_SYNC, json!({ "after": 0 })).await;
    assert_eq!(texts(&bobs), ["Ten minutes left"], "another student's conversation is never sent");

    // Who may be written to: a student of this exam only.
    let nobody = proctor.request(names::CHAT, json!({ "id": "r-3", "student_id": "eve", "text": "hi" })).await;
    assert_eq!(nobody["reason"], json!("unknown_student"), "{nobody}");
    // Announcements have the smallest budget: three in a row, then a refusal.
    for i in 2..4 {
        let ok = proctor.request(names::CHAT, json!({ "id": format!("a-{i}"), "text": "note" })).await;
        assert_eq!(ok["status"], json!("accepted"), "{ok}");
    }
    let flood = proctor.request(names::CHAT, json!({ "id": "a-4", "text": "note" })).await;
    assert_eq!(flood["reason"], json!("rate_limited"), "{flood}");

    // A restart keeps the conversation and goes on numbering after it.
    h.stop().await;
    let h = Harness::start_in(h.data_dir.clone(), h.clock.clone()).await;
    let ada = h.student_with(&ada_token).await;
    let after_restart = ada.request(names::CHAT, say("q-9", "Thanks")).await;
    assert!(after_restart["message"]["seq"].as_u64().unwrap() > missed["message"]["seq"].as_u64().unwrap());
    assert_eq!(
        texts(&history(&h, "ada", 0).await),
        ["Yes.", "Ten minutes left", "Are you there?", "note", "note", "Thanks"]
    );
    let _ = bob.events.try_recv();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_student_is_out_of_the_conversation() {
    let h = Harness::start(&["ada"]).await;
    let token = h.token(Role::Student, "ada").await;
    let ada = h.student_with(&token).await;
    let proctor = h.proctor().await;
    let ended = proctor.request(names::ACTION, json!({ "student_id": "ada", "kind": "terminate" })).await;
    assert_eq!(ended, json!({ "status": "ok" }));
    let to_ada = proctor.request(names::CHAT, json!({ "id": "r-1", "student_id": "ada", "text": "Bye" })).await;
    assert_eq!(to_ada["reason"], json!("session_terminated"), "{to_ada}");
    let from_ada = ada.request(names::CHAT, say("q-1", "Wait")).await;
    assert_eq!(from_ada["reason"], json!("session_terminated"), "{from_ada}");
    let refused = SioClient::connect(&h.base, names::STUDENT_NS, &json!({ "token": token })).await;
    assert!(refused.expect_err("refused").to_string().contains("session_terminated"));
}
