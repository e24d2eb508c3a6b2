//! Incidents run by the security team (`/v1/incidents`): opening (by hand or from alerts),
//! status changes along NIST SP 800-61r3's phases, tasks, linked alerts, the personal data
//! breach clock (GDPR Article 33), the notifications made, Article 34 and the post-incident
//! review.

use app::{
    AlertLink, Article33Record, Article34Record, IncidentPatch, IncidentView, NewIncident,
    ReviewRecord, TaskInput, TaskPatch,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

fn bad_input(detail: impl Into<String>) -> ApiError {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_input", detail).into()
}

time::serde::format_description!(body_date, Date, "[year]-[month]-[day]");

/// The GDPR Article 33 clock of a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClockResponse {
    /// `not_started`, `running`, `due_soon` (24 hours or less left), `overdue` or `notified`.
    pub state: String,
    /// When the provider became aware of the personal data breach.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub aware_at: Option<OffsetDateTime>,
    /// Awareness + 72 hours: when the supervisory authority must have been notified.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deadline: Option<OffsetDateTime>,
    /// Seconds left before the deadline (negative when overdue), while the clock runs.
    pub remaining_seconds: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub notified_at: Option<OffsetDateTime>,
    /// The authority was notified after the deadline.
    pub late: bool,
}

/// One change of a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineResponse {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// `user:…`, `staff:…`, `application:…` or `system`.
    pub actor: String,
    /// `open`, `update`, `status`, `task.add`, `task.update`, `alert.link`, `breach`,
    /// `article33.notify`, `customer.notify`, `article34`, `review`, `article33.due_soon`,
    /// `article33.overdue`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// An incident.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncidentResponse {
    #[schema(format = Uuid)]
    pub id: Uuid,
    pub title: String,
    /// `SEV1` (worst) to `SEV4`.
    pub severity: String,
    /// `detected`, `analysing`, `contained`, `eradicated`, `recovered` or `closed`.
    pub status: String,
    /// The status a change may move to next, none once closed.
    pub next_status: Option<String>,
    pub description: String,
    /// `manual`, `alert` or `report`.
    pub origin: String,
    pub owner: Option<String>,
    /// Tasks: `id`, `title`, `assignee`, `due`, `done`.
    #[schema(value_type = Vec<Object>)]
    pub tasks: serde_json::Value,
    /// Linked alerts: `organization_id`, `alert_id`.
    #[schema(value_type = Vec<Object>)]
    pub alerts: serde_json::Value,
    pub assets: Vec<String>,
    /// Affected organisations.
    pub organizations: Vec<Uuid>,
    /// The public report the case was opened from.
    pub report_id: Option<Uuid>,
    pub personal_data_breach: bool,
    pub article_33_clock: ClockResponse,
    /// The notification made to the supervisory authority (Article 33(3) content).
    #[schema(value_type = Option<Object>)]
    pub article_33: serde_json::Value,
    /// Customers (controllers) notified: `organization_id`, `notified_at`, `channel`.
    #[schema(value_type = Vec<Object>)]
    pub customer_notifications: serde_json::Value,
    /// Article 34: `state` is `pending`, `not_required` or `required`.
    #[schema(value_type = Object)]
    pub article_34: serde_json::Value,
    /// The post-incident review: `causes`, `lessons`, `actions`.
    #[schema(value_type = Option<Object>)]
    pub review: serde_json::Value,
    /// Every change, oldest first (empty in listings).
    pub timeline: Vec<TimelineResponse>,
    /// When retention erased the closed case's personal fields.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub personal_data_erased_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

