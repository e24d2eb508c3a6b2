//! Projects: scopes inside an organisation.

use crate::AuditTrail as _;
use base::{OrganizationId, Project, ProjectId, RequestContext, Resource};
use store::ProjectRepository;

use crate::api_keys::unix_millis;
use crate::organizations::{check_limit, page, parse_name};
use crate::secrets::id_randomness;
use crate::{App, AppError, Page, Principal};

impl App {
    pub async fn create_project(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        name: &str,
        context: &RequestContext,
    ) -> Result<Project, AppError> {
        let name = parse_name(name, "project")?;
        self.authorize_in(principal, organization_id, "project.create", context).await?;
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
        Ok(project)
    }

    pub async fn get_project(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: ProjectId,
        context: &RequestContext,
    ) -> Result<Project, AppError> {
        self.authorize_in(principal, organization_id, "project.read", context).await?;
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
        self.authorize_in(principal, organization_id, "project.list", context).await?;
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
        let mut project = self.get_project(principal, organization_id, id, context).await?;
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
        let project = self.get_project(principal, organization_id, id, context).await?;
        let mut transaction = self.store.begin().await?;
        transaction.delete_project(organization_id, id).await?;
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
        Ok(())
    }
}
