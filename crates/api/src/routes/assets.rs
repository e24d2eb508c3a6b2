//! The asset inventory (`/v1/organizations/{id}/assets`), disposal records, CSV import and
//! export, and device posture.

use app::{AssetFilter, AssetInput, AssetView, DevicePosture, DisposalInput, ImportReport};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base::{OrganizationId, UserId};
use serde::{Deserialize, Serialize};
use store::{Criticality, DisposalRecord, Lifecycle};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

fn bad_input(detail: impl Into<String>) -> ApiError {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_input", detail).into()
}

fn date_text(date: Option<time::Date>) -> Option<String> {
    date.map(|date| {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        date.format(format).unwrap_or_else(|_| date.to_string())
    })
}

/// How an asset relates to another asset or to a category of data.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationBody {
    /// `runs_on`, `depends_on` (with `asset_id`) or `stores_data` (with `data_category`,
    /// a dotted path such as `user.contact.email`).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub asset_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_category: Option<String>,
}

/// An asset as sent by a client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetBody {
    /// The organisation's own identifier (CMDB id, serial number); unique in the organisation.
    pub external_id: Option<String>,
    /// `server`, `virtual_machine`, `container_image`, `application`, `saas_service`,
    /// `database`, `network_device`, `workstation`, `mobile_device` or `site`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The owner, a user of the organisation: user id or email. Required.
    #[serde(default)]
    pub owner: String,
    pub custodian: Option<String>,
    /// `public`, `internal` (default), `confidential` or `restricted`.
    pub classification: Option<String>,
    /// `low`, `medium` (default), `high` or `critical`.
    pub criticality: Option<String>,
    #[serde(default)]
    pub location: String,
    /// `planned`, `in_service` (default), `maintenance` or `retired`.
    pub lifecycle: Option<String>,
    /// `YYYY-MM-DD`.
    pub end_of_support: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub relations: Vec<RelationBody>,
}

