//! `runnel bench nexmark`: the Nexmark suite over the built-in `nexmark` source.
//!
//! For each chosen query and parallelism it reports events per second (in total and per busy
//! core), wall time and peak memory of a `runnel run` of the query's file (a child process,
//! so the figures are the query's own), the planner's error for queries Runnel cannot run
//! yet, a correctness check at small scale (the streaming rows against the same query
//! written as plain DataFusion SQL over the materialized events), and DataFusion's time for
//! that batch query over the same events in memory, the practical upper bound. Output is a
//! Markdown table (stdout, or `--markdown`) and JSON (`--json`).

pub mod check;
pub mod reference;
pub mod report;
pub mod suite;
pub mod timing;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use check::Verdict;
use reference::Events;
use report::Row;
use suite::{Query, Workload};

/// Options of `runnel bench nexmark`.
#[derive(Debug, Args)]
pub struct NexmarkArgs {
    /// Queries to run (source, q0 ... q22, q5-window, q7-window, q8-window) [default: all].
    pub queries: Vec<String>,
    /// Events per timed run.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Events per second of event time (`first-event.rate` and `next-event.rate`); the
    /// generator emits as fast as the query takes them.
    #[arg(long, default_value_t = 10_000_000)]
    pub rate: u64,
    /// Parallelism of the runs, comma-separated [default: number of cores].
    #[arg(long, value_delimiter = ',')]
    pub parallelism: Vec<usize>,
    /// Check every query's results against its reference computation first.
    #[arg(long)]
    pub check: bool,
    /// Only check, no timed runs (the CI smoke test).
    #[arg(long)]
    pub check_only: bool,
    /// Events of the correctness check.
    #[arg(long, default_value_t = 100_000)]
    pub check_events: u64,
    /// Event rate of the correctness check: the default spreads 100 000 events over 10 s of
    /// event time, so that windows and sessions open and close.
    #[arg(long, default_value_t = 10_000)]
    pub check_rate: u64,
    /// Skip DataFusion's batch reference timings.
    #[arg(long)]
    pub no_reference: bool,
    /// Also write the Markdown table to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The `runnel` binary for the timed runs [default: this one].
    #[arg(long)]
    pub runnel: Option<PathBuf>,
}

