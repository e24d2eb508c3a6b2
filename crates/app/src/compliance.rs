//! The compliance registers, the evidence engine and the live annex.
//!
//! - A register record has a title, an optional owner (a user of the organisation), an
//!   optional review date, and a JSON document checked against its register's schema
//!   ([`RegisterKind`]): unknown fields, wrong types and out-of-range values are refused with
//!   the field named. Every change and every export is an audit event.
//! - The evidence engine ([`App::run_evidence`]) gathers facts from the live stores (users and
//!   their second factors, assets and disposals, the registers, the audit log's latest
//!   checkpoint), evaluates the checks of `report::evidence` and keeps every result, dated, as
//!   history. A check whose facts Rampart does not hold is not run: the annex shows it as not
//!   evidenced rather than passing on an empty population.
//! - The live annex renders the latest results with `report::render`, marked with the
//!   classification, the generation time and the audit checkpoint it was computed at.

use std::collections::{HashMap, HashSet};

use base::{Actor, OrganizationId, RequestContext, Resource, UserId};
use report::evidence::{self as checks, CheckResult};
use serde::{Deserialize, Serialize};
use store::{
    AssetRepository as _, ComplianceRecord, ComplianceRepository as _, EvidenceResultRecord,
    Lifecycle, Transaction, UserRecord, UserRepository as _, UserRole, UserStatus,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::AuditTrail as _;
use crate::secrets::new_id;
use crate::{App, AppError, Principal};

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

const MAX_TITLE_CHARS: usize = 200;
const MAX_TEXT_CHARS: usize = 8_000;
pub(crate) const MAX_LIST_ITEMS: usize = 200;
/// Results kept per answer of the history endpoint.
pub const MAX_HISTORY: u32 = 1_000;

pub(crate) fn invalid(message: impl Into<String>) -> AppError {
    AppError::InvalidInput(message.into())
}

pub(crate) fn check_text(
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<(), AppError> {
    if required && value.trim().is_empty() {
        return Err(invalid(format!("{field}: required")));
    }
    if value.chars().count() > max {
        return Err(invalid(format!("{field}: at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(format!("{field}: control characters are not allowed")));
    }
    Ok(())
}

fn check_list(field: &str, values: &[String], required: bool) -> Result<(), AppError> {
    check_list_of(field, values, required, MAX_TITLE_CHARS)
}

/// A list of at most [`MAX_LIST_ITEMS`] non-empty texts of at most `max_chars` each.
pub(crate) fn check_list_of(
    field: &str,
    values: &[String],
    required: bool,
    max_chars: usize,
) -> Result<(), AppError> {
    if required && values.is_empty() {
        return Err(invalid(format!("{field}: at least one is required")));
    }
    if values.len() > MAX_LIST_ITEMS {
        return Err(invalid(format!("{field}: at most {MAX_LIST_ITEMS}")));
    }
    for (index, value) in values.iter().enumerate() {
        check_text(&format!("{field}[{index}]"), value, max_chars, true)?;
    }
    Ok(())
}

fn check_level(field: &str, value: u8, max: u8) -> Result<(), AppError> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(format!("{field}: expected 1 to {max}; got {value}")))
    }
}

fn check_https(field: &str, value: Option<&str>) -> Result<(), AppError> {
    match value {
        Some(url) if !url.starts_with("https://") || url.len() > 2_000 => {
            Err(invalid(format!("{field}: expected an https:// link")))
        }
        _ => Ok(()),
    }
}

fn midnight(date: Date) -> OffsetDateTime {
    date.midnight().assume_utc()
}

/// The registers Rampart keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterKind {
    Policy,
    Role,
    Risk,
    Applicability,
    Person,
    Audit,
    Certification,
    SubProcessor,
    Dpia,
    Change,
    Continuity,
    /// Processing activities: the record of processing of GDPR Article 30.
    Processing,
}

impl RegisterKind {
    pub const ALL: [Self; 12] = [
        Self::Policy,
        Self::Role,
        Self::Risk,
        Self::Applicability,
        Self::Person,
        Self::Audit,
        Self::Certification,
        Self::SubProcessor,
        Self::Dpia,
        Self::Change,
        Self::Continuity,
        Self::Processing,
    ];

    /// The register's name in paths and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Policy => "policies",
            Self::Role => "roles",
            Self::Risk => "risks",
            Self::Applicability => "applicability",
            Self::Person => "people",
            Self::Audit => "audits",
            Self::Certification => "certifications",
            Self::SubProcessor => "subprocessors",
            Self::Dpia => "dpias",
            Self::Change => "changes",
            Self::Continuity => "continuity",
            Self::Processing => "processing",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Check a document against the register's schema; the normalised document.
    pub fn validate(self, document: &serde_json::Value) -> Result<serde_json::Value, AppError> {
        fn typed<T: serde::de::DeserializeOwned + Serialize>(
            document: &serde_json::Value,
            check: impl Fn(&T) -> Result<(), AppError>,
        ) -> Result<serde_json::Value, AppError> {
            let value: T = serde_json::from_value(document.clone())
                .map_err(|error| invalid(format!("document: {error}")))?;
            check(&value)?;
            serde_json::to_value(&value).map_err(|error| AppError::Internal(error.to_string()))
        }
        match self {
            Self::Policy => typed::<PolicyDocument>(document, PolicyDocument::check),
            Self::Role => typed::<RoleDocument>(document, RoleDocument::check),
            Self::Risk => typed::<RiskDocument>(document, RiskDocument::check),
            Self::Applicability => {
                typed::<ApplicabilityDocument>(document, ApplicabilityDocument::check)
            }
            Self::Person => typed::<PersonDocument>(document, PersonDocument::check),
            Self::Audit => typed::<AuditDocument>(document, AuditDocument::check),
            Self::Certification => {
                typed::<CertificationDocument>(document, CertificationDocument::check)
            }
            Self::SubProcessor => {
                typed::<SubProcessorDocument>(document, SubProcessorDocument::check)
            }
            Self::Dpia => typed::<DpiaDocument>(document, DpiaDocument::check),
            Self::Change => typed::<ChangeDocument>(document, ChangeDocument::check),
            Self::Continuity => typed::<ContinuityDocument>(document, ContinuityDocument::check),
            Self::Processing => typed::<crate::records_of_processing::ProcessingDocument>(
                document,
                crate::records_of_processing::ProcessingDocument::check,
            ),
        }
    }
}

/// A policy document: its current version, approval and last review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    pub version: String,
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(default, with = "iso_date::option")]
    pub approved_on: Option<Date>,
    #[serde(default, with = "iso_date::option")]
    pub last_reviewed_on: Option<Date>,
    #[serde(default)]
    pub document_url: Option<String>,
}

