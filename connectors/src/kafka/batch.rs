//! Kafka records to Arrow batches: a partition's fetched records are buffered (value and key
//! bytes back to back, metadata in Arrow builders) and turned into one batch, decoded by Arrow
//! in one call per part. Malformed records fail with their topic, partition and offset, or are
//! skipped and counted (`ignore-parse-errors`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BinaryBuilder, BooleanArray, Int32Array, Int64Builder, MapBuilder,
    RecordBatch, StringArray, StringBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::compute::filter;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use rdkafka::Timestamp;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use runnel_engine::stream::StreamError;

use super::metadata::{MetadataColumn, MetadataKey};
use super::options::KafkaTable;
use super::source::KAFKA_BATCH_SIZE;
use crate::codec::RecordFormat;
use crate::codec::decode::{BadRecord, Chunk, RecordDecoder, raw_column};

/// A partition this instance reads.
pub(super) struct Assigned {
    pub(super) topic: String,
    pub(super) partition: i32,
    /// The reader's number for it (what batches are tagged with).
    pub(super) id: u32,
    /// Bounded reads: the offset it ends before.
    pub(super) end: Option<i64>,
    pub(super) done: bool,
    /// Whether the consumer fetches it (a partition empty from the start never is).
    pub(super) fetching: bool,
    /// The offset after the last record turned into a batch (or skipped): where a resumed
    /// job starts this partition.
    pub(super) next: i64,
    pub(super) buffer: PartitionBuffer,
}

/// The records of one partition fetched since the last batch.
pub(super) struct PartitionBuffer {
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
    pub(super) rows: usize,
}

impl PartitionBuffer {
    pub(super) fn new() -> Self {
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

/// Builds the batches of one reader instance.
pub(super) struct Batcher {
    schema: SchemaRef,
    metadata: Vec<MetadataColumn>,
    value_columns: Vec<usize>,
    needs: Needs,
    value_decoder: Option<RecordDecoder>,
    value_schema: SchemaRef,
    key_decoder: Option<RecordDecoder>,
    key_schema: Option<SchemaRef>,
    key_columns: Vec<usize>,
    skipped: Arc<AtomicU64>,
    bad: Vec<BadRecord>,
    /// What a missing key decodes from: NULL in every key column.
    null_key: Vec<u8>,
    /// `csv.allow-comments` on the value.
    skip_comments: bool,
}

impl Batcher {
    /// A batcher of `table`'s rows (`schema`: physical and metadata columns), counting skipped
    /// records into `skipped`.
    pub(super) fn new(
        table: &KafkaTable,
        schema: SchemaRef,
        skipped: Arc<AtomicU64>,
    ) -> Result<Self, StreamError> {
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
                .map_err(|e| StreamError::Source(format!("kafka: value format: {e}")))?,
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
                        .map_err(|e| StreamError::Source(format!("kafka: key format: {e}")))?,
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
        // JSON: an object without the fields; CSV: empty fields.
        let null_key = match table.key.as_ref().map(|k| &k.format.format) {
            Some(RecordFormat::Csv { delimiter }) => {
                vec![*delimiter; key_columns.len().saturating_sub(1)]
            }
            _ => b"{}".to_vec(),
        };
        Ok(Batcher {
            schema,
            metadata: table.metadata.clone(),
            value_columns: table.value_columns.clone(),
            needs,
            value_decoder,
            value_schema,
            key_decoder,
            key_schema,
            key_columns,
            skipped,
            bad: Vec::new(),
            null_key,
            skip_comments: matches!(table.value.format, RecordFormat::Csv { .. })
                && table.value.read.allow_comments,
        })
    }

    /// Adds a record to its partition's buffer.
    pub(super) fn buffer(
        &self,
        assigned: &mut Assigned,
        message: &BorrowedMessage<'_>,
    ) -> Result<(), StreamError> {
        let needs = self.needs;
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
        if self.skip_comments && message.payload().is_some_and(|p| p.first() == Some(&b'#')) {
            // `csv.allow-comments`: a comment line is no record.
            return Ok(());
        }
        let buffer = &mut assigned.buffer;
        if needs.raw_value {
            buffer.raw_values.append_option(message.payload());
        } else {
            buffer.values.push(message.payload().unwrap_or_default());
        }
        if needs.key_columns {
            // A record without a key has NULL key columns (as in Flink).
            buffer
                .keys
                .push(message.key().unwrap_or(self.null_key.as_slice()));
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
                .map_err(|e| StreamError::Source(format!("kafka: headers: {e}")))?;
        }
        buffer.rows += 1;
        Ok(())
    }

    fn bad_record_error(
        &self,
        assigned: &Assigned,
        offsets: &[i64],
        bad: &BadRecord,
        part: &str,
    ) -> StreamError {
        StreamError::Source(format!(
            "kafka: topic '{}', partition {}, offset {}: malformed record {part}: {}",
            assigned.topic,
            assigned.partition,
            offsets.get(bad.index).copied().unwrap_or(-1),
            bad.message
        ))
    }

    /// The batch of a partition's buffered records (`None` when every one was skipped).
    pub(super) fn build_batch(
        &mut self,
        assigned: &mut Assigned,
    ) -> Result<Option<RecordBatch>, StreamError> {
        let buffer = &mut assigned.buffer;
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
        let offset_values = offsets.values().clone();
        if let Some(last) = offset_values.last() {
            assigned.next = last + 1;
        }

        // Values, then keys: each decoded in one call; bad records are skipped or fail.
        let mut all_bad: Vec<usize> = Vec::new();
        let (value_batch, value_missing) = self.decode_part(
            Part::Value,
            assigned,
            &offset_values,
            raw_values.as_ref(),
            &mut all_bad,
        )?;
        let (key_batch, key_missing) = self.decode_part(
            Part::Key,
            assigned,
            &offset_values,
            raw_keys.as_ref(),
            &mut all_bad,
        )?;
        all_bad.sort_unstable();
        all_bad.dedup();
        if !all_bad.is_empty() {
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
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (column, field) in self.schema.fields().iter().enumerate() {
            if let Some(metadata) = self.metadata.iter().find(|m| m.index == column) {
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
            } else if let Some(position) = self.value_columns.iter().position(|&c| c == column) {
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

    /// Decodes the value or key columns of a partition's buffered records: the batch and
    /// the records it lacks (skipped as malformed, also added to `all_bad`). `raw` holds the
    /// bytes of a `raw` format part.
    fn decode_part(
        &mut self,
        part: Part,
        assigned: &mut Assigned,
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
                .map_err(|bad| self.bad_record_error(assigned, offsets, &bad, part.name()))?;
            return Ok((
                Some(RecordBatch::try_new(schema, vec![column])?),
                Vec::new(),
            ));
        }
        let buffer = &mut assigned.buffer;
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
        let buffer = &mut assigned.buffer;
        *match part {
            Part::Value => &mut buffer.values,
            Part::Key => &mut buffer.keys,
        } = chunk;
        let batch =
            decoded.map_err(|bad| self.bad_record_error(assigned, offsets, &bad, part.name()))?;
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
    fn keep_masks() {
        // Records 0..5; the batch lacks record 1 (its own bad); records 1 and 3 are bad.
        let mask = keep_mask(5, &[1], &[1, 3]);
        assert_eq!(mask, BooleanArray::from(vec![true, true, false, true]));
        let all = keep_mask(3, &[], &[0]);
        assert_eq!(all, BooleanArray::from(vec![false, true, true]));
    }
}
