//! Property: for random count tables and policies, every table the engine
//! releases passes the attacker check — computed here by a second,
//! independent solver (clarabel's interior point, all cells as variables),
//! with the attacker's knowledge and the protection levels restated from the
//! documented rules — and the same input always gives the same pattern.

mod lp_support;

use ddc::disclosure::attacker::AttackerError;
use ddc::disclosure::{
    protect_table, AttackerLimits, CellStatus, DisclosureError, DisclosurePolicy, GroupDisclosure,
    TableContext, TableKind,
};
use ddc::tabulate::{CountCube, MagnitudeStats, TableStats, TOP_CONTRIBUTIONS};
use lp_support::independent::attacker_interval_independent;
use lp_support::stats::count_stats;
use proptest::prelude::*;

/// `total = sum(parts)` along every dimension, written out independently.
fn equations(cube: &CountCube) -> Vec<(usize, Vec<usize>)> {
    let mut out = Vec::new();
    for i in 0..cube.len() {
        let coords = cube.coordinates(i);
        for d in 0..coords.len() {
            if coords[d].is_none() {
                let parts = (0..cube.sizes()[d])
                    .map(|c| {
                        let mut p = coords.clone();
                        p[d] = Some(c);
                        cube.index(&p)
                    })
                    .collect();
                out.push((i, parts));
            }
        }
    }
    out
}

fn table_strategy() -> impl Strategy<Value = (Vec<usize>, Vec<u64>)> {
    prop_oneof![
        (2usize..=4, 2usize..=4).prop_map(|(a, b)| vec![a, b]),
        (2usize..=3, 2usize..=3, 2usize..=3).prop_map(|(a, b, c)| vec![a, b, c]),
        (2usize..=6).prop_map(|a| vec![a]),
    ]
    .prop_flat_map(|sizes| {
        let n: usize = sizes.iter().product();
        // Mostly large cells, some small ones and zeros.
        let count = prop_oneof![3 => 10u64..60, 2 => 1u64..10, 1 => Just(0u64)];
        (Just(sizes), proptest::collection::vec(count, n))
    })
}

fn policy_strategy() -> impl Strategy<Value = (DisclosurePolicy, usize)> {
    (3u64..=10, 1u64..=3, any::<bool>(), 1usize..=2).prop_map(|(threshold, w, zeros, holders)| {
        let policy = DisclosurePolicy {
            threshold,
            count_protection: w,
            zeros_disclosive: zeros,
            group_disclosure: GroupDisclosure::MultipleHolders,
            perturbation: None,
            ..DisclosurePolicy::default()
        };
        (policy, holders)
    })
}

proptest! {
    // A table whose status labels alone pin a cell (e.g. a margin of 2 made
    // of two withheld cells of at least 1 each, when zeros are released) is
    // refused, never released; such refusals are rejected cases, and a
    // handful of them at most is allowed, so the test cannot pass vacuously.
    #![proptest_config(ProptestConfig { cases: 96, max_global_rejects: 24, ..ProptestConfig::default() })]

    #[test]
    fn released_tables_pass_an_independent_attacker_check(
        (sizes, interior) in table_strategy(),
        (policy, holders) in policy_strategy(),
    ) {
        let s = count_stats(&sizes, &interior);
        let ctx = TableContext { kind: TableKind::Count, holders, negative_values: false, salt: 0 };
        let first = protect_table(&s, &policy, &ctx, None, &AttackerLimits::default());
        prop_assume!(!matches!(first, Err(DisclosureError::Attacker(AttackerError::Unprotectable { .. }))));
        let first = first.expect("released or refused as unprotectable");
        let again = protect_table(&s, &policy, &ctx, None, &AttackerLimits::default()).unwrap();
        let statuses: Vec<CellStatus> = first.cells.iter().map(|c| c.status).collect();
        prop_assert_eq!(&statuses, &again.cells.iter().map(|c| c.status).collect::<Vec<_>>());

        let cube = &s.cube;
        let t = policy.threshold as f64;
        let w = policy.count_protection as f64;
        let values: Vec<f64> = (0..cube.len()).map(|i| cube.count(i) as f64).collect();
        let withheld: Vec<bool> = statuses.iter().map(|&st| st != CellStatus::Released).collect();
        // What each status tells the analyst about the true count.
        let floor = if policy.zeros_disclosive { 0.0 } else { 1.0 };
        let secondary_floor = if policy.zeros_disclosive { t } else { 0.0 };
        let (lower, upper): (Vec<f64>, Vec<f64>) = statuses
            .iter()
            .map(|st| match st {
                CellStatus::WithheldThreshold => (floor, t - 1.0),
                CellStatus::WithheldSecondary => (secondary_floor, f64::INFINITY),
                _ => (0.0, f64::INFINITY),
            })
            .unzip();
        let eqs = equations(cube);
        for i in 0..cube.len() {
            let x = values[i];
            let (lpl, upl) = match statuses[i] {
                CellStatus::WithheldThreshold => (w.min(x - floor), w.min(t - 1.0 - x)),
                CellStatus::WithheldGroup => (w.min(if x == 0.0 { 0.0 } else { x - t }), w),
                _ => continue,
            };
            let (lo, hi) = attacker_interval_independent(&eqs, &values, &lower, &upper, &withheld, i);
            // Interior-point answers are good to about 1e-5 relative; counts and
            // sums are far coarser than this tolerance.
            let tol = 1e-3 * x.abs().max(1.0);
            prop_assert!(lo <= x - lpl + tol, "cell {} = {}: attacker min {} > {}", i, x, lo, x - lpl);
            prop_assert!(hi >= x + upl - tol, "cell {} = {}: attacker max {} < {}", i, x, hi, x + upl);
        }
        // Released cells are exact (no perturbation in this policy).
        for (i, c) in first.cells.iter().enumerate() {
            if c.status == CellStatus::Released {
                prop_assert_eq!(c.count, Some(cube.count(i)));
            }
        }
    }
}

