//! The ledger of released populations: the defence against differencing by
//! population.
//!
//! Two tables over the same datasets whose populations differ by a few
//! persons reveal those persons' categories: with the cell-key method every
//! cell they do not touch comes out identical, so the cells that change
//! point at them. ddc therefore records, for every release, the set of
//! persons it covered (after linkage and filters), and refuses a new table
//! whose population differs from an earlier release's over the same
//! datasets — in any project — by more than zero but fewer than the
//! threshold number of persons, in either direction.
//!
//! A refusal must not itself answer the question the differencing would
//! have: removing one known person from a population changes the linked
//! population only if that person is linked. So ddc also records, for each
//! dataset of the release, a digest of the persons that pass that dataset's
//! own filters before linkage (what each holder already knows). Two
//! requests are the same population only if the linked sets and every
//! dataset's own set are equal; otherwise a linked difference of 0 to
//! threshold − 1 persons is refused, whether or not the person of interest
//! links, so the refusal tells no more than a withheld count would.
//!
//! Only sizes and digests stay in memory; a stored population is read back
//! only when its size is within the threshold of the new one. No I/O here:
//! the caller passes a loader.

use sha2::{Digest, Sha256};

use crate::link::PersonNo;

/// What the ledger keeps in memory about one release's population.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The stored population's number.
    pub population: i64,
    /// The datasets it was linked over, sorted and joined by `|`.
    pub datasets: String,
    /// Persons covered.
    pub size: u64,
    /// SHA-256 of the sorted person numbers (equal sets, equal digests).
    pub digest: [u8; 32],
    /// Digest of each dataset's own (pre-linkage) population.
    pub sides: [u8; 32],
}

/// A population about to be released.
#[derive(Debug)]
pub struct Population<'a> {
    /// The datasets key (see [`datasets_key`]).
    pub datasets: String,
    /// Person numbers, ascending.
    pub persons: &'a [PersonNo],
    /// Their digest.
    pub digest: [u8; 32],
    /// Digest of each dataset's own population, in `datasets` order.
    pub sides: [u8; 32],
}

impl<'a> Population<'a> {
    /// Describes `persons` (ascending), linked over `datasets` whose own
    /// populations have the set hashes `sides` (in the same order).
    pub fn new(datasets: &[&str], persons: &'a [PersonNo], sides: &[SetHash]) -> Self {
        let mut order: Vec<usize> = (0..datasets.len()).collect();
        order.sort_by_key(|&i| datasets[i]);
        let mut h = Sha256::new();
        for i in order {
            let side = sides.get(i).copied().unwrap_or_default();
            h.update(side.count.to_le_bytes());
            h.update(side.h1.to_le_bytes());
            h.update(side.h2.to_le_bytes());
        }
        Population {
            datasets: datasets_key(datasets),
            persons,
            digest: digest(persons),
            sides: h.finalize().into(),
        }
    }
}

impl Population<'_> {
    /// What the ledger keeps of this population once stored as `population`.
    pub fn entry(&self, population: i64) -> LedgerEntry {
        LedgerEntry {
            population,
            datasets: self.datasets.clone(),
            size: self.persons.len() as u64,
            digest: self.digest,
            sides: self.sides,
        }
    }
}

/// An order-independent hash of a set of persons, built while scanning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetHash {
    count: u64,
    h1: u64,
    h2: u64,
}

impl SetHash {
    /// Adds one person (each person at most once).
    pub fn add(&mut self, person: PersonNo) {
        self.count += 1;
        self.h1 = self.h1.wrapping_add(splitmix(u64::from(person)));
        self.h2 = self
            .h2
            .wrapping_add(splitmix(u64::from(person) ^ 0xA5A5_5A5A_C3C3_3C3C));
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key under which releases over the same datasets are compared.
pub fn datasets_key(datasets: &[&str]) -> String {
    let mut names: Vec<&str> = datasets.to_vec();
    names.sort_unstable();
    names.dedup();
    names.join("|")
}

/// SHA-256 over the persons' numbers, little-endian.
pub fn digest(persons: &[PersonNo]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in persons {
        h.update(p.to_le_bytes());
    }
    h.finalize().into()
}

/// Why a population may not be released. Says nothing about which release
/// or how many persons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooClose;

/// Checks a population against the ledger. `load` reads a stored
/// population's persons (ascending); it is called only for populations over
/// the same datasets whose size is within `threshold` of the new one.
pub fn check<E>(
    ledger: &[LedgerEntry],
    population: &Population<'_>,
    threshold: u64,
    mut load: impl FnMut(i64) -> Result<Vec<PersonNo>, E>,
) -> Result<Result<(), TooClose>, E> {
    let size = population.persons.len() as u64;
    for entry in ledger.iter().filter(|e| e.datasets == population.datasets) {
        let same_links = entry.digest == population.digest;
        if same_links && entry.sides == population.sides {
            continue; // the same population, worded differently
        }
        if entry.size.abs_diff(size) >= threshold {
            continue;
        }
        let differ = if same_links {
            0
        } else {
            symmetric_difference(&load(entry.population)?, population.persons, threshold)
        };
        if differ < threshold {
            return Ok(Err(TooClose));
        }
    }
    Ok(Ok(()))
}

/// |a Δ b| for ascending lists, counting no further than `limit`.
pub fn symmetric_difference(a: &[PersonNo], b: &[PersonNo], limit: u64) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0u64);
    while i < a.len() && j < b.len() && n < limit {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                n += 1;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                n += 1;
                j += 1;
            }
        }
    }
    n + (a.len() - i + b.len() - j) as u64
}

