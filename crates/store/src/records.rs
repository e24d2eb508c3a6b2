//! Stored shapes that have no richer domain type yet.

use base::{ApiKeyId, OrganizationId, OrganizationKind, UserId};
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub email: String,
    pub role: UserRole,
    /// PHC string (argon2id), when the account has a password.
    pub password_hash: Option<String>,
    /// SHA-256 of a one-time setup token, while one is outstanding.
    pub setup_token_hash: Option<Vec<u8>>,
    pub setup_token_expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub user_id: UserId,
    /// SHA-256 of the secret; the secret itself is never stored.
    pub secret_hash: Vec<u8>,
    pub description: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// An API key found by its secret's hash, with what authentication needs to know of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedKey {
    pub key: ApiKeyRecord,
    pub user_email: String,
    pub user_role: UserRole,
    pub organization_id: OrganizationId,
    pub organization_kind: OrganizationKind,
}
