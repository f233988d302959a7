//! Socket.IO events and HTTP bodies, grouped by who sends them.
//!
//! Event names are constants here so the server and the generated clients
//! agree on them too; see docs/PROTOCOL.md for the flow.
//!
//! **Unknown fields.** Messages from students and proctors ignore fields they
//! do not know, so a newer client that adds one keeps working against an
//! older server; an unknown enum value (an incident kind, say) and a known
//! field with the wrong type or grammar are still refused. Admin bodies
//! (`CreateExam` with its settings, `AddPerson`, `IssueLink`, `RegisterLtiPlatform`) are strict instead: a typo in configuration
//! must not be silently ignored.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{
    Accommodations, ChatMessageId, Exam, ExamId, ExamSettings, IdentityPhotoKind, IncidentId, IncidentKind,
    IncidentSource, Level, Presence, Proctor, ProctorId, Quality, Rejection, Role, SessionView, Student, StudentId,
    UnixMillis,
};

/// Socket.IO namespaces and event names.
pub mod names {
    pub const STUDENT_NS: &str = "/student";
    pub const PROCTOR_NS: &str = "/proctor";

    // student -> server
    pub const INCIDENT: &str = "incident";
    pub const INCIDENT_END: &str = "incident_end";
    pub const SIGNALS: &str = "signals";
    pub const HEARTBEAT: &str = "heartbeat";
    /// The student begins the exam (their clock starts); ack `RequestAck`.
    pub const START: &str = "start";
    /// The student hands in; ack `RequestAck`.
    pub const SUBMIT: &str = "submit";
    /// The student's identity photos are uploaded: to the proctors' queue
    /// (or approved at once); ack `RequestAck`.
    pub const IDENTITY_SUBMIT: &str = "identity_submit";
    /// The student takes one of their breaks; ack `RequestAck`.
    pub const BREAK_START: &str = "break_start";
    /// The student is back from their break; ack `RequestAck`.
    pub const BREAK_END: &str = "break_end";
    /// The messages of the student's conversation and the exam's
    /// announcements after a point; ack `ChatHistory`.
    pub const CHAT_SYNC: &str = "chat_sync";
    /// Both ways on both namespaces: a chat message. Sent by a student
    /// (`ChatSend`) or a proctor (`ProctorChatSend`), answered with
    /// `ChatAck`; every stored message then reaches its conversation's
    /// pages and every proctor as a `ChatMessage`.
    pub const CHAT: &str = "chat";
    /// server -> student (`SessionView`) and server -> proctor
    /// (`SessionUpdate`): the student's session changed.
    pub const SESSION: &str = "session";
    // server -> student
    pub const WELCOME: &str = "welcome";
    pub const PROCTOR_ACTION: &str = "proctor_action";
    /// The student's assessment entry changed (the learning platform ended
    /// the attempt); the payload is the entry as it is now.
    pub const ASSESSMENT: &str = "assessment";
    /// The exam's settings changed (an instructor switched a detector off,
    /// extended the window, changed the assessment URL); the payload is the
    /// settings as they are now, to apply as if the welcome had carried them.
    pub const EXAM_SETTINGS: &str = "exam_settings";
    /// The exam's access code was set or replaced; no payload (`null`). A
    /// page showing the assessment asks `POST /api/v1/access-code` again.
    pub const ACCESS_CODE_CHANGED: &str = "access_code_changed";
    // proctor -> server
    pub const SNAPSHOT: &str = "snapshot";
    // server -> proctor
    pub const SCORE: &str = "score";
    pub const INCIDENT_NOTICE: &str = "incident";
    pub const PRESENCE: &str = "presence";
    pub const QUALITY: &str = "quality";
    /// The exam (title and settings) as it is after a change.
    pub const EXAM: &str = "exam";
    /// A student added to the roster after the snapshot, or whose
    /// accommodations changed: their tile (the score in it is no newer than
    /// what `score` updates said).
    pub const STUDENT_ADDED: &str = "student";
    // proctor -> server -> student
    pub const ACTION: &str = "action";
    // WebRTC signalling, on both namespaces
    /// student -> server: offer to publish the camera; ack carries the answer.
    pub const RTC_PUBLISH: &str = "rtc_publish";
    /// proctor -> server: offer with recvonly video slots; ack carries the answer.
    pub const RTC_SUBSCRIBE: &str = "rtc_subscribe";
    /// either way: a trickled ICE candidate.
    pub const RTC_CANDIDATE: &str = "rtc_candidate";
    /// proctor -> server: show a student in a slot.
    pub const WATCH: &str = "watch";
    /// proctor -> server: empty a slot.
    pub const UNWATCH: &str = "unwatch";
    /// server -> proctor: what a slot now shows.
    pub const SLOT: &str = "slot";
}

