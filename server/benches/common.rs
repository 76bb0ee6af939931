//! What the benches share: running a pipeline's SQL to its end and reading its counters.

use std::time::Instant;

use runnel_server::pipeline::{Mode, Pipeline};

/// One finished run.
struct Run {
    /// Wall time from the first statement to the end of the job.
    pub seconds: f64,
    /// Rows the source read.
    pub rows_in: u64,
    /// Rows the sink received.
    pub rows_out: u64,
}

/// Runs `sql` (tables and one `INSERT` job) as `runnel run` does, at `parallelism`, until the
/// job ends.
async fn run(sql: &str, parallelism: usize) -> Result<Run, String> {
    let mut pipeline = Pipeline::new(Mode::Run, parallelism);
    let mut no_output = |_: &_| -> Result<_, runnel_sql::SqlError> {
        Err(runnel_sql::SqlError::unsupported("the bench has no SELECT"))
    };
    let started = Instant::now();
    let errors = pipeline.execute(sql, &mut no_output).await;
    if let Some(first) = errors.first() {
        return Err(first.error.to_string());
    }
    let jobs = pipeline.jobs();
    pipeline.finish().await.map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let (_, counters) = jobs.first().ok_or("the bench started no job")?;
    let progress = runnel_server::job::progress(counters);
    Ok(Run {
        seconds,
        rows_in: progress.rows_in,
        rows_out: progress.rows_out,
    })
}

/// `RUNNEL_BENCH_EVENTS`, 10 M by default.
pub fn events() -> u64 {
    std::env::var("RUNNEL_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

/// Runs each named query (the names given after `--` select some) at parallelism 1 and 2,
/// checks that the source read `events`, and prints a line per run after `title`.
pub fn run_all<'a>(
    title: &str,
    queries: impl IntoIterator<Item = (&'a str, String)>,
    events: u64,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    println!(
        "{title}; {} worker threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<16} {:>11} {:>9} {:>12} {:>14} {:>14}",
        "query", "parallelism", "seconds", "rows out", "events/s", "events/s/core"
    );
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    for (name, sql) in queries {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        for parallelism in [1, 2] {
            let run = runtime
                .block_on(run(&sql, parallelism))
                .map_err(|e| format!("{name} at parallelism {parallelism}: {e}"))?;
            if run.rows_in != events {
                return Err(format!(
                    "{name}: read {} events, expected {events}",
                    run.rows_in
                ));
            }
            let rate = run.rows_in as f64 / run.seconds;
            println!(
                "{:<16} {:>11} {:>9.2} {:>12} {:>14.0} {:>14.0}",
                name,
                parallelism,
                run.seconds,
                run.rows_out,
                rate,
                rate / parallelism as f64
            );
        }
    }
    Ok(())
}
