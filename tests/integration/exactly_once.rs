//! The crash harness of the Kafka sink: a Kafka -> Kafka pipeline (a keyed TUMBLE count) run
//! by the real binary against the real broker while the process is killed, at random instants
//! and at each step of the commit (failure injection compiled into test builds only). The
//! sink topic, read with `isolation.level=read_committed`, must hold the output of a run
//! without failures: as a multiset, nothing missing and, with `exactly-once`, nothing twice.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::harness::{TestServer, simple_rows};
use crate::kafka::{BASE, timestamp_text};
use crate::kafka_broker::{Record, bootstrap, consume, create_topic, produce, unique_topic};

/// Events of the fixed input: one every 50 ms of event time, customers in turn.
pub(crate) const EVENTS: usize = 4000;
/// Customers of the input.
const CUSTOMERS: usize = 10;
/// Input chunks, produced one after the other while the job runs.
const CHUNKS: usize = 40;
/// The job's checkpoint interval: many epochs, so kills meet every step of the commit.
const INTERVAL: &str = "100ms";

/// `(customer, event time in ms after BASE)` of event `i`. Each partition gets its events in
/// time order, and the watermark trails by a second, so no event is ever late whatever the
/// partitions' interleaving: every run, crashed or not, counts every event.
pub(crate) fn event(i: usize) -> (String, i64) {
    (format!("c{}", i % CUSTOMERS), i as i64 * 50)
}

pub(crate) fn record(i: usize, customer: &str, millis: i64) -> Record {
    let value = format!(
        r#"{{"customer": "{customer}", "ts": "{}.{:03}"}}"#,
        timestamp_text(BASE + millis),
        millis.rem_euclid(1000)
    );
    Record::value(value.into_bytes()).in_partition((i % 2) as i32)
}

/// A result row: `(window start, customer, count)`.
pub(crate) type Row = (String, String, i64);

/// The output of a run without failures: a count per customer and 1-second window. The
/// closing events (customer `end`, a minute later) fire every window and none of their own.
pub(crate) fn expected() -> BTreeMap<Row, usize> {
    let mut counts: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for i in 0..EVENTS {
        let (customer, millis) = event(i);
        *counts
            .entry((millis - millis.rem_euclid(1000), customer))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((start, customer), n)| ((timestamp_text(BASE + start), customer, n), 1))
        .collect()
}

/// Produces the input in [`CHUNKS`] chunks, `pause` apart, then the closing events.
pub(crate) async fn produce_input(topic: String, pause: Duration) {
    let per_chunk = EVENTS / CHUNKS;
    for chunk in 0..CHUNKS {
        let records: Vec<Record> = (chunk * per_chunk..(chunk + 1) * per_chunk)
            .map(|i| {
                let (customer, millis) = event(i);
                record(i, &customer, millis)
            })
            .collect();
        produce(&topic, &records).await;
        tokio::time::sleep(pause).await;
    }
    let end = EVENTS as i64 * 50 + 60_000;
    produce(&topic, &[record(0, "end", end), record(1, "end", end)]).await;
}

/// The pipeline's tables and its INSERT job, with `guarantee` on the sink; `settings` (SQL
/// statements, each ending with `;`) run just before the INSERT.
pub(crate) async fn start_pipeline(
    server: &TestServer,
    input: &str,
    output: &str,
    guarantee: &str,
    prefix: &str,
    settings: &str,
) {
    let client = server.connect().await;
    let transactional = if guarantee == "exactly-once" {
        format!(", 'sink.transactional-id-prefix' = '{prefix}'")
    } else {
        String::new()
    };
    client
        .batch_execute(&format!(
            "CREATE TABLE events (customer STRING, ts TIMESTAMP(3),
               WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
             ) WITH ('connector' = 'kafka', 'topic' = '{input}',
                     'properties.bootstrap.servers' = '{servers}', 'format' = 'json',
                     'scan.startup.mode' = 'earliest-offset');
             CREATE TABLE totals (window_start TIMESTAMP(3), customer STRING, n BIGINT)
             WITH ('connector' = 'kafka', 'topic' = '{output}',
                   'properties.bootstrap.servers' = '{servers}', 'format' = 'json',
                   'sink.delivery-guarantee' = '{guarantee}'{transactional});
             SET 'execution.checkpointing.interval' = '{INTERVAL}';
             {settings}
             INSERT INTO totals
             SELECT window_start, customer, COUNT(*)
             FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND))
             GROUP BY window_start, window_end, customer",
            servers = bootstrap()
        ))
        .await
        .expect("pipeline");
}

/// The sink topic's committed rows, read until `count` arrived (or `timeout`).
pub(crate) async fn output_rows(
    topic: &str,
    count: usize,
    timeout: Duration,
) -> BTreeMap<Row, usize> {
    let mut rows = BTreeMap::new();
    for record in consume(topic, count, timeout).await {
        let value = record.json();
        let start = value["window_start"].as_str().expect("window_start");
        let row = (
            start[..19].to_string(),
            value["customer"].as_str().expect("customer").to_string(),
            value["n"].as_i64().expect("n"),
        );
        *rows.entry(row).or_default() += 1;
    }
    rows
}

