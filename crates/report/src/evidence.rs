//! Evidence checks: the catalogue of statements the service evaluates, the result shape, the
//! evaluation of every check that is a pure function of simple facts, manual evidence, and the
//! status of each annex measure given the evidence.
//!
//! Nothing here reads the clock: every evaluation takes `now`, and every result records it.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::annex;
use crate::error::ReportError;
use crate::iso27001;

/// How often the service evaluates a check. A result older than twice the interval is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// On every relevant event, and at least hourly.
    Continuous,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
}

impl Cadence {
    /// The time between two evaluations.
    pub const fn interval(self) -> Duration {
        match self {
            Self::Continuous => Duration::hours(1),
            Self::Daily => Duration::days(1),
            Self::Weekly => Duration::weeks(1),
            Self::Monthly => Duration::days(31),
            Self::Quarterly => Duration::days(92),
        }
    }

    /// How old a result may be and still count: two intervals, so that one late run does not
    /// blank the annex.
    pub const fn max_result_age(self) -> Duration {
        Duration::seconds(self.interval().whole_seconds() * 2)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Continuous => "continuous",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
            Self::Quarterly => "quarterly",
        }
    }
}

/// One statement the service evaluates against its stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckDefinition {
    /// Stable id, `<area>.<what>`.
    pub id: &'static str,
    /// What must hold, as a sentence.
    pub statement: &'static str,
    /// The annex measures the check evidences.
    pub measures: &'static [&'static str],
    /// The Annex A controls the check evidences.
    pub controls: &'static [&'static str],
    pub cadence: Cadence,
}

const fn check(
    id: &'static str,
    statement: &'static str,
    measures: &'static [&'static str],
    controls: &'static [&'static str],
    cadence: Cadence,
) -> CheckDefinition {
    CheckDefinition { id, statement, measures, controls, cadence }
}

/// Ids of the checks this module evaluates itself (the `check_*` functions).
pub mod ids {
    pub const PRIVILEGED_MFA: &str = "iam.privileged_mfa";
    pub const NO_SHARED_ACCOUNTS: &str = "iam.no_shared_accounts";
    pub const LEAVER_REVOCATION: &str = "iam.leaver_revocation";
    pub const ACCESS_REVIEWS: &str = "iam.access_reviews";
    pub const DORMANT_PRIVILEGED: &str = "iam.dormant_privileged_accounts";
    pub const POLICY_REVIEW: &str = "governance.policy_review";
    pub const ROLES_ASSIGNED: &str = "governance.roles_assigned";
    pub const STAFF_TRAINING: &str = "personnel.training";
    pub const STAFF_AGREEMENTS: &str = "personnel.agreements";
    pub const ASSET_OWNER: &str = "asset.owner";
    pub const DISPOSAL_ERASURE: &str = "asset.disposal_erasure";
    pub const DEVICE_POSTURE: &str = "asset.device_posture";
    pub const UNSUPPORTED_SOFTWARE: &str = "asset.unsupported_software";
    pub const DOCUMENT_CLASSIFICATION: &str = "information.classification";
    pub const RETENTION: &str = "information.retention";
    pub const TEST_DATA_MASKED: &str = "information.test_data_masked";
    pub const PHYSICAL_ACCESS_REVIEW: &str = "physical.access_review";
    pub const CHANGES_PUBLISHED: &str = "systems.changes_published";
    pub const INTRUSION_TEST_SCOPE: &str = "systems.intrusion_test_scope";
    pub const MAIL_AUTHENTICATION: &str = "systems.mail_authentication";
    pub const DPIA_HIGH_RISK: &str = "privacy.dpia_high_risk";
    pub const STATIC_ANALYSIS: &str = "development.static_analysis";
    pub const VULNERABILITY_SLA: &str = "vulnerability.sla";
    pub const VULNERABILITY_SCANS: &str = "vulnerability.scans_recent";
    pub const CRITICAL_SUBPROCESSOR_REVIEW: &str = "subprocessors.critical_review";
    pub const TRANSFER_SAFEGUARDS: &str = "subprocessors.transfer_safeguards";
    pub const AUDIT_LOG_CHECKPOINT: &str = "audit.log_checkpoint";
    pub const RESTORE_TEST: &str = "continuity.restore_test";
    pub const BACKUPS_RECENT: &str = "continuity.backups_recent";
    pub const BREACH_NOTIFICATION: &str = "incidents.breach_notification";
    pub const SECURITY_TXT: &str = "incidents.security_txt";
    pub const AUDITS_HELD: &str = "audits.held";
    pub const CERTIFICATES_VALID: &str = "audits.certificates_valid";
    pub const DETECTION_RULES: &str = "monitoring.detection_rules";
    pub const ALERT_TRIAGE: &str = "incidents.alert_triage";
    pub const POLICY_ACKNOWLEDGEMENTS: &str = "governance.policy_acknowledgements";
    pub const RISK_TREATMENT: &str = "governance.risk_treatment";
    pub const REGISTER_REVIEWS: &str = "governance.register_reviews";
    pub const STATEMENT_OF_APPLICABILITY: &str = "governance.statement_of_applicability";
    pub const LEAVER_ACCOUNTS: &str = "iam.leaver_accounts_suspended";
    pub const AUDIT_FINDINGS_CLOSED: &str = "audits.findings_closed";
    pub const SUBPROCESSOR_AGREEMENTS: &str = "subprocessors.agreements_signed";
    pub const DPIA_VALIDATED: &str = "privacy.dpia_validated";
    pub const CHANGE_APPROVAL: &str = "systems.change_approval";
}

