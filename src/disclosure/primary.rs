//! Primary rules: which cells are unsafe on their own, what their status
//! reveals to an analyst, and how much protection each needs.
//!
//! Protection levels (the attacker's interval must reach `x − lower` and
//! `x + upper`):
//! - count rules: `count_protection` persons each way, within what the
//!   status reveals (a threshold cell holds 0 or 1 up to threshold − 1);
//! - (n,k)-dominance: `(100/k)·(x1+…+xn) − X` (tau-Argus), both ways;
//! - p%: `p/100·x1 − (X − x1 − x2)`, both ways;
//! - too few units: `p/100·|X|`;
//! - every unit with the same value (group rule): `p/100·|X|`, at least
//!   `count_protection` times that value (at least one);
//! - a few-valued variable with some value held by 1 to threshold − 1 units
//!   (or, with the group rule, by every unit): `p/100·|X|`, at least
//!   `count_protection` times the largest unit contribution.
//!
//! Contributions are taken in absolute value, so negative values (losses)
//! count as large contributions too; X is the sum of absolute contributions.

use super::{CellStatus, DisclosurePolicy};
use crate::tabulate::{CountCube, MagnitudeStats, TableStats};

/// A table's cube with the cells its classifications rule out.
pub(crate) struct Structure<'a> {
    cube: &'a CountCube,
    zeros: &'a [bool],
}

impl<'a> Structure<'a> {
    /// The structure of a tabulated table.
    pub(crate) fn of(stats: &'a TableStats) -> Self {
        Structure {
            cube: &stats.cube,
            zeros: &stats.structural_zeros,
        }
    }

    /// Whether no person can fall in cell `i`.
    fn is_structural(&self, i: usize) -> bool {
        self.zeros.get(i).copied().unwrap_or(false)
    }
}

/// What the primary rules decided about one cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Judgement {
    /// Released, or the first rule that withholds it.
    pub status: CellStatus,
    /// What the analyst knows of the true value a priori, given its status.
    pub lower: f64,
    /// Upper a-priori bound.
    pub upper: f64,
    /// Required lower and upper protection, for an unsafe cell.
    pub protection: Option<(f64, f64)>,
}

/// Whether a numeric variable can be negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sign {
    /// All values ≥ 0: sums are ≥ 0.
    NonNegative,
    /// Some values < 0.
    Any,
}

/// Judges a count table. `group_rule` switches on zeros and 100% cells.
/// Structural zeros are known to be zero and never unsafe.
pub(crate) fn judge_counts(
    structure: &Structure<'_>,
    policy: &DisclosurePolicy,
    group_rule: GroupRule,
) -> Vec<Judgement> {
    let cube = structure.cube;
    let t = policy.threshold;
    let w = policy.count_protection as f64;
    let floor = if policy.zeros_disclosive { 0 } else { 1 };
    (0..cube.len())
        .map(|i| {
            if structure.is_structural(i) {
                return structural_cell();
            }
            let x = cube.count(i);
            let xf = x as f64;
            if x < t && (x > 0 || policy.zeros_disclosive) {
                let (a, b) = (floor as f64, (t - 1) as f64);
                return unsafe_cell(
                    CellStatus::WithheldThreshold,
                    a,
                    b,
                    (w.min(xf - a), w.min(b - xf)),
                );
            }
            if group_rule == GroupRule::On && (x == 0 || holds_whole_slice(structure, i)) {
                let a = if x == 0 { 0.0 } else { t as f64 };
                return unsafe_cell(
                    CellStatus::WithheldGroup,
                    a,
                    f64::INFINITY,
                    (w.min(xf - a), w),
                );
            }
            let lower = if x >= t { t as f64 } else { 0.0 };
            safe_cell(lower, f64::INFINITY)
        })
        .collect()
}

/// Whether the group-disclosure rule is on for this table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupRule {
    /// Zeros and 100% cells are withheld.
    On,
    /// They are not.
    Off,
}