/// Socket.IO handshake `auth` payload for both namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct HandshakeAuth {
    pub token: String,
}

// ---------------------------------------------------------------- student

/// Sent by the server right after a student's handshake is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StudentWelcome {
    pub student: Student,
    pub exam_id: ExamId,
    pub exam_title: String,
    pub settings: ExamSettings,
    /// One more than the highest sequence number used so far (1 for a new
    /// student): a client that lost its local counter resumes from here.
    /// Unused numbers down to 63 below the highest are still accepted.
    pub next_seq: u64,
    pub server_time: UnixMillis,
    /// Where the student's session is: a reloaded page resumes there (a
    /// paused session stays paused; an ended one shows its end).
    pub session: SessionView,
    /// How the student reaches the assessment, when it is the platform's
    /// rather than the page's own; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub assessment: Option<AssessmentEntry>,
}

/// Where the student's assessment comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssessmentEntry {
    /// LTI Proctoring Services: the learning platform started this attempt
    /// with LtiStartProctoring. Once the page's checks pass and the camera
    /// publishes, the page asks `POST /api/v1/lti/start-assessment` for the
    /// signed LtiStartAssessment message and form-posts it, as field `JWT`,
    /// to the URL given, into the frame that shows the assessment.
    LtiProctoring {
        attempt_number: u32,
        /// Set once the platform ended the attempt (LtiEndAssessment).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        ended_at: Option<UnixMillis>,
    },
}

/// The answer to `POST /api/v1/lti/start-assessment`: the LtiStartAssessment
/// message to form-post (`application/x-www-form-urlencoded`, one field
/// named `JWT`) to `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StartAssessment {
    pub url: String,
    pub jwt: String,
}

/// A debounced incident, raised by the student's browser at its start.
///
/// `id` is chosen by the client and is the idempotency key: resending the
/// same report returns the same ack; another payload under that id is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct IncidentReport {
    pub id: IncidentId,
    /// Strictly increasing per student across incident and incident_end messages.
    pub seq: u64,
    pub kind: IncidentKind,
    pub started_at: UnixMillis,
    /// Set when the behaviour had already ended when the report was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub ended_at: Option<UnixMillis>,
    /// The detector's confidence in [0, 1], if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub confidence: Option<f64>,
    /// Short free text for the proctor (at most 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub detail: Option<String>,
}

/// Closes an incident that was reported open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IncidentEnd {
    pub id: IncidentId,
    pub seq: u64,
    pub ended_at: UnixMillis,
}

/// The answer to `incident` and `incident_end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum IncidentAck {
    /// Stored durably; this id will never be lost.
    Accepted { id: IncidentId },
    /// Already stored earlier with the same payload; nothing changed.
    Duplicate { id: IncidentId },
    /// Refused; see `reason`. Only retryable reasons are worth resending.
    Rejected {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        id: Option<IncidentId>,
        #[serde(flatten)]
        rejection: Rejection,
    },
}

/// Continuous measurements, sent about once a second. Latest wins; they feed
/// the detection-quality indicator, never the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Signals {
    pub at: UnixMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub faces: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub yaw_deg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub pitch_deg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub confidence: Option<f64>,
    /// Mean luma in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub brightness: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tab_visible: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub fullscreen: Option<bool>,
}

/// Sent every few seconds: proof of life from the page and its worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Heartbeat {
    pub at: UnixMillis,
    /// Inferences per second over the last interval.
    pub inference_fps: f64,
    pub worker_ok: bool,
    /// Times the worker was restarted since the page loaded.
    pub worker_restarts: u32,
    pub camera_live: bool,
}

