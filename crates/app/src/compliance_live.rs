//! The evidence checks evaluated from the other live stores and from the registers' finer
//! facts: shared and dormant accounts, access reviews, device posture, software out of support,
//! vulnerability deadlines, alert triage, policy acknowledgements, the risk matrix, overdue
//! register reviews, the Statement of Applicability, leavers' accounts, audit findings,
//! sub-processor agreements, DPIAs and change approvals.
//!
//! Each check runs only when its population can exist (a register with records, assets of the
//! right kind, findings, alerts…); otherwise the annex shows it as not evidenced.

use std::collections::{BTreeSet, HashMap, HashSet};

use base::{OrganizationId, UserId};
use report::evidence::{self as checks, CheckResult, FailingItem, Figure, ids};
use store::{
    AccessReviewRepository as _, AssetRepository as _, ComplianceEvidenceRepository as _,
    ComplianceRecord, ComplianceRepository as _, DetectionRepository as _, IncidentRepository as _,
    Lifecycle, OrganizationRepository as _, UserRecord, UserRepository as _, UserRole, UserStatus,
    VulnerabilityRepository as _,
};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use crate::compliance::{
    AuditDocument, CertificationDocument, ChangeDocument, DpiaDocument, PersonDocument,
    PolicyDocument, RegisterKind, RiskDocument, SubProcessorDocument,
};
use crate::compliance_evidence::{RiskLevel, RiskMatrix};
use crate::{App, AppError};

/// Alerts of these levels must be triaged within [`ALERT_TRIAGE_DEADLINE`].
const URGENT_ALERT_LEVELS: [&str; 2] = ["high", "critical"];
/// How long a high-severity alert may wait for a first look.
pub const ALERT_TRIAGE_DEADLINE: Duration = Duration::hours(1);
/// Alerts looked at by the triage check (the newest).
const MAX_ALERTS_CHECKED: u32 = 1_000;
/// The newest incidents the breach notification check reads.
const MAX_INCIDENTS_CHECKED: u32 = 1_000;

fn midnight(date: Date) -> OffsetDateTime {
    date.midnight().assume_utc()
}

fn failing(id: impl ToString, label: &str, reason: impl Into<String>) -> FailingItem {
    FailingItem { id: id.to_string(), label: label.to_owned(), reason: reason.into() }
}

fn figure(name: &str, value: impl ToString) -> Figure {
    Figure { name: name.to_owned(), value: value.to_string() }
}

fn treatment_name(treatment: crate::compliance::Treatment) -> &'static str {
    use crate::compliance::Treatment;
    match treatment {
        Treatment::Reduce => "reduce",
        Treatment::Accept => "accept",
        Treatment::Transfer => "transfer",
        Treatment::Avoid => "avoid",
    }
}

fn parsed<T: serde::de::DeserializeOwned>(record: &ComplianceRecord) -> Option<T> {
    serde_json::from_str(&record.document).ok()
}

/// The facts the checks of this module read, gathered once.
struct Facts<'a> {
    organization_id: OrganizationId,
    now: OffsetDateTime,
    users: &'a [UserRecord],
    records: &'a [ComplianceRecord],
    matrix: RiskMatrix,
}

impl Facts<'_> {
    fn documents(&self, kind: RegisterKind) -> impl Iterator<Item = &ComplianceRecord> {
        self.records.iter().filter(move |record| record.register == kind.as_str())
    }

    fn typed<T: serde::de::DeserializeOwned>(
        &self,
        kind: RegisterKind,
    ) -> Vec<(&ComplianceRecord, T)> {
        self.documents(kind).filter_map(|record| Some((record, parsed(record)?))).collect()
    }

    fn active_users(&self) -> impl Iterator<Item = &UserRecord> {
        self.users.iter().filter(|user| user.status == UserStatus::Active)
    }
}