/// Whether a non-empty cell holds every unit of the margin directly above
/// it along one of its dimensions (100% of its row or column, or of its
/// subtotal), when that margin could have held others: a cell whose
/// siblings are all structural zeros holds its whole margin by definition.
fn holds_whole_slice(structure: &Structure<'_>, index: usize) -> bool {
    let cube = structure.cube;
    let x = cube.count(index);
    let coords = cube.coordinates(index);
    // A lone category of the whole dimension stays under the rule, as
    // before classifications; a lone category under a subtotal is the
    // published classification's (po holds only groep), and structural
    // siblings excuse a cell too.
    let others_possible = |d: usize, position: usize, parent: usize| {
        let axis = &cube.axes()[d];
        let mut siblings = axis
            .children(parent)
            .iter()
            .filter(|&&sibling| sibling != position)
            .peekable();
        (siblings.peek().is_none() && parent == axis.len())
            || siblings.any(|&sibling| {
                let mut c = coords.clone();
                c[d] = Some(sibling);
                !structure.is_structural(cube.index(&c))
            })
    };
    x > 0
        && (0..coords.len()).any(|d| {
            let Some(position) = coords[d] else {
                return false;
            };
            let axis = &cube.axes()[d];
            let parent = axis.parent(position).unwrap_or(axis.len());
            let mut m = coords.clone();
            m[d] = (parent < axis.len()).then_some(parent);
            cube.count(cube.index(&m)) == x && others_possible(d, position, parent)
        })
}

/// Judges a magnitude table on its sums (the value the analyst learns).
pub(crate) fn judge_magnitudes(
    m: &MagnitudeStats,
    structure: &Structure<'_>,
    policy: &DisclosurePolicy,
    sign: Sign,
    group_rule: GroupRule,
) -> Vec<Judgement> {
    let p = policy.p_percent / 100.0;
    let w = policy.count_protection as f64;
    let (lower, upper) = match sign {
        Sign::NonNegative => (0.0, f64::INFINITY),
        Sign::Any => (f64::NEG_INFINITY, f64::INFINITY),
    };
    (0..m.sums.len())
        .map(|i| {
            if structure.is_structural(i) {
                return structural_cell();
            }
            let x = m.sums[i] as f64;
            let abs_x = m.abs_sums[i] as f64;
            let top: Vec<f64> = m.top[i].iter().map(|&t| t as f64).collect();
            let few_units = m.units[i] < policy.threshold;
            let units = m.units[i];
            let value_counts = m.value_units.get(i).is_some_and(|counts| {
                counts.iter().any(|&u| {
                    (u > 0 && u < policy.threshold)
                        || (group_rule == GroupRule::On && u == units && u > 0)
                })
            });
            let top_n: f64 = top[..policy.dominance_n].iter().sum();
            let dominance = top_n > policy.dominance_k / 100.0 * abs_x;
            let rest = abs_x - top[0] - top[1];
            let p_rule = rest < p * top[0];
            let (status, needed) = if few_units {
                (CellStatus::WithheldThreshold, p * x.abs())
            } else if group_rule == GroupRule::On && m.all_equal(i) {
                // Equal means would show it: every unit's value is known.
                (
                    CellStatus::WithheldGroup,
                    (p * x.abs()).max(w * top[0].max(1.0)),
                )
            } else if value_counts {
                (
                    CellStatus::WithheldValueCounts,
                    (p * x.abs()).max(w * top[0].max(1.0)),
                )
            } else if dominance {
                (
                    CellStatus::WithheldDominance,
                    100.0 / policy.dominance_k * top_n - abs_x,
                )
            } else if p_rule {
                (CellStatus::WithheldPPercent, p * top[0] - rest)
            } else {
                return safe_cell(lower, upper);
            };
            let needed = needed.max(0.0);
            let below = if sign == Sign::NonNegative {
                needed.min(x)
            } else {
                needed
            };
            unsafe_cell(status, lower, upper, (below, needed))
        })
        .collect()
}

fn unsafe_cell(status: CellStatus, lower: f64, upper: f64, protection: (f64, f64)) -> Judgement {
    Judgement {
        status,
        lower,
        upper,
        protection: Some((protection.0.max(0.0), protection.1.max(0.0))),
    }
}

/// A structural zero: released as zero, and the attacker knows it is.
fn structural_cell() -> Judgement {
    Judgement {
        status: CellStatus::StructuralZero,
        lower: 0.0,
        upper: 0.0,
        protection: None,
    }
}

fn safe_cell(lower: f64, upper: f64) -> Judgement {
    Judgement {
        status: CellStatus::Released,
        lower,
        upper,
        protection: None,
    }
}