/// The catalogue of checks. The first ones are evaluated by this module's `check_*` functions;
/// the last ones need joins only the service can make and are evaluated there.
pub static CHECKS: &[CheckDefinition] = &[
    check(
        ids::PRIVILEGED_MFA,
        "Every active privileged account has multi-factor authentication enrolled.",
        &["systems.authentication", "staff_iam.access"],
        &["8.5", "8.2"],
        Cadence::Continuous,
    ),
    check(
        ids::NO_SHARED_ACCOUNTS,
        "No active account is shared between people unless an approved exception covers it.",
        &["staff_iam.access"],
        &["5.16"],
        Cadence::Daily,
    ),
    check(
        ids::LEAVER_REVOCATION,
        "Every leaver's access is revoked within 24 hours of departure.",
        &["staff_iam.access"],
        &["5.18", "6.5"],
        Cadence::Daily,
    ),
    check(
        ids::ACCESS_REVIEWS,
        "Every access review campaign is completed on its cadence.",
        &["staff_iam.access"],
        &["5.18"],
        Cadence::Weekly,
    ),
    check(
        ids::DORMANT_PRIVILEGED,
        "No active privileged account has gone unused for more than 90 days.",
        &["systems.privileged_rights"],
        &["8.2"],
        Cadence::Daily,
    ),
    check(
        ids::POLICY_REVIEW,
        "Every security policy has been reviewed within the last 365 days.",
        &["governance.policy"],
        &["5.1"],
        Cadence::Monthly,
    ),
    check(
        ids::ROLES_ASSIGNED,
        "Every defined security role has a named holder.",
        &["governance.roles"],
        &["5.2"],
        Cadence::Monthly,
    ),
    check(
        ids::STAFF_TRAINING,
        "Every staff member has completed security and data protection training within the last 730 days.",
        &["personnel.training"],
        &["6.3"],
        Cadence::Weekly,
    ),
    check(
        ids::STAFF_AGREEMENTS,
        "Every staff member has signed the non-disclosure agreement and the IT charter.",
        &["personnel.confidentiality"],
        &["6.6", "6.2"],
        Cadence::Weekly,
    ),
    check(
        ids::ASSET_OWNER,
        "Every asset in the inventory has an owner.",
        &["asset.inventory"],
        &["5.9"],
        Cadence::Daily,
    ),
    check(
        ids::DISPOSAL_ERASURE,
        "Every disposed asset has a secure erasure or destruction record.",
        &["asset.end_of_life"],
        &["7.14", "7.10"],
        Cadence::Weekly,
    ),
    check(
        ids::DEVICE_POSTURE,
        "Every workstation is enrolled in device management, disk-encrypted, screen-locking and up to date.",
        &["asset.workplace"],
        &["8.1", "8.7"],
        Cadence::Daily,
    ),
    check(
        ids::UNSUPPORTED_SOFTWARE,
        "No asset runs software past its end of support.",
        &["asset.end_of_life"],
        &["8.8"],
        Cadence::Weekly,
    ),
    check(
        ids::DOCUMENT_CLASSIFICATION,
        "Every registered document carries a classification label.",
        &["information.classification"],
        &["5.12", "5.13"],
        Cadence::Daily,
    ),
    check(
        ids::RETENTION,
        "No personal-data record is kept past the end of its retention period.",
        &["information.retention"],
        &["8.10"],
        Cadence::Daily,
    ),
    check(
        ids::TEST_DATA_MASKED,
        "No copy of production personal data sits unmasked in a test environment.",
        &["information.test_data", "information.masking"],
        &["8.33", "8.11"],
        Cadence::Daily,
    ),
    check(
        ids::PHYSICAL_ACCESS_REVIEW,
        "Access rights to every secure area have been reviewed within the last 180 days.",
        &["physical.premises"],
        &["7.2"],
        Cadence::Monthly,
    ),
    check(
        ids::CHANGES_PUBLISHED,
        "Every customer-impacting change is published on the changes page.",
        &["systems.change"],
        &["8.32"],
        Cadence::Daily,
    ),
    check(
        ids::INTRUSION_TEST_SCOPE,
        "Every intrusion test has a written scope shared with the parties concerned before it starts.",
        &["systems.intrusion_tests"],
        &["8.34"],
        Cadence::Monthly,
    ),
    check(
        ids::MAIL_AUTHENTICATION,
        "Every sending domain publishes SPF, DKIM and an enforcing DMARC policy.",
        &["systems.exchanges"],
        &["5.14"],
        Cadence::Daily,
    ),
    check(
        ids::DPIA_HIGH_RISK,
        "Every high-risk processing activity has a completed DPIA.",
        &["privacy_by_design.impact_assessment"],
        &["5.34"],
        Cadence::Weekly,
    ),
    check(
        ids::STATIC_ANALYSIS,
        "Static analysis has run on every active repository within the last 30 days.",
        &["privacy_by_design.secure_coding", "privacy_by_design.lifecycle"],
        &["8.28", "8.29"],
        Cadence::Weekly,
    ),
    check(
        ids::VULNERABILITY_SLA,
        "No vulnerability is open past its remediation deadline.",
        &["vulnerability.management"],
        &["8.8"],
        Cadence::Daily,
    ),
    check(
        ids::VULNERABILITY_SCANS,
        "Every asset in scanning scope has been scanned within the last 7 days.",
        &["vulnerability.management"],
        &["8.8"],
        Cadence::Daily,
    ),
    check(
        ids::CRITICAL_SUBPROCESSOR_REVIEW,
        "Every critical sub-processor has been reviewed within the last 24 months.",
        &["subprocessors.assurance"],
        &["5.22", "5.19"],
        Cadence::Monthly,
    ),
    check(
        ids::TRANSFER_SAFEGUARDS,
        "Every sub-processor in a country without an adequacy decision is covered by standard contractual clauses.",
        &["subprocessors.assurance"],
        &["5.20"],
        Cadence::Monthly,
    ),
    check(
        ids::AUDIT_LOG_CHECKPOINT,
        "Every organisation's audit log verifies against its latest signed checkpoint.",
        &["systems.privileged_rights", "staff_iam.access", "customer_iam.controls"],
        &["8.15"],
        Cadence::Daily,
    ),
    check(
        ids::RESTORE_TEST,
        "A restore from backup has succeeded within the last 180 days.",
        &["continuity.plan"],
        &["8.13", "5.30"],
        Cadence::Monthly,
    ),
    check(
        ids::BACKUPS_RECENT,
        "Every critical system has a successful backup within the last 24 hours.",
        &["continuity.plan"],
        &["8.13"],
        Cadence::Daily,
    ),
    check(
        ids::BREACH_NOTIFICATION,
        "Every personal-data breach that must be notified was notified to the authority within 72 hours of awareness.",
        &["incidents.response"],
        &["5.26", "5.24"],
        Cadence::Continuous,
    ),
    check(
        ids::SECURITY_TXT,
        "The published security.txt has not expired.",
        &["incidents.response"],
        &["6.8", "5.24"],
        Cadence::Daily,
    ),
    check(
        ids::AUDITS_HELD,
        "A security audit has been held within the last 12 months.",
        &["audits.programme"],
        &["5.35"],
        Cadence::Monthly,
    ),
    check(
        ids::CERTIFICATES_VALID,
        "Every published certification is within its validity period.",
        &["audits.certifications"],
        &["5.31"],
        Cadence::Daily,
    ),
    check(
        ids::DETECTION_RULES,
        "Every detection rule enabled in the SIEM loaded without error.",
        &["monitoring.detection"],
        &["8.16"],
        Cadence::Continuous,
    ),
    check(
        "systems.privileged_use_logged",
        "Every use of a privileged right has an audit log entry.",
        &["systems.privileged_rights"],
        &["8.2", "8.15"],
        Cadence::Daily,
    ),
    check(
        "systems.network_admin_rights",
        "Only members of the network administration group hold rights on network equipment.",
        &["systems.network"],
        &["8.20", "5.3"],
        Cadence::Weekly,
    ),
    check(
        "customer_iam.password_policy",
        "Customer passwords need at least 12 characters and are stored with a memory-hard hash.",
        &["customer_iam.controls"],
        &["5.17", "8.5"],
        Cadence::Daily,
    ),
    check(
        "customer_iam.mfa_available",
        "Multi-factor authentication can be enabled on every customer account type.",
        &["customer_iam.controls"],
        &["8.5"],
        Cadence::Daily,
    ),
    check(
        ids::ALERT_TRIAGE,
        "Every high-severity alert was triaged within one hour.",
        &["incidents.response", "monitoring.detection"],
        &["5.25"],
        Cadence::Continuous,
    ),
    check(
        "incidents.lessons_learnt",
        "Every closed major incident has a post-incident review.",
        &["incidents.response"],
        &["5.27"],
        Cadence::Weekly,
    ),
    check(
        "vulnerability.threat_feeds",
        "Every configured threat intelligence feed was refreshed within the last 24 hours.",
        &["vulnerability.management"],
        &["5.7"],
        Cadence::Daily,
    ),
    check(
        "information.approved_transfer_tools",
        "Every messaging, mail and file-sharing tool in use is on the approved list.",
        &["information.transfer"],
        &["5.14"],
        Cadence::Weekly,
    ),
    check(
        "continuity.capacity",
        "No critical resource has exceeded its capacity alert threshold unacknowledged.",
        &["continuity.plan", "monitoring.detection"],
        &["8.6"],
        Cadence::Daily,
    ),
    check(
        ids::POLICY_ACKNOWLEDGEMENTS,
        "Every active member of staff has acknowledged the current version of every policy.",
        &["governance.policy", "personnel.confidentiality"],
        &["5.1", "6.3"],
        Cadence::Daily,
    ),
    check(
        ids::RISK_TREATMENT,
        "No risk is left at a high or critical residual level of the organisation's risk matrix.",
        &["governance.policy"],
        &["5.1"],
        Cadence::Weekly,
    ),
    check(
        ids::REGISTER_REVIEWS,
        "No compliance register record is past its review date.",
        &["governance.policy", "governance.roles"],
        &["5.1", "5.36"],
        Cadence::Daily,
    ),
    check(
        ids::STATEMENT_OF_APPLICABILITY,
        "Every Annex A control has a line in the Statement of Applicability.",
        &["governance.policy"],
        &["5.1", "5.36"],
        Cadence::Monthly,
    ),
    check(
        ids::LEAVER_ACCOUNTS,
        "Every leaver's Rampart account is no longer active.",
        &["staff_iam.access"],
        &["5.18", "6.5"],
        Cadence::Daily,
    ),
    check(
        ids::AUDIT_FINDINGS_CLOSED,
        "Every audit finding past its due date is closed.",
        &["audits.programme"],
        &["5.35", "5.36"],
        Cadence::Weekly,
    ),
    check(
        ids::SUBPROCESSOR_AGREEMENTS,
        "Every sub-processor has a signed contract and data processing agreement.",
        &["subprocessors.assurance"],
        &["5.20", "5.34"],
        Cadence::Monthly,
    ),
    check(
        ids::DPIA_VALIDATED,
        "Every DPIA has been validated by the data protection officer.",
        &["privacy_by_design.impact_assessment"],
        &["5.34"],
        Cadence::Weekly,
    ),
    check(
        ids::CHANGE_APPROVAL,
        "Every medium or high risk change names who approved it.",
        &["systems.change"],
        &["8.32"],
        Cadence::Daily,
    ),
];

