//! Organisations: create, read, list, rename, delete.

use crate::AuditTrail as _;
use base::{
    AuditEvent, Name, Organization, OrganizationId, OrganizationKind, Outcome, RequestContext,
    Resource,
};
use store::OrganizationRepository;

use crate::api_keys::unix_millis;
use crate::secrets::id_randomness;
use crate::{App, AppError, Principal};

/// One page of a list, and the cursor of the next page when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub(crate) const MAX_PAGE_SIZE: u32 = 200;

pub(crate) fn page<T, C: ToString>(
    mut items: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> C,
) -> Page<T> {
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor =
        if has_more { items.last().map(|last| cursor(last).to_string()) } else { None };
    Page { items, next_cursor }
}

pub(crate) fn check_limit(limit: u32) -> Result<u32, AppError> {
    if (1..=MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(AppError::InvalidInput(format!("limit must be between 1 and {MAX_PAGE_SIZE}")))
    }
}

pub(crate) fn parse_name(input: &str, what: &str) -> Result<Name, AppError> {
    Name::parse(input).map_err(|error| AppError::InvalidInput(format!("{what} name: {error}")))
}

impl App {
    /// Record a refused attempt in the target organisation's trail (a refusal is evidence
    /// too) and return the error to give the caller.
    pub(crate) async fn deny(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: &str,
        resource: Resource,
        context: &RequestContext,
        reason: &str,
    ) -> AppError {
        let mut event = self.event(&principal.actor, organization_id, action, resource);
        event.outcome = Outcome::Denied { reason: reason.to_owned() };
        event.context = context.clone();
        let recorded = async {
            let mut transaction = self.store.begin().await?;
            transaction.append_audit_event(&event).await?;
            transaction.commit().await.map_err(AppError::from)
        };
        if let Err(error) = recorded.await {
            tracing::error!(%error, action, "could not record a denied access");
        }
        AppError::Forbidden(format!("not allowed to {action} in this organization"))
    }

    pub(crate) fn success_event(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: &str,
        resource: Resource,
        context: &RequestContext,
    ) -> AuditEvent {
        let mut event = self.event(&principal.actor, organization_id, action, resource);
        event.context = context.clone();
        event
    }

    /// Create a customer organisation: staff holding `organizations:organizations:create` on
    /// the provider organisation may.
    pub async fn create_organization(
        &self,
        principal: &Principal,
        name: &str,
        context: &RequestContext,
    ) -> Result<Organization, AppError> {
        let name = parse_name(name, "organization")?;
        let now = self.clock.now();
        let organization = Organization {
            id: OrganizationId::new(unix_millis(now), id_randomness()),
            name,
            kind: OrganizationKind::Customer,
            mfa_required: false,
            created_at: now,
            updated_at: now,
        };
        if !principal.is_staff() {
            let resource = Resource::kind_only("organization");
            return Err(self
                .deny(
                    principal,
                    principal.organization_id,
                    "organizations:organizations:create",
                    resource,
                    context,
                    "not_staff",
                )
                .await);
        }
        let provider = principal.organization_id;
        self.authorize_in(principal, provider, "organizations:organizations:create", context)
            .await?;
        let mut transaction = self.store.begin().await?;
        transaction.insert_organization(&organization).await?;
        let mut event = self.success_event(
            principal,
            organization.id,
            "organization.create",
            Resource::new("organization", organization.id),
            context,
        );
        event.privileged = true;
        event.details.insert("name".into(), organization.name.as_str().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(organization)
    }

    pub async fn get_organization(
        &self,
        principal: &Principal,
        id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Organization, AppError> {
        self.authorize_in(principal, id, "organizations:organization:read", context).await
    }

    /// The organisations the principal can see, in creation order: all of them for staff
    /// holding `organizations:organizations:list` on the provider organisation, its own for
    /// everyone else.
    pub async fn list_organizations(
        &self,
        principal: &Principal,
        after: Option<OrganizationId>,
        limit: u32,
        context: &RequestContext,
    ) -> Result<Page<Organization>, AppError> {
        let limit = check_limit(limit)?;
        let every = principal.is_staff()
            && self
                .is_allowed(
                    principal,
                    "organizations:organizations:list",
                    authz::ResourceRef::Organization(*principal.organization_id.as_uuid()),
                    context,
                )
                .await?;
        let mut read = self.store.read_latest().await?;
        let items = if every {
            read.list_organizations(after, limit + 1).await?
        } else {
            let own = read.get_organization(principal.organization_id).await?;
            own.into_iter().filter(|own| after.is_none_or(|after| own.id > after)).collect()
        };
        read.commit().await?;
        Ok(page(items, limit, |organization| organization.id))
    }

    pub async fn rename_organization(
        &self,
        principal: &Principal,
        id: OrganizationId,
        name: &str,
        context: &RequestContext,
    ) -> Result<Organization, AppError> {
        let name = parse_name(name, "organization")?;
        let mut organization =
            self.authorize_in(principal, id, "organizations:organization:write", context).await?;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        transaction.rename_organization(id, &name, now).await?;
        let mut event = self.success_event(
            principal,
            id,
            "organization.update",
            Resource::new("organization", id),
            context,
        );
        event.details.insert("old_name".into(), organization.name.as_str().into());
        event.details.insert("name".into(), name.as_str().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.authorization.invalidate(id);
        organization.name = name;
        organization.updated_at = now;
        Ok(organization)
    }

    /// Require (or stop requiring) a second factor of every member (owners only, recent
    /// authentication). Members without one get the grace period, then restricted sessions.
    pub async fn set_organization_mfa_required(
        &self,
        principal: &Principal,
        id: OrganizationId,
        required: bool,
        context: &RequestContext,
    ) -> Result<Organization, AppError> {
        let mut organization =
            self.authorize_in(principal, id, "organizations:settings:write", context).await?;
        self.require_recent_authentication(principal).await?;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        transaction.set_organization_mfa_required(id, required, now).await?;
        let mut event = self.success_event(
            principal,
            id,
            "organization.mfa.update",
            Resource::new("organization", id),
            context,
        );
        event.privileged = true;
        event.details.insert("mfa_required".into(), required.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.authorization.invalidate(id);
        organization.mfa_required = required;
        organization.updated_at = now;
        Ok(organization)
    }

    /// Delete a customer organisation that holds nothing. Closing an organisation is the
    /// provider's act: only staff holding `organizations:organization:delete` on it may; the
    /// provider's own organisation cannot be deleted.
    pub async fn delete_organization(
        &self,
        principal: &Principal,
        id: OrganizationId,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        const ACTION: &str = "organizations:organization:delete";
        if !principal.is_staff() {
            let resource = Resource::new("organization", id);
            return Err(self.deny(principal, id, ACTION, resource, context, "not_staff").await);
        }
        let organization = self.authorize_in(principal, id, ACTION, context).await?;
        if organization.kind == OrganizationKind::Provider {
            return Err(AppError::Conflict("the provider organization cannot be deleted".into()));
        }
        let mut transaction = self.store.begin().await?;
        transaction.delete_organization(id).await?;
        let mut event = self.success_event(
            principal,
            id,
            "organization.delete",
            Resource::new("organization", id),
            context,
        );
        event.privileged = true;
        event.details.insert("name".into(), organization.name.as_str().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.authorization.invalidate(id);
        Ok(())
    }
}
