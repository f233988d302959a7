// Generated from crates/vigil-proto by `cargo run -p vigil-proto --example write-ts`.
// Do not edit: change the Rust types and regenerate.

/** Milliseconds since the Unix epoch. */
export type UnixMillis = number;

export type IncidentKind = "no_face" | "multiple_faces" | "looking_away" | "tab_hidden" | "window_blur" | "fullscreen_exit" | "copy_paste" | "second_screen" | "camera_ended" | "worker_stalled" | "inference_rate_low" | "heartbeat_lost" | "media_stalled" | "frame_rate_collapsed" | "keyframes_missing" | "phone_visible" | "voice_detected" | "camera_suspect" | "devtools_open";

export type IncidentSource = "client" | "server";

export type Level = "ok" | "watch" | "alert";

export type PrivacyTier = "events_only" | "flagged_frames" | "recording";

export type ExamWindow = { opens_at: number, closes_at: number, };

export type ScoringRules = { 
/**
 * Seconds for an incident's contribution to halve.
 */
half_life_s: number, 
/**
 * Weight per incident kind; a kind missing here weighs 0.
 */
weights: { [key in IncidentKind]?: number }, 
/**
 * Score at or above which a student is shown as `watch`.
 */
watch_at: number, 
/**
 * Score at or above which a student is shown as `alert`.
 */
alert_at: number, };

export type ExamSettings = { window: ExamWindow, scoring: ScoringRules, privacy: PrivacyTier, 
/**
 * Days evidence frames are kept before they are deleted.
 */
evidence_retention_days: number, 
/**
 * Seconds without a heartbeat before a student shows as stalled.
 */
stall_after_s: number, 
/**
 * Detectors switched off for every student of this exam (accommodations).
 */
disabled_detectors: Array<IncidentKind>, 
/**
 * The assessment the student page shows in its exam frame (an LMS quiz)
 * instead of its own: an `http`/`https` URL of at most 2,048 bytes. Its
 * access code, if any, is kept apart (`PUT …/access-code`).
 */
assessment_url?: string, 
/**
 * How long each student has (seconds of exam time, which stops while
 * paused), counted from their start; absent: until the window closes.
 */
duration_s?: number, 
/**
 * The identity check before the exam (default `off`).
 */
identity_check: IdentityCheck, 
/**
 * Approve each identity check as soon as its photos arrive, instead of
 * waiting for a proctor (default false).
 */
identity_auto_approve: boolean, 
/**
 * Breaks every student may take; absent: none.
 */
breaks?: BreakPolicy, 
/**
 * Detector thresholds for every student, where not the page's defaults.
 */
thresholds?: DetectorThresholds, 
/**
 * The student's microphone: the page listens for voices
 * (`voice_detected`) and sends the sound to the proctor who watches the
 * student; it is never recorded. Off by default; the consent screen
 * says so when on. An open exam may turn it off, never on.
 */
microphone: boolean, };

export type Accommodations = { 
/**
 * Extra time as a percentage (0–300) of the exam's duration, or of its
 * window when it has none.
 */
extra_time_pct: number, 
/**
 * Extra time in minutes (0–1,440), on top of the percentage.
 */
extra_time_min: number, 
/**
 * Detectors switched off for this student only (added to the exam's).
 */
disabled_detectors: Array<IncidentKind>, 
/**
 * For proctors (the student's page never gets it): at most 500 characters.
 */
note?: string, 
/**
 * Breaks on top of the exam's (0–20); each lasts as long as the exam's
 * breaks, or 10 minutes when the exam has none.
 */
extra_breaks: number, 
/**
 * Detector thresholds for this student, over the exam's, field by field.
 */
thresholds?: DetectorThresholds, };

export type DetectorThresholds = { 
/**
 * Milliseconds without a face before `no_face` (500–60,000).
 */
no_face_after_ms?: number, 
/**
 * Milliseconds looking away before `looking_away` (500–60,000).
 */
looking_away_after_ms?: number, 
/**
 * Sideways angle (degrees, head turn and eyes together, from where the
 * student looked during calibration) beyond which the student looks away (10–80).
 */
yaw_limit_deg?: number, 
/**
 * Up or down angle (degrees, head and eyes together, from calibration)
 * beyond which the student looks away (10–60).
 */
pitch_limit_deg?: number, };

