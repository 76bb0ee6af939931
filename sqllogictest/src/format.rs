//! Turning simple-query responses into the strings sqllogictest compares.
//!
//! Kept free of any I/O so the conventions (how NULL and empty strings are
//! printed, which statement of a multi-statement string wins) can be unit
//! tested without a server.

use sqllogictest::{DBOutput, DefaultColumnType};

/// How a SQL `NULL` is printed in expected results.
///
/// Same convention as DataFusion's and RisingWave's `.slt` suites, so their
/// files can be adapted without rewriting result blocks.
pub const NULL_TEXT: &str = "NULL";

/// How an empty string is printed in expected results.
///
/// An empty value would otherwise vanish when sqllogictest splits a result
/// line on whitespace, so it gets a visible placeholder.
pub const EMPTY_TEXT: &str = "(empty)";

/// Renders one value, as sent in text form by the server, for a result line.
///
/// `None` is a SQL `NULL`; every other value is passed through unchanged,
/// except the empty string (see [`EMPTY_TEXT`]).
pub fn format_value(value: Option<&str>) -> String {
    match value {
        None => NULL_TEXT.to_owned(),
        Some("") => EMPTY_TEXT.to_owned(),
        Some(text) => text.to_owned(),
    }
}

/// One server response of interest while running a simple query.
///
/// A protocol-independent mirror of `tokio_postgres::SimpleQueryMessage`
/// (whose rows cannot be built outside that crate), so that
/// [`OutputBuilder`] can be tested on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The statement returns rows with this many columns (`RowDescription`).
    Columns(usize),
    /// One row, already rendered with [`format_value`].
    Row(Vec<String>),
    /// The statement finished, having affected or returned this many rows.
    Complete(u64),
}

/// Folds the responses of one simple-query call into a [`DBOutput`].
///
/// A query string may hold several statements; the output of the **last**
/// one is reported, as `psql` does. A statement that described columns is
/// reported as rows even when it returned none, so `query` records that
/// expect an empty result compare rows rather than a bare completion.
#[derive(Debug, Default)]
pub struct OutputBuilder {
    columns: Option<usize>,
    rows: Vec<Vec<String>>,
    last: Option<Finished>,
}

/// The output of a statement that has completed.
#[derive(Debug)]
enum Finished {
    Rows {
        columns: usize,
        rows: Vec<Vec<String>>,
    },
    Count(u64),
}

impl OutputBuilder {
    /// Starts with no statement seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next response, in the order the server sent them.
    pub fn push(&mut self, response: Response) {
        match response {
            Response::Columns(count) => {
                self.columns = Some(count);
                self.rows.clear();
            }
            Response::Row(row) => self.rows.push(row),
            Response::Complete(count) => {
                let rows = std::mem::take(&mut self.rows);
                self.last = Some(match self.columns.take() {
                    Some(columns) => Finished::Rows { columns, rows },
                    // Rows without a description cannot come from a
                    // well-behaved server; keep them rather than hide them.
                    None if !rows.is_empty() => Finished::Rows {
                        columns: rows.first().map_or(0, Vec::len),
                        rows,
                    },
                    None => Finished::Count(count),
                });
            }
        }
    }

    /// Produces the output of the last statement.
    ///
    /// An empty query string (no statement at all) counts as a statement
    /// that affected zero rows.
    pub fn finish(mut self) -> DBOutput<DefaultColumnType> {
        // Tolerate a missing final CommandComplete: close the open statement.
        if self.columns.is_some() || !self.rows.is_empty() {
            self.push(Response::Complete(0));
        }
        match self.last {
            Some(Finished::Rows { columns, rows }) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; columns],
                rows,
            },
            Some(Finished::Count(count)) => DBOutput::StatementComplete(count),
            None => DBOutput::StatementComplete(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a test wants to see of a [`DBOutput`], which implements no `Debug`.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Rows(usize, Vec<Vec<String>>),
        Count(u64),
    }

    fn build(responses: Vec<Response>) -> Seen {
        let mut builder = OutputBuilder::new();
        for response in responses {
            builder.push(response);
        }
        match builder.finish() {
            DBOutput::Rows { types, rows } => {
                assert!(types.iter().all(|t| *t == DefaultColumnType::Any));
                Seen::Rows(types.len(), rows)
            }
            DBOutput::StatementComplete(count) => Seen::Count(count),
            _ => panic!("unknown DBOutput variant"),
        }
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    fn row(values: &[&str]) -> Response {
        Response::Row(strings(values))
    }

    #[test]
    fn null_is_printed_as_null() {
        assert_eq!(format_value(None), "NULL");
    }

    #[test]
    fn empty_string_is_printed_as_placeholder() {
        assert_eq!(format_value(Some("")), "(empty)");
    }

    #[test]
    fn other_values_pass_through_unchanged() {
        assert_eq!(format_value(Some("42")), "42");
        assert_eq!(format_value(Some(" padded ")), " padded ");
        assert_eq!(format_value(Some("NULL")), "NULL");
        assert_eq!(format_value(Some("t")), "t");
    }

    #[test]
    fn statement_reports_affected_rows() {
        assert_eq!(build(vec![Response::Complete(3)]), Seen::Count(3));
    }

    #[test]
    fn query_reports_rows_and_column_count() {
        let seen = build(vec![
            Response::Columns(2),
            row(&["1", "a"]),
            row(&["2", "NULL"]),
            Response::Complete(2),
        ]);
        let expected = vec![strings(&["1", "a"]), strings(&["2", "NULL"])];
        assert_eq!(seen, Seen::Rows(2, expected));
    }

    #[test]
    fn query_without_rows_is_still_rows() {
        let seen = build(vec![Response::Columns(1), Response::Complete(0)]);
        assert_eq!(seen, Seen::Rows(1, vec![]));
    }

    #[test]
    fn last_statement_wins() {
        let seen = build(vec![
            Response::Columns(1),
            row(&["ignored"]),
            Response::Complete(1),
            Response::Complete(5),
        ]);
        assert_eq!(seen, Seen::Count(5));

        let seen = build(vec![
            Response::Complete(5),
            Response::Columns(1),
            row(&["kept"]),
            Response::Complete(1),
        ]);
        assert_eq!(seen, Seen::Rows(1, vec![strings(&["kept"])]));
    }

    #[test]
    fn empty_query_string_completes_with_zero() {
        assert_eq!(build(vec![]), Seen::Count(0));
    }

    #[test]
    fn unterminated_rows_are_not_lost() {
        let seen = build(vec![Response::Columns(1), row(&["x"])]);
        assert_eq!(seen, Seen::Rows(1, vec![strings(&["x"])]));
    }
}
