//! Incidents run by the provider's security team (CSIRT).
//!
//! A case is opened by hand, from alerts or from a public report, and lives on the provider
//! organisation. Its status follows NIST SP 800-61r3's phases one at a time (`detected` →
//! `analysing` → `contained` → `eradicated` → `recovered` → `closed`); SEV1 and SEV2 cases
//! close only with a complete post-incident review. Marking a personal data breach starts the
//! GDPR Article 33 clock at the time of awareness; [`App::check_incident_deadlines`] raises one
//! audit event per threshold crossed (24 hours left, 6 hours left, overdue). The notification
//! to the supervisory authority must hold what Article 33(3) asks, and stops the clock.
//!
//! Every change appends a timeline entry and an audit event in the same transaction. The
//! rules of the phases, the review and the notification record are `detect::incident`'s.

use base::{Actor, OrganizationId, RequestContext, Resource};
use detect::incident::{self, Sev, Status};
use serde::{Deserialize, Serialize};
use store::{IncidentRecord, IncidentRepository, TimelineRecord, Transaction};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use crate::audit_trail::AuditTrail as _;
use crate::secrets::new_id;
use crate::{App, AppError, Principal};

time::serde::format_description!(incident_date, Date, "[year]-[month]-[day]");

/// The most incidents one listing returns.
pub const MAX_INCIDENTS_PER_PAGE: u32 = 500;
/// Longest title, characters.
pub const MAX_INCIDENT_TITLE: usize = 200;
/// Longest free text (description, notes, record fields), characters.
pub const MAX_INCIDENT_TEXT: usize = 10_000;
/// Most entries in any list of a case (tasks, alerts, assets, organisations, review items).
pub const MAX_INCIDENT_ITEMS: usize = 200;

/// The Article 33 thresholds that raise a notice, most distant first, and the overdue notice.
const CLOCK_NOTICES: [(&str, Duration); 2] =
    [("24h", Duration::hours(24)), ("6h", Duration::hours(6))];
const OVERDUE_NOTICE: &str = "overdue";

/// An alert that belongs to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertLink {
    pub organization_id: Uuid,
    pub alert_id: Uuid,
}

/// One task of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTask {
    pub id: Uuid,
    pub title: String,
    pub assignee: Option<String>,
    #[serde(default, with = "incident_date::option")]
    pub due: Option<Date>,
    pub done: bool,
}

/// The Article 33(3) notification to the supervisory authority, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article33Record {
    pub authority: String,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    pub nature: String,
    pub data_subject_categories: Vec<String>,
    pub approx_data_subjects: Option<u64>,
    pub record_categories: Vec<String>,
    pub approx_records: Option<u64>,
    /// The DPO or other contact point.
    pub contact: String,
    pub likely_consequences: String,
    pub measures: String,
    pub delay_reason: Option<String>,
    /// More information follows (Article 33(4)).
    #[serde(default)]
    pub phased: bool,
}

/// A customer (controller) told of the breach by the provider (processor), Article 33(2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerNotification {
    pub organization_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub notified_at: OffsetDateTime,
    pub channel: String,
}

/// Article 34: communication to the data subjects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Article34Record {
    #[default]
    Pending,
    NotRequired {
        reason: String,
    },
    Required {
        #[serde(default, with = "time::serde::rfc3339::option")]
        communicated_at: Option<OffsetDateTime>,
        channel: Option<String>,
        #[serde(default)]
        subjects_notified: u64,
    },
}

/// A follow-up action of the review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewActionRecord {
    pub description: String,
    pub owner: String,
    #[serde(with = "incident_date")]
    pub due: Date,
}

/// The post-incident review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRecord {
    pub causes: Vec<String>,
    pub lessons: Vec<String>,
    pub actions: Vec<ReviewActionRecord>,
}

/// Everything about a case that is not a column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IncidentDocument {
    pub description: String,
    /// `manual`, `alert` or `report`.
    pub origin: String,
    pub owner: Option<String>,
    pub tasks: Vec<IncidentTask>,
    pub alerts: Vec<AlertLink>,
    pub assets: Vec<String>,
    pub organizations: Vec<Uuid>,
    pub report_id: Option<Uuid>,
    pub article_33: Option<Article33Record>,
    pub customer_notifications: Vec<CustomerNotification>,
    pub article_34: Article34Record,
    pub review: Option<ReviewRecord>,
    /// The Article 33 notices already raised (`24h`, `6h`, `overdue`).
    pub clock_notices: Vec<String>,
    /// When retention erased the case's personal fields ([`IncidentDocument::erase_personal_fields`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub personal_data_erased_at: Option<OffsetDateTime>,
}

