//! The durable store: one SQLite database in the data directory.
//!
//! Holds persons (number and record key), pseudonyms with their key
//! version, dataset definitions, one row table per dataset and the audit
//! trail. Never a raw identifier. Every change is one transaction that also
//! appends its audit entry; `synchronous=FULL` makes a commit durable before
//! it is acknowledged, and `secure_delete` overwrites deleted content.

mod load;
mod write;

use std::path::Path;

use rusqlite::Connection;

pub use load::{Snapshot, StoredDataset};
pub use write::{AuditEntry, UploadWrite};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "ddc.sqlite";

/// The schema version this code writes.
const SCHEMA_VERSION: i64 = 1;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by another version of ddc.
    #[error("database schema version {found} is not supported (expected {SCHEMA_VERSION})")]
    SchemaVersion {
        /// The version found.
        found: i64,
    },
    /// Stored content does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The data directory could not be created.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
}

/// The open database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -262144;",
        )?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        match version {
            0 => {
                let tx = self.conn.transaction()?;
                tx.execute_batch(SCHEMA)?;
                tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
                tx.commit()?;
                Ok(())
            }
            SCHEMA_VERSION => Ok(()),
            found => Err(StoreError::SchemaVersion { found }),
        }
    }
}

/// The name of a dataset's row table. Built from the numeric id only.
fn rows_table(dataset_id: i64) -> String {
    format!("rows_{dataset_id}")
}

const SCHEMA: &str = "
CREATE TABLE persons (
    person     INTEGER PRIMARY KEY,
    record_key INTEGER NOT NULL
);
CREATE TABLE pseudonyms (
    pseudonym   BLOB PRIMARY KEY,
    key_version INTEGER NOT NULL,
    person      INTEGER NOT NULL REFERENCES persons(person)
) WITHOUT ROWID;
CREATE TABLE datasets (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    organisation TEXT NOT NULL,
    definition   TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL
);
CREATE TABLE categories (
    dataset      INTEGER NOT NULL REFERENCES datasets(id),
    column_index INTEGER NOT NULL,
    code         INTEGER NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (dataset, column_index, code)
) WITHOUT ROWID;
CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY,
    at_ms  INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
";
