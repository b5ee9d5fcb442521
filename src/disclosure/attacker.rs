//! Attacker check of a table with withheld cells, by linear programming.
//!
//! Responsible for: the additivity equations of a table cube, the interval an
//! attacker can derive for a cell from the released values, the equations and
//! the a-priori bounds, and the check of those intervals against protection
//! levels. Greedy secondary suppression driven by this check lives in
//! `secondary` and is re-exported as [`suppress_secondary`].
//!
//! Not responsible for: primary disclosure rules, choosing protection levels,
//! bounds or costs, perturbation, or any I/O. Released values are taken as
//! exact, which is conservative when the real release is perturbed.
//!
//! The attacker problem has one variable per withheld cell; released cells are
//! constants on the right-hand side. It separates into connected components
//! (withheld cells linked by equations that contain them), and a cell's
//! interval depends only on its own component, so each linear program is built
//! over that component alone. Consistency of the facts is therefore checked
//! only for the components that are solved.
//!
//! Every solve, and every hypercube search, is charged to a [`WorkBudget`]
//! before it starts (see [`budget`]); the functions without one run
//! unbounded.
//!
//! The release gate (`check_proven`) takes tables the attacker cannot
//! exclude (witnesses, left behind by every solve and every hypercube of
//! the suppression), checks each against the final pattern itself, and
//! solves only the protection sides no accepted witness reaches. A witness
//! is a proof that does not depend on how it was found, so the gate stays
//! independent of the search while a pattern found by hypercubes needs no
//! solve at all.

pub mod budget;
mod evidence;
mod hypercube;
mod lp;
mod secondary;
mod witness;

#[cfg(test)]
mod fixtures;

pub use budget::{OverBudget, WorkBudget};
pub use secondary::{suppress_secondary, suppress_secondary_within};

pub(crate) use evidence::Witness;
pub(crate) use lp::Side;
pub(crate) use secondary::{suppress_secondary_proven, Search};

use evidence::Evidence;

use crate::tabulate::Axis;

/// Relative tolerance of the protection check, scaled by `max(1, |value|)`.
const REL_TOL: f64 = 1e-6;

/// Additivity: `total` equals the sum of `parts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equation {
    /// The cell holding the sum.
    pub total: usize,
    /// The cells being summed.
    pub parts: Vec<usize>,
}

/// What the attacker knows a priori about one cell, and its true value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellFacts {
    /// The true value (released as is when the cell is not withheld).
    pub value: f64,
    /// A-priori lower bound; may be `f64::NEG_INFINITY`.
    pub lower: f64,
    /// A-priori upper bound; may be `f64::INFINITY`.
    pub upper: f64,
}

/// A protection requirement for a primary (rule-withheld) cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Protection {
    /// The protected cell.
    pub cell: usize,
    /// Lower protection level (LPL): the attacker's minimum must be at most `value - lower`.
    pub lower: f64,
    /// Upper protection level (UPL): the attacker's maximum must be at least `value + upper`.
    pub upper: f64,
}

/// The range of values an attacker cannot exclude for a cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Smallest feasible value; may be `f64::NEG_INFINITY`.
    pub lo: f64,
    /// Largest feasible value; may be `f64::INFINITY`.
    pub hi: f64,
}

/// Why a check or a suppression could not be completed.
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum AttackerError {
    /// The inputs do not describe a table (lengths, indices or numbers are wrong).
    #[error("invalid check input: {reason}")]
    InvalidInput {
        /// What is wrong, without any cell value.
        reason: String,
    },
    /// The released values, the equations and the a-priori bounds admit no table.
    #[error(
        "the released values, equations and a-priori bounds are inconsistent around cell {cell}"
    )]
    Inconsistent {
        /// The cell whose attacker problem turned out infeasible.
        cell: usize,
    },
    /// The linear programming solver failed numerically.
    #[error("the LP solver failed on the attacker problem of cell {cell}")]
    Solver {
        /// The cell whose attacker problem failed.
        cell: usize,
        /// The solver's own error.
        #[source]
        source: microlp::Error,
    },
    /// No pattern can meet this protection: no table that satisfies the
    /// equations and the a-priori bounds puts the cell at its protection target.
    #[error("cell {cell} cannot be protected: no consistent table reaches its protection target")]
    Unprotectable {
        /// The protected cell.
        cell: usize,
    },
    /// A protection names a cell that is released in the primary pattern.
    #[error("protected cell {cell} is not withheld in the primary pattern")]
    ProtectedCellReleased {
        /// The protected cell.
        cell: usize,
    },
    /// A solve panicked (a bug); the check fails closed.
    #[error("an attacker solve panicked")]
    Panicked,
    /// The check needs more work than its budget; stopped before the solve
    /// that would not fit.
    #[error(transparent)]
    OverBudget(#[from] OverBudget),
}

