//! Property: tables along a classification, with the subtotals of a
//! coarser level or with structural zeros, are released only when an
//! independent attacker (clarabel, every cell a variable, the equations
//! written out here from the hierarchy) cannot pin any withheld cell within
//! its protection; structural zeros come out as zero and are never withheld.

mod lp_support;

use ddc::disclosure::attacker::AttackerError;
use ddc::disclosure::{
    protect_table, AttackerLimits, CellStatus, DisclosureError, DisclosurePolicy, GroupDisclosure,
    TableContext, TableKind,
};
use ddc::tabulate::{Axis, CountCube, TableStats};
use lp_support::independent::attacker_interval_independent;
use proptest::prelude::*;

/// Which group each leaf belongs to, groups numbered from 0.
#[derive(Clone, Debug)]
struct Hierarchy {
    group_of: Vec<usize>,
    groups: usize,
}

fn hierarchy() -> impl Strategy<Value = Hierarchy> {
    proptest::collection::vec(1usize..=3, 2..=3).prop_map(|sizes| Hierarchy {
        group_of: sizes
            .iter()
            .enumerate()
            .flat_map(|(g, &n)| std::iter::repeat_n(g, n))
            .collect(),
        groups: sizes.len(),
    })
}

/// How the table is laid out.
#[derive(Clone, Debug)]
enum Layout {
    /// Leaves with their groups' subtotals, times a flat dimension of `n`
    /// categories (0: one-way).
    Subtotals { n: usize },
    /// Leaves × groups as two flat dimensions: a leaf outside its group is
    /// a structural zero.
    Structural,
}

fn count() -> impl Strategy<Value = u64> {
    prop_oneof![3 => 10u64..60, 2 => 1u64..10, 1 => Just(0u64)]
}

fn case() -> impl Strategy<Value = (Hierarchy, Layout, Vec<u64>)> {
    let layout = prop_oneof![
        (0usize..=3).prop_map(|n| Layout::Subtotals {
            n: if n == 1 { 0 } else { n }
        }),
        Just(Layout::Structural),
    ];
    (hierarchy(), layout).prop_flat_map(|(h, layout)| {
        let cells = match &layout {
            Layout::Subtotals { n } => h.group_of.len() * (*n).max(1),
            Layout::Structural => h.group_of.len(),
        };
        (
            Just(h),
            Just(layout),
            proptest::collection::vec(count(), cells),
        )
    })
}

/// The table, and its equations written out independently of the engine.
struct Built {
    stats: TableStats,
    equations: Vec<(usize, Vec<usize>)>,
}

fn build(h: &Hierarchy, layout: &Layout, counts: &[u64]) -> Built {
    let leaves = h.group_of.len();
    match *layout {
        Layout::Subtotals { n } => {
            // Dimension 0: leaves, then one subtotal per group, then the total.
            let subtotal = |g: usize| leaves + g;
            let total0 = leaves + h.groups;
            let mut parent: Vec<usize> = h.group_of.iter().map(|&g| subtotal(g)).collect();
            parent.extend(std::iter::repeat_n(total0, h.groups));
            let mut axes = vec![Axis::new(leaves, parent).unwrap()];
            if n > 0 {
                axes.push(Axis::flat(n));
            }
            let mut cube = CountCube::with_axes(axes);
            let width = if n > 0 { n + 1 } else { 1 };
            let index = |p0: usize, p1: usize| p0 * width + p1;
            let columns: Vec<usize> = if n > 0 { (0..=n).collect() } else { vec![0] };
            for (k, &c) in counts.iter().enumerate() {
                let (leaf, col) = (k.checked_div(n).unwrap_or(k), k.checked_rem(n).unwrap_or(0));
                let rows = [leaf, subtotal(h.group_of[leaf]), total0];
                let cols: Vec<usize> = if n > 0 { vec![col, n] } else { vec![0] };
                for &r in &rows {
                    for &q in &cols {
                        cube.add(index(r, q), c);
                    }
                }
            }
            let mut equations = Vec::new();
            for &q in &columns {
                for g in 0..h.groups {
                    let parts = (0..leaves).filter(|&l| h.group_of[l] == g);
                    equations.push((index(subtotal(g), q), parts.map(|l| index(l, q)).collect()));
                }
                let groups = (0..h.groups).map(|g| index(subtotal(g), q)).collect();
                equations.push((index(total0, q), groups));
                // Implied by the two above, and stated anyway.
                equations.push((index(total0, q), (0..leaves).map(|l| index(l, q)).collect()));
            }
            if n > 0 {
                for r in 0..=total0 {
                    equations.push((index(r, n), (0..n).map(|q| index(r, q)).collect()));
                }
            }
            Built {
                stats: stats(cube, Vec::new()),
                equations,
            }
        }
        Layout::Structural => {
            let (rows, cols) = (leaves + 1, h.groups + 1);
            let index = |r: usize, c: usize| r * cols + c;
            let mut cube = CountCube::zeros(vec![leaves, h.groups]);
            for (leaf, &c) in counts.iter().enumerate() {
                let g = h.group_of[leaf];
                for (r, q) in [(leaf, g), (leaf, h.groups), (leaves, g), (leaves, h.groups)] {
                    cube.add(index(r, q), c);
                }
            }
            let mut zeros = vec![false; rows * cols];
            for leaf in 0..leaves {
                for g in (0..h.groups).filter(|&g| g != h.group_of[leaf]) {
                    zeros[index(leaf, g)] = true;
                }
            }
            let mut equations = Vec::new();
            for r in 0..rows {
                equations.push((
                    index(r, h.groups),
                    (0..h.groups).map(|q| index(r, q)).collect(),
                ));
            }
            for q in 0..cols {
                equations.push((index(leaves, q), (0..leaves).map(|r| index(r, q)).collect()));
            }
            Built {
                stats: stats(cube, zeros),
                equations,
            }
        }
    }
}