/// Encodes ascending person numbers as LEB128 varints of their gaps.
pub fn encode(persons: &[PersonNo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(persons.len() * 2);
    let mut previous = 0u32;
    for (i, &p) in persons.iter().enumerate() {
        let mut gap = if i == 0 { p } else { p - previous };
        previous = p;
        loop {
            let byte = (gap & 0x7f) as u8;
            gap >>= 7;
            if gap == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

/// Decodes [`encode`]'s output; `None` if it is malformed.
pub fn decode(bytes: &[u8]) -> Option<Vec<PersonNo>> {
    let mut out = Vec::new();
    let (mut value, mut shift, mut previous) = (0u32, 0u32, 0u32);
    for &b in bytes {
        value |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            previous = if out.is_empty() {
                value
            } else {
                previous.checked_add(value)?
            };
            out.push(previous);
            value = 0;
            shift = 0;
        } else {
            shift += 7;
            if shift > 28 {
                return None;
            }
        }
    }
    (shift == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let persons = vec![0, 1, 5, 300, 70_000, 18_000_000, u32::MAX];
        assert_eq!(decode(&encode(&persons)), Some(persons));
        assert_eq!(decode(&[0x80]), None);
    }

    #[test]
    fn symmetric_difference_counts_both_directions() {
        assert_eq!(symmetric_difference(&[1, 2, 3], &[1, 2, 3], 10), 0);
        assert_eq!(symmetric_difference(&[1, 2, 3, 4], &[1, 2, 3], 10), 1);
        assert_eq!(symmetric_difference(&[1, 3], &[2, 3, 4], 10), 3);
    }

    #[test]
    fn a_population_a_few_persons_off_an_earlier_one_is_too_close() {
        let earlier: Vec<u32> = (0..100).collect();
        let sides = [SetHash::default(), SetHash::default()];
        let first = Population::new(&["a", "b"], &earlier, &sides);
        let entry = first.entry(1);
        let ledger = std::slice::from_ref(&entry);
        let load = |_| Ok::<_, ()>(earlier.clone());
        let minus_three: Vec<u32> = (3..100).collect();
        let p = Population::new(&["b", "a"], &minus_three, &sides);
        assert_eq!(check(ledger, &p, 10, load), Ok(Err(TooClose)));
        let same = Population::new(&["b", "a"], &earlier, &sides);
        assert_eq!(check(ledger, &same, 10, load), Ok(Ok(())));
        let far: Vec<u32> = (10..100).collect();
        let p = Population::new(&["a", "b"], &far, &sides);
        assert_eq!(check(ledger, &p, 10, load), Ok(Ok(())));
        let other = Population::new(&["a"], &minus_three, &sides[..1]);
        assert_eq!(check(ledger, &other, 10, load), Ok(Ok(())));
    }

    #[test]
    fn the_same_links_from_different_own_populations_are_too_close() {
        // Removing a person who turns out not to link leaves the linked set
        // unchanged; it must be refused all the same.
        let linked: Vec<u32> = (0..100).collect();
        let mut side = SetHash::default();
        (0..150).for_each(|p| side.add(p));
        let first = Population::new(&["a", "b"], &linked, &[side, side]);
        let entry = first.entry(1);
        let mut smaller = SetHash::default();
        (0..149).for_each(|p| smaller.add(p));
        let probe = Population::new(&["a", "b"], &linked, &[smaller, side]);
        let load = |_| Ok::<_, ()>(linked.clone());
        assert_eq!(
            check(std::slice::from_ref(&entry), &probe, 10, load),
            Ok(Err(TooClose))
        );
    }
}
