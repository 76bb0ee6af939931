//! The `filesystem` sink: rows as JSON lines or header-less CSV in part files of a directory.
//!
//! As in Flink, rows go to a hidden in-progress file, `.part-<uuid>-<n>.inprogress`, which is
//! renamed to `part-<uuid>-<n>.<json|csv>` when it is finished: when it reaches
//! `sink.rolling-policy.file-size` (the next row goes to part `n + 1`) or at the end of input.
//! Readers (including Runnel's filesystem source) skip hidden files, so they only see finished
//! parts. A sink that produced no rows leaves no file. A cancelled job leaves its in-progress
//! file behind.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::SinkWriter;
use tokio::io::AsyncWriteExt;

use crate::codec::encode::RowEncoder;
use crate::codec::{FormatSpec, RecordFormat};
use crate::filesystem::FileTableOptions;

/// Writes part files into a directory.
#[derive(Debug)]
pub struct FileSink {
    directory: PathBuf,
    format: RecordFormat,
    encoder: RowEncoder,
    schema: SchemaRef,
    rolling_file_size: u64,
    uuid: String,
    next_part: u64,
    current: Option<PartFile>,
    buffer: Vec<u8>,
}

#[derive(Debug)]
struct PartFile {
    file: tokio::fs::File,
    in_progress: PathBuf,
    finished: PathBuf,
    size: u64,
}

impl FileSink {
    /// A sink writing rows of `schema` into `options.path` (which must exist as a directory).
    pub fn new(options: &FileTableOptions, schema: SchemaRef) -> Result<Self, String> {
        let spec = FormatSpec {
            format: options.format.clone(),
            read: options.read.clone(),
            timestamp_standard: options.timestamp_standard,
        };
        let encoder = RowEncoder::new(&spec, &schema, (0..schema.fields().len()).collect())?;
        Ok(FileSink {
            directory: options.path.clone(),
            format: options.format.clone(),
            encoder,
            schema,
            rolling_file_size: options.rolling_file_size,
            uuid: uuid::Uuid::new_v4().to_string(),
            next_part: 0,
            current: None,
            buffer: Vec::new(),
        })
    }

    fn error(&self, path: &Path, action: &str, error: std::io::Error) -> StreamError {
        StreamError::Source(format!(
            "filesystem sink: cannot {action} {}: {error}",
            path.display()
        ))
    }

    async fn open_part(&mut self) -> Result<(), StreamError> {
        let part = self.next_part;
        self.next_part += 1;
        let in_progress = self
            .directory
            .join(format!(".part-{}-{part}.inprogress", self.uuid));
        let finished =
            self.directory
                .join(format!("part-{}-{part}.{}", self.uuid, self.format.name()));
        let file = tokio::fs::File::create(&in_progress)
            .await
            .map_err(|e| self.error(&in_progress, "create", e))?;
        self.current = Some(PartFile {
            file,
            in_progress,
            finished,
            size: 0,
        });
        Ok(())
    }

    /// Writes `self.buffer[range]` (whole rows) to the current part file (opened if needed).
    async fn write_bytes(&mut self, range: std::ops::Range<usize>) -> Result<(), StreamError> {
        if range.is_empty() {
            return Ok(());
        }
        if self.current.is_none() {
            self.open_part().await?;
        }
        if let Some(part) = self.current.as_mut() {
            if let Err(e) = part.file.write_all(&self.buffer[range.clone()]).await {
                let path = part.in_progress.clone();
                return Err(self.error(&path, "write", e));
            }
            part.size += range.len() as u64;
        }
        Ok(())
    }

    /// Flushes, closes and renames the current part file.
    async fn finish_part(&mut self) -> Result<(), StreamError> {
        let Some(mut part) = self.current.take() else {
            return Ok(());
        };
        if let Err(e) = part.file.flush().await {
            return Err(self.error(&part.in_progress, "write", e));
        }
        if let Err(e) = part.file.sync_all().await {
            return Err(self.error(&part.in_progress, "sync", e));
        }
        drop(part.file);
        tokio::fs::rename(&part.in_progress, &part.finished)
            .await
            .map_err(|e| self.error(&part.finished, "rename to", e))
    }

