//! Names and Role Provisioning Services: when an instructor launches vigil
//! from a course whose platform offers it, the course's learners are put on
//! the exam's roster before any of them launches, so the dashboard shows
//! who is expected (offline tiles) from the start.
//!
//! The launch never waits for it: [`LtiService::plan_roster_sync`] decides
//! (at most once per exam per [`SYNC_EVERY_MS`], at most [`SYNCS_AT_ONCE`]
//! server-wide), and the transport runs [`LtiService::sync_roster`] on its
//! own task. The protocol (the first page's URL, each page's learners and
//! next link) is `vigil-lti`'s; this module pages through it with the
//! platform's token, bounded in pages, people and bytes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use vigil_lti::{
    ClientId, HttpsUrl, Issuer, LaunchCommon, MAX_PAGE_BYTES, NRPS_ACCEPT, NamesRoleService, claims,
    first_membership_page, parse_membership_page,
};
use vigil_proto::{ExamId, Role, Student, StudentId, UnixMillis};
use vigil_store::LtiEnrolment;

use super::acs::TokenFailure;
use super::lti::{LtiService, person_id_for};
use crate::service::lock;

/// Members asked for per page.
pub const PAGE_SIZE: usize = 500;
/// Pages followed at most in one sync (a platform whose `next` never ends).
pub const MAX_PAGES: usize = 50;
/// Learners enrolled at most in one sync.
pub const MAX_LEARNERS: usize = 10_000;
/// One sync per exam in this time, however many instructors launch.
pub const SYNC_EVERY_MS: i64 = 10 * 60_000;
/// Syncs running at once, server-wide; a launch that finds none free skips
/// its sync (the next instructor launch tries again).
pub const SYNCS_AT_ONCE: usize = 2;
/// Exams remembered for the per-exam interval.
const MAX_REMEMBERED: usize = 10_000;
/// Metric: roster syncs by outcome.
pub const NRPS_SYNCS: &str = "vigil_lti_nrps_syncs_total";

/// A roster sync to run: planned by a launch, run off it.
#[derive(Debug)]
pub struct RosterSync {
    pub exam_id: ExamId,
    issuer: Issuer,
    client_id: ClientId,
    service: NamesRoleService,
    _slot: OwnedSemaphorePermit,
}

/// Why a sync stopped before enrolling anyone.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("no access token: {0}")]
    Token(String),
    #[error("the platform refused vigil's token request")]
    TokenRefused,
    #[error("membership endpoint: {0}")]
    Fetch(String),
    #[error("membership endpoint answered HTTP {0}")]
    Status(u16),
    #[error("membership page: {0}")]
    Page(vigil_lti::NrpsError),
    #[error("the membership URL is unusable: {0}")]
    Url(vigil_lti::InvalidValue),
    #[error("storage: {0}")]
    Store(vigil_store::StoreError),
}

/// When each exam's last sync started, and the slots for running ones.
#[derive(Debug)]
pub(super) struct RosterSyncs {
    started: std::sync::Mutex<HashMap<ExamId, UnixMillis>>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Default for RosterSyncs {
    fn default() -> Self {
        RosterSyncs {
            started: std::sync::Mutex::new(HashMap::new()),
            slots: Arc::new(tokio::sync::Semaphore::new(SYNCS_AT_ONCE)),
        }
    }
}

impl LtiService {
    /// A sync for this launch's course, if its platform offers the service
    /// and the exam's roster was not synced within [`SYNC_EVERY_MS`].
    pub(super) fn plan_roster_sync(&self, common: &LaunchCommon, exam_id: &ExamId) -> Option<RosterSync> {
        let service = common.names_roles.clone()?;
        let syncs = self.roster_syncs();
        let now = self.admin().clock.now_ms();
        {
            let mut started = lock(&syncs.started);
            if started.get(exam_id).is_some_and(|at| now - at < SYNC_EVERY_MS) {
                metrics::counter!(NRPS_SYNCS, "outcome" => "recent").increment(1);
                return None;
            }
            if started.len() >= MAX_REMEMBERED {
                started.retain(|_, at| now - *at < SYNC_EVERY_MS);
            }
            let Ok(slot) = syncs.slots.clone().try_acquire_owned() else {
                metrics::counter!(NRPS_SYNCS, "outcome" => "busy").increment(1);
                tracing::info!(exam = %exam_id, "LTI: roster syncs are all busy; this launch's is skipped");
                return None;
            };
            started.insert(exam_id.clone(), now);
            Some(RosterSync {
                exam_id: exam_id.clone(),
                issuer: common.issuer.clone(),
                client_id: common.client_id.clone(),
                service,
                _slot: slot,
            })
        }
    }

