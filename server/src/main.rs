//! The `runnel` binary.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = runnel_server::cli::Cli::parse();
    runnel_server::cli::run(cli)
}
