//! A cluster under the load generator: 30 students with video spread over
//! three nodes (two thirds of them relayed to the node that holds the
//! exam), the proctor on the third node watching a student of the holder
//! and a relayed one. Counts, not times: every incident acked and covered
//! by a score at the proctor, every evidence frame stored through the
//! forwarded HTTP API, every camera's packets at the holder's SFU, the
//! watched streams at the proctor without a gap.
//!
//! Needs `VIGIL_TEST_DATABASE` (PostgreSQL) and `VIGIL_TEST_REDIS`, which
//! scripts/test sets; without them it says so and passes.

mod common;

use std::time::Duration;

use vigil_load::{ClusterServices, LoadConfig, Target, sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_students_on_three_nodes_lose_nothing() {
    let (Ok(_), Ok(redis)) = (std::env::var("VIGIL_TEST_DATABASE"), std::env::var("VIGIL_TEST_REDIS")) else {
        eprintln!(
            "cluster smoke run skipped: set VIGIL_TEST_DATABASE (postgres://…) and VIGIL_TEST_REDIS (scripts/test does)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let database = match vigil_store::testing::database_for(dir.path()).await {
        vigil_store::DatabaseLocation::Postgres(url) => url,
        vigil_store::DatabaseLocation::Sqlite => panic!("VIGIL_TEST_DATABASE must be PostgreSQL"),
    };
    let bin = common::vigil_bin();
    let target = Target::spawn_nodes(&bin, 3, Some(&ClusterServices { database, redis })).await.expect("3 nodes start");
    assert_eq!(target.nodes.len(), 3);
    let cfg = LoadConfig {
        steps: vec![30],
        proctors: 1,
        watch: 2,
        duration: Duration::from_secs(12),
        student: sim::StudentConfig {
            incident_rate: 0.6,
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

    assert!(outcome.total_acked >= 100, "too few incidents for a meaningful run: {}", outcome.total_acked);
    assert_eq!(outcome.total_sent, outcome.total_acked, "every incident acked; errors: {:?}", outcome.errors);
    assert_eq!(outcome.undelivered, 0, "every acked incident reached the proctor as a score");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.total_evidence_accepted > 0);
    assert_eq!(outcome.total_evidence_accepted, outcome.total_evidence_sent, "every evidence frame stored");
    let step = &outcome.steps[0];
    assert_eq!(step.reconnects, 0);
    assert_eq!(step.nodes.len(), 3);
    assert!(step.relay_p50_ms.is_some(), "messages were relayed between nodes");
    // Video: every camera (a third on the holder, two thirds relayed) reached
    // the holder's SFU, and both watched streams reached the proctor.
    assert!(outcome.total_rtp_sent > 0);
    assert_eq!(outcome.total_rtp_sfu_received, outcome.total_rtp_sent, "the SFU received every packet sent");
    assert!(outcome.total_rtp_received >= 2 * 20 * 15, "two watched streams: {}", outcome.total_rtp_received);
    assert_eq!(outcome.total_rtp_lost, 0, "no gaps on loopback");
    assert_eq!(outcome.total_rtp_received, outcome.total_rtp_forwarded, "every forwarded packet arrived");
}
