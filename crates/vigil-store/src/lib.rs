//! Persistence for vigil: exams, rosters, incidents and evidence metadata in
//! SQL through sqlx (SQLite in WAL mode by default), evidence blobs through
//! `object_store` (local disk by default, or an S3-compatible bucket:
//! `blobs`), content-addressed by sha256.
//!
//! Writes go through one writer task that commits them in groups: every
//! caller waits for the transaction holding its write to commit, so an
//! acknowledgement sent after [`Store::insert_incident`] returns is durable
//! against a crash of the process (`kill -9`), while many concurrent
//! students share one fsync-free commit.

mod blobs;
mod chat;
mod database;
mod erase;
mod lti;
mod placement;
mod recording;
mod review;
pub use placement::ClusterNode;
pub mod testing;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Executor, Row};
use tokio::sync::{mpsc, oneshot};
use vigil_core::ledger::PendingIncident;
use vigil_proto::events::{EvidenceMedia, IncidentRecord};
use vigil_proto::{
    Exam, ExamId, ExamSettings, IdError, IncidentId, IncidentKind, IncidentSource, Proctor, ProctorId, Role, Student,
    StudentId, UnixMillis,
};

pub use blobs::{BlobLocation, BlobLocationError};
pub use chat::{ChatRow, IdentityPhotoRow};
pub use database::{DatabaseLocation, DatabaseLocationError};
pub use erase::Erased;
pub use lti::{LtiAttemptRow, LtiEnrolment, LtiLinkKey, LtiPlatformRow, LtiToolKeyRow};
pub use recording::RecordingSegmentRow;
pub use review::AuditEntry;
pub use writer::WriterStats;
use writer::{Job, Write, to_i64};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("blob store: {0}")]
    Blob(#[from] object_store::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("creating {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How durable a commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives a crash of the process; the last commits may be lost on power
    /// loss (SQLite `synchronous=NORMAL` in WAL mode).
    #[default]
    Process,
    /// Survives power loss too: an fsync per group commit (`synchronous=FULL`).
    PowerLoss,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub database: DatabaseLocation,
    pub blobs: BlobLocation,
}

/// What a health check found, per dependency (`Err` holds why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHealth {
    pub database: std::result::Result<(), String>,
    pub blobs: std::result::Result<(), String>,
    /// `sqlite` or `postgres`.
    pub database_kind: &'static str,
    /// `local` or `s3`.
    pub blob_kind: &'static str,
}

impl StoreHealth {
    pub fn ok(&self) -> bool {
        self.database.is_ok() && self.blobs.is_ok()
    }
}

/// The schema both databases share (`migrations/`, portable SQL).
static SHARED_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// WAL: readers never wait for the writer. `synchronous=NORMAL` in WAL
/// mode loses no commit when the process dies, only on power loss.
const SQLITE_PROCESS_DURABLE: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;";
/// As above, with an fsync per commit.
const SQLITE_POWER_LOSS_DURABLE: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;";

/// A health check is answered from the last one for this long: `/healthz`
/// is open to anyone, and must not turn into a stream of database and
/// bucket requests.
const HEALTH_FRESH: Duration = Duration::from_secs(1);

/// An incident as stored, with what the ledger needs to rebuild itself.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIncident {
    pub pending: PendingIncident,
    pub end_seq: Option<u64>,
}

