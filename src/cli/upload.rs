//! `ddc upload`: stream a CSV file to the server with a progress bar.

use std::fs::File;
use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::{connect, status_error, ServerArg};
use crate::client;
use crate::proto::{UploadHeader, UploadReceipt};

/// Flags of `ddc upload`.
#[derive(Debug, clap::Args)]
pub(super) struct UploadArgs {
    /// The dataset to upload into.
    #[arg(long)]
    dataset: String,
    /// The CSV file (header line first).
    file: PathBuf,
    /// Store the valid rows and report the invalid ones, instead of
    /// rejecting the whole file.
    #[arg(long)]
    skip_invalid: bool,
    /// Replace the data the dataset already holds.
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    server: ServerArg,
}

pub(super) async fn run(a: UploadArgs) -> anyhow::Result<()> {
    let file = File::open(&a.file).with_context(|| format!("cannot open {}", a.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut clients = connect(&a.server).await?;
    let header = UploadHeader {
        dataset: a.dataset,
        skip_invalid: a.skip_invalid,
        replace: a.replace,
    };
    let progress = bar.clone();
    let receipt = client::upload(&mut clients.ingest, header, file, move |n| {
        progress.set_position(n)
    })
    .await
    .map_err(|s| status_error("upload rejected, nothing stored", s));
    bar.finish_and_clear();
    print!("{}", describe_receipt(&receipt?));
    Ok(())
}

/// A receipt in words, with the rejected rows (never their values).
pub fn describe_receipt(r: &UploadReceipt) -> String {
    let mut out = format!(
        "{} version {}: {} rows read, {} stored, {} rejected\n",
        r.dataset, r.version, r.rows_read, r.rows_stored, r.rows_rejected
    );
    for p in &r.problems {
        let column = if p.column.is_empty() {
            String::new()
        } else {
            format!(", column {}", p.column)
        };
        out.push_str(&format!("  rejected row {}{column}: {}\n", p.row, p.reason));
    }
    out
}
