//! The log's entries: one typed event per action, and their one canonical
//! byte encoding.
//!
//! An entry is `{"actor":…,"at_ms":…,"event":{"kind":…,…},"v":1}`: JSON
//! with the keys of every object sorted by their bytes, no whitespace,
//! integers as integers, strings as serde_json escapes them, no floats
//! except the policy's parameters (shortest round-trip form). `v` is the
//! encoding version. The bytes stored are the bytes hashed: a leaf is
//! SHA-256(0x00 ‖ entry), so anyone can recompute the tree from an export.
//! [`decode`] refuses bytes that are not the canonical encoding of what they
//! decode to.
//!
//! No event holds a raw identifier, a pseudonym, key material or a withheld
//! value: uploads carry a keyed digest of their content, tables the request,
//! the policy and the statuses of their cells.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version of the entry encoding written now.
pub const ENCODING_VERSION: u32 = 1;

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The encoding version ([`ENCODING_VERSION`]).
    pub v: u32,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Who acted: the caller's identity, or `server`.
    pub actor: String,
    /// What happened.
    pub event: Event,
}

impl Entry {
    /// An entry of `event` by `actor` at `at_ms`, in the current encoding.
    pub fn new(at_ms: i64, actor: impl Into<String>, event: Event) -> Self {
        Entry {
            v: ENCODING_VERSION,
            at_ms,
            actor: actor.into(),
            event,
        }
    }
}

