//! Customer self sign-up with email verification, and password reset by emailed link. Both
//! answer the same whether or not the address has an account: no enumeration.

use base::{
    Actor, Name, Organization, OrganizationId, OrganizationKind, RequestContext, Resource, UserId,
};
use iam::throttle::{Decision, IpBucket, IpBucketConfig};
use store::{
    OrganizationRepository, PasswordPolicyRepository as _, PasswordResetRepository,
    SessionRepository, UserRecord, UserRepository, UserRole, UserStatus,
};
use time::Duration;

use crate::AuditTrail as _;
use crate::api_keys::unix_millis;
use crate::mailer::Email;
use crate::secrets::{hash_secret, id_randomness, new_secret};
use crate::users::validate_email;
use crate::{App, AppError, Principal};

const VERIFICATION_PREFIX: &str = "rampart_verify_";
const RESET_PREFIX: &str = "rampart_reset_";
/// How long the email verification link of a sign-up works.
pub const VERIFICATION_LIFETIME: Duration = Duration::hours(24);
/// How long a password reset link works.
pub const RESET_LIFETIME: Duration = Duration::minutes(30);

/// Sign-ups a source IP may make: a burst of 5, then one per 12 minutes.
pub(crate) fn signup_bucket_config() -> IpBucketConfig {
    IpBucketConfig { capacity: 5, refill_every: Duration::minutes(12) }
}

impl App {
    async fn mail(&self, to: &str, subject: &str, body: String) -> Result<(), AppError> {
        let email = Email { to: to.to_owned(), subject: subject.to_owned(), body };
        self.identity
            .mailer
            .send(email)
            .await
            .map_err(|error| AppError::Internal(format!("mail: {error}")))
    }

