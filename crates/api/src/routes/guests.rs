//! `/v1/organizations/{id}/guests`, `/v1/guest-invitations/accept` and
//! `/v1/me/organizations`: accounts of other organisations let in as guests.

use app::{Belonging, GuestView, MyOrganization};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base::{OrganizationId, UserId};
use serde::{Deserialize, Serialize};
use store::GuestMembershipRecord;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, Authenticated, Context};
use crate::problem::{ApiError, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestInvitationInput {
    /// The address of an account of another organisation.
    pub email: String,
    /// When the membership ends by itself (RFC 3339); never when absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GuestInvitationResponse {
    pub email: String,
    /// When the acceptance link stops working.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub invitation_expires_at: OffsetDateTime,
}

/// Invite an account of another organisation as a guest (`iam:guests:write`, recent
/// authentication; guests cannot invite). When the address belongs to an active account of
/// another organisation, it is mailed a single-use link valid 72 hours, to accept signed in
/// as that account. The answer is the same when it does not (no enumeration); a member of
/// this organisation or a current guest is refused.
#[utoipa::path(post, path = "/v1/organizations/{id}/guests", tag = "users",
    params(("id" = String, Path, format = Uuid)), request_body = GuestInvitationInput,
    security(("api_key" = [])),
    responses((status = 202, body = GuestInvitationResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn invite(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<GuestInvitationInput>,
) -> Result<(StatusCode, Json<GuestInvitationResponse>), ApiError> {
    let invitation_expires_at = state
        .app
        .invite_guest(&principal, organization_id, &input.email, input.expires_at, &context)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(GuestInvitationResponse {
            email: input.email.trim().to_owned(),
            invitation_expires_at,
        }),
    ))
}

/// A guest of the organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuestResponse {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    /// The guest's own organisation.
    pub home_organization_id: String,
    /// Always `guest`.
    pub role: String,
    pub invited_by: String,
    /// When the guest accepted.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<GuestView> for GuestResponse {
    fn from(guest: GuestView) -> Self {
        Self {
            user_id: guest.membership.user_id.to_string(),
            email: guest.email,
            display_name: guest.display_name,
            home_organization_id: guest.home_organization_id.to_string(),
            role: "guest".to_owned(),
            invited_by: guest.membership.invited_by.to_string(),
            since: guest.membership.created_at,
            expires_at: guest.membership.expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GuestList {
    pub items: Vec<GuestResponse>,
}

/// The organisation's guests (`iam:guests:read`).
#[utoipa::path(get, path = "/v1/organizations/{id}/guests", tag = "users",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = GuestList), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<GuestList>, ApiError> {
    let guests = state.app.list_guests(&principal, organization_id, &context).await?;
    Ok(Json(GuestList { items: guests.into_iter().map(Into::into).collect() }))
}

/// End a guest's membership (`iam:guests:write`, recent authentication): its sessions and
/// API keys stop acting in the organisation from the next request, and the policies attached
/// to it here are deleted.
#[utoipa::path(delete, path = "/v1/organizations/{id}/guests/{user_id}", tag = "users",
    params(("id" = String, Path, format = Uuid), ("user_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, user_id)): ApiPath<(OrganizationId, UserId)>,
) -> Result<StatusCode, ApiError> {
    state.app.revoke_guest(&principal, organization_id, user_id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptGuestInvitationInput {
    pub token: String,
}

/// A guest membership.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuestMembershipResponse {
    pub organization_id: String,
    pub user_id: String,
    pub invited_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<GuestMembershipRecord> for GuestMembershipResponse {
    fn from(membership: GuestMembershipRecord) -> Self {
        Self {
            organization_id: membership.organization_id.to_string(),
            user_id: membership.user_id.to_string(),
            invited_by: membership.invited_by.to_string(),
            since: membership.created_at,
            expires_at: membership.expires_at,
        }
    }
}

/// Accept a guest invitation, signed in with a session as the invited account. The link
/// works once, for 72 hours.
#[utoipa::path(post, path = "/v1/guest-invitations/accept", tag = "users",
    request_body = AcceptGuestInvitationInput, security(("api_key" = [])),
    responses((status = 201, body = GuestMembershipResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem)))]
pub async fn accept(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(input): ApiJson<AcceptGuestInvitationInput>,
) -> Result<(StatusCode, Json<GuestMembershipResponse>), ApiError> {
    let membership = state.app.accept_guest_invitation(&principal, &input.token, &context).await?;
    Ok((StatusCode::CREATED, Json(membership.into())))
}

/// An organisation the caller can act in.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyOrganizationResponse {
    pub id: String,
    pub name: String,
    /// `home` (the caller's own organisation) or `guest`.
    pub relation: String,
    /// At home: `owner` or `member`; elsewhere: `guest`.
    pub role: String,
    /// As a guest: since when, and until when.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<MyOrganization> for MyOrganizationResponse {
    fn from(mine: MyOrganization) -> Self {
        let (relation, role, since, expires_at) = match mine.belonging {
            Belonging::Home(role) => ("home", role.as_str(), None, None),
            Belonging::Guest(membership) => {
                ("guest", "guest", Some(membership.created_at), membership.expires_at)
            }
        };
        Self {
            id: mine.organization.id.to_string(),
            name: mine.organization.name.as_str().to_owned(),
            relation: relation.to_owned(),
            role: role.to_owned(),
            since,
            expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyOrganizationList {
    pub items: Vec<MyOrganizationResponse>,
}

/// The organisations the caller can act in: its own first, then those it is a guest of.
#[utoipa::path(get, path = "/v1/me/organizations", tag = "users", security(("api_key" = [])),
    responses((status = 200, body = MyOrganizationList), (status = 401, body = Problem)))]
pub async fn my_organizations(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<MyOrganizationList>, ApiError> {
    let organizations = state.app.my_organizations(&principal).await?;
    Ok(Json(MyOrganizationList { items: organizations.into_iter().map(Into::into).collect() }))
}

/// Leave an organisation the caller is a guest of.
#[utoipa::path(delete, path = "/v1/me/organizations/{id}", tag = "users",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn leave(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<StatusCode, ApiError> {
    state.app.leave_organization(&principal, organization_id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
