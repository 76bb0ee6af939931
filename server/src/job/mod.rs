//! Streaming jobs: a planned query running as tasks, from its source's splits to a sink.
//!
//! [`Job::start`] opens the source's splits through the connector registry and spawns the
//! tasks ([`graph`]); [`Job::wait`] resolves when the input ended and the sink finished, or with
//! the first error (every other task is then stopped). Dropping a job cancels it.

mod conform;
pub mod graph;
#[cfg(test)]
mod idle_tests;
pub mod manager;
pub mod planning;
#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod recovery_tests;
pub mod savepoint;

use std::sync::Arc;

use runnel_connectors::registry;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::message::WATERMARK_MIN;
use runnel_engine::stream::sink::SinkWriter;
use runnel_sql::streaming::StreamPlan;
use tokio::task::JoinSet;

pub use conform::Conform;
pub use graph::{Checkpointing, JobCounters};
pub use manager::{JobManager, JobStatus, StopError};

/// A running streaming job.
pub struct Job {
    counters: Arc<JobCounters>,
    tasks: JoinSet<Result<(), StreamError>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

/// A snapshot of a job's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Rows read from the source.
    pub rows_in: u64,
    /// Rows emitted.
    pub rows_out: u64,
    /// Late rows dropped.
    pub late_rows: u64,
    /// Malformed source records skipped (`ignore-parse-errors`).
    pub malformed_skipped: u64,
    /// The source watermark in epoch milliseconds, if one has been reached.
    pub watermark: Option<i64>,
}

impl Job {
    /// Opens the source of `plan` and starts the job writing to `sink`. Must be called inside
    /// a tokio runtime.
    pub fn start(
        plan: &StreamPlan,
        parallelism: usize,
        sink: Box<dyn SinkWriter>,
    ) -> Result<Job, StreamError> {
        Job::start_checkpointed(plan, parallelism, sink, None)
    }

    /// [`Job::start`] for a job that checkpoints (and resumes from its last durable epoch when
    /// `checkpointing` carries one: sources seek to the recorded positions).
    pub fn start_checkpointed(
        plan: &StreamPlan,
        parallelism: usize,
        sink: Box<dyn SinkWriter>,
        checkpointing: Option<graph::Checkpointing>,
    ) -> Result<Job, StreamError> {
        let table = &plan.source.table;
        let resume = checkpointing
            .as_ref()
            .and_then(|c| c.recovered.as_ref())
            .map(|r| r.positions());
        let source = registry::open_source(
            table.options(),
            &table.physical_schema,
            parallelism.max(1),
            resume.as_ref(),
        )
        .map_err(|e| StreamError::Source(format!("table \"{}\": {e}", table.name())))?;
        let mut tasks = JoinSet::new();
        let mut counters = graph::spawn(
            plan,
            source.splits,
            parallelism,
            sink,
            source.idle_timeout,
            checkpointing,
            &mut tasks,
        )?;
        counters.malformed_skipped = source.skipped;
        Ok(Job {
            counters: Arc::new(counters),
            tasks,
        })
    }

    /// The live counters.
    pub fn counters(&self) -> Arc<JobCounters> {
        self.counters.clone()
    }

    /// Waits until the job finished; the first failure stops the rest.
    pub async fn wait(&mut self) -> Result<(), StreamError> {
        while let Some(outcome) = self.tasks.join_next().await {
            let failure = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error),
                Err(join) if join.is_panic() => Some(StreamError::Internal(format!(
                    "a task of the job panicked: {join}"
                ))),
                Err(_) => None,
            };
            if let Some(error) = failure {
                self.tasks.abort_all();
                return Err(error);
            }
        }
        Ok(())
    }

    /// Stops every task.
    pub fn cancel(&mut self) {
        self.tasks.abort_all();
    }
}

/// A job's failure as the SQL error a client or a pipeline file sees.
pub fn job_error(name: &str, error: StreamError) -> runnel_sql::SqlError {
    runnel_sql::SqlError::new(
        runnel_sql::SqlState::INTERNAL_ERROR,
        format!("job {name} failed: {error}"),
    )
}

/// Progress read from `counters`.
pub fn progress(counters: &JobCounters) -> Progress {
    let watermark = counters.source.watermark();
    Progress {
        rows_in: counters.source.rows(),
        rows_out: counters.output.rows(),
        late_rows: counters.late_rows(),
        malformed_skipped: counters
            .malformed_skipped
            .load(std::sync::atomic::Ordering::Relaxed),
        watermark: (watermark != WATERMARK_MIN).then_some(watermark),
    }
}
