//! Classifying and running one statement.

use std::sync::Arc;

use datafusion::arrow::array::{Array, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ParamValues;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    CopySource, CopyTarget, Expr, ObjectName, Reset, ResetStatement, Set, Statement, Value,
};
use runnel_sql::parser::ParsedStatement;
use runnel_sql::{SqlError, SqlState, ddl};

use super::copy::CopyOptions;
use super::settings::{SettingChange, Settings};
use super::streaming::StreamStatement;
use super::{Session, TransactionState, lock};

/// A statement ready to execute: parsed, classified and, for queries, planned.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The statement.
    pub parsed: ParsedStatement,
    /// DataFusion's plan, for statements DataFusion runs (queries, `INSERT`, `EXPLAIN`,
    /// `COPY (query) TO STDOUT`). It may contain `$n` placeholders.
    pub plan: Option<LogicalPlan>,
    /// The rows the statement returns, when it returns rows (known before it runs, for the
    /// extended protocol's Describe).
    pub result_schema: Option<SchemaRef>,
    /// The streaming job the statement runs (or explains), for statements over connector
    /// tables.
    pub stream: Option<StreamStatement>,
}

/// A message shown to the client next to a statement's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `NOTICE` or `WARNING`.
    pub severity: &'static str,
    /// SQLSTATE.
    pub code: &'static str,
    /// The text.
    pub message: String,
}

impl Notice {
    pub(super) fn info(message: impl Into<String>) -> Self {
        Notice {
            severity: "NOTICE",
            code: "00000",
            message: message.into(),
        }
    }

    pub(super) fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Notice {
            severity: "WARNING",
            code,
            message: message.into(),
        }
    }
}

/// What a statement produced.
pub enum Outcome {
    /// Rows, streamed.
    Rows {
        /// Their schema.
        schema: SchemaRef,
        /// The rows.
        stream: SendableRecordBatchStream,
        /// The command tag word (`SELECT`, `SHOW`, `EXPLAIN`...); the row count is appended.
        command: &'static str,
    },
    /// A command without rows.
    Command {
        /// The tag word.
        command: String,
        /// Rows affected, when the tag carries a count.
        rows: Option<u64>,
    },
    /// `BEGIN`.
    TransactionStart,
    /// `COMMIT` or `ROLLBACK` (the tag says which one really happened).
    TransactionEnd(&'static str),
    /// `COPY ... TO STDOUT`.
    CopyOut {
        /// Schema of the copied rows.
        schema: SchemaRef,
        /// The rows.
        stream: SendableRecordBatchStream,
        /// Format options.
        options: CopyOptions,
    },
}

/// A statement's outcome plus what the client should be told alongside it.
pub struct Executed {
    /// The result.
    pub outcome: Outcome,
    /// Notices and warnings, sent before the result.
    pub notices: Vec<Notice>,
    /// Reported parameters that changed (`ParameterStatus`).
    pub parameter_status: Vec<(String, String)>,
}

impl Executed {
    pub(super) fn new(outcome: Outcome) -> Self {
        Executed {
            outcome,
            notices: Vec::new(),
            parameter_status: Vec::new(),
        }
    }

