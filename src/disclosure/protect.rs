//! From a table's statistics to what may leave the service: margins
//! checked, primary rules, secondary suppression proven by the attacker's
//! linear programs, then cell-key perturbation and rounding of what is
//! released. A table that fails any step is not released.
//!
//! The pipeline has two steps so that the caller can decide, between them,
//! whether an expensive check may start: [`judge_table`] applies the
//! primary rules and tells whether attacker linear programs are needed;
//! [`Judged::protect`] runs them within [`AttackerLimits`]. The limits are
//! checked up front ([`Judged::check_limits`]: the unsafe cells, and a lower
//! bound of the check's work) and enforced before every solve, so a table
//! over its budget is refused, never released unchecked.

mod publish;
mod suppression;

use super::attacker::{budget::DEFAULT_WORK, OverBudget, WorkBudget};
use super::ckm::PTable;
use super::primary::{judge_counts, judge_magnitudes, GroupRule, Judgement, Sign, Structure};
use super::{check_margins, CellStatus, DisclosureError, DisclosurePolicy};
use crate::tabulate::TableStats;
use publish::publish;
use suppression::AttackerInput;

/// Default of [`AttackerLimits::max_unsafe_cells`]: a three-way table with
/// this many is protected in about a second (`examples/attacker_timing`).
pub const DEFAULT_MAX_UNSAFE_CELLS: usize = 5000;

/// How much one table's attacker check may take, and on how many threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttackerLimits {
    /// Most cells unsafe on their own (withheld by a primary rule).
    /// Default [`DEFAULT_MAX_UNSAFE_CELLS`].
    pub max_unsafe_cells: usize,
    /// Linear-programming work, in the units of
    /// [`attacker::budget`](super::attacker::budget). Default [`DEFAULT_WORK`].
    pub work: u64,
    /// Threads the release gate checks on (at least 1). Default 1; the
    /// server passes in its configured parallelism.
    pub threads: usize,
}

impl Default for AttackerLimits {
    fn default() -> Self {
        AttackerLimits {
            max_unsafe_cells: DEFAULT_MAX_UNSAFE_CELLS,
            work: DEFAULT_WORK,
            threads: 1,
        }
    }
}

/// Which limit of [`AttackerLimits`] a table exceeds. The messages hold only
/// the configured limit, nothing about the table's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetExceeded {
    /// More unsafe cells than one check takes.
    #[error("the table has more cells that are unsafe on their own than one table's check allows (at most {limit})")]
    UnsafeCells {
        /// Unsafe cells found (for the server log).
        cells: usize,
        /// The limit.
        limit: usize,
    },
    /// More linear-programming work than the budget.
    #[error(transparent)]
    Work(#[from] OverBudget),
}

/// What a table releases in each cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// Distinct persons.
    Count,
    /// Sum of a numeric variable.
    Sum,
    /// Mean of a numeric variable (perturbed sum over perturbed count).
    Mean,
}

/// Facts about the table that the rules depend on.
#[derive(Clone, Copy, Debug)]
pub struct TableContext {
    /// What is released.
    pub kind: TableKind,
    /// Organisations whose data the table combines.
    pub holders: usize,
    /// Whether the summed variable has negative values.
    pub negative_values: bool,
    /// Decorrelates a variable's magnitude noise from its count noise.
    pub salt: u32,
}

impl TableContext {
    /// A count table of one organisation's data.
    pub fn count_of_one_holder() -> Self {
        TableContext {
            kind: TableKind::Count,
            holders: 1,
            negative_values: false,
            salt: 0,
        }
    }
}

/// One cell as released: a value only when the status is `Released`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PublishedCell {
    /// Released, or why withheld (for a sum or mean table: its value).
    pub status: CellStatus,
    /// The (perturbed, rounded) count, where the count table of the same
    /// request releases it (also alongside a sum or mean).
    pub count: Option<u64>,
    /// The (perturbed) sum or mean, in stored units, for a magnitude table.
    pub value: Option<f64>,
}

