//! Stored shapes that have no richer domain type yet.

use base::{ApiKeyId, ApplicationId, GroupId, OrganizationId, OrganizationKind, ProjectId, UserId};
use time::OffsetDateTime;

/// An account's role in its organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRole {
    Owner,
    Member,
}

impl UserRole {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Member => "member",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, crate::StoreError> {
        match text {
            "owner" => Ok(Self::Owner),
            "member" => Ok(Self::Member),
            other => Err(crate::StoreError::Corrupt(format!("unknown user role {other:?}"))),
        }
    }
}

/// Where an account is in its life: active, suspended (every credential refused), or deleted
/// (personal data erased, the trail kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Signed up, email address not verified yet: cannot log in.
    Pending,
    Active,
    Suspended,
    Deleted,
}

impl UserStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleted => "deleted",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, crate::StoreError> {
        match text {
            "pending" => Ok(Self::Pending),
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            "deleted" => Ok(Self::Deleted),
            other => Err(crate::StoreError::Corrupt(format!("unknown user status {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub email: String,
    pub display_name: String,
    pub status: UserStatus,
    pub role: UserRole,
    /// PHC string (argon2id), when the account has a password.
    pub password_hash: Option<String>,
    /// SHA-256 of a one-time setup token, while one is outstanding.
    pub setup_token_hash: Option<Vec<u8>>,
    pub setup_token_expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// Who holds an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHolder {
    User(UserId),
    Application(ApplicationId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub holder: KeyHolder,
    /// SHA-256 of the secret; the secret itself is never stored.
    pub secret_hash: Vec<u8>,
    pub description: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    /// The source address of the last use, written with `last_used_at`.
    pub last_used_ip: Option<String>,
    /// A project of the key's organisation that clients use when a request names none.
    pub default_project: Option<ProjectId>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// An API key found by its secret's hash, with what authentication needs to know of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedKey {
    pub key: ApiKeyRecord,
    pub holder: AuthenticatedHolder,
    pub organization_id: OrganizationId,
    pub organization_kind: OrganizationKind,
}

/// A login session; only its token's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: uuid::Uuid,
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// When the user last proved a factor (login or step-up).
    pub authenticated_at: OffsetDateTime,
    /// When the user last proved a second factor, if ever in this session.
    pub mfa_at: Option<OffsetDateTime>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Only second-factor enrolment is allowed until one is enrolled.
    pub restricted: bool,
    pub ended_at: Option<OffsetDateTime>,
}

/// A session found by its token's hash, with its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedSession {
    pub session: SessionRecord,
    pub user: UserRecord,
    pub organization_kind: OrganizationKind,
}

/// What opening a session after a verified password depends on: the account's second
/// factors, its organisation's MFA rule and password age limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInFacts {
    /// The account has a confirmed authenticator app.
    pub totp_confirmed: bool,
    /// The account has at least one passkey.
    pub has_passkey: bool,
    /// The kind of the account's organisation (`None` if it no longer exists).
    pub organization_kind: Option<OrganizationKind>,
    /// The organisation requires MFA of all its members.
    pub organization_mfa_required: bool,
    /// The organisation's maximum password age, if it sets one.
    pub password_max_age_days: Option<u32>,
    /// When the account last chose its password, if recorded.
    pub password_changed_at: Option<OffsetDateTime>,
}

/// What a password login reads before it verifies the password, in one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSignIn {
    /// The account with the email, if there is one, and what opening a session of it
    /// depends on.
    pub account: Option<(UserRecord, SignInFacts)>,
    /// The email's login throttle, kept whether or not an account has the email.
    pub throttle: Option<StoredThrottle>,
}

/// A login throttle as stored: its state (JSON text) and a version that every write
/// increments, so that a write can require the state to be the one it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredThrottle {
    pub state: String,
    pub version: i64,
}

/// An outstanding invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    pub token_hash: Vec<u8>,
    pub organization_id: OrganizationId,
    pub email: String,
    pub role: UserRole,
    pub invited_by: UserId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub accepted_at: Option<OffsetDateTime>,
}

/// A TOTP factor: the seed sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub user_id: UserId,
    pub sealed_seed: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub confirmed_at: Option<OffsetDateTime>,
    pub last_step: Option<u64>,
}

/// What authentication needs to know of a key's holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticatedHolder {
    User { email: String, status: UserStatus, role: UserRole },
    Application { name: String },
}

/// A non-human principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRecord {
    pub id: ApplicationId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub description: String,
    pub created_at: OffsetDateTime,
}

/// A group of users and applications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub id: GroupId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub created_at: OffsetDateTime,
}

/// A member of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupMember {
    User(UserId),
    Application(ApplicationId),
}
