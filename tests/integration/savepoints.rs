//! `STOP JOB ... WITH SAVEPOINT` and resuming the same pipeline from the savepoint on another
//! server (as after an upgrade of the binary): the output, read with read_committed, is that of
//! a run that never stopped.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use crate::exactly_once::{EVENTS, compare, event, expected, output_rows, record, start_pipeline};
use crate::harness::{TestServer, db_error, expect_sqlstate, simple_rows};
use crate::kafka_broker::{Record, consume, create_topic, produce, unique_topic};

/// Events `range` of the fixed input.
fn records(range: std::ops::Range<usize>) -> Vec<Record> {
    range
        .map(|i| {
            let (customer, millis) = event(i);
            record(i, &customer, millis)
        })
        .collect()
}

async fn running_job(client: &tokio_postgres::Client) -> String {
    let rows = simple_rows(
        client,
        "SELECT job_id FROM runnel_catalog.jobs WHERE status = 'running'",
    )
    .await;
    assert_eq!(rows.len(), 1, "one running job: {rows:?}");
    rows[0][0].clone().expect("job id")
}

#[tokio::test]
async fn a_job_stopped_with_a_savepoint_resumes_from_it_on_another_server() {
    let input = unique_topic("savepoint-in");
    let output = unique_topic("savepoint-out");
    create_topic(&input, 2).await;
    create_topic(&output, 2).await;
    let half = EVENTS / 2;
    produce(&input, &records(0..half)).await;

    let first = TestServer::start().await;
    // No periodic checkpoint during the run: only the stop makes one.
    start_pipeline(
        &first,
        &input,
        &output,
        "exactly-once",
        &output,
        "SET 'execution.checkpointing.interval' = '600s';",
    )
    .await;
    let client = first.connect().await;
    let id = running_job(&client).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let read = simple_rows(&client, "SELECT rows_in FROM runnel_catalog.jobs").await;
        if read[0][0].as_deref().and_then(|r| r.parse::<usize>().ok()) >= Some(half) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job read {read:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = simple_rows(&client, "SELECT checkpoint_epoch FROM runnel_catalog.jobs").await;
    let before: u64 = before[0][0]
        .as_deref()
        .map_or(0, |e| e.parse().unwrap_or(0));
    let rows = simple_rows(&client, &format!("STOP JOB '{id}' WITH SAVEPOINT")).await;
    let path = rows[0][0].clone().expect("savepoint path");
    let metadata: serde_json::Value = serde_json::from_slice(
        &std::fs::read(std::path::Path::new(&path).join("_metadata")).expect("_metadata"),
    )
    .expect("json");
    // The job stopped at a checkpoint of its own, not at the last periodic one.
    let epoch = metadata["epoch"].as_u64().expect("epoch");
    assert!(
        epoch > before,
        "savepoint epoch {epoch}, before the stop {before}"
    );
    // The stop committed the epoch's transaction: its windows are visible to read_committed.
    assert!(
        !consume(&output, 100, Duration::from_secs(30))
            .await
            .is_empty()
    );
    let status = simple_rows(
        &client,
        &format!("SELECT status FROM runnel_catalog.jobs WHERE job_id = {id}"),
    )
    .await;
    assert_eq!(status[0][0].as_deref(), Some("stopped"));
    let error = expect_sqlstate(
        &client,
        &format!("STOP JOB '{id}' WITH SAVEPOINT"),
        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
    )
    .await;
    assert!(
        db_error(&error).message().contains("not running"),
        "{error}"
    );

    // Another server (a new binary, a new data directory) runs the same pipeline from it.
    let second = TestServer::start().await;
    let client = second.connect().await;
    expect_sqlstate(&client, "STOP JOB '42'", SqlState::UNDEFINED_OBJECT).await;
    let error = expect_sqlstate(
        &client,
        "STOP JOB '1' WITH DRAIN",
        SqlState::FEATURE_NOT_SUPPORTED,
    )
    .await;
    assert!(db_error(&error).position().is_some(), "{error}");
    // A different query does not take the savepoint's state.
    let other_query = format!(
        "SET 'execution.savepoint.path' = '{path}';
         CREATE TABLE events (customer STRING, ts TIMESTAMP(3),
           WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
         ) WITH ('connector' = 'kafka', 'topic' = '{input}',
                 'properties.bootstrap.servers' = '{}', 'format' = 'json',
                 'scan.startup.mode' = 'earliest-offset');
         CREATE TABLE other (window_start TIMESTAMP(3), customer STRING, n BIGINT)
         WITH ('connector' = 'kafka', 'topic' = '{output}',
               'properties.bootstrap.servers' = '{}', 'format' = 'json')",
        crate::kafka_broker::bootstrap(),
        crate::kafka_broker::bootstrap()
    );
    client.batch_execute(&other_query).await.expect("tables");
    let error = expect_sqlstate(
        &client,
        "INSERT INTO other SELECT window_start, customer, COUNT(*)
         FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND))
         GROUP BY window_start, window_end, customer",
        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
    )
    .await;
    assert!(
        db_error(&error).message().contains("another plan"),
        "{error}"
    );
    client
        .batch_execute("DROP TABLE events; DROP TABLE other")
        .await
        .expect("drop");
    start_pipeline(
        &second,
        &input,
        &output,
        "exactly-once",
        &output,
        &format!("SET 'execution.savepoint.path' = '{path}';"),
    )
    .await;
    produce(&input, &records(half..EVENTS)).await;
    let end = EVENTS as i64 * 50 + 60_000;
    produce(&input, &[record(0, "end", end), record(1, "end", end)]).await;
    let want = expected();
    let got = output_rows(&output, want.len(), Duration::from_secs(60)).await;
    let (missing, duplicated, unexpected) = compare(&want, &got);
    assert_eq!(
        (missing, duplicated, unexpected),
        (0, 0, 0),
        "after stop with savepoint and resume: {missing} rows missing, {duplicated} duplicated, {unexpected} unexpected"
    );
}

/// The jobs listed as running.
async fn running_jobs(server: &TestServer) -> Vec<String> {
    let client = server.connect().await;
    simple_rows(
        &client,
        "SELECT job_id FROM runnel_catalog.jobs WHERE status = 'running' ORDER BY job_id",
    )
    .await
    .into_iter()
    .map(|row| row[0].clone().expect("job id"))
    .collect()
}

#[tokio::test]
async fn insert_jobs_resume_after_kill_9_until_stopped_or_their_table_is_dropped() {
    let mut server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE g (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100');
             CREATE TABLE b1 (id BIGINT) WITH ('connector' = 'blackhole');
             CREATE TABLE b2 (id BIGINT) WITH ('connector' = 'blackhole');
             INSERT INTO b1 SELECT id FROM g;
             INSERT INTO b2 SELECT id FROM g",
        )
        .await
        .expect("jobs");
    assert_eq!(running_jobs(&server).await.len(), 2);
    server.kill();
    server.start_again().await;
    // Both recorded jobs resumed.
    let resumed = running_jobs(&server).await;
    assert_eq!(resumed.len(), 2, "{resumed:?}");
    let client = server.connect().await;
    client
        .batch_execute(&format!("STOP JOB '{}'; DROP TABLE b2", resumed[0]))
        .await
        .expect("stop and drop");
    assert!(running_jobs(&server).await.is_empty());
    server.kill();
    server.start_again().await;
    // Neither the stopped job nor the one whose sink was dropped comes back.
    assert!(running_jobs(&server).await.is_empty());
}