/// The protected table, with the summary of what was withheld.
#[derive(Clone, Debug)]
pub struct Protected {
    /// Every cell, in the cube's order.
    pub cells: Vec<PublishedCell>,
    /// Linear-programming work the check took, in budget units.
    pub work: u64,
}

/// A table with the primary rules applied, before secondary suppression.
///
/// A sum or mean table is judged twice: as the count table of the same
/// request (its counts are released alongside, and a count the count table
/// withholds is never given away by a sum, a mean or their noise), and on
/// its magnitudes. Suppression runs in that order: the count table's
/// pattern first, then the magnitudes' on top of it. Withholding more
/// never helps an attacker, so the final pattern protects both.
#[derive(Debug)]
pub struct Judged<'a> {
    stats: &'a TableStats,
    policy: &'a DisclosurePolicy,
    ctx: TableContext,
    /// The count table's primary statuses.
    counts: Vec<CellStatus>,
    /// The count table's attacker check; `None` when no count is unsafe.
    count_check: Option<AttackerInput>,
    /// A magnitude table's judgements and sums.
    magnitudes: Option<(Vec<Judgement>, Vec<f64>)>,
}

/// Applies the whole policy to a table: [`judge_table`], then
/// [`Judged::protect`]. `ptable` is the perturbation table built from the
/// policy (`None` when perturbation is off).
pub fn protect_table(
    stats: &TableStats,
    policy: &DisclosurePolicy,
    ctx: &TableContext,
    ptable: Option<&PTable>,
    limits: &AttackerLimits,
) -> Result<Protected, DisclosureError> {
    judge_table(stats, policy, ctx)?.protect(limits, ptable)
}

/// Checks the margins and applies the primary rules. Solves nothing.
pub fn judge_table<'a>(
    stats: &'a TableStats,
    policy: &'a DisclosurePolicy,
    ctx: &TableContext,
) -> Result<Judged<'a>, DisclosureError> {
    check_margins(&stats.cube)?;
    check_structural_zeros(stats)?;
    let group_rule = if policy.group_rule_applies(ctx.holders) {
        GroupRule::On
    } else {
        GroupRule::Off
    };
    let structure = Structure::of(stats);
    let judgements = judge_counts(&structure, policy, group_rule);
    let counts: Vec<CellStatus> = judgements.iter().map(|j| j.status).collect();
    let count_check = counts.iter().any(|s| s.is_withheld()).then(|| {
        let values: Vec<f64> = (0..stats.cube.len())
            .map(|i| stats.cube.count(i) as f64)
            .collect();
        AttackerInput::new(stats, &judgements, &values)
    });
    let magnitudes = match (&stats.magnitude, ctx.kind) {
        (Some(m), TableKind::Sum | TableKind::Mean) => {
            check_sum_margins(stats)?;
            let sign = if ctx.negative_values {
                Sign::Any
            } else {
                Sign::NonNegative
            };
            let values: Vec<f64> = m.sums.iter().map(|&s| s as f64).collect();
            Some((
                judge_magnitudes(m, &structure, policy, sign, group_rule),
                values,
            ))
        }
        _ => None,
    };
    Ok(Judged {
        stats,
        policy,
        ctx: *ctx,
        counts,
        count_check,
        magnitudes,
    })
}

