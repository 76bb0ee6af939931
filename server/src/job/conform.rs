//! Matching a job's columns to its sink's.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use runnel_engine::checkpoint::{StateEntries, StateWriter};
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::SinkWriter;

/// Renames a job's columns to the sink table's: an `INSERT` matches columns by position, and
/// the planner has already checked that the types are the same.
pub struct Conform {
    schema: SchemaRef,
    inner: Box<dyn SinkWriter>,
}

impl Conform {
    /// Writes into `inner` under `schema`'s column names.
    pub fn new(schema: SchemaRef, inner: Box<dyn SinkWriter>) -> Self {
        Conform { schema, inner }
    }
}

#[async_trait::async_trait]
impl SinkWriter for Conform {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError> {
        let batch = RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())?;
        self.inner.write(batch).await
    }

    async fn on_watermark(&mut self, watermark: i64) -> Result<(), StreamError> {
        self.inner.on_watermark(watermark).await
    }

    async fn on_barrier(
        &mut self,
        epoch: Option<u64>,
        state: &mut StateWriter,
    ) -> Result<(), StreamError> {
        self.inner.on_barrier(epoch, state).await
    }

    async fn on_commit(&mut self, epoch: u64) -> Result<(), StreamError> {
        self.inner.on_commit(epoch).await
    }

    async fn recover(&mut self, epoch: u64, state: &StateEntries) -> Result<(), StreamError> {
        self.inner.recover(epoch, state).await
    }

    fn reads_its_state(&self) -> bool {
        self.inner.reads_its_state()
    }

    fn waits_for_commit(&self) -> bool {
        self.inner.waits_for_commit()
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        self.inner.finish().await
    }
}
