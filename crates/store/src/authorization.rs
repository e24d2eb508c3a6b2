//! Authorisation settings of an organisation: its own actions and permission sets, policies
//! attached to one principal, raw Cedar policies. Rules and action lists are stored as JSON
//! text; their shape is the `authz` crate's, which the application layer validates.

use base::{ApplicationId, OrganizationId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::{GroupMember, UserRole};
use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// Who a policy attaches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyHolder {
    User(Uuid),
    Group(Uuid),
    Application(Uuid),
}

impl PolicyHolder {
    pub(crate) fn parts(self) -> (&'static str, Uuid) {
        match self {
            Self::User(id) => ("user", id),
            Self::Group(id) => ("group", id),
            Self::Application(id) => ("application", id),
        }
    }

    pub(crate) fn from_parts(kind: &str, id: Uuid) -> Result<Self, StoreError> {
        match kind {
            "user" => Ok(Self::User(id)),
            "group" => Ok(Self::Group(id)),
            "application" => Ok(Self::Application(id)),
            other => Err(StoreError::Corrupt(format!("unknown policy principal kind {other:?}"))),
        }
    }

    /// The principal's id, whatever its kind.
    pub fn id(self) -> Uuid {
        self.parts().1
    }
}

/// A policy: rules granted to one principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub holder: PolicyHolder,
    pub description: String,
    /// JSON array of rules.
    pub rules: String,
    /// Who created the policy (an actor id), when known.
    pub created_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A Cedar policy an organisation wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPolicyRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub description: String,
    pub text: String,
    pub created_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An action of one of the organisation's own services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomActionRecord {
    pub organization_id: OrganizationId,
    pub name: String,
    pub description: String,
    pub privileged: bool,
    pub created_at: OffsetDateTime,
}

/// A permission set the organisation defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSetRecord {
    pub organization_id: OrganizationId,
    pub name: String,
    pub description: String,
    /// JSON array of action names.
    pub actions: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Everything an organisation's authorisation is compiled from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationSettings {
    pub custom_actions: Vec<CustomActionRecord>,
    pub permission_sets: Vec<PermissionSetRecord>,
    pub policies: Vec<PolicyRecord>,
    pub raw_policies: Vec<RawPolicyRecord>,
}

type PolicyRow =
    (Uuid, Uuid, String, Uuid, String, String, Option<String>, OffsetDateTime, OffsetDateTime);

fn policy_of(row: PolicyRow) -> Result<PolicyRecord, StoreError> {
    let (
        id,
        organization_id,
        kind,
        holder_id,
        description,
        rules,
        created_by,
        created_at,
        updated_at,
    ) = row;
    Ok(PolicyRecord {
        id,
        organization_id: OrganizationId::from_uuid(organization_id),
        holder: PolicyHolder::from_parts(&kind, holder_id)?,
        description,
        rules,
        created_by,
        created_at,
        updated_at,
    })
}