impl Judged<'_> {
    /// Cells withheld by a primary rule (of the counts or the magnitudes).
    pub fn unsafe_cells(&self) -> usize {
        (0..self.counts.len())
            .filter(|&i| {
                self.counts[i].is_withheld()
                    || self
                        .magnitudes
                        .as_ref()
                        .is_some_and(|(j, _)| j[i].status.is_withheld())
            })
            .count()
    }

    /// Whether protecting the table needs attacker linear programs.
    pub fn needs_attacker_check(&self) -> bool {
        self.unsafe_cells() > 0
    }

    /// The magnitude check on its own primary pattern (a lower bound of
    /// the one [`Judged::protect`] runs on top of the count pattern).
    fn magnitude_check_alone(&self) -> Option<AttackerInput> {
        let (judgements, values) = self.magnitudes.as_ref()?;
        judgements
            .iter()
            .any(|j| j.status.is_withheld())
            .then(|| AttackerInput::new(self.stats, judgements, values))
    }

    /// Refuses, before any solve, a table whose check cannot fit `limits`:
    /// too many unsafe cells, or a lower bound of its work over the budget.
    ///
    /// The bound: suppression solves at least once over every primary
    /// component that holds a protection (see
    /// [`attacker::first_solve_work`](super::attacker::first_solve_work)),
    /// so a table refused here would be refused later too, only later.
    pub fn check_limits(&self, limits: &AttackerLimits) -> Result<(), DisclosureError> {
        let cells = self.unsafe_cells();
        if cells == 0 {
            return Ok(());
        }
        if cells > limits.max_unsafe_cells {
            return Err(BudgetExceeded::UnsafeCells {
                cells,
                limit: limits.max_unsafe_cells,
            }
            .into());
        }
        let mut estimate = 0u64;
        for input in [
            self.count_check.as_ref(),
            self.magnitude_check_alone().as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            estimate = estimate.saturating_add(input.primary_work()?);
        }
        WorkBudget::new(limits.work)
            .ensure_room(estimate)
            .map_err(|o| BudgetExceeded::Work(o).into())
    }

    /// Adds secondary suppressions within `limits`, proves the pattern, and
    /// publishes the released cells.
    pub fn protect(
        self,
        limits: &AttackerLimits,
        ptable: Option<&PTable>,
    ) -> Result<Protected, DisclosureError> {
        self.check_limits(limits)?;
        let mut work = WorkBudget::new(limits.work);
        let mut counts = self.counts.clone();
        if let Some(input) = &self.count_check {
            for cell in input.suppress(limits, &mut work)? {
                counts[cell] = CellStatus::WithheldSecondary;
            }
        }
        let values = match &self.magnitudes {
            None => counts.clone(),
            Some((judgements, sums)) => {
                // A cell the count table withholds is withheld here too,
                // with the magnitude rules' requirement if it has one.
                let judgements: Vec<Judgement> = judgements
                    .iter()
                    .zip(&counts)
                    .map(|(j, &count)| {
                        if count.is_withheld() && !j.status.is_withheld() {
                            Judgement {
                                status: count,
                                ..*j
                            }
                        } else {
                            *j
                        }
                    })
                    .collect();
                let mut statuses: Vec<CellStatus> = judgements
                    .iter()
                    .zip(&counts)
                    .map(|(j, &count)| if count.is_withheld() { count } else { j.status })
                    .collect();
                if statuses.iter().any(|s| s.is_withheld()) {
                    let input = AttackerInput::new(self.stats, &judgements, sums);
                    for cell in input.suppress(limits, &mut work)? {
                        statuses[cell] = CellStatus::WithheldSecondary;
                    }
                }
                statuses
            }
        };
        let cells = publish(self.stats, &counts, &values, self.policy, &self.ctx, ptable);
        Ok(Protected {
            cells,
            work: work.spent(),
        })
    }
}

/// Checks that no person falls in a cell the classifications rule out.
fn check_structural_zeros(stats: &TableStats) -> Result<(), DisclosureError> {
    let sums = stats.magnitude.as_ref().map(|m| m.sums.as_slice());
    let occupied = |i: usize| stats.cube.count(i) != 0 || sums.is_some_and(|s| s[i] != 0);
    match (0..stats.structural_zeros.len()).find(|&i| stats.structural_zeros[i] && occupied(i)) {
        Some(index) => Err(DisclosureError::StructuralNotEmpty { index }),
        None => Ok(()),
    }
}

