//! TypeScript bindings for every wire type, in one self-contained module.
//!
//! The generated file is committed at [`BINDINGS_PATH`] so the web apps build
//! without a Rust toolchain; `cargo run -p vigil-proto --example write-ts`
//! rewrites it and the `bindings_are_fresh` test fails when it is stale.

use ts_rs::{Config, TS};

use crate::events::*;
use crate::review::*;
use crate::*;

/// Path of the generated module, relative to the repository root.
pub const BINDINGS_PATH: &str = "web/proto/vigil.ts";

/// The full text of the generated TypeScript module.
pub fn bindings() -> String {
    // JSON numbers are IEEE doubles on the JS side; every i64/u64 we send
    // (times in ms, counters) stays far below 2^53.
    let cfg = Config::new().with_large_int("number");
    let decls = [
        IncidentKind::decl(&cfg),
        IncidentSource::decl(&cfg),
        Level::decl(&cfg),
        PrivacyTier::decl(&cfg),
        ExamWindow::decl(&cfg),
        ScoringRules::decl(&cfg),
        ExamSettings::decl(&cfg),
        Accommodations::decl(&cfg),
        DetectorThresholds::decl(&cfg),
        BreakPolicy::decl(&cfg),
        IdentityCheck::decl(&cfg),
        IdentityPhotoKind::decl(&cfg),
        SessionPhase::decl(&cfg),
        SessionView::decl(&cfg),
        SessionUpdate::decl(&cfg),
        Exam::decl(&cfg),
        Role::decl(&cfg),
        ExamId::decl(&cfg),
        StudentId::decl(&cfg),
        ProctorId::decl(&cfg),
        IncidentId::decl(&cfg),
        ChatMessageId::decl(&cfg),
        Student::decl(&cfg),
        Proctor::decl(&cfg),
        Presence::decl(&cfg),
        Quality::decl(&cfg),
        RejectReason::decl(&cfg),
        Rejection::decl(&cfg),
        ErrorBody::decl(&cfg),
        HandshakeAuth::decl(&cfg),
        StudentWelcome::decl(&cfg),
        AssessmentEntry::decl(&cfg),
        StartAssessment::decl(&cfg),
        IncidentReport::decl(&cfg),
        IncidentEnd::decl(&cfg),
        IncidentAck::decl(&cfg),
        Signals::decl(&cfg),
        Heartbeat::decl(&cfg),
        ProctorActionKind::decl(&cfg),
        ProctorAction::decl(&cfg),
        ChatFrom::decl(&cfg),
        ChatMessage::decl(&cfg),
        ChatSend::decl(&cfg),
        ProctorChatSend::decl(&cfg),
        ChatAck::decl(&cfg),
        ChatSync::decl(&cfg),
        ChatHistory::decl(&cfg),
        IdentityPhoto::decl(&cfg),
        IdentityPhotos::decl(&cfg),
        SessionDescription::decl(&cfg),
        RtcAck::decl(&cfg),
        IceCandidate::decl(&cfg),
        WatchQuality::decl(&cfg),
        WatchRequest::decl(&cfg),
        UnwatchRequest::decl(&cfg),
        SlotUpdate::decl(&cfg),
        ScoreView::decl(&cfg),
        ScoreUpdate::decl(&cfg),
        IncidentRecord::decl(&cfg),
        PresenceUpdate::decl(&cfg),
        QualityUpdate::decl(&cfg),
        ActionRequest::decl(&cfg),
        RecordedAction::decl(&cfg),
        RequestAck::decl(&cfg),
        StudentView::decl(&cfg),
        ExamSnapshot::decl(&cfg),
        EvidenceMedia::decl(&cfg),
        EvidenceAccepted::decl(&cfg),
        UplinkProbe::decl(&cfg),
        CreateExam::decl(&cfg),
        AddPerson::decl(&cfg),
        IssueLink::decl(&cfg),
        JoinLink::decl(&cfg),
        ExamRoster::decl(&cfg),
        RegisterLtiPlatform::decl(&cfg),
        LtiPlatform::decl(&cfg),
        LtiKeyRotation::decl(&cfg),
        SetAccessCode::decl(&cfg),
        AccessCode::decl(&cfg),
        Verdict::decl(&cfg),
        IncidentVerdict::decl(&cfg),
        Decision::decl(&cfg),
        SetDecision::decl(&cfg),
        IncidentReview::decl(&cfg),
        ReviewIncident::decl(&cfg),
        ScorePoint::decl(&cfg),
        ReviewPriority::decl(&cfg),
        ReviewRow::decl(&cfg),
        ReviewQueue::decl(&cfg),
        RecordedTransition::decl(&cfg),
        StudentReview::decl(&cfg),
        AuditRecord::decl(&cfg),
        ExamArchive::decl(&cfg),
        Appeal::decl(&cfg),
        SubmitAppeal::decl(&cfg),
        StudentRecord::decl(&cfg),
        ErasureReport::decl(&cfg),
        RecordingContainer::decl(&cfg),
        RecordingSegment::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from crates/vigil-proto by `cargo run -p vigil-proto --example write-ts`.\n\
         // Do not edit: change the Rust types and regenerate.\n\n",
    );
    out.push_str("/** Milliseconds since the Unix epoch. */\nexport type UnixMillis = number;\n\n");
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.push_str(&event_names());
    out.push_str(&event_maps(&cfg));
    out
}

