//! Guests: accounts of one organisation let into another, and the invitations that bring them.

use base::{OrganizationId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// An account's membership of an organisation that is not its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestMembershipRecord {
    /// The host organisation.
    pub organization_id: OrganizationId,
    /// The guest, an account of another organisation.
    pub user_id: UserId,
    pub invited_by: UserId,
    /// When the guest accepted (the membership began).
    pub created_at: OffsetDateTime,
    /// When the membership ends by itself, if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// When it ended (revoked, left, expired, or the account suspended or deleted at home).
    pub revoked_at: Option<OffsetDateTime>,
}

impl GuestMembershipRecord {
    /// Whether the membership lets its guest in at `now`.
    pub fn is_open_at(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

/// An outstanding invitation of an existing account as a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestInvitationRecord {
    pub token_hash: Vec<u8>,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub invited_by: UserId,
    pub created_at: OffsetDateTime,
    /// When the link stops working.
    pub expires_at: OffsetDateTime,
    /// When the membership it opens will end, if ever.
    pub membership_expires_at: Option<OffsetDateTime>,
    pub accepted_at: Option<OffsetDateTime>,
}

type MembershipRow =
    (Uuid, Uuid, Uuid, OffsetDateTime, Option<OffsetDateTime>, Option<OffsetDateTime>);

fn membership(row: MembershipRow) -> GuestMembershipRecord {
    let (organization_id, user_id, invited_by, created_at, expires_at, revoked_at) = row;
    GuestMembershipRecord {
        organization_id: OrganizationId::from_uuid(organization_id),
        user_id: UserId::from_uuid(user_id),
        invited_by: UserId::from_uuid(invited_by),
        created_at,
        expires_at,
        revoked_at,
    }
}

/// A `SELECT` of every membership column, followed by the rest of the statement.
macro_rules! select_membership {
    ($rest:literal) => {
        concat!(
            "SELECT organization_id, user_id, invited_by, created_at, expires_at, revoked_at \
             FROM guest_memberships ",
            $rest
        )
    };
}

/// Storage of guest memberships and guest invitations.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait GuestRepository {
    async fn insert_guest_invitation(
        &mut self,
        invitation: &GuestInvitationRecord,
    ) -> Result<(), StoreError>;
    async fn find_guest_invitation(
        &mut self,
        token_hash: &[u8],
    ) -> Result<Option<GuestInvitationRecord>, StoreError>;
    /// Mark accepted; false when it was already accepted (single use).
    async fn accept_guest_invitation(
        &mut self,
        token_hash: &[u8],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Open a membership, or reopen an ended one of the same organisation and account; false
    /// when one is still open.
    async fn open_guest_membership(
        &mut self,
        membership: &GuestMembershipRecord,
    ) -> Result<bool, StoreError>;
    async fn get_guest_membership(
        &mut self,
        organization_id: OrganizationId,
        user_id: UserId,
    ) -> Result<Option<GuestMembershipRecord>, StoreError>;
    /// An organisation's memberships that have not ended, by guest id (expired ones included
    /// until they are ended: the caller compares with its clock).
    async fn list_guest_memberships(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<GuestMembershipRecord>, StoreError>;
    /// An account's memberships elsewhere that have not ended, by organisation id.
    async fn guest_memberships_of_user(
        &mut self,
        user_id: UserId,
    ) -> Result<Vec<GuestMembershipRecord>, StoreError>;
    /// Every membership with an expiry that has not ended, to find the expired ones.
    async fn expiring_guest_memberships(
        &mut self,
    ) -> Result<Vec<GuestMembershipRecord>, StoreError>;
    /// End an open membership; false when there was none.
    async fn end_guest_membership(
        &mut self,
        organization_id: OrganizationId,
        user_id: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Delete the policies an organisation attached to a guest (whose membership ended);
    /// returns how many.
    async fn delete_guest_policies(
        &mut self,
        organization_id: OrganizationId,
        user_id: UserId,
    ) -> Result<u64, StoreError>;
}

impl GuestRepository for Transaction {
    async fn insert_guest_invitation(
        &mut self,
        invitation: &GuestInvitationRecord,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO guest_invitations (token_hash, organization_id, user_id, \
                   invited_by, created_at, expires_at, membership_expires_at, accepted_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&invitation.token_hash)
            .bind(invitation.organization_id.as_uuid())
            .bind(invitation.user_id.as_uuid())
            .bind(invitation.invited_by.as_uuid())
            .bind(invitation.created_at)
            .bind(invitation.expires_at)
            .bind(invitation.membership_expires_at)
            .bind(invitation.accepted_at)
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|error| StoreError::from_write(error, "this invitation already exists"))
    }

    async fn find_guest_invitation(
        &mut self,
        token_hash: &[u8],
    ) -> Result<Option<GuestInvitationRecord>, StoreError> {
        let sql = "SELECT token_hash, organization_id, user_id, invited_by, created_at, \
                   expires_at, membership_expires_at, accepted_at FROM guest_invitations \
                   WHERE token_hash = $1";
        type Row = (
            Vec<u8>,
            Uuid,
            Uuid,
            Uuid,
            OffsetDateTime,
            OffsetDateTime,
            Option<OffsetDateTime>,
            Option<OffsetDateTime>,
        );
        let row: Option<Row> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(token_hash).fetch_optional(&mut *c).await)?;
        Ok(row.map(
            |(
                token_hash,
                organization_id,
                user_id,
                invited_by,
                created_at,
                expires_at,
                membership_expires_at,
                accepted_at,
            )| GuestInvitationRecord {
                token_hash,
                organization_id: OrganizationId::from_uuid(organization_id),
                user_id: UserId::from_uuid(user_id),
                invited_by: UserId::from_uuid(invited_by),
                created_at,
                expires_at,
                membership_expires_at,
                accepted_at,
            },
        ))
    }

    async fn accept_guest_invitation(
        &mut self,
        token_hash: &[u8],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE guest_invitations SET accepted_at = $1 \
                   WHERE token_hash = $2 AND accepted_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(token_hash)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn open_guest_membership(
        &mut self,
        membership: &GuestMembershipRecord,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO guest_memberships (organization_id, user_id, invited_by, \
                   created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, NULL) \
                   ON CONFLICT (organization_id, user_id) DO UPDATE SET \
                   invited_by = excluded.invited_by, created_at = excluded.created_at, \
                   expires_at = excluded.expires_at, revoked_at = NULL \
                   WHERE guest_memberships.revoked_at IS NOT NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(membership.organization_id.as_uuid())
            .bind(membership.user_id.as_uuid())
            .bind(membership.invited_by.as_uuid())
            .bind(membership.created_at)
            .bind(membership.expires_at)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))
        .map_err(|error| StoreError::from_write(error, "this guest membership already exists"))?;
        Ok(n_rows == 1)
    }

