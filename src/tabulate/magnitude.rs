//! Sums of a numeric variable per cell, with each distinct unit's
//! contribution: the material of the dominance, p% and value-count rules.
//!
//! A person-level variable has one unit per person. A household-level
//! variable's unit is the household: its contribution to a cell is its value
//! times the number of its members in that cell, so a rich household with
//! three members in a cell is one large contributor, not three.
//!
//! Each unit also draws, once per variable, a sign and a fraction from its
//! own keyed draw ([`PrintKey::draw`]); the cell sums `Σ sign·value` and
//! `Σ sign·fraction·value` let the disclosure code perturb every unit's
//! value by its own factor without seeing the units (see
//! [`MagnitudeStats::signed`]).

use super::cube::CoveringTable;
use super::{in_parallel, Axis, Query, Scratch, Variable};
use crate::columns::ColumnData;
use crate::ledger::{PrintKey, UnitKind, FRACTION_ONE};
use crate::schema::Unit;

/// Largest unit contributions kept per cell (enough for (n,k)-dominance
/// with n ≤ 4 and the p% rule).
pub const TOP_CONTRIBUTIONS: usize = 4;

/// The numeric variable of a magnitude query.
#[derive(Clone, Debug)]
pub struct MagnitudeSpec {
    /// The variable summed.
    pub variable: Variable,
    /// Whose value it is.
    pub unit: Unit,
    /// The variable's distinct values, ascending, when there are few enough
    /// to check the table as counts of each value; empty otherwise.
    pub distinct_values: Vec<i64>,
    /// Separates the units' draws for this variable from their draws for
    /// any other.
    pub salt: u64,
}

/// Per-cell sums and unit contributions (margins included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MagnitudeStats {
    /// Sum of the variable over the cell's persons.
    pub sums: Vec<i128>,
    /// Distinct contributing units.
    pub units: Vec<u64>,
    /// The largest absolute unit contributions, descending.
    pub top: Vec<[u128; TOP_CONTRIBUTIONS]>,
    /// Sum of the absolute unit contributions.
    pub abs_sums: Vec<u128>,
    /// Units per distinct value (indexed like `distinct_values`), when few.
    pub value_units: Vec<Vec<u64>>,
    /// `Σ sign·value` over the cell's persons, each with the sign drawn by
    /// its unit (±1).
    pub signed: Vec<i128>,
    /// `Σ sign·fraction·value` in fixed point (the fraction in `[0, 1)`
    /// drawn by the unit, times 2^32: exact, so partial sums merge in any
    /// order). A unit's value perturbed by `1 + sign·(min + (max −
    /// min)·fraction)` sums to `sum + min·signed + (max − min)·fractional`
    /// over a cell; see [`MagnitudeStats::fractional`].
    pub fractional_fixed: Vec<i128>,
    /// Smallest and largest unit value in the cell (`i64::MAX`/`MIN` when empty).
    pub min: Vec<i64>,
    /// See `min`.
    pub max: Vec<i64>,
}

impl MagnitudeStats {
    fn zeros(cells: usize, distinct: usize) -> Self {
        MagnitudeStats {
            sums: vec![0; cells],
            units: vec![0; cells],
            top: vec![[0; TOP_CONTRIBUTIONS]; cells],
            abs_sums: vec![0; cells],
            value_units: if distinct == 0 {
                Vec::new()
            } else {
                vec![vec![0; distinct]; cells]
            },
            signed: vec![0; cells],
            fractional_fixed: vec![0; cells],
            min: vec![i64::MAX; cells],
            max: vec![i64::MIN; cells],
        }
    }

    /// `Σ sign·fraction·value` of cell `i`.
    pub fn fractional(&self, i: usize) -> f64 {
        self.fractional_fixed[i] as f64 / FRACTION_ONE
    }

    /// Adds the statistics of disjoint units (another partition's).
    pub(super) fn merge(&mut self, other: &MagnitudeStats) {
        for i in 0..self.sums.len() {
            self.merge_cell(i, other, i);
        }
    }

