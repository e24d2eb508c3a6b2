//! The asset inventory: assets with their owner, classification, criticality and lifecycle,
//! the disposal record of each disposed asset, and device posture (the newest facts reported
//! by each device, and the organisation's posture policy).
//!
//! Validation (kinds, lifecycle transitions, owners being members) is the application
//! layer's; this module stores what it is given and reads it back.

use base::{OrganizationId, UserId};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// How critical an asset is to the service; critical assets feed monitoring and continuity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Criticality {
    Low,
    Medium,
    High,
    Critical,
}

impl Criticality {
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.as_str() == text)
    }
}

/// Where an asset is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    Planned,
    InService,
    Maintenance,
    Retired,
    /// Erased or destroyed; only reachable with a disposal record.
    Disposed,
}

impl Lifecycle {
    pub const ALL: [Self; 5] =
        [Self::Planned, Self::InService, Self::Maintenance, Self::Retired, Self::Disposed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::InService => "in_service",
            Self::Maintenance => "maintenance",
            Self::Retired => "retired",
            Self::Disposed => "disposed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.as_str() == text)
    }

    /// Whether an asset may go from this state to `next` (staying put is always allowed).
    /// Disposal is final; a retired asset may be disposed of or put back in service.
    pub fn can_become(self, next: Self) -> bool {
        use Lifecycle::*;
        self == next
            || matches!(
                (self, next),
                (Planned, InService | Retired)
                    | (InService, Maintenance | Retired)
                    | (Maintenance, InService | Retired)
                    | (Retired, InService | Disposed)
            )
    }
}

/// NIST SP 800-88 sanitisation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisposalMethod {
    /// Logical overwrite of user-addressable storage.
    Clear,
    /// Physical or logical techniques that make recovery infeasible with laboratory means.
    Purge,
    /// The media can no longer be used (shredding, disintegration, incineration).
    Destroy,
}

impl DisposalMethod {
    pub const ALL: [Self; 3] = [Self::Clear, Self::Purge, Self::Destroy];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clear => "clear",
            Self::Purge => "purge",
            Self::Destroy => "destroy",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.as_str() == text)
    }
}

/// One asset as stored. `tags` and `relations` are JSON arrays the application validates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub external_id: Option<String>,
    /// One of the application's asset kinds (`server`, `workstation`, …).
    pub kind: String,
    pub name: String,
    pub description: String,
    /// The user responsible for its upkeep and access.
    pub owner_id: UserId,
    pub custodian_id: Option<UserId>,
    /// A level of the classification scheme.
    pub classification: String,
    pub criticality: Criticality,
    pub location: String,
    pub lifecycle: Lifecycle,
    pub end_of_support: Option<Date>,
    pub tags: String,
    pub relations: String,
    /// The smallest end-of-support warning (days ahead) already raised, if any.
    pub end_of_support_warned_days: Option<u32>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// How a disposed asset was sanitised, by whom, witnessed by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisposalRecord {
    pub asset_id: Uuid,
    pub organization_id: OrganizationId,
    pub method: DisposalMethod,
    pub performed_on: Date,
    pub performer: String,
    pub witness: String,
    /// The reference of the erasure or destruction certificate.
    pub certificate_ref: String,
    pub notes: String,
    /// The actor id of whoever recorded it.
    pub recorded_by: Option<String>,
    pub recorded_at: OffsetDateTime,
}

/// The newest posture facts a device reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePostureRecord {
    pub asset_id: Uuid,
    pub organization_id: OrganizationId,
    pub reported_at: OffsetDateTime,
    /// A JSON object of facts read from the report.
    pub facts: String,
    /// How many reports the device sent.
    pub n_reports: u64,
}

