//! Kafka source throughput: events per second read from a pre-filled topic (10 M JSON orders,
//! 3 partitions) through a filter and projection into a `blackhole` sink, and through a
//! 1-minute TUMBLE aggregation per customer, at parallelism 1 and 2.
//!
//! ```text
//! tests/kafka/broker.sh start                       # or let the bench start it
//! RUNNEL_KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo bench --bench kafka
//! RUNNEL_BENCH_EVENTS=1000000 cargo bench --bench kafka -- TUMBLE
//! ```
//!
//! The topic `runnel-bench-orders-<events>` is filled once (records spread over the partitions
//! in event-time order, about 110 bytes of JSON each) and reused by later runs. Each run reads it
//! from the earliest to the latest offset (`scan.bounded.mode` = `latest-offset`) with a
//! 5-second watermark, through the same planning as `runnel run`. The figure is events read
//! divided by wall time from the `INSERT` to the end of the job. Results go to
//! docs/benchmarks.md.

use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
#[path = "common.rs"]
mod common;

use common::{events, run_all};

const PARTITIONS: i32 = 3;
const CUSTOMERS: u64 = 10_000;
/// 2026-01-01 00:00:00 UTC.
const BASE: i64 = 1_767_225_600_000;

struct Query {
    name: &'static str,
    sink: &'static str,
    select: &'static str,
}

const QUERIES: &[Query] = &[
    Query {
        name: "filter+project",
        sink: "order_id STRING, customer_id STRING, total_amount DECIMAL(10, 2)",
        select: "SELECT order_id, customer_id, total_amount FROM orders WHERE total_amount > 10",
    },
    Query {
        name: "TUMBLE 1 min",
        sink: "window_start TIMESTAMP(3), window_end TIMESTAMP(3), customer_id STRING, n BIGINT, total DECIMAL(20, 2)",
        select: "SELECT window_start, window_end, customer_id, COUNT(*), SUM(total_amount)
                 FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' MINUTE))
                 GROUP BY window_start, window_end, customer_id",
    },
];

fn bootstrap() -> Result<String, String> {
    if let Ok(address) = std::env::var("RUNNEL_KAFKA_BOOTSTRAP") {
        return Ok(address);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/kafka/broker.sh");
    let output = Command::new("bash")
        .arg(script)
        .arg("start")
        .env("KAFKA_PORT", "19092")
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .map(|l| l.trim().to_string())
        .ok_or_else(|| "broker.sh printed no address".to_string())
}

/// Records already in `topic` (0 when it does not exist).
fn records_in(bootstrap: &str, topic: &str) -> Result<i64, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let mut total = 0;
    for t in metadata.topics() {
        if t.error().is_some() {
            return Ok(0);
        }
        for p in t.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .map_err(|e| e.to_string())?;
            total += high - low;
        }
    }
    Ok(total)
}

/// Creates and fills `topic` with `events` orders unless it holds them already.
fn fill(bootstrap: &str, topic: &str, events: u64) -> Result<(), String> {
    let present = records_in(bootstrap, topic)?;
    if present == events as i64 {
        println!("topic {topic} already holds {events} events");
        return Ok(());
    }
    if present != 0 {
        return Err(format!(
            "topic {topic} holds {present} records, not {events}; delete it or use another count"
        ));
    }
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let created = runtime
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        ))
        .map_err(|e| e.to_string())?;
    for result in created {
        result.map_err(|(name, e)| format!("create {name}: {e}"))?;
    }
    let producer: ThreadedProducer<_> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("acks", "1")
        .create()
        .map_err(|e: KafkaError| e.to_string())?;
    let started = Instant::now();
    let mut value = String::new();
    for i in 0..events {
        let millis = BASE + i as i64;
        let time = chrono::DateTime::from_timestamp_millis(millis)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
            .unwrap_or_default();
        value.clear();
        use std::fmt::Write as _;
        let _ = write!(
            value,
            r#"{{"order_id":"o{i}","customer_id":"c{}","total_amount":{}.{:02},"order_time":"{time}"}}"#,
            (i * 7919) % CUSTOMERS,
            (i * 31) % 200,
            i % 100
        );
        let partition = (i % PARTITIONS as u64) as i32;
        let mut record: BaseRecord<'_, (), str> = BaseRecord::to(topic)
            .payload(value.as_str())
            .partition(partition);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e.to_string()),
            }
        }
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| e.to_string())?;
    println!(
        "filled {topic} with {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn pipeline_sql(bootstrap: &str, topic: &str, query: &Query) -> String {
    format!(
        "CREATE TABLE orders (
           order_id STRING, customer_id STRING, total_amount DECIMAL(10, 2), order_time TIMESTAMP(3),
           WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
         ) WITH ('connector' = 'kafka', 'topic' = '{topic}',
                 'properties.bootstrap.servers' = '{bootstrap}', 'format' = 'json',
                 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
         CREATE TABLE out ({sink}) WITH ('connector' = 'blackhole');
         INSERT INTO out {select};",
        sink = query.sink,
        select = query.select,
    )
}

fn main() {
    if let Err(error) = bench() {
        eprintln!("kafka bench: {error}");
        std::process::exit(1);
    }
}

fn bench() -> Result<(), String> {
    let events = events();
    let bootstrap = bootstrap()?;
    let topic = format!("runnel-bench-orders-{events}");
    fill(&bootstrap, &topic, events)?;
    let title = format!("{events} JSON events in {PARTITIONS} partitions, {CUSTOMERS} customers");
    let queries = QUERIES
        .iter()
        .map(|q| (q.name, pipeline_sql(&bootstrap, &topic, q)));
    run_all(&title, queries, events)
}
