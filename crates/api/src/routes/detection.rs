//! Detection: the alerts raised on an organisation's audit trail
//! (`/v1/organizations/{id}/alerts`), the per-rule noise report and the rules loaded.

use app::{AlertClose, RuleNoiseView, RulesView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base::OrganizationId;
use serde::{Deserialize, Serialize};
use store::{AlertRecord, AlertState};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

fn bad_input(detail: impl Into<String>) -> ApiError {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_input", detail).into()
}

/// An alert: a rule that fired on the organisation's audit trail, with the detections
/// counted into it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertResponse {
    #[schema(format = Uuid)]
    pub id: Uuid,
    #[schema(format = Uuid)]
    pub organization_id: Uuid,
    pub rule_id: String,
    pub title: String,
    /// `low`, `medium`, `high` or `critical`.
    pub level: String,
    /// The rule's tags (`attack.t1110.001`, …).
    pub tags: Vec<String>,
    pub author: String,
    /// The correlation group (`user.uid=…`), empty for single-event rules.
    pub group_key: String,
    /// The audit entries behind the alert (`organization:index`), the first 20.
    pub events: Vec<String>,
    /// Non-personal fields of the latest event (action, outcome, identifiers).
    pub summary: serde_json::Map<String, serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: OffsetDateTime,
    pub count: u64,
    /// `new`, `acknowledged` or `closed`.
    pub state: String,
    /// `true_positive`, `false_positive` or `benign` once closed.
    pub resolution: Option<String>,
    pub assignee: Option<String>,
    pub acknowledged_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<OffsetDateTime>,
    pub closed_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<OffsetDateTime>,
    pub comment: String,
}

