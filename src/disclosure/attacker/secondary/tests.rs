use super::super::fixtures::{cube_table, index};
use super::super::{attacker_interval, check};
use super::*;

/// A-priori bounds of a cell withheld by a frequency threshold of 10.
fn below_threshold(facts: &mut [CellFacts], cell: usize) {
    facts[cell].lower = 1.0;
    facts[cell].upper = 9.0;
}

fn withhold(cells: &[usize], n: usize) -> Vec<bool> {
    (0..n).map(|c| cells.contains(&c)).collect()
}

fn values(facts: &[CellFacts]) -> Vec<f64> {
    facts.iter().map(|f| f.value).collect()
}

fn pattern(withheld: &[bool]) -> Vec<usize> {
    (0..withheld.len()).filter(|&c| withheld[c]).collect()
}

#[test]
fn lone_primary_in_2x2_gets_the_classic_rectangle() {
    const SIZES: [usize; 2] = [2, 2];
    // Every interior cell is cheaper than every margin, so no margin is needed.
    let (equations, mut facts) = cube_table(&SIZES, &[3.0, 15.0, 14.0, 16.0]);
    below_threshold(&mut facts, 0);
    let mut withheld = withhold(&[0], facts.len());
    let protections = [Protection {
        cell: 0,
        lower: 2.0,
        upper: 3.0,
    }];
    let pinned = attacker_interval(&equations, &facts, &withheld, 0).unwrap();
    assert!((pinned.hi - pinned.lo).abs() < 1e-9);

    let added = suppress_secondary(
        &equations,
        &facts,
        &mut withheld,
        &protections,
        &values(&facts),
    )
    .unwrap();

    let rectangle: Vec<usize> = [[0, 1], [1, 0], [1, 1]]
        .iter()
        .map(|c| index(&SIZES, c))
        .collect();
    assert_eq!(added, rectangle);
    assert!(check(&equations, &facts, &withheld, &protections)
        .unwrap()
        .is_empty());
}

#[test]
fn lone_primary_in_2x2_is_protected_when_a_margin_is_cheaper() {
    let (equations, mut facts) = cube_table(&[2, 2], &[3.0, 15.0, 20.0, 30.0]);
    below_threshold(&mut facts, 0);
    let mut withheld = withhold(&[0], facts.len());
    let protections = [Protection {
        cell: 0,
        lower: 2.0,
        upper: 3.0,
    }];
    let cost: Vec<f64> = facts.iter().map(|f| 1.0 + f.value).collect();
    let added = suppress_secondary(&equations, &facts, &mut withheld, &protections, &cost).unwrap();
    assert!(added.windows(2).all(|w| w[0] < w[1]));
    assert!(check(&equations, &facts, &withheld, &protections)
        .unwrap()
        .is_empty());
}

/// In the 4×4 array of a 3×3 table with margins: two 4-cycles joined by the
/// bridge (0, 2). Every line holding a withheld cell holds at least two, yet
/// the bridge is determined.
fn bridged_cycles() -> (Vec<Equation>, Vec<CellFacts>, Vec<usize>, usize) {
    const SIZES: [usize; 2] = [3, 3];
    let interior = [12.0, 14.0, 5.0, 11.0, 16.0, 20.0, 13.0, 18.0, 22.0];
    let (equations, mut facts) = cube_table(&SIZES, &interior);
    let coords = [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
        [2, 2],
        [2, 3],
        [3, 2],
        [3, 3],
        [0, 2],
    ];
    let cells: Vec<usize> = coords.iter().map(|c| index(&SIZES, c)).collect();
    let bridge = index(&SIZES, &[0, 2]);
    below_threshold(&mut facts, bridge);
    (equations, facts, cells, bridge)
}

#[test]
fn two_per_line_pattern_with_a_bridge_pins_the_bridge_and_is_repaired() {
    let (equations, facts, cells, bridge) = bridged_cycles();
    let mut withheld = withhold(&cells, facts.len());
    for line in 0..4 {
        let in_row = cells.iter().filter(|&&c| c / 4 == line).count();
        let in_column = cells.iter().filter(|&&c| c % 4 == line).count();
        assert!(in_row != 1 && in_column != 1);
    }
    let protections = [Protection {
        cell: bridge,
        lower: 3.0,
        upper: 3.0,
    }];
    let failures = check(&equations, &facts, &withheld, &protections).unwrap();
    assert_eq!(failures.len(), 1);
    let (_, interval) = failures[0];
    assert!((interval.lo - 5.0).abs() < 1e-9 && (interval.hi - 5.0).abs() < 1e-9);

    let added = suppress_secondary(
        &equations,
        &facts,
        &mut withheld,
        &protections,
        &values(&facts),
    )
    .unwrap();

    assert!(!added.is_empty());
    assert!(check(&equations, &facts, &withheld, &protections)
        .unwrap()
        .is_empty());
}

