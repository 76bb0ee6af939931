//! Durable `INSERT INTO <sink> SELECT ...` jobs.
//!
//! When the server checkpoints and the sink takes part in checkpoints (every connector but
//! `filesystem`, see [`runnel_connectors::sink_checkpoints`]), an INSERT job is recorded in the
//! store with its statement text and checkpoints like a materialized view's job. After a
//! restart (a crash included) each recorded job is planned again and resumed from its last
//! durable epoch; an exactly-once Kafka sink settles its last transaction first. A job whose
//! input ended is forgotten once its last epoch is durable and committed to its sink.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use datafusion::execution::SessionState;
use datafusion::sql::sqlparser::ast::{Statement, TableObject};
use runnel_engine::checkpoint::{JobKey, Recovered, StateEntries};
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::{SinkJob, SinkWriter};
use runnel_engine::{Store, StoreWrite};
use runnel_sql::catalog::CatalogObject;
use runnel_sql::streaming::{StreamPlan, StreamTable};
use runnel_sql::{Catalog, SqlError, SqlState, ddl};
use serde::{Deserialize, Serialize};

use crate::job::planning::{open_sink_writer, plan_insert};
use crate::job::{Checkpointing, JobManager, job_error, savepoint};

/// Flink's session setting of the savepoint a new job starts from.
pub const SAVEPOINT_PATH: &str = "execution.savepoint.path";

/// Prefix of the job records in the store's state column family.
const RECORDS: &[u8] = b"insert/";
/// The catalog counter of INSERT job records.
const NEXT_RECORD: &str = "next_insert_job";

/// What the store keeps of a durable INSERT job.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct InsertRecord {
    /// The `INSERT` statement.
    sql: String,
    /// The sink table.
    target: String,
    /// The source table.
    source: String,
    /// The job's checkpoint interval in milliseconds.
    interval_ms: u64,
    /// The job's operator plan (as `EXPLAIN` shows it), kept in its savepoints.
    #[serde(default)]
    plan: String,
}

fn record_key(id: u64) -> Vec<u8> {
    [RECORDS, &id.to_be_bytes()].concat()
}

/// The key space of durable INSERT job `id`.
pub fn insert_job_key(id: u64) -> JobKey {
    JobKey::new(&format!("insert:{id}"))
}

/// A durable INSERT job's record, by its key space: its id, statement and plan.
pub(super) fn record_of(
    store: &Store,
    key: &JobKey,
) -> Result<Option<(u64, String, String)>, SqlError> {
    Ok(load_records(store)
        .map_err(|e| state_error("INSERT jobs", e))?
        .into_iter()
        .find(|(id, _)| insert_job_key(*id) == *key)
        .map(|(id, record)| (id, record.sql, record.plan)))
}

/// What the sink of durable job `id` knows of it.
fn sink_job(id: u64, interval: Duration) -> SinkJob {
    SinkJob {
        interval,
        name: id.to_string(),
    }
}

/// Serializes the allocation of record ids (read the counter, store the record).
fn lock_allocation() -> std::sync::MutexGuard<'static, ()> {
    static ALLOCATION: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ALLOCATION
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn state_error(what: &str, error: impl std::fmt::Display) -> SqlError {
    SqlError::new(
        SqlState::INTERNAL_ERROR,
        format!("{what}: cannot use its checkpointed state: {error}"),
    )
}

/// Deletes record `id` and everything its job checkpointed.
pub(super) fn forget(store: &Store, id: u64) {
    let mut write = StoreWrite::default();
    write.delete_state(record_key(id));
    write.delete_state_prefix(insert_job_key(id).prefix().to_vec());
    if let Err(error) = store.commit(write) {
        tracing::warn!(record = id, %error, "cannot delete the state of an INSERT job");
    }
}

