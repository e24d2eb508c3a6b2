//! From the policy model to validated Cedar policies, indexed by the principal they attach to.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Authorizer, Effect, EntityTypeName, EntityUid, PolicyId, PolicySet,
    PrincipalConstraint, Schema, ValidationMode, Validator,
};
use ipnet::IpNet;
use uuid::Uuid;

use crate::catalogue::Catalogue;
use crate::engine::{CompiledOrganization, SliceCache, Types};
use crate::error::PolicyError;
use crate::model::{
    Condition, OrganizationPolicies, OrganizationRef, PrincipalRef, Rule, Scope, TimeWindow,
};

/// Id of the built-in policy granting owners every Rampart action on their organisation.
pub const OWNER_POLICY_ID: &str = "builtin:owner";
/// Id of the built-in policy granting the provider's owners every Rampart action everywhere.
pub const STAFF_POLICY_ID: &str = "builtin:staff";

/// Longest accepted user-agent pattern, in bytes.
const MAX_USER_AGENT_PATTERN: usize = 512;
/// Longest accepted raw Cedar policy, in bytes.
const MAX_RAW_POLICY: usize = 64 * 1024;

/// The policy a rule or raw policy is indexed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SliceOwner {
    /// Evaluated only for this user or application.
    Principal(PrincipalRef),
    /// Evaluated only for members of this group.
    Group(Uuid),
    /// Evaluated for every principal of the organisation.
    OrgWide,
}

impl SliceOwner {
    fn of(principal: PrincipalRef) -> Self {
        match principal {
            PrincipalRef::Group(id) => Self::Group(id),
            other => Self::Principal(other),
        }
    }
}

/// A validated rule, kept for the queries.
#[derive(Clone, Debug)]
pub(crate) struct CompiledRule {
    /// `policy:<uuid>/rule:<index>`.
    pub(crate) id: String,
    pub(crate) principal: PrincipalRef,
    pub(crate) permission_sets: Vec<String>,
    pub(crate) actions: BTreeSet<String>,
    pub(crate) scope: Scope,
    pub(crate) condition: Condition,
}

/// What the queries need to know of a raw policy without evaluating it.
#[derive(Clone, Debug)]
pub(crate) struct CompiledRaw {
    /// `raw:<uuid>`.
    pub(crate) id: String,
    pub(crate) forbid: bool,
    pub(crate) owner: SliceOwner,
    /// `None` when the policy's action scope is unconstrained.
    pub(crate) actions: Option<BTreeSet<String>>,
}

