//! The attacker check of large three-way count tables, in process:
//! `cargo run --release --example attacker_timing [UNSAFE...]` (default
//! 100 500 2000 5000 unsafe cells).
//!
//! Each table is a synthetic 3-way count cube whose interior cells are
//! drawn log-uniformly between 1 and 2,000 persons, sized so that about
//! the requested number of cells fall below the default threshold of 10.
//! Zeros are disclosive, as by default. Prints, per table, the unsafe and
//! secondary cells, the work charged, and the time of the whole
//! protection (secondary suppression and the release gate) on one and on
//! two threads, with unlimited work.

use std::time::Instant;

use ddc::disclosure::{protect_table, AttackerLimits, CellStatus, DisclosurePolicy, TableContext};
use ddc::tabulate::{CountCube, TableStats};
use rand::{Rng, SeedableRng};

/// Share of interior cells below the threshold with counts drawn
/// log-uniformly from 1 to 2,000: ln(10) / ln(2000).
const UNSAFE_SHARE: f64 = 0.303;

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let targets = if args.is_empty() {
        vec![100, 500, 2000, 5000]
    } else {
        args
    };
    let policy = DisclosurePolicy {
        perturbation: None,
        ..DisclosurePolicy::default()
    };
    let ctx = TableContext::count_of_one_holder();
    for target in targets {
        let stats = table(target);
        for threads in [1, 2] {
            let limits = AttackerLimits {
                max_unsafe_cells: usize::MAX,
                work: u64::MAX,
                threads,
            };
            let started = Instant::now();
            let protected = protect_table(&stats, &policy, &ctx, None, &limits)?;
            let elapsed = started.elapsed();
            let count =
                |f: fn(CellStatus) -> bool| protected.cells.iter().filter(|c| f(c.status)).count();
            println!(
                "{:?}: {} cells, {} unsafe, {} secondary, {} work units, {threads} thread(s): {:.3} s",
                stats.cube.sizes(),
                stats.cube.len(),
                count(|s| s.is_withheld() && s != CellStatus::WithheldSecondary),
                count(|s| s == CellStatus::WithheldSecondary),
                protected.work,
                elapsed.as_secs_f64(),
            );
        }
    }
    Ok(())
}

/// A cube of three dimensions (ratio 3 : 2 : 2) with about `unsafe_cells`
/// interior cells below 10.
fn table(unsafe_cells: usize) -> TableStats {
    let interior = unsafe_cells as f64 / UNSAFE_SHARE;
    let unit = (interior / 12.0).cbrt();
    let sizes = vec![
        (3.0 * unit).round().max(2.0) as usize,
        (2.0 * unit).round().max(2.0) as usize,
        (2.0 * unit).round().max(2.0) as usize,
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(unsafe_cells as u64);
    let mut cube = CountCube::zeros(sizes);
    for i in 0..cube.len() {
        if cube.is_interior(i) {
            let n = 2000f64.powf(rng.random_range(0.0..1.0)) as u64;
            for c in cube.covering(i) {
                cube.add(c, n);
            }
        }
    }
    TableStats::of_counts(cube)
}
