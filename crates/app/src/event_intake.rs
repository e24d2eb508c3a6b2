//! Events sent to an organisation for detection: NDJSON batches (and syslog messages, which
//! the binary turns into the same batches), stored for the retention period, searchable, and
//! evaluated once by the same rules and alert path as the audit trail.
//!
//! A batch is parsed line by line: a bad line is reported with its number and never stops the
//! others. What is accepted is stored, numbered per organisation, in one transaction with the
//! audit event that records the batch. Detection follows the stored events through a cursor,
//! exactly like the audit trail: a restart neither skips nor repeats an event.
//!
//! Memory stays bounded: the bytes of batches being parsed and stored at once are capped
//! (a semaphore), and so is each organisation's backlog of stored events the rules have not
//! evaluated yet. Past either cap a batch is refused whole with `Throttled`, which the API
//! answers with 429 and `Retry-After`.

use base::{Actor, OrganizationId, RequestContext, Resource};
use detect::intake::ndjson::{self, LineError, ParsedLine};
use detect::{Event, EventSource};
use serde_json::{Map, Value};
use store::{EventRepository, EventWindow, NewEvent, StoredEvent};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit_trail::AuditTrail;
use crate::detection::{DetectionCursor, raises_alert};
use crate::fresh_events::{DEFAULT_FRESH_BYTES, FreshEvents};
use crate::{App, AppError, Principal};

/// Stored events of one organisation evaluated per transaction.
const DETECTION_BATCH: u64 = 1000;
/// How long a batch sent over HTTP waits for room among the batches kept parsed for
/// detection (see `FreshEvents::wait_for_room`); after that it is stored all the same.
const FRESH_ROOM_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);
/// Stored events read per page while searching.
const SEARCH_PAGE: u32 = 500;
/// The most stored events one search reads before answering with what it found.
pub const MAX_EVENTS_SCANNED: u64 = 20_000;
/// The most events one search returns.
pub const MAX_EVENTS_PER_PAGE: u32 = 500;
/// The most `field=value` conditions of one search.
pub const MAX_EVENT_MATCHES: usize = 8;
/// The longest logsource name (`product`, `service`, `category`) a batch may name.
const MAX_SOURCE_NAME: usize = 64;

/// How event intake is bounded and how long events are kept.
#[derive(Debug, Clone)]
pub struct IntakeSettings {
    /// Largest event, largest batch, most events per batch.
    pub limits: ndjson::Limits,
    /// Per organisation: stored events not yet evaluated by the rules. A batch that would go
    /// past it is refused.
    pub max_backlog: u64,
    /// Bytes of batches parsed and stored at the same time, all organisations together.
    pub max_in_flight_bytes: usize,
    /// How long stored events are kept, counted from their reception.
    pub retention: time::Duration,
    /// What a refused batch is told to wait, seconds.
    pub retry_after_seconds: u64,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            limits: ndjson::Limits {
                max_event_bytes: 64 * 1024,
                max_batch_bytes: 4 * 1024 * 1024,
                max_events: 10_000,
            },
            max_backlog: 200_000,
            max_in_flight_bytes: 64 * 1024 * 1024,
            retention: time::Duration::days(30),
            retry_after_seconds: 2,
        }
    }
}

pub(crate) struct IntakeState {
    settings: IntakeSettings,
    in_flight: tokio::sync::Semaphore,
    /// Stored batches waiting for the rules, parsed.
    fresh: FreshEvents,
}

impl IntakeState {
    pub(crate) fn new(settings: IntakeSettings) -> Self {
        let permits = settings.max_in_flight_bytes.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        Self {
            settings,
            in_flight: tokio::sync::Semaphore::new(permits),
            fresh: FreshEvents::new(DEFAULT_FRESH_BYTES),
        }
    }
}

/// The Sigma logsource a batch's events are routed by. Windows events in the `evtx_dump`
/// JSON shape are recognised and routed by their channel and event id instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntakeSource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

