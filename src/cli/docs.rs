//! `ddc completions SHELL` and `ddc man`: shell completions and man pages,
//! generated from the clap definitions so they never drift from the flags.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;

/// Flags of `ddc man`.
#[derive(Debug, clap::Args)]
pub(super) struct ManArgs {
    /// Write `ddc.1` and one page per command (`ddc-table.1`, …) into this
    /// directory instead of printing `ddc.1`.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Prints the completion script for `shell`.
pub(super) fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "ddc", &mut script);
    print_all(&script)
}

/// Writes `bytes` to standard output; a reader that stops early (`| head`)
/// is not an error.
fn print_all(bytes: &[u8]) -> anyhow::Result<()> {
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Prints `ddc.1`, or writes every page into `--out`.
pub(super) fn man(a: &ManArgs) -> anyhow::Result<()> {
    let command = super::Cli::command();
    match &a.out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            print_all(&page)?;
        }
        Some(dir) => write_pages(&command, dir)?,
    }
    Ok(())
}

/// `ddc.1`, then a page per subcommand, recursively (`ddc-project-create.1`).
fn write_pages(command: &clap::Command, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(command.clone(), dir)
        .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_gets_a_man_page() {
        let dir = tempfile::tempdir().unwrap();
        let command = crate::cli::Cli::command();
        write_pages(&command, dir.path()).unwrap();
        for page in [
            "ddc.1",
            "ddc-table.1",
            "ddc-project-create.1",
            "ddc-dataset-delete.1",
        ] {
            let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
            assert!(text.contains(".TH"), "{page} is a man page");
        }
        let table = std::fs::read_to_string(dir.path().join("ddc-table.1")).unwrap();
        assert!(table.contains("\\-\\-by"), "the flags are documented");
    }

    #[test]
    fn completions_know_the_commands_and_flags() {
        let mut command = crate::cli::Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut command, "ddc", &mut script);
        let script = String::from_utf8(script).unwrap();
        assert!(script.contains("dataset") && script.contains("--project"));
    }
}