impl From<IncidentView> for IncidentResponse {
    fn from(view: IncidentView) -> Self {
        let document = view.document;
        Self {
            id: view.id,
            title: view.title,
            severity: view.severity.to_string(),
            status: view.status.as_str().to_owned(),
            next_status: view.status.next().map(|status| status.as_str().to_owned()),
            description: document.description,
            origin: document.origin,
            owner: document.owner,
            tasks: json(&document.tasks),
            alerts: json(&document.alerts),
            assets: document.assets,
            organizations: document.organizations,
            report_id: document.report_id,
            personal_data_breach: view.clock.aware_at.is_some(),
            article_33_clock: ClockResponse {
                state: view.clock.state.to_owned(),
                aware_at: view.clock.aware_at,
                deadline: view.clock.deadline,
                remaining_seconds: view.clock.remaining_seconds,
                notified_at: view.clock.notified_at,
                late: view.clock.late,
            },
            article_33: json(&document.article_33),
            customer_notifications: json(&document.customer_notifications),
            article_34: json(&document.article_34),
            review: json(&document.review),
            timeline: view
                .timeline
                .into_iter()
                .map(|entry| TimelineResponse {
                    at: entry.at,
                    actor: entry.actor,
                    kind: entry.kind,
                    detail: entry.detail,
                })
                .collect(),
            personal_data_erased_at: document.personal_data_erased_at,
            created_at: view.created_at,
            updated_at: view.updated_at,
        }
    }
}

fn severity(text: Option<&str>) -> Result<Option<app::IncidentSeverity>, ApiError> {
    text.map(|text| {
        app::parse_severity(text)
            .ok_or_else(|| bad_input("severity must be SEV1, SEV2, SEV3 or SEV4"))
    })
    .transpose()
}

/// An alert to link to a case.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertLinkBody {
    #[schema(format = Uuid)]
    pub organization_id: Uuid,
    #[schema(format = Uuid)]
    pub alert_id: Uuid,
}