    fn take_signup_token(&self, context: &RequestContext) -> Result<(), AppError> {
        let Some(ip) = context.source_ip else { return Ok(()) };
        let now = self.clock.now();
        let config = signup_bucket_config();
        let mut buckets =
            self.identity.signup_buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            buckets.clear();
        }
        match buckets
            .entry(ip)
            .or_insert_with(|| IpBucket::new(&config, now))
            .try_acquire(&config, now)
        {
            Decision::Allowed => Ok(()),
            Decision::Delay(wait) => Err(AppError::Throttled {
                retry_after_seconds: u64::try_from(wait.whole_seconds()).unwrap_or(1).max(1),
            }),
            Decision::Locked(until) => Err(AppError::Throttled {
                retry_after_seconds: u64::try_from((until - now).whole_seconds())
                    .unwrap_or(1)
                    .max(1),
            }),
        }
    }

    /// Sign a customer up: a new organisation and its owner, inactive until the email address
    /// is verified with the mailed link. Answers the same when the address is taken (the
    /// owner of that address is told by mail instead).
    pub async fn sign_up(
        &self,
        organization_name: &str,
        email: &str,
        password: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        if !self.identity.signup_open {
            return Err(AppError::Forbidden(
                "self sign-up is closed on this deployment; ask for an invitation".into(),
            ));
        }
        let name = Name::parse(organization_name)
            .map_err(|error| AppError::InvalidInput(format!("organization name: {error}")))?;
        let email = validate_email(email)?;
        self.check_password_choice(password, &email, None, Some(name.as_str()), false).await?;
        self.take_signup_token(context)?;
        let password_hash = self.passwords.hash(password).await?;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        if transaction.find_user_by_email(&email).await?.is_some() {
            drop(transaction);
            return self.mail(&email, "Sign-up attempt", "Someone tried to sign up to Rampart with this address, which already has an account. If it was you, log in or reset your password.\n".into()).await;
        }
        let organization = Organization {
            id: OrganizationId::new(unix_millis(now), id_randomness()),
            name,
            kind: OrganizationKind::Customer,
            mfa_required: false,
            created_at: now,
            updated_at: now,
        };
        transaction.insert_organization(&organization).await?;
        let token = new_secret(VERIFICATION_PREFIX);
        let owner = UserRecord {
            id: UserId::new(unix_millis(now), id_randomness()),
            organization_id: organization.id,
            email: email.clone(),
            display_name: String::new(),
            status: UserStatus::Pending,
            role: UserRole::Owner,
            password_hash: Some(password_hash),
            setup_token_hash: Some(hash_secret(&token)),
            setup_token_expires_at: Some(now + VERIFICATION_LIFETIME),
            created_at: now,
        };
        transaction.insert_user(&owner).await?;
        let mut event = self.event(
            &Actor::System,
            organization.id,
            "auth.signup",
            Resource::new("organization", organization.id),
        );
        event.context = context.clone();
        event.details.insert("email".into(), email.clone().into());
        event.details.insert("name".into(), organization.name.as_str().into());
        transaction.append_audit_event(&event).await?;
        self.mail(&email, "Verify your email address", format!(
            "Welcome to Rampart. Verify your address within 24 hours: POST {}/v1/auth/signup/verify with {{\"token\": \"{token}\"}}\n",
            self.identity.public_url
        )).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Verify a sign-up's email address: the owner becomes active and can log in.
    pub async fn verify_sign_up(
        &self,
        token: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let invalid =
            || AppError::InvalidInput("the verification link is invalid, used or expired".into());
        if !token.starts_with(VERIFICATION_PREFIX) {
            return Err(invalid());
        }
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let owner = transaction
            .find_user_by_setup_token(&hash_secret(token))
            .await?
            .filter(|owner| {
                owner.status == UserStatus::Pending
                    && owner.setup_token_expires_at.is_some_and(|at| now < at)
            })
            .ok_or_else(invalid)?;
        transaction.clear_setup_token(owner.id).await?;
        transaction.set_user_status(owner.id, UserStatus::Active).await?;
        let mut event = self.user_event(&owner, "auth.signup.verify", context);
        event.privileged = true;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Mail a password reset link (30 minutes, single use) when the address has an active
    /// account; answers the same either way.
    pub async fn request_password_reset(
        &self,
        email: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let email = validate_email(email)?;
        self.take_signup_token(context)?;
        let mut read = self.store.read_latest().await?;
        let user = read.find_user_by_email(&email).await?;
        read.commit().await?;
        match user.filter(|user| user.status == UserStatus::Active) {
            Some(user) => self.send_reset_link(&user, &user_actor(&user), context).await,
            None => Ok(()),
        }
    }

    /// An administrator sends a user a reset link; the administrator never sets the password.
    pub async fn trigger_password_reset(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        user_id: UserId,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_in(principal, organization_id, "iam:passwords:reset", context).await?;
        let user = self.active_user(user_id).await.map_err(|_| AppError::NotFound("user"))?;
        if user.organization_id != organization_id {
            return Err(AppError::NotFound("user"));
        }
        self.send_reset_link(&user, &principal.actor, context).await
    }

    async fn send_reset_link(
        &self,
        user: &UserRecord,
        actor: &Actor,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let token = new_secret(RESET_PREFIX);
        let mut transaction = self.store.begin().await?;
        transaction
            .insert_password_reset(&hash_secret(&token), user.id, now, now + RESET_LIFETIME)
            .await?;
        let mut event = self.event(
            actor,
            user.organization_id,
            "user.password.reset_requested",
            Resource::new("user", user.id),
        );
        event.context = context.clone();
        transaction.append_audit_event(&event).await?;
        self.mail(&user.email, "Reset your password", format!(
            "Reset your Rampart password within 30 minutes: POST {}/v1/auth/password-reset/complete with {{\"token\": \"{token}\", \"password\": …}}\nIf you did not ask for this, ignore this message.\n",
            self.identity.public_url
        )).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Set a new password with a reset link. Every session of the account ends; a second
    /// factor, if enrolled, is still required at the next login.
    pub async fn complete_password_reset(
        &self,
        token: &str,
        password: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let invalid =
            || AppError::InvalidInput("the reset link is invalid, used or expired".into());
        if !token.starts_with(RESET_PREFIX) {
            return Err(invalid());
        }
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let user_id =
            transaction.use_password_reset(&hash_secret(token), now).await?.ok_or_else(invalid)?;
        let user = transaction
            .get_user(user_id)
            .await?
            .filter(|user| user.status == UserStatus::Active)
            .ok_or_else(invalid)?;
        let organisation = transaction
            .get_organization(user.organization_id)
            .await?
            .map(|organization| organization.name.as_str().to_owned());
        let name = (!user.display_name.is_empty()).then_some(user.display_name.as_str());
        self.check_password_choice(password, &user.email, name, organisation.as_deref(), false)
            .await?;
        let password_hash = self.passwords.hash(password).await?;
        transaction.set_user_password(user.id, &password_hash).await?;
        transaction.record_password_change(user.id, now).await?;
        let n_sessions = transaction.end_user_sessions(user.id, now).await?;
        let mut event = self.user_event(&user, "user.password.reset", context);
        event.privileged = true;
        event.details.insert("sessions_ended".into(), n_sessions.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.credentials.evict_user(user.id);
        Ok(())
    }
}

fn user_actor(user: &UserRecord) -> Actor {
    Actor::User {
        user_id: user.id,
        organization_id: user.organization_id,
        is_staff: false,
        label: user.email.clone(),
        credential: base::Credential::Token,
    }
}
