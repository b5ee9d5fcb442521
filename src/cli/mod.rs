//! The `ddc` command line: one file per command group. Parsing is clap's;
//! every command talks to the server through the generated gRPC client.

mod audit;
mod chart;
mod codelist;
mod config;
mod dataset;
mod docs;
mod failure;
mod health;
mod keys;
mod linkage;
mod output;
mod pki;
mod project;
mod release;
mod render;
mod serve;
mod share;
mod table;
mod time;
mod upload;

use clap::{Parser, Subcommand};

pub use chart::{write_chart, ChartStyle};
pub use codelist::{parse_codes_csv, CodesFile};
pub use config::expand_config;
pub use dataset::parse_column_spec;
pub use failure::{
    closed_pipe, code_name, exit_code, report, EXIT_LOCAL, EXIT_REFUSED, EXIT_UNREACHABLE,
};
pub use output::Format;
pub use render::{render_linkage, render_shares, render_table};
pub use share::Share;
pub use upload::describe_receipt;

/// ddc: privacy-preserving data linkage with disclosure-controlled tables.
#[derive(Debug, Parser)]
#[command(name = "ddc", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a client command finds the server, and the client's certificate.
#[derive(Debug, clap::Args)]
struct ServerArg {
    /// The server's address: `https://host:port` or `host:port` with the
    /// TLS settings below; `http://127.0.0.1:port` for a development server.
    #[arg(long, env = "DDC_SERVER", default_value = "http://127.0.0.1:50051")]
    server: String,
    /// The CA certificate the server's certificate must chain to (PEM).
    #[arg(long, env = "DDC_TLS_CA", requires_all = ["tls_cert", "tls_key"])]
    tls_ca: Option<std::path::PathBuf>,
    /// This client's certificate (PEM): its O, OU and CN say who is calling.
    #[arg(long, env = "DDC_TLS_CERT", requires_all = ["tls_ca", "tls_key"])]
    tls_cert: Option<std::path::PathBuf>,
    /// This client's private key (PEM).
    #[arg(long, env = "DDC_TLS_KEY", requires_all = ["tls_ca", "tls_cert"])]
    tls_key: Option<std::path::PathBuf>,
    /// Seconds to wait for the server's answer (uploads, `ddc audit log`
    /// and `verify`, and `ddc keys rotate` wait as long as they take); the
    /// connection itself gets 10.
    #[arg(long, env = "DDC_TIMEOUT", default_value_t = 60)]
    timeout: u64,
}

impl ServerArg {
    /// The address, with the TLS settings of the environment
    /// (`DDC_TLS_CA`, `DDC_TLS_CERT`, `DDC_TLS_KEY`) if any.
    fn plain(server: String) -> Self {
        let env = |name: &str| std::env::var_os(name).map(std::path::PathBuf::from);
        ServerArg {
            server,
            tls_ca: env("DDC_TLS_CA"),
            tls_cert: env("DDC_TLS_CERT"),
            tls_key: env("DDC_TLS_KEY"),
            timeout: std::env::var("DDC_TIMEOUT")
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(60),
        }
    }

    fn tls(&self) -> Option<crate::tls::ClientTls> {
        match (&self.tls_ca, &self.tls_cert, &self.tls_key) {
            (Some(ca), Some(cert), Some(key)) => Some(crate::tls::ClientTls {
                ca: ca.clone(),
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }
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
    /// Create, change, close and list projects (administrators); approve
    /// their use of your datasets (data holders).
    #[command(subcommand)]
    Project(project::ProjectCommand),
    /// Read and verify the linkage log (auditors).
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// List and show released tables and linkage figures.
    #[command(subcommand)]
    Release(release::ReleaseCommand),
    /// Ask whether the server is serving (for probes): exit 0 if it is.
    Health(ServerArg),
    /// Make development certificates.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Print the shell completion script (`ddc completions bash > /etc/bash_completion.d/ddc`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page, or write one per command with `--out DIR`.
    Man(docs::ManArgs),
}

/// Runs a parsed command line to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve(a) => init_tracing("info", a.log_format),
        _ => init_tracing("warn", LogFormat::Text),
    }
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
            Command::Project(c) => project::run(c).await,
            Command::Audit(c) => audit::run(c).await,
            Command::Release(c) => release::run(c).await,
            Command::Pki(c) => pki::run(c),
            Command::Health(s) => health::run(s).await,
            Command::Completions { shell } => docs::completions(shell),
            Command::Man(a) => docs::man(&a),
        }
    })
}

/// How the server writes its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// One line per event for people; coloured only on a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

fn init_tracing(default: &str, format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Connects for requests answered within the `--timeout`.
async fn connect(server: &ServerArg) -> anyhow::Result<crate::client::Clients> {
    let request = Some(std::time::Duration::from_secs(server.timeout.max(1)));
    Ok(crate::client::Clients::new(channel(server, request).await?))
}

/// Connects for a call that may take long while data flows (an upload,
/// following the log): no request timeout.
async fn connect_streaming(server: &ServerArg) -> anyhow::Result<crate::client::Clients> {
    Ok(crate::client::Clients::new(channel(server, None).await?))
}

/// A channel to the server: TLS with the client's certificate, or
/// plaintext. A connection that fails is [`failure::Unreachable`]; bad TLS
/// files are a local error.
async fn channel(
    server: &ServerArg,
    request: Option<std::time::Duration>,
) -> anyhow::Result<tonic::transport::Channel> {
    use crate::client::{ConnectError, Timeouts};
    let tls = server.tls();
    let url = crate::tls::client_url(&server.server, tls.is_some())?;
    let timeouts = Timeouts {
        request,
        ..Timeouts::default()
    };
    match crate::client::channel_with(&url, tls.as_ref(), &timeouts).await {
        Ok(channel) => Ok(channel),
        Err(ConnectError::Tls(e)) => Err(anyhow::Error::new(e).context("TLS settings")),
        Err(e) => Err(failure::Unreachable {
            url,
            cause: report(&anyhow::Error::new(e)),
        }
        .into()),
    }
}

/// A refusal by the server, its fields named as sent.
fn status_error(context: &str, status: tonic::Status) -> anyhow::Error {
    failure::Refused::new(context, status, failure::as_is).into()
}
