//! Sinks: writers of a job's final rows (a file, stdout, a Kafka topic, a materialized view's
//! snapshot) and the task that feeds them.

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use tokio::sync::mpsc::{Receiver, UnboundedReceiver};

use super::{Message, StreamError};
use crate::checkpoint::{CheckpointHandle, Report, StateEntries, StateWriter};

/// Writes the rows a job emits. Connectors implement it.
#[async_trait]
pub trait SinkWriter: Send {
    /// Writes one batch of rows (never empty).
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError>;

    /// Called when the watermark of the rows written so far advanced; sinks that buffer may
    /// flush here. The default does nothing.
    async fn on_watermark(&mut self, _watermark: i64) -> Result<(), StreamError> {
        Ok(())
    }

    /// The barrier of `epoch` arrived (or, with `epoch` = `None`, the end of input of a
    /// checkpointed job): every row of the epoch has been written. A sink that keeps its output
    /// in the job's state writes it to `state`; a transactional sink prepares its commit. The
    /// default writes nothing.
    async fn on_barrier(
        &mut self,
        _epoch: Option<u64>,
        _state: &mut StateWriter,
    ) -> Result<(), StreamError> {
        Ok(())
    }

    /// Epoch `epoch` (and every one before it) is durable: its output may become visible. The
    /// default does nothing.
    async fn on_commit(&mut self, _epoch: u64) -> Result<(), StreamError> {
        Ok(())
    }

    /// Called once before anything else in a checkpointed job: the job starts after durable
    /// epoch `epoch` (0: a fresh start), and `state` is what the sink wrote into that epoch
    /// when it [`reads_its_state`](SinkWriter::reads_its_state) (empty otherwise). A
    /// transactional sink settles here what a crashed run left between its last durable epoch
    /// and its external commit. The default does nothing.
    async fn recover(&mut self, _epoch: u64, _state: &StateEntries) -> Result<(), StreamError> {
        Ok(())
    }

    /// True for a sink that reads back its durable state in [`SinkWriter::recover`]. (A
    /// materialized view's rows are restored by the server before its job starts.)
    fn reads_its_state(&self) -> bool {
        false
    }

    /// True for a sink whose output of one epoch must be committed before it takes rows of the
    /// next (one external transaction at a time): after each barrier the sink waits for that
    /// epoch to be durable and calls [`SinkWriter::on_commit`] before reading on.
    fn waits_for_commit(&self) -> bool {
        false
    }

    /// Called once at the end of input: flush and close.
    async fn finish(&mut self) -> Result<(), StreamError>;
}

/// What a sink opened for a checkpointed job knows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkJob {
    /// The job's checkpoint interval.
    pub interval: std::time::Duration,
    /// A name of the job that stays the same when it resumes after a restart (a transactional
    /// sink derives its transactional id from it).
    pub name: String,
}

/// How the sink of a checkpointed job takes part in checkpoints.
#[derive(Debug)]
pub struct SinkCheckpointing {
    /// The job's coordinator.
    pub handle: CheckpointHandle,
    /// The sink's key space.
    pub namespace: Vec<u8>,
    /// Epochs made durable, in order.
    pub commits: UnboundedReceiver<u64>,
    /// The durable epoch the job starts after (0: a fresh start).
    pub epoch: u64,
    /// What the sink wrote into that epoch, if it [reads its
    /// state](SinkWriter::reads_its_state).
    pub state: StateEntries,
}

/// Feeds `writer` from `input` until End (then finishes it). If the input closes without End
/// (the job was cancelled) the writer is not finished.
pub async fn run_sink(
    writer: Box<dyn SinkWriter>,
    input: Receiver<Message>,
) -> Result<(), StreamError> {
    run_sink_checkpointed(writer, input, None).await
}

/// [`run_sink`] for a job that checkpoints: at each barrier the sink writes its part of the
/// epoch and completes it at the coordinator, and it hears of each durable epoch
/// ([`SinkWriter::on_commit`]). At the end of input the last rows become one final epoch, and
/// the writer is finished only once that is durable.
pub async fn run_sink_checkpointed(
    mut writer: Box<dyn SinkWriter>,
    mut input: Receiver<Message>,
    mut checkpointing: Option<SinkCheckpointing>,
) -> Result<(), StreamError> {
    if let Some(checkpointing) = &checkpointing {
        writer
            .recover(checkpointing.epoch, &checkpointing.state)
            .await?;
    }
    loop {
        let message = match checkpointing.as_mut() {
            Some(checkpointing) => tokio::select! {
                biased;
                Some(epoch) = checkpointing.commits.recv() => {
                    writer.on_commit(epoch).await?;
                    checkpointing.handle.report(Report::Committed { epoch });
                    continue;
                }
                message = input.recv() => message,
            },
            None => input.recv().await,
        };
        let Some(message) = message else {
            return Ok(());
        };
        match message {
            Message::Batch(batch) => {
                if batch.data.num_rows() > 0 {
                    writer.write(batch.data).await?;
                }
            }
            Message::Watermark(watermark) => writer.on_watermark(watermark).await?,
            Message::Idle => {}
            Message::Barrier(epoch) => {
                if let Some(checkpointing) = &checkpointing {
                    let mut state = StateWriter::new(checkpointing.namespace.clone());
                    writer.on_barrier(Some(epoch), &mut state).await?;
                    checkpointing.handle.report(Report::Sink {
                        epoch,
                        ops: state.into_ops(),
                    });
                }
                if let Some(checkpointing) = checkpointing.as_mut()
                    && writer.waits_for_commit()
                {
                    // Rows of the next epoch wait until this one is committed.
                    loop {
                        let Some(committed) = checkpointing.commits.recv().await else {
                            // The coordinator is gone: the job is being torn down.
                            return Ok(());
                        };
                        writer.on_commit(committed).await?;
                        checkpointing
                            .handle
                            .report(Report::Committed { epoch: committed });
                        if committed >= epoch {
                            break;
                        }
                    }
                }
            }
            Message::End => {
                if let Some(checkpointing) = checkpointing.as_mut() {
                    let mut state = StateWriter::new(checkpointing.namespace.clone());
                    writer.on_barrier(None, &mut state).await?;
                    checkpointing.handle.report(Report::Finished {
                        ops: state.into_ops(),
                    });
                    // The final epoch is the last one the coordinator commits.
                    while let Some(epoch) = checkpointing.commits.recv().await {
                        writer.on_commit(epoch).await?;
                    }
                }
                writer.finish().await?;
                return Ok(());
            }
        }
    }
}
