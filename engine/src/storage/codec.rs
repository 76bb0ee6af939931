//! Byte layouts of the store: segment keys and Arrow IPC segment values.

use std::io::Cursor;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;

use super::StorageError;

/// Key of a table segment: table id then sequence, both big-endian so keys sort by table, then
/// in insertion order.
pub(super) fn segment_key(table_id: u64, seq: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&table_id.to_be_bytes());
    key[8..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// Splits a segment key into `(table id, sequence)`.
pub(super) fn decode_segment_key(key: &[u8]) -> Option<(u64, u64)> {
    let id: [u8; 8] = key.get(..8)?.try_into().ok()?;
    let seq: [u8; 8] = key.get(8..16)?.try_into().ok()?;
    (key.len() == 16).then(|| (u64::from_be_bytes(id), u64::from_be_bytes(seq)))
}

/// Encodes batches sharing one schema as one Arrow IPC stream.
pub(super) fn encode_batches(batches: &[RecordBatch]) -> Result<Vec<u8>, StorageError> {
    let Some(first) = batches.first() else {
        return Ok(Vec::new());
    };
    let mut buffer = Vec::new();
    let mut writer = StreamWriter::try_new(&mut buffer, &first.schema())?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    drop(writer);
    Ok(buffer)
}

/// Decodes an Arrow IPC stream written by [`encode_batches`].
pub(super) fn decode_batches(bytes: &[u8]) -> Result<Vec<RecordBatch>, StorageError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let reader = StreamReader::try_new(Cursor::new(bytes), None)?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(StorageError::from)
}

/// Encodes a schema alone, as an IPC stream with no batches.
pub(super) fn encode_schema(schema: &Schema) -> Result<Vec<u8>, StorageError> {
    let mut buffer = Vec::new();
    let mut writer = StreamWriter::try_new(&mut buffer, schema)?;
    writer.finish()?;
    drop(writer);
    Ok(buffer)
}

/// Decodes a schema written by [`encode_schema`].
pub(super) fn decode_schema(bytes: &[u8]) -> Result<SchemaRef, StorageError> {
    let reader = StreamReader::try_new(Cursor::new(bytes), None)?;
    Ok(reader.schema())
}
