use thiserror::Error;

/// What can go wrong in the store. Callers branch on `Conflict` and `NotFound`; the rest are
/// operational failures whose details belong in the server log, not in a response.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness or reference rule refused the change; the text names the rule.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A transaction changed state but recorded no audit event; it was rolled back.
    #[error("transaction changed state without recording an audit event; rolled back")]
    UnauditedChange,
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A backup or restore cannot go on; the text says why and what to do.
    #[error("backup: {0}")]
    Backup(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A read outside the pool (the SQLite tile reader) failed.
    #[error("database read failed: {0}")]
    Read(String),
}

impl StoreError {
    /// Map a database error, turning constraint violations into [`StoreError::Conflict`] with the
    /// caller's description of the rule.
    pub(crate) fn from_write(error: sqlx::Error, unique: &'static str) -> Self {
        match error.as_database_error() {
            Some(database_error) if database_error.is_unique_violation() => Self::Conflict(unique),
            Some(database_error) if database_error.is_foreign_key_violation() => {
                Self::Conflict("the object is still referenced")
            }
            _ => Self::Database(error),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}
