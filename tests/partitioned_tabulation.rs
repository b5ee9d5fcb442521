//! Property: tabulation is a merge of per-part partial aggregates, so any
//! cut of the persons into parts (and any number of threads) gives exactly
//! the statistics of one scan: counts, cell keys, sums, unit contributions
//! (households split over parts included), perturbation sums and the
//! cells' ledger prints. Disclosure control sees nothing else, so the
//! released table is the same too.

use ddc::columns::{ColumnData, DatasetData};
use ddc::ledger::PrintKey;
use ddc::ledger::UnitKind;
use ddc::schema::Unit;
use ddc::tabulate::{
    tabulate, tabulate_in, tabulate_partitioned, Axis, CodeFilter, Dimension, MagnitudeSpec, Query,
    SideCache, Variable, HIDDEN,
};
use ddc::tabulate::{CountCube, MagnitudeStats, Scratch, TableStats, TOP_CONTRIBUTIONS};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
struct Case {
    /// Persons of dataset A and B (person numbers below 400, ascending).
    a: Vec<u32>,
    b: Vec<u32>,
    /// Per person: A's code (0..3), B's code (0..3), B's filter code (0..3).
    codes: Vec<(u32, u32, u32)>,
    /// Per person: household (0..130), own value.
    households: Vec<u32>,
    values: Vec<i64>,
    record_keys: Vec<u32>,
    allowed: [bool; 3],
    /// 0: a count table; 1: person values; 2: household values.
    measure: u8,
    /// Cut points into the driver's rows, as fractions of a thousand.
    cuts: Vec<u16>,
}

fn case() -> impl Strategy<Value = Case> {
    case_of(400)
}

/// A case over `persons` persons (households 0..130 among them).
fn case_of(persons: usize) -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(any::<bool>(), persons),
        proptest::collection::vec(any::<bool>(), persons),
        proptest::collection::vec((0u32..3, 0u32..3, 0u32..3), persons),
        proptest::collection::vec(0u32..130, persons),
        proptest::collection::vec(
            prop_oneof![-5_000i64..100_000, Just(9_000_000_000), Just(-1)],
            persons,
        ),
        proptest::collection::vec(any::<u32>(), persons),
        any::<[bool; 3]>(),
        0u8..3,
        proptest::collection::vec(0u16..=1000, 0..6),
    )
        .prop_map(
            move |(in_a, in_b, codes, households, values, record_keys, allowed, measure, cuts)| {
                Case {
                    a: (0..persons as u32).filter(|&p| in_a[p as usize]).collect(),
                    b: (0..persons as u32).filter(|&p| in_b[p as usize]).collect(),
                    codes,
                    households,
                    values,
                    record_keys,
                    allowed,
                    measure,
                    cuts,
                }
            },
        )
}

fn codes_of(persons: &[u32], f: impl Fn(u32) -> u32) -> ColumnData {
    ColumnData::Codes {
        categories: vec!["a".into(), "b".into(), "c".into()],
        codes: persons.iter().map(|&p| f(p)).collect(),
    }
}

/// Dataset A (grouped column 0) and dataset B (grouped column 0, filtered
/// column 1, value column 2) of a case.
fn datasets(c: &Case) -> (DatasetData, DatasetData) {
    let a = DatasetData::new(
        c.a.clone(),
        None,
        vec![codes_of(&c.a, |p| c.codes[p as usize].0)],
    );
    // A household's value is the same for each of its members.
    let value = |p: u32| match c.measure {
        2 => c.values[c.households[p as usize] as usize],
        _ => c.values[p as usize],
    };
    let b = DatasetData::new(
        c.b.clone(),
        Some(c.b.iter().map(|&p| c.households[p as usize]).collect()),
        vec![
            codes_of(&c.b, |p| c.codes[p as usize].1),
            codes_of(&c.b, |p| c.codes[p as usize].2),
            ColumnData::Numbers(c.b.iter().map(|&p| value(p)).collect()),
        ],
    );
    (a, b)
}

