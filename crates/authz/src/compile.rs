//! From the policy model to validated Cedar policies, indexed by the principal they attach to.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Authorizer, Effect, EntityTypeName, EntityUid, PolicyId, PolicySet,
    PrincipalConstraint, ResourceConstraint, Schema, ValidationMode, Validator,
};
use ipnet::IpNet;
use uuid::Uuid;

use crate::catalogue::Catalogue;
use crate::engine::{CompiledOrganization, KnownAction, SliceCache, Types};
use crate::error::PolicyError;
use crate::model::{
    Condition, OrganizationPolicies, OrganizationRef, PrincipalRef, Rule, Scope, TimeWindow,
    Weekday,
};

/// Id of the built-in policy granting owners every Rampart action on their organisation.
pub const OWNER_POLICY_ID: &str = "builtin:owner";
/// Id of the built-in policy granting the provider's owners every Rampart action everywhere.
pub const STAFF_POLICY_ID: &str = "builtin:staff";

/// The Cedar action group holding every Rampart action (the built-ins' action scope).
pub(crate) const ALL_RAMPART_GROUP: &str = "all:rampart";

/// The Cedar action group of a permission set.
pub(crate) fn set_group(name: &str) -> String {
    format!("set:{name}")
}

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
    /// The actions its action scope admits, permission-set groups expanded; `None` when
    /// unconstrained.
    pub(crate) actions: Option<HashSet<String>>,
}

/// What of the request a policy's evaluation form reads beyond the principal and the action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// The resource's entity: its ancestors or attributes.
    pub(crate) resource: bool,
    /// `day_of_week` and `minute_of_day`.
    pub(crate) time: bool,
    pub(crate) mfa: bool,
    pub(crate) source_ip: bool,
    pub(crate) user_agent: bool,
    pub(crate) auth_age: bool,
}

impl Needs {
    pub(crate) const ALL: Self = Self {
        resource: true,
        time: true,
        mfa: true,
        source_ip: true,
        user_agent: true,
        auth_age: true,
    };

    pub(crate) fn union(self, other: Self) -> Self {
        Self {
            resource: self.resource || other.resource,
            time: self.time || other.time,
            mfa: self.mfa || other.mfa,
            source_ip: self.source_ip || other.source_ip,
            user_agent: self.user_agent || other.user_agent,
            auth_age: self.auth_age || other.auth_age,
        }
    }

    fn of_condition(condition: &Condition) -> Self {
        Self {
            resource: false,
            time: condition.time_window.is_some(),
            mfa: condition.mfa,
            source_ip: condition.source_ip.is_some(),
            user_agent: condition.user_agent.is_some(),
            auth_age: condition.max_auth_age_seconds.is_some(),
        }
    }

