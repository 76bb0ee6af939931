//! Pipelines as files: `runnel run FILE.sql` and `runnel check FILE.sql`.
//!
//! A file is a sequence of statements: Flink `CREATE TABLE`s declaring sources and sinks,
//! `INSERT INTO sink SELECT ...` jobs, bare `SELECT`s whose rows are printed, and `EXPLAIN`s.
//! `run` starts each job as its statement is reached (an `INSERT` runs in the background; a
//! `SELECT` prints until its input ends) and returns when every job has finished. `check` does
//! everything up to starting jobs: parsing, binding, planning and connector option checks.

pub mod output;
pub mod progress;
pub mod report;

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Statement, TableObject};
use runnel_engine::stream::sink::SinkWriter;
use runnel_sql::parser::{TextMap, parse_statement_at, statement_ranges};
use runnel_sql::streaming::{
    StreamPlan, StreamTableProvider, WindowCall, rewrite_window_tvfs, stream_table,
};
use runnel_sql::{SqlError, SqlState, flink};

use crate::job::planning::{
    bind_connector_table, open_sink_writer, plan_insert, plan_stream, validate_source,
};
use crate::job::{Job, job_error};
use output::{OutputFormat, ResultWriter};

/// Whether statements run or are only checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plan and run.
    Run,
    /// Plan only.
    Check,
}

/// One statement's failure: the error, positioned in the whole file.
#[derive(Debug)]
pub struct StatementError {
    /// The error; its position is a 1-based character index into the file.
    pub error: SqlError,
}

