//! Small hand-checkable tables shared by the unit tests.

use super::{cube_equations, CellFacts, Equation};

/// Flat index of `coords` in a cube of `sizes` (a coordinate of `sizes[d]` is the total).
pub(crate) fn index(sizes: &[usize], coords: &[usize]) -> usize {
    sizes
        .iter()
        .zip(coords)
        .fold(0, |acc, (&s, &c)| acc * (s + 1) + c)
}

/// A cube whose interior cells hold `interior` (row-major) and whose margins
/// are the sums, every cell bounded a priori by `[0, inf)`.
pub(crate) fn cube_table(sizes: &[usize], interior: &[f64]) -> (Vec<Equation>, Vec<CellFacts>) {
    let cells: usize = sizes.iter().map(|s| s + 1).product();
    let mut values = vec![0.0; cells];
    for (k, &value) in interior.iter().enumerate() {
        let coords = interior_coords(sizes, k);
        for mask in 0..(1usize << sizes.len()) {
            let target: Vec<usize> = coords
                .iter()
                .enumerate()
                .map(|(d, &c)| if mask >> d & 1 == 1 { sizes[d] } else { c })
                .collect();
            values[index(sizes, &target)] += value;
        }
    }
    let facts = values
        .into_iter()
        .map(|value| CellFacts {
            value,
            lower: 0.0,
            upper: f64::INFINITY,
        })
        .collect();
    (cube_equations(sizes), facts)
}

/// Coordinates of the `k`-th interior cell, last dimension fastest.
fn interior_coords(sizes: &[usize], mut k: usize) -> Vec<usize> {
    let mut coords = vec![0; sizes.len()];
    for d in (0..sizes.len()).rev() {
        coords[d] = k % sizes[d];
        k /= sizes[d];
    }
    coords
}
