//! Applications (non-human principals holding API keys) and groups of users and
//! applications. Membership changes are audited as they happen ("mover" events), so that
//! access reviews can pick them up.

use base::{ApplicationId, GroupId, OrganizationId, RequestContext, Resource, UserId};
use store::{
    ApplicationRecord, AuthorizationRepository as _, GroupMember, GroupRecord, KeyHolder,
    PrincipalRepository, UserRepository, UserStatus,
};

use crate::AuditTrail as _;
use crate::api_keys::unix_millis;
use crate::organizations::parse_name;
use crate::secrets::id_randomness;
use crate::{App, AppError, IssuedApiKey, Principal};

fn check_description(description: &str) -> Result<String, AppError> {
    let description = description.trim();
    if description.chars().count() > 500 || description.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(AppError::InvalidInput(
            "description: at most 500 characters, no control characters".into(),
        ));
    }
    Ok(description.to_owned())
}

/// The spelling of a member in the API and the trail: `user:<uuid>` or `application:<uuid>`
/// (the inverse of [`parse_member`]).
pub fn member_text(member: GroupMember) -> String {
    match member {
        GroupMember::User(id) => format!("user:{id}"),
        GroupMember::Application(id) => format!("application:{id}"),
    }
}

impl App {
    /// Register an application.
    pub async fn create_application(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        name: &str,
        description: &str,
        context: &RequestContext,
    ) -> Result<ApplicationRecord, AppError> {
        let name = parse_name(name, "application")?;
        let description = check_description(description)?;
        self.authorize_recently(principal, organization_id, "iam:applications:write", context)
            .await?;
        let now = self.clock.now();
        let application = ApplicationRecord {
            id: ApplicationId::new(unix_millis(now), id_randomness()),
            organization_id,
            name: name.as_str().to_owned(),
            description,
            created_at: now,
        };
        let mut transaction = self.store.begin().await?;
        transaction.insert_application(&application).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "application.create",
            Resource::new("application", application.id),
            context,
        );
        event.details.insert("name".into(), application.name.clone().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.authorization.invalidate(organization_id);
        Ok(application)
    }

