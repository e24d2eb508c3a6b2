//! Authorisation: an organisation's policies, Cedar policies, actions and permission sets
//! (`/v1/organizations/{id}/…`), and the questions other services ask (`/v1/authorize`,
//! `/v1/authorize/batch`, `/v1/authorize/who-can`, `/v1/principals/{id}/effective-permissions`).
//!
//! Rules, principals and resources are the `authz` crate's JSON model; the OpenAPI document
//! describes them as objects and docs/authorization.md gives their shape.

use std::net::IpAddr;

use app::{AccessQuestion, PolicyInput, QuestionContext};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base::OrganizationId;
use serde::{Deserialize, Serialize};
use store::{CustomActionRecord, PermissionSetRecord, PolicyRecord, RawPolicyRecord};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, Authenticated, Context};
use crate::problem::{ApiError, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyCreateInput {
    /// `{"type": "user" | "group" | "application", "id": "<uuid>"}`.
    #[schema(value_type = Object)]
    pub principal: authz::PrincipalRef,
    #[serde(default)]
    pub description: String,
    /// At least one rule: `{"permission_sets": [...], "scope": "organization" |
    /// {"projects": [...]}, "condition": {...}}`.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<authz::Rule>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpdateInput {
    #[serde(default)]
    pub description: String,
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<authz::Rule>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyResponse {
    pub id: String,
    #[schema(value_type = Object)]
    pub principal: authz::PrincipalRef,
    pub description: String,
    #[schema(value_type = Vec<Object>)]
    pub rules: serde_json::Value,
    pub created_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<PolicyRecord> for PolicyResponse {
    fn from(policy: PolicyRecord) -> Self {
        Self {
            id: policy.id.to_string(),
            principal: app::policy_principal(&policy),
            description: policy.description,
            rules: serde_json::from_str(&policy.rules).unwrap_or(serde_json::Value::Null),
            created_by: policy.created_by,
            created_at: policy.created_at,
            updated_at: policy.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CedarPolicyInput {
    #[serde(default)]
    pub description: String,
    /// One static Cedar policy (`permit` or `forbid`), validated against Rampart's schema.
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CedarPolicyResponse {
    pub id: String,
    pub description: String,
    pub text: String,
    pub created_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<RawPolicyRecord> for CedarPolicyResponse {
    fn from(policy: RawPolicyRecord) -> Self {
        Self {
            id: policy.id.to_string(),
            description: policy.description,
            text: policy.text,
            created_by: policy.created_by,
            created_at: policy.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResponse {
    pub name: String,
    pub description: String,
    pub privileged: bool,
}

impl From<CustomActionRecord> for ActionResponse {
    fn from(action: CustomActionRecord) -> Self {
        Self { name: action.name, description: action.description, privileged: action.privileged }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionSetInput {
    #[serde(default)]
    pub description: String,
    /// Action names (Rampart's or the organisation's), at least one.
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionSetResponse {
    pub name: String,
    pub description: String,
    pub actions: Vec<String>,
}

impl From<PermissionSetRecord> for PermissionSetResponse {
    fn from(set: PermissionSetRecord) -> Self {
        Self {
            name: set.name,
            description: set.description,
            actions: serde_json::from_str(&set.actions).unwrap_or_default(),
        }
    }
}

/// Everything an organisation's authorisation is made of.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationResponse {
    pub actions: Vec<ActionResponse>,
    pub permission_sets: Vec<PermissionSetResponse>,
    pub policies: Vec<PolicyResponse>,
    pub cedar_policies: Vec<CedarPolicyResponse>,
}

/// The organisation's actions, permission sets, policies and Cedar policies.
#[utoipa::path(get, path = "/v1/organizations/{id}/authorization", tag = "authorization",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = AuthorizationResponse), (status = 403, body = Problem)))]
pub async fn view(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<AuthorizationResponse>, ApiError> {
    let view = state.app.authorization_view(&principal, organization_id, &context).await?;
    Ok(Json(AuthorizationResponse {
        actions: view.custom_actions.into_iter().map(Into::into).collect(),
        permission_sets: view.permission_sets.into_iter().map(Into::into).collect(),
        policies: view.policies.into_iter().map(Into::into).collect(),
        cedar_policies: view.raw_policies.into_iter().map(Into::into).collect(),
    }))
}

/// Attach a policy to a user, group or application (recent authentication).
#[utoipa::path(post, path = "/v1/organizations/{id}/policies", tag = "authorization",
    params(("id" = String, Path, format = Uuid)), request_body = PolicyCreateInput,
    security(("api_key" = [])),
    responses((status = 201, body = PolicyResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn create_policy(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<PolicyCreateInput>,
) -> Result<(StatusCode, Json<PolicyResponse>), ApiError> {
    let input = PolicyInput {
        principal: input.principal,
        description: input.description,
        rules: input.rules,
    };
    let policy = state.app.create_policy(&principal, organization_id, input, &context).await?;
    Ok((StatusCode::CREATED, Json(policy.into())))
}

/// Replace a policy's rules and description.
#[utoipa::path(put, path = "/v1/organizations/{id}/policies/{policy_id}", tag = "authorization",
    params(("id" = String, Path, format = Uuid), ("policy_id" = String, Path, format = Uuid)),
    request_body = PolicyUpdateInput, security(("api_key" = [])),
    responses((status = 200, body = PolicyResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn replace_policy(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, Uuid)>,
    ApiJson(input): ApiJson<PolicyUpdateInput>,
) -> Result<Json<PolicyResponse>, ApiError> {
    let policy = state
        .app
        .replace_policy(&principal, organization_id, id, &input.description, input.rules, &context)
        .await?;
    Ok(Json(policy.into()))
}

/// Delete a policy: what it granted is refused from the next request.
#[utoipa::path(delete, path = "/v1/organizations/{id}/policies/{policy_id}", tag = "authorization",
    params(("id" = String, Path, format = Uuid), ("policy_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn delete_policy(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_policy(&principal, organization_id, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a Cedar policy (`permit` or `forbid`), validated against Rampart's schema.
#[utoipa::path(post, path = "/v1/organizations/{id}/cedar-policies", tag = "authorization",
    params(("id" = String, Path, format = Uuid)), request_body = CedarPolicyInput,
    security(("api_key" = [])),
    responses((status = 201, body = CedarPolicyResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn create_cedar_policy(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<CedarPolicyInput>,
) -> Result<(StatusCode, Json<CedarPolicyResponse>), ApiError> {
    let policy = state
        .app
        .create_raw_policy(&principal, organization_id, &input.description, &input.text, &context)
        .await?;
    Ok((StatusCode::CREATED, Json(policy.into())))
}

/// Delete a Cedar policy.
#[utoipa::path(delete, path = "/v1/organizations/{id}/cedar-policies/{policy_id}",
    tag = "authorization",
    params(("id" = String, Path, format = Uuid), ("policy_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_cedar_policy(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_raw_policy(&principal, organization_id, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    /// `service:resource:verb` in one of the organisation's own services.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub privileged: bool,
}

/// Define an action of one of the organisation's own services.
#[utoipa::path(post, path = "/v1/organizations/{id}/actions", tag = "authorization",
    params(("id" = String, Path, format = Uuid)), request_body = ActionInput,
    security(("api_key" = [])),
    responses((status = 201, body = ActionResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn define_action(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<ActionInput>,
) -> Result<(StatusCode, Json<ActionResponse>), ApiError> {
    let action = authz::CustomAction {
        name: input.name,
        description: input.description,
        privileged: input.privileged,
    };
    let record = state.app.define_action(&principal, organization_id, action, &context).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// Delete one of the organisation's actions (refused while a permission set names it).
#[utoipa::path(delete, path = "/v1/organizations/{id}/actions/{name}", tag = "authorization",
    params(("id" = String, Path, format = Uuid), ("name" = String, Path)),
    security(("api_key" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn delete_action(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, name)): ApiPath<(OrganizationId, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_action(&principal, organization_id, &name, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create or replace one of the organisation's permission sets.
#[utoipa::path(put, path = "/v1/organizations/{id}/permission-sets/{name}", tag = "authorization",
    params(("id" = String, Path, format = Uuid), ("name" = String, Path)),
    request_body = PermissionSetInput, security(("api_key" = [])),
    responses((status = 200, body = PermissionSetResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn put_permission_set(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, name)): ApiPath<(OrganizationId, String)>,
    ApiJson(input): ApiJson<PermissionSetInput>,
) -> Result<Json<PermissionSetResponse>, ApiError> {
    let set =
        authz::CustomPermissionSet { name, description: input.description, actions: input.actions };
    let record = state.app.put_permission_set(&principal, organization_id, set, &context).await?;
    Ok(Json(record.into()))
}

/// Delete one of the organisation's permission sets (refused while a rule names it).
#[utoipa::path(delete, path = "/v1/organizations/{id}/permission-sets/{name}",
    tag = "authorization",
    params(("id" = String, Path, format = Uuid), ("name" = String, Path)),
    security(("api_key" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn delete_permission_set(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, name)): ApiPath<(OrganizationId, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_permission_set(&principal, organization_id, &name, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The circumstances of an access being decided.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessContextInput {
    #[schema(value_type = Option<String>)]
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    #[serde(default)]
    pub mfa: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub authenticated_at: Option<OffsetDateTime>,
    /// When the access happens (default: now).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub time: Option<OffsetDateTime>,
}

/// One question: may `principal` perform `action` on `resource` in this `context`?
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeInput {
    /// `{"type": "user" | "application", "id": "<uuid>"}`.
    #[schema(value_type = Object)]
    pub principal: authz::PrincipalRef,
    pub action: String,
    /// `{"organization": "<uuid>"}`, `{"project": {"organization": …, "project": …}}` or
    /// `{"object": {"organization": …, "project": … | null, "kind": "server", "id": "…"}}`.
    #[schema(value_type = Object)]
    pub resource: authz::ResourceRef,
    #[serde(default)]
    pub context: AccessContextInput,
}

impl From<AuthorizeInput> for AccessQuestion {
    fn from(input: AuthorizeInput) -> Self {
        Self {
            principal: input.principal,
            action: input.action,
            resource: input.resource,
            context: QuestionContext {
                source_ip: input.context.source_ip,
                user_agent: input.context.user_agent,
                mfa: input.context.mfa,
                authenticated_at: input.context.authenticated_at,
                time: input.context.time,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionResponse {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// The policies that decided: satisfied permits when allowed, satisfied forbids when a
    /// forbid denied, none when nothing granted.
    pub determining_policies: Vec<String>,
    pub errors: Vec<String>,
}

impl From<authz::Decision> for DecisionResponse {
    fn from(decision: authz::Decision) -> Self {
        Self {
            decision: if decision.allowed { "allow" } else { "deny" },
            determining_policies: decision.determining_policies,
            errors: decision.errors,
        }
    }
}

/// Decide one access for another service (needs `iam:authorization:check`).
#[utoipa::path(post, path = "/v1/authorize", tag = "authorization",
    request_body = AuthorizeInput, security(("api_key" = [])),
    responses((status = 200, body = DecisionResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn authorize(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(input): ApiJson<AuthorizeInput>,
) -> Result<Json<DecisionResponse>, ApiError> {
    let mut decisions = state.app.check_access(&principal, &[input.into()], &context).await?;
    let decision = decisions.pop().ok_or_else(|| {
        ApiError::from(app::AppError::Internal("no decision for the question".into()))
    })?;
    Ok(Json(decision.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeBatchInput {
    /// Up to 1,000 questions.
    pub requests: Vec<AuthorizeInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeBatchResponse {
    /// One decision per question, in order.
    pub decisions: Vec<DecisionResponse>,
}

/// Decide up to 1,000 accesses at once.
#[utoipa::path(post, path = "/v1/authorize/batch", tag = "authorization",
    request_body = AuthorizeBatchInput, security(("api_key" = [])),
    responses((status = 200, body = AuthorizeBatchResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn authorize_batch(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(input): ApiJson<AuthorizeBatchInput>,
) -> Result<Json<AuthorizeBatchResponse>, ApiError> {
    let questions: Vec<AccessQuestion> = input.requests.into_iter().map(Into::into).collect();
    let decisions = state.app.check_access(&principal, &questions, &context).await?;
    Ok(Json(AuthorizeBatchResponse { decisions: decisions.into_iter().map(Into::into).collect() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoCanInput {
    pub action: String,
    #[schema(value_type = Object)]
    pub resource: authz::ResourceRef,
}

/// Who may perform an action on a resource, and under which conditions.
#[utoipa::path(post, path = "/v1/authorize/who-can", tag = "authorization",
    request_body = WhoCanInput, security(("api_key" = [])),
    responses((status = 200, body = Object), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn who_can(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(input): ApiJson<WhoCanInput>,
) -> Result<Json<authz::WhoCan>, ApiError> {
    let answer = state.app.who_can(&principal, &input.action, input.resource, &context).await?;
    Ok(Json(answer))
}

/// What a user or application may do, where, under which conditions, and through which
/// rules.
#[utoipa::path(get, path = "/v1/principals/{id}/effective-permissions", tag = "authorization",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Object), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn effective_permissions(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<authz::EffectivePermissions>, ApiError> {
    let answer = state.app.effective_permissions(&principal, id, &context).await?;
    Ok(Json(answer))
}
