//! Feeding an operator its rows in arrival-watermark order across inputs.
//!
//! Rows carry the watermark of their source split at arrival. With one split those stamps only
//! grow in arrival order. With several splits they interleave as timing decides: a row of a
//! split that is ahead can carry a stamp above that of a row of a slower split that arrives
//! after it. Operators whose decision for a row depends on the rows placed before it (a SESSION
//! window merges a row into the sessions open *for that row*) would then give results that
//! depend on timing. [`Aligned`] holds each row until the operator's watermark (the minimum over
//! its inputs) reaches the row's stamp and releases held rows sorted by stamp. No row can arrive
//! later with a smaller stamp: an input's rows are stamped at or above every watermark it has
//! already sent. The operator thus sees one order, the same for every batch size, parallelism
//! and timing. Rows with equal stamps keep their arrival order: within a split it is fixed;
//! across splits (both exactly at the same watermark) it follows timing.
//!
//! The cost is latency, not work: a row waits for the next watermark of every input (sources
//! send one after each batch).

use std::sync::Arc;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::array::{Array, Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat, concat_batches, filter, filter_record_batch, take};

use super::message::{EventTime, WATERMARK_END, WATERMARK_MIN};
use super::{Message, Operator, OperatorMetrics, StreamBatch, StreamError};
use crate::checkpoint::{StateEntries, StateSpace, StateWriter};
use crate::storage::{decode_state_batches, encode_state_batches};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

/// Wraps an operator so it sees rows in stamp order (see the module documentation).
pub struct Aligned {
    inner: Box<dyn Operator>,
    /// Held rows, with the smallest stamp of each batch: a batch stamped wholly above the
    /// watermark is not touched when the watermark advances (a split far ahead of the others
    /// can have many rows held).
    held: Vec<(StreamBatch, EventTime)>,
    watermark: EventTime,
    /// Held rows or the watermark changed since the last checkpoint barrier.
    dirty: bool,
}

impl Aligned {
    /// `inner`, fed in stamp order.
    pub fn new(inner: Box<dyn Operator>) -> Self {
        Aligned {
            inner,
            held: Vec::new(),
            watermark: WATERMARK_MIN,
            dirty: false,
        }
    }

    /// Passes the held rows stamped at or below `watermark` to the inner operator, in stamp
    /// order (arrival order among equal stamps).
    fn release(&mut self, watermark: EventTime, out: &mut Vec<Message>) -> Result<(), StreamError> {
        if !self.held.iter().any(|(_, oldest)| *oldest <= watermark) {
            return Ok(());
        }
        let (ready_batches, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(_, oldest)| *oldest <= watermark);
        self.held = waiting;
        let ready_batches: Vec<StreamBatch> = ready_batches.into_iter().map(|(b, _)| b).collect();
        let schema = ready_batches[0].data.schema();
        let data = concat_batches(&schema, ready_batches.iter().map(|b| &b.data))?;
        let stamps: Vec<&dyn Array> = ready_batches
            .iter()
            .map(|b| &b.arrival_watermark as &dyn Array)
            .collect();
        let stamps = concat(&stamps)?;
        let stamps = stamps
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| StreamError::Internal("arrival watermarks are not Int64".into()))?
            .clone();
        let ready = BooleanArray::from_unary(&stamps, |stamp| stamp <= watermark);
        let ready_rows = ready.true_count();
        if ready_rows < stamps.len() {
            let waiting = datafusion::arrow::compute::not(&ready)?;
            let rest = filter_record_batch(&data, &waiting)?;
            let rest_stamps = filter(&stamps, &waiting)?;
            let rest_stamps = rest_stamps
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| StreamError::Internal("arrival watermarks are not Int64".into()))?
                .clone();
            let oldest = rest_stamps
                .values()
                .iter()
                .copied()
                .min()
                .unwrap_or(WATERMARK_END);
            // These rows arrived before every batch still held: they go first, so arrival
            // order among equal stamps is kept.
            self.held
                .insert(0, (StreamBatch::new(rest, rest_stamps)?, oldest));
        }
        if ready_rows == 0 {
            return Ok(());
        }
        let values = stamps.values();
        let mut order: Vec<u32> = (0..stamps.len() as u32)
            .filter(|&i| ready.value(i as usize))
            .collect();
        // Stable: arrival order is kept among equal stamps.
        order.sort_by_key(|&i| values[i as usize]);
        let indices = UInt32Array::from(order);
        let columns = data
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = RecordBatch::try_new(schema, columns)?;
        let sorted = take(&stamps, &indices, None)?;
        let sorted = sorted
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| StreamError::Internal("arrival watermarks are not Int64".into()))?
            .clone();
        self.inner.on_batch(StreamBatch::new(batch, sorted)?, out)
    }
}

impl Operator for Aligned {
    fn on_batch(&mut self, batch: StreamBatch, out: &mut Vec<Message>) -> Result<(), StreamError> {
        // A row stamped at or below the current watermark can go at once: every row after it
        // is stamped at or above that watermark.
        let stamps = batch.arrival_watermark.values();
        let (Some(oldest), Some(newest)) =
            (stamps.iter().copied().min(), stamps.iter().copied().max())
        else {
            return Ok(());
        };
        if self.held.is_empty() && newest <= self.watermark {
            return self.inner.on_batch(batch, out);
        }
        self.dirty = true;
        self.held.push((batch, oldest));
        Ok(())
    }

