//! The Kafka connector against a real Apache Kafka broker (`tests/kafka/broker.sh`): the seed
//! blueprint (orders → 5-minute tumbling revenue → a materialized view and a Kafka topic),
//! metadata columns, every startup mode, malformed records, idle partitions, partitions added
//! while running, sink keys and partitioners, and the options Runnel refuses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::harness::{TestServer, db_error, expect_sqlstate, simple_rows};
use crate::kafka_broker::{
    Record, add_partitions, bootstrap, commit_offsets, consume, create_topic, produce, unique_topic,
};

/// 2026-01-01 00:00:00 UTC in epoch milliseconds.
pub(crate) const BASE: i64 = 1_767_225_600_000;

pub(crate) fn timestamp_text(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .expect("timestamp")
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// An order event as JSON.
pub(crate) fn order(id: usize, customer: &str, cents: i64, millis: i64) -> Vec<u8> {
    format!(
        r#"{{"order_id": "o{id}", "customer_id": "{customer}", "total_amount": {}.{:02}, "order_time": "{}.{:03}"}}"#,
        cents / 100,
        cents % 100,
        timestamp_text(millis),
        millis % 1000
    )
    .into_bytes()
}

/// The seed table over `topic`, with extra columns and options.
pub(crate) fn orders_table(
    name: &str,
    topic: &str,
    extra_columns: &str,
    extra_options: &str,
) -> String {
    format!(
        "CREATE TABLE {name} (
           order_id STRING, customer_id STRING, total_amount DECIMAL(10, 2), order_time TIMESTAMP(3),
           {extra_columns}
           WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
         ) WITH ('connector' = 'kafka', 'topic' = '{topic}',
                 'properties.bootstrap.servers' = '{}', 'format' = 'json'{extra_options})",
        bootstrap()
    )
}

