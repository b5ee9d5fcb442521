//! The release ledger's storage: each distinct set of cell prints once,
//! each release's references to the sets it added, and the deployment's
//! print key.

use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::{params, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};

use super::log::{append, LogSigner};
use super::write::ReleaseRecord;
use super::{Store, StoreError};
use crate::audit::event::Entry;
use crate::audit::Receipt;
use crate::ledger::{
    decode_cells, decode_persons, encode_cells, print_of, Ledger, LedgerCell, PrintKey,
};

/// The cells of one release over one set of datasets.
#[derive(Debug)]
pub struct ReleaseCells<'a> {
    /// The datasets key.
    pub datasets: &'a str,
    /// Every cell, released or withheld.
    pub cells: &'a [LedgerCell],
}

/// Version 4: cell prints instead of whole populations, and the secret
/// that keys them.
const SCHEMA_V4: &str = "
-- Secrets of this deployment that are not pseudonymisation keys: the print
-- key keys the persons' tags in the release ledger.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
-- Every cell of every release (see ledger::encode_cells), per datasets key.
CREATE TABLE release_cells (
    id       INTEGER PRIMARY KEY,
    release  INTEGER NOT NULL REFERENCES releases(id),
    datasets TEXT NOT NULL,
    cells    BLOB NOT NULL
);
";

const PRINT_KEY: &str = "print_key";

/// Version 8: a set of cell prints is stored once; an identical repeat of
/// a release costs a reference.
const SCHEMA_V8: &str = "
-- Each distinct set of cell prints over one datasets key, once.
CREATE TABLE cell_sets (
    id       INTEGER PRIMARY KEY,
    -- SHA-256 of the datasets key, a zero byte and the encoded cells.
    digest   BLOB NOT NULL UNIQUE,
    datasets TEXT NOT NULL,
    cells    BLOB NOT NULL
);
-- The sets each release's cells are in.
CREATE TABLE release_cell_sets (
    release  INTEGER NOT NULL REFERENCES releases(id),
    cell_set INTEGER NOT NULL REFERENCES cell_sets(id),
    PRIMARY KEY (release, cell_set)
) WITHOUT ROWID;
";

/// Moves every release's cells into shared sets (version 8).
pub(super) fn migrate_to_v8(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(SCHEMA_V8)?;
    let mut stmt = tx.prepare("SELECT release, datasets, cells FROM release_cells ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    for (release, datasets, cells) in rows {
        refer(tx, release, &datasets, &cells)?;
    }
    tx.execute_batch("DROP TABLE release_cells")?;
    Ok(())
}

/// Stores `cells` over `datasets` unless an identical set is stored, and
/// records that `release` has them.
fn refer(
    tx: &Transaction<'_>,
    release: i64,
    datasets: &str,
    cells: &[u8],
) -> Result<(), StoreError> {
    let digest = Sha256::new()
        .chain_update(datasets.as_bytes())
        .chain_update([0])
        .chain_update(cells)
        .finalize();
    tx.execute(
        "INSERT INTO cell_sets (digest, datasets, cells) VALUES (?1, ?2, ?3)
         ON CONFLICT (digest) DO NOTHING",
        params![&digest[..], datasets, cells],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO release_cell_sets (release, cell_set)
         SELECT ?1, id FROM cell_sets WHERE digest = ?2",
        params![release, &digest[..]],
    )?;
    Ok(())
}

/// Creates the version-4 tables and turns each population of version 3
/// into the print of its grand total. Its sides were digested differently,
/// so a table released before can be asked again only if its linked
/// population differs by at least the threshold: conservative, never lax.
pub(super) fn migrate_to_v4(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(SCHEMA_V4)?;
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::Corrupt("no system randomness for the print key".into()))?;
    tx.execute(
        "INSERT INTO secrets (name, value) VALUES (?1, ?2)",
        params![PRINT_KEY, &bytes[..]],
    )?;
    let key = PrintKey::from_bytes(bytes);
    let old: bool = tx.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name = 'release_populations'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !old {
        return Ok(());
    }
    let mut stmt = tx
        .prepare("SELECT release, datasets, sides, persons FROM release_populations ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    for (release, datasets, sides, persons) in rows {
        let persons = decode_persons(&persons)
            .ok_or_else(|| StoreError::Corrupt(format!("population of release {release}")))?;
        let mut print = print_of(&key, &persons, &mut []);
        print.sides = sides
            .get(..16)
            .and_then(|s| s.try_into().ok())
            .unwrap_or_default();
        let cell = LedgerCell {
            print,
            released: true,
        };
        tx.execute(
            "INSERT INTO release_cells (release, datasets, cells) VALUES (?1, ?2, ?3)",
            params![release, datasets, encode_cells(&[cell])],
        )?;
    }
    tx.execute_batch("DROP TABLE release_populations")?;
    Ok(())
}