impl IntakeSource {
    fn check(&self) -> Result<(), AppError> {
        for (name, value) in
            [("product", &self.product), ("service", &self.service), ("category", &self.category)]
        {
            if let Some(value) = value {
                let valid = !value.is_empty()
                    && value.len() <= MAX_SOURCE_NAME
                    && value.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    });
                if !valid {
                    return Err(AppError::InvalidInput(format!(
                        "{name} must be 1 to {MAX_SOURCE_NAME} characters of a-z, 0-9, _ and -"
                    )));
                }
            }
        }
        if self.product.as_deref() == Some("rampart") {
            return Err(AppError::InvalidInput(
                "product `rampart` is reserved for Rampart's own audit trail".into(),
            ));
        }
        Ok(())
    }
}

/// What became of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    /// Events stored.
    pub accepted: u64,
    /// Lines refused, each with its 1-based number and the reason, in line order.
    pub rejected: Vec<LineError>,
    /// The numbers given to the stored events (`first_seq..end_seq`); equal when none.
    pub first_seq: u64,
    pub end_seq: u64,
}

/// A search of stored events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSearch {
    /// Events that happened at or after this time.
    pub from: Option<OffsetDateTime>,
    /// Events that happened before this time.
    pub to: Option<OffsetDateTime>,
    /// `field=value` conditions, all of which must hold; a field is a dotted path
    /// (`actor.user.name`) or a member name containing dots.
    pub matches: Vec<(String, String)>,
    /// Continue below this event number (the previous page's `next_before`).
    pub before: Option<u64>,
    pub limit: u32,
}

/// A stored event as a search returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    pub seq: u64,
    pub time: OffsetDateTime,
    pub received_at: OffsetDateTime,
    pub product: Option<String>,
    pub service: Option<String>,
    pub categories: Vec<String>,
    pub fields: Value,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// Matching events, newest first.
    pub events: Vec<EventView>,
    /// Stored events read to answer.
    pub scanned: u64,
    /// Where the next page starts, when older events remain unread.
    pub next_before: Option<u64>,
}

/// What one pass of detection over stored events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventDetectionPass {
    pub evaluated: u64,
    pub detections: u64,
    pub alerts_opened: u64,
    /// Stored events that could not be read back as events (reported in the log).
    pub unreadable: u64,
}

/// The time an event carries: OCSF `time` (Unix milliseconds), or an RFC 3339 text in
/// `time`, `@timestamp` or `timestamp`.
fn event_time(fields: &Map<String, Value>) -> Option<OffsetDateTime> {
    if let Some(ms) = fields.get("time").and_then(Value::as_i64) {
        return OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok();
    }
    ["time", "@timestamp", "timestamp"].iter().find_map(|name| {
        fields.get(*name).and_then(Value::as_str).and_then(|text| {
            OffsetDateTime::parse(text, &Rfc3339).ok().map(|t| t.to_offset(time::UtcOffset::UTC))
        })
    })
}

/// A time as the store keeps it (UTC, whole microseconds), so that an event evaluated from
/// memory carries the time it would be read back with.
fn stored_precision(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000).unwrap_or(at)
}

/// The field at `path`: a member named exactly so, else the dotted path through objects.
fn field_at<'a>(fields: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(value) = fields.get(path) {
        return Some(value);
    }
    let mut value = fields;
    for part in path.split('.') {
        value = value.get(part)?;
    }
    Some(value)
}

fn value_is(value: &Value, expected: &str) -> bool {
    match value {
        Value::String(text) => text == expected,
        Value::Number(number) => number.to_string() == expected,
        Value::Bool(flag) => expected == if *flag { "true" } else { "false" },
        Value::Array(items) => items.iter().any(|item| value_is(item, expected)),
        Value::Null | Value::Object(_) => false,
    }
}

/// The event the engine evaluates for a stored one.
fn engine_event(stored: &StoredEvent) -> Result<Event, String> {
    if let Some(mapped) = detect::windows::parse_evtx_record(&stored.fields) {
        return mapped.map_err(|e| e.to_string());
    }
    let fields: Value = serde_json::from_str(&stored.fields).map_err(|e| e.to_string())?;
    if fields.as_object().is_some_and(detect::windows::is_evtx_record) {
        return detect::windows::from_evtx_value(fields).map_err(|e| e.to_string());
    }
    let source = EventSource {
        product: stored.product.clone(),
        service: stored.service.clone(),
        categories: stored.categories.clone(),
    };
    Ok(Event { source, time: stored.time, fields })
}

