//! Opening the database, migrations, pools and transactions.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::StoreError;
use crate::transaction::{Inner, Transaction};

pub(crate) static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
pub(crate) static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("migrations/postgres");

/// Pool and locking settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// How long a connection waits for a lock (SQLite) or for a free connection.
    pub busy_timeout: Duration,
    /// PostgreSQL only: the schema to work in (tests give each run its own).
    pub postgres_schema: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 8, busy_timeout: Duration::from_secs(5), postgres_schema: None }
    }
}

/// Which database engine a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Connections currently open and idle, and the most that may be open (on SQLite, the
/// readers' pool and the writer's connection together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub enum Store {
    /// The embedded database. Reads share `pool`; transactions that may write go through
    /// `writer`, one connection of its own: SQLite lets one writer in at a time anyway, so
    /// writers queue on the pool instead of polling the file lock, and the writer's page
    /// cache is never made stale by another connection's commit.
    Sqlite {
        pool: SqlitePool,
        writer: SqlitePool,
    },
    Postgres(PgPool),
}

impl Store {
    /// Open (creating if missing) the embedded database at `path`: WAL journal, full
    /// synchronous commits so that a committed change survives a crash, foreign keys on.
    pub async fn open_sqlite(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let pool_of = |size: u32| {
            SqlitePoolOptions::new()
                .max_connections(size)
                // An embedded file cannot drop a connection: no liveness ping before each use
                // (it was a second round trip to the connection's thread on every statement).
                .test_before_acquire(false)
                .acquire_timeout(options.busy_timeout)
                .connect_with(connect.clone())
        };
        let open_error = |error| StoreError::Open(format!("{}: {error}", path.display()));
        let writer = pool_of(1).await.map_err(open_error)?;
        let pool = pool_of(options.max_connections.max(1)).await.map_err(open_error)?;
        Ok(Self::Sqlite { pool, writer })
    }

    /// Connect to PostgreSQL with a `postgres://` URL.
    pub async fn open_postgres(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let mut connect = PgConnectOptions::from_str(url)
            .map_err(|error| StoreError::Open(format!("invalid PostgreSQL URL: {error}")))?;
        if let Some(schema) = &options.postgres_schema {
            connect = connect.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.busy_timeout)
            .connect_with(connect)
            .await
            .map_err(|error| StoreError::Open(format!("PostgreSQL: {error}")))?;
        Ok(Self::Postgres(pool))
    }

    /// Open the database a URL names: `postgres://…` or `postgresql://…` for PostgreSQL,
    /// `sqlite://PATH` or a plain path for SQLite.
    pub async fn open_url(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url, options).await
        } else {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
            Self::open_sqlite(Path::new(path.unwrap_or(url)), options).await
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite { .. } => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Apply every pending migration of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite { writer, .. } => SQLITE_MIGRATIONS.run(writer).await?,
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Start a transaction that may write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue instead of failing mid-way.
    pub async fn begin(&self) -> Result<Transaction, StoreError> {
        let inner = match self {
            Self::Sqlite { writer, .. } => {
                Inner::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?)
            }
            Self::Postgres(pool) => Inner::Postgres(pool.begin().await?),
        };
        Ok(Transaction::new(inner, false))
    }

    /// Start a read-only transaction: one consistent snapshot for several reads.
    pub async fn read(&self) -> Result<Transaction, StoreError> {
        let inner = match self {
            Self::Sqlite { pool, .. } => Inner::Sqlite(pool.begin().await?),
            Self::Postgres(pool) => {
                Inner::Postgres(pool.begin_with("BEGIN TRANSACTION READ ONLY").await?)
            }
        };
        Ok(Transaction::new(inner, true))
    }

    /// A read-only handle without a transaction: each statement sees the latest committed
    /// state. For a single read on a hot path, where BEGIN and COMMIT would double the cost.
    pub async fn read_latest(&self) -> Result<Transaction, StoreError> {
        let inner = match self {
            Self::Sqlite { pool, .. } => Inner::SqliteAutocommit(pool.acquire().await?),
            Self::Postgres(pool) => Inner::PostgresAutocommit(pool.acquire().await?),
        };
        Ok(Transaction::new(inner, true))
    }

    /// The file of an embedded database (none for PostgreSQL or an in-memory database), for
    /// readers that open it themselves.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        match self {
            Self::Sqlite { pool, .. } => {
                let path = pool.connect_options().get_filename().to_owned();
                let in_memory = path.as_os_str().is_empty()
                    || path.to_string_lossy().starts_with(':')
                    || path.to_string_lossy().starts_with("file:")
                    || path.to_string_lossy().contains("mode=memory");
                (!in_memory).then_some(path)
            }
            Self::Postgres(_) => None,
        }
    }

    /// Check the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite { pool, .. } => sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?,
            Self::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?,
        }
        Ok(())
    }

    /// Check the database file's structure (SQLite `PRAGMA integrity_check`); PostgreSQL
    /// guards its own files, so there it only checks the server answers.
    pub async fn check_integrity(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite { pool, .. } => {
                let (verdict,): (String,) =
                    sqlx::query_as("PRAGMA integrity_check").fetch_one(pool).await?;
                if verdict != "ok" {
                    return Err(StoreError::Corrupt(format!("integrity check: {verdict}")));
                }
                Ok(())
            }
            Self::Postgres(_) => self.ping().await,
        }
    }

    pub fn pool_status(&self) -> PoolStatus {
        let (size, idle, max) = match self {
            Self::Sqlite { pool, writer } => (
                pool.size() + writer.size(),
                pool.num_idle() + writer.num_idle(),
                pool.options().get_max_connections() + writer.options().get_max_connections(),
            ),
            Self::Postgres(pool) => {
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
        };
        PoolStatus { size, idle: u32::try_from(idle).unwrap_or(u32::MAX), max }
    }

    /// Close every connection, waiting for those in use to be returned. On SQLite the last
    /// connection to close checkpoints the WAL into the main file.
    pub async fn close(&self) {
        match self {
            Self::Sqlite { pool, writer } => {
                pool.close().await;
                writer.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}
