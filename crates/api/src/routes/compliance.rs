//! The compliance registers (`/v1/organizations/{id}/compliance/{register}`), the evidence
//! checks and their history, and the live annex (`/v1/report/tom`).

use app::{AnnexFormat, RecordInput, RecordView, RegisterKind};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base::OrganizationId;
use report::evidence::CheckResult;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

fn register_of(text: &str) -> Result<RegisterKind, ApiError> {
    RegisterKind::parse(text).ok_or_else(|| {
        let known: Vec<&str> = RegisterKind::ALL.iter().map(|kind| kind.as_str()).collect();
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no register {text:?}; the registers are {}", known.join(", ")),
        )
        .into()
    })
}

/// A register record as sent by a client; `document` follows the register's schema
/// (see docs/compliance.md).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    #[serde(default)]
    pub title: String,
    /// The accountable user: id or email.
    pub owner: Option<String>,
    /// `YYYY-MM-DD`.
    pub review_due: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

impl RecordBody {
    fn input(self) -> Result<RecordInput, ApiError> {
        let review_due = self
            .review_due
            .as_deref()
            .filter(|text| !text.trim().is_empty())
            .map(|text| {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                time::Date::parse(text.trim(), format).map_err(|_| {
                    ApiError::from(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_input",
                        format!("review_due: expected a date as YYYY-MM-DD; got {text:?}"),
                    ))
                })
            })
            .transpose()?;
        Ok(RecordInput {
            title: self.title,
            owner: self.owner,
            review_due,
            document: self.document,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordResponse {
    pub id: String,
    pub register: String,
    pub title: String,
    pub owner: Option<String>,
    /// `YYYY-MM-DD`.
    pub review_due: Option<String>,
    pub review_overdue: bool,
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// For a risk: `{inherent, residual}`, each `{likelihood, likelihood_label, impact,
    /// impact_label, score, level}` on the organisation's risk matrix.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub risk_assessment: Option<serde_json::Value>,
}

impl From<RecordView> for RecordResponse {
    fn from(view: RecordView) -> Self {
        Self {
            id: view.id.to_string(),
            register: view.register,
            title: view.title,
            owner: view.owner.map(|id| id.to_string()),
            review_due: view.review_due.map(|date| date.to_string()),
            review_overdue: view.review_overdue,
            document: view.document,
            created_at: view.created_at,
            updated_at: view.updated_at,
            risk_assessment: view
                .risk_assessment
                .and_then(|assessment| serde_json::to_value(assessment).ok()),
        }
    }
}

/// Add a record to a register: `policies`, `roles`, `risks`, `applicability`, `people`,
/// `audits`, `certifications`, `subprocessors`, `dpias`, `changes` or `continuity`.
#[utoipa::path(post, path = "/v1/organizations/{id}/compliance/{register}", tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("register" = String, Path)),
    request_body = RecordBody, security(("api_key" = [])),
    responses((status = 201, body = RecordResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn create(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, register)): ApiPath<(OrganizationId, String)>,
    ApiJson(body): ApiJson<RecordBody>,
) -> Result<(StatusCode, Json<RecordResponse>), ApiError> {
    let register = register_of(&register)?;
    let input = body.input()?;
    let view = state
        .app
        .create_compliance_record(&principal, organization_id, register, &input, &context)
        .await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// A register's records, oldest first.
#[utoipa::path(get, path = "/v1/organizations/{id}/compliance/{register}", tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("register" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = Vec<RecordResponse>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, register)): ApiPath<(OrganizationId, String)>,
) -> Result<Json<Vec<RecordResponse>>, ApiError> {
    let register = register_of(&register)?;
    let views =
        state.app.list_compliance_records(&principal, organization_id, register, &context).await?;
    Ok(Json(views.into_iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/v1/organizations/{id}/compliance/{register}/{record_id}",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("register" = String, Path),
        ("record_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = RecordResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, register, record_id)): ApiPath<(OrganizationId, String, Uuid)>,
) -> Result<Json<RecordResponse>, ApiError> {
    let register = register_of(&register)?;
    let view = state
        .app
        .get_compliance_record(&principal, organization_id, register, record_id, &context)
        .await?;
    Ok(Json(view.into()))
}

/// Replace a record (title, owner, review date and document).
#[utoipa::path(put, path = "/v1/organizations/{id}/compliance/{register}/{record_id}",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("register" = String, Path),
        ("record_id" = String, Path, format = Uuid)),
    request_body = RecordBody, security(("api_key" = [])),
    responses((status = 200, body = RecordResponse), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn replace(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, register, record_id)): ApiPath<(OrganizationId, String, Uuid)>,
    ApiJson(body): ApiJson<RecordBody>,
) -> Result<Json<RecordResponse>, ApiError> {
    let register = register_of(&register)?;
    let input = body.input()?;
    let view = state
        .app
        .update_compliance_record(
            &principal,
            organization_id,
            register,
            record_id,
            &input,
            &context,
        )
        .await?;
    Ok(Json(view.into()))
}

#[utoipa::path(delete, path = "/v1/organizations/{id}/compliance/{register}/{record_id}",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("register" = String, Path),
        ("record_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, register, record_id)): ApiPath<(OrganizationId, String, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let register = register_of(&register)?;
    state
        .app
        .delete_compliance_record(&principal, organization_id, register, record_id, &context)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A register as CSV; the first line is the export's classification marking, also sent as
/// the `Rampart-Classification` header. The export is audited.
#[utoipa::path(get, path = "/v1/organizations/{id}/compliance/{register}/export",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("register" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = String, content_type = "text/csv")))]
pub async fn export(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, register)): ApiPath<(OrganizationId, String)>,
) -> Result<Response, ApiError> {
    let register = register_of(&register)?;
    let csv =
        state.app.export_compliance_csv(&principal, organization_id, register, &context).await?;
    let marking = csv
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("# classification: "))
        .unwrap_or("")
        .to_owned();
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.csv\"", register.as_str()),
            ),
            (header::HeaderName::from_static("rampart-classification"), marking),
        ],
        csv,
    )
        .into_response())
}

