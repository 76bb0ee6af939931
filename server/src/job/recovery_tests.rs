//! Property: a checkpointed job that crashes at a random instant and resumes from its last
//! durable epoch ends with exactly the rows of a run that never crashed: none lost, none
//! repeated. The sink is a materialized view's (rows are part of each epoch's state and count
//! only once durable), the input random rows read by two resumable splits, the queries every
//! window type planned from SQL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use proptest::prelude::*;
use runnel_engine::Store;
use runnel_engine::checkpoint::{JobKey, MemoryBudget, Recovered, StateEntries};
use runnel_engine::stream::StreamError;
use runnel_engine::stream::source::SplitReader;
use runnel_engine::table::snapshot::SnapshotTable;
use runnel_sql::streaming::StreamPlan;
use tokio::task::JoinSet;

use super::graph::{self, Checkpointing};
use super::property_tests::{QUERIES, Row, lines, plans, split};

/// A split over fixed batches that can resume at a batch index (its position), pausing a
/// little between batches so checkpoints fall between them.
struct Resumable {
    batches: Vec<RecordBatch>,
    schema: SchemaRef,
    key: String,
    next: usize,
}

#[async_trait]
impl SplitReader for Resumable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let batch = self.batches.get(self.next).cloned();
        if batch.is_some() {
            self.next += 1;
        }
        Ok(batch)
    }

    fn position(&self) -> Vec<(String, i64)> {
        vec![(self.key.clone(), self.next as i64)]
    }
}

fn splits(
    rows: &[Row],
    schema: &SchemaRef,
    resume: Option<&BTreeMap<String, i64>>,
) -> Vec<Box<dyn SplitReader>> {
    let even: Vec<&Row> = rows.iter().step_by(2).collect();
    let odd: Vec<&Row> = rows.iter().skip(1).step_by(2).collect();
    [even, odd]
        .iter()
        .enumerate()
        .map(|(index, part)| {
            let key = format!("rows:{index}");
            let next = resume.and_then(|r| r.get(&key)).map_or(0, |n| *n as usize);
            Box::new(Resumable {
                batches: split(part, 5, schema).batches,
                schema: schema.clone(),
                key,
                next,
            }) as Box<dyn SplitReader>
        })
        .collect()
}

/// Runs `plan` over `rows` with checkpoints every 3 ms, killing it after each of `crashes`
/// (milliseconds) and resuming it from the store, then lets it finish. Returns the view's rows.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn run_with_crashes(
    plan: &StreamPlan,
    rows: &[Row],
    parallelism: usize,
    crashes: &[u64],
    budget: usize,
) -> Vec<String> {
    let budget = Arc::new(MemoryBudget::new(budget));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let key = JobKey::new("view:property");
    let schema = plan.source.table.physical_schema.clone();
    let mut attempt = 0;
    loop {
        let recovered = Recovered::load(&store, &key).expect("load");
        let table = SnapshotTable::new(plan.schema.clone());
        if let Some(recovered) = &recovered {
            let entries = store.state_entries(&key.sink()).expect("sink state");
            table
                .restore(SnapshotTable::decode_segments(&StateEntries::new(entries)).expect("rows"))
                .expect("restore");
            if recovered.meta.finished {
                return lines(&table.snapshot());
            }
        }
        let positions = recovered.as_ref().map(|r| r.positions());
        let crash = crashes.get(attempt).copied();
        // Each run is a "process" of its own: its runtime.
        let runtime = runtime();
        let finished = runtime.block_on(async {
            let mut tasks = JoinSet::new();
            graph::spawn(
                plan,
                splits(rows, &schema, positions.as_ref()),
                parallelism,
                Box::new(table.checkpointed_writer()),
                None,
                Some(Checkpointing {
                    store: store.clone(),
                    key: key.clone(),
                    interval: Duration::from_millis(3),
                    recovered,
                    budget: budget.clone(),
                }),
                &mut tasks,
            )
            .expect("spawn");
            match crash {
                Some(after) => {
                    tokio::time::sleep(Duration::from_millis(after)).await;
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    false
                }
                None => {
                    while let Some(outcome) = tasks.join_next().await {
                        outcome.expect("task").expect("job");
                    }
                    true
                }
            }
        });
        // Dropping the runtime waits for a store write already on its thread: it landed before
        // the crash, as a synced write does before a process dies; nothing of this run writes
        // after the next one started.
        drop(runtime);
        if finished {
            return lines(&table.snapshot());
        }
        attempt += 1;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn a_job_resumed_after_crashes_gives_the_rows_of_an_uninterrupted_run(
        rows in super::property_tests::rows(),
        crashes in prop::collection::vec(1u64..60, 1..4),
        // Unlimited, nothing (window state leaves memory after every batch), or in between.
        budget in prop_oneof![Just(usize::MAX), Just(0usize), 0usize..20_000],
    ) {
        let plans = runtime().block_on(plans());
        for (plan, sql) in plans.iter().zip(QUERIES) {
            let expected = run_with_crashes(plan, &rows, 2, &[], usize::MAX);
            let got = run_with_crashes(plan, &rows, 2, &crashes, budget);
            prop_assert_eq!(
                &got, &expected, "crashes after {:?} ms, memory budget {}: {}", crashes, budget, sql
            );
        }
    }
}
