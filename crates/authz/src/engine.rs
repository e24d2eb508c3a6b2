//! Deciding requests: the compiled organisation, its per-principal slices and their cache.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use cedar_policy::{
    Authorizer, Context as CedarContext, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, RestrictedExpression,
};
use time::UtcOffset;
use uuid::Uuid;

use crate::catalogue::Catalogue;
use crate::compile::{CompiledRaw, CompiledRule, hex_groups};
use crate::model::{
    Context, Decision, OrganizationRef, PrincipalFacts, PrincipalRef, Request, ResourceRef, Role,
};

/// Past this many cached slices the cache starts afresh (a bound on memory, not a policy).
const MAX_CACHED_SLICES: usize = 100_000;

/// Cedar entity type names, parsed once.
#[derive(Clone, Debug)]
pub(crate) struct Types {
    pub(crate) user: EntityTypeName,
    pub(crate) application: EntityTypeName,
    pub(crate) group: EntityTypeName,
    pub(crate) organization: EntityTypeName,
    pub(crate) project: EntityTypeName,
    pub(crate) resource: EntityTypeName,
    pub(crate) action: EntityTypeName,
}

/// What selects a principal's slice: itself, its groups that have policies, and whether the
/// owner and staff built-ins apply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SliceKey {
    principal: PrincipalRef,
    groups: Vec<Uuid>,
    owner: bool,
    staff: bool,
}

/// Sliced policy sets by principal, filled on first use.
#[derive(Debug, Default)]
pub(crate) struct SliceCache(RwLock<HashMap<SliceKey, Arc<PolicySet>>>);

/// One organisation's policies, compiled and indexed; immutable, cheap to share (`Send + Sync`).
///
/// Built by [`crate::compile`]. A change of policies builds a new one, so its cache of sliced
/// policy sets can never be stale.
#[derive(Debug)]
pub struct CompiledOrganization {
    pub(crate) organization: OrganizationRef,
    pub(crate) catalogue: Catalogue,
    pub(crate) projects: HashSet<Uuid>,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) raws: Vec<CompiledRaw>,
    /// Generated and raw policies attached to one user or application.
    pub(crate) by_principal: HashMap<PrincipalRef, Vec<cedar_policy::Policy>>,
    /// Generated and raw policies attached to one group.
    pub(crate) by_group: HashMap<Uuid, Vec<cedar_policy::Policy>>,
    /// Raw policies not tied to one principal or group.
    pub(crate) org_wide: Vec<cedar_policy::Policy>,
    pub(crate) owner_policy: cedar_policy::Policy,
    pub(crate) staff_policy: cedar_policy::Policy,
    /// The only set a principal of another organisation is evaluated against.
    pub(crate) staff_only: Arc<PolicySet>,
    pub(crate) actions: HashMap<String, EntityUid>,
    pub(crate) types: Types,
    pub(crate) authorizer: Authorizer,
    pub(crate) cache: SliceCache,
}

impl CompiledOrganization {
    /// The organisation these policies belong to.
    pub fn organization(&self) -> OrganizationRef {
        self.organization
    }

    /// Rampart's catalogue with this organisation's custom actions and permission sets.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// How many Cedar policies were compiled (rules, raw policies and the two built-ins).
    pub fn policy_count(&self) -> usize {
        self.rules.len() + self.raws.len() + 2
    }

    /// Decides a request. Deny by default; a satisfied `forbid` overrides any `permit`.
    ///
    /// Refused before any policy is evaluated, with a message in `errors`: a resource of
    /// another organisation, an unknown action or project, a group as principal. A principal of
    /// another organisation is evaluated only against the staff built-in (and denied unless it
    /// is an owner of the provider organisation).
    pub fn authorize(&self, request: &Request<'_>) -> Decision {
        let org = self.organization.id;
        let resource_org = request.resource.organization();
        if resource_org != org {
            return Decision::deny_with(format!(
                "the resource belongs to organisation {resource_org}, not to {org} whose policies these are"
            ));
        }
        let Some(action) = self.actions.get(request.action) else {
            return Decision::deny_with(format!("unknown action `{}`", request.action));
        };
        if let Some(project) = request.resource.project()
            && !self.projects.contains(&project)
        {
            return Decision::deny_with(format!(
                "project {project} is not a project of organisation {org}"
            ));
        }
        let facts = request.principal;
        if let PrincipalRef::Group(id) = facts.principal {
            return Decision::deny_with(format!("group {id} cannot make a request"));
        }
        let policies = if facts.organization_id == org {
            self.slice(facts)
        } else if is_staff_owner(facts) {
            Arc::clone(&self.staff_only)
        } else {
            return Decision {
                allowed: false,
                determining_policies: Vec::new(),
                errors: Vec::new(),
            };
        };
        let cedar_request = match self.cedar_request(facts, action, request) {
            Ok(parts) => parts,
            Err(error) => return Decision::deny_with(error),
        };
        let (cedar_request, entities) = cedar_request;
        let response = self.authorizer.is_authorized(&cedar_request, &policies, &entities);
        let mut determining: Vec<String> =
            response.diagnostics().reason().map(ToString::to_string).collect();
        determining.sort();
        Decision {
            allowed: response.decision() == cedar_policy::Decision::Allow,
            determining_policies: determining,
            errors: response.diagnostics().errors().map(ToString::to_string).collect(),
        }
    }

