//! The work budget of an attacker check: how much linear programming one
//! table may cost before it is refused.
//!
//! Responsible for the unit of work, charging it before each solve, and
//! refusing a solve that would not fit. Not responsible for choosing the
//! budget (the engine's `TableLimits` does) nor for what a refusal tells the
//! analyst.
//!
//! # The unit
//!
//! A linear program with `m` constraint rows over `n` variables costs
//! `m · min(m, n) + n` units ([`lp_units`]). The simplex method takes about
//! `min(m, n)` pivots (measured: 0.9 to 1.4 pivots per row on the attacker and
//! witness problems of a three-way table), and each pivot updates a basis of
//! `m` rows; the `+ n` covers pricing on wide problems with few rows. On the
//! measured problems a unit costs about 0.23 µs on this project's 2-core
//! machine (0.15 to 0.25 µs per problem), so a million units is about a
//! quarter of a CPU-second.
//!
//! The unit is a function of the table and the policy only (the problems'
//! sizes), never of wall time, machine load or the solver's pivot count, so
//! the same request always gets the same answer. (`microlp` 0.7 offers a
//! time limit and, for integer problems only, a node limit, but no pivot
//! limit, so the solver itself cannot be stopped deterministically.) Work
//! is charged *before* each solve: a problem that does not fit is never
//! started, so a refused table stops at the first problem past its budget
//! instead of burning the CPU first. Before any solve, the primary pattern
//! gives a lower bound of the whole check's work, so most tables over the
//! budget are refused without solving anything.
//!
//! # The default
//!
//! [`DEFAULT_WORK`] is 25 million units, about six CPU-seconds. The largest
//! tables of the tests take 504,000 units (a 30×30 table with 40 small
//! cells, `tests/lp_large_table.rs`) and 49,000 through the server; the
//! demo's largest takes 19,000.
//!
//! A hypercube search (large tables, see `secondary`) is charged one unit
//! per 64 corners it will examine, before it starts. Settled by hypercubes
//! and checked by their witnesses, a three-way table of 1,936 cells with
//! 448 unsafe cells takes 66,000 units and 38 ms
//! (`examples/attacker_timing.rs`); one of 17,986 cells with 4,748 unsafe
//! cells takes 2.3 million units and 0.84 s. The linear programs alone
//! took 52 million units and 15.8 s for the first.

/// Work a table's check may take unless configured otherwise: see the
/// [module docs](self).
pub const DEFAULT_WORK: u64 = 25_000_000;

/// Units charged for one linear program of `rows` constraints over `vars`
/// variables: `rows · min(rows, vars) + vars`.
pub fn lp_units(rows: usize, vars: usize) -> u64 {
    let (m, n) = (rows as u64, vars as u64);
    m.saturating_mul(m.min(n)).saturating_add(n)
}

/// Work allowed to one check, and spent so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkBudget {
    limit: u64,
    spent: u64,
}

impl WorkBudget {
    /// A budget of `limit` units, none spent.
    pub fn new(limit: u64) -> Self {
        WorkBudget { limit, spent: 0 }
    }

    /// A budget that never runs out (for callers that bound work otherwise).
    pub fn unlimited() -> Self {
        Self::new(u64::MAX)
    }

    /// Units allowed in all.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Units charged so far.
    pub fn spent(&self) -> u64 {
        self.spent
    }

    /// Fails, charging nothing, unless `units` more would fit.
    pub fn ensure_room(&self, units: u64) -> Result<(), OverBudget> {
        match self.spent.checked_add(units) {
            Some(total) if total <= self.limit => Ok(()),
            total => Err(OverBudget {
                limit: self.limit,
                needed: total.unwrap_or(u64::MAX),
            }),
        }
    }

    /// Charges `units` of work about to be done; refuses, charging
    /// nothing, when they do not fit.
    pub fn charge(&mut self, units: u64) -> Result<(), OverBudget> {
        self.ensure_room(units)?;
        self.spent += units;
        Ok(())
    }
}

/// A check that needs more work than its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the attacker check needs more than the {limit} units of work allowed")]
pub struct OverBudget {
    /// The budget, in units.
    pub limit: u64,
    /// Units the check would have reached (a lower bound on what it needs).
    pub needed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_costs_rows_times_the_smaller_side_plus_its_variables() {
        assert_eq!(lp_units(0, 0), 0);
        assert_eq!(lp_units(2, 3), 2 * 2 + 3);
        assert_eq!(lp_units(3, 2), 3 * 2 + 2);
        // The three-way table's attacker problem: 266 rows over 378 cells.
        assert_eq!(lp_units(266, 378), 266 * 266 + 378);
        assert_eq!(lp_units(usize::MAX, usize::MAX), u64::MAX);
    }

    #[test]
    fn work_is_charged_until_the_next_charge_would_not_fit() {
        let mut budget = WorkBudget::new(10);
        budget.charge(4).unwrap();
        budget.charge(6).unwrap();
        assert_eq!(budget.spent(), 10);
        assert_eq!(
            budget.charge(1),
            Err(OverBudget {
                limit: 10,
                needed: 11
            })
        );
        // A refused charge spends nothing.
        assert_eq!(budget.spent(), 10);
        budget.charge(0).unwrap();
    }

    #[test]
    fn a_charge_that_would_overflow_is_refused() {
        let mut budget = WorkBudget::new(u64::MAX);
        budget.charge(u64::MAX).unwrap();
        let refused = budget.charge(1).unwrap_err();
        assert_eq!(refused.needed, u64::MAX);
        assert_eq!(budget.spent(), u64::MAX);
    }

    #[test]
    fn room_is_checked_without_spending() {
        let budget = WorkBudget::new(5);
        assert!(budget.ensure_room(5).is_ok());
        assert!(budget.ensure_room(6).is_err());
        assert_eq!(budget.spent(), 0);
    }
}
