//! `ddc upload`: stream a CSV file to the server with a progress bar; for
//! a dataset of holder pseudonyms, check every identifier and replace it
//! by its holder pseudonym first (see [`crate::holder`]).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

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
    /// The holders' key: a file of 64 hex digits readable by its owner
    /// only, shared by the data holders and never given to ddc. Required
    /// for a dataset of holder pseudonyms (and refused for any other): each
    /// identifier is checked here and replaced by its HMAC under this key,
    /// and a file with any row that fails is not sent at all.
    #[arg(long)]
    holders_key: Option<PathBuf>,
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
    let mut clients = connect_streaming(&a.server).await?;
    let source =
        Source::for_dataset(&mut clients, &a.dataset, &a.file, a.holders_key.as_deref()).await?;
    if let Err(e) = source.check(&bar).await {
        bar.finish_and_clear();
        return Err(e);
    }
    let upload_id = a.upload_id.unwrap_or_else(client::new_upload_id);
    eprintln!("upload id {upload_id}");
    let header = UploadHeader {
        dataset: a.dataset,
        skip_invalid: a.skip_invalid,
        replace: a.replace,
        upload_id: upload_id.clone(),
    };
    let (progress, bar_for_sent) = (bar.clone(), bar.clone());
    let counts_sent_bytes = matches!(source, Source::File(_));
    let retry = client::Retry {
        attempts: a.attempts.max(1),
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
        move || source.open(&progress),
        retry,
        // A rewritten file is longer than the file: its bar counts the file read.
        move |n| {
            if counts_sent_bytes {
                bar_for_sent.set_position(n)
            }
        },
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

/// What `ddc upload` sends.
enum Source {
    /// The file as it is.
    File(PathBuf),
    /// The file with each identifier replaced by its holder pseudonym.
    HolderPseudonyms {
        path: PathBuf,
        key: Arc<HoldersKey>,
        identifier_column: String,
    },
}

impl Source {
    /// What to send into `dataset`, by its identifier mode: `--holders-key`
    /// is required for holder pseudonyms and refused otherwise.
    async fn for_dataset(
        clients: &mut Clients,
        dataset: &str,
        file: &Path,
        holders_key: Option<&Path>,
    ) -> anyhow::Result<Self> {
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
            (Ok(Mode::Unspecified | Mode::Identifier), None) => Ok(Source::File(file.into())),
            (Ok(Mode::Unspecified | Mode::Identifier), Some(_)) => anyhow::bail!(
                "{dataset} takes identifiers (BSN or onderwijsnummer), not holder pseudonyms: \
                 upload without --holders-key; nothing sent"
            ),
            (Ok(Mode::HolderPseudonym), Some(path)) => Ok(Source::HolderPseudonyms {
                path: file.into(),
                key: Arc::new(HoldersKey::from_file(path).context("nothing sent")?),
                identifier_column: schema.identifier_column,
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
        } = self
        else {
            return Ok(());
        };
        let (path, key, column, bar) = (
            path.clone(),
            key.clone(),
            identifier_column.clone(),
            bar.clone(),
        );
        let checked = tokio::task::spawn_blocking(move || {
            let file =
                File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            anyhow::Ok(crate::holder::check(Counted::new(file, bar), key, &column))
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
            Source::HolderPseudonyms {
                path,
                key,
                identifier_column,
            } => {
                let file = Counted::new(File::open(path)?, bar.clone());
                Box::new(HolderRewrite::new(file, key.clone(), identifier_column))
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
