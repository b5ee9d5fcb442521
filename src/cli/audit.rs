//! `ddc audit log|checkpoint|key|verify`: the linkage log for auditors.
//!
//! An export is the log's entries, one per line, each line exactly the
//! entry's canonical bytes (line n, from 0, is entry n): its leaf hash is
//! SHA-256(0x00 ‖ line). `verify` recomputes the tree from the entries
//! itself and checks it against checkpoints whose signatures verify under
//! the published key; it never takes the server's word for a root.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use tokio_stream::StreamExt;

use super::output::{self, Format, FormatArg};
use super::time::{parse_utc, utc};
use super::{connect, connect_streaming, status_error, ServerArg};
use crate::audit::event;
use crate::audit::merkle::{self, Hash};
use crate::audit::note::{self, Verifier};
use crate::audit::verify::{LogVerifier, Verified};
use crate::proto;

/// Audit commands.
#[derive(Debug, clap::Subcommand)]
pub(super) enum AuditCommand {
    /// Show log entries, or export the whole log to a file.
    Log(LogArgs),
    /// Print (or save) the latest signed checkpoint: keep it outside ddc.
    Checkpoint {
        /// Write it to this file instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Print the server's verifier key. Verify with the key published by
    /// the log's operator, not with this one; use this to compare.
    Key(ServerArg),
    /// Recompute the log's tree and check it against checkpoints.
    Verify(VerifyArgs),
}

/// Flags of `ddc audit log`.
#[derive(Debug, clap::Args)]
pub(super) struct LogArgs {
    /// From this entry index on.
    #[arg(long, default_value_t = 0)]
    from_index: u64,
    /// At or after this UTC time (YYYY-MM-DD[THH:MM[:SS]]).
    #[arg(long)]
    since: Option<String>,
    /// Before this UTC time.
    #[arg(long)]
    until: Option<String>,
    /// Only this actor's entries.
    #[arg(long)]
    actor: Option<String>,
    /// Only this kind (`table.released`) or family (`upload`).
    #[arg(long)]
    kind: Option<String>,
    /// Only entries involving this dataset.
    #[arg(long)]
    dataset: Option<String>,
    /// Only this project's entries.
    #[arg(long)]
    project: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 0)]
    limit: u64,
    /// Keep following: print new entries as they are committed.
    #[arg(long, conflicts_with = "export")]
    follow: bool,
    /// Write the whole log, one canonical entry per line, to this file
    /// (no filters), and its latest checkpoint to FILE.checkpoint.
    #[arg(long, conflicts_with_all = ["since", "until", "actor", "kind", "dataset", "project", "limit", "from_index", "format"])]
    export: Option<PathBuf>,
    /// Output format; `json` prints one object per line (JSON Lines), so
    /// that `--follow` can stream it.
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    server: ServerArg,
}

/// Flags of `ddc audit verify`.
#[derive(Debug, clap::Args)]
pub(super) struct VerifyArgs {
    /// The log's published verifier key (`name+keyid+base64`), or a file
    /// holding it.
    #[arg(long)]
    key: String,
    /// A checkpoint saved earlier (a receipt's, or `ddc audit checkpoint
    /// --out`); repeatable. The entries must give its root.
    #[arg(long)]
    checkpoint: Vec<PathBuf>,
    /// Verify this export instead of the live log.
    #[arg(long)]
    export: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArg,
}

/// Runs an audit command.
pub(super) async fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Log(args) => log(args).await,
        AuditCommand::Checkpoint { out, server } => {
            let checkpoint = latest(&server).await?;
            match out {
                Some(path) => write_new(&path, checkpoint.note.as_bytes())?,
                None => print!("{}", checkpoint.note),
            }
            Ok(())
        }
        AuditCommand::Key(server) => {
            println!("{}", latest(&server).await?.verifier_key);
            Ok(())
        }
        AuditCommand::Verify(args) => {
            let verified = verify(&args).await?;
            println!("{}", describe(&verified));
            Ok(())
        }
    }
}

async fn latest(server: &ServerArg) -> anyhow::Result<proto::Checkpoint> {
    let mut clients = connect(server).await?;
    Ok(clients
        .audit
        .get_checkpoint(proto::GetCheckpointRequest {})
        .await
        .map_err(|s| status_error("checkpoint", s))?
        .into_inner())
}