/// Metadata of one stored piece of evidence (a frame, or a sound clip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRow {
    pub sha256: String,
    pub exam_id: ExamId,
    pub student_id: StudentId,
    pub incident_id: IncidentId,
    pub media: EvidenceMedia,
    /// A sound clip's length; `None` for a frame.
    pub duration_ms: Option<u32>,
    /// 0 for a sound clip.
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub captured_at: UnixMillis,
    pub received_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// One stored session transition (see `vigil_core::session`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTransitionRow {
    pub exam_id: ExamId,
    pub student_id: StudentId,
    /// 1, 2, … per student.
    pub seq: u32,
    /// `vigil_core::session::Change::as_str`.
    pub change: String,
    /// For `add_time`.
    pub added_ms: Option<i64>,
    pub at: UnixMillis,
    pub by: String,
    pub reason: Option<String>,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    writer: mpsc::Sender<Job>,
    counters: Arc<writer::Counters>,
    blobs: Arc<dyn ObjectStore>,
    blob_location: BlobLocation,
    database_kind: &'static str,
    /// The last health check and when it ran; the lock makes checks single-flight.
    health: Arc<tokio::sync::Mutex<Option<(std::time::Instant, StoreHealth)>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("blobs", &self.blobs.to_string()).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database and blob directory under
    /// `data_dir`, runs migrations and starts the writer task.
    pub async fn open(config: &StoreConfig) -> Result<Store> {
        let dir = &config.data_dir;
        create_dir(dir)?;
        sqlx::any::install_default_drivers();
        let pool = match &config.database {
            DatabaseLocation::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", dir.join("vigil.db").display());
                // Set on every connection: the Any driver takes SQLite's
                // options from the URL, which has no place for these.
                let pragmas = match config.durability {
                    Durability::Process => SQLITE_PROCESS_DURABLE,
                    Durability::PowerLoss => SQLITE_POWER_LOSS_DURABLE,
                };
                let pool = AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            conn.execute(sqlx::raw_sql(pragmas)).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                SHARED_MIGRATIONS.run(&pool).await?;
                pool
            }
            // Every commit is durable on PostgreSQL's side (its own
            // `synchronous_commit`): both durabilities hold.
            DatabaseLocation::Postgres(url) => {
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?;
                database::postgres_migrations().run(&pool).await?;
                pool
            }
        };
        let (writer, counters) = writer::spawn(pool.clone()).await?;
        let blobs = config.blobs.open(dir).await?;
        Ok(Store {
            pool,
            writer,
            counters,
            blobs,
            blob_location: config.blobs.clone(),
            database_kind: config.database.kind(),
            health: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    async fn write(&self, write: Write) -> Result<()> {
        let (done, rx) = oneshot::channel();
        self.writer.send(Job { write, done }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Counters of the group-commit writer (batches, writes), for metrics.
    pub fn writer_stats(&self) -> WriterStats {
        self.counters.stats()
    }

    /// Cheap liveness check of the database.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Whether the database and the blob store answer: one cheap request
    /// each, at most once a second whoever asks (the rest get the last
    /// answer), one at a time.
    pub async fn health(&self) -> StoreHealth {
        let mut last = self.health.lock().await;
        if let Some((at, health)) = last.as_ref()
            && at.elapsed() < HEALTH_FRESH
        {
            return health.clone();
        }
        let health = StoreHealth {
            database: self.ping().await.map_err(|e| e.to_string()),
            blobs: blobs::probe(self.blobs.as_ref()).await.map_err(|e| e.to_string()),
            database_kind: self.database_kind,
            blob_kind: self.blob_location.kind(),
        };
        *last = Some((std::time::Instant::now(), health.clone()));
        health
    }

    // ------------------------------------------------------------ exams

    pub async fn create_exam(&self, exam: &Exam, now: UnixMillis) -> Result<()> {
        let settings = serde_json::to_string(&exam.settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let res = sqlx::query("INSERT INTO exams (id, title, settings, created_at) VALUES ($1, $2, $3, $4)")
            .bind(exam.id.as_str())
            .bind(&exam.title)
            .bind(settings)
            .bind(now)
            .execute(&self.pool)
            .await;
        map_unique(res, || format!("exam {}", exam.id))
    }

    pub async fn update_exam_settings(&self, exam_id: &ExamId, settings: &ExamSettings) -> Result<bool> {
        let json = serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let res = sqlx::query("UPDATE exams SET settings = $1 WHERE id = $2")
            .bind(json)
            .bind(exam_id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected() == 1)
    }

    pub async fn exam(&self, exam_id: &ExamId) -> Result<Option<Exam>> {
        let row = sqlx::query("SELECT id, title, settings FROM exams WHERE id = $1")
            .bind(exam_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| exam_from_row(&r)).transpose()
    }

    /// Stores one session transition, durably (it is acknowledged only
    /// once committed). A `seq` used already for the student is refused
    /// (`AlreadyExists`): two servers, or a bug, never interleave.
    pub async fn insert_transition(&self, row: &SessionTransitionRow) -> Result<()> {
        self.write(Write::Transition(row.clone())).await
    }

    /// Every session transition of the exam, per student in `seq` order.
    pub async fn exam_transitions(&self, exam_id: &ExamId) -> Result<Vec<SessionTransitionRow>> {
        self.transitions(exam_id, None).await
    }

    /// One student's session transitions, in `seq` order.
    pub async fn student_transitions(
        &self,
        exam_id: &ExamId,
        student_id: &StudentId,
    ) -> Result<Vec<SessionTransitionRow>> {
        self.transitions(exam_id, Some(student_id)).await
    }

    async fn transitions(&self, exam_id: &ExamId, student: Option<&StudentId>) -> Result<Vec<SessionTransitionRow>> {
        let rows = sqlx::query(
            "SELECT student_id, seq, change, added_ms, at, by_whom, reason FROM session_transitions \
             WHERE exam_id = $1 AND ($2 IS NULL OR student_id = $2) ORDER BY student_id, seq",
        )
        .bind(exam_id.as_str())
        .bind(student.map(|s| s.as_str()))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let seq: i64 = r.get("seq");
                Ok(SessionTransitionRow {
                    exam_id: exam_id.clone(),
                    student_id: parse_id(r.get("student_id"))?,
                    seq: u32::try_from(seq).map_err(|_| StoreError::Corrupt("transition seq".into()))?,
                    change: r.get("change"),
                    added_ms: r.get("added_ms"),
                    at: r.get("at"),
                    by: r.get("by_whom"),
                    reason: r.get("reason"),
                })
            })
            .collect()
    }

    /// Sets (or replaces) a student's accommodations: `body` is the JSON of
    /// `vigil_proto::Accommodations`, checked by the caller.
    pub async fn set_accommodations(
        &self,
        exam_id: &ExamId,
        student_id: &StudentId,
        body: &str,
        at: UnixMillis,
    ) -> Result<()> {
        let (exam_id, student_id, body) = (exam_id.clone(), student_id.clone(), body.to_owned());
        self.write(Write::Accommodations { exam_id, student_id, body, at }).await
    }

    /// Every student's accommodations in the exam, as stored JSON.
    pub async fn exam_accommodations(&self, exam_id: &ExamId) -> Result<Vec<(StudentId, String)>> {
        let rows = sqlx::query("SELECT student_id, body FROM accommodations WHERE exam_id = $1 ORDER BY student_id")
            .bind(exam_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(|r| Ok((parse_id(r.get("student_id"))?, r.get("body")))).collect()
    }

    /// Sets (or replaces) the exam's access code.
    pub async fn set_access_code(&self, exam_id: &ExamId, code: &str, at: UnixMillis) -> Result<()> {
        self.write(Write::AccessCode { exam_id: exam_id.clone(), code: code.to_owned(), at }).await
    }

    /// The exam's access code, if one was set.
    pub async fn access_code(&self, exam_id: &ExamId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT code FROM exam_access_codes WHERE exam_id = $1")
            .bind(exam_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get("code")))
    }

    pub async fn exams(&self) -> Result<Vec<Exam>> {
        let rows =
            sqlx::query("SELECT id, title, settings FROM exams ORDER BY created_at, id").fetch_all(&self.pool).await?;
        rows.iter().map(exam_from_row).collect()
    }

    pub async fn add_student(&self, exam_id: &ExamId, student: &Student) -> Result<()> {
        self.add_person(exam_id, Role::Student, student.id.as_str(), &student.name).await
    }

    pub async fn add_proctor(&self, exam_id: &ExamId, proctor: &Proctor) -> Result<()> {
        self.add_person(exam_id, Role::Proctor, proctor.id.as_str(), &proctor.name).await
    }

    async fn add_person(&self, exam_id: &ExamId, role: Role, id: &str, name: &str) -> Result<()> {
        let res = sqlx::query("INSERT INTO people (exam_id, role, id, name) VALUES ($1, $2, $3, $4)")
            .bind(exam_id.as_str())
            .bind(role_str(role))
            .bind(id)
            .bind(name)
            .execute(&self.pool)
            .await;
        map_unique(res, || format!("{} {id} in exam {exam_id}", role_str(role)))
    }

    pub async fn student(&self, exam_id: &ExamId, id: &StudentId) -> Result<Option<Student>> {
        let row = self.person(exam_id, Role::Student, id.as_str()).await?;
        row.map(|(id, name)| Ok(Student { id: parse_id(id)?, name })).transpose()
    }

    pub async fn proctor(&self, exam_id: &ExamId, id: &ProctorId) -> Result<Option<Proctor>> {
        let row = self.person(exam_id, Role::Proctor, id.as_str()).await?;
        row.map(|(id, name)| Ok(Proctor { id: parse_id(id)?, name })).transpose()
    }

    pub async fn students(&self, exam_id: &ExamId) -> Result<Vec<Student>> {
        let rows = self.people(exam_id, Role::Student).await?;
        rows.into_iter().map(|(id, name)| Ok(Student { id: parse_id(id)?, name })).collect()
    }

    pub async fn proctors(&self, exam_id: &ExamId) -> Result<Vec<Proctor>> {
        let rows = self.people(exam_id, Role::Proctor).await?;
        rows.into_iter().map(|(id, name)| Ok(Proctor { id: parse_id(id)?, name })).collect()
    }

    async fn person(&self, exam_id: &ExamId, role: Role, id: &str) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT id, name FROM people WHERE exam_id = $1 AND role = $2 AND id = $3")
            .bind(exam_id.as_str())
            .bind(role_str(role))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get("id"), r.get("name"))))
    }

    async fn people(&self, exam_id: &ExamId, role: Role) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT id, name FROM people WHERE exam_id = $1 AND role = $2 ORDER BY id")
            .bind(exam_id.as_str())
            .bind(role_str(role))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get("id"), r.get("name"))).collect())
    }

    // ------------------------------------------------------------ incidents

    /// Stores a new incident; returns once it is committed.
    pub async fn insert_incident(&self, exam_id: &ExamId, pending: &PendingIncident) -> Result<()> {
        self.write(Write::Incident { exam_id: exam_id.clone(), pending: pending.clone() }).await
    }

    /// Stores the end of an incident; returns once it is committed.
    pub async fn end_incident(
        &self,
        exam_id: &ExamId,
        student_id: &StudentId,
        incident_id: &IncidentId,
        seq: u64,
        ended_at: UnixMillis,
    ) -> Result<()> {
        self.write(Write::End {
            exam_id: exam_id.clone(),
            student_id: student_id.clone(),
            incident_id: incident_id.clone(),
            seq,
            ended_at,
        })
        .await
    }

    /// Every incident of an exam, for rebuilding ledgers at start-up.
    pub async fn exam_incidents(&self, exam_id: &ExamId) -> Result<Vec<StoredIncident>> {
        let rows = sqlx::query("SELECT * FROM incidents WHERE exam_id = $1 ORDER BY student_id, started_at, id")
            .bind(exam_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(incident_from_row).collect()
    }

    /// One student's incidents, oldest first.
    pub async fn student_incidents(&self, exam_id: &ExamId, student_id: &StudentId) -> Result<Vec<IncidentRecord>> {
        let rows =
            sqlx::query("SELECT * FROM incidents WHERE exam_id = $1 AND student_id = $2 ORDER BY started_at, id")
                .bind(exam_id.as_str())
                .bind(student_id.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| incident_from_row(r).map(|s| s.pending.record)).collect()
    }

    // ------------------------------------------------------------ evidence

    /// The frame with this hash in `exam`. Frames of other exams are not
    /// seen: the same bytes may be stored for two exams independently.
    pub async fn evidence(&self, exam_id: &ExamId, sha256: &str) -> Result<Option<EvidenceRow>> {
        let row = sqlx::query("SELECT * FROM evidence WHERE exam_id = $1 AND sha256 = $2")
            .bind(exam_id.as_str())
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| evidence_from_row(&r)).transpose()
    }

    /// Whether an exam other than `exam_id` holds a frame with this hash
    /// (the blob is shared between them).
    async fn blob_held_elsewhere(&self, exam_id: &ExamId, sha256: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM evidence WHERE sha256 = $1 AND exam_id <> $2 LIMIT 1")
            .bind(sha256)
            .bind(exam_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Whether any exam holds a frame with this hash.
    async fn blob_in_use(&self, sha256: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM evidence WHERE sha256 = $1 LIMIT 1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Writes the blob (content-addressed, so a repeat is harmless), then
    /// commits its metadata and binds it to its incident.
    pub async fn put_evidence(&self, row: &EvidenceRow, jpeg: bytes::Bytes) -> Result<()> {
        let path = blob_path(&row.sha256, row.media);
        self.blobs.put(&path, PutPayload::from_bytes(jpeg)).await?;
        let res = self.write(Write::Evidence(row.clone())).await;
        // No metadata, no blob: a frame nobody can account for must not
        // linger. Unless another upload of the same bytes (a concurrent
        // one, or another exam's) holds it.
        if res.is_err() && matches!(self.blob_in_use(&row.sha256).await, Ok(false)) {
            let _ = self.blobs.delete(&path).await;
        }
        res
    }

    /// The bytes of a frame or clip; callers look its row up in their exam
    /// first (it names the media, which names the blob).
    pub async fn evidence_bytes(&self, sha256: &str, media: EvidenceMedia) -> Result<bytes::Bytes> {
        Ok(self.blobs.get(&blob_path(sha256, media)).await?.bytes().await?)
    }

    /// Deletes a frame's bytes (already gone counts as deleted).
    async fn delete_evidence_blob(&self, sha256: &str, media: EvidenceMedia) -> Result<()> {
        match self.blobs.delete(&blob_path(sha256, media)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes evidence past its exam's retention; returns how many frames went.
    pub async fn purge_expired_evidence(&self, now: UnixMillis) -> Result<usize> {
        let rows = sqlx::query("SELECT exam_id, sha256, media FROM evidence WHERE expires_at <= $1")
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        let mut purged = 0;
        for r in rows {
            let sha: String = r.get("sha256");
            let exam_id = parse_id(r.get("exam_id"))?;
            // The blob first, then the row, as retention promises: a crash
            // between the two leaves a row whose frame reads as missing,
            // never a frame past its retention that no row points to.
            if !self.blob_held_elsewhere(&exam_id, &sha).await? {
                self.delete_evidence_blob(&sha, media_of(&r)?).await?;
            }
            self.write(Write::ForgetEvidence { exam_id, sha256: sha }).await?;
            purged += 1;
        }
        Ok(purged)
    }

    // ------------------------------------------------------------ actions

    pub async fn record_action(&self, action: &ActionRecord) -> Result<()> {
        self.write(Write::Action(action.clone())).await
    }

    /// The proctors' actions on one student, oldest first.
    pub async fn student_actions(&self, exam_id: &ExamId, student_id: &StudentId) -> Result<Vec<ActionRow>> {
        let rows = sqlx::query(
            "SELECT proctor_id, kind, text, minutes, at FROM proctor_actions \
             WHERE exam_id = $1 AND student_id = $2 ORDER BY at, rowid",
        )
        .bind(exam_id.as_str())
        .bind(student_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let minutes: Option<i64> = r.get("minutes");
                Ok(ActionRow {
                    proctor_id: parse_id(r.get("proctor_id"))?,
                    kind: r.get("kind"),
                    text: r.get("text"),
                    minutes: minutes.and_then(|m| u32::try_from(m).ok()),
                    at: r.get("at"),
                })
            })
            .collect()
    }
}

/// A proctor action to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRecord {
    pub exam_id: ExamId,
    pub student_id: StudentId,
    pub proctor_id: ProctorId,
    /// `ProctorActionKind`'s wire name.
    pub kind: String,
    pub text: Option<String>,
    pub minutes: Option<u32>,
    pub at: UnixMillis,
}

/// One recorded proctor action, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRow {
    pub proctor_id: ProctorId,
    /// `ProctorActionKind`'s wire name.
    pub kind: String,
    pub text: Option<String>,
    pub minutes: Option<u32>,
    pub at: UnixMillis,
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.to_owned(), source })
}

