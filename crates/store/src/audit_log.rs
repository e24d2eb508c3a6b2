//! The audit log's storage: entries with their exact leaves, the tree's complete subtree
//! hashes, signed checkpoints and the signing keys. The hashing itself is not here: callers
//! compute leaves and nodes and hand them over.

use base::OrganizationId;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// A complete subtree: (level, index at that level), as RFC 9162 trees number them.
pub type NodeKey = (u8, u64);

/// A tile of subtree hashes: (tile level, index at that level); the layout is `audit::tiles`.
pub type TileKey = (u8, u64);

/// One stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntryRow {
    pub organization_id: OrganizationId,
    pub index: u64,
    pub time: OffsetDateTime,
    pub actor_id: Option<String>,
    pub action: String,
    pub resource_kind: String,
    pub resource_id: Option<String>,
    /// `success`, `denied` or `failed`.
    pub outcome: String,
    pub privileged: bool,
    /// The exact bytes committed in the tree.
    pub leaf: Vec<u8>,
    /// Clear personal values and their salts, by field name; erasure removes members.
    pub personal: serde_json::Map<String, serde_json::Value>,
}

/// Which entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub actor_id: Option<String>,
    /// Entries whose action starts with this (`iam.` matches `iam.user.create`).
    pub action_prefix: Option<String>,
    pub resource_kind: Option<String>,
    pub resource_id: Option<String>,
    pub outcome: Option<String>,
    pub privileged: Option<bool>,
    /// Only entries with a smaller index (the cursor).
    pub before_index: Option<u64>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub organization_id: OrganizationId,
    pub size: u64,
    pub root: Vec<u8>,
    /// The signed note, as served.
    pub note: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    /// The C2SP key id (4 bytes).
    pub key_id: Vec<u8>,
    pub name: String,
    pub public_key: Vec<u8>,
    /// The private seed, sealed with the master key.
    pub sealed_seed: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

type EntryRow = (
    Uuid,
    i64,
    OffsetDateTime,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    bool,
    Vec<u8>,
    Json<serde_json::Map<String, serde_json::Value>>,
);

const ENTRY_COLUMNS: &str = "organization_id, idx, time, actor_id, action, resource_kind, \
                             resource_id, outcome, privileged, leaf, personal";

fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{value} is out of range")))
}

fn to_u64(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative index {value}")))
}

fn decode_entry(row: EntryRow) -> Result<AuditEntryRow, StoreError> {
    let (
        organization_id,
        index,
        time,
        actor_id,
        action,
        resource_kind,
        resource_id,
        outcome,
        privileged,
        leaf,
        personal,
    ) = row;
    Ok(AuditEntryRow {
        organization_id: OrganizationId::from_uuid(organization_id),
        index: to_u64(index)?,
        time,
        actor_id,
        action,
        resource_kind,
        resource_id,
        outcome,
        privileged,
        leaf,
        personal: personal.0,
    })
}

fn decode_checkpoint(
    row: (Uuid, i64, Vec<u8>, String, OffsetDateTime),
) -> Result<CheckpointRow, StoreError> {
    let (organization_id, size, root, note, created_at) = row;
    Ok(CheckpointRow {
        organization_id: OrganizationId::from_uuid(organization_id),
        size: to_u64(size)?,
        root,
        note,
        created_at,
    })
}

/// How many rows one multi-row INSERT carries (SQLite allows 32,766 bound values).
const ROWS_PER_STATEMENT: usize = 2_000;

/// Each actor's newest successful entry among `entries`: (actor id, (index, time)).
fn last_success_by_actor(entries: &[AuditEntryRow]) -> Vec<(&str, (u64, OffsetDateTime))> {
    let mut newest: std::collections::BTreeMap<&str, (u64, OffsetDateTime)> =
        std::collections::BTreeMap::new();
    for entry in entries.iter().filter(|entry| entry.outcome == "success") {
        if let Some(actor_id) = entry.actor_id.as_deref() {
            let slot = newest.entry(actor_id).or_insert((entry.index, entry.time));
            if entry.index > slot.0 {
                *slot = (entry.index, entry.time);
            }
        }
    }
    newest.into_iter().collect()
}