export type BreakPolicy = { 
/**
 * Breaks per student (1–20).
 */
count: number, 
/**
 * The longest one may last, in minutes (1–120).
 */
minutes: number, };

export type IdentityCheck = "off" | "photo" | "photo_and_id";

export type IdentityPhotoKind = "face" | "id_document";

export type SessionPhase = "waiting" | "identity_check" | "ready" | "in_progress" | "paused" | "on_break" | "submitted" | "terminated" | "expired";

export type SessionView = { phase: SessionPhase, 
/**
 * Exam time left (ms) at `as_of`, for an exam with a duration; it only
 * runs while `in_progress`. Absent: the exam window alone ends it.
 */
time_left_ms?: number, 
/**
 * When the exam window closes, which ends every session still running.
 */
closes_at: number, 
/**
 * The proctor's words with a pause or a termination, if any.
 */
reason?: string, 
/**
 * Breaks the student may still take.
 */
breaks_left: number, 
/**
 * While `on_break`: when the break's time is up and the exam resumes.
 */
break_ends_at?: number, 
/**
 * Server time this view was computed at.
 */
as_of: number, };

export type SessionUpdate = { student_id: StudentId, session: SessionView, };

export type Exam = { id: ExamId, title: string, settings: ExamSettings, };

export type Role = "student" | "proctor";

export type ExamId = string;

export type StudentId = string;

export type ProctorId = string;

export type IncidentId = string;

export type ChatMessageId = string;

export type Student = { id: StudentId, 
/**
 * Display name, 1 to 200 characters.
 */
name: string, };

export type Proctor = { id: ProctorId, 
/**
 * Display name, 1 to 200 characters.
 */
name: string, };

export type Presence = "live" | "stalled" | "offline";

export type Quality = "good" | "low_light" | "low_confidence" | "unknown";

export type RejectReason = "missing_token" | "invalid_token" | "expired_token" | "wrong_scope" | "unknown_exam" | "unknown_student" | "forbidden" | "invalid_payload" | "server_only_kind" | "detector_disabled" | "outside_exam_window" | "timestamp_in_future" | "end_before_start" | "sequence_replayed" | "sequence_too_old" | "conflicting_duplicate" | "unknown_incident" | "already_ended" | "rate_limited" | "not_jpeg" | "undecodable" | "too_large" | "dimensions_out_of_range" | "outside_incident_window" | "replayed_frame" | "evidence_already_attached" | "evidence_not_collected" | "unsupported_media" | "duration_out_of_range" | "not_publishing" | "not_subscribed" | "no_lti_attempt" | "no_access_code" | "settings_locked" | "session_terminated" | "stale_transition" | "identity_required" | "unknown_recording" | "range_not_satisfiable" | "too_slow" | "unavailable";

export type Rejection = { reason: RejectReason, message: string, retry_after_ms?: number, };

export type ErrorBody = { error: Rejection, };

export type HandshakeAuth = { token: string, };

export type StudentWelcome = { student: Student, exam_id: ExamId, exam_title: string, settings: ExamSettings, 
/**
 * One more than the highest sequence number used so far (1 for a new
 * student): a client that lost its local counter resumes from here.
 * Unused numbers down to 63 below the highest are still accepted.
 */
next_seq: number, server_time: number, 
/**
 * Where the student's session is: a reloaded page resumes there (a
 * paused session stays paused; an ended one shows its end).
 */
session: SessionView, 
/**
 * How the student reaches the assessment, when it is the platform's
 * rather than the page's own; absent otherwise.
 */
assessment?: AssessmentEntry, };

export type AssessmentEntry = { "kind": "lti_proctoring", attempt_number: number, 
/**
 * Set once the platform ended the attempt (LtiEndAssessment).
 */
ended_at?: number, };

export type StartAssessment = { url: string, jwt: string, };

