//! Notifications of alerts: an organisation's channels
//! (`/v1/organizations/{id}/notification-channels`) and the delivery log
//! (`/v1/organizations/{id}/notification-deliveries`).

use app::{NotificationChannelInput, NotificationChannelPatch, NotificationChannelView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base::OrganizationId;
use serde::{Deserialize, Serialize};
use store::DeliveryRecord;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

/// A notification channel. Its signing secret is never shown again after creation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChannelResponse {
    #[schema(format = Uuid)]
    pub id: Uuid,
    #[schema(format = Uuid)]
    pub organization_id: Uuid,
    pub name: String,
    /// `webhook` or `email`.
    pub kind: String,
    /// A webhook's origin, with `/…` standing for its path (often a credential); empty for
    /// email.
    pub url: String,
    /// An email channel's addresses.
    pub recipients: Vec<String>,
    /// `low`, `medium`, `high` or `critical`: alerts below it are not sent.
    pub min_level: String,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<NotificationChannelView> for ChannelResponse {
    fn from(channel: NotificationChannelView) -> Self {
        Self {
            id: channel.id,
            organization_id: *channel.organization_id.as_uuid(),
            name: channel.name,
            kind: channel.kind,
            url: channel.url,
            recipients: channel.recipients,
            min_level: channel.min_level,
            enabled: channel.enabled,
            created_at: channel.created_at,
            updated_at: channel.updated_at,
        }
    }
}

/// A channel just created: for a webhook, the secret its requests are signed with, shown
/// this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedChannelResponse {
    #[serde(flatten)]
    pub channel: ChannelResponse,
    /// The HMAC-SHA-256 key of `Rampart-Signature` (webhooks only); not retrievable later.
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannelBody {
    /// 1 to 100 characters.
    #[serde(default)]
    pub name: String,
    /// `webhook` or `email`.
    #[serde(default)]
    pub kind: String,
    /// A webhook's https URL.
    pub url: Option<String>,
    /// An email channel's addresses (1 to 20).
    #[serde(default)]
    pub recipients: Vec<String>,
    /// `low`, `medium`, `high` (default) or `critical`.
    pub min_level: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchChannelBody {
    pub name: Option<String>,
    pub url: Option<String>,
    pub recipients: Option<Vec<String>>,
    pub min_level: Option<String>,
    pub enabled: Option<bool>,
}

/// Create a channel alerts are notified to (privileged; recent authentication).
#[utoipa::path(post, path = "/v1/organizations/{id}/notification-channels", tag = "detection",
    params(("id" = String, Path, format = Uuid)), request_body = CreateChannelBody,
    security(("api_key" = [])),
    responses((status = 201, body = CreatedChannelResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_channel(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<CreateChannelBody>,
) -> Result<(StatusCode, Json<CreatedChannelResponse>), ApiError> {
    let input = NotificationChannelInput {
        name: body.name,
        kind: body.kind,
        url: body.url,
        recipients: body.recipients,
        min_level: body.min_level,
        enabled: body.enabled,
    };
    let created =
        state.app.create_notification_channel(&principal, organization_id, input, &context).await?;
    let response =
        CreatedChannelResponse { channel: created.channel.into(), secret: created.secret };
    Ok((StatusCode::CREATED, Json(response)))
}

/// The organisation's channels, oldest first.
#[utoipa::path(get, path = "/v1/organizations/{id}/notification-channels", tag = "detection",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<ChannelResponse>), (status = 403, body = Problem)))]
pub async fn list_channels(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<Vec<ChannelResponse>>, ApiError> {
    let channels =
        state.app.list_notification_channels(&principal, organization_id, &context).await?;
    Ok(Json(channels.into_iter().map(ChannelResponse::from).collect()))
}

#[utoipa::path(get, path = "/v1/organizations/{id}/notification-channels/{channel_id}",
    tag = "detection",
    params(("id" = String, Path, format = Uuid), ("channel_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = ChannelResponse), (status = 404, body = Problem)))]
pub async fn get_channel(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, channel_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Json<ChannelResponse>, ApiError> {
    let channel = state
        .app
        .get_notification_channel(&principal, organization_id, channel_id, &context)
        .await?;
    Ok(Json(channel.into()))
}

/// Change a channel's name, URL, recipients, minimum level or enabled flag (privileged;
/// recent authentication). The kind and the secret never change.
#[utoipa::path(patch, path = "/v1/organizations/{id}/notification-channels/{channel_id}",
    tag = "detection",
    params(("id" = String, Path, format = Uuid), ("channel_id" = String, Path, format = Uuid)),
    request_body = PatchChannelBody, security(("api_key" = [])),
    responses((status = 200, body = ChannelResponse), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn update_channel(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, channel_id)): ApiPath<(OrganizationId, Uuid)>,
    ApiJson(body): ApiJson<PatchChannelBody>,
) -> Result<Json<ChannelResponse>, ApiError> {
    let patch = NotificationChannelPatch {
        name: body.name,
        url: body.url,
        recipients: body.recipients,
        min_level: body.min_level,
        enabled: body.enabled,
    };
    let channel = state
        .app
        .update_notification_channel(&principal, organization_id, channel_id, patch, &context)
        .await?;
    Ok(Json(channel.into()))
}

/// Delete a channel (privileged; recent authentication).
#[utoipa::path(delete, path = "/v1/organizations/{id}/notification-channels/{channel_id}",
    tag = "detection",
    params(("id" = String, Path, format = Uuid), ("channel_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_channel(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, channel_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .delete_notification_channel(&principal, organization_id, channel_id, &context)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One notification of an alert: delivered, or given up after its attempts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryResponse {
    /// The delivery id (the `Rampart-Delivery` header of every attempt).
    #[schema(format = Uuid)]
    pub id: Uuid,
    #[schema(format = Uuid)]
    pub alert_id: Uuid,
    /// `webhook` or `email`.
    pub channel: String,
    /// The webhook's host or the mail recipient.
    pub target: String,
    pub attempts: u32,
    pub delivered: bool,
    /// Why the last attempt failed; empty when delivered.
    pub last_error: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

impl From<DeliveryRecord> for DeliveryResponse {
    fn from(delivery: DeliveryRecord) -> Self {
        Self {
            id: delivery.id,
            alert_id: delivery.alert_id,
            channel: delivery.channel,
            target: delivery.target,
            attempts: delivery.attempts,
            delivered: delivery.delivered,
            last_error: delivery.last_error,
            at: delivery.at,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// At most this many (1 to 500, default 100).
    pub limit: Option<u32>,
}

/// The delivery log, newest first.
#[utoipa::path(get, path = "/v1/organizations/{id}/notification-deliveries", tag = "detection",
    params(("id" = String, Path, format = Uuid), DeliveryQuery), security(("api_key" = [])),
    responses((status = 200, body = Vec<DeliveryResponse>), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list_deliveries(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<Vec<DeliveryResponse>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=app::MAX_DELIVERIES_PER_PAGE).contains(&limit) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "limit must be between 1 and 500",
        )
        .into());
    }
    let deliveries = state
        .app
        .list_notification_deliveries(&principal, organization_id, limit, &context)
        .await?;
    Ok(Json(deliveries.into_iter().map(DeliveryResponse::from).collect()))
}
