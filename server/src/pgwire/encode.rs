//! Arrow results to PostgreSQL rows, in text or binary format, with correct type OIDs.
//!
//! Value encoding is `arrow-pg`'s; Runnel adds the types Arrow cannot name on its own (JSON
//! columns are UTF-8 tagged with [`PG_TYPE_KEY`]), cancellation of a running result stream, and
//! `COPY ... TO STDOUT`.

use std::error::Error;
use std::sync::Arc;

use arrow_pg::encoder::{Encoder, encode_value};
use bytes::{BufMut, Bytes, BytesMut};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, FieldRef, Schema};
use datafusion::execution::SendableRecordBatchStream;
use futures::{Stream, StreamExt};
use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::{
    CopyCsvOptions, CopyEncoder, CopyTextOptions, DataRowEncoder, FieldFormat, FieldInfo,
};
use pgwire::error::PgWireResult;
use pgwire::messages::copy::CopyData;
use pgwire::messages::data::DataRow;
use pgwire::types::ToSqlText;
use pgwire::types::format::FormatOptions;
use postgres_types::{IsNull, ToSql, to_sql_checked};
use runnel_sql::SqlError;
use runnel_sql::types::PG_TYPE_KEY;
use tokio_util::sync::CancellationToken;

use super::error::{canceled, to_pgwire};
use super::text;
use crate::session::{CopyFormat, CopyOptions, Session};

/// The PostgreSQL type of a result column.
pub fn pg_type(field: &FieldRef) -> PgWireResult<Type> {
    match field.metadata().get(PG_TYPE_KEY).map(String::as_str) {
        Some("json") => Ok(Type::JSON),
        Some("jsonb") => Ok(Type::JSONB),
        _ => arrow_pg::datatypes::field_into_pg_type(field),
    }
}

/// Row description of `schema` in `format`.
pub fn fields(
    schema: &Schema,
    format: &Format,
    options: Option<Arc<FormatOptions>>,
) -> PgWireResult<Vec<FieldInfo>> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let mut info = FieldInfo::new(
                field.name().clone(),
                None,
                None,
                pg_type(field)?,
                format.format_for(index),
            );
            if let Some(options) = &options {
                info = info.with_format_options(options.clone());
            }
            Ok(info)
        })
        .collect()
}

/// A JSON value held as text: text format is the text, binary `jsonb` prefixes version 1.
#[derive(Debug)]
struct JsonText<'a>(&'a str);

impl ToSql for JsonText<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        if *ty == Type::JSONB {
            out.put_u8(1);
        }
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::JSONB)
    }

    to_sql_checked!();
}

impl ToSqlText for JsonText<'_> {
    fn to_sql_text(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
        _options: &FormatOptions,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
}

/// Encodes row `row` of `batch` into `encoder`.
fn encode_row<E: Encoder>(
    encoder: &mut E,
    batch: &RecordBatch,
    row: usize,
    fields: &[FieldInfo],
) -> PgWireResult<()> {
    let schema = batch.schema();
    for (column, pg_field) in fields.iter().enumerate() {
        let array = batch.column(column);
        let field = schema.field(column);
        if matches!(*pg_field.datatype(), Type::JSON | Type::JSONB) {
            let value = match field.data_type() {
                DataType::Utf8 => {
                    (!array.is_null(row)).then(|| array.as_string::<i32>().value(row))
                }
                DataType::LargeUtf8 => {
                    (!array.is_null(row)).then(|| array.as_string::<i64>().value(row))
                }
                DataType::Utf8View => {
                    (!array.is_null(row)).then(|| array.as_string_view().value(row))
                }
                _ => None,
            };
            encoder.encode_field(&value.map(JsonText), pg_field)?;
        } else if pg_field.format() == FieldFormat::Text && text::handles(field.data_type()) {
            let value = text::format(array, row, &pg_field.format_options().time_zone);
            encoder.encode_field(&value, pg_field)?;
        } else {
            encode_value(encoder, array, row, field, pg_field)?;
        }
    }
    Ok(())
}

/// Rows of a result stream as `DataRow`s. Stops with `57014` when `cancel` fires and marks the
/// session's transaction failed on any error.
pub fn data_rows(
    fields: Arc<Vec<FieldInfo>>,
    stream: SendableRecordBatchStream,
    cancel: CancellationToken,
    session: Arc<Session>,
) -> impl Stream<Item = PgWireResult<DataRow>> + Send + 'static {
    batches_until_cancelled(stream, cancel, session)
        .map(move |batch| -> Vec<PgWireResult<DataRow>> {
            match batch {
                Ok(batch) => {
                    let mut encoder = DataRowEncoder::new(fields.clone());
                    let mut rows = Vec::with_capacity(batch.num_rows());
                    for row in 0..batch.num_rows() {
                        match encode_row(&mut encoder, &batch, row, &fields) {
                            Ok(()) => rows.push(Ok(encoder.take_row())),
                            Err(error) => {
                                rows.push(Err(error));
                                break;
                            }
                        }
                    }
                    rows
                }
                Err(error) => vec![Err(error)],
            }
        })
        .flat_map(futures::stream::iter)
}

