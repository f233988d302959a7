//! Evidence on an S3-compatible bucket (`--blob-store s3://bucket/prefix`):
//! `vigil serve` keeps a student's frame in the bucket, serves it back,
//! reports the bucket in `/healthz`, and an erasure request removes it; a
//! bucket that does not answer stops the server at start, with the reason.
//!
//! The bucket test needs an S3-compatible server: `scripts/test` starts one
//! on loopback (moto, from PyPI: `scripts/s3-test-server`) and passes its
//! address in `VIGIL_TEST_S3_ENDPOINT`.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{VIGIL, now_ms, run, serve, token_of};
use serde_json::{Value, json};
use vigil_load::sio::SioClient;

const BUCKET: &str = "vigil-test";

/// `vigil` with the S3 settings an operator would export.
fn vigil_cmd(data: &std::path::Path, endpoint: &str, blob_store: &str) -> Command {
    let mut cmd = Command::new(VIGIL);
    cmd.env("VIGIL_DATA_DIR", data)
        .env("VIGIL_BLOB_STORE", blob_store)
        .env("AWS_ENDPOINT", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "vigil-test")
        .env("AWS_SECRET_ACCESS_KEY", "vigil-test")
        .env("AWS_REGION", "us-east-1");
    cmd
}

/// The keys under `prefix` in the test bucket (moto answers an unsigned ListObjectsV2).
async fn keys_under(endpoint: &str, prefix: &str) -> Vec<String> {
    let xml = reqwest::get(format!("{endpoint}/{BUCKET}?list-type=2&prefix={prefix}/"))
        .await
        .expect("the S3 server answers")
        .text()
        .await
        .expect("a listing");
    xml.split("<Key>").skip(1).filter_map(|k| k.split("</Key>").next()).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_lives_in_the_bucket_and_an_erasure_removes_it() {
    let Ok(endpoint) = std::env::var("VIGIL_TEST_S3_ENDPOINT") else {
        eprintln!("skipped: VIGIL_TEST_S3_ENDPOINT is not set (scripts/test starts an S3-compatible server)");
        return;
    };
    // The bucket (an existing one is fine), and a prefix of this run's own.
    let made = reqwest::Client::new().put(format!("{endpoint}/{BUCKET}")).send().await.expect("the S3 server answers");
    assert!(made.status().is_success() || made.status() == 409, "{}", made.status());
    let dir = tempfile::tempdir().expect("a temp dir");
    let prefix = format!("run-{}", dir.path().file_name().and_then(|n| n.to_str()).expect("a name").to_lowercase());
    let blob_store = format!("s3://{BUCKET}/{prefix}");
    let data = dir.path();
    let cmd = || vigil_cmd(data, &endpoint, &blob_store);

    run(cmd(), &["exam", "create", "--id", "e1", "--title", "Algebra"]);
    run(cmd(), &["student", "add", "--exam", "e1", "--id", "ada", "--name", "Ada"]);
    run(cmd(), &["proctor", "add", "--exam", "e1", "--id", "pat", "--name", "Pat"]);
    let proctor = token_of(&run(cmd(), &["link", "--exam", "e1", "--proctor", "pat"]));
    let token = token_of(&run(cmd(), &["link", "--exam", "e1", "--student", "ada"]));
    let token = token.as_str();
    let serving = serve(cmd());
    let url = serving.url.clone();

    // As a container's health check asks it.
    let checked = Command::new(VIGIL).args(["health", "--url", &format!("{url}/healthz")]).output().unwrap();
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    let health: Value = serde_json::from_slice(&checked.stdout).expect("the health answer");
    assert_eq!(health["checks"]["blob_store"], json!({ "status": "ok", "kind": "s3" }), "{health}");

    // A student raises an incident and uploads its frame.
    let (student, _events) = SioClient::connect(&url, "/student", &json!({ "token": token })).await.expect("a student");
    let now = now_ms();
    let incident = json!({ "id": "a-1", "seq": 1, "kind": "no_face", "started_at": now - 100, "confidence": 0.9 });
    let ack = student.emit_with_ack("incident", &incident, Duration::from_secs(10)).await.expect("an ack");
    assert_eq!(ack["status"], "accepted", "{ack}");
    let frame = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/frames/frame-a.jpg")).unwrap();
    let stored: Value = reqwest::Client::new()
        .post(format!("{url}/api/v1/evidence/a-1"))
        .bearer_auth(token)
        .header("x-vigil-captured-at", (now - 50).to_string())
        .body(frame.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sha = stored["sha256"].as_str().unwrap_or_else(|| panic!("stored: {stored}")).to_owned();

    // It is in the bucket, under the prefix, and nowhere on the node's disk.
    let keys = keys_under(&endpoint, &prefix).await;
    assert!(keys.iter().any(|k| k.ends_with(&format!("{sha}.jpg"))), "{keys:?}");
    assert!(!data.join("evidence").exists(), "nothing written to the local evidence dir");
    // A proctor reads it back from the bucket, byte for byte.
    let served = reqwest::Client::new()
        .get(format!("{url}/api/v1/exams/e1/evidence/{sha}"))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap(), frame);

    // The erasure request, from the command line through the live server.
    let erased = cmd().args(["data", "erase", "--server", &url, "--exam", "e1", "--student", "ada"]).output().unwrap();
    assert!(erased.status.success(), "{}", String::from_utf8_lossy(&erased.stderr));
    let keys = keys_under(&endpoint, &prefix).await;
    assert!(!keys.iter().any(|k| k.contains(&sha)), "erased from the bucket: {keys:?}");
    student.close();
}

#[test]
fn a_bucket_that_does_not_answer_stops_the_server_at_start() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // Nothing listens on the discard port of loopback.
    let mut child = vigil_cmd(dir.path(), "http://127.0.0.1:9", "s3://vigil-nowhere")
        .args(["serve", "--http", "127.0.0.1:0", "--udp", "off"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil serve starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        assert!(Instant::now() < deadline, "the server kept running without its blob store");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).unwrap();
    assert!(!status.success());
    assert!(stderr.contains("blob store"), "{stderr}");
}