/// Proctor-initiated actions delivered to the student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ProctorActionKind {
    Warn,
    Message,
    Pause,
    Resume,
    Terminate,
    FlagForReview,
    /// More exam time for the student, `minutes` of it.
    AddTime,
    /// The student's identity photos are accepted: they may start.
    ApproveIdentity,
    /// The student's identity photos are refused (`text`, required, says
    /// why): they take them again.
    RejectIdentity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProctorAction {
    pub kind: ProctorActionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub text: Option<String>,
    /// With `add_time`: how many minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub minutes: Option<u32>,
    pub at: UnixMillis,
}

// ---------------------------------------------------------------- chat

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChatFrom {
    Student,
    Proctor,
}

/// A stored chat message, as pages and proctors are sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ChatMessage {
    /// The server's order of the exam's messages: increasing, never reused.
    /// A page that has shown every message up to `seq` asks `chat_sync`
    /// with `after: seq` when it reconnects.
    pub seq: u64,
    /// The sender's id for it (unique per sender).
    pub id: ChatMessageId,
    pub from: ChatFrom,
    /// With a proctor's message: who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub proctor_id: Option<ProctorId>,
    /// The student whose conversation it belongs to; absent: an
    /// announcement to every student of the exam.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub student_id: Option<StudentId>,
    /// Plain text, shown as text (never as HTML): 1–1,000 characters.
    pub text: String,
    /// Server time it was stored.
    pub at: UnixMillis,
}

/// `chat` from a student: a message to the exam's proctors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ChatSend {
    /// Chosen by the page, and kept with the message in its outbox: a
    /// resend is the same message.
    pub id: ChatMessageId,
    /// 1–1,000 characters; line breaks allowed, no other control characters.
    pub text: String,
}

/// `chat` from a proctor: to one student, or an announcement to all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProctorChatSend {
    pub id: ChatMessageId,
    /// Absent: an announcement to every student of the exam.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub student_id: Option<StudentId>,
    pub text: String,
}

/// The answer to `chat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChatAck {
    /// Stored; it is on its way to everyone who sees it.
    Accepted { message: ChatMessage },
    /// Stored before under this id with the same text: nothing changed.
    Duplicate { message: ChatMessage },
    Rejected {
        #[serde(flatten)]
        rejection: Rejection,
    },
}

/// `chat_sync`: the messages after `after` (0: from the beginning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ChatSync {
    pub after: u64,
}

/// Messages in `seq` order: the answer to `chat_sync`, and the body of
/// `GET …/students/{student}/chat`. At most 500; when `more`, ask again
/// after the last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ChatHistory {
    pub messages: Vec<ChatMessage>,
    pub more: bool,
    /// Set when the server did not look (too many syncs in a short time):
    /// ask the same again after this many ms. `messages` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry_after_ms: Option<u64>,
}

// ---------------------------------------------------------------- identity

/// An accepted identity photo (`POST /api/v1/identity/{kind}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IdentityPhoto {
    pub kind: IdentityPhotoKind,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub captured_at: UnixMillis,
}

/// A student's identity photos (`GET …/students/{student}/identity`); the
/// images themselves are at `…/identity/{kind}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IdentityPhotos {
    pub photos: Vec<IdentityPhoto>,
}

// ---------------------------------------------------------------- WebRTC

/// An SDP offer or answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SessionDescription {
    pub sdp: String,
}

/// The answer to `rtc_publish` and `rtc_subscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RtcAck {
    Answer {
        sdp: String,
    },
    Rejected {
        #[serde(flatten)]
        rejection: Rejection,
    },
}

/// A trickled ICE candidate, as `RTCIceCandidate.toJSON()` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub sdp_mid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub sdp_m_line_index: Option<u32>,
}

/// Which simulcast layer a watcher wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum WatchQuality {
    /// The lowest layer: for walls and tiles.
    Thumbnail,
    /// The highest layer the bandwidth estimate allows.
    Full,
}

/// `watch`: show `student_id` in receive slot `slot` (0-based, fewer than
/// the recvonly transceivers offered in `rtc_subscribe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct WatchRequest {
    pub slot: u32,
    pub student_id: StudentId,
    pub quality: WatchQuality,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct UnwatchRequest {
    pub slot: u32,
}

/// `slot`: what a proctor's receive slot shows now. `mid` is the transceiver's
/// media id in the proctor's SDP, so the page can find the track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SlotUpdate {
    pub slot: u32,
    pub mid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub student_id: Option<StudentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub quality: Option<WatchQuality>,
}