/// Starts `INSERT` statement `sql` (planned as `plan`, writing `sink`) as a background job.
/// It checkpoints every `interval` (the server's default when `None`) and is resumed after a
/// restart when the server checkpoints and the sink takes part; otherwise it runs for the
/// server's lifetime. With `savepoint`, the job starts from the state in that savepoint
/// directory (its plan must be the same). Returns the job's id.
pub fn start_insert_job(
    jobs: &JobManager,
    plan: &StreamPlan,
    sink: &StreamTable,
    sql: &str,
    interval: Option<Duration>,
    savepoint: Option<&Path>,
) -> Result<u64, SqlError> {
    let name = sink.name().to_string();
    let job_name = format!("INSERT INTO {name}");
    let checkpoints = jobs
        .checkpoints()
        .filter(|_| runnel_connectors::sink_checkpoints(sink.options()));
    let Some((store, default_interval)) = checkpoints else {
        if savepoint.is_some() {
            return Err(SqlError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "'{SAVEPOINT_PATH}' is set, but an INSERT into \"{name}\" does not checkpoint, so it cannot start from a savepoint"
                ),
            ));
        }
        let writer = open_sink_writer(sink, None)?;
        return jobs
            .start(job_name, name.clone(), plan, writer, None, None)
            .map_err(|e| job_error(&name, e));
    };
    let interval = interval.unwrap_or(default_interval);
    // One allocation of a record id at a time.
    let _allocating = lock_allocation();
    let id = store
        .meta_u64(NEXT_RECORD)
        .map_err(|e| state_error(&job_name, e))?
        .unwrap_or(1);
    let writer = open_sink_writer(sink, Some(&sink_job(id, interval)))?;
    let record = InsertRecord {
        sql: sql.to_string(),
        target: name.clone(),
        source: plan.source.table.name().to_string(),
        interval_ms: interval.as_millis() as u64,
        plan: plan.description().join("\n"),
    };
    let restored = match savepoint {
        Some(path) => {
            let (meta, entries) = savepoint::read(path).map_err(|e| {
                SqlError::new(SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE, e.to_string())
            })?;
            if meta.plan != record.plan {
                return Err(SqlError::new(
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!(
                        "savepoint {} was taken from a job with another plan; a job resumes from a savepoint only with the same plan.\nsavepoint's plan:\n{}\nthis job's plan:\n{}",
                        path.display(),
                        meta.plan,
                        record.plan
                    ),
                ));
            }
            Some(entries)
        }
        None => None,
    };
    let mut write = StoreWrite::default();
    write.put_meta_u64(NEXT_RECORD, id + 1);
    write.put_state(
        record_key(id),
        serde_json::to_vec(&record).map_err(|e| state_error(&job_name, e))?,
    );
    // Nothing of an earlier job under this key may leak into this one.
    let key = insert_job_key(id);
    write.delete_state_prefix(key.prefix().to_vec());
    let from_savepoint = restored.is_some();
    if let Some(entries) = restored {
        savepoint::restore_into(&mut write, &key, entries);
    }
    store.commit(write).map_err(|e| state_error(&job_name, e))?;
    let recovered = if from_savepoint {
        Recovered::load(&store, &key).map_err(|e| {
            forget(&store, id);
            state_error(&job_name, e)
        })?
    } else {
        None
    };
    start_recorded(jobs, &store, id, &name, plan, writer, interval, recovered).map_err(|e| {
        forget(&store, id);
        job_error(&name, e)
    })
}

/// Starts durable job `id` writing `target`, checkpointing into `store` every `interval` from
/// `recovered` (if it resumes); its record and state are forgotten when it finishes.
#[allow(clippy::too_many_arguments)]
fn start_recorded(
    jobs: &JobManager,
    store: &Arc<Store>,
    id: u64,
    target: &str,
    plan: &StreamPlan,
    writer: Box<dyn SinkWriter>,
    interval: Duration,
    recovered: Option<Recovered>,
) -> Result<u64, StreamError> {
    let checkpointing = Checkpointing {
        store: store.clone(),
        key: insert_job_key(id),
        interval,
        recovered,
        budget: jobs.memory_budget(),
    };
    let finished_store = store.clone();
    jobs.start(
        format!("INSERT INTO {target}"),
        target.to_string(),
        plan,
        writer,
        Some(checkpointing),
        Some(Box::new(move || forget(&finished_store, id))),
    )
}

/// Forgets the durable INSERT jobs that write or read a dropped table (their jobs were
/// stopped with it).
pub fn forget_insert_jobs_of(jobs: &JobManager, dropped: &[String]) {
    let Some((store, _)) = jobs.checkpoints() else {
        return;
    };
    let records = match load_records(&store) {
        Ok(records) => records,
        Err(error) => {
            tracing::warn!(%error, "cannot read the INSERT job records");
            return;
        }
    };
    for (id, record) in records {
        if dropped
            .iter()
            .any(|name| *name == record.target || *name == record.source)
        {
            forget(&store, id);
        }
    }
}