/// The check with this id.
pub fn check_definition(id: &str) -> Option<&'static CheckDefinition> {
    CHECKS.iter().find(|check| check.id == id)
}

/// The checks that evidence an annex measure.
pub fn checks_for_measure(measure_id: &str) -> impl Iterator<Item = &'static CheckDefinition> {
    let measure_id = measure_id.to_owned();
    CHECKS.iter().filter(move |check| check.measures.contains(&measure_id.as_str()))
}

/// Duplicate ids, unknown measures or controls, and checks with nothing to evidence; empty when
/// the catalogue is sound.
pub fn catalogue_problems() -> Vec<String> {
    let mut problems = Vec::new();
    for (index, check) in CHECKS.iter().enumerate() {
        if CHECKS[..index].iter().any(|earlier| earlier.id == check.id) {
            problems.push(format!("check {} is defined twice", check.id));
        }
        if check.measures.is_empty() || check.controls.is_empty() {
            problems.push(format!("check {} evidences no measure or no control", check.id));
        }
        for measure in check.measures {
            if annex::measure_by_id(measure).is_none() {
                problems.push(format!("check {} names unknown measure {measure}", check.id));
            }
        }
        for control in check.controls {
            if iso27001::control(control).is_none() {
                problems.push(format!("check {} names unknown control {control}", check.id));
            }
        }
    }
    problems
}

/// One item that fails a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingItem {
    /// The item's id in the service (account id, asset id, …).
    pub id: String,
    /// A human name for the item.
    pub label: String,
    /// Why this item fails, with the figure that decided it.
    pub reason: String,
}

/// A named figure a check reports (counts, oldest dates, days left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    pub value: String,
}

/// The outcome of one evaluation of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub ran_at: OffsetDateTime,
    /// True exactly when `failing` is empty.
    pub passed: bool,
    /// How many items the check looked at.
    pub population: usize,
    pub failing: Vec<FailingItem>,
    pub figures: Vec<Figure>,
}

impl CheckResult {
    /// A result whose verdict follows from its failing items: it passes when there are none.
    pub fn from_findings(
        check_id: &str,
        ran_at: OffsetDateTime,
        population: usize,
        failing: Vec<FailingItem>,
        figures: Vec<Figure>,
    ) -> Self {
        Self {
            check_id: check_id.to_owned(),
            ran_at,
            passed: failing.is_empty(),
            population,
            failing,
            figures,
        }
    }

    /// Checks a result received from elsewhere: known check id, and a verdict that agrees with
    /// its failing items.
    pub fn validate(&self) -> Result<(), ReportError> {
        let location = format!("result of check {:?}", self.check_id);
        if check_definition(&self.check_id).is_none() {
            return Err(ReportError::Evidence { location, problem: "unknown check id".to_owned() });
        }
        if self.passed != self.failing.is_empty() {
            return Err(ReportError::Evidence {
                location,
                problem: format!(
                    "passed is {} but {} failing item(s) are listed",
                    self.passed,
                    self.failing.len()
                ),
            });
        }
        Ok(())
    }

    /// Whether the result is recent enough, at `at`, for its check's cadence.
    pub fn is_current_at(&self, at: OffsetDateTime) -> bool {
        let max_age = check_definition(&self.check_id)
            .map_or(Duration::ZERO, |check| check.cadence.max_result_age());
        self.ran_at <= at && at - self.ran_at <= max_age
    }
}

fn failing(id: &str, label: &str, reason: String) -> FailingItem {
    FailingItem { id: id.to_owned(), label: label.to_owned(), reason }
}

fn figure(name: &str, value: impl ToString) -> Figure {
    Figure { name: name.to_owned(), value: value.to_string() }
}

fn date_of(moment: OffsetDateTime) -> String {
    moment.date().to_string()
}

/// The same instant `months` calendar months earlier; the day is clamped to the month's length
/// (31 March minus one month is 28 or 29 February).
pub fn months_before(moment: OffsetDateTime, months: u32) -> OffsetDateTime {
    let total =
        i64::from(moment.year()) * 12 + i64::from(u8::from(moment.month())) - 1 - i64::from(months);
    let year = i32::try_from(total.div_euclid(12)).unwrap_or(time::Date::MIN.year());
    let month = u8::try_from(total.rem_euclid(12) + 1)
        .ok()
        .and_then(|number| time::Month::try_from(number).ok())
        .unwrap_or(time::Month::January);
    let day = moment.day().min(time::util::days_in_month(month, year));
    time::Date::from_calendar_date(year, month, day)
        .map_or(OffsetDateTime::UNIX_EPOCH, |date| moment.replace_date(date))
}

