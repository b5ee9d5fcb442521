use super::fixtures::{cube_table, index};
use super::*;

const SIZES: [usize; 2] = [2, 2];

/// 2×2 interior [[3, 15], [20, 30]]; margins 18, 50 | 23, 45 | 68.
fn two_by_two() -> (Vec<Equation>, Vec<CellFacts>) {
    cube_table(&SIZES, &[3.0, 15.0, 20.0, 30.0])
}

fn withhold(cells: &[usize], n: usize) -> Vec<bool> {
    (0..n).map(|c| cells.contains(&c)).collect()
}

fn rectangle() -> Vec<usize> {
    [[0, 0], [0, 1], [1, 0], [1, 1]]
        .iter()
        .map(|c| index(&SIZES, c))
        .collect()
}

#[test]
fn cube_equations_2x3_has_one_equation_per_margin_line() {
    let equations = cube_equations(&[2, 3]);
    // 4 cells on the total row (one per column incl. the total) + 3 on the total column.
    assert_eq!(equations.len(), 7);
    assert!(equations.contains(&Equation {
        total: 3,
        parts: vec![0, 1, 2]
    }));
    assert!(equations.contains(&Equation {
        total: 9,
        parts: vec![1, 5]
    }));
    // The grand total is summed both along rows and along columns.
    assert!(equations.contains(&Equation {
        total: 11,
        parts: vec![3, 7]
    }));
    assert!(equations.contains(&Equation {
        total: 11,
        parts: vec![8, 9, 10]
    }));
}

#[test]
fn cube_equations_of_2x2x2_cover_every_margin_direction() {
    // A cell with k total coordinates has k equations: 1*12 + 2*6 + 3*1 = 27.
    let equations = cube_equations(&[2, 2, 2]);
    assert_eq!(equations.len(), 27);
    let grand = index(&[2, 2, 2], &[2, 2, 2]);
    assert_eq!(equations.iter().filter(|e| e.total == grand).count(), 3);
}

#[test]
fn released_cell_interval_is_its_value() {
    let (equations, facts) = two_by_two();
    let interval = attacker_interval(&equations, &facts, &[false; 9], 0).unwrap();
    assert_eq!(interval, Interval { lo: 3.0, hi: 3.0 });
}

#[test]
fn single_withheld_interior_cell_is_pinned() {
    let (equations, facts) = two_by_two();
    let interval = attacker_interval(&equations, &facts, &withhold(&[0], 9), 0).unwrap();
    assert!((interval.lo - 3.0).abs() < 1e-9 && (interval.hi - 3.0).abs() < 1e-9);
}

#[test]
fn withheld_rectangle_lets_the_cell_move_within_nonnegativity() {
    let (equations, mut facts) = two_by_two();
    let withheld = withhold(&rectangle(), 9);
    // 3 + t with 15 - t >= 0, 20 - t >= 0, 30 + t >= 0, 3 + t >= 0.
    let interval = attacker_interval(&equations, &facts, &withheld, 0).unwrap();
    assert!((interval.lo - 0.0).abs() < 1e-9 && (interval.hi - 18.0).abs() < 1e-9);
    facts[0] = CellFacts {
        value: 3.0,
        lower: 1.0,
        upper: 9.0,
    };
    let interval = attacker_interval(&equations, &facts, &withheld, 0).unwrap();
    assert!((interval.lo - 1.0).abs() < 1e-9 && (interval.hi - 9.0).abs() < 1e-9);
}

#[test]
fn unbounded_directions_are_infinite() {
    let (equations, mut facts) = two_by_two();
    for f in &mut facts {
        (f.lower, f.upper) = (f64::NEG_INFINITY, f64::INFINITY);
    }
    let withheld = withhold(&rectangle(), 9);
    let interval = attacker_interval(&equations, &facts, &withheld, 0).unwrap();
    assert_eq!(
        interval,
        Interval {
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY
        }
    );
}

#[test]
fn cell_in_no_equation_keeps_its_a_priori_bounds() {
    let facts = [CellFacts {
        value: 4.0,
        lower: 1.0,
        upper: 9.0,
    }];
    let interval = attacker_interval(&[], &facts, &[true], 0).unwrap();
    assert_eq!(interval, Interval { lo: 1.0, hi: 9.0 });
}

#[test]
fn check_reports_failures_by_cell_index() {
    let (equations, facts) = two_by_two();
    let withheld = withhold(&[0, 4], 9);
    let protections = [
        Protection {
            cell: 4,
            lower: 1.0,
            upper: 1.0,
        },
        Protection {
            cell: 0,
            lower: 1.0,
            upper: 1.0,
        },
    ];
    let failures = check(&equations, &facts, &withheld, &protections).unwrap();
    let cells: Vec<usize> = failures.iter().map(|(p, _)| p.cell).collect();
    assert_eq!(cells, vec![0, 4]);
}

#[test]
fn check_passes_a_protected_rectangle() {
    let (equations, facts) = two_by_two();
    let protections = [Protection {
        cell: 0,
        lower: 2.0,
        upper: 3.0,
    }];
    let failures = check(&equations, &facts, &withhold(&rectangle(), 9), &protections).unwrap();
    assert!(failures.is_empty());
}

