//! Detection over Rampart's own audit log, and the alerts it raises.
//!
//! The rules follow every organisation's trail through a stored cursor: a pass reads the
//! entries appended since the last one, turns each into an OCSF event, evaluates it once with
//! the engine, and stores the alerts and the new cursor in one transaction. Requests never
//! wait for detection (it reads what they committed), and a restart neither skips nor repeats
//! an entry. Detections of `informational` rules only feed correlations; the others become
//! alerts, deduplicated per rule and group within the rule's window.
//!
//! Alerts keep no personal data of the events: only their references in the audit log
//! (where erasure applies) and a summary of non-personal fields.

use base::{Actor, AuditEvent, OrganizationId, RequestContext, Resource};
use detect::{Detection, Engine, EngineConfig, RuleSet};
use store::{
    AlertCount, AlertRecord, AlertResolution, AlertState, AuditLogRepository, DetectionRepository,
    EventRepository, OpenAlert, OpenAlertsWanted, Transaction,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::audit_trail::{AuditTrail, entry_from_row};
use crate::{App, AppError, Principal};

/// Entries of one organisation evaluated per transaction.
const BATCH: u64 = 500;
/// Audit references kept on an alert (the first ones counted).
const MAX_EVENT_REFS: usize = 20;
/// The most alerts one listing returns.
pub const MAX_ALERTS_PER_PAGE: u32 = 500;
/// The fields of an OCSF event an alert summary keeps: identifiers and outcomes, never the
/// personal values (emails, addresses, user agents, details).
const SUMMARY_FIELDS: &[&str] = &[
    "metadata.uid",
    "api.operation",
    "status",
    "status_detail",
    "actor.user.uid",
    "actor.user.type",
    "user.uid",
    "unmapped.outcome",
    "unmapped.privileged",
    "unmapped.resource_type",
    "unmapped.resource_id",
    "unmapped.api_key_id",
];

/// The engine and the rules it was built from; swapped whole on reload.
pub(crate) struct DetectionState {
    pub(crate) engine: tokio::sync::Mutex<Engine>,
    pub(crate) rules: std::sync::RwLock<RuleSet>,
    window: Duration,
}

impl DetectionState {
    pub(crate) fn new(rules: RuleSet) -> Self {
        let engine = Engine::new(&rules, &EngineConfig::default());
        Self {
            engine: tokio::sync::Mutex::new(engine),
            rules: std::sync::RwLock::new(rules),
            window: Duration::hours(1),
        }
    }
}

/// What one detection pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectionPass {
    /// Audit entries evaluated.
    pub evaluated: u64,
    /// Detections that became or were counted into alerts.
    pub detections: u64,
    pub alerts_opened: u64,
}

/// The rules loaded and those that could not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesView {
    pub loaded: usize,
    pub failed: Vec<String>,
    /// Why the latest reload of the rules directory was not applied (the rules before it
    /// still run); `None` when it was.
    pub reload_error: Option<String>,
}

/// How a triager closes an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertClose {
    TruePositive,
    FalsePositive,
    Benign,
}

/// Per-rule alert counts and how they were judged.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleNoiseView {
    pub rule_id: String,
    pub title: String,
    pub alerts: u64,
    pub detections: u64,
    pub open: u64,
    pub true_positive: u64,
    pub false_positive: u64,
    pub benign: u64,
    /// False positives over closed alerts; none before any is closed.
    pub false_positive_ratio: Option<f64>,
}

fn summary_of(event: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    let mut summary = serde_json::Map::new();
    for path in SUMMARY_FIELDS {
        let mut value = Some(event);
        for part in path.split('.') {
            value = value.and_then(|value| value.get(part));
        }
        if let Some(value) = value.filter(|value| !value.is_null()) {
            summary.insert((*path).to_owned(), value.clone());
        }
    }
    summary
}

fn event_ref(event: &serde_json::Value) -> Option<String> {
    event.get("metadata")?.get("uid")?.as_str().map(str::to_owned)
}