impl From<AlertRecord> for AlertResponse {
    fn from(alert: AlertRecord) -> Self {
        Self {
            id: alert.id,
            organization_id: *alert.organization_id.as_uuid(),
            rule_id: alert.rule_id,
            title: alert.title,
            level: alert.level,
            tags: alert.tags,
            author: alert.author,
            group_key: alert.group_key,
            events: alert.event_refs,
            summary: alert.summary,
            first_seen: alert.first_seen,
            last_seen: alert.last_seen,
            count: alert.count,
            state: alert.state.as_str().to_owned(),
            resolution: alert.resolution.map(|resolution| resolution.as_str().to_owned()),
            assignee: alert.assignee,
            acknowledged_by: alert.acknowledged_by,
            acknowledged_at: alert.acknowledged_at,
            closed_by: alert.closed_by,
            closed_at: alert.closed_at,
            comment: alert.comment,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// `new`, `acknowledged` or `closed`.
    pub state: Option<String>,
    /// At most this many (1 to 500, default 100).
    pub limit: Option<u32>,
}

/// The organisation's alerts, newest first.
#[utoipa::path(get, path = "/v1/organizations/{id}/alerts", tag = "detection",
    params(("id" = String, Path, format = Uuid), AlertQuery), security(("api_key" = [])),
    responses((status = 200, body = Vec<AlertResponse>), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list_alerts(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<AlertQuery>,
) -> Result<Json<Vec<AlertResponse>>, ApiError> {
    let alert_state = match query.state.as_deref() {
        None => None,
        Some(text) => Some(
            AlertState::parse(text)
                .ok_or_else(|| bad_input("state must be new, acknowledged or closed"))?,
        ),
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=app::MAX_ALERTS_PER_PAGE).contains(&limit) {
        return Err(bad_input("limit must be between 1 and 500"));
    }
    let alerts =
        state.app.list_alerts(&principal, organization_id, alert_state, limit, &context).await?;
    Ok(Json(alerts.into_iter().map(AlertResponse::from).collect()))
}

#[utoipa::path(get, path = "/v1/organizations/{id}/alerts/{alert_id}", tag = "detection",
    params(("id" = String, Path, format = Uuid), ("alert_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = AlertResponse), (status = 404, body = Problem)))]
pub async fn get_alert(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, alert_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Json<AlertResponse>, ApiError> {
    let alert = state.app.get_alert(&principal, organization_id, alert_id, &context).await?;
    Ok(Json(alert.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeBody {
    /// Who handles the alert (a user id or email); unchanged when absent.
    pub assignee: Option<String>,
}

/// Take a new alert in hand: new → acknowledged.
#[utoipa::path(post, path = "/v1/organizations/{id}/alerts/{alert_id}/acknowledge",
    tag = "detection",
    params(("id" = String, Path, format = Uuid), ("alert_id" = String, Path, format = Uuid)),
    request_body = AcknowledgeBody, security(("api_key" = [])),
    responses((status = 200, body = AlertResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn acknowledge_alert(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, alert_id)): ApiPath<(OrganizationId, Uuid)>,
    ApiJson(body): ApiJson<AcknowledgeBody>,
) -> Result<Json<AlertResponse>, ApiError> {
    let alert = state
        .app
        .acknowledge_alert(&principal, organization_id, alert_id, body.assignee, &context)
        .await?;
    Ok(Json(alert.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// `true_positive`, `false_positive` or `benign`.
    #[serde(default)]
    pub resolution: String,
    #[serde(default)]
    pub comment: String,
}

/// Close a new or acknowledged alert with its resolution.
#[utoipa::path(post, path = "/v1/organizations/{id}/alerts/{alert_id}/close", tag = "detection",
    params(("id" = String, Path, format = Uuid), ("alert_id" = String, Path, format = Uuid)),
    request_body = CloseBody, security(("api_key" = [])),
    responses((status = 200, body = AlertResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn close_alert(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, alert_id)): ApiPath<(OrganizationId, Uuid)>,
    ApiJson(body): ApiJson<CloseBody>,
) -> Result<Json<AlertResponse>, ApiError> {
    let resolution = match body.resolution.as_str() {
        "true_positive" => AlertClose::TruePositive,
        "false_positive" => AlertClose::FalsePositive,
        "benign" => AlertClose::Benign,
        _ => return Err(bad_input("resolution must be true_positive, false_positive or benign")),
    };
    let alert = state
        .app
        .close_alert(&principal, organization_id, alert_id, resolution, &body.comment, &context)
        .await?;
    Ok(Json(alert.into()))
}

/// One rule's alerts and how they were judged.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RuleNoiseResponse {
    pub rule_id: String,
    pub title: String,
    pub alerts: u64,
    /// Detections counted into those alerts.
    pub detections: u64,
    pub open: u64,
    pub true_positive: u64,
    pub false_positive: u64,
    pub benign: u64,
    /// False positives over closed alerts; null before any is closed.
    pub false_positive_ratio: Option<f64>,
}

impl From<RuleNoiseView> for RuleNoiseResponse {
    fn from(noise: RuleNoiseView) -> Self {
        Self {
            rule_id: noise.rule_id,
            title: noise.title,
            alerts: noise.alerts,
            detections: noise.detections,
            open: noise.open,
            true_positive: noise.true_positive,
            false_positive: noise.false_positive,
            benign: noise.benign,
            false_positive_ratio: noise.false_positive_ratio,
        }
    }
}

/// Per rule: alerts, detections and the false-positive ratio of the closed ones.
#[utoipa::path(get, path = "/v1/organizations/{id}/detection/noise", tag = "detection",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<RuleNoiseResponse>), (status = 403, body = Problem)))]
pub async fn noise(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Response, ApiError> {
    let (noise, marking) =
        state.app.export_detection_noise(&principal, organization_id, &context).await?;
    let noise: Vec<RuleNoiseResponse> = noise.into_iter().map(RuleNoiseResponse::from).collect();
    Ok(crate::routes::marked_json(&marking, noise))
}

/// The detection rules loaded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RulesResponse {
    pub loaded: usize,
    /// Each rule or file that did not load: `path (rule id): reason`.
    pub failed: Vec<String>,
    /// How many did not load (the length of `failed`).
    pub n_failed: usize,
    /// Why the latest reload of the rules directory was not applied (the previous rules
    /// still run); null when it was.
    pub reload_error: Option<String>,
}

impl From<RulesView> for RulesResponse {
    fn from(rules: RulesView) -> Self {
        Self {
            loaded: rules.loaded,
            n_failed: rules.failed.len(),
            failed: rules.failed,
            reload_error: rules.reload_error,
        }
    }
}

/// The rules detection runs, and those that failed to load (provider staff).
#[utoipa::path(get, path = "/v1/detection/rules", tag = "detection",
    security(("api_key" = [])),
    responses((status = 200, body = RulesResponse), (status = 403, body = Problem)))]
pub async fn rules(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
) -> Result<Json<RulesResponse>, ApiError> {
    Ok(Json(state.app.read_detection_rules(&principal, &context).await?.into()))
}
