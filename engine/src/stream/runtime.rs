//! Runs operators as tokio tasks connected by bounded channels.
//!
//! Each operator instance is one task. It reads all its inputs, forwards batches to the
//! operator and combines watermarks: an instance's watermark is the minimum over its inputs
//! that are neither ended nor idle, it never moves back, and the instance ends when every input
//! has ended. Checkpoint barriers are aligned over the inputs ([`run_checkpointed`]). An input that sent [`Message::Idle`] is active again with its next batch or
//! watermark; when every remaining input is idle the watermark moves to the largest of theirs
//! and the instance says it is idle downstream. Outputs go
//! to one channel, or are hash-partitioned over several (watermarks, Idle and End are
//! broadcast).

use tokio::sync::mpsc::{Receiver, Sender, channel};

use super::exchange::HashPartitioner;
use super::message::WATERMARK_MIN;
use super::{EventTime, Message, Operator, StreamError};
use crate::checkpoint::{CheckpointHandle, Report, StateWriter};

/// Messages an edge buffers before its producer waits (backpressure).
pub const EDGE_CAPACITY: usize = 16;

/// A bounded edge between two tasks.
pub fn edge() -> (Sender<Message>, Receiver<Message>) {
    channel(EDGE_CAPACITY)
}

/// Where an operator instance sends its output.
#[derive(Debug)]
pub enum Output {
    /// One downstream edge.
    Forward(Sender<Message>),
    /// Rows split by key hash over the edges; watermarks and End go to all.
    Partition(HashPartitioner, Vec<Sender<Message>>),
}

impl Output {
    /// Sends `message`; false when every receiver is gone (the job is being torn down).
    pub async fn send(&mut self, message: Message) -> Result<bool, StreamError> {
        match self {
            Output::Forward(sender) => Ok(sender.send(message).await.is_ok()),
            Output::Partition(partitioner, senders) => match message {
                Message::Batch(batch) => {
                    let mut alive = false;
                    for (partition, part) in partitioner.partition(batch)? {
                        if let Some(sender) = senders.get(partition) {
                            alive |= sender.send(Message::Batch(part)).await.is_ok();
                        }
                    }
                    Ok(alive)
                }
                other => {
                    let mut alive = false;
                    for sender in senders.iter() {
                        alive |= sender.send(other.clone()).await.is_ok();
                    }
                    Ok(alive)
                }
            },
        }
    }
}

/// Drives `operator` until all `inputs` end (then flushes it and sends End) or the downstream
/// is gone. Errors stop the instance and are returned to whoever awaits the task.
pub async fn run_operator(
    operator: Box<dyn Operator>,
    inputs: Vec<Receiver<Message>>,
    output: Output,
) -> Result<(), StreamError> {
    run_checkpointed(operator, inputs, output, None).await
}

/// Where an operator instance of a checkpointed job writes its state.
#[derive(Debug, Clone)]
pub struct OperatorCheckpoint {
    /// The job's coordinator.
    pub handle: CheckpointHandle,
    /// The instance's key space.
    pub namespace: Vec<u8>,
}

