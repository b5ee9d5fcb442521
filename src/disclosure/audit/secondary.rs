//! Greedy secondary cell suppression driven by the attacker audit.
//!
//! Responsible for choosing extra cells to withhold until every protection
//! passes the audit, preferring cheap cells, deterministically. Not
//! responsible for the primary pattern, the costs or the protection levels,
//! which the caller supplies. The result is a valid pattern, not a
//! minimum-cost one.
//!
//! Withholding a cell only relaxes the attacker's problem, so a protection
//! that passes keeps passing. Protections are therefore settled one at a time
//! in cell order, which gives the same pattern as re-running the full audit
//! after every step and fixing its first failure, with far fewer solves.

use super::{AuditError, CellFacts, Equation, Interval, Protection, Shortfall, Side, Table};

/// Chooses additional cells to withhold so that `audit` passes.
///
/// `withheld` holds the primary pattern on entry and the final pattern on
/// return; returns the newly withheld cells (ascending). `cost[i]` is the
/// information loss of withholding cell `i`. Same input, same output: ties
/// are broken by cell index.
///
/// Each step takes the lowest failing protected cell and, among the released
/// cells sharing an equation with its component of withheld cells, withholds
/// the cheapest one that widens a failing side of its interval, or the
/// cheapest one when none does (a single cell often cannot help, a cycle of
/// them can). Released cells outside those equations cannot change the
/// cell's linear program, so they are never tried. On error `withheld` holds
/// the pattern reached so far.
pub fn suppress_secondary(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &mut [bool],
    protections: &[Protection],
    cost: &[f64],
) -> Result<Vec<usize>, AuditError> {
    let table = Table::new(equations, facts)?;
    table.check_pattern(withheld)?;
    check_costs(facts, cost)?;
    let protections = table.sorted_protections(protections)?;
    if let Some(p) = protections.iter().find(|p| !withheld[p.cell]) {
        return Err(AuditError::ProtectedCellReleased { cell: p.cell });
    }
    let mut added = Vec::new();
    for protection in &protections {
        protect(&table, withheld, protection, cost, &mut added)?;
    }
    added.sort_unstable();
    Ok(added)
}

/// Costs must cover every cell and be comparable numbers.
fn check_costs(facts: &[CellFacts], cost: &[f64]) -> Result<(), AuditError> {
    if cost.len() != facts.len() || cost.iter().any(|c| c.is_nan()) {
        return Err(AuditError::InvalidInput {
            reason: "costs must be one non-NaN number per cell".to_owned(),
        });
    }
    Ok(())
}

/// Withholds cells until `protection` passes.
fn protect(
    table: &Table<'_>,
    withheld: &mut [bool],
    protection: &Protection,
    cost: &[f64],
    added: &mut Vec<usize>,
) -> Result<(), AuditError> {
    let facts = table.facts()[protection.cell];
    let a_priori = Interval {
        lo: facts.lower,
        hi: facts.upper,
    };
    if !table.shortfall(protection, a_priori).is_met() {
        return Err(AuditError::Unprotectable {
            cell: protection.cell,
        });
    }
    loop {
        let interval = table.interval(withheld, protection.cell)?;
        let shortfall = table.shortfall(protection, interval);
        if shortfall.is_met() {
            return Ok(());
        }
        let cell = pick(table, withheld, protection, shortfall, cost)?;
        withheld[cell] = true;
        added.push(cell);
    }
}

/// The released cell to withhold next for a failing protection.
fn pick(
    table: &Table<'_>,
    withheld: &mut [bool],
    protection: &Protection,
    before: Shortfall,
    cost: &[f64],
) -> Result<usize, AuditError> {
    let component = table.component(withheld, protection.cell);
    let mut candidates = table.released_neighbours(&component, withheld);
    // The component is closed: nothing left to withhold can reach this cell.
    let Some(&cheapest) = candidates.iter().min_by(|&&a, &&b| by_cost(cost, a, b)) else {
        return Err(AuditError::Unprotectable {
            cell: protection.cell,
        });
    };
    candidates.sort_by(|&a, &b| by_cost(cost, a, b));
    for candidate in candidates {
        if widens(table, withheld, protection, before, candidate)? {
            return Ok(candidate);
        }
    }
    Ok(cheapest)
}

/// Cheaper first, then lower index.
fn by_cost(cost: &[f64], a: usize, b: usize) -> std::cmp::Ordering {
    cost[a].total_cmp(&cost[b]).then(a.cmp(&b))
}

/// Whether withholding `candidate` widens a failing side of the interval.
fn widens(
    table: &Table<'_>,
    withheld: &mut [bool],
    protection: &Protection,
    before: Shortfall,
    candidate: usize,
) -> Result<bool, AuditError> {
    withheld[candidate] = true;
    let result = widened_sides(table, withheld, protection, before);
    withheld[candidate] = false;
    result
}

/// Re-solves only the failing sides and compares them with `before`.
fn widened_sides(
    table: &Table<'_>,
    withheld: &[bool],
    protection: &Protection,
    before: Shortfall,
) -> Result<bool, AuditError> {
    for side in [Side::Lower, Side::Upper] {
        if !before.fails(side) {
            continue;
        }
        let bound = table.bound(withheld, protection.cell, side)?;
        let interval = match side {
            Side::Lower => Interval {
                lo: bound,
                hi: f64::INFINITY,
            },
            Side::Upper => Interval {
                lo: f64::NEG_INFINITY,
                hi: bound,
            },
        };
        let after = table.shortfall(protection, interval);
        if after.on(side) < before.on(side) - before.tolerance {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests;
