//! Rewriting the store with its pseudonyms sealed anew: what a storage key
//! rotation does to the data directory.
//!
//! SQLite keeps overwritten values in free pages and in the WAL, so the
//! pseudonyms are not updated in place. The rewrite builds a fresh database
//! file beside the live one: the schema, every other table copied as it
//! is, and the person and household chunks resealed chunk by chunk, so the
//! new file never holds a value sealed under the old key. It is written
//! without a journal (a crash leaves a file that [`remove_unfinished`]
//! deletes at the next start), synced, and renamed over the live database
//! after the live connection has checkpointed and removed its WAL. A crash
//! at any point leaves the old database or the new one, whole.

use std::fs;
use std::path::Path;

use rusqlite::{params, Connection};

use super::log::append;
use super::{Store, StoreError, DB_FILE};
use crate::audit::event::Entry;
use crate::keys::KeyVersion;
use crate::keystore::KeyPurpose;

/// File name of a rewrite under way, inside the data directory.
pub const REWRITE_FILE: &str = "ddc.sqlite.rewrite";

/// Turns one chunk's stored pseudonyms, sealed under the version given,
/// into the same pseudonyms sealed under the rewrite's version.
pub type Reseal<'a> = dyn Fn(u32, &[u8]) -> Result<Vec<u8>, StoreError> + 'a;

/// One rewrite of the store's sealed pseudonyms.
pub struct Rewrite<'a> {
    /// The storage key version the new chunks are sealed under.
    pub to: KeyVersion,
    /// Its check value, recorded in the new file.
    pub check: &'a [u8; 32],
    /// Reseals one chunk.
    pub reseal: &'a Reseal<'a>,
    /// The rewrite's log entry, committed with the new file.
    pub entry: &'a Entry,
    /// Called at each step (for the crash tests; does nothing otherwise).
    pub step: &'a dyn Fn(&str),
}

impl std::fmt::Debug for Rewrite<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewrite")
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// Tables whose pseudonyms are resealed: (table, first-number column).
const SEALED_TABLES: [(&str, &str); 2] = [
    ("person_chunks", "first_person"),
    ("household_chunks", "first_household"),
];

/// Deletes the file of a rewrite that did not finish.
pub(super) fn remove_unfinished(data_dir: &Path) -> Result<(), StoreError> {
    match fs::remove_file(data_dir.join(REWRITE_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

impl Store {
    /// Rewrites the store with every pseudonym resealed (see the module
    /// docs). On success the store is at `rewrite.to`; on error it is as it
    /// was.
    pub fn rewrite_sealed(&mut self, rewrite: &Rewrite<'_>) -> Result<(), StoreError> {
        let live = self.dir.join(DB_FILE);
        let fresh = self.dir.join(REWRITE_FILE);
        remove_unfinished(&self.dir)?;
        if let Err(e) = self.build(&live, &fresh, rewrite) {
            let _ = fs::remove_file(&fresh);
            return Err(e);
        }
        (rewrite.step)("built");
        self.swap_in(&live, &fresh)?;
        (rewrite.step)("swapped");
        Ok(())
    }

    fn build(&self, live: &Path, fresh: &Path, rewrite: &Rewrite<'_>) -> Result<(), StoreError> {
        drop(crate::private_fs::open_private_file(fresh)?);
        let new = Connection::open(fresh)?;
        new.execute_batch(&format!("PRAGMA page_size = {};", super::PAGE_SIZE))?;
        new.execute_batch(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA foreign_keys = OFF;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -262144;",
        )?;
        let schema: Vec<(String, String, String)> = self
            .conn
            .prepare(
                "SELECT type, name, sql FROM sqlite_schema
                 WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
                 ORDER BY type = 'index', rowid",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let user_version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        new.execute("ATTACH DATABASE ?1 AS old", [live.to_string_lossy()])?;
        new.execute_batch("BEGIN")?;
        for (kind, name, sql) in &schema {
            new.execute_batch(sql)?;
            let sealed = SEALED_TABLES.iter().find(|(t, _)| t == name);
            match (kind.as_str(), sealed) {
                ("table", Some((table, first))) => {
                    self.reseal_table(&new, table, first, rewrite)?
                }
                ("table", None) => {
                    new.execute_batch(&format!(
                        "INSERT INTO main.\"{name}\" SELECT * FROM old.\"{name}\""
                    ))?;
                }
                _ => {}
            }
        }
        (rewrite.step)("copied");
        new.execute(
            "INSERT OR REPLACE INTO store_keys (purpose, version, check_value, since_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                KeyPurpose::Storage.as_str(),
                rewrite.to.0,
                &rewrite.check[..],
                rewrite.entry.at_ms
            ],
        )?;
        append(
            &new,
            self.signer.as_ref().ok_or(StoreError::LogClosed)?,
            rewrite.entry,
        )?;
        new.execute_batch("COMMIT")?;
        new.execute_batch("DETACH DATABASE old")?;
        new.execute_batch(&format!("PRAGMA user_version = {user_version}"))?;
        new.close().map_err(|(_, e)| e)?;
        fs::File::open(fresh)?.sync_all()?;
        Ok(())
    }

    /// Copies `table` from the live database with each chunk resealed.
    fn reseal_table(
        &self,
        new: &Connection,
        table: &str,
        first: &str,
        rewrite: &Rewrite<'_>,
    ) -> Result<(), StoreError> {
        let with_keys = table == "person_chunks";
        let extra = if with_keys { ", record_keys" } else { "" };
        let mut read = self.conn.prepare(&format!(
            "SELECT {first}, count, key_version, pseudonyms{extra} FROM {table} ORDER BY {first}"
        ))?;
        let mut write = new.prepare(&format!(
            "INSERT INTO main.{table} ({first}, count, key_version, pseudonyms{extra})
             VALUES (?1, ?2, ?3, ?4{})",
            if with_keys { ", ?5" } else { "" }
        ))?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let (number, count, version): (i64, i64, u32) = (row.get(0)?, row.get(1)?, row.get(2)?);
            let sealed = (rewrite.reseal)(version, row.get_ref(3)?.as_blob().map_err(corrupt)?)?;
            if with_keys {
                let keys = row.get_ref(4)?.as_blob().map_err(corrupt)?;
                write.execute(params![number, count, rewrite.to.0, sealed, keys])?;
            } else {
                write.execute(params![number, count, rewrite.to.0, sealed])?;
            }
        }
        Ok(())
    }

    /// Replaces the live database file by `fresh` and reopens it.
    fn swap_in(&mut self, live: &Path, fresh: &Path) -> Result<(), StoreError> {
        // Closing the only connection checkpoints the WAL into the database
        // and deletes it; the old WAL must never meet the new file. The
        // background checkpoint's connection is closed first.
        self.checkpointer = None;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let old = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
        old.close().map_err(|(_, e)| e)?;
        for suffix in ["-wal", "-shm"] {
            match fs::remove_file(self.dir.join(format!("{DB_FILE}{suffix}"))) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        let renamed = fs::rename(fresh, live);
        // Whether or not the rename happened, `live` is a whole database.
        self.conn = super::open_connection(live)?;
        self.start_checkpointer()?;
        renamed?;
        fs::File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
