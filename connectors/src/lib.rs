//! Runnel connectors: sources and sinks behind the engine's
//! [`SplitReader`](runnel_engine::stream::source::SplitReader) and
//! [`SinkWriter`](runnel_engine::stream::sink::SinkWriter) traits, with Flink SQL's connector
//! names and options (see `docs/connectors.md`).
//!
//! - [`registry`]: validate and open sources and sinks from a table's `WITH (...)` options.
//! - [`kafka`]: Kafka topics as sources (a watermark per partition) and sinks.
//! - [`codec`]: the `json`, `csv` and `raw` record formats shared by connectors.
//! - [`filesystem`]: JSON-lines and CSV files, one split per file; [`sink::filesystem`] writes
//!   part files.
//! - [`datagen`]: generated rows (random values or sequences).
//! - [`nexmark`]: the Nexmark benchmark's auction events.
//! - [`sink::print`] and [`sink::blackhole`].
//! - [`options`] and [`error`]: typed option access and the user-facing errors.

pub mod codec;
pub mod datagen;
pub mod error;
pub mod filesystem;
pub mod kafka;
pub mod nexmark;
pub mod options;
pub mod pacing;
pub mod registry;
pub mod sink;

pub use error::ConnectorError;
pub use registry::{
    SourceSplits, open_sink, open_source, sink_checkpoints, validate_sink, validate_source,
};
