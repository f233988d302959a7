//! The one definition of vigil's wire protocol.
//!
//! Every message that crosses a process boundary (Socket.IO events, HTTP
//! bodies, acks) is a type in this crate. The TypeScript used by the student
//! page, the dashboard and the browser tests is generated from these types
//! (see [`typescript`]), and a test fails when the committed bindings drift.
//!
//! Times on the wire are Unix epoch milliseconds ([`UnixMillis`]). Identifiers
//! are strings so that they survive JavaScript untouched.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub mod events;
pub mod ids;
pub mod review;
pub mod typescript;

pub use ids::{ChatMessageId, ExamId, IdError, IncidentId, ProctorId, StudentId};

/// Milliseconds since the Unix epoch.
pub type UnixMillis = i64;

/// What a student, a proctor or the server itself observed.
///
/// The first group is raised by the student's browser; the last group by the
/// server, which sees them without the client's cooperation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    NoFace,
    MultipleFaces,
    LookingAway,
    TabHidden,
    WindowBlur,
    FullscreenExit,
    CopyPaste,
    SecondScreen,
    CameraEnded,
    WorkerStalled,
    InferenceRateLow,
    /// Server-originated: a connected student sent no heartbeat for too long.
    HeartbeatLost,
    /// Server-originated: the student's video stopped arriving at the SFU.
    MediaStalled,
    /// Server-originated: the student's frame rate at the SFU collapsed.
    FrameRateCollapsed,
    /// Server-originated: no keyframe arrived when one was due.
    KeyframesMissing,
    /// A phone in view of the camera (the page's object detector).
    PhoneVisible,
    /// Someone speaking, heard by the page's voice detector (exams with the
    /// microphone on).
    VoiceDetected,
    /// Weak: the camera looks like a virtual camera or a screen share.
    CameraSuspect,
    /// Weak: the browser's developer tools look open.
    DevtoolsOpen,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 19] = [
        IncidentKind::NoFace,
        IncidentKind::MultipleFaces,
        IncidentKind::LookingAway,
        IncidentKind::TabHidden,
        IncidentKind::WindowBlur,
        IncidentKind::FullscreenExit,
        IncidentKind::CopyPaste,
        IncidentKind::SecondScreen,
        IncidentKind::CameraEnded,
        IncidentKind::WorkerStalled,
        IncidentKind::InferenceRateLow,
        IncidentKind::HeartbeatLost,
        IncidentKind::MediaStalled,
        IncidentKind::FrameRateCollapsed,
        IncidentKind::KeyframesMissing,
        IncidentKind::PhoneVisible,
        IncidentKind::VoiceDetected,
        IncidentKind::CameraSuspect,
        IncidentKind::DevtoolsOpen,
    ];

    /// Kinds only the server may raise; a client claiming one is refused.
    pub fn is_server_only(self) -> bool {
        matches!(
            self,
            IncidentKind::HeartbeatLost
                | IncidentKind::MediaStalled
                | IncidentKind::FrameRateCollapsed
                | IncidentKind::KeyframesMissing
        )
    }

    /// Weak signals: each can have an innocent cause (a school's own
    /// camera software, a developer's habits), so together they may raise a
    /// student's score only up to half of `watch_at` and are never decisive
    /// on their own (`vigil_core::score::StudentScore`).
    pub fn is_weak_signal(self) -> bool {
        matches!(self, IncidentKind::CameraSuspect | IncidentKind::DevtoolsOpen)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::NoFace => "no_face",
            IncidentKind::MultipleFaces => "multiple_faces",
            IncidentKind::LookingAway => "looking_away",
            IncidentKind::TabHidden => "tab_hidden",
            IncidentKind::WindowBlur => "window_blur",
            IncidentKind::FullscreenExit => "fullscreen_exit",
            IncidentKind::CopyPaste => "copy_paste",
            IncidentKind::SecondScreen => "second_screen",
            IncidentKind::CameraEnded => "camera_ended",
            IncidentKind::WorkerStalled => "worker_stalled",
            IncidentKind::InferenceRateLow => "inference_rate_low",
            IncidentKind::HeartbeatLost => "heartbeat_lost",
            IncidentKind::MediaStalled => "media_stalled",
            IncidentKind::FrameRateCollapsed => "frame_rate_collapsed",
            IncidentKind::KeyframesMissing => "keyframes_missing",
            IncidentKind::PhoneVisible => "phone_visible",
            IncidentKind::VoiceDetected => "voice_detected",
            IncidentKind::CameraSuspect => "camera_suspect",
            IncidentKind::DevtoolsOpen => "devtools_open",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who raised an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum IncidentSource {
    Client,
    Server,
}

/// The proctor-facing reading of a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Watch,
    Alert,
}