fn check_sum_margins(stats: &TableStats) -> Result<(), DisclosureError> {
    let Some(m) = &stats.magnitude else {
        return Ok(());
    };
    let cube = &stats.cube;
    let mut sums = vec![0i128; cube.len()];
    for i in (0..cube.len()).filter(|&i| cube.is_interior(i)) {
        for c in cube.covering(i) {
            sums[c] += m.sums[i];
        }
    }
    match (0..cube.len()).find(|&i| sums[i] != m.sums[i]) {
        Some(index) => Err(DisclosureError::SumMismatch { index }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::attacker::{attacker_interval, axis_equations, cube_equations, CellFacts};
    use super::{protect_table, AttackerLimits, TableContext};
    use crate::disclosure::{CellStatus, DisclosurePolicy};
    use crate::tabulate::{Axis, CountCube, TableStats};

    /// Leaves a = 3, b = 40 under subtotal S1; c = 30, d = 50 under S2.
    /// Positions: a b c d S1 S2, then the total.
    fn two_level() -> (Axis, TableStats) {
        let axis = Axis::new(4, vec![4, 4, 5, 5, 6, 6]).unwrap();
        let mut cube = CountCube::with_axes(vec![axis.clone()]);
        for (leaf, n) in [3u64, 40, 30, 50].into_iter().enumerate() {
            for c in cube.covering(leaf) {
                cube.add(c, n);
            }
        }
        (axis, TableStats::of_counts(cube))
    }

    fn facts(stats: &TableStats) -> Vec<CellFacts> {
        (0..stats.cube.len())
            .map(|i| CellFacts {
                value: stats.cube.count(i) as f64,
                lower: 0.0,
                upper: f64::INFINITY,
            })
            .collect()
    }

    #[test]
    fn a_subtotal_would_give_away_a_cell_that_the_total_alone_protects() {
        let (axis, stats) = two_level();
        let facts = facts(&stats);
        // Withholding a and c protects a against the total alone ...
        let withheld = [true, false, true, false, false, false, false];
        let total_only = [crate::disclosure::attacker::Equation {
            total: 6,
            parts: vec![0, 1, 2, 3],
        }];
        let flat = attacker_interval(&total_only, &facts, &withheld, 0).unwrap();
        assert!(flat.lo <= 0.0 && flat.hi >= 33.0, "{flat:?}");
        // ... but the subtotal S1 = a + b pins it.
        let equations = axis_equations(&[axis]);
        let nested = attacker_interval(&equations, &facts, &withheld, 0).unwrap();
        assert_eq!((nested.lo, nested.hi), (3.0, 3.0));
    }

    #[test]
    fn suppression_protects_the_cell_across_both_levels() {
        let (axis, stats) = two_level();
        let policy = DisclosurePolicy {
            perturbation: None,
            ..DisclosurePolicy::default()
        };
        let ctx = TableContext::count_of_one_holder();
        let protected =
            protect_table(&stats, &policy, &ctx, None, &AttackerLimits::default()).unwrap();
        let withheld: Vec<bool> = protected
            .cells
            .iter()
            .map(|c| c.status.is_withheld())
            .collect();
        assert_eq!(protected.cells[0].status, CellStatus::WithheldThreshold);
        assert!(withheld[1] || withheld[4], "b or S1 must go with a");
        let equations = axis_equations(&[axis]);
        let mut facts = facts(&stats);
        // What the status of a tells: 1 to 9 persons.
        facts[0].lower = 1.0;
        facts[0].upper = 9.0;
        let i = attacker_interval(&equations, &facts, &withheld, 0).unwrap();
        let w = policy.count_protection as f64;
        assert!(i.lo <= 3.0 - w.min(2.0) && i.hi >= 3.0 + w, "{i:?}");
    }

    #[test]
    fn a_lone_withheld_cell_in_a_one_way_table_is_pinned() {
        // a = 9 withheld, b = 30, c = 40, total 79 released.
        let equations = cube_equations(&[3]);
        let facts = [9.0, 30.0, 40.0, 79.0].map(|value| CellFacts {
            value,
            lower: 0.0,
            upper: f64::INFINITY,
        });
        let withheld = [true, false, false, false];
        let i = attacker_interval(&equations, &facts, &withheld, 0).unwrap();
        assert_eq!((i.lo, i.hi), (9.0, 9.0), "{equations:?}");
    }
}
