//! The operator contract the runtime drives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{EventTime, Message, StreamBatch, StreamError};
use crate::checkpoint::{StateEntries, StateSpace, StateWriter};

/// A streaming operator: a synchronous state machine fed one message at a time.
///
/// Outputs are pushed to `out`; the runtime forwards them downstream in order. An operator
/// forwards watermarks itself (after emitting what they released), so results always precede
/// the watermark that caused them.
pub trait Operator: Send {
    /// Processes rows.
    fn on_batch(&mut self, batch: StreamBatch, out: &mut Vec<Message>) -> Result<(), StreamError>;

    /// Processes a watermark advance.
    fn on_watermark(
        &mut self,
        watermark: EventTime,
        out: &mut Vec<Message>,
    ) -> Result<(), StreamError>;

    /// The input ended: flush everything, then the runtime sends [`Message::End`] downstream.
    fn on_end(&mut self, out: &mut Vec<Message>) -> Result<(), StreamError>;

    /// True when the operator has more output to give for the message it last handled (a
    /// window that fires one part at a time, so its results need not all be in memory at once).
    /// The runtime then calls [`Operator::resume`] until it is false, sending each part
    /// downstream before asking for the next, and hands the operator nothing else meanwhile.
    fn pending(&self) -> bool {
        false
    }

    /// Gives the next part of the pending output (see [`Operator::pending`]).
    fn resume(&mut self, _out: &mut Vec<Message>) -> Result<(), StreamError> {
        Ok(())
    }

    /// A checkpoint barrier arrived on every input: write the state that changed since the
    /// last barrier (its epoch becomes durable with it). Stateless operators write nothing.
    fn checkpoint(&mut self, _state: &mut StateWriter) -> Result<(), StreamError> {
        Ok(())
    }

    /// In a checkpointed job, before [`Operator::restore`]: the instance's own key space in the
    /// store, for state that does not fit in memory (the server's memory budget comes with it).
    /// Operators that keep little state ignore it.
    fn attach(&mut self, _space: StateSpace) {}

    /// Before the first message of a recovered job: reload the state written by
    /// [`Operator::checkpoint`] up to the last durable epoch.
    fn restore(&mut self, _state: &StateEntries) -> Result<(), StreamError> {
        Ok(())
    }

    /// Counters shown in the jobs table; shared, so a job can read them while the operator
    /// runs in its task.
    fn metrics(&self) -> &Arc<OperatorMetrics>;
}

/// Counters of one operator instance, readable while the job runs.
#[derive(Debug, Default)]
pub struct OperatorMetrics {
    rows_in: AtomicU64,
    rows_out: AtomicU64,
    late_rows_dropped: AtomicU64,
}

impl OperatorMetrics {
    /// Counts rows received.
    pub fn add_rows_in(&self, rows: usize) {
        self.rows_in.fetch_add(rows as u64, Ordering::Relaxed);
    }

    /// Counts rows emitted.
    pub fn add_rows_out(&self, rows: usize) {
        self.rows_out.fetch_add(rows as u64, Ordering::Relaxed);
    }

    /// Counts rows dropped because every window they belong to had already fired.
    pub fn add_late_rows(&self, rows: usize) {
        self.late_rows_dropped
            .fetch_add(rows as u64, Ordering::Relaxed);
    }

    /// Rows received so far.
    pub fn rows_in(&self) -> u64 {
        self.rows_in.load(Ordering::Relaxed)
    }

    /// Rows emitted so far.
    pub fn rows_out(&self) -> u64 {
        self.rows_out.load(Ordering::Relaxed)
    }

    /// Late rows dropped so far.
    pub fn late_rows_dropped(&self) -> u64 {
        self.late_rows_dropped.load(Ordering::Relaxed)
    }
}