export type IncidentReport = { id: IncidentId, 
/**
 * Strictly increasing per student across incident and incident_end messages.
 */
seq: number, kind: IncidentKind, started_at: number, 
/**
 * Set when the behaviour had already ended when the report was made.
 */
ended_at?: number, 
/**
 * The detector's confidence in [0, 1], if it has one.
 */
confidence?: number, 
/**
 * Short free text for the proctor (at most 200 characters).
 */
detail?: string, };

export type IncidentEnd = { id: IncidentId, seq: number, ended_at: number, };

export type IncidentAck = { "status": "accepted", id: IncidentId, } | { "status": "duplicate", id: IncidentId, } | { "status": "rejected", id?: IncidentId, reason: RejectReason, message: string, retry_after_ms?: number, };

export type Signals = { at: number, faces?: number, yaw_deg?: number, pitch_deg?: number, confidence?: number, 
/**
 * Mean luma in [0, 1].
 */
brightness?: number, tab_visible?: boolean, fullscreen?: boolean, };

export type Heartbeat = { at: number, 
/**
 * Inferences per second over the last interval.
 */
inference_fps: number, worker_ok: boolean, 
/**
 * Times the worker was restarted since the page loaded.
 */
worker_restarts: number, camera_live: boolean, };

export type ProctorActionKind = "warn" | "message" | "pause" | "resume" | "terminate" | "flag_for_review" | "add_time" | "approve_identity" | "reject_identity";

export type ProctorAction = { kind: ProctorActionKind, text?: string, 
/**
 * With `add_time`: how many minutes.
 */
minutes?: number, at: number, };

export type ChatFrom = "student" | "proctor";

export type ChatMessage = { 
/**
 * The server's order of the exam's messages: increasing, never reused.
 * A page that has shown every message up to `seq` asks `chat_sync`
 * with `after: seq` when it reconnects.
 */
seq: number, 
/**
 * The sender's id for it (unique per sender).
 */
id: ChatMessageId, from: ChatFrom, 
/**
 * With a proctor's message: who wrote it.
 */
proctor_id?: ProctorId, 
/**
 * The student whose conversation it belongs to; absent: an
 * announcement to every student of the exam.
 */
student_id?: StudentId, 
/**
 * Plain text, shown as text (never as HTML): 1–1,000 characters.
 */
text: string, 
/**
 * Server time it was stored.
 */
at: number, };

export type ChatSend = { 
/**
 * Chosen by the page, and kept with the message in its outbox: a
 * resend is the same message.
 */
id: ChatMessageId, 
/**
 * 1–1,000 characters; line breaks allowed, no other control characters.
 */
text: string, };

export type ProctorChatSend = { id: ChatMessageId, 
/**
 * Absent: an announcement to every student of the exam.
 */
student_id?: StudentId, text: string, };

export type ChatAck = { "status": "accepted", message: ChatMessage, } | { "status": "duplicate", message: ChatMessage, } | { "status": "rejected", reason: RejectReason, message: string, retry_after_ms?: number, };

export type ChatSync = { after: number, };

export type ChatHistory = { messages: Array<ChatMessage>, more: boolean, 
/**
 * Set when the server did not look (too many syncs in a short time):
 * ask the same again after this many ms. `messages` is then empty.
 */
retry_after_ms?: number, };

export type IdentityPhoto = { kind: IdentityPhotoKind, sha256: string, width: number, height: number, bytes: number, captured_at: number, };

export type IdentityPhotos = { photos: Array<IdentityPhoto>, };

export type SessionDescription = { sdp: string, };

export type RtcAck = { "status": "answer", sdp: string, } | { "status": "rejected", reason: RejectReason, message: string, retry_after_ms?: number, };

export type IceCandidate = { candidate: string, sdpMid?: string, sdpMLineIndex?: number, };

export type WatchQuality = "thumbnail" | "full";

export type WatchRequest = { slot: number, student_id: StudentId, quality: WatchQuality, };

export type UnwatchRequest = { slot: number, };

export type SlotUpdate = { slot: number, mid: string, student_id?: StudentId, quality?: WatchQuality, };

export type ScoreView = { 
/**
 * Increases with every accepted incident of this student; survives restarts.
 */
seq: number, 
/**
 * Score at `as_of`; it decays by the exam's half-life after that.
 */
score: number, level: Level, as_of: number, };

