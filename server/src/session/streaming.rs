//! Streaming statements in a session: queries over connector tables, `EXPLAIN` of them,
//! `INSERT INTO` a sink table, Flink `CREATE TABLE` and `CREATE MATERIALIZED VIEW`.
//!
//! - A `SELECT` over a connector table runs as a job whose rows stream to the client as its
//!   windows fire; the statement ends when the input ends (bounded sources) or when the client
//!   cancels it. Closing the result stream stops the job.
//! - `INSERT INTO sink SELECT ...` and `CREATE MATERIALIZED VIEW` start background jobs owned by
//!   the server's [`JobManager`]; they outlive the session.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::sqlparser::ast::{CreateView, Statement, TableObject};
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::SinkWriter;
use runnel_sql::catalog::CatalogObject;
use runnel_sql::catalog::object::ObjectKind;
use runnel_sql::parser::ParsedStatement;
use runnel_sql::streaming::{StreamPlan, StreamTable};
use runnel_sql::{Catalog, SqlError, SqlState, ddl};
use tokio::sync::mpsc;

use std::time::Duration;

use runnel_engine::StoreWrite;
use runnel_engine::checkpoint::{JobKey, Recovered, StateEntries};
use runnel_engine::table::snapshot::SnapshotTable;

use super::execute::{Executed, Notice, Outcome};
use super::insert_jobs::{SAVEPOINT_PATH, forget_insert_jobs_of, start_insert_job};
use super::{Session, rows};
use crate::job::planning::{bind_connector_table, plan_insert, plan_stream, validate_source};
use crate::job::{Checkpointing, Job, JobManager, job_error};

/// The session setting (Flink's name) of a job's checkpoint interval.
pub const CHECKPOINT_INTERVAL: &str = "execution.checkpointing.interval";

/// A statement that runs as (or explains) a streaming job.
#[derive(Debug, Clone)]
pub enum StreamStatement {
    /// A query over a connector table; its rows stream to the client.
    Select(Arc<StreamPlan>),
    /// `EXPLAIN` of such a query.
    Explain(Arc<StreamPlan>),
    /// `INSERT INTO sink SELECT ...`: a background job.
    Insert {
        /// The query.
        plan: Arc<StreamPlan>,
        /// The sink table.
        sink: Arc<StreamTable>,
        /// The statement's text (a durable job is recorded with it).
        sql: String,
    },
}

impl StreamStatement {
    /// The rows the statement returns, for Describe.
    pub fn result_schema(&self) -> Option<SchemaRef> {
        match self {
            StreamStatement::Select(plan) => Some(plan.schema.clone()),
            StreamStatement::Explain(_) => Some(Arc::new(Schema::new(vec![Field::new(
                "plan",
                datafusion::arrow::datatypes::DataType::Utf8,
                false,
            )]))),
            StreamStatement::Insert { .. } => None,
        }
    }
}

/// The plan of a materialized view's query, checked like a source read by a job.
pub async fn plan_materialized_view(
    state: &datafusion::execution::SessionState,
    create: &CreateView,
    parsed: &ParsedStatement,
) -> Result<StreamPlan, SqlError> {
    let map = parsed.text_map();
    let mut plan = plan_stream(state, &create.query, &parsed.windows, &map)
        .await?
        .ok_or_else(|| {
            SqlError::unsupported(
                "a materialized view is kept up to date by a streaming job, so its query must read a connector table; for a query over tables and views use CREATE VIEW",
            )
            .at(map.position(1, 1))
        })?;
    if !create.columns.is_empty() {
        if create.columns.len() != plan.schema.fields().len() {
            return Err(SqlError::new(
                SqlState::SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION,
                format!(
                    "CREATE MATERIALIZED VIEW names {} columns but its query produces {}",
                    create.columns.len(),
                    plan.schema.fields().len()
                ),
            )
            .at(map.position(1, 1)));
        }
        let fields: Vec<Field> = plan
            .schema
            .fields()
            .iter()
            .zip(&create.columns)
            .map(|(field, column)| field.as_ref().clone().with_name(column.name.value.clone()))
            .collect();
        plan.schema = Arc::new(Schema::new(fields));
    }
    validate_source(&plan, &map)?;
    Ok(plan)
}

/// The key space of materialized view `name`'s job in the store.
pub fn view_job_key(name: &str) -> JobKey {
    JobKey::new(&format!("view:{name}"))
}

