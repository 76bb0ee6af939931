//! Decoding a chunk of records into one Arrow batch.
//!
//! A chunk holds up to a batch of records (file lines, Kafka message payloads) back to back,
//! each ending with `\n`, and is decoded by Arrow's JSON or CSV decoder in one call, so
//! well-formed input costs no per-record parsing beyond Arrow's. Only when a chunk fails is it
//! split in halves (recursively) to find the bad records: to report the first one, or, with
//! `ignore-parse-errors`, to skip them and keep the rest. Callers name a bad record by its
//! index in the chunk (a file turns it into a line number, Kafka into partition and offset).

use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BinaryArray, RecordBatch, StringArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::csv::ReaderBuilder as CsvReaderBuilder;
use datafusion::arrow::csv::reader::Decoder as CsvDecoder;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::ReaderBuilder as JsonReaderBuilder;
use datafusion::arrow::json::reader::Decoder as JsonDecoder;
use regex::Regex;

use super::{ReadOptions, RecordFormat};

/// Records to decode together: their bytes, each record ending with `\n`.
#[derive(Debug, Default)]
pub struct Chunk {
    bytes: Vec<u8>,
    records: Vec<Range<usize>>,
}

impl Chunk {
    /// Empties the chunk, keeping its memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.records.clear();
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the chunk has no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Appends a record (a line break is added unless it ends with one).
    pub fn push(&mut self, record: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(record);
        self.end_record(start);
    }

    /// The bytes of the chunk, for a caller that reads a record straight into them: append the
    /// record's bytes, then call [`Chunk::end_record`] with the length before.
    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Ends the record that starts at `start` (adds its line break if missing).
    pub fn end_record(&mut self, start: usize) {
        if self.bytes.last() != Some(&b'\n') || self.bytes.len() == start {
            self.bytes.push(b'\n');
        }
        self.records.push(start..self.bytes.len());
    }

    /// The bytes of record `index`, with its line break.
    pub fn record(&self, index: usize) -> &[u8] {
        &self.bytes[self.records[index].clone()]
    }
}

/// A record that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// The record's index in its chunk.
    pub index: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Arrow's row decoder for the format.
enum RowDecoder {
    Json(JsonDecoder),
    Csv(Box<CsvDecoder>),
}

impl RowDecoder {
    fn decode(&mut self, buf: &[u8]) -> Result<usize, ArrowError> {
        match self {
            RowDecoder::Json(decoder) => decoder.decode(buf),
            RowDecoder::Csv(decoder) => decoder.decode(buf),
        }
    }

    fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        match self {
            RowDecoder::Json(decoder) => decoder.flush(),
            RowDecoder::Csv(decoder) => decoder.flush(),
        }
    }

    /// Rows decoded and not yet flushed (`batch_size`: the decoder's batch size).
    fn buffered(&self, batch_size: usize) -> usize {
        match self {
            RowDecoder::Json(decoder) => decoder.len(),
            RowDecoder::Csv(decoder) => batch_size.saturating_sub(decoder.capacity()),
        }
    }

    /// Whether a record was begun and not finished (JSON only; an open CSV quote shows as a
    /// record that added no row).
    fn has_partial_record(&self) -> bool {
        match self {
            RowDecoder::Json(decoder) => decoder.has_partial_record(),
            RowDecoder::Csv(_) => false,
        }
    }
}

/// Decodes chunks of `json` or `csv` records into batches of `schema`.
pub struct RecordDecoder {
    format: RecordFormat,
    options: ReadOptions,
    schema: SchemaRef,
    batch_size: usize,
    null_regex: Option<Regex>,
    decoder: RowDecoder,
}

impl std::fmt::Debug for RecordDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordDecoder")
            .field("format", &self.format)
            .field("options", &self.options)
            .finish()
    }
}

impl RecordDecoder {
    /// A decoder of `format` (`json` or `csv`) into `schema`, for chunks of up to `batch_size`
    /// records.
    pub fn new(
        format: &RecordFormat,
        options: &ReadOptions,
        schema: SchemaRef,
        batch_size: usize,
    ) -> Result<Self, String> {
        let null_regex = match (format, &options.null_literal) {
            (RecordFormat::Csv { .. }, Some(literal)) => {
                let pattern = format!("^(?:{})?$", regex::escape(literal));
                Some(
                    Regex::new(&pattern)
                        .map_err(|e| format!("csv.null-literal '{literal}': {e}"))?,
                )
            }
            _ => None,
        };
        let decoder = build_decoder(format, &schema, null_regex.as_ref(), batch_size)
            .map_err(|e| e.to_string())?;
        Ok(RecordDecoder {
            format: format.clone(),
            options: options.clone(),
            schema,
            batch_size,
            null_regex,
            decoder,
        })
    }

