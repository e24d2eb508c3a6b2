//! What a backup needs from the database: a consistent copy of everything, and a way back.
//!
//! - **SQLite**: `VACUUM INTO` writes a consistent, compacted copy of the database to a new
//!   file while the service keeps running; a restore puts such a file in place.
//! - **PostgreSQL**: every table of the schema is read with `COPY … TO STDOUT` inside one
//!   `REPEATABLE READ` transaction (one snapshot for all tables), parents before children;
//!   a restore migrates an empty schema and loads the tables back with `COPY … FROM STDIN` in
//!   that order, in one transaction, checking each table's row count.
//!
//! This is the one place where SQL names tables that are not written in the statement: the
//! names come from the database's own catalogue and must be plain lower-case identifiers,
//! quoted when used.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use futures_util::StreamExt as _;
use sqlx::{AssertSqlSafe, Connection as _};

use crate::store::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use crate::{Backend, Store, StoreError};

/// The migrations' own bookkeeping table: recreated by migrating, never copied.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// One step of a PostgreSQL dump or restore, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableFrame {
    /// The rows of this table follow.
    Start(String),
    /// A piece of the table's rows in PostgreSQL's COPY text format.
    Rows(Vec<u8>),
    /// The table is complete and held this many rows.
    End(u64),
}

/// Row counts per table, in name order.
pub type RowCounts = BTreeMap<String, u64>;

fn checked_identifier(name: &str) -> Result<&str, StoreError> {
    let plain = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if plain {
        Ok(name)
    } else {
        Err(StoreError::Corrupt(format!("unexpected table name {name:?}")))
    }
}

fn count_sql(table: &str) -> Result<String, StoreError> {
    Ok(format!("SELECT count(*) FROM \"{}\"", checked_identifier(table)?))
}

impl Store {
    /// The newest migration this build of Rampart knows for a backend.
    pub fn latest_schema_version(backend: Backend) -> i64 {
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.iter().map(|migration| migration.version).max().unwrap_or(0)
    }