impl From<AssetBody> for AssetInput {
    fn from(body: AssetBody) -> Self {
        Self {
            external_id: body.external_id,
            kind: body.kind,
            name: body.name,
            description: body.description,
            owner: body.owner,
            custodian: body.custodian,
            classification: body.classification,
            criticality: body.criticality,
            location: body.location,
            lifecycle: body.lifecycle,
            end_of_support: body.end_of_support,
            tags: body.tags,
            relations: body
                .relations
                .into_iter()
                .map(|relation| app::Relation {
                    kind: relation.kind,
                    asset_id: relation.asset_id,
                    data_category: relation.data_category,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisposalResponse {
    /// `clear`, `purge` or `destroy` (NIST SP 800-88).
    pub method: String,
    /// `YYYY-MM-DD`.
    pub performed_on: String,
    pub performer: String,
    pub witness: String,
    pub certificate_ref: String,
    pub notes: String,
    pub recorded_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: OffsetDateTime,
}

impl From<DisposalRecord> for DisposalResponse {
    fn from(record: DisposalRecord) -> Self {
        Self {
            method: record.method.as_str().to_owned(),
            performed_on: date_text(Some(record.performed_on)).unwrap_or_default(),
            performer: record.performer,
            witness: record.witness,
            certificate_ref: record.certificate_ref,
            notes: record.notes,
            recorded_by: record.recorded_by,
            recorded_at: record.recorded_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssetResponse {
    pub id: String,
    pub external_id: Option<String>,
    pub kind: String,
    pub name: String,
    pub description: String,
    pub owner: String,
    pub custodian: Option<String>,
    pub classification: String,
    pub criticality: String,
    pub location: String,
    pub lifecycle: String,
    pub end_of_support: Option<String>,
    /// Days until the end of support; negative once past.
    pub end_of_support_in_days: Option<i64>,
    pub tags: Vec<String>,
    pub relations: Vec<RelationBody>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// How the asset was erased or destroyed, once disposed of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposal: Option<DisposalResponse>,
}

impl AssetResponse {
    fn of(view: AssetView, disposal: Option<DisposalRecord>) -> Self {
        let asset = view.asset;
        Self {
            id: asset.id.to_string(),
            external_id: asset.external_id,
            kind: asset.kind,
            name: asset.name,
            description: asset.description,
            owner: asset.owner_id.to_string(),
            custodian: asset.custodian_id.map(|id| id.to_string()),
            classification: asset.classification,
            criticality: asset.criticality.as_str().to_owned(),
            location: asset.location,
            lifecycle: asset.lifecycle.as_str().to_owned(),
            end_of_support: date_text(asset.end_of_support),
            end_of_support_in_days: view.end_of_support_in_days,
            tags: view.tags,
            relations: view
                .relations
                .into_iter()
                .map(|relation| RelationBody {
                    kind: relation.kind,
                    asset_id: relation.asset_id,
                    data_category: relation.data_category,
                })
                .collect(),
            created_at: asset.created_at,
            updated_at: asset.updated_at,
            disposal: disposal.map(Into::into),
        }
    }
}

/// Filters of the asset list; each narrows it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AssetQuery {
    pub kind: Option<String>,
    pub lifecycle: Option<String>,
    pub criticality: Option<String>,
    pub classification: Option<String>,
    /// The owner's user id.
    pub owner: Option<String>,
    pub tag: Option<String>,
    /// Case-insensitive part of the name.
    pub q: Option<String>,
    /// End of support within this many days, or past.
    pub end_of_support_within_days: Option<u32>,
}

impl AssetQuery {
    fn filter(self) -> Result<AssetFilter, ApiError> {
        Ok(AssetFilter {
            kind: self.kind,
            lifecycle: self
                .lifecycle
                .map(|text| {
                    Lifecycle::parse(&text)
                        .ok_or_else(|| bad_input(format!("lifecycle: unknown state {text:?}")))
                })
                .transpose()?,
            criticality: self
                .criticality
                .map(|text| {
                    Criticality::parse(&text)
                        .ok_or_else(|| bad_input(format!("criticality: unknown {text:?}")))
                })
                .transpose()?,
            classification: self.classification,
            owner: self
                .owner
                .map(|text| {
                    text.parse::<UserId>()
                        .map_err(|_| bad_input(format!("owner: {text:?} is not a user id")))
                })
                .transpose()?,
            tag: self.tag,
            name_contains: self.q,
            end_of_support_within_days: self.end_of_support_within_days,
        })
    }
}

/// Add an asset to the inventory.
#[utoipa::path(post, path = "/v1/organizations/{id}/assets", tag = "assets",
    params(("id" = String, Path, format = Uuid)), request_body = AssetBody,
    security(("api_key" = [])),
    responses((status = 201, body = AssetResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn create(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<AssetBody>,
) -> Result<(StatusCode, Json<AssetResponse>), ApiError> {
    let view = state.app.create_asset(&principal, organization_id, &body.into(), &context).await?;
    Ok((StatusCode::CREATED, Json(AssetResponse::of(view, None))))
}

/// The organisation's assets, oldest first, filtered.
#[utoipa::path(get, path = "/v1/organizations/{id}/assets", tag = "assets",
    params(("id" = String, Path, format = Uuid), AssetQuery), security(("api_key" = [])),
    responses((status = 200, body = Vec<AssetResponse>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<AssetQuery>,
) -> Result<Json<Vec<AssetResponse>>, ApiError> {
    let filter = query.filter()?;
    let views = state.app.list_assets(&principal, organization_id, &filter, &context).await?;
    Ok(Json(views.into_iter().map(|view| AssetResponse::of(view, None)).collect()))
}

#[utoipa::path(get, path = "/v1/organizations/{id}/assets/{asset_id}", tag = "assets",
    params(("id" = String, Path, format = Uuid), ("asset_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 200, body = AssetResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, asset_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<Json<AssetResponse>, ApiError> {
    let (view, disposal) =
        state.app.get_asset(&principal, organization_id, asset_id, &context).await?;
    Ok(Json(AssetResponse::of(view, disposal)))
}

/// Replace an asset's description. Lifecycle changes follow planned → in_service ⇄
/// maintenance → retired; disposal has its own endpoint.
#[utoipa::path(put, path = "/v1/organizations/{id}/assets/{asset_id}", tag = "assets",
    params(("id" = String, Path, format = Uuid), ("asset_id" = String, Path, format = Uuid)),
    request_body = AssetBody, security(("api_key" = [])),
    responses((status = 200, body = AssetResponse), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn replace(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, asset_id)): ApiPath<(OrganizationId, Uuid)>,
    ApiJson(body): ApiJson<AssetBody>,
) -> Result<Json<AssetResponse>, ApiError> {
    let view = state
        .app
        .update_asset(&principal, organization_id, asset_id, &body.into(), &context)
        .await?;
    Ok(Json(AssetResponse::of(view, None)))
}

/// Delete an asset recorded by mistake (disposed assets are kept as evidence).
#[utoipa::path(delete, path = "/v1/organizations/{id}/assets/{asset_id}", tag = "assets",
    params(("id" = String, Path, format = Uuid), ("asset_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, asset_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_asset(&principal, organization_id, asset_id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisposalBody {
    /// `clear`, `purge` or `destroy` (NIST SP 800-88).
    #[serde(default)]
    pub method: String,
    /// `YYYY-MM-DD`, not in the future.
    #[serde(default)]
    pub performed_on: String,
    #[serde(default)]
    pub performer: String,
    /// Someone other than the performer.
    #[serde(default)]
    pub witness: String,
    /// The erasure or destruction certificate's reference.
    #[serde(default)]
    pub certificate_ref: String,
    #[serde(default)]
    pub notes: String,
}

/// Record how a retired asset was erased or destroyed; the asset becomes `disposed`.
#[utoipa::path(post, path = "/v1/organizations/{id}/assets/{asset_id}/disposal", tag = "assets",
    params(("id" = String, Path, format = Uuid), ("asset_id" = String, Path, format = Uuid)),
    request_body = DisposalBody, security(("api_key" = [])),
    responses((status = 201, body = AssetResponse), (status = 400, body = Problem),
        (status = 409, body = Problem)))]
pub async fn dispose(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, asset_id)): ApiPath<(OrganizationId, Uuid)>,
    ApiJson(body): ApiJson<DisposalBody>,
) -> Result<(StatusCode, Json<AssetResponse>), ApiError> {
    let input = DisposalInput {
        method: body.method,
        performed_on: body.performed_on,
        performer: body.performer,
        witness: body.witness,
        certificate_ref: body.certificate_ref,
        notes: body.notes,
    };
    let (view, disposal) =
        state.app.dispose_asset(&principal, organization_id, asset_id, &input, &context).await?;
    Ok((StatusCode::CREATED, Json(AssetResponse::of(view, Some(disposal)))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Check every line and report, writing nothing.
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineErrorResponse {
    pub line: u64,
    pub error: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResponse {
    pub dry_run: bool,
    pub lines: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// When not empty, nothing was written.
    pub errors: Vec<LineErrorResponse>,
}

impl From<ImportReport> for ImportResponse {
    fn from(report: ImportReport) -> Self {
        Self {
            dry_run: report.dry_run,
            lines: report.lines,
            created: report.created,
            updated: report.updated,
            unchanged: report.unchanged,
            errors: report
                .errors
                .into_iter()
                .map(|error| LineErrorResponse { line: error.line, error: error.error })
                .collect(),
        }
    }
}

/// Import assets from CSV (`text/csv`; header with `kind`, `name`, `owner` and any of the
/// export's columns). All lines or none: with any line in error nothing is written and the
/// answer is 422 with the errors per line.
#[utoipa::path(post, path = "/v1/organizations/{id}/assets/import", tag = "assets",
    params(("id" = String, Path, format = Uuid), ImportQuery),
    request_body(content = String, content_type = "text/csv"), security(("api_key" = [])),
    responses((status = 200, body = ImportResponse), (status = 422, body = ImportResponse),
        (status = 400, body = Problem)))]
pub async fn import(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<ImportResponse>), ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|error| bad_input(format!("the CSV is not UTF-8: {error}")))?;
    let dry_run = query.dry_run.unwrap_or(false);
    let report =
        state.app.import_assets_csv(&principal, organization_id, text, dry_run, &context).await?;
    let status =
        if report.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(report.into())))
}

/// The assets as CSV, filtered like the list; the first line is the export's
/// classification marking, also sent as the `Rampart-Classification` header.
#[utoipa::path(get, path = "/v1/organizations/{id}/assets/export", tag = "assets",
    params(("id" = String, Path, format = Uuid), AssetQuery), security(("api_key" = [])),
    responses((status = 200, body = String, content_type = "text/csv")))]
pub async fn export(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<AssetQuery>,
) -> Result<Response, ApiError> {
    let filter = query.filter()?;
    let csv = state.app.export_assets_csv(&principal, organization_id, &filter, &context).await?;
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
            (header::CONTENT_DISPOSITION, "attachment; filename=\"assets.csv\"".to_owned()),
            (header::HeaderName::from_static("rampart-classification"), marking),
        ],
        csv,
    )
        .into_response())
}

