//! Passkeys (WebAuthn credentials) and the state of their unfinished ceremonies.

use base::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// A registered passkey. `passkey` is the serialised credential the relying party library
/// verifies with: a public key, a signature counter and backup flags, no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub id: Uuid,
    pub user_id: UserId,
    pub credential_id: Vec<u8>,
    pub passkey: String,
    pub name: String,
    /// How the client said its authenticator is reached ("internal", "hybrid", "usb", …), as
    /// reported at registration: hints for later ceremonies, never trusted for anything else.
    pub transports: Vec<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// What a WebAuthn ceremony was started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyPurpose {
    /// Registering a passkey for a signed-in account.
    Register,
    /// A passkey as the second factor of a password login.
    SecondFactor,
    /// A passwordless login.
    Login,
    /// Refreshing a session's authentication.
    StepUp,
    /// Registering the first passkey of the account an invitation creates.
    Invitation,
}

impl CeremonyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SecondFactor => "second_factor",
            Self::Login => "login",
            Self::StepUp => "step_up",
            Self::Invitation => "invitation",
        }
    }
}

/// A ceremony taken out of the store to be finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyRecord {
    pub user_id: Option<UserId>,
    pub state: String,
}

type PasskeyRow =
    (Uuid, Uuid, Vec<u8>, String, String, String, OffsetDateTime, Option<OffsetDateTime>);

fn decode(row: PasskeyRow) -> Result<PasskeyRecord, StoreError> {
    let (id, user_id, credential_id, passkey, name, transports, created_at, last_used_at) = row;
    let transports = serde_json::from_str(&transports).map_err(|error| {
        StoreError::Corrupt(format!("passkey {id}: transports are not a list of names: {error}"))
    })?;
    Ok(PasskeyRecord {
        id,
        user_id: UserId::from_uuid(user_id),
        credential_id,
        passkey,
        name,
        transports,
        created_at,
        last_used_at,
    })
}

