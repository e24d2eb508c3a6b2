//! Applications (non-human principals) and groups of users and applications.

use base::{ApplicationId, GroupId, OrganizationId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::{ApplicationRecord, GroupMember, GroupRecord};
use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

fn member_parts(member: GroupMember) -> (&'static str, Uuid) {
    match member {
        GroupMember::User(id) => ("user", *id.as_uuid()),
        GroupMember::Application(id) => ("application", *id.as_uuid()),
    }
}

fn member_of(kind: &str, id: Uuid) -> Result<GroupMember, StoreError> {
    match kind {
        "user" => Ok(GroupMember::User(UserId::from_uuid(id))),
        "application" => Ok(GroupMember::Application(ApplicationId::from_uuid(id))),
        other => Err(StoreError::Corrupt(format!("unknown group member kind {other:?}"))),
    }
}

/// Storage of applications and groups.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait PrincipalRepository {
    async fn insert_application(
        &mut self,
        application: &ApplicationRecord,
    ) -> Result<(), StoreError>;
    async fn get_application(
        &mut self,
        organization_id: OrganizationId,
        id: ApplicationId,
    ) -> Result<Option<ApplicationRecord>, StoreError>;
    async fn list_applications(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<ApplicationRecord>, StoreError>;
    /// Delete an application with its keys (revoked first by the caller) and memberships.
    async fn delete_application(
        &mut self,
        organization_id: OrganizationId,
        id: ApplicationId,
    ) -> Result<(), StoreError>;
    async fn insert_group(&mut self, group: &GroupRecord) -> Result<(), StoreError>;
    async fn get_group(
        &mut self,
        organization_id: OrganizationId,
        id: GroupId,
    ) -> Result<Option<GroupRecord>, StoreError>;
    async fn list_groups(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<GroupRecord>, StoreError>;
    async fn delete_group(
        &mut self,
        organization_id: OrganizationId,
        id: GroupId,
    ) -> Result<(), StoreError>;
    /// Add a member; false when it already was one.
    async fn add_group_member(
        &mut self,
        group_id: GroupId,
        member: GroupMember,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Remove a member; false when it was not one.
    async fn remove_group_member(
        &mut self,
        group_id: GroupId,
        member: GroupMember,
    ) -> Result<bool, StoreError>;
    async fn group_members(&mut self, group_id: GroupId) -> Result<Vec<GroupMember>, StoreError>;
    /// The groups a principal belongs to.
    async fn groups_of(&mut self, member: GroupMember) -> Result<Vec<GroupId>, StoreError>;
}

impl PrincipalRepository for Transaction {
    async fn insert_application(
        &mut self,
        application: &ApplicationRecord,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO applications (id, organization_id, name, name_folded, description, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(application.id.as_uuid())
            .bind(application.organization_id.as_uuid())
            .bind(&application.name)
            .bind(application.name.to_lowercase())
            .bind(&application.description)
            .bind(application.created_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| {
            StoreError::from_write(
                error,
                "an application with this name already exists in the organization",
            )
        })
    }

    async fn get_application(
        &mut self,
        organization_id: OrganizationId,
        id: ApplicationId,
    ) -> Result<Option<ApplicationRecord>, StoreError> {
        let sql = "SELECT id, organization_id, name, description, created_at FROM applications \
                   WHERE id = $1 AND organization_id = $2";
        let row: Option<(Uuid, Uuid, String, String, OffsetDateTime)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(id.as_uuid()).bind(organization_id.as_uuid()).fetch_optional(&mut *c).await)?;
        Ok(row.map(|(id, organization_id, name, description, created_at)| ApplicationRecord {
            id: ApplicationId::from_uuid(id),
            organization_id: OrganizationId::from_uuid(organization_id),
            name,
            description,
            created_at,
        }))
    }

    async fn list_applications(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<ApplicationRecord>, StoreError> {
        let sql = "SELECT id, organization_id, name, description, created_at FROM applications \
                   WHERE organization_id = $1 ORDER BY id";
        let rows: Vec<(Uuid, Uuid, String, String, OffsetDateTime)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_all(&mut *c).await)?;
        Ok(rows
            .into_iter()
            .map(|(id, organization_id, name, description, created_at)| ApplicationRecord {
                id: ApplicationId::from_uuid(id),
                organization_id: OrganizationId::from_uuid(organization_id),
                name,
                description,
                created_at,
            })
            .collect())
    }

    async fn delete_application(
        &mut self,
        organization_id: OrganizationId,
        id: ApplicationId,
    ) -> Result<(), StoreError> {
        let members = "DELETE FROM group_members WHERE member_id = $1";
        let keys = "DELETE FROM api_keys WHERE application_id = $1";
        let application = "DELETE FROM applications WHERE id = $1 AND organization_id = $2";
        let n_rows = on_backend!(self.change()?, c => {
            sqlx::query(members).bind(id.as_uuid()).execute(&mut *c).await?;
            sqlx::query(keys).bind(id.as_uuid()).execute(&mut *c).await?;
            sqlx::query(application)
                .bind(id.as_uuid())
                .bind(organization_id.as_uuid())
                .execute(&mut *c)
                .await
                .map(|done| done.rows_affected())
        })?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("application"));
        }
        Ok(())
    }

    async fn insert_group(&mut self, group: &GroupRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO groups (id, organization_id, name, name_folded, created_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(group.id.as_uuid())
            .bind(group.organization_id.as_uuid())
            .bind(&group.name)
            .bind(group.name.to_lowercase())
            .bind(group.created_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| {
            StoreError::from_write(
                error,
                "a group with this name already exists in the organization",
            )
        })
    }

    async fn get_group(
        &mut self,
        organization_id: OrganizationId,
        id: GroupId,
    ) -> Result<Option<GroupRecord>, StoreError> {
        let sql = "SELECT id, organization_id, name, created_at FROM groups WHERE id = $1 AND organization_id = $2";
        let row: Option<(Uuid, Uuid, String, OffsetDateTime)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(id.as_uuid()).bind(organization_id.as_uuid()).fetch_optional(&mut *c).await)?;
        Ok(row.map(|(id, organization_id, name, created_at)| GroupRecord {
            id: GroupId::from_uuid(id),
            organization_id: OrganizationId::from_uuid(organization_id),
            name,
            created_at,
        }))
    }

    async fn list_groups(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<GroupRecord>, StoreError> {
        let sql = "SELECT id, organization_id, name, created_at FROM groups WHERE organization_id = $1 ORDER BY id";
        let rows: Vec<(Uuid, Uuid, String, OffsetDateTime)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_all(&mut *c).await)?;
        Ok(rows
            .into_iter()
            .map(|(id, organization_id, name, created_at)| GroupRecord {
                id: GroupId::from_uuid(id),
                organization_id: OrganizationId::from_uuid(organization_id),
                name,
                created_at,
            })
            .collect())
    }

    async fn delete_group(
        &mut self,
        organization_id: OrganizationId,
        id: GroupId,
    ) -> Result<(), StoreError> {
        let members = "DELETE FROM group_members WHERE group_id = $1";
        let group = "DELETE FROM groups WHERE id = $1 AND organization_id = $2";
        let n_rows = on_backend!(self.change()?, c => {
            sqlx::query(members).bind(id.as_uuid()).execute(&mut *c).await?;
            sqlx::query(group)
                .bind(id.as_uuid())
                .bind(organization_id.as_uuid())
                .execute(&mut *c)
                .await
                .map(|done| done.rows_affected())
        })?;
        if n_rows == 0 {
            return Err(StoreError::NotFound("group"));
        }
        Ok(())
    }

    async fn add_group_member(
        &mut self,
        group_id: GroupId,
        member: GroupMember,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO group_members (group_id, member_kind, member_id, added_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, member_id) DO NOTHING";
        let (kind, id) = member_parts(member);
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(group_id.as_uuid())
            .bind(kind)
            .bind(id)
            .bind(at)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn remove_group_member(
        &mut self,
        group_id: GroupId,
        member: GroupMember,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM group_members WHERE group_id = $1 AND member_id = $2";
        let (_, id) = member_parts(member);
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(group_id.as_uuid())
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn group_members(&mut self, group_id: GroupId) -> Result<Vec<GroupMember>, StoreError> {
        let sql = "SELECT member_kind, member_id FROM group_members WHERE group_id = $1 ORDER BY member_id";
        let rows: Vec<(String, Uuid)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(group_id.as_uuid()).fetch_all(&mut *c).await)?;
        rows.into_iter().map(|(kind, id)| member_of(&kind, id)).collect()
    }

    async fn groups_of(&mut self, member: GroupMember) -> Result<Vec<GroupId>, StoreError> {
        let sql = "SELECT group_id FROM group_members WHERE member_id = $1 ORDER BY group_id";
        let (_, id) = member_parts(member);
        let rows: Vec<(Uuid,)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(id).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(|(id,)| GroupId::from_uuid(id)).collect())
    }
}
