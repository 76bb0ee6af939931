//! What flows on the edges of a stream graph.

use datafusion::arrow::array::{Int64Array, RecordBatch};

use super::StreamError;

/// Event time as Flink's `TIMESTAMP(3)` counts it: milliseconds since the Unix epoch.
pub type EventTime = i64;

/// The watermark before any event time has been seen.
pub const WATERMARK_MIN: EventTime = EventTime::MIN;
/// The watermark at the end of bounded input: every window fires.
pub const WATERMARK_END: EventTime = EventTime::MAX;

/// Rows plus, for each row, the watermark that was in effect when the row arrived at its source.
///
/// Late-row decisions are made per row against this value, as if the watermark advanced after
/// every row in arrival order. Because the value travels with the row through filters and
/// exchanges, the decision does not depend on batch sizes, parallelism or timing.
#[derive(Debug, Clone)]
pub struct StreamBatch {
    /// The rows.
    pub data: RecordBatch,
    /// Per-row watermark at arrival (no nulls; [`WATERMARK_MIN`] before any watermark).
    pub arrival_watermark: Int64Array,
}

impl StreamBatch {
    /// Pairs `data` with its per-row arrival watermarks.
    pub fn new(data: RecordBatch, arrival_watermark: Int64Array) -> Result<Self, StreamError> {
        if data.num_rows() != arrival_watermark.len() {
            return Err(StreamError::Internal(format!(
                "batch of {} rows with {} arrival watermarks",
                data.num_rows(),
                arrival_watermark.len()
            )));
        }
        Ok(StreamBatch {
            data,
            arrival_watermark,
        })
    }

    /// Rows that all arrived under the same watermark (e.g. results emitted by a window).
    pub fn uniform(data: RecordBatch, watermark: EventTime) -> Self {
        let arrival_watermark = Int64Array::from_value(watermark, data.num_rows());
        StreamBatch {
            data,
            arrival_watermark,
        }
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.data.num_rows()
    }
}

/// One message on an edge. Channels carrying them are bounded: a slow consumer slows its
/// producers (backpressure).
#[derive(Debug, Clone)]
pub enum Message {
    /// Rows.
    Batch(StreamBatch),
    /// No row with an event time at or below this one will follow (except late rows, which
    /// carry their arrival watermark and are judged by it).
    Watermark(EventTime),
    /// The producer has had no rows for its idle timeout (`scan.watermark.idle-timeout`):
    /// until it sends rows or a watermark again, its watermark does not hold back the
    /// consumer's.
    Idle,
    /// Checkpoint barrier of an epoch: every message before it belongs to the epoch, every
    /// message after it to the next. Operators write their state when the barrier arrived on
    /// all their open inputs, then forward it.
    Barrier(u64),
    /// The input ended (bounded sources); no further messages follow.
    End,
}