/// `iam.no_shared_accounts`: an active account that more than one person still present in
/// the `people` register claims as theirs is shared.
fn shared_accounts(facts: &Facts<'_>) -> CheckResult {
    let mut claimed_by: HashMap<UserId, Vec<&str>> = HashMap::new();
    for (record, person) in facts.typed::<PersonDocument>(RegisterKind::Person) {
        if let (Some(user_id), None) = (person.user_id, person.departed_at) {
            claimed_by.entry(user_id).or_default().push(record.title.as_str());
        }
    }
    let accounts: Vec<checks::AccountFact> = facts
        .active_users()
        .map(|user| checks::AccountFact {
            id: user.id.to_string(),
            label: user.email.clone(),
            active: true,
            privileged: user.role == UserRole::Owner,
            mfa_enrolled: false,
            shared: claimed_by.get(&user.id).is_some_and(|people| people.len() > 1),
            shared_exception_approved: false,
            last_used_at: None,
        })
        .collect();
    let mut result = checks::check_no_shared_accounts(&accounts, facts.now);
    for item in &mut result.failing {
        if let Some(people) = item.id.parse::<UserId>().ok().and_then(|id| claimed_by.get(&id)) {
            item.reason = format!("used by {} people: {}", people.len(), people.join(", "));
        }
    }
    result
}

/// `iam.leaver_accounts_suspended`: a person who departed and whose Rampart account is still
/// active.
fn leaver_accounts(facts: &Facts<'_>) -> Option<CheckResult> {
    let by_id: HashMap<UserId, &UserRecord> =
        facts.users.iter().map(|user| (user.id, user)).collect();
    let leavers: Vec<(&ComplianceRecord, UserId)> = facts
        .typed::<PersonDocument>(RegisterKind::Person)
        .into_iter()
        .filter_map(|(record, person)| {
            person.departed_at?;
            Some((record, person.user_id?))
        })
        .collect();
    if leavers.is_empty() {
        return None;
    }
    let failures = leavers
        .iter()
        .filter(|(_, user_id)| {
            by_id.get(user_id).is_some_and(|user| user.status == UserStatus::Active)
        })
        .map(|(record, user_id)| {
            failing(record.id, &record.title, format!("account {user_id} is still active"))
        })
        .collect();
    Some(CheckResult::from_findings(
        ids::LEAVER_ACCOUNTS,
        facts.now,
        leavers.len(),
        failures,
        Vec::new(),
    ))
}

/// `audits.certificates_valid`: every certification in the register is unexpired.
fn certificates(facts: &Facts<'_>) -> Option<CheckResult> {
    let held: Vec<checks::CertificateFact> = facts
        .typed::<CertificationDocument>(RegisterKind::Certification)
        .into_iter()
        .map(|(record, certification)| checks::CertificateFact {
            id: record.id.to_string(),
            label: record.title.clone(),
            // The register keeps no start date: a certificate counts from its recording.
            valid_from: record.created_at.min(facts.now),
            // Valid through its last day.
            valid_until: midnight(certification.valid_until) + Duration::days(1),
        })
        .collect();
    (!held.is_empty()).then(|| checks::check_certificates_valid(&held, facts.now))
}

/// `governance.policy_acknowledgements`: every active user acknowledged the current version
/// of every policy.
fn policy_acknowledgements(
    facts: &Facts<'_>,
    acknowledged: &HashSet<(Uuid, UserId, String)>,
) -> Option<CheckResult> {
    let policies = facts.typed::<PolicyDocument>(RegisterKind::Policy);
    if policies.is_empty() {
        return None;
    }
    let users: Vec<&UserRecord> = facts.active_users().collect();
    let failures = users
        .iter()
        .filter_map(|user| {
            let missing: Vec<String> = policies
                .iter()
                .filter(|(record, policy)| {
                    !acknowledged.contains(&(record.id, user.id, policy.version.clone()))
                })
                .map(|(record, policy)| format!("{} v{}", record.title, policy.version))
                .collect();
            (!missing.is_empty()).then(|| {
                failing(user.id, &user.email, format!("not acknowledged: {}", missing.join(", ")))
            })
        })
        .collect();
    Some(CheckResult::from_findings(
        ids::POLICY_ACKNOWLEDGEMENTS,
        facts.now,
        users.len(),
        failures,
        vec![figure("policies", policies.len())],
    ))
}

