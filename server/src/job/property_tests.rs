//! Property: a job's results do not depend on how its input is cut into batches or on how many
//! window instances run. For random inputs (out of order, with late rows and NULL keys, read by
//! two splits), every window type planned from SQL gives the same rows and the same late-row
//! count for batch sizes 1, 7 and 4096 at parallelism 1 and 2.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::{SessionConfig, SessionContext};
use proptest::prelude::*;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::SinkWriter;
use runnel_engine::stream::source::SplitReader;
use runnel_sql::streaming::{StreamPlan, StreamTable, StreamTableProvider};
use tokio::task::JoinSet;

use super::graph;
use super::planning::plan_stream;

const TABLE: &str = "CREATE TABLE events (ts TIMESTAMP(3), k STRING, v BIGINT,
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'datagen')";

pub(super) const QUERIES: [&str; 5] = [
    "SELECT window_start, k, COUNT(*), SUM(v), MAX(v), COUNT(DISTINCT v)
     FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND))
     GROUP BY window_start, window_end, k",
    "SELECT window_start, window_end, k, COUNT(*), MIN(v)
     FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '4' SECOND))
     GROUP BY window_start, window_end, k",
    "SELECT window_end, k, SUM(v), AVG(v)
     FROM TABLE(CUMULATE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '4' SECOND))
     WHERE v <> 0 GROUP BY window_start, window_end, k",
    "SELECT window_start, window_end, k, COUNT(*), SUM(v)
     FROM TABLE(SESSION(TABLE events PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1500' MILLISECOND))
     GROUP BY window_start, window_end, k",
    "SELECT window_start, COUNT(*), SUM(v)
     FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '3' SECOND))
     GROUP BY window_start, window_end",
];

/// One random row: event time, key (NULL sometimes), value.
pub(super) type Row = (i64, Option<u8>, i64);

/// Rows whose event times wander: mostly forward, sometimes back by up to 3 s (late rows).
pub(super) fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            -3_000i64..5_000,
            prop::option::weighted(0.9, 0u8..6),
            -50i64..50,
        ),
        0..250,
    )
    .prop_map(|steps| {
        let mut ts = 1_700_000_000_000i64;
        steps
            .into_iter()
            .map(|(step, key, value)| {
                ts += step;
                (ts, key, value)
            })
            .collect()
    })
}

/// A split reading its rows in batches of `size`.
pub(super) struct Rows {
    pub(super) batches: Vec<RecordBatch>,
    schema: SchemaRef,
}

#[async_trait]
impl SplitReader for Rows {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
        Ok((!self.batches.is_empty()).then(|| self.batches.remove(0)))
    }
}

pub(super) fn split(rows: &[&Row], size: usize, schema: &SchemaRef) -> Rows {
    let batches = rows
        .chunks(size)
        .map(|chunk| {
            let ts = TimestampMillisecondArray::from(chunk.iter().map(|r| r.0).collect::<Vec<_>>());
            let k = StringArray::from(
                chunk
                    .iter()
                    .map(|r| r.1.map(|k| format!("key{k}")))
                    .collect::<Vec<_>>(),
            );
            let v = Int64Array::from(chunk.iter().map(|r| r.2).collect::<Vec<_>>());
            RecordBatch::try_new(schema.clone(), vec![Arc::new(ts), Arc::new(k), Arc::new(v)])
                .expect("batch")
        })
        .collect();
    Rows {
        batches,
        schema: schema.clone(),
    }
}

/// Collects a job's output.
pub(super) struct Collect(pub(super) Arc<Mutex<Vec<RecordBatch>>>);

#[async_trait]
impl SinkWriter for Collect {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError> {
        self.0.lock().expect("collector").push(batch);
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
}

/// The output rows as sorted text lines, and the late-row count.
async fn run(
    plan: &StreamPlan,
    rows: &[Row],
    batch: usize,
    parallelism: usize,
) -> (Vec<String>, u64) {
    let schema = plan.source.table.physical_schema.clone();
    // Two splits: even and odd rows, each in arrival order.
    let even: Vec<&Row> = rows.iter().step_by(2).collect();
    let odd: Vec<&Row> = rows.iter().skip(1).step_by(2).collect();
    let splits: Vec<Box<dyn SplitReader>> = vec![
        Box::new(split(&even, batch, &schema)),
        Box::new(split(&odd, batch, &schema)),
    ];
    let output = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = JoinSet::new();
    let counters = graph::spawn(
        plan,
        splits,
        parallelism,
        Box::new(Collect(output.clone())),
        None,
        None,
        &mut tasks,
    )
    .expect("spawn");
    while let Some(outcome) = tasks.join_next().await {
        outcome.expect("task").expect("job");
    }
    let lines = lines(&output.lock().expect("collector"));
    (lines, counters.late_rows())
}

/// Rows as sorted text lines (NULL spelled out).
pub(super) fn lines(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut lines = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            lines.push(cells.join(" | "));
        }
    }
    lines.sort();
    lines
}

pub(super) async fn plans() -> Vec<StreamPlan> {
    let config = SessionConfig::new()
        .with_default_catalog_and_schema(runnel_sql::DATABASE, runnel_sql::DEFAULT_SCHEMA);
    let ctx = SessionContext::new_with_config(config);
    let def = runnel_sql::flink::parse_create_table(TABLE).expect("table");
    let table = StreamTable::bind(def, TABLE.to_string(), &ctx.state()).expect("bind");
    ctx.register_table(
        "events",
        Arc::new(StreamTableProvider {
            table: Arc::new(table),
        }),
    )
    .expect("register");
    let mut plans = Vec::new();
    for sql in QUERIES {
        let parsed = runnel_sql::parse_statements(sql).expect("parse").remove(0);
        let datafusion::sql::sqlparser::ast::Statement::Query(query) = &parsed.statement else {
            panic!("not a query: {sql}");
        };
        let plan = plan_stream(&ctx.state(), query, &parsed.windows, &parsed.text_map())
            .await
            .expect("plan")
            .expect("a streaming plan");
        plans.push(plan);
    }
    plans
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn results_do_not_depend_on_batch_sizes_or_parallelism(rows in rows()) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            for (plan, sql) in plans().await.iter().zip(QUERIES) {
                let expected = run(plan, &rows, 4096, 1).await;
                for parallelism in [1, 2] {
                    for batch in [1, 7, 4096] {
                        let got = run(plan, &rows, batch, parallelism).await;
                        prop_assert_eq!(
                            &got, &expected,
                            "batch {} parallelism {}: {}", batch, parallelism, sql
                        );
                    }
                }
            }
            Ok(())
        })?;
    }
}
