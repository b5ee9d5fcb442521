//! What the ledger keeps of one cell: its print.
//!
//! A print holds a keyed set hash of the cell's linked persons (equal sets,
//! equal hashes; different sets collide only by chance, about 2^-128, as
//! the attacker never sees a tag or the key), a digest of each data holder's own side of the
//! cell, and a screen: the persons counted modulo 256 in 64 buckets chosen
//! by the keyed hash, twice over with independent bucket choices. The
//! screen proves two sets far apart cheaply: each bucket's difference is at
//! most the sets' symmetric difference, so when the symmetric difference
//! is below 128 the circular difference of the bucket counts is exact, and
//! the sum over one bucketing's buckets is a lower bound of it. Two
//! unrelated small sets can look close in one bucketing when their persons
//! happen to share buckets; in two independent ones the chance of that is
//! about squared (`examples/ledger_timing.rs` measures it).

use siphasher::sip::SipHasher13;
use std::hash::Hasher;

use crate::link::PersonNo;

/// Buckets of one bucketing of a [`Screen`].
pub const BUCKETS: usize = 64;

/// The secret key of person tags and unit draws, fixed per deployment.
/// Not `Clone`; zeroed on drop; `Debug` prints nothing of it.
pub struct PrintKey {
    k0: u64,
    k1: u64,
}

impl std::fmt::Debug for PrintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrintKey(..)")
    }
}

impl Drop for PrintKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.k0.zeroize();
        self.k1.zeroize();
    }
}

impl PrintKey {
    /// The key from its 16 stored bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        let (a, b) = bytes.split_at(8);
        PrintKey {
            k0: u64::from_le_bytes(a.try_into().unwrap_or_default()),
            k1: u64::from_le_bytes(b.try_into().unwrap_or_default()),
        }
    }

    /// A unit's draw for the variable `salt`: keyed, so an attacker who
    /// learns some units' draws learns nothing of the key or of the others.
    pub fn draw(&self, kind: UnitKind, unit: u32, salt: u64) -> Draw {
        let mut h = SipHasher13::new_with_keys(self.k0 ^ salt, self.k1);
        h.write_u8(match kind {
            UnitKind::Person => 1,
            UnitKind::Household => 2,
        });
        h.write_u32(unit);
        let bits = h.finish();
        Draw {
            negative: bits >> 63 == 1,
            fraction: bits as u32,
        }
    }

    /// A person's tag: 128 keyed pseudo-random bits. Tags are computed for
    /// every row of every dataset a table scans, so they come from a fast
    /// keyed mixer (murmur3's finalizer over the person number offset by
    /// the secret key), not a MAC: they never leave the server, and what an
    /// attacker can observe of them is whether a table was refused.
    pub fn tag(&self, person: PersonNo) -> Tag {
        let x = u64::from(person) ^ self.k0;
        Tag {
            lo: fmix64(x),
            hi: fmix64(x.wrapping_add(self.k1) ^ 0x9E37_79B9_7F4A_7C15),
        }
    }
}

/// Murmur3's 64-bit finalizer: xorshifts and odd multiplications.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Whose draw [`PrintKey::draw`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitKind {
    /// A person, by person number.
    Person,
    /// A household, by household number.
    Household,
}

/// A unit's draw for one variable's magnitude noise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Draw {
    /// Whether its value is perturbed downwards.
    pub negative: bool,
    /// Where in the noise range: `fraction / 2^32`, in `[0, 1)`. An
    /// integer, so that sums of it are exact in any order (see
    /// [`FRACTION_ONE`]).
    pub fraction: u32,
}

/// The fixed-point one of [`Draw::fraction`]: 2^32.
pub const FRACTION_ONE: f64 = 4_294_967_296.0;

/// A person's keyed tag: as good as a pseudonym of the person number, so
/// `Debug` prints nothing of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    lo: u64,
    hi: u64,
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tag(..)")
    }
}

impl Tag {
    /// The screen buckets the person counts in, one per bucketing.
    pub fn buckets(self) -> [usize; 2] {
        [
            (self.hi >> 58) as usize,
            BUCKETS + ((self.hi >> 52) & 63) as usize,
        ]
    }
}

/// An order-independent keyed hash of a set of persons, built while scanning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SetHash {
    /// Persons in the set.
    pub count: u64,
    h1: u64,
    h2: u64,
}

impl SetHash {
    /// Adds one person (each person at most once).
    pub fn add(&mut self, tag: Tag) {
        self.count += 1;
        self.h1 = self.h1.wrapping_add(tag.lo);
        self.h2 = self.h2.wrapping_add(tag.hi);
    }

