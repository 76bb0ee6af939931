//! Processing-time windows (`PROCTIME()`) over a real Kafka topic: rows are windowed by when
//! they are processed, event-time lateness does not apply, and windows close by the wall clock
//! while the source stays open and quiet.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::harness::{TestServer, simple_rows};
use crate::kafka::{BASE, order, orders_table};
use crate::kafka_broker::{Record, create_topic, produce, unique_topic};

fn wall_clock_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Polls `sql` (one number) until it reads `expected`, or fails after `timeout`.
async fn number_when(client: &Client, sql: &str, expected: i64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let rows = simple_rows(client, sql).await;
        let value = rows
            .first()
            .and_then(|r| r[0].as_deref())
            .and_then(|v| v.parse::<i64>().ok());
        if value == Some(expected) {
            return;
        }
        if Instant::now() > deadline {
            let jobs = simple_rows(
                client,
                "SELECT name, status, rows_in, rows_out, watermark, error FROM runnel_catalog.jobs",
            )
            .await;
            panic!("{sql}: {value:?}, not {expected}, after {timeout:?}; jobs: {jobs:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Orders whose event times go backwards a minute each: under event time all but the first
/// would be late; under processing time every one counts.
fn backwards_orders(from: usize, count: usize) -> Vec<Record> {
    (from..from + count)
        .map(|i| {
            let customer = if i % 2 == 0 { "c1" } else { "c2" };
            Record::value(order(i, customer, 100, BASE - i as i64 * 60_000)).in_partition(0)
        })
        .collect()
}

#[tokio::test]
async fn processing_time_windows_close_by_the_wall_clock_while_the_source_is_quiet() {
    let topic = unique_topic("proctime");
    // Partition 1 stays empty: under event time it would hold the watermark back forever.
    create_topic(&topic, 2).await;
    produce(&topic, &backwards_orders(0, 20)).await;

    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(&orders_table(
            "orders_pt",
            &topic,
            "proc AS PROCTIME(),",
            ", 'scan.startup.mode' = 'earliest-offset'",
        ))
        .await
        .expect("table");
    let before = wall_clock_millis();
    // The TVF form over a table's processing-time column, and Flink's group-window form over
    // a derived table that adds one (Nexmark q12's shape).
    client
        .batch_execute(
            "CREATE MATERIALIZED VIEW per_second AS
               SELECT window_start, window_end, COUNT(*) AS n
               FROM TABLE(TUMBLE(TABLE orders_pt, DESCRIPTOR(proc), INTERVAL '1' SECOND))
               GROUP BY window_start, window_end;
             CREATE MATERIALIZED VIEW per_customer AS
               SELECT o.customer_id, COUNT(*) AS n,
                      TUMBLE_START(o.pt, INTERVAL '1' SECOND) AS ws,
                      TUMBLE_END(o.pt, INTERVAL '1' SECOND) AS we
               FROM (SELECT *, PROCTIME() AS pt FROM orders_pt) AS o
               GROUP BY o.customer_id, TUMBLE(o.pt, INTERVAL '1' SECOND)",
        )
        .await
        .expect("views");

    // No row comes after the 20: only the wall clock can close their windows.
    let timeout = Duration::from_secs(30);
    number_when(&client, "SELECT SUM(n) FROM per_second", 20, timeout).await;
    number_when(&client, "SELECT SUM(n) FROM per_customer", 20, timeout).await;
    let after = wall_clock_millis();
    let windows = simple_rows(
        &client,
        "SELECT CAST(window_start AS BIGINT), CAST(window_end AS BIGINT) FROM per_second",
    )
    .await;
    for window in &windows {
        let start: i64 = window[0]
            .as_deref()
            .and_then(|v| v.parse().ok())
            .expect("start");
        let end: i64 = window[1]
            .as_deref()
            .and_then(|v| v.parse().ok())
            .expect("end");
        assert_eq!((end - start, start % 1000), (1000, 0), "{windows:?}");
        // Windows of the wall clock while the test ran, closed before it read them.
        assert!(
            start >= before - 1000 && end <= after,
            "{windows:?} {before} {after}"
        );
    }
    let customers = simple_rows(
        &client,
        "SELECT customer_id, SUM(n), BOOL_AND(CAST(we AS BIGINT) - CAST(ws AS BIGINT) = 1000)
         FROM per_customer GROUP BY customer_id ORDER BY customer_id",
    )
    .await;
    let cell = |v: &str| Some(v.to_string());
    assert_eq!(
        customers,
        vec![
            vec![cell("c1"), cell("10"), cell("t")],
            vec![cell("c2"), cell("10"), cell("t")],
        ]
    );

    // The jobs keep running, and rows that come later land in later windows.
    produce(&topic, &backwards_orders(20, 5)).await;
    number_when(&client, "SELECT SUM(n) FROM per_second", 25, timeout).await;
    number_when(&client, "SELECT SUM(n) FROM per_customer", 25, timeout).await;
    let jobs = simple_rows(
        &client,
        "SELECT status, late_rows_dropped FROM runnel_catalog.jobs ORDER BY job_id",
    )
    .await;
    assert_eq!(
        jobs,
        vec![
            vec![cell("running"), cell("0")],
            vec![cell("running"), cell("0")]
        ]
    );
}