    async fn get_guest_membership(
        &mut self,
        organization_id: OrganizationId,
        user_id: UserId,
    ) -> Result<Option<GuestMembershipRecord>, StoreError> {
        let sql = select_membership!("WHERE organization_id = $1 AND user_id = $2");
        let row: Option<MembershipRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(user_id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        Ok(row.map(membership))
    }

    async fn list_guest_memberships(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<GuestMembershipRecord>, StoreError> {
        let sql = select_membership!(
            "WHERE organization_id = $1 AND revoked_at IS NULL ORDER BY user_id"
        );
        let rows: Vec<MembershipRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows.into_iter().map(membership).collect())
    }

    async fn guest_memberships_of_user(
        &mut self,
        user_id: UserId,
    ) -> Result<Vec<GuestMembershipRecord>, StoreError> {
        let sql = select_membership!(
            "WHERE user_id = $1 AND revoked_at IS NULL ORDER BY organization_id"
        );
        let rows: Vec<MembershipRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(user_id.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows.into_iter().map(membership).collect())
    }

    async fn expiring_guest_memberships(
        &mut self,
    ) -> Result<Vec<GuestMembershipRecord>, StoreError> {
        let sql = select_membership!(
            "WHERE expires_at IS NOT NULL AND revoked_at IS NULL ORDER BY organization_id, user_id"
        );
        let rows: Vec<MembershipRow> =
            on_backend!(self.connection(), c => sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(membership).collect())
    }

    async fn end_guest_membership(
        &mut self,
        organization_id: OrganizationId,
        user_id: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE guest_memberships SET revoked_at = $1 \
                   WHERE organization_id = $2 AND user_id = $3 AND revoked_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(organization_id.as_uuid())
            .bind(user_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn delete_guest_policies(
        &mut self,
        organization_id: OrganizationId,
        user_id: UserId,
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM authz_policies \
                   WHERE organization_id = $1 AND principal_kind = 'user' AND principal_id = $2";
        Ok(on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(user_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?)
    }
}