    /// What a raw policy may read, from its JSON form: conservative, never less than it reads.
    fn of_raw(policy: &cedar_policy::Policy) -> Self {
        let Ok(json) = policy.to_json().map(|v| v.to_string()) else {
            return Self::ALL;
        };
        // Every use of `context` is an attribute access or `has` test, unless the counts differ
        // (the whole record compared, say), in which case every attribute counts.
        let context_uses = json.matches(r#"{"Var":"context"}"#).count();
        let attribute_uses = json.matches(r#"{"left":{"Var":"context"},"attr":"#).count();
        let whole_context = context_uses != attribute_uses;
        let named = |attr: &str| whole_context || json.contains(&format!("\"{attr}\""));
        Self {
            resource: !matches!(policy.resource_constraint(), ResourceConstraint::Any)
                || json.contains(r#"{"Var":"resource"}"#),
            time: named("day_of_week") || named("minute_of_day"),
            mfa: named("mfa"),
            source_ip: named("source_ip"),
            user_agent: named("user_agent"),
            auth_age: named("auth_age_seconds"),
        }
    }
}

/// A Cedar policy with what the index needs to select it without evaluating it.
///
/// `policy` is the policy as compiled (for a rule: its principal, action and resource scope
/// and its condition). `eval` is what a slice evaluates: for rules and built-ins the same
/// policy without the scope the index has already decided (the principal, the action, the
/// organisation), for raw policies the policy itself.
#[derive(Clone, Debug)]
pub(crate) struct Indexed {
    pub(crate) policy: cedar_policy::Policy,
    pub(crate) eval: cedar_policy::Policy,
    pub(crate) permit: bool,
    /// The actions its action scope admits; `None` when unconstrained.
    pub(crate) admits: Option<HashSet<String>>,
    /// For a rule scoped to projects, those projects: it applies to nothing else.
    pub(crate) projects: Option<Vec<Uuid>>,
    /// The action groups (`set:…`, `all:rampart`) its evaluation form names anywhere.
    pub(crate) action_groups: Vec<String>,
    pub(crate) needs: Needs,
    /// For a generated rule with a `source_ip` condition, its ranges: a denial from outside
    /// all of them can say so.
    pub(crate) source_ranges: Option<Vec<IpNet>>,
}

impl Indexed {
    pub(crate) fn admits(&self, action: &str) -> bool {
        self.admits.as_ref().is_none_or(|a| a.contains(action))
    }

    /// Whether it can apply to `action` on a resource in `project` (`None`: the organisation
    /// itself, or an object outside projects).
    pub(crate) fn applies(&self, action: &str, project: Option<Uuid>) -> bool {
        self.admits(action)
            && self.projects.as_ref().is_none_or(|list| project.is_some_and(|p| list.contains(&p)))
    }
}

/// Rampart's action groups: which actions each permission set (and the all-Rampart group)
/// holds, and the reverse.
#[derive(Clone, Debug, Default)]
pub(crate) struct ActionGroups {
    pub(crate) members: HashMap<String, HashSet<String>>,
    pub(crate) of_action: HashMap<String, Vec<String>>,
}

impl ActionGroups {
    fn new(catalogue: &Catalogue) -> Self {
        let mut members: HashMap<String, HashSet<String>> = HashMap::new();
        for set in catalogue.permission_sets() {
            members.insert(set_group(&set.name), set.actions.iter().cloned().collect());
        }
        members.insert(
            ALL_RAMPART_GROUP.to_owned(),
            catalogue.builtin_action_names().map(str::to_owned).collect(),
        );
        let mut of_action: HashMap<String, Vec<String>> = HashMap::new();
        for (group, actions) in &members {
            for action in actions {
                of_action.entry(action.clone()).or_default().push(group.clone());
            }
        }
        for groups in of_action.values_mut() {
            groups.sort();
        }
        Self { members, of_action }
    }

    /// The actions named by action-scope entries: groups expanded, plain actions kept.
    fn expand<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> HashSet<String> {
        let mut out = HashSet::new();
        for name in names {
            match self.members.get(name) {
                Some(actions) => out.extend(actions.iter().cloned()),
                None => {
                    out.insert(name.to_owned());
                }
            }
        }
        out
    }

    /// The action groups a policy names anywhere (scope or condition).
    fn named_by(&self, policy: &cedar_policy::Policy) -> Vec<String> {
        let mut groups: Vec<String> = policy
            .entity_literals()
            .iter()
            .filter(|uid| type_is(uid, "Rampart::Action"))
            .map(|uid| uid.id().unescaped().to_owned())
            .filter(|id| self.members.contains_key(id))
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }
}

/// Compiles one organisation's policies.
///
/// Everything is checked before anything is returned: custom actions and sets, every rule's
/// permission sets, scope and condition, the raw Cedar policies (parsed and strictly validated
/// against the schema with the organisation's actions). The result is immutable; a change of
/// policies means compiling again.
///
/// The policies generated from rules are parsed but not run through the validator: their
/// shapes are fixed by this crate and validated by its tests, and validating thousands of them
/// would dominate the compile time.
pub fn compile(
    input: &OrganizationPolicies,
    catalogue: &Catalogue,
) -> Result<CompiledOrganization, PolicyError> {
    let org = input.organization;
    let catalogue = catalogue.with_custom(&input.custom_actions, &input.custom_permission_sets)?;
    let groups = ActionGroups::new(&catalogue);
    let projects: HashSet<Uuid> = input.projects.iter().copied().collect();

    let mut rules = Vec::new();
    let mut indexed: Vec<(SliceOwner, Indexed)> = Vec::new();
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
            let canonical = parse_generated(&compiled.id, &rule_to_cedar(&compiled, org.id))?;
            let eval = parse_generated(&compiled.id, &rule_eval_form(&compiled))?;
            indexed.push((
                SliceOwner::of(policy.principal),
                Indexed {
                    policy: canonical,
                    eval,
                    permit: true,
                    admits: Some(compiled.actions.iter().cloned().collect()),
                    projects: match &compiled.scope {
                        Scope::Organization => None,
                        Scope::Projects(list) => Some(list.clone()),
                    },
                    action_groups: Vec::new(),
                    needs: Needs::of_condition(&compiled.condition),
                    source_ranges: compiled.condition.source_ip.as_ref().map(|ranges| {
                        ranges.iter().filter_map(|range| IpNet::from_str(range).ok()).collect()
                    }),
                },
            ));
            rules.push(compiled);
        }
    }

    // Raw policies are validated strictly against the schema. The generated policies (rules
    // and built-ins) have fixed shapes, validated by this module's tests; so an organisation
    // without raw policies never builds the schema, which pages in megabytes of Cedar's code.
    let validator = if input.raw_policies.is_empty() {
        None
    } else {
        let schema = Schema::from_cedarschema_str(&schema_text(&catalogue))
            .map(|(schema, _warnings)| schema)
            .map_err(|e| PolicyError::Internal(format!("schema: {e}")))?;
        Some(Validator::new(schema))
    };
    let mut raws = Vec::new();
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
        let validator = validator
            .as_ref()
            .ok_or_else(|| PolicyError::Internal("no schema to validate against".into()))?;
        validate(validator, &parsed)
            .map_err(|message| PolicyError::CedarValidation { id: raw.id, message })?;
        let described = describe_raw(&id, &parsed, &groups);
        indexed.push((
            described.owner,
            Indexed {
                admits: described.actions.clone(),
                projects: None,
                action_groups: groups.named_by(&parsed),
                permit: !described.forbid,
                needs: Needs::of_raw(&parsed),
                source_ranges: None,
                eval: parsed.clone(),
                policy: parsed,
            },
        ));
        raws.push(described);
    }

