//! Projects: scopes inside an organisation.

use crate::AuditTrail as _;
use base::{OrganizationId, Project, ProjectId, RequestContext, Resource};
use store::ProjectRepository;

use crate::api_keys::unix_millis;
use crate::organizations::{check_limit, page, parse_name};
use crate::secrets::id_randomness;
use crate::{App, AppError, Page, Principal};

fn project_resource(organization_id: OrganizationId, id: ProjectId) -> authz::ResourceRef {
    authz::ResourceRef::Project { organization: *organization_id.as_uuid(), project: *id.as_uuid() }
}

impl App {
    pub async fn create_project(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        name: &str,
        context: &RequestContext,
    ) -> Result<Project, AppError> {
        let name = parse_name(name, "project")?;
        self.authorize_in(principal, organization_id, "projects:projects:write", context).await?;
        let now = self.clock.now();
        let project = Project {
            id: ProjectId::new(unix_millis(now), id_randomness()),
            organization_id,
            name,
            created_at: now,
            updated_at: now,
        };
        let mut transaction = self.store.begin().await?;
        transaction.insert_project(&project).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "project.create",
            Resource::new("project", project.id),
            context,
        );
        event.details.insert("name".into(), project.name.as_str().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.authorization.invalidate(organization_id);
        Ok(project)
    }

    pub async fn get_project(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: ProjectId,
        context: &RequestContext,
    ) -> Result<Project, AppError> {
        let resource = project_resource(organization_id, id);
        self.authorize_on(principal, "projects:projects:read", resource, context).await?;
        self.project(organization_id, id).await
    }

    async fn project(
        &self,
        organization_id: OrganizationId,
        id: ProjectId,
    ) -> Result<Project, AppError> {
        let mut read = self.store.read_latest().await?;
        let project = read.get_project(organization_id, id).await?;
        read.commit().await?;
        project.ok_or(AppError::NotFound("project"))
    }

    pub async fn list_projects(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        after: Option<ProjectId>,
        limit: u32,
        context: &RequestContext,
    ) -> Result<Page<Project>, AppError> {
        let limit = check_limit(limit)?;
        self.authorize_in(principal, organization_id, "projects:projects:read", context).await?;
        let mut read = self.store.read_latest().await?;
        let items = read.list_projects(organization_id, after, limit + 1).await?;
        read.commit().await?;
        Ok(page(items, limit, |project| project.id))
    }

    pub async fn rename_project(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: ProjectId,
        name: &str,
        context: &RequestContext,
    ) -> Result<Project, AppError> {
        let name = parse_name(name, "project")?;
        let resource = project_resource(organization_id, id);
        self.authorize_on(principal, "projects:projects:write", resource, context).await?;
        let mut project = self.project(organization_id, id).await?;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        transaction.rename_project(organization_id, id, &name, now).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "project.update",
            Resource::new("project", id),
            context,
        );
        event.details.insert("old_name".into(), project.name.as_str().into());
        event.details.insert("name".into(), name.as_str().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        project.name = name;
        project.updated_at = now;
        Ok(project)
    }

    pub async fn delete_project(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: ProjectId,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let resource = project_resource(organization_id, id);
        self.authorize_on(principal, "projects:projects:delete", resource, context).await?;
        let project = self.project(organization_id, id).await?;
        let mut transaction = self.store.begin().await?;
        // A policy scoped to the project would no longer compile: it must be changed first.
        let guard =
            crate::authorization::OwnersKeepIam::before(&mut transaction, organization_id).await?;
        transaction.delete_project(organization_id, id).await?;
        guard.check(&mut transaction).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "project.delete",
            Resource::new("project", id),
            context,
        );
        event.details.insert("name".into(), project.name.as_str().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.authorization.invalidate(organization_id);
        Ok(())
    }
}
