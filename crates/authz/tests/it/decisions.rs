//! The decision matrix: direct, group and application grants; organisation and project scope;
//! raw permits and forbids; the owner and staff built-ins; refusals before evaluation.

use authz::{
    CustomAction, CustomPermissionSet, OrganizationKind, PrincipalFacts, PrincipalRef, RawPolicy,
    ResourceRef, Role, Scope,
};

use crate::common::*;

#[test]
fn deny_by_default() {
    let compiled = build(&customer());
    let alice = member(PrincipalRef::User(id(ALICE)), id(ORG), &[]);
    let d = ask(&compiled, &alice, "iam:users:read", &org_resource(), &ctx());
    assert_denied(&d, &[]);
}

#[test]
fn user_direct_grant_on_the_organisation() {
    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::User(id(ALICE)),
        vec![rule(&["IAMReadOnly"], Scope::Organization)],
    ));
    let compiled = build(&input);
    let alice = member(PrincipalRef::User(id(ALICE)), id(ORG), &[]);
    let d = ask(&compiled, &alice, "iam:users:read", &org_resource(), &ctx());
    assert_allowed(&d, &[&rule_id(100, 0)]);
    // Organisation scope covers the projects and objects inside them too.
    let d = ask(&compiled, &alice, "iam:users:read", &project(P1), &ctx());
    assert_allowed(&d, &[&rule_id(100, 0)]);
    // Only the set's actions.
    let d = ask(&compiled, &alice, "iam:users:write", &org_resource(), &ctx());
    assert_denied(&d, &[]);
    // Not somebody else.
    let bob = member(PrincipalRef::User(id(BOB)), id(ORG), &[]);
    let d = ask(&compiled, &bob, "iam:users:read", &org_resource(), &ctx());
    assert_denied(&d, &[]);
}

#[test]
fn grant_through_a_group() {
    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::Group(id(GROUP)),
        vec![rule(&["AuditTrailReadOnly"], Scope::Organization)],
    ));
    let compiled = build(&input);
    let in_group = member(PrincipalRef::User(id(BOB)), id(ORG), &[id(GROUP)]);
    let d = ask(&compiled, &in_group, "audit:events:read", &org_resource(), &ctx());
    assert_allowed(&d, &[&rule_id(100, 0)]);

    let elsewhere = member(PrincipalRef::User(id(BOB)), id(ORG), &[id(OTHER_GROUP)]);
    let d = ask(&compiled, &elsewhere, "audit:events:read", &org_resource(), &ctx());
    assert_denied(&d, &[]);

    // The same principal asked again without the group.
    let alone = member(PrincipalRef::User(id(BOB)), id(ORG), &[]);
    let d = ask(&compiled, &alone, "audit:events:read", &org_resource(), &ctx());
    assert_denied(&d, &[]);

    // Asked first without the group, then with it: the slice cached for the first request
    // must not serve the second.
    let carol_alone = member(PrincipalRef::User(id(CAROL)), id(ORG), &[]);
    let d = ask(&compiled, &carol_alone, "audit:events:read", &org_resource(), &ctx());
    assert_denied(&d, &[]);
    let carol_joined = member(PrincipalRef::User(id(CAROL)), id(ORG), &[id(GROUP)]);
    let d = ask(&compiled, &carol_joined, "audit:events:read", &org_resource(), &ctx());
    assert_allowed(&d, &[&rule_id(100, 0)]);

    // Applications can be group members too.
    let app = member(PrincipalRef::Application(id(APP)), id(ORG), &[id(GROUP)]);
    let d = ask(&compiled, &app, "audit:export:read", &org_resource(), &ctx());
    assert_allowed(&d, &[&rule_id(100, 0)]);
}

