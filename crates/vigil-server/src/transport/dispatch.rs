//! One socket message, from its event name and JSON payload to the
//! service's answer. Shared by the sockets this node holds for its own
//! exams (`transport::sockets`) and by the messages other nodes relay to it
//! (`transport::relay`), so a relayed student is served by exactly the same
//! code as a local one.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use vigil_core::session::Change;
use vigil_proto::events::{
    ActionRequest, ChatAck, ChatSend, ChatSync, Heartbeat, IceCandidate, IncidentAck, ProctorChatSend, RequestAck,
    RtcAck, SessionDescription, Signals, SlotUpdate, UnwatchRequest, WatchRequest, names,
};
use vigil_proto::{IncidentId, RejectReason, Rejection};

use crate::service::ingest::rejected;
use crate::service::{ProctorSession, Service, StudentSession};

/// Events a student socket may send, and how each is ordered.
pub const STUDENT_INCIDENT_EVENTS: [&str; 2] = [names::INCIDENT, names::INCIDENT_END];
pub const STUDENT_SIGNAL_EVENTS: [&str; 2] = [names::SIGNALS, names::HEARTBEAT];
pub const STUDENT_OTHER_EVENTS: [&str; 12] = [
    names::START,
    names::SUBMIT,
    names::BREAK_START,
    names::BREAK_END,
    names::IDENTITY_SUBMIT,
    names::CHAT,
    names::CHAT_SYNC,
    names::RTC_PUBLISH,
    names::RTC_CANDIDATE,
    names::RTC_SUBSCRIBE,
    names::WATCH,
    names::UNWATCH,
];

/// Events a proctor socket may send.
pub const PROCTOR_EVENTS: [&str; 7] = [
    names::SNAPSHOT,
    names::ACTION,
    names::CHAT,
    names::RTC_SUBSCRIBE,
    names::RTC_CANDIDATE,
    names::WATCH,
    names::UNWATCH,
];

fn invalid(e: &serde_json::Error) -> Rejection {
    Rejection::new(RejectReason::InvalidPayload, format!("payload does not match the schema: {e}"))
}

fn parse<T: DeserializeOwned>(data: Value) -> Result<T, Rejection> {
    serde_json::from_value(data).map_err(|e| invalid(&e))
}

fn json<T: Serialize>(v: &T) -> Option<Value> {
    // Our own reply types always serialise; `None` would only drop an ack.
    serde_json::to_value(v).ok()
}

/// Parses an `incident` or `incident_end`. A refusal names the message's id
/// whenever it has one in the id grammar, even if another field is wrong.
fn parse_incident_message<T: DeserializeOwned>(raw: Value) -> Result<T, IncidentAck> {
    let id = raw.get("id").and_then(|v| v.as_str()).and_then(|s| s.parse::<IncidentId>().ok());
    serde_json::from_value(raw).map_err(|e| rejected(id, invalid(&e)))
}

