//! `pg_class.relkind = 'm'` for materialized views.
//!
//! The `pg_catalog` emulation derives `relkind` from DataFusion's table types, which have no
//! materialized view, so it reports them as ordinary tables (`r`). psql's `\dm` (and BI tools
//! listing views) select `relkind = 'm'`. This wrapper of the emulation's `pg_class` reads its
//! rows and marks the user catalog's materialized views.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use runnel_engine::table::scan_batches;
use runnel_sql::Catalog;
use runnel_sql::catalog::object::ObjectKind;

/// The `pg_catalog` schema with `pg_class` wrapped; every other table is the emulation's.
#[derive(Debug)]
pub struct PgCatalogWithViews {
    inner: Arc<dyn SchemaProvider>,
    pg_class: Arc<dyn TableProvider>,
}

impl PgCatalogWithViews {
    /// Wraps `inner` (the emulation's `pg_catalog`), marking `catalog`'s materialized views.
    pub async fn new(inner: Arc<dyn SchemaProvider>, catalog: Arc<Catalog>) -> Result<Self> {
        let pg_class = inner
            .table("pg_class")
            .await?
            .ok_or_else(|| DataFusionError::Plan("pg_catalog has no pg_class".into()))?;
        Ok(PgCatalogWithViews {
            inner,
            pg_class: Arc::new(PgClass {
                inner: pg_class,
                catalog,
            }),
        })
    }
}

#[async_trait]
impl SchemaProvider for PgCatalogWithViews {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if name == "pg_class" {
            return Ok(Some(self.pg_class.clone()));
        }
        self.inner.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

#[derive(Debug)]
struct PgClass {
    inner: Arc<dyn TableProvider>,
    catalog: Arc<Catalog>,
}

#[async_trait]
impl TableProvider for PgClass {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, None, &[], None).await?;
        let batches = datafusion::physical_plan::collect(plan, state.task_ctx()).await?;
        let views: Vec<String> = self
            .catalog
            .objects()
            .into_iter()
            .filter(|o| o.kind() == ObjectKind::MaterializedView)
            .map(|o| o.def().name().to_string())
            .collect();
        let schema = self.inner.schema();
        let batches = if views.is_empty() {
            batches
        } else {
            batches
                .into_iter()
                .map(|batch| mark_views(batch, &views))
                .collect::<Result<Vec<_>>>()?
        };
        scan_batches(batches, schema, projection)
    }
}

fn mark_views(batch: RecordBatch, views: &[String]) -> Result<RecordBatch> {
    let schema = batch.schema();
    let (Ok(name_at), Ok(kind_at)) = (schema.index_of("relname"), schema.index_of("relkind"))
    else {
        return Ok(batch);
    };
    let (Some(names), Some(kinds)) = (
        batch.column(name_at).as_string_opt::<i32>(),
        batch.column(kind_at).as_string_opt::<i32>(),
    ) else {
        return Ok(batch);
    };
    let marked: StringArray = (0..kinds.len())
        .map(|row| {
            let kind = kinds.is_valid(row).then(|| kinds.value(row));
            let is_view = names.is_valid(row)
                && kind == Some("r")
                && views.iter().any(|v| v == names.value(row));
            if is_view { Some("m") } else { kind }
        })
        .collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns[kind_at] = Arc::new(marked);
    Ok(RecordBatch::try_new(schema, columns)?)
}