    let builtin = |id: &str, text: String, eval: String| -> Result<Indexed, PolicyError> {
        let policy = parse_generated(id, &text)?;
        Ok(Indexed {
            eval: parse_generated(id, &eval)?,
            policy,
            permit: true,
            admits: Some(groups.expand([ALL_RAMPART_GROUP])),
            projects: None,
            action_groups: Vec::new(),
            needs: Needs::default(),
            source_ranges: None,
        })
    };
    let owner_policy =
        builtin(OWNER_POLICY_ID, owner_policy_text(org.id), OWNER_EVAL_FORM.to_owned())?;
    let staff_policy =
        builtin(STAFF_POLICY_ID, staff_policy_text(org.id), STAFF_EVAL_FORM.to_owned())?;

    let mut by_principal: HashMap<PrincipalRef, Vec<Indexed>> = HashMap::new();
    let mut by_group: HashMap<Uuid, Vec<Indexed>> = HashMap::new();
    let mut org_wide = Vec::new();
    for (owner, policy) in indexed {
        match owner {
            SliceOwner::Principal(p) => by_principal.entry(p).or_default().push(policy),
            SliceOwner::Group(g) => by_group.entry(g).or_default().push(policy),
            SliceOwner::OrgWide => org_wide.push(policy),
        }
    }

