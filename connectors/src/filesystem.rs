//! The `filesystem` source: a file, or every file of a directory, in `json` (one object per
//! line) or `csv` format. Bounded: each file is one split that ends at the end of the file.
//!
//! Files are parsed by Arrow's JSON and CSV decoders on a blocking thread, which hands batches
//! to the split reader over a small bounded channel (backpressure reaches the disk reads).
//!
//! Lines are read in chunks of up to [`FILE_BATCH_SIZE`] records and each chunk is decoded in
//! one call, so well-formed input costs no per-line parsing beyond Arrow's. Only when a chunk
//! fails is it split in halves (recursively) to find the bad lines: to report the first one
//! with its line number, or, with `json.ignore-parse-errors` / `csv.ignore-parse-errors`, to
//! skip them and keep the rest.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::csv::ReaderBuilder as CsvReaderBuilder;
use datafusion::arrow::csv::reader::Decoder as CsvDecoder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::ReaderBuilder as JsonReaderBuilder;
use datafusion::arrow::json::reader::Decoder as JsonDecoder;
use regex::Regex;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::source::SplitReader;
use tokio::sync::mpsc;

use crate::error::ConnectorError;
use crate::options::{Options, invalid};

/// File formats of the `filesystem` connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileFormat {
    /// JSON lines: one object per line, fields matched to columns by name.
    Json,
    /// CSV without a header line, columns in table order (Flink's `csv` format).
    Csv {
        /// `csv.field-delimiter` (default `,`).
        delimiter: u8,
    },
}

impl FileFormat {
    /// The format's name as written in `'format' = '...'` (and the finished files' extension).
    pub fn name(&self) -> &'static str {
        match self {
            FileFormat::Json => "json",
            FileFormat::Csv { .. } => "csv",
        }
    }
}

/// How the reader treats bad and special lines (the format options of Flink's `json` and `csv`
/// formats that concern reading).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// `json.ignore-parse-errors` / `csv.ignore-parse-errors`: skip malformed lines (counted and
    /// logged per file) instead of failing.
    pub ignore_parse_errors: bool,
    /// `json.fail-on-missing-field`: a JSON object without one of the table's columns fails the
    /// job (by default the column is NULL).
    pub fail_on_missing_field: bool,
    /// `csv.null-literal`: a field equal to it is NULL (as is an empty field).
    pub null_literal: Option<String>,
    /// `csv.allow-comments`: lines starting with `#` are skipped.
    pub allow_comments: bool,
}

/// How timestamps are written as JSON strings (`json.timestamp-format.standard`). Reading
/// accepts both spellings whatever the setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimestampStandard {
    /// `SQL` (default): `2020-12-30 12:13:14.123`.
    #[default]
    Sql,
    /// `ISO-8601`: `2020-12-30T12:13:14.123`.
    Iso8601,
}

/// The options of a `filesystem` table, shared by its source and its sink (a table can be read
/// and written, so either side accepts the other's options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTableOptions {
    /// `path`: a file or directory to read; the directory to write to.
    pub path: PathBuf,
    /// `format` and `csv.field-delimiter`.
    pub format: FileFormat,
    /// Reading options.
    pub read: ReadOptions,
    /// `json.timestamp-format.standard`.
    pub timestamp_standard: TimestampStandard,
    /// `sink.rolling-policy.file-size`: a part file is finished once it reaches this size.
    pub rolling_file_size: u64,
}

/// Flink's default `sink.rolling-policy.file-size`.
pub const DEFAULT_ROLLING_FILE_SIZE: u64 = 128 << 20;

/// Options common to every filesystem table, whatever its format.
const COMMON_OPTIONS: &[&str] = &[
    "connector",
    "path",
    "format",
    "sink.rolling-policy.file-size",
];
const JSON_OPTIONS: &[&str] = &[
    "json.ignore-parse-errors",
    "json.fail-on-missing-field",
    "json.timestamp-format.standard",
];
const CSV_OPTIONS: &[&str] = &[
    "csv.field-delimiter",
    "csv.ignore-parse-errors",
    "csv.null-literal",
    "csv.allow-comments",
];

