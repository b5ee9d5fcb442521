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
use super::{in_parallel, split, Axis, Query, Variable};
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
            self.sums[i] += other.sums[i];
            self.units[i] += other.units[i];
            self.abs_sums[i] += other.abs_sums[i];
            self.signed[i] += other.signed[i];
            self.fractional_fixed[i] += other.fractional_fixed[i];
            self.min[i] = self.min[i].min(other.min[i]);
            self.max[i] = self.max[i].max(other.max[i]);
            self.top[i] = top_of_both(&self.top[i], &other.top[i]);
            if let (Some(mine), Some(theirs)) =
                (self.value_units.get_mut(i), other.value_units.get(i))
            {
                for (a, b) in mine.iter_mut().zip(theirs) {
                    *a += b;
                }
            }
        }
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

/// Accumulates a magnitude query while persons are scanned.
pub(super) struct MagnitudeAcc<'a> {
    spec: &'a MagnitudeSpec,
    key: &'a PrintKey,
    values: &'a [i64],
    households: Option<&'a [u32]>,
    stats: MagnitudeStats,
    /// Household unit: one [`Member`] per person.
    members: Vec<Member>,
}

impl<'a> MagnitudeAcc<'a> {
    pub(super) fn new(spec: &'a MagnitudeSpec, q: &Query<'a>, axes: &[Axis]) -> Self {
        let data = q.datasets[spec.variable.dataset];
        let values = match data.column(spec.variable.column) {
            ColumnData::Numbers(v) => v.as_slice(),
            ColumnData::Codes { .. } => panic!("a magnitude variable is numeric"),
        };
        let cells = axes.iter().map(|a| a.len() + 1).product();
        MagnitudeAcc {
            spec,
            key: q.print_key,
            values,
            households: data.households().filter(|_| spec.unit == Unit::Household),
            stats: MagnitudeStats::zeros(cells, spec.distinct_values.len()),
            members: Vec::new(),
        }
    }

    /// Adds `person` in the cell at flat index `cell`, whose covering cells
    /// are `covering`.
    pub(super) fn add_person(
        &mut self,
        person: crate::link::PersonNo,
        cell: usize,
        covering: &[usize],
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
        let fractional = signed * i128::from(draw.fraction);
        let s = &mut self.stats;
        for &i in covering {
            s.sums[i] += i128::from(value);
            s.signed[i] += signed;
            s.fractional_fixed[i] += fractional;
            s.min[i] = s.min[i].min(value);
            s.max[i] = s.max[i].max(value);
        }
        match self.households {
            None => {
                for &i in covering {
                    self.stats
                        .add_unit(i, i128::from(value), value, &self.spec.distinct_values);
                }
            }
            Some(households) => self.members.push(Member {
                household: households[row],
                cell: cell as u32,
                value,
            }),
        }
    }

    /// Adds another partition's persons (disjoint from this one's). Household
    /// members are kept until [`MagnitudeAcc::finish`], so a household split
    /// over partitions is still one unit.
    pub(super) fn merge(&mut self, other: MagnitudeAcc<'a>) {
        self.stats.merge(&other.stats);
        self.members.extend(other.members);
    }

    /// Aggregates household members per cell, then returns the statistics.
    ///
    /// The members are put in household order once (a counting sort over
    /// the dense household numbers); each household then adds one unit to
    /// every cell that covers any of its members, its contribution the sum
    /// of its members' values there. Households are disjoint units, so
    /// `threads` parts of them are aggregated side by side and merged.
    pub(super) fn finish(mut self, covering: &CoveringTable, threads: usize) -> MagnitudeStats {
        if self.members.is_empty() {
            return self.stats;
        }
        let members = by_household(std::mem::take(&mut self.members));
        let (cells, distinct) = (self.stats.sums.len(), &self.spec.distinct_values);
        let parts = household_parts(&members, threads);
        for part in in_parallel(&parts, |range| {
            let mut stats = MagnitudeStats::zeros(cells, distinct.len());
            add_households(&mut stats, &members[range], covering, distinct);
            stats
        }) {
            self.stats.merge(&part);
        }
        self.stats
    }
}

