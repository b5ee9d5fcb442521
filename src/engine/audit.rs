//! The log and the release history in the engine: what auditors read, and
//! the entries the server writes of its own start and stop.
//!
//! Reads take the store lock briefly (one query each) and create nothing:
//! showing a release is not a release.

use std::sync::Arc;
use std::time::SystemTime;

use super::{entry, Engine, EngineError};
use crate::access::{Action, Catalogue, Denied};
use crate::audit::event::{self, Event};
use crate::audit::merkle::Hash;
use crate::audit::note::Verifier;
use crate::auth::Caller;
use crate::project::Project;
use crate::store::{LogFilter, StoredEntry, StoredRelease};

/// What the release list shows of one release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseSummary {
    /// The release's number.
    pub id: i64,
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// Who asked.
    pub actor: String,
    /// The project.
    pub project: String,
    /// `table` or `linkage`.
    pub kind: &'static str,
    /// The datasets it used (empty for a release recorded before the typed log).
    pub datasets: Vec<String>,
    /// Cells or figures.
    pub cells: u64,
    /// Of those, withheld.
    pub withheld: u64,
    /// Its log entry, if it has one.
    pub log_index: Option<u64>,
    /// The request as JSON, as the analyst worded it.
    pub request: String,
}

/// One release with everything stored of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseDetail {
    /// Its summary.
    pub summary: ReleaseSummary,
    /// The request as JSON.
    pub request: String,
    /// The policy as JSON.
    pub policy: String,
    /// The released cells as JSON.
    pub cells: String,
}

impl Engine {
    /// The log entries `filter` selects.
    pub fn log_entries(&self, filter: &LogFilter) -> Result<Vec<StoredEntry>, EngineError> {
        Ok(self.lock_store().log_entries(filter)?)
    }

    /// The latest signed checkpoint, if the log has one.
    pub fn checkpoint(&self) -> Result<Option<String>, EngineError> {
        Ok(self.lock_store().latest_checkpoint()?)
    }

    /// The key the log's checkpoints verify under.
    pub fn log_verifier(&self) -> &Verifier {
        &self.log_verifier
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, EngineError> {
        Ok(self.lock_store().inclusion_proof(index, size)?)
    }

    /// The consistency proof between the trees of `old` and `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, EngineError> {
        Ok(self.lock_store().consistency_proof(old, new)?)
    }

    /// Every release, oldest first, narrowed to a project and a dataset.
    pub fn releases(
        &self,
        project: Option<&str>,
        dataset: Option<&str>,
    ) -> Result<Vec<ReleaseSummary>, EngineError> {
        let stored = self.lock_store().releases(project)?;
        Ok(stored
            .iter()
            .map(summarise)
            .filter(|s| dataset.is_none_or(|d| s.datasets.iter().any(|x| x == d)))
            .collect())
    }

    /// One release as recorded, if it exists.
    pub fn release(&self, id: i64) -> Result<Option<ReleaseDetail>, EngineError> {
        let stored = self.lock_store().release(id)?;
        Ok(stored.map(|r| ReleaseDetail {
            summary: summarise(&r),
            request: r.request,
            policy: r.policy,
            cells: r.cells,
        }))
    }

    /// The authorisation decision of `caller` taking `action`, over the
    /// datasets declared now. Pure apart from reading them.
    pub fn decide(&self, caller: &Caller, action: Action<'_>) -> Result<(), Denied> {
        crate::access::decide(caller, action, self)
    }

    /// Logs a denial and returns it as the error to answer with.
    pub fn log_denial(
        &self,
        caller: &Caller,
        action: &'static str,
        denied: Denied,
        now: SystemTime,
    ) -> EngineError {
        let event = Event::AccessDenied {
            method: action.to_owned(),
            reason: denied.0.to_owned(),
        };
        match self.lock_store().append_entry(&entry(caller, now, event)) {
            Ok(_) => EngineError::Denied(denied),
            Err(e) => e.into(),
        }
    }

    /// Logs the server's start.
    pub fn log_started(&self, now: SystemTime) -> Result<(), EngineError> {
        self.log_server_event(
            Event::ServerStarted {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            now,
        )
    }

    /// Logs the server's graceful stop.
    pub fn log_stopped(&self, now: SystemTime) -> Result<(), EngineError> {
        self.log_server_event(
            Event::ServerStopped {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            now,
        )
    }

    fn log_server_event(&self, event: Event, now: SystemTime) -> Result<(), EngineError> {
        let entry = entry(&Caller::server(), now, event);
        self.lock_store().append_entry(&entry)?;
        Ok(())
    }
}

impl Catalogue for Engine {
    fn holder(&self, dataset: &str) -> Option<String> {
        self.read()
            .datasets
            .get(dataset)
            .map(|l| l.info.def.organisation().to_owned())
    }

    fn project(&self, name: &str) -> Option<Arc<Project>> {
        self.read().projects.get(name).cloned()
    }

    fn projects(&self) -> Vec<Arc<Project>> {
        self.read().projects.values().cloned().collect()
    }
}

fn summarise(r: &StoredRelease) -> ReleaseSummary {
    let decoded = r
        .entry
        .as_ref()
        .and_then(|(i, bytes)| event::decode(bytes).ok().map(|e| (*i, e.event)));
    let mut summary = ReleaseSummary {
        id: r.id,
        at_ms: r.at_ms,
        actor: r.actor.clone(),
        project: r.project.clone(),
        kind: if r.project == "linkage" {
            "linkage"
        } else {
            "table"
        },
        datasets: Vec::new(),
        cells: 0,
        withheld: 0,
        log_index: decoded.as_ref().map(|(i, _)| *i),
        request: r.request.clone(),
    };
    match decoded.map(|(_, e)| e) {
        Some(Event::TableReleased {
            datasets,
            cells,
            statuses,
            ..
        }) => {
            summary.kind = "table";
            summary.datasets = datasets;
            summary.cells = cells;
            summary.withheld = statuses
                .iter()
                .filter(|(s, _)| s.starts_with("withheld"))
                .map(|(_, n)| n)
                .sum();
        }
        Some(Event::LinkageReleased {
            datasets,
            released,
            withheld,
            ..
        }) => {
            summary.kind = "linkage";
            summary.datasets = datasets;
            summary.cells = released + withheld;
            summary.withheld = withheld;
        }
        _ => {}
    }
    summary
}