#[test]
fn application_grant() {
    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::Application(id(APP)),
        vec![rule(&["ProjectManager"], Scope::Projects(vec![id(P1)]))],
    ));
    let compiled = build(&input);
    let app = member(PrincipalRef::Application(id(APP)), id(ORG), &[]);
    let d = ask(&compiled, &app, "projects:projects:write", &project(P1), &ctx());
    assert_allowed(&d, &[&rule_id(100, 0)]);
    // A user with the same id is another principal.
    let user = member(PrincipalRef::User(id(APP)), id(ORG), &[]);
    let d = ask(&compiled, &user, "projects:projects:write", &project(P1), &ctx());
    assert_denied(&d, &[]);
}

#[test]
fn project_scope_grants_only_its_projects() {
    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::User(id(ALICE)),
        vec![rule(&["ProjectManager"], Scope::Projects(vec![id(P1)]))],
    ));
    let compiled = build(&input);
    let alice = member(PrincipalRef::User(id(ALICE)), id(ORG), &[]);
    let granted = [project(P1), object_in(Some(P1), "server", "web-1")];
    for resource in &granted {
        let d = ask(&compiled, &alice, "projects:projects:read", resource, &ctx());
        assert_allowed(&d, &[&rule_id(100, 0)]);
    }
    let refused = [
        project(P2),
        object_in(Some(P2), "server", "web-1"),
        org_resource(),
        object_in(None, "server", "web-1"),
    ];
    for resource in &refused {
        let d = ask(&compiled, &alice, "projects:projects:read", resource, &ctx());
        assert_denied(&d, &[]);
    }
    // `organizations:organization:read` is in the set, but the organisation is not in scope.
    let d = ask(&compiled, &alice, "organizations:organization:read", &org_resource(), &ctx());
    assert_denied(&d, &[]);
}

#[test]
fn several_projects_in_one_rule() {
    let mut input = customer();
    input.projects.push(id(13));
    input.policies.push(policy(
        100,
        PrincipalRef::User(id(ALICE)),
        vec![rule(&["ProjectManager"], Scope::Projects(vec![id(P1), id(P2)]))],
    ));
    let compiled = build(&input);
    let alice = member(PrincipalRef::User(id(ALICE)), id(ORG), &[]);
    for p in [P1, P2] {
        let d = ask(&compiled, &alice, "projects:projects:delete", &project(p), &ctx());
        assert_allowed(&d, &[&rule_id(100, 0)]);
    }
    let d = ask(&compiled, &alice, "projects:projects:delete", &project(13), &ctx());
    assert_denied(&d, &[]);
    let d = ask(&compiled, &alice, "projects:projects:delete", &org_resource(), &ctx());
    assert_denied(&d, &[]);
}

#[test]
fn every_satisfied_permit_is_reported() {
    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::User(id(ALICE)),
        vec![
            rule(&["IAMReadOnly"], Scope::Organization),
            rule(&["SecurityAnalyst"], Scope::Organization),
        ],
    ));
    input.policies.push(policy(
        101,
        PrincipalRef::Group(id(GROUP)),
        vec![rule(&["IAMManager"], Scope::Organization)],
    ));
    let compiled = build(&input);
    let alice = member(PrincipalRef::User(id(ALICE)), id(ORG), &[id(GROUP)]);
    let d = ask(&compiled, &alice, "iam:users:read", &org_resource(), &ctx());
    let mut expected = [rule_id(100, 0), rule_id(100, 1), rule_id(101, 0)];
    expected.sort();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_allowed(&d, &expected);
}