/// Equations of a table cube: `sizes[d]` categories along dimension d; along each dimension index `sizes[d]` is the total.
///
/// The flat index is row-major with the last dimension fastest, each dimension
/// having `sizes[d] + 1` positions. For every cell whose coordinate in
/// dimension `d` is the total, the equation sums the cells with that
/// coordinate replaced by `0..sizes[d]`. Equations come in cell order, then
/// dimension order.
pub fn cube_equations(sizes: &[usize]) -> Vec<Equation> {
    let axes: Vec<Axis> = sizes.iter().map(|&n| Axis::flat(n)).collect();
    axis_equations(&axes)
}

/// Equations of a table cube along `axes`: for every cell whose coordinate
/// in dimension `d` is a subtotal or the total, the cell equals the sum of
/// the cells with that coordinate replaced by each position directly under
/// it. With subtotals these are the published margins of every level, so
/// that no withheld cell can be recomputed from a parent's subtotal.
/// Equations come in cell order, then dimension order.
pub fn axis_equations(axes: &[Axis]) -> Vec<Equation> {
    let sizes: Vec<usize> = axes.iter().map(Axis::len).collect();
    let strides = strides(&sizes);
    let cells: usize = sizes.iter().map(|s| s + 1).product();
    let mut equations = Vec::new();
    for total in 0..cells {
        for (axis, &stride) in axes.iter().zip(&strides) {
            let coord = total / stride % (axis.len() + 1);
            let children = axis.children(coord);
            if !children.is_empty() {
                let base = total - coord * stride;
                let parts = children.iter().map(|&c| base + c * stride).collect();
                equations.push(Equation { total, parts });
            }
        }
    }
    equations
}

/// Distance in the flat index between neighbours along each dimension.
fn strides(sizes: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; sizes.len()];
    for d in (0..sizes.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * (sizes[d + 1] + 1);
    }
    strides
}

/// The attacker's interval for `cell` given which cells are withheld.
pub fn attacker_interval(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &[bool],
    cell: usize,
) -> Result<Interval, AttackerError> {
    let table = Table::new(equations, facts)?;
    table.check_pattern(withheld)?;
    table.check_cell(cell)?;
    table.interval(withheld, cell, &mut WorkBudget::unlimited())
}

/// Every protection that fails (empty = safe). Deterministic order (by cell index).
pub fn check(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &[bool],
    protections: &[Protection],
) -> Result<Vec<(Protection, Interval)>, AttackerError> {
    check_within(
        equations,
        facts,
        withheld,
        protections,
        &mut WorkBudget::unlimited(),
    )
}

/// [`check`], charging every solve to `work`.
pub fn check_within(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &[bool],
    protections: &[Protection],
    work: &mut WorkBudget,
) -> Result<Vec<(Protection, Interval)>, AttackerError> {
    let table = Table::new(equations, facts)?;
    table.check_pattern(withheld)?;
    let mut failures = Vec::new();
    for protection in table.sorted_protections(protections)? {
        let interval = table.interval(withheld, protection.cell, work)?;
        if !table.shortfall(&protection, interval).is_met() {
            failures.push((protection, interval));
        }
    }
    Ok(failures)
}

