//! Customer isolation: no policy of organisation A ever grants, or is evaluated for, access to a
//! resource of organisation B, whatever A's policies say (raw Cedar naming B included) and
//! whatever ids the principals share.

use authz::{
    CompiledOrganization, Condition, Context, OrganizationKind, OrganizationPolicies,
    PrincipalFacts, PrincipalRef, QueryError, RawPolicy, ResourceRef, Role, Rule, Scope,
};
use proptest::prelude::*;
use uuid::Uuid;

use crate::common::*;

const ORG_A: u128 = 0xA;
const ORG_B: u128 = 0xB;
/// Projects: A has 0xA1, 0xA2; B has 0xB1, 0xB2.
fn projects_of(org: u128) -> Vec<Uuid> {
    vec![id(org * 16 + 1), id(org * 16 + 2)]
}

/// Principal and group ids are drawn from one small pool, so both organisations name them.
fn pool_id() -> impl Strategy<Value = Uuid> {
    (0u128..6).prop_map(|n| id(1000 + n))
}

fn principal() -> impl Strategy<Value = PrincipalRef> {
    prop_oneof![
        pool_id().prop_map(PrincipalRef::User),
        pool_id().prop_map(PrincipalRef::Group),
        pool_id().prop_map(PrincipalRef::Application),
    ]
}

const SETS: &[&str] = &[
    "OrganizationManager",
    "IAMManager",
    "IAMReadOnly",
    "AuditTrailReadOnly",
    "SecurityAnalyst",
    "ComplianceManager",
    "ProjectManager",
    "ReadOnly",
];

fn rule_for(org: u128) -> impl Strategy<Value = Rule> {
    let sets = proptest::sample::subsequence(SETS, 1..=3);
    let scope = prop_oneof![
        Just(Scope::Organization),
        proptest::sample::subsequence(projects_of(org), 1..=2).prop_map(Scope::Projects),
    ];
    (sets, scope, any::<bool>()).prop_map(|(sets, scope, mfa)| Rule {
        permission_sets: sets.into_iter().map(str::to_owned).collect(),
        scope,
        condition: Condition { mfa, ..Condition::default() },
    })
}

