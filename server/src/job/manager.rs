//! The server's running jobs: started by `CREATE MATERIALIZED VIEW` and `INSERT INTO` a
//! connector table, listed by `SHOW JOBS` and `runnel_catalog.jobs`, stopped by `DROP`.
//!
//! Each job is supervised by a task of its own that waits for it and records how it ended. A
//! job's failure (an error or a panic in one of its tasks) stops that job only: it is recorded
//! as `failed` with its error, and the server and every other job go on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use runnel_engine::stream::StreamError;
use runnel_engine::stream::message::WATERMARK_END;
use runnel_engine::stream::sink::SinkWriter;
use runnel_sql::streaming::StreamPlan;
use tokio::task::AbortHandle;

use super::{Checkpointing, Job, JobCounters, progress};
use runnel_engine::Store;
use runnel_engine::checkpoint::{JobKey, MemoryBudget};
use std::time::Duration;

/// How a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Its tasks are running.
    Running,
    /// Its bounded input ended and every result was written.
    Finished,
    /// A task failed; the job stopped.
    Failed(String),
    /// Stopped by `STOP JOB`.
    Stopped,
}

impl JobStatus {
    /// The status as the jobs table shows it.
    pub fn word(&self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Finished => "finished",
            JobStatus::Failed(_) => "failed",
            JobStatus::Stopped => "stopped",
        }
    }
}

struct Entry {
    name: String,
    target: String,
    source: String,
    started: SystemTime,
    counters: Arc<JobCounters>,
    status: Arc<Mutex<JobStatus>>,
    supervisor: AbortHandle,
    /// The job's key space, when it checkpoints.
    key: Option<JobKey>,
}

/// How long `STOP JOB` waits for a job's last checkpoint.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// Why `STOP JOB` could not stop a job.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    /// No job has this id.
    #[error("job {0} does not exist")]
    Unknown(u64),
    /// The job is not running.
    #[error("job {0} is not running (it is {1})")]
    NotRunning(u64, &'static str),
    /// The job does not checkpoint, so it cannot stop at one.
    #[error("job {0} does not checkpoint, so it cannot stop at a checkpoint")]
    NoCheckpoints(u64),
    /// The job could not complete its last checkpoint.
    #[error("job {0} could not stop at a checkpoint: {1}")]
    Checkpoint(u64, String),
}

/// The jobs of one server.
pub struct JobManager {
    parallelism: usize,
    /// Where jobs checkpoint and how often by default; `None`: jobs do not checkpoint (tests,
    /// `runnel run`).
    checkpoints: Option<(Arc<Store>, Duration)>,
    /// Memory the operators of checkpointed jobs may hold before they move state to the store.
    budget: Arc<MemoryBudget>,
    jobs: Mutex<BTreeMap<u64, Entry>>,
    next_id: Mutex<u64>,
}

impl std::fmt::Debug for JobManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobManager")
            .field("parallelism", &self.parallelism)
            .finish_non_exhaustive()
    }
}

impl Default for JobManager {
    fn default() -> Self {
        JobManager::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        )
    }
}

impl JobManager {
    /// A manager whose jobs run `parallelism` instances of each keyed operator.
    pub fn new(parallelism: usize) -> Self {
        JobManager {
            parallelism: parallelism.max(1),
            checkpoints: None,
            budget: Arc::new(MemoryBudget::new(crate::config::DEFAULT_MEMORY_BUDGET)),
            jobs: Mutex::new(BTreeMap::new()),
            next_id: Mutex::new(1),
        }
    }

    /// Jobs that ask for it checkpoint into `store`, every `interval` unless they set their own.
    pub fn with_checkpoints(mut self, store: Arc<Store>, interval: Duration) -> Self {
        self.checkpoints = Some((store, interval));
        self
    }

