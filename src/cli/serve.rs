//! `ddc serve`: run the server until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::auth::DenyList;
use crate::disclosure::{DisclosurePolicy, MagnitudeNoiseKind, Perturbation};
use crate::engine::TableLimits;
use crate::server::{run as run_server, ServerConfig};
use crate::service::UploadLimits;
use crate::tls::{ServerTls, Transport};

/// The limits' defaults, for the flags' help.
fn limits() -> TableLimits {
    TableLimits::default()
}

/// Flags of `ddc serve`.
#[derive(Debug, clap::Args)]
#[command(args_override_self = true)]
pub(super) struct ServeArgs {
    /// A TOML file of settings: each key is a flag's long name with `_`
    /// for `-` (`data_dir = "/var/lib/ddc/data"`); an environment variable
    /// or a flag overrides it; an unknown key is an error.
    #[arg(long, env = "DDC_CONFIG")]
    config: Option<PathBuf>,
    /// Directory of the database.
    #[arg(long, env = "DDC_DATA_DIR")]
    data_dir: PathBuf,
    /// Directory of the key store (never inside the data
    /// directory). Default: the data directory's path with `.keys` appended.
    #[arg(long, env = "DDC_KEY_DIR")]
    key_dir: Option<PathBuf>,
    /// File holding the master key that unseals the key store (64 hex
    /// digits, readable by its owner only: a systemd credential or a
    /// mounted secret). Without it, DDC_MASTER_KEY (64 hex digits) is used,
    /// for development only.
    #[arg(long, env = "DDC_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "DDC_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// The server's TLS certificate chain (PEM). With --tls-key and
    /// --client-ca; callers are identified by their client certificates.
    #[arg(long, env = "DDC_SERVE_TLS_CERT", requires_all = ["tls_key", "client_ca"])]
    tls_cert: Option<PathBuf>,
    /// The server's TLS private key (PEM).
    #[arg(long, env = "DDC_SERVE_TLS_KEY", requires_all = ["tls_cert", "client_ca"])]
    tls_key: Option<PathBuf>,
    /// The CA certificate(s) that issue client certificates (PEM).
    #[arg(long, env = "DDC_CLIENT_CA", requires_all = ["tls_cert", "tls_key"])]
    client_ca: Option<PathBuf>,
    /// A revoked client certificate's serial number (hex); repeatable.
    #[arg(long = "deny-serial", env = "DDC_DENY_SERIALS", value_delimiter = ',')]
    deny_serials: Vec<String>,
    /// Serve plaintext without TLS, every caller the development identity:
    /// for development only, and only on a loopback address.
    #[arg(long, env = "DDC_INSECURE_PLAINTEXT_DEV", conflicts_with_all = ["tls_cert", "tls_key", "client_ca"])]
    insecure_plaintext_dev: bool,
    /// The name of this deployment's linkage log: the origin line and key
    /// name of its signed checkpoints (e.g. `ddc.cbs.nl/log`). Auditors'
    /// verifier keys carry it; keep it once chosen.
    #[arg(long, env = "DDC_LOG_ORIGIN", default_value = crate::audit::DEFAULT_ORIGIN)]
    log_origin: String,
    /// How the server writes its own log: text (coloured only on a
    /// terminal) or json (one object per line, for collectors).
    #[arg(long, env = "DDC_LOG_FORMAT", value_enum, default_value_t = super::LogFormat::Text)]
    pub(super) log_format: super::LogFormat,
    /// For crash tests only: stop a storage key rotation for good at this
    /// point (key-added, copied, built, swapped, activated), to be killed.
    #[arg(long, env = "DDC_TEST_ROTATION_PAUSE", hide = true)]
    test_rotation_pause: Option<String>,
    /// Cells with fewer distinct persons are withheld.
    #[arg(long, env = "DDC_THRESHOLD", default_value_t = DisclosurePolicy::default().threshold)]
    threshold: u64,
    /// Linkage figures are rounded to a multiple of this.
    #[arg(long, env = "DDC_ROUNDING_BASE", default_value_t = DisclosurePolicy::default().rounding_base)]
    rounding_base: u64,
    /// n of the (n,k)-dominance rule.
    #[arg(long, env = "DDC_DOMINANCE_N", default_value_t = DisclosurePolicy::default().dominance_n)]
    dominance_n: usize,
    /// k of the (n,k)-dominance rule, in percent.
    #[arg(long, env = "DDC_DOMINANCE_K", default_value_t = DisclosurePolicy::default().dominance_k)]
    dominance_k: f64,
    /// p of the p% rule, in percent.
    #[arg(long, env = "DDC_P_PERCENT", default_value_t = DisclosurePolicy::default().p_percent)]
    p_percent: f64,
    /// Round released table counts to a multiple of this (1: off).
    #[arg(long, env = "DDC_TABLE_ROUNDING", default_value_t = DisclosurePolicy::default().table_rounding)]
    table_rounding: u64,
    /// Release exact values instead of cell-key perturbed ones (not advised).
    #[arg(long, env = "DDC_NO_PERTURBATION")]
    no_perturbation: bool,
    /// Do not refuse tables with a cell whose persons differ from those of
    /// an earlier released cell by a few (not advised).
    #[arg(long, env = "DDC_NO_RELEASE_LEDGER")]
    no_release_ledger: bool,
    /// Smallest and largest relative noise of a unit's value in sums and
    /// means: each unit's value counts as value × (1 ± f), f in [MIN, MAX].
    #[arg(long, env = "DDC_MAGNITUDE_NOISE", num_args = 2, value_delimiter = ',', value_names = ["MIN", "MAX"],
          default_values_t = [Perturbation::default().magnitude_min, Perturbation::default().magnitude_max])]
    magnitude_noise: Vec<f64>,
    /// Perturb each sum by noise drawn from its cell key (± MIN–MAX of its
    /// largest contribution) instead of per unit: averageable over unions,
    /// kept only to show what per-unit noise defends against (not advised).
    #[arg(long, env = "DDC_PER_CELL_MAGNITUDE_NOISE")]
    per_cell_magnitude_noise: bool,
    /// Most uploads open at once, over all organisations.
    #[arg(long, env = "DDC_MAX_UPLOADS", default_value_t = UploadLimits::default().total)]
    max_uploads: usize,
    /// Most uploads open at once into one organisation's datasets.
    #[arg(long, env = "DDC_MAX_UPLOADS_PER_ORGANISATION", default_value_t = UploadLimits::default().per_organisation)]
    max_uploads_per_organisation: usize,
    /// Seconds an upload may send nothing before it is cancelled (storing nothing).
    #[arg(long, env = "DDC_UPLOAD_IDLE_SECS", default_value_t = UploadLimits::default().idle.as_secs())]
    upload_idle_secs: u64,
    /// Linear-programming work one table's attacker check may take, in
    /// units of the problems' sizes (rows x min(rows, variables) +
    /// variables per solve; a million is about a quarter of a CPU-second). A table
    /// that needs more is refused with RESOURCE_EXHAUSTED and a hint to
    /// coarsen it, never released unchecked. Deterministic: the same
    /// request always gets the same answer.
    #[arg(long, env = "DDC_ATTACKER_WORK", default_value_t = limits().attacker.work, help_heading = "Table limits")]
    attacker_work: u64,
    /// Most cells unsafe on their own (withheld by a rule) that one table's
    /// attacker check takes; more is refused like --attacker-work.
    #[arg(long, env = "DDC_MAX_UNSAFE_CELLS", default_value_t = limits().attacker.max_unsafe_cells, help_heading = "Table limits")]
    max_unsafe_cells: usize,
    /// Threads one table is tabulated on and its final attacker check runs
    /// on, and by default the tables checked at once. Default: the
    /// machine's available parallelism.
    #[arg(long, env = "DDC_PARALLELISM", help_heading = "Table limits")]
    parallelism: Option<usize>,
    /// Tables one caller may have in the attacker check at once (tables
    /// with unsafe cells); more are refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "DDC_ATTACKER_CHECKS_PER_CALLER", default_value_t = limits().attacker_checks_per_caller, help_heading = "Table limits")]
    attacker_checks_per_caller: usize,
    /// Tables in the attacker check at once over all callers; more are
    /// refused with RESOURCE_EXHAUSTED. Default: --parallelism.
    #[arg(long, env = "DDC_ATTACKER_CHECKS_TOTAL", help_heading = "Table limits")]
    attacker_checks_total: Option<usize>,
    /// Filters per table request (INVALID_ARGUMENT beyond).
    #[arg(long, env = "DDC_MAX_FILTERS", default_value_t = limits().request.max_filters, help_heading = "Table limits")]
    max_filters: usize,
    /// Values of one filter (INVALID_ARGUMENT beyond; negate the filter to
    /// list the other categories).
    #[arg(long, env = "DDC_MAX_VALUES_PER_FILTER", default_value_t = limits().request.max_values_per_filter, help_heading = "Table limits")]
    max_values_per_filter: usize,
    /// Values over all filters of a request (INVALID_ARGUMENT beyond).
    #[arg(long, env = "DDC_MAX_FILTER_VALUES", default_value_t = limits().request.max_filter_values, help_heading = "Table limits")]
    max_filter_values: usize,
    /// Further datasets a table request may link, or a linkage request name
    /// (INVALID_ARGUMENT beyond).
    #[arg(long, env = "DDC_MAX_DATASETS", default_value_t = limits().request.max_datasets, help_heading = "Table limits")]
    max_datasets: usize,
}