/// The batches of `stream`, ending with a `57014` error if `cancel` fires first; any error is
/// recorded on the session (it aborts a transaction block).
fn batches_until_cancelled(
    stream: SendableRecordBatchStream,
    cancel: CancellationToken,
    session: Arc<Session>,
) -> impl Stream<Item = PgWireResult<RecordBatch>> + Send + 'static {
    futures::stream::unfold(Some((stream, cancel, session)), |state| async move {
        let (mut stream, cancel, session) = state?;
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => Some(Err(canceled())),
            next = stream.next() => next.map(|r| r.map_err(|e| SqlError::from_datafusion(&e, &runnel_sql::parser::TextMap::whole("")))),
        };
        match next {
            None => None,
            Some(Ok(batch)) => Some((Ok(batch), Some((stream, cancel, session)))),
            Some(Err(error)) => {
                session.on_error();
                Some((Err(to_pgwire(&error)), None))
            }
        }
    })
}

/// `COPY ... TO STDOUT` data messages: an optional CSV header, then one message per row (or the
/// binary header, rows and trailer).
pub fn copy_data(
    schema: &Schema,
    stream: SendableRecordBatchStream,
    options: &CopyOptions,
    format_options: Arc<FormatOptions>,
    cancel: CancellationToken,
    session: Arc<Session>,
) -> PgWireResult<(
    i8,
    usize,
    impl Stream<Item = PgWireResult<CopyData>> + Send + 'static,
)> {
    let binary = options.format == CopyFormat::Binary;
    let wire_format = if binary {
        Format::UnifiedBinary
    } else {
        Format::UnifiedText
    };
    let fields = Arc::new(fields(schema, &wire_format, Some(format_options))?);
    let columns = fields.len();
    let mut header = Vec::new();
    if options.header {
        let names: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| csv_quote(f.name(), options))
            .collect();
        header.push(Ok(CopyData::new(Bytes::from(format!(
            "{}\n",
            names.join(&options.delimiter)
        )))));
    }
    let make_encoder = {
        let options = options.clone();
        let fields = fields.clone();
        move || match options.format {
            CopyFormat::Binary => CopyEncoder::new_binary(fields.clone()),
            CopyFormat::Csv => CopyEncoder::new_csv(
                fields.clone(),
                CopyCsvOptions {
                    delimiter: options.delimiter.as_str().into(),
                    quote: options.quote.as_str().into(),
                    escape: options.escape.as_str().into(),
                    null_string: options.null.as_str().into(),
                    force_quote: Vec::new(),
                },
            ),
            CopyFormat::Text => CopyEncoder::new_text(
                fields.clone(),
                CopyTextOptions {
                    delimiter: options.delimiter.as_str().into(),
                    null_string: options.null.as_str().into(),
                },
            ),
        }
    };
    let mut encoder = make_encoder();
    let rows = batches_until_cancelled(stream, cancel, session)
        .map(move |batch| -> Vec<PgWireResult<CopyData>> {
            match batch {
                Ok(batch) => {
                    let mut out = Vec::with_capacity(batch.num_rows());
                    for row in 0..batch.num_rows() {
                        match encode_row(&mut encoder, &batch, row, &fields) {
                            Ok(()) => out.push(Ok(encoder.take_copy())),
                            Err(error) => {
                                out.push(Err(error));
                                break;
                            }
                        }
                    }
                    out
                }
                Err(error) => vec![Err(error)],
            }
        })
        .flat_map(futures::stream::iter);
    let trailer = binary.then(CopyEncoder::finish_copy_binary).map(Ok);
    let stream = futures::stream::iter(header)
        .chain(rows)
        .chain(futures::stream::iter(trailer));
    Ok((if binary { 1 } else { 0 }, columns, stream))
}

fn csv_quote(value: &str, options: &CopyOptions) -> String {
    let needs = value.contains(options.delimiter.as_str())
        || value.contains(options.quote.as_str())
        || value.contains('\n')
        || value.contains('\r');
    if needs {
        let escaped = value.replace(
            options.quote.as_str(),
            &format!("{}{}", options.escape, options.quote),
        );
        format!("{}{escaped}{}", options.quote, options.quote)
    } else {
        value.to_string()
    }
}