/// What the exam keeps of a student beyond the events themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyTier {
    /// Incidents only; evidence frames are refused and nothing visual is stored.
    EventsOnly,
    /// One JPEG frame per incident is kept, for the retention period.
    FlaggedFrames,
    /// Flagged frames, and the student's camera is recorded for the same
    /// retention period (issue 17). Never the default: a school opts in
    /// per exam, and the consent screen says so.
    Recording,
}

/// When students may submit; incidents outside it are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
/// Strict: a typo in an admin body must not be silently ignored.
#[serde(deny_unknown_fields)]
pub struct ExamWindow {
    pub opens_at: UnixMillis,
    pub closes_at: UnixMillis,
}

/// How the server turns accepted incidents into a score.
///
/// `score(t) = Σ weight(kind_i) · 2^(−(t − started_at_i) / half_life)` over
/// accepted incidents with `started_at_i ≤ t`. See docs/SCORING.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
/// Strict: a typo in an admin body must not be silently ignored.
#[serde(deny_unknown_fields)]
pub struct ScoringRules {
    /// Seconds for an incident's contribution to halve.
    pub half_life_s: f64,
    /// Weight per incident kind; a kind missing here weighs 0.
    pub weights: BTreeMap<IncidentKind, f64>,
    /// Score at or above which a student is shown as `watch`.
    pub watch_at: f64,
    /// Score at or above which a student is shown as `alert`.
    pub alert_at: f64,
}

impl Default for ScoringRules {
    fn default() -> Self {
        use IncidentKind::*;
        let weights = [
            (NoFace, 3.0),
            (MultipleFaces, 5.0),
            (LookingAway, 2.0),
            (TabHidden, 3.0),
            (WindowBlur, 1.0),
            (FullscreenExit, 2.0),
            (CopyPaste, 2.0),
            (SecondScreen, 4.0),
            (CameraEnded, 4.0),
            (WorkerStalled, 1.0),
            (InferenceRateLow, 0.0),
            (HeartbeatLost, 1.0),
            (MediaStalled, 3.0),
            (FrameRateCollapsed, 0.5),
            (KeyframesMissing, 0.5),
            (PhoneVisible, 5.0),
            (VoiceDetected, 3.0),
            (CameraSuspect, 2.0),
            (DevtoolsOpen, 1.0),
        ]
        .into_iter()
        .collect();
        ScoringRules { half_life_s: 300.0, weights, watch_at: 4.0, alert_at: 8.0 }
    }
}

/// What one student is granted, and what their proctors should know. Set by
/// the admin or an instructor (`PUT …/students/{student}/accommodations`),
/// replaced whole.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
/// Strict: a typo in configuration must not be silently ignored.
#[serde(deny_unknown_fields)]
pub struct Accommodations {
    /// Extra time as a percentage (0–300) of the exam's duration, or of its
    /// window when it has none.
    #[serde(default)]
    pub extra_time_pct: u32,
    /// Extra time in minutes (0–1,440), on top of the percentage.
    #[serde(default)]
    pub extra_time_min: u32,
    /// Detectors switched off for this student only (added to the exam's).
    #[serde(default)]
    pub disabled_detectors: Vec<IncidentKind>,
    /// For proctors (the student's page never gets it): at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub note: Option<String>,
    /// Breaks on top of the exam's (0–20); each lasts as long as the exam's
    /// breaks, or 10 minutes when the exam has none.
    #[serde(default)]
    pub extra_breaks: u32,
    /// Detector thresholds for this student, over the exam's, field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub thresholds: Option<DetectorThresholds>,
}

