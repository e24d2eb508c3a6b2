//! Guests: an account of one organisation let into another (the host). A guest is always an
//! existing, authenticated account of its home organisation, with that organisation's
//! credentials and second factor; in the host it holds only what the host's policies grant it
//! (the engine sees it with the role `guest`, never `owner`), and nothing once its membership
//! ends. Every step is in the host's audit trail: `iam.guest.invite`, `iam.guest.accept`,
//! `iam.guest.revoke`, `iam.guest.leave`, `iam.guest.expire`.

use base::{Actor, Organization, OrganizationId, RequestContext, Resource, UserId};
use store::{
    GuestInvitationRecord, GuestMembershipRecord, GuestRepository, OrganizationRepository as _,
    Transaction, UserRecord, UserRepository, UserRole, UserStatus,
};
use time::OffsetDateTime;

use crate::AuditTrail as _;
use crate::mailer::Email;
use crate::secrets::{hash_secret, new_secret};
use crate::users::{INVITATION_LIFETIME, validate_email};
use crate::{App, AppError, Principal, Subject};

const GUEST_INVITATION_PREFIX: &str = "rampart_guest_";

/// A guest of an organisation, as its host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestView {
    pub membership: GuestMembershipRecord,
    pub email: String,
    pub display_name: String,
    /// The guest's own organisation.
    pub home_organization_id: OrganizationId,
}

/// How an account belongs to an organisation it can act in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Belonging {
    /// Its own organisation, with its role there.
    Home(UserRole),
    /// An organisation it is a guest of.
    Guest(GuestMembershipRecord),
}

/// An organisation the caller can act in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyOrganization {
    pub organization: Organization,
    pub belonging: Belonging,
}

/// Why a membership ended, as the trail says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Revoked,
    Left,
    Expired,
}

impl Ending {
    fn action(self) -> &'static str {
        match self {
            Self::Revoked => "iam.guest.revoke",
            Self::Left => "iam.guest.leave",
            Self::Expired => "iam.guest.expire",
        }
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// End a membership in the caller's transaction: the host's policies attached to the guest go
/// with it. Returns how many policies went, or `None` when no membership was open.
async fn end_membership(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    user_id: UserId,
    at: OffsetDateTime,
) -> Result<Option<u64>, AppError> {
    if !transaction.end_guest_membership(organization_id, user_id, at).await? {
        return Ok(None);
    }
    Ok(Some(transaction.delete_guest_policies(organization_id, user_id).await?))
}

impl App {
    /// Refuse, and record, an act that guests may never do in their host, whatever its
    /// policies say (inviting anyone).
    pub(crate) async fn refuse_guests(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        if principal.is_outsider_in(organization_id) {
            let resource = Resource::new("organization", organization_id);
            return Err(self
                .deny(principal, organization_id, action, resource, context, "guests_cannot_invite")
                .await);
        }
        Ok(())
    }

    /// Invite the account with this address, from another organisation, as a guest: a
    /// single-use link valid 72 hours is mailed to it, to accept while signed in as that
    /// account. An address with no active account elsewhere gets nothing, and the answer is
    /// the same (no enumeration); the invitation is recorded in the trail either way. An
    /// address of the organisation's own members, or of a current guest, is refused.
    /// Returns when the link expires.
    pub async fn invite_guest(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        email: &str,
        membership_expires_at: Option<OffsetDateTime>,
        context: &RequestContext,
    ) -> Result<OffsetDateTime, AppError> {
        let email = validate_email(email)?;
        self.authorize_in(principal, organization_id, "iam:guests:write", context).await?;
        self.refuse_guests(principal, organization_id, "iam:guests:write", context).await?;
        self.require_recent_authentication(principal).await?;
        let invited_by = principal.user_id()?;
        let now = self.clock.now();
        if membership_expires_at.is_some_and(|expires_at| expires_at <= now) {
            return Err(AppError::InvalidInput("expires_at must be in the future".into()));
        }
        let expires_at = now + INVITATION_LIFETIME;
        let mut transaction = self.store.begin().await?;
        let invitee = transaction
            .find_user_by_email(&email)
            .await?
            .filter(|user| user.status == UserStatus::Active);
        let token = match &invitee {
            Some(user) if user.organization_id == organization_id => {
                return Err(AppError::Conflict(
                    "this account is a member of the organization already".into(),
                ));
            }
            Some(user) => {
                let current = transaction.get_guest_membership(organization_id, user.id).await?;
                if current.is_some_and(|membership| membership.is_open_at(now)) {
                    return Err(AppError::Conflict(
                        "this account is a guest of the organization already".into(),
                    ));
                }
                let token = new_secret(GUEST_INVITATION_PREFIX);
                transaction
                    .insert_guest_invitation(&GuestInvitationRecord {
                        token_hash: hash_secret(&token),
                        organization_id,
                        user_id: user.id,
                        invited_by,
                        created_at: now,
                        expires_at,
                        membership_expires_at,
                        accepted_at: None,
                    })
                    .await?;
                Some(token)
            }
            None => None,
        };
        // The same entry whether or not an account received the link: the trail does not
        // tell the host what the answer does not.
        let mut event = self.success_event(
            principal,
            organization_id,
            "iam.guest.invite",
            Resource::kind_only("guest_invitation"),
            context,
        );
        event.privileged = true;
        event.details.insert("email".into(), email.clone().into());
        if let Some(at) = membership_expires_at {
            event.details.insert("membership_expires_at".into(), rfc3339(at).into());
        }
        transaction.append_audit_event(&event).await?;
        if let Some(token) = token {
            let organization = transaction
                .get_organization(organization_id)
                .await?
                .ok_or(AppError::NotFound("organization"))?;
            let message = Email {
                to: email,
                subject: "You are invited as a guest on Rampart".into(),
                body: format!(
                    "You are invited to join the organization {name:?} on Rampart as a guest, \
                     with your own account.\n\nSigned in, accept within 72 hours: POST \
                     {url}/v1/guest-invitations/accept with {{\"token\": \"{token}\"}}\n",
                    name = organization.name.as_str(),
                    url = self.identity.public_url,
                ),
            };
            self.identity
                .mailer
                .send(message)
                .await
                .map_err(|error| AppError::Internal(format!("mail: {error}")))?;
        }
        transaction.commit().await?;
        Ok(expires_at)
    }

