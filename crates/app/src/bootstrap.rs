//! Setting Rampart up: the provider's organisation, its owner and a first API key, created
//! either by `rampart init` or, on a first start with an empty database, by `serve` itself with
//! a one-time setup token.

use crate::AuditTrail as _;
use base::{
    Actor, Name, Organization, OrganizationId, OrganizationKind, RequestContext, Resource, UserId,
};
use store::{
    OrganizationRepository, PasswordPolicyRepository as _, UserRecord, UserRepository, UserRole,
};
use time::{Duration, OffsetDateTime};

use crate::api_keys::unix_millis;
use crate::secrets::{hash_secret, id_randomness, new_secret};
use crate::users::validate_email;
use crate::{App, AppError, IssuedApiKey};

/// What `rampart init` asks for.
#[derive(Debug, Clone)]
pub struct InitializeRequest {
    pub organization_name: String,
    pub owner_email: String,
    /// Sets the owner's password for interactive login when given.
    pub owner_password: Option<String>,
}

/// What `rampart init` created.
#[derive(Debug, Clone)]
pub struct Initialization {
    pub organization: Organization,
    pub owner_id: UserId,
    pub owner_email: String,
    pub api_key: IssuedApiKey,
}

/// What a first start created: the owner finishes set-up with the token.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub organization: Organization,
    pub owner_email: String,
    /// One-time setup token; only its hash is stored.
    pub setup_token: String,
    pub expires_at: OffsetDateTime,
}

/// What finishing set-up produced.
#[derive(Debug, Clone)]
pub struct SetupCompleted {
    pub organization_id: OrganizationId,
    pub owner_email: String,
    pub api_key: IssuedApiKey,
}

/// How long the setup token printed at first start stays valid.
pub const SETUP_TOKEN_VALIDITY: Duration = Duration::hours(24);
const SETUP_TOKEN_PREFIX: &str = "rampart_setup_";

impl App {
    /// Create the provider organisation, its owner and the owner's first API key. Refused once
    /// the provider organisation exists.
    pub async fn initialize(&self, request: InitializeRequest) -> Result<Initialization, AppError> {
        let name = Name::parse(&request.organization_name)
            .map_err(|error| AppError::InvalidInput(format!("organization name: {error}")))?;
        let email = validate_email(&request.owner_email)?;
        let password_hash = match &request.owner_password {
            Some(password) => {
                self.check_password_choice(password, &email, None, Some(name.as_str()), false)
                    .await?;
                Some(self.passwords.hash(password).await?)
            }
            None => None,
        };
        let mut transaction = self.store.begin().await?;
        if transaction.provider_organization().await?.is_some() {
            return Err(AppError::AlreadyInitialized);
        }
        let (organization, owner) =
            self.create_provider(&mut transaction, name, email, password_hash, None).await?;
        let context = RequestContext::default();
        let api_key = self
            .issue_api_key(
                &mut transaction,
                crate::api_keys::NewKey {
                    holder: store::KeyHolder::User(owner.id),
                    organization_id: owner.organization_id,
                    description: "initial key",
                    expires_at: None,
                    default_project: None,
                },
                &Actor::System,
                &context,
            )
            .await?;
        transaction.commit().await.map_err(already_initialized_on_conflict)?;
        Ok(Initialization { organization, owner_id: owner.id, owner_email: owner.email, api_key })
    }

    /// On a first start (no provider organisation yet), create it with an owner who has no
    /// credential but a one-time setup token. `None` when Rampart is already set up.
    pub async fn bootstrap_if_empty(
        &self,
        organization_name: &str,
        owner_email: &str,
    ) -> Result<Option<Bootstrap>, AppError> {
        let name = Name::parse(organization_name)
            .map_err(|error| AppError::InvalidInput(format!("organization name: {error}")))?;
        let email = validate_email(owner_email)?;
        let mut transaction = self.store.begin().await?;
        if transaction.provider_organization().await?.is_some() {
            return Ok(None);
        }
        let setup_token = new_secret(SETUP_TOKEN_PREFIX);
        let expires_at = self.clock.now() + SETUP_TOKEN_VALIDITY;
        let setup = Some((hash_secret(&setup_token), expires_at));
        let (organization, owner) =
            self.create_provider(&mut transaction, name, email, None, setup).await?;
        transaction.commit().await.map_err(already_initialized_on_conflict)?;
        Ok(Some(Bootstrap { organization, owner_email: owner.email, setup_token, expires_at }))
    }

