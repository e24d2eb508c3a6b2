//! Policy acknowledgements, the organisation's risk matrix and manual evidence.
//!
//! An acknowledgement ties a user to one version of a policy record; a new version of the
//! policy needs new acknowledgements, the old ones are kept as history. The risk matrix is the
//! application's JSON, one per organisation. Manual evidence is a file (its content, SHA-256,
//! sniffed media type and size) or a link, with the measure it supports and its dates; lists
//! never carry file contents.

use base::{OrganizationId, UserId};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// One user's acknowledgement of one version of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAcknowledgementRecord {
    pub organization_id: OrganizationId,
    pub policy_id: Uuid,
    pub user_id: UserId,
    pub version: String,
    pub acknowledged_at: OffsetDateTime,
}

/// A piece of manual evidence, without the file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualEvidenceRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub title: String,
    /// The annex measure it supports.
    pub measure_id: String,
    /// An Annex A control it supports, if named.
    pub control_id: Option<String>,
    /// A check it stands in for, if named.
    pub check_id: Option<String>,
    /// `file` or `link`.
    pub kind: String,
    pub url: Option<String>,
    pub file_name: Option<String>,
    pub media_type: Option<String>,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub observed_on: Date,
    pub expires_on: Option<Date>,
    /// The actor id of whoever added it.
    pub added_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct AcknowledgementRow {
    organization_id: Uuid,
    policy_id: Uuid,
    user_id: Uuid,
    version: String,
    acknowledged_at: OffsetDateTime,
}

fn acknowledgement_of(row: AcknowledgementRow) -> PolicyAcknowledgementRecord {
    PolicyAcknowledgementRecord {
        organization_id: OrganizationId::from_uuid(row.organization_id),
        policy_id: row.policy_id,
        user_id: UserId::from_uuid(row.user_id),
        version: row.version,
        acknowledged_at: row.acknowledged_at,
    }
}