    /// Operators of checkpointed jobs hold at most about `bytes` of state in memory together
    /// (`state.memory-budget`); the rest is in the store.
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.budget = Arc::new(MemoryBudget::new(bytes));
        self
    }

    /// The memory budget shared by the operators of checkpointed jobs.
    pub fn memory_budget(&self) -> Arc<MemoryBudget> {
        self.budget.clone()
    }

    /// The store jobs checkpoint into and the default interval, if jobs checkpoint.
    pub fn checkpoints(&self) -> Option<(Arc<Store>, Duration)> {
        self.checkpoints.clone()
    }

    /// Records a job that already finished before this server started (a materialized view
    /// whose bounded input was done and durable): listed, nothing to run.
    pub fn record_finished(&self, name: String, target: String, source: String) -> u64 {
        let id = self.next_id();
        let supervisor = tokio::spawn(async {});
        lock(&self.jobs).insert(
            id,
            Entry {
                name,
                target,
                source,
                started: SystemTime::now(),
                counters: Arc::new(JobCounters::default()),
                status: Arc::new(Mutex::new(JobStatus::Finished)),
                supervisor: supervisor.abort_handle(),
                key: None,
            },
        );
        id
    }

    fn next_id(&self) -> u64 {
        let mut next = lock(&self.next_id);
        let id = *next;
        *next += 1;
        id
    }

    /// How many instances of each keyed operator a job runs.
    pub fn parallelism(&self) -> usize {
        self.parallelism
    }

    /// Starts `plan` writing to `sink` as a job named `name` that writes `target` (a
    /// materialized view or a sink table); `on_finished` runs when the job finished (its input
    /// ended and every result was written). Returns the job's id.
    pub fn start(
        &self,
        name: String,
        target: String,
        plan: &StreamPlan,
        sink: Box<dyn SinkWriter>,
        checkpointing: Option<Checkpointing>,
        on_finished: Option<Box<dyn FnOnce() + Send>>,
    ) -> Result<u64, StreamError> {
        let key = checkpointing.as_ref().map(|c| c.key.clone());
        let mut job = Job::start_checkpointed(plan, self.parallelism, sink, checkpointing)?;
        let counters = job.counters();
        let status = Arc::new(Mutex::new(JobStatus::Running));
        let recorded = status.clone();
        let id = self.next_id();
        let supervisor = tokio::spawn(async move {
            let outcome = job.wait().await;
            let status = match outcome {
                Ok(()) => {
                    if let Some(on_finished) = on_finished {
                        on_finished();
                    }
                    JobStatus::Finished
                }
                Err(error) => {
                    tracing::error!(job = id, %error, "job failed");
                    JobStatus::Failed(error.to_string())
                }
            };
            *lock(&recorded) = status;
        });
        tracing::info!(job = id, %name, "job started");
        lock(&self.jobs).insert(
            id,
            Entry {
                name,
                target,
                source: plan.source.table.name().to_string(),
                started: SystemTime::now(),
                counters,
                status,
                supervisor: supervisor.abort_handle(),
                key,
            },
        );
        Ok(id)
    }

    /// Stops and forgets every job writing or reading `target` (a materialized view or table
    /// that was dropped). Returns how many there were.
    pub fn stop_target(&self, target: &str) -> usize {
        let mut jobs = lock(&self.jobs);
        let doomed: Vec<u64> = jobs
            .iter()
            .filter(|(_, entry)| entry.target == target || entry.source == target)
            .map(|(id, _)| *id)
            .collect();
        for id in &doomed {
            if let Some(entry) = jobs.remove(id) {
                // Aborting the supervisor drops the job, which aborts its tasks and frees
                // their state.
                entry.supervisor.abort();
                tracing::info!(job = id, name = %entry.name, "job stopped");
            }
        }
        doomed.len()
    }

    /// Stops job `id`. With `at_checkpoint`, the job first completes one last checkpoint:
    /// its sources stop right after that epoch's barrier, and the job is torn down once the
    /// epoch is durable and its sink committed it; returns that epoch. Without it, the job's
    /// tasks are stopped at once (nothing is checkpointed). The job stays listed as `stopped`.
    pub async fn stop(&self, id: u64, at_checkpoint: bool) -> Result<Option<u64>, StopError> {
        let stopper = {
            let jobs = lock(&self.jobs);
            let entry = jobs.get(&id).ok_or(StopError::Unknown(id))?;
            let status = lock(&entry.status).clone();
            if status != JobStatus::Running {
                return Err(StopError::NotRunning(id, status.word()));
            }
            entry.counters.stopper.clone()
        };
        let epoch = match (at_checkpoint, stopper) {
            (false, _) => None,
            (true, None) => return Err(StopError::NoCheckpoints(id)),
            (true, Some(stopper)) => {
                let (reply, answer) = tokio::sync::oneshot::channel();
                // The coordinator is gone: the job ended, with the error its status tells.
                let gone = || {
                    let why = match self.status(id) {
                        Some(JobStatus::Failed(error)) => format!("the job failed: {error}"),
                        _ => "the job ended meanwhile".to_string(),
                    };
                    StopError::Checkpoint(id, why)
                };
                if stopper.send(reply).await.is_err() {
                    return Err(gone());
                }
                match tokio::time::timeout(STOP_TIMEOUT, answer).await {
                    Ok(Ok(Ok(epoch))) => Some(epoch),
                    Ok(Ok(Err(error))) => return Err(StopError::Checkpoint(id, error.to_string())),
                    Ok(Err(_)) => return Err(gone()),
                    Err(_) => {
                        return Err(StopError::Checkpoint(
                            id,
                            format!(
                                "its last checkpoint did not complete within {} s",
                                STOP_TIMEOUT.as_secs()
                            ),
                        ));
                    }
                }
            }
        };
        if let Some(entry) = lock(&self.jobs).get(&id) {
            entry.supervisor.abort();
            *lock(&entry.status) = JobStatus::Stopped;
        }
        tracing::info!(job = id, ?epoch, "job stopped");
        Ok(epoch)
    }

    /// The target (view or sink table) of job `id` and its key space (when it checkpoints),
    /// if the job exists.
    pub fn describe(&self, id: u64) -> Option<(String, Option<JobKey>)> {
        lock(&self.jobs)
            .get(&id)
            .map(|e| (e.target.clone(), e.key.clone()))
    }

    /// The status of job `id`, if it exists.
    pub fn status(&self, id: u64) -> Option<JobStatus> {
        lock(&self.jobs).get(&id).map(|e| lock(&e.status).clone())
    }

    /// The schema of [`JobManager::table`].
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("job_id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("status", DataType::Utf8, false),
            Field::new("source", DataType::Utf8, false),
            Field::new(
                "watermark",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
            Field::new("rows_in", DataType::Int64, false),
            Field::new("rows_out", DataType::Int64, false),
            Field::new("late_rows_dropped", DataType::Int64, false),
            Field::new("malformed_skipped", DataType::Int64, false),
            Field::new("checkpoint_epoch", DataType::Int64, true),
            Field::new("checkpoint_duration_ms", DataType::Int64, true),
            Field::new("checkpoint_bytes", DataType::Int64, true),
            Field::new(
                "started",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
            Field::new("error", DataType::Utf8, true),
        ]))
    }

    /// Every job with its status and live counters, one row each in id order.
    pub fn table(&self) -> RecordBatch {
        let jobs = lock(&self.jobs);
        let mut ids = Vec::with_capacity(jobs.len());
        let mut names = Vec::with_capacity(jobs.len());
        let mut statuses = Vec::with_capacity(jobs.len());
        let mut sources = Vec::with_capacity(jobs.len());
        let mut watermarks = Vec::with_capacity(jobs.len());
        let mut rows_in = Vec::with_capacity(jobs.len());
        let mut rows_out = Vec::with_capacity(jobs.len());
        let mut late = Vec::with_capacity(jobs.len());
        let mut skipped = Vec::with_capacity(jobs.len());
        let mut epochs = Vec::with_capacity(jobs.len());
        let mut durations = Vec::with_capacity(jobs.len());
        let mut sizes = Vec::with_capacity(jobs.len());
        let mut started = Vec::with_capacity(jobs.len());
        let mut errors = Vec::with_capacity(jobs.len());
        for (id, entry) in jobs.iter() {
            let status = lock(&entry.status).clone();
            let now = progress(&entry.counters);
            ids.push(*id as i64);
            names.push(entry.name.clone());
            statuses.push(status.word());
            sources.push(entry.source.clone());
            // The end of input moves the watermark to +infinity; that is no time to show.
            watermarks.push(now.watermark.filter(|w| *w != WATERMARK_END));
            rows_in.push(now.rows_in as i64);
            rows_out.push(now.rows_out as i64);
            late.push(now.late_rows as i64);
            skipped.push(now.malformed_skipped as i64);
            let checkpoints = entry
                .counters
                .checkpoints
                .as_ref()
                .filter(|c| c.epoch() > 0);
            epochs.push(checkpoints.map(|c| c.epoch() as i64));
            durations.push(checkpoints.map(|c| c.duration_ms() as i64));
            sizes.push(checkpoints.map(|c| c.bytes() as i64));
            started.push(
                entry
                    .started
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64),
            );
            errors.push(match status {
                JobStatus::Failed(error) => Some(error),
                _ => None,
            });
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(names)),
            Arc::new(StringArray::from(statuses)),
            Arc::new(StringArray::from(sources)),
            Arc::new(TimestampMillisecondArray::from(watermarks)),
            Arc::new(Int64Array::from(rows_in)),
            Arc::new(Int64Array::from(rows_out)),
            Arc::new(Int64Array::from(late)),
            Arc::new(Int64Array::from(skipped)),
            Arc::new(Int64Array::from(epochs)),
            Arc::new(Int64Array::from(durations)),
            Arc::new(Int64Array::from(sizes)),
            Arc::new(TimestampMillisecondArray::from(started)),
            Arc::new(StringArray::from(errors)),
        ];
        let schema = JobManager::schema();
        RecordBatch::try_new(schema.clone(), columns)
            .unwrap_or_else(|_| RecordBatch::new_empty(schema))
    }
}

impl Drop for JobManager {
    fn drop(&mut self) {
        for entry in lock(&self.jobs).values() {
            entry.supervisor.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