/// A person of a household-level variable, kept until the scan ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Member {
    household: u32,
    /// The flat index of the person's cell.
    cell: u32,
    value: i64,
}

/// One unit per household and covering cell, for `members` in household order.
fn add_households(
    stats: &mut MagnitudeStats,
    members: &[Member],
    covering: &CoveringTable,
    distinct: &[i64],
) {
    let mut cells: Vec<(usize, i64)> = Vec::new();
    for household in members.chunk_by(|a, b| a.household == b.household) {
        if let [only] = household {
            for &cell in covering.of(only.cell as usize) {
                stats.add_unit(cell, i128::from(only.value), only.value, distinct);
            }
            continue;
        }
        cells.clear();
        for m in household {
            cells.extend(covering.of(m.cell as usize).iter().map(|&c| (c, m.value)));
        }
        cells.sort_unstable_by_key(|&(cell, _)| cell);
        for group in cells.chunk_by(|a, b| a.0 == b.0) {
            let contribution: i128 = group.iter().map(|&(_, v)| i128::from(v)).sum();
            stats.add_unit(group[0].0, contribution, household[0].value, distinct);
        }
    }
}

/// `members` (in household order) cut into at most `parts` ranges that
/// never split a household.
fn household_parts(members: &[Member], parts: usize) -> Vec<std::ops::Range<usize>> {
    let mut cuts: Vec<usize> = split(members.len(), parts)
        .iter()
        .map(|r| r.start)
        .collect();
    cuts.push(members.len());
    for cut in &mut cuts[1..] {
        while *cut < members.len()
            && *cut > 0
            && members[*cut].household == members[*cut - 1].household
        {
            *cut += 1;
        }
    }
    cuts.windows(2)
        .map(|w| w[0]..w[1].max(w[0]))
        .filter(|r| !r.is_empty())
        .collect()
}

/// `members` with each household's members together, households ascending:
/// a least-significant-digit radix sort on the household number, 11 bits
/// a pass (a pass reads the members in order and writes them to 2,048
/// sequential streams, which stays in cache where a counting sort over
/// millions of households would not). A few members are sorted instead.
fn by_household(mut members: Vec<Member>) -> Vec<Member> {
    const BITS: u32 = 11;
    if members.len() < 1 << 12 {
        members.sort_by_key(|m| m.household);
        return members;
    }
    let highest = members.iter().map(|m| m.household).max().unwrap_or(0);
    let passes = (u32::BITS - highest.leading_zeros()).div_ceil(BITS);
    let mut other = vec![Member::default(); members.len()];
    for pass in 0..passes {
        let digit = |m: &Member| ((m.household >> (pass * BITS)) & ((1 << BITS) - 1)) as usize;
        let mut next = [0usize; 1 << BITS];
        for m in &members {
            next[digit(m)] += 1;
        }
        let mut at = 0;
        for slot in &mut next {
            (*slot, at) = (at, at + *slot);
        }
        for m in &members {
            let slot = &mut next[digit(m)];
            other[*slot] = *m;
            *slot += 1;
        }
        std::mem::swap(&mut members, &mut other);
    }
    members
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
        let acc = MagnitudeAcc {
            spec: &spec,
            key: &key,
            values: &[],
            households: None,
            stats: MagnitudeStats::zeros(cube.len(), distinct.len()),
            members: members.to_vec(),
        };
        acc.finish(&CoveringTable::new(cube.axes()), threads)
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
        // and over many household numbers (up to three passes).
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
            assert_eq!(by_household(members), expected);
        }
    }

    #[test]
    fn household_parts_never_split_a_household() {
        let members: Vec<Member> = [0, 0, 0, 1, 2, 2, 2, 2, 3]
            .into_iter()
            .map(|household| Member {
                household,
                ..Member::default()
            })
            .collect();
        for parts in 1..12 {
            let ranges = household_parts(&members, parts);
            assert_eq!(ranges.first().map(|r| r.start), Some(0));
            assert_eq!(ranges.last().map(|r| r.end), Some(members.len()));
            for w in ranges.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_ne!(
                    members[w[1].start].household,
                    members[w[1].start - 1].household
                );
            }
        }
    }
}
