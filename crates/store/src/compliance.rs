//! The compliance registers and the evidence results.
//!
//! A register record is stored with the columns every register shares (register, title, owner,
//! review date, times) and its register-specific fields as a JSON document; the application
//! validates the document against the register's schema. Evidence results are the report
//! crate's check results as JSON, one row per check per run, kept as history.

use base::{OrganizationId, UserId};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// One record of a compliance register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    /// The register's name (`policy`, `risk`, …).
    pub register: String,
    pub title: String,
    /// The user accountable for the record.
    pub owner_id: Option<UserId>,
    /// When the record must next be reviewed.
    pub review_due: Option<Date>,
    /// The register-specific fields, as JSON.
    pub document: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One evaluation of one check, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceResultRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub check_id: String,
    pub ran_at: OffsetDateTime,
    /// The check result, as JSON.
    pub result: String,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: Uuid,
    organization_id: Uuid,
    register: String,
    title: String,
    owner_id: Option<Uuid>,
    review_due: Option<Date>,
    document: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

macro_rules! record_columns {
    () => {
        "id, organization_id, register, title, owner_id, review_due, document, created_at, \
         updated_at"
    };
}
const RECORD_COLUMNS: &str = record_columns!();

fn record_of(row: RecordRow) -> ComplianceRecord {
    ComplianceRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        register: row.register,
        title: row.title,
        owner_id: row.owner_id.map(UserId::from_uuid),
        review_due: row.review_due,
        document: row.document,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

#[derive(sqlx::FromRow)]
struct ResultRow {
    id: Uuid,
    organization_id: Uuid,
    check_id: String,
    ran_at: OffsetDateTime,
    result: String,
}

macro_rules! result_columns {
    () => {
        "id, organization_id, check_id, ran_at, result"
    };
}
const RESULT_COLUMNS: &str = result_columns!();

fn result_of(row: ResultRow) -> EvidenceResultRecord {
    EvidenceResultRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        check_id: row.check_id,
        ran_at: row.ran_at,
        result: row.result,
    }
}

