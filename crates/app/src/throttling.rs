//! Login throttling: per account, a temporary lock after repeated failures (persisted, so it
//! holds across restarts and replicas); per source IP, a token bucket across accounts against
//! credential stuffing (in memory, per replica).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use base::RequestContext;
use serde::{Deserialize, Serialize};
use store::ThrottleRepository;
use time::{Duration, OffsetDateTime};

use crate::{App, AppError};

/// Consecutive failures before an account locks.
pub const LOCK_AFTER_FAILURES: u32 = 10;
/// How long a lock lasts.
pub const LOCK_DURATION: Duration = Duration::minutes(15);
/// Login attempts a source IP may make in a burst, and its refill rate per minute.
const IP_BURST: f64 = 30.0;
const IP_REFILL_PER_MINUTE: f64 = 10.0;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AccountState {
    consecutive_failures: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    locked_until: Option<OffsetDateTime>,
}

#[derive(Debug, Default)]
pub(crate) struct IpBuckets {
    buckets: Mutex<HashMap<IpAddr, (f64, OffsetDateTime)>>,
}

impl IpBuckets {
    /// Take one token for `ip`; the seconds to wait when none is left.
    fn take(&self, ip: IpAddr, now: OffsetDateTime) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            buckets.clear();
        }
        let (tokens, updated) = buckets.entry(ip).or_insert((IP_BURST, now));
        let minutes = (now - *updated).as_seconds_f64() / 60.0;
        *tokens = (*tokens + minutes * IP_REFILL_PER_MINUTE).min(IP_BURST);
        *updated = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / IP_REFILL_PER_MINUTE * 60.0).ceil();
            Err(wait as u64)
        }
    }
}

fn account_key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl App {
    async fn account_state(&self, email: &str) -> Result<AccountState, AppError> {
        let mut read = self.store.read_latest().await?;
        let state = read.get_throttle(&account_key(email)).await?;
        read.commit().await?;
        Ok(state.and_then(|state| serde_json::from_value(state).ok()).unwrap_or_default())
    }

    async fn save_account_state(
        &self,
        email: &str,
        state: &AccountState,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        let value =
            serde_json::to_value(state).map_err(|error| AppError::Internal(error.to_string()))?;
        let mut transaction = self.store.begin().await?;
        transaction.put_throttle(&account_key(email), &value, now).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Refuse an attempt while the account is locked or the source IP has no token left.
    pub(crate) async fn check_throttle(
        &self,
        email: &str,
        context: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        if let Some(ip) = context.source_ip
            && let Err(wait) = self.identity.ip_buckets.take(ip, now)
        {
            return Err(AppError::Throttled { retry_after_seconds: wait });
        }
        let state = self.account_state(email).await?;
        match state.locked_until {
            Some(until) if now < until => {
                // Locked accounts answer like wrong passwords: a lock must not reveal that the
                // account exists. The lock itself was audited when it started.
                Err(AppError::Unauthenticated)
            }
            _ => Ok(()),
        }
    }

    pub(crate) async fn note_login_failure(
        &self,
        email: &str,
        context: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        let mut state = self.account_state(email).await?;
        if state.locked_until.is_some_and(|until| now >= until) {
            state = AccountState::default();
        }
        state.consecutive_failures += 1;
        if state.consecutive_failures >= LOCK_AFTER_FAILURES {
            state.locked_until = Some(now + LOCK_DURATION);
            state.consecutive_failures = 0;
            self.record_lock(email, context).await;
        }
        self.save_account_state(email, &state, now).await
    }

    pub(crate) async fn note_login_success(
        &self,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        let state = self.account_state(email).await?;
        if state.consecutive_failures > 0 || state.locked_until.is_some() {
            self.save_account_state(email, &AccountState::default(), now).await?;
        }
        Ok(())
    }

    async fn record_lock(&self, email: &str, context: &RequestContext) {
        use crate::AuditTrail as _;
        use store::{OrganizationRepository as _, UserRepository as _};
        let recorded = async {
            let mut transaction = self.store.begin().await?;
            let organization_id = match transaction.find_user_by_email(email).await? {
                Some(user) => user.organization_id,
                None => match transaction.provider_organization().await? {
                    Some(provider) => provider.id,
                    None => return Ok(()),
                },
            };
            let mut event = self.event(
                &base::Actor::System,
                organization_id,
                "auth.account.lock",
                base::Resource::kind_only("user"),
            );
            event.context = context.clone();
            event.details.insert("account".into(), email.into());
            event.details.insert("minutes".into(), LOCK_DURATION.whole_minutes().into());
            transaction.append_audit_event(&event).await?;
            transaction.commit().await.map_err(AppError::from)
        };
        if let Err(error) = recorded.await {
            tracing::error!(%error, "could not record an account lock");
        }
    }
}