#[test]
fn lone_primary_in_2x2x2_cube_gets_protected() {
    const SIZES: [usize; 3] = [2, 2, 2];
    let (equations, mut facts) =
        cube_table(&SIZES, &[4.0, 12.0, 15.0, 11.0, 13.0, 17.0, 14.0, 16.0]);
    let primary = index(&SIZES, &[0, 0, 0]);
    below_threshold(&mut facts, primary);
    let mut withheld = withhold(&[primary], facts.len());
    let protections = [Protection {
        cell: primary,
        lower: 3.0,
        upper: 3.0,
    }];

    let added = suppress_secondary(
        &equations,
        &facts,
        &mut withheld,
        &protections,
        &values(&facts),
    )
    .unwrap();

    // A single cell of a 3-D table needs at least the seven other corners of a box.
    assert!(added.len() >= 7, "added {added:?}");
    assert!(check(&equations, &facts, &withheld, &protections)
        .unwrap()
        .is_empty());
}

#[test]
fn same_input_gives_the_same_pattern() {
    let sizes = [3, 4];
    let interior = [
        3.0, 20.0, 20.0, 20.0, 20.0, 7.0, 20.0, 20.0, 20.0, 20.0, 20.0, 2.0,
    ];
    let (equations, mut facts) = cube_table(&sizes, &interior);
    let primaries = [
        index(&sizes, &[0, 0]),
        index(&sizes, &[1, 1]),
        index(&sizes, &[2, 3]),
    ];
    let protections: Vec<Protection> = primaries
        .iter()
        .map(|&cell| {
            below_threshold(&mut facts, cell);
            Protection {
                cell,
                lower: 1.0,
                upper: 2.0,
            }
        })
        .collect();
    // Equal costs everywhere: only the index breaks ties.
    let cost = vec![1.0; facts.len()];
    let run = || {
        let mut withheld = withhold(&primaries, facts.len());
        let added =
            suppress_secondary(&equations, &facts, &mut withheld, &protections, &cost).unwrap();
        (added, pattern(&withheld))
    };
    let first = run();
    assert_eq!(first, run());
    let withheld = withhold(&first.1, facts.len());
    assert!(check(&equations, &facts, &withheld, &protections)
        .unwrap()
        .is_empty());
}

#[test]
fn protection_beyond_the_a_priori_bounds_is_unprotectable() {
    let (equations, mut facts) = cube_table(&[2, 2], &[8.0, 15.0, 14.0, 16.0]);
    below_threshold(&mut facts, 0);
    let mut withheld = withhold(&[0], facts.len());
    let protections = [Protection {
        cell: 0,
        lower: 3.0,
        upper: 3.0,
    }];
    let result = suppress_secondary(
        &equations,
        &facts,
        &mut withheld,
        &protections,
        &values(&facts),
    );
    assert!(matches!(
        result,
        Err(AttackerError::Unprotectable { cell: 0 })
    ));
}

#[test]
fn protection_that_no_table_allows_is_unprotectable() {
    // total (cell 2, known to be at most 5) = a (cell 0) + b (cell 1).
    let equations = [Equation {
        total: 2,
        parts: vec![0, 1],
    }];
    let facts = [
        CellFacts {
            value: 2.0,
            lower: 0.0,
            upper: f64::INFINITY,
        },
        CellFacts {
            value: 3.0,
            lower: 0.0,
            upper: f64::INFINITY,
        },
        CellFacts {
            value: 5.0,
            lower: 0.0,
            upper: 5.0,
        },
    ];
    let mut withheld = vec![true, false, false];
    let protections = [Protection {
        cell: 0,
        lower: 0.0,
        upper: 4.0,
    }];
    let result = suppress_secondary(
        &equations,
        &facts,
        &mut withheld,
        &protections,
        &values(&facts),
    );
    assert!(matches!(
        result,
        Err(AttackerError::Unprotectable { cell: 0 })
    ));
}

#[test]
fn protected_cell_must_be_withheld_on_entry() {
    let (equations, facts) = cube_table(&[2, 2], &[3.0, 15.0, 14.0, 16.0]);
    let mut withheld = vec![false; facts.len()];
    let protections = [Protection {
        cell: 0,
        lower: 1.0,
        upper: 1.0,
    }];
    let result = suppress_secondary(
        &equations,
        &facts,
        &mut withheld,
        &protections,
        &values(&facts),
    );
    assert!(matches!(
        result,
        Err(AttackerError::ProtectedCellReleased { cell: 0 })
    ));
}

#[test]
fn large_non_integer_magnitudes_are_protected() {
    // Turnover-like values around 1e8: the solvers work on a scaled copy.
    let sizes = [3, 3];
    let interior: Vec<f64> = [1.0, 40.0, 35.5, 38.0, 2.5, 41.0, 36.0, 39.0, 44.0]
        .iter()
        .map(|v| v * 1.0e6 + 0.37)
        .collect();
    let (equations, facts) = cube_table(&sizes, &interior);
    let primaries = [index(&sizes, &[0, 0]), index(&sizes, &[1, 1])];
    let protections: Vec<Protection> = primaries
        .iter()
        .map(|&cell| {
            let level = 0.15 * facts[cell].value;
            Protection {
                cell,
                lower: level,
                upper: level,
            }
        })
        .collect();
    let mut withheld = withhold(&primaries, facts.len());
    suppress_secondary(
        &equations,
        &facts,
        &mut withheld,
        &protections,
        &values(&facts),
    )
    .unwrap();
    assert!(check(&equations, &facts, &withheld, &protections)
        .unwrap()
        .is_empty());
}
