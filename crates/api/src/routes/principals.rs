//! `/v1/organizations/{id}/applications` and `/groups`: non-human principals and groups.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base::{ApplicationId, GroupId, OrganizationId};
use serde::{Deserialize, Serialize};
use store::{ApplicationRecord, GroupRecord};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::api_keys::ApiKeyInput;
use super::setup::IssuedApiKeyResponse;
use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, Authenticated, Context};
use crate::problem::{ApiError, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationResponse {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<ApplicationRecord> for ApplicationResponse {
    fn from(application: ApplicationRecord) -> Self {
        Self {
            id: application.id.to_string(),
            organization_id: application.organization_id.to_string(),
            name: application.name,
            description: application.description,
            created_at: application.created_at,
        }
    }
}

/// Register an application (owners only, recent authentication).
#[utoipa::path(post, path = "/v1/organizations/{id}/applications", tag = "principals",
    params(("id" = String, Path, format = Uuid)), request_body = ApplicationInput,
    security(("api_key" = [])),
    responses((status = 201, body = ApplicationResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_application(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<ApplicationInput>,
) -> Result<(StatusCode, Json<ApplicationResponse>), ApiError> {
    let application = state
        .app
        .create_application(&principal, organization_id, &input.name, &input.description, &context)
        .await?;
    Ok((StatusCode::CREATED, Json(application.into())))
}

/// An organisation's applications.
#[utoipa::path(get, path = "/v1/organizations/{id}/applications", tag = "principals",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<ApplicationResponse>), (status = 403, body = Problem)))]
pub async fn list_applications(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<Vec<ApplicationResponse>>, ApiError> {
    let applications = state.app.list_applications(&principal, organization_id, &context).await?;
    Ok(Json(applications.into_iter().map(Into::into).collect()))
}

/// Delete an application: its keys stop working at once.
#[utoipa::path(delete, path = "/v1/organizations/{id}/applications/{application_id}", tag = "principals",
    params(("id" = String, Path, format = Uuid), ("application_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_application(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, ApplicationId)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_application(&principal, organization_id, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new API key for an application; its secret is shown once.
#[utoipa::path(post, path = "/v1/organizations/{id}/applications/{application_id}/api-keys",
    tag = "principals",
    params(("id" = String, Path, format = Uuid), ("application_id" = String, Path, format = Uuid)),
    request_body = ApiKeyInput, security(("api_key" = [])),
    responses((status = 201, body = IssuedApiKeyResponse), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn create_application_key(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, ApplicationId)>,
    ApiJson(input): ApiJson<ApiKeyInput>,
) -> Result<(StatusCode, Json<IssuedApiKeyResponse>), ApiError> {
    let issued = state
        .app
        .create_application_key(&principal, organization_id, id, input.request(), &context)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedApiKeyResponse { access_key: issued.id, secret: issued.secret }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupResponse {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<GroupRecord> for GroupResponse {
    fn from(group: GroupRecord) -> Self {
        Self {
            id: group.id.to_string(),
            organization_id: group.organization_id.to_string(),
            name: group.name,
            created_at: group.created_at,
        }
    }
}

/// Create a group (owners only, recent authentication).
#[utoipa::path(post, path = "/v1/organizations/{id}/groups", tag = "principals",
    params(("id" = String, Path, format = Uuid)), request_body = GroupInput,
    security(("api_key" = [])),
    responses((status = 201, body = GroupResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_group(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<GroupInput>,
) -> Result<(StatusCode, Json<GroupResponse>), ApiError> {
    let group = state.app.create_group(&principal, organization_id, &input.name, &context).await?;
    Ok((StatusCode::CREATED, Json(group.into())))
}

/// An organisation's groups.
#[utoipa::path(get, path = "/v1/organizations/{id}/groups", tag = "principals",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<GroupResponse>), (status = 403, body = Problem)))]
pub async fn list_groups(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<Vec<GroupResponse>>, ApiError> {
    let groups = state.app.list_groups(&principal, organization_id, &context).await?;
    Ok(Json(groups.into_iter().map(Into::into).collect()))
}

/// Delete a group (its memberships are recorded in the trail).
#[utoipa::path(delete, path = "/v1/organizations/{id}/groups/{group_id}", tag = "principals",
    params(("id" = String, Path, format = Uuid), ("group_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_group(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, GroupId)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_group(&principal, organization_id, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A group's members, as `user:<id>` and `application:<id>`.
#[utoipa::path(get, path = "/v1/organizations/{id}/groups/{group_id}/members", tag = "principals",
    params(("id" = String, Path, format = Uuid), ("group_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = Vec<String>), (status = 404, body = Problem)))]
pub async fn members(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, GroupId)>,
) -> Result<Json<Vec<String>>, ApiError> {
    let members = state.app.group_members(&principal, organization_id, id, &context).await?;
    Ok(Json(members.into_iter().map(app::member_text).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    /// `user:<uuid>` or `application:<uuid>` of the same organisation.
    pub member: String,
}

/// Add a member to a group.
#[utoipa::path(post, path = "/v1/organizations/{id}/groups/{group_id}/members", tag = "principals",
    params(("id" = String, Path, format = Uuid), ("group_id" = String, Path, format = Uuid)),
    request_body = MemberInput, security(("api_key" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn add_member(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, GroupId)>,
    ApiJson(input): ApiJson<MemberInput>,
) -> Result<StatusCode, ApiError> {
    let member = app::parse_member(&input.member)?;
    state
        .app
        .change_group_membership(&principal, organization_id, id, member, true, &context)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a member from a group.
#[utoipa::path(delete, path = "/v1/organizations/{id}/groups/{group_id}/members/{member}",
    tag = "principals",
    params(("id" = String, Path, format = Uuid), ("group_id" = String, Path, format = Uuid),
        ("member" = String, Path, description = "user:<uuid> or application:<uuid>")),
    security(("api_key" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn remove_member(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id, member)): ApiPath<(OrganizationId, GroupId, String)>,
) -> Result<StatusCode, ApiError> {
    let member = app::parse_member(&member)?;
    state
        .app
        .change_group_membership(&principal, organization_id, id, member, false, &context)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
