//! Policy acknowledgements, the organisation's risk matrix, manual evidence and the public
//! trust page.
//!
//! - A member of staff acknowledges the current version of a policy for themself; a new
//!   version of the policy needs new acknowledgements. Who has and has not acknowledged the
//!   current version is listed for the compliance staff.
//! - The risk matrix (likelihood and impact labels, score thresholds for the levels) is the
//!   organisation's own, 5 × 5 by default. Risks are checked against it when written, and
//!   their inherent and residual levels are computed from it wherever they are shown.
//! - Manual evidence stands in for what no check can evaluate: an uploaded file (size-capped,
//!   stored with its SHA-256 and a sniffed media type, never served as HTML) or an `https://`
//!   link, dated, tied to an annex measure and optionally a control and a check, and stale
//!   after its expiry. It is shown in the annex next to its measure.
//! - The trust page shows the provider's current certifications, its public sub-processors,
//!   a link to its security.txt and to the changes page; nothing personal or internal.

use std::collections::HashSet;

use base::{OrganizationId, RequestContext, Resource, UserId};
use report::evidence as checks;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use store::{
    ComplianceEvidenceRepository as _, ComplianceRepository as _, ManualEvidenceRecord,
    PolicyAcknowledgementRecord, Transaction, UserRecord, UserRepository as _, UserStatus,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::AuditTrail as _;
use crate::compliance::{
    CertificationDocument, PolicyDocument, RecordView, RegisterKind, RiskDocument,
    SubProcessorDocument, TransferMechanism,
};
use crate::secrets::new_id;
use crate::{App, AppError, Principal};

fn invalid(message: impl Into<String>) -> AppError {
    AppError::InvalidInput(message.into())
}

// ---------------------------------------------------------------------------------------------
// The risk matrix
// ---------------------------------------------------------------------------------------------

/// The largest side a risk matrix may have.
pub const MAX_MATRIX_SIDE: u8 = 10;
const MAX_LABEL_CHARS: usize = 60;

/// A risk level on the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskLevel {
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// The lowest score (likelihood × impact) of each level above `low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskThresholds {
    pub medium: u32,
    pub high: u32,
    pub critical: u32,
}

/// An organisation's risk matrix: a label per likelihood and impact value (value `n` is the
/// `n`th label), and the thresholds mapping a score to a level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskMatrix {
    pub likelihood: Vec<String>,
    pub impact: Vec<String>,
    pub thresholds: RiskThresholds,
}

impl Default for RiskMatrix {
    /// 5 × 5: low up to 4, medium from 5, high from 10, critical from 16.
    fn default() -> Self {
        let labels = |names: [&str; 5]| names.iter().map(|name| (*name).to_owned()).collect();
        Self {
            likelihood: labels(["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]),
            impact: labels(["Negligible", "Minor", "Moderate", "Major", "Severe"]),
            thresholds: RiskThresholds { medium: 5, high: 10, critical: 16 },
        }
    }
}

/// One point of the matrix with its labels, score and level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskRating {
    pub likelihood: u8,
    pub likelihood_label: String,
    pub impact: u8,
    pub impact_label: String,
    pub score: u32,
    pub level: RiskLevel,
}

/// A risk's inherent and residual rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskAssessment {
    pub inherent: RiskRating,
    pub residual: RiskRating,
}

impl RiskMatrix {
    /// Two to ten non-blank, distinct labels per axis; thresholds rising strictly from above
    /// 1 to at most the highest score.
    pub fn validate(&self) -> Result<(), AppError> {
        for (axis, labels) in [("likelihood", &self.likelihood), ("impact", &self.impact)] {
            if !(2..=usize::from(MAX_MATRIX_SIDE)).contains(&labels.len()) {
                return Err(invalid(format!(
                    "{axis}: expected 2 to {MAX_MATRIX_SIDE} labels; got {}",
                    labels.len()
                )));
            }
            let mut seen = HashSet::new();
            for (index, label) in labels.iter().enumerate() {
                let trimmed = label.trim();
                if trimmed.is_empty()
                    || label.chars().count() > MAX_LABEL_CHARS
                    || label.chars().any(char::is_control)
                {
                    return Err(invalid(format!(
                        "{axis}[{index}]: a label of 1 to {MAX_LABEL_CHARS} printable characters"
                    )));
                }
                if !seen.insert(trimmed.to_lowercase()) {
                    return Err(invalid(format!("{axis}[{index}]: {label:?} appears twice")));
                }
            }
        }
        let max_score = self.max_score();
        let RiskThresholds { medium, high, critical } = self.thresholds;
        if !(1 < medium && medium < high && high < critical && critical <= max_score) {
            return Err(invalid(format!(
                "thresholds: expected 1 < medium < high < critical <= {max_score} (the highest \
                 score); got medium {medium}, high {high}, critical {critical}"
            )));
        }
        Ok(())
    }

