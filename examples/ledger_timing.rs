//! What the differencing defence costs when an earlier release's population
//! is close in size to a new one and must be compared person by person:
//! `cargo run --release --example ledger_timing [PERSONS]`.
//! (When no earlier release is within the threshold in size, or the digest
//! matches, the check reads nothing and takes microseconds.)

use std::time::Instant;

use ddc::ledger::{check, decode, encode, Population, SetHash};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(Ok(4_000_000), |a| a.parse())?;
    // Every fourth person of an 18-million population, like a DUO year.
    let earlier: Vec<u32> = (0..n).map(|i| i * 4 + i % 3).collect();
    let started = Instant::now();
    let stored = encode(&earlier);
    println!(
        "encode {n} persons: {:.1?}, {} bytes ({:.2} per person)",
        started.elapsed(),
        stored.len(),
        stored.len() as f64 / f64::from(n)
    );
    let sides = [SetHash::default(), SetHash::default()];
    let first = Population::new(&["duo.y", "cbs.x"], &earlier, &sides);
    let entry = first.entry(1);
    let mut new = earlier.clone();
    new.remove(n as usize / 2);
    let started = Instant::now();
    let population = Population::new(&["duo.y", "cbs.x"], &new, &sides);
    let digested = started.elapsed();
    let verdict = check(std::slice::from_ref(&entry), &population, 10, |_| {
        decode(&stored).ok_or("corrupt")
    })?;
    println!(
        "digest of the new population: {digested:.1?}; full check (decode + compare): {:.1?}; refused: {}",
        started.elapsed() - digested,
        verdict.is_err()
    );
    Ok(())
}
