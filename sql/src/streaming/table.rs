//! Stream tables: a Flink `CREATE TABLE ... WITH ('connector' = ...)` bound to names and types.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, Result as DfResult, plan_err};
use datafusion::datasource::TableType;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;

use super::window_tvf::WindowCall;
use crate::error::{SqlError, SqlState};
use crate::flink::{ColumnKind, StreamTableDef};
use crate::parser::TextMap;
use runnel_engine::stream::source::{METADATA_COLUMN_KEY, METADATA_VIRTUAL_KEY};

/// A stream table: what its connector reads or writes, and how its rows get event time.
#[derive(Debug)]
pub struct StreamTable {
    /// The statement as parsed.
    pub def: StreamTableDef,
    /// The `CREATE TABLE` text, for `SHOW CREATE TABLE` and re-planning after a restart.
    pub definition: String,
    /// The columns the connector reads: physical and metadata columns in declaration order.
    /// Metadata columns carry [`METADATA_COLUMN_KEY`] (and [`METADATA_VIRTUAL_KEY`]) in their
    /// field metadata, so the connector knows what to fill them with.
    pub physical_schema: SchemaRef,
    /// The columns a sink writes: `physical_schema` without the `VIRTUAL` metadata columns.
    pub sink_schema: SchemaRef,
    /// Every column in declaration order (physical and computed).
    pub schema: SchemaRef,
    /// One expression per column of `schema`, over `physical_schema`: a column reference for
    /// physical columns, the bound expression for computed ones.
    pub columns: Vec<Expr>,
    /// The event-time column (index into `schema`) and the watermark expression over `schema`.
    pub watermark: Option<(usize, Expr)>,
}

impl StreamTable {
    /// Whether column `index` is a processing-time attribute (`name AS PROCTIME()`).
    pub fn is_processing_time(&self, index: usize) -> bool {
        self.columns
            .get(index)
            .is_some_and(crate::functions::proctime::is_proctime_call)
    }

    /// Binds `def` with `state`'s functions: computed columns and the watermark expression are
    /// planned and type-checked now, so a bad table never reaches a job.
    pub fn bind(
        def: StreamTableDef,
        definition: String,
        state: &SessionState,
    ) -> Result<StreamTable, SqlError> {
        let map = TextMap::whole(&definition);
        let mut physical = Vec::new();
        for column in &def.columns {
            match &column.kind {
                ColumnKind::Physical {
                    data_type,
                    nullable,
                } => physical.push(Field::new(&column.name, data_type.clone(), *nullable)),
                ColumnKind::Metadata {
                    data_type,
                    key,
                    is_virtual,
                } => physical.push(metadata_field(&column.name, data_type, key, *is_virtual)),
                ColumnKind::Computed { .. } => {}
            }
        }
        let sink_schema = Arc::new(Schema::new(
            physical
                .iter()
                .filter(|f| !f.metadata().contains_key(METADATA_VIRTUAL_KEY))
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let physical_schema = Arc::new(Schema::new(physical));
        let physical_df = DFSchema::try_from(physical_schema.as_ref().clone())
            .map_err(|e| SqlError::from_datafusion(&e, &map))?;
        let mut fields = Vec::with_capacity(def.columns.len());
        let mut columns = Vec::with_capacity(def.columns.len());
        for column in &def.columns {
            match &column.kind {
                ColumnKind::Physical {
                    data_type,
                    nullable,
                } => {
                    fields.push(Field::new(&column.name, data_type.clone(), *nullable));
                    columns.push(Expr::Column(datafusion::common::Column::new_unqualified(
                        &column.name,
                    )));
                }
                ColumnKind::Computed { expr } => {
                    let bound = state
                        .create_logical_expr(&expr.to_string(), &physical_df)
                        .map_err(|e| {
                            SqlError::from_datafusion(&e, &map)
                                .at(map.find_identifier(&column.name))
                        })?;
                    let (data_type, nullable) = bound
                        .to_field(&physical_df)
                        .map(|(_, field)| (field.data_type().clone(), field.is_nullable()))
                        .map_err(|e| SqlError::from_datafusion(&e, &map))?;
                    fields.push(Field::new(&column.name, data_type, nullable));
                    columns.push(bound.alias(&column.name));
                }
                ColumnKind::Metadata { data_type, .. } => {
                    // The table's own schema is plain: the tags are for the connector.
                    fields.push(Field::new(&column.name, data_type.clone(), true));
                    columns.push(Expr::Column(datafusion::common::Column::new_unqualified(
                        &column.name,
                    )));
                }
            }
        }
        let schema = Arc::new(Schema::new(fields));
        let watermark = match &def.watermark {
            None => None,
            Some(watermark) => {
                let index = schema.index_of(&watermark.column).map_err(|_| {
                    SqlError::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "the WATERMARK column \"{}\" is not a column of the table",
                            watermark.column
                        ),
                    )
                    .at(map.find_identifier(&watermark.column))
                })?;
                let time_type = schema.field(index).data_type();
                if !matches!(time_type, DataType::Timestamp(..)) {
                    return Err(SqlError::new(
                        SqlState::DATATYPE_MISMATCH,
                        format!(
                            "the WATERMARK column \"{}\" must be TIMESTAMP(p) or TIMESTAMP_LTZ(p), it is {}",
                            watermark.column,
                            crate::types::pg_type_name(schema.field(index))
                        ),
                    )
                    .at(map.find_identifier(&watermark.column)));
                }
                let full_df = DFSchema::try_from(schema.as_ref().clone())
                    .map_err(|e| SqlError::from_datafusion(&e, &map))?;
                let expr = state
                    .create_logical_expr(&watermark.expr.to_string(), &full_df)
                    .map_err(|e| SqlError::from_datafusion(&e, &map))?;
                let data_type = expr
                    .get_type(&full_df)
                    .map_err(|e| SqlError::from_datafusion(&e, &map))?;
                if !matches!(data_type, DataType::Timestamp(..)) {
                    return Err(SqlError::new(
                        SqlState::DATATYPE_MISMATCH,
                        format!(
                            "the WATERMARK expression must return a timestamp, it returns {data_type}"
                        ),
                    )
                    .at(map.find_identifier("WATERMARK")));
                }
                Some((index, expr))
            }
        };
        Ok(StreamTable {
            def,
            definition,
            physical_schema,
            sink_schema,
            schema,
            columns,
            watermark,
        })
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// The connector named by the `connector` option.
    pub fn connector(&self) -> Option<&str> {
        option(&self.def, "connector")
    }

    /// The WITH options.
    pub fn options(&self) -> &[(String, String)] {
        &self.def.options
    }

    /// Whether the table has computed columns (`name AS expr`).
    pub fn has_computed_columns(&self) -> bool {
        self.def
            .columns
            .iter()
            .any(|c| matches!(c.kind, ColumnKind::Computed { .. }))
    }

    /// Whether every column comes straight from the connector as it is (no computed or
    /// metadata columns).
    pub fn is_physical_only(&self) -> bool {
        self.schema.fields().len() == self.physical_schema.fields().len()
            && self
                .schema
                .fields()
                .iter()
                .zip(self.physical_schema.fields())
                .all(|(a, b)| a.name() == b.name() && b.metadata().is_empty())
    }
}

/// A metadata column as the connector sees it: nullable, tagged with its metadata key.
fn metadata_field(
    name: &str,
    data_type: &DataType,
    key: &Option<String>,
    is_virtual: bool,
) -> Field {
    let mut metadata = std::collections::HashMap::from([(
        METADATA_COLUMN_KEY.to_string(),
        key.clone().unwrap_or_else(|| name.to_string()),
    )]);
    if is_virtual {
        metadata.insert(METADATA_VIRTUAL_KEY.to_string(), "true".to_string());
    }
    Field::new(name, data_type.clone(), true).with_metadata(metadata)
}

fn option<'a>(def: &'a StreamTableDef, key: &str) -> Option<&'a str> {
    def.options
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A stream table as DataFusion sees it while planning: its columns. It is never scanned by
/// DataFusion itself; streaming queries are turned into jobs instead.
#[derive(Debug, Clone)]
pub struct StreamTableProvider {
    /// The table.
    pub table: Arc<StreamTable>,
}

