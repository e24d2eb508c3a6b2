//! Events sent to an organisation for detection: numbered per organisation, kept until the
//! retention purge removes them, and followed by the rules through a cursor.
//!
//! What an event may hold, how it is routed and how long it is kept are the application
//! layer's; this module stores what it is given and reads it back. Times are stored as Unix
//! microseconds so that ranges compare as numbers on both backends.

use base::OrganizationId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// Rows per multi-row insert: 8 columns each, well under both backends' bind limits.
const INSERT_CHUNK: usize = 500;

/// An event to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// When it happened.
    pub time: OffsetDateTime,
    pub product: Option<String>,
    pub service: Option<String>,
    pub categories: Vec<String>,
    /// The event as received, a JSON object's text.
    pub fields: String,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub organization_id: OrganizationId,
    /// Its number in the organisation, from 0, in the order events were stored.
    pub seq: u64,
    pub time: OffsetDateTime,
    pub received_at: OffsetDateTime,
    pub product: Option<String>,
    pub service: Option<String>,
    pub categories: Vec<String>,
    /// A JSON object's text.
    pub fields: String,
}

/// Which stored events a search reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventWindow {
    /// Events that happened at or after this time.
    pub from: Option<OffsetDateTime>,
    /// Events that happened before this time.
    pub to: Option<OffsetDateTime>,
    /// Only events numbered below this one (to page backwards).
    pub before_seq: Option<u64>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    organization_id: Uuid,
    seq: i64,
    event_time_us: i64,
    received_us: i64,
    product: Option<String>,
    service: Option<String>,
    categories: String,
    fields: String,
}

macro_rules! event_columns {
    () => {
        "organization_id, seq, event_time_us, received_us, product, service, categories, fields"
    };
}

/// Unix microseconds of a time.
fn micros(at: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(at.unix_timestamp_nanos() / 1000)
        .map_err(|_| StoreError::Corrupt(format!("time {at} is out of range")))
}

fn from_micros(us: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map_err(|_| StoreError::Corrupt(format!("stored time {us} is out of range")))
}

fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{value} is out of range")))
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value}")))
}

fn event_of(row: EventRow) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        organization_id: OrganizationId::from_uuid(row.organization_id),
        seq: to_u64(row.seq, "event seq")?,
        time: from_micros(row.event_time_us)?,
        received_at: from_micros(row.received_us)?,
        categories: serde_json::from_str(&row.categories)
            .map_err(|_| StoreError::Corrupt(format!("event {}: invalid categories", row.seq)))?,
        product: row.product,
        service: row.service,
        fields: row.fields,
    })
}

