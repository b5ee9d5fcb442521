//! Times reading an upload in memory, without the network: the line
//! splitter, field parsing, validation and pseudonymisation of
//! [`ddc::ingest::UploadParser`], on synthetic DUO rows.
//!
//! `cargo run --release --example parse_timing [ROWS]` (default 1,000,000).

use std::sync::Arc;
use std::time::Instant;

use ddc::classification::Classifications;
use ddc::ingest::{InvalidRows, UploadParser};
use ddc::keys::{KeyVersion, PseudonymKey};
use ddc::pseudonym::Pseudonymiser;
use ddc::schema::{ColumnDef, ColumnKind, DatasetDef};

fn main() -> anyhow::Result<()> {
    let rows = std::env::args()
        .nth(1)
        .map_or(Ok(1_000_000), |a| a.parse())?;
    let data = ddc::demo::synth::generate(rows, 1);
    let csv = data.duo_csv.into_bytes();
    let header = csv.split(|&b| b == b'\n').next().unwrap_or_default();
    let names: Vec<String> = String::from_utf8_lossy(header)
        .split(',')
        .map(str::to_owned)
        .collect();
    let columns = names[1..]
        .iter()
        .map(|n| ColumnDef::new(n.as_str(), ColumnKind::OpenCategorical))
        .collect();
    let def = DatasetDef::new("duo.t", "duo", names[0].as_str(), None, columns)
        .map_err(|e| anyhow::anyhow!("schema: {e:?}"))?;
    let def = Arc::new(def);
    // Open columns only: no code lists.
    let lists = Classifications::default();
    let pseudonymiser = Arc::new(Pseudonymiser::new(
        &PseudonymKey::from_bytes([7; 32]),
        KeyVersion(1),
    ));
    for _ in 0..3 {
        let started = Instant::now();
        let mut parser = UploadParser::new(
            Arc::clone(&def),
            &lists,
            Arc::clone(&pseudonymiser),
            InvalidRows::Skip,
        );
        for chunk in csv.chunks(1 << 20) {
            parser.feed(chunk);
        }
        let parsed = parser.finish()?;
        let elapsed = started.elapsed();
        println!(
            "{} rows ({} MB) in {:.0} ms: {:.0} ns/row",
            parsed.rows_read,
            csv.len() >> 20,
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e9 / parsed.rows_read as f64
        );
    }
    Ok(())
}