export type ScoreUpdate = { student_id: StudentId, 
/**
 * Server time the update was emitted; the fan-out latency starts at acceptance.
 */
emitted_at: number, 
/**
 * Increases with every accepted incident of this student; survives restarts.
 */
seq: number, 
/**
 * Score at `as_of`; it decays by the exam's half-life after that.
 */
score: number, level: Level, as_of: number, };

export type IncidentRecord = { id: IncidentId, student_id: StudentId, kind: IncidentKind, source: IncidentSource, started_at: number, ended_at?: number, confidence?: number, detail?: string, accepted_at: number, 
/**
 * sha256 of the attached evidence frame, once one is accepted.
 */
evidence_sha256?: string, 
/**
 * Accepted while a proctor had paused the student's session: kept,
 * and marked so that a reviewer weighs it knowing that.
 */
during_pause?: boolean, };

export type PresenceUpdate = { student_id: StudentId, presence: Presence, at: number, };

export type QualityUpdate = { student_id: StudentId, quality: Quality, at: number, };

export type ActionRequest = { student_id: StudentId, kind: ProctorActionKind, text?: string, 
/**
 * With `add_time` (required there): 1–1,440 minutes.
 */
minutes?: number, };

export type RecordedAction = { proctor_id: ProctorId, kind: ProctorActionKind, text?: string, 
/**
 * With `add_time`: how many minutes.
 */
minutes?: number, at: number, };

export type RequestAck = { "status": "ok" } | { "status": "rejected", reason: RejectReason, message: string, retry_after_ms?: number, };

export type StudentView = { student: Student, score: ScoreView, presence: Presence, quality: Quality, session: SessionView, 
/**
 * The student's accommodations, if any were set (with the proctors' note).
 */
accommodations?: Accommodations, last_incident?: IncidentRecord, };

export type ExamSnapshot = { exam: Exam, students: Array<StudentView>, server_time: number, 
/**
 * Whether the asking proctor may change the exam's settings
 * (`PUT /api/v1/exams/{exam}/settings`): an instructor, not a TA.
 */
may_configure: boolean, };

export type EvidenceMedia = "jpeg" | "wav";

export type EvidenceAccepted = { incident_id: IncidentId, sha256: string, 
/**
 * `jpeg` for a frame, `wav` for a sound clip.
 */
media: EvidenceMedia, 
/**
 * The frame's size in pixels; 0 for a sound clip.
 */
width: number, height: number, bytes: number, 
/**
 * A sound clip's length; absent for a frame.
 */
duration_ms?: number, };

export type UplinkProbe = { 
/**
 * Bytes of the body received: all of it.
 */
bytes: number, 
/**
 * Milliseconds (with a fraction) from the request's arrival to the
 * body's last byte.
 */
elapsed_ms: number, 
/**
 * `bytes` × 8 / the elapsed time, in bit/s, the time taken as at least
 * 1 ms: faster than the probe can tell reads as a lower bound.
 */
bps: number, };

export type CreateExam = { 
/**
 * Chosen by the server when absent.
 */
id?: ExamId, title: string, 
/**
 * Defaults: open now for 3 hours, default scoring, flagged frames kept 30 days.
 */
settings?: ExamSettings, };

export type AddPerson = { id?: string, name: string, };

export type IssueLink = { role: Role, subject: string, 
/**
 * Lifetime in seconds; defaults to the end of the exam window plus one hour.
 */
ttl_s?: number, 
/**
 * Proctors only: the link also lets its holder change the exam's
 * settings and access code, as an instructor. Default false.
 */
may_configure?: boolean, };

export type JoinLink = { role: Role, exam_id: ExamId, subject: string, token: string, url: string, expires_at: number, };

export type ExamRoster = { exam: Exam, students: Array<Student>, proctors: Array<Proctor>, };

export type RegisterLtiPlatform = { 
/**
 * The platform's `iss`, exactly as its id_tokens carry it.
 */
issuer: string, 
/**
 * The client id the platform gave vigil (the id_tokens' `aud`).
 */
client_id: string, 
/**
 * The deployments whose launches are accepted; at least one.
 */
deployment_ids: Array<string>, 
/**
 * The platform's OIDC authentication request endpoint.
 */
auth_login_url: string, 
/**
 * Where the platform publishes its signing keys (JWKS).
 */
jwks_url: string, 
/**
 * The platform's OAuth 2 token endpoint.
 */
token_url: string, };