/// Starts the job of materialized view `name` (whose query is `plan`) publishing into the
/// view's table.
///
/// When the server checkpoints, the job checkpoints every `interval` (the server's default when
/// `None`). With `resume`, a view whose job has a durable epoch gets that epoch's rows back at
/// once and its job continues from there (a finished job is only listed); otherwise the view
/// starts empty and its job from the beginning of its input.
/// The view's query must still give the columns the view was created with: a view stored by
/// an older Runnel whose query now plans to other types (window bounds over TIMESTAMP_LTZ
/// columns became TIMESTAMP(3)) is refused with the column, instead of failing at its first
/// rows.
fn check_view_columns(name: &str, stored: &Schema, planned: &Schema) -> Result<(), SqlError> {
    let mismatch = stored
        .fields()
        .iter()
        .zip(planned.fields().iter())
        .find(|(s, p)| s.data_type() != p.data_type());
    if stored.fields().len() != planned.fields().len() || mismatch.is_some() {
        let detail = match mismatch {
            Some((s, p)) => format!(
                "column \"{}\" is {} in the view but {} from its query",
                s.name(),
                s.data_type(),
                p.data_type()
            ),
            None => format!(
                "the view has {} columns but its query gives {}",
                stored.fields().len(),
                planned.fields().len()
            ),
        };
        return Err(SqlError::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "materialized view \"{name}\" was created by an older Runnel and its query now gives other columns ({detail}); DROP it and CREATE it again"
            ),
        ));
    }
    Ok(())
}

pub fn start_view_job(
    catalog: &Catalog,
    jobs: &JobManager,
    name: &str,
    plan: &StreamPlan,
    resume: bool,
    interval: Option<Duration>,
) -> Result<u64, SqlError> {
    let Some(CatalogObject::MaterializedView { table, .. }) = catalog.get(name) else {
        return Err(SqlError::new(
            SqlState::UNDEFINED_TABLE,
            format!("materialized view \"{name}\" does not exist"),
        ));
    };
    check_view_columns(name, table.schema(), &plan.schema)?;
    let job_name = format!("materialized view {name}");
    let Some((store, default_interval)) = jobs.checkpoints() else {
        table.clear();
        return jobs
            .start(
                job_name,
                name.to_string(),
                plan,
                Box::new(table.writer()),
                None,
                None,
            )
            .map_err(|e| job_error(name, e));
    };
    let key = view_job_key(name);
    let state_error = |e: &dyn std::fmt::Display| {
        SqlError::new(
            SqlState::INTERNAL_ERROR,
            format!("materialized view \"{name}\": cannot read its checkpointed state: {e}"),
        )
    };
    let recovered = if resume {
        Recovered::load(&store, &key).map_err(|e| state_error(&e))?
    } else {
        // A new view: nothing of an earlier view of the same name may leak into it.
        let mut write = StoreWrite::default();
        write.delete_state_prefix(key.prefix().to_vec());
        store.commit(write).map_err(|e| state_error(&e))?;
        None
    };
    match &recovered {
        Some(recovered) => {
            let entries = store
                .state_entries(&key.sink())
                .map_err(|e| state_error(&e))?;
            let rows = SnapshotTable::decode_segments(&StateEntries::new(entries))
                .map_err(|e| state_error(&e))?;
            table.restore(rows).map_err(|e| state_error(&e))?;
            if recovered.meta.finished {
                return Ok(jobs.record_finished(
                    job_name,
                    name.to_string(),
                    plan.source.table.name().to_string(),
                ));
            }
        }
        None => table.clear(),
    }
    let interval = recovered
        .as_ref()
        .and_then(Recovered::interval)
        .or(interval)
        .unwrap_or(default_interval);
    let checkpointing = Checkpointing {
        store,
        key,
        interval,
        recovered,
        budget: jobs.memory_budget(),
    };
    jobs.start(
        job_name,
        name.to_string(),
        plan,
        Box::new(table.checkpointed_writer()),
        Some(checkpointing),
        None,
    )
    .map_err(|e| job_error(name, e))
}

/// Deletes what the job of materialized view `name` checkpointed (the view was dropped).
pub fn forget_view_state(jobs: &JobManager, name: &str) {
    if let Some((store, _)) = jobs.checkpoints() {
        let mut write = StoreWrite::default();
        write.delete_state_prefix(view_job_key(name).prefix().to_vec());
        if let Err(error) = store.commit(write) {
            tracing::warn!(view = name, %error, "cannot delete the state of a dropped materialized view");
        }
    }
}

