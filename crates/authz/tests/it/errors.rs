//! Every kind of bad input is refused with its own error variant and a clear message.

use authz::{
    Catalogue, Condition, CustomAction, CustomPermissionSet, OrganizationPolicies, PolicyError,
    PrincipalRef, RawPolicy, Rule, Scope, TimeWindow, Weekday, compile,
};

use crate::common::*;

fn refuse(input: &OrganizationPolicies) -> PolicyError {
    match compile(input, &Catalogue::rampart()) {
        Ok(_) => panic!("compiled, expected an error"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_message(error: &PolicyError, parts: &[&str]) {
    let message = error.to_string();
    for part in parts {
        assert!(message.contains(part), "`{message}` lacks `{part}`");
    }
}

fn with_rule(r: Rule) -> OrganizationPolicies {
    let mut input = customer();
    input.policies.push(policy(100, PrincipalRef::User(id(ALICE)), vec![r]));
    input
}

fn with_condition(condition: Condition) -> OrganizationPolicies {
    let mut r = rule(&["IAMReadOnly"], Scope::Organization);
    r.condition = condition;
    with_rule(r)
}

fn custom_action(name: &str) -> CustomAction {
    CustomAction { name: name.into(), description: String::new(), privileged: false }
}

#[test]
fn unknown_permission_set() {
    let e = refuse(&with_rule(rule(&["IAMReadOnly", "Wizard"], Scope::Organization)));
    assert!(matches!(&e, PolicyError::UnknownPermissionSet { name, .. } if name == "Wizard"));
    assert_message(&e, &["unknown permission set `Wizard`", &format!("policy {} rule 0", id(100))]);
}

#[test]
fn unknown_action_in_a_custom_set() {
    let mut input = customer();
    input.custom_permission_sets.push(CustomPermissionSet {
        name: "Helpdesk".into(),
        description: String::new(),
        actions: vec!["iam:users:read".into(), "iam:users:fly".into()],
    });
    let e = refuse(&input);
    assert!(matches!(&e, PolicyError::UnknownAction { action, .. } if action == "iam:users:fly"));
    assert_message(&e, &["unknown action `iam:users:fly`", "permission set `Helpdesk`"]);
}

#[test]
fn custom_action_names_must_parse() {
    for bad in ["servers", "instances:servers", "Instances:servers:read", "a:b:c:d", "a:b:"] {
        let mut input = customer();
        input.custom_actions.push(custom_action(bad));
        let e = refuse(&input);
        assert!(
            matches!(&e, PolicyError::InvalidActionName { action, .. } if action == bad),
            "{e}"
        );
        assert_message(&e, &["invalid action name", bad]);
    }
}

#[test]
fn custom_actions_may_not_use_a_reserved_service() {
    for service in authz::RESERVED_SERVICES {
        let mut input = customer();
        let name = format!("{service}:things:read");
        input.custom_actions.push(custom_action(&name));
        let e = refuse(&input);
        assert!(
            matches!(&e, PolicyError::ReservedService { service: s, .. } if s == service),
            "{e}"
        );
        assert_message(&e, &["reserved service", service]);
    }
}

#[test]
fn custom_set_names_and_contents() {
    let set = |name: &str, actions: &[&str]| CustomPermissionSet {
        name: name.into(),
        description: String::new(),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
    };
    let mut input = customer();
    input.custom_permission_sets.push(set("IAMManager", &["iam:users:read"]));
    assert!(matches!(refuse(&input), PolicyError::Duplicate { what: "permission set", .. }));

    let mut input = customer();
    input.custom_permission_sets.push(set("Empty", &[]));
    assert!(matches!(refuse(&input), PolicyError::EmptyPermissionSet { .. }));

    let mut input = customer();
    input.custom_permission_sets.push(set("has space", &["iam:users:read"]));
    assert!(matches!(refuse(&input), PolicyError::InvalidPermissionSetName { .. }));

    let mut input = customer();
    input.custom_actions.push(custom_action("instances:servers:read"));
    input.custom_actions.push(custom_action("instances:servers:read"));
    assert!(matches!(refuse(&input), PolicyError::Duplicate { what: "action", .. }));
}

#[test]
fn scope_with_a_project_outside_the_organisation() {
    let e = refuse(&with_rule(rule(&["ProjectManager"], Scope::Projects(vec![id(P1), id(99)]))));
    assert!(
        matches!(&e, PolicyError::ProjectOutsideOrganization { project, .. } if *project == id(99))
    );
    assert_message(
        &e,
        &[&id(99).to_string(), "is not a project of organisation", &id(ORG).to_string()],
    );
}

#[test]
fn incomplete_policies() {
    let e = refuse(&with_rule(rule(&[], Scope::Organization)));
    assert!(matches!(&e, PolicyError::InvalidPolicy { .. }));
    assert_message(&e, &["at least one permission set"]);

    let e = refuse(&with_rule(rule(&["ProjectManager"], Scope::Projects(vec![]))));
    assert_message(&e, &["at least one project"]);

    let mut input = customer();
    input.policies.push(policy(100, PrincipalRef::User(id(ALICE)), vec![]));
    let e = refuse(&input);
    assert!(matches!(&e, PolicyError::InvalidPolicy { .. }));
    assert_message(&e, &["at least one rule"]);

    let mut input = customer();
    let r = rule(&["IAMReadOnly"], Scope::Organization);
    input.policies.push(policy(100, PrincipalRef::User(id(ALICE)), vec![r.clone()]));
    input.policies.push(policy(100, PrincipalRef::User(id(BOB)), vec![r]));
    assert!(matches!(refuse(&input), PolicyError::Duplicate { what: "policy", .. }));
}

#[test]
fn malformed_cidrs() {
    let cases = [
        ("10.0.0.0/33", "prefix"),
        ("10.0.0.1/8", "did you mean 10.0.0.0/8"),
        ("2001:db8::1/32", "did you mean 2001:db8:0:0:0:0:0:0/32"),
        ("10.0.0.0", "address/prefix"),
        ("banana/8", "address/prefix"),
        ("10.0.0.0/-1", "address/prefix"),
        ("", "address/prefix"),
    ];
    for (cidr, part) in cases {
        let e = refuse(&with_condition(Condition {
            source_ip: Some(vec!["192.0.2.0/24".into(), cidr.into()]),
            ..Condition::default()
        }));
        assert!(matches!(&e, PolicyError::InvalidCidr { cidr: c, .. } if c == cidr), "{e}");
        assert_message(&e, &["invalid CIDR", part]);
    }
    let e = refuse(&with_condition(Condition { source_ip: Some(vec![]), ..Condition::default() }));
    assert!(matches!(&e, PolicyError::InvalidCidr { .. }));
    assert_message(&e, &["empty"]);
}

#[test]
fn malformed_time_windows() {
    let window = |days: Vec<Weekday>, start_minute, end_minute| Condition {
        time_window: Some(TimeWindow { days, start_minute, end_minute }),
        ..Condition::default()
    };
    let cases = [
        (window(vec![Weekday::Monday], 600, 600), "not before end minute"),
        (window(vec![Weekday::Monday], 700, 600), "start minute 700 is not before end minute 600"),
        (window(vec![Weekday::Monday], 1440, 1441), "start minute 1440"),
        (window(vec![Weekday::Monday], 0, 1441), "end minute 1441"),
        (window(vec![], 0, 60), "no day"),
    ];
    for (condition, part) in cases {
        let e = refuse(&with_condition(condition));
        assert!(matches!(&e, PolicyError::InvalidTimeWindow { .. }), "{e}");
        assert_message(&e, &["invalid time window", part]);
    }
}

#[test]
fn bad_user_agent_patterns_and_ages() {
    for (pattern, part) in [("", "empty"), ("a\nb", "control"), (&*"x".repeat(513), "longer")] {
        let e = refuse(&with_condition(Condition {
            user_agent: Some(pattern.to_owned()),
            ..Condition::default()
        }));
        assert!(matches!(&e, PolicyError::InvalidUserAgentPattern { .. }), "{e}");
        assert_message(&e, &[part]);
    }
    let e = refuse(&with_condition(Condition {
        max_auth_age_seconds: Some(0),
        ..Condition::default()
    }));
    assert!(matches!(&e, PolicyError::InvalidMaxAuthAge { .. }));
}

fn with_raw(text: &str) -> OrganizationPolicies {
    let mut input = customer();
    input.raw_policies.push(RawPolicy { id: id(900), text: text.into() });
    input
}

#[test]
fn raw_cedar_that_does_not_parse() {
    let cases = [
        "permit (principal, action, resource",
        "permit (principal == ?principal, action, resource);",
        "permit (principal, action, resource); forbid (principal, action, resource);",
        "",
        "allow everything",
    ];
    for text in cases {
        let e = refuse(&with_raw(text));
        assert!(
            matches!(&e, PolicyError::CedarParse { id: i, .. } if *i == id(900)),
            "{text}: {e}"
        );
        assert_message(&e, &["does not parse", &id(900).to_string()]);
    }
}

#[test]
fn raw_cedar_that_fails_strict_validation() {
    let cases = [
        // Not in the schema's namespace.
        (r#"permit (principal == User::"a", action, resource);"#, "User"),
        // Unknown action.
        (
            r#"permit (principal, action == Rampart::Action::"iam:users:fly", resource);"#,
            "iam:users:fly",
        ),
        // Optional attribute read without `has`.
        (
            r#"permit (principal, action, resource) when { context.source_ip.isIpv4() };"#,
            "source_ip",
        ),
        // Unknown attribute.
        (r#"permit (principal, action, resource) when { context.country == "FR" };"#, "country"),
        // Type error.
        (r#"permit (principal, action, resource) when { context.mfa == 1 };"#, ""),
        // An attribute that only users have, without testing the type.
        (r#"permit (principal, action, resource) when { principal.role == "owner" };"#, "role"),
    ];
    for (text, part) in cases {
        let e = refuse(&with_raw(text));
        assert!(
            matches!(&e, PolicyError::CedarValidation { id: i, .. } if *i == id(900)),
            "{text}: {e}"
        );
        assert_message(&e, &["fails validation", part]);
    }
}

#[test]
fn raw_cedar_may_name_custom_actions() {
    let mut input = with_raw(
        r#"permit (principal, action == Rampart::Action::"instances:servers:read", resource);"#,
    );
    input.custom_actions.push(custom_action("instances:servers:read"));
    build(&input);
}

#[test]
fn duplicate_raw_ids() {
    let mut input = with_raw("permit (principal, action, resource);");
    input.raw_policies.push(input.raw_policies[0].clone());
    assert!(matches!(refuse(&input), PolicyError::Duplicate { what: "raw policy", .. }));
}

#[test]
fn owners_keep_control_of_iam() {
    let alice = owner(id(ALICE), id(ORG));
    let bob = member(PrincipalRef::User(id(BOB)), id(ORG), &[]);

    let compiled = build(&customer());
    compiled.owners_can_manage_iam(std::slice::from_ref(&alice)).unwrap();
    let e = compiled.owners_can_manage_iam(&[]).unwrap_err();
    assert_eq!(e, PolicyError::NoOwnerCanManageIam { organization: id(ORG) });
    assert_message(&e, &["iam:policies:write", "no owner"]);
    // A member with the role member is not an owner, whatever its policies.
    assert!(compiled.owners_can_manage_iam(std::slice::from_ref(&bob)).is_err());
    // An owner of another organisation is not one of ours.
    assert!(compiled.owners_can_manage_iam(&[owner(id(ALICE), id(600))]).is_err());

    let locked = build(&with_raw(
        r#"forbid (principal, action == Rampart::Action::"iam:policies:write", resource);"#,
    ));
    assert!(locked.owners_can_manage_iam(std::slice::from_ref(&alice)).is_err());

    // Forbidding one owner leaves the other.
    let one_out = build(&with_raw(&format!(
        r#"forbid (principal == Rampart::User::"{}", action, resource);"#,
        id(ALICE)
    )));
    assert!(one_out.owners_can_manage_iam(std::slice::from_ref(&alice)).is_err());
    one_out.owners_can_manage_iam(&[alice.clone(), owner(id(CAROL), id(ORG))]).unwrap();

    // A forbid outside office hours still leaves office hours.
    let nights = build(&with_raw(
        r#"forbid (principal, action, resource) unless { context.minute_of_day >= 540 && context.minute_of_day < 1020 };"#,
    ));
    nights.owners_can_manage_iam(std::slice::from_ref(&alice)).unwrap();

    // A forbid without MFA does not lock out (owners can pass a second factor).
    let mfa = build(&with_raw(r#"forbid (principal, action, resource) unless { context.mfa };"#));
    mfa.owners_can_manage_iam(&[alice]).unwrap();
}

#[test]
fn json_rejects_unknown_fields() {
    let good = serde_json::json!({
        "organization": {"id": id(ORG), "kind": "customer"},
        "projects": [id(P1)],
        "policies": [{
            "id": id(100),
            "principal": {"type": "group", "id": id(GROUP)},
            "rules": [{
                "permission_sets": ["ProjectManager"],
                "scope": {"projects": [id(P1)]},
                "condition": {
                    "source_ip": ["10.0.0.0/8"],
                    "time_window": {"days": ["monday", "friday"], "start_minute": 480, "end_minute": 1080},
                    "user_agent": "Mozilla/*",
                    "mfa": true,
                    "max_auth_age_seconds": 900
                }
            }, {
                "permission_sets": ["IAMReadOnly"],
                "scope": "organization"
            }]
        }],
        "raw_policies": [{"id": id(900), "text": "forbid (principal, action, resource) unless { context.mfa };"}]
    });
    let parsed: OrganizationPolicies = serde_json::from_value(good.clone()).unwrap();
    build(&parsed);
    let back = serde_json::to_value(&parsed).unwrap();
    let again: OrganizationPolicies = serde_json::from_value(back).unwrap();
    assert_eq!(again, parsed);

    let mut bad = good.clone();
    bad["policies"][0]["rules"][0]["condition"]["mfa_required"] = true.into();
    let e = serde_json::from_value::<OrganizationPolicies>(bad).unwrap_err();
    assert!(e.to_string().contains("mfa_required"), "{e}");
    let mut bad = good;
    bad["policies"][0]["effect"] = "allow".into();
    assert!(serde_json::from_value::<OrganizationPolicies>(bad).is_err());
}
