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

/// Pseudonym → dense number (from 0, in order of first sight).
#[derive(Debug, Default)]
pub struct PseudonymIndex {
    numbers: PseudonymMap<u32>,
}

/// The numbers for an upload's pseudonyms, with the ones not seen before.
/// Computed without changing the index.
#[derive(Debug)]
pub struct Resolution {
    /// One number per pseudonym, in upload order.
    pub numbers: Vec<u32>,
    /// Pseudonyms new to the index, with the numbers they would get
    /// (consecutive, after the existing ones).
    pub new: Vec<(Pseudonym, u32)>,
}

/// One part of [`PseudonymIndex::resolve_on`]: each pseudonym's number,
/// its new ones counted from the index's size, and the numbers they get.
struct Part {
    numbers: Vec<u32>,
    /// The number each new one gets, `u32::MAX` until it is given.
    numbered: Vec<u32>,
}

/// The index is full (more than u32::MAX entries).
#[derive(Debug, thiserror::Error)]
#[error("the person or household index is full")]
pub struct IndexFull;

impl PseudonymIndex {
    /// Builds the index from pseudonyms in number order (0, 1, …).
    pub fn from_ordered(pseudonyms: &[Pseudonym]) -> Self {
        let mut numbers =
            PseudonymMap::with_capacity_and_hasher(pseudonyms.len(), PseudonymHashBuilder);
        numbers.extend(pseudonyms.iter().copied().zip(0u32..));
        PseudonymIndex { numbers }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// Resolves pseudonyms to numbers, numbering unknown ones after the
    /// existing entries. A pseudonym repeated in `pseudonyms` (a household
    /// with several members) gets one number.
    pub fn resolve(&self, pseudonyms: &[Pseudonym]) -> Result<Resolution, IndexFull> {
        let mut fresh: PseudonymMap<u32> = PseudonymMap::default();
        let mut new = Vec::new();
        let mut numbers = Vec::with_capacity(pseudonyms.len());
        for p in pseudonyms {
            let n = match self.numbers.get(p).or_else(|| fresh.get(p)) {
                Some(&n) => n,
                None => {
                    let n = u32::try_from(self.len() + new.len()).map_err(|_| IndexFull)?;
                    fresh.insert(*p, n);
                    new.push((*p, n));
                    n
                }
            };
            numbers.push(n);
        }
        Ok(Resolution { numbers, new })
    }

    /// [`Self::resolve`] for pseudonyms known to be distinct (an upload's
    /// persons, whose duplicates the parser dropped): no map of the new
    /// ones is needed, which for a first national upload is 18 million
    /// entries and about 700 MB.
    pub fn resolve_distinct(&self, pseudonyms: &[Pseudonym]) -> Result<Resolution, IndexFull> {
        let mut new = Vec::new();
        let mut numbers = Vec::with_capacity(pseudonyms.len());
        for p in pseudonyms {
            let n = match self.numbers.get(p) {
                Some(&n) => n,
                None => {
                    let n = u32::try_from(self.len() + new.len()).map_err(|_| IndexFull)?;
                    new.push((*p, n));
                    n
                }
            };
            numbers.push(n);
        }
        Ok(Resolution { numbers, new })
    }

    /// [`Self::resolve`] (or, for `distinct` pseudonyms,
    /// [`Self::resolve_distinct`]) on `threads` threads, with the same
    /// result: the pseudonyms are split by a byte the map's hash does not
    /// use, each thread resolves its part against the index and numbers
    /// its new ones locally, and one pass in upload order then gives the
    /// new ones their numbers in order of first sight.
    pub fn resolve_on(
        &self,
        pseudonyms: &[Pseudonym],
        distinct: bool,
        threads: usize,
    ) -> Result<Resolution, IndexFull> {
        let parts = threads.clamp(1, 64);
        if parts == 1 || (distinct && self.is_empty()) {
            // Nothing to look up for new persons in an empty index.
            return if distinct {
                self.resolve_distinct(pseudonyms)
            } else {
                self.resolve(pseudonyms)
            };
        }
        let known = u32::try_from(self.len()).map_err(|_| IndexFull)?;
        let part_of = |p: &Pseudonym| usize::from(p.as_bytes()[8]) % parts;
        let rows = pseudonyms.len() / parts + 64;
        let resolved: Vec<Result<Part, IndexFull>> = std::thread::scope(|scope| {
            let running: Vec<_> = (0..parts)
                .map(|part| {
                    let in_part = move |p: &Pseudonym| part_of(p) == part;
                    scope.spawn(move || {
                        self.resolve_part(pseudonyms, distinct, in_part, rows, known)
                    })
                })
                .collect();
            running
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let mut parts_resolved = resolved.into_iter().collect::<Result<Vec<Part>, _>>()?;
        // In upload order: a part's new pseudonym gets the next number the
        // first time it appears.
        let mut cursors = vec![0usize; parts];
        let mut next = known;
        let mut new = Vec::new();
        let mut numbers = Vec::with_capacity(pseudonyms.len());
        for p in pseudonyms {
            let part = part_of(p);
            let resolved = &mut parts_resolved[part];
            let n = resolved.numbers[cursors[part]];
            cursors[part] += 1;
            numbers.push(if n < known {
                n
            } else {
                let slot = &mut resolved.numbered[(n - known) as usize];
                if *slot == u32::MAX {
                    *slot = next;
                    new.push((*p, next));
                    next = next.checked_add(1).ok_or(IndexFull)?;
                }
                *slot
            });
        }
        Ok(Resolution { numbers, new })
    }

    /// The pseudonyms `in_part` (about `rows` of them): their numbers, in
    /// upload order, with each new one as `known` plus its place among the
    /// part's new ones (found in a map of them, unless they are `distinct`).
    fn resolve_part(
        &self,
        pseudonyms: &[Pseudonym],
        distinct: bool,
        in_part: impl Fn(&Pseudonym) -> bool,
        rows: usize,
        known: u32,
    ) -> Result<Part, IndexFull> {
        let mut fresh: PseudonymMap<u32> = PseudonymMap::default();
        let mut new = 0u32;
        let mut numbers = Vec::with_capacity(rows);
        for p in pseudonyms.iter().filter(|&p| in_part(p)) {
            let n = match self.numbers.get(p) {
                Some(&n) => n,
                None if distinct => {
                    let n = known.checked_add(new).ok_or(IndexFull)?;
                    new = new.checked_add(1).ok_or(IndexFull)?;
                    n
                }
                None => {
                    let local = u32::try_from(fresh.len()).map_err(|_| IndexFull)?;
                    let n = known.checked_add(local).ok_or(IndexFull)?;
                    *fresh.entry(*p).or_insert(n)
                }
            };
            numbers.push(n);
        }
        let new = if distinct { new as usize } else { fresh.len() };
        Ok(Part {
            numbers,
            numbered: vec![u32::MAX; new],
        })
    }

    /// Adds the new entries of a committed resolution.
    pub fn apply(&mut self, new: &[(Pseudonym, u32)]) {
        self.numbers.extend(new.iter().copied());
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
        Pseudonym::from_bytes([b; 16])
    }

    #[test]
    fn unknown_pseudonyms_get_the_next_numbers_and_known_keep_theirs() {
        let mut index = PseudonymIndex::default();
        let r = index.resolve(&[p(1), p(2)]).unwrap();
        assert_eq!(r.numbers, [0, 1]);
        index.apply(&r.new);
        let r = index.resolve(&[p(2), p(3)]).unwrap();
        assert_eq!(r.numbers, [1, 2]);
        assert_eq!(r.new.len(), 1);
    }

    #[test]
    fn distinct_pseudonyms_resolve_as_with_the_map_of_new_ones() {
        let mut index = PseudonymIndex::default();
        index.apply(&index.resolve(&[p(1), p(2)]).unwrap().new);
        let upload = [p(3), p(2), p(9), p(1)];
        let (a, b) = (
            index.resolve(&upload).unwrap(),
            index.resolve_distinct(&upload).unwrap(),
        );
        assert_eq!((a.numbers, a.new), (b.numbers, b.new));
    }

    proptest::proptest! {
        /// Resolved on several threads, pseudonyms get the numbers they
        /// get on one, known or new, repeated or not.
        #[test]
        fn resolving_in_parts_numbers_as_in_one(
            known in proptest::collection::vec(0u8..40, 0..30),
            upload in proptest::collection::vec((0u8..60, 0u8..4), 0..200),
            threads in 2usize..5,
        ) {
            let at = |(a, b): (u8, u8)| {
                let mut bytes = [a; 16];
                bytes[8] = b.wrapping_mul(a); // the byte that picks a part
                Pseudonym::from_bytes(bytes)
            };
            let mut index = PseudonymIndex::default();
            let known: Vec<Pseudonym> = known.iter().map(|&k| at((k, k))).collect();
            index.apply(&index.resolve(&known).unwrap().new);
            let upload: Vec<Pseudonym> = upload.into_iter().map(at).collect();
            let (one, parts) = (index.resolve(&upload).unwrap(), index.resolve_on(&upload, false, threads).unwrap());
            proptest::prop_assert_eq!((&one.numbers, &one.new), (&parts.numbers, &parts.new));
            let mut distinct = upload.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let (one, parts) = (index.resolve_distinct(&distinct).unwrap(), index.resolve_on(&distinct, true, threads).unwrap());
            proptest::prop_assert_eq!((one.numbers, one.new), (parts.numbers, parts.new));
        }
    }

    #[test]
    fn a_repeated_household_gets_one_number() {
        let index = PseudonymIndex::default();
        let r = index.resolve(&[p(5), p(6), p(5)]).unwrap();
        assert_eq!(r.numbers, [0, 1, 0]);
        assert_eq!(r.new.len(), 2);
    }
}
