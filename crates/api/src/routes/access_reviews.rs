//! Access reviews (`/v1/organizations/{id}/access-reviews`) and the cadences that start them
//! (`/v1/organizations/{id}/access-review-schedules/{scope}`).
//!
//! Scopes, decisions and day counts are taken loosely typed and checked here, so that a wrong
//! one is a 400 naming it rather than a generic body error.

use app::{
    CampaignSummary, DecisionInput as ReviewDecisionInput, ItemDecision, ItemView, ScheduleView,
    StartReview,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base::{OrganizationId, UserId};
use serde::{Deserialize, Serialize};
use store::{CampaignCounts, ReviewCampaignRecord, ReviewScope};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

fn bad_input(detail: impl Into<String>) -> ApiError {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_input", detail).into()
}

const SCOPES: &str = r#""organization", "privileged", "staff" or {"group": "<uuid>"}"#;

fn parse_scope(value: Option<&serde_json::Value>) -> Result<ReviewScope, ApiError> {
    let Some(value) = value else {
        return Err(bad_input(format!("scope: required, one of {SCOPES}")));
    };
    match value {
        serde_json::Value::String(name) => parse_named_scope(name),
        serde_json::Value::Object(fields) if fields.len() == 1 => {
            let group = fields
                .get("group")
                .and_then(serde_json::Value::as_str)
                .and_then(|id| id.parse::<Uuid>().ok())
                .ok_or_else(|| bad_input(format!("scope: expected one of {SCOPES}")))?;
            Ok(ReviewScope::Group(group))
        }
        _ => Err(bad_input(format!("scope: expected one of {SCOPES}"))),
    }
}

fn parse_named_scope(name: &str) -> Result<ReviewScope, ApiError> {
    match name {
        "organization" => Ok(ReviewScope::Organization),
        "privileged" => Ok(ReviewScope::Privileged),
        "staff" => Ok(ReviewScope::Staff),
        other => {
            Err(bad_input(format!("scope: unknown scope {other:?}; expected one of {SCOPES}")))
        }
    }
}

/// A day count as the use cases take it; a number out of any range they accept is refused
/// with the same message as theirs.
fn days(value: Option<i64>, what: &str, max: u32) -> Result<Option<u32>, ApiError> {
    value
        .map(|value| {
            u32::try_from(value)
                .ok()
                .filter(|days| *days >= 1)
                .ok_or_else(|| bad_input(format!("{what}: between 1 and {max} days; got {value}")))
        })
        .transpose()
}

fn scope_json(scope: ReviewScope) -> serde_json::Value {
    match scope {
        ReviewScope::Group(id) => serde_json::json!({ "group": id.to_string() }),
        other => other.kind().into(),
    }
}

fn principal_json(holder: store::PolicyHolder) -> serde_json::Value {
    let (kind, id) = match holder {
        store::PolicyHolder::User(id) => ("user", id),
        store::PolicyHolder::Group(id) => ("group", id),
        store::PolicyHolder::Application(id) => ("application", id),
    };
    serde_json::json!({ "type": kind, "id": id.to_string() })
}

fn json_of(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartReviewInput {
    #[serde(default)]
    pub name: String,
    /// `"organization"`, `"privileged"`, `"staff"` (provider only) or `{"group": "<uuid>"}`.
    #[schema(value_type = Object)]
    pub scope: Option<serde_json::Value>,
    /// A user of the organisation who may decide the items (default: holders of
    /// `iam:reviews:write`).
    #[schema(format = Uuid)]
    pub reviewer: Option<String>,
    /// 1 to 365 (default 14).
    pub due_in_days: Option<i64>,
    /// Flag items whose principal did not act for this many days, 1 to 3650 (default 90).
    pub unused_after_days: Option<i64>,
}

/// How far a campaign got.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountsResponse {
    pub items: u64,
    pub decided: u64,
    pub pending: u64,
    pub kept: u64,
    pub revoked: u64,
    pub reduced: u64,
    /// Items flagged as unused (least-privilege hints).
    pub unused: u64,
}

impl From<CampaignCounts> for CountsResponse {
    fn from(counts: CampaignCounts) -> Self {
        Self {
            items: counts.n_items,
            decided: counts.n_decided,
            pending: counts.n_items.saturating_sub(counts.n_decided),
            kept: counts.n_kept,
            revoked: counts.n_revoked,
            reduced: counts.n_reduced,
            unused: counts.n_unused,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignResponse {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    /// `"organization"`, `"privileged"`, `"staff"` or `{"group": "<uuid>"}`.
    #[schema(value_type = Object)]
    pub scope: serde_json::Value,
    /// `manual`, `schedule` or `movers` (group membership changes).
    pub origin: String,
    pub reviewer: Option<String>,
    pub unused_after_days: u32,
    /// Who started it; absent when Rampart did.
    pub started_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub due_at: OffsetDateTime,
    /// `open` or `closed`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<OffsetDateTime>,
    pub closed_by: Option<String>,
    /// Open past its due date.
    pub overdue: bool,
    pub counts: CountsResponse,
}

impl From<CampaignSummary> for CampaignResponse {
    fn from(summary: CampaignSummary) -> Self {
        let ReviewCampaignRecord {
            id,
            organization_id,
            name,
            scope,
            origin,
            reviewer_id,
            unused_after_days,
            started_by,
            started_at,
            due_at,
            closed_at,
            closed_by,
        } = summary.campaign;
        Self {
            id: id.to_string(),
            organization_id: organization_id.to_string(),
            name,
            scope: scope_json(scope),
            origin: origin.as_str().to_owned(),
            reviewer: reviewer_id.map(|id| id.to_string()),
            unused_after_days,
            started_by,
            started_at,
            due_at,
            status: if closed_at.is_some() { "closed" } else { "open" }.to_owned(),
            closed_at,
            closed_by,
            overdue: summary.overdue,
            counts: summary.counts.into(),
        }
    }
}

/// The decision taken on an item.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionResponse {
    /// `keep`, `revoke` or `reduce`.
    pub decision: String,
    pub justification: String,
    /// For a reduction, the permission sets the rule kept.
    pub permission_sets: Option<Vec<String>>,
    pub decided_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub decided_at: OffsetDateTime,
}

/// One principal's rule under review, as it was when the item was created.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemResponse {
    pub id: String,
    /// `{"type": "user" | "group" | "application", "id": "<uuid>"}`.
    #[schema(value_type = Object)]
    pub principal: serde_json::Value,
    pub policy_id: String,
    pub rule_index: u32,
    #[schema(value_type = Object)]
    pub rule: serde_json::Value,
    /// The rule grants a privileged action.
    pub privileged: bool,
    /// When the policy was granted, and by whom.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub granted_at: OffsetDateTime,
    pub granted_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub policy_updated_at: OffsetDateTime,
    /// The principal's newest successful audit entry (a group's: its members' newest).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_activity_at: Option<OffsetDateTime>,
    /// Unused for the campaign's `unused_after_days`, or never used.
    pub unused: bool,
    /// Why the item was added after the campaign started (a group membership change).
    pub reason: Option<String>,
    /// `pending`, `stale` (the rule changed since: cannot be decided), `kept`, `revoked` or
    /// `reduced`.
    pub state: String,
    pub overdue: bool,
    pub decision: Option<DecisionResponse>,
    /// The principal is a guest of the organisation (an account of another one).
    pub guest: bool,
    /// When that guest's membership ends, if it does.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub guest_expires_at: Option<OffsetDateTime>,
}

impl From<ItemView> for ItemResponse {
    fn from(view: ItemView) -> Self {
        let item = view.item;
        let guest_expires_at = view.guest.and_then(|guest| guest.expires_at);
        Self {
            id: item.id.to_string(),
            principal: principal_json(item.principal),
            policy_id: item.policy_id.to_string(),
            rule_index: item.rule_index,
            rule: json_of(&item.rule),
            privileged: item.privileged,
            granted_at: item.granted_at,
            granted_by: item.granted_by,
            policy_updated_at: item.policy_updated_at,
            last_activity_at: item.last_activity_at,
            unused: item.unused,
            reason: item.reason,
            state: view.state.as_str().to_owned(),
            overdue: view.overdue,
            decision: item.decision.map(|decision| DecisionResponse {
                decision: decision.decision.as_str().to_owned(),
                justification: decision.justification,
                permission_sets: decision
                    .permission_sets
                    .and_then(|sets| serde_json::from_str(&sets).ok()),
                decided_by: decision.decided_by,
                decided_at: decision.decided_at,
            }),
            guest: view.guest.is_some(),
            guest_expires_at,
        }
    }
}

/// A campaign with its items.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignDetailResponse {
    #[serde(flatten)]
    pub campaign: CampaignResponse,
    pub items: Vec<ItemResponse>,
}

/// Start a campaign: one item per principal and rule in scope (recent authentication).
#[utoipa::path(post, path = "/v1/organizations/{id}/access-reviews", tag = "access-reviews",
    params(("id" = String, Path, format = Uuid)), request_body = StartReviewInput,
    security(("api_key" = [])),
    responses((status = 201, body = CampaignResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn start(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(input): ApiJson<StartReviewInput>,
) -> Result<(StatusCode, Json<CampaignResponse>), ApiError> {
    let scope = parse_scope(input.scope.as_ref())?;
    let reviewer = input
        .reviewer
        .as_deref()
        .map(|id| {
            id.parse::<UserId>()
                .map_err(|_| bad_input(format!("reviewer: {id:?} is not a user id")))
        })
        .transpose()?;
    let input = StartReview {
        name: input.name,
        scope,
        reviewer,
        due_in_days: days(input.due_in_days, "due_in_days", 365)?,
        unused_after_days: days(input.unused_after_days, "unused_after_days", 3650)?,
    };
    let summary =
        state.app.start_access_review(&principal, organization_id, input, &context).await?;
    Ok((StatusCode::CREATED, Json(summary.into())))
}

/// Which campaigns to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReviewListQuery {
    /// Only campaigns still open after their due date.
    pub overdue: Option<bool>,
}

/// The organisation's campaigns, newest first, with their counts.
#[utoipa::path(get, path = "/v1/organizations/{id}/access-reviews", tag = "access-reviews",
    params(("id" = String, Path, format = Uuid), ReviewListQuery), security(("api_key" = [])),
    responses((status = 200, body = Vec<CampaignResponse>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<ReviewListQuery>,
) -> Result<Json<Vec<CampaignResponse>>, ApiError> {
    let overdue_only = query.overdue.unwrap_or(false);
    let campaigns =
        state.app.list_access_reviews(&principal, organization_id, overdue_only, &context).await?;
    Ok(Json(campaigns.into_iter().map(Into::into).collect()))
}

/// A campaign with its items and their state (its named reviewer may read it too).
#[utoipa::path(get, path = "/v1/organizations/{id}/access-reviews/{campaign_id}",
    tag = "access-reviews",
    params(("id" = String, Path, format = Uuid), ("campaign_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = CampaignDetailResponse), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, campaign_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Json<CampaignDetailResponse>, ApiError> {
    let view = state.app.access_review(&principal, organization_id, campaign_id, &context).await?;
    Ok(Json(CampaignDetailResponse {
        campaign: view.summary.into(),
        items: view.items.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// `keep`, `revoke` (remove the rule from its policy) or `reduce` (keep only
    /// `permission_sets`).
    #[serde(default)]
    pub decision: String,
    /// Why, 1 to 1000 characters.
    #[serde(default)]
    pub justification: String,
    /// For `reduce`: the permission sets the rule keeps, a non-empty strict subset of its own.
    pub permission_sets: Option<Vec<String>>,
}

/// Decide an item (by the campaign's named reviewer or a holder of `iam:reviews:write`,
/// recent authentication). A revocation or reduction applies from the next request.
#[utoipa::path(post,
    path = "/v1/organizations/{id}/access-reviews/{campaign_id}/items/{item_id}/decision",
    tag = "access-reviews",
    params(("id" = String, Path, format = Uuid), ("campaign_id" = String, Path, format = Uuid),
        ("item_id" = String, Path, format = Uuid)),
    request_body = DecisionInput, security(("api_key" = [])),
    responses((status = 200, body = ItemResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn decide(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, campaign_id, item_id)): ApiPath<(OrganizationId, Uuid, Uuid)>,
    ApiJson(input): ApiJson<DecisionInput>,
) -> Result<Json<ItemResponse>, ApiError> {
    let decision = match (input.decision.as_str(), input.permission_sets) {
        ("keep", None) => ItemDecision::Keep,
        ("revoke", None) => ItemDecision::Revoke,
        ("reduce", Some(sets)) => ItemDecision::Reduce(sets),
        ("reduce", None) => {
            return Err(bad_input("permission_sets: a reduction names the sets the rule keeps"));
        }
        ("keep" | "revoke", Some(_)) => {
            return Err(bad_input("permission_sets: only a reduction names permission sets"));
        }
        (other, _) => {
            return Err(bad_input(format!(
                "decision: expected keep, revoke or reduce; got {other:?}"
            )));
        }
    };
    let view = state
        .app
        .decide_access_review_item(
            &principal,
            organization_id,
            campaign_id,
            item_id,
            ReviewDecisionInput { decision, justification: input.justification },
            &context,
        )
        .await?;
    Ok(Json(view.into()))
}

/// Close a campaign before every item is decided (recent authentication).
#[utoipa::path(post, path = "/v1/organizations/{id}/access-reviews/{campaign_id}/close",
    tag = "access-reviews",
    params(("id" = String, Path, format = Uuid), ("campaign_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = CampaignResponse), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn close(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, campaign_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Json<CampaignResponse>, ApiError> {
    let summary =
        state.app.close_access_review(&principal, organization_id, campaign_id, &context).await?;
    Ok(Json(summary.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// Days between two campaigns, 1 to 3650 (90 for a quarterly review).
    pub cadence_days: Option<i64>,
    /// Days each campaign is due after its start, 1 to 365 (default 14).
    pub due_in_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleResponse {
    /// `organization`, `privileged` or `staff`.
    pub scope: String,
    pub cadence_days: u32,
    pub due_in_days: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_started_at: Option<OffsetDateTime>,
    /// When the next campaign starts (the server checks hourly).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub next_start_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<ScheduleView> for ScheduleResponse {
    fn from(view: ScheduleView) -> Self {
        Self {
            scope: view.schedule.scope.kind().to_owned(),
            cadence_days: view.schedule.cadence_days,
            due_in_days: view.schedule.due_in_days,
            last_started_at: view.schedule.last_started_at,
            next_start_at: view.next_start_at,
            updated_at: view.schedule.updated_at,
        }
    }
}

fn schedule_scope(scope: &str) -> Result<ReviewScope, ApiError> {
    match scope {
        "organization" | "privileged" | "staff" => parse_named_scope(scope),
        other => Err(bad_input(format!(
            "scope: unknown schedule scope {other:?}; expected organization, privileged or staff"
        ))),
    }
}

/// Start a campaign of this scope every `cadence_days` (the first at the next check).
#[utoipa::path(put, path = "/v1/organizations/{id}/access-review-schedules/{scope}",
    tag = "access-reviews",
    params(("id" = String, Path, format = Uuid), ("scope" = String, Path)),
    request_body = ScheduleInput, security(("api_key" = [])),
    responses((status = 200, body = ScheduleResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn put_schedule(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, scope)): ApiPath<(OrganizationId, String)>,
    ApiJson(input): ApiJson<ScheduleInput>,
) -> Result<Json<ScheduleResponse>, ApiError> {
    let scope = schedule_scope(&scope)?;
    let cadence_days = days(input.cadence_days, "cadence_days", 3650)?
        .ok_or_else(|| bad_input("cadence_days: required, 1 to 3650 days"))?;
    let due_in_days = days(input.due_in_days, "due_in_days", 365)?;
    let view = state
        .app
        .put_access_review_schedule(
            &principal,
            organization_id,
            scope,
            cadence_days,
            due_in_days,
            &context,
        )
        .await?;
    Ok(Json(view.into()))
}

/// The organisation's review schedules.
#[utoipa::path(get, path = "/v1/organizations/{id}/access-review-schedules",
    tag = "access-reviews",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<ScheduleResponse>), (status = 403, body = Problem)))]
pub async fn list_schedules(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<Vec<ScheduleResponse>>, ApiError> {
    let schedules =
        state.app.list_access_review_schedules(&principal, organization_id, &context).await?;
    Ok(Json(schedules.into_iter().map(Into::into).collect()))
}

/// Stop starting campaigns of this scope (recent authentication).
#[utoipa::path(delete, path = "/v1/organizations/{id}/access-review-schedules/{scope}",
    tag = "access-reviews",
    params(("id" = String, Path, format = Uuid), ("scope" = String, Path)),
    security(("api_key" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn delete_schedule(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, scope)): ApiPath<(OrganizationId, String)>,
) -> Result<StatusCode, ApiError> {
    let scope = schedule_scope(&scope)?;
    state.app.delete_access_review_schedule(&principal, organization_id, scope, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