/// Compiles one organisation's policies.
///
/// Everything is checked before anything is returned: custom actions and sets, every rule's
/// permission sets, scope and condition, the raw Cedar policies (parsed and strictly validated
/// against the schema with the organisation's actions). The result is immutable; a change of
/// policies means compiling again.
pub fn compile(
    input: &OrganizationPolicies,
    catalogue: &Catalogue,
) -> Result<CompiledOrganization, PolicyError> {
    let org = input.organization;
    let catalogue = catalogue.with_custom(&input.custom_actions, &input.custom_permission_sets)?;
    let projects: HashSet<Uuid> = input.projects.iter().copied().collect();

    let mut rules = Vec::new();
    let mut generated: Vec<(SliceOwner, cedar_policy::Policy)> = Vec::new();
    let mut policy_ids = HashSet::new();
    for policy in &input.policies {
        if !policy_ids.insert(policy.id) {
            return Err(PolicyError::Duplicate { what: "policy", name: policy.id.to_string() });
        }
        if policy.rules.is_empty() {
            return Err(PolicyError::InvalidPolicy {
                location: format!("policy {}", policy.id),
                reason: "a policy needs at least one rule".to_owned(),
            });
        }
        for (index, rule) in policy.rules.iter().enumerate() {
            let location = format!("policy {} rule {index}", policy.id);
            let compiled =
                check_rule(rule, policy.principal, &location, &catalogue, org, &projects)?;
            let compiled =
                CompiledRule { id: format!("policy:{}/rule:{index}", policy.id), ..compiled };
            let text = rule_to_cedar(&compiled, org.id)?;
            let parsed = parse_generated(&compiled.id, &text)?;
            generated.push((SliceOwner::of(policy.principal), parsed));
            rules.push(compiled);
        }
    }

    let mut raws = Vec::new();
    let mut raw_policies = Vec::new();
    let mut raw_ids = HashSet::new();
    for raw in &input.raw_policies {
        if !raw_ids.insert(raw.id) {
            return Err(PolicyError::Duplicate { what: "raw policy", name: raw.id.to_string() });
        }
        if raw.text.len() > MAX_RAW_POLICY {
            return Err(PolicyError::CedarParse {
                id: raw.id,
                message: format!("longer than {MAX_RAW_POLICY} bytes"),
            });
        }
        let id = format!("raw:{}", raw.id);
        let parsed =
            cedar_policy::Policy::parse(Some(PolicyId::new(&id)), &raw.text).map_err(|errors| {
                PolicyError::CedarParse {
                    id: raw.id,
                    message: join(errors.iter().map(|e| e.to_string())),
                }
            })?;
        raws.push(describe_raw(&id, &parsed));
        raw_policies.push((raw.id, parsed));
    }

    let all_rampart: Vec<&str> = catalogue.builtin_action_names().collect();
    let owner_policy = parse_generated(OWNER_POLICY_ID, &owner_policy_text(org.id, &all_rampart))?;
    let staff_policy = parse_generated(STAFF_POLICY_ID, &staff_policy_text(org.id, &all_rampart))?;

    let schema_text = schema_text(&catalogue);
    let schema = Schema::from_cedarschema_str(&schema_text)
        .map(|(schema, _warnings)| schema)
        .map_err(|e| PolicyError::Internal(format!("schema: {e}")))?;

    // One strict validation pass over everything: raw policies are the organisation's to fix;
    // a generated policy failing would be a bug here.
    let mut all = PolicySet::new();
    let generated_policies = generated.iter().map(|(_, p)| p);
    let raw_iter = raw_policies.iter().map(|(_, p)| p);
    for policy in generated_policies.chain(raw_iter).chain([&owner_policy, &staff_policy]) {
        all.add(policy.clone()).map_err(|e| PolicyError::Internal(format!("policy set: {e}")))?;
    }
    let validation = Validator::new(schema).validate(&all, ValidationMode::Strict);
    if !validation.validation_passed() {
        let mut by_policy: HashMap<String, Vec<String>> = HashMap::new();
        for error in validation.validation_errors() {
            by_policy.entry(error.policy_id().to_string()).or_default().push(error.to_string());
        }
        // Report the first raw policy in input order, for a stable message.
        for (id, _) in &raw_policies {
            if let Some(messages) = by_policy.get(&format!("raw:{id}")) {
                return Err(PolicyError::CedarValidation {
                    id: *id,
                    message: join(messages.iter().cloned()),
                });
            }
        }
        let mut messages: Vec<String> = by_policy.into_values().flatten().collect();
        messages.sort();
        return Err(PolicyError::Internal(format!(
            "generated policy fails validation: {}",
            join(messages)
        )));
    }

    let mut by_owner: HashMap<SliceOwner, Vec<cedar_policy::Policy>> = HashMap::new();
    for (owner, policy) in generated {
        by_owner.entry(owner).or_default().push(policy);
    }
    for ((_, policy), raw) in raw_policies.into_iter().zip(&raws) {
        by_owner.entry(raw.owner).or_default().push(policy);
    }
    let org_wide = by_owner.remove(&SliceOwner::OrgWide).unwrap_or_default();
    let mut by_principal = HashMap::new();
    let mut by_group = HashMap::new();
    for (owner, policies) in by_owner {
        match owner {
            SliceOwner::Principal(p) => {
                by_principal.insert(p, policies);
            }
            SliceOwner::Group(g) => {
                by_group.insert(g, policies);
            }
            SliceOwner::OrgWide => {}
        }
    }

    let mut staff_only = PolicySet::new();
    staff_only
        .add(staff_policy.clone())
        .map_err(|e| PolicyError::Internal(format!("policy set: {e}")))?;

    let types = Types::new()?;
    let actions = catalogue
        .actions()
        .map(|a| {
            (
                a.name.clone(),
                EntityUid::from_type_name_and_id(
                    types.action.clone(),
                    cedar_policy::EntityId::new(&a.name),
                ),
            )
        })
        .collect();

    Ok(CompiledOrganization {
        organization: org,
        catalogue,
        projects,
        rules,
        raws,
        by_principal,
        by_group,
        org_wide,
        owner_policy,
        staff_policy,
        staff_only: std::sync::Arc::new(staff_only),
        actions,
        types,
        authorizer: Authorizer::new(),
        cache: SliceCache::default(),
    })
}

fn join(messages: impl IntoIterator<Item = String>) -> String {
    messages.into_iter().collect::<Vec<_>>().join("; ")
}

fn parse_generated(id: &str, text: &str) -> Result<cedar_policy::Policy, PolicyError> {
    cedar_policy::Policy::parse(Some(PolicyId::new(id)), text)
        .map_err(|e| PolicyError::Internal(format!("generated policy {id} does not parse: {e}")))
}