fn event_names() -> String {
    use crate::events::names::*;
    let pairs = [
        ("STUDENT_NS", STUDENT_NS),
        ("PROCTOR_NS", PROCTOR_NS),
        ("INCIDENT", INCIDENT),
        ("INCIDENT_END", INCIDENT_END),
        ("SIGNALS", SIGNALS),
        ("HEARTBEAT", HEARTBEAT),
        ("START", START),
        ("SUBMIT", SUBMIT),
        ("IDENTITY_SUBMIT", IDENTITY_SUBMIT),
        ("BREAK_START", BREAK_START),
        ("BREAK_END", BREAK_END),
        ("CHAT_SYNC", CHAT_SYNC),
        ("CHAT", CHAT),
        ("SESSION", SESSION),
        ("WELCOME", WELCOME),
        ("PROCTOR_ACTION", PROCTOR_ACTION),
        ("ASSESSMENT", ASSESSMENT),
        ("EXAM_SETTINGS", EXAM_SETTINGS),
        ("ACCESS_CODE_CHANGED", ACCESS_CODE_CHANGED),
        ("SNAPSHOT", SNAPSHOT),
        ("SCORE", SCORE),
        ("INCIDENT_NOTICE", INCIDENT_NOTICE),
        ("PRESENCE", PRESENCE),
        ("QUALITY", QUALITY),
        ("EXAM", EXAM),
        ("STUDENT_ADDED", STUDENT_ADDED),
        ("ACTION", ACTION),
        ("RTC_PUBLISH", RTC_PUBLISH),
        ("RTC_SUBSCRIBE", RTC_SUBSCRIBE),
        ("RTC_CANDIDATE", RTC_CANDIDATE),
        ("WATCH", WATCH),
        ("UNWATCH", UNWATCH),
        ("SLOT", SLOT),
    ];
    let mut out = String::from("/** Socket.IO namespaces and event names. */\nexport const EVENTS = {\n");
    for (k, v) in pairs {
        out.push_str(&format!("  {k}: {v:?},\n"));
    }
    out.push_str("} as const;\n");
    out
}

/// One Socket.IO event as a client's `EventsMap` types it: the listener (or
/// emitter) signature, with the acknowledgement callback last when the
/// receiver answers.
struct EventType {
    name: &'static str,
    payload: Option<String>,
    ack: Option<String>,
}

impl EventType {
    /// A fire-and-forget event carrying a `P`.
    fn sends<P: TS>(cfg: &Config, name: &'static str) -> Self {
        EventType { name, payload: Some(P::name(cfg)), ack: None }
    }

    /// An event carrying a `P` whose receiver answers with an `A`.
    fn asks<P: TS, A: TS>(cfg: &Config, name: &'static str) -> Self {
        EventType { name, payload: Some(P::name(cfg)), ack: Some(A::name(cfg)) }
    }

    /// An event without a payload (sent as `null`) and without an answer.
    fn sends_bare(name: &'static str) -> Self {
        EventType { name, payload: None, ack: None }
    }

