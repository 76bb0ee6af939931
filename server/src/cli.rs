//! The `runnel` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::{ConfigOverrides, ServerConfig};
use crate::server::Server;

/// Runnel: a streaming SQL engine you reach like a PostgreSQL database.
#[derive(Debug, Parser)]
#[command(name = "runnel", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the PostgreSQL wire protocol over the data directory.
    Serve(ServeArgs),
}

/// Options of `runnel serve`. Each can also come from the environment or a TOML file
/// (`--config`); a flag beats the environment, which beats the file, which beats the default.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long, env = "RUNNEL_HOST")]
    pub host: Option<String>,
    /// Port to listen on [default: 4566].
    #[arg(long, env = "RUNNEL_PORT")]
    pub port: Option<u16>,
    /// Directory holding the catalog and table data [default: ./runnel-data].
    #[arg(long, env = "RUNNEL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A TOML configuration file (keys: host, port, data_dir, log).
    #[arg(long, env = "RUNNEL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter in `tracing` syntax, e.g. `info` or `runnel_server=debug` [default: info].
    #[arg(long, env = "RUNNEL_LOG")]
    pub log: Option<String>,
}

/// Runs the command and maps the outcome to the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let overrides = ConfigOverrides {
        host: args.host,
        port: args.port,
        data_dir: args.data_dir,
        log: args.log,
    };
    let config = match ServerConfig::load(args.config.as_deref(), overrides) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("runnel: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("runnel: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let server = Server::start(config).await?;
        server.run_until_shutdown_signal().await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("runnel: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