/// What a search compares against: the event as received and, for a Windows record, its
/// mapped form (where `Image`, `EventID`, … are top-level, as rules name them).
fn search_views(stored: &StoredEvent) -> Option<(Value, Option<Value>)> {
    let fields: Value = serde_json::from_str(&stored.fields).ok()?;
    let mapped = fields
        .as_object()
        .filter(|object| detect::windows::is_evtx_record(object))
        .and_then(|_| detect::windows::from_evtx_json(&fields).ok())
        .map(|event| event.fields);
    Some((fields, mapped))
}

impl App {
    /// The limits a batch must respect (the API reads at most `max_batch_bytes`).
    pub fn intake_settings(&self) -> &IntakeSettings {
        &self.intake.settings
    }

    /// Bound intake and keep events as `settings` say.
    #[must_use]
    pub fn with_event_intake(mut self, settings: IntakeSettings) -> Self {
        self.intake = std::sync::Arc::new(IntakeState::new(settings));
        self
    }

    /// Store an NDJSON batch of events sent to an organisation (`detect:events:write`). Bad
    /// lines are reported and skipped; the good ones are stored with one audit event.
    pub async fn ingest_events(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        source: &IntakeSource,
        body: &[u8],
        context: &RequestContext,
    ) -> Result<IngestReport, AppError> {
        self.authorize_in(principal, organization_id, "detect:events:write", context).await?;
        source.check()?;
        let patience = FRESH_ROOM_PATIENCE;
        self.store_batch(&principal.actor, organization_id, source, body, context, patience).await
    }

    /// Store a batch for the system itself (the syslog listener), without a principal.
    pub async fn ingest_system_events(
        &self,
        organization_id: OrganizationId,
        source: &IntakeSource,
        body: &[u8],
    ) -> Result<IngestReport, AppError> {
        source.check()?;
        // A listener must keep reading its socket: it does not wait for detection.
        let context = RequestContext::default();
        self.store_batch(
            &Actor::System,
            organization_id,
            source,
            body,
            &context,
            std::time::Duration::ZERO,
        )
        .await
    }