    pub(super) fn command(command: impl Into<String>) -> Self {
        Executed::new(Outcome::Command {
            command: command.into(),
            rows: None,
        })
    }
}

impl Session {
    /// Parse-time work for one statement: plans what DataFusion runs, so parameter and result
    /// types are known before execution.
    pub async fn prepare(&self, parsed: ParsedStatement) -> Result<Prepared, SqlError> {
        if let Some(stop) = &parsed.stop_job {
            let result_schema = stop.savepoint.then(|| {
                Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
                    datafusion::arrow::datatypes::Field::new(
                        super::stop_job::SAVEPOINT_COLUMN,
                        datafusion::arrow::datatypes::DataType::Utf8,
                        false,
                    ),
                ]))
            });
            return Ok(Prepared {
                parsed,
                plan: None,
                result_schema,
                stream: None,
            });
        }
        if let Some(stream) = self.prepare_stream(&parsed).await? {
            return Ok(Prepared {
                result_schema: stream.result_schema(),
                parsed,
                plan: None,
                stream: Some(stream),
            });
        }
        let (plan, result_schema) = match &parsed.statement {
            Statement::Query(_) | Statement::Insert(_) | Statement::Explain { .. } => {
                let plan = self.plan_query(&parsed, &parsed.statement).await?;
                let schema = match &plan {
                    LogicalPlan::Dml(_) => None,
                    other => Some(Arc::new(other.schema().as_arrow().clone())),
                };
                (Some(plan), schema)
            }
            Statement::Copy {
                source,
                to: true,
                target: CopyTarget::Stdout,
                ..
            } => {
                let query = copy_query(source, &parsed)?;
                let plan = self.plan_query(&parsed, &query).await?;
                (Some(plan), None)
            }
            other => (None, static_result_schema(other)),
        };
        Ok(Prepared {
            parsed,
            plan,
            result_schema,
            stream: None,
        })
    }

    /// Runs a prepared statement with `params` bound to its `$n` placeholders.
    pub async fn execute(
        &self,
        prepared: &Prepared,
        params: Option<ParamValues>,
    ) -> Result<Executed, SqlError> {
        let statement = &prepared.parsed.statement;
        let is_transaction_end = matches!(
            statement,
            Statement::Commit { .. }
                | Statement::Rollback {
                    savepoint: None,
                    ..
                }
        );
        if self.transaction_state() == TransactionState::Failed && !is_transaction_end {
            return Err(SqlError::new(
                SqlState::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let result = self.execute_inner(prepared, params).await;
        if result.is_err() {
            self.on_error();
        }
        result
    }

    async fn execute_inner(
        &self,
        prepared: &Prepared,
        params: Option<ParamValues>,
    ) -> Result<Executed, SqlError> {
        let parsed = &prepared.parsed;
        let text = parsed.text_map();
        let state = self.ctx.state();
        if let Some(stream) = &prepared.stream {
            let executed = self.execute_stream(stream)?;
            if matches!(stream, StreamStatement::Insert { .. }) {
                self.record_write();
            }
            return Ok(executed);
        }
        if let Some(stop) = &parsed.stop_job {
            let executed = self.stop_job(stop).await?;
            self.record_write();
            return Ok(executed);
        }
        if let (Statement::CreateTable(_), Some(def)) = (&parsed.statement, &parsed.stream_table) {
            let executed = self.create_connector_table(parsed, def)?;
            self.record_write();
            return Ok(executed);
        }
        match &parsed.statement {
            Statement::Query(_)
            | Statement::Explain { .. }
            | Statement::Insert(_)
            | Statement::Copy { .. } => {
                let Some(plan) = &prepared.plan else {
                    return Err(unsupported_statement(&parsed.statement));
                };
                let plan = match params {
                    Some(params) => plan
                        .clone()
                        .replace_params_with_values(&params)
                        .map_err(|e| SqlError::from_datafusion(&e, &text))?,
                    None => plan.clone(),
                };
                self.run_plan(plan, prepared).await
            }
            Statement::CreateTable(create) => {
                let outcome = ddl::create_table(&state, &self.catalog, create, parsed).await?;
                self.record_write();
                let command = if create.query.is_some() {
                    "SELECT"
                } else {
                    "CREATE TABLE"
                };
                let mut executed = Executed::new(Outcome::Command {
                    command: command.into(),
                    rows: outcome.rows,
                });
                executed.notices = outcome.notices.into_iter().map(Notice::info).collect();
                Ok(executed)
            }
            Statement::CreateView(create) if create.materialized => {
                let executed = self.create_materialized_view(parsed, create).await?;
                self.record_write();
                Ok(executed)
            }
            Statement::CreateView(create) => {
                let outcome = ddl::create_view(&state, &self.catalog, create, parsed).await?;
                self.record_write();
                let mut executed = Executed::command("CREATE VIEW");
                executed.notices = outcome.notices.into_iter().map(Notice::info).collect();
                Ok(executed)
            }
            Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => {
                let outcome = ddl::drop_objects(
                    &self.catalog,
                    *object_type,
                    names,
                    *if_exists,
                    *cascade,
                    parsed,
                )?;
                self.stop_jobs_of(&outcome.dropped);
                self.record_write();
                let mut executed = Executed::command(format!("DROP {object_type}"));
                executed.notices = outcome.notices.into_iter().map(Notice::info).collect();
                Ok(executed)
            }
            Statement::ShowTables { .. } => Ok(rows("SHOW", ddl::show_tables(&self.catalog))),
            Statement::ShowVariable { variable } => self.show(variable),
            Statement::ShowCreate { obj_name, .. } => Ok(rows(
                "SHOW",
                ddl::show_create(&self.catalog, obj_name, parsed)?,
            )),
            Statement::ExplainTable { table_name, .. } => Ok(rows(
                "DESCRIBE",
                ddl::describe(&self.catalog, table_name, parsed)?,
            )),
            Statement::Set(set) => self.set(set),
            Statement::Reset(ResetStatement { reset }) => {
                let change = match reset {
                    Reset::ALL => lock(&self.settings).reset_all(),
                    Reset::ConfigurationParameter(name) => {
                        lock(&self.settings).reset(&parameter_name(&name.to_string()))?
                    }
                };
                self.apply(change, Executed::command("RESET"))
            }
            Statement::StartTransaction { .. } => Ok(self.begin()),
            Statement::Commit { .. } => Ok(self.end_block(false)),
            Statement::Rollback {
                savepoint: None, ..
            } => Ok(self.end_block(true)),
            Statement::Rollback {
                savepoint: Some(_), ..
            } => self.savepoint_command("ROLLBACK"),
            Statement::Savepoint { .. } => self.savepoint_command("SAVEPOINT"),
            Statement::ReleaseSavepoint { .. } => self.savepoint_command("RELEASE"),
            Statement::Deallocate { .. } => Ok(Executed::command("DEALLOCATE")),
            Statement::Discard { .. } => {
                let change = lock(&self.settings).reset_all();
                self.apply(change, Executed::command("DISCARD ALL"))
            }
            other => Err(unsupported_statement(other)),
        }
    }

    /// Plans a query through DataFusion. psql and BI tools send PostgreSQL-specific catalog
    /// SQL; it is first rewritten into what DataFusion understands (the `pg_catalog`
    /// emulation's rewriter). If that fails, the original text is planned too, because its
    /// error carries the position in what the user wrote.
    async fn plan_query(
        &self,
        parsed: &ParsedStatement,
        statement: &Statement,
    ) -> Result<LogicalPlan, SqlError> {
        let state = self.ctx.state();
        let text = parsed.text_map();
        // The compatibility rewriter is for catalog queries; it matches some client queries
        // token by token, in the clients' own spelling, so it gets the text as sent whenever
        // the statement is the one the user wrote (not a query taken out of COPY). Runnel's
        // own rewrites then apply to its output.
        let source = if statement == &parsed.statement {
            parsed.text().to_string()
        } else {
            statement.to_string()
        };
        let rewritten = (!crate::session::rewrite::reads_user_tables_only(statement))
            .then(|| self.compat.parse(&source).ok())
            .flatten()
            .filter(|statements| statements.len() == 1)
            .and_then(|mut statements| statements.pop())
            .map(|mut rewritten| {
                crate::session::rewrite::postgres_literals(&mut rewritten);
                rewritten
            });
        let mut statement = statement.clone();
        crate::session::rewrite::postgres_literals(&mut statement);
        let original = DfStatement::Statement(Box::new(statement));
        let Some(rewritten) = rewritten else {
            return state
                .statement_to_plan(original)
                .await
                .map_err(|e| SqlError::from_datafusion(&e, &text));
        };
        let rewritten_error = match state
            .statement_to_plan(DfStatement::Statement(Box::new(rewritten)))
            .await
        {
            Ok(plan) => return Ok(plan),
            Err(error) => SqlError::from_datafusion(&error, &text),
        };
        // The original text keeps source spans: when it fails the same way, its error points
        // at the right place; otherwise the rewritten statement's error is the real one.
        match state.statement_to_plan(original).await {
            Ok(plan) => Ok(plan),
            Err(error) => {
                let original_error = SqlError::from_datafusion(&error, &text);
                if original_error.message == rewritten_error.message {
                    Err(original_error)
                } else {
                    tracing::debug!(%original_error, %rewritten_error, "planning failed");
                    Err(rewritten_error)
                }
            }
        }
    }

    async fn run_plan(&self, plan: LogicalPlan, prepared: &Prepared) -> Result<Executed, SqlError> {
        let text = prepared.parsed.text_map();
        let is_insert = matches!(plan, LogicalPlan::Dml(_));
        let frame = self
            .ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|e| SqlError::from_datafusion(&e, &text))?;
        if is_insert {
            let batches = frame
                .collect()
                .await
                .map_err(|e| SqlError::from_datafusion(&e, &text))?;
            self.record_write();
            let rows = batches
                .first()
                .and_then(|batch| batch.column_by_name("count"))
                .and_then(|column| column.as_any().downcast_ref::<UInt64Array>())
                .filter(|column| !column.is_empty())
                .map_or(0, |column| column.value(0));
            return Ok(Executed::new(Outcome::Command {
                command: "INSERT".into(),
                rows: Some(rows),
            }));
        }
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let stream = frame
            .execute_stream()
            .await
            .map_err(|e| SqlError::from_datafusion(&e, &text))?;
        match &prepared.parsed.statement {
            Statement::Copy {
                options,
                legacy_options,
                ..
            } => {
                let options = CopyOptions::from_statement(options, legacy_options)?;
                Ok(Executed::new(Outcome::CopyOut {
                    schema,
                    stream,
                    options,
                }))
            }
            Statement::Explain { .. } => Ok(Executed::new(Outcome::Rows {
                schema,
                stream,
                command: "EXPLAIN",
            })),
            _ => Ok(Executed::new(Outcome::Rows {
                schema,
                stream,
                command: "SELECT",
            })),
        }
    }

    fn show(
        &self,
        variable: &[datafusion::sql::sqlparser::ast::Ident],
    ) -> Result<Executed, SqlError> {
        let name = match show_target(variable) {
            ShowTarget::All => {
                let settings = lock(&self.settings).all();
                let batch = ddl::string_batch(
                    &SHOW_ALL_COLUMNS,
                    vec![
                        settings.iter().map(|s| s.0.clone()).collect(),
                        settings.iter().map(|s| s.1.clone()).collect(),
                        settings.iter().map(|s| s.2.clone()).collect(),
                    ],
                );
                return Ok(rows("SHOW", batch));
            }
            ShowTarget::Tables => return Ok(rows("SHOW", ddl::show_tables(&self.catalog))),
            ShowTarget::Jobs => return Ok(rows("SHOW", self.jobs.table())),
            ShowTarget::Parameter(name) => name,
        };
        let value = lock(&self.settings).get(&name)?;
        let column = show_column(&name);
        Ok(rows(
            "SHOW",
            ddl::string_batch(&[column.as_str()], vec![vec![value]]),
        ))
    }

    fn set(&self, set: &Set) -> Result<Executed, SqlError> {
        let change = match set {
            Set::SingleAssignment {
                variable, values, ..
            } => {
                let name = parameter_name(&variable.to_string());
                match set_value(values)? {
                    Some(value) => lock(&self.settings).set(&name, &value)?,
                    None => lock(&self.settings).reset(&name)?,
                }
            }
            Set::SetTimeZone { value, .. } => {
                let value = match expr_text(value) {
                    Some(v)
                        if v.eq_ignore_ascii_case("local") || v.eq_ignore_ascii_case("default") =>
                    {
                        "UTC".to_string()
                    }
                    Some(v) => v,
                    None => {
                        return Err(SqlError::unsupported(format!(
                            "SET TIME ZONE {value} is not supported"
                        )));
                    }
                };
                lock(&self.settings).set("TimeZone", &value)?
            }
            Set::SetNames { charset_name, .. } => {
                lock(&self.settings).set("client_encoding", &charset_name.value)?
            }
            other => return Err(SqlError::unsupported(format!("{other} is not supported"))),
        };
        self.apply(change, Executed::command("SET"))
    }

    /// Applies engine options and records reported parameters of a settings change.
    fn apply(&self, change: SettingChange, mut executed: Executed) -> Result<Executed, SqlError> {
        if !change.engine.is_empty() {
            let state = self.ctx.state_ref();
            let mut state = state.write();
            for (key, value) in &change.engine {
                state
                    .config_mut()
                    .options_mut()
                    .set(key, value)
                    .map_err(|e| {
                        SqlError::new(SqlState::INVALID_PARAMETER_VALUE, e.strip_backtrace())
                    })?;
            }
        }
        executed.parameter_status = change.reported;
        Ok(executed)
    }

    fn begin(&self) -> Executed {
        let mut transaction = lock(&self.transaction);
        let mut executed = Executed::new(Outcome::TransactionStart);
        if transaction.state == TransactionState::Idle {
            transaction.state = TransactionState::Block;
            transaction.writes = 0;
        } else {
            executed.notices.push(Notice::warning(
                "25001",
                "there is already a transaction in progress",
            ));
        }
        executed
    }

    fn end_block(&self, rollback: bool) -> Executed {
        let mut transaction = lock(&self.transaction);
        let previous = std::mem::take(&mut *transaction);
        let tag = if rollback || previous.state == TransactionState::Failed {
            "ROLLBACK"
        } else {
            "COMMIT"
        };
        let mut executed = Executed::new(Outcome::TransactionEnd(tag));
        match previous.state {
            TransactionState::Idle => executed
                .notices
                .push(Notice::warning("25P01", "there is no transaction in progress")),
            _ if rollback && previous.writes > 0 => executed.notices.push(Notice::warning(
                "01000",
                format!(
                    "Runnel commits every statement when it completes: ROLLBACK did not undo the {} statement(s) of this block that changed data or the catalog",
                    previous.writes
                ),
            )),
            _ => {}
        }
        executed
    }

    /// Savepoints only make sense inside a block; with autocommit semantics they mark nothing
    /// to roll back to, so `ROLLBACK TO` is refused rather than pretending.
    fn savepoint_command(&self, command: &'static str) -> Result<Executed, SqlError> {
        if self.transaction_state() == TransactionState::Idle {
            return Err(SqlError::new(
                SqlState("25P01"),
                format!("{command} can only be used in transaction blocks"),
            ));
        }
        if command == "ROLLBACK" {
            return Err(SqlError::unsupported(
                "ROLLBACK TO SAVEPOINT is not supported: Runnel commits every statement when it completes",
            ));
        }
        Ok(Executed::command(command))
    }

    fn record_write(&self) {
        let mut transaction = lock(&self.transaction);
        if transaction.state != TransactionState::Idle {
            transaction.writes += 1;
        }
    }
}

/// The query a `COPY ... TO STDOUT` reads.
fn copy_query(source: &CopySource, parsed: &ParsedStatement) -> Result<Statement, SqlError> {
    match source {
        CopySource::Query(query) => Ok(Statement::Query(query.clone())),
        CopySource::Table {
            table_name,
            columns,
        } => {
            let name = ddl::object_name(table_name, &parsed.text_map())?;
            let list = if columns.is_empty() {
                "*".to_string()
            } else {
                columns
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let sql = format!(
                "SELECT {list} FROM {}",
                ObjectName::from(vec![datafusion::sql::sqlparser::ast::Ident::with_quote(
                    '"', name
                )])
            );
            let mut statements = runnel_sql::parse_statements(&sql)?;
            statements
                .pop()
                .map(|p| p.statement)
                .ok_or_else(|| SqlError::new(SqlState::INTERNAL_ERROR, "empty COPY query"))
        }
    }
}

/// What `SHOW ...` asks for.
enum ShowTarget {
    /// `SHOW ALL`.
    All,
    /// `SHOW TABLES`.
    Tables,
    /// `SHOW JOBS`: the streaming jobs.
    Jobs,
    /// One parameter, by the name `Settings` knows it.
    Parameter(String),
}

const SHOW_ALL_COLUMNS: [&str; 3] = ["name", "setting", "description"];

fn show_target(variable: &[datafusion::sql::sqlparser::ast::Ident]) -> ShowTarget {
    let words: Vec<String> = variable
        .iter()
        .map(|i| i.value.to_ascii_lowercase())
        .collect();
    match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["all"] => ShowTarget::All,
        ["tables"] => ShowTarget::Tables,
        ["jobs"] => ShowTarget::Jobs,
        ["transaction", "isolation", "level"] => {
            ShowTarget::Parameter("transaction_isolation".into())
        }
        ["time", "zone"] => ShowTarget::Parameter("TimeZone".into()),
        _ => ShowTarget::Parameter(
            variable
                .iter()
                .map(|i| i.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
        ),
    }
}

/// The result column of `SHOW name`: the parameter's name in lower case, as PostgreSQL does.
fn show_column(name: &str) -> String {
    Settings::canonical_name(name).to_ascii_lowercase()
}

/// Result schemas of statements Runnel answers itself, for Describe before Execute.
fn static_result_schema(statement: &Statement) -> Option<SchemaRef> {
    let text = |names: &[&str]| {
        Some(Arc::new(Schema::new(
            names
                .iter()
                .map(|n| Field::new(*n, DataType::Utf8, false))
                .collect::<Vec<_>>(),
        )))
    };
    match statement {
        Statement::ShowTables { .. } => text(&["name", "kind"]),
        Statement::ShowCreate { .. } => text(&["name", "create_statement"]),
        Statement::ExplainTable { .. } => text(&["column_name", "data_type", "is_nullable"]),
        Statement::ShowVariable { variable } => match show_target(variable) {
            ShowTarget::All => text(&SHOW_ALL_COLUMNS),
            ShowTarget::Tables => text(&["name", "kind"]),
            ShowTarget::Jobs => Some(crate::job::JobManager::schema()),
            ShowTarget::Parameter(name) => text(&[show_column(&name).as_str()]),
        },
        _ => None,
    }
}

/// The value of `SET x = value`; `None` for `DEFAULT`.
/// A parameter name as `SET` wrote it: Flink quotes its keys (`SET 'table.local-time-zone' =
/// ...`), PostgreSQL does not; both name the same parameter.
fn parameter_name(written: &str) -> String {
    for quote in ['\'', '"', '`'] {
        if let Some(inner) = written
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner.to_string();
        }
    }
    written.to_string()
}

fn set_value(values: &[Expr]) -> Result<Option<String>, SqlError> {
    let mut parts = Vec::with_capacity(values.len());
    for value in values {
        if let Expr::Identifier(ident) = value
            && ident.quote_style.is_none()
            && ident.value.eq_ignore_ascii_case("default")
        {
            return Ok(None);
        }
        match expr_text(value) {
            Some(text) => parts.push(text),
            None => {
                return Err(SqlError::new(
                    SqlState::SYNTAX_ERROR,
                    format!("invalid value in SET: {value}"),
                ));
            }
        }
    }
    Ok(Some(parts.join(", ")))
}

/// The text of a literal, identifier or signed number in a `SET`.
fn expr_text(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            Value::Number(n, _) => Some(n.to_string()),
            Value::Boolean(b) => Some(if *b { "on".into() } else { "off".into() }),
            other => Some(other.to_string()),
        },
        Expr::Identifier(ident) => Some(ident.value.clone()),
        Expr::CompoundIdentifier(parts) => Some(
            parts
                .iter()
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
        ),
        Expr::UnaryOp { op, expr } => expr_text(expr).map(|inner| format!("{op}{inner}")),
        _ => None,
    }
}

fn unsupported_statement(statement: &Statement) -> SqlError {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    SqlError::unsupported(format!("{} is not supported", words.join(" ")))
}

pub(super) fn rows(command: &'static str, batch: RecordBatch) -> Executed {
    let schema = batch.schema();
    let stream = match MemoryStream::try_new(vec![batch], schema.clone(), None) {
        Ok(stream) => Box::pin(stream) as SendableRecordBatchStream,
        Err(_) => Box::pin(datafusion::physical_plan::EmptyRecordBatchStream::new(
            schema.clone(),
        )),
    };
    Executed::new(Outcome::Rows {
        schema,
        stream,
        command,
    })
}
