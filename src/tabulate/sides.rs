//! A cache of datasets' sides of a table's cells (see [`super::prints`]).
//! A side depends only on one dataset's rows, its own filters and its own
//! grouping dimensions, so a table that differs from an earlier one in
//! another dataset's part, or repeats it, reuses the side instead of
//! scanning the dataset again (18 million rows for the CBS persons).
//! Entries are keyed by the dataset's generation, which changes whenever
//! its rows do.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use super::Axis;
use crate::ledger::SetHash;

/// What one side is computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SideKey {
    /// [`crate::columns::DatasetData::generation`]; 0 is never cached.
    pub(super) generation: u64,
    /// Column and allowed codes of each of the dataset's filters.
    pub(super) filters: Vec<(usize, Vec<bool>)>,
    /// Column, table position of each code, and axis of each of the
    /// dataset's grouping dimensions, in query order.
    pub(super) dims: Vec<(usize, Vec<u32>, Axis)>,
}

/// Recently computed sides, at most `capacity` of them (least recently
/// used first out). Shared by all tables; cheap to lock (a lookup).
#[derive(Debug)]
pub struct SideCache {
    entries: Mutex<VecDeque<(SideKey, Arc<Vec<SetHash>>)>>,
    capacity: usize,
}

impl SideCache {
    /// A cache of at most `capacity` sides (each a few kilobytes).
    pub fn new(capacity: usize) -> Self {
        SideCache {
            entries: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }

    /// The side computed for `key`, if it is kept.
    pub(super) fn get(&self, key: &SideKey) -> Option<Arc<Vec<SetHash>>> {
        if key.generation == 0 {
            return None;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let at = entries.iter().position(|(k, _)| k == key)?;
        let entry = entries.remove(at)?;
        let hashes = Arc::clone(&entry.1);
        entries.push_back(entry);
        Some(hashes)
    }

    /// Keeps a computed side.
    pub(super) fn put(&self, key: SideKey, hashes: Arc<Vec<SetHash>>) {
        if key.generation == 0 || self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.iter().any(|(k, _)| *k == key) {
            return;
        }
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back((key, hashes));
    }

    /// Drops every side of the dataset of generation `generation`.
    pub fn forget(&self, generation: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|(k, _)| k.generation != generation);
    }

    /// Sides kept.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no side is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(generation: u64, column: usize) -> SideKey {
        SideKey {
            generation,
            filters: Vec::new(),
            dims: vec![(column, vec![0, 1], Axis::flat(2))],
        }
    }

    #[test]
    fn the_least_recently_used_side_goes_first_and_generation_0_never_stays() {
        let cache = SideCache::new(2);
        // Told apart by their lengths.
        let side = |n: usize| Arc::new(vec![SetHash::default(); n]);
        cache.put(key(1, 0), side(1));
        cache.put(key(1, 1), side(2));
        assert_eq!(cache.get(&key(1, 0)).map(|s| s.len()), Some(1));
        cache.put(key(2, 0), side(3)); // evicts (1, 1), used least recently
        assert!(cache.get(&key(1, 1)).is_none());
        assert_eq!(cache.get(&key(1, 0)).map(|s| s.len()), Some(1));
        assert_eq!(cache.get(&key(2, 0)).map(|s| s.len()), Some(3));
        cache.put(key(0, 5), side(4));
        assert!(cache.get(&key(0, 5)).is_none());
        assert_eq!(cache.len(), 2);
        cache.forget(2);
        assert!(cache.get(&key(2, 0)).is_none());
        assert_eq!(cache.len(), 1);
    }
}
