//! The person index: pseudonym → dense person number.
//!
//! Every pseudonym is resolved once, at upload, to a person number that
//! stays a person's identity inside ddc (pseudonyms change when keys
//! rotate; person numbers and record keys do not). Linking datasets is then
//! an array lookup on person numbers. This module does no I/O.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use crate::pseudonym::Pseudonym;

/// A person's number inside ddc: dense, from 0, assigned at first sight.
pub type PersonNo = u32;

/// Marks "no row" in a dense person → row array.
pub const NO_ROW: u32 = u32::MAX;

/// A hash map keyed by pseudonym. Pseudonyms are uniformly random keyed-hash
/// outputs that no outsider can choose, so their first bytes are the hash.
pub type PseudonymMap<V> = HashMap<Pseudonym, V, PseudonymHashBuilder>;

impl Hash for Pseudonym {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.as_bytes()[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// Builds [`PseudonymHasher`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct PseudonymHashBuilder;

impl BuildHasher for PseudonymHashBuilder {
    type Hasher = PseudonymHasher;
    fn build_hasher(&self) -> PseudonymHasher {
        PseudonymHasher(0)
    }
}

/// Passes a pseudonym's first eight bytes through as its hash.
#[derive(Debug)]
pub struct PseudonymHasher(u64);

impl Hasher for PseudonymHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only reached if a non-pseudonym key is used; fold it in safely.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Pseudonym → person number, plus each person's record key.
#[derive(Debug, Default)]
pub struct PersonIndex {
    by_pseudonym: PseudonymMap<PersonNo>,
    record_keys: Vec<u32>,
}

/// The person numbers for an upload's pseudonyms, with the persons not
/// seen before. Computed without changing the index.
#[derive(Debug)]
pub struct Resolution {
    /// One person number per pseudonym, in upload order.
    pub persons: Vec<PersonNo>,
    /// Pseudonyms new to the index, with the numbers they would get.
    pub new: Vec<(Pseudonym, PersonNo)>,
}

/// The person index is full (more than u32::MAX persons).
#[derive(Debug, thiserror::Error)]
#[error("the person index is full")]
pub struct IndexFull;

impl PersonIndex {
    /// Builds the index from stored `(pseudonym, person)` pairs and the
    /// record keys in person order.
    pub fn from_parts(pairs: Vec<(Pseudonym, PersonNo)>, record_keys: Vec<u32>) -> Self {
        let mut by_pseudonym =
            PseudonymMap::with_capacity_and_hasher(pairs.len(), PseudonymHashBuilder);
        by_pseudonym.extend(pairs);
        PersonIndex {
            by_pseudonym,
            record_keys,
        }
    }

    /// Number of persons known.
    pub fn persons(&self) -> usize {
        self.record_keys.len()
    }

    /// Each person's record key, by person number.
    pub fn record_keys(&self) -> &[u32] {
        &self.record_keys
    }

    /// Resolves pseudonyms (all distinct) to person numbers, numbering
    /// unknown ones after the existing persons.
    pub fn resolve(&self, pseudonyms: &[Pseudonym]) -> Result<Resolution, IndexFull> {
        let mut next = self.record_keys.len();
        let mut new = Vec::new();
        let mut persons = Vec::with_capacity(pseudonyms.len());
        for p in pseudonyms {
            let person = match self.by_pseudonym.get(p) {
                Some(&n) => n,
                None => {
                    let n = PersonNo::try_from(next).map_err(|_| IndexFull)?;
                    next += 1;
                    new.push((*p, n));
                    n
                }
            };
            persons.push(person);
        }
        Ok(Resolution { persons, new })
    }

    /// Adds the new persons of a committed resolution with their record keys.
    pub fn apply(&mut self, new: &[(Pseudonym, PersonNo)], record_keys: &[u32]) {
        debug_assert_eq!(new.len(), record_keys.len());
        for &(p, n) in new {
            self.by_pseudonym.insert(p, n);
        }
        self.record_keys.extend_from_slice(record_keys);
    }
}

/// A dense person → row array for rows whose persons are `persons`.
pub fn row_lookup(persons: &[PersonNo]) -> Vec<u32> {
    let len = persons.iter().max().map_or(0, |&m| m as usize + 1);
    let mut rows = vec![NO_ROW; len];
    for (row, &p) in (0u32..).zip(persons) {
        rows[p as usize] = row;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(b: u8) -> Pseudonym {
        Pseudonym::from_bytes([b; 32])
    }

    #[test]
    fn unknown_pseudonyms_get_the_next_numbers_and_known_keep_theirs() {
        let mut index = PersonIndex::default();
        let r = index.resolve(&[p(1), p(2)]).unwrap();
        assert_eq!(r.persons, [0, 1]);
        index.apply(&r.new, &[7, 8]);
        let r = index.resolve(&[p(2), p(3)]).unwrap();
        assert_eq!(r.persons, [1, 2]);
        assert_eq!(r.new.len(), 1);
    }
}