/// Whether a detection becomes an alert: informational rules only feed correlations.
pub(crate) fn raises_alert(detection: &Detection) -> bool {
    !matches!(detection.level.as_deref(), None | Some("informational"))
}

impl App {
    /// Use these rules for detection (the built-in pack, possibly merged with a directory);
    /// correlation state starts afresh.
    pub async fn set_detection_rules(&self, rules: RuleSet) {
        let engine = Engine::new(&rules, &EngineConfig::default());
        *self.detection.engine.lock().await = engine;
        if let Ok(mut current) = self.detection.rules.write() {
            *current = rules;
        }
    }

    /// Evaluate every audit entry appended since the last pass, in every organisation, and
    /// store the alerts raised. The background task calls this periodically; tests call it to
    /// drain the log deterministically.
    pub async fn run_detection_once(&self) -> Result<DetectionPass, AppError> {
        let mut pass = DetectionPass::default();
        let mut engine = self.detection.engine.lock().await;
        loop {
            let mut read = self.store.read().await?;
            let pending = read.pending_detection().await?;
            read.commit().await?;
            if pending.is_empty() {
                return Ok(pass);
            }
            for (organization_id, next, size) in pending {
                let end = size.min(next.saturating_add(BATCH));
                // Read and evaluate outside the write transaction (see the ingested events'
                // pass): the write holds only the alerts and the cursor.
                let mut read = self.store.read().await?;
                let rows = read.audit_entries_between(organization_id, next, end).await?;
                read.commit().await?;
                let mut detections = Vec::new();
                for row in &rows {
                    let entry = entry_from_row(row).map_err(AppError::Internal)?;
                    let event = detect::ocsf::event_from_entry(&entry);
                    detections.extend(engine.evaluate(&event).into_iter().filter(raises_alert));
                }
                let range = (next, end);
                let cursor = DetectionCursor::AuditTrail;
                let Some((detections, alerts_opened)) =
                    self.record_pass(organization_id, cursor, range, &detections).await?
                else {
                    continue;
                };
                pass.evaluated += end - next;
                pass.detections += detections;
                pass.alerts_opened += alerts_opened;
            }
        }
    }

    /// Store one organisation's detections of a pass over `from..to` and move its cursor, in
    /// one transaction: (detections, alerts opened), or `None` when another pass (another
    /// replica) moved the cursor first, and nothing was written.
    pub(crate) async fn record_pass(
        &self,
        organization_id: OrganizationId,
        cursor: DetectionCursor,
        (from, to): (u64, u64),
        detections: &[Detection],
    ) -> Result<Option<(u64, u64)>, AppError> {
        let mut transaction = self.store.begin().await?;
        let mut recorder = AlertRecorder::new(organization_id);
        recorder.read_open_alerts(&mut transaction, detections, self.detection.window).await?;
        for detection in detections {
            recorder.record(self, &mut transaction, detection).await?;
        }
        let counts = (recorder.detections, recorder.alerts_opened);
        recorder.finish(self, &mut transaction, cursor, (from, to)).await?;
        let moved = match cursor {
            DetectionCursor::AuditTrail => {
                transaction.advance_detection_cursor(organization_id, from, to).await?
            }
            DetectionCursor::IngestedEvents => {
                transaction.advance_event_detection_cursor(organization_id, from, to).await?
            }
        };
        if !moved {
            transaction.rollback().await?;
            return Ok(None);
        }
        transaction.commit().await?;
        Ok(Some(counts))
    }

    fn alert_event(&self, organization_id: OrganizationId, action: &str, id: Uuid) -> AuditEvent {
        self.event(&Actor::System, organization_id, action, Resource::new("alert", id))
    }