/// Storage of passkeys and their ceremonies.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait PasskeyRepository {
    /// Store a new passkey; a credential id registered before (to anyone) is a conflict.
    async fn insert_passkey(&mut self, passkey: &PasskeyRecord) -> Result<(), StoreError>;
    /// An account's passkeys, oldest first.
    async fn list_passkeys(&mut self, user_id: UserId) -> Result<Vec<PasskeyRecord>, StoreError>;
    async fn find_passkey_by_credential(
        &mut self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError>;
    async fn rename_passkey(
        &mut self,
        user_id: UserId,
        id: Uuid,
        name: &str,
    ) -> Result<(), StoreError>;
    /// After a successful use: the credential as updated (counter, backup flags) and when.
    async fn record_passkey_use(
        &mut self,
        id: Uuid,
        passkey: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn delete_passkey(&mut self, user_id: UserId, id: Uuid) -> Result<(), StoreError>;
    /// Remove every passkey of an account (its deletion); returns how many.
    async fn delete_user_passkeys(&mut self, user_id: UserId) -> Result<u64, StoreError>;
    /// Keep a ceremony's state until `expires_at`, replacing one under the same token (a
    /// second factor asked twice). Expired ones are swept on the way.
    async fn insert_ceremony(
        &mut self,
        token_hash: &[u8],
        user_id: Option<UserId>,
        purpose: CeremonyPurpose,
        state: &str,
        at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Consume a ceremony: it is gone whatever the answer, and returned only when it exists,
    /// was started for `purpose` and has not expired at `now`.
    async fn take_ceremony(
        &mut self,
        token_hash: &[u8],
        purpose: CeremonyPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<CeremonyRecord>, StoreError>;
}

impl PasskeyRepository for Transaction {
    async fn insert_passkey(&mut self, passkey: &PasskeyRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO passkeys (id, user_id, credential_id, passkey, name, transports, \
                   created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        let transports = serde_json::to_string(&passkey.transports)
            .map_err(|error| StoreError::Corrupt(format!("passkey transports: {error}")))?;
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(passkey.id)
            .bind(passkey.user_id.as_uuid())
            .bind(&passkey.credential_id)
            .bind(&passkey.passkey)
            .bind(&passkey.name)
            .bind(&transports)
            .bind(passkey.created_at)
            .bind(passkey.last_used_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, "this passkey is already registered"))
    }

    async fn list_passkeys(&mut self, user_id: UserId) -> Result<Vec<PasskeyRecord>, StoreError> {
        let sql = "SELECT id, user_id, credential_id, passkey, name, transports, created_at, \
                   last_used_at FROM passkeys WHERE user_id = $1 ORDER BY id";
        let rows: Vec<PasskeyRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(user_id.as_uuid()).fetch_all(&mut *c).await)?;
        rows.into_iter().map(decode).collect()
    }

    async fn find_passkey_by_credential(
        &mut self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        let sql = "SELECT id, user_id, credential_id, passkey, name, transports, created_at, \
                   last_used_at FROM passkeys WHERE credential_id = $1";
        let row: Option<PasskeyRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(credential_id).fetch_optional(&mut *c).await)?;
        row.map(decode).transpose()
    }

    async fn rename_passkey(
        &mut self,
        user_id: UserId,
        id: Uuid,
        name: &str,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(name)
            .bind(id)
            .bind(user_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("passkey"));
        }
        Ok(())
    }

    async fn record_passkey_use(
        &mut self,
        id: Uuid,
        passkey: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3";
        // Bookkeeping of a use, like a TOTP's last step: the login or step-up it served is
        // the audited event.
        let n_rows = on_backend!(self.connection(), c => sqlx::query(sql)
            .bind(passkey)
            .bind(at)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("passkey"));
        }
        Ok(())
    }

    async fn delete_passkey(&mut self, user_id: UserId, id: Uuid) -> Result<(), StoreError> {
        let sql = "DELETE FROM passkeys WHERE id = $1 AND user_id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id)
            .bind(user_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("passkey"));
        }
        Ok(())
    }

    async fn delete_user_passkeys(&mut self, user_id: UserId) -> Result<u64, StoreError> {
        let sql = "DELETE FROM passkeys WHERE user_id = $1";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(user_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows)
    }

    async fn insert_ceremony(
        &mut self,
        token_hash: &[u8],
        user_id: Option<UserId>,
        purpose: CeremonyPurpose,
        state: &str,
        at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sweep = "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1 OR token_hash = $2";
        let insert = "INSERT INTO webauthn_ceremonies (token_hash, user_id, purpose, state, \
                      created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
        // Bookkeeping of an unfinished ceremony, like a login challenge: the attempt itself is
        // audited when it finishes.
        on_backend!(self.connection(), c => {
            sqlx::query(sweep).bind(at).bind(token_hash).execute(&mut *c).await?;
            sqlx::query(insert)
                .bind(token_hash)
                .bind(user_id.map(|id| *id.as_uuid()))
                .bind(purpose.as_str())
                .bind(state)
                .bind(at)
                .bind(expires_at)
                .execute(&mut *c)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    async fn take_ceremony(
        &mut self,
        token_hash: &[u8],
        purpose: CeremonyPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<CeremonyRecord>, StoreError> {
        // One statement: of two concurrent attempts with the same token, only one gets a row.
        let sql = "DELETE FROM webauthn_ceremonies WHERE token_hash = $1 \
                   RETURNING user_id, purpose, state, expires_at";
        type CeremonyRow = (Option<Uuid>, String, String, OffsetDateTime);
        let row: Option<CeremonyRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(token_hash).fetch_optional(&mut *c).await)?;
        Ok(row
            .filter(|(_, stored, _, expires_at)| stored == purpose.as_str() && now < *expires_at)
            .map(|(user_id, _, state, _)| CeremonyRecord {
                user_id: user_id.map(UserId::from_uuid),
                state,
            }))
    }
}
