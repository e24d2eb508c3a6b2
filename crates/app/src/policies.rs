//! Managing an organisation's authorisation (policies, raw Cedar policies, its own actions and
//! permission sets) and the questions other services ask of it: may this principal do this,
//! what may it do, who may do that.
//!
//! Every change is validated by compiling the organisation's policies as they would be after
//! it, in the change's transaction: a change the engine refuses, or one that leaves no active
//! owner able to manage IAM, is rolled back with the engine's message.

use std::net::IpAddr;
use std::sync::Arc;

use authz::{Decision, PrincipalRef, ResourceRef};
use base::{OrganizationId, RequestContext, Resource};
use store::{
    AuthorizationRepository as _, CustomActionRecord, PermissionSetRecord, PolicyHolder,
    PolicyRecord, PrincipalRepository as _, RawPolicyRecord, Transaction, UserRepository as _,
    UserStatus,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AuditTrail as _;
use crate::authorization::{LoadedOrganization, OwnersKeepIam, holder_ref};
use crate::secrets::new_id;
use crate::{App, AppError, Principal};

/// The most questions one check request may carry.
pub const MAX_CHECKS_PER_REQUEST: usize = 1_000;

/// Everything an organisation's authorisation is made of, as stored.
#[derive(Debug, Clone)]
pub struct AuthorizationView {
    pub custom_actions: Vec<CustomActionRecord>,
    pub permission_sets: Vec<PermissionSetRecord>,
    pub policies: Vec<PolicyRecord>,
    pub raw_policies: Vec<RawPolicyRecord>,
}

/// A policy to create, or the new content of one.
#[derive(Debug, Clone)]
pub struct PolicyInput {
    pub principal: PrincipalRef,
    pub description: String,
    pub rules: Vec<authz::Rule>,
}

/// One question of the check API.
#[derive(Debug, Clone)]
pub struct AccessQuestion {
    /// A user or application of the resource's organisation.
    pub principal: PrincipalRef,
    pub action: String,
    pub resource: ResourceRef,
    pub context: QuestionContext,
}

/// The circumstances of the access the calling service is deciding.
#[derive(Debug, Clone, Default)]
pub struct QuestionContext {
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub mfa: bool,
    pub authenticated_at: Option<OffsetDateTime>,
    /// When the access happens; now when absent.
    pub time: Option<OffsetDateTime>,
}

/// A new time-ordered id (UUID v7), as every id of Rampart.
fn policy_holder(principal: PrincipalRef) -> PolicyHolder {
    match principal {
        PrincipalRef::User(id) => PolicyHolder::User(id),
        PrincipalRef::Group(id) => PolicyHolder::Group(id),
        PrincipalRef::Application(id) => PolicyHolder::Application(id),
    }
}

fn check_description(description: &str) -> Result<String, AppError> {
    let description = description.trim();
    if description.chars().count() > 500 || description.chars().any(char::is_control) {
        return Err(AppError::InvalidInput(
            "description: at most 500 characters, no control characters".into(),
        ));
    }
    Ok(description.to_owned())
}

fn rules_json(rules: &[authz::Rule]) -> Result<String, AppError> {
    serde_json::to_string(rules).map_err(|error| AppError::Internal(format!("rules: {error}")))
}

fn json_value(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

/// Make sure a policy's principal is a user (a guest included), group or application of the
/// organisation.
async fn check_principal_exists(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    principal: PrincipalRef,
) -> Result<(), AppError> {
    let exists = match principal {
        PrincipalRef::User(id) => {
            let user_id = base::UserId::from_uuid(id);
            let member = transaction.get_user(user_id).await?.is_some_and(|user| {
                user.organization_id == organization_id && user.status != UserStatus::Deleted
            });
            // A guest's membership, whether or not it has expired yet: policies for it are
            // deleted when the membership ends.
            member
                || store::GuestRepository::get_guest_membership(
                    &mut *transaction,
                    organization_id,
                    user_id,
                )
                .await?
                .is_some_and(|membership| membership.revoked_at.is_none())
        }
        PrincipalRef::Group(id) => {
            transaction.get_group(organization_id, base::GroupId::from_uuid(id)).await?.is_some()
        }
        PrincipalRef::Application(id) => transaction
            .get_application(organization_id, base::ApplicationId::from_uuid(id))
            .await?
            .is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(AppError::InvalidInput(format!("{principal} is not a principal of this organization")))
    }
}

impl App {
    /// Everything the organisation's authorisation is made of.
    pub async fn authorization_view(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<AuthorizationView, AppError> {
        self.authorize_in(principal, organization_id, "iam:policies:read", context).await?;
        let mut read = self.store.read().await?;
        let settings = read.authorization_settings(organization_id).await?;
        read.commit().await?;
        Ok(AuthorizationView {
            custom_actions: settings.custom_actions,
            permission_sets: settings.permission_sets,
            policies: settings.policies,
            raw_policies: settings.raw_policies,
        })
    }

    /// Apply one change to the organisation's authorisation: `write` stores it, then the
    /// result is compiled and checked before the change and its event commit together.
    #[allow(clippy::too_many_arguments, reason = "one private helper of the use cases below")]
    async fn change_authorization(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        event_action: &str,
        resource: Resource,
        details: serde_json::Map<String, serde_json::Value>,
        context: &RequestContext,
        write: impl AsyncFnOnce(&mut Transaction) -> Result<(), AppError>,
    ) -> Result<(), AppError> {
        self.authorize_recently(principal, organization_id, "iam:policies:write", context).await?;
        let mut transaction = self.store.begin().await?;
        let guard = OwnersKeepIam::before(&mut transaction, organization_id).await?;
        write(&mut transaction).await?;
        guard.check(&mut transaction).await?;
        let mut event =
            self.success_event(principal, organization_id, event_action, resource, context);
        event.privileged = true;
        event.details = details;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.authorization.invalidate(organization_id);
        Ok(())
    }

    /// Attach a new policy to a user, group or application of the organisation.
    pub async fn create_policy(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        input: PolicyInput,
        context: &RequestContext,
    ) -> Result<PolicyRecord, AppError> {
        let now = self.clock.now();
        let policy = PolicyRecord {
            id: new_id(now),
            organization_id,
            holder: policy_holder(input.principal),
            description: check_description(&input.description)?,
            rules: rules_json(&input.rules)?,
            created_by: principal.actor.id(),
            created_at: now,
            updated_at: now,
        };
        let mut details = serde_json::Map::new();
        details.insert("principal".into(), input.principal.to_string().into());
        details.insert("rules".into(), json_value(&policy.rules));
        let resource = Resource::new("policy", policy.id);
        self.change_authorization(
            principal,
            organization_id,
            "iam.policy.create",
            resource,
            details,
            context,
            async |transaction| {
                check_principal_exists(transaction, organization_id, input.principal).await?;
                Ok(transaction.insert_policy(&policy).await?)
            },
        )
        .await?;
        Ok(policy)
    }

    /// Replace a policy's description and rules (its principal stays).
    pub async fn replace_policy(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        description: &str,
        rules: Vec<authz::Rule>,
        context: &RequestContext,
    ) -> Result<PolicyRecord, AppError> {
        let description = check_description(description)?;
        let rules = rules_json(&rules)?;
        let now = self.clock.now();
        let mut details = serde_json::Map::new();
        details.insert("rules".into(), json_value(&rules));
        let mut updated = None;
        self.change_authorization(
            principal,
            organization_id,
            "iam.policy.update",
            Resource::new("policy", id),
            details,
            context,
            async |transaction| {
                let mut policy = transaction
                    .get_policy(organization_id, id)
                    .await?
                    .ok_or(AppError::NotFound("policy"))?;
                policy.description = description;
                policy.rules = rules;
                policy.updated_at = now;
                transaction.update_policy(&policy).await?;
                updated = Some(policy);
                Ok(())
            },
        )
        .await?;
        updated.ok_or_else(|| AppError::Internal("the policy was not updated".into()))
    }

    pub async fn delete_policy(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.change_authorization(
            principal,
            organization_id,
            "iam.policy.delete",
            Resource::new("policy", id),
            serde_json::Map::new(),
            context,
            async |transaction| Ok(transaction.delete_policy(organization_id, id).await?),
        )
        .await
    }

    /// Add a Cedar policy written by the organisation (validated against Rampart's schema).
    pub async fn create_raw_policy(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        description: &str,
        text: &str,
        context: &RequestContext,
    ) -> Result<RawPolicyRecord, AppError> {
        let now = self.clock.now();
        let policy = RawPolicyRecord {
            id: new_id(now),
            organization_id,
            description: check_description(description)?,
            text: text.to_owned(),
            created_by: principal.actor.id(),
            created_at: now,
            updated_at: now,
        };
        let mut details = serde_json::Map::new();
        details.insert("text".into(), policy.text.clone().into());
        self.change_authorization(
            principal,
            organization_id,
            "iam.cedar_policy.create",
            Resource::new("cedar_policy", policy.id),
            details,
            context,
            async |transaction| Ok(transaction.insert_raw_policy(&policy).await?),
        )
        .await?;
        Ok(policy)
    }

    pub async fn delete_raw_policy(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.change_authorization(
            principal,
            organization_id,
            "iam.cedar_policy.delete",
            Resource::new("cedar_policy", id),
            serde_json::Map::new(),
            context,
            async |transaction| Ok(transaction.delete_raw_policy(organization_id, id).await?),
        )
        .await
    }

    /// Define an action of one of the organisation's own services.
    pub async fn define_action(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: authz::CustomAction,
        context: &RequestContext,
    ) -> Result<CustomActionRecord, AppError> {
        let record = CustomActionRecord {
            organization_id,
            name: action.name,
            description: check_description(&action.description)?,
            privileged: action.privileged,
            created_at: self.clock.now(),
        };
        let mut details = serde_json::Map::new();
        details.insert("privileged".into(), record.privileged.into());
        self.change_authorization(
            principal,
            organization_id,
            "iam.action.create",
            Resource::new("action", &record.name),
            details,
            context,
            async |transaction| Ok(transaction.insert_custom_action(&record).await?),
        )
        .await?;
        Ok(record)
    }

    pub async fn delete_action(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        name: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.change_authorization(
            principal,
            organization_id,
            "iam.action.delete",
            Resource::new("action", name),
            serde_json::Map::new(),
            context,
            async |transaction| Ok(transaction.delete_custom_action(organization_id, name).await?),
        )
        .await
    }

    /// Create or replace one of the organisation's permission sets.
    pub async fn put_permission_set(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        set: authz::CustomPermissionSet,
        context: &RequestContext,
    ) -> Result<PermissionSetRecord, AppError> {
        let now = self.clock.now();
        let actions = serde_json::to_string(&set.actions)
            .map_err(|error| AppError::Internal(format!("actions: {error}")))?;
        let record = PermissionSetRecord {
            organization_id,
            name: set.name,
            description: check_description(&set.description)?,
            actions,
            created_at: now,
            updated_at: now,
        };
        let mut details = serde_json::Map::new();
        details.insert("actions".into(), json_value(&record.actions));
        self.change_authorization(
            principal,
            organization_id,
            "iam.permission_set.put",
            Resource::new("permission_set", &record.name),
            details,
            context,
            async |transaction| Ok(transaction.put_permission_set(&record).await?),
        )
        .await?;
        Ok(record)
    }

    pub async fn delete_permission_set(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        name: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.change_authorization(
            principal,
            organization_id,
            "iam.permission_set.delete",
            Resource::new("permission_set", name),
            serde_json::Map::new(),
            context,
            async |transaction| {
                Ok(transaction.delete_permission_set(organization_id, name).await?)
            },
        )
        .await
    }

    /// Answer other services' access questions, in order. The caller needs
    /// `iam:authorization:check` on each organisation asked about. Decisions are not recorded
    /// one by one: the service enforcing them records the accesses.
    pub async fn check_access(
        &self,
        caller: &Principal,
        questions: &[AccessQuestion],
        context: &RequestContext,
    ) -> Result<Vec<Decision>, AppError> {
        if questions.len() > MAX_CHECKS_PER_REQUEST {
            return Err(AppError::InvalidInput(format!(
                "at most {MAX_CHECKS_PER_REQUEST} questions per request; got {}",
                questions.len()
            )));
        }
        // Each organisation asked about is authorised and loaded once per request.
        let mut organizations: Vec<(Uuid, Arc<LoadedOrganization>)> = Vec::new();
        let mut decisions = Vec::with_capacity(questions.len());
        for question in questions {
            let organization = question.resource.organization();
            let loaded = match organizations.iter().find(|(id, _)| *id == organization) {
                Some((_, loaded)) => Arc::clone(loaded),
                None => {
                    let resource = ResourceRef::Organization(organization);
                    let loaded = self
                        .authorize_on(caller, "iam:authorization:check", resource, context)
                        .await?;
                    organizations.push((organization, Arc::clone(&loaded)));
                    loaded
                }
            };
            let principal_id = match question.principal {
                PrincipalRef::User(id) | PrincipalRef::Application(id) => id,
                PrincipalRef::Group(_) => {
                    decisions.push(refusal("a group never makes a request: ask for a member"));
                    continue;
                }
            };
            let now = question.context.time.unwrap_or_else(|| self.clock.now());
            let facts =
                loaded.member_facts(principal_id).or_else(|| loaded.guest_facts(principal_id, now));
            let Some(facts) = facts else {
                decisions.push(refusal(&format!(
                    "{} is not an active member or guest of organization {organization}",
                    question.principal
                )));
                continue;
            };
            if facts.principal != question.principal {
                decisions.push(refusal(&format!("{} does not exist", question.principal)));
                continue;
            }
            let request_context = authz::Context {
                source_ip: question.context.source_ip,
                now,
                user_agent: question.context.user_agent.clone(),
                mfa: question.context.mfa,
                authenticated_at: question.context.authenticated_at,
            };
            decisions.push(loaded.compiled.authorize(&authz::Request {
                principal: &facts,
                action: &question.action,
                resource: &question.resource,
                context: &request_context,
            }));
        }
        Ok(decisions)
    }

    /// What a user or application may do in its organisation, and through which rules.
    pub async fn effective_permissions(
        &self,
        caller: &Principal,
        subject: Uuid,
        context: &RequestContext,
    ) -> Result<authz::EffectivePermissions, AppError> {
        let organization_id = self.organization_of_member(caller, subject).await?;
        let loaded = self
            .authorize_on(
                caller,
                "iam:policies:read",
                ResourceRef::Organization(*organization_id.as_uuid()),
                context,
            )
            .await?;
        let facts = loaded.member_facts(subject).ok_or(AppError::NotFound("principal"))?;
        Ok(loaded.compiled.effective_permissions(&facts))
    }

    /// Who may perform `action` on `resource`.
    pub async fn who_can(
        &self,
        caller: &Principal,
        action: &str,
        resource: ResourceRef,
        context: &RequestContext,
    ) -> Result<authz::WhoCan, AppError> {
        let organization = ResourceRef::Organization(resource.organization());
        let loaded = self.authorize_on(caller, "iam:policies:read", organization, context).await?;
        loaded
            .compiled
            .who_can(action, &resource)
            .map_err(|error| AppError::InvalidInput(error.to_string()))
    }

    /// The organisation of an active user or application: the caller's own organisation's
    /// members first, then any user (for staff looking at a customer).
    async fn organization_of_member(
        &self,
        caller: &Principal,
        subject: Uuid,
    ) -> Result<OrganizationId, AppError> {
        let own = self.loaded_authorization(caller.organization_id).await?;
        if own.member_facts(subject).is_some() {
            return Ok(caller.organization_id);
        }
        let mut read = self.store.read_latest().await?;
        let user = read.get_user(base::UserId::from_uuid(subject)).await?;
        read.commit().await?;
        user.map(|user| user.organization_id).ok_or(AppError::NotFound("principal"))
    }
}

fn refusal(error: &str) -> Decision {
    Decision {
        allowed: false,
        determining_policies: Vec::new(),
        errors: vec![error.to_owned()],
        outside_address_ranges: false,
    }
}

/// The principal a stored policy is attached to.
pub fn policy_principal(policy: &PolicyRecord) -> PrincipalRef {
    holder_ref(policy.holder)
}
