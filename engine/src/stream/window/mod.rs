//! Event-time windows (Flink's TUMBLE, HOP and CUMULATE) and the operator that aggregates
//! rows per window and key.
//!
//! A window `[start, end)` fires once, when the watermark reaches `end - 1 ms`; its
//! `window_time` is `end - 1 ms`. A row is dropped as late only when every window it belongs
//! to has already fired.

mod aggregate;
mod assign;

pub use aggregate::{WindowAggregate, WindowAggregateSpec};
pub use assign::WindowKind;

#[cfg(test)]
pub(crate) mod tests;