    /// Puts the course's active learners on the exam's roster as students;
    /// the students it enrolled (new or already there). Failures are logged
    /// and counted, and enrol nobody.
    pub async fn sync_roster(&self, sync: RosterSync) -> Vec<Student> {
        match self.fetch_and_enrol(&sync).await {
            Ok((students, skipped)) => {
                metrics::counter!(NRPS_SYNCS, "outcome" => "synced").increment(1);
                tracing::info!(exam = %sync.exam_id, learners = students.len(), skipped, "LTI: roster synced from the platform");
                students
            }
            Err(e) => {
                metrics::counter!(NRPS_SYNCS, "outcome" => "failed").increment(1);
                tracing::warn!(exam = %sync.exam_id, error = %e, "LTI: roster sync failed");
                Vec::new()
            }
        }
    }

    async fn fetch_and_enrol(&self, sync: &RosterSync) -> Result<(Vec<Student>, usize), SyncError> {
        let scope = claims::scope::NRPS_MEMBERSHIP_READ;
        let token = self.service_token(&sync.issuer, &sync.client_id, scope).await.map_err(|e| match e {
            TokenFailure::Again(why) => SyncError::Token(why),
            TokenFailure::Failed => SyncError::TokenRefused,
        })?;
        let mut url: HttpsUrl = first_membership_page(&sync.service, PAGE_SIZE).map_err(SyncError::Url)?;
        let mut fetched_urls = HashSet::new();
        // By `sub`, so a learner on two pages is one person; the first name wins.
        let mut learners: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut skipped = 0;
        for _ in 0..MAX_PAGES {
            if !fetched_urls.insert(url.as_str().to_owned()) {
                break;
            }
            let page = self.poster().get(&url, NRPS_ACCEPT, &token, MAX_PAGE_BYTES).await;
            let page = page.map_err(|e| SyncError::Fetch(e.to_string()))?;
            if page.status == 401 {
                self.forget_token(&sync.issuer, &sync.client_id, scope);
            }
            if !(200..=299).contains(&page.status) {
                return Err(SyncError::Status(page.status));
            }
            let page =
                parse_membership_page(&page.body, page.link.as_deref(), &sync.service).map_err(SyncError::Page)?;
            skipped += page.skipped;
            for member in page.learners {
                if learners.len() >= MAX_LEARNERS {
                    break;
                }
                learners.entry(member.user_id.as_str().to_owned()).or_insert(member.name);
            }
            match page.next {
                Some(next) if learners.len() < MAX_LEARNERS => url = next,
                _ => break,
            }
        }
        let issuer = sync.issuer.as_str();
        let mut enrolments = Vec::with_capacity(learners.len());
        let mut students = Vec::with_capacity(learners.len());
        for (sub, name) in learners {
            // The same id a launch by this person gets (it is derived, not
            // assigned), so their later launch finds this roster entry.
            let person_id = person_id_for(issuer, &sub);
            let Ok(id) = person_id.parse::<StudentId>() else { continue };
            let name = name.unwrap_or_else(|| "Student".to_owned());
            students.push(Student { id, name: name.clone() });
            enrolments.push(LtiEnrolment {
                exam_id: sync.exam_id.clone(),
                role: Role::Student,
                person_id,
                name,
                issuer: issuer.to_owned(),
                sub,
            });
        }
        let now = self.admin().clock.now_ms();
        self.admin().store.lti_enrol_all(enrolments, now).await.map_err(SyncError::Store)?;
        Ok((students, skipped))
    }
}
