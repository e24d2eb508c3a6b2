//! Events sent to an organisation for detection (`/v1/organizations/{id}/events`): NDJSON
//! batches in, searches out.

use app::{EventPage, EventSearch, IngestReport, IntakeSource};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base::OrganizationId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use crate::ApiState;
use crate::extract::{ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

/// The line problems a batch answer lists; `rejected` counts them all.
const MAX_LISTED_PROBLEMS: usize = 100;
/// Media types of an NDJSON body.
const NDJSON_TYPES: &[&str] =
    &["application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"];

fn bad_input(detail: impl Into<String>) -> ApiError {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_input", detail).into()
}

/// Where a batch's events come from, in Sigma logsource terms.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IntakeQuery {
    /// Sigma `product` of the events (`linux`, `aws`, …); lower-case a-z, 0-9, `_`, `-`.
    pub product: Option<String>,
    /// Sigma `service`.
    pub service: Option<String>,
    /// Sigma `category`.
    pub category: Option<String>,
}

/// A line that was not stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LineProblemResponse {
    /// 1-based line number in the body.
    pub line: usize,
    pub reason: String,
}

/// What became of a batch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IngestResponse {
    /// Events stored (and queued for the rules).
    pub accepted: u64,
    /// Lines refused.
    pub rejected: usize,
    /// The refused lines, in order (the first 100).
    pub problems: Vec<LineProblemResponse>,
    /// Numbers given to the stored events: `first_seq` up to, not including, `end_seq`.
    pub first_seq: u64,
    pub end_seq: u64,
}

impl From<IngestReport> for IngestResponse {
    fn from(report: IngestReport) -> Self {
        Self {
            accepted: report.accepted,
            rejected: report.rejected.len(),
            problems: report
                .rejected
                .iter()
                .take(MAX_LISTED_PROBLEMS)
                .map(|error| LineProblemResponse {
                    line: error.line,
                    reason: error.problem.to_string(),
                })
                .collect(),
            first_seq: report.first_seq,
            end_seq: report.end_seq,
        }
    }
}

/// A refusal to wait: 429 with `Retry-After`.
fn throttled(retry_after_seconds: u64, detail: String) -> Response {
    let mut response =
        Problem::new(StatusCode::TOO_MANY_REQUESTS, "throttled", detail).into_response();
    if let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Send events: one JSON object per line. Bad lines are reported with their number and the
/// others are stored; Windows events in the `evtx_dump` JSON shape are routed by channel and
/// event id, others by the query's logsource. 429 with `Retry-After` when the intake is full.
#[utoipa::path(post, path = "/v1/organizations/{id}/events", tag = "detection",
    params(("id" = String, Path, format = Uuid), IntakeQuery), security(("api_key" = [])),
    request_body(content = String, content_type = "application/x-ndjson"),
    responses((status = 200, body = IngestResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 429, body = Problem)))]
pub async fn ingest(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<IntakeQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    if !media_type.as_deref().is_some_and(|media_type| NDJSON_TYPES.contains(&media_type)) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the events as NDJSON with `content-type: application/x-ndjson`",
        )
        .into());
    }
    let limit = state.app.intake_settings().limits.max_batch_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a batch holds at most {limit} bytes; split it"),
        )
        .into());
    };
    let source =
        IntakeSource { product: query.product, service: query.service, category: query.category };
    match state.app.ingest_events(&principal, organization_id, &source, &bytes, &context).await {
        Ok(report) => Ok((StatusCode::OK, Json(IngestResponse::from(report))).into_response()),
        Err(app::AppError::Throttled { retry_after_seconds }) => Ok(throttled(
            retry_after_seconds,
            format!(
                "the event intake is full; nothing was stored: retry after {retry_after_seconds} seconds"
            ),
        )),
        Err(error) => Err(error.into()),
    }
}

/// A stored event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventResponse {
    /// Its number in the organisation.
    pub seq: u64,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: OffsetDateTime,
    pub product: Option<String>,
    pub service: Option<String>,
    pub categories: Vec<String>,
    /// The event as it was sent.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
}

/// A page of matching events.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventPageResponse {
    /// Newest first.
    pub events: Vec<EventResponse>,
    /// Stored events read to answer (at most 20,000 per call).
    pub scanned: u64,
    /// Pass as `before` to continue with older events; null when none remain.
    pub next_before: Option<u64>,
}

impl From<EventPage> for EventPageResponse {
    fn from(page: EventPage) -> Self {
        Self {
            events: page
                .events
                .into_iter()
                .map(|event| EventResponse {
                    seq: event.seq,
                    time: event.time,
                    received_at: event.received_at,
                    product: event.product,
                    service: event.service,
                    categories: event.categories,
                    fields: event.fields,
                })
                .collect(),
            scanned: page.scanned,
            next_before: page.next_before,
        }
    }
}

/// The parameters of a search; `match` may be repeated.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// Events that happened at or after this RFC 3339 time.
    pub from: Option<String>,
    /// Events that happened before this RFC 3339 time.
    pub to: Option<String>,
    /// `field=value`: the field (a dotted path such as `actor.user.name`, or a member name)
    /// equals the value exactly; repeat for several conditions (at most 8), all of which hold.
    #[serde(rename = "match")]
    pub matches: Option<String>,
    /// Continue below this event number (the previous page's `next_before`).
    pub before: Option<u64>,
    /// At most this many (1 to 500, default 100).
    pub limit: Option<u32>,
}

fn parse_time(name: &str, text: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| bad_input(format!("{name} must be an RFC 3339 time")))
}

/// Search the events sent to the organisation, newest first, by time range and
/// `field=value`.
#[utoipa::path(get, path = "/v1/organizations/{id}/events", tag = "detection",
    params(("id" = String, Path, format = Uuid), SearchQuery), security(("api_key" = [])),
    responses((status = 200, body = EventPageResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn search(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<EventPageResponse>, ApiError> {
    let mut search = EventSearch { limit: 100, ..EventSearch::default() };
    let mut seen = std::collections::HashSet::new();
    for (name, value) in pairs {
        if name != "match" && !seen.insert(name.clone()) {
            return Err(bad_input(format!("{name} is given more than once")));
        }
        match name.as_str() {
            "from" => search.from = Some(parse_time("from", &value)?),
            "to" => search.to = Some(parse_time("to", &value)?),
            "before" => {
                search.before =
                    Some(value.parse().map_err(|_| bad_input("before must be an event number"))?);
            }
            "limit" => {
                let limit: u32 = value.parse().unwrap_or(0);
                if !(1..=app::MAX_EVENTS_PER_PAGE).contains(&limit) {
                    return Err(bad_input(format!(
                        "limit must be 1 to {}",
                        app::MAX_EVENTS_PER_PAGE
                    )));
                }
                search.limit = limit;
            }
            "match" => {
                let Some((field, expected)) = value.split_once('=') else {
                    return Err(bad_input("match must be field=value"));
                };
                if field.is_empty() || field.len() > 256 || expected.len() > 4096 {
                    return Err(bad_input(
                        "match needs a field of 1 to 256 characters and a value of at most 4096",
                    ));
                }
                search.matches.push((field.to_owned(), expected.to_owned()));
            }
            other => return Err(bad_input(format!("unknown query parameter `{other}`"))),
        }
    }
    let page = state.app.search_events(&principal, organization_id, &search, &context).await?;
    Ok(Json(page.into()))
}
