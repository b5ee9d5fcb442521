//! The linkage log in the database: entries, the perfect subtrees of their
//! Merkle tree, and the checkpoints signed over it.
//!
//! [`append`] is the one commit path: it runs inside the transaction of the
//! action it records, so an action and its entry commit or vanish together.
//! It encodes the entry (an encoding failure is an error, never `null`),
//! adds its leaf and the subtrees it completes, and signs a checkpoint of
//! the new tree, but only after checking that the stored tree still has the
//! root of the last checkpoint signed: the server never signs two
//! checkpoints that are inconsistent with each other.
//!
//! Not responsible for verification: auditors recompute the tree from the
//! entries themselves ([`crate::audit::verify`]).

use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::{Store, StoreError};
use crate::audit::event::{self, Entry};
use crate::audit::merkle::{self, Frontier, Hash, Nodes};
use crate::audit::note::{Checkpoint, Signer};
use crate::audit::Receipt;

/// Version 6: the typed, tamper-evident log replaces the free-form audit
/// table (whose rows become `legacy` entries).
pub(super) const SCHEMA_V6: &str = "
-- One row per entry; idx is its leaf index (from 0), entry its canonical
-- bytes. The other columns repeat what the entry says, for filtering.
CREATE TABLE audit_log (
    idx      INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    kind     TEXT NOT NULL,
    datasets TEXT NOT NULL,
    project  TEXT,
    release  INTEGER,
    entry    BLOB NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at_ms);
CREATE INDEX audit_log_by_release ON audit_log (release) WHERE release IS NOT NULL;
-- The hash of every perfect subtree: leaves [idx << level, (idx + 1) << level).
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
-- The latest checkpoint signed (a C2SP signed note); every earlier one
-- went out in a receipt.
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
";

/// One stored entry, with what the filters look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// Its leaf index.
    pub index: u64,
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// Who acted.
    pub actor: String,
    /// The event's kind.
    pub kind: String,
    /// The datasets it involves.
    pub datasets: Vec<String>,
    /// Its project, if any.
    pub project: Option<String>,
    /// Its canonical bytes.
    pub bytes: Vec<u8>,
}

/// Which entries to read; every field narrows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// From this index on.
    pub from_index: u64,
    /// At or after this time (ms).
    pub from_ms: Option<i64>,
    /// Before this time (ms).
    pub to_ms: Option<i64>,
    /// By this actor.
    pub actor: Option<String>,
    /// Of this kind, or of every kind starting with it and a dot (`upload`).
    pub kind: Option<String>,
    /// Involving this dataset.
    pub dataset: Option<String>,
    /// In this project.
    pub project: Option<String>,
    /// At most this many (0: no limit).
    pub limit: u64,
}

/// The log's signing key, with the last checkpoint it signed: the next
/// append then need not verify its own signature again. Only a checkpoint
/// equal to that one skips the verification; any other (a rolled-back
/// append, a new start, a changed row) is verified.
pub(super) struct LogSigner {
    signer: Signer,
    last: Mutex<Option<String>>,
}

impl LogSigner {
    pub(super) fn new(signer: Signer) -> Self {
        LogSigner {
            signer,
            last: Mutex::new(None),
        }
    }

    fn signed_last(&self, note: &str) -> bool {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
            == Some(note)
    }

    fn sign(&self, checkpoint: &Checkpoint) -> Result<String, StoreError> {
        let note = self.signer.sign(&checkpoint.body())?;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(note.clone());
        Ok(note)
    }
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSigner")
            .field("name", &self.signer.name())
            .finish_non_exhaustive()
    }
}

/// The perfect subtrees stored in a database.
struct SqlNodes<'a>(&'a Connection);

impl Nodes for SqlNodes<'_> {
    type Error = StoreError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        let blob: Vec<u8> = self
            .0
            .prepare_cached("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2")?
            .query_row(params![level, index as i64], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::Corrupt(format!("log node {level}/{index} is missing")))?;
        blob.try_into()
            .map_err(|_| StoreError::Corrupt(format!("log node {level}/{index} is not 32 bytes")))
    }
}

fn size_of(conn: &Connection) -> Result<u64, StoreError> {
    let next: i64 = conn
        .prepare_cached("SELECT coalesce(max(idx) + 1, 0) FROM audit_log")?
        .query_row([], |r| r.get(0))?;
    Ok(next as u64)
}