/// What happened. The `kind` names are stable; new kinds are added, none
/// is renamed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum Event {
    /// The server opened its store and started serving.
    #[serde(rename = "server.started")]
    ServerStarted {
        /// The ddc version.
        version: String,
    },
    /// The server stopped serving (a graceful stop; a crash has no entry).
    #[serde(rename = "server.stopped")]
    ServerStopped {
        /// The ddc version.
        version: String,
    },
    /// A dataset was declared.
    #[serde(rename = "dataset.created")]
    DatasetCreated {
        /// Its name.
        dataset: String,
        /// The organisation that holds it.
        organisation: String,
        /// Its definition (columns, identifier, …) as stored.
        definition: serde_json::Value,
    },
    /// A dataset was deleted by its holder, with its rows.
    #[serde(rename = "dataset.deleted")]
    DatasetDeleted {
        /// Its name.
        dataset: String,
        /// The organisation that held it.
        organisation: String,
        /// Rows deleted.
        rows: u64,
        /// Projects it was taken out of.
        projects: Vec<String>,
    },
    /// A code list version was published.
    #[serde(rename = "code_list.created")]
    CodeListCreated(CodeListShape),
    /// A code list draft equal to the latest version: nothing stored.
    #[serde(rename = "code_list.unchanged")]
    CodeListUnchanged(CodeListShape),
    /// A code list draft was refused.
    #[serde(rename = "code_list.refused")]
    CodeListRefused {
        /// The fields at fault, never the draft's names or codes.
        fields: Vec<String>,
    },
    /// An upload committed a new dataset version.
    #[serde(rename = "upload.accepted")]
    UploadAccepted {
        /// The dataset uploaded into.
        dataset: String,
        /// The organisation that holds it.
        organisation: String,
        /// The client's upload id.
        upload_id: String,
        /// The dataset version created.
        version: u64,
        /// Whether the upload replaced the dataset's data.
        replace: bool,
        /// Data rows read, stored and rejected.
        rows_read: u64,
        /// Rows stored.
        rows_stored: u64,
        /// Rows rejected (invalid, stored nothing of).
        rows_rejected: u64,
        /// File bytes received.
        bytes: u64,
        /// HMAC-SHA256 under the audit key of the SHA-256 of the bytes
        /// received, hex: identifies the content without letting anyone
        /// who lacks the key test a guessed file.
        content_digest: String,
    },
    /// A file was checked against a dataset; nothing was stored.
    #[serde(rename = "upload.checked")]
    UploadChecked {
        /// The dataset.
        dataset: String,
        /// The organisation that holds it.
        organisation: String,
        /// Data rows read.
        rows_read: u64,
        /// Rows that would be rejected.
        rows_rejected: u64,
        /// File bytes received.
        bytes: u64,
    },
    /// A repeated upload id was answered with its earlier receipt.
    #[serde(rename = "upload.replayed")]
    UploadReplayed {
        /// The dataset.
        dataset: String,
        /// The organisation that holds it.
        organisation: String,
        /// The client's upload id.
        upload_id: String,
        /// The version the first upload created.
        version: u64,
    },
    /// An upload was refused before its data was read (a limit).
    #[serde(rename = "upload.refused")]
    UploadRefused(UploadFailure),
    /// An upload's content was rejected (bad header, invalid rows, no rows).
    #[serde(rename = "upload.rejected")]
    UploadRejected(UploadFailure),
    /// An upload broke off (stream ended, idle, size or digest mismatch).
    #[serde(rename = "upload.broken")]
    UploadBroken(UploadFailure),
    /// Linkage figures were released.
    #[serde(rename = "linkage.released")]
    LinkageReleased {
        /// The release record's number.
        release: i64,
        /// The project it was asked under (absent in entries written
        /// before projects existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        /// The datasets asked about.
        datasets: Vec<String>,
        /// Figures released.
        released: u64,
        /// Figures withheld.
        withheld: u64,
    },
    /// A table was released.
    #[serde(rename = "table.released")]
    TableReleased {
        /// The release record's number.
        release: i64,
        /// The project it was asked under.
        project: String,
        /// The full request as the analyst worded it.
        request: serde_json::Value,
        /// The disclosure policy applied.
        policy: serde_json::Value,
        /// The datasets the table combined.
        datasets: Vec<String>,
        /// Cells in the table, margins included.
        cells: u64,
        /// Cells per status (`released`, `withheld_threshold`, …).
        statuses: BTreeMap<String, u64>,
        /// SHA-256 (hex) of the release record's cells as stored, so the
        /// release history can be checked against the log.
        cells_digest: String,
    },
    /// A table was refused.
    #[serde(rename = "table.refused")]
    TableRefused {
        /// The project it was asked under.
        project: String,
        /// The full request.
        request: serde_json::Value,
        /// The rule that refused it (`attacker_budget_work`, `cell_difference`, …).
        rule: String,
    },
    /// A key was made (by the server, for a purpose the key store lacked).
    #[serde(rename = "key.created")]
    KeyCreated(KeyRef),
    /// The store recorded the check value of a key it is now written under.
    #[serde(rename = "key.recorded")]
    KeyRecorded(KeyRef),
    /// A store written before sealing had its pseudonyms sealed.
    #[serde(rename = "key.sealed")]
    KeySealed(KeyRef),
    /// The storage key was rotated.
    #[serde(rename = "key.rotated")]
    KeyRotated {
        /// The key's purpose.
        purpose: String,
        /// The version before.
        from: u32,
        /// The version now.
        to: u32,
        /// Persons resealed.
        persons: u64,
        /// Households resealed.
        households: u64,
    },
    /// An administrator created a project; its datasets await their
    /// holders' approval.
    #[serde(rename = "project.created")]
    ProjectCreated {
        /// Its name.
        project: String,
        /// What it is for.
        purpose: String,
        /// Its members.
        members: Vec<String>,
        /// The datasets it asks for.
        datasets: Vec<String>,
    },
    /// An administrator changed a project's members or datasets.
    #[serde(rename = "project.changed")]
    ProjectChanged {
        /// The project.
        project: String,
        /// Members added.
        added_members: Vec<String>,
        /// Members removed.
        removed_members: Vec<String>,
        /// Datasets asked for (awaiting approval).
        added_datasets: Vec<String>,
        /// Datasets taken out, with their approvals.
        removed_datasets: Vec<String>,
    },
    /// A dataset's holder approved its use in a project.
    #[serde(rename = "project.dataset_approved")]
    DatasetApproved {
        /// The project.
        project: String,
        /// The dataset.
        dataset: String,
        /// The organisation that holds it.
        organisation: String,
    },
    /// A dataset's holder withdrew its approval.
    #[serde(rename = "project.approval_withdrawn")]
    ApprovalWithdrawn {
        /// The project.
        project: String,
        /// The dataset.
        dataset: String,
        /// The organisation that holds it.
        organisation: String,
    },
    /// An administrator closed a project, for good.
    #[serde(rename = "project.closed")]
    ProjectClosed {
        /// The project.
        project: String,
    },
    /// A caller was refused an action it may not take.
    #[serde(rename = "access.denied")]
    AccessDenied {
        /// The gRPC method.
        method: String,
        /// Why.
        reason: String,
    },
    /// An entry written before the log was typed (store schema 5 and
    /// earlier), kept as it was.
    #[serde(rename = "legacy")]
    Legacy {
        /// The action name then used.
        action: String,
        /// Its details, the JSON text as stored then.
        detail: String,
    },
}

/// What the log records of a code list: its shape, never its codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeListShape {
    /// The list's name.
    pub name: String,
    /// Its version.
    pub version: u32,
    /// The parent list and version, if any (`name@version`).
    pub parent: Option<String>,
    /// How many codes it has.
    pub codes: u64,
}

/// An upload that stored nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadFailure {
    /// The dataset.
    pub dataset: String,
    /// The organisation that holds it (empty if the dataset is unknown).
    pub organisation: String,
    /// Why (`invalid_rows`, `idle_timeout`, `upload_limit`, …).
    pub reason: String,
    /// Rows rejected, when rows were the reason.
    pub rows_rejected: u64,
    /// File bytes received.
    pub bytes: u64,
    /// As in [`Event::UploadAccepted`], of the bytes received.
    pub content_digest: String,
}

/// A key, by purpose and version (never its bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRef {
    /// `hash`, `storage`, `signing` or `audit`.
    pub purpose: String,
    /// The key's version.
    pub version: u32,
}

