//! Classification, records of processing and retention: the organisation's classification
//! scheme (`/v1/organizations/{id}/classification-scheme`), its data category catalogue
//! (`…/data-categories`), the JSON export of every compliance register
//! (`…/compliance/{register}/export.json`), and retention rules, legal holds and runs
//! (`…/retention/…`).

use std::collections::BTreeMap;

use app::{
    DataCategoryInput, LevelInput, OrganizationScheme, RegisterKind, RetentionRuleInput,
    RetentionRunView, SchemeInput,
};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base::OrganizationId;
use privacy::classification::TlpLabel;
use serde::{Deserialize, Serialize};
use store::{DataCategoryRecord, LegalHoldRecord, RetentionRuleRecord};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, Authenticated, Context};
use crate::problem::{ApiError, Problem};
use crate::routes::marked_json;

fn bad_input(detail: impl Into<String>) -> ApiError {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_input", detail).into()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn tlp_of(field: &str, text: &str) -> Result<TlpLabel, ApiError> {
    let bare = text.trim().strip_prefix("TLP:").unwrap_or(text.trim());
    serde_json::from_value(serde_json::Value::String(bare.to_owned())).map_err(|_| {
        bad_input(format!(
            "{field}: {text:?} is not a TLP 2.0 label; expected CLEAR, GREEN, AMBER, \
             AMBER+STRICT or RED"
        ))
    })
}

/// One level of a classification scheme.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelBody {
    /// Unique in the scheme (case-insensitively), 1 to 60 characters.
    pub name: String,
    /// `CLEAR`, `GREEN`, `AMBER`, `AMBER+STRICT` or `RED` (a `TLP:` prefix is accepted); never
    /// less restrictive than the level below.
    pub tlp: String,
    #[serde(default)]
    pub description: String,
}

/// A classification scheme: levels least restricted first, and the level of each export kind.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemeBody {
    /// 1 to 12 levels.
    pub levels: Vec<LevelBody>,
    /// Export kind → level name. Kinds left out take their default (or the most restricted
    /// level when the scheme has no level of the default's name).
    #[serde(default)]
    pub exports: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchemeResponse {
    pub levels: Vec<LevelBody>,
    /// Every export kind with its level.
    pub exports: BTreeMap<String, String>,
    /// When the scheme was last replaced; absent for the default scheme.
    pub updated_at: Option<String>,
}

impl From<OrganizationScheme> for SchemeResponse {
    fn from(scheme: OrganizationScheme) -> Self {
        Self {
            levels: scheme
                .levels()
                .iter()
                .map(|level| LevelBody {
                    name: level.name.clone(),
                    tlp: level.tlp.to_string(),
                    description: level.description.clone().unwrap_or_default(),
                })
                .collect(),
            exports: scheme.exports().clone(),
            updated_at: scheme.updated_at.map(rfc3339),
        }
    }
}

