use base::ErrorCode;
use store::StoreError;
use thiserror::Error;

/// Why a use case did not happen. Every variant maps to one stable [`ErrorCode`]; messages are
/// safe to show to the caller and say what to do.
#[derive(Debug, Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("missing, unknown, expired or revoked credential")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    /// A sensitive action needs a fresh authentication (`POST /v1/auth/step-up`).
    #[error(
        "this action needs a recent authentication: confirm your password (and second factor) with a step-up, then retry"
    )]
    StepUpRequired,
    #[error("too many attempts; retry after {retry_after_seconds} seconds")]
    Throttled { retry_after_seconds: u64 },
    /// A change to policies the engine refuses; nothing was stored.
    #[error("{0}")]
    PolicyRejected(authz::PolicyError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("rampart is already initialized: the provider organization exists")]
    AlreadyInitialized,
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) | Self::PolicyRejected(_) => ErrorCode::InvalidInput,
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::StepUpRequired => ErrorCode::StepUpRequired,
            Self::Throttled { .. } => ErrorCode::Throttled,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::AlreadyInitialized => ErrorCode::AlreadyInitialized,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(rule) => Self::Conflict(rule.to_owned()),
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::UnauditedChange | StoreError::Corrupt(_) => {
                Self::Internal(error.to_string())
            }
            other => Self::Unavailable(other),
        }
    }
}
