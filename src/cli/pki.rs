//! `ddc pki dev`: a throwaway CA, a server certificate and one client
//! certificate per organisation and role, for local use and tests.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::auth::Role;
use crate::pki::{DevCa, Issued, Validity};

/// Certificate commands.
#[derive(Debug, clap::Subcommand)]
pub(super) enum PkiCommand {
    /// Write a development CA and certificates into a new directory:
    /// `ca.pem`, `server.pem`/`server.key` (localhost, 127.0.0.1) and
    /// `ORG-ROLE.pem`/`ORG-ROLE.key` for every organisation and role.
    Dev {
        /// The directory to create.
        #[arg(long)]
        out: PathBuf,
        /// The organisations (repeatable).
        #[arg(long = "org", default_values = ["cbs", "duo", "ocw"])]
        organisations: Vec<String>,
    },
}

/// Runs a certificate command.
pub(super) fn run(command: PkiCommand) -> anyhow::Result<()> {
    let PkiCommand::Dev { out, organisations } = command;
    for org in &organisations {
        anyhow::ensure!(
            crate::names::is_simple_name(org),
            "organisation `{org}`: a lower-case name (a letter, then letters, digits, _)"
        );
    }
    crate::private_fs::create_private_dir(&out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    let mut ca = DevCa::new("ddc development CA")?;
    write(&out.join("ca.pem"), ca.cert_pem())?;
    save(
        &out,
        "server",
        &ca.issue_server(&["localhost", "127.0.0.1"])?,
    )?;
    for org in &organisations {
        for role in Role::ALL {
            let name = format!("{org}-{}", role.as_str());
            save(
                &out,
                &name,
                &ca.issue_client(org, role, &name, Validity::default())?,
            )?;
        }
    }
    println!(
        "wrote a development CA, a server certificate and {} client certificates to {} (valid 90 days; not for production)",
        organisations.len() * Role::ALL.len(),
        out.display()
    );
    Ok(())
}

fn save(dir: &Path, name: &str, issued: &Issued) -> anyhow::Result<()> {
    write(&dir.join(format!("{name}.pem")), &issued.cert_pem)?;
    write(&dir.join(format!("{name}.key")), &issued.key_pem)
}

/// Writes a new owner-only file; an existing one is an error.
fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    anyhow::ensure!(!path.exists(), "{} exists already", path.display());
    let mut file = crate::private_fs::open_private_file(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