impl Store {
    /// The key of the release ledger's person tags.
    pub fn print_key(&self) -> Result<PrintKey, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT value FROM secrets WHERE name = ?1",
                [PRINT_KEY],
                |r| r.get(0),
            )
            .optional()?;
        let bytes: [u8; 16] = bytes
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| StoreError::Corrupt("print key missing or of wrong length".into()))?;
        Ok(PrintKey::from_bytes(bytes))
    }

    /// Every admitted cell (each distinct set of cells read once; the
    /// ledger is the same in any order).
    pub fn load_ledger(&self) -> Result<Ledger, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT datasets, cells FROM cell_sets ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut ledger = Ledger::default();
        for row in rows {
            let (datasets, bytes) = row?;
            let cells = decode_cells(&bytes)
                .ok_or_else(|| StoreError::Corrupt("release cells malformed".into()))?;
            ledger.insert(&datasets, &cells);
        }
        Ok(ledger)
    }

    /// Stores a release, the prints of its cells and its log entry (made
    /// by `entry` from the release's number) in one transaction; returns
    /// the release's number and the entry's receipt.
    pub fn record_release(
        &mut self,
        r: &ReleaseRecord,
        cells: &[ReleaseCells<'_>],
        entry: impl FnOnce(i64) -> Entry,
    ) -> Result<(i64, Receipt), StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let tx = self.conn.transaction()?;
        let stored = insert_release(&tx, signer, r, cells, entry)?;
        tx.commit()?;
        Ok(stored)
    }

    /// Stores `releases` in one transaction, in order, each as
    /// [`Store::record_release`] would (its own number, log entry and
    /// signed checkpoint): one durable commit for the group. Nothing of the
    /// group is stored when one fails.
    pub fn record_releases(
        &mut self,
        releases: Vec<PendingRelease>,
    ) -> Result<Vec<(i64, Receipt)>, StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let tx = self.conn.transaction()?;
        let mut stored = Vec::with_capacity(releases.len());
        for release in releases {
            let cells: Vec<ReleaseCells<'_>> = release
                .cells
                .iter()
                .map(|(datasets, cells)| ReleaseCells { datasets, cells })
                .collect();
            stored.push(insert_release(
                &tx,
                signer,
                &release.record,
                &cells,
                release.entry,
            )?);
        }
        tx.commit()?;
        Ok(stored)
    }
}

/// A release waiting to be stored with others (see
/// [`Store::record_releases`]).
pub struct PendingRelease {
    /// What is released.
    pub record: ReleaseRecord,
    /// Each datasets key with every cell of the release over it.
    pub cells: Vec<(String, Vec<LedgerCell>)>,
    /// Makes the log entry from the release's number.
    pub entry: Box<dyn FnOnce(i64) -> Entry + Send>,
}

impl std::fmt::Debug for PendingRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRelease")
            .field("project", &self.record.project)
            .field("cell_sets", &self.cells.len())
            .finish_non_exhaustive()
    }
}

/// Inserts one release, its cell references and its log entry in `tx`.
fn insert_release(
    tx: &Transaction<'_>,
    signer: &LogSigner,
    r: &ReleaseRecord,
    cells: &[ReleaseCells<'_>],
    entry: impl FnOnce(i64) -> Entry,
) -> Result<(i64, Receipt), StoreError> {
    let id: i64 = tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM releases", [], |r| {
        r.get(0)
    })?;
    let entry = entry(id);
    tx.execute(
        "INSERT INTO releases (id, project, at_ms, actor, request, policy, cells)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            r.project,
            entry.at_ms,
            entry.actor,
            r.request,
            r.policy,
            r.cells
        ],
    )?;
    for c in cells {
        refer(tx, id, c.datasets, &encode_cells(c.cells))?;
    }
    let receipt = append(tx, signer, &entry)?;
    Ok((id, receipt))
}

#[cfg(test)]
mod tests;