    /// Adds `other`'s cell `j`, of units disjoint from those of cell `i`,
    /// into cell `i`.
    fn merge_cell(&mut self, i: usize, other: &MagnitudeStats, j: usize) {
        self.sums[i] += other.sums[j];
        self.units[i] += other.units[j];
        self.abs_sums[i] += other.abs_sums[j];
        self.signed[i] += other.signed[j];
        self.fractional_fixed[i] += other.fractional_fixed[j];
        self.min[i] = self.min[i].min(other.min[j]);
        self.max[i] = self.max[i].max(other.max[j]);
        self.top[i] = top_of_both(&self.top[i], &other.top[j]);
        if let (Some(mine), Some(theirs)) = (self.value_units.get_mut(i), other.value_units.get(j))
        {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }

    /// Every cell and margin from statistics gathered in the category
    /// cells `leaves` only, whose units are disjoint (a unit in two category
    /// cells is not in these statistics): each margin is the merge of the
    /// category cells it covers.
    fn spread(&self, covering: &CoveringTable, leaves: &[usize]) -> MagnitudeStats {
        let mut out = MagnitudeStats::zeros(self.sums.len(), self.distinct());
        for &leaf in leaves {
            for &cell in covering.of(leaf) {
                out.merge_cell(cell, self, leaf);
            }
        }
        out
    }

    /// Distinct values counted per cell.
    fn distinct(&self) -> usize {
        self.value_units.first().map_or(0, Vec::len)
    }

    /// Whether every unit of cell `i` has the same value (and there is one).
    pub fn all_equal(&self, i: usize) -> bool {
        self.units[i] > 0 && self.min[i] == self.max[i]
    }

    fn add_unit(&mut self, cell: usize, contribution: i128, value: i64, distinct: &[i64]) {
        self.units[cell] += 1;
        let abs = contribution.unsigned_abs();
        self.abs_sums[cell] += abs;
        let top = &mut self.top[cell];
        if let Some(pos) = top.iter().position(|&t| abs > t) {
            top.copy_within(pos..TOP_CONTRIBUTIONS - 1, pos + 1);
            top[pos] = abs;
        }
        if !self.value_units.is_empty() {
            if let Ok(i) = distinct.binary_search(&value) {
                self.value_units[cell][i] += 1;
            }
        }
    }
}

/// The largest of two top lists of disjoint units, descending.
fn top_of_both(
    a: &[u128; TOP_CONTRIBUTIONS],
    b: &[u128; TOP_CONTRIBUTIONS],
) -> [u128; TOP_CONTRIBUTIONS] {
    let mut both = [0; 2 * TOP_CONTRIBUTIONS];
    both[..TOP_CONTRIBUTIONS].copy_from_slice(a);
    both[TOP_CONTRIBUTIONS..].copy_from_slice(b);
    both.sort_unstable_by(|x, y| y.cmp(x));
    let mut out = [0; TOP_CONTRIBUTIONS];
    out.copy_from_slice(&both[..TOP_CONTRIBUTIONS]);
    out
}

/// Accumulates a magnitude query while persons are scanned, into the
/// category cells only: the margins are merged from them at the end.
pub(super) struct MagnitudeAcc<'a> {
    spec: &'a MagnitudeSpec,
    key: &'a PrintKey,
    values: &'a [i64],
    households: Option<&'a [u32]>,
    /// Per category cell: the persons' sums and, for a person-level
    /// variable, their units.
    stats: MagnitudeStats,
    /// Household unit: one [`Member`] per person, in buckets by the high
    /// bits of the household number (`household >> shift`), each a range
    /// of households small enough to sort in cache. A merge appends the
    /// other part's buckets: bucket `j` is every entry `k` with
    /// `k % buckets == j`.
    members: Vec<Vec<Member>>,
    buckets: usize,
    shift: u32,
    /// Where the member buffers come from and go back to, if anywhere.
    scratch: Option<&'a Scratch>,
}

/// Household buckets of [`MagnitudeAcc`]: at most this many.
const BUCKET_BITS: u32 = 8;

/// The shift that cuts household numbers below `bound` into at most
/// 2^[`BUCKET_BITS`] buckets, and how many buckets that makes.
fn buckets_below(bound: u32) -> (u32, usize) {
    let bits = u32::BITS - bound.saturating_sub(1).leading_zeros();
    let shift = bits.saturating_sub(BUCKET_BITS);
    (shift, (bound.saturating_sub(1) >> shift) as usize + 1)
}

