//! Tables the attacker cannot exclude, and the intervals they prove.
//!
//! Responsible for witnesses (whole tables that satisfy every equation and
//! a-priori bound and agree with every released cell), checking one
//! against a pattern, and the per-cell range the accepted witnesses span.
//! Not responsible for finding witnesses: every linear program of the
//! check leaves one behind (its optimal table).
//!
//! The feasible tables form a convex set, so the attacker can exclude
//! neither a witness nor any mixture of witnesses: for every cell, the
//! smallest and largest value over the witnesses lie inside the attacker's
//! interval. A protection both of whose targets the witnesses reach is met
//! without solving anything. Withholding more cells only removes
//! constraints, so a witness stays valid as the pattern grows; the
//! secondary suppression collects them as it goes, and the release gate
//! checks each one against the final pattern before it counts.

use super::{AttackerError, CellFacts, Interval, Table};

/// Feasibility tolerance of a witness, in units of the scale its linear
/// program was solved at: ten times `microlp`'s absolute tolerance (1e-7).
/// Too tight costs only speed: a rejected witness is replaced by a solve.
const FEASIBILITY: f64 = 1e-6;

/// A table given by how it differs from the true one, on withheld cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Witness {
    /// `(cell, value - true value)`, ascending by cell, no zeros.
    deltas: Vec<(usize, f64)>,
}

impl Witness {
    /// The table with `values[i]` in cell `cells[i]` and the true values
    /// elsewhere.
    pub(crate) fn from_values(facts: &[CellFacts], cells: &[usize], values: &[f64]) -> Self {
        let mut deltas: Vec<(usize, f64)> = cells
            .iter()
            .zip(values)
            .map(|(&c, &v)| (c, v - facts[c].value))
            .filter(|&(_, d)| d != 0.0)
            .collect();
        deltas.sort_unstable_by_key(|&(c, _)| c);
        Witness { deltas }
    }
}

/// The witnesses accepted so far, and the range of each cell over them.
#[derive(Debug, Clone)]
pub(crate) struct Evidence {
    /// Per cell: smallest and largest value over the witnesses (the true
    /// table included).
    range: Vec<Interval>,
    witnesses: Vec<Witness>,
    /// Tolerance of an equation's or bound's violation.
    tolerance: f64,
    /// Working state of [`Evidence::offer`]: a witness's deltas, densely,
    /// and the equations already checked.
    delta: Vec<f64>,
    seen: Vec<bool>,
}

impl Evidence {
    /// Only the true table.
    pub(crate) fn new(table: &Table<'_>) -> Self {
        let facts = table.facts();
        let numbers = facts.iter().flat_map(|f| [f.value, f.lower, f.upper]);
        let scale = super::lp::scale_for(super::lp::max_finite_abs(numbers));
        Evidence {
            range: facts
                .iter()
                .map(|f| Interval {
                    lo: f.value,
                    hi: f.value,
                })
                .collect(),
            witnesses: Vec::new(),
            tolerance: FEASIBILITY * scale,
            delta: vec![0.0; facts.len()],
            seen: vec![false; table.equations().len()],
        }
    }

    /// Evidence from those of `witnesses` that hold on the pattern
    /// `withheld` (see [`Evidence::offer`]).
    pub(crate) fn verified(
        table: &Table<'_>,
        withheld: &[bool],
        witnesses: impl IntoIterator<Item = Witness>,
    ) -> Result<Self, AttackerError> {
        table.check_pattern(withheld)?;
        let mut evidence = Evidence::new(table);
        for witness in witnesses {
            evidence.offer(table, withheld, witness);
        }
        Ok(evidence)
    }

    /// The range the witnesses span for `cell`.
    pub(crate) fn range(&self, cell: usize) -> Interval {
        self.range[cell]
    }

