//! Sources: readers of splits (a file, a Kafka partition, a generator instance) and the task
//! that turns their batches into a stream with computed columns and watermarks.

use std::sync::Arc;
use std::time::Duration;

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
    /// `scan.watermark.idle-timeout`: a split without rows for this long says it is idle, so
    /// it stops holding back the watermark of the splits that do have rows.
    pub idle_timeout: Option<Duration>,
}

/// Reads `reader` to its end: computes the computed columns, stamps rows with their arrival
/// watermark, and sends each batch followed by the watermark it reached. Ends with End (the
/// runtime treats End as watermark +infinity, so every window fires). With an idle timeout,
/// a wait for rows longer than the timeout sends [`Message::Idle`] (once per wait).
pub async fn run_source(
    reader: Box<dyn SplitReader>,
    spec: SourceSpec,
    mut output: Output,
) -> Result<(), StreamError> {
    let mut generator = spec.watermark.clone().map(WatermarkGenerator::new);
    let mut last_watermark = WATERMARK_MIN;
    let mut batches = Batches::new(reader, spec.idle_timeout);
    loop {
        let batch = match batches.next().await? {
            Next::Batch(batch) => batch,
            Next::Idle => {
                if !output.send(Message::Idle).await? {
                    return Ok(());
                }
                continue;
            }
            Next::End => break,
        };
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

/// What a split produced next.
enum Next {
    Batch(RecordBatch),
    /// No batch within the idle timeout.
    Idle,
    End,
}

/// A split's batches, read directly or, with an idle timeout, by a task of their own (so a
/// timed-out wait never drops a half-read batch: the reader is never cancelled).
enum Batches {
    Direct(Box<dyn SplitReader>),
    Timed {
        receiver: tokio::sync::mpsc::Receiver<Result<Option<RecordBatch>, StreamError>>,
        timeout: Duration,
        idle: bool,
        reader: tokio::task::JoinHandle<()>,
    },
}

impl Batches {
    fn new(mut reader: Box<dyn SplitReader>, idle_timeout: Option<Duration>) -> Self {
        let Some(timeout) = idle_timeout else {
            return Batches::Direct(reader);
        };
        let (sender, receiver) = tokio::sync::mpsc::channel(2);
        let task = tokio::spawn(async move {
            loop {
                let next = reader.next_batch().await;
                let done = !matches!(next, Ok(Some(_)));
                if sender.send(next).await.is_err() || done {
                    return;
                }
            }
        });
        Batches::Timed {
            receiver,
            timeout,
            idle: false,
            reader: task,
        }
    }

    async fn next(&mut self) -> Result<Next, StreamError> {
        match self {
            Batches::Direct(reader) => Ok(match reader.next_batch().await? {
                Some(batch) => Next::Batch(batch),
                None => Next::End,
            }),
            Batches::Timed {
                receiver,
                timeout,
                idle,
                ..
            } => {
                let received = if *idle {
                    // Already said: wait for rows without a deadline.
                    receiver.recv().await
                } else {
                    match tokio::time::timeout(*timeout, receiver.recv()).await {
                        Ok(received) => received,
                        Err(_) => {
                            *idle = true;
                            return Ok(Next::Idle);
                        }
                    }
                };
                *idle = false;
                match received {
                    Some(Ok(Some(batch))) => Ok(Next::Batch(batch)),
                    Some(Ok(None)) | None => Ok(Next::End),
                    Some(Err(error)) => Err(error),
                }
            }
        }
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        if let Batches::Timed { reader, .. } = self {
            reader.abort();
        }
    }
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
            idle_timeout: None,
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
                Message::Idle => "idle".to_string(),
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

    /// Yields its batches, then waits forever (an unbounded split without new rows).
    struct Stalls(Vec<RecordBatch>);

    #[async_trait]
    impl SplitReader for Stalls {
        fn schema(&self) -> SchemaRef {
            schema()
        }
        async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
            if self.0.is_empty() {
                std::future::pending::<()>().await;
            }
            Ok(Some(self.0.remove(0)))
        }
    }

    #[tokio::test]
    async fn a_split_without_rows_for_the_idle_timeout_says_it_is_idle_once() {
        let spec = SourceSpec {
            computed: None,
            watermark: Some(watermark_expr(0)),
            idle_timeout: Some(Duration::from_millis(20)),
        };
        let reader = Stalls(vec![rows(&[(10, Some("a"), 1)])]);
        let (sender, mut receiver) = edge();
        let task = tokio::spawn(run_source(Box::new(reader), spec, Output::Forward(sender)));
        let mut shape = Vec::new();
        for _ in 0..3 {
            match receiver.recv().await.expect("message") {
                Message::Batch(b) => shape.push(format!("batch {}", b.num_rows())),
                Message::Watermark(w) => shape.push(format!("watermark {w}")),
                Message::Idle => shape.push("idle".to_string()),
                Message::End => shape.push("end".to_string()),
            }
        }
        assert_eq!(shape, vec!["batch 1", "watermark 10", "idle"]);
        // Idle is said once per wait, not every timeout.
        let more = tokio::time::timeout(Duration::from_millis(100), receiver.recv()).await;
        assert!(more.is_err(), "nothing after idle: {more:?}");
        task.abort();
    }
}