impl IncidentDocument {
    /// Erase what names or describes people: the description, the owner, task assignees and
    /// the owners of review actions. What the case was (severity, phases, dates, alerts,
    /// assets, organisations, task titles, the review's causes and lessons) and the Article
    /// 33 and 34 records stay: GDPR Article 33(5) asks that breaches stay documented.
    pub fn erase_personal_fields(&mut self, now: OffsetDateTime) {
        self.description.clear();
        self.owner = None;
        for task in &mut self.tasks {
            task.assignee = None;
        }
        if let Some(review) = &mut self.review {
            for action in &mut review.actions {
                action.owner.clear();
            }
        }
        self.personal_data_erased_at = Some(now);
    }
}

/// Erase, in a timeline entry's detail, the values that name people or hold a responder's
/// notes (the same fields as [`IncidentDocument::erase_personal_fields`]). True when
/// something changed.
fn erase_timeline_personal(kind: &str, detail: &mut serde_json::Value) -> bool {
    let keys: &[&str] = match kind {
        "update" => &["owner"],
        "task.add" | "task.update" => &["assignee"],
        "status" => &["note"],
        _ => &[],
    };
    let Some(object) = detail.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    for key in keys {
        if let Some(value) = object.get_mut(*key)
            && !value.is_null()
        {
            *value = serde_json::Value::Null;
            changed = true;
        }
    }
    changed
}

/// Where the Article 33 clock stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockView {
    /// `not_started`, `running`, `due_soon`, `overdue` or `notified`.
    pub state: &'static str,
    pub aware_at: Option<OffsetDateTime>,
    pub deadline: Option<OffsetDateTime>,
    /// Whole seconds left (negative when overdue); none when not running.
    pub remaining_seconds: Option<i64>,
    pub notified_at: Option<OffsetDateTime>,
    /// Notified after the deadline.
    pub late: bool,
}

/// One entry of a case's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: OffsetDateTime,
    pub actor: String,
    pub kind: String,
    pub detail: serde_json::Value,
}

/// A case as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentView {
    pub id: Uuid,
    pub title: String,
    pub severity: Sev,
    pub status: Status,
    pub document: IncidentDocument,
    pub clock: ClockView,
    pub timeline: Vec<TimelineEntry>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A new case.
#[derive(Debug, Clone, Default)]
pub struct NewIncident {
    pub title: String,
    pub severity: Option<Sev>,
    pub description: String,
    pub owner: Option<String>,
    pub alerts: Vec<AlertLink>,
    pub assets: Vec<String>,
    pub organizations: Vec<Uuid>,
}

/// Changes to a case's description; absent fields are kept.
#[derive(Debug, Clone, Default)]
pub struct IncidentPatch {
    pub title: Option<String>,
    pub severity: Option<Sev>,
    pub description: Option<String>,
    pub owner: Option<Option<String>>,
    pub assets: Option<Vec<String>>,
    pub organizations: Option<Vec<Uuid>>,
}

/// A new task.
#[derive(Debug, Clone, Default)]
pub struct TaskInput {
    pub title: String,
    pub assignee: Option<String>,
    pub due: Option<Date>,
}

/// Changes to a task; absent fields are kept.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub done: Option<bool>,
    pub assignee: Option<Option<String>>,
    pub due: Option<Option<Date>>,
}

/// Parses `SEV1` … `SEV4` (case-insensitive).
pub fn parse_severity(text: &str) -> Option<Sev> {
    match text.to_ascii_uppercase().as_str() {
        "SEV1" => Some(Sev::Sev1),
        "SEV2" => Some(Sev::Sev2),
        "SEV3" => Some(Sev::Sev3),
        "SEV4" => Some(Sev::Sev4),
        _ => None,
    }
}

/// Parses a status name.
pub fn parse_status(text: &str) -> Option<Status> {
    [
        Status::Detected,
        Status::Analysing,
        Status::Contained,
        Status::Eradicated,
        Status::Recovered,
        Status::Closed,
    ]
    .into_iter()
    .find(|status| status.as_str() == text)
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::InvalidInput(message.into())
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), AppError> {
    if required && value.trim().is_empty() {
        return Err(invalid(format!("{field} is required")));
    }
    if value.chars().count() > max {
        return Err(invalid(format!("{field} is longer than {max} characters")));
    }
    Ok(())
}

fn check_items<T>(field: &str, items: &[T]) -> Result<(), AppError> {
    if items.len() > MAX_INCIDENT_ITEMS {
        return Err(invalid(format!("{field} holds more than {MAX_INCIDENT_ITEMS} entries")));
    }
    Ok(())
}

fn check_strings(field: &str, items: &[String]) -> Result<(), AppError> {
    check_items(field, items)?;
    for item in items {
        check_text(field, item, MAX_INCIDENT_TEXT, true)?;
    }
    Ok(())
}

fn check_owner(field: &str, owner: Option<&String>) -> Result<(), AppError> {
    match owner {
        Some(owner) if owner.trim().is_empty() || owner.chars().count() > 320 => {
            Err(invalid(format!("{field} must be 1 to 320 characters")))
        }
        _ => Ok(()),
    }
}

