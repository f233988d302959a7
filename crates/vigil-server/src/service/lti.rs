//! LTI 1.3 launches, transport-agnostic: platform registrations, vigil's
//! tool keys, the OIDC login, id_token validation through the platform's
//! keys, and what a resource link launch does to the store (an exam, a
//! roster entry, a join token).
//!
//! The protocol rules are `vigil-lti`'s; this module sequences them around
//! the store, the clock and a [`JwksFetcher`] (the real one is
//! `transport::jwks_client`, over HTTPS). Nothing here is written for a
//! refused launch.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use vigil_core::rate::{KeyedBuckets, KeyedTake, RateLimit, address_key};
use vigil_lti::{
    AccessToken, ClientId, DeploymentId, EndAssessmentLaunch, HttpsUrl, Issuer, JwkSet, Launch, LaunchCommon,
    LaunchError, LoginError, LoginInitiation, PendingLogins, PlatformRegistration, ResourceLink, ResourceLinkLaunch,
    StartProctoringLaunch, ToolConfig, ToolKey, ToolKeys, ToolMessage, UnixSeconds,
};
use vigil_proto::events::{IssueLink, LtiKeyRotation, LtiPlatform, RegisterLtiPlatform};
use vigil_proto::{Exam, ExamId, ExamSettings, ExamWindow, RejectReason, Rejection, Role, StudentId, UnixMillis};
use vigil_store::{LtiAttemptRow, LtiEnrolment, LtiLinkKey, LtiPlatformRow, LtiToolKeyRow, Store, StoreError};

use crate::admin::Admin;
use crate::service::acs::{PlatformPoster, TokenKey, token_usable};
use crate::service::lock;
use crate::service::nrps::{RosterSync, RosterSyncs};

/// How long a platform's key set is used before it is fetched again.
pub const JWKS_CACHE_MS: i64 = 10 * 60 * 1000;
/// At most one refetch per platform in this time, whatever `kid`s arrive.
pub const JWKS_REFETCH_EVERY_MS: i64 = 10 * 1000;
/// Logins in flight at once, server-wide.
pub const MAX_PENDING_LOGINS: usize = 10_000;
/// Login and launch requests per client address. A class behind one NAT
/// address launches together, so the burst is large.
pub const DEFAULT_LTI_REQUESTS: RateLimit = RateLimit { burst: 600, per_second: 10.0 };
/// Client addresses tracked at once for the LTI budget.
const MAX_TRACKED_ADDRESSES: usize = 100_000;
/// How long a rotated-out tool key stays published: platforms fetch vigil's
/// keys again when they meet an unknown `kid`, and what the old key signed
/// (messages and assertions of at most 5 minutes) is long expired by then.
pub const KEY_GRACE_MS: i64 = 24 * 3_600_000;
/// Exam created by an instructor's first launch: open now for three hours.
const DEFAULT_WINDOW_MS: i64 = 3 * 3_600_000;
const MAX_NAME_CHARS: usize = 200;

/// Why a platform's key set could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("timed out")]
    Timeout,
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("answer larger than the limit")]
    TooLarge,
    #[error("not a usable JWK set")]
    Malformed,
    #[error("{0}")]
    Transport(String),
    #[error("failed moments ago; not asked again yet")]
    Backoff,
}

/// Fetches a platform's JWKS document (the raw bytes, bounded by the
/// adapter). The service parses it with `vigil_lti::parse_platform_jwks`.
pub trait JwksFetcher: Send + Sync + fmt::Debug + 'static {
    fn fetch<'a>(&'a self, url: &'a HttpsUrl) -> BoxFuture<'a, Result<Vec<u8>, FetchError>>;
}

/// vigil's LTI endpoints' settings.
#[derive(Debug, Clone)]
pub struct LtiConfig {
    /// Login and launch requests per client address; `None` is no limit.
    pub requests_per_address: Option<RateLimit>,
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for LtiConfig {
    fn default() -> Self {
        LtiConfig { requests_per_address: Some(DEFAULT_LTI_REQUESTS), trusted_proxies: Vec::new() }
    }
}

/// A refused LTI request: [`fmt::Display`] is the sentence for the person,
/// [`LtiRefusal::reason`] the machine reason for the log.
#[derive(Debug, thiserror::Error)]
pub enum LtiRefusal {
    #[error("{0}")]
    Login(LoginError),
    #[error("{0}")]
    Launch(LaunchError),
    #[error("Your instructor has not opened proctoring for this exam yet. Try again after they have.")]
    NotOpenYet,
    #[error("Your role in this course is neither a learner nor an instructor, so vigil has no page for you.")]
    NoRole,
    #[error("vigil has no proctoring session for this attempt, so there is nothing to end.")]
    NoAttempt,
    #[error("vigil could not get your learning platform's signing keys, so it cannot check this launch. Try again.")]
    KeysUnavailable(FetchError),
    #[error("Too many sign-ins from your network in a short time. Wait a moment and try again.")]
    RateLimited { retry_after_ms: u64 },
    #[error("LTI is not available on this server: it needs an https public URL.")]
    Disabled,
    #[error("vigil cannot reach its storage right now. Try again.")]
    Unavailable,
}

impl LtiRefusal {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Login(e) => e.reason(),
            Self::Launch(e) => e.reason(),
            Self::NotOpenYet => "exam_not_open",
            Self::NoRole => "no_usable_role",
            Self::NoAttempt => "no_attempt",
            Self::KeysUnavailable(_) => "platform_keys_unavailable",
            Self::RateLimited { .. } => "rate_limited",
            Self::Disabled => "lti_disabled",
            Self::Unavailable => "unavailable",
        }
    }
}

