//! A bounded in-memory store of logins in flight.
//!
//! Taking a login removes it, so a `state` (and the `nonce` bound to it) is
//! good for one id_token only: a replayed form post finds nothing. Entries
//! expire, and the store never holds more than its capacity: when full, the
//! login closest to expiry makes room. A flood of login initiations can then
//! only push out logins that are themselves about to lapse, rather than lock
//! out every new user as refusing would.

use std::collections::{BTreeSet, HashMap};

use crate::launch::LaunchError;
use crate::login::PendingLogin;
use crate::types::UnixSeconds;

/// Longest `state` looked up; anything longer was not made by vigil.
const MAX_STATE_LEN: usize = 256;

#[derive(Debug)]
pub struct PendingLogins {
    by_state: HashMap<String, PendingLogin>,
    by_expiry: BTreeSet<(UnixSeconds, String)>,
    capacity: usize,
}

impl PendingLogins {
    /// A store of at most `capacity` logins (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { by_state: HashMap::new(), by_expiry: BTreeSet::new(), capacity: capacity.max(1) }
    }

    pub fn len(&self) -> usize {
        self.by_state.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_state.is_empty()
    }

    /// Keeps a login. Drops expired ones first; if the store is still full,
    /// evicts the login closest to expiry and returns it.
    pub fn insert(&mut self, pending: PendingLogin, now: UnixSeconds) -> Option<PendingLogin> {
        self.purge_expired(now);
        if let Some(old) = self.by_state.remove(&pending.state) {
            self.by_expiry.remove(&(old.expires_at, old.state));
        }
        let evicted = if self.by_state.len() >= self.capacity {
            self.by_expiry.pop_first().and_then(|(_, state)| self.by_state.remove(&state))
        } else {
            None
        };
        self.by_expiry.insert((pending.expires_at, pending.state.clone()));
        self.by_state.insert(pending.state.clone(), pending);
        evicted
    }

    /// Removes and returns the login for `state`. Unknown, already taken and
    /// expired logins are refused; an expired one is removed all the same.
    pub fn take(&mut self, state: &str, now: UnixSeconds) -> Result<PendingLogin, LaunchError> {
        if state.len() > MAX_STATE_LEN {
            return Err(LaunchError::UnknownState);
        }
        let pending = self.by_state.remove(state).ok_or(LaunchError::UnknownState)?;
        self.by_expiry.remove(&(pending.expires_at, pending.state.clone()));
        if now >= pending.expires_at {
            return Err(LaunchError::LoginExpired);
        }
        Ok(pending)
    }

    /// Drops every login that has expired by `now`; returns how many.
    pub fn purge_expired(&mut self, now: UnixSeconds) -> usize {
        let mut purged = 0;
        while let Some((expires_at, _)) = self.by_expiry.first()
            && *expires_at <= now
        {
            if let Some((_, state)) = self.by_expiry.pop_first() {
                self.by_state.remove(&state);
                purged += 1;
            }
        }
        purged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ClientId, HttpsUrl, Issuer};

    fn pending(state: &str, created_at: i64, ttl: i64) -> PendingLogin {
        PendingLogin {
            state: state.to_owned(),
            nonce: format!("nonce-{state}"),
            issuer: Issuer::new("https://lms.example.edu").unwrap(),
            client_id: ClientId::new("vigil").unwrap(),
            target_link_uri: HttpsUrl::parse("https://vigil.example.edu/lti").unwrap(),
            created_at: UnixSeconds(created_at),
            expires_at: UnixSeconds(created_at + ttl),
        }
    }

    #[test]
    fn a_login_can_be_taken_once() {
        let mut logins = PendingLogins::new(10);
        assert_eq!(logins.insert(pending("a", 0, 300), UnixSeconds(0)), None);
        assert_eq!(logins.len(), 1);
        let taken = logins.take("a", UnixSeconds(10)).unwrap();
        assert_eq!(taken.nonce, "nonce-a");
        assert_eq!(logins.take("a", UnixSeconds(11)), Err(LaunchError::UnknownState));
        assert!(logins.is_empty());
    }

    #[test]
    fn unknown_and_oversized_states_are_refused() {
        let mut logins = PendingLogins::new(10);
        logins.insert(pending("a", 0, 300), UnixSeconds(0));
        assert_eq!(logins.take("b", UnixSeconds(1)), Err(LaunchError::UnknownState));
        assert_eq!(logins.take(&"a".repeat(1000), UnixSeconds(1)), Err(LaunchError::UnknownState));
        assert_eq!(logins.len(), 1);
    }

    #[test]
    fn expired_logins_are_refused_and_removed() {
        let mut logins = PendingLogins::new(10);
        logins.insert(pending("a", 0, 300), UnixSeconds(0));
        assert_eq!(logins.take("a", UnixSeconds(300)), Err(LaunchError::LoginExpired));
        assert!(logins.is_empty());
        assert_eq!(logins.take("a", UnixSeconds(300)), Err(LaunchError::UnknownState));
    }

    #[test]
    fn purging_drops_only_expired_logins() {
        let mut logins = PendingLogins::new(10);
        logins.insert(pending("a", 0, 100), UnixSeconds(0));
        logins.insert(pending("b", 50, 100), UnixSeconds(50));
        logins.insert(pending("c", 60, 100), UnixSeconds(60));
        assert_eq!(logins.purge_expired(UnixSeconds(99)), 0);
        assert_eq!(logins.purge_expired(UnixSeconds(150)), 2);
        assert_eq!(logins.len(), 1);
        assert!(logins.take("c", UnixSeconds(151)).is_ok());
    }

    #[test]
    fn a_full_store_evicts_the_login_closest_to_expiry() {
        let mut logins = PendingLogins::new(3);
        logins.insert(pending("a", 10, 300), UnixSeconds(10));
        logins.insert(pending("b", 0, 300), UnixSeconds(10));
        logins.insert(pending("c", 20, 300), UnixSeconds(20));
        let evicted = logins.insert(pending("d", 30, 300), UnixSeconds(30)).unwrap();
        assert_eq!(evicted.state, "b");
        assert_eq!(logins.len(), 3);
        assert_eq!(logins.take("b", UnixSeconds(31)), Err(LaunchError::UnknownState));
        for state in ["a", "c", "d"] {
            assert!(logins.take(state, UnixSeconds(31)).is_ok(), "{state}");
        }
    }

    #[test]
    fn inserting_into_a_full_store_reclaims_expired_space_first() {
        let mut logins = PendingLogins::new(2);
        logins.insert(pending("a", 0, 10), UnixSeconds(0));
        logins.insert(pending("b", 0, 300), UnixSeconds(0));
        assert_eq!(logins.insert(pending("c", 20, 300), UnixSeconds(20)), None);
        assert_eq!(logins.len(), 2);
        assert!(logins.take("b", UnixSeconds(21)).is_ok());
    }

    #[test]
    fn reinserting_a_state_replaces_it() {
        let mut logins = PendingLogins::new(2);
        logins.insert(pending("a", 0, 10), UnixSeconds(0));
        logins.insert(pending("a", 5, 300), UnixSeconds(5));
        assert_eq!(logins.len(), 1);
        assert_eq!(logins.purge_expired(UnixSeconds(100)), 0, "the old expiry is gone");
        assert_eq!(logins.take("a", UnixSeconds(100)).unwrap().created_at, UnixSeconds(5));
    }
}
