//! The defender's witness problem: the cheapest set of released cells whose
//! change lets a protected cell reach its protection target.
//!
//! Responsible for one linear program over the whole table: every withheld
//! cell moves freely within its a-priori bounds, every released cell may move
//! away from its value within its bounds at `cost` per unit, and the
//! protected cell is pinned to `value - LPL` (or `value + UPL`). Withholding
//! the cells that moved lets the attacker see that table, so that side of the
//! protection is met. Not responsible for deciding when to use it.

use microlp::{ComparisonOp, OptimizationDirection, Problem, Variable};

use super::budget::lp_units;
use super::evidence::Witness as WitnessTable;
use super::lp::{max_finite_abs, merge_terms, scale_for};
use super::{cells_of, AttackerError, Side, Table, WorkBudget};

/// How one cell enters the witness problem.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// A withheld cell (or the pinned one): one variable.
    Free(Variable),
    /// A released cell: `value + up - down`.
    Moved {
        value: f64,
        up: Variable,
        down: Variable,
    },
}

/// The witness problem under construction.
struct Witness<'t> {
    table: &'t Table<'t>,
    problem: Problem,
    /// Divisor of every value and bound (a power of two).
    scale: f64,
    /// Divisor of every cost (a power of two).
    cost_scale: f64,
    /// Constraints added so far.
    rows: usize,
}

/// Released cells (ascending) to withhold so that `cell` can be seen at
/// `target`, and the table that shows it there once they are; `None` when
/// no table at all puts it there. The solve is charged to `work` before it
/// starts.
pub(crate) fn witness_support(
    table: &Table<'_>,
    withheld: &[bool],
    cost: &[f64],
    cell: usize,
    target: f64,
    work: &mut WorkBudget,
) -> Result<Option<(Vec<usize>, WitnessTable)>, AttackerError> {
    let facts = table.facts();
    let numbers = facts.iter().flat_map(|f| [f.value, f.lower, f.upper]);
    let mut witness = Witness {
        table,
        problem: Problem::new(OptimizationDirection::Minimize),
        scale: scale_for(max_finite_abs(numbers.chain([target]))),
        cost_scale: scale_for(max_finite_abs(cost.iter().copied())),
        rows: 0,
    };
    let slots: Vec<Slot> = (0..withheld.len())
        .map(|i| {
            if i == cell {
                Slot::Free(
                    witness
                        .problem
                        .add_var(0.0, scaled((target, target), witness.scale)),
                )
            } else {
                witness.add_slot(i, withheld[i], cost[i] * tie_break(i, withheld.len()))
            }
        })
        .collect();
    let vars: Vec<Variable> = slots.iter().flat_map(slot_vars).collect();
    for equation in table.equations() {
        witness.add_equation(&slots, &vars, cells_of(equation));
    }
    work.charge(lp_units(witness.rows, vars.len()))?;
    witness.support(&slots, cell)
}

/// Relative cost weight that makes equally cheap witnesses prefer lower
/// cell indices, so that the solver's choice among them does not matter.
fn tie_break(i: usize, cells: usize) -> f64 {
    const WEIGHT: f64 = 1e-6;
    1.0 + WEIGHT * i as f64 / cells as f64
}

/// The value the protected cell must be able to take on `side`.
pub(crate) fn target(value: f64, lower_level: f64, upper_level: f64, side: Side) -> f64 {
    match side {
        Side::Lower => value - lower_level,
        Side::Upper => value + upper_level,
    }
}

impl Witness<'_> {
    /// Adds the variables of cell `i`.
    fn add_slot(&mut self, i: usize, is_withheld: bool, cost: f64) -> Slot {
        let facts = self.table.facts()[i];
        if is_withheld {
            return Slot::Free(
                self.problem
                    .add_var(0.0, scaled((facts.lower, facts.upper), self.scale)),
            );
        }
        let room_up = (facts.upper - facts.value).max(0.0);
        let room_down = (facts.value - facts.lower).max(0.0);
        let cost = cost / self.cost_scale;
        Slot::Moved {
            value: facts.value,
            up: self
                .problem
                .add_var(cost, scaled((0.0, room_up), self.scale)),
            down: self
                .problem
                .add_var(cost, scaled((0.0, room_down), self.scale)),
        }
    }

    /// Adds `total - sum(parts) = 0` in terms of the slots.
    fn add_equation(
        &mut self,
        slots: &[Slot],
        vars: &[Variable],
        cells: impl Iterator<Item = usize>,
    ) {
        let mut terms = Vec::new();
        let mut rhs = 0.0;
        for (k, cell) in cells.enumerate() {
            let coef = if k == 0 { 1.0 } else { -1.0 };
            match slots[cell] {
                Slot::Free(var) => terms.push((var.idx(), coef)),
                Slot::Moved { value, up, down } => {
                    rhs -= coef * value;
                    terms.push((up.idx(), coef));
                    terms.push((down.idx(), -coef));
                }
            }
        }
        let row = merge_terms(terms);
        if !row.is_empty() {
            let row = row.into_iter().map(|(v, c)| (vars[v], c));
            self.problem
                .add_constraint(row, ComparisonOp::Eq, rhs / self.scale);
            self.rows += 1;
        }
    }

    /// Solves, and lists the released cells that the cheapest witness
    /// moves, with the witness (moves too small to count left out).
    fn support(
        self,
        slots: &[Slot],
        cell: usize,
    ) -> Result<Option<(Vec<usize>, WitnessTable)>, AttackerError> {
        let solved = self.problem.solve().and_then(|outcome| {
            // No time or node limit is set, so the solve cannot be interrupted.
            outcome
                .into_solution()
                .map_err(|_| microlp::Error::InternalError("interrupted".to_owned()))
        });
        let solution = match solved {
            Ok(solution) => solution,
            Err(microlp::Error::Infeasible) => return Ok(None),
            Err(source) => return Err(AttackerError::Solver { cell, source }),
        };
        let (mut moved, mut cells, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (i, slot) in slots.iter().enumerate() {
            match *slot {
                Slot::Free(var) => {
                    cells.push(i);
                    values.push(solution.var_value(var) * self.scale);
                }
                Slot::Moved { value, up, down } => {
                    let (up, down) = (solution.var_value(up), solution.var_value(down));
                    let change = (up + down) * self.scale;
                    if change > 1e-7 * value.abs().max(1.0) {
                        moved.push(i);
                        cells.push(i);
                        values.push(value + (up - down) * self.scale);
                    }
                }
            }
        }
        let witness = WitnessTable::from_values(self.table.facts(), &cells, &values);
        Ok(Some((moved, witness)))
    }
}

/// A pair of bounds divided by `scale`.
fn scaled((lower, upper): (f64, f64), scale: f64) -> (f64, f64) {
    (lower / scale, upper / scale)
}

/// The variables of a slot, in the order they were added to the problem.
fn slot_vars(slot: &Slot) -> Vec<Variable> {
    match *slot {
        Slot::Free(var) => vec![var],
        Slot::Moved { up, down, .. } => vec![up, down],
    }
}