fn store_failed(e: StoreError) -> LtiRefusal {
    tracing::error!(error = %e, "LTI: store error");
    LtiRefusal::Unavailable
}

/// Why registering a platform failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{0}")]
    Invalid(String),
    #[error("this issuer and client id are registered already")]
    Exists,
    #[error(transparent)]
    Store(StoreError),
}

/// What a successful launch leads to.
#[derive(Debug)]
pub enum LaunchOutcome {
    /// On to an app, signed in; for an instructor, maybe a roster sync to
    /// run off the launch (`LtiService::sync_roster`).
    Landing(Landing, Option<Box<RosterSync>>),
    /// The platform ended an attempt (LtiEndAssessment); the person is told,
    /// and so are their open student pages.
    AttemptEnded { exam_id: ExamId, person_id: String, attempt_number: u32, ended_at: UnixMillis },
}

/// Where a successful launch sends the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    pub role: Role,
    pub exam_id: ExamId,
    pub person_id: String,
    /// `/student/#token=…` or `/dashboard/#token=…`.
    pub path: String,
}

#[derive(Debug, Default)]
struct KeySlot {
    keys: Option<Arc<JwkSet>>,
    fetched_at: Option<UnixMillis>,
    /// Bumped by every successful fetch, so a caller that waited on another's
    /// refetch sees that it need not fetch again.
    generation: u64,
}

/// Each platform's key set, cached; fetches are single-flight per platform.
#[derive(Debug, Default)]
struct PlatformKeys {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<KeySlot>>>>,
}

impl PlatformKeys {
    fn slot(&self, url: &HttpsUrl) -> Arc<tokio::sync::Mutex<KeySlot>> {
        lock(&self.slots).entry(url.as_str().to_owned()).or_default().clone()
    }
}

async fn fetch_into(
    slot: &mut KeySlot,
    fetcher: &dyn JwksFetcher,
    url: &HttpsUrl,
    now: UnixMillis,
) -> Result<(), FetchError> {
    // A failure counts as a fetch for the refetch budget too: a platform
    // that is down is not hammered.
    slot.fetched_at = Some(now);
    let bytes = fetcher.fetch(url).await?;
    let keys = vigil_lti::parse_platform_jwks(&bytes).map_err(|_| FetchError::Malformed)?;
    slot.keys = Some(Arc::new(keys));
    slot.generation += 1;
    Ok(())
}

#[derive(Debug)]
pub struct LtiService {
    admin: Admin,
    /// `None` when the public URL cannot be an LTI tool's (not https).
    tool: Option<ToolConfig>,
    tool_keys: RwLock<ToolKeys>,
    pending: Mutex<PendingLogins>,
    platform_keys: PlatformKeys,
    fetcher: Arc<dyn JwksFetcher>,
    /// Token and Assessment Control requests (see `service::acs`).
    poster: Arc<dyn PlatformPoster>,
    /// Access tokens for platform services, per (issuer, client id, scope).
    tokens: Mutex<HashMap<TokenKey, AccessToken>>,
    requests: Option<Mutex<KeyedBuckets<IpAddr>>>,
    config: LtiConfig,
    roster_syncs: RosterSyncs,
}

