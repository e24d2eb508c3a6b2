//! Audit tiles read straight from the SQLite file, on the calling thread.
//!
//! sqlx runs each SQLite connection on a worker thread: a query is a message to that thread
//! and its rows come back as messages, two thread hand-overs that cost tens of microseconds.
//! An inclusion proof needs one tile that no cache holds, so on SQLite the proof's read goes
//! through a small pool of read-only connections of its own (rusqlite, on the same library
//! and file) and runs where it is called: one indexed point read in a WAL snapshot, with no
//! hand-over (`docs/design/0006-proof-reads.md` has the figures).
//!
//! Only reads of tiles go this way. Writes, and every other read, stay on the pool, and
//! PostgreSQL has no such path.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension as _};

use crate::{StoreError, TileKey};

/// Idle connections kept (more are opened when needed and closed after use).
const KEPT_CONNECTIONS: usize = 4;

/// A pool of read-only connections to one SQLite file.
#[derive(Debug)]
pub struct SqliteTileReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn failed(error: &rusqlite::Error) -> StoreError {
    StoreError::Read(format!("audit tiles: {error}"))
}

impl SqliteTileReader {
    /// Read tiles of the database at `path` (which must exist: the store opened it).
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_owned(), idle: Mutex::new(Vec::new()) }
    }

    fn connection(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        if let Some(connection) = idle {
            return Ok(connection);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags).map_err(|e| failed(&e))?;
        // Readers of a WAL database are rarely busy; when one is, the caller reads through
        // the pool instead of holding its thread.
        connection.busy_timeout(std::time::Duration::from_millis(20)).map_err(|e| failed(&e))?;
        Ok(connection)
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < KEPT_CONNECTIONS {
            idle.push(connection);
        }
    }

    /// The stored tiles among `keys` (level, index) of the organisation's tree, in one read
    /// transaction so that they come from the same state of the tree.
    pub fn audit_tiles(
        &self,
        organization_id: &uuid::Uuid,
        keys: &[TileKey],
    ) -> Result<Vec<(TileKey, Vec<u8>)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.connection()?;
        let read = (|| {
            let transaction = connection.transaction()?;
            let mut found = Vec::with_capacity(keys.len());
            {
                let mut statement = transaction.prepare_cached(
                    "SELECT hashes FROM audit_tiles \
                     WHERE organization_id = ?1 AND level = ?2 AND idx = ?3",
                )?;
                for &(level, index) in keys {
                    let index = i64::try_from(index)
                        .map_err(|_| rusqlite::Error::IntegralValueOutOfRange(3, i64::MAX))?;
                    let hashes: Option<Vec<u8>> = statement
                        .query_row(
                            (&organization_id.as_bytes()[..], i64::from(level), index),
                            |row| row.get(0),
                        )
                        .optional()?;
                    if let Some(hashes) = hashes {
                        found.push(((level, u64::try_from(index).unwrap_or(0)), hashes));
                    }
                }
            }
            transaction.finish()?;
            Ok::<_, rusqlite::Error>(found)
        })();
        match read {
            Ok(found) => {
                self.give_back(connection);
                Ok(found)
            }
            // A connection that failed is not reused.
            Err(error) => Err(failed(&error)),
        }
    }
}
