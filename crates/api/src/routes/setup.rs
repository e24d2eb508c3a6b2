//! `/v1/setup`: finishing the set-up a first start began.

use axum::Json;
use axum::extract::State;
use base::{ApiKeyId, OrganizationId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiState;
use crate::extract::{ApiJson, Context};
use crate::problem::{ApiError, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupInput {
    /// The one-time token printed by the first start.
    pub token: String,
    /// The owner's password: 15 to 128 characters.
    pub password: String,
}

/// An API key, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedApiKeyResponse {
    #[schema(value_type = String, format = Uuid)]
    pub access_key: ApiKeyId,
    /// Send as `Authorization: Bearer <secret>`. Rampart keeps only its hash.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupResponse {
    #[schema(value_type = String, format = Uuid)]
    pub organization_id: OrganizationId,
    pub owner_email: String,
    pub api_key: IssuedApiKeyResponse,
}

/// Set the owner's password with the setup token and receive a first API key.
#[utoipa::path(post, path = "/v1/setup", tag = "setup", request_body = SetupInput,
    responses((status = 200, body = SetupResponse), (status = 400, body = Problem)))]
pub async fn complete(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<SetupInput>,
) -> Result<Json<SetupResponse>, ApiError> {
    let done = state.app.complete_setup(&input.token, &input.password, &context).await?;
    Ok(Json(SetupResponse {
        organization_id: done.organization_id,
        owner_email: done.owner_email,
        api_key: IssuedApiKeyResponse { access_key: done.api_key.id, secret: done.api_key.secret },
    }))
}
