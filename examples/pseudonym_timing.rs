//! Times pseudonymisation against its floor: HMAC-SHA256 with the key
//! state prepared once costs two SHA-256 compressions per identifier (the
//! inner block holding the domain and the nine digits, the outer block
//! the inner hash), so the floor is twice the time of one raw compression,
//! measured in the same run. Reports ns per identifier on 1 and on
//! `THREADS` threads, and the share of the floor reached.
//!
//! `cargo run --release --example pseudonym_timing [IDENTIFIERS] [THREADS]`
//! (default 4,000,000 and 2).

use std::hint::black_box;
use std::time::Instant;

use ddc::keys::{KeyVersion, PseudonymKey};
use ddc::pseudonym::{Identifier, Pseudonymiser};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(4_000_000), |a| a.parse())?;
    let threads: usize = args.next().map_or(Ok(2), |a| a.parse())?;
    let mut rng = StdRng::seed_from_u64(13);
    // Synthetic identifiers only; none is printed.
    let raw: Vec<String> = (0..n)
        .map(|_| ddc::demo::synth::random_bsn(&mut rng))
        .collect();
    let ids: Vec<Identifier> = raw
        .iter()
        .map(|r| Identifier::parse(r.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("identifier: {e}"))?;
    let p = Pseudonymiser::new(&PseudonymKey::from_bytes([7; 32]), KeyVersion(1));

    println!("{n} identifiers, best of 3 runs");
    let floor = best(|| per_thread(n, 1, |range| compressions(range.len())));
    println!("one SHA-256 compression (the floor's unit): {floor:.1} ns");
    let floor2 = 2.0 * floor;
    for t in [1, threads] {
        let hmac = best(|| {
            per_thread(n, t, |range| {
                for id in &ids[range] {
                    black_box(p.pseudonymise(black_box(id)));
                }
            })
        });
        let door = best(|| {
            per_thread(n, t, |range| {
                for r in &raw[range] {
                    if let Ok(id) = Identifier::parse(black_box(r.as_bytes())) {
                        black_box(p.pseudonymise(&id));
                    }
                }
            })
        });
        let per_core = hmac * t as f64;
        println!(
            "{t} thread(s): pseudonymise {:.1} ns/id ({:.1} M/s), {:.0}% of the two-compression floor per core; \
             parse + pseudonymise {:.1} ns/id",
            hmac,
            1e3 / hmac,
            100.0 * floor2 / per_core,
            door
        );
    }
    Ok(())
}

/// One raw compression per identifier, chained so none is optimised away.
fn compressions(n: usize) {
    let mut state = [0x6a09e667u32; 8];
    let mut block = [0u8; 64];
    for i in 0..n {
        block[..8].copy_from_slice(&(i as u64).to_le_bytes());
        sha2::block_api::compress256(&mut state, std::slice::from_ref(&block));
    }
    black_box(state);
}

/// Runs `work` over `threads` equal parts of `0..n`; returns ns per item
/// of wall time.
fn per_thread(n: usize, threads: usize, work: impl Fn(std::ops::Range<usize>) + Sync) -> f64 {
    let threads = threads.max(1);
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let range = n * t / threads..n * (t + 1) / threads;
            let work = &work;
            s.spawn(move || work(range));
        }
    });
    started.elapsed().as_secs_f64() * 1e9 / n as f64
}

fn best(mut run: impl FnMut() -> f64) -> f64 {
    (0..3).map(|_| run()).fold(f64::INFINITY, f64::min)
}
