//! Property: tabulation is a merge of per-part partial aggregates, so any
//! cut of the persons into parts (and any number of threads) gives exactly
//! the statistics of one scan: counts, cell keys, sums, unit contributions
//! (households split over parts included), perturbation sums and the
//! cells' ledger prints. Disclosure control sees nothing else, so the
//! released table is the same too.

use ddc::columns::{ColumnData, DatasetData};
use ddc::ledger::PrintKey;
use ddc::schema::Unit;
use ddc::tabulate::{
    tabulate, tabulate_in, tabulate_partitioned, Axis, CodeFilter, Dimension, MagnitudeSpec, Query,
    SideCache, Variable, HIDDEN,
};
use proptest::prelude::*;

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
    let persons = 400usize;
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
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_cut_of_the_persons_gives_the_same_statistics(c in case()) {
        let a = DatasetData::new(c.a.clone(), None, vec![codes_of(&c.a, |p| c.codes[p as usize].0)]);
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
        // Another filter on B is another side of B; A's side is reused.
        let mut other = query(&c, &a, &b, &key);
        other.filters[0].allowed.iter_mut().for_each(|x| *x = !*x);
        let fresh = tabulate(&other);
        other.sides = Some(&cache);
        prop_assert_eq!(&tabulate(&other), &fresh);
        prop_assert_eq!(cache.len(), 3);
    }
}