// ---------------------------------------------------------------------------------------------
// Facts and evaluations
// ---------------------------------------------------------------------------------------------

/// A user account as the identity store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFact {
    pub id: String,
    pub label: String,
    pub active: bool,
    pub privileged: bool,
    pub mfa_enrolled: bool,
    /// Used by more than one person.
    pub shared: bool,
    /// An approved exception allows the sharing.
    pub shared_exception_approved: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// `iam.privileged_mfa`: every active privileged account has MFA.
pub fn check_privileged_mfa(accounts: &[AccountFact], now: OffsetDateTime) -> CheckResult {
    let privileged: Vec<&AccountFact> =
        accounts.iter().filter(|account| account.active && account.privileged).collect();
    let failures = privileged
        .iter()
        .filter(|account| !account.mfa_enrolled)
        .map(|account| {
            failing(&account.id, &account.label, "privileged account without MFA".to_owned())
        })
        .collect();
    CheckResult::from_findings(
        ids::PRIVILEGED_MFA,
        now,
        privileged.len(),
        failures,
        vec![figure("active privileged accounts", privileged.len())],
    )
}

/// `iam.no_shared_accounts`: no active shared account without an approved exception.
pub fn check_no_shared_accounts(accounts: &[AccountFact], now: OffsetDateTime) -> CheckResult {
    let active: Vec<&AccountFact> = accounts.iter().filter(|account| account.active).collect();
    let excepted =
        active.iter().filter(|account| account.shared && account.shared_exception_approved).count();
    let failures = active
        .iter()
        .filter(|account| account.shared && !account.shared_exception_approved)
        .map(|account| {
            failing(
                &account.id,
                &account.label,
                "shared account with no approved exception".to_owned(),
            )
        })
        .collect();
    CheckResult::from_findings(
        ids::NO_SHARED_ACCOUNTS,
        now,
        active.len(),
        failures,
        vec![figure("shared accounts under exception", excepted)],
    )
}

/// Longest a privileged account may go unused.
pub const MAX_PRIVILEGED_IDLE: Duration = Duration::days(90);

/// `iam.dormant_privileged_accounts`: no active privileged account idle for over 90 days.
pub fn check_dormant_privileged_accounts(
    accounts: &[AccountFact],
    now: OffsetDateTime,
) -> CheckResult {
    let privileged: Vec<&AccountFact> =
        accounts.iter().filter(|account| account.active && account.privileged).collect();
    let failures = privileged
        .iter()
        .filter_map(|account| match account.last_used_at {
            None => Some(failing(&account.id, &account.label, "never used".to_owned())),
            Some(used) if now - used > MAX_PRIVILEGED_IDLE => Some(failing(
                &account.id,
                &account.label,
                format!("last used {} ({} days ago)", date_of(used), (now - used).whole_days()),
            )),
            Some(_) => None,
        })
        .collect();
    CheckResult::from_findings(ids::DORMANT_PRIVILEGED, now, privileged.len(), failures, Vec::new())
}

/// A person who left, and when their access was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaverFact {
    pub person_id: String,
    pub label: String,
    #[serde(with = "time::serde::rfc3339")]
    pub left_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub access_revoked_at: Option<OffsetDateTime>,
}

/// How long after departure access may remain.
pub const LEAVER_REVOCATION_DEADLINE: Duration = Duration::hours(24);

/// `iam.leaver_revocation`: access revoked within 24 hours of departure. A leaver still inside
/// the 24 hours is pending, not failing.
pub fn check_leaver_revocation(leavers: &[LeaverFact], now: OffsetDateTime) -> CheckResult {
    let mut pending = 0_usize;
    let mut failures = Vec::new();
    for leaver in leavers {
        let deadline = leaver.left_at + LEAVER_REVOCATION_DEADLINE;
        match leaver.access_revoked_at {
            Some(revoked) if revoked > deadline => failures.push(failing(
                &leaver.person_id,
                &leaver.label,
                format!(
                    "access revoked {} hours after departure",
                    (revoked - leaver.left_at).whole_hours()
                ),
            )),
            Some(_) => {}
            None if now > deadline => failures.push(failing(
                &leaver.person_id,
                &leaver.label,
                format!(
                    "access still active {} hours after departure",
                    (now - leaver.left_at).whole_hours()
                ),
            )),
            None => pending += 1,
        }
    }
    CheckResult::from_findings(
        ids::LEAVER_REVOCATION,
        now,
        leavers.len(),
        failures,
        vec![figure("leavers within the 24-hour window", pending)],
    )
}

/// An access review campaign's schedule and its last completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReviewFact {
    pub campaign_id: String,
    pub label: String,
    /// Days between two completions.
    pub cadence_days: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub scheduled_since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_completed_at: Option<OffsetDateTime>,
}

/// `iam.access_reviews`: each campaign completed within its cadence (counted from its last
/// completion, or from when it was scheduled if it never completed).
pub fn check_access_reviews(reviews: &[AccessReviewFact], now: OffsetDateTime) -> CheckResult {
    let failures = reviews
        .iter()
        .filter_map(|review| {
            let since = review.last_completed_at.unwrap_or(review.scheduled_since);
            let due = since + Duration::days(i64::from(review.cadence_days));
            (now > due).then(|| {
                let last = review.last_completed_at.map_or("never completed".to_owned(), |at| {
                    format!("last completed {}", date_of(at))
                });
                failing(
                    &review.campaign_id,
                    &review.label,
                    format!(
                        "{last}; due every {} days, overdue since {}",
                        review.cadence_days,
                        date_of(due)
                    ),
                )
            })
        })
        .collect();
    CheckResult::from_findings(ids::ACCESS_REVIEWS, now, reviews.len(), failures, Vec::new())
}

/// Something that must recur: a policy review, a training, a scan, a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatedRecordFact {
    pub id: String,
    pub label: String,
    /// When it last happened; `None` if never.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_at: Option<OffsetDateTime>,
}

fn check_recency(
    check_id: &str,
    records: &[DatedRecordFact],
    now: OffsetDateTime,
    oldest_allowed: OffsetDateTime,
    what: &str,
) -> CheckResult {
    let failures = records
        .iter()
        .filter_map(|record| match record.last_at {
            None => Some(failing(&record.id, &record.label, format!("no {what} on record"))),
            Some(at) if at < oldest_allowed => Some(failing(
                &record.id,
                &record.label,
                format!("last {what} {} ({} days ago)", date_of(at), (now - at).whole_days()),
            )),
            Some(_) => None,
        })
        .collect();
    let mut figures = Vec::new();
    if let Some(oldest) = records.iter().filter_map(|record| record.last_at).min() {
        figures.push(figure(&format!("oldest {what}"), date_of(oldest)));
    }
    CheckResult::from_findings(check_id, now, records.len(), failures, figures)
}

