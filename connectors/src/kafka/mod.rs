//! The `kafka` connector (Flink's option names and meanings; `docs/connectors.md`).
//!
//! - [`options`]: the table options ([`options::KafkaTable`]).
//! - [`metadata`]: metadata columns (`topic`, `partition`, `offset`, `timestamp`, `headers`, ...).
//! - [`source`]: reader instances over the topics' partitions, with a watermark per partition.
//! - [`sink`]: the producer side, `none`, `at-least-once` or `exactly-once`.
//! - [`transactions`]: exactly-once delivery, one transaction per checkpoint epoch.

mod batch;
pub mod metadata;
pub mod options;
pub mod sink;
pub mod source;
pub mod transactions;

pub use options::{KafkaTable, parse_table};
pub use sink::KafkaSink;
pub use source::kafka_splits;
