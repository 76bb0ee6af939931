//! Where a bare `SELECT` of a pipeline file prints its rows: stdout as CSV (header line, then
//! rows as they are emitted), JSON lines, or an aligned table (printed when the input ends).

use std::io::Write;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::json::LineDelimitedWriter;
use datafusion::arrow::util::pretty::pretty_format_batches;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::SinkWriter;

/// Output formats of `runnel run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// CSV with a header line.
    Csv,
    /// One JSON object per row.
    Json,
    /// An aligned table, printed at the end of the input.
    Table,
}

/// Writes a query's rows to a `Write` (stdout in `runnel run`, a buffer in tests).
pub struct ResultWriter<W: Write + Send> {
    format: OutputFormat,
    out: W,
    header_written: bool,
    buffered: Vec<RecordBatch>,
}

impl<W: Write + Send> ResultWriter<W> {
    /// A writer in `format` to `out`.
    pub fn new(format: OutputFormat, out: W) -> Self {
        ResultWriter {
            format,
            out,
            header_written: false,
            buffered: Vec::new(),
        }
    }

    fn io(error: impl std::fmt::Display) -> StreamError {
        StreamError::Source(format!("cannot write results: {error}"))
    }

    /// Writes a CSV header for `schema` if nothing was written yet (so an empty result still
    /// has its header line).
    pub fn header(
        &mut self,
        schema: &datafusion::arrow::datatypes::Schema,
    ) -> Result<(), StreamError> {
        if self.format == OutputFormat::Csv && !self.header_written {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            writeln!(self.out, "{}", names.join(",")).map_err(Self::io)?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Consumes the writer, returning the output.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[async_trait]
impl<W: Write + Send> SinkWriter for ResultWriter<W> {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError> {
        match self.format {
            OutputFormat::Csv => {
                self.header(&batch.schema())?;
                let mut writer = CsvWriterBuilder::new()
                    .with_header(false)
                    .with_timestamp_format("%Y-%m-%d %H:%M:%S%.3f".to_string())
                    .build(&mut self.out);
                writer.write(&batch)?;
            }
            OutputFormat::Json => {
                let mut writer = LineDelimitedWriter::new(&mut self.out);
                writer.write(&batch)?;
                writer.finish()?;
            }
            OutputFormat::Table => self.buffered.push(batch),
        }
        Ok(())
    }

    async fn on_watermark(&mut self, _watermark: i64) -> Result<(), StreamError> {
        self.out.flush().map_err(Self::io)
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        if self.format == OutputFormat::Table {
            let table = pretty_format_batches(&self.buffered)?;
            writeln!(self.out, "{table}").map_err(Self::io)?;
            self.buffered.clear();
        }
        self.out.flush().map_err(Self::io)
    }
}
