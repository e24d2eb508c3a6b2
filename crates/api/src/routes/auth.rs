//! `/v1/auth/…`: password login with a second factor, sessions, step-up, MFA enrolment, and
//! accepting invitations.

use app::{LoginOutcome, NewSession, SecondFactor};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, Authenticated, Context, SESSION_COOKIE};
use crate::problem::{ApiError, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

/// A session just opened. The token is also set as an `HttpOnly` cookie for the console.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub session_token: String,
    /// Echo in `X-CSRF-Token` when authenticating with the cookie.
    pub csrf_token: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// Set when the account must enrol a second factor (staff and owners): the deadline.
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub mfa_enrolment_due_at: Option<OffsetDateTime>,
    /// True once that deadline passed: the session may only enrol a second factor.
    pub restricted: bool,
}

/// A correct password for an account with a second factor.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequired {
    pub mfa_required: bool,
    /// Present it with the second factor at `POST /v1/auth/login/mfa` within 5 minutes.
    pub mfa_token: String,
    pub methods: Vec<String>,
}

pub(crate) fn session_response(session: NewSession) -> Response {
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age={}",
        session.token,
        12 * 3600
    );
    let mut response = Json(SessionResponse {
        session_token: session.token,
        csrf_token: session.csrf_token,
        expires_at: session.expires_at,
        mfa_enrolment_due_at: session.mfa_enrolment_due_at,
        restricted: session.restricted,
    })
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

pub(crate) fn invalid_credentials() -> ApiError {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", "invalid email, password or code")
        .into()
}

/// Log in with email and password. Unknown accounts, wrong passwords and locked accounts get
/// the same answer.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, description = "A session, or `mfa_required`", body = SessionResponse),
        (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<Response, ApiError> {
    match state.app.login(&input.email, &input.password, &context).await {
        Ok(LoginOutcome::Session(session)) => Ok(session_response(session)),
        Ok(LoginOutcome::MfaRequired { mfa_token, methods }) => Ok(Json(MfaRequired {
            mfa_required: true,
            mfa_token,
            methods: methods.into_iter().map(str::to_owned).collect(),
        })
        .into_response()),
        Err(app::AppError::Unauthenticated) => Err(invalid_credentials()),
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorInput {
    pub mfa_token: String,
    /// A code from the authenticator app.
    pub totp: Option<String>,
    /// One of the recovery codes.
    pub recovery_code: Option<String>,
    /// A passkey: the `PublicKeyCredential` from `navigator.credentials.get()` (as JSON) with
    /// the options of `POST /v1/auth/login/mfa/webauthn/options`.
    #[schema(value_type = Option<Object>)]
    pub webauthn: Option<serde_json::Value>,
}

/// The one factor given; `ceremony` names the state of a passkey's options.
fn second_factor(
    totp: Option<String>,
    recovery_code: Option<String>,
    webauthn: Option<serde_json::Value>,
    ceremony: &str,
) -> Result<SecondFactor, ApiError> {
    match (totp, recovery_code, webauthn) {
        (Some(code), None, None) => Ok(SecondFactor::Totp(code)),
        (None, Some(code), None) => Ok(SecondFactor::RecoveryCode(code)),
        (None, None, Some(credential)) => {
            Ok(SecondFactor::Passkey { ceremony: ceremony.to_owned(), credential })
        }
        _ => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "give exactly one of `totp`, `recovery_code` and `webauthn`",
        )
        .into()),
    }
}

/// Finish a login with the second factor.
#[utoipa::path(post, path = "/v1/auth/login/mfa", tag = "auth", request_body = SecondFactorInput,
    responses((status = 200, body = SessionResponse), (status = 400, body = Problem),
        (status = 401, body = Problem)))]
pub async fn login_mfa(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<SecondFactorInput>,
) -> Result<Response, ApiError> {
    let factor = second_factor(input.totp, input.recovery_code, input.webauthn, &input.mfa_token)?;
    match state.app.login_second_factor(&input.mfa_token, &factor, &context).await {
        Ok(session) => Ok(session_response(session)),
        Err(app::AppError::Unauthenticated) => Err(invalid_credentials()),
        Err(other) => Err(other.into()),
    }
}