    /// The rules detection runs: how many loaded, and each that did not with its reason.
    pub fn detection_rules(&self) -> RulesView {
        let mut view = match self.detection.rules.read() {
            Ok(rules) => RulesView {
                loaded: rules.report().loaded,
                failed: rules.report().failed.iter().map(ToString::to_string).collect(),
                reload_error: None,
            },
            Err(_) => RulesView { loaded: 0, failed: Vec::new(), reload_error: None },
        };
        self.add_reload_status(&mut view);
        view
    }

    /// Staff holding `detect:rules:read` on the provider organisation see the rules.
    pub async fn read_detection_rules(
        &self,
        principal: &Principal,
        context: &RequestContext,
    ) -> Result<RulesView, AppError> {
        let provider = self.provider_organization_id().await?;
        self.authorize_in(principal, provider, "detect:rules:read", context).await?;
        Ok(self.detection_rules())
    }

    async fn provider_organization_id(&self) -> Result<OrganizationId, AppError> {
        use store::OrganizationRepository as _;
        let mut read = self.store.read().await?;
        let provider = read.provider_organization().await?;
        read.commit().await?;
        provider
            .map(|organization| organization.id)
            .ok_or(AppError::NotFound("provider organization"))
    }

    pub async fn list_alerts(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        state: Option<AlertState>,
        limit: u32,
        context: &RequestContext,
    ) -> Result<Vec<AlertRecord>, AppError> {
        self.authorize_in(principal, organization_id, "detect:alerts:read", context).await?;
        let mut read = self.store.read().await?;
        let alerts =
            read.list_alerts(organization_id, state, limit.clamp(1, MAX_ALERTS_PER_PAGE)).await?;
        read.commit().await?;
        Ok(alerts)
    }

