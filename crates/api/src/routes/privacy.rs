//! Information protection: pseudonymisation domains and their keys
//! (`/v1/organizations/{id}/pseudonymization-domains`), pseudonymisation and re-identification,
//! and PII detection over text and column samples. Key material never appears in an answer.

use app::{Ff1Format, PseudonymDomainView, PseudonymMethod};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base::OrganizationId;
use privacy::encoding::Encoding;
use privacy::fpe::CardOptions;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::ApiState;
use crate::extract::{ApiJson, ApiPath, Authenticated, Context};
use crate::problem::{ApiError, Problem};
use crate::routes::marked_json;

fn bad_input(detail: impl Into<String>) -> ApiError {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_input", detail).into()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainBody {
    /// 1 to 64 lowercase letters, digits, `_`, `-` or `.`; unique in the organisation.
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyVersionResponse {
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// A pseudonymisation domain: its name and key versions. The keys themselves are never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainResponse {
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// The version new outputs are made with.
    pub current_key_version: u32,
    pub key_versions: Vec<KeyVersionResponse>,
}

impl From<PseudonymDomainView> for DomainResponse {
    fn from(view: PseudonymDomainView) -> Self {
        Self {
            name: view.name,
            created_at: view.created_at,
            current_key_version: view.current_version,
            key_versions: view
                .key_versions
                .into_iter()
                .map(|(version, created_at)| KeyVersionResponse { version, created_at })
                .collect(),
        }
    }
}

/// Create a pseudonymisation domain; Rampart generates its first key (version 1).
#[utoipa::path(post, path = "/v1/organizations/{id}/pseudonymization-domains", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), request_body = DomainBody,
    security(("api_key" = [])),
    responses((status = 201, body = DomainResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_domain(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<DomainBody>,
) -> Result<(StatusCode, Json<DomainResponse>), ApiError> {
    let view = state
        .app
        .create_pseudonym_domain(&principal, organization_id, &body.name, &context)
        .await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// The organisation's pseudonymisation domains by name.
#[utoipa::path(get, path = "/v1/organizations/{id}/pseudonymization-domains", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), security(("api_key" = [])),
    responses((status = 200, body = Vec<DomainResponse>), (status = 403, body = Problem)))]
pub async fn list_domains(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
) -> Result<Json<Vec<DomainResponse>>, ApiError> {
    let views = state.app.list_pseudonym_domains(&principal, organization_id, &context).await?;
    Ok(Json(views.into_iter().map(Into::into).collect()))
}

/// Rotate a domain's key: a new version is generated and used from now on; older versions
/// are kept so that their tokens can still be re-identified.
#[utoipa::path(post,
    path = "/v1/organizations/{id}/pseudonymization-domains/{name}/rotate-key", tag = "privacy",
    params(("id" = String, Path, format = Uuid), ("name" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = DomainResponse), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn rotate_key(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath((organization_id, name)): ApiPath<(OrganizationId, String)>,
) -> Result<Json<DomainResponse>, ApiError> {
    let view = state.app.rotate_pseudonym_key(&principal, organization_id, &name, &context).await?;
    Ok(Json(view.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PseudonymizeBody {
    /// The pseudonymisation domain's name.
    pub domain: String,
    /// `hmac` (default: one-way keyed pseudonyms), `ff1` (format-preserving encryption) or
    /// `token` (reversible tokens).
    pub method: Option<String>,
    /// For `hmac`: `hex` (default), `base32` or `base64url`.
    pub encoding: Option<String>,
    /// For `hmac`: characters kept, 8 up to the full digest (default 32).
    pub length: Option<usize>,
    /// For `ff1` (required): `digits`, `alphanumeric`, `phone`, `card` or `iban`.
    pub format: Option<String>,
    /// For `ff1` `phone` and `card`: leading digits kept as they are (default 0).
    pub keep_leading_digits: Option<usize>,
    /// For `ff1` `card` and `iban`: recompute the check digit(s) (default true).
    pub fix_check_digits: Option<bool>,
    /// At most 1,000 values of at most 4,096 bytes each.
    pub values: Vec<String>,
}

impl PseudonymizeBody {
    fn method(&self) -> Result<PseudonymMethod, ApiError> {
        let method = self.method.as_deref().unwrap_or("hmac");
        let not_for =
            |field: &str| bad_input(format!("{field}: does not apply to method {method}"));
        match method {
            "hmac" => {
                if self.format.is_some() {
                    return Err(not_for("format"));
                }
                if self.keep_leading_digits.is_some() {
                    return Err(not_for("keep_leading_digits"));
                }
                if self.fix_check_digits.is_some() {
                    return Err(not_for("fix_check_digits"));
                }
                let encoding = match self.encoding.as_deref().unwrap_or("hex") {
                    "hex" => Encoding::Hex,
                    "base32" => Encoding::Base32,
                    "base64url" => Encoding::Base64Url,
                    other => {
                        return Err(bad_input(format!(
                            "encoding: unknown {other:?} (hex, base32 or base64url)"
                        )));
                    }
                };
                Ok(PseudonymMethod::Hmac { encoding, length: Some(self.length.unwrap_or(32)) })
            }
            "ff1" => {
                if self.encoding.is_some() {
                    return Err(not_for("encoding"));
                }
                if self.length.is_some() {
                    return Err(not_for("length"));
                }
                let keep = self.keep_leading_digits;
                let fix = self.fix_check_digits;
                let format = self.format.as_deref().ok_or_else(|| {
                    bad_input("format: required for ff1 (digits, alphanumeric, phone, card, iban)")
                })?;
                let refuse_keep =
                    || bad_input(format!("keep_leading_digits: not for format {format}"));
                let refuse_fix = || bad_input(format!("fix_check_digits: not for format {format}"));
                let format = match format {
                    "digits" | "alphanumeric" => {
                        if keep.is_some() {
                            return Err(refuse_keep());
                        }
                        if fix.is_some() {
                            return Err(refuse_fix());
                        }
                        if format == "digits" { Ff1Format::Digits } else { Ff1Format::Alphanumeric }
                    }
                    "phone" => {
                        if fix.is_some() {
                            return Err(refuse_fix());
                        }
                        Ff1Format::Phone { keep_leading_digits: keep.unwrap_or(0) }
                    }
                    "card" => Ff1Format::Card(CardOptions {
                        keep_leading_digits: keep.unwrap_or(0),
                        fix_luhn: fix.unwrap_or(true),
                    }),
                    "iban" => {
                        if keep.is_some() {
                            return Err(refuse_keep());
                        }
                        Ff1Format::Iban { fix_check_digits: fix.unwrap_or(true) }
                    }
                    other => {
                        return Err(bad_input(format!(
                            "format: unknown {other:?} (digits, alphanumeric, phone, card, iban)"
                        )));
                    }
                };
                Ok(PseudonymMethod::Ff1(format))
            }
            "token" => {
                for (field, given) in [
                    ("encoding", self.encoding.is_some()),
                    ("length", self.length.is_some()),
                    ("format", self.format.is_some()),
                    ("keep_leading_digits", self.keep_leading_digits.is_some()),
                    ("fix_check_digits", self.fix_check_digits.is_some()),
                ] {
                    if given {
                        return Err(not_for(field));
                    }
                }
                Ok(PseudonymMethod::Token)
            }
            other => Err(bad_input(format!("method: unknown {other:?} (hmac, ff1 or token)"))),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PseudonymizeResponse {
    pub domain: String,
    pub method: String,
    /// The key version the outputs were made with.
    pub key_version: u32,
    /// One output per value, in order.
    pub outputs: Vec<String>,
}

/// Pseudonymise values with the domain's newest key: HMAC pseudonyms (`v<version>:…`), FF1
/// ciphertexts of the same shape, or reversible tokens (`tok<version>_…`). All or nothing.
#[utoipa::path(post, path = "/v1/organizations/{id}/pseudonymize", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), request_body = PseudonymizeBody,
    security(("api_key" = [])),
    responses((status = 200, body = PseudonymizeResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn pseudonymize(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<PseudonymizeBody>,
) -> Result<Response, ApiError> {
    let method = body.method()?;
    let done = state
        .app
        .pseudonymize(&principal, organization_id, &body.domain, method, &body.values, &context)
        .await?;
    let marking = state.app.export_marking(organization_id, "privacy_answers", None).await?;
    Ok(marked_json(
        &marking,
        PseudonymizeResponse {
            domain: body.domain,
            method: body.method.unwrap_or_else(|| "hmac".to_owned()),
            key_version: done.key_version,
            outputs: done.outputs,
        },
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReidentifyBody {
    pub domain: String,
    /// At most 1,000 tokens made in this domain, under any of its key versions.
    pub tokens: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReidentifyResponse {
    /// One value per token, in order.
    pub values: Vec<String>,
}

/// Read tokens back to their values. Privileged (`privacy:tokens:reidentify`): a session must
/// have stepped up recently; the audit trail records the count, never tokens or values.
#[utoipa::path(post, path = "/v1/organizations/{id}/reidentify", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), request_body = ReidentifyBody,
    security(("api_key" = [])),
    responses((status = 200, body = ReidentifyResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reidentify(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<ReidentifyBody>,
) -> Result<Response, ApiError> {
    let values = state
        .app
        .reidentify(&principal, organization_id, &body.domain, &body.tokens, &context)
        .await?;
    let marking = state.app.export_marking(organization_id, "reidentification", None).await?;
    Ok(marked_json(&marking, ReidentifyResponse { values }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    /// At most 256 KiB of UTF-8 text.
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FindingResponse {
    /// `email`, `phone`, `iban`, `payment_card`, `ipv4`, `ipv6`, `french_nir`, `siren`,
    /// `siret`, `eu_vat`, `passport`, `date_of_birth`.
    pub kind: String,
    /// Byte offsets into the text: `start` included, `end` excluded.
    pub start: usize,
    pub end: usize,
    /// `checksum`, `pattern`, `context` or `dictionary`.
    pub basis: String,
    pub confidence: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScanResponse {
    pub findings: Vec<FindingResponse>,
}

fn basis_name(basis: privacy::pii::Basis) -> &'static str {
    match basis {
        privacy::pii::Basis::Checksum => "checksum",
        privacy::pii::Basis::Pattern => "pattern",
        privacy::pii::Basis::Context => "context",
        privacy::pii::Basis::Dictionary => "dictionary",
    }
}

/// Find personal data in a text: kinds, byte spans and confidence (the values are not echoed).
#[utoipa::path(post, path = "/v1/organizations/{id}/pii/scan", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), request_body = ScanBody,
    security(("api_key" = [])),
    responses((status = 200, body = ScanResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn scan(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<ScanBody>,
) -> Result<Response, ApiError> {
    let findings = state.app.scan_pii(&principal, organization_id, &body.text, &context).await?;
    let marking = state.app.export_marking(organization_id, "privacy_answers", None).await?;
    let response = ScanResponse {
        findings: findings
            .into_iter()
            .map(|finding| FindingResponse {
                kind: finding.kind.name().to_owned(),
                start: finding.span.start,
                end: finding.span.end,
                basis: basis_name(finding.basis).to_owned(),
                confidence: finding.confidence,
            })
            .collect(),
    };
    Ok(marked_json(&marking, response))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnBody {
    /// The column's name, read as context (`birth_date` makes dates dates of birth).
    pub column_name: Option<String>,
    /// At most 1,000 sample values, 256 KiB in all.
    pub samples: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KindCountResponse {
    pub kind: String,
    /// Samples holding at least one finding of this kind.
    pub samples: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnResponse {
    /// At least 30 % of the non-empty samples hold personal data.
    pub personal: bool,
    pub non_empty: usize,
    pub matching: usize,
    /// Kinds and counts, never values.
    pub evidence: Vec<KindCountResponse>,
}

/// Whether a column holds personal data, from its name and sample values.
#[utoipa::path(post, path = "/v1/organizations/{id}/pii/columns", tag = "privacy",
    params(("id" = String, Path, format = Uuid)), request_body = ColumnBody,
    security(("api_key" = [])),
    responses((status = 200, body = ColumnResponse), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn classify_column(
    State(state): State<ApiState>,
    Authenticated(principal): Authenticated,
    Context(context): Context,
    ApiPath(organization_id): ApiPath<OrganizationId>,
    ApiJson(body): ApiJson<ColumnBody>,
) -> Result<Response, ApiError> {
    let verdict = state
        .app
        .classify_pii_column(
            &principal,
            organization_id,
            body.column_name.as_deref(),
            &body.samples,
            &context,
        )
        .await?;
    let marking = state.app.export_marking(organization_id, "privacy_answers", None).await?;
    let response = ColumnResponse {
        personal: verdict.personal,
        non_empty: verdict.non_empty,
        matching: verdict.matching,
        evidence: verdict
            .evidence
            .into_iter()
            .map(|count| KindCountResponse {
                kind: count.kind.name().to_owned(),
                samples: count.samples,
            })
            .collect(),
    };
    Ok(marked_json(&marking, response))
}
