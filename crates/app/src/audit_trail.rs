//! Writing to the audit log: each event becomes an entry of its organisation's Merkle tree,
//! in the transaction of the change it records. Personal fields get a fresh random salt and
//! only their salted hash enters the leaf, so they can be erased later.

use std::collections::HashMap;

use audit::merkle::{CompactRange, NodeId, compact_range_node_ids, leaf_hash};
use audit::{ActorKind, Entry, PersonalField};
use base::{AuditEvent, OrganizationId};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore as _;
use store::{AuditEntryRow, AuditLogRepository, NodeKey, Transaction};

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

/// The right edge of the tree of `size` leaves, from the stored complete nodes.
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
            nodes.get(&(id.level, id.index)).copied().ok_or_else(|| {
                AppError::Internal(format!("audit node ({}, {}) is missing", id.level, id.index))
            })
        })
        .collect()
}

pub(crate) async fn fetch_nodes(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    ids: &[NodeId],
) -> Result<HashMap<NodeKey, audit::Hash>, AppError> {
    let keys: Vec<NodeKey> = ids.iter().map(|id| (id.level, id.index)).collect();
    Ok(transaction.audit_nodes(organization_id, &keys).await?.into_iter().collect())
}

async fn append_for_organization(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    events: &[AuditEvent],
) -> Result<u64, AppError> {
    let n = u64::try_from(events.len()).unwrap_or(u64::MAX);
    let first = transaction.reserve_audit_indices(organization_id, n).await?;
    let hashes = frontier(transaction, organization_id, 0, first).await?;
    let mut tree = CompactRange::from_parts(0, first, hashes)
        .map_err(|error| AppError::Internal(format!("audit tree: {error}")))?;
    let mut rows = Vec::with_capacity(events.len());
    let mut nodes = Vec::with_capacity(events.len() * 2);
    for (offset, event) in (0..).zip(events) {
        let entry = entry_of(event, first + offset)?;
        let leaf = entry
            .leaf_bytes()
            .map_err(|error| AppError::Internal(format!("audit entry: {error}")))?;
        tree.append(leaf_hash(&leaf), &mut |id, hash| nodes.push(((id.level, id.index), hash)))
            .map_err(|error| AppError::Internal(format!("audit tree: {error}")))?;
        rows.push(AuditEntryRow {
            organization_id,
            index: entry.index,
            time: entry.time,
            actor_id: entry.actor_id.clone(),
            action: entry.action.clone(),
            resource_kind: entry.resource_type.clone(),
            resource_id: entry.resource_id.clone(),
            outcome: entry.outcome.as_str().to_owned(),
            privileged: entry.privileged,
            leaf,
            personal: personal_values(&entry),
        });
    }
    transaction.insert_audit_entries(&rows, &nodes).await?;
    Ok(first)
}

fn salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

fn optional(value: Option<String>) -> PersonalField {
    value.map_or(PersonalField::Absent, |value| PersonalField::present(value, salt()))
}

/// The leaf form of an event.
pub(crate) fn entry_of(event: &AuditEvent, index: u64) -> Result<Entry, AppError> {
    let details = if event.details.is_empty() {
        PersonalField::Absent
    } else {
        PersonalField::details(&serde_json::Value::Object(event.details.clone()), salt())
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
        actor_label: optional(event.actor.label().map(str::to_owned)),
        source_ip: optional(event.context.source_ip.map(|ip| ip.to_string())),
        user_agent: optional(event.context.user_agent.clone()),
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
