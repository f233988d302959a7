//! The group-commit writer: one task, one connection, many writes per
//! transaction. Callers wait on a oneshot that fires after the commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};
use vigil_core::ledger::PendingIncident;
use vigil_proto::{ExamId, IncidentId, IncidentSource, StudentId, UnixMillis};

use crate::{EvidenceRow, Result, StoreError};

/// Upper bound on writes per transaction, so one commit never holds a burst
/// of callers waiting on a very large transaction.
const MAX_BATCH: usize = 512;

pub(crate) enum Write {
    Incident { exam_id: ExamId, pending: PendingIncident },
    End { exam_id: ExamId, student_id: StudentId, incident_id: IncidentId, seq: u64, ended_at: UnixMillis },
    Evidence(EvidenceRow),
    ForgetEvidence { exam_id: ExamId, sha256: String },
    Action(crate::ActionRecord),
    Lti(crate::lti::LtiWrite),
    Transition(crate::SessionTransitionRow),
    Accommodations { exam_id: ExamId, student_id: StudentId, body: String, at: UnixMillis },
    AccessCode { exam_id: ExamId, code: String, at: UnixMillis },
    Chat(crate::chat::ChatRow),
    IdentityPhoto(crate::chat::IdentityPhotoRow),
    Decision { exam_id: ExamId, student_id: StudentId, decision: vigil_proto::review::Decision },
    IncidentReview { exam_id: ExamId, student_id: StudentId, review: vigil_proto::review::IncidentReview },
    Audit(crate::review::AuditEntry),
    EraseStudent { exam_id: ExamId, student_id: StudentId },
    PurgeExam { exam_id: ExamId, at: UnixMillis },
    Appeal { exam_id: ExamId, student_id: StudentId, appeal: vigil_proto::review::Appeal },
    ForgetIdentityPhoto { exam_id: ExamId, student_id: StudentId, kind: vigil_proto::IdentityPhotoKind, sha256: String },
    RecordingSegment(crate::recording::RecordingSegmentRow),
}

pub(crate) struct Job {
    pub write: Write,
    pub done: oneshot::Sender<Result<()>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub commits: u64,
    pub writes: u64,
}

/// One store's writer counters, shared between the writer task and readers.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    commits: AtomicU64,
    writes: AtomicU64,
}

impl Counters {
    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats { commits: self.commits.load(Ordering::Relaxed), writes: self.writes.load(Ordering::Relaxed) }
    }
}

/// Starts the writer on a connection of its own from `pool` (which it goes
/// back to for a new one when a database server drops it).
pub(crate) async fn spawn(pool: AnyPool) -> Result<(mpsc::Sender<Job>, Arc<Counters>)> {
    let conn = pool.acquire().await?.detach();
    let (tx, rx) = mpsc::channel(4096);
    let counters = Arc::new(Counters::default());
    tokio::spawn(run(pool, conn, rx, counters.clone()));
    Ok((tx, counters))
}

async fn run(pool: AnyPool, mut conn: AnyConnection, mut rx: mpsc::Receiver<Job>, counters: Arc<Counters>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = commit(&mut conn, &batch).await;
        counters.commits.fetch_add(1, Ordering::Relaxed);
        counters.writes.fetch_add(batch.len() as u64, Ordering::Relaxed);
        match results {
            Ok(results) => {
                for (job, res) in batch.drain(..).zip(results) {
                    let _ = job.done.send(res);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, writes = batch.len(), "group commit failed");
                let msg = e.to_string();
                for job in batch.drain(..) {
                    let _ = job.done.send(Err(StoreError::Db(sqlx::Error::Protocol(msg.clone()))));
                }
                // A PostgreSQL server that restarted, or a proxy that cut
                // the connection: the callers above were told (nothing was
                // acknowledged), and the next batch gets a new connection.
                if conn.ping().await.is_err() {
                    match pool.acquire().await {
                        Ok(fresh) => {
                            tracing::warn!("the writer's database connection was lost; reconnected");
                            conn = fresh.detach();
                        }
                        Err(e) => tracing::error!(error = %e, "the writer cannot reconnect to the database yet"),
                    }
                }
            }
        }
    }
}