#[test]
fn owners_hold_every_rampart_action_through_the_builtin_policy() {
    let compiled = build(&customer());
    let alice = owner(id(ALICE), id(ORG));
    for action in compiled.catalogue().actions() {
        for resource in [org_resource(), project(P1), object_in(Some(P2), "x", "y")] {
            let d = ask(&compiled, &alice, &action.name, &resource, &ctx());
            assert_allowed(&d, &["builtin:owner"]);
        }
    }
    // Members do not (asked first, so that the member's cached slice is in place when the
    // same user then asks as an owner), and an application never counts as an owner.
    let bob = member(PrincipalRef::User(id(BOB)), id(ORG), &[]);
    let d = ask(&compiled, &bob, "iam:users:read", &org_resource(), &ctx());
    assert_denied(&d, &[]);
    let d = ask(&compiled, &owner(id(BOB), id(ORG)), "iam:users:read", &org_resource(), &ctx());
    assert_allowed(&d, &["builtin:owner"]);
    let app = authz::PrincipalFacts {
        role: Role::Owner,
        ..member(PrincipalRef::Application(id(APP)), id(ORG), &[])
    };
    let d = ask(&compiled, &app, "iam:users:read", &org_resource(), &ctx());
    assert_denied(&d, &[]);
}

#[test]
fn owner_builtin_does_not_cover_custom_actions() {
    let mut input = customer();
    input.custom_actions.push(CustomAction {
        name: "instances:servers:read".into(),
        description: "Read a server".into(),
        privileged: false,
    });
    let compiled = build(&input);
    let alice = owner(id(ALICE), id(ORG));
    let d = ask(
        &compiled,
        &alice,
        "instances:servers:read",
        &object_in(Some(P1), "server", "s1"),
        &ctx(),
    );
    assert_denied(&d, &[]);
}

#[test]
fn custom_actions_and_sets_grant_the_organisations_own_services() {
    let mut input = customer();
    input.custom_actions.push(CustomAction {
        name: "instances:servers:read".into(),
        description: "Read a server".into(),
        privileged: false,
    });
    input.custom_actions.push(CustomAction {
        name: "instances:servers:reboot".into(),
        description: "Reboot a server".into(),
        privileged: true,
    });
    input.custom_permission_sets.push(CustomPermissionSet {
        name: "ServerReader".into(),
        description: String::new(),
        actions: vec!["instances:servers:read".into(), "projects:projects:read".into()],
    });
    input.policies.push(policy(
        100,
        PrincipalRef::User(id(BOB)),
        vec![rule(&["ServerReader"], Scope::Projects(vec![id(P1)]))],
    ));
    let compiled = build(&input);
    assert!(compiled.catalogue().is_privileged("instances:servers:reboot"));
    let bob = member(PrincipalRef::User(id(BOB)), id(ORG), &[]);
    let server = object_in(Some(P1), "server", "s1");
    let d = ask(&compiled, &bob, "instances:servers:read", &server, &ctx());
    assert_allowed(&d, &[&rule_id(100, 0)]);
    let d = ask(&compiled, &bob, "instances:servers:reboot", &server, &ctx());
    assert_denied(&d, &[]);
}

#[test]
fn raw_forbid_overrides_permits_and_the_owner_builtin() {
    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::User(id(BOB)),
        vec![rule(&["IAMManager"], Scope::Organization)],
    ));
    input.raw_policies.push(RawPolicy {
        id: id(900),
        text: r#"forbid (principal, action == Rampart::Action::"iam:users:delete", resource);"#
            .into(),
    });
    let compiled = build(&input);
    let raw = format!("raw:{}", id(900));
    let bob = member(PrincipalRef::User(id(BOB)), id(ORG), &[]);
    let d = ask(&compiled, &bob, "iam:users:delete", &org_resource(), &ctx());
    assert_denied(&d, &[&raw]);
    let d = ask(&compiled, &bob, "iam:users:write", &org_resource(), &ctx());
    assert_allowed(&d, &[&rule_id(100, 0)]);
    let alice = owner(id(ALICE), id(ORG));
    let d = ask(&compiled, &alice, "iam:users:delete", &org_resource(), &ctx());
    assert_denied(&d, &[&raw]);
}