impl LtiService {
    /// Loads vigil's tool keys from the store (the current one, and the one
    /// still retiring after a rotation), or makes and stores one.
    pub async fn start(
        admin: Admin,
        fetcher: Arc<dyn JwksFetcher>,
        poster: Arc<dyn PlatformPoster>,
        config: LtiConfig,
    ) -> Result<Self, StoreError> {
        let stored = admin.store.lti_tool_keys_at(admin.clock.now_ms()).await?;
        let load = |row: &LtiToolKeyRow| match ToolKey::from_pkcs8_pem(&row.pkcs8_pem) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::error!(kid = %row.kid, error = %e, "LTI: a stored tool key does not load; skipped");
                None
            }
        };
        // Current keys (no retirement time) come first, newest first.
        let current = stored.iter().filter(|row| row.retired_at.is_none()).find_map(load);
        let previous = stored
            .iter()
            .filter_map(|row| Some((row, row.retired_at?)))
            .find_map(|(row, until)| Some((load(row)?, UnixSeconds::from_millis(until))));
        let current = match current {
            Some(key) => key,
            None => {
                // RSA generation takes a moment: off the async workers.
                let key = tokio::task::spawn_blocking(ToolKey::generate)
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("tool key generation: {e}")))?
                    .map_err(|e| StoreError::Corrupt(format!("tool key generation: {e}")))?;
                admin
                    .store
                    .insert_lti_tool_key(&LtiToolKeyRow {
                        kid: key.kid().to_owned(),
                        pkcs8_pem: key.pkcs8_pem().to_owned(),
                        created_at: admin.clock.now_ms(),
                        retired_at: None,
                    })
                    .await?;
                tracing::info!(kid = %key.kid(), "LTI: made a new tool key");
                key
            }
        };
        let tool = tool_config(&admin.public_url);
        if tool.is_none() {
            tracing::info!(public_url = %admin.public_url, "LTI launches are off: the public URL is not https");
        }
        Ok(LtiService {
            tool,
            tool_keys: RwLock::new(ToolKeys::restore(current, previous)),
            pending: Mutex::new(PendingLogins::new(MAX_PENDING_LOGINS)),
            platform_keys: PlatformKeys::default(),
            fetcher,
            poster,
            tokens: Mutex::new(HashMap::new()),
            requests: config
                .requests_per_address
                .map(|limit| Mutex::new(KeyedBuckets::new(limit, MAX_TRACKED_ADDRESSES))),
            config,
            admin,
            roster_syncs: RosterSyncs::default(),
        })
    }

    fn now(&self) -> UnixMillis {
        self.admin.clock.now_ms()
    }

    pub(super) fn admin(&self) -> &Admin {
        &self.admin
    }

    pub(super) fn poster(&self) -> &dyn PlatformPoster {
        self.poster.as_ref()
    }

    pub(super) fn roster_syncs(&self) -> &RosterSyncs {
        &self.roster_syncs
    }

    /// vigil's signing keys, for a message or an assertion.
    pub(super) fn signing_keys(&self) -> std::sync::RwLockReadGuard<'_, ToolKeys> {
        match self.tool_keys.read() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The registration of (issuer, client id), if it is registered and valid.
    pub(super) async fn registration_for(
        &self,
        issuer: &Issuer,
        client_id: &ClientId,
    ) -> Result<Option<PlatformRegistration>, LtiRefusal> {
        Ok(self.registrations().await?.into_iter().find(|r| &r.issuer == issuer && &r.client_id == client_id))
    }

    pub(super) fn cached_token(&self, key: &TokenKey, now: UnixSeconds) -> Option<String> {
        lock(&self.tokens).get(key).filter(|t| token_usable(t.expires_at, now)).map(|t| t.token.clone())
    }

    pub(super) fn cache_token(&self, key: TokenKey, token: AccessToken) {
        lock(&self.tokens).insert(key, token);
    }

    /// Forgets a token the platform refused, so the next call gets a new one.
    pub(super) fn forget_token(&self, issuer: &Issuer, client_id: &ClientId, scope: &'static str) {
        lock(&self.tokens).remove(&crate::service::acs::token_key(issuer, client_id, scope));
    }

    pub fn trusted_proxies(&self) -> &[IpAddr] {
        &self.config.trusted_proxies
    }

    /// vigil's public keys, for its JWKS endpoint.
    pub fn jwks(&self) -> JwkSet {
        let now = UnixSeconds::from_millis(self.now());
        match self.tool_keys.read() {
            Ok(keys) => keys.jwks(now),
            Err(poisoned) => poisoned.into_inner().jwks(now),
        }
    }

    /// Makes a new signing key current. The previous one stays published for
    /// `grace_ms`, so that what it signed just before still verifies at a
    /// platform that fetches vigil's keys again. Stored first, then swapped
    /// in: a failed write changes nothing.
    pub async fn rotate_key(&self, grace_ms: i64) -> Result<LtiKeyRotation, StoreError> {
        let key = tokio::task::spawn_blocking(ToolKey::generate)
            .await
            .map_err(|e| StoreError::Corrupt(format!("tool key generation: {e}")))?
            .map_err(|e| StoreError::Corrupt(format!("tool key generation: {e}")))?;
        let now = self.now();
        let retire_at = now.saturating_add(grace_ms.max(0));
        let previous_kid = self.signing_keys().current().kid().to_owned();
        let row = LtiToolKeyRow {
            kid: key.kid().to_owned(),
            pkcs8_pem: key.pkcs8_pem().to_owned(),
            created_at: now,
            retired_at: None,
        };
        self.admin.store.rotate_lti_tool_key(&row, &previous_kid, retire_at).await?;
        let current_kid = key.kid().to_owned();
        {
            let mut keys = match self.tool_keys.write() {
                Ok(keys) => keys,
                Err(poisoned) => poisoned.into_inner(),
            };
            keys.rotate(key, UnixSeconds::from_millis(now), (retire_at - now) / 1000);
        }
        tracing::info!(current = %current_kid, previous = %previous_kid, "LTI: tool key rotated");
        Ok(LtiKeyRotation { current_kid, previous_kid, previous_published_until: retire_at })
    }

    /// One login or launch request from `client`'s budget.
    pub fn admit_from(&self, client: Option<IpAddr>) -> Result<(), LtiRefusal> {
        let (Some(buckets), Some(ip)) = (&self.requests, client) else { return Ok(()) };
        match lock(buckets).try_take(&address_key(ip), self.now()) {
            KeyedTake::Admitted | KeyedTake::Untracked => Ok(()),
            KeyedTake::Refused { retry_after_ms } => Err(LtiRefusal::RateLimited { retry_after_ms }),
        }
    }

    // ------------------------------------------------------------ registrations

    pub async fn register_platform(&self, req: RegisterLtiPlatform) -> Result<LtiPlatform, RegisterError> {
        register_platform(&self.admin.store, req, self.now()).await
    }

    pub async fn platforms(&self) -> Result<Vec<LtiPlatform>, StoreError> {
        platforms(&self.admin.store).await
    }

    async fn registrations(&self) -> Result<Vec<PlatformRegistration>, LtiRefusal> {
        let rows = self.admin.store.lti_platforms().await.map_err(store_failed)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match registration_from_row(&row) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(issuer = %row.issuer, error = %e, "LTI: a stored registration is invalid; skipped");
                    None
                }
            })
            .collect())
    }

    // ------------------------------------------------------------ login

    /// Third-party-initiated login: the URL to send the browser to.
    pub async fn login(&self, pairs: Vec<(String, String)>) -> Result<url::Url, LtiRefusal> {
        let tool = self.tool.as_ref().ok_or(LtiRefusal::Disabled)?;
        let initiation = LoginInitiation::from_pairs(pairs).map_err(LtiRefusal::Login)?;
        let registrations = self.registrations().await?;
        let now = UnixSeconds::from_millis(self.now());
        let start = vigil_lti::start_login(&initiation, &registrations, tool, now, &mut rand::rng())
            .map_err(LtiRefusal::Login)?;
        lock(&self.pending).insert(start.pending, now);
        Ok(start.redirect_url)
    }

    // ------------------------------------------------------------ launch

    /// The platform's form post of the id_token.
    pub async fn launch(&self, pairs: Vec<(String, String)>) -> Result<LaunchOutcome, LtiRefusal> {
        let tool = self.tool.as_ref().ok_or(LtiRefusal::Disabled)?;
        let response = vigil_lti::parse_auth_response(pairs).map_err(LtiRefusal::Launch)?;
        let now = UnixSeconds::from_millis(self.now());
        let pending = lock(&self.pending).take(&response.state, now).map_err(LtiRefusal::Launch)?;
        let registration = self
            .registrations()
            .await?
            .into_iter()
            .find(|r| r.issuer == pending.issuer && r.client_id == pending.client_id)
            .ok_or(LtiRefusal::Launch(LaunchError::LoginMismatch))?;

        let slot = self.platform_keys.slot(&registration.jwks_url);
        let (keys, generation) = self.cached_keys(&slot, &registration.jwks_url).await?;
        let validate = |keys: &JwkSet| {
            let now = UnixSeconds::from_millis(self.now());
            vigil_lti::validate_id_token(&response.id_token, &response.state, keys, &registration, &pending, tool, now)
        };
        let launch = match validate(&keys) {
            Err(LaunchError::UnknownKey { kid }) => {
                tracing::info!(issuer = %registration.issuer.as_str(), kid = %kid, "LTI: unknown kid; refetching the platform's keys");
                match self.refetched_keys(&slot, &registration.jwks_url, generation).await? {
                    Some(keys) => validate(&keys),
                    None => Err(LaunchError::UnknownKey { kid }),
                }
            }
            other => other,
        }
        .map_err(LtiRefusal::Launch)?;

        match launch {
            Launch::ResourceLink(link) => self.resource_link(&link).await,
            Launch::StartProctoring(start) => {
                self.start_proctoring(&start).await.map(|landing| LaunchOutcome::Landing(landing, None))
            }
            Launch::EndAssessment(end) => self.end_assessment(&end).await,
        }
    }

    /// The cached key set, fetched when absent or older than the cache time.
    async fn cached_keys(
        &self,
        slot: &tokio::sync::Mutex<KeySlot>,
        url: &HttpsUrl,
    ) -> Result<(Arc<JwkSet>, u64), LtiRefusal> {
        let mut slot = slot.lock().await;
        let now = self.now();
        let fresh = slot.keys.is_some() && slot.fetched_at.is_some_and(|at| now - at < JWKS_CACHE_MS);
        // A platform whose keys could not be had is asked again at most
        // once per refetch interval, however many launches arrive.
        if !fresh && slot.keys.is_none() && slot.fetched_at.is_some_and(|at| now - at < JWKS_REFETCH_EVERY_MS) {
            return Err(LtiRefusal::KeysUnavailable(FetchError::Backoff));
        }
        if !fresh && let Err(e) = fetch_into(&mut slot, self.fetcher.as_ref(), url, now).await {
            tracing::info!(url = %url, error = %e, "LTI: fetching the platform's keys failed");
            // A stale set is better than none while the platform is down.
            if slot.keys.is_none() {
                return Err(LtiRefusal::KeysUnavailable(e));
            }
        }
        let keys = slot.keys.clone().ok_or(LtiRefusal::KeysUnavailable(FetchError::Malformed))?;
        Ok((keys, slot.generation))
    }

    /// After an unknown `kid`: the key set fetched again, once per platform
    /// per [`JWKS_REFETCH_EVERY_MS`]. `seen` is the generation the caller
    /// validated against: if another launch refetched meanwhile, its set is
    /// used without fetching. `None` when no newer set may be had.
    async fn refetched_keys(
        &self,
        slot: &tokio::sync::Mutex<KeySlot>,
        url: &HttpsUrl,
        seen: u64,
    ) -> Result<Option<Arc<JwkSet>>, LtiRefusal> {
        let mut slot = slot.lock().await;
        if slot.generation != seen {
            return Ok(slot.keys.clone());
        }
        let now = self.now();
        if slot.fetched_at.is_some_and(|at| now - at < JWKS_REFETCH_EVERY_MS) {
            return Ok(None);
        }
        match fetch_into(&mut slot, self.fetcher.as_ref(), url, now).await {
            Ok(()) => Ok(slot.keys.clone()),
            Err(e) => {
                tracing::info!(url = %url, error = %e, "LTI: refetching the platform's keys failed");
                Err(LtiRefusal::KeysUnavailable(e))
            }
        }
    }

    async fn resource_link(&self, launch: &ResourceLinkLaunch) -> Result<LaunchOutcome, LtiRefusal> {
        let common = &launch.common;
        let role = if common.roles.is_proctor_capable() {
            Role::Proctor
        } else if common.roles.is_learner() {
            Role::Student
        } else {
            return Err(LtiRefusal::NoRole);
        };
        let key = link_key(common, &launch.resource_link);
        let exam_id = match self.admin.store.lti_link(&key).await.map_err(store_failed)? {
            Some(exam_id) => exam_id,
            None if role == Role::Proctor => self.create_linked_exam(common, &launch.resource_link, &key).await?,
            None => return Err(LtiRefusal::NotOpenYet),
        };
        let person_id = self.enrol(common, &exam_id, role).await?;
        let configure = role == Role::Proctor && common.roles.may_configure();
        // Whoever proctors may bring the course's learners along.
        let sync = if role == Role::Proctor { self.plan_roster_sync(common, &exam_id).map(Box::new) } else { None };
        let landing = self.land(exam_id, person_id, role, configure).await?;
        Ok(LaunchOutcome::Landing(landing, sync))
    }

    /// LtiStartProctoring: the platform sends a learner to be proctored
    /// before it opens the assessment. The learner joins the resource link's
    /// exam (made now if this is the first vigil hears of it: the platform,
    /// whose signature was checked, says the assessment is proctored), the
    /// attempt is kept for LtiStartAssessment, and the learner lands on the
    /// student page, whose welcome says how to hand the attempt back.
    async fn start_proctoring(&self, launch: &StartProctoringLaunch) -> Result<Landing, LtiRefusal> {
        let common = &launch.common;
        let key = link_key(common, &launch.resource_link);
        let exam_id = match self.admin.store.lti_link(&key).await.map_err(store_failed)? {
            Some(exam_id) => exam_id,
            None => self.create_linked_exam(common, &launch.resource_link, &key).await?,
        };
        // Whoever takes the attempt is its candidate, whatever else their
        // roles say (an instructor trying the quiz out, say).
        let person_id = self.enrol(common, &exam_id, Role::Student).await?;
        let launch_json = serde_json::to_string(launch).map_err(|e| {
            tracing::error!(error = %e, "LTI: the launch could not be kept");
            LtiRefusal::Unavailable
        })?;
        let attempt = LtiAttemptRow {
            exam_id: exam_id.clone(),
            student_id: person_id.clone(),
            issuer: common.issuer.as_str().to_owned(),
            attempt_number: launch.attempt_number.number,
            launch: launch_json,
            started_at: self.now(),
            assessment_started_at: None,
            ended_at: None,
        };
        self.admin.store.lti_attempt_started(&attempt).await.map_err(store_failed)?;
        tracing::info!(exam = %exam_id, person = %person_id, attempt = attempt.attempt_number, "LTI: proctoring started");
        self.land(exam_id, person_id, Role::Student, false).await
    }

    /// LtiEndAssessment: the platform says the attempt is over. vigil ends
    /// its record of the attempt; an attempt it does not know is refused.
    async fn end_assessment(&self, launch: &EndAssessmentLaunch) -> Result<LaunchOutcome, LtiRefusal> {
        let common = &launch.common;
        let store = &self.admin.store;
        let issuer = common.issuer.as_str();
        let person_id = store
            .lti_user(issuer, common.user.sub.as_str())
            .await
            .map_err(store_failed)?
            .ok_or(LtiRefusal::NoAttempt)?;
        let exam_id = match &launch.resource_link {
            Some(link) => store.lti_link(&link_key(common, link)).await.map_err(store_failed)?,
            None => store.lti_open_attempt(issuer, &person_id).await.map_err(store_failed)?,
        }
        .ok_or(LtiRefusal::NoAttempt)?;
        let attempt = store.lti_attempt(&exam_id, &person_id).await.map_err(store_failed)?;
        let Some(attempt) = attempt.filter(|a| a.attempt_number == launch.attempt_number.number) else {
            return Err(LtiRefusal::NoAttempt);
        };
        let now = self.now();
        store.lti_attempt_ended(&exam_id, &person_id, attempt.attempt_number, now).await.map_err(store_failed)?;
        tracing::info!(exam = %exam_id, person = %person_id, attempt = attempt.attempt_number, "LTI: the platform ended the attempt");
        // An attempt ended earlier keeps its first end time.
        let ended_at = attempt.ended_at.unwrap_or(now);
        Ok(LaunchOutcome::AttemptEnded { exam_id, person_id, attempt_number: attempt.attempt_number, ended_at })
    }

    /// The signed LtiStartAssessment for a student's current attempt, once
    /// the caller has checked that proctoring is live. Recorded as handed
    /// back. Refusals are the student page's to show.
    pub async fn start_assessment(&self, exam_id: &ExamId, student: &StudentId) -> Result<ToolMessage, Rejection> {
        let unavailable = |e: StoreError| {
            tracing::error!(error = %e, "LTI: store error");
            crate::service::unavailable("storage is unavailable; retry")
        };
        let store = &self.admin.store;
        let attempt = store.lti_attempt(exam_id, student.as_str()).await.map_err(unavailable)?.ok_or_else(|| {
            Rejection::new(
                RejectReason::NoLtiAttempt,
                "this exam was not started from your learning platform's proctored assessment",
            )
        })?;
        if attempt.ended_at.is_some() {
            return Err(Rejection::new(RejectReason::AlreadyEnded, "your learning platform has ended this attempt"));
        }
        let launch: StartProctoringLaunch = serde_json::from_str(&attempt.launch)
            .map_err(|e| unavailable(StoreError::Corrupt(format!("lti attempt launch: {e}"))))?;
        let now = self.now();
        let message = {
            let keys = self.signing_keys();
            vigil_lti::start_assessment_message(
                &keys,
                &launch,
                None,
                true,
                UnixSeconds::from_millis(now),
                &mut rand::rng(),
            )
        }
        .map_err(|e| {
            tracing::error!(error = %e, "LTI: signing LtiStartAssessment failed");
            Rejection::new(RejectReason::Unavailable, "vigil could not sign the message; retry")
        })?;
        store
            .lti_assessment_started(exam_id, student.as_str(), attempt.attempt_number, now)
            .await
            .map_err(unavailable)?;
        tracing::info!(exam = %exam_id, student = %student, attempt = attempt.attempt_number, "LTI: assessment handed back");
        Ok(message)
    }

    /// Puts the launching user on the exam's roster in `role`; their person id.
    async fn enrol(&self, common: &LaunchCommon, exam_id: &ExamId, role: Role) -> Result<String, LtiRefusal> {
        let store = &self.admin.store;
        let issuer = common.issuer.as_str();
        let sub = common.user.sub.as_str();
        let person_id = match store.lti_user(issuer, sub).await.map_err(store_failed)? {
            Some(id) => id,
            None => person_id_for(issuer, sub),
        };
        let name = display_name(&common.user).unwrap_or_else(|| match role {
            Role::Student => "Student".to_owned(),
            Role::Proctor => "Proctor".to_owned(),
        });
        let enrolment = LtiEnrolment {
            exam_id: exam_id.clone(),
            role,
            person_id: person_id.clone(),
            name,
            issuer: issuer.to_owned(),
            sub: sub.to_owned(),
        };
        store.lti_enrol(&enrolment, self.now()).await.map_err(store_failed)?;
        Ok(person_id)
    }

    /// A join token for the person, and the page it opens.
    async fn land(
        &self,
        exam_id: ExamId,
        person_id: String,
        role: Role,
        configure: bool,
    ) -> Result<Landing, LtiRefusal> {
        let link = self
            .admin
            .issue_link(
                &exam_id,
                IssueLink { role, subject: person_id.clone(), ttl_s: None, may_configure: Some(configure) },
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "LTI: issuing the join token failed");
                LtiRefusal::Unavailable
            })?;
        let page = match role {
            Role::Student => "student",
            Role::Proctor => "dashboard",
        };
        tracing::info!(exam = %exam_id, person = %person_id, ?role, "LTI: launch landed");
        Ok(Landing { role, exam_id, person_id, path: format!("/{page}/#token={}", link.token) })
    }

    async fn create_linked_exam(
        &self,
        common: &LaunchCommon,
        resource_link: &ResourceLink,
        key: &LtiLinkKey,
    ) -> Result<ExamId, LtiRefusal> {
        let title = resource_link
            .title
            .as_deref()
            .or(common.context.as_ref().and_then(|c| c.title.as_deref()))
            .and_then(|t| clean_text(t, MAX_NAME_CHARS))
            .unwrap_or_else(|| "LTI exam".to_owned());
        let now = self.now();
        let id = format!("lti-exam-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let exam = Exam {
            id: id.parse().map_err(|_| LtiRefusal::Unavailable)?,
            title,
            settings: ExamSettings::with_window(ExamWindow { opens_at: now, closes_at: now + DEFAULT_WINDOW_MS }),
        };
        match self.admin.store.create_linked_exam(&exam, key, now).await {
            Ok(()) => {
                tracing::info!(exam = %exam.id, "LTI: the link's first launch created the exam");
                Ok(exam.id)
            }
            // Two first launches raced: the other one's exam is the link's.
            Err(StoreError::AlreadyExists(_)) => {
                self.admin.store.lti_link(key).await.map_err(store_failed)?.ok_or(LtiRefusal::Unavailable)
            }
            Err(e) => Err(store_failed(e)),
        }
    }
}

