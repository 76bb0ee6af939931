//! From a query to a [`StreamPlan`]: DataFusion plans the SQL (with window relations and
//! Flink's AVG in scope), then the logical plan is walked bottom-up into stages.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::{DFSchema, DFSchemaRef, TableReference};
use datafusion::execution::SessionState;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_expr::aggregate::LoweredAggregateBuilder;
use datafusion::physical_expr::expressions::Column as PhysicalColumn;
use datafusion::physical_plan::PhysicalExpr;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Query, Statement};
use runnel_engine::stream::source::{PROCESSING_TIME_TICK, SourceSpec};
use runnel_engine::stream::window::{SessionAggregateSpec, WindowAggregateSpec, WindowKind};

use super::context::{StreamContext, source};
use super::fuse;
use super::plan::{CalcStage, SourceStage, Stage, StreamPlan, WindowAggregateKind, WindowStage};
use super::table::{StreamTable, StreamTableProvider, WindowRelationProvider};
use super::views;
use super::window_tvf::{WINDOW_RELATION_PREFIX, WindowCall, WindowFunction};
use crate::error::{SqlError, SqlState};
use crate::parser::TextMap;

/// Plans `query` as a streaming query if it reads a stream table (directly or through a
/// window). `None`: it reads no stream table, so it is an ordinary query. `windows` are the
/// window calls found in the text and in its group windows.
pub async fn plan_stream_query(
    state: &SessionState,
    query: &Query,
    windows: &[WindowCall],
    map: &TextMap<'_>,
) -> Result<Option<StreamPlan>, SqlError> {
    let statement = Statement::Query(Box::new(query.clone()));
    let Some(plan) = plan_logical(state, statement, windows, map).await? else {
        return Ok(None);
    };
    let mut builder = Builder { state, map };
    let pipeline = builder.plan(&plan)?;
    let Some(source) = pipeline.source else {
        return Ok(None);
    };
    if pipeline.window.is_some() {
        return Err(not_incremental(
            "a window TVF's rows must be aggregated: GROUP BY window_start, window_end",
            map,
        ));
    }
    Ok(Some(StreamPlan {
        source,
        stages: fuse::fuse_calcs(pipeline.stages),
        schema: Arc::new(plan.schema().as_arrow().clone()),
    }))
}

/// The analyzed logical plan of `statement` if it reads a stream table (directly, through a
/// view, or through one of `windows`); `None` for an ordinary query.
async fn plan_logical(
    state: &SessionState,
    statement: Statement,
    windows: &[WindowCall],
    map: &TextMap<'_>,
) -> Result<Option<LogicalPlan>, SqlError> {
    let references = state
        .resolve_table_references(&DfStatement::Statement(Box::new(statement.clone())))
        .map_err(|e| SqlError::from_datafusion(&e, map))?;
    let mut tables = HashMap::new();
    let mut streaming = false;
    for reference in references {
        let key = StreamContext::key(&reference);
        if tables.contains_key(&key) {
            continue;
        }
        if key.starts_with(WINDOW_RELATION_PREFIX) {
            let Some(call) = windows.iter().find(|c| c.relation == key) else {
                return Err(SqlError::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation \"{key}\" does not exist"),
                ));
            };
            let provider = window_relation(state, call, map).await?;
            tables.insert(key, source(Arc::new(provider)));
            streaming = true;
            continue;
        }
        if let Some(provider) = lookup(state, &reference).await? {
            streaming |=
                provider.is::<StreamTableProvider>() || views::stream_view(&provider).is_some();
            tables.insert(key, source(provider));
        }
    }
    if !streaming {
        return Ok(None);
    }
    let context = StreamContext::new(state, tables);
    let plan = context
        .plan(statement)
        .map_err(|e| SqlError::from_datafusion(&e, map))?;
    let plan = state
        .analyzer()
        .execute_and_check(plan, state.config_options(), |_, _| {})
        .map_err(|e| SqlError::from_datafusion(&e, map))?;
    Ok(Some(plan))
}

async fn lookup(
    state: &SessionState,
    reference: &TableReference,
) -> Result<Option<Arc<dyn datafusion::catalog::TableProvider>>, SqlError> {
    let Ok(schema) = state.schema_for_ref(reference.clone()) else {
        return Ok(None);
    };
    schema
        .table(reference.table())
        .await
        .map_err(|e| SqlError::new(SqlState::INTERNAL_ERROR, e.to_string()))
}