impl<'a> MagnitudeAcc<'a> {
    /// An empty accumulator for at most about `persons` persons (its
    /// buckets are sized for them, so that they do not grow by copying).
    pub(super) fn new(
        spec: &'a MagnitudeSpec,
        q: &Query<'a>,
        axes: &[Axis],
        persons: usize,
    ) -> Self {
        let data = q.datasets[spec.variable.dataset];
        let values = match data.column(spec.variable.column) {
            ColumnData::Numbers(v) => v.as_slice(),
            ColumnData::Codes { .. } => panic!("a magnitude variable is numeric"),
        };
        let cells = axes.iter().map(|a| a.len() + 1).product();
        let households = data.households().filter(|_| spec.unit == Unit::Household);
        let (shift, buckets) = match households {
            Some(_) => buckets_below(data.household_bound()),
            None => (0, 0),
        };
        // Persons fall into buckets about evenly; a quarter more keeps most
        // buckets from growing.
        let capacity = persons / buckets.max(1) * 5 / 4;
        MagnitudeAcc {
            spec,
            key: q.print_key,
            values,
            households,
            stats: MagnitudeStats::zeros(cells, spec.distinct_values.len()),
            members: match q.scratch {
                Some(scratch) => scratch.take(buckets, capacity),
                None => (0..buckets).map(|_| Vec::with_capacity(capacity)).collect(),
            },
            buckets,
            shift,
            scratch: q.scratch,
        }
    }

    /// Adds `person` in the category cell at flat index `leaf`; `rows` is
    /// the person's row in each of the query's datasets.
    pub(super) fn add_person(
        &mut self,
        person: crate::link::PersonNo,
        leaf: usize,
        rows: &[usize],
    ) {
        let row = rows[self.spec.variable.dataset];
        let value = self.values[row];
        let draw = match self.households {
            Some(households) => self
                .key
                .draw(UnitKind::Household, households[row], self.spec.salt),
            None => self.key.draw(UnitKind::Person, person, self.spec.salt),
        };
        let signed = if draw.negative {
            -i128::from(value)
        } else {
            i128::from(value)
        };
        let s = &mut self.stats;
        s.sums[leaf] += i128::from(value);
        s.signed[leaf] += signed;
        s.fractional_fixed[leaf] += signed * i128::from(draw.fraction);
        s.min[leaf] = s.min[leaf].min(value);
        s.max[leaf] = s.max[leaf].max(value);
        match self.households {
            None => s.add_unit(leaf, i128::from(value), value, &self.spec.distinct_values),
            Some(households) => {
                let household = households[row];
                self.members[(household >> self.shift) as usize].push(Member {
                    household,
                    cell: leaf as u32,
                    value,
                });
            }
        }
    }

    /// Adds another partition's persons (disjoint from this one's). Household
    /// members are kept until [`MagnitudeAcc::finish`], so a household split
    /// over partitions is still one unit.
    pub(super) fn merge(&mut self, other: MagnitudeAcc<'a>) {
        self.stats.merge(&other.stats);
        self.members.extend(other.members);
    }

    /// Every cell's statistics, margins included; `leaves` are the category
    /// cells that hold persons.
    ///
    /// Each bucket's members are put in household order (a radix sort in
    /// cache) and aggregated, the buckets shared among `threads` threads. A
    /// household whose members are all in one category cell is one unit
    /// there, its contribution their values' sum. One spread over several
    /// category cells is a unit of its own in every cell that covers any of
    /// its members, with the sum of its members' values there. Then each
    /// margin merges the category cells it covers.
    pub(super) fn finish(
        mut self,
        covering: &CoveringTable,
        leaves: &[usize],
        threads: usize,
    ) -> MagnitudeStats {
        if self.members.iter().all(Vec::is_empty) {
            self.give_back();
            return self.stats.spread(covering, leaves);
        }
        let (cells, distinct) = (self.stats.sums.len(), &self.spec.distinct_values);
        let (members, buckets) = (&self.members, self.buckets);
        let threads = threads.clamp(1, buckets);
        let ranges: Vec<std::ops::Range<usize>> = (0..threads).map(|t| t..t + 1).collect();
        let parts = in_parallel(&ranges, |t| {
            let mut within = MagnitudeStats::zeros(cells, distinct.len());
            let mut across = MagnitudeStats::zeros(cells, distinct.len());
            for j in (t.start..buckets).step_by(threads) {
                let bucket: Vec<&[Member]> = members
                    .iter()
                    .skip(j)
                    .step_by(buckets)
                    .map(Vec::as_slice)
                    .collect();
                let sorted = by_household(&bucket);
                add_households(&mut within, &mut across, &sorted, covering, distinct);
            }
            (within, across)
        });
        self.give_back();
        let mut across = MagnitudeStats::zeros(cells, distinct.len());
        for (w, a) in &parts {
            self.stats.merge(w);
            across.merge(a);
        }
        let mut out = self.stats.spread(covering, leaves);
        out.merge(&across);
        out
    }

