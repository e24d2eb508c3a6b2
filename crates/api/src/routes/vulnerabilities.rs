//! Vulnerability management: advisory imports (`/v1/advisories`), SBOMs and components of
//! assets, findings with their triage state, deadlines, trend and the OpenVEX export.

use app::{AdvisoryImport, FindingFilter, FindingView, SbomImport, StateChange, TrendPoint};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base::OrganizationId;
use serde::{Deserialize, Serialize};
use store::{AdvisorySourceRecord, ComponentRecord, SlaRecord};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

fn bad_input(detail: impl Into<String>) -> ApiError {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_input", detail).into()
}

/// The file name of an uploaded file; its extension says how it is read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    /// `advisories.json`, `bundle.zip`, `RUSTSEC-2020-0071.md`, `Cargo.lock`,
    /// `package-lock.json`, `requirements.txt`, `bom.cdx.json`, `status`, ...
    pub name: Option<String>,
}

impl FileQuery {
    fn name(&self) -> Result<&str, ApiError> {
        self.name
            .as_deref()
            .filter(|name| !name.trim().is_empty())
            .ok_or_else(|| bad_input("name: the file name is required (?name=...)"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdvisorySourceResponse {
    pub id: String,
    pub name: String,
    pub sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub imported_at: OffsetDateTime,
    pub imported_by: Option<String>,
    pub loaded: u64,
    pub withdrawn: u64,
    pub duplicates: u64,
    pub errors: u64,
}

impl From<AdvisorySourceRecord> for AdvisorySourceResponse {
    fn from(source: AdvisorySourceRecord) -> Self {
        Self {
            id: source.id.to_string(),
            name: source.name,
            sha256: source.sha256,
            imported_at: source.imported_at,
            imported_by: source.imported_by,
            loaded: source.loaded,
            withdrawn: source.withdrawn,
            duplicates: source.duplicates,
            errors: source.n_errors,
        }
    }
}

/// A file of the import that could not be read.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoadErrorResponse {
    /// The file (or zip member) it came from.
    pub origin: String,
    pub message: String,
}

/// Findings created, reopened and fixed by the matching that followed an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct RematchResponse {
    pub created: u64,
    pub reopened: u64,
    pub fixed: u64,
}

impl From<app::RematchCounts> for RematchResponse {
    fn from(counts: app::RematchCounts) -> Self {
        Self { created: counts.created, reopened: counts.reopened, fixed: counts.fixed }
    }
}

/// The load report of an advisory import.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdvisoryImportResponse {
    pub source: AdvisorySourceResponse,
    pub loaded: u64,
    pub withdrawn: u64,
    pub duplicates: u64,
    pub toolchain_skipped: u64,
    pub errors: Vec<LoadErrorResponse>,
    /// Advisories in the database after the import.
    pub advisories_total: u64,
    pub findings: RematchResponse,
}

impl From<AdvisoryImport> for AdvisoryImportResponse {
    fn from(import: AdvisoryImport) -> Self {
        Self {
            loaded: import.source.loaded,
            withdrawn: import.source.withdrawn,
            duplicates: import.source.duplicates,
            toolchain_skipped: import.toolchain_skipped,
            errors: import
                .errors
                .into_iter()
                .map(|(origin, message)| LoadErrorResponse { origin, message })
                .collect(),
            advisories_total: import.advisories_total,
            findings: import.rematch.into(),
            source: import.source.into(),
        }
    }
}

/// Import an advisory file (OSV JSON or YAML, an osv.dev zip bundle, a RustSec `.md`) as the
/// request body; every asset is matched again. Staff only (`vuln:advisories:write` on the
/// provider organisation).
#[utoipa::path(post, path = "/v1/advisories", tag = "vulnerabilities",
    params(FileQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("api_key" = [])),
    responses((status = 201, body = AdvisoryImportResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn import_advisories(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiQuery(query): ApiQuery<FileQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<AdvisoryImportResponse>), ApiError> {
    let name = query.name()?;
    let import = state.app.import_advisories(&principal, name, &body, &context).await?;
    Ok((StatusCode::CREATED, Json(import.into())))
}

/// The imported advisory sources with their counts, oldest first. Staff only.
#[utoipa::path(get, path = "/v1/advisories", tag = "vulnerabilities",
    security(("api_key" = [])),
    responses((status = 200, body = Vec<AdvisorySourceResponse>), (status = 403, body = Problem)))]
pub async fn list_advisories(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
) -> Result<Json<Vec<AdvisorySourceResponse>>, ApiError> {
    let sources = state.app.list_advisory_sources(&principal, &context).await?;
    Ok(Json(sources.into_iter().map(Into::into).collect()))
}

/// An element of the SBOM that was read but cannot be matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct SbomProblemResponse {
    /// Element path (`package[3]`, `components[1].components[0]`) or `line N`.
    pub location: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SbomImportResponse {
    /// The format detected.
    pub format: String,
    pub components: u64,
    /// Components of the previous SBOM, now replaced.
    pub replaced: u64,
    pub problems: Vec<SbomProblemResponse>,
    pub findings: RematchResponse,
}

impl From<SbomImport> for SbomImportResponse {
    fn from(import: SbomImport) -> Self {
        Self {
            format: import.format,
            components: import.components,
            replaced: import.replaced,
            problems: import
                .problems
                .into_iter()
                .map(|problem| SbomProblemResponse {
                    location: problem.location,
                    message: problem.message,
                })
                .collect(),
            findings: import.rematch.into(),
        }
    }
}

/// Replace the asset's components with those of an SBOM or lockfile (CycloneDX JSON, SPDX
/// JSON, `Cargo.lock`, `package-lock.json`, `requirements.txt`, `dpkg -l` output, dpkg
/// status), sent as the body, and match them against the advisories.
#[utoipa::path(post, path = "/v1/organizations/{id}/assets/{asset_id}/sbom", tag = "vulnerabilities",
    params(("id" = String, Path, format = Uuid), ("asset_id" = String, Path, format = Uuid),
        FileQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("api_key" = [])),
    responses((status = 200, body = SbomImportResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn import_sbom(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, asset_id)): ApiPath<(OrganizationId, Uuid)>,
    ApiQuery(query): ApiQuery<FileQuery>,
    body: Bytes,
) -> Result<Json<SbomImportResponse>, ApiError> {
    let name = query.name()?;
    let import =
        state.app.import_sbom(&principal, organization_id, asset_id, name, &body, &context).await?;
    Ok(Json(import.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentResponse {
    pub id: String,
    /// OSV ecosystem (`crates.io`, `npm`, `PyPI`, `Debian`, ...).
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    pub purl: Option<String>,
    /// `registry`, `other_registry`, `path` or `git`; only registry components are matched.
    pub source: String,
    pub source_location: Option<String>,
    /// Where the SBOM lists it.
    pub location: String,
    /// Why it cannot be matched, when it cannot.
    pub problem: Option<String>,
}

impl From<ComponentRecord> for ComponentResponse {
    fn from(component: ComponentRecord) -> Self {
        Self {
            id: component.id.to_string(),
            ecosystem: component.ecosystem,
            name: component.name,
            version: component.version,
            purl: component.purl,
            source: component.source_kind,
            source_location: component.source_location,
            location: component.location,
            problem: component.problem,
        }
    }
}

/// The asset's components, in SBOM order.
#[utoipa::path(get, path = "/v1/organizations/{id}/assets/{asset_id}/components",
    tag = "vulnerabilities",
    params(("id" = String, Path, format = Uuid), ("asset_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = Vec<ComponentResponse>), (status = 404, body = Problem)))]
pub async fn components(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, asset_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Json<Vec<ComponentResponse>>, ApiError> {
    let components =
        state.app.list_components(&principal, organization_id, asset_id, &context).await?;
    Ok(Json(components.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FindingResponse {
    pub id: String,
    pub asset_id: String,
    /// The vulnerability's id (the ecosystem's own advisory first: RUSTSEC, PYSEC, GHSA, ...).
    pub advisory_id: String,
    pub aliases: Vec<String>,
    /// `ecosystem/name@version`.
    pub component: String,
    pub purl: Option<String>,
    pub summary: String,
    /// `critical`, `high`, `medium`, `low`, `none` or `unknown` (no CVSS vector scored).
    pub severity: String,
    pub cvss_score: Option<f64>,
    pub cvss_vector: Option<String>,
    pub fixed_versions: Vec<String>,
    /// `open`, `in_triage`, `risk_accepted`, `not_affected` or `fixed`.
    pub state: String,
    pub justification: Option<String>,
    pub note: String,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub risk_expires_at: Option<OffsetDateTime>,
    pub approved_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub first_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<OffsetDateTime>,
    /// The remediation deadline.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub due_at: OffsetDateTime,
    /// Open or in triage past the deadline.
    pub overdue: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<FindingView> for FindingResponse {
    fn from(view: FindingView) -> Self {
        let finding = view.finding;
        Self {
            id: finding.id.to_string(),
            asset_id: finding.asset_id.to_string(),
            advisory_id: finding.advisory_id,
            aliases: view.aliases,
            component: finding.component,
            purl: finding.purl,
            summary: finding.summary,
            severity: finding.severity,
            cvss_score: finding.cvss_score,
            cvss_vector: finding.cvss_vector,
            fixed_versions: view.fixed_versions,
            state: finding.state,
            justification: finding.justification,
            note: finding.note,
            risk_expires_at: finding.risk_expires_at,
            approved_by: finding.approved_by,
            first_seen_at: finding.first_seen_at,
            last_seen_at: finding.last_seen_at,
            resolved_at: finding.resolved_at,
            due_at: finding.due_at,
            overdue: view.overdue,
            updated_at: finding.updated_at,
        }
    }
}

/// Filters of the finding list; each narrows it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FindingQuery {
    pub state: Option<String>,
    pub severity: Option<String>,
    pub asset: Option<String>,
    /// `true`: only findings open or in triage past their deadline.
    pub overdue: Option<bool>,
}

const SEVERITIES: [&str; 6] = ["critical", "high", "medium", "low", "none", "unknown"];

impl FindingQuery {
    fn filter(self) -> Result<FindingFilter, ApiError> {
        if let Some(state) = &self.state
            && !app::FINDING_STATES.contains(&state.as_str())
        {
            return Err(bad_input(format!("state: unknown {state:?}")));
        }
        if let Some(severity) = &self.severity
            && !SEVERITIES.contains(&severity.as_str())
        {
            return Err(bad_input(format!("severity: unknown {severity:?}")));
        }
        let asset_id = self
            .asset
            .map(|text| {
                text.parse::<Uuid>()
                    .map_err(|_| bad_input(format!("asset: {text:?} is not an asset id")))
            })
            .transpose()?;
        Ok(FindingFilter {
            state: self.state,
            severity: self.severity,
            asset_id,
            overdue: self.overdue,
        })
    }
}

/// The organisation's findings, oldest first.
#[utoipa::path(get, path = "/v1/organizations/{id}/findings", tag = "vulnerabilities",
    params(("id" = String, Path, format = Uuid), FindingQuery), security(("api_key" = [])),
    responses((status = 200, body = Vec<FindingResponse>), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list_findings(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<FindingQuery>,
) -> Result<Json<Vec<FindingResponse>>, ApiError> {
    let filter = query.filter()?;
    let views = state.app.list_findings(&principal, organization_id, &filter, &context).await?;
    Ok(Json(views.into_iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/v1/organizations/{id}/findings/{finding_id}", tag = "vulnerabilities",
    params(("id" = String, Path, format = Uuid), ("finding_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = FindingResponse), (status = 404, body = Problem)))]
pub async fn get_finding(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, finding_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Json<FindingResponse>, ApiError> {
    let view = state.app.get_finding(&principal, organization_id, finding_id, &context).await?;
    Ok(Json(view.into()))
}

/// A change of a finding's triage state.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateBody {
    /// `open`, `in_triage`, `risk_accepted` or `not_affected`.
    pub state: String,
    /// For `not_affected`: `component_not_present`, `vulnerable_code_not_present`,
    /// `vulnerable_code_not_in_execute_path`,
    /// `vulnerable_code_cannot_be_controlled_by_adversary` or
    /// `inline_mitigations_already_exist`.
    pub justification: Option<String>,
    /// For `risk_accepted`: when the acceptance ends (RFC 3339, at most a year ahead).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub note: String,
}

#[utoipa::path(post, path = "/v1/organizations/{id}/findings/{finding_id}/state",
    tag = "vulnerabilities",
    params(("id" = String, Path, format = Uuid), ("finding_id" = String, Path, format = Uuid)),
    request_body = StateBody, security(("api_key" = [])),
    responses((status = 200, body = FindingResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn change_state(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, finding_id)): ApiPath<(OrganizationId, Uuid)>,
    ApiJson(body): ApiJson<StateBody>,
) -> Result<Json<FindingResponse>, ApiError> {
    let change = StateChange {
        state: body.state,
        justification: body.justification,
        expires_at: body.expires_at,
        note: body.note,
    };
    let view = state
        .app
        .change_finding_state(&principal, organization_id, finding_id, &change, &context)
        .await?;
    Ok(Json(view.into()))
}

/// Days to remediate a finding, by severity (unscored findings count as medium).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaBody {
    pub critical_days: u32,
    pub high_days: u32,
    pub medium_days: u32,
    pub low_days: u32,
}

impl From<SlaRecord> for SlaBody {
    fn from(sla: SlaRecord) -> Self {
        Self {
            critical_days: sla.critical_days,
            high_days: sla.high_days,
            medium_days: sla.medium_days,
            low_days: sla.low_days,
        }
    }
}

#[utoipa::path(get, path = "/v1/organizations/{id}/vulnerability-sla", tag = "vulnerabilities",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = SlaBody)))]
pub async fn get_sla(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<SlaBody>, ApiError> {
    let sla = state.app.vulnerability_sla(&principal, organization_id, &context).await?;
    Ok(Json(sla.into()))
}

/// Set the organisation's deadlines (1 to 3650 days each); unresolved findings take them
/// at once, counted from when each was first seen.
#[utoipa::path(put, path = "/v1/organizations/{id}/vulnerability-sla", tag = "vulnerabilities",
    params(("id" = String, Path, format = Uuid)), request_body = SlaBody,
    security(("api_key" = [])),
    responses((status = 200, body = SlaBody), (status = 400, body = Problem)))]
pub async fn put_sla(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<SlaBody>,
) -> Result<Json<SlaBody>, ApiError> {
    let sla = SlaRecord {
        critical_days: body.critical_days,
        high_days: body.high_days,
        medium_days: body.medium_days,
        low_days: body.low_days,
    };
    let sla = state.app.set_vulnerability_sla(&principal, organization_id, &sla, &context).await?;
    Ok(Json(sla.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TrendQuery {
    /// How many days back, today included (1 to 366, default 30).
    pub days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrendPointResponse {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Findings not fixed nor found not to apply at the end of that day.
    pub open: u64,
}

impl From<TrendPoint> for TrendPointResponse {
    fn from(point: TrendPoint) -> Self {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Self {
            date: point.date.format(format).unwrap_or_else(|_| point.date.to_string()),
            open: point.open,
        }
    }
}

#[utoipa::path(get, path = "/v1/organizations/{id}/vulnerabilities/trend", tag = "vulnerabilities",
    params(("id" = String, Path, format = Uuid), TrendQuery), security(("api_key" = [])),
    responses((status = 200, body = Vec<TrendPointResponse>), (status = 400, body = Problem)))]
pub async fn trend(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<TrendQuery>,
) -> Result<Response, ApiError> {
    let days = query.days.unwrap_or(30);
    let (points, marking) =
        state.app.export_vulnerability_trend(&principal, organization_id, days, &context).await?;
    let points: Vec<TrendPointResponse> = points.into_iter().map(Into::into).collect();
    Ok(crate::routes::marked_json(&marking, points))
}

/// The organisation's findings as an OpenVEX v0.2.0 document, marked with the
/// `Rampart-Classification` header; the export is audited.
#[utoipa::path(get, path = "/v1/organizations/{id}/vulnerabilities/vex", tag = "vulnerabilities",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = String, content_type = "application/json")))]
pub async fn vex(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Response, ApiError> {
    let (document, marking) =
        state.app.export_vulnerability_vex(&principal, organization_id, &context).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::HeaderName::from_static("rampart-classification"), marking.header_value()),
        ],
        document,
    )
        .into_response())
}
