//! `ddc upload`: stream a CSV file to the server with a progress bar; for
//! a dataset of holder pseudonyms, check every identifier and replace it
//! by its holder pseudonym first (see [`crate::holder`]).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use serde_json::{json, Map, Value};

use super::output::{self, row, FormatArg, Output};
use super::{connect_streaming, status_error, ServerArg};
use crate::client::{self, Clients};
use crate::holder::{HolderRewrite, HoldersKey, RewriteError};
use crate::ingest::RowProblem;
use crate::proto::{self, UploadHeader, UploadReceipt};

/// Flags of `ddc upload`.
#[derive(Debug, clap::Args)]
pub(super) struct UploadArgs {
    /// The dataset to upload into.
    #[arg(long)]
    dataset: String,
    /// The CSV file (header line first), or `-` for standard input.
    file: PathBuf,
    /// The field separator: `,` (default), `;`, `tab` or `|`. Decimals
    /// always take a point.
    #[arg(long, default_value = ",", value_parser = parse_delimiter)]
    delimiter: char,
    /// Store the valid rows and report the invalid ones, instead of
    /// rejecting the whole file.
    #[arg(long)]
    skip_invalid: bool,
    /// Replace the data the dataset already holds.
    #[arg(long)]
    replace: bool,
    /// Only check the file against the dataset: every row is validated and
    /// the problems listed, nothing is stored. Exits 1 if any row would be
    /// rejected.
    #[arg(long)]
    check: bool,
    /// Write the number, column and reason of every rejected row listed by
    /// the server (never a value) to this CSV file.
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// How the receipt is printed (the progress goes to standard error).
    #[command(flatten)]
    format: FormatArg,
    /// The upload's id (default: a new random one). To find out whether an
    /// upload whose receipt never arrived was stored, run the same upload
    /// again with the id it printed: ddc answers with the original receipt
    /// instead of storing the file twice.
    #[arg(long)]
    upload_id: Option<String>,
    /// The holders' key: a file of 64 hex digits readable by its owner
    /// only, shared by the data holders and never given to ddc. Required
    /// for a dataset of holder pseudonyms (and refused for any other): each
    /// identifier is checked here and replaced by its HMAC under this key,
    /// and a file with any row that fails is not sent at all.
    #[arg(long)]
    holders_key: Option<PathBuf>,
    /// Attempts in all when the connection is lost (1: do not retry; an
    /// upload from standard input is never retried).
    #[arg(long, default_value_t = client::Retry::default().attempts)]
    attempts: u32,
    #[command(flatten)]
    server: ServerArg,
}

/// `,`, `;`, `tab` (or a tab) or `|`.
fn parse_delimiter(s: &str) -> Result<char, String> {
    match s {
        "," | ";" | "|" | "\t" => Ok(s.chars().next().unwrap_or(',')),
        "tab" | "\\t" => Ok('\t'),
        _ => Err("a delimiter is `,`, `;`, `tab` or `|`".into()),
    }
}

/// Problems listed on the terminal; the rest go to `--rejects`.
const SHOWN_PROBLEMS: usize = 20;

