//! Failures of a running stream job, as users see them in the jobs table and in `runnel run`.

use datafusion::arrow::error::ArrowError;
use datafusion::common::DataFusionError;

/// Why an operator could not process a message.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// An expression or aggregate failed (DataFusion's message names the function).
    #[error("{0}")]
    DataFusion(#[from] DataFusionError),
    /// An Arrow kernel failed.
    #[error("{0}")]
    Arrow(#[from] ArrowError),
    /// A row's event-time value is NULL: it cannot be assigned to a window (Flink fails the job
    /// the same way).
    #[error(
        "the event-time column \"{column}\" is NULL in a row; windows need a time for every row (filter NULLs out or use COALESCE)"
    )]
    NullEventTime {
        /// The event-time column.
        column: String,
    },
    /// A window definition that cannot be run (e.g. a HOP size that is not a multiple of its slide).
    #[error("{0}")]
    InvalidWindow(String),
    /// A source could not read its input (the message names the file, partition or offset).
    #[error("{0}")]
    Source(String),
    /// A checkpoint could not be written or restored.
    #[error("checkpoint failed: {0}")]
    Checkpoint(String),
    /// The engine was handed data of a shape the plan did not promise: a bug, not bad input.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StreamError> for DataFusionError {
    fn from(error: StreamError) -> Self {
        match error {
            StreamError::DataFusion(inner) => inner,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}