/// Reads (and consumes) the options of a `filesystem` table. Touches no file.
pub fn parse_table_options(options: &mut Options<'_>) -> Result<FileTableOptions, ConnectorError> {
    options.declare(COMMON_OPTIONS);
    let path = options.required_string("path")?;
    if path.trim().is_empty() {
        return Err(invalid("path", path, "expected a file or directory path"));
    }
    let format_name = options.required_string("format")?;
    let rolling_file_size = options
        .memory_size("sink.rolling-policy.file-size")?
        .unwrap_or(DEFAULT_ROLLING_FILE_SIZE);
    if rolling_file_size == 0 {
        return Err(invalid(
            "sink.rolling-policy.file-size",
            "0",
            "expected a positive size",
        ));
    }
    let mut read = ReadOptions::default();
    let mut timestamp_standard = TimestampStandard::Sql;
    let format = match format_name {
        "json" => {
            options.declare(JSON_OPTIONS);
            read.ignore_parse_errors = options.bool("json.ignore-parse-errors")?.unwrap_or(false);
            read.fail_on_missing_field =
                options.bool("json.fail-on-missing-field")?.unwrap_or(false);
            if read.ignore_parse_errors && read.fail_on_missing_field {
                return Err(invalid(
                    "json.fail-on-missing-field",
                    "true",
                    "'json.fail-on-missing-field' and 'json.ignore-parse-errors' cannot both be 'true'",
                ));
            }
            if options
                .one_of("json.timestamp-format.standard", &["SQL", "ISO-8601"])?
                .is_some_and(|standard| standard == "ISO-8601")
            {
                timestamp_standard = TimestampStandard::Iso8601;
            }
            FileFormat::Json
        }
        "csv" => {
            options.declare(CSV_OPTIONS);
            let delimiter = match options.string("csv.field-delimiter") {
                None => b',',
                Some(value) => parse_delimiter(value)
                    .map_err(|reason| invalid("csv.field-delimiter", value, reason))?,
            };
            read.ignore_parse_errors = options.bool("csv.ignore-parse-errors")?.unwrap_or(false);
            read.allow_comments = options.bool("csv.allow-comments")?.unwrap_or(false);
            read.null_literal = options.string("csv.null-literal").map(str::to_string);
            if let Some(literal) = &read.null_literal {
                let delimiter = char::from(delimiter);
                if literal.contains([delimiter, '"', '\n', '\r']) {
                    return Err(invalid(
                        "csv.null-literal",
                        literal,
                        "the null literal cannot contain the field delimiter, quotes or line breaks",
                    ));
                }
            }
            FileFormat::Csv { delimiter }
        }
        other => {
            return Err(invalid(
                "format",
                other,
                "the filesystem connector supports the formats 'json' and 'csv'",
            ));
        }
    };
    Ok(FileTableOptions {
        path: PathBuf::from(path),
        format,
        read,
        timestamp_standard,
        rolling_file_size,
    })
}

/// `csv.field-delimiter`: one ASCII character, or `\t` for a tab as Flink allows.
fn parse_delimiter(value: &str) -> Result<u8, String> {
    let reason = "expected a single ASCII character such as ',', ';', '|' or '\\t' (tab)";
    let c = match value {
        "\\t" => '\t',
        _ => {
            let mut chars = value.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => return Err(reason.to_string()),
            }
        }
    };
    if !c.is_ascii() || c == '"' || c == '\n' || c == '\r' {
        return Err(reason.to_string());
    }
    Ok(c as u8)
}

/// Rows per batch read from a file.
pub const FILE_BATCH_SIZE: usize = 4096;