/// Restarts the jobs of every stored materialized view (after the catalog was restored), each
/// from its last durable epoch.
pub async fn restart_materialized_views(
    catalog: &Catalog,
    jobs: &JobManager,
    state: &datafusion::execution::SessionState,
) -> Vec<(String, SqlError)> {
    let mut failures = Vec::new();
    for object in catalog.objects() {
        let CatalogObject::MaterializedView { def, .. } = object else {
            continue;
        };
        let result = async {
            let mut statements = runnel_sql::parse_statements(&def.definition)?;
            let parsed = statements.pop().ok_or_else(|| {
                SqlError::new(
                    SqlState::INTERNAL_ERROR,
                    "empty materialized view definition",
                )
            })?;
            let Statement::CreateView(create) = &parsed.statement else {
                return Err(SqlError::new(
                    SqlState::INTERNAL_ERROR,
                    "a stored materialized view is not CREATE MATERIALIZED VIEW",
                ));
            };
            let plan = plan_materialized_view(state, create, &parsed).await?;
            start_view_job(catalog, jobs, &def.name, &plan, true, None)
        }
        .await;
        if let Err(error) = result {
            failures.push((def.name.clone(), error));
        }
    }
    failures
}

impl Session {
    /// Plans `parsed` if it is a streaming statement.
    pub(super) async fn prepare_stream(
        &self,
        parsed: &ParsedStatement,
    ) -> Result<Option<StreamStatement>, SqlError> {
        let state = self.ctx.state();
        let map = parsed.text_map();
        match &parsed.statement {
            Statement::Query(query) => Ok(plan_stream(&state, query, &parsed.windows, &map)
                .await?
                .map(|plan| StreamStatement::Select(Arc::new(plan)))),
            Statement::Explain { statement, .. } => match statement.as_ref() {
                Statement::Query(query) => Ok(plan_stream(&state, query, &parsed.windows, &map)
                    .await?
                    .map(|plan| StreamStatement::Explain(Arc::new(plan)))),
                _ => Ok(None),
            },
            Statement::Insert(insert) => {
                let TableObject::TableName(name) = &insert.table else {
                    return Ok(None);
                };
                let name = ddl::object_name(name, &map)?;
                let Some(CatalogObject::ConnectorTable { table: sink, .. }) =
                    self.catalog.get(&name)
                else {
                    return Ok(None);
                };
                let plan = plan_insert(&state, insert, &sink, &parsed.windows, &map).await?;
                Ok(Some(StreamStatement::Insert {
                    plan: Arc::new(plan),
                    sink,
                    sql: parsed.original_text().to_string(),
                }))
            }
            _ => Ok(None),
        }
    }

    /// Runs a planned streaming statement.
    pub(super) fn execute_stream(&self, statement: &StreamStatement) -> Result<Executed, SqlError> {
        match statement {
            StreamStatement::Select(plan) => self.stream_rows(plan),
            StreamStatement::Explain(plan) => Ok(rows(
                "EXPLAIN",
                ddl::string_batch(&["plan"], vec![plan.description()]),
            )),
            StreamStatement::Insert { plan, sink, sql } => {
                let name = sink.name().to_string();
                let interval = self.checkpoint_interval()?;
                let savepoint = self
                    .settings()
                    .get(SAVEPOINT_PATH)
                    .ok()
                    .filter(|path| !path.is_empty())
                    .map(std::path::PathBuf::from);
                let id =
                    start_insert_job(&self.jobs, plan, sink, sql, interval, savepoint.as_deref())?;
                let mut executed = Executed::new(Outcome::Command {
                    command: "INSERT".into(),
                    rows: Some(0),
                });
                executed.notices.push(Notice::info(format!(
                    "job {id} started: it writes into \"{name}\" in the background; SHOW JOBS lists it"
                )));
                Ok(executed)
            }
        }
    }