/// `governance.policy_review`: every policy reviewed within 365 days.
pub fn check_policy_reviews(policies: &[DatedRecordFact], now: OffsetDateTime) -> CheckResult {
    check_recency(ids::POLICY_REVIEW, policies, now, now - Duration::days(365), "review")
}

/// `personnel.training`: every staff member trained within 730 days.
pub fn check_staff_training(staff: &[DatedRecordFact], now: OffsetDateTime) -> CheckResult {
    check_recency(ids::STAFF_TRAINING, staff, now, now - Duration::days(730), "training")
}

/// `physical.access_review`: every secure area's access list reviewed within 180 days.
pub fn check_physical_access_reviews(
    areas: &[DatedRecordFact],
    now: OffsetDateTime,
) -> CheckResult {
    check_recency(
        ids::PHYSICAL_ACCESS_REVIEW,
        areas,
        now,
        now - Duration::days(180),
        "access review",
    )
}

/// `development.static_analysis`: static analysis on every active repository within 30 days.
pub fn check_static_analysis(repositories: &[DatedRecordFact], now: OffsetDateTime) -> CheckResult {
    check_recency(
        ids::STATIC_ANALYSIS,
        repositories,
        now,
        now - Duration::days(30),
        "static analysis",
    )
}

/// `vulnerability.scans_recent`: every in-scope asset scanned within 7 days.
pub fn check_vulnerability_scans(assets: &[DatedRecordFact], now: OffsetDateTime) -> CheckResult {
    check_recency(ids::VULNERABILITY_SCANS, assets, now, now - Duration::days(7), "scan")
}

/// `continuity.backups_recent`: every critical system backed up within 24 hours.
pub fn check_backups_recent(systems: &[DatedRecordFact], now: OffsetDateTime) -> CheckResult {
    check_recency(ids::BACKUPS_RECENT, systems, now, now - Duration::hours(24), "successful backup")
}

/// `audits.held`: an audit held within the last 12 calendar months. One record per audit; the
/// check fails (with one item naming the latest) when none is recent enough.
pub fn check_audits_held(audits: &[DatedRecordFact], now: OffsetDateTime) -> CheckResult {
    latest_within(ids::AUDITS_HELD, audits, now, months_before(now, 12), "audit", "audits")
}

/// `continuity.restore_test`: a successful restore test within 180 days. One record per
/// successful test.
pub fn check_restore_test(tests: &[DatedRecordFact], now: OffsetDateTime) -> CheckResult {
    latest_within(
        ids::RESTORE_TEST,
        tests,
        now,
        now - Duration::days(180),
        "restore test",
        "restore-tests",
    )
}

/// Checks that need one recent occurrence among many, not every record recent.
fn latest_within(
    check_id: &str,
    records: &[DatedRecordFact],
    now: OffsetDateTime,
    oldest_allowed: OffsetDateTime,
    what: &str,
    item_id: &str,
) -> CheckResult {
    let latest = records
        .iter()
        .filter(|record| record.last_at.is_some_and(|at| at <= now))
        .max_by_key(|record| record.last_at);
    let mut figures = Vec::new();
    let mut failures = Vec::new();
    match latest.and_then(|record| record.last_at.map(|at| (record, at))) {
        Some((record, at)) => {
            figures.push(figure(
                &format!("latest {what}"),
                format!("{} ({})", date_of(at), record.label),
            ));
            if at < oldest_allowed {
                failures.push(failing(
                    &record.id,
                    &record.label,
                    format!(
                        "latest {what} {} is older than {}",
                        date_of(at),
                        date_of(oldest_allowed)
                    ),
                ));
            }
        }
        None => failures.push(failing(item_id, what, format!("no {what} on record"))),
    }
    CheckResult::from_findings(check_id, now, records.len(), failures, figures)
}

/// A security role and who holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleFact {
    pub role_id: String,
    pub label: String,
    pub holder: Option<String>,
}

/// `governance.roles_assigned`: every role has a holder.
pub fn check_roles_assigned(roles: &[RoleFact], now: OffsetDateTime) -> CheckResult {
    let failures = roles
        .iter()
        .filter(|role| role.holder.as_deref().is_none_or(|holder| holder.trim().is_empty()))
        .map(|role| failing(&role.role_id, &role.label, "no one holds this role".to_owned()))
        .collect();
    CheckResult::from_findings(ids::ROLES_ASSIGNED, now, roles.len(), failures, Vec::new())
}

/// What a staff member has signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAgreementFact {
    pub person_id: String,
    pub label: String,
    pub nda_signed: bool,
    pub it_charter_signed: bool,
}

/// `personnel.agreements`: every staff member signed the NDA and the IT charter.
pub fn check_staff_agreements(staff: &[StaffAgreementFact], now: OffsetDateTime) -> CheckResult {
    let failures = staff
        .iter()
        .filter_map(|person| {
            let missing: Vec<&str> = [
                (!person.nda_signed).then_some("non-disclosure agreement"),
                (!person.it_charter_signed).then_some("IT charter"),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!missing.is_empty()).then(|| {
                failing(
                    &person.person_id,
                    &person.label,
                    format!("not signed: {}", missing.join(", ")),
                )
            })
        })
        .collect();
    CheckResult::from_findings(ids::STAFF_AGREEMENTS, now, staff.len(), failures, Vec::new())
}

/// An inventoried asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetFact {
    pub id: String,
    pub label: String,
    pub owner: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disposed_at: Option<OffsetDateTime>,
    /// Reference of the erasure or destruction certificate.
    pub erasure_record: Option<String>,
}

/// `asset.owner`: every asset still in service has an owner.
pub fn check_asset_owners(assets: &[AssetFact], now: OffsetDateTime) -> CheckResult {
    let in_service: Vec<&AssetFact> =
        assets.iter().filter(|asset| asset.disposed_at.is_none()).collect();
    let failures = in_service
        .iter()
        .filter(|asset| asset.owner.as_deref().is_none_or(|owner| owner.trim().is_empty()))
        .map(|asset| failing(&asset.id, &asset.label, "no owner".to_owned()))
        .collect();
    CheckResult::from_findings(ids::ASSET_OWNER, now, in_service.len(), failures, Vec::new())
}

/// `asset.disposal_erasure`: every disposed asset has an erasure record.
pub fn check_disposed_asset_erasure(assets: &[AssetFact], now: OffsetDateTime) -> CheckResult {
    let disposed: Vec<&AssetFact> =
        assets.iter().filter(|asset| asset.disposed_at.is_some()).collect();
    let failures = disposed
        .iter()
        .filter(|asset| {
            asset.erasure_record.as_deref().is_none_or(|record| record.trim().is_empty())
        })
        .map(|asset| {
            let when = asset.disposed_at.map(date_of).unwrap_or_default();
            failing(&asset.id, &asset.label, format!("disposed {when} with no erasure record"))
        })
        .collect();
    CheckResult::from_findings(ids::DISPOSAL_ERASURE, now, disposed.len(), failures, Vec::new())
}

