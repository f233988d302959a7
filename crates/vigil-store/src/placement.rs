//! Cluster membership and exam placement leases (see
//! `vigil_core::placement` for the rules). These statements run on the
//! pool, not through the group-commit writer: each is one short statement
//! whose answer the caller needs at once, and a lease must not wait behind
//! a batch of incidents.

use sqlx::Row;
use vigil_core::placement::{Lease, NodeId, NodeLoad};
use vigil_proto::{ExamId, UnixMillis};

use crate::{Result, Store, StoreError, parse_id};

fn node_of(raw: String) -> Result<NodeId> {
    raw.parse().map_err(|_| StoreError::Corrupt(format!("node id {raw:?}")))
}

/// A live node as the others see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    pub load: NodeLoad,
    pub url: String,
}

impl Store {
    /// Says `node` is alive at `now`, reachable at `url`.
    pub async fn node_alive(&self, node: &NodeId, url: &str, now: UnixMillis) -> Result<()> {
        sqlx::query(
            "INSERT INTO cluster_nodes (node_id, url, started_at, seen_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (node_id) DO UPDATE SET url = excluded.url, seen_at = excluded.seen_at",
        )
        .bind(node.as_str())
        .bind(url)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Nodes seen since `since`, each with the number of unexpired leases
    /// it holds at `now`.
    pub async fn live_nodes(&self, since: UnixMillis, now: UnixMillis) -> Result<Vec<ClusterNode>> {
        let rows = sqlx::query(
            "SELECT n.node_id, n.url, \
                    (SELECT COUNT(*) FROM exam_placements p WHERE p.node_id = n.node_id AND p.expires_at > $2) AS exams \
             FROM cluster_nodes n WHERE n.seen_at >= $1 ORDER BY n.node_id",
        )
        .bind(since)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let exams: i64 = r.get("exams");
                Ok(ClusterNode {
                    load: NodeLoad {
                        node: node_of(r.get("node_id"))?,
                        exams: u32::try_from(exams).unwrap_or(u32::MAX),
                    },
                    url: r.get("url"),
                })
            })
            .collect()
    }

    /// Where `node` said it can be reached, if it ever did.
    pub async fn node_url(&self, node: &NodeId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT url FROM cluster_nodes WHERE node_id = $1")
            .bind(node.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get("url")))
    }

    /// Forgets nodes not seen since `before` (their leases ran out long ago).
    pub async fn forget_nodes(&self, before: UnixMillis) -> Result<u64> {
        let res = sqlx::query("DELETE FROM cluster_nodes WHERE seen_at < $1").bind(before).execute(&self.pool).await?;
        Ok(res.rows_affected())
    }

    /// The exam's placement as stored, expired or not.
    pub async fn placement(&self, exam: &ExamId) -> Result<Option<Lease>> {
        let row = sqlx::query("SELECT node_id, epoch, expires_at FROM exam_placements WHERE exam_id = $1")
            .bind(exam.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Lease { node: node_of(r.get("node_id"))?, epoch: r.get("epoch"), expires_at: r.get("expires_at") })
        })
        .transpose()
    }

    /// Places `exam` on `node` until `until`, unless another lease on it is
    /// still running at `now`; answers the placement that holds afterwards
    /// (the new one, or the one that was already there). One statement, so
    /// two nodes placing the same exam at once cannot both win.
    pub async fn place_exam(&self, exam: &ExamId, node: &NodeId, now: UnixMillis, until: UnixMillis) -> Result<Lease> {
        sqlx::query(
            "INSERT INTO exam_placements (exam_id, node_id, epoch, expires_at) VALUES ($1, $2, 1, $4) \
             ON CONFLICT (exam_id) DO UPDATE SET node_id = excluded.node_id, \
                 epoch = exam_placements.epoch + 1, expires_at = excluded.expires_at \
             WHERE exam_placements.expires_at <= $3",
        )
        .bind(exam.as_str())
        .bind(node.as_str())
        .bind(now)
        .bind(until)
        .execute(&self.pool)
        .await?;
        self.placement(exam).await?.ok_or_else(|| StoreError::Corrupt(format!("placement of {exam} vanished")))
    }

    /// Extends every lease `node` still holds at `now` to `until`, and
    /// answers the exams it holds.
    pub async fn renew_placements(&self, node: &NodeId, now: UnixMillis, until: UnixMillis) -> Result<Vec<ExamId>> {
        sqlx::query("UPDATE exam_placements SET expires_at = $3 WHERE node_id = $1 AND expires_at > $2")
            .bind(node.as_str())
            .bind(now)
            .bind(until)
            .execute(&self.pool)
            .await?;
        let rows =
            sqlx::query("SELECT exam_id FROM exam_placements WHERE node_id = $1 AND expires_at > $2 ORDER BY exam_id")
                .bind(node.as_str())
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(|r| parse_id(r.get("exam_id"))).collect()
    }

    /// Gives up `node`'s lease on one exam (it holds no state for it).
    pub async fn release_placement(&self, exam: &ExamId, node: &NodeId, now: UnixMillis) -> Result<()> {
        sqlx::query(
            "UPDATE exam_placements SET expires_at = $3 WHERE exam_id = $1 AND node_id = $2 AND expires_at > $3",
        )
        .bind(exam.as_str())
        .bind(node.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives up every lease of `node` (a clean shutdown), so that its exams
    /// move at once instead of after the lease.
    pub async fn release_placements(&self, node: &NodeId, now: UnixMillis) -> Result<()> {
        sqlx::query("UPDATE exam_placements SET expires_at = $2 WHERE node_id = $1 AND expires_at > $2")
            .bind(node.as_str())
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE cluster_nodes SET seen_at = 0 WHERE node_id = $1")
            .bind(node.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use vigil_core::placement::LEASE_MS;
    use vigil_proto::{Exam, ExamSettings, ExamWindow};

    use super::*;
    use crate::testing::database_for;

    async fn store_with_exam(dir: &std::path::Path) -> (Store, ExamId) {
        let store = Store::open(&crate::StoreConfig {
            data_dir: dir.to_owned(),
            durability: crate::Durability::Process,
            database: database_for(dir).await,
            blobs: crate::BlobLocation::Local,
        })
        .await
        .unwrap();
        let exam = Exam {
            id: "e1".parse().unwrap(),
            title: "E".into(),
            settings: ExamSettings::with_window(ExamWindow { opens_at: 0, closes_at: 3_600_000 }),
        };
        store.create_exam(&exam, 0).await.unwrap();
        (store, exam.id)
    }

    fn node(s: &str) -> NodeId {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn one_node_wins_a_placement_until_its_lease_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let (store, exam) = store_with_exam(dir.path()).await;
        let (a, b) = (node("a"), node("b"));
        let won = store.place_exam(&exam, &a, 1_000, 1_000 + LEASE_MS).await.unwrap();
        assert_eq!(won, Lease { node: a.clone(), epoch: 1, expires_at: 1_000 + LEASE_MS });
        // b asks while a's lease runs: a keeps it.
        let kept = store.place_exam(&exam, &b, 2_000, 2_000 + LEASE_MS).await.unwrap();
        assert_eq!(kept, won);
        // a renews; b still cannot take it.
        assert_eq!(store.renew_placements(&a, 3_000, 3_000 + LEASE_MS).await.unwrap(), vec![exam.clone()]);
        assert_eq!(store.renew_placements(&b, 3_000, 3_000 + LEASE_MS).await.unwrap(), Vec::<ExamId>::new());
        let later = 3_000 + LEASE_MS;
        assert_eq!(store.place_exam(&exam, &b, later - 1, later + LEASE_MS).await.unwrap().node, a);
        // a's lease ran out: b takes it, a new epoch; a's renewal no longer holds it.
        let taken = store.place_exam(&exam, &b, later, later + LEASE_MS).await.unwrap();
        assert_eq!(taken, Lease { node: b.clone(), epoch: 2, expires_at: later + LEASE_MS });
        assert!(store.renew_placements(&a, later + 1, later + 1 + LEASE_MS).await.unwrap().is_empty());
        // Another node cannot release it; its holder can.
        store.release_placement(&exam, &a, later + 5).await.unwrap();
        assert_eq!(store.placement(&exam).await.unwrap().unwrap().expires_at, later + LEASE_MS);
        store.release_placement(&exam, &b, later + 5).await.unwrap();
        assert_eq!(store.place_exam(&exam, &a, later + 5, later + 5 + LEASE_MS).await.unwrap().epoch, 3);
        // A clean shutdown releases every lease at once.
        store.release_placements(&a, later + 10).await.unwrap();
        assert_eq!(store.place_exam(&exam, &b, later + 10, later + 10 + LEASE_MS).await.unwrap().epoch, 4);
    }

    #[tokio::test]
    async fn live_nodes_carry_their_load() {
        let dir = tempfile::tempdir().unwrap();
        let (store, exam) = store_with_exam(dir.path()).await;
        let (a, b) = (node("a"), node("b"));
        store.node_alive(&a, "http://a", 1_000).await.unwrap();
        store.node_alive(&b, "http://b", 500).await.unwrap();
        store.place_exam(&exam, &a, 1_000, 1_000 + LEASE_MS).await.unwrap();
        let live = store.live_nodes(600, 1_000).await.unwrap();
        assert_eq!(live, vec![ClusterNode { load: NodeLoad { node: a.clone(), exams: 1 }, url: "http://a".into() }]);
        store.node_alive(&b, "http://b2", 1_000).await.unwrap();
        let live = store.live_nodes(600, 1_000 + LEASE_MS).await.unwrap();
        assert_eq!(
            live.iter().map(|n| (n.load.exams, n.url.as_str())).collect::<Vec<_>>(),
            [(0, "http://a"), (0, "http://b2")]
        );
        assert_eq!(store.node_url(&b).await.unwrap().as_deref(), Some("http://b2"));
        store.release_placements(&a, 1_001).await.unwrap();
        assert_eq!(store.live_nodes(600, 1_001).await.unwrap().len(), 1, "a released: not live");
        assert_eq!(store.forget_nodes(600).await.unwrap(), 1);
        assert_eq!(store.node_url(&a).await.unwrap(), None);
    }
}
