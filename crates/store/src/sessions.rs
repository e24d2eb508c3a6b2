//! Login sessions and the short-lived challenges between a password and a second factor.

use base::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::organizations::decode_kind;
use crate::records::{
    AuthenticatedSession, PasswordSignIn, SessionRecord, SignInFacts, StoredThrottle,
};
use crate::transaction::on_backend;
use crate::users::{UserRow, decode as decode_user};
use crate::{StoreError, Transaction};

type SessionRow = (
    Uuid,
    Uuid,
    Vec<u8>,
    OffsetDateTime,
    OffsetDateTime,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<String>,
    Option<String>,
    bool,
    Option<OffsetDateTime>,
);

fn decode(row: SessionRow) -> SessionRecord {
    let (
        id,
        user_id,
        token_hash,
        created_at,
        last_seen_at,
        authenticated_at,
        mfa_at,
        ip,
        agent,
        restricted,
        ended,
    ) = row;
    SessionRecord {
        id,
        user_id: UserId::from_uuid(user_id),
        token_hash,
        created_at,
        last_seen_at,
        authenticated_at,
        mfa_at,
        source_ip: ip,
        user_agent: agent,
        restricted,
        ended_at: ended,
    }
}

/// Storage of sessions.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait SessionRepository {
    async fn insert_session(&mut self, session: &SessionRecord) -> Result<(), StoreError>;
    /// The session whose token hashes to `token_hash`, with its account.
    async fn find_session(
        &mut self,
        token_hash: &[u8],
    ) -> Result<Option<AuthenticatedSession>, StoreError>;
    /// Bookkeeping: when the session was last used.
    async fn touch_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError>;
    /// Record a fresh authentication (step-up), with a second factor when `mfa`.
    async fn reauthenticate_session(
        &mut self,
        id: Uuid,
        at: OffsetDateTime,
        mfa: bool,
    ) -> Result<(), StoreError>;
    /// Lift a session's restriction once a second factor is enrolled, as a fresh MFA.
    async fn unrestrict_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError>;
    /// An account's sessions that have not ended, newest first.
    async fn list_sessions(&mut self, user_id: UserId) -> Result<Vec<SessionRecord>, StoreError>;
    async fn end_session(
        &mut self,
        user_id: UserId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// End every open session of an account; returns how many.
    async fn end_user_sessions(
        &mut self,
        user_id: UserId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// End every open session of the account but `keep`; returns how many.
    async fn end_other_user_sessions(
        &mut self,
        user_id: UserId,
        keep: uuid::Uuid,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    async fn insert_login_challenge(
        &mut self,
        token_hash: &[u8],
        user_id: UserId,
        at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The account of a challenge that exists and has not expired at `now`, leaving it in
    /// place (a passkey second factor first asks for its options).
    async fn find_login_challenge(
        &mut self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError>;
    /// Consume a challenge: returns its account when it exists and has not expired at `now`.
    async fn take_login_challenge(
        &mut self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError>;
    /// What a password login needs before it verifies the password, in one statement: the
    /// account with this folded email, what a session of it depends on, and the email's
    /// throttle. A login runs while password hashes keep the cores busy, so each statement
    /// saved is a thread hand-off saved; and an unknown email costs the same statement.
    async fn password_sign_in(&mut self, email_folded: &str) -> Result<PasswordSignIn, StoreError>;
}

impl SessionRepository for Transaction {
    async fn password_sign_in(&mut self, email_folded: &str) -> Result<PasswordSignIn, StoreError> {
        let sql = "SELECT u.id, u.organization_id, u.email, u.display_name, u.status, u.role, \
                   u.password_hash, u.setup_token_hash, u.setup_token_expires_at, u.created_at, \
                   (SELECT confirmed_at IS NOT NULL FROM totp_credentials WHERE user_id = u.id) \
                   AS totp_confirmed, \
                   EXISTS (SELECT 1 FROM passkeys WHERE user_id = u.id) AS has_passkey, \
                   o.kind AS organization_kind, o.mfa_required AS organization_mfa_required, \
                   (SELECT max_age_days FROM password_policies \
                    WHERE organization_id = u.organization_id) AS password_max_age_days, \
                   (SELECT changed_at FROM password_changes WHERE user_id = u.id) \
                   AS password_changed_at, \
                   t.state AS throttle_state, t.version AS throttle_version \
                   FROM (SELECT CAST($1 AS TEXT) AS email_folded) AS wanted \
                   LEFT JOIN users u ON u.email_folded = wanted.email_folded \
                   LEFT JOIN organizations o ON o.id = u.organization_id \
                   LEFT JOIN login_throttles t ON t.account = wanted.email_folded";
        let row: PasswordSignInRow = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(email_folded)
            .fetch_one(&mut *c)
            .await)?;
        row.decode()
    }

    async fn insert_session(&mut self, session: &SessionRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, \
                   authenticated_at, mfa_at, source_ip, user_agent, restricted, ended_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(session.id)
            .bind(session.user_id.as_uuid())
            .bind(&session.token_hash)
            .bind(session.created_at)
            .bind(session.last_seen_at)
            .bind(session.authenticated_at)
            .bind(session.mfa_at)
            .bind(&session.source_ip)
            .bind(&session.user_agent)
            .bind(session.restricted)
            .bind(session.ended_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, "this session already exists"))
    }

    async fn find_session(
        &mut self,
        token_hash: &[u8],
    ) -> Result<Option<AuthenticatedSession>, StoreError> {
        let sql = "SELECT s.id, s.user_id, s.token_hash, s.created_at, s.last_seen_at, \
                   s.authenticated_at, s.mfa_at, s.source_ip, s.user_agent, s.restricted, s.ended_at, \
                   u.id, u.organization_id, u.email, u.display_name, u.status, u.role, \
                   u.password_hash, u.setup_token_hash, u.setup_token_expires_at, u.created_at, o.kind \
                   FROM sessions s JOIN users u ON u.id = s.user_id \
                   JOIN organizations o ON o.id = u.organization_id WHERE s.token_hash = $1";
        let row = on_backend!(self.connection(), c => sqlx::query(sql)
            .bind(token_hash)
            .fetch_optional(&mut *c)
            .await
            .and_then(|row| row.map(|row| {
                use sqlx::Row as _;
                let session: SessionRow = (
                    row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?,
                    row.try_get(4)?, row.try_get(5)?, row.try_get(6)?, row.try_get(7)?,
                    row.try_get(8)?, row.try_get(9)?, row.try_get(10)?,
                );
                let user: UserRow = (
                    row.try_get(11)?, row.try_get(12)?, row.try_get(13)?, row.try_get(14)?,
                    row.try_get(15)?, row.try_get(16)?, row.try_get(17)?, row.try_get(18)?,
                    row.try_get(19)?, row.try_get(20)?,
                );
                let kind: String = row.try_get(21)?;
                Ok((session, user, kind))
            }).transpose()))?;
        let Some((session, user, kind)) = row else { return Ok(None) };
        Ok(Some(AuthenticatedSession {
            session: decode(session),
            user: decode_user(user)?,
            organization_kind: decode_kind(&kind)?,
        }))
    }

    async fn touch_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
        let sql = "UPDATE sessions SET last_seen_at = $1 WHERE id = $2";
        on_backend!(self.connection(), c => sqlx::query(sql).bind(at).bind(id).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    async fn reauthenticate_session(
        &mut self,
        id: Uuid,
        at: OffsetDateTime,
        mfa: bool,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE sessions SET authenticated_at = $1, last_seen_at = $1, \
                   mfa_at = CASE WHEN $2 THEN $1 ELSE mfa_at END WHERE id = $3 AND ended_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(mfa)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("session"));
        }
        Ok(())
    }

    async fn unrestrict_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
        let sql = "UPDATE sessions SET restricted = $1, mfa_at = $2, authenticated_at = $2 \
                   WHERE id = $3 AND ended_at IS NULL";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(false)
            .bind(at)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn list_sessions(&mut self, user_id: UserId) -> Result<Vec<SessionRecord>, StoreError> {
        let sql = "SELECT s.id, s.user_id, s.token_hash, s.created_at, s.last_seen_at, \
                   s.authenticated_at, s.mfa_at, s.source_ip, s.user_agent, s.restricted, s.ended_at \
                   FROM sessions s WHERE s.user_id = $1 AND s.ended_at IS NULL ORDER BY s.id DESC";
        let rows: Vec<SessionRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(user_id.as_uuid()).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(decode).collect())
    }

    async fn end_session(
        &mut self,
        user_id: UserId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql =
            "UPDATE sessions SET ended_at = $1 WHERE id = $2 AND user_id = $3 AND ended_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(id)
            .bind(user_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("session"));
        }
        Ok(())
    }

    async fn end_other_user_sessions(
        &mut self,
        user_id: UserId,
        keep: uuid::Uuid,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let sql = "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND id <> $3 \
                   AND ended_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(user_id.as_uuid())
            .bind(keep)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows)
    }

    async fn end_user_sessions(
        &mut self,
        user_id: UserId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let sql = "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(user_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows)
    }

    async fn insert_login_challenge(
        &mut self,
        token_hash: &[u8],
        user_id: UserId,
        at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO login_challenges (token_hash, user_id, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4)";
        // Bookkeeping of an unfinished login, not a change of state worth its own entry: the
        // login attempt itself is audited.
        on_backend!(self.connection(), c => sqlx::query(sql)
            .bind(token_hash)
            .bind(user_id.as_uuid())
            .bind(at)
            .bind(expires_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn find_login_challenge(
        &mut self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        let sql = "SELECT user_id, expires_at FROM login_challenges WHERE token_hash = $1";
        let row: Option<(Uuid, OffsetDateTime)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(token_hash).fetch_optional(&mut *c).await)?;
        Ok(row
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(user_id, _)| UserId::from_uuid(user_id)))
    }

    async fn take_login_challenge(
        &mut self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        let select = "SELECT user_id, expires_at FROM login_challenges WHERE token_hash = $1";
        let delete = "DELETE FROM login_challenges WHERE token_hash = $1";
        let row: Option<(Uuid, OffsetDateTime)> = on_backend!(self.connection(), c => {
            let row = sqlx::query_as(select).bind(token_hash).fetch_optional(&mut *c).await?;
            sqlx::query(delete).bind(token_hash).execute(&mut *c).await?;
            Ok::<_, sqlx::Error>(row)
        })?;
        Ok(row
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(user_id, _)| UserId::from_uuid(user_id)))
    }
}