/// `(missing, duplicated, unexpected)` of `got` against `want`, as multisets.
pub(crate) fn compare(
    want: &BTreeMap<Row, usize>,
    got: &BTreeMap<Row, usize>,
) -> (usize, usize, usize) {
    let missing = want
        .iter()
        .map(|(row, n)| n.saturating_sub(got.get(row).copied().unwrap_or(0)))
        .sum();
    let duplicated = got
        .iter()
        .filter(|(row, _)| want.contains_key(*row))
        .map(|(row, n)| n.saturating_sub(want[row]))
        .sum();
    let unexpected = got
        .iter()
        .filter(|(row, _)| !want.contains_key(*row))
        .map(|(_, n)| n)
        .sum();
    (missing, duplicated, unexpected)
}

/// A small deterministic generator for kill instants (the seed is printed to replay a run).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// The job's last durable epoch, as the jobs table shows it.
async fn checkpoint_epoch(server: &TestServer) -> i64 {
    let client = server.connect().await;
    let rows = simple_rows(&client, "SELECT checkpoint_epoch FROM runnel_catalog.jobs").await;
    rows.first()
        .and_then(|row| row[0].as_deref())
        .and_then(|epoch| epoch.parse().ok())
        .unwrap_or(0)
}

/// Runs the pipeline with `guarantee` while killing the server `kills` times at random
/// instants; returns the sink topic's rows and how many kills came after the job had
/// completed a checkpoint since it last (re)started.
async fn run_with_random_kills(guarantee: &str, kills: usize) -> (BTreeMap<Row, usize>, usize) {
    let input = unique_topic("eo-in");
    let output = unique_topic("eo-out");
    create_topic(&input, 2).await;
    create_topic(&output, 2).await;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    eprintln!("{guarantee} crash run: seed {seed}");
    let mut random = Lcg(seed);

    let mut server = TestServer::start().await;
    start_pipeline(&server, &input, &output, guarantee, &output, "").await;
    let producer = tokio::spawn(produce_input(input.clone(), Duration::from_millis(400)));
    let mut last_epoch = 0;
    let mut progressed = 0;
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(150 + random.below(850))).await;
        let epoch = checkpoint_epoch(&server).await;
        if epoch > last_epoch {
            progressed += 1;
            last_epoch = epoch;
        }
        server.kill();
        server.start_again().await;
    }
    producer.await.expect("producer");
    let want = expected();
    let rows = output_rows(&output, want.len(), Duration::from_secs(120)).await;
    (rows, progressed)
}

#[tokio::test]
async fn exactly_once_output_survives_random_kills() {
    let want = expected();
    let (got, progressed) = run_with_random_kills("exactly-once", 20).await;
    // The kills met a running job, not only restarts.
    assert!(
        progressed >= 10,
        "only {progressed} of 20 kills came after a new checkpoint"
    );
    let (missing, duplicated, unexpected) = compare(&want, &got);
    assert_eq!(
        (missing, duplicated, unexpected),
        (0, 0, 0),
        "after 20 kills: {missing} rows missing, {duplicated} duplicated, {unexpected} unexpected (of {})",
        want.len()
    );
}

#[tokio::test]
async fn at_least_once_output_loses_nothing_across_kills() {
    let want = expected();
    let (got, _) = run_with_random_kills("at-least-once", 6).await;
    let (missing, duplicated, unexpected) = compare(&want, &got);
    eprintln!("at-least-once after 6 kills: {duplicated} duplicated rows");
    assert_eq!(
        (missing, unexpected),
        (0, 0),
        "at-least-once: {missing} rows missing, {unexpected} unexpected ({duplicated} duplicated)"
    );
}

#[tokio::test]
async fn exactly_once_output_survives_a_crash_at_each_commit_step() {
    let want = expected();
    for point in [
        // (1) before the epoch is durable;
        "checkpoint-before-write",
        // (2) durable, but the Kafka transaction not committed;
        "sink-before-commit",
        // (3) the Kafka transaction committed, nothing recorded after it.
        "sink-after-commit",
    ] {
        let input = unique_topic("eo-step-in");
        let output = unique_topic("eo-step-out");
        create_topic(&input, 2).await;
        create_topic(&output, 2).await;
        let armed = format!("{point}=6");
        let mut server = TestServer::start_with_env(&[("RUNNEL_FAILPOINTS", &armed)]).await;
        start_pipeline(&server, &input, &output, "exactly-once", &output, "").await;
        let producer = tokio::spawn(produce_input(input.clone(), Duration::from_millis(50)));
        let status = server.exited_within(Duration::from_secs(60)).await;
        assert_eq!(
            status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
            Some(9),
            "the server did not kill itself at failpoint {point}: {status:?}"
        );
        server.set_env(&[]);
        let restarted = Instant::now();
        server.start_again().await;
        producer.await.expect("producer");
        let got = output_rows(&output, want.len(), Duration::from_secs(60)).await;
        let visible_after = restarted.elapsed();
        let (missing, duplicated, unexpected) = compare(&want, &got);
        assert_eq!(
            (missing, duplicated, unexpected),
            (0, 0, 0),
            "crash at {point}: {missing} rows missing, {duplicated} duplicated, {unexpected} unexpected"
        );
        // The dead instance's open transaction is aborted when the job recovers (its
        // transactional id is fenced), not when the broker's transaction timeout (60 s past
        // the interval) would abort it: read_committed readers do not stall behind it.
        assert!(
            visible_after < Duration::from_secs(20),
            "crash at {point}: the output became visible {visible_after:?} after the restart"
        );
        server.kill();
    }
}
