//! Checkpoints and recovery through the real binary: a materialized view over a Kafka topic
//! keeps its rows and its open windows' state across `kill -9`, and the results after recovery
//! equal those of a run that never crashed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::harness::{TestServer, db_error, expect_sqlstate, simple_rows};
use crate::kafka::{BASE, rows_when, timestamp_text};
use crate::kafka_broker::{Record, bootstrap, create_topic, produce, unique_topic};

/// An event of customer `customer` at `seconds` after [`BASE`], as JSON.
fn event(customer: &str, seconds: i64) -> Vec<u8> {
    let millis = BASE + seconds * 1000;
    format!(
        r#"{{"customer": "{customer}", "ts": "{}.000"}}"#,
        timestamp_text(millis)
    )
    .into_bytes()
}

/// The job's `(rows_in, checkpoint_epoch, checkpoint_bytes)`.
async fn job_figures(client: &Client) -> (i64, i64, i64) {
    let rows = simple_rows(
        client,
        "SELECT rows_in, checkpoint_epoch, checkpoint_bytes FROM runnel_catalog.jobs",
    )
    .await;
    let number = |cell: &Option<String>| cell.as_deref().map_or(0, |v| v.parse().unwrap_or(0));
    rows.first()
        .map_or((0, 0, 0), |r| (number(&r[0]), number(&r[1]), number(&r[2])))
}

/// Waits until the job has read `rows_in` rows and a checkpoint completed after that.
async fn durable_after(client: &Client, rows_in: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen_epoch = None;
    loop {
        let (read, epoch, _) = job_figures(client).await;
        match seen_epoch {
            None if read >= rows_in => seen_epoch = Some(epoch),
            Some(first) if epoch > first => return,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint after {rows_in} rows: read {read}, epoch {epoch}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Counts per `(window start, customer)` of 1-minute windows ending at or before `until`
/// seconds: what the view must hold.
fn expected(events: &[(&str, i64)], until: i64) -> Vec<Vec<String>> {
    let mut counts: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for (customer, seconds) in events {
        let start = seconds - seconds.rem_euclid(60);
        if start + 60 <= until {
            *counts.entry((start, customer.to_string())).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((start, customer), n)| {
            vec![timestamp_text(BASE + start * 1000), customer, n.to_string()]
        })
        .collect()
}

fn text(rows: Vec<Vec<Option<String>>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|r| r.into_iter().map(|c| c.unwrap_or_default()).collect())
        .collect()
}

const VIEW_ROWS: &str = "SELECT window_start, customer, n FROM per_minute ORDER BY 1, 2";

#[tokio::test]
async fn a_view_and_its_open_windows_survive_kill_9() {
    let topic = unique_topic("checkpoints");
    create_topic(&topic, 2).await;
    let customers = ["a", "b", "c"];
    // First part: 0 s .. 295 s. The watermark (5 s behind) fires the windows up to 240 s;
    // the window [240 s, 300 s) stays open, its state in the job.
    let first: Vec<(&str, i64)> = (0..60).map(|i| (customers[i % 3], i as i64 * 5)).collect();
    let records = |events: &[(&str, i64)], offset: usize| -> Vec<Record> {
        events
            .iter()
            .enumerate()
            .map(|(i, (customer, seconds))| {
                Record::value(event(customer, *seconds)).in_partition(((i + offset) % 2) as i32)
            })
            .collect()
    };
    produce(&topic, &records(&first, 0)).await;

    let mut server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE events (customer STRING, ts TIMESTAMP(3),
               WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
             ) WITH ('connector' = 'kafka', 'topic' = '{topic}',
                     'properties.bootstrap.servers' = '{}', 'format' = 'json',
                     'scan.startup.mode' = 'earliest-offset');
             SET 'execution.checkpointing.interval' = '5ms'",
            bootstrap()
        ))
        .await
        .expect("create table");
    let create_view = "CREATE MATERIALIZED VIEW per_minute AS
        SELECT window_start, customer, COUNT(*) AS n
        FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
        GROUP BY window_start, window_end, customer";
    // Flink's per-job interval setting is checked when a view would use it.
    let error = expect_sqlstate(&client, create_view, SqlState::INVALID_PARAMETER_VALUE).await;
    let message = db_error(&error).message();
    assert!(message.contains("at least 10 ms"), "{message}");
    client
        .batch_execute(&format!(
            "SET 'execution.checkpointing.interval' = '200ms'; {create_view}"
        ))
        .await
        .expect("create view");
    rows_when(&client, VIEW_ROWS, 12, Duration::from_secs(60)).await;
    durable_after(&client, first.len() as i64).await;
    let (_, epoch, bytes) = job_figures(&client).await;
    assert!(epoch > 0 && bytes > 0, "epoch {epoch}, {bytes} bytes");
    let before = text(simple_rows(&client, VIEW_ROWS).await);
    assert_eq!(before, expected(&first, 240));

    server.kill();
    server.start_again().await;
    let client = server.connect().await;
    // The view's rows are back before its job has read anything new.
    assert_eq!(text(simple_rows(&client, VIEW_ROWS).await), before);

    // Second part: rows for the window that was open at the crash, then later ones up to
    // 450 s on both partitions (the watermark reaches 445 s: windows up to 420 s fire).
    let mut second: Vec<(&str, i64)> = (0..6).map(|i| (customers[i % 3], 250 + i as i64)).collect();
    second.extend((0..31).map(|i| (customers[i % 3], 300 + i as i64 * 5)));
    produce(&topic, &records(&second, 0)).await;
    let all: Vec<(&str, i64)> = first.iter().chain(second.iter()).copied().collect();
    let want = expected(&all, 420);
    rows_when(&client, VIEW_ROWS, want.len(), Duration::from_secs(60)).await;
    // Nothing more fires; the rows equal those of an uninterrupted run (the open window
    // counts the rows read before and after the crash exactly once).
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(text(simple_rows(&client, VIEW_ROWS).await), want);
}