/// The work [`check_within`] charges for `withheld`, computed without
/// solving anything.
///
/// Withholding more cells only grows each cell's component, so on the
/// primary pattern this is a lower bound of what every later check of the
/// same protections costs.
pub fn check_work(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &[bool],
    protections: &[Protection],
) -> Result<u64, AttackerError> {
    let table = Table::new(equations, facts)?;
    table.check_pattern(withheld)?;
    let units = table
        .sorted_protections(protections)?
        .iter()
        .filter(|p| withheld[p.cell])
        .map(|p| 2 * lp::AttackerLp::build(&table, withheld, p.cell).units())
        .fold(0u64, u64::saturating_add);
    Ok(units)
}

/// A lower bound of the work of any secondary suppression of `withheld`:
/// one solve over each component of the pattern that holds a protection.
///
/// Each such component needs at least one solve before its first
/// protection is settled, over a component at least as large (components
/// only grow), and one solve over a union of components costs at least the
/// sum of their solves (the unit is superadditive over disjoint problems).
pub fn first_solve_work(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &[bool],
    protections: &[Protection],
) -> Result<u64, AttackerError> {
    let table = Table::new(equations, facts)?;
    table.check_pattern(withheld)?;
    let mut counted = vec![false; facts.len()];
    let mut units = 0u64;
    for p in table.sorted_protections(protections)? {
        if !withheld[p.cell] || counted[p.cell] {
            continue;
        }
        let component = table.component(withheld, p.cell);
        for &c in &component.cells {
            counted[c] = true;
        }
        units = units.saturating_add(lp::AttackerLp::build(&table, withheld, p.cell).units());
    }
    Ok(units)
}

/// The release gate: every protection that `withheld` fails (empty =
/// safe), in cell order.
///
/// A side of a protection is proven met when one of `witnesses` that holds
/// on `withheld` (checked here, whoever found it) reaches the side's
/// target; every side not proven so is solved, on `threads`. The solves
/// are charged to `work` in full before any starts, so the answer does not
/// depend on the number of threads.
pub(crate) fn check_proven(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &[bool],
    protections: &[Protection],
    witnesses: Vec<Witness>,
    threads: usize,
    work: &mut WorkBudget,
) -> Result<Vec<(Protection, Interval)>, AttackerError> {
    let table = Table::new(equations, facts)?;
    let evidence = Evidence::verified(&table, withheld, witnesses)?;
    let mut open = Vec::new();
    for protection in table.sorted_protections(protections)? {
        if !withheld[protection.cell] {
            return Err(AttackerError::ProtectedCellReleased {
                cell: protection.cell,
            });
        }
        let shortfall = table.shortfall(&protection, evidence.range(protection.cell));
        for side in [Side::Lower, Side::Upper] {
            if shortfall.fails(side) {
                open.push((protection, side));
            }
        }
    }
    let lps: Vec<lp::AttackerLp> = open
        .iter()
        .map(|(p, _)| lp::AttackerLp::build(&table, withheld, p.cell))
        .collect();
    work.charge(
        lps.iter()
            .map(lp::AttackerLp::units)
            .fold(0, u64::saturating_add),
    )?;
    let chunk = open.len().div_ceil(threads.max(1)).max(1);
    let bounds: Vec<Result<f64, AttackerError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = open
            .chunks(chunk)
            .zip(lps.chunks(chunk))
            .map(|(jobs, lps)| {
                scope.spawn(move || {
                    jobs.iter()
                        .zip(lps)
                        .map(|((_, side), lp)| lp.solve(facts, *side))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(bounds) => bounds,
                // A panicking solve is a bug; the gate fails closed.
                Err(_) => vec![Err(AttackerError::Panicked)],
            })
            .collect()
    });
    let mut failures: Vec<(Protection, Interval)> = Vec::new();
    for ((protection, side), bound) in open.iter().zip(bounds) {
        let bound = bound?;
        let mut interval = evidence.range(protection.cell);
        match side {
            Side::Lower => interval.lo = interval.lo.min(bound),
            Side::Upper => interval.hi = interval.hi.max(bound),
        }
        if table.shortfall(protection, interval).fails(*side) {
            match failures.last_mut() {
                Some((p, i)) if p.cell == protection.cell => {
                    i.hi = interval.hi;
                }
                _ => failures.push((*protection, interval)),
            }
        }
    }
    Ok(failures)
}

