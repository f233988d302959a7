//! The incident pipeline: authn (done at the handshake) → validate → dedupe
//! → store → score → fan-out. The decisions are vigil-core's; this module
//! only sequences them around the durable write.

use std::time::Instant;

use vigil_core::ledger::{Admit, Ledger, PendingIncident};
use vigil_proto::events::{IncidentAck, IncidentEnd, IncidentRecord, IncidentReport};
use vigil_proto::{IncidentId, IncidentKind, Rejection, UnixMillis};

use super::exams::{ExamRuntime, StudentCell};
use super::fanout::ProctorEvent;
use super::{Service, StudentSession, lock, unavailable};
use crate::metrics as m;

pub fn rejected(id: Option<IncidentId>, rejection: Rejection) -> IncidentAck {
    metrics::counter!(m::INCIDENTS_REJECTED, "reason" => rejection.reason.as_str()).increment(1);
    IncidentAck::Rejected { id, rejection }
}

fn store_failed(id: IncidentId, e: &vigil_store::StoreError) -> IncidentAck {
    tracing::error!(error = %e, incident = %id, "could not store incident");
    rejected(Some(id), unavailable("the server could not store this right now; retry"))
}

impl Service {
    /// A student's `incident`. The ack is sent only after the incident is
    /// committed, and the score update has already left for the proctors.
    pub async fn report_incident(&self, sess: &StudentSession, report: IncidentReport) -> IncidentAck {
        let (rt, cell) = (&sess.rt, &sess.cell);
        let mut ledger = cell.ledger.lock().await;
        if cell.is_erased() {
            return rejected(Some(report.id), super::sessions::erased());
        }
        let now = self.clock.now_ms();
        let exam = rt.exam();
        match ledger.check_report(&cell.settings_in(&exam), self.exams.limits(), &report, now) {
            Err(rejection) => rejected(Some(report.id), rejection),
            Ok(Admit::Duplicate) => {
                metrics::counter!(m::INCIDENTS_DUPLICATE).increment(1);
                IncidentAck::Duplicate { id: report.id }
            }
            Ok(Admit::New(mut pending)) => {
                pending.record.during_pause = paused(cell);
                if let Err(e) = self.store.insert_incident(rt.id(), &pending).await {
                    return store_failed(report.id, &e);
                }
                // Still under the ledger lock: this student's score updates
                // leave in the order their incidents were committed.
                self.commit_and_fan_out(rt, cell, &mut ledger, pending).await;
                IncidentAck::Accepted { id: report.id }
            }
        }
    }

    /// A student's `incident_end`. The ended incident is re-sent to proctors
    /// whether or not it is the student's latest: dashboards upsert by id.
    pub async fn end_incident(&self, sess: &StudentSession, end: IncidentEnd) -> IncidentAck {
        let (rt, cell) = (&sess.rt, &sess.cell);
        let mut ledger = cell.ledger.lock().await;
        if cell.is_erased() {
            return rejected(Some(end.id), super::sessions::erased());
        }
        match ledger.check_end(self.exams.limits(), &end, self.clock.now_ms()) {
            Err(rejection) => rejected(Some(end.id), rejection),
            Ok(Admit::Duplicate) => IncidentAck::Duplicate { id: end.id },
            Ok(Admit::New(pending)) => {
                if let Err(e) =
                    self.store.end_incident(rt.id(), cell.id(), &pending.id, pending.seq, pending.ended_at).await
                {
                    return store_failed(end.id, &e);
                }
                ledger.commit_end(&pending);
                drop(ledger);
                let record = self.updated_record(rt, cell, &pending.id, |r| r.ended_at = Some(pending.ended_at)).await;
                if let Some(record) = record {
                    self.fanout.out().to_proctors(rt.id(), ProctorEvent::Incident(record)).await;
                }
                IncidentAck::Accepted { id: end.id }
            }
        }
    }

    /// The stored record of one of the student's incidents after `change`,
    /// which is also applied to the tile's latest incident when it is that one.
    pub(super) async fn updated_record(
        &self,
        rt: &ExamRuntime,
        cell: &StudentCell,
        id: &IncidentId,
        change: impl Fn(&mut IncidentRecord),
    ) -> Option<IncidentRecord> {
        {
            let mut live = lock(&cell.live);
            if let Some(last) = live.last_incident.as_mut().filter(|l| &l.id == id) {
                change(last);
                return Some(last.clone());
            }
        }
        // Not the latest: the store has it (the change is already committed).
        match self.store.student_incidents(rt.id(), cell.id()).await {
            Ok(all) => all.into_iter().find(|r| &r.id == id),
            Err(e) => {
                tracing::warn!(error = %e, "could not re-read an incident to announce it");
                None
            }
        }
    }

    /// Raises an incident the server observed itself (a stalled heartbeat,
    /// media health, the inference worker). Its id is in the server's
    /// reserved space with a random part, so a client can neither predict
    /// nor collide with it.
    pub async fn raise_server_incident(
        &self,
        rt: &ExamRuntime,
        cell: &StudentCell,
        kind: IncidentKind,
        started_at: UnixMillis,
        detail: Option<String>,
    ) {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let Ok(id) = IncidentId::for_server(kind.as_str(), &unique[..16]) else {
            // Kind names and hex digits are always in the id grammar.
            tracing::error!(kind = kind.as_str(), "server incident id out of grammar");
            return;
        };
        let mut ledger = cell.ledger.lock().await;
        if cell.is_erased() {
            return;
        }
        let Admit::New(mut pending) = ledger.admit_server_incident(id, kind, started_at, detail, self.clock.now_ms())
        else {
            return;
        };
        pending.record.during_pause = paused(cell);
        if let Err(e) = self.store.insert_incident(rt.id(), &pending).await {
            tracing::error!(error = %e, "could not store a server incident");
            return;
        }
        self.commit_and_fan_out(rt, cell, &mut ledger, pending).await;
    }

    async fn commit_and_fan_out(
        &self,
        rt: &ExamRuntime,
        cell: &StudentCell,
        ledger: &mut Ledger,
        pending: PendingIncident,
    ) {
        let accepted = Instant::now();
        let view = ledger.commit_report(&cell.settings_in(&rt.exam()), &pending);
        metrics::counter!(m::INCIDENTS_ACCEPTED).increment(1);
        {
            let mut live = lock(&cell.live);
            live.score = view;
            if live.last_incident.as_ref().is_none_or(|l| l.started_at <= pending.record.started_at) {
                live.last_incident = Some(pending.record.clone());
            }
        }
        self.fanout.score(rt.id(), cell.id(), view, accepted).await;
        self.fanout.out().to_proctors(rt.id(), ProctorEvent::Incident(pending.record)).await;
    }
}

/// Whether the student's session is paused now (their incidents are then
/// kept and marked).
fn paused(cell: &StudentCell) -> bool {
    cell.session_phase() == vigil_proto::SessionPhase::Paused
}
