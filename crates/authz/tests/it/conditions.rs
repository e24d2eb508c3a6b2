//! Each condition kind: the allowed side, the refused side, and a missing context attribute
//! (refused, never an error that lets the request through).

use std::net::IpAddr;

use authz::{
    CompiledOrganization, Condition, Context, PrincipalFacts, PrincipalRef, RawPolicy, Scope,
    TimeWindow, Weekday,
};
use time::Duration;
use time::macros::datetime;

use crate::common::*;

fn with_condition(condition: Condition) -> (CompiledOrganization, PrincipalFacts) {
    let mut input = customer();
    let mut r = rule(&["IAMReadOnly"], Scope::Organization);
    r.condition = condition;
    input.policies.push(policy(100, PrincipalRef::User(id(ALICE)), vec![r]));
    (build(&input), member(PrincipalRef::User(id(ALICE)), id(ORG), &[]))
}

#[track_caller]
fn check(compiled: &CompiledOrganization, who: &PrincipalFacts, context: &Context, allowed: bool) {
    let d = ask(compiled, who, "iam:users:read", &org_resource(), context);
    if allowed {
        assert_allowed(&d, &[&rule_id(100, 0)]);
    } else {
        assert_denied(&d, &[]);
    }
}

fn from(ip: &str) -> Context {
    Context { source_ip: Some(ip.parse::<IpAddr>().unwrap()), ..ctx() }
}

#[test]
fn source_ip_ranges_v4_and_v6() {
    let (compiled, alice) = with_condition(Condition {
        source_ip: Some(vec!["10.0.0.0/8".into(), "2001:db8::/32".into()]),
        ..Condition::default()
    });
    for ip in ["10.1.2.3", "10.255.255.255", "2001:db8::1", "2001:db8:ffff::7", "::ffff:10.9.8.7"] {
        check(&compiled, &alice, &from(ip), true);
    }
    for ip in ["11.0.0.1", "192.168.1.1", "2001:db9::1", "::1", "::ffff:11.0.0.1"] {
        check(&compiled, &alice, &from(ip), false);
    }
    check(&compiled, &alice, &ctx(), false);
}

#[test]
fn source_ip_single_host_and_mapped_range() {
    let (compiled, alice) = with_condition(Condition {
        source_ip: Some(vec!["192.0.2.7/32".into(), "::ffff:0:0/96".into()]),
        ..Condition::default()
    });
    check(&compiled, &alice, &from("192.0.2.7"), true);
    check(&compiled, &alice, &from("192.0.2.8"), false);
}

fn office_hours() -> Condition {
    Condition {
        time_window: Some(TimeWindow {
            days: vec![
                Weekday::Friday,
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Monday,
            ],
            start_minute: 9 * 60,
            end_minute: 17 * 60,
        }),
        ..Condition::default()
    }
}

#[test]
fn time_window_days_and_minutes() {
    let (compiled, alice) = with_condition(office_hours());
    let at = |now| Context::at(now);
    // Wednesday 10:00, 09:00 (first minute) and 16:59 (last one).
    check(&compiled, &alice, &at(datetime!(2024-01-03 10:00 UTC)), true);
    check(&compiled, &alice, &at(datetime!(2024-01-03 09:00 UTC)), true);
    check(&compiled, &alice, &at(datetime!(2024-01-03 16:59:59 UTC)), true);
    check(&compiled, &alice, &at(datetime!(2024-01-01 12:00 UTC)), true);
    check(&compiled, &alice, &at(datetime!(2024-01-05 12:00 UTC)), true);
    // The end minute is excluded; before the start; the weekend.
    check(&compiled, &alice, &at(datetime!(2024-01-03 17:00 UTC)), false);
    check(&compiled, &alice, &at(datetime!(2024-01-03 08:59 UTC)), false);
    check(&compiled, &alice, &at(datetime!(2024-01-06 10:00 UTC)), false);
    check(&compiled, &alice, &at(datetime!(2024-01-07 10:00 UTC)), false);
}

#[test]
fn time_window_is_evaluated_in_utc() {
    let (compiled, alice) = with_condition(office_hours());
    // 12:00 in Moscow is 09:00 UTC; 08:00 in New York on Saturday is 13:00 UTC Saturday.
    check(&compiled, &alice, &Context::at(datetime!(2024-01-03 12:00 +3)), true);
    check(&compiled, &alice, &Context::at(datetime!(2024-01-03 11:59 +3)), false);
    check(&compiled, &alice, &Context::at(datetime!(2024-01-06 08:00 -5)), false);
    // Friday 23:00 in New York is Saturday 04:00 UTC.
    check(&compiled, &alice, &Context::at(datetime!(2024-01-05 23:00 -5)), false);
}