/// The stream table named `name` in `state`'s catalog; an error (positioned at `position`, or
/// at the name) when there is none or it is not a stream table.
pub async fn stream_table(
    state: &SessionState,
    name: &str,
    map: &TextMap<'_>,
    position: Option<usize>,
) -> Result<Arc<StreamTable>, SqlError> {
    let reference = TableReference::from(name);
    match lookup(state, &reference).await? {
        Some(provider) => match provider.downcast_ref::<StreamTableProvider>() {
            Some(stream) => Ok(stream.table.clone()),
            None => Err(SqlError::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!("\"{name}\" is not a stream table: windows read tables declared with a connector and a WATERMARK"),
            )
            .at(position)),
        },
        None => Err(SqlError::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        )
        .at(position.or_else(|| map.find_identifier(name)))),
    }
}

/// The relation of a window call: over a stream table, or over a view or derived table of
/// one that passes the table's event-time column through, or whose time column is
/// `PROCTIME()` (a processing-time window).
async fn window_relation(
    state: &SessionState,
    call: &WindowCall,
    map: &TextMap<'_>,
) -> Result<WindowRelationProvider, SqlError> {
    if let Some(subquery) = &call.subquery {
        let statement = Statement::Query(subquery.clone());
        // Boxed: plan_logical calls this function (for window relations), so the futures nest.
        let Some(plan) = Box::pin(plan_logical(state, statement, &[], map)).await? else {
            return Err(SqlError::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!(
                    "derived table \"{}\" reads no stream table: group windows are over streams",
                    call.table
                ),
            )
            .at(call.position));
        };
        return view_window(call, &plan, map);
    }
    let reference = TableReference::from(call.table.as_str());
    if let Some(provider) = lookup(state, &reference).await?
        && let Some(view) = views::stream_view(&provider)
    {
        return view_window(call, view, map);
    }
    let table = stream_table(state, &call.table, map, call.position).await?;
    let (time_column, processing_time) = check_time_column(&table, call, map)?;
    let schema = table.schema.clone();
    Ok(WindowRelationProvider::new(
        table,
        None,
        &schema,
        time_column,
        processing_time,
        call.clone(),
    ))
}

/// The relation of a window over `view` (a view's or a derived table's plan).
fn view_window(
    call: &WindowCall,
    view: &LogicalPlan,
    map: &TextMap<'_>,
) -> Result<WindowRelationProvider, SqlError> {
    let tables = views::scanned_stream_tables(view);
    let [table] = tables.as_slice() else {
        return Err(SqlError::unsupported(format!(
            "a window can read a view of one stream table; \"{}\" reads {}",
            call.table,
            tables.len()
        ))
        .at(call.position));
    };
    let input = view.schema().as_arrow().clone();
    let position = map.find_identifier(&call.time_column).or(call.position);
    let Ok(index) = input.index_of(&call.time_column) else {
        return Err(SqlError::new(
            SqlState::UNDEFINED_COLUMN,
            format!(
                "column \"{}\" does not exist in \"{}\"",
                call.time_column, call.table
            ),
        )
        .at(position));
    };
    let processing_time = views::is_processing_time(view, &call.time_column);
    if !processing_time {
        let source_column = views::passed_through(view, &call.time_column);
        let event_time = table
            .watermark
            .as_ref()
            .map(|(time, _)| table.schema.field(*time).name().clone());
        if event_time.is_none() || source_column != event_time {
            return Err(SqlError::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "column \"{}\" of \"{}\" is neither the event-time (WATERMARK) column of \"{}\" passed through unchanged nor PROCTIME(); windows are over event time or processing time",
                    call.time_column,
                    call.table,
                    table.name()
                ),
            )
            .at(position));
        }
    }
    Ok(WindowRelationProvider::new(
        table.clone(),
        Some(Arc::new(view.clone())),
        &input,
        index,
        processing_time,
        call.clone(),
    ))
}

