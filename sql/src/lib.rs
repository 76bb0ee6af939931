//! Runnel's SQL layer.
//!
//! Turns SQL text into things to do: [`parser`] splits a query string into statements and parses
//! them (keeping each statement's place in the text so errors can point at it), [`catalog`] is
//! the model of every named object (tables, views; later sources, sinks and materialized views)
//! and its persistence, [`ddl`] plans and applies catalog changes, [`types`] teaches DataFusion's
//! planner the type names Runnel accepts beyond DataFusion's own, [`flink`] parses Flink's
//! `CREATE TABLE` dialect (watermarks, computed and metadata columns, `WITH` options),
//! [`functions`] adds Flink's built-in functions that DataFusion lacks,
//! [`streaming`] plans queries over stream tables into jobs, and
//! [`error`] classifies every failure with a SQLSTATE and a position.
//!
//! Queries themselves are planned and run by DataFusion over the catalog, which is a DataFusion
//! `SchemaProvider`. No I/O beyond the engine's store, no async runtime of its own.

pub mod catalog;
pub mod ddl;
pub mod error;
pub mod flink;
pub mod functions;
pub mod parser;
pub mod streaming;
pub mod types;

pub use catalog::Catalog;
pub use error::{SqlError, SqlState};
pub use parser::{ParsedStatement, parse_statements};

/// The single database a Runnel server serves (the Postgres `current_database()`).
pub const DATABASE: &str = "runnel";
/// The schema user objects live in.
pub const DEFAULT_SCHEMA: &str = "public";
