use proptest::prelude::*;

use super::super::evidence::Evidence;
use super::super::fixtures::{cube_table, index};
use super::super::{attacker_interval, axis_equations, CellFacts, Table, WorkBudget};
use super::Geometry;
use crate::tabulate::Axis;

fn flat(sizes: &[usize]) -> Vec<Axis> {
    sizes.iter().map(|&n| Axis::flat(n)).collect()
}

/// `withheld` with `cells` added.
fn with(withheld: &[bool], cells: &[usize]) -> Vec<bool> {
    let mut out = withheld.to_vec();
    for &c in cells {
        out[c] = true;
    }
    out
}

#[test]
fn a_lone_cell_of_a_two_way_table_gets_the_cheapest_rectangle() {
    const SIZES: [usize; 2] = [2, 2];
    let (equations, facts) = cube_table(&SIZES, &[3.0, 15.0, 14.0, 16.0]);
    let table = Table::new(&equations, &facts).unwrap();
    let axes = flat(&SIZES);
    let geometry = Geometry::new(&axes);
    let mut withheld = vec![false; facts.len()];
    withheld[0] = true;
    let cost: Vec<f64> = facts.iter().map(|f| f.value + 1.0).collect();
    let mut work = WorkBudget::unlimited();
    let (released, witness) = geometry
        .cheapest_box(&table, &withheld, &cost, 0, 1.0, &mut work)
        .unwrap()
        .expect("the interior rectangle has room");
    let rectangle: Vec<usize> = [[0, 1], [1, 0], [1, 1]]
        .iter()
        .map(|c| index(&SIZES, c))
        .collect();
    assert_eq!(released, rectangle);
    assert!(work.spent() > 0);
    let evidence = Evidence::verified(&table, &with(&withheld, &released), [witness]).unwrap();
    assert_eq!(evidence.range(0).lo, 1.0);
    // The opposite corner moves with the cell, the other two against it.
    assert_eq!(evidence.range(index(&SIZES, &[1, 1])).lo, 14.0);
    assert_eq!(evidence.range(index(&SIZES, &[0, 1])).hi, 17.0);
}

#[test]
fn a_box_through_subtotals_changes_them_with_their_leaf() {
    // Leaves a b c d; S1 = a + b, S2 = c + d; the total. Crossed with two
    // flat categories.
    let hierarchy = Axis::new(4, vec![4, 4, 5, 5, 6, 6]).unwrap();
    let axes = vec![hierarchy, Axis::flat(2)];
    let equations = axis_equations(&axes);
    let geometry = Geometry::new(&axes);
    // Interior (leaf, category): a 3/20, b 40/30, c 30/25, d 50/45.
    let interior = [[3.0, 20.0], [40.0, 30.0], [30.0, 25.0], [50.0, 45.0]];
    let mut values = vec![0.0; geometry.cells()];
    for (leaf, row) in interior.iter().enumerate() {
        for (k, &v) in row.iter().enumerate() {
            for p in axes[0].chain(leaf) {
                for q in [k, 2] {
                    values[p * 3 + q] += v;
                }
            }
        }
    }
    let facts: Vec<CellFacts> = values
        .iter()
        .map(|&value| CellFacts {
            value,
            lower: 0.0,
            upper: f64::INFINITY,
        })
        .collect();
    let table = Table::new(&equations, &facts).unwrap();
    let mut withheld = vec![false; facts.len()];
    withheld[0] = true;
    // Subtotals and margins are dear, so the box stays among the leaves
    // unless a leaf lacks room.
    let cost: Vec<f64> = facts.iter().map(|f| f.value + 1.0).collect();
    for (cell, goal) in [(0, 0.0), (0, 6.0), (4 * 3, 40.0 + 25.0)] {
        let (released, witness) = geometry
            .cheapest_box(
                &table,
                &withheld,
                &cost,
                cell,
                goal,
                &mut WorkBudget::unlimited(),
            )
            .unwrap()
            .expect("a box has room");
        let pattern = with(&with(&withheld, &[cell]), &released);
        let evidence = Evidence::verified(&table, &pattern, [witness]).unwrap();
        assert_eq!(evidence.witnesses().len(), 1, "cell {cell} to {goal}");
        let reached = evidence.range(cell);
        assert!(reached.lo <= goal && goal <= reached.hi);
        let interval = attacker_interval(&equations, &facts, &pattern, cell).unwrap();
        assert!(interval.lo <= goal + 1e-9 && goal - 1e-9 <= interval.hi);
    }
}

#[test]
fn no_box_is_found_when_no_corner_has_room() {
    const SIZES: [usize; 2] = [2, 2];
    let (equations, mut facts) = cube_table(&SIZES, &[3.0, 15.0, 14.0, 16.0]);
    // Every cell but the protected one is known exactly.
    for f in facts.iter_mut().skip(1) {
        f.lower = f.value;
        f.upper = f.value;
    }
    let table = Table::new(&equations, &facts).unwrap();
    let axes = flat(&SIZES);
    let mut withheld = vec![false; facts.len()];
    withheld[0] = true;
    let cost = vec![1.0; facts.len()];
    let found = Geometry::new(&axes)
        .cheapest_box(
            &table,
            &withheld,
            &cost,
            0,
            1.0,
            &mut WorkBudget::unlimited(),
        )
        .unwrap();
    assert!(found.is_none());
}

