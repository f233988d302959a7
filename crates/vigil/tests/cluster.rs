//! Three `vigil serve` nodes sharing PostgreSQL and Redis (issue 15):
//! students on two nodes and the proctor on a third, scores and messages
//! flowing across; then `kill -9` of the node that holds the exam, and
//! nothing acknowledged is lost, clients reconnect to the survivors, their
//! resends are duplicates, and the proctor sees the exam again.
//!
//! Needs `VIGIL_TEST_DATABASE` (PostgreSQL) and `VIGIL_TEST_REDIS`, which
//! scripts/test sets (starting the services when they are not running).
//! Without them the test says so and passes: a single-node build has no
//! cluster to test.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Serving, VIGIL, now_ms, run, seq_of, serve, snapshot, token_of};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;
use vigil_load::sio::{Event, SioClient};

const ACK: Duration = Duration::from_secs(15);

fn incident(student: &str, seq: u64, at: i64) -> Value {
    json!({ "id": format!("{student}-{seq}"), "seq": seq, "kind": "looking_away", "started_at": at, "confidence": 0.9 })
}

/// The next event named `name`, skipping others; `None` when the
/// connection closed first.
async fn next_named(events: &mut UnboundedReceiver<Event>, name: &str) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some((n, v))) if n == name => return Some(v),
            Ok(Some(_)) => continue,
            Ok(None) => return None,
            Err(_) => panic!("no {name} within 30 s"),
        }
    }
}

/// Waits until the connection behind `events` is closed by the server.
async fn closed(events: &mut UnboundedReceiver<Event>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, events.recv()).await {}
    assert!(tokio::time::Instant::now() < deadline, "the server did not close the connection within 30 s");
}

