//! After the exam: the review queue, a student's whole record, reviewers'
//! decisions and their history. HTTP bodies (see docs/PROTOCOL.md, "Review").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::events::{ChatMessage, IdentityPhoto, IncidentRecord, RecordedAction};
use crate::{Accommodations, Exam, IncidentId, IncidentKind, ProctorId, SessionView, Student, UnixMillis};

/// A reviewer's conclusion about one student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    NoConcern,
    Concern,
    Violation,
}

/// A reviewer's reading of one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum IncidentVerdict {
    /// It happened as flagged.
    Confirmed,
    /// A false alarm: it no longer counts towards the student's review priority or score curve.
    Dismissed,
}

/// One version of the decision on a student. Versions count from 1; each
/// change is a new version, and none is ever rewritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Decision {
    pub version: u32,
    pub verdict: Verdict,
    pub note: String,
    pub reviewer: ProctorId,
    pub at: UnixMillis,
    /// The verdict this version replaced; absent for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub previous: Option<Verdict>,
}

/// `PUT /api/v1/exams/{exam}/students/{student}/decision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SetDecision {
    pub verdict: Verdict,
    /// Why, for the record and for the student: 1–2,000 characters, required.
    pub note: String,
    /// The version this change was made on (0 when there was none): if
    /// another reviewer decided meanwhile, the change is refused
    /// (`stale_transition`) rather than silently overwriting theirs.
    pub based_on: u32,
}

/// One reviewer's reading of one incident, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IncidentReview {
    pub incident_id: IncidentId,
    pub verdict: IncidentVerdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub note: Option<String>,
    pub reviewer: ProctorId,
    pub at: UnixMillis,
}

/// `PUT /api/v1/exams/{exam}/students/{student}/incidents/{incident}/review`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ReviewIncident {
    pub verdict: IncidentVerdict,
    /// At most 2,000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub note: Option<String>,
}

/// The score at one moment, recomputed from the stored incidents that
/// count (not dismissed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
pub struct ScorePoint {
    pub at: UnixMillis,
    pub score: f64,
}

/// What ranks a student for review, and its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ReviewPriority {
    /// Higher is reviewed first: `peak_score / alert_at`, plus a quarter of
    /// the weights of the distinct kinds seen over `alert_at`, plus 0.1 per
    /// unreviewed incident (up to 20), plus 0.2 per heartbeat or media gap
    /// (up to 10). Dismissed incidents count in none of it.
    pub priority: f64,
    pub peak_score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub peak_at: Option<UnixMillis>,
    /// Incidents by kind (dismissed ones left out).
    pub counts: BTreeMap<IncidentKind, u32>,
    /// Incidents that count (dismissed ones left out).
    pub incident_count: u32,
    /// Incidents no reviewer has confirmed or dismissed.
    pub unreviewed: u32,
    /// `heartbeat_lost` and `media_stalled`: times the server lost sight of the student.
    pub gaps: u32,
}

/// One row of the review queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ReviewRow {
    pub student: Student,
    #[serde(flatten)]
    #[ts(flatten)]
    pub priority: ReviewPriority,
    pub session: SessionView,
    /// The latest decision, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub decision: Option<Decision>,
}

/// `GET /api/v1/exams/{exam}/review`: every student, highest priority first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ReviewQueue {
    pub exam: Exam,
    pub students: Vec<ReviewRow>,
    /// Students with a decision, of `students.len()`.
    pub decided: u32,
}

/// A stored session transition, for the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RecordedTransition {
    /// `start`, `pause`, `resume`, `submit`, `terminate`, `expire`, `add_time`,
    /// `identity_submit`, `identity_approve`, `identity_reject`, `break_start`, `break_end`.
    pub change: String,
    pub at: UnixMillis,
    /// `student`, `server`, or `proctor:<id>`.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reason: Option<String>,
    /// With `add_time`: how much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub added_ms: Option<i64>,
}

