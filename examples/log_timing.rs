//! The linkage log's cost: `cargo run --release --example log_timing
//! [ENTRIES]` (default 1,000,000). Appends entries through the store's one
//! commit path, first each in its own durable transaction (what an action
//! pays), then in groups to reach ENTRIES; then times a root, inclusion and
//! consistency proofs at that size, and verifying the whole log as an
//! auditor does.

use std::time::Instant;

use ddc::audit::event::{encode, Entry, Event, UploadFailure};
use ddc::audit::merkle;
use ddc::audit::note::{open_checkpoint, Signer};
use ddc::audit::verify::LogVerifier;
use ddc::store::{LogFilter, Store};

fn entry(i: u64) -> Entry {
    let failure = UploadFailure {
        dataset: "cbs.personen".into(),
        organisation: "cbs".into(),
        reason: "invalid_rows".into(),
        rows_rejected: i % 17,
        bytes: 1_000_000 + i,
        content_digest: format!("{:064x}", i),
    };
    Entry::new(
        1_796_256_000_000 + i as i64,
        "development",
        Event::UploadRejected(failure),
    )
}

fn main() -> anyhow::Result<()> {
    let total: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(1_000_000), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path())?;
    let signer = Signer::from_seed("ddc.local/log", &[9; 32])?;
    let verifier = signer.verifier();
    store.attach_signer(signer);
    let bytes = encode(&entry(0))?.len();

    let single = 2_000.min(total);
    let started = Instant::now();
    for i in 0..single {
        store.append_entry(&entry(i))?;
    }
    let each = started.elapsed().as_secs_f64() / single as f64;
    println!(
        "append, one durable transaction each: {:.0} µs per entry ({single} entries of {bytes} bytes)",
        each * 1e6
    );

    let started = Instant::now();
    let mut next = single;
    while next < total {
        let group: Vec<Entry> = (next..(next + 10_000).min(total)).map(entry).collect();
        store.append_entries(&group)?;
        next += group.len() as u64;
    }
    let grouped = started.elapsed().as_secs_f64() / (total - single).max(1) as f64;
    println!(
        "append, 10,000 per transaction: {:.1} µs per entry (to {total} entries)",
        grouped * 1e6
    );

    let size = store.log_size()?;
    let note = store.latest_checkpoint()?.expect("a checkpoint");
    let checkpoint = open_checkpoint(&note, &verifier)?;
    let time =
        |what: &str, runs: u32, f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<()> {
            let started = Instant::now();
            for _ in 0..runs {
                f()?;
            }
            println!(
                "{what}: {:.0} µs",
                started.elapsed().as_secs_f64() * 1e6 / runs as f64
            );
            Ok(())
        };
    time(&format!("root of {size} entries"), 100, &mut || {
        assert_eq!(store.log_root(size)?, checkpoint.root);
        Ok(())
    })?;
    let leaf = encode(&entry(size / 3))?;
    time(
        &format!("inclusion proof at {size}, made and verified"),
        100,
        &mut || {
            let proof = store.inclusion_proof(size / 3, size)?;
            merkle::verify_inclusion(&leaf, size / 3, size, &proof, &checkpoint.root)?;
            Ok(())
        },
    )?;
    let old = size / 2 + 1;
    let old_root = store.log_root(old)?;
    time(
        &format!("consistency proof {old} → {size}, made and verified"),
        100,
        &mut || {
            let proof = store.consistency_proof(old, size)?;
            merkle::verify_consistency(old, &old_root, size, &checkpoint.root, &proof)?;
            Ok(())
        },
    )?;

    let started = Instant::now();
    let mut auditor = LogVerifier::new(verifier);
    auditor.expect("latest", &note)?;
    let mut from = 0;
    loop {
        let page = store.log_entries(&LogFilter {
            from_index: from,
            limit: 100_000,
            ..LogFilter::default()
        })?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            auditor.push(e.index, &e.bytes)?;
        }
        from = page.last().map_or(from, |e| e.index + 1);
    }
    let verified = auditor.finish()?;
    println!(
        "verify the whole log ({} entries: read, decode, re-encode, hash): {:.1} s",
        verified.entries,
        started.elapsed().as_secs_f64()
    );
    let db = std::fs::metadata(dir.path().join(ddc::store::DB_FILE))?.len();
    println!("database: {:.0} bytes per entry", db as f64 / size as f64);
    Ok(())
}