pub(super) async fn run(a: UploadArgs) -> anyhow::Result<()> {
    let stdin = a.file.as_os_str() == "-";
    let size = if stdin {
        None
    } else {
        let meta = std::fs::metadata(&a.file)
            .with_context(|| format!("cannot open {}", a.file.display()))?;
        Some(meta.len())
    };
    let bar = progress_bar(size);
    let mut clients = connect_streaming(&a.server).await?;
    let source = Source::for_dataset(&mut clients, &a, stdin).await?;
    if let Err(e) = source.check(&bar).await {
        bar.finish_and_clear();
        return Err(e);
    }
    let upload_id = a.upload_id.clone().unwrap_or_else(client::new_upload_id);
    if !a.check {
        eprintln!("upload id {upload_id}");
    }
    let header = UploadHeader {
        dataset: a.dataset.clone(),
        skip_invalid: a.skip_invalid,
        replace: a.replace,
        upload_id: upload_id.clone(),
        delimiter: a.delimiter.to_string(),
        check_only: a.check,
    };
    let (progress, bar_for_sent) = (bar.clone(), bar.clone());
    let counts_sent_bytes = !matches!(source, Source::HolderPseudonyms { .. });
    let retry = client::Retry {
        attempts: if stdin { 1 } else { a.attempts.max(1) },
        ..client::Retry::default()
    };
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
        // Standard input is opened once: its upload is never retried.
        move || source.open(&progress),
        retry,
        // A rewritten file is longer than the file: its bar counts the file read.
        move |n| {
            if counts_sent_bytes {
                advance(&bar_for_sent, n, size);
            }
        },
        on_retry,
    )
    .await;
    bar.finish_and_clear();
    let receipt = match receipt {
        Ok(receipt) => receipt,
        Err(s) => {
            if let Some(path) = &a.rejects {
                write_rejects(path, &violations_as_problems(&s))?;
            }
            return Err(refusal(&s, &upload_id, a.check));
        }
    };
    if let Some(path) = &a.rejects {
        write_rejects(path, &receipt.problems)?;
    }
    output::print(&receipt, a.format.format)?;
    anyhow::ensure!(
        !(receipt.checked && receipt.rows_rejected > 0),
        "{} row(s) would be rejected",
        receipt.rows_rejected
    );
    Ok(())
}

/// One row: the receipt's figures and its log entry (`problems` in JSON:
/// the first rejected rows as `{row, column, reason}`; `--rejects` writes
/// them all to a file).
impl Output for UploadReceipt {
    fn text(&self) -> String {
        describe_receipt(self)
    }

    fn columns(&self) -> &'static [&'static str] {
        &[
            "dataset",
            "version",
            "upload_id",
            "checked",
            "replayed",
            "rows_read",
            "rows_stored",
            "rows_rejected",
            "log_index",
        ]
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        vec![row([
            ("dataset", json!(self.dataset)),
            ("version", json!(self.version)),
            ("upload_id", json!(self.upload_id)),
            ("checked", json!(self.checked)),
            ("replayed", json!(self.replayed)),
            ("rows_read", json!(self.rows_read)),
            ("rows_stored", json!(self.rows_stored)),
            ("rows_rejected", json!(self.rows_rejected)),
            ("log_index", json!(self.log.as_ref().map(|l| l.index))),
        ])]
    }

    fn json(&self) -> Value {
        let mut r = self.rows().remove(0);
        let problems: Vec<Value> = self
            .problems
            .iter()
            .map(|p| json!({"row": p.row, "column": output::text_or_null(&p.column), "reason": p.reason}))
            .collect();
        r.insert("problems".into(), Value::Array(problems));
        r.insert(
            "checkpoint".into(),
            json!(self.log.as_ref().map(|l| l.checkpoint.as_str())),
        );
        Value::Object(r)
    }
}

/// A refused or broken upload, with what to do next.
fn refusal(s: &tonic::Status, upload_id: &str, check: bool) -> anyhow::Error {
    let context = if client::is_connection_loss(s) && !check {
        format!(
            "connection lost; the upload may have been stored: run it again with \
             --upload-id {upload_id} to find out (it is never stored twice)"
        )
    } else if check {
        "the check failed, nothing stored".to_owned()
    } else {
        "upload rejected, nothing stored".to_owned()
    };
    status_error(&context, s.clone())
}

/// A bar over the file's bytes, or a spinner for standard input.
fn progress_bar(size: Option<u64>) -> ProgressBar {
    match size {
        Some(size) => ProgressBar::new(size).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => {
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message("from standard input");
            bar
        }
    }
}