    fn max_score(&self) -> u32 {
        u32::try_from(self.likelihood.len() * self.impact.len()).unwrap_or(u32::MAX)
    }

    /// The level of a score.
    pub fn level(&self, score: u32) -> RiskLevel {
        let thresholds = self.thresholds;
        if score >= thresholds.critical {
            RiskLevel::Critical
        } else if score >= thresholds.high {
            RiskLevel::High
        } else if score >= thresholds.medium {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }

    /// The rating of a point; `None` when it is outside the matrix.
    pub fn rate(&self, likelihood: u8, impact: u8) -> Option<RiskRating> {
        let likelihood_label = self.likelihood.get(usize::from(likelihood).checked_sub(1)?)?;
        let impact_label = self.impact.get(usize::from(impact).checked_sub(1)?)?;
        let score = u32::from(likelihood) * u32::from(impact);
        Some(RiskRating {
            likelihood,
            likelihood_label: likelihood_label.clone(),
            impact,
            impact_label: impact_label.clone(),
            score,
            level: self.level(score),
        })
    }

    /// A risk's inherent and residual ratings; `None` when either is outside the matrix.
    pub(crate) fn assess_risk(&self, risk: &RiskDocument) -> Option<RiskAssessment> {
        Some(RiskAssessment {
            inherent: self.rate(risk.likelihood, risk.impact)?,
            residual: self.rate(risk.residual_likelihood, risk.residual_impact)?,
        })
    }

    /// Why a risk does not fit the matrix, naming the field.
    fn misfit(&self, risk: &RiskDocument) -> Option<String> {
        let n_likelihood = self.likelihood.len();
        let n_impact = self.impact.len();
        [
            ("likelihood", risk.likelihood, n_likelihood),
            ("impact", risk.impact, n_impact),
            ("residual_likelihood", risk.residual_likelihood, n_likelihood),
            ("residual_impact", risk.residual_impact, n_impact),
        ]
        .into_iter()
        .find(|(_, value, side)| usize::from(*value) > *side)
        .map(|(field, value, side)| {
            format!("document.{field}: {value} is outside the risk matrix (1 to {side})")
        })
    }

    pub(crate) fn of_stored(stored: Option<String>) -> Result<Self, AppError> {
        stored.map_or_else(
            || Ok(Self::default()),
            |text| {
                serde_json::from_str(&text).map_err(|error| {
                    AppError::Internal(format!("stored risk matrix does not parse: {error}"))
                })
            },
        )
    }
}

impl App {
    pub(crate) async fn check_risk_on_matrix(
        &self,
        transaction: &mut Transaction,
        organization_id: OrganizationId,
        document: &serde_json::Value,
    ) -> Result<(), AppError> {
        let risk: RiskDocument = serde_json::from_value(document.clone())
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let matrix = RiskMatrix::of_stored(transaction.get_risk_matrix(organization_id).await?)?;
        match matrix.misfit(&risk) {
            Some(problem) => Err(invalid(problem)),
            None => Ok(()),
        }
    }

    /// The view with its risk assessment, for a risk.
    pub(crate) async fn assessed(
        &self,
        organization_id: OrganizationId,
        view: RecordView,
    ) -> Result<RecordView, AppError> {
        let mut views = self.all_assessed(organization_id, vec![view]).await?;
        views.pop().ok_or_else(|| AppError::Internal("no view".into()))
    }

