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

/// Batches read per query while searching, newest first.
const SEARCH_BATCHES: i64 = 4;

/// An event to store, borrowed from where the caller keeps it (a batch is copied once, into
/// the stored row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewEvent<'a> {
    /// When it happened.
    pub time: OffsetDateTime,
    pub product: Option<&'a str>,
    pub service: Option<&'a str>,
    pub categories: &'a [String],
    /// The event as received, a JSON object's text.
    pub fields: &'a str,
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
struct BatchRow {
    organization_id: Uuid,
    first_seq: i64,
    end_seq: i64,
    received_us: i64,
    sources: String,
    entries: String,
    /// The events' text, in batches stored before compression; empty when `events_lz4` is set.
    events: String,
    /// The events' text compressed (LZ4 block format, its length first).
    events_lz4: Option<Vec<u8>>,
}

macro_rules! batch_columns {
    () => {
        "organization_id, first_seq, end_seq, received_us, sources, entries, events, events_lz4"
    };
}

/// The logsource of events of a batch, stored once per distinct value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct BatchSource {
    product: Option<String>,
    service: Option<String>,
    categories: Vec<String>,
}

/// A batch's columns as stored: (sources, entries, events compressed, earliest time, latest
/// time).
type EncodedBatch = (String, String, Vec<u8>, i64, i64);

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