#[test]
fn raw_forbid_with_a_condition_on_a_group() {
    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::Group(id(GROUP)),
        vec![rule(&["AuditTrailReadOnly"], Scope::Organization)],
    ));
    input.raw_policies.push(RawPolicy {
        id: id(900),
        text: r#"forbid (principal in Rampart::Group::"01900000-0000-7000-8000-00000000002a", action, resource)
                 unless { context.mfa };"#
            .into(),
    });
    assert_eq!(id(OTHER_GROUP).to_string(), "01900000-0000-7000-8000-00000000002a");
    let compiled = build(&input);
    let raw = format!("raw:{}", id(900));
    let both = member(PrincipalRef::User(id(BOB)), id(ORG), &[id(GROUP), id(OTHER_GROUP)]);
    let d = ask(&compiled, &both, "audit:events:read", &org_resource(), &ctx());
    assert_denied(&d, &[&raw]);
    let with_mfa = authz::Context { mfa: true, ..ctx() };
    let d = ask(&compiled, &both, "audit:events:read", &org_resource(), &with_mfa);
    assert_allowed(&d, &[&rule_id(100, 0)]);
    let one = member(PrincipalRef::User(id(BOB)), id(ORG), &[id(GROUP)]);
    let d = ask(&compiled, &one, "audit:events:read", &org_resource(), &ctx());
    assert_allowed(&d, &[&rule_id(100, 0)]);
}

#[test]
fn raw_permits_attached_to_a_principal_or_the_organisation() {
    let mut input = customer();
    input.raw_policies.push(RawPolicy {
        id: id(900),
        text: format!(
            r#"permit (principal == Rampart::User::"{}", action == Rampart::Action::"iam:users:read", resource);"#,
            id(ALICE)
        ),
    });
    input.raw_policies.push(RawPolicy {
        id: id(901),
        text: format!(
            r#"@note("everyone reads projects of P1")
               permit (principal, action == Rampart::Action::"projects:projects:read", resource in Rampart::Project::"{}");"#,
            id(P1)
        ),
    });
    let compiled = build(&input);
    let alice = member(PrincipalRef::User(id(ALICE)), id(ORG), &[]);
    let bob = member(PrincipalRef::User(id(BOB)), id(ORG), &[]);
    let read_users = format!("raw:{}", id(900));
    let read_p1 = format!("raw:{}", id(901));
    assert_allowed(
        &ask(&compiled, &alice, "iam:users:read", &org_resource(), &ctx()),
        &[&read_users],
    );
    assert_denied(&ask(&compiled, &bob, "iam:users:read", &org_resource(), &ctx()), &[]);
    assert_allowed(
        &ask(&compiled, &bob, "projects:projects:read", &project(P1), &ctx()),
        &[&read_p1],
    );
    assert_denied(&ask(&compiled, &bob, "projects:projects:read", &project(P2), &ctx()), &[]);
}

#[test]
fn raw_policies_read_entity_attributes() {
    let mut input = customer();
    input.raw_policies.push(RawPolicy {
        id: id(900),
        text: r#"permit (principal, action == Rampart::Action::"projects:projects:read", resource is Rampart::Resource)
                 when { resource.kind == "report" && principal is Rampart::User && principal.role == "member" };"#
            .into(),
    });
    let compiled = build(&input);
    let bob = member(PrincipalRef::User(id(BOB)), id(ORG), &[]);
    let raw = format!("raw:{}", id(900));
    let report = object_in(Some(P1), "report", "q3");
    assert_allowed(&ask(&compiled, &bob, "projects:projects:read", &report, &ctx()), &[&raw]);
    let server = object_in(Some(P1), "server", "q3");
    assert_denied(&ask(&compiled, &bob, "projects:projects:read", &server, &ctx()), &[]);
}