    /// A job whose rows stream to the client.
    fn stream_rows(&self, plan: &StreamPlan) -> Result<Executed, SqlError> {
        let (sender, receiver) = mpsc::channel::<Result<RecordBatch, DataFusionError>>(4);
        let sink = ChannelSink {
            sender: sender.clone(),
        };
        let mut job = Job::start(plan, self.jobs.parallelism(), Box::new(sink))
            .map_err(|e| job_error("SELECT", e))?;
        tokio::spawn(async move {
            tokio::select! {
                outcome = job.wait() => {
                    if let Err(error) = outcome {
                        let _ = sender
                            .send(Err(DataFusionError::External(Box::new(error))))
                            .await;
                    }
                }
                // The client went away or the statement was cancelled: dropping the job stops
                // its tasks.
                () = sender.closed() => {}
            }
        });
        let batches = futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        });
        let schema = plan.schema.clone();
        Ok(Executed::new(Outcome::Rows {
            schema: schema.clone(),
            stream: Box::pin(RecordBatchStreamAdapter::new(schema, batches)),
            command: "SELECT",
        }))
    }

    /// A Flink `CREATE TABLE`: binds it, checks its connector options and stores it.
    pub(super) fn create_connector_table(
        &self,
        parsed: &ParsedStatement,
        def: &runnel_sql::flink::StreamTableDef,
    ) -> Result<Executed, SqlError> {
        let map = parsed.text_map();
        let name = def.name.clone();
        if self.catalog.get(&name).is_some() && def.if_not_exists {
            let mut executed = Executed::command("CREATE TABLE");
            executed.notices.push(Notice::info(format!(
                "relation \"{name}\" already exists, skipping"
            )));
            return Ok(executed);
        }
        let table =
            bind_connector_table(def.clone(), parsed.original_text(), &self.ctx.state(), &map)?;
        self.catalog
            .create_connector_table(table)
            .map_err(|e| e.at(map.find_identifier(&name)))?;
        Ok(Executed::command("CREATE TABLE"))
    }

    /// `CREATE MATERIALIZED VIEW`: stores the view and starts its job.
    pub(super) async fn create_materialized_view(
        &self,
        parsed: &ParsedStatement,
        create: &CreateView,
    ) -> Result<Executed, SqlError> {
        let map = parsed.text_map();
        let name = ddl::object_name(&create.name, &map)?;
        if create.if_not_exists && self.catalog.get(&name).is_some() {
            let mut executed = Executed::command("CREATE MATERIALIZED VIEW");
            executed.notices.push(Notice::info(format!(
                "relation \"{name}\" already exists, skipping"
            )));
            return Ok(executed);
        }
        if create.or_replace {
            return Err(SqlError::unsupported(
                "CREATE OR REPLACE MATERIALIZED VIEW; drop the view and create it again",
            )
            .at(map.position(1, 1)));
        }
        let plan = plan_materialized_view(&self.ctx.state(), create, parsed).await?;
        // Checked before anything is stored: a refused view leaves nothing behind.
        let interval = self.checkpoint_interval()?;
        self.catalog
            .create_materialized_view(
                &name,
                plan.schema.clone(),
                parsed.original_text().to_string(),
                vec![plan.source.table.name().to_string()],
            )
            .map_err(|e| e.at(map.find_identifier(&name)))?;
        if let Err(error) = start_view_job(&self.catalog, &self.jobs, &name, &plan, false, interval)
        {
            // Nothing may claim to exist that does not run.
            let _ = self
                .catalog
                .drop_object(&name, ObjectKind::MaterializedView, true, false);
            return Err(error);
        }
        Ok(Executed::command("CREATE MATERIALIZED VIEW"))
    }

    /// Stops the jobs of dropped materialized views.
    pub(super) fn stop_jobs_of(&self, dropped: &[String]) {
        for name in dropped {
            self.jobs.stop_target(name);
            forget_view_state(&self.jobs, name);
        }
        forget_insert_jobs_of(&self.jobs, dropped);
    }

    /// `SET 'execution.checkpointing.interval'`, when the session set it.
    fn checkpoint_interval(&self) -> Result<Option<Duration>, SqlError> {
        let Ok(value) = self.settings().get(CHECKPOINT_INTERVAL) else {
            return Ok(None);
        };
        let interval = runnel_connectors::options::parse_duration(&value).map_err(|e| {
            SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("invalid value for \"{CHECKPOINT_INTERVAL}\": {e}"),
            )
        })?;
        if interval < Duration::from_millis(10) {
            return Err(SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("\"{CHECKPOINT_INTERVAL}\" must be at least 10 ms, got '{value}'"),
            ));
        }
        Ok(Some(interval))
    }
}

/// Hands a job's rows to a client's result stream.
struct ChannelSink {
    sender: mpsc::Sender<Result<RecordBatch, DataFusionError>>,
}

#[async_trait::async_trait]
impl SinkWriter for ChannelSink {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError> {
        self.sender
            .send(Ok(batch))
            .await
            .map_err(|_| StreamError::Internal("the client stopped reading the results".into()))
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, TimeUnit};

    fn schema(zone: Option<&str>) -> Schema {
        Schema::new(vec![
            Field::new(
                "window_start",
                DataType::Timestamp(TimeUnit::Millisecond, zone.map(Arc::from)),
                false,
            ),
            Field::new("n", DataType::Int64, false),
        ])
    }

    #[test]
    fn a_view_whose_query_now_gives_other_types_is_refused_with_the_column() {
        assert!(check_view_columns("v", &schema(None), &schema(None)).is_ok());
        let error = check_view_columns("v", &schema(Some("+00:00")), &schema(None))
            .expect_err("types differ");
        assert_eq!(error.state, SqlState::DATATYPE_MISMATCH);
        assert!(
            error.message.contains("column \"window_start\"") && error.message.contains("DROP"),
            "{}",
            error.message
        );
    }
}
