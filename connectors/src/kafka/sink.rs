//! The Kafka sink: rows as records of one topic, through librdkafka's producer.
//!
//! Values (and keys, with `key.format`) are encoded a batch at a time into one buffer and sent
//! as slices of it. `sink.delivery-guarantee`:
//! - `at-least-once` (default): every record must be acknowledged (`acks=all`); a failed
//!   delivery fails the job, and the job finishes only once every record is acknowledged.
//! - `none`: records are sent and not waited for; failed deliveries are logged (the first when
//!   it fails, their number at the end of the job).
//! - `exactly-once`: each checkpoint epoch's records in one Kafka transaction, committed once
//!   the epoch is durable ([`super::transactions`]).
//!
//! In a checkpointed job an `at-least-once` sink waits at each barrier until every record of
//! the epoch is acknowledged, so a durable epoch never depends on records still in flight.
//!
//! A full producer queue makes `write` wait (backpressure) instead of dropping records.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, MapArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::{SinkJob, SinkWriter};
use runnel_engine::stream::watermark::event_time_millis;

use super::metadata::MetadataKey;
use super::options::{DeliveryGuarantee, KafkaTable, Partitioner};
use super::transactions::{self, EpochTransactions, Recovery};
use crate::codec::encode::RowEncoder;
use runnel_engine::checkpoint::{StateEntries, StateWriter};

/// How long the end of a job waits for outstanding deliveries.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout of the metadata request for the topic's partition count.
const METADATA_TIMEOUT: Duration = Duration::from_secs(15);

/// Delivery reports of the producer.
#[derive(Debug, Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

/// The producer's context: records delivery failures.
pub struct DeliveryContext(Arc<Deliveries>);

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        let this = &self.0;
        if let Err((error, _)) = result {
            if this.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!("kafka sink: a record was not delivered: {error}");
            }
            if let Ok(mut first) = this.first_error.lock()
                && first.is_none()
            {
                *first = Some(error.to_string());
            }
        }
    }
}

/// Writes rows to a Kafka topic.
pub struct KafkaSink {
    producer: Arc<ThreadedProducer<DeliveryContext>>,
    deliveries: Arc<Deliveries>,
    topic: String,
    delivery: DeliveryGuarantee,
    partitioner: Partitioner,
    partitions: Option<i32>,
    next_partition: AtomicI32,
    value: RowEncoder,
    key: Option<RowEncoder>,
    timestamp_column: Option<usize>,
    headers_column: Option<usize>,
    values: Vec<u8>,
    value_ends: Vec<usize>,
    value_nulls: Vec<usize>,
    keys: Vec<u8>,
    key_ends: Vec<usize>,
    key_nulls: Vec<usize>,
    sent: u64,
    transactions: Option<EpochTransactions>,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topic", &self.topic)
            .field("delivery", &self.delivery)
            .field("sent", &self.sent)
            .finish()
    }
}

fn sink_error(action: &str, error: impl std::fmt::Display) -> StreamError {
    StreamError::Source(format!("kafka sink: {action}: {error}"))
}

impl KafkaSink {
    /// A sink of `table` writing rows of `schema` (the table's columns without `VIRTUAL` ones),
    /// for checkpointed job `job` (`None`: a job without checkpoints, which an `exactly-once`
    /// sink refuses).
    pub fn new(
        table: &KafkaTable,
        schema: &SchemaRef,
        job: Option<&SinkJob>,
    ) -> Result<Self, StreamError> {
        let topic = table
            .sink_topic()
            .map_err(|e| sink_error("topic", e))?
            .to_string();
        let mut config = ClientConfig::new();
        for (key, value) in &table.properties {
            config.set(key, value);
        }
        let transactional_id = match (table.delivery, &table.transactional_id_prefix) {
            (DeliveryGuarantee::ExactlyOnce, Some(prefix)) => {
                let Some(job) = job else {
                    return Err(StreamError::Source(
                        "kafka sink: 'sink.delivery-guarantee' = 'exactly-once' commits a transaction per checkpoint, and this job does not checkpoint; run it as an INSERT job of 'runnel serve', or use 'at-least-once'".to_string(),
                    ));
                };
                // One sink instance per job; the id stays the same when the job resumes, so
                // the resumed producer fences the dead one.
                let id = format!("{prefix}-{}", job.name);
                transactions::configure(
                    &mut config,
                    &id,
                    table.property("transaction.timeout.ms"),
                    job.interval,
                )
                .map_err(|e| sink_error("exactly-once", e))?;
                Some(id)
            }
            _ => None,
        };
        if table.property("partitioner").is_none() {
            // Keyed records land where Kafka's Java client would put them.
            config.set("partitioner", "murmur2_random");
        }
        if table.delivery == DeliveryGuarantee::AtLeastOnce && table.property("acks").is_none() {
            config.set("acks", "all");
        }
        let deliveries = Arc::new(Deliveries::default());
        let producer: Arc<ThreadedProducer<DeliveryContext>> = Arc::new(
            config
                .create_with_context(DeliveryContext(deliveries.clone()))
                .map_err(|e| sink_error("cannot create a producer", e))?,
        );
        let transactions = match transactional_id {
            Some(id) => Some(EpochTransactions::new(
                producer.clone(),
                id,
                topic.clone(),
                &table.properties,
            )?),
            None => None,
        };
        let value = RowEncoder::new(&table.value, schema, table.value_columns.clone())
            .map_err(|e| sink_error("value format", e))?;
        let key = match &table.key {
            Some(key) => Some(
                RowEncoder::new(&key.format, schema, key.columns.clone())
                    .map_err(|e| sink_error("key format", e))?,
            ),
            None => None,
        };
        let column_of = |key: MetadataKey| {
            table
                .metadata
                .iter()
                .find(|m| m.key == key)
                .map(|m| m.index)
        };
        Ok(KafkaSink {
            producer,
            deliveries,
            topic,
            delivery: table.delivery,
            partitioner: table.partitioner,
            partitions: None,
            next_partition: AtomicI32::new(0),
            value,
            key,
            timestamp_column: column_of(MetadataKey::Timestamp),
            headers_column: column_of(MetadataKey::Headers),
            values: Vec::new(),
            value_ends: Vec::new(),
            value_nulls: Vec::new(),
            keys: Vec::new(),
            key_ends: Vec::new(),
            key_nulls: Vec::new(),
            sent: 0,
            transactions,
        })
    }

