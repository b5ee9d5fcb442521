//! `ddc keys`: the key store, for administrators. Works on the key
//! directory directly (the server need not run); prints versions and times,
//! never a key.

use std::path::PathBuf;

use anyhow::Context;

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
    /// Create a key store with a fresh pseudonymisation key.
    Init {
        #[command(flatten)]
        keys: KeyArgs,
        /// Also create the master key file (it must not exist yet).
        #[arg(long)]
        new_master_key: bool,
    },
    /// Show every key's version, purpose and times.
    Status {
        #[command(flatten)]
        keys: KeyArgs,
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

pub(super) fn run(command: KeysCommand) -> anyhow::Result<()> {
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
        KeysCommand::Status { keys } => {
            let source = master_key_source(keys.master_key_file)?;
            let store = source.with(|m| KeyStore::open(&keys.key_dir, m))?;
            print_status(&store);
        }
    }
    Ok(())
}

fn print_status(store: &KeyStore) {
    for k in store.status() {
        let active = store
            .active(k.purpose)
            .is_some_and(|(v, _)| v.0 == k.version);
        println!(
            "{:?} key version {}: created {} ms, activated {}{}",
            k.purpose,
            k.version,
            k.created_ms,
            k.activated_ms
                .map_or_else(|| "never".to_owned(), |t| format!("{t} ms")),
            if active { " (active)" } else { "" }
        );
    }
}