    async fn store_batch(
        &self,
        actor: &Actor,
        organization_id: OrganizationId,
        source: &IntakeSource,
        body: &[u8],
        context: &RequestContext,
        patience: std::time::Duration,
    ) -> Result<IngestReport, AppError> {
        let settings = &self.intake.settings;
        let throttled = AppError::Throttled { retry_after_seconds: settings.retry_after_seconds };
        let limits = &settings.limits;
        if body.len() > limits.max_batch_bytes {
            return Err(AppError::InvalidInput(format!(
                "the batch is {} bytes, over the {}-byte limit",
                body.len(),
                limits.max_batch_bytes
            )));
        }
        let weight = u32::try_from(body.len().max(1)).unwrap_or(u32::MAX);
        let Ok(_permit) = self.intake.in_flight.try_acquire_many(weight) else {
            return Err(throttled);
        };
        // While detection lags behind, a batch waits (holding its share of the in-flight
        // bytes) for room among the batches kept parsed, rather than be parsed twice.
        if !patience.is_zero() {
            self.intake.fresh.wait_for_room(body.len(), patience).await;
        }
        let batch = ndjson::parse_batch(body, limits)
            .map_err(|error| AppError::InvalidInput(error.to_string()))?;
        let received_at = self.clock.now();
        let mut rejected = batch.errors;
        // What the rules will evaluate (the events parsed, and mapped for Windows records) and
        // what is stored (the lines as received), in the same order.
        let mut parsed_events = Vec::with_capacity(batch.events.len());
        let mut texts = Vec::with_capacity(batch.events.len());
        for ndjson::Accepted { line, text, parsed } in batch.events {
            let mut event = match parsed {
                ParsedLine::Windows(Ok(event)) => event,
                ParsedLine::Windows(Err(error)) => {
                    rejected.push(LineError {
                        line,
                        problem: ndjson::LineProblem::Json {
                            column: 1,
                            reason: format!("not a Windows event record: {error}"),
                        },
                    });
                    continue;
                }
                ParsedLine::Object(fields) => Event {
                    source: EventSource {
                        product: source.product.clone(),
                        service: source.service.clone(),
                        categories: source.category.iter().cloned().collect(),
                    },
                    time: event_time(&fields).unwrap_or(received_at),
                    fields: Value::Object(fields),
                },
            };
            event.time = stored_precision(event.time);
            parsed_events.push(event);
            texts.push(text.trim());
        }
        rejected.sort_by_key(|error| error.line);
        if parsed_events.is_empty() {
            return Ok(IngestReport { accepted: 0, rejected, first_seq: 0, end_seq: 0 });
        }
        let events: Vec<NewEvent<'_>> = parsed_events
            .iter()
            .zip(&texts)
            .map(|(event, text)| NewEvent {
                time: event.time,
                product: event.source.product.as_deref(),
                service: event.source.service.as_deref(),
                categories: &event.source.categories,
                fields: text,
            })
            .collect();
        let mut transaction = self.store.begin().await?;
        let backlog = transaction.event_backlog(organization_id).await?;
        if backlog.saturating_add(events.len() as u64) > settings.max_backlog {
            transaction.rollback().await?;
            return Err(throttled);
        }
        let (first_seq, end_seq) =
            transaction.append_events(organization_id, received_at, &events).await?;
        let mut event = self.event(
            actor,
            organization_id,
            "detect.events.ingest",
            Resource::new("events", format!("{first_seq}..{end_seq}")),
        );
        event.context = context.clone();
        event.details.insert("accepted".into(), events.len().into());
        event.details.insert("rejected".into(), rejected.len().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        let (accepted, raw_bytes) = (events.len() as u64, texts.iter().map(|t| t.len()).sum());
        drop(events);
        self.intake.fresh.offer(organization_id, first_seq, parsed_events, raw_bytes);
        Ok(IngestReport { accepted, rejected, first_seq, end_seq })
    }

    /// Search the organisation's stored events (`detect:events:read`) by time and by
    /// `field=value`, newest first. One call reads at most [`MAX_EVENTS_SCANNED`] events and
    /// says where to continue.
    pub async fn search_events(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        search: &EventSearch,
        context: &RequestContext,
    ) -> Result<EventPage, AppError> {
        self.authorize_in(principal, organization_id, "detect:events:read", context).await?;
        if search.matches.len() > MAX_EVENT_MATCHES {
            return Err(AppError::InvalidInput(format!(
                "at most {MAX_EVENT_MATCHES} field=value conditions"
            )));
        }
        if let (Some(from), Some(to)) = (search.from, search.to)
            && from > to
        {
            return Err(AppError::InvalidInput("from must not be after to".into()));
        }
        let limit = search.limit.clamp(1, MAX_EVENTS_PER_PAGE) as usize;
        let mut window =
            EventWindow { from: search.from, to: search.to, before_seq: search.before };
        let mut page = EventPage { events: Vec::new(), scanned: 0, next_before: None };
        let mut read = self.store.read().await?;
        loop {
            let rows = read.search_events(organization_id, window, SEARCH_PAGE).await?;
            let exhausted = rows.len() < SEARCH_PAGE as usize;
            for stored in rows {
                page.scanned += 1;
                window.before_seq = Some(stored.seq);
                let Some((fields, mapped)) = search_views(&stored) else { continue };
                let holds = |path: &str, expected: &str| {
                    field_at(&fields, path).is_some_and(|v| value_is(v, expected))
                        || mapped
                            .as_ref()
                            .and_then(|m| field_at(m, path))
                            .is_some_and(|v| value_is(v, expected))
                };
                if search.matches.iter().all(|(path, expected)| holds(path, expected)) {
                    page.events.push(EventView {
                        seq: stored.seq,
                        time: stored.time,
                        received_at: stored.received_at,
                        product: stored.product,
                        service: stored.service,
                        categories: stored.categories,
                        fields,
                    });
                    if page.events.len() == limit {
                        break;
                    }
                }
            }
            let stopped = page.events.len() == limit || page.scanned >= MAX_EVENTS_SCANNED;
            if exhausted && !stopped {
                break;
            }
            if stopped {
                page.next_before = window.before_seq.filter(|seq| *seq > 0);
                break;
            }
        }
        read.commit().await?;
        Ok(page)
    }

    /// Evaluate every stored event the rules have not seen, in every organisation, and store
    /// the alerts raised. The server calls this periodically; tests call it to drain.
    pub async fn run_event_detection_once(&self) -> Result<EventDetectionPass, AppError> {
        let mut pass = EventDetectionPass::default();
        let mut engine = self.detection.engine.lock().await;
        loop {
            let generation = self.intake.fresh.generation();
            let mut read = self.store.read().await?;
            let pending = read.pending_event_detection().await?;
            read.commit().await?;
            let organizations: Vec<OrganizationId> = pending.iter().map(|(id, _, _)| *id).collect();
            self.intake.fresh.keep_pending(&organizations, generation);
            if pending.is_empty() {
                return Ok(pass);
            }
            for (organization_id, next, size) in pending {
                // The batch at the cursor from memory when ingestion left it there, else the
                // stored events, read and evaluated outside the write transaction so that
                // ingestion never waits on the rules: the write holds only the alerts and the
                // cursor. One pass runs at a time (the engine's lock).
                let (events, end) = match self.intake.fresh.take(organization_id, next) {
                    Some(batch) => {
                        let end = batch.first_seq + batch.events.len() as u64;
                        let numbered = (batch.first_seq..).zip(batch.events.into_iter().map(Ok));
                        (numbered.collect::<Vec<_>>(), end)
                    }
                    None => {
                        let end = size.min(next.saturating_add(DETECTION_BATCH));
                        let mut read = self.store.read().await?;
                        let rows = read.events_between(organization_id, next, end).await?;
                        read.commit().await?;
                        (
                            rows.iter().map(|stored| (stored.seq, engine_event(stored))).collect(),
                            end,
                        )
                    }
                };
                let mut detections = Vec::new();
                let (mut evaluated, mut unreadable) = (0, 0);
                for (seq, event) in events {
                    let event = match event {
                        Ok(event) => event,
                        Err(error) => {
                            unreadable += 1;
                            tracing::warn!(%organization_id, seq, %error,
                                "stored event is not readable; skipped");
                            continue;
                        }
                    };
                    evaluated += 1;
                    // The detections keep the event itself, with where it is stored; most
                    // events match nothing, and their reference is never written out.
                    let found = engine.evaluate_owned(event, |fields| {
                        mark_reference(fields, &format!("event:{organization_id}:{seq}"));
                    });
                    detections.extend(found.into_iter().filter(raises_alert));
                }
                let cursor = DetectionCursor::IngestedEvents;
                let Some((found, opened)) =
                    self.record_pass(organization_id, cursor, (next, end), &detections).await?
                else {
                    continue;
                };
                pass.evaluated += evaluated;
                pass.unreadable += unreadable;
                pass.detections += found;
                pass.alerts_opened += opened;
            }
        }
    }

    /// Delete stored events older than the retention period, with one audit event per
    /// organisation that lost some; how many were deleted.
    pub async fn purge_expired_events(&self) -> Result<u64, AppError> {
        let cutoff = self.clock.now() - self.intake.settings.retention;
        let mut read = self.store.read().await?;
        let expired = read.count_events_received_before(cutoff).await?;
        read.commit().await?;
        let mut total = 0;
        for (organization_id, _) in expired {
            let mut transaction = self.store.begin().await?;
            let deleted = transaction.purge_events_received_before(organization_id, cutoff).await?;
            // Batches held for the rules may include what was just deleted: detection reads
            // the store instead.
            self.intake.fresh.forget(organization_id);
            if deleted == 0 {
                transaction.rollback().await?;
                continue;
            }
            let mut event = self.event(
                &Actor::System,
                organization_id,
                "detect.events.purge",
                Resource::kind_only("events"),
            );
            event.details.insert("deleted".into(), deleted.into());
            event.details.insert(
                "received_before".into(),
                cutoff.format(&Rfc3339).unwrap_or_default().into(),
            );
            transaction.append_audit_event(&event).await?;
            transaction.commit().await?;
            total += deleted;
        }
        Ok(total)
    }
}

/// Point an alert at the stored event (`event:<organization>:<seq>`) through the
/// `metadata.uid` the alert path reads its references from.
fn mark_reference(event: &mut Value, reference: &str) {
    let Some(object) = event.as_object_mut() else { return };
    let metadata = object.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    if let Some(metadata) = metadata.as_object_mut() {
        metadata.insert("uid".into(), Value::String(reference.to_owned()));
    }
}

/// Used by the binary: evaluate stored events (as they arrive, and at least every `every`)
/// and purge expired ones until the task is dropped.
pub async fn run_event_detection_every(app: App, every: std::time::Duration) {
    let mut last_purge: Option<std::time::Instant> = None;
    loop {
        if let Err(error) = app.run_event_detection_once().await {
            tracing::error!(%error, "detection pass over ingested events failed");
        }
        if last_purge.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(600)) {
            match app.purge_expired_events().await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired ingested events purged"),
                Err(error) => tracing::error!(%error, "purge of expired events failed"),
            }
            last_purge = Some(std::time::Instant::now());
        }
        // Every `every`, or as soon as a batch is stored.
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = app.intake.fresh.arrived.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_found_by_dotted_path_or_by_name() {
        let fields = json!({"actor": {"user": {"name": "ada"}}, "a.b": 1, "tags": ["x", "y"]});
        assert_eq!(field_at(&fields, "actor.user.name"), Some(&json!("ada")));
        assert_eq!(field_at(&fields, "a.b"), Some(&json!(1)));
        assert!(field_at(&fields, "actor.user.uid").is_none());
        assert!(value_is(&json!(1), "1"));
        assert!(value_is(&json!(["x", "y"]), "y"));
        assert!(!value_is(&json!("Ada"), "ada"));
        assert!(value_is(&json!(true), "true"));
    }

