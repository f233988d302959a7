//! The server end to end over its real protocol, on simulated time.
//!
//! Negative checks never sleep: each waits for a later event that proves the
//! message in question was processed, then looks at what came before it.

mod common;

use common::{Harness, T0, incident};
use serde_json::{Value, json};
use vigil_proto::Role;
use vigil_proto::events::names;

fn scores(events: &[(String, Value)]) -> Vec<&Value> {
    events.iter().filter(|(n, _)| n == names::SCORE).map(|(_, v)| v).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn score_updates_have_a_leading_and_a_trailing_edge() {
    let mut h = Harness::start(&["ada"]).await;
    let mut proctor = h.proctor().await;
    let student = h.student("ada").await;

    let ack = student.request(names::INCIDENT, incident("a", 1, "no_face", T0)).await;
    assert_eq!(ack["status"], "accepted");
    // Leading edge: the first change goes out at once, before time moves.
    let (first, _) = proctor.next_named(names::SCORE).await;
    assert_eq!((first["student_id"].as_str(), first["seq"].as_u64()), (Some("ada"), Some(1)));

    // Within the interval: held back. The incident notice for "b" is sent
    // after its score would have been, so it proves "b" was processed.
    let ack = student.request(names::INCIDENT, incident("b", 2, "tab_hidden", T0)).await;
    assert_eq!(ack["status"], "accepted");
    let (_, before) =
        proctor.next_matching("incident notice for b", |n, v| n == names::INCIDENT_NOTICE && v["id"] == "b").await;
    assert!(scores(&before).is_empty(), "a second score inside the interval: {before:?}");

    // Trailing edge: due 100 ms after the first emission, carrying the latest.
    h.advance(99);
    let ack = student.request(names::INCIDENT, incident("c", 3, "copy_paste", T0 + 99)).await;
    assert_eq!(ack["status"], "accepted");
    let (_, before) =
        proctor.next_matching("incident notice for c", |n, v| n == names::INCIDENT_NOTICE && v["id"] == "c").await;
    assert!(scores(&before).is_empty(), "the trailing edge fired early: {before:?}");
    h.advance(1);
    let (trailing, _) = proctor.next_named(names::SCORE).await;
    assert_eq!(trailing["seq"].as_u64(), Some(3), "latest wins");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_heartbeats_become_a_stall_and_a_server_incident() {
    let mut h = Harness::start(&["ada", "bo"]).await;
    let mut proctor = h.proctor().await;
    let ada = h.student("ada").await;
    let bo = h.student("bo").await;
    // Bo keeps beating; Ada goes silent.
    for step in 0..5 {
        h.advance(2_000);
        let beat = json!({ "at": T0 + 2_000 * (step + 1), "inference_fps": 10.0, "worker_ok": true, "worker_restarts": 0, "camera_live": true });
        bo.client.emit(names::HEARTBEAT, &beat).expect("sent");
        // A signal round trip is not acknowledged, so prove the heartbeat was
        // handled with an acknowledged request on the same socket after it.
        bo.request(names::INCIDENT_END, json!({ "id": "none", "seq": step as u64 + 1, "ended_at": T0 })).await;
    }
    h.advance(250);
    let (stall, _) = proctor
        .next_matching("ada stalled", |n, v| {
            n == names::PRESENCE && v["student_id"] == "ada" && v["presence"] == "stalled"
        })
        .await;
    assert_eq!(stall["presence"], "stalled");
    let (lost, before) = proctor
        .next_matching("heartbeat_lost", |n, v| n == names::INCIDENT_NOTICE && v["kind"] == "heartbeat_lost")
        .await;
    assert_eq!(lost["student_id"], "ada");
    assert_eq!(lost["source"], "server");
    let id = lost["id"].as_str().expect("an id");
    assert!(id.starts_with("srv-heartbeat_lost-") && id.len() > "srv-heartbeat_lost-".len() + 8, "{id}");
    let bo_stalled = before.iter().any(|(n, v)| n == names::PRESENCE && v["student_id"] == "bo");
    assert!(!bo_stalled, "bo beat in time");
    drop((ada, bo));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn students_cannot_touch_server_incidents() {
    let mut h = Harness::start(&["ada"]).await;
    let student = h.student("ada").await;
    let forged = student.request(names::INCIDENT, incident("srv-heartbeat_lost-1", 1, "no_face", T0)).await;
    assert_eq!((forged["status"].as_str(), forged["reason"].as_str()), (Some("rejected"), Some("invalid_payload")));
    let end = student.request(names::INCIDENT_END, json!({ "id": "srv-x", "seq": 2, "ended_at": T0 })).await;
    assert_eq!(end["reason"], "invalid_payload");
    // A seq that cannot be stored is the client's error, not a retry forever.
    let huge = student.request(names::INCIDENT, incident("a", 1 << 63, "no_face", T0)).await;
    assert_eq!(huge["reason"], "invalid_payload");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_an_older_incident_is_announced_too() {
    let mut h = Harness::start(&["ada"]).await;
    let mut proctor = h.proctor().await;
    let student = h.student("ada").await;
    student.request(names::INCIDENT, incident("old", 1, "no_face", T0)).await;
    h.advance(1_000);
    student.request(names::INCIDENT, incident("new", 2, "tab_hidden", T0 + 1_000)).await;
    let ack = student.request(names::INCIDENT_END, json!({ "id": "old", "seq": 3, "ended_at": T0 + 500 })).await;
    assert_eq!(ack["status"], "accepted");
    let (ended, _) = proctor
        .next_matching("old ended", |n, v| {
            n == names::INCIDENT_NOTICE && v["id"] == "old" && v.get("ended_at").is_some()
        })
        .await;
    assert_eq!(ended["ended_at"].as_i64(), Some(T0 + 500));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_ignored_and_unknown_kinds_refused() {
    let mut h = Harness::start(&["ada"]).await;
    let student = h.student("ada").await;
    let mut newer = incident("a", 1, "no_face", T0);
    newer["added_in_a_later_version"] = json!({ "x": 1 });
    assert_eq!(student.request(names::INCIDENT, newer).await["status"], "accepted");
    let unknown = student.request(names::INCIDENT, incident("b", 2, "levitating", T0)).await;
    assert_eq!(unknown["reason"], "invalid_payload");
    let bad_id = student.request(names::INCIDENT, incident("b:c", 3, "no_face", T0)).await;
    assert_eq!(bad_id["reason"], "invalid_payload");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_worker_behind_live_heartbeats_is_raised_by_the_server() {
    let mut h = Harness::start(&["ada"]).await;
    let mut proctor = h.proctor().await;
    let student = h.student("ada").await;
    // Loading models is not a stall: watching starts once the worker ran.
    let loading =
        json!({ "at": T0, "inference_fps": 0.0, "worker_ok": false, "worker_restarts": 0, "camera_live": true });
    student.client.emit(names::HEARTBEAT, &loading).expect("sent");
    let running =
        json!({ "at": T0, "inference_fps": 12.0, "worker_ok": true, "worker_restarts": 0, "camera_live": true });
    student.client.emit(names::HEARTBEAT, &running).expect("sent");
    let killed =
        json!({ "at": T0, "inference_fps": 0.0, "worker_ok": false, "worker_restarts": 3, "camera_live": true });
    student.client.emit(names::HEARTBEAT, &killed).expect("sent");
    let (found, _) = proctor
        .next_matching("worker_stalled", |n, v| n == names::INCIDENT_NOTICE && v["kind"] == "worker_stalled")
        .await;
    assert_eq!((found["student_id"].as_str(), found["source"].as_str()), (Some("ada"), Some("server")));
    assert!(
        found["detail"].as_str().is_some_and(|d| d.contains("3 restarts")),
        "raised for the killed worker, not the loading one: {found}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proctor_actions_reach_the_student() {
    let mut h = Harness::start(&["ada", "bo"]).await;
    let proctor = h.proctor().await;
    let mut ada = h.student("ada").await;
    let ack =
        proctor.request(names::ACTION, json!({ "student_id": "ada", "kind": "warn", "text": "eyes on screen" })).await;
    assert_eq!(ack["status"], "ok");
    let (action, _) = ada.next_named(names::PROCTOR_ACTION).await;
    assert_eq!((action["kind"].as_str(), action["text"].as_str()), (Some("warn"), Some("eyes on screen")));
    assert_eq!(action["at"].as_i64(), Some(h.now()));
    let long = "x".repeat(1_001);
    let ack = proctor.request(names::ACTION, json!({ "student_id": "ada", "kind": "message", "text": long })).await;
    assert_eq!(ack["reason"], "invalid_payload");
    let ack = proctor.request(names::ACTION, json!({ "student_id": "zed", "kind": "warn" })).await;
    assert_eq!(ack["reason"], "unknown_student");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_replays_scores_and_sequence_numbers() {
    let mut h = Harness::start(&["ada"]).await;
    let student = h.student("ada").await;
    for (i, kind) in ["no_face", "tab_hidden", "copy_paste"].iter().enumerate() {
        let ack = student.request(names::INCIDENT, incident(&format!("i{i}"), i as u64 + 10, kind, T0)).await;
        assert_eq!(ack["status"], "accepted");
    }
    let proctor = h.proctor().await;
    let before = proctor.request(names::SNAPSHOT, Value::Null).await;
    drop((student, proctor));
    h.stop().await;

    let mut again = Harness::start_in(h.data_dir.clone(), h.clock.clone()).await;
    again.exam = h.exam.clone();
    let proctor = again.proctor().await;
    let after = proctor.request(names::SNAPSHOT, Value::Null).await;
    for key in ["score", "last_incident"] {
        assert_eq!(before["students"][0][key], after["students"][0][key], "{key} after a restart");
    }
    assert_eq!(after["students"][0]["score"]["seq"].as_u64(), Some(3));
    let token = again.token(Role::Student, "ada").await;
    let (client, mut events) =
        vigil_load::sio::SioClient::connect(&again.base, names::STUDENT_NS, &json!({ "token": token })).await.unwrap();
    let (name, welcome) = events.recv().await.expect("a welcome");
    assert_eq!((name.as_str(), welcome["next_seq"].as_u64()), (names::WELCOME, Some(13)));
    let replay = client.emit_with_ack(names::INCIDENT, &incident("i0", 10, "no_face", T0), common::PATIENCE).await;
    assert_eq!(replay.unwrap()["status"], "duplicate");
    drop(client);
    again.stop().await;
    drop(h);
}
