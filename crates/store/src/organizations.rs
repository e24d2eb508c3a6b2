//! Organisations and their names.

use base::{Name, Organization, OrganizationId, OrganizationKind};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

type OrganizationRow = (Uuid, String, String, bool, OffsetDateTime, OffsetDateTime);

/// A `SELECT` of every column, followed by the rest of the statement (kept literal for sqlx).
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, kind, mfa_required, created_at, updated_at FROM organizations ",
            $rest
        )
    };
}

/// An organisation's kind as stored.
pub(crate) fn decode_kind(kind: &str) -> Result<OrganizationKind, StoreError> {
    OrganizationKind::parse(kind)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown organization kind {kind:?}")))
}

fn decode(row: OrganizationRow) -> Result<Organization, StoreError> {
    let (id, name, kind, mfa_required, created_at, updated_at) = row;
    Ok(Organization {
        id: OrganizationId::from_uuid(id),
        name: Name::parse(&name).map_err(|error| StoreError::Corrupt(error.to_string()))?,
        kind: decode_kind(&kind)?,
        mfa_required,
        created_at,
        updated_at,
    })
}

const DUPLICATE_NAME: &str = "an organization with this name already exists";

/// Storage of organisations.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait OrganizationRepository {
    async fn insert_organization(&mut self, organization: &Organization) -> Result<(), StoreError>;
    async fn get_organization(
        &mut self,
        id: OrganizationId,
    ) -> Result<Option<Organization>, StoreError>;
    async fn provider_organization(&mut self) -> Result<Option<Organization>, StoreError>;
    /// Organisations ordered by id (creation order), after `after`, at most `limit`.
    async fn list_organizations(
        &mut self,
        after: Option<OrganizationId>,
        limit: u32,
    ) -> Result<Vec<Organization>, StoreError>;
    async fn rename_organization(
        &mut self,
        id: OrganizationId,
        name: &Name,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn set_organization_mfa_required(
        &mut self,
        id: OrganizationId,
        required: bool,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Delete an organisation; `Conflict` while it still holds projects or users.
    async fn delete_organization(&mut self, id: OrganizationId) -> Result<(), StoreError>;
}

impl OrganizationRepository for Transaction {
    async fn insert_organization(&mut self, organization: &Organization) -> Result<(), StoreError> {
        let sql = "INSERT INTO organizations (id, name, name_folded, kind, created_at, updated_at, \
                   mfa_required) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization.id.as_uuid())
            .bind(organization.name.as_str())
            .bind(organization.name.folded())
            .bind(organization.kind.as_str())
            .bind(organization.created_at)
            .bind(organization.updated_at)
            .bind(organization.mfa_required)
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|error| StoreError::from_write(error, DUPLICATE_NAME))
    }

    async fn get_organization(
        &mut self,
        id: OrganizationId,
    ) -> Result<Option<Organization>, StoreError> {
        let sql = select!("WHERE id = $1");
        let row: Option<OrganizationRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(id.as_uuid()).fetch_optional(&mut *c).await)?;
        row.map(decode).transpose()
    }

    async fn provider_organization(&mut self) -> Result<Option<Organization>, StoreError> {
        let sql = select!("WHERE kind = 'provider'");
        let row: Option<OrganizationRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).fetch_optional(&mut *c).await)?;
        row.map(decode).transpose()
    }

    async fn list_organizations(
        &mut self,
        after: Option<OrganizationId>,
        limit: u32,
    ) -> Result<Vec<Organization>, StoreError> {
        let after = after.map(|id| *id.as_uuid()).unwrap_or(Uuid::nil());
        let sql = select!("WHERE id > $1 ORDER BY id LIMIT CAST($2 AS BIGINT)");
        let rows: Vec<OrganizationRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(after).bind(i64::from(limit)).fetch_all(&mut *c).await)?;
        rows.into_iter().map(decode).collect()
    }

    async fn rename_organization(
        &mut self,
        id: OrganizationId,
        name: &Name,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE organizations SET name = $1, name_folded = $2, updated_at = $3 \
                   WHERE id = $4";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(name.as_str())
            .bind(name.folded())
            .bind(at)
            .bind(id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))
        .map_err(|error| StoreError::from_write(error, DUPLICATE_NAME))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("organization"));
        }
        Ok(())
    }

    async fn set_organization_mfa_required(
        &mut self,
        id: OrganizationId,
        required: bool,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE organizations SET mfa_required = $1, updated_at = $2 WHERE id = $3";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(required)
            .bind(at)
            .bind(id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("organization"));
        }
        Ok(())
    }

    async fn delete_organization(&mut self, id: OrganizationId) -> Result<(), StoreError> {
        let sql = "DELETE FROM organizations WHERE id = $1";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))
        .map_err(|error| match StoreError::from_write(error, DUPLICATE_NAME) {
            StoreError::Conflict(_) => {
                StoreError::Conflict("the organization still holds projects or users")
            }
            other => other,
        })?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("organization"));
        }
        Ok(())
    }
}