/// The row of [`SessionRepository::password_sign_in`]: the account's columns are all `NULL`
/// when no account has the email, the throttle's when it has none.
#[derive(sqlx::FromRow)]
struct PasswordSignInRow {
    id: Option<Uuid>,
    organization_id: Option<Uuid>,
    email: Option<String>,
    display_name: Option<String>,
    status: Option<String>,
    role: Option<String>,
    password_hash: Option<String>,
    setup_token_hash: Option<Vec<u8>>,
    setup_token_expires_at: Option<OffsetDateTime>,
    created_at: Option<OffsetDateTime>,
    totp_confirmed: Option<bool>,
    has_passkey: bool,
    organization_kind: Option<String>,
    organization_mfa_required: Option<bool>,
    password_max_age_days: Option<i32>,
    password_changed_at: Option<OffsetDateTime>,
    throttle_state: Option<String>,
    throttle_version: Option<i64>,
}

impl PasswordSignInRow {
    fn decode(self) -> Result<PasswordSignIn, StoreError> {
        let throttle = match (self.throttle_state, self.throttle_version) {
            (Some(state), Some(version)) => Some(StoredThrottle { state, version }),
            _ => None,
        };
        let (
            Some(id),
            Some(organization_id),
            Some(email),
            Some(display_name),
            Some(status),
            Some(role),
            Some(created_at),
        ) = (
            self.id,
            self.organization_id,
            self.email,
            self.display_name,
            self.status,
            self.role,
            self.created_at,
        )
        else {
            return Ok(PasswordSignIn { account: None, throttle });
        };
        let user = decode_user((
            id,
            organization_id,
            email,
            display_name,
            status,
            role,
            self.password_hash,
            self.setup_token_hash,
            self.setup_token_expires_at,
            created_at,
        ))?;
        let facts = SignInFacts {
            totp_confirmed: self.totp_confirmed.unwrap_or(false),
            has_passkey: self.has_passkey,
            organization_kind: self.organization_kind.as_deref().map(decode_kind).transpose()?,
            organization_mfa_required: self.organization_mfa_required.unwrap_or(false),
            password_max_age_days: self
                .password_max_age_days
                .map(|days| {
                    u32::try_from(days)
                        .map_err(|_| StoreError::Corrupt(format!("password max age {days} days")))
                })
                .transpose()?,
            password_changed_at: self.password_changed_at,
        };
        Ok(PasswordSignIn { account: Some((user, facts)), throttle })
    }
}
