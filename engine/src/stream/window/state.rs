//! How window operators lay out their checkpointed state: keys that sort by window, and Arrow
//! IPC batches of group keys plus aggregate states (DataFusion's intermediate state, which
//! `merge_batch` reads back).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;

use super::super::{EventTime, StreamError};
use crate::storage::{decode_state_batches, encode_state_batches};

/// Key of the operator's watermark.
pub(super) const WATERMARK_KEY: &[u8] = b"m";
/// Prefix of per-window entries.
pub(super) const WINDOW_PREFIX: u8 = b'w';
/// Key of a whole-operator snapshot (sessions, held rows).
pub(super) const ALL_KEY: &[u8] = b"a";

/// An event time as 8 bytes that sort like the number.
fn sortable(time: EventTime) -> [u8; 8] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

fn unsortable(bytes: &[u8]) -> Option<EventTime> {
    let array: [u8; 8] = bytes.try_into().ok()?;
    Some((u64::from_be_bytes(array) ^ (1 << 63)) as i64)
}

/// The key of window `(end, start)`.
pub(super) fn window_key(window: (EventTime, EventTime)) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = WINDOW_PREFIX;
    key[1..9].copy_from_slice(&sortable(window.0));
    key[9..].copy_from_slice(&sortable(window.1));
    key
}

/// Reads back a key of [`window_key`].
pub(super) fn parse_window_key(key: &[u8]) -> Result<(EventTime, EventTime), StreamError> {
    match (key.len(), key.first()) {
        (17, Some(&WINDOW_PREFIX)) => match (unsortable(&key[1..9]), unsortable(&key[9..])) {
            (Some(end), Some(start)) => Ok((end, start)),
            _ => Err(corrupt("window key")),
        },
        _ => Err(corrupt("window key")),
    }
}

/// The value of the watermark entry.
pub(super) fn encode_watermark(watermark: EventTime) -> Vec<u8> {
    watermark.to_be_bytes().to_vec()
}

/// Reads back [`encode_watermark`].
pub(super) fn decode_watermark(bytes: &[u8]) -> Result<EventTime, StreamError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| corrupt("watermark"))?;
    Ok(i64::from_be_bytes(array))
}

/// Columns of equal length as one batch (names are positional: state is read by position).
pub(super) fn encode_columns(columns: Vec<ArrayRef>) -> Result<Vec<u8>, StreamError> {
    let fields: Vec<Field> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
        .collect();
    let rows = columns.first().map_or(0, |c| c.len());
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )?;
    encode_state_batches(&[batch]).map_err(|e| StreamError::Checkpoint(e.to_string()))
}

/// Reads back [`encode_columns`].
pub(super) fn decode_columns(bytes: &[u8]) -> Result<(Vec<ArrayRef>, usize), StreamError> {
    let batches =
        decode_state_batches(bytes).map_err(|e| StreamError::Checkpoint(e.to_string()))?;
    match batches.as_slice() {
        [batch] => Ok((batch.columns().to_vec(), batch.num_rows())),
        _ => Err(corrupt("state batch")),
    }
}

/// How many state columns each aggregate's intermediate state has.
pub(super) fn state_widths(
    aggregates: &[Arc<AggregateFunctionExpr>],
) -> Result<Vec<usize>, StreamError> {
    Ok(aggregates
        .iter()
        .map(|a| a.state_fields().map(|f| f.len()))
        .collect::<Result<Vec<_>, _>>()?)
}

/// Checks that a state batch has `expected` columns.
pub(super) fn check_width(columns: &[ArrayRef], expected: usize) -> Result<(), StreamError> {
    if columns.len() == expected {
        Ok(())
    } else {
        Err(StreamError::Checkpoint(format!(
            "window state has {} columns where the query needs {expected}: was it written by another query?",
            columns.len()
        )))
    }
}

fn corrupt(what: &str) -> StreamError {
    StreamError::Checkpoint(format!("corrupt {what} in the checkpointed window state"))
}