/// Checks a rule and resolves its permission sets to actions.
fn check_rule(
    rule: &Rule,
    principal: PrincipalRef,
    location: &str,
    catalogue: &Catalogue,
    org: OrganizationRef,
    projects: &HashSet<Uuid>,
) -> Result<CompiledRule, PolicyError> {
    if rule.permission_sets.is_empty() {
        return Err(PolicyError::InvalidPolicy {
            location: location.to_owned(),
            reason: "a rule needs at least one permission set".to_owned(),
        });
    }
    let mut actions = BTreeSet::new();
    for name in &rule.permission_sets {
        let set = catalogue.permission_set(name).ok_or_else(|| {
            PolicyError::UnknownPermissionSet { name: name.clone(), location: location.to_owned() }
        })?;
        actions.extend(set.actions.iter().cloned());
    }
    let scope = match &rule.scope {
        Scope::Organization => Scope::Organization,
        Scope::Projects(list) => {
            if list.is_empty() {
                return Err(PolicyError::InvalidPolicy {
                    location: location.to_owned(),
                    reason: "a project scope needs at least one project".to_owned(),
                });
            }
            let mut unique = Vec::with_capacity(list.len());
            for project in list {
                if !projects.contains(project) {
                    return Err(PolicyError::ProjectOutsideOrganization {
                        project: *project,
                        organization: org.id,
                        location: location.to_owned(),
                    });
                }
                if !unique.contains(project) {
                    unique.push(*project);
                }
            }
            Scope::Projects(unique)
        }
    };
    let condition = check_condition(&rule.condition, location)?;
    Ok(CompiledRule {
        id: String::new(),
        principal,
        permission_sets: rule.permission_sets.clone(),
        actions,
        scope,
        condition,
    })
}

/// Checks a condition; returns it normalised (CIDRs canonical, days sorted and unique).
pub(crate) fn check_condition(
    condition: &Condition,
    location: &str,
) -> Result<Condition, PolicyError> {
    let mut out = condition.clone();
    if let Some(cidrs) = &condition.source_ip {
        if cidrs.is_empty() {
            return Err(PolicyError::InvalidCidr {
                cidr: String::new(),
                location: location.to_owned(),
                reason: "the list of source ranges is empty; omit `source_ip` for any address"
                    .to_owned(),
            });
        }
        let mut canonical = Vec::with_capacity(cidrs.len());
        for cidr in cidrs {
            canonical.push(canonical_cidr(cidr).map_err(|reason| PolicyError::InvalidCidr {
                cidr: cidr.clone(),
                location: location.to_owned(),
                reason,
            })?);
        }
        out.source_ip = Some(canonical);
    }
    if let Some(window) = &condition.time_window {
        out.time_window = Some(check_window(window).map_err(|reason| {
            PolicyError::InvalidTimeWindow { location: location.to_owned(), reason }
        })?);
    }
    if let Some(pattern) = &condition.user_agent {
        let reason = if pattern.is_empty() {
            Some("the pattern is empty".to_owned())
        } else if pattern.len() > MAX_USER_AGENT_PATTERN {
            Some(format!("the pattern is longer than {MAX_USER_AGENT_PATTERN} bytes"))
        } else if pattern.chars().any(char::is_control) {
            Some("the pattern contains control characters".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(PolicyError::InvalidUserAgentPattern {
                location: location.to_owned(),
                reason,
            });
        }
    }
    if condition.max_auth_age_seconds == Some(0) {
        return Err(PolicyError::InvalidMaxAuthAge {
            location: location.to_owned(),
            reason: "must be at least one second".to_owned(),
        });
    }
    Ok(out)
}

/// `a.b.c.d/n` or `x:…/n` with no host bits set, in canonical form.
fn canonical_cidr(text: &str) -> Result<String, String> {
    if !text.contains('/') {
        return Err("expected address/prefix, e.g. 192.0.2.0/24 or 2001:db8::/32".to_owned());
    }
    let net = IpNet::from_str(text.trim()).map_err(|_| {
        "not an IPv4 or IPv6 range of the form address/prefix (prefix at most 32 for IPv4, 128 for IPv6)".to_owned()
    })?;
    if net.trunc() != net {
        return Err(format!(
            "host bits are set after the /{} prefix; did you mean {}?",
            net.prefix_len(),
            cedar_cidr(&net.trunc())
        ));
    }
    Ok(cedar_cidr(&net))
}

/// A range in a form Cedar's `ip()` accepts: IPv6 always as eight hexadecimal groups (Cedar
/// refuses the dotted tail Rust prints for IPv4-mapped ranges).
fn cedar_cidr(net: &IpNet) -> String {
    match net {
        IpNet::V4(v4) => format!("{}/{}", v4.network(), v4.prefix_len()),
        IpNet::V6(v6) => format!("{}/{}", hex_groups(&v6.network().segments()), v6.prefix_len()),
    }
}

pub(crate) fn hex_groups(segments: &[u16; 8]) -> String {
    let mut out = String::with_capacity(39);
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{s:x}");
    }
    out
}

