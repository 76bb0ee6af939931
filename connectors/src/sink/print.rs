//! The `print` sink: each row on standard output (or standard error) as Flink prints it,
//! `+I[v1, v2, null]`, prefixed by `<print-identifier>> ` when the option is set.

use std::io::Write;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::SinkWriter;

use super::format::{Cell, Style};

/// Writes the rows of `batch` to `out`, one line each: `[identifier> ]+I[v1, v2, ...]`.
/// Values are rendered like Java's `toString` (as Flink's print connector shows them): NULL as
/// `null`, strings as they are, timestamps as `2024-01-01T00:05:00[.SSS]` (with `Z` for
/// TIMESTAMP_LTZ), floats as `1.0` / `1.0E10`, decimals with their scale (`12.30`).
pub fn write_rows<W: Write + ?Sized>(
    out: &mut W,
    identifier: Option<&str>,
    batch: &RecordBatch,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    format_rows(&mut buffer, identifier, batch).map_err(std::io::Error::other)?;
    out.write_all(&buffer)
}

fn format_rows(
    buffer: &mut Vec<u8>,
    identifier: Option<&str>,
    batch: &RecordBatch,
) -> Result<(), datafusion::arrow::error::ArrowError> {
    let cells = batch
        .columns()
        .iter()
        .map(Cell::new)
        .collect::<Result<Vec<_>, _>>()?;
    let mut scratch = String::new();
    for row in 0..batch.num_rows() {
        if let Some(identifier) = identifier {
            buffer.extend_from_slice(identifier.as_bytes());
            buffer.extend_from_slice(b"> ");
        }
        buffer.extend_from_slice(b"+I[");
        for (index, cell) in cells.iter().enumerate() {
            if index > 0 {
                buffer.extend_from_slice(b", ");
            }
            if cell.is_null(row) {
                buffer.extend_from_slice(b"null");
            } else {
                cell.write(row, Style::Print, buffer, &mut scratch);
            }
        }
        buffer.extend_from_slice(b"]\n");
    }
    Ok(())
}

/// Prints rows to standard output or standard error.
#[derive(Debug)]
pub struct PrintSink {
    identifier: Option<String>,
    standard_error: bool,
    buffer: Vec<u8>,
}

impl PrintSink {
    /// A sink printing with `identifier` as prefix, to stderr when `standard_error`.
    pub fn new(identifier: Option<String>, standard_error: bool) -> Self {
        PrintSink {
            identifier,
            standard_error,
            buffer: Vec::new(),
        }
    }

    /// Writes `bytes` (whole lines) under the stream's lock, so lines of concurrent print sinks
    /// do not interleave; `flush` also flushes the stream.
    fn emit(&self, bytes: &[u8], flush: bool) -> Result<(), StreamError> {
        let result = if self.standard_error {
            let mut out = std::io::stderr().lock();
            out.write_all(bytes)
                .and_then(|()| if flush { out.flush() } else { Ok(()) })
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| if flush { out.flush() } else { Ok(()) })
        };
        result.map_err(|e| {
            let stream = if self.standard_error {
                "standard error"
            } else {
                "standard output"
            };
            StreamError::Source(format!("print sink: cannot write to {stream}: {e}"))
        })
    }
}

#[async_trait]
impl SinkWriter for PrintSink {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError> {
        self.buffer.clear();
        format_rows(&mut self.buffer, self.identifier.as_deref(), &batch)?;
        self.emit(&self.buffer, false)
    }

    async fn on_watermark(&mut self, _watermark: i64) -> Result<(), StreamError> {
        self.emit(&[], true)
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        self.emit(&[], true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
        StringArray, TimestampMillisecondArray,
    };
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    fn batch() -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![Some(1), None])),
            Arc::new(StringArray::from(vec![Some("a, b"), None])),
            Arc::new(TimestampMillisecondArray::from(vec![
                Some(1_704_067_500_000),
                Some(1_704_067_500_250),
            ])),
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(1_704_067_500_000), None])
                    .with_timezone("+00:00"),
            ),
            Arc::new(Float64Array::from(vec![Some(2.0), Some(1e10)])),
            Arc::new(
                Decimal128Array::from(vec![Some(1230), Some(-5)])
                    .with_precision_and_scale(10, 2)
                    .expect("decimal"),
            ),
            Arc::new(BooleanArray::from(vec![Some(true), Some(false)])),
            Arc::new(Date32Array::from(vec![Some(19_723), None])),
        ];
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        RecordBatch::try_new(schema, columns).expect("batch")
    }

    #[test]
    fn rows_print_as_flink_prints_them() {
        let mut out = Vec::new();
        write_rows(&mut out, None, &batch()).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "+I[1, a, b, 2024-01-01T00:05:00, 2024-01-01T00:05:00Z, 2.0, 12.30, true, 2024-01-01]\n\
             +I[null, null, 2024-01-01T00:05:00.250, null, 1.0E10, -0.05, false, null]\n"
        );
    }

    #[test]
    fn the_identifier_prefixes_each_row() {
        let mut out = Vec::new();
        write_rows(&mut out, Some("orders"), &batch()).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text.lines().count(), 2);
        assert!(
            text.lines().all(|line| line.starts_with("orders> +I[")),
            "{text}"
        );
    }

    #[test]
    fn a_timestamp_column_type_is_kept() {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        let array: ArrayRef = Arc::new(datafusion::arrow::array::TimestampMicrosecondArray::from(
            vec![1_704_067_500_000_001],
        ));
        let schema = Arc::new(Schema::new(vec![Field::new("t", ts, true)]));
        let batch = RecordBatch::try_new(schema, vec![array]).expect("batch");
        let mut out = Vec::new();
        write_rows(&mut out, None, &batch).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "+I[2024-01-01T00:05:00.000001]\n"
        );
    }

    #[tokio::test]
    async fn the_sink_writes_and_flushes() {
        let mut sink = PrintSink::new(Some("test".into()), true);
        sink.write(batch()).await.expect("write");
        sink.on_watermark(0).await.expect("watermark");
        sink.finish().await.expect("finish");
    }
}