fn sev_of(text: &str) -> Result<Sev, AppError> {
    parse_severity(text).ok_or_else(|| AppError::Internal(format!("stored severity {text:?}")))
}

fn status_of(text: &str) -> Result<Status, AppError> {
    parse_status(text).ok_or_else(|| AppError::Internal(format!("stored status {text:?}")))
}

fn document_of(record: &IncidentRecord) -> Result<IncidentDocument, AppError> {
    serde_json::from_str(&record.document)
        .map_err(|error| AppError::Internal(format!("incident {}: {error}", record.id)))
}

fn document_text(document: &IncidentDocument) -> Result<String, AppError> {
    serde_json::to_string(document).map_err(|error| AppError::Internal(error.to_string()))
}

fn actor_text(actor: &Actor) -> String {
    match actor.id() {
        Some(id) => format!("{}:{id}", actor.kind().as_str()),
        None => "system".to_owned(),
    }
}

/// The clock of a stored case at `now`.
fn clock_of(record: &IncidentRecord, now: OffsetDateTime) -> ClockView {
    let deadline = record.breach_aware_at.map(|at| at + incident::ARTICLE_33_DEADLINE);
    let state = incident::article_33_clock(
        record.breach_aware_at,
        record.authority_notified_at,
        now,
        &CLOCK_NOTICES.map(|(_, threshold)| threshold),
    );
    let (name, remaining, late) = match state {
        incident::ClockStatus::NotStarted => ("not_started", None, false),
        incident::ClockStatus::Running { remaining } => ("running", Some(remaining), false),
        incident::ClockStatus::DueSoon { remaining, .. } => ("due_soon", Some(remaining), false),
        incident::ClockStatus::Overdue { by } => ("overdue", Some(-by), false),
        incident::ClockStatus::Notified { late, .. } => ("notified", None, late),
    };
    ClockView {
        state: name,
        aware_at: record.breach_aware_at,
        deadline,
        remaining_seconds: remaining.map(|remaining| remaining.whole_seconds()),
        notified_at: record.authority_notified_at,
        late,
    }
}

/// The notice due at `now` for a running clock, if any: the most urgent threshold crossed.
fn notice_due(deadline: OffsetDateTime, now: OffsetDateTime) -> Option<&'static str> {
    if now > deadline {
        return Some(OVERDUE_NOTICE);
    }
    let remaining = deadline - now;
    CLOCK_NOTICES.iter().rev().find(|(_, threshold)| remaining <= *threshold).map(|(name, _)| *name)
}

/// The notices a notice implies were passed (a clock seen overdue first never warns of 24h).
fn notices_up_to(notice: &str) -> Vec<String> {
    let order = ["24h", "6h", OVERDUE_NOTICE];
    let end = order.iter().position(|name| *name == notice).map_or(0, |index| index + 1);
    order[..end].iter().map(|name| (*name).to_owned()).collect()
}

/// A change to apply to a loaded case: what it does to the document and columns, and the
/// timeline entry that records it.
pub(crate) struct Change {
    pub kind: &'static str,
    pub detail: serde_json::Value,
}

impl App {
    /// Retention of closed incidents: count the closed cases of `organization_id` past
    /// `cutoff` (from `trigger`) whose personal fields are still there and, when `apply`,
    /// erase them from the case and its timeline, in `transaction`. Each erased case gets a
    /// timeline entry `personal_data.erase` by `actor`.
    pub(crate) async fn sweep_closed_incidents(
        &self,
        transaction: &mut Transaction,
        organization_id: OrganizationId,
        trigger: store::RetentionTrigger,
        cutoff: OffsetDateTime,
        apply: bool,
        actor: &Actor,
    ) -> Result<u64, AppError> {
        let now = self.clock.now();
        let mut due = 0;
        for mut record in
            transaction.closed_incidents_before(organization_id, trigger, cutoff).await?
        {
            let mut document = document_of(&record)?;
            if document.personal_data_erased_at.is_some() {
                continue;
            }
            due += 1;
            if !apply {
                continue;
            }
            document.erase_personal_fields(now);
            record.document = document_text(&document)?;
            transaction.update_incident(&record).await?;
            for entry in transaction.timeline(record.id).await? {
                let Ok(mut detail) = serde_json::from_str::<serde_json::Value>(&entry.detail)
                else {
                    continue;
                };
                if erase_timeline_personal(&entry.kind, &mut detail) {
                    transaction.replace_timeline_detail(entry.id, &detail.to_string()).await?;
                }
            }
            transaction
                .append_timeline(&TimelineRecord {
                    id: new_id(now),
                    incident_id: record.id,
                    at: now,
                    actor: actor_text(actor),
                    kind: "personal_data.erase".to_owned(),
                    detail: serde_json::json!({"trigger": trigger.as_str(),
                        "cutoff": rfc3339(cutoff)})
                    .to_string(),
                })
                .await?;
        }
        Ok(due)
    }

