//! `runnel-slt`: runs `.slt` files against a running Runnel server and
//! exits non-zero if any fails.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use runnel_sqllogictest::{
    ConnectConfig, DEFAULT_DATABASE, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_USER, RunError,
    expand_paths, run_file,
};

/// Run sqllogictest (.slt) files against a running Runnel server over pgwire.
#[derive(Debug, Parser)]
#[command(name = "runnel-slt", version)]
struct Args {
    /// Server host.
    #[arg(long, default_value = DEFAULT_HOST)]
    host: String,
    /// Server pgwire port.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// User name to connect as.
    #[arg(long, default_value = DEFAULT_USER)]
    user: String,
    /// Database name to connect to.
    #[arg(long, default_value = DEFAULT_DATABASE)]
    database: String,
    /// .slt files, or directories searched recursively for *.slt.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = ConnectConfig {
        host: args.host,
        port: args.port,
        user: args.user,
        dbname: args.database,
    };

    let files = match expand_paths(&args.paths) {
        Ok(files) if files.is_empty() => {
            eprintln!("runnel-slt: {}", RunError::NoFiles);
            return ExitCode::from(2);
        }
        Ok(files) => files,
        Err(error) => {
            eprintln!("runnel-slt: {error}");
            return ExitCode::from(2);
        }
    };

    let mut failures = Vec::new();
    for file in &files {
        match run_file(&config, file).await {
            Ok(()) => println!("ok    {}", file.display()),
            Err(failure) => {
                println!("FAIL  {}", file.display());
                failures.push(failure);
            }
        }
    }

    if failures.is_empty() {
        println!("all {} .slt files passed", files.len());
        ExitCode::SUCCESS
    } else {
        let error = RunError::Failed {
            total: files.len(),
            failures,
        };
        eprintln!("\n{error}");
        ExitCode::FAILURE
    }
}
