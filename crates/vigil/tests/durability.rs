//! Nothing acknowledged is lost, on whichever database the server runs
//! (SQLite, or PostgreSQL with `VIGIL_TEST_DATABASE`: scripts/test runs
//! this both ways): `kill -9` after acks, restart, and every acknowledged
//! incident counts; a page's resend after the restart is a duplicate.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{VIGIL, now_ms, run, seq_of, serve, snapshot, token_of};
use serde_json::{Value, json};
use vigil_load::sio::SioClient;

const STUDENTS: [&str; 3] = ["s1", "s2", "s3"];
const EACH: u64 = 12;

fn incident(student: &str, seq: u64, at: i64) -> Value {
    let kind = if seq.is_multiple_of(2) { "tab_hidden" } else { "looking_away" };
    json!({ "id": format!("{student}-{seq}"), "seq": seq, "kind": kind, "started_at": at, "confidence": 0.9 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_acks_loses_nothing_and_resends_are_duplicates() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let database = match vigil_store::testing::database_for(dir.path()).await {
        vigil_store::DatabaseLocation::Postgres(url) => url,
        vigil_store::DatabaseLocation::Sqlite => "sqlite".to_owned(),
    };
    let cmd = || {
        let mut c = Command::new(VIGIL);
        c.env("VIGIL_DATA_DIR", dir.path()).env("VIGIL_DATABASE", &database);
        c
    };
    run(cmd(), &["exam", "create", "--id", "e1", "--title", "Algebra"]);
    run(cmd(), &["proctor", "add", "--exam", "e1", "--id", "p1", "--name", "Pat"]);
    let proctor = token_of(&run(cmd(), &["link", "--exam", "e1", "--proctor", "p1"]));
    let mut tokens = Vec::new();
    for s in STUDENTS {
        run(cmd(), &["student", "add", "--exam", "e1", "--id", s, "--name", s]);
        tokens.push(token_of(&run(cmd(), &["link", "--exam", "e1", "--student", s])));
    }

    let mut server = serve(cmd());
    let url = server.url.clone();
    let start = now_ms();
    // All students at once, so that group commits hold several students' writes.
    let sends = STUDENTS.iter().zip(&tokens).map(|(student, token)| {
        let url = url.clone();
        async move {
            let (conn, _events) =
                SioClient::connect(&url, "/student", &json!({ "token": token })).await.expect("a student");
            let mut accepted = 0;
            for seq in 1..=EACH {
                let ack = conn
                    .emit_with_ack("incident", &incident(student, seq, start + seq as i64), Duration::from_secs(10))
                    .await
                    .expect("an ack");
                assert_eq!(ack["status"], "accepted", "{ack}");
                accepted += 1;
            }
            accepted
        }
    });
    let accepted: Vec<u64> = futures::future::join_all(sends).await;
    assert_eq!(accepted, [EACH; 3]);

    // kill -9: no shutdown, no flush.
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("it died");
    drop(server);
    let server = serve(cmd());
    let after = snapshot(&server.url, &proctor).await;
    for s in STUDENTS {
        assert_eq!(seq_of(&after, s), EACH, "{s}: every acknowledged incident counts after kill -9");
    }
    // The page's outbox resends the last one (its ack was lost, say): a duplicate, counted once.
    let (conn, _events) =
        SioClient::connect(&server.url, "/student", &json!({ "token": tokens[0] })).await.expect("a student");
    let again = conn
        .emit_with_ack("incident", &incident("s1", EACH, start + EACH as i64), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(again["status"], "duplicate", "{again}");
    assert_eq!(seq_of(&snapshot(&server.url, &proctor).await, "s1"), EACH);
}
