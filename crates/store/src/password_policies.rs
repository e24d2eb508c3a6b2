//! Password age: an organisation's optional maximum, and when each account last chose its
//! password.

use base::{OrganizationId, UserId};
use time::OffsetDateTime;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// Storage of password ages.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait PasswordPolicyRepository {
    /// The organisation's maximum password age in days; none when it sets none.
    async fn password_max_age_days(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<u32>, StoreError>;
    /// Set (or with `None`, remove) the organisation's maximum password age.
    async fn set_password_max_age_days(
        &mut self,
        organization_id: OrganizationId,
        max_age_days: Option<u32>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Note that the account chose a new password at `at`.
    async fn record_password_change(
        &mut self,
        user_id: UserId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// When the account last chose its password, if known.
    async fn password_changed_at(
        &mut self,
        user_id: UserId,
    ) -> Result<Option<OffsetDateTime>, StoreError>;
}

impl PasswordPolicyRepository for Transaction {
    async fn password_max_age_days(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<u32>, StoreError> {
        let sql = "SELECT max_age_days FROM password_policies WHERE organization_id = $1";
        let row: Option<(i32,)> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        row.map(|(days,)| {
            u32::try_from(days)
                .map_err(|_| StoreError::Corrupt(format!("password max age {days} days")))
        })
        .transpose()
    }

    async fn set_password_max_age_days(
        &mut self,
        organization_id: OrganizationId,
        max_age_days: Option<u32>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        match max_age_days {
            Some(days) => {
                let days = i32::try_from(days)
                    .map_err(|_| StoreError::Corrupt(format!("password max age {days} days")))?;
                let sql = "INSERT INTO password_policies (organization_id, max_age_days, \
                           updated_at) VALUES ($1, $2, $3) ON CONFLICT (organization_id) \
                           DO UPDATE SET max_age_days = excluded.max_age_days, \
                           updated_at = excluded.updated_at";
                on_backend!(self.change()?, c => sqlx::query(sql)
                    .bind(organization_id.as_uuid())
                    .bind(days)
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map(drop))?;
            }
            None => {
                let sql = "DELETE FROM password_policies WHERE organization_id = $1";
                on_backend!(self.change()?, c => sqlx::query(sql)
                    .bind(organization_id.as_uuid())
                    .execute(&mut *c)
                    .await
                    .map(drop))?;
            }
        }
        Ok(())
    }

    async fn record_password_change(
        &mut self,
        user_id: UserId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO password_changes (user_id, changed_at) VALUES ($1, $2) \
                   ON CONFLICT (user_id) DO UPDATE SET changed_at = excluded.changed_at";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(user_id.as_uuid())
            .bind(at)
            .execute(&mut *c)
            .await
            .map(drop))?;
        Ok(())
    }

    async fn password_changed_at(
        &mut self,
        user_id: UserId,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let sql = "SELECT changed_at FROM password_changes WHERE user_id = $1";
        let row: Option<(OffsetDateTime,)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(user_id.as_uuid()).fetch_optional(&mut *c).await)?;
        Ok(row.map(|(at,)| at))
    }
}