/// When the student page's detectors raise an incident, where not its
/// defaults (no face for 2 s; looking away for 2 s, beyond 25° sideways or
/// 20° up or down, head and eyes together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
/// Strict: a typo in configuration must not be silently ignored.
#[serde(deny_unknown_fields)]
pub struct DetectorThresholds {
    /// Milliseconds without a face before `no_face` (500–60,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub no_face_after_ms: Option<u32>,
    /// Milliseconds looking away before `looking_away` (500–60,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub looking_away_after_ms: Option<u32>,
    /// Sideways angle (degrees, head turn and eyes together, from where the
    /// student looked during calibration) beyond which the student looks away (10–80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub yaw_limit_deg: Option<u32>,
    /// Up or down angle (degrees, head and eyes together, from calibration)
    /// beyond which the student looks away (10–60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub pitch_limit_deg: Option<u32>,
}

impl DetectorThresholds {
    /// `over`'s thresholds where it sets them, this one's elsewhere.
    pub fn overridden_by(self, over: DetectorThresholds) -> DetectorThresholds {
        DetectorThresholds {
            no_face_after_ms: over.no_face_after_ms.or(self.no_face_after_ms),
            looking_away_after_ms: over.looking_away_after_ms.or(self.looking_away_after_ms),
            yaw_limit_deg: over.yaw_limit_deg.or(self.yaw_limit_deg),
            pitch_limit_deg: over.pitch_limit_deg.or(self.pitch_limit_deg),
        }
    }
}

/// The breaks each student may take: the exam is hidden and its clock
/// stops until the student comes back or the break's time is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
/// Strict: a typo in configuration must not be silently ignored.
#[serde(deny_unknown_fields)]
pub struct BreakPolicy {
    /// Breaks per student (1–20).
    pub count: u32,
    /// The longest one may last, in minutes (1–120).
    pub minutes: u32,
}

/// The identity check a student passes before the exam starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheck {
    #[default]
    Off,
    /// A photo of the student's face.
    Photo,
    /// A photo of the face and one of an identity document.
    PhotoAndId,
}

impl IdentityCheck {
    /// The photos this check needs.
    pub fn required(self) -> &'static [IdentityPhotoKind] {
        match self {
            IdentityCheck::Off => &[],
            IdentityCheck::Photo => &[IdentityPhotoKind::Face],
            IdentityCheck::PhotoAndId => &[IdentityPhotoKind::Face, IdentityPhotoKind::IdDocument],
        }
    }
}

/// One of the identity check's photos; the path segment of its upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum IdentityPhotoKind {
    Face,
    IdDocument,
}

impl IdentityPhotoKind {
    pub const ALL: [IdentityPhotoKind; 2] = [IdentityPhotoKind::Face, IdentityPhotoKind::IdDocument];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityPhotoKind::Face => "face",
            IdentityPhotoKind::IdDocument => "id_document",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a student's exam session is. The server keeps it; pages show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SessionPhase {
    /// Joined, not started yet (and, when the exam checks identity, its
    /// photos not sent yet, or rejected: `reason` says why).
    Waiting,
    /// Identity photos sent; a proctor is to approve or reject them.
    IdentityCheck,
    /// Identity approved; the student may start.
    Ready,
    /// Taking the exam; the clock runs.
    InProgress,
    /// Paused by a proctor: the exam is hidden and the clock stopped.
    Paused,
    /// On one of the student's breaks: the exam is hidden and the clock
    /// stopped until the student comes back or the break's time is up.
    OnBreak,
    /// Handed in by the student.
    Submitted,
    /// Ended by a proctor. Final: the student's token is refused from now on.
    Terminated,
    /// The time (or the exam window) ran out.
    Expired,
}

