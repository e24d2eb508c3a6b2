//! Session lifetime policy (ASVS 5.0 V7.3 and V7.5, SP 800-63B rev 4 section 5.1).
//!
//! This module owns when a session ends and when it is fresh enough for a sensitive action.
//! A session ends at whichever comes first: `idle_timeout` after it was last seen, or
//! `absolute_lifetime` after it was created. A sensitive action needs the password (or, where
//! it asks for MFA, the second factor) to have been proven within `step_up_window`.
//!
//! Every bound is exclusive: at exactly `last_seen_at + idle_timeout` the session is over, and
//! at exactly `authenticated_at + step_up_window` step-up is needed again.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// Errors of session policy and lifetime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session ended after a period of inactivity: sign in again")]
    IdleTimeout,
    #[error("the session reached its maximum lifetime: sign in again")]
    LifetimeExceeded,
    #[error("invalid session policy: {0}")]
    InvalidPolicy(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionPolicy {
    pub idle_timeout: Duration,
    pub absolute_lifetime: Duration,
    pub step_up_window: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::minutes(30),
            absolute_lifetime: Duration::hours(12),
            step_up_window: Duration::minutes(10),
        }
    }
}

impl SessionPolicy {
    pub fn validate(&self) -> Result<(), SessionError> {
        if !self.idle_timeout.is_positive()
            || !self.absolute_lifetime.is_positive()
            || !self.step_up_window.is_positive()
        {
            return Err(SessionError::InvalidPolicy("every duration must be positive"));
        }
        if self.idle_timeout > self.absolute_lifetime {
            return Err(SessionError::InvalidPolicy(
                "the idle timeout must not exceed the absolute lifetime",
            ));
        }
        Ok(())
    }
}

/// The instants that decide a session's life, as the application stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionTimes {
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// When the user last proved the password (or other primary factor).
    pub authenticated_at: OffsetDateTime,
    /// When the user last proved a second factor, if ever in this session.
    pub mfa_at: Option<OffsetDateTime>,
}

impl SessionTimes {
    /// A session created by a sign-in at `now`, with a second factor if `with_mfa`.
    pub fn new(now: OffsetDateTime, with_mfa: bool) -> Self {
        Self {
            created_at: now,
            last_seen_at: now,
            authenticated_at: now,
            mfa_at: with_mfa.then_some(now),
        }
    }

    // Saturating, so that a policy read back with absurd durations cannot overflow a date.
    fn idle_deadline(&self, policy: &SessionPolicy) -> OffsetDateTime {
        self.last_seen_at.saturating_add(policy.idle_timeout)
    }

    fn lifetime_deadline(&self, policy: &SessionPolicy) -> OffsetDateTime {
        self.created_at.saturating_add(policy.absolute_lifetime)
    }

    /// The instant the session ends if it is not used again.
    pub fn expires_at(&self, policy: &SessionPolicy) -> OffsetDateTime {
        self.idle_deadline(policy).min(self.lifetime_deadline(policy))
    }

    /// Whether the session is still alive at `now`, and if not, why.
    pub fn check(&self, policy: &SessionPolicy, now: OffsetDateTime) -> Result<(), SessionError> {
        // The absolute bound first: it is the one no activity can extend, so it is the
        // more useful reason to report.
        if now >= self.lifetime_deadline(policy) {
            return Err(SessionError::LifetimeExceeded);
        }
        if now >= self.idle_deadline(policy) {
            return Err(SessionError::IdleTimeout);
        }
        Ok(())
    }

    pub fn is_valid(&self, policy: &SessionPolicy, now: OffsetDateTime) -> bool {
        self.check(policy, now).is_ok()
    }

    /// Records activity at `now` if the session is still alive; an ended session stays ended.
    /// `last_seen_at` never moves backwards, whatever order concurrent requests arrive in.
    pub fn touch(
        &mut self,
        policy: &SessionPolicy,
        now: OffsetDateTime,
    ) -> Result<(), SessionError> {
        self.check(policy, now)?;
        self.last_seen_at = self.last_seen_at.max(now);
        Ok(())
    }

    /// Records a re-authentication during the session (a step-up prompt), which also counts
    /// as activity. It does not extend the absolute lifetime.
    pub fn reauthenticate(
        &mut self,
        policy: &SessionPolicy,
        now: OffsetDateTime,
        with_mfa: bool,
    ) -> Result<(), SessionError> {
        self.touch(policy, now)?;
        self.authenticated_at = self.authenticated_at.max(now);
        if with_mfa {
            self.mfa_at = Some(self.mfa_at.map_or(now, |at| at.max(now)));
        }
        Ok(())
    }

    /// Whether the session may perform a sensitive action at `now` without asking the user
    /// to authenticate again: it is alive, and the primary factor (or, if `requires_mfa`, the
    /// second factor) was proven less than `step_up_window` ago.
    pub fn is_recent_enough_for_step_up(
        &self,
        policy: &SessionPolicy,
        now: OffsetDateTime,
        requires_mfa: bool,
    ) -> bool {
        if !self.is_valid(policy, now) {
            return false;
        }
        let proven_at = if requires_mfa { self.mfa_at } else { Some(self.authenticated_at) };
        proven_at.is_some_and(|at| now < at.saturating_add(policy.step_up_window))
    }
}