    pub(crate) async fn all_assessed(
        &self,
        organization_id: OrganizationId,
        mut views: Vec<RecordView>,
    ) -> Result<Vec<RecordView>, AppError> {
        if !views.iter().any(|view| view.register == RegisterKind::Risk.as_str()) {
            return Ok(views);
        }
        let mut read = self.store.read().await?;
        let matrix = RiskMatrix::of_stored(read.get_risk_matrix(organization_id).await?)?;
        read.commit().await?;
        for view in &mut views {
            if view.register == RegisterKind::Risk.as_str() {
                view.risk_assessment =
                    serde_json::from_value::<RiskDocument>(view.document.clone())
                        .ok()
                        .and_then(|risk| matrix.assess_risk(&risk));
            }
        }
        Ok(views)
    }

    /// The organisation's risk matrix (the default until it sets one).
    pub async fn risk_matrix(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<RiskMatrix, AppError> {
        self.authorize_in(principal, organization_id, "compliance:registers:read", context).await?;
        let mut read = self.store.read().await?;
        let matrix = RiskMatrix::of_stored(read.get_risk_matrix(organization_id).await?)?;
        read.commit().await?;
        Ok(matrix)
    }

    /// Replace the organisation's risk matrix. Refused while a recorded risk would fall
    /// outside it.
    pub async fn set_risk_matrix(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        matrix: &RiskMatrix,
        context: &RequestContext,
    ) -> Result<RiskMatrix, AppError> {
        matrix.validate()?;
        self.authorize_in(principal, organization_id, "compliance:registers:write", context)
            .await?;
        let mut transaction = self.store.begin().await?;
        let risks = transaction
            .list_compliance_records(organization_id, Some(RegisterKind::Risk.as_str()))
            .await?;
        for record in &risks {
            let Ok(risk) = serde_json::from_str::<RiskDocument>(&record.document) else {
                continue;
            };
            if let Some(problem) = matrix.misfit(&risk) {
                return Err(AppError::Conflict(format!(
                    "risk {} ({:?}) does not fit the new matrix: {problem}",
                    record.id, record.title
                )));
            }
        }
        let text =
            serde_json::to_string(matrix).map_err(|error| AppError::Internal(error.to_string()))?;
        transaction.put_risk_matrix(organization_id, &text, self.clock.now()).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "compliance.risk_matrix.update",
            Resource::new("risk_matrix", organization_id),
            context,
        );
        event.details.insert("likelihood_levels".into(), matrix.likelihood.len().into());
        event.details.insert("impact_levels".into(), matrix.impact.len().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(matrix.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// Policy acknowledgements
// ---------------------------------------------------------------------------------------------

/// One acknowledgement of a policy's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAcknowledgement {
    pub policy_id: Uuid,
    pub title: String,
    pub version: String,
    pub user_id: UserId,
    pub acknowledged_at: OffsetDateTime,
}

/// Who has and has not acknowledged the current version of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAcknowledgements {
    pub policy_id: Uuid,
    pub title: String,
    pub version: String,
    /// Active users who acknowledged this version, with when.
    pub acknowledged: Vec<(UserId, String, OffsetDateTime)>,
    /// Active users who have not.
    pub pending: Vec<(UserId, String)>,
}

async fn current_policy(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    policy_id: Uuid,
) -> Result<(store::ComplianceRecord, PolicyDocument), AppError> {
    let record = transaction
        .get_compliance_record(organization_id, policy_id)
        .await?
        .filter(|record| record.register == RegisterKind::Policy.as_str())
        .ok_or(AppError::NotFound("policy"))?;
    let policy: PolicyDocument = serde_json::from_str(&record.document)
        .map_err(|error| AppError::Internal(format!("stored policy: {error}")))?;
    Ok((record, policy))
}

async fn all_users(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
) -> Result<Vec<UserRecord>, AppError> {
    let mut users: Vec<UserRecord> = Vec::new();
    loop {
        let page = transaction
            .list_users(organization_id, users.last().map(|user| user.id), 1_000)
            .await?;
        let done = page.len() < 1_000;
        users.extend(page);
        if done {
            return Ok(users);
        }
    }
}

impl App {
    /// The caller acknowledges the current version of a policy of their own organisation.
    /// Acknowledging the same version again changes nothing and answers the first
    /// acknowledgement.
    pub async fn acknowledge_policy(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        policy_id: Uuid,
        context: &RequestContext,
    ) -> Result<PolicyAcknowledgement, AppError> {
        let user_id = principal.user_id()?;
        if principal.organization_id != organization_id {
            return Err(AppError::Forbidden(
                "only members of the organization acknowledge its policies".into(),
            ));
        }
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let (record, policy) = current_policy(&mut transaction, organization_id, policy_id).await?;
        let existing =
            transaction.list_policy_acknowledgements(organization_id).await?.into_iter().find(
                |ack| {
                    ack.policy_id == policy_id
                        && ack.user_id == user_id
                        && ack.version == policy.version
                },
            );
        if let Some(ack) = existing {
            transaction.commit().await?;
            return Ok(PolicyAcknowledgement {
                policy_id,
                title: record.title,
                version: ack.version,
                user_id,
                acknowledged_at: ack.acknowledged_at,
            });
        }
        let ack = PolicyAcknowledgementRecord {
            organization_id,
            policy_id,
            user_id,
            version: policy.version.clone(),
            acknowledged_at: now,
        };
        transaction.insert_policy_acknowledgement(&ack).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "compliance.policy.acknowledge",
            Resource::new("compliance_record", policy_id),
            context,
        );
        event.details.insert("title".into(), record.title.clone().into());
        event.details.insert("version".into(), policy.version.clone().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(PolicyAcknowledgement {
            policy_id,
            title: record.title,
            version: policy.version,
            user_id,
            acknowledged_at: now,
        })
    }

    /// Who among the organisation's active users has and has not acknowledged the current
    /// version of a policy.
    pub async fn policy_acknowledgements(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        policy_id: Uuid,
        context: &RequestContext,
    ) -> Result<PolicyAcknowledgements, AppError> {
        self.authorize_in(principal, organization_id, "compliance:registers:read", context).await?;
        let mut read = self.store.read().await?;
        let (record, policy) = current_policy(&mut read, organization_id, policy_id).await?;
        let acks: Vec<PolicyAcknowledgementRecord> = read
            .list_policy_acknowledgements(organization_id)
            .await?
            .into_iter()
            .filter(|ack| ack.policy_id == policy_id && ack.version == policy.version)
            .collect();
        let users = all_users(&mut read, organization_id).await?;
        read.commit().await?;
        let mut acknowledged = Vec::new();
        let mut pending = Vec::new();
        for user in users.into_iter().filter(|user| user.status == UserStatus::Active) {
            match acks.iter().find(|ack| ack.user_id == user.id) {
                Some(ack) => acknowledged.push((user.id, user.email, ack.acknowledged_at)),
                None => pending.push((user.id, user.email)),
            }
        }
        Ok(PolicyAcknowledgements {
            policy_id,
            title: record.title,
            version: policy.version,
            acknowledged,
            pending,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Manual evidence
// ---------------------------------------------------------------------------------------------

/// The largest file kept as evidence.
pub const MAX_EVIDENCE_BYTES: usize = 10 * 1024 * 1024;
/// The most pieces of manual evidence an organisation keeps.
pub const MAX_EVIDENCE_ITEMS: usize = 5_000;
const MAX_FILE_NAME_CHARS: usize = 200;

/// What describes a piece of manual evidence (a file's content comes apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceInput {
    pub title: String,
    /// The annex measure it supports (`asset.workplace`).
    pub measure_id: String,
    /// An Annex A control it supports (`7.4`).
    pub control_id: Option<String>,
    /// A check it stands in for.
    pub check_id: Option<String>,
    /// For a link: an `https://` URL.
    pub url: Option<String>,
    /// When what it shows was observed.
    pub observed_on: Date,
    /// After this day it is stale.
    pub expires_on: Option<Date>,
}

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    pub file_name: String,
    pub content: Vec<u8>,
}

/// A piece of manual evidence as answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualEvidenceView {
    pub record: ManualEvidenceRecord,
    /// Its expiry has passed: it no longer counts.
    pub stale: bool,
}

/// The media type of a file from its first bytes. Anything not recognised is
/// `application/octet-stream`; text is `text/plain` even when it holds HTML, so a file is
/// never served as a page.
pub fn sniff_media_type(content: &[u8]) -> &'static str {
    const SIGNATURES: [(&[u8], &str); 6] = [
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"PK\x03\x04", "application/zip"),
    ];
    if let Some((_, media_type)) =
        SIGNATURES.iter().find(|(signature, _)| content.starts_with(signature))
    {
        return media_type;
    }
    if !content.contains(&0) && std::str::from_utf8(content).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

fn check_file_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_FILE_NAME_CHARS
        || name.chars().any(|c| c.is_control() || matches!(c, '/' | '\\' | '"'))
        || name.starts_with('.')
    {
        return Err(invalid(format!(
            "file_name: 1 to {MAX_FILE_NAME_CHARS} characters, no path, quote or control \
             character, not starting with a dot"
        )));
    }
    Ok(name.to_owned())
}

impl EvidenceInput {
    fn check(&self, today: Date) -> Result<(), AppError> {
        let title = self.title.trim();
        if title.is_empty() || self.title.chars().count() > 200 {
            return Err(invalid("title: 1 to 200 characters"));
        }
        if self.title.chars().any(char::is_control) {
            return Err(invalid("title: control characters are not allowed"));
        }
        if report::annex::measure_by_id(&self.measure_id).is_none() {
            return Err(invalid(format!(
                "measure_id: {:?} is not a measure of the annex",
                self.measure_id
            )));
        }
        if let Some(control) = &self.control_id
            && report::iso27001::control(control).is_none()
        {
            return Err(invalid(format!("control_id: {control:?} is not an Annex A control")));
        }
        if let Some(check) = &self.check_id
            && checks::check_definition(check).is_none()
        {
            return Err(invalid(format!("check_id: {check:?} is not a check")));
        }
        if let Some(url) = &self.url {
            let host = url.strip_prefix("https://").unwrap_or_default();
            if host.is_empty()
                || url.len() > 2_000
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(invalid("url: expected an https:// link"));
            }
        }
        if self.observed_on > today {
            return Err(invalid("observed_on: in the future"));
        }
        if self.expires_on.is_some_and(|expires| expires <= self.observed_on) {
            return Err(invalid("expires_on: not after observed_on"));
        }
        Ok(())
    }
}

fn evidence_view(record: ManualEvidenceRecord, today: Date) -> ManualEvidenceView {
    ManualEvidenceView { stale: record.expires_on.is_some_and(|expires| expires <= today), record }
}

impl App {
    fn evidence_event(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: &str,
        record: &ManualEvidenceRecord,
        context: &RequestContext,
    ) -> base::AuditEvent {
        let mut event = self.success_event(
            principal,
            organization_id,
            action,
            Resource::new("manual_evidence", record.id),
            context,
        );
        event.details.insert("title".into(), record.title.clone().into());
        event.details.insert("measure".into(), record.measure_id.clone().into());
        if let Some(sha256) = &record.sha256 {
            event.details.insert("sha256".into(), sha256.clone().into());
        }
        event
    }

