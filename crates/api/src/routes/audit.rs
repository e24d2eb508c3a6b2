//! `/v1/organizations/{id}/audit/…` and `/v1/audit/public-key`: the tamper-evident log, its
//! signed checkpoints, proofs and verifiable exports.

use audit::{Entry, PersonalField};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base::OrganizationId;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use store::AuditFilter;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::ApiState;
use crate::extract::{ApiPath, ApiQuery, Authenticated, Context};
use crate::problem::{ApiError, Problem};

/// Filters of the entry list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Entries at or after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<OffsetDateTime>,
    /// Entries before this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
    /// The acting principal's id.
    pub actor: Option<String>,
    /// An action or a prefix of one (`iam.` matches `iam.user.create`).
    pub action: Option<String>,
    pub resource_kind: Option<String>,
    pub resource_id: Option<String>,
    /// `success`, `denied` or `failed`.
    pub outcome: Option<String>,
    pub privileged: Option<bool>,
    /// The `next_before` of the previous page.
    pub before: Option<u64>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    /// `user`, `application`, `staff` or `system`.
    pub kind: String,
    pub id: Option<String>,
    /// `api_key:<id>`, `session` or `token`.
    pub credential: Option<String>,
    /// The account's email (personal data; absent once erased).
    pub label: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResource {
    pub kind: String,
    pub id: Option<String>,
}

/// One entry of an organisation's log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    pub index: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub time: OffsetDateTime,
    pub actor: AuditActor,
    pub action: String,
    pub resource: AuditResource,
    pub outcome: String,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub privileged: bool,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// Personal fields that were erased (their commitments stay in the leaf).
    pub erased: Vec<String>,
}

fn clear(field: &PersonalField) -> Option<String> {
    match field {
        PersonalField::Present { value, .. } => Some(value.clone()),
        PersonalField::Absent | PersonalField::Erased { .. } => None,
    }
}