impl SessionPhase {
    /// Submitted, terminated or expired: nothing follows.
    pub fn is_over(self) -> bool {
        matches!(self, SessionPhase::Submitted | SessionPhase::Terminated | SessionPhase::Expired)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionPhase::Waiting => "waiting",
            SessionPhase::IdentityCheck => "identity_check",
            SessionPhase::Ready => "ready",
            SessionPhase::OnBreak => "on_break",
            SessionPhase::InProgress => "in_progress",
            SessionPhase::Paused => "paused",
            SessionPhase::Submitted => "submitted",
            SessionPhase::Terminated => "terminated",
            SessionPhase::Expired => "expired",
        }
    }
}

/// A student's session as the server sees it at `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SessionView {
    pub phase: SessionPhase,
    /// Exam time left (ms) at `as_of`, for an exam with a duration; it only
    /// runs while `in_progress`. Absent: the exam window alone ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub time_left_ms: Option<i64>,
    /// When the exam window closes, which ends every session still running.
    pub closes_at: UnixMillis,
    /// The proctor's words with a pause or a termination, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reason: Option<String>,
    /// Breaks the student may still take.
    #[serde(default)]
    pub breaks_left: u32,
    /// While `on_break`: when the break's time is up and the exam resumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub break_ends_at: Option<UnixMillis>,
    /// Server time this view was computed at.
    pub as_of: UnixMillis,
}

/// Everything an exam's owner configures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
/// Strict: a typo in an admin body must not be silently ignored.
#[serde(deny_unknown_fields)]
pub struct ExamSettings {
    pub window: ExamWindow,
    pub scoring: ScoringRules,
    pub privacy: PrivacyTier,
    /// Days evidence frames are kept before they are deleted.
    pub evidence_retention_days: u32,
    /// Seconds without a heartbeat before a student shows as stalled.
    pub stall_after_s: u32,
    /// Detectors switched off for every student of this exam (accommodations).
    #[serde(default)]
    pub disabled_detectors: Vec<IncidentKind>,
    /// The assessment the student page shows in its exam frame (an LMS quiz)
    /// instead of its own: an `http`/`https` URL of at most 2,048 bytes. Its
    /// access code, if any, is kept apart (`PUT …/access-code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub assessment_url: Option<String>,
    /// How long each student has (seconds of exam time, which stops while
    /// paused), counted from their start; absent: until the window closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub duration_s: Option<u32>,
    /// The identity check before the exam (default `off`).
    #[serde(default)]
    pub identity_check: IdentityCheck,
    /// Approve each identity check as soon as its photos arrive, instead of
    /// waiting for a proctor (default false).
    #[serde(default)]
    pub identity_auto_approve: bool,
    /// Breaks every student may take; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub breaks: Option<BreakPolicy>,
    /// Detector thresholds for every student, where not the page's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub thresholds: Option<DetectorThresholds>,
    /// The student's microphone: the page listens for voices
    /// (`voice_detected`) and sends the sound to the proctor who watches the
    /// student; it is never recorded. Off by default; the consent screen
    /// says so when on. An open exam may turn it off, never on.
    #[serde(default)]
    pub microphone: bool,
}

impl ExamSettings {
    /// Settings for an exam open over `window`, with the default rules.
    pub fn with_window(window: ExamWindow) -> Self {
        ExamSettings {
            window,
            scoring: ScoringRules::default(),
            privacy: PrivacyTier::FlaggedFrames,
            evidence_retention_days: 30,
            stall_after_s: 10,
            disabled_detectors: Vec::new(),
            assessment_url: None,
            duration_s: None,
            identity_check: IdentityCheck::Off,
            identity_auto_approve: false,
            breaks: None,
            thresholds: None,
            microphone: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Exam {
    pub id: ExamId,
    pub title: String,
    pub settings: ExamSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Student,
    Proctor,
}

/// A student on an exam's roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Student {
    pub id: StudentId,
    /// Display name, 1 to 200 characters.
    pub name: String,
}

/// A proctor on an exam's roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Proctor {
    pub id: ProctorId,
    /// Display name, 1 to 200 characters.
    pub name: String,
}

/// A connection state as a proctor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Connected, heartbeats arriving.
    Live,
    /// Connected, but no heartbeat within the exam's `stall_after_s`.
    Stalled,
    Offline,
}