impl PolicyDocument {
    fn check(&self) -> Result<(), AppError> {
        check_text("document.version", &self.version, 40, true)?;
        if let Some(by) = &self.approved_by {
            check_text("document.approved_by", by, MAX_TITLE_CHARS, true)?;
        }
        check_https("document.document_url", self.document_url.as_deref())
    }
}

/// A security role, what it answers for and who holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDocument {
    pub responsibilities: String,
    /// Who holds the role (a name, an email or a user id); none when vacant.
    #[serde(default)]
    pub holder: Option<String>,
}

impl RoleDocument {
    fn check(&self) -> Result<(), AppError> {
        check_text("document.responsibilities", &self.responsibilities, MAX_TEXT_CHARS, true)?;
        if let Some(holder) = &self.holder {
            check_text("document.holder", holder, MAX_TITLE_CHARS, false)?;
        }
        Ok(())
    }
}

/// How a risk is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    Reduce,
    Accept,
    Transfer,
    Avoid,
}

/// The side of the default risk matrix (likelihood and impact from 1 to this); an
/// organisation may set its own matrix.
pub const RISK_MATRIX_SIZE: u8 = 5;

/// A risk: threat, vulnerability, affected assets, likelihood × impact, treatment and residual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskDocument {
    pub threat: String,
    pub vulnerability: String,
    #[serde(default)]
    pub assets: Vec<String>,
    pub likelihood: u8,
    pub impact: u8,
    pub treatment: Treatment,
    /// Annex A control ids (`8.5`) or measures that treat it.
    #[serde(default)]
    pub controls: Vec<String>,
    pub residual_likelihood: u8,
    pub residual_impact: u8,
    /// The risk bears on the processing of personal data: at a high inherent level it is a
    /// high-risk processing that needs a DPIA.
    #[serde(default)]
    pub personal_data: bool,
    /// The `dpias` record assessing it.
    #[serde(default)]
    pub dpia: Option<Uuid>,
}

impl RiskDocument {
    /// The shape of a risk; its levels are checked against the organisation's matrix when
    /// the record is written.
    fn check(&self) -> Result<(), AppError> {
        let side = crate::compliance_evidence::MAX_MATRIX_SIDE;
        check_text("document.threat", &self.threat, MAX_TEXT_CHARS, true)?;
        check_text("document.vulnerability", &self.vulnerability, MAX_TEXT_CHARS, true)?;
        check_list("document.assets", &self.assets, false)?;
        check_list("document.controls", &self.controls, false)?;
        check_level("document.likelihood", self.likelihood, side)?;
        check_level("document.impact", self.impact, side)?;
        check_level("document.residual_likelihood", self.residual_likelihood, side)?;
        check_level("document.residual_impact", self.residual_impact, side)?;
        if self.treatment == Treatment::Reduce && self.controls.is_empty() {
            return Err(invalid(
                "document.controls: a reduced risk names the controls reducing it",
            ));
        }
        if u16::from(self.residual_likelihood) * u16::from(self.residual_impact)
            > u16::from(self.likelihood) * u16::from(self.impact)
        {
            return Err(invalid(
                "document.residual_likelihood: the residual risk exceeds the risk",
            ));
        }
        Ok(())
    }
}

/// One line of the Statement of Applicability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicabilityDocument {
    /// An ISO/IEC 27001:2022 Annex A control id (`5.1` … `8.34`).
    pub control_id: String,
    pub applicable: bool,
    /// `planned`, `partial` or `implemented`; absent for an excluded control.
    #[serde(default)]
    pub status: Option<String>,
    pub justification: String,
}

impl ApplicabilityDocument {
    fn check(&self) -> Result<(), AppError> {
        if report::iso27001::control(&self.control_id).is_none() {
            return Err(invalid(format!(
                "document.control_id: {:?} is not an Annex A control",
                self.control_id
            )));
        }
        check_text("document.justification", &self.justification, 4_000, true)?;
        match (&self.status, self.applicable) {
            (Some(_), false) => {
                Err(invalid("document.status: an excluded control has no implementation status"))
            }
            (Some(status), true)
                if !["planned", "partial", "implemented"].contains(&status.as_str()) =>
            {
                Err(invalid("document.status: expected planned, partial or implemented"))
            }
            (None, true) => Err(invalid("document.status: required for an applicable control")),
            _ => Ok(()),
        }
    }
}

/// A member of staff: agreements, trainings and departure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonDocument {
    /// Their Rampart user, if they have one.
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default, with = "iso_date::option")]
    pub nda_signed_on: Option<Date>,
    #[serde(default, with = "iso_date::option")]
    pub it_charter_accepted_on: Option<Date>,
    /// Dates of security trainings attended.
    #[serde(default)]
    pub trainings: Vec<TrainingDate>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub departed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub access_revoked_at: Option<OffsetDateTime>,
}

/// A date as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrainingDate(#[serde(with = "iso_date")] pub Date);

impl PersonDocument {
    fn check(&self) -> Result<(), AppError> {
        if self.trainings.len() > MAX_LIST_ITEMS {
            return Err(invalid(format!("document.trainings: at most {MAX_LIST_ITEMS}")));
        }
        if self.access_revoked_at.is_some() && self.departed_at.is_none() {
            return Err(invalid("document.access_revoked_at: only for someone who departed"));
        }
        Ok(())
    }
}

/// What kind of audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    Internal,
    External,
    Customer,
    IntrusionTest,
}

/// A finding of an audit and its corrective action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub title: String,
    pub corrective_action: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default, with = "iso_date::option")]
    pub due_on: Option<Date>,
    #[serde(default, with = "iso_date::option")]
    pub closed_on: Option<Date>,
}

/// An audit or intrusion test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditDocument {
    pub kind: AuditKind,
    pub scope: String,
    /// What the testers were told beforehand.
    #[serde(default)]
    pub testers_briefing: Option<String>,
    /// When the scope was shared with the testers.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub scope_shared_at: Option<OffsetDateTime>,
    #[serde(with = "iso_date")]
    pub starts_on: Date,
    #[serde(default, with = "iso_date::option")]
    pub ends_on: Option<Date>,
    #[serde(default)]
    pub findings: Vec<Finding>,
}

