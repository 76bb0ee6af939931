//! Runs operators as tokio tasks connected by bounded channels.
//!
//! Each operator instance is one task. It reads all its inputs, forwards batches to the
//! operator and combines watermarks: an instance's watermark is the minimum over its inputs, and
//! it ends when every input has ended. Outputs go to one channel, or are hash-partitioned over
//! several (watermarks and End are broadcast).

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use tokio::sync::mpsc::{Receiver, Sender, channel};

use super::exchange::HashPartitioner;
use super::message::WATERMARK_MIN;
use super::{EventTime, Message, Operator, StreamError};

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
    mut operator: Box<dyn Operator>,
    inputs: Vec<Receiver<Message>>,
    mut output: Output,
) -> Result<(), StreamError> {
    let count = inputs.len();
    let mut merged: stream::SelectAll<BoxStream<'static, (usize, Message)>> =
        stream::select_all(inputs.into_iter().enumerate().map(|(index, receiver)| {
            stream::unfold(receiver, move |mut receiver| async move {
                receiver
                    .recv()
                    .await
                    .map(|message| ((index, message), receiver))
            })
            .boxed()
        }));
    let mut watermarks = vec![WATERMARK_MIN; count];
    let mut ended = vec![false; count];
    let mut combined = WATERMARK_MIN;
    let mut out = Vec::new();
    while let Some((index, message)) = merged.next().await {
        match message {
            Message::Batch(batch) => operator.on_batch(batch, &mut out)?,
            Message::Watermark(watermark) => {
                watermarks[index] = watermarks[index].max(watermark);
                let minimum = min_active(&watermarks, &ended);
                if minimum > combined {
                    combined = minimum;
                    operator.on_watermark(combined, &mut out)?;
                }
            }
            Message::End => {
                ended[index] = true;
                if ended.iter().all(|e| *e) {
                    break;
                }
                // An ended input no longer holds the watermark back.
                let minimum = min_active(&watermarks, &ended);
                if minimum > combined {
                    combined = minimum;
                    operator.on_watermark(combined, &mut out)?;
                }
            }
        }
        for message in out.drain(..) {
            if !output.send(message).await? {
                return Ok(());
            }
        }
    }
    operator.on_end(&mut out)?;
    out.push(Message::End);
    for message in out.drain(..) {
        if !output.send(message).await? {
            break;
        }
    }
    Ok(())
}

fn min_active(watermarks: &[EventTime], ended: &[bool]) -> EventTime {
    watermarks
        .iter()
        .zip(ended)
        .filter(|(_, ended)| !**ended)
        .map(|(w, _)| *w)
        .min()
        .unwrap_or(EventTime::MAX)
}
