use iam::session::{SessionError, SessionPolicy, SessionTimes};
use time::Duration;

use crate::support::T0;

const NS: Duration = Duration::nanoseconds(1);

#[test]
fn defaults_are_thirty_minutes_twelve_hours_and_ten_minutes() {
    let policy = SessionPolicy::default();
    assert_eq!(policy.idle_timeout, Duration::minutes(30));
    assert_eq!(policy.absolute_lifetime, Duration::hours(12));
    assert_eq!(policy.step_up_window, Duration::minutes(10));
    assert!(policy.validate().is_ok());
}

#[test]
fn an_idle_session_ends_exactly_at_the_timeout() {
    let policy = SessionPolicy::default();
    let session = SessionTimes::new(T0, false);
    assert!(session.is_valid(&policy, T0));
    assert!(session.is_valid(&policy, T0 + Duration::minutes(30) - NS));
    assert!(!session.is_valid(&policy, T0 + Duration::minutes(30)));
    assert_eq!(session.check(&policy, T0 + Duration::minutes(30)), Err(SessionError::IdleTimeout));
    assert_eq!(session.expires_at(&policy), T0 + Duration::minutes(30));
}

#[test]
fn activity_extends_the_idle_deadline() {
    let policy = SessionPolicy::default();
    let mut session = SessionTimes::new(T0, false);
    let seen = T0 + Duration::minutes(20);
    session.touch(&policy, seen).unwrap();
    assert_eq!(session.last_seen_at, seen);
    assert!(session.is_valid(&policy, seen + Duration::minutes(30) - NS));
    assert_eq!(
        session.check(&policy, seen + Duration::minutes(30)),
        Err(SessionError::IdleTimeout)
    );
    // A late request with an earlier timestamp does not move the deadline back.
    session.touch(&policy, T0 + Duration::minutes(5)).unwrap();
    assert_eq!(session.last_seen_at, seen);
}

#[test]
fn no_activity_extends_the_absolute_lifetime() {
    let policy = SessionPolicy::default();
    let mut session = SessionTimes::new(T0, true);
    let mut now = T0;
    while now + Duration::minutes(20) < T0 + Duration::hours(12) {
        now += Duration::minutes(20);
        session.touch(&policy, now).unwrap();
    }
    let end = T0 + Duration::hours(12);
    assert_eq!(session.expires_at(&policy), end);
    assert!(session.is_valid(&policy, end - NS));
    assert_eq!(session.check(&policy, end), Err(SessionError::LifetimeExceeded));
    assert_eq!(session.touch(&policy, end), Err(SessionError::LifetimeExceeded));
}

#[test]
fn an_ended_session_stays_ended() {
    let policy = SessionPolicy::default();
    let mut session = SessionTimes::new(T0, false);
    let late = T0 + Duration::minutes(31);
    assert_eq!(session.touch(&policy, late), Err(SessionError::IdleTimeout));
    assert_eq!(session.last_seen_at, T0);
    assert!(!session.is_valid(&policy, late));
}

#[test]
fn step_up_needs_a_recent_password_exactly_within_the_window() {
    let policy = SessionPolicy::default();
    let session = SessionTimes::new(T0, false);
    assert!(session.is_recent_enough_for_step_up(&policy, T0, false));
    assert!(session.is_recent_enough_for_step_up(&policy, T0 + Duration::minutes(10) - NS, false));
    assert!(!session.is_recent_enough_for_step_up(&policy, T0 + Duration::minutes(10), false));
}

#[test]
fn step_up_requiring_mfa_needs_a_recent_second_factor() {
    let policy = SessionPolicy::default();
    let mut session = SessionTimes::new(T0, false);
    assert!(!session.is_recent_enough_for_step_up(&policy, T0, true));
    let later = T0 + Duration::minutes(25);
    session.reauthenticate(&policy, later, true).unwrap();
    assert_eq!(session.mfa_at, Some(later));
    assert_eq!(session.authenticated_at, later);
    assert!(session.is_recent_enough_for_step_up(
        &policy,
        later + Duration::minutes(10) - NS,
        true
    ));
    assert!(!session.is_recent_enough_for_step_up(&policy, later + Duration::minutes(10), true));

    // A password-only re-authentication refreshes the password, not the second factor.
    let mut mfa_session = SessionTimes::new(T0, true);
    let reauth = T0 + Duration::minutes(15);
    mfa_session.reauthenticate(&policy, reauth, false).unwrap();
    assert!(mfa_session.is_recent_enough_for_step_up(&policy, reauth, false));
    assert!(!mfa_session.is_recent_enough_for_step_up(&policy, reauth, true));
}

#[test]
fn step_up_is_refused_on_an_ended_session() {
    let policy = SessionPolicy { idle_timeout: Duration::minutes(5), ..SessionPolicy::default() };
    let session = SessionTimes::new(T0, true);
    assert!(session.is_recent_enough_for_step_up(&policy, T0 + Duration::minutes(5) - NS, true));
    assert!(!session.is_recent_enough_for_step_up(&policy, T0 + Duration::minutes(5), true));
}

#[test]
fn reauthentication_does_not_revive_an_ended_session() {
    let policy = SessionPolicy::default();
    let mut session = SessionTimes::new(T0, false);
    let late = T0 + Duration::hours(1);
    assert_eq!(session.reauthenticate(&policy, late, true), Err(SessionError::IdleTimeout));
    assert_eq!(session.mfa_at, None);
}

#[test]
fn policies_are_validated() {
    let base = SessionPolicy::default();
    for bad in [
        SessionPolicy { idle_timeout: Duration::ZERO, ..base },
        SessionPolicy { step_up_window: Duration::seconds(-1), ..base },
        SessionPolicy { idle_timeout: Duration::hours(13), ..base },
    ] {
        assert!(matches!(bad.validate(), Err(SessionError::InvalidPolicy(_))), "{bad:?}");
    }
}

#[test]
fn session_times_round_trip_through_json() {
    let mut session = SessionTimes::new(T0, true);
    session.touch(&SessionPolicy::default(), T0 + Duration::minutes(3)).unwrap();
    let json = serde_json::to_string(&session).unwrap();
    assert_eq!(serde_json::from_str::<SessionTimes>(&json).unwrap(), session);
}