/// Raw policies an organisation might write, including some that name the other organisation.
fn raw_text(other: u128) -> impl Strategy<Value = String> {
    let other_org = id(other);
    let other_project = projects_of(other)[0];
    prop_oneof![
        Just("permit (principal, action, resource);".to_owned()),
        Just(format!(
            r#"permit (principal, action, resource in Rampart::Organization::"{other_org}");"#
        )),
        Just(format!(
            r#"permit (principal, action, resource in Rampart::Project::"{other_project}");"#
        )),
        pool_id().prop_map(|u| format!(r#"permit (principal == Rampart::User::"{u}", action, resource);"#)),
        pool_id().prop_map(|g| format!(r#"permit (principal in Rampart::Group::"{g}", action, resource);"#)),
        Just(r#"forbid (principal, action == Rampart::Action::"iam:users:delete", resource);"#.to_owned()),
        Just(r#"permit (principal is Rampart::User, action, resource) when { principal.staff || principal.role == "owner" };"#.to_owned()),
    ]
}

fn organization(org: u128, other: u128) -> impl Strategy<Value = OrganizationPolicies> {
    let policies = proptest::collection::vec(
        (principal(), proptest::collection::vec(rule_for(org), 1..=3)),
        0..=8,
    );
    let raws = proptest::collection::vec(raw_text(other), 0..=3);
    (policies, raws).prop_map(move |(policies, raws)| {
        let mut input = empty_org(id(org), OrganizationKind::Customer);
        input.projects = projects_of(org);
        input.policies = policies
            .into_iter()
            .enumerate()
            .map(|(n, (principal, rules))| policy(org * 10_000 + n as u128, principal, rules))
            .collect();
        input.raw_policies = raws
            .into_iter()
            .enumerate()
            .map(|(n, text)| RawPolicy { id: id(org * 10_000 + 5000 + n as u128), text })
            .collect();
        input
    })
}

fn resource_of(org: u128) -> impl Strategy<Value = ResourceRef> {
    let projects = projects_of(org);
    prop_oneof![
        Just(ResourceRef::Organization(id(org))),
        proptest::sample::select(projects.clone())
            .prop_map(move |p| ResourceRef::Project { organization: id(org), project: p }),
        (proptest::option::of(proptest::sample::select(projects)), "[a-z]{1,6}").prop_map(
            move |(project, object)| ResourceRef::Object {
                organization: id(org),
                project,
                kind: "server".into(),
                id: object,
            }
        ),
    ]
}

/// A principal of `org` (never staff: both organisations are customers).
fn facts_in(org: u128) -> impl Strategy<Value = PrincipalFacts> {
    let who = prop_oneof![
        pool_id().prop_map(PrincipalRef::User),
        pool_id().prop_map(PrincipalRef::Application),
    ];
    let role = prop_oneof![Just(Role::Owner), Just(Role::Member)];
    let groups = proptest::collection::vec(pool_id(), 0..=3);
    (who, role, groups).prop_map(move |(principal, role, groups)| PrincipalFacts {
        principal,
        organization_id: id(org),
        role,
        groups,
        staff: false,
    })
}

fn action() -> impl Strategy<Value = String> {
    let names: Vec<String> =
        authz::Catalogue::rampart().actions().map(|a| a.name.clone()).collect();
    proptest::sample::select(names)
}

fn compiled(input: &OrganizationPolicies) -> CompiledOrganization {
    build(input)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_policy_of_a_reaches_a_resource_of_b(
        a in organization(ORG_A, ORG_B),
        b in organization(ORG_B, ORG_A),
        requests in proptest::collection::vec(
            (prop_oneof![facts_in(ORG_A), facts_in(ORG_B)], action(), resource_of(ORG_B), any::<bool>()),
            1..=24,
        ),
    ) {
        let a = compiled(&a);
        let b = compiled(&b);
        for (who, action, resource, mfa) in &requests {
            let context = Context { mfa: *mfa, ..ctx() };
            // A's policies, asked about B's resource, grant nothing and evaluate nothing.
            let d = ask(&a, who, action, resource, &context);
            prop_assert!(!d.allowed, "A granted {action} on {resource:?}: {d:?}");
            prop_assert!(d.determining_policies.is_empty(), "{d:?}");
            prop_assert_eq!(
                a.who_can(action, resource).unwrap_err(),
                QueryError::ForeignResource { resource: id(ORG_B), organization: id(ORG_A) }
            );
            // B's policies, however broad, grant nothing to a principal of A.
            if who.organization_id == id(ORG_A) {
                let d = ask(&b, who, action, resource, &context);
                prop_assert!(!d.allowed, "B granted {action} on {resource:?} to A's {who:?}: {d:?}");
                prop_assert!(d.determining_policies.is_empty(), "{d:?}");
                let e = b.effective_permissions(who);
                prop_assert!(e.grants.is_empty() && e.raw_policies.is_empty());
            }
        }
    }

    #[test]
    fn only_provider_owners_cross_organisations(
        b in organization(ORG_B, ORG_A),
        who in facts_in(0xC),
        staff in any::<bool>(),
        action in action(),
        resource in resource_of(ORG_B),
    ) {
        let b = compiled(&b);
        let who = PrincipalFacts { staff, ..who };
        let d = ask(&b, &who, &action, &resource, &ctx());
        let staff_owner = staff
            && who.role == Role::Owner
            && matches!(who.principal, PrincipalRef::User(_));
        prop_assert_eq!(d.allowed, staff_owner, "{:?}", d);
        if staff_owner {
            prop_assert_eq!(d.determining_policies, vec!["builtin:staff".to_owned()]);
        } else {
            prop_assert!(d.determining_policies.is_empty());
        }
    }
}