export type LtiPlatform = { issuer: string, client_id: string, deployment_ids: Array<string>, auth_login_url: string, jwks_url: string, token_url: string, created_at: number, };

export type LtiKeyRotation = { current_kid: string, previous_kid: string, previous_published_until: number, };

export type SetAccessCode = { code: string, };

export type AccessCode = { code: string, };

export type Verdict = "no_concern" | "concern" | "violation";

export type IncidentVerdict = "confirmed" | "dismissed";

export type Decision = { version: number, verdict: Verdict, note: string, reviewer: ProctorId, at: number, 
/**
 * The verdict this version replaced; absent for the first.
 */
previous?: Verdict, };

export type SetDecision = { verdict: Verdict, 
/**
 * Why, for the record and for the student: 1–2,000 characters, required.
 */
note: string, 
/**
 * The version this change was made on (0 when there was none): if
 * another reviewer decided meanwhile, the change is refused
 * (`stale_transition`) rather than silently overwriting theirs.
 */
based_on: number, };

export type IncidentReview = { incident_id: IncidentId, verdict: IncidentVerdict, note?: string, reviewer: ProctorId, at: number, };

export type ReviewIncident = { verdict: IncidentVerdict, 
/**
 * At most 2,000 characters.
 */
note?: string, };

export type ScorePoint = { at: number, score: number, };

export type ReviewPriority = { 
/**
 * Higher is reviewed first: `peak_score / alert_at`, plus a quarter of
 * the weights of the distinct kinds seen over `alert_at`, plus 0.1 per
 * unreviewed incident (up to 20), plus 0.2 per heartbeat or media gap
 * (up to 10). Dismissed incidents count in none of it.
 */
priority: number, peak_score: number, peak_at?: number, 
/**
 * Incidents by kind (dismissed ones left out).
 */
counts: { [key in IncidentKind]?: number }, 
/**
 * Incidents that count (dismissed ones left out).
 */
incident_count: number, 
/**
 * Incidents no reviewer has confirmed or dismissed.
 */
unreviewed: number, 
/**
 * `heartbeat_lost` and `media_stalled`: times the server lost sight of the student.
 */
gaps: number, };

export type ReviewRow = { student: Student, session: SessionView, 
/**
 * The latest decision, if any.
 */
decision?: Decision, 
/**
 * Higher is reviewed first: `peak_score / alert_at`, plus a quarter of
 * the weights of the distinct kinds seen over `alert_at`, plus 0.1 per
 * unreviewed incident (up to 20), plus 0.2 per heartbeat or media gap
 * (up to 10). Dismissed incidents count in none of it.
 */
priority: number, peak_score: number, peak_at?: number, 
/**
 * Incidents by kind (dismissed ones left out).
 */
counts: { [key in IncidentKind]?: number }, 
/**
 * Incidents that count (dismissed ones left out).
 */
incident_count: number, 
/**
 * Incidents no reviewer has confirmed or dismissed.
 */
unreviewed: number, 
/**
 * `heartbeat_lost` and `media_stalled`: times the server lost sight of the student.
 */
gaps: number, };

export type ReviewQueue = { exam: Exam, students: Array<ReviewRow>, 
/**
 * Students with a decision, of `students.len()`.
 */
decided: number, };

export type RecordedTransition = { 
/**
 * `start`, `pause`, `resume`, `submit`, `terminate`, `expire`, `add_time`,
 * `identity_submit`, `identity_approve`, `identity_reject`, `break_start`, `break_end`.
 */
change: string, at: number, 
/**
 * `student`, `server`, or `proctor:<id>`.
 */
by: string, reason?: string, 
/**
 * With `add_time`: how much.
 */
added_ms?: number, };