/// The files under `path` (the file itself, or a directory's visible files sorted by name).
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>, StreamError> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| StreamError::Source(format!("cannot read {}: {e}", path.display())))?;
    if metadata.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| StreamError::Source(format!("cannot list {}: {e}", path.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|e| StreamError::Source(format!("cannot list {}: {e}", path.display())))?;
        let name = entry.file_name();
        let visible = !name.to_string_lossy().starts_with(['.', '_']);
        if visible && entry.file_type().is_ok_and(|t| t.is_file()) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// One split per file under `path`.
pub fn file_splits(
    path: &Path,
    format: &FileFormat,
    schema: SchemaRef,
) -> Result<Vec<Box<dyn SplitReader>>, StreamError> {
    file_splits_with_options(path, format, &ReadOptions::default(), schema)
}

/// One split per file under `path`, read with `options`.
pub fn file_splits_with_options(
    path: &Path,
    format: &FileFormat,
    options: &ReadOptions,
    schema: SchemaRef,
) -> Result<Vec<Box<dyn SplitReader>>, StreamError> {
    Ok(list_files(path)?
        .into_iter()
        .map(|file| {
            Box::new(FileSplitReader::with_options(
                file,
                format.clone(),
                options.clone(),
                schema.clone(),
            )) as Box<dyn SplitReader>
        })
        .collect())
}

/// Reads one file.
#[derive(Debug)]
pub struct FileSplitReader {
    path: PathBuf,
    format: FileFormat,
    options: ReadOptions,
    schema: SchemaRef,
    batches: Option<mpsc::Receiver<Result<RecordBatch, StreamError>>>,
}

impl FileSplitReader {
    /// A reader of `path` with the default read options; the file is opened on the first
    /// `next_batch`.
    pub fn new(path: PathBuf, format: FileFormat, schema: SchemaRef) -> Self {
        Self::with_options(path, format, ReadOptions::default(), schema)
    }

    /// A reader of `path`; the file is opened on the first `next_batch`.
    pub fn with_options(
        path: PathBuf,
        format: FileFormat,
        options: ReadOptions,
        schema: SchemaRef,
    ) -> Self {
        FileSplitReader {
            path,
            format,
            options,
            schema,
            batches: None,
        }
    }

    fn start(&self) -> mpsc::Receiver<Result<RecordBatch, StreamError>> {
        let (sender, receiver) = mpsc::channel(2);
        let path = self.path.clone();
        let format = self.format.clone();
        let options = self.options.clone();
        let schema = self.schema.clone();
        tokio::task::spawn_blocking(move || {
            let result = FileDecoder::new(&path, format, options, schema)
                .and_then(|decoder| decoder.run(&sender));
            if let Err(error) = result {
                let _ = sender.blocking_send(Err(error));
            }
        });
        receiver
    }
}

#[async_trait]
impl SplitReader for FileSplitReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
        if self.batches.is_none() {
            self.batches = Some(self.start());
        }
        match self.batches.as_mut() {
            Some(batches) => batches.recv().await.transpose(),
            None => Ok(None),
        }
    }
}

/// A line of a chunk: its bytes (ending with `\n`) and its 1-based number in the file.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    number: u64,
}

/// Up to [`FILE_BATCH_SIZE`] consecutive records: their bytes and where each line is.
#[derive(Debug, Default)]
struct Chunk {
    bytes: Vec<u8>,
    lines: Vec<Line>,
}

/// Arrow's row decoder for the file's format.
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
}

/// Reads one file on a blocking thread.
struct FileDecoder {
    path: PathBuf,
    format: FileFormat,
    options: ReadOptions,
    schema: SchemaRef,
    null_regex: Option<Regex>,
    decoder: RowDecoder,
}

impl FileDecoder {
    fn new(
        path: &Path,
        format: FileFormat,
        options: ReadOptions,
        schema: SchemaRef,
    ) -> Result<Self, StreamError> {
        let null_regex = match (&format, &options.null_literal) {
            (FileFormat::Csv { .. }, Some(literal)) => {
                let pattern = format!("^(?:{})?$", regex::escape(literal));
                Some(Regex::new(&pattern).map_err(|e| {
                    StreamError::Source(format!("csv.null-literal '{literal}': {e}"))
                })?)
            }
            _ => None,
        };
        let decoder = build_decoder(&format, &schema, null_regex.as_ref())
            .map_err(|e| StreamError::Source(format!("file {}: {e}", path.display())))?;
        Ok(FileDecoder {
            path: path.to_path_buf(),
            format,
            options,
            schema,
            null_regex,
            decoder,
        })
    }