/// [`run_operator`] for a job that checkpoints: barriers are aligned over the inputs (an input
/// that delivered the barrier is not read until every other open input delivered it too), then
/// the operator writes its state to the coordinator and the barrier goes downstream.
pub async fn run_checkpointed(
    mut operator: Box<dyn Operator>,
    mut inputs: Vec<Receiver<Message>>,
    mut output: Output,
    checkpoint: Option<OperatorCheckpoint>,
) -> Result<(), StreamError> {
    let count = inputs.len();
    let mut states = vec![InputState::default(); count];
    let mut open = vec![true; count];
    let mut next_input = 0;
    let mut aligning: Option<u64> = None;
    let mut combined = WATERMARK_MIN;
    let mut idle_sent = false;
    let mut out = Vec::new();
    loop {
        let received = std::future::poll_fn(|cx| {
            poll_inputs(&mut inputs, &mut open, &states, &mut next_input, cx)
        })
        .await;
        let Some((index, message)) = received else {
            break;
        };
        match message {
            Message::Batch(batch) => {
                states[index].idle = false;
                idle_sent = false;
                operator.on_batch(batch, &mut out)?;
            }
            Message::Watermark(watermark) => {
                let input = &mut states[index];
                input.watermark = input.watermark.max(watermark);
                input.idle = false;
                idle_sent = false;
            }
            Message::Idle => states[index].idle = true,
            Message::Barrier(epoch) => {
                states[index].barrier = true;
                aligning = Some(epoch);
            }
            Message::End => {
                states[index].ended = true;
                if states.iter().all(|i| i.ended) {
                    break;
                }
            }
        }
        match min_active(&states) {
            Some(minimum) if minimum > combined => {
                combined = minimum;
                operator.on_watermark(combined, &mut out)?;
            }
            Some(_) => {}
            None if !idle_sent => {
                // Every input still open is idle: the watermark moves to the largest of theirs
                // (as Flink's StatusWatermarkValve does), and the instance is idle too.
                let largest = states
                    .iter()
                    .filter(|i| !i.ended)
                    .map(|i| i.watermark)
                    .max()
                    .unwrap_or(WATERMARK_MIN);
                if largest > combined {
                    combined = largest;
                    operator.on_watermark(combined, &mut out)?;
                }
                idle_sent = true;
                out.push(Message::Idle);
            }
            None => {}
        }
        // Output given in parts goes downstream before anything else happens (before a
        // barrier in particular: the epoch must include all of it).
        if !settle(operator.as_mut(), &mut out, &mut output).await? {
            return Ok(());
        }
        if let Some(epoch) = aligning
            && states.iter().all(|i| i.barrier || i.ended)
        {
            // Aligned: everything before the barrier on every input has been processed.
            if let Some(checkpoint) = &checkpoint {
                let mut state = StateWriter::new(checkpoint.namespace.clone());
                operator.checkpoint(&mut state)?;
                checkpoint.handle.report(Report::State {
                    epoch,
                    ops: state.into_ops(),
                });
            }
            out.push(Message::Barrier(epoch));
            for input in &mut states {
                input.barrier = false;
            }
            aligning = None;
        }
        for message in out.drain(..) {
            if !output.send(message).await? {
                return Ok(());
            }
        }
    }
    operator.on_end(&mut out)?;
    if !settle(operator.as_mut(), &mut out, &mut output).await? {
        return Ok(());
    }
    out.push(Message::End);
    for message in out.drain(..) {
        if !output.send(message).await? {
            break;
        }
    }
    Ok(())
}

/// While `operator` has output pending, sends what `out` holds downstream and asks for the next
/// part. False when the downstream is gone.
async fn settle(
    operator: &mut dyn Operator,
    out: &mut Vec<Message>,
    output: &mut Output,
) -> Result<bool, StreamError> {
    while operator.pending() {
        for message in out.drain(..) {
            if !output.send(message).await? {
                return Ok(false);
            }
        }
        operator.resume(out)?;
    }
    Ok(true)
}

