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

use vigil_load::{ClusterServices, Target};

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
    let target =
        Target::spawn_nodes(&bin, 3, Some(&ClusterServices { database, redis }), None).await.expect("3 nodes start");
    assert_eq!(target.nodes.len(), 3);
    let cfg = common::video_run(30, 12, 0.6);
    let outcome = vigil_load::run(&target, &cfg).await;
    target.stop().await;
    let outcome = outcome.expect("the run completes");

    common::assert_nothing_lost(&outcome, 100);
    let step = &outcome.steps[0];
    assert_eq!(step.nodes.len(), 3);
    assert!(step.relay_p50_ms.is_some(), "messages were relayed between nodes");
    assert!(outcome.total_rtp_received >= 2 * 20 * 15, "two watched streams: {}", outcome.total_rtp_received);
}
