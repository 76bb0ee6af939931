//! The simple and extended query protocols.
//!
//! Simple: a string of statements, each parsed, executed and answered in order; the first error
//! ends the string (like PostgreSQL). Extended: Parse plans the statement once (so Describe can
//! report parameter and result types), Bind decodes parameters, Execute runs it. Both go through
//! [`Session::prepare`] and [`Session::execute`].

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan};
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{CopyResponse, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::Bind;
use pgwire::messages::response::NoticeResponse;
use pgwire::messages::startup::ParameterStatus;
use runnel_sql::{SqlError, SqlState, parse_statements};
use tokio_util::sync::CancellationToken;

use super::SessionHandle;
use super::encode::{copy_data, data_rows, fields};
use super::error::{canceled, error_info, to_pgwire};
use crate::session::{Executed, Notice, Outcome, Prepared, Session};

/// A statement prepared by Parse: shared between portals.
pub type PreparedStatement = Arc<PreparedWithTypes>;

/// A prepared statement and the parameter types the client declared in Parse.
#[derive(Debug)]
pub struct PreparedWithTypes {
    prepared: Prepared,
    client_types: Vec<Option<Type>>,
}

/// The query handler (one per server; per-connection state is in the [`Session`]).
pub struct QueryHandler {
    parser: Arc<Parser>,
}

impl QueryHandler {
    /// A new handler.
    pub fn new() -> Self {
        QueryHandler {
            parser: Arc::new(Parser),
        }
    }
}

impl Default for QueryHandler {
    fn default() -> Self {
        QueryHandler::new()
    }
}

fn session_of<C: ClientInfo + ?Sized>(client: &C) -> PgWireResult<Arc<Session>> {
    client
        .session_extensions()
        .get::<SessionHandle>()
        .map(|handle| handle.0.clone())
        .ok_or_else(|| {
            to_pgwire(&SqlError::new(
                SqlState::INTERNAL_ERROR,
                "connection has no session",
            ))
        })
}

/// Sends a statement's notices and parameter changes ahead of its result.
async fn send_side_messages<C>(
    client: &mut C,
    notices: &[Notice],
    parameter_status: &[(String, String)],
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for notice in notices {
        let info = ErrorInfo::new(
            notice.severity.to_string(),
            notice.code.to_string(),
            notice.message.clone(),
        );
        client
            .feed(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
                info,
            )))
            .await?;
    }
    for (name, value) in parameter_status {
        client
            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                name.clone(),
                value.clone(),
            )))
            .await?;
    }
    Ok(())
}

/// Turns a statement's outcome into a `pgwire` response in `format`.
fn respond(
    executed: Executed,
    format: &Format,
    session: &Arc<Session>,
    cancel: CancellationToken,
) -> PgWireResult<Response> {
    let format_options = Arc::new(session.settings().format_options());
    Ok(match executed.outcome {
        Outcome::Rows {
            schema,
            stream,
            command,
        } => {
            let fields = Arc::new(fields(&schema, format, Some(format_options))?);
            let rows = data_rows(fields.clone(), stream, cancel, session.clone());
            let mut response = QueryResponse::new(fields, rows);
            response.set_command_tag(command);
            Response::Query(response)
        }
        Outcome::Command { command, rows } => {
            let mut tag = Tag::new(&command);
            if command == "INSERT" {
                tag = tag.with_oid(0);
            }
            if let Some(rows) = rows {
                tag = tag.with_rows(rows as usize);
            }
            Response::Execution(tag)
        }
        Outcome::TransactionStart => Response::TransactionStart(Tag::new("BEGIN")),
        Outcome::TransactionEnd(tag) => Response::TransactionEnd(Tag::new(tag)),
        Outcome::CopyOut {
            schema,
            stream,
            options,
        } => {
            let (wire_format, columns, data) = copy_data(
                &schema,
                stream,
                &options,
                format_options,
                cancel,
                session.clone(),
            )?;
            Response::CopyOut(CopyResponse::new(wire_format, columns, data))
        }
    })
}

/// Runs `work` unless the statement is cancelled first.
async fn cancellable<T>(
    cancel: &CancellationToken,
    work: impl Future<Output = Result<T, SqlError>>,
) -> Result<T, SqlError> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(canceled()),
        result = work => result,
    }
}

