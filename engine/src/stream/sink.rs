//! Sinks: writers of a job's final rows (a file, stdout, a Kafka topic, a materialized view's
//! snapshot) and the task that feeds them.

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use tokio::sync::mpsc::Receiver;

use super::{Message, StreamError};

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

    /// Called once at the end of input: flush and close.
    async fn finish(&mut self) -> Result<(), StreamError>;
}

/// Feeds `writer` from `input` until End (then finishes it). If the input closes without End
/// (the job was cancelled) the writer is not finished.
pub async fn run_sink(
    mut writer: Box<dyn SinkWriter>,
    mut input: Receiver<Message>,
) -> Result<(), StreamError> {
    while let Some(message) = input.recv().await {
        match message {
            Message::Batch(batch) => {
                if batch.data.num_rows() > 0 {
                    writer.write(batch.data).await?;
                }
            }
            Message::Watermark(watermark) => writer.on_watermark(watermark).await?,
            Message::Idle => {}
            Message::End => {
                writer.finish().await?;
                return Ok(());
            }
        }
    }
    Ok(())
}
