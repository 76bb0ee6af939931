//! Checkpoint costs, measured through the real binary (`runnel serve`, started by the bench):
//!
//! - `throughput`: a TUMBLE 10 s job over 100 M `datagen` events (`RUNNEL_BENCH_EVENTS`) (COUNT/SUM/MAX per key, 10 000
//!   keys, into `blackhole`) as a durable INSERT job with a checkpoint every 1 s, and with
//!   checkpoints every hour (none during the run: only the final epoch). Events per second from
//!   the `INSERT` to the job's end.
//! - `latency` (needs `RUNNEL_KAFKA_BOOTSTRAP`): events produced at a steady rate into a Kafka
//!   topic, each carrying its production time, copied by an INSERT job into a topic with
//!   `'sink.delivery-guarantee' = 'exactly-once'` at a 1 s interval; a read_committed consumer
//!   takes each record's delay from its production to its arrival. p50/p99/max.
//! - `recovery`: an unbounded job whose TUMBLE window holds one group per distinct 100-character
//!   key until the durable state passes `RUNNEL_BENCH_STATE_MB` (1024 by default), then
//!   `kill -9`, then the time until the restarted server accepts connections with the job
//!   resumed, and until it completes its next checkpoint.
//! - `budget`: 10 M distinct keys (`RUNNEL_BENCH_KEYS`) in one TUMBLE window under a memory
//!   budget of 256 MiB and of 64 GiB; the server's peak resident memory.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench --bench checkpoints
//! RUNNEL_KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo bench --bench checkpoints -- latency
//! ```
//! Results go to docs/benchmarks.md.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tokio_postgres::{Client, NoTls};