#[test]
fn facts_that_contradict_the_released_values_are_reported() {
    let (equations, mut facts) = two_by_two();
    // Cell 0 is pinned to 3 by the released cells, but its bounds say 5..9.
    facts[0] = CellFacts {
        value: 3.0,
        lower: 5.0,
        upper: 9.0,
    };
    let result = attacker_interval(&equations, &facts, &withhold(&[0], 9), 0);
    assert!(matches!(
        result,
        Err(AttackerError::Inconsistent { cell: 0 })
    ));
}

#[test]
fn equation_outside_the_table_is_invalid_input() {
    let (_, facts) = two_by_two();
    let equations = [Equation {
        total: 0,
        parts: vec![1, 99],
    }];
    let result = attacker_interval(&equations, &facts, &[false; 9], 0);
    assert!(matches!(result, Err(AttackerError::InvalidInput { .. })));
}

#[test]
fn large_magnitudes_are_solved_without_numerical_failure() {
    let (equations, facts) = cube_table(&SIZES, &[3.0e9, 1.5e11, 2.0e10, 3.7e12]);
    let withheld = withhold(&rectangle(), 9);
    let interval = attacker_interval(&equations, &facts, &withheld, 0).unwrap();
    assert!((interval.lo - 0.0).abs() < 1e-3 && (interval.hi - 2.3e10).abs() < 1e-3);
}

/// A 3×3 table with two cells below a threshold of 10, and their protections.
fn two_small_cells() -> (Vec<Equation>, Vec<CellFacts>, Vec<bool>, Vec<Protection>) {
    const S: [usize; 2] = [3, 3];
    let interior = [3.0, 15.0, 14.0, 16.0, 12.0, 20.0, 13.0, 18.0, 4.0];
    let (equations, mut facts) = cube_table(&S, &interior);
    let small = [index(&S, &[0, 0]), index(&S, &[2, 2])];
    for &c in &small {
        facts[c].lower = 1.0;
        facts[c].upper = 9.0;
    }
    let protections = small
        .iter()
        .map(|&cell| Protection {
            cell,
            lower: 2.0,
            upper: 3.0,
        })
        .collect();
    (equations, facts, withhold(&small, 16), protections)
}

/// Runs suppression and the final check within `work`.
fn protect_within(work: &mut WorkBudget) -> Result<Vec<usize>, AttackerError> {
    let (equations, facts, mut withheld, protections) = two_small_cells();
    let cost: Vec<f64> = facts.iter().map(|f| f.value + 1.0).collect();
    let added =
        suppress_secondary_within(&equations, &facts, &mut withheld, &protections, &cost, work)?;
    let failures = check_within(&equations, &facts, &withheld, &protections, work)?;
    assert!(failures.is_empty());
    Ok(added)
}

#[test]
fn the_work_of_a_protection_is_the_same_on_every_run() {
    let (mut first, mut second) = (WorkBudget::unlimited(), WorkBudget::unlimited());
    let added = protect_within(&mut first).unwrap();
    assert_eq!(protect_within(&mut second).unwrap(), added);
    assert!(first.spent() > 0);
    assert_eq!(first.spent(), second.spent());
}

#[test]
fn twice_the_primary_check_work_is_a_lower_bound_of_the_whole_protection() {
    let (equations, facts, withheld, protections) = two_small_cells();
    let estimate = check_work(&equations, &facts, &withheld, &protections).unwrap();
    // Each lone cell is pinned by its row: one equation over one variable.
    assert_eq!(estimate, 2 * 2 * budget::lp_units(2, 1));
    let mut work = WorkBudget::unlimited();
    protect_within(&mut work).unwrap();
    assert!(
        work.spent() >= 2 * estimate,
        "{} < {}",
        work.spent(),
        2 * estimate
    );
}

#[test]
fn a_budget_that_runs_out_midway_stops_before_the_solve_that_does_not_fit() {
    let mut full = WorkBudget::unlimited();
    protect_within(&mut full).unwrap();
    for limit in [0, 1, full.spent() / 2, full.spent() - 1] {
        let mut work = WorkBudget::new(limit);
        let refused = protect_within(&mut work).unwrap_err();
        assert!(
            matches!(refused, AttackerError::OverBudget(OverBudget { limit: l, needed }) if l == limit && needed > limit),
            "{refused:?}"
        );
        assert!(work.spent() <= limit);
    }
    protect_within(&mut WorkBudget::new(full.spent())).unwrap();
}

#[test]
fn released_cells_and_free_cells_cost_no_work() {
    let (equations, facts) = two_by_two();
    let protection = Protection {
        cell: 0,
        lower: 1.0,
        upper: 1.0,
    };
    let withheld = withhold(&[0], 9);
    // A released cell needs no solve.
    assert_eq!(
        check_work(&equations, &facts, &[false; 9], &[protection]).unwrap(),
        0
    );
    let mut work = WorkBudget::new(0);
    assert!(check_within(&equations, &facts, &[false; 9], &[protection], &mut work).is_ok());
    // A withheld one is charged both of its solves.
    let units = check_work(&equations, &facts, &withheld, &[protection]).unwrap();
    assert_eq!(units, 2 * budget::lp_units(2, 1));
    let mut work = WorkBudget::new(units);
    check_within(&equations, &facts, &withheld, &[protection], &mut work).unwrap();
    assert_eq!(work.spent(), units);
}