/// How far an attacker's interval falls short of a protection, per side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Shortfall {
    /// `lo - (value - LPL)`, or 0 when the lower side is met.
    pub(crate) lower: f64,
    /// `(value + UPL) - hi`, or 0 when the upper side is met.
    pub(crate) upper: f64,
    /// Amount below which a shortfall counts as met.
    pub(crate) tolerance: f64,
}

impl Shortfall {
    /// Whether the side still fails beyond the tolerance.
    pub(crate) fn fails(&self, side: Side) -> bool {
        self.on(side) > self.tolerance
    }

    /// The shortfall on one side.
    pub(crate) fn on(&self, side: Side) -> f64 {
        match side {
            Side::Lower => self.lower,
            Side::Upper => self.upper,
        }
    }

    /// Whether both sides are met.
    pub(crate) fn is_met(&self) -> bool {
        !self.fails(Side::Lower) && !self.fails(Side::Upper)
    }
}

/// Withheld cells linked to one cell through equations, and those equations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Component {
    /// Withheld cells, ascending.
    pub(crate) cells: Vec<usize>,
    /// Equations containing at least one of `cells`, ascending.
    pub(crate) equations: Vec<usize>,
}

/// Validated inputs plus the cell-to-equation incidence.
pub(crate) struct Table<'a> {
    equations: &'a [Equation],
    facts: &'a [CellFacts],
    by_cell: Vec<Vec<usize>>,
}

impl<'a> Table<'a> {
    /// Validates the facts and equations and indexes equations by cell.
    pub(crate) fn new(
        equations: &'a [Equation],
        facts: &'a [CellFacts],
    ) -> Result<Self, AttackerError> {
        if let Some(i) = facts.iter().position(|f| !facts_are_valid(f)) {
            return Err(invalid(format!(
                "facts of cell {i} are not a finite value with ordered bounds"
            )));
        }
        let mut by_cell = vec![Vec::new(); facts.len()];
        for (e, equation) in equations.iter().enumerate() {
            for cell in cells_of(equation) {
                let slot = by_cell.get_mut(cell).ok_or_else(|| {
                    invalid(format!("equation {e} names cell {cell} outside the table"))
                })?;
                if slot.last() != Some(&e) {
                    slot.push(e);
                }
            }
        }
        Ok(Self {
            equations,
            facts,
            by_cell,
        })
    }

    /// The facts of every cell.
    pub(crate) fn facts(&self) -> &[CellFacts] {
        self.facts
    }

    /// Checks that a pattern covers exactly the table's cells.
    pub(crate) fn check_pattern(&self, withheld: &[bool]) -> Result<(), AttackerError> {
        if withheld.len() != self.facts.len() {
            return Err(invalid(
                "the pattern and the facts differ in length".to_owned(),
            ));
        }
        Ok(())
    }

    /// Checks that a cell index lies in the table.
    fn check_cell(&self, cell: usize) -> Result<(), AttackerError> {
        if cell >= self.facts.len() {
            return Err(invalid(format!("cell {cell} is outside the table")));
        }
        Ok(())
    }

    /// Validated protections, sorted by cell (stable for equal cells).
    pub(crate) fn sorted_protections(
        &self,
        protections: &[Protection],
    ) -> Result<Vec<Protection>, AttackerError> {
        for p in protections {
            self.check_cell(p.cell)?;
            if !(p.lower >= 0.0 && p.upper >= 0.0 && p.lower.is_finite() && p.upper.is_finite()) {
                return Err(invalid(format!(
                    "protection levels of cell {} are not finite and >= 0",
                    p.cell
                )));
            }
        }
        let mut sorted = protections.to_vec();
        sorted.sort_by_key(|p| p.cell);
        Ok(sorted)
    }

