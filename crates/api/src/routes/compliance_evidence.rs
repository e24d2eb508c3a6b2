//! Policy acknowledgements (`/v1/organizations/{id}/policy-acknowledgements/{policy_id}`), the
//! risk matrix (`/v1/organizations/{id}/risk-matrix`), manual evidence
//! (`/v1/organizations/{id}/manual-evidence`) and the public trust page (`/trust`,
//! `/trust.json`).

use app::{EvidenceFile, EvidenceInput, ManualEvidenceView, RiskMatrix, TrustFormat};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base::OrganizationId;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

fn bad_date(field: &str, text: &str) -> ApiError {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_input",
        format!("{field}: expected a date as YYYY-MM-DD; got {text:?}"),
    )
    .into()
}

fn date_of(field: &str, text: &str) -> Result<Date, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), format).map_err(|_| bad_date(field, text))
}

fn optional_date(field: &str, text: Option<&str>) -> Result<Option<Date>, ApiError> {
    text.filter(|text| !text.trim().is_empty()).map(|text| date_of(field, text)).transpose()
}

// ---------------------------------------------------------------------------------------------
// Policy acknowledgements
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct AcknowledgementResponse {
    pub policy_id: String,
    pub title: String,
    pub version: String,
    pub user_id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub acknowledged_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcknowledgedBy {
    pub user_id: String,
    pub email: String,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcknowledgementsResponse {
    pub policy_id: String,
    pub title: String,
    /// The current version; acknowledgements of earlier versions do not count.
    pub version: String,
    pub acknowledged: Vec<AcknowledgedBy>,
    pub pending: Vec<AcknowledgedBy>,
}

/// Acknowledge, for yourself, the current version of a policy of your organisation.
#[utoipa::path(post, path = "/v1/organizations/{id}/policy-acknowledgements/{policy_id}",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("policy_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = AcknowledgementResponse), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn acknowledge_policy(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, policy_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Json<AcknowledgementResponse>, ApiError> {
    let ack =
        state.app.acknowledge_policy(&principal, organization_id, policy_id, &context).await?;
    Ok(Json(AcknowledgementResponse {
        policy_id: ack.policy_id.to_string(),
        title: ack.title,
        version: ack.version,
        user_id: ack.user_id.to_string(),
        acknowledged_at: ack.acknowledged_at,
    }))
}

/// Who among the organisation's active users has and has not acknowledged the current
/// version of a policy.
#[utoipa::path(get, path = "/v1/organizations/{id}/policy-acknowledgements/{policy_id}",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("policy_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = AcknowledgementsResponse), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn policy_acknowledgements(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, policy_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Json<AcknowledgementsResponse>, ApiError> {
    let status =
        state.app.policy_acknowledgements(&principal, organization_id, policy_id, &context).await?;
    Ok(Json(AcknowledgementsResponse {
        policy_id: status.policy_id.to_string(),
        title: status.title,
        version: status.version,
        acknowledged: status
            .acknowledged
            .into_iter()
            .map(|(user_id, email, at)| AcknowledgedBy {
                user_id: user_id.to_string(),
                email,
                acknowledged_at: Some(at),
            })
            .collect(),
        pending: status
            .pending
            .into_iter()
            .map(|(user_id, email)| AcknowledgedBy {
                user_id: user_id.to_string(),
                email,
                acknowledged_at: None,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Risk matrix
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsBody {
    /// The lowest score that is medium.
    pub medium: u32,
    pub high: u32,
    pub critical: u32,
}

/// Labels of likelihood and impact from 1 up (2 to 10 each), and the score thresholds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskMatrixBody {
    pub likelihood: Vec<String>,
    pub impact: Vec<String>,
    pub thresholds: ThresholdsBody,
}

impl From<RiskMatrix> for RiskMatrixBody {
    fn from(matrix: RiskMatrix) -> Self {
        Self {
            likelihood: matrix.likelihood,
            impact: matrix.impact,
            thresholds: ThresholdsBody {
                medium: matrix.thresholds.medium,
                high: matrix.thresholds.high,
                critical: matrix.thresholds.critical,
            },
        }
    }
}

/// The organisation's risk matrix (5 × 5 by default).
#[utoipa::path(get, path = "/v1/organizations/{id}/risk-matrix", tag = "compliance",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = RiskMatrixBody), (status = 403, body = Problem)))]
pub async fn risk_matrix(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<RiskMatrixBody>, ApiError> {
    Ok(Json(state.app.risk_matrix(&principal, organization_id, &context).await?.into()))
}

/// Replace the organisation's risk matrix; refused (409) while a risk falls outside it.
#[utoipa::path(put, path = "/v1/organizations/{id}/risk-matrix", tag = "compliance",
    params(("id" = String, Path, format = Uuid)), request_body = RiskMatrixBody,
    security(("api_key" = [])),
    responses((status = 200, body = RiskMatrixBody), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn set_risk_matrix(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<RiskMatrixBody>,
) -> Result<Json<RiskMatrixBody>, ApiError> {
    let matrix = RiskMatrix {
        likelihood: body.likelihood,
        impact: body.impact,
        thresholds: app::RiskThresholds {
            medium: body.thresholds.medium,
            high: body.thresholds.high,
            critical: body.thresholds.critical,
        },
    };
    Ok(Json(
        state.app.set_risk_matrix(&principal, organization_id, &matrix, &context).await?.into(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Manual evidence
// ---------------------------------------------------------------------------------------------

/// A piece of manual evidence: `url` for a link; files are uploaded to
/// `…/manual-evidence/files`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBody {
    pub title: String,
    /// The annex measure it supports (`asset.workplace`).
    pub measure_id: String,
    /// An Annex A control (`7.4`).
    pub control_id: Option<String>,
    /// A check it stands in for.
    pub check_id: Option<String>,
    /// An `https://` link (required for a link, refused for a file).
    pub url: Option<String>,
    /// `YYYY-MM-DD`.
    pub observed_on: String,
    /// `YYYY-MM-DD`: stale from this day.
    pub expires_on: Option<String>,
}

impl EvidenceBody {
    fn input(self) -> Result<EvidenceInput, ApiError> {
        Ok(EvidenceInput {
            observed_on: date_of("observed_on", &self.observed_on)?,
            expires_on: optional_date("expires_on", self.expires_on.as_deref())?,
            title: self.title,
            measure_id: self.measure_id,
            control_id: self.control_id.filter(|text| !text.trim().is_empty()),
            check_id: self.check_id.filter(|text| !text.trim().is_empty()),
            url: self.url.filter(|text| !text.trim().is_empty()),
        })
    }
}

/// The description of an uploaded file, in the query string.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EvidenceFileQuery {
    pub title: String,
    pub measure_id: String,
    pub control_id: Option<String>,
    pub check_id: Option<String>,
    pub file_name: String,
    /// `YYYY-MM-DD`.
    pub observed_on: String,
    /// `YYYY-MM-DD`.
    pub expires_on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceResponse {
    pub id: String,
    pub title: String,
    pub measure_id: String,
    pub control_id: Option<String>,
    pub check_id: Option<String>,
    /// `file` or `link`.
    pub kind: String,
    pub url: Option<String>,
    pub file_name: Option<String>,
    pub media_type: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// `YYYY-MM-DD`.
    pub observed_on: String,
    pub expires_on: Option<String>,
    /// The expiry has passed: it no longer counts.
    pub stale: bool,
    /// Who added it (a user or application id).
    pub added_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<ManualEvidenceView> for EvidenceResponse {
    fn from(view: ManualEvidenceView) -> Self {
        let record = view.record;
        Self {
            id: record.id.to_string(),
            title: record.title,
            measure_id: record.measure_id,
            control_id: record.control_id,
            check_id: record.check_id,
            kind: record.kind,
            url: record.url,
            file_name: record.file_name,
            media_type: record.media_type,
            sha256: record.sha256,
            size: record.size,
            observed_on: record.observed_on.to_string(),
            expires_on: record.expires_on.map(|date| date.to_string()),
            stale: view.stale,
            added_by: record.added_by,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// Add a link as evidence.
#[utoipa::path(post, path = "/v1/organizations/{id}/manual-evidence", tag = "compliance",
    params(("id" = String, Path, format = Uuid)), request_body = EvidenceBody,
    security(("api_key" = [])),
    responses((status = 201, body = EvidenceResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn add_link(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<EvidenceBody>,
) -> Result<(StatusCode, Json<EvidenceResponse>), ApiError> {
    let input = body.input()?;
    let view =
        state.app.add_manual_evidence(&principal, organization_id, &input, None, &context).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// Upload a file as evidence: the body is the file (at most 10 MiB, and at most the server's
/// request body limit); its description is in the query string.
#[utoipa::path(post, path = "/v1/organizations/{id}/manual-evidence/files", tag = "compliance",
    params(("id" = String, Path, format = Uuid), EvidenceFileQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("api_key" = [])),
    responses((status = 201, body = EvidenceResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem)))]
pub async fn upload_file(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<EvidenceFileQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<EvidenceResponse>), ApiError> {
    let body = body.map_err(|_| {
        ApiError::from(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the file is larger than the server accepts",
        ))
    })?;
    let input = EvidenceInput {
        observed_on: date_of("observed_on", &query.observed_on)?,
        expires_on: optional_date("expires_on", query.expires_on.as_deref())?,
        title: query.title,
        measure_id: query.measure_id,
        control_id: query.control_id.filter(|text| !text.trim().is_empty()),
        check_id: query.check_id.filter(|text| !text.trim().is_empty()),
        url: None,
    };
    let file = EvidenceFile { file_name: query.file_name, content: body.to_vec() };
    let view = state
        .app
        .add_manual_evidence(&principal, organization_id, &input, Some(file), &context)
        .await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// The organisation's manual evidence, oldest first.
#[utoipa::path(get, path = "/v1/organizations/{id}/manual-evidence", tag = "compliance",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<EvidenceResponse>), (status = 403, body = Problem)))]
pub async fn list_evidence(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<Vec<EvidenceResponse>>, ApiError> {
    let views = state.app.list_manual_evidence(&principal, organization_id, &context).await?;
    Ok(Json(views.into_iter().map(Into::into).collect()))
}

/// One piece of manual evidence.
#[utoipa::path(get, path = "/v1/organizations/{id}/manual-evidence/{evidence_id}",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("evidence_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = EvidenceResponse), (status = 404, body = Problem)))]
pub async fn get_evidence(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Json<EvidenceResponse>, ApiError> {
    Ok(Json(state.app.get_manual_evidence(&principal, organization_id, id, &context).await?.into()))
}

/// Replace what a piece of evidence says (a file's content stays).
#[utoipa::path(put, path = "/v1/organizations/{id}/manual-evidence/{evidence_id}",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("evidence_id" = String, Path, format = Uuid)),
    request_body = EvidenceBody, security(("api_key" = [])),
    responses((status = 200, body = EvidenceResponse), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn update_evidence(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, Uuid)>,
    ApiJson(body): ApiJson<EvidenceBody>,
) -> Result<Json<EvidenceResponse>, ApiError> {
    let input = body.input()?;
    let view =
        state.app.update_manual_evidence(&principal, organization_id, id, &input, &context).await?;
    Ok(Json(view.into()))
}

/// Delete a piece of evidence.
#[utoipa::path(delete, path = "/v1/organizations/{id}/manual-evidence/{evidence_id}",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("evidence_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_evidence(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_manual_evidence(&principal, organization_id, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Download an evidence file, as an attachment of its sniffed type (never HTML).
#[utoipa::path(get, path = "/v1/organizations/{id}/manual-evidence/{evidence_id}/content",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("evidence_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 404, body = Problem)))]
pub async fn download_evidence(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Response, ApiError> {
    let (record, content) =
        state.app.download_manual_evidence(&principal, organization_id, id, &context).await?;
    let media_type = record
        .media_type
        .filter(|media_type| !media_type.contains("html"))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let file_name: String = record
        .file_name
        .unwrap_or_else(|| "evidence".to_owned())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    let marking = state.app.export_marking(organization_id, "annex", None).await?;
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, media_type),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (crate::routes::CLASSIFICATION_HEADER, marking.header_value()),
        ],
        content,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if let Some(sha256) = record.sha256.and_then(|hex| header::HeaderValue::from_str(&hex).ok()) {
        response.headers_mut().insert(header::HeaderName::from_static("rampart-sha256"), sha256);
    }
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Trust page
// ---------------------------------------------------------------------------------------------

/// The provider's trust page (public, no authentication): current certifications, public
/// sub-processors, the security contact and the changes page.
#[utoipa::path(get, path = "/trust", tag = "compliance",
    responses((status = 200, body = String, content_type = "text/html")))]
pub async fn trust_page(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let page = state.app.trust_page(TrustFormat::Html).await?;
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page)
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    Ok(response)
}

/// The trust page as JSON (public, no authentication).
#[utoipa::path(get, path = "/trust.json", tag = "compliance",
    responses((status = 200, body = Object)))]
pub async fn trust_json(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let body = state.app.trust_page(TrustFormat::Json).await?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}