fn check_window(window: &TimeWindow) -> Result<TimeWindow, String> {
    if window.days.is_empty() {
        return Err("no day of the week is selected".to_owned());
    }
    if window.start_minute >= 1440 {
        return Err(format!(
            "start minute {} is not a minute of the day (0 to 1439)",
            window.start_minute
        ));
    }
    if window.end_minute > 1440 {
        return Err(format!(
            "end minute {} is past the end of the day (at most 1440, exclusive)",
            window.end_minute
        ));
    }
    if window.start_minute >= window.end_minute {
        return Err(format!(
            "start minute {} is not before end minute {}",
            window.start_minute, window.end_minute
        ));
    }
    let mut days = window.days.clone();
    days.sort();
    days.dedup();
    Ok(TimeWindow { days, start_minute: window.start_minute, end_minute: window.end_minute })
}

fn entity(ty: &str, id: impl std::fmt::Display) -> String {
    format!("Rampart::{ty}::\"{id}\"")
}

fn action_list(actions: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let items: Vec<String> = actions.into_iter().map(|a| entity("Action", a.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// A string literal for Cedar (also inside `like`, where `*` stays a wildcard).
fn cedar_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `when` clauses of a condition, joined with `&&`; `None` when unconditional.
fn condition_to_cedar(condition: &Condition) -> Option<String> {
    let mut clauses = Vec::new();
    if let Some(cidrs) = &condition.source_ip {
        let tests: Vec<String> =
            cidrs.iter().map(|c| format!("context.source_ip.isInRange(ip(\"{c}\"))")).collect();
        clauses.push(format!("(context has source_ip && ({}))", tests.join(" || ")));
    }
    if let Some(w) = &condition.time_window {
        let days: Vec<String> = w.days.iter().map(|d| d.number().to_string()).collect();
        clauses.push(format!(
            "[{}].contains(context.day_of_week) && context.minute_of_day >= {} && context.minute_of_day < {}",
            days.join(", "),
            w.start_minute,
            w.end_minute
        ));
    }
    if let Some(pattern) = &condition.user_agent {
        clauses.push(format!(
            "(context has user_agent && context.user_agent like {})",
            cedar_string(pattern)
        ));
    }
    if condition.mfa {
        clauses.push("context.mfa".to_owned());
    }
    if let Some(age) = condition.max_auth_age_seconds {
        clauses
            .push(format!("(context has auth_age_seconds && context.auth_age_seconds <= {age})"));
    }
    (!clauses.is_empty()).then(|| clauses.join(" && "))
}

fn rule_to_cedar(rule: &CompiledRule, org: Uuid) -> Result<String, PolicyError> {
    let principal = match rule.principal {
        PrincipalRef::User(id) => format!("principal == {}", entity("User", id)),
        PrincipalRef::Application(id) => format!("principal == {}", entity("Application", id)),
        PrincipalRef::Group(id) => format!("principal in {}", entity("Group", id)),
    };
    let action = action_list(&rule.actions);
    let mut when = Vec::new();
    let resource = match &rule.scope {
        Scope::Organization => format!("resource in {}", entity("Organization", org)),
        Scope::Projects(list) => match list.as_slice() {
            [single] => format!("resource in {}", entity("Project", single)),
            many => {
                let items: Vec<String> = many.iter().map(|p| entity("Project", p)).collect();
                when.push(format!("resource in [{}]", items.join(", ")));
                "resource".to_owned()
            }
        },
    };
    if let Some(condition) = condition_to_cedar(&rule.condition) {
        when.push(condition);
    }
    let mut text = format!("permit (\n  {principal},\n  action in {action},\n  {resource}\n)");
    if !when.is_empty() {
        let _ = write!(text, " when {{\n  {}\n}}", when.join(" && "));
    }
    text.push(';');
    Ok(text)
}

fn owner_policy_text(org: Uuid, actions: &[&str]) -> String {
    format!(
        "permit (\n  principal is Rampart::User in {org},\n  action in {actions},\n  resource in {org}\n) when {{ principal.role == \"owner\" }};",
        org = entity("Organization", org),
        actions = action_list(actions),
    )
}

fn staff_policy_text(org: Uuid, actions: &[&str]) -> String {
    format!(
        "permit (\n  principal is Rampart::User,\n  action in {actions},\n  resource in {org}\n) when {{ principal.staff && principal.role == \"owner\" }};",
        org = entity("Organization", org),
        actions = action_list(actions),
    )
}

/// Rampart's Cedar schema, with the organisation's actions.
pub(crate) fn schema_text(catalogue: &Catalogue) -> String {
    let actions: Vec<String> = catalogue.actions().map(|a| format!("\"{}\"", a.name)).collect();
    format!(
        r#"namespace Rampart {{
  type RequestContext = {{
    "source_ip"?: __cedar::ipaddr,
    "day_of_week": Long,
    "minute_of_day": Long,
    "user_agent"?: String,
    "mfa": Bool,
    "auth_age_seconds"?: Long,
  }};
  entity Organization = {{ "kind": String }};
  entity Project in [Organization];
  entity Group in [Organization];
  entity User in [Group, Organization] = {{ "role": String, "staff": Bool }};
  entity Application in [Group, Organization];
  entity Resource in [Project, Organization] = {{ "kind": String }};
  action {} appliesTo {{
    principal: [User, Application],
    resource: [Organization, Project, Resource],
    context: RequestContext
  }};
}}
"#,
        actions.join(", ")
    )
}

fn type_is(uid: &EntityUid, name: &str) -> bool {
    uid.type_name().to_string() == name
}

/// Where a raw policy belongs in the index, read from its principal scope; anything not tied to
/// one user, application or group is organisation-wide. Over-including is always safe.
fn raw_owner(constraint: PrincipalConstraint) -> SliceOwner {
    let uid = match constraint {
        PrincipalConstraint::Eq(uid)
        | PrincipalConstraint::In(uid)
        | PrincipalConstraint::IsIn(_, uid) => uid,
        PrincipalConstraint::Any | PrincipalConstraint::Is(_) => return SliceOwner::OrgWide,
    };
    let Ok(id) = Uuid::parse_str(uid.id().unescaped()) else {
        return SliceOwner::OrgWide;
    };
    if type_is(&uid, "Rampart::User") {
        SliceOwner::Principal(PrincipalRef::User(id))
    } else if type_is(&uid, "Rampart::Application") {
        SliceOwner::Principal(PrincipalRef::Application(id))
    } else if type_is(&uid, "Rampart::Group") {
        SliceOwner::Group(id)
    } else {
        SliceOwner::OrgWide
    }
}

fn describe_raw(id: &str, policy: &cedar_policy::Policy) -> CompiledRaw {
    let names = |uids: Vec<EntityUid>| -> BTreeSet<String> {
        uids.iter().map(|uid| uid.id().unescaped().to_owned()).collect()
    };
    let actions = match policy.action_constraint() {
        ActionConstraint::Any => None,
        ActionConstraint::Eq(uid) => Some(names(vec![uid])),
        ActionConstraint::In(uids) => Some(names(uids)),
    };
    CompiledRaw {
        id: id.to_owned(),
        forbid: policy.effect() == Effect::Forbid,
        owner: raw_owner(policy.principal_constraint()),
        actions,
    }
}

impl Types {
    fn new() -> Result<Self, PolicyError> {
        let name = |n: &str| {
            EntityTypeName::from_str(n).map_err(|e| PolicyError::Internal(format!("{n}: {e}")))
        };
        Ok(Self {
            user: name("Rampart::User")?,
            application: name("Rampart::Application")?,
            group: name("Rampart::Group")?,
            organization: name("Rampart::Organization")?,
            project: name("Rampart::Project")?,
            resource: name("Rampart::Resource")?,
            action: name("Rampart::Action")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_canonical() {
        assert_eq!(canonical_cidr("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(canonical_cidr("2001:db8::/32").unwrap(), "2001:db8:0:0:0:0:0:0/32");
        assert_eq!(canonical_cidr("::ffff:0:0/96").unwrap(), "0:0:0:0:0:ffff:0:0/96");
        let err = canonical_cidr("10.0.0.1/8").unwrap_err();
        assert!(err.contains("did you mean 10.0.0.0/8"), "{err}");
        assert!(canonical_cidr("10.0.0.0").is_err());
        assert!(canonical_cidr("10.0.0.0/33").is_err());
        assert!(canonical_cidr("banana/3").is_err());
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(cedar_string(r#"a"b\c*"#), r#""a\"b\\c*""#);
    }
}
