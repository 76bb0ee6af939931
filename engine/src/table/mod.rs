//! Durable tables: the rows of a `CREATE TABLE` without a connector.
//!
//! A [`DurableTable`] is a DataFusion [`TableProvider`], so every query DataFusion can plan runs
//! over it. Its rows live in the [`Store`] as Arrow IPC segments, one per `INSERT`, and are
//! cached in memory as an immutable snapshot: a query scans the snapshot it started with, an
//! `INSERT` commits its whole input as one atomic store write and only then publishes a new
//! snapshot. A crash mid-insert therefore leaves the table as it was before the insert.
//!
//! [`snapshot`] holds the other kind of table rows: a materialized view's, published by its job.

mod sink;
pub mod snapshot;

use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, SchemaExt, not_impl_err};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use crate::storage::{StorageError, Store, StoreWrite};

/// A scan of rows held in memory (one partition), for tables that keep their rows as batches.
pub fn scan_batches(
    batches: Vec<RecordBatch>,
    schema: SchemaRef,
    projection: Option<&Vec<usize>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let source = MemorySourceConfig::try_new(&[batches], schema, projection.cloned())?;
    Ok(DataSourceExec::from_data_source(source))
}

/// A table whose rows are kept in the server's [`Store`]. Cloning shares the table.
#[derive(Clone)]
pub struct DurableTable {
    inner: Arc<TableState>,
}

struct TableState {
    id: u64,
    schema: SchemaRef,
    store: Arc<Store>,
    /// The committed rows; replaced (never mutated) by each insert.
    snapshot: RwLock<Arc<Vec<RecordBatch>>>,
    /// Serializes inserts and holds the next segment sequence.
    next_seq: Mutex<u64>,
}

impl std::fmt::Debug for DurableTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableTable")
            .field("id", &self.inner.id)
            .field("schema", &self.inner.schema)
            .finish()
    }
}

impl DurableTable {
    /// Opens table `id` with `schema`, loading its committed rows from `store`.
    pub fn open(id: u64, schema: SchemaRef, store: Arc<Store>) -> Result<Self, StorageError> {
        let (batches, next_seq) = store.table_segments(id)?;
        let batches = batches
            .into_iter()
            .map(|batch| conform(&schema, batch))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DurableTable {
            inner: Arc::new(TableState {
                id,
                schema,
                store,
                snapshot: RwLock::new(Arc::new(batches)),
                next_seq: Mutex::new(next_seq),
            }),
        })
    }

    /// The table's id in the store.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The rows committed so far.
    pub fn snapshot(&self) -> Arc<Vec<RecordBatch>> {
        match self.inner.snapshot.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Durably appends `batches` (all or nothing) and publishes them to readers.
    pub fn append(&self, batches: Vec<RecordBatch>) -> Result<u64, StorageError> {
        let state = &self.inner;
        let batches = batches
            .into_iter()
            .filter(|b| b.num_rows() > 0)
            .map(|batch| conform(&state.schema, batch))
            .collect::<Result<Vec<_>, _>>()?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 {
            return Ok(0);
        }
        let mut next_seq = match state.next_seq.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut write = StoreWrite::default();
        write.append_segment(state.id, *next_seq, &batches)?;
        state.store.commit(write)?;
        *next_seq += 1;
        let mut snapshot = match state.snapshot.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut all = Vec::with_capacity(snapshot.len() + batches.len());
        all.extend(snapshot.iter().cloned());
        all.extend(batches);
        *snapshot = Arc::new(all);
        Ok(rows as u64)
    }
}

/// Gives `batch` exactly the table's schema (field names, nullability and metadata can differ
/// between a query's output and the table while the column types agree).
fn conform(schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch, StorageError> {
    if batch.schema() == *schema {
        return Ok(batch);
    }
    Ok(RecordBatch::try_new(
        schema.clone(),
        batch.columns().to_vec(),
    )?)
}

#[async_trait]
impl TableProvider for DurableTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema.clone()
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
        scan_batches(
            self.snapshot().as_ref().clone(),
            self.inner.schema.clone(),
            projection,
        )
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if insert_op != InsertOp::Append {
            return not_impl_err!(
                "{insert_op} is not supported on Runnel tables yet; use INSERT INTO"
            );
        }
        self.inner
            .schema
            .logically_equivalent_names_and_types(&input.schema())?;
        let sink = sink::DurableTableSink::new(self.clone());
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }
}

#[cfg(test)]
mod tests;