#[async_trait]
impl SimpleQueryHandler for QueryHandler {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let session = session_of(client)?;
        let statements = match parse_statements(query) {
            Ok(statements) => statements,
            Err(error) => {
                session.on_error();
                return Ok(vec![Response::Error(Box::new(error_info(&error)))]);
            }
        };
        let mut responses = Vec::with_capacity(statements.len());
        for parsed in statements {
            let cancel = session.begin_statement();
            let result = cancellable(&cancel, async {
                let prepared = session.prepare(parsed).await?;
                session.execute(&prepared, None).await
            })
            .await;
            match result {
                Ok(executed) => {
                    send_side_messages(client, &executed.notices, &executed.parameter_status)
                        .await?;
                    responses.push(respond(executed, &Format::UnifiedText, &session, cancel)?);
                }
                Err(error) => {
                    session.on_error();
                    responses.push(Response::Error(Box::new(error_info(&error))));
                    break;
                }
            }
        }
        Ok(responses)
    }
}

/// Parse-time work of the extended protocol.
#[derive(Debug)]
pub struct Parser;

#[async_trait]
impl QueryParser for Parser {
    type Statement = PreparedStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let session = session_of(client)?;
        let result = async {
            let mut statements = parse_statements(sql)?;
            if statements.len() > 1 {
                return Err(SqlError::new(
                    SqlState::SYNTAX_ERROR,
                    "cannot insert multiple commands into a prepared statement",
                ));
            }
            match statements.pop() {
                None => Ok(None),
                Some(parsed) => session.prepare(parsed).await.map(Some),
            }
        }
        .await;
        match result {
            Ok(prepared) => Ok(prepared.map(|prepared| {
                Arc::new(PreparedWithTypes {
                    prepared,
                    client_types: types.to_vec(),
                })
            })),
            Err(error) => {
                session.on_error();
                Err(to_pgwire(&error))
            }
        }
    }

    fn get_parameter_types(&self, statement: &Self::Statement) -> PgWireResult<Vec<Type>> {
        let inferred = parameter_data_types(&statement.prepared)?;
        Ok(inferred
            .iter()
            .enumerate()
            .map(|(index, data_type)| {
                statement
                    .client_types
                    .get(index)
                    .cloned()
                    .flatten()
                    .filter(|t| *t != Type::UNKNOWN)
                    .or_else(|| {
                        data_type
                            .as_ref()
                            .and_then(|t| arrow_pg::datatypes::into_pg_type(t).ok())
                    })
                    .unwrap_or(Type::TEXT)
            })
            .collect())
    }

    fn get_result_schema(
        &self,
        statement: &Self::Statement,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match &statement.prepared.result_schema {
            Some(schema) => fields(schema, format.unwrap_or(&Format::UnifiedText), None),
            None => Ok(Vec::new()),
        }
    }
}

