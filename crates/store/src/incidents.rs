//! Incident response: the security team's cases and their timelines, the reports received
//! from the public, and the delivery log of alert notifications.
//!
//! A case is stored with the columns queries need (severity, status, the Article 33 awareness
//! and notification times) and the rest of it as a JSON document the application validates.
//! Timeline entries are only ever appended. A public report's reference is stored only as its
//! SHA-256 hash.

use base::OrganizationId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{RetentionTrigger, StoreError, Transaction};

/// One stored incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub title: String,
    /// `SEV1` to `SEV4`.
    pub severity: String,
    /// `detected`, `analysing`, `contained`, `eradicated`, `recovered` or `closed`.
    pub status: String,
    pub breach_aware_at: Option<OffsetDateTime>,
    pub authority_notified_at: Option<OffsetDateTime>,
    /// The rest of the case, as JSON.
    pub document: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineRecord {
    pub id: Uuid,
    pub incident_id: Uuid,
    pub at: OffsetDateTime,
    /// Who made the change (`user:…`, `api_key:…`, `system`).
    pub actor: String,
    /// What kind of change (`status`, `task.add`, …).
    pub kind: String,
    /// What changed, as a JSON object.
    pub detail: String,
}

/// One report received from the public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicReportRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub reference_hash: Vec<u8>,
    pub received_at: OffsetDateTime,
    pub subject: String,
    pub body: String,
    pub contact: String,
    /// `new`, `dismissed` or `opened`.
    pub state: String,
    pub incident_id: Option<Uuid>,
    pub triaged_by: Option<String>,
    pub triaged_at: Option<OffsetDateTime>,
    pub note: String,
}

