//! A 10×10×10 count table with about 300 unsafe cells: large enough that
//! secondary cells are found by hypercubes instead of linear programs. The
//! release fits the default limits, and the attacker's linear programs find
//! every sampled unsafe cell protected; with the secondary cells released
//! instead, the same attacker pins some of them.
//!
//! The attacker here is the engine's simplex problem over the whole
//! component (`attacker_interval`), which shares nothing with the hypercube
//! search or its witnesses. The interior-point solver of the other LP tests
//! stalls on these large degenerate problems.

mod lp_support;

use ddc::disclosure::attacker::{attacker_interval, cube_equations, CellFacts, Interval};
use ddc::disclosure::{protect_table, AttackerLimits, CellStatus, DisclosurePolicy, TableContext};
use ddc::tabulate::CountCube;
use lp_support::stats::count_stats;
use lp_support::tables::Lcg;

const SIZE: usize = 10;

/// Sampled: every this many unsafe cells.
const STEP: usize = 6;

/// Interior counts spread log-uniformly over 1..2,000 (about 30% below 10).
fn interior() -> Vec<u64> {
    let mut rng = Lcg(7);
    (0..SIZE * SIZE * SIZE)
        .map(|_| 2000f64.powf(rng.below(1 << 20) as f64 / (1u32 << 20) as f64) as u64)
        .collect()
}

fn is_primary(s: CellStatus) -> bool {
    s.is_withheld() && s != CellStatus::WithheldSecondary
}

/// The attacker's interval for every `STEP`-th primary cell, given which
/// cells are withheld: a primary cell lies in 0..=9, any other is at least
/// 10 (a secondary cell's status says it passed the rules), a released one
/// is known.
fn intervals(
    cube: &CountCube,
    statuses: &[CellStatus],
    withheld: &[bool],
) -> Vec<(usize, Interval)> {
    let equations = cube_equations(cube.sizes());
    let facts: Vec<CellFacts> = (0..cube.len())
        .map(|i| {
            let primary = is_primary(statuses[i]);
            CellFacts {
                value: cube.count(i) as f64,
                lower: if primary { 0.0 } else { 10.0 },
                upper: if primary { 9.0 } else { f64::INFINITY },
            }
        })
        .collect();
    (0..cube.len())
        .filter(|&c| is_primary(statuses[c]))
        .step_by(STEP)
        .map(|c| {
            let interval = attacker_interval(&equations, &facts, withheld, c)
                .expect("the attacker's problem solves");
            (c, interval)
        })
        .collect()
}

#[test]
fn a_three_way_table_with_hundreds_of_unsafe_cells_is_protected_by_hypercubes() {
    let stats = count_stats(&[SIZE; 3], &interior());
    let policy = DisclosurePolicy {
        perturbation: None,
        ..DisclosurePolicy::default()
    };
    let ctx = TableContext::count_of_one_holder();
    let protected = protect_table(&stats, &policy, &ctx, None, &AttackerLimits::default())
        .expect("fits the default limits");
    let statuses: Vec<CellStatus> = protected.cells.iter().map(|c| c.status).collect();
    let unsafe_cells = statuses.iter().filter(|&&s| is_primary(s)).count();
    let secondary = statuses
        .iter()
        .filter(|&&s| s == CellStatus::WithheldSecondary)
        .count();
    assert!(unsafe_cells > 250, "{unsafe_cells} unsafe cells");
    assert!(secondary > 0);
    println!(
        "{unsafe_cells} unsafe, {secondary} secondary, {} work units",
        protected.work
    );

    let cube = &stats.cube;
    let count_protection = policy.count_protection as f64;
    let withheld: Vec<bool> = statuses.iter().map(|s| s.is_withheld()).collect();
    for (cell, i) in intervals(cube, &statuses, &withheld) {
        let x = cube.count(cell) as f64;
        let (down, up) = (x.min(count_protection), (9.0 - x).min(count_protection));
        assert!(
            i.lo <= x - down + 1e-6,
            "cell {cell}: min {} > {}",
            i.lo,
            x - down
        );
        assert!(
            i.hi >= x + up - 1e-6,
            "cell {cell}: max {} < {}",
            i.hi,
            x + up
        );
    }

    // The defence off: the primary pattern alone gives cells away.
    let primary_only: Vec<bool> = statuses.iter().map(|&s| is_primary(s)).collect();
    let pinned = intervals(cube, &statuses, &primary_only)
        .into_iter()
        .filter(|(_, i)| i.hi - i.lo < 1e-6)
        .count();
    assert!(pinned > 0, "no sampled cell is pinned without secondaries");
}
