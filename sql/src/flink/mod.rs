//! Flink SQL's `CREATE TABLE` dialect: streaming tables with connector options, event time and
//! Flink's column kinds.
//!
//! ```sql
//! CREATE TABLE orders (
//!   order_id STRING,
//!   total_amount DECIMAL(10, 2),
//!   order_time TIMESTAMP(3),
//!   amount_x2 AS total_amount * 2,                          -- computed column
//!   kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',    -- metadata column
//!   WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND,
//!   PRIMARY KEY (order_id) NOT ENFORCED
//! ) WITH ('connector' = 'kafka', 'topic' = 'orders', 'format' = 'json');
//! ```
//!
//! sqlparser knows none of `WATERMARK FOR`, computed and metadata columns, `NOT ENFORCED` or
//! Flink's type syntax (`ARRAY<INT>`, `ROW<a INT>`, `MAP<K, V>`, `TIMESTAMP_LTZ(3)`), so this
//! module drives sqlparser's tokenizer and `Parser` token by token for the table's structure
//! and types, and hands expressions to `Parser::parse_expr`. [`is_flink_create_table`] tells
//! the statement dispatcher which statements to send here; [`parse_create_table`] parses and
//! checks one into a [`StreamTableDef`]; [`parse_type`] reads a type name on its own.
//!
//! Errors are [`SqlError`](crate::SqlError)s with PostgreSQL SQLSTATEs and messages, and the
//! 1-based character position of the token at fault.

mod ast;
mod backquotes;
mod builder;
mod cursor;
mod detect;
mod field_names;
mod job;
mod table;
mod types;

#[cfg(test)]
mod tests;

pub use ast::{ColumnDef, ColumnKind, StreamTableDef, WatermarkDef};
pub use backquotes::backquotes_to_double_quotes;
pub use detect::is_flink_create_table;
pub use field_names::name_selected_fields;
pub use job::{StopJob, is_stop_job, parse_stop_job};
pub use table::parse_create_table;
pub(crate) use types::UTC;
pub use types::parse_type;