async fn log(args: LogArgs) -> anyhow::Result<()> {
    let mut clients = connect_streaming(&args.server).await?;
    let time = |t: &Option<String>| t.as_deref().map(parse_utc).transpose();
    let request = proto::ListEntriesRequest {
        from_index: args.from_index,
        from_ms: time(&args.since)?.unwrap_or(0),
        to_ms: time(&args.until)?.unwrap_or(0),
        actor: args.actor.unwrap_or_default(),
        kind: args.kind.unwrap_or_default(),
        dataset: args.dataset.unwrap_or_default(),
        project: args.project.unwrap_or_default(),
        limit: args.limit,
    };
    if let Some(path) = &args.export {
        let checkpoint = clients
            .audit
            .get_checkpoint(proto::GetCheckpointRequest {})
            .await
            .map_err(|s| status_error("checkpoint", s))?
            .into_inner();
        let n = export(&mut clients, path, checkpoint.size).await?;
        write_new(&checkpoint_path(path), checkpoint.note.as_bytes())?;
        eprintln!(
            "exported {n} entries to {}, their checkpoint to {}",
            path.display(),
            checkpoint_path(path).display()
        );
        return Ok(());
    }
    let mut stream = if args.follow {
        clients
            .audit
            .follow_entries(proto::FollowEntriesRequest {
                from_index: args.from_index,
            })
            .await
    } else {
        clients.audit.list_entries(request).await
    }
    .map_err(|s| status_error("log", s))?
    .into_inner();
    let format = args.format.format;
    let mut out = std::io::stdout().lock();
    if format == Format::Csv {
        out.write_all(output::csv(ENTRY_COLUMNS, &[])?.as_bytes())?;
    }
    while let Some(entry) = stream.next().await {
        let entry = entry.map_err(|s| status_error("log", s))?;
        match format {
            Format::Text => writeln!(out, "{}", describe_entry(&entry))?,
            Format::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(output::csv_record(ENTRY_COLUMNS, &entry_row(&entry)))?;
                out.write_all(&w.into_inner()?)?;
            }
            Format::Json => writeln!(out, "{}", serde_json::Value::Object(entry_row(&entry)))?,
        }
        out.flush()?;
    }
    Ok(())
}

const ENTRY_COLUMNS: &[&str] = &["index", "at", "actor", "kind", "event"];

/// An entry for programs: `event` is the decoded event without its kind
/// (compact JSON text in CSV), `null` if the bytes do not decode.
fn entry_row(e: &proto::LogEntry) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    output::row([
        ("index", json!(e.index)),
        ("at", output::time(e.at_ms)),
        ("actor", json!(e.actor)),
        ("kind", json!(e.kind)),
        ("event", event_fields(e).unwrap_or_default()),
    ])
}

/// The entry's event fields, without its kind.
fn event_fields(e: &proto::LogEntry) -> Option<serde_json::Value> {
    let mut v = serde_json::to_value(event::decode(&e.entry).ok()?.event).ok()?;
    if let Some(map) = v.as_object_mut() {
        map.remove("kind");
    }
    Some(v)
}