/// The organisation's classification scheme (the default until one is set).
#[utoipa::path(get, path = "/v1/organizations/{id}/classification-scheme", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = SchemeResponse), (status = 403, body = Problem)))]
pub async fn get_scheme(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<SchemeResponse>, ApiError> {
    let scheme = state.app.classification_scheme(&principal, organization_id, &context).await?;
    Ok(Json(scheme.into()))
}

/// Replace the classification scheme. A level still used by an asset or a data category
/// cannot be removed (409, naming the uses).
#[utoipa::path(put, path = "/v1/organizations/{id}/classification-scheme", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), request_body = SchemeBody,
    security(("api_key" = [])),
    responses((status = 200, body = SchemeResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn put_scheme(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<SchemeBody>,
) -> Result<Json<SchemeResponse>, ApiError> {
    let mut levels = Vec::with_capacity(body.levels.len());
    for (index, level) in body.levels.into_iter().enumerate() {
        levels.push(LevelInput {
            tlp: tlp_of(&format!("levels[{index}].tlp"), &level.tlp)?,
            name: level.name,
            description: level.description,
        });
    }
    let input = SchemeInput { levels, exports: body.exports };
    let scheme = state
        .app
        .replace_classification_scheme(&principal, organization_id, &input, &context)
        .await?;
    Ok(Json(scheme.into()))
}

/// A data category of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataCategoryResponse {
    /// Dotted path, `user.contact.email`.
    pub path: String,
    pub description: String,
    /// A level of the organisation's scheme (lowercase).
    pub classification: String,
    /// A special category of GDPR Article 9.
    pub special_category: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<DataCategoryRecord> for DataCategoryResponse {
    fn from(category: DataCategoryRecord) -> Self {
        Self {
            path: category.path,
            description: category.description,
            classification: category.classification,
            special_category: category.special_category,
            created_at: rfc3339(category.created_at),
            updated_at: rfc3339(category.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDataCategoryBody {
    /// Lowercase segments (a-z, 0-9, _) joined by dots; its parent must be in the catalogue.
    pub path: String,
    pub description: String,
    /// A level of the scheme; the default level (`internal`) when absent.
    pub classification: Option<String>,
    #[serde(default)]
    pub special_category: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataCategoryBody {
    pub description: String,
    pub classification: Option<String>,
    #[serde(default)]
    pub special_category: bool,
}

/// Add a data category to the catalogue.
#[utoipa::path(post, path = "/v1/organizations/{id}/data-categories", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), request_body = NewDataCategoryBody,
    security(("api_key" = [])),
    responses((status = 201, body = DataCategoryResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_category(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<NewDataCategoryBody>,
) -> Result<(StatusCode, Json<DataCategoryResponse>), ApiError> {
    let input = DataCategoryInput {
        description: body.description,
        classification: body.classification,
        special_category: body.special_category,
    };
    let category = state
        .app
        .put_data_category(&principal, organization_id, &body.path, &input, true, &context)
        .await?;
    Ok((StatusCode::CREATED, Json(category.into())))
}

/// The catalogue, by path.
#[utoipa::path(get, path = "/v1/organizations/{id}/data-categories", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<DataCategoryResponse>), (status = 403, body = Problem)))]
pub async fn list_categories(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Response, ApiError> {
    let categories = state.app.list_data_categories(&principal, organization_id, &context).await?;
    let marking = state.app.export_marking(organization_id, "data_categories", None).await?;
    let categories: Vec<DataCategoryResponse> = categories.into_iter().map(Into::into).collect();
    Ok(marked_json(&marking, categories))
}

#[utoipa::path(get, path = "/v1/organizations/{id}/data-categories/{path}", tag = "privacy",
    params(("id" = String, Path, format = Uuid), ("path" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = DataCategoryResponse), (status = 404, body = Problem)))]
pub async fn get_category(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, path)): ApiPath<(OrganizationId, String)>,
) -> Result<Json<DataCategoryResponse>, ApiError> {
    let category =
        state.app.get_data_category(&principal, organization_id, &path, &context).await?;
    Ok(Json(category.into()))
}

/// Replace a data category's description, level and special-category flag.
#[utoipa::path(put, path = "/v1/organizations/{id}/data-categories/{path}", tag = "privacy",
    params(("id" = String, Path, format = Uuid), ("path" = String, Path)),
    request_body = DataCategoryBody, security(("api_key" = [])),
    responses((status = 200, body = DataCategoryResponse), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn replace_category(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, path)): ApiPath<(OrganizationId, String)>,
    ApiJson(body): ApiJson<DataCategoryBody>,
) -> Result<Json<DataCategoryResponse>, ApiError> {
    let input = DataCategoryInput {
        description: body.description,
        classification: body.classification,
        special_category: body.special_category,
    };
    let category = state
        .app
        .put_data_category(&principal, organization_id, &path, &input, false, &context)
        .await?;
    Ok(Json(category.into()))
}

/// Delete a data category without sub-categories that no processing activity names.
#[utoipa::path(delete, path = "/v1/organizations/{id}/data-categories/{path}", tag = "privacy",
    params(("id" = String, Path, format = Uuid), ("path" = String, Path)),
    security(("api_key" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_category(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, path)): ApiPath<(OrganizationId, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_data_category(&principal, organization_id, &path, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A register as JSON: a top-level `classification` object (`level`, `tlp`, `rank`), the
/// register, the export time and the records; the marking is also sent as the
/// `Rampart-Classification` header. The export is audited.
#[utoipa::path(get, path = "/v1/organizations/{id}/compliance/{register}/export.json",
    tag = "compliance",
    params(("id" = String, Path, format = Uuid), ("register" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = Object), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn export_register_json(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, register)): ApiPath<(OrganizationId, String)>,
) -> Result<Response, ApiError> {
    let register = RegisterKind::parse(&register).ok_or_else(|| {
        ApiError::from(Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no register {register:?}"),
        ))
    })?;
    let (body, marking) =
        state.app.export_compliance_json(&principal, organization_id, register, &context).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.json\"", register.as_str()),
            ),
            (header::HeaderName::from_static("rampart-classification"), marking.header_value()),
        ],
        Json(body),
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRuleBody {
    /// A path of the data category catalogue.
    pub data_category: String,
    /// `session_network`, `former_users`, `audit_personal`, `ingested_events`,
    /// `public_reports` or `closed_incidents`.
    pub target: String,
    /// `creation`, `last_activity`, `end_of_contract` or `event_date` (each target keeps
    /// only some of these dates).
    pub trigger: String,
    /// 0 to 36,500.
    pub duration_days: u32,
    /// `delete`, `anonymise` or `review` (`pseudonymise` is refused for Rampart's own data).
    pub action: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionRuleResponse {
    pub id: String,
    pub data_category: String,
    pub target: String,
    pub trigger: String,
    pub duration_days: u32,
    pub action: String,
    pub created_at: String,
}

impl From<RetentionRuleRecord> for RetentionRuleResponse {
    fn from(rule: RetentionRuleRecord) -> Self {
        Self {
            id: rule.id.to_string(),
            data_category: rule.data_category,
            target: rule.target,
            trigger: rule.trigger,
            duration_days: rule.duration_days,
            action: rule.action,
            created_at: rfc3339(rule.created_at),
        }
    }
}

/// Add a retention rule.
#[utoipa::path(post, path = "/v1/organizations/{id}/retention/rules", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), request_body = RetentionRuleBody,
    security(("api_key" = [])),
    responses((status = 201, body = RetentionRuleResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn create_rule(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<RetentionRuleBody>,
) -> Result<(StatusCode, Json<RetentionRuleResponse>), ApiError> {
    let input = RetentionRuleInput {
        data_category: body.data_category,
        target: body.target,
        trigger: body.trigger,
        duration_days: body.duration_days,
        action: body.action,
    };
    let rule =
        state.app.create_retention_rule(&principal, organization_id, &input, &context).await?;
    Ok((StatusCode::CREATED, Json(rule.into())))
}

/// The organisation's retention rules, oldest first.
#[utoipa::path(get, path = "/v1/organizations/{id}/retention/rules", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<RetentionRuleResponse>), (status = 403, body = Problem)))]
pub async fn list_rules(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<Vec<RetentionRuleResponse>>, ApiError> {
    let rules = state.app.list_retention_rules(&principal, organization_id, &context).await?;
    Ok(Json(rules.into_iter().map(Into::into).collect()))
}

#[utoipa::path(delete, path = "/v1/organizations/{id}/retention/rules/{rule_id}", tag = "privacy",
    params(("id" = String, Path, format = Uuid), ("rule_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_rule(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, rule_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_retention_rule(&principal, organization_id, rule_id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldBody {
    /// `session_network`, `former_users`, `audit_personal`, `ingested_events`,
    /// `public_reports` or `closed_incidents`.
    pub target: String,
    /// Why the data must be kept (a litigation, an authority's request), at most 2,000
    /// characters.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LegalHoldResponse {
    pub id: String,
    pub target: String,
    pub reason: String,
    pub placed_at: String,
    /// Absent while the hold is in force.
    pub released_at: Option<String>,
}

impl From<LegalHoldRecord> for LegalHoldResponse {
    fn from(hold: LegalHoldRecord) -> Self {
        Self {
            id: hold.id.to_string(),
            target: hold.target,
            reason: hold.reason,
            placed_at: rfc3339(hold.placed_at),
            released_at: hold.released_at.map(rfc3339),
        }
    }
}

/// Place a legal hold on a target: no retention rule acts on it until it is released.
#[utoipa::path(post, path = "/v1/organizations/{id}/retention/holds", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), request_body = LegalHoldBody,
    security(("api_key" = [])),
    responses((status = 201, body = LegalHoldResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn place_hold(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<LegalHoldBody>,
) -> Result<(StatusCode, Json<LegalHoldResponse>), ApiError> {
    let hold = state
        .app
        .place_legal_hold(&principal, organization_id, &body.target, &body.reason, &context)
        .await?;
    Ok((StatusCode::CREATED, Json(hold.into())))
}

/// The organisation's legal holds, released ones included.
#[utoipa::path(get, path = "/v1/organizations/{id}/retention/holds", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<LegalHoldResponse>), (status = 403, body = Problem)))]
pub async fn list_holds(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<Vec<LegalHoldResponse>>, ApiError> {
    let holds = state.app.list_legal_holds(&principal, organization_id, &context).await?;
    Ok(Json(holds.into_iter().map(Into::into).collect()))
}

/// Release a legal hold in force.
#[utoipa::path(post, path = "/v1/organizations/{id}/retention/holds/{hold_id}/release",
    tag = "privacy",
    params(("id" = String, Path, format = Uuid), ("hold_id" = String, Path, format = Uuid)),
    security(("api_key" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn release_hold(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, hold_id)): ApiPath<(OrganizationId, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state.app.release_legal_hold(&principal, organization_id, hold_id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// Report what would go and change nothing (default false).
    #[serde(default)]
    pub dry_run: bool,
}

/// What one rule found and did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOutcomeResponse {
    pub rule_id: String,
    pub data_category: String,
    pub target: String,
    pub trigger: String,
    pub action: String,
    pub duration_days: u32,
    pub cutoff: String,
    /// Items past their time.
    pub due: u64,
    /// Items erased (0 in a dry run, under a legal hold, or for `review`).
    pub erased: u64,
    /// The legal holds that kept the data.
    pub held_by: Vec<String>,
}

/// A retention run, kept as evidence.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunResponse {
    pub id: String,
    pub ran_at: String,
    pub dry_run: bool,
    /// `user:<id>`, `application:<id>`, `staff:<id>` or `system`.
    pub actor: String,
    pub rules: Vec<RuleOutcomeResponse>,
}

impl From<RetentionRunView> for RunResponse {
    fn from(run: RetentionRunView) -> Self {
        Self {
            id: run.id.to_string(),
            ran_at: rfc3339(run.ran_at),
            dry_run: run.dry_run,
            actor: run.actor,
            rules: run
                .rules
                .into_iter()
                .map(|rule| RuleOutcomeResponse {
                    rule_id: rule.rule_id.to_string(),
                    data_category: rule.data_category,
                    target: rule.target,
                    trigger: rule.trigger,
                    action: rule.action,
                    duration_days: rule.duration_days,
                    cutoff: rfc3339(rule.cutoff),
                    due: rule.due,
                    erased: rule.erased,
                    held_by: rule.held_by.iter().map(Uuid::to_string).collect(),
                })
                .collect(),
        }
    }
}

/// Run the organisation's retention rules now (or as a dry run); the run is recorded.
#[utoipa::path(post, path = "/v1/organizations/{id}/retention/runs", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), request_body = RunBody,
    security(("api_key" = [])),
    responses((status = 201, body = RunResponse), (status = 403, body = Problem)))]
pub async fn run(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<RunBody>,
) -> Result<(StatusCode, Json<RunResponse>), ApiError> {
    let run = state.app.run_retention(&principal, organization_id, body.dry_run, &context).await?;
    Ok((StatusCode::CREATED, Json(run.into())))
}

/// Past retention runs, newest first: the evidence that retention is applied.
#[utoipa::path(get, path = "/v1/organizations/{id}/retention/runs", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<RunResponse>), (status = 403, body = Problem)))]
pub async fn list_runs(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Response, ApiError> {
    let runs = state.app.list_retention_runs(&principal, organization_id, &context).await?;
    let marking = state.app.export_marking(organization_id, "retention_runs", None).await?;
    let runs: Vec<RunResponse> = runs.into_iter().map(Into::into).collect();
    Ok(marked_json(&marking, runs))
}
