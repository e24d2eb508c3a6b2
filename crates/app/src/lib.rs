//! Rampart's use cases. Each public method of [`App`] is one use case: it authorises the
//! principal, runs one store transaction holding the state change and its audit event, and
//! returns domain values. Nothing here knows HTTP, reads the environment or the wall clock.

mod api_keys;
mod bootstrap;
mod credential_cache;
mod error;
mod organizations;
mod passwords;
mod principal;
mod projects;
mod secrets;

use std::sync::Arc;

use base::Clock;
use store::Store;

pub use api_keys::IssuedApiKey;
pub use bootstrap::{Bootstrap, Initialization, InitializeRequest, SetupCompleted};
pub use error::AppError;
pub use organizations::Page;
pub use passwords::{PasswordHasher, PasswordPolicyError};
pub use principal::Principal;

/// The application: the store, the clock and the shared services use cases need.
#[derive(Clone)]
pub struct App {
    store: Store,
    clock: Arc<dyn Clock>,
    passwords: PasswordHasher,
    credentials: Arc<credential_cache::CredentialCache>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("backend", &self.store.backend()).finish_non_exhaustive()
    }
}

impl App {
    /// An application with no credential cache: every request checks its key in the store.
    pub fn new(store: Store, clock: Arc<dyn Clock>, passwords: PasswordHasher) -> Self {
        let credentials = Arc::new(credential_cache::CredentialCache::new(time::Duration::ZERO));
        Self { store, clock, passwords, credentials }
    }

    /// Cache verified API keys for `ttl` (zero disables the cache). A key revoked on this
    /// node is refused at once; on other replicas within `ttl`.
    pub fn with_api_key_cache(mut self, ttl: std::time::Duration) -> Self {
        let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::ZERO);
        self.credentials = Arc::new(credential_cache::CredentialCache::new(ttl));
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}

impl App {
    /// An audit event stamped now, with success outcome and no request context; use cases
    /// fill in the rest.
    pub(crate) fn event(
        &self,
        actor: &base::Actor,
        organization_id: base::OrganizationId,
        action: &str,
        resource: base::Resource,
    ) -> base::AuditEvent {
        base::AuditEvent {
            organization_id,
            time: self.clock.now(),
            actor: actor.clone(),
            action: action.to_owned(),
            resource,
            outcome: base::Outcome::Success,
            context: base::RequestContext::default(),
            privileged: false,
            details: serde_json::Map::new(),
        }
    }
}