// ---------------------------------------------------------------- proctor

/// The score as the server holds it, with the per-student sequence number a
/// dashboard uses to drop stale or reordered updates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
pub struct ScoreView {
    /// Increases with every accepted incident of this student; survives restarts.
    pub seq: u64,
    /// Score at `as_of`; it decays by the exam's half-life after that.
    pub score: f64,
    pub level: Level,
    pub as_of: UnixMillis,
}

/// `score` event: one student's score changed (coalesced, latest wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ScoreUpdate {
    pub student_id: StudentId,
    #[serde(flatten)]
    pub score: ScoreView,
    /// Server time the update was emitted; the fan-out latency starts at acceptance.
    pub emitted_at: UnixMillis,
}

/// An incident as stored and shown to proctors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct IncidentRecord {
    pub id: IncidentId,
    pub student_id: StudentId,
    pub kind: IncidentKind,
    pub source: IncidentSource,
    pub started_at: UnixMillis,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<UnixMillis>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub accepted_at: UnixMillis,
    /// sha256 of the attached evidence frame, once one is accepted.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_sha256: Option<String>,
    /// Accepted while a proctor had paused the student's session: kept,
    /// and marked so that a reviewer weighs it knowing that.
    #[ts(as = "Option<bool>", optional)]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub during_pause: bool,
}

/// `presence` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PresenceUpdate {
    pub student_id: StudentId,
    pub presence: Presence,
    pub at: UnixMillis,
}

/// `quality` event: a student's detection quality changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct QualityUpdate {
    pub student_id: StudentId,
    pub quality: Quality,
    pub at: UnixMillis,
}

/// `action` from a proctor: delivered to the student as `proctor_action` and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ActionRequest {
    pub student_id: StudentId,
    pub kind: ProctorActionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub text: Option<String>,
    /// With `add_time` (required there): 1–1,440 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub minutes: Option<u32>,
}

/// A proctor's action as recorded (`GET …/students/{student}/actions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RecordedAction {
    /// The action as the student was sent it.
    #[serde(flatten)]
    #[ts(flatten)]
    pub action: ProctorAction,
    pub proctor_id: crate::ProctorId,
}

/// The answer to `action` and `snapshot` requests that can fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RequestAck {
    Ok,
    Rejected {
        #[serde(flatten)]
        rejection: Rejection,
    },
}

/// A student's session changed (to proctors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SessionUpdate {
    pub student_id: StudentId,
    pub session: SessionView,
}

/// One tile's worth of state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StudentView {
    pub student: Student,
    pub score: ScoreView,
    pub presence: Presence,
    pub quality: Quality,
    pub session: SessionView,
    /// The student's accommodations, if any were set (with the proctors' note).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accommodations: Option<Accommodations>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_incident: Option<IncidentRecord>,
}

/// Everything a dashboard needs to (re)start: fetch this, then apply
/// `score` updates whose `seq` is greater than the snapshot's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExamSnapshot {
    pub exam: Exam,
    pub students: Vec<StudentView>,
    pub server_time: UnixMillis,
    /// Whether the asking proctor may change the exam's settings
    /// (`PUT /api/v1/exams/{exam}/settings`): an instructor, not a TA.
    #[serde(default)]
    pub may_configure: bool,
}

// ---------------------------------------------------------------- evidence

/// What an evidence upload is: a camera frame, or (for `voice_detected` in
/// exams whose privacy tier keeps sound) a short clip of the microphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceMedia {
    /// `image/jpeg`.
    Jpeg,
    /// `audio/wav`: 16-bit PCM, one channel.
    Wav,
}

impl EvidenceMedia {
    /// The HTTP `Content-Type` it is sent and served with.
    pub fn content_type(self) -> &'static str {
        match self {
            EvidenceMedia::Jpeg => "image/jpeg",
            EvidenceMedia::Wav => "audio/wav",
        }
    }

    /// The wire form, also the store's.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceMedia::Jpeg => "jpeg",
            EvidenceMedia::Wav => "wav",
        }
    }

    /// The store's form back; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jpeg" => Some(EvidenceMedia::Jpeg),
            "wav" => Some(EvidenceMedia::Wav),
            _ => None,
        }
    }

    /// From an upload's `Content-Type` (parameters and case ignored; the
    /// registered `audio/wav` and the common `audio/x-wav`, `audio/wave`).
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" => Some(EvidenceMedia::Jpeg),
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Some(EvidenceMedia::Wav),
            _ => None,
        }
    }
}