/// Moves the bar to `n` bytes; once all are sent it keeps moving, saying
/// that the server is checking and committing.
fn advance(bar: &ProgressBar, n: u64, size: Option<u64>) {
    bar.set_position(n);
    if size.is_some_and(|size| n >= size) && bar.message().is_empty() {
        bar.set_style(
            ProgressStyle::with_template("{spinner} {bytes} sent; {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message("the server checks and commits the upload…");
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
    }
}

/// The field violations of a refusal as row problems (upload paths only).
fn violations_as_problems(s: &tonic::Status) -> Vec<proto::RowProblem> {
    use tonic_types::StatusExt;
    let Some(bad) = s.get_details_bad_request() else {
        return Vec::new();
    };
    bad.field_violations
        .iter()
        .filter_map(|v| {
            let rest = v.field.strip_prefix("rows[")?;
            let (row, column) = rest.split_once(']')?;
            Some(proto::RowProblem {
                row: row.parse().ok()?,
                column: column.trim_start_matches('.').to_owned(),
                reason: v.description.clone(),
            })
        })
        .collect()
}

/// Writes `row,column,reason` per problem: positions and reasons, never values.
fn write_rejects(path: &Path, problems: &[proto::RowProblem]) -> anyhow::Result<()> {
    let mut out =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    out.write_record(["row", "column", "reason"])?;
    for p in problems {
        out.write_record([p.row.to_string().as_str(), &p.column, &p.reason])?;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// What `ddc upload` sends.
enum Source {
    /// The file as it is.
    File(PathBuf),
    /// Standard input, as it comes (sent once).
    Stdin,
    /// The file with each identifier replaced by its holder pseudonym.
    HolderPseudonyms {
        path: PathBuf,
        key: Arc<HoldersKey>,
        identifier_column: String,
        delimiter: u8,
    },
}

impl Source {
    /// What to send into `dataset`, by its identifier mode: `--holders-key`
    /// is required for holder pseudonyms and refused otherwise.
    async fn for_dataset(
        clients: &mut Clients,
        a: &UploadArgs,
        stdin: bool,
    ) -> anyhow::Result<Self> {
        let (dataset, file, holders_key) = (&a.dataset, &a.file, a.holders_key.as_deref());
        use proto::IdentifierMode as Mode;
        let schema = clients
            .ingest
            .get_dataset(proto::GetDatasetRequest {
                name: dataset.to_owned(),
            })
            .await
            .map_err(|s| status_error("cannot find the dataset, nothing sent", s))?
            .into_inner()
            .schema
            .unwrap_or_default();
        match (Mode::try_from(schema.identifier_mode), holders_key) {
            (Ok(Mode::Unspecified | Mode::Identifier), None) if stdin => Ok(Source::Stdin),
            (Ok(Mode::Unspecified | Mode::Identifier), None) => Ok(Source::File(file.into())),
            (Ok(Mode::HolderPseudonym), Some(_)) if stdin => anyhow::bail!(
                "--holders-key checks the whole file before sending it: give a file, not `-`; nothing sent"
            ),
            (Ok(Mode::Unspecified | Mode::Identifier), Some(_)) => anyhow::bail!(
                "{dataset} takes identifiers (BSN or onderwijsnummer), not holder pseudonyms: \
                 upload without --holders-key; nothing sent"
            ),
            (Ok(Mode::HolderPseudonym), Some(path)) => Ok(Source::HolderPseudonyms {
                path: file.into(),
                key: Arc::new(HoldersKey::from_file(path).context("nothing sent")?),
                identifier_column: schema.identifier_column,
                delimiter: a.delimiter as u8,
            }),
            (Ok(Mode::HolderPseudonym), None) => anyhow::bail!(
                "{dataset} takes holder pseudonyms: give the holders' key with \
                 --holders-key FILE; nothing sent"
            ),
            (Err(_), _) => anyhow::bail!(
                "{dataset} declares an identifier mode this ddc does not know: \
                 upgrade ddc; nothing sent"
            ),
        }
    }

    /// Reads a file of holder pseudonyms through once, before anything is
    /// sent: every identifier must pass the eleven-test.
    async fn check(&self, bar: &ProgressBar) -> anyhow::Result<()> {
        let Source::HolderPseudonyms {
            path,
            key,
            identifier_column,
            delimiter,
        } = self
        else {
            return Ok(());
        };
        let (path, key, column, bar, delimiter) = (
            path.clone(),
            key.clone(),
            identifier_column.clone(),
            bar.clone(),
            *delimiter,
        );
        let checked = tokio::task::spawn_blocking(move || {
            let file =
                File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            let file = Counted::new(file, bar);
            anyhow::Ok(crate::holder::check(file, key, &column, delimiter))
        })
        .await
        .context("the local check failed")??;
        match checked {
            Ok(_) => Ok(()),
            Err(RewriteError::Rows { problems, total }) => Err(refused_rows(&problems, total)),
            Err(e) => Err(anyhow::Error::new(e).context("nothing sent")),
        }
    }

    /// Opens what is sent, for one attempt; `bar` follows the file read
    /// when it is rewritten.
    fn open(&self, bar: &ProgressBar) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Source::File(path) => Box::new(File::open(path)?),
            Source::Stdin => Box::new(std::io::stdin()),
            Source::HolderPseudonyms {
                path,
                key,
                identifier_column,
                delimiter,
            } => {
                let file = Counted::new(File::open(path)?, bar.clone());
                Box::new(HolderRewrite::new(
                    file,
                    key.clone(),
                    identifier_column,
                    *delimiter,
                ))
            }
        })
    }
}

/// The rows the local check refused, one a line (never their values).
fn refused_rows(problems: &[RowProblem], total: u64) -> anyhow::Error {
    let mut text = format!("{total} problem(s) in the file, found before sending; nothing sent");
    for p in problems {
        text.push_str(&format!("\n  {p}"));
    }
    let unlisted = total.saturating_sub(problems.len() as u64);
    if unlisted > 0 {
        text.push_str(&format!("\n  ... and {unlisted} more"));
    }
    anyhow::anyhow!(text)
}

/// A reader that shows the bytes read on a progress bar.
struct Counted<R> {
    inner: R,
    read: u64,
    bar: ProgressBar,
}

impl<R> Counted<R> {
    fn new(inner: R, bar: ProgressBar) -> Self {
        bar.set_position(0);
        Counted {
            inner,
            read: 0,
            bar,
        }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.bar.set_position(self.read);
        Ok(n)
    }
}

/// A receipt in words, with the first rejected rows (never their values).
pub fn describe_receipt(r: &UploadReceipt) -> String {
    let mut out = if r.checked {
        format!(
            "checked {} against its declaration: {} rows read, {} valid, {} would be rejected; nothing stored\n",
            r.dataset,
            r.rows_read,
            r.rows_read - r.rows_rejected.min(r.rows_read),
            r.rows_rejected
        )
    } else {
        format!(
            "{} version {}: {} rows read, {} stored, {} rejected\n",
            r.dataset, r.version, r.rows_read, r.rows_stored, r.rows_rejected
        )
    };
    if r.replayed {
        out.push_str(
            "  (this upload id was committed before: this is its original receipt; nothing new was stored)\n",
        );
    }
    let verb = if r.checked {
        "would reject"
    } else {
        "rejected"
    };
    for p in r.problems.iter().take(SHOWN_PROBLEMS) {
        let column = if p.column.is_empty() {
            String::new()
        } else {
            format!(", column {}", p.column)
        };
        out.push_str(&format!("  {verb} row {}{column}: {}\n", p.row, p.reason));
    }
    let more = r.problems.len().saturating_sub(SHOWN_PROBLEMS);
    if more > 0 {
        out.push_str(&format!(
            "  ... and {more} more (--rejects FILE writes every one)\n"
        ));
    }
    out
}