    /// The schema of the batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Decodes `chunk` into a batch with a row per good record (`None` when none is good).
    /// Bad records are pushed to `bad` when ignoring parse errors; otherwise the first fails.
    pub fn decode(
        &mut self,
        chunk: &Chunk,
        bad: &mut Vec<BadRecord>,
    ) -> Result<Option<RecordBatch>, BadRecord> {
        if chunk.is_empty() {
            return Ok(None);
        }
        if let Ok(batch) = self.decode_records(chunk, 0..chunk.len()) {
            if self.options.fail_on_missing_field {
                self.check_missing_fields(chunk, &batch)?;
            }
            return Ok(Some(batch));
        }
        let mut good = Vec::new();
        self.bisect(chunk, 0..chunk.len(), &mut good, bad)?;
        if good.is_empty() {
            return Ok(None);
        }
        concat_batches(&self.schema, &good)
            .map(Some)
            .map_err(|e| BadRecord {
                index: 0,
                message: e.to_string(),
            })
    }

    fn bisect(
        &mut self,
        chunk: &Chunk,
        records: Range<usize>,
        good: &mut Vec<RecordBatch>,
        bad: &mut Vec<BadRecord>,
    ) -> Result<(), BadRecord> {
        match self.decode_records(chunk, records.clone()) {
            Ok(batch) => {
                good.push(batch);
                Ok(())
            }
            Err(error) if records.len() == 1 => {
                let bad_record = BadRecord {
                    index: records.start,
                    message: clean_arrow_message(&error.to_string()),
                };
                if self.options.ignore_parse_errors {
                    bad.push(bad_record);
                    Ok(())
                } else {
                    Err(bad_record)
                }
            }
            Err(_) => {
                let middle = records.start + records.len() / 2;
                self.bisect(chunk, records.start..middle, good, bad)?;
                self.bisect(chunk, middle..records.end, good, bad)
            }
        }
    }

    /// Decodes `records` of `chunk` (consecutive in its bytes) into one batch with a row each.
    fn decode_records(
        &mut self,
        chunk: &Chunk,
        records: Range<usize>,
    ) -> Result<RecordBatch, ArrowError> {
        let result = self.decode_each(chunk, records.clone());
        if result.is_err() {
            // A decoder that failed part way may hold a partial record: start afresh.
            self.decoder = build_decoder(
                &self.format,
                &self.schema,
                self.null_regex.as_ref(),
                self.batch_size,
            )?;
        }
        result
    }

    /// Feeds the records one by one, checking that each adds exactly one row (a Kafka record
    /// may hold no value, two JSON objects or a line break), then flushes them as one batch.
    fn decode_each(
        &mut self,
        chunk: &Chunk,
        records: Range<usize>,
    ) -> Result<RecordBatch, ArrowError> {
        let count = records.len();
        for record in records {
            let bytes = chunk.record(record);
            let before = self.decoder.buffered(self.batch_size);
            let mut offset = 0;
            while offset < bytes.len() {
                let read = self.decoder.decode(&bytes[offset..])?;
                if read == 0 {
                    // The decoder is full: more rows than records.
                    return Err(self.not_one_row("more than one row"));
                }
                offset += read;
            }
            let added = self.decoder.buffered(self.batch_size) - before;
            if added != 1 || self.decoder.has_partial_record() {
                let found = if added == 0 {
                    "none".to_string()
                } else {
                    added.to_string()
                };
                return Err(self.not_one_row(&found));
            }
        }
        match self.decoder.flush()? {
            Some(batch) if batch.num_rows() == count => Ok(batch),
            other => Err(self.not_one_row(&other.map_or(0, |b| b.num_rows()).to_string())),
        }
    }

    fn not_one_row(&self, found: &str) -> ArrowError {
        if self.format == RecordFormat::Json {
            ArrowError::JsonError(format!(
                "expected one JSON object per record, found {found}"
            ))
        } else {
            ArrowError::CsvError(format!(
                "expected one CSV line per record, found {found} (quoted line breaks are not supported)"
            ))
        }
    }