/// Runs (or checks) the statements of one file.
pub struct Pipeline {
    ctx: SessionContext,
    parallelism: usize,
    mode: Mode,
    background: Vec<(String, Job)>,
    next_window: usize,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("parallelism", &self.parallelism)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Makes the writer of one query's results, given the query's schema (`runnel run`: stdout in
/// the chosen format; tests: a collector).
pub type Results<'a> = dyn FnMut(&SchemaRef) -> Result<Box<dyn SinkWriter>, SqlError> + Send + 'a;

/// Results printed to stdout in `format`; CSV gets its header line even for no rows.
pub fn stdout_results(
    format: OutputFormat,
) -> impl FnMut(&SchemaRef) -> Result<Box<dyn SinkWriter>, SqlError> + Send {
    move |schema| {
        let mut writer = ResultWriter::new(format, std::io::stdout());
        writer
            .header(schema)
            .map_err(|e| SqlError::new(SqlState::IO_ERROR, e.to_string()))?;
        Ok(Box::new(writer) as Box<dyn SinkWriter>)
    }
}

impl Pipeline {
    /// A pipeline with an empty catalog.
    pub fn new(mode: Mode, parallelism: usize) -> Self {
        let config = datafusion::prelude::SessionConfig::new()
            .with_default_catalog_and_schema(runnel_sql::DATABASE, runnel_sql::DEFAULT_SCHEMA)
            .with_information_schema(false);
        let ctx = SessionContext::new_with_config(config);
        for function in runnel_sql::functions::all() {
            ctx.register_udf(function.as_ref().clone());
        }
        Pipeline {
            ctx,
            parallelism: parallelism.max(1),
            mode,
            background: Vec::new(),
            next_window: 0,
        }
    }

    fn state(&self) -> SessionState {
        self.ctx.state()
    }

    /// Executes every statement of `sql`. Rows of `SELECT`s go to `stdout()` (called once per
    /// query). In check mode, every statement is checked and all errors are returned; in run
    /// mode the first error stops the file.
    pub async fn execute(&mut self, sql: &str, stdout: &mut Results<'_>) -> Vec<StatementError> {
        let mut errors = Vec::new();
        let rewritten = match rewrite_window_tvfs(sql, self.next_window) {
            Ok(rewritten) => rewritten,
            Err(error) => return vec![StatementError { error }],
        };
        self.next_window += rewritten.calls.len();
        let full: Arc<str> = Arc::from(rewritten.text.as_str());
        let ranges = match statement_ranges(&full) {
            Ok(ranges) => ranges,
            Err(error) => return vec![StatementError { error }],
        };
        for (start, end) in ranges {
            let result = self
                .statement(&full, start, end, &rewritten.calls, stdout)
                .await;
            if let Err(error) = result {
                errors.push(StatementError { error });
                if self.mode == Mode::Run {
                    return errors;
                }
            }
        }
        errors
    }

    /// Waits for the background (`INSERT`) jobs; Ctrl-C is the caller's to handle by dropping
    /// the future.
    pub async fn finish(&mut self) -> Result<(), SqlError> {
        for (name, mut job) in self.background.drain(..) {
            job.wait().await.map_err(|e| job_error(&name, e))?;
        }
        Ok(())
    }

    /// Progress of the running background jobs, for the progress line.
    pub fn jobs(&self) -> Vec<(String, Arc<crate::job::JobCounters>)> {
        self.background
            .iter()
            .map(|(name, job)| (name.clone(), job.counters()))
            .collect()
    }

    async fn statement(
        &mut self,
        full: &Arc<str>,
        start: usize,
        end: usize,
        windows: &[WindowCall],
        stdout: &mut Results<'_>,
    ) -> Result<(), SqlError> {
        let text = &full[start..end];
        let map = TextMap::new(full, start, end);
        let offset = full[..start].chars().count();
        if flink::is_flink_create_table(text) {
            let def = flink::parse_create_table(text).map_err(|mut e| {
                e.position = e.position.map(|p| p + offset);
                e
            })?;
            return self.create_table(def, text, &map);
        }
        let parsed = parse_statement_at(full, start, end)?;
        let mut statement = parsed.statement.clone();
        match &mut statement {
            Statement::Query(query) => {
                match plan_stream(&self.state(), query, windows, &map).await? {
                    Some(plan) => self.select(plan, &map, stdout).await,
                    None => self.batch_query(text, &map, stdout).await,
                }
            }
            Statement::Explain { statement, .. } => {
                let Statement::Query(query) = statement.as_mut() else {
                    return Err(SqlError::unsupported("EXPLAIN explains queries only")
                        .at(map.position(1, 1)));
                };
                let plan = plan_stream(&self.state(), query, windows, &map)
                    .await?
                    .ok_or_else(|| {
                        SqlError::unsupported("EXPLAIN in a pipeline explains streaming queries")
                            .at(map.position(1, 1))
                    })?;
                if self.mode == Mode::Run {
                    let lines = plan.description();
                    let batch = runnel_sql::ddl::string_batch(&["plan"], vec![lines]);
                    let mut writer = stdout(&batch.schema())?;
                    writer.write(batch).await.map_err(stream_io)?;
                    writer.finish().await.map_err(stream_io)?;
                }
                Ok(())
            }
            Statement::Insert(insert) => {
                let TableObject::TableName(name) = &insert.table else {
                    return Err(SqlError::unsupported("INSERT INTO a table function")
                        .at(map.position(1, 1)));
                };
                let name = runnel_sql::ddl::object_name(name, &map)?;
                let sink = stream_table(&self.state(), &name, &map, map.find_identifier(&name)).await?;
                let plan = plan_insert(&self.state(), insert, &sink, windows, &map).await?;
                if self.mode == Mode::Check {
                    return Ok(());
                }
                let writer = open_sink_writer(&sink, None).map_err(|e| e.at(map.find_identifier(&name)))?;
                let job = Job::start(&plan, self.parallelism, writer)
                    .map_err(|e| job_error(&name, e).at(map.position(1, 1)))?;
                self.background.push((format!("INSERT INTO {name}"), job));
                Ok(())
            }
            Statement::CreateView { .. } => self.create_view(&statement, &map).await,
            other => Err(SqlError::unsupported(format!(
                "{} is not supported in pipeline files; they hold CREATE TABLE, CREATE VIEW, INSERT INTO, SELECT and EXPLAIN",
                statement_kind(other)
            ))
            .at(map.position(1, 1))),
        }
    }

    /// A view, for the statements after it (views over stream tables are inlined into the
    /// streaming queries that read them).
    async fn create_view(
        &mut self,
        statement: &Statement,
        map: &TextMap<'_>,
    ) -> Result<(), SqlError> {
        let plan = self
            .state()
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                statement.clone(),
            )))
            .await
            .map_err(|e| SqlError::from_datafusion(&e, map))?;
        self.ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|e| SqlError::from_datafusion(&e, map))?;
        Ok(())
    }

    fn create_table(
        &mut self,
        def: flink::StreamTableDef,
        text: &str,
        map: &TextMap<'_>,
    ) -> Result<(), SqlError> {
        let name = def.name.clone();
        if self.ctx.table_exist(name.as_str()).unwrap_or(false) {
            if def.if_not_exists {
                return Ok(());
            }
            return Err(SqlError::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{name}\" already exists"),
            )
            .at(map.find_identifier(&name)));
        }
        let table = bind_connector_table(def, text, &self.state(), map)?;
        self.ctx
            .register_table(
                name.as_str(),
                Arc::new(StreamTableProvider {
                    table: Arc::new(table),
                }),
            )
            .map_err(|e| SqlError::from_datafusion(&e, map))?;
        Ok(())
    }

    async fn select(
        &mut self,
        plan: StreamPlan,
        map: &TextMap<'_>,
        stdout: &mut Results<'_>,
    ) -> Result<(), SqlError> {
        validate_source(&plan, map)?;
        if self.mode == Mode::Check {
            return Ok(());
        }
        let writer = stdout(&plan.schema)?;
        let mut job =
            Job::start(&plan, self.parallelism, writer).map_err(|e| job_error("SELECT", e))?;
        job.wait().await.map_err(|e| job_error("SELECT", e))
    }

    async fn batch_query(
        &mut self,
        text: &str,
        map: &TextMap<'_>,
        stdout: &mut Results<'_>,
    ) -> Result<(), SqlError> {
        let frame = self
            .ctx
            .sql(text)
            .await
            .map_err(|e| SqlError::from_datafusion(&e, map))?;
        if self.mode == Mode::Check {
            return Ok(());
        }
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame
            .collect()
            .await
            .map_err(|e| SqlError::from_datafusion(&e, map))?;
        let mut writer = stdout(&schema)?;
        for batch in batches {
            if batch.num_rows() > 0 {
                writer.write(batch).await.map_err(stream_io)?;
            }
        }
        writer.finish().await.map_err(stream_io)
    }
}

fn stream_io(error: runnel_engine::stream::StreamError) -> SqlError {
    SqlError::new(SqlState::IO_ERROR, error.to_string())
}

fn statement_kind(statement: &Statement) -> String {
    statement
        .to_string()
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}
