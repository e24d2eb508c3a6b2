//! API keys: creation, and authentication of a presented secret.

use base::{Actor, ApiKeyId, Credential, ProjectId, RequestContext, Resource};
use store::{
    ApiKeyRecord, ApiKeyRepository, AuthenticatedHolder, KeyHolder, ProjectRepository as _,
    Transaction, UserRole,
};
use time::{Duration, OffsetDateTime};

use crate::AuditTrail as _;
use crate::secrets::{hash_secret, hashes_match, id_randomness, new_secret};
use crate::{App, AppError, Principal, Subject};

/// The prefix of every API key secret.
pub const SECRET_PREFIX: &str = "rampart_";

/// `last_used_at` is written at most this often per key, so reads stay reads.
const LAST_USED_RESOLUTION: Duration = Duration::minutes(1);

/// What a new key is: who holds it, where, what for, until when.
pub(crate) struct NewKey<'a> {
    pub(crate) holder: KeyHolder,
    pub(crate) organization_id: base::OrganizationId,
    pub(crate) description: &'a str,
    pub(crate) expires_at: Option<OffsetDateTime>,
    /// Checked to be a project of `organization_id` before the key is written.
    pub(crate) default_project: Option<ProjectId>,
}

/// What a client asks of a new key.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiKeyRequest<'a> {
    /// What the key is for.
    pub description: &'a str,
    /// When it stops working; never by default.
    pub expires_at: Option<OffsetDateTime>,
    /// A project of the key's organisation for clients that need one.
    pub default_project: Option<ProjectId>,
}

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
    /// Insert a new key for `holder` (of `organization_id`) inside `transaction`, with its
    /// audit event.
    pub(crate) async fn issue_api_key(
        &self,
        transaction: &mut Transaction,
        key: NewKey<'_>,
        actor: &Actor,
        context: &RequestContext,
    ) -> Result<IssuedApiKey, AppError> {
        let NewKey { holder, organization_id, description, expires_at, default_project } = key;
        if let Some(project) = default_project
            && transaction.get_project(organization_id, project).await?.is_none()
        {
            return Err(AppError::InvalidInput(
                "default_project: no such project in the key's organization".into(),
            ));
        }
        let now = self.clock.now();
        let id = ApiKeyId::new(unix_millis(now), id_randomness());
        let secret = new_secret(SECRET_PREFIX);
        let record = ApiKeyRecord {
            id,
            holder,
            secret_hash: hash_secret(&secret),
            description: description.to_owned(),
            created_at: now,
            expires_at,
            last_used_at: None,
            last_used_ip: None,
            default_project,
            revoked_at: None,
        };
        transaction.insert_api_key(&record).await?;
        let mut event =
            self.event(actor, organization_id, "api_key.create", Resource::new("api_key", id));
        event.context = context.clone();
        event.privileged = true;
        let holder_text = match holder {
            KeyHolder::User(id) => format!("user:{id}"),
            KeyHolder::Application(id) => format!("application:{id}"),
        };
        event.details.insert("holder".into(), holder_text.into());
        if let Some(project) = default_project {
            event.details.insert("default_project".into(), project.to_string().into());
        }
        transaction.append_audit_event(&event).await?;
        Ok(IssuedApiKey { id, secret, expires_at })
    }

    /// The principal holding the API key whose secret is `secret`, presented from
    /// `source_ip` (recorded as the key's last-used address).
    pub async fn authenticate_api_key(
        &self,
        secret: &str,
        source_ip: Option<std::net::IpAddr>,
    ) -> Result<Principal, AppError> {
        if !secret.starts_with(SECRET_PREFIX) || secret.len() > 128 {
            return Err(AppError::Unauthenticated);
        }
        let presented = hash_secret(secret);
        let now = self.clock.now();
        // Cached per address: the first use from a new address reads the key again and
        // records the address.
        let mut cache_key = presented.clone();
        match source_ip {
            Some(std::net::IpAddr::V4(ip)) => cache_key.extend_from_slice(&ip.octets()),
            Some(std::net::IpAddr::V6(ip)) => cache_key.extend_from_slice(&ip.octets()),
            None => {}
        }
        if let Some(principal) = self.credentials.get(&cache_key, now) {
            return Ok(principal);
        }
        let mut read = self.store.read_latest().await?;
        let found = read.find_api_key_by_secret_hash(&presented).await?;
        read.commit().await?;
        let Some(found) = found else { return Err(AppError::Unauthenticated) };
        let key = &found.key;
        let holder_active = match &found.holder {
            AuthenticatedHolder::User { status, .. } => *status == store::UserStatus::Active,
            AuthenticatedHolder::Application { .. } => true,
        };
        let usable = hashes_match(&key.secret_hash, &presented)
            && holder_active
            && key.revoked_at.is_none()
            && key.expires_at.is_none_or(|expires_at| now < expires_at);
        if !usable {
            return Err(AppError::Unauthenticated);
        }
        let source_ip = source_ip.map(|ip| ip.to_canonical().to_string());
        let moved = source_ip.is_some() && source_ip != key.last_used_ip;
        if moved || key.last_used_at.is_none_or(|last| now - last >= LAST_USED_RESOLUTION) {
            let mut transaction = self.store.begin().await?;
            transaction.touch_api_key(key.id, now, source_ip.as_deref()).await?;
            transaction.commit().await?;
        }
        let is_staff = found.organization_kind == base::OrganizationKind::Provider;
        let credential = Credential::ApiKey { id: key.id };
        let (actor, subject, role) = match (key.holder, found.holder) {
            (KeyHolder::User(user_id), AuthenticatedHolder::User { email, role, .. }) => (
                Actor::User {
                    user_id,
                    organization_id: found.organization_id,
                    is_staff,
                    label: email,
                    credential,
                },
                Subject::User(user_id),
                role,
            ),
            (KeyHolder::Application(application_id), AuthenticatedHolder::Application { name }) => {
                (
                    Actor::Application {
                        application_id,
                        organization_id: found.organization_id,
                        label: name,
                        credential,
                    },
                    Subject::Application(application_id),
                    // Applications are never owners: they get what policies grant them.
                    UserRole::Member,
                )
            }
            _ => return Err(AppError::Internal("api key holder mismatch".into())),
        };
        let principal = Principal {
            actor,
            subject,
            organization_id: found.organization_id,
            organization_kind: found.organization_kind,
            role,
            session: None,
        };
        self.credentials.put(cache_key, principal.clone(), now, key.expires_at);
        Ok(principal)
    }

    /// A new API key for the principal's own account, optionally expiring (at most a year
    /// ahead). Needs a recent authentication when the principal uses a session.
    pub async fn create_api_key(
        &self,
        principal: &Principal,
        request: ApiKeyRequest<'_>,
        context: &RequestContext,
    ) -> Result<IssuedApiKey, AppError> {
        let ApiKeyRequest { description, expires_at, default_project } = request;
        let now = self.clock.now();
        if let Some(expires_at) = expires_at
            && (expires_at <= now || expires_at > now + Duration::days(366))
        {
            return Err(AppError::InvalidInput(
                "expires_at must be in the future, at most a year ahead".into(),
            ));
        }
        // Applications get keys from an owner, never from themselves.
        principal.user_id()?;
        self.require_recent_authentication(principal).await?;
        let description = description.trim();
        if description.chars().count() > 200 || description.chars().any(char::is_control) {
            return Err(AppError::InvalidInput(
                "description must be at most 200 characters, without control characters".into(),
            ));
        }
        let mut transaction = self.store.begin().await?;
        let issued = self
            .issue_api_key(
                &mut transaction,
                crate::api_keys::NewKey {
                    holder: principal.subject.key_holder(),
                    organization_id: principal.organization_id,
                    description,
                    expires_at,
                    default_project,
                },
                &principal.actor,
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
        let keys = read.list_api_keys(principal.subject.key_holder()).await?;
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
        let holder = transaction.api_key_holder(id).await?;
        if holder != Some(principal.subject.key_holder()) {
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
