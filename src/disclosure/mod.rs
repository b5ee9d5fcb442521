//! Disclosure control: what of a table or linkage figure may be released.
//!
//! - [`policy`]: the rules' parameters (ACRO's defaults).
//! - `primary`: which cells are unsafe on their own and the protection each needs.
//! - [`attacker`]: the attacker's linear programs and secondary suppression.
//! - [`ckm`]: the cell-key method of perturbation.
//! - [`protect`]: the pipeline from table statistics to released cells.
//!
//! No I/O here.

pub mod attacker;
pub mod ckm;
pub mod policy;
mod primary;
pub mod protect;

use serde::Serialize;

pub use policy::{
    DisclosurePolicy, GroupDisclosure, MagnitudeNoiseKind, Perturbation, PolicyError, MAX_THRESHOLD,
};
pub use protect::{
    judge_table, protect_table, AttackerLimits, BudgetExceeded, Judged, Protected, PublishedCell,
    TableContext, TableKind,
};

use crate::tabulate::CountCube;
use ckm::PTable;

/// What happened to one cell, and by which rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    /// Released (perturbed by the cell-key method).
    Released,
    /// Fewer distinct units than the threshold (zero included when zeros are disclosive).
    WithheldThreshold,
    /// A zero, or a cell holding 100% of its row or column (group disclosure).
    WithheldGroup,
    /// The largest n units contribute more than k% of the cell.
    WithheldDominance,
    /// The largest unit could estimate itself within p% from the rest.
    WithheldPPercent,
    /// A variable with few distinct values, some held by too few units in the cell.
    WithheldValueCounts,
    /// Withheld so that no unsafe cell can be recomputed from what is released.
    WithheldSecondary,
    /// A linkage figure whose population differs from one reported before
    /// by a few persons.
    WithheldDifferencing,
    /// No person can fall in this cell: the classifications rule the
    /// combination out (no vo pupil is in groep 8). Released as zero; it
    /// tells nobody anything, so it is never unsafe, never withheld, and
    /// known to be zero in the attacker's linear programs.
    StructuralZero,
}

impl CellStatus {
    /// Whether the cell's value is withheld (by a rule or as secondary).
    pub fn is_withheld(self) -> bool {
        !matches!(self, CellStatus::Released | CellStatus::StructuralZero)
    }
}

/// A table that must not be released.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisclosureError {
    /// A margin differs from the sum of the cells it covers: some persons
    /// would be counted in no checked cell.
    #[error("margin {index} counts {margin} persons but its cells sum to {cells}")]
    MarginMismatch {
        /// Flat index of the margin.
        index: usize,
        /// The margin as counted.
        margin: u64,
        /// The sum of its interior cells.
        cells: u64,
    },
    /// A margin's sum differs from the sum of its cells' sums.
    #[error("margin {index}: its sum differs from the sum of its cells")]
    SumMismatch {
        /// Flat index of the margin.
        index: usize,
    },
    /// The table's attacker check would exceed its budget; the analyst
    /// should coarsen the table. Nothing of it is released.
    #[error(transparent)]
    OverBudget(#[from] BudgetExceeded),
    /// The attacker check could not be run.
    #[error("attacker check: {0}")]
    Attacker(#[from] attacker::AttackerError),
    /// A check thread panicked; the table is not released.
    #[error("the attacker check failed unexpectedly")]
    AttackerPanicked,
    /// A cell the classifications rule out holds persons: the data and the
    /// code lists disagree. Nothing is released.
    #[error("cell {index} is a structural zero but holds persons")]
    StructuralNotEmpty {
        /// Flat index of the cell.
        index: usize,
    },
    /// After suppression a cell is still not protected.
    #[error("cell {cell} is not protected after secondary suppression")]
    Unprotected {
        /// The cell.
        cell: usize,
    },
}

/// Checks that every margin equals the sum of the interior cells it covers.
pub fn check_margins(cube: &CountCube) -> Result<(), DisclosureError> {
    let mut sums = CountCube::zeros(cube.sizes().to_vec());
    for i in (0..cube.len()).filter(|&i| cube.is_interior(i)) {
        for m in cube.covering(i) {
            sums.add(m, cube.count(i));
        }
    }
    for i in 0..cube.len() {
        if sums.count(i) != cube.count(i) {
            return Err(DisclosureError::MarginMismatch {
                index: i,
                margin: cube.count(i),
                cells: sums.count(i),
            });
        }
    }
    Ok(())
}

/// A protected single figure, such as a linkage count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Figure {
    /// The count, perturbed and rounded to the policy's base, when released.
    pub rounded: Option<u64>,
    /// Released, or withheld by the threshold.
    pub status: CellStatus,
}

/// Withholds a count below the threshold; otherwise perturbs it by its
/// cell key (when `ptable` is given) and rounds it to the nearest multiple
/// of the rounding base (halves up).
pub fn protect_figure(
    count: u64,
    key: u32,
    policy: &DisclosurePolicy,
    ptable: Option<&PTable>,
) -> Figure {
    if count < policy.threshold {
        return Figure {
            rounded: None,
            status: CellStatus::WithheldThreshold,
        };
    }
    let count = ptable.map_or(count, |t| t.perturb(count, key));
    let base = policy.rounding_base.max(1);
    Figure {
        rounded: Some((count + base / 2) / base * base),
        status: CellStatus::Released,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_withheld_below_threshold_and_rounded_above() {
        let p = DisclosurePolicy::default();
        assert_eq!(protect_figure(9, 0, &p, None).rounded, None);
        assert_eq!(protect_figure(10, 0, &p, None).rounded, Some(10));
        assert_eq!(protect_figure(12, 0, &p, None).rounded, Some(10));
        assert_eq!(protect_figure(13, 0, &p, None).rounded, Some(15));
    }

    #[test]
    fn a_margin_that_is_not_the_sum_of_its_cells_is_never_released() {
        let mut cube = CountCube::zeros(vec![2]);
        cube.add(0, 20);
        cube.add(1, 20);
        cube.add(2, 41);
        assert!(matches!(
            check_margins(&cube),
            Err(DisclosureError::MarginMismatch { index: 2, .. })
        ));
    }
}
