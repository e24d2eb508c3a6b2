//! The unit of work: a state change and its audit event commit together or not at all.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection};

use crate::StoreError;

pub(crate) enum Inner {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
    /// A pooled connection in autocommit mode, for reads that need no snapshot.
    SqliteAutocommit(PoolConnection<Sqlite>),
    PostgresAutocommit(PoolConnection<Postgres>),
}

/// A borrowed connection of one backend, for the per-backend query modules.
pub(crate) enum Connection<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// A database transaction. Dropping it without [`Transaction::commit`] rolls it back.
pub struct Transaction {
    inner: Inner,
    read_only: bool,
    n_changes: u32,
    n_audit_events: u32,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("read_only", &self.read_only)
            .field("n_changes", &self.n_changes)
            .field("n_audit_events", &self.n_audit_events)
            .finish_non_exhaustive()
    }
}

impl Transaction {
    pub(crate) fn new(inner: Inner, read_only: bool) -> Self {
        Self { inner, read_only, n_changes: 0, n_audit_events: 0 }
    }

    pub(crate) fn connection(&mut self) -> Connection<'_> {
        match &mut self.inner {
            Inner::Sqlite(transaction) => Connection::Sqlite(transaction),
            Inner::Postgres(transaction) => Connection::Postgres(transaction),
            Inner::SqliteAutocommit(connection) => Connection::Sqlite(connection),
            Inner::PostgresAutocommit(connection) => Connection::Postgres(connection),
        }
    }

    /// Called by every repository write before it runs.
    pub(crate) fn change(&mut self) -> Result<Connection<'_>, StoreError> {
        if self.read_only {
            return Err(StoreError::Corrupt("write attempted in a read-only transaction".into()));
        }
        self.n_changes += 1;
        Ok(self.connection())
    }

    pub(crate) fn record_audit_event(&mut self) -> Result<Connection<'_>, StoreError> {
        if self.read_only {
            return Err(StoreError::Corrupt("write attempted in a read-only transaction".into()));
        }
        self.n_audit_events += 1;
        Ok(self.connection())
    }

    /// Commit. Refused (and rolled back) when the transaction changed state without
    /// recording an audit event.
    pub async fn commit(self) -> Result<(), StoreError> {
        if self.n_changes > 0 && self.n_audit_events == 0 {
            self.rollback().await?;
            return Err(StoreError::UnauditedChange);
        }
        match self.inner {
            Inner::Sqlite(transaction) => transaction.commit().await?,
            Inner::Postgres(transaction) => transaction.commit().await?,
            Inner::SqliteAutocommit(_) | Inner::PostgresAutocommit(_) => {}
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.inner {
            Inner::Sqlite(transaction) => transaction.rollback().await?,
            Inner::Postgres(transaction) => transaction.rollback().await?,
            Inner::SqliteAutocommit(_) | Inner::PostgresAutocommit(_) => {}
        }
        Ok(())
    }
}

/// Run one expression against whichever backend the connection holds. Where the SQL text is
/// the same in both dialects (it is written with `$N` placeholders, which both accept), the
/// expression is written once and type-checked once per backend.
macro_rules! on_backend {
    ($connection:expr, $c:ident => $body:expr) => {
        match $connection {
            $crate::transaction::Connection::Sqlite($c) => $body,
            $crate::transaction::Connection::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_backend;