/// A workstation's posture as device management reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFact {
    pub device_id: String,
    pub label: String,
    pub managed: bool,
    pub disk_encrypted: bool,
    pub screen_lock: bool,
    pub security_updates_current: bool,
    pub malware_protection: bool,
}

/// `asset.device_posture`: every workstation meets every posture requirement.
pub fn check_device_posture(devices: &[DeviceFact], now: OffsetDateTime) -> CheckResult {
    let failures = devices
        .iter()
        .filter_map(|device| {
            let gaps: Vec<&str> = [
                (!device.managed).then_some("not enrolled in device management"),
                (!device.disk_encrypted).then_some("disk not encrypted"),
                (!device.screen_lock).then_some("no automatic screen lock"),
                (!device.security_updates_current).then_some("security updates behind"),
                (!device.malware_protection).then_some("no malware protection"),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!gaps.is_empty()).then(|| failing(&device.device_id, &device.label, gaps.join("; ")))
        })
        .collect();
    CheckResult::from_findings(ids::DEVICE_POSTURE, now, devices.len(), failures, Vec::new())
}

/// Software installed on an asset and its vendor's end of support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareFact {
    pub id: String,
    pub label: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_of_support: Option<OffsetDateTime>,
}

/// `asset.unsupported_software`: nothing installed past its end of support.
pub fn check_unsupported_software(software: &[SoftwareFact], now: OffsetDateTime) -> CheckResult {
    let failures = software
        .iter()
        .filter_map(|item| {
            let end = item.end_of_support?;
            (end < now).then(|| {
                failing(&item.id, &item.label, format!("out of support since {}", date_of(end)))
            })
        })
        .collect();
    CheckResult::from_findings(ids::UNSUPPORTED_SOFTWARE, now, software.len(), failures, Vec::new())
}

/// A registered document and its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentFact {
    pub id: String,
    pub label: String,
    pub classification: Option<String>,
}

/// `information.classification`: every document is labelled.
pub fn check_document_classification(
    documents: &[DocumentFact],
    now: OffsetDateTime,
) -> CheckResult {
    let failures = documents
        .iter()
        .filter(|document| {
            document.classification.as_deref().is_none_or(|level| level.trim().is_empty())
        })
        .map(|document| {
            failing(&document.id, &document.label, "no classification label".to_owned())
        })
        .collect();
    CheckResult::from_findings(
        ids::DOCUMENT_CLASSIFICATION,
        now,
        documents.len(),
        failures,
        Vec::new(),
    )
}

/// A set of personal-data records under one retention rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionFact {
    pub id: String,
    pub label: String,
    /// When the retention period ends; deletion or anonymisation is due from then.
    #[serde(with = "time::serde::rfc3339")]
    pub retention_ends_at: OffsetDateTime,
    pub deleted_or_anonymised: bool,
    /// Kept under a legal hold.
    pub legal_hold: bool,
}

/// `information.retention`: nothing kept past its retention end unless under legal hold.
pub fn check_retention(records: &[RetentionFact], now: OffsetDateTime) -> CheckResult {
    let held =
        records.iter().filter(|record| record.legal_hold && !record.deleted_or_anonymised).count();
    let failures = records
        .iter()
        .filter(|record| {
            !record.deleted_or_anonymised && !record.legal_hold && record.retention_ends_at < now
        })
        .map(|record| {
            failing(
                &record.id,
                &record.label,
                format!(
                    "retention ended {} ({} days ago)",
                    date_of(record.retention_ends_at),
                    (now - record.retention_ends_at).whole_days()
                ),
            )
        })
        .collect();
    CheckResult::from_findings(
        ids::RETENTION,
        now,
        records.len(),
        failures,
        vec![figure("under legal hold", held)],
    )
}

/// A dataset present in a non-production environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestDatasetFact {
    pub id: String,
    pub label: String,
    pub derived_from_production: bool,
    pub contains_personal_data: bool,
    pub masked: bool,
}

/// `information.test_data_masked`: no unmasked production personal data in test.
pub fn check_test_data_masked(datasets: &[TestDatasetFact], now: OffsetDateTime) -> CheckResult {
    let failures = datasets
        .iter()
        .filter(|dataset| {
            dataset.derived_from_production && dataset.contains_personal_data && !dataset.masked
        })
        .map(|dataset| {
            failing(&dataset.id, &dataset.label, "unmasked production personal data".to_owned())
        })
        .collect();
    CheckResult::from_findings(ids::TEST_DATA_MASKED, now, datasets.len(), failures, Vec::new())
}

/// A change and whether it was published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeFact {
    pub change_id: String,
    pub label: String,
    pub customer_impacting: bool,
    pub published: bool,
}

/// `systems.changes_published`: every customer-impacting change is published.
pub fn check_changes_published(changes: &[ChangeFact], now: OffsetDateTime) -> CheckResult {
    let impacting: Vec<&ChangeFact> =
        changes.iter().filter(|change| change.customer_impacting).collect();
    let failures = impacting
        .iter()
        .filter(|change| !change.published)
        .map(|change| {
            failing(
                &change.change_id,
                &change.label,
                "customer-impacting change not published".to_owned(),
            )
        })
        .collect();
    CheckResult::from_findings(ids::CHANGES_PUBLISHED, now, impacting.len(), failures, Vec::new())
}

/// An intrusion test and its scoping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntrusionTestFact {
    pub test_id: String,
    pub label: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub scope_shared_at: Option<OffsetDateTime>,
}

/// `systems.intrusion_test_scope`: every started test had its scope shared beforehand.
pub fn check_intrusion_test_scope(tests: &[IntrusionTestFact], now: OffsetDateTime) -> CheckResult {
    let started: Vec<&IntrusionTestFact> =
        tests.iter().filter(|test| test.starts_at <= now).collect();
    let failures = started
        .iter()
        .filter_map(|test| match test.scope_shared_at {
            None => Some(failing(&test.test_id, &test.label, "no scope shared".to_owned())),
            Some(shared) if shared > test.starts_at => Some(failing(
                &test.test_id,
                &test.label,
                format!(
                    "scope shared {} after the test started {}",
                    date_of(shared),
                    date_of(test.starts_at)
                ),
            )),
            Some(_) => None,
        })
        .collect();
    CheckResult::from_findings(ids::INTRUSION_TEST_SCOPE, now, started.len(), failures, Vec::new())
}

/// DMARC policy a domain publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmarcPolicy {
    Missing,
    None,
    Quarantine,
    Reject,
}

/// A sending domain's mail authentication records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailDomainFact {
    pub domain: String,
    pub spf: bool,
    pub dkim: bool,
    pub dmarc: DmarcPolicy,
}

/// `systems.mail_authentication`: SPF, DKIM and DMARC at quarantine or reject.
pub fn check_mail_authentication(domains: &[MailDomainFact], now: OffsetDateTime) -> CheckResult {
    let failures = domains
        .iter()
        .filter_map(|domain| {
            let gaps: Vec<&str> = [
                (!domain.spf).then_some("no SPF record"),
                (!domain.dkim).then_some("no DKIM key"),
                match domain.dmarc {
                    DmarcPolicy::Missing => Some("no DMARC record"),
                    DmarcPolicy::None => Some("DMARC policy does not enforce (p=none)"),
                    DmarcPolicy::Quarantine | DmarcPolicy::Reject => None,
                },
            ]
            .into_iter()
            .flatten()
            .collect();
            (!gaps.is_empty()).then(|| failing(&domain.domain, &domain.domain, gaps.join("; ")))
        })
        .collect();
    CheckResult::from_findings(ids::MAIL_AUTHENTICATION, now, domains.len(), failures, Vec::new())
}

