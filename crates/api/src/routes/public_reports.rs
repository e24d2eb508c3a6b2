//! Reporting to the security team from outside, without an account: `security.txt`
//! (RFC 9116), the public report endpoint (JSON at `/v1/public/reports`, a plain HTML form at
//! `/report`), the reporter's status check, and the team's triage queue
//! (`/v1/public-reports`).
//!
//! Report content is plain text: the JSON answers carry it as JSON strings, and the HTML
//! pages escape every value they show.

use app::{IncidentSeverity, ReportInput};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use store::PublicReportRecord;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};
use crate::routes::incidents::IncidentResponse;

/// The largest form body accepted, bytes (every field's cap, plus encoding overhead).
const MAX_FORM_BYTES: usize = 64 * 1024;

fn bad_input(detail: impl Into<String>) -> ApiError {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_input", detail).into()
}

/// The 413 problem of a field over its cap.
fn check_caps(input: &ReportInput) -> Result<(), ApiError> {
    match app::oversized_report_field(input) {
        Some(oversized) => Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("{} is larger than {} bytes", oversized.field, oversized.max_bytes),
        )
        .into()),
        None => Ok(()),
    }
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\
         <body><main>\n<h1>{}</h1>\n{body}\n</main></body></html>\n",
        escape_html(title),
        escape_html(title),
    );
    let mut response =
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
    // The form posts to this origin only; nothing else may load or run.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    response
}

/// The deployment's `security.txt` (RFC 9116), while it is valid.
#[utoipa::path(get, path = "/.well-known/security.txt", tag = "incidents",
    responses((status = 200, body = String, content_type = "text/plain"),
        (status = 404, body = Problem)))]
pub async fn security_txt(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let text = state.app.security_txt().ok_or_else(|| {
        ApiError::from(Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no security.txt is published",
        ))
    })?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text)
        .into_response())
}

/// A report to the security team.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// At most 200 bytes.
    #[serde(default)]
    pub subject: String,
    /// Plain text, at most 16 KiB.
    #[serde(default)]
    pub body: String,
    /// How to reach the reporter (optional), at most 320 bytes.
    #[serde(default)]
    pub contact: String,
}

impl From<ReportBody> for ReportInput {
    fn from(body: ReportBody) -> Self {
        Self { subject: body.subject, body: body.body, contact: body.contact }
    }
}

/// The reporter's receipt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptResponse {
    /// Keep it: the only way to read the report's status (shown once).
    pub reference: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: OffsetDateTime,
    /// Where the status can be read.
    pub status_url: String,
}

/// Report a security problem (no account needed; rate-limited per address and globally).
#[utoipa::path(post, path = "/v1/public/reports", tag = "incidents", request_body = ReportBody,
    responses((status = 201, body = ReceiptResponse), (status = 400, body = Problem),
        (status = 413, body = Problem), (status = 429, body = Problem)))]
pub async fn submit(
    State(state): State<ApiState>,
    Context(context): Context,
    ApiJson(body): ApiJson<ReportBody>,
) -> Result<(StatusCode, Json<ReceiptResponse>), ApiError> {
    let input = ReportInput::from(body);
    check_caps(&input)?;
    let receipt = state.app.submit_public_report(input, &context).await?;
    let status_url = format!("/v1/public/reports/{}", receipt.reference);
    Ok((
        StatusCode::CREATED,
        Json(ReceiptResponse {
            reference: receipt.reference,
            received_at: receipt.received_at,
            status_url,
        }),
    ))
}

/// What the reporter may read back.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportStatusResponse {
    /// `received`, `dismissed` or `accepted` (an incident was opened).
    pub state: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<OffsetDateTime>,
}

/// The status of a report, by the reference its reporter was given.
#[utoipa::path(get, path = "/v1/public/reports/{reference}", tag = "incidents",
    params(("reference" = String, Path)),
    responses((status = 200, body = ReportStatusResponse), (status = 404, body = Problem)))]
pub async fn status(
    State(state): State<ApiState>,
    ApiPath(reference): ApiPath<String>,
) -> Result<Json<ReportStatusResponse>, ApiError> {
    let status = state.app.public_report_status(&reference).await?;
    Ok(Json(ReportStatusResponse {
        state: status.state.to_owned(),
        received_at: status.received_at,
        updated_at: status.updated_at,
    }))
}

const FORM: &str = "<p>Tell the security team about a vulnerability or an incident. \
    Plain text only; keep the reference you get to check the status.</p>\n\
    <form method=\"post\" action=\"/report\" accept-charset=\"utf-8\">\n\
    <p><label>Subject<br><input name=\"subject\" maxlength=\"200\" required></label></p>\n\
    <p><label>What happened<br><textarea name=\"body\" rows=\"12\" cols=\"72\" \
    maxlength=\"16384\" required></textarea></label></p>\n\
    <p><label>Contact (optional)<br><input name=\"contact\" maxlength=\"320\"></label></p>\n\
    <p><button type=\"submit\">Send</button></p>\n</form>";

/// The report form (plain HTML, no script).
#[utoipa::path(get, path = "/report", tag = "incidents",
    responses((status = 200, body = String, content_type = "text/html")))]
pub async fn form() -> Response {
    html_page(StatusCode::OK, "Report a security problem", FORM)
}

#[derive(Debug, Default, Deserialize)]
struct FormFields {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    contact: String,
}

fn form_problem(status: StatusCode, message: &str) -> Response {
    html_page(status, "Report not sent", &format!("<p>{}</p>", escape_html(message)))
}