impl Event {
    /// The event's kind, as in its encoding.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ServerStarted { .. } => "server.started",
            Event::ServerStopped { .. } => "server.stopped",
            Event::DatasetCreated { .. } => "dataset.created",
            Event::DatasetDeleted { .. } => "dataset.deleted",
            Event::CodeListCreated(_) => "code_list.created",
            Event::CodeListUnchanged(_) => "code_list.unchanged",
            Event::CodeListRefused { .. } => "code_list.refused",
            Event::UploadAccepted { .. } => "upload.accepted",
            Event::UploadReplayed { .. } => "upload.replayed",
            Event::UploadChecked { .. } => "upload.checked",
            Event::UploadRefused(_) => "upload.refused",
            Event::UploadRejected(_) => "upload.rejected",
            Event::UploadBroken(_) => "upload.broken",
            Event::LinkageReleased { .. } => "linkage.released",
            Event::TableReleased { .. } => "table.released",
            Event::TableRefused { .. } => "table.refused",
            Event::KeyCreated(_) => "key.created",
            Event::KeyRecorded(_) => "key.recorded",
            Event::KeySealed(_) => "key.sealed",
            Event::KeyRotated { .. } => "key.rotated",
            Event::ProjectCreated { .. } => "project.created",
            Event::ProjectChanged { .. } => "project.changed",
            Event::DatasetApproved { .. } => "project.dataset_approved",
            Event::ApprovalWithdrawn { .. } => "project.approval_withdrawn",
            Event::ProjectClosed { .. } => "project.closed",
            Event::AccessDenied { .. } => "access.denied",
            Event::Legacy { .. } => "legacy",
        }
    }

    /// The dataset the event is about, if it is about one.
    pub fn dataset(&self) -> Option<&str> {
        match self {
            Event::DatasetCreated { dataset, .. }
            | Event::DatasetDeleted { dataset, .. }
            | Event::UploadAccepted { dataset, .. }
            | Event::UploadReplayed { dataset, .. }
            | Event::UploadChecked { dataset, .. }
            | Event::DatasetApproved { dataset, .. }
            | Event::ApprovalWithdrawn { dataset, .. } => Some(dataset),
            Event::UploadRefused(f) | Event::UploadRejected(f) | Event::UploadBroken(f) => {
                Some(&f.dataset)
            }
            _ => None,
        }
    }

    /// The datasets the event involves (for filtering by dataset).
    pub fn datasets(&self) -> Vec<&str> {
        match self {
            Event::LinkageReleased { datasets, .. }
            | Event::TableReleased { datasets, .. }
            | Event::ProjectCreated { datasets, .. } => {
                datasets.iter().map(String::as_str).collect()
            }
            Event::ProjectChanged {
                added_datasets,
                removed_datasets,
                ..
            } => added_datasets
                .iter()
                .chain(removed_datasets)
                .map(String::as_str)
                .collect(),
            other => other.dataset().into_iter().collect(),
        }
    }

    /// The release record the event created, if it created one.
    pub fn release(&self) -> Option<i64> {
        match self {
            Event::LinkageReleased { release, .. } | Event::TableReleased { release, .. } => {
                Some(*release)
            }
            _ => None,
        }
    }

    /// The project the event belongs to, if any.
    pub fn project(&self) -> Option<&str> {
        match self {
            Event::TableReleased { project, .. }
            | Event::TableRefused { project, .. }
            | Event::ProjectCreated { project, .. }
            | Event::ProjectChanged { project, .. }
            | Event::DatasetApproved { project, .. }
            | Event::ApprovalWithdrawn { project, .. }
            | Event::ProjectClosed { project } => Some(project),
            Event::LinkageReleased { project, .. } => project.as_deref(),
            _ => None,
        }
    }
}

/// Why an entry could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// Serialisation failed (never stored as `null`).
    #[error("the log entry could not be encoded: {0}")]
    Encode(serde_json::Error),
    /// The bytes are not an entry.
    #[error("not a log entry: {0}")]
    Decode(serde_json::Error),
    /// An encoding version this ddc does not know.
    #[error("log entry encoding version {0} is not known (this ddc writes {ENCODING_VERSION})")]
    Version(u32),
    /// The bytes decode, but are not the canonical encoding of what they
    /// decode to (reordered keys, whitespace, another number form).
    #[error("the log entry is not in canonical form")]
    NotCanonical,
}

/// The canonical bytes of `entry`.
pub fn encode(entry: &Entry) -> Result<Vec<u8>, EntryError> {
    // Through a Value: its maps are ordered by key, which sorts every
    // object, nested request and policy included.
    let value = serde_json::to_value(entry).map_err(EntryError::Encode)?;
    serde_json::to_vec(&value).map_err(EntryError::Encode)
}

/// The entry whose canonical encoding is `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
    let version: Versioned = serde_json::from_slice(bytes).map_err(EntryError::Decode)?;
    if version.v != ENCODING_VERSION {
        return Err(EntryError::Version(version.v));
    }
    let entry: Entry = serde_json::from_slice(bytes).map_err(EntryError::Decode)?;
    if encode(&entry)? != bytes {
        return Err(EntryError::NotCanonical);
    }
    Ok(entry)
}

#[derive(Deserialize)]
struct Versioned {
    v: u32,
}

#[cfg(test)]
mod tests;
