//! The Kafka source: each split is one reader instance that owns a share of the topics'
//! partitions and reads them on a thread of its own with librdkafka.
//!
//! - Partition `p` of topic `t` belongs to instance `(hash(t) + p) % instances` (Flink's
//!   enumerator spreads partitions the same way), so instances agree without talking.
//! - Partitions are found at start and, unless the read is bounded, again every
//!   `scan.topic-partition-discovery.interval`; new ones are read from their earliest offset.
//! - Each partition's records become Arrow batches directly: the values (and keys) of a fetch
//!   are copied back to back into one buffer and decoded by Arrow in one call, and metadata
//!   columns are built with Arrow builders. The batches are tagged with the partition, so the
//!   source keeps a watermark per partition (engine `run_source`).
//! - Batches go to the job over a bounded channel: when the job is slow, the thread blocks and
//!   stops polling (backpressure reaches the broker fetches).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use runnel_engine::stream::StreamError;
use runnel_engine::stream::source::{SplitEvent, SplitReader};
use tokio::sync::mpsc;

use super::batch::{Assigned, Batcher, PartitionBuffer};
use super::options::{BoundedMode, KafkaTable, StartupMode, Topics};

/// Records per batch (at most; a fetch that ends sooner makes smaller batches).
pub const KAFKA_BATCH_SIZE: usize = 8192;
/// Timeout of metadata and offset requests.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a poll waits when nothing is buffered.
const POLL_WAIT: Duration = Duration::from_millis(100);

/// The splits of a Kafka source: `instances` readers over `table`.
pub fn kafka_splits(
    table: &KafkaTable,
    schema: &SchemaRef,
    instances: usize,
    skipped: &Arc<AtomicU64>,
    resume: Option<&BTreeMap<String, i64>>,
) -> Vec<Box<dyn SplitReader>> {
    let instances = instances.max(1);
    // A checkpoint's next offset per partition (keys `kafka:<topic>/<partition>`).
    let resume: Option<Arc<BTreeMap<String, i64>>> = resume
        .map(|positions| {
            positions
                .iter()
                .filter(|(key, _)| key.starts_with(POSITION_PREFIX))
                .map(|(key, offset)| (key.clone(), *offset))
                .collect::<BTreeMap<_, _>>()
        })
        .filter(|positions| !positions.is_empty())
        .map(Arc::new);
    (0..instances)
        .map(|instance| {
            Box::new(KafkaSplitReader {
                table: table.clone(),
                schema: schema.clone(),
                instance,
                instances,
                skipped: skipped.clone(),
                resume: resume.clone(),
                positions: BTreeMap::new(),
                events: None,
            }) as Box<dyn SplitReader>
        })
        .collect()
}

/// One reader instance; its thread starts on the first read.
struct KafkaSplitReader {
    table: KafkaTable,
    schema: SchemaRef,
    instance: usize,
    instances: usize,
    skipped: Arc<AtomicU64>,
    resume: Option<Arc<BTreeMap<String, i64>>>,
    /// Next offset of each partition as of the events returned so far.
    positions: BTreeMap<String, i64>,
    events: Option<mpsc::Receiver<Result<Positioned, StreamError>>>,
}

/// Prefix of the position keys of Kafka partitions.
const POSITION_PREFIX: &str = "kafka:";

/// The position key of a partition.
fn position_key(topic: &str, partition: i32) -> String {
    format!("{POSITION_PREFIX}{topic}/{partition}")
}

/// An event and the partition positions it moved (key, next offset).
type Positioned = (SplitEvent, Vec<(String, i64)>);

impl KafkaSplitReader {
    fn start(&mut self) -> Result<(), StreamError> {
        let (sender, receiver) = mpsc::channel(4);
        let mut reader = PartitionReader::new(
            self.table.clone(),
            self.schema.clone(),
            self.instance,
            self.instances,
            self.skipped.clone(),
            self.resume.clone(),
            sender.clone(),
        )?;
        std::thread::Builder::new()
            .name(format!("kafka-source-{}", self.instance))
            .spawn(move || {
                if let Err(error) = reader.run() {
                    let _ = sender.blocking_send(Err(error));
                }
            })
            .map_err(|e| StreamError::Source(format!("kafka: cannot start a reader: {e}")))?;
        self.events = Some(receiver);
        Ok(())
    }
}