/// A device's posture report: osquery's standard tables as JSON (`{"disk_encryption":
/// [rows], "screenlock": [rows], …}`), sent with the device's or fleet's API key
/// (`assets:posture:report`).
#[utoipa::path(post, path = "/v1/organizations/{id}/assets/{asset_id}/posture", tag = "assets",
    params(("id" = String, Path, format = Uuid), ("asset_id" = String, Path, format = Uuid)),
    request_body = Object, security(("api_key" = [])),
    responses((status = 200, body = Object), (status = 400, body = Problem)))]
pub async fn report_posture(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, asset_id)): ApiPath<(OrganizationId, Uuid)>,
    ApiJson(report): ApiJson<serde_json::Value>,
) -> Result<Json<DevicePosture>, ApiError> {
    let posture = state
        .app
        .report_device_posture(&principal, organization_id, asset_id, &report, &context)
        .await?;
    Ok(Json(posture))
}

/// Every workstation and mobile device in service against the posture policy.
#[utoipa::path(get, path = "/v1/organizations/{id}/device-posture", tag = "assets",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Object)))]
pub async fn device_posture(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<Vec<DevicePosture>>, ApiError> {
    Ok(Json(state.app.device_posture(&principal, organization_id, &context).await?))
}

/// The posture policy (the default is the annex's baseline).
#[utoipa::path(get, path = "/v1/organizations/{id}/posture-policy", tag = "assets",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Object)))]
pub async fn posture_policy(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<app::PosturePolicy>, ApiError> {
    Ok(Json(state.app.posture_policy(&principal, organization_id, &context).await?))
}

/// Set the posture policy: `require_disk_encryption`, `max_screen_lock_seconds`,
/// `require_antivirus`, `require_firewall`, `require_automatic_updates`,
/// `max_pending_updates`, `require_mdm`, `stale_after_days`.
#[utoipa::path(put, path = "/v1/organizations/{id}/posture-policy", tag = "assets",
    params(("id" = String, Path, format = Uuid)), request_body = Object,
    security(("api_key" = [])), responses((status = 200, body = Object)))]
pub async fn set_posture_policy(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(policy): ApiJson<app::PosturePolicy>,
) -> Result<Json<app::PosturePolicy>, ApiError> {
    Ok(Json(state.app.set_posture_policy(&principal, organization_id, &policy, &context).await?))
}
