//! Effective permissions and who-can.

use authz::{
    Condition, CustomAction, CustomPermissionSet, PrincipalFacts, PrincipalRef, QueryError,
    RawPolicy, ResourceRef, Scope, Subject, Via,
};

use crate::common::*;

fn mfa_only() -> Condition {
    Condition { mfa: true, ..Condition::default() }
}

fn sample() -> authz::OrganizationPolicies {
    let mut input = customer();
    input.custom_actions.push(CustomAction {
        name: "instances:servers:read".into(),
        description: String::new(),
        privileged: false,
    });
    input.custom_permission_sets.push(CustomPermissionSet {
        name: "ServerReader".into(),
        description: String::new(),
        actions: vec!["instances:servers:read".into()],
    });
    let mut conditional = rule(&["IAMManager"], Scope::Organization);
    conditional.condition = mfa_only();
    input.policies.push(policy(
        100,
        PrincipalRef::User(id(ALICE)),
        vec![rule(&["IAMReadOnly"], Scope::Organization), conditional],
    ));
    input.policies.push(policy(
        101,
        PrincipalRef::Group(id(GROUP)),
        vec![rule(&["ProjectManager", "ServerReader"], Scope::Projects(vec![id(P1)]))],
    ));
    input.policies.push(policy(
        102,
        PrincipalRef::Group(id(OTHER_GROUP)),
        vec![rule(&["ProjectManager"], Scope::Projects(vec![id(P2)]))],
    ));
    input.policies.push(policy(
        103,
        PrincipalRef::Application(id(APP)),
        vec![rule(&["AuditTrailReadOnly"], Scope::Organization)],
    ));
    input.raw_policies.push(RawPolicy {
        id: id(900),
        text: r#"forbid (principal, action == Rampart::Action::"iam:users:delete", resource) unless { context.mfa };"#
            .into(),
    });
    input.raw_policies.push(RawPolicy {
        id: id(901),
        text: format!(
            r#"permit (principal in Rampart::Group::"{}", action == Rampart::Action::"audit:events:read", resource);"#,
            id(OTHER_GROUP)
        ),
    });
    input
}

#[test]
fn effective_permissions_direct_and_through_groups() {
    let compiled = build(&sample());
    let alice = member(PrincipalRef::User(id(ALICE)), id(ORG), &[id(GROUP)]);
    let e = compiled.effective_permissions(&alice);
    let summary: Vec<(String, Via, Scope, Condition)> = e
        .grants
        .iter()
        .map(|g| (g.policy.clone(), g.via, g.scope.clone(), g.condition.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (rule_id(100, 0), Via::Direct, Scope::Organization, Condition::default()),
            (rule_id(100, 1), Via::Direct, Scope::Organization, mfa_only()),
            (
                rule_id(101, 0),
                Via::Group(id(GROUP)),
                Scope::Projects(vec![id(P1)]),
                Condition::default()
            ),
        ]
    );
    let group_grant = &e.grants[2];
    assert_eq!(group_grant.permission_sets, ["ProjectManager", "ServerReader"]);
    assert!(group_grant.actions.contains(&"instances:servers:read".to_owned()));
    assert!(group_grant.actions.contains(&"projects:projects:delete".to_owned()));
    // The organisation-wide raw forbid applies; the other group's raw permit does not.
    assert_eq!(e.raw_policies.len(), 1);
    assert_eq!(e.raw_policies[0].policy, format!("raw:{}", id(900)));
    assert!(e.raw_policies[0].forbid);
    let note = e.note.unwrap();
    assert!(note.contains("1 raw Cedar policy may also apply (1 forbid)"), "{note}");

    let in_other = member(PrincipalRef::User(id(CAROL)), id(ORG), &[id(OTHER_GROUP)]);
    let e = compiled.effective_permissions(&in_other);
    assert_eq!(e.grants.len(), 1);
    assert_eq!(e.grants[0].via, Via::Group(id(OTHER_GROUP)));
    assert_eq!(e.raw_policies.len(), 2);
}

#[test]
fn effective_permissions_of_owners_staff_and_strangers() {
    let compiled = build(&sample());
    let e = compiled.effective_permissions(&owner(id(CAROL), id(ORG)));
    assert_eq!(e.grants.len(), 1);
    assert_eq!(e.grants[0].policy, "builtin:owner");
    assert_eq!(e.grants[0].via, Via::BuiltIn);
    assert_eq!(e.grants[0].actions.len(), compiled.catalogue().actions().count() - 1);
    assert!(!e.grants[0].actions.contains(&"instances:servers:read".to_owned()));

    let staff = PrincipalFacts { staff: true, ..owner(id(501), id(500)) };
    let e = compiled.effective_permissions(&staff);
    assert_eq!(e.grants.len(), 1);
    assert_eq!(e.grants[0].policy, "builtin:staff");
    assert!(e.raw_policies.is_empty());

    // A stranger with the id of a principal that has policies here gets nothing.
    let stranger = member(PrincipalRef::User(id(ALICE)), id(600), &[id(GROUP)]);
    let e = compiled.effective_permissions(&stranger);
    assert!(e.grants.is_empty());
    assert!(e.raw_policies.is_empty());
    assert_eq!(e.note, None);
}