/// One notification of an alert, delivered or given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub alert_id: Uuid,
    /// `webhook` or `email`.
    pub channel: String,
    /// The URL's host or the mail recipient.
    pub target: String,
    pub attempts: u32,
    pub delivered: bool,
    pub last_error: String,
    pub at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct IncidentRow {
    id: Uuid,
    organization_id: Uuid,
    title: String,
    severity: String,
    status: String,
    breach_aware_at: Option<OffsetDateTime>,
    authority_notified_at: Option<OffsetDateTime>,
    document: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

macro_rules! incident_columns {
    () => {
        "id, organization_id, title, severity, status, breach_aware_at, authority_notified_at, \
         document, created_at, updated_at"
    };
}

fn incident_of(row: IncidentRow) -> IncidentRecord {
    IncidentRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        title: row.title,
        severity: row.severity,
        status: row.status,
        breach_aware_at: row.breach_aware_at,
        authority_notified_at: row.authority_notified_at,
        document: row.document,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

#[derive(sqlx::FromRow)]
struct TimelineRow {
    id: Uuid,
    incident_id: Uuid,
    at: OffsetDateTime,
    actor: String,
    kind: String,
    detail: String,
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    id: Uuid,
    organization_id: Uuid,
    reference_hash: Vec<u8>,
    received_at: OffsetDateTime,
    subject: String,
    body: String,
    contact: String,
    state: String,
    incident_id: Option<Uuid>,
    triaged_by: Option<String>,
    triaged_at: Option<OffsetDateTime>,
    note: String,
}

macro_rules! report_columns {
    () => {
        "id, organization_id, reference_hash, received_at, subject, body, contact, state, \
         incident_id, triaged_by, triaged_at, note"
    };
}

fn report_of(row: ReportRow) -> PublicReportRecord {
    PublicReportRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        reference_hash: row.reference_hash,
        received_at: row.received_at,
        subject: row.subject,
        body: row.body,
        contact: row.contact,
        state: row.state,
        incident_id: row.incident_id,
        triaged_by: row.triaged_by,
        triaged_at: row.triaged_at,
        note: row.note,
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    organization_id: Uuid,
    alert_id: Uuid,
    channel: String,
    target: String,
    attempts: i64,
    delivered: bool,
    last_error: String,
    at: OffsetDateTime,
}

/// Storage of incidents, public reports and notification deliveries.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait IncidentRepository {
    async fn insert_incident(&mut self, incident: &IncidentRecord) -> Result<(), StoreError>;
    /// Replace everything but the id, organisation and creation time; false when absent.
    async fn update_incident(&mut self, incident: &IncidentRecord) -> Result<bool, StoreError>;
    async fn get_incident(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<IncidentRecord>, StoreError>;
    /// An organisation's incidents, newest first, optionally in one status.
    async fn list_incidents(
        &mut self,
        organization_id: OrganizationId,
        status: Option<&str>,
        limit: u32,
    ) -> Result<Vec<IncidentRecord>, StoreError>;
    /// Every incident whose Article 33 clock runs: a breach established, the authority not
    /// yet notified, the case not closed; oldest awareness first.
    async fn incidents_with_running_clock(&mut self) -> Result<Vec<IncidentRecord>, StoreError>;
    /// An organisation's closed incidents whose creation (`Creation`) or last change
    /// (`LastActivity`, for a closed case its closure or a later erasure) is before `cutoff`,
    /// oldest first; none for the other triggers. Retention erases their personal fields.
    async fn closed_incidents_before(
        &mut self,
        organization_id: OrganizationId,
        trigger: RetentionTrigger,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<IncidentRecord>, StoreError>;
    async fn append_timeline(&mut self, entry: &TimelineRecord) -> Result<(), StoreError>;
    /// An incident's timeline in the order it was appended.
    async fn timeline(&mut self, incident_id: Uuid) -> Result<Vec<TimelineRecord>, StoreError>;
    /// Replace the detail of one timeline entry (retention erasing what named people); the
    /// time, actor and kind stay. False when absent.
    async fn replace_timeline_detail(
        &mut self,
        entry_id: Uuid,
        detail: &str,
    ) -> Result<bool, StoreError>;
    async fn insert_public_report(&mut self, report: &PublicReportRecord)
    -> Result<(), StoreError>;
    /// Replace the triage fields (state, incident, who, when, note); false when absent.
    async fn update_public_report(
        &mut self,
        report: &PublicReportRecord,
    ) -> Result<bool, StoreError>;
    async fn get_public_report(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<PublicReportRecord>, StoreError>;
    async fn public_report_by_reference(
        &mut self,
        reference_hash: &[u8],
    ) -> Result<Option<PublicReportRecord>, StoreError>;
    /// An organisation's reports, oldest first (a queue), optionally in one state.
    async fn list_public_reports(
        &mut self,
        organization_id: OrganizationId,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PublicReportRecord>, StoreError>;
    async fn insert_delivery(&mut self, delivery: &DeliveryRecord) -> Result<(), StoreError>;
    /// An organisation's deliveries, newest first.
    async fn list_deliveries(
        &mut self,
        organization_id: OrganizationId,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
}

impl IncidentRepository for Transaction {
    async fn insert_incident(&mut self, incident: &IncidentRecord) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO incidents (",
            incident_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(incident.id)
            .bind(incident.organization_id.as_uuid())
            .bind(&incident.title)
            .bind(&incident.severity)
            .bind(&incident.status)
            .bind(incident.breach_aware_at)
            .bind(incident.authority_notified_at)
            .bind(&incident.document)
            .bind(incident.created_at)
            .bind(incident.updated_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn update_incident(&mut self, incident: &IncidentRecord) -> Result<bool, StoreError> {
        let sql = "UPDATE incidents SET title = $1, severity = $2, status = $3, \
                   breach_aware_at = $4, authority_notified_at = $5, document = $6, \
                   updated_at = $7 WHERE id = $8 AND organization_id = $9";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&incident.title)
            .bind(&incident.severity)
            .bind(&incident.status)
            .bind(incident.breach_aware_at)
            .bind(incident.authority_notified_at)
            .bind(&incident.document)
            .bind(incident.updated_at)
            .bind(incident.id)
            .bind(incident.organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn get_incident(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE id = $1 AND organization_id = $2"
        );
        let row: Option<IncidentRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(id)
            .bind(organization_id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        Ok(row.map(incident_of))
    }

    async fn list_incidents(
        &mut self,
        organization_id: OrganizationId,
        status: Option<&str>,
        limit: u32,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        let rows: Vec<IncidentRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(concat!(
                "SELECT ",
                incident_columns!(),
                " FROM incidents WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid());
            if let Some(status) = status {
                query.push(" AND status = ").push_bind(status.to_owned());
            }
            query
                .push(" ORDER BY created_at DESC, id DESC LIMIT CAST(")
                .push_bind(i64::from(limit))
                .push(" AS BIGINT)");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        Ok(rows.into_iter().map(incident_of).collect())
    }

    async fn incidents_with_running_clock(&mut self) -> Result<Vec<IncidentRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE breach_aware_at IS NOT NULL \
             AND authority_notified_at IS NULL AND status <> 'closed' \
             ORDER BY breach_aware_at, id"
        );
        let rows: Vec<IncidentRow> =
            on_backend!(self.connection(), c => sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(incident_of).collect())
    }

    async fn closed_incidents_before(
        &mut self,
        organization_id: OrganizationId,
        trigger: RetentionTrigger,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        let sql = match trigger {
            RetentionTrigger::Creation => concat!(
                "SELECT ",
                incident_columns!(),
                " FROM incidents WHERE organization_id = $1 AND status = 'closed' \
                 AND created_at < $2 ORDER BY created_at, id"
            ),
            RetentionTrigger::LastActivity => concat!(
                "SELECT ",
                incident_columns!(),
                " FROM incidents WHERE organization_id = $1 AND status = 'closed' \
                 AND updated_at < $2 ORDER BY updated_at, id"
            ),
            RetentionTrigger::EndOfContract | RetentionTrigger::EventDate => return Ok(Vec::new()),
        };
        let rows: Vec<IncidentRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(cutoff)
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows.into_iter().map(incident_of).collect())
    }

    async fn append_timeline(&mut self, entry: &TimelineRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO incident_timeline (id, incident_id, seq, at, actor, kind, detail) \
                   VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_timeline \
                   WHERE incident_id = $2), $3, $4, $5, $6)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(entry.id)
            .bind(entry.incident_id)
            .bind(entry.at)
            .bind(&entry.actor)
            .bind(&entry.kind)
            .bind(&entry.detail)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn timeline(&mut self, incident_id: Uuid) -> Result<Vec<TimelineRecord>, StoreError> {
        let sql = "SELECT id, incident_id, at, actor, kind, detail FROM incident_timeline \
                   WHERE incident_id = $1 ORDER BY seq";
        let rows: Vec<TimelineRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(incident_id)
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|row| TimelineRecord {
                id: row.id,
                incident_id: row.incident_id,
                at: row.at,
                actor: row.actor,
                kind: row.kind,
                detail: row.detail,
            })
            .collect())
    }

    async fn replace_timeline_detail(
        &mut self,
        entry_id: Uuid,
        detail: &str,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE incident_timeline SET detail = $1 WHERE id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(detail)
            .bind(entry_id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn insert_public_report(
        &mut self,
        report: &PublicReportRecord,
    ) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO public_reports (",
            report_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(report.id)
            .bind(report.organization_id.as_uuid())
            .bind(&report.reference_hash)
            .bind(report.received_at)
            .bind(&report.subject)
            .bind(&report.body)
            .bind(&report.contact)
            .bind(&report.state)
            .bind(report.incident_id)
            .bind(&report.triaged_by)
            .bind(report.triaged_at)
            .bind(&report.note)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn update_public_report(
        &mut self,
        report: &PublicReportRecord,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE public_reports SET state = $1, incident_id = $2, triaged_by = $3, \
                   triaged_at = $4, note = $5 WHERE id = $6 AND organization_id = $7";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&report.state)
            .bind(report.incident_id)
            .bind(&report.triaged_by)
            .bind(report.triaged_at)
            .bind(&report.note)
            .bind(report.id)
            .bind(report.organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn get_public_report(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<PublicReportRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            report_columns!(),
            " FROM public_reports WHERE id = $1 AND organization_id = $2"
        );
        let row: Option<ReportRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(id)
            .bind(organization_id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        Ok(row.map(report_of))
    }

    async fn public_report_by_reference(
        &mut self,
        reference_hash: &[u8],
    ) -> Result<Option<PublicReportRecord>, StoreError> {
        let sql =
            concat!("SELECT ", report_columns!(), " FROM public_reports WHERE reference_hash = $1");
        let row: Option<ReportRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(reference_hash)
            .fetch_optional(&mut *c)
            .await)?;
        Ok(row.map(report_of))
    }

    async fn list_public_reports(
        &mut self,
        organization_id: OrganizationId,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PublicReportRecord>, StoreError> {
        let rows: Vec<ReportRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(concat!(
                "SELECT ",
                report_columns!(),
                " FROM public_reports WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid());
            if let Some(state) = state {
                query.push(" AND state = ").push_bind(state.to_owned());
            }
            query
                .push(" ORDER BY received_at, id LIMIT CAST(")
                .push_bind(i64::from(limit))
                .push(" AS BIGINT)");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        Ok(rows.into_iter().map(report_of).collect())
    }

    async fn insert_delivery(&mut self, delivery: &DeliveryRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO notification_deliveries (id, organization_id, alert_id, channel, \
                   target, attempts, delivered, last_error, at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(delivery.id)
            .bind(delivery.organization_id.as_uuid())
            .bind(delivery.alert_id)
            .bind(&delivery.channel)
            .bind(&delivery.target)
            .bind(i64::from(delivery.attempts))
            .bind(delivery.delivered)
            .bind(&delivery.last_error)
            .bind(delivery.at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn list_deliveries(
        &mut self,
        organization_id: OrganizationId,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = "SELECT id, organization_id, alert_id, channel, target, attempts, delivered, \
                   last_error, at FROM notification_deliveries WHERE organization_id = $1 \
                   ORDER BY at DESC, id DESC LIMIT CAST($2 AS BIGINT)";
        let rows: Vec<DeliveryRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter()
            .map(|row| {
                Ok(DeliveryRecord {
                    id: row.id,
                    organization_id: OrganizationId::from_uuid(row.organization_id),
                    alert_id: row.alert_id,
                    channel: row.channel,
                    target: row.target,
                    attempts: u32::try_from(row.attempts).map_err(|_| {
                        StoreError::Corrupt(format!("delivery {}: invalid attempts", row.id))
                    })?,
                    delivered: row.delivered,
                    last_error: row.last_error,
                    at: row.at,
                })
            })
            .collect()
    }
}
