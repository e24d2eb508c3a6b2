//! Deciding requests: the compiled organisation, its per-principal slices and their cache.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use cedar_policy::{
    Authorizer, Context as CedarContext, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, RestrictedExpression,
};
use ipnet::IpNet;
use time::UtcOffset;
use uuid::Uuid;

use crate::catalogue::Catalogue;
use crate::compile::{ActionGroups, CompiledRaw, CompiledRule, Indexed, Needs, hex_groups};
use crate::model::{
    Context, Decision, OrganizationRef, PrincipalFacts, PrincipalRef, Request, ResourceRef, Role,
};

/// Past this many cached slices the cache starts afresh: a bound on memory (a slice that can
/// permit holds its policies and entities, a few kilobytes; one that cannot holds nothing).
const MAX_CACHED_SLICES: usize = 32_768;
/// Past this many cached source addresses that cache starts afresh.
const MAX_CACHED_ADDRESSES: usize = 16_384;

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

/// An action of the organisation's catalogue, as slices and Cedar requests name it.
#[derive(Clone, Debug)]
pub(crate) struct KnownAction {
    pub(crate) index: usize,
    pub(crate) uid: EntityUid,
}

/// What selects a slice: the principal as the request describes it, the action and the
/// resource's project.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SliceKey {
    principal: PrincipalRef,
    organization: Uuid,
    role: Role,
    staff: bool,
    /// All the principal's groups, sorted: they are the parents of its Cedar entity.
    groups: Vec<Uuid>,
    /// The action's index in the catalogue.
    action: usize,
    /// The resource's project, if any.
    project: Option<Uuid>,
}

/// The policies one principal's request for one action (in one project) is evaluated against,
/// and the Cedar entities that do not depend on the resource: the principal, the organisation,
/// and the action with the permission-set groups these policies name.
#[derive(Debug)]
struct Slice {
    policies: PolicySet,
    entities: Entities,
    /// What the policies read of the resource and the context.
    needs: Needs,
    /// Some policy could permit; without one the answer is deny whatever the request.
    can_permit: bool,
    /// The source ranges of the permits here that limit the address.
    address_ranges: Vec<IpNet>,
}

