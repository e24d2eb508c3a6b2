//! Writing to the audit log: each event becomes an entry of its organisation's Merkle tree,
//! in the transaction of the change it records. Personal fields get a fresh random salt and
//! only their salted hash enters the leaf, so they can be erased later.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use audit::merkle::{CompactRange, NodeId, compact_range_node_ids, leaf_hash};
use audit::tiles::{Tile, TileId};
use audit::{ActorKind, Entry, PersonalField};
use base::{AuditEvent, OrganizationId};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::{RngCore as _, SeedableRng as _};
use store::{AuditEntryRow, AuditLogRepository, Transaction};

use crate::AppError;

/// Appending audit events, on a store transaction.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait AuditTrail {
    /// Append one event to its organisation's log; returns the entry's index.
    async fn append_audit_event(&mut self, event: &AuditEvent) -> Result<u64, AppError>;
    /// Append events in order, one tree update per organisation (group commit).
    async fn append_audit_events(&mut self, events: &[AuditEvent]) -> Result<(), AppError>;
}

impl AuditTrail for Transaction {
    async fn append_audit_event(&mut self, event: &AuditEvent) -> Result<u64, AppError> {
        append_for_organization(self, event.organization_id, std::slice::from_ref(event)).await
    }

    async fn append_audit_events(&mut self, events: &[AuditEvent]) -> Result<(), AppError> {
        let mut start = 0;
        while start < events.len() {
            let organization_id = events[start].organization_id;
            let end = events[start..]
                .iter()
                .position(|event| event.organization_id != organization_id)
                .map_or(events.len(), |offset| start + offset);
            append_for_organization(self, organization_id, &events[start..end]).await?;
            start = end;
        }
        Ok(())
    }
}

/// The stored tiles holding `nodes`, parsed.
pub(crate) async fn fetch_tiles(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    nodes: &[NodeId],
) -> Result<BTreeMap<TileId, Tile>, AppError> {
    let keys = tile_keys(nodes);
    transaction.audit_tiles(organization_id, &keys).await?.into_iter().map(parse_tile).collect()
}

/// The stored keys (level, index) of the tiles holding `nodes`.
pub(crate) fn tile_keys(nodes: &[NodeId]) -> Vec<(u8, u64)> {
    TileId::covering(nodes).into_iter().map(|id| (id.level, id.index)).collect()
}

/// A stored tile, parsed.
pub(crate) fn parse_tile(
    ((level, index), bytes): ((u8, u64), Vec<u8>),
) -> Result<(TileId, Tile), AppError> {
    let tile = Tile::from_bytes(&bytes)
        .map_err(|error| AppError::Internal(format!("audit tile ({level}, {index}): {error}")))?;
    Ok((TileId { level, index }, tile))
}

/// The hash of a node from the tiles that hold it.
pub(crate) fn node_in(tiles: &BTreeMap<TileId, Tile>, node: NodeId) -> Option<audit::Hash> {
    let id = TileId::of(node);
    tiles.get(&id)?.get(id, node)
}

/// The stored hashes of `nodes` (those that exist), reading each tile that holds some once.
pub async fn fetch_nodes(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    nodes: &[NodeId],
) -> Result<HashMap<NodeId, audit::Hash>, AppError> {
    let tiles = fetch_tiles(transaction, organization_id, nodes).await?;
    Ok(nodes.iter().filter_map(|&node| Some((node, node_in(&tiles, node)?))).collect())
}

/// The compact range of leaves `[begin, end)`, from the stored nodes.
pub(crate) async fn frontier(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    begin: u64,
    end: u64,
) -> Result<Vec<audit::Hash>, AppError> {
    let ids = compact_range_node_ids(begin, end);
    let nodes = fetch_nodes(transaction, organization_id, &ids).await?;
    ids.iter()
        .map(|id| {
            nodes.get(id).copied().ok_or_else(|| {
                AppError::Internal(format!("audit node ({}, {}) is missing", id.level, id.index))
            })
        })
        .collect()
}