    /// With `json.fail-on-missing-field`: the rows with a NULL are checked against their record,
    /// to tell a missing field from an explicit `null`.
    fn check_missing_fields(&self, chunk: &Chunk, batch: &RecordBatch) -> Result<(), BadRecord> {
        let nullable: Vec<usize> = (0..batch.num_columns())
            .filter(|&c| batch.column(c).null_count() > 0)
            .collect();
        if nullable.is_empty() {
            return Ok(());
        }
        for row in 0..batch.num_rows() {
            let nulls: Vec<usize> = nullable
                .iter()
                .copied()
                .filter(|&c| batch.column(c).is_null(row))
                .collect();
            if nulls.is_empty() {
                continue;
            }
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(chunk.record(row)).map_err(|e| BadRecord {
                    index: row,
                    message: e.to_string(),
                })?;
            for column in nulls {
                let name = self.schema.field(column).name();
                if !object.contains_key(name) {
                    return Err(BadRecord {
                        index: row,
                        message: format!(
                            "field '{name}' is missing ('json.fail-on-missing-field' is 'true')"
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

fn build_decoder(
    format: &RecordFormat,
    schema: &SchemaRef,
    null_regex: Option<&Regex>,
    batch_size: usize,
) -> Result<RowDecoder, ArrowError> {
    Ok(match format {
        RecordFormat::Json => RowDecoder::Json(
            JsonReaderBuilder::new(Arc::clone(schema))
                .with_batch_size(batch_size)
                // Flink reads a JSON number or boolean into a STRING column as its text.
                .with_coerce_primitive(true)
                .build_decoder()?,
        ),
        RecordFormat::Csv { delimiter } => {
            let mut builder = CsvReaderBuilder::new(Arc::clone(schema))
                .with_header(false)
                .with_delimiter(*delimiter)
                .with_batch_size(batch_size);
            if let Some(regex) = null_regex {
                builder = builder.with_null_regex(regex.clone());
            }
            RowDecoder::Csv(Box::new(builder.build_decoder()))
        }
        RecordFormat::Raw => {
            return Err(ArrowError::InvalidArgumentError(
                "the raw format is read by raw_column".to_string(),
            ));
        }
    })
}

/// Arrow's CSV messages count lines from the start of the decoded slice; the caller names the
/// real record, so those counts are dropped.
fn clean_arrow_message(message: &str) -> String {
    static LINE: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    match LINE.get_or_init(|| Regex::new(r" (?:at|for) line \d+").ok()) {
        Some(regex) => regex.replace_all(message, "").into_owned(),
        None => message.to_string(),
    }
}

/// The `raw` format: each value (`None` for an absent payload) as a `STRING` or `BYTES` cell.
/// A value that is not UTF-8 in a `STRING` column is a [`BadRecord`].
pub fn raw_column<'a>(
    values: impl ExactSizeIterator<Item = Option<&'a [u8]>>,
    data_type: &DataType,
) -> Result<ArrayRef, BadRecord> {
    match data_type {
        DataType::Binary => Ok(Arc::new(values.collect::<BinaryArray>())),
        DataType::Utf8 => {
            let mut texts = Vec::with_capacity(values.len());
            for (index, value) in values.enumerate() {
                texts.push(match value {
                    None => None,
                    Some(bytes) => Some(std::str::from_utf8(bytes).map_err(|e| BadRecord {
                        index,
                        message: format!("raw value is not UTF-8 text: {e}"),
                    })?),
                });
            }
            Ok(Arc::new(StringArray::from(texts)))
        }
        other => Err(BadRecord {
            index: 0,
            message: format!("the raw format reads STRING or BYTES, not {other}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{Field, Schema};

    fn ids(batch: &RecordBatch) -> Vec<String> {
        batch
            .column(0)
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or("NULL").to_string())
            .collect()
    }

    #[test]
    fn every_record_must_be_exactly_one_row() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, true)]));
        let options = ReadOptions {
            ignore_parse_errors: true,
            ..ReadOptions::default()
        };
        let mut decoder =
            RecordDecoder::new(&RecordFormat::Json, &options, schema.clone(), 16).expect("json");
        let mut chunk = Chunk::default();
        // An empty record and a record of two objects balance out in total: each must still
        // be found, so that the rows stay aligned with their records.
        for record in [
            r#"{"id":"a"}"#,
            "",
            r#"{"id":"b"} {"id":"c"}"#,
            r#"{"id":"d"}"#,
        ] {
            chunk.push(record.as_bytes());
        }
        let mut bad = Vec::new();
        let batch = decoder
            .decode(&chunk, &mut bad)
            .expect("decode")
            .expect("rows");
        assert_eq!(ids(&batch), vec!["a", "d"]);
        assert_eq!(bad.iter().map(|b| b.index).collect::<Vec<_>>(), vec![1, 2]);
        assert!(bad[0].message.contains("found none"), "{:?}", bad[0]);

        let mut csv =
            RecordDecoder::new(&RecordFormat::Csv { delimiter: b',' }, &options, schema, 16)
                .expect("csv");
        chunk.clear();
        for record in ["a", "b\nc", "\"open", "d"] {
            chunk.push(record.as_bytes());
        }
        bad.clear();
        let batch = csv.decode(&chunk, &mut bad).expect("decode").expect("rows");
        assert_eq!(ids(&batch), vec!["a", "d"]);
        assert_eq!(bad.iter().map(|b| b.index).collect::<Vec<_>>(), vec![1, 2]);
    }
}
