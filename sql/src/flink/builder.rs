//! Collects a table's parts as they are parsed and checks that they fit together.
//!
//! Checks that need only what came before (duplicate names, a second watermark or primary key)
//! run as each part arrives; checks that need the whole column list (the watermark's and the
//! key's columns) run in [`TableBuilder::finish`]. Every error points at the name it is about.

use datafusion::arrow::datatypes::{DataType, Field};

use super::ast::{ColumnDef, ColumnKind, StreamTableDef, WatermarkDef};
use super::cursor::Position;
use crate::types::pg_type_name;
use crate::{SqlError, SqlState};

/// `42710`: an object (here, a table option) named twice.
const DUPLICATE_OBJECT: SqlState = SqlState("42710");
/// `42P16`: a table definition that is well-formed but makes no sense.
const INVALID_TABLE_DEFINITION: SqlState = SqlState("42P16");

/// A table being parsed.
pub(super) struct TableBuilder {
    name: String,
    columns: Vec<ColumnDef>,
    /// The watermark, with the position of its column's name.
    watermark: Option<(WatermarkDef, Position)>,
    /// The key's columns, each with the position of its name.
    primary_key: Option<Vec<(String, Position)>>,
    options: Vec<(String, String)>,
}

impl TableBuilder {
    /// An empty table called `name`.
    pub(super) fn new(name: String) -> Self {
        TableBuilder {
            name,
            columns: Vec::new(),
            watermark: None,
            primary_key: None,
            options: Vec::new(),
        }
    }

    /// Adds a column; `position` is where its name is.
    pub(super) fn add_column(
        &mut self,
        column: ColumnDef,
        position: Position,
    ) -> Result<(), SqlError> {
        if self.column(&column.name).is_some() {
            return Err(SqlError::new(
                SqlState::DUPLICATE_COLUMN,
                format!("column \"{}\" specified more than once", column.name),
            )
            .at(position));
        }
        self.columns.push(column);
        Ok(())
    }

    /// Sets the watermark; `clause` is where its `WATERMARK` keyword is, `column` where its
    /// column's name is.
    pub(super) fn set_watermark(
        &mut self,
        watermark: WatermarkDef,
        clause: Position,
        column: Position,
    ) -> Result<(), SqlError> {
        if self.watermark.is_some() {
            return Err(SqlError::new(
                SqlState::SYNTAX_ERROR,
                format!(
                    "multiple WATERMARK clauses for table \"{}\" are not allowed",
                    self.name
                ),
            )
            .at(clause));
        }
        self.watermark = Some((watermark, column));
        Ok(())
    }

    /// Sets the primary key; `clause` is where its `PRIMARY` keyword is.
    pub(super) fn set_primary_key(
        &mut self,
        columns: Vec<(String, Position)>,
        clause: Position,
    ) -> Result<(), SqlError> {
        if self.primary_key.is_some() {
            return Err(SqlError::new(
                INVALID_TABLE_DEFINITION,
                format!(
                    "multiple primary keys for table \"{}\" are not allowed",
                    self.name
                ),
            )
            .at(clause));
        }
        for (index, (name, position)) in columns.iter().enumerate() {
            if columns[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(SqlError::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!("column \"{name}\" appears twice in primary key constraint"),
                )
                .at(*position));
            }
        }
        self.primary_key = Some(columns);
        Ok(())
    }

    /// Adds a `WITH` option; `position` is where its key is.
    pub(super) fn add_option(
        &mut self,
        key: String,
        value: String,
        position: Position,
    ) -> Result<(), SqlError> {
        if self.options.iter().any(|(existing, _)| *existing == key) {
            return Err(SqlError::new(
                DUPLICATE_OBJECT,
                format!("option \"{key}\" specified more than once"),
            )
            .at(position));
        }
        self.options.push((key, value));
        Ok(())
    }

    /// Checks the key and the watermark against the columns and returns the table. Key columns
    /// become NOT NULL.
    pub(super) fn finish(
        mut self,
        if_not_exists: bool,
        comment: Option<String>,
    ) -> Result<StreamTableDef, SqlError> {
        let primary_key = match self.primary_key.take() {
            Some(key) => Some(self.check_primary_key(key)?),
            None => None,
        };
        let watermark = match self.watermark.take() {
            Some((watermark, position)) => Some(self.check_watermark(watermark, position)?),
            None => None,
        };
        Ok(StreamTableDef {
            name: self.name,
            if_not_exists,
            columns: self.columns,
            watermark,
            primary_key,
            comment,
            options: self.options,
        })
    }

    /// Key columns must be physical columns of the table; they are made NOT NULL.
    fn check_primary_key(&mut self, key: Vec<(String, Position)>) -> Result<Vec<String>, SqlError> {
        let mut names = Vec::with_capacity(key.len());
        for (name, position) in key {
            let column = self.columns.iter_mut().find(|c| c.name == name);
            match column.map(|c| &mut c.kind) {
                Some(ColumnKind::Physical { nullable, .. }) => *nullable = false,
                Some(_) => {
                    return Err(SqlError::new(
                        INVALID_TABLE_DEFINITION,
                        format!(
                            "column \"{name}\" cannot be in the primary key: \
                             it is not a physical column"
                        ),
                    )
                    .at(position));
                }
                None => {
                    return Err(SqlError::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!("column \"{name}\" named in key does not exist"),
                    )
                    .at(position));
                }
            }
            names.push(name);
        }
        Ok(names)
    }

    /// The watermark's column must exist and be a timestamp (a computed column's type is not
    /// known until planning, so it is accepted here).
    fn check_watermark(
        &self,
        watermark: WatermarkDef,
        position: Position,
    ) -> Result<WatermarkDef, SqlError> {
        let Some(column) = self.column(&watermark.column) else {
            return Err(SqlError::new(
                SqlState::UNDEFINED_COLUMN,
                format!("column \"{}\" does not exist", watermark.column),
            )
            .at(position));
        };
        match &column.kind {
            ColumnKind::Computed { .. } => Ok(watermark),
            ColumnKind::Physical { data_type, .. } | ColumnKind::Metadata { data_type, .. } => {
                if matches!(data_type, DataType::Timestamp(..)) {
                    return Ok(watermark);
                }
                let type_name = pg_type_name(&Field::new(&column.name, data_type.clone(), true));
                Err(SqlError::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "watermark column \"{}\" is of type {type_name}, \
                         but must be TIMESTAMP(p) or TIMESTAMP_LTZ(p)",
                        column.name
                    ),
                )
                .at(position))
            }
        }
    }

    fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|column| column.name == name)
    }
}
