//! `ddc keys`: the key store, for administrators. `init` and `status` work
//! on the key directory directly (the server need not run); `status
//! --server` and `rotate` ask the running server's `Admin` service.
//! Prints versions and times, never a key.

use std::path::PathBuf;

use anyhow::Context;

use serde_json::{json, Map, Value};

use super::output::{self, row, FormatArg, Output};
use super::time::utc;
use crate::keystore::{KeyStore, MasterKey, MasterKeySource};

/// The key directory and the master key.
#[derive(Debug, clap::Args)]
pub(super) struct KeyArgs {
    /// The key directory.
    #[arg(long, env = "DDC_KEY_DIR")]
    key_dir: PathBuf,
    /// File holding the master key (64 hex digits, owner-only); without it,
    /// DDC_MASTER_KEY, for development only.
    #[arg(long, env = "DDC_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub(super) enum KeysCommand {
    /// Create a key store with fresh hash, storage, signing and audit keys.
    Init {
        #[command(flatten)]
        keys: KeyArgs,
        /// Also create the master key file (it must not exist yet).
        #[arg(long)]
        new_master_key: bool,
    },
    /// Show every key's purpose, version and times: from the key directory,
    /// or with --server from the running server.
    Status {
        /// Ask this running server instead of reading the key directory.
        #[arg(long, conflicts_with_all = ["key_dir", "master_key_file"])]
        server: Option<String>,
        /// The key directory.
        #[arg(long, env = "DDC_KEY_DIR", required_unless_present = "server")]
        key_dir: Option<PathBuf>,
        /// File holding the master key (64 hex digits, owner-only); without
        /// it, DDC_MASTER_KEY, for development only.
        #[arg(long, env = "DDC_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Print the linkage log's verifier key (public): publish it for
    /// auditors, who verify checkpoints with it.
    Verifier {
        #[command(flatten)]
        keys: KeyArgs,
        /// The log's name, as the server's --log-origin.
        #[arg(long, env = "DDC_LOG_ORIGIN", default_value = crate::audit::DEFAULT_ORIGIN)]
        origin: String,
    },
    /// Rotate the storage key on the running server: every stored
    /// pseudonym is resealed under a new key, the old one is destroyed.
    Rotate {
        #[command(flatten)]
        server: super::ServerArg,
    },
}

/// The master key named by `file`, or DDC_MASTER_KEY.
pub(super) fn master_key_source(file: Option<PathBuf>) -> anyhow::Result<MasterKeySource> {
    match file {
        Some(path) => Ok(MasterKeySource::File(path)),
        None if std::env::var_os("DDC_MASTER_KEY").is_some() => {
            tracing::warn!(
                "master key from DDC_MASTER_KEY: for development only, since /proc exposes it"
            );
            Ok(MasterKeySource::Env("DDC_MASTER_KEY".into()))
        }
        None => Err(crate::keys::KeyError::NoMasterKey.into()),
    }
}

pub(super) async fn run(command: KeysCommand) -> anyhow::Result<()> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    match command {
        KeysCommand::Init {
            keys,
            new_master_key,
        } => {
            if new_master_key {
                let path = keys
                    .master_key_file
                    .as_ref()
                    .context("--new-master-key needs --master-key-file")?;
                MasterKey::generate()?.write_new_file(path)?;
                println!("created master key file {}", path.display());
            }
            let source = master_key_source(keys.master_key_file)?;
            let store = source.with(|m| KeyStore::init(&keys.key_dir, m, now_ms))?;
            println!("created key store in {}", keys.key_dir.display());
            print_status(&store);
        }
        KeysCommand::Status {
            server: Some(server),
            format,
            ..
        } => {
            let mut clients = super::connect(&super::ServerArg::plain(server)).await?;
            let status = clients
                .admin
                .key_status(crate::proto::KeyStatusRequest {})
                .await
                .map_err(|s| super::status_error("key status", s))?;
            output::print(&status.into_inner(), format.format)?;
        }
        KeysCommand::Status {
            key_dir,
            master_key_file,
            format,
            ..
        } => {
            let key_dir = key_dir.context("--key-dir or --server is needed")?;
            let source = master_key_source(master_key_file)?;
            let store = source.with(|m| KeyStore::open(&key_dir, m))?;
            let status = crate::service::key_status_to_proto(&store.status());
            output::print(&status, format.format)?;
        }
        KeysCommand::Verifier { keys, origin } => {
            let source = master_key_source(keys.master_key_file)?;
            let store = source.with(|m| KeyStore::open(&keys.key_dir, m))?;
            let (_, seed) = store
                .active(crate::keystore::KeyPurpose::Signing)
                .context("the key store has no signing key yet: start the server once")?;
            println!("{}", crate::audit::log_signer(&origin, seed)?.verifier());
        }
        KeysCommand::Rotate { server } => {
            // Resealing the national store takes minutes: no request timeout.
            let mut clients = super::connect_streaming(&server).await?;
            let done = clients
                .admin
                .rotate_storage_key(crate::proto::RotateStorageKeyRequest {})
                .await
                .map_err(|s| super::status_error("rotate", s))?
                .into_inner();
            println!(
                "storage key rotated from version {} to {}: {} persons and {} households resealed in {:.1} s; version {} is destroyed",
                done.from_version,
                done.to_version,
                done.persons,
                done.households,
                done.duration_ms as f64 / 1000.0,
                done.from_version
            );
        }
    }
    Ok(())
}