/// Send the form (`application/x-www-form-urlencoded`); answers an HTML page with the
/// reference, or with what was wrong.
#[utoipa::path(post, path = "/report", tag = "incidents",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, body = String, content_type = "text/html"),
        (status = 400, body = String, content_type = "text/html"),
        (status = 413, body = String, content_type = "text/html"),
        (status = 415, body = String, content_type = "text/html"),
        (status = 429, body = String, content_type = "text/html")))]
pub async fn submit_form(
    State(state): State<ApiState>,
    Context(context): Context,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return form_problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the form as application/x-www-form-urlencoded",
        );
    }
    if body.len() > MAX_FORM_BYTES {
        return form_problem(StatusCode::PAYLOAD_TOO_LARGE, "the report is too large");
    }
    let Ok(fields) = serde_urlencoded::from_bytes::<FormFields>(&body) else {
        return form_problem(StatusCode::BAD_REQUEST, "the form could not be read");
    };
    let input = ReportInput { subject: fields.subject, body: fields.body, contact: fields.contact };
    if let Some(oversized) = app::oversized_report_field(&input) {
        let message = format!("{} is larger than {} bytes", oversized.field, oversized.max_bytes);
        return form_problem(StatusCode::PAYLOAD_TOO_LARGE, &message);
    }
    let subject = input.subject.trim().to_owned();
    match state.app.submit_public_report(input, &context).await {
        Ok(receipt) => {
            let page = format!(
                "<p>Thank you. Your report <q>{}</q> was received.</p>\n\
                 <p>Your reference (keep it, it is shown only once):</p>\n<pre>{}</pre>\n\
                 <p>Check its status at <code>/v1/public/reports/{}</code>.</p>",
                escape_html(&subject),
                escape_html(&receipt.reference),
                escape_html(&receipt.reference),
            );
            html_page(StatusCode::CREATED, "Report received", &page)
        }
        Err(error) => {
            let problem = ApiError::from(error).into_response();
            let status = problem.status();
            let message = match status {
                StatusCode::TOO_MANY_REQUESTS => "too many reports lately; retry later",
                StatusCode::BAD_REQUEST => "a subject and a description are required",
                _ => "the report could not be stored; retry later",
            };
            form_problem(status, message)
        }
    }
}

/// A report in the triage queue.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicReportResponse {
    #[schema(format = Uuid)]
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: OffsetDateTime,
    /// As sent, plain text: escape it wherever it is shown.
    pub subject: String,
    pub body: String,
    pub contact: String,
    /// `new`, `dismissed` or `opened`.
    pub state: String,
    pub incident_id: Option<Uuid>,
    pub triaged_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub triaged_at: Option<OffsetDateTime>,
    pub note: String,
}

impl From<PublicReportRecord> for PublicReportResponse {
    fn from(report: PublicReportRecord) -> Self {
        Self {
            id: report.id,
            received_at: report.received_at,
            subject: report.subject,
            body: report.body,
            contact: report.contact,
            state: report.state,
            incident_id: report.incident_id,
            triaged_by: report.triaged_by,
            triaged_at: report.triaged_at,
            note: report.note,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `new` (the queue), `dismissed` or `opened`.
    pub state: Option<String>,
    /// At most this many (1 to 500, default 100).
    pub limit: Option<u32>,
}

/// The triage queue of public reports, oldest first.
#[utoipa::path(get, path = "/v1/public-reports", tag = "incidents", params(ReportQuery),
    security(("api_key" = [])),
    responses((status = 200, body = Vec<PublicReportResponse>), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<Vec<PublicReportResponse>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=app::MAX_REPORTS_PER_PAGE).contains(&limit) {
        return Err(bad_input("limit must be between 1 and 500"));
    }
    let reports =
        state.app.list_public_reports(&principal, query.state.as_deref(), limit, &context).await?;
    Ok(Json(reports.into_iter().map(PublicReportResponse::from).collect()))
}

/// One public report.
#[utoipa::path(get, path = "/v1/public-reports/{id}", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = PublicReportResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PublicReportResponse>, ApiError> {
    Ok(Json(state.app.get_public_report(&principal, id, &context).await?.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DismissBody {
    /// Why (spam, duplicate, out of scope…).
    #[serde(default)]
    pub note: String,
}

/// Dismiss a new report.
#[utoipa::path(post, path = "/v1/public-reports/{id}/dismiss", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = DismissBody,
    security(("api_key" = [])),
    responses((status = 200, body = PublicReportResponse), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn dismiss(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<DismissBody>,
) -> Result<Json<PublicReportResponse>, ApiError> {
    Ok(Json(state.app.dismiss_public_report(&principal, id, &body.note, &context).await?.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenFromReportBody {
    /// Default: the report's subject.
    pub title: Option<String>,
    /// `SEV1` to `SEV4` (default `SEV3`).
    pub severity: Option<String>,
}

/// Open an incident from a new report; the incident links the report and the report the
/// incident.
#[utoipa::path(post, path = "/v1/public-reports/{id}/incident", tag = "incidents",
    params(("id" = String, Path, format = Uuid)), request_body = OpenFromReportBody,
    security(("api_key" = [])),
    responses((status = 201, body = IncidentResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn open_incident(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<OpenFromReportBody>,
) -> Result<(StatusCode, Json<IncidentResponse>), ApiError> {
    let severity: Option<IncidentSeverity> = body
        .severity
        .as_deref()
        .map(|text| {
            app::parse_severity(text)
                .ok_or_else(|| bad_input("severity must be SEV1, SEV2, SEV3 or SEV4"))
        })
        .transpose()?;
    let view =
        state.app.open_incident_from_report(&principal, id, body.title, severity, &context).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}
