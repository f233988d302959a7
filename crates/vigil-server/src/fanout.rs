//! Fan-out to proctor dashboards over the `/proctor` namespace: one room per
//! exam. Score updates go through a leading-edge [`Coalescer`], so the first
//! change after a quiet spell is emitted at once and bursts collapse to at
//! most one update per student per interval, latest wins.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use socketioxide::SocketIo;
use tokio::sync::Notify;
use vigil_core::coalesce::Coalescer;
use vigil_proto::events::{IncidentRecord, PresenceUpdate, QualityUpdate, ScoreUpdate, ScoreView, names};

use crate::clock::now_ms;
use crate::exams::lock;
use crate::metrics as m;

/// At most about ten score updates per second per student.
pub const SCORE_INTERVAL_MS: i64 = 100;

pub fn exam_room(exam_id: &str) -> String {
    format!("exam:{exam_id}")
}

pub fn student_room(exam_id: &str, student_id: &str) -> String {
    format!("student:{exam_id}:{student_id}")
}

type Key = (String, String);

#[derive(Debug)]
struct PendingScore {
    view: ScoreView,
    accepted: Instant,
}

#[derive(Debug)]
pub struct Fanout {
    io: OnceLock<SocketIo>,
    scores: Mutex<Coalescer<Key, PendingScore>>,
    wake: Notify,
}

impl Default for Fanout {
    fn default() -> Self {
        Fanout { io: OnceLock::new(), scores: Mutex::new(Coalescer::new(SCORE_INTERVAL_MS)), wake: Notify::new() }
    }
}

impl Fanout {
    pub fn attach(&self, io: SocketIo) {
        let _ = self.io.set(io);
    }

    async fn emit<T: Serialize + ?Sized>(&self, room: String, event: &str, data: &T) -> bool {
        let Some(ns) = self.io.get().and_then(|io| io.of(names::PROCTOR_NS)) else { return false };
        match ns.to(room).emit(event, data).await {
            Ok(()) => true,
            Err(e) => {
                metrics::counter!(m::FANOUT_ERRORS).increment(1);
                tracing::debug!(error = %e, event, "fan-out emit failed");
                false
            }
        }
    }

    /// A student's score changed at `accepted` (when its incident was stored).
    pub async fn score(&self, exam_id: &str, student_id: &str, view: ScoreView, accepted: Instant) {
        let key = (exam_id.to_owned(), student_id.to_owned());
        let now_emit = lock(&self.scores).offer(now_ms(), key, PendingScore { view, accepted });
        match now_emit {
            Some(p) => self.emit_score(exam_id, student_id, p, "leading").await,
            None => self.wake.notify_one(),
        }
    }

    async fn emit_score(&self, exam_id: &str, student_id: &str, p: PendingScore, edge: &'static str) {
        let update = ScoreUpdate { student_id: student_id.to_owned(), score: p.view, emitted_at: now_ms() };
        if self.emit(exam_room(exam_id), names::SCORE, &update).await {
            metrics::counter!(m::SCORES_EMITTED).increment(1);
            metrics::histogram!(m::FANOUT_LATENCY, "edge" => edge).record(p.accepted.elapsed().as_secs_f64());
        }
    }

    pub async fn incident(&self, exam_id: &str, record: &IncidentRecord) {
        self.emit(exam_room(exam_id), names::INCIDENT_NOTICE, record).await;
    }

    pub async fn presence(&self, exam_id: &str, update: &PresenceUpdate) {
        self.emit(exam_room(exam_id), names::PRESENCE, update).await;
    }

    pub async fn quality(&self, exam_id: &str, update: &QualityUpdate) {
        self.emit(exam_room(exam_id), names::QUALITY, update).await;
    }

    /// Emits coalesced score updates as they fall due. Runs until the process ends.
    pub async fn run_trailing(self: Arc<Self>) {
        loop {
            let next = lock(&self.scores).next_due();
            match next {
                None => self.wake.notified().await,
                Some(due) => {
                    let wait = Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0));
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = self.wake.notified() => continue,
                    }
                }
            }
            let due = lock(&self.scores).drain_due(now_ms());
            for ((exam_id, student_id), p) in due {
                self.emit_score(&exam_id, &student_id, p, "trailing").await;
            }
        }
    }
}
