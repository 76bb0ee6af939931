//! Catalog objects as they are stored: plain serde structs, encoded as JSON in the store.
//!
//! Each kind of object is one variant; sources, sinks and materialized views become more
//! variants. Definitions keep the user's SQL so `SHOW CREATE` can print it and so an object can
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
}

impl ObjectDef {
    /// The object's name (unqualified, as stored).
    pub fn name(&self) -> &str {
        match self {
            ObjectDef::Table(t) => &t.name,
            ObjectDef::View(v) => &v.name,
        }
    }

    /// The creation-ordered id (also the table's storage id).
    pub fn id(&self) -> u64 {
        match self {
            ObjectDef::Table(t) => t.id,
            ObjectDef::View(v) => v.id,
        }
    }

    /// The statement that creates the object, for `SHOW CREATE`.
    pub fn definition(&self) -> &str {
        match self {
            ObjectDef::Table(t) => &t.definition,
            ObjectDef::View(v) => &v.definition,
        }
    }

    /// What kind of object this is, in words ("table", "view").
    pub fn kind(&self) -> ObjectKind {
        match self {
            ObjectDef::Table(_) => ObjectKind::Table,
            ObjectDef::View(_) => ObjectKind::View,
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
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectKind::Table => "table",
            ObjectKind::View => "view",
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