/// What names a launch's resource link in the store.
fn link_key(common: &LaunchCommon, resource_link: &ResourceLink) -> LtiLinkKey {
    LtiLinkKey {
        issuer: common.issuer.as_str().to_owned(),
        client_id: common.client_id.as_str().to_owned(),
        deployment_id: common.deployment_id.as_str().to_owned(),
        context_id: common.context.as_ref().map(|c| c.id.as_str().to_owned()).unwrap_or_default(),
        resource_link_id: resource_link.id.as_str().to_owned(),
    }
}

/// Registers a platform after checking every field through `vigil-lti`'s
/// types (the admin API and the CLI both come here).
pub async fn register_platform(
    store: &Store,
    req: RegisterLtiPlatform,
    now: UnixMillis,
) -> Result<LtiPlatform, RegisterError> {
    let registration = registration_from(&req).map_err(RegisterError::Invalid)?;
    let row = LtiPlatformRow {
        issuer: registration.issuer.as_str().to_owned(),
        client_id: registration.client_id.as_str().to_owned(),
        deployment_ids: registration.deployment_ids.iter().map(|d| d.as_str().to_owned()).collect(),
        auth_login_url: registration.auth_login_url.as_str().to_owned(),
        jwks_url: registration.jwks_url.as_str().to_owned(),
        token_url: registration.token_url.as_str().to_owned(),
        created_at: now,
    };
    match store.insert_lti_platform(&row).await {
        Ok(()) => Ok(platform_of(row)),
        Err(StoreError::AlreadyExists(_)) => Err(RegisterError::Exists),
        Err(e) => Err(RegisterError::Store(e)),
    }
}

