//! Streaming over pgwire: connector tables, materialized views (snapshot reads, `\dm`, DROP,
//! restart), `INSERT INTO` sink jobs, streaming `SELECT`, `EXPLAIN`, and the jobs table with
//! its late-row counts. A failing job must stop alone.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::harness::{TestServer, expect_sqlstate, repo_root, simple_rows};

/// The issue's example table, over the example data.
fn orders_table() -> String {
    let path = repo_root().join("examples/orders/data/orders.jsonl");
    format!(
        "CREATE TABLE orders (
           order_id STRING,
           customer_id STRING,
           total_amount DECIMAL(10, 2),
           order_time TIMESTAMP(3),
           amount_x2 AS total_amount * 2,                                   -- computed column
           WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
         ) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                 'json.timestamp-format.standard' = 'ISO-8601')",
        path.display()
    )
}

const REVENUE: &str = "CREATE MATERIALIZED VIEW revenue AS
SELECT TUMBLE_START(order_time, INTERVAL '5' MINUTE) AS window_start,
       TUMBLE_END(order_time, INTERVAL '5' MINUTE) AS window_end,
       customer_id, COUNT(*) AS order_count, SUM(total_amount) AS total
FROM orders GROUP BY TUMBLE(order_time, INTERVAL '5' MINUTE), customer_id";