/// `governance.risk_treatment`: no risk left at a high or critical residual level.
fn risk_treatment(facts: &Facts<'_>) -> Option<CheckResult> {
    let risks = facts.typed::<RiskDocument>(RegisterKind::Risk);
    if risks.is_empty() {
        return None;
    }
    let mut failures = Vec::new();
    let mut counts: HashMap<RiskLevel, usize> = HashMap::new();
    for (record, risk) in &risks {
        let Some(assessment) = facts.matrix.assess_risk(risk) else {
            failures.push(failing(
                record.id,
                &record.title,
                "likelihood or impact outside the organisation's risk matrix",
            ));
            continue;
        };
        *counts.entry(assessment.residual.level).or_default() += 1;
        if assessment.residual.level >= RiskLevel::High {
            failures.push(failing(
                record.id,
                &record.title,
                format!(
                    "residual risk {} ({} × {} = {}), treatment {}",
                    assessment.residual.level.as_str(),
                    assessment.residual.likelihood_label,
                    assessment.residual.impact_label,
                    assessment.residual.score,
                    treatment_name(risk.treatment)
                ),
            ));
        }
    }
    let figures = RiskLevel::ALL
        .iter()
        .map(|level| {
            figure(
                &format!("residual {}", level.as_str()),
                counts.get(level).copied().unwrap_or_default(),
            )
        })
        .collect();
    Some(CheckResult::from_findings(ids::RISK_TREATMENT, facts.now, risks.len(), failures, figures))
}

/// `privacy.dpia_high_risk`: a processing activity that needs a DPIA has one done, and a risk
/// on personal data whose inherent level is high or critical (a high-risk processing) names a
/// DPIA the DPO validated.
fn dpia_for_high_risk(facts: &Facts<'_>) -> Option<CheckResult> {
    let validated: HashSet<Uuid> = facts
        .typed::<DpiaDocument>(RegisterKind::Dpia)
        .into_iter()
        .filter(|(_, dpia)| dpia.dpo_validated_on.is_some())
        .map(|(record, _)| record.id)
        .collect();
    let mut processings: Vec<checks::ProcessingFact> = facts
        .typed::<RiskDocument>(RegisterKind::Risk)
        .into_iter()
        .filter(|(_, risk)| risk.personal_data)
        .map(|(record, risk)| checks::ProcessingFact {
            id: record.id.to_string(),
            label: record.title.clone(),
            high_risk: facts
                .matrix
                .assess_risk(&risk)
                .is_none_or(|assessment| assessment.inherent.level >= RiskLevel::High),
            dpia_completed: risk.dpia.is_some_and(|id| validated.contains(&id)),
        })
        .collect();
    // The records of processing say themselves whether an activity needs a DPIA.
    processings.extend(
        facts.typed::<crate::ProcessingDocument>(RegisterKind::Processing).into_iter().map(
            |(record, activity)| checks::ProcessingFact {
                id: record.id.to_string(),
                label: record.title.clone(),
                high_risk: activity.dpia_needed,
                dpia_completed: activity.dpia_done,
            },
        ),
    );
    (!processings.is_empty()).then(|| checks::check_dpia_for_high_risk(&processings, facts.now))
}

/// `governance.register_reviews`: no record past its review date.
fn register_reviews(facts: &Facts<'_>) -> Option<CheckResult> {
    if facts.records.is_empty() {
        return None;
    }
    let today = facts.now.date();
    let with_date = facts.records.iter().filter(|record| record.review_due.is_some()).count();
    let failures = facts
        .records
        .iter()
        .filter_map(|record| {
            let due = record.review_due?;
            (due < today).then(|| {
                failing(
                    record.id,
                    &record.title,
                    format!("{} record due for review on {due}", record.register),
                )
            })
        })
        .collect();
    Some(CheckResult::from_findings(
        ids::REGISTER_REVIEWS,
        facts.now,
        facts.records.len(),
        failures,
        vec![figure("records with a review date", with_date)],
    ))
}