/// Appends `entry` in the transaction open on `conn`, and signs the
/// checkpoint of the tree that includes it.
pub(super) fn append(
    conn: &Connection,
    signer: &LogSigner,
    entry: &Entry,
) -> Result<Receipt, StoreError> {
    let bytes = event::encode(entry)?;
    let size = size_of(conn)?;
    let nodes = SqlNodes(conn);
    let mut frontier = Frontier::load(&nodes, size).map_err(|e| match e {
        StoreError::Corrupt(why) => StoreError::LogTampered(format!("the stored tree: {why}")),
        other => other,
    })?;
    check_last_checkpoint(conn, &nodes, &frontier, signer, size)?;
    let datasets =
        serde_json::to_string(&entry.event.datasets()).map_err(event::EntryError::Encode)?;
    conn.prepare_cached(
        "INSERT INTO audit_log (idx, at_ms, actor, kind, datasets, project, release, entry)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        size as i64,
        entry.at_ms,
        entry.actor,
        entry.event.kind(),
        datasets,
        entry.event.project(),
        entry.event.release(),
        bytes
    ])?;
    insert_nodes(conn, frontier.push(merkle::leaf_hash(&bytes)))?;
    let checkpoint = Checkpoint {
        origin: signer.signer.name().to_owned(),
        size: size + 1,
        root: frontier.root(),
    };
    let note = signer.sign(&checkpoint)?;
    conn.prepare_cached("DELETE FROM audit_checkpoints")?
        .execute([])?;
    conn.prepare_cached("INSERT INTO audit_checkpoints (size, note) VALUES (?1, ?2)")?
        .execute(params![checkpoint.size as i64, note])?;
    Ok(Receipt {
        index: size,
        checkpoint: note,
    })
}

fn insert_nodes(conn: &Connection, nodes: Vec<(u8, u64, Hash)>) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
    for (level, index, hash) in nodes {
        stmt.execute(params![level, index as i64, &hash[..]])?;
    }
    Ok(())
}

/// Refuses to sign on top of a tree (`frontier`, of `size` entries) whose
/// root at the last signed size is not the root signed then, or whose last
/// checkpoint is not signed by this key.
fn check_last_checkpoint(
    conn: &Connection,
    nodes: &SqlNodes<'_>,
    frontier: &Frontier,
    signer: &LogSigner,
    size: u64,
) -> Result<(), StoreError> {
    let Some((signed_size, note)) = latest_checkpoint_on(conn)? else {
        return Ok(());
    };
    let tampered =
        |e: &dyn std::fmt::Display| StoreError::LogTampered(format!("the last checkpoint: {e}"));
    let body = if signer.signed_last(&note) {
        // Signed by this process a moment ago: its body, unverified.
        note.split_once("\n\n")
            .map(|(body, _)| format!("{body}\n"))
            .ok_or_else(|| tampered(&"not a signed note"))?
    } else {
        let verifier = signer.signer.verifier();
        verifier.verify(&note).map_err(|e| tampered(&e))?.to_owned()
    };
    let signed = Checkpoint::parse(&body).map_err(|e| tampered(&e))?;
    if signed.size != signed_size || signed.size > size {
        return Err(StoreError::LogTampered(format!(
            "the last checkpoint is of {} entries, the log holds {size}",
            signed.size
        )));
    }
    let root = if signed.size == size {
        frontier.root()
    } else {
        merkle::root(nodes, signed.size)?
    };
    if root != signed.root {
        return Err(StoreError::LogTampered(format!(
            "the stored tree no longer has the root signed at {} entries",
            signed.size
        )));
    }
    Ok(())
}

fn latest_checkpoint_on(conn: &Connection) -> Result<Option<(u64, String)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()?)
}

/// Turns the rows of the schema-5 audit table into `legacy` entries with
/// their tree, and drops the table. Signs nothing: the first append after
/// it signs a checkpoint over them all.
pub(super) fn migrate_to_v6(tx: &Connection) -> Result<(), StoreError> {
    tx.execute_batch(SCHEMA_V6)?;
    let rows: Vec<(i64, String, String, String)> = tx
        .prepare("SELECT at_ms, actor, action, detail FROM audit ORDER BY seq")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut frontier = Frontier::new();
    for (at_ms, actor, action, detail) in rows {
        let entry = Entry::new(at_ms, actor, event::Event::Legacy { action, detail });
        let bytes = event::encode(&entry)?;
        tx.execute(
            "INSERT INTO audit_log (idx, at_ms, actor, kind, datasets, project, entry)
             VALUES (?1, ?2, ?3, 'legacy', '[]', NULL, ?4)",
            params![frontier.size() as i64, at_ms, entry.actor, bytes],
        )?;
        insert_nodes(tx, frontier.push(merkle::leaf_hash(&bytes)))?;
    }
    tx.execute_batch("DROP TABLE audit")?;
    Ok(())
}