    /// The newest migration applied to this database (0 when none is).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        // A database never migrated has no bookkeeping table: version 0, not an error.
        let tables = self.table_names_including_migrations().await?;
        if !tables.contains(MIGRATIONS_TABLE) {
            return Ok(0);
        }
        let sql = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
        let version: i64 = match self {
            Self::Sqlite { pool, .. } => sqlx::query_scalar(sql).fetch_one(pool).await?,
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        };
        Ok(version)
    }

    async fn table_names_including_migrations(&self) -> Result<BTreeSet<String>, StoreError> {
        let names: Vec<String> = match self {
            Self::Sqlite { pool, .. } => {
                sqlx::query_scalar(
                    "SELECT name FROM sqlite_schema \
                     WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                )
                .fetch_all(pool)
                .await?
            }
            Self::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .fetch_all(pool)
                .await?
            }
        };
        Ok(names.into_iter().collect())
    }

    /// Rampart's tables (the migrations' bookkeeping left out), in name order.
    pub async fn table_names(&self) -> Result<Vec<String>, StoreError> {
        let mut names = self.table_names_including_migrations().await?;
        names.remove(MIGRATIONS_TABLE);
        Ok(names.into_iter().collect())
    }

    /// The number of rows of every table.
    pub async fn row_counts(&self) -> Result<RowCounts, StoreError> {
        let mut counts = RowCounts::new();
        for table in self.table_names().await? {
            let sql = count_sql(&table)?;
            let count: i64 = match self {
                Self::Sqlite { pool, .. } => {
                    sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await?
                }
                Self::Postgres(pool) => {
                    sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await?
                }
            };
            counts.insert(table, u64::try_from(count).unwrap_or(0));
        }
        Ok(counts)
    }

    /// SQLite: write a consistent copy of the database to `path` (which must not exist),
    /// without stopping writers.
    pub async fn snapshot_sqlite_into(&self, path: &Path) -> Result<(), StoreError> {
        let Self::Sqlite { pool, .. } = self else {
            return Err(StoreError::Backup("a file snapshot is a SQLite backup".into()));
        };
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Backup("the snapshot path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO ?").bind(target).execute(pool).await?;
        Ok(())
    }

    /// PostgreSQL: create an empty schema (a scratch place to test a restore in).
    pub async fn create_schema(&self, name: &str) -> Result<(), StoreError> {
        let Self::Postgres(pool) = self else {
            return Err(StoreError::Backup("schemas are a PostgreSQL notion".into()));
        };
        let statement = format!("CREATE SCHEMA \"{}\"", checked_identifier(name)?);
        sqlx::query(AssertSqlSafe(statement)).execute(pool).await?;
        Ok(())
    }

    /// PostgreSQL: drop a schema and everything in it.
    pub async fn drop_schema(&self, name: &str) -> Result<(), StoreError> {
        let Self::Postgres(pool) = self else {
            return Err(StoreError::Backup("schemas are a PostgreSQL notion".into()));
        };
        let statement = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", checked_identifier(name)?);
        sqlx::query(AssertSqlSafe(statement)).execute(pool).await?;
        Ok(())
    }

    /// PostgreSQL: the tables of the schema, parents before the tables that refer to them.
    async fn postgres_tables_in_dependency_order(&self) -> Result<Vec<String>, StoreError> {
        let Self::Postgres(pool) = self else {
            return Err(StoreError::Backup("a COPY dump is a PostgreSQL backup".into()));
        };
        let tables = self.table_names().await?;
        let edges: Vec<(String, String)> = sqlx::query_as(
            "SELECT child.relname::text, parent.relname::text FROM pg_constraint AS fk \
             JOIN pg_class AS child ON child.oid = fk.conrelid \
             JOIN pg_class AS parent ON parent.oid = fk.confrelid \
             WHERE fk.contype = 'f' AND fk.connamespace = current_schema()::regnamespace",
        )
        .fetch_all(pool)
        .await?;
        dependency_order(&tables, &edges)
    }

    /// PostgreSQL: every table's rows, in one snapshot, handed to `emit` table by table.
    /// Returns the row count of each table.
    pub async fn dump_postgres(
        &self,
        mut emit: impl FnMut(TableFrame) -> std::io::Result<()>,
    ) -> Result<RowCounts, StoreError> {
        let tables = self.postgres_tables_in_dependency_order().await?;
        let Self::Postgres(pool) = self else { unreachable!("checked by the table order") };
        let mut connection = pool.acquire().await?;
        let mut snapshot =
            connection.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
        let mut counts = RowCounts::new();
        for table in tables {
            let statement = format!("COPY \"{}\" TO STDOUT", checked_identifier(&table)?);
            emit(TableFrame::Start(table.clone())).map_err(write_failed)?;
            let mut rows = 0_u64;
            let mut stream = snapshot.copy_out_raw(&statement).await?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                // In COPY text format a row ends with a newline; newlines inside values are
                // escaped, so counting them counts rows.
                rows += chunk.iter().filter(|byte| **byte == b'\n').count() as u64;
                emit(TableFrame::Rows(chunk.to_vec())).map_err(write_failed)?;
            }
            drop(stream);
            emit(TableFrame::End(rows)).map_err(write_failed)?;
            counts.insert(table, rows);
        }
        snapshot.commit().await?;
        Ok(counts)
    }

    /// PostgreSQL: load a dump into this schema, which must be migrated to the dump's version
    /// and hold no rows. All or nothing: one transaction, each table's count checked.
    pub async fn restore_postgres(
        &self,
        mut next: impl FnMut() -> std::io::Result<Option<TableFrame>>,
    ) -> Result<RowCounts, StoreError> {
        let Self::Postgres(pool) = self else {
            return Err(StoreError::Backup("a COPY restore is a PostgreSQL restore".into()));
        };
        let known: BTreeSet<String> = self.table_names().await?.into_iter().collect();
        let occupied: Vec<String> = self
            .row_counts()
            .await?
            .into_iter()
            .filter(|(_, rows)| *rows > 0)
            .map(|(table, _)| table)
            .collect();
        if !occupied.is_empty() {
            return Err(StoreError::Backup(format!(
                "the target schema already holds data (tables {}); restore into an empty database",
                occupied.join(", ")
            )));
        }
        let mut transaction = pool.begin().await?;
        let mut counts = RowCounts::new();
        let unexpected = |what: &str| StoreError::Corrupt(format!("backup stream: {what}"));
        while let Some(frame) = next().map_err(read_failed)? {
            let TableFrame::Start(table) = frame else {
                return Err(unexpected("rows outside a table"));
            };
            if !known.contains(&table) {
                return Err(StoreError::Corrupt(format!(
                    "the backup has a table {table:?} this schema does not have"
                )));
            }
            let statement = format!("COPY \"{}\" FROM STDIN", checked_identifier(&table)?);
            let mut copy = transaction.copy_in_raw(&statement).await?;
            let expected = loop {
                match next().map_err(read_failed)? {
                    Some(TableFrame::Rows(bytes)) => {
                        copy.send(bytes).await?;
                    }
                    Some(TableFrame::End(rows)) => break rows,
                    Some(TableFrame::Start(_)) | None => {
                        copy.abort("incomplete table in the backup").await?;
                        return Err(unexpected(&format!("table {table} is not complete")));
                    }
                }
            };
            let loaded = copy.finish().await?;
            if loaded != expected {
                return Err(StoreError::Corrupt(format!(
                    "table {table}: {loaded} rows loaded, the backup says {expected}"
                )));
            }
            counts.insert(table, loaded);
        }
        transaction.commit().await?;
        Ok(counts)
    }
}

