//! Code lists in the store: one row per version, the list as JSON.
//!
//! Versions are never changed or deleted, so a dataset's pinned version
//! stays readable for as long as the dataset exists.

use std::collections::BTreeMap;

use rusqlite::params;

use super::log::append;
use super::{Store, StoreError};
use crate::audit::event::Entry;
use crate::classification::{Classifications, CodeList};

impl Store {
    /// Stores a new code list version with its log entry.
    pub fn create_code_list(&mut self, list: &CodeList, entry: &Entry) -> Result<(), StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let definition =
            serde_json::to_string(list).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO code_lists (name, version, definition, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![list.id().name, list.id().version, definition, entry.at_ms],
        )?;
        append(&tx, signer, entry)?;
        tx.commit()?;
        Ok(())
    }

    /// Every version of every code list, checked to be complete: each
    /// row decodes to the list its key names, versions run from 1 without
    /// gaps, and a parent version is stored.
    pub(super) fn load_code_lists(&self) -> Result<Classifications, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, version, definition FROM code_lists ORDER BY name, version")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut versions: BTreeMap<String, u32> = BTreeMap::new();
        let mut lists = Vec::new();
        for row in rows {
            let (name, version, definition) = row?;
            let corrupt = |what: &str| StoreError::Corrupt(format!("code list {name}: {what}"));
            let list: CodeList =
                serde_json::from_str(&definition).map_err(|e| corrupt(&e.to_string()))?;
            let expected = versions.get(&name).map_or(1, |v| v + 1);
            if i64::from(list.id().version) != version
                || list.id().name != name
                || list.id().version != expected
            {
                return Err(corrupt("versions are not stored in sequence"));
            }
            versions.insert(name, expected);
            lists.push(list);
        }
        let registry = Classifications::from_lists(lists);
        let orphan = registry
            .latest_all()
            .flat_map(|l| registry.versions(&l.id().name))
            .any(|l| registry.lineage(l.id()).is_none());
        if orphan {
            return Err(StoreError::Corrupt(
                "a code list names a parent list version the store does not hold".into(),
            ));
        }
        Ok(registry)
    }
}