/// `governance.statement_of_applicability`: every Annex A control has a line.
fn statement_of_applicability(facts: &Facts<'_>) -> Option<CheckResult> {
    let lines =
        facts.typed::<crate::compliance::ApplicabilityDocument>(RegisterKind::Applicability);
    if lines.is_empty() {
        return None;
    }
    let covered: BTreeSet<&str> = lines.iter().map(|(_, line)| line.control_id.as_str()).collect();
    let controls = report::iso27001::CONTROLS;
    let failures = controls
        .iter()
        .filter(|control| !covered.contains(control.id))
        .map(|control| {
            failing(control.id, control.title, "no line in the Statement of Applicability")
        })
        .collect();
    let excluded = lines.iter().filter(|(_, line)| !line.applicable).count();
    Some(CheckResult::from_findings(
        ids::STATEMENT_OF_APPLICABILITY,
        facts.now,
        controls.len(),
        failures,
        vec![figure("excluded controls", excluded)],
    ))
}

/// `audits.findings_closed`: every finding past its due date is closed.
fn audit_findings(facts: &Facts<'_>) -> Option<CheckResult> {
    let today = facts.now.date();
    let mut population = 0_usize;
    let mut failures = Vec::new();
    for (record, audit) in facts.typed::<AuditDocument>(RegisterKind::Audit) {
        for (index, finding) in audit.findings.iter().enumerate() {
            population += 1;
            if let (Some(due), None) = (finding.due_on, finding.closed_on)
                && due < today
            {
                failures.push(failing(
                    format!("{}#{index}", record.id),
                    &format!("{}: {}", record.title, finding.title),
                    format!("open past its due date {due}"),
                ));
            }
        }
    }
    (population > 0).then(|| {
        CheckResult::from_findings(
            ids::AUDIT_FINDINGS_CLOSED,
            facts.now,
            population,
            failures,
            Vec::new(),
        )
    })
}

/// `subprocessors.agreements_signed`: a contract and a data processing agreement each.
fn subprocessor_agreements(facts: &Facts<'_>) -> Option<CheckResult> {
    let subprocessors = facts.typed::<SubProcessorDocument>(RegisterKind::SubProcessor);
    if subprocessors.is_empty() {
        return None;
    }
    let failures = subprocessors
        .iter()
        .filter_map(|(record, sub)| {
            let missing: Vec<&str> = [
                sub.contract_signed_on.is_none().then_some("contract"),
                sub.dpa_signed_on.is_none().then_some("data processing agreement"),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!missing.is_empty()).then(|| {
                failing(record.id, &record.title, format!("not signed: {}", missing.join(", ")))
            })
        })
        .collect();
    Some(CheckResult::from_findings(
        ids::SUBPROCESSOR_AGREEMENTS,
        facts.now,
        subprocessors.len(),
        failures,
        Vec::new(),
    ))
}

/// `privacy.dpia_validated`: every DPIA has the DPO's validation.
fn dpia_validated(facts: &Facts<'_>) -> Option<CheckResult> {
    let dpias = facts.typed::<DpiaDocument>(RegisterKind::Dpia);
    if dpias.is_empty() {
        return None;
    }
    let failures = dpias
        .iter()
        .filter(|(_, dpia)| dpia.dpo_validated_on.is_none())
        .map(|(record, _)| failing(record.id, &record.title, "not validated by the DPO"))
        .collect();
    Some(CheckResult::from_findings(
        ids::DPIA_VALIDATED,
        facts.now,
        dpias.len(),
        failures,
        Vec::new(),
    ))
}

