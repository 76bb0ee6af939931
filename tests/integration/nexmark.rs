//! Nexmark: the standard DDL over psql, and the benchmark's correctness check over every
//! query Runnel runs (the CI smoke test at 100 000 events).

use std::process::Command;

use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::error::SqlState;

use crate::harness::{TestServer, db_error, expect_sqlstate, repo_root, simple_rows};

/// The queries Runnel runs today; the others must report the planner's reason.
const SUPPORTED: &[&str] = &[
    "source",
    "q0",
    "q1",
    "q2",
    "q5-window",
    "q7-window",
    "q8-window",
    "q10",
    "q11",
    "q12",
    "q14",
    "q21",
    "q22",
];

#[test]
fn every_supported_query_matches_its_reference_at_100k_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("nexmark.json");
    let output = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .current_dir(repo_root())
        .args([
            "bench",
            "nexmark",
            "--check-only",
            "--check-events",
            "100000",
            "--parallelism",
            "2",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("runnel runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("parses");
    assert_eq!(rows.len(), 27, "the source, q0-q22 and three window parts");
    let mut supported = Vec::new();
    for row in &rows {
        let query = row["query"].as_str().expect("query");
        match row["status"].as_str() {
            Some("ok") => {
                supported.push(query);
                let check = row["check"].as_str().unwrap_or("");
                assert!(check.starts_with("pass ("), "{query}: {check}");
                assert!(!check.starts_with("pass (0 rows)"), "{query} gave no rows");
            }
            Some("unsupported") => {
                let reason = row["reason"].as_str().unwrap_or("");
                assert!(reason.contains("SQLSTATE"), "{query}: {reason}");
            }
            other => panic!("{query}: {other:?}: {row}"),
        }
    }
    assert_eq!(supported, SUPPORTED, "{stdout}");
}

/// The suite's DDL file (the source table and its three views), unmodified but for its
/// placeholders, plus a fixed start time and full speed.
fn ddl() -> String {
    std::fs::read_to_string(repo_root().join("server/nexmark/ddl.sql"))
        .expect("server/nexmark/ddl.sql")
        .replace("${TPS}", "1000")
        .replace("${EVENTS_NUM}", "5000")
        .replace("${PERSON_PROPORTION}", "1")
        .replace("${AUCTION_PROPORTION}", "3")
        .replace("${BID_PROPORTION}", "46")
        .replace(
            "'connector' = 'nexmark',",
            "'connector' = 'nexmark', 'max-emit-speed' = 'true', 'base-time' = '2024-01-01 00:00:00',",
        )
}

/// Column names and rows of a simple-protocol query.
async fn named_rows(
    client: &tokio_postgres::Client,
    sql: &str,
) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let messages = client.simple_query(sql).await.expect(sql);
    let mut names = Vec::new();
    let mut rows = Vec::new();
    for message in messages {
        match message {
            SimpleQueryMessage::RowDescription(columns) => {
                names = columns.iter().map(|c| c.name().to_string()).collect();
            }
            SimpleQueryMessage::Row(row) => {
                rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                );
            }
            _ => {}
        }
    }
    (names, rows)
}

#[tokio::test]
async fn the_standard_nexmark_ddl_and_views_run_over_psql() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client.batch_execute(&ddl()).await.expect("the DDL runs");

    // The views' columns carry Flink's names (the ROW field's name), and the ids follow the
    // event numbers: 100 people in 5000 events, ids from 1000.
    let (names, people) = named_rows(&client, "SELECT * FROM person").await;
    assert_eq!(
        names,
        [
            "id",
            "name",
            "emailaddress",
            "creditcard",
            "city",
            "state",
            "datetime",
            "extra"
        ]
    );
    let mut ids: Vec<i64> = people
        .iter()
        .map(|r| r[0].as_deref().expect("id").parse().expect("bigint"))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1000..1100).collect::<Vec<_>>());
    assert!(
        people
            .iter()
            .any(|r| r[6].as_deref() == Some("2024-01-01 00:00:00"))
    );

    // A window over a view: 4600 bids in 5 s of event time, counted per 1-second window.
    let (names, windows) = named_rows(
        &client,
        "SELECT window_start, COUNT(*) AS bids, MAX(price) AS `max price` \
         FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '1' SECOND)) \
         GROUP BY window_start, window_end",
    )
    .await;
    assert_eq!(names, ["window_start", "bids", "max price"]);
    let total: i64 = windows
        .iter()
        .map(|r| r[1].as_deref().expect("count").parse::<i64>().expect("int"))
        .sum();
    assert_eq!((windows.len(), total), (5, 4600));

    // Flink's group-window form, qualified by the view's alias (query 11's shape).
    let sessions = simple_rows(
        &client,
        "SELECT B.bidder, COUNT(*) AS bid_count, SESSION_START(B.dateTime, INTERVAL '10' SECOND) \
         FROM bid B GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10' SECOND)",
    )
    .await;
    let bids: i64 = sessions
        .iter()
        .map(|r| r[1].as_deref().expect("count").parse::<i64>().expect("int"))
        .sum();
    assert_eq!(bids, 4600);

    // Flink's functions in a projection over the view.
    let directories = simple_rows(
        &client,
        "SELECT SPLIT_INDEX(url, '/', 2), DATE_FORMAT(dateTime, 'yyyy-MM-dd HH:mm'), \
         REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) FROM bid WHERE MOD(auction, 2) = 0",
    )
    .await;
    assert!(!directories.is_empty());
    for row in &directories {
        assert_eq!(row[0].as_deref(), Some("www.nexmark.com"));
        assert_eq!(row[1].as_deref(), Some("2024-01-01 00:00"));
    }
    assert!(directories.iter().any(|r| r[2].is_some()));

    // A window over a view that does not pass the event time through is refused.
    client
        .simple_query(
            "CREATE VIEW shifted AS SELECT auction, dateTime + INTERVAL '1' SECOND AS dateTime FROM bid",
        )
        .await
        .expect("view");
    let error = expect_sqlstate(
        &client,
        "SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE shifted, DESCRIPTOR(dateTime), \
         INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
        SqlState::DATATYPE_MISMATCH,
    )
    .await;
    let message = db_error(&error).message();
    assert!(
        message.contains("neither the event-time (WATERMARK) column"),
        "{message}"
    );

    // A nexmark table cannot be written, and a wrong column is named.
    let error = expect_sqlstate(
        &client,
        "CREATE TABLE wrong (event_type INT, bids ROW<price BIGINT>) WITH ('connector' = 'nexmark')",
        SqlState::INVALID_PARAMETER_VALUE,
    )
    .await;
    assert!(db_error(&error).message().contains("'bids'"), "{error}");
}
