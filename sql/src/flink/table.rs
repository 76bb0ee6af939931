//! The `CREATE TABLE` statement:
//!
//! ```text
//! CREATE TABLE [IF NOT EXISTS] name (
//!     element [, element]*
//! )
//! [COMMENT 'text']
//! [WITH ('key' = 'value' [, 'key' = 'value']*)]
//! [;]
//!
//! element :=
//!     name type [NOT NULL | NULL] [[CONSTRAINT c] PRIMARY KEY NOT ENFORCED] [COMMENT 'text']
//!   | name type [NULL] METADATA [FROM 'key'] [VIRTUAL] [COMMENT 'text']
//!   | name AS expr [COMMENT 'text']
//!   | WATERMARK FOR name AS expr
//!   | [CONSTRAINT c] PRIMARY KEY (name [, name]*) NOT ENFORCED
//! ```
//!
//! `CREATE TEMPORARY TABLE`, `PARTITIONED BY`, `LIKE` and constraints other than primary keys
//! are Flink or PostgreSQL syntax Runnel does not support: they fail with `0A000`.

use datafusion::sql::sqlparser::tokenizer::Token;

use super::ast::{ColumnDef, ColumnKind, StreamTableDef, WatermarkDef};
use super::builder::TableBuilder;
use super::cursor::{Cursor, Position};
use super::types::nullable_type;
use crate::{SqlError, SqlState};

/// Constraints other than primary keys, which Runnel does not have.
const OTHER_CONSTRAINTS: [&str; 4] = ["UNIQUE", "CHECK", "FOREIGN", "EXCLUDE"];

/// Parses one Flink `CREATE TABLE` statement (with an optional trailing `;`) and checks it:
/// column names are unique, the watermark's column is a timestamp column of the table, the
/// primary key's columns exist and are physical, option keys are unique.
///
/// Errors carry a SQLSTATE and the 1-based character position in `sql` of the token they are
/// about: `42601` syntax errors (and a second `WATERMARK`), `42704` unknown types, `42701`
/// duplicate columns, `42703` unknown watermark or key columns, `42804` a watermark on a
/// non-timestamp column, `42710` duplicate option keys, `42P16` a second primary key or a key
/// on a computed or metadata column, `0A000` unsupported syntax (including a primary key
/// without `NOT ENFORCED`, which Flink requires).
pub fn parse_create_table(sql: &str) -> Result<StreamTableDef, SqlError> {
    // Flink's backquoted identifiers (`value`), double-quoted in place.
    let quoted = super::backquotes_to_double_quotes(sql);
    let mut cursor = Cursor::new(&quoted)?;
    cursor.expect_word("CREATE")?;
    if cursor.peek_word("TEMPORARY") || cursor.peek_word("TEMP") {
        return Err(cursor.error(
            SqlState::FEATURE_NOT_SUPPORTED,
            "temporary tables are not supported",
        ));
    }
    cursor.expect_word("TABLE")?;
    let if_not_exists = cursor.peek_word("IF") && cursor.peek_nth_word(1, "NOT");
    if if_not_exists {
        cursor.expect_word("IF")?;
        cursor.expect_word("NOT")?;
        cursor.expect_word("EXISTS")?;
    }
    let mut table = TableBuilder::new(cursor.object_name()?);

    cursor.expect(&Token::LParen)?;
    loop {
        element(&mut cursor, &mut table)?;
        if !cursor.consume(&Token::Comma) {
            break;
        }
    }
    cursor.expect(&Token::RParen)?;

    let comment = comment(&mut cursor)?;
    if cursor.peek_word("PARTITIONED") {
        return Err(unsupported(&cursor, "PARTITIONED BY is not supported"));
    }
    if cursor.consume_word("WITH") {
        options(&mut cursor, &mut table)?;
    }
    if cursor.peek_word("LIKE") {
        return Err(unsupported(
            &cursor,
            "CREATE TABLE ... LIKE is not supported",
        ));
    }
    cursor.expect_end()?;
    table.finish(if_not_exists, comment)
}

/// One element of the parenthesized list: a column, the watermark or a constraint.
fn element(cursor: &mut Cursor<'_>, table: &mut TableBuilder) -> Result<(), SqlError> {
    if cursor.peek_word("WATERMARK") && cursor.peek_nth_word(1, "FOR") {
        return watermark(cursor, table);
    }
    if cursor.peek_word("CONSTRAINT") || cursor.peek_word("PRIMARY") {
        return table_constraint(cursor, table);
    }
    if OTHER_CONSTRAINTS.iter().any(|word| cursor.peek_word(word)) {
        return Err(other_constraint(cursor));
    }
    if cursor.peek_word("LIKE") {
        return Err(unsupported(
            cursor,
            "CREATE TABLE ... LIKE is not supported",
        ));
    }
    column(cursor, table)
}

/// `WATERMARK FOR column AS expr`.
fn watermark(cursor: &mut Cursor<'_>, table: &mut TableBuilder) -> Result<(), SqlError> {
    let clause = cursor.position();
    cursor.expect_word("WATERMARK")?;
    cursor.expect_word("FOR")?;
    let (column, column_position) = cursor.ident()?;
    cursor.expect_word("AS")?;
    let expr = cursor.expr()?;
    table.set_watermark(WatermarkDef { column, expr }, clause, column_position)
}

