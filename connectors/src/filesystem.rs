//! The `filesystem` source: a file, or every file of a directory, in `json` (one object per
//! line) or `csv` format. Bounded: each file is one split that ends at the end of the file.
//!
//! Files are parsed by Arrow's JSON and CSV readers on a blocking thread, which hands batches to
//! the split reader over a small bounded channel (backpressure reaches the disk reads).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::ReaderBuilder as CsvReaderBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::ReaderBuilder as JsonReaderBuilder;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::source::SplitReader;
use tokio::sync::mpsc;

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
    Ok(list_files(path)?
        .into_iter()
        .map(|file| {
            Box::new(FileSplitReader::new(file, format.clone(), schema.clone()))
                as Box<dyn SplitReader>
        })
        .collect())
}

/// Reads one file.
#[derive(Debug)]
pub struct FileSplitReader {
    path: PathBuf,
    format: FileFormat,
    schema: SchemaRef,
    batches: Option<mpsc::Receiver<Result<RecordBatch, StreamError>>>,
}

impl FileSplitReader {
    /// A reader of `path`; the file is opened on the first `next_batch`.
    pub fn new(path: PathBuf, format: FileFormat, schema: SchemaRef) -> Self {
        FileSplitReader {
            path,
            format,
            schema,
            batches: None,
        }
    }

    fn start(&self) -> mpsc::Receiver<Result<RecordBatch, StreamError>> {
        let (sender, receiver) = mpsc::channel(2);
        let path = self.path.clone();
        let format = self.format.clone();
        let schema = self.schema.clone();
        tokio::task::spawn_blocking(move || {
            let context = |e: &dyn std::fmt::Display| {
                StreamError::Source(format!("file {}: {e}", path.display()))
            };
            let file = match File::open(&path) {
                Ok(file) => BufReader::new(file),
                Err(e) => {
                    let _ = sender.blocking_send(Err(context(&e)));
                    return;
                }
            };
            type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>>;
            let reader: Result<Batches, ArrowError> = match format {
                FileFormat::Json => JsonReaderBuilder::new(schema)
                    .with_batch_size(FILE_BATCH_SIZE)
                    .build(file)
                    .map(|reader| Box::new(reader) as Batches),
                FileFormat::Csv { delimiter } => CsvReaderBuilder::new(schema)
                    .with_header(false)
                    .with_delimiter(delimiter)
                    .with_batch_size(FILE_BATCH_SIZE)
                    .build(file)
                    .map(|reader| Box::new(reader) as Batches),
            };
            let batches = match reader {
                Ok(batches) => batches,
                Err(e) => {
                    let _ = sender.blocking_send(Err(context(&e)));
                    return;
                }
            };
            for batch in batches {
                let failed = batch.is_err();
                if sender
                    .blocking_send(batch.map_err(|e| context(&e)))
                    .is_err()
                    || failed
                {
                    return;
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
        let ids: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let ids = b.column(0).as_string::<i32>();
                (0..ids.len())
                    .map(|i| ids.value(i).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(ids, vec!["a1", "a2", "b1"]);
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

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let error = list_files(Path::new("/nonexistent/runnel/data")).expect_err("missing");
        assert!(error.to_string().contains("/nonexistent/runnel/data"));
    }
}