    #[test]
    fn event_times_come_from_the_event() {
        let ms = json!({"time": 1_772_355_600_000_i64});
        let at = event_time(ms.as_object().unwrap()).unwrap();
        assert_eq!(at.unix_timestamp(), 1_772_355_600);
        let text = json!({"@timestamp": "2026-03-01T10:00:00+01:00"});
        assert_eq!(event_time(text.as_object().unwrap()).unwrap().unix_timestamp(), 1_772_355_600);
        assert!(event_time(json!({"time": "yesterday"}).as_object().unwrap()).is_none());
    }

    #[test]
    fn source_names_are_checked() {
        let good = IntakeSource { product: Some("linux".into()), ..IntakeSource::default() };
        assert!(good.check().is_ok());
        let reserved = IntakeSource { product: Some("rampart".into()), ..IntakeSource::default() };
        assert!(reserved.check().is_err());
        for bad in ["", "Linux", "a b", &"x".repeat(65)] {
            let source = IntakeSource { service: Some(bad.into()), ..IntakeSource::default() };
            assert!(source.check().is_err(), "{bad:?}");
        }
    }

    fn stored(fields: &str) -> StoredEvent {
        StoredEvent {
            organization_id: OrganizationId::from_uuid(uuid::Uuid::from_u128(1)),
            seq: 0,
            time: OffsetDateTime::UNIX_EPOCH,
            received_at: OffsetDateTime::UNIX_EPOCH,
            product: Some("linux".into()),
            service: Some("auditd".into()),
            categories: vec!["process_creation".into()],
            fields: fields.into(),
        }
    }

