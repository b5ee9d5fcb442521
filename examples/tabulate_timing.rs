//! Tabulation over linked national datasets, in process: `cargo run
//! --release --example tabulate_timing [PERSONS] [STUDENTS] [THREADS]`
//! (default 18,000,000 CBS persons in households of about 2.2, 4,000,000
//! DUO students of whom 95% are CBS persons, 2 threads).
//!
//! Times the two tables of `benches/run` without the server around them:
//! a 3-way count (level × income decile × sex, vo only) and a 2-way mean of
//! household income (sector × migration background), each the first time
//! (the CBS side of the cells' prints is scanned) and then repeated (it is
//! cached, as in the server). Prints the fastest and the median of the
//! repeats: on a shared machine the fastest is the one least disturbed.

use std::time::{Duration, Instant};

use ddc::columns::{ColumnData, DatasetData};
use ddc::ledger::PrintKey;
use ddc::schema::Unit;
use ddc::tabulate::{
    tabulate_in, CodeFilter, Dimension, MagnitudeSpec, Query, Scratch, SideCache, Variable,
};
use rand::{Rng, SeedableRng};

fn codes(n: usize, rows: usize, rng: &mut rand::rngs::StdRng) -> ColumnData {
    ColumnData::Codes {
        categories: (0..n).map(|i| i.to_string()).collect(),
        codes: (0..rows).map(|_| rng.random_range(0..n as u32)).collect(),
    }
}

fn main() -> anyhow::Result<()> {
    let arg = |i: usize, default: usize| std::env::args().nth(i).map_or(Ok(default), |a| a.parse());
    let (persons, students, threads) = (arg(1, 18_000_000)?, arg(2, 4_000_000)?, arg(3, 2)?);
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let started = Instant::now();
    let households = (persons as f64 / 2.2) as u32;
    let household: Vec<u32> = (0..persons)
        .map(|_| rng.random_range(0..households))
        .collect();
    // A few extreme incomes, as in the national workload.
    let income: Vec<i64> = (0..households)
        .map(|_| match rng.random_range(0..10_000) {
            0 => rng.random_range(1_000_000..50_000_000),
            _ => rng.random_range(5_000..150_000),
        })
        .collect();
    let cbs = DatasetData::new(
        (0..persons as u32).collect(),
        Some(household.clone()),
        vec![
            codes(2, persons, &mut rng),  // sex
            codes(3, persons, &mut rng),  // migration background
            codes(10, persons, &mut rng), // income decile
            ColumnData::Numbers(household.iter().map(|&h| income[h as usize]).collect()),
        ],
    );
    // 95% of the students are CBS persons; the others are numbered after them.
    let linked = students as f64 * 0.95 / persons as f64;
    let duo_persons: Vec<u32> = (0..persons as u32)
        .filter(|_| rng.random_bool(linked))
        .chain((persons..persons + students / 20).map(|p| p as u32))
        .collect();
    let rows = duo_persons.len();
    // Sector 1 (vo) has levels 0..4; the other sectors' levels are 4..13.
    let sector: Vec<u32> = (0..rows).map(|_| rng.random_range(0..5)).collect();
    let level: Vec<u32> = sector
        .iter()
        .map(|&s| match s {
            1 => rng.random_range(0..4),
            _ => rng.random_range(4..13),
        })
        .collect();
    let duo = DatasetData::new(
        duo_persons,
        None,
        vec![
            ColumnData::Codes {
                categories: (0..5).map(|i| i.to_string()).collect(),
                codes: sector,
            },
            ColumnData::Codes {
                categories: (0..13).map(|i| i.to_string()).collect(),
                codes: level,
            },
        ],
    );
    let record_keys: Vec<u32> = (0..persons + students).map(|_| rng.random()).collect();
    println!(
        "{persons} persons in {households} households, {rows} students: built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let key = PrintKey::from_bytes([7; 16]);
    let var = |dataset, column| Variable { dataset, column };
    let count3 = Query {
        datasets: vec![&duo, &cbs],
        group_by: vec![
            Dimension::new(var(0, 1), 13, &[0, 1, 2, 3]),
            Dimension::new(var(1, 2), 10, &(0..10).collect::<Vec<_>>()),
            Dimension::new(var(1, 0), 2, &[0, 1]),
        ],
        filters: vec![CodeFilter {
            variable: var(0, 0),
            allowed: (0..5).map(|s| s == 1).collect(),
        }],
        record_keys: &record_keys,
        print_key: &key,
        magnitude: None,
        structural_zeros: Vec::new(),
        sides: None,
        scratch: None,
    };
    let mean2 = Query {
        datasets: vec![&duo, &cbs],
        group_by: vec![
            Dimension::new(var(0, 0), 5, &[0, 1, 2, 3, 4]),
            Dimension::new(var(1, 1), 3, &[0, 1, 2]),
        ],
        filters: Vec::new(),
        record_keys: &record_keys,
        print_key: &key,
        magnitude: Some(MagnitudeSpec {
            variable: var(1, 3),
            unit: Unit::Household,
            distinct_values: Vec::new(),
            salt: 5,
        }),
        structural_zeros: Vec::new(),
        sides: None,
        scratch: None,
    };
    for (name, mut query) in [("3-way count", count3), ("2-way mean", mean2)] {
        let (cache, scratch) = (SideCache::new(8), Scratch::new(128 << 20));
        query.sides = Some(&cache);
        query.scratch = Some(&scratch);
        let time = || {
            let started = Instant::now();
            let stats = tabulate_in(&query, threads);
            (started.elapsed(), stats.cube.count(stats.cube.len() - 1))
        };
        let (first, total) = time();
        let mut repeats: Vec<Duration> = (0..9).map(|_| time().0).collect();
        repeats.sort();
        println!(
            "{name}: {total} persons; first {:.1} ms, repeat fastest {:.1} ms, median {:.1} ms ({threads} threads)",
            first.as_secs_f64() * 1e3,
            repeats[0].as_secs_f64() * 1e3,
            repeats[repeats.len() / 2].as_secs_f64() * 1e3,
        );
    }
    Ok(())
}