const HOPS: &str = "CREATE MATERIALIZED VIEW hops AS
SELECT window_start, window_end, customer_id, COUNT(*), SUM(total_amount)
FROM TABLE(HOP(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' MINUTE, INTERVAL '10' MINUTES))
GROUP BY window_start, window_end, customer_id";

/// Waits until no job is running; returns the jobs table (name, status, late rows, error).
async fn settled_jobs(client: &Client) -> Vec<Vec<Option<String>>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let jobs = simple_rows(
            client,
            "SELECT name, status, late_rows_dropped, error FROM runnel_catalog.jobs ORDER BY job_id",
        )
        .await;
        if jobs.iter().all(|j| j[1].as_deref() != Some("running")) {
            return jobs;
        }
        assert!(Instant::now() < deadline, "jobs still running: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn cell(value: &str) -> Option<String> {
    Some(value.to_string())
}

fn psql(port: u16, command: &str) -> String {
    let output = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["-U", "runnel", "-d", "runnel", "-c", command])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "psql {command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

const REVENUE_ROWS: [[&str; 5]; 5] = [
    [
        "2024-03-01 09:00:00",
        "2024-03-01 09:05:00",
        "alice",
        "3",
        "27.75",
    ],
    [
        "2024-03-01 09:00:00",
        "2024-03-01 09:05:00",
        "bob",
        "1",
        "20.00",
    ],
    [
        "2024-03-01 09:05:00",
        "2024-03-01 09:10:00",
        "bob",
        "1",
        "3.75",
    ],
    [
        "2024-03-01 09:05:00",
        "2024-03-01 09:10:00",
        "carol",
        "1",
        "7.00",
    ],
    [
        "2024-03-01 09:10:00",
        "2024-03-01 09:15:00",
        "alice",
        "1",
        "1.00",
    ],
];

async fn assert_revenue(client: &Client) {
    let rows = simple_rows(
        client,
        "SELECT * FROM revenue ORDER BY window_start, customer_id",
    )
    .await;
    let expected: Vec<Vec<Option<String>>> = REVENUE_ROWS
        .iter()
        .map(|row| row.iter().map(|v| cell(v)).collect())
        .collect();
    assert_eq!(rows, expected);
}

#[tokio::test]
async fn seed_examples_run_as_materialized_views_and_survive_a_restart() {
    let mut server = TestServer::start().await;
    let client = server.connect().await;
    client.batch_execute(&orders_table()).await.expect("create");
    client.batch_execute(REVENUE).await.expect("revenue");
    client.batch_execute(HOPS).await.expect("hops");
    let jobs = settled_jobs(&client).await;
    assert_eq!(
        jobs,
        vec![
            vec![
                cell("materialized view revenue"),
                cell("finished"),
                cell("0"),
                None
            ],
            vec![
                cell("materialized view hops"),
                cell("finished"),
                cell("0"),
                None
            ],
        ]
    );
    assert_revenue(&client).await;
    // HOP: o5 arrives after two of its ten windows fired; it counts in the other eight.
    let hops = simple_rows(
        &client,
        "SELECT count(*), sum(\"count(*)\") FROM hops WHERE customer_id <> 'nobody'",
    )
    .await;
    assert_eq!(hops, vec![vec![cell("50"), cell("68")]]);
    // Any SQL over the views: a join of both.
    let joined = simple_rows(
        &client,
        "SELECT r.customer_id, count(*) FROM revenue r JOIN hops h
           ON r.customer_id = h.customer_id AND h.window_start = r.window_start
         GROUP BY r.customer_id ORDER BY 1",
    )
    .await;
    assert_eq!(
        joined,
        vec![
            vec![cell("alice"), cell("2")],
            vec![cell("bob"), cell("2")],
            vec![cell("carol"), cell("1")],
        ]
    );
    // psql's \dm lists materialized views, \dt the connector table.
    let listed = psql(server.port, "\\dm");
    assert!(listed.contains("public|hops|materialized view"), "{listed}");
    assert!(
        listed.contains("public|revenue|materialized view"),
        "{listed}"
    );
    let tables = psql(server.port, "\\dt");
    assert!(tables.contains("public|orders|table"), "{tables}");
    assert!(!tables.contains("revenue"), "{tables}");

    // The table cannot go while views read it.
    expect_sqlstate(
        &client,
        "DROP TABLE orders",
        SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
    )
    .await;

    // After a restart, the table is bound again and the views' jobs rerun.
    drop(client);
    server.restart().await;
    let client = server.connect().await;
    settled_jobs(&client).await;
    assert_revenue(&client).await;
    let definition = simple_rows(&client, "SHOW CREATE TABLE orders").await;
    assert!(
        definition[0][1]
            .as_deref()
            .is_some_and(|d| d.contains("WATERMARK FOR order_time")),
        "{definition:?}"
    );

    // DROP stops the job and removes the view.
    client
        .batch_execute("DROP MATERIALIZED VIEW hops")
        .await
        .expect("drop");
    expect_sqlstate(&client, "SELECT * FROM hops", SqlState::UNDEFINED_TABLE).await;
    let names = simple_rows(&client, "SELECT name FROM runnel_catalog.jobs").await;
    assert_eq!(names, vec![vec![cell("materialized view revenue")]]);
    let listed = psql(server.port, "\\dm");
    assert!(!listed.contains("hops"), "{listed}");
    expect_sqlstate(&client, "DROP VIEW revenue", SqlState::WRONG_OBJECT_TYPE).await;
    client
        .batch_execute("DROP TABLE orders CASCADE")
        .await
        .expect("cascade");
    assert!(
        simple_rows(&client, "SELECT name FROM runnel_catalog.jobs")
            .await
            .is_empty()
    );
}

fn write_lines(path: &Path, lines: &[&str]) {
    std::fs::write(path, lines.join("\n") + "\n").expect("write data");
}

#[tokio::test]
async fn late_rows_are_counted_per_job_and_a_failing_job_stops_alone() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    // Watermark delay 0: the row at 00:01:30 fires [00:00, 00:01); 00:00:20 is then late.
    write_lines(
        &events,
        &[
            r#"{"k": "a", "ts": "2024-01-01 00:00:10"}"#,
            r#"{"k": "a", "ts": "2024-01-01 00:01:30"}"#,
            r#"{"k": "b", "ts": "2024-01-01 00:00:20"}"#,
            r#"{"k": "a", "ts": "2024-01-01 00:01:40"}"#,
        ],
    );
    let broken = dir.path().join("broken.jsonl");
    write_lines(
        &broken,
        &[r#"{"k": "a", "ts": "2024-01-01 00:00:10"}"#, "{not json"],
    );
    client
        .batch_execute(&format!(
            "CREATE TABLE events (k STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
               WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
             CREATE TABLE broken (k STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
               WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
             CREATE MATERIALIZED VIEW fails AS
               SELECT window_start, COUNT(*) AS n
               FROM TABLE(TUMBLE(TABLE broken, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
               GROUP BY window_start, window_end;
             CREATE MATERIALIZED VIEW per_minute AS
               SELECT window_start, COUNT(*) AS n
               FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
               GROUP BY window_start, window_end",
            events.display(),
            broken.display()
        ))
        .await
        .expect("create");
    let jobs = settled_jobs(&client).await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!(jobs[0][1].as_deref(), Some("failed"), "{jobs:?}");
    let error = jobs[0][3].clone().unwrap_or_default();
    assert!(
        error.contains("broken.jsonl") && error.contains("line 2"),
        "{error}"
    );
    assert_eq!(
        jobs[1],
        vec![
            cell("materialized view per_minute"),
            cell("finished"),
            cell("1"),
            None
        ]
    );
    let rows = simple_rows(&client, "SELECT * FROM per_minute ORDER BY window_start").await;
    assert_eq!(
        rows,
        vec![
            vec![cell("2024-01-01 00:00:00"), cell("1")],
            vec![cell("2024-01-01 00:01:00"), cell("2")],
        ]
    );
    // SHOW JOBS is the same table.
    let shown = simple_rows(&client, "SHOW JOBS").await;
    assert_eq!(shown.len(), 2);
    assert_eq!(
        shown[1][7].as_deref(),
        Some("1"),
        "late_rows_dropped: {shown:?}"
    );
    // The server is still serving.
    assert_eq!(
        simple_rows(&client, "SELECT 1").await,
        vec![vec![cell("1")]]
    );
}

#[tokio::test]
async fn insert_jobs_streaming_selects_and_explain_over_pgwire() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let out = tempfile::tempdir().expect("tempdir");
    client.batch_execute(&orders_table()).await.expect("create");
    client
        .batch_execute(&format!(
            "CREATE TABLE per_customer (customer_id STRING, orders BIGINT, total DECIMAL(20, 2))
               WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
            out.path().display()
        ))
        .await
        .expect("sink");
    let messages = client
        .simple_query(
            "INSERT INTO per_customer
             SELECT customer_id, COUNT(*), SUM(total_amount)
             FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' HOUR))
             GROUP BY window_start, window_end, customer_id",
        )
        .await
        .expect("insert");
    assert!(
        messages
            .iter()
            .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::CommandComplete(0)))
    );
    let jobs = settled_jobs(&client).await;
    assert_eq!(
        jobs,
        vec![vec![
            cell("INSERT INTO per_customer"),
            cell("finished"),
            cell("0"),
            None
        ]]
    );
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(out.path()).expect("sink directory") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("part file");
        lines.extend(text.lines().map(str::to_string));
    }
    lines.sort();
    assert_eq!(lines, vec!["alice,4,28.75", "bob,2,23.75", "carol,1,7.00"]);

    // A bare SELECT over a connector table streams its rows (extended protocol too).
    let rows = client
        .query(
            "SELECT customer_id, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' HOUR))
             GROUP BY window_start, window_end, customer_id",
            &[],
        )
        .await
        .expect("streaming select");
    let mut counts: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![("alice".into(), 4), ("bob".into(), 2), ("carol".into(), 1)]
    );

    let plan = simple_rows(
        &client,
        "EXPLAIN SELECT customer_id, COUNT(*) FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '5' MINUTES))
         GROUP BY window_start, window_end, customer_id",
    )
    .await;
    let plan: Vec<String> = plan.into_iter().filter_map(|r| r[0].clone()).collect();
    assert!(
        plan.iter().any(|l| l.contains("WindowAggregate: TUMBLE")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|l| l.contains("Exchange: hash(customer_id")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|l| l.contains("watermark: order_time AS order_time - INTERVAL '5' SECOND")),
        "{plan:?}"
    );

    // Not incremental: refused at planning time with what to do instead.
    let error = expect_sqlstate(
        &client,
        "SELECT * FROM orders ORDER BY order_time",
        SqlState::FEATURE_NOT_SUPPORTED,
    )
    .await;
    let message = crate::harness::db_error(&error).message();
    assert!(message.contains("cannot run incrementally"), "{message}");
}

