//! Planning shared by pipelines and sessions: streaming queries (group windows included),
//! `INSERT INTO` a sink table, and the connector checks that come with them.

use datafusion::execution::SessionState;
use datafusion::sql::sqlparser::ast::{Insert, Query};
use runnel_connectors::registry;
use runnel_engine::stream::sink::SinkWriter;
use runnel_sql::parser::TextMap;
use runnel_sql::streaming::{
    StreamPlan, StreamTable, UPDATING_AGGREGATE, WINDOW_RELATION_PREFIX, WindowCall,
    plan_stream_query, rewrite_group_window,
};
use runnel_sql::{SqlError, SqlState};

use super::Conform;

/// Plans `query` as a streaming query (group windows rewritten into window relations first).
/// `None` when it reads no connector table.
pub async fn plan_stream(
    state: &SessionState,
    query: &Query,
    windows: &[WindowCall],
    map: &TextMap<'_>,
) -> Result<Option<StreamPlan>, SqlError> {
    let mut query = query.clone();
    let mut windows = windows.to_vec();
    // Group windows get relation names after every window TVF call of the text.
    let next = windows
        .iter()
        .filter_map(|c| {
            c.relation
                .strip_prefix(WINDOW_RELATION_PREFIX)?
                .parse::<usize>()
                .ok()
        })
        .max()
        .map_or(0, |n| n + 1);
    if let Some(call) = rewrite_group_window(&mut query, next, map)? {
        windows.push(call);
    }
    plan_stream_query(state, &query, &windows, map).await
}

/// Plans `INSERT INTO sink <insert's query>`: the query must stream, produce the sink's
/// columns, and both tables' connector options must hold.
pub async fn plan_insert(
    state: &SessionState,
    insert: &Insert,
    sink: &StreamTable,
    windows: &[WindowCall],
    map: &TextMap<'_>,
) -> Result<StreamPlan, SqlError> {
    let name = sink.name();
    let Some(source) = &insert.source else {
        return Err(
            SqlError::unsupported("INSERT into a sink table needs a query").at(map.position(1, 1)),
        );
    };
    if !insert.columns.is_empty() {
        return Err(SqlError::unsupported(
            "INSERT with a column list into a sink table; select the sink's columns in order",
        )
        .at(map.find_identifier(name)));
    }
    let plan = plan_stream(state, source, windows, map)
        .await
        .map_err(|e| refuse_updates_into_kafka(e, sink))?
        .ok_or_else(|| {
            SqlError::unsupported(
                "INSERT INTO a sink table runs a streaming job, so its query must read a connector table",
            )
            .at(map.position(1, 1))
        })?;
    check_sink_columns(&plan.schema, sink, map)?;
    registry::validate_sink(sink.options(), &sink.sink_schema).map_err(|e| {
        SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("table \"{name}\": {e}"),
        )
        .at(map.find_identifier(name))
    })?;
    validate_source(&plan, map)?;
    Ok(plan)
}

/// A plain `kafka` sink takes appends only: an updating query's refusal names the upsert
/// connector (Flink's `upsert-kafka`, which Runnel does not have yet).
fn refuse_updates_into_kafka(error: SqlError, sink: &StreamTable) -> SqlError {
    if sink.connector() != Some("kafka") || !error.message.contains(UPDATING_AGGREGATE) {
        return error;
    }
    SqlError {
        message: format!(
            "INSERT INTO \"{}\": a 'kafka' sink takes append-only results, and this query updates its results ({UPDATING_AGGREGATE}); updating results need the 'upsert-kafka' connector, which Runnel does not have yet, or aggregate per window with a window TVF",
            sink.name()
        ),
        ..error
    }
}

/// Opens `sink` for `job` (`None`: a job that does not checkpoint): rows arrive under the
/// query's column names and leave under the sink's.
pub fn open_sink_writer(
    sink: &StreamTable,
    job: Option<&runnel_engine::stream::sink::SinkJob>,
) -> Result<Box<dyn SinkWriter>, SqlError> {
    let writer = registry::open_sink(sink.options(), &sink.sink_schema, job).map_err(|e| {
        SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("table \"{}\": {e}", sink.name()),
        )
    })?;
    Ok(Box::new(Conform::new(sink.sink_schema.clone(), writer)))
}

/// Checks the options of the table `plan` reads.
pub fn validate_source(plan: &StreamPlan, map: &TextMap<'_>) -> Result<(), SqlError> {
    let table = &plan.source.table;
    registry::validate_source(table.options(), &table.physical_schema).map_err(|e| {
        SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("table \"{}\": {e}", table.name()),
        )
        .at(map.find_identifier(table.name()))
    })
}

/// An `INSERT`'s query must produce the sink's columns: same count, same types.
pub fn check_sink_columns(
    produced: &datafusion::arrow::datatypes::SchemaRef,
    sink: &StreamTable,
    map: &TextMap<'_>,
) -> Result<(), SqlError> {
    let expected = &sink.sink_schema;
    if sink.has_computed_columns() {
        return Err(SqlError::unsupported(format!(
            "sink \"{}\" has computed columns; a sink's columns are all physical",
            sink.name()
        )));
    }
    if produced.fields().len() != expected.fields().len() {
        return Err(SqlError::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "INSERT INTO \"{}\" has {} columns but the query produces {}",
                sink.name(),
                expected.fields().len(),
                produced.fields().len()
            ),
        )
        .at(map.position(1, 1)));
    }
    for (want, got) in expected.fields().iter().zip(produced.fields()) {
        if want.data_type() != got.data_type() {
            return Err(SqlError::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "column \"{}\" of sink \"{}\" is {} but the query produces {} ({}); add a CAST",
                    want.name(),
                    sink.name(),
                    want.data_type(),
                    got.data_type(),
                    got.name()
                ),
            )
            .at(map.position(1, 1)));
        }
    }
    Ok(())
}

/// Binds a Flink `CREATE TABLE` (`text`, whose first character is at `map.position(1, 1)`) and
/// checks that it names a connector whose options hold for reading or for writing.
pub fn bind_connector_table(
    def: runnel_sql::flink::StreamTableDef,
    text: &str,
    state: &SessionState,
    map: &TextMap<'_>,
) -> Result<StreamTable, SqlError> {
    let name = def.name.clone();
    let table = StreamTable::bind(def, text.to_string(), state).map_err(|mut e| {
        // Positions of binding errors are within the statement.
        e.position = e
            .position
            .and_then(|p| map.position(1, 1).map(|start| start + p - 1));
        e
    })?;
    if table.connector().is_none() {
        return Err(SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("table \"{name}\" needs a connector: WITH ('connector' = 'kafka' | 'filesystem' | 'datagen' | 'print' | 'blackhole', ...)"),
        )
        .at(map.find_identifier(&name)));
    }
    check_connector(&table).map_err(|e| e.at(map.find_identifier(&name)))?;
    Ok(table)
}

/// A table's options must make it a source or a sink of its connector.
fn check_connector(table: &StreamTable) -> Result<(), SqlError> {
    let source = registry::validate_source(table.options(), &table.physical_schema);
    let error = match source {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    let sink = registry::validate_sink(table.options(), &table.sink_schema);
    let error = match (sink, &error) {
        (Ok(()), _) => return Ok(()),
        (Err(sink_error), runnel_connectors::ConnectorError::NotASource { .. }) => sink_error,
        (Err(_), _) => error,
    };
    Err(SqlError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("table \"{}\": {error}", table.name()),
    ))
}