/// Runs the batch in one transaction. Each write gets a savepoint, so a
/// write that fails (a constraint, say) is reported to its caller alone and
/// the others still commit.
async fn commit(conn: &mut AnyConnection, batch: &[Job]) -> Result<Vec<Result<()>>> {
    let mut tx = conn.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let mut sp = tx.begin().await?;
        match apply(&mut sp, &job.write).await.map_err(unique_as_exists) {
            Ok(()) => {
                sp.commit().await?;
                results.push(Ok(()));
            }
            Err(e) => {
                sp.rollback().await?;
                results.push(Err(e));
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

fn unique_as_exists(e: StoreError) -> StoreError {
    match e {
        StoreError::Db(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            StoreError::AlreadyExists(d.message().to_owned())
        }
        other => other,
    }
}

pub(crate) fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} does not fit a BIGINT")))
}

async fn apply(conn: &mut AnyConnection, write: &Write) -> Result<()> {
    match write {
        Write::Incident { exam_id, pending } => {
            let r = &pending.record;
            sqlx::query(
                "INSERT INTO incidents (exam_id, student_id, id, seq, kind, source, started_at, ended_at, \
                 confidence, detail, accepted_at, fingerprint, during_pause) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(exam_id.as_str())
            .bind(r.student_id.as_str())
            .bind(r.id.as_str())
            .bind(pending.seq.map(to_i64).transpose()?)
            .bind(r.kind.as_str())
            .bind(match r.source {
                IncidentSource::Client => "client",
                IncidentSource::Server => "server",
            })
            .bind(r.started_at)
            .bind(r.ended_at)
            .bind(r.confidence)
            .bind(&r.detail)
            .bind(r.accepted_at)
            .bind(hex::encode(pending.fingerprint))
            .bind(i64::from(r.during_pause))
            .execute(&mut *conn)
            .await?;
        }
        Write::End { exam_id, student_id, incident_id, seq, ended_at } => {
            sqlx::query(
                "UPDATE incidents SET ended_at = $1, end_seq = $2 WHERE exam_id = $3 AND student_id = $4 AND id = $5",
            )
            .bind(ended_at)
            .bind(to_i64(*seq)?)
            .bind(exam_id.as_str())
            .bind(student_id.as_str())
            .bind(incident_id.as_str())
            .execute(&mut *conn)
            .await?;
        }
        Write::Evidence(e) => {
            sqlx::query(
                "INSERT INTO evidence (sha256, exam_id, student_id, incident_id, width, height, bytes, captured_at, \
                 received_at, expires_at, media, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&e.sha256)
            .bind(e.exam_id.as_str())
            .bind(e.student_id.as_str())
            .bind(e.incident_id.as_str())
            .bind(i64::from(e.width))
            .bind(i64::from(e.height))
            .bind(to_i64(e.bytes)?)
            .bind(e.captured_at)
            .bind(e.received_at)
            .bind(e.expires_at)
            .bind(e.media.as_str())
            .bind(e.duration_ms.map(i64::from))
            .execute(&mut *conn)
            .await?;
            sqlx::query("UPDATE incidents SET evidence_sha256 = $1 WHERE exam_id = $2 AND student_id = $3 AND id = $4")
                .bind(&e.sha256)
                .bind(e.exam_id.as_str())
                .bind(e.student_id.as_str())
                .bind(e.incident_id.as_str())
                .execute(&mut *conn)
                .await?;
        }
        Write::ForgetEvidence { exam_id, sha256 } => {
            // The incident keeps its hash: the record says a frame existed and was purged.
            sqlx::query("DELETE FROM evidence WHERE exam_id = $1 AND sha256 = $2")
                .bind(exam_id.as_str())
                .bind(sha256)
                .execute(&mut *conn)
                .await?;
        }
        Write::Action(crate::ActionRecord { exam_id, student_id, proctor_id, kind, text, minutes, at }) => {
            sqlx::query(
                "INSERT INTO proctor_actions (exam_id, student_id, proctor_id, kind, text, at, minutes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(exam_id.as_str())
            .bind(student_id.as_str())
            .bind(proctor_id.as_str())
            .bind(kind)
            .bind(text)
            .bind(at)
            .bind(minutes.map(i64::from))
            .execute(&mut *conn)
            .await?;
        }
        Write::Lti(lti) => crate::lti::apply(conn, lti).await?,
        Write::Chat(row) => crate::chat::apply_chat(conn, row).await?,
        Write::Decision { exam_id, student_id, decision } => {
            crate::review::apply_decision(conn, exam_id, student_id, decision).await?
        }
        Write::IncidentReview { exam_id, student_id, review } => {
            crate::review::apply_incident_review(conn, exam_id, student_id, review).await?
        }
        Write::Audit(entry) => crate::review::apply_audit(conn, entry).await?,
        Write::EraseStudent { exam_id, student_id } => {
            crate::erase::apply_erase_student(conn, exam_id, student_id).await?
        }
        Write::PurgeExam { exam_id, at } => crate::erase::apply_purge_exam(conn, exam_id, *at).await?,
        Write::Appeal { exam_id, student_id, appeal } => {
            crate::review::apply_appeal(conn, exam_id, student_id, appeal).await?
        }
        Write::IdentityPhoto(row) => crate::chat::apply_identity_photo(conn, row).await?,
        Write::RecordingSegment(row) => crate::recording::apply_recording_segment(conn, row).await?,
        Write::ForgetIdentityPhoto { exam_id, student_id, kind, sha256 } => {
            crate::chat::forget_identity_photo(conn, exam_id, student_id, *kind, sha256).await?
        }
        Write::Accommodations { exam_id, student_id, body, at } => {
            sqlx::query(
                "INSERT INTO accommodations (exam_id, student_id, body, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (exam_id, student_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )
            .bind(exam_id.as_str())
            .bind(student_id.as_str())
            .bind(body)
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
        Write::Transition(t) => {
            sqlx::query(
                "INSERT INTO session_transitions (exam_id, student_id, seq, change, added_ms, at, by_whom, reason) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(t.exam_id.as_str())
            .bind(t.student_id.as_str())
            .bind(i64::from(t.seq))
            .bind(&t.change)
            .bind(t.added_ms)
            .bind(t.at)
            .bind(&t.by)
            .bind(&t.reason)
            .execute(&mut *conn)
            .await?;
        }
        Write::AccessCode { exam_id, code, at } => {
            sqlx::query(
                "INSERT INTO exam_access_codes (exam_id, code, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (exam_id) DO UPDATE SET code = excluded.code, updated_at = excluded.updated_at",
            )
            .bind(exam_id.as_str())
            .bind(code)
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}