/// `systems.change_approval`: medium and high risk changes name their approver.
fn change_approval(facts: &Facts<'_>) -> Option<CheckResult> {
    let changes: Vec<(&ComplianceRecord, ChangeDocument)> = facts
        .typed::<ChangeDocument>(RegisterKind::Change)
        .into_iter()
        .filter(|(_, change)| change.risk != "low")
        .collect();
    if changes.is_empty() {
        return None;
    }
    let failures = changes
        .iter()
        .filter(|(_, change)| change.approved_by.as_deref().is_none_or(|by| by.trim().is_empty()))
        .map(|(record, change)| {
            failing(
                record.id,
                &record.title,
                format!("{} risk change with no approver", change.risk),
            )
        })
        .collect();
    Some(CheckResult::from_findings(
        ids::CHANGE_APPROVAL,
        facts.now,
        changes.len(),
        failures,
        Vec::new(),
    ))
}

impl App {
    /// The checks of this module, for one organisation at `now`.
    pub(crate) async fn live_check_results(
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
        let records = read.list_compliance_records(organization_id, None).await?;
        let matrix = RiskMatrix::of_stored(read.get_risk_matrix(organization_id).await?)?;
        let acknowledged: HashSet<(Uuid, UserId, String)> = read
            .list_policy_acknowledgements(organization_id)
            .await?
            .into_iter()
            .map(|ack| (ack.policy_id, ack.user_id, ack.version))
            .collect();
        let privileged_ids: Vec<String> = users
            .iter()
            .filter(|user| user.status == UserStatus::Active && user.role == UserRole::Owner)
            .map(|user| user.id.to_string())
            .collect();
        let activity = read.last_activity(&privileged_ids).await?;
        let schedules = read.list_review_schedules(organization_id).await?;
        let campaigns = read.list_review_campaigns(organization_id).await?;
        let assets = read.list_assets(organization_id).await?;
        let posture = read.list_device_posture(organization_id).await?;
        let posture_policy = read.get_posture_policy(organization_id).await?;
        let findings = read.list_findings(organization_id).await?;
        let alerts = read.list_alerts(organization_id, None, MAX_ALERTS_CHECKED).await?;
        // The security team's cases and the published security.txt belong to the provider.
        let provider = read
            .provider_organization()
            .await?
            .is_some_and(|provider| provider.id == organization_id);
        let incidents = if provider {
            read.list_incidents(organization_id, None, MAX_INCIDENTS_CHECKED).await?
        } else {
            Vec::new()
        };
        read.commit().await?;

        let facts = Facts { organization_id, now, users: &users, records: &records, matrix };
        let mut results = vec![shared_accounts(&facts)];
        results.push(dormant_privileged(&facts, &activity));
        results.extend(access_reviews(now, &schedules, &campaigns));
        results.extend(device_posture(now, &assets, &posture, posture_policy)?);
        results.extend(unsupported_software(now, &assets));
        results.extend(vulnerability_deadlines(now, &findings));
        results.extend(alert_triage(now, &alerts));
        results.extend(policy_acknowledgements(&facts, &acknowledged));
        results.extend(risk_treatment(&facts));
        results.extend(dpia_for_high_risk(&facts));
        results.extend(register_reviews(&facts));
        results.extend(statement_of_applicability(&facts));
        results.extend(leaver_accounts(&facts));
        results.extend(audit_findings(&facts));
        results.extend(certificates(&facts));
        results.extend(subprocessor_agreements(&facts));
        results.extend(dpia_validated(&facts));
        results.extend(change_approval(&facts));
        if provider {
            results.push(breach_notification(now, &incidents));
            let security_txt = self.security_txt_status();
            results.push(checks::check_security_txt(security_txt.expires, now));
        }
        tracing::debug!(organization = %facts.organization_id, n_checks = results.len(), "live checks");
        Ok(results)
    }
}

/// `incidents.breach_notification`: every case flagged as a personal-data breach, its
/// awareness time and when the supervisory authority was notified.
fn breach_notification(now: OffsetDateTime, incidents: &[store::IncidentRecord]) -> CheckResult {
    let breaches: Vec<checks::BreachFact> = incidents
        .iter()
        .filter_map(|incident| {
            Some(checks::BreachFact {
                breach_id: incident.id.to_string(),
                label: incident.title.clone(),
                became_aware_at: incident.breach_aware_at?,
                notification_required: true,
                notified_at: incident.authority_notified_at,
            })
        })
        .collect();
    checks::check_breach_notification(&breaches, now)
}