/// Polls `sql` until it returns `count` rows (or fails the test after `timeout`).
pub(crate) async fn rows_when(
    client: &Client,
    sql: &str,
    count: usize,
    timeout: Duration,
) -> Vec<Vec<Option<String>>> {
    let deadline = Instant::now() + timeout;
    loop {
        let rows = simple_rows(client, sql).await;
        if rows.len() >= count {
            return rows;
        }
        if Instant::now() > deadline {
            let jobs = simple_rows(
                client,
                "SELECT name, status, rows_in, rows_out, watermark, error FROM runnel_catalog.jobs",
            )
            .await;
            panic!(
                "{sql}: {} of {count} rows after {timeout:?}; jobs: {jobs:?}",
                rows.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A view counting `table`'s rows per 1-minute window.
fn minute_counts(name: &str, table: &str) -> String {
    format!(
        "CREATE MATERIALIZED VIEW {name} AS
         SELECT window_start, COUNT(*) AS n
         FROM TABLE(TUMBLE(TABLE {table}, DESCRIPTOR(order_time), INTERVAL '1' MINUTE))
         GROUP BY window_start, window_end"
    )
}

/// The jobs table row of `name`: status, malformed_skipped, error.
async fn job(client: &Client, name: &str) -> Vec<Option<String>> {
    let rows = simple_rows(
        client,
        &format!(
            "SELECT status, malformed_skipped, error FROM runnel_catalog.jobs WHERE name = 'materialized view {name}'"
        ),
    )
    .await;
    rows.into_iter()
        .next()
        .unwrap_or_else(|| panic!("no job {name}"))
}

async fn job_settled(client: &Client, name: &str) -> Vec<Option<String>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = job(client, name).await;
        if row[0].as_deref() != Some("running") {
            return row;
        }
        assert!(Instant::now() < deadline, "job {name} still running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The seed blueprint end to end: 200 JSON orders on a 3-partition topic → a job with a
/// watermark and a 5-minute TUMBLE into a materialized view (read over pgwire) and another into
/// a Kafka sink topic (consumed and checked record by record).
#[tokio::test]
async fn seed_blueprint_from_kafka_to_a_view_and_a_topic() {
    let orders = unique_topic("orders");
    let revenue_topic = unique_topic("revenue");
    create_topic(&orders, 3).await;
    create_topic(&revenue_topic, 3).await;
    let customers = ["alice", "bob", "carol", "dave"];
    let mut records = Vec::new();
    // (window start, customer) -> (count, cents)
    let mut expected: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
    for i in 0..200usize {
        let customer = customers[(i * 7) % 4];
        let cents = 100 + (i as i64 * 37) % 5000;
        let millis = BASE + i as i64 * 7_000;
        records.push(Record::value(order(i, customer, cents, millis)).keyed(customer));
        let window = millis - millis % 300_000;
        let entry = expected.entry((window, customer.to_string())).or_default();
        entry.0 += 1;
        entry.1 += cents;
    }
    produce(&orders, &records).await;
    // One late event per partition an hour later: every earlier window fires on every
    // partition's watermark.
    let last = BASE + 3_600_000;
    let flush: Vec<Record> = (0..3)
        .map(|p| Record::value(order(1000 + p as usize, "zz", 1, last)).in_partition(p))
        .collect();
    produce(&orders, &flush).await;

    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(&orders_table(
            "orders",
            &orders,
            "kafka_partition INT METADATA FROM 'partition' VIRTUAL,",
            ", 'properties.group.id' = 'runnel-orders', 'scan.startup.mode' = 'earliest-offset'",
        ))
        .await
        .expect("orders table");
    client
        .batch_execute(
            "CREATE MATERIALIZED VIEW revenue AS
             SELECT window_start, window_end, customer_id, COUNT(*) AS orders, SUM(total_amount) AS total
             FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '5' MINUTES))
             GROUP BY window_start, window_end, customer_id",
        )
        .await
        .expect("revenue view");
    client
        .batch_execute(&format!(
            "CREATE TABLE revenue_out (
               window_start TIMESTAMP(3), window_end TIMESTAMP(3), customer_id STRING,
               orders BIGINT, total DECIMAL(20, 2)
             ) WITH ('connector' = 'kafka', 'topic' = '{revenue_topic}',
                     'properties.bootstrap.servers' = '{}', 'format' = 'json',
                     'key.format' = 'json', 'key.fields' = 'customer_id',
                     'sink.delivery-guarantee' = 'at-least-once');
             INSERT INTO revenue_out
             SELECT window_start, window_end, customer_id, COUNT(*), SUM(total_amount)
             FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '5' MINUTES))
             GROUP BY window_start, window_end, customer_id",
            bootstrap()
        ))
        .await
        .expect("sink job");

    let want: Vec<Vec<Option<String>>> = expected
        .iter()
        .map(|((window, customer), (count, cents))| {
            vec![
                Some(timestamp_text(*window)),
                Some(customer.clone()),
                Some(count.to_string()),
                Some(format!("{}.{:02}", cents / 100, cents % 100)),
            ]
        })
        .collect();
    let got = rows_when(
        &client,
        "SELECT window_start, customer_id, orders, total FROM revenue ORDER BY window_start, customer_id",
        want.len(),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(got, want, "the view holds every fired window, exactly");

    // The sink topic: one record per window and customer, keyed by customer.
    let consumed = consume(&revenue_topic, want.len(), Duration::from_secs(60)).await;
    assert_eq!(consumed.len(), want.len(), "no record missing or repeated");
    let mut from_topic: Vec<Vec<Option<String>>> = consumed
        .iter()
        .map(|record| {
            let value = record.json();
            let key: serde_json::Value =
                serde_json::from_slice(record.key.as_deref().expect("keyed")).expect("json key");
            assert_eq!(key["customer_id"], value["customer_id"], "{value}");
            let start = value["window_start"].as_str().expect("window_start");
            vec![
                Some(start[..19].to_string()),
                value["customer_id"].as_str().map(str::to_string),
                Some(value["orders"].to_string()),
                Some(match &value["total"] {
                    serde_json::Value::Number(n) => format!("{:.2}", n.as_f64().unwrap_or(0.0)),
                    other => other.to_string(),
                }),
            ]
        })
        .collect();
    from_topic.sort();
    assert_eq!(from_topic, want);
    // Keyed records of one customer share a partition.
    let mut partitions: BTreeMap<Vec<u8>, i32> = BTreeMap::new();
    for record in &consumed {
        let key = record.key.clone().unwrap_or_default();
        let partition = *partitions.entry(key).or_insert(record.partition);
        assert_eq!(partition, record.partition);
    }
    let jobs = simple_rows(&client, "SELECT status, rows_in FROM runnel_catalog.jobs").await;
    assert!(
        jobs.iter().all(|j| j[0].as_deref() == Some("running")),
        "{jobs:?}"
    );
}

/// Metadata columns and every `scan.startup.mode`, read by bounded streaming SELECTs.
#[tokio::test]
async fn metadata_columns_and_startup_modes() {
    let topic = unique_topic("events");
    // Record timestamps from a minute ago: older ones could be removed by the broker's retention.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let base = now - now % 1000 - 60_000;
    create_topic(&topic, 2).await;
    let mut records = Vec::new();
    for i in 0..10i64 {
        let mut record = Record::value(order(i as usize, "c", 100 + i, base + i * 1000))
            .in_partition((i % 2) as i32)
            .keyed(format!("k{i}"));
        record.timestamp = Some(base + i * 1000);
        record.headers = vec![("source".to_string(), format!("h{i}").into_bytes())];
        records.push(record);
    }
    produce(&topic, &records).await;

    let server = TestServer::start().await;
    let client = server.connect().await;
    let table = |name: &str, options: &str| {
        orders_table(
            name,
            &topic,
            "kafka_topic STRING METADATA FROM 'topic' VIRTUAL,
             kafka_partition INT METADATA FROM 'partition' VIRTUAL,
             kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
             kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
             headers MAP<STRING, BYTES> METADATA VIRTUAL,
             kafka_key BYTES METADATA FROM 'key' VIRTUAL,",
            &format!(", 'scan.bounded.mode' = 'latest-offset'{options}"),
        )
    };
    client
        .batch_execute(&table(
            "all_events",
            ", 'scan.startup.mode' = 'earliest-offset'",
        ))
        .await
        .expect("table");
    let rows = simple_rows(
        &client,
        "SELECT order_id, kafka_topic, kafka_partition, kafka_offset,
                CAST(kafka_ts AS TIMESTAMP(3)) = order_time AS same_time,
                CAST(kafka_key AS STRING) AS k,
                CAST(map_extract(headers, 'source')[1] AS STRING) AS h
         FROM all_events",
    )
    .await;
    let mut rows = rows;
    rows.sort_by_key(|r| {
        r[0].clone().unwrap_or_default()[1..]
            .parse::<i64>()
            .unwrap_or(0)
    });
    assert_eq!(rows.len(), 10, "{rows:?}");
    for (i, row) in rows.iter().enumerate() {
        let i = i as i64;
        assert_eq!(
            row,
            &vec![
                Some(format!("o{i}")),
                Some(topic.clone()),
                Some((i % 2).to_string()),
                Some((i / 2).to_string()),
                Some("t".to_string()),
                Some(format!("k{i}")),
                Some(format!("h{i}")),
            ]
        );
    }

    // A pattern that matches this topic alone.
    client
        .batch_execute(&format!(
            "CREATE TABLE by_pattern (order_id STRING) WITH ('connector' = 'kafka',
               'topic-pattern' = '{}', 'properties.bootstrap.servers' = '{}', 'format' = 'json',
               'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset')",
            topic.replace('-', "[-]"),
            bootstrap()
        ))
        .await
        .expect("pattern table");
    assert_eq!(
        simple_rows(&client, "SELECT order_id FROM by_pattern")
            .await
            .len(),
        10
    );

    let ids = |rows: Vec<Vec<Option<String>>>| {
        let mut ids: Vec<i64> = rows
            .iter()
            .map(|r| r[0].clone().unwrap_or_default()[1..].parse().unwrap_or(-1))
            .collect();
        ids.sort();
        ids
    };
    client
        .batch_execute(&table(
            "latest_events",
            ", 'scan.startup.mode' = 'latest-offset'",
        ))
        .await
        .expect("latest");
    assert!(ids(simple_rows(&client, "SELECT order_id FROM latest_events").await).is_empty());

    // Bounded by offsets (partition 0 before offset 2, partition 1 before offset 1) and by
    // time (records up to base + 3.5 s).
    client
        .batch_execute(
            &table(
                "offset_bounded",
                ", 'scan.startup.mode' = 'earliest-offset'",
            )
            .replace(
                "'scan.bounded.mode' = 'latest-offset'",
                "'scan.bounded.mode' = 'specific-offsets',
             'scan.bounded.specific-offsets' = 'partition:0,offset:2;partition:1,offset:1'",
            ),
        )
        .await
        .expect("offset bounded");
    assert_eq!(
        ids(simple_rows(&client, "SELECT order_id FROM offset_bounded").await),
        vec![0, 1, 2]
    );
    client
        .batch_execute(
            &table("time_bounded", ", 'scan.startup.mode' = 'earliest-offset'").replace(
                "'scan.bounded.mode' = 'latest-offset'",
                &format!(
                    "'scan.bounded.mode' = 'timestamp', 'scan.bounded.timestamp-millis' = '{}'",
                    base + 3_500
                ),
            ),
        )
        .await
        .expect("time bounded");
    assert_eq!(
        ids(simple_rows(&client, "SELECT order_id FROM time_bounded").await),
        vec![0, 1, 2, 3]
    );

    // Written metadata: a sink sets each record's timestamp and headers from its columns.
    let copies = unique_topic("copies");
    create_topic(&copies, 1).await;
    client
        .batch_execute(&format!(
            "CREATE TABLE copies (order_id STRING,
               ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
               hs MAP<STRING, BYTES> METADATA FROM 'headers')
             WITH ('connector' = 'kafka', 'topic' = '{copies}',
                   'properties.bootstrap.servers' = '{}', 'format' = 'json');
             INSERT INTO copies SELECT order_id, kafka_ts, headers FROM all_events",
            bootstrap()
        ))
        .await
        .expect("copy job");
    let copied = consume(&copies, 10, Duration::from_secs(30)).await;
    assert_eq!(copied.len(), 10);
    for record in &copied {
        let value = record.json();
        assert_eq!(
            value.as_object().map(|o| o.len()),
            Some(1),
            "only order_id: {value}"
        );
        let id: i64 = value["order_id"].as_str().unwrap_or_default()[1..]
            .parse()
            .unwrap_or(-1);
        assert_eq!(record.timestamp, Some(base + id * 1000), "{value}");
        assert_eq!(
            record.headers,
            vec![("source".to_string(), format!("h{id}").into_bytes())]
        );
    }

    // group-offsets: partition 0 committed at offset 3 (ids 6, 8), partition 1 at 4 (none left).
    commit_offsets(&topic, "runnel-meta-group", &[(0, 3), (1, 4)]).await;
    client
        .batch_execute(&table(
            "group_events",
            ", 'scan.startup.mode' = 'group-offsets', 'properties.group.id' = 'runnel-meta-group'",
        ))
        .await
        .expect("group");
    assert_eq!(
        ids(simple_rows(&client, "SELECT order_id FROM group_events").await),
        vec![6, 8, 9]
    );

    client
        .batch_execute(&table(
            "timed_events",
            &format!(
                ", 'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '{}'",
                base + 6_500
            ),
        ))
        .await
        .expect("timestamp");
    assert_eq!(
        ids(simple_rows(&client, "SELECT order_id FROM timed_events").await),
        vec![7, 8, 9]
    );

    client
        .batch_execute(&table(
            "specific_events",
            ", 'scan.startup.mode' = 'specific-offsets',
               'scan.startup.specific-offsets' = 'partition:0,offset:4'",
        ))
        .await
        .expect("specific");
    assert_eq!(
        ids(simple_rows(&client, "SELECT order_id FROM specific_events").await),
        vec![1, 3, 5, 7, 8, 9]
    );
}