fn write_failed(error: std::io::Error) -> StoreError {
    StoreError::Backup(format!("cannot write the backup: {error}"))
}

fn read_failed(error: std::io::Error) -> StoreError {
    StoreError::Corrupt(format!("cannot read the backup: {error}"))
}

/// Order tables so that each comes after the tables it refers to (self-references allowed).
fn dependency_order(
    tables: &[String],
    edges: &[(String, String)],
) -> Result<Vec<String>, StoreError> {
    let mut parents: BTreeMap<&str, BTreeSet<&str>> =
        tables.iter().map(|table| (table.as_str(), BTreeSet::new())).collect();
    for (child, parent) in edges {
        if child != parent
            && parents.contains_key(parent.as_str())
            && let Some(set) = parents.get_mut(child.as_str())
        {
            set.insert(parent.as_str());
        }
    }
    let mut ordered = Vec::with_capacity(tables.len());
    let mut placed = BTreeSet::new();
    while ordered.len() < tables.len() {
        let ready: Vec<&str> = parents
            .iter()
            .filter(|(table, needs)| !placed.contains(*table) && needs.is_subset(&placed))
            .map(|(table, _)| *table)
            .collect();
        if ready.is_empty() {
            return Err(StoreError::Corrupt("the tables' foreign keys form a cycle".into()));
        }
        for table in ready {
            placed.insert(table);
            ordered.push(table.to_owned());
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn parents_come_first() {
        let tables = names(&["users", "api_keys", "organizations", "sessions"]);
        let edges = vec![
            ("users".into(), "organizations".into()),
            ("api_keys".into(), "users".into()),
            ("sessions".into(), "users".into()),
            ("sessions".into(), "sessions".into()),
        ];
        let order = dependency_order(&tables, &edges).unwrap();
        let position = |name: &str| order.iter().position(|table| table == name).unwrap();
        assert!(position("organizations") < position("users"));
        assert!(position("users") < position("api_keys"));
        assert!(position("users") < position("sessions"));
        assert_eq!(order.len(), 4);
    }

    #[test]
    fn a_cycle_is_reported() {
        let tables = names(&["a", "b"]);
        let edges = vec![("a".into(), "b".into()), ("b".into(), "a".into())];
        assert!(dependency_order(&tables, &edges).is_err());
    }

    #[test]
    fn only_plain_identifiers_reach_sql() {
        assert!(checked_identifier("audit_entries").is_ok());
        for bad in ["", "Users", "a\"b", "x; DROP TABLE y", "1abc", "é"] {
            assert!(checked_identifier(bad).is_err(), "{bad:?}");
        }
    }
}