/// `iam.dormant_privileged_accounts`: an owner counts as used from its creation, then from
/// its latest successful action in any audit trail.
fn dormant_privileged(
    facts: &Facts<'_>,
    activity: &HashMap<String, OffsetDateTime>,
) -> CheckResult {
    let accounts: Vec<checks::AccountFact> = facts
        .active_users()
        .map(|user| {
            let acted = activity.get(&user.id.to_string()).copied();
            checks::AccountFact {
                id: user.id.to_string(),
                label: user.email.clone(),
                active: true,
                privileged: user.role == UserRole::Owner,
                mfa_enrolled: false,
                shared: false,
                shared_exception_approved: false,
                last_used_at: Some(acted.map_or(user.created_at, |at| at.max(user.created_at))),
            }
        })
        .collect();
    checks::check_dormant_privileged_accounts(&accounts, facts.now)
}

/// `iam.access_reviews`: each schedule's scope was last completed within its cadence plus its
/// due delay, and no campaign is open past its due date.
fn access_reviews(
    now: OffsetDateTime,
    schedules: &[store::ReviewScheduleRecord],
    campaigns: &[(store::ReviewCampaignRecord, store::CampaignCounts)],
) -> Option<CheckResult> {
    let mut reviews: Vec<checks::AccessReviewFact> = schedules
        .iter()
        .map(|schedule| checks::AccessReviewFact {
            campaign_id: format!("schedule:{}", schedule.scope.kind()),
            label: format!("{} review schedule", schedule.scope.kind()),
            cadence_days: schedule.cadence_days.saturating_add(schedule.due_in_days),
            scheduled_since: schedule.created_at,
            last_completed_at: campaigns
                .iter()
                .filter(|(campaign, _)| campaign.scope == schedule.scope)
                .filter_map(|(campaign, _)| campaign.closed_at)
                .max(),
        })
        .collect();
    reviews.extend(campaigns.iter().filter(|(campaign, _)| campaign.closed_at.is_none()).map(
        |(campaign, _)| {
            checks::AccessReviewFact {
                campaign_id: campaign.id.to_string(),
                label: campaign.name.clone(),
                cadence_days: u32::try_from(
                    (campaign.due_at - campaign.started_at).whole_days().max(0),
                )
                .unwrap_or(u32::MAX),
                scheduled_since: campaign.started_at,
                last_completed_at: None,
            }
        },
    ));
    (!reviews.is_empty()).then(|| checks::check_access_reviews(&reviews, now))
}

/// `asset.device_posture`: every workstation and mobile device in service or maintenance
/// meets the organisation's posture policy with a fresh report.
fn device_posture(
    now: OffsetDateTime,
    assets: &[store::AssetRecord],
    reports: &[store::DevicePostureRecord],
    stored_policy: Option<String>,
) -> Result<Option<CheckResult>, AppError> {
    let devices: Vec<&store::AssetRecord> = assets
        .iter()
        .filter(|asset| crate::DEVICE_KINDS.contains(&asset.kind.as_str()))
        .filter(|asset| matches!(asset.lifecycle, Lifecycle::InService | Lifecycle::Maintenance))
        .collect();
    if devices.is_empty() {
        return Ok(None);
    }
    let policy: crate::PosturePolicy = match stored_policy {
        Some(text) => serde_json::from_str(&text).map_err(|error| {
            AppError::Internal(format!("stored posture policy does not parse: {error}"))
        })?,
        None => crate::PosturePolicy::default(),
    };
    let stale_after = Duration::days(i64::from(policy.stale_after_days));
    let by_asset: HashMap<Uuid, &store::DevicePostureRecord> =
        reports.iter().map(|report| (report.asset_id, report)).collect();
    let failures = devices
        .iter()
        .filter_map(|device| {
            let reasons: Vec<String> = match by_asset.get(&device.id) {
                None => vec!["never reported".to_owned()],
                Some(report) => {
                    let facts: crate::PostureFacts =
                        serde_json::from_str(&report.facts).unwrap_or_default();
                    policy
                        .evaluate(&facts, now - report.reported_at > stale_after)
                        .into_iter()
                        .map(|failure| failure.reason)
                        .collect()
                }
            };
            (!reasons.is_empty()).then(|| failing(device.id, &device.name, reasons.join("; ")))
        })
        .collect();
    Ok(Some(CheckResult::from_findings(
        ids::DEVICE_POSTURE,
        now,
        devices.len(),
        failures,
        Vec::new(),
    )))
}