    /// Encodes the rows of `batch` into the buffer; returns where each row ends.
    fn encode(&mut self, batch: &RecordBatch) -> Result<Vec<usize>, StreamError> {
        let mut ends = Vec::with_capacity(batch.num_rows());
        let mut nulls = Vec::new();
        self.encoder
            .encode(batch, &mut self.buffer, &mut ends, &mut nulls)?;
        Ok(ends)
    }
}

#[async_trait]
impl SinkWriter for FileSink {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError> {
        if batch.num_columns() != self.schema.fields().len() {
            return Err(StreamError::Internal(format!(
                "filesystem sink: a batch of {} columns for a table of {}",
                batch.num_columns(),
                self.schema.fields().len()
            )));
        }
        self.buffer.clear();
        let row_ends = self.encode(&batch)?;
        // A part is finished by the row that makes it reach the rolling size.
        let mut start = 0;
        for end in row_ends {
            let size = self.current.as_ref().map_or(0, |part| part.size);
            if size + (end - start) as u64 >= self.rolling_file_size {
                self.write_bytes(start..end).await?;
                self.finish_part().await?;
                start = end;
            }
        }
        self.write_bytes(start..self.buffer.len()).await
    }

    async fn on_watermark(&mut self, _watermark: i64) -> Result<(), StreamError> {
        if let Some(part) = self.current.as_mut()
            && let Err(e) = part.file.flush().await
        {
            let path = part.in_progress.clone();
            return Err(self.error(&path, "write", e));
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        self.finish_part().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, Decimal128Array, Float64Array, Int64Array, StringArray, TimestampMillisecondArray,
    };
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use crate::filesystem::{
        DEFAULT_ROLLING_FILE_SIZE, ReadOptions, TimestampStandard, file_splits_with_options,
    };

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("amount", DataType::Int64, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
                true,
            ),
            Field::new("price", DataType::Decimal128(10, 2), true),
            Field::new("ratio", DataType::Float64, true),
        ]))
    }

    fn batch() -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![Some("a\"1"), Some("b,2"), None])),
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(TimestampMillisecondArray::from(vec![
                Some(1_704_067_500_000),
                Some(1_704_067_500_120),
                None,
            ])),
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(1_704_067_500_000), None, None])
                    .with_timezone("+00:00"),
            ),
            Arc::new(
                Decimal128Array::from(vec![Some(1230), Some(-5), None])
                    .with_precision_and_scale(10, 2)
                    .expect("decimal"),
            ),
            Arc::new(Float64Array::from(vec![Some(0.5), Some(f64::NAN), None])),
        ];
        RecordBatch::try_new(schema(), columns).expect("batch")
    }

    fn options(dir: &Path, format: RecordFormat) -> FileTableOptions {
        FileTableOptions {
            path: dir.to_path_buf(),
            format,
            read: ReadOptions::default(),
            timestamp_standard: TimestampStandard::Sql,
            rolling_file_size: DEFAULT_ROLLING_FILE_SIZE,
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn json_rows_go_to_an_in_progress_file_renamed_on_finish() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        let mut sink = FileSink::new(&options(&out, RecordFormat::Json), schema()).expect("sink");
        sink.write(batch()).await.expect("write");
        sink.on_watermark(1).await.expect("watermark");
        let during = files(&out);
        assert_eq!(during.len(), 1);
        assert!(
            during[0].starts_with(".part-") && during[0].ends_with("-0.inprogress"),
            "{during:?}"
        );
        sink.finish().await.expect("finish");
        let after = files(&out);
        assert_eq!(after.len(), 1);
        assert!(
            after[0].starts_with("part-") && after[0].ends_with("-0.json"),
            "{after:?}"
        );
        let text = std::fs::read_to_string(out.join(&after[0])).expect("read");
        assert_eq!(
            text,
            "{\"id\":\"a\\\"1\",\"amount\":1,\"ts\":\"2024-01-01 00:05:00\",\"at\":\"2024-01-01 00:05:00Z\",\"price\":12.30,\"ratio\":0.5}\n\
             {\"id\":\"b,2\",\"amount\":null,\"ts\":\"2024-01-01 00:05:00.12\",\"at\":null,\"price\":-0.05,\"ratio\":\"NaN\"}\n\
             {\"id\":null,\"amount\":3,\"ts\":null,\"at\":null,\"price\":null,\"ratio\":null}\n"
        );
    }

    #[tokio::test]
    async fn iso_timestamps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut options = options(dir.path(), RecordFormat::Json);
        options.timestamp_standard = TimestampStandard::Iso8601;
        let mut sink = FileSink::new(&options, schema()).expect("sink");
        sink.write(batch()).await.expect("write");
        sink.finish().await.expect("finish");
        let name = &files(dir.path())[0];
        let text = std::fs::read_to_string(dir.path().join(name)).expect("read");
        assert!(
            text.contains("\"ts\":\"2024-01-01T00:05:00\",\"at\":\"2024-01-01T00:05:00Z\""),
            "{text}"
        );
    }

    #[tokio::test]
    async fn csv_rows_read_back_through_the_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let format = RecordFormat::Csv { delimiter: b';' };
        let mut sink = FileSink::new(&options(dir.path(), format.clone()), schema()).expect("sink");
        sink.write(batch()).await.expect("write");
        sink.finish().await.expect("finish");
        let name = &files(dir.path())[0];
        assert!(name.ends_with("-0.csv"), "{name}");
        let text = std::fs::read_to_string(dir.path().join(name)).expect("read");
        assert_eq!(
            text,
            "\"a\"\"1\";1;2024-01-01 00:05:00;2024-01-01 00:05:00Z;12.30;0.5\n\
             b,2;;2024-01-01 00:05:00.12;;-0.05;NaN\n\
             ;3;;;;\n"
        );
        let splits =
            file_splits_with_options(dir.path(), &format, &ReadOptions::default(), schema())
                .expect("splits");
        let mut read = Vec::new();
        for mut split in splits {
            while let Some(batch) = split.next_batch().await.expect("read back") {
                read.push(batch);
            }
        }
        assert_eq!(read.len(), 1);
        let expected = batch();
        let actual = &read[0];
        for column in [0, 1, 2, 3, 4] {
            assert_eq!(
                actual.column(column),
                expected.column(column),
                "column {column}"
            );
        }
    }

    #[tokio::test]
    async fn json_rows_read_back_through_the_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sink =
            FileSink::new(&options(dir.path(), RecordFormat::Json), schema()).expect("sink");
        sink.write(batch()).await.expect("write");
        sink.finish().await.expect("finish");
        let splits = file_splits_with_options(
            dir.path(),
            &RecordFormat::Json,
            &ReadOptions::default(),
            schema(),
        )
        .expect("splits");
        let mut read = Vec::new();
        for mut split in splits {
            while let Some(batch) = split.next_batch().await.expect("read back") {
                read.push(batch);
            }
        }
        let expected = batch();
        for column in [0, 1, 2, 3, 4] {
            assert_eq!(
                read[0].column(column),
                expected.column(column),
                "column {column}"
            );
        }
    }

    #[tokio::test]
    async fn parts_roll_at_the_file_size_and_no_rows_leave_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut options = options(dir.path(), RecordFormat::Csv { delimiter: b',' });
        options.rolling_file_size = 100;
        let mut sink = FileSink::new(&options, schema()).expect("sink");
        for _ in 0..4 {
            sink.write(batch()).await.expect("write");
        }
        sink.finish().await.expect("finish");
        let names = files(dir.path());
        assert!(names.len() > 1, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("part-") && n.ends_with(".csv"))
        );
        let mut total = 0;
        for name in &names {
            let size = std::fs::metadata(dir.path().join(name))
                .expect("stat")
                .len();
            let text = std::fs::read_to_string(dir.path().join(name)).expect("read");
            total += text.lines().count();
            // Each part but the last reached the limit with its last row.
            assert!(size < 100 + 60, "{name}: {size}");
        }
        assert_eq!(total, 12);

        let empty = tempfile::tempdir().expect("tempdir");
        let mut sink = FileSink::new(&self::options(empty.path(), RecordFormat::Json), schema())
            .expect("sink");
        sink.finish().await.expect("finish");
        assert!(files(empty.path()).is_empty());
    }
}
