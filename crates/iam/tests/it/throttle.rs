use iam::throttle::{
    AccountThrottle, AccountThrottlePolicy, Decision, IpBucket, IpBucketConfig, ThrottleError,
};
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

use crate::support::T0;

const NS: Duration = Duration::nanoseconds(1);

/// No delays and no lock: only the rolling cap limits attempts.
fn cap_only() -> AccountThrottlePolicy {
    AccountThrottlePolicy {
        free_failures: u32::MAX,
        lock_after: u32::MAX,
        ..AccountThrottlePolicy::default()
    }
}

#[test]
fn default_policy_is_ten_failures_fifteen_minutes_and_100_an_hour() {
    let policy = AccountThrottlePolicy::default();
    assert_eq!(policy.lock_after, 10);
    assert_eq!(policy.lock_duration, Duration::minutes(15));
    assert_eq!(policy.max_attempts_per_window, 100);
    assert_eq!(policy.window, Duration::HOUR);
    assert!(policy.validate().is_ok());
}

#[test]
fn delays_grow_then_the_tenth_failure_locks() {
    let policy = AccountThrottlePolicy::default();
    let mut account = AccountThrottle::new();
    let mut now = T0;
    // Three free failures, then 1, 2, 4, 8, 16 seconds, then the 30-second ceiling.
    let expected = [0, 0, 0, 1, 2, 4, 8, 16, 30];
    for (index, seconds) in expected.into_iter().enumerate() {
        assert_eq!(account.check(&policy, now), Decision::Allowed, "attempt {}", index + 1);
        let decision = account.on_failure(&policy, now);
        if seconds == 0 {
            assert_eq!(decision, Decision::Allowed, "after failure {}", index + 1);
        } else {
            let delay = Duration::seconds(seconds);
            assert_eq!(decision, Decision::Delay(delay), "after failure {}", index + 1);
            assert_eq!(account.check(&policy, now + delay - NS), Decision::Delay(NS));
            now += delay;
        }
    }
    assert_eq!(account.consecutive_failures, 9);
    let until = now + Duration::minutes(15);
    assert_eq!(account.on_failure(&policy, now), Decision::Locked(until));
    assert_eq!(account.check(&policy, until - NS), Decision::Locked(until));
    assert_eq!(account.check(&policy, until), Decision::Allowed);
    // After the lock, the count starts again.
    assert_eq!(account.on_failure(&policy, until), Decision::Allowed);
}

#[test]
fn success_clears_the_consecutive_failures() {
    let policy = AccountThrottlePolicy::default();
    let mut account = AccountThrottle::new();
    for _ in 0..5 {
        let _ = account.on_failure(&policy, T0);
    }
    assert!(matches!(account.check(&policy, T0), Decision::Delay(_)));
    let later = T0 + Duration::minutes(1);
    account.on_success(&policy, later);
    assert_eq!(account.consecutive_failures, 0);
    assert_eq!(account.check(&policy, later), Decision::Allowed);
    assert_eq!(account.on_failure(&policy, later), Decision::Allowed);
}

#[test]
fn the_rolling_cap_admits_100_then_waits_for_the_oldest_to_leave_the_hour() {
    let policy = cap_only();
    let mut account = AccountThrottle::new();
    for second in 0..100 {
        let now = T0 + Duration::seconds(second);
        assert_eq!(account.check(&policy, now), Decision::Allowed, "attempt {second}");
        // Successes count too, or interleaving them would buy unlimited guesses.
        if second % 2 == 0 {
            let _ = account.on_failure(&policy, now);
        } else {
            account.on_success(&policy, now);
        }
    }
    let release = T0 + Duration::HOUR;
    assert_eq!(account.check(&policy, T0 + Duration::seconds(100)), Decision::Locked(release));
    assert_eq!(account.check(&policy, release - NS), Decision::Locked(release));
    assert_eq!(account.check(&policy, release), Decision::Allowed);
    let _ = account.on_failure(&policy, release);
    // The second-oldest leaves one second later.
    assert_eq!(account.check(&policy, release), Decision::Locked(release + Duration::seconds(1)));
    assert!(account.recent_attempts.len() <= 100);
}