impl AuditDocument {
    fn check(&self) -> Result<(), AppError> {
        check_text("document.scope", &self.scope, MAX_TEXT_CHARS, true)?;
        if let Some(briefing) = &self.testers_briefing {
            check_text("document.testers_briefing", briefing, MAX_TEXT_CHARS, false)?;
        }
        if self.ends_on.is_some_and(|ends| ends < self.starts_on) {
            return Err(invalid("document.ends_on: before starts_on"));
        }
        if self.findings.len() > MAX_LIST_ITEMS {
            return Err(invalid(format!("document.findings: at most {MAX_LIST_ITEMS}")));
        }
        for (index, finding) in self.findings.iter().enumerate() {
            let field = format!("document.findings[{index}]");
            check_text(&format!("{field}.title"), &finding.title, MAX_TITLE_CHARS, true)?;
            check_text(
                &format!("{field}.corrective_action"),
                &finding.corrective_action,
                MAX_TEXT_CHARS,
                true,
            )?;
        }
        Ok(())
    }
}

/// A certification held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificationDocument {
    pub standard: String,
    pub issuer: String,
    #[serde(with = "iso_date")]
    pub valid_until: Date,
    #[serde(default)]
    pub certificate_url: Option<String>,
    /// What the certificate covers, as shown on the public trust page.
    #[serde(default)]
    pub scope: Option<String>,
}

impl CertificationDocument {
    fn check(&self) -> Result<(), AppError> {
        check_text("document.standard", &self.standard, MAX_TITLE_CHARS, true)?;
        check_text("document.issuer", &self.issuer, MAX_TITLE_CHARS, true)?;
        if let Some(scope) = &self.scope {
            check_text("document.scope", scope, MAX_TEXT_CHARS, false)?;
        }
        check_https("document.certificate_url", self.certificate_url.as_deref())
    }
}

/// The legal ground of a transfer outside the EEA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferMechanism {
    /// Inside the EEA or a country with an adequacy decision.
    Adequacy,
    StandardContractualClauses,
    BindingCorporateRules,
    None,
}

/// A sub-processor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubProcessorDocument {
    pub service: String,
    pub data_categories: Vec<String>,
    /// ISO 3166-1 alpha-2 codes of where data is processed.
    pub countries: Vec<String>,
    pub transfer_mechanism: TransferMechanism,
    /// `low`, `medium`, `high` or `critical`.
    pub criticality: String,
    #[serde(default)]
    pub security_assessment: Option<String>,
    #[serde(default, with = "iso_date::option")]
    pub last_reviewed_on: Option<Date>,
    #[serde(default, with = "iso_date::option")]
    pub contract_signed_on: Option<Date>,
    #[serde(default, with = "iso_date::option")]
    pub dpa_signed_on: Option<Date>,
    /// Listed on the public sub-processor list.
    #[serde(default)]
    pub public: bool,
    /// What it does for the service, as shown on the public list.
    #[serde(default)]
    pub purpose: Option<String>,
}

impl SubProcessorDocument {
    fn check(&self) -> Result<(), AppError> {
        check_text("document.service", &self.service, MAX_TITLE_CHARS, true)?;
        check_list("document.data_categories", &self.data_categories, true)?;
        check_list("document.countries", &self.countries, true)?;
        for country in &self.countries {
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(invalid(format!(
                    "document.countries: {country:?} is not an ISO 3166-1 alpha-2 code"
                )));
            }
        }
        if !["low", "medium", "high", "critical"].contains(&self.criticality.as_str()) {
            return Err(invalid("document.criticality: expected low, medium, high or critical"));
        }
        if let Some(assessment) = &self.security_assessment {
            check_text("document.security_assessment", assessment, MAX_TEXT_CHARS, false)?;
        }
        if let Some(purpose) = &self.purpose {
            check_text("document.purpose", purpose, MAX_TEXT_CHARS, false)?;
        }
        Ok(())
    }

    fn critical(&self) -> bool {
        matches!(self.criticality.as_str(), "high" | "critical")
    }
}

/// The three risks of the CNIL method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DpiaRiskKind {
    IllegitimateAccess,
    UnwantedModification,
    Disappearance,
}

/// One risk of a DPIA, severity and likelihood on four levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpiaRisk {
    pub kind: DpiaRiskKind,
    pub impacts: String,
    pub threats: String,
    pub sources: String,
    pub measures: String,
    pub severity: u8,
    pub likelihood: u8,
}

/// A data protection impact assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpiaDocument {
    pub context: String,
    pub principles: String,
    pub risks: Vec<DpiaRisk>,
    #[serde(default, with = "iso_date::option")]
    pub dpo_validated_on: Option<Date>,
    #[serde(default)]
    pub dpo_opinion: Option<String>,
}

impl DpiaDocument {
    fn check(&self) -> Result<(), AppError> {
        check_text("document.context", &self.context, MAX_TEXT_CHARS, true)?;
        check_text("document.principles", &self.principles, MAX_TEXT_CHARS, true)?;
        let mut seen = HashSet::new();
        for (index, risk) in self.risks.iter().enumerate() {
            let field = format!("document.risks[{index}]");
            if !seen.insert(risk.kind) {
                return Err(invalid(format!("{field}.kind: appears twice")));
            }
            for (name, text) in [
                ("impacts", &risk.impacts),
                ("threats", &risk.threats),
                ("sources", &risk.sources),
                ("measures", &risk.measures),
            ] {
                check_text(&format!("{field}.{name}"), text, MAX_TEXT_CHARS, true)?;
            }
            check_level(&format!("{field}.severity"), risk.severity, 4)?;
            check_level(&format!("{field}.likelihood"), risk.likelihood, 4)?;
        }
        if seen.len() != 3 {
            return Err(invalid(
                "document.risks: the three risks are required (illegitimate_access, \
                 unwanted_modification, disappearance)",
            ));
        }
        if let Some(opinion) = &self.dpo_opinion {
            check_text("document.dpo_opinion", opinion, MAX_TEXT_CHARS, false)?;
        }
        Ok(())
    }
}

/// A change to the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeDocument {
    pub description: String,
    /// `low`, `medium` or `high`.
    pub risk: String,
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub window_starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub window_ends_at: OffsetDateTime,
    pub rollback_plan: String,
    /// What customers will notice; none when nothing.
    #[serde(default)]
    pub customer_impact: Option<String>,
    /// Published on the public changes page.
    #[serde(default)]
    pub published: bool,
}

