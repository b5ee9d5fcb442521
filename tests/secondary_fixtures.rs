//! Secondary suppression where naive patterns fail. A cell withheld as
//! secondary is known to hold at least the threshold (its status says it
//! passed the rules), so a "two withheld cells per row and column" pattern
//! can still pin a small cell on one side. The engine's pattern must pass
//! the attacker check, verified here with an independent solver.

mod lp_support;

use ddc::disclosure::attacker::{check, cube_equations, CellFacts, Protection};
use ddc::disclosure::{protect_table, AttackerLimits, CellStatus, DisclosurePolicy, TableContext};
use ddc::tabulate::CountCube;
use lp_support::independent::attacker_interval_independent;
use lp_support::stats::count_stats;

fn policy() -> DisclosurePolicy {
    DisclosurePolicy {
        perturbation: None,
        ..DisclosurePolicy::default()
    }
}

/// What the attacker knows of each cell, given `withheld` and the primary cells.
fn facts(cube: &CountCube, primary: &[usize]) -> Vec<CellFacts> {
    (0..cube.len())
        .map(|i| {
            let value = cube.count(i) as f64;
            if primary.contains(&i) {
                CellFacts {
                    value,
                    lower: 0.0,
                    upper: 9.0,
                }
            } else {
                CellFacts {
                    value,
                    lower: 10.0,
                    upper: f64::INFINITY,
                }
            }
        })
        .collect()
}

fn protections(cube: &CountCube, primary: &[usize]) -> Vec<Protection> {
    primary
        .iter()
        .map(|&cell| {
            let x = cube.count(cell) as f64;
            Protection {
                cell,
                lower: x.min(3.0),
                upper: (9.0 - x).min(3.0),
            }
        })
        .collect()
}

/// Checks the engine's pattern with the independent solver.
fn assert_protected(cube: &CountCube, statuses: &[CellStatus], primary: &[usize]) {
    let equations: Vec<(usize, Vec<usize>)> = cube_equations(cube.sizes())
        .into_iter()
        .map(|e| (e.total, e.parts))
        .collect();
    let values: Vec<f64> = (0..cube.len()).map(|i| cube.count(i) as f64).collect();
    let withheld: Vec<bool> = statuses
        .iter()
        .map(|s| *s != CellStatus::Released)
        .collect();
    let facts = facts(cube, primary);
    let lower: Vec<f64> = facts.iter().map(|f| f.lower).collect();
    let upper: Vec<f64> = facts.iter().map(|f| f.upper).collect();
    for p in protections(cube, primary) {
        let x = values[p.cell];
        let (lo, hi) =
            attacker_interval_independent(&equations, &values, &lower, &upper, &withheld, p.cell);
        assert!(
            lo <= x - p.lower + 1e-5,
            "cell {}: min {lo} > {}",
            p.cell,
            x - p.lower
        );
        assert!(
            hi >= x + p.upper - 1e-5,
            "cell {}: max {hi} < {}",
            p.cell,
            x + p.upper
        );
    }
}

/// ```text
///        c0   c1   c2 | T
/// r0      3   10   50 |  63      3 and 4 are below the threshold.
/// r1     10    4   50 |  64      Naive: withhold the 2×2 block (two per
/// r2     40   40   40 | 120      row and column). But the 10s are known
/// T      53   54  140 | 247      to be ≥ 10, so 3 cannot be larger: pinned above.
/// ```
#[test]
fn two_dimensional_naive_pattern_pins_a_cell_and_the_engine_withholds_enough() {
    let s = count_stats(&[3, 3], &[3, 10, 50, 10, 4, 50, 40, 40, 40]);
    let cube = &s.cube;
    let at = |r: usize, c: usize| cube.index(&[Some(r), Some(c)]);
    let primary = [at(0, 0), at(1, 1)];
    let mut naive = vec![false; cube.len()];
    for cell in [at(0, 0), at(0, 1), at(1, 0), at(1, 1)] {
        naive[cell] = true;
    }
    let equations = cube_equations(cube.sizes());
    let failures = check(
        &equations,
        &facts(cube, &primary),
        &naive,
        &protections(cube, &primary),
    )
    .unwrap();
    assert!(
        failures
            .iter()
            .any(|(p, i)| p.cell == at(0, 0) && i.hi < 6.0),
        "{failures:?}"
    );

    let ctx = TableContext::count_of_one_holder();
    let protected = protect_table(&s, &policy(), &ctx, None, &AttackerLimits::default()).unwrap();
    let statuses: Vec<CellStatus> = protected.cells.iter().map(|c| c.status).collect();
    assert_eq!(statuses[at(0, 0)], CellStatus::WithheldThreshold);
    assert_eq!(statuses[at(1, 1)], CellStatus::WithheldThreshold);
    let extra = statuses
        .iter()
        .filter(|s| **s == CellStatus::WithheldSecondary)
        .count();
    assert!(
        extra > 2,
        "more than the naive two secondary cells: {statuses:?}"
    );
    assert_protected(cube, &statuses, &primary);
}

/// A 2×2×2 table whose eight interior cells are all withheld, every margin
/// released: one degree of freedom, alternating signs. The odd-parity
/// neighbour (0,0,1) = 10 cannot decrease, so 3 at (0,0,0) cannot increase.
#[test]
fn three_dimensional_naive_pattern_pins_a_cell_and_the_engine_withholds_enough() {
    let s = count_stats(&[2, 2, 2], &[3, 10, 20, 20, 20, 20, 20, 20]);
    let cube = &s.cube;
    let primary = [cube.index(&[Some(0), Some(0), Some(0)])];
    let naive: Vec<bool> = (0..cube.len()).map(|i| cube.is_interior(i)).collect();
    let equations = cube_equations(cube.sizes());
    let failures = check(
        &equations,
        &facts(cube, &primary),
        &naive,
        &protections(cube, &primary),
    )
    .unwrap();
    assert_eq!(
        failures.len(),
        1,
        "the naive cube pins the small cell: {failures:?}"
    );

    let ctx = TableContext::count_of_one_holder();
    let protected = protect_table(&s, &policy(), &ctx, None, &AttackerLimits::default()).unwrap();
    let statuses: Vec<CellStatus> = protected.cells.iter().map(|c| c.status).collect();
    assert_eq!(statuses[primary[0]], CellStatus::WithheldThreshold);
    assert_protected(cube, &statuses, &primary);
}
