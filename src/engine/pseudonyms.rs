//! The pseudonym → number indexes of persons and households. Only uploads
//! resolve pseudonyms, holding the lock of these indexes (which orders
//! uploads; they take the store lock after it, to write), so the indexes
//! live apart from the state that tables read. They are built on a thread of their
//! own when the engine opens: tables are served while the index of the
//! country's pseudonyms is still being built, and the first upload waits
//! for it. An upload's new persons are likewise added after its commit
//! (the commit is durable, and a restart rebuilds the indexes from the
//! store), so its receipt does not wait for millions of insertions; the
//! next upload waits for them.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::link::PseudonymIndex;
use crate::pseudonym::Pseudonym;

/// Both indexes.
#[derive(Debug, Default)]
pub(super) struct Indexes {
    /// Person pseudonym → person number.
    pub(super) persons: PseudonymIndex,
    /// Household pseudonym → household number.
    pub(super) households: PseudonymIndex,
}

impl Indexes {
    fn of(persons: &[Pseudonym], households: &[Pseudonym]) -> Self {
        Indexes {
            persons: PseudonymIndex::from_ordered(persons),
            households: PseudonymIndex::from_ordered(households),
        }
    }
}

/// The indexes, ready or being built.
#[derive(Debug, Default)]
pub(super) struct Pseudonyms {
    building: Option<JoinHandle<Indexes>>,
    ready: Indexes,
}

impl Pseudonyms {
    /// Starts building the indexes of `persons` and `households` (each in
    /// number order) on a thread of their own.
    pub(super) fn build(persons: Vec<Pseudonym>, households: Vec<Pseudonym>) -> Self {
        let mut built = Pseudonyms::default();
        built.aside((persons, households), |(persons, households)| {
            Indexes::of(&persons, &households)
        });
        built
    }

    /// Adds the new persons and households of a committed upload, on a
    /// thread of their own.
    pub(super) fn extend(
        &mut self,
        persons: Vec<(Pseudonym, u32)>,
        households: Vec<(Pseudonym, u32)>,
    ) {
        let indexes = std::mem::take(self.get());
        self.aside(
            (indexes, persons, households),
            |(mut indexes, persons, households)| {
                indexes.persons.apply(&persons);
                indexes.households.apply(&households);
                indexes
            },
        );
    }

    /// Makes the indexes `work(input)` on a thread of their own; here if no
    /// thread can be started.
    fn aside<T: Send + 'static>(&mut self, input: T, work: fn(T) -> Indexes) {
        let input = Arc::new(Mutex::new(Some(input)));
        let take =
            |input: &Mutex<Option<T>>| input.lock().unwrap_or_else(PoisonError::into_inner).take();
        let theirs = Arc::clone(&input);
        let spawned = std::thread::Builder::new()
            .name("ddc-index".into())
            .spawn(move || take(&theirs).map(work).unwrap_or_default());
        match spawned {
            Ok(handle) => self.building = Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "no thread for the pseudonym index; building it now");
                self.ready = take(&input).map(work).unwrap_or_default();
            }
        }
    }

    /// The indexes, waiting for them if they are still being built.
    pub(super) fn get(&mut self) -> &mut Indexes {
        if let Some(handle) = self.building.take() {
            self.ready = match handle.join() {
                Ok(indexes) => indexes,
                Err(panic) => std::panic::resume_unwind(panic),
            };
        }
        &mut self.ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_indexes_built_aside_number_pseudonyms_in_order() {
        let p = |b: u8| Pseudonym::from_bytes([b; 16]);
        let mut built = Pseudonyms::build(vec![p(1), p(2), p(3)], vec![p(9)]);
        let indexes = built.get();
        let r = indexes.persons.resolve(&[p(3), p(4), p(1)]).unwrap();
        assert_eq!(r.numbers, [2, 3, 0]);
        assert_eq!(indexes.households.len(), 1);
        // A second call finds them ready.
        assert_eq!(built.get().persons.len(), 3);
        // New entries are added aside, and there when next asked for.
        built.extend(vec![(p(4), 3)], vec![(p(8), 1)]);
        let indexes = built.get();
        assert_eq!(indexes.persons.resolve(&[p(4)]).unwrap().numbers, [3]);
        assert_eq!(indexes.households.len(), 2);
    }
}