    pub async fn get_alert(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<AlertRecord, AppError> {
        self.authorize_in(principal, organization_id, "detect:alerts:read", context).await?;
        let mut read = self.store.read().await?;
        let alert =
            read.get_alert(organization_id, id).await?.ok_or(AppError::NotFound("alert"))?;
        read.commit().await?;
        Ok(alert)
    }

    /// Take a new alert in hand (new → acknowledged), optionally assigning it.
    pub async fn acknowledge_alert(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        assignee: Option<String>,
        context: &RequestContext,
    ) -> Result<AlertRecord, AppError> {
        self.authorize_in(principal, organization_id, "detect:alerts:write", context).await?;
        if assignee.as_ref().is_some_and(|assignee| assignee.is_empty() || assignee.len() > 320) {
            return Err(AppError::InvalidInput("assignee must be 1 to 320 characters".into()));
        }
        let mut transaction = self.store.begin().await?;
        let mut alert =
            transaction.get_alert(organization_id, id).await?.ok_or(AppError::NotFound("alert"))?;
        if alert.state != AlertState::New {
            return Err(AppError::Conflict(format!(
                "only a new alert can be acknowledged; this one is {}",
                alert.state.as_str()
            )));
        }
        let now = self.clock.now();
        alert.state = AlertState::Acknowledged;
        alert.acknowledged_by = principal.actor.id();
        alert.acknowledged_at = Some(now);
        if assignee.is_some() {
            alert.assignee = assignee;
        }
        transaction.update_alert(&alert).await?;
        let event = self.success_event(
            principal,
            organization_id,
            "detect.alert.acknowledge",
            Resource::new("alert", id),
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(alert)
    }

    /// Close a new or acknowledged alert with its resolution and a comment.
    pub async fn close_alert(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        resolution: AlertClose,
        comment: &str,
        context: &RequestContext,
    ) -> Result<AlertRecord, AppError> {
        self.authorize_in(principal, organization_id, "detect:alerts:write", context).await?;
        if comment.chars().count() > 4000 {
            return Err(AppError::InvalidInput("comment is longer than 4000 characters".into()));
        }
        let mut transaction = self.store.begin().await?;
        let mut alert =
            transaction.get_alert(organization_id, id).await?.ok_or(AppError::NotFound("alert"))?;
        if alert.state == AlertState::Closed {
            return Err(AppError::Conflict("the alert is already closed".into()));
        }
        let resolution = match resolution {
            AlertClose::TruePositive => AlertResolution::TruePositive,
            AlertClose::FalsePositive => AlertResolution::FalsePositive,
            AlertClose::Benign => AlertResolution::Benign,
        };
        alert.state = AlertState::Closed;
        alert.resolution = Some(resolution);
        alert.closed_by = principal.actor.id();
        alert.closed_at = Some(self.clock.now());
        alert.comment = comment.to_owned();
        transaction.update_alert(&alert).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "detect.alert.close",
            Resource::new("alert", id),
            context,
        );
        event.details.insert("resolution".into(), resolution.as_str().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(alert)
    }

    /// Per rule: alerts, detections, open ones and how the closed ones were judged.
    /// The noise report as an export: marked with the organisation's `detection_reports`
    /// level, and recorded as an audit event.
    pub async fn export_detection_noise(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<(Vec<RuleNoiseView>, crate::ExportMarking), AppError> {
        let noise = self.detection_noise(principal, organization_id, context).await?;
        let marking = self.export_marking(organization_id, "detection_reports", None).await?;
        self.record_export(
            principal,
            organization_id,
            "detection.noise.export",
            Resource::kind_only("detection_rules"),
            "json",
            noise.len(),
            &marking,
            context,
        )
        .await?;
        Ok((noise, marking))
    }

    pub async fn detection_noise(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<RuleNoiseView>, AppError> {
        self.authorize_in(principal, organization_id, "detect:alerts:read", context).await?;
        let mut read = self.store.read().await?;
        let alerts = read.list_alerts(organization_id, None, u32::MAX >> 1).await?;
        read.commit().await?;
        let mut rules: std::collections::BTreeMap<String, RuleNoiseView> = Default::default();
        for alert in alerts {
            let noise = rules.entry(alert.rule_id.clone()).or_insert_with(|| RuleNoiseView {
                rule_id: alert.rule_id.clone(),
                title: alert.title.clone(),
                alerts: 0,
                detections: 0,
                open: 0,
                true_positive: 0,
                false_positive: 0,
                benign: 0,
                false_positive_ratio: None,
            });
            noise.alerts += 1;
            noise.detections += alert.count;
            match alert.resolution {
                None => noise.open += 1,
                Some(AlertResolution::TruePositive) => noise.true_positive += 1,
                Some(AlertResolution::FalsePositive) => noise.false_positive += 1,
                Some(AlertResolution::Benign) => noise.benign += 1,
            }
        }
        Ok(rules
            .into_values()
            .map(|mut noise| {
                let closed = noise.true_positive + noise.false_positive + noise.benign;
                #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
                if closed > 0 {
                    noise.false_positive_ratio = Some(noise.false_positive as f64 / closed as f64);
                }
                noise
            })
            .collect())
    }
}

/// Used by the binary: run passes until the task is dropped.
pub async fn run_detection_every(app: App, every: std::time::Duration) {
    loop {
        if let Err(error) = app.run_detection_once().await {
            tracing::error!(%error, "detection pass failed");
        }
        tokio::time::sleep(every).await;
    }
}

/// Whose cursor a detection pass moves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DetectionCursor {
    AuditTrail,
    IngestedEvents,
}

/// The open alerts of a rule and group a pass reads for each span of its detections (see
/// [`first_seen_covering`]): the newest ones first seen in the span.
const OPEN_ALERTS_CONSIDERED: u32 = 32;

/// When the alerts that may cover detections at `times` were first seen, as disjoint spans,
/// earliest first: an alert first seen at `t` covers `t..t + window`. The spans of the
/// detections are merged where they overlap, so that the newest alerts read for one span
/// never crowd out those another needs. In UTC, as alerts' times are stored, and a second
/// more on each side, as SQLite compares the stored times as text, which orders the times
/// within one second by how many digits their fractions have (the exact window is checked on
/// the alerts read); within the years a time is stored in (0 to 9999).
fn first_seen_covering(
    times: &mut [OffsetDateTime],
    window: Duration,
) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    const FIRST: OffsetDateTime = time::macros::datetime!(0000-01-01 0:00 UTC);
    const LAST: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC);
    times.sort_unstable();
    let mut spans: Vec<(OffsetDateTime, OffsetDateTime)> = Vec::new();
    for at in times.iter().map(|at| at.to_offset(time::UtcOffset::UTC)) {
        let from = at.checked_sub(window + Duration::SECOND).filter(|from| *from >= FIRST);
        let to = at.checked_add(Duration::SECOND).filter(|to| *to <= LAST);
        let (from, to) = (from.unwrap_or(FIRST), to.unwrap_or(LAST));
        match spans.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => spans.push((from, to)),
        }
    }
    spans
}

