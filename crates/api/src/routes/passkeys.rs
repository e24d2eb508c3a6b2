//! `/v1/auth/passkeys…` and `/v1/auth/passkey/…`: registering, listing, renaming and deleting
//! the caller's passkeys, passwordless login, and the options of a passkey second factor or
//! step-up. The WebAuthn JSON (`publicKey` options, the browser's credential) passes through
//! as the browser produces and consumes it.

use app::{PasskeyChallenge, PasskeyView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, Authenticated, Context};
use crate::problem::{ApiError, Problem};

/// The options of a WebAuthn ceremony and the token that names its state on the server.
#[derive(Debug, Serialize, ToSchema)]
pub struct CeremonyResponse {
    /// Echo with the browser's answer; valid 5 minutes, once.
    pub ceremony: String,
    /// `{"publicKey": …}`: decode its base64url fields and pass it to
    /// `navigator.credentials.create()` (registration) or `.get()` (authentication).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

impl From<PasskeyChallenge> for CeremonyResponse {
    fn from(challenge: PasskeyChallenge) -> Self {
        Self { ceremony: challenge.ceremony, options: challenge.options }
    }
}

/// A registered passkey: names and dates, never key material.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<PasskeyView> for PasskeyInfo {
    fn from(view: PasskeyView) -> Self {
        Self {
            id: view.id.to_string(),
            name: view.name,
            created_at: view.created_at,
            last_used_at: view.last_used_at,
        }
    }
}

/// Start registering a passkey for the signed-in account (needs a recent authentication).
#[utoipa::path(post, path = "/v1/auth/passkeys/registration/options", tag = "auth",
    security(("api_key" = [])),
    responses((status = 200, body = CeremonyResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem)))]
