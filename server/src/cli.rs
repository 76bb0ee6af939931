//! The `runnel` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::{ConfigOverrides, ServerConfig};
use crate::pipeline::output::OutputFormat;
use crate::pipeline::{Mode, Pipeline, report};
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
    /// Run the statements of a pipeline file: INSERT INTO jobs run until their bounded inputs
    /// end (or Ctrl-C), SELECT results are printed to stdout.
    Run(RunArgs),
    /// Parse, bind and plan every statement of a pipeline file without running anything.
    Check(CheckArgs),
    /// Run a benchmark suite.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// The benchmark suites.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The Nexmark queries over the built-in generator: events/s per query, peak memory, the
    /// planner's error for queries that cannot run, a correctness check and DataFusion's batch
    /// time for comparison.
    Nexmark(crate::bench::nexmark::NexmarkArgs),
}

/// Options of `runnel run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// Parallel instances of each keyed operator [default: number of cores].
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// How SELECT results are printed.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: OutputFormat,
    /// Log filter in `tracing` syntax [default: warn].
    #[arg(long, env = "RUNNEL_LOG")]
    pub log: Option<String>,
}

/// Options of `runnel check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The pipeline file.
    pub file: PathBuf,
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
    /// Time between two checkpoints of a job, e.g. `1s` or `500 ms` [default: 1s].
    #[arg(long, env = "RUNNEL_CHECKPOINT_INTERVAL")]
    pub checkpoint_interval: Option<String>,
    /// Memory the jobs' operator state may take before window state moves to the store, e.g.
    /// `512mb` or `2 gb` [default: 1gb].
    #[arg(long, env = "RUNNEL_STATE_MEMORY_BUDGET")]
    pub state_memory_budget: Option<String>,
    /// A TOML configuration file (keys: host, port, data_dir, log, checkpoint_interval,
    /// state_memory_budget).
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
        Command::Run(args) => run_file(args),
        Command::Check(args) => check_file(args),
        Command::Bench(BenchCommand::Nexmark(args)) => {
            init_logging("warn");
            crate::bench::nexmark::run(args)
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let overrides = ConfigOverrides {
        host: args.host,
        port: args.port,
        data_dir: args.data_dir,
        log: args.log,
        checkpoint_interval: args.checkpoint_interval,
        state_memory_budget: args.state_memory_budget,
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

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("runnel: cannot start the async runtime: {error}");
            None
        }
    }
}

fn read_file(path: &std::path::Path) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(error) => {
            eprintln!("runnel: cannot read {}: {error}", path.display());
            None
        }
    }
}

fn run_file(args: RunArgs) -> ExitCode {
    init_logging(args.log.as_deref().unwrap_or("warn"));
    let Some(source) = read_file(&args.file) else {
        return ExitCode::from(2);
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let parallelism = args.parallelism.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let file = args.file.display().to_string();
    let outcome = runtime.block_on(async {
        let mut pipeline = Pipeline::new(Mode::Run, parallelism);
        let mut stdout = crate::pipeline::stdout_results(args.format);
        let work = async {
            let errors = pipeline.execute(&source, &mut stdout).await;
            if let Some(error) = errors.into_iter().next() {
                return Err(report::render(&file, &source, &error.error));
            }
            let progress = crate::pipeline::progress::start(pipeline.jobs());
            let finished = pipeline.finish().await;
            drop(progress);
            finished.map_err(|e| report::render(&file, &source, &e))
        };
        tokio::select! {
            outcome = work => outcome,
            _ = tokio::signal::ctrl_c() => Err("runnel: interrupted; jobs stopped".to_string()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn check_file(args: CheckArgs) -> ExitCode {
    init_logging("warn");
    let Some(source) = read_file(&args.file) else {
        return ExitCode::from(2);
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let file = args.file.display().to_string();
    let errors = runtime.block_on(async {
        let mut pipeline = Pipeline::new(Mode::Check, 1);
        let mut stdout = crate::pipeline::stdout_results(OutputFormat::Csv);
        pipeline.execute(&source, &mut stdout).await
    });
    for error in &errors {
        eprintln!("{}", report::render(&file, &source, &error.error));
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn init_logging(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
