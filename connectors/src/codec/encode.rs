//! Encoding rows as records: Flink's `json` (one object per row), `csv` (one line, no header)
//! and `raw` (the only column's bytes) formats, for the filesystem and Kafka sinks.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use runnel_engine::stream::StreamError;

use super::{FormatSpec, RecordFormat, TimestampStandard};
use crate::sink::format::{Cell, Style, write_json_string};

/// Encodes chosen columns of rows into records, each followed by a line break.
#[derive(Debug, Clone)]
pub struct RowEncoder {
    format: RecordFormat,
    iso_timestamps: bool,
    null_literal: Option<String>,
    /// The columns encoded, in order (indices into the batches' schema).
    columns: Vec<usize>,
    /// `"name":` of each encoded column, JSON-escaped.
    json_keys: Vec<Vec<u8>>,
}

impl RowEncoder {
    /// An encoder of `columns` of rows of `schema` in `spec`'s format. The `raw` format takes
    /// exactly one `STRING` or `BYTES` column.
    pub fn new(spec: &FormatSpec, schema: &SchemaRef, columns: Vec<usize>) -> Result<Self, String> {
        if spec.format == RecordFormat::Raw {
            let [column] = columns.as_slice() else {
                return Err(format!(
                    "the raw format writes exactly one column, not {}",
                    columns.len()
                ));
            };
            let data_type = schema.field(*column).data_type();
            if !matches!(
                data_type,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Binary
            ) {
                return Err(format!(
                    "the raw format writes a STRING or BYTES column, not {data_type}"
                ));
            }
        }
        let json_keys = columns
            .iter()
            .map(|&column| {
                let mut key = Vec::new();
                write_json_string(schema.field(column).name(), &mut key);
                key.push(b':');
                key
            })
            .collect();
        Ok(RowEncoder {
            format: spec.format.clone(),
            iso_timestamps: spec.timestamp_standard == TimestampStandard::Iso8601,
            null_literal: spec.read.null_literal.clone(),
            columns,
            json_keys,
        })
    }

    /// Appends every row of `batch` to `out`, each followed by `\n`, and pushes where each row
    /// ends (after its line break) to `ends`. A NULL `raw` value is written as no bytes and
    /// pushed to `nulls` by row index.
    pub fn encode(
        &self,
        batch: &RecordBatch,
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        nulls: &mut Vec<usize>,
    ) -> Result<(), StreamError> {
        if self.format == RecordFormat::Raw {
            return self.encode_raw(batch, out, ends, nulls);
        }
        let cells = self
            .columns
            .iter()
            .map(|&c| Cell::new(batch.column(c)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut scratch = String::new();
        for row in 0..batch.num_rows() {
            self.encode_row(&cells, row, out, &mut scratch);
            ends.push(out.len());
        }
        Ok(())
    }

    fn encode_row(&self, cells: &[Cell<'_>], row: usize, out: &mut Vec<u8>, scratch: &mut String) {
        match self.format {
            RecordFormat::Json => {
                let style = Style::Json {
                    iso: self.iso_timestamps,
                };
                out.push(b'{');
                for (index, cell) in cells.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&self.json_keys[index]);
                    if cell.is_null(row) {
                        out.extend_from_slice(b"null");
                    } else {
                        cell.write(row, style, out, scratch);
                    }
                }
                out.extend_from_slice(b"}\n");
            }
            RecordFormat::Csv { delimiter } => {
                let style = Style::Csv { delimiter };
                for (index, cell) in cells.iter().enumerate() {
                    if index > 0 {
                        out.push(delimiter);
                    }
                    if cell.is_null(row) {
                        if let Some(literal) = &self.null_literal {
                            out.extend_from_slice(literal.as_bytes());
                        }
                    } else {
                        cell.write(row, style, out, scratch);
                    }
                }
                out.push(b'\n');
            }
            RecordFormat::Raw => {}
        }
    }

    fn encode_raw(
        &self,
        batch: &RecordBatch,
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        nulls: &mut Vec<usize>,
    ) -> Result<(), StreamError> {
        let array = batch.column(self.columns[0]);
        for row in 0..batch.num_rows() {
            if array.is_null(row) {
                nulls.push(row);
            } else {
                match array.data_type() {
                    DataType::Utf8 => {
                        out.extend_from_slice(array.as_string::<i32>().value(row).as_bytes())
                    }
                    DataType::LargeUtf8 => {
                        out.extend_from_slice(array.as_string::<i64>().value(row).as_bytes())
                    }
                    DataType::Utf8View => {
                        out.extend_from_slice(array.as_string_view().value(row).as_bytes())
                    }
                    DataType::Binary => out.extend_from_slice(array.as_binary::<i32>().value(row)),
                    other => {
                        return Err(StreamError::Internal(format!(
                            "the raw format cannot write {other}"
                        )));
                    }
                }
            }
            out.push(b'\n');
            ends.push(out.len());
        }
        Ok(())
    }
}
