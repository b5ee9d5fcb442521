//! Transactions: declaring a dataset, committing an upload, auditing.
//!
//! Each public method here is one SQLite transaction that includes its
//! audit entry, so an action and its record commit or vanish together.

use rusqlite::{params, Transaction};

use super::{rows_table, Store, StoreError};
use crate::columns::ColumnData;
use crate::keys::KeyVersion;
use crate::link::PersonNo;
use crate::pseudonym::Pseudonym;
use crate::schema::DatasetDef;

/// One audit-trail entry. Never holds identifiers, pseudonyms or withheld values.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Who acted.
    pub actor: String,
    /// What kind of action, e.g. `dataset.create`.
    pub action: &'static str,
    /// Details as JSON.
    pub detail: serde_json::Value,
}

/// Everything an upload commit writes.
#[derive(Debug)]
pub struct UploadWrite<'a> {
    /// Row-table id of the dataset.
    pub dataset_id: i64,
    /// The dataset version this commit creates.
    pub version: u64,
    /// Persons new to ddc, with their numbers.
    pub new_persons: &'a [(Pseudonym, PersonNo)],
    /// Record keys of the new persons, aligned with `new_persons`.
    pub new_record_keys: &'a [u32],
    /// Key version of the pseudonyms.
    pub key_version: KeyVersion,
    /// The person of each row, ascending.
    pub persons: &'a [PersonNo],
    /// Column values aligned with `persons`.
    pub columns: &'a [ColumnData],
    /// Which columns are open categoricals (their categories are stored).
    pub open_columns: &'a [usize],
}

impl Store {
    /// Declares a dataset and creates its row table; returns its id.
    pub fn create_dataset(
        &mut self,
        def: &DatasetDef,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        let tx = self.conn.transaction()?;
        let definition =
            serde_json::to_string(def).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO datasets (name, organisation, definition, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![def.name(), def.organisation(), definition, audit.at_ms],
        )?;
        let id = tx.last_insert_rowid();
        let columns: String = (0..def.columns().len())
            .map(|i| format!(", c{i} INTEGER NOT NULL"))
            .collect();
        tx.execute_batch(&format!(
            "CREATE TABLE {} (person INTEGER PRIMARY KEY REFERENCES persons(person){columns})",
            rows_table(id)
        ))?;
        append(&tx, audit)?;
        tx.commit()?;
        Ok(id)
    }

    /// Replaces a dataset's rows with an upload's, adding new persons.
    pub fn commit_upload(
        &mut self,
        w: &UploadWrite<'_>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        insert_persons(&tx, w)?;
        let table = rows_table(w.dataset_id);
        tx.execute(&format!("DELETE FROM {table}"), [])?;
        insert_rows(&tx, &table, w)?;
        tx.execute("DELETE FROM categories WHERE dataset = ?1", [w.dataset_id])?;
        let mut cat = tx.prepare(
            "INSERT INTO categories (dataset, column_index, code, value) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for &i in w.open_columns {
            if let ColumnData::Codes { categories, .. } = &w.columns[i] {
                for (code, value) in categories.iter().enumerate() {
                    cat.execute(params![w.dataset_id, i as i64, code as i64, value])?;
                }
            }
        }
        drop(cat);
        tx.execute(
            "UPDATE datasets SET version = ?1 WHERE id = ?2",
            params![w.version as i64, w.dataset_id],
        )?;
        append(&tx, audit)?;
        tx.commit()?;
        Ok(())
    }

    /// Appends an audit entry on its own (for actions that change no data,
    /// such as a released table).
    pub fn append_audit(&mut self, audit: &AuditEntry) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        append(&tx, audit)?;
        tx.commit()?;
        Ok(())
    }
}

fn insert_persons(tx: &Transaction<'_>, w: &UploadWrite<'_>) -> Result<(), StoreError> {
    let mut person = tx.prepare("INSERT INTO persons (person, record_key) VALUES (?1, ?2)")?;
    let mut pseudonym =
        tx.prepare("INSERT INTO pseudonyms (pseudonym, key_version, person) VALUES (?1, ?2, ?3)")?;
    for (&(p, n), &key) in w.new_persons.iter().zip(w.new_record_keys) {
        person.execute(params![n, key])?;
        pseudonym.execute(params![&p.as_bytes()[..], w.key_version.0, n])?;
    }
    Ok(())
}

fn insert_rows(tx: &Transaction<'_>, table: &str, w: &UploadWrite<'_>) -> Result<(), StoreError> {
    let placeholders: String = (0..w.columns.len())
        .map(|i| format!(", ?{}", i + 2))
        .collect();
    let columns: String = (0..w.columns.len()).map(|i| format!(", c{i}")).collect();
    let mut stmt = tx.prepare(&format!(
        "INSERT INTO {table} (person{columns}) VALUES (?1{placeholders})"
    ))?;
    let mut values: Vec<i64> = vec![0; w.columns.len() + 1];
    for (row, &person) in w.persons.iter().enumerate() {
        values[0] = i64::from(person);
        for (i, column) in w.columns.iter().enumerate() {
            values[i + 1] = match column {
                ColumnData::Codes { codes, .. } => i64::from(codes[row]),
                ColumnData::Numbers(v) => v[row],
            };
        }
        stmt.execute(rusqlite::params_from_iter(values.iter()))?;
    }
    Ok(())
}

fn append(tx: &Transaction<'_>, a: &AuditEntry) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit (at_ms, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
        params![a.at_ms, a.actor, a.action, a.detail.to_string()],
    )?;
    Ok(())
}
