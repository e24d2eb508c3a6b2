//! API keys: looked up by the hash of their secret, never by the secret. A key is held by a
//! user or by an application.

use base::{ApiKeyId, ApplicationId, OrganizationId, ProjectId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::organizations::decode_kind;
use crate::records::{
    ApiKeyRecord, AuthenticatedHolder, AuthenticatedKey, KeyHolder, UserRole, UserStatus,
};
use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

type ApiKeyRow = (
    Uuid,
    Option<Uuid>,
    Option<Uuid>,
    Vec<u8>,
    String,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<String>,
    Option<Uuid>,
);

/// The columns of [`ApiKeyRow`], in its order.
macro_rules! key_columns {
    ($prefix:literal) => {
        concat!(
            $prefix,
            "id, ",
            $prefix,
            "user_id, ",
            $prefix,
            "application_id, ",
            $prefix,
            "secret_hash, ",
            $prefix,
            "description, ",
            $prefix,
            "created_at, ",
            $prefix,
            "expires_at, ",
            $prefix,
            "last_used_at, ",
            $prefix,
            "revoked_at, ",
            $prefix,
            "last_used_ip, ",
            $prefix,
            "default_project_id"
        )
    };
}

fn holder_of(
    id: Uuid,
    user_id: Option<Uuid>,
    application_id: Option<Uuid>,
) -> Result<KeyHolder, StoreError> {
    match (user_id, application_id) {
        (Some(user_id), None) => Ok(KeyHolder::User(UserId::from_uuid(user_id))),
        (None, Some(application_id)) => {
            Ok(KeyHolder::Application(ApplicationId::from_uuid(application_id)))
        }
        _ => Err(StoreError::Corrupt(format!("api key {id} has no single holder"))),
    }
}

fn holder_ids(holder: KeyHolder) -> (Option<Uuid>, Option<Uuid>) {
    match holder {
        KeyHolder::User(id) => (Some(*id.as_uuid()), None),
        KeyHolder::Application(id) => (None, Some(*id.as_uuid())),
    }
}

fn decode(row: ApiKeyRow) -> Result<ApiKeyRecord, StoreError> {
    let (
        id,
        user_id,
        application_id,
        secret_hash,
        description,
        created_at,
        expires_at,
        last_used,
        revoked,
        last_used_ip,
        default_project,
    ) = row;
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_uuid(id),
        holder: holder_of(id, user_id, application_id)?,
        secret_hash,
        description,
        created_at,
        expires_at,
        last_used_at: last_used,
        last_used_ip,
        default_project: default_project.map(ProjectId::from_uuid),
        revoked_at: revoked,
    })
}

