//! Live exam state: one [`ExamRuntime`] per exam in use, loaded from the
//! store on first use and rebuilt from stored incidents, so a restart
//! recovers every ledger and score exactly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use std::borrow::Cow;
use tokio::sync::OnceCell;
use vigil_core::ledger::{Ledger, Limits};
use vigil_core::presence::PresenceTracker;
use vigil_core::rate::{RateLimit, TokenBucket};

use vigil_core::session::{Change, Session, Timing, Transition};
use vigil_core::settings::{for_student, timing_for};
use vigil_core::worker::WorkerWatch;
use vigil_proto::events::{IncidentRecord, ScoreView, StudentView};
use vigil_proto::{Accommodations, Exam, ExamId, ExamSettings, Quality, SessionPhase, SessionView, Student, StudentId};
use vigil_store::{SessionTransitionRow, Store, StoreError};

use super::conn::{ConnectionId, lock};
use crate::clock::Clock;

/// Signals and heartbeats per student: a browser sends about 1–2 a second.
const SIGNAL_RATE: RateLimit = RateLimit { burst: 20, per_second: 5.0 };
/// Evidence uploads per student: one per incident, so the same budget as
/// incidents themselves.
const EVIDENCE_RATE: RateLimit = RateLimit { burst: 20, per_second: 2.0 };
/// Handshakes per student: a reload or a network change is one; a loop of
/// reconnects would flood every proctor with presence changes.
const HANDSHAKE_RATE: RateLimit = RateLimit { burst: 10, per_second: 0.5 };
/// WebRTC signalling per student (`rtc_publish` and `rtc_candidate`): a
/// publish and its dozen trickled candidates, a few times a minute at most.
const SIGNALLING_RATE: RateLimit = RateLimit { burst: 40, per_second: 2.0 };
/// Identity photo uploads per student: a few takes of each photo.
const IDENTITY_RATE: RateLimit = RateLimit { burst: 6, per_second: 0.1 };
/// A student's reads of their own record (and appeals).
const RECORD_RATE: RateLimit = RateLimit { burst: 20, per_second: 1.0 };
/// Live connections per student: a second tab, and a reload whose old
/// socket has not closed yet. The next one replaces the oldest.
pub const MAX_STUDENT_CONNECTIONS: usize = 3;

/// What proctors see of a student between score changes.
#[derive(Debug)]
pub struct Live {
    pub score: ScoreView,
    pub last_incident: Option<IncidentRecord>,
    pub quality: Quality,
    pub signal_bucket: TokenBucket,
    pub evidence_bucket: TokenBucket,
    pub handshake_bucket: TokenBucket,
    pub signalling_bucket: TokenBucket,
    pub worker: WorkerWatch,
    /// This student's live connections, oldest first.
    pub connections: std::collections::VecDeque<ConnectionId>,
    /// Chat messages sent, and `chat_sync` asks.
    pub chat_bucket: TokenBucket,
    pub chat_sync_bucket: TokenBucket,
    /// Identity photo uploads.
    pub identity_bucket: TokenBucket,
    /// Reads of the student's own record and appeals.
    pub record_bucket: TokenBucket,
    /// Uplink probes (`service::uplink`).
    pub probe_bucket: TokenBucket,
}

#[derive(Debug)]
pub struct StudentCell {
    pub student: Student,
    /// Held from check to commit, across the durable write: one decision at
    /// a time per student, and students never wait for each other.
    pub ledger: tokio::sync::Mutex<Ledger>,
    pub live: Mutex<Live>,
    /// The connection whose camera the SFU forwards, so a stale connection
    /// closing after a reconnect does not end the new publication.
    pub publishing: Mutex<Option<ConnectionId>>,
    /// One evidence upload in flight per student.
    pub evidence_slot: Arc<tokio::sync::Semaphore>,
    /// One uplink probe in flight per student.
    pub probe_slot: Arc<tokio::sync::Semaphore>,
    /// The exam session, as its stored transitions left it.
    pub session: Mutex<SessionState>,
    /// Extra time, detectors off and a note for proctors, if any were set.
    pub accommodations: Mutex<Option<Accommodations>>,
    /// Held from check to apply, across the durable write: one transition
    /// at a time per student.
    pub session_writes: tokio::sync::Mutex<()>,
    /// Set (under the ledger and session locks) when the student's data was
    /// erased: a message still queued on one of their sockets must not
    /// write anything for them again.
    pub erased: std::sync::atomic::AtomicBool,
}

