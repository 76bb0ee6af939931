//! The real Apache Kafka broker the Kafka tests run against, and client helpers (rdkafka) to
//! create topics, produce and consume.
//!
//! `RUNNEL_KAFKA_BOOTSTRAP` (set by `.ci/run`) names a running broker; if it is set and no
//! broker answers there, the tests fail. Without it, the tests start one with
//! `tests/kafka/broker.sh start` on port 19092 (left running for the next run).

use std::net::TcpStream;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::harness::repo_root;

/// The broker's bootstrap address.
pub fn bootstrap() -> String {
    static ADDRESS: OnceLock<String> = OnceLock::new();
    ADDRESS
        .get_or_init(|| {
            if let Ok(address) = std::env::var("RUNNEL_KAFKA_BOOTSTRAP") {
                assert!(
                    TcpStream::connect(&address).is_ok(),
                    "RUNNEL_KAFKA_BOOTSTRAP={address} promises a Kafka broker, but none answers there \
                     (start one with tests/kafka/broker.sh start)"
                );
                return address;
            }
            let output = Command::new("bash")
                .arg(repo_root().join("tests/kafka/broker.sh"))
                .arg("start")
                .env("KAFKA_PORT", "19092")
                .output()
                .expect("run tests/kafka/broker.sh");
            assert!(
                output.status.success(),
                "tests/kafka/broker.sh start failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .last()
                .expect("broker.sh prints the address last")
                .trim()
                .to_string()
        })
        .clone()
}

/// A topic name no other test (or earlier run) uses.
pub fn unique_topic(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{name}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn admin() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .expect("admin client")
}

/// Creates `topic` with `partitions` partitions.
pub async fn create_topic(topic: &str, partitions: i32) {
    let results = admin()
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .expect("create topic");
    for result in results {
        result.unwrap_or_else(|(name, e)| panic!("create topic {name}: {e:?}"));
    }
}

/// Grows `topic` to `partitions` partitions.
pub async fn add_partitions(topic: &str, partitions: usize) {
    let results = admin()
        .create_partitions(
            &[NewPartitions::new(topic, partitions)],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .expect("create partitions");
    for result in results {
        result.unwrap_or_else(|(name, e)| panic!("add partitions to {name}: {e:?}"));
    }
}

/// A record to produce.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Record {
    pub fn value(value: impl Into<Vec<u8>>) -> Record {
        Record {
            value: Some(value.into()),
            ..Record::default()
        }
    }

    pub fn in_partition(mut self, partition: i32) -> Record {
        self.partition = Some(partition);
        self
    }

    pub fn keyed(mut self, key: impl Into<Vec<u8>>) -> Record {
        self.key = Some(key.into());
        self
    }
}

pub fn producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("linger.ms", "5")
        .set("partitioner", "murmur2_random")
        .create()
        .expect("producer")
}

/// Produces `records` to `topic` and waits until every one is acknowledged.
pub async fn produce(topic: &str, records: &[Record]) {
    let producer = producer();
    let mut pending = Vec::new();
    for record in records {
        let mut future: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
        if let Some(partition) = record.partition {
            future = future.partition(partition);
        }
        if let Some(key) = &record.key {
            future = future.key(key);
        }
        if let Some(value) = &record.value {
            future = future.payload(value);
        }
        if let Some(timestamp) = record.timestamp {
            future = future.timestamp(timestamp);
        }
        if !record.headers.is_empty() {
            let mut headers = OwnedHeaders::new();
            for (key, value) in &record.headers {
                headers = headers.insert(rdkafka::message::Header {
                    key,
                    value: Some(value),
                });
            }
            future = future.headers(headers);
        }
        pending.push(producer.send_result(future).expect("enqueue"));
    }
    for delivery in pending {
        delivery
            .await
            .expect("delivery future")
            .unwrap_or_else(|(e, _)| panic!("produce to {topic}: {e}"));
    }
}

/// A consumed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Consumed {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.value.as_deref().unwrap_or_default())
            .unwrap_or_else(|e| panic!("not JSON: {e}: {:?}", self.value))
    }
}

/// Reads `topic` from its start (read_committed) until `count` records arrived or `timeout`
/// passed, then a little longer to see records beyond `count`.
pub async fn consume(topic: &str, count: usize, timeout: Duration) -> Vec<Consumed> {
    let topic = topic.to_string();
    let bootstrap = bootstrap();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", unique_topic("runnel-test-reader"))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()
            .expect("consumer");
        let metadata = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .expect("metadata");
        let mut list = TopicPartitionList::new();
        for t in metadata.topics() {
            for p in t.partitions() {
                list.add_partition_offset(&topic, p.id(), Offset::Beginning)
                    .expect("partition");
            }
        }
        consumer.assign(&list).expect("assign");
        let mut records = Vec::new();
        let deadline = Instant::now() + timeout;
        let mut extra_until: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if now >= deadline || extra_until.is_some_and(|t| now >= t) {
                return records;
            }
            if records.len() >= count && extra_until.is_none() {
                extra_until = Some(now + Duration::from_millis(500));
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => records.push(Consumed {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    value: message.payload().map(<[u8]>::to_vec),
                    timestamp: message.timestamp().to_millis(),
                    headers: message
                        .headers()
                        .map(|headers| {
                            headers
                                .iter()
                                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                                .collect()
                        })
                        .unwrap_or_default(),
                }),
                Some(Err(KafkaError::PartitionEOF(_))) | None => {}
                Some(Err(e)) => panic!("consume {topic}: {e}"),
            }
        }
    })
    .await
    .expect("consumer task")
}

/// Commits `offsets` (partition, next offset to read) for `group` on `topic`.
pub async fn commit_offsets(topic: &str, group: &str, offsets: &[(i32, i64)]) {
    let topic = topic.to_string();
    let group = group.to_string();
    let offsets = offsets.to_vec();
    let bootstrap = bootstrap();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let mut list = TopicPartitionList::new();
        for (partition, offset) in offsets {
            list.add_partition_offset(&topic, partition, Offset::Offset(offset))
                .expect("offset");
        }
        consumer
            .commit(&list, rdkafka::consumer::CommitMode::Sync)
            .expect("commit");
    })
    .await
    .expect("commit task");
}