#[test]
fn provider_owners_administer_every_organisation() {
    let provider = id(500);
    let compiled = build(&customer());
    let staff_owner = authz::PrincipalFacts { staff: true, ..owner(id(501), provider) };
    for resource in [org_resource(), project(P1), object_in(Some(P2), "x", "y")] {
        let d = ask(&compiled, &staff_owner, "audit:events:read", &resource, &ctx());
        assert_allowed(&d, &["builtin:staff"]);
    }
    // A provider member, a provider application, and a customer's owner are not staff owners.
    let staff_member =
        authz::PrincipalFacts { staff: true, ..member(PrincipalRef::User(id(502)), provider, &[]) };
    let staff_app = authz::PrincipalFacts {
        staff: true,
        role: Role::Owner,
        ..member(PrincipalRef::Application(id(503)), provider, &[])
    };
    let other_owner = owner(id(504), id(600));
    for who in [&staff_member, &staff_app, &other_owner] {
        let d = ask(&compiled, who, "audit:events:read", &org_resource(), &ctx());
        assert_denied(&d, &[]);
    }
}

#[test]
fn provider_organisation_itself() {
    let provider = id(500);
    let mut input = empty_org(provider, OrganizationKind::Provider);
    input.projects.clear();
    let compiled = build(&input);
    let staff_owner = authz::PrincipalFacts { staff: true, ..owner(id(501), provider) };
    let d = ask(
        &compiled,
        &staff_owner,
        "iam:policies:write",
        &ResourceRef::Organization(provider),
        &ctx(),
    );
    assert_allowed(&d, &["builtin:owner", "builtin:staff"]);
}

#[test]
fn foreign_principals_get_nothing_from_the_organisations_policies() {
    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::User(id(ALICE)),
        vec![rule(&["IAMManager"], Scope::Organization)],
    ));
    input
        .raw_policies
        .push(RawPolicy { id: id(900), text: "permit (principal, action, resource);".into() });
    let compiled = build(&input);
    // Alice's id, but claimed in another organisation.
    let impostor = member(PrincipalRef::User(id(ALICE)), id(600), &[]);
    let d = ask(&compiled, &impostor, "iam:users:read", &org_resource(), &ctx());
    assert_denied(&d, &[]);
    // The raw permit-all does apply inside the organisation.
    let carol = member(PrincipalRef::User(id(CAROL)), id(ORG), &[]);
    let d = ask(&compiled, &carol, "iam:users:read", &org_resource(), &ctx());
    assert_allowed(&d, &[&format!("raw:{}", id(900))]);
}

#[test]
fn refusals_before_evaluation_carry_an_error() {
    let mut input = customer();
    input
        .raw_policies
        .push(RawPolicy { id: id(900), text: "permit (principal, action, resource);".into() });
    let compiled = build(&input);
    let alice = owner(id(ALICE), id(ORG));
    let cases = [
        (
            alice.clone(),
            "iam:users:read",
            ResourceRef::Organization(id(600)),
            "belongs to organisation",
        ),
        (alice.clone(), "iam:users:fly", org_resource(), "unknown action `iam:users:fly`"),
        (alice.clone(), "iam:users:read", project(99), "is not a project of organisation"),
        (
            member(PrincipalRef::Group(id(GROUP)), id(ORG), &[]),
            "iam:users:read",
            org_resource(),
            "cannot make a request",
        ),
    ];
    for (who, action, resource, message) in cases {
        let d = ask(&compiled, &who, action, &resource, &ctx());
        assert!(!d.allowed, "{d:?}");
        assert!(d.determining_policies.is_empty());
        assert_eq!(d.errors.len(), 1, "{d:?}");
        assert!(d.errors[0].contains(message), "{d:?} lacks {message}");
    }
}

#[test]
fn compiled_organisation_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<authz::CompiledOrganization>();

    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::Group(id(GROUP)),
        vec![rule(&["IAMReadOnly"], Scope::Organization)],
    ));
    let compiled = build(&input);
    std::thread::scope(|s| {
        for n in 0..4u128 {
            let compiled = &compiled;
            s.spawn(move || {
                for i in 0..50u128 {
                    let groups = if i % 2 == 0 { vec![id(GROUP)] } else { vec![] };
                    let who =
                        member(PrincipalRef::User(id(1000 + n * 100 + i % 7)), id(ORG), &groups);
                    let d = ask(compiled, &who, "iam:users:read", &org_resource(), &ctx());
                    assert_eq!(d.allowed, i % 2 == 0);
                }
            });
        }
    });
}

