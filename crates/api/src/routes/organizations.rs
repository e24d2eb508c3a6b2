//! `/v1/organizations`

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base::{Organization, OrganizationId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::ListQuery;
use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationResponse {
    #[schema(value_type = String, format = Uuid)]
    pub id: OrganizationId,
    pub name: String,
    /// `provider` (the staff directory) or `customer`.
    pub kind: String,
    /// Every member must use a second factor (staff and owners always must).
    pub mfa_required: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<Organization> for OrganizationResponse {
    fn from(organization: Organization) -> Self {
        Self {
            id: organization.id,
            name: organization.name.as_str().to_owned(),
            kind: organization.kind.as_str().to_owned(),
            mfa_required: organization.mfa_required,
            created_at: organization.created_at,
            updated_at: organization.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationList {
    pub items: Vec<OrganizationResponse>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The body of a create or rename.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationInput {
    /// 1 to 100 characters, unique (case-insensitively).
    pub name: String,
}

/// List the organisations the caller can see.
#[utoipa::path(get, path = "/v1/organizations", tag = "organizations",
    params(ListQuery), security(("api_key" = [])),
    responses((status = 200, body = OrganizationList), (status = 400, body = Problem),
        (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<OrganizationList>, ApiError> {
    let page =
        state.app.list_organizations(&principal, query.cursor()?, query.limit(), &context).await?;
    Ok(Json(OrganizationList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Create a customer organisation (provider owners only).
#[utoipa::path(post, path = "/v1/organizations", tag = "organizations",
    request_body = OrganizationInput, security(("api_key" = [])),
    responses((status = 201, body = OrganizationResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 415, body = Problem)))]
pub async fn create(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(input): ApiJson<OrganizationInput>,
) -> Result<(StatusCode, Json<OrganizationResponse>), ApiError> {
    let organization = state.app.create_organization(&principal, &input.name, &context).await?;
    Ok((StatusCode::CREATED, Json(organization.into())))
}

/// Read one organisation.
#[utoipa::path(get, path = "/v1/organizations/{id}", tag = "organizations",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = OrganizationResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<OrganizationId>,
) -> Result<Json<OrganizationResponse>, ApiError> {
    Ok(Json(state.app.get_organization(&principal, id, &context).await?.into()))
}

/// The fields a PATCH may change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    /// Require a second factor of every member (owners only, recent authentication).
    pub mfa_required: Option<bool>,
}

/// Rename an organisation, or require a second factor of its members.
#[utoipa::path(patch, path = "/v1/organizations/{id}", tag = "organizations",
    params(("id" = String, Path, format = Uuid)), request_body = OrganizationPatch,
    security(("api_key" = [])),
    responses((status = 200, body = OrganizationResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn rename(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<OrganizationPatch>,
) -> Result<Json<OrganizationResponse>, ApiError> {
    if input.name.is_none() && input.mfa_required.is_none() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "give at least one of `name` and `mfa_required`",
        )
        .into());
    }
    let mut organization = state.app.get_organization(&principal, id, &context).await?;
    if let Some(name) = &input.name {
        organization = state.app.rename_organization(&principal, id, name, &context).await?;
    }
    if let Some(required) = input.mfa_required {
        organization =
            state.app.set_organization_mfa_required(&principal, id, required, &context).await?;
    }
    Ok(Json(organization.into()))
}

/// An organisation's password policy beyond the built-in one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Days after which a password no longer signs in (1 to 3650), or null for no maximum
    /// (the default: NIST SP 800-63B advises against forced changes).
    pub max_age_days: Option<u32>,
}

/// The organisation's maximum password age.
#[utoipa::path(get, path = "/v1/organizations/{id}/password-policy", tag = "organizations",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = PasswordPolicy), (status = 403, body = Problem)))]
pub async fn password_policy(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<OrganizationId>,
) -> Result<Json<PasswordPolicy>, ApiError> {
    let max_age_days = state.app.password_max_age(&principal, id, &context).await?;
    Ok(Json(PasswordPolicy { max_age_days }))
}

/// Set or remove the organisation's maximum password age (owners, recent authentication).
#[utoipa::path(put, path = "/v1/organizations/{id}/password-policy", tag = "organizations",
    params(("id" = String, Path, format = Uuid)), request_body = PasswordPolicy,
    security(("api_key" = [])),
    responses((status = 200, body = PasswordPolicy), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn set_password_policy(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<PasswordPolicy>,
) -> Result<Json<PasswordPolicy>, ApiError> {
    let max_age_days =
        state.app.set_password_max_age(&principal, id, input.max_age_days, &context).await?;
    Ok(Json(PasswordPolicy { max_age_days }))
}

/// Delete an empty customer organisation (provider owners only).
#[utoipa::path(delete, path = "/v1/organizations/{id}", tag = "organizations",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<OrganizationId>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_organization(&principal, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