/// The DESCRIPTOR column must be the table's event-time (WATERMARK) column or a processing-time
/// column (`name AS PROCTIME()`), as in Flink. Returns its index and whether it is processing
/// time.
fn check_time_column(
    table: &StreamTable,
    call: &WindowCall,
    map: &TextMap<'_>,
) -> Result<(usize, bool), SqlError> {
    let Ok(index) = table.schema.index_of(&call.time_column) else {
        return Err(SqlError::new(
            SqlState::UNDEFINED_COLUMN,
            format!(
                "column \"{}\" does not exist in \"{}\"",
                call.time_column,
                table.name()
            ),
        )
        .at(map.find_identifier(&call.time_column).or(call.position)));
    };
    if table.is_processing_time(index) {
        return Ok((index, true));
    }
    match &table.watermark {
        Some((time, _)) if *time == index => Ok((index, false)),
        Some((time, _)) => Err(SqlError::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "column \"{}\" is not the event-time column of \"{}\"; windows are over its WATERMARK column \"{}\" or a PROCTIME() column",
                call.time_column,
                table.name(),
                table.schema.field(*time).name()
            ),
        )
        .at(map.find_identifier(&call.time_column).or(call.position))),
        None => Err(SqlError::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "\"{}\" has no event time: declare WATERMARK FOR {} AS {} - INTERVAL '5' SECOND in its CREATE TABLE (or window over a processing-time column, name AS PROCTIME())",
                table.name(),
                call.time_column,
                call.time_column
            ),
        )
        .at(call.position)),
    }
}

/// Why a GROUP BY without a window cannot stream: it is an updating query. Sinks that take
/// only appends name this in their own refusal.
pub const UPDATING_AGGREGATE: &str =
    "GROUP BY over a stream without a window would update its results forever";

fn not_incremental(reason: &str, map: &TextMap<'_>) -> SqlError {
    SqlError::unsupported(format!("this query cannot run incrementally: {reason}"))
        .at(map.position(1, 1))
}

/// What the walk has built so far.
struct Pipeline {
    source: Option<SourceStage>,
    stages: Vec<Stage>,
    /// The logical schema of the current output.
    schema: DFSchemaRef,
    /// The schema of the batches that actually flow (differs from `schema` only while a window
    /// relation's virtual columns are in scope).
    physical: SchemaRef,
    /// The window call whose relation is in scope, before its aggregation.
    window: Option<WindowCall>,
    /// Whether that window is over processing time.
    processing_time: bool,
}

impl Pipeline {
    /// The window in scope is over processing time: the source's watermark becomes the wall
    /// clock (the table's WATERMARK, if any, says nothing about processing time).
    fn processing_time(&mut self) {
        self.processing_time = true;
        if let Some(source) = self.source.as_mut() {
            source.spec.watermark = None;
            source.spec.processing_time = Some(PROCESSING_TIME_TICK);
        }
    }
}

struct Builder<'a> {
    state: &'a SessionState,
    map: &'a TextMap<'a>,
}