/// A `runnel serve` child process.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(data_dir: &std::path::Path) -> Result<Server, String> {
        Server::start_with(data_dir, &[])
    }

    /// Starts `runnel serve` with `extra` flags.
    fn start_with(data_dir: &std::path::Path, extra: &[&str]) -> Result<Server, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_runnel"))
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("RUNNEL_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start runnel: {e}"))?;
        Ok(Server { child, port })
    }

    /// Waits until the server accepts connections; returns a client.
    async fn connect(&mut self, timeout: Duration) -> Result<Client, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let config = format!(
                "host=127.0.0.1 port={} user=runnel dbname=runnel",
                self.port
            );
            if let Ok((client, connection)) = tokio_postgres::connect(&config, NoTls).await {
                tokio::spawn(connection);
                return Ok(client);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("runnel exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err("runnel did not start listening".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The process's resident memory now and at its peak, in bytes (Linux `/proc`).
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `(status, rows_in, checkpoint_epoch, checkpoint_bytes)` of the server's first job.
async fn job(client: &Client) -> Result<(String, u64, u64, u64), String> {
    let rows = client
        .simple_query(
            "SELECT status, rows_in, checkpoint_epoch, checkpoint_bytes, error FROM runnel_catalog.jobs ORDER BY job_id",
        )
        .await
        .map_err(|e| pg(&e))?;
    for message in rows {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            let number = |i: usize| row.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
            let status = row.get(0).unwrap_or_default().to_string();
            if status == "failed" {
                return Err(format!(
                    "the job failed: {}",
                    row.get(4).unwrap_or_default()
                ));
            }
            return Ok((status, number(1), number(2), number(3)));
        }
    }
    Err("no job".into())
}

/// A client error with the server's message.
fn pg(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

fn temp_dir(name: &str) -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("runnel-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// `RUNNEL_BENCH_EVENTS`, 100 M by default (about 10 s at 2 cores, so about 10 checkpoints).
fn events() -> u64 {
    std::env::var("RUNNEL_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000_000)
}

/// One TUMBLE run with checkpoints every `interval`; returns (seconds, epochs).
async fn tumble_run(interval: &str, events: u64) -> Result<(f64, u64), String> {
    let dir = temp_dir("throughput")?;
    let mut server = Server::start(&dir)?;
    let client = server.connect(Duration::from_secs(60)).await?;
    client
        .batch_execute(&format!(
            "CREATE TABLE events (
               id BIGINT, k INT, v INT,
               ts AS to_timestamp_millis(id / 100),
               WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
             ) WITH ('connector' = 'datagen', 'rows-per-second' = '1000000000000',
                     'fields.id.kind' = 'sequence', 'fields.id.start' = '0',
                     'fields.id.end' = '{last}', 'fields.k.min' = '0', 'fields.k.max' = '9999',
                     'fields.v.min' = '0', 'fields.v.max' = '1000', 'seed' = '7');
             CREATE TABLE out (k INT, n BIGINT, total BIGINT, biggest INT)
               WITH ('connector' = 'blackhole');
             SET 'execution.checkpointing.interval' = '{interval}'",
            last = events - 1
        ))
        .await
        .map_err(|e| pg(&e))?;
    let started = Instant::now();
    client
        .batch_execute(
            "INSERT INTO out SELECT k, COUNT(*), SUM(v), MAX(v)
             FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
             GROUP BY window_start, window_end, k",
        )
        .await
        .map_err(|e| pg(&e))?;
    let mut epochs = 0;
    loop {
        let (status, rows, epoch, _) = job(&client).await?;
        epochs = epochs.max(epoch);
        if status == "finished" {
            let seconds = started.elapsed().as_secs_f64();
            if rows != events {
                return Err(format!("read {rows} events, expected {events}"));
            }
            server.kill();
            let _ = std::fs::remove_dir_all(&dir);
            return Ok((seconds, epochs));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn throughput() -> Result<(), String> {
    let events = events();
    println!("throughput: TUMBLE 10 s, {events} datagen events, 10 000 keys, blackhole sink");
    println!(
        "{:<12} {:>9} {:>14} {:>8}",
        "checkpoints", "seconds", "events/s", "epochs"
    );
    for round in 0..2 {
        for (label, interval) in [("every 1 s", "1s"), ("none", "1h")] {
            let (seconds, epochs) = tumble_run(interval, events).await?;
            println!(
                "{:<12} {:>9.2} {:>14.0} {:>8}   (round {})",
                label,
                seconds,
                events as f64 / seconds,
                epochs,
                round + 1
            );
        }
    }
    Ok(())
}

fn bootstrap() -> Option<String> {
    std::env::var("RUNNEL_KAFKA_BOOTSTRAP").ok()
}

async fn create_topic(bootstrap: &str, topic: &str) -> Result<(), String> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    admin
        .create_topics(
            &[NewTopic::new(topic, 2, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn latency() -> Result<(), String> {
    let Some(bootstrap) = bootstrap() else {
        println!("latency: skipped (set RUNNEL_KAFKA_BOOTSTRAP)");
        return Ok(());
    };
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis();
    let input = format!("runnel-bench-latency-in-{millis}");
    let output = format!("runnel-bench-latency-out-{millis}");
    create_topic(&bootstrap, &input).await?;
    create_topic(&bootstrap, &output).await?;
    let dir = temp_dir("latency")?;
    let mut server = Server::start(&dir)?;
    let client = server.connect(Duration::from_secs(60)).await?;
    client
        .batch_execute(&format!(
            "CREATE TABLE events (id BIGINT, produced BIGINT)
             WITH ('connector' = 'kafka', 'topic' = '{input}', 'format' = 'json',
                   'properties.bootstrap.servers' = '{bootstrap}', 'scan.startup.mode' = 'earliest-offset');
             CREATE TABLE copies (id BIGINT, produced BIGINT)
             WITH ('connector' = 'kafka', 'topic' = '{output}', 'format' = 'json',
                   'properties.bootstrap.servers' = '{bootstrap}',
                   'sink.delivery-guarantee' = 'exactly-once',
                   'sink.transactional-id-prefix' = '{output}');
             SET 'execution.checkpointing.interval' = '1s';
             INSERT INTO copies SELECT id, produced FROM events"
        ))
        .await
        .map_err(|e| pg(&e))?;
    let rate = 5_000u64;
    let seconds = 30u64;
    let total = rate * seconds;
    let consumer_bootstrap = bootstrap.clone();
    let consumer_topic = output.clone();
    let reader = std::thread::spawn(move || -> Result<Vec<i64>, String> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &consumer_bootstrap)
            .set("group.id", format!("{consumer_topic}-reader"))
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create()
            .map_err(|e| e.to_string())?;
        consumer
            .subscribe(&[&consumer_topic])
            .map_err(|e| e.to_string())?;
        let mut delays = Vec::with_capacity(total as usize);
        let deadline = Instant::now() + Duration::from_secs(seconds + 60);
        while (delays.len() as u64) < total && Instant::now() < deadline {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                let value: serde_json::Value =
                    serde_json::from_slice(message.payload().unwrap_or_default())
                        .map_err(|e| e.to_string())?;
                let produced = value["produced"].as_i64().unwrap_or(now);
                delays.push(now - produced);
            }
        }
        Ok(delays)
    });
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "1")
        .create()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    for i in 0..total {
        // A steady rate: event i leaves at i / rate seconds.
        let due = started + Duration::from_micros(i * 1_000_000 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let value = format!(r#"{{"id": {i}, "produced": {now}}}"#);
        let key = i.to_string();
        let _ = producer.send(BaseRecord::to(&input).payload(&value).key(&key));
    }
    let _ = producer.flush(Duration::from_secs(30));
    let mut delays = reader
        .join()
        .map_err(|_| "the reader panicked".to_string())??;
    server.kill();
    let _ = std::fs::remove_dir_all(&dir);
    if delays.len() as u64 != total {
        return Err(format!("read {} of {total} records", delays.len()));
    }
    delays.sort_unstable();
    let at = |q: f64| delays[((delays.len() as f64 * q) as usize).min(delays.len() - 1)];
    println!(
        "latency: {total} events at {rate}/s, pass-through INSERT, exactly-once sink, 1 s checkpoints"
    );
    println!(
        "produced -> visible to read_committed: p50 {} ms, p99 {} ms, max {} ms",
        at(0.50),
        at(0.99),
        delays[delays.len() - 1]
    );
    Ok(())
}

async fn recovery() -> Result<(), String> {
    let target_mb: u64 = std::env::var("RUNNEL_BENCH_STATE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = temp_dir("recovery")?;
    let mut server = Server::start(&dir)?;
    let client = server.connect(Duration::from_secs(60)).await?;
    client
        .batch_execute(
            "CREATE TABLE events (id BIGINT, s STRING,
               ts AS to_timestamp_millis(id / 1000),
               WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
             ) WITH ('connector' = 'datagen', 'rows-per-second' = '1000000',
                     'fields.id.kind' = 'sequence', 'fields.id.start' = '0',
                     'fields.id.end' = '9000000000000', 'fields.s.length' = '100', 'seed' = '3');
             CREATE TABLE out (s STRING, n BIGINT)
               WITH ('connector' = 'blackhole');
             SET 'execution.checkpointing.interval' = '5s';
             INSERT INTO out SELECT s, COUNT(*)
             FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY))
             GROUP BY window_start, window_end, s",
        )
        .await
        .map_err(|e| pg(&e))?;
    // Checkpoints write only what changed: the state is the sum of what they wrote.
    let (mut epoch, mut bytes) = (0, 0);
    loop {
        let (_, _, e, b) = job(&client).await?;
        if e > epoch {
            (epoch, bytes) = (e, bytes + b);
        }
        if bytes >= target_mb << 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let state_on_disk = dir_size(&dir);
    server.kill();
    let restarted = Instant::now();
    let mut server = Server::start(&dir)?;
    let client = server.connect(Duration::from_secs(600)).await?;
    let listening = restarted.elapsed();
    let (status, _, _, _) = job(&client).await?;
    let next = loop {
        let (_, _, e, _) = job(&client).await?;
        if e > epoch {
            break restarted.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    server.kill();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "recovery: state written by the checkpoints {} MiB (epoch {epoch}), data directory {} MiB",
        bytes >> 20,
        state_on_disk >> 20
    );
    println!(
        "kill -9 -> restarted server accepting connections with the job {status}: {:.2} s; next checkpoint complete: {:.2} s",
        listening.as_secs_f64(),
        next.as_secs_f64()
    );
    Ok(())
}

/// `RUNNEL_BENCH_KEYS` distinct 100-character keys in one TUMBLE window, with a memory budget
/// of 256 MiB and with one of 64 GiB (unlimited here), checkpoints every minute (so the budget,
/// not the barriers, takes state out of memory): seconds and the server's peak resident memory.
async fn budget() -> Result<(), String> {
    let keys: u64 = std::env::var("RUNNEL_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    println!("memory budget: {keys} distinct 100-character keys in one TUMBLE 1 day window");
    println!(
        "{:<10} {:>9} {:>16} {:>10}",
        "budget", "seconds", "peak RSS (MiB)", "rows in"
    );
    for budget in ["256mb", "64gb"] {
        let dir = temp_dir("budget")?;
        let mut server = Server::start_with(&dir, &["--state-memory-budget", budget])?;
        let client = server.connect(Duration::from_secs(60)).await?;
        client
            .batch_execute(&format!(
                "CREATE TABLE events (id BIGINT, s STRING,
                   ts AS to_timestamp_millis(id / 1000),
                   WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
                 ) WITH ('connector' = 'datagen', 'rows-per-second' = '1000000000000',
                         'fields.id.kind' = 'sequence', 'fields.id.start' = '0',
                         'fields.id.end' = '{last}', 'fields.s.length' = '100', 'seed' = '5');
                 CREATE TABLE out (s STRING, n BIGINT) WITH ('connector' = 'blackhole');
                 SET 'execution.checkpointing.interval' = '1min';",
                last = keys - 1
            ))
            .await
            .map_err(|e| pg(&e))?;
        let started = Instant::now();
        client
            .batch_execute(
                "INSERT INTO out SELECT s, COUNT(*)
                 FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY))
                 GROUP BY window_start, window_end, s",
            )
            .await
            .map_err(|e| pg(&e))?;
        let rows = loop {
            let (status, rows, _, _) = job(&client).await?;
            if status == "finished" {
                break rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let seconds = started.elapsed().as_secs_f64();
        let (_, peak) = server.memory();
        server.kill();
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "{:<10} {:>9.2} {:>16} {:>10}",
            budget,
            seconds,
            peak >> 20,
            rows
        );
    }
    Ok(())
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("checkpoints bench: {error}");
            std::process::exit(1);
        }
    };
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    let result = runtime.block_on(async {
        if wanted("throughput") {
            throughput().await?;
        }
        if wanted("latency") {
            latency().await?;
        }
        if wanted("recovery") {
            recovery().await?;
        }
        if wanted("budget") {
            budget().await?;
        }
        Ok::<(), String>(())
    });
    if let Err(error) = result {
        eprintln!("checkpoints bench: {error}");
        std::process::exit(1);
    }
}
