//! Sources: readers of splits (a file, a Kafka partition, a generator instance) and the task
//! that turns their batches into a stream with computed columns and watermarks.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::PhysicalExpr;

use super::message::WATERMARK_MIN;
use super::runtime::Output;
use super::watermark::WatermarkGenerator;
use super::{Message, StreamBatch, StreamError};

/// Reads one split of a source. Connectors implement it.
#[async_trait]
pub trait SplitReader: Send {
    /// Schema of the batches (the table's physical columns).
    fn schema(&self) -> SchemaRef;

    /// The next batch, or `None` when a bounded split is exhausted. Unbounded readers wait for
    /// data instead of returning `None`.
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError>;
}

/// What a source adds to the rows it reads.
#[derive(Debug, Clone, Default)]
pub struct SourceSpec {
    /// The table's columns in declaration order, computed from the physical ones read (a
    /// column reference for a physical column, the expression of a computed column
    /// `name AS expr`), with the output schema. `None`: the physical columns are the table.
    pub computed: Option<(Vec<Arc<dyn PhysicalExpr>>, SchemaRef)>,
    /// The WATERMARK expression, over the output columns (physical and computed).
    pub watermark: Option<Arc<dyn PhysicalExpr>>,
}

/// Reads `reader` to its end: computes the computed columns, stamps rows with their arrival
/// watermark, and sends each batch followed by the watermark it reached. Ends with End (the
/// runtime treats End as watermark +infinity, so every window fires).
pub async fn run_source(
    mut reader: Box<dyn SplitReader>,
    spec: SourceSpec,
    mut output: Output,
) -> Result<(), StreamError> {
    let mut generator = spec.watermark.clone().map(WatermarkGenerator::new);
    let mut last_watermark = WATERMARK_MIN;
    while let Some(batch) = reader.next_batch().await? {
        if batch.num_rows() == 0 {
            continue;
        }
        let batch = match &spec.computed {
            Some((exprs, schema)) => with_computed(batch, exprs, schema)?,
            None => batch,
        };
        let stamped = match generator.as_mut() {
            Some(generator) => generator.stamp(batch)?,
            None => {
                let rows = batch.num_rows();
                StreamBatch::new(batch, Int64Array::from_value(WATERMARK_MIN, rows))?
            }
        };
        if !output.send(Message::Batch(stamped)).await? {
            return Ok(());
        }
        if let Some(generator) = &generator
            && generator.current() > last_watermark
        {
            last_watermark = generator.current();
            if !output.send(Message::Watermark(last_watermark)).await? {
                return Ok(());
            }
        }
    }
    output.send(Message::End).await?;
    Ok(())
}

fn with_computed(
    batch: RecordBatch,
    exprs: &[Arc<dyn PhysicalExpr>],
    schema: &SchemaRef,
) -> Result<RecordBatch, StreamError> {
    let rows = batch.num_rows();
    let mut columns = Vec::with_capacity(exprs.len());
    for expr in exprs {
        columns.push(expr.evaluate(&batch)?.into_array(rows)?);
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::runtime::edge;
    use crate::stream::window::tests::{rows, schema, watermark_expr};
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::logical_expr::Operator as BinaryOp;
    use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
    use datafusion::scalar::ScalarValue;

    struct Batches(Vec<RecordBatch>);

    #[async_trait]
    impl SplitReader for Batches {
        fn schema(&self) -> SchemaRef {
            schema()
        }
        async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
            Ok((!self.0.is_empty()).then(|| self.0.remove(0)))
        }
    }

    #[tokio::test]
    async fn computes_columns_stamps_rows_and_sends_watermarks_then_end() {
        // v2 AS v * 2; WATERMARK FOR ts AS ts - 3 ms
        let mut fields = schema().fields().to_vec();
        fields.push(Arc::new(Field::new("v2", DataType::Int64, true)));
        let output_schema = Arc::new(Schema::new(fields));
        let doubled: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("v", 2)),
            BinaryOp::Multiply,
            Arc::new(Literal::new(ScalarValue::Int64(Some(2)))),
        ));
        let spec = SourceSpec {
            computed: Some((
                vec![
                    Arc::new(Column::new("ts", 0)),
                    Arc::new(Column::new("k", 1)),
                    Arc::new(Column::new("v", 2)),
                    doubled,
                ],
                output_schema,
            )),
            watermark: Some(watermark_expr(3)),
        };
        let reader = Batches(vec![
            rows(&[(10, Some("a"), 1), (20, Some("a"), 2)]),
            rows(&[(5, Some("b"), 3)]),
        ]);
        let (sender, mut receiver) = edge();
        let task = tokio::spawn(run_source(Box::new(reader), spec, Output::Forward(sender)));
        let mut messages = Vec::new();
        while let Some(message) = receiver.recv().await {
            messages.push(message);
        }
        task.await.expect("task").expect("source");
        let shape: Vec<String> = messages
            .iter()
            .map(|m| match m {
                Message::Batch(b) => format!(
                    "batch {:?} {:?}",
                    b.data
                        .column(3)
                        .as_primitive::<Int64Type>()
                        .values()
                        .to_vec(),
                    b.arrival_watermark.values().to_vec()
                ),
                Message::Watermark(w) => format!("watermark {w}"),
                Message::End => "end".to_string(),
            })
            .collect();
        // The second batch does not move the watermark (5 - 3 < 17): no watermark after it.
        assert_eq!(
            shape,
            vec![
                format!("batch [2, 4] [{}, 7]", i64::MIN),
                "watermark 17".to_string(),
                "batch [6] [17]".to_string(),
                "end".to_string(),
            ]
        );
        assert!(messages.iter().all(|m| match m {
            Message::Batch(b) => b.data.num_columns() == 4 && b.data.column(3).null_count() == 0,
            _ => true,
        }));
    }
}