impl From<AlertLinkBody> for AlertLink {
    fn from(body: AlertLinkBody) -> Self {
        Self { organization_id: body.organization_id, alert_id: body.alert_id }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    #[serde(default)]
    pub title: String,
    /// `SEV1` to `SEV4` (default `SEV3`).
    pub severity: Option<String>,
    #[serde(default)]
    pub description: String,
    pub owner: Option<String>,
    /// Alerts the case is opened from.
    #[serde(default)]
    pub alerts: Vec<AlertLinkBody>,
    #[serde(default)]
    pub assets: Vec<String>,
    #[serde(default)]
    pub organizations: Vec<Uuid>,
}

/// Open an incident by hand, or from alerts.
#[utoipa::path(post, path = "/v1/incidents", tag = "incidents", request_body = OpenBody,
    security(("api_key" = [])),
    responses((status = 201, body = IncidentResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn open(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiJson(body): ApiJson<OpenBody>,
) -> Result<(StatusCode, Json<IncidentResponse>), ApiError> {
    let input = NewIncident {
        title: body.title,
        severity: severity(body.severity.as_deref())?,
        description: body.description,
        owner: body.owner,
        alerts: body.alerts.into_iter().map(AlertLink::from).collect(),
        assets: body.assets,
        organizations: body.organizations,
    };
    let view = state.app.open_incident(&principal, input, &context).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    /// Only incidents in this status.
    pub status: Option<String>,
    /// At most this many (1 to 500, default 100).
    pub limit: Option<u32>,
}

/// Incidents, newest first.
#[utoipa::path(get, path = "/v1/incidents", tag = "incidents", params(IncidentQuery),
    security(("api_key" = [])),
    responses((status = 200, body = Vec<IncidentResponse>), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiQuery(query): ApiQuery<IncidentQuery>,
) -> Result<Json<Vec<IncidentResponse>>, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(|text| app::parse_status(text).ok_or_else(|| bad_input("unknown status")))
        .transpose()?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=app::MAX_INCIDENTS_PER_PAGE).contains(&limit) {
        return Err(bad_input("limit must be between 1 and 500"));
    }
    let views = state.app.list_incidents(&principal, status, limit, &context).await?;
    Ok(Json(views.into_iter().map(IncidentResponse::from).collect()))
}

/// One incident with its timeline.
#[utoipa::path(get, path = "/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = IncidentResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<IncidentResponse>, ApiError> {
    Ok(Json(state.app.get_incident(&principal, id, &context).await?.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    pub title: Option<String>,
    pub severity: Option<String>,
    pub description: Option<String>,
    /// A user id or email; `null` removes the owner.
    #[serde(default, deserialize_with = "present")]
    pub owner: Option<Option<String>>,
    pub assets: Option<Vec<String>>,
    pub organizations: Option<Vec<Uuid>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Change an incident's title, severity, description, owner, affected assets or organisations.
#[utoipa::path(patch, path = "/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = PatchBody,
    security(("api_key" = [])),
    responses((status = 200, body = IncidentResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<PatchBody>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let patch = IncidentPatch {
        title: body.title,
        severity: severity(body.severity.as_deref())?,
        description: body.description,
        owner: body.owner,
        assets: body.assets,
        organizations: body.organizations,
    };
    Ok(Json(state.app.update_incident(&principal, id, patch, &context).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// The next phase (see `next_status`).
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub note: String,
}

/// Move an incident to its next phase; SEV1 and SEV2 close only with a complete review.
#[utoipa::path(post, path = "/v1/incidents/{id}/status", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = StatusBody,
    security(("api_key" = [])),
    responses((status = 200, body = IncidentResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn advance(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<StatusBody>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let to = app::parse_status(&body.status).ok_or_else(|| {
        bad_input("status must be analysing, contained, eradicated, recovered or closed")
    })?;
    Ok(Json(state.app.advance_incident(&principal, id, to, &body.note, &context).await?.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    #[serde(default)]
    pub title: String,
    pub assignee: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, with = "body_date::option")]
    #[schema(value_type = Option<String>, format = Date)]
    pub due: Option<Date>,
}

/// Add a task to an incident.
#[utoipa::path(post, path = "/v1/incidents/{id}/tasks", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = TaskBody,
    security(("api_key" = [])),
    responses((status = 201, body = IncidentResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn add_task(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<TaskBody>,
) -> Result<(StatusCode, Json<IncidentResponse>), ApiError> {
    let input = TaskInput { title: body.title, assignee: body.assignee, due: body.due };
    let view = state.app.add_incident_task(&principal, id, input, &context).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatchBody {
    pub done: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub assignee: Option<Option<String>>,
    /// `YYYY-MM-DD`, or `null` to remove.
    #[serde(default, deserialize_with = "present_date")]
    #[schema(value_type = Option<String>, format = Date)]
    pub due: Option<Option<Date>>,
}

fn present_date<'de, D>(deserializer: D) -> Result<Option<Option<Date>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    body_date::option::deserialize(deserializer).map(Some)
}

/// Mark a task done, reassign it or change its due date.
#[utoipa::path(patch, path = "/v1/incidents/{id}/tasks/{task_id}", tag = "incidents",
    params(("id" = String, Path, format = Uuid), ("task_id" = String, Path, format = Uuid)),
    request_body = TaskPatchBody, security(("api_key" = [])),
    responses((status = 200, body = IncidentResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_task(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((id, task_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<TaskPatchBody>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let patch = TaskPatch { done: body.done, assignee: body.assignee, due: body.due };
    Ok(Json(state.app.update_incident_task(&principal, id, task_id, patch, &context).await?.into()))
}

/// Link an alert to an incident.
#[utoipa::path(post, path = "/v1/incidents/{id}/alerts", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = AlertLinkBody,
    security(("api_key" = [])),
    responses((status = 200, body = IncidentResponse), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn link_alert(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AlertLinkBody>,
) -> Result<Json<IncidentResponse>, ApiError> {
    Ok(Json(state.app.link_incident_alert(&principal, id, body.into(), &context).await?.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreachBody {
    /// When the provider became aware of the personal data breach (default: now).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub aware_at: Option<OffsetDateTime>,
}

/// Establish a personal data breach: starts the 72-hour Article 33 clock.
#[utoipa::path(post, path = "/v1/incidents/{id}/breach", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = BreachBody,
    security(("api_key" = [])),
    responses((status = 200, body = IncidentResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn breach(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<BreachBody>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let view = state.app.mark_personal_data_breach(&principal, id, body.aware_at, &context).await?;
    Ok(Json(view.into()))
}

/// The notification to the supervisory authority (GDPR Article 33(3)).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Article33Body {
    pub authority: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub submitted_at: OffsetDateTime,
    /// (a) Nature of the breach.
    pub nature: String,
    pub data_subject_categories: Vec<String>,
    pub approx_data_subjects: Option<u64>,
    pub record_categories: Vec<String>,
    pub approx_records: Option<u64>,
    /// (b) The DPO or other contact point.
    pub contact: String,
    /// (c)
    pub likely_consequences: String,
    /// (d) Measures taken or proposed.
    pub measures: String,
    /// Required when submitted more than 72 hours after awareness.
    pub delay_reason: Option<String>,
    /// Information given in phases (Article 33(4)): approximate numbers may follow.
    #[serde(default)]
    pub phased: bool,
}

/// Record the notification made to the supervisory authority; stops the clock.
#[utoipa::path(put, path = "/v1/incidents/{id}/article-33", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = Article33Body,
    security(("api_key" = [])),
    responses((status = 200, body = IncidentResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn article_33(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Article33Body>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let record = Article33Record {
        authority: body.authority,
        submitted_at: body.submitted_at,
        nature: body.nature,
        data_subject_categories: body.data_subject_categories,
        approx_data_subjects: body.approx_data_subjects,
        record_categories: body.record_categories,
        approx_records: body.approx_records,
        contact: body.contact,
        likely_consequences: body.likely_consequences,
        measures: body.measures,
        delay_reason: body.delay_reason,
        phased: body.phased,
    };
    Ok(Json(state.app.record_article_33(&principal, id, record, &context).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerNotificationBody {
    /// The customer (controller) told of the breach.
    #[schema(format = Uuid)]
    pub organization_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub notified_at: OffsetDateTime,
    /// How (`email`, `phone`, …).
    pub channel: String,
}

/// Record that a customer was notified of the breach (Article 33(2), processor to controller).
#[utoipa::path(post, path = "/v1/incidents/{id}/customer-notifications", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = CustomerNotificationBody,
    security(("api_key" = [])),
    responses((status = 200, body = IncidentResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn customer_notification(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CustomerNotificationBody>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let notification = app::CustomerNotification {
        organization_id: body.organization_id,
        notified_at: body.notified_at,
        channel: body.channel,
    };
    let view =
        state.app.record_customer_notification(&principal, id, notification, &context).await?;
    Ok(Json(view.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Article34Body {
    /// `pending`, `not_required` or `required`.
    pub state: String,
    /// Why no communication is needed (for `not_required`, e.g. an Article 34(3) exemption).
    pub reason: Option<String>,
    /// When the data subjects were told (for `required`).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub communicated_at: Option<OffsetDateTime>,
    pub channel: Option<String>,
    #[serde(default)]
    pub subjects_notified: u64,
}

/// Record the Article 34 assessment and the communication to the data subjects.
#[utoipa::path(put, path = "/v1/incidents/{id}/article-34", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = Article34Body,
    security(("api_key" = [])),
    responses((status = 200, body = IncidentResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn article_34(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Article34Body>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let record = match body.state.as_str() {
        "pending" => Article34Record::Pending,
        "not_required" => Article34Record::NotRequired { reason: body.reason.unwrap_or_default() },
        "required" => Article34Record::Required {
            communicated_at: body.communicated_at,
            channel: body.channel,
            subjects_notified: body.subjects_notified,
        },
        _ => return Err(bad_input("state must be pending, not_required or required")),
    };
    Ok(Json(state.app.set_article_34(&principal, id, record, &context).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewActionBody {
    pub description: String,
    pub owner: String,
    /// `YYYY-MM-DD`.
    #[serde(with = "body_date")]
    #[schema(value_type = String, format = Date)]
    pub due: Date,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    #[serde(default)]
    pub causes: Vec<String>,
    #[serde(default)]
    pub lessons: Vec<String>,
    #[serde(default)]
    pub actions: Vec<ReviewActionBody>,
}

/// Record the post-incident review (causes, lessons, actions with owners and due dates).
#[utoipa::path(put, path = "/v1/incidents/{id}/review", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = ReviewBody,
    security(("api_key" = [])),
    responses((status = 200, body = IncidentResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn review(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let review = ReviewRecord {
        causes: body.causes,
        lessons: body.lessons,
        actions: body
            .actions
            .into_iter()
            .map(|action| app::ReviewActionRecord {
                description: action.description,
                owner: action.owner,
                due: action.due,
            })
            .collect(),
    };
    Ok(Json(state.app.record_incident_review(&principal, id, review, &context).await?.into()))
}