impl Builder<'_> {
    fn error(&self, error: datafusion::common::DataFusionError) -> SqlError {
        SqlError::from_datafusion(&error, self.map)
    }

    fn plan(&mut self, plan: &LogicalPlan) -> Result<Pipeline, SqlError> {
        match plan {
            LogicalPlan::TableScan(scan) => self.scan(scan),
            LogicalPlan::SubqueryAlias(alias) => {
                let mut input = self.plan(&alias.input)?;
                input.schema = alias.schema.clone();
                Ok(input)
            }
            LogicalPlan::Filter(filter) => {
                let mut input = self.plan(&filter.input)?;
                self.check_no_window_columns(&input, std::slice::from_ref(&filter.predicate))?;
                let predicate = self.physical(&filter.predicate, &input.schema)?;
                let projection = identity(&input.physical);
                input.stages.push(Stage::Calc(CalcStage {
                    predicate: Some(predicate),
                    projection,
                    schema: input.physical.clone(),
                    description: format!("Calc: filter={}", filter.predicate),
                }));
                Ok(input)
            }
            LogicalPlan::Projection(projection) => {
                let mut input = self.plan(&projection.input)?;
                if input.window.is_some() {
                    return Err(not_incremental(
                        "a window TVF's rows must be aggregated directly: GROUP BY window_start, window_end (and keys) in the query that reads the window",
                        self.map,
                    ));
                }
                let exprs = projection
                    .expr
                    .iter()
                    .map(|e| self.physical(e, &input.schema))
                    .collect::<Result<Vec<_>, _>>()?;
                let schema: SchemaRef = Arc::new(projection.schema.as_arrow().clone());
                let names: Vec<String> = projection.expr.iter().map(|e| e.to_string()).collect();
                input.stages.push(Stage::Calc(CalcStage {
                    predicate: None,
                    projection: exprs,
                    schema: schema.clone(),
                    description: format!("Calc: select=[{}]", names.join(", ")),
                }));
                input.schema = projection.schema.clone();
                input.physical = schema;
                Ok(input)
            }
            LogicalPlan::Aggregate(aggregate) => self.aggregate(aggregate),
            LogicalPlan::Sort(_) => Err(not_incremental(
                "ORDER BY over an unbounded stream never finishes; sort when you read the results (SELECT ... FROM a materialized view ORDER BY ...), or order by a window and use LIMIT in that query",
                self.map,
            )),
            LogicalPlan::Limit(_) => Err(not_incremental(
                "LIMIT over an unbounded stream; create a materialized view and apply LIMIT when you query it",
                self.map,
            )),
            LogicalPlan::Join(_) => Err(not_incremental(
                "joins of streams are not supported yet; aggregate the stream in a materialized view, then join the view with tables in an ordinary query",
                self.map,
            )),
            LogicalPlan::Distinct(_) => Err(not_incremental(
                "SELECT DISTINCT over a stream would have to retract rows; group by a window instead",
                self.map,
            )),
            LogicalPlan::Window(_) => Err(not_incremental(
                "OVER windows are not supported on streams yet; use a window TVF with GROUP BY",
                self.map,
            )),
            LogicalPlan::Union(_) => Err(not_incremental(
                "UNION of streams is not supported yet",
                self.map,
            )),
            other => Err(not_incremental(
                &format!("{} over a stream is not supported", other.display()),
                self.map,
            )),
        }
    }

    fn scan(&mut self, scan: &datafusion::logical_expr::TableScan) -> Result<Pipeline, SqlError> {
        let provider =
            datafusion::datasource::source_as_provider(&scan.source).map_err(|e| self.error(e))?;
        let (table, window) = if let Some(stream) = provider.downcast_ref::<StreamTableProvider>() {
            (stream.table.clone(), None)
        } else if let Some(window) = provider.downcast_ref::<WindowRelationProvider>()
            && let Some(view) = &window.view
        {
            // The view's rows, then the window over them.
            let mut pipeline = self.plan(view)?;
            if scan.projection.is_some() || !scan.filters.is_empty() {
                return Err(SqlError::new(
                    SqlState::INTERNAL_ERROR,
                    "unexpected projection on a window relation",
                ));
            }
            pipeline.schema = Arc::new(
                DFSchema::try_from_qualified_schema(scan.table_name.clone(), &provider.schema())
                    .map_err(|e| self.error(e))?,
            );
            pipeline.window = Some(window.call.clone());
            if window.processing_time {
                pipeline.processing_time();
            }
            return Ok(pipeline);
        } else if let Some(window) = provider.downcast_ref::<WindowRelationProvider>() {
            (window.table.clone(), Some(window.call.clone()))
        } else {
            return Err(not_incremental(
                &format!(
                    "\"{}\" is not a stream table, and streaming queries read exactly one stream table",
                    scan.table_name
                ),
                self.map,
            ));
        };
        if !scan.filters.is_empty() || scan.fetch.is_some() {
            return Err(SqlError::new(
                SqlState::INTERNAL_ERROR,
                "unexpected pushed-down scan filters",
            ));
        }
        let spec = self.source_spec(&table)?;
        // The full (window) schema, qualified by the table name.
        let full_schema = provider.schema();
        let qualified = Arc::new(
            DFSchema::try_from_qualified_schema(scan.table_name.clone(), &full_schema)
                .map_err(|e| self.error(e))?,
        );
        let mut pipeline = Pipeline {
            source: Some(SourceStage {
                table: Arc::clone(&table),
                spec,
            }),
            stages: Vec::new(),
            schema: qualified,
            physical: table.schema.clone(),
            window,
            processing_time: false,
        };
        if provider
            .downcast_ref::<WindowRelationProvider>()
            .is_some_and(|w| w.processing_time)
        {
            pipeline.processing_time();
        }
        if let Some(projection) = &scan.projection {
            if pipeline.window.is_some() {
                return Err(SqlError::new(
                    SqlState::INTERNAL_ERROR,
                    "unexpected projection on a window relation",
                ));
            }
            let exprs: Vec<Arc<dyn PhysicalExpr>> = projection
                .iter()
                .map(|&i| {
                    Arc::new(PhysicalColumn::new(table.schema.field(i).name(), i))
                        as Arc<dyn PhysicalExpr>
                })
                .collect();
            let schema: SchemaRef = Arc::new(scan.projected_schema.as_arrow().clone());
            pipeline.stages.push(Stage::Calc(CalcStage {
                predicate: None,
                projection: exprs,
                schema: schema.clone(),
                description: "Calc: projection".to_string(),
            }));
            pipeline.schema = scan.projected_schema.clone();
            pipeline.physical = schema;
        }
        Ok(pipeline)
    }

    fn source_spec(&self, table: &StreamTable) -> Result<SourceSpec, SqlError> {
        let computed = if table.is_physical_only() {
            None
        } else {
            let physical = DFSchema::try_from(table.physical_schema.as_ref().clone())
                .map_err(|e| self.error(e))?;
            let exprs = table
                .columns
                .iter()
                .map(|e| self.physical(e, &physical))
                .collect::<Result<Vec<_>, _>>()?;
            Some((exprs, table.schema.clone()))
        };
        let watermark = match &table.watermark {
            Some((_, expr)) => {
                let schema =
                    DFSchema::try_from(table.schema.as_ref().clone()).map_err(|e| self.error(e))?;
                Some(self.physical(expr, &schema)?)
            }
            None => None,
        };
        Ok(SourceSpec {
            computed,
            watermark,
            // An option of the connector, known when the job opens its source.
            idle_timeout: None,
            // Set when a window over processing time reads the source.
            processing_time: None,
        })
    }

    fn physical(&self, expr: &Expr, schema: &DFSchema) -> Result<Arc<dyn PhysicalExpr>, SqlError> {
        self.state
            .create_physical_expr(expr.clone(), schema)
            .map_err(|e| self.error(e))
    }

    /// Expressions evaluated before a window aggregation cannot read the window columns:
    /// they do not exist until the aggregation assigns windows.
    fn check_no_window_columns(&self, input: &Pipeline, exprs: &[Expr]) -> Result<(), SqlError> {
        if input.window.is_none() {
            return Ok(());
        }
        for expr in exprs {
            for column in expr.column_refs() {
                if matches!(
                    column.name.as_str(),
                    "window_start" | "window_end" | "window_time"
                ) && input.physical.index_of(&column.name).is_err()
                {
                    return Err(SqlError::unsupported(format!(
                        "{} can only be used after GROUP BY window_start, window_end (in SELECT or HAVING)",
                        column.name
                    ))
                    .at(self.map.find_identifier(&column.name)));
                }
            }
        }
        Ok(())
    }

    fn aggregate(
        &mut self,
        aggregate: &datafusion::logical_expr::Aggregate,
    ) -> Result<Pipeline, SqlError> {
        let mut input = self.plan(&aggregate.input)?;
        let Some(call) = input.window.take() else {
            return Err(not_incremental(
                &format!(
                    "{UPDATING_AGGREGATE}; group by window_start, window_end of a window TVF, e.g. FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, ..."
                ),
                self.map,
            ));
        };
        let table_columns = input.physical.fields().len();
        // Group expressions: the window columns, and keys over the table's columns.
        let mut window_columns: Vec<Option<usize>> = Vec::new();
        let mut keys: Vec<(Arc<dyn PhysicalExpr>, String)> = Vec::new();
        let mut key_exprs = Vec::new();
        for expr in &aggregate.group_expr {
            let window_column = match expr {
                Expr::Column(column) => match input.schema.index_of_column(column) {
                    Ok(index) if index >= table_columns => Some(index - table_columns),
                    _ => None,
                },
                _ => None,
            };
            match window_column {
                Some(window_column) => window_columns.push(Some(window_column)),
                None => {
                    self.check_no_window_columns(&input, std::slice::from_ref(expr))?;
                    window_columns.push(None);
                    keys.push((
                        self.physical(expr, &input.schema)?,
                        expr.schema_name().to_string(),
                    ));
                    key_exprs.push(expr.to_string());
                }
            }
        }
        if !(window_columns.contains(&Some(0)) && window_columns.contains(&Some(1))) {
            return Err(SqlError::new(
                SqlState::GROUPING_ERROR,
                "a window aggregation must GROUP BY both window_start and window_end",
            )
            .at(self.map.find_identifier("GROUP")));
        }
        let physical_input: &Schema = &input.physical;
        let mut aggregates = Vec::new();
        for expr in &aggregate.aggr_expr {
            self.check_no_window_columns(&input, std::slice::from_ref(expr))?;
            let planning = PhysicalPlanningContext::default();
            let lowered = LoweredAggregateBuilder::new(
                expr,
                &input.schema,
                physical_input,
                self.state.execution_props(),
                &planning,
            )
            .build()
            .map_err(|e| self.error(e))?;
            let aggregate = lowered.aggregate;
            if lowered.filter.is_some() || !lowered.order_bys.is_empty() {
                return Err(SqlError::unsupported(
                    "FILTER (WHERE ...) and ORDER BY inside window aggregates are not supported yet",
                )
                .at(self.map.find_identifier("FILTER")));
            }
            aggregates.push(aggregate);
        }
        let time_column = input
            .physical
            .index_of(&call.time_column)
            .map_err(|e| SqlError::new(SqlState::UNDEFINED_COLUMN, e.to_string()))?;
        let names: Vec<String> = aggregate.aggr_expr.iter().map(|e| e.to_string()).collect();
        let kind = match call.function {
            WindowFunction::Session => {
                let mut sorted_keys: Vec<String> = key_exprs
                    .iter()
                    .map(|k| k.rsplit('.').next().unwrap_or(k).to_string())
                    .collect();
                sorted_keys.sort();
                let mut partition = call.partition_by.clone();
                partition.sort();
                if partition != sorted_keys {
                    return Err(SqlError::unsupported(format!(
                        "SESSION windows are per key: PARTITION BY ({}) must list exactly the GROUP BY keys besides window_start and window_end ({})",
                        call.partition_by.join(", "),
                        sorted_keys.join(", ")
                    ))
                    .at(call.position));
                }
                WindowAggregateKind::Session(SessionAggregateSpec {
                    input_schema: input.physical.clone(),
                    time_column,
                    gap: call.intervals[0],
                    keys: keys.clone(),
                    aggregates,
                })
            }
            function => {
                let window = match function {
                    WindowFunction::Tumble => WindowKind::Tumble {
                        size: call.intervals[0],
                        offset: call.intervals[1],
                    },
                    WindowFunction::Hop => WindowKind::Hop {
                        slide: call.intervals[0],
                        size: call.intervals[1],
                        offset: call.intervals[2],
                    },
                    _ => WindowKind::Cumulate {
                        step: call.intervals[0],
                        max_size: call.intervals[1],
                        offset: call.intervals[2],
                    },
                };
                window.validate().map_err(|e| {
                    SqlError::new(SqlState::INVALID_PARAMETER_VALUE, e.to_string())
                        .at(call.position)
                })?;
                WindowAggregateKind::Windows(WindowAggregateSpec {
                    input_schema: input.physical.clone(),
                    time_column,
                    window,
                    keys: keys.clone(),
                    aggregates,
                })
            }
        };
        let intervals: Vec<String> = call.intervals.iter().map(|ms| format!("{ms} ms")).collect();
        input.stages.push(Stage::Window(WindowStage {
            aggregate: kind,
            partition_keys: keys.iter().map(|(k, _)| k.clone()).collect(),
            description: format!(
                "WindowAggregate: {}({}{}, {}) keys=[{}] aggregates=[{}]",
                call.function.name(),
                call.time_column,
                if input.processing_time {
                    " (processing time)"
                } else {
                    ""
                },
                intervals.join(", "),
                key_exprs.join(", "),
                names.join(", ")
            ),
        }));
        // Reorder the operator's columns (window_start, window_end, window_time, keys,
        // aggregates) into DataFusion's (group expressions in order, then aggregates).
        let schema: SchemaRef = Arc::new(aggregate.schema.as_arrow().clone());
        let mut projection: Vec<Arc<dyn PhysicalExpr>> = Vec::new();
        let mut next_key = 0;
        for (slot, window_column) in window_columns.iter().enumerate() {
            let index = match window_column {
                Some(column) => *column,
                None => {
                    next_key += 1;
                    2 + next_key
                }
            };
            projection.push(Arc::new(PhysicalColumn::new(
                schema.field(slot).name(),
                index,
            )));
        }
        for (i, _) in aggregate.aggr_expr.iter().enumerate() {
            let slot = window_columns.len() + i;
            projection.push(Arc::new(PhysicalColumn::new(
                schema.field(slot).name(),
                3 + keys.len() + i,
            )));
        }
        input.stages.push(Stage::Calc(CalcStage {
            predicate: None,
            projection,
            schema: schema.clone(),
            description: "Calc: group columns".to_string(),
        }));
        input.schema = aggregate.schema.clone();
        input.physical = schema;
        Ok(input)
    }
}

fn identity(schema: &SchemaRef) -> Vec<Arc<dyn PhysicalExpr>> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| Arc::new(PhysicalColumn::new(f.name(), i)) as Arc<dyn PhysicalExpr>)
        .collect()
}
