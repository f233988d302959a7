//! TypeScript bindings for every wire type, in one self-contained module.
//!
//! The generated file is committed at [`BINDINGS_PATH`] so the web apps build
//! without a Rust toolchain; `cargo run -p vigil-proto --example write-ts`
//! rewrites it and the `bindings_are_fresh` test fails when it is stale.

use ts_rs::{Config, TS};

use crate::events::*;
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
        Exam::decl(&cfg),
        Role::decl(&cfg),
        Person::decl(&cfg),
        Presence::decl(&cfg),
        Quality::decl(&cfg),
        RejectReason::decl(&cfg),
        Rejection::decl(&cfg),
        ErrorBody::decl(&cfg),
        HandshakeAuth::decl(&cfg),
        StudentWelcome::decl(&cfg),
        IncidentReport::decl(&cfg),
        IncidentEnd::decl(&cfg),
        IncidentAck::decl(&cfg),
        Signals::decl(&cfg),
        Heartbeat::decl(&cfg),
        ProctorActionKind::decl(&cfg),
        ProctorAction::decl(&cfg),
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
        RequestAck::decl(&cfg),
        StudentView::decl(&cfg),
        ExamSnapshot::decl(&cfg),
        EvidenceAccepted::decl(&cfg),
        CreateExam::decl(&cfg),
        AddPerson::decl(&cfg),
        IssueLink::decl(&cfg),
        JoinLink::decl(&cfg),
        ExamRoster::decl(&cfg),
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
        ("WELCOME", WELCOME),
        ("PROCTOR_ACTION", PROCTOR_ACTION),
        ("SNAPSHOT", SNAPSHOT),
        ("SCORE", SCORE),
        ("INCIDENT_NOTICE", INCIDENT_NOTICE),
        ("PRESENCE", PRESENCE),
        ("QUALITY", QUALITY),
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
}
