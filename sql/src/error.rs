//! SQL errors as users see them: a SQLSTATE, a message, and where in the text it went wrong.
//!
//! Every failure of a statement ends up as a [`SqlError`]. DataFusion's errors are classified
//! here once (by variant, and by message where DataFusion has no finer variant), so the server
//! only has to put the fields on the wire.

use datafusion::arrow::error::ArrowError;
use datafusion::common::{DataFusionError, SchemaError};
use datafusion::sql::sqlparser::parser::ParserError;

use crate::parser::TextMap;

/// A SQLSTATE code (see the PostgreSQL manual's "PostgreSQL Error Codes" appendix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlState(pub &'static str);

#[allow(missing_docs)]
impl SqlState {
    pub const FEATURE_NOT_SUPPORTED: SqlState = SqlState("0A000");
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState("22023");
    pub const DIVISION_BY_ZERO: SqlState = SqlState("22012");
    pub const NUMERIC_VALUE_OUT_OF_RANGE: SqlState = SqlState("22003");
    pub const INVALID_TEXT_REPRESENTATION: SqlState = SqlState("22P02");
    pub const INVALID_DATETIME_FORMAT: SqlState = SqlState("22007");
    pub const NOT_NULL_VIOLATION: SqlState = SqlState("23502");
    pub const IN_FAILED_SQL_TRANSACTION: SqlState = SqlState("25P02");
    pub const DEPENDENT_OBJECTS_STILL_EXIST: SqlState = SqlState("2BP01");
    pub const INVALID_CATALOG_NAME: SqlState = SqlState("3D000");
    pub const INVALID_SCHEMA_NAME: SqlState = SqlState("3F000");
    pub const SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION: SqlState = SqlState("42000");
    pub const SYNTAX_ERROR: SqlState = SqlState("42601");
    pub const UNDEFINED_COLUMN: SqlState = SqlState("42703");
    pub const UNDEFINED_TABLE: SqlState = SqlState("42P01");
    pub const UNDEFINED_FUNCTION: SqlState = SqlState("42883");
    pub const UNDEFINED_OBJECT: SqlState = SqlState("42704");
    pub const UNDEFINED_PARAMETER: SqlState = SqlState("42P02");
    pub const DUPLICATE_TABLE: SqlState = SqlState("42P07");
    pub const DUPLICATE_COLUMN: SqlState = SqlState("42701");
    pub const AMBIGUOUS_COLUMN: SqlState = SqlState("42702");
    pub const DATATYPE_MISMATCH: SqlState = SqlState("42804");
    pub const WRONG_OBJECT_TYPE: SqlState = SqlState("42809");
    pub const GROUPING_ERROR: SqlState = SqlState("42803");
    pub const INVALID_COLUMN_DEFINITION: SqlState = SqlState("42611");
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: SqlState = SqlState("55000");
    pub const CANT_CHANGE_RUNTIME_PARAM: SqlState = SqlState("55P02");
    pub const QUERY_CANCELED: SqlState = SqlState("57014");
    pub const OUT_OF_MEMORY: SqlState = SqlState("53200");
    pub const IO_ERROR: SqlState = SqlState("58030");
    pub const INTERNAL_ERROR: SqlState = SqlState("XX000");

    /// The five-character code.
    pub fn code(self) -> &'static str {
        self.0
    }
}

/// A statement's failure, ready to be shown to a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    /// SQLSTATE class and condition.
    pub state: SqlState,
    /// Primary message, one line, lower case like PostgreSQL's.
    pub message: String,
    /// 1-based character position in the query string the client sent, when known.
    pub position: Option<usize>,
    /// Optional secondary message.
    pub detail: Option<String>,
    /// Optional suggestion.
    pub hint: Option<String>,
}

