//! Accounts through their life: invited, active, suspended, deleted. Suspending or deleting an
//! account revokes at once every session and API key it holds.

use base::{OrganizationId, RequestContext, Resource, UserId};
use store::{
    ApiKeyRepository, AuthorizationRepository as _, InvitationRecord, InvitationRepository,
    PasskeyRepository as _, SessionRepository, UserRecord, UserRepository, UserRole, UserStatus,
};
use time::Duration;

use crate::AuditTrail as _;
use crate::api_keys::unix_millis;
use crate::mailer::Email;
use crate::secrets::{hash_secret, id_randomness, new_secret};
use crate::{App, AppError, Page, Principal};

const INVITATION_PREFIX: &str = "rampart_invite_";
/// How long an invitation link works.
pub const INVITATION_LIFETIME: Duration = Duration::hours(72);

pub(crate) fn validate_email(email: &str) -> Result<String, AppError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email.to_owned())
    } else {
        Err(AppError::InvalidInput(format!("invalid email address {email:?}")))
    }
}

/// The account an invitation is accepted with.
pub(crate) struct InvitedAccount {
    pub id: UserId,
    pub display_name: String,
    /// `None` for an account that signs in with passkeys only.
    pub password_hash: Option<String>,
}

fn invalid_invitation() -> AppError {
    AppError::InvalidInput("the invitation is invalid, used or expired".into())
}

/// The invitation `token` names, if it can still be accepted at `now`.
pub(crate) async fn open_invitation(
    transaction: &mut store::Transaction,
    token: &str,
    now: time::OffsetDateTime,
) -> Result<InvitationRecord, AppError> {
    if !token.starts_with(INVITATION_PREFIX) {
        return Err(invalid_invitation());
    }
    transaction
        .find_invitation(&hash_secret(token))
        .await?
        .filter(|invitation| invitation.accepted_at.is_none() && now < invitation.expires_at)
        .ok_or_else(invalid_invitation)
}