#[test]
fn time_window_up_to_midnight() {
    let (compiled, alice) = with_condition(Condition {
        time_window: Some(TimeWindow {
            days: vec![Weekday::Sunday],
            start_minute: 1380,
            end_minute: 1440,
        }),
        ..Condition::default()
    });
    check(&compiled, &alice, &Context::at(datetime!(2024-01-07 23:59 UTC)), true);
    check(&compiled, &alice, &Context::at(datetime!(2024-01-08 00:00 UTC)), false);
}

fn agent(ua: &str) -> Context {
    Context { user_agent: Some(ua.to_owned()), ..ctx() }
}

#[test]
fn user_agent_glob() {
    let (compiled, alice) = with_condition(Condition {
        user_agent: Some("Mozilla/5.0 (*) Firefox/*".into()),
        ..Condition::default()
    });
    check(&compiled, &alice, &agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"), true);
    check(&compiled, &alice, &agent("Mozilla/5.0 () Firefox/"), true);
    check(&compiled, &alice, &agent("Mozilla/5.0 (X11) Chrome/1"), false);
    check(&compiled, &alice, &agent("curl/8.5.0"), false);
    check(&compiled, &alice, &agent(""), false);
    check(&compiled, &alice, &ctx(), false);
}

#[test]
fn user_agent_pattern_with_quotes_and_backslashes_is_literal() {
    let (compiled, alice) = with_condition(Condition {
        user_agent: Some(r#"tool "x" \ v*"#.into()),
        ..Condition::default()
    });
    check(&compiled, &alice, &agent(r#"tool "x" \ v2"#), true);
    check(&compiled, &alice, &agent(r#"tool "x" v2"#), false);
    check(&compiled, &alice, &agent(r#"tool x \ v2"#), false);
}

#[test]
fn mfa() {
    let (compiled, alice) = with_condition(Condition { mfa: true, ..Condition::default() });
    check(&compiled, &alice, &Context { mfa: true, ..ctx() }, true);
    check(&compiled, &alice, &ctx(), false);
}

#[test]
fn maximum_authentication_age() {
    let (compiled, alice) =
        with_condition(Condition { max_auth_age_seconds: Some(300), ..Condition::default() });
    let authenticated =
        |ago: i64| Context { authenticated_at: Some(NOW - Duration::seconds(ago)), ..ctx() };
    check(&compiled, &alice, &authenticated(0), true);
    check(&compiled, &alice, &authenticated(300), true);
    check(&compiled, &alice, &authenticated(301), false);
    check(&compiled, &alice, &authenticated(86_400), false);
    // Slightly in the future (another replica's clock) counts as now.
    check(&compiled, &alice, &authenticated(-2), true);
    check(&compiled, &alice, &ctx(), false);
}

#[test]
fn every_condition_must_hold() {
    let (compiled, alice) = with_condition(Condition {
        source_ip: Some(vec!["10.0.0.0/8".into()]),
        time_window: office_hours().time_window,
        user_agent: Some("rampart-cli/*".into()),
        mfa: true,
        max_auth_age_seconds: Some(3600),
    });
    let all = Context {
        source_ip: Some("10.0.0.1".parse().unwrap()),
        now: NOW,
        user_agent: Some("rampart-cli/1.0".into()),
        mfa: true,
        authenticated_at: Some(NOW - Duration::minutes(5)),
    };
    check(&compiled, &alice, &all, true);
    let variants = [
        Context { source_ip: Some("11.0.0.1".parse().unwrap()), ..all.clone() },
        Context { source_ip: None, ..all.clone() },
        Context {
            now: datetime!(2024-01-06 10:00 UTC),
            authenticated_at: Some(datetime!(2024-01-06 09:59 UTC)),
            ..all.clone()
        },
        Context { user_agent: Some("curl/8".into()), ..all.clone() },
        Context { user_agent: None, ..all.clone() },
        Context { mfa: false, ..all.clone() },
        Context { authenticated_at: Some(NOW - Duration::hours(2)), ..all.clone() },
        Context { authenticated_at: None, ..all.clone() },
    ];
    for context in &variants {
        check(&compiled, &alice, context, false);
    }
}

#[test]
fn raw_policy_conditions_on_missing_attributes_need_has() {
    // Strict validation forces raw policies to test optional attributes with `has`, so a
    // missing attribute makes the condition false rather than an evaluation error.
    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::User(id(ALICE)),
        vec![rule(&["IAMReadOnly"], Scope::Organization)],
    ));
    input.raw_policies.push(RawPolicy {
        id: id(900),
        text: r#"forbid (principal, action, resource)
                 when { context has source_ip && context.source_ip.isInRange(ip("203.0.113.0/24")) };"#
            .into(),
    });
    let compiled = build(&input);
    let alice = member(PrincipalRef::User(id(ALICE)), id(ORG), &[]);
    check(&compiled, &alice, &ctx(), true);
    check(&compiled, &alice, &from("198.51.100.1"), true);
    let d = ask(&compiled, &alice, "iam:users:read", &org_resource(), &from("203.0.113.9"));
    assert_denied(&d, &[&format!("raw:{}", id(900))]);
}
