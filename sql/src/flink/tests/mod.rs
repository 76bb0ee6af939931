//! Tests of the Flink `CREATE TABLE` parser.

mod detect;
mod errors;
mod table;
mod types;

use crate::SqlError;

/// The 1-based character position of the `nth` (0-based) occurrence of `needle` in `sql`.
fn position_of(sql: &str, needle: &str, nth: usize) -> Option<usize> {
    let (byte, _) = sql.match_indices(needle).nth(nth)?;
    Some(sql[..byte].chars().count() + 1)
}

/// Asserts `result` failed with `state` at the first occurrence of `needle` in `sql`; returns
/// the error for further checks.
#[track_caller]
fn assert_error<T: std::fmt::Debug>(
    result: Result<T, SqlError>,
    state: &str,
    sql: &str,
    needle: &str,
) -> SqlError {
    let error = result.expect_err("expected an error");
    assert_eq!(error.state.code(), state, "{error:?}");
    assert_eq!(error.position, position_of(sql, needle, 0), "{error:?}");
    error
}
