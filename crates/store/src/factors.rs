//! Second factors: TOTP seeds (sealed) and recovery codes (hashed).

use base::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::TotpRecord;
use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// Storage of second factors.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait FactorRepository {
    /// Start (or restart) a TOTP enrolment: an unconfirmed seed replaces any unconfirmed one.
    async fn put_pending_totp(&mut self, record: &TotpRecord) -> Result<(), StoreError>;
    async fn get_totp(&mut self, user_id: UserId) -> Result<Option<TotpRecord>, StoreError>;
    async fn confirm_totp(
        &mut self,
        user_id: UserId,
        at: OffsetDateTime,
        step: u64,
    ) -> Result<(), StoreError>;
    /// Record the last accepted time step, refusing to move it backwards (replay guard).
    async fn advance_totp_step(&mut self, user_id: UserId, step: u64) -> Result<bool, StoreError>;
    async fn delete_totp(&mut self, user_id: UserId) -> Result<(), StoreError>;
    /// Replace every recovery code of an account.
    async fn replace_recovery_codes(
        &mut self,
        user_id: UserId,
        hashes: &[Vec<u8>],
    ) -> Result<(), StoreError>;
    /// The unused recovery code hashes of an account.
    async fn unused_recovery_codes(&mut self, user_id: UserId) -> Result<Vec<Vec<u8>>, StoreError>;
    /// Mark a code used; false when it was already used or does not exist.
    async fn use_recovery_code(
        &mut self,
        user_id: UserId,
        hash: &[u8],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

fn step_to_i64(step: u64) -> Result<i64, StoreError> {
    i64::try_from(step).map_err(|_| StoreError::Corrupt(format!("time step {step} out of range")))
}

impl FactorRepository for Transaction {
    async fn put_pending_totp(&mut self, record: &TotpRecord) -> Result<(), StoreError> {
        let delete = "DELETE FROM totp_credentials WHERE user_id = $1 AND confirmed_at IS NULL";
        let insert = "INSERT INTO totp_credentials (user_id, sealed_seed, created_at, confirmed_at, last_step) \
                      VALUES ($1, $2, $3, NULL, NULL)";
        on_backend!(self.change()?, c => {
            sqlx::query(delete).bind(record.user_id.as_uuid()).execute(&mut *c).await?;
            sqlx::query(insert)
                .bind(record.user_id.as_uuid())
                .bind(&record.sealed_seed)
                .bind(record.created_at)
                .execute(&mut *c)
                .await
                .map(|_| ())
        })
        .map_err(|error| {
            StoreError::from_write(
                error,
                "a confirmed authenticator app is already enrolled; remove it first",
            )
        })
    }

    async fn get_totp(&mut self, user_id: UserId) -> Result<Option<TotpRecord>, StoreError> {
        let sql = "SELECT user_id, sealed_seed, created_at, confirmed_at, last_step \
                   FROM totp_credentials WHERE user_id = $1";
        type TotpRow = (Uuid, Vec<u8>, OffsetDateTime, Option<OffsetDateTime>, Option<i64>);
        let row: Option<TotpRow> = on_backend!(self.connection(), c => sqlx::query_as(sql).bind(user_id.as_uuid()).fetch_optional(&mut *c).await)?;
        row.map(|(user_id, sealed_seed, created_at, confirmed_at, last_step)| {
            Ok(TotpRecord {
                user_id: UserId::from_uuid(user_id),
                sealed_seed,
                created_at,
                confirmed_at,
                last_step: last_step
                    .map(|step| {
                        u64::try_from(step)
                            .map_err(|_| StoreError::Corrupt("negative time step".into()))
                    })
                    .transpose()?,
            })
        })
        .transpose()
    }

    async fn confirm_totp(
        &mut self,
        user_id: UserId,
        at: OffsetDateTime,
        step: u64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE totp_credentials SET confirmed_at = $1, last_step = $2 \
                   WHERE user_id = $3 AND confirmed_at IS NULL";
        let step = step_to_i64(step)?;
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(step)
            .bind(user_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("pending authenticator enrolment"));
        }
        Ok(())
    }

    async fn advance_totp_step(&mut self, user_id: UserId, step: u64) -> Result<bool, StoreError> {
        let sql = "UPDATE totp_credentials SET last_step = $1 \
                   WHERE user_id = $2 AND (last_step IS NULL OR last_step < $1)";
        let step = step_to_i64(step)?;
        let n_rows = on_backend!(self.connection(), c => sqlx::query(sql)
            .bind(step)
            .bind(user_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn delete_totp(&mut self, user_id: UserId) -> Result<(), StoreError> {
        let sql = "DELETE FROM totp_credentials WHERE user_id = $1";
        on_backend!(self.change()?, c => sqlx::query(sql).bind(user_id.as_uuid()).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    async fn replace_recovery_codes(
        &mut self,
        user_id: UserId,
        hashes: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        let delete = "DELETE FROM recovery_codes WHERE user_id = $1";
        let insert =
            "INSERT INTO recovery_codes (user_id, code_hash, used_at) VALUES ($1, $2, NULL)";
        on_backend!(self.change()?, c => {
            sqlx::query(delete).bind(user_id.as_uuid()).execute(&mut *c).await?;
            for hash in hashes {
                sqlx::query(insert).bind(user_id.as_uuid()).bind(hash).execute(&mut *c).await?;
            }
            Ok::<(), sqlx::Error>(())
        })?;
        Ok(())
    }

    async fn unused_recovery_codes(&mut self, user_id: UserId) -> Result<Vec<Vec<u8>>, StoreError> {
        let sql = "SELECT code_hash FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL";
        let rows: Vec<(Vec<u8>,)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(user_id.as_uuid()).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(|(hash,)| hash).collect())
    }

    async fn use_recovery_code(
        &mut self,
        user_id: UserId,
        hash: &[u8],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE recovery_codes SET used_at = $1 \
                   WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(user_id.as_uuid())
            .bind(hash)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }
}
