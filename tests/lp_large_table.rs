//! A 30×30 count table with 40 small cells: suppression finishes within the
//! default work budget, the engine check passes, and the independent check
//! agrees. Prints the time and work taken (run with `--nocapture` to see it).

#[path = "lp_support/independent.rs"]
mod independent;
#[path = "lp_support/tables.rs"]
mod tables;

use std::time::Instant;

use ddc::disclosure::attacker::budget::DEFAULT_WORK;
use ddc::disclosure::attacker::{check, check_within, suppress_secondary_within, WorkBudget};
use independent::attacker_interval_independent;
use tables::{CountTable, Lcg};

const SIZE: usize = 30;
const SMALL_CELLS: usize = 40;

/// Interior counts in 10..100, except 40 distinct cells in 1..10.
fn interior() -> Vec<u32> {
    let mut rng = Lcg(2024);
    let mut counts: Vec<u32> = (0..SIZE * SIZE).map(|_| 10 + rng.below(90)).collect();
    let mut placed = 0;
    while placed < SMALL_CELLS {
        let cell = rng.below((SIZE * SIZE) as u32) as usize;
        if counts[cell] >= 10 {
            counts[cell] = 1 + rng.below(9);
            placed += 1;
        }
    }
    counts
}

#[test]
fn thirty_by_thirty_table_with_forty_small_cells_is_protected() {
    let table = CountTable::new(&[SIZE, SIZE], &interior());
    assert_eq!(table.protections.len(), SMALL_CELLS);
    let mut withheld = table.primary.clone();
    let cost = table.cost();

    let started = Instant::now();
    let mut work = WorkBudget::new(DEFAULT_WORK);
    let added = suppress_secondary_within(
        &table.equations,
        &table.facts,
        &mut withheld,
        &table.protections,
        &cost,
        &mut work,
    )
    .expect("a 30x30 table of counts can be protected within the default budget");
    let gate = check_within(
        &table.equations,
        &table.facts,
        &withheld,
        &table.protections,
        &mut work,
    )
    .expect("the release gate fits the default budget too");
    assert!(gate.is_empty(), "{gate:?}");
    let elapsed = started.elapsed();
    let loss: f64 = added.iter().map(|&c| table.facts[c].value).sum();
    println!(
        "30x30, {SMALL_CELLS} primary: {} secondary cells (value {loss}) in {elapsed:?}, {} work units",
        added.len(),
        work.spent()
    );

    let failures = check(
        &table.equations,
        &table.facts,
        &withheld,
        &table.protections,
    )
    .expect("check runs");
    assert!(failures.is_empty(), "{failures:?}");
    let values: Vec<f64> = table.facts.iter().map(|f| f.value).collect();
    let lower: Vec<f64> = table.facts.iter().map(|f| f.lower).collect();
    let upper: Vec<f64> = table.facts.iter().map(|f| f.upper).collect();
    let pairs = table.equation_pairs();
    for p in &table.protections {
        let x = values[p.cell];
        let (lo, hi) =
            attacker_interval_independent(&pairs, &values, &lower, &upper, &withheld, p.cell);
        let tolerance = 1e-5 * x.max(1.0);
        assert!(
            lo <= x - p.lower + tolerance && hi >= x + p.upper - tolerance,
            "cell {}: [{lo}, {hi}]",
            p.cell
        );
    }
}