/// Insert or replace tiles, many per statement, on connection `$c` of either backend.
macro_rules! upsert_tiles {
    ($c:expr, $organization_id:expr, $tiles:expr) => {
        for chunk in $tiles.chunks(ROWS_PER_STATEMENT / 4) {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO audit_tiles (organization_id, level, idx, hashes) ",
            );
            query.push_values(chunk, |mut row, ((level, index), hashes)| {
                row.push_bind($organization_id.as_uuid())
                    .push_bind(i64::from(*level))
                    .push_bind(i64::try_from(*index).unwrap_or(i64::MAX))
                    .push_bind(hashes.as_slice());
            });
            query.push(
                " ON CONFLICT (organization_id, level, idx) DO UPDATE SET hashes = excluded.hashes",
            );
            query.build().execute(&mut *$c).await?;
        }
    };
}

/// Storage of the audit log.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait AuditLogRepository {
    /// Reserve `n` indices in an organisation's tree; returns the first (the old size). Holds
    /// the head's lock until the transaction ends.
    async fn reserve_audit_indices(
        &mut self,
        organization_id: OrganizationId,
        n: u64,
    ) -> Result<u64, StoreError>;
    /// The number of entries in an organisation's tree.
    async fn audit_size(&mut self, organization_id: OrganizationId) -> Result<u64, StoreError>;
    /// The stored bytes of these tiles (those that exist).
    async fn audit_tiles(
        &mut self,
        organization_id: OrganizationId,
        keys: &[TileKey],
    ) -> Result<Vec<(TileKey, Vec<u8>)>, StoreError>;
    /// Store entries and the tiles they changed (inserted or replaced). Counts as recording
    /// audit events.
    async fn insert_audit_entries(
        &mut self,
        entries: &[AuditEntryRow],
        tiles: &[(TileKey, Vec<u8>)],
    ) -> Result<(), StoreError>;
    /// Organisations whose subtree hashes are still stored one row per node (before tiles).
    async fn organizations_with_node_rows(&mut self) -> Result<Vec<OrganizationId>, StoreError>;
    /// An organisation's node rows, by level then index.
    async fn audit_node_rows(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<(NodeKey, [u8; 32])>, StoreError>;
    /// Bookkeeping: replace an organisation's node rows by the tiles that hold the same
    /// hashes.
    async fn replace_node_rows_by_tiles(
        &mut self,
        organization_id: OrganizationId,
        tiles: &[(TileKey, Vec<u8>)],
    ) -> Result<(), StoreError>;
    async fn list_audit_entries(
        &mut self,
        organization_id: OrganizationId,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntryRow>, StoreError>;
    /// Entries `from..to` in index order.
    async fn audit_entries_between(
        &mut self,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditEntryRow>, StoreError>;
    /// Replace an entry's clear personal values (erasure); a state change the caller audits.
    async fn set_audit_personal(
        &mut self,
        organization_id: OrganizationId,
        index: u64,
        personal: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), StoreError>;
    /// Bookkeeping: store a signed checkpoint (idempotent per size).
    async fn insert_checkpoint(&mut self, checkpoint: &CheckpointRow) -> Result<(), StoreError>;
    async fn latest_checkpoint(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<CheckpointRow>, StoreError>;
    /// The most recent checkpoints of an organisation, newest first.
    async fn recent_checkpoints(
        &mut self,
        organization_id: OrganizationId,
        limit: u32,
    ) -> Result<Vec<CheckpointRow>, StoreError>;
    /// Organisations whose tree grew past their latest checkpoint, with the current size.
    async fn uncheckpointed_trees(&mut self) -> Result<Vec<(OrganizationId, u64)>, StoreError>;
    /// Every organisation that has a tree.
    async fn audited_organizations(&mut self) -> Result<Vec<OrganizationId>, StoreError>;
    async fn insert_signing_key(&mut self, key: &SigningKeyRow) -> Result<(), StoreError>;
    async fn signing_keys(&mut self) -> Result<Vec<SigningKeyRow>, StoreError>;
    async fn retire_signing_keys(&mut self, at: OffsetDateTime) -> Result<(), StoreError>;
}

impl AuditLogRepository for Transaction {
    async fn reserve_audit_indices(
        &mut self,
        organization_id: OrganizationId,
        n: u64,
    ) -> Result<u64, StoreError> {
        let sql = "INSERT INTO audit_heads (organization_id, size) VALUES ($1, $2) \
                   ON CONFLICT (organization_id) DO UPDATE SET size = audit_heads.size + $2 \
                   RETURNING size";
        let n = to_i64(n)?;
        let (size,): (i64,) = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(n)
            .fetch_one(&mut *c)
            .await)?;
        to_u64(size - n)
    }

    async fn audit_size(&mut self, organization_id: OrganizationId) -> Result<u64, StoreError> {
        let sql = "SELECT size FROM audit_heads WHERE organization_id = $1";
        let row: Option<(i64,)> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        row.map_or(Ok(0), |(size,)| to_u64(size))
    }

    async fn audit_tiles(
        &mut self,
        organization_id: OrganizationId,
        keys: &[TileKey],
    ) -> Result<Vec<(TileKey, Vec<u8>)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One row whose columns are the tiles, each a primary-key lookup in a scalar
        // subquery: the driver hands rows over one at a time, so a proof's eight tiles as
        // eight rows cost eight hand-overs where this costs one.
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(64) {
            let columns: Vec<Option<Vec<u8>>> = on_backend!(self.connection(), c => {
                let mut query = sqlx::QueryBuilder::new("SELECT ");
                for (n, (level, index)) in chunk.iter().enumerate() {
                    if n > 0 {
                        query.push(", ");
                    }
                    query.push("(SELECT hashes FROM audit_tiles WHERE organization_id = ");
                    query.push_bind(organization_id.as_uuid());
                    query.push(" AND level = ").push_bind(i64::from(*level));
                    query.push(" AND idx = ").push_bind(to_i64(*index)?).push(")");
                }
                let row = query.build().fetch_one(&mut *c).await?;
                (0..chunk.len()).map(|column| sqlx::Row::try_get(&row, column)).collect::<Result<Vec<_>, _>>()
            })?;
            found.extend(chunk.iter().zip(columns).filter_map(|(key, bytes)| Some((*key, bytes?))));
        }
        Ok(found)
    }

    async fn insert_audit_entries(
        &mut self,
        entries: &[AuditEntryRow],
        tiles: &[(TileKey, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let Some(first) = entries.first() else { return Ok(()) };
        let organization_id = first.organization_id;
        let connection = self.record_audit_event()?;
        on_backend!(connection, c => {
            for chunk in entries.chunks(ROWS_PER_STATEMENT / 6) {
                let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO audit_entries ({ENTRY_COLUMNS}) "));
                query.push_values(chunk, |mut row, entry| {
                    row.push_bind(entry.organization_id.as_uuid())
                        .push_bind(i64::try_from(entry.index).unwrap_or(i64::MAX))
                        .push_bind(entry.time)
                        .push_bind(&entry.actor_id)
                        .push_bind(&entry.action)
                        .push_bind(&entry.resource_kind)
                        .push_bind(&entry.resource_id)
                        .push_bind(&entry.outcome)
                        .push_bind(entry.privileged)
                        .push_bind(&entry.leaf)
                        .push_bind(Json(&entry.personal));
                });
                query.build().execute(&mut *c).await.map_err(|error| StoreError::from_write(error, "this audit index is already taken"))?;
            }
            upsert_tiles!(c, organization_id, tiles);
            let activity = last_success_by_actor(entries);
            for chunk in activity.chunks(ROWS_PER_STATEMENT / 4) {
                let mut query = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_actor_activity (organization_id, actor_id, last_idx, last_time) ",
                );
                query.push_values(chunk, |mut row, (actor_id, (index, time))| {
                    row.push_bind(organization_id.as_uuid())
                        .push_bind(*actor_id)
                        .push_bind(i64::try_from(*index).unwrap_or(i64::MAX))
                        .push_bind(*time);
                });
                query.push(concat!(
                    " ON CONFLICT (organization_id, actor_id) DO UPDATE SET ",
                    "last_idx = excluded.last_idx, last_time = excluded.last_time ",
                    "WHERE excluded.last_idx > audit_actor_activity.last_idx"
                ));
                query.build().execute(&mut *c).await?;
            }
            Ok::<(), StoreError>(())
        })
    }

    async fn organizations_with_node_rows(&mut self) -> Result<Vec<OrganizationId>, StoreError> {
        let sql = "SELECT DISTINCT organization_id FROM audit_nodes";
        let rows: Vec<(Uuid,)> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows.into_iter().map(|(id,)| OrganizationId::from_uuid(id)).collect())
    }

    async fn audit_node_rows(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<(NodeKey, [u8; 32])>, StoreError> {
        let sql = "SELECT level, idx, hash FROM audit_nodes WHERE organization_id = $1 \
                   ORDER BY level, idx";
        let rows: Vec<(i64, i64, Vec<u8>)> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter()
            .map(|(level, index, hash)| {
                let level = u8::try_from(level)
                    .map_err(|_| StoreError::Corrupt(format!("node level {level}")))?;
                let hash: [u8; 32] = hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("node hash is not 32 bytes".into()))?;
                Ok(((level, to_u64(index)?), hash))
            })
            .collect()
    }

    async fn replace_node_rows_by_tiles(
        &mut self,
        organization_id: OrganizationId,
        tiles: &[(TileKey, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM audit_nodes WHERE organization_id = $1";
        on_backend!(self.connection(), c => {
            upsert_tiles!(c, organization_id, tiles);
            sqlx::query(sql).bind(organization_id.as_uuid()).execute(&mut *c).await?;
            Ok::<(), StoreError>(())
        })
    }

    async fn list_audit_entries(
        &mut self,
        organization_id: OrganizationId,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntryRow>, StoreError> {
        let before = to_i64(filter.before_index.unwrap_or(i64::MAX as u64))?;
        let rows: Vec<EntryRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!("SELECT {ENTRY_COLUMNS} FROM audit_entries WHERE organization_id = "));
            query.push_bind(organization_id.as_uuid());
            query.push(" AND idx < ").push_bind(before);
            if let Some(since) = filter.since {
                query.push(" AND time >= ").push_bind(since);
            }
            if let Some(until) = filter.until {
                query.push(" AND time < ").push_bind(until);
            }
            if let Some(actor_id) = &filter.actor_id {
                query.push(" AND actor_id = ").push_bind(actor_id);
            }
            if let Some(prefix) = &filter.action_prefix {
                // A range on the prefix, rather than LIKE, so that `_` and `%` mean themselves.
                query.push(" AND action >= ").push_bind(prefix);
                query.push(" AND action < ").push_bind(format!("{prefix}\u{10FFFF}"));
            }
            if let Some(kind) = &filter.resource_kind {
                query.push(" AND resource_kind = ").push_bind(kind);
            }
            if let Some(id) = &filter.resource_id {
                query.push(" AND resource_id = ").push_bind(id);
            }
            if let Some(outcome) = &filter.outcome {
                query.push(" AND outcome = ").push_bind(outcome);
            }
            if let Some(privileged) = filter.privileged {
                query.push(" AND privileged = ").push_bind(privileged);
            }
            query
                .push(" ORDER BY idx DESC LIMIT CAST(")
                .push_bind(i64::from(filter.limit))
                .push(" AS BIGINT)");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(decode_entry).collect()
    }

    async fn audit_entries_between(
        &mut self,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditEntryRow>, StoreError> {
        let sql = "SELECT organization_id, idx, time, actor_id, action, resource_kind, \
                   resource_id, outcome, privileged, leaf, personal FROM audit_entries \
                   WHERE organization_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx";
        let rows: Vec<EntryRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(to_i64(from)?)
            .bind(to_i64(to)?)
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter().map(decode_entry).collect()
    }

    async fn set_audit_personal(
        &mut self,
        organization_id: OrganizationId,
        index: u64,
        personal: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE audit_entries SET personal = $1 WHERE organization_id = $2 AND idx = $3";
        let index = to_i64(index)?;
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(Json(personal))
            .bind(organization_id.as_uuid())
            .bind(index)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("audit entry"));
        }
        Ok(())
    }

    async fn insert_checkpoint(&mut self, checkpoint: &CheckpointRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO audit_checkpoints (organization_id, size, root, note, created_at) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (organization_id, size) DO NOTHING";
        on_backend!(self.connection(), c => sqlx::query(sql)
            .bind(checkpoint.organization_id.as_uuid())
            .bind(to_i64(checkpoint.size)?)
            .bind(&checkpoint.root)
            .bind(&checkpoint.note)
            .bind(checkpoint.created_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn latest_checkpoint(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<CheckpointRow>, StoreError> {
        Ok(self.recent_checkpoints(organization_id, 1).await?.into_iter().next())
    }

    async fn recent_checkpoints(
        &mut self,
        organization_id: OrganizationId,
        limit: u32,
    ) -> Result<Vec<CheckpointRow>, StoreError> {
        let sql = "SELECT organization_id, size, root, note, created_at FROM audit_checkpoints \
                   WHERE organization_id = $1 ORDER BY size DESC LIMIT CAST($2 AS BIGINT)";
        let rows: Vec<(Uuid, i64, Vec<u8>, String, OffsetDateTime)> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter().map(decode_checkpoint).collect()
    }

    async fn uncheckpointed_trees(&mut self) -> Result<Vec<(OrganizationId, u64)>, StoreError> {
        let sql = "SELECT h.organization_id, h.size FROM audit_heads h \
                   WHERE h.size > COALESCE((SELECT MAX(c.size) FROM audit_checkpoints c \
                                            WHERE c.organization_id = h.organization_id), 0)";
        let rows: Vec<(Uuid, i64)> =
            on_backend!(self.connection(), c => sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        rows.into_iter()
            .map(|(id, size)| Ok((OrganizationId::from_uuid(id), to_u64(size)?)))
            .collect()
    }

    async fn audited_organizations(&mut self) -> Result<Vec<OrganizationId>, StoreError> {
        let sql = "SELECT organization_id FROM audit_heads ORDER BY organization_id";
        let rows: Vec<(Uuid,)> =
            on_backend!(self.connection(), c => sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(|(id,)| OrganizationId::from_uuid(id)).collect())
    }

    async fn insert_signing_key(&mut self, key: &SigningKeyRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO audit_signing_keys (key_id, name, public_key, sealed_seed, created_at, retired_at) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&key.key_id)
            .bind(&key.name)
            .bind(&key.public_key)
            .bind(&key.sealed_seed)
            .bind(key.created_at)
            .bind(key.retired_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, "a signing key with this id already exists"))
    }

    async fn signing_keys(&mut self) -> Result<Vec<SigningKeyRow>, StoreError> {
        let sql = "SELECT key_id, name, public_key, sealed_seed, created_at, retired_at \
                   FROM audit_signing_keys ORDER BY created_at";
        type KeyRow = (Vec<u8>, String, Vec<u8>, Vec<u8>, OffsetDateTime, Option<OffsetDateTime>);
        let rows: Vec<KeyRow> =
            on_backend!(self.connection(), c => sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        Ok(rows
            .into_iter()
            .map(|(key_id, name, public_key, sealed_seed, created_at, retired_at)| SigningKeyRow {
                key_id,
                name,
                public_key,
                sealed_seed,
                created_at,
                retired_at,
            })
            .collect())
    }

    async fn retire_signing_keys(&mut self, at: OffsetDateTime) -> Result<(), StoreError> {
        let sql = "UPDATE audit_signing_keys SET retired_at = $1 WHERE retired_at IS NULL";
        on_backend!(self.change()?, c => sqlx::query(sql).bind(at).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }
}
