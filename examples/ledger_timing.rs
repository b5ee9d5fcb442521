//! The per-cell release ledger at scale: `cargo run --release --example
//! ledger_timing [CELLS] [NEW]` (default 1,000,000 earlier cells and a new
//! table of 1,000). Prints how long it takes to load the earlier cells,
//! to check a table against them, to print a cell of a million persons,
//! and the memory a cell takes.
//!
//! Cell sizes are drawn log-uniformly from 10 to 1,000,000 persons, as a
//! service's tables spread them; each print hashes a sample of at most 64
//! of its persons, disjoint from every other cell's (the check's cost
//! depends on sizes and prints, not on how the prints were made), so every
//! "near" verdict is a false one.

use std::time::Instant;

use ddc::ledger::{print_of, Ledger, LedgerCell, PrintKey};
use rand::{Rng, SeedableRng};

fn main() -> anyhow::Result<()> {
    let arg = |i: usize, default: usize| std::env::args().nth(i).map_or(Ok(default), |a| a.parse());
    let (cells, new) = (arg(1, 1_000_000)?, arg(2, 1_000)?);
    let key = PrintKey::from_bytes([9; 16]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut next = 0u32;
    let mut cell = |rng: &mut rand::rngs::StdRng| {
        let size = 10f64.powf(rng.random_range(1.0..6.0)) as u64;
        // Disjoint samples: any refusal below is the screen's own error.
        let start = next;
        next += 64;
        let sample: Vec<u32> = (start..start + size.min(64) as u32).collect();
        let mut print = print_of(&key, &sample, &mut []);
        print.persons.count = size;
        LedgerCell {
            print,
            released: rng.random_bool(0.7),
        }
    };
    let earlier: Vec<LedgerCell> = (0..cells).map(|_| cell(&mut rng)).collect();
    let started = Instant::now();
    let mut ledger = Ledger::default();
    for chunk in earlier.chunks(1_000) {
        ledger.insert("duo.onderwijs|cbs.inkomen", chunk);
    }
    println!(
        "inserted {} cells in {:.2?}",
        ledger.len(),
        started.elapsed()
    );
    let table: Vec<LedgerCell> = (0..new).map(|_| cell(&mut rng)).collect();
    let started = Instant::now();
    let verdict = ledger.check("duo.onderwijs|cbs.inkomen", &table, 10);
    println!(
        "checked a table of {new} cells against them in {:.2?}: {:?}",
        started.elapsed(),
        verdict
    );
    // Unrelated cells: any refusal is the screen's conservative error.
    let refused = table
        .iter()
        .filter(|c| {
            ledger
                .check("duo.onderwijs|cbs.inkomen", std::slice::from_ref(c), 10)
                .is_err()
        })
        .count();
    println!("unrelated cells judged near an earlier one: {refused} of {new}");
    let persons: Vec<u32> = (0..1_000_000).collect();
    let started = Instant::now();
    std::hint::black_box(print_of(&key, &persons, &mut []));
    println!(
        "printed a cell of 1,000,000 persons in {:.2?}",
        started.elapsed()
    );
    println!(
        "a print is {} bytes (stored with one status byte)",
        ddc::ledger::PRINT_BYTES
    );
    Ok(())
}
