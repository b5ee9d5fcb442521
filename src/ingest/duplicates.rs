//! Persons that appear more than once in an upload, found by sorting
//! rather than with a hash map of every row: the rows' pseudonym prefixes
//! are put in buckets by their top 16 bits (pseudonyms are uniformly
//! distributed, so the buckets are small) and each bucket is sorted in
//! cache. For 18 million rows that is 16 bytes a row for the duration of
//! the pass, against about 45 for a map kept for the whole upload.

use crate::pseudonym::Pseudonym;

/// Bits of the prefix that choose a bucket.
const BUCKET_BITS: u32 = 16;

/// The row indices of each pseudonym that occurs more than once, each group
/// ascending, the groups ordered by their first row. The buckets are
/// filled and sorted on `threads` threads, a range of buckets each.
pub(super) fn repeated(pseudonyms: &[Pseudonym], threads: usize) -> Vec<Vec<usize>> {
    let prefix = |p: &Pseudonym| {
        let mut first = [0u8; 8];
        first.copy_from_slice(&p.as_bytes()[..8]);
        u64::from_be_bytes(first)
    };
    let bucket = |k: u64| (k >> (64 - BUCKET_BITS)) as usize;
    // Each thread takes a range of buckets: it reads every row, keeps the
    // ones in its range, and sorts their buckets, with nothing shared.
    let threads = threads.clamp(1, 64);
    let buckets = 1usize << BUCKET_BITS;
    let mut groups: Vec<Vec<usize>> = std::thread::scope(|scope| {
        let running: Vec<_> = (0..threads)
            .map(|t| {
                let range = buckets * t / threads..buckets * (t + 1) / threads;
                scope.spawn(move || {
                    let mut starts = vec![0usize; range.len() + 1];
                    for p in pseudonyms {
                        let b = bucket(prefix(p));
                        if range.contains(&b) {
                            starts[b - range.start + 1] += 1;
                        }
                    }
                    for b in 1..starts.len() {
                        starts[b] += starts[b - 1];
                    }
                    let mut next = starts.clone();
                    let mut keyed = vec![(0u64, 0usize); starts[range.len()]];
                    for (i, p) in pseudonyms.iter().enumerate() {
                        let k = prefix(p);
                        let b = bucket(k);
                        if range.contains(&b) {
                            let slot = &mut next[b - range.start];
                            keyed[*slot] = (k, i);
                            *slot += 1;
                        }
                    }
                    let mut groups = Vec::new();
                    for b in 0..range.len() {
                        sorted_groups(
                            &mut keyed[starts[b]..starts[b + 1]],
                            pseudonyms,
                            &mut groups,
                        );
                    }
                    groups
                })
            })
            .collect();
        running
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    groups.sort_unstable_by_key(|g| g[0]);
    groups
}

/// Sorts one bucket of (prefix, row) and adds its repeated pseudonyms'
/// rows to `groups`.
fn sorted_groups(
    part: &mut [(u64, usize)],
    pseudonyms: &[Pseudonym],
    groups: &mut Vec<Vec<usize>>,
) {
    part.sort_unstable();
    for run in part.chunk_by(|x, y| x.0 == y.0).filter(|r| r.len() > 1) {
        // Equal prefixes: group by the whole pseudonym.
        let mut rows: Vec<usize> = run.iter().map(|&(_, i)| i).collect();
        rows.sort_by_key(|&i| (*pseudonyms[i].as_bytes(), i));
        let same = |x: &usize, y: &usize| pseudonyms[*x] == pseudonyms[*y];
        groups.extend(
            rows.chunk_by(same)
                .filter(|g| g.len() > 1)
                .map(<[usize]>::to_vec),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn p(bytes: [u8; 16]) -> Pseudonym {
        Pseudonym::from_bytes(bytes)
    }

    #[test]
    fn every_repeated_pseudonym_is_one_group_in_row_order() {
        // Random pseudonyms, some repeated; a pair that shares its first
        // eight bytes but differs after them; one person three times.
        let mut rows = Pseudonym::scattered(5_000, 0x9E37_79B9_7F4A_7C15);
        for (from, to) in [(10, 4_000), (77, 78), (3, 2_999), (3, 4_999)] {
            rows[to] = rows[from];
        }
        let mut twin = *rows[100].as_bytes();
        twin[15] ^= 1;
        rows[200] = p(twin);

        let mut expected: BTreeMap<[u8; 16], Vec<usize>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            expected.entry(*r.as_bytes()).or_default().push(i);
        }
        let mut expected: Vec<Vec<usize>> =
            expected.into_values().filter(|g| g.len() > 1).collect();
        expected.sort_by_key(|g| g[0]);
        assert_eq!(
            expected,
            [vec![3, 2_999, 4_999], vec![10, 4_000], vec![77, 78]]
        );
        for threads in [1, 2, 3] {
            assert_eq!(repeated(&rows, threads), expected, "{threads} threads");
            assert!(repeated(&[], threads).is_empty());
        }
    }
}