#[test]
fn raw_policies_may_name_permission_sets_as_action_groups() {
    let mut input = customer();
    input.raw_policies.push(RawPolicy {
        id: id(900),
        text: r#"permit (principal, action in Rampart::Action::"set:IAMReadOnly", resource) when { context.mfa };"#
            .into(),
    });
    input.raw_policies.push(RawPolicy {
        id: id(901),
        text: r#"forbid (principal, action, resource) when { action in Rampart::Action::"all:rampart" && context.day_of_week >= 6 };"#
            .into(),
    });
    let compiled = build(&input);
    let (read, weekend) = (format!("raw:{}", id(900)), format!("raw:{}", id(901)));
    let bob = member(PrincipalRef::User(id(BOB)), id(ORG), &[]);
    let mfa = authz::Context { mfa: true, ..ctx() };
    assert_allowed(&ask(&compiled, &bob, "iam:users:read", &org_resource(), &mfa), &[&read]);
    assert_denied(&ask(&compiled, &bob, "iam:users:read", &org_resource(), &ctx()), &[]);
    assert_denied(&ask(&compiled, &bob, "iam:users:write", &org_resource(), &mfa), &[]);

    // who-can reads the groups too.
    let raws = |action: &str| -> Vec<String> {
        compiled
            .who_can(action, &org_resource())
            .unwrap()
            .raw_policies
            .into_iter()
            .map(|r| r.policy)
            .collect()
    };
    assert_eq!(raws("iam:users:read"), [read.clone(), weekend.clone()]);
    assert_eq!(raws("iam:users:write"), std::slice::from_ref(&weekend));

    let alice = owner(id(ALICE), id(ORG));
    let saturday = authz::Context::at(time::macros::datetime!(2024-01-06 10:00 UTC));
    assert_allowed(
        &ask(&compiled, &alice, "iam:users:write", &org_resource(), &ctx()),
        &["builtin:owner"],
    );
    assert_denied(
        &ask(&compiled, &alice, "iam:users:write", &org_resource(), &saturday),
        &[&weekend],
    );
}

#[test]
fn guests_hold_only_what_policies_grant_them() {
    let mut input = customer();
    input.policies.push(policy(
        100,
        PrincipalRef::User(id(CAROL)),
        vec![rule(&["ReadOnly"], Scope::Organization)],
    ));
    input.raw_policies.push(RawPolicy {
        id: id(900),
        text: r#"permit (principal is Rampart::User, action == Rampart::Action::"projects:projects:read", resource)
                 when { principal.role == "guest" };"#
            .into(),
    });
    let compiled = build(&input);
    let guest = |user| PrincipalFacts {
        role: Role::Guest,
        ..member(PrincipalRef::User(id(user)), id(ORG), &[])
    };
    let (carol, bob) = (guest(CAROL), guest(BOB));
    // Never the owner built-in: no IAM, no write.
    assert_denied(&ask(&compiled, &carol, "iam:guests:write", &org_resource(), &ctx()), &[]);
    assert_denied(&ask(&compiled, &bob, "iam:users:read", &org_resource(), &ctx()), &[]);
    // Granted one by one…
    assert_allowed(
        &ask(&compiled, &carol, "iam:users:read", &org_resource(), &ctx()),
        &[&rule_id(100, 0)],
    );
    assert_denied(&ask(&compiled, &carol, "projects:projects:write", &project(P1), &ctx()), &[]);
    // …or all together through their role.
    let raw = format!("raw:{}", id(900));
    assert_allowed(&ask(&compiled, &bob, "projects:projects:read", &project(P1), &ctx()), &[&raw]);
    let member_bob = member(PrincipalRef::User(id(BOB)), id(ORG), &[]);
    assert_denied(
        &ask(&compiled, &member_bob, "projects:projects:read", &project(P1), &ctx()),
        &[],
    );
}
