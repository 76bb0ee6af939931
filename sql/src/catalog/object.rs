//! Catalog objects as they are stored: plain serde structs, encoded as JSON in the store.
//!
//! Each kind of object is one variant: durable tables, views, connector tables (sources and
//! sinks) and materialized views. Definitions keep the user's SQL so `SHOW CREATE` can print it and so an object can
//! be re-planned after a restart; a table's Arrow schema is stored too (as an Arrow IPC schema
//! message, which is stable across Arrow versions) so its data never depends on re-planning.

use serde::{Deserialize, Serialize};

/// A stored catalog object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObjectDef {
    /// A durable table (`CREATE TABLE` without a connector).
    Table(TableDef),
    /// A view (`CREATE VIEW`).
    View(ViewDef),
    /// A table read or written through a connector (a Flink `CREATE TABLE ... WITH (...)`).
    ConnectorTable(ConnectorTableDef),
    /// A materialized view (`CREATE MATERIALIZED VIEW`), kept up to date by a streaming job.
    MaterializedView(MaterializedViewDef),
}

impl ObjectDef {
    /// The object's name (unqualified, as stored).
    pub fn name(&self) -> &str {
        match self {
            ObjectDef::Table(t) => &t.name,
            ObjectDef::View(v) => &v.name,
            ObjectDef::ConnectorTable(t) => &t.name,
            ObjectDef::MaterializedView(v) => &v.name,
        }
    }

    /// The creation-ordered id (also the table's storage id).
    pub fn id(&self) -> u64 {
        match self {
            ObjectDef::Table(t) => t.id,
            ObjectDef::View(v) => v.id,
            ObjectDef::ConnectorTable(t) => t.id,
            ObjectDef::MaterializedView(v) => v.id,
        }
    }

    /// The statement that creates the object, for `SHOW CREATE`.
    pub fn definition(&self) -> &str {
        match self {
            ObjectDef::Table(t) => &t.definition,
            ObjectDef::View(v) => &v.definition,
            ObjectDef::ConnectorTable(t) => &t.definition,
            ObjectDef::MaterializedView(v) => &v.definition,
        }
    }

    /// What kind of object this is ("table", "view", "materialized view"); a connector table
    /// is a table, as in Flink.
    pub fn kind(&self) -> ObjectKind {
        match self {
            ObjectDef::Table(_) | ObjectDef::ConnectorTable(_) => ObjectKind::Table,
            ObjectDef::View(_) => ObjectKind::View,
            ObjectDef::MaterializedView(_) => ObjectKind::MaterializedView,
        }
    }
}

/// The kinds of catalog objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A durable table.
    Table,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectKind::Table => "table",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
        })
    }
}

/// A durable table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    /// Creation-ordered id, also the key of the table's rows in the store.
    pub id: u64,
    /// Unqualified name.
    pub name: String,
    /// The `CREATE TABLE` statement.
    pub definition: String,
    /// The Arrow schema as an IPC schema message, hex-encoded.
    pub schema_ipc: String,
}

/// A view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewDef {
    /// Creation-ordered id; views are re-planned in this order after a restart.
    pub id: u64,
    /// Unqualified name.
    pub name: String,
    /// The `CREATE VIEW` statement.
    pub definition: String,
    /// Names of the catalog objects the view reads (they cannot be dropped while it exists).
    pub depends_on: Vec<String>,
}

/// A connector table. Its definition is bound again after a restart (computed columns and the
/// watermark are expressions), like a view's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorTableDef {
    /// Creation-ordered id; re-bound in this order after a restart.
    pub id: u64,
    /// Unqualified name.
    pub name: String,
    /// The Flink `CREATE TABLE` statement.
    pub definition: String,
}

/// A materialized view: its query (re-planned and restarted after a restart) and the schema
/// of its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterializedViewDef {
    /// Creation-ordered id.
    pub id: u64,
    /// Unqualified name.
    pub name: String,
    /// The `CREATE MATERIALIZED VIEW` statement, as written (window TVF calls included).
    pub definition: String,
    /// The Arrow schema of its rows as an IPC schema message, hex-encoded.
    pub schema_ipc: String,
    /// Names of the catalog objects the view reads.
    pub depends_on: Vec<String>,
}
