//! Fixtures shared by the integration tests.

use authz::{
    Catalogue, CompiledOrganization, Condition, Context, Decision, OrganizationKind,
    OrganizationPolicies, OrganizationRef, Policy, PrincipalFacts, PrincipalRef, Request,
    ResourceRef, Role, Rule, Scope, compile,
};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// Deterministic ids: `id(1)`, `id(2)`, …
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

pub const ORG: u128 = 1;
pub const P1: u128 = 11;
pub const P2: u128 = 12;
pub const ALICE: u128 = 21;
pub const BOB: u128 = 22;
pub const CAROL: u128 = 23;
pub const APP: u128 = 31;
pub const GROUP: u128 = 41;
pub const OTHER_GROUP: u128 = 42;

/// Wednesday 3 January 2024, 10:00 UTC.
pub const NOW: OffsetDateTime = datetime!(2024-01-03 10:00 UTC);

pub fn empty_org(org: Uuid, kind: OrganizationKind) -> OrganizationPolicies {
    OrganizationPolicies {
        organization: OrganizationRef { id: org, kind },
        projects: vec![id(P1), id(P2)],
        custom_actions: Vec::new(),
        custom_permission_sets: Vec::new(),
        policies: Vec::new(),
        raw_policies: Vec::new(),
    }
}

pub fn customer() -> OrganizationPolicies {
    empty_org(id(ORG), OrganizationKind::Customer)
}

pub fn rule(sets: &[&str], scope: Scope) -> Rule {
    Rule {
        permission_sets: sets.iter().map(|s| (*s).to_owned()).collect(),
        scope,
        condition: Condition::default(),
    }
}

pub fn policy(n: u128, principal: PrincipalRef, rules: Vec<Rule>) -> Policy {
    Policy { id: id(n), principal, rules }
}

pub fn member(principal: PrincipalRef, org: Uuid, groups: &[Uuid]) -> PrincipalFacts {
    PrincipalFacts {
        principal,
        organization_id: org,
        role: Role::Member,
        groups: groups.to_vec(),
        staff: false,
    }
}

pub fn owner(user: Uuid, org: Uuid) -> PrincipalFacts {
    PrincipalFacts { role: Role::Owner, ..member(PrincipalRef::User(user), org, &[]) }
}

pub fn ctx() -> Context {
    Context::at(NOW)
}

pub fn org_resource() -> ResourceRef {
    ResourceRef::Organization(id(ORG))
}

pub fn project(n: u128) -> ResourceRef {
    ResourceRef::Project { organization: id(ORG), project: id(n) }
}

pub fn object_in(project: Option<u128>, kind: &str, object: &str) -> ResourceRef {
    ResourceRef::Object {
        organization: id(ORG),
        project: project.map(id),
        kind: kind.to_owned(),
        id: object.to_owned(),
    }
}

pub fn build(input: &OrganizationPolicies) -> CompiledOrganization {
    match compile(input, &Catalogue::rampart()) {
        Ok(compiled) => compiled,
        Err(e) => panic!("compile failed: {e}"),
    }
}

pub fn ask(
    compiled: &CompiledOrganization,
    who: &PrincipalFacts,
    action: &str,
    resource: &ResourceRef,
    context: &Context,
) -> Decision {
    compiled.authorize(&Request { principal: who, action, resource, context })
}

/// Asserts an allow determined by exactly these policies, without errors.
#[track_caller]
pub fn assert_allowed(decision: &Decision, by: &[&str]) {
    assert!(decision.allowed, "expected allow, got {decision:?}");
    assert_eq!(decision.determining_policies, by, "{decision:?}");
    assert!(decision.errors.is_empty(), "{decision:?}");
}

/// Asserts a deny without errors (nothing granted, or a forbid when `by` is not empty).
#[track_caller]
pub fn assert_denied(decision: &Decision, by: &[&str]) {
    assert!(!decision.allowed, "expected deny, got {decision:?}");
    assert_eq!(decision.determining_policies, by, "{decision:?}");
    assert!(decision.errors.is_empty(), "{decision:?}");
}

pub fn rule_id(policy: u128, rule: usize) -> String {
    format!("policy:{}/rule:{rule}", id(policy))
}
