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
/// Key of the last run sequence number a window aggregation's epoch includes.
pub(super) const RUN_SEQ_KEY: &[u8] = b"q";
/// Prefix of runs (a window aggregation's state in its own key space).
const RUN_PREFIX: u8 = b'r';

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

/// The prefix of every run of window `(end, start)`: `r`, end, start.
pub(super) fn run_window_prefix(window: (EventTime, EventTime)) -> [u8; 17] {
    let mut key = window_key(window);
    key[0] = RUN_PREFIX;
    key
}

/// The prefix of the runs of one bucket of a window: the window's prefix, then the bucket.
pub(super) fn run_bucket_prefix(window: (EventTime, EventTime), bucket: u16) -> [u8; 19] {
    let mut key = [0u8; 19];
    key[..17].copy_from_slice(&run_window_prefix(window));
    key[17..].copy_from_slice(&bucket.to_be_bytes());
    key
}

/// The key of a run holding the changes of sequence numbers `lo..=hi` to one bucket of a
/// window: the bucket's prefix, `hi`, then `u64::MAX - lo`, so that within a bucket runs sort by
/// their newest change, and a merged run sorts after the runs it replaces.
pub(super) fn run_key(window: (EventTime, EventTime), bucket: u16, hi: u64, lo: u64) -> [u8; 35] {
    let mut key = [0u8; 35];
    key[..19].copy_from_slice(&run_bucket_prefix(window, bucket));
    key[19..27].copy_from_slice(&hi.to_be_bytes());
    key[27..].copy_from_slice(&(u64::MAX - lo).to_be_bytes());
    key
}

/// The first run key of a bucket with a sequence number above `seq`.
pub(super) fn run_after(window: (EventTime, EventTime), bucket: u16, seq: u64) -> [u8; 27] {
    let mut key = [0u8; 27];
    key[..19].copy_from_slice(&run_bucket_prefix(window, bucket));
    key[19..].copy_from_slice(&(seq.saturating_add(1)).to_be_bytes());
    key
}

/// Reads back `(hi, lo)` from a key of [`run_key`].
pub(super) fn parse_run_key(key: &[u8]) -> Result<(u64, u64), StreamError> {
    match key.len() {
        35 => {
            let hi = key[19..27].try_into().map(u64::from_be_bytes);
            let lo = key[27..].try_into().map(u64::from_be_bytes);
            match (hi, lo) {
                (Ok(hi), Ok(lo)) => Ok((hi, u64::MAX - lo)),
                _ => Err(corrupt("run key")),
            }
        }
        _ => Err(corrupt("run key")),
    }
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

/// Reads back the run sequence number stored at [`RUN_SEQ_KEY`].
pub(super) fn decode_seq(bytes: &[u8]) -> Result<u64, StreamError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| corrupt("run sequence number"))?;
    Ok(u64::from_be_bytes(array))
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
