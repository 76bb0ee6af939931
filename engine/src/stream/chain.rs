//! Operators fused into one task (Flink's operator chaining): each message an operator emits
//! goes straight into the next, with no channel between them.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::message::WATERMARK_MIN;
use super::{EventTime, Message, Operator, OperatorMetrics, StreamBatch, StreamError};
use crate::checkpoint::{StateEntries, StateSpace, StateWriter};

/// Operators run in sequence inside one task. An empty chain forwards everything.
pub struct Chain {
    operators: Vec<Box<dyn Operator>>,
    metrics: Arc<OperatorMetrics>,
    buffer: Vec<Message>,
    /// While the chain ends: the next operator whose `on_end` is due.
    ending: Option<usize>,
}

impl Chain {
    /// Chains `operators`, first to last.
    pub fn new(operators: Vec<Box<dyn Operator>>) -> Self {
        Chain {
            operators,
            metrics: Arc::default(),
            buffer: Vec::new(),
            ending: None,
        }
    }

    /// Ends the operators in order: each one's `on_end`, once the one before it has given all
    /// its output (see [`Operator::pending`]).
    fn continue_end(&mut self, out: &mut Vec<Message>) -> Result<(), StreamError> {
        while let Some(next) = self.ending {
            if next > 0 && self.operators[next - 1].pending() {
                return Ok(());
            }
            if next == self.operators.len() {
                self.ending = None;
                return Ok(());
            }
            let mut flushed = Vec::new();
            self.operators[next].on_end(&mut flushed)?;
            self.feed(next + 1, flushed, out)?;
            self.ending = Some(next + 1);
        }
        Ok(())
    }

    /// Feeds `messages` (emitted by the operator before `from`) through the rest of the chain.
    /// Only the first operator may leave output pending (a window aggregation leads its chain).
    fn feed(
        &mut self,
        from: usize,
        mut messages: Vec<Message>,
        out: &mut Vec<Message>,
    ) -> Result<(), StreamError> {
        for operator in self.operators.iter_mut().skip(from) {
            let mut next = std::mem::take(&mut self.buffer);
            for message in messages.drain(..) {
                match message {
                    Message::Batch(batch) => operator.on_batch(batch, &mut next)?,
                    Message::Watermark(watermark) => operator.on_watermark(watermark, &mut next)?,
                    // Idle, barriers and End are the runtime's to send.
                    Message::Idle | Message::Barrier(_) | Message::End => {}
                }
            }
            self.buffer = messages;
            messages = next;
        }
        out.append(&mut messages);
        self.buffer = messages;
        Ok(())
    }
}

impl Operator for Chain {
    fn on_batch(&mut self, batch: StreamBatch, out: &mut Vec<Message>) -> Result<(), StreamError> {
        self.feed(0, vec![Message::Batch(batch)], out)
    }

    fn on_watermark(
        &mut self,
        watermark: EventTime,
        out: &mut Vec<Message>,
    ) -> Result<(), StreamError> {
        self.feed(0, vec![Message::Watermark(watermark)], out)
    }

    fn on_end(&mut self, out: &mut Vec<Message>) -> Result<(), StreamError> {
        self.ending = Some(0);
        self.continue_end(out)
    }

    fn pending(&self) -> bool {
        self.ending.is_some() || self.operators.iter().any(|o| o.pending())
    }

    fn resume(&mut self, out: &mut Vec<Message>) -> Result<(), StreamError> {
        if let Some(index) = self.operators.iter().position(|o| o.pending()) {
            let mut produced = Vec::new();
            self.operators[index].resume(&mut produced)?;
            self.feed(index + 1, produced, out)?;
        }
        if self.ending.is_some() {
            self.continue_end(out)?;
        }
        Ok(())
    }

    fn checkpoint(&mut self, state: &mut StateWriter) -> Result<(), StreamError> {
        for (index, operator) in self.operators.iter_mut().enumerate() {
            let mut nested = state.nested(index as u8);
            operator.checkpoint(&mut nested)?;
            state.absorb(nested);
        }
        Ok(())
    }

    fn attach(&mut self, space: StateSpace) {
        for (index, operator) in self.operators.iter_mut().enumerate() {
            operator.attach(space.nested(index as u8));
        }
    }

    fn restore(&mut self, state: &StateEntries) -> Result<(), StreamError> {
        for (index, operator) in self.operators.iter_mut().enumerate() {
            operator.restore(&state.nested(index as u8))?;
        }
        Ok(())
    }

    fn metrics(&self) -> &Arc<OperatorMetrics> {
        &self.metrics
    }
}

/// Counts what passes a point of a job: rows, and the highest watermark. Shared between the
/// [`Probe`] operators that write it and whoever shows job progress.
#[derive(Debug)]
pub struct ProbeCounters {
    rows: AtomicU64,
    watermark: AtomicI64,
}

impl Default for ProbeCounters {
    fn default() -> Self {
        ProbeCounters {
            rows: AtomicU64::new(0),
            watermark: AtomicI64::new(WATERMARK_MIN),
        }
    }
}

impl ProbeCounters {
    /// Rows that passed.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// The highest watermark that passed ([`WATERMARK_MIN`] before the first).
    pub fn watermark(&self) -> EventTime {
        self.watermark.load(Ordering::Relaxed)
    }
}

/// Forwards everything, counting it into shared [`ProbeCounters`].
pub struct Probe {
    counters: Arc<ProbeCounters>,
    metrics: Arc<OperatorMetrics>,
}

impl Probe {
    /// A probe writing to `counters`.
    pub fn new(counters: Arc<ProbeCounters>) -> Self {
        Probe {
            counters,
            metrics: Arc::default(),
        }
    }
}

impl Operator for Probe {
    fn on_batch(&mut self, batch: StreamBatch, out: &mut Vec<Message>) -> Result<(), StreamError> {
        self.counters
            .rows
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        out.push(Message::Batch(batch));
        Ok(())
    }

    fn on_watermark(
        &mut self,
        watermark: EventTime,
        out: &mut Vec<Message>,
    ) -> Result<(), StreamError> {
        self.counters
            .watermark
            .fetch_max(watermark, Ordering::Relaxed);
        out.push(Message::Watermark(watermark));
        Ok(())
    }

    fn on_end(&mut self, _out: &mut Vec<Message>) -> Result<(), StreamError> {
        self.counters
            .watermark
            .store(EventTime::MAX, Ordering::Relaxed);
        Ok(())
    }

    fn metrics(&self) -> &Arc<OperatorMetrics> {
        &self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::window::tests::{drive, spec};
    use crate::stream::window::{WindowAggregate, WindowKind};

    #[test]
    fn a_chain_behaves_like_its_operators_in_sequence() {
        let input = [
            (1_000, Some("a"), 1),
            (2_500, Some("b"), 2),
            (4_000, Some("a"), 3),
            (1_200, Some("a"), 4),
            (9_000, Some("b"), 5),
        ];
        let window = WindowKind::Tumble {
            size: 2_000,
            offset: 0,
        };
        let mut alone = WindowAggregate::try_new(spec(window)).expect("operator");
        let expected = drive(&mut alone, 500, &input, 2);
        let counters = Arc::new(ProbeCounters::default());
        let mut chain = Chain::new(vec![
            Box::new(Probe::new(counters.clone())),
            Box::new(WindowAggregate::try_new(spec(window)).expect("operator")),
        ]);
        let chained = drive(&mut chain, 500, &input, 2);
        assert_eq!(chained, expected);
        assert_eq!(counters.rows(), 5);
        assert_eq!(counters.watermark(), EventTime::MAX);
    }
}
