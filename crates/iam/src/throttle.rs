//! Login throttling, as pure state machines the application loads, updates and stores.
//!
//! This module owns two limits (ASVS 5.0 V6.3.1, SP 800-63B rev 4 section 3.2.2):
//!
//! - [`AccountThrottle`], per account, against guessing one account's password: after a few
//!   free failures each further consecutive failure doubles a delay, the tenth locks the
//!   account for 15 minutes, and whatever the outcomes no more than 100 attempts are admitted
//!   in any rolling hour.
//! - [`IpBucket`], per source address across accounts, against credential stuffing: a token
//!   bucket that each attempt drains and time refills.
//!
//! The protocol: call `check(now)` before verifying a credential; only on
//! [`Decision::Allowed`] verify it, then record the outcome with `on_failure(now)` or
//! `on_success(now)` and store the state in the same transaction as the check, so that
//! concurrent attempts cannot both pass.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// Errors of throttle configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThrottleError {
    #[error("invalid throttle policy: {0}")]
    InvalidPolicy(&'static str),
}

/// What the next attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Allowed,
    /// Try again after this long; the attempt must not be evaluated now.
    Delay(Duration),
    /// Refused before this instant; from it on, allowed (unless another limit applies).
    Locked(OffsetDateTime),
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        matches!(self, Self::Allowed)
    }
}

/// Per-account limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountThrottlePolicy {
    /// Consecutive failures allowed before any delay.
    pub free_failures: u32,
    /// The delay after the first failure past the free ones; it doubles with each further one.
    pub base_delay: Duration,
    /// The delay never grows beyond this.
    pub max_delay: Duration,
    /// Consecutive failures that lock the account.
    pub lock_after: u32,
    pub lock_duration: Duration,
    /// Attempts admitted in any rolling [`AccountThrottlePolicy::window`], whatever their
    /// outcome; at most 100 (SP 800-63B).
    pub max_attempts_per_window: u32,
    pub window: Duration,
}

impl Default for AccountThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 3,
            base_delay: Duration::seconds(1),
            max_delay: Duration::seconds(30),
            lock_after: 10,
            lock_duration: Duration::minutes(15),
            max_attempts_per_window: 100,
            window: Duration::HOUR,
        }
    }
}

impl AccountThrottlePolicy {
    pub fn validate(&self) -> Result<(), ThrottleError> {
        if self.lock_after == 0 {
            return Err(ThrottleError::InvalidPolicy(
                "the lock must come after at least one failure",
            ));
        }
        if self.max_attempts_per_window == 0 || self.max_attempts_per_window > 100 {
            return Err(ThrottleError::InvalidPolicy(
                "the attempts per window must be between 1 and 100",
            ));
        }
        if !self.window.is_positive() || !self.lock_duration.is_positive() {
            return Err(ThrottleError::InvalidPolicy(
                "the window and the lock duration must be positive",
            ));
        }
        if self.base_delay.is_negative() || self.max_delay < self.base_delay {
            return Err(ThrottleError::InvalidPolicy(
                "delays must be non-negative and the maximum at least the base",
            ));
        }
        Ok(())
    }

    /// The delay owed after `failures` consecutive failures.
    fn delay_after(&self, failures: u32) -> Duration {
        let Some(excess) = failures.checked_sub(self.free_failures).filter(|&e| e > 0) else {
            return Duration::ZERO;
        };
        // Doubling past 2^20 already exceeds any sensible maximum; capping the exponent keeps
        // the multiplication in range.
        let factor = 1_i32 << (excess - 1).min(20);
        self.base_delay.checked_mul(factor).map_or(self.max_delay, |d| d.min(self.max_delay))
    }
}

/// One account's throttle state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountThrottle {
    /// Failures since the last success or lock.
    pub consecutive_failures: u32,
    pub last_failure_at: Option<OffsetDateTime>,
    pub locked_until: Option<OffsetDateTime>,
    /// When the admitted attempts of the current window happened, oldest first, never more
    /// than the policy's maximum: enough to enforce an exact rolling window.
    pub recent_attempts: Vec<OffsetDateTime>,
}