    fn on_watermark(
        &mut self,
        watermark: EventTime,
        out: &mut Vec<Message>,
    ) -> Result<(), StreamError> {
        self.watermark = watermark;
        self.dirty = true;
        self.release(watermark, out)?;
        self.inner.on_watermark(watermark, out)
    }

    fn on_end(&mut self, out: &mut Vec<Message>) -> Result<(), StreamError> {
        self.release(WATERMARK_END, out)?;
        self.inner.on_end(out)
    }

    fn checkpoint(&mut self, state: &mut StateWriter) -> Result<(), StreamError> {
        if std::mem::take(&mut self.dirty) {
            state.put(WATERMARK_KEY, self.watermark.to_be_bytes().to_vec());
            if self.held.is_empty() {
                state.delete(HELD_KEY);
            } else {
                // Each held batch with its stamps as a last column.
                let batches = self
                    .held
                    .iter()
                    .map(|(batch, _)| {
                        let mut fields = batch.data.schema().fields().to_vec();
                        fields.push(Arc::new(Field::new(STAMP_COLUMN, DataType::Int64, false)));
                        let mut columns = batch.data.columns().to_vec();
                        columns.push(Arc::new(batch.arrival_watermark.clone()));
                        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let value = encode_state_batches(&batches)
                    .map_err(|e| StreamError::Checkpoint(e.to_string()))?;
                state.put(HELD_KEY, value);
            }
        }
        let mut inner = state.nested(INNER);
        self.inner.checkpoint(&mut inner)?;
        state.absorb(inner);
        Ok(())
    }

    fn restore(&mut self, state: &StateEntries) -> Result<(), StreamError> {
        for (key, value) in state.iter() {
            if key == WATERMARK_KEY {
                let bytes: [u8; 8] = value.try_into().map_err(|_| {
                    StreamError::Checkpoint("corrupt watermark of held rows".into())
                })?;
                self.watermark = i64::from_be_bytes(bytes);
            } else if key == HELD_KEY {
                let batches = decode_state_batches(value)
                    .map_err(|e| StreamError::Checkpoint(e.to_string()))?;
                for batch in batches {
                    let last = batch.num_columns().saturating_sub(1);
                    let stamps = batch
                        .column(last)
                        .as_primitive_opt::<Int64Type>()
                        .ok_or_else(|| StreamError::Checkpoint("corrupt held rows".into()))?
                        .clone();
                    let mut data = batch;
                    data.remove_column(last);
                    let oldest = stamps
                        .values()
                        .iter()
                        .copied()
                        .min()
                        .unwrap_or(WATERMARK_MIN);
                    self.held.push((StreamBatch::new(data, stamps)?, oldest));
                }
            }
        }
        self.inner.restore(&state.nested(INNER))
    }

    fn pending(&self) -> bool {
        self.inner.pending()
    }

    fn resume(&mut self, out: &mut Vec<Message>) -> Result<(), StreamError> {
        self.inner.resume(out)
    }

    fn attach(&mut self, space: StateSpace) {
        self.inner.attach(space.nested(INNER));
    }

    fn metrics(&self) -> &Arc<OperatorMetrics> {
        self.inner.metrics()
    }
}

/// Checkpoint keys: the watermark, the held rows, and the wrapped operator's part.
const WATERMARK_KEY: &[u8] = b"m";
const HELD_KEY: &[u8] = b"h";
const INNER: u8 = b'i';
const STAMP_COLUMN: &str = "__runnel_arrival_watermark";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::chain::{Probe, ProbeCounters};

    fn batch(stamps: &[i64]) -> StreamBatch {
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new(
                "s",
                datafusion::arrow::datatypes::DataType::Int64,
                false,
            ),
        ]));
        let data = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(stamps.to_vec()))])
            .expect("batch");
        StreamBatch::new(data, Int64Array::from(stamps.to_vec())).expect("stream batch")
    }

    fn released(out: &mut Vec<Message>) -> Vec<Vec<i64>> {
        out.drain(..)
            .filter_map(|m| match m {
                Message::Batch(b) => Some(b.arrival_watermark.values().to_vec()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn rows_are_released_in_stamp_order_once_the_watermark_reaches_them() {
        let mut aligned = Aligned::new(Box::new(Probe::new(Arc::new(ProbeCounters::default()))));
        let mut out = Vec::new();
        // Split A is ahead (stamps 30, 40); split B follows with 10, 20.
        aligned.on_batch(batch(&[30, 40]), &mut out).expect("batch");
        aligned.on_batch(batch(&[10, 20]), &mut out).expect("batch");
        assert!(
            released(&mut out).is_empty(),
            "nothing before the watermark"
        );
        aligned.on_watermark(25, &mut out).expect("watermark");
        assert_eq!(released(&mut out), vec![vec![10, 20]]);
        // A row at the current watermark goes through at once.
        aligned.on_batch(batch(&[35, 25]), &mut out).expect("batch");
        assert!(released(&mut out).is_empty(), "held rows come first");
        aligned.on_watermark(35, &mut out).expect("watermark");
        assert_eq!(released(&mut out), vec![vec![25, 30, 35]]);
        aligned.on_batch(batch(&[35]), &mut out).expect("batch");
        assert!(
            released(&mut out).is_empty(),
            "while 40 is held, a new row waits too and is sorted with it"
        );
        aligned.on_end(&mut out).expect("end");
        assert_eq!(released(&mut out), vec![vec![35, 40]]);
    }
}
