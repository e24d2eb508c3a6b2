//! Invitations to join an organisation, and login throttling state.

use base::{OrganizationId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::{InvitationRecord, StoredThrottle, UserRole};
use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// Storage of invitations.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait InvitationRepository {
    async fn insert_invitation(&mut self, invitation: &InvitationRecord) -> Result<(), StoreError>;
    async fn find_invitation(
        &mut self,
        token_hash: &[u8],
    ) -> Result<Option<InvitationRecord>, StoreError>;
    /// Mark accepted; false when it was already accepted (single use).
    async fn accept_invitation(
        &mut self,
        token_hash: &[u8],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

impl InvitationRepository for Transaction {
    async fn insert_invitation(&mut self, invitation: &InvitationRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO invitations (token_hash, organization_id, email, role, invited_by, \
                   created_at, expires_at, accepted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&invitation.token_hash)
            .bind(invitation.organization_id.as_uuid())
            .bind(&invitation.email)
            .bind(invitation.role.as_str())
            .bind(invitation.invited_by.as_uuid())
            .bind(invitation.created_at)
            .bind(invitation.expires_at)
            .bind(invitation.accepted_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, "this invitation already exists"))
    }

    async fn find_invitation(
        &mut self,
        token_hash: &[u8],
    ) -> Result<Option<InvitationRecord>, StoreError> {
        let sql = "SELECT token_hash, organization_id, email, role, invited_by, created_at, \
                   expires_at, accepted_at FROM invitations WHERE token_hash = $1";
        type Row = (
            Vec<u8>,
            Uuid,
            String,
            String,
            Uuid,
            OffsetDateTime,
            OffsetDateTime,
            Option<OffsetDateTime>,
        );
        let row: Option<Row> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(token_hash).fetch_optional(&mut *c).await)?;
        row.map(
            |(
                token_hash,
                organization_id,
                email,
                role,
                invited_by,
                created_at,
                expires_at,
                accepted_at,
            )| {
                Ok(InvitationRecord {
                    token_hash,
                    organization_id: OrganizationId::from_uuid(organization_id),
                    email,
                    role: UserRole::parse(&role)?,
                    invited_by: UserId::from_uuid(invited_by),
                    created_at,
                    expires_at,
                    accepted_at,
                })
            },
        )
        .transpose()
    }

    async fn accept_invitation(
        &mut self,
        token_hash: &[u8],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql =
            "UPDATE invitations SET accepted_at = $1 WHERE token_hash = $2 AND accepted_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(token_hash)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }
}

/// Storage of per-account login throttling state (an opaque JSON document with a version).
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait ThrottleRepository {
    async fn get_throttle(&mut self, account: &str) -> Result<Option<StoredThrottle>, StoreError>;
    /// The account's state, read to be changed in this (write) transaction, in one statement:
    /// its row stays locked until the transaction ends, so concurrent attempts are counted one
    /// after the other (on SQLite the transaction already holds the write lock).
    async fn get_throttle_for_update(
        &mut self,
        account: &str,
    ) -> Result<Option<StoredThrottle>, StoreError>;
    /// Write the account's state if it is still the one read: the version `seen`, or no row at
    /// all when `seen` is `None`. Returns whether it was written. When it was not, another
    /// attempt changed the state in between: read it again with
    /// [`ThrottleRepository::get_throttle_for_update`] and apply the change to that. A login
    /// thus writes its count in one statement, from the state it read before hashing, unless
    /// a concurrent attempt on the same account got there first.
    /// Bookkeeping, not audited: the attempts themselves are.
    async fn replace_throttle(
        &mut self,
        account: &str,
        seen: Option<i64>,
        state: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

impl ThrottleRepository for Transaction {
    async fn get_throttle(&mut self, account: &str) -> Result<Option<StoredThrottle>, StoreError> {
        let sql = "SELECT state, version FROM login_throttles WHERE account = $1";
        let row: Option<(String, i64)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(account).fetch_optional(&mut *c).await)?;
        Ok(row.map(|(state, version)| StoredThrottle { state, version }))
    }

    async fn get_throttle_for_update(
        &mut self,
        account: &str,
    ) -> Result<Option<StoredThrottle>, StoreError> {
        // A no-op update takes the row lock on PostgreSQL, and is portable.
        let sql = "UPDATE login_throttles SET updated_at = updated_at WHERE account = $1 \
                   RETURNING state, version";
        let row: Option<(String, i64)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(account).fetch_optional(&mut *c).await)?;
        Ok(row.map(|(state, version)| StoredThrottle { state, version }))
    }

    async fn replace_throttle(
        &mut self,
        account: &str,
        seen: Option<i64>,
        state: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let written = match seen {
            Some(version) => {
                let sql = "UPDATE login_throttles SET state = $2, updated_at = $3, \
                           version = version + 1 WHERE account = $1 AND version = $4";
                on_backend!(self.connection(), c => sqlx::query(sql)
                    .bind(account)
                    .bind(state)
                    .bind(at)
                    .bind(version)
                    .execute(&mut *c)
                    .await
                    .map(|done| done.rows_affected()))?
            }
            None => {
                let sql = "INSERT INTO login_throttles (account, state, updated_at, version) \
                           VALUES ($1, $2, $3, 1) ON CONFLICT (account) DO NOTHING";
                on_backend!(self.connection(), c => sqlx::query(sql)
                    .bind(account)
                    .bind(state)
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map(|done| done.rows_affected()))?
            }
        };
        Ok(written == 1)
    }
}

/// Storage of password reset links.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait PasswordResetRepository {
    async fn insert_password_reset(
        &mut self,
        token_hash: &[u8],
        user_id: UserId,
        at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Consume a reset link: its account, when it exists, is unused and has not expired.
    async fn use_password_reset(
        &mut self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError>;
}

impl PasswordResetRepository for Transaction {
    async fn insert_password_reset(
        &mut self,
        token_hash: &[u8],
        user_id: UserId,
        at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at, used_at) \
                   VALUES ($1, $2, $3, $4, NULL)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(token_hash)
            .bind(user_id.as_uuid())
            .bind(at)
            .bind(expires_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, "this reset link already exists"))
    }

    async fn use_password_reset(
        &mut self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        let select = "SELECT user_id, expires_at FROM password_resets WHERE token_hash = $1 AND used_at IS NULL";
        let update =
            "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL";
        let row: Option<(Uuid, OffsetDateTime)> = on_backend!(self.change()?, c => {
            let row = sqlx::query_as(select).bind(token_hash).fetch_optional(&mut *c).await?;
            sqlx::query(update).bind(now).bind(token_hash).execute(&mut *c).await?;
            Ok::<_, sqlx::Error>(row)
        })?;
        Ok(row
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(user_id, _)| UserId::from_uuid(user_id)))
    }
}
