//! Event-time windows (Flink's TUMBLE, HOP, CUMULATE and SESSION) and the operators that
//! aggregate rows per window and key.
//!
//! A window `[start, end)` fires once, when the watermark reaches `end - 1 ms`; its
//! `window_time` is `end - 1 ms`. A row is dropped as late only when every window it belongs
//! to has already fired.

mod aggregate;
mod assign;
mod groups;
mod layout;
mod runs;
mod session;
mod state;

pub use aggregate::{WindowAggregate, WindowAggregateSpec};
pub use assign::WindowKind;
pub use session::{SessionAggregate, SessionAggregateSpec};

#[cfg(test)]
mod runs_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
pub(crate) mod tests;
