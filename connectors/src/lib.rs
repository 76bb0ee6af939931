//! Runnel connectors: sources and sinks (files, datagen, Kafka, print, blackhole) behind the
//! engine's [`SplitReader`](runnel_engine::stream::source::SplitReader) and sink traits.
//!
//! [`filesystem`] reads JSON-lines and CSV files, one split per file.

pub mod filesystem;
