//! Vulnerability management: imported advisory files, the software components of assets,
//! findings (asset × advisory × component) with their triage state, and each organisation's
//! remediation deadlines.
//!
//! States, severities and deadlines are the application layer's to decide; this module stores
//! what it is given and reads it back.

use base::OrganizationId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// One imported advisory file with the counts of its load report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisorySourceRecord {
    pub id: Uuid,
    /// The file name it was imported under (its extension says how it is read).
    pub name: String,
    /// Hex SHA-256 of the content; a file is imported once.
    pub sha256: String,
    pub imported_at: OffsetDateTime,
    /// The actor id of whoever imported it.
    pub imported_by: Option<String>,
    pub loaded: u64,
    pub withdrawn: u64,
    pub duplicates: u64,
    pub n_errors: u64,
}

/// One software component of an asset, as its SBOM lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub asset_id: Uuid,
    /// OSV ecosystem name.
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    pub purl: Option<String>,
    /// `registry`, `other_registry`, `path` or `git`.
    pub source_kind: String,
    pub source_location: Option<String>,
    /// Element path or line in the SBOM.
    pub location: String,
    /// Why the component cannot be matched, when it cannot.
    pub problem: Option<String>,
    /// Order in the SBOM.
    pub position: u64,
}

/// A vulnerability found in a component of an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub asset_id: Uuid,
    pub advisory_id: String,
    /// `ecosystem/name@version`.
    pub component: String,
    pub purl: Option<String>,
    /// JSON array of the other ids of the vulnerability.
    pub aliases: String,
    pub summary: String,
    pub severity: String,
    pub cvss_score: Option<f64>,
    pub cvss_vector: Option<String>,
    /// JSON array of versions that fix it.
    pub fixed_versions: String,
    pub state: String,
    pub justification: Option<String>,
    pub note: String,
    pub risk_expires_at: Option<OffsetDateTime>,
    pub approved_by: Option<String>,
    pub first_seen_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub resolved_at: Option<OffsetDateTime>,
    pub due_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Days to remediate, by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaRecord {
    pub critical_days: u32,
    pub high_days: u32,
    pub medium_days: u32,
    pub low_days: u32,
}

#[derive(sqlx::FromRow)]
struct SourceRow {
    id: Uuid,
    name: String,
    sha256: String,
    imported_at: OffsetDateTime,
    imported_by: Option<String>,
    loaded: i64,
    withdrawn: i64,
    duplicates: i64,
    n_errors: i64,
}

fn count(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative count {value}")))
}

fn source_of(row: SourceRow) -> Result<AdvisorySourceRecord, StoreError> {
    Ok(AdvisorySourceRecord {
        id: row.id,
        name: row.name,
        sha256: row.sha256,
        imported_at: row.imported_at,
        imported_by: row.imported_by,
        loaded: count(row.loaded)?,
        withdrawn: count(row.withdrawn)?,
        duplicates: count(row.duplicates)?,
        n_errors: count(row.n_errors)?,
    })
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[derive(sqlx::FromRow)]
struct ComponentRow {
    id: Uuid,
    organization_id: Uuid,
    asset_id: Uuid,
    ecosystem: String,
    name: String,
    version: String,
    purl: Option<String>,
    source_kind: String,
    source_location: Option<String>,
    location: String,
    problem: Option<String>,
    position: i64,
}

macro_rules! component_columns {
    () => {
        "id, organization_id, asset_id, ecosystem, name, version, purl, source_kind, \
         source_location, location, problem, position"
    };
}

fn component_of(row: ComponentRow) -> Result<ComponentRecord, StoreError> {
    Ok(ComponentRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        asset_id: row.asset_id,
        ecosystem: row.ecosystem,
        name: row.name,
        version: row.version,
        purl: row.purl,
        source_kind: row.source_kind,
        source_location: row.source_location,
        location: row.location,
        problem: row.problem,
        position: count(row.position)?,
    })
}

