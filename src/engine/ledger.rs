//! The engine's side of the release ledger: the in-memory ledger checked
//! and extended in one step, so that two requests cannot slip past each
//! other, and releases committed to the store in groups.
//!
//! # Group commit
//!
//! A table's release record and its log entry must be durable before the
//! table is returned, and every durable commit waits for the disk. A
//! release therefore joins a queue and then takes the store lock; whoever
//! gets the lock first writes everything queued by then in one transaction
//! (each release with its own number, log entry and signed checkpoint),
//! hands every waiter its outcome, and lets go. Those who queued while it
//! wrote find their outcome when they get the lock, or lead the next group.
//! Under load a commit costs one disk sync per group instead of one per
//! table; alone, a release commits at once as before.
//!
//! A table's cells join the in-memory ledger when they are admitted,
//! before their release is durable, so that a request checked meanwhile
//! sees them. A release whose commit fails leaves its cells there until
//! the next restart: the ledger can then only refuse more, never less.

use std::sync::{Arc, Mutex, MutexGuard};

use super::{Engine, EngineError};
use crate::audit::event::Entry;
use crate::audit::Receipt;
use crate::ledger::{Ledger, LedgerCell};
use crate::store::{PendingRelease, ReleaseCells, ReleaseRecord, StoreError};

/// What a queued release learns: its number and receipt, or why its group
/// failed.
type Outcome = Arc<Mutex<Option<Result<(i64, Receipt), StoreError>>>>;

/// Releases waiting for the next group commit.
#[derive(Debug, Default)]
pub(super) struct ReleaseQueue {
    waiting: Mutex<Vec<(PendingRelease, Outcome)>>,
}

/// The store and the ledger, locked (in that order).
pub(super) struct LedgerGuard<'a> {
    pub(super) store: MutexGuard<'a, super::keys::Durable>,
    ledger: MutexGuard<'a, Ledger>,
    threshold: u64,
    enabled: bool,
}

impl Engine {
    /// Whether a table of `cells` over `datasets` may be released (see
    /// [`LedgerGuard::admits`]); if so, its cells join the ledger at once.
    pub(super) fn admit(&self, datasets: &str, cells: &[LedgerCell]) -> bool {
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let admitted = admits(
            &ledger,
            self.policy.release_ledger,
            self.policy.threshold,
            datasets,
            cells,
        );
        if admitted {
            ledger.insert(datasets, cells);
        }
        admitted
    }

    /// Stores `release` durably, in the next group commit (see the module
    /// docs); returns its number and its log entry's receipt.
    pub(super) fn commit_release(
        &self,
        release: PendingRelease,
    ) -> Result<(i64, Receipt), EngineError> {
        let outcome: Outcome = Arc::default();
        lock(&self.releases.waiting).push((release, Arc::clone(&outcome)));
        let mut store = self.lock_store();
        if let Some(done) = lock(&outcome).take() {
            return Ok(done?);
        }
        // Nobody has written this release yet, so it is still queued: this
        // caller leads the group of everything queued by now.
        let group = std::mem::take(&mut *lock(&self.releases.waiting));
        let (releases, outcomes): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        let size = releases.len();
        let started = std::time::Instant::now();
        match store.record_releases(releases) {
            Ok(stored) => {
                for (outcome, stored) in outcomes.iter().zip(stored) {
                    *lock(outcome) = Some(Ok(stored));
                }
            }
            Err(e) => {
                let reason = e.to_string();
                for outcome in &outcomes {
                    *lock(outcome) = Some(Err(StoreError::GroupFailed(reason.clone())));
                }
            }
        }
        drop(store);
        tracing::info!(
            releases = size,
            commit_us = started.elapsed().as_micros() as u64,
            "release group committed"
        );
        let done = lock(&outcome).take();
        // The leader's own release was in the group it wrote.
        Ok(done
            .unwrap_or_else(|| Err(StoreError::GroupFailed("release not in its group".into())))?)
    }

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
        admits(&self.ledger, self.enabled, self.threshold, datasets, cells)
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

/// Whether `ledger` admits a table of `cells` over `datasets`: always when
/// it is off (`enabled` false), otherwise unless one of its cells is near
/// an earlier one (see [`Ledger::check`]).
fn admits(
    ledger: &Ledger,
    enabled: bool,
    threshold: u64,
    datasets: &str,
    cells: &[LedgerCell],
) -> bool {
    if !enabled {
        return true;
    }
    let started = std::time::Instant::now();
    let verdict = ledger.check(datasets, cells, threshold);
    tracing::info!(
        ledger_us = started.elapsed().as_micros() as u64,
        cells = cells.len(),
        known = ledger.len(),
        "ledger checked"
    );
    verdict.is_ok()
}

/// Locks `m`, also after a panic elsewhere (what it guards is replaced
/// whole, never left half-changed).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