/// The alerts one pass writes, in its transaction. A detection is counted into the open
/// alert of its rule and group whose window covers the detection's time (the newest such),
/// else it raises a new alert: events that arrive out of time order are still counted into
/// the alert of their time. Within a pass this happens in memory, and the pass writes each
/// alert it changed once, with one `detect.alert.count` entry for the pass saying how many
/// detections it added to each; every audit entry of the pass is appended at once (one tree
/// update).
struct AlertRecorder {
    organization_id: OrganizationId,
    /// By rule and group, the open alerts read or raised in this pass, newest first.
    alerts: std::collections::HashMap<(String, String), Vec<Counting>>,
    events: Vec<AuditEvent>,
    detections: u64,
    alerts_opened: u64,
}

/// An open alert and what this pass counted into it.
struct Counting {
    alert: OpenAlert,
    /// Detections counted into the alert here.
    added: u64,
    /// The event of the latest of them, whose summary the alert keeps.
    latest: Option<std::sync::Arc<serde_json::Value>>,
}

impl Counting {
    fn new(alert: OpenAlert) -> Self {
        Self { alert, added: 0, latest: None }
    }
}

impl AlertRecorder {
    fn new(organization_id: OrganizationId) -> Self {
        Self {
            organization_id,
            alerts: std::collections::HashMap::new(),
            events: Vec::new(),
            detections: 0,
            alerts_opened: 0,
        }
    }

    /// Read, in one query, the open alerts the detections of a pass may count into: for each
    /// rule and group, those whose window can cover one of its detections.
    async fn read_open_alerts(
        &mut self,
        transaction: &mut Transaction,
        detections: &[Detection],
        window: Duration,
    ) -> Result<(), AppError> {
        let mut times = std::collections::BTreeMap::<(&str, String), Vec<OffsetDateTime>>::new();
        for detection in detections {
            let key = (detection.rule_key(), detection.group_key_text().unwrap_or_default());
            times.entry(key).or_default().push(detection.time);
        }
        if times.is_empty() {
            return Ok(());
        }
        let mut wanted: Vec<OpenAlertsWanted<'_>> = Vec::new();
        for ((rule_id, group_key), times) in &mut times {
            for (first_seen_from, first_seen_to) in first_seen_covering(times, window) {
                wanted.push(OpenAlertsWanted {
                    rule_id,
                    group_key,
                    first_seen_from,
                    first_seen_to,
                });
            }
        }
        let open = transaction
            .open_alerts_of(self.organization_id, &wanted, OPEN_ALERTS_CONSIDERED)
            .await?;
        // Newest first within each rule and group, as the query returns them.
        for alert in open {
            let key = (alert.rule_id.clone(), alert.group_key.clone());
            self.alerts.entry(key).or_default().push(Counting::new(alert));
        }
        Ok(())
    }