#[derive(sqlx::FromRow)]
struct FindingRow {
    id: Uuid,
    organization_id: Uuid,
    asset_id: Uuid,
    advisory_id: String,
    component: String,
    purl: Option<String>,
    aliases: String,
    summary: String,
    severity: String,
    cvss_score: Option<f64>,
    cvss_vector: Option<String>,
    fixed_versions: String,
    state: String,
    justification: Option<String>,
    note: String,
    risk_expires_at: Option<OffsetDateTime>,
    approved_by: Option<String>,
    first_seen_at: OffsetDateTime,
    last_seen_at: OffsetDateTime,
    resolved_at: Option<OffsetDateTime>,
    due_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

macro_rules! finding_columns {
    () => {
        "id, organization_id, asset_id, advisory_id, component, purl, aliases, summary, \
         severity, cvss_score, cvss_vector, fixed_versions, state, justification, note, \
         risk_expires_at, approved_by, first_seen_at, last_seen_at, resolved_at, due_at, \
         updated_at"
    };
}

fn finding_of(row: FindingRow) -> FindingRecord {
    FindingRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        asset_id: row.asset_id,
        advisory_id: row.advisory_id,
        component: row.component,
        purl: row.purl,
        aliases: row.aliases,
        summary: row.summary,
        severity: row.severity,
        cvss_score: row.cvss_score,
        cvss_vector: row.cvss_vector,
        fixed_versions: row.fixed_versions,
        state: row.state,
        justification: row.justification,
        note: row.note,
        risk_expires_at: row.risk_expires_at,
        approved_by: row.approved_by,
        first_seen_at: row.first_seen_at,
        last_seen_at: row.last_seen_at,
        resolved_at: row.resolved_at,
        due_at: row.due_at,
        updated_at: row.updated_at,
    }
}

/// Rows per multi-row INSERT (well under both backends' bound-parameter limits).
const BATCH_ROWS: usize = 500;

