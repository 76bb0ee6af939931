//! Flink and PostgreSQL type names, read into Arrow types.
//!
//! Flink spells composite types with angle brackets (`ARRAY<INT>`, `MAP<STRING, BIGINT>`,
//! `ROW<a INT, b STRING>`), PostgreSQL with suffixes (`INT[]`); both are accepted, as are `INT
//! ARRAY` and `ROW(a INT, b STRING)`. A `NOT NULL` after an element, value or field type makes
//! that element, value or field non-nullable.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, IntervalUnit, TimeUnit};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::cursor::{Cursor, Position};
use crate::{SqlError, SqlState};

/// How deeply types may nest (`ARRAY<ARRAY<...>>`) before parsing stops, so that hostile input
/// cannot overflow the stack.
const MAX_DEPTH: usize = 64;

/// The time zone of instant types (`TIMESTAMP_LTZ`, `TIMESTAMP WITH TIME ZONE`): values are
/// UTC instants, shown in the session's zone.
pub(crate) const UTC: &str = "+00:00";

/// Fields of an interval qualifier (`INTERVAL DAY TO SECOND`).
const INTERVAL_FIELDS: [&str; 6] = ["YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"];

/// Parses a Flink or PostgreSQL type name (`BIGINT`, `DECIMAL(10, 2)`, `TIMESTAMP_LTZ(3)`,
/// `ARRAY<ROW<a INT NOT NULL>>`, `text[]`, ...) into an Arrow type.
///
/// Errors: `42601` for malformed syntax, `42704` for an unknown type name, `22023` for an
/// out-of-range precision or length, `0A000` for types Runnel does not have; each with the
/// position of the offending token in `sql`.
pub fn parse_type(sql: &str) -> Result<DataType, SqlError> {
    let mut cursor = Cursor::new(sql)?;
    let data_type = data_type(&mut cursor, 0)?;
    cursor.expect(&Token::EOF)?;
    Ok(data_type)
}

/// A type followed by an optional `NOT NULL` or `NULL`; returns the type and its nullability.
pub(super) fn nullable_type(
    cursor: &mut Cursor<'_>,
    depth: usize,
) -> Result<(DataType, bool), SqlError> {
    let data_type = data_type(cursor, depth)?;
    if cursor.consume_word("NOT") {
        cursor.expect_word("NULL")?;
        return Ok((data_type, false));
    }
    let _ = cursor.consume_word("NULL");
    Ok((data_type, true))
}

/// A type with any number of array suffixes (`INT ARRAY`, `INT[]`, `INT[3]`).
pub(super) fn data_type(cursor: &mut Cursor<'_>, depth: usize) -> Result<DataType, SqlError> {
    if depth > MAX_DEPTH {
        return Err(cursor.error(SqlState::SYNTAX_ERROR, "type is too deeply nested"));
    }
    let mut data_type = base_type(cursor, depth)?;
    loop {
        if cursor.consume_word("ARRAY") {
            data_type = list(data_type, true);
        } else if cursor.consume(&Token::LBracket) {
            // PostgreSQL accepts and ignores an array size.
            if !cursor.peek(&Token::RBracket) {
                cursor.unsigned()?;
            }
            cursor.expect(&Token::RBracket)?;
            data_type = list(data_type, true);
        } else {
            return Ok(data_type);
        }
    }
}

