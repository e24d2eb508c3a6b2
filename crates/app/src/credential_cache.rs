//! A short-lived cache of verified API keys and session tokens, so that a busy client does not cost a database
//! round trip per request. An entry lives at most `ttl`; revoking a key on this node evicts it
//! at once, and other replicas stop accepting it within `ttl` (the documented bound).

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

use crate::Principal;

/// Entries beyond this are not worth keeping: the cache starts over rather than grow.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    principal: Principal,
    cached_at: OffsetDateTime,
    key_expires_at: Option<OffsetDateTime>,
}

pub(crate) struct CredentialCache {
    ttl: Duration,
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
}

impl CredentialCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn get(&self, secret_hash: &[u8], now: OffsetDateTime) -> Option<Principal> {
        if self.ttl <= Duration::ZERO {
            return None;
        }
        let mut entries = self.entries();
        let entry = entries.get(secret_hash)?;
        let fresh = now - entry.cached_at < self.ttl
            && entry.key_expires_at.is_none_or(|expires_at| now < expires_at);
        if fresh {
            Some(entry.principal.clone())
        } else {
            entries.remove(secret_hash);
            None
        }
    }

    pub(crate) fn put(
        &self,
        secret_hash: Vec<u8>,
        principal: Principal,
        now: OffsetDateTime,
        key_expires_at: Option<OffsetDateTime>,
    ) {
        if self.ttl <= Duration::ZERO {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(secret_hash, Entry { principal, cached_at: now, key_expires_at });
    }

    /// Forget every cached principal of this account (suspension, deletion).
    pub(crate) fn evict_user(&self, user_id: base::UserId) {
        self.entries().retain(|_, entry| entry.principal.subject != crate::Subject::User(user_id));
    }

    /// Forget a session's cached principal (it ended, or its authentication changed).
    pub(crate) fn evict_session(&self, session_id: uuid::Uuid) {
        self.entries().retain(|_, entry| {
            entry.principal.session.as_ref().is_none_or(|session| session.id != session_id)
        });
    }

    /// Forget every cached principal of this application (deletion).
    pub(crate) fn evict_application(&self, application_id: base::ApplicationId) {
        self.entries().retain(|_, entry| {
            entry.principal.subject != crate::Subject::Application(application_id)
        });
    }

    /// Forget every cached principal of this key (on revocation).
    pub(crate) fn evict_key(&self, key_id: base::ApiKeyId) {
        self.entries().retain(|_, entry| {
            entry.principal.actor.credential() != Some(base::Credential::ApiKey { id: key_id })
        });
    }
}