/// Storage of ingested events and of how far detection has evaluated them.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait EventRepository {
    /// Store events received at `received_at`, numbered after the organisation's last one;
    /// returns the first number given and the number after the last.
    async fn append_events(
        &mut self,
        organization_id: OrganizationId,
        received_at: OffsetDateTime,
        events: &[NewEvent],
    ) -> Result<(u64, u64), StoreError>;
    /// The organisation's stored events numbered in `from..to`, in order (purged ones are
    /// missing).
    async fn events_between(
        &mut self,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// Up to `limit` stored events in the window, newest number first.
    async fn search_events(
        &mut self,
        organization_id: OrganizationId,
        window: EventWindow,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// Organisations with events the rules have not evaluated: the organisation, the next
    /// number to evaluate and the number of events ever stored.
    async fn pending_event_detection(
        &mut self,
    ) -> Result<Vec<(OrganizationId, u64, u64)>, StoreError>;
    /// Events stored in the organisation that the rules have not evaluated yet.
    async fn event_backlog(&mut self, organization_id: OrganizationId) -> Result<u64, StoreError>;
    /// Bookkeeping: the rules have evaluated the organisation's events below `next_seq`.
    /// Move the organisation's cursor from `from` to `to`; false (and nothing changed) when
    /// it is no longer at `from`: another pass evaluated those events first.
    async fn advance_event_detection_cursor(
        &mut self,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
    ) -> Result<bool, StoreError>;
    /// Per organisation, how many stored events were received before `cutoff`.
    async fn count_events_received_before(
        &mut self,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<(OrganizationId, u64)>, StoreError>;
    /// Delete the organisation's events received before `cutoff`; how many went.
    async fn purge_events_received_before(
        &mut self,
        organization_id: OrganizationId,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

impl EventRepository for Transaction {
    async fn append_events(
        &mut self,
        organization_id: OrganizationId,
        received_at: OffsetDateTime,
        events: &[NewEvent],
    ) -> Result<(u64, u64), StoreError> {
        let count = to_i64(events.len() as u64)?;
        let received_us = micros(received_at)?;
        let sql = "INSERT INTO event_heads (organization_id, size) VALUES ($1, $2) \
                   ON CONFLICT (organization_id) DO UPDATE SET size = event_heads.size + $2 \
                   RETURNING size";
        let (end,): (i64,) = on_backend!(self.change()?, c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(count)
            .fetch_one(&mut *c)
            .await)?;
        let end = to_u64(end, "event head")?;
        let first = end.saturating_sub(events.len() as u64);
        let mut rows = Vec::with_capacity(events.len());
        for (offset, event) in events.iter().enumerate() {
            let categories = serde_json::to_string(&event.categories)
                .map_err(|error| StoreError::Corrupt(format!("event categories: {error}")))?;
            rows.push((to_i64(first + offset as u64)?, micros(event.time)?, categories, event));
        }
        for chunk in rows.chunks(INSERT_CHUNK) {
            on_backend!(self.change()?, c => {
                let mut query = sqlx::QueryBuilder::new(concat!(
                    "INSERT INTO ingested_events (",
                    event_columns!(),
                    ") "
                ));
                query.push_values(chunk, |mut row, (seq, time_us, categories, event)| {
                    row.push_bind(organization_id.as_uuid())
                        .push_bind(*seq)
                        .push_bind(*time_us)
                        .push_bind(received_us)
                        .push_bind(event.product.as_deref())
                        .push_bind(event.service.as_deref())
                        .push_bind(categories.as_str())
                        .push_bind(event.fields.as_str());
                });
                query.build().execute(&mut *c).await.map(|_| ())
            })?;
        }
        Ok((first, end))
    }

    async fn events_between(
        &mut self,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = concat!(
            "SELECT ",
            event_columns!(),
            " FROM ingested_events WHERE organization_id = $1 AND seq >= $2 AND seq < $3 \
             ORDER BY seq"
        );
        let rows: Vec<EventRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(to_i64(from)?)
            .bind(to_i64(to)?)
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter().map(event_of).collect()
    }

    async fn search_events(
        &mut self,
        organization_id: OrganizationId,
        window: EventWindow,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let from = window.from.map(micros).transpose()?;
        let to = window.to.map(micros).transpose()?;
        let before = window.before_seq.map(to_i64).transpose()?;
        let rows: Vec<EventRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(concat!(
                "SELECT ",
                event_columns!(),
                " FROM ingested_events WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid());
            if let Some(from) = from {
                query.push(" AND event_time_us >= ").push_bind(from);
            }
            if let Some(to) = to {
                query.push(" AND event_time_us < ").push_bind(to);
            }
            if let Some(before) = before {
                query.push(" AND seq < ").push_bind(before);
            }
            query.push(" ORDER BY seq DESC LIMIT ").push_bind(i64::from(limit));
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(event_of).collect()
    }

    async fn pending_event_detection(
        &mut self,
    ) -> Result<Vec<(OrganizationId, u64, u64)>, StoreError> {
        let sql = "SELECT h.organization_id, COALESCE(c.next_seq, 0), h.size \
                   FROM event_heads h LEFT JOIN event_detection_cursors c \
                   ON c.organization_id = h.organization_id \
                   WHERE h.size > COALESCE(c.next_seq, 0) ORDER BY h.organization_id";
        let rows: Vec<(Uuid, i64, i64)> =
            on_backend!(self.connection(), c => sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        rows.into_iter()
            .map(|(id, next, size)| {
                Ok((
                    OrganizationId::from_uuid(id),
                    to_u64(next, "event cursor")?,
                    to_u64(size, "event head")?,
                ))
            })
            .collect()
    }

    async fn event_backlog(&mut self, organization_id: OrganizationId) -> Result<u64, StoreError> {
        let sql = "SELECT h.size - COALESCE(c.next_seq, 0) \
                   FROM event_heads h LEFT JOIN event_detection_cursors c \
                   ON c.organization_id = h.organization_id WHERE h.organization_id = $1";
        let row: Option<(i64,)> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        row.map_or(Ok(0), |(backlog,)| to_u64(backlog.max(0), "event backlog"))
    }

    async fn advance_event_detection_cursor(
        &mut self,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO event_detection_cursors (organization_id, next_seq) \
                   VALUES ($1, $3) \
                   ON CONFLICT (organization_id) DO UPDATE SET next_seq = excluded.next_seq \
                   WHERE event_detection_cursors.next_seq = $2";
        let (from, to) = (to_i64(from)?, to_i64(to)?);
        let changed = on_backend!(self.connection(), c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(from)
            .bind(to)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(changed == 1)
    }

    async fn count_events_received_before(
        &mut self,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<(OrganizationId, u64)>, StoreError> {
        let sql = "SELECT organization_id, COUNT(*) FROM ingested_events \
                   WHERE received_us < $1 GROUP BY organization_id ORDER BY organization_id";
        let rows: Vec<(Uuid, i64)> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(micros(cutoff)?)
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter()
            .map(|(id, n)| Ok((OrganizationId::from_uuid(id), to_u64(n, "event count")?)))
            .collect()
    }

    async fn purge_events_received_before(
        &mut self,
        organization_id: OrganizationId,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM ingested_events WHERE organization_id = $1 AND received_us < $2";
        let cutoff = micros(cutoff)?;
        let deleted = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(cutoff)
            .execute(&mut *c)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(deleted)
    }
}
