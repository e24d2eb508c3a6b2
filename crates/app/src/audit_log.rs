//! Reading the audit log: listing entries, checkpoints, proofs, exports, erasure of personal
//! fields, and the integrity check that recomputes roots and leaves. Reading entries is itself a
//! privileged, audited action.

use audit::export::{ExportHeader, ExportLine, ExportTrailer};
use audit::merkle::{consistency_proof_plan, inclusion_proof_plan, root_plan};
use audit::{Checkpoint, Entry, NodeId, NoteVerifier, ProofPlan};
use base::{OrganizationId, Outcome, RequestContext, Resource};
use store::{AuditFilter, AuditLogRepository, CheckpointRow, Transaction};

use crate::audit_trail::{AuditTrail as _, entry_from_row, fetch_nodes, frontier};
use crate::organizations::check_limit;
use crate::{App, AppError, Principal};

/// The deployment-wide audit settings.
pub(crate) struct AuditState {
    pub(crate) deployment_name: String,
    pub(crate) master_key: crate::MasterKey,
    pub(crate) signer: tokio::sync::RwLock<Option<std::sync::Arc<audit::NoteSigner>>>,
    /// Full tiles read for proofs.
    pub(crate) tiles: crate::audit_tile_cache::TileCache,
    /// On SQLite, where proofs read the tiles no cache holds (see `store::SqliteTileReader`).
    pub(crate) tile_reader: Option<store::SqliteTileReader>,
}

impl AuditState {
    pub(crate) fn new(
        deployment_name: &str,
        master_key: crate::MasterKey,
        store: &store::Store,
    ) -> Self {
        Self {
            deployment_name: deployment_name.to_owned(),
            master_key,
            signer: tokio::sync::RwLock::new(None),
            tiles: crate::audit_tile_cache::TileCache::new(
                crate::audit_tile_cache::DEFAULT_CACHED_TILES,
            ),
            tile_reader: store.sqlite_file().map(|path| store::SqliteTileReader::new(&path)),
        }
    }
}

/// One page of entries, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<Entry>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<u64>,
}

/// An export in three parts: the header and trailer lines, and the index range whose entry
/// lines come between them (read page by page with [`App::audit_export_lines`]).
#[derive(Debug, Clone)]
pub struct AuditExport {
    pub header: String,
    pub trailer: String,
    pub organization_id: OrganizationId,
    pub from_index: u64,
    pub to_index: u64,
}

/// A problem found by the integrity check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityFailure {
    pub organization_id: OrganizationId,
    pub reason: String,
}

fn internal(what: &str) -> impl Fn(audit::MerkleError) -> AppError + '_ {
    move |error| AppError::Internal(format!("{what}: {error}"))
}

async fn assemble(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    plan: &ProofPlan,
) -> Result<Vec<audit::Hash>, AppError> {
    let nodes = fetch_nodes(transaction, organization_id, &plan.node_ids()).await?;
    plan.assemble(|id| nodes.get(&id).copied()).map_err(internal("audit proof"))
}

async fn root_at(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    size: u64,
) -> Result<audit::Hash, AppError> {
    let proof = assemble(transaction, organization_id, &root_plan(size)).await?;
    match proof.as_slice() {
        [root] => Ok(*root),
        [] => Ok(audit::merkle::empty_root()),
        _ => Err(AppError::Internal("root plan gave several hashes".into())),
    }
}

impl App {
    /// The checkpoint origin of an organisation's log.
    pub fn audit_origin(&self, organization_id: OrganizationId) -> String {
        format!("{}/audit/{organization_id}", self.audit.deployment_name)
    }

    /// Sign a checkpoint for every tree that grew since its last one. Called every second by
    /// the server, and before each export.
    pub async fn sign_pending_checkpoints(&self) -> Result<usize, AppError> {
        let mut read = self.store.read_latest().await?;
        let pending = read.uncheckpointed_trees().await?;
        read.commit().await?;
        for (organization_id, size) in &pending {
            self.sign_checkpoint(*organization_id, *size).await?;
        }
        Ok(pending.len())
    }