/// Storage of the compliance registers and evidence results.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait ComplianceRepository {
    async fn insert_compliance_record(
        &mut self,
        record: &ComplianceRecord,
    ) -> Result<(), StoreError>;
    /// Replace a record's title, owner, review date and document; false when it does not exist.
    async fn update_compliance_record(
        &mut self,
        record: &ComplianceRecord,
    ) -> Result<bool, StoreError>;
    async fn delete_compliance_record(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError>;
    async fn get_compliance_record(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<ComplianceRecord>, StoreError>;
    /// The organisation's records, of one register or of all, by register then oldest first.
    async fn list_compliance_records(
        &mut self,
        organization_id: OrganizationId,
        register: Option<&str>,
    ) -> Result<Vec<ComplianceRecord>, StoreError>;
    async fn insert_evidence_result(
        &mut self,
        result: &EvidenceResultRecord,
    ) -> Result<(), StoreError>;
    /// The results of the organisation's latest run (every result sharing the newest run time).
    async fn latest_evidence_results(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<EvidenceResultRecord>, StoreError>;
    /// One check's results, newest first, at most `limit`.
    async fn evidence_history(
        &mut self,
        organization_id: OrganizationId,
        check_id: &str,
        limit: u32,
    ) -> Result<Vec<EvidenceResultRecord>, StoreError>;
    /// The organisation's users who confirmed a second factor (an authenticator app or a
    /// passkey).
    async fn users_with_confirmed_mfa(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<UserId>, StoreError>;
    /// The organisations that keep at least one register record.
    async fn organizations_with_registers(&mut self) -> Result<Vec<OrganizationId>, StoreError>;
}

impl ComplianceRepository for Transaction {
    async fn insert_compliance_record(
        &mut self,
        record: &ComplianceRecord,
    ) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO compliance_records (",
            record_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        );
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(record.id)
            .bind(record.organization_id.as_uuid())
            .bind(&record.register)
            .bind(&record.title)
            .bind(record.owner_id.map(|id| *id.as_uuid()))
            .bind(record.review_due)
            .bind(&record.document)
            .bind(record.created_at)
            .bind(record.updated_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn update_compliance_record(
        &mut self,
        record: &ComplianceRecord,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE compliance_records SET title = $1, owner_id = $2, review_due = $3, \
                   document = $4, updated_at = $5 WHERE id = $6 AND organization_id = $7";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&record.title)
            .bind(record.owner_id.map(|id| *id.as_uuid()))
            .bind(record.review_due)
            .bind(&record.document)
            .bind(record.updated_at)
            .bind(record.id)
            .bind(record.organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn delete_compliance_record(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM compliance_records WHERE id = $1 AND organization_id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id)
            .bind(organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn get_compliance_record(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<ComplianceRecord>, StoreError> {
        let row: Option<RecordRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {RECORD_COLUMNS} FROM compliance_records WHERE id = "
            ));
            query.push_bind(id).push(" AND organization_id = ").push_bind(organization_id.as_uuid());
            query.build_query_as().fetch_optional(&mut *c).await
        })?;
        Ok(row.map(record_of))
    }

    async fn list_compliance_records(
        &mut self,
        organization_id: OrganizationId,
        register: Option<&str>,
    ) -> Result<Vec<ComplianceRecord>, StoreError> {
        let rows: Vec<RecordRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {RECORD_COLUMNS} FROM compliance_records WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid());
            if let Some(register) = register {
                query.push(" AND register = ").push_bind(register.to_owned());
            }
            query.push(" ORDER BY register, id");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        Ok(rows.into_iter().map(record_of).collect())
    }

    async fn insert_evidence_result(
        &mut self,
        result: &EvidenceResultRecord,
    ) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO evidence_results (",
            result_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        );
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(result.id)
            .bind(result.organization_id.as_uuid())
            .bind(&result.check_id)
            .bind(result.ran_at)
            .bind(&result.result)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn latest_evidence_results(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<EvidenceResultRecord>, StoreError> {
        let latest: Option<(OffsetDateTime,)> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT ran_at FROM evidence_results WHERE organization_id = ",
            );
            query.push_bind(organization_id.as_uuid()).push(" ORDER BY ran_at DESC LIMIT 1");
            query.build_query_as().fetch_optional(&mut *c).await
        })?;
        let Some((ran_at,)) = latest else { return Ok(Vec::new()) };
        let rows: Vec<ResultRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {RESULT_COLUMNS} FROM evidence_results WHERE organization_id = "
            ));
            query
                .push_bind(organization_id.as_uuid())
                .push(" AND ran_at = ")
                .push_bind(ran_at)
                .push(" ORDER BY check_id");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        Ok(rows.into_iter().map(result_of).collect())
    }

    async fn evidence_history(
        &mut self,
        organization_id: OrganizationId,
        check_id: &str,
        limit: u32,
    ) -> Result<Vec<EvidenceResultRecord>, StoreError> {
        let rows: Vec<ResultRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {RESULT_COLUMNS} FROM evidence_results WHERE organization_id = "
            ));
            query
                .push_bind(organization_id.as_uuid())
                .push(" AND check_id = ")
                .push_bind(check_id.to_owned())
                .push(" ORDER BY ran_at DESC, id DESC LIMIT CAST(")
                .push_bind(i64::from(limit))
                .push(" AS BIGINT)");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        Ok(rows.into_iter().map(result_of).collect())
    }

    async fn users_with_confirmed_mfa(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<UserId>, StoreError> {
        let rows: Vec<(Uuid,)> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT t.user_id FROM totp_credentials t JOIN users u ON u.id = t.user_id \
                 WHERE t.confirmed_at IS NOT NULL AND u.organization_id = ",
            );
            query.push_bind(organization_id.as_uuid());
            query.push(
                " UNION SELECT DISTINCT p.user_id FROM passkeys p JOIN users u ON u.id = p.user_id \
                 WHERE u.organization_id = ",
            );
            query.push_bind(organization_id.as_uuid());
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        Ok(rows.into_iter().map(|(id,)| UserId::from_uuid(id)).collect())
    }

    async fn organizations_with_registers(&mut self) -> Result<Vec<OrganizationId>, StoreError> {
        let sql =
            "SELECT DISTINCT organization_id FROM compliance_records ORDER BY organization_id";
        let rows: Vec<(Uuid,)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(|(id,)| OrganizationId::from_uuid(id)).collect())
    }
}