#[test]
fn policies_outside_the_standard_are_refused() {
    let base = AccountThrottlePolicy::default();
    for bad in [
        AccountThrottlePolicy { max_attempts_per_window: 101, ..base },
        AccountThrottlePolicy { max_attempts_per_window: 0, ..base },
        AccountThrottlePolicy { lock_after: 0, ..base },
        AccountThrottlePolicy { window: Duration::ZERO, ..base },
        AccountThrottlePolicy { max_delay: Duration::ZERO, ..base },
    ] {
        assert!(matches!(bad.validate(), Err(ThrottleError::InvalidPolicy(_))), "{bad:?}");
    }
}

#[test]
fn account_state_round_trips_through_json() {
    let policy = AccountThrottlePolicy::default();
    let mut account = AccountThrottle::new();
    for _ in 0..10 {
        let _ = account.on_failure(&policy, T0);
    }
    let json = serde_json::to_string(&account).unwrap();
    let back: AccountThrottle = serde_json::from_str(&json).unwrap();
    assert_eq!(back, account);
    assert_eq!(back.check(&policy, T0), Decision::Locked(T0 + Duration::minutes(15)));
}

#[test]
fn an_address_spends_its_burst_then_one_token_per_interval() {
    let config = IpBucketConfig::default();
    assert_eq!((config.capacity, config.refill_every), (30, Duration::seconds(5)));
    let mut bucket = IpBucket::new(&config, T0);
    for attempt in 0..30 {
        assert_eq!(bucket.try_acquire(&config, T0), Decision::Allowed, "attempt {attempt}");
    }
    assert_eq!(bucket.check(&config, T0), Decision::Delay(Duration::seconds(5)));
    assert_eq!(bucket.try_acquire(&config, T0), Decision::Delay(Duration::seconds(5)));
    // Two seconds in: still three to wait. At 7 s one token is back and 2 s count toward the next.
    assert_eq!(
        bucket.try_acquire(&config, T0 + Duration::seconds(2)),
        Decision::Delay(Duration::seconds(3))
    );
    assert_eq!(bucket.try_acquire(&config, T0 + Duration::seconds(7)), Decision::Allowed);
    assert_eq!(
        bucket.try_acquire(&config, T0 + Duration::seconds(7)),
        Decision::Delay(Duration::seconds(3))
    );
    assert_eq!(bucket.try_acquire(&config, T0 + Duration::seconds(10)), Decision::Allowed);
    // A long pause refills to capacity and no further.
    let later = T0 + Duration::hours(5);
    for _ in 0..30 {
        assert_eq!(bucket.try_acquire(&config, later), Decision::Allowed);
    }
    assert!(matches!(bucket.try_acquire(&config, later), Decision::Delay(_)));
}

#[test]
fn a_clock_stepping_back_neither_panics_nor_refills() {
    let config = IpBucketConfig { capacity: 2, refill_every: Duration::seconds(10) };
    let mut bucket = IpBucket::new(&config, T0);
    assert!(bucket.try_acquire(&config, T0).is_allowed());
    assert!(bucket.try_acquire(&config, T0).is_allowed());
    assert!(!bucket.try_acquire(&config, T0 - Duration::hours(1)).is_allowed());
    let policy = AccountThrottlePolicy::default();
    let mut account = AccountThrottle::new();
    let _ = account.on_failure(&policy, T0);
    let _ = account.on_failure(&policy, T0 - Duration::hours(2));
    let _ = account.check(&policy, T0 - Duration::hours(3));
}

#[test]
fn bucket_configs_are_validated() {
    assert!(IpBucketConfig { capacity: 0, ..IpBucketConfig::default() }.validate().is_err());
    assert!(
        IpBucketConfig { refill_every: Duration::ZERO, ..IpBucketConfig::default() }
            .validate()
            .is_err()
    );
    assert!(IpBucketConfig::default().validate().is_ok());
}

