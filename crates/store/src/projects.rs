//! Projects inside organisations.

use base::{Name, OrganizationId, Project, ProjectId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

type ProjectRow = (Uuid, Uuid, String, OffsetDateTime, OffsetDateTime);

const DUPLICATE_NAME: &str = "a project with this name already exists in the organization";

/// A `SELECT` of every column, followed by the rest of the statement (kept literal for sqlx).
macro_rules! select {
    ($rest:literal) => {
        concat!("SELECT id, organization_id, name, created_at, updated_at FROM projects ", $rest)
    };
}

fn decode(row: ProjectRow) -> Result<Project, StoreError> {
    let (id, organization_id, name, created_at, updated_at) = row;
    Ok(Project {
        id: ProjectId::from_uuid(id),
        organization_id: OrganizationId::from_uuid(organization_id),
        name: Name::parse(&name).map_err(|error| StoreError::Corrupt(error.to_string()))?,
        created_at,
        updated_at,
    })
}

/// Storage of projects.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait ProjectRepository {
    async fn insert_project(&mut self, project: &Project) -> Result<(), StoreError>;
    /// The project, if it exists in that organisation.
    async fn get_project(
        &mut self,
        organization_id: OrganizationId,
        id: ProjectId,
    ) -> Result<Option<Project>, StoreError>;
    async fn list_projects(
        &mut self,
        organization_id: OrganizationId,
        after: Option<ProjectId>,
        limit: u32,
    ) -> Result<Vec<Project>, StoreError>;
    async fn rename_project(
        &mut self,
        organization_id: OrganizationId,
        id: ProjectId,
        name: &Name,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn delete_project(
        &mut self,
        organization_id: OrganizationId,
        id: ProjectId,
    ) -> Result<(), StoreError>;
}

impl ProjectRepository for Transaction {
    async fn insert_project(&mut self, project: &Project) -> Result<(), StoreError> {
        let sql = "INSERT INTO projects \
                   (id, organization_id, name, name_folded, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(project.id.as_uuid())
            .bind(project.organization_id.as_uuid())
            .bind(project.name.as_str())
            .bind(project.name.folded())
            .bind(project.created_at)
            .bind(project.updated_at)
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|error| StoreError::from_write(error, DUPLICATE_NAME))
    }

    async fn get_project(
        &mut self,
        organization_id: OrganizationId,
        id: ProjectId,
    ) -> Result<Option<Project>, StoreError> {
        let sql = select!("WHERE id = $1 AND organization_id = $2");
        let row: Option<ProjectRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(id.as_uuid())
            .bind(organization_id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        row.map(decode).transpose()
    }

    async fn list_projects(
        &mut self,
        organization_id: OrganizationId,
        after: Option<ProjectId>,
        limit: u32,
    ) -> Result<Vec<Project>, StoreError> {
        let after = after.map(|id| *id.as_uuid()).unwrap_or(Uuid::nil());
        let sql =
            select!("WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT CAST($3 AS BIGINT)");
        let rows: Vec<ProjectRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter().map(decode).collect()
    }

    async fn rename_project(
        &mut self,
        organization_id: OrganizationId,
        id: ProjectId,
        name: &Name,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE projects SET name = $1, name_folded = $2, updated_at = $3 \
                   WHERE id = $4 AND organization_id = $5";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(name.as_str())
            .bind(name.folded())
            .bind(at)
            .bind(id.as_uuid())
            .bind(organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))
        .map_err(|error| StoreError::from_write(error, DUPLICATE_NAME))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("project"));
        }
        Ok(())
    }

    async fn delete_project(
        &mut self,
        organization_id: OrganizationId,
        id: ProjectId,
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM projects WHERE id = $1 AND organization_id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id.as_uuid())
            .bind(organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("project"));
        }
        Ok(())
    }
}
