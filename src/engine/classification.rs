//! Code lists in the engine: publishing a version with its log entry,
//! reading them, and pinning a dataset's columns to list versions.
//!
//! The registry is an immutable snapshot behind an `Arc`, replaced whole
//! after a commit: an upload or a table holds the snapshot it started with.

use std::sync::Arc;
use std::time::SystemTime;

use super::{entry, Engine, EngineError};
use crate::audit::event::{CodeListShape, Event};
use crate::auth::Caller;
use crate::classification::{Classifications, CodeList, CodeListDraft, CodeListId, Prepared};
use crate::field_path::FieldPath;
use crate::schema::{schema_column, DatasetDef};

impl Engine {
    /// Publishes a code list: a new version if the draft differs from the
    /// latest, else the latest (stored nothing, audited as unchanged). A
    /// refused draft is audited with the fields at fault.
    pub fn create_code_list(
        &self,
        caller: &Caller,
        draft: CodeListDraft,
        now: SystemTime,
    ) -> Result<Arc<CodeList>, EngineError> {
        // Writers hold the store lock, so the registry read here stays current.
        let mut store = self.lock_store();
        let lists = self.classifications();
        let prepared = match lists.prepare(&draft) {
            Ok(prepared) => prepared,
            Err(problems) => {
                // The fields at fault, never the draft's name or codes.
                let fields: Vec<String> = problems.iter().map(|p| p.field.to_string()).collect();
                let event = Event::CodeListRefused { fields };
                store.append_entry(&entry(caller, now, event))?;
                return Err(EngineError::InvalidCodeList(problems));
            }
        };
        let event = match &prepared {
            Prepared::New(list) => Event::CodeListCreated(shape(list)),
            Prepared::Unchanged(list) => Event::CodeListUnchanged(shape(list)),
        };
        let entry = entry(caller, now, event);
        match prepared {
            Prepared::Unchanged(list) => {
                store.append_entry(&entry)?;
                Ok(list)
            }
            Prepared::New(list) => {
                store.create_code_list(&list, &entry)?;
                let mut next = (*lists).clone();
                let list = next.insert(list);
                self.write().classifications = Arc::new(next);
                Ok(list)
            }
        }
    }

    /// The latest version of every code list, by name.
    pub fn code_lists(&self) -> Vec<Arc<CodeList>> {
        self.classifications().latest_all().cloned().collect()
    }

    /// Version `version` of the list `name` (the latest if `None`); a
    /// missing list is reported at `name`, a missing version at `version`,
    /// the fields of `GetCodeListRequest`.
    pub fn code_list(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Arc<CodeList>, EngineError> {
        let lists = self.classifications();
        let not_found = |field| EngineError::CodeListNotFound {
            field: FieldPath::new(field),
        };
        let latest = lists.latest(name).ok_or_else(|| not_found("name"))?;
        match version {
            None => Ok(latest.clone()),
            Some(v) => lists
                .get(&CodeListId {
                    name: name.to_owned(),
                    version: v,
                })
                .cloned()
                .ok_or_else(|| not_found("version")),
        }
    }

    /// A snapshot of every code list version (for tables and uploads).
    pub(crate) fn classifications(&self) -> Arc<Classifications> {
        Arc::clone(&self.read().classifications)
    }
}

/// `def` with each classified column pinned: version 0 to the list's
/// latest, another version only if it exists. A missing list is reported
/// at `schema.columns[i].categorical.code_list`, without its name.
pub(super) fn pin_code_lists(
    def: DatasetDef,
    lists: &Classifications,
) -> Result<DatasetDef, EngineError> {
    def.with_pinned_code_lists(|id| match id.version {
        0 => lists.latest(&id.name).map(|l| l.id().version),
        _ => lists.get(id).map(|l| l.id().version),
    })
    .map_err(|i| EngineError::CodeListNotFound {
        field: schema_column(i).field("categorical").field("code_list"),
    })
}

/// What the audit trail records of a list: never more than its shape, as
/// the codes themselves are in the list.
fn shape(list: &CodeList) -> CodeListShape {
    CodeListShape {
        name: list.id().name.clone(),
        version: list.id().version,
        parent: list.parent().map(|p| format!("{}@{}", p.name, p.version)),
        codes: list.codes().len() as u64,
    }
}
