//! Detection over the audit log: the cursor of each organisation's trail (how far the rules
//! have evaluated it) and the alerts they raised, with their triage state.
//!
//! Deduplication windows, state transitions and what an alert may hold are the application
//! layer's; this module stores what it is given and reads it back.

use base::OrganizationId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// Alerts, or keys of alerts, given to one statement by the calls that take many: well under
/// the smallest parameter limit of the backends (SQLite's 32,766) at six parameters each.
const ALERTS_PER_STATEMENT: usize = 1_000;

/// Where an alert is in its triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertState {
    New,
    Acknowledged,
    Closed,
}

impl AlertState {
    pub const ALL: [Self; 3] = [Self::New, Self::Acknowledged, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Acknowledged => "acknowledged",
            Self::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.as_str() == text)
    }
}

/// How a closed alert was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertResolution {
    TruePositive,
    FalsePositive,
    Benign,
}

impl AlertResolution {
    pub const ALL: [Self; 3] = [Self::TruePositive, Self::FalsePositive, Self::Benign];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TruePositive => "true_positive",
            Self::FalsePositive => "false_positive",
            Self::Benign => "benign",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.as_str() == text)
    }
}

/// One stored alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub rule_id: String,
    pub title: String,
    pub level: String,
    pub tags: Vec<String>,
    pub author: String,
    /// The correlation group (`user.uid=…`), empty for single-event rules.
    pub group_key: String,
    /// Audit entry references (`organization:index`), the first ones counted.
    pub event_refs: Vec<String>,
    /// The non-personal fields of the latest event.
    pub summary: serde_json::Map<String, serde_json::Value>,
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub count: u64,
    pub state: AlertState,
    pub resolution: Option<AlertResolution>,
    pub assignee: Option<String>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<OffsetDateTime>,
    pub closed_by: Option<String>,
    pub closed_at: Option<OffsetDateTime>,
    pub comment: String,
}

/// What a detection pass reads of an open alert to count detections into it, and writes
/// back with [`DetectionRepository::count_into_alerts`]. The rest (title, tags, summary,
/// triage) a pass neither needs nor changes, and is not read.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAlert {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub rule_id: String,
    pub group_key: String,
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub count: u64,
    pub event_refs: Vec<String>,
}

impl From<&AlertRecord> for OpenAlert {
    fn from(alert: &AlertRecord) -> Self {
        Self {
            id: alert.id,
            organization_id: alert.organization_id,
            rule_id: alert.rule_id.clone(),
            group_key: alert.group_key.clone(),
            first_seen: alert.first_seen,
            last_seen: alert.last_seen,
            count: alert.count,
            event_refs: alert.event_refs.clone(),
        }
    }
}

/// Which open alerts of a rule and group [`DetectionRepository::open_alerts_of`] reads: those
/// first seen from `first_seen_from` to `first_seen_to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenAlertsWanted<'a> {
    pub rule_id: &'a str,
    pub group_key: &'a str,
    pub first_seen_from: OffsetDateTime,
    pub first_seen_to: OffsetDateTime,
}

/// Detections a pass counted into an open alert: its new last sighting and references (in
/// `alert`), how many were `added`, and the summary of the latest.
#[derive(Debug, Clone)]
pub struct AlertCount<'a> {
    pub alert: &'a OpenAlert,
    pub added: u64,
    pub summary: serde_json::Map<String, serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct OpenAlertRow {
    id: Uuid,
    organization_id: Uuid,
    rule_id: String,
    group_key: String,
    event_refs: String,
    first_seen: OffsetDateTime,
    last_seen: OffsetDateTime,
    count: i64,
}

fn open_alert_of(row: OpenAlertRow) -> Result<OpenAlert, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("alert {}: invalid {what}", row.id));
    Ok(OpenAlert {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        event_refs: serde_json::from_str(&row.event_refs).map_err(|_| corrupt("event refs"))?,
        count: u64::try_from(row.count).map_err(|_| corrupt("count"))?,
        rule_id: row.rule_id,
        group_key: row.group_key,
        first_seen: row.first_seen,
        last_seen: row.last_seen,
    })
}