/// Writes the first `size` entries to `path`, one per line.
async fn export(
    clients: &mut crate::client::Clients,
    path: &Path,
    size: u64,
) -> anyhow::Result<u64> {
    let mut stream = first_entries(clients, size).await?;
    let file =
        File::create_new(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let mut n = 0;
    while let Some(entry) = stream.next().await {
        let entry = entry.map_err(|s| status_error("log", s))?;
        if entry.entry.contains(&b'\n') {
            bail!(
                "entry {} holds a line break: not a canonical entry",
                entry.index
            );
        }
        out.write_all(&entry.entry)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

/// The log's first `size` entries, streamed in order.
async fn first_entries(
    clients: &mut crate::client::Clients,
    size: u64,
) -> anyhow::Result<tonic::Streaming<proto::LogEntry>> {
    Ok(clients
        .audit
        .list_entries(proto::ListEntriesRequest {
            limit: size,
            ..Default::default()
        })
        .await
        .map_err(|s| status_error("log", s))?
        .into_inner())
}

fn checkpoint_path(export: &Path) -> PathBuf {
    let mut name = export.as_os_str().to_owned();
    name.push(".checkpoint");
    PathBuf::from(name)
}

fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file =
        File::create_new(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

/// One line per entry: index, time, actor, kind, the event's fields.
fn describe_entry(e: &proto::LogEntry) -> String {
    let fields = event_fields(e)
        .map(|v| v.to_string())
        .unwrap_or_else(|| "(not a valid entry: run ddc audit verify)".to_owned());
    format!(
        "#{:<6} {}  {:<12} {:<20} {fields}",
        e.index,
        utc(e.at_ms.max(0) as u64),
        e.actor,
        e.kind
    )
}

/// Reads the verifier key: the string itself, or a file holding it.
fn read_key(key: &str) -> anyhow::Result<Verifier> {
    let text = if Path::new(key).is_file() {
        std::fs::read_to_string(key).with_context(|| format!("cannot read {key}"))?
    } else {
        key.to_owned()
    };
    Verifier::parse(text.trim()).context("not a verifier key (name+keyid+base64)")
}

/// Checks the log against the saved checkpoints and, live, the server's
/// latest; also checks the server's consistency proofs between them.
async fn verify(args: &VerifyArgs) -> anyhow::Result<Verified> {
    let key = read_key(&args.key)?;
    let mut verifier = LogVerifier::new(key.clone());
    let mut saved = Vec::new();
    for path in &args.checkpoint {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let label = path.display().to_string();
        saved.push(verifier.expect(&label, &text)?);
    }
    let verified = match &args.export {
        Some(export) => {
            let sidecar = checkpoint_path(export);
            if sidecar.is_file() {
                let text = std::fs::read_to_string(&sidecar)?;
                verifier.expect(&sidecar.display().to_string(), &text)?;
            } else if saved.is_empty() {
                bail!(
                    "nothing to verify the export against: give --checkpoint (or keep {} next to it)",
                    sidecar.display()
                );
            }
            verify_file(verifier, export)?
        }
        None => {
            let mut clients = connect_streaming(&args.server).await?;
            let latest = clients
                .audit
                .get_checkpoint(proto::GetCheckpointRequest {})
                .await
                .map_err(|s| status_error("checkpoint", s))?
                .into_inner();
            let newest = verifier.expect("latest (the server's)", &latest.note)?;
            for old in &saved {
                check_consistency(&mut clients, &key, old, &newest).await?;
            }
            verify_live(verifier, &mut clients, newest.size).await?
        }
    };
    Ok(verified)
}

fn verify_file(mut verifier: LogVerifier, path: &Path) -> anyhow::Result<Verified> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut index = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        verifier.push(index, &line)?;
        index += 1;
    }
    Ok(verifier.finish()?)
}

async fn verify_live(
    mut verifier: LogVerifier,
    clients: &mut crate::client::Clients,
    size: u64,
) -> anyhow::Result<Verified> {
    let mut stream = first_entries(clients, size).await?;
    while let Some(entry) = stream.next().await {
        let entry = entry.map_err(|s| status_error("log", s))?;
        verifier.push(entry.index, &entry.entry)?;
    }
    Ok(verifier.finish()?)
}

/// Asks the server to prove `old` a prefix of `new`, and checks the proof.
async fn check_consistency(
    clients: &mut crate::client::Clients,
    key: &Verifier,
    old: &note::Checkpoint,
    new: &note::Checkpoint,
) -> anyhow::Result<()> {
    if old.size > new.size || old.size == 0 {
        return Ok(());
    }
    let proof = clients
        .audit
        .get_consistency_proof(proto::ConsistencyProofRequest {
            old_size: old.size,
            new_size: new.size,
        })
        .await
        .map_err(|s| status_error("consistency proof", s))?
        .into_inner();
    let hashes = proof_hashes(&proof)?;
    merkle::verify_consistency(old.size, &old.root, new.size, &new.root, &hashes).with_context(
        || {
            format!(
                "the server cannot prove the checkpoint of {} entries a prefix of its latest ({}), signed by {}: the log forked or was rewritten",
                old.size,
                new.size,
                key.name()
            )
        },
    )?;
    Ok(())
}

fn proof_hashes(proof: &proto::Proof) -> anyhow::Result<Vec<Hash>> {
    proof
        .hashes
        .iter()
        .map(|h| Hash::try_from(h.as_slice()).context("a proof hash is not 32 bytes"))
        .collect()
}

/// The verdict, for people.
fn describe(v: &Verified) -> String {
    use base64::Engine as _;
    let root = base64::engine::general_purpose::STANDARD.encode(v.root);
    let mut text = format!("verified: {} entries, root {root}", v.entries);
    for (label, size) in &v.checkpoints {
        text.push_str(&format!("\n  matches checkpoint {label} ({size} entries)"));
    }
    text
}
