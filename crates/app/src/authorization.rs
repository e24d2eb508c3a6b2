//! Authorisation of every use case through the policy engine (`authz`, on Cedar): each use case
//! names its action (`service:resource:verb`) and resource, and the engine decides from the
//! organisation's policies, the built-in owner and staff policies included. Deny by default.
//!
//! An organisation's policies are compiled once and cached with what requests need of its
//! members (their groups and roles). Every change that affects them (policies, groups,
//! members, projects) drops the entry after it commits, and a load that raced with a change
//! is not cached, so a change applies to the next request on this node.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use authz::{Catalogue, CompiledOrganization, PrincipalFacts, PrincipalRef, ResourceRef, Role};
use base::{Organization, OrganizationId, OrganizationKind, RequestContext, Resource};
use store::{
    AuditLogRepository as _, AuthorizationRepository, AuthorizationSettings, GroupMember,
    OrganizationRepository, Transaction, UserRole,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{App, AppError, Principal, Subject};

/// Rampart's own actions and permission sets.
pub(crate) static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(Catalogue::rampart);

/// How many organisations stay compiled at once, by default.
const MAX_LOADED: usize = 1_024;

/// Compiled organisations, dropped on change.
pub(crate) struct AuthorizationCache {
    slots: Mutex<HashMap<OrganizationId, Slot>>,
    /// One load at a time: requests arriving while an organisation compiles wait for it
    /// instead of compiling it again.
    loading: tokio::sync::Mutex<()>,
    /// How often an entry is checked against the store for changes made on other replicas
    /// (one read of the organisation's audit tree size); zero: on every use.
    max_age: time::Duration,
    /// How many organisations stay compiled at once.
    max_loaded: usize,
}

impl Default for AuthorizationCache {
    fn default() -> Self {
        Self {
            slots: Mutex::default(),
            loading: tokio::sync::Mutex::default(),
            max_age: time::Duration::ZERO,
            max_loaded: MAX_LOADED,
        }
    }
}

/// One organisation's entry, and a count of its changes: a load that started before a
/// change is not cached.
#[derive(Default)]
struct Slot {
    generation: u64,
    loaded: Option<Arc<LoadedOrganization>>,
}

impl AuthorizationCache {
    /// Entries are also checked against the store when older than `max_age` (zero: on every
    /// use, for a deployment that disables caching).
    pub(crate) fn with_max_age(max_age: time::Duration) -> Self {
        Self { max_age: max_age.max(time::Duration::ZERO), ..Self::default() }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<OrganizationId, Slot>> {
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, organization_id: OrganizationId) -> Option<Arc<LoadedOrganization>> {
        self.slots().get(&organization_id)?.loaded.clone()
    }

    fn generation(&self, organization_id: OrganizationId) -> u64 {
        self.slots().get(&organization_id).map_or(0, |slot| slot.generation)
    }

    /// Whether an entry may serve at `now` without checking the store.
    fn is_recent(&self, loaded: &LoadedOrganization, now: OffsetDateTime) -> bool {
        now - loaded.checked_at() < self.max_age
    }

    fn put(&self, loaded: Arc<LoadedOrganization>, generation: u64) {
        let id = loaded.organization.id;
        let mut slots = self.slots();
        if slots.get(&id).map_or(0, |slot| slot.generation) != generation {
            return;
        }
        // Bounded: past the limit every compiled organisation is dropped (they reload on
        // use). The change counters stay, so that a load racing a change is still refused.
        if slots.values().filter(|slot| slot.loaded.is_some()).count() >= self.max_loaded {
            for slot in slots.values_mut() {
                slot.loaded = None;
            }
        }
        slots.entry(id).or_default().loaded = Some(loaded);
    }

    /// Forget an organisation's compiled policies (after a committed change).
    pub(crate) fn invalidate(&self, organization_id: OrganizationId) {
        let mut slots = self.slots();
        let slot = slots.entry(organization_id).or_default();
        slot.generation += 1;
        slot.loaded = None;
    }
}

/// One organisation's compiled policies and what requests need of its members.
pub(crate) struct LoadedOrganization {
    pub(crate) organization: Organization,
    pub(crate) compiled: CompiledOrganization,
    /// Active users (with their role) and applications.
    members: HashMap<Uuid, (PrincipalRef, Role)>,
    /// Each member's groups.
    groups: HashMap<Uuid, Vec<Uuid>>,
    /// Guests (accounts of other organisations) whose membership has not ended, with its
    /// expiry: compared with the time of each request.
    guests: HashMap<Uuid, Option<OffsetDateTime>>,
    /// The organisation's audit tree size when its inputs were read: a change anywhere in
    /// the organisation, on any replica, appends to it.
    audit_size: u64,
    /// When the entry was last known to be current.
    checked_at: Mutex<OffsetDateTime>,
}

impl LoadedOrganization {
    fn checked_at(&self) -> OffsetDateTime {
        *self.checked_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn mark_checked(&self, at: OffsetDateTime) {
        *self.checked_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// Whether a user of another organisation is a guest of this one at `now`.
    pub(crate) fn is_guest(&self, user_id: Uuid, now: OffsetDateTime) -> bool {
        self.guests
            .get(&user_id)
            .is_some_and(|expires_at| expires_at.is_none_or(|expires_at| now < expires_at))
    }

    /// The facts of a current guest of the organisation: a user of the organisation with the
    /// role `guest`, in no group; `None` for anyone else.
    pub(crate) fn guest_facts(&self, user_id: Uuid, now: OffsetDateTime) -> Option<PrincipalFacts> {
        self.is_guest(user_id, now).then(|| PrincipalFacts {
            principal: PrincipalRef::User(user_id),
            organization_id: *self.organization.id.as_uuid(),
            role: Role::Guest,
            groups: Vec::new(),
            staff: false,
        })
    }

    /// The facts of one of the organisation's own members, `None` for a stranger.
    pub(crate) fn member_facts(&self, id: Uuid) -> Option<PrincipalFacts> {
        let (principal, role) = *self.members.get(&id)?;
        Some(PrincipalFacts {
            principal,
            organization_id: *self.organization.id.as_uuid(),
            role,
            groups: self.groups.get(&id).cloned().unwrap_or_default(),
            staff: self.organization.kind == OrganizationKind::Provider,
        })
    }
}

fn authz_kind(kind: OrganizationKind) -> authz::OrganizationKind {
    match kind {
        OrganizationKind::Provider => authz::OrganizationKind::Provider,
        OrganizationKind::Customer => authz::OrganizationKind::Customer,
    }
}

fn authz_role(role: UserRole) -> Role {
    match role {
        UserRole::Owner => Role::Owner,
        UserRole::Member => Role::Member,
    }
}

fn principal_ref(subject: Subject) -> PrincipalRef {
    match subject {
        Subject::User(id) => PrincipalRef::User(*id.as_uuid()),
        Subject::Application(id) => PrincipalRef::Application(*id.as_uuid()),
    }
}

/// How the audit trail names a resource of the engine.
fn audit_resource(resource: &ResourceRef) -> Resource {
    match resource {
        ResourceRef::Organization(id) => Resource::new("organization", id),
        ResourceRef::Project { project, .. } => Resource::new("project", project),
        ResourceRef::Object { kind, id, .. } => Resource::new(kind, id),
    }
}

/// The engine's input for an organisation, from its stored settings.
pub(crate) fn organization_policies(
    organization: &Organization,
    settings: &AuthorizationSettings,
    projects: Vec<Uuid>,
) -> Result<authz::OrganizationPolicies, AppError> {
    let corrupt = |what: String| AppError::Internal(format!("stored {what} does not parse"));
    let policies = settings
        .policies
        .iter()
        .map(|record| {
            let rules = serde_json::from_str(&record.rules)
                .map_err(|error| corrupt(format!("policy {}: {error}", record.id)))?;
            Ok(authz::Policy { id: record.id, principal: holder_ref(record.holder), rules })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let custom_permission_sets = settings
        .permission_sets
        .iter()
        .map(|record| {
            let actions = serde_json::from_str(&record.actions)
                .map_err(|error| corrupt(format!("permission set {}: {error}", record.name)))?;
            Ok(authz::CustomPermissionSet {
                name: record.name.clone(),
                description: record.description.clone(),
                actions,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(authz::OrganizationPolicies {
        organization: authz::OrganizationRef {
            id: *organization.id.as_uuid(),
            kind: authz_kind(organization.kind),
        },
        projects,
        custom_actions: settings
            .custom_actions
            .iter()
            .map(|record| authz::CustomAction {
                name: record.name.clone(),
                description: record.description.clone(),
                privileged: record.privileged,
            })
            .collect(),
        custom_permission_sets,
        policies,
        raw_policies: settings
            .raw_policies
            .iter()
            .map(|record| authz::RawPolicy { id: record.id, text: record.text.clone() })
            .collect(),
    })
}

pub(crate) fn holder_ref(holder: store::PolicyHolder) -> PrincipalRef {
    match holder {
        store::PolicyHolder::User(id) => PrincipalRef::User(id),
        store::PolicyHolder::Group(id) => PrincipalRef::Group(id),
        store::PolicyHolder::Application(id) => PrincipalRef::Application(id),
    }
}

/// What an organisation's authorisation is compiled from, read in one transaction.
struct OrganizationInputs {
    organization: Organization,
    settings: AuthorizationSettings,
    projects: Vec<Uuid>,
    memberships: Vec<(Uuid, Uuid)>,
    members: Vec<(GroupMember, UserRole)>,
    guests: Vec<store::GuestMembershipRecord>,
    /// The organisation's audit tree size when read: every change appends to it.
    audit_size: u64,
}

async fn read_inputs(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
) -> Result<OrganizationInputs, AppError> {
    let organization = transaction
        .get_organization(organization_id)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    Ok(OrganizationInputs {
        organization,
        settings: transaction.authorization_settings(organization_id).await?,
        projects: transaction.project_ids(organization_id).await?,
        memberships: transaction.group_memberships(organization_id).await?,
        members: transaction.active_members(organization_id).await?,
        guests: store::GuestRepository::list_guest_memberships(&mut *transaction, organization_id)
            .await?,
        audit_size: transaction.audit_size(organization_id).await?,
    })
}

/// Compile an organisation's inputs (CPU work: milliseconds to a few hundred for a large
/// organisation).
fn compile_inputs(
    inputs: OrganizationInputs,
    checked_at: OffsetDateTime,
) -> Result<LoadedOrganization, AppError> {
    let OrganizationInputs {
        organization,
        settings,
        projects,
        memberships,
        members,
        guests,
        audit_size,
    } = inputs;
    let input = organization_policies(&organization, &settings, projects)?;
    let compiled = authz::compile(&input, &CATALOGUE).map_err(AppError::PolicyRejected)?;
    let mut groups: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (group, member) in memberships {
        groups.entry(member).or_default().push(group);
    }
    let members = members
        .into_iter()
        .map(|(member, role)| {
            let (id, principal) = match member {
                GroupMember::User(id) => (*id.as_uuid(), PrincipalRef::User(*id.as_uuid())),
                GroupMember::Application(id) => {
                    (*id.as_uuid(), PrincipalRef::Application(*id.as_uuid()))
                }
            };
            (id, (principal, authz_role(role)))
        })
        .collect();
    let guests = guests
        .into_iter()
        .map(|membership| (*membership.user_id.as_uuid(), membership.expires_at))
        .collect();
    Ok(LoadedOrganization {
        organization,
        compiled,
        members,
        groups,
        guests,
        audit_size,
        checked_at: Mutex::new(checked_at),
    })
}

/// Whether an organisation's active owners can manage IAM (an organisation administered by
/// the provider alone may have no owner), or why not.
async fn owners_manage_iam(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
) -> Result<Result<(), authz::PolicyError>, AppError> {
    let inputs = read_inputs(transaction, organization_id).await?;
    let loaded = compile_inputs(inputs, OffsetDateTime::UNIX_EPOCH)?;
    let owners: Vec<PrincipalFacts> = loaded
        .members
        .iter()
        .filter(|(_, (_, role))| *role == Role::Owner)
        .filter_map(|(id, _)| loaded.member_facts(*id))
        .collect();
    Ok(loaded.compiled.owners_can_manage_iam(&owners))
}

/// Guards a change to what governs access: taken before the change in its transaction, it
/// refuses, after it, a result whose policies do not compile or that takes IAM away from
/// every owner who had it.
pub(crate) struct OwnersKeepIam {
    organization_id: OrganizationId,
    had_iam: bool,
}

impl OwnersKeepIam {
    pub(crate) async fn before(
        transaction: &mut Transaction,
        organization_id: OrganizationId,
    ) -> Result<Self, AppError> {
        let had_iam = owners_manage_iam(transaction, organization_id).await?.is_ok();
        Ok(Self { organization_id, had_iam })
    }

    pub(crate) async fn check(self, transaction: &mut Transaction) -> Result<(), AppError> {
        let after = owners_manage_iam(transaction, self.organization_id).await?;
        match after {
            Err(error) if self.had_iam => Err(AppError::PolicyRejected(error)),
            _ => Ok(()),
        }
    }
}

impl App {
    /// Drop this node's compiled policies of an organisation, so that the next request
    /// reloads them: for changes made to the database by other means than this server.
    pub fn reload_authorization(&self, organization_id: OrganizationId) {
        self.authorization.invalidate(organization_id);
    }

    /// An organisation's compiled authorisation, from the cache or the store.
    pub(crate) async fn loaded_authorization(
        &self,
        organization_id: OrganizationId,
    ) -> Result<Arc<LoadedOrganization>, AppError> {
        let now = self.clock.now();
        let observed = self.authorization.get(organization_id);
        if let Some(loaded) = &observed {
            if self.authorization.is_recent(loaded, now) {
                return Ok(Arc::clone(loaded));
            }
            // Other replicas may have changed something: one primary-key read tells.
            let mut read = self.store.read_latest().await?;
            let size = read.audit_size(organization_id).await?;
            read.commit().await?;
            if size == loaded.audit_size {
                loaded.mark_checked(now);
                return Ok(Arc::clone(loaded));
            }
        }
        let _one_load = self.authorization.loading.lock().await;
        if let Some(current) = self.authorization.get(organization_id)
            && observed.as_ref().is_none_or(|observed| !Arc::ptr_eq(observed, &current))
        {
            return Ok(current); // loaded by a request we waited for
        }
        let generation = self.authorization.generation(organization_id);
        let mut read = self.store.read().await?;
        let inputs = read_inputs(&mut read, organization_id).await;
        read.commit().await?;
        let inputs = inputs?;
        let compiled = tokio::task::spawn_blocking(move || compile_inputs(inputs, now))
            .await
            .map_err(|error| AppError::Internal(format!("compiling policies: {error}")))?;
        let loaded = Arc::new(compiled.map_err(|error| match error {
            AppError::PolicyRejected(error) => AppError::Internal(format!(
                "the stored policies of organization {organization_id} do not compile: {error}"
            )),
            other => other,
        })?);
        self.authorization.put(Arc::clone(&loaded), generation);
        Ok(loaded)
    }

    /// The engine's view of the caller.
    pub(crate) fn principal_facts(
        &self,
        principal: &Principal,
        loaded: &LoadedOrganization,
    ) -> PrincipalFacts {
        let reference = principal_ref(principal.subject);
        let own_id = match reference {
            PrincipalRef::User(id) | PrincipalRef::Application(id) | PrincipalRef::Group(id) => id,
        };
        // A guest acts in its host as the host's principal with the role `guest`: the host's
        // policies that name it, or guests, apply; the owner built-in never does.
        if principal.is_outsider_in(loaded.organization.id)
            && matches!(reference, PrincipalRef::User(_))
            && let Some(facts) = loaded.guest_facts(own_id, self.clock.now())
        {
            return facts;
        }
        let groups = if principal.organization_id == loaded.organization.id {
            loaded.groups.get(&own_id).cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        PrincipalFacts {
            principal: reference,
            organization_id: *principal.organization_id.as_uuid(),
            role: authz_role(principal.role),
            groups,
            staff: principal.is_staff(),
        }
    }

    /// The request context conditions are evaluated against. API keys carry no interactive
    /// authentication: conditions on MFA or authentication age do not hold for them.
    fn authz_context(&self, principal: &Principal, context: &RequestContext) -> authz::Context {
        authz::Context {
            source_ip: context.source_ip,
            now: self.clock.now(),
            user_agent: context.user_agent.clone(),
            mfa: principal.session.as_ref().is_some_and(|session| session.mfa_at.is_some()),
            authenticated_at: principal.session.as_ref().map(|session| session.authenticated_at),
        }
    }

    /// Whether `principal` may perform `action` on `resource`, without recording anything:
    /// for choosing what to show, never for guarding a change.
    pub(crate) async fn is_allowed(
        &self,
        principal: &Principal,
        action: &str,
        resource: ResourceRef,
        context: &RequestContext,
    ) -> Result<bool, AppError> {
        let organization_id = OrganizationId::from_uuid(resource.organization());
        let loaded = self.loaded_authorization(organization_id).await?;
        Ok(self.decide(principal, action, &resource, context, &loaded).allowed)
    }

    fn decide(
        &self,
        principal: &Principal,
        action: &str,
        resource: &ResourceRef,
        context: &RequestContext,
        loaded: &LoadedOrganization,
    ) -> authz::Decision {
        let facts = self.principal_facts(principal, loaded);
        let request_context = self.authz_context(principal, context);
        loaded.compiled.authorize(&authz::Request {
            principal: &facts,
            action,
            resource,
            context: &request_context,
        })
    }

    /// Decide whether `principal` may perform `action` on `resource` of an organisation;
    /// a refusal is recorded in that organisation's trail.
    pub(crate) async fn authorize_on(
        &self,
        principal: &Principal,
        action: &str,
        resource: ResourceRef,
        context: &RequestContext,
    ) -> Result<Arc<LoadedOrganization>, AppError> {
        let organization_id = OrganizationId::from_uuid(resource.organization());
        let loaded = self.loaded_authorization(organization_id).await?;
        let decision = self.decide(principal, action, &resource, context, &loaded);
        if decision.allowed {
            return Ok(loaded);
        }
        let reason = if decision.outside_address_ranges {
            "source_ip_outside_policy_ranges".to_owned()
        } else if decision.determining_policies.is_empty() {
            "no_policy_grants".to_owned()
        } else {
            format!("forbidden_by {}", decision.determining_policies.join(" "))
        };
        let audited = audit_resource(&resource);
        Err(self.deny(principal, organization_id, action, audited, context, &reason).await)
    }

    /// As [`App::authorize_on`] on the organisation itself; returns the organisation.
    pub(crate) async fn authorize_in(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: &str,
        context: &RequestContext,
    ) -> Result<Organization, AppError> {
        let resource = ResourceRef::Organization(*organization_id.as_uuid());
        let loaded = self.authorize_on(principal, action, resource, context).await?;
        Ok(loaded.organization.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base::Name;

    fn loaded(n: u64) -> Arc<LoadedOrganization> {
        let at = time::macros::datetime!(2026-03-01 09:00 UTC);
        let organization = Organization {
            id: OrganizationId::new(n, [1; 10]),
            name: Name::parse("Acme").unwrap(),
            kind: OrganizationKind::Customer,
            mfa_required: false,
            created_at: at,
            updated_at: at,
        };
        let inputs = OrganizationInputs {
            organization,
            settings: AuthorizationSettings::default(),
            projects: Vec::new(),
            memberships: Vec::new(),
            members: Vec::new(),
            guests: Vec::new(),
            audit_size: 0,
        };
        Arc::new(compile_inputs(inputs, at).unwrap())
    }

    #[test]
    fn a_load_that_raced_a_change_is_not_kept() {
        let cache = AuthorizationCache::default();
        let first = loaded(1);
        let id = first.organization.id;
        let before = cache.generation(id);
        cache.invalidate(id); // a change commits while the load runs
        cache.put(first, before);
        assert!(cache.get(id).is_none());
        cache.put(loaded(1), cache.generation(id));
        assert!(cache.get(id).is_some());
    }

    #[test]
    fn past_the_limit_compiled_organizations_are_dropped_but_changes_still_count() {
        let cache = AuthorizationCache { max_loaded: 2, ..AuthorizationCache::default() };
        let ids: Vec<OrganizationId> = (1..=3).map(|n| loaded(n).organization.id).collect();
        cache.invalidate(ids[0]);
        let stale = cache.generation(ids[0]) - 1;
        cache.put(loaded(1), cache.generation(ids[0]));
        cache.put(loaded(2), 0);
        assert!(cache.get(ids[0]).is_some() && cache.get(ids[1]).is_some());
        cache.put(loaded(3), 0); // the third: the others go
        assert!(cache.get(ids[0]).is_none() && cache.get(ids[1]).is_none());
        assert!(cache.get(ids[2]).is_some());
        // The change counter of the first survived the drop.
        cache.put(loaded(1), stale);
        assert!(cache.get(ids[0]).is_none());
    }
}