impl ChangeDocument {
    fn check(&self) -> Result<(), AppError> {
        check_text("document.description", &self.description, MAX_TEXT_CHARS, true)?;
        if !["low", "medium", "high"].contains(&self.risk.as_str()) {
            return Err(invalid("document.risk: expected low, medium or high"));
        }
        if self.window_ends_at < self.window_starts_at {
            return Err(invalid("document.window_ends_at: before window_starts_at"));
        }
        check_text("document.rollback_plan", &self.rollback_plan, MAX_TEXT_CHARS, true)?;
        if let Some(impact) = &self.customer_impact {
            check_text("document.customer_impact", impact, MAX_TEXT_CHARS, false)?;
        }
        Ok(())
    }

    fn customer_impacting(&self) -> bool {
        self.customer_impact.as_deref().is_some_and(|impact| !impact.trim().is_empty())
    }
}

/// The result of a restore test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreOutcome {
    Passed,
    Failed,
}

/// A restore test of a critical operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreTest {
    #[serde(with = "iso_date")]
    pub tested_on: Date,
    pub result: RestoreOutcome,
    #[serde(default)]
    pub notes: String,
}

/// A critical operation with its recovery objectives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinuityDocument {
    pub rto_minutes: u32,
    pub rpo_minutes: u32,
    pub procedure: String,
    #[serde(default)]
    pub restore_tests: Vec<RestoreTest>,
}

impl ContinuityDocument {
    fn check(&self) -> Result<(), AppError> {
        check_text("document.procedure", &self.procedure, MAX_TEXT_CHARS, true)?;
        if self.restore_tests.len() > MAX_LIST_ITEMS {
            return Err(invalid(format!("document.restore_tests: at most {MAX_LIST_ITEMS}")));
        }
        for (index, test) in self.restore_tests.iter().enumerate() {
            check_text(
                &format!("document.restore_tests[{index}].notes"),
                &test.notes,
                MAX_TEXT_CHARS,
                false,
            )?;
        }
        Ok(())
    }
}

/// A register record as a client sends it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    #[serde(default)]
    pub title: String,
    /// A user of the organisation: id or email.
    #[serde(default)]
    pub owner: Option<String>,
    /// `YYYY-MM-DD`; for a policy without one, a year after its last review (or approval).
    #[serde(default, with = "iso_date::option")]
    pub review_due: Option<Date>,
    #[serde(default)]
    pub document: serde_json::Value,
}

/// A register record with its document parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordView {
    pub id: Uuid,
    pub register: String,
    pub title: String,
    pub owner: Option<UserId>,
    pub review_due: Option<Date>,
    /// The review date has passed.
    pub review_overdue: bool,
    pub document: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// For a risk: its inherent and residual levels on the organisation's matrix.
    pub risk_assessment: Option<crate::compliance_evidence::RiskAssessment>,
}

