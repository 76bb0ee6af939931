//! Split idleness through a job: a split that stops producing rows holds the watermark back
//! until `scan.watermark.idle-timeout` passes, then the other splits' windows fire.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::source::SplitReader;
use tokio::task::JoinSet;

use super::graph;
use super::property_tests::{Collect, Row, Rows, plans, split};

/// A split that yields its rows, then stays open without producing any (an unbounded
/// partition without traffic). A split that ended would stop holding the watermark back by
/// itself; staying open tests idleness alone.
struct ThenSilent(Rows);

#[async_trait]
impl SplitReader for ThenSilent {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
        match self.0.next_batch().await? {
            Some(batch) => Ok(Some(batch)),
            None => std::future::pending().await,
        }
    }
}

/// Rows emitted within `wait` by a job over a busy split and a silent one.
async fn rows_emitted(idle_timeout: Option<Duration>, wait: Duration) -> usize {
    // The un-keyed 3 s TUMBLE; the busy split covers 20 s of event time.
    let plan = plans().await.remove(4);
    let schema = plan.source.table.physical_schema.clone();
    let rows: Vec<Row> = (0..200)
        .map(|i| (1_700_000_000_000 + i * 100, Some(0), i))
        .collect();
    let rows: Vec<&Row> = rows.iter().collect();
    let splits: Vec<Box<dyn SplitReader>> = vec![
        Box::new(ThenSilent(split(&rows, 16, &schema))),
        Box::new(ThenSilent(split(&[], 16, &schema))),
    ];
    let output = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = JoinSet::new();
    graph::spawn(
        &plan,
        splits,
        1,
        Box::new(Collect(output.clone())),
        idle_timeout,
        None,
        &mut tasks,
    )
    .expect("spawn");
    let deadline = Instant::now() + wait;
    let count = || -> usize {
        output
            .lock()
            .expect("collector")
            .iter()
            .map(RecordBatch::num_rows)
            .sum()
    };
    while Instant::now() < deadline && count() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tasks.abort_all();
    count()
}

#[tokio::test]
async fn an_idle_split_stops_holding_back_the_windows_of_the_others() {
    // Without the timeout the silent split holds the watermark at its start: nothing fires.
    assert_eq!(rows_emitted(None, Duration::from_millis(400)).await, 0);
    // With it, the busy split's windows that its watermark passed fire.
    let emitted = rows_emitted(Some(Duration::from_millis(50)), Duration::from_secs(10)).await;
    assert!(emitted >= 1, "no window fired");
}
