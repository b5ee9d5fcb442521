//! Transactions: declaring a dataset, committing an upload.
//!
//! Each public method here is one SQLite transaction. Those that act
//! include their log entry, so an action and its record commit or vanish
//! together.
//!
//! An upload's rows are staged first, in transactions of a few chunks
//! each, under the dataset version they will become ([`Store::stage_rows`]);
//! nothing reads a version before [`Store::commit_upload`] makes it the
//! dataset's, in one small transaction with the new persons, the receipt
//! and the log entry. The rows of the version before are deleted after it,
//! a few chunks at a time ([`Store::delete_stale_rows`]), and whatever a
//! crash left of either is deleted when the store opens. So the store lock,
//! which releases need, is never held for the whole of a national upload's
//! write.

use rusqlite::{params, OptionalExtension, Transaction};

use super::codec::{encode_u32s, pack, PACKED};
use super::log::append;
use super::{Store, StoreError, COLUMN_CHUNK, HOUSEHOLD_COLUMN, PERSON_CHUNK, PERSON_COLUMN};
use crate::audit::event::Entry;
use crate::audit::Receipt;
use crate::columns::ColumnData;
use crate::keys::KeyVersion;
use crate::link::PersonNo;
use crate::schema::DatasetDef;
use crate::sealing::Sealed;

/// A released table as stored: its full request, the policy applied and
/// the cells as released (never a withheld value).
#[derive(Debug, Clone)]
pub struct ReleaseRecord {
    /// The project the release belongs to.
    pub project: String,
    /// The request, as JSON.
    pub request: String,
    /// The policy, as JSON.
    pub policy: String,
    /// The released cells, as JSON.
    pub cells: String,
}

/// Version 9: column chunks carry the dataset version they belong to, so
/// that an upload's rows can be written before they become the dataset's.
pub(super) const SCHEMA_V9: &str = "
CREATE TABLE column_chunks_v9 (
    dataset      INTEGER NOT NULL REFERENCES datasets(id),
    version      INTEGER NOT NULL,
    column_index INTEGER NOT NULL,
    chunk        INTEGER NOT NULL,
    data         BLOB NOT NULL,
    UNIQUE (dataset, version, column_index, chunk)
);
INSERT INTO column_chunks_v9 (dataset, version, column_index, chunk, data)
    SELECT c.dataset, d.version, c.column_index, c.chunk, c.data
    FROM column_chunks c JOIN datasets d ON d.id = c.dataset;
DROP TABLE column_chunks;
ALTER TABLE column_chunks_v9 RENAME TO column_chunks;
";

/// Version 10: column chunks are packed (see [`super::codec`]); those
/// written before keep `packing` 0, fixed-width.
pub(super) const SCHEMA_V10: &str = "
ALTER TABLE column_chunks ADD COLUMN packing INTEGER NOT NULL DEFAULT 0;
";

/// One chunk of one column of an upload's rows.
#[derive(Debug, Clone, Copy)]
pub struct RowChunk<'a> {
    column: i64,
    chunk: i64,
    values: ChunkValues<'a>,
}

#[derive(Debug, Clone, Copy)]
enum ChunkValues<'a> {
    Numbers32(&'a [u32]),
    Numbers64(&'a [i64]),
}

impl RowChunk<'_> {
    /// The chunk packed as it is stored, ready for [`Store::stage_rows`]:
    /// packing takes no lock, so it can be done while other chunks are
    /// written.
    pub fn encode(&self) -> EncodedChunk {
        EncodedChunk {
            column: self.column,
            chunk: self.chunk,
            data: match self.values {
                ChunkValues::Numbers32(v) => pack(v),
                ChunkValues::Numbers64(v) => pack(v),
            },
        }
    }
}

/// A [`RowChunk`], packed.
#[derive(Debug)]
pub struct EncodedChunk {
    column: i64,
    chunk: i64,
    data: Vec<u8>,
}

/// The chunks of an upload's rows, in the order they are staged: person
/// numbers, household numbers, then each column.
pub fn row_chunks<'a>(
    persons: &'a [PersonNo],
    households: Option<&'a [u32]>,
    columns: &'a [ColumnData],
) -> Vec<RowChunk<'a>> {
    let mut out = Vec::new();
    let mut numbers = vec![(PERSON_COLUMN, persons)];
    numbers.extend(households.map(|h| (HOUSEHOLD_COLUMN, h)));
    for (column, values) in numbers {
        for (n, part) in values.chunks(COLUMN_CHUNK).enumerate() {
            out.push(RowChunk {
                column,
                chunk: n as i64,
                values: ChunkValues::Numbers32(part),
            });
        }
    }
    for (i, column) in columns.iter().enumerate() {
        match column {
            ColumnData::Codes { codes, .. } => {
                for (n, part) in codes.chunks(COLUMN_CHUNK).enumerate() {
                    out.push(RowChunk {
                        column: i as i64,
                        chunk: n as i64,
                        values: ChunkValues::Numbers32(part),
                    });
                }
            }
            ColumnData::Numbers(v) => {
                for (n, part) in v.chunks(COLUMN_CHUNK).enumerate() {
                    out.push(RowChunk {
                        column: i as i64,
                        chunk: n as i64,
                        values: ChunkValues::Numbers64(part),
                    });
                }
            }
        }
    }
    out
}