fn load_records(store: &Store) -> Result<Vec<(u64, InsertRecord)>, String> {
    let mut records = Vec::new();
    for (key, value) in store.state_entries(RECORDS).map_err(|e| e.to_string())? {
        let id: [u8; 8] = key
            .as_slice()
            .try_into()
            .map_err(|_| "an INSERT job record has a malformed key".to_string())?;
        let record: InsertRecord = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
        records.push((u64::from_be_bytes(id), record));
    }
    Ok(records)
}

/// Resumes every recorded INSERT job from its last durable epoch (after the catalog was
/// restored). Returns the jobs that could not resume, with why.
pub async fn restart_insert_jobs(
    catalog: &Catalog,
    jobs: &JobManager,
    state: &SessionState,
) -> Vec<(String, SqlError)> {
    let Some((store, default_interval)) = jobs.checkpoints() else {
        return Vec::new();
    };
    let records = match load_records(&store) {
        Ok(records) => records,
        Err(error) => {
            return vec![(
                "INSERT jobs".to_string(),
                SqlError::new(SqlState::INTERNAL_ERROR, error),
            )];
        }
    };
    let mut failures = Vec::new();
    for (id, record) in records {
        let job_name = format!("INSERT INTO {}", record.target);
        if let Err(error) =
            restart_one(catalog, jobs, state, &store, default_interval, id, &record).await
        {
            failures.push((job_name, error));
        }
    }
    failures
}

async fn restart_one(
    catalog: &Catalog,
    jobs: &JobManager,
    state: &SessionState,
    store: &Arc<Store>,
    default_interval: Duration,
    id: u64,
    record: &InsertRecord,
) -> Result<(), SqlError> {
    let job_name = format!("INSERT INTO {}", record.target);
    let mut statements = runnel_sql::parse_statements(&record.sql)?;
    let parsed = statements
        .pop()
        .ok_or_else(|| SqlError::new(SqlState::INTERNAL_ERROR, "empty INSERT job record"))?;
    let map = parsed.text_map();
    let Statement::Insert(insert) = &parsed.statement else {
        return Err(SqlError::new(
            SqlState::INTERNAL_ERROR,
            "an INSERT job record holds another statement",
        ));
    };
    let TableObject::TableName(name) = &insert.table else {
        return Err(SqlError::new(
            SqlState::INTERNAL_ERROR,
            "an INSERT job record names no table",
        ));
    };
    let name = ddl::object_name(name, &map)?;
    let Some(CatalogObject::ConnectorTable { table: sink, .. }) = catalog.get(&name) else {
        return Err(SqlError::new(
            SqlState::UNDEFINED_TABLE,
            format!("the sink table \"{name}\" of a stored INSERT job no longer exists"),
        ));
    };
    let plan = plan_insert(state, insert, &sink, &parsed.windows, &map).await?;
    let key = insert_job_key(id);
    let recovered = Recovered::load(store, &key).map_err(|e| state_error(&job_name, e))?;
    let interval = recovered
        .as_ref()
        .and_then(Recovered::interval)
        .or(Some(Duration::from_millis(record.interval_ms)).filter(|i| !i.is_zero()))
        .unwrap_or(default_interval);
    let mut writer = open_sink_writer(&sink, Some(&sink_job(id, interval)))?;
    if let Some(recovered) = recovered.as_ref().filter(|r| r.meta.finished) {
        // The input ended and its last epoch is durable: only the sink's last commit may be
        // missing.
        let entries = if writer.reads_its_state() {
            StateEntries::new(
                store
                    .state_entries(&key.sink())
                    .map_err(|e| state_error(&job_name, e))?,
            )
        } else {
            StateEntries::default()
        };
        writer
            .recover(recovered.meta.epoch, &entries)
            .await
            .map_err(|e| job_error(&record.target, e))?;
        writer
            .finish()
            .await
            .map_err(|e| job_error(&record.target, e))?;
        forget(store, id);
        jobs.record_finished(job_name, record.target.clone(), record.source.clone());
        return Ok(());
    }
    start_recorded(
        jobs,
        store,
        id,
        &record.target,
        &plan,
        writer,
        interval,
        recovered,
    )
    .map_err(|e| job_error(&record.target, e))?;
    Ok(())
}