    fn error_at(&self, line: u64, message: impl std::fmt::Display) -> StreamError {
        StreamError::Source(format!(
            "file {}, line {line}: {message}",
            self.path.display()
        ))
    }

    fn run(
        mut self,
        sender: &mpsc::Sender<Result<RecordBatch, StreamError>>,
    ) -> Result<(), StreamError> {
        let io_error =
            |e: std::io::Error| StreamError::Source(format!("file {}: {e}", self.path.display()));
        let file = File::open(&self.path).map_err(io_error)?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let is_json = self.format == FileFormat::Json;
        let mut line_number = 0u64;
        let mut skipped = 0u64;
        let mut first_skipped: Option<(u64, String)> = None;
        let mut chunk = Chunk::default();
        loop {
            chunk.bytes.clear();
            chunk.lines.clear();
            let mut eof = false;
            while chunk.lines.len() < FILE_BATCH_SIZE {
                let start = chunk.bytes.len();
                let read = reader.read_until(b'\n', &mut chunk.bytes).map_err(|e| {
                    StreamError::Source(format!("file {}: {e}", self.path.display()))
                })?;
                if read == 0 {
                    eof = true;
                    break;
                }
                line_number += 1;
                let line = &chunk.bytes[start..];
                let skip = if is_json {
                    line.iter().all(u8::is_ascii_whitespace)
                } else {
                    line == b"\n"
                        || line == b"\r\n"
                        || (self.options.allow_comments && line.first() == Some(&b'#'))
                };
                if skip {
                    chunk.bytes.truncate(start);
                    continue;
                }
                if chunk.bytes.last() != Some(&b'\n') {
                    chunk.bytes.push(b'\n');
                }
                chunk.lines.push(Line {
                    start,
                    end: chunk.bytes.len(),
                    number: line_number,
                });
            }
            if !chunk.lines.is_empty() {
                let mut bad = Vec::new();
                let batch = self.decode_chunk(&chunk, &mut bad)?;
                if let Some((line, error)) = bad.first()
                    && first_skipped.is_none()
                {
                    first_skipped = Some((*line, error.clone()));
                }
                skipped += bad.len() as u64;
                if let Some(batch) = batch
                    && batch.num_rows() > 0
                    && sender.blocking_send(Ok(batch)).is_err()
                {
                    return Ok(());
                }
            }
            if eof {
                break;
            }
        }
        if let Some((line, error)) = first_skipped {
            tracing::warn!(
                skipped,
                "{}.ignore-parse-errors: skipped {skipped} malformed line(s) of {}; the first, line {line}: {error}",
                self.format.name(),
                self.path.display(),
            );
        }
        Ok(())
    }

    /// Decodes a chunk: in one call when it is well-formed, else by halves to find the bad lines
    /// (skipped into `bad` with their errors when ignoring parse errors, else the first fails).
    fn decode_chunk(
        &mut self,
        chunk: &Chunk,
        bad: &mut Vec<(u64, String)>,
    ) -> Result<Option<RecordBatch>, StreamError> {
        if let Ok(batch) = self.decode_lines(chunk, 0..chunk.lines.len()) {
            if self.options.fail_on_missing_field {
                self.check_missing_fields(chunk, &batch)?;
            }
            return Ok(Some(batch));
        }
        let mut good = Vec::new();
        self.bisect(chunk, 0..chunk.lines.len(), &mut good, bad)?;
        if good.is_empty() {
            return Ok(None);
        }
        concat_batches(&self.schema, &good)
            .map(Some)
            .map_err(StreamError::from)
    }