/// Every registered platform.
pub async fn platforms(store: &Store) -> Result<Vec<LtiPlatform>, StoreError> {
    Ok(store.lti_platforms().await?.into_iter().map(platform_of).collect())
}

/// vigil's side of the registration, from its public URL: the launch URL is
/// `<public>/lti/launch`, and every target must lie under `<public>`.
fn tool_config(public_url: &str) -> Option<ToolConfig> {
    let base = public_url.trim_end_matches('/');
    let base_url = HttpsUrl::parse(&format!("{base}/")).ok()?;
    let launch_url = HttpsUrl::parse(&format!("{base}/lti/launch")).ok()?;
    Some(ToolConfig::new(base_url, launch_url))
}

fn registration_from(req: &RegisterLtiPlatform) -> Result<PlatformRegistration, String> {
    let e = |e: vigil_lti::InvalidValue| e.to_string();
    let deployments =
        req.deployment_ids.iter().map(|d| DeploymentId::new(d.clone())).collect::<Result<Vec<_>, _>>().map_err(e)?;
    PlatformRegistration::new(
        Issuer::new(req.issuer.clone()).map_err(e)?,
        ClientId::new(req.client_id.clone()).map_err(e)?,
        deployments,
        HttpsUrl::parse(&req.auth_login_url).map_err(e)?,
        HttpsUrl::parse(&req.jwks_url).map_err(e)?,
        HttpsUrl::parse(&req.token_url).map_err(e)?,
    )
    .map_err(e)
}

