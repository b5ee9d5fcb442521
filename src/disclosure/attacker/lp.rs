//! The attacker's linear program over one component of withheld cells.
//!
//! Responsible for turning a component into `min x` / `max x` problems for
//! `microlp` and mapping its outcomes: unbounded directions become infinite
//! bounds, infeasibility becomes [`AttackerError::Inconsistent`]. Not responsible
//! for deciding which cells are withheld or what counts as safe.

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use super::budget::lp_units;
use super::evidence::Witness;
use super::{cells_of, AttackerError, CellFacts, Table};

/// Largest magnitude a linear program is solved at. `microlp`'s feasibility
/// tolerance is absolute (1e-7), so problems with larger numbers are scaled
/// down by a power of two, which is exact in floating point.
const SCALE_TARGET: f64 = 8192.0;

/// A power of two that brings `max_abs` to at most [`SCALE_TARGET`].
pub(crate) fn scale_for(max_abs: f64) -> f64 {
    if max_abs.is_finite() && max_abs > SCALE_TARGET {
        // The exponent of a finite f64 ratio lies well within i32.
        2f64.powi((max_abs / SCALE_TARGET).log2().ceil() as i32)
    } else {
        1.0
    }
}

/// The largest finite magnitude among `numbers` (0 when there is none).
pub(crate) fn max_finite_abs(numbers: impl IntoIterator<Item = f64>) -> f64 {
    numbers
        .into_iter()
        .filter(|x| x.is_finite())
        .fold(0.0, |m, x| m.max(x.abs()))
}

/// Which end of the attacker's interval to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The minimum (`lo`).
    Lower,
    /// The maximum (`hi`).
    Upper,
}

/// One equation with withheld cells as variables: `sum(coef * var) = rhs`.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    terms: Vec<(usize, f64)>,
    rhs: f64,
}

/// The attacker problem for one target cell, over the target's component.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttackerLp {
    /// Withheld cells, ascending; variable `i` is `cells[i]`.
    cells: Vec<usize>,
    /// Position of the target cell in `cells`.
    target: usize,
    rows: Vec<Row>,
    /// Divisor applied to every bound and right-hand side when solving.
    scale: f64,
}

impl AttackerLp {
    /// Builds the problem for the withheld `cell`.
    pub(crate) fn build(table: &Table<'_>, withheld: &[bool], cell: usize) -> Self {
        let component = table.component(withheld, cell);
        let mut rows = Vec::with_capacity(component.equations.len());
        for &e in &component.equations {
            let row = build_row(table, withheld, &component.cells, e);
            // A withheld cell can cancel out (listed as total and as part):
            // what remains involves released cells only, which the check
            // takes as consistent, like equations with no withheld cell.
            if !row.terms.is_empty() {
                rows.push(row);
            }
        }
        let target = position(&component.cells, cell);
        let bounds = component.cells.iter().flat_map(|&c| {
            let facts = table.facts()[c];
            [facts.lower, facts.upper]
        });
        let scale = scale_for(max_finite_abs(rows.iter().map(|r| r.rhs).chain(bounds)));
        Self {
            cells: component.cells,
            target,
            rows,
            scale,
        }
    }

    /// Work units of one solve (none when no equation constrains the cell).
    pub(crate) fn units(&self) -> u64 {
        if self.rows.is_empty() {
            0
        } else {
            lp_units(self.rows.len(), self.cells.len())
        }
    }

    /// The minimum or maximum of the target cell; infinite when unbounded.
    pub(crate) fn solve(&self, facts: &[CellFacts], side: Side) -> Result<f64, AttackerError> {
        self.solve_with_witness(facts, side).map(|(bound, _)| bound)
    }

    /// [`AttackerLp::solve`], with the optimal table when there is one
    /// (none when the bound is infinite or no equation constrains the cell).
    pub(crate) fn solve_with_witness(
        &self,
        facts: &[CellFacts],
        side: Side,
    ) -> Result<(f64, Option<Witness>), AttackerError> {
        let cell = self.cells[self.target];
        if self.rows.is_empty() {
            return Ok((a_priori(&facts[cell], side), None));
        }
        let mut problem = Problem::new(match side {
            Side::Lower => OptimizationDirection::Minimize,
            Side::Upper => OptimizationDirection::Maximize,
        });
        let vars: Vec<_> = self
            .cells
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let objective = if i == self.target { 1.0 } else { 0.0 };
                problem.add_var(
                    objective,
                    (facts[c].lower / self.scale, facts[c].upper / self.scale),
                )
            })
            .collect();
        for row in &self.rows {
            let terms = row.terms.iter().map(|&(v, coef)| (vars[v], coef));
            problem.add_constraint(terms, ComparisonOp::Eq, row.rhs / self.scale);
        }
        let solved = problem.solve().and_then(|outcome| {
            // No time or node limit is set, so the solve cannot be interrupted.
            outcome
                .into_solution()
                .map_err(|_| microlp::Error::InternalError("interrupted".to_owned()))
        });
        match solved {
            Ok(solution) => {
                let values: Vec<f64> = vars
                    .iter()
                    .map(|&v| solution.var_value(v) * self.scale)
                    .collect();
                let witness = Witness::from_values(facts, &self.cells, &values);
                Ok((values[self.target], Some(witness)))
            }
            Err(microlp::Error::Unbounded) => Ok((unbounded(side), None)),
            Err(microlp::Error::Infeasible) => Err(AttackerError::Inconsistent { cell }),
            Err(source) => Err(AttackerError::Solver { cell, source }),
        }
    }
}

/// Equation `e` as `total - sum(parts) = 0`, released cells moved to the right.
fn build_row(table: &Table<'_>, withheld: &[bool], cells: &[usize], e: usize) -> Row {
    let equation = table.equation(e);
    let mut terms = Vec::with_capacity(equation.parts.len() + 1);
    let mut rhs = 0.0;
    for (k, cell) in cells_of(equation).enumerate() {
        let coef = if k == 0 { 1.0 } else { -1.0 };
        if withheld[cell] {
            terms.push((position(cells, cell), coef));
        } else {
            rhs -= coef * table.facts()[cell].value;
        }
    }
    Row {
        terms: merge_terms(terms),
        rhs,
    }
}

/// Adds up repeated variables and drops those whose coefficients cancel.
pub(crate) fn merge_terms(mut terms: Vec<(usize, f64)>) -> Vec<(usize, f64)> {
    terms.sort_by_key(|&(v, _)| v);
    let mut merged: Vec<(usize, f64)> = Vec::with_capacity(terms.len());
    for (v, coef) in terms {
        match merged.last_mut() {
            Some(last) if last.0 == v => last.1 += coef,
            _ => merged.push((v, coef)),
        }
    }
    merged.retain(|&(_, coef)| coef != 0.0);
    merged
}

/// Position of a withheld cell of the component in its sorted cell list.
fn position(cells: &[usize], cell: usize) -> usize {
    // A withheld cell of a component equation is in the component by
    // construction of `Table::component`, so the search cannot fail.
    cells
        .binary_search(&cell)
        .expect("withheld cell of a component equation is in the component")
}

/// The a-priori bound on one side.
fn a_priori(facts: &CellFacts, side: Side) -> f64 {
    match side {
        Side::Lower => facts.lower,
        Side::Upper => facts.upper,
    }
}

/// The bound of an unbounded direction.
fn unbounded(side: Side) -> f64 {
    match side {
        Side::Lower => f64::NEG_INFINITY,
        Side::Upper => f64::INFINITY,
    }
}