/// `asset.unsupported_software`: assets still in use with an end of support that has passed.
fn unsupported_software(now: OffsetDateTime, assets: &[store::AssetRecord]) -> Option<CheckResult> {
    let software: Vec<checks::SoftwareFact> = assets
        .iter()
        .filter(|asset| !matches!(asset.lifecycle, Lifecycle::Retired | Lifecycle::Disposed))
        .filter_map(|asset| {
            Some(checks::SoftwareFact {
                id: asset.id.to_string(),
                label: asset.name.clone(),
                end_of_support: Some(midnight(asset.end_of_support?) + Duration::days(1)),
            })
        })
        .collect();
    (!software.is_empty()).then(|| checks::check_unsupported_software(&software, now))
}

/// `vulnerability.sla`: findings still open or in triage past their remediation deadline.
fn vulnerability_deadlines(
    now: OffsetDateTime,
    findings: &[store::FindingRecord],
) -> Option<CheckResult> {
    if findings.is_empty() {
        return None;
    }
    let facts: Vec<checks::VulnerabilityFact> = findings
        .iter()
        .map(|finding| {
            let sla_days = (finding.due_at - finding.first_seen_at).whole_days().max(0);
            checks::VulnerabilityFact {
                finding_id: finding.id.to_string(),
                label: format!("{} in {}", finding.advisory_id, finding.component),
                severity: finding.severity.clone(),
                // The deadline the service set is the one checked.
                found_at: finding.due_at - Duration::days(sla_days),
                sla_days: u32::try_from(sla_days).unwrap_or(u32::MAX),
                resolved_at: (!matches!(finding.state.as_str(), "open" | "in_triage"))
                    .then_some(finding.updated_at),
            }
        })
        .collect();
    Some(checks::check_vulnerability_sla(&facts, now))
}

/// `incidents.alert_triage`: high and critical alerts acknowledged (or closed) within an hour
/// of being raised; one still untouched past the hour fails.
fn alert_triage(now: OffsetDateTime, alerts: &[store::AlertRecord]) -> Option<CheckResult> {
    let urgent: Vec<&store::AlertRecord> =
        alerts.iter().filter(|alert| URGENT_ALERT_LEVELS.contains(&alert.level.as_str())).collect();
    if urgent.is_empty() {
        return None;
    }
    let mut waiting = 0_usize;
    let failures = urgent
        .iter()
        .filter_map(|alert| {
            let deadline = alert.first_seen + ALERT_TRIAGE_DEADLINE;
            let triaged_at = alert.acknowledged_at.or(alert.closed_at);
            match triaged_at {
                Some(at) if at > deadline => Some(failing(
                    alert.id,
                    &alert.title,
                    format!(
                        "{} alert triaged {} minutes after it was raised",
                        alert.level,
                        (at - alert.first_seen).whole_minutes()
                    ),
                )),
                Some(_) => None,
                None if now > deadline => Some(failing(
                    alert.id,
                    &alert.title,
                    format!(
                        "{} alert untriaged for {} minutes",
                        alert.level,
                        (now - alert.first_seen).whole_minutes()
                    ),
                )),
                None => {
                    waiting += 1;
                    None
                }
            }
        })
        .collect();
    Some(CheckResult::from_findings(
        ids::ALERT_TRIAGE,
        now,
        urgent.len(),
        failures,
        vec![figure("alerts inside the hour", waiting)],
    ))
}