    /// Accept a guest invitation, signed in (a session, not an API key) as the invited
    /// account. The link works once.
    pub async fn accept_guest_invitation(
        &self,
        principal: &Principal,
        token: &str,
        context: &RequestContext,
    ) -> Result<GuestMembershipRecord, AppError> {
        let invalid =
            || AppError::InvalidInput("the invitation is invalid, used or expired".into());
        let user_id = principal.user_id()?;
        if principal.session.is_none() {
            return Err(AppError::Forbidden(
                "accept an invitation signed in with a session, not with an API key".into(),
            ));
        }
        if !token.starts_with(GUEST_INVITATION_PREFIX) {
            return Err(invalid());
        }
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let invitation = transaction
            .find_guest_invitation(&hash_secret(token))
            .await?
            .filter(|invitation| invitation.accepted_at.is_none() && now < invitation.expires_at)
            .ok_or_else(invalid)?;
        let organization_id = invitation.organization_id;
        if invitation.user_id != user_id {
            drop(transaction);
            let resource = Resource::new("user", invitation.user_id);
            return Err(self
                .deny(
                    principal,
                    organization_id,
                    "iam.guest.accept",
                    resource,
                    context,
                    "wrong_account",
                )
                .await);
        }
        if invitation.membership_expires_at.is_some_and(|expires_at| expires_at <= now) {
            return Err(AppError::InvalidInput(
                "the membership this invitation offered has expired already".into(),
            ));
        }
        if !transaction.accept_guest_invitation(&invitation.token_hash, now).await? {
            return Err(invalid());
        }
        // A membership past its expiry that the hourly sweep has not ended yet is ended here.
        let current = transaction.get_guest_membership(organization_id, user_id).await?;
        if let Some(current) = current.filter(|current| current.revoked_at.is_none()) {
            if current.is_open_at(now) {
                return Err(AppError::Conflict(
                    "you are a guest of this organization already".into(),
                ));
            }
            end_membership(&mut transaction, organization_id, user_id, now).await?;
        }
        let membership = GuestMembershipRecord {
            organization_id,
            user_id,
            invited_by: invitation.invited_by,
            created_at: now,
            expires_at: invitation.membership_expires_at,
            revoked_at: None,
        };
        if !transaction.open_guest_membership(&membership).await? {
            return Err(AppError::Conflict("you are a guest of this organization already".into()));
        }
        let mut event = self.success_event(
            principal,
            organization_id,
            "iam.guest.accept",
            Resource::new("user", user_id),
            context,
        );
        event.privileged = true;
        event.details.insert("invited_by".into(), invitation.invited_by.to_string().into());
        event
            .details
            .insert("home_organization_id".into(), principal.organization_id.to_string().into());
        if let Some(at) = membership.expires_at {
            event.details.insert("expires_at".into(), rfc3339(at).into());
        }
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.authorization.invalidate(organization_id);
        Ok(membership)
    }

