//! The insert path of a [`DurableTable`]: a DataFusion [`DataSink`] that collects the whole
//! input, then commits it in one atomic store write.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::sink::DataSink;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType};
use futures::TryStreamExt;

use super::DurableTable;

/// Writes an `INSERT`'s rows into a [`DurableTable`], all or nothing.
#[derive(Debug)]
pub(super) struct DurableTableSink {
    table: DurableTable,
    schema: SchemaRef,
}

impl DurableTableSink {
    pub(super) fn new(table: DurableTable) -> Self {
        let schema = table.inner.schema.clone();
        DurableTableSink { table, schema }
    }
}

impl DisplayAs for DurableTableSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DurableTableSink(table_id={})", self.table.id())
    }
}

#[async_trait]
impl DataSink for DurableTableSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> Result<u64> {
        // Nothing reaches the store until the whole input was produced without error: a failing
        // INSERT ... SELECT leaves the table untouched.
        let batches: Vec<_> = data.try_collect().await?;
        let table = self.table.clone();
        // The commit fsyncs the WAL: keep it off the async workers.
        tokio::task::spawn_blocking(move || table.append(batches))
            .await
            .map_err(|e| DataFusionError::Execution(format!("insert task failed: {e}")))?
            .map_err(|e| DataFusionError::External(Box::new(e)))
    }
}