async fn append_for_organization(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    events: &[AuditEvent],
) -> Result<u64, AppError> {
    let n = u64::try_from(events.len()).unwrap_or(u64::MAX);
    let first = transaction.reserve_audit_indices(organization_id, n).await?;
    // The tiles of the right edge are the only ones that can grow (a partial tile always
    // holds a node of the edge), so they are all an append needs to read.
    let edge = compact_range_node_ids(0, first);
    let mut tiles = fetch_tiles(transaction, organization_id, &edge).await?;
    let hashes = edge
        .iter()
        .map(|&node| {
            node_in(&tiles, node).ok_or_else(|| {
                AppError::Internal(format!(
                    "audit node ({}, {}) is missing",
                    node.level, node.index
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut tree = CompactRange::from_parts(0, first, hashes)
        .map_err(|error| AppError::Internal(format!("audit tree: {error}")))?;
    let rows = entry_rows(organization_id, events, first)?;
    let mut nodes = Vec::with_capacity(events.len() * 2);
    for (row, hash) in &rows {
        debug_assert_eq!(row.index, tree.end());
        tree.append(*hash, &mut |node, hash| nodes.push((node, hash)))
            .map_err(|error| AppError::Internal(format!("audit tree: {error}")))?;
    }
    let rows: Vec<AuditEntryRow> = rows.into_iter().map(|(row, _)| row).collect();
    let mut changed = BTreeSet::new();
    for (node, hash) in nodes {
        let id = TileId::of(node);
        tiles
            .entry(id)
            .or_default()
            .push(id, node, hash)
            .map_err(|error| AppError::Internal(format!("audit tiles: {error}")))?;
        changed.insert(id);
    }
    let written: Vec<((u8, u64), Vec<u8>)> = changed
        .iter()
        .filter_map(|id| tiles.get(id).map(|tile| ((id.level, id.index), tile.to_bytes())))
        .collect();
    transaction.insert_audit_entries(&rows, &written).await?;
    Ok(first)
}

/// Below this many events, building the rows on one thread is faster than starting others.
const PARALLEL_FROM: usize = 256;

/// The stored rows of `events`, numbered from `first`, with their leaf hashes. Large group
/// commits build them on every core (each entry is independent; order is kept).
fn entry_rows(
    organization_id: OrganizationId,
    events: &[AuditEvent],
    first: u64,
) -> Result<Vec<(AuditEntryRow, audit::Hash)>, AppError> {
    if events.len() < PARALLEL_FROM {
        return build_rows(organization_id, events, first);
    }
    // Asked once: the answer reads the cgroup files, which costs more than a small append.
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads = *THREADS
        .get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    if threads < 2 {
        return build_rows(organization_id, events, first);
    }
    let chunk = events.len().div_ceil(threads);
    let parts: Vec<Result<Vec<_>, AppError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = events
            .chunks(chunk)
            .zip((first..).step_by(chunk))
            .map(|(events, first)| scope.spawn(move || build_rows(organization_id, events, first)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(AppError::Internal("building audit entries panicked".into()))
                })
            })
            .collect()
    });
    let mut rows = Vec::with_capacity(events.len());
    for part in parts {
        rows.extend(part?);
    }
    Ok(rows)
}

fn build_rows(
    organization_id: OrganizationId,
    events: &[AuditEvent],
    first: u64,
) -> Result<Vec<(AuditEntryRow, audit::Hash)>, AppError> {
    let mut salts = Salts::new();
    let mut rows = Vec::with_capacity(events.len());
    for (offset, event) in (0..).zip(events) {
        let entry = entry_of(event, first + offset, &mut salts)?;
        let leaf = entry
            .leaf_bytes()
            .map_err(|error| AppError::Internal(format!("audit entry: {error}")))?;
        let hash = leaf_hash(&leaf);
        let personal = personal_values(&entry);
        let row = AuditEntryRow {
            organization_id,
            index: entry.index,
            time: entry.time,
            outcome: entry.outcome.as_str().to_owned(),
            privileged: entry.privileged,
            actor_id: entry.actor_id,
            action: entry.action,
            resource_kind: entry.resource_type,
            resource_id: entry.resource_id,
            leaf,
            personal,
        };
        rows.push((row, hash));
    }
    Ok(rows)
}

/// Salts for personal fields: a generator seeded from the operating system once per append
/// (one system call per batch, not one per field).
pub(crate) struct Salts(rand::rngs::StdRng);

impl Salts {
    pub(crate) fn new() -> Self {
        Self(rand::rngs::StdRng::from_entropy())
    }

    fn next(&mut self) -> [u8; 16] {
        let mut salt = [0u8; 16];
        self.0.fill_bytes(&mut salt);
        salt
    }
}

fn optional(value: Option<String>, salts: &mut Salts) -> PersonalField {
    value.map_or(PersonalField::Absent, |value| PersonalField::present(value, salts.next()))
}

/// The leaf form of an event.
pub(crate) fn entry_of(
    event: &AuditEvent,
    index: u64,
    salts: &mut Salts,
) -> Result<Entry, AppError> {
    let details = if event.details.is_empty() {
        PersonalField::Absent
    } else {
        PersonalField::details(&serde_json::Value::Object(event.details.clone()), salts.next())
            .map_err(|error| AppError::Internal(format!("audit details: {error}")))?
    };
    Ok(Entry {
        organization_id: *event.organization_id.as_uuid(),
        index,
        time: audit::entry::canonical_time(event.time),
        actor_kind: match event.actor.kind() {
            base::ActorKind::User => ActorKind::User,
            base::ActorKind::Application => ActorKind::Application,
            base::ActorKind::Staff => ActorKind::Staff,
            base::ActorKind::System => ActorKind::System,
        },
        actor_id: event.actor.id(),
        credential: event.actor.credential().map(|credential| credential.to_string()),
        action: event.action.clone(),
        resource_type: event.resource.kind.clone(),
        resource_id: event.resource.id.clone(),
        outcome: match event.outcome {
            base::Outcome::Success => audit::Outcome::Success,
            base::Outcome::Denied { .. } => audit::Outcome::Denied,
            base::Outcome::Failed { .. } => audit::Outcome::Failed,
        },
        reason: event.outcome.reason().map(str::to_owned),
        request_id: event.context.request_id.clone(),
        privileged: event.privileged,
        actor_label: optional(event.actor.label().map(str::to_owned), salts),
        source_ip: optional(event.context.source_ip.map(|ip| ip.to_string()), salts),
        user_agent: optional(event.context.user_agent.clone(), salts),
        details,
    })
}

/// The clear personal values and salts stored beside the leaf: `{field: {value, salt}}`.
fn personal_values(entry: &Entry) -> serde_json::Map<String, serde_json::Value> {
    entry
        .personal_fields()
        .into_iter()
        .filter_map(|(name, field)| match field {
            PersonalField::Present { value, salt } => Some((
                name.as_str().to_owned(),
                serde_json::json!({ "value": value, "salt": BASE64.encode(salt) }),
            )),
            PersonalField::Absent | PersonalField::Erased { .. } => None,
        })
        .collect()
}

/// An entry as stored: its leaf decoded, and the personal values that are still there put
/// back. A stored value that does not match the leaf's commitment is an integrity failure.
pub(crate) fn entry_from_row(row: &AuditEntryRow) -> Result<Entry, String> {
    let mut entry = Entry::from_leaf_bytes(&row.leaf)
        .map_err(|error| format!("entry {}: leaf: {error}", row.index))?;
    if entry.index != row.index || entry.organization_id != *row.organization_id.as_uuid() {
        return Err(format!("entry {}: leaf is for another position", row.index));
    }
    for (name, value) in &row.personal {
        let value_text = value.get("value").and_then(|v| v.as_str());
        let salt = value
            .get("salt")
            .and_then(|v| v.as_str())
            .and_then(|salt| BASE64.decode(salt).ok())
            .and_then(|salt| <[u8; 16]>::try_from(salt).ok());
        let (Some(value_text), Some(salt)) = (value_text, salt) else {
            return Err(format!("entry {}: field {name}: malformed stored value", row.index));
        };
        let present = PersonalField::present(value_text, salt);
        let slot = match name.as_str() {
            "actor_label" => &mut entry.actor_label,
            "source_ip" => &mut entry.source_ip,
            "user_agent" => &mut entry.user_agent,
            "details" => &mut entry.details,
            other => return Err(format!("entry {}: unknown personal field {other}", row.index)),
        };
        let field_name = entry_field_name(name).ok_or_else(|| format!("unknown field {name}"))?;
        if slot.commitment(field_name) != present.commitment(field_name) {
            return Err(format!(
                "entry {}: field {name}: value does not match the leaf",
                row.index
            ));
        }
        *slot = present;
    }
    Ok(entry)
}

fn entry_field_name(name: &str) -> Option<audit::PersonalFieldName> {
    [
        audit::PersonalFieldName::ActorLabel,
        audit::PersonalFieldName::SourceIp,
        audit::PersonalFieldName::UserAgent,
        audit::PersonalFieldName::Details,
    ]
    .into_iter()
    .find(|field| field.as_str() == name)
}

/// Move subtree hashes still stored one row per node (databases created before tiles) into
/// tiles, one organisation per transaction; returns how many organisations moved. The hashes
/// are moved, not recomputed: the tree and its checkpoints are unchanged.
pub async fn move_audit_nodes_to_tiles(store: &store::Store) -> Result<usize, AppError> {
    let mut read = store.read_latest().await?;
    let organizations = read.organizations_with_node_rows().await?;
    read.commit().await?;
    for &organization_id in &organizations {
        let mut transaction = store.begin().await?;
        let rows = transaction.audit_node_rows(organization_id).await?;
        let mut tiles: BTreeMap<TileId, Tile> = BTreeMap::new();
        // By level then index: each node comes next in its tile.
        for ((level, index), hash) in rows {
            let node = NodeId::new(level, index);
            let id = TileId::of(node);
            tiles.entry(id).or_default().push(id, node, hash).map_err(|error| {
                AppError::Internal(format!("moving audit nodes of {organization_id}: {error}"))
            })?;
        }
        let tiles: Vec<((u8, u64), Vec<u8>)> =
            tiles.iter().map(|(id, tile)| ((id.level, id.index), tile.to_bytes())).collect();
        transaction.replace_node_rows_by_tiles(organization_id, &tiles).await?;
        transaction.commit().await?;
    }
    Ok(organizations.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base::{Actor, Outcome, RequestContext, Resource};

    fn event(organization_id: OrganizationId, n: u64) -> AuditEvent {
        AuditEvent {
            organization_id,
            time: time::macros::datetime!(2026-03-01 09:00 UTC) + time::Duration::seconds(n as i64),
            actor: Actor::System,
            action: format!("test.event.{n}"),
            resource: Resource::new("test", n),
            outcome: Outcome::Success,
            context: RequestContext::default(),
            privileged: false,
            details: serde_json::Map::new(),
        }
    }

    /// A large group commit is built on several threads: every row must still be the entry of
    /// its own event at its own index, in order, with the hash of its own leaf.
    #[test]
    fn rows_built_in_parallel_keep_their_order_and_indices() {
        let organization_id = OrganizationId::new(1, [1; 10]);
        let events: Vec<AuditEvent> = (0..1_000).map(|n| event(organization_id, n)).collect();
        let first = 5_000;
        let rows = entry_rows(organization_id, &events, first).unwrap();
        assert_eq!(rows.len(), events.len());
        for (n, (row, hash)) in rows.iter().enumerate() {
            let n = n as u64;
            assert_eq!(row.index, first + n);
            assert_eq!(row.action, format!("test.event.{n}"));
            assert_eq!(*hash, leaf_hash(&row.leaf));
            let entry = Entry::from_leaf_bytes(&row.leaf).unwrap();
            assert_eq!((entry.index, entry.action.as_str()), (first + n, row.action.as_str()));
        }
    }
}
