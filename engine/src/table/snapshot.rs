//! The rows of a materialized view: what its job has emitted so far, readable by any query.
//!
//! A [`SnapshotTable`] is a DataFusion [`TableProvider`] over an immutable list of batches that
//! is replaced, never mutated, when the job publishes. Its [`SnapshotWriter`] (the job's sink)
//! stages rows and publishes them only when the job's output watermark advances or its input
//! ends; in a checkpointed job, only when the epoch that produced them is durable (the rows are
//! part of the epoch's state), so a reader never sees rows a crash could take back. Every result a watermark makes final is published in one step, so a query never sees
//! half of what one watermark fired (some keys' windows and not others'): each query reads the
//! consistent snapshot it started with.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use crate::checkpoint::{StateEntries, StateWriter};
use crate::storage::{decode_state_batches, encode_state_batches};
use crate::stream::StreamError;
use crate::stream::sink::SinkWriter;

/// A materialized view's published rows. Cloning shares the table.
#[derive(Debug, Clone)]
pub struct SnapshotTable {
    schema: SchemaRef,
    published: Arc<RwLock<Arc<Vec<RecordBatch>>>>,
}

impl SnapshotTable {
    /// An empty table of `schema`.
    pub fn new(schema: SchemaRef) -> Self {
        SnapshotTable {
            schema,
            published: Arc::new(RwLock::new(Arc::new(Vec::new()))),
        }
    }

    /// The view's columns as stored when it was created.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The rows published so far.
    pub fn snapshot(&self) -> Arc<Vec<RecordBatch>> {
        self.published
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Drops every published row (the view's job restarts from the beginning of its input).
    pub fn clear(&self) {
        *self
            .published
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(Vec::new());
    }

    /// Replaces the rows with `batches` (a recovered view's durable rows).
    pub fn restore(&self, batches: Vec<RecordBatch>) -> Result<(), StreamError> {
        let batches = batches
            .into_iter()
            .map(|b| RecordBatch::try_new(self.schema.clone(), b.columns().to_vec()))
            .collect::<Result<Vec<_>, _>>()?;
        *self
            .published
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(batches);
        Ok(())
    }

    /// A sink publishing into this table at watermarks.
    pub fn writer(&self) -> SnapshotWriter {
        SnapshotWriter {
            table: self.clone(),
            staged: Vec::new(),
            checkpointed: false,
            pending: Vec::new(),
        }
    }

    /// A sink of a checkpointed job: rows become part of each epoch's state and are published
    /// when the epoch is durable.
    pub fn checkpointed_writer(&self) -> SnapshotWriter {
        SnapshotWriter {
            checkpointed: true,
            ..self.writer()
        }
    }

    /// Decodes the rows a checkpointed writer stored (the entries of its namespace).
    pub fn decode_segments(entries: &StateEntries) -> Result<Vec<RecordBatch>, StreamError> {
        let mut batches = Vec::new();
        for (_, value) in entries.iter() {
            batches.extend(
                decode_state_batches(value).map_err(|e| StreamError::Checkpoint(e.to_string()))?,
            );
        }
        Ok(batches)
    }

    fn publish(&self, staged: &mut Vec<RecordBatch>) {
        if staged.is_empty() {
            return;
        }
        let mut published = self
            .published
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Copy-on-write of the batch list (batches are shared, never copied): the list is
        // appended to in place unless a reader still holds it, then that reader keeps it.
        Arc::make_mut(&mut published).append(staged);
    }
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        super::scan_batches(
            self.snapshot().as_ref().clone(),
            self.schema.clone(),
            projection,
        )
    }
}

/// The sink of a materialized view's job: stages rows, publishes them at watermarks and at
/// the end of input.
#[derive(Debug)]
pub struct SnapshotWriter {
    table: SnapshotTable,
    /// Rows written since the last watermark (or, checkpointed, the last barrier).
    staged: Vec<RecordBatch>,
    checkpointed: bool,
    /// Rows of epochs written to the state, waiting for the epoch to be durable.
    pending: Vec<RecordBatch>,
}

#[async_trait]
impl SinkWriter for SnapshotWriter {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError> {
        // The job's columns are the view's, by position; the names are the view's.
        let batch = RecordBatch::try_new(self.table.schema.clone(), batch.columns().to_vec())?;
        self.staged.push(batch);
        Ok(())
    }

    async fn on_watermark(&mut self, _watermark: i64) -> Result<(), StreamError> {
        if !self.checkpointed {
            self.table.publish(&mut self.staged);
        }
        Ok(())
    }

    async fn on_barrier(
        &mut self,
        epoch: Option<u64>,
        state: &mut StateWriter,
    ) -> Result<(), StreamError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        // One segment per epoch, keyed by epoch so a reload reads them in order; the final
        // segment of a finished job sorts last.
        let key = epoch.unwrap_or(u64::MAX).to_be_bytes();
        let value = encode_state_batches(&self.staged)
            .map_err(|e| StreamError::Checkpoint(e.to_string()))?;
        state.put(&key, value);
        self.pending.append(&mut self.staged);
        Ok(())
    }

    async fn on_commit(&mut self, _epoch: u64) -> Result<(), StreamError> {
        // Epochs complete one at a time: what is pending belongs to the epoch just committed.
        self.table.publish(&mut self.pending);
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        self.table.publish(&mut self.staged);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn batch(schema: &SchemaRef, values: Vec<i64>) -> RecordBatch {
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(values))])
            .expect("batch")
    }

    #[tokio::test]
    async fn rows_are_visible_only_once_a_watermark_publishes_them() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let table = SnapshotTable::new(schema.clone());
        let mut writer = table.writer();
        writer
            .write(batch(&schema, vec![1, 2]))
            .await
            .expect("write");
        writer.write(batch(&schema, vec![3])).await.expect("write");
        assert!(table.snapshot().is_empty(), "staged rows are not published");
        let before = table.snapshot();
        writer.on_watermark(10).await.expect("watermark");
        let rows: usize = table.snapshot().iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 3);
        assert!(before.is_empty(), "a reader keeps the snapshot it took");
        writer.write(batch(&schema, vec![4])).await.expect("write");
        writer.finish().await.expect("finish");
        let rows: usize = table.snapshot().iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 4);
        table.clear();
        assert!(table.snapshot().is_empty());
    }
}
