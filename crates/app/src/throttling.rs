//! Login throttling, applying the `iam::throttle` policies: per account (keyed by the folded
//! email, whether or not the account exists, so throttling reveals nothing), a progressive
//! delay, a lock after repeated failures and a rolling hourly cap, persisted so they hold
//! across restarts and replicas; per source IP, a token bucket across accounts against
//! credential stuffing, in memory on each replica.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use base::RequestContext;
use iam::throttle::{AccountThrottle, AccountThrottlePolicy, Decision, IpBucket, IpBucketConfig};
use store::{ThrottleRepository, Transaction};
use time::OffsetDateTime;

use crate::{App, AppError};

#[derive(Debug, Default)]
pub(crate) struct IpBuckets {
    config: IpBucketConfig,
    buckets: Mutex<HashMap<IpAddr, IpBucket>>,
}

impl IpBuckets {
    fn try_acquire(&self, ip: IpAddr, now: OffsetDateTime) -> Decision {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            buckets.clear();
        }
        buckets
            .entry(ip)
            .or_insert_with(|| IpBucket::new(&self.config, now))
            .try_acquire(&self.config, now)
    }
}

fn account_key(email: &str) -> String {
    email.trim().to_lowercase()
}

fn retry_after(decision: Decision, now: OffsetDateTime) -> u64 {
    let wait = match decision {
        Decision::Allowed => time::Duration::ZERO,
        Decision::Delay(delay) => delay,
        Decision::Locked(until) => until - now,
    };
    u64::try_from(wait.whole_seconds()).unwrap_or(0).max(1)
}

/// The account's throttle, read to be changed in `transaction` (its row locked until it ends).
async fn account_throttle_for_update(
    transaction: &mut Transaction,
    email: &str,
) -> Result<AccountThrottle, AppError> {
    let state = transaction.get_throttle_for_update(&account_key(email)).await?;
    Ok(parse_throttle(state))
}

fn parse_throttle(state: Option<serde_json::Value>) -> AccountThrottle {
    state.and_then(|state| serde_json::from_value(state).ok()).unwrap_or_default()
}

async fn save_account_throttle_in(
    transaction: &mut Transaction,
    email: &str,
    state: &AccountThrottle,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let value =
        serde_json::to_value(state).map_err(|error| AppError::Internal(error.to_string()))?;
    transaction.put_throttle(&account_key(email), &value, now).await?;
    Ok(())
}

impl App {
    fn account_policy(&self) -> AccountThrottlePolicy {
        AccountThrottlePolicy::default()
    }

    async fn account_throttle(&self, email: &str) -> Result<AccountThrottle, AppError> {
        let mut read = self.store.read_latest().await?;
        let state = read.get_throttle(&account_key(email)).await?;
        read.commit().await?;
        Ok(parse_throttle(state))
    }

    /// Whether the source IP may make another login attempt (passwordless logins, which name
    /// no account, have only this bucket).
    pub(crate) fn check_ip_throttle(
        &self,
        context: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        if let Some(ip) = context.source_ip {
            let decision = self.identity.ip_buckets.try_acquire(ip, now);
            if !decision.is_allowed() {
                return Err(AppError::Throttled {
                    retry_after_seconds: retry_after(decision, now),
                });
            }
        }
        Ok(())
    }

    /// Whether this attempt may be evaluated. A locked account answers like a wrong password
    /// (the lock was audited when it began); a progressive delay or an exhausted source IP
    /// answers "retry later".
    pub(crate) async fn check_throttle(
        &self,
        email: &str,
        context: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        self.check_ip_throttle(context, now)?;
        match self.account_throttle(email).await?.check(&self.account_policy(), now) {
            Decision::Allowed => Ok(()),
            Decision::Locked(_) => Err(AppError::Unauthenticated),
            delay @ Decision::Delay(_) => {
                Err(AppError::Throttled { retry_after_seconds: retry_after(delay, now) })
            }
        }
    }

    /// Count a failed attempt on `email`'s account, in the transaction that records it: the
    /// state is read with its row locked and written in the same transaction, so concurrent
    /// attempts are all counted.
    /// Returns whether this failure locked the account (the caller records the lock).
    pub(crate) async fn note_login_failure_in(
        &self,
        transaction: &mut Transaction,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<bool, AppError> {
        let policy = self.account_policy();
        let mut state = account_throttle_for_update(transaction, email).await?;
        let was_locked = state.locked_until.is_some_and(|until| now < until);
        state.on_failure(&policy, now);
        save_account_throttle_in(transaction, email, &state, now).await?;
        Ok(!was_locked && state.locked_until.is_some_and(|until| now < until))
    }

    /// Count a successful attempt, in the transaction that opens the session or the second
    /// step, so that a login commits once.
    pub(crate) async fn note_login_success_in(
        &self,
        transaction: &mut Transaction,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        let mut state = account_throttle_for_update(transaction, email).await?;
        state.on_success(&self.account_policy(), now);
        save_account_throttle_in(transaction, email, &state, now).await
    }

    /// The audit event of an account lock, on the account's organisation (the provider's when
    /// no account has this email).
    pub(crate) async fn record_lock_in(
        &self,
        transaction: &mut Transaction,
        email: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        use crate::AuditTrail as _;
        use store::{OrganizationRepository as _, UserRepository as _};
        let minutes = self.account_policy().lock_duration.whole_minutes();
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
        event.details.insert("minutes".into(), minutes.into());
        transaction.append_audit_event(&event).await?;
        Ok(())
    }
}