export type StudentReview = { exam: Exam, student: Student, session: SessionView, accommodations?: Accommodations, 
/**
 * Oldest first.
 */
incidents: Array<IncidentRecord>, 
/**
 * Every reading of every incident, oldest first (the latest per incident counts).
 */
incident_reviews: Array<IncidentReview>, 
/**
 * The score after each incident that counts, oldest first; between two
 * points it decays with the exam's half-life.
 */
score_curve: Array<ScorePoint>, transitions: Array<RecordedTransition>, actions: Array<RecordedAction>, chat: Array<ChatMessage>, identity_photos: Array<IdentityPhoto>, 
/**
 * Every version of the decision, oldest first.
 */
decisions: Array<Decision>, 
/**
 * The student's responses to decisions, oldest first.
 */
appeals: Array<Appeal>, 
/**
 * Higher is reviewed first: `peak_score / alert_at`, plus a quarter of
 * the weights of the distinct kinds seen over `alert_at`, plus 0.1 per
 * unreviewed incident (up to 20), plus 0.2 per heartbeat or media gap
 * (up to 10). Dismissed incidents count in none of it.
 */
priority: number, peak_score: number, peak_at?: number, 
/**
 * Incidents by kind (dismissed ones left out).
 */
counts: { [key in IncidentKind]?: number }, 
/**
 * Incidents that count (dismissed ones left out).
 */
incident_count: number, 
/**
 * Incidents no reviewer has confirmed or dismissed.
 */
unreviewed: number, 
/**
 * `heartbeat_lost` and `media_stalled`: times the server lost sight of the student.
 */
gaps: number, };

export type AuditRecord = { at: number, 
/**
 * `proctor:<id>`, `student:<id>` or `admin`.
 */
actor: string, 
/**
 * `view_record`, `view_evidence`, `view_identity_photo`, `decide`, `review_incident`.
 */
action: string, student_id?: StudentId, 
/**
 * What exactly: the evidence frame's hash, the verdict, the incident.
 */
detail?: string, };

export type ExamArchive = { exam: Exam, proctors: Array<Proctor>, students: Array<StudentReview>, exported_at: number, };

export type Appeal = { decision_version: number, text: string, at: number, };

export type SubmitAppeal = { 
/**
 * The decision version answered.
 */
decision_version: number, 
/**
 * 1–5,000 characters.
 */
text: string, };

export type StudentRecord = { exam_id: ExamId, exam_title: string, student: Student, session: SessionView, 
/**
 * Oldest first; a kept frame is at `GET /api/v1/me/evidence/{sha256}`.
 */
incidents: Array<IncidentRecord>, incident_reviews: Array<IncidentReview>, transitions: Array<RecordedTransition>, actions: Array<RecordedAction>, chat: Array<ChatMessage>, identity_photos: Array<IdentityPhoto>, decisions: Array<Decision>, appeals: Array<Appeal>, };

export type ErasureReport = { incidents: number, evidence_frames: number, chat_messages: number, identity_photos: number, };

export type RecordingContainer = "webm" | "mp4";

export type RecordingSegment = { sha256: string, 
/**
 * What file the bytes are (absent from servers before H.264: WebM).
 */
container: RecordingContainer, 
/**
 * When its first frame arrived at the server: where it sits on the
 * exam's timeline, next to the incidents.
 */
started_at: number, duration_ms: number, frames: number, keyframes: number, width: number, height: number, bytes: number, };

/** Socket.IO namespaces and event names. */
export const EVENTS = {
  STUDENT_NS: "/student",
  PROCTOR_NS: "/proctor",
  INCIDENT: "incident",
  INCIDENT_END: "incident_end",
  SIGNALS: "signals",
  HEARTBEAT: "heartbeat",
  START: "start",
  SUBMIT: "submit",
  IDENTITY_SUBMIT: "identity_submit",
  BREAK_START: "break_start",
  BREAK_END: "break_end",
  CHAT_SYNC: "chat_sync",
  CHAT: "chat",
  SESSION: "session",
  WELCOME: "welcome",
  PROCTOR_ACTION: "proctor_action",
  ASSESSMENT: "assessment",
  EXAM_SETTINGS: "exam_settings",
  ACCESS_CODE_CHANGED: "access_code_changed",
  SNAPSHOT: "snapshot",
  SCORE: "score",
  INCIDENT_NOTICE: "incident",
  PRESENCE: "presence",
  QUALITY: "quality",
  EXAM: "exam",
  STUDENT_ADDED: "student",
  ACTION: "action",
  RTC_PUBLISH: "rtc_publish",
  RTC_SUBSCRIBE: "rtc_subscribe",
  RTC_CANDIDATE: "rtc_candidate",
  WATCH: "watch",
  UNWATCH: "unwatch",
  SLOT: "slot",
} as const;