/// A processing activity from the records of processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessingFact {
    pub id: String,
    pub label: String,
    pub high_risk: bool,
    pub dpia_completed: bool,
}

/// `privacy.dpia_high_risk`: every high-risk processing has a completed DPIA.
pub fn check_dpia_for_high_risk(
    processings: &[ProcessingFact],
    now: OffsetDateTime,
) -> CheckResult {
    let high_risk: Vec<&ProcessingFact> =
        processings.iter().filter(|processing| processing.high_risk).collect();
    let failures = high_risk
        .iter()
        .filter(|processing| !processing.dpia_completed)
        .map(|processing| {
            failing(
                &processing.id,
                &processing.label,
                "high-risk processing without a completed DPIA".to_owned(),
            )
        })
        .collect();
    CheckResult::from_findings(ids::DPIA_HIGH_RISK, now, high_risk.len(), failures, Vec::new())
}

/// A vulnerability finding and its remediation deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnerabilityFact {
    pub finding_id: String,
    pub label: String,
    pub severity: String,
    #[serde(with = "time::serde::rfc3339")]
    pub found_at: OffsetDateTime,
    /// Days allowed by the SLA for this severity.
    pub sla_days: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
}

/// `vulnerability.sla`: no finding open past its deadline.
pub fn check_vulnerability_sla(findings: &[VulnerabilityFact], now: OffsetDateTime) -> CheckResult {
    let open: Vec<&VulnerabilityFact> =
        findings.iter().filter(|finding| finding.resolved_at.is_none()).collect();
    let failures = open
        .iter()
        .filter_map(|finding| {
            let deadline = finding.found_at + Duration::days(i64::from(finding.sla_days));
            (now > deadline).then(|| {
                failing(
                    &finding.finding_id,
                    &finding.label,
                    format!(
                        "{} severity, due {} ({} days overdue)",
                        finding.severity,
                        date_of(deadline),
                        (now - deadline).whole_days()
                    ),
                )
            })
        })
        .collect();
    CheckResult::from_findings(
        ids::VULNERABILITY_SLA,
        now,
        open.len(),
        failures,
        vec![figure("open findings", open.len())],
    )
}

/// A sub-processor from the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubProcessorFact {
    pub id: String,
    pub label: String,
    pub critical: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_reviewed_at: Option<OffsetDateTime>,
    /// Located in a country with an adequacy decision (or in the EEA).
    pub adequate_country: bool,
    pub standard_contractual_clauses: bool,
}

/// `subprocessors.critical_review`: every critical sub-processor reviewed within 24 months.
pub fn check_critical_subprocessor_reviews(
    subprocessors: &[SubProcessorFact],
    now: OffsetDateTime,
) -> CheckResult {
    let oldest_allowed = months_before(now, 24);
    let critical: Vec<&SubProcessorFact> =
        subprocessors.iter().filter(|sub| sub.critical).collect();
    let failures = critical
        .iter()
        .filter_map(|sub| match sub.last_reviewed_at {
            None => Some(failing(&sub.id, &sub.label, "never reviewed".to_owned())),
            Some(at) if at < oldest_allowed => Some(failing(
                &sub.id,
                &sub.label,
                format!("last reviewed {}, before {}", date_of(at), date_of(oldest_allowed)),
            )),
            Some(_) => None,
        })
        .collect();
    CheckResult::from_findings(
        ids::CRITICAL_SUBPROCESSOR_REVIEW,
        now,
        critical.len(),
        failures,
        Vec::new(),
    )
}

/// `subprocessors.transfer_safeguards`: every sub-processor outside an adequate country has SCCs.
pub fn check_transfer_safeguards(
    subprocessors: &[SubProcessorFact],
    now: OffsetDateTime,
) -> CheckResult {
    let abroad: Vec<&SubProcessorFact> =
        subprocessors.iter().filter(|sub| !sub.adequate_country).collect();
    let failures = abroad
        .iter()
        .filter(|sub| !sub.standard_contractual_clauses)
        .map(|sub| {
            failing(
                &sub.id,
                &sub.label,
                "transfer without adequacy or standard contractual clauses".to_owned(),
            )
        })
        .collect();
    CheckResult::from_findings(ids::TRANSFER_SAFEGUARDS, now, abroad.len(), failures, Vec::new())
}

/// The outcome of verifying one organisation's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLogFact {
    pub organisation_id: String,
    pub label: String,
    /// Tree size of the latest signed checkpoint.
    pub checkpoint_tree_size: u64,
    /// Root hash of the latest signed checkpoint, hex.
    pub checkpoint_root_hex: String,
    pub checkpoint_signature_valid: bool,
    /// Tree size the verifier recomputed.
    pub verified_tree_size: u64,
    /// Root hash the verifier recomputed over the same size, hex.
    pub verified_root_hex: String,
}

/// `audit.log_checkpoint`: recomputed root equals the signed checkpoint for every organisation.
pub fn check_audit_log_checkpoints(logs: &[AuditLogFact], now: OffsetDateTime) -> CheckResult {
    let failures = logs
        .iter()
        .filter_map(|log| {
            let reason = if !log.checkpoint_signature_valid {
                Some("checkpoint signature does not verify".to_owned())
            } else if log.verified_tree_size != log.checkpoint_tree_size {
                Some(format!(
                    "verified {} entries, checkpoint covers {}",
                    log.verified_tree_size, log.checkpoint_tree_size
                ))
            } else if !log.verified_root_hex.eq_ignore_ascii_case(&log.checkpoint_root_hex) {
                Some(format!(
                    "root hash {} differs from checkpoint root {}",
                    log.verified_root_hex, log.checkpoint_root_hex
                ))
            } else {
                None
            };
            reason.map(|reason| failing(&log.organisation_id, &log.label, reason))
        })
        .collect();
    let entries: u64 = logs.iter().map(|log| log.checkpoint_tree_size).sum();
    CheckResult::from_findings(
        ids::AUDIT_LOG_CHECKPOINT,
        now,
        logs.len(),
        failures,
        vec![figure("entries covered", entries)],
    )
}

/// A personal-data breach and its notification to the supervisory authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachFact {
    pub breach_id: String,
    pub label: String,
    #[serde(with = "time::serde::rfc3339")]
    pub became_aware_at: OffsetDateTime,
    /// False when the breach is unlikely to result in a risk and need not be notified.
    pub notification_required: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub notified_at: Option<OffsetDateTime>,
}

/// Time allowed between awareness and notification (GDPR article 33).
pub const BREACH_NOTIFICATION_DEADLINE: Duration = Duration::hours(72);