#[async_trait]
impl TableProvider for StreamTableProvider {
    fn schema(&self) -> SchemaRef {
        self.table.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        plan_err!(
            "stream table \"{}\" is read by streaming queries only; this query mixes it with something that cannot stream",
            self.table.name()
        )
    }
}

/// The relation a window TVF call stands for: the columns of the table (or view) it reads
/// plus `window_start`, `window_end` and `window_time`. Only planned, never scanned.
#[derive(Debug, Clone)]
pub struct WindowRelationProvider {
    /// The stream table whose rows are windowed.
    pub table: Arc<StreamTable>,
    /// When the window reads a view over `table`: the view's plan, which the rows go through
    /// before the window.
    pub view: Option<Arc<LogicalPlan>>,
    /// The input's columns and the three window columns.
    pub schema: SchemaRef,
    /// Whether the time column is `PROCTIME()`: the window is over processing time, and the
    /// job's watermark is the wall clock.
    pub processing_time: bool,
    /// The window call.
    pub call: WindowCall,
}

impl WindowRelationProvider {
    /// The relation over `table` (through `view`, whose output is `input`), with event time
    /// (or processing time) in column `time_column` of `input`.
    pub fn new(
        table: Arc<StreamTable>,
        view: Option<Arc<LogicalPlan>>,
        input: &Schema,
        time_column: usize,
        processing_time: bool,
        call: WindowCall,
    ) -> Self {
        let time_zone = match input.field(time_column).data_type() {
            DataType::Timestamp(_, zone) => zone.clone(),
            _ => None,
        };
        let window_type = DataType::Timestamp(
            datafusion::arrow::datatypes::TimeUnit::Millisecond,
            time_zone,
        );
        // Flink's types: window_start and window_end are TIMESTAMP(3), window_time has the
        // time column's type.
        let bound_type =
            DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Millisecond, None);
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("window_start", bound_type.clone(), false));
        fields.push(Field::new("window_end", bound_type, false));
        fields.push(Field::new("window_time", window_type, false));
        WindowRelationProvider {
            table,
            view,
            schema: Arc::new(Schema::new(fields)),
            processing_time,
            call,
        }
    }
}

#[async_trait]
impl TableProvider for WindowRelationProvider {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        plan_err!("window relations are read by streaming queries only")
    }
}