/// A malformed record fails the job naming topic, partition and offset; with
/// `json.ignore-parse-errors` it is skipped and counted in the jobs table.
#[tokio::test]
async fn malformed_records_fail_or_are_skipped_and_counted() {
    let topic = unique_topic("malformed");
    create_topic(&topic, 1).await;
    let mut records: Vec<Record> = (0..3)
        .map(|i| Record::value(order(i, "c", 100, BASE + i as i64 * 1000)))
        .collect();
    records.push(Record::value(
        "{\"order_id\": \"bad\", \"total_amount\": \"lots\"}",
    ));
    records.extend((3..5).map(|i| Record::value(order(i, "c", 100, BASE + i as i64 * 1000))));
    produce(&topic, &records).await;

    let server = TestServer::start().await;
    let client = server.connect().await;
    let bounded =
        ", 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'";
    client
        .batch_execute(&orders_table("strict", &topic, "", bounded))
        .await
        .expect("strict");
    client
        .batch_execute(&orders_table(
            "lenient",
            &topic,
            "",
            &format!("{bounded}, 'json.ignore-parse-errors' = 'true'"),
        ))
        .await
        .expect("lenient");
    client
        .batch_execute(&minute_counts("strict_counts", "strict"))
        .await
        .expect("view");
    client
        .batch_execute(&minute_counts("lenient_counts", "lenient"))
        .await
        .expect("view");

    let strict = job_settled(&client, "strict_counts").await;
    assert_eq!(strict[0].as_deref(), Some("failed"), "{strict:?}");
    let error = strict[2].clone().unwrap_or_default();
    assert!(
        error.contains(&format!("topic '{topic}', partition 0, offset 3")),
        "{error}"
    );
    assert!(
        error.contains("lots"),
        "the parse problem is named: {error}"
    );

    let lenient = job_settled(&client, "lenient_counts").await;
    assert_eq!(lenient[0].as_deref(), Some("finished"), "{lenient:?}");
    assert_eq!(
        lenient[1].as_deref(),
        Some("1"),
        "one record skipped and counted"
    );
    let counts = simple_rows(&client, "SELECT n FROM lenient_counts").await;
    assert_eq!(counts, vec![vec![Some("5".to_string())]]);

    // A record without a key has NULL key columns; one without a value (a tombstone) is
    // malformed for JSON.
    let keyed = unique_topic("keyless");
    create_topic(&keyed, 1).await;
    produce(
        &keyed,
        &[
            Record::value(r#"{"order_id": "n1", "total_amount": 1.5}"#),
            Record::default(),
        ],
    )
    .await;
    let table = |name: &str, extra: &str| {
        format!(
            "CREATE TABLE {name} (order_id STRING, customer_id STRING, total_amount DECIMAL(10, 2))
             WITH ('connector' = 'kafka', 'topic' = '{keyed}', 'properties.bootstrap.servers' = '{}',
                   'key.format' = 'json', 'key.fields' = 'customer_id',
                   'value.format' = 'json', 'value.fields-include' = 'EXCEPT_KEY',
                   'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'{extra})",
            bootstrap()
        )
    };
    client
        .batch_execute(&table("keyless", ""))
        .await
        .expect("keyless");
    client
        .batch_execute(&table(
            "keyless_lenient",
            ", 'value.json.ignore-parse-errors' = 'true'",
        ))
        .await
        .expect("keyless lenient");
    let error = client
        .simple_query("SELECT order_id FROM keyless")
        .await
        .expect_err("tombstone");
    let message = db_error(&error).message().to_string();
    assert!(
        message.contains("partition 0, offset 1") && message.contains("found none"),
        "{message}"
    );
    let rows = simple_rows(
        &client,
        "SELECT order_id, customer_id IS NULL, total_amount FROM keyless_lenient",
    )
    .await;
    assert_eq!(
        rows,
        vec![vec![
            Some("n1".to_string()),
            Some("t".to_string()),
            Some("1.50".to_string())
        ]]
    );
}

/// A partition without traffic holds the watermark back, until the idle timeout excludes it.
#[tokio::test]
async fn an_idle_partition_does_not_stall_the_watermark_after_the_timeout() {
    let topic = unique_topic("idle");
    create_topic(&topic, 2).await;
    // Ten minutes of events, all on partition 0.
    let records: Vec<Record> = (0..20)
        .map(|i| Record::value(order(i, "c", 100, BASE + i as i64 * 30_000)).in_partition(0))
        .collect();
    produce(&topic, &records).await;

    let server = TestServer::start().await;
    let client = server.connect().await;
    let earliest = ", 'scan.startup.mode' = 'earliest-offset'";
    client
        .batch_execute(&orders_table("stalled", &topic, "", earliest))
        .await
        .expect("stalled");
    client
        .batch_execute(&orders_table(
            "flowing",
            &topic,
            "",
            &format!("{earliest}, 'scan.watermark.idle-timeout' = '1 s'"),
        ))
        .await
        .expect("flowing");
    client
        .batch_execute(&minute_counts("stalled_counts", "stalled"))
        .await
        .expect("view");
    client
        .batch_execute(&minute_counts("flowing_counts", "flowing"))
        .await
        .expect("view");
    // Windows up to the last event's minute fire once partition 1 is idle: 9 full minutes.
    let rows = rows_when(
        &client,
        "SELECT n FROM flowing_counts",
        9,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        rows.iter().all(|r| r[0].as_deref() == Some("2")),
        "{rows:?}"
    );
    // The same query without the timeout: partition 1 holds the watermark at its minimum.
    let stalled = simple_rows(&client, "SELECT n FROM stalled_counts").await;
    assert!(stalled.is_empty(), "{stalled:?}");
    let status = job(&client, "stalled_counts").await;
    assert_eq!(status[0].as_deref(), Some("running"));
}

/// Partitions added while a job runs are read; sink keys and the round-robin and fixed
/// partitioners.
#[tokio::test]
async fn new_partitions_are_read_and_sinks_key_and_partition_records() {
    let source = unique_topic("growing");
    let spread = unique_topic("spread");
    let fixed = unique_topic("fixed");
    create_topic(&source, 1).await;
    create_topic(&spread, 3).await;
    create_topic(&fixed, 3).await;
    let first: Vec<Record> = (0..6)
        .map(|i| Record::value(order(i, &format!("c{i}"), 100, BASE + i as i64 * 1000)))
        .collect();
    produce(&source, &first).await;

    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(&orders_table(
            "growing",
            &source,
            "",
            ", 'scan.startup.mode' = 'earliest-offset',
               'scan.topic-partition-discovery.interval' = '500 ms'",
        ))
        .await
        .expect("source");
    let sink = |name: &str, topic: &str, options: &str| {
        format!(
            "CREATE TABLE {name} (order_id STRING, customer_id STRING)
             WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{}',
                   'format' = 'json'{options})",
            bootstrap()
        )
    };
    client
        .batch_execute(&sink(
            "spread_out",
            &spread,
            ", 'sink.partitioner' = 'round-robin'",
        ))
        .await
        .expect("spread");
    client
        .batch_execute(&sink(
            "fixed_out",
            &fixed,
            ", 'sink.partitioner' = 'fixed', 'key.format' = 'raw', 'key.fields' = 'customer_id',
               'value.fields-include' = 'EXCEPT_KEY', 'sink.delivery-guarantee' = 'none'",
        ))
        .await
        .expect("fixed");
    client
        .batch_execute(
            "INSERT INTO spread_out SELECT order_id, customer_id FROM growing;
             INSERT INTO fixed_out SELECT order_id, customer_id FROM growing",
        )
        .await
        .expect("jobs");
    let before = consume(&spread, 6, Duration::from_secs(30)).await;
    assert_eq!(before.len(), 6);

    add_partitions(&source, 2).await;
    let second: Vec<Record> = (6..12)
        .map(|i| {
            Record::value(order(i, &format!("c{i}"), 100, BASE + i as i64 * 1000)).in_partition(1)
        })
        .collect();
    produce(&source, &second).await;

    let spread_records = consume(&spread, 12, Duration::from_secs(30)).await;
    let mut ids: Vec<String> = spread_records
        .iter()
        .map(|r| {
            r.json()["order_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    ids.sort();
    let mut want: Vec<String> = (0..12).map(|i| format!("o{i}")).collect();
    want.sort();
    assert_eq!(ids, want, "the new partition's records arrived, once each");
    let mut per_partition = [0usize; 3];
    for record in &spread_records {
        per_partition[record.partition as usize] += 1;
    }
    assert_eq!(per_partition, [4, 4, 4], "round-robin");

    let fixed_records = consume(&fixed, 12, Duration::from_secs(30)).await;
    assert_eq!(fixed_records.len(), 12);
    for record in &fixed_records {
        assert_eq!(record.partition, 0, "fixed: one partition");
        let value = record.json();
        assert!(value.get("customer_id").is_none(), "EXCEPT_KEY: {value}");
        let id = value["order_id"].as_str().unwrap_or_default();
        assert_eq!(
            record.key.as_deref(),
            Some(format!("c{}", &id[1..]).as_bytes()),
            "raw key"
        );
    }
}

/// What Runnel refuses: exactly-once without a transactional id prefix, updating queries into
/// a plain Kafka sink, unknown options, a missing topic.
#[tokio::test]
async fn refused_options_and_queries() {
    let topic = unique_topic("refusals");
    create_topic(&topic, 1).await;
    let server = TestServer::start().await;
    let client = server.connect().await;
    let error = expect_sqlstate(
        &client,
        &format!(
            "CREATE TABLE eo (id STRING) WITH ('connector' = 'kafka', 'topic' = '{topic}',
               'properties.bootstrap.servers' = '{}', 'format' = 'json',
               'sink.delivery-guarantee' = 'exactly-once')",
            bootstrap()
        ),
        SqlState::INVALID_PARAMETER_VALUE,
    )
    .await;
    assert!(
        db_error(&error)
            .message()
            .contains("exactly-once also needs 'sink.transactional-id-prefix'"),
        "{error}"
    );
    let error = expect_sqlstate(
        &client,
        &format!(
            "CREATE TABLE typo (id STRING) WITH ('connector' = 'kafka', 'topic' = '{topic}',
               'properties.bootstrap.servers' = '{}', 'format' = 'json', 'scan.startup.mod' = 'x')",
            bootstrap()
        ),
        SqlState::INVALID_PARAMETER_VALUE,
    )
    .await;
    assert!(
        db_error(&error).message().contains("'scan.startup.mod'"),
        "{error}"
    );

    client
        .batch_execute(&orders_table(
            "src",
            &topic,
            "",
            ", 'scan.startup.mode' = 'earliest-offset'",
        ))
        .await
        .expect("source");
    client
        .batch_execute(&format!(
            "CREATE TABLE totals (customer_id STRING, n BIGINT)
             WITH ('connector' = 'kafka', 'topic' = '{topic}',
                   'properties.bootstrap.servers' = '{}', 'format' = 'json')",
            bootstrap()
        ))
        .await
        .expect("sink");
    let error = client
        .simple_query(
            "INSERT INTO totals SELECT customer_id, COUNT(*) FROM src GROUP BY customer_id",
        )
        .await
        .expect_err("updating query");
    let message = db_error(&error).message().to_string();
    assert!(message.contains("upsert-kafka"), "{message}");
}
