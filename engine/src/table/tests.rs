use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;

use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]))
}

async fn sum(ctx: &SessionContext) -> Option<i64> {
    let batches = ctx
        .sql("SELECT SUM(v) FROM t")
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let column = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("int64");
    (!column.is_null(0)).then(|| column.value(0))
}

#[tokio::test]
async fn insert_is_durable_and_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Arc::new(Store::open(dir.path()).expect("open"));
        let table = DurableTable::open(1, schema(), store).expect("table");
        let ctx = SessionContext::new();
        ctx.register_table("t", Arc::new(table)).expect("register");
        ctx.sql("INSERT INTO t VALUES (1), (2)")
            .await
            .expect("plan")
            .collect()
            .await
            .expect("insert");
        ctx.sql("INSERT INTO t SELECT v * 10 FROM t")
            .await
            .expect("plan")
            .collect()
            .await
            .expect("insert select");
        assert_eq!(sum(&ctx).await, Some(33));
    }
    let store = Arc::new(Store::open(dir.path()).expect("reopen"));
    let table = DurableTable::open(1, schema(), store).expect("table");
    let ctx = SessionContext::new();
    ctx.register_table("t", Arc::new(table)).expect("register");
    assert_eq!(sum(&ctx).await, Some(33));
}

#[tokio::test]
async fn failing_insert_leaves_the_table_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path()).expect("open"));
    let table = DurableTable::open(1, schema(), store.clone()).expect("table");
    let ctx = SessionContext::new();
    ctx.register_table("t", Arc::new(table)).expect("register");
    ctx.sql("INSERT INTO t VALUES (5)")
        .await
        .expect("plan")
        .collect()
        .await
        .expect("insert");
    // The second row fails at execution time (division by zero), after the first was produced.
    let result = ctx
        .sql("INSERT INTO t SELECT 10 / x FROM (VALUES (1), (0)) AS s(x)")
        .await
        .expect("plan")
        .collect()
        .await;
    assert!(result.is_err(), "division by zero must fail the insert");
    assert_eq!(sum(&ctx).await, Some(5));
    let (batches, _) = store.table_segments(1).expect("segments");
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
}