#[derive(sqlx::FromRow)]
struct AssetRow {
    id: Uuid,
    organization_id: Uuid,
    external_id: Option<String>,
    kind: String,
    name: String,
    description: String,
    owner_id: Uuid,
    custodian_id: Option<Uuid>,
    classification: String,
    criticality: String,
    location: String,
    lifecycle: String,
    end_of_support: Option<Date>,
    tags: String,
    relations: String,
    end_of_support_warned_days: Option<i64>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

macro_rules! asset_columns {
    () => {
        "id, organization_id, external_id, kind, name, description, owner_id, custodian_id, \
         classification, criticality, location, lifecycle, end_of_support, tags, relations, \
         end_of_support_warned_days, created_at, updated_at"
    };
}
const ASSET_COLUMNS: &str = asset_columns!();

fn asset_of(row: AssetRow) -> Result<AssetRecord, StoreError> {
    let corrupt = |what: &str, value: &str| {
        StoreError::Corrupt(format!("asset {}: invalid {what} {value:?}", row.id))
    };
    Ok(AssetRecord {
        id: row.id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        criticality: Criticality::parse(&row.criticality)
            .ok_or_else(|| corrupt("criticality", &row.criticality))?,
        lifecycle: Lifecycle::parse(&row.lifecycle)
            .ok_or_else(|| corrupt("lifecycle", &row.lifecycle))?,
        end_of_support_warned_days: row
            .end_of_support_warned_days
            .map(|days| {
                u32::try_from(days).map_err(|_| corrupt("warning threshold", &days.to_string()))
            })
            .transpose()?,
        external_id: row.external_id,
        kind: row.kind,
        name: row.name,
        description: row.description,
        owner_id: UserId::from_uuid(row.owner_id),
        custodian_id: row.custodian_id.map(UserId::from_uuid),
        classification: row.classification,
        location: row.location,
        end_of_support: row.end_of_support,
        tags: row.tags,
        relations: row.relations,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[derive(sqlx::FromRow)]
struct DisposalRow {
    asset_id: Uuid,
    organization_id: Uuid,
    method: String,
    performed_on: Date,
    performer: String,
    witness: String,
    certificate_ref: String,
    notes: String,
    recorded_by: Option<String>,
    recorded_at: OffsetDateTime,
}

macro_rules! disposal_columns {
    () => {
        "asset_id, organization_id, method, performed_on, performer, witness, certificate_ref, \
         notes, recorded_by, recorded_at"
    };
}
const DISPOSAL_COLUMNS: &str = disposal_columns!();

fn disposal_of(row: DisposalRow) -> Result<DisposalRecord, StoreError> {
    Ok(DisposalRecord {
        method: DisposalMethod::parse(&row.method).ok_or_else(|| {
            StoreError::Corrupt(format!("disposal of {}: invalid method", row.asset_id))
        })?,
        asset_id: row.asset_id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        performed_on: row.performed_on,
        performer: row.performer,
        witness: row.witness,
        certificate_ref: row.certificate_ref,
        notes: row.notes,
        recorded_by: row.recorded_by,
        recorded_at: row.recorded_at,
    })
}

#[derive(sqlx::FromRow)]
struct PostureRow {
    asset_id: Uuid,
    organization_id: Uuid,
    reported_at: OffsetDateTime,
    facts: String,
    n_reports: i64,
}

fn posture_of(row: PostureRow) -> Result<DevicePostureRecord, StoreError> {
    Ok(DevicePostureRecord {
        asset_id: row.asset_id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        reported_at: row.reported_at,
        facts: row.facts,
        n_reports: u64::try_from(row.n_reports)
            .map_err(|_| StoreError::Corrupt(format!("posture of {}: bad count", row.asset_id)))?,
    })
}

const EXTERNAL_ID_TAKEN: &str = "another asset of the organisation has this external id";

/// Storage of the asset inventory.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait AssetRepository {
    async fn insert_asset(&mut self, asset: &AssetRecord) -> Result<(), StoreError>;
    /// Replace an asset's fields (all but id, organisation and creation time); false when
    /// it does not exist.
    async fn update_asset(&mut self, asset: &AssetRecord) -> Result<bool, StoreError>;
    async fn delete_asset(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError>;
    async fn get_asset(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<AssetRecord>, StoreError>;
    /// The organisation's assets, oldest first (ties by id).
    async fn list_assets(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<AssetRecord>, StoreError>;
    /// Every organisation's assets that have an end-of-support date and are not retired or
    /// disposed of.
    async fn assets_with_end_of_support(&mut self) -> Result<Vec<AssetRecord>, StoreError>;
    /// Record that the warning for `days` ahead was raised, unless a smaller (later) one
    /// already was; false when it was.
    async fn mark_end_of_support_warned(&mut self, id: Uuid, days: u32)
    -> Result<bool, StoreError>;
    async fn insert_disposal(&mut self, disposal: &DisposalRecord) -> Result<(), StoreError>;
    async fn list_disposals(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<DisposalRecord>, StoreError>;
    /// Store a device's newest facts; returns how many reports it sent, this one included.
    async fn put_device_posture(
        &mut self,
        asset_id: Uuid,
        organization_id: OrganizationId,
        reported_at: OffsetDateTime,
        facts: &str,
    ) -> Result<u64, StoreError>;
    async fn list_device_posture(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<DevicePostureRecord>, StoreError>;
    /// The organisation's posture policy (JSON), if it set one.
    async fn get_posture_policy(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<String>, StoreError>;
    async fn put_posture_policy(
        &mut self,
        organization_id: OrganizationId,
        policy: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

impl AssetRepository for Transaction {
    async fn insert_asset(&mut self, asset: &AssetRecord) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO assets (",
            asset_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18)"
        );
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(asset.id)
            .bind(asset.organization_id.as_uuid())
            .bind(&asset.external_id)
            .bind(&asset.kind)
            .bind(&asset.name)
            .bind(&asset.description)
            .bind(asset.owner_id.as_uuid())
            .bind(asset.custodian_id.map(|id| *id.as_uuid()))
            .bind(&asset.classification)
            .bind(asset.criticality.as_str())
            .bind(&asset.location)
            .bind(asset.lifecycle.as_str())
            .bind(asset.end_of_support)
            .bind(&asset.tags)
            .bind(&asset.relations)
            .bind(asset.end_of_support_warned_days.map(i64::from))
            .bind(asset.created_at)
            .bind(asset.updated_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, EXTERNAL_ID_TAKEN))
    }

    async fn update_asset(&mut self, asset: &AssetRecord) -> Result<bool, StoreError> {
        let sql = "UPDATE assets SET external_id = $1, kind = $2, name = $3, description = $4, \
                   owner_id = $5, custodian_id = $6, classification = $7, criticality = $8, \
                   location = $9, lifecycle = $10, end_of_support = $11, tags = $12, \
                   relations = $13, end_of_support_warned_days = $14, updated_at = $15 \
                   WHERE id = $16 AND organization_id = $17";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&asset.external_id)
            .bind(&asset.kind)
            .bind(&asset.name)
            .bind(&asset.description)
            .bind(asset.owner_id.as_uuid())
            .bind(asset.custodian_id.map(|id| *id.as_uuid()))
            .bind(&asset.classification)
            .bind(asset.criticality.as_str())
            .bind(&asset.location)
            .bind(asset.lifecycle.as_str())
            .bind(asset.end_of_support)
            .bind(&asset.tags)
            .bind(&asset.relations)
            .bind(asset.end_of_support_warned_days.map(i64::from))
            .bind(asset.updated_at)
            .bind(asset.id)
            .bind(asset.organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))
        .map_err(|error| StoreError::from_write(error, EXTERNAL_ID_TAKEN))?;
        Ok(n_rows == 1)
    }

    async fn delete_asset(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM assets WHERE id = $1 AND organization_id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id)
            .bind(organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn get_asset(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<AssetRecord>, StoreError> {
        let row: Option<AssetRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {ASSET_COLUMNS} FROM assets WHERE id = "
            ));
            query.push_bind(id).push(" AND organization_id = ").push_bind(organization_id.as_uuid());
            query.build_query_as().fetch_optional(&mut *c).await
        })?;
        row.map(asset_of).transpose()
    }

    async fn list_assets(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<AssetRecord>, StoreError> {
        let rows: Vec<AssetRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {ASSET_COLUMNS} FROM assets WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid()).push(" ORDER BY created_at, id");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(asset_of).collect()
    }

    async fn assets_with_end_of_support(&mut self) -> Result<Vec<AssetRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            asset_columns!(),
            " FROM assets WHERE end_of_support IS NOT NULL \
             AND lifecycle NOT IN ('retired', 'disposed') ORDER BY id"
        );
        let rows: Vec<AssetRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        rows.into_iter().map(asset_of).collect()
    }

    async fn mark_end_of_support_warned(
        &mut self,
        id: Uuid,
        days: u32,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE assets SET end_of_support_warned_days = $1 WHERE id = $2 \
                   AND (end_of_support_warned_days IS NULL OR end_of_support_warned_days > $1)";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(i64::from(days))
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn insert_disposal(&mut self, disposal: &DisposalRecord) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO asset_disposals (",
            disposal_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(disposal.asset_id)
            .bind(disposal.organization_id.as_uuid())
            .bind(disposal.method.as_str())
            .bind(disposal.performed_on)
            .bind(&disposal.performer)
            .bind(&disposal.witness)
            .bind(&disposal.certificate_ref)
            .bind(&disposal.notes)
            .bind(&disposal.recorded_by)
            .bind(disposal.recorded_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, "the asset already has a disposal record"))
    }

    async fn list_disposals(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<DisposalRecord>, StoreError> {
        let rows: Vec<DisposalRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {DISPOSAL_COLUMNS} FROM asset_disposals WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid()).push(" ORDER BY asset_id");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(disposal_of).collect()
    }

    async fn put_device_posture(
        &mut self,
        asset_id: Uuid,
        organization_id: OrganizationId,
        reported_at: OffsetDateTime,
        facts: &str,
    ) -> Result<u64, StoreError> {
        let sql = "INSERT INTO device_posture \
                   (asset_id, organization_id, reported_at, facts, n_reports) \
                   VALUES ($1, $2, $3, $4, 1) ON CONFLICT (asset_id) DO UPDATE SET \
                   reported_at = excluded.reported_at, facts = excluded.facts, \
                   n_reports = device_posture.n_reports + 1 RETURNING n_reports";
        let (n_reports,): (i64,) = on_backend!(self.change()?, c => sqlx::query_as(sql)
            .bind(asset_id)
            .bind(organization_id.as_uuid())
            .bind(reported_at)
            .bind(facts)
            .fetch_one(&mut *c)
            .await)?;
        u64::try_from(n_reports)
            .map_err(|_| StoreError::Corrupt(format!("posture of {asset_id}: bad count")))
    }

    async fn list_device_posture(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<DevicePostureRecord>, StoreError> {
        let rows: Vec<PostureRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT asset_id, organization_id, reported_at, facts, n_reports \
                 FROM device_posture WHERE organization_id = ",
            );
            query.push_bind(organization_id.as_uuid()).push(" ORDER BY asset_id");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(posture_of).collect()
    }

    async fn get_posture_policy(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT policy FROM posture_policies WHERE organization_id = ",
            );
            query.push_bind(organization_id.as_uuid());
            query.build_query_as().fetch_optional(&mut *c).await
        })?;
        Ok(row.map(|(policy,)| policy))
    }

    async fn put_posture_policy(
        &mut self,
        organization_id: OrganizationId,
        policy: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO posture_policies (organization_id, policy, updated_at) \
                   VALUES ($1, $2, $3) ON CONFLICT (organization_id) DO UPDATE SET \
                   policy = excluded.policy, updated_at = excluded.updated_at";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(policy)
            .bind(at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_allows_only_forward_moves_and_disposal_is_final() {
        use Lifecycle::*;
        assert!(Planned.can_become(InService));
        assert!(InService.can_become(Maintenance));
        assert!(Maintenance.can_become(InService));
        assert!(Retired.can_become(Disposed));
        assert!(!InService.can_become(Disposed), "disposal goes through retirement");
        assert!(!Planned.can_become(Disposed));
        for next in Lifecycle::ALL {
            assert_eq!(Disposed.can_become(next), next == Disposed, "{next:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for value in Lifecycle::ALL {
            assert_eq!(Lifecycle::parse(value.as_str()), Some(value));
        }
        for value in Criticality::ALL {
            assert_eq!(Criticality::parse(value.as_str()), Some(value));
        }
        for value in DisposalMethod::ALL {
            assert_eq!(DisposalMethod::parse(value.as_str()), Some(value));
        }
        assert_eq!(Lifecycle::parse("in-service"), None);
    }
}