    /// The attacker's interval for a cell (a point when it is released),
    /// both solves charged to `work` before either starts.
    pub(crate) fn interval(
        &self,
        withheld: &[bool],
        cell: usize,
        work: &mut WorkBudget,
    ) -> Result<Interval, AttackerError> {
        if !withheld[cell] {
            let value = self.facts[cell].value;
            return Ok(Interval {
                lo: value,
                hi: value,
            });
        }
        let lp = lp::AttackerLp::build(self, withheld, cell);
        work.charge(2 * lp.units())?;
        Ok(Interval {
            lo: lp.solve(self.facts, Side::Lower)?,
            hi: lp.solve(self.facts, Side::Upper)?,
        })
    }

    /// How far `interval` falls short of `protection`.
    pub(crate) fn shortfall(&self, protection: &Protection, interval: Interval) -> Shortfall {
        let value = self.facts[protection.cell].value;
        Shortfall {
            lower: (interval.lo - (value - protection.lower)).max(0.0),
            upper: ((value + protection.upper) - interval.hi).max(0.0),
            tolerance: REL_TOL * value.abs().max(1.0),
        }
    }

    /// The withheld cells linked to the withheld `cell`, with their equations.
    pub(crate) fn component(&self, withheld: &[bool], cell: usize) -> Component {
        let mut seen_cell = vec![false; self.facts.len()];
        let mut seen_equation = vec![false; self.equations.len()];
        let (mut cells, mut equations, mut stack) = (Vec::new(), Vec::new(), vec![cell]);
        seen_cell[cell] = true;
        while let Some(c) = stack.pop() {
            cells.push(c);
            for &e in &self.by_cell[c] {
                if std::mem::replace(&mut seen_equation[e], true) {
                    continue;
                }
                equations.push(e);
                for d in cells_of(&self.equations[e]) {
                    if withheld[d] && !std::mem::replace(&mut seen_cell[d], true) {
                        stack.push(d);
                    }
                }
            }
        }
        cells.sort_unstable();
        equations.sort_unstable();
        Component { cells, equations }
    }

    /// Released cells appearing in the component's equations, ascending.
    pub(crate) fn released_neighbours(
        &self,
        component: &Component,
        withheld: &[bool],
    ) -> Vec<usize> {
        let mut cells: Vec<usize> = component
            .equations
            .iter()
            .flat_map(|&e| cells_of(&self.equations[e]))
            .filter(|&c| !withheld[c])
            .collect();
        cells.sort_unstable();
        cells.dedup();
        cells
    }

    /// The equations that contain `cell`, ascending.
    pub(crate) fn equations_of(&self, cell: usize) -> &[usize] {
        &self.by_cell[cell]
    }

    /// One end of the attacker's interval for the withheld `cell`, with the
    /// table that attains it when there is one; charged to `work` before
    /// the solve starts.
    pub(crate) fn solve_side(
        &self,
        withheld: &[bool],
        cell: usize,
        side: Side,
        work: &mut WorkBudget,
    ) -> Result<(f64, Option<Witness>), AttackerError> {
        let lp = lp::AttackerLp::build(self, withheld, cell);
        work.charge(lp.units())?;
        lp.solve_with_witness(self.facts, side)
    }

    /// The equation with index `e`.
    fn equation(&self, e: usize) -> &Equation {
        &self.equations[e]
    }

    /// Every equation of the table.
    pub(crate) fn equations(&self) -> &[Equation] {
        self.equations
    }
}

/// Every cell of an equation, total first.
fn cells_of(equation: &Equation) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(equation.total).chain(equation.parts.iter().copied())
}

/// A finite value and bounds with `lower <= upper` that can bound a variable.
fn facts_are_valid(f: &CellFacts) -> bool {
    f.value.is_finite()
        && f.lower <= f.upper
        && f.lower < f64::INFINITY
        && f.upper > f64::NEG_INFINITY
}

/// Shorthand for [`AttackerError::InvalidInput`].
fn invalid(reason: String) -> AttackerError {
    AttackerError::InvalidInput { reason }
}

#[cfg(test)]
mod tests;