/// A magnitude table from each interior cell's unit contributions.
fn magnitude_stats(sizes: &[usize], interior: &[Vec<u64>]) -> (TableStats, Vec<Vec<u64>>) {
    let mut cube = CountCube::zeros(sizes.to_vec());
    let mut contributions: Vec<Vec<u64>> = vec![Vec::new(); cube.len()];
    let mut interior = interior.iter();
    for i in 0..cube.len() {
        if cube.is_interior(i) {
            let units = interior.next().expect("one list per interior cell");
            for c in cube.covering(i) {
                cube.add(c, units.len() as u64);
                contributions[c].extend(units);
            }
        }
    }
    let mut m = MagnitudeStats::default();
    for units in &contributions {
        let mut sorted = units.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let mut top = [0u128; TOP_CONTRIBUTIONS];
        for (t, &u) in top.iter_mut().zip(&sorted) {
            *t = u128::from(u);
        }
        let sum: u64 = units.iter().sum();
        m.sums.push(i128::from(sum));
        m.units.push(units.len() as u64);
        m.top.push(top);
        m.abs_sums.push(u128::from(sum));
    }
    let keys = vec![0; cube.len()];
    (
        TableStats {
            cube,
            keys,
            magnitude: Some(m),
            prints: Vec::new(),
            structural_zeros: Vec::new(),
        },
        contributions,
    )
}

fn magnitude_strategy() -> impl Strategy<Value = (Vec<usize>, Vec<Vec<u64>>)> {
    prop_oneof![
        (2usize..=3, 2usize..=3).prop_map(|(a, b)| vec![a, b]),
        (2usize..=5).prop_map(|a| vec![a]),
    ]
    .prop_flat_map(|sizes| {
        let n: usize = sizes.iter().product();
        // Ordinary values, now and then a giant one; 0 to 24 units a cell.
        let value = prop_oneof![9 => 100u64..5_000, 1 => 50_000u64..500_000];
        let cell = proptest::collection::vec(value, 0..24);
        (Just(sizes), proptest::collection::vec(cell, n))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_global_rejects: 16, ..ProptestConfig::default() })]

    /// The same for sums: threshold on units, (n,k)-dominance and p%, with
    /// their documented protection levels computed here from the raw
    /// contributions.
    #[test]
    fn released_sum_tables_pass_an_independent_attacker_check(
        (sizes, interior) in magnitude_strategy(),
        threshold in 3u64..=10,
        n in 1usize..=3,
        k in 60.0f64..=95.0,
        p in 5.0f64..=25.0,
    ) {
        let policy = DisclosurePolicy {
            threshold,
            dominance_n: n,
            dominance_k: k,
            p_percent: p,
            perturbation: None,
            ..DisclosurePolicy::default()
        };
        let (s, contributions) = magnitude_stats(&sizes, &interior);
        let ctx = TableContext { kind: TableKind::Sum, holders: 1, negative_values: false, salt: 0 };
        let result = protect_table(&s, &policy, &ctx, None, &AttackerLimits::default());
        prop_assume!(!matches!(result, Err(DisclosureError::Attacker(AttackerError::Unprotectable { .. }))));
        let protected = result.expect("released or refused as unprotectable");
        let statuses: Vec<CellStatus> = protected.cells.iter().map(|c| c.status).collect();
        let values: Vec<f64> = contributions.iter().map(|u| u.iter().sum::<u64>() as f64).collect();
        let withheld: Vec<bool> = statuses.iter().map(|&st| st != CellStatus::Released).collect();
        let lower = vec![0.0; values.len()];
        let upper = vec![f64::INFINITY; values.len()];
        let eqs = equations(&s.cube);
        for i in 0..values.len() {
            let mut sorted = contributions[i].clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            let big = |j: usize| sorted.get(j).copied().unwrap_or(0) as f64;
            let x = values[i];
            let top_n: f64 = (0..n).map(big).sum();
            let needed = match statuses[i] {
                CellStatus::WithheldThreshold => p / 100.0 * x,
                CellStatus::WithheldDominance => 100.0 / k * top_n - x,
                CellStatus::WithheldPPercent => p / 100.0 * big(0) - (x - big(0) - big(1)),
                CellStatus::Released => {
                    // A released cell must pass every rule.
                    prop_assert!(sorted.len() as u64 >= threshold, "cell {}: too few units released", i);
                    prop_assert!(top_n <= k / 100.0 * x + 1e-9, "cell {}: dominated cell released", i);
                    prop_assert!(x - big(0) - big(1) >= p / 100.0 * big(0) - 1e-9, "cell {}: p% cell released", i);
                    continue;
                }
                _ => continue,
            };
            let (lpl, upl) = (needed.max(0.0).min(x), needed.max(0.0));
            let (lo, hi) = attacker_interval_independent(&eqs, &values, &lower, &upper, &withheld, i);
            // Interior-point answers are good to about 1e-5 relative; counts and
            // sums are far coarser than this tolerance.
            let tol = 1e-3 * x.abs().max(1.0);
            prop_assert!(lo <= x - lpl + tol, "cell {} = {}: attacker min {} > {}", i, x, lo, x - lpl);
            prop_assert!(hi >= x + upl - tol, "cell {} = {}: attacker max {} < {}", i, x, hi, x + upl);
        }
    }
}
