//! Who acts: the principal behind a request and the credential it used.

use serde::{Deserialize, Serialize};

use crate::{ApiKeyId, ApplicationId, OrganizationId, UserId};

/// The kind of principal, as recorded in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A customer's user.
    User,
    /// A non-human principal holding API keys.
    Application,
    /// A member of the provider's own organisation.
    Staff,
    /// Rampart itself (bootstrap, scheduled jobs).
    System,
}

impl ActorKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Application => "application",
            Self::Staff => "staff",
            Self::System => "system",
        }
    }
}

/// The credential a request was authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credential {
    ApiKey { id: ApiKeyId },
    Session,
    Token,
}

impl std::fmt::Display for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ApiKey { id } => write!(f, "api_key:{id}"),
            Self::Session => f.write_str("session"),
            Self::Token => f.write_str("token"),
        }
    }
}

/// An authenticated principal, or the system itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A human account acting through a credential.
    User {
        user_id: UserId,
        /// The organisation the account belongs to.
        organization_id: OrganizationId,
        /// True when that organisation is the provider's own: the account is staff.
        is_staff: bool,
        /// What to show for this account (its email); personal data.
        label: String,
        credential: Credential,
    },
    /// An application acting through one of its API keys.
    Application {
        application_id: ApplicationId,
        organization_id: OrganizationId,
        /// The application's name.
        label: String,
        credential: Credential,
    },
    /// Rampart itself.
    System,
}

impl Actor {
    pub fn kind(&self) -> ActorKind {
        match self {
            Self::User { is_staff: true, .. } => ActorKind::Staff,
            Self::User { .. } => ActorKind::User,
            Self::Application { .. } => ActorKind::Application,
            Self::System => ActorKind::System,
        }
    }

    pub fn id(&self) -> Option<String> {
        match self {
            Self::User { user_id, .. } => Some(user_id.to_string()),
            Self::Application { application_id, .. } => Some(application_id.to_string()),
            Self::System => None,
        }
    }

    pub fn label(&self) -> Option<&str> {
        match self {
            Self::User { label, .. } | Self::Application { label, .. } => Some(label),
            Self::System => None,
        }
    }

    pub fn credential(&self) -> Option<Credential> {
        match self {
            Self::User { credential, .. } | Self::Application { credential, .. } => {
                Some(*credential)
            }
            Self::System => None,
        }
    }
}
