//! The pseudonym → number indexes of persons and households. Only uploads
//! resolve pseudonyms (holding the store lock), so the indexes live apart
//! from the state that tables read. They are built on a thread of their
//! own when the engine opens: tables are served while the index of the
//! country's pseudonyms is still being built, and the first upload waits
//! for it.

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

type Ordered = (Vec<Pseudonym>, Vec<Pseudonym>);

impl Pseudonyms {
    /// Starts building the indexes of `persons` and `households` (each in
    /// number order) on a thread of their own; builds them here if no
    /// thread can be started.
    pub(super) fn build(persons: Vec<Pseudonym>, households: Vec<Pseudonym>) -> Self {
        let input: Arc<Mutex<Option<Ordered>>> = Arc::new(Mutex::new(Some((persons, households))));
        let take = |input: &Mutex<Option<Ordered>>| {
            input
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .unwrap_or_default()
        };
        let theirs = Arc::clone(&input);
        let spawned = std::thread::Builder::new()
            .name("ddc-index".into())
            .spawn(move || {
                let (persons, households) = take(&theirs);
                Indexes::of(&persons, &households)
            });
        match spawned {
            Ok(handle) => Pseudonyms {
                building: Some(handle),
                ready: Indexes::default(),
            },
            Err(e) => {
                tracing::warn!(error = %e, "no thread for the pseudonym index; building it now");
                let (persons, households) = take(&input);
                Pseudonyms {
                    building: None,
                    ready: Indexes::of(&persons, &households),
                }
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
    }
}
