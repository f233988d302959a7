//! Which node serves an exam, when several vigil nodes share one database
//! (issue 15). The rules are `vigil_core::placement`'s; this module keeps
//! the leases in the store, answers "here or where?" for the transport, and
//! gives up exams whose lease this node no longer holds.
//!
//! Alone (no cluster), every exam is served here and nothing is stored.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use vigil_core::placement::{self as rules, LEASE_MS, Lease, NODE_ALIVE_MS, NodeId, Owner, RENEW_EVERY_MS, Tenure};
use vigil_proto::{ExamId, Rejection, UnixMillis};

use super::{Service, lock, unavailable};
use crate::metrics as m;

/// This node's part in a cluster.
#[derive(Debug)]
pub struct Cluster {
    me: NodeId,
    /// Where the other nodes forward HTTP requests for this node's exams.
    url: String,
    tenure: Mutex<Tenure>,
    /// Other nodes' leases as last read, until they expire: most requests
    /// for a relayed exam need no database read.
    known: Mutex<HashMap<ExamId, Lease>>,
    /// Exams this node holds, with when it took each (placed, or found
    /// its own): a renewal that began before an exam was taken cannot have
    /// seen it, and must not give it up.
    held: Mutex<HashMap<ExamId, UnixMillis>>,
}

impl Cluster {
    pub fn new(config: ClusterConfig) -> Self {
        let ClusterConfig { node: me, url } = config;
        Cluster {
            me,
            url,
            tenure: Mutex::new(Tenure::default()),
            known: Mutex::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
        }
    }

    pub fn me(&self) -> &NodeId {
        &self.me
    }
}

/// An exam placed here but never loaded is released after this long.
const IDLE_RELEASE_MS: i64 = 60_000;

/// What a node needs to join a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This process's id (see [`NodeId::from_random`]).
    pub node: NodeId,
    /// Where the other nodes reach this one's HTTP API.
    pub url: String,
}

/// Where requests for an exam go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Here,
    Node(NodeId),
}

impl Service {
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// Where `exam` is served, placing it if nobody serves it: on the live
    /// node with the fewest exams. Costs a database read only when the
    /// exam's lease is not known to be running.
    pub async fn route(&self, exam: &ExamId) -> Result<Route, Rejection> {
        let Some(cluster) = &self.cluster else { return Ok(Route::Here) };
        let now = self.clock.now_ms();
        if lock(&cluster.held).contains_key(exam) && lock(&cluster.tenure).valid(now) {
            return Ok(Route::Here);
        }
        if let Some(lease) = lock(&cluster.known).get(exam)
            && lease.expires_at > now
        {
            return Ok(Route::Node(lease.node.clone()));
        }
        let cannot = |_| unavailable("cannot tell which server holds this exam; retry");
        let stored = self.store.placement(exam).await.map_err(cannot)?;
        let lease = match (rules::owner(stored.as_ref(), &cluster.me, now), stored) {
            (Owner::Me | Owner::Other(_), Some(running)) => running,
            _ => {
                let live = self.store.live_nodes(now - NODE_ALIVE_MS, now).await.map_err(cannot)?;
                let loads: Vec<_> = live.into_iter().map(|n| n.load).collect();
                let chosen = rules::choose_node(&cluster.me, &loads);
                let lease =
                    self.store.place_exam(exam, &chosen, now, rules::renewed_until(now)).await.map_err(cannot)?;
                metrics::counter!(m::EXAMS_PLACED).increment(1);
                tracing::info!(exam = %exam, node = %lease.node, epoch = lease.epoch, "exam placed");
                lease
            }
        };
        if lease.node == cluster.me {
            if !lock(&cluster.tenure).valid(now) {
                return Err(unavailable("this server has lost touch with the database; retry"));
            }
            let mut held = lock(&cluster.held);
            if held.insert(exam.clone(), now).is_none() {
                metrics::gauge!(m::EXAMS_HELD).set(held.len() as f64);
            }
            Ok(Route::Here)
        } else {
            lock(&cluster.known).insert(exam.clone(), lease.clone());
            Ok(Route::Node(lease.node))
        }
    }

    /// Refuses work on an exam served by another node: a request that
    /// reached this node anyway (it moved in between) is retried by its
    /// client, and then relayed.
    pub(super) async fn ensure_here(&self, exam: &ExamId) -> Result<(), Rejection> {
        match self.route(exam).await? {
            Route::Here => Ok(()),
            Route::Node(_) => Err(unavailable("this exam has moved to another server; retry")),
        }
    }

    /// Forgets what this node believed about `exam`'s lease (a relay to its
    /// owner failed): the next request reads the store again.
    pub fn forget_route(&self, exam: &ExamId) {
        if let Some(cluster) = &self.cluster {
            lock(&cluster.known).remove(exam);
        }
    }

    /// Where another node takes forwarded HTTP requests.
    pub async fn node_url(&self, node: &NodeId) -> Result<Option<String>, Rejection> {
        self.store.node_url(node).await.map_err(|_| unavailable("cannot find the server that holds this exam; retry"))
    }

