//! Exactly-once delivery of the Kafka sink: one Kafka transaction per checkpoint epoch, and a
//! progress record that says which epoch Kafka really committed.
//!
//! The records of epoch `n` go out in a transaction that is committed only once epoch `n` is
//! durable in Runnel's store. The epoch's rows are also kept in the epoch's durable state, and
//! the transaction carries a transactional offset commit of a Runnel-owned consumer group
//! (`runnel-progress-<transactional id>`, offset `n` on partition 0 of the sink topic): the
//! progress record commits or aborts with the records. After a crash, with `D` the last
//! durable epoch:
//! - `init_transactions` with the same transactional id fences the dead producer and aborts
//!   whatever transaction it left open (a crash before the epoch was durable, or after it was
//!   durable but before the Kafka commit);
//! - the progress record then says `D` (the crash came after the Kafka commit: nothing to do)
//!   or `D - 1` (the commit of `D` never happened: epoch `D`'s kept rows are sent again in a new
//!   transaction with progress `D`);
//! - the job resumes reading after epoch `D`.
//!
//! So at every instant the process can die, read_committed consumers see each epoch's records
//! exactly once.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use rdkafka::ClientConfig;
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerGroupMetadata};
use rdkafka::error::KafkaError;
use rdkafka::producer::{Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use runnel_engine::checkpoint::{FROM_SAVEPOINT, StateEntries, StateWriter};
use runnel_engine::storage::{decode_state_batches, encode_state_batches};
use runnel_engine::stream::StreamError;

use super::sink::DeliveryContext;

/// The sink's producer.
type SinkProducer = ThreadedProducer<DeliveryContext>;

/// How long one transactional call to the broker may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The broker's default cap on transaction timeouts (`transaction.max.timeout.ms`).
const BROKER_MAX_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(900);
/// What a transaction's timeout leaves beyond the checkpoint interval for the store write and
/// the commit.
const TRANSACTION_TIMEOUT_MARGIN: Duration = Duration::from_secs(60);

/// The producer settings of an exactly-once sink: its transactional id, and a transaction
/// timeout above the checkpoint interval plus the commit (unless the table sets one, which
/// must exceed the interval).
pub fn configure(
    config: &mut ClientConfig,
    transactional_id: &str,
    user_timeout: Option<&str>,
    interval: Duration,
) -> Result<(), String> {
    config.set("transactional.id", transactional_id);
    if interval + TRANSACTION_TIMEOUT_MARGIN > BROKER_MAX_TRANSACTION_TIMEOUT {
        return Err(format!(
            "a checkpoint interval of {} s is too long: a transaction stays open for a whole epoch, and brokers cap transactions at {} s by default; use at most {} s",
            interval.as_secs(),
            BROKER_MAX_TRANSACTION_TIMEOUT.as_secs(),
            (BROKER_MAX_TRANSACTION_TIMEOUT - TRANSACTION_TIMEOUT_MARGIN).as_secs()
        ));
    }
    match user_timeout {
        Some(value) => {
            let millis: u64 = value.parse().map_err(|_| {
                format!("'properties.transaction.timeout.ms' must be a number of milliseconds, got '{value}'")
            })?;
            if Duration::from_millis(millis) <= interval {
                return Err(format!(
                    "'properties.transaction.timeout.ms' ({millis}) must exceed the checkpoint interval ({} ms): a transaction stays open for a whole epoch and its commit",
                    interval.as_millis()
                ));
            }
        }
        None => {
            let timeout =
                (interval + TRANSACTION_TIMEOUT_MARGIN).min(BROKER_MAX_TRANSACTION_TIMEOUT);
            config.set("transaction.timeout.ms", timeout.as_millis().to_string());
        }
    }
    Ok(())
}

/// The key, in the sink's state, of the rows of `epoch`.
fn epoch_key(epoch: u64) -> [u8; 9] {
    let mut key = [b'e'; 9];
    key[1..].copy_from_slice(&epoch.to_be_bytes());
    key
}

fn transaction_error(transactional_id: &str, action: &str, error: KafkaError) -> StreamError {
    let fenced = matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::Fenced)
    );
    if fenced {
        return StreamError::Source(format!(
            "kafka sink: another producer with transactional id '{transactional_id}' took over (is another job using the same 'sink.transactional-id-prefix'?): {error}"
        ));
    }
    StreamError::Source(format!(
        "kafka sink: transactional id '{transactional_id}': {action}: {error}"
    ))
}

/// What the caller of [`EpochTransactions::recover`] must do.
#[derive(Debug)]
pub enum Recovery {
    /// Nothing: Kafka holds every durable epoch.
    Done,
    /// Send these rows (the last durable epoch's, which Kafka never committed) in the open
    /// transaction, then [`EpochTransactions::commit`] it.
    Resend(Vec<RecordBatch>),
}

