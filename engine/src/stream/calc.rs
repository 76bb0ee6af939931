//! Filter and projection in one operator (Flink calls it Calc): a predicate and a list of
//! expressions, evaluated on whole batches.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::{filter, filter_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::PhysicalExpr;

use super::narrow::Narrowed;
pub use super::narrow::is_selection;
use super::{EventTime, Message, Operator, OperatorMetrics, StreamBatch, StreamError};

/// Keeps rows where `predicate` is true (NULL counts as false, as in SQL), then computes
/// `projection` over them. Watermarks pass through unchanged.
pub struct Calc {
    predicate: Option<Narrowed>,
    projection: Narrowed,
    output_schema: SchemaRef,
    metrics: Arc<OperatorMetrics>,
}

impl std::fmt::Debug for Calc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calc")
            .field("predicate", &self.predicate)
            .field("projection", &self.projection)
            .finish()
    }
}

impl Calc {
    /// A Calc producing `output_schema` (one field per projection expression).
    pub fn new(
        predicate: Option<Arc<dyn PhysicalExpr>>,
        projection: Vec<Arc<dyn PhysicalExpr>>,
        output_schema: SchemaRef,
    ) -> Self {
        Calc {
            predicate: predicate.map(|p| Narrowed::new(&[p])),
            projection: Narrowed::new(&projection),
            output_schema,
            metrics: Arc::default(),
        }
    }

    /// Applies the Calc to one batch.
    pub fn apply(&self, batch: StreamBatch) -> Result<StreamBatch, StreamError> {
        let StreamBatch {
            data,
            arrival_watermark,
        } = batch;
        let Some(predicate) = &self.predicate else {
            let columns = self.projection.evaluate(&data)?;
            return StreamBatch::new(self.output(columns, data.num_rows())?, arrival_watermark);
        };
        let mask = predicate
            .evaluate(&data)?
            .pop()
            .ok_or_else(|| StreamError::Internal("no predicate value".into()))?;
        let mask = mask.as_boolean_opt().ok_or_else(|| {
            StreamError::Internal(format!(
                "filter predicate is {}, not boolean",
                mask.data_type()
            ))
        })?;
        // Select the columns and ROW fields the projection reads (no copy), keep the rows
        // that pass (copying only those values), then compute the projection on them.
        let selected = filter_record_batch(&self.projection.select(&data)?, mask)?;
        let rows = selected.num_rows();
        let data = self.output(self.projection.compute(&selected)?, rows)?;
        let arrival = filter(&arrival_watermark, mask)?;
        let arrival = arrival
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned()
            .ok_or_else(|| StreamError::Internal("arrival watermarks".into()))?;
        StreamBatch::new(data, arrival)
    }

    fn output(&self, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch, StreamError> {
        let options =
            datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.output_schema.clone(),
            columns,
            &options,
        )?)
    }
}

impl Operator for Calc {
    fn on_batch(&mut self, batch: StreamBatch, out: &mut Vec<Message>) -> Result<(), StreamError> {
        self.metrics.add_rows_in(batch.num_rows());
        let result = self.apply(batch)?;
        if result.num_rows() > 0 {
            self.metrics.add_rows_out(result.num_rows());
            out.push(Message::Batch(result));
        }
        Ok(())
    }

    fn on_watermark(
        &mut self,
        watermark: EventTime,
        out: &mut Vec<Message>,
    ) -> Result<(), StreamError> {
        out.push(Message::Watermark(watermark));
        Ok(())
    }

    fn on_end(&mut self, _out: &mut Vec<Message>) -> Result<(), StreamError> {
        Ok(())
    }

    fn metrics(&self) -> &Arc<OperatorMetrics> {
        &self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::logical_expr::Operator as BinaryOp;
    use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
    use datafusion::scalar::ScalarValue;

    /// `a`: 1, NULL, 5, 7 and `b`: w, x, y, z.
    fn four_rows() -> RecordBatch {
        let input = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            input,
            vec![
                Arc::new(Int32Array::from(vec![Some(1), None, Some(5), Some(7)])),
                Arc::new(StringArray::from(vec!["w", "x", "y", "z"])),
            ],
        )
        .expect("batch")
    }

    #[test]
    fn filters_rows_and_their_arrival_watermarks_then_projects() {
        let data = four_rows();
        let batch = StreamBatch::new(data, Int64Array::from(vec![10, 20, 30, 40])).expect("batch");
        // WHERE a > 2 (NULL is dropped), SELECT b, a * 2
        let a: Arc<dyn PhysicalExpr> = Arc::new(Column::new("a", 0));
        let predicate = Arc::new(BinaryExpr::new(
            a.clone(),
            BinaryOp::Gt,
            Arc::new(Literal::new(ScalarValue::Int32(Some(2)))),
        ));
        let doubled = Arc::new(BinaryExpr::new(
            a,
            BinaryOp::Multiply,
            Arc::new(Literal::new(ScalarValue::Int32(Some(2)))),
        ));
        let output = Arc::new(Schema::new(vec![
            Field::new("b", DataType::Utf8, true),
            Field::new("a2", DataType::Int32, true),
        ]));
        let calc = Calc::new(
            Some(predicate),
            vec![Arc::new(Column::new("b", 1)), doubled],
            output,
        );
        let result = calc.apply(batch).expect("calc");
        assert_eq!(result.arrival_watermark.values().to_vec(), vec![30, 40]);
        let b = result.data.column(0).as_string::<i32>();
        assert_eq!((b.value(0), b.value(1)), ("y", "z"));
        let a2 = result
            .data
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        assert_eq!(a2.values().to_vec(), vec![10, 14]);
    }

    #[test]
    fn a_selecting_projection_is_taken_before_the_filter_with_the_same_result() {
        let data = four_rows();
        let a: Arc<dyn PhysicalExpr> = Arc::new(Column::new("a", 0));
        let b: Arc<dyn PhysicalExpr> = Arc::new(Column::new("b", 1));
        let literal: Arc<dyn PhysicalExpr> = Arc::new(Literal::new(ScalarValue::Int32(Some(2))));
        let predicate: Arc<dyn PhysicalExpr> =
            Arc::new(BinaryExpr::new(a.clone(), BinaryOp::Gt, literal.clone()));
        assert!(is_selection(&b) && is_selection(&literal));
        assert!(!is_selection(&predicate));
        // SELECT b, 2 WHERE a > 2: selections only, so projected first.
        let output = Arc::new(Schema::new(vec![
            Field::new("b", DataType::Utf8, true),
            Field::new("two", DataType::Int32, true),
        ]));
        let calc = Calc::new(Some(predicate.clone()), vec![b, literal], output);
        let batch =
            StreamBatch::new(data.clone(), Int64Array::from(vec![10, 20, 30, 40])).expect("batch");
        let result = calc.apply(batch).expect("calc");
        assert_eq!(result.arrival_watermark.values().to_vec(), vec![30, 40]);
        let b = result.data.column(0).as_string::<i32>();
        assert_eq!((b.len(), b.value(0), b.value(1)), (2, "y", "z"));
        // No columns at all still counts the rows kept.
        let calc = Calc::new(Some(predicate), Vec::new(), Arc::new(Schema::empty()));
        let batch = StreamBatch::new(data, Int64Array::from(vec![10, 20, 30, 40])).expect("batch");
        assert_eq!(calc.apply(batch).expect("calc").num_rows(), 2);
    }
}