/// A type name and its arguments.
fn base_type(cursor: &mut Cursor<'_>, depth: usize) -> Result<DataType, SqlError> {
    let (name, position) = cursor.ident()?;
    let data_type = match name.as_str() {
        // Arrow has no JSON type: JSON and JSONB are text here, and the catalog tags the
        // column's field with its PostgreSQL type (see `crate::types`).
        "string" | "text" | "json" | "jsonb" => DataType::Utf8,
        "varchar" => {
            length(cursor, &name)?;
            DataType::Utf8
        }
        "char" | "character" => {
            let _ = cursor.consume_word("VARYING");
            length(cursor, &name)?;
            DataType::Utf8
        }
        "boolean" | "bool" => DataType::Boolean,
        "tinyint" => DataType::Int8,
        "smallint" | "int2" => DataType::Int16,
        "int" | "integer" | "int4" => DataType::Int32,
        "bigint" | "int8" => DataType::Int64,
        "float" => float(cursor)?,
        "real" | "float4" => DataType::Float32,
        "float8" => DataType::Float64,
        "double" => {
            let _ = cursor.consume_word("PRECISION");
            DataType::Float64
        }
        "decimal" | "numeric" | "dec" => decimal(cursor)?,
        "date" => DataType::Date32,
        "time" => time(cursor)?,
        "timestamp" => timestamp(cursor)?,
        "timestamp_ltz" | "timestamptz" => {
            let unit = time_unit(cursor, "TIMESTAMP")?;
            DataType::Timestamp(unit, Some(Arc::from(UTC)))
        }
        "bytes" | "bytea" => DataType::Binary,
        "binary" | "varbinary" => {
            length(cursor, &name)?;
            DataType::Binary
        }
        "interval" => {
            interval_qualifier(cursor)?;
            DataType::Interval(IntervalUnit::MonthDayNano)
        }
        "array" => {
            cursor.expect(&Token::Lt)?;
            let (element, nullable) = nullable_type(cursor, depth + 1)?;
            cursor.expect_gt()?;
            list(element, nullable)
        }
        "map" => map(cursor, depth)?,
        "row" => row(cursor, depth)?,
        "multiset" | "raw" => {
            return Err(SqlError::unsupported(format!(
                "type {} is not supported",
                name.to_uppercase()
            ))
            .at(position));
        }
        _ => {
            return Err(SqlError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("type \"{name}\" does not exist"),
            )
            .at(position));
        }
    };
    Ok(data_type)
}

/// An Arrow list of `element`.
fn list(element: DataType, nullable: bool) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(element, nullable)))
}

/// An optional `(n)` length of a string or binary type; `n` must be at least 1.
fn length(cursor: &mut Cursor<'_>, name: &str) -> Result<(), SqlError> {
    if let Some((n, position)) = argument(cursor)?
        && n < 1
    {
        return Err(SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("length for type {name} must be at least 1"),
        )
        .at(position));
    }
    Ok(())
}

/// An optional `(n)` after a type name.
fn argument(cursor: &mut Cursor<'_>) -> Result<Option<(u64, Position)>, SqlError> {
    if !cursor.consume(&Token::LParen) {
        return Ok(None);
    }
    let argument = cursor.unsigned()?;
    cursor.expect(&Token::RParen)?;
    Ok(Some(argument))
}

/// `FLOAT[(p)]`: Flink's FLOAT is 4 bytes; PostgreSQL's `FLOAT(p)` picks by precision.
fn float(cursor: &mut Cursor<'_>) -> Result<DataType, SqlError> {
    match argument(cursor)? {
        None => Ok(DataType::Float32),
        Some((1..=24, _)) => Ok(DataType::Float32),
        Some((25..=53, _)) => Ok(DataType::Float64),
        Some((p, position)) => Err(SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("precision for type float must be between 1 and 53, not {p}"),
        )
        .at(position)),
    }
}

/// `DECIMAL[(p[, s])]`, Flink's default being `DECIMAL(10, 0)`.
fn decimal(cursor: &mut Cursor<'_>) -> Result<DataType, SqlError> {
    if !cursor.consume(&Token::LParen) {
        return Ok(DataType::Decimal128(10, 0));
    }
    let (precision, precision_at) = cursor.unsigned()?;
    let scale = if cursor.consume(&Token::Comma) {
        Some(cursor.unsigned()?)
    } else {
        None
    };
    cursor.expect(&Token::RParen)?;
    let precision = u8::try_from(precision)
        .ok()
        .filter(|p| (1..=38).contains(p))
        .ok_or_else(|| {
            SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("DECIMAL precision {precision} must be between 1 and 38"),
            )
            .at(precision_at)
        })?;
    let scale = match scale {
        None => 0,
        Some((scale, scale_at)) => i8::try_from(scale)
            .ok()
            .filter(|s| s.unsigned_abs() <= precision)
            .ok_or_else(|| {
                SqlError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("DECIMAL scale {scale} must be between 0 and precision {precision}"),
                )
                .at(scale_at)
            })?,
    };
    Ok(DataType::Decimal128(precision, scale))
}

/// `TIME[(p)] [WITHOUT TIME ZONE]`, always nanoseconds.
fn time(cursor: &mut Cursor<'_>) -> Result<DataType, SqlError> {
    time_unit(cursor, "TIME")?;
    if let Some(position) = time_zone(cursor)? {
        return Err(
            SqlError::unsupported("type TIME WITH TIME ZONE is not supported").at(position),
        );
    }
    Ok(DataType::Time64(TimeUnit::Nanosecond))
}