    /// Open an alert for a detection or count it into the open one whose window covers it
    /// (the open alerts were read by [`AlertRecorder::read_open_alerts`]).
    async fn record(
        &mut self,
        app: &App,
        transaction: &mut Transaction,
        detection: &Detection,
    ) -> Result<(), AppError> {
        self.detections += 1;
        let key = (detection.rule_key().to_owned(), detection.group_key_text().unwrap_or_default());
        let at = detection.time;
        let window = app.detection.window;
        let open = self.alerts.entry(key.clone()).or_default();
        // Newest first: the first alert whose window covers `at`.
        if let Some(counting) = open.iter_mut().find(|counting| {
            at >= counting.alert.first_seen && at - counting.alert.first_seen < window
        }) {
            let alert = &mut counting.alert;
            alert.count += 1;
            alert.last_seen = alert.last_seen.max(at);
            if alert.event_refs.len() < MAX_EVENT_REFS
                && let Some(reference) = event_ref(&detection.event)
                && !alert.event_refs.contains(&reference)
            {
                alert.event_refs.push(reference);
            }
            counting.added += 1;
            counting.latest = Some(detection.event.clone());
            return Ok(());
        }
        let alert = AlertRecord {
            id: Uuid::now_v7(),
            organization_id: self.organization_id,
            rule_id: key.0.clone(),
            title: detection.title.clone(),
            level: detection.level.clone().unwrap_or_default(),
            tags: detection.tags.clone(),
            author: detection.author.clone().unwrap_or_default(),
            group_key: key.1.clone(),
            event_refs: event_ref(&detection.event).into_iter().collect(),
            summary: summary_of(&detection.event),
            first_seen: at,
            last_seen: at,
            count: 1,
            state: AlertState::New,
            resolution: None,
            assignee: None,
            acknowledged_by: None,
            acknowledged_at: None,
            closed_by: None,
            closed_at: None,
            comment: String::new(),
        };
        transaction.insert_alert(&alert).await?;
        // Queued with the alert: a raised alert is never without its notifications, also
        // across a restart; a detection counted into an open alert queues none.
        let n_notifications = app.queue_alert_notifications(transaction, &alert).await?;
        let mut event = app.alert_event(self.organization_id, "detect.alert.raise", alert.id);
        event.details.insert("rule_id".into(), alert.rule_id.clone().into());
        event.details.insert("level".into(), alert.level.clone().into());
        if n_notifications > 0 {
            event.details.insert("notifications".into(), n_notifications.into());
        }
        self.events.push(event);
        self.alerts_opened += 1;
        let open = self.alerts.entry(key).or_default();
        let position = open
            .iter()
            .position(|held| (held.alert.first_seen, held.alert.id) < (alert.first_seen, alert.id))
            .unwrap_or(open.len());
        open.insert(position, Counting::new(OpenAlert::from(&alert)));
        Ok(())
    }

