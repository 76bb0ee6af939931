//! What the benches share: running a pipeline's SQL to its end and reading its counters.

use std::time::Instant;

use runnel_server::pipeline::{Mode, Pipeline};

/// One finished run.
pub struct Run {
    /// Wall time from the first statement to the end of the job.
    pub seconds: f64,
    /// Rows the source read.
    pub rows_in: u64,
    /// Rows the sink received.
    pub rows_out: u64,
}

/// Runs `sql` (tables and one `INSERT` job) as `runnel run` does, at `parallelism`, until the
/// job ends.
pub async fn run(sql: &str, parallelism: usize) -> Result<Run, String> {
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

/// The header of the result table.
pub fn print_header() {
    println!(
        "{:<16} {:>11} {:>9} {:>12} {:>14} {:>14}",
        "query", "parallelism", "seconds", "rows out", "events/s", "events/s/core"
    );
}

/// One line of the result table.
pub fn print_run(name: &str, parallelism: usize, run: &Run) {
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

/// The query-name filters given after `--`.
pub fn filters() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect()
}
