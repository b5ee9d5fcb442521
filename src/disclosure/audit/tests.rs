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
fn audit_reports_failures_by_cell_index() {
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
    let failures = audit(&equations, &facts, &withheld, &protections).unwrap();
    let cells: Vec<usize> = failures.iter().map(|(p, _)| p.cell).collect();
    assert_eq!(cells, vec![0, 4]);
}

#[test]
fn audit_passes_a_protected_rectangle() {
    let (equations, facts) = two_by_two();
    let protections = [Protection {
        cell: 0,
        lower: 2.0,
        upper: 3.0,
    }];
    let failures = audit(&equations, &facts, &withhold(&rectangle(), 9), &protections).unwrap();
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
    assert!(matches!(result, Err(AuditError::Inconsistent { cell: 0 })));
}

#[test]
fn equation_outside_the_table_is_invalid_input() {
    let (_, facts) = two_by_two();
    let equations = [Equation {
        total: 0,
        parts: vec![1, 99],
    }];
    let result = attacker_interval(&equations, &facts, &[false; 9], 0);
    assert!(matches!(result, Err(AuditError::InvalidInput { .. })));
}

#[test]
fn large_magnitudes_are_solved_without_numerical_failure() {
    let (equations, facts) = cube_table(&SIZES, &[3.0e9, 1.5e11, 2.0e10, 3.7e12]);
    let withheld = withhold(&rectangle(), 9);
    let interval = attacker_interval(&equations, &facts, &withheld, 0).unwrap();
    assert!((interval.lo - 0.0).abs() < 1e-3 && (interval.hi - 2.3e10).abs() < 1e-3);
}