impl From<Entry> for AuditEntryResponse {
    fn from(entry: Entry) -> Self {
        let erased = entry
            .personal_fields()
            .into_iter()
            .filter(|(_, field)| field.is_erased())
            .map(|(name, _)| name.as_str().to_owned())
            .collect();
        Self {
            index: entry.index,
            time: entry.time,
            actor: AuditActor {
                kind: entry.actor_kind.as_str().to_owned(),
                id: entry.actor_id.clone(),
                credential: entry.credential.clone(),
                label: clear(&entry.actor_label),
            },
            action: entry.action.clone(),
            resource: AuditResource {
                kind: entry.resource_type.clone(),
                id: entry.resource_id.clone(),
            },
            outcome: entry.outcome.as_str().to_owned(),
            reason: entry.reason.clone(),
            request_id: entry.request_id.clone(),
            privileged: entry.privileged,
            source_ip: clear(&entry.source_ip),
            user_agent: clear(&entry.user_agent),
            details: clear(&entry.details).and_then(|text| serde_json::from_str(&text).ok()),
            erased,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryList {
    pub items: Vec<AuditEntryResponse>,
    /// Pass as `before` to get older entries; absent on the last page.
    pub next_before: Option<u64>,
}

/// List an organisation's audit entries, newest first. Reading the log is recorded in it.
#[utoipa::path(get, path = "/v1/organizations/{id}/audit/events", tag = "audit",
    params(("id" = String, Path, format = Uuid), EventsQuery), security(("api_key" = [])),
    responses((status = 200, body = AuditEntryList), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn events(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<AuditEntryList>, ApiError> {
    let filter = AuditFilter {
        since: query.since,
        until: query.until,
        actor_id: query.actor,
        action_prefix: query.action,
        resource_kind: query.resource_kind,
        resource_id: query.resource_id,
        outcome: query.outcome,
        privileged: query.privileged,
        before_index: query.before,
        limit: query.limit.unwrap_or(50),
    };
    let page = state.app.audit_events(&principal, organization_id, filter, &context).await?;
    Ok(Json(AuditEntryList {
        items: page.entries.into_iter().map(Into::into).collect(),
        next_before: page.next_before,
    }))
}

/// The latest signed checkpoint (C2SP signed note), signed now if the log grew since.
#[utoipa::path(get, path = "/v1/organizations/{id}/audit/checkpoint", tag = "audit",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, description = "The signed note", body = String),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn checkpoint(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Response, ApiError> {
    let checkpoint = state.app.audit_checkpoint(&principal, organization_id, &context).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], checkpoint.note).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The entry's index.
    pub index: u64,
    /// The tree size the proof is for (a checkpoint's size).
    pub size: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionProof {
    pub index: u64,
    pub size: u64,
    /// RFC 9162 inclusion path, base64 hashes.
    pub proof: Vec<String>,
}

/// The RFC 9162 proof that entry `index` is in the tree of `size` entries.
#[utoipa::path(get, path = "/v1/organizations/{id}/audit/proof/inclusion", tag = "audit",
    params(("id" = String, Path, format = Uuid), InclusionQuery), security(("api_key" = [])),
    responses((status = 200, body = InclusionProof), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn inclusion(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
    let proof = state
        .app
        .audit_inclusion_proof(&principal, organization_id, query.index, query.size, &context)
        .await?;
    Ok(Json(InclusionProof {
        index: query.index,
        size: query.size,
        proof: proof.iter().map(|hash| BASE64.encode(hash)).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    pub from: u64,
    pub to: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// RFC 9162 consistency proof, base64 hashes.
    pub proof: Vec<String>,
}

/// The RFC 9162 proof that the tree of `from` entries is a prefix of the tree of `to`.
#[utoipa::path(get, path = "/v1/organizations/{id}/audit/proof/consistency", tag = "audit",
    params(("id" = String, Path, format = Uuid), ConsistencyQuery), security(("api_key" = [])),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn consistency(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let proof = state
        .app
        .audit_consistency_proof(&principal, organization_id, query.from, query.to, &context)
        .await?;
    Ok(Json(ConsistencyProof {
        from: query.from,
        to: query.to,
        proof: proof.iter().map(|hash| BASE64.encode(hash)).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// First index to export (default 0).
    pub from_index: Option<u64>,
    /// One past the last index (default: the size of a checkpoint signed now).
    pub to_index: Option<u64>,
}

/// How many entries one read of a streamed export takes.
const EXPORT_PAGE: u64 = 1_000;

/// Stream entries as JSON Lines: a header, one line per entry with its exact leaf, and a
/// trailer holding the signed checkpoint they verify against (docs/design/0002).
#[utoipa::path(get, path = "/v1/organizations/{id}/audit/export", tag = "audit",
    params(("id" = String, Path, format = Uuid), ExportQuery), security(("api_key" = [])),
    responses((status = 200, description = "JSON Lines", body = String),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn export(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let export = state
        .app
        .audit_export(&principal, organization_id, query.from_index, query.to_index, &context)
        .await?;
    // The lines are the verifiable format itself: the marking travels in the header.
    let marking = state.app.export_marking(organization_id, "audit_log", None).await?;
    enum Next {
        Header,
        Entries(u64),
        Done,
    }
    let stream = futures_util::stream::unfold(Next::Header, move |next| {
        let (app, export) = (state.app.clone(), export.clone());
        async move {
            match next {
                Next::Header => Some((Ok(export.header.clone()), Next::Entries(export.from_index))),
                Next::Entries(from) if from < export.to_index => {
                    let to = (from + EXPORT_PAGE).min(export.to_index);
                    match app.audit_export_lines(export.organization_id, from, to).await {
                        Ok(lines) => Some((Ok(lines), Next::Entries(to))),
                        Err(error) => {
                            tracing::error!(%error, "audit export failed mid-stream");
                            // Ending without the trailer makes the export fail verification.
                            Some((Err(std::io::Error::other("export failed")), Next::Done))
                        }
                    }
                }
                Next::Entries(_) => Some((Ok(export.trailer.clone()), Next::Done)),
                Next::Done => None,
            }
        }
    });
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/jsonl; charset=utf-8".to_owned()),
            (header::HeaderName::from_static("rampart-classification"), marking.header_value()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureResponse {
    pub index: u64,
    /// How many personal fields were erased.
    pub erased_fields: usize,
}

/// Erase the personal fields of one entry (provider owners only). The entry still verifies:
/// its leaf commits only to salted hashes of those fields.
#[utoipa::path(post, path = "/v1/organizations/{id}/audit/entries/{index}/erase", tag = "audit",
    params(("id" = String, Path, format = Uuid), ("index" = u64, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = ErasureResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn erase(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, index)): ApiPath<(OrganizationId, u64)>,
) -> Result<Json<ErasureResponse>, ApiError> {
    let erased_fields =
        state.app.erase_audit_personal_data(&principal, organization_id, index, &context).await?;
    Ok(Json(ErasureResponse { index, erased_fields }))
}

/// The active checkpoint verifier key, in C2SP form (`<name>+<key id>+<base64 key>`).
#[utoipa::path(get, path = "/v1/audit/public-key", tag = "audit",
    responses((status = 200, description = "The verifier key", body = String),
        (status = 503, body = Problem)))]
pub async fn public_key(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let keys = state.app.audit_verifier_keys().await?;
    let active = keys.into_iter().find(|(_, active)| *active).map(|(key, _)| key);
    let Some(key) = active else {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "no checkpoint signing key yet; it is created when the server starts",
        )
        .into());
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{key}\n")).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifierKey {
    /// C2SP verifier key.
    pub key: String,
    /// False for retired keys, which still verify the checkpoints they signed.
    pub active: bool,
}

/// Every verifier key this deployment has signed checkpoints with, the active one first.
#[utoipa::path(get, path = "/v1/audit/public-keys", tag = "audit",
    responses((status = 200, body = Vec<VerifierKey>)))]
pub async fn public_keys(
    State(state): State<ApiState>,
) -> Result<Json<Vec<VerifierKey>>, ApiError> {
    let keys = state.app.audit_verifier_keys().await?;
    Ok(Json(keys.into_iter().map(|(key, active)| VerifierKey { key, active }).collect()))
}