fn registration_from_row(row: &LtiPlatformRow) -> Result<PlatformRegistration, String> {
    registration_from(&RegisterLtiPlatform {
        issuer: row.issuer.clone(),
        client_id: row.client_id.clone(),
        deployment_ids: row.deployment_ids.clone(),
        auth_login_url: row.auth_login_url.clone(),
        jwks_url: row.jwks_url.clone(),
        token_url: row.token_url.clone(),
    })
}

fn platform_of(row: LtiPlatformRow) -> LtiPlatform {
    LtiPlatform {
        issuer: row.issuer,
        client_id: row.client_id,
        deployment_ids: row.deployment_ids,
        auth_login_url: row.auth_login_url,
        jwks_url: row.jwks_url,
        token_url: row.token_url,
        created_at: row.created_at,
    }
}

/// A vigil person id for an LTI user: `lti-` and the first 20 hex digits of
/// sha256(issuer, sub). Deterministic, so the same user is the same person
/// in every exam; within the id grammar whatever the platform's `sub` is.
pub fn person_id_for(issuer: &str, sub: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(issuer.as_bytes());
    hash.update([0]);
    hash.update(sub.as_bytes());
    format!("lti-{}", &hex::encode(hash.finalize())[..20])
}

fn display_name(user: &vigil_lti::LaunchUser) -> Option<String> {
    if let Some(name) = user.name.as_deref().and_then(|n| clean_text(n, MAX_NAME_CHARS)) {
        return Some(name);
    }
    let joined =
        [user.given_name.as_deref(), user.family_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    clean_text(&joined, MAX_NAME_CHARS)
}

/// Trimmed, control characters dropped, at most `max` characters; `None` if empty.
fn clean_text(text: &str, max: usize) -> Option<String> {
    let cleaned: String = text.chars().filter(|c| !c.is_control()).take(max).collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct DownPlatform {
        fetches: std::sync::atomic::AtomicUsize,
    }

    impl JwksFetcher for DownPlatform {
        fn fetch<'a>(&'a self, _url: &'a HttpsUrl) -> BoxFuture<'a, Result<Vec<u8>, FetchError>> {
            self.fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async { Err(FetchError::Timeout) })
        }
    }

    #[tokio::test]
    async fn a_platform_whose_keys_fail_is_asked_at_most_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let store = vigil_store::Store::open(&vigil_store::StoreConfig {
            data_dir: dir.path().to_owned(),
            durability: vigil_store::Durability::Process,
            database: vigil_store::DatabaseLocation::Sqlite,
            blobs: vigil_store::BlobLocation::Local,
        })
        .await
        .unwrap();
        let clock = crate::clock::ManualClock::new(1_795_000_000_000);
        let admin = Admin {
            store,
            keys: crate::auth::Keys::load(dir.path()).unwrap(),
            public_url: "http://127.0.0.1:1".into(),
            clock: Arc::new(clock.clone()),
        };
        let down = Arc::new(DownPlatform::default());
        let poster =
            Arc::new(crate::transport::jwks_client::HttpJwksFetcher::new(std::time::Duration::from_secs(1)).unwrap());
        let svc = LtiService::start(admin, down.clone(), poster, LtiConfig::default()).await.unwrap();
        let url = HttpsUrl::parse("https://lms.example.edu/jwks").unwrap();
        let slot = svc.platform_keys.slot(&url);
        let count = || down.fetches.load(std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(svc.cached_keys(&slot, &url).await, Err(LtiRefusal::KeysUnavailable(FetchError::Timeout))));
        assert!(matches!(svc.cached_keys(&slot, &url).await, Err(LtiRefusal::KeysUnavailable(FetchError::Backoff))));
        assert_eq!(count(), 1);
        clock.advance(JWKS_REFETCH_EVERY_MS);
        assert!(svc.cached_keys(&slot, &url).await.is_err());
        assert_eq!(count(), 2);
    }

    #[test]
    fn person_ids_are_stable_and_in_the_id_grammar() {
        let a = person_id_for("https://lms.example.edu", "user-1");
        assert_eq!(a, person_id_for("https://lms.example.edu", "user-1"));
        assert_ne!(a, person_id_for("https://lms.example.edu", "user-2"));
        assert_ne!(a, person_id_for("https://other.example.edu", "user-1"));
        assert_eq!(a.len(), 24);
        assert!(a.parse::<vigil_proto::StudentId>().is_ok());
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_text("  Ada\u{7}  ", 200).as_deref(), Some("Ada"));
        assert_eq!(clean_text(" \n ", 200), None);
        assert_eq!(clean_text(&"x".repeat(300), 200).map(|s| s.len()), Some(200));
    }

    #[test]
    fn only_https_or_loopback_public_urls_make_a_tool() {
        assert!(tool_config("https://exams.example.org").is_some());
        assert!(tool_config("http://127.0.0.1:8080").is_some());
        assert!(tool_config("http://0.0.0.0:8080").is_none());
    }
}
