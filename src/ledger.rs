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
}

impl<'a> Population<'a> {
    /// Describes `persons` (ascending) over `datasets`.
    pub fn new(datasets: &[&str], persons: &'a [PersonNo]) -> Self {
        Population {
            datasets: datasets_key(datasets),
            persons,
            digest: digest(persons),
        }
    }
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
        if entry.size.abs_diff(size) >= threshold || entry.digest == population.digest {
            continue;
        }
        let earlier = load(entry.population)?;
        let differ = symmetric_difference(&earlier, population.persons, threshold);
        if differ > 0 && differ < threshold {
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
        let entry = LedgerEntry {
            population: 1,
            datasets: "a|b".into(),
            size: 100,
            digest: digest(&earlier),
        };
        let load = |_| Ok::<_, ()>(earlier.clone());
        let minus_three: Vec<u32> = (3..100).collect();
        let p = Population::new(&["b", "a"], &minus_three);
        assert_eq!(
            check(std::slice::from_ref(&entry), &p, 10, load),
            Ok(Err(TooClose))
        );
        let same = Population::new(&["a", "b"], &earlier);
        assert_eq!(
            check(std::slice::from_ref(&entry), &same, 10, load),
            Ok(Ok(()))
        );
        let far: Vec<u32> = (10..100).collect();
        let p = Population::new(&["a", "b"], &far);
        assert_eq!(
            check(std::slice::from_ref(&entry), &p, 10, load),
            Ok(Ok(()))
        );
        let other = Population::new(&["a"], &minus_three);
        assert_eq!(
            check(std::slice::from_ref(&entry), &other, 10, load),
            Ok(Ok(()))
        );
    }
}