    /// The hash of the union of two disjoint sets.
    pub fn merge(&mut self, other: &SetHash) {
        self.count += other.count;
        self.h1 = self.h1.wrapping_add(other.h1);
        self.h2 = self.h2.wrapping_add(other.h2);
    }

    fn to_bytes(self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&self.count.to_le_bytes());
        out[8..16].copy_from_slice(&self.h1.to_le_bytes());
        out[16..].copy_from_slice(&self.h2.to_le_bytes());
        out
    }

    fn from_bytes(b: &[u8; 24]) -> Self {
        let word = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        SetHash {
            count: word(0),
            h1: word(8),
            h2: word(16),
        }
    }
}

/// Persons per bucket, modulo 256, in two bucketings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Screen(pub [u8; 2 * BUCKETS]);

impl Default for Screen {
    fn default() -> Self {
        Screen([0; 2 * BUCKETS])
    }
}

impl Screen {
    /// Counts one person.
    pub fn add(&mut self, tag: Tag) {
        for i in tag.buckets() {
            self.0[i] = self.0[i].wrapping_add(1);
        }
    }

    /// Counts the persons of another screen's set, disjoint from this one's.
    pub fn merge(&mut self, other: &Screen) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = a.wrapping_add(*b);
        }
    }

    /// A lower bound of the symmetric difference of the two sets: the
    /// larger of the two bucketings' bounds, each exact per bucket while
    /// that difference is below 128.
    pub fn distance(&self, other: &Screen) -> u64 {
        let half = |range: std::ops::Range<usize>| -> u64 {
            self.0[range.clone()]
                .iter()
                .zip(&other.0[range])
                .map(|(&a, &b)| {
                    let d = a.wrapping_sub(b);
                    u64::from(d.min(d.wrapping_neg()))
                })
                .sum()
        };
        half(0..BUCKETS).max(half(BUCKETS..2 * BUCKETS))
    }
}

/// The print of one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellPrint {
    /// The linked persons.
    pub persons: SetHash,
    /// Digest of each holder's own (pre-linkage) side of the cell.
    pub sides: [u8; 16],
    /// The linked persons, bucketed.
    pub screen: Screen,
}

/// Bytes of a stored print.
pub const PRINT_BYTES: usize = 24 + 16 + 2 * BUCKETS;

impl CellPrint {
    /// Whether `self` and `other` hold the same persons with the same sides:
    /// the same cell, however worded; it gets the same noise.
    pub fn same(&self, other: &CellPrint) -> bool {
        self.persons == other.persons && self.sides == other.sides
    }

    /// Whether the two cells' linked persons may differ by fewer than
    /// `threshold` persons (zero included: the same persons from different
    /// sides). Never false for such a pair; may be true, conservatively,
    /// for sets that swap persons in and out and differ by up to about
    /// twice the threshold. A cell with no persons is near nothing: an
    /// empty cell's difference from another is that other cell's own value.
    pub fn near(&self, other: &CellPrint, threshold: u64) -> bool {
        let (a, b) = (&self.persons, &other.persons);
        if a.count == 0 || b.count == 0 || self.same(other) {
            return false;
        }
        if a.count.abs_diff(b.count) >= threshold {
            return false;
        }
        a == b || self.screen.distance(&other.screen) < threshold
    }

    /// The print as stored.
    pub fn to_bytes(&self) -> [u8; PRINT_BYTES] {
        let mut out = [0u8; PRINT_BYTES];
        out[..24].copy_from_slice(&self.persons.to_bytes());
        out[24..40].copy_from_slice(&self.sides);
        out[40..].copy_from_slice(&self.screen.0);
        out
    }

    /// A stored print; `None` if it has the wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; PRINT_BYTES] = bytes.try_into().ok()?;
        Some(CellPrint {
            persons: SetHash::from_bytes(bytes[..24].try_into().ok()?),
            sides: bytes[24..40].try_into().ok()?,
            screen: Screen(bytes[40..].try_into().ok()?),
        })
    }
}

/// Combines each holder's own side of a cell into one digest, independent
/// of the order of the datasets and of a dataset named twice.
pub fn sides_digest(sides: &mut [SetHash]) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    sides.sort_unstable();
    let mut h = Sha256::new();
    let mut previous = None;
    for side in sides.iter() {
        if previous != Some(*side) {
            h.update(side.to_bytes());
        }
        previous = Some(*side);
    }
    let full: [u8; 32] = h.finalize().into();
    full[..16].try_into().unwrap_or_default()
}