    /// The policy set evaluated for a principal of this organisation: its own policies, its
    /// groups', the organisation-wide raw policies and the built-ins that apply to it.
    fn slice(&self, facts: &PrincipalFacts) -> Arc<PolicySet> {
        let mut groups: Vec<Uuid> =
            facts.groups.iter().copied().filter(|g| self.by_group.contains_key(g)).collect();
        groups.sort_unstable();
        groups.dedup();
        let is_user = matches!(facts.principal, PrincipalRef::User(_));
        let key = SliceKey {
            principal: facts.principal,
            groups,
            owner: is_user && facts.role == Role::Owner,
            staff: is_staff_owner(facts),
        };
        if let Some(hit) = self.cache.0.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Arc::clone(hit);
        }
        let set = Arc::new(self.build_slice(&key));
        let mut cache = self.cache.0.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_SLICES {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&set));
        set
    }

    fn build_slice(&self, key: &SliceKey) -> PolicySet {
        let own = self.by_principal.get(&key.principal).into_iter().flatten();
        let groups = key.groups.iter().filter_map(|g| self.by_group.get(g)).flatten();
        let owner = key.owner.then_some(&self.owner_policy);
        let staff = key.staff.then_some(&self.staff_policy);
        let mut set = PolicySet::new();
        for policy in own.chain(groups).chain(&self.org_wide).chain(owner).chain(staff) {
            // Ids are unique across the organisation (checked when compiling), so this cannot
            // fail; a policy reached twice would only be skipped.
            let _ = set.add(policy.clone());
        }
        set
    }

    fn cedar_request(
        &self,
        facts: &PrincipalFacts,
        action: &EntityUid,
        request: &Request<'_>,
    ) -> Result<(cedar_policy::Request, Entities), String> {
        let t = &self.types;
        let uid = |ty: &EntityTypeName, id: &str| {
            EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
        };
        let principal_org = uid(&t.organization, &facts.organization_id.to_string());
        let mut parents: HashSet<EntityUid> =
            facts.groups.iter().map(|g| uid(&t.group, &g.to_string())).collect();
        parents.insert(principal_org);
        let principal = match facts.principal {
            PrincipalRef::User(id) => {
                let uid = uid(&t.user, &id.to_string());
                let attrs = HashMap::from([
                    (
                        "role".to_owned(),
                        RestrictedExpression::new_string(facts.role.as_str().to_owned()),
                    ),
                    ("staff".to_owned(), RestrictedExpression::new_bool(facts.staff)),
                ]);
                Entity::new(uid, attrs, parents).map_err(|e| e.to_string())?
            }
            PrincipalRef::Application(id) => {
                Entity::new_no_attrs(uid(&t.application, &id.to_string()), parents)
            }
            PrincipalRef::Group(id) => return Err(format!("group {id} cannot make a request")),
        };

        let org_uid = uid(&t.organization, &self.organization.id.to_string());
        let organization = Entity::new(
            org_uid.clone(),
            HashMap::from([(
                "kind".to_owned(),
                RestrictedExpression::new_string(self.organization.kind.as_str().to_owned()),
            )]),
            HashSet::new(),
        )
        .map_err(|e| e.to_string())?;
        let (resource_uid, resource) = match request.resource {
            ResourceRef::Organization(_) => (org_uid, None),
            ResourceRef::Project { project, .. } => {
                let project = uid(&t.project, &project.to_string());
                let entity = Entity::new_no_attrs(project.clone(), HashSet::from([org_uid]));
                (project, Some(entity))
            }
            ResourceRef::Object { project, kind, id, .. } => {
                let object = uid(&t.resource, &format!("{kind}/{id}"));
                let mut parents = HashSet::from([org_uid]);
                if let Some(project) = project {
                    parents.insert(uid(&t.project, &project.to_string()));
                }
                let entity = Entity::new(
                    object.clone(),
                    HashMap::from([(
                        "kind".to_owned(),
                        RestrictedExpression::new_string(kind.clone()),
                    )]),
                    parents,
                )
                .map_err(|e| e.to_string())?;
                (object, Some(entity))
            }
        };
        let principal_uid = principal.uid();
        let entities =
            Entities::from_entities([principal, organization].into_iter().chain(resource), None)
                .map_err(|e| e.to_string())?;
        let context = cedar_context(request.context)?;
        let cedar_request =
            cedar_policy::Request::new(principal_uid, action.clone(), resource_uid, context, None)
                .map_err(|e| e.to_string())?;
        Ok((cedar_request, entities))
    }
}

fn is_staff_owner(facts: &PrincipalFacts) -> bool {
    facts.staff && facts.role == Role::Owner && matches!(facts.principal, PrincipalRef::User(_))
}

/// The request context as Cedar sees it (see the schema's `RequestContext`).
pub(crate) fn cedar_context(context: &Context) -> Result<CedarContext, String> {
    let now = context.now.to_offset(UtcOffset::UTC);
    let mut pairs = Vec::with_capacity(6);
    pairs.push((
        "day_of_week".to_owned(),
        RestrictedExpression::new_long(i64::from(now.weekday().number_from_monday())),
    ));
    pairs.push((
        "minute_of_day".to_owned(),
        RestrictedExpression::new_long(i64::from(now.hour()) * 60 + i64::from(now.minute())),
    ));
    pairs.push(("mfa".to_owned(), RestrictedExpression::new_bool(context.mfa)));
    if let Some(ip) = context.source_ip {
        let text = match ip.to_canonical() {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => hex_groups(&v6.segments()),
        };
        pairs.push(("source_ip".to_owned(), RestrictedExpression::new_ip(text)));
    }
    if let Some(agent) = &context.user_agent {
        pairs.push(("user_agent".to_owned(), RestrictedExpression::new_string(agent.clone())));
    }
    if let Some(at) = context.authenticated_at {
        // A time slightly ahead of `now` (clocks of two replicas) counts as just now.
        let age = (context.now - at).whole_seconds().max(0);
        pairs.push(("auth_age_seconds".to_owned(), RestrictedExpression::new_long(age)));
    }
    CedarContext::from_pairs(pairs).map_err(|e| e.to_string())
}
