//! Reports from the public (researchers, customers, anyone): the unauthenticated intake, the
//! reporter's status check, and the security team's triage queue.
//!
//! Intake is rate-limited per client address and globally, every field has a size cap, and
//! the content is stored as the plain text it was sent (whoever shows it escapes it). The
//! reporter gets a reference: a 256-bit random value shown once, stored only as its SHA-256,
//! which is the only way to read the report's status back. A report is dismissed or opened as
//! an incident that links it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use base::{Actor, RequestContext, Resource};
use detect::incident::Sev;
use store::{IncidentRepository, PublicReportRecord};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::audit_trail::AuditTrail as _;
use crate::incidents::{IncidentView, NewIncident};
use crate::secrets::{hash_secret, new_id, new_secret};
use crate::{App, AppError, Principal};

/// Longest subject, bytes.
pub const MAX_REPORT_SUBJECT_BYTES: usize = 200;
/// Longest body, bytes.
pub const MAX_REPORT_BODY_BYTES: usize = 16 * 1024;
/// Longest contact, bytes.
pub const MAX_REPORT_CONTACT_BYTES: usize = 320;
/// The most reports one listing returns.
pub const MAX_REPORTS_PER_PAGE: u32 = 500;
/// The prefix of a reference, so a leaked one is recognisable.
const REFERENCE_PREFIX: &str = "rpr_";

/// How many reports are accepted per window, per client address and in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportLimits {
    pub per_client: u32,
    pub global: u32,
    pub window: Duration,
}

impl Default for ReportLimits {
    fn default() -> Self {
        Self { per_client: 5, global: 100, window: Duration::hours(1) }
    }
}

/// Fixed-window counters of accepted reports.
#[derive(Debug, Default)]
pub(crate) struct ReportThrottle {
    limits: ReportLimits,
    state: Mutex<ThrottleState>,
}

#[derive(Debug, Default)]
struct ThrottleState {
    window_start: Option<OffsetDateTime>,
    global: u32,
    per_client: HashMap<Option<IpAddr>, u32>,
}

impl ReportThrottle {
    pub(crate) fn new(limits: ReportLimits) -> Self {
        Self { limits, state: Mutex::default() }
    }

    /// Count one report from `client` at `now`, or say how long to wait.
    fn admit(&self, client: Option<IpAddr>, now: OffsetDateTime) -> Result<(), AppError> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let start = match state.window_start {
            Some(start) if now >= start && now - start < self.limits.window => start,
            _ => {
                *state = ThrottleState { window_start: Some(now), ..ThrottleState::default() };
                now
            }
        };
        let retry_after_seconds =
            u64::try_from((start + self.limits.window - now).whole_seconds().max(1)).unwrap_or(1);
        let client_count = state.per_client.get(&client).copied().unwrap_or(0);
        if state.global >= self.limits.global || client_count >= self.limits.per_client {
            return Err(AppError::Throttled { retry_after_seconds });
        }
        state.global += 1;
        state.per_client.insert(client, client_count + 1);
        Ok(())
    }
}

/// What a reporter sends.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    pub subject: String,
    pub body: String,
    /// How to reach the reporter (optional).
    pub contact: String,
}

/// What the reporter gets back: the reference, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportReceipt {
    pub reference: String,
    pub received_at: OffsetDateTime,
}

/// What the reporter may read back with the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportStatus {
    /// `received`, `dismissed` or `accepted`.
    pub state: &'static str,
    pub received_at: OffsetDateTime,
    pub updated_at: Option<OffsetDateTime>,
}

/// Which field of a report is too large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OversizedField {
    pub field: &'static str,
    pub max_bytes: usize,
}

/// Checks the size caps of a report; the API answers 413 for these.
pub fn oversized_report_field(input: &ReportInput) -> Option<OversizedField> {
    [
        ("subject", input.subject.len(), MAX_REPORT_SUBJECT_BYTES),
        ("body", input.body.len(), MAX_REPORT_BODY_BYTES),
        ("contact", input.contact.len(), MAX_REPORT_CONTACT_BYTES),
    ]
    .into_iter()
    .find(|(_, len, max)| len > max)
    .map(|(field, _, max_bytes)| OversizedField { field, max_bytes })
}

