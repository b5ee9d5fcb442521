//! The engine's side of the release ledger: the store and the in-memory
//! ledger locked together from the check of a table's cells to their
//! record, so that two requests cannot slip past each other.

use std::sync::MutexGuard;

use super::{Engine, EngineError};
use crate::audit::event::Entry;
use crate::audit::Receipt;
use crate::ledger::{Ledger, LedgerCell};
use crate::store::{ReleaseCells, ReleaseRecord};

/// The store and the ledger, locked (in that order).
pub(super) struct LedgerGuard<'a> {
    pub(super) store: MutexGuard<'a, super::keys::Durable>,
    ledger: MutexGuard<'a, Ledger>,
    threshold: u64,
    enabled: bool,
}

impl Engine {
    pub(super) fn lock_ledger(&self) -> LedgerGuard<'_> {
        let store = self.lock_store();
        let ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        LedgerGuard {
            store,
            ledger,
            threshold: self.policy.threshold,
            enabled: self.policy.release_ledger,
        }
    }
}

impl LedgerGuard<'_> {
    /// Whether a table of `cells` over `datasets` may be released: always,
    /// with the ledger off; otherwise unless one of its cells is near an
    /// earlier one (see [`Ledger::check`]).
    pub(super) fn admits(&self, datasets: &str, cells: &[LedgerCell]) -> bool {
        if !self.enabled {
            return true;
        }
        let started = std::time::Instant::now();
        let verdict = self.ledger.check(datasets, cells, self.threshold);
        tracing::info!(
            ledger_us = started.elapsed().as_micros() as u64,
            cells = cells.len(),
            known = self.ledger.len(),
            "ledger checked"
        );
        verdict.is_ok()
    }

    /// Stores a release with its cells and log entry (made from the
    /// release's number), and adds the cells to the ledger. Returns the
    /// release's number and the entry's receipt.
    pub(super) fn commit(
        &mut self,
        record: &ReleaseRecord,
        cells: &[ReleaseCells<'_>],
        entry: impl FnOnce(i64) -> Entry,
    ) -> Result<(i64, Receipt), EngineError> {
        let release = self.store.record_release(record, cells, entry)?;
        for c in cells {
            self.ledger.insert(c.datasets, c.cells);
        }
        Ok(release)
    }
}