/// The transaction state of an exactly-once sink.
pub struct EpochTransactions {
    producer: Arc<SinkProducer>,
    transactional_id: String,
    topic: String,
    progress: Arc<BaseConsumer>,
    group: Arc<ConsumerGroupMetadata>,
    /// A transaction is open.
    open: bool,
    /// The last epoch whose rows are complete (its barrier passed).
    epoch: u64,
    /// An epoch whose rows are complete and whose transaction waits for it to be durable.
    prepared: Option<u64>,
    /// The current epoch's rows, kept in its state.
    kept: Vec<RecordBatch>,
    /// The job started from a savepoint; the marker goes at the first barrier.
    from_savepoint: bool,
}

impl std::fmt::Debug for EpochTransactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochTransactions")
            .field("transactional_id", &self.transactional_id)
            .field("epoch", &self.epoch)
            .field("prepared", &self.prepared)
            .finish_non_exhaustive()
    }
}

impl EpochTransactions {
    /// Transactions of `producer` (configured by [`configure`]) into `topic`; `properties`
    /// reach the progress group's consumer.
    pub fn new(
        producer: Arc<SinkProducer>,
        transactional_id: String,
        topic: String,
        properties: &[(String, String)],
    ) -> Result<Self, StreamError> {
        let mut config = ClientConfig::new();
        for (key, value) in properties {
            // Producer settings mean nothing to the progress consumer.
            if !key.starts_with("transaction") && key != "acks" && key != "partitioner" {
                config.set(key, value);
            }
        }
        config
            .set("group.id", format!("runnel-progress-{transactional_id}"))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed");
        let progress: BaseConsumer = config.create().map_err(|e| {
            StreamError::Source(format!(
                "kafka sink: cannot create the progress consumer: {e}"
            ))
        })?;
        let group = progress.group_metadata().ok_or_else(|| {
            StreamError::Source("kafka sink: the progress consumer has no group".to_string())
        })?;
        Ok(EpochTransactions {
            producer,
            transactional_id,
            topic,
            progress: Arc::new(progress),
            group: Arc::new(group),
            open: false,
            epoch: 0,
            prepared: None,
            kept: Vec::new(),
            from_savepoint: false,
        })
    }

