//! The pseudonym → number indexes of persons and households. Only uploads
//! resolve pseudonyms, holding the lock of these indexes (which orders
//! uploads; they take the store lock after it, to write), so the indexes
//! live apart from the state that tables read.
//!
//! Only uploads need them, and at national scale they are a gigabyte (26
//! million entries), so they are there only while an upload is open: an
//! upload that begins starts building them from a read of the store, on a
//! thread of their own, while its file streams in; its commit waits for
//! them. A commit adds its new persons to them (on a thread, after the
//! commit) when another upload is open, and drops them when it is the last.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::link::PseudonymIndex;
use crate::pseudonym::Pseudonym;
use crate::sealing::{Sealed, StorageKey};

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

/// The indexes: absent, being built, or ready.
#[derive(Debug, Default)]
pub(super) struct Pseudonyms {
    building: Option<JoinHandle<Indexes>>,
    ready: Option<Indexes>,
}

impl Pseudonyms {
    /// Starts building the indexes of `persons` and `households` (each in
    /// number order) on a thread of their own.
    #[cfg(test)]
    pub(super) fn build(persons: Vec<Pseudonym>, households: Vec<Pseudonym>) -> Self {
        let mut built = Pseudonyms::default();
        built.aside((persons, households), |(persons, households)| {
            Indexes::of(&persons, &households)
        });
        built
    }

    /// Starts building the indexes of sealed `persons` and `households`
    /// (each in number order), unsealed under `key`, on a thread of their
    /// own.
    pub(super) fn build_sealed(
        persons: Vec<Sealed>,
        households: Vec<Sealed>,
        key: Arc<StorageKey>,
    ) -> Self {
        let mut built = Pseudonyms::default();
        built.aside(
            (persons, households, key),
            |(mut persons, mut households, key)| {
                key.unseal_in_place(&mut persons);
                key.unseal_in_place(&mut households);
                let open = |sealed: Vec<Sealed>| -> Vec<Pseudonym> {
                    sealed.into_iter().map(Pseudonym::from_bytes).collect()
                };
                Indexes::of(&open(persons), &open(households))
            },
        );
        built
    }

    /// Whether there are no indexes, built or being built.
    pub(super) fn is_absent(&self) -> bool {
        self.building.is_none() && self.ready.is_none()
    }

    /// Drops the indexes (a build in progress finishes unseen).
    pub(super) fn release(&mut self) {
        *self = Pseudonyms::default();
    }

    /// Adds the new persons and households of a committed upload, on a
    /// thread of their own. Nothing to add to when the indexes are absent.
    pub(super) fn extend(&mut self, persons: Vec<Pseudonym>, households: Vec<Pseudonym>) {
        let Some(indexes) = self.get().map(std::mem::take) else {
            return;
        };
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
        self.ready = None;
        match spawned {
            Ok(handle) => self.building = Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "no thread for the pseudonym index; building it now");
                self.ready = Some(take(&input).map(work).unwrap_or_default());
            }
        }
    }

    /// The indexes, waiting for them if they are being built; `None` when
    /// they are absent.
    pub(super) fn get(&mut self) -> Option<&mut Indexes> {
        if let Some(handle) = self.building.take() {
            self.ready = Some(match handle.join() {
                Ok(indexes) => indexes,
                Err(panic) => std::panic::resume_unwind(panic),
            });
        }
        self.ready.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_indexes_built_aside_number_pseudonyms_in_order() {
        let p = |b: u8| Pseudonym::from_bytes([b; 16]);
        let mut built = Pseudonyms::build(vec![p(1), p(2), p(3)], vec![p(9)]);
        let indexes = built.get().unwrap();
        let r = indexes.persons.resolve(&[p(3), p(4), p(1)]).unwrap();
        assert_eq!(r.numbers, [2, 3, 0]);
        assert_eq!(indexes.households.len(), 1);
        // A second call finds them ready.
        assert_eq!(built.get().unwrap().persons.len(), 3);
        // New entries are added aside, and there when next asked for.
        built.extend(vec![p(4)], vec![p(8)]);
        let indexes = built.get().unwrap();
        assert_eq!(indexes.persons.resolve(&[p(4)]).unwrap().numbers, [3]);
        assert_eq!(indexes.households.len(), 2);
        // Released, they are absent, and there is nothing to extend.
        built.release();
        assert!(built.is_absent() && built.get().is_none());
        built.extend(vec![p(5)], Vec::new());
        assert!(built.is_absent());
    }

    #[test]
    fn indexes_built_from_sealed_pseudonyms_hold_the_unsealed_ones() {
        let key = StorageKey::new(
            &crate::keys::PseudonymKey::from_bytes([4; 32]),
            crate::keys::KeyVersion(1),
        );
        let p = |b: u8| Pseudonym::from_bytes([b; 16]);
        let sealed: Vec<Sealed> = [p(1), p(2)].iter().map(|q| key.seal(q)).collect();
        let mut built = Pseudonyms::build_sealed(sealed, vec![key.seal(&p(7))], Arc::new(key));
        let indexes = built.get().unwrap();
        assert_eq!(
            indexes.persons.resolve(&[p(2), p(1)]).unwrap().numbers,
            [1, 0]
        );
        assert_eq!(indexes.households.resolve(&[p(7)]).unwrap().numbers, [0]);
    }
}