    fn bisect(
        &mut self,
        chunk: &Chunk,
        lines: Range<usize>,
        good: &mut Vec<RecordBatch>,
        bad: &mut Vec<(u64, String)>,
    ) -> Result<(), StreamError> {
        match self.decode_lines(chunk, lines.clone()) {
            Ok(batch) => {
                good.push(batch);
                Ok(())
            }
            Err(error) if lines.len() == 1 => {
                let line = chunk.lines[lines.start].number;
                let message = clean_arrow_message(&error.to_string());
                if self.options.ignore_parse_errors {
                    bad.push((line, message));
                    Ok(())
                } else {
                    Err(self.error_at(line, message))
                }
            }
            Err(_) => {
                let middle = lines.start + lines.len() / 2;
                self.bisect(chunk, lines.start..middle, good, bad)?;
                self.bisect(chunk, middle..lines.end, good, bad)
            }
        }
    }

    /// Decodes `lines` of `chunk` (consecutive in its bytes) into one batch with a row per line.
    fn decode_lines(
        &mut self,
        chunk: &Chunk,
        lines: Range<usize>,
    ) -> Result<RecordBatch, ArrowError> {
        let bytes = &chunk.bytes[chunk.lines[lines.start].start..chunk.lines[lines.end - 1].end];
        let result = decode_all(&mut self.decoder, bytes).and_then(|batch| {
            let rows = batch.as_ref().map_or(0, RecordBatch::num_rows);
            match batch {
                Some(batch) if rows == lines.len() => Ok(batch),
                _ if self.format == FileFormat::Json => Err(ArrowError::JsonError(format!(
                    "expected one JSON object per line, found {rows} in {} line(s)",
                    lines.len()
                ))),
                _ => Err(ArrowError::CsvError(format!(
                    "expected one record per line, found {rows} in {} line(s) (quoted line breaks are not supported)",
                    lines.len()
                ))),
            }
        });
        if result.is_err() {
            // A decoder that failed part way may hold a partial record: start afresh.
            self.decoder = build_decoder(&self.format, &self.schema, self.null_regex.as_ref())?;
        }
        result
    }

