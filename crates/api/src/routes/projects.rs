//! `/v1/organizations/{id}/projects`

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base::{OrganizationId, Project, ProjectId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::ListQuery;
use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectResponse {
    #[schema(value_type = String, format = Uuid)]
    pub id: ProjectId,
    #[schema(value_type = String, format = Uuid)]
    pub organization_id: OrganizationId,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<Project> for ProjectResponse {
    fn from(project: Project) -> Self {
        Self {
            id: project.id,
            organization_id: project.organization_id,
            name: project.name.as_str().to_owned(),
            created_at: project.created_at,
            updated_at: project.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    pub items: Vec<ProjectResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    /// 1 to 100 characters, unique in the organisation (case-insensitively).
    pub name: String,
}

/// List an organisation's projects.
#[utoipa::path(get, path = "/v1/organizations/{id}/projects", tag = "projects",
    params(("id" = String, Path, format = Uuid), ListQuery), security(("api_key" = [])),
    responses((status = 200, body = ProjectList), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ProjectList>, ApiError> {
    let page = state
        .app
        .list_projects(&principal, organization_id, query.cursor()?, query.limit(), &context)
        .await?;
    Ok(Json(ProjectList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Create a project.
#[utoipa::path(post, path = "/v1/organizations/{id}/projects", tag = "projects",
    params(("id" = String, Path, format = Uuid)), request_body = ProjectInput,
    security(("api_key" = [])),
    responses((status = 201, body = ProjectResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<ProjectInput>,
) -> Result<(StatusCode, Json<ProjectResponse>), ApiError> {
    let project =
        state.app.create_project(&principal, organization_id, &input.name, &context).await?;
    Ok((StatusCode::CREATED, Json(project.into())))
}

/// Read one project.
#[utoipa::path(get, path = "/v1/organizations/{id}/projects/{project_id}", tag = "projects",
    params(("id" = String, Path, format = Uuid), ("project_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = ProjectResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, ProjectId)>,
) -> Result<Json<ProjectResponse>, ApiError> {
    Ok(Json(state.app.get_project(&principal, organization_id, id, &context).await?.into()))
}

/// Rename a project.
#[utoipa::path(patch, path = "/v1/organizations/{id}/projects/{project_id}", tag = "projects",
    params(("id" = String, Path, format = Uuid), ("project_id" = String, Path, format = Uuid)),
    request_body = ProjectInput, security(("api_key" = [])),
    responses((status = 200, body = ProjectResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn rename(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, ProjectId)>,
    ApiJson(input): ApiJson<ProjectInput>,
) -> Result<Json<ProjectResponse>, ApiError> {
    let project =
        state.app.rename_project(&principal, organization_id, id, &input.name, &context).await?;
    Ok(Json(project.into()))
}

/// Delete a project.
#[utoipa::path(delete, path = "/v1/organizations/{id}/projects/{project_id}", tag = "projects",
    params(("id" = String, Path, format = Uuid), ("project_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, ProjectId)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_project(&principal, organization_id, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