/// A student's message; the answer is its ack, if the event has one.
pub async fn student_event(svc: &Service, sess: &StudentSession, event: &str, data: Value) -> Option<Value> {
    match event {
        names::INCIDENT => json(&match parse_incident_message(data) {
            Ok(report) => svc.report_incident(sess, report).await,
            Err(refusal) => refusal,
        }),
        names::INCIDENT_END => json(&match parse_incident_message(data) {
            Ok(end) => svc.end_incident(sess, end).await,
            Err(refusal) => refusal,
        }),
        names::SIGNALS => {
            match parse::<Signals>(data) {
                Ok(sig) => svc.signals(sess, sig).await,
                Err(_) => metrics::counter!(crate::metrics::SIGNALS_DROPPED).increment(1),
            }
            None
        }
        names::HEARTBEAT => {
            match parse::<Heartbeat>(data) {
                Ok(hb) => svc.heartbeat(sess, hb).await,
                Err(_) => metrics::counter!(crate::metrics::SIGNALS_DROPPED).increment(1),
            }
            None
        }
        // A session's own changes: each applies at most once (start once,
        // hand in once), and a repeat is refused by the state machine before
        // any write, so they need no budget of their own.
        names::START => json(&svc.student_session(sess, Change::Start).await),
        names::SUBMIT => json(&svc.student_session(sess, Change::Submit).await),
        names::BREAK_START => json(&svc.student_session(sess, Change::BreakStart).await),
        names::BREAK_END => json(&svc.student_session(sess, Change::BreakEnd).await),
        names::IDENTITY_SUBMIT => json(&svc.identity_submit(sess).await),
        names::CHAT => json(&match parse::<ChatSend>(data) {
            Ok(msg) => svc.student_chat(sess, msg).await,
            Err(rejection) => ChatAck::Rejected { rejection },
        }),
        names::CHAT_SYNC => {
            // A malformed ask reads from the beginning: the page merges by number.
            let req = parse::<ChatSync>(data).unwrap_or(ChatSync { after: 0 });
            json(&svc.student_chat_sync(sess, req).await)
        }
        names::RTC_PUBLISH => json(&match parse::<SessionDescription>(data) {
            Ok(offer) => svc.publish(sess, offer).await,
            Err(rejection) => RtcAck::Rejected { rejection },
        }),
        names::RTC_CANDIDATE => {
            if let Ok(c) = parse::<IceCandidate>(data) {
                svc.student_candidate(sess, c).await;
            }
            None
        }
        names::RTC_SUBSCRIBE | names::WATCH | names::UNWATCH => {
            let rejection = Rejection::new(RejectReason::Forbidden, "students cannot watch anyone");
            json(&RequestAck::Rejected { rejection })
        }
        _ => None,
    }
}

/// What a proctor's message answers: its ack, and a slot update to send
/// the socket first (`watch`, `unwatch`).
#[derive(Debug, Default, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ProctorAnswer {
    pub ack: Option<Value>,
    pub slot: Option<SlotUpdate>,
}

fn answer_slot(res: Result<SlotUpdate, Rejection>) -> ProctorAnswer {
    match res {
        Ok(update) => ProctorAnswer { ack: json(&RequestAck::Ok), slot: Some(update) },
        Err(rejection) => ProctorAnswer { ack: json(&RequestAck::Rejected { rejection }), slot: None },
    }
}

fn ack_only(ack: Option<Value>) -> ProctorAnswer {
    ProctorAnswer { ack, slot: None }
}

/// A proctor's message.
pub async fn proctor_event(svc: &Service, sess: &ProctorSession, event: &str, data: Value) -> ProctorAnswer {
    match event {
        names::SNAPSHOT => ack_only(json(&svc.snapshot(sess))),
        names::ACTION => ack_only(json(&match parse::<ActionRequest>(data) {
            Ok(req) => svc.act(sess, req).await,
            Err(rejection) => RequestAck::Rejected { rejection },
        })),
        names::CHAT => ack_only(json(&match parse::<ProctorChatSend>(data) {
            Ok(msg) => svc.proctor_chat(sess, msg).await,
            Err(rejection) => ChatAck::Rejected { rejection },
        })),
        names::RTC_SUBSCRIBE => ack_only(json(&match parse::<SessionDescription>(data) {
            Ok(offer) => svc.subscribe(sess, offer).await,
            Err(rejection) => RtcAck::Rejected { rejection },
        })),
        names::RTC_CANDIDATE => {
            if let Ok(c) = parse::<IceCandidate>(data) {
                svc.proctor_candidate(sess, c).await;
            }
            ProctorAnswer::default()
        }
        names::WATCH => match parse::<WatchRequest>(data) {
            Ok(req) => answer_slot(svc.watch(sess, req).await),
            Err(rejection) => ack_only(json(&RequestAck::Rejected { rejection })),
        },
        names::UNWATCH => match parse::<UnwatchRequest>(data) {
            Ok(req) => answer_slot(svc.unwatch(sess, req).await),
            Err(rejection) => ack_only(json(&RequestAck::Rejected { rejection })),
        },
        _ => ProctorAnswer::default(),
    }
}
