//! Accounts.

use base::{OrganizationId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::{UserRecord, UserRole};
use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

type UserRow = (
    Uuid,
    Uuid,
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
        concat!("SELECT id, organization_id, email, role, password_hash, setup_token_hash, setup_token_expires_at, created_at FROM users ", $rest)
    };
}

fn decode(row: UserRow) -> Result<UserRecord, StoreError> {
    let (id, organization_id, email, role, password_hash, setup_token_hash, expires_at, created) =
        row;
    Ok(UserRecord {
        id: UserId::from_uuid(id),
        organization_id: OrganizationId::from_uuid(organization_id),
        email,
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
                   password_hash, setup_token_hash, setup_token_expires_at, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
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
