//! Notifications of alerts: each organisation's channels, and the queue of notifications
//! waiting to be delivered.
//!
//! A channel's webhook secret is stored only sealed (the application seals it). The queue is
//! what makes delivery survive a restart: a notification is queued in the transaction that
//! raises its alert and leaves the queue only in the transaction that records its delivery
//! (or that it was given up). Claiming and rescheduling a queued notification is bookkeeping,
//! like the detection cursors: it changes no state anyone audits.

use base::OrganizationId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// One notification channel of an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationChannelRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub name: String,
    /// `webhook` or `email`.
    pub kind: String,
    /// The webhook URL; empty for email.
    pub url: String,
    /// The email addresses; empty for a webhook.
    pub recipients: Vec<String>,
    /// `low`, `medium`, `high` or `critical`: alerts below it are not sent.
    pub min_level: String,
    pub enabled: bool,
    /// The webhook signing secret sealed under the master key; empty for email.
    pub sealed_secret: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One notification waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedNotificationRecord {
    /// The delivery id: the same on every attempt, and in the delivery log.
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub alert_id: Uuid,
    pub channel_id: Uuid,
    /// `webhook` or `email`.
    pub channel: String,
    /// The webhook's host or the mail recipient.
    pub target: String,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: String,
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: Uuid,
    organization_id: Uuid,
    name: String,
    kind: String,
    url: String,
    recipients: String,
    min_level: String,
    enabled: bool,
    sealed_secret: Vec<u8>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

macro_rules! channel_columns {
    () => {
        "id, organization_id, name, kind, url, recipients, min_level, enabled, sealed_secret, \
         created_at, updated_at"
    };
}

fn channel_of(row: ChannelRow) -> Result<NotificationChannelRecord, StoreError> {
    let recipients = serde_json::from_str(&row.recipients).map_err(|error| {
        StoreError::Corrupt(format!("notification channel {}: recipients: {error}", row.id))
    })?;
    Ok(NotificationChannelRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        name: row.name,
        kind: row.kind,
        url: row.url,
        recipients,
        min_level: row.min_level,
        enabled: row.enabled,
        sealed_secret: row.sealed_secret,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[derive(sqlx::FromRow)]
struct QueueRow {
    id: Uuid,
    organization_id: Uuid,
    alert_id: Uuid,
    channel_id: Uuid,
    channel: String,
    target: String,
    attempts: i64,
    next_attempt_at: OffsetDateTime,
    last_error: String,
    created_at: OffsetDateTime,
}

macro_rules! queue_columns {
    () => {
        "id, organization_id, alert_id, channel_id, channel, target, attempts, next_attempt_at, \
         last_error, created_at"
    };
}

fn queued_of(row: QueueRow) -> Result<QueuedNotificationRecord, StoreError> {
    Ok(QueuedNotificationRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        alert_id: row.alert_id,
        channel_id: row.channel_id,
        channel: row.channel,
        target: row.target,
        attempts: u32::try_from(row.attempts).map_err(|_| {
            StoreError::Corrupt(format!("queued notification {}: invalid attempts", row.id))
        })?,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        created_at: row.created_at,
    })
}

fn recipients_text(recipients: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(recipients)
        .map_err(|error| StoreError::Corrupt(format!("recipients: {error}")))
}

/// Storage of notification channels and of the notification queue.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait NotificationRepository {
    async fn insert_notification_channel(
        &mut self,
        channel: &NotificationChannelRecord,
    ) -> Result<(), StoreError>;
    /// Replace the name, URL, recipients, minimum level, enabled flag and update time (never
    /// the secret); false when absent.
    async fn update_notification_channel(
        &mut self,
        channel: &NotificationChannelRecord,
    ) -> Result<bool, StoreError>;
    /// False when absent.
    async fn delete_notification_channel(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError>;
    async fn get_notification_channel(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<NotificationChannelRecord>, StoreError>;
    /// An organisation's channels, oldest first.
    async fn list_notification_channels(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<NotificationChannelRecord>, StoreError>;
    /// Queue a notification (in the transaction that raised its alert).
    async fn queue_notification(
        &mut self,
        notification: &QueuedNotificationRecord,
    ) -> Result<(), StoreError>;
    /// Queued notifications due at `now`, the earliest first.
    async fn due_notifications(
        &mut self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<QueuedNotificationRecord>, StoreError>;
    /// Bookkeeping: take a due notification for an attempt by moving its next attempt to
    /// `until`, provided nobody else did since it was read (its next attempt is still
    /// `expected`); true when taken.
    async fn claim_notification(
        &mut self,
        id: Uuid,
        expected: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Bookkeeping: record a failed attempt and when to try again.
    async fn reschedule_notification(
        &mut self,
        id: Uuid,
        attempts: u32,
        next_attempt_at: OffsetDateTime,
        last_error: &str,
    ) -> Result<(), StoreError>;
    /// Remove a notification from the queue (delivered or given up); false when absent.
    async fn dequeue_notification(&mut self, id: Uuid) -> Result<bool, StoreError>;
}

impl NotificationRepository for Transaction {
    async fn insert_notification_channel(
        &mut self,
        channel: &NotificationChannelRecord,
    ) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO notification_channels (",
            channel_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        let recipients = recipients_text(&channel.recipients)?;
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(channel.id)
            .bind(channel.organization_id.as_uuid())
            .bind(&channel.name)
            .bind(&channel.kind)
            .bind(&channel.url)
            .bind(&recipients)
            .bind(&channel.min_level)
            .bind(channel.enabled)
            .bind(&channel.sealed_secret)
            .bind(channel.created_at)
            .bind(channel.updated_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn update_notification_channel(
        &mut self,
        channel: &NotificationChannelRecord,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE notification_channels SET name = $1, url = $2, recipients = $3, \
                   min_level = $4, enabled = $5, updated_at = $6 \
                   WHERE id = $7 AND organization_id = $8";
        let recipients = recipients_text(&channel.recipients)?;
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&channel.name)
            .bind(&channel.url)
            .bind(&recipients)
            .bind(&channel.min_level)
            .bind(channel.enabled)
            .bind(channel.updated_at)
            .bind(channel.id)
            .bind(channel.organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn delete_notification_channel(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM notification_channels WHERE id = $1 AND organization_id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id)
            .bind(organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn get_notification_channel(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<NotificationChannelRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            channel_columns!(),
            " FROM notification_channels WHERE id = $1 AND organization_id = $2"
        );
        let row: Option<ChannelRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(id)
            .bind(organization_id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        row.map(channel_of).transpose()
    }

    async fn list_notification_channels(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<NotificationChannelRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            channel_columns!(),
            " FROM notification_channels WHERE organization_id = $1 ORDER BY created_at, id"
        );
        let rows: Vec<ChannelRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter().map(channel_of).collect()
    }

    async fn queue_notification(
        &mut self,
        notification: &QueuedNotificationRecord,
    ) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO notification_queue (",
            queue_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(notification.id)
            .bind(notification.organization_id.as_uuid())
            .bind(notification.alert_id)
            .bind(notification.channel_id)
            .bind(&notification.channel)
            .bind(&notification.target)
            .bind(i64::from(notification.attempts))
            .bind(notification.next_attempt_at)
            .bind(&notification.last_error)
            .bind(notification.created_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn due_notifications(
        &mut self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<QueuedNotificationRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            queue_columns!(),
            " FROM notification_queue WHERE next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT CAST($2 AS BIGINT)"
        );
        let rows: Vec<QueueRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter().map(queued_of).collect()
    }

    async fn claim_notification(
        &mut self,
        id: Uuid,
        expected: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE notification_queue SET next_attempt_at = $1 \
                   WHERE id = $2 AND next_attempt_at = $3";
        let n_rows = on_backend!(self.connection(), c => sqlx::query(sql)
            .bind(until)
            .bind(id)
            .bind(expected)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn reschedule_notification(
        &mut self,
        id: Uuid,
        attempts: u32,
        next_attempt_at: OffsetDateTime,
        last_error: &str,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE notification_queue SET attempts = $1, next_attempt_at = $2, \
                   last_error = $3 WHERE id = $4";
        on_backend!(self.connection(), c => sqlx::query(sql)
            .bind(i64::from(attempts))
            .bind(next_attempt_at)
            .bind(last_error)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn dequeue_notification(&mut self, id: Uuid) -> Result<bool, StoreError> {
        let sql = "DELETE FROM notification_queue WHERE id = $1";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }
}