    /// Hands the member buffers to the scratch, if there is one.
    fn give_back(&mut self) {
        let members = std::mem::take(&mut self.members);
        if let Some(scratch) = self.scratch {
            scratch.give(members);
        }
    }
}

/// A person of a household-level variable, kept until the scan ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Member {
    household: u32,
    /// The flat index of the person's cell.
    cell: u32,
    value: i64,
}

/// One unit per household, for `members` in household order: into
/// `within` at its category cell when all its members are in one, else
/// into `across` at every cell that covers any of them.
fn add_households(
    within: &mut MagnitudeStats,
    across: &mut MagnitudeStats,
    members: &[Member],
    covering: &CoveringTable,
    distinct: &[i64],
) {
    let mut cells: Vec<(usize, i64)> = Vec::new();
    for household in members.chunk_by(|a, b| a.household == b.household) {
        let first = household[0];
        if household.iter().all(|m| m.cell == first.cell) {
            let contribution: i128 = household.iter().map(|m| i128::from(m.value)).sum();
            within.add_unit(first.cell as usize, contribution, first.value, distinct);
            continue;
        }
        cells.clear();
        for m in household {
            cells.extend(covering.of(m.cell as usize).iter().map(|&c| (c, m.value)));
        }
        cells.sort_unstable_by_key(|&(cell, _)| cell);
        for group in cells.chunk_by(|a, b| a.0 == b.0) {
            let contribution: i128 = group.iter().map(|&(_, v)| i128::from(v)).sum();
            across.add_unit(group[0].0, contribution, first.value, distinct);
        }
    }
}

/// The members of `parts` with each household's members together,
/// households ascending (stable): a least-significant-digit radix sort on
/// the bits in which the household numbers differ, at most 12 a pass. A
/// few members are sorted instead.
fn by_household(parts: &[&[Member]]) -> Vec<Member> {
    const MAX_BITS: u32 = 12;
    let n: usize = parts.iter().map(|p| p.len()).sum();
    if n < 1 << 12 {
        let mut sorted = parts.concat();
        sorted.sort_by_key(|m| m.household);
        return sorted;
    }
    let all = || parts.iter().flat_map(|p| p.iter());
    let (lowest, highest) = all().fold((u32::MAX, 0), |(lo, hi), m| {
        (lo.min(m.household), hi.max(m.household))
    });
    // Numbers between two that agree above a bit agree there too.
    let bits = (u32::BITS - (highest ^ lowest).leading_zeros()).max(1);
    let passes = bits.div_ceil(MAX_BITS);
    let width = bits.div_ceil(passes);
    let mut from: Vec<Member> = Vec::new();
    let mut to = vec![Member::default(); n];
    for pass in 0..passes {
        let shift = pass * width;
        if pass == 0 {
            radix_pass(all(), &mut to, shift, width);
        } else {
            radix_pass(from.iter(), &mut to, shift, width);
        }
        if pass + 1 < passes && from.is_empty() {
            from = vec![Member::default(); n];
        }
        std::mem::swap(&mut from, &mut to);
    }
    from
}