/// Storage of API keys.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait ApiKeyRepository {
    async fn insert_api_key(&mut self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// The key whose secret hashes to `secret_hash`, with its holder and organisation.
    async fn find_api_key_by_secret_hash(
        &mut self,
        secret_hash: &[u8],
    ) -> Result<Option<AuthenticatedKey>, StoreError>;
    /// Bookkeeping, not a state change: records when and from where a key was last used.
    async fn touch_api_key(
        &mut self,
        id: ApiKeyId,
        at: OffsetDateTime,
        source_ip: Option<&str>,
    ) -> Result<(), StoreError>;
    async fn revoke_api_key(&mut self, id: ApiKeyId, at: OffsetDateTime) -> Result<(), StoreError>;
    /// Revoke every active key of an account; returns how many.
    async fn revoke_user_api_keys(
        &mut self,
        user_id: UserId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// A holder's keys that are not revoked, newest first (only hashes are stored).
    async fn list_api_keys(&mut self, holder: KeyHolder) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Who holds a key.
    async fn api_key_holder(&mut self, id: ApiKeyId) -> Result<Option<KeyHolder>, StoreError>;
}

impl ApiKeyRepository for Transaction {
    async fn insert_api_key(&mut self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO api_keys (",
            key_columns!(""),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        let (user_id, application_id) = holder_ids(key.holder);
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(key.id.as_uuid())
            .bind(user_id)
            .bind(application_id)
            .bind(&key.secret_hash)
            .bind(&key.description)
            .bind(key.created_at)
            .bind(key.expires_at)
            .bind(key.last_used_at)
            .bind(key.revoked_at)
            .bind(&key.last_used_ip)
            .bind(key.default_project.map(|project| *project.as_uuid()))
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|error| StoreError::from_write(error, "this API key already exists"))
    }

    async fn find_api_key_by_secret_hash(
        &mut self,
        secret_hash: &[u8],
    ) -> Result<Option<AuthenticatedKey>, StoreError> {
        let sql = concat!(
            "SELECT ",
            key_columns!("k."),
            ", u.email, u.role, u.status, a.name, o.id, o.kind \
             FROM api_keys k LEFT JOIN users u ON u.id = k.user_id \
             LEFT JOIN applications a ON a.id = k.application_id \
             JOIN organizations o ON o.id = COALESCE(u.organization_id, a.organization_id) \
             WHERE k.secret_hash = $1"
        );
        type Holder = (Option<String>, Option<String>, Option<String>, Option<String>);
        type Row = (ApiKeyRow, Holder, (Uuid, String));
        let row: Option<Row> = on_backend!(self.connection(), c => sqlx::query(sql)
            .bind(secret_hash)
            .fetch_optional(&mut *c)
            .await
            .and_then(|row| row.map(|row| {
                use sqlx::Row as _;
                Ok((
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?,
                     row.try_get(4)?, row.try_get(5)?, row.try_get(6)?, row.try_get(7)?,
                     row.try_get(8)?, row.try_get(9)?, row.try_get(10)?),
                    (row.try_get(11)?, row.try_get(12)?, row.try_get(13)?, row.try_get(14)?),
                    (row.try_get(15)?, row.try_get(16)?),
                ))
            }).transpose()))?;
        let Some((key_row, (email, role, status, application_name), (organization_id, kind))) = row
        else {
            return Ok(None);
        };
        let key = decode(key_row)?;
        let holder = match (key.holder, email, role, status, application_name) {
            (KeyHolder::User(_), Some(email), Some(role), Some(status), _) => {
                AuthenticatedHolder::User {
                    email,
                    status: UserStatus::parse(&status)?,
                    role: UserRole::parse(&role)?,
                }
            }
            (KeyHolder::Application(_), _, _, _, Some(name)) => {
                AuthenticatedHolder::Application { name }
            }
            _ => return Err(StoreError::Corrupt(format!("api key {} lost its holder", key.id))),
        };
        Ok(Some(AuthenticatedKey {
            key,
            holder,
            organization_id: OrganizationId::from_uuid(organization_id),
            organization_kind: decode_kind(&kind)?,
        }))
    }

    async fn touch_api_key(
        &mut self,
        id: ApiKeyId,
        at: OffsetDateTime,
        source_ip: Option<&str>,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE api_keys SET last_used_at = $1, \
                   last_used_ip = COALESCE($2, last_used_ip) WHERE id = $3";
        on_backend!(self.connection(), c => sqlx::query(sql)
            .bind(at)
            .bind(source_ip)
            .bind(id.as_uuid())
            .execute(&mut *c)
            .await
            .map(drop))?;
        Ok(())
    }

    async fn revoke_user_api_keys(
        &mut self,
        user_id: UserId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let sql = "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(user_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows)
    }

    async fn list_api_keys(&mut self, holder: KeyHolder) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            key_columns!(""),
            " FROM api_keys WHERE (user_id = $1 OR application_id = $1) AND revoked_at IS NULL \
             ORDER BY id DESC"
        );
        let (user_id, application_id) = holder_ids(holder);
        let id = user_id.or(application_id).unwrap_or_default();
        let rows: Vec<ApiKeyRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(id).fetch_all(&mut *c).await)?;
        rows.into_iter().map(decode).collect()
    }

    async fn api_key_holder(&mut self, id: ApiKeyId) -> Result<Option<KeyHolder>, StoreError> {
        let sql = "SELECT user_id, application_id FROM api_keys WHERE id = $1";
        let row: Option<(Option<Uuid>, Option<Uuid>)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(id.as_uuid()).fetch_optional(&mut *c).await)?;
        row.map(|(user_id, application_id)| holder_of(*id.as_uuid(), user_id, application_id))
            .transpose()
    }

    async fn revoke_api_key(&mut self, id: ApiKeyId, at: OffsetDateTime) -> Result<(), StoreError> {
        let sql = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("active api key"));
        }
        Ok(())
    }
}