/// `incidents.breach_notification`: notified within 72 hours. An unnotified breach still inside
/// its 72 hours is pending, not failing.
pub fn check_breach_notification(breaches: &[BreachFact], now: OffsetDateTime) -> CheckResult {
    let notifiable: Vec<&BreachFact> =
        breaches.iter().filter(|breach| breach.notification_required).collect();
    let mut pending = 0_usize;
    let mut failures = Vec::new();
    for breach in &notifiable {
        let deadline = breach.became_aware_at + BREACH_NOTIFICATION_DEADLINE;
        match breach.notified_at {
            Some(at) if at > deadline => failures.push(failing(
                &breach.breach_id,
                &breach.label,
                format!(
                    "notified {} hours after awareness",
                    (at - breach.became_aware_at).whole_hours()
                ),
            )),
            Some(_) => {}
            None if now > deadline => failures.push(failing(
                &breach.breach_id,
                &breach.label,
                format!(
                    "not notified {} hours after awareness",
                    (now - breach.became_aware_at).whole_hours()
                ),
            )),
            None => pending += 1,
        }
    }
    CheckResult::from_findings(
        ids::BREACH_NOTIFICATION,
        now,
        notifiable.len(),
        failures,
        vec![figure("breaches inside the 72-hour window", pending)],
    )
}

/// `incidents.security_txt`: the published file's `Expires` is in the future.
pub fn check_security_txt(expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> CheckResult {
    let mut figures = Vec::new();
    let mut failures = Vec::new();
    match expires_at {
        None => failures.push(failing(
            "security.txt",
            "security.txt",
            "no Expires field (or no file)".to_owned(),
        )),
        Some(expires) => {
            figures.push(figure("days until expiry", (expires - now).whole_days()));
            if expires <= now {
                failures.push(failing(
                    "security.txt",
                    "security.txt",
                    format!("expired {}", date_of(expires)),
                ));
            }
        }
    }
    CheckResult::from_findings(ids::SECURITY_TXT, now, 1, failures, figures)
}

/// A certification and its validity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateFact {
    pub id: String,
    pub label: String,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
}

/// `audits.certificates_valid`: every certificate is inside its validity period.
pub fn check_certificates_valid(
    certificates: &[CertificateFact],
    now: OffsetDateTime,
) -> CheckResult {
    let failures = certificates
        .iter()
        .filter_map(|certificate| {
            if now < certificate.valid_from {
                Some(failing(
                    &certificate.id,
                    &certificate.label,
                    format!("not valid before {}", date_of(certificate.valid_from)),
                ))
            } else if now > certificate.valid_until {
                Some(failing(
                    &certificate.id,
                    &certificate.label,
                    format!("expired {}", date_of(certificate.valid_until)),
                ))
            } else {
                None
            }
        })
        .collect();
    CheckResult::from_findings(
        ids::CERTIFICATES_VALID,
        now,
        certificates.len(),
        failures,
        Vec::new(),
    )
}

/// A detection rule enabled in the SIEM and its load outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionRuleFact {
    pub rule_id: String,
    pub label: String,
    pub enabled: bool,
    /// The loader's error, if the rule did not load.
    pub load_error: Option<String>,
}

/// `monitoring.detection_rules`: every enabled rule loaded.
pub fn check_detection_rules(rules: &[DetectionRuleFact], now: OffsetDateTime) -> CheckResult {
    let enabled: Vec<&DetectionRuleFact> = rules.iter().filter(|rule| rule.enabled).collect();
    let failures = enabled
        .iter()
        .filter_map(|rule| {
            rule.load_error
                .as_ref()
                .map(|error| failing(&rule.rule_id, &rule.label, format!("did not load: {error}")))
        })
        .collect();
    CheckResult::from_findings(ids::DETECTION_RULES, now, enabled.len(), failures, Vec::new())
}

// ---------------------------------------------------------------------------------------------
// Manual evidence and measure status
// ---------------------------------------------------------------------------------------------

/// Where a piece of manual evidence is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvidenceLocation {
    /// A file in the evidence store, pinned by its SHA-256.
    File { file_name: String, sha256_hex: String },
    /// A document elsewhere (HTTPS only).
    Link { url: String },
}

/// Evidence a person records for a measure no check can evaluate (a certificate, a signed
/// report, a photo of a fire extinguisher inspection label).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualEvidence {
    pub id: String,
    pub measure_id: String,
    pub description: String,
    pub location: EvidenceLocation,
    /// When what the evidence shows was observed.
    #[serde(with = "time::serde::rfc3339")]
    pub observed_at: OffsetDateTime,
    /// After this the evidence no longer counts; `None` never expires.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl ManualEvidence {
    /// Known measure, non-blank description, well-formed location, expiry after observation.
    pub fn validate(&self) -> Result<(), ReportError> {
        let fail = |problem: &str| {
            Err(ReportError::Evidence {
                location: format!("manual evidence {:?}", self.id),
                problem: problem.to_owned(),
            })
        };
        if annex::measure_by_id(&self.measure_id).is_none() {
            return fail(&format!("unknown annex measure {:?}", self.measure_id));
        }
        if self.description.trim().is_empty() {
            return fail("the description is blank");
        }
        match &self.location {
            EvidenceLocation::File { file_name, sha256_hex } => {
                if file_name.trim().is_empty() {
                    return fail("the file name is blank");
                }
                if sha256_hex.len() != 64
                    || !sha256_hex.bytes().all(|byte| byte.is_ascii_hexdigit())
                {
                    return fail("sha256_hex must be 64 hexadecimal digits");
                }
            }
            EvidenceLocation::Link { url } => {
                let host = url.strip_prefix("https://").unwrap_or_default();
                if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return fail("the link must be an https:// URL without spaces");
                }
            }
        }
        if self.expires_at.is_some_and(|expires| expires <= self.observed_at) {
            return fail("the evidence expires before it was observed");
        }
        Ok(())
    }

    /// Whether the evidence counts at `at`: observed by then and not expired.
    pub fn is_current_at(&self, at: OffsetDateTime) -> bool {
        self.observed_at <= at && self.expires_at.is_none_or(|expires| at < expires)
    }
}

/// The live status of a measure or a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    NotEvidenced,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::NotEvidenced => "not evidenced",
        }
    }
}

/// A measure's status at `at`: failing if any current result of its checks fails; passing if
/// at least one current result or current manual evidence supports it; otherwise not
/// evidenced. Stale results (older than twice their cadence) and expired evidence count for
/// nothing.
pub fn measure_status<'a>(
    measure_id: &str,
    results: impl IntoIterator<Item = &'a CheckResult>,
    manual: &[ManualEvidence],
    at: OffsetDateTime,
) -> Status {
    let mut supported = false;
    for result in results {
        let relevant = check_definition(&result.check_id)
            .is_some_and(|check| check.measures.contains(&measure_id));
        if relevant && result.is_current_at(at) {
            if !result.passed {
                return Status::Fail;
            }
            supported = true;
        }
    }
    if supported
        || manual
            .iter()
            .any(|evidence| evidence.measure_id == measure_id && evidence.is_current_at(at))
    {
        Status::Pass
    } else {
        Status::NotEvidenced
    }
}
