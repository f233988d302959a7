//! Live exam state: one [`ExamRuntime`] per exam in use, loaded from the
//! store on first use and rebuilt from stored incidents, so a restart
//! recovers every ledger and score exactly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::OnceCell;
use vigil_core::ledger::{Ledger, Limits};
use vigil_core::presence::PresenceTracker;
use vigil_core::rate::{RateLimit, TokenBucket};
use vigil_proto::events::{IncidentRecord, ScoreView, StudentView};
use vigil_proto::{Exam, Person, Quality, Role};
use vigil_store::{Store, StoreError};

use crate::clock::now_ms;

/// Signals and heartbeats per student: a browser sends about 1–2 a second.
const SIGNAL_RATE: RateLimit = RateLimit { burst: 20, per_second: 5.0 };

/// What proctors see of a student between score changes.
#[derive(Debug)]
pub struct Live {
    pub score: ScoreView,
    pub last_incident: Option<IncidentRecord>,
    pub quality: Quality,
    pub signal_bucket: TokenBucket,
}

#[derive(Debug)]
pub struct StudentCell {
    pub person: Person,
    /// Held from check to commit, across the durable write: one decision at
    /// a time per student, and students never wait for each other.
    pub ledger: tokio::sync::Mutex<Ledger>,
    pub live: Mutex<Live>,
    /// The socket whose camera the SFU forwards, so a stale socket closing
    /// after a reconnect does not end the new publication.
    pub publishing_socket: Mutex<Option<socketioxide::socket::Sid>>,
}

impl StudentCell {
    fn new(person: Person, ledger: Ledger, score: ScoreView, last_incident: Option<IncidentRecord>) -> Self {
        StudentCell {
            person,
            ledger: tokio::sync::Mutex::new(ledger),
            live: Mutex::new(Live {
                score,
                last_incident,
                quality: Quality::Unknown,
                signal_bucket: TokenBucket::new(SIGNAL_RATE),
            }),
            publishing_socket: Mutex::new(None),
        }
    }
}

#[derive(Debug)]
pub struct ExamRuntime {
    pub exam: Exam,
    students: RwLock<HashMap<String, Arc<StudentCell>>>,
    pub presence: Mutex<PresenceTracker>,
}

impl ExamRuntime {
    pub fn id(&self) -> &str {
        &self.exam.id
    }

    pub fn stall_after_ms(&self) -> i64 {
        i64::from(self.exam.settings.stall_after_s) * 1000
    }

    pub fn cached_student(&self, student_id: &str) -> Option<Arc<StudentCell>> {
        lock_read(&self.students).get(student_id).cloned()
    }

    /// Every student's tile, sorted by id.
    pub fn views(&self) -> Vec<StudentView> {
        let cells: Vec<Arc<StudentCell>> = lock_read(&self.students).values().cloned().collect();
        let presence = lock(&self.presence);
        let mut views: Vec<StudentView> = cells
            .iter()
            .map(|c| {
                let live = lock(&c.live);
                StudentView {
                    student: c.person.clone(),
                    score: live.score,
                    presence: presence.presence(&c.person.id),
                    quality: live.quality,
                    last_incident: live.last_incident.clone(),
                }
            })
            .collect();
        views.sort_by(|a, b| a.student.id.cmp(&b.student.id));
        views
    }
}

/// Poisoning only follows a panic in another holder; the state itself is
/// still consistent (every critical section is a few assignments), so go on.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock_read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

fn lock_write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug)]
pub struct ExamRegistry {
    store: Store,
    limits: Limits,
    loaded: Mutex<HashMap<String, Arc<OnceCell<Arc<ExamRuntime>>>>>,
}

