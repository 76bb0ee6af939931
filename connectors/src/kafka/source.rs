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

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BinaryBuilder, BooleanArray, Int32Array, Int64Builder, MapBuilder,
    RecordBatch, StringArray, StringBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::compute::filter;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, Timestamp, TopicPartitionList};
use runnel_engine::stream::StreamError;
use runnel_engine::stream::source::{SplitEvent, SplitReader};
use tokio::sync::mpsc;

use super::metadata::{MetadataColumn, MetadataKey};
use super::options::{BoundedMode, KafkaTable, StartupMode, Topics};
use crate::codec::RecordFormat;
use crate::codec::decode::{BadRecord, Chunk, RecordDecoder, raw_column};

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
) -> Vec<Box<dyn SplitReader>> {
    let instances = instances.max(1);
    (0..instances)
        .map(|instance| {
            Box::new(KafkaSplitReader {
                table: table.clone(),
                schema: schema.clone(),
                instance,
                instances,
                skipped: skipped.clone(),
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
    events: Option<mpsc::Receiver<Result<SplitEvent, StreamError>>>,
}

impl KafkaSplitReader {
    fn start(&mut self) -> Result<(), StreamError> {
        let (sender, receiver) = mpsc::channel(4);
        let mut reader = PartitionReader::new(
            self.table.clone(),
            self.schema.clone(),
            self.instance,
            self.instances,
            self.skipped.clone(),
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
                Some(event) => event,
                None => Err(StreamError::Source(
                    "kafka: the reader stopped without an error".to_string(),
                )),
            },
            None => Ok(SplitEvent::End),
        }
    }
}

/// A partition this instance reads.
struct Assigned {
    topic: String,
    partition: i32,
    /// The reader's number for it (what batches are tagged with).
    id: u32,
    /// Bounded reads: the offset it ends before.
    end: Option<i64>,
    done: bool,
    buffer: PartitionBuffer,
}

/// The records of one partition fetched since the last batch.
struct PartitionBuffer {
    /// Value bytes (json, csv).
    values: Chunk,
    /// Value bytes (raw).
    raw_values: BinaryBuilder,
    /// Key bytes for decoding key columns (json, csv).
    keys: Chunk,
    /// Key bytes for decoding a raw key column, or for the `key` metadata column.
    raw_keys: BinaryBuilder,
    offsets: Int64Builder,
    timestamps: TimestampMillisecondBuilder,
    timestamp_types: StringBuilder,
    headers: MapBuilder<StringBuilder, BinaryBuilder>,
    rows: usize,
}

impl PartitionBuffer {
    fn new() -> Self {
        PartitionBuffer {
            values: Chunk::default(),
            raw_values: BinaryBuilder::new(),
            keys: Chunk::default(),
            raw_keys: BinaryBuilder::new(),
            offsets: Int64Builder::new(),
            timestamps: TimestampMillisecondBuilder::new(),
            timestamp_types: StringBuilder::new(),
            headers: MapBuilder::new(None, StringBuilder::new(), BinaryBuilder::new()),
            rows: 0,
        }
    }
}

/// What the reader needs of each record, decided once from the table.
#[derive(Debug, Clone, Copy)]
struct Needs {
    raw_value: bool,
    key_columns: bool,
    raw_key: bool,
    key_bytes: bool,
    timestamp: bool,
    timestamp_type: bool,
    headers: bool,
}

/// The reading thread of one instance.
struct PartitionReader {
    table: KafkaTable,
    schema: SchemaRef,
    instance: usize,
    instances: usize,
    skipped: Arc<AtomicU64>,
    sender: mpsc::Sender<Result<SplitEvent, StreamError>>,
    consumer: BaseConsumer,
    assigned: Vec<Assigned>,
    needs: Needs,
    value_decoder: Option<RecordDecoder>,
    value_schema: SchemaRef,
    key_decoder: Option<RecordDecoder>,
    key_schema: Option<SchemaRef>,
    key_columns: Vec<usize>,
    bounded: bool,
    buffered: usize,
    bad: Vec<BadRecord>,
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
        sender: mpsc::Sender<Result<SplitEvent, StreamError>>,
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
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| kafka_error("cannot create a consumer", e))?;
        let physical = |index: usize| {
            let field = schema.field(index);
            datafusion::arrow::datatypes::Field::new(
                field.name(),
                field.data_type().clone(),
                field.is_nullable(),
            )
        };
        let value_schema = Arc::new(Schema::new(
            table
                .value_columns
                .iter()
                .map(|&i| physical(i))
                .collect::<Vec<_>>(),
        ));
        let value_decoder = match table.value.format {
            RecordFormat::Raw => None,
            _ => Some(
                RecordDecoder::new(
                    &table.value.format,
                    &table.value.read,
                    value_schema.clone(),
                    KAFKA_BATCH_SIZE,
                )
                .map_err(|e| kafka_error("value format", e))?,
            ),
        };
        // Key columns are decoded from the key only when the value does not hold them.
        let key_columns: Vec<usize> = table
            .key
            .as_ref()
            .map(|k| {
                k.columns
                    .iter()
                    .copied()
                    .filter(|c| !table.value_columns.contains(c))
                    .collect()
            })
            .unwrap_or_default();
        let (key_schema, key_decoder) = match &table.key {
            Some(key) if !key_columns.is_empty() => {
                let key_schema = Arc::new(Schema::new(
                    key_columns.iter().map(|&i| physical(i)).collect::<Vec<_>>(),
                ));
                let decoder = match key.format.format {
                    RecordFormat::Raw => None,
                    _ => Some(
                        RecordDecoder::new(
                            &key.format.format,
                            &key.format.read,
                            key_schema.clone(),
                            KAFKA_BATCH_SIZE,
                        )
                        .map_err(|e| kafka_error("key format", e))?,
                    ),
                };
                (Some(key_schema), decoder)
            }
            _ => (None, None),
        };
        let has = |key: MetadataKey| table.metadata.iter().any(|m| m.key == key);
        let raw_key = key_schema.is_some() && key_decoder.is_none();
        let needs = Needs {
            raw_value: table.value.format == RecordFormat::Raw,
            key_columns: key_schema.is_some() && !raw_key,
            raw_key,
            key_bytes: has(MetadataKey::Key) || raw_key,
            timestamp: has(MetadataKey::Timestamp),
            timestamp_type: has(MetadataKey::TimestampType),
            headers: has(MetadataKey::Headers),
        };
        Ok(PartitionReader {
            table,
            schema,
            instance,
            instances,
            skipped,
            sender,
            consumer,
            assigned: Vec::new(),
            needs,
            value_decoder,
            value_schema,
            key_decoder,
            key_schema,
            key_columns,
            bounded,
            buffered: 0,
            bad: Vec::new(),
        })
    }

    /// Sends an event; false when the job is gone.
    fn send(&self, event: SplitEvent) -> bool {
        self.sender.blocking_send(Ok(event)).is_ok()
    }

    fn run(&mut self) -> Result<(), StreamError> {
        let first = self.discover(true)?;
        if !self.send(SplitEvent::PartitionsAdded(first)) {
            return Ok(());
        }
        if !self.end_finished_partitions()? {
            return Ok(());
        }
        let discovery = (!self.bounded)
            .then_some(self.table.discovery_interval)
            .flatten();
        let mut next_discovery = discovery.map(|d| Instant::now() + d);
        loop {
            if self.bounded && self.assigned.iter().all(|a| a.done) {
                if self.flush()? && self.end_finished_partitions()? {
                    self.send(SplitEvent::End);
                }
                return Ok(());
            }
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
                    buffer(&mut self.assigned, self.needs, &message)?;
                    self.buffered += 1;
                    if self.buffered >= KAFKA_BATCH_SIZE && !self.flush()? {
                        return Ok(());
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    if !self.flush()? || !self.end_finished_partitions()? {
                        return Ok(());
                    }
                }
                Some(Err(error)) => self.consumer_error(error)?,
                None => {
                    if !self.flush()? {
                        return Ok(());
                    }
                }
            }
            if let (Some(at), Some(interval)) = (next_discovery, discovery)
                && Instant::now() >= at
            {
                let added = self.discover(false)?;
                if !added.is_empty() && !self.send(SplitEvent::PartitionsAdded(added)) {
                    return Ok(());
                }
                next_discovery = Some(Instant::now() + interval);
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
        let starts = if first {
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
            if assigned.done || reached {
                if !assigned.done {
                    assigned.done = true;
                }
                ended.push((assigned.topic.clone(), assigned.partition, assigned.id));
            }
        }
        for (topic, partition, id) in ended {
            if self.assigned[id as usize].buffer.rows > 0 {
                continue;
            }
            let mut list = TopicPartitionList::new();
            list.add_partition(&topic, partition);
            // Unassigning a partition that is not assigned (ended at start) is harmless.
            let _ = self.consumer.incremental_unassign(&list);
            if self.assigned[id as usize].end.is_some()
                && !self.send(SplitEvent::PartitionEnded(id))
            {
                return Ok(false);
            }
            // Sent once: mark it by clearing its end.
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
            if let Some(batch) = self.build_batch(index)?
                && !self.send(SplitEvent::Batch {
                    partition: id,
                    batch,
                })
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn bad_record_error(
        &self,
        index: usize,
        offsets: &[i64],
        bad: &BadRecord,
        part: &str,
    ) -> StreamError {
        let assigned = &self.assigned[index];
        StreamError::Source(format!(
            "kafka: topic '{}', partition {}, offset {}: malformed record {part}: {}",
            assigned.topic,
            assigned.partition,
            offsets.get(bad.index).copied().unwrap_or(-1),
            bad.message
        ))
    }

    /// The batch of partition `index`'s buffered records (`None` when every one was skipped).
    fn build_batch(&mut self, index: usize) -> Result<Option<RecordBatch>, StreamError> {
        let buffer = &mut self.assigned[index].buffer;
        let rows = std::mem::take(&mut buffer.rows);
        let offsets = buffer.offsets.finish();
        let raw_values = self.needs.raw_value.then(|| buffer.raw_values.finish());
        let raw_keys = self.needs.key_bytes.then(|| buffer.raw_keys.finish());
        let timestamps = (self.needs.timestamp || self.needs.timestamp_type)
            .then(|| buffer.timestamps.finish().with_timezone("+00:00"));
        let timestamp_types = self
            .needs
            .timestamp_type
            .then(|| buffer.timestamp_types.finish());
        let headers = self.needs.headers.then(|| buffer.headers.finish());
        let offset_values = offsets.values().to_vec();

        // Values, then keys: each decoded in one call; bad records are skipped or fail.
        let mut all_bad: Vec<usize> = Vec::new();
        let (value_batch, value_missing) = self.decode_part(
            Part::Value,
            index,
            &offset_values,
            raw_values.as_ref(),
            &mut all_bad,
        )?;
        let (key_batch, key_missing) = self.decode_part(
            Part::Key,
            index,
            &offset_values,
            raw_keys.as_ref(),
            &mut all_bad,
        )?;
        all_bad.sort_unstable();
        all_bad.dedup();
        if !all_bad.is_empty() {
            let assigned = &self.assigned[index];
            self.skipped
                .fetch_add(all_bad.len() as u64, Ordering::Relaxed);
            tracing::warn!(
                skipped = all_bad.len(),
                "kafka source: skipped malformed record(s) of topic '{}' partition {} (ignore-parse-errors), the first at offset {}",
                assigned.topic,
                assigned.partition,
                offset_values[all_bad[0]]
            );
        }
        if all_bad.len() == rows {
            return Ok(None);
        }
        let keep_all = (!all_bad.is_empty()).then(|| keep_mask(rows, &[], &all_bad));
        let pick = |array: ArrayRef| -> Result<ArrayRef, StreamError> {
            match &keep_all {
                Some(mask) => Ok(filter(&array, mask)?),
                None => Ok(array),
            }
        };
        let value_batch = match value_batch {
            Some(batch) if !all_bad.is_empty() => Some(filter_batch(
                batch,
                &keep_mask(rows, &value_missing, &all_bad),
            )?),
            other => other,
        };
        let key_batch = match key_batch {
            Some(batch) if !all_bad.is_empty() => Some(filter_batch(
                batch,
                &keep_mask(rows, &key_missing, &all_bad),
            )?),
            other => other,
        };
        let kept = rows - all_bad.len();
        let assigned = &self.assigned[index];
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (column, field) in self.schema.fields().iter().enumerate() {
            if let Some(metadata) = self.table.metadata.iter().find(|m| m.index == column) {
                let array: ArrayRef = match metadata.key {
                    MetadataKey::Topic => Arc::new(StringArray::from_iter_values(
                        std::iter::repeat_n(assigned.topic.as_str(), kept),
                    )),
                    MetadataKey::Partition => {
                        Arc::new(Int32Array::from_value(assigned.partition, kept))
                    }
                    MetadataKey::Offset => pick(Arc::new(offsets.clone()))?,
                    MetadataKey::Timestamp => pick(Arc::new(
                        timestamps.clone().ok_or_else(|| missing("timestamp"))?,
                    ))?,
                    MetadataKey::TimestampType => pick(Arc::new(
                        timestamp_types
                            .clone()
                            .ok_or_else(|| missing("timestamp-type"))?,
                    ))?,
                    MetadataKey::Headers => {
                        pick(Arc::new(headers.clone().ok_or_else(|| missing("headers"))?))?
                    }
                    MetadataKey::Key => {
                        pick(Arc::new(raw_keys.clone().ok_or_else(|| missing("key"))?))?
                    }
                };
                columns.push(conform(metadata, array)?);
            } else if let Some(position) =
                self.table.value_columns.iter().position(|&c| c == column)
            {
                let batch = value_batch.as_ref().ok_or_else(|| missing("value"))?;
                columns.push(batch.column(position).clone());
            } else if let Some(position) = self.key_columns.iter().position(|&c| c == column) {
                let batch = key_batch.as_ref().ok_or_else(|| missing("key"))?;
                columns.push(batch.column(position).clone());
            } else {
                return Err(StreamError::Internal(format!(
                    "kafka: column '{}' is neither in the key, the value nor metadata",
                    field.name()
                )));
            }
        }
        Ok(Some(RecordBatch::try_new(self.schema.clone(), columns)?))
    }

    /// Decodes the value or key columns of partition `index`'s buffered records: the batch and
    /// the records it lacks (skipped as malformed, also added to `all_bad`). `raw` holds the
    /// bytes of a `raw` format part.
    fn decode_part(
        &mut self,
        part: Part,
        index: usize,
        offsets: &[i64],
        raw: Option<&BinaryArray>,
        all_bad: &mut Vec<usize>,
    ) -> Result<(Option<RecordBatch>, Vec<usize>), StreamError> {
        let (schema, is_raw) = match part {
            Part::Value => (Some(self.value_schema.clone()), self.needs.raw_value),
            Part::Key => (self.key_schema.clone(), self.needs.raw_key),
        };
        let Some(schema) = schema else {
            return Ok((None, Vec::new()));
        };
        if is_raw {
            let bytes = raw.ok_or_else(|| missing(part.name()))?;
            let column = raw_column(bytes.iter(), schema.field(0).data_type())
                .map_err(|bad| self.bad_record_error(index, offsets, &bad, part.name()))?;
            return Ok((
                Some(RecordBatch::try_new(schema, vec![column])?),
                Vec::new(),
            ));
        }
        let buffer = &mut self.assigned[index].buffer;
        let chunk = std::mem::take(match part {
            Part::Value => &mut buffer.values,
            Part::Key => &mut buffer.keys,
        });
        let mut bad = std::mem::take(&mut self.bad);
        bad.clear();
        let decoder = match part {
            Part::Value => self.value_decoder.as_mut(),
            Part::Key => self.key_decoder.as_mut(),
        };
        let decoded = match decoder {
            Some(decoder) => decoder.decode(&chunk, &mut bad),
            None => Ok(None),
        };
        let mut chunk = chunk;
        chunk.clear();
        let buffer = &mut self.assigned[index].buffer;
        *match part {
            Part::Value => &mut buffer.values,
            Part::Key => &mut buffer.keys,
        } = chunk;
        let batch =
            decoded.map_err(|bad| self.bad_record_error(index, offsets, &bad, part.name()))?;
        let missing: Vec<usize> = bad.iter().map(|b| b.index).collect();
        all_bad.extend(&missing);
        self.bad = bad;
        Ok((batch, missing))
    }
}

/// The two parts of a record that hold columns.
#[derive(Debug, Clone, Copy)]
enum Part {
    Value,
    Key,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Value => "value",
            Part::Key => "key",
        }
    }
}

/// Adds a record to its partition's buffer.
fn buffer(
    assigned: &mut [Assigned],
    needs: Needs,
    message: &BorrowedMessage<'_>,
) -> Result<(), StreamError> {
    let partition = message.partition();
    let Some(index) = assigned
        .iter()
        .position(|a| a.partition == partition && a.topic == message.topic())
    else {
        return Ok(());
    };
    let assigned = &mut assigned[index];
    if assigned.done {
        return Ok(());
    }
    let offset = message.offset();
    if let Some(end) = assigned.end {
        if offset >= end {
            assigned.done = true;
            return Ok(());
        }
        if offset + 1 >= end {
            assigned.done = true;
        }
    }
    let buffer = &mut assigned.buffer;
    if needs.raw_value {
        buffer.raw_values.append_option(message.payload());
    } else {
        buffer.values.push(message.payload().unwrap_or_default());
    }
    if needs.key_columns {
        buffer.keys.push(message.key().unwrap_or_default());
    }
    if needs.key_bytes {
        buffer.raw_keys.append_option(message.key());
    }
    buffer.offsets.append_value(offset);
    if needs.timestamp || needs.timestamp_type {
        let (millis, kind) = match message.timestamp() {
            Timestamp::NotAvailable => (None, "NoTimestampType"),
            Timestamp::CreateTime(t) => (Some(t), "CreateTime"),
            Timestamp::LogAppendTime(t) => (Some(t), "LogAppendTime"),
        };
        buffer.timestamps.append_option(millis);
        buffer.timestamp_types.append_value(kind);
    }
    if needs.headers {
        if let Some(headers) = message.headers() {
            for header in headers.iter() {
                buffer.headers.keys().append_value(header.key);
                buffer.headers.values().append_option(header.value);
            }
        }
        buffer
            .headers
            .append(true)
            .map_err(|e| kafka_error("headers", e))?;
    }
    buffer.rows += 1;
    Ok(())
}

fn missing(what: &str) -> StreamError {
    StreamError::Internal(format!("kafka: {what} columns were not read"))
}

fn conform(metadata: &MetadataColumn, array: ArrayRef) -> Result<ArrayRef, StreamError> {
    metadata
        .conform(array)
        .map_err(|e| StreamError::Source(format!("kafka: metadata '{}': {e}", metadata.key.name())))
}

/// For a batch holding the records `0..rows` except `own_bad` (sorted), the mask that keeps
/// those not in `all_bad` (sorted).
fn keep_mask(rows: usize, own_bad: &[usize], all_bad: &[usize]) -> BooleanArray {
    let mut mask = Vec::with_capacity(rows);
    let (mut own, mut all) = (0, 0);
    for record in 0..rows {
        if own < own_bad.len() && own_bad[own] == record {
            own += 1;
            if all < all_bad.len() && all_bad[all] == record {
                all += 1;
            }
            continue;
        }
        let bad = all < all_bad.len() && all_bad[all] == record;
        if bad {
            all += 1;
        }
        mask.push(!bad);
    }
    BooleanArray::from(mask)
}

fn filter_batch(batch: RecordBatch, mask: &BooleanArray) -> Result<RecordBatch, StreamError> {
    Ok(datafusion::arrow::compute::filter_record_batch(
        &batch, mask,
    )?)
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

    #[test]
    fn keep_masks() {
        // Records 0..5; the batch lacks record 1 (its own bad); records 1 and 3 are bad.
        let mask = keep_mask(5, &[1], &[1, 3]);
        assert_eq!(mask, BooleanArray::from(vec![true, true, false, true]));
        let all = keep_mask(3, &[], &[0]);
        assert_eq!(all, BooleanArray::from(vec![false, true, true]));
    }
}
