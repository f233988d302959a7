//! The incident pipeline: authn (done at the handshake) → validate → dedupe
//! → store → score → fan-out. The decisions are vigil-core's; this module
//! only sequences them around the durable write.

use std::time::Instant;

use vigil_core::ledger::{Admit, PendingIncident};
use vigil_proto::events::{IncidentAck, IncidentEnd, IncidentReport};
use vigil_proto::{IncidentKind, RejectReason, Rejection};

use crate::App;
use crate::clock::now_ms;
use crate::exams::{ExamRuntime, StudentCell, lock};
use crate::metrics as m;

fn rejected(id: Option<String>, rejection: Rejection) -> IncidentAck {
    metrics::counter!(m::INCIDENTS_REJECTED, "reason" => rejection.reason.as_str()).increment(1);
    IncidentAck::Rejected { id, rejection }
}

fn unavailable(id: String, e: &vigil_store::StoreError) -> IncidentAck {
    tracing::error!(error = %e, incident = %id, "could not store incident");
    rejected(
        Some(id),
        Rejection {
            reason: RejectReason::Unavailable,
            message: "the server could not store this right now; retry".into(),
            retry_after_ms: Some(1_000),
        },
    )
}

/// Handles a student's `incident`. The ack is sent only after the incident
/// is committed, and the score update has already left for the proctors.
pub async fn report(app: &App, rt: &ExamRuntime, cell: &StudentCell, report: IncidentReport) -> IncidentAck {
    let mut ledger = cell.ledger.lock().await;
    let now = now_ms();
    match ledger.check_report(&rt.exam.settings, app.exams.limits(), &report, now) {
        Err(rejection) => rejected(Some(report.id), rejection),
        Ok(Admit::Duplicate) => {
            metrics::counter!(m::INCIDENTS_DUPLICATE).increment(1);
            IncidentAck::Duplicate { id: report.id }
        }
        Ok(Admit::New(pending)) => {
            if let Err(e) = app.store.insert_incident(rt.id(), &pending).await {
                return unavailable(report.id, &e);
            }
            // Still under the ledger lock: this student's score updates leave
            // in the order their incidents were committed.
            commit_and_fan_out(app, rt, cell, &mut ledger, pending).await;
            IncidentAck::Accepted { id: report.id }
        }
    }
}

/// Handles a student's `incident_end`.
pub async fn end(app: &App, rt: &ExamRuntime, cell: &StudentCell, end: IncidentEnd) -> IncidentAck {
    let mut ledger = cell.ledger.lock().await;
    match ledger.check_end(app.exams.limits(), &end, now_ms()) {
        Err(rejection) => rejected(Some(end.id), rejection),
        Ok(Admit::Duplicate) => IncidentAck::Duplicate { id: end.id },
        Ok(Admit::New(pending)) => {
            if let Err(e) =
                app.store.end_incident(rt.id(), &cell.person.id, &pending.id, pending.seq, pending.ended_at).await
            {
                return unavailable(end.id, &e);
            }
            ledger.commit_end(&pending);
            drop(ledger);
            let updated = {
                let mut live = lock(&cell.live);
                match live.last_incident.as_mut() {
                    Some(last) if last.id == pending.id => {
                        last.ended_at = Some(pending.ended_at);
                        Some(last.clone())
                    }
                    _ => None,
                }
            };
            if let Some(record) = updated {
                app.fanout.incident(rt.id(), &record).await;
            }
            IncidentAck::Accepted { id: end.id }
        }
    }
}

/// Raises an incident the server observed itself (a stalled heartbeat, media
/// health). Idempotent by `id`.
pub async fn server_incident(
    app: &App,
    rt: &ExamRuntime,
    cell: &StudentCell,
    id: String,
    kind: IncidentKind,
    started_at: i64,
    detail: Option<String>,
) {
    let mut ledger = cell.ledger.lock().await;
    let Admit::New(pending) = ledger.admit_server_incident(id, kind, started_at, detail, now_ms()) else { return };
    if let Err(e) = app.store.insert_incident(rt.id(), &pending).await {
        tracing::error!(error = %e, "could not store a server incident");
        return;
    }
    commit_and_fan_out(app, rt, cell, &mut ledger, pending).await;
}

async fn commit_and_fan_out(
    app: &App,
    rt: &ExamRuntime,
    cell: &StudentCell,
    ledger: &mut vigil_core::ledger::Ledger,
    pending: PendingIncident,
) {
    let accepted = Instant::now();
    let view = ledger.commit_report(&rt.exam.settings, &pending);
    metrics::counter!(m::INCIDENTS_ACCEPTED).increment(1);
    {
        let mut live = lock(&cell.live);
        live.score = view;
        if live.last_incident.as_ref().is_none_or(|l| l.started_at <= pending.record.started_at) {
            live.last_incident = Some(pending.record.clone());
        }
    }
    app.fanout.score(rt.id(), &cell.person.id, view, accepted).await;
    app.fanout.incident(rt.id(), &pending.record).await;
}