impl Store {
    /// Appends `entry` on its own (for actions that change no data, such as
    /// a refused request).
    pub fn append_entry(&mut self, entry: &Entry) -> Result<Receipt, StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let tx = self.conn.transaction()?;
        let receipt = append(&tx, signer, entry)?;
        tx.commit()?;
        Ok(receipt)
    }

    /// Appends `entries` in one transaction (each with its own signed
    /// checkpoint): one commit for a group of actions that change no data.
    pub fn append_entries(&mut self, entries: &[Entry]) -> Result<Vec<Receipt>, StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let tx = self.conn.transaction()?;
        let receipts = entries
            .iter()
            .map(|e| append(&tx, signer, e))
            .collect::<Result<_, _>>()?;
        tx.commit()?;
        Ok(receipts)
    }

    /// How many entries the log holds.
    pub fn log_size(&self) -> Result<u64, StoreError> {
        size_of(&self.conn)
    }

    /// The latest signed checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        Ok(latest_checkpoint_on(&self.conn)?.map(|(_, note)| note))
    }

    /// The root of the log's first `size` entries, from the stored tree.
    pub fn log_root(&self, size: u64) -> Result<Hash, StoreError> {
        self.check_size(size)?;
        merkle::root(&SqlNodes(&self.conn), size)
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(size)?;
        merkle::inclusion_proof(&SqlNodes(&self.conn), index, size).map_err(proof_error)
    }

    /// The consistency proof between the trees of `old` and `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(new)?;
        merkle::consistency_proof(&SqlNodes(&self.conn), old, new).map_err(proof_error)
    }

    fn check_size(&self, size: u64) -> Result<(), StoreError> {
        let held = self.log_size()?;
        if size > held {
            return Err(StoreError::LogRange(format!(
                "the log holds {held} entries, not {size}"
            )));
        }
        Ok(())
    }

    /// The entries `filter` selects, in log order.
    pub fn log_entries(&self, filter: &LogFilter) -> Result<Vec<StoredEntry>, StoreError> {
        let mut sql = String::from(
            "SELECT idx, at_ms, actor, kind, datasets, project, entry FROM audit_log WHERE idx >= ?1",
        );
        let mut args: Vec<rusqlite::types::Value> = vec![(filter.from_index as i64).into()];
        let mut narrow = |clause: &str, value: rusqlite::types::Value| {
            args.push(value);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(ms) = filter.from_ms {
            narrow(" AND at_ms >= ?", ms.into());
        }
        if let Some(ms) = filter.to_ms {
            narrow(" AND at_ms < ?", ms.into());
        }
        if let Some(actor) = &filter.actor {
            narrow(" AND actor = ?", actor.clone().into());
        }
        if let Some(kind) = &filter.kind {
            narrow(
                " AND (kind = ? OR substr(kind, 1, length(?) + 1) = ? || '.')",
                kind.clone().into(),
            );
        }
        if let Some(dataset) = &filter.dataset {
            narrow(
                " AND EXISTS (SELECT 1 FROM json_each(datasets) WHERE value = ?)",
                dataset.clone().into(),
            );
        }
        if let Some(project) = &filter.project {
            narrow(" AND project = ?", project.clone().into());
        }
        sql.push_str(" ORDER BY idx");
        if filter.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", filter.limit));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get::<_, String>(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (index, at_ms, actor, kind, datasets, project, bytes) = row?;
            let datasets = serde_json::from_str(&datasets)
                .map_err(|e| StoreError::Corrupt(format!("log entry {index}: {e}")))?;
            out.push(StoredEntry {
                index: index as u64,
                at_ms,
                actor,
                kind,
                datasets,
                project,
                bytes,
            });
        }
        Ok(out)
    }
}

fn proof_error(e: merkle::ProofError<StoreError>) -> StoreError {
    match e {
        merkle::ProofError::Nodes(e) => e,
        other => StoreError::LogRange(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