fn stats(cube: CountCube, structural_zeros: Vec<bool>) -> TableStats {
    TableStats {
        structural_zeros,
        ..TableStats::of_counts(cube)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, max_global_rejects: 24, ..ProptestConfig::default() })]

    #[test]
    fn released_hierarchical_tables_pass_an_independent_attacker_check(
        (h, layout, counts) in case(),
        threshold in 3u64..=10,
        w in 1u64..=3,
        holders in 1usize..=2,
    ) {
        let policy = DisclosurePolicy {
            threshold,
            count_protection: w,
            zeros_disclosive: false,
            group_disclosure: GroupDisclosure::MultipleHolders,
            perturbation: None,
            ..DisclosurePolicy::default()
        };
        let built = build(&h, &layout, &counts);
        let ctx = TableContext { kind: TableKind::Count, holders, negative_values: false, salt: 0 };
        let result = protect_table(&built.stats, &policy, &ctx, None, &AttackerLimits::default());
        prop_assume!(!matches!(result, Err(DisclosureError::Attacker(AttackerError::Unprotectable { .. }))));
        let protected = result.expect("released or refused as unprotectable");
        let statuses: Vec<CellStatus> = protected.cells.iter().map(|c| c.status).collect();
        let cube = &built.stats.cube;
        let zeros = &built.stats.structural_zeros;
        for (i, c) in protected.cells.iter().enumerate() {
            let structural = zeros.get(i).copied().unwrap_or(false);
            prop_assert_eq!(structural, c.status == CellStatus::StructuralZero, "cell {}", i);
            if structural {
                prop_assert_eq!(c.count, Some(0));
            }
        }
        let t = threshold as f64;
        let w = w as f64;
        let values: Vec<f64> = (0..cube.len()).map(|i| cube.count(i) as f64).collect();
        let withheld: Vec<bool> = statuses.iter().map(|s| s.is_withheld()).collect();
        let (lower, upper): (Vec<f64>, Vec<f64>) = statuses
            .iter()
            .map(|s| match s {
                CellStatus::WithheldThreshold => (1.0, t - 1.0),
                _ => (0.0, f64::INFINITY),
            })
            .unzip();
        for i in 0..cube.len() {
            let x = values[i];
            let (lpl, upl) = match statuses[i] {
                CellStatus::WithheldThreshold => (w.min(x - 1.0), w.min(t - 1.0 - x)),
                CellStatus::WithheldGroup => (w.min(if x == 0.0 { 0.0 } else { x - t }), w),
                _ => continue,
            };
            let (lo, hi) = attacker_interval_independent(&built.equations, &values, &lower, &upper, &withheld, i);
            let tol = 1e-3 * x.abs().max(1.0);
            prop_assert!(lo <= x - lpl + tol, "cell {} = {}: attacker min {} > {}", i, x, lo, x - lpl);
            prop_assert!(hi >= x + upl - tol, "cell {} = {}: attacker max {} < {}", i, x, hi, x + upl);
        }
    }
}
