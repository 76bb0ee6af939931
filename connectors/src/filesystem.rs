//! The `filesystem` source: a file, or every file of a directory, in `json` (one object per
//! line) or `csv` format. Bounded: each file is one split that ends at the end of the file.
//!
//! Files are parsed by Arrow's JSON and CSV decoders on a blocking thread, which hands batches
//! to the split reader over a small bounded channel (backpressure reaches the disk reads).
//!
//! Lines are read in chunks of up to [`FILE_BATCH_SIZE`] records, decoded by
//! [`RecordDecoder`]: a bad line is reported with its line number, or, with
//! `json.ignore-parse-errors` / `csv.ignore-parse-errors`, skipped and counted.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::source::SplitReader;
use tokio::sync::mpsc;

use crate::codec::decode::{Chunk, RecordDecoder};
use crate::codec::{FormatSpec, parse_format};
pub use crate::codec::{ReadOptions, RecordFormat, TimestampStandard};
use crate::error::ConnectorError;
use crate::options::{Options, invalid};

/// The options of a `filesystem` table, shared by its source and its sink (a table can be read
/// and written, so either side accepts the other's options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTableOptions {
    /// `path`: a file or directory to read; the directory to write to.
    pub path: PathBuf,
    /// `format` and `csv.field-delimiter`.
    pub format: RecordFormat,
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
    let FormatSpec {
        format,
        read,
        timestamp_standard,
    } = parse_format(options, "format", format_name, "", &["json", "csv"])?;
    Ok(FileTableOptions {
        path: PathBuf::from(path),
        format,
        read,
        timestamp_standard,
        rolling_file_size,
    })
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
    format: &RecordFormat,
    schema: SchemaRef,
) -> Result<Vec<Box<dyn SplitReader>>, StreamError> {
    file_splits_with_options(path, format, &ReadOptions::default(), schema)
}

/// One split per file under `path`, read with `options`.
pub fn file_splits_with_options(
    path: &Path,
    format: &RecordFormat,
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
    format: RecordFormat,
    options: ReadOptions,
    schema: SchemaRef,
    skipped: Arc<AtomicU64>,
    /// Where reading starts (or resumed): byte offset and lines before it.
    start: FilePosition,
    /// Where the rows returned so far end.
    position: FilePosition,
    batches: Option<mpsc::Receiver<Result<(RecordBatch, FilePosition), StreamError>>>,
}

/// A place in a file: the byte offset of a line start, and how many lines come before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilePosition {
    /// Byte offset.
    pub offset: u64,
    /// Lines before the offset (for line numbers in error messages).
    pub line: u64,
}

impl FileSplitReader {
    /// A reader of `path` with the default read options; the file is opened on the first
    /// `next_batch`.
    pub fn new(path: PathBuf, format: RecordFormat, schema: SchemaRef) -> Self {
        Self::with_options(path, format, ReadOptions::default(), schema)
    }

    /// A reader of `path`; the file is opened on the first `next_batch`.
    pub fn with_options(
        path: PathBuf,
        format: RecordFormat,
        options: ReadOptions,
        schema: SchemaRef,
    ) -> Self {
        FileSplitReader {
            path,
            format,
            options,
            schema,
            skipped: Arc::default(),
            start: FilePosition::default(),
            position: FilePosition::default(),
            batches: None,
        }
    }

    /// Resumes where a checkpointed position of this file (in `positions`, see
    /// [`SplitReader::position`]) says; from the start when it has none.
    pub fn resuming(mut self, positions: Option<&std::collections::BTreeMap<String, i64>>) -> Self {
        if let Some(positions) = positions {
            let (offset_key, line_key) = self.position_keys();
            let offset = positions.get(&offset_key).copied().unwrap_or(0).max(0) as u64;
            let line = positions.get(&line_key).copied().unwrap_or(0).max(0) as u64;
            self.start = FilePosition { offset, line };
            self.position = self.start;
        }
        self
    }

    fn position_keys(&self) -> (String, String) {
        let path = self.path.display();
        (format!("file:{path}"), format!("line:{path}"))
    }

    /// Counts the lines skipped as malformed (`ignore-parse-errors`) into `skipped`.
    pub fn counting_skipped(mut self, skipped: Arc<AtomicU64>) -> Self {
        self.skipped = skipped;
        self
    }

