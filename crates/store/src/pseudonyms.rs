//! Pseudonymisation domains and their versioned keys. Keys arrive sealed (the application
//! seals them under the master key); this module stores and returns the sealed bytes and
//! never sees key material in the clear.

use base::OrganizationId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// A pseudonymisation domain of an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PseudonymDomainRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    /// Unique in the organisation.
    pub name: String,
    pub created_at: OffsetDateTime,
}

/// One version of a domain's root key, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PseudonymKeyRecord {
    pub domain_id: Uuid,
    /// 1, 2, …: the newest is the one new outputs are made with.
    pub version: u32,
    pub sealed_key: Vec<u8>,
    pub created_at: OffsetDateTime,
}

const DOMAIN_NAME_TAKEN: &str =
    "the organisation already has a pseudonymisation domain of this name";
const KEY_VERSION_TAKEN: &str = "this key version of the domain already exists";

/// Storage of pseudonymisation domains and their sealed keys.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait PseudonymRepository {
    async fn insert_pseudonym_domain(
        &mut self,
        domain: &PseudonymDomainRecord,
    ) -> Result<(), StoreError>;
    async fn get_pseudonym_domain(
        &mut self,
        organization_id: OrganizationId,
        name: &str,
    ) -> Result<Option<PseudonymDomainRecord>, StoreError>;
    /// The organisation's domains by name.
    async fn list_pseudonym_domains(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<PseudonymDomainRecord>, StoreError>;
    async fn insert_pseudonym_key(&mut self, key: &PseudonymKeyRecord) -> Result<(), StoreError>;
    /// A domain's keys, oldest version first.
    async fn list_pseudonym_keys(
        &mut self,
        domain_id: Uuid,
    ) -> Result<Vec<PseudonymKeyRecord>, StoreError>;
}

type DomainRow = (Uuid, Uuid, String, OffsetDateTime);

fn domain_of((id, organization_id, name, created_at): DomainRow) -> PseudonymDomainRecord {
    PseudonymDomainRecord {
        id,
        organization_id: OrganizationId::from_uuid(organization_id),
        name,
        created_at,
    }
}

impl PseudonymRepository for Transaction {
    async fn insert_pseudonym_domain(
        &mut self,
        domain: &PseudonymDomainRecord,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO pseudonym_domains (id, organization_id, name, created_at) \
                   VALUES ($1, $2, $3, $4)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(domain.id)
            .bind(domain.organization_id.as_uuid())
            .bind(&domain.name)
            .bind(domain.created_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, DOMAIN_NAME_TAKEN))
    }

    async fn get_pseudonym_domain(
        &mut self,
        organization_id: OrganizationId,
        name: &str,
    ) -> Result<Option<PseudonymDomainRecord>, StoreError> {
        let sql = "SELECT id, organization_id, name, created_at FROM pseudonym_domains \
                   WHERE organization_id = $1 AND name = $2";
        let row: Option<DomainRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(name)
            .fetch_optional(&mut *c)
            .await)?;
        Ok(row.map(domain_of))
    }

    async fn list_pseudonym_domains(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<PseudonymDomainRecord>, StoreError> {
        let sql = "SELECT id, organization_id, name, created_at FROM pseudonym_domains \
                   WHERE organization_id = $1 ORDER BY name";
        let rows: Vec<DomainRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows.into_iter().map(domain_of).collect())
    }

    async fn insert_pseudonym_key(&mut self, key: &PseudonymKeyRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO pseudonym_keys (domain_id, version, sealed_key, created_at) \
                   VALUES ($1, $2, $3, $4)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(key.domain_id)
            .bind(i64::from(key.version))
            .bind(&key.sealed_key)
            .bind(key.created_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, KEY_VERSION_TAKEN))
    }

    async fn list_pseudonym_keys(
        &mut self,
        domain_id: Uuid,
    ) -> Result<Vec<PseudonymKeyRecord>, StoreError> {
        let sql = "SELECT domain_id, version, sealed_key, created_at FROM pseudonym_keys \
                   WHERE domain_id = $1 ORDER BY version";
        let rows: Vec<(Uuid, i64, Vec<u8>, OffsetDateTime)> = on_backend!(self.connection(), c => sqlx::query_as(sql)
                .bind(domain_id)
                .fetch_all(&mut *c)
                .await)?;
        rows.into_iter()
            .map(|(domain_id, version, sealed_key, created_at)| {
                let version = u32::try_from(version).map_err(|_| {
                    StoreError::Corrupt("pseudonym key version out of range".into())
                })?;
                Ok(PseudonymKeyRecord { domain_id, version, sealed_key, created_at })
            })
            .collect()
    }
}
