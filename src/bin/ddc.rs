//! The `ddc` binary: the server and the command-line client for every role.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = match ddc::cli::expand_config(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {}", ddc::cli::report(&e));
            return ExitCode::FAILURE;
        }
    };
    let cli = ddc::cli::Cli::parse_from(args);
    match ddc::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if ddc::cli::closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", ddc::cli::report(&e));
            ExitCode::from(ddc::cli::exit_code(&e))
        }
    }
}
