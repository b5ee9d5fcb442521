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
    /// The upload's id (default: a new random one). To find out whether an
    /// upload whose receipt never arrived was stored, run the same upload
    /// again with the id it printed: ddc answers with the original receipt
    /// instead of storing the file twice.
    #[arg(long)]
    upload_id: Option<String>,
    /// Attempts in all when the connection is lost (1: do not retry).
    #[arg(long, default_value_t = client::Retry::default().attempts)]
    attempts: u32,
    #[command(flatten)]
    server: ServerArg,
}

pub(super) async fn run(a: UploadArgs) -> anyhow::Result<()> {
    let size = std::fs::metadata(&a.file)
        .with_context(|| format!("cannot open {}", a.file.display()))?
        .len();
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut clients = connect(&a.server).await?;
    let upload_id = a.upload_id.unwrap_or_else(client::new_upload_id);
    eprintln!("upload id {upload_id}");
    let header = UploadHeader {
        dataset: a.dataset,
        skip_invalid: a.skip_invalid,
        replace: a.replace,
        upload_id: upload_id.clone(),
    };
    let progress = bar.clone();
    let retry = client::Retry {
        attempts: a.attempts.max(1),
        ..client::Retry::default()
    };
    let path = a.file.clone();
    let (id, notices) = (upload_id.clone(), bar.clone());
    let on_retry = move |attempt: u32, status: &tonic::Status| {
        notices.println(format!(
            "connection lost ({}); sending upload {id} again, attempt {attempt} of {}: \
             ddc stores it at most once",
            status.message(),
            retry.attempts
        ));
    };
    let receipt = client::upload_with_retry(
        &mut clients.ingest,
        header,
        move || File::open(&path),
        retry,
        move |n| progress.set_position(n),
        on_retry,
    )
    .await
    .map_err(|s| {
        let context = if client::is_connection_loss(&s) {
            format!(
                "connection lost; the upload may have been stored: run it again with \
                 --upload-id {upload_id} to find out (it is never stored twice)"
            )
        } else {
            "upload rejected, nothing stored".to_owned()
        };
        status_error(&context, s)
    });
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
    if r.replayed {
        out.push_str(
            "  (this upload id was committed before: this is its original receipt; nothing new was stored)\n",
        );
    }
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