/// One pass of [`by_household`]: `source` into `to` by the `width` bits
/// of the household number from bit `shift`, stably.
fn radix_pass<'m>(
    source: impl Iterator<Item = &'m Member> + Clone,
    to: &mut [Member],
    shift: u32,
    width: u32,
) {
    let digit = |m: &Member| ((m.household >> shift) & ((1 << width) - 1)) as usize;
    let mut next = vec![0usize; 1 << width];
    for m in source.clone() {
        next[digit(m)] += 1;
    }
    let mut at = 0;
    for slot in &mut next {
        (*slot, at) = (at, at + *slot);
    }
    for m in source {
        let slot = &mut next[digit(m)];
        to[*slot] = *m;
        *slot += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::super::cube::{covering_indices, strides, CountCube};
    use super::*;
    use std::collections::BTreeMap;

    /// The statistics `finish` adds for household units, computed directly:
    /// per covering cell, per household, the sum of its members' values.
    fn direct(cube: &CountCube, members: &[Member], distinct: &[i64]) -> MagnitudeStats {
        let mut per_cell: BTreeMap<(usize, u32), (i128, i64)> = BTreeMap::new();
        let mut covering = Vec::new();
        for m in members {
            let cell: Vec<usize> = cube
                .coordinates(m.cell as usize)
                .into_iter()
                .flatten()
                .collect();
            covering_indices(cube.axes(), &strides(cube.sizes()), &cell, &mut covering);
            for &c in &covering {
                let e = per_cell.entry((c, m.household)).or_insert((0, m.value));
                e.0 += i128::from(m.value);
            }
        }
        let mut stats = MagnitudeStats::zeros(cube.len(), distinct.len());
        for ((cell, _), (contribution, value)) in per_cell {
            stats.add_unit(cell, contribution, value, distinct);
        }
        stats
    }

    fn finished(
        cube: &CountCube,
        members: &[Member],
        distinct: &[i64],
        threads: usize,
    ) -> MagnitudeStats {
        let spec = MagnitudeSpec {
            variable: Variable {
                dataset: 0,
                column: 0,
            },
            unit: Unit::Household,
            distinct_values: distinct.to_vec(),
            salt: 0,
        };
        let key = PrintKey::from_bytes([7; 16]);
        let bound = members.iter().map(|m| m.household + 1).max().unwrap_or(0);
        let (shift, count) = buckets_below(bound);
        let mut buckets = vec![Vec::new(); count];
        for m in members {
            buckets[(m.household >> shift) as usize].push(*m);
        }
        let mut leaves: Vec<usize> = members.iter().map(|m| m.cell as usize).collect();
        leaves.sort_unstable();
        leaves.dedup();
        let acc = MagnitudeAcc {
            spec: &spec,
            key: &key,
            values: &[],
            households: None,
            stats: MagnitudeStats::zeros(cube.len(), distinct.len()),
            members: buckets,
            buckets: count,
            shift,
            scratch: None,
        };
        acc.finish(&CoveringTable::new(cube.axes()), &leaves, threads)
    }

    #[test]
    fn households_are_one_unit_per_covering_cell_however_sorted_and_split() {
        // Categories 0, 1 under subtotal 3, category 2 under subtotal 4; × 2.
        let axes = vec![Axis::new(3, vec![3, 3, 4, 5, 5]).unwrap(), Axis::flat(2)];
        let cube = CountCube::with_axes(axes);
        let distinct = [10, 20, 30];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        // Few members (sorted), then enough for the radix sort, over few
        // and over many household numbers (up to two passes).
        for (count, households) in [(400, 40), (400, 100_000), (5_000, 300), (5_000, 5_000_000)] {
            let members: Vec<Member> = (0..count)
                .map(|_| {
                    let h = next(households) as u32;
                    let cell = [Some(next(3) as usize), Some(next(2) as usize)];
                    Member {
                        household: h,
                        cell: cube.index(&cell) as u32,
                        value: [10, 20, 30, 1_000][(h % 4) as usize],
                    }
                })
                .collect();
            let expected = direct(&cube, &members, &distinct);
            for threads in [1, 2, 3, 7] {
                assert_eq!(finished(&cube, &members, &distinct, threads), expected);
            }
        }
    }

    #[test]
    fn the_radix_sort_orders_members_by_household() {
        let mut state = 88_172_645_463_325_252u64;
        for (n, bound) in [
            (10, 7),
            (5_000, 1 << 11),
            (5_000, 1 << 22),
            (9_000, u32::MAX),
        ] {
            let members: Vec<Member> = (0..n)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    Member {
                        household: (state % u64::from(bound)) as u32,
                        cell: i,
                        value: i64::from(i),
                    }
                })
                .collect();
            let mut expected = members.clone();
            expected.sort_by_key(|m| (m.household, m.cell));
            // Stable: members of a household keep their order.
            assert_eq!(by_household(&[&members]), expected);
        }
    }
}