#[async_trait]
impl SplitReader for KafkaSplitReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
        loop {
            match self.next_event().await? {
                SplitEvent::Batch { batch, .. } => return Ok(Some(batch)),
                SplitEvent::End => return Ok(None),
                SplitEvent::PartitionsAdded(_) | SplitEvent::PartitionEnded(_) => {}
            }
        }
    }

    async fn next_event(&mut self) -> Result<SplitEvent, StreamError> {
        if self.events.is_none() {
            self.start()?;
        }
        match self.events.as_mut() {
            Some(events) => match events.recv().await {
                Some(Ok((event, moved))) => {
                    self.positions.extend(moved);
                    Ok(event)
                }
                Some(Err(error)) => Err(error),
                None => Err(StreamError::Source(
                    "kafka: the reader stopped without an error".to_string(),
                )),
            },
            None => Ok(SplitEvent::End),
        }
    }

    fn position(&self) -> Vec<(String, i64)> {
        self.positions
            .iter()
            .map(|(key, offset)| (key.clone(), *offset))
            .collect()
    }
}

/// The reading thread of one instance.
struct PartitionReader {
    table: KafkaTable,
    instance: usize,
    instances: usize,
    resume: Option<Arc<BTreeMap<String, i64>>>,
    sender: mpsc::Sender<Result<Positioned, StreamError>>,
    consumer: BaseConsumer,
    assigned: Vec<Assigned>,
    batcher: Batcher,
    /// Positions moved past records that all were skipped: they travel with the next event.
    unsent_moves: Vec<(String, i64)>,
    bounded: bool,
    buffered: usize,
}

fn kafka_error(action: &str, error: impl std::fmt::Display) -> StreamError {
    StreamError::Source(format!("kafka: {action}: {error}"))
}

/// Flink-style stable spread of a topic's partitions over the instances.
fn owner(topic: &str, partition: i32, instances: usize) -> usize {
    // FNV-1a: stable across runs and builds (std's hasher is seeded).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in topic.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    ((hash % instances as u64) as usize + partition.max(0) as usize) % instances
}

