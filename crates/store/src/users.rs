//! Accounts.

use base::{OrganizationId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::{UserRecord, UserRole, UserStatus};
use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

pub(crate) type UserRow = (
    Uuid,
    Uuid,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<Vec<u8>>,
    Option<OffsetDateTime>,
    OffsetDateTime,
);

/// A `SELECT` of every column, followed by the rest of the statement (kept literal for sqlx).
macro_rules! select {
    ($rest:literal) => {
        concat!("SELECT id, organization_id, email, display_name, status, role, password_hash, setup_token_hash, setup_token_expires_at, created_at FROM users ", $rest)
    };
}

pub(crate) fn decode(row: UserRow) -> Result<UserRecord, StoreError> {
    let (
        id,
        organization_id,
        email,
        display_name,
        status,
        role,
        password_hash,
        setup_token_hash,
        expires_at,
        created,
    ) = row;
    Ok(UserRecord {
        id: UserId::from_uuid(id),
        organization_id: OrganizationId::from_uuid(organization_id),
        email,
        display_name,
        status: UserStatus::parse(&status)?,
        role: UserRole::parse(&role)?,
        password_hash,
        setup_token_hash,
        setup_token_expires_at: expires_at,
        created_at: created,
    })
}

/// Storage of accounts.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait UserRepository {
    async fn insert_user(&mut self, user: &UserRecord) -> Result<(), StoreError>;
    async fn get_user(&mut self, id: UserId) -> Result<Option<UserRecord>, StoreError>;
    async fn find_user_by_setup_token(
        &mut self,
        token_hash: &[u8],
    ) -> Result<Option<UserRecord>, StoreError>;
    async fn find_user_by_email(&mut self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    /// The accounts of an organisation, in creation order.
    async fn list_users(
        &mut self,
        organization_id: OrganizationId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserRecord>, StoreError>;
    async fn set_user_status(&mut self, id: UserId, status: UserStatus) -> Result<(), StoreError>;
    /// Replace the personal data of a deleted account (email, name) by placeholders.
    async fn erase_user_personal_data(&mut self, id: UserId) -> Result<(), StoreError>;
    /// Consume an account's one-time setup token (its email is now verified).
    async fn clear_setup_token(&mut self, id: UserId) -> Result<(), StoreError>;
    /// Remove the password of an account that signs in with passkeys only.
    async fn clear_user_password(&mut self, id: UserId) -> Result<(), StoreError>;
    /// Set the password hash and consume any outstanding setup token.
    async fn set_user_password(
        &mut self,
        id: UserId,
        password_hash: &str,
    ) -> Result<(), StoreError>;
}

impl UserRepository for Transaction {
    async fn insert_user(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO users (id, organization_id, email, email_folded, role, \
                   password_hash, setup_token_hash, setup_token_expires_at, created_at, \
                   display_name, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(user.id.as_uuid())
            .bind(user.organization_id.as_uuid())
            .bind(&user.email)
            .bind(user.email.to_lowercase())
            .bind(user.role.as_str())
            .bind(&user.password_hash)
            .bind(&user.setup_token_hash)
            .bind(user.setup_token_expires_at)
            .bind(user.created_at)
            .bind(&user.display_name)
            .bind(user.status.as_str())
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|error| StoreError::from_write(error, "an account with this email already exists"))
    }

    async fn get_user(&mut self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        let sql = select!("WHERE id = $1");
        let row: Option<UserRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(id.as_uuid()).fetch_optional(&mut *c).await)?;
        row.map(decode).transpose()
    }

    async fn find_user_by_setup_token(
        &mut self,
        token_hash: &[u8],
    ) -> Result<Option<UserRecord>, StoreError> {
        let sql = select!("WHERE setup_token_hash = $1");
        let row: Option<UserRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(token_hash).fetch_optional(&mut *c).await)?;
        row.map(decode).transpose()
    }

    async fn find_user_by_email(&mut self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = select!("WHERE email_folded = $1");
        let row: Option<UserRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(email.trim().to_lowercase()).fetch_optional(&mut *c).await)?;
        row.map(decode).transpose()
    }

    async fn list_users(
        &mut self,
        organization_id: OrganizationId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserRecord>, StoreError> {
        let sql =
            select!("WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT CAST($3 AS BIGINT)");
        let after = after.map(|id| *id.as_uuid()).unwrap_or(Uuid::nil());
        let rows: Vec<UserRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter().map(decode).collect()
    }

    async fn set_user_status(&mut self, id: UserId, status: UserStatus) -> Result<(), StoreError> {
        let sql = "UPDATE users SET status = $1 WHERE id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(status.as_str())
            .bind(id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    async fn erase_user_personal_data(&mut self, id: UserId) -> Result<(), StoreError> {
        // The placeholder keeps the unique email column unique and says what happened.
        let placeholder = format!("deleted-{id}@erased.invalid");
        let sql = "UPDATE users SET email = $1, email_folded = $1, display_name = '', \
                   password_hash = NULL, setup_token_hash = NULL WHERE id = $2";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&placeholder)
            .bind(id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn clear_setup_token(&mut self, id: UserId) -> Result<(), StoreError> {
        let sql =
            "UPDATE users SET setup_token_hash = NULL, setup_token_expires_at = NULL WHERE id = $1";
        on_backend!(self.change()?, c => sqlx::query(sql).bind(id.as_uuid()).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    async fn clear_user_password(&mut self, id: UserId) -> Result<(), StoreError> {
        let sql = "UPDATE users SET password_hash = NULL WHERE id = $1";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    async fn set_user_password(
        &mut self,
        id: UserId,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE users SET password_hash = $1, setup_token_hash = NULL, \
                   setup_token_expires_at = NULL WHERE id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(password_hash)
            .bind(id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }
}
