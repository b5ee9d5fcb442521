//! The `ddc` command line: one file per command group. Parsing is clap's;
//! every command talks to the server through the generated gRPC client.

mod codelist;
mod dataset;
mod keys;
mod linkage;
mod render;
mod serve;
mod table;
mod upload;

use clap::{Parser, Subcommand};

pub use codelist::{parse_codes_csv, CodesFile};
pub use dataset::parse_column_spec;
pub use render::{render_linkage, render_table, TableFormat};
pub use upload::describe_receipt;

/// ddc: privacy-preserving data linkage with disclosure-controlled tables.
#[derive(Debug, Parser)]
#[command(name = "ddc", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a client command finds the server.
#[derive(Debug, clap::Args)]
struct ServerArg {
    /// The server's address.
    #[arg(long, env = "DDC_SERVER", default_value = "http://127.0.0.1:50051")]
    server: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Run the whole job on synthetic data with an in-process server.
    Demo(crate::demo::DemoArgs),
    /// Create, inspect and rotate keys (administrators).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Publish, list and show code lists (administrators).
    #[command(subcommand)]
    Codelist(codelist::CodeListCommand),
    /// Declare, list and show datasets (data holders).
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
    /// Upload a CSV file into a dataset (data holders).
    Upload(upload::UploadArgs),
    /// Ask for a protected table: person counts, or sums or means (analysts).
    Table(table::TableArgs),
    /// Show protected linkage figures: persons per dataset and per pair.
    Linkage(linkage::LinkageArgs),
}

/// Runs a parsed command line to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let serving = matches!(cli.command, Command::Serve(_));
    init_tracing(if serving { "info" } else { "warn" });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(a) => serve::run(a).await,
            Command::Demo(a) => crate::demo::run(a).await,
            Command::Keys(c) => keys::run(c).await,
            Command::Codelist(c) => codelist::run(c).await,
            Command::Dataset(c) => dataset::run(c).await,
            Command::Upload(a) => upload::run(a).await,
            Command::Table(a) => table::run(a).await,
            Command::Linkage(a) => linkage::run(a).await,
        }
    })
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Connects, naming the address in the error.
async fn connect(server: &ServerArg) -> anyhow::Result<crate::client::Clients> {
    use anyhow::Context;
    crate::client::connect(&server.server)
        .await
        .with_context(|| format!("cannot connect to {}", server.server))
}

/// Turns a gRPC status into an error that shows its field violations.
fn status_error(context: &str, status: tonic::Status) -> anyhow::Error {
    use tonic_types::StatusExt;
    let mut text = format!("{context}: {} ({:?})", status.message(), status.code());
    if let Some(bad) = status.get_details_bad_request() {
        for v in &bad.field_violations {
            text.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    anyhow::anyhow!(text)
}