pub(crate) fn check_display_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::InvalidInput(
            "display name: at most 100 characters, no control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

impl App {
    /// Invite someone to join an organisation: a single-use link, valid 72 hours, mailed to
    /// them. Only its hash is kept.
    pub async fn invite_user(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        email: &str,
        role: UserRole,
        context: &RequestContext,
    ) -> Result<time::OffsetDateTime, AppError> {
        let email = validate_email(email)?;
        self.authorize_in(principal, organization_id, "iam:users:write", context).await?;
        self.refuse_guests(principal, organization_id, "iam:users:write", context).await?;
        self.require_recent_authentication(principal).await?;
        let now = self.clock.now();
        let token = new_secret(INVITATION_PREFIX);
        let invitation = InvitationRecord {
            token_hash: hash_secret(&token),
            organization_id,
            email: email.clone(),
            role,
            invited_by: principal.user_id()?,
            created_at: now,
            expires_at: now + INVITATION_LIFETIME,
            accepted_at: None,
        };
        let mut transaction = self.store.begin().await?;
        if transaction.find_user_by_email(&email).await?.is_some() {
            return Err(AppError::Conflict("an account with this email already exists".into()));
        }
        transaction.insert_invitation(&invitation).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "user.invite",
            Resource::kind_only("invitation"),
            context,
        );
        event.privileged = role == UserRole::Owner;
        event.details.insert("email".into(), email.clone().into());
        event.details.insert("role".into(), role.as_str().into());
        transaction.append_audit_event(&event).await?;
        let link = format!("{}/v1/auth/invitations/accept#{token}", self.identity.public_url);
        let message = Email {
            to: email,
            subject: "You are invited to Rampart".into(),
            body: format!(
                "You are invited to join an organization on Rampart.\n\nAccept within 72 hours: \
                 POST {url}/v1/auth/invitations/accept with {{\"token\": \"{token}\", \"password\": …}}\n\
                 ({link})\n\nTo sign in with a passkey instead of a password, ask for its options \
                 at POST {url}/v1/auth/invitations/passkey/options with the same token, then \
                 accept with {{\"token\": …, \"passkey\": {{\"credential\": …}}}}.\n",
                url = self.identity.public_url
            ),
        };
        self.identity
            .mailer
            .send(message)
            .await
            .map_err(|error| AppError::Internal(format!("mail: {error}")))?;
        transaction.commit().await?;
        Ok(invitation.expires_at)
    }

    /// Accept an invitation: create the account with its password. The token works once.
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        display_name: &str,
        context: &RequestContext,
    ) -> Result<UserRecord, AppError> {
        let display_name = check_display_name(display_name)?;
        let mut transaction = self.store.begin().await?;
        let invitation = open_invitation(&mut transaction, token, self.clock.now()).await?;
        let organization = store::OrganizationRepository::get_organization(
            &mut transaction,
            invitation.organization_id,
        )
        .await?;
        let organisation = organization.as_ref().map(|organization| organization.name.as_str());
        let mfa_enforced =
            organization.as_ref().is_some_and(|organization| organization.mfa_required);
        let name = (!display_name.is_empty()).then_some(display_name.as_str());
        self.check_password_choice(password, &invitation.email, name, organisation, mfa_enforced)
            .await?;
        let password_hash = self.passwords.hash(password).await?;
        let invited = InvitedAccount {
            id: UserId::new(unix_millis(self.clock.now()), id_randomness()),
            display_name,
            password_hash: Some(password_hash),
        };
        let user =
            self.create_invited_user(&mut transaction, &invitation, invited, context).await?;
        transaction.commit().await?;
        self.authorization.invalidate(user.organization_id);
        Ok(user)
    }

    /// Create the account an open invitation names, and use the invitation up, in
    /// `transaction`; the caller commits.
    pub(crate) async fn create_invited_user(
        &self,
        transaction: &mut store::Transaction,
        invitation: &InvitationRecord,
        account: InvitedAccount,
        context: &RequestContext,
    ) -> Result<UserRecord, AppError> {
        let now = self.clock.now();
        if !transaction.accept_invitation(&invitation.token_hash, now).await? {
            return Err(invalid_invitation());
        }
        let user = UserRecord {
            id: account.id,
            organization_id: invitation.organization_id,
            email: invitation.email.clone(),
            display_name: account.display_name,
            status: UserStatus::Active,
            role: invitation.role,
            password_hash: account.password_hash,
            setup_token_hash: None,
            setup_token_expires_at: None,
            created_at: now,
        };
        transaction.insert_user(&user).await?;
        let mut event = self.user_event(&user, "user.create", context);
        event.privileged = user.role == UserRole::Owner;
        event.details.insert("role".into(), user.role.as_str().into());
        event.details.insert("invited_by".into(), invitation.invited_by.to_string().into());
        let credential = if user.password_hash.is_some() { "password" } else { "passkey" };
        event.details.insert("credential".into(), credential.into());
        transaction.append_audit_event(&event).await?;
        Ok(user)
    }

    /// The accounts of an organisation.
    pub async fn list_users(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        after: Option<UserId>,
        limit: u32,
        context: &RequestContext,
    ) -> Result<Page<UserRecord>, AppError> {
        let limit = crate::organizations::check_limit(limit)?;
        self.authorize_in(principal, organization_id, "iam:users:read", context).await?;
        let mut read = self.store.read_latest().await?;
        let users = read.list_users(organization_id, after, limit + 1).await?;
        read.commit().await?;
        Ok(crate::organizations::page(users, limit, |user| user.id))
    }

    async fn member(
        &self,
        organization_id: OrganizationId,
        user_id: UserId,
    ) -> Result<UserRecord, AppError> {
        let mut read = self.store.read_latest().await?;
        let user = read.get_user(user_id).await?;
        read.commit().await?;
        user.filter(|user| {
            user.organization_id == organization_id && user.status != UserStatus::Deleted
        })
        .ok_or(AppError::NotFound("user"))
    }

    /// Suspend, reactivate or delete an account. Suspension and deletion end every session
    /// and revoke every API key of the account in the same transaction; deletion also erases
    /// its personal data and keeps its trail.
    pub async fn set_user_status(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        user_id: UserId,
        status: UserStatus,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let (action, permission) = match status {
            UserStatus::Pending => {
                return Err(AppError::InvalidInput(
                    "an account cannot be set back to pending".into(),
                ));
            }
            UserStatus::Active => ("user.reactivate", "iam:users:write"),
            UserStatus::Suspended => ("user.suspend", "iam:users:write"),
            UserStatus::Deleted => ("user.delete", "iam:users:delete"),
        };
        self.authorize_in(principal, organization_id, permission, context).await?;
        self.require_recent_authentication(principal).await?;
        let user = self.member(organization_id, user_id).await?;
        if principal.subject == crate::Subject::User(user.id) {
            return Err(AppError::Conflict("you cannot change your own account's status".into()));
        }
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let guard =
            crate::authorization::OwnersKeepIam::before(&mut transaction, organization_id).await?;
        transaction.set_user_status(user.id, status).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            action,
            Resource::new("user", user.id),
            context,
        );
        event.privileged = true;
        if status != UserStatus::Active {
            let n_sessions = transaction.end_user_sessions(user.id, now).await?;
            let n_keys = transaction.revoke_user_api_keys(user.id, now).await?;
            event.details.insert("sessions_ended".into(), n_sessions.into());
            event.details.insert("api_keys_revoked".into(), n_keys.into());
        }
        let hosts = if status == UserStatus::Active {
            Vec::new()
        } else {
            let reason = format!("home_account_{}", status.as_str());
            let hosts = self.end_guest_memberships_of(&mut transaction, &user, &reason).await?;
            if !hosts.is_empty() {
                event.details.insert("guest_memberships_ended".into(), hosts.len().into());
            }
            hosts
        };
        if status == UserStatus::Deleted {
            transaction.erase_user_personal_data(user.id).await?;
            let n_passkeys = transaction.delete_user_passkeys(user.id).await?;
            event.details.insert("passkeys_deleted".into(), n_passkeys.into());
            let holder = store::PolicyHolder::User(*user.id.as_uuid());
            let n_policies = transaction.delete_policies_of(holder).await?;
            event.details.insert("policies_deleted".into(), n_policies.into());
        }
        guard.check(&mut transaction).await?;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.credentials.evict_user(user.id);
        self.authorization.invalidate(organization_id);
        for host in hosts {
            self.authorization.invalidate(host);
        }
        Ok(())
    }
}

impl App {
    /// End every session of an account (an administrator's action, e.g. a lost laptop).
    pub async fn end_user_sessions(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        user_id: UserId,
        context: &RequestContext,
    ) -> Result<u64, AppError> {
        self.authorize_in(principal, organization_id, "iam:sessions:revoke", context).await?;
        let user = self.member(organization_id, user_id).await?;
        let mut transaction = self.store.begin().await?;
        let n_sessions = transaction.end_user_sessions(user.id, self.clock.now()).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "user.sessions.end",
            Resource::new("user", user.id),
            context,
        );
        event.privileged = true;
        event.details.insert("sessions_ended".into(), n_sessions.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.credentials.evict_user(user.id);
        Ok(n_sessions)
    }
}