impl ServeArgs {
    /// The table limits these flags set over `limits`.
    fn table_limits(&self, limits: TableLimits) -> TableLimits {
        let mut limits = match self.parallelism {
            Some(n) => limits.with_parallelism(n),
            None => limits,
        };
        limits.attacker.work = self.attacker_work;
        limits.attacker.max_unsafe_cells = self.max_unsafe_cells;
        limits.attacker_checks_per_caller = self.attacker_checks_per_caller.max(1);
        if let Some(n) = self.attacker_checks_total {
            limits.attacker_checks_total = n.max(1);
        }
        limits.request.max_filters = self.max_filters;
        limits.request.max_values_per_filter = self.max_values_per_filter;
        limits.request.max_filter_values = self.max_filter_values;
        limits.request.max_datasets = self.max_datasets;
        limits
    }
}

pub(super) async fn run(a: ServeArgs) -> anyhow::Result<()> {
    let transport = transport(&a)?;
    let key_dir = a.key_dir.clone().unwrap_or_else(|| {
        let mut p = a.data_dir.clone().into_os_string();
        p.push(".keys");
        PathBuf::from(p)
    });
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let mut config = ServerConfig::new(
        a.data_dir.clone(),
        key_dir,
        DisclosurePolicy {
            threshold: a.threshold,
            rounding_base: a.rounding_base,
            dominance_n: a.dominance_n,
            dominance_k: a.dominance_k,
            p_percent: a.p_percent,
            perturbation: (!a.no_perturbation).then(|| Perturbation {
                magnitude_kind: if a.per_cell_magnitude_noise {
                    MagnitudeNoiseKind::PerCell
                } else {
                    MagnitudeNoiseKind::PerUnit
                },
                magnitude_min: a.magnitude_noise[0],
                magnitude_max: a.magnitude_noise[1],
                ..Perturbation::default()
            }),
            table_rounding: a.table_rounding,
            release_ledger: !a.no_release_ledger,
            ..DisclosurePolicy::default()
        },
    );
    config.master_key = super::keys::master_key_source(a.master_key_file.clone())?;
    config.create_keys = false;
    config.rotation_pause = a.test_rotation_pause.clone();
    config.log_origin = a.log_origin.clone();
    config.transport = transport;
    config.upload_limits = UploadLimits {
        total: a.max_uploads,
        per_organisation: a.max_uploads_per_organisation,
        idle: Duration::from_secs(a.upload_idle_secs.max(1)),
    };
    config.table_limits = a.table_limits(config.table_limits);
    run_server(listener, config, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// TLS from the flags, or plaintext only when asked for explicitly.
fn transport(a: &ServeArgs) -> anyhow::Result<Transport> {
    match (&a.tls_cert, &a.tls_key, &a.client_ca) {
        (Some(cert), Some(key), Some(client_ca)) => Ok(Transport::Tls(ServerTls {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: client_ca.clone(),
            deny: DenyList::new(&a.deny_serials),
        })),
        _ if a.insecure_plaintext_dev => Ok(Transport::PlaintextDevelopment),
        _ => anyhow::bail!(
            "give --tls-cert, --tls-key and --client-ca (callers are identified by their client \
             certificates), or --insecure-plaintext-dev on a loopback address for development"
        ),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
