//! The authenticated caller of a use case.

use base::{Actor, ApplicationId, OrganizationId, OrganizationKind, UserId};
use store::{GroupMember, KeyHolder};

use crate::AppError;
use store::UserRole;

/// Who is calling, established by authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub actor: Actor,
    pub subject: Subject,
    pub organization_id: OrganizationId,
    pub organization_kind: OrganizationKind,
    pub role: UserRole,
    /// Present when the principal authenticated with a session (interactive login).
    pub session: Option<SessionFacts>,
}

/// What step-up decisions need to know of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFacts {
    pub id: uuid::Uuid,
    pub authenticated_at: time::OffsetDateTime,
    pub mfa_at: Option<time::OffsetDateTime>,
    /// Mandatory MFA is overdue: the session may only enrol a second factor.
    pub restricted: bool,
}

/// The account behind a principal: a person or an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    User(UserId),
    Application(ApplicationId),
}

impl Subject {
    pub fn key_holder(self) -> KeyHolder {
        match self {
            Self::User(id) => KeyHolder::User(id),
            Self::Application(id) => KeyHolder::Application(id),
        }
    }

    pub fn group_member(self) -> GroupMember {
        match self {
            Self::User(id) => GroupMember::User(id),
            Self::Application(id) => GroupMember::Application(id),
        }
    }
}

impl Principal {
    /// The person behind the principal; applications have none (no password, sessions or
    /// second factors).
    pub fn user_id(&self) -> Result<UserId, AppError> {
        match self.subject {
            Subject::User(id) => Ok(id),
            Subject::Application(_) => Err(AppError::Forbidden(
                "applications cannot do this; it needs a person's account".into(),
            )),
        }
    }

    /// Staff: a member of the provider's own organisation.
    pub fn is_staff(&self) -> bool {
        self.organization_kind == OrganizationKind::Provider
    }

    /// Acting in an organisation that is not its own, without the provider's owner role
    /// (which opens every organisation): as a guest of it, or as a stranger.
    pub(crate) fn is_outsider_in(&self, organization_id: OrganizationId) -> bool {
        self.organization_id != organization_id
            && !(self.is_staff() && self.role == UserRole::Owner)
    }
}