/// Answer to an accepted evidence upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EvidenceAccepted {
    pub incident_id: IncidentId,
    pub sha256: String,
    /// `jpeg` for a frame, `wav` for a sound clip.
    pub media: EvidenceMedia,
    /// The frame's size in pixels; 0 for a sound clip.
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    /// A sound clip's length; absent for a frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub duration_ms: Option<u32>,
}

/// Answer to `POST /api/v1/uplink-probe`: how a body of throwaway bytes
/// arrived, which says how fast the student's uplink is (the system check
/// chooses the video it publishes from it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct UplinkProbe {
    /// Bytes of the body received: all of it.
    pub bytes: u64,
    /// Milliseconds (with a fraction) from the request's arrival to the
    /// body's last byte.
    pub elapsed_ms: f64,
    /// `bytes` × 8 / the elapsed time, in bit/s, the time taken as at least
    /// 1 ms: faster than the probe can tell reads as a lower bound.
    pub bps: u64,
}

// ---------------------------------------------------------------- admin

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CreateExam {
    /// Chosen by the server when absent.
    #[serde(default)]
    #[ts(optional)]
    pub id: Option<ExamId>,
    pub title: String,
    /// Defaults: open now for 3 hours, default scoring, flagged frames kept 30 days.
    #[serde(default)]
    #[ts(optional)]
    pub settings: Option<ExamSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct AddPerson {
    #[serde(default)]
    #[ts(optional)]
    pub id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct IssueLink {
    pub role: Role,
    pub subject: String,
    /// Lifetime in seconds; defaults to the end of the exam window plus one hour.
    #[serde(default)]
    #[ts(optional)]
    pub ttl_s: Option<u64>,
    /// Proctors only: the link also lets its holder change the exam's
    /// settings and access code, as an instructor. Default false.
    #[serde(default)]
    #[ts(optional)]
    pub may_configure: Option<bool>,
}

/// A join link: the token plus a URL with the token in its fragment, so it
/// never reaches server logs or referrers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct JoinLink {
    pub role: Role,
    pub exam_id: ExamId,
    pub subject: String,
    pub token: String,
    pub url: String,
    pub expires_at: UnixMillis,
}

/// `POST /api/v1/lti/platforms`: registers vigil with an LTI 1.3 platform
/// (an LMS). The URLs must be `https` (plain `http` only on loopback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RegisterLtiPlatform {
    /// The platform's `iss`, exactly as its id_tokens carry it.
    pub issuer: String,
    /// The client id the platform gave vigil (the id_tokens' `aud`).
    pub client_id: String,
    /// The deployments whose launches are accepted; at least one.
    pub deployment_ids: Vec<String>,
    /// The platform's OIDC authentication request endpoint.
    pub auth_login_url: String,
    /// Where the platform publishes its signing keys (JWKS).
    pub jwks_url: String,
    /// The platform's OAuth 2 token endpoint.
    pub token_url: String,
}

/// A registered LTI 1.3 platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LtiPlatform {
    pub issuer: String,
    pub client_id: String,
    pub deployment_ids: Vec<String>,
    pub auth_login_url: String,
    pub jwks_url: String,
    pub token_url: String,
    pub created_at: UnixMillis,
}

/// `PUT /api/v1/exams/{exam}/access-code`: the code the exam's assessment
/// (an LMS quiz) asks for, 1–64 characters without control characters. It is
/// told to a student only while their camera is proctored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SetAccessCode {
    pub code: String,
}

/// The answer to a student's `POST /api/v1/access-code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AccessCode {
    pub code: String,
}

/// The answer to `POST /api/v1/lti/keys/rotate`: vigil signs with the new
/// key from now on, and publishes the previous one until the time given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LtiKeyRotation {
    pub current_kid: String,
    pub previous_kid: String,
    pub previous_published_until: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExamRoster {
    pub exam: Exam,
    pub students: Vec<Student>,
    pub proctors: Vec<Proctor>,
}