pub async fn registration_options(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<CeremonyResponse>, ApiError> {
    Ok(Json(state.app.start_passkey_registration(&principal).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPasskeyInput {
    /// The `ceremony` of the registration options.
    pub ceremony: String,
    /// What the owner calls it ("laptop", "phone"); at most 64 characters.
    #[serde(default)]
    pub name: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`, as JSON (binary
    /// fields base64url, as `toJSON()` gives them).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// Finish the registration with the browser's answer; the passkey is stored.
#[utoipa::path(post, path = "/v1/auth/passkeys", tag = "auth", request_body = RegisterPasskeyInput,
    security(("api_key" = [])),
    responses((status = 201, body = PasskeyInfo), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 409, body = Problem)))]
pub async fn register(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(input): ApiJson<RegisterPasskeyInput>,
) -> Result<(StatusCode, Json<PasskeyInfo>), ApiError> {
    let passkey = state
        .app
        .finish_passkey_registration(
            &principal,
            &input.ceremony,
            &input.name,
            &input.credential,
            &context,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(passkey.into())))
}

/// The caller's passkeys.
#[utoipa::path(get, path = "/v1/auth/passkeys", tag = "auth", security(("api_key" = [])),
    responses((status = 200, body = Vec<PasskeyInfo>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Vec<PasskeyInfo>>, ApiError> {
    let passkeys = state.app.list_passkeys(&principal).await?;
    Ok(Json(passkeys.into_iter().map(PasskeyInfo::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenamePasskeyInput {
    pub name: String,
}

/// Rename one of the caller's passkeys.
#[utoipa::path(patch, path = "/v1/auth/passkeys/{id}", tag = "auth",
    params(("id" = String, Path, format = Uuid)), request_body = RenamePasskeyInput,
    security(("api_key" = [])),
    responses((status = 200, body = PasskeyInfo), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn rename(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiJson(input): ApiJson<RenamePasskeyInput>,
) -> Result<Json<PasskeyInfo>, ApiError> {
    let passkey = state.app.rename_passkey(&principal, id, &input.name, &context).await?;
    Ok(Json(passkey.into()))
}

/// Delete one of the caller's passkeys (needs a recent authentication). The last second
/// factor of an account that must use MFA, and the last passkey of an account without a
/// password, cannot be deleted.
#[utoipa::path(delete, path = "/v1/auth/passkeys/{id}", tag = "auth",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_passkey(&principal, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove the caller's password (needs a recent authentication and a passkey): the account
/// then signs in with passkeys only. A password reset sets one again.
#[utoipa::path(delete, path = "/v1/auth/password", tag = "auth", security(("api_key" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem)))]
pub async fn remove_password(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
) -> Result<StatusCode, ApiError> {
    state.app.remove_password(&principal, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyLoginOptionsInput {
    /// Optional: with it, the options list that account's passkeys; without, any discoverable
    /// passkey will do. The answer looks the same whether or not the address has an account.
    #[serde(default)]
    pub email: Option<String>,
}

/// Start a passwordless login.
#[utoipa::path(post, path = "/v1/auth/passkey/options", tag = "auth",
    request_body = PasskeyLoginOptionsInput,
    responses((status = 200, body = CeremonyResponse), (status = 400, body = Problem),
        (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn login_options(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<PasskeyLoginOptionsInput>,
) -> Result<Json<CeremonyResponse>, ApiError> {
    Ok(Json(state.app.start_passkey_login(input.email.as_deref(), &context).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyCredentialInput {
    /// The `ceremony` of the options.
    pub ceremony: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`, as JSON.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

fn passkey_refused() -> ApiError {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", "the passkey was not accepted").into()
}

/// Finish a passwordless login: a session. Every refusal answers the same.
#[utoipa::path(post, path = "/v1/auth/passkey/login", tag = "auth",
    request_body = PasskeyCredentialInput,
    responses((status = 200, body = crate::routes::auth::SessionResponse),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<PasskeyCredentialInput>,
) -> Result<Response, ApiError> {
    match state.app.finish_passkey_login(&input.ceremony, &input.credential, &context).await {
        Ok(session) => Ok(crate::routes::auth::session_response(session)),
        Err(app::AppError::Unauthenticated) => Err(passkey_refused()),
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaTokenInput {
    pub mfa_token: String,
}

/// The options of a ceremony that a token the client already holds names: a passkey as the
/// second factor of a password login (its `mfa_token`), or an invitation's first passkey (its
/// token).
#[derive(Debug, Serialize, ToSchema)]
pub struct OptionsResponse {
    /// `{"publicKey": …}` for `navigator.credentials.get()` (answer at `POST
    /// /v1/auth/login/mfa` with `webauthn`) or `.create()` (answer at `POST
    /// /v1/auth/invitations/accept` with `passkey`).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// Ask for the options of a passkey second factor for the login `mfa_token` started.
#[utoipa::path(post, path = "/v1/auth/login/mfa/webauthn/options", tag = "auth",
    request_body = MfaTokenInput,
    responses((status = 200, body = OptionsResponse), (status = 401, body = Problem),
        (status = 409, body = Problem)))]
pub async fn second_factor_options(
    State(state): State<ApiState>,
    ApiJson(input): ApiJson<MfaTokenInput>,
) -> Result<Json<OptionsResponse>, ApiError> {
    match state.app.start_second_factor_passkey(&input.mfa_token).await {
        Ok(options) => Ok(Json(OptionsResponse { options })),
        Err(app::AppError::Unauthenticated) => Err(crate::routes::auth::invalid_credentials()),
        Err(other) => Err(other.into()),
    }
}

/// Ask for the options of a passkey step-up of the current session; answer at
/// `POST /v1/auth/step-up` with `ceremony` and `webauthn`.
#[utoipa::path(post, path = "/v1/auth/step-up/webauthn/options", tag = "auth",
    security(("api_key" = [])),
    responses((status = 200, body = CeremonyResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 409, body = Problem)))]
pub async fn step_up_options(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<CeremonyResponse>, ApiError> {
    Ok(Json(state.app.start_step_up_passkey(&principal).await?.into()))
}