/// What every cell, margins included, holds by the definitions, computed
/// cell by cell from the persons: counts, cell keys, and for a magnitude
/// table the sums, perturbation sums, extremes and each distinct unit's
/// contribution (a household is one unit per cell, with the sum of its
/// members' values there).
fn direct(c: &Case, q: &Query<'_>, a: &DatasetData, b: &DatasetData) -> TableStats {
    let cube = CountCube::with_axes(q.group_by.iter().map(|d| d.axis.clone()).collect());
    let cells = cube.len();
    let code = |data: &DatasetData, column: usize, row: usize| match data.column(column) {
        ColumnData::Codes { codes, .. } => codes[row],
        ColumnData::Numbers(_) => unreachable!(),
    };
    let (mut counts, mut keys) = (vec![0u64; cells], vec![0u32; cells]);
    let mut m = MagnitudeStats {
        sums: vec![0; cells],
        units: vec![0; cells],
        top: vec![[0; TOP_CONTRIBUTIONS]; cells],
        abs_sums: vec![0; cells],
        value_units: Vec::new(),
        signed: vec![0; cells],
        fractional_fixed: vec![0; cells],
        min: vec![i64::MAX; cells],
        max: vec![i64::MIN; cells],
    };
    let mut contributions: BTreeMap<(usize, u32), i128> = BTreeMap::new();
    let spec = q.magnitude.as_ref();
    for (ra, &p) in a.persons().iter().enumerate() {
        let Some(rb) = b.row_of(p) else { continue };
        if !q.filters[0].allowed[code(b, 1, rb) as usize] {
            continue;
        }
        let pa = q.group_by[0].index_of_code[code(a, 0, ra) as usize];
        let pb = q.group_by[1].index_of_code[code(b, 0, rb) as usize];
        if pa == HIDDEN || pb == HIDDEN {
            continue;
        }
        let leaf = cube.index(&[Some(pa as usize), Some(pb as usize)]);
        for cell in cube.covering(leaf) {
            counts[cell] += 1;
            keys[cell] = keys[cell].wrapping_add(c.record_keys[p as usize]);
            let Some(spec) = spec else { continue };
            let ColumnData::Numbers(values) = b.column(2) else {
                unreachable!()
            };
            let value = values[rb];
            let (kind, unit) = match spec.unit {
                Unit::Person => (UnitKind::Person, p),
                Unit::Household => (UnitKind::Household, c.households[p as usize]),
            };
            let draw = q.print_key.draw(kind, unit, spec.salt);
            let signed = if draw.negative {
                -i128::from(value)
            } else {
                i128::from(value)
            };
            m.sums[cell] += i128::from(value);
            m.signed[cell] += signed;
            m.fractional_fixed[cell] += signed * i128::from(draw.fraction);
            m.min[cell] = m.min[cell].min(value);
            m.max[cell] = m.max[cell].max(value);
            *contributions.entry((cell, unit)).or_default() += i128::from(value);
        }
    }
    for ((cell, _), contribution) in contributions {
        let abs = contribution.unsigned_abs();
        m.units[cell] += 1;
        m.abs_sums[cell] += abs;
        let top = &mut m.top[cell];
        top[TOP_CONTRIBUTIONS - 1] = top[TOP_CONTRIBUTIONS - 1].max(abs);
        top.sort_unstable_by(|x, y| y.cmp(x));
    }
    let mut expected = CountCube::with_axes(cube.axes().to_vec());
    for (i, &n) in counts.iter().enumerate() {
        expected.add(i, n);
    }
    TableStats {
        cube: expected,
        keys,
        magnitude: spec.map(|_| m),
        prints: Vec::new(),
        structural_zeros: Vec::new(),
    }
}

