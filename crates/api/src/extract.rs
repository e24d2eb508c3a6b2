//! Extractors that turn every malformed request into a problem naming what is wrong: JSON
//! bodies, path ids, query strings, and the credential.

use std::net::SocketAddr;

use app::Principal;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header;
use axum::http::request::Parts;
use base::RequestContext;
use serde::de::DeserializeOwned;

use crate::ApiState;
use crate::problem::{ApiError, Problem};
use crate::request_id::RequestId;

/// A JSON body; rejections become problems.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_problem(&rejection).into()),
        }
    }
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `content-type: application/json`",
        ),
        JsonRejection::JsonSyntaxError(error) => Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {}", error.body_text()),
        ),
        JsonRejection::JsonDataError(error) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            format!("the body does not have the expected fields: {}", error.body_text()),
        ),
        JsonRejection::BytesRejection(_) => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is larger than the server accepts",
        ),
        other => Problem::new(StatusCode::BAD_REQUEST, "invalid_input", other.body_text()),
    }
}

/// Path parameters; an id that is not a UUID becomes a 400 naming it.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_problem(&rejection).into()),
        }
    }
}

fn path_problem(rejection: &PathRejection) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_input",
        format!("invalid path parameter: {}", rejection.body_text()),
    )
}

/// Query parameters; unknown or malformed ones become a 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_problem(&rejection).into()),
        }
    }
}

fn query_problem(rejection: &QueryRejection) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_input",
        format!("invalid query string: {}", rejection.body_text()),
    )
}

/// Where the request came from, for the audit trail.
pub struct Context(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let source_ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.chars().take(512).collect());
        let request_id = parts.extensions.get::<RequestId>().map(|id| id.0.clone());
        Ok(Self(RequestContext { source_ip, user_agent, request_id }))
    }
}

/// The name of the session cookie the console uses.
pub const SESSION_COOKIE: &str = "rampart_session";

fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The authenticated principal: an API key or a session token sent as
/// `Authorization: Bearer <secret>` or `X-Auth-Token: <secret>`, or the session cookie. A
/// cookie-authenticated request that changes state must also carry the session's
/// `X-CSRF-Token`.
pub struct Authenticated(pub Principal);

impl FromRequestParts<ApiState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::to_owned);
        let token = parts
            .headers
            .get("x-auth-token")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let from_cookie = cookie(parts, SESSION_COOKIE);
        let Some(secret) = bearer.or(token).or_else(|| from_cookie.clone()) else {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "send an API key or session token as `Authorization: Bearer <secret>` or `X-Auth-Token: <secret>`",
            )
            .into());
        };
        let secret = secret.trim();
        if from_cookie.as_deref() == Some(secret) && !parts.method.is_safe() {
            let sent = parts.headers.get("x-csrf-token").and_then(|value| value.to_str().ok());
            if sent != Some(app::csrf_token_for(secret).as_str()) {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "csrf_token_missing",
                    "a cookie-authenticated change needs the session's `X-CSRF-Token` header",
                )
                .into());
            }
        }
        let principal = if secret.starts_with("rampart_session_") {
            state.app.authenticate_session(secret).await?
        } else {
            let source_ip = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip());
            state.app.authenticate_api_key(secret, source_ip).await?
        };
        let restricted = principal.session.as_ref().is_some_and(|session| session.restricted);
        if restricted && !parts.uri.path().starts_with("/v1/auth/") {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "mfa_enrolment_required",
                "this account must enrol a second factor first: POST /v1/auth/mfa/totp, then /v1/auth/mfa/totp/confirm",
            )
            .into());
        }
        Ok(Self(principal))
    }
}