    /// The topic's partition count (for the `fixed` and `round-robin` partitioners).
    async fn partition_count(&mut self) -> Result<i32, StreamError> {
        if let Some(count) = self.partitions {
            return Ok(count);
        }
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        let count = tokio::task::spawn_blocking(move || {
            let metadata = producer
                .client()
                .fetch_metadata(Some(&topic), METADATA_TIMEOUT)
                .map_err(|e| sink_error(&format!("cannot read metadata of topic '{topic}'"), e))?;
            let partitions = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .map_or(0, |t| t.partitions().len());
            if partitions == 0 {
                return Err(StreamError::Source(format!(
                    "kafka sink: topic '{topic}' does not exist"
                )));
            }
            Ok(partitions as i32)
        })
        .await
        .map_err(|e| sink_error("metadata", e))??;
        self.partitions = Some(count);
        Ok(count)
    }

    /// Fails the job if a delivery failed (at-least-once).
    fn check_deliveries(&self) -> Result<(), StreamError> {
        if self.delivery == DeliveryGuarantee::None {
            return Ok(());
        }
        let failed = self.deliveries.failed.load(Ordering::Relaxed);
        if failed == 0 {
            return Ok(());
        }
        let first = self
            .deliveries
            .first_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .unwrap_or_default();
        Err(StreamError::Source(format!(
            "kafka sink: {failed} record(s) to topic '{}' were not delivered: {first}",
            self.topic
        )))
    }
}

/// The headers of row `row` of a `MAP<STRING, BYTES>` column.
fn row_headers(map: &MapArray, row: usize) -> Option<OwnedHeaders> {
    if map.is_null(row) {
        return None;
    }
    let entries = map.value(row);
    let keys = entries.column(0).as_string_opt::<i32>()?;
    let values = entries.column(1).as_binary_opt::<i32>()?;
    let mut headers = OwnedHeaders::new_with_capacity(entries.len());
    for i in 0..entries.len() {
        headers = headers.insert(Header {
            key: keys.value(i),
            value: (!values.is_null(i)).then(|| values.value(i)),
        });
    }
    Some(headers)
}

