//! LTI Proctoring Services' Assessment Control Service: when a proctor
//! pauses, resumes, terminates or flags a student whose attempt the platform
//! started (LtiStartProctoring with an `acs` claim offering that action),
//! vigil tells the platform.
//!
//! A proctor never waits for it: `Service::act` records the action, tells
//! the student, and offers a job to a bounded queue (a full queue drops the
//! job and counts it). [`LtiService::run_acs`] takes jobs off the queue, at
//! most [`ACS_CONCURRENCY`] at once, each with its own retries and backoff.
//! The protocol (the client assertion, the token request, the control
//! message) is `vigil-lti`'s; this module sequences it around the store, the
//! clock and a [`PlatformPoster`].

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use vigil_lti::{AcsAction, AcsControl, ClientId, HttpsUrl, Issuer, ServiceError, StartProctoringLaunch, UnixSeconds};
use vigil_proto::events::{ProctorAction, ProctorActionKind};
use vigil_proto::{ExamId, StudentId};

use super::lti::{FetchError, LtiService};

/// Jobs waiting at most; beyond, new ones are dropped and counted.
pub const ACS_QUEUE: usize = 1024;
/// Calls in flight at once, to all platforms together.
pub const ACS_CONCURRENCY: usize = 8;
/// Tries per job, the first included.
pub const ACS_TRIES: u32 = 5;
/// The wait before the second try; it doubles after each failure.
pub const ACS_FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// A cached access token is not used within this many seconds of its expiry.
const TOKEN_MARGIN_SECS: i64 = 30;

/// What a platform answered to a POST.
#[derive(Debug, Clone)]
pub struct Posted {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What a platform answered to a GET: the status, the body (within the
/// caller's limit) and its `Link` headers joined with ", ".
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    pub link: Option<String>,
}

/// Calls to a platform's service endpoints: POSTs (its token URL, its ACS
/// URL) and GETs (its membership URL). The real one is
/// `transport::jwks_client::HttpJwksFetcher`: a timeout, no redirects, a
/// bounded body.
pub trait PlatformPoster: Send + Sync + std::fmt::Debug + 'static {
    fn post<'a>(
        &'a self,
        url: &'a HttpsUrl,
        content_type: &'static str,
        bearer: Option<&'a str>,
        body: String,
    ) -> BoxFuture<'a, Result<Posted, FetchError>>;

    /// A GET with `accept` and a bearer token; a body over `max_bytes` is
    /// [`FetchError::TooLarge`], whatever the status.
    fn get<'a>(
        &'a self,
        url: &'a HttpsUrl,
        accept: &'static str,
        bearer: &'a str,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Fetched, FetchError>>;
}

/// One proctor action to report.
#[derive(Debug, Clone)]
pub struct AcsJob {
    pub exam: ExamId,
    pub student: StudentId,
    pub action: ProctorAction,
}

/// The sending end, held by `Service`.
#[derive(Debug, Clone)]
pub struct AcsQueue(mpsc::Sender<AcsJob>);

impl AcsQueue {
    pub fn channel() -> (AcsQueue, mpsc::Receiver<AcsJob>) {
        let (tx, rx) = mpsc::channel(ACS_QUEUE);
        (AcsQueue(tx), rx)
    }

    /// Queues a job without waiting. Actions ACS has no word for (a warning,
    /// a message) are not queued.
    pub fn offer(&self, job: AcsJob) {
        if acs_action(job.action.kind).is_none() {
            return;
        }
        if self.0.try_send(job).is_err() {
            metrics::counter!(crate::metrics::LTI_ACS_CALLS, "outcome" => "dropped").increment(1);
            tracing::warn!("LTI: the Assessment Control queue is full; a proctor action was not reported");
        }
    }
}

/// The ACS action for a proctor action, if there is one.
pub fn acs_action(kind: ProctorActionKind) -> Option<AcsAction> {
    match kind {
        ProctorActionKind::Pause => Some(AcsAction::Pause),
        ProctorActionKind::Resume => Some(AcsAction::Resume),
        ProctorActionKind::Terminate => Some(AcsAction::Terminate),
        ProctorActionKind::FlagForReview => Some(AcsAction::Flag),
        // The platform's Assessment Control has no counterpart for these:
        // they stay between vigil and the student.
        ProctorActionKind::Warn
        | ProctorActionKind::Message
        | ProctorActionKind::AddTime
        | ProctorActionKind::ApproveIdentity
        | ProctorActionKind::RejectIdentity => None,
    }
}

/// How one job ended, for the metric and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcsOutcome {
    /// The platform accepted the control message.
    Sent,
    /// Not an attempt the platform started, or one already ended.
    NoAttempt,
    /// The platform offered no ACS, or not this action.
    NotOffered,
    /// The platform refused it for good (a 4xx other than 401, or a
    /// malformed answer), or the tries ran out.
    Failed,
}