fn blob_path(sha256: &str, media: EvidenceMedia) -> ObjectPath {
    // Two levels of fan-out keep directories small on plain filesystems.
    let (a, b) = (sha256.get(0..2).unwrap_or("xx"), sha256.get(2..4).unwrap_or("xx"));
    let extension = match media {
        EvidenceMedia::Jpeg => "jpg",
        EvidenceMedia::Wav => "wav",
    };
    ObjectPath::from(format!("{a}/{b}/{sha256}.{extension}"))
}

/// A row's `media` column.
fn media_of(r: &sqlx::any::AnyRow) -> Result<EvidenceMedia> {
    let media: String = r.get("media");
    EvidenceMedia::parse(&media).ok_or_else(|| StoreError::Corrupt(format!("evidence media {media:?}")))
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::Student => "student",
        Role::Proctor => "proctor",
    }
}

fn map_unique(
    res: std::result::Result<sqlx::any::AnyQueryResult, sqlx::Error>,
    what: impl FnOnce() -> String,
) -> Result<()> {
    match res {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::AlreadyExists(what())),
        Err(e) => Err(e.into()),
    }
}

fn exam_from_row(r: &sqlx::any::AnyRow) -> Result<Exam> {
    let settings: String = r.get("settings");
    Ok(Exam {
        id: parse_id(r.get("id"))?,
        title: r.get("title"),
        settings: serde_json::from_str(&settings).map_err(|e| StoreError::Corrupt(format!("exam settings: {e}")))?,
    })
}