    /// One renewal: says this node is alive, extends its leases, and gives
    /// up every exam it no longer holds (or all of them, when the database
    /// has been out of reach for longer than its tenure).
    pub async fn renew_placements(&self) {
        let Some(cluster) = &self.cluster else { return };
        let started = self.clock.now_ms();
        let renewed = async {
            self.store.node_alive(&cluster.me, &cluster.url, started).await?;
            self.store.renew_placements(&cluster.me, started, rules::renewed_until(started)).await
        }
        .await;
        let renewed: Option<HashSet<ExamId>> = match renewed {
            Ok(held) => {
                lock(&cluster.tenure).renewed(started);
                Some(held.into_iter().collect())
            }
            Err(e) => {
                metrics::counter!(m::LEASE_RENEWALS_FAILED).increment(1);
                tracing::warn!(error = %e, "could not renew this node's exam leases");
                if lock(&cluster.tenure).valid(self.clock.now_ms()) {
                    return;
                }
                // Out of touch for longer than the lease: serve nothing.
                None
            }
        };
        let held: HashSet<ExamId> = {
            let mut mine = lock(&cluster.held);
            match &renewed {
                Some(renewed) => {
                    mine.retain(|exam, taken_at| renewed.contains(exam) || *taken_at >= started);
                    for exam in renewed {
                        mine.entry(exam.clone()).or_insert(started);
                    }
                }
                None => mine.clear(),
            }
            metrics::gauge!(m::EXAMS_HELD).set(mine.len() as f64);
            mine.keys().cloned().collect()
        };
        for rt in self.exams.loaded() {
            if !held.contains(rt.id()) {
                self.give_up(rt.id()).await;
            }
        }
        // An exam placed here that nobody used for a while (an admin read
        // its roster, say) is let go, so that the exam counts by which new
        // exams are placed are the ones in use.
        let idle: Vec<ExamId> = {
            let mine = lock(&cluster.held);
            mine.iter()
                .filter(|(exam, taken_at)| started - **taken_at > IDLE_RELEASE_MS && !self.exams.is_loaded(exam))
                .map(|(exam, _)| exam.clone())
                .collect()
        };
        for exam in idle {
            if self.store.release_placement(&exam, &cluster.me, self.clock.now_ms()).await.is_ok() {
                lock(&cluster.held).remove(&exam);
            }
        }
    }

    /// Stops serving `exam`: its runtime is dropped and every connection to
    /// it closed, so clients reconnect and reach whoever holds it now.
    async fn give_up(&self, exam: &ExamId) {
        tracing::warn!(exam = %exam, "exam lease lost; closing its connections");
        metrics::counter!(m::EXAMS_GIVEN_UP).increment(1);
        self.exams.unload(exam);
        self.fanout.out().disconnect_exam(exam).await;
    }

    /// Renews leases every [`RENEW_EVERY_MS`] until aborted.
    pub async fn run_placement(self: Arc<Self>) {
        if self.cluster.is_none() {
            return;
        }
        loop {
            self.clock.sleep_until(self.clock.now_ms() + RENEW_EVERY_MS).await;
            self.renew_placements().await;
            // Rows of nodes gone for ten leases are of no further use.
            let _ = self.store.forget_nodes(self.clock.now_ms() - 10 * LEASE_MS).await;
        }
    }