impl StudentCell {
    pub fn is_erased(&self) -> bool {
        self.erased.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// A session and the number its next stored transition gets.
#[derive(Debug, Clone, Default)]
pub struct SessionState {
    pub session: Session,
    pub next_seq: u32,
}

impl StudentCell {
    fn new(
        student: Student,
        ledger: Ledger,
        score: ScoreView,
        last_incident: Option<IncidentRecord>,
        session: SessionState,
        accommodations: Option<Accommodations>,
    ) -> Self {
        StudentCell {
            student,
            ledger: tokio::sync::Mutex::new(ledger),
            live: Mutex::new(Live {
                score,
                last_incident,
                quality: Quality::Unknown,
                signal_bucket: TokenBucket::new(SIGNAL_RATE),
                evidence_bucket: TokenBucket::new(EVIDENCE_RATE),
                handshake_bucket: TokenBucket::new(HANDSHAKE_RATE),
                signalling_bucket: TokenBucket::new(SIGNALLING_RATE),
                worker: WorkerWatch::default(),
                connections: std::collections::VecDeque::new(),
                chat_bucket: TokenBucket::new(vigil_core::chat::STUDENT_RATE),
                chat_sync_bucket: TokenBucket::new(vigil_core::chat::SYNC_RATE),
                identity_bucket: TokenBucket::new(IDENTITY_RATE),
                record_bucket: TokenBucket::new(RECORD_RATE),
                probe_bucket: TokenBucket::new(vigil_core::uplink::PROBE_RATE),
            }),
            publishing: Mutex::new(None),
            evidence_slot: Arc::new(tokio::sync::Semaphore::new(1)),
            probe_slot: Arc::new(tokio::sync::Semaphore::new(1)),
            session: Mutex::new(session),
            session_writes: tokio::sync::Mutex::new(()),
            accommodations: Mutex::new(accommodations),
            erased: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn id(&self) -> &StudentId {
        &self.student.id
    }

    pub fn session_phase(&self) -> SessionPhase {
        lock(&self.session).session.phase()
    }

    /// The session's view under this student's timing in `exam`.
    pub fn session_view(&self, exam: &Exam) -> SessionView {
        let timing = self.timing_in(exam);
        lock(&self.session).session.view(&timing)
    }

    /// What the server must change in the session at `now`: its end when
    /// its time or window has run out, the end of a break whose time is up.
    pub fn session_due(&self, exam: &Exam, now: vigil_proto::UnixMillis) -> Option<Change> {
        let timing = self.timing_in(exam);
        let state = lock(&self.session);
        if state.session.expires_at_now(&timing, now) {
            Some(Change::Expire)
        } else if state.session.break_over_at_now(&timing, now) {
            Some(Change::BreakEnd)
        } else {
            None
        }
    }

    pub fn accommodations(&self) -> Option<Accommodations> {
        lock(&self.accommodations).clone()
    }

    /// The exam's settings as they apply to this student (their
    /// accommodations on top); borrowed when they have none, the usual case
    /// on the incident path.
    pub fn settings_in<'e>(&self, exam: &'e Exam) -> Cow<'e, ExamSettings> {
        match lock(&self.accommodations).as_ref() {
            None => Cow::Borrowed(&exam.settings),
            Some(a) => Cow::Owned(for_student(&exam.settings, Some(a))),
        }
    }

    /// This student's exam timing (their extra time included).
    pub fn timing_in(&self, exam: &Exam) -> Timing {
        timing_for(&exam.settings, lock(&self.accommodations).as_ref())
    }
}

#[derive(Debug)]
pub struct ExamRuntime {
    id: ExamId,
    /// Replaced whole when an instructor changes the settings, so a reader
    /// holds one consistent version for as long as it needs it.
    exam: RwLock<Arc<Exam>>,
    students: RwLock<HashMap<StudentId, Arc<StudentCell>>>,
    pub presence: Mutex<PresenceTracker>,
    /// Held from numbering a chat message to its commit: the exam's
    /// messages are stored in the order of their numbers, so a page that
    /// has seen number n has seen every earlier one it may see.
    pub chat: tokio::sync::Mutex<ChatState>,
}

/// An exam's chat numbering and announcement budget.
#[derive(Debug)]
pub struct ChatState {
    pub last_seq: u64,
    pub announcements: TokenBucket,
}

impl ExamRuntime {
    pub fn id(&self) -> &ExamId {
        &self.id
    }

    /// The exam as it is now.
    pub fn exam(&self) -> Arc<Exam> {
        lock_read(&self.exam).clone()
    }

    /// Swaps in changed settings (already stored); the title and id stay.
    pub fn replace_settings(&self, settings: vigil_proto::ExamSettings) -> Arc<Exam> {
        let mut exam = lock_write(&self.exam);
        let changed = Arc::new(Exam { settings, ..Exam::clone(&exam) });
        *exam = changed.clone();
        changed
    }

    pub fn stall_after_ms(&self) -> i64 {
        i64::from(self.exam().settings.stall_after_s) * 1000
    }

    pub fn cached_student(&self, student_id: &StudentId) -> Option<Arc<StudentCell>> {
        lock_read(&self.students).get(student_id).cloned()
    }

    /// Every student's tile, sorted by id.
    pub fn views(&self) -> Vec<StudentView> {
        let cells: Vec<Arc<StudentCell>> = lock_read(&self.students).values().cloned().collect();
        let exam = self.exam();
        let presence = lock(&self.presence);
        let mut views: Vec<StudentView> = cells.iter().map(|c| view_of(c, &presence, &exam)).collect();
        views.sort_by(|a, b| a.student.id.cmp(&b.student.id));
        views
    }

    /// One student's tile.
    pub fn view(&self, cell: &StudentCell) -> StudentView {
        view_of(cell, &lock(&self.presence), &self.exam())
    }

    /// Takes a student out of the live exam (their data was erased).
    pub fn remove_student(&self, student_id: &StudentId) -> Option<Arc<StudentCell>> {
        let cell = lock_write(&self.students).remove(student_id);
        lock(&self.presence).forget(student_id);
        cell
    }

    /// Every student loaded, for timers that walk them.
    pub fn cells(&self) -> Vec<Arc<StudentCell>> {
        lock_read(&self.students).values().cloned().collect()
    }
}

fn view_of(cell: &StudentCell, presence: &PresenceTracker, exam: &Exam) -> StudentView {
    let session = cell.session_view(exam);
    let accommodations = cell.accommodations();
    let live = lock(&cell.live);
    StudentView {
        student: cell.student.clone(),
        score: live.score,
        presence: presence.presence(cell.id()),
        quality: live.quality,
        session,
        accommodations,
        last_incident: live.last_incident.clone(),
    }
}

/// A roster entry looked up in a loaded exam.
#[derive(Debug)]
pub struct Found {
    pub cell: Arc<StudentCell>,
    /// Added to the roster since the exam was loaded (or the last lookup):
    /// proctors' dashboards do not have this student's tile yet.
    pub new: bool,
}

fn lock_read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

fn lock_write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

/// The exams in use, each loaded from the store on first use.
#[derive(Debug)]
pub struct ExamRegistry {
    store: Store,
    limits: Limits,
    clock: Arc<dyn Clock>,
    loaded: Mutex<HashMap<ExamId, Arc<OnceCell<Arc<ExamRuntime>>>>>,
}

impl ExamRegistry {
    pub fn new(store: Store, limits: Limits, clock: Arc<dyn Clock>) -> Self {
        ExamRegistry { store, limits, clock, loaded: Mutex::new(HashMap::new()) }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The runtime of `exam_id`, loading it on first use. `None`: no such exam.
    pub async fn get(&self, exam_id: &ExamId) -> Result<Option<Arc<ExamRuntime>>, StoreError> {
        let cell = lock(&self.loaded).entry(exam_id.clone()).or_default().clone();
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

    /// Drops an exam's runtime (another node holds it now); the next use
    /// loads it again from the store.
    pub fn unload(&self, exam_id: &ExamId) {
        lock(&self.loaded).remove(exam_id);
    }

    /// Whether `exam_id`'s runtime is loaded here (or being loaded).
    pub fn is_loaded(&self, exam_id: &ExamId) -> bool {
        lock(&self.loaded).contains_key(exam_id)
    }

    /// Whether `rt` is the runtime loaded here for its exam (not one given
    /// up since, even if the exam was loaded again).
    pub fn is_current(&self, rt: &Arc<ExamRuntime>) -> bool {
        lock(&self.loaded).get(rt.id()).and_then(|c| c.get()).is_some_and(|loaded| Arc::ptr_eq(loaded, rt))
    }

    /// Runtimes loaded so far (for timers that walk exams, not students).
    pub fn loaded(&self) -> Vec<Arc<ExamRuntime>> {
        lock(&self.loaded).values().filter_map(|c| c.get().cloned()).collect()
    }

    /// A student of a loaded exam; looks in the store for one added since the
    /// exam was loaded. `None`: not on the roster.
    pub async fn student(&self, rt: &ExamRuntime, student_id: &StudentId) -> Result<Option<Found>, StoreError> {
        if let Some(cell) = rt.cached_student(student_id) {
            return Ok(Some(Found { cell, new: false }));
        }
        let Some(student) = self.store.student(rt.id(), student_id).await? else {
            return Ok(None);
        };
        let accommodations = stored_accommodations(self.store.exam_accommodations(rt.id()).await?).remove(student_id);
        Ok(Some(self.insert(rt, student, accommodations)))
    }

    /// Students just put on the roster (already stored), added to a loaded
    /// exam; those it has already are left as they are.
    pub fn added(&self, rt: &ExamRuntime, students: Vec<Student>) -> Vec<Found> {
        students.into_iter().map(|s| self.insert(rt, s, None)).collect()
    }

    fn insert(&self, rt: &ExamRuntime, student: Student, accommodations: Option<Accommodations>) -> Found {
        let id = student.id.clone();
        let ledger = Ledger::new(id.clone(), &self.limits);
        let score = ledger.score_view(&rt.exam().settings, self.clock.now_ms());
        let fresh = Arc::new(StudentCell::new(student, ledger, score, None, SessionState::default(), accommodations));
        let cell = lock_write(&rt.students).entry(id).or_insert_with(|| fresh.clone()).clone();
        Found { new: Arc::ptr_eq(&cell, &fresh), cell }
    }

    async fn load(&self, exam_id: &ExamId) -> Result<Arc<ExamRuntime>, LoadError> {
        let exam = self.store.exam(exam_id).await?.ok_or(LoadError::Missing)?;
        let roster = self.store.students(exam_id).await?;
        let stored = self.store.exam_incidents(exam_id).await?;
        let mut sessions = replay_sessions(self.store.exam_transitions(exam_id).await?);
        let mut accommodations = stored_accommodations(self.store.exam_accommodations(exam_id).await?);
        let mut ledgers: HashMap<StudentId, (Ledger, Option<IncidentRecord>)> =
            roster.iter().map(|s| (s.id.clone(), (Ledger::new(s.id.clone(), &self.limits), None))).collect();
        for s in &stored {
            let r = &s.pending.record;
            let Some((ledger, last)) = ledgers.get_mut(&r.student_id) else {
                tracing::warn!(exam = %exam_id, student = %r.student_id, "stored incident of a student not on the roster");
                continue;
            };
            ledger.restore(&exam.settings, &s.pending, s.end_seq);
            if last.as_ref().is_none_or(|l: &IncidentRecord| l.started_at <= r.started_at) {
                *last = Some(r.clone());
            }
        }
        let last_chat_seq = self.store.last_chat_seq(exam_id).await?;
        let now = self.clock.now_ms();
        let students = roster
            .into_iter()
            .map(|s| {
                let (ledger, last) =
                    ledgers.remove(&s.id).unwrap_or_else(|| (Ledger::new(s.id.clone(), &self.limits), None));
                let score = ledger.score_view(&exam.settings, now);
                let session = sessions.remove(&s.id).unwrap_or_default();
                let accommodations = accommodations.remove(&s.id);
                (s.id.clone(), Arc::new(StudentCell::new(s, ledger, score, last, session, accommodations)))
            })
            .collect();
        tracing::info!(exam = %exam_id, incidents = stored.len(), "exam loaded");
        Ok(Arc::new(ExamRuntime {
            id: exam.id.clone(),
            exam: RwLock::new(Arc::new(exam)),
            students: RwLock::new(students),
            presence: Mutex::new(PresenceTracker::default()),
            chat: tokio::sync::Mutex::new(ChatState {
                last_seq: last_chat_seq,
                announcements: TokenBucket::new(vigil_core::chat::ANNOUNCEMENT_RATE),
            }),
        }))
    }
}

/// Each student's session from its stored transitions, in order. A stored
/// transition that no longer applies (a bug, or a hand edit) is skipped
/// and logged; the numbering goes on after the highest stored.
fn replay_sessions(rows: Vec<SessionTransitionRow>) -> HashMap<StudentId, SessionState> {
    let mut sessions: HashMap<StudentId, SessionState> = HashMap::new();
    for row in rows {
        let state = sessions.entry(row.student_id.clone()).or_default();
        state.next_seq = state.next_seq.max(row.seq + 1);
        let Some(change) = Change::parse(&row.change, row.added_ms) else {
            tracing::warn!(student = %row.student_id, change = %row.change, "unknown stored session change; skipped");
            continue;
        };
        let transition = Transition { change, at: row.at, reason: row.reason };
        if let Err(e) = state.session.apply(&transition) {
            tracing::warn!(student = %row.student_id, seq = row.seq, error = %e, "stored session transition does not apply; skipped");
        }
    }
    sessions
}

/// Stored accommodations by student; one that no longer parses is logged
/// and left out (the student then has none until they are set again).
fn stored_accommodations(rows: Vec<(StudentId, String)>) -> HashMap<StudentId, Accommodations> {
    rows.into_iter()
        .filter_map(|(id, body)| match serde_json::from_str::<Accommodations>(&body) {
            Ok(a) => Some((id, a)),
            Err(e) => {
                tracing::warn!(student = %id, error = %e, "stored accommodations do not parse; skipped");
                None
            }
        })
        .collect()
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