/// Ids were parsed before they were stored; one that no longer parses means
/// the database was edited by hand or is damaged.
fn parse_id<T: TryFrom<String, Error = IdError>>(raw: String) -> Result<T> {
    T::try_from(raw.clone()).map_err(|e| StoreError::Corrupt(format!("id {raw:?}: {e}")))
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|x| u64::try_from(x).ok())
}

fn incident_from_row(r: &sqlx::any::AnyRow) -> Result<StoredIncident> {
    let kind: String = r.get("kind");
    let source: String = r.get("source");
    let fingerprint_hex: String = r.get("fingerprint");
    let mut fingerprint = [0u8; 32];
    hex::decode_to_slice(&fingerprint_hex, &mut fingerprint)
        .map_err(|e| StoreError::Corrupt(format!("incident fingerprint: {e}")))?;
    let record = IncidentRecord {
        id: parse_id(r.get("id"))?,
        student_id: parse_id(r.get("student_id"))?,
        kind: IncidentKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("incident kind {kind}")))?,
        source: match source.as_str() {
            "client" => IncidentSource::Client,
            "server" => IncidentSource::Server,
            other => return Err(StoreError::Corrupt(format!("incident source {other}"))),
        },
        started_at: r.get("started_at"),
        ended_at: r.get("ended_at"),
        confidence: r.get("confidence"),
        detail: r.get("detail"),
        accepted_at: r.get("accepted_at"),
        evidence_sha256: r.get("evidence_sha256"),
        during_pause: r.get::<i64, _>("during_pause") != 0,
    };
    Ok(StoredIncident {
        pending: PendingIncident { record, seq: opt_u64(r.get("seq")), fingerprint },
        end_seq: opt_u64(r.get("end_seq")),
    })
}

fn evidence_from_row(r: &sqlx::any::AnyRow) -> Result<EvidenceRow> {
    let width: i64 = r.get("width");
    let height: i64 = r.get("height");
    let bytes: i64 = r.get("bytes");
    let duration_ms: Option<i64> = r.get("duration_ms");
    Ok(EvidenceRow {
        sha256: r.get("sha256"),
        exam_id: parse_id(r.get("exam_id"))?,
        student_id: parse_id(r.get("student_id"))?,
        incident_id: parse_id(r.get("incident_id"))?,
        media: media_of(r)?,
        duration_ms: duration_ms
            .map(|d| u32::try_from(d).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()?,
        width: u32::try_from(width).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        height: u32::try_from(height).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        bytes: u64::try_from(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        captured_at: r.get("captured_at"),
        received_at: r.get("received_at"),
        expires_at: r.get("expires_at"),
    })
}

#[cfg(test)]
mod tests;
