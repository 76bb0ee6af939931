//! Flink's `STOP JOB '<id>' [WITH SAVEPOINT]`.
//!
//! A durable INSERT job stops at a checkpoint: its sources stop right after one last barrier,
//! and the job is torn down once that epoch is durable and its sink committed it (an
//! exactly-once Kafka sink leaves no open transaction behind). `WITH SAVEPOINT` then writes the
//! job's state into a savepoint directory (`state.savepoints.dir`, by default `savepoints/` in
//! the data directory) and answers with its path; `SET 'execution.savepoint.path' = '<path>'`
//! before the same `INSERT` starts it from there. A stopped job is forgotten: it does not
//! resume at the next start. Other jobs stop at once.

use std::path::PathBuf;

use runnel_sql::flink::StopJob;
use runnel_sql::{SqlError, SqlState, ddl};

use super::Session;
use super::execute::{Executed, Notice};
use super::insert_jobs::{forget, record_of};
use super::rows;
use super::streaming::view_job_key;
use crate::job::savepoint::{self, FORMAT_VERSION, SavepointMeta};
use crate::job::{JobStatus, StopError};

/// Flink's session setting of where savepoints go.
pub const SAVEPOINTS_DIR: &str = "state.savepoints.dir";

/// The column `STOP JOB ... WITH SAVEPOINT` answers with.
pub const SAVEPOINT_COLUMN: &str = "savepoint_path";

fn not_ready(message: String) -> SqlError {
    SqlError::new(SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE, message)
}

impl Session {
    /// Runs `STOP JOB`.
    pub(super) async fn stop_job(&self, stop: &StopJob) -> Result<Executed, SqlError> {
        let id = stop.id;
        let Some((target, key)) = self.jobs.describe(id) else {
            return Err(SqlError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("job {id} does not exist; SHOW JOBS lists the jobs"),
            ));
        };
        if key.as_ref() == Some(&view_job_key(&target)) {
            return Err(not_ready(format!(
                "job {id} keeps materialized view \"{target}\" up to date: DROP MATERIALIZED VIEW stops it (a view's state stays in the data directory across restarts and upgrades)"
            )));
        }
        let store = self.jobs.checkpoints().map(|(store, _)| store);
        let record = match (&store, &key) {
            (Some(store), Some(key)) => record_of(store, key)?,
            _ => None,
        };
        if stop.savepoint
            && let Some(status) = self.jobs.status(id).filter(|s| *s != JobStatus::Running)
        {
            return Err(not_ready(format!(
                "job {id} is not running (it is {}), so it cannot stop with a savepoint",
                status.word()
            )));
        }
        if stop.savepoint && record.is_none() {
            return Err(not_ready(format!(
                "job {id} does not checkpoint (its sink does not take part in checkpoints), so it cannot stop with a savepoint"
            )));
        }
        let mut notices = Vec::new();
        let epoch =
            match self.jobs.stop(id, record.is_some()).await {
                Ok(epoch) => epoch,
                Err(StopError::Checkpoint(_, why)) if !stop.savepoint => {
                    // Stopping matters more than the last checkpoint: stop at once.
                    self.jobs
                        .stop(id, false)
                        .await
                        .map_err(|e| not_ready(e.to_string()))?;
                    notices.push(Notice::warning("01000", format!(
                    "job {id} could not stop at a checkpoint ({why}); it was stopped at once"
                )));
                    None
                }
                Err(StopError::NotRunning(_, status)) if !stop.savepoint => {
                    // A failed durable job would be tried again at the next start: no more.
                    if let (Some(store), Some((record, _, _))) = (&store, &record) {
                        forget(store, *record);
                    }
                    let mut executed = Executed::command("STOP JOB");
                    executed.notices.push(Notice::info(format!(
                        "job {id} had already ended ({status}); it will not be resumed"
                    )));
                    return Ok(executed);
                }
                Err(error @ StopError::Unknown(_)) => {
                    return Err(SqlError::new(SqlState::UNDEFINED_OBJECT, error.to_string()));
                }
                Err(error) => return Err(not_ready(error.to_string())),
            };
        let (Some(store), Some(key), Some((record, sql, plan))) = (store, key, record) else {
            let mut executed = Executed::command("STOP JOB");
            executed.notices = notices;
            return Ok(executed);
        };
        let written = if stop.savepoint {
            let dir = match self.settings().get(SAVEPOINTS_DIR) {
                Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
                _ => store.path().join("savepoints"),
            };
            let meta = SavepointMeta {
                format: FORMAT_VERSION,
                state_version: runnel_engine::checkpoint::STATE_VERSION,
                epoch: epoch.unwrap_or(0),
                sql,
                plan,
                runnel_version: crate::VERSION.to_string(),
            };
            let store = store.clone();
            let name = record.to_string();
            let path = tokio::task::spawn_blocking(move || {
                savepoint::write(&store, &key, &dir, &name, &meta)
            })
            .await
            .map_err(|e| SqlError::new(SqlState::INTERNAL_ERROR, e.to_string()))?
            .map_err(|e| {
                SqlError::new(
                    SqlState::IO_ERROR,
                    format!("job {id} stopped, but its savepoint could not be written: {e}"),
                )
            });
            Some(path)
        } else {
            None
        };
        match written {
            // Keep the state while the savepoint could not be written: the job resumes from it
            // at the next start instead.
            Some(Err(error)) => Err(error),
            Some(Ok(path)) => {
                forget(&store, record);
                Ok(rows(
                    "STOP JOB",
                    ddl::string_batch(&[SAVEPOINT_COLUMN], vec![vec![path.display().to_string()]]),
                ))
            }
            None => {
                forget(&store, record);
                let mut executed = Executed::command("STOP JOB");
                executed.notices = notices;
                Ok(executed)
            }
        }
    }
}
