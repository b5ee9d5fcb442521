//! The `ddc` binary: the server and the command-line client for every role.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ddc::cli::Cli::parse();
    match ddc::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