/// Detection quality (never suspicion): can the camera see well enough?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    Good,
    LowLight,
    LowConfidence,
    Unknown,
}

/// The machine-readable reason for every refusal. Each says what the client
/// should do: fix and resend, drop, or retry later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    // Authentication and scope: re-join with a valid link.
    MissingToken,
    InvalidToken,
    ExpiredToken,
    WrongScope,
    UnknownExam,
    UnknownStudent,
    Forbidden,
    // Payload: a client bug; do not resend unchanged.
    InvalidPayload,
    ServerOnlyKind,
    DetectorDisabled,
    // Time: the client clock or the exam window.
    OutsideExamWindow,
    TimestampInFuture,
    EndBeforeStart,
    // Ordering and identity.
    SequenceReplayed,
    SequenceTooOld,
    ConflictingDuplicate,
    UnknownIncident,
    AlreadyEnded,
    // Flow control: retry after `retry_after_ms`.
    RateLimited,
    // Evidence frames.
    NotJpeg,
    Undecodable,
    TooLarge,
    DimensionsOutOfRange,
    OutsideIncidentWindow,
    ReplayedFrame,
    EvidenceAlreadyAttached,
    EvidenceNotCollected,
    /// An upload's `Content-Type` is neither `image/jpeg` nor `audio/wav`,
    /// or a sound clip is sent for an incident that is not `voice_detected`.
    UnsupportedMedia,
    /// A sound clip shorter or longer than the server keeps.
    DurationOutOfRange,
    // Live video.
    /// The student is not publishing video right now.
    NotPublishing,
    /// A proctor asked to watch before its own `rtc_subscribe` was answered.
    NotSubscribed,
    // LTI Proctoring Services.
    /// The student's exam was not started by an LtiStartProctoring launch.
    NoLtiAttempt,
    /// The exam has no access code.
    NoAccessCode,
    // Exam settings.
    /// The exam has opened and this change is one it no longer accepts (the
    /// message names the field and the rule).
    SettingsLocked,
    // Exam sessions.
    /// A proctor terminated this student's session: final, whatever is sent.
    SessionTerminated,
    /// The session is over (handed in or out of time), or a transition that
    /// does not apply to where it is now (resume when not paused, say).
    StaleTransition,
    /// The exam checks identity first: send the photos it needs, or wait
    /// for a proctor to approve them.
    IdentityRequired,
    // Recordings.
    /// The student has no recording segment by that name.
    UnknownRecording,
    /// A `Range` the segment cannot satisfy (past its end, or reversed).
    RangeNotSatisfiable,
    // The uplink probe.
    /// An upload stopped arriving for too long, or was not complete within
    /// its deadline (the uplink probe): the link is slower than the upload
    /// can measure.
    TooSlow,
    // Ours: retry later.
    Unavailable,
}

impl RejectReason {
    pub const ALL: [RejectReason; 41] = [
        RejectReason::MissingToken,
        RejectReason::InvalidToken,
        RejectReason::ExpiredToken,
        RejectReason::WrongScope,
        RejectReason::UnknownExam,
        RejectReason::UnknownStudent,
        RejectReason::Forbidden,
        RejectReason::InvalidPayload,
        RejectReason::ServerOnlyKind,
        RejectReason::DetectorDisabled,
        RejectReason::OutsideExamWindow,
        RejectReason::TimestampInFuture,
        RejectReason::EndBeforeStart,
        RejectReason::SequenceReplayed,
        RejectReason::SequenceTooOld,
        RejectReason::ConflictingDuplicate,
        RejectReason::UnknownIncident,
        RejectReason::AlreadyEnded,
        RejectReason::RateLimited,
        RejectReason::NotJpeg,
        RejectReason::Undecodable,
        RejectReason::TooLarge,
        RejectReason::DimensionsOutOfRange,
        RejectReason::OutsideIncidentWindow,
        RejectReason::ReplayedFrame,
        RejectReason::EvidenceAlreadyAttached,
        RejectReason::EvidenceNotCollected,
        RejectReason::UnsupportedMedia,
        RejectReason::DurationOutOfRange,
        RejectReason::NotPublishing,
        RejectReason::NotSubscribed,
        RejectReason::NoLtiAttempt,
        RejectReason::NoAccessCode,
        RejectReason::SettingsLocked,
        RejectReason::SessionTerminated,
        RejectReason::StaleTransition,
        RejectReason::IdentityRequired,
        RejectReason::UnknownRecording,
        RejectReason::RangeNotSatisfiable,
        RejectReason::TooSlow,
        RejectReason::Unavailable,
    ];