/// Storage of advisories, components, findings and deadlines.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait VulnerabilityRepository {
    async fn insert_advisory_source(
        &mut self,
        source: &AdvisorySourceRecord,
        content: &[u8],
    ) -> Result<(), StoreError>;
    /// Imported sources, oldest first.
    async fn list_advisory_sources(&mut self) -> Result<Vec<AdvisorySourceRecord>, StoreError>;
    /// Every source's name and content, oldest first.
    async fn advisory_source_contents(&mut self) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    async fn find_advisory_source_by_sha256(
        &mut self,
        sha256: &str,
    ) -> Result<Option<AdvisorySourceRecord>, StoreError>;
    /// Replace an asset's components by these; returns how many it had.
    async fn replace_components(
        &mut self,
        asset_id: Uuid,
        components: &[ComponentRecord],
    ) -> Result<u64, StoreError>;
    /// An asset's components in SBOM order.
    async fn list_components(&mut self, asset_id: Uuid)
    -> Result<Vec<ComponentRecord>, StoreError>;
    /// Every component of every asset (for a re-match after an advisory import).
    async fn all_components(&mut self) -> Result<Vec<ComponentRecord>, StoreError>;
    async fn insert_findings(&mut self, findings: &[FindingRecord]) -> Result<(), StoreError>;
    /// Replace a finding's mutable fields (all but ids, advisory, component, first sighting).
    async fn update_finding(&mut self, finding: &FindingRecord) -> Result<bool, StoreError>;
    async fn get_finding(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<FindingRecord>, StoreError>;
    /// An organisation's findings, oldest first.
    async fn list_findings(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<FindingRecord>, StoreError>;
    /// One asset's findings.
    async fn list_asset_findings(
        &mut self,
        asset_id: Uuid,
    ) -> Result<Vec<FindingRecord>, StoreError>;
    /// Every finding of every organisation.
    async fn all_findings(&mut self) -> Result<Vec<FindingRecord>, StoreError>;
    /// Risk acceptances that expired at `now`, all organisations.
    async fn expired_risk_acceptances(
        &mut self,
        now: OffsetDateTime,
    ) -> Result<Vec<FindingRecord>, StoreError>;
    async fn get_sla(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<SlaRecord>, StoreError>;
    async fn put_sla(
        &mut self,
        organization_id: OrganizationId,
        sla: &SlaRecord,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

impl VulnerabilityRepository for Transaction {
    async fn insert_advisory_source(
        &mut self,
        source: &AdvisorySourceRecord,
        content: &[u8],
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO advisory_sources (id, name, sha256, content, imported_at, \
                   imported_by, loaded, withdrawn, duplicates, n_errors) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(source.id)
            .bind(&source.name)
            .bind(&source.sha256)
            .bind(content)
            .bind(source.imported_at)
            .bind(&source.imported_by)
            .bind(signed(source.loaded))
            .bind(signed(source.withdrawn))
            .bind(signed(source.duplicates))
            .bind(signed(source.n_errors))
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, "this advisory file was already imported"))
    }

    async fn list_advisory_sources(&mut self) -> Result<Vec<AdvisorySourceRecord>, StoreError> {
        let sql = "SELECT id, name, sha256, imported_at, imported_by, loaded, withdrawn, \
                   duplicates, n_errors FROM advisory_sources ORDER BY imported_at, id";
        let rows: Vec<SourceRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        rows.into_iter().map(source_of).collect()
    }

    async fn advisory_source_contents(&mut self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let sql = "SELECT name, content FROM advisory_sources ORDER BY imported_at, id";
        let rows: Vec<(String, Vec<u8>)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        Ok(rows)
    }

    async fn find_advisory_source_by_sha256(
        &mut self,
        sha256: &str,
    ) -> Result<Option<AdvisorySourceRecord>, StoreError> {
        let sql = "SELECT id, name, sha256, imported_at, imported_by, loaded, withdrawn, \
                   duplicates, n_errors FROM advisory_sources WHERE sha256 = $1";
        let row: Option<SourceRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(sha256).fetch_optional(&mut *c).await)?;
        row.map(source_of).transpose()
    }

    async fn replace_components(
        &mut self,
        asset_id: Uuid,
        components: &[ComponentRecord],
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM asset_components WHERE asset_id = $1";
        let removed = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(asset_id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        for batch in components.chunks(BATCH_ROWS) {
            on_backend!(self.change()?, c => {
                let mut query = sqlx::QueryBuilder::new(concat!(
                    "INSERT INTO asset_components (",
                    component_columns!(),
                    ") "
                ));
                query.push_values(batch, |mut row, component| {
                    row.push_bind(component.id)
                        .push_bind(*component.organization_id.as_uuid())
                        .push_bind(component.asset_id)
                        .push_bind(component.ecosystem.clone())
                        .push_bind(component.name.clone())
                        .push_bind(component.version.clone())
                        .push_bind(component.purl.clone())
                        .push_bind(component.source_kind.clone())
                        .push_bind(component.source_location.clone())
                        .push_bind(component.location.clone())
                        .push_bind(component.problem.clone())
                        .push_bind(signed(component.position));
                });
                query.build().execute(&mut *c).await.map(|_| ())
            })?;
        }
        Ok(removed)
    }

    async fn list_components(
        &mut self,
        asset_id: Uuid,
    ) -> Result<Vec<ComponentRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            component_columns!(),
            " FROM asset_components WHERE asset_id = $1 ORDER BY position"
        );
        let rows: Vec<ComponentRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(asset_id).fetch_all(&mut *c).await)?;
        rows.into_iter().map(component_of).collect()
    }

    async fn all_components(&mut self) -> Result<Vec<ComponentRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            component_columns!(),
            " FROM asset_components ORDER BY asset_id, position"
        );
        let rows: Vec<ComponentRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        rows.into_iter().map(component_of).collect()
    }

    async fn insert_findings(&mut self, findings: &[FindingRecord]) -> Result<(), StoreError> {
        for batch in findings.chunks(BATCH_ROWS) {
            on_backend!(self.change()?, c => {
                let mut query = sqlx::QueryBuilder::new(concat!(
                    "INSERT INTO vulnerability_findings (",
                    finding_columns!(),
                    ") "
                ));
                query.push_values(batch, |mut row, finding| {
                    row.push_bind(finding.id)
                        .push_bind(*finding.organization_id.as_uuid())
                        .push_bind(finding.asset_id)
                        .push_bind(finding.advisory_id.clone())
                        .push_bind(finding.component.clone())
                        .push_bind(finding.purl.clone())
                        .push_bind(finding.aliases.clone())
                        .push_bind(finding.summary.clone())
                        .push_bind(finding.severity.clone())
                        .push_bind(finding.cvss_score)
                        .push_bind(finding.cvss_vector.clone())
                        .push_bind(finding.fixed_versions.clone())
                        .push_bind(finding.state.clone())
                        .push_bind(finding.justification.clone())
                        .push_bind(finding.note.clone())
                        .push_bind(finding.risk_expires_at)
                        .push_bind(finding.approved_by.clone())
                        .push_bind(finding.first_seen_at)
                        .push_bind(finding.last_seen_at)
                        .push_bind(finding.resolved_at)
                        .push_bind(finding.due_at)
                        .push_bind(finding.updated_at);
                });
                query.build().execute(&mut *c).await.map(|_| ())
            })
            .map_err(|error| StoreError::from_write(error, "the finding already exists"))?;
        }
        Ok(())
    }

    async fn update_finding(&mut self, finding: &FindingRecord) -> Result<bool, StoreError> {
        let sql = "UPDATE vulnerability_findings SET purl = $1, aliases = $2, summary = $3, \
                   severity = $4, cvss_score = $5, cvss_vector = $6, fixed_versions = $7, \
                   state = $8, justification = $9, note = $10, risk_expires_at = $11, \
                   approved_by = $12, last_seen_at = $13, resolved_at = $14, due_at = $15, \
                   updated_at = $16 WHERE id = $17 AND organization_id = $18";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&finding.purl)
            .bind(&finding.aliases)
            .bind(&finding.summary)
            .bind(&finding.severity)
            .bind(finding.cvss_score)
            .bind(&finding.cvss_vector)
            .bind(&finding.fixed_versions)
            .bind(&finding.state)
            .bind(&finding.justification)
            .bind(&finding.note)
            .bind(finding.risk_expires_at)
            .bind(&finding.approved_by)
            .bind(finding.last_seen_at)
            .bind(finding.resolved_at)
            .bind(finding.due_at)
            .bind(finding.updated_at)
            .bind(finding.id)
            .bind(finding.organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn get_finding(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<FindingRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            finding_columns!(),
            " FROM vulnerability_findings WHERE id = $1 AND organization_id = $2"
        );
        let row: Option<FindingRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql)
                .bind(id)
                .bind(organization_id.as_uuid())
                .fetch_optional(&mut *c)
                .await)?;
        Ok(row.map(finding_of))
    }

    async fn list_findings(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<FindingRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            finding_columns!(),
            " FROM vulnerability_findings WHERE organization_id = $1 ORDER BY first_seen_at, id"
        );
        let rows: Vec<FindingRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(finding_of).collect())
    }

    async fn list_asset_findings(
        &mut self,
        asset_id: Uuid,
    ) -> Result<Vec<FindingRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            finding_columns!(),
            " FROM vulnerability_findings WHERE asset_id = $1 ORDER BY first_seen_at, id"
        );
        let rows: Vec<FindingRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(asset_id).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(finding_of).collect())
    }

    async fn all_findings(&mut self) -> Result<Vec<FindingRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            finding_columns!(),
            " FROM vulnerability_findings ORDER BY asset_id, id"
        );
        let rows: Vec<FindingRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(finding_of).collect())
    }

    async fn expired_risk_acceptances(
        &mut self,
        now: OffsetDateTime,
    ) -> Result<Vec<FindingRecord>, StoreError> {
        // Timestamps are compared in Rust: SQLite stores them as text.
        let sql = concat!(
            "SELECT ",
            finding_columns!(),
            " FROM vulnerability_findings WHERE state = 'risk_accepted' ORDER BY id"
        );
        let rows: Vec<FindingRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        Ok(rows
            .into_iter()
            .map(finding_of)
            .filter(|finding| finding.risk_expires_at.is_none_or(|expires| expires <= now))
            .collect())
    }

    async fn get_sla(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<SlaRecord>, StoreError> {
        let sql = "SELECT critical_days, high_days, medium_days, low_days \
                   FROM vulnerability_sla WHERE organization_id = $1";
        let row: Option<(i64, i64, i64, i64)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_optional(&mut *c).await)?;
        let days = |value: i64| {
            u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("bad SLA days {value}")))
        };
        row.map(|(critical, high, medium, low)| {
            Ok(SlaRecord {
                critical_days: days(critical)?,
                high_days: days(high)?,
                medium_days: days(medium)?,
                low_days: days(low)?,
            })
        })
        .transpose()
    }

    async fn put_sla(
        &mut self,
        organization_id: OrganizationId,
        sla: &SlaRecord,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO vulnerability_sla \
                   (organization_id, critical_days, high_days, medium_days, low_days, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id) DO UPDATE SET \
                   critical_days = excluded.critical_days, high_days = excluded.high_days, \
                   medium_days = excluded.medium_days, low_days = excluded.low_days, \
                   updated_at = excluded.updated_at";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(i64::from(sla.critical_days))
            .bind(i64::from(sla.high_days))
            .bind(i64::from(sla.medium_days))
            .bind(i64::from(sla.low_days))
            .bind(at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
