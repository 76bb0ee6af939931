//! What every window aggregation shares: the output columns (`window_start`, `window_end`,
//! `window_time`, keys, aggregates) and the per-batch evaluation of its inputs.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::PhysicalExpr;

use super::super::watermark::event_time_millis;
use super::super::{EventTime, StreamError};

/// The columns a window aggregation reads and emits.
#[derive(Debug)]
pub(super) struct Layout {
    input_schema: SchemaRef,
    time_column: usize,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    /// Emitted rows: window bounds, keys, aggregates.
    pub output_schema: SchemaRef,
    /// The keys alone (for DataFusion's `GroupValues`).
    pub key_schema: SchemaRef,
    time_zone: Option<Arc<str>>,
}

/// One batch's inputs, evaluated once.
pub(super) struct Evaluated {
    /// Event time of each row in milliseconds (no NULLs).
    pub times: Int64Array,
    /// Key columns.
    pub keys: Vec<ArrayRef>,
    /// Argument columns of each aggregate.
    pub inputs: Vec<Vec<ArrayRef>>,
}

impl Layout {
    /// Checks that `time_column` is a timestamp and derives the output schema.
    pub fn try_new(
        input_schema: &SchemaRef,
        time_column: usize,
        keys: &[(Arc<dyn PhysicalExpr>, String)],
        aggregates: &[Arc<AggregateFunctionExpr>],
    ) -> Result<Self, StreamError> {
        let time_field = input_schema
            .fields()
            .get(time_column)
            .ok_or_else(|| StreamError::Internal("event-time column out of range".into()))?;
        let DataType::Timestamp(_, time_zone) = time_field.data_type() else {
            return Err(StreamError::InvalidWindow(format!(
                "the window time column \"{}\" must be a TIMESTAMP, it is {}",
                time_field.name(),
                time_field.data_type()
            )));
        };
        // As in Flink: window_start and window_end are TIMESTAMP(3) whatever the time column
        // (for a TIMESTAMP_LTZ column, the UTC wall-clock values), window_time has the time
        // column's type (it is a time attribute again).
        let bound_type = DataType::Timestamp(TimeUnit::Millisecond, None);
        let window_type = DataType::Timestamp(TimeUnit::Millisecond, time_zone.clone());
        let mut key_fields = Vec::with_capacity(keys.len());
        for (expr, name) in keys {
            key_fields.push(Field::new(
                name,
                expr.data_type(input_schema)?,
                expr.nullable(input_schema)?,
            ));
        }
        let mut fields = vec![
            Field::new("window_start", bound_type.clone(), false),
            Field::new("window_end", bound_type, false),
            Field::new("window_time", window_type, false),
        ];
        fields.extend(key_fields.iter().cloned());
        fields.extend(aggregates.iter().map(|a| a.field().as_ref().clone()));
        Ok(Layout {
            input_schema: input_schema.clone(),
            time_column,
            keys: keys.iter().map(|(expr, _)| expr.clone()).collect(),
            aggregates: aggregates.to_vec(),
            output_schema: Arc::new(Schema::new(fields)),
            key_schema: Arc::new(Schema::new(key_fields)),
            time_zone: time_zone.clone(),
        })
    }

    /// Evaluates event times, keys and aggregate arguments of `data`. A NULL event time is an
    /// error naming the column.
    pub fn evaluate(&self, data: &RecordBatch) -> Result<Evaluated, StreamError> {
        let rows = data.num_rows();
        let times = event_time_millis(data.column(self.time_column).as_ref())?;
        if times.null_count() > 0 {
            return Err(StreamError::NullEventTime {
                column: self.input_schema.field(self.time_column).name().clone(),
            });
        }
        let mut keys = Vec::with_capacity(self.keys.len());
        for expr in &self.keys {
            keys.push(expr.evaluate(data)?.into_array(rows)?);
        }
        let mut inputs = Vec::with_capacity(self.aggregates.len());
        for aggregate in &self.aggregates {
            let mut values = Vec::new();
            for expr in aggregate.expressions() {
                values.push(expr.evaluate(data)?.into_array(rows)?);
            }
            inputs.push(values);
        }
        Ok(Evaluated {
            times,
            keys,
            inputs,
        })
    }

    /// One output batch: `rows` rows of the window `[start, end)`, then `keys` and
    /// `aggregates` columns.
    pub fn output(
        &self,
        start: EventTime,
        end: EventTime,
        rows: usize,
        keys: Vec<ArrayRef>,
        aggregates: Vec<ArrayRef>,
    ) -> Result<RecordBatch, StreamError> {
        let bound = |value: EventTime| -> ArrayRef {
            Arc::new(TimestampMillisecondArray::from_value(value, rows))
        };
        let window_time = Arc::new(
            TimestampMillisecondArray::from_value(end - 1, rows)
                .with_timezone_opt(self.time_zone.clone()),
        );
        let mut columns = vec![bound(start), bound(end), window_time];
        columns.extend(keys);
        columns.extend(aggregates);
        Ok(RecordBatch::try_new(self.output_schema.clone(), columns)?)
    }
}