    /// Runs a blocking transactional call off the async runtime.
    async fn call<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&SinkProducer, &BaseConsumer, &ConsumerGroupMetadata) -> Result<T, KafkaError>
        + Send
        + 'static,
    ) -> Result<T, StreamError> {
        let producer = self.producer.clone();
        let progress = self.progress.clone();
        let group = self.group.clone();
        let id = self.transactional_id.clone();
        tokio::task::spawn_blocking(move || f(&producer, &progress, &group))
            .await
            .map_err(|e| StreamError::Internal(format!("kafka sink: {action}: {e}")))?
            .map_err(|e| transaction_error(&id, action, e))
    }

    /// Settles what a crashed run left, for a job that starts after durable epoch `epoch`
    /// whose sink state is `state`: fences the old producer (aborting its open transaction)
    /// and reads the progress record. Leaves a transaction open.
    pub async fn recover(
        &mut self,
        epoch: u64,
        state: &StateEntries,
    ) -> Result<Recovery, StreamError> {
        self.call("init_transactions", |producer, _, _| {
            producer.init_transactions(CALL_TIMEOUT)
        })
        .await?;
        let topic = self.topic.clone();
        let committed = self
            .call("read the progress record", move |_, progress, _| {
                let mut partitions = TopicPartitionList::new();
                partitions.add_partition(&topic, 0);
                let committed = progress.committed_offsets(partitions, CALL_TIMEOUT)?;
                Ok(committed
                    .elements()
                    .first()
                    .and_then(|element| match element.offset() {
                        Offset::Offset(offset) => u64::try_from(offset).ok(),
                        _ => None,
                    }))
            })
            .await?;
        self.epoch = epoch;
        self.begin()?;
        self.from_savepoint = state.iter().any(|(key, _)| key == FROM_SAVEPOINT);
        if epoch == 0 || self.from_savepoint {
            // A fresh job, or one resumed from a savepoint taken after its sink committed
            // everything: whatever an earlier job with this id recorded means nothing here.
            // The progress record starts at this epoch.
            self.prepared = Some(epoch);
            return Ok(Recovery::Resend(Vec::new()));
        }
        let Some(committed) = committed else {
            return Err(StreamError::Checkpoint(format!(
                "kafka sink: the progress record of transactional id '{}' (consumer group 'runnel-progress-{}') is gone, so whether Kafka committed epoch {epoch} is unknown; Kafka drops the offsets of idle groups after 'offsets.retention.minutes' (7 days by default)",
                self.transactional_id, self.transactional_id
            )));
        };
        if committed == epoch {
            return Ok(Recovery::Done);
        }
        if committed + 1 != epoch {
            return Err(StreamError::Checkpoint(format!(
                "kafka sink: the progress record of transactional id '{}' says epoch {committed} was committed, but the job's last durable epoch is {epoch}; was the id used by another job, or the progress group '{}' changed?",
                self.transactional_id,
                format_args!("runnel-progress-{}", self.transactional_id)
            )));
        }
        let mut rows = Vec::new();
        for (key, value) in state.iter() {
            if key == epoch_key(epoch) {
                rows = decode_state_batches(value)
                    .map_err(|e| StreamError::Checkpoint(format!("kafka sink: kept rows: {e}")))?;
            }
        }
        tracing::info!(
            transactional_id = %self.transactional_id,
            epoch,
            rows = rows.iter().map(RecordBatch::num_rows).sum::<usize>(),
            "kafka sink: the last durable epoch was not committed to Kafka; sending its rows again"
        );
        self.prepared = Some(epoch);
        Ok(Recovery::Resend(rows))
    }

    /// Opens the next transaction if none is.
    pub fn begin(&mut self) -> Result<(), StreamError> {
        if self.prepared.is_some() {
            return Err(StreamError::Internal(format!(
                "kafka sink: rows of a new epoch arrived before epoch {} was committed",
                self.epoch
            )));
        }
        if !self.open {
            self.producer
                .begin_transaction()
                .map_err(|e| transaction_error(&self.transactional_id, "begin_transaction", e))?;
            self.open = true;
        }
        Ok(())
    }

    /// Keeps `batch` (just sent in the open transaction) for the epoch's state.
    pub fn keep(&mut self, batch: RecordBatch) {
        self.kept.push(batch);
    }

    /// The current epoch's rows are complete (`epoch` = `None`: the final epoch of a finished
    /// job): writes them into the epoch's state, and forgets the previous epoch's rows (Kafka
    /// committed them before this epoch began).
    pub fn prepare(
        &mut self,
        epoch: Option<u64>,
        state: &mut StateWriter,
    ) -> Result<(), StreamError> {
        let epoch = epoch.unwrap_or(self.epoch + 1);
        self.begin()?;
        if !self.kept.is_empty() {
            let bytes = encode_state_batches(&self.kept)
                .map_err(|e| StreamError::Checkpoint(format!("kafka sink: kept rows: {e}")))?;
            state.put(&epoch_key(epoch), bytes);
            self.kept.clear();
        }
        state.delete(&epoch_key(self.epoch));
        if std::mem::take(&mut self.from_savepoint) {
            state.delete(FROM_SAVEPOINT);
        }
        self.epoch = epoch;
        self.prepared = Some(epoch);
        Ok(())
    }

    /// Epoch `epoch` is durable: commits its transaction together with the progress record.
    pub async fn commit(&mut self, epoch: u64) -> Result<(), StreamError> {
        let Some(prepared) = self.prepared.filter(|prepared| *prepared <= epoch) else {
            return Ok(());
        };
        runnel_engine::failpoint::hit(runnel_engine::failpoint::BEFORE_SINK_COMMIT);
        let topic = self.topic.clone();
        self.call("commit", move |producer, _, group| {
            let mut offsets = TopicPartitionList::new();
            offsets.add_partition_offset(&topic, 0, Offset::Offset(prepared as i64))?;
            producer.send_offsets_to_transaction(&offsets, group, CALL_TIMEOUT)?;
            producer.commit_transaction(CALL_TIMEOUT)
        })
        .await?;
        runnel_engine::failpoint::hit(runnel_engine::failpoint::AFTER_SINK_COMMIT);
        self.open = false;
        self.prepared = None;
        Ok(())
    }

    /// Aborts a transaction left open at the end (none normally is).
    pub async fn close(&mut self) -> Result<(), StreamError> {
        if self.open && self.prepared.is_none() && self.kept.is_empty() {
            self.call("abort_transaction", |producer, _, _| {
                producer.abort_transaction(CALL_TIMEOUT)
            })
            .await?;
            self.open = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_timeout_covers_the_interval() {
        let mut config = ClientConfig::new();
        configure(&mut config, "t-0", None, Duration::from_secs(1)).expect("configure");
        assert_eq!(config.get("transactional.id"), Some("t-0"));
        assert_eq!(config.get("transaction.timeout.ms"), Some("61000"));
        let error = configure(
            &mut ClientConfig::new(),
            "t-0",
            None,
            Duration::from_secs(3600),
        )
        .expect_err("too long");
        assert!(error.contains("use at most 840 s"), "{error}");
        let error = configure(
            &mut ClientConfig::new(),
            "t-0",
            Some("500"),
            Duration::from_secs(1),
        )
        .expect_err("too short");
        assert!(
            error.contains("must exceed the checkpoint interval"),
            "{error}"
        );
        configure(
            &mut ClientConfig::new(),
            "t-0",
            Some("5000"),
            Duration::from_secs(1),
        )
        .expect("long enough");
    }

    #[test]
    fn epoch_keys_sort_by_epoch() {
        assert!(epoch_key(2) < epoch_key(10));
        assert_eq!(epoch_key(1)[0], b'e');
    }
}