    /// The witnesses, in the order they were accepted.
    pub(crate) fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }

    /// Takes the witness if it holds on `withheld`: it moves only withheld
    /// cells, keeps each within its a-priori bounds and satisfies every
    /// equation, up to the tolerance. Returns whether it was taken.
    pub(crate) fn offer(&mut self, table: &Table<'_>, withheld: &[bool], witness: Witness) -> bool {
        if !self.holds(table, withheld, &witness) {
            return false;
        }
        for &(cell, delta) in &witness.deltas {
            let value = table.facts()[cell].value + delta;
            let range = &mut self.range[cell];
            range.lo = range.lo.min(value);
            range.hi = range.hi.max(value);
        }
        self.witnesses.push(witness);
        true
    }

    fn holds(&mut self, table: &Table<'_>, withheld: &[bool], witness: &Witness) -> bool {
        let (facts, tolerance) = (table.facts(), self.tolerance);
        let in_bounds = witness.deltas.iter().all(|&(c, d)| {
            let value = facts.get(c).map_or(f64::NAN, |f| f.value + d);
            withheld.get(c) == Some(&true)
                && d.is_finite()
                && value >= facts[c].lower - tolerance
                && value <= facts[c].upper + tolerance
        });
        if !in_bounds {
            return false;
        }
        for &(c, d) in &witness.deltas {
            self.delta[c] = d;
        }
        let mut holds = true;
        let mut touched = Vec::new();
        'cells: for &(c, _) in &witness.deltas {
            for &e in table.equations_of(c) {
                if std::mem::replace(&mut self.seen[e], true) {
                    continue;
                }
                touched.push(e);
                let equation = &table.equations()[e];
                let parts: f64 = equation.parts.iter().map(|&p| self.delta[p]).sum();
                if (self.delta[equation.total] - parts).abs() > tolerance {
                    holds = false;
                    break 'cells;
                }
            }
        }
        for &(c, _) in &witness.deltas {
            self.delta[c] = 0.0;
        }
        for e in touched {
            self.seen[e] = false;
        }
        holds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::attacker::cube_equations;

    /// A 2×2 table with margins: a b | a+b, c d | c+d, then the column sums.
    fn two_by_two() -> (Vec<super::super::Equation>, Vec<CellFacts>) {
        let equations = cube_equations(&[2, 2]);
        // Positions (row-major, 3 per row): a b R1 / c d R2 / C1 C2 T.
        let values = [3.0, 40.0, 43.0, 30.0, 50.0, 80.0, 33.0, 90.0, 123.0];
        let facts = values
            .iter()
            .map(|&value| CellFacts {
                value,
                lower: 0.0,
                upper: f64::INFINITY,
            })
            .collect();
        (equations, facts)
    }

    /// The four interior cells withheld.
    fn interior_withheld() -> Vec<bool> {
        (0..9).map(|c| [0, 1, 3, 4].contains(&c)).collect()
    }

    #[test]
    fn a_witness_that_keeps_every_margin_is_accepted_and_spans_its_cells() {
        let (equations, facts) = two_by_two();
        let table = Table::new(&equations, &facts).unwrap();
        let withheld = interior_withheld();
        // a - 3, b + 3, c + 3, d - 3 keeps every margin.
        let witness = Witness::from_values(&facts, &[0, 1, 3, 4], &[0.0, 43.0, 33.0, 47.0]);
        let evidence = Evidence::verified(&table, &withheld, [witness]).unwrap();
        assert_eq!(evidence.witnesses().len(), 1);
        assert_eq!(evidence.range(0), Interval { lo: 0.0, hi: 3.0 });
        assert_eq!(evidence.range(4), Interval { lo: 47.0, hi: 50.0 });
        // A released cell spans only its value.
        assert_eq!(evidence.range(2), Interval { lo: 43.0, hi: 43.0 });
    }

    #[test]
    fn a_witness_is_refused_when_it_breaks_an_equation_a_bound_or_moves_a_released_cell() {
        let (equations, facts) = two_by_two();
        let table = Table::new(&equations, &facts).unwrap();
        let withheld = interior_withheld();
        let broken_margin = Witness::from_values(&facts, &[0, 1], &[0.0, 40.0]);
        let below_bound = Witness::from_values(&facts, &[0, 1, 3, 4], &[-1.0, 44.0, 34.0, 46.0]);
        let mut d_released = withheld.clone();
        d_released[4] = false;
        let valid = Witness::from_values(&facts, &[0, 1, 3, 4], &[0.0, 43.0, 33.0, 47.0]);
        for (witness, pattern) in [
            (broken_margin, &withheld),
            (below_bound, &withheld),
            (valid, &d_released),
        ] {
            let evidence = Evidence::verified(&table, pattern, [witness]).unwrap();
            assert!(evidence.witnesses().is_empty());
            assert_eq!(evidence.range(0), Interval { lo: 3.0, hi: 3.0 });
        }
    }

    #[test]
    fn a_violation_within_the_solvers_tolerance_is_accepted_and_one_beyond_it_is_not() {
        let (equations, facts) = two_by_two();
        let table = Table::new(&equations, &facts).unwrap();
        let withheld = interior_withheld();
        let near = Witness::from_values(&facts, &[0, 1, 3, 4], &[0.0, 43.0 + 1e-8, 33.0, 47.0]);
        let far = Witness::from_values(&facts, &[0, 1, 3, 4], &[0.0, 43.0 + 1e-4, 33.0, 47.0]);
        let evidence = Evidence::verified(&table, &withheld, [near, far]).unwrap();
        assert_eq!(evidence.witnesses().len(), 1);
    }
}