/** Events the server sends to a student on `/student`. */
export interface StudentServerToClient {
  "welcome": (payload: StudentWelcome) => void;
  "proctor_action": (payload: ProctorAction) => void;
  "assessment": (payload: AssessmentEntry) => void;
  "exam_settings": (payload: ExamSettings) => void;
  "access_code_changed": () => void;
  "session": (payload: SessionView) => void;
  "chat": (payload: ChatMessage) => void;
  "rtc_candidate": (payload: IceCandidate) => void;
}

/** Events a student may send on `/student` (the server refuses watching from there). */
export interface StudentClientToServer {
  "incident": (payload: IncidentReport, ack: (answer: IncidentAck) => void) => void;
  "incident_end": (payload: IncidentEnd, ack: (answer: IncidentAck) => void) => void;
  "signals": (payload: Signals) => void;
  "heartbeat": (payload: Heartbeat) => void;
  "start": (ack: (answer: RequestAck) => void) => void;
  "submit": (ack: (answer: RequestAck) => void) => void;
  "identity_submit": (ack: (answer: RequestAck) => void) => void;
  "break_start": (ack: (answer: RequestAck) => void) => void;
  "break_end": (ack: (answer: RequestAck) => void) => void;
  "chat": (payload: ChatSend, ack: (answer: ChatAck) => void) => void;
  "chat_sync": (payload: ChatSync, ack: (answer: ChatHistory) => void) => void;
  "rtc_publish": (payload: SessionDescription, ack: (answer: RtcAck) => void) => void;
  "rtc_candidate": (payload: IceCandidate) => void;
}

/** Events the server sends to a proctor on `/proctor`. */
export interface ProctorServerToClient {
  "score": (payload: ScoreUpdate) => void;
  "incident": (payload: IncidentRecord) => void;
  "presence": (payload: PresenceUpdate) => void;
  "quality": (payload: QualityUpdate) => void;
  "exam": (payload: Exam) => void;
  "student": (payload: StudentView) => void;
  "session": (payload: SessionUpdate) => void;
  "chat": (payload: ChatMessage) => void;
  "slot": (payload: SlotUpdate) => void;
  "rtc_candidate": (payload: IceCandidate) => void;
}

/** Events a proctor may send on `/proctor`. */
export interface ProctorClientToServer {
  "snapshot": (ack: (answer: ExamSnapshot) => void) => void;
  "action": (payload: ActionRequest, ack: (answer: RequestAck) => void) => void;
  "chat": (payload: ProctorChatSend, ack: (answer: ChatAck) => void) => void;
  "rtc_subscribe": (payload: SessionDescription, ack: (answer: RtcAck) => void) => void;
  "rtc_candidate": (payload: IceCandidate) => void;
  "watch": (payload: WatchRequest, ack: (answer: RequestAck) => void) => void;
  "unwatch": (payload: UnwatchRequest, ack: (answer: RequestAck) => void) => void;
}

/** The parameters of event `E` in events map `M`. */
export type EventArgs<M, E extends keyof M> = M[E] extends (...args: infer A) => void ? A : never;

/** The events of `M` whose receiver answers: a payload, then the acknowledgement callback. */
export type AnsweredEvent<M> = { [E in keyof M]: EventArgs<M, E> extends [unknown, (answer: never) => void] ? E : never }[keyof M];

/** The payload of event `E` in `M`. */
export type PayloadOf<M, E extends keyof M> = EventArgs<M, E> extends [infer P, ...unknown[]] ? P : never;

/** The answer to event `E` in `M`. */
export type AnswerOf<M, E extends keyof M> = EventArgs<M, E> extends [unknown, (answer: infer A) => void] ? A : never;