    /// The provider organisation, where cases live.
    pub(crate) async fn incident_organization(&self) -> Result<OrganizationId, AppError> {
        use store::OrganizationRepository as _;
        let mut read = self.store.read().await?;
        let provider = read.provider_organization().await?;
        read.commit().await?;
        provider
            .map(|organization| organization.id)
            .ok_or(AppError::NotFound("provider organization"))
    }

    fn incident_view(
        &self,
        record: &IncidentRecord,
        timeline: Vec<TimelineRecord>,
    ) -> Result<IncidentView, AppError> {
        Ok(IncidentView {
            id: record.id,
            title: record.title.clone(),
            severity: sev_of(&record.severity)?,
            status: status_of(&record.status)?,
            document: document_of(record)?,
            clock: clock_of(record, self.clock.now()),
            timeline: timeline
                .into_iter()
                .map(|entry| TimelineEntry {
                    at: entry.at,
                    actor: entry.actor,
                    kind: entry.kind,
                    detail: serde_json::from_str(&entry.detail).unwrap_or_default(),
                })
                .collect(),
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }

    /// Append a timeline entry and the audit event of a change to a case, in `transaction`.
    pub(crate) async fn record_incident_change(
        &self,
        transaction: &mut Transaction,
        actor: &Actor,
        context: &RequestContext,
        record: &IncidentRecord,
        change: Change,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        transaction
            .append_timeline(&TimelineRecord {
                id: new_id(now),
                incident_id: record.id,
                at: now,
                actor: actor_text(actor),
                kind: change.kind.to_owned(),
                detail: change.detail.to_string(),
            })
            .await?;
        let mut event = self.event(
            actor,
            record.organization_id,
            &format!("incident.{}", change.kind),
            Resource::new("incident", record.id),
        );
        event.context = context.clone();
        event.details.insert("severity".into(), record.severity.clone().into());
        event.details.insert("status".into(), record.status.clone().into());
        if let serde_json::Value::Object(detail) = change.detail {
            for (key, value) in detail {
                // Free text stays in the case; the trail keeps what is not personal.
                if !matches!(value, serde_json::Value::String(ref text) if text.len() > 200) {
                    event.details.insert(key, value);
                }
            }
        }
        transaction.append_audit_event(&event).await?;
        Ok(())
    }

    /// Insert a new case in `transaction` (with its first timeline entry and audit event).
    #[allow(clippy::too_many_arguments, reason = "the opening of a case from any origin")]
    pub(crate) async fn insert_incident(
        &self,
        transaction: &mut Transaction,
        actor: &Actor,
        context: &RequestContext,
        organization_id: OrganizationId,
        input: NewIncident,
        origin: &str,
        report_id: Option<Uuid>,
    ) -> Result<IncidentRecord, AppError> {
        check_text("title", &input.title, MAX_INCIDENT_TITLE, true)?;
        check_text("description", &input.description, MAX_INCIDENT_TEXT, false)?;
        check_owner("owner", input.owner.as_ref())?;
        check_items("alerts", &input.alerts)?;
        check_strings("assets", &input.assets)?;
        check_items("organizations", &input.organizations)?;
        let now = self.clock.now();
        let severity = input.severity.unwrap_or(Sev::Sev3);
        let document = IncidentDocument {
            description: input.description,
            origin: origin.to_owned(),
            owner: input.owner,
            alerts: dedup(input.alerts),
            assets: dedup(input.assets),
            organizations: dedup(input.organizations),
            report_id,
            ..IncidentDocument::default()
        };
        let record = IncidentRecord {
            id: new_id(now),
            organization_id,
            title: input.title.trim().to_owned(),
            severity: severity.to_string(),
            status: Status::Detected.as_str().to_owned(),
            breach_aware_at: None,
            authority_notified_at: None,
            document: document_text(&document)?,
            created_at: now,
            updated_at: now,
        };
        transaction.insert_incident(&record).await?;
        let detail = serde_json::json!({
            "origin": origin,
            "alerts": document.alerts.len(),
            "report_id": report_id,
        });
        self.record_incident_change(
            transaction,
            actor,
            context,
            &record,
            Change { kind: "open", detail },
        )
        .await?;
        Ok(record)
    }

    /// Open a case by hand, or from alerts when some are given (each must exist and be
    /// readable by the caller).
    pub async fn open_incident(
        &self,
        principal: &Principal,
        input: NewIncident,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        let organization_id = self.incident_organization().await?;
        self.authorize_in(principal, organization_id, "detect:incidents:write", context).await?;
        check_items("alerts", &input.alerts)?;
        for link in &input.alerts {
            self.check_alert_link(principal, link, context).await?;
        }
        let origin = if input.alerts.is_empty() { "manual" } else { "alert" };
        let mut transaction = self.store.begin().await?;
        let record = self
            .insert_incident(
                &mut transaction,
                &principal.actor,
                context,
                organization_id,
                input,
                origin,
                None,
            )
            .await?;
        let timeline = transaction.timeline(record.id).await?;
        transaction.commit().await?;
        self.incident_view(&record, timeline)
    }

    async fn check_alert_link(
        &self,
        principal: &Principal,
        link: &AlertLink,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let organization_id = OrganizationId::from_uuid(link.organization_id);
        self.get_alert(principal, organization_id, link.alert_id, context).await.map(|_| ())
    }

    pub async fn list_incidents(
        &self,
        principal: &Principal,
        status: Option<Status>,
        limit: u32,
        context: &RequestContext,
    ) -> Result<Vec<IncidentView>, AppError> {
        let organization_id = self.incident_organization().await?;
        self.authorize_in(principal, organization_id, "detect:incidents:read", context).await?;
        let mut read = self.store.read().await?;
        let records = read
            .list_incidents(
                organization_id,
                status.map(Status::as_str),
                limit.clamp(1, MAX_INCIDENTS_PER_PAGE),
            )
            .await?;
        read.commit().await?;
        records.iter().map(|record| self.incident_view(record, Vec::new())).collect()
    }

    /// One case with its whole timeline.
    pub async fn get_incident(
        &self,
        principal: &Principal,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        let organization_id = self.incident_organization().await?;
        self.authorize_in(principal, organization_id, "detect:incidents:read", context).await?;
        let mut read = self.store.read().await?;
        let record =
            read.get_incident(organization_id, id).await?.ok_or(AppError::NotFound("incident"))?;
        let timeline = read.timeline(id).await?;
        read.commit().await?;
        self.incident_view(&record, timeline)
    }

    /// Load a case, apply `apply` to it, store it with its timeline entry and audit event.
    async fn change_incident(
        &self,
        principal: &Principal,
        id: Uuid,
        context: &RequestContext,
        apply: impl FnOnce(
            &mut IncidentRecord,
            &mut IncidentDocument,
            OffsetDateTime,
        ) -> Result<Change, AppError>,
    ) -> Result<IncidentView, AppError> {
        let organization_id = self.incident_organization().await?;
        self.authorize_in(principal, organization_id, "detect:incidents:write", context).await?;
        let mut transaction = self.store.begin().await?;
        let mut record = transaction
            .get_incident(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("incident"))?;
        let mut document = document_of(&record)?;
        let now = self.clock.now();
        let change = apply(&mut record, &mut document, now)?;
        record.document = document_text(&document)?;
        record.updated_at = now;
        transaction.update_incident(&record).await?;
        self.record_incident_change(&mut transaction, &principal.actor, context, &record, change)
            .await?;
        let timeline = transaction.timeline(id).await?;
        transaction.commit().await?;
        self.incident_view(&record, timeline)
    }

    /// Change a case's title, severity, description, owner, affected assets or organisations.
    pub async fn update_incident(
        &self,
        principal: &Principal,
        id: Uuid,
        patch: IncidentPatch,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        if let Some(title) = &patch.title {
            check_text("title", title, MAX_INCIDENT_TITLE, true)?;
        }
        if let Some(description) = &patch.description {
            check_text("description", description, MAX_INCIDENT_TEXT, false)?;
        }
        if let Some(owner) = &patch.owner {
            check_owner("owner", owner.as_ref())?;
        }
        if let Some(assets) = &patch.assets {
            check_strings("assets", assets)?;
        }
        if let Some(organizations) = &patch.organizations {
            check_items("organizations", organizations)?;
        }
        self.change_incident(principal, id, context, |record, document, _| {
            if record.status == Status::Closed.as_str() {
                return Err(AppError::Conflict("the incident is closed".into()));
            }
            let mut changed = serde_json::Map::new();
            if let Some(title) = patch.title {
                record.title = title.trim().to_owned();
                changed.insert("title".into(), record.title.clone().into());
            }
            if let Some(severity) = patch.severity {
                changed.insert("from_severity".into(), record.severity.clone().into());
                record.severity = severity.to_string();
                changed.insert("to_severity".into(), record.severity.clone().into());
            }
            if let Some(description) = patch.description {
                document.description = description;
                changed.insert("description".into(), true.into());
            }
            if let Some(owner) = patch.owner {
                changed.insert("owner".into(), owner.clone().into());
                document.owner = owner;
            }
            if let Some(assets) = patch.assets {
                document.assets = dedup(assets);
                changed.insert("assets".into(), document.assets.clone().into());
            }
            if let Some(organizations) = patch.organizations {
                document.organizations = dedup(organizations);
                let ids: Vec<String> =
                    document.organizations.iter().map(ToString::to_string).collect();
                changed.insert("organizations".into(), ids.into());
            }
            if changed.is_empty() {
                return Err(invalid("nothing to change"));
            }
            Ok(Change { kind: "update", detail: changed.into() })
        })
        .await
    }

    /// Move a case to the next phase; closing a SEV1 or SEV2 case needs a complete review.
    pub async fn advance_incident(
        &self,
        principal: &Principal,
        id: Uuid,
        to: Status,
        note: &str,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        check_text("note", note, MAX_INCIDENT_TEXT, false)?;
        let by = actor_text(&principal.actor);
        self.change_incident(principal, id, context, |record, document, now| {
            let from = status_of(&record.status)?;
            let severity = sev_of(&record.severity)?;
            // The pure machine decides; the case is rebuilt with what the rule needs.
            let mut case = incident::Incident::new(record.id, &record.title, severity, now, &by);
            case.status = from;
            case.history.clear();
            case.review = document.review.as_ref().map(review_of);
            case.advance(to, now, &by).map_err(|error| match error {
                incident::IncidentError::ReviewRequired(..) => {
                    AppError::Conflict(error.to_string())
                }
                incident::IncidentError::Transition { .. } => AppError::Conflict(error.to_string()),
                other => invalid(other.to_string()),
            })?;
            record.status = to.as_str().to_owned();
            Ok(Change {
                kind: "status",
                detail: serde_json::json!({"from": from.as_str(), "to": to.as_str(), "note": note}),
            })
        })
        .await
    }

    pub async fn add_incident_task(
        &self,
        principal: &Principal,
        id: Uuid,
        input: TaskInput,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        check_text("title", &input.title, MAX_INCIDENT_TITLE, true)?;
        check_owner("assignee", input.assignee.as_ref())?;
        self.change_incident(principal, id, context, |record, document, now| {
            if record.status == Status::Closed.as_str() {
                return Err(AppError::Conflict("the incident is closed".into()));
            }
            if document.tasks.len() >= MAX_INCIDENT_ITEMS {
                return Err(invalid(format!(
                    "an incident holds at most {MAX_INCIDENT_ITEMS} tasks"
                )));
            }
            let task = IncidentTask {
                id: new_id(now),
                title: input.title.trim().to_owned(),
                assignee: input.assignee,
                due: input.due,
                done: false,
            };
            let detail = serde_json::json!({"task_id": task.id, "title": task.title,
                "assignee": task.assignee});
            document.tasks.push(task);
            Ok(Change { kind: "task.add", detail })
        })
        .await
    }

    pub async fn update_incident_task(
        &self,
        principal: &Principal,
        id: Uuid,
        task_id: Uuid,
        patch: TaskPatch,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        if let Some(assignee) = &patch.assignee {
            check_owner("assignee", assignee.as_ref())?;
        }
        if patch.done.is_none() && patch.assignee.is_none() && patch.due.is_none() {
            return Err(invalid("nothing to change"));
        }
        self.change_incident(principal, id, context, |record, document, _| {
            if record.status == Status::Closed.as_str() {
                return Err(AppError::Conflict("the incident is closed".into()));
            }
            let task = document
                .tasks
                .iter_mut()
                .find(|task| task.id == task_id)
                .ok_or(AppError::NotFound("task"))?;
            if let Some(done) = patch.done {
                task.done = done;
            }
            if let Some(assignee) = patch.assignee {
                task.assignee = assignee;
            }
            if let Some(due) = patch.due {
                task.due = due;
            }
            let detail = serde_json::json!({"task_id": task.id, "done": task.done,
                "assignee": task.assignee});
            Ok(Change { kind: "task.update", detail })
        })
        .await
    }

    /// Add an existing alert to a case.
    pub async fn link_incident_alert(
        &self,
        principal: &Principal,
        id: Uuid,
        link: AlertLink,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        self.check_alert_link(principal, &link, context).await?;
        self.change_incident(principal, id, context, |_, document, _| {
            if document.alerts.contains(&link) {
                return Err(AppError::Conflict("the alert is already linked".into()));
            }
            if document.alerts.len() >= MAX_INCIDENT_ITEMS {
                return Err(invalid(format!(
                    "an incident links at most {MAX_INCIDENT_ITEMS} alerts"
                )));
            }
            document.alerts.push(link);
            Ok(Change {
                kind: "alert.link",
                detail: serde_json::json!({"organization_id": link.organization_id,
                    "alert_id": link.alert_id}),
            })
        })
        .await
    }

    /// Establish a personal data breach: the Article 33 clock starts at `aware_at` (now when
    /// absent; never in the future; an earlier awareness already recorded is kept).
    pub async fn mark_personal_data_breach(
        &self,
        principal: &Principal,
        id: Uuid,
        aware_at: Option<OffsetDateTime>,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        self.change_incident(principal, id, context, |record, _, now| {
            let aware_at = aware_at.unwrap_or(now);
            if aware_at > now {
                return Err(invalid("aware_at is in the future"));
            }
            if record.status == Status::Closed.as_str() {
                return Err(AppError::Conflict("the incident is closed".into()));
            }
            let aware_at = record.breach_aware_at.map_or(aware_at, |earlier| earlier.min(aware_at));
            record.breach_aware_at = Some(aware_at);
            let deadline = aware_at + incident::ARTICLE_33_DEADLINE;
            Ok(Change {
                kind: "breach",
                detail: serde_json::json!({"aware_at": rfc3339(aware_at),
                    "deadline": rfc3339(deadline)}),
            })
        })
        .await
    }

    /// Record the notification made to the supervisory authority; it must hold what Article
    /// 33(3) asks (and a reason for the delay when late). Stops the clock.
    pub async fn record_article_33(
        &self,
        principal: &Principal,
        id: Uuid,
        notification: Article33Record,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        for (field, value) in [
            ("authority", &notification.authority),
            ("nature", &notification.nature),
            ("contact", &notification.contact),
            ("likely_consequences", &notification.likely_consequences),
            ("measures", &notification.measures),
        ] {
            check_text(field, value, MAX_INCIDENT_TEXT, false)?;
        }
        check_strings("data_subject_categories", &notification.data_subject_categories)?;
        check_strings("record_categories", &notification.record_categories)?;
        if let Some(reason) = &notification.delay_reason {
            check_text("delay_reason", reason, MAX_INCIDENT_TEXT, false)?;
        }
        self.change_incident(principal, id, context, |record, document, now| {
            let aware_at = record.breach_aware_at.ok_or_else(|| {
                AppError::Conflict("no personal data breach is established on this incident".into())
            })?;
            if notification.submitted_at > now {
                return Err(invalid("submitted_at is in the future"));
            }
            if notification.submitted_at < aware_at {
                return Err(invalid("submitted_at is before the breach awareness"));
            }
            let pure = incident::Article33Notification {
                authority: notification.authority.clone(),
                submitted_at: Some(notification.submitted_at),
                nature: notification.nature.clone(),
                data_subject_categories: notification.data_subject_categories.clone(),
                approx_data_subjects: notification.approx_data_subjects,
                record_categories: notification.record_categories.clone(),
                approx_records: notification.approx_records,
                contact: notification.contact.clone(),
                likely_consequences: notification.likely_consequences.clone(),
                measures: notification.measures.clone(),
                delay_reason: notification.delay_reason.clone(),
                phased: notification.phased,
            };
            pure.validate(aware_at).map_err(|error| invalid(error.to_string()))?;
            record.authority_notified_at = Some(notification.submitted_at);
            let late = notification.submitted_at > aware_at + incident::ARTICLE_33_DEADLINE;
            let detail = serde_json::json!({"authority": notification.authority,
                "submitted_at": rfc3339(notification.submitted_at), "late": late,
                "phased": notification.phased});
            document.article_33 = Some(notification);
            Ok(Change { kind: "article33.notify", detail })
        })
        .await
    }

    /// Record that a customer (the controller) was told of the breach, and when.
    pub async fn record_customer_notification(
        &self,
        principal: &Principal,
        id: Uuid,
        notification: CustomerNotification,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        check_text("channel", &notification.channel, 200, true)?;
        self.change_incident(principal, id, context, |record, document, now| {
            if record.breach_aware_at.is_none() {
                return Err(AppError::Conflict(
                    "no personal data breach is established on this incident".into(),
                ));
            }
            if notification.notified_at > now {
                return Err(invalid("notified_at is in the future"));
            }
            if document.customer_notifications.len() >= MAX_INCIDENT_ITEMS {
                return Err(invalid("too many customer notifications"));
            }
            if !document.organizations.contains(&notification.organization_id) {
                document.organizations.push(notification.organization_id);
            }
            let detail = serde_json::json!({"organization_id": notification.organization_id,
                "notified_at": rfc3339(notification.notified_at),
                "channel": notification.channel});
            document.customer_notifications.push(notification);
            Ok(Change { kind: "customer.notify", detail })
        })
        .await
    }

    /// Record the Article 34 assessment and the communication to the data subjects.
    pub async fn set_article_34(
        &self,
        principal: &Principal,
        id: Uuid,
        article_34: Article34Record,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        match &article_34 {
            Article34Record::Pending => {}
            Article34Record::NotRequired { reason } => {
                check_text("reason", reason, MAX_INCIDENT_TEXT, true)?;
            }
            Article34Record::Required { channel, communicated_at, .. } => {
                if let Some(channel) = channel {
                    check_text("channel", channel, 200, true)?;
                }
                if communicated_at.is_some() && channel.is_none() {
                    return Err(invalid("channel is required once communicated"));
                }
            }
        }
        self.change_incident(principal, id, context, |record, document, now| {
            if record.breach_aware_at.is_none() {
                return Err(AppError::Conflict(
                    "no personal data breach is established on this incident".into(),
                ));
            }
            if let Article34Record::Required { communicated_at: Some(at), .. } = &article_34
                && *at > now
            {
                return Err(invalid("communicated_at is in the future"));
            }
            let detail = serde_json::to_value(&article_34)
                .map_err(|error| AppError::Internal(error.to_string()))?;
            document.article_34 = article_34;
            Ok(Change { kind: "article34", detail })
        })
        .await
    }

    /// Record the post-incident review; it must be complete (causes, lessons, actions with
    /// owners and due dates).
    pub async fn record_incident_review(
        &self,
        principal: &Principal,
        id: Uuid,
        review: ReviewRecord,
        context: &RequestContext,
    ) -> Result<IncidentView, AppError> {
        check_strings("causes", &review.causes)?;
        check_strings("lessons", &review.lessons)?;
        check_items("actions", &review.actions)?;
        for action in &review.actions {
            check_text("actions.description", &action.description, MAX_INCIDENT_TEXT, false)?;
            check_text("actions.owner", &action.owner, 320, false)?;
        }
        review_of(&review).validate().map_err(|error| invalid(error.to_string()))?;
        self.change_incident(principal, id, context, |record, document, _| {
            if record.status == Status::Closed.as_str() {
                return Err(AppError::Conflict("the incident is closed".into()));
            }
            let detail = serde_json::json!({"causes": review.causes.len(),
                "lessons": review.lessons.len(), "actions": review.actions.len()});
            document.review = Some(review);
            Ok(Change { kind: "review", detail })
        })
        .await
    }

    /// Raise the Article 33 notices that are due: once per threshold (24 hours left, 6 hours
    /// left, overdue) per case, as an audit event of the provider organisation and a timeline
    /// entry. Returns how many were raised. The binary calls this periodically.
    pub async fn check_incident_deadlines(&self) -> Result<u64, AppError> {
        let now = self.clock.now();
        let mut read = self.store.read().await?;
        let running = read.incidents_with_running_clock().await?;
        read.commit().await?;
        let mut raised = 0;
        for candidate in running {
            let Some(aware_at) = candidate.breach_aware_at else { continue };
            let deadline = aware_at + incident::ARTICLE_33_DEADLINE;
            let Some(notice) = notice_due(deadline, now) else { continue };
            let document = document_of(&candidate)?;
            if document.clock_notices.iter().any(|done| done == notice) {
                continue;
            }
            let mut transaction = self.store.begin().await?;
            // Re-read in the transaction: another replica may have raised it meanwhile.
            let Some(mut record) =
                transaction.get_incident(candidate.organization_id, candidate.id).await?
            else {
                continue;
            };
            let mut document = document_of(&record)?;
            if document.clock_notices.iter().any(|done| done == notice)
                || record.authority_notified_at.is_some()
            {
                continue;
            }
            for passed in notices_up_to(notice) {
                if !document.clock_notices.contains(&passed) {
                    document.clock_notices.push(passed);
                }
            }
            record.document = document_text(&document)?;
            transaction.update_incident(&record).await?;
            let kind =
                if notice == OVERDUE_NOTICE { "article33.overdue" } else { "article33.due_soon" };
            let detail = serde_json::json!({"threshold": notice, "deadline": rfc3339(deadline),
                "remaining_seconds": (deadline - now).whole_seconds()});
            self.record_incident_change(
                &mut transaction,
                &Actor::System,
                &RequestContext::default(),
                &record,
                Change { kind, detail },
            )
            .await?;
            transaction.commit().await?;
            tracing::warn!(incident = %record.id, threshold = notice, deadline = %rfc3339(deadline),
                "GDPR Article 33 notification deadline of a personal data breach");
            raised += 1;
        }
        Ok(raised)
    }
}

fn review_of(review: &ReviewRecord) -> incident::PostIncidentReview {
    incident::PostIncidentReview {
        causes: review.causes.clone(),
        lessons: review.lessons.clone(),
        actions: review
            .actions
            .iter()
            .map(|action| incident::ReviewAction {
                description: action.description.clone(),
                owner: action.owner.clone(),
                due: action.due,
            })
            .collect(),
    }
}

fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn notices_follow_the_time_left() {
        let deadline = datetime!(2026-03-04 09:00 UTC);
        assert_eq!(notice_due(deadline, deadline - Duration::hours(30)), None);
        assert_eq!(notice_due(deadline, deadline - Duration::hours(24)), Some("24h"));
        assert_eq!(notice_due(deadline, deadline - Duration::hours(7)), Some("24h"));
        assert_eq!(notice_due(deadline, deadline - Duration::hours(6)), Some("6h"));
        assert_eq!(notice_due(deadline, deadline), Some("6h"));
        assert_eq!(notice_due(deadline, deadline + Duration::seconds(1)), Some("overdue"));
        assert_eq!(notices_up_to("6h"), vec!["24h".to_owned(), "6h".to_owned()]);
        assert_eq!(notices_up_to("overdue").len(), 3);
    }

    #[test]
    fn severities_and_statuses_parse() {
        assert_eq!(parse_severity("sev2"), Some(Sev::Sev2));
        assert_eq!(parse_severity("SEV5"), None);
        assert_eq!(parse_status("contained"), Some(Status::Contained));
        assert_eq!(parse_status("Closed"), None);
    }
}
