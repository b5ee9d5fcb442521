//! The durable store: one SQLite database in the data directory.
//!
//! Holds persons (sealed pseudonym, storage key version and record key, by
//! person number; see [`crate::sealing`]), code lists, dataset definitions,
//! each dataset's rows, the projects, the release records and the linkage log.
//! Never a raw identifier. Every change is one transaction that also
//! appends its log entry (the one commit path is `log::append`);
//! `synchronous=FULL` makes a commit durable before it is acknowledged, and
//! `secure_delete` overwrites deleted content.
//!
//! Bulk data is stored in chunks, not rows: persons as append-only chunks of
//! consecutive person numbers, a dataset's columns as packed arrays of up
//! to [`COLUMN_CHUNK`] values (each value in the few bytes its distance
//! from the chunk's base takes; see `codec`). Writing and loading
//! then run at disk speed (a row-per-record layout spends microseconds per
//! row in B-tree inserts), which is what a population of 18 million needs.
//! Lookups happen in memory, never in SQL.

mod checkpoint;
mod code_lists;
mod codec;
mod dir;
mod keys;
mod ledger;
mod load;
mod log;
mod projects;
mod releases;
mod rewrite;
mod write;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use checkpoint::CheckpointHold;
pub use dir::LOCK_FILE;
pub use keys::SealedVersions;
pub use ledger::{PendingRelease, ReleaseCells};
pub use load::{Snapshot, StoredDataset};
pub use log::{LogFilter, StoredEntry};
pub use releases::StoredRelease;
pub use rewrite::{Reseal, Rewrite, REWRITE_FILE};
pub use write::{row_chunks, EncodedChunk, ReleaseRecord, RowChunk, UploadWrite};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "ddc.sqlite";

