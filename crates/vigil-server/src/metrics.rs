//! Prometheus metrics, all named `vigil_*`. The recorder is process-wide.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const STUDENTS_CONNECTED: &str = "vigil_students_connected";
pub const PROCTORS_CONNECTED: &str = "vigil_proctors_connected";
pub const INCIDENTS_ACCEPTED: &str = "vigil_incidents_accepted_total";
pub const INCIDENTS_DUPLICATE: &str = "vigil_incidents_duplicate_total";
pub const INCIDENTS_REJECTED: &str = "vigil_incidents_rejected_total";
pub const EVIDENCE_ACCEPTED: &str = "vigil_evidence_accepted_total";
pub const EVIDENCE_REJECTED: &str = "vigil_evidence_rejected_total";
pub const UPLINK_PROBES: &str = "vigil_uplink_probes_total";
pub const FANOUT_LATENCY: &str = "vigil_fanout_latency_seconds";
pub const SCORES_EMITTED: &str = "vigil_scores_emitted_total";
pub const FANOUT_ERRORS: &str = "vigil_fanout_errors_total";
pub const SIGNALS_DROPPED: &str = "vigil_signals_dropped_total";
pub const CONNECTS_REFUSED: &str = "vigil_connects_refused_total";
pub const CONNECTIONS_REPLACED: &str = "vigil_connections_replaced_total";
pub const ADDRESSES_UNTRACKED: &str = "vigil_handshake_addresses_untracked_total";
pub const SIGNALLING_DROPPED: &str = "vigil_signalling_rate_limited_total";
pub const STORE_COMMITS: &str = "vigil_store_commits_total";
pub const STORE_WRITES: &str = "vigil_store_writes_total";
pub const LTI_ACS_CALLS: &str = "vigil_lti_acs_calls_total";
pub const CHAT_MESSAGES: &str = "vigil_chat_messages_total";
pub const IDENTITY_PHOTOS: &str = "vigil_identity_photos_total";
pub const EXAMS_PLACED: &str = "vigil_exams_placed_total";
pub const EXAMS_HELD: &str = "vigil_exams_held";
pub const EXAMS_GIVEN_UP: &str = "vigil_exams_given_up_total";
pub const LEASE_RENEWALS_FAILED: &str = "vigil_lease_renewals_failed_total";
pub const RELAY_CALLS: &str = "vigil_relay_calls_total";
pub const RELAY_LATENCY: &str = "vigil_relay_latency_seconds";
pub const HTTP_FORWARDED: &str = "vigil_http_forwarded_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once per process and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            // Fan-out latency is expected in the sub-millisecond to tens of
            // milliseconds range; buckets resolve the 25 ms target.
            let buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(FANOUT_LATENCY.into()), &buckets)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(RELAY_LATENCY.into()), &buckets))
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only if another recorder was installed first (an embedding
            // program's); we still render ours.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(STUDENTS_CONNECTED, "Student sockets connected");
    describe_gauge!(PROCTORS_CONNECTED, "Proctor sockets connected");
    describe_counter!(INCIDENTS_ACCEPTED, "Incidents stored and acknowledged");
    describe_counter!(EXAMS_PLACED, "Exams this node placed on a node of the cluster");
    describe_gauge!(EXAMS_HELD, "Exams whose lease this node holds");
    describe_counter!(EXAMS_GIVEN_UP, "Exams this node stopped serving because its lease was lost");
    describe_counter!(LEASE_RENEWALS_FAILED, "Lease renewals that failed (database out of reach)");
    describe_counter!(RELAY_CALLS, "Socket messages relayed to the node that holds their exam, by outcome");
    describe_histogram!(RELAY_LATENCY, Unit::Seconds, "Round trip of a relayed socket message through Redis");
    describe_counter!(HTTP_FORWARDED, "HTTP requests forwarded to the node that holds their exam, by outcome");
    describe_counter!(LTI_ACS_CALLS, "Proctor actions reported to LTI platforms (Assessment Control), by outcome");
    describe_counter!(
        crate::service::nrps::NRPS_SYNCS,
        "Course rosters read from LTI platforms (Names and Role Provisioning), by outcome"
    );
    describe_counter!(INCIDENTS_DUPLICATE, "Incident retries answered from the ledger");
    describe_counter!(INCIDENTS_REJECTED, "Incident messages refused, by reason");
    describe_counter!(EVIDENCE_ACCEPTED, "Evidence frames stored");
    describe_counter!(EVIDENCE_REJECTED, "Evidence uploads refused, by reason");
    describe_counter!(UPLINK_PROBES, "Uplink probes, by outcome (measured or the refusal's reason)");
    describe_histogram!(FANOUT_LATENCY, Unit::Seconds, "Incident accepted to score emitted to proctor sockets");
    describe_counter!(SCORES_EMITTED, "Score updates emitted to proctor rooms");
    describe_counter!(FANOUT_ERRORS, "Emits to proctor rooms that failed");
    describe_counter!(SIGNALS_DROPPED, "Signal and heartbeat messages dropped by the rate limit or as malformed");
    describe_counter!(CONNECTS_REFUSED, "Socket.IO handshakes refused, by reason");
    describe_counter!(
        CONNECTIONS_REPLACED,
        "Student connections closed because a newer one exceeded the per-student limit"
    );
    describe_counter!(
        ADDRESSES_UNTRACKED,
        "Handshakes admitted without a per-address limit because the address table was full"
    );
    describe_counter!(CHAT_MESSAGES, "Chat messages stored, by sender (student, proctor, announcement)");
    describe_counter!(IDENTITY_PHOTOS, "Identity check photo uploads, by outcome (accepted or the refusal's reason)");
    describe_counter!(STORE_COMMITS, "Group commits of the store writer");
    describe_counter!(STORE_WRITES, "Writes committed by the store writer");
}
