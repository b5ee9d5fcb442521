//! Table builders for the integration tests: cubes with margins, the
//! frequency-threshold facts and protections, and a tiny deterministic
//! generator so large fixtures need no extra crate.
#![allow(dead_code)] // each test file uses a different subset

use ddc::disclosure::attacker::{cube_equations, CellFacts, Equation, Protection};

/// Frequency threshold: counts in `1..THRESHOLD` are primary.
pub const THRESHOLD: f64 = 10.0;

/// A count table with margins, its frequency-rule primaries and protections.
pub struct CountTable {
    pub equations: Vec<Equation>,
    pub facts: Vec<CellFacts>,
    pub primary: Vec<bool>,
    pub protections: Vec<Protection>,
}

impl CountTable {
    /// Builds the cube of `sizes` from interior counts (row-major, last dimension fastest).
    pub fn new(sizes: &[usize], interior: &[u32]) -> Self {
        let values = cube_values(sizes, interior);
        let mut facts = Vec::with_capacity(values.len());
        let mut primary = Vec::with_capacity(values.len());
        let mut protections = Vec::new();
        for (cell, &value) in values.iter().enumerate() {
            let is_primary = (1.0..THRESHOLD).contains(&value);
            let (lower, upper) = if is_primary {
                (1.0, THRESHOLD - 1.0)
            } else {
                (0.0, f64::INFINITY)
            };
            facts.push(CellFacts {
                value,
                lower,
                upper,
            });
            primary.push(is_primary);
            if is_primary {
                protections.push(Protection {
                    cell,
                    lower: (value - lower).min(3.0),
                    upper: (upper - value).min(3.0),
                });
            }
        }
        CountTable {
            equations: cube_equations(sizes),
            facts,
            primary,
            protections,
        }
    }

    /// Information loss used by the tests: `1 + value`.
    pub fn cost(&self) -> Vec<f64> {
        self.facts.iter().map(|f| 1.0 + f.value).collect()
    }

    /// The equations in the independent checker's format.
    pub fn equation_pairs(&self) -> Vec<(usize, Vec<usize>)> {
        self.equations
            .iter()
            .map(|e| (e.total, e.parts.clone()))
            .collect()
    }
}

/// Every cell's value: interior counts plus all their margins.
pub fn cube_values(sizes: &[usize], interior: &[u32]) -> Vec<f64> {
    let cells: usize = sizes.iter().map(|s| s + 1).product();
    let mut values = vec![0.0; cells];
    for (k, &count) in interior.iter().enumerate() {
        let mut coords = vec![0; sizes.len()];
        let mut rest = k;
        for d in (0..sizes.len()).rev() {
            coords[d] = rest % sizes[d];
            rest /= sizes[d];
        }
        for mask in 0..(1usize << sizes.len()) {
            let flat = (0..sizes.len()).fold(0, |acc, d| {
                let c = if mask >> d & 1 == 1 {
                    sizes[d]
                } else {
                    coords[d]
                };
                acc * (sizes[d] + 1) + c
            });
            values[flat] += f64::from(count);
        }
    }
    values
}

/// A small linear congruential generator (deterministic fixtures only).
pub struct Lcg(pub u64);

impl Lcg {
    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % u64::from(bound)) as u32
    }
}
