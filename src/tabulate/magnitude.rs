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

use super::{Axis, Query, Variable};
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
    axes: Vec<Axis>,
    /// Household unit: (interior cell coordinates, household, value) per person.
    members: Vec<([u32; super::MAX_DIMENSIONS], u32, i64)>,
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
            axes: axes.to_vec(),
            members: Vec::new(),
        }
    }

    /// Adds `person` in interior cell `cell`, whose covering cells are `covering`.
    pub(super) fn add_person(
        &mut self,
        person: crate::link::PersonNo,
        cell: &[usize],
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
            Some(households) => {
                let mut coords = [0u32; super::MAX_DIMENSIONS];
                for (c, &x) in coords.iter_mut().zip(cell) {
                    *c = x as u32;
                }
                self.members.push((coords, households[row], value));
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

    /// Aggregates household members per cell, then returns the statistics.
    pub(super) fn finish(mut self, strides: &[usize]) -> MagnitudeStats {
        if self.members.is_empty() {
            return self.stats;
        }
        // Every category has the same number of covering cells, in the
        // same order of margins: take one margin at a time, so that the
        // members are sorted once per margin rather than all together.
        let margins: usize = self.axes.iter().map(|a| a.chain(0).len()).product();
        let mut keyed: Vec<(usize, u32, i64)> = Vec::with_capacity(self.members.len());
        for margin in 0..margins {
            keyed.clear();
            for (coords, household, value) in &self.members {
                let index = margin_index(&self.axes, strides, coords, margin);
                keyed.push((index, *household, *value));
            }
            keyed.sort_unstable_by_key(|&(cell, household, _)| (cell, household));
            for group in keyed.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
                let (cell, _, value) = group[0];
                let contribution: i128 = group.iter().map(|m| i128::from(m.2)).sum();
                self.stats
                    .add_unit(cell, contribution, value, &self.spec.distinct_values);
            }
        }
        self.stats
    }
}

/// The flat index of covering cell number `margin` of the category at
/// `coords`, in the order of `cube::covering_indices` (dimension 0's chain
/// varies fastest).
fn margin_index(
    axes: &[Axis],
    strides: &[usize],
    coords: &[u32; super::MAX_DIMENSIONS],
    mut margin: usize,
) -> usize {
    let mut index = 0;
    for (d, axis) in axes.iter().enumerate() {
        let chain = axis.chain(coords[d] as usize);
        index += chain[margin % chain.len()] * strides[d];
        margin /= chain.len();
    }
    index
}

#[cfg(test)]
mod tests {
    use super::super::cube::{covering_indices, strides};
    use super::{margin_index, Axis};

    #[test]
    fn margins_are_numbered_as_the_covering_cells_are() {
        // Categories 0, 1 under subtotal 3, category 2 under subtotal 4; × 2.
        let axes = [Axis::new(3, vec![3, 3, 4, 5, 5]).unwrap(), Axis::flat(2)];
        let sizes: Vec<usize> = axes.iter().map(Axis::len).collect();
        let strides = strides(&sizes);
        let mut covering = Vec::new();
        for (a, b) in [(0, 0), (1, 1), (2, 0)] {
            covering_indices(&axes, &strides, &[a, b], &mut covering);
            let mut coords = [0u32; super::super::MAX_DIMENSIONS];
            (coords[0], coords[1]) = (a as u32, b as u32);
            let by_margin: Vec<usize> = (0..covering.len())
                .map(|m| margin_index(&axes, &strides, &coords, m))
                .collect();
            assert_eq!(by_margin, covering);
        }
    }
}
