//! The streaming runtime's building blocks: what flows between operators ([`message`]), how
//! sources read splits and event time becomes watermarks ([`source`], [`watermark`]), where rows
//! leave ([`sink`]), the
//! operators ([`operator`], [`calc`], [`window`], fused by [`chain`]), the hash [`exchange`] between parallel
//! instances, and the [`runtime`] that runs them as tasks.
//!
//! Everything here is vectorized over Arrow batches. Operators are plain synchronous state
//! machines driven by the runtime with one message at a time; they never block and never touch
//! channels themselves, so they can be tested (and later checkpointed) in isolation.

pub mod align;
pub mod calc;
pub mod chain;
pub mod error;
pub mod exchange;
pub mod message;
pub mod narrow;
pub mod operator;
pub mod runtime;
pub mod sink;
pub mod source;
pub mod watermark;
pub mod window;

#[cfg(test)]
mod pipeline_tests;

pub use error::StreamError;
pub use message::{EventTime, Message, StreamBatch};
pub use operator::{Operator, OperatorMetrics};