impl SqlError {
    /// An error with a code and message and nothing else.
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        SqlError {
            state,
            message: message.into(),
            position: None,
            detail: None,
            hint: None,
        }
    }

    /// Sets the position (1-based character index into the query string).
    pub fn at(mut self, position: Option<usize>) -> Self {
        if self.position.is_none() {
            self.position = position;
        }
        self
    }

    /// Sets the detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `0A000`: something Runnel does not do (yet).
    pub fn unsupported(message: impl Into<String>) -> Self {
        SqlError::new(SqlState::FEATURE_NOT_SUPPORTED, message)
    }

    /// Classifies a parser error; `text` locates `Line: l, Column: c` in the original string.
    pub fn from_parser(error: &ParserError, text: &TextMap<'_>) -> Self {
        let raw = match error {
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.as_str(),
            ParserError::RecursionLimitExceeded => {
                return SqlError::new(
                    SqlState::SYNTAX_ERROR,
                    "statement is too deeply nested (recursion limit exceeded)",
                );
            }
        };
        let (body, position) = split_location(raw, text);
        // "at end of input" has no location of its own: point just past the statement.
        let position = position.or_else(|| text.end_position());
        let message = match body.rsplit_once("found: ") {
            Some((_, found)) if found.trim() == "EOF" => "syntax error at end of input".to_string(),
            Some((_, found)) => format!("syntax error at or near \"{}\"", found.trim()),
            None => format!("syntax error: {body}"),
        };
        let mut error = SqlError::new(SqlState::SYNTAX_ERROR, message).at(position);
        if body.contains("found: ") {
            error = error.with_detail(body.to_string());
        }
        error
    }

    /// Classifies a DataFusion error raised while planning or running `statement`.
    pub fn from_datafusion(error: &DataFusionError, text: &TextMap<'_>) -> Self {
        let position = error
            .diagnostic()
            .and_then(|d| d.span)
            .and_then(|span| text.position(span.start.line, span.start.column));
        classify(error.find_root(), text).at(position)
    }
}

/// Splits sqlparser's " at Line: l, Column: c" suffix off a message and resolves it.
fn split_location<'a>(raw: &'a str, text: &TextMap<'_>) -> (&'a str, Option<usize>) {
    let Some(index) = raw.rfind(" at Line: ") else {
        return (raw, None);
    };
    let (body, location) = raw.split_at(index);
    let mut numbers = location
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse::<u64>().ok());
    let position = match (numbers.next(), numbers.next()) {
        (Some(line), Some(column)) => text.position(line, column),
        _ => None,
    };
    (body, position)
}

fn classify(error: &DataFusionError, text: &TextMap<'_>) -> SqlError {
    match error {
        DataFusionError::SQL(parser_error, _) => SqlError::from_parser(parser_error, text),
        DataFusionError::SchemaError(schema_error, _) => classify_schema(schema_error, text),
        DataFusionError::NotImplemented(message) => {
            SqlError::unsupported(format!("not supported: {message}"))
        }
        DataFusionError::ArrowError(arrow_error, _) => classify_arrow(arrow_error),
        DataFusionError::ResourcesExhausted(message) => {
            SqlError::new(SqlState::OUT_OF_MEMORY, format!("out of memory: {message}"))
        }
        DataFusionError::Plan(message) => classify_plan(message, text),
        DataFusionError::Execution(message) => classify_execution(message),
        DataFusionError::External(inner) => match inner.downcast_ref::<SqlError>() {
            Some(sql_error) => sql_error.clone(),
            None => SqlError::new(SqlState::INTERNAL_ERROR, inner.to_string()),
        },
        other => SqlError::new(SqlState::INTERNAL_ERROR, other.strip_backtrace()),
    }
}

fn classify_schema(error: &SchemaError, text: &TextMap<'_>) -> SqlError {
    match error {
        SchemaError::FieldNotFound { field, .. } => {
            let name = field.name();
            SqlError::new(
                SqlState::UNDEFINED_COLUMN,
                format!("column \"{}\" does not exist", field.flat_name()),
            )
            .at(text.find_identifier(name))
        }
        SchemaError::AmbiguousReference { field } => SqlError::new(
            SqlState::AMBIGUOUS_COLUMN,
            format!("column reference \"{}\" is ambiguous", field.name()),
        )
        .at(text.find_identifier(field.name())),
        SchemaError::DuplicateQualifiedField { name, .. }
        | SchemaError::DuplicateUnqualifiedField { name } => SqlError::new(
            SqlState::DUPLICATE_COLUMN,
            format!("column \"{name}\" specified more than once"),
        ),
    }
}

