//! Secondary suppression of a judged table within its check limits, and
//! the release gate: the whole attacker check once more on the final
//! pattern. Not responsible for the primary rules or for publishing.

use super::{AttackerLimits, DisclosureError};
use crate::disclosure::attacker::{
    axis_equations, check_proven, first_solve_work, suppress_secondary_proven, AttackerError,
    CellFacts, Equation, Protection, Search, WorkBudget,
};
use crate::disclosure::primary::Judgement;
use crate::tabulate::Axis;
use crate::tabulate::TableStats;

/// What the attacker check of a table works on.
#[derive(Debug)]
pub(super) struct AttackerInput {
    axes: Vec<Axis>,
    equations: Vec<Equation>,
    facts: Vec<CellFacts>,
    /// The primary pattern.
    withheld: Vec<bool>,
    protections: Vec<Protection>,
    cost: Vec<f64>,
}

impl AttackerInput {
    pub(super) fn new(stats: &TableStats, judgements: &[Judgement], values: &[f64]) -> Self {
        let facts = judgements
            .iter()
            .zip(values)
            .map(|(j, &value)| CellFacts {
                value,
                lower: j.lower,
                upper: j.upper,
            })
            .collect();
        let protections = judgements
            .iter()
            .enumerate()
            .filter_map(|(cell, j)| {
                j.protection
                    .map(|(lower, upper)| Protection { cell, lower, upper })
            })
            .collect();
        // Prefer withholding small cells; a released zero (zeros not disclosive)
        // is a poor choice, since its status would tell it apart.
        let cost = values
            .iter()
            .map(|v| if *v == 0.0 { 1e12 } else { v.abs() + 1.0 })
            .collect();
        AttackerInput {
            axes: stats.cube.axes().to_vec(),
            equations: axis_equations(stats.cube.axes()),
            facts,
            withheld: judgements.iter().map(|j| j.status.is_withheld()).collect(),
            protections,
            cost,
        }
    }

    /// How secondary cells are searched for in this table.
    fn search(&self) -> Search<'_> {
        Search::for_table(&self.axes, self.equations.len())
    }

    /// A lower bound of the work of suppressing on the primary pattern:
    /// [`first_solve_work`] when every side is solved; none when boxes may
    /// settle every side without a solve.
    pub(super) fn primary_work(&self) -> Result<u64, DisclosureError> {
        match self.search() {
            Search::Exact => first_solve_work(
                &self.equations,
                &self.facts,
                &self.withheld,
                &self.protections,
            )
            .map_err(from_attacker),
            Search::Boxes(_) => Ok(0),
        }
    }

    /// Adds secondary suppressions until the attacker check passes, and
    /// checks it once more as the release gate; returns the added cells.
    pub(super) fn suppress(
        &self,
        limits: &AttackerLimits,
        work: &mut WorkBudget,
    ) -> Result<Vec<usize>, DisclosureError> {
        let mut withheld = self.withheld.clone();
        let suppressed = suppress_secondary_proven(
            &self.equations,
            &self.facts,
            &mut withheld,
            &self.protections,
            &self.cost,
            &self.search(),
            work,
        )
        .map_err(from_attacker)?;
        // The release gate: the whole attacker check once more, on the final
        // pattern, independent of how the pattern was found. The
        // suppression's tables count only where the gate finds that they
        // hold on the final pattern; every side they do not prove is solved.
        let failures = check_proven(
            &self.equations,
            &self.facts,
            &withheld,
            &self.protections,
            suppressed.witnesses,
            limits.threads,
            work,
        )
        .map_err(from_attacker)?;
        if let Some((p, _)) = failures.first() {
            return Err(DisclosureError::Unprotected { cell: p.cell });
        }
        Ok(suppressed.added)
    }
}

/// A check error as a disclosure error, an exceeded budget as such.
fn from_attacker(e: AttackerError) -> DisclosureError {
    match e {
        AttackerError::OverBudget(o) => DisclosureError::OverBudget(o.into()),
        AttackerError::Panicked => DisclosureError::AttackerPanicked,
        other => DisclosureError::Attacker(other),
    }
}

