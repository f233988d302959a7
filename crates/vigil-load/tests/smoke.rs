//! CI smoke run: 50 simulated students publishing video and a proctor
//! watching two of them, against the real server for about 20 s. Counts,
//! not times: every incident acked and covered by a score at the proctor,
//! RTP reached the watcher with no gaps, nothing refused, the JSON
//! well-formed.

use std::time::Duration;

mod common;

use vigil_load::{LoadConfig, Target, report, sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_students_lose_nothing() {
    let bin = common::vigil_bin();
    let target = Target::spawn(&bin).await.expect("vigil starts");
    let cfg = LoadConfig {
        steps: vec![50],
        proctors: 1,
        watch: 2,
        duration: Duration::from_secs(18),
        student: sim::StudentConfig {
            incident_rate: 0.4,
            evidence_share: 0.2,
            heartbeat_every: Duration::from_secs(2),
            signals_every: Duration::from_secs(1),
            video: Some(vigil_load::media::VideoConfig::default()),
        },
        show_progress: false,
        loadgen_nice: 0,
    };
    let outcome = vigil_load::run(&target, &cfg).await;
    target.stop().await;
    let outcome = outcome.expect("the run completes");

    assert!(outcome.total_acked >= 200, "too few incidents for a meaningful run: {}", outcome.total_acked);
    assert_eq!(outcome.total_sent, outcome.total_acked, "every incident acked; errors: {:?}", outcome.errors);
    assert_eq!(outcome.undelivered, 0, "every acked incident reached the proctor as a score");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let step = &outcome.steps[0];
    assert_eq!(step.students, 50);
    assert!(outcome.total_evidence_accepted > 0);
    assert_eq!(outcome.total_evidence_accepted, outcome.total_evidence_sent, "every evidence frame stored");
    assert_eq!(step.reconnects, 0);

    // Video: every camera's packets reached the SFU; the two watched
    // streams (about 45 packets/s each) reached the proctor without a gap.
    assert!(outcome.total_rtp_sent > 0);
    assert_eq!(
        outcome.total_rtp_sfu_received, outcome.total_rtp_sent,
        "the SFU received every packet the cameras sent"
    );
    assert!(outcome.total_rtp_received >= 2 * 30 * 15, "two watched streams for ~18 s: {}", outcome.total_rtp_received);
    assert_eq!(outcome.total_rtp_lost, 0, "no gaps on loopback");
    assert_eq!(outcome.total_rtp_received, outcome.total_rtp_forwarded, "every forwarded packet arrived");
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
