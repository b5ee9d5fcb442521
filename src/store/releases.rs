//! The release history as auditors read it: every release record with the
//! log entry that recorded it. Reading creates no release.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// One release as stored, with its log entry when it has one (releases
/// recorded before the typed log have none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRelease {
    /// The release's number.
    pub id: i64,
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// Who asked.
    pub actor: String,
    /// The project (`linkage` for linkage figures).
    pub project: String,
    /// The request as JSON.
    pub request: String,
    /// The policy as JSON.
    pub policy: String,
    /// The released cells as JSON.
    pub cells: String,
    /// The log entry's index and canonical bytes.
    pub entry: Option<(u64, Vec<u8>)>,
}

const SELECT: &str =
    "SELECT r.id, r.at_ms, r.actor, r.project, r.request, r.policy, r.cells, l.idx, l.entry
     FROM releases r LEFT JOIN audit_log l ON l.release = r.id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRelease> {
    let idx: Option<i64> = r.get(7)?;
    let bytes: Option<Vec<u8>> = r.get(8)?;
    Ok(StoredRelease {
        id: r.get(0)?,
        at_ms: r.get(1)?,
        actor: r.get(2)?,
        project: r.get(3)?,
        request: r.get(4)?,
        policy: r.get(5)?,
        cells: r.get(6)?,
        entry: idx.zip(bytes).map(|(i, b)| (i as u64, b)),
    })
}

impl Store {
    /// Every release, oldest first; `project` narrows.
    pub fn releases(&self, project: Option<&str>) -> Result<Vec<StoredRelease>, StoreError> {
        let sql = format!("{SELECT} WHERE ?1 IS NULL OR r.project = ?1 ORDER BY r.id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![project], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One release, if it exists.
    pub fn release(&self, id: i64) -> Result<Option<StoredRelease>, StoreError> {
        let sql = format!("{SELECT} WHERE r.id = ?1");
        Ok(self.conn.query_row(&sql, [id], row).optional()?)
    }
}