    pub async fn list_applications(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<ApplicationRecord>, AppError> {
        self.authorize_in(principal, organization_id, "iam:applications:read", context).await?;
        let mut read = self.store.read_latest().await?;
        let applications = read.list_applications(organization_id).await?;
        read.commit().await?;
        Ok(applications)
    }

    /// Delete an application: its keys stop working at once and its memberships go.
    pub async fn delete_application(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: ApplicationId,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_recently(principal, organization_id, "iam:applications:delete", context)
            .await?;
        let mut transaction = self.store.begin().await?;
        let application = transaction
            .get_application(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("application"))?;
        transaction.delete_application(organization_id, id).await?;
        let holder = store::PolicyHolder::Application(*id.as_uuid());
        let n_policies = transaction.delete_policies_of(holder).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "application.delete",
            Resource::new("application", id),
            context,
        );
        event.privileged = true;
        event.details.insert("name".into(), application.name.into());
        event.details.insert("policies_deleted".into(), n_policies.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.credentials.evict_application(id);
        self.authorization.invalidate(organization_id);
        Ok(())
    }

    /// A new API key for an application; its secret is shown once.
    pub async fn create_application_key(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: ApplicationId,
        request: crate::ApiKeyRequest<'_>,
        context: &RequestContext,
    ) -> Result<IssuedApiKey, AppError> {
        self.authorize_recently(principal, organization_id, "iam:api-keys:write", context).await?;
        let crate::ApiKeyRequest { description, expires_at, default_project } = request;
        let description = check_description(description)?;
        let mut transaction = self.store.begin().await?;
        transaction
            .get_application(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("application"))?;
        let issued = self
            .issue_api_key(
                &mut transaction,
                crate::api_keys::NewKey {
                    holder: KeyHolder::Application(id),
                    organization_id,
                    description: &description,
                    expires_at,
                    default_project,
                },
                &principal.actor,
                context,
            )
            .await?;
        transaction.commit().await?;
        Ok(issued)
    }

    /// Authorise a sensitive action, which also needs a recent authentication.
    pub(crate) async fn authorize_recently(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_in(principal, organization_id, action, context).await?;
        self.require_recent_authentication(principal).await
    }

    pub async fn create_group(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        name: &str,
        context: &RequestContext,
    ) -> Result<GroupRecord, AppError> {
        let name = parse_name(name, "group")?;
        self.authorize_recently(principal, organization_id, "iam:groups:write", context).await?;
        let now = self.clock.now();
        let group = GroupRecord {
            id: GroupId::new(unix_millis(now), id_randomness()),
            organization_id,
            name: name.as_str().to_owned(),
            created_at: now,
        };
        let mut transaction = self.store.begin().await?;
        transaction.insert_group(&group).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "group.create",
            Resource::new("group", group.id),
            context,
        );
        event.details.insert("name".into(), group.name.clone().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(group)
    }

    pub async fn list_groups(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<GroupRecord>, AppError> {
        self.authorize_in(principal, organization_id, "iam:groups:read", context).await?;
        let mut read = self.store.read_latest().await?;
        let groups = read.list_groups(organization_id).await?;
        read.commit().await?;
        Ok(groups)
    }

    pub async fn delete_group(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: GroupId,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_recently(principal, organization_id, "iam:groups:delete", context).await?;
        let mut transaction = self.store.begin().await?;
        let group =
            transaction.get_group(organization_id, id).await?.ok_or(AppError::NotFound("group"))?;
        let members = transaction.group_members(id).await?;
        transaction.delete_group(organization_id, id).await?;
        let n_policies =
            transaction.delete_policies_of(store::PolicyHolder::Group(*id.as_uuid())).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "group.delete",
            Resource::new("group", id),
            context,
        );
        event.privileged = true;
        event.details.insert("name".into(), group.name.into());
        event.details.insert(
            "members".into(),
            members.into_iter().map(member_text).collect::<Vec<_>>().into(),
        );
        event.details.insert("policies_deleted".into(), n_policies.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.authorization.invalidate(organization_id);
        Ok(())
    }

    /// The members of a group.
    pub async fn group_members(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: GroupId,
        context: &RequestContext,
    ) -> Result<Vec<GroupMember>, AppError> {
        self.authorize_in(principal, organization_id, "iam:groups:read", context).await?;
        let mut read = self.store.read_latest().await?;
        read.get_group(organization_id, id).await?.ok_or(AppError::NotFound("group"))?;
        let members = read.group_members(id).await?;
        read.commit().await?;
        Ok(members)
    }

    /// Add or remove a user or application of the organisation (a "mover" event).
    pub async fn change_group_membership(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: GroupId,
        member: GroupMember,
        add: bool,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let action = if add { "group.member.add" } else { "group.member.remove" };
        self.authorize_recently(principal, organization_id, "iam:groups:write", context).await?;
        let mut transaction = self.store.begin().await?;
        transaction.get_group(organization_id, id).await?.ok_or(AppError::NotFound("group"))?;
        let belongs = match member {
            GroupMember::User(user_id) => {
                transaction.get_user(user_id).await?.is_some_and(|user| {
                    user.organization_id == organization_id && user.status != UserStatus::Deleted
                })
            }
            GroupMember::Application(application_id) => {
                transaction.get_application(organization_id, application_id).await?.is_some()
            }
        };
        if !belongs {
            return Err(AppError::NotFound("member in this organization"));
        }
        let changed = if add {
            transaction.add_group_member(id, member, self.clock.now()).await?
        } else {
            transaction.remove_group_member(id, member).await?
        };
        if !changed {
            let state = if add { "already a member" } else { "not a member" };
            return Err(AppError::Conflict(format!("{} is {state}", member_text(member))));
        }
        let mut event = self.success_event(
            principal,
            organization_id,
            action,
            Resource::new("group", id),
            context,
        );
        event.privileged = true;
        event.details.insert("member".into(), member_text(member).into());
        let review_events = self
            .review_mover(&mut transaction, organization_id, id, member, add, &mut event)
            .await?;
        transaction.append_audit_event(&event).await?;
        transaction.append_audit_events(&review_events).await?;
        transaction.commit().await?;
        self.authorization.invalidate(organization_id);
        Ok(())
    }
}

/// Parse `user:<uuid>` or `application:<uuid>`.
pub fn parse_member(text: &str) -> Result<GroupMember, AppError> {
    let invalid = || {
        AppError::InvalidInput(format!(
            "member {text:?}: expected user:<uuid> or application:<uuid>"
        ))
    };
    match text.split_once(':') {
        Some(("user", id)) => id.parse::<UserId>().map(GroupMember::User).map_err(|_| invalid()),
        Some(("application", id)) => {
            id.parse::<ApplicationId>().map(GroupMember::Application).map_err(|_| invalid())
        }
        _ => Err(invalid()),
    }
}