#[test]
fn who_can_on_a_project() {
    let compiled = build(&sample());
    let w = compiled.who_can("projects:projects:write", &project(P1)).unwrap();
    let grants: Vec<(Subject, String, Option<Condition>)> =
        w.grants.iter().map(|g| (g.subject, g.policy.clone(), g.condition.clone())).collect();
    assert_eq!(
        grants,
        vec![
            (Subject::Owners, "builtin:owner".to_owned(), None),
            (Subject::ProviderOwners, "builtin:staff".to_owned(), None),
            (Subject::Principal(PrincipalRef::Group(id(GROUP))), rule_id(101, 0), None),
        ]
    );
    assert!(w.raw_policies.is_empty());
    assert_eq!(w.note, None);

    let w = compiled.who_can("projects:projects:write", &project(P2)).unwrap();
    assert_eq!(w.grants[2].subject, Subject::Principal(PrincipalRef::Group(id(OTHER_GROUP))));
    // Nobody but the built-ins on the organisation itself.
    let w = compiled.who_can("projects:projects:write", &org_resource()).unwrap();
    assert_eq!(w.grants.len(), 2);
}

#[test]
fn who_can_reports_conditions_and_raw_policies() {
    let compiled = build(&sample());
    let w = compiled.who_can("iam:users:delete", &org_resource()).unwrap();
    assert_eq!(w.grants.len(), 3);
    assert_eq!(w.grants[2].subject, Subject::Principal(PrincipalRef::User(id(ALICE))));
    assert_eq!(w.grants[2].policy, rule_id(100, 1));
    assert_eq!(w.grants[2].condition, Some(mfa_only()));
    assert_eq!(w.raw_policies.len(), 1);
    assert!(w.raw_policies[0].forbid);
    assert!(w.note.is_some());

    let w = compiled.who_can("audit:events:read", &object_in(Some(P1), "x", "y")).unwrap();
    let subjects: Vec<Subject> = w.grants.iter().map(|g| g.subject).collect();
    assert!(subjects.contains(&Subject::Principal(PrincipalRef::Application(id(APP)))));
    assert_eq!(w.raw_policies.len(), 1);
    assert!(!w.raw_policies[0].forbid);
}

#[test]
fn who_can_custom_actions_has_no_builtin() {
    let compiled = build(&sample());
    let w =
        compiled.who_can("instances:servers:read", &object_in(Some(P1), "server", "s1")).unwrap();
    assert_eq!(w.grants.len(), 1);
    assert_eq!(w.grants[0].policy, rule_id(101, 0));
    let w = compiled.who_can("instances:servers:read", &object_in(None, "server", "s1")).unwrap();
    assert!(w.grants.is_empty());
}

#[test]
fn who_can_refuses_bad_questions() {
    let compiled = build(&sample());
    assert_eq!(
        compiled.who_can("iam:users:fly", &org_resource()).unwrap_err(),
        QueryError::UnknownAction("iam:users:fly".into())
    );
    assert!(matches!(
        compiled.who_can("iam:users:read", &ResourceRef::Organization(id(600))),
        Err(QueryError::ForeignResource { .. })
    ));
    assert_eq!(
        compiled.who_can("iam:users:read", &project(99)).unwrap_err(),
        QueryError::UnknownProject(id(99))
    );
}

#[test]
fn who_can_agrees_with_authorize() {
    // Every unconditional principal grant that who-can lists is allowed by authorize.
    let compiled = build(&sample());
    let context = authz::Context { mfa: true, ..ctx() };
    for action in
        ["projects:projects:write", "iam:users:read", "audit:events:read", "instances:servers:read"]
    {
        for resource in
            [org_resource(), project(P1), project(P2), object_in(Some(P1), "server", "s")]
        {
            let w = compiled.who_can(action, &resource).unwrap();
            for grant in &w.grants {
                let Subject::Principal(principal) = grant.subject else { continue };
                let who = match principal {
                    PrincipalRef::Group(g) => member(PrincipalRef::User(id(7000)), id(ORG), &[g]),
                    other => member(other, id(ORG), &[]),
                };
                let d = ask(&compiled, &who, action, &resource, &context);
                assert!(d.allowed, "{action} on {resource:?} for {principal}: {d:?}");
                assert!(d.determining_policies.contains(&grant.policy));
            }
        }
    }
}
