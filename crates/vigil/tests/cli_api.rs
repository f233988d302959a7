//! `vigil accommodate` and `vigil data` against a running `vigil serve`: they
//! reach the live server, and a refusal comes back with its reason.

mod common;

use std::process::{Command, Output};

use common::{Serving, VIGIL};

fn vigil(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(VIGIL).args(args).arg("--data-dir").arg(data).output().expect("vigil runs")
}

fn serve(data: &std::path::Path) -> (Serving, String) {
    let mut cmd = Command::new(VIGIL);
    cmd.env("VIGIL_DATA_DIR", data);
    let serving = common::serve(cmd);
    let url = serving.url.clone();
    (serving, url)
}

#[test]
fn accommodations_set_from_the_command_line_reach_the_running_server() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path();
    assert!(vigil(data, &["exam", "create", "--id", "e1", "--title", "Algebra"]).status.success());
    assert!(vigil(data, &["student", "add", "--exam", "e1", "--id", "ada", "--name", "Ada"]).status.success());
    let (_server, url) = serve(data);
    // `vigil health`, as a container's health check runs it.
    let health = Command::new(VIGIL).args(["health", "--url", &format!("{url}/healthz")]).output().unwrap();
    assert!(health.status.success(), "{}", String::from_utf8_lossy(&health.stderr));
    assert!(String::from_utf8_lossy(&health.stdout).contains(r#""database":{"kind":"sqlite","status":"ok"}"#));
    let nobody = Command::new(VIGIL).args(["health", "--url", "http://127.0.0.1:9/healthz"]).output().unwrap();
    assert!(!nobody.status.success());

    let granted = vigil(
        data,
        &[
            "accommodate",
            "--server",
            &url,
            "--exam",
            "e1",
            "--student",
            "ada",
            "--extra-time-min",
            "15",
            "--extra-breaks",
            "2",
            "--disable",
            "looking_away",
            "--yaw-limit-deg",
            "45",
            "--note",
            "Reads aloud",
        ],
    );
    let out = String::from_utf8_lossy(&granted.stdout);
    assert!(granted.status.success(), "{out} {}", String::from_utf8_lossy(&granted.stderr));
    let tile: serde_json::Value = serde_json::from_str(&out).expect("the student's tile as JSON");
    let a = &tile["accommodations"];
    assert_eq!(
        (a["extra_time_min"].as_u64(), a["extra_breaks"].as_u64(), a["thresholds"]["yaw_limit_deg"].as_u64()),
        (Some(15), Some(2), Some(45)),
        "{tile}"
    );
    assert_eq!(a["disabled_detectors"], serde_json::json!(["looking_away"]));
    assert_eq!(tile["session"]["breaks_left"], serde_json::json!(2), "applied live: {tile}");

    // Refusals carry the server's reason.
    let out_of_range =
        vigil(data, &["accommodate", "--server", &url, "--exam", "e1", "--student", "ada", "--yaw-limit-deg", "90"]);
    assert!(!out_of_range.status.success());
    assert!(String::from_utf8_lossy(&out_of_range.stderr).contains("invalid_payload"));
    let nobody = vigil(data, &["accommodate", "--server", &url, "--exam", "e1", "--student", "eve"]);
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("unknown_student"));
    let not_a_kind =
        vigil(data, &["accommodate", "--server", &url, "--exam", "e1", "--student", "ada", "--disable", "telepathy"]);
    assert!(String::from_utf8_lossy(&not_a_kind.stderr).contains("not an incident kind"));
}