#[derive(sqlx::FromRow)]
struct AlertRow {
    id: Uuid,
    organization_id: Uuid,
    rule_id: String,
    title: String,
    level: String,
    tags: String,
    author: String,
    group_key: String,
    event_refs: String,
    summary: String,
    first_seen: OffsetDateTime,
    last_seen: OffsetDateTime,
    count: i64,
    state: String,
    resolution: Option<String>,
    assignee: Option<String>,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<OffsetDateTime>,
    closed_by: Option<String>,
    closed_at: Option<OffsetDateTime>,
    comment: String,
}

macro_rules! alert_columns {
    () => {
        "id, organization_id, rule_id, title, level, tags, author, group_key, event_refs, \
         summary, first_seen, last_seen, count, state, resolution, assignee, acknowledged_by, \
         acknowledged_at, closed_by, closed_at, comment"
    };
}

fn alert_of(row: AlertRow) -> Result<AlertRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("alert {}: invalid {what}", row.id));
    Ok(AlertRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        tags: serde_json::from_str(&row.tags).map_err(|_| corrupt("tags"))?,
        event_refs: serde_json::from_str(&row.event_refs).map_err(|_| corrupt("event refs"))?,
        summary: serde_json::from_str(&row.summary).map_err(|_| corrupt("summary"))?,
        count: u64::try_from(row.count).map_err(|_| corrupt("count"))?,
        state: AlertState::parse(&row.state).ok_or_else(|| corrupt("state"))?,
        resolution: match &row.resolution {
            Some(text) => Some(AlertResolution::parse(text).ok_or_else(|| corrupt("resolution"))?),
            None => None,
        },
        rule_id: row.rule_id,
        title: row.title,
        level: row.level,
        author: row.author,
        group_key: row.group_key,
        first_seen: row.first_seen,
        last_seen: row.last_seen,
        assignee: row.assignee,
        acknowledged_by: row.acknowledged_by,
        acknowledged_at: row.acknowledged_at,
        closed_by: row.closed_by,
        closed_at: row.closed_at,
        comment: row.comment,
    })
}

fn json_text(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(format!("alert: {error}")))
}

fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{value} is out of range")))
}