/// `GET /api/v1/exams/{exam}/students/{student}/review`: one student's whole
/// record from the store, for a reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StudentReview {
    pub exam: Exam,
    pub student: Student,
    pub session: SessionView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub accommodations: Option<Accommodations>,
    #[serde(flatten)]
    #[ts(flatten)]
    pub priority: ReviewPriority,
    /// Oldest first.
    pub incidents: Vec<IncidentRecord>,
    /// Every reading of every incident, oldest first (the latest per incident counts).
    pub incident_reviews: Vec<IncidentReview>,
    /// The score after each incident that counts, oldest first; between two
    /// points it decays with the exam's half-life.
    pub score_curve: Vec<ScorePoint>,
    pub transitions: Vec<RecordedTransition>,
    pub actions: Vec<RecordedAction>,
    pub chat: Vec<ChatMessage>,
    pub identity_photos: Vec<IdentityPhoto>,
    /// Every version of the decision, oldest first.
    pub decisions: Vec<Decision>,
    /// The student's responses to decisions, oldest first.
    pub appeals: Vec<Appeal>,
}

/// One entry of an exam's audit log (`GET /api/v1/exams/{exam}/audit`, admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AuditRecord {
    pub at: UnixMillis,
    /// `proctor:<id>`, `student:<id>` or `admin`.
    pub actor: String,
    /// `view_record`, `view_evidence`, `view_identity_photo`, `decide`, `review_incident`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub student_id: Option<crate::StudentId>,
    /// What exactly: the evidence frame's hash, the verdict, the incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub detail: Option<String>,
}

/// `GET /api/v1/exams/{exam}/export.json`: the whole exam, every student's
/// record as a reviewer reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExamArchive {
    pub exam: Exam,
    pub proctors: Vec<crate::Proctor>,
    pub students: Vec<StudentReview>,
    pub exported_at: UnixMillis,
}

/// A student's written response to one version of the decision on them
/// (an appeal): one per version, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Appeal {
    pub decision_version: u32,
    pub text: String,
    pub at: UnixMillis,
}

/// `POST /api/v1/me/appeals` (student).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SubmitAppeal {
    /// The decision version answered.
    pub decision_version: u32,
    /// 1–5,000 characters.
    pub text: String,
}

/// `GET /api/v1/me/record` (student): the student's own record: what was
/// flagged and kept about them, what reviewers read and decided, and their
/// appeals. Never another student's, and never the proctors' notes on their
/// accommodations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StudentRecord {
    pub exam_id: crate::ExamId,
    pub exam_title: String,
    pub student: Student,
    pub session: SessionView,
    /// Oldest first; a kept frame is at `GET /api/v1/me/evidence/{sha256}`.
    pub incidents: Vec<IncidentRecord>,
    pub incident_reviews: Vec<IncidentReview>,
    pub transitions: Vec<RecordedTransition>,
    pub actions: Vec<RecordedAction>,
    pub chat: Vec<ChatMessage>,
    pub identity_photos: Vec<IdentityPhoto>,
    pub decisions: Vec<Decision>,
    pub appeals: Vec<Appeal>,
}

/// The file a recording segment is: WebM for VP8, MP4 for H.264 (WebM
/// cannot hold H.264). Both play and seek on their own in a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RecordingContainer {
    /// `video/webm`, VP8.
    #[default]
    Webm,
    /// `video/mp4`, H.264 (moov first, so it plays before the last byte).
    Mp4,
}

impl RecordingContainer {
    pub fn content_type(self) -> &'static str {
        match self {
            RecordingContainer::Webm => "video/webm",
            RecordingContainer::Mp4 => "video/mp4",
        }
    }

    /// The file extension, and the word stored for it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingContainer::Webm => "webm",
            RecordingContainer::Mp4 => "mp4",
        }
    }
}

/// One stored segment of a student's camera recording (privacy tier
/// `recording`): about a minute of video that plays and seeks on its own.
/// `GET …/students/{student}/recording/{sha256}` serves its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RecordingSegment {
    pub sha256: String,
    /// What file the bytes are (absent from servers before H.264: WebM).
    #[serde(default)]
    pub container: RecordingContainer,
    /// When its first frame arrived at the server: where it sits on the
    /// exam's timeline, next to the incidents.
    pub started_at: UnixMillis,
    pub duration_ms: u64,
    pub frames: u64,
    pub keyframes: u64,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// What `DELETE …/students/{student}/data` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ErasureReport {
    pub incidents: u64,
    pub evidence_frames: u64,
    pub chat_messages: u64,
    pub identity_photos: u64,
}