impl KafkaSink {
    /// Sends the rows of `batch` as records (into the open transaction of an exactly-once
    /// sink).
    async fn send(&mut self, batch: &RecordBatch) -> Result<(), StreamError> {
        self.check_deliveries()?;
        let partitions = match self.partitioner {
            Partitioner::Default => None,
            Partitioner::Fixed | Partitioner::RoundRobin => Some(self.partition_count().await?),
        };
        self.values.clear();
        self.value_ends.clear();
        self.value_nulls.clear();
        self.value.encode(
            batch,
            &mut self.values,
            &mut self.value_ends,
            &mut self.value_nulls,
        )?;
        if let Some(key) = &self.key {
            self.keys.clear();
            self.key_ends.clear();
            self.key_nulls.clear();
            key.encode(
                batch,
                &mut self.keys,
                &mut self.key_ends,
                &mut self.key_nulls,
            )?;
        }
        let timestamps = match self.timestamp_column {
            Some(column) => Some(event_time_millis(batch.column(column).as_ref())?),
            None => None,
        };
        let headers = self
            .headers_column
            .and_then(|column| batch.column(column).as_map_opt().cloned());
        let mut value_null = self.value_nulls.iter().peekable();
        let mut key_null = self.key_nulls.iter().peekable();
        let mut value_start = 0;
        let mut key_start = 0;
        for row in 0..batch.num_rows() {
            // Each record's bytes without the line break the encoder ends it with.
            let value_end = self.value_ends[row];
            let value = if value_null.next_if(|&&r| r == row).is_some() {
                None
            } else {
                Some(&self.values[value_start..value_end - 1])
            };
            value_start = value_end;
            let key = if self.key.is_some() {
                let key_end = self.key_ends[row];
                let key = if key_null.next_if(|&&r| r == row).is_some() {
                    None
                } else {
                    Some(&self.keys[key_start..key_end - 1])
                };
                key_start = key_end;
                key
            } else {
                None
            };
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic);
            if let Some(value) = value {
                record = record.payload(value);
            }
            if let Some(key) = key {
                record = record.key(key);
            }
            if let Some(millis) = timestamps.as_ref().filter(|t| t.is_valid(row)) {
                record = record.timestamp(millis.value(row));
            }
            if let Some(headers) = headers.as_ref().and_then(|h| row_headers(h, row)) {
                record = record.headers(headers);
            }
            match (self.partitioner, partitions) {
                (Partitioner::Fixed, Some(_)) => record = record.partition(0),
                (Partitioner::RoundRobin, Some(count)) => {
                    let next = self.next_partition.fetch_add(1, Ordering::Relaxed);
                    record = record.partition(next.rem_euclid(count));
                }
                _ => {}
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        // The producer's queue is full: wait for deliveries to drain it.
                        record = back;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err((error, _)) => {
                        return Err(sink_error(
                            &format!("cannot send to topic '{}'", self.topic),
                            error,
                        ));
                    }
                }
            }
            self.sent += 1;
        }
        Ok(())
    }

    /// Waits until every record sent so far is acknowledged.
    async fn flush(&self, timeout: Duration) -> Result<(), StreamError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(|e| sink_error("flush", e))?
            .map_err(|error| {
                sink_error(
                    &format!(
                        "records to topic '{}' were not acknowledged within {} s",
                        self.topic,
                        timeout.as_secs()
                    ),
                    error,
                )
            })
    }
}

#[async_trait]
impl SinkWriter for KafkaSink {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError> {
        if let Some(transactions) = self.transactions.as_mut() {
            transactions.begin()?;
        }
        self.send(&batch).await?;
        if let Some(transactions) = self.transactions.as_mut() {
            transactions.keep(batch);
        }
        Ok(())
    }

    async fn on_barrier(
        &mut self,
        epoch: Option<u64>,
        state: &mut StateWriter,
    ) -> Result<(), StreamError> {
        match self.delivery {
            DeliveryGuarantee::ExactlyOnce => match self.transactions.as_mut() {
                Some(transactions) => transactions.prepare(epoch, state),
                None => Ok(()),
            },
            DeliveryGuarantee::AtLeastOnce => {
                // The epoch becomes durable only with every record of it acknowledged.
                self.flush(FLUSH_TIMEOUT).await?;
                self.check_deliveries()
            }
            DeliveryGuarantee::None => Ok(()),
        }
    }

    async fn on_commit(&mut self, epoch: u64) -> Result<(), StreamError> {
        match self.transactions.as_mut() {
            Some(transactions) => transactions.commit(epoch).await,
            None => Ok(()),
        }
    }

    async fn recover(&mut self, epoch: u64, state: &StateEntries) -> Result<(), StreamError> {
        let Some(transactions) = self.transactions.as_mut() else {
            return Ok(());
        };
        match transactions.recover(epoch, state).await? {
            Recovery::Done => Ok(()),
            Recovery::Resend(rows) => {
                for batch in &rows {
                    self.send(batch).await?;
                }
                match self.transactions.as_mut() {
                    Some(transactions) => transactions.commit(epoch).await,
                    None => Ok(()),
                }
            }
        }
    }

    fn reads_its_state(&self) -> bool {
        self.transactions.is_some()
    }

    fn waits_for_commit(&self) -> bool {
        self.transactions.is_some()
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        if let Some(transactions) = self.transactions.as_mut() {
            // Every epoch was committed by now.
            transactions.close().await?;
            return self.check_deliveries();
        }
        let timeout = match self.delivery {
            DeliveryGuarantee::None => Duration::from_secs(5),
            _ => FLUSH_TIMEOUT,
        };
        let flushed = self.flush(timeout).await;
        if self.delivery != DeliveryGuarantee::None {
            flushed?;
        }
        let failed = self.deliveries.failed.load(Ordering::Relaxed);
        if self.delivery == DeliveryGuarantee::None && failed > 0 {
            tracing::warn!(
                "kafka sink: {failed} record(s) to topic '{}' were not delivered ('sink.delivery-guarantee' = 'none')",
                self.topic
            );
        }
        self.check_deliveries()
    }
}
