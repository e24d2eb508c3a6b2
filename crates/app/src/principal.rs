//! The authenticated caller of a use case.

use base::{Actor, OrganizationId, OrganizationKind, UserId};
use store::UserRole;

/// Who is calling, established by authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub actor: Actor,
    pub user_id: UserId,
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

impl Principal {
    /// Staff: a member of the provider's own organisation.
    pub fn is_staff(&self) -> bool {
        self.organization_kind == OrganizationKind::Provider
    }

    /// Until policies arrive, this is the whole access rule: a principal acts within its own
    /// organisation, and the provider's owners administer every organisation.
    pub(crate) fn may_access(&self, organization_id: OrganizationId) -> bool {
        self.organization_id == organization_id || self.is_provider_owner()
    }

    pub(crate) fn is_provider_owner(&self) -> bool {
        self.is_staff() && self.role == UserRole::Owner
    }
}