impl AccountThrottle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether an attempt may be evaluated now. Does not change the state.
    pub fn check(&self, policy: &AccountThrottlePolicy, now: OffsetDateTime) -> Decision {
        let mut until: Option<OffsetDateTime> = self.locked_until.filter(|&until| now < until);

        // The rolling cap: with the maximum already admitted inside the window, the next
        // attempt waits until the oldest of those leaves it.
        let cap = usize::try_from(policy.max_attempts_per_window).unwrap_or(usize::MAX);
        let in_window = self.in_window(policy, now);
        if in_window.len() >= cap {
            let release = in_window
                .get(in_window.len() - cap)
                .map(|&oldest| oldest.saturating_add(policy.window));
            until = until.max(release);
        }
        if let Some(until) = until {
            return Decision::Locked(until);
        }

        if let Some(last) = self.last_failure_at {
            let ready_at = last.saturating_add(policy.delay_after(self.consecutive_failures));
            if now < ready_at {
                return Decision::Delay(ready_at - now);
            }
        }
        Decision::Allowed
    }

    /// Records a failed attempt that [`AccountThrottle::check`] allowed, and returns what the
    /// next attempt faces.
    pub fn on_failure(&mut self, policy: &AccountThrottlePolicy, now: OffsetDateTime) -> Decision {
        self.record_attempt(policy, now);
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.last_failure_at = Some(now);
        if self.consecutive_failures >= policy.lock_after {
            self.locked_until = Some(now.saturating_add(policy.lock_duration));
            // The lock itself is the penalty for this run; once it ends the count starts
            // again, and the rolling cap bounds how often that can repeat.
            self.consecutive_failures = 0;
            self.last_failure_at = None;
        }
        self.check(policy, now)
    }

    /// Records a successful attempt that [`AccountThrottle::check`] allowed. It clears the
    /// consecutive failures but still counts toward the rolling cap, so that interleaving
    /// successes cannot buy unlimited guesses.
    pub fn on_success(&mut self, policy: &AccountThrottlePolicy, now: OffsetDateTime) {
        self.record_attempt(policy, now);
        self.consecutive_failures = 0;
        self.last_failure_at = None;
        self.locked_until = None;
    }

    /// The recorded attempts less than one window old at `now`, oldest first. The list is
    /// sorted, so this is a binary search rather than a scan.
    fn in_window(&self, policy: &AccountThrottlePolicy, now: OffsetDateTime) -> &[OffsetDateTime] {
        let cutoff = now.saturating_sub(policy.window);
        let first = self.recent_attempts.partition_point(|&at| at <= cutoff);
        self.recent_attempts.get(first..).unwrap_or_default()
    }

    fn record_attempt(&mut self, policy: &AccountThrottlePolicy, now: OffsetDateTime) {
        let cutoff = now.saturating_sub(policy.window);
        let expired = self.recent_attempts.partition_point(|&at| at <= cutoff);
        self.recent_attempts.drain(..expired);
        // Kept sorted even if a clock steps back, so "oldest" stays the first element.
        let position = self.recent_attempts.partition_point(|&at| at <= now);
        self.recent_attempts.insert(position, now);
        let cap = usize::try_from(policy.max_attempts_per_window).unwrap_or(usize::MAX);
        if self.recent_attempts.len() > cap {
            let excess = self.recent_attempts.len() - cap;
            self.recent_attempts.drain(..excess);
        }
    }
}

/// Per-address token bucket settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpBucketConfig {
    /// The burst an address may spend at once.
    pub capacity: u32,
    /// One token returns per this interval.
    pub refill_every: Duration,
}

impl Default for IpBucketConfig {
    /// A burst of 30 attempts, then one every 5 seconds (720 an hour): ample for people behind
    /// one shared address, slow for a list of stolen credentials.
    fn default() -> Self {
        Self { capacity: 30, refill_every: Duration::seconds(5) }
    }
}

impl IpBucketConfig {
    pub fn validate(&self) -> Result<(), ThrottleError> {
        if self.capacity == 0 {
            return Err(ThrottleError::InvalidPolicy(
                "the bucket needs a capacity of at least one",
            ));
        }
        if !self.refill_every.is_positive() {
            return Err(ThrottleError::InvalidPolicy("the refill interval must be positive"));
        }
        Ok(())
    }
}

/// One source address's bucket. Tokens are whole numbers; `updated_at` carries the partial
/// refill, so no fraction is lost between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpBucket {
    pub tokens: u32,
    pub updated_at: OffsetDateTime,
}

impl IpBucket {
    /// A full bucket, for an address not seen before.
    pub fn new(config: &IpBucketConfig, now: OffsetDateTime) -> Self {
        Self { tokens: config.capacity, updated_at: now }
    }

    /// The bucket as it stands at `now`, refilled for the time elapsed.
    fn refilled(&self, config: &IpBucketConfig, now: OffsetDateTime) -> Self {
        if self.tokens >= config.capacity || now <= self.updated_at {
            // Full, or a clock that stepped back: nothing to add, and a full bucket's
            // refill clock starts when it is next drained.
            let updated_at = if self.tokens >= config.capacity {
                now.max(self.updated_at)
            } else {
                self.updated_at
            };
            return Self { tokens: self.tokens.min(config.capacity), updated_at };
        }
        let elapsed = now - self.updated_at;
        let interval = config.refill_every.whole_nanoseconds().max(1);
        let elapsed_ns = elapsed.whole_nanoseconds();
        let earned = elapsed_ns / interval;
        let missing = i128::from(config.capacity - self.tokens);
        if earned >= missing {
            return Self { tokens: config.capacity, updated_at: now };
        }
        // The part of an interval already elapsed toward the next token stays pending.
        let pending = i64::try_from(elapsed_ns % interval).unwrap_or(0);
        Self {
            tokens: self.tokens + u32::try_from(earned).unwrap_or(0),
            updated_at: now.saturating_sub(Duration::nanoseconds(pending)),
        }
    }

    /// Whether an attempt from this address may go ahead now. Does not change the state.
    pub fn check(&self, config: &IpBucketConfig, now: OffsetDateTime) -> Decision {
        let current = self.refilled(config, now);
        if current.tokens > 0 {
            Decision::Allowed
        } else {
            Decision::Delay(current.updated_at.saturating_add(config.refill_every) - now)
        }
    }

    /// Takes a token for an attempt if one is there; otherwise leaves the bucket as it was and
    /// says how long until the next token.
    pub fn try_acquire(&mut self, config: &IpBucketConfig, now: OffsetDateTime) -> Decision {
        let current = self.refilled(config, now);
        if current.tokens == 0 {
            return Decision::Delay(current.updated_at.saturating_add(config.refill_every) - now);
        }
        *self = Self { tokens: current.tokens - 1, updated_at: current.updated_at };
        Decision::Allowed
    }
}
