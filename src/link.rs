//! The person index: pseudonym → dense person number.
//!
//! Every pseudonym is resolved once, at upload, to a person number that
//! stays a person's identity inside ddc (pseudonyms change when keys
//! rotate; person numbers and record keys do not). Linking datasets is then
//! an array lookup on person numbers. This module does no I/O.
//!
//! At national scale the index holds tens of millions of entries, far
//! more than a processor's caches, so a lookup in one table would miss
//! the cache at every pseudonym. The index's entries therefore lie in
//! [`SHARDS`] shards by a byte of the pseudonym, and an upload's
//! pseudonyms are grouped by shard before they are looked up: each
//! shard's entries then stay in cache while its group is resolved (a
//! partitioned hash join).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use crate::pseudonym::Pseudonym;

/// A person's number inside ddc: dense, from 0, assigned at first sight.
pub type PersonNo = u32;

/// Marks "no row" in a dense person → row array.
pub const NO_ROW: u32 = u32::MAX;

/// The number of maps the index is split into.
pub const SHARDS: usize = 256;

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

/// The shard of a pseudonym: its ninth byte, which the map's hash (the
/// first eight) does not use.
fn shard_of(p: &Pseudonym) -> usize {
    usize::from(p.as_bytes()[8])
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
///
/// One table of entries in buckets (compressed rows): a pseudonym's
/// bucket is its shard (its ninth byte) and the top bits of its first
/// eight bytes, and the buckets are laid out shard after shard, about
/// [`BUCKET_ENTRIES`] entries each. A lookup reads where its bucket starts and scans it; each
/// shard's entries lie together, in cache while an upload's group of that
/// shard is resolved. Two allocations in all, 21 bytes an entry: freed
/// whole when an upload drops the index, where hundreds of hash maps left
/// their memory to the allocator.
#[derive(Default)]
pub struct PseudonymIndex {
    /// The entries, bucket after bucket.
    entries: Vec<(Pseudonym, u32)>,
    /// Where each bucket starts in `entries`, and (last) their number;
    /// empty when the index is.
    starts: Vec<u32>,
    /// Each shard has `1 << bits` buckets.
    bits: u32,
}

impl std::fmt::Debug for PseudonymIndex {
    /// Its size only: the entries are pseudonyms, and tens of millions.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PseudonymIndex")
            .field("entries", &self.len())
            .field("bits", &self.bits)
            .finish()
    }
}

/// Entries a bucket holds on average, at most: a shard's buckets are a
/// power of two, so the average lies between half of this and this.
pub const BUCKET_ENTRIES: usize = 4;

/// The numbers for an upload's pseudonyms, with the ones not seen before.
/// Computed without changing the index.
#[derive(Default)]
pub struct Resolution {
    /// One number per pseudonym, in upload order.
    pub numbers: Vec<u32>,
    /// The number the first new pseudonym would get: the index's size.
    pub first: u32,
    /// Pseudonyms new to the index, in the order of the numbers they would
    /// get: `first`, `first + 1`, …
    pub new: Vec<Pseudonym>,
}

impl std::fmt::Debug for Resolution {
    /// Its sizes only, as for the index.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolution")
            .field("numbers", &self.numbers.len())
            .field("first", &self.first)
            .field("new", &self.new.len())
            .finish()
    }
}

/// Items grouped by shard, each group in the items' order.
struct Grouped<T> {
    /// The items, shard after shard.
    items: Vec<T>,
    /// Where each shard's group starts in `items`, and (last) their number.
    starts: Vec<usize>,
}

impl<T: Copy> Grouped<T> {
    /// Groups `items` by `shard`, in two passes: one counts, one places.
    fn of(items: &[T], shard: impl Fn(&T) -> usize) -> Self {
        let mut starts = vec![0usize; SHARDS + 1];
        for item in items {
            starts[shard(item) + 1] += 1;
        }
        for s in 0..SHARDS {
            starts[s + 1] += starts[s];
        }
        let Some(&first) = items.first() else {
            return Grouped {
                items: Vec::new(),
                starts,
            };
        };
        let mut grouped = vec![first; items.len()];
        let mut next = starts.clone();
        for item in items {
            let at = &mut next[shard(item)];
            grouped[*at] = *item;
            *at += 1;
        }
        Grouped {
            items: grouped,
            starts,
        }
    }