    /// Consume a setup token: set the owner's password and issue the owner's first API key.
    pub async fn complete_setup(
        &self,
        setup_token: &str,
        password: &str,
        context: &RequestContext,
    ) -> Result<SetupCompleted, AppError> {
        let invalid =
            || AppError::InvalidInput("the setup token is invalid, used or expired".into());
        if !setup_token.starts_with(SETUP_TOKEN_PREFIX) {
            return Err(invalid());
        }
        let mut transaction = self.store.begin().await?;
        let owner = transaction
            .find_user_by_setup_token(&hash_secret(setup_token))
            .await?
            .filter(|owner| owner.setup_token_expires_at.is_some_and(|at| self.clock.now() < at))
            .ok_or_else(invalid)?;
        self.check_password_choice(password, &owner.email, None, None, false).await?;
        let password_hash = self.passwords.hash(password).await?;
        transaction.set_user_password(owner.id, &password_hash).await?;
        transaction.record_password_change(owner.id, self.clock.now()).await?;
        let actor = Actor::User {
            user_id: owner.id,
            organization_id: owner.organization_id,
            is_staff: true,
            label: owner.email.clone(),
            credential: base::Credential::Token,
        };
        let mut event = self.event(
            &actor,
            owner.organization_id,
            "user.setup.complete",
            Resource::new("user", owner.id),
        );
        event.context = context.clone();
        event.privileged = true;
        transaction.append_audit_event(&event).await?;
        let api_key = self
            .issue_api_key(
                &mut transaction,
                crate::api_keys::NewKey {
                    holder: store::KeyHolder::User(owner.id),
                    organization_id: owner.organization_id,
                    description: "initial key",
                    expires_at: None,
                    default_project: None,
                },
                &actor,
                context,
            )
            .await?;
        transaction.commit().await?;
        Ok(SetupCompleted {
            organization_id: owner.organization_id,
            owner_email: owner.email,
            api_key,
        })
    }

    async fn create_provider(
        &self,
        transaction: &mut store::Transaction,
        name: Name,
        email: String,
        password_hash: Option<String>,
        setup: Option<(Vec<u8>, OffsetDateTime)>,
    ) -> Result<(Organization, UserRecord), AppError> {
        let now = self.clock.now();
        let organization = Organization {
            id: OrganizationId::new(unix_millis(now), id_randomness()),
            name,
            kind: OrganizationKind::Provider,
            mfa_required: false,
            created_at: now,
            updated_at: now,
        };
        transaction.insert_organization(&organization).await?;
        let mut event = self.event(
            &Actor::System,
            organization.id,
            "organization.create",
            Resource::new("organization", organization.id),
        );
        event.details.insert("kind".into(), "provider".into());
        transaction.append_audit_event(&event).await?;

        let (setup_token_hash, setup_token_expires_at) = setup.unzip();
        let owner = UserRecord {
            id: UserId::new(unix_millis(now), id_randomness()),
            organization_id: organization.id,
            email,
            display_name: String::new(),
            status: store::UserStatus::Active,
            role: UserRole::Owner,
            password_hash,
            setup_token_hash,
            setup_token_expires_at,
            created_at: now,
        };
        transaction.insert_user(&owner).await?;
        let mut event = self.event(
            &Actor::System,
            organization.id,
            "user.create",
            Resource::new("user", owner.id),
        );
        event.privileged = true;
        event.details.insert("role".into(), "owner".into());
        event.details.insert("email".into(), owner.email.clone().into());
        transaction.append_audit_event(&event).await?;
        Ok((organization, owner))
    }
}

/// Two concurrent first starts race on the one-provider rule: the loser is "already set up".
fn already_initialized_on_conflict(error: store::StoreError) -> AppError {
    match error {
        store::StoreError::Conflict(_) => AppError::AlreadyInitialized,
        other => other.into(),
    }
}