/// The next message of an input that is open and not holding a barrier, taking the inputs in
/// turn; a closed channel reads as End. `None` when every input is closed.
fn poll_inputs(
    inputs: &mut [Receiver<Message>],
    open: &mut [bool],
    states: &[InputState],
    next: &mut usize,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<Option<(usize, Message)>> {
    use std::task::Poll;
    let count = inputs.len();
    let mut waiting = false;
    for step in 0..count {
        let index = (*next + step) % count;
        if !open[index] {
            continue;
        }
        if states[index].barrier {
            waiting = true;
            continue;
        }
        match inputs[index].poll_recv(cx) {
            Poll::Ready(Some(message)) => {
                *next = (index + 1) % count;
                return Poll::Ready(Some((index, message)));
            }
            Poll::Ready(None) => {
                open[index] = false;
                return Poll::Ready(Some((index, Message::End)));
            }
            Poll::Pending => waiting = true,
        }
    }
    if waiting {
        Poll::Pending
    } else {
        Poll::Ready(None)
    }
}

/// What the runtime knows of one input.
#[derive(Debug, Clone, Copy)]
struct InputState {
    watermark: EventTime,
    ended: bool,
    idle: bool,
    /// Delivered the barrier being aligned.
    barrier: bool,
}

impl Default for InputState {
    fn default() -> Self {
        InputState {
            watermark: WATERMARK_MIN,
            ended: false,
            idle: false,
            barrier: false,
        }
    }
}

/// The minimum watermark over the inputs that are neither ended nor idle; `None` when every
/// input still open is idle.
fn min_active(inputs: &[InputState]) -> Option<EventTime> {
    let mut open = false;
    let mut minimum: Option<EventTime> = None;
    for input in inputs.iter().filter(|i| !i.ended) {
        open = true;
        if !input.idle {
            minimum = Some(minimum.map_or(input.watermark, |m| m.min(input.watermark)));
        }
    }
    if open { minimum } else { Some(EventTime::MAX) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::chain::{Probe, ProbeCounters};
    use std::sync::Arc;

    /// Sends `messages` on input `index` of a forwarding instance and returns what it emits.
    async fn run(script: Vec<(usize, Message)>, inputs: usize) -> Vec<String> {
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..inputs {
            let (sender, receiver) = edge();
            senders.push(sender);
            receivers.push(receiver);
        }
        let (out_sender, mut out_receiver) = edge();
        let operator = Box::new(Probe::new(Arc::new(ProbeCounters::default())));
        let task = tokio::spawn(run_operator(
            operator,
            receivers,
            Output::Forward(out_sender),
        ));
        for (index, message) in script {
            senders[index].send(message).await.expect("send");
            // Let the instance take the message before the next one, so it sees the inputs
            // in the script's order (different channels have no order between them).
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        drop(senders);
        let mut seen = Vec::new();
        while let Some(message) = out_receiver.recv().await {
            seen.push(describe(&message));
        }
        task.await.expect("task").expect("instance");
        seen
    }

    fn rows(n: usize) -> Message {
        use datafusion::arrow::array::{Int64Array, RecordBatch};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let data = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1; n]))])
            .expect("batch");
        Message::Batch(crate::stream::StreamBatch::uniform(data, WATERMARK_MIN))
    }

    #[tokio::test]
    async fn a_barrier_waits_for_every_open_input_before_it_goes_on() {
        let seen = run(
            vec![
                (0, rows(1)),
                (0, Message::Barrier(1)),
                // After input 0's barrier: held back until input 1 delivers it too.
                (0, rows(2)),
                (1, rows(3)),
                (1, Message::Barrier(1)),
                (1, rows(4)),
                (0, Message::End),
                // An ended input does not hold back the next barrier.
                (1, Message::Barrier(2)),
                (1, Message::End),
            ],
            2,
        )
        .await;
        assert_eq!(
            seen,
            vec![
                "batch 1",
                "batch 3",
                "barrier 1",
                "batch 2",
                "batch 4",
                "barrier 2",
                "end"
            ]
        );
    }

    fn describe(message: &Message) -> String {
        match message {
            Message::Batch(batch) => format!("batch {}", batch.num_rows()),
            Message::Watermark(w) => format!("watermark {w}"),
            Message::Idle => "idle".to_string(),
            Message::Barrier(epoch) => format!("barrier {epoch}"),
            Message::End => "end".to_string(),
        }
    }

    #[tokio::test]
    async fn an_idle_input_stops_holding_the_watermark_back_until_it_speaks_again() {
        let seen = run(
            vec![
                (0, Message::Watermark(10)),
                (1, Message::Watermark(5)),
                (0, Message::Watermark(20)),
                // Input 1 goes idle: the watermark follows input 0 alone.
                (1, Message::Idle),
                (0, Message::Watermark(30)),
                // Input 1 is back at 25: it holds the watermark again, which does not move
                // back (30 stays), and moves on only when both are past 30.
                (1, Message::Watermark(25)),
                (0, Message::Watermark(40)),
                (1, Message::Watermark(35)),
                // Both idle: the watermark moves to the larger (40), and the instance is idle.
                (0, Message::Idle),
                (1, Message::Idle),
                (0, Message::End),
                (1, Message::End),
            ],
            2,
        )
        .await;
        assert_eq!(
            seen,
            vec![
                "watermark 5",
                "watermark 20",
                "watermark 30",
                "watermark 35",
                "watermark 40",
                "idle",
                "end"
            ]
        );
    }
}