/// Keep printable text: control characters other than line breaks and tabs are dropped.
fn plain_text(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect()
}

impl App {
    /// Accept at most these many public reports per window (the defaults otherwise).
    pub fn with_report_limits(mut self, limits: ReportLimits) -> Self {
        self.reports = std::sync::Arc::new(ReportThrottle::new(limits));
        self
    }

    /// Receive a report from the public (no authentication). Refused when a field is too
    /// large, the subject or body is empty, or the client or everyone sent too many lately.
    pub async fn submit_public_report(
        &self,
        input: ReportInput,
        context: &RequestContext,
    ) -> Result<ReportReceipt, AppError> {
        if let Some(oversized) = oversized_report_field(&input) {
            return Err(AppError::InvalidInput(format!(
                "{} is larger than {} bytes",
                oversized.field, oversized.max_bytes
            )));
        }
        let subject = plain_text(input.subject.trim());
        let body = plain_text(input.body.trim());
        let contact = plain_text(input.contact.trim()).replace(['\n', '\t'], " ");
        if subject.is_empty() || body.is_empty() {
            return Err(AppError::InvalidInput("subject and body are required".into()));
        }
        let now = self.clock.now();
        self.reports.admit(context.source_ip, now)?;
        let organization_id = self.incident_organization().await?;
        let reference = new_secret(REFERENCE_PREFIX);
        let report = PublicReportRecord {
            id: new_id(now),
            organization_id,
            reference_hash: hash_secret(&reference),
            received_at: now,
            subject: subject.replace(['\n', '\t'], " "),
            body,
            contact,
            state: "new".into(),
            incident_id: None,
            triaged_by: None,
            triaged_at: None,
            note: String::new(),
        };
        let mut transaction = self.store.begin().await?;
        transaction.insert_public_report(&report).await?;
        // The report's content stays out of the trail: it may hold anything.
        let mut event = self.event(
            &Actor::System,
            organization_id,
            "incident.report.receive",
            Resource::new("public_report", report.id),
        );
        event.context = context.clone();
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(ReportReceipt { reference, received_at: now })
    }

    /// The status of a report, for whoever holds its reference.
    pub async fn public_report_status(&self, reference: &str) -> Result<ReportStatus, AppError> {
        if !reference.starts_with(REFERENCE_PREFIX) || reference.len() > 100 {
            return Err(AppError::NotFound("report"));
        }
        let mut read = self.store.read().await?;
        let report = read.public_report_by_reference(&hash_secret(reference)).await?;
        read.commit().await?;
        let report = report.ok_or(AppError::NotFound("report"))?;
        let state = match report.state.as_str() {
            "dismissed" => "dismissed",
            "opened" => "accepted",
            _ => "received",
        };
        Ok(ReportStatus { state, received_at: report.received_at, updated_at: report.triaged_at })
    }

    /// The triage queue, oldest first.
    pub async fn list_public_reports(
        &self,
        principal: &Principal,
        state: Option<&str>,
        limit: u32,
        context: &RequestContext,
    ) -> Result<Vec<PublicReportRecord>, AppError> {
        let organization_id = self.incident_organization().await?;
        self.authorize_in(principal, organization_id, "detect:reports:read", context).await?;
        if let Some(state) = state
            && !matches!(state, "new" | "dismissed" | "opened")
        {
            return Err(AppError::InvalidInput("state must be new, dismissed or opened".into()));
        }
        let mut read = self.store.read().await?;
        let reports = read
            .list_public_reports(organization_id, state, limit.clamp(1, MAX_REPORTS_PER_PAGE))
            .await?;
        read.commit().await?;
        Ok(reports)
    }

