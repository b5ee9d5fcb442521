//! The engine's side of the release ledger: the store and the in-memory
//! ledger locked together from the check of a population to its record, so
//! that two requests cannot slip past each other.

use std::sync::MutexGuard;

use super::{Engine, EngineError};
use crate::ledger::{check, LedgerEntry, Population};
use crate::store::{AuditEntry, PopulationRecord, ReleaseRecord, Store};

/// The store and the ledger, locked (in that order).
pub(super) struct LedgerGuard<'a> {
    pub(super) store: MutexGuard<'a, Store>,
    ledger: MutexGuard<'a, Vec<LedgerEntry>>,
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
    /// Whether `population` may be released: always, with the ledger off;
    /// otherwise unless it differs from an earlier one over the same
    /// datasets by 1 to threshold − 1 persons.
    pub(super) fn admits(&mut self, population: &Population<'_>) -> Result<bool, EngineError> {
        if !self.enabled {
            return Ok(true);
        }
        let started = std::time::Instant::now();
        let store = &self.store;
        let verdict = check(&self.ledger, population, self.threshold, |p| {
            store.release_population(p)
        })?;
        tracing::info!(
            ledger_ms = started.elapsed().as_millis() as u64,
            populations = self.ledger.len(),
            "ledger checked"
        );
        Ok(verdict.is_ok())
    }

    /// Stores a release with its populations and audit entry, and adds the
    /// populations to the ledger. Returns the release's number.
    pub(super) fn commit(
        &mut self,
        record: &ReleaseRecord,
        populations: &[&Population<'_>],
        entry: &AuditEntry,
    ) -> Result<i64, EngineError> {
        let stored: Vec<PopulationRecord<'_>> = populations
            .iter()
            .map(|p| PopulationRecord {
                datasets: &p.datasets,
                persons: p.persons,
                digest: &p.digest,
                sides: &p.sides,
            })
            .collect();
        let (release, ids) = self.store.record_release(record, &stored, entry)?;
        for (p, id) in populations.iter().zip(ids) {
            self.ledger.push(p.entry(id));
        }
        Ok(release)
    }
}