    #[test]
    fn stored_events_are_evaluated_as_they_were_at_ingestion() {
        let record = json!({"Event": {
            "System": {
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "EventID": 1,
                "TimeCreated": {"#attributes": {"SystemTime": "2026-03-01T10:00:00Z"}},
            },
            "EventData": {"Image": "C:\\Windows\\cmd.exe", "CommandLine": "cmd /c whoami"},
        }});
        let text = record.to_string();
        let event = engine_event(&stored(&text)).unwrap();
        let ingested = detect::windows::parse_evtx_record(&text).unwrap().unwrap();
        assert_eq!(event, ingested);
        assert_eq!(event, detect::windows::from_evtx_value(record).unwrap());
        assert_eq!(event.fields["Image"], json!("C:\\Windows\\cmd.exe"));

        // Another object keeps the source it was sent with.
        let event = engine_event(&stored(r#"{"user": "ada", "Event": 1}"#)).unwrap();
        assert_eq!(event.source.product.as_deref(), Some("linux"));
        assert_eq!(event.source.categories, ["process_creation"]);
        assert_eq!(event.fields, json!({"user": "ada", "Event": 1}));
        // A Windows record of the wrong shape, and text that is not JSON, say why.
        let broken = r#"{"Event": {"System": {"Channel": "Security"}}}"#;
        assert!(engine_event(&stored(broken)).unwrap_err().contains("EventID"));
        assert!(engine_event(&stored("{not json")).is_err());
    }
}