    fn start(&self) -> mpsc::Receiver<Result<(RecordBatch, FilePosition), StreamError>> {
        let (sender, receiver) = mpsc::channel(2);
        let start = self.start;
        let path = self.path.clone();
        let format = self.format.clone();
        let options = self.options.clone();
        let schema = self.schema.clone();
        let skipped = self.skipped.clone();
        tokio::task::spawn_blocking(move || {
            let result = FileDecoder::new(&path, format, options, schema, skipped)
                .and_then(|decoder| decoder.run(start, &sender));
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
        let next = match self.batches.as_mut() {
            Some(batches) => batches.recv().await.transpose()?,
            None => None,
        };
        Ok(next.map(|(batch, position)| {
            self.position = position;
            batch
        }))
    }

    fn position(&self) -> Vec<(String, i64)> {
        let (offset_key, line_key) = self.position_keys();
        vec![
            (offset_key, self.position.offset as i64),
            (line_key, self.position.line as i64),
        ]
    }
}

/// Reads one file on a blocking thread.
struct FileDecoder {
    path: PathBuf,
    format: RecordFormat,
    options: ReadOptions,
    decoder: RecordDecoder,
    skipped: Arc<AtomicU64>,
}

impl FileDecoder {
    fn new(
        path: &Path,
        format: RecordFormat,
        options: ReadOptions,
        schema: SchemaRef,
        skipped: Arc<AtomicU64>,
    ) -> Result<Self, StreamError> {
        let decoder = RecordDecoder::new(&format, &options, schema, FILE_BATCH_SIZE)
            .map_err(|e| StreamError::Source(format!("file {}: {e}", path.display())))?;
        Ok(FileDecoder {
            path: path.to_path_buf(),
            format,
            options,
            decoder,
            skipped,
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
        start: FilePosition,
        sender: &mpsc::Sender<Result<(RecordBatch, FilePosition), StreamError>>,
    ) -> Result<(), StreamError> {
        let io_error =
            |e: std::io::Error| StreamError::Source(format!("file {}: {e}", self.path.display()));
        let mut file = File::open(&self.path).map_err(io_error)?;
        if start.offset > 0 {
            use std::io::{Seek, SeekFrom};
            file.seek(SeekFrom::Start(start.offset)).map_err(io_error)?;
        }
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let is_json = self.format == RecordFormat::Json;
        let mut line_number = start.line;
        let mut offset = start.offset;
        let mut skipped = 0u64;
        let mut first_skipped: Option<(u64, String)> = None;
        let mut chunk = Chunk::default();
        // The line number of each record of the chunk.
        let mut numbers = Vec::with_capacity(FILE_BATCH_SIZE);
        let mut bad = Vec::new();
        loop {
            chunk.clear();
            numbers.clear();
            let mut eof = false;
            while chunk.len() < FILE_BATCH_SIZE {
                let start = chunk.bytes_mut().len();
                let read = reader
                    .read_until(b'\n', chunk.bytes_mut())
                    .map_err(io_error)?;
                if read == 0 {
                    eof = true;
                    break;
                }
                offset += read as u64;
                line_number += 1;
                let line = &chunk.bytes_mut()[start..];
                let skip = if is_json {
                    line.iter().all(u8::is_ascii_whitespace)
                } else {
                    line == b"\n"
                        || line == b"\r\n"
                        || (self.options.allow_comments && line.first() == Some(&b'#'))
                };
                if skip {
                    chunk.bytes_mut().truncate(start);
                    continue;
                }
                chunk.end_record(start);
                numbers.push(line_number);
            }
            if !chunk.is_empty() {
                bad.clear();
                let batch = self
                    .decoder
                    .decode(&chunk, &mut bad)
                    .map_err(|e| self.error_at(numbers[e.index], e.message))?;
                if let Some(first) = bad.first()
                    && first_skipped.is_none()
                {
                    first_skipped = Some((numbers[first.index], first.message.clone()));
                }
                skipped += bad.len() as u64;
                self.skipped.fetch_add(bad.len() as u64, Ordering::Relaxed);
                let position = FilePosition {
                    offset,
                    line: line_number,
                };
                if let Some(batch) = batch
                    && batch.num_rows() > 0
                    && sender.blocking_send(Ok((batch, position))).is_err()
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
        format: RecordFormat,
        options: ReadOptions,
    ) -> Result<Vec<RecordBatch>, StreamError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("data.txt");
        std::fs::write(&file, contents).expect("write");
        let splits = file_splits_with_options(&file, &format, &options, schema()).expect("splits");
        read_all(splits).await
    }

    #[tokio::test]
    async fn a_file_resumed_at_its_position_reads_the_rest_with_the_right_line_numbers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("data.jsonl");
        let mut text = String::new();
        for i in 1..=5000 {
            text.push_str(&format!("{{\"id\": \"r{i}\", \"amount\": {i}}}\n"));
        }
        std::fs::write(&file, &text).expect("write");
        let reader = || FileSplitReader::new(file.clone(), RecordFormat::Json, schema());
        let mut split = reader();
        let first = split.next_batch().await.expect("read").expect("a batch");
        let position: std::collections::BTreeMap<String, i64> =
            split.position().into_iter().collect();
        let resumed = read_all(vec![Box::new(reader().resuming(Some(&position)))])
            .await
            .expect("read");
        let expected: Vec<String> = (first.num_rows() + 1..=5000)
            .map(|i| format!("r{i}"))
            .collect();
        assert_eq!(ids(&resumed), expected);

        // A bad line after the resume point is reported with its line in the whole file.
        std::fs::write(&file, format!("{text}not json\n")).expect("write");
        let error = read_all(vec![Box::new(reader().resuming(Some(&position)))])
            .await
            .expect_err("malformed");
        assert!(error.to_string().contains("line 5001:"), "{error}");
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
        let splits = file_splits(dir.path(), &RecordFormat::Json, schema()).expect("splits");
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
            file_splits(&file, &RecordFormat::Csv { delimiter: b';' }, schema()).expect("splits");
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
        let splits = file_splits(&file, &RecordFormat::Json, schema()).expect("splits");
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
        let error = read_file(&contents, RecordFormat::Json, ReadOptions::default())
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
        let batches = read_file(&contents, RecordFormat::Json, options)
            .await
            .expect("bad lines skipped");
        assert_eq!(ids(&batches), expected);
    }

    #[tokio::test]
    async fn two_objects_on_one_line_are_a_parse_error() {
        let error = read_file(
            "{\"id\": \"a\"}\n{\"id\": \"b\"} {\"id\": \"c\"}\n",
            RecordFormat::Json,
            ReadOptions::default(),
        )
        .await
        .expect_err("two objects");
        let message = error.to_string();
        assert!(message.contains("line 2:"), "{message}");
        assert!(message.contains("one JSON object per record"), "{message}");
    }

    #[tokio::test]
    async fn fail_on_missing_field_tells_missing_from_null() {
        let options = ReadOptions {
            fail_on_missing_field: true,
            ..ReadOptions::default()
        };
        let batches = read_file(
            "{\"id\": \"a\", \"amount\": null, \"ts\": null}\n",
            RecordFormat::Json,
            options.clone(),
        )
        .await
        .expect("explicit nulls are fine");
        assert_eq!(batches[0].num_rows(), 1);
        let error = read_file(
            "{\"id\": \"a\", \"amount\": 1, \"ts\": null}\n{\"id\": \"b\", \"ts\": null}\n",
            RecordFormat::Json,
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
        let batches = read_file("{\"id\": 42}\n", RecordFormat::Json, ReadOptions::default())
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
            RecordFormat::Csv { delimiter: b',' },
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
        let batches = read_file(contents, RecordFormat::Csv { delimiter: b',' }, options)
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
        let batches = read_file(contents, RecordFormat::Csv { delimiter: b',' }, options)
            .await
            .expect("read");
        assert_eq!(ids(&batches), vec!["a", "b,c", "NULL"]);
        let amounts = batches[0].column(1).as_primitive::<Int64Type>();
        assert!(amounts.is_null(0) && amounts.is_null(1));
        assert_eq!(amounts.value(2), 3);
        assert!(batches[0].column(2).is_null(2));
        let error = read_file(
            contents,
            RecordFormat::Csv { delimiter: b',' },
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
        assert_eq!(parsed.format, RecordFormat::Csv { delimiter: b'\t' });
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
