//! What a Flink `CREATE TABLE` statement declares, after parsing and validation.

use datafusion::arrow::datatypes::DataType;
use datafusion::sql::sqlparser::ast::Expr;

/// A streaming table as declared by a Flink-style `CREATE TABLE`.
///
/// Names are as written, with unquoted identifiers folded to lower case the way PostgreSQL does
/// (`Orders` becomes `orders`, `"Orders"` stays `Orders`). Nothing here has been checked against
/// the catalog or a connector: this is the statement's own meaning only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTableDef {
    /// The table name; a qualified name keeps its parts joined by `.` (`public.orders`).
    pub name: String,
    /// `CREATE TABLE IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The columns, in declaration order.
    pub columns: Vec<ColumnDef>,
    /// The `WATERMARK FOR column AS expr` clause, if any.
    pub watermark: Option<WatermarkDef>,
    /// The primary key's columns in key order, from a table-level `PRIMARY KEY (...)` or a
    /// column-level `PRIMARY KEY`; always `NOT ENFORCED` (Flink's rule).
    pub primary_key: Option<Vec<String>>,
    /// The `COMMENT '...'` after the column list, if any.
    pub comment: Option<String>,
    /// The `WITH ('key' = 'value', ...)` connector options, in the order written.
    pub options: Vec<(String, String)>,
}

/// One column of a [`StreamTableDef`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// The column name.
    pub name: String,
    /// Where the column's values come from, and its type.
    pub kind: ColumnKind,
    /// The column's `COMMENT '...'`, if any.
    pub comment: Option<String>,
}

/// The three kinds of Flink column.
// A table has a handful of columns, built once per statement: keeping the expression inline
// (rather than boxed) keeps the type simple to match on.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// `name TYPE [NOT NULL]`: read from the connector's payload. Primary key columns are
    /// always NOT NULL (as in Flink and PostgreSQL), whether or not that was written.
    Physical {
        /// The column's Arrow type.
        data_type: DataType,
        /// False for `NOT NULL` columns and primary key columns.
        nullable: bool,
    },
    /// `name AS expr` (Flink computed column): evaluated from the other columns of the row.
    Computed {
        /// The expression, unbound (its names are resolved when the table is planned).
        expr: Expr,
    },
    /// `name TYPE METADATA [FROM 'key'] [VIRTUAL]`: read from the connector's record metadata
    /// (a Kafka record's timestamp, partition, headers, ...).
    Metadata {
        /// The column's Arrow type.
        data_type: DataType,
        /// The metadata key from `FROM 'key'`; `None` means the key is the column name.
        key: Option<String>,
        /// `VIRTUAL`: read-only, so not written when the table is a sink.
        is_virtual: bool,
    },
}

/// `WATERMARK FOR column AS expr`: `column` is the table's event time, and `expr` (usually
/// `column - INTERVAL 'n' UNIT`) computes the watermark from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatermarkDef {
    /// The event-time column; a TIMESTAMP(p) or TIMESTAMP_LTZ(p) column of the table.
    pub column: String,
    /// The watermark expression, unbound.
    pub expr: Expr,
}