    /// Write the alerts counted into and every audit entry of the pass. The counts go in one
    /// statement, with one `detect.alert.count` entry for the pass that lists each alert's new
    /// count and the detections added to it.
    async fn finish(
        mut self,
        app: &App,
        transaction: &mut Transaction,
        cursor: DetectionCursor,
        (from, to): (u64, u64),
    ) -> Result<(), AppError> {
        let mut counted: Vec<AlertCount<'_>> = self
            .alerts
            .values()
            .flatten()
            .filter_map(|counting| {
                let latest = counting.latest.as_deref()?;
                Some(AlertCount {
                    alert: &counting.alert,
                    added: counting.added,
                    summary: summary_of(latest),
                })
            })
            .collect();
        counted.sort_by_key(|count| count.alert.id);
        if !counted.is_empty() {
            // Only the counted fields: a triager may have changed the alerts meanwhile.
            transaction.count_into_alerts(&counted).await?;
            let pass = match cursor {
                DetectionCursor::AuditTrail => format!("audit:{from}..{to}"),
                DetectionCursor::IngestedEvents => format!("events:{from}..{to}"),
            };
            let mut event = app.event(
                &Actor::System,
                self.organization_id,
                "detect.alert.count",
                Resource::new("detection_pass", pass),
            );
            let alerts: Vec<serde_json::Value> = counted
                .iter()
                .map(|count| {
                    let (id, total, added) = (count.alert.id, count.alert.count, count.added);
                    serde_json::json!({"id": id, "count": total, "added": added})
                })
                .collect();
            event.details.insert("alerts".into(), alerts.into());
            self.events.push(event);
        }
        transaction.append_audit_events(&self.events).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn the_alerts_read_are_those_whose_window_can_cover_the_detections() {
        let hour = Duration::hours(1);
        let mut times = [
            datetime!(2026-03-01 11:00 UTC),
            datetime!(2026-03-01 8:30 UTC),
            datetime!(2026-03-01 9:15 UTC),
            datetime!(2026-03-03 0:00 UTC),
        ];
        assert_eq!(
            first_seen_covering(&mut times, hour),
            [
                (datetime!(2026-03-01 7:29:59 UTC), datetime!(2026-03-01 9:15:01 UTC)),
                (datetime!(2026-03-01 9:59:59 UTC), datetime!(2026-03-01 11:00:01 UTC)),
                (datetime!(2026-03-02 22:59:59 UTC), datetime!(2026-03-03 0:00:01 UTC)),
            ],
            "overlapping spans merged, distant ones apart"
        );
        // At the ends of the years a time is stored in, the span stops there.
        let mut ends = [datetime!(9999-12-31 23:59:59.5 UTC), datetime!(0000-01-01 0:20 UTC)];
        assert_eq!(
            first_seen_covering(&mut ends, hour),
            [
                (datetime!(0000-01-01 0:00 UTC), datetime!(0000-01-01 0:20:01 UTC)),
                (
                    datetime!(9999-12-31 22:59:58.5 UTC),
                    datetime!(9999-12-31 23:59:59.999_999_999 UTC)
                ),
            ]
        );
        assert_eq!(first_seen_covering(&mut [], hour), []);
        // Times in another offset give the same spans, in UTC.
        let mut paris = [datetime!(2026-03-01 9:30 +1)];
        assert_eq!(
            first_seen_covering(&mut paris, hour),
            [(datetime!(2026-03-01 7:29:59 UTC), datetime!(2026-03-01 8:30:01 UTC))]
        );
        assert!(first_seen_covering(&mut paris, hour)[0].0.offset().is_utc());
    }

    proptest! {
        /// Whatever the detections' times and window, the spans are disjoint and in order,
        /// and every alert whose window covers one of the detections was first seen in one of
        /// them: a pass never misses the alert a detection belongs to.
        #[test]
        fn the_spans_hold_every_alert_that_covers_a_detection(
            seconds in proptest::collection::vec(0i64..400_000, 1..40),
            // Alerts near either end of a detection's window, where a span could miss them.
            alerts in proptest::collection::vec(
                (any::<prop::sample::Index>(), -3i64..=3, any::<bool>()),
                0..40,
            ),
            window_seconds in 1i64..20_000,
        ) {
            let at = |second: i64| datetime!(2026-03-01 0:00 UTC) + Duration::seconds(second);
            let window = Duration::seconds(window_seconds);
            let mut times: Vec<OffsetDateTime> = seconds.iter().map(|s| at(*s)).collect();
            let first_seens: Vec<OffsetDateTime> = alerts
                .iter()
                .map(|(index, shift, at_start)| {
                    let detection = times[index.index(times.len())] + Duration::seconds(*shift);
                    if *at_start { detection - window } else { detection }
                })
                .collect();
            let spans = first_seen_covering(&mut times, window);
            for pair in spans.windows(2) {
                prop_assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0);
            }
            for first_seen in first_seens {
                let covers = times.iter().any(|t| *t >= first_seen && *t - first_seen < window);
                let read = spans.iter().any(|(from, to)| *from <= first_seen && first_seen <= *to);
                prop_assert!(!covers || read, "{first_seen} covers a detection, unread");
            }
        }
    }
}
