//! `runnel_catalog.jobs`: the server's streaming jobs as a table (what `SHOW JOBS` shows), so
//! any SQL can filter, join or chart them.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use runnel_engine::table::scan_batches;

use crate::job::JobManager;

/// The jobs table: a fresh snapshot of every job at each scan.
#[derive(Debug)]
pub struct JobsTable {
    jobs: Arc<JobManager>,
}

impl JobsTable {
    /// The table over `jobs`.
    pub fn new(jobs: Arc<JobManager>) -> Self {
        JobsTable { jobs }
    }
}

#[async_trait]
impl TableProvider for JobsTable {
    fn schema(&self) -> SchemaRef {
        JobManager::schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        scan_batches(vec![self.jobs.table()], JobManager::schema(), projection)
    }
}