/// The print of a set of persons seen from `sides`.
pub fn print_of(key: &PrintKey, persons: &[PersonNo], sides: &mut [SetHash]) -> CellPrint {
    let mut print = CellPrint {
        persons: SetHash::default(),
        sides: sides_digest(sides),
        screen: Screen::default(),
    };
    for &p in persons {
        let tag = key.tag(p);
        print.persons.add(tag);
        print.screen.add(tag);
    }
    print
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PrintKey {
        PrintKey::from_bytes([7; 16])
    }

    fn print(persons: impl IntoIterator<Item = u32>) -> CellPrint {
        let persons: Vec<u32> = persons.into_iter().collect();
        let key = key();
        let mut side = SetHash::default();
        persons.iter().for_each(|&p| side.add(key.tag(p)));
        print_of(&key, &persons, &mut [side])
    }

    #[test]
    fn sets_a_few_persons_apart_are_near_in_either_direction() {
        let a = print(0..1000);
        assert!(a.near(&print(3..1000), 10));
        assert!(print(3..1000).near(&a, 10));
        assert!(a.near(&print(0..1009), 10));
        assert!(!a.near(&print(0..1010), 10));
        assert!(!a.near(&print(10..1000), 10));
        assert!(!a.near(&a, 10), "the same cell is not near itself");
    }

    #[test]
    fn the_screen_is_a_lower_bound_of_the_symmetric_difference() {
        // 5 persons out, 5 in: the difference is 10, the screen never more.
        let a = print(0..500);
        let b = print((5..505).collect::<Vec<_>>());
        assert!(a.screen.distance(&b.screen) <= 10);
        // Unrelated sets of similar size are far, by the screen alone.
        let c = print(10_000..10_500);
        assert!(a.screen.distance(&c.screen) >= 10);
        assert!(!a.near(&c, 10));
    }

    #[test]
    fn the_same_persons_from_different_sides_are_near() {
        let key = key();
        let persons: Vec<u32> = (0..100).collect();
        let mut side = SetHash::default();
        (0..150).for_each(|p| side.add(key.tag(p)));
        let mut smaller = SetHash::default();
        (0..149).for_each(|p| smaller.add(key.tag(p)));
        let a = print_of(&key, &persons, &mut [side, side]);
        let b = print_of(&key, &persons, &mut [smaller, side]);
        assert!(a.near(&b, 10));
        let c = print_of(&key, &persons, &mut [side]);
        assert!(a.same(&c), "a dataset named twice is one side");
    }

    #[test]
    fn an_empty_cell_is_near_nothing() {
        assert!(!print([]).near(&print([1, 2, 3]), 10));
        assert!(!print([]).near(&print([]), 10));
    }

    #[test]
    fn prints_round_trip_through_bytes() {
        let a = print(0..77);
        assert_eq!(CellPrint::from_bytes(&a.to_bytes()), Some(a));
        assert_eq!(CellPrint::from_bytes(&[0; 3]), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// The direction privacy depends on: a set a few persons off another
        /// (removed, added or both) is never judged far, whatever the sets
        /// and the key.
        #[test]
        fn a_difference_below_the_threshold_is_never_judged_far(
            seed in proptest::prelude::any::<[u8; 16]>(),
            base in proptest::collection::btree_set(0u32..5_000_000, 1..3_000),
            removed in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..10),
            added in proptest::collection::btree_set(5_000_000u32..6_000_000, 0..10),
            threshold in 2u64..=100,
        ) {
            let key = PrintKey::from_bytes(seed);
            let base: Vec<u32> = base.into_iter().collect();
            let mut other: std::collections::BTreeSet<u32> = base.iter().copied().collect();
            for i in &removed {
                other.remove(&base[i.index(base.len())]);
            }
            other.extend(&added);
            let other: Vec<u32> = other.into_iter().collect();
            let difference = (base.len() - (other.len() - added.len()) + added.len()) as u64;
            let side = |persons: &[u32]| {
                let mut h = SetHash::default();
                persons.iter().for_each(|&p| h.add(key.tag(p)));
                h
            };
            let a = print_of(&key, &base, &mut [side(&base)]);
            let b = print_of(&key, &other, &mut [side(&other)]);
            proptest::prop_assert!(a.screen.distance(&b.screen) <= difference);
            if difference > 0 && difference < threshold && !other.is_empty() {
                proptest::prop_assert!(a.near(&b, threshold), "{difference} < {threshold}");
            }
        }
    }

    #[test]
    fn tags_depend_on_the_key() {
        let other = PrintKey::from_bytes([8; 16]);
        assert_ne!(key().tag(1), other.tag(1));
        assert_eq!(format!("{:?}", key()), "PrintKey(..)");
    }
}