#[test]
fn the_search_is_charged_before_it_starts() {
    const SIZES: [usize; 3] = [4, 3, 3];
    let interior: Vec<f64> = (0..36).map(|i| 10.0 + i as f64).collect();
    let (equations, facts) = cube_table(&SIZES, &interior);
    let table = Table::new(&equations, &facts).unwrap();
    let axes = flat(&SIZES);
    let withheld = vec![false; facts.len()];
    let cost = vec![1.0; facts.len()];
    let mut work = WorkBudget::new(0);
    let refused = Geometry::new(&axes).cheapest_box(&table, &withheld, &cost, 0, 5.0, &mut work);
    assert!(refused.is_err());
    assert_eq!(work.spent(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever box is found holds on the pattern with its corners withheld,
    /// as the evidence and an attacker's linear program both confirm; and
    /// before its released corners are withheld, the evidence rejects it.
    #[test]
    fn every_box_found_is_a_table_the_attacker_cannot_exclude(
        sizes in prop::collection::vec(2usize..5, 1..4),
        seed in any::<u64>(),
        pick in any::<prop::sample::Index>(),
        down in any::<bool>(),
        hierarchical in any::<bool>(),
    ) {
        let mut axes: Vec<Axis> = sizes.iter().map(|&n| Axis::flat(n)).collect();
        if hierarchical && sizes[0] == 4 {
            axes[0] = Axis::new(4, vec![4, 4, 5, 5, 6, 6]).unwrap();
        }
        let equations = axis_equations(&axes);
        let geometry = Geometry::new(&axes);
        let facts = random_cube(&axes, seed);
        let table = Table::new(&equations, &facts).unwrap();
        let cell = pick.index(facts.len());
        let value = facts[cell].value;
        let goal = if down { (value - 3.0).max(0.0) } else { value + 3.0 };
        prop_assume!(goal != value);
        let mut withheld: Vec<bool> = (0..facts.len()).map(|i| (seed >> (i % 64)) & 1 == 1).collect();
        withheld[cell] = true;
        let cost: Vec<f64> = facts.iter().map(|f| f.value + 1.0).collect();
        let found = geometry
            .cheapest_box(&table, &withheld, &cost, cell, goal, &mut WorkBudget::unlimited())
            .unwrap();
        if let Some((released, witness)) = found {
            prop_assert!(released.iter().all(|&c| !withheld[c]));
            if !released.is_empty() {
                let before = Evidence::verified(&table, &withheld, [witness.clone()]).unwrap();
                prop_assert!(before.witnesses().is_empty());
            }
            let pattern = with(&withheld, &released);
            let evidence = Evidence::verified(&table, &pattern, [witness]).unwrap();
            prop_assert_eq!(evidence.witnesses().len(), 1);
            let reached = evidence.range(cell);
            prop_assert!(reached.lo <= goal && goal <= reached.hi);
            let interval = attacker_interval(&equations, &facts, &pattern, cell).unwrap();
            prop_assert!(interval.lo <= goal + 1e-6 && goal - 1e-6 <= interval.hi);
        }
    }
}

/// A cube along `axes` with interior counts from 0 to 30 and their sums,
/// bounded a priori by `[0, inf)`.
fn random_cube(axes: &[Axis], seed: u64) -> Vec<CellFacts> {
    let geometry = Geometry::new(axes);
    let mut state = seed | 1;
    let mut values = vec![0.0; geometry.cells()];
    let mut leaf = vec![0usize; axes.len()];
    loop {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v = (state >> 33) % 31;
        add_to_chains(axes, &geometry.strides, &leaf, 0, 0, v as f64, &mut values);
        if !next_leaf(&mut leaf, axes) {
            break;
        }
    }
    values
        .into_iter()
        .map(|value| CellFacts {
            value,
            lower: 0.0,
            upper: f64::INFINITY,
        })
        .collect()
}

/// Adds `v` to every cell covering the leaf cell `leaf`.
fn add_to_chains(
    axes: &[Axis],
    strides: &[usize],
    leaf: &[usize],
    d: usize,
    base: usize,
    v: f64,
    values: &mut [f64],
) {
    if d == axes.len() {
        values[base] += v;
        return;
    }
    for &p in axes[d].chain(leaf[d]) {
        add_to_chains(axes, strides, leaf, d + 1, base + p * strides[d], v, values);
    }
}

fn next_leaf(leaf: &mut [usize], axes: &[Axis]) -> bool {
    for d in (0..leaf.len()).rev() {
        leaf[d] += 1;
        if leaf[d] < axes[d].leaves() {
            return true;
        }
        leaf[d] = 0;
    }
    false
}
