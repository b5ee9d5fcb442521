//! Transactions: declaring a dataset, committing an upload.
//!
//! Each public method here is one SQLite transaction that includes its log
//! entry, so an action and its record commit or vanish together.

use rusqlite::{params, OptionalExtension, Transaction};

use super::codec::{encode_i64s, encode_u32s};
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

/// Everything an upload commit writes.
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
    /// The person of each row, ascending.
    pub persons: &'a [PersonNo],
    /// The household of each row, if the dataset has households.
    pub households: Option<&'a [u32]>,
    /// Column values aligned with `persons`.
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

    /// Replaces a dataset's rows with an upload's, adding new persons.
    pub fn commit_upload(
        &mut self,
        w: &UploadWrite<'_>,
        entry: &Entry,
    ) -> Result<Receipt, StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let tx = self.conn.transaction()?;
        insert_persons(&tx, w)?;
        insert_households(&tx, w)?;
        tx.execute(
            "DELETE FROM column_chunks WHERE dataset = ?1",
            [w.dataset_id],
        )?;
        let mut chunk = tx.prepare(
            "INSERT INTO column_chunks (dataset, column_index, chunk, data) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut numbers = vec![(PERSON_COLUMN, w.persons)];
        numbers.extend(w.households.map(|h| (HOUSEHOLD_COLUMN, h)));
        for (column, values) in numbers {
            for (n, part) in values.chunks(COLUMN_CHUNK).enumerate() {
                chunk.execute(params![w.dataset_id, column, n as i64, encode_u32s(part)])?;
            }
        }
        for (i, column) in w.columns.iter().enumerate() {
            let encoded: Vec<Vec<u8>> = match column {
                ColumnData::Codes { codes, .. } => {
                    codes.chunks(COLUMN_CHUNK).map(encode_u32s).collect()
                }
                ColumnData::Numbers(v) => v.chunks(COLUMN_CHUNK).map(encode_i64s).collect(),
            };
            for (n, data) in encoded.into_iter().enumerate() {
                chunk.execute(params![w.dataset_id, i as i64, n as i64, data])?;
            }
        }
        drop(chunk);
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
    Ok((first, part.iter().flat_map(|(p, _)| *p).collect()))
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
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(receipt)
    }
}