/// `TIMESTAMP[(p)] [WITHOUT TIME ZONE | WITH [LOCAL] TIME ZONE]`.
fn timestamp(cursor: &mut Cursor<'_>) -> Result<DataType, SqlError> {
    let unit = time_unit(cursor, "TIMESTAMP")?;
    let zone = time_zone(cursor)?.map(|_| Arc::from(UTC));
    Ok(DataType::Timestamp(unit, zone))
}

/// An optional `(p)` fractional-second precision (0 to 9, default 6 as in Flink), as the Arrow
/// unit that holds it.
fn time_unit(cursor: &mut Cursor<'_>, name: &str) -> Result<TimeUnit, SqlError> {
    let Some((precision, position)) = argument(cursor)? else {
        return Ok(TimeUnit::Microsecond);
    };
    match precision {
        0..=3 => Ok(TimeUnit::Millisecond),
        4..=6 => Ok(TimeUnit::Microsecond),
        7..=9 => Ok(TimeUnit::Nanosecond),
        _ => Err(SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("{name}({precision}) precision must be between 0 and 9"),
        )
        .at(position)),
    }
}

/// An optional `WITHOUT TIME ZONE` (`None`) or `WITH [LOCAL] TIME ZONE` (`Some(position of
/// WITH)`).
fn time_zone(cursor: &mut Cursor<'_>) -> Result<Option<Position>, SqlError> {
    if cursor.consume_word("WITHOUT") {
        cursor.expect_word("TIME")?;
        cursor.expect_word("ZONE")?;
        return Ok(None);
    }
    let position = cursor.position();
    if !cursor.consume_word("WITH") {
        return Ok(None);
    }
    let _ = cursor.consume_word("LOCAL");
    cursor.expect_word("TIME")?;
    cursor.expect_word("ZONE")?;
    Ok(Some(position))
}

/// `INTERVAL`'s optional qualifier (`DAY`, `DAY(2) TO SECOND(3)`, ...). One Arrow interval type
/// holds every qualifier's values, so the qualifier does not change the type.
fn interval_qualifier(cursor: &mut Cursor<'_>) -> Result<(), SqlError> {
    if cursor.consume_any_word(&INTERVAL_FIELDS).is_none() {
        return Ok(());
    }
    argument(cursor)?;
    if cursor.consume_word("TO") {
        if cursor.consume_any_word(&INTERVAL_FIELDS).is_none() {
            return Err(cursor.syntax_error());
        }
        argument(cursor)?;
    }
    Ok(())
}

/// `MAP<K, V>`: an Arrow map whose keys are never null.
fn map(cursor: &mut Cursor<'_>, depth: usize) -> Result<DataType, SqlError> {
    cursor.expect(&Token::Lt)?;
    let (key, _) = nullable_type(cursor, depth + 1)?;
    cursor.expect(&Token::Comma)?;
    let (value, value_nullable) = nullable_type(cursor, depth + 1)?;
    cursor.expect_gt()?;
    let entries = Fields::from(vec![
        Field::new("key", key, false),
        Field::new("value", value, value_nullable),
    ]);
    Ok(DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    ))
}

/// `ROW<name TYPE, ...>` or `ROW(name TYPE, ...)`: an Arrow struct.
fn row(cursor: &mut Cursor<'_>, depth: usize) -> Result<DataType, SqlError> {
    let angle = if cursor.consume(&Token::Lt) {
        true
    } else {
        cursor.expect(&Token::LParen)?;
        false
    };
    let mut fields: Vec<Field> = Vec::new();
    loop {
        let (name, position) = cursor.ident()?;
        if fields.iter().any(|field| *field.name() == name) {
            return Err(SqlError::new(
                SqlState::DUPLICATE_COLUMN,
                format!("field \"{name}\" specified more than once"),
            )
            .at(position));
        }
        let (data_type, nullable) = nullable_type(cursor, depth + 1)?;
        fields.push(Field::new(name, data_type, nullable));
        if !cursor.consume(&Token::Comma) {
            break;
        }
    }
    if angle {
        cursor.expect_gt()?;
    } else {
        cursor.expect(&Token::RParen)?;
    }
    Ok(DataType::Struct(Fields::from(fields)))
}