    /// An event without a payload whose receiver answers with an `A`.
    fn asks_bare<A: TS>(cfg: &Config, name: &'static str) -> Self {
        EventType { name, payload: None, ack: Some(A::name(cfg)) }
    }

    fn signature(&self) -> String {
        let params: Vec<String> = [
            self.payload.as_ref().map(|p| format!("payload: {p}")),
            self.ack.as_ref().map(|a| format!("ack: (answer: {a}) => void")),
        ]
        .into_iter()
        .flatten()
        .collect();
        format!("({}) => void", params.join(", "))
    }
}

/// The four directions of the two namespaces, each as the event list the
/// server handles or emits there (see `vigil-server`'s `sockets.rs` and
/// `media.rs`). Keys are the [`names`](crate::events::names) constants, so a
/// renamed event renames its key; payloads and answers are the Rust types'
/// TypeScript names, so a renamed type renames them too.
fn event_types(cfg: &Config) -> [(&'static str, &'static str, Vec<EventType>); 4] {
    use crate::events::names::*;
    [
        (
            "StudentServerToClient",
            "Events the server sends to a student on `/student`.",
            vec![
                EventType::sends::<StudentWelcome>(cfg, WELCOME),
                EventType::sends::<ProctorAction>(cfg, PROCTOR_ACTION),
                EventType::sends::<AssessmentEntry>(cfg, ASSESSMENT),
                EventType::sends::<ExamSettings>(cfg, EXAM_SETTINGS),
                EventType::sends_bare(ACCESS_CODE_CHANGED),
                EventType::sends::<SessionView>(cfg, SESSION),
                EventType::sends::<ChatMessage>(cfg, CHAT),
                // Trickle ICE is specified both ways; the SFU is ICE-lite and
                // puts its candidates in the answer, so today it sends none.
                EventType::sends::<IceCandidate>(cfg, RTC_CANDIDATE),
            ],
        ),
        (
            "StudentClientToServer",
            "Events a student may send on `/student` (the server refuses watching from there).",
            vec![
                EventType::asks::<IncidentReport, IncidentAck>(cfg, INCIDENT),
                EventType::asks::<IncidentEnd, IncidentAck>(cfg, INCIDENT_END),
                EventType::sends::<Signals>(cfg, SIGNALS),
                EventType::sends::<Heartbeat>(cfg, HEARTBEAT),
                EventType::asks_bare::<RequestAck>(cfg, START),
                EventType::asks_bare::<RequestAck>(cfg, SUBMIT),
                EventType::asks_bare::<RequestAck>(cfg, IDENTITY_SUBMIT),
                EventType::asks_bare::<RequestAck>(cfg, BREAK_START),
                EventType::asks_bare::<RequestAck>(cfg, BREAK_END),
                EventType::asks::<ChatSend, ChatAck>(cfg, CHAT),
                EventType::asks::<ChatSync, ChatHistory>(cfg, CHAT_SYNC),
                EventType::asks::<SessionDescription, RtcAck>(cfg, RTC_PUBLISH),
                EventType::sends::<IceCandidate>(cfg, RTC_CANDIDATE),
            ],
        ),
        (
            "ProctorServerToClient",
            "Events the server sends to a proctor on `/proctor`.",
            vec![
                EventType::sends::<ScoreUpdate>(cfg, SCORE),
                EventType::sends::<IncidentRecord>(cfg, INCIDENT_NOTICE),
                EventType::sends::<PresenceUpdate>(cfg, PRESENCE),
                EventType::sends::<QualityUpdate>(cfg, QUALITY),
                EventType::sends::<Exam>(cfg, EXAM),
                EventType::sends::<StudentView>(cfg, STUDENT_ADDED),
                EventType::sends::<SessionUpdate>(cfg, SESSION),
                EventType::sends::<ChatMessage>(cfg, CHAT),
                EventType::sends::<SlotUpdate>(cfg, SLOT),
                EventType::sends::<IceCandidate>(cfg, RTC_CANDIDATE),
            ],
        ),
        (
            "ProctorClientToServer",
            "Events a proctor may send on `/proctor`.",
            vec![
                EventType::asks_bare::<ExamSnapshot>(cfg, SNAPSHOT),
                EventType::asks::<ActionRequest, RequestAck>(cfg, ACTION),
                EventType::asks::<ProctorChatSend, ChatAck>(cfg, CHAT),
                EventType::asks::<SessionDescription, RtcAck>(cfg, RTC_SUBSCRIBE),
                EventType::sends::<IceCandidate>(cfg, RTC_CANDIDATE),
                EventType::asks::<WatchRequest, RequestAck>(cfg, WATCH),
                EventType::asks::<UnwatchRequest, RequestAck>(cfg, UNWATCH),
            ],
        ),
    ]
}