#[cfg(test)]
mod tests {
    use crate::disclosure::attacker::OverBudget;
    use crate::disclosure::{
        judge_table, protect_table, AttackerLimits, BudgetExceeded, CellStatus, DisclosureError,
        DisclosurePolicy, TableContext,
    };
    use crate::tabulate::{CountCube, TableStats};

    /// A 4×4 count table with margins; cells below 10 are unsafe.
    fn stats(interior: &[u64; 16]) -> TableStats {
        let mut cube = CountCube::zeros(vec![4, 4]);
        let mut values = interior.iter();
        for i in 0..cube.len() {
            if cube.is_interior(i) {
                let n = *values.next().expect("16 interior cells");
                cube.covering(i).into_iter().for_each(|c| cube.add(c, n));
            }
        }
        TableStats::of_counts(cube)
    }

    const THREE_SMALL: [u64; 16] = [3, 40, 50, 60, 45, 4, 55, 35, 70, 65, 5, 30, 25, 20, 15, 80];

    fn policy() -> DisclosurePolicy {
        DisclosurePolicy {
            perturbation: None,
            ..DisclosurePolicy::default()
        }
    }

    fn ctx() -> TableContext {
        TableContext::count_of_one_holder()
    }

    fn limits(work: u64, threads: usize) -> AttackerLimits {
        AttackerLimits {
            work,
            threads,
            ..AttackerLimits::default()
        }
    }

    #[test]
    fn the_work_and_the_pattern_do_not_depend_on_the_number_of_threads() {
        let s = stats(&THREE_SMALL);
        let one = protect_table(&s, &policy(), &ctx(), None, &limits(u64::MAX, 1)).unwrap();
        let four = protect_table(&s, &policy(), &ctx(), None, &limits(u64::MAX, 4)).unwrap();
        assert!(one.work > 0);
        assert_eq!(one.work, four.work);
        assert_eq!(one.cells, four.cells);
        let secondary = one
            .cells
            .iter()
            .filter(|c| c.status == CellStatus::WithheldSecondary);
        assert!(secondary.count() > 0);
    }

    #[test]
    fn a_table_without_unsafe_cells_needs_no_attacker_check_and_no_work() {
        let s = stats(&[20; 16]);
        let exact = policy();
        let judged = judge_table(&s, &exact, &ctx()).unwrap();
        assert!(!judged.needs_attacker_check());
        let protected = judged.protect(&limits(0, 1), None).unwrap();
        assert_eq!(protected.work, 0);
    }

    #[test]
    fn a_table_over_budget_is_refused_the_same_way_every_time_and_never_released() {
        let s = stats(&THREE_SMALL);
        let full = protect_table(&s, &policy(), &ctx(), None, &limits(u64::MAX, 1)).unwrap();
        for work in [0, full.work / 2, full.work - 1] {
            let refusals: Vec<_> = (0..2)
                .map(|_| protect_table(&s, &policy(), &ctx(), None, &limits(work, 2)).unwrap_err())
                .collect();
            for refused in &refusals {
                assert!(
                    matches!(refused, DisclosureError::OverBudget(BudgetExceeded::Work(OverBudget { limit, .. })) if *limit == work),
                    "{refused:?}"
                );
            }
            assert_eq!(format!("{:?}", refusals[0]), format!("{:?}", refusals[1]));
        }
        protect_table(&s, &policy(), &ctx(), None, &limits(full.work, 1)).unwrap();
    }

    #[test]
    fn the_up_front_check_refuses_without_solving_what_the_check_would_refuse_later() {
        let s = stats(&THREE_SMALL);
        let exact = policy();
        let judged = judge_table(&s, &exact, &ctx()).unwrap();
        assert_eq!(judged.unsafe_cells(), 3);
        assert!(judged.check_limits(&limits(0, 1)).is_err());
        let full = protect_table(&s, &policy(), &ctx(), None, &limits(u64::MAX, 1)).unwrap();
        // The up-front bound never refuses a table the full check fits.
        assert!(judged.check_limits(&limits(full.work, 1)).is_ok());
        let few = AttackerLimits {
            max_unsafe_cells: 2,
            ..AttackerLimits::default()
        };
        assert!(matches!(
            judged.check_limits(&few),
            Err(DisclosureError::OverBudget(BudgetExceeded::UnsafeCells {
                cells: 3,
                limit: 2
            }))
        ));
    }
}