    /// The group of shard `s`.
    fn group(&self, s: usize) -> &[T] {
        &self.items[self.starts[s]..self.starts[s + 1]]
    }
}

/// The index is full (more than u32::MAX entries).
#[derive(Debug, thiserror::Error)]
#[error("the person or household index is full")]
pub struct IndexFull;

impl PseudonymIndex {
    /// Builds the index from pseudonyms in number order (0, 1, …).
    pub fn from_ordered(pseudonyms: &[Pseudonym]) -> Self {
        Self::of_each(pseudonyms.len(), |i| (pseudonyms[i], i as u32))
    }

    /// The index of the entries `entry(0)` … `entry(len - 1)`, in two
    /// passes: one counts each bucket's entries, one places them.
    fn of_each(len: usize, entry: impl Fn(usize) -> (Pseudonym, u32)) -> Self {
        if len == 0 {
            return PseudonymIndex::default();
        }
        // Buckets a shard: the power of two that puts BUCKET_ENTRIES
        // entries in a bucket on average, or between half of that and that.
        let per_shard = len.div_ceil(SHARDS * BUCKET_ENTRIES);
        let bits = per_shard.next_power_of_two().trailing_zeros();
        let index = PseudonymIndex {
            entries: Vec::new(),
            starts: Vec::new(),
            bits,
        };
        let mut starts = vec![0u32; (SHARDS << bits) + 1];
        for i in 0..len {
            starts[index.bucket_of(&entry(i).0) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut next = starts.clone();
        let mut entries = vec![entry(0); len];
        for i in 0..len {
            let e = entry(i);
            let at = &mut next[index.bucket_of(&e.0)];
            entries[*at as usize] = e;
            *at += 1;
        }
        PseudonymIndex {
            entries,
            starts,
            bits,
        }
    }

    /// The bucket of `p`: its shard's buckets, and among them the top
    /// `bits` of its first eight bytes.
    fn bucket_of(&self, p: &Pseudonym) -> usize {
        let mut first = [0u8; 8];
        first.copy_from_slice(&p.as_bytes()[..8]);
        let top = u64::from_be_bytes(first).checked_shr(64 - self.bits);
        (shard_of(p) << self.bits) | top.unwrap_or(0) as usize
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of a pseudonym, if the index has it.
    pub fn get(&self, p: &Pseudonym) -> Option<u32> {
        if self.is_empty() {
            return None;
        }
        let b = self.bucket_of(p);
        let bucket = &self.entries[self.starts[b] as usize..self.starts[b + 1] as usize];
        bucket.iter().find(|(q, _)| q == p).map(|&(_, n)| n)
    }

    /// Resolves pseudonyms to numbers, numbering unknown ones after the
    /// existing entries. A pseudonym repeated in `pseudonyms` (a household
    /// with several members) gets one number. One pass on one thread: the
    /// reference for [`Self::resolve_on`].
    pub fn resolve(&self, pseudonyms: &[Pseudonym]) -> Result<Resolution, IndexFull> {
        let first = u32::try_from(self.len()).map_err(|_| IndexFull)?;
        let mut fresh: PseudonymMap<u32> = PseudonymMap::default();
        let mut new = Vec::new();
        let mut numbers = Vec::with_capacity(pseudonyms.len());
        for p in pseudonyms {
            let n = match self.get(p).or_else(|| fresh.get(p).copied()) {
                Some(n) => n,
                None => {
                    let n = u32::try_from(self.len() + new.len()).map_err(|_| IndexFull)?;
                    fresh.insert(*p, n);
                    new.push(*p);
                    n
                }
            };
            numbers.push(n);
        }
        Ok(Resolution {
            numbers,
            first,
            new,
        })
    }

    /// [`Self::resolve`] for pseudonyms known to be distinct (an upload's
    /// persons, whose duplicates the parser dropped): no map of the new
    /// ones is needed, which for a first national upload is 18 million
    /// entries and about 700 MB.
    pub fn resolve_distinct(&self, pseudonyms: &[Pseudonym]) -> Result<Resolution, IndexFull> {
        let first = u32::try_from(self.len()).map_err(|_| IndexFull)?;
        let mut new = Vec::new();
        let mut numbers = Vec::with_capacity(pseudonyms.len());
        for p in pseudonyms {
            let n = match self.get(p) {
                Some(n) => n,
                None => {
                    let n = u32::try_from(self.len() + new.len()).map_err(|_| IndexFull)?;
                    new.push(*p);
                    n
                }
            };
            numbers.push(n);
        }
        Ok(Resolution {
            numbers,
            first,
            new,
        })
    }

    /// [`Self::resolve`] (or, for `distinct` pseudonyms,
    /// [`Self::resolve_distinct`]) with the same result, shard by shard on
    /// `threads` threads: the pseudonyms are grouped by shard, each group
    /// is resolved against its shard's entries with its new ones numbered
    /// locally, and one pass in upload order then gives the new ones their
    /// numbers in order of first sight.
    ///
    /// Takes the pseudonyms, to keep the new ones in their place: at
    /// national scale a fresh list of them would be hundreds of megabytes
    /// of new pages, which are slow to fault in.
    pub fn resolve_on(
        &self,
        pseudonyms: Vec<Pseudonym>,
        distinct: bool,
        threads: usize,
    ) -> Result<Resolution, IndexFull> {
        let first = u32::try_from(self.len()).map_err(|_| IndexFull)?;
        if distinct && self.is_empty() {
            // Nothing to look up: every person is new, in upload order.
            let numbers = (0..u32::try_from(pseudonyms.len()).map_err(|_| IndexFull)?).collect();
            return Ok(Resolution {
                numbers,
                first,
                new: pseudonyms,
            });
        }
        let mut ids = pseudonyms;
        let grouped = Grouped::of(&ids, shard_of);
        let (local, new_in_shard) = self.resolve_groups(&grouped, distinct, first, threads)?;
        let Grouped { items, starts } = grouped;
        drop(items);
        // In upload order: a shard's new pseudonym gets the next number the
        // first time it appears (distinct ones appear once), and moves to
        // the front of `ids` (never past where it is read, as each
        // pseudonym adds at most one new one).
        let mut cursors = starts[..SHARDS].to_vec();
        let mut next = first;
        // The number each shard's new one gets, `u32::MAX` until it is
        // given; not needed for distinct ones, which are new where they are.
        let mut numbered: Vec<Vec<u32>> = if distinct {
            Vec::new()
        } else {
            new_in_shard.iter().map(|&n| vec![u32::MAX; n]).collect()
        };
        let mut numbers = Vec::with_capacity(ids.len());
        for i in 0..ids.len() {
            let p = ids[i];
            let s = shard_of(&p);
            let n = local[cursors[s]];
            cursors[s] += 1;
            if n < first {
                numbers.push(n);
                continue;
            }
            let slot = (!distinct).then(|| &mut numbered[s][(n - first) as usize]);
            numbers.push(match slot {
                Some(slot) if *slot != u32::MAX => *slot,
                slot => {
                    let given = next;
                    next = next.checked_add(1).ok_or(IndexFull)?;
                    ids[(given - first) as usize] = p;
                    if let Some(slot) = slot {
                        *slot = given;
                    }
                    given
                }
            });
        }
        ids.truncate((next - first) as usize);
        ids.shrink_to_fit();
        Ok(Resolution {
            numbers,
            first,
            new: ids,
        })
    }

    /// Resolves the groups of all shards, a range of shards per thread:
    /// each pseudonym's number as grouped (a new one's is `known` plus its
    /// place among its shard's new ones), and each shard's count of new ones.
    fn resolve_groups(
        &self,
        grouped: &Grouped<Pseudonym>,
        distinct: bool,
        known: u32,
        threads: usize,
    ) -> Result<(Vec<u32>, Vec<usize>), IndexFull> {
        let mut local = vec![0u32; grouped.items.len()];
        let threads = threads.clamp(1, SHARDS);
        let new_in_shard = std::thread::scope(|scope| {
            let mut rest = &mut local[..];
            let mut running = Vec::with_capacity(threads);
            for t in 0..threads {
                let shards = SHARDS * t / threads..SHARDS * (t + 1) / threads;
                let len = grouped.starts[shards.end] - grouped.starts[shards.start];
                let (mut out, tail) = std::mem::take(&mut rest).split_at_mut(len);
                rest = tail;
                running.push(scope.spawn(move || {
                    let mut fresh = PseudonymMap::default();
                    let mut new = Vec::with_capacity(shards.len());
                    for s in shards {
                        let group = grouped.group(s);
                        let (here, later) = std::mem::take(&mut out).split_at_mut(group.len());
                        out = later;
                        new.push(self.resolve_shard(s, group, here, distinct, known, &mut fresh)?);
                    }
                    Ok::<_, IndexFull>(new)
                }));
            }
            running
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Result<Vec<Vec<usize>>, IndexFull>>()
        })?;
        Ok((local, new_in_shard.into_iter().flatten().collect()))
    }

    /// Resolves `group`, the pseudonyms of shard `s` in upload order, into
    /// `out`: a known one's number, or `known` plus its place among the
    /// group's new ones (found in `fresh`, unless they are `distinct`).
    /// Returns the number of new ones.
    fn resolve_shard(
        &self,
        s: usize,
        group: &[Pseudonym],
        out: &mut [u32],
        distinct: bool,
        known: u32,
        fresh: &mut PseudonymMap<u32>,
    ) -> Result<usize, IndexFull> {
        debug_assert!(group.iter().all(|p| shard_of(p) == s));
        fresh.clear();
        let mut new = 0u32;
        for (p, out) in group.iter().zip(out) {
            *out = match self.get(p) {
                Some(n) => n,
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
        }
        Ok(if distinct { new as usize } else { fresh.len() })
    }

    /// Adds the new pseudonyms of a committed resolution, numbered from the
    /// index's size on: the index is built again, with them.
    pub fn apply(&mut self, new: &[Pseudonym]) {
        if new.is_empty() {
            return;
        }
        let old = std::mem::take(&mut self.entries);
        let at = |i: usize| match old.get(i) {
            Some(&entry) => entry,
            None => (new[i - old.len()], i as u32),
        };
        *self = Self::of_each(old.len() + new.len(), at);
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
            threads in 1usize..5,
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
            let (one, parts) = (index.resolve(&upload).unwrap(), index.resolve_on(upload.clone(), false, threads).unwrap());
            proptest::prop_assert_eq!((&one.numbers, one.first, &one.new), (&parts.numbers, parts.first, &parts.new));
            let mut distinct = upload.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let (one, parts) = (index.resolve_distinct(&distinct).unwrap(), index.resolve_on(distinct.clone(), true, threads).unwrap());
            proptest::prop_assert_eq!((one.numbers, one.first, one.new), (parts.numbers, parts.first, parts.new));
        }
    }

    #[test]
    fn the_index_finds_what_it_was_given_and_nothing_else() {
        let random = Pseudonym::scattered(6_000, 0x2545_F491_4F6C_DD1D);
        // Built from the first 5,000 (several buckets a shard), then given
        // 1,000 more as a commit would.
        let mut index = PseudonymIndex::from_ordered(&random[..5_000]);
        assert!(index.bits > 0);
        index.apply(&random[5_000..]);
        assert_eq!(index.len(), 6_000);
        for (n, p) in (0u32..).zip(&random) {
            assert_eq!(index.get(p), Some(n));
            // In the same bucket, differing in the last byte: absent.
            let mut twin = *p.as_bytes();
            twin[15] ^= 0x80;
            assert_eq!(index.get(&Pseudonym::from_bytes(twin)), None);
        }
        assert_eq!(PseudonymIndex::default().get(&random[0]), None);
    }

    #[test]
    fn a_repeated_household_gets_one_number() {
        let index = PseudonymIndex::default();
        let r = index.resolve(&[p(5), p(6), p(5)]).unwrap();
        assert_eq!(r.numbers, [0, 1, 0]);
        assert_eq!(r.new.len(), 2);
    }
}