    /// A clean shutdown hands this node's exams over at once.
    pub async fn release_placements(&self) {
        let Some(cluster) = &self.cluster else { return };
        if let Err(e) = self.store.release_placements(&cluster.me, self.clock.now_ms()).await {
            tracing::warn!(error = %e, "could not release this node's exam leases");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::future::BoxFuture;
    use vigil_proto::{Exam, ExamSettings, ExamWindow, StudentId};
    use vigil_store::{BlobLocation, DatabaseLocation, Durability, Store, StoreConfig};

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::service::fanout::{Fanout, ProctorEvent, StudentEvent};
    use crate::service::{ConnectionId, ServiceConfig};

    const T0: i64 = 1_800_000_000_000;

    /// Records the exams whose connections the service closed.
    #[derive(Debug, Default)]
    struct Closed(Mutex<Vec<ExamId>>);

    impl Fanout for Closed {
        fn to_proctors<'a>(&'a self, _: &'a ExamId, _: ProctorEvent) -> BoxFuture<'a, bool> {
            Box::pin(async { true })
        }
        fn to_student<'a>(&'a self, _: &'a ExamId, _: &'a StudentId, _: StudentEvent) -> BoxFuture<'a, bool> {
            Box::pin(async { true })
        }
        fn to_students<'a>(&'a self, _: &'a ExamId, _: StudentEvent) -> BoxFuture<'a, bool> {
            Box::pin(async { true })
        }
        fn disconnect(&self, _: ConnectionId) -> BoxFuture<'_, ()> {
            Box::pin(async {})
        }
        fn disconnect_exam<'a>(&'a self, exam: &'a ExamId) -> BoxFuture<'a, ()> {
            lock(&self.0).push(exam.clone());
            Box::pin(async {})
        }
    }

    /// Two nodes over one database (a SQLite file both open: enough for
    /// the rules here; the real cluster test runs on PostgreSQL), on one
    /// simulated clock.
    async fn node(dir: &std::path::Path, name: &str, clock: &Arc<ManualClock>) -> (Arc<Service>, Arc<Closed>) {
        let store = Store::open(&StoreConfig {
            data_dir: dir.to_owned(),
            durability: Durability::Process,
            database: DatabaseLocation::Sqlite,
            blobs: BlobLocation::Local,
        })
        .await
        .unwrap();
        let closed = Arc::new(Closed::default());
        let config = ServiceConfig {
            cluster: Some(ClusterConfig { node: name.parse().unwrap(), url: format!("http://{name}") }),
            ..ServiceConfig::default()
        };
        let clock: Arc<dyn Clock> = clock.clone();
        let svc = Service::new(store, crate::auth::Keys::load(dir).unwrap(), clock, closed.clone(), None, config);
        (Arc::new(svc), closed)
    }

    #[tokio::test]
    async fn an_exam_is_held_by_one_node_and_moves_when_its_lease_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let (a, a_closed) = node(dir.path(), "a", &clock).await;
        let (b, _) = node(dir.path(), "b", &clock).await;
        let exam = Exam {
            id: "e1".parse().unwrap(),
            title: "E".into(),
            settings: ExamSettings::with_window(ExamWindow { opens_at: T0, closes_at: T0 + 3_600_000 }),
        };
        a.store().create_exam(&exam, T0).await.unwrap();
        a.renew_placements().await;
        b.renew_placements().await;

        // a asks first: both nodes hold nothing, a tie stays with the asker.
        assert_eq!(a.route(&exam.id).await.unwrap(), Route::Here);
        assert_eq!(b.route(&exam.id).await.unwrap(), Route::Node("a".parse().unwrap()));
        a.exams().get(&exam.id).await.unwrap().expect("a loads it");
        // b refuses to serve it itself.
        assert_eq!(b.ensure_here(&exam.id).await.unwrap_err().reason, vigil_proto::RejectReason::Unavailable);

        // a renews while time passes: it keeps the exam.
        for _ in 0..5 {
            clock.advance(RENEW_EVERY_MS);
            a.renew_placements().await;
            b.renew_placements().await;
        }
        assert_eq!(b.route(&exam.id).await.unwrap(), Route::Node("a".parse().unwrap()));

        // a stops renewing (it is cut off): it stops serving on its own
        // before its lease can run out...
        clock.advance(LEASE_MS - vigil_core::placement::TENURE_MARGIN_MS);
        assert!(a.route(&exam.id).await.is_err(), "a's tenure is over");
        // ...and once the lease ran out, b takes the exam.
        clock.advance(vigil_core::placement::TENURE_MARGIN_MS);
        b.renew_placements().await;
        assert_eq!(b.route(&exam.id).await.unwrap(), Route::Here);
        assert_eq!(
            a.store().placement(&exam.id).await.unwrap().map(|l| (l.node.to_string(), l.epoch)),
            Some(("b".into(), 2))
        );

        // a's next renewal finds the exam gone: it unloads it and closes its connections.
        a.renew_placements().await;
        assert!(a.exams().loaded().is_empty());
        assert_eq!(*lock(&a_closed.0), vec![exam.id.clone()]);
        assert_eq!(a.route(&exam.id).await.unwrap(), Route::Node("b".parse().unwrap()));
    }

    #[tokio::test]
    async fn an_exam_placed_but_never_loaded_is_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let (a, _) = node(dir.path(), "a", &clock).await;
        let window = ExamWindow { opens_at: T0, closes_at: T0 + 3_600_000 };
        for id in ["used", "idle"] {
            let exam = Exam { id: id.parse().unwrap(), title: id.into(), settings: ExamSettings::with_window(window) };
            a.store().create_exam(&exam, T0).await.unwrap();
        }
        let (used, idle): (ExamId, ExamId) = ("used".parse().unwrap(), "idle".parse().unwrap());
        a.renew_placements().await;
        assert_eq!(a.route(&used).await.unwrap(), Route::Here);
        assert_eq!(a.route(&idle).await.unwrap(), Route::Here);
        a.exams().get(&used).await.unwrap().expect("loaded");
        let mut elapsed = 0;
        while elapsed <= IDLE_RELEASE_MS + RENEW_EVERY_MS {
            clock.advance(RENEW_EVERY_MS);
            elapsed += RENEW_EVERY_MS;
            a.renew_placements().await;
        }
        let now = clock.now_ms();
        let lease_of = |l: Option<Lease>| l.is_some_and(|l| l.expires_at > now);
        assert!(lease_of(a.store().placement(&used).await.unwrap()), "the loaded exam stays placed");
        assert!(!lease_of(a.store().placement(&idle).await.unwrap()), "the idle one was let go");
        // Asked again, it is placed again.
        assert_eq!(a.route(&idle).await.unwrap(), Route::Here);
    }
}