fn view_of(record: ComplianceRecord, today: Date) -> RecordView {
    RecordView {
        risk_assessment: None,
        id: record.id,
        document: serde_json::from_str(&record.document).unwrap_or(serde_json::Value::Null),
        review_overdue: record.review_due.is_some_and(|due| due < today),
        register: record.register,
        title: record.title,
        owner: record.owner_id,
        review_due: record.review_due,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

/// The annex formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnexFormat {
    Html,
    Markdown,
    Pdf,
}

/// A rendered annex with the checkpoint it was computed at.
#[derive(Debug, Clone)]
pub struct RenderedAnnex {
    pub format: AnnexFormat,
    pub body: Vec<u8>,
    pub tree_size: u64,
    pub root_hash_hex: String,
    pub generated_at: OffsetDateTime,
    /// The annex's marking (`Confidential (TLP:AMBER)`), from the organisation's scheme.
    pub classification: String,
}

/// Spreadsheet programs run a cell starting with `=`, `+`, `-`, `@`, tab or CR as a formula.
fn csv_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

async fn resolve_owner(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    reference: &str,
) -> Result<UserId, AppError> {
    let reference = reference.trim();
    let user = match reference.parse::<UserId>() {
        Ok(id) => transaction.get_user(id).await?,
        Err(_) => transaction.find_user_by_email(&reference.to_lowercase()).await?,
    };
    match user {
        Some(user)
            if user.organization_id == organization_id && user.status == UserStatus::Active =>
        {
            Ok(user.id)
        }
        _ => {
            Err(invalid(format!("owner: {reference:?} is not an active user of the organization")))
        }
    }
}

impl App {
    async fn checked_record(
        &self,
        transaction: &mut Transaction,
        organization_id: OrganizationId,
        register: RegisterKind,
        input: &RecordInput,
    ) -> Result<(String, Option<UserId>, Option<Date>, String), AppError> {
        check_text("title", &input.title, MAX_TITLE_CHARS, true)?;
        let document = register.validate(&input.document)?;
        if register == RegisterKind::Processing {
            self.check_processing_references(transaction, organization_id, &document).await?;
        }
        if register == RegisterKind::Risk {
            self.check_risk_on_matrix(transaction, organization_id, &document).await?;
        }
        let owner = match input.owner.as_deref().filter(|text| !text.trim().is_empty()) {
            Some(reference) => Some(resolve_owner(transaction, organization_id, reference).await?),
            None => None,
        };
        let mut review_due = input.review_due;
        if review_due.is_none() && register == RegisterKind::Policy {
            let policy: PolicyDocument = serde_json::from_value(document.clone())
                .map_err(|error| AppError::Internal(error.to_string()))?;
            review_due = policy
                .last_reviewed_on
                .or(policy.approved_on)
                .map(|date| date.saturating_add(time::Duration::days(365)));
        }
        let text = serde_json::to_string(&document)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        Ok((input.title.trim().to_owned(), owner, review_due, text))
    }

    fn record_event(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: &str,
        record: &ComplianceRecord,
        context: &RequestContext,
    ) -> base::AuditEvent {
        let mut event = self.success_event(
            principal,
            organization_id,
            action,
            Resource::new("compliance_record", record.id),
            context,
        );
        event.details.insert("register".into(), record.register.clone().into());
        event.details.insert("title".into(), record.title.clone().into());
        event
    }

    pub async fn create_compliance_record(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        register: RegisterKind,
        input: &RecordInput,
        context: &RequestContext,
    ) -> Result<RecordView, AppError> {
        self.authorize_in(principal, organization_id, "compliance:registers:write", context)
            .await?;
        let mut transaction = self.store.begin().await?;
        let (title, owner_id, review_due, document) =
            self.checked_record(&mut transaction, organization_id, register, input).await?;
        let now = self.clock.now();
        let record = ComplianceRecord {
            id: new_id(now),
            organization_id,
            register: register.as_str().to_owned(),
            title,
            owner_id,
            review_due,
            document,
            created_at: now,
            updated_at: now,
        };
        transaction.insert_compliance_record(&record).await?;
        let event = self.record_event(
            principal,
            organization_id,
            "compliance.record.create",
            &record,
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.assessed(organization_id, view_of(record, self.today())).await
    }

    pub async fn update_compliance_record(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        register: RegisterKind,
        id: Uuid,
        input: &RecordInput,
        context: &RequestContext,
    ) -> Result<RecordView, AppError> {
        self.authorize_in(principal, organization_id, "compliance:registers:write", context)
            .await?;
        let mut transaction = self.store.begin().await?;
        let existing = transaction
            .get_compliance_record(organization_id, id)
            .await?
            .filter(|record| record.register == register.as_str())
            .ok_or(AppError::NotFound("record"))?;
        let (title, owner_id, review_due, document) =
            self.checked_record(&mut transaction, organization_id, register, input).await?;
        let record = ComplianceRecord {
            title,
            owner_id,
            review_due,
            document,
            updated_at: self.clock.now(),
            ..existing
        };
        transaction.update_compliance_record(&record).await?;
        let event = self.record_event(
            principal,
            organization_id,
            "compliance.record.update",
            &record,
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.assessed(organization_id, view_of(record, self.today())).await
    }

    pub async fn delete_compliance_record(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        register: RegisterKind,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_in(principal, organization_id, "compliance:registers:write", context)
            .await?;
        let mut transaction = self.store.begin().await?;
        let existing = transaction
            .get_compliance_record(organization_id, id)
            .await?
            .filter(|record| record.register == register.as_str())
            .ok_or(AppError::NotFound("record"))?;
        transaction.delete_compliance_record(organization_id, id).await?;
        let event = self.record_event(
            principal,
            organization_id,
            "compliance.record.delete",
            &existing,
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn get_compliance_record(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        register: RegisterKind,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<RecordView, AppError> {
        self.authorize_in(principal, organization_id, "compliance:registers:read", context).await?;
        let mut read = self.store.read().await?;
        let record = read
            .get_compliance_record(organization_id, id)
            .await?
            .filter(|record| record.register == register.as_str())
            .ok_or(AppError::NotFound("record"))?;
        read.commit().await?;
        self.assessed(organization_id, view_of(record, self.today())).await
    }

    pub async fn list_compliance_records(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        register: RegisterKind,
        context: &RequestContext,
    ) -> Result<Vec<RecordView>, AppError> {
        self.authorize_in(principal, organization_id, "compliance:registers:read", context).await?;
        let mut read = self.store.read().await?;
        let records =
            read.list_compliance_records(organization_id, Some(register.as_str())).await?;
        read.commit().await?;
        let today = self.today();
        let views = records.into_iter().map(|record| view_of(record, today)).collect();
        self.all_assessed(organization_id, views).await
    }

    /// A register as CSV, the first line its classification marking (the register's level in
    /// the organisation's scheme); the export is an audit event.
    pub async fn export_compliance_csv(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        register: RegisterKind,
        context: &RequestContext,
    ) -> Result<String, AppError> {
        let views =
            self.list_compliance_records(principal, organization_id, register, context).await?;
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        let csv_error = |error: csv::Error| AppError::Internal(format!("csv: {error}"));
        let mut header = vec!["id", "title", "owner", "review_due", "updated_at", "document"];
        if register == RegisterKind::Risk {
            header.extend(["inherent_score", "inherent_level", "residual_score", "residual_level"]);
        }
        writer.write_record(&header).map_err(csv_error)?;
        for view in &views {
            let review_due = view.review_due.map(|date| date.to_string()).unwrap_or_default();
            let updated_at = view
                .updated_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let mut row = vec![
                view.id.to_string(),
                csv_safe(&view.title),
                view.owner.map(|id| id.to_string()).unwrap_or_default(),
                review_due,
                updated_at,
                csv_safe(&view.document.to_string()),
            ];
            if register == RegisterKind::Risk {
                match &view.risk_assessment {
                    Some(assessment) => row.extend([
                        assessment.inherent.score.to_string(),
                        assessment.inherent.level.as_str().to_owned(),
                        assessment.residual.score.to_string(),
                        assessment.residual.level.as_str().to_owned(),
                    ]),
                    None => {
                        row.extend([String::new(), String::new(), String::new(), String::new()])
                    }
                }
            }
            writer.write_record(&row).map_err(csv_error)?;
        }
        let body =
            writer.into_inner().map_err(|error| AppError::Internal(format!("csv: {error}")))?;
        let body =
            String::from_utf8(body).map_err(|error| AppError::Internal(error.to_string()))?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "compliance.register.export",
            Resource::new("compliance_register", register.as_str()),
            context,
        );
        let marking = self
            .export_marking(organization_id, &crate::register_export_kind(register.as_str()), None)
            .await?;
        event.details.insert("register".into(), register.as_str().into());
        event.details.insert("rows".into(), views.len().into());
        event.details.insert("format".into(), "csv".into());
        event.details.insert("classification".into(), marking.header_value().into());
        let mut transaction = self.store.begin().await?;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(format!("{}{body}", marking.csv_line()))
    }

    /// Evaluate the checks on demand for a principal.
    pub async fn run_evidence(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<CheckResult>, AppError> {
        self.authorize_in(principal, organization_id, "compliance:evidence:run", context).await?;
        self.evaluate_and_store(organization_id, &principal.actor, context).await
    }

    /// The daily run: every organisation that keeps at least one register record. Returns
    /// how many organisations were evaluated; one organisation's failure does not stop the
    /// others.
    pub async fn run_daily_evidence(&self) -> Result<usize, AppError> {
        let mut read = self.store.read().await?;
        let organizations = read.organizations_with_registers().await?;
        read.commit().await?;
        let mut n_done = 0;
        for organization_id in organizations {
            match self
                .evaluate_and_store(organization_id, &Actor::System, &RequestContext::default())
                .await
            {
                Ok(_) => n_done += 1,
                Err(error) => {
                    tracing::error!(organization = %organization_id, %error, "evidence run failed");
                }
            }
        }
        Ok(n_done)
    }

    async fn evaluate_and_store(
        &self,
        organization_id: OrganizationId,
        actor: &Actor,
        context: &RequestContext,
    ) -> Result<Vec<CheckResult>, AppError> {
        let now = self.clock.now();
        let results = self.evaluate_checks(organization_id, now).await?;
        let mut transaction = self.store.begin().await?;
        for result in &results {
            let text = serde_json::to_string(result)
                .map_err(|error| AppError::Internal(error.to_string()))?;
            transaction
                .insert_evidence_result(&EvidenceResultRecord {
                    id: new_id(now),
                    organization_id,
                    check_id: result.check_id.clone(),
                    ran_at: now,
                    result: text,
                })
                .await?;
        }
        let mut event = self.event(
            actor,
            organization_id,
            "compliance.evidence.run",
            Resource::new("evidence", organization_id),
        );
        event.context = context.clone();
        event.details.insert("checks".into(), results.len().into());
        event
            .details
            .insert("failed".into(), results.iter().filter(|result| !result.passed).count().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(results)
    }

    /// Gather the facts and evaluate every check Rampart holds facts for.
    async fn evaluate_checks(
        &self,
        organization_id: OrganizationId,
        now: OffsetDateTime,
    ) -> Result<Vec<CheckResult>, AppError> {
        let mut read = self.store.read().await?;
        let mut users: Vec<UserRecord> = Vec::new();
        loop {
            let page =
                read.list_users(organization_id, users.last().map(|user| user.id), 1_000).await?;
            let done = page.len() < 1_000;
            users.extend(page);
            if done {
                break;
            }
        }
        let with_mfa: HashSet<UserId> =
            read.users_with_confirmed_mfa(organization_id).await?.into_iter().collect();
        let assets = read.list_assets(organization_id).await?;
        let disposals = read.list_disposals(organization_id).await?;
        let records = read.list_compliance_records(organization_id, None).await?;
        read.commit().await?;

        let mut results = Vec::new();
        let active: HashSet<UserId> = users
            .iter()
            .filter(|user| user.status == UserStatus::Active)
            .map(|user| user.id)
            .collect();

        // Identities: owners hold every right on their organisation.
        let accounts: Vec<checks::AccountFact> = users
            .iter()
            .map(|user| checks::AccountFact {
                id: user.id.to_string(),
                label: user.email.clone(),
                active: user.status == UserStatus::Active,
                privileged: user.role == UserRole::Owner,
                mfa_enrolled: with_mfa.contains(&user.id),
                shared: false,
                shared_exception_approved: false,
                last_used_at: None,
            })
            .collect();
        results.push(checks::check_privileged_mfa(&accounts, now));

        // Assets: an owner who is no longer an active user is no owner.
        if !assets.is_empty() {
            let certificates: HashMap<Uuid, String> = disposals
                .into_iter()
                .map(|disposal| (disposal.asset_id, disposal.certificate_ref))
                .collect();
            let facts: Vec<checks::AssetFact> = assets
                .iter()
                .map(|asset| checks::AssetFact {
                    id: asset.id.to_string(),
                    label: asset.name.clone(),
                    owner: active.contains(&asset.owner_id).then(|| asset.owner_id.to_string()),
                    disposed_at: (asset.lifecycle == Lifecycle::Disposed)
                        .then_some(asset.updated_at),
                    erasure_record: certificates.get(&asset.id).cloned(),
                })
                .collect();
            results.push(checks::check_asset_owners(&facts, now));
            if facts.iter().any(|fact| fact.disposed_at.is_some()) {
                results.push(checks::check_disposed_asset_erasure(&facts, now));
            }
        }

        let documents = |kind: RegisterKind| {
            records.iter().filter(move |record| record.register == kind.as_str())
        };
        fn parsed<T: serde::de::DeserializeOwned>(record: &ComplianceRecord) -> Option<T> {
            serde_json::from_str(&record.document).ok()
        }

        let policies: Vec<checks::DatedRecordFact> = documents(RegisterKind::Policy)
            .filter_map(|record| {
                let policy: PolicyDocument = parsed(record)?;
                Some(checks::DatedRecordFact {
                    id: record.id.to_string(),
                    label: record.title.clone(),
                    last_at: policy.last_reviewed_on.or(policy.approved_on).map(midnight),
                })
            })
            .collect();
        if !policies.is_empty() {
            results.push(checks::check_policy_reviews(&policies, now));
        }

        let roles: Vec<checks::RoleFact> = documents(RegisterKind::Role)
            .filter_map(|record| {
                let role: RoleDocument = parsed(record)?;
                Some(checks::RoleFact {
                    role_id: record.id.to_string(),
                    label: record.title.clone(),
                    holder: role.holder,
                })
            })
            .collect();
        if !roles.is_empty() {
            results.push(checks::check_roles_assigned(&roles, now));
        }

        let people: Vec<(&ComplianceRecord, PersonDocument)> = documents(RegisterKind::Person)
            .filter_map(|record| Some((record, parsed(record)?)))
            .collect();
        let staff: Vec<&(&ComplianceRecord, PersonDocument)> =
            people.iter().filter(|(_, person)| person.departed_at.is_none()).collect();
        if !staff.is_empty() {
            let training: Vec<checks::DatedRecordFact> = staff
                .iter()
                .map(|(record, person)| checks::DatedRecordFact {
                    id: record.id.to_string(),
                    label: record.title.clone(),
                    last_at: person.trainings.iter().max().map(|date| midnight(date.0)),
                })
                .collect();
            results.push(checks::check_staff_training(&training, now));
            let agreements: Vec<checks::StaffAgreementFact> = staff
                .iter()
                .map(|(record, person)| checks::StaffAgreementFact {
                    person_id: record.id.to_string(),
                    label: record.title.clone(),
                    nda_signed: person.nda_signed_on.is_some(),
                    it_charter_signed: person.it_charter_accepted_on.is_some(),
                })
                .collect();
            results.push(checks::check_staff_agreements(&agreements, now));
        }
        let leavers: Vec<checks::LeaverFact> = people
            .iter()
            .filter_map(|(record, person)| {
                Some(checks::LeaverFact {
                    person_id: record.id.to_string(),
                    label: record.title.clone(),
                    left_at: person.departed_at?,
                    access_revoked_at: person.access_revoked_at,
                })
            })
            .collect();
        if !leavers.is_empty() {
            results.push(checks::check_leaver_revocation(&leavers, now));
        }

        let audits: Vec<(&ComplianceRecord, AuditDocument)> = documents(RegisterKind::Audit)
            .filter_map(|record| Some((record, parsed(record)?)))
            .collect();
        if !audits.is_empty() {
            let held: Vec<checks::DatedRecordFact> = audits
                .iter()
                .filter(|(_, audit)| audit.kind != AuditKind::IntrusionTest)
                .map(|(record, audit)| checks::DatedRecordFact {
                    id: record.id.to_string(),
                    label: record.title.clone(),
                    last_at: Some(midnight(audit.ends_on.unwrap_or(audit.starts_on))),
                })
                .collect();
            if !held.is_empty() {
                results.push(checks::check_audits_held(&held, now));
            }
            let tests: Vec<checks::IntrusionTestFact> = audits
                .iter()
                .filter(|(_, audit)| audit.kind == AuditKind::IntrusionTest)
                .map(|(record, audit)| checks::IntrusionTestFact {
                    test_id: record.id.to_string(),
                    label: record.title.clone(),
                    starts_at: midnight(audit.starts_on),
                    scope_shared_at: audit.scope_shared_at,
                })
                .collect();
            if !tests.is_empty() {
                results.push(checks::check_intrusion_test_scope(&tests, now));
            }
        }

        let subprocessors: Vec<checks::SubProcessorFact> = documents(RegisterKind::SubProcessor)
            .filter_map(|record| {
                let sub: SubProcessorDocument = parsed(record)?;
                Some(checks::SubProcessorFact {
                    id: record.id.to_string(),
                    label: record.title.clone(),
                    critical: sub.critical(),
                    last_reviewed_at: sub.last_reviewed_on.map(midnight),
                    adequate_country: sub.transfer_mechanism == TransferMechanism::Adequacy,
                    standard_contractual_clauses: matches!(
                        sub.transfer_mechanism,
                        TransferMechanism::StandardContractualClauses
                            | TransferMechanism::BindingCorporateRules
                    ),
                })
            })
            .collect();
        if !subprocessors.is_empty() {
            results.push(checks::check_critical_subprocessor_reviews(&subprocessors, now));
            results.push(checks::check_transfer_safeguards(&subprocessors, now));
        }

        let changes: Vec<checks::ChangeFact> = documents(RegisterKind::Change)
            .filter_map(|record| {
                let change: ChangeDocument = parsed(record)?;
                Some(checks::ChangeFact {
                    change_id: record.id.to_string(),
                    label: record.title.clone(),
                    customer_impacting: change.customer_impacting(),
                    published: change.published,
                })
            })
            .collect();
        if !changes.is_empty() {
            results.push(checks::check_changes_published(&changes, now));
        }

        let restore_tests: Vec<checks::DatedRecordFact> = documents(RegisterKind::Continuity)
            .filter_map(|record| {
                let operation: ContinuityDocument = parsed(record)?;
                Some(checks::DatedRecordFact {
                    id: record.id.to_string(),
                    label: record.title.clone(),
                    last_at: operation
                        .restore_tests
                        .iter()
                        .filter(|test| test.result == RestoreOutcome::Passed)
                        .map(|test| test.tested_on)
                        .max()
                        .map(midnight),
                })
            })
            .collect();
        if !restore_tests.is_empty() {
            results.push(checks::check_restore_test(&restore_tests, now));
        }

        results.extend(self.live_check_results(organization_id, now).await?);
        results.push(self.audit_log_result(organization_id, now).await?);
        Ok(results)
    }

    /// `audit.log_checkpoint`: the latest signed checkpoint against the tree recomputed from
    /// the stored nodes.
    async fn audit_log_result(
        &self,
        organization_id: OrganizationId,
        now: OffsetDateTime,
    ) -> Result<CheckResult, AppError> {
        let checkpoint = self.compliance_checkpoint(organization_id).await?;
        let verifiers: Vec<audit::NoteVerifier> = self
            .audit_verifier_keys()
            .await?
            .iter()
            .filter_map(|(key, _)| audit::NoteVerifier::from_verifier_key(key).ok())
            .collect();
        let verdict = self.check_organization(organization_id, &verifiers, 64).await?;
        let root_hex = hex::encode(&checkpoint.root);
        let fact = checks::AuditLogFact {
            organisation_id: organization_id.to_string(),
            label: "audit log".to_owned(),
            checkpoint_tree_size: checkpoint.size,
            checkpoint_root_hex: root_hex.clone(),
            checkpoint_signature_valid: verdict.is_ok(),
            verified_tree_size: checkpoint.size,
            verified_root_hex: if verdict.is_ok() { root_hex } else { String::new() },
        };
        Ok(checks::check_audit_log_checkpoints(&[fact], now))
    }

    async fn compliance_checkpoint(
        &self,
        organization_id: OrganizationId,
    ) -> Result<store::CheckpointRow, AppError> {
        self.fresh_checkpoint(organization_id).await
    }

    /// The latest result of each check.
    pub async fn latest_evidence(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<CheckResult>, AppError> {
        self.authorize_in(principal, organization_id, "compliance:evidence:read", context).await?;
        self.stored_latest_results(organization_id).await
    }

    async fn stored_latest_results(
        &self,
        organization_id: OrganizationId,
    ) -> Result<Vec<CheckResult>, AppError> {
        let mut read = self.store.read().await?;
        let rows = read.latest_evidence_results(organization_id).await?;
        read.commit().await?;
        rows.iter()
            .map(|row| {
                serde_json::from_str(&row.result)
                    .map_err(|error| AppError::Internal(format!("stored result: {error}")))
            })
            .collect()
    }

    /// One check's results, newest first.
    pub async fn evidence_history(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        check_id: &str,
        context: &RequestContext,
    ) -> Result<Vec<CheckResult>, AppError> {
        if checks::check_definition(check_id).is_none() {
            return Err(AppError::NotFound("check"));
        }
        self.authorize_in(principal, organization_id, "compliance:evidence:read", context).await?;
        let mut read = self.store.read().await?;
        let rows = read.evidence_history(organization_id, check_id, MAX_HISTORY).await?;
        read.commit().await?;
        rows.iter()
            .map(|row| {
                serde_json::from_str(&row.result)
                    .map_err(|error| AppError::Internal(format!("stored result: {error}")))
            })
            .collect()
    }

    /// The live annex from the latest results, marked with the checkpoint of the
    /// organisation's audit log at generation time.
    pub async fn render_annex(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        format: AnnexFormat,
        context: &RequestContext,
    ) -> Result<RenderedAnnex, AppError> {
        self.authorize_in(principal, organization_id, "compliance:evidence:read", context).await?;
        let results = self.stored_latest_results(organization_id).await?;
        let manual = self.annex_manual_evidence(organization_id).await?;
        let checkpoint = self.compliance_checkpoint(organization_id).await?;
        let marking = self.export_marking(organization_id, "annex", None).await?;
        let annex = self.render_annex_marked(&results, &manual, &checkpoint, format, &marking)?;
        let format_name = match format {
            AnnexFormat::Html => "html",
            AnnexFormat::Markdown => "markdown",
            AnnexFormat::Pdf => "pdf",
        };
        let resource = Resource::kind_only("annex");
        self.record_export(
            principal,
            organization_id,
            "compliance.annex.export",
            resource,
            format_name,
            results.len(),
            &marking,
            context,
        )
        .await?;
        Ok(annex)
    }

    /// Render already gathered results with the default scheme's annex level (the
    /// benchmark's entry point).
    pub fn render_annex_from(
        &self,
        results: &[CheckResult],
        checkpoint: &store::CheckpointRow,
        format: AnnexFormat,
    ) -> Result<RenderedAnnex, AppError> {
        self.render_annex_with(results, &[], checkpoint, format)
    }

    /// Render gathered results and the manual evidence shown next to its measures, with the
    /// default scheme's annex level.
    pub fn render_annex_with(
        &self,
        results: &[CheckResult],
        manual: &[checks::ManualEvidence],
        checkpoint: &store::CheckpointRow,
        format: AnnexFormat,
    ) -> Result<RenderedAnnex, AppError> {
        let marking = crate::OrganizationScheme::default().marking("annex", None);
        self.render_annex_marked(results, manual, checkpoint, format, &marking)
    }

    fn render_annex_marked(
        &self,
        results: &[CheckResult],
        manual: &[checks::ManualEvidence],
        checkpoint: &store::CheckpointRow,
        format: AnnexFormat,
        classification: &crate::ExportMarking,
    ) -> Result<RenderedAnnex, AppError> {
        let generated_at = self.clock.now();
        let root_hash_hex = hex::encode(&checkpoint.root);
        let marking = report::render::DocumentMarking {
            classification: classification.level.clone(),
            tlp_label: classification.tlp.to_string(),
            generated_at,
            checkpoint: report::render::AuditCheckpoint {
                tree_size: checkpoint.size,
                root_hash_hex: root_hash_hex.clone(),
            },
        };
        let annex = report::render::LiveAnnex::build(
            results,
            manual,
            marking,
            &report::render::RenderOptions::default(),
        )
        .map_err(|error| AppError::Internal(format!("annex: {error}")))?;
        let body = match format {
            AnnexFormat::Html => report::render::render_html(&annex).into_bytes(),
            AnnexFormat::Markdown => report::render::render_markdown(&annex).into_bytes(),
            AnnexFormat::Pdf => report::render::render_pdf(&annex),
        };
        Ok(RenderedAnnex {
            format,
            body,
            tree_size: checkpoint.size,
            root_hash_hex,
            generated_at,
            classification: format!("{} ({})", classification.level, classification.tlp),
        })
    }
}

/// The public changes page and Atom feed, as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangesFormat {
    Html,
    Atom,
}

impl App {
    /// The provider's published, customer-impacting changes, newest first: the public changes
    /// page or its Atom feed. Needs no authentication; shows only what the provider published.
    pub async fn public_changes(&self, format: ChangesFormat) -> Result<String, AppError> {
        use store::OrganizationRepository as _;
        let mut read = self.store.read().await?;
        let provider = read
            .provider_organization()
            .await?
            .ok_or(AppError::NotFound("provider organization"))?;
        let records =
            read.list_compliance_records(provider.id, Some(RegisterKind::Change.as_str())).await?;
        read.commit().await?;
        let mut entries: Vec<report::public::ChangeEntry> = records
            .iter()
            .filter_map(|record| {
                let change: ChangeDocument = serde_json::from_str(&record.document).ok()?;
                let impact = change.customer_impact.filter(|impact| !impact.trim().is_empty())?;
                change.published.then(|| report::public::ChangeEntry {
                    id: format!("urn:uuid:{}", record.id),
                    title: record.title.clone(),
                    summary: impact,
                    published: record.created_at,
                    updated: record.updated_at,
                    url: None,
                })
            })
            .collect();
        entries.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| b.id.cmp(&a.id)));
        let feed = report::public::ChangeFeed {
            id: format!("urn:uuid:{}", provider.id.as_uuid()),
            title: format!("{} — changes", provider.name.as_str()),
            author_name: provider.name.as_str().to_owned(),
            page_url: "/changes".to_owned(),
            feed_url: "/changes.atom".to_owned(),
            entries,
        };
        let rendered = match format {
            ChangesFormat::Html => report::public::render_changes_page(&feed),
            ChangesFormat::Atom => report::public::render_atom_feed(&feed, self.clock.now()),
        };
        rendered.map_err(|error| AppError::Internal(format!("changes page: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_names_round_trip() {
        for kind in RegisterKind::ALL {
            assert_eq!(RegisterKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(RegisterKind::parse("policy"), None);
    }

    proptest::proptest! {
        /// Validation is total: any JSON document is accepted or refused with a message,
        /// never a panic, for every register.
        #[test]
        fn validation_never_panics(text in ".{0,200}", number in proptest::num::i64::ANY) {
            let documents = [
                serde_json::json!(text),
                serde_json::json!({"version": text, "likelihood": number}),
                serde_json::json!({"control_id": text, "applicable": true, "justification": text}),
                serde_json::json!({"threat": text, "vulnerability": text, "likelihood": number,
                    "impact": 3, "treatment": "accept", "residual_likelihood": 1,
                    "residual_impact": 1}),
                serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default(),
            ];
            for kind in RegisterKind::ALL {
                for document in &documents {
                    let _ = kind.validate(document);
                }
            }
        }
    }

    #[test]
    fn a_risk_is_checked_against_the_matrix() {
        let risk = |likelihood: u8, residual: u8, treatment: &str| {
            serde_json::json!({"threat": "t", "vulnerability": "v", "likelihood": likelihood,
                "impact": 4, "treatment": treatment, "controls": ["8.5"],
                "residual_likelihood": residual, "residual_impact": 2})
        };
        assert!(RegisterKind::Risk.validate(&risk(3, 1, "reduce")).is_ok());
        // The organisation's matrix bounds the levels when a record is written; the shape
        // alone allows up to the largest matrix.
        assert!(RegisterKind::Risk.validate(&risk(6, 1, "reduce")).is_ok());
        assert!(RegisterKind::Risk.validate(&risk(11, 1, "reduce")).is_err());
        assert!(RegisterKind::Risk.validate(&risk(0, 1, "reduce")).is_err());
        assert!(RegisterKind::Risk.validate(&risk(1, 5, "accept")).is_err(), "residual > risk");
        assert!(RegisterKind::Risk.validate(&risk(3, 1, "ignore")).is_err());
    }
}
