//! `/v1/organizations/{id}/users` and `/invitations`: accounts through their life.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base::{OrganizationId, UserId};
use serde::{Deserialize, Serialize};
use store::{UserRecord, UserRole, UserStatus};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::ListQuery;
use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub display_name: String,
    /// `owner` or `member`.
    pub role: String,
    /// `active` or `suspended`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<UserRecord> for UserResponse {
    fn from(user: UserRecord) -> Self {
        Self {
            id: user.id.to_string(),
            organization_id: user.organization_id.to_string(),
            email: user.email,
            display_name: user.display_name,
            role: user.role.as_str().to_owned(),
            status: user.status.as_str().to_owned(),
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserResponse>,
    pub next_cursor: Option<String>,
}

/// An organisation's accounts.
#[utoipa::path(get, path = "/v1/organizations/{id}/users", tag = "users",
    params(("id" = String, Path, format = Uuid), ListQuery), security(("api_key" = [])),
    responses((status = 200, body = UserList), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<UserList>, ApiError> {
    let page = state
        .app
        .list_users(&principal, organization_id, query.cursor()?, query.limit(), &context)
        .await?;
    Ok(Json(UserList {
        items: page
            .items
            .into_iter()
            .filter(|user| user.status != UserStatus::Deleted)
            .map(Into::into)
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationInput {
    pub email: String,
    /// `member` (default) or `owner`.
    #[serde(default)]
    pub role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationResponse {
    pub email: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// Invite someone by email (owners only, recent authentication): a single-use link valid
/// 72 hours is mailed to them.
#[utoipa::path(post, path = "/v1/organizations/{id}/invitations", tag = "users",
    params(("id" = String, Path, format = Uuid)), request_body = InvitationInput,
    security(("api_key" = [])),
    responses((status = 201, body = InvitationResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn invite(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<InvitationInput>,
) -> Result<(StatusCode, Json<InvitationResponse>), ApiError> {
    let role = match input.role.as_deref() {
        None | Some("member") => UserRole::Member,
        Some("owner") => UserRole::Owner,
        Some(other) => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                format!("unknown role {other:?}: use `member` or `owner`"),
            )
            .into());
        }
    };
    let expires_at =
        state.app.invite_user(&principal, organization_id, &input.email, role, &context).await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationResponse { email: input.email.trim().to_owned(), expires_at }),
    ))
}

async fn set_status(
    state: &ApiState,
    principal: &app::Principal,
    context: &base::RequestContext,
    (organization_id, user_id): (OrganizationId, UserId),
    status: UserStatus,
) -> Result<StatusCode, ApiError> {
    state.app.set_user_status(principal, organization_id, user_id, status, context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Suspend an account: every session and API key it holds stops working at once.
#[utoipa::path(post, path = "/v1/organizations/{id}/users/{user_id}/suspend", tag = "users",
    params(("id" = String, Path, format = Uuid), ("user_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn suspend(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(ids): ApiPath<(OrganizationId, UserId)>,
) -> Result<StatusCode, ApiError> {
    set_status(&state, &principal, &context, ids, UserStatus::Suspended).await
}

/// Reactivate a suspended account (its old sessions and keys stay revoked).
#[utoipa::path(post, path = "/v1/organizations/{id}/users/{user_id}/reactivate", tag = "users",
    params(("id" = String, Path, format = Uuid), ("user_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reactivate(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(ids): ApiPath<(OrganizationId, UserId)>,
) -> Result<StatusCode, ApiError> {
    set_status(&state, &principal, &context, ids, UserStatus::Active).await
}

/// Delete an account: credentials revoked, personal data erased, the trail kept.
#[utoipa::path(delete, path = "/v1/organizations/{id}/users/{user_id}", tag = "users",
    params(("id" = String, Path, format = Uuid), ("user_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(ids): ApiPath<(OrganizationId, UserId)>,
) -> Result<StatusCode, ApiError> {
    set_status(&state, &principal, &context, ids, UserStatus::Deleted).await
}

/// Send a user a password reset link (owners only); an administrator never sets a password.
#[utoipa::path(post, path = "/v1/organizations/{id}/users/{user_id}/password-reset", tag = "users",
    params(("id" = String, Path, format = Uuid), ("user_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reset_password(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, user_id)): ApiPath<(OrganizationId, UserId)>,
) -> Result<StatusCode, ApiError> {
    state.app.trigger_password_reset(&principal, organization_id, user_id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

/// End every session of an account (owners only).
#[utoipa::path(delete, path = "/v1/organizations/{id}/users/{user_id}/sessions", tag = "users",
    params(("id" = String, Path, format = Uuid), ("user_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = SessionsEnded), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn end_sessions(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, user_id)): ApiPath<(OrganizationId, UserId)>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let sessions_ended =
        state.app.end_user_sessions(&principal, organization_id, user_id, &context).await?;
    Ok(Json(SessionsEnded { sessions_ended }))
}
