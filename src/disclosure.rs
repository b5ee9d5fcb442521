//! Disclosure control for count tables and linkage figures.
//!
//! The rules (until the full engine lands): a cell or margin counting fewer
//! distinct persons than the threshold is withheld (zero included); every
//! margin covering a withheld interior cell is withheld too, so no withheld
//! cell can be recomputed by subtraction; a table whose margins are not
//! exactly the sums of their cells is never released. Linkage figures are
//! withheld below the threshold and otherwise rounded. No I/O here.

use serde::Serialize;

use crate::tabulate::CountCube;

/// The rules applied to every released figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DisclosurePolicy {
    /// Counts below this many distinct persons are withheld.
    pub threshold: u64,
    /// Linkage figures are rounded to a multiple of this.
    pub rounding_base: u64,
}

impl Default for DisclosurePolicy {
    fn default() -> Self {
        DisclosurePolicy {
            threshold: 10,
            rounding_base: 5,
        }
    }
}

/// What happened to one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CellStatus {
    /// Released as counted.
    Released,
    /// Below the threshold.
    WithheldThreshold,
    /// A margin covering a withheld cell.
    WithheldSecondary,
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
}

/// Applies the policy to every cell of `cube`, after checking its margins.
pub fn protect_counts(
    cube: &CountCube,
    policy: &DisclosurePolicy,
) -> Result<Vec<CellStatus>, DisclosureError> {
    check_margins(cube)?;
    let mut status: Vec<CellStatus> = (0..cube.len())
        .map(|i| {
            if cube.count(i) < policy.threshold {
                CellStatus::WithheldThreshold
            } else {
                CellStatus::Released
            }
        })
        .collect();
    for i in 0..cube.len() {
        if cube.is_interior(i) && status[i] != CellStatus::Released {
            for m in cube.covering(i) {
                if status[m] == CellStatus::Released {
                    status[m] = CellStatus::WithheldSecondary;
                }
            }
        }
    }
    Ok(status)
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
    /// The count rounded to the policy's base, when released.
    pub rounded: Option<u64>,
    /// Released, or withheld by the threshold.
    pub status: CellStatus,
}

/// Withholds a count below the threshold, otherwise rounds it to the
/// nearest multiple of the rounding base (halves up).
pub fn protect_figure(count: u64, policy: &DisclosurePolicy) -> Figure {
    if count < policy.threshold {
        return Figure {
            rounded: None,
            status: CellStatus::WithheldThreshold,
        };
    }
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
        assert_eq!(protect_figure(9, &p).rounded, None);
        assert_eq!(protect_figure(10, &p).rounded, Some(10));
        assert_eq!(protect_figure(12, &p).rounded, Some(10));
        assert_eq!(protect_figure(13, &p).rounded, Some(15));
    }

    #[test]
    fn a_margin_that_is_not_the_sum_of_its_cells_is_never_released() {
        let mut cube = CountCube::zeros(vec![2]);
        cube.add(0, 20);
        cube.add(1, 20);
        cube.add(2, 41);
        assert!(matches!(
            protect_counts(&cube, &DisclosurePolicy::default()),
            Err(DisclosureError::MarginMismatch { index: 2, .. })
        ));
    }

    #[test]
    fn margins_covering_a_withheld_cell_are_withheld() {
        // 2x2: cells 30, 4 / 25, 40.
        let mut cube = CountCube::zeros(vec![2, 2]);
        for (coords, n) in [((0, 0), 30), ((0, 1), 4), ((1, 0), 25), ((1, 1), 40)] {
            for m in cube.covering(cube.index(&[Some(coords.0), Some(coords.1)])) {
                cube.add(m, n);
            }
        }
        let s = protect_counts(&cube, &DisclosurePolicy::default()).unwrap();
        let at = |a: Option<usize>, b: Option<usize>| s[cube.index(&[a, b])];
        assert_eq!(at(Some(0), Some(1)), CellStatus::WithheldThreshold);
        assert_eq!(at(Some(0), None), CellStatus::WithheldSecondary);
        assert_eq!(at(None, Some(1)), CellStatus::WithheldSecondary);
        assert_eq!(at(None, None), CellStatus::WithheldSecondary);
        assert_eq!(at(Some(1), None), CellStatus::Released);
        assert_eq!(at(None, Some(0)), CellStatus::Released);
    }
}