/// Runs the benchmark; exits non-zero when a check fails or a query that plans fails to run.
pub fn run(args: NexmarkArgs) -> ExitCode {
    let queries = match select(&args.queries) {
        Ok(queries) => queries,
        Err(message) => {
            eprintln!("runnel bench nexmark: {message}");
            return ExitCode::from(2);
        }
    };
    let parallelisms = if args.parallelism.is_empty() {
        vec![
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        ]
    } else {
        args.parallelism.clone()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("runnel bench nexmark: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (rows, failed) = runtime.block_on(bench(&args, &queries, &parallelisms));
    let table = report::markdown(&rows);
    println!("{table}");
    if let Some(path) = &args.markdown
        && let Err(error) = std::fs::write(path, &table)
    {
        eprintln!(
            "runnel bench nexmark: cannot write {}: {error}",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    if let Some(path) = &args.json
        && let Err(error) = std::fs::write(path, report::json(&rows))
    {
        eprintln!(
            "runnel bench nexmark: cannot write {}: {error}",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    if failed {
        eprintln!(
            "runnel bench nexmark: some queries failed or gave wrong results (see the table)"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn select(names: &[String]) -> Result<Vec<Query>, String> {
    let all = suite::all();
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|q| q.name.eq_ignore_ascii_case(name))
                .copied()
                .ok_or_else(|| {
                    let known: Vec<&str> = all.iter().map(|q| q.name).collect();
                    format!("no query '{name}'; the suite has {}", known.join(", "))
                })
        })
        .collect()
}

/// The table's rows, and whether anything failed.
async fn bench(args: &NexmarkArgs, queries: &[Query], parallelisms: &[usize]) -> (Vec<Row>, bool) {
    let timed = Workload {
        events: args.events,
        rate: args.rate,
    };
    let checked = Workload {
        events: args.check_events,
        rate: args.check_rate,
    };
    let mut rows = Vec::new();
    let mut failed = false;
    let binary = match args.runnel.clone().map_or_else(std::env::current_exe, Ok) {
        Ok(binary) => binary,
        Err(error) => {
            eprintln!("runnel bench nexmark: cannot find the runnel binary: {error}");
            return (rows, true);
        }
    };
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("runnel bench nexmark: cannot create a temporary directory: {error}");
            return (rows, true);
        }
    };
    for &parallelism in parallelisms {
        let check_events = if args.check || args.check_only {
            eprintln!("generating {} events for the checks", checked.events);
            match Events::generate(&checked, parallelism).await {
                Ok(events) => Some(events),
                Err(error) => {
                    eprintln!("runnel bench nexmark: cannot generate the check's events: {error}");
                    return (rows, true);
                }
            }
        } else {
            None
        };
        let reference_events = if args.check_only || args.no_reference {
            None
        } else {
            eprintln!("generating {} events for the reference runs", timed.events);
            match Events::generate(&timed, parallelism).await {
                Ok(events) => Some(events),
                Err(error) => {
                    eprintln!(
                        "runnel bench nexmark: cannot generate the reference events: {error}"
                    );
                    return (rows, true);
                }
            }
        };
        for query in queries {
            let mut row = Row {
                query: query.name.to_string(),
                parallelism,
                events: if args.check_only {
                    checked.events
                } else {
                    timed.events
                },
                status: "ok".to_string(),
                reason: None,
                seconds: None,
                events_per_second: None,
                cores: None,
                events_per_second_per_core: None,
                peak_memory_mib: None,
                check: None,
                reference_events_per_second: None,
            };
            if let Some(error) = check::plan_error(query, &timed).await {
                row.status = "unsupported".to_string();
                row.reason = Some(error);
                eprintln!("{} p={parallelism}: unsupported", query.name);
                rows.push(row);
                continue;
            }
            if let Some(events) = &check_events {
                let verdict = check::check(query, &checked, parallelism, events).await;
                row.check = Some(match verdict {
                    Verdict::Same(rows) => format!("pass ({rows} rows)"),
                    Verdict::NoReference => "no reference".to_string(),
                    Verdict::Different(reason) => {
                        failed = true;
                        format!("FAIL: {reason}")
                    }
                });
                eprintln!(
                    "{} p={parallelism}: check {}",
                    query.name,
                    row.check.as_deref().unwrap_or("")
                );
            }
            if !args.check_only {
                let file = dir.path().join(format!("{}.sql", query.name));
                let measured = std::fs::write(&file, timed.pipeline(query))
                    .map_err(|e| e.to_string())
                    .and_then(|()| timing::run(&binary, &file, parallelism));
                match measured {
                    Ok(measured) => {
                        let seconds = measured.wall.as_secs_f64();
                        let rate = timed.events as f64 / seconds;
                        let cores = measured.cpu.as_secs_f64() / seconds;
                        row.seconds = Some(seconds);
                        row.events_per_second = Some(rate);
                        row.cores = Some(cores);
                        row.events_per_second_per_core = (cores > 0.0).then(|| rate / cores);
                        row.peak_memory_mib = Some(measured.peak_memory as f64 / (1 << 20) as f64);
                        eprintln!(
                            "{} p={parallelism}: {} events/s",
                            query.name,
                            report::rate(rate)
                        );
                    }
                    Err(error) => {
                        failed = true;
                        row.status = "failed".to_string();
                        row.reason = Some(error);
                    }
                }
                if let (Some(events), Some(sql), None) =
                    (&reference_events, query.reference, query.streamed_summary)
                {
                    match events.time(sql).await {
                        Ok(elapsed) => {
                            row.reference_events_per_second =
                                Some(timed.events as f64 / elapsed.as_secs_f64());
                        }
                        Err(error) => eprintln!("{}: reference failed: {error}", query.name),
                    }
                }
            }
            rows.push(row);
        }
    }
    (rows, failed)
}