    async fn sign_checkpoint(
        &self,
        organization_id: OrganizationId,
        size: u64,
    ) -> Result<CheckpointRow, AppError> {
        let signer = self.signer().await?;
        let mut transaction = self.store.read().await?;
        let root = root_at(&mut transaction, organization_id, size).await?;
        let checkpoint = Checkpoint {
            origin: self.audit_origin(organization_id),
            size,
            root,
            extensions: Vec::new(),
        };
        let note = signer
            .sign_checkpoint(&checkpoint)
            .map_err(|error| AppError::Internal(format!("signing a checkpoint: {error}")))?;
        transaction.commit().await?;
        let row = CheckpointRow {
            organization_id,
            size,
            root: root.to_vec(),
            note,
            created_at: self.clock.now(),
        };
        // Checkpoints are bookkeeping (signing one is not a change to audit), and idempotent.
        let mut transaction = self.store.begin().await?;
        transaction.insert_checkpoint(&row).await?;
        transaction.commit().await?;
        Ok(row)
    }

    /// The latest checkpoint, signed now if the tree grew since.
    pub async fn audit_checkpoint(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<CheckpointRow, AppError> {
        self.authorize_in(principal, organization_id, "audit:checkpoints:read", context).await?;
        self.fresh_checkpoint(organization_id).await
    }

    pub(crate) async fn fresh_checkpoint(
        &self,
        organization_id: OrganizationId,
    ) -> Result<CheckpointRow, AppError> {
        let mut read = self.store.read().await?;
        let size = read.audit_size(organization_id).await?;
        let latest = read.latest_checkpoint(organization_id).await?;
        read.commit().await?;
        match latest {
            Some(latest) if latest.size == size => Ok(latest),
            _ => self.sign_checkpoint(organization_id, size).await,
        }
    }

    async fn record_audit_read(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: &str,
        context: &RequestContext,
        details: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), AppError> {
        let mut event = self.success_event(
            principal,
            organization_id,
            action,
            Resource::new("audit_log", organization_id),
            context,
        );
        event.privileged = true;
        event.details = details;
        let mut transaction = self.store.begin().await?;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Entries matching `filter`, newest first. The read is recorded first, as a privileged
    /// action.
    pub async fn audit_events(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        mut filter: AuditFilter,
        context: &RequestContext,
    ) -> Result<AuditPage, AppError> {
        let limit = check_limit(filter.limit)?;
        self.authorize_in(principal, organization_id, "audit:events:read", context).await?;
        self.record_audit_read(
            principal,
            organization_id,
            "audit.events.read",
            context,
            serde_json::Map::new(),
        )
        .await?;
        filter.limit = limit + 1;
        let mut read = self.store.read_latest().await?;
        let mut rows = read.list_audit_entries(organization_id, &filter).await?;
        read.commit().await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let entries = rows
            .iter()
            .map(entry_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(AppError::Internal)?;
        let next_before = if has_more { entries.last().map(|entry| entry.index) } else { None };
        Ok(AuditPage { entries, next_before })
    }

    /// The proof that entry `index` is in the tree of `size` entries.
    pub async fn audit_inclusion_proof(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        index: u64,
        size: u64,
        context: &RequestContext,
    ) -> Result<Vec<audit::Hash>, AppError> {
        self.authorize_in(principal, organization_id, "audit:proofs:read", context).await?;
        if index >= size {
            return Err(AppError::InvalidInput(format!(
                "need index < size; got index {index}, size {size}"
            )));
        }
        let plan = inclusion_proof_plan(index, size).map_err(internal("inclusion proof"))?;
        match self.proof_within(organization_id, &plan, size).await? {
            Some(proof) => Ok(proof),
            None => {
                let current = self.tree_size(organization_id).await?;
                Err(AppError::InvalidInput(format!(
                    "need index < size <= {current} (the tree's size); got index {index}, \
                     size {size}"
                )))
            }
        }
    }

    /// The proof that the tree of `from` entries is a prefix of the tree of `to` entries.
    pub async fn audit_consistency_proof(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
        context: &RequestContext,
    ) -> Result<Vec<audit::Hash>, AppError> {
        self.authorize_in(principal, organization_id, "audit:proofs:read", context).await?;
        if from > to || from == 0 {
            return Err(AppError::InvalidInput(format!(
                "need 0 < from <= to; got from {from}, to {to}"
            )));
        }
        let plan = consistency_proof_plan(from, to).map_err(internal("consistency proof"))?;
        match self.proof_within(organization_id, &plan, to).await? {
            Some(proof) => Ok(proof),
            None => {
                let current = self.tree_size(organization_id).await?;
                Err(AppError::InvalidInput(format!(
                    "need 0 < from <= to <= {current} (the tree's size); got from {from}, to {to}"
                )))
            }
        }
    }

    async fn tree_size(&self, organization_id: OrganizationId) -> Result<u64, AppError> {
        let mut read = self.store.read_latest().await?;
        let size = read.audit_size(organization_id).await?;
        read.commit().await?;
        Ok(size)
    }

    /// The hashes of `plan`, which proves something of the tree of `size` entries, or `None`
    /// when the tree is smaller than that. One read of at most one tile per tile level, plus
    /// the tile of leaf `size - 1` (present exactly when the tree has `size` entries); node
    /// hashes never change once written, so no transaction is needed around it.
    async fn proof_within(
        &self,
        organization_id: OrganizationId,
        plan: &ProofPlan,
        size: u64,
    ) -> Result<Option<Vec<audit::Hash>>, AppError> {
        let last_leaf = NodeId::new(0, size - 1);
        let mut ids = plan.node_ids();
        ids.push(last_leaf);
        // The direct read on SQLite; the pool when there is none, or when the direct read
        // could not answer at once (the database busy), so that no request waits on it.
        let direct = self
            .audit
            .tile_reader
            .as_ref()
            .map(|reader| self.audit.tiles.read_nodes(reader, organization_id, &ids));
        let nodes = match direct {
            Some(Ok(nodes)) => nodes,
            Some(Err(error)) => {
                tracing::debug!(%error, "direct audit tile read failed; reading through the pool");
                self.pooled_nodes(organization_id, &ids).await?
            }
            None => self.pooled_nodes(organization_id, &ids).await?,
        };
        if !nodes.contains_key(&last_leaf) {
            return Ok(None);
        }
        plan.assemble(|id| nodes.get(&id).copied()).map(Some).map_err(internal("audit proof"))
    }

    async fn pooled_nodes(
        &self,
        organization_id: OrganizationId,
        ids: &[audit::NodeId],
    ) -> Result<std::collections::HashMap<audit::NodeId, audit::Hash>, AppError> {
        let mut read = self.store.read_latest().await?;
        let nodes = self.audit.tiles.fetch_nodes(&mut read, organization_id, ids).await?;
        read.commit().await?;
        Ok(nodes)
    }

    /// Prepare an export of entries `from..to` (default: all, up to a checkpoint signed now).
    pub async fn audit_export(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        from: Option<u64>,
        to: Option<u64>,
        context: &RequestContext,
    ) -> Result<AuditExport, AppError> {
        self.authorize_in(principal, organization_id, "audit:export:read", context).await?;
        let mut details = serde_json::Map::new();
        details.insert("from_index".into(), from.into());
        details.insert("to_index".into(), to.into());
        self.record_audit_read(principal, organization_id, "audit:export:read", context, details)
            .await?;
        let checkpoint = self.fresh_checkpoint(organization_id).await?;
        let (from, to) = (from.unwrap_or(0), to.unwrap_or(checkpoint.size));
        if from > to || to > checkpoint.size {
            return Err(AppError::InvalidInput(format!(
                "need from_index <= to_index <= {} (the checkpoint's size); got {from}..{to}",
                checkpoint.size
            )));
        }
        let mut read = self.store.read().await?;
        let left = frontier(&mut read, organization_id, 0, from).await?;
        let right = frontier(&mut read, organization_id, to, checkpoint.size).await?;
        read.commit().await?;
        let header = ExportHeader {
            organization_id: *organization_id.as_uuid(),
            origin: self.audit_origin(organization_id),
            from_index: from,
            to_index: to,
            left,
        };
        let trailer = ExportTrailer { right, checkpoint: checkpoint.note };
        Ok(AuditExport {
            header: header.to_line(),
            trailer: trailer.to_line(),
            organization_id,
            from_index: from,
            to_index: to,
        })
    }

    /// The entry lines `from..to` of an export (callers page through the range).
    pub async fn audit_export_lines(
        &self,
        organization_id: OrganizationId,
        from: u64,
        to: u64,
    ) -> Result<String, AppError> {
        let mut read = self.store.read_latest().await?;
        let rows = read.audit_entries_between(organization_id, from, to).await?;
        read.commit().await?;
        let mut lines = String::with_capacity(rows.len() * 600);
        for row in &rows {
            let entry = entry_from_row(row).map_err(AppError::Internal)?;
            let line = ExportLine::entry(&entry)
                .map_err(|error| AppError::Internal(format!("export line: {error}")))?;
            lines.push_str(line.as_str());
        }
        Ok(lines)
    }

    /// Erase the personal fields of one entry (retention or an erasure request). The leaf is
    /// unchanged, so the log still verifies; the erasure itself is recorded.
    pub async fn erase_audit_personal_data(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        index: u64,
        context: &RequestContext,
    ) -> Result<usize, AppError> {
        // Erasing from the evidence is the provider's act, on the data subject's request.
        const ACTION: &str = "audit:entries:erase";
        if !principal.is_staff() {
            let resource = Resource::new("audit_entry", index);
            return Err(self
                .deny(principal, organization_id, ACTION, resource, context, "not_staff")
                .await);
        }
        self.authorize_in(principal, organization_id, ACTION, context).await?;
        let mut transaction = self.store.begin().await?;
        let rows = transaction.audit_entries_between(organization_id, index, index + 1).await?;
        let row = rows.first().ok_or(AppError::NotFound("audit entry"))?;
        let n_erased = row.personal.len();
        transaction.set_audit_personal(organization_id, index, &serde_json::Map::new()).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "audit.personal.erase",
            Resource::new("audit_entry", index),
            context,
        );
        event.privileged = true;
        event.details.insert("fields".into(), n_erased.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(n_erased)
    }

    /// Recompute what can be recomputed and compare with what was signed: each
    /// organisation's latest checkpoint (signature, root from the stored nodes), consistency
    /// with the one before it, and the leaves of the latest `recent` entries. Each failure is
    /// recorded as an `audit.integrity.failure` event in that organisation's log.
    pub async fn check_audit_integrity(
        &self,
        recent: u64,
    ) -> Result<Vec<IntegrityFailure>, AppError> {
        let verifiers: Vec<NoteVerifier> = self
            .audit_verifier_keys()
            .await?
            .iter()
            .filter_map(|(key, _)| NoteVerifier::from_verifier_key(key).ok())
            .collect();
        let mut read = self.store.read_latest().await?;
        let organizations = read.audited_organizations().await?;
        read.commit().await?;
        let mut failures = Vec::new();
        for organization_id in organizations {
            if let Err(reason) =
                self.check_organization(organization_id, &verifiers, recent).await?
            {
                failures.push(IntegrityFailure { organization_id, reason });
            }
        }
        for failure in &failures {
            tracing::error!(organization = %failure.organization_id, reason = %failure.reason, "audit integrity failure");
            let mut event = self.event(
                &base::Actor::System,
                failure.organization_id,
                "audit.integrity.failure",
                Resource::new("audit_log", failure.organization_id),
            );
            event.outcome = Outcome::Failed { reason: "integrity_check_failed".into() };
            event.details.insert("reason".into(), failure.reason.clone().into());
            let mut transaction = self.store.begin().await?;
            transaction.append_audit_event(&event).await?;
            transaction.commit().await?;
        }
        Ok(failures)
    }

    pub(crate) async fn check_organization(
        &self,
        organization_id: OrganizationId,
        verifiers: &[NoteVerifier],
        recent: u64,
    ) -> Result<Result<(), String>, AppError> {
        let mut read = self.store.read().await?;
        let checkpoints = read.recent_checkpoints(organization_id, 2).await?;
        let size = read.audit_size(organization_id).await?;
        let origin = self.audit_origin(organization_id);
        for checkpoint in &checkpoints {
            let opened = verifiers.iter().find_map(|verifier| {
                audit::note::open(&checkpoint.note, verifier, Some(&origin)).ok()
            });
            let Some(signed) = opened else {
                return Ok(Err(format!(
                    "checkpoint of size {} has no valid signature",
                    checkpoint.size
                )));
            };
            if signed.size != checkpoint.size
                || signed.root.as_slice() != checkpoint.root.as_slice()
            {
                return Ok(Err(format!(
                    "checkpoint of size {} does not match its note",
                    checkpoint.size
                )));
            }
            let recomputed = root_at(&mut read, organization_id, checkpoint.size).await?;
            if recomputed != signed.root {
                return Ok(Err(format!(
                    "root of size {} recomputed from stored nodes differs from the signed root",
                    checkpoint.size
                )));
            }
        }
        if let [newer, older] = checkpoints.as_slice() {
            let plan =
                consistency_proof_plan(older.size, newer.size).map_err(internal("consistency"))?;
            let proof = assemble(&mut read, organization_id, &plan).await?;
            let (Ok(old_root), Ok(new_root)) = (
                <[u8; 32]>::try_from(older.root.as_slice()),
                <[u8; 32]>::try_from(newer.root.as_slice()),
            ) else {
                return Ok(Err("a stored checkpoint root is not 32 bytes".into()));
            };
            if let Err(error) = audit::merkle::verify_consistency(
                older.size, newer.size, &proof, &old_root, &new_root,
            ) {
                return Ok(Err(format!(
                    "checkpoints {} and {} are not consistent: {error}",
                    older.size, newer.size
                )));
            }
        }
        let from = size.saturating_sub(recent);
        let rows = read.audit_entries_between(organization_id, from, size).await?;
        let leaf_ids: Vec<audit::NodeId> =
            (from..size).map(|index| audit::NodeId::new(0, index)).collect();
        let leaves = fetch_nodes(&mut read, organization_id, &leaf_ids).await?;
        read.commit().await?;
        if u64::try_from(rows.len()).unwrap_or(0) != size - from {
            return Ok(Err(format!(
                "entries {from}..{size}: {} of them are missing",
                (size - from) as usize - rows.len()
            )));
        }
        for row in &rows {
            if let Err(reason) = entry_from_row(row) {
                return Ok(Err(reason));
            }
            let stored = leaves.get(&audit::NodeId::new(0, row.index));
            if stored != Some(&audit::merkle::leaf_hash(&row.leaf)) {
                return Ok(Err(format!("entry {}: leaf hash differs from the tree", row.index)));
            }
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base::Clock as _;

    use super::*;
    use crate::{InitializeRequest, MasterKey, PasswordHasher};

    /// A proof is answered through the pool when the direct tile read cannot answer (here its
    /// file does not exist), and it is the same proof.
    #[tokio::test]
    async fn proofs_fall_back_to_the_pool_when_the_direct_read_fails() {
        let directory = tempfile::tempdir().unwrap();
        let store = store::Store::open_sqlite(
            &directory.path().join("rampart.db"),
            &store::StoreOptions::default(),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let clock = Arc::new(base::ManualClock::new(time::macros::datetime!(2026-03-01 9:00 UTC)));
        let app = App::new(store, clock.clone(), PasswordHasher::new(1024, 1, 1, 1).unwrap());
        let done = app
            .initialize(InitializeRequest {
                organization_name: "Provider".into(),
                owner_email: "owner@provider.example".into(),
                owner_password: None,
            })
            .await
            .unwrap();
        let organization_id = done.organization.id;
        let events: Vec<base::AuditEvent> = (0..100)
            .map(|n| base::AuditEvent {
                organization_id,
                time: clock.now(),
                actor: base::Actor::System,
                action: "test.fill".into(),
                resource: Resource::new("item", n),
                outcome: Outcome::Success,
                context: RequestContext::default(),
                privileged: false,
                details: serde_json::Map::new(),
            })
            .collect();
        let mut transaction = app.store.begin().await.unwrap();
        transaction.append_audit_events(&events).await.unwrap();
        transaction.commit().await.unwrap();
        let size = app.tree_size(organization_id).await.unwrap();
        let plan = inclusion_proof_plan(7, size).unwrap();
        let direct = app.proof_within(organization_id, &plan, size).await.unwrap().unwrap();

        let mut broken = AuditState::new("rampart", MasterKey::generate(), &app.store);
        broken.tile_reader =
            Some(store::SqliteTileReader::new(&directory.path().join("missing").join("x.db")));
        let app = App { audit: Arc::new(broken), ..app };
        let pooled = app.proof_within(organization_id, &plan, size).await.unwrap().unwrap();
        assert_eq!(pooled, direct);
    }
}