/// `[CONSTRAINT name] PRIMARY KEY (column, ...) NOT ENFORCED`.
fn table_constraint(cursor: &mut Cursor<'_>, table: &mut TableBuilder) -> Result<(), SqlError> {
    constraint_name(cursor)?;
    let clause = cursor.position();
    cursor.expect_word("PRIMARY")?;
    cursor.expect_word("KEY")?;
    cursor.expect(&Token::LParen)?;
    let mut columns = Vec::new();
    loop {
        columns.push(cursor.ident()?);
        if !cursor.consume(&Token::Comma) {
            break;
        }
    }
    cursor.expect(&Token::RParen)?;
    not_enforced(cursor, clause)?;
    table.set_primary_key(columns, clause)
}

/// An optional `CONSTRAINT name`. Flink names constraints only for messages; Runnel accepts
/// the name and does not keep it. A name must be followed by `PRIMARY KEY`.
fn constraint_name(cursor: &mut Cursor<'_>) -> Result<(), SqlError> {
    if !cursor.consume_word("CONSTRAINT") {
        return Ok(());
    }
    cursor.ident()?;
    if OTHER_CONSTRAINTS.iter().any(|word| cursor.peek_word(word)) {
        return Err(other_constraint(cursor));
    }
    if !cursor.peek_word("PRIMARY") {
        return Err(cursor.syntax_error());
    }
    Ok(())
}

/// `NOT ENFORCED` after a primary key; `clause` is where the key's `PRIMARY` is.
fn not_enforced(cursor: &mut Cursor<'_>, clause: Position) -> Result<(), SqlError> {
    if cursor.consume_word("NOT") {
        return cursor.expect_word("ENFORCED");
    }
    Err(SqlError::unsupported(
        "Flink requires PRIMARY KEY constraints to be declared NOT ENFORCED",
    )
    .with_hint("Runnel, like Flink, does not check primary keys: write PRIMARY KEY ... NOT ENFORCED")
    .at(clause))
}

/// A physical, metadata or computed column.
fn column(cursor: &mut Cursor<'_>, table: &mut TableBuilder) -> Result<(), SqlError> {
    let (name, position) = cursor.ident()?;
    if cursor.consume_word("AS") {
        let expr = cursor.expr()?;
        let comment = comment(cursor)?;
        let kind = ColumnKind::Computed { expr };
        return table.add_column(
            ColumnDef {
                name,
                kind,
                comment,
            },
            position,
        );
    }

    let (data_type, nullable) = nullable_type(cursor, 0)?;
    if cursor.peek_word("METADATA") {
        if !nullable {
            return Err(unsupported(
                cursor,
                format!("metadata column \"{name}\" cannot be NOT NULL"),
            ));
        }
        cursor.expect_word("METADATA")?;
        let key = if cursor.consume_word("FROM") {
            Some(cursor.string()?.0)
        } else {
            None
        };
        let is_virtual = cursor.consume_word("VIRTUAL");
        let comment = comment(cursor)?;
        let kind = ColumnKind::Metadata {
            data_type,
            key,
            is_virtual,
        };
        return table.add_column(
            ColumnDef {
                name,
                kind,
                comment,
            },
            position,
        );
    }

    let key = column_constraint(cursor)?;
    let comment = comment(cursor)?;
    let kind = ColumnKind::Physical {
        data_type,
        nullable,
    };
    let column = ColumnDef {
        name: name.clone(),
        kind,
        comment,
    };
    table.add_column(column, position)?;
    match key {
        Some(clause) => table.set_primary_key(vec![(name, position)], clause),
        None => Ok(()),
    }
}

/// An optional `[CONSTRAINT name] PRIMARY KEY NOT ENFORCED` after a column's type; returns
/// where its `PRIMARY` is.
fn column_constraint(cursor: &mut Cursor<'_>) -> Result<Option<Position>, SqlError> {
    if !cursor.peek_word("CONSTRAINT") && !cursor.peek_word("PRIMARY") {
        if OTHER_CONSTRAINTS.iter().any(|word| cursor.peek_word(word)) {
            return Err(other_constraint(cursor));
        }
        return Ok(None);
    }
    constraint_name(cursor)?;
    let clause = cursor.position();
    cursor.expect_word("PRIMARY")?;
    cursor.expect_word("KEY")?;
    not_enforced(cursor, clause)?;
    Ok(Some(clause))
}

/// An optional `COMMENT 'text'`.
fn comment(cursor: &mut Cursor<'_>) -> Result<Option<String>, SqlError> {
    if !cursor.consume_word("COMMENT") {
        return Ok(None);
    }
    Ok(Some(cursor.string()?.0))
}

/// `('key' = 'value', ...)` after `WITH`.
fn options(cursor: &mut Cursor<'_>, table: &mut TableBuilder) -> Result<(), SqlError> {
    cursor.expect(&Token::LParen)?;
    loop {
        let (key, position) = cursor.string()?;
        cursor.expect(&Token::Eq)?;
        let (value, _) = cursor.string()?;
        table.add_option(key, value, position)?;
        if !cursor.consume(&Token::Comma) {
            break;
        }
    }
    cursor.expect(&Token::RParen)
}

/// `0A000` at the next token.
fn unsupported(cursor: &Cursor<'_>, message: impl Into<String>) -> SqlError {
    cursor.error(SqlState::FEATURE_NOT_SUPPORTED, message)
}

/// `0A000` for a `UNIQUE`, `CHECK`, `FOREIGN KEY` or `EXCLUDE` constraint at the next token.
fn other_constraint(cursor: &Cursor<'_>) -> SqlError {
    unsupported(
        cursor,
        "only PRIMARY KEY ... NOT ENFORCED constraints are supported",
    )
}