fn classify_arrow(error: &ArrowError) -> SqlError {
    match error {
        ArrowError::DivideByZero => SqlError::new(SqlState::DIVISION_BY_ZERO, "division by zero"),
        ArrowError::CastError(message) | ArrowError::ParseError(message) => {
            let state = if message.contains("overflow") || message.contains("Overflow") {
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE
            } else {
                SqlState::INVALID_TEXT_REPRESENTATION
            };
            SqlError::new(state, message.clone())
        }
        ArrowError::ArithmeticOverflow(message) => {
            SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, message.clone())
        }
        ArrowError::ComputeError(message) if message.contains("verflow") => {
            SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, message.clone())
        }
        other => SqlError::new(SqlState::INTERNAL_ERROR, other.to_string()),
    }
}

/// DataFusion reports most semantic errors as `Plan(String)`; the message tells them apart.
fn classify_plan(message: &str, text: &TextMap<'_>) -> SqlError {
    if let Some(name) = quoted_after(message, "table '")
        .or_else(|| quoted_after(message, "Table or CTE with name '"))
        && message.contains("not found")
    {
        let short = name.rsplit('.').next().unwrap_or(&name).to_string();
        return SqlError::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{short}\" does not exist"),
        )
        .at(text.find_identifier(&short));
    }
    if message.contains("Invalid function") || message.contains("Unknown function") {
        let name = quoted_after(message, "function '").unwrap_or_default();
        return SqlError::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function {name} does not exist"),
        )
        .with_detail(message.to_string())
        .at(text.find_identifier(&name));
    }
    if message.contains("does not support") && message.contains("function") {
        return SqlError::new(SqlState::UNDEFINED_FUNCTION, message.to_string());
    }
    if message.contains("coerce")
        || message.contains("Coercion")
        || message.contains("No function matches")
        || message.contains("Failed to coerce")
    {
        return SqlError::new(SqlState::UNDEFINED_FUNCTION, message.to_string())
            .with_hint("no operator or function matches the given argument types; you might need to add explicit type casts");
    }
    if message.contains("type")
        && (message.contains("mismatch")
            || message.contains("Cannot cast")
            || message.contains("Cannot infer"))
    {
        return SqlError::new(SqlState::DATATYPE_MISMATCH, message.to_string());
    }
    if message.contains("GROUP BY") || message.contains("must appear in the GROUP BY") {
        return SqlError::new(SqlState::GROUPING_ERROR, message.to_string());
    }
    if message.contains("No value found for placeholder") || message.contains("placeholder") {
        return SqlError::new(SqlState::UNDEFINED_PARAMETER, message.to_string());
    }
    SqlError::new(
        SqlState::SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION,
        message.to_string(),
    )
}

fn classify_execution(message: &str) -> SqlError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("divide by zero") || lower.contains("division by zero") {
        SqlError::new(SqlState::DIVISION_BY_ZERO, "division by zero")
    } else if lower.contains("overflow") {
        SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, message.to_string())
    } else if lower.contains("non-nullable") || lower.contains("null value") {
        SqlError::new(SqlState::NOT_NULL_VIOLATION, message.to_string())
    } else if lower.contains("cannot cast") || lower.contains("invalid") {
        SqlError::new(SqlState::INVALID_TEXT_REPRESENTATION, message.to_string())
    } else {
        SqlError::new(SqlState::INTERNAL_ERROR, message.to_string())
    }
}

/// The text between `prefix'` and the next `'` in `message`.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let start = message.find(prefix)? + prefix.len();
    let rest = &message[start..];
    let end = rest.find('\'')?;
    Some(rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::TextMap;

    #[test]
    fn unknown_table_is_42p01_with_position() {
        let sql = "SELECT * FROM nope";
        let error = classify_plan("table 'runnel.public.nope' not found", &TextMap::whole(sql));
        assert_eq!(error.state, SqlState::UNDEFINED_TABLE);
        assert_eq!(error.message, "relation \"nope\" does not exist");
        assert_eq!(error.position, Some(15));
    }

    #[test]
    fn division_by_zero_is_22012() {
        let error = classify_arrow(&ArrowError::DivideByZero);
        assert_eq!(error.state, SqlState::DIVISION_BY_ZERO);
    }
}