impl PartitionReader {
    fn new(
        table: KafkaTable,
        schema: SchemaRef,
        instance: usize,
        instances: usize,
        skipped: Arc<AtomicU64>,
        resume: Option<Arc<BTreeMap<String, i64>>>,
        sender: mpsc::Sender<Result<Positioned, StreamError>>,
    ) -> Result<Self, StreamError> {
        let bounded = table.bounded != BoundedMode::Unbounded;
        let mut config = ClientConfig::new();
        for (key, value) in &table.properties {
            config.set(key, value);
        }
        if table.group_id().is_none() {
            let name = match &table.topics {
                Topics::Names(names) => names.join("-"),
                Topics::Pattern(pattern) => pattern.as_str().to_string(),
            };
            config.set("group.id", format!("runnel-{name}"));
        }
        // As Flink: offsets are committed only if the table asks for it.
        if table.property("enable.auto.commit").is_none() {
            config.set("enable.auto.commit", "false");
        }
        if bounded {
            config.set("enable.partition.eof", "true");
        }
        // librdkafka pauses a partition's fetches for this long once its local queue is full
        // (default 1 s): a reader that drains the queue faster than that would wait idle, which
        // capped a pre-filled topic at about 100 000 records per second per partition.
        if table.property("fetch.queue.backoff.ms").is_none() {
            config.set("fetch.queue.backoff.ms", "5");
        }
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| kafka_error("cannot create a consumer", e))?;
        let batcher = Batcher::new(&table, schema, skipped)?;
        Ok(PartitionReader {
            table,
            instance,
            instances,
            resume,
            sender,
            consumer,
            assigned: Vec::new(),
            batcher,
            unsent_moves: Vec::new(),
            bounded,
            buffered: 0,
        })
    }

    /// Sends an event; false when the job is gone.
    fn send(&mut self, event: SplitEvent) -> bool {
        self.send_moved(event, Vec::new())
    }

    /// Sends an event with the partition positions it moved (and any moved without an event of
    /// their own); false when the job is gone.
    fn send_moved(&mut self, event: SplitEvent, moved: Vec<(String, i64)>) -> bool {
        let mut all = std::mem::take(&mut self.unsent_moves);
        all.extend(moved);
        self.sender.blocking_send(Ok((event, all))).is_ok()
    }

    fn run(&mut self) -> Result<(), StreamError> {
        let first = self.discover(true)?;
        let moved = self.positions_of(&first);
        if !self.send_moved(SplitEvent::PartitionsAdded(first), moved) {
            return Ok(());
        }
        let discovery = (!self.bounded)
            .then_some(self.table.discovery_interval)
            .flatten();
        let mut next_discovery = discovery.map(|d| Instant::now() + d);
        loop {
            // Once per batch, not per record: end what a bounded read finished, look for new
            // partitions.
            if self.bounded {
                if !self.end_finished_partitions()? {
                    return Ok(());
                }
                if self.assigned.iter().all(|a| a.done) {
                    self.send(SplitEvent::End);
                    return Ok(());
                }
            }
            if let (Some(at), Some(interval)) = (next_discovery, discovery)
                && Instant::now() >= at
            {
                // A failed look (a broker restarting) is tried again at the next interval.
                match self.discover(false) {
                    Ok(added) => {
                        let moved = self.positions_of(&added);
                        if !added.is_empty()
                            && !self.send_moved(SplitEvent::PartitionsAdded(added), moved)
                        {
                            return Ok(());
                        }
                    }
                    Err(error) => tracing::warn!(
                        instance = self.instance,
                        "kafka source: partition discovery failed, trying again later: {error}"
                    ),
                }
                next_discovery = Some(Instant::now() + interval);
            }
            // Poll until a batch is full, the fetched records run out, or a partition's end.
            loop {
                if self.sender.is_closed() {
                    return Ok(());
                }
                let wait = if self.buffered > 0 {
                    Duration::ZERO
                } else {
                    POLL_WAIT
                };
                match self.consumer.poll(wait) {
                    Some(Ok(message)) => {
                        let partition = message.partition();
                        if let Some(assigned) = self
                            .assigned
                            .iter_mut()
                            .find(|a| a.partition == partition && a.topic == message.topic())
                        {
                            self.batcher.buffer(assigned, &message)?;
                        }
                        self.buffered += 1;
                        if self.buffered >= KAFKA_BATCH_SIZE {
                            break;
                        }
                    }
                    Some(Err(KafkaError::PartitionEOF(_))) | None => break,
                    Some(Err(error)) => self.consumer_error(error)?,
                }
            }
            if !self.flush()? {
                return Ok(());
            }
        }
    }

    fn consumer_error(&self, error: KafkaError) -> Result<(), StreamError> {
        let fatal = match &error {
            KafkaError::MessageConsumptionFatal(_) => true,
            KafkaError::MessageConsumption(code) => matches!(
                code,
                RDKafkaErrorCode::UnknownTopicOrPartition
                    | RDKafkaErrorCode::TopicAuthorizationFailed
                    | RDKafkaErrorCode::GroupAuthorizationFailed
            ),
            _ => false,
        };
        if fatal {
            return Err(kafka_error("reading failed", error));
        }
        // Transient (a broker restarting, a connection lost): librdkafka retries by itself.
        tracing::warn!(instance = self.instance, "kafka source: {error}");
        Ok(())
    }

    /// The topics and partition counts now.
    fn topic_partitions(&self) -> Result<Vec<(String, Vec<i32>)>, StreamError> {
        let mut found = Vec::new();
        match &self.table.topics {
            Topics::Names(names) => {
                for name in names {
                    let metadata = self
                        .consumer
                        .fetch_metadata(Some(name), REQUEST_TIMEOUT)
                        .map_err(|e| {
                            kafka_error(&format!("cannot read metadata of topic '{name}'"), e)
                        })?;
                    for topic in metadata.topics() {
                        if let Some(error) = topic.error() {
                            let code = RDKafkaErrorCode::from(error);
                            return Err(if code == RDKafkaErrorCode::UnknownTopicOrPartition {
                                StreamError::Source(format!("kafka: topic '{name}' does not exist"))
                            } else {
                                kafka_error(&format!("topic '{name}'"), code)
                            });
                        }
                        found.push((
                            topic.name().to_string(),
                            topic.partitions().iter().map(|p| p.id()).collect(),
                        ));
                    }
                }
            }
            Topics::Pattern(pattern) => {
                let metadata = self
                    .consumer
                    .fetch_metadata(None, REQUEST_TIMEOUT)
                    .map_err(|e| kafka_error("cannot list topics", e))?;
                for topic in metadata.topics() {
                    if topic.error().is_none()
                        && !topic.name().starts_with("__")
                        && pattern.is_match(topic.name())
                    {
                        found.push((
                            topic.name().to_string(),
                            topic.partitions().iter().map(|p| p.id()).collect(),
                        ));
                    }
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Finds partitions this instance owns and does not read yet, decides where each starts
    /// (and ends), and assigns them. Returns their ids.
    fn discover(&mut self, first: bool) -> Result<Vec<u32>, StreamError> {
        let known: HashSet<(String, i32)> = self
            .assigned
            .iter()
            .map(|a| (a.topic.clone(), a.partition))
            .collect();
        let mut new = Vec::new();
        for (topic, partitions) in self.topic_partitions()? {
            for partition in partitions {
                if owner(&topic, partition, self.instances) == self.instance
                    && !known.contains(&(topic.clone(), partition))
                {
                    new.push((topic.clone(), partition));
                }
            }
        }
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let starts = if let Some(resume) = self.resume.clone() {
            // A resumed job: where the checkpoint stood, and partitions it did not know yet
            // (created since) from their start.
            new.iter()
                .map(|(t, p)| match resume.get(&position_key(t, *p)) {
                    Some(offset) => Ok(*offset),
                    None => self.low_watermark(t, *p),
                })
                .collect::<Result<Vec<_>, _>>()?
        } else if first {
            self.startup_offsets(&new)?
        } else {
            // Partitions found while running are read from their start (as Flink does).
            new.iter()
                .map(|(t, p)| self.low_watermark(t, *p))
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut list = TopicPartitionList::new();
        let mut ids = Vec::new();
        for ((topic, partition), start) in new.into_iter().zip(starts) {
            let end = self.end_offset(&topic, partition)?;
            let id = self.assigned.len() as u32;
            let done = end.is_some_and(|end| start >= end);
            if !done {
                list.add_partition_offset(&topic, partition, Offset::Offset(start))
                    .map_err(|e| kafka_error("cannot assign", e))?;
            }
            ids.push(id);
            self.assigned.push(Assigned {
                topic,
                partition,
                id,
                end,
                done,
                fetching: !done,
                next: start,
                buffer: PartitionBuffer::new(),
            });
        }
        if list.count() > 0 {
            self.consumer
                .incremental_assign(&list)
                .map_err(|e| kafka_error("cannot assign partitions", e))?;
        }
        Ok(ids)
    }

    /// The positions of partitions `ids` (their next offsets).
    fn positions_of(&self, ids: &[u32]) -> Vec<(String, i64)> {
        ids.iter()
            .filter_map(|id| self.assigned.get(*id as usize))
            .map(|a| (position_key(&a.topic, a.partition), a.next))
            .collect()
    }

    fn low_watermark(&self, topic: &str, partition: i32) -> Result<i64, StreamError> {
        self.watermarks(topic, partition).map(|(low, _)| low)
    }

    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), StreamError> {
        self.consumer
            .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
            .map_err(|e| {
                kafka_error(
                    &format!("cannot read the offsets of topic '{topic}' partition {partition}"),
                    e,
                )
            })
    }

    /// Where `scan.startup.mode` starts each partition.
    fn startup_offsets(&self, partitions: &[(String, i32)]) -> Result<Vec<i64>, StreamError> {
        match &self.table.startup {
            StartupMode::Earliest => partitions
                .iter()
                .map(|(t, p)| self.low_watermark(t, *p))
                .collect(),
            StartupMode::Latest => partitions
                .iter()
                .map(|(t, p)| self.watermarks(t, *p).map(|(_, high)| high))
                .collect(),
            StartupMode::SpecificOffsets(offsets) => partitions
                .iter()
                .map(|(t, p)| {
                    let (low, high) = self.watermarks(t, *p)?;
                    Ok(offsets
                        .iter()
                        .find(|(partition, _)| partition == p)
                        .map_or(low, |(_, offset)| (*offset).clamp(low, high)))
                })
                .collect(),
            StartupMode::Timestamp(millis) => self.offsets_for_time(partitions, *millis),
            StartupMode::GroupOffsets => {
                let mut list = TopicPartitionList::new();
                for (topic, partition) in partitions {
                    list.add_partition(topic, *partition);
                }
                let committed = self
                    .consumer
                    .committed_offsets(list, REQUEST_TIMEOUT)
                    .map_err(|e| kafka_error("cannot read the group's committed offsets", e))?;
                let reset_latest = matches!(
                    self.table.property("auto.offset.reset"),
                    Some("latest" | "largest" | "end")
                );
                partitions
                    .iter()
                    .map(|(topic, partition)| {
                        let (low, high) = self.watermarks(topic, *partition)?;
                        let offset = committed
                            .find_partition(topic, *partition)
                            .map(|e| e.offset());
                        Ok(match offset {
                            Some(Offset::Offset(n)) => n.clamp(low, high),
                            _ if reset_latest => high,
                            _ => low,
                        })
                    })
                    .collect()
            }
        }
    }

    /// The first offset of each partition with a record timestamp at or after `millis` (the
    /// partition's end when none is).
    fn offsets_for_time(
        &self,
        partitions: &[(String, i32)],
        millis: i64,
    ) -> Result<Vec<i64>, StreamError> {
        let mut list = TopicPartitionList::new();
        for (topic, partition) in partitions {
            list.add_partition_offset(topic, *partition, Offset::Offset(millis))
                .map_err(|e| kafka_error("offsets for a timestamp", e))?;
        }
        let found = self
            .consumer
            .offsets_for_times(list, REQUEST_TIMEOUT)
            .map_err(|e| kafka_error("cannot look up offsets for a timestamp", e))?;
        partitions
            .iter()
            .map(|(topic, partition)| {
                match found.find_partition(topic, *partition).map(|e| e.offset()) {
                    Some(Offset::Offset(n)) => Ok(n),
                    _ => self.watermarks(topic, *partition).map(|(_, high)| high),
                }
            })
            .collect()
    }

    /// Where `scan.bounded.mode` ends a partition (`None`: unbounded).
    fn end_offset(&self, topic: &str, partition: i32) -> Result<Option<i64>, StreamError> {
        Ok(match &self.table.bounded {
            BoundedMode::Unbounded => None,
            BoundedMode::LatestOffset => Some(self.watermarks(topic, partition)?.1),
            BoundedMode::SpecificOffsets(offsets) => Some(
                offsets
                    .iter()
                    .find(|(p, _)| *p == partition)
                    .map_or(0, |(_, offset)| *offset),
            ),
            BoundedMode::Timestamp(millis) => {
                let pair = [(topic.to_string(), partition)];
                Some(self.offsets_for_time(&pair, millis.saturating_add(1))?[0])
            }
        })
    }

    /// Ends the partitions a bounded read has finished (their position reached the end).
    fn end_finished_partitions(&mut self) -> Result<bool, StreamError> {
        if !self.bounded {
            return Ok(true);
        }
        let positions = self
            .consumer
            .position()
            .map_err(|e| kafka_error("cannot read positions", e))?;
        let mut ended = Vec::new();
        for assigned in &mut self.assigned {
            let position = positions
                .find_partition(&assigned.topic, assigned.partition)
                .and_then(|e| match e.offset() {
                    Offset::Offset(n) => Some(n),
                    _ => None,
                });
            let reached = match (assigned.end, position) {
                (Some(end), Some(position)) => position >= end,
                _ => false,
            };
            // A partition ends once: its end is cleared when PartitionEnded is sent.
            if (assigned.done || reached) && assigned.end.is_some() && assigned.buffer.rows == 0 {
                assigned.done = true;
                ended.push((
                    assigned.topic.clone(),
                    assigned.partition,
                    assigned.id,
                    std::mem::take(&mut assigned.fetching),
                ));
            }
        }
        for (topic, partition, id, fetching) in ended {
            if fetching {
                let mut list = TopicPartitionList::new();
                list.add_partition(&topic, partition);
                self.consumer
                    .incremental_unassign(&list)
                    .map_err(|e| kafka_error("cannot unassign a finished partition", e))?;
            }
            if !self.send(SplitEvent::PartitionEnded(id)) {
                return Ok(false);
            }
            self.assigned[id as usize].end = None;
        }
        Ok(true)
    }

    /// Turns every buffered partition into a batch and sends it; false when the job is gone.
    fn flush(&mut self) -> Result<bool, StreamError> {
        if self.buffered == 0 {
            return Ok(true);
        }
        self.buffered = 0;
        for index in 0..self.assigned.len() {
            if self.assigned[index].buffer.rows == 0 {
                continue;
            }
            let id = self.assigned[index].id;
            let built = self.batcher.build_batch(&mut self.assigned[index])?;
            let moved = self.positions_of(&[id]);
            match built {
                Some(batch) => {
                    let event = SplitEvent::Batch {
                        partition: id,
                        batch,
                    };
                    if !self.send_moved(event, moved) {
                        return Ok(false);
                    }
                }
                // Every record was skipped: the position moves past them with the next event.
                None => self.unsent_moves.extend(moved),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_spread_over_instances() {
        let mut counts = [0usize; 3];
        for partition in 0..9 {
            counts[owner("orders", partition, 3)] += 1;
        }
        assert_eq!(counts, [3, 3, 3]);
        assert_eq!(owner("orders", 4, 1), 0);
    }
}