/// Everything an upload commit writes besides its staged rows.
#[derive(Debug)]
pub struct UploadWrite<'a> {
    /// Store id of the dataset.
    pub dataset_id: i64,
    /// The dataset version this commit creates.
    pub version: u64,
    /// Persons new to ddc with their sealed pseudonyms, numbered
    /// consecutively after the existing ones.
    pub new_persons: &'a [(Sealed, PersonNo)],
    /// Record keys of the new persons, aligned with `new_persons`.
    pub new_record_keys: &'a [u32],
    /// Households new to ddc with their sealed pseudonyms, numbered
    /// consecutively after the existing ones.
    pub new_households: &'a [(Sealed, u32)],
    /// Storage key version the pseudonyms are sealed under.
    pub key_version: KeyVersion,
    /// Column values of the rows (staged before; the open columns'
    /// categories are written with the commit).
    pub columns: &'a [ColumnData],
    /// Which columns are open categoricals (their categories are stored).
    pub open_columns: &'a [usize],
    /// The client's id for this upload.
    pub upload_id: &'a str,
    /// The receipt returned for it, as JSON, kept for retries.
    pub receipt: &'a str,
}

impl Store {
    /// Declares a dataset; returns its id.
    pub fn create_dataset(&mut self, def: &DatasetDef, entry: &Entry) -> Result<i64, StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let tx = self.conn.transaction()?;
        let definition =
            serde_json::to_string(def).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO datasets (name, organisation, definition, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![def.name(), def.organisation(), definition, entry.at_ms],
        )?;
        let id = tx.last_insert_rowid();
        append(&tx, signer, entry)?;
        tx.commit()?;
        Ok(id)
    }

    /// Deletes whatever was staged for `version` of a dataset (by an
    /// attempt that did not commit), in one transaction.
    pub fn clear_staged(&mut self, dataset_id: i64, version: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM column_chunks WHERE dataset = ?1 AND version = ?2",
            params![dataset_id, version as i64],
        )?;
        Ok(())
    }

    /// Writes `chunks` of an upload's rows under `version` of a dataset, in
    /// one transaction. Nothing reads them before [`Store::commit_upload`]
    /// makes `version` the dataset's.
    pub fn stage_rows(
        &mut self,
        dataset_id: i64,
        version: u64,
        chunks: &[EncodedChunk],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO column_chunks (dataset, version, column_index, chunk, packing, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for c in chunks {
                stmt.execute(params![
                    dataset_id,
                    version as i64,
                    c.column,
                    c.chunk,
                    PACKED,
                    c.data
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Makes the staged rows of `w.version` the dataset's, adding the new
    /// persons and households, the open columns' categories, the receipt
    /// and the log entry, in one transaction.
    pub fn commit_upload(
        &mut self,
        w: &UploadWrite<'_>,
        entry: &Entry,
    ) -> Result<Receipt, StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let tx = self.conn.transaction()?;
        insert_persons(&tx, w)?;
        insert_households(&tx, w)?;
        replace_categories(&tx, w)?;
        tx.execute(
            "UPDATE datasets SET version = ?1 WHERE id = ?2",
            params![w.version as i64, w.dataset_id],
        )?;
        tx.execute(
            "INSERT INTO uploads (upload_id, dataset, version, at_ms, receipt) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![w.upload_id, w.dataset_id, w.version as i64, entry.at_ms, w.receipt],
        )?;
        let receipt = append(&tx, signer, entry)?;
        tx.commit()?;
        Ok(receipt)
    }

    /// Deletes up to `limit` chunks of a dataset's rows of versions before
    /// the current one (those it replaced), in one transaction; returns how
    /// many it deleted (0 when none is left). Rows staged for a later
    /// version are left to their upload.
    pub fn delete_stale_rows(
        &mut self,
        dataset_id: i64,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let deleted = self.conn.execute(
            "DELETE FROM column_chunks WHERE rowid IN (
                 SELECT c.rowid FROM column_chunks c JOIN datasets d ON d.id = c.dataset
                 WHERE c.dataset = ?1 AND c.version < d.version LIMIT ?2)",
            params![dataset_id, limit as i64],
        )?;
        Ok(deleted)
    }

    /// Deletes every chunk of rows that belongs to no current version, of
    /// any dataset (what a crash left), in one transaction.
    pub(super) fn delete_all_stale_rows(&mut self) -> Result<usize, StoreError> {
        let deleted = self.conn.execute(
            "DELETE FROM column_chunks WHERE rowid IN (
                 SELECT c.rowid FROM column_chunks c JOIN datasets d ON d.id = c.dataset
                 WHERE c.version <> d.version)",
            [],
        )?;
        Ok(deleted)
    }

    /// The dataset id and receipt of a committed upload id, if any.
    pub fn committed_upload(&self, upload_id: &str) -> Result<Option<(i64, String)>, StoreError> {
        let found = self
            .conn
            .query_row(
                "SELECT dataset, receipt FROM uploads WHERE upload_id = ?1",
                [upload_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(found)
    }
}

fn insert_persons(tx: &Transaction<'_>, w: &UploadWrite<'_>) -> Result<(), StoreError> {
    let mut stmt = tx.prepare(
        "INSERT INTO person_chunks (first_person, count, key_version, pseudonyms, record_keys)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let people = w.new_persons.chunks(PERSON_CHUNK);
    for (part, keys) in people.zip(w.new_record_keys.chunks(PERSON_CHUNK)) {
        let (first, pseudonyms) = chunk_of(part, "persons")?;
        stmt.execute(params![
            first,
            part.len() as i64,
            w.key_version.0,
            pseudonyms,
            encode_u32s(keys)
        ])?;
    }
    Ok(())
}

fn insert_households(tx: &Transaction<'_>, w: &UploadWrite<'_>) -> Result<(), StoreError> {
    let mut stmt = tx.prepare(
        "INSERT INTO household_chunks (first_household, count, key_version, pseudonyms)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for part in w.new_households.chunks(PERSON_CHUNK) {
        let (first, pseudonyms) = chunk_of(part, "households")?;
        stmt.execute(params![
            first,
            part.len() as i64,
            w.key_version.0,
            pseudonyms
        ])?;
    }
    Ok(())
}

/// The first number and the concatenated pseudonyms of a chunk of new
/// persons or households, which must be numbered consecutively.
fn chunk_of(part: &[(Sealed, u32)], what: &str) -> Result<(u32, Vec<u8>), StoreError> {
    let first = part[0].1;
    if part
        .iter()
        .enumerate()
        .any(|(i, p)| p.1 as usize != first as usize + i)
    {
        return Err(StoreError::Corrupt(format!(
            "new {what} are not numbered consecutively"
        )));
    }
    let mut bytes = Vec::with_capacity(part.len() * std::mem::size_of::<Sealed>());
    for (p, _) in part {
        bytes.extend_from_slice(p);
    }
    Ok((first, bytes))
}

fn replace_categories(tx: &Transaction<'_>, w: &UploadWrite<'_>) -> Result<(), StoreError> {
    tx.execute("DELETE FROM categories WHERE dataset = ?1", [w.dataset_id])?;
    let mut stmt = tx.prepare(
        "INSERT INTO categories (dataset, column_index, code, value) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for &i in w.open_columns {
        if let ColumnData::Codes { categories, .. } = &w.columns[i] {
            for (code, value) in categories.iter().enumerate() {
                stmt.execute(params![w.dataset_id, i as i64, code as i64, value])?;
            }
        }
    }
    Ok(())
}

impl Store {
    /// Deletes a dataset's declaration, rows, categories and upload
    /// receipts, saves the `projects` it was taken out of, and appends the
    /// log entry, in one transaction; then empties the write-ahead log, so
    /// that (with `secure_delete`) no byte of the rows is left in the data
    /// directory.
    pub fn delete_dataset(
        &mut self,
        dataset_id: i64,
        projects: &[crate::project::Project],
        entry: &Entry,
    ) -> Result<Receipt, StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let tx = self.conn.transaction()?;
        for table in ["column_chunks", "categories", "uploads"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE dataset = ?1"),
                [dataset_id],
            )?;
        }
        tx.execute("DELETE FROM datasets WHERE id = ?1", [dataset_id])?;
        for p in projects {
            super::projects::save(&tx, p)?;
        }
        let receipt = append(&tx, signer, entry)?;
        tx.commit()?;
        self.truncate_wal()?;
        Ok(receipt)
    }
}