/// The DataFusion types of `$1..$n` as inferred from the plan (`None` where unknown).
fn parameter_data_types(prepared: &Prepared) -> PgWireResult<Vec<Option<DataType>>> {
    let Some(plan) = &prepared.plan else {
        return Ok(Vec::new());
    };
    let mut types = plan
        .get_parameter_types()
        .map_err(|e| to_pgwire(&SqlError::from_datafusion(&e, &prepared.parsed.text_map())))?;
    // `$1::BIGINT`: DataFusion leaves a placeholder under a cast untyped; PostgreSQL types it
    // by the cast.
    for (name, data_type) in cast_placeholder_types(plan) {
        let entry = types.entry(name).or_insert(None);
        if entry.is_none() {
            *entry = Some(data_type);
        }
    }
    let count = types
        .keys()
        .filter_map(|name| name.trim_start_matches('$').parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    Ok((1..=count)
        .map(|n| types.get(&format!("${n}")).cloned().flatten())
        .collect())
}

/// Placeholders that appear directly under a `CAST`, with the cast's type.
fn cast_placeholder_types(plan: &LogicalPlan) -> Vec<(String, DataType)> {
    let mut found = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                let (inner, data_type) = match e {
                    Expr::Cast(cast) => (cast.expr.as_ref(), cast.field.data_type()),
                    Expr::TryCast(cast) => (cast.expr.as_ref(), cast.field.data_type()),
                    _ => return Ok(TreeNodeRecursion::Continue),
                };
                if let Expr::Placeholder(placeholder) = inner {
                    found.push((placeholder.id.clone(), data_type.clone()));
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    found
}

/// Decodes the bound parameters of `portal`, converting each to the type the plan expects.
fn bind_parameters(portal: &Portal<PreparedStatement>) -> PgWireResult<Option<ParamValues>> {
    let prepared = &portal.statement.statement.prepared;
    if prepared.plan.is_none() {
        // Statements Runnel answers itself take no parameters; executing them reports what is
        // wrong with them (e.g. an unsupported statement) rather than a parameter mismatch.
        return Ok(None);
    }
    let inferred = parameter_data_types(prepared)?;
    if inferred.is_empty() && portal.parameter_len() == 0 {
        return Ok(None);
    }
    if portal.parameter_len() != inferred.len() {
        return Err(to_pgwire(&SqlError::new(
            SqlState("08P01"),
            format!(
                "bind message supplies {} parameters, but prepared statement requires {}",
                portal.parameter_len(),
                inferred.len()
            ),
        )));
    }
    let hints: Vec<Option<&DataType>> = inferred.iter().map(Option::as_ref).collect();
    let values = match json_as_text(portal) {
        Some(normalized) => arrow_pg::datatypes::df::deserialize_parameters(&normalized, &hints)?,
        None => arrow_pg::datatypes::df::deserialize_parameters(portal, &hints)?,
    };
    let ParamValues::List(values) = values else {
        return Ok(Some(values));
    };
    let mut cast = Vec::with_capacity(values.len());
    for (value, expected) in values.into_iter().zip(&inferred) {
        let (value, _metadata) = value.into_inner();
        let value = match expected {
            Some(expected) if value.data_type() != *expected => {
                value.cast_to(expected).map_err(|e| {
                    to_pgwire(&SqlError::new(
                        SqlState::INVALID_TEXT_REPRESENTATION,
                        format!(
                            "parameter cannot be converted to {expected}: {}",
                            e.strip_backtrace()
                        ),
                    ))
                })?
            }
            _ => value,
        };
        cast.push(value.into());
    }
    Ok(Some(ParamValues::List(cast)))
}

/// JSON parameters are text to Runnel (JSON columns are tagged UTF-8): a copy of `portal` with
/// `json`/`jsonb` parameters turned into text ones (binary `jsonb` loses its version byte), or
/// `None` when there are none.
fn json_as_text(portal: &Portal<PreparedStatement>) -> Option<Portal<PreparedStatement>> {
    let types = &portal.statement.parameter_types;
    let is_json =
        |i: usize| matches!(types.get(i), Some(Some(t)) if *t == Type::JSON || *t == Type::JSONB);
    if !(0..portal.parameter_len()).any(is_json) {
        return None;
    }
    let mut parameter_types = types.clone();
    let mut parameters = portal.parameters.clone();
    let mut formats = Vec::with_capacity(portal.parameter_len());
    for i in 0..portal.parameter_len() {
        let binary = portal.parameter_format.format_for(i) == FieldFormat::Binary;
        if is_json(i) {
            if binary
                && matches!(types.get(i), Some(Some(t)) if *t == Type::JSONB)
                && let Some(Some(bytes)) = parameters.get_mut(i)
                && bytes.first() == Some(&1)
            {
                *bytes = bytes.slice(1..);
            }
            if let Some(slot) = parameter_types.get_mut(i) {
                *slot = Some(Type::TEXT);
            }
            formats.push(0);
        } else {
            formats.push(i16::from(binary));
        }
    }
    let statement = Arc::new(StoredStatement::new(
        portal.statement.id.clone(),
        portal.statement.statement.clone(),
        parameter_types,
    ));
    let result_formats = match &portal.result_column_format {
        Format::UnifiedText => Vec::new(),
        Format::UnifiedBinary => vec![1],
        Format::Individual(codes) => codes.clone(),
    };
    let bind = Bind::new(
        Some(portal.name.clone()),
        Some(portal.statement.id.clone()),
        formats,
        parameters,
        result_formats,
    );
    Portal::try_new(&bind, statement).ok()
}

#[async_trait]
impl ExtendedQueryHandler for QueryHandler {
    type Statement = PreparedStatement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let session = session_of(client)?;
        let params = match bind_parameters(portal) {
            Ok(params) => params,
            Err(error) => {
                session.on_error();
                return Err(error);
            }
        };
        let cancel = session.begin_statement();
        let prepared = &portal.statement.statement.prepared;
        match cancellable(&cancel, session.execute(prepared, params)).await {
            Ok(executed) => {
                send_side_messages(client, &executed.notices, &executed.parameter_status).await?;
                respond(executed, &portal.result_column_format, &session, cancel)
            }
            Err(error) => {
                session.on_error();
                Err(to_pgwire(&error))
            }
        }
    }
}