/// A's column 0 grouped with subtotals over its first two codes and its third; B's
/// column 0 grouped with its last code hidden, B's column 1 filtered.
fn query<'a>(c: &'a Case, a: &'a DatasetData, b: &'a DatasetData, key: &'a PrintKey) -> Query<'a> {
    let va = Variable {
        dataset: 0,
        column: 0,
    };
    let vb = Variable {
        dataset: 1,
        column: 0,
    };
    let magnitude = (c.measure > 0).then(|| MagnitudeSpec {
        variable: Variable {
            dataset: 1,
            column: 2,
        },
        unit: if c.measure == 2 {
            Unit::Household
        } else {
            Unit::Person
        },
        distinct_values: Vec::new(),
        salt: 7,
    });
    Query {
        datasets: vec![a, b],
        group_by: vec![
            Dimension {
                variable: va,
                index_of_code: vec![0, 1, 2],
                axis: Axis::new(3, vec![3, 3, 4, 5, 5]).unwrap(),
            },
            Dimension {
                variable: vb,
                index_of_code: vec![0, 1, HIDDEN],
                axis: Axis::flat(2),
            },
        ],
        filters: vec![CodeFilter {
            variable: Variable {
                dataset: 1,
                column: 1,
            },
            allowed: c.allowed.to_vec(),
        }],
        record_keys: &c.record_keys,
        print_key: key,
        magnitude,
        structural_zeros: Vec::new(),
        sides: None,
        scratch: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_cut_of_the_persons_gives_the_same_statistics(c in case()) {
        let (a, b) = datasets(&c);
        let key = PrintKey::from_bytes([9; 16]);
        let q = query(&c, &a, &b, &key);
        let one = tabulate(&q);

        let rows = a.rows().min(b.rows());
        let mut points: Vec<usize> = c.cuts.iter().map(|&f| rows * f as usize / 1000).collect();
        points.extend([0, rows]);
        points.sort_unstable();
        let parts: Vec<_> = points.windows(2).map(|w| w[0]..w[1]).collect();
        prop_assert_eq!(&tabulate_partitioned(&q, &parts), &one, "parts {:?}", parts);
        for threads in 2..=4 {
            prop_assert_eq!(&tabulate_in(&q, threads), &one, "{} threads", threads);
        }
        // Sides kept from one table serve the next: the first fills the
        // cache, the second finds both sides there.
        let cache = SideCache::new(8);
        let cached = Query { sides: Some(&cache), ..query(&c, &a, &b, &key) };
        prop_assert_eq!(&tabulate_in(&cached, 2), &one);
        prop_assert_eq!(cache.len(), 2);
        prop_assert_eq!(&tabulate(&cached), &one);
        prop_assert_eq!(cache.len(), 2);
        // Member buffers kept from one table serve the next unchanged.
        let scratch = Scratch::new(1 << 20);
        let reusing = Query { scratch: Some(&scratch), ..query(&c, &a, &b, &key) };
        prop_assert_eq!(&tabulate_in(&reusing, 2), &one);
        prop_assert_eq!(&tabulate_in(&reusing, 3), &one);
        // Another filter on B is another side of B; A's side is reused.
        let mut other = query(&c, &a, &b, &key);
        other.filters[0].allowed.iter_mut().for_each(|x| *x = !*x);
        let fresh = tabulate(&other);
        other.sides = Some(&cache);
        prop_assert_eq!(&tabulate(&other), &fresh);
        prop_assert_eq!(cache.len(), 3);
    }

    /// Tabulation adds each person to its category cell only and merges
    /// the margins from those; what it finds must be what each cell holds
    /// by definition. Over more persons than a scan checks at a time.
    #[test]
    fn every_cell_and_margin_holds_what_its_persons_give(c in case_of(2_500)) {
        let (a, b) = datasets(&c);
        let key = PrintKey::from_bytes([9; 16]);
        let q = query(&c, &a, &b, &key);
        let mut found = tabulate_in(&q, 2);
        found.prints.clear();
        prop_assert_eq!(found, direct(&c, &q, &a, &b));
    }
}
