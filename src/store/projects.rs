//! Projects in the store: one row per project, the project as JSON,
//! replaced whole with the log entry of each change.

use rusqlite::params;

use super::log::append;
use super::{Store, StoreError};
use crate::audit::event::Entry;
use crate::audit::Receipt;
use crate::project::Project;

/// Version 7: projects.
pub(super) const SCHEMA_V7: &str = "
CREATE TABLE IF NOT EXISTS projects (
    name    TEXT PRIMARY KEY,
    project TEXT NOT NULL
);
";

/// Stores `project` as it now is, inside `tx`.
pub(super) fn save(tx: &rusqlite::Transaction<'_>, project: &Project) -> Result<(), StoreError> {
    let json = serde_json::to_string(project).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO projects (name, project) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET project = excluded.project",
        params![project.name, json],
    )?;
    Ok(())
}

impl Store {
    /// Stores `project` as it now is, with the log entry of the change.
    pub fn save_project(
        &mut self,
        project: &Project,
        entry: &Entry,
    ) -> Result<Receipt, StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let json =
            serde_json::to_string(project).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO projects (name, project) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET project = excluded.project",
            params![project.name, json],
        )?;
        let receipt = append(&tx, signer, entry)?;
        tx.commit()?;
        Ok(receipt)
    }

    /// Every project, by name.
    pub fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT project FROM projects ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|json| {
            serde_json::from_str(&json?).map_err(|e| StoreError::Corrupt(format!("project: {e}")))
        })
        .collect()
    }
}