impl AcsOutcome {
    fn as_str(self) -> &'static str {
        match self {
            AcsOutcome::Sent => "sent",
            AcsOutcome::NoAttempt => "no_attempt",
            AcsOutcome::NotOffered => "not_offered",
            AcsOutcome::Failed => "failed",
        }
    }
}

/// One try's result.
enum Try {
    Done(AcsOutcome),
    /// Worth trying again (a timeout, a 5xx, a 429, a refused token).
    Again(String),
}

impl LtiService {
    /// Reports queued proctor actions until the queue's senders are gone.
    pub async fn run_acs(self: Arc<Self>, mut jobs: mpsc::Receiver<AcsJob>) {
        let slots = Arc::new(tokio::sync::Semaphore::new(ACS_CONCURRENCY));
        // Dropped (and so aborted) with this task.
        let mut running = tokio::task::JoinSet::new();
        while let Some(job) = jobs.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            let svc = self.clone();
            running.spawn(async move {
                let outcome = svc.report(&job).await;
                metrics::counter!(crate::metrics::LTI_ACS_CALLS, "outcome" => outcome.as_str()).increment(1);
                drop(slot);
            });
            // Finished ones are reaped as new ones arrive.
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
    }

    /// Reports one action, with retries.
    pub async fn report(&self, job: &AcsJob) -> AcsOutcome {
        let mut backoff = ACS_FIRST_BACKOFF;
        for attempt in 1..=ACS_TRIES {
            match self.try_report(job).await {
                Try::Done(outcome) => {
                    tracing::info!(exam = %job.exam, student = %job.student, outcome = outcome.as_str(), "LTI: Assessment Control");
                    return outcome;
                }
                Try::Again(why) if attempt < ACS_TRIES => {
                    tracing::info!(exam = %job.exam, student = %job.student, attempt, why, "LTI: Assessment Control failed; trying again");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                Try::Again(why) => {
                    tracing::warn!(exam = %job.exam, student = %job.student, why, "LTI: Assessment Control failed; giving up");
                }
            }
        }
        AcsOutcome::Failed
    }

    async fn try_report(&self, job: &AcsJob) -> Try {
        let Some(action) = acs_action(job.action.kind) else { return Try::Done(AcsOutcome::NotOffered) };
        let attempt = match self.admin().store.lti_attempt(&job.exam, job.student.as_str()).await {
            Ok(Some(a)) if a.ended_at.is_none() => a,
            Ok(_) => return Try::Done(AcsOutcome::NoAttempt),
            Err(e) => return Try::Again(format!("store: {e}")),
        };
        let launch: StartProctoringLaunch = match serde_json::from_str(&attempt.launch) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "LTI: a stored attempt does not read back");
                return Try::Done(AcsOutcome::Failed);
            }
        };
        let mut control = AcsControl::new(action, UnixSeconds::from_millis(job.action.at));
        control.reason_msg = job.action.text.as_deref().and_then(reason_msg);
        let request = match vigil_lti::acs_request(&launch, &control) {
            Ok(r) => r,
            Err(ServiceError::NoAcs | ServiceError::ActionNotOffered { .. }) => {
                return Try::Done(AcsOutcome::NotOffered);
            }
            Err(e) => {
                tracing::error!(error = %e, "LTI: the control message could not be made");
                return Try::Done(AcsOutcome::Failed);
            }
        };
        let (issuer, client_id) = (&launch.common.issuer, &launch.common.client_id);
        let token = match self.service_token(issuer, client_id, request.scope).await {
            Ok(t) => t,
            Err(TokenFailure::Again(why)) => return Try::Again(why),
            Err(TokenFailure::Failed) => return Try::Done(AcsOutcome::Failed),
        };
        let posted =
            match self.poster().post(&request.url, request.content_type, Some(&token), request.body.clone()).await {
                Ok(p) => p,
                Err(e) => return Try::Again(format!("ACS endpoint: {e}")),
            };
        match posted.status {
            200..=299 => match vigil_lti::parse_acs_response(&posted.body) {
                Ok(result) => {
                    tracing::debug!(status = ?result.status, "LTI: the platform's attempt status");
                    Try::Done(AcsOutcome::Sent)
                }
                // Accepted, but the answer is not what the service defines:
                // the action reached the platform, so it is not sent again.
                Err(_) => Try::Done(AcsOutcome::Sent),
            },
            401 => {
                // The token may have been revoked early: the next try gets a new one.
                self.forget_token(issuer, client_id, request.scope);
                Try::Again("ACS endpoint: 401".into())
            }
            429 | 500..=599 => Try::Again(format!("ACS endpoint: HTTP {}", posted.status)),
            status => {
                tracing::warn!(status, "LTI: the platform refused the control message");
                Try::Done(AcsOutcome::Failed)
            }
        }
    }

    /// A cached token for `scope` at the platform (issuer, client id), or a
    /// new one from its token URL (OAuth 2 client credentials with vigil's
    /// signed assertion). Shared by Assessment Control and roster syncs.
    pub(super) async fn service_token(
        &self,
        issuer: &Issuer,
        client_id: &ClientId,
        scope: &'static str,
    ) -> Result<String, TokenFailure> {
        let key = token_key(issuer, client_id, scope);
        let now = UnixSeconds::from_millis(self.admin().clock.now_ms());
        if let Some(token) = self.cached_token(&key, now) {
            return Ok(token);
        }
        let registration = self
            .registration_for(issuer, client_id)
            .await
            .map_err(|e| TokenFailure::Again(format!("registration: {e}")))?
            .ok_or(TokenFailure::Failed)?;
        let request = {
            let keys = self.signing_keys();
            vigil_lti::token_request(&keys, &registration, &[scope], now, &mut rand::rng())
        }
        .map_err(|e| {
            tracing::error!(error = %e, "LTI: the token request could not be made");
            TokenFailure::Failed
        })?;
        let posted = self
            .poster()
            .post(&request.url, "application/x-www-form-urlencoded", None, request.body)
            .await
            .map_err(|e| TokenFailure::Again(format!("token endpoint: {e}")))?;
        if !(200..=299).contains(&posted.status) {
            return Err(if posted.status == 429 || posted.status >= 500 {
                TokenFailure::Again(format!("token endpoint: HTTP {}", posted.status))
            } else {
                tracing::warn!(status = posted.status, scope, "LTI: the platform refused vigil's token request");
                TokenFailure::Failed
            });
        }
        let token = vigil_lti::parse_token_response(&posted.body, now).map_err(|e| {
            tracing::warn!(error = %e, "LTI: the platform's token answer is not usable");
            TokenFailure::Failed
        })?;
        let value = token.token.clone();
        self.cache_token(key, token);
        Ok(value)
    }
}