/// Storage of authorisation settings.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait AuthorizationRepository {
    /// Everything one organisation's authorisation is compiled from.
    async fn authorization_settings(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<AuthorizationSettings, StoreError>;
    /// The ids of the organisation's projects.
    async fn project_ids(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<Uuid>, StoreError>;
    /// The principals who can act in the organisation: its active users (with whether each is
    /// an owner) and its applications.
    async fn active_members(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<(GroupMember, UserRole)>, StoreError>;
    /// Every group membership in the organisation: (group id, member id).
    async fn group_memberships(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<(Uuid, Uuid)>, StoreError>;
    async fn insert_policy(&mut self, policy: &PolicyRecord) -> Result<(), StoreError>;
    /// Replace a policy's description and rules.
    async fn update_policy(&mut self, policy: &PolicyRecord) -> Result<(), StoreError>;
    async fn get_policy(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<PolicyRecord>, StoreError>;
    async fn delete_policy(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<(), StoreError>;
    /// Delete every policy attached to a principal (which is being deleted); returns how many.
    async fn delete_policies_of(&mut self, holder: PolicyHolder) -> Result<u64, StoreError>;
    async fn insert_raw_policy(&mut self, policy: &RawPolicyRecord) -> Result<(), StoreError>;
    async fn delete_raw_policy(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<(), StoreError>;
    async fn insert_custom_action(&mut self, action: &CustomActionRecord)
    -> Result<(), StoreError>;
    async fn delete_custom_action(
        &mut self,
        organization_id: OrganizationId,
        name: &str,
    ) -> Result<(), StoreError>;
    /// Create or replace a permission set.
    async fn put_permission_set(&mut self, set: &PermissionSetRecord) -> Result<(), StoreError>;
    async fn delete_permission_set(
        &mut self,
        organization_id: OrganizationId,
        name: &str,
    ) -> Result<(), StoreError>;
}

fn deleted(n_rows: u64, what: &'static str) -> Result<(), StoreError> {
    if n_rows == 0 { Err(StoreError::NotFound(what)) } else { Ok(()) }
}

impl AuthorizationRepository for Transaction {
    async fn authorization_settings(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<AuthorizationSettings, StoreError> {
        let organization = organization_id.as_uuid();
        let sql = "SELECT name, description, privileged, created_at FROM authz_custom_actions \
                   WHERE organization_id = $1 ORDER BY name";
        let actions: Vec<(String, String, bool, OffsetDateTime)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization).fetch_all(&mut *c).await)?;
        let sql = "SELECT name, description, actions, created_at, updated_at \
                   FROM authz_permission_sets WHERE organization_id = $1 ORDER BY name";
        let sets: Vec<(String, String, String, OffsetDateTime, OffsetDateTime)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization).fetch_all(&mut *c).await)?;
        let sql = concat!(
            "SELECT id, organization_id, principal_kind, principal_id, description, rules, ",
            "created_by, created_at, updated_at FROM authz_policies WHERE organization_id = $1 ",
            "ORDER BY id"
        );
        let policies: Vec<PolicyRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization).fetch_all(&mut *c).await)?;
        let sql = "SELECT id, description, text, created_by, created_at, updated_at \
                   FROM authz_raw_policies WHERE organization_id = $1 ORDER BY id";
        #[allow(clippy::type_complexity, reason = "one row of a query")]
        let raw: Vec<(
            Uuid,
            String,
            String,
            Option<String>,
            OffsetDateTime,
            OffsetDateTime,
        )> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization).fetch_all(&mut *c).await)?;
        Ok(AuthorizationSettings {
            custom_actions: actions
                .into_iter()
                .map(|(name, description, privileged, created_at)| CustomActionRecord {
                    organization_id,
                    name,
                    description,
                    privileged,
                    created_at,
                })
                .collect(),
            permission_sets: sets
                .into_iter()
                .map(|(name, description, actions, created_at, updated_at)| PermissionSetRecord {
                    organization_id,
                    name,
                    description,
                    actions,
                    created_at,
                    updated_at,
                })
                .collect(),
            policies: policies.into_iter().map(policy_of).collect::<Result<_, _>>()?,
            raw_policies: raw
                .into_iter()
                .map(|(id, description, text, created_by, created_at, updated_at)| {
                    RawPolicyRecord {
                        id,
                        organization_id,
                        description,
                        text,
                        created_by,
                        created_at,
                        updated_at,
                    }
                })
                .collect(),
        })
    }

    async fn project_ids(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<Uuid>, StoreError> {
        let sql = "SELECT id FROM projects WHERE organization_id = $1";
        let rows: Vec<(Uuid,)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn active_members(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<(GroupMember, UserRole)>, StoreError> {
        let sql = "SELECT id, role FROM users WHERE organization_id = $1 AND status = 'active'";
        let users: Vec<(Uuid, String)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_all(&mut *c).await)?;
        let sql = "SELECT id FROM applications WHERE organization_id = $1";
        let applications: Vec<(Uuid,)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_all(&mut *c).await)?;
        let mut members = Vec::with_capacity(users.len() + applications.len());
        for (id, role) in users {
            let role = match role.as_str() {
                "owner" => UserRole::Owner,
                "member" => UserRole::Member,
                other => return Err(StoreError::Corrupt(format!("unknown user role {other:?}"))),
            };
            members.push((GroupMember::User(UserId::from_uuid(id)), role));
        }
        members.extend(applications.into_iter().map(|(id,)| {
            (GroupMember::Application(ApplicationId::from_uuid(id)), UserRole::Member)
        }));
        Ok(members)
    }

    async fn group_memberships(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let sql = "SELECT m.group_id, m.member_id FROM group_members m \
                   JOIN groups g ON g.id = m.group_id WHERE g.organization_id = $1";
        Ok(on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_all(&mut *c).await)?)
    }

    async fn insert_policy(&mut self, policy: &PolicyRecord) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO authz_policies (id, organization_id, principal_kind, principal_id, ",
            "description, rules, created_by, created_at, updated_at) ",
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        );
        let (kind, holder) = policy.holder.parts();
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(policy.id)
            .bind(policy.organization_id.as_uuid())
            .bind(kind)
            .bind(holder)
            .bind(&policy.description)
            .bind(&policy.rules)
            .bind(&policy.created_by)
            .bind(policy.created_at)
            .bind(policy.updated_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, "a policy with this id already exists"))
    }

    async fn update_policy(&mut self, policy: &PolicyRecord) -> Result<(), StoreError> {
        let sql = "UPDATE authz_policies SET description = $1, rules = $2, updated_at = $3 \
                   WHERE id = $4 AND organization_id = $5";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&policy.description)
            .bind(&policy.rules)
            .bind(policy.updated_at)
            .bind(policy.id)
            .bind(policy.organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        deleted(n_rows, "policy")
    }

    async fn get_policy(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<PolicyRecord>, StoreError> {
        let sql = concat!(
            "SELECT id, organization_id, principal_kind, principal_id, description, rules, ",
            "created_by, created_at, updated_at FROM authz_policies ",
            "WHERE id = $1 AND organization_id = $2"
        );
        let row: Option<PolicyRow> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(id).bind(organization_id.as_uuid()).fetch_optional(&mut *c).await)?;
        row.map(policy_of).transpose()
    }

    async fn delete_policy(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM authz_policies WHERE id = $1 AND organization_id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id)
            .bind(organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        deleted(n_rows, "policy")
    }

    async fn delete_policies_of(&mut self, holder: PolicyHolder) -> Result<u64, StoreError> {
        let sql = "DELETE FROM authz_policies WHERE principal_kind = $1 AND principal_id = $2";
        let (kind, id) = holder.parts();
        Ok(on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(kind)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?)
    }

    async fn insert_raw_policy(&mut self, policy: &RawPolicyRecord) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO authz_raw_policies (id, organization_id, description, text, created_by, ",
            "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        );
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(policy.id)
            .bind(policy.organization_id.as_uuid())
            .bind(&policy.description)
            .bind(&policy.text)
            .bind(&policy.created_by)
            .bind(policy.created_at)
            .bind(policy.updated_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| {
            StoreError::from_write(error, "a Cedar policy with this id already exists")
        })
    }

    async fn delete_raw_policy(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM authz_raw_policies WHERE id = $1 AND organization_id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(id)
            .bind(organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        deleted(n_rows, "Cedar policy")
    }

    async fn insert_custom_action(
        &mut self,
        action: &CustomActionRecord,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO authz_custom_actions (organization_id, name, description, \
                   privileged, created_at) VALUES ($1, $2, $3, $4, $5)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(action.organization_id.as_uuid())
            .bind(&action.name)
            .bind(&action.description)
            .bind(action.privileged)
            .bind(action.created_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, "this action is already defined"))
    }

    async fn delete_custom_action(
        &mut self,
        organization_id: OrganizationId,
        name: &str,
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM authz_custom_actions WHERE organization_id = $1 AND name = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(name)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        deleted(n_rows, "action")
    }

    async fn put_permission_set(&mut self, set: &PermissionSetRecord) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO authz_permission_sets (organization_id, name, description, actions, ",
            "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ",
            "ON CONFLICT (organization_id, name) DO UPDATE SET description = excluded.description, ",
            "actions = excluded.actions, updated_at = excluded.updated_at"
        );
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(set.organization_id.as_uuid())
            .bind(&set.name)
            .bind(&set.description)
            .bind(&set.actions)
            .bind(set.created_at)
            .bind(set.updated_at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn delete_permission_set(
        &mut self,
        organization_id: OrganizationId,
        name: &str,
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM authz_permission_sets WHERE organization_id = $1 AND name = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(name)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        deleted(n_rows, "permission set")
    }
}