fn print_status(store: &KeyStore) {
    print!(
        "{}",
        render_status(&crate::service::key_status_to_proto(&store.status()))
    );
}

fn purpose_name(purpose: i32) -> &'static str {
    use crate::proto::KeyPurpose;
    match KeyPurpose::try_from(purpose) {
        Ok(KeyPurpose::Hash) => "hash",
        Ok(KeyPurpose::Storage) => "storage",
        Ok(KeyPurpose::Signing) => "signing",
        Ok(KeyPurpose::Audit) => "audit",
        _ => "unknown",
    }
}

/// One row per key version: `purpose`, `version`, `state` (`active`,
/// `inactive`, `pending` or `destroyed`) and its times. Never a key.
impl Output for crate::proto::KeyStatusResponse {
    fn text(&self) -> String {
        render_status(self)
    }

    fn columns(&self) -> &'static [&'static str] {
        &[
            "purpose",
            "version",
            "state",
            "created",
            "activated",
            "destroyed",
        ]
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        self.keys
            .iter()
            .map(|k| {
                let state = if k.active {
                    "active"
                } else if k.retired_ms != 0 {
                    "destroyed"
                } else if k.activated_ms == 0 {
                    "pending"
                } else {
                    "inactive"
                };
                row([
                    ("purpose", json!(purpose_name(k.purpose))),
                    ("version", json!(k.version)),
                    ("state", json!(state)),
                    ("created", output::time(k.created_ms as i64)),
                    ("activated", output::time(k.activated_ms as i64)),
                    ("destroyed", output::time(k.retired_ms as i64)),
                ])
            })
            .collect()
    }
}

/// One line per key: purpose, version, state and times (UTC).
fn render_status(status: &crate::proto::KeyStatusResponse) -> String {
    let mut out = String::new();
    for k in &status.keys {
        let purpose = purpose_name(k.purpose);
        let state = if k.active {
            "active".to_owned()
        } else if k.retired_ms != 0 {
            format!("destroyed {}", utc(k.retired_ms))
        } else if k.activated_ms == 0 {
            "pending (a rotation under way)".to_owned()
        } else {
            "inactive".to_owned()
        };
        let activated = match k.activated_ms {
            0 => String::new(),
            t => format!(", activated {}", utc(t)),
        };
        out.push_str(&format!(
            "{purpose:<8} v{:<3} {state:<32} created {}{activated}\n",
            k.version,
            utc(k.created_ms)
        ));
    }
    out
}