/// Evaluate the evidence checks now from live data; the results are kept as history.
#[utoipa::path(post, path = "/v1/organizations/{id}/evidence/run", tag = "compliance",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Object), (status = 403, body = Problem)))]
pub async fn run_evidence(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Response, ApiError> {
    let results = state.app.run_evidence(&principal, organization_id, &context).await?;
    evidence_answer(&state, organization_id, results).await
}

/// Evidence results are what the annex is made of: they carry the annex's marking.
async fn evidence_answer(
    state: &ApiState,
    organization_id: OrganizationId,
    results: Vec<CheckResult>,
) -> Result<Response, ApiError> {
    let marking = state.app.export_marking(organization_id, "annex", None).await?;
    Ok(crate::routes::marked_json(&marking, results))
}

/// The latest result of every check evaluated (checks absent here are not evidenced).
#[utoipa::path(get, path = "/v1/organizations/{id}/evidence", tag = "compliance",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Object), (status = 403, body = Problem)))]
pub async fn evidence(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Response, ApiError> {
    let results = state.app.latest_evidence(&principal, organization_id, &context).await?;
    evidence_answer(&state, organization_id, results).await
}

/// One check's results, newest first (at most 1,000).
#[utoipa::path(get, path = "/v1/organizations/{id}/evidence/{check_id}/history",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("check_id" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn evidence_history(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, check_id)): ApiPath<(OrganizationId, String)>,
) -> Result<Response, ApiError> {
    let results =
        state.app.evidence_history(&principal, organization_id, &check_id, &context).await?;
    evidence_answer(&state, organization_id, results).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnnexQuery {
    /// `html` (default), `markdown` or `pdf`.
    pub format: Option<String>,
}

async fn annex_response(
    state: &ApiState,
    principal: &app::Principal,
    organization_id: OrganizationId,
    context: &base::RequestContext,
    query: AnnexQuery,
) -> Result<Response, ApiError> {
    let format = match query.format.as_deref().unwrap_or("html") {
        "html" => AnnexFormat::Html,
        "markdown" => AnnexFormat::Markdown,
        "pdf" => AnnexFormat::Pdf,
        other => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                format!("format: expected html, markdown or pdf; got {other:?}"),
            )
            .into());
        }
    };
    let annex = state.app.render_annex(principal, organization_id, format, context).await?;
    let (content_type, extension) = match annex.format {
        AnnexFormat::Html => ("text/html; charset=utf-8", "html"),
        AnnexFormat::Markdown => ("text/markdown; charset=utf-8", "md"),
        AnnexFormat::Pdf => ("application/pdf", "pdf"),
    };
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"tom-annex.{extension}\"")),
            (
                header::HeaderName::from_static("rampart-classification"),
                annex.classification.clone(),
            ),
            (
                header::HeaderName::from_static("rampart-audit-checkpoint"),
                format!("{} {}", annex.tree_size, annex.root_hash_hex),
            ),
        ],
        annex.body,
    )
        .into_response();
    if annex.format == AnnexFormat::Html {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    Ok(response)
}

/// The live TOM annex of the caller's organisation.
#[utoipa::path(get, path = "/v1/report/tom", tag = "compliance", params(AnnexQuery),
    security(("api_key" = [])),
    responses((status = 200, body = String, content_type = "text/html"),
        (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn annex(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiQuery(query): ApiQuery<AnnexQuery>,
) -> Result<Response, ApiError> {
    let organization_id = principal.organization_id;
    annex_response(&state, &principal, organization_id, &context, query).await
}

/// The live TOM annex of an organisation.
#[utoipa::path(get, path = "/v1/organizations/{id}/report/tom", tag = "compliance",
    params(("id" = String, Path, format = Uuid), AnnexQuery), security(("api_key" = [])),
    responses((status = 200, body = String, content_type = "text/html"),
        (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn organization_annex(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<AnnexQuery>,
) -> Result<Response, ApiError> {
    annex_response(&state, &principal, organization_id, &context, query).await
}

/// The provider's published, customer-impacting changes (public, no authentication).
#[utoipa::path(get, path = "/changes", tag = "compliance",
    responses((status = 200, body = String, content_type = "text/html")))]
pub async fn changes_page(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let page = state.app.public_changes(app::ChangesFormat::Html).await?;
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page)
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    Ok(response)
}

/// The changes page as an Atom feed (public, no authentication).
#[utoipa::path(get, path = "/changes.atom", tag = "compliance",
    responses((status = 200, body = String, content_type = "application/atom+xml")))]
pub async fn changes_feed(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let feed = state.app.public_changes(app::ChangesFormat::Atom).await?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], feed)
        .into_response())
}