/// A proctor's text as ACS's `reason_msg`: cut at a character boundary to
/// the byte limit `vigil_lti::acs_request` enforces, `None` when empty.
fn reason_msg(text: &str) -> Option<String> {
    let mut end = text.len().min(vigil_lti::MAX_REASON_MSG_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_owned()).filter(|t| !t.is_empty())
}

/// Tokens are per platform registration and scope: a platform may grant
/// one scope and not another.
pub(super) type TokenKey = (String, String, &'static str);

pub(super) fn token_key(issuer: &Issuer, client_id: &ClientId, scope: &'static str) -> TokenKey {
    (issuer.as_str().to_owned(), client_id.as_str().to_owned(), scope)
}

/// Why no access token could be had.
#[derive(Debug)]
pub(super) enum TokenFailure {
    /// Worth trying again later (a timeout, a 5xx, a 429).
    Again(String),
    /// The platform refused, or vigil cannot ask (no registration).
    Failed,
}

/// Whether a cached token may still be used at `now`.
pub(super) fn token_usable(expires_at: UnixSeconds, now: UnixSeconds) -> bool {
    now.plus(TOKEN_MARGIN_SECS).0 < expires_at.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_controls_acs_defines_are_reported() {
        assert_eq!(acs_action(ProctorActionKind::Pause), Some(AcsAction::Pause));
        assert_eq!(acs_action(ProctorActionKind::Resume), Some(AcsAction::Resume));
        assert_eq!(acs_action(ProctorActionKind::Terminate), Some(AcsAction::Terminate));
        assert_eq!(acs_action(ProctorActionKind::FlagForReview), Some(AcsAction::Flag));
        assert_eq!(acs_action(ProctorActionKind::Warn), None);
        assert_eq!(acs_action(ProctorActionKind::Message), None);
    }

    /// A proctor's long message in a multi-byte script is cut to what the
    /// control message allows, not refused (which would drop the action).
    #[test]
    fn long_reasons_are_cut_to_the_byte_limit() {
        let text = "é".repeat(vigil_lti::MAX_REASON_MSG_LEN);
        let cut = reason_msg(&text).expect("a reason");
        assert!(cut.len() <= vigil_lti::MAX_REASON_MSG_LEN && text.starts_with(&cut), "{}", cut.len());
        assert_eq!(cut.len(), vigil_lti::MAX_REASON_MSG_LEN);
        assert_eq!(reason_msg(""), None);
        assert_eq!(reason_msg("Camera covered").as_deref(), Some("Camera covered"));
    }

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        let expires = UnixSeconds(1_000);
        assert!(token_usable(expires, UnixSeconds(900)));
        assert!(!token_usable(expires, UnixSeconds(970)));
        assert!(!token_usable(expires, UnixSeconds(2_000)));
    }
}