/// Type-level access to an events map's answered events. socket.io-client
/// types the answer of `socket.timeout(ms).emitWithAck(...)` as `any`
/// (socketio/socket.io#4925), so the apps wrap that call in a helper typed
/// with these.
const EVENT_MAP_HELPERS: &str = "
/** The parameters of event `E` in events map `M`. */
export type EventArgs<M, E extends keyof M> = M[E] extends (...args: infer A) => void ? A : never;

/** The events of `M` whose receiver answers: a payload, then the acknowledgement callback. */
export type AnsweredEvent<M> = { [E in keyof M]: EventArgs<M, E> extends [unknown, (answer: never) => void] ? E : never }[keyof M];

/** The payload of event `E` in `M`. */
export type PayloadOf<M, E extends keyof M> = EventArgs<M, E> extends [infer P, ...unknown[]] ? P : never;

/** The answer to event `E` in `M`. */
export type AnswerOf<M, E extends keyof M> = EventArgs<M, E> extends [unknown, (answer: infer A) => void] ? A : never;
";

/// socket.io-client `EventsMap`s for both namespaces: `io(url)` typed as
/// `Socket<StudentServerToClient, StudentClientToServer>` checks every
/// `on`, `emit` and `emitWithAck` against the wire types.
fn event_maps(cfg: &Config) -> String {
    let mut out = String::new();
    for (interface, doc, events) in event_types(cfg) {
        out.push_str(&format!("\n/** {doc} */\nexport interface {interface} {{\n"));
        for e in &events {
            out.push_str(&format!("  {:?}: {};\n", e.name, e.signature()));
        }
        out.push_str("}\n");
    }
    out.push_str(EVENT_MAP_HELPERS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_fresh() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(BINDINGS_PATH);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == bindings(),
            "{BINDINGS_PATH} is stale: run `cargo run -p vigil-proto --example write-ts` and commit it"
        );
    }

    /// Every payload and answer an events map names is declared in the module
    /// (a type missing from `bindings()`'s list would otherwise only fail in
    /// the apps' type check).
    #[test]
    fn event_maps_name_declared_types() {
        let cfg = Config::new().with_large_int("number");
        let module = bindings();
        for (interface, _, events) in event_types(&cfg) {
            for e in &events {
                for ty in e.payload.iter().chain(&e.ack) {
                    assert!(
                        module.contains(&format!("export type {ty} ")),
                        "{interface}.{} uses {ty}, which the module does not declare",
                        e.name
                    );
                }
            }
        }
    }

    /// Each event name in `EVENTS` is in some events map, and no map has a
    /// name twice: a new event cannot be forgotten in the typed sockets.
    #[test]
    fn event_maps_cover_every_event() {
        let cfg = Config::new().with_large_int("number");
        let maps = event_types(&cfg);
        for (interface, _, events) in &maps {
            let mut names: Vec<_> = events.iter().map(|e| e.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(names.len(), before, "{interface} lists an event twice");
        }
        let listed: Vec<String> = event_names()
            .lines()
            .filter_map(|l| l.trim().strip_suffix(','))
            .filter_map(|l| l.split_once(": "))
            .filter(|(k, _)| !k.ends_with("_NS"))
            .map(|(_, v)| v.trim_matches('"').to_owned())
            .collect();
        assert!(listed.len() >= 15, "parsed too few event names from EVENTS: {listed:?}");
        for name in listed {
            assert!(
                maps.iter().any(|(_, _, events)| events.iter().any(|e| e.name == name)),
                "event {name:?} is in EVENTS but in no events map"
            );
        }
    }
}