/// Storage of detection cursors and alerts.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait DetectionRepository {
    /// Organisations whose audit trail has entries the rules have not evaluated yet: the
    /// organisation, the next index to evaluate and the trail's size.
    async fn pending_detection(&mut self) -> Result<Vec<(OrganizationId, u64, u64)>, StoreError>;
    /// Bookkeeping: the rules have evaluated the organisation's entries below `next_index`.
    /// Move the organisation's cursor from `from` to `to`; false (and nothing changed) when
    /// it is no longer at `from`: another pass evaluated those entries first.
    async fn advance_detection_cursor(
        &mut self,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
    ) -> Result<bool, StoreError>;
    /// Count `added` more detections into each alert, with its latest sighting, summary and
    /// references; its state, assignee and comment are left as they are. Returns how many
    /// alerts were found (an alert that does not exist is not created).
    async fn count_into_alerts(&mut self, counts: &[AlertCount<'_>]) -> Result<u64, StoreError>;
    async fn insert_alert(&mut self, alert: &AlertRecord) -> Result<(), StoreError>;
    /// Replace an alert's mutable fields (everything but its id, organisation, rule and
    /// first sighting); false when it does not exist.
    async fn update_alert(&mut self, alert: &AlertRecord) -> Result<bool, StoreError>;
    async fn get_alert(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<AlertRecord>, StoreError>;
    /// For each rule and group `wanted`, its newest `limit` alerts first seen in the wanted
    /// span that are not closed; by rule and group, newest first within each.
    async fn open_alerts_of(
        &mut self,
        organization_id: OrganizationId,
        wanted: &[OpenAlertsWanted<'_>],
        limit: u32,
    ) -> Result<Vec<OpenAlert>, StoreError>;
    /// The newest alert of a rule and group that is not closed.
    async fn open_alert_for(
        &mut self,
        organization_id: OrganizationId,
        rule_id: &str,
        group_key: &str,
    ) -> Result<Option<OpenAlert>, StoreError>;
    /// An organisation's alerts, newest first, optionally in one state.
    async fn list_alerts(
        &mut self,
        organization_id: OrganizationId,
        state: Option<AlertState>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError>;
}

impl DetectionRepository for Transaction {
    async fn pending_detection(&mut self) -> Result<Vec<(OrganizationId, u64, u64)>, StoreError> {
        let sql = "SELECT h.organization_id, COALESCE(c.next_index, 0), h.size \
                   FROM audit_heads h LEFT JOIN detection_cursors c \
                   ON c.organization_id = h.organization_id \
                   WHERE h.size > COALESCE(c.next_index, 0) ORDER BY h.organization_id";
        let rows: Vec<(Uuid, i64, i64)> =
            on_backend!(self.connection(), c => sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        rows.into_iter()
            .map(|(id, next, size)| {
                let next = u64::try_from(next)
                    .map_err(|_| StoreError::Corrupt(format!("detection cursor {next}")))?;
                let size = u64::try_from(size)
                    .map_err(|_| StoreError::Corrupt(format!("audit size {size}")))?;
                Ok((OrganizationId::from_uuid(id), next, size))
            })
            .collect()
    }

    async fn advance_detection_cursor(
        &mut self,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO detection_cursors (organization_id, next_index) VALUES ($1, $3) \
                   ON CONFLICT (organization_id) DO UPDATE SET next_index = excluded.next_index \
                   WHERE detection_cursors.next_index = $2";
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

    async fn count_into_alerts(&mut self, counts: &[AlertCount<'_>]) -> Result<u64, StoreError> {
        // Values first, so that an encoding error leaves the transaction untouched.
        let rows = counts
            .iter()
            .map(|count| {
                Ok((
                    count.alert.id,
                    count.alert.organization_id.as_uuid(),
                    to_i64(count.added)?,
                    count.alert.last_seen,
                    json_text(&count.summary)?,
                    json_text(&count.alert.event_refs)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut changed = 0;
        for chunk in rows.chunks(ALERTS_PER_STATEMENT) {
            changed += on_backend!(self.change()?, c => {
                let mut query = sqlx::QueryBuilder::new(
                    "UPDATE alerts SET count = alerts.count + counted.column3, \
                     last_seen = counted.column4, summary = counted.column5, \
                     event_refs = counted.column6 FROM (",
                );
                query.push_values(chunk, |mut row, (id, organization, added, at, summary, refs)| {
                    row.push_bind(id)
                        .push_bind(organization)
                        .push_bind(added)
                        .push_bind(at)
                        .push_bind(summary.as_str())
                        .push_bind(refs.as_str());
                });
                query.push(
                    ") AS counted WHERE alerts.id = counted.column1 \
                     AND alerts.organization_id = counted.column2",
                );
                // The text varies with the number of rows: not kept in the statement cache,
                // where it would push out the statements every request reuses.
                query
                    .build()
                    .persistent(false)
                    .execute(&mut *c)
                    .await
                    .map(|done| done.rows_affected())
            })?;
        }
        Ok(changed)
    }

    async fn insert_alert(&mut self, alert: &AlertRecord) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO alerts (",
            alert_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21)"
        );
        let tags = json_text(&alert.tags)?;
        let event_refs = json_text(&alert.event_refs)?;
        let summary = json_text(&alert.summary)?;
        let count = to_i64(alert.count)?;
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(alert.id)
            .bind(alert.organization_id.as_uuid())
            .bind(&alert.rule_id)
            .bind(&alert.title)
            .bind(&alert.level)
            .bind(&tags)
            .bind(&alert.author)
            .bind(&alert.group_key)
            .bind(&event_refs)
            .bind(&summary)
            .bind(alert.first_seen)
            .bind(alert.last_seen)
            .bind(count)
            .bind(alert.state.as_str())
            .bind(alert.resolution.map(AlertResolution::as_str))
            .bind(&alert.assignee)
            .bind(&alert.acknowledged_by)
            .bind(alert.acknowledged_at)
            .bind(&alert.closed_by)
            .bind(alert.closed_at)
            .bind(&alert.comment)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn update_alert(&mut self, alert: &AlertRecord) -> Result<bool, StoreError> {
        let sql = "UPDATE alerts SET title = $3, level = $4, tags = $5, author = $6, \
                   event_refs = $7, summary = $8, last_seen = $9, count = $10, state = $11, \
                   resolution = $12, assignee = $13, acknowledged_by = $14, \
                   acknowledged_at = $15, closed_by = $16, closed_at = $17, comment = $18 \
                   WHERE id = $1 AND organization_id = $2";
        let tags = json_text(&alert.tags)?;
        let event_refs = json_text(&alert.event_refs)?;
        let summary = json_text(&alert.summary)?;
        let count = to_i64(alert.count)?;
        let result = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(alert.id)
            .bind(alert.organization_id.as_uuid())
            .bind(&alert.title)
            .bind(&alert.level)
            .bind(&tags)
            .bind(&alert.author)
            .bind(&event_refs)
            .bind(&summary)
            .bind(alert.last_seen)
            .bind(count)
            .bind(alert.state.as_str())
            .bind(alert.resolution.map(AlertResolution::as_str))
            .bind(&alert.assignee)
            .bind(&alert.acknowledged_by)
            .bind(alert.acknowledged_at)
            .bind(&alert.closed_by)
            .bind(alert.closed_at)
            .bind(&alert.comment)
            .execute(&mut *c)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(result > 0)
    }

    async fn get_alert(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<AlertRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE id = $1 AND organization_id = $2"
        );
        let row: Option<AlertRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(id)
            .bind(organization_id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        row.map(alert_of).transpose()
    }

    async fn open_alerts_of(
        &mut self,
        organization_id: OrganizationId,
        wanted: &[OpenAlertsWanted<'_>],
        limit: u32,
    ) -> Result<Vec<OpenAlert>, StoreError> {
        let mut alerts = Vec::new();
        for chunk in wanted.chunks(ALERTS_PER_STATEMENT) {
            let rows: Vec<OpenAlertRow> = on_backend!(self.connection(), c => {
                // Each wanted key reads only its newest open alerts, down the index on
                // (organisation, rule, group, first seen, id), and stops at the limit. (Ranking
                // every open alert of the keys with a window function read them all: a rule
                // with a thousand alerts cost every pass that touched it a thousand rows, and
                // past a few hundred keys SQLite chose to scan the organisation's alerts.)
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT id, organization_id, rule_id, group_key, event_refs, first_seen, \
                     last_seen, count FROM (",
                );
                query.push_values(chunk, |mut row, wanted| {
                    row.push_bind(wanted.rule_id)
                        .push_bind(wanted.group_key)
                        .push_bind(wanted.first_seen_from)
                        .push_bind(wanted.first_seen_to);
                });
                query.push(
                    ") AS wanted JOIN alerts ON alerts.id IN (SELECT newest.id FROM alerts AS \
                     newest WHERE newest.organization_id = ",
                );
                query.push_bind(organization_id.as_uuid());
                query.push(
                    " AND newest.rule_id = wanted.column1 AND newest.group_key = wanted.column2 \
                     AND newest.first_seen >= wanted.column3 \
                     AND newest.first_seen <= wanted.column4 AND newest.state <> 'closed' \
                     ORDER BY newest.first_seen DESC, newest.id DESC LIMIT ",
                );
                query.push_bind(i64::from(limit));
                query.push(") ORDER BY rule_id, group_key, first_seen DESC, id DESC");
                // Not cached, as its text varies with the number of keys (see above).
                query.build_query_as().persistent(false).fetch_all(&mut *c).await
            })?;
            for row in rows {
                alerts.push(open_alert_of(row)?);
            }
        }
        Ok(alerts)
    }

    async fn open_alert_for(
        &mut self,
        organization_id: OrganizationId,
        rule_id: &str,
        group_key: &str,
    ) -> Result<Option<OpenAlert>, StoreError> {
        let wanted = OpenAlertsWanted {
            rule_id,
            group_key,
            first_seen_from: time::macros::datetime!(0001-01-01 0:00 UTC),
            first_seen_to: time::macros::datetime!(9999-12-31 23:59:59 UTC),
        };
        Ok(self.open_alerts_of(organization_id, &[wanted], 1).await?.pop())
    }

    async fn list_alerts(
        &mut self,
        organization_id: OrganizationId,
        state: Option<AlertState>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let rows: Vec<AlertRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(concat!(
                "SELECT ",
                alert_columns!(),
                " FROM alerts WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid());
            if let Some(state) = state {
                query.push(" AND state = ").push_bind(state.as_str());
            }
            query
                .push(" ORDER BY first_seen DESC, id DESC LIMIT CAST(")
                .push_bind(i64::from(limit))
                .push(" AS BIGINT)");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(alert_of).collect()
    }
}
