//! Stable, machine-readable error codes shared by every layer. The HTTP layer maps each code to
//! one status in one place; clients match on the code, never on the message.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input is malformed or violates a rule; the message says which.
    InvalidInput,
    /// No credential, or one that is unknown, expired or revoked.
    Unauthenticated,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// Allowed, but only after a fresh authentication (step-up).
    StepUpRequired,
    /// Too many attempts; retry later.
    Throttled,
    /// The object does not exist (or the caller may not know it exists).
    NotFound,
    /// The change conflicts with the current state (duplicate name, non-empty parent, …).
    Conflict,
    /// The change is refused because Rampart is already set up.
    AlreadyInitialized,
    /// The store is unreachable or failed; details stay in the server log.
    Unavailable,
    /// A bug: details stay in the server log.
    Internal,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::StepUpRequired => "step_up_required",
            Self::Throttled => "throttled",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::AlreadyInitialized => "already_initialized",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}