    let types = Types::new()?;
    let actions = catalogue
        .actions()
        .enumerate()
        .map(|(index, a)| {
            let uid = EntityUid::from_type_name_and_id(
                types.action.clone(),
                cedar_policy::EntityId::new(&a.name),
            );
            (a.name.clone(), KnownAction { index, uid })
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
        action_groups: groups,
        actions,
        types,
        authorizer: Authorizer::new(),
        cache: SliceCache::default(),
    })
}

/// Strict validation of one policy; the validator's messages when it fails.
fn validate(validator: &Validator, policy: &cedar_policy::Policy) -> Result<(), String> {
    let mut set = PolicySet::new();
    set.add(policy.clone()).map_err(|e| e.to_string())?;
    let result = validator.validate(&set, ValidationMode::Strict);
    if result.validation_passed() {
        Ok(())
    } else {
        Err(join(result.validation_errors().map(|e| e.to_string())))
    }
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
        clauses.push(format!(
            "({}) && context.minute_of_day >= {} && context.minute_of_day < {}",
            day_test(&w.days),
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

/// `context.day_of_week` within the days, as comparisons over runs of consecutive days (set
/// literals cost an allocation and a sort at every evaluation).
fn day_test(days: &[Weekday]) -> String {
    let mut numbers: Vec<u8> = days.iter().map(|d| d.number()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut runs: Vec<(u8, u8)> = Vec::new();
    for n in numbers {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == n => *last = n,
            _ => runs.push((n, n)),
        }
    }
    let tests: Vec<String> = runs
        .iter()
        .map(|&(first, last)| match (first, last) {
            (1, 7) => "true".to_owned(),
            (f, l) if f == l => format!("context.day_of_week == {f}"),
            (1, l) => format!("context.day_of_week <= {l}"),
            (f, 7) => format!("context.day_of_week >= {f}"),
            (f, l) => format!("(context.day_of_week >= {f} && context.day_of_week <= {l})"),
        })
        .collect();
    tests.join(" || ")
}

fn rule_to_cedar(rule: &CompiledRule, org: Uuid) -> String {
    let principal = match rule.principal {
        PrincipalRef::User(id) => format!("principal == {}", entity("User", id)),
        PrincipalRef::Application(id) => format!("principal == {}", entity("Application", id)),
        PrincipalRef::Group(id) => format!("principal in {}", entity("Group", id)),
    };
    // A single entity rather than a one-element list: lists become sets at evaluation.
    let action = match rule.permission_sets.as_slice() {
        [single] => entity("Action", set_group(single)),
        many => action_list(many.iter().map(|s| set_group(s))),
    };
    let mut when = Vec::new();
    let resource = match &rule.scope {
        Scope::Organization => format!("resource in {}", entity("Organization", org)),
        Scope::Projects(list) => match list.as_slice() {
            [single] => format!("resource in {}", entity("Project", single)),
            many => {
                let tests: Vec<String> =
                    many.iter().map(|p| format!("resource in {}", entity("Project", p))).collect();
                when.push(format!("({})", tests.join(" || ")));
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
    text
}

/// What a slice evaluates of a rule: its condition. The slice only holds the rule when the
/// request's principal is (in) the rule's principal, the action is in the rule's permission
/// sets and the resource is the organisation's and in the rule's projects, so its scope holds.
fn rule_eval_form(rule: &CompiledRule) -> String {
    match condition_to_cedar(&rule.condition) {
        None => "permit (principal, action, resource);".to_owned(),
        Some(condition) => {
            format!("permit (principal, action, resource) when {{\n  {condition}\n}};")
        }
    }
}

/// The built-ins as slices evaluate them (see [`rule_eval_form`]): the owner slice holds only
/// users of the organisation asking for a Rampart action on one of its resources.
const OWNER_EVAL_FORM: &str = "permit (principal, action, resource) when { principal is Rampart::User && principal.role == \"owner\" };";
const STAFF_EVAL_FORM: &str = "permit (principal, action, resource) when { principal is Rampart::User && principal.staff && principal.role == \"owner\" };";

fn owner_policy_text(org: Uuid) -> String {
    format!(
        "permit (\n  principal is Rampart::User in {org},\n  action in {all},\n  resource in {org}\n) when {{ principal.role == \"owner\" }};",
        org = entity("Organization", org),
        all = entity("Action", ALL_RAMPART_GROUP),
    )
}

fn staff_policy_text(org: Uuid) -> String {
    format!(
        "permit (\n  principal is Rampart::User,\n  action in {all},\n  resource in {org}\n) when {{ principal.staff && principal.role == \"owner\" }};",
        org = entity("Organization", org),
        all = entity("Action", ALL_RAMPART_GROUP),
    )
}

/// Rampart's Cedar schema, with the organisation's actions and one action group per
/// permission set.
pub(crate) fn schema_text(catalogue: &Catalogue) -> String {
    let mut groups: Vec<String> =
        catalogue.permission_sets().map(|s| format!("\"{}\"", set_group(&s.name))).collect();
    groups.push(format!("\"{ALL_RAMPART_GROUP}\""));
    let mut actions = String::new();
    for action in catalogue.actions() {
        let mut member_of: Vec<String> = catalogue
            .permission_sets()
            .filter(|s| s.actions.contains(&action.name))
            .map(|s| format!("\"{}\"", set_group(&s.name)))
            .collect();
        if action.builtin {
            member_of.push(format!("\"{ALL_RAMPART_GROUP}\""));
        }
        let member_of = if member_of.is_empty() {
            String::new()
        } else {
            format!(" in [{}]", member_of.join(", "))
        };
        let _ = writeln!(
            actions,
            "  action \"{}\"{member_of} appliesTo {{\n    principal: [User, Application],\n    resource: [Organization, Project, Resource],\n    context: RequestContext\n  }};",
            action.name,
        );
    }
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
  action {};
{}}}
"#,
        groups.join(", "),
        actions
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

fn describe_raw(id: &str, policy: &cedar_policy::Policy, groups: &ActionGroups) -> CompiledRaw {
    let actions = match policy.action_constraint() {
        ActionConstraint::Any => None,
        ActionConstraint::Eq(uid) => Some(groups.expand([uid.id().unescaped()])),
        ActionConstraint::In(uids) => Some(groups.expand(uids.iter().map(|u| u.id().unescaped()))),
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

    /// The rule policies are not validated when compiling; every shape they take is here.
    #[test]
    fn every_generated_shape_passes_strict_validation() {
        use crate::catalogue::{CustomAction, CustomPermissionSet};
        use crate::model::{OrganizationKind, Policy, TimeWindow};

        let id = |n: u128| Uuid::from_u128(n);
        let all_conditions = Condition {
            source_ip: Some(vec!["10.0.0.0/8".into(), "2001:db8::/32".into()]),
            time_window: Some(TimeWindow {
                days: vec![Weekday::Monday, Weekday::Wednesday, Weekday::Thursday],
                start_minute: 60,
                end_minute: 1440,
            }),
            user_agent: Some(r#"a "quoted" \ *"#.into()),
            mfa: true,
            max_auth_age_seconds: Some(60),
        };
        let conditions = [
            Condition::default(),
            Condition { source_ip: all_conditions.source_ip.clone(), ..Condition::default() },
            Condition { time_window: all_conditions.time_window.clone(), ..Condition::default() },
            Condition { user_agent: all_conditions.user_agent.clone(), ..Condition::default() },
            Condition { mfa: true, ..Condition::default() },
            Condition { max_auth_age_seconds: Some(1), ..Condition::default() },
            all_conditions,
        ];
        let scopes = [
            Scope::Organization,
            Scope::Projects(vec![id(11)]),
            Scope::Projects(vec![id(11), id(12)]),
        ];
        let sets: [&[&str]; 3] = [&["IAMReadOnly"], &["ProjectManager", "Servers"], &["Servers"]];
        let mut policies = Vec::new();
        let principals = [
            PrincipalRef::User(id(21)),
            PrincipalRef::Group(id(22)),
            PrincipalRef::Application(id(23)),
        ];
        for (n, principal) in principals.into_iter().enumerate() {
            let mut rules = Vec::new();
            for condition in &conditions {
                for scope in &scopes {
                    for set in sets {
                        rules.push(Rule {
                            permission_sets: set.iter().map(|s| (*s).to_owned()).collect(),
                            scope: scope.clone(),
                            condition: condition.clone(),
                        });
                    }
                }
            }
            policies.push(Policy { id: id(100 + n as u128), principal, rules });
        }
        let input = OrganizationPolicies {
            organization: OrganizationRef { id: id(1), kind: OrganizationKind::Customer },
            projects: vec![id(11), id(12)],
            custom_actions: vec![CustomAction {
                name: "instances:servers:read".into(),
                description: String::new(),
                privileged: false,
            }],
            custom_permission_sets: vec![CustomPermissionSet {
                name: "Servers".into(),
                description: String::new(),
                actions: vec!["instances:servers:read".into()],
            }],
            policies,
            raw_policies: Vec::new(),
        };
        let compiled = compile(&input, &Catalogue::rampart()).unwrap();
        let (schema, _) = Schema::from_cedarschema_str(&schema_text(&compiled.catalogue)).unwrap();
        let validator = Validator::new(schema);
        let generated: Vec<&Indexed> =
            compiled.by_principal.values().chain(compiled.by_group.values()).flatten().collect();
        assert_eq!(generated.len(), 3 * conditions.len() * scopes.len() * sets.len());
        let builtins = [&compiled.owner_policy, &compiled.staff_policy];
        for indexed in generated.into_iter().chain(builtins) {
            if let Err(message) = validate(&validator, &indexed.policy) {
                panic!("{}: {message}\n{}", indexed.policy.id(), indexed.policy);
            }
        }
    }

    #[test]
    fn days_become_ranges() {
        use Weekday::*;
        assert_eq!(day_test(&[Monday]), "context.day_of_week == 1");
        assert_eq!(
            day_test(&[Friday, Monday, Tuesday, Wednesday, Thursday]),
            "context.day_of_week <= 5"
        );
        assert_eq!(day_test(&[Saturday, Sunday]), "context.day_of_week >= 6");
        assert_eq!(
            day_test(&[Monday, Wednesday, Thursday, Sunday]),
            "context.day_of_week == 1 || (context.day_of_week >= 3 && context.day_of_week <= 4) || context.day_of_week == 7"
        );
        assert_eq!(
            day_test(&[Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday]),
            "true"
        );
    }

    #[test]
    fn raw_needs_are_read_from_the_policy() {
        let needs = |text: &str| Needs::of_raw(&cedar_policy::Policy::parse(None, text).unwrap());
        assert_eq!(needs("permit (principal, action, resource);"), Needs::default());
        let n = needs(
            r#"forbid (principal, action, resource) when { context has source_ip && context.source_ip.isIpv4() };"#,
        );
        assert_eq!(n, Needs { source_ip: true, ..Needs::default() });
        let n = needs(r#"forbid (principal, action, resource) unless { context.mfa };"#);
        assert_eq!(n, Needs { mfa: true, ..Needs::default() });
        let n =
            needs(r#"forbid (principal, action, resource) when { context.minute_of_day < 5 };"#);
        assert_eq!(n, Needs { time: true, ..Needs::default() });
        let n =
            needs(r#"permit (principal, action, resource) when { context["user_agent"] == "x" };"#);
        assert_eq!(n, Needs { user_agent: true, ..Needs::default() });
        let n = needs(r#"permit (principal, action, resource is Rampart::Resource);"#);
        assert_eq!(n, Needs { resource: true, ..Needs::default() });
        let n = needs(r#"permit (principal, action, resource) when { principal in resource };"#);
        assert!(n.resource);
        // The whole record used as a value: every attribute counts.
        let n = needs(r#"permit (principal, action, resource) when { context == context };"#);
        assert_eq!(n, Needs { resource: false, ..Needs::ALL });
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(cedar_string(r#"a"b\c*"#), r#""a\"b\\c*""#);
    }
}