    /// The organisation's current guests.
    pub async fn list_guests(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<GuestView>, AppError> {
        self.authorize_in(principal, organization_id, "iam:guests:read", context).await?;
        let now = self.clock.now();
        let mut read = self.store.read_latest().await?;
        let memberships = read.list_guest_memberships(organization_id).await?;
        let mut guests = Vec::with_capacity(memberships.len());
        for membership in memberships.into_iter().filter(|membership| membership.is_open_at(now)) {
            let Some(user) = read.get_user(membership.user_id).await? else { continue };
            guests.push(GuestView {
                email: user.email,
                display_name: user.display_name,
                home_organization_id: user.organization_id,
                membership,
            });
        }
        read.commit().await?;
        Ok(guests)
    }

    /// End a guest's membership (the host's decision): from the next request, the guest's
    /// sessions and API keys no longer act in the organisation, and the policies attached to
    /// the guest there are deleted.
    pub async fn revoke_guest(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        user_id: UserId,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_in(principal, organization_id, "iam:guests:write", context).await?;
        self.refuse_guests(principal, organization_id, "iam:guests:write", context).await?;
        self.require_recent_authentication(principal).await?;
        self.end_guest(Some(principal), organization_id, user_id, Ending::Revoked, context).await
    }

    /// Leave an organisation one is a guest of.
    pub async fn leave_organization(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let user_id = principal.user_id()?;
        if principal.organization_id == organization_id {
            return Err(AppError::Conflict(
                "this is your own organization: only guests leave an organization".into(),
            ));
        }
        self.end_guest(Some(principal), organization_id, user_id, Ending::Left, context).await
    }

    async fn end_guest(
        &self,
        principal: Option<&Principal>,
        organization_id: OrganizationId,
        user_id: UserId,
        ending: Ending,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let n_policies = end_membership(&mut transaction, organization_id, user_id, now)
            .await?
            .ok_or(AppError::NotFound("guest"))?;
        let resource = Resource::new("user", user_id);
        let mut event = match principal {
            Some(principal) => {
                self.success_event(principal, organization_id, ending.action(), resource, context)
            }
            None => self.event(&Actor::System, organization_id, ending.action(), resource),
        };
        event.privileged = true;
        event.details.insert("policies_deleted".into(), n_policies.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.authorization.invalidate(organization_id);
        Ok(())
    }

    /// End the memberships whose expiry has passed (decisions already ignore them; this
    /// records the end and deletes their policies). Returns how many ended.
    pub async fn expire_guests(&self) -> Result<u64, AppError> {
        let now = self.clock.now();
        let mut read = self.store.read_latest().await?;
        let expiring = read.expiring_guest_memberships().await?;
        read.commit().await?;
        let mut n_expired = 0;
        for membership in expiring.into_iter().filter(|membership| !membership.is_open_at(now)) {
            let ended = self
                .end_guest(
                    None,
                    membership.organization_id,
                    membership.user_id,
                    Ending::Expired,
                    &RequestContext::default(),
                )
                .await;
            match ended {
                Ok(()) => n_expired += 1,
                // Ended meanwhile by someone else.
                Err(AppError::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(n_expired)
    }

    /// The organisations the caller can act in: its own, then those it is a guest of.
    pub async fn my_organizations(
        &self,
        principal: &Principal,
    ) -> Result<Vec<MyOrganization>, AppError> {
        let now = self.clock.now();
        let mut read = self.store.read_latest().await?;
        let home = read
            .get_organization(principal.organization_id)
            .await?
            .ok_or(AppError::NotFound("organization"))?;
        let mut organizations =
            vec![MyOrganization { organization: home, belonging: Belonging::Home(principal.role) }];
        if let Subject::User(user_id) = principal.subject {
            for membership in read.guest_memberships_of_user(user_id).await? {
                if !membership.is_open_at(now) {
                    continue;
                }
                if let Some(organization) =
                    read.get_organization(membership.organization_id).await?
                {
                    organizations.push(MyOrganization {
                        organization,
                        belonging: Belonging::Guest(membership),
                    });
                }
            }
        }
        read.commit().await?;
        Ok(organizations)
    }

    /// End, in the caller's transaction, every guest membership of an account being suspended
    /// or deleted at home; one `iam.guest.revoke` entry in each host's trail. Returns the
    /// hosts, whose authorisation must be reloaded once the transaction commits.
    pub(crate) async fn end_guest_memberships_of(
        &self,
        transaction: &mut Transaction,
        user: &UserRecord,
        reason: &str,
    ) -> Result<Vec<OrganizationId>, AppError> {
        let now = self.clock.now();
        let mut hosts = Vec::new();
        for membership in transaction.guest_memberships_of_user(user.id).await? {
            let host = membership.organization_id;
            let Some(n_policies) = end_membership(transaction, host, user.id, now).await? else {
                continue;
            };
            let mut event = self.event(
                &Actor::System,
                host,
                "iam.guest.revoke",
                Resource::new("user", user.id),
            );
            event.privileged = true;
            event.details.insert("reason".into(), reason.into());
            event.details.insert("policies_deleted".into(), n_policies.into());
            transaction.append_audit_event(&event).await?;
            hosts.push(host);
        }
        Ok(hosts)
    }
}