#[tokio::test]
async fn connector_tables_are_checked_when_created() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let sql = "CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'rows-per-secnd' = '5')";
    let error = expect_sqlstate(&client, sql, SqlState::INVALID_PARAMETER_VALUE).await;
    let db = crate::harness::db_error(&error);
    assert!(db.message().contains("rows-per-secnd"), "{}", db.message());
    let error = expect_sqlstate(
        &client,
        "CREATE TABLE t (a INT, WATERMARK FOR a AS a) WITH ('connector' = 'datagen')",
        SqlState::DATATYPE_MISMATCH,
    )
    .await;
    assert!(
        crate::harness::db_error(&error).position().is_some(),
        "{error}"
    );
    let error = expect_sqlstate(
        &client,
        "CREATE MATERIALIZED VIEW v AS SELECT 1",
        SqlState::FEATURE_NOT_SUPPORTED,
    )
    .await;
    let message = crate::harness::db_error(&error).message();
    assert!(message.contains("CREATE VIEW"), "{message}");
    // An unbounded generator: the view's job keeps running until dropped.
    client
        .batch_execute(
            "CREATE TABLE gen (id BIGINT, ts AS to_timestamp_millis(id), WATERMARK FOR ts AS ts)
               WITH ('connector' = 'datagen', 'rows-per-second' = '2000',
                     'fields.id.kind' = 'sequence', 'fields.id.start' = '0',
                     'fields.id.end' = '1000000000');
             CREATE MATERIALIZED VIEW ticks AS
               SELECT window_start, COUNT(*) AS n
               FROM TABLE(TUMBLE(TABLE gen, DESCRIPTOR(ts), INTERVAL '100' MILLISECOND))
               GROUP BY window_start, window_end",
        )
        .await
        .expect("unbounded view");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = simple_rows(&client, "SELECT count(*), min(n), max(n) FROM ticks").await;
        // Every published window is complete: 100 ids per 100 ms window.
        if rows[0][0].as_deref().and_then(|c| c.parse::<u32>().ok()) >= Some(3) {
            assert_eq!(rows[0][1..], [cell("100"), cell("100")], "{rows:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the view did not fill: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = simple_rows(
        &client,
        "SELECT status, watermark IS NOT NULL FROM runnel_catalog.jobs",
    )
    .await;
    assert_eq!(status, vec![vec![cell("running"), cell("t")]]);
    client
        .batch_execute("DROP MATERIALIZED VIEW ticks")
        .await
        .expect("drop");
    assert!(
        simple_rows(&client, "SELECT * FROM runnel_catalog.jobs")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_streaming_select_over_an_unbounded_source_ends_when_cancelled() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE gen (id BIGINT, ts AS to_timestamp_millis(id), WATERMARK FOR ts AS ts)
               WITH ('connector' = 'datagen', 'rows-per-second' = '1000',
                     'fields.id.kind' = 'sequence', 'fields.id.start' = '0',
                     'fields.id.end' = '1000000000')",
        )
        .await
        .expect("table");
    let cancel = client.cancel_token();
    let running = tokio::spawn(async move {
        let result = client
            .simple_query(
                "SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE gen, DESCRIPTOR(ts), INTERVAL '100' MILLISECOND))
                 GROUP BY window_start, window_end",
            )
            .await;
        (client, result)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !running.is_finished(),
        "an unbounded SELECT keeps streaming"
    );
    cancel
        .cancel_query(tokio_postgres::NoTls)
        .await
        .expect("cancel request");
    let (client, result) = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the SELECT ends after the cancel")
        .expect("task");
    let error = result.expect_err("cancelled");
    assert_eq!(error.code(), Some(&SqlState::QUERY_CANCELED), "{error}");
    assert_eq!(
        simple_rows(&client, "SELECT 1").await,
        vec![vec![cell("1")]]
    );
}
