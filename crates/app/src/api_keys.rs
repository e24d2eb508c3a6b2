//! API keys: creation, and authentication of a presented secret.

use base::{Actor, ApiKeyId, Credential, RequestContext, Resource};
use store::{ApiKeyRecord, ApiKeyRepository, Transaction, UserRecord, UserRepository};
use time::{Duration, OffsetDateTime};

use crate::AuditTrail as _;
use crate::secrets::{hash_secret, hashes_match, id_randomness, new_secret};
use crate::{App, AppError, Principal};

/// The prefix of every API key secret.
pub const SECRET_PREFIX: &str = "rampart_";

/// `last_used_at` is written at most this often per key, so reads stay reads.
const LAST_USED_RESOLUTION: Duration = Duration::minutes(1);

/// A key just created: the only moment its secret exists outside the caller's hands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedApiKey {
    /// The public identifier ("access key").
    pub id: ApiKeyId,
    /// The secret, shown once; Rampart keeps only its hash.
    pub secret: String,
    pub expires_at: Option<OffsetDateTime>,
}

impl App {
    /// Insert a new key for `owner` inside `transaction`, with its audit event.
    pub(crate) async fn issue_api_key(
        &self,
        transaction: &mut Transaction,
        owner: &UserRecord,
        actor: &Actor,
        description: &str,
        expires_at: Option<OffsetDateTime>,
        context: &RequestContext,
    ) -> Result<IssuedApiKey, AppError> {
        let now = self.clock.now();
        let id = ApiKeyId::new(unix_millis(now), id_randomness());
        let secret = new_secret(SECRET_PREFIX);
        let record = ApiKeyRecord {
            id,
            user_id: owner.id,
            secret_hash: hash_secret(&secret),
            description: description.to_owned(),
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        transaction.insert_api_key(&record).await?;
        let mut event = self.event(
            actor,
            owner.organization_id,
            "api_key.create",
            Resource::new("api_key", id),
        );
        event.context = context.clone();
        event.privileged = true;
        event.details.insert("owner".into(), owner.id.to_string().into());
        transaction.append_audit_event(&event).await?;
        Ok(IssuedApiKey { id, secret, expires_at })
    }

    /// The principal holding the API key whose secret is `secret`.
    pub async fn authenticate_api_key(&self, secret: &str) -> Result<Principal, AppError> {
        if !secret.starts_with(SECRET_PREFIX) || secret.len() > 128 {
            return Err(AppError::Unauthenticated);
        }
        let presented = hash_secret(secret);
        let now = self.clock.now();
        if let Some(principal) = self.credentials.get(&presented, now) {
            return Ok(principal);
        }
        let mut read = self.store.read_latest().await?;
        let found = read.find_api_key_by_secret_hash(&presented).await?;
        read.commit().await?;
        let Some(found) = found else { return Err(AppError::Unauthenticated) };
        let key = &found.key;
        let usable = hashes_match(&key.secret_hash, &presented)
            && found.user_status == store::UserStatus::Active
            && key.revoked_at.is_none()
            && key.expires_at.is_none_or(|expires_at| now < expires_at);
        if !usable {
            return Err(AppError::Unauthenticated);
        }
        if key.last_used_at.is_none_or(|last| now - last >= LAST_USED_RESOLUTION) {
            let mut transaction = self.store.begin().await?;
            transaction.touch_api_key(key.id, now).await?;
            transaction.commit().await?;
        }
        let is_staff = found.organization_kind == base::OrganizationKind::Provider;
        let principal = Principal {
            actor: Actor::User {
                user_id: key.user_id,
                organization_id: found.organization_id,
                is_staff,
                label: found.user_email,
                credential: Credential::ApiKey { id: key.id },
            },
            user_id: key.user_id,
            organization_id: found.organization_id,
            organization_kind: found.organization_kind,
            role: found.user_role,
            session: None,
        };
        self.credentials.put(presented, principal.clone(), now, key.expires_at);
        Ok(principal)
    }

    /// A new API key for the principal's own account, optionally expiring (at most a year
    /// ahead). Needs a recent authentication when the principal uses a session.
    pub async fn create_api_key(
        &self,
        principal: &Principal,
        description: &str,
        expires_at: Option<OffsetDateTime>,
        context: &RequestContext,
    ) -> Result<IssuedApiKey, AppError> {
        let now = self.clock.now();
        if let Some(expires_at) = expires_at
            && (expires_at <= now || expires_at > now + Duration::days(366))
        {
            return Err(AppError::InvalidInput(
                "expires_at must be in the future, at most a year ahead".into(),
            ));
        }
        self.require_recent_authentication(principal).await?;
        let description = description.trim();
        if description.chars().count() > 200 || description.chars().any(char::is_control) {
            return Err(AppError::InvalidInput(
                "description must be at most 200 characters, without control characters".into(),
            ));
        }
        let mut transaction = self.store.begin().await?;
        let owner =
            transaction.get_user(principal.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let issued = self
            .issue_api_key(
                &mut transaction,
                &owner,
                &principal.actor,
                description,
                expires_at,
                context,
            )
            .await?;
        transaction.commit().await?;
        Ok(issued)
    }

    /// The principal's own keys that are not revoked (never their secrets).
    pub async fn list_api_keys(
        &self,
        principal: &Principal,
    ) -> Result<Vec<ApiKeyRecord>, AppError> {
        let mut read = self.store.read_latest().await?;
        let keys = read.list_user_api_keys(principal.user_id).await?;
        read.commit().await?;
        Ok(keys)
    }

    /// Revoke an API key of the principal's own account.
    pub async fn revoke_api_key(
        &self,
        principal: &Principal,
        id: ApiKeyId,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let mut transaction = self.store.begin().await?;
        let owned = transaction.api_key_owner(id).await?;
        if owned != Some(principal.user_id) {
            return Err(AppError::NotFound("api key"));
        }
        transaction.revoke_api_key(id, self.clock.now()).await?;
        let mut event = self.success_event(
            principal,
            principal.organization_id,
            "api_key.revoke",
            Resource::new("api_key", id),
            context,
        );
        event.privileged = true;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.credentials.evict_key(id);
        Ok(())
    }
}

pub(crate) fn unix_millis(at: OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}