/// One step of a login sequence: how long after the previous attempt, and its outcome.
fn steps(max_gap_ms: i64) -> impl Strategy<Value = Vec<(i64, bool)>> {
    proptest::collection::vec((0..max_gap_ms, any::<bool>()), 1..600)
}

/// Plays a sequence against an account and returns the instants of the admitted attempts.
fn play(policy: &AccountThrottlePolicy, steps: &[(i64, bool)]) -> Vec<OffsetDateTime> {
    let mut account = AccountThrottle::new();
    let mut now = T0;
    let mut admitted = Vec::new();
    for &(gap_ms, succeeds) in steps {
        now += Duration::milliseconds(gap_ms);
        if account.check(policy, now).is_allowed() {
            admitted.push(now);
            if succeeds {
                account.on_success(policy, now);
            } else {
                let _ = account.on_failure(policy, now);
            }
        }
    }
    admitted
}

fn assert_at_most_100_per_rolling_hour(admitted: &[OffsetDateTime]) -> Result<(), TestCaseError> {
    // Sorted by construction; the 101st attempt after any attempt must be an hour or more later.
    for pair in admitted.windows(101) {
        prop_assert!(
            pair[100] - pair[0] >= Duration::HOUR,
            "101 attempts within {}",
            pair[100] - pair[0]
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn never_more_than_100_admitted_attempts_per_rolling_hour(
        steps in steps(60_000),
        cap_only_policy in any::<bool>(),
    ) {
        let policy = if cap_only_policy { cap_only() } else { AccountThrottlePolicy::default() };
        assert_at_most_100_per_rolling_hour(&play(&policy, &steps))?;
    }

    #[test]
    fn never_more_than_100_even_from_a_fast_mostly_successful_client(
        steps in proptest::collection::vec((0_i64..20_000, prop::bool::weighted(0.9)), 100..600),
    ) {
        assert_at_most_100_per_rolling_hour(&play(&AccountThrottlePolicy::default(), &steps))?;
        assert_at_most_100_per_rolling_hour(&play(&cap_only(), &steps))?;
    }

    #[test]
    fn a_lock_ends_exactly_at_its_time(
        start_offset in 0_i64..10_000_000,
        lock_seconds in 1_i64..100_000,
        lock_after in 1_u32..20,
    ) {
        let policy = AccountThrottlePolicy {
            free_failures: u32::MAX,
            lock_after,
            lock_duration: Duration::seconds(lock_seconds),
            ..AccountThrottlePolicy::default()
        };
        let mut account = AccountThrottle::new();
        let at = T0 + Duration::seconds(start_offset);
        let mut last = Decision::Allowed;
        for _ in 0..lock_after {
            prop_assert!(account.check(&policy, at).is_allowed());
            last = account.on_failure(&policy, at);
        }
        let until = at + Duration::seconds(lock_seconds);
        prop_assert_eq!(last, Decision::Locked(until));
        prop_assert_eq!(account.locked_until, Some(until));
        prop_assert_eq!(account.check(&policy, until - NS), Decision::Locked(until));
        prop_assert_eq!(account.check(&policy, until), Decision::Allowed);
    }

    #[test]
    fn a_bucket_never_admits_more_than_its_burst_plus_refills(
        steps in proptest::collection::vec(0_i64..20_000, 1..400),
        capacity in 1_u32..50,
        refill_ms in 1_i64..10_000,
    ) {
        let config = IpBucketConfig { capacity, refill_every: Duration::milliseconds(refill_ms) };
        let mut bucket = IpBucket::new(&config, T0);
        let mut now = T0;
        let mut admitted = 0_i128;
        for gap in steps {
            now += Duration::milliseconds(gap);
            if bucket.try_acquire(&config, now).is_allowed() {
                admitted += 1;
            }
            let refills = (now - T0).whole_milliseconds() / i128::from(refill_ms);
            prop_assert!(admitted <= i128::from(capacity) + refills);
            prop_assert!(bucket.tokens <= capacity);
        }
    }
}