/// End the current session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("api_key" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn logout(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
) -> Result<Response, ApiError> {
    state.app.logout(&principal, &context).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change the signed-in account's password (a session with a recent authentication). The
/// account's other sessions end.
#[utoipa::path(put, path = "/v1/auth/password", tag = "auth", request_body = PasswordChange,
    security(("api_key" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn change_password(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(input): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .change_password(&principal, &input.current_password, &input.new_password, &context)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: OffsetDateTime,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// True for the session making this request.
    pub current: bool,
}

/// The caller's open sessions.
#[utoipa::path(get, path = "/v1/auth/sessions", tag = "auth", security(("api_key" = [])),
    responses((status = 200, body = Vec<SessionInfo>), (status = 401, body = Problem)))]
pub async fn sessions(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let current = principal.session.as_ref().map(|session| session.id);
    let sessions = state.app.list_sessions(&principal).await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|session| SessionInfo {
                id: session.id.to_string(),
                created_at: session.created_at,
                last_seen_at: session.last_seen_at,
                source_ip: session.source_ip,
                user_agent: session.user_agent,
                current: Some(session.id) == current,
            })
            .collect(),
    ))
}

/// End one of the caller's sessions.
#[utoipa::path(delete, path = "/v1/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn end_session(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    state.app.end_session(&principal, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpInput {
    /// Required unless a passkey is given (a passkey verifies its user: it proves two factors).
    pub password: Option<String>,
    pub totp: Option<String>,
    pub recovery_code: Option<String>,
    /// The `ceremony` of `POST /v1/auth/step-up/webauthn/options`, with `webauthn`.
    pub ceremony: Option<String>,
    /// A passkey: the `PublicKeyCredential` from `navigator.credentials.get()`, as JSON.
    #[schema(value_type = Option<Object>)]
    pub webauthn: Option<serde_json::Value>,
}

/// Prove the password (and second factor) again, or use a passkey: sensitive actions need it
/// within 10 minutes.
#[utoipa::path(post, path = "/v1/auth/step-up", tag = "auth", request_body = StepUpInput,
    security(("api_key" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn step_up(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(input): ApiJson<StepUpInput>,
) -> Result<StatusCode, ApiError> {
    if input.webauthn.is_some() != input.ceremony.is_some() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "a passkey step-up gives both `ceremony` and `webauthn`",
        )
        .into());
    }
    let ceremony = input.ceremony.unwrap_or_default();
    let factor = match (input.totp, input.recovery_code, input.webauthn) {
        (None, None, None) => None,
        (totp, recovery, webauthn) => Some(second_factor(totp, recovery, webauthn, &ceremony)?),
    };
    let password = input.password.as_deref();
    match state.app.step_up(&principal, password, factor.as_ref(), &context).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(app::AppError::Unauthenticated) => Err(invalid_credentials()),
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolmentResponse {
    /// Import into an authenticator app.
    pub otpauth_uri: String,
    /// The same, as a QR code.
    pub qr_svg: String,
}

