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
//!
//! Every solve leaves a table behind that the attacker cannot exclude
//! (`super::evidence`); a side that such a table already reaches is settled
//! without solving. On large tables ([`Search::Boxes`]) a failing side first
//! takes the cheapest hypercube (`super::hypercube`), found by enumeration
//! without any solve, and falls back to the witness problem only where no
//! box has room. Boxes withhold more cells than the witness problem (about
//! three times as many secondaries on a 15×10×10 table with 448 unsafe
//! cells), and take milliseconds where the solves took seconds.

use super::budget::lp_units;
use super::evidence::{Evidence, Witness};
use super::hypercube::Geometry;
use super::witness::{target, witness_support};
use super::{AttackerError, CellFacts, Equation, Interval, Protection, Side, Table, WorkBudget};
use crate::tabulate::Axis;

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
    let search = Search::Exact;
    suppress_secondary_proven(equations, facts, withheld, protections, cost, &search, work)
        .map(|s| s.added)
}

/// What a secondary suppression did, and the tables that prove it.
#[derive(Debug, Clone)]
pub(crate) struct Suppressed {
    /// The newly withheld cells, ascending.
    pub(crate) added: Vec<usize>,
    /// Tables that hold on the final pattern (each checked when found),
    /// reaching the protection targets that no solve was needed for.
    pub(crate) witnesses: Vec<Witness>,
}

/// How a failing side of a protection finds the cells to withhold.
#[derive(Debug, Clone)]
pub(crate) enum Search<'a> {
    /// Solve the side, and when it fails, the witness problem over the
    /// whole table: the cheapest change, at the cost of two solves.
    Exact,
    /// First the cheapest hypercube of the cube along these axes, which
    /// needs no solve; the exact search only where no box has room.
    Boxes(Geometry<'a>),
}

/// Witness problems (over the whole table) larger than this, in work
/// units, make [`Search::for_table`] choose boxes: about 25 ms a solve.
pub(crate) const BOXES_ABOVE_UNITS: u64 = 100_000;

impl<'a> Search<'a> {
    /// Boxes when the table's witness problem is large, else exact.
    pub(crate) fn for_table(axes: &'a [Axis], equations: usize) -> Self {
        let geometry = Geometry::new(axes);
        if lp_units(equations, 2 * geometry.cells()) > BOXES_ABOVE_UNITS {
            Search::Boxes(geometry)
        } else {
            Search::Exact
        }
    }
}

/// [`suppress_secondary_within`] searching as `search` says, returning the
/// witnesses found on the way.
///
/// A side of a protection is settled without a solve when an earlier
/// table already reaches its target (see `super::evidence`).
pub(crate) fn suppress_secondary_proven(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &mut [bool],
    protections: &[Protection],
    cost: &[f64],
    search: &Search<'_>,
    work: &mut WorkBudget,
) -> Result<Suppressed, AttackerError> {
    let table = Table::new(equations, facts)?;
    table.check_pattern(withheld)?;
    check_costs(facts, cost)?;
    let protections = table.sorted_protections(protections)?;
    if let Some(p) = protections.iter().find(|p| !withheld[p.cell]) {
        return Err(AttackerError::ProtectedCellReleased { cell: p.cell });
    }
    let mut evidence = Evidence::new(&table);
    let mut added = Vec::new();
    for protection in &protections {
        let step = Step {
            table: &table,
            protection,
            cost,
            search,
        };
        step.protect(withheld, &mut added, &mut evidence, work)?;
    }
    added.sort_unstable();
    Ok(Suppressed {
        added,
        witnesses: evidence.witnesses().to_vec(),
    })
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
    search: &'s Search<'s>,
}

impl Step<'_> {
    /// Withholds cells until the protection passes, lower side first.
    fn protect(
        &self,
        withheld: &mut [bool],
        added: &mut Vec<usize>,
        evidence: &mut Evidence,
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
        for side in [Side::Lower, Side::Upper] {
            while self.fails(evidence.range(protection.cell), side) {
                if let Search::Boxes(geometry) = self.search {
                    let goal = self.goal(side);
                    let found = geometry.cheapest_box(
                        table,
                        withheld,
                        self.cost,
                        protection.cell,
                        goal,
                        work,
                    )?;
                    if let Some((cells, witness)) = found {
                        self.withhold(&cells, withheld, added);
                        if evidence.offer(table, withheld, witness) {
                            continue;
                        }
                    }
                }
                let (bound, witness) = table.solve_side(withheld, protection.cell, side, work)?;
                if let Some(witness) = witness {
                    evidence.offer(table, withheld, witness);
                }
                let mut solved = evidence.range(protection.cell);
                match side {
                    Side::Lower => solved.lo = solved.lo.min(bound),
                    Side::Upper => solved.hi = solved.hi.max(bound),
                }
                if !self.fails(solved, side) {
                    break;
                }
                let (cells, witness) = self.pick(withheld, side, work)?;
                self.withhold(&cells, withheld, added);
                if !evidence.offer(table, withheld, witness) && cells.is_empty() {
                    // The witness needs no change, yet the check failed and
                    // the witness does not hold: the problems disagree
                    // within round-off. One more cell keeps progress.
                    let cell = cheapest_neighbour(table, withheld, protection, self.cost)?;
                    self.withhold(&[cell], withheld, added);
                }
            }
        }
        Ok(())
    }

    /// Whether `interval` leaves the protection failing on `side`.
    fn fails(&self, interval: Interval, side: Side) -> bool {
        self.table.shortfall(self.protection, interval).fails(side)
    }

    /// The value the protected cell must be seen at on `side`.
    fn goal(&self, side: Side) -> f64 {
        let (p, facts) = (self.protection, self.table.facts()[self.protection.cell]);
        // `protect` checked the target against the a-priori bounds up to the
        // check's tolerance; clamping removes that slack.
        target(facts.value, p.lower, p.upper, side).clamp(facts.lower, facts.upper)
    }

    /// Withholds released `cells`.
    fn withhold(&self, cells: &[usize], withheld: &mut [bool], added: &mut Vec<usize>) {
        for &cell in cells {
            debug_assert!(!withheld[cell]);
            withheld[cell] = true;
            added.push(cell);
        }
    }

    /// The released cells to withhold next for a protection failing on
    /// `side`, and the table that shows the side met once they are.
    fn pick(
        &self,
        withheld: &[bool],
        side: Side,
        work: &mut WorkBudget,
    ) -> Result<(Vec<usize>, Witness), AttackerError> {
        let (table, protection) = (self.table, self.protection);
        let goal = self.goal(side);
        witness_support(table, withheld, self.cost, protection.cell, goal, work)?.ok_or(
            AttackerError::Unprotectable {
                cell: protection.cell,
            },
        )
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