/// The columns of a batch of events: the distinct logsources, per event its time, logsource
/// and length, the texts one after the other (each followed by a newline; lengths delimit
/// them), compressed, and the earliest and latest time.
///
/// Compressed because writing the text was most of what storing a batch cost: the events of
/// one source repeat their field names and most of their values, so a batch of logs shrinks
/// several times (five on the SigmaHQ regression records, each one once), and LZ4 compresses
/// at gigabytes a second.
fn encode_batch(events: &[NewEvent<'_>]) -> Result<EncodedBatch, StoreError> {
    let mut sources: Vec<BatchSource> = Vec::new();
    let mut entries = Vec::with_capacity(events.len());
    let mut text = String::with_capacity(events.iter().map(|e| e.fields.len() + 1).sum());
    let (mut earliest, mut latest) = (i64::MAX, i64::MIN);
    for event in events {
        let time = micros(event.time)?;
        earliest = earliest.min(time);
        latest = latest.max(time);
        let source = sources
            .iter()
            .position(|s| {
                s.product.as_deref() == event.product
                    && s.service.as_deref() == event.service
                    && s.categories == event.categories
            })
            .unwrap_or_else(|| {
                sources.push(BatchSource {
                    product: event.product.map(str::to_owned),
                    service: event.service.map(str::to_owned),
                    categories: event.categories.to_vec(),
                });
                sources.len() - 1
            });
        entries.push((time, source, event.fields.len()));
        text.push_str(event.fields);
        text.push('\n');
    }
    let encode = |what: &str, value: Result<String, serde_json::Error>| {
        value.map_err(|error| StoreError::Corrupt(format!("event batch {what}: {error}")))
    };
    let sources = encode("sources", serde_json::to_string(&sources))?;
    let entries = encode("entries", serde_json::to_string(&entries))?;
    let packed = lz4_flex::block::compress_prepend_size(text.as_bytes());
    Ok((sources, entries, packed, earliest, latest))
}

/// The events of a stored batch that `keep` accepts by number and time (Unix µs), in order;
/// only those are copied out.
fn decode_batch(
    row: BatchRow,
    keep: impl Fn(u64, i64) -> bool,
) -> Result<Vec<StoredEvent>, StoreError> {
    let first = to_u64(row.first_seq, "event batch start")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("event batch at {first}: {what}"));
    let sources: Vec<BatchSource> =
        serde_json::from_str(&row.sources).map_err(|_| corrupt("invalid sources"))?;
    let entries: Vec<(i64, usize, usize)> =
        serde_json::from_str(&row.entries).map_err(|_| corrupt("invalid entries"))?;
    if first.checked_add(entries.len() as u64) != Some(to_u64(row.end_seq, "event batch end")?) {
        return Err(corrupt("entries do not match its numbers"));
    }
    let organization_id = OrganizationId::from_uuid(row.organization_id);
    let received_at = from_micros(row.received_us)?;
    let text = match row.events_lz4 {
        None => row.events,
        Some(packed) => {
            // The length the entries give, checked before anything is allocated: a damaged
            // length prefix cannot ask for more memory than the batch holds.
            let length = entries.iter().try_fold(0_usize, |total, (_, _, length)| {
                total.checked_add(*length)?.checked_add(1)
            });
            let (claimed, body) = lz4_flex::block::uncompressed_size(&packed)
                .map_err(|_| corrupt("invalid compressed events"))?;
            if Some(claimed) != length {
                return Err(corrupt("compressed events do not match their entries"));
            }
            let bytes = lz4_flex::block::decompress(body, claimed)
                .ok()
                .filter(|bytes| bytes.len() == claimed)
                .ok_or_else(|| corrupt("invalid compressed events"))?;
            String::from_utf8(bytes).map_err(|_| corrupt("events are not UTF-8"))?
        }
    };
    let mut events = Vec::new();
    let mut at = 0;
    for (seq, (time, source, length)) in (first..).zip(entries) {
        let end = at + length;
        let fields = text
            .get(at..end)
            .filter(|_| text.as_bytes().get(end) == Some(&b'\n'))
            .ok_or_else(|| corrupt("event texts do not match their lengths"))?;
        at = end + 1;
        if !keep(seq, time) {
            continue;
        }
        let source = sources.get(source).ok_or_else(|| corrupt("unknown source"))?;
        events.push(StoredEvent {
            organization_id,
            seq,
            time: from_micros(time)?,
            received_at,
            product: source.product.clone(),
            service: source.service.clone(),
            categories: source.categories.clone(),
            fields: fields.to_owned(),
        });
    }
    Ok(events)
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
        events: &[NewEvent<'_>],
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
        events: &[NewEvent<'_>],
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
        if events.is_empty() {
            return Ok((first, end));
        }
        let (sources, entries, packed, earliest, latest) = encode_batch(events)?;
        let sql = "INSERT INTO event_batches (organization_id, first_seq, end_seq, received_us, \
                   min_time_us, max_time_us, sources, entries, events, events_lz4) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(to_i64(first)?)
            .bind(to_i64(end)?)
            .bind(received_us)
            .bind(earliest)
            .bind(latest)
            .bind(&sources)
            .bind(&entries)
            // By value: a reference would be copied again.
            .bind(packed)
            .execute(&mut *c)
            .await
            .map(drop))?;
        Ok((first, end))
    }

    async fn events_between(
        &mut self,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        // From the batch holding `from` (the last one starting at or before it) on.
        let sql = concat!(
            "SELECT ",
            batch_columns!(),
            " FROM event_batches WHERE organization_id = $1 AND first_seq < $3 AND end_seq > $2 \
             AND first_seq >= COALESCE((SELECT MAX(first_seq) FROM event_batches \
             WHERE organization_id = $1 AND first_seq <= $2), 0) ORDER BY first_seq"
        );
        let rows: Vec<BatchRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(to_i64(from)?)
            .bind(to_i64(to)?)
            .fetch_all(&mut *c)
            .await)?;
        let mut events = Vec::new();
        for row in rows {
            events.extend(decode_batch(row, |seq, _| (from..to).contains(&seq))?);
        }
        Ok(events)
    }

    async fn search_events(
        &mut self,
        organization_id: OrganizationId,
        window: EventWindow,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let from = window.from.map(micros).transpose()?;
        let to = window.to.map(micros).transpose()?;
        let before = window.before_seq.unwrap_or(u64::MAX);
        let wanted = |seq: u64, time: i64| {
            seq < before && from.is_none_or(|from| time >= from) && to.is_none_or(|to| time < to)
        };
        let mut below = window.before_seq.map_or(Ok(i64::MAX), to_i64)?;
        let mut found = Vec::new();
        while found.len() < limit as usize {
            let rows: Vec<BatchRow> = on_backend!(self.connection(), c => {
                let mut query = sqlx::QueryBuilder::new(concat!(
                    "SELECT ",
                    batch_columns!(),
                    " FROM event_batches WHERE organization_id = "
                ));
                query.push_bind(organization_id.as_uuid());
                query.push(" AND first_seq < ").push_bind(below);
                if let Some(from) = from {
                    query.push(" AND max_time_us >= ").push_bind(from);
                }
                if let Some(to) = to {
                    query.push(" AND min_time_us < ").push_bind(to);
                }
                query
                    .push(" ORDER BY first_seq DESC LIMIT CAST(")
                    .push_bind(SEARCH_BATCHES)
                    .push(" AS BIGINT)");
                query.build_query_as().fetch_all(&mut *c).await
            })?;
            let exhausted = rows.len() < SEARCH_BATCHES as usize;
            for row in rows {
                below = row.first_seq;
                let newest_first = decode_batch(row, wanted)?.into_iter().rev();
                found.extend(newest_first.take(limit as usize - found.len()));
                if found.len() == limit as usize {
                    break;
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(found)
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
        let sql = "SELECT organization_id, CAST(SUM(end_seq - first_seq) AS BIGINT) \
                   FROM event_batches WHERE received_us < $1 \
                   GROUP BY organization_id ORDER BY organization_id";
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
        let sql = "DELETE FROM event_batches WHERE organization_id = $1 AND received_us < $2 \
                   RETURNING end_seq - first_seq";
        let cutoff = micros(cutoff)?;
        let deleted: Vec<(i64,)> = on_backend!(self.change()?, c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(cutoff)
            .fetch_all(&mut *c)
            .await)?;
        deleted.into_iter().try_fold(0, |total, (n,)| Ok(total + to_u64(n, "event batch size")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_772_355_600_000_000;

    fn row_of(first: i64, received_us: i64, events: &[NewEvent<'_>]) -> BatchRow {
        let (sources, entries, packed, _, _) = encode_batch(events).unwrap();
        BatchRow {
            organization_id: Uuid::from_bytes([7; 16]),
            first_seq: first,
            end_seq: first + i64::try_from(events.len()).unwrap(),
            received_us,
            sources,
            entries,
            events: String::new(),
            events_lz4: Some(packed),
        }
    }

    /// The row as batches stored before compression hold it: the text as it is.
    fn uncompressed(mut row: BatchRow) -> BatchRow {
        let packed = row.events_lz4.take().unwrap();
        let text = lz4_flex::block::decompress_size_prepended(&packed).unwrap();
        row.events = String::from_utf8(text).unwrap();
        row
    }

    static CATEGORIES: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| vec!["process_creation".into()]);

    fn new_event<'a>(minute: i64, product: Option<&'a str>, fields: &'a str) -> NewEvent<'a> {
        NewEvent {
            time: from_micros(T0 + minute * 60_000_000).unwrap(),
            product,
            service: Some("sysmon"),
            categories: &CATEGORIES,
            fields,
        }
    }

    #[test]
    fn a_batch_reads_back_each_event_with_its_own_time_and_source() {
        let events = [
            new_event(2, Some("windows"), r#"{"a":"é"}"#),
            new_event(1, None, r#"{"b":2}"#),
            new_event(3, Some("windows"), r#"{"c":"x\ny"}"#),
        ];
        let (sources, _, _, earliest, latest) = encode_batch(&events).unwrap();
        assert_eq!(sources.matches("categories").count(), 2, "distinct sources once: {sources}");
        assert_eq!((earliest, latest), (T0 + 60_000_000, T0 + 180_000_000));
        let read = decode_batch(row_of(10, T0, &events), |_, _| true).unwrap();
        assert_eq!(read.iter().map(|e| e.seq).collect::<Vec<_>>(), [10, 11, 12]);
        for (stored, sent) in read.iter().zip(&events) {
            assert_eq!(stored.fields, sent.fields);
            assert_eq!(stored.time, sent.time);
            assert_eq!(stored.product.as_deref(), sent.product);
            assert_eq!(stored.categories, sent.categories);
            assert_eq!(stored.received_at, from_micros(T0).unwrap());
        }
        let middle = decode_batch(row_of(10, T0, &events), |seq, _| seq == 11).unwrap();
        assert_eq!(middle.iter().map(|e| e.seq).collect::<Vec<_>>(), [11]);
        let stored_before = decode_batch(uncompressed(row_of(10, T0, &events)), |_, _| true);
        assert_eq!(stored_before.unwrap(), read, "a batch stored uncompressed reads the same");
    }

    #[test]
    fn a_batch_of_logs_is_stored_several_times_smaller() {
        let line = |n: usize| {
            format!(
                r#"{{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\Windows\System32\svchost.exe","ProcessId":{n},"User":"NT AUTHORITY\SYSTEM"}}"#
            )
        };
        let lines: Vec<String> = (0..200).map(line).collect();
        let events: Vec<NewEvent<'_>> = lines.iter().map(|l| new_event(0, None, l)).collect();
        let (_, _, packed, _, _) = encode_batch(&events).unwrap();
        let text: usize = lines.iter().map(|l| l.len() + 1).sum();
        assert!(packed.len() * 5 < text, "{} bytes for {text} of text", packed.len());
    }

    #[test]
    fn a_damaged_batch_is_reported_not_misread() {
        let events = [new_event(0, None, r#"{"a":1}"#), new_event(1, None, r#"{"b":2}"#)];
        let mut shifted = uncompressed(row_of(0, T0, &events));
        shifted.events.insert(0, ' ');
        let mut short = row_of(0, T0, &events);
        short.end_seq = 3;
        let mut sourceless = row_of(0, T0, &events);
        sourceless.sources = "[]".into();
        // The compressed text: a length that is not the entries', a truncated body, and a
        // body that does not decompress.
        let mut longer = row_of(0, T0, &events);
        longer.events_lz4.as_mut().unwrap()[0] += 1;
        let mut truncated = row_of(0, T0, &events);
        truncated.events_lz4.as_mut().unwrap().truncate(8);
        let mut garbled = row_of(0, T0, &events);
        garbled.events_lz4.as_mut().unwrap()[4..].fill(0xff);
        let mut mislabelled = row_of(0, T0, &events);
        mislabelled.entries = "[[0,0,9],[0,0,7]]".into();
        for row in [shifted, short, sourceless, longer, truncated, garbled, mislabelled] {
            let error = decode_batch(row, |_, _| true).unwrap_err();
            assert!(matches!(error, StoreError::Corrupt(_)), "{error}");
        }
    }

    /// The migration that moved events into batches turns each stored event into a batch
    /// of one that reads back as the event was.
    #[test]
    fn events_stored_one_per_row_become_batches_of_one() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(include_str!("../migrations/sqlite/0016_event_intake.sql")).unwrap();
        let organization = Uuid::from_bytes([7; 16]);
        let insert = "INSERT INTO ingested_events (organization_id, seq, event_time_us, \
                      received_us, product, service, categories, fields) \
                      VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7)";
        let rows = [
            (0_i64, Some("linux"), r#"["process_creation"]"#, r#"{"m":"ça"}"#),
            (1, None, "[]", r#"{"n":1}"#),
        ];
        for (seq, product, categories, fields) in rows {
            let time = T0 + seq;
            let values = rusqlite::params![
                organization.as_bytes().as_slice(),
                seq,
                time,
                T0,
                product,
                categories,
                fields
            ];
            db.execute(insert, values).unwrap();
        }
        db.execute_batch(include_str!("../migrations/sqlite/0024_event_batches.sql")).unwrap();
        db.execute_batch(include_str!("../migrations/sqlite/0026_event_batch_compression.sql"))
            .unwrap();
        let mut read = db
            .prepare(concat!("SELECT ", batch_columns!(), " FROM event_batches ORDER BY first_seq"))
            .unwrap();
        let batches: Vec<BatchRow> = read
            .query_map([], |row| {
                Ok(BatchRow {
                    organization_id: Uuid::from_slice(&row.get::<_, Vec<u8>>(0)?).unwrap(),
                    first_seq: row.get(1)?,
                    end_seq: row.get(2)?,
                    received_us: row.get(3)?,
                    sources: row.get(4)?,
                    entries: row.get(5)?,
                    events: row.get(6)?,
                    events_lz4: row.get(7)?,
                })
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(batches.len(), 2);
        for (batch, (seq, product, categories, fields)) in batches.into_iter().zip(rows) {
            let events = decode_batch(batch, |_, _| true).unwrap();
            let [event] = events.as_slice() else { panic!("{events:?}") };
            assert_eq!(event.seq, u64::try_from(seq).unwrap());
            assert_eq!(event.fields, fields);
            assert_eq!(event.time, from_micros(T0 + seq).unwrap());
            assert_eq!(event.product.as_deref(), product);
            assert_eq!(event.service, None);
            let categories: Vec<String> = serde_json::from_str(categories).unwrap();
            assert_eq!(event.categories, categories);
        }
    }
}