/// Start enrolling an authenticator app (needs a recent authentication).
#[utoipa::path(post, path = "/v1/auth/mfa/totp", tag = "auth", security(("api_key" = [])),
    responses((status = 200, body = TotpEnrolmentResponse), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn enrol_totp(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
) -> Result<Json<TotpEnrolmentResponse>, ApiError> {
    let enrolment = state.app.enrol_totp(&principal, &context).await?;
    Ok(Json(TotpEnrolmentResponse { otpauth_uri: enrolment.otpauth_uri, qr_svg: enrolment.qr_svg }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInput {
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Single-use codes, shown this once.
    pub recovery_codes: Vec<String>,
}

/// Confirm the authenticator app with a first code; answers the recovery codes.
#[utoipa::path(post, path = "/v1/auth/mfa/totp/confirm", tag = "auth", request_body = CodeInput,
    security(("api_key" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn confirm_totp(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(input): ApiJson<CodeInput>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = state.app.confirm_totp(&principal, &input.code, &context).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Remove the authenticator app and the recovery codes (needs a recent authentication).
#[utoipa::path(delete, path = "/v1/auth/mfa/totp", tag = "auth", security(("api_key" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn remove_totp(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
) -> Result<StatusCode, ApiError> {
    state.app.remove_totp(&principal, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the recovery codes (needs a recent authentication).
#[utoipa::path(post, path = "/v1/auth/mfa/recovery-codes", tag = "auth", security(("api_key" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 403, body = Problem),
        (status = 409, body = Problem)))]
pub async fn regenerate_recovery_codes(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = state.app.regenerate_recovery_codes(&principal, &context).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// How an invited account is created: with a password, or with a passkey registered from the
/// options of `POST /v1/auth/invitations/passkey/options`. Exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationInput {
    pub token: String,
    /// 15 to 128 characters (8 where the organisation enforces MFA).
    #[serde(default)]
    pub password: Option<String>,
    /// With a password only: a passkey's display name is given with its options.
    #[serde(default)]
    pub display_name: String,
    /// Instead of a password: the answer to the invitation's passkey options.
    #[serde(default)]
    pub passkey: Option<InvitationPasskey>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationPasskey {
    /// What the owner calls it ("laptop", "phone"); at most 64 characters.
    #[serde(default)]
    pub name: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`, as JSON (binary
    /// fields base64url, as `toJSON()` gives them).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedInvitation {
    pub user_id: String,
    pub organization_id: String,
    pub email: String,
}

/// Accept an invitation: the account is created with this password, or with this passkey and
/// no password; then log in.
#[utoipa::path(post, path = "/v1/auth/invitations/accept", tag = "auth",
    request_body = AcceptInvitationInput,
    responses((status = 201, body = AcceptedInvitation), (status = 400, body = Problem),
        (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn accept_invitation(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<AcceptInvitationInput>,
) -> Result<(StatusCode, Json<AcceptedInvitation>), ApiError> {
    let user = match (&input.password, &input.passkey) {
        (Some(password), None) => {
            state
                .app
                .accept_invitation(&input.token, password, &input.display_name, &context)
                .await?
        }
        (None, Some(_)) if !input.display_name.is_empty() => {
            return Err(app::AppError::InvalidInput(
                "with a passkey, the display name is given with the passkey options".into(),
            )
            .into());
        }
        (None, Some(passkey)) => {
            state
                .app
                .accept_invitation_with_passkey(
                    &input.token,
                    &passkey.name,
                    &passkey.credential,
                    &context,
                )
                .await?
        }
        _ => {
            return Err(app::AppError::InvalidInput(
                "give exactly one of `password` and `passkey`".into(),
            )
            .into());
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(AcceptedInvitation {
            user_id: user.id.to_string(),
            organization_id: user.organization_id.to_string(),
            email: user.email,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationPasskeyOptionsInput {
    pub token: String,
    /// The account's name, shown by the authenticator beside the email address.
    #[serde(default)]
    pub display_name: String,
}

/// Ask for the options to create an invited account with a passkey instead of a password;
/// answer at `POST /v1/auth/invitations/accept` with `passkey`. The invitation stays open
/// until then; asking again replaces the options.
#[utoipa::path(post, path = "/v1/auth/invitations/passkey/options", tag = "auth",
    request_body = InvitationPasskeyOptionsInput,
    responses((status = 200, body = crate::routes::passkeys::OptionsResponse),
        (status = 400, body = Problem), (status = 409, body = Problem),
        (status = 429, body = Problem)))]
pub async fn invitation_passkey_options(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<InvitationPasskeyOptionsInput>,
) -> Result<Json<crate::routes::passkeys::OptionsResponse>, ApiError> {
    let options =
        state.app.start_invitation_passkey(&input.token, &input.display_name, &context).await?;
    Ok(Json(crate::routes::passkeys::OptionsResponse { options }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupInput {
    pub organization_name: String,
    pub email: String,
    /// 15 to 128 characters, not common, not containing the email or organisation.
    pub password: String,
}

/// What every sign-up and reset request answers, whether or not the address has an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub status: String,
}

fn accepted(message: &str) -> (StatusCode, Json<Accepted>) {
    (StatusCode::ACCEPTED, Json(Accepted { status: message.to_owned() }))
}

/// Sign a customer organisation up (when the deployment allows it). The owner can log in
/// once the emailed link is verified.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = SignupInput,
    responses((status = 202, body = Accepted), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 429, body = Problem)))]
pub async fn signup(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<SignupInput>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    state.app.sign_up(&input.organization_name, &input.email, &input.password, &context).await?;
    Ok(accepted("check your email to verify the address"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    pub token: String,
}

/// Verify a sign-up's email address with the mailed token.
#[utoipa::path(post, path = "/v1/auth/signup/verify", tag = "auth", request_body = TokenInput,
    responses((status = 204), (status = 400, body = Problem)))]
pub async fn verify_signup(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<TokenInput>,
) -> Result<StatusCode, ApiError> {
    state.app.verify_sign_up(&input.token, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestInput {
    pub email: String,
}

/// Ask for a password reset link by email (valid 30 minutes, single use).
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth", request_body = ResetRequestInput,
    responses((status = 202, body = Accepted), (status = 400, body = Problem),
        (status = 429, body = Problem)))]
pub async fn request_password_reset(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<ResetRequestInput>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    state.app.request_password_reset(&input.email, &context).await?;
    Ok(accepted("if the address has an account, a reset link is on its way"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetInput {
    pub token: String,
    pub password: String,
}

/// Set a new password with a reset link. Every session of the account ends; a second factor
/// is still required at the next login.
#[utoipa::path(post, path = "/v1/auth/password-reset/complete", tag = "auth", request_body = ResetInput,
    responses((status = 204), (status = 400, body = Problem)))]
pub async fn complete_password_reset(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(input): ApiJson<ResetInput>,
) -> Result<StatusCode, ApiError> {
    state.app.complete_password_reset(&input.token, &input.password, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
