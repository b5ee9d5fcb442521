//! Greedy secondary cell suppression driven by the attacker check.
//!
//! Responsible for choosing extra cells to withhold until every protection
//! passes the check, preferring cheap cells, deterministically. Not
//! responsible for the primary pattern, the costs or the protection levels,
//! which the caller supplies. The result is a valid pattern, not a
//! minimum-cost one.
//!
//! Withholding a cell only relaxes the attacker's problem, so a protection
//! that passes keeps passing. Protections are therefore settled one at a time
//! in cell order, which gives the same pattern as re-running the full check
//! after every step and fixing its first failure, with far fewer solves.
//!
//! A step does not try released cells one by one: one cell rarely helps on
//! its own (a lone cell in a 2-D table needs three more forming a rectangle),
//! and trying every neighbour with a fresh linear program was too slow on
//! tables of a few thousand cells. Instead the witness problem
//! (`super::witness`) finds, in one solve, the cheapest set of cells whose
//! withholding protects the failing side, and all of them are withheld.

use super::witness::{target, witness_support};
use super::{
    AttackerError, CellFacts, Equation, Interval, Protection, Shortfall, Side, Table, WorkBudget,
};

/// Chooses additional cells to withhold so that `check` passes.
///
/// `withheld` holds the primary pattern on entry and the final pattern on
/// return; returns the newly withheld cells (ascending). `cost[i]` is the
/// information loss of withholding cell `i` (finite, `>= 0`). Same input,
/// same output.
///
/// Each step takes the lowest failing protected cell and its first failing
/// side (lower before upper) and withholds every released cell that the
/// cheapest witness table moves, cost weighted by how far each cell moves.
/// Fails with [`AttackerError::Unprotectable`] when no table at all lets the
/// cell reach its protection target. On error `withheld` holds the pattern
/// reached so far.
pub fn suppress_secondary(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &mut [bool],
    protections: &[Protection],
    cost: &[f64],
) -> Result<Vec<usize>, AttackerError> {
    let mut work = WorkBudget::unlimited();
    suppress_secondary_within(equations, facts, withheld, protections, cost, &mut work)
}

/// [`suppress_secondary`], charging every solve to `work`; fails with
/// [`AttackerError::OverBudget`] before the first solve that does not fit.
pub fn suppress_secondary_within(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &mut [bool],
    protections: &[Protection],
    cost: &[f64],
    work: &mut WorkBudget,
) -> Result<Vec<usize>, AttackerError> {
    let table = Table::new(equations, facts)?;
    table.check_pattern(withheld)?;
    check_costs(facts, cost)?;
    let protections = table.sorted_protections(protections)?;
    if let Some(p) = protections.iter().find(|p| !withheld[p.cell]) {
        return Err(AttackerError::ProtectedCellReleased { cell: p.cell });
    }
    let mut added = Vec::new();
    for protection in &protections {
        let step = Step {
            table: &table,
            protection,
            cost,
        };
        step.protect(withheld, &mut added, work)?;
    }
    added.sort_unstable();
    Ok(added)
}

/// Costs must cover every cell and be comparable numbers.
fn check_costs(facts: &[CellFacts], cost: &[f64]) -> Result<(), AttackerError> {
    if cost.len() != facts.len() || cost.iter().any(|c| !(c.is_finite() && *c >= 0.0)) {
        return Err(AttackerError::InvalidInput {
            reason: "costs must be one finite, non-negative number per cell".to_owned(),
        });
    }
    Ok(())
}

/// One protection being settled, with what every step needs.
struct Step<'s> {
    table: &'s Table<'s>,
    protection: &'s Protection,
    cost: &'s [f64],
}

impl Step<'_> {
    /// Withholds cells until the protection passes.
    fn protect(
        &self,
        withheld: &mut [bool],
        added: &mut Vec<usize>,
        work: &mut WorkBudget,
    ) -> Result<(), AttackerError> {
        let (table, protection) = (self.table, self.protection);
        let facts = table.facts()[protection.cell];
        let a_priori = Interval {
            lo: facts.lower,
            hi: facts.upper,
        };
        if !table.shortfall(protection, a_priori).is_met() {
            return Err(AttackerError::Unprotectable {
                cell: protection.cell,
            });
        }
        loop {
            let interval = table.interval(withheld, protection.cell, work)?;
            let shortfall = table.shortfall(protection, interval);
            if shortfall.is_met() {
                return Ok(());
            }
            for cell in self.pick(withheld, shortfall, work)? {
                debug_assert!(!withheld[cell]);
                withheld[cell] = true;
                added.push(cell);
            }
        }
    }

    /// The released cells to withhold next for a failing protection.
    fn pick(
        &self,
        withheld: &[bool],
        before: Shortfall,
        work: &mut WorkBudget,
    ) -> Result<Vec<usize>, AttackerError> {
        let (table, protection) = (self.table, self.protection);
        let side = if before.fails(Side::Lower) {
            Side::Lower
        } else {
            Side::Upper
        };
        let facts = table.facts()[protection.cell];
        // `protect` checked the target against the a-priori bounds up to the
        // check's tolerance; clamping removes that slack.
        let goal = target(facts.value, protection.lower, protection.upper, side)
            .clamp(facts.lower, facts.upper);
        match witness_support(table, withheld, self.cost, protection.cell, goal, work)? {
            None => Err(AttackerError::Unprotectable {
                cell: protection.cell,
            }),
            Some(cells) if !cells.is_empty() => Ok(cells),
            // The witness needs no change, yet the check failed: the two problems
            // disagree within round-off. Withholding one more cell keeps progress.
            Some(_) => cheapest_neighbour(table, withheld, protection, self.cost).map(|c| vec![c]),
        }
    }
}

/// The cheapest released cell sharing an equation with the cell's component.
fn cheapest_neighbour(
    table: &Table<'_>,
    withheld: &[bool],
    protection: &Protection,
    cost: &[f64],
) -> Result<usize, AttackerError> {
    let component = table.component(withheld, protection.cell);
    let candidates = table.released_neighbours(&component, withheld);
    let cheapest = candidates
        .into_iter()
        .min_by(|&a, &b| cost[a].total_cmp(&cost[b]).then(a.cmp(&b)));
    // A closed component: nothing left to withhold can reach this cell.
    cheapest.ok_or(AttackerError::Unprotectable {
        cell: protection.cell,
    })
}

#[cfg(test)]
mod tests;