/// Connects, retrying while the cluster answers `unavailable` (an exam
/// whose node died is placed again once its lease runs out).
async fn connect(url: &str, ns: &str, token: &str) -> (SioClient, UnboundedReceiver<Event>) {
    let started = Instant::now();
    loop {
        match SioClient::connect(url, ns, &json!({ "token": token })).await {
            Ok(c) => return c,
            Err(e) if started.elapsed() < Duration::from_secs(60) => {
                assert!(e.to_string().contains("unavailable"), "only `unavailable` is retried: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("could not connect to {url}{ns} within 60 s: {e}"),
        }
    }
}

/// The sum of a metric's series on one node's `/metrics`.
async fn metric(url: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics")).await.expect("metrics").text().await.expect("text");
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn report(conn: &SioClient, student: &str, seq: u64, at: i64) -> String {
    let ack = conn.emit_with_ack("incident", &incident(student, seq, at), ACK).await.expect("an ack");
    ack["status"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_an_exam_and_survive_kill_9_of_its_holder() {
    let (Ok(database), Ok(redis)) = (std::env::var("VIGIL_TEST_DATABASE"), std::env::var("VIGIL_TEST_REDIS")) else {
        eprintln!(
            "cluster test skipped: set VIGIL_TEST_DATABASE (postgres://…) and VIGIL_TEST_REDIS (scripts/test does)"
        );
        return;
    };
    assert!(database.starts_with("postgres"), "a cluster needs PostgreSQL");
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("a temp dir")).collect();
    let database = match vigil_store::testing::database_for(dirs[0].path()).await {
        vigil_store::DatabaseLocation::Postgres(url) => url,
        vigil_store::DatabaseLocation::Sqlite => unreachable!("VIGIL_TEST_DATABASE is PostgreSQL"),
    };
    // One cluster per run, so that runs sharing a Redis never hear each other.
    let cluster = format!("test{:x}", now_ms());
    let cmd = |i: usize| {
        let mut c = Command::new(VIGIL);
        c.env("VIGIL_DATA_DIR", dirs[i].path())
            .env("VIGIL_DATABASE", &database)
            .env("VIGIL_REDIS", &redis)
            .env("VIGIL_CLUSTER_NAME", &cluster);
        c
    };
    let offline = |i: usize| {
        let mut c = Command::new(VIGIL);
        c.env("VIGIL_DATA_DIR", dirs[i].path()).env("VIGIL_DATABASE", &database);
        c
    };
    run(offline(0), &["exam", "create", "--id", "e1", "--title", "Algebra"]);
    run(offline(0), &["proctor", "add", "--exam", "e1", "--id", "p1", "--name", "Pat"]);
    let mut tokens = Vec::new();
    for s in ["s1", "s2"] {
        run(offline(0), &["student", "add", "--exam", "e1", "--id", s, "--name", s]);
        tokens.push(token_of(&run(offline(0), &["link", "--exam", "e1", "--student", s])));
    }
    let proctor = token_of(&run(offline(0), &["link", "--exam", "e1", "--proctor", "p1"]));
    // Every node verifies the same tokens: one key, copied as an operator would.
    for i in 1..3 {
        std::fs::copy(dirs[0].path().join("server.key"), dirs[i].path().join("server.key")).expect("copy the key");
    }
    let mut nodes: Vec<Option<Serving>> = (0..3).map(|i| Some(serve(cmd(i)))).collect();
    let url = |nodes: &Vec<Option<Serving>>, i: usize| nodes[i].as_ref().expect("running").url.clone();
    let (a, b, c) = (url(&nodes, 0), url(&nodes, 1), url(&nodes, 2));

    // s1 first, on node A: the exam is placed there (the least loaded node,
    // and a tie stays with the node asked). s2 on B and the proctor on C
    // are relayed to A.
    let start = now_ms();
    let (s1, _s1_events) = connect(&a, "/student", &tokens[0]).await;
    let (s2, mut s2_events) = connect(&b, "/student", &tokens[1]).await;
    let (p, mut p_events) = connect(&c, "/proctor", &proctor).await;
    let snap = p.emit_with_ack("snapshot", &json!(null), ACK).await.expect("a snapshot through the relay");
    assert_eq!(snap["students"].as_array().map(Vec::len), Some(2), "{snap}");

    // Scores cross nodes both ways: s2's incident (B → A) reaches the
    // proctor (A → C through the Redis adapter).
    assert_eq!(report(&s2, "s2", 1, start + 1).await, "accepted");
    let score = loop {
        let v = next_named(&mut p_events, "score").await.expect("the proctor's connection stays up");
        if v["student_id"] == "s2" {
            break v;
        }
    };
    assert_eq!(score["seq"], 1, "{score}");
    assert_eq!(report(&s1, "s1", 1, start + 2).await, "accepted");
    // A proctor's message (C → A) reaches the student on B.
    let sent = p
        .emit_with_ack("chat", &json!({ "id": "m1", "student_id": "s2", "text": "Keep your eyes on the screen." }), ACK)
        .await
        .expect("a chat ack");
    assert_eq!(sent["status"], "accepted", "{sent}");
    let chat = next_named(&mut s2_events, "chat").await.expect("s2's connection stays up");
    assert_eq!(chat["text"], "Keep your eyes on the screen.", "{chat}");
    // HTTP on a node that does not hold the exam is forwarded to the one that does.
    assert_eq!(seq_of(&snapshot(&b, &proctor).await, "s2"), 1);
    let health: Value = reqwest::get(format!("{b}/healthz")).await.expect("healthz").json().await.expect("json");
    assert_eq!(health["checks"]["redis"]["status"], "ok", "{health}");
    // Proof of the paths taken: A holds the exam, B and C relayed to it.
    assert_eq!(metric(&a, "vigil_exams_held").await, 1.0);
    assert_eq!(metric(&b, "vigil_exams_held").await + metric(&c, "vigil_exams_held").await, 0.0);
    assert!(metric(&b, "vigil_relay_calls_total").await >= 3.0, "s2's hello, welcome and incident");
    assert!(metric(&c, "vigil_relay_calls_total").await >= 3.0, "the proctor's hello, snapshot and chat");
    assert_eq!(metric(&b, "vigil_http_forwarded_total").await, 1.0);

    let mut acked = [1u64, 1];
    for seq in 2..=5 {
        assert_eq!(report(&s1, "s1", seq, start + seq as i64 * 10).await, "accepted");
        assert_eq!(report(&s2, "s2", seq, start + seq as i64 * 10).await, "accepted");
        acked = [seq, seq];
    }

    // kill -9 the holder.
    let mut holder = nodes[0].take().expect("A runs");
    holder.child.kill().expect("SIGKILL");
    holder.child.wait().expect("it died");
    drop(holder);

    // The survivors close the sockets they relayed to A, so their clients
    // reconnect; s1 (whose node died) reconnects through the balancer to B.
    closed(&mut s2_events).await;
    closed(&mut p_events).await;
    let (s1, _s1_events) = connect(&b, "/student", &tokens[0]).await;
    let (s2, _s2_events) = connect(&b, "/student", &tokens[1]).await;
    let (p, mut p_events) = connect(&c, "/proctor", &proctor).await;

    // Every acknowledged incident is in PostgreSQL, and counts once.
    let snap = p.emit_with_ack("snapshot", &json!(null), ACK).await.expect("a snapshot after the failover");
    assert_eq!(seq_of(&snap, "s1"), acked[0], "{snap}");
    assert_eq!(seq_of(&snap, "s2"), acked[1], "{snap}");
    // The outboxes resend their last incident (its ack may have been lost): duplicates.
    assert_eq!(report(&s1, "s1", acked[0], start + acked[0] as i64 * 10).await, "duplicate");
    assert_eq!(report(&s2, "s2", acked[1], start + acked[1] as i64 * 10).await, "duplicate");
    // And the exam goes on: a new incident reaches the proctor.
    assert_eq!(report(&s2, "s2", 6, start + 60).await, "accepted");
    let score = loop {
        let v = next_named(&mut p_events, "score").await.expect("the proctor's connection stays up");
        if v["student_id"] == "s2" && v["seq"] == 6 {
            break v;
        }
    };
    assert_eq!(score["student_id"], "s2");
    assert_eq!(seq_of(&snapshot(&c, &proctor).await, "s2"), 6);
    // One survivor holds the exam now.
    assert_eq!(metric(&b, "vigil_exams_held").await + metric(&c, "vigil_exams_held").await, 1.0);
    drop(nodes);
}
