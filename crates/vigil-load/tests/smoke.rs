//! CI smoke run: 50 simulated students publishing video and a proctor
//! watching two of them, against the real server for about 20 s. Counts,
//! not times: every incident acked and covered by a score at the proctor,
//! RTP reached the watcher with no gaps, nothing refused, the JSON
//! well-formed.

mod common;

use vigil_load::{Target, report};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_students_lose_nothing() {
    let bin = common::vigil_bin();
    let target = Target::spawn(&bin).await.expect("vigil starts");
    let cfg = common::video_run(50, 18, 0.4);
    let outcome = vigil_load::run(&target, &cfg).await;
    target.stop().await;
    let outcome = outcome.expect("the run completes");

    common::assert_nothing_lost(&outcome, 200);
    let step = &outcome.steps[0];
    assert_eq!(step.students, 50);
    assert!(outcome.total_rtp_received >= 2 * 30 * 15, "two watched streams for ~18 s: {}", outcome.total_rtp_received);
    assert!(step.rtp_received.unwrap_or(0) > 0 && step.rtp_forwarded.unwrap_or(0) > 0);

    let dir = tempfile::tempdir().expect("temp dir");
    let json_path = dir.path().join("out.json");
    report::write_json(&json_path, &outcome.steps).expect("json written");
    report::write_svg(&dir.path().join("out.svg"), &outcome.steps).expect("svg written");
    let parsed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).expect("read back")).expect("well-formed JSON");
    let first = &parsed[0];
    for field in [
        "students",
        "duration_s",
        "server_cpu_cores",
        "server_cpu_per_student",
        "server_rss_bytes",
        "rtp_sent",
        "rtp_forwarded",
        "rtp_received",
        "incidents_sent",
        "incidents_acked",
        "scores_received",
        "score_latency_ms",
        "errors",
    ] {
        assert!(first.get(field).is_some(), "missing {field}");
    }
    assert!(first["score_latency_ms"]["p99"].as_f64().is_some());
}