impl ExamRegistry {
    pub fn new(store: Store, limits: Limits) -> Self {
        ExamRegistry { store, limits, loaded: Mutex::new(HashMap::new()) }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The runtime of `exam_id`, loading it on first use. `None`: no such exam.
    pub async fn get(&self, exam_id: &str) -> Result<Option<Arc<ExamRuntime>>, StoreError> {
        let cell = lock(&self.loaded).entry(exam_id.to_owned()).or_default().clone();
        let res = cell.get_or_try_init(|| self.load(exam_id)).await;
        match res {
            Ok(rt) => Ok(Some(rt.clone())),
            Err(LoadError::Missing) => {
                // Not cached: the exam may be created later.
                lock(&self.loaded).remove(exam_id);
                Ok(None)
            }
            Err(LoadError::Store(e)) => {
                lock(&self.loaded).remove(exam_id);
                Err(e)
            }
        }
    }

    /// Runtimes loaded so far (for timers that walk exams, not students).
    pub fn loaded(&self) -> Vec<Arc<ExamRuntime>> {
        lock(&self.loaded).values().filter_map(|c| c.get().cloned()).collect()
    }

    /// A student of a loaded exam; looks in the store for one added since the
    /// exam was loaded. `None`: not on the roster.
    pub async fn student(&self, rt: &ExamRuntime, student_id: &str) -> Result<Option<Arc<StudentCell>>, StoreError> {
        if let Some(c) = rt.cached_student(student_id) {
            return Ok(Some(c));
        }
        let Some(person) = self.store.person(rt.id(), Role::Student, student_id).await? else {
            return Ok(None);
        };
        let ledger = Ledger::new(&person.id, &self.limits);
        let score = ledger.score_view(&rt.exam.settings, now_ms());
        let cell = Arc::new(StudentCell::new(person, ledger, score, None));
        Ok(Some(lock_write(&rt.students).entry(student_id.to_owned()).or_insert(cell).clone()))
    }

    async fn load(&self, exam_id: &str) -> Result<Arc<ExamRuntime>, LoadError> {
        let exam = self.store.exam(exam_id).await?.ok_or(LoadError::Missing)?;
        let people = self.store.people(exam_id, Role::Student).await?;
        let stored = self.store.exam_incidents(exam_id).await?;
        let mut ledgers: HashMap<String, (Ledger, Option<IncidentRecord>)> =
            people.iter().map(|p| (p.id.clone(), (Ledger::new(&p.id, &self.limits), None))).collect();
        for s in &stored {
            let r = &s.pending.record;
            let Some((ledger, last)) = ledgers.get_mut(&r.student_id) else {
                tracing::warn!(exam = exam_id, student = %r.student_id, "stored incident of a student not on the roster");
                continue;
            };
            ledger.restore(&exam.settings, &s.pending, s.end_seq);
            if last.as_ref().is_none_or(|l: &IncidentRecord| l.started_at <= r.started_at) {
                *last = Some(r.clone());
            }
        }
        let now = now_ms();
        let students = people
            .into_iter()
            .map(|p| {
                let (ledger, last) = ledgers.remove(&p.id).unwrap_or_else(|| (Ledger::new(&p.id, &self.limits), None));
                let score = ledger.score_view(&exam.settings, now);
                (p.id.clone(), Arc::new(StudentCell::new(p, ledger, score, last)))
            })
            .collect();
        tracing::info!(exam = exam_id, incidents = stored.len(), "exam loaded");
        Ok(Arc::new(ExamRuntime {
            exam,
            students: RwLock::new(students),
            presence: Mutex::new(PresenceTracker::default()),
        }))
    }
}

enum LoadError {
    Missing,
    Store(StoreError),
}

impl From<StoreError> for LoadError {
    fn from(e: StoreError) -> Self {
        LoadError::Store(e)
    }
}

/// Detection quality from the latest signals: poor conditions, not suspicion.
pub fn quality_of(brightness: Option<f64>, confidence: Option<f64>) -> Quality {
    match (brightness, confidence) {
        (Some(b), _) if b < 0.15 => Quality::LowLight,
        (_, Some(c)) if c < 0.5 => Quality::LowConfidence,
        (None, None) => Quality::Unknown,
        _ => Quality::Good,
    }
}