    /// The wire form, also used as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MissingToken => "missing_token",
            RejectReason::InvalidToken => "invalid_token",
            RejectReason::ExpiredToken => "expired_token",
            RejectReason::WrongScope => "wrong_scope",
            RejectReason::UnknownExam => "unknown_exam",
            RejectReason::UnknownStudent => "unknown_student",
            RejectReason::Forbidden => "forbidden",
            RejectReason::InvalidPayload => "invalid_payload",
            RejectReason::ServerOnlyKind => "server_only_kind",
            RejectReason::DetectorDisabled => "detector_disabled",
            RejectReason::OutsideExamWindow => "outside_exam_window",
            RejectReason::TimestampInFuture => "timestamp_in_future",
            RejectReason::EndBeforeStart => "end_before_start",
            RejectReason::SequenceReplayed => "sequence_replayed",
            RejectReason::SequenceTooOld => "sequence_too_old",
            RejectReason::ConflictingDuplicate => "conflicting_duplicate",
            RejectReason::UnknownIncident => "unknown_incident",
            RejectReason::AlreadyEnded => "already_ended",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::NotJpeg => "not_jpeg",
            RejectReason::Undecodable => "undecodable",
            RejectReason::TooLarge => "too_large",
            RejectReason::DimensionsOutOfRange => "dimensions_out_of_range",
            RejectReason::OutsideIncidentWindow => "outside_incident_window",
            RejectReason::ReplayedFrame => "replayed_frame",
            RejectReason::EvidenceAlreadyAttached => "evidence_already_attached",
            RejectReason::EvidenceNotCollected => "evidence_not_collected",
            RejectReason::UnsupportedMedia => "unsupported_media",
            RejectReason::DurationOutOfRange => "duration_out_of_range",
            RejectReason::NotPublishing => "not_publishing",
            RejectReason::NotSubscribed => "not_subscribed",
            RejectReason::NoLtiAttempt => "no_lti_attempt",
            RejectReason::NoAccessCode => "no_access_code",
            RejectReason::SettingsLocked => "settings_locked",
            RejectReason::SessionTerminated => "session_terminated",
            RejectReason::StaleTransition => "stale_transition",
            RejectReason::IdentityRequired => "identity_required",
            RejectReason::UnknownRecording => "unknown_recording",
            RejectReason::RangeNotSatisfiable => "range_not_satisfiable",
            RejectReason::TooSlow => "too_slow",
            RejectReason::Unavailable => "unavailable",
        }
    }

    /// Whether sending the same thing again later can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, RejectReason::RateLimited | RejectReason::Unavailable)
    }
}

/// A refusal: the reason, words for a human, and when to retry if retrying helps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Rejection {
    pub reason: RejectReason,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry_after_ms: Option<u64>,
}

impl Rejection {
    pub fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        Rejection { reason, message: message.into(), retry_after_ms: None }
    }
}

/// The body of every non-2xx HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ErrorBody {
    pub error: Rejection,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_reason_strings_match_serde() {
        for r in RejectReason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::Value::String(r.as_str().into()));
        }
    }

    #[test]
    fn incident_kind_strings_match_serde() {
        for k in IncidentKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::Value::String(k.as_str().into()));
            assert_eq!(IncidentKind::parse(k.as_str()), Some(k));
        }
    }
}