    /// With `json.fail-on-missing-field`: the rows with a NULL are checked against their line,
    /// to tell a missing field from an explicit `null`.
    fn check_missing_fields(&self, chunk: &Chunk, batch: &RecordBatch) -> Result<(), StreamError> {
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
            let line = chunk.lines[row];
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&chunk.bytes[line.start..line.end])
                    .map_err(|e| self.error_at(line.number, e))?;
            for column in nulls {
                let name = self.schema.field(column).name();
                if !object.contains_key(name) {
                    return Err(self.error_at(
                        line.number,
                        format!(
                            "field '{name}' is missing ('json.fail-on-missing-field' is 'true')"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn build_decoder(
    format: &FileFormat,
    schema: &SchemaRef,
    null_regex: Option<&Regex>,
) -> Result<RowDecoder, ArrowError> {
    Ok(match format {
        FileFormat::Json => RowDecoder::Json(
            JsonReaderBuilder::new(Arc::clone(schema))
                .with_batch_size(FILE_BATCH_SIZE)
                // Flink reads a JSON number or boolean into a STRING column as its text.
                .with_coerce_primitive(true)
                .build_decoder()?,
        ),
        FileFormat::Csv { delimiter } => {
            let mut builder = CsvReaderBuilder::new(Arc::clone(schema))
                .with_header(false)
                .with_delimiter(*delimiter)
                .with_batch_size(FILE_BATCH_SIZE);
            if let Some(regex) = null_regex {
                builder = builder.with_null_regex(regex.clone());
            }
            RowDecoder::Csv(Box::new(builder.build_decoder()))
        }
    })
}

/// Decodes all of `bytes` (whole lines) into one batch.
fn decode_all(decoder: &mut RowDecoder, bytes: &[u8]) -> Result<Option<RecordBatch>, ArrowError> {
    let mut batches = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let read = decoder.decode(&bytes[offset..])?;
        if read == 0 {
            // The decoder holds a full batch (more records than lines): flush and go on.
            match decoder.flush()? {
                Some(batch) => batches.push(batch),
                None => {
                    return Err(ArrowError::ParseError(
                        "the decoder made no progress".to_string(),
                    ));
                }
            }
        }
        offset += read;
    }
    if let Some(batch) = decoder.flush()? {
        batches.push(batch);
    }
    match batches.len() {
        0 => Ok(None),
        1 => Ok(batches.pop()),
        _ => concat_batches(&batches[0].schema(), &batches).map(Some),
    }
}

/// Arrow's CSV messages count lines from the start of the decoded slice; the caller names the
/// real line, so those counts are dropped.
fn clean_arrow_message(message: &str) -> String {
    static LINE: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    match LINE.get_or_init(|| Regex::new(r" (?:at|for) line \d+").ok()) {
        Some(regex) => regex.replace_all(message, "").into_owned(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{
        DataType, Field, Int64Type, Schema, TimeUnit, TimestampMillisecondType,
    };

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("amount", DataType::Int64, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]))
    }

    async fn read_all(splits: Vec<Box<dyn SplitReader>>) -> Result<Vec<RecordBatch>, StreamError> {
        let mut batches = Vec::new();
        for mut split in splits {
            while let Some(batch) = split.next_batch().await? {
                batches.push(batch);
            }
        }
        Ok(batches)
    }

    fn ids(batches: &[RecordBatch]) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| {
                let ids = b.column(0).as_string::<i32>();
                (0..ids.len())
                    .map(|i| {
                        if ids.is_null(i) {
                            "NULL".to_string()
                        } else {
                            ids.value(i).to_string()
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    async fn read_file(
        contents: &str,
        format: FileFormat,
        options: ReadOptions,
    ) -> Result<Vec<RecordBatch>, StreamError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("data.txt");
        std::fs::write(&file, contents).expect("write");
        let splits = file_splits_with_options(&file, &format, &options, schema()).expect("splits");
        read_all(splits).await
    }

    #[tokio::test]
    async fn a_directory_is_one_split_per_visible_file_in_name_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("b.jsonl"),
            "{\"id\": \"b1\", \"amount\": 2, \"ts\": \"2024-01-01T00:00:02Z\"}\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("a.jsonl"),
            "{\"id\": \"a1\", \"amount\": 1, \"ts\": \"2024-01-01 00:00:01\"}\n{\"id\": \"a2\", \"ts\": \"2024-01-01T00:00:03.250\"}\n",
        )
        .expect("write");
        std::fs::write(dir.path().join(".hidden"), "not json").expect("write");
        let splits = file_splits(dir.path(), &FileFormat::Json, schema()).expect("splits");
        assert_eq!(splits.len(), 2);
        let batches = read_all(splits).await.expect("read");
        assert_eq!(ids(&batches), vec!["a1", "a2", "b1"]);
        let first = &batches[0];
        let amounts = first.column(1).as_primitive::<Int64Type>();
        assert!(amounts.is_null(1), "a missing field is NULL");
        let times = first.column(2).as_primitive::<TimestampMillisecondType>();
        assert_eq!(times.value(0), 1_704_067_201_000);
        assert_eq!(times.value(1), 1_704_067_203_250);
    }

    #[tokio::test]
    async fn csv_without_header_in_column_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("orders.csv");
        std::fs::write(&file, "x;5;2024-01-01 00:00:00\ny;;2024-01-01 00:00:01\n").expect("write");
        let splits =
            file_splits(&file, &FileFormat::Csv { delimiter: b';' }, schema()).expect("splits");
        let batches = read_all(splits).await.expect("read");
        assert_eq!(batches[0].num_rows(), 2);
        let amounts = batches[0].column(1).as_primitive::<Int64Type>();
        assert_eq!(amounts.value(0), 5);
        assert!(amounts.is_null(1));
    }

    #[tokio::test]
    async fn a_malformed_record_fails_with_the_file_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bad.jsonl");
        std::fs::write(
            &file,
            "{\"id\": \"ok\", \"amount\": 1}\n{\"id\": \"bad\", \"amount\": \"many\"}\n",
        )
        .expect("write");
        let splits = file_splits(&file, &FileFormat::Json, schema()).expect("splits");
        let error = read_all(splits).await.expect_err("malformed");
        let message = error.to_string();
        assert!(message.contains("bad.jsonl"), "{message}");
        assert!(
            message.contains("many") || message.contains("amount"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_malformed_json_line_fails_with_its_line_number() {
        let mut contents = String::new();
        for i in 0..5000 {
            contents.push_str(&format!("{{\"id\": \"r{i}\", \"amount\": {i}}}\n"));
            if i == 10 {
                contents.push('\n');
            }
        }
        // Line 4503: the 4502nd record (one blank line before it).
        contents = contents.replacen("\"amount\": 4501}", "\"amount\": oops}", 1);
        let error = read_file(&contents, FileFormat::Json, ReadOptions::default())
            .await
            .expect_err("malformed");
        let message = error.to_string();
        assert!(message.contains("data.txt, line 4503:"), "{message}");
    }

    #[tokio::test]
    async fn ignored_json_parse_errors_skip_only_the_bad_lines() {
        let mut contents = String::new();
        let mut expected = Vec::new();
        for i in 0..5000 {
            if i % 1000 == 7 {
                contents.push_str("{\"id\": \"broken\", \n");
            } else if i == 4999 {
                contents.push_str("{\"id\": \"x\", \"amount\": \"many\"}\n");
            } else {
                contents.push_str(&format!("{{\"id\": \"r{i}\", \"amount\": {i}}}\n"));
                expected.push(format!("r{i}"));
            }
        }
        let options = ReadOptions {
            ignore_parse_errors: true,
            ..ReadOptions::default()
        };
        let batches = read_file(&contents, FileFormat::Json, options)
            .await
            .expect("bad lines skipped");
        assert_eq!(ids(&batches), expected);
    }

    #[tokio::test]
    async fn two_objects_on_one_line_are_a_parse_error() {
        let error = read_file(
            "{\"id\": \"a\"}\n{\"id\": \"b\"} {\"id\": \"c\"}\n",
            FileFormat::Json,
            ReadOptions::default(),
        )
        .await
        .expect_err("two objects");
        let message = error.to_string();
        assert!(message.contains("line 2:"), "{message}");
        assert!(message.contains("one JSON object per line"), "{message}");
    }

    #[tokio::test]
    async fn fail_on_missing_field_tells_missing_from_null() {
        let options = ReadOptions {
            fail_on_missing_field: true,
            ..ReadOptions::default()
        };
        let batches = read_file(
            "{\"id\": \"a\", \"amount\": null, \"ts\": null}\n",
            FileFormat::Json,
            options.clone(),
        )
        .await
        .expect("explicit nulls are fine");
        assert_eq!(batches[0].num_rows(), 1);
        let error = read_file(
            "{\"id\": \"a\", \"amount\": 1, \"ts\": null}\n{\"id\": \"b\", \"ts\": null}\n",
            FileFormat::Json,
            options,
        )
        .await
        .expect_err("amount is missing");
        let message = error.to_string();
        assert!(
            message.contains("line 2: field 'amount' is missing"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn numbers_are_read_into_string_columns_as_text() {
        let batches = read_file("{\"id\": 42}\n", FileFormat::Json, ReadOptions::default())
            .await
            .expect("read");
        assert_eq!(ids(&batches), vec!["42"]);
    }

    #[tokio::test]
    async fn csv_bad_lines_fail_with_the_line_or_are_skipped() {
        let contents =
            "a,1,2024-01-01 00:00:00\nb,two,2024-01-01 00:00:00\nc,3\nd,4,2024-01-01 00:00:00";
        let error = read_file(
            contents,
            FileFormat::Csv { delimiter: b',' },
            ReadOptions::default(),
        )
        .await
        .expect_err("bad");
        let message = error.to_string();
        assert!(message.contains("line 2:"), "{message}");
        assert!(message.contains("two"), "{message}");
        assert!(!message.contains("at line"), "{message}");
        let options = ReadOptions {
            ignore_parse_errors: true,
            ..ReadOptions::default()
        };
        let batches = read_file(contents, FileFormat::Csv { delimiter: b',' }, options)
            .await
            .expect("skipped");
        assert_eq!(ids(&batches), vec!["a", "d"]);
    }

    #[tokio::test]
    async fn csv_null_literal_and_comments() {
        let contents = "# a comment\na,N/A,\n\"b,c\",,2024-01-01 00:00:00\nN/A,3,N/A\n";
        let options = ReadOptions {
            null_literal: Some("N/A".to_string()),
            allow_comments: true,
            ..ReadOptions::default()
        };
        let batches = read_file(contents, FileFormat::Csv { delimiter: b',' }, options)
            .await
            .expect("read");
        assert_eq!(ids(&batches), vec!["a", "b,c", "NULL"]);
        let amounts = batches[0].column(1).as_primitive::<Int64Type>();
        assert!(amounts.is_null(0) && amounts.is_null(1));
        assert_eq!(amounts.value(2), 3);
        assert!(batches[0].column(2).is_null(2));
        let error = read_file(
            contents,
            FileFormat::Csv { delimiter: b',' },
            ReadOptions::default(),
        )
        .await
        .expect_err("comments are data by default");
        assert!(error.to_string().contains("line 1:"), "{error}");
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let error = list_files(Path::new("/nonexistent/runnel/data")).expect_err("missing");
        assert!(error.to_string().contains("/nonexistent/runnel/data"));
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<FileTableOptions, ConnectorError> {
        let entries: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut options = Options::new("filesystem", &entries);
        let _ = options.string("connector");
        let parsed = parse_table_options(&mut options)?;
        options.finish()?;
        Ok(parsed)
    }

    #[test]
    fn table_options() {
        let parsed = parse(&[
            ("connector", "filesystem"),
            ("path", "/data"),
            ("format", "csv"),
            ("csv.field-delimiter", "\\t"),
            ("csv.null-literal", "NULL"),
        ])
        .expect("valid");
        assert_eq!(parsed.format, FileFormat::Csv { delimiter: b'\t' });
        assert_eq!(parsed.read.null_literal.as_deref(), Some("NULL"));
        assert_eq!(parsed.rolling_file_size, DEFAULT_ROLLING_FILE_SIZE);

        let error = parse(&[("format", "json")]).expect_err("no path");
        assert_eq!(
            error.to_string(),
            "connector 'filesystem' requires option 'path'"
        );
        let error = parse(&[
            ("path", "/d"),
            ("format", "json"),
            ("csv.field-delimiter", ";"),
        ])
        .expect_err("csv option with json");
        assert!(
            error
                .to_string()
                .starts_with("unsupported option 'csv.field-delimiter' for connector 'filesystem'; supported options: connector, path, format, sink.rolling-policy.file-size, json.ignore-parse-errors"),
            "{error}"
        );
        let error = parse(&[
            ("path", "/d"),
            ("format", "json"),
            ("json.timestamp-format.standard", "iso"),
        ])
        .expect_err("bad standard");
        assert_eq!(
            error.to_string(),
            "invalid value 'iso' for option 'json.timestamp-format.standard': expected one of: 'SQL', 'ISO-8601'"
        );
        assert!(
            parse(&[
                ("path", "/d"),
                ("format", "csv"),
                ("csv.field-delimiter", ";;")
            ])
            .is_err()
        );
        assert!(
            parse(&[
                ("path", "/d"),
                ("format", "json"),
                ("json.ignore-parse-errors", "true"),
                ("json.fail-on-missing-field", "true"),
            ])
            .is_err()
        );
        assert!(parse(&[("path", "/d"), ("format", "parquet")]).is_err());
    }
}