#[derive(sqlx::FromRow)]
struct EvidenceRow {
    id: Uuid,
    organization_id: Uuid,
    title: String,
    measure_id: String,
    control_id: Option<String>,
    check_id: Option<String>,
    kind: String,
    url: Option<String>,
    file_name: Option<String>,
    media_type: Option<String>,
    sha256: Option<String>,
    size: Option<i64>,
    observed_on: Date,
    expires_on: Option<Date>,
    added_by: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

macro_rules! evidence_columns {
    () => {
        "id, organization_id, title, measure_id, control_id, check_id, kind, url, file_name, \
         media_type, sha256, size, observed_on, expires_on, added_by, created_at, updated_at"
    };
}
const EVIDENCE_COLUMNS: &str = evidence_columns!();

fn evidence_of(row: EvidenceRow) -> Result<ManualEvidenceRecord, StoreError> {
    let size = row
        .size
        .map(|size| {
            u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("negative size {size}")))
        })
        .transpose()?;
    Ok(ManualEvidenceRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        title: row.title,
        measure_id: row.measure_id,
        control_id: row.control_id,
        check_id: row.check_id,
        kind: row.kind,
        url: row.url,
        file_name: row.file_name,
        media_type: row.media_type,
        sha256: row.sha256,
        size,
        observed_on: row.observed_on,
        expires_on: row.expires_on,
        added_by: row.added_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Storage of policy acknowledgements, risk matrices and manual evidence.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait ComplianceEvidenceRepository {
    /// Record an acknowledgement; false when that user already acknowledged that version.
    async fn insert_policy_acknowledgement(
        &mut self,
        acknowledgement: &PolicyAcknowledgementRecord,
    ) -> Result<bool, StoreError>;
    /// The organisation's acknowledgements of every version, oldest first.
    async fn list_policy_acknowledgements(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<PolicyAcknowledgementRecord>, StoreError>;
    /// The organisation's risk matrix as stored, if it set one.
    async fn get_risk_matrix(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<String>, StoreError>;
    async fn put_risk_matrix(
        &mut self,
        organization_id: OrganizationId,
        matrix: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Store a piece of evidence with the file's content, if it is a file.
    async fn insert_manual_evidence(
        &mut self,
        evidence: &ManualEvidenceRecord,
        content: Option<&[u8]>,
    ) -> Result<(), StoreError>;
    /// Replace the title, links to the annex and dates; false when it does not exist.
    async fn update_manual_evidence(
        &mut self,
        evidence: &ManualEvidenceRecord,
    ) -> Result<bool, StoreError>;
    async fn delete_manual_evidence(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError>;
    async fn get_manual_evidence(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<ManualEvidenceRecord>, StoreError>;
    /// The organisation's evidence, oldest first, without contents.
    async fn list_manual_evidence(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<ManualEvidenceRecord>, StoreError>;
    /// A file's content; `None` for a link or an unknown id.
    async fn manual_evidence_content(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Vec<u8>>, StoreError>;
}

impl ComplianceEvidenceRepository for Transaction {
    async fn insert_policy_acknowledgement(
        &mut self,
        acknowledgement: &PolicyAcknowledgementRecord,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO policy_acknowledgements \
                   (organization_id, policy_id, user_id, version, acknowledged_at) \
                   VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (policy_id, user_id, version) DO NOTHING";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(acknowledgement.organization_id.as_uuid())
            .bind(acknowledgement.policy_id)
            .bind(acknowledgement.user_id.as_uuid())
            .bind(&acknowledgement.version)
            .bind(acknowledgement.acknowledged_at)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn list_policy_acknowledgements(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<PolicyAcknowledgementRecord>, StoreError> {
        let sql = "SELECT organization_id, policy_id, user_id, version, acknowledged_at \
                   FROM policy_acknowledgements WHERE organization_id = $1 \
                   ORDER BY acknowledged_at, policy_id, user_id";
        let rows: Vec<AcknowledgementRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(acknowledgement_of).collect())
    }

    async fn get_risk_matrix(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<String>, StoreError> {
        let sql = "SELECT matrix FROM risk_matrices WHERE organization_id = $1";
        let row: Option<(String,)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_optional(&mut *c).await)?;
        Ok(row.map(|(matrix,)| matrix))
    }

    async fn put_risk_matrix(
        &mut self,
        organization_id: OrganizationId,
        matrix: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO risk_matrices (organization_id, matrix, updated_at) \
                   VALUES ($1, $2, $3) ON CONFLICT (organization_id) \
                   DO UPDATE SET matrix = excluded.matrix, updated_at = excluded.updated_at";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(matrix)
            .bind(at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn insert_manual_evidence(
        &mut self,
        evidence: &ManualEvidenceRecord,
        content: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO manual_evidence (",
            evidence_columns!(),
            ", content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, $18)"
        );
        let size = evidence
            .size
            .map(|size| {
                i64::try_from(size)
                    .map_err(|_| StoreError::Corrupt(format!("size {size} out of range")))
            })
            .transpose()?;
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(evidence.id)
            .bind(evidence.organization_id.as_uuid())
            .bind(&evidence.title)
            .bind(&evidence.measure_id)
            .bind(&evidence.control_id)
            .bind(&evidence.check_id)
            .bind(&evidence.kind)
            .bind(&evidence.url)
            .bind(&evidence.file_name)
            .bind(&evidence.media_type)
            .bind(&evidence.sha256)
            .bind(size)
            .bind(evidence.observed_on)
            .bind(evidence.expires_on)
            .bind(&evidence.added_by)
            .bind(evidence.created_at)
            .bind(evidence.updated_at)
            .bind(content)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn update_manual_evidence(
        &mut self,
        evidence: &ManualEvidenceRecord,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE manual_evidence SET title = $1, measure_id = $2, control_id = $3, \
                   check_id = $4, url = $5, observed_on = $6, expires_on = $7, updated_at = $8 \
                   WHERE id = $9 AND organization_id = $10";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&evidence.title)
            .bind(&evidence.measure_id)
            .bind(&evidence.control_id)
            .bind(&evidence.check_id)
            .bind(&evidence.url)
            .bind(evidence.observed_on)
            .bind(evidence.expires_on)
            .bind(evidence.updated_at)
            .bind(evidence.id)
            .bind(evidence.organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn delete_manual_evidence(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM manual_evidence WHERE id = $1 AND organization_id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id)
            .bind(organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn get_manual_evidence(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<ManualEvidenceRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            evidence_columns!(),
            " FROM manual_evidence WHERE id = $1 AND organization_id = $2"
        );
        let row: Option<EvidenceRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql)
                .bind(id)
                .bind(organization_id.as_uuid())
                .fetch_optional(&mut *c)
                .await)?;
        row.map(evidence_of).transpose()
    }

    async fn list_manual_evidence(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<ManualEvidenceRecord>, StoreError> {
        let rows: Vec<EvidenceRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {EVIDENCE_COLUMNS} FROM manual_evidence WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid()).push(" ORDER BY id");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(evidence_of).collect()
    }

    async fn manual_evidence_content(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT content FROM manual_evidence WHERE id = $1 AND organization_id = $2";
        let row: Option<(Option<Vec<u8>>,)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql)
                .bind(id)
                .bind(organization_id.as_uuid())
                .fetch_optional(&mut *c)
                .await)?;
        Ok(row.and_then(|(content,)| content))
    }
}
