//! Sinks: where a job's rows go. [`filesystem`] writes part files, [`print`] prints rows as
//! Flink does, [`blackhole`] discards them.

pub mod blackhole;
pub mod filesystem;
pub(crate) mod format;
pub mod print;

pub use blackhole::BlackholeSink;
pub use filesystem::FileSink;
pub use print::{PrintSink, write_rows};
