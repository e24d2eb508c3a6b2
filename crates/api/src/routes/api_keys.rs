//! `/v1/api-keys`: the caller's own API keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base::ApiKeyId;
use serde::Deserialize;
use utoipa::ToSchema;

use super::setup::IssuedApiKeyResponse;
use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, Authenticated, Context};
use crate::problem::{ApiError, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    /// What the key is for (at most 200 characters).
    #[serde(default)]
    pub description: String,
    /// When the key stops working (RFC 3339; at most a year ahead). Default: never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<time::OffsetDateTime>,
    /// A project of the organisation that clients use when a request names none.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub default_project: Option<uuid::Uuid>,
}

impl ApiKeyInput {
    pub fn request(&self) -> app::ApiKeyRequest<'_> {
        app::ApiKeyRequest {
            description: &self.description,
            expires_at: self.expires_at,
            default_project: self.default_project.map(base::ProjectId::from_uuid),
        }
    }
}

/// A key as listed: never its secret.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ApiKeyInfo {
    #[schema(value_type = String, format = Uuid)]
    pub access_key: ApiKeyId,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<time::OffsetDateTime>,
    /// To the minute.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<time::OffsetDateTime>,
    /// The source address of the last use.
    pub last_used_ip: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub default_project: Option<uuid::Uuid>,
}

impl From<store::ApiKeyRecord> for ApiKeyInfo {
    fn from(key: store::ApiKeyRecord) -> Self {
        Self {
            access_key: key.id,
            description: key.description,
            created_at: key.created_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            last_used_ip: key.last_used_ip,
            default_project: key.default_project.map(|project| *project.as_uuid()),
        }
    }
}

/// The calling account's keys that are not revoked.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", security(("api_key" = [])),
    responses((status = 200, body = Vec<ApiKeyInfo>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Vec<ApiKeyInfo>>, ApiError> {
    let keys = state.app.list_api_keys(&principal).await?;
    Ok(Json(keys.into_iter().map(ApiKeyInfo::from).collect()))
}

/// Create an API key for the calling account; its secret is shown once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = ApiKeyInput,
    security(("api_key" = [])),
    responses((status = 201, body = IssuedApiKeyResponse), (status = 400, body = Problem),
        (status = 401, body = Problem)))]
pub async fn create(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(input): ApiJson<ApiKeyInput>,
) -> Result<(StatusCode, Json<IssuedApiKeyResponse>), ApiError> {
    let issued = state.app.create_api_key(&principal, input.request(), &context).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedApiKeyResponse { access_key: issued.id, secret: issued.secret }),
    ))
}

/// Revoke one of the calling account's API keys, effective at once.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> Result<StatusCode, ApiError> {
    state.app.revoke_api_key(&principal, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