/// Sliced policy sets, filled on first use, and parsed source addresses.
#[derive(Debug, Default)]
pub(crate) struct SliceCache {
    slices: RwLock<HashMap<SliceKey, Arc<Slice>>>,
    addresses: RwLock<HashMap<IpAddr, RestrictedExpression>>,
}

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
    pub(crate) by_principal: HashMap<PrincipalRef, Vec<Indexed>>,
    /// Generated and raw policies attached to one group.
    pub(crate) by_group: HashMap<Uuid, Vec<Indexed>>,
    /// Raw policies not tied to one principal or group.
    pub(crate) org_wide: Vec<Indexed>,
    pub(crate) owner_policy: Indexed,
    pub(crate) staff_policy: Indexed,
    pub(crate) action_groups: ActionGroups,
    pub(crate) actions: HashMap<String, KnownAction>,
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
    ///
    /// When no `permit` of the principal's slice admits the action (and project), the request
    /// is denied without evaluating anything: forbids that would also have matched are not
    /// reported.
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
        if facts.organization_id != org && !is_staff_owner(facts) {
            return Decision::nothing_granted();
        }
        let slice = match self.slice(facts, request.action, action, request.resource.project()) {
            Ok(slice) => slice,
            Err(error) => return Decision::deny_with(error),
        };
        if !slice.can_permit {
            // Deny whatever the forbids say; they are not evaluated (nor reported).
            return Decision::nothing_granted();
        }
        let prepared =
            self.resource_entity(request.resource, slice.needs.resource).and_then(|resource| {
                // The organisation is already in the slice's entities.
                let (uid, entities) = match resource {
                    (uid, None) => (uid, slice.entities.clone()),
                    (uid, Some(resource)) => (
                        uid,
                        slice
                            .entities
                            .clone()
                            .add_entities([resource], None)
                            .map_err(|e| e.to_string())?,
                    ),
                };
                let context = self.cedar_context(request.context, slice.needs)?;
                let cedar_request = cedar_policy::Request::new(
                    self.principal_uid(facts.principal),
                    action.uid.clone(),
                    uid,
                    context,
                    None,
                )
                .map_err(|e| e.to_string())?;
                Ok((cedar_request, entities))
            });
        let (cedar_request, entities) = match prepared {
            Ok(parts) => parts,
            Err(error) => return Decision::deny_with(error),
        };
        let mut decision = self.evaluate(&cedar_request, &slice.policies, &entities);
        if !decision.allowed
            && decision.determining_policies.is_empty()
            && !slice.address_ranges.is_empty()
            && let Some(ip) = request.context.source_ip
        {
            let ip = ip.to_canonical();
            decision.outside_address_ranges =
                !slice.address_ranges.iter().any(|range| range.contains(&ip));
        }
        decision
    }

    fn evaluate(
        &self,
        request: &cedar_policy::Request,
        policies: &PolicySet,
        entities: &Entities,
    ) -> Decision {
        let response = self.authorizer.is_authorized(request, policies, entities);
        // `as_ref`, not `to_string`: the id as given, without Display's escaping (and its cost).
        let mut determining: Vec<String> =
            response.diagnostics().reason().map(|id| AsRef::<str>::as_ref(id).to_owned()).collect();
        determining.sort();
        Decision {
            allowed: response.decision() == cedar_policy::Decision::Allow,
            determining_policies: determining,
            errors: response.diagnostics().errors().map(ToString::to_string).collect(),
            outside_address_ranges: false,
        }
    }

    /// Decides a request the slow way: every policy of the organisation in its compiled form
    /// (scope included), against complete entities and context, with no index, evaluation
    /// form or cache. It gives the same decision as [`Self::authorize`] and is here to check
    /// that, and to explain a decision; it costs milliseconds.
    ///
    /// The refusals before evaluation are the same, the isolation rule included. The
    /// diagnostics can differ in one way: when nothing in the principal's slice could permit,
    /// [`Self::authorize`] reports no determining policy where this reports the satisfied
    /// forbids.
    pub fn authorize_unsliced(&self, request: &Request<'_>) -> Decision {
        let org = self.organization.id;
        let resource_org = request.resource.organization();
        if resource_org != org {
            return Decision::deny_with(format!(
                "the resource belongs to organisation {resource_org}, not to {org} whose policies these are"
            ));
        }
        let Some(KnownAction { uid: action_uid, .. }) = self.actions.get(request.action) else {
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
        let all: Vec<&Indexed> = if facts.organization_id == org {
            self.by_principal
                .values()
                .chain(self.by_group.values())
                .flatten()
                .chain(&self.org_wide)
                .chain([&self.owner_policy, &self.staff_policy])
                .collect()
        } else if is_staff_owner(facts) {
            vec![&self.staff_policy]
        } else {
            return Decision::nothing_granted();
        };
        let prepared = (|| {
            let mut policies = PolicySet::new();
            for indexed in all {
                policies.add(indexed.policy.clone()).map_err(|e| e.to_string())?;
            }
            let mut groups = facts.groups.clone();
            groups.sort_unstable();
            groups.dedup();
            let principal = self.principal_entity(
                facts.principal,
                facts.organization_id,
                facts.role,
                facts.staff,
                &groups,
            )?;
            let action_parents: HashSet<EntityUid> = self
                .action_groups
                .of_action
                .get(request.action)
                .into_iter()
                .flatten()
                .map(|g| {
                    EntityUid::from_type_name_and_id(self.types.action.clone(), EntityId::new(g))
                })
                .collect();
            let action = Entity::new_no_attrs(action_uid.clone(), action_parents);
            let (resource_uid, resource) = self.resource_entity(request.resource, true)?;
            let entities = Entities::from_entities(
                [principal, self.organization_entity()?, action].into_iter().chain(resource),
                None,
            )
            .map_err(|e| e.to_string())?;
            let context = self.cedar_context(request.context, Needs::ALL)?;
            let cedar_request = cedar_policy::Request::new(
                self.principal_uid(facts.principal),
                action_uid.clone(),
                resource_uid,
                context,
                None,
            )
            .map_err(|e| e.to_string())?;
            Ok::<_, String>((policies, cedar_request, entities))
        })();
        match prepared {
            Ok((policies, cedar_request, entities)) => {
                self.evaluate(&cedar_request, &policies, &entities)
            }
            Err(error) => Decision::deny_with(error),
        }
    }

    /// The slice a principal's request for `action` is evaluated against, from the cache.
    fn slice(
        &self,
        facts: &PrincipalFacts,
        action: &str,
        known: &KnownAction,
        project: Option<Uuid>,
    ) -> Result<Arc<Slice>, String> {
        let mut groups = facts.groups.clone();
        groups.sort_unstable();
        groups.dedup();
        let key = SliceKey {
            principal: facts.principal,
            organization: facts.organization_id,
            role: facts.role,
            staff: facts.staff,
            groups,
            action: known.index,
            project,
        };
        if let Some(hit) =
            self.cache.slices.read().unwrap_or_else(PoisonError::into_inner).get(&key)
        {
            return Ok(Arc::clone(hit));
        }
        let slice = Arc::new(self.build_slice(&key, action, &known.uid)?);
        let mut cache = self.cache.slices.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_SLICES {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&slice));
        Ok(slice)
    }

    /// The policies that can apply: for a principal of this organisation, its own, its
    /// groups', the organisation-wide raw ones and the built-ins its role gets; for a
    /// provider owner from elsewhere, the staff built-in alone. Of those, only the ones whose
    /// action scope admits the action and, for rules scoped to projects, whose projects hold
    /// the resource.
    fn build_slice(
        &self,
        key: &SliceKey,
        action: &str,
        action_uid: &EntityUid,
    ) -> Result<Slice, String> {
        let is_user = matches!(key.principal, PrincipalRef::User(_));
        let staff_owner = key.staff && key.role == Role::Owner && is_user;
        let mut candidates: Vec<&Indexed> = Vec::new();
        if key.organization == self.organization.id {
            candidates.extend(self.by_principal.get(&key.principal).into_iter().flatten());
            for group in &key.groups {
                candidates.extend(self.by_group.get(group).into_iter().flatten());
            }
            candidates.extend(&self.org_wide);
            if is_user && key.role == Role::Owner {
                candidates.push(&self.owner_policy);
            }
        }
        if staff_owner {
            candidates.push(&self.staff_policy);
        }
        let mut policies = PolicySet::new();
        let mut named_groups: HashSet<&str> = HashSet::new();
        let mut needs = Needs::default();
        let mut can_permit = false;
        let mut address_ranges = Vec::new();
        for indexed in candidates.into_iter().filter(|p| p.applies(action, key.project)) {
            if indexed.permit
                && let Some(ranges) = &indexed.source_ranges
            {
                address_ranges.extend(ranges.iter().copied());
            }
            // Ids are unique in the organisation, so adding cannot fail.
            policies.add(indexed.eval.clone()).map_err(|e| e.to_string())?;
            named_groups.extend(indexed.action_groups.iter().map(String::as_str));
            needs = needs.union(indexed.needs);
            can_permit |= indexed.permit;
        }

        if !can_permit {
            // Never evaluated: keep nothing.
            return Ok(Slice {
                policies: PolicySet::new(),
                entities: Entities::empty(),
                needs: Needs::default(),
                can_permit,
                address_ranges: Vec::new(),
            });
        }
        let principal = self.principal_entity(
            key.principal,
            key.organization,
            key.role,
            key.staff,
            &key.groups,
        )?;
        let t = &self.types;
        // The action entity carries only the groups these policies name: `action in G` for
        // any other group is never asked.
        let action_parents: HashSet<EntityUid> = self
            .action_groups
            .of_action
            .get(action)
            .into_iter()
            .flatten()
            .filter(|g| named_groups.contains(g.as_str()))
            .map(|g| EntityUid::from_type_name_and_id(t.action.clone(), EntityId::new(g)))
            .collect();
        let action = (!action_parents.is_empty())
            .then(|| Entity::new_no_attrs(action_uid.clone(), action_parents));
        let organization = self.organization_entity()?;
        let entities =
            Entities::from_entities([principal, organization].into_iter().chain(action), None)
                .map_err(|e| e.to_string())?;
        Ok(Slice { policies, entities, needs, can_permit, address_ranges })
    }

    /// The principal's entity: in its groups and its organisation, with its role and staff
    /// flag when it is a user.
    fn principal_entity(
        &self,
        principal: PrincipalRef,
        organization: Uuid,
        role: Role,
        staff: bool,
        groups: &[Uuid],
    ) -> Result<Entity, String> {
        let t = &self.types;
        let uid = |ty: &EntityTypeName, id: Uuid| {
            EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id.to_string()))
        };
        let mut parents: HashSet<EntityUid> = groups.iter().map(|g| uid(&t.group, *g)).collect();
        parents.insert(uid(&t.organization, organization));
        match principal {
            PrincipalRef::User(id) => {
                let attrs = HashMap::from([
                    ("role".to_owned(), RestrictedExpression::new_string(role.as_str().to_owned())),
                    ("staff".to_owned(), RestrictedExpression::new_bool(staff)),
                ]);
                Entity::new(uid(&t.user, id), attrs, parents).map_err(|e| e.to_string())
            }
            PrincipalRef::Application(id) => {
                Ok(Entity::new_no_attrs(uid(&t.application, id), parents))
            }
            PrincipalRef::Group(id) => Err(format!("group {id} cannot make a request")),
        }
    }

    fn organization_entity(&self) -> Result<Entity, String> {
        Entity::new(
            self.organization_uid(),
            HashMap::from([(
                "kind".to_owned(),
                RestrictedExpression::new_string(self.organization.kind.as_str().to_owned()),
            )]),
            HashSet::new(),
        )
        .map_err(|e| e.to_string())
    }

    fn principal_uid(&self, principal: PrincipalRef) -> EntityUid {
        let (ty, id) = match principal {
            PrincipalRef::User(id) => (&self.types.user, id),
            PrincipalRef::Application(id) => (&self.types.application, id),
            PrincipalRef::Group(id) => (&self.types.group, id),
        };
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id.to_string()))
    }

    fn organization_uid(&self) -> EntityUid {
        EntityUid::from_type_name_and_id(
            self.types.organization.clone(),
            EntityId::new(self.organization.id.to_string()),
        )
    }

    /// The resource's Cedar id, and its entity (with its project and organisation as parents)
    /// when `needed` and the resource is not the organisation, which every slice's entities
    /// hold.
    fn resource_entity(
        &self,
        resource: &ResourceRef,
        needed: bool,
    ) -> Result<(EntityUid, Option<Entity>), String> {
        let t = &self.types;
        let uid = |ty: &EntityTypeName, id: &str| {
            EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
        };
        match resource {
            ResourceRef::Organization(_) => Ok((self.organization_uid(), None)),
            ResourceRef::Project { project, .. } => {
                let project = uid(&t.project, &project.to_string());
                let entity = needed.then(|| {
                    Entity::new_no_attrs(project.clone(), HashSet::from([self.organization_uid()]))
                });
                Ok((project, entity))
            }
            ResourceRef::Object { project, kind, id, .. } => {
                let object = uid(&t.resource, &format!("{kind}/{id}"));
                if !needed {
                    return Ok((object, None));
                }
                let mut parents = HashSet::from([self.organization_uid()]);
                if let Some(project) = project {
                    parents.insert(uid(&t.project, &project.to_string()));
                }
                let attrs = HashMap::from([(
                    "kind".to_owned(),
                    RestrictedExpression::new_string(kind.clone()),
                )]);
                let entity =
                    Entity::new(object.clone(), attrs, parents).map_err(|e| e.to_string())?;
                Ok((object, Some(entity)))
            }
        }
    }

    /// The request context as Cedar sees it (see the schema's `RequestContext`). Attributes no
    /// policy of the slice reads are left out: leaving them out cannot change a decision, and
    /// building them is a good part of a decision's cost.
    fn cedar_context(&self, context: &Context, needs: Needs) -> Result<CedarContext, String> {
        let mut pairs = Vec::with_capacity(6);
        if needs.time {
            let now = context.now.to_offset(UtcOffset::UTC);
            pairs.push((
                "day_of_week".to_owned(),
                RestrictedExpression::new_long(i64::from(now.weekday().number_from_monday())),
            ));
            pairs.push((
                "minute_of_day".to_owned(),
                RestrictedExpression::new_long(
                    i64::from(now.hour()) * 60 + i64::from(now.minute()),
                ),
            ));
        }
        if needs.mfa {
            pairs.push(("mfa".to_owned(), RestrictedExpression::new_bool(context.mfa)));
        }
        if let Some(ip) = context.source_ip.filter(|_| needs.source_ip) {
            pairs.push(("source_ip".to_owned(), self.address(ip)));
        }
        if let Some(agent) = context.user_agent.as_ref().filter(|_| needs.user_agent) {
            pairs.push(("user_agent".to_owned(), RestrictedExpression::new_string(agent.clone())));
        }
        if let Some(at) = context.authenticated_at.filter(|_| needs.auth_age) {
            // A time slightly ahead of `now` (clocks of two replicas) counts as just now.
            let age = (context.now - at).whole_seconds().max(0);
            pairs.push(("auth_age_seconds".to_owned(), RestrictedExpression::new_long(age)));
        }
        CedarContext::from_pairs(pairs).map_err(|e| e.to_string())
    }

    /// `ip("…")` for an address. Building one costs Cedar a parse of the function name, far
    /// more than the rest of a decision, so they are kept per address.
    fn address(&self, ip: IpAddr) -> RestrictedExpression {
        let ip = ip.to_canonical();
        if let Some(hit) =
            self.cache.addresses.read().unwrap_or_else(PoisonError::into_inner).get(&ip)
        {
            return hit.clone();
        }
        let text = match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => hex_groups(&v6.segments()),
        };
        let expression = RestrictedExpression::new_ip(text);
        let mut cache = self.cache.addresses.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_ADDRESSES {
            cache.clear();
        }
        cache.insert(ip, expression.clone());
        expression
    }
}

fn is_staff_owner(facts: &PrincipalFacts) -> bool {
    facts.staff && facts.role == Role::Owner && matches!(facts.principal, PrincipalRef::User(_))
}