    /// Add a file or a link as evidence: exactly one of `file` and `input.url`.
    pub async fn add_manual_evidence(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        input: &EvidenceInput,
        file: Option<EvidenceFile>,
        context: &RequestContext,
    ) -> Result<ManualEvidenceView, AppError> {
        input.check(self.today())?;
        let (file_name, content) = match (&input.url, file) {
            (Some(_), Some(_)) => return Err(invalid("a piece of evidence is a file or a link")),
            (None, None) => return Err(invalid("url: a link or a file is required")),
            (Some(_), None) => (None, None),
            (None, Some(file)) => {
                if file.content.is_empty() {
                    return Err(invalid("file: empty"));
                }
                if file.content.len() > MAX_EVIDENCE_BYTES {
                    return Err(invalid(format!("file: at most {MAX_EVIDENCE_BYTES} bytes")));
                }
                (Some(check_file_name(&file.file_name)?), Some(file.content))
            }
        };
        self.authorize_in(principal, organization_id, "compliance:registers:write", context)
            .await?;
        let now = self.clock.now();
        let record = ManualEvidenceRecord {
            id: new_id(now),
            organization_id,
            title: input.title.trim().to_owned(),
            measure_id: input.measure_id.clone(),
            control_id: input.control_id.clone(),
            check_id: input.check_id.clone(),
            kind: if content.is_some() { "file" } else { "link" }.to_owned(),
            url: input.url.clone(),
            file_name,
            media_type: content.as_deref().map(|bytes| sniff_media_type(bytes).to_owned()),
            sha256: content.as_deref().map(|bytes| hex::encode(sha2::Sha256::digest(bytes))),
            size: content.as_ref().map(|bytes| bytes.len() as u64),
            observed_on: input.observed_on,
            expires_on: input.expires_on,
            added_by: principal.actor.id(),
            created_at: now,
            updated_at: now,
        };
        let mut transaction = self.store.begin().await?;
        if transaction.list_manual_evidence(organization_id).await?.len() >= MAX_EVIDENCE_ITEMS {
            return Err(AppError::Conflict(format!(
                "the organization keeps at most {MAX_EVIDENCE_ITEMS} pieces of evidence"
            )));
        }
        transaction.insert_manual_evidence(&record, content.as_deref()).await?;
        let event = self.evidence_event(
            principal,
            organization_id,
            "compliance.evidence.create",
            &record,
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(evidence_view(record, self.today()))
    }

    /// Change what a piece of evidence says (title, measure, control, check, link, dates); a
    /// file's content is never replaced: add a new piece instead.
    pub async fn update_manual_evidence(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        input: &EvidenceInput,
        context: &RequestContext,
    ) -> Result<ManualEvidenceView, AppError> {
        input.check(self.today())?;
        self.authorize_in(principal, organization_id, "compliance:registers:write", context)
            .await?;
        let mut transaction = self.store.begin().await?;
        let existing = transaction
            .get_manual_evidence(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("evidence"))?;
        match (existing.kind.as_str(), &input.url) {
            ("file", Some(_)) => return Err(invalid("url: this evidence is a file")),
            ("link", None) => return Err(invalid("url: required for a link")),
            _ => {}
        }
        let record = ManualEvidenceRecord {
            title: input.title.trim().to_owned(),
            measure_id: input.measure_id.clone(),
            control_id: input.control_id.clone(),
            check_id: input.check_id.clone(),
            url: input.url.clone(),
            observed_on: input.observed_on,
            expires_on: input.expires_on,
            updated_at: self.clock.now(),
            ..existing
        };
        transaction.update_manual_evidence(&record).await?;
        let event = self.evidence_event(
            principal,
            organization_id,
            "compliance.evidence.update",
            &record,
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(evidence_view(record, self.today()))
    }

    pub async fn delete_manual_evidence(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_in(principal, organization_id, "compliance:registers:write", context)
            .await?;
        let mut transaction = self.store.begin().await?;
        let existing = transaction
            .get_manual_evidence(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("evidence"))?;
        transaction.delete_manual_evidence(organization_id, id).await?;
        let event = self.evidence_event(
            principal,
            organization_id,
            "compliance.evidence.delete",
            &existing,
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn list_manual_evidence(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<ManualEvidenceView>, AppError> {
        self.authorize_in(principal, organization_id, "compliance:evidence:read", context).await?;
        let mut read = self.store.read().await?;
        let records = read.list_manual_evidence(organization_id).await?;
        read.commit().await?;
        let today = self.today();
        Ok(records.into_iter().map(|record| evidence_view(record, today)).collect())
    }

    pub async fn get_manual_evidence(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<ManualEvidenceView, AppError> {
        self.authorize_in(principal, organization_id, "compliance:evidence:read", context).await?;
        let mut read = self.store.read().await?;
        let record = read
            .get_manual_evidence(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("evidence"))?;
        read.commit().await?;
        Ok(evidence_view(record, self.today()))
    }

    /// A file's content with its record; the download is an audit event.
    pub async fn download_manual_evidence(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(ManualEvidenceRecord, Vec<u8>), AppError> {
        self.authorize_in(principal, organization_id, "compliance:evidence:read", context).await?;
        let mut transaction = self.store.begin().await?;
        let record = transaction
            .get_manual_evidence(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("evidence"))?;
        let content = transaction
            .manual_evidence_content(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("evidence file"))?;
        let event = self.evidence_event(
            principal,
            organization_id,
            "compliance.evidence.download",
            &record,
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok((record, content))
    }

    /// The organisation's manual evidence in the annex's terms.
    pub(crate) async fn annex_manual_evidence(
        &self,
        organization_id: OrganizationId,
    ) -> Result<Vec<checks::ManualEvidence>, AppError> {
        let mut read = self.store.read().await?;
        let records = read.list_manual_evidence(organization_id).await?;
        read.commit().await?;
        Ok(records
            .into_iter()
            .filter_map(|record| {
                let location = match (record.url, record.file_name, record.sha256) {
                    (Some(url), _, _) => checks::EvidenceLocation::Link { url },
                    (None, Some(file_name), Some(sha256_hex)) => {
                        checks::EvidenceLocation::File { file_name, sha256_hex }
                    }
                    _ => return None,
                };
                let evidence = checks::ManualEvidence {
                    id: record.id.to_string(),
                    measure_id: record.measure_id,
                    description: record.title,
                    location,
                    observed_at: record.observed_on.midnight().assume_utc(),
                    expires_at: record.expires_on.map(|date| date.midnight().assume_utc()),
                };
                // A record written by something other than Rampart is left out, not fatal.
                evidence.validate().is_ok().then_some(evidence)
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// The public trust page
// ---------------------------------------------------------------------------------------------

/// The trust page formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustFormat {
    Html,
    Json,
}

/// A certification as the trust page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustCertification {
    pub standard: String,
    /// The certification body.
    pub issuer: String,
    pub scope: Option<String>,
    #[serde(with = "crate::compliance_evidence::iso_date")]
    pub valid_until: Date,
    pub certificate_url: Option<String>,
}

/// A public sub-processor as the trust page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustSubProcessor {
    pub name: String,
    pub service: String,
    pub purpose: Option<String>,
    pub data_categories: Vec<String>,
    pub countries: Vec<String>,
    pub transfer_mechanism: String,
}

/// The trust page's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustContent {
    pub organization: String,
    pub certifications: Vec<TrustCertification>,
    pub subprocessors: Vec<TrustSubProcessor>,
    pub security_txt: String,
    pub changes_page: String,
    pub changes_feed: String,
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// Where the trust page points.
const SECURITY_TXT_PATH: &str = "/.well-known/security.txt";

fn transfer_name(mechanism: TransferMechanism) -> &'static str {
    match mechanism {
        TransferMechanism::Adequacy => "adequacy",
        TransferMechanism::StandardContractualClauses => "standard_contractual_clauses",
        TransferMechanism::BindingCorporateRules => "binding_corporate_rules",
        TransferMechanism::None => "none",
    }
}

impl App {
    /// The provider's trust page content: certifications valid today and the sub-processors
    /// marked public. Needs no authentication; carries no person, owner or internal note.
    pub async fn trust_content(&self) -> Result<TrustContent, AppError> {
        use store::OrganizationRepository as _;
        let mut read = self.store.read().await?;
        let provider = read
            .provider_organization()
            .await?
            .ok_or(AppError::NotFound("provider organization"))?;
        let records = read.list_compliance_records(provider.id, None).await?;
        read.commit().await?;
        let today = self.today();
        let mut certifications: Vec<TrustCertification> = records
            .iter()
            .filter(|record| record.register == RegisterKind::Certification.as_str())
            .filter_map(|record| {
                let certification: CertificationDocument =
                    serde_json::from_str(&record.document).ok()?;
                (certification.valid_until >= today).then_some(TrustCertification {
                    standard: certification.standard,
                    issuer: certification.issuer,
                    scope: certification.scope.filter(|scope| !scope.trim().is_empty()),
                    valid_until: certification.valid_until,
                    certificate_url: certification.certificate_url,
                })
            })
            .collect();
        certifications.sort_by(|a, b| a.standard.cmp(&b.standard));
        let mut subprocessors: Vec<TrustSubProcessor> = records
            .iter()
            .filter(|record| record.register == RegisterKind::SubProcessor.as_str())
            .filter_map(|record| {
                let sub: SubProcessorDocument = serde_json::from_str(&record.document).ok()?;
                sub.public.then(|| TrustSubProcessor {
                    name: record.title.clone(),
                    service: sub.service,
                    purpose: sub.purpose.filter(|purpose| !purpose.trim().is_empty()),
                    data_categories: sub.data_categories,
                    countries: sub.countries,
                    transfer_mechanism: transfer_name(sub.transfer_mechanism).to_owned(),
                })
            })
            .collect();
        subprocessors.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(TrustContent {
            organization: provider.name.as_str().to_owned(),
            certifications,
            subprocessors,
            security_txt: SECURITY_TXT_PATH.to_owned(),
            changes_page: "/changes".to_owned(),
            changes_feed: "/changes.atom".to_owned(),
        })
    }

    /// The trust page as HTML (escaped, no script) or JSON.
    pub async fn trust_page(&self, format: TrustFormat) -> Result<String, AppError> {
        let content = self.trust_content().await?;
        match format {
            TrustFormat::Json => serde_json::to_string(&content)
                .map_err(|error| AppError::Internal(error.to_string())),
            TrustFormat::Html => {
                let page = report::public::TrustPage {
                    organisation: content.organization,
                    certifications: content
                        .certifications
                        .into_iter()
                        .map(|certification| report::public::Certification {
                            name: certification.standard,
                            issuer: certification.issuer,
                            scope: certification.scope.unwrap_or_default(),
                            valid_until: certification.valid_until,
                            certificate_url: certification.certificate_url,
                        })
                        .collect(),
                    sub_processors: content
                        .subprocessors
                        .into_iter()
                        .map(|sub| report::public::PublicSubProcessor {
                            purpose: sub.purpose.unwrap_or_else(|| sub.service.clone()),
                            name: sub.name,
                            location: sub.countries.join(", "),
                            data_categories: sub.data_categories,
                            transfer_mechanism: sub.transfer_mechanism.replace('_', " "),
                        })
                        .collect(),
                    security_contact: report::public::SecurityContact {
                        email: None,
                        security_txt_url: content.security_txt,
                    },
                    changes_page_url: content.changes_page,
                    changes_feed_url: content.changes_feed,
                };
                report::public::render_trust_page(&page, self.clock.now())
                    .map_err(|error| AppError::Internal(format!("trust page: {error}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_matrix_is_five_by_five_and_levels_follow_the_thresholds() {
        let matrix = RiskMatrix::default();
        matrix.validate().unwrap();
        assert_eq!(matrix.rate(1, 4).unwrap().level, RiskLevel::Low);
        assert_eq!(matrix.rate(1, 5).unwrap().level, RiskLevel::Medium);
        assert_eq!(matrix.rate(2, 5).unwrap().level, RiskLevel::High);
        assert_eq!(matrix.rate(4, 4).unwrap().level, RiskLevel::Critical);
        assert_eq!(matrix.rate(4, 4).unwrap().likelihood_label, "Likely");
        assert!(matrix.rate(6, 1).is_none());
        assert!(matrix.rate(0, 1).is_none());
    }

    #[test]
    fn bad_matrices_are_refused_with_the_field_named() {
        let mut matrix = RiskMatrix::default();
        matrix.thresholds.critical = 26;
        assert!(matrix.validate().unwrap_err().to_string().contains("thresholds"));
        let matrix = RiskMatrix { likelihood: vec!["Only".into()], ..RiskMatrix::default() };
        assert!(matrix.validate().unwrap_err().to_string().contains("likelihood"));
        let mut matrix = RiskMatrix::default();
        matrix.impact[1] = "negligible".into();
        assert!(matrix.validate().unwrap_err().to_string().contains("impact[1]"));
    }

    #[test]
    fn html_is_never_sniffed_as_html() {
        assert_eq!(sniff_media_type(b"<html><script>x</script>"), "text/plain; charset=utf-8");
        assert_eq!(sniff_media_type(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff_media_type(&[0, 1, 2, 0xff]), "application/octet-stream");
    }
}
