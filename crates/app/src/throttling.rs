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
use store::{StoredThrottle, ThrottleRepository, Transaction};
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

pub(crate) fn account_key(email: &str) -> String {
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

/// An account's throttle as read: its state, and the version a write must still find (`None`
/// when the email had no throttle yet).
#[derive(Debug, Clone, Default)]
pub(crate) struct SeenThrottle {
    pub(crate) state: AccountThrottle,
    version: Option<i64>,
}

impl SeenThrottle {
    /// Parse a stored throttle (the default state when there is none).
    pub(crate) fn parse(stored: Option<StoredThrottle>) -> Result<Self, AppError> {
        let Some(stored) = stored else { return Ok(Self::default()) };
        let state = serde_json::from_str(&stored.state).map_err(|error| {
            AppError::Internal(format!("unreadable login throttle state: {error}"))
        })?;
        Ok(Self { state, version: Some(stored.version) })
    }
}

/// Apply `change` to the account's throttle in `transaction`, starting from `seen`, the state
/// read before. The write is one statement when the state is
/// still the one seen; when a concurrent attempt changed it in between, the state is read
/// again with its row locked and the change applied to that, so no attempt goes uncounted.
/// Returns the state before and after the change.
async fn change_throttle_in(
    transaction: &mut Transaction,
    email: &str,
    mut seen: SeenThrottle,
    now: OffsetDateTime,
    change: impl Fn(&mut AccountThrottle),
) -> Result<(AccountThrottle, AccountThrottle), AppError> {
    let account = account_key(email);
    // The second try holds the row (or, on SQLite, the database): it can only lose to an
    // attempt that created the row at the same time, and the third then finds it.
    for _ in 0..3 {
        let mut after = seen.state.clone();
        change(&mut after);
        let state =
            serde_json::to_string(&after).map_err(|error| AppError::Internal(error.to_string()))?;
        if transaction.replace_throttle(&account, seen.version, &state, now).await? {
            return Ok((seen.state, after));
        }
        seen = SeenThrottle::parse(transaction.get_throttle_for_update(&account).await?)?;
    }
    Err(AppError::Internal(format!("the login throttle of {account} kept changing")))
}

impl App {
    fn account_policy(&self) -> AccountThrottlePolicy {
        AccountThrottlePolicy::default()
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

    /// Whether this attempt may be evaluated, given the account's throttle as read. A locked
    /// account answers like a wrong password (the lock was audited when it began); a
    /// progressive delay or an exhausted source IP answers "retry later".
    pub(crate) fn check_throttle(
        &self,
        throttle: &AccountThrottle,
        context: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        self.check_ip_throttle(context, now)?;
        match throttle.check(&self.account_policy(), now) {
            Decision::Allowed => Ok(()),
            Decision::Locked(_) => Err(AppError::Unauthenticated),
            delay @ Decision::Delay(_) => {
                Err(AppError::Throttled { retry_after_seconds: retry_after(delay, now) })
            }
        }
    }

    /// Count a failed attempt on `email`'s account, in the transaction that records it, from
    /// `seen`, the throttle read before the password was checked (concurrent attempts are all
    /// counted: see [`change_throttle_in`]).
    /// Returns whether this failure locked the account (the caller records the lock).
    pub(crate) async fn note_login_failure_in(
        &self,
        transaction: &mut Transaction,
        email: &str,
        seen: SeenThrottle,
        now: OffsetDateTime,
    ) -> Result<bool, AppError> {
        let policy = self.account_policy();
        let (before, after) = change_throttle_in(transaction, email, seen, now, |state| {
            let _ = state.on_failure(&policy, now);
        })
        .await?;
        let locked = |state: &AccountThrottle| state.locked_until.is_some_and(|until| now < until);
        Ok(!locked(&before) && locked(&after))
    }

    /// Count a successful attempt, in the transaction that opens the session or the second
    /// step, so that a login commits once.
    pub(crate) async fn note_login_success_in(
        &self,
        transaction: &mut Transaction,
        email: &str,
        seen: SeenThrottle,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        let policy = self.account_policy();
        change_throttle_in(transaction, email, seen, now, |state| state.on_success(&policy, now))
            .await?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use store::ThrottleRepository as _;

    use super::*;
    use crate::PasswordHasher;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-03-01 9:00 UTC);

    async fn app() -> (App, tempfile::TempDir) {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("rampart.db");
        let store =
            store::Store::open_sqlite(&path, &store::StoreOptions::default()).await.unwrap();
        store.migrate().await.unwrap();
        let clock = Arc::new(base::ManualClock::new(NOW));
        (App::new(store, clock, PasswordHasher::new(1024, 1, 1, 1).unwrap()), directory)
    }

    async fn stored(app: &App, email: &str) -> Option<StoredThrottle> {
        let mut read = app.store.read_latest().await.unwrap();
        let stored = read.get_throttle(&account_key(email)).await.unwrap();
        read.commit().await.unwrap();
        stored
    }

    /// Attempts that all read the throttle before any of them counts (as concurrent logins
    /// do while their hashes run) are all counted, and the one that reaches the limit is the
    /// one that reports the lock.
    #[tokio::test]
    async fn counts_from_the_same_stale_read_all_land() {
        let (app, _directory) = app().await;
        let email = "Ada@Acme.example";
        let policy = app.account_policy();
        let mut seen = stored(&app, email).await;
        assert_eq!(seen, None);
        let mut locks = Vec::new();
        for attempt in 1..=policy.lock_after {
            let mut transaction = app.store.begin().await.unwrap();
            let from = SeenThrottle::parse(seen.clone()).unwrap();
            let locked = app.note_login_failure_in(&mut transaction, email, from, NOW);
            locks.push(locked.await.unwrap());
            transaction.commit().await.unwrap();
            if attempt == 2 {
                // From here on, every attempt starts from this read, one write behind or more.
                seen = stored(&app, email).await;
            }
        }
        let state = SeenThrottle::parse(stored(&app, email).await).unwrap().state;
        assert_eq!(state.consecutive_failures, 0, "the lock starts a new count");
        assert_eq!(state.recent_attempts.len(), policy.lock_after as usize, "all counted");
        assert!(state.locked_until.is_some_and(|until| until > NOW));
        let reported: Vec<usize> = (0..locks.len()).filter(|&n| locks[n]).collect();
        assert_eq!(reported, [policy.lock_after as usize - 1], "one lock, on the last attempt");

        // A success from a stale read lands on the newest state too: it ends the failures but
        // keeps the attempts of the window.
        let mut transaction = app.store.begin().await.unwrap();
        let seen = SeenThrottle::parse(seen).unwrap();
        app.note_login_success_in(&mut transaction, email, seen, NOW).await.unwrap();
        transaction.commit().await.unwrap();
        let state = SeenThrottle::parse(stored(&app, email).await).unwrap().state;
        assert_eq!(state.recent_attempts.len(), policy.lock_after as usize + 1);
        assert_eq!(state.locked_until, None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// However the reads and writes of concurrent attempts on one account interleave
        /// (each reads the throttle, hashes, then counts its outcome from what it read), the
        /// stored throttle is what applying the attempts in the order their writes landed
        /// gives: none is lost, none counted twice, and the lock is reported by the write
        /// that starts it.
        #[test]
        fn interleaved_attempts_are_each_counted_once(
            failures in proptest::collection::vec(proptest::bool::weighted(0.8), 1..14),
            priorities in proptest::collection::vec(proptest::prelude::any::<u16>(), 28),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(interleaved(&failures, &priorities));
        }
    }

    /// Runs the attempts (`true` a failure, `false` a success) in the order `priorities`
    /// gives their steps, each attempt's read before its write, and checks the result
    /// against applying them one after the other.
    async fn interleaved(failures: &[bool], priorities: &[u16]) {
        let (app, _directory) = app().await;
        let email = "ada@acme.example";
        let policy = app.account_policy();
        // Step 2k is attempt k's read, step 2k + 1 its write; the read takes the smaller of
        // the two priorities, so it comes first.
        let mut steps: Vec<usize> = (0..2 * failures.len()).collect();
        steps.sort_by_key(|&step| {
            let (read, write) = (priorities[step & !1], priorities[step | 1]);
            let priority = if step % 2 == 0 { read.min(write) } else { read.max(write) };
            (priority, step)
        });
        let mut seen = vec![None; failures.len()];
        let mut model = AccountThrottle::default();
        for step in steps {
            let attempt = step / 2;
            let at = NOW + time::Duration::seconds(attempt as i64);
            if step % 2 == 0 {
                seen[attempt] = Some(SeenThrottle::parse(stored(&app, email).await).unwrap());
                continue;
            }
            let seen = seen[attempt].take().expect("read before its write");
            let mut transaction = app.store.begin().await.unwrap();
            if failures[attempt] {
                let locked =
                    |state: &AccountThrottle| state.locked_until.is_some_and(|until| at < until);
                let was_locked = locked(&model);
                let _ = model.on_failure(&policy, at);
                let reported = app.note_login_failure_in(&mut transaction, email, seen, at).await;
                assert_eq!(reported.unwrap(), !was_locked && locked(&model), "attempt {attempt}");
            } else {
                model.on_success(&policy, at);
                app.note_login_success_in(&mut transaction, email, seen, at).await.unwrap();
            }
            transaction.commit().await.unwrap();
        }
        let state = SeenThrottle::parse(stored(&app, email).await).unwrap().state;
        assert_eq!(state, model);
    }

    #[test]
    fn an_unreadable_state_is_an_error_not_a_fresh_start() {
        let stored =
            StoredThrottle { state: "{\"consecutive_failures\": \"many\"}".into(), version: 3 };
        assert!(SeenThrottle::parse(Some(stored)).is_err());
        assert_eq!(SeenThrottle::parse(None).unwrap().state, AccountThrottle::default());
    }
}