    pub async fn get_public_report(
        &self,
        principal: &Principal,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<PublicReportRecord, AppError> {
        let organization_id = self.incident_organization().await?;
        self.authorize_in(principal, organization_id, "detect:reports:read", context).await?;
        let mut read = self.store.read().await?;
        let report = read.get_public_report(organization_id, id).await?;
        read.commit().await?;
        report.ok_or(AppError::NotFound("report"))
    }

    /// Dismiss a new report with a note (spam, out of scope, duplicate…).
    pub async fn dismiss_public_report(
        &self,
        principal: &Principal,
        id: Uuid,
        note: &str,
        context: &RequestContext,
    ) -> Result<PublicReportRecord, AppError> {
        if note.chars().count() > 4000 {
            return Err(AppError::InvalidInput("note is longer than 4000 characters".into()));
        }
        let organization_id = self.incident_organization().await?;
        self.authorize_in(principal, organization_id, "detect:reports:write", context).await?;
        let mut transaction = self.store.begin().await?;
        let mut report = transaction
            .get_public_report(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("report"))?;
        if report.state != "new" {
            return Err(AppError::Conflict(format!("the report is already {}", report.state)));
        }
        report.state = "dismissed".into();
        report.triaged_by = principal.actor.id();
        report.triaged_at = Some(self.clock.now());
        note.clone_into(&mut report.note);
        transaction.update_public_report(&report).await?;
        let event = self.success_event(
            principal,
            organization_id,
            "incident.report.dismiss",
            Resource::new("public_report", id),
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(report)
    }

    /// Open an incident from a new report: the case links the report, the report the case,
    /// in one transaction.
    pub async fn open_incident_from_report(
        &self,
        principal: &Principal,
        id: Uuid,
        title: Option<String>,
        severity: Option<Sev>,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        let organization_id = self.incident_organization().await?;
        self.authorize_in(principal, organization_id, "detect:reports:write", context).await?;
        self.authorize_in(principal, organization_id, "detect:incidents:write", context).await?;
        let mut transaction = self.store.begin().await?;
        let mut report = transaction
            .get_public_report(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("report"))?;
        if report.state != "new" {
            return Err(AppError::Conflict(format!("the report is already {}", report.state)));
        }
        let input = NewIncident {
            title: title.unwrap_or_else(|| report.subject.clone()),
            severity,
            description: report.body.clone(),
            ..NewIncident::default()
        };
        let record = self
            .insert_incident(
                &mut transaction,
                &principal.actor,
                context,
                organization_id,
                input,
                "report",
                Some(report.id),
            )
            .await?;
        report.state = "opened".into();
        report.incident_id = Some(record.id);
        report.triaged_by = principal.actor.id();
        report.triaged_at = Some(self.clock.now());
        transaction.update_public_report(&report).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "incident.report.open",
            Resource::new("public_report", id),
            context,
        );
        event.details.insert("incident_id".into(), record.id.to_string().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.get_incident(principal, record.id, context).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn throttle_counts_per_client_and_globally_in_a_window() {
        let throttle = ReportThrottle::new(ReportLimits {
            per_client: 2,
            global: 3,
            window: Duration::hours(1),
        });
        let at = datetime!(2026-03-01 09:00 UTC);
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        let b = Some(IpAddr::from([192, 0, 2, 2]));
        let c = Some(IpAddr::from([192, 0, 2, 3]));
        assert!(throttle.admit(a, at).is_ok());
        assert!(throttle.admit(a, at).is_ok());
        assert!(matches!(throttle.admit(a, at), Err(AppError::Throttled { .. })));
        assert!(throttle.admit(b, at).is_ok());
        assert!(matches!(throttle.admit(c, at), Err(AppError::Throttled { .. })), "global cap");
        assert!(throttle.admit(a, at + Duration::hours(1)).is_ok(), "a new window");
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(plain_text("a\u{0}b\u{1b}[31mc\nd"), "ab[31mc\nd");
        let oversized = ReportInput { subject: "x".repeat(201), ..ReportInput::default() };
        assert_eq!(oversized_report_field(&oversized).map(|field| field.field), Some("subject"));
    }
}