/// The schema version this code writes.
const SCHEMA_VERSION: i64 = 10;

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
    /// A log entry could not be encoded.
    #[error(transparent)]
    Entry(#[from] crate::audit::event::EntryError),
    /// A checkpoint could not be signed.
    #[error("log checkpoint: {0}")]
    Note(#[from] crate::audit::note::NoteError),
    /// The stored log no longer matches the checkpoints signed over it:
    /// nothing more is signed until an auditor has looked.
    #[error("the linkage log was changed after it was signed ({0}); ddc signs no checkpoint on top of it")]
    LogTampered(String),
    /// A proof or root of a tree larger than the log, or out of range.
    #[error("{0}")]
    LogRange(String),
    /// An entry was appended before the log's signing key was attached.
    #[error("the linkage log is not open for writing (no signing key attached)")]
    LogClosed,
    /// The group commit that carried this write failed; nothing of the
    /// group was stored.
    #[error("the group commit of this write failed: {0}")]
    GroupFailed(String),
    /// The data directory could not be created.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// Another server holds the data directory.
    #[error("the data directory is in use by another ddc server (it holds the lock on {})", .0.display())]
    Locked(PathBuf),
}

/// The open database, held exclusively.
#[derive(Debug)]
pub struct Store {
    /// Copies the WAL into the database on a thread of its own (see
    /// `checkpoint`); first, so that it stops before `conn` closes.
    checkpointer: Option<checkpoint::Checkpointer>,
    /// Holds on the checkpoints, kept across restarts of the checkpointer.
    holds: checkpoint::Holds,
    conn: Connection,
    dir: PathBuf,
    /// Signs the log's checkpoints; attached once the key store is open.
    signer: Option<log::LogSigner>,
    _lock: dir::DirLock,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`, which this
    /// store then holds exclusively until it is dropped. A rewrite that a
    /// crash left unfinished is removed: the database is still the one
    /// from before it.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let lock = dir::DirLock::acquire(data_dir)?;
        rewrite::remove_unfinished(data_dir)?;
        let conn = open_connection(&dir::prepare_db_file(data_dir)?)?;
        let mut store = Store {
            checkpointer: None,
            holds: checkpoint::Holds::default(),
            conn,
            dir: data_dir.to_path_buf(),
            signer: None,
            _lock: lock,
        };
        store.migrate()?;
        store.start_checkpointer()?;
        let stale = store.delete_all_stale_rows()?;
        if stale > 0 {
            tracing::info!(
                chunks = stale,
                "deleted rows that an interrupted upload left"
            );
        }
        Ok(store)
    }

    /// Starts checkpointing the WAL beside the store's connection; if no
    /// thread can be had, the connection checkpoints as SQLite does by
    /// default, inside the commits.
    fn start_checkpointer(&mut self) -> Result<(), StoreError> {
        match checkpoint::Checkpointer::start(&self.dir.join(DB_FILE), self.holds.clone()) {
            Ok(c) => self.checkpointer = Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "no background checkpoint; commits checkpoint");
                self.conn
                    .execute_batch("PRAGMA wal_autocheckpoint = 1000")?;
            }
        }
        Ok(())
    }

    /// Holds the background checkpoints until the hold is dropped: an
    /// upload takes one while it writes its rows, so that the disk syncs
    /// its WAL alone; they are copied after it commits. (Without a
    /// background checkpoint, the commits checkpoint all the same.)
    pub fn hold_checkpoints(&self) -> CheckpointHold {
        self.holds.hold()
    }

    /// Copies the whole WAL into the database and empties it, with the
    /// background checkpoint stopped meanwhile.
    fn truncate_wal(&mut self) -> Result<(), StoreError> {
        self.checkpointer = None;
        let truncated = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        self.start_checkpointer()?;
        Ok(truncated?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let steps = match version {
            0 => [SCHEMA, SCHEMA_V2, SCHEMA_V3].as_slice(),
            1 => [SCHEMA_V2, SCHEMA_V3].as_slice(),
            2 => [SCHEMA_V3].as_slice(),
            3..=9 => [].as_slice(),
            SCHEMA_VERSION => return Ok(()),
            found => return Err(StoreError::SchemaVersion { found }),
        };
        let tx = self.conn.transaction()?;
        for step in steps {
            tx.execute_batch(step)?;
        }
        if version < 4 {
            ledger::migrate_to_v4(&tx)?;
        }
        if version < 5 {
            tx.execute_batch(keys::SCHEMA_V5)?;
        }
        if version < 6 {
            log::migrate_to_v6(&tx)?;
        }
        if version < 7 {
            tx.execute_batch(projects::SCHEMA_V7)?;
        }
        if version < 8 {
            ledger::migrate_to_v8(&tx)?;
        }
        if version < 9 {
            tx.execute_batch(write::SCHEMA_V9)?;
        }
        if version < 10 {
            tx.execute_batch(write::SCHEMA_V10)?;
        }
        tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
        tx.commit()?;
        Ok(())
    }

    /// Attaches the key that signs the log's checkpoints: entries can be
    /// appended from now on.
    pub fn attach_signer(&mut self, signer: crate::audit::note::Signer) {
        self.signer = Some(log::LogSigner::new(signer));
    }

    /// Whether any person has been stored.
    pub fn holds_persons(&self) -> Result<bool, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM person_chunks", [], |r| r.get(0))?;
        Ok(n > 0)
    }
}

/// SQLite's page size for a new store file (see [`open_connection`]).
const PAGE_SIZE: u32 = 65536;

/// Opens a connection to the database file with ddc's settings.
///
/// A new store gets 64 KiB pages (a store keeps the size it was made
/// with, until a key rotation writes it afresh): its bulk is chunks of megabytes, which then take a sixteenth of
/// the overflow pages, and each WAL frame covers whole pages of the file
/// cache, where the default 4 KiB frames made the kernel zero every page
/// that a frame's header began (a second of a national upload's commit).
fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE};"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -262144;
         PRAGMA wal_autocheckpoint = 0;
         PRAGMA journal_size_limit = 67108864;",
    )?;
    Ok(conn)
}

/// Values per column chunk.
pub const COLUMN_CHUNK: usize = 1 << 20;
/// Persons per person chunk (16-byte sealed pseudonym + 4-byte record key each).
pub const PERSON_CHUNK: usize = 1 << 18;
/// `column_index` of the chunks holding a dataset's person numbers.
const PERSON_COLUMN: i64 = -1;
/// `column_index` of the chunks holding a dataset's household numbers.
const HOUSEHOLD_COLUMN: i64 = -2;

const SCHEMA: &str = "
-- Persons first..first+count-1: their pseudonyms (32 bytes each) under
-- key_version, and their record keys (u32 LE each), never changed.
CREATE TABLE person_chunks (
    first_person INTEGER PRIMARY KEY,
    count        INTEGER NOT NULL,
    key_version  INTEGER NOT NULL,
    pseudonyms   BLOB NOT NULL,
    record_keys  BLOB NOT NULL
);
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
-- Households first..first+count-1: their pseudonyms under key_version.
CREATE TABLE household_chunks (
    first_household INTEGER PRIMARY KEY,
    count           INTEGER NOT NULL,
    key_version     INTEGER NOT NULL,
    pseudonyms      BLOB NOT NULL
);
-- A dataset's current rows, one chunk of one column at a time: person
-- numbers (column_index -1, u32 LE, ascending), household numbers
-- (column_index -2, u32 LE), categorical codes (u32 LE) and numbers (i64 LE);
-- packed since version 10 (see codec.rs).
CREATE TABLE column_chunks (
    dataset      INTEGER NOT NULL REFERENCES datasets(id),
    column_index INTEGER NOT NULL,
    chunk        INTEGER NOT NULL,
    data         BLOB NOT NULL,
    UNIQUE (dataset, column_index, chunk)
);
-- Every released table with its full request, per project, so that a new
-- request can be audited against a project's earlier releases.
CREATE TABLE releases (
    id      INTEGER PRIMARY KEY,
    project TEXT NOT NULL,
    at_ms   INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    request TEXT NOT NULL,
    policy  TEXT NOT NULL,
    cells   TEXT NOT NULL
);
CREATE INDEX releases_by_project ON releases (project, id);
-- The persons each release covered (ascending person numbers as LEB128
-- gaps), for the differencing defence: datasets is the sorted dataset list,
-- sides a digest of each dataset's own pre-linkage population.
CREATE TABLE release_populations (
    id       INTEGER PRIMARY KEY,
    release  INTEGER NOT NULL REFERENCES releases(id),
    datasets TEXT NOT NULL,
    size     INTEGER NOT NULL,
    digest   BLOB NOT NULL,
    sides    BLOB NOT NULL,
    persons  BLOB NOT NULL
);
CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY,
    at_ms  INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
";

/// Version 2: committed upload ids with their receipts (so a retry gets the
/// original receipt), and a check value per key version (so a store is
/// never opened with another key than the one it was written with).
const SCHEMA_V2: &str = "
CREATE TABLE uploads (
    upload_id TEXT PRIMARY KEY,
    dataset   INTEGER NOT NULL REFERENCES datasets(id),
    version   INTEGER NOT NULL,
    at_ms     INTEGER NOT NULL,
    receipt   TEXT NOT NULL
);
-- HMAC-SHA256(key, KEY_CHECK_LABEL) of each key version: identifies the
-- key without revealing it.
CREATE TABLE key_checks (
    key_version INTEGER PRIMARY KEY,
    check_value BLOB NOT NULL,
    recorded_ms INTEGER NOT NULL
);
";

/// Version 3: code lists, every version of each (a `CodeList` as JSON).
const SCHEMA_V3: &str = "
CREATE TABLE code_lists (
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
";

#[cfg(test)]
mod tests {
    fn page_size(conn: &rusqlite::Connection) -> i64 {
        conn.query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_store_has_large_pages_and_an_older_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let new = super::open_connection(&dir.path().join("new.sqlite")).unwrap();
        new.execute_batch(super::SCHEMA).unwrap();
        assert_eq!(page_size(&new), 65536);
        // A store made with SQLite's default pages, before ddc chose its own.
        let older = dir.path().join("older.sqlite");
        let made = rusqlite::Connection::open(&older).unwrap();
        made.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
            .unwrap();
        drop(made);
        let reopened = super::open_connection(&older).unwrap();
        assert_eq!(page_size(&reopened), 4096);
        reopened.execute_batch("INSERT INTO t VALUES (1)").unwrap();
    }
}
