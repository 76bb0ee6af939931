//! Splitting a query string into statements and parsing them.
//!
//! A client may send several statements in one string (the simple query protocol). Each
//! statement is cut out of the string by tokenizing it once (so a `;` inside a string literal or
//! a comment does not split), then parsed on its own. Every [`ParsedStatement`] remembers where
//! it sits in the original string so an error can carry a PostgreSQL-style position: a 1-based
//! character index into the string the client sent.

use std::sync::Arc;

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{SqlError, SqlState};
use crate::flink::{
    StopJob, StreamTableDef, is_flink_create_table, is_stop_job, parse_create_table, parse_stop_job,
};
use crate::streaming::{WindowCall, rewrite_window_tvfs};

/// How deeply nested an expression may be before parsing fails cleanly instead of overflowing
/// the stack.
const RECURSION_LIMIT: usize = 200;

/// One statement of a query string.
#[derive(Debug, Clone)]
pub struct ParsedStatement {
    /// The parsed statement. For a Flink `CREATE TABLE` (see `stream_table`) it is a
    /// `CREATE TABLE` of the name alone, because sqlparser's grammar has no connector options,
    /// computed columns or watermarks.
    pub statement: Statement,
    /// The definition of a Flink `CREATE TABLE`, parsed by [`crate::flink`].
    pub stream_table: Option<Arc<StreamTableDef>>,
    /// Flink's `STOP JOB` (`statement` is then a stand-in, `KILL <id>`, that nothing runs).
    pub stop_job: Option<StopJob>,
    /// The window TVF calls of this statement; the text in `statement` names them by their
    /// relation (`__window_0`).
    pub windows: Vec<WindowCall>,
    /// The text as parsed (window TVF calls replaced, same length as `original`).
    full: Arc<str>,
    /// The text as the client sent it.
    original: Arc<str>,
    /// Byte range of this statement in `full`.
    start: usize,
    end: usize,
}

impl ParsedStatement {
    /// The statement's own text (without the separating `;`).
    pub fn text(&self) -> &str {
        &self.full[self.start..self.end]
    }

    /// The statement as the client wrote it (window TVF calls included): what a stored
    /// definition keeps, so it parses again the same way.
    pub fn original_text(&self) -> &str {
        &self.original[self.start..self.end]
    }

    /// Locates positions in this statement relative to the whole query string.
    pub fn text_map(&self) -> TextMap<'_> {
        TextMap::new(&self.full, self.start, self.end)
    }
}

/// Splits `sql` into statements and parses each. Empty statements (`;;`) are skipped.
///
/// Streaming SQL is recognised on the way: window TVF calls (`TABLE(TUMBLE(...))`) are
/// replaced by relation names ([`crate::streaming::rewrite_window_tvfs`]) and Flink
/// `CREATE TABLE`s are parsed by [`crate::flink`].
pub fn parse_statements(sql: &str) -> Result<Vec<ParsedStatement>, SqlError> {
    let rewritten = rewrite_window_tvfs(sql, 0)?;
    let original: Arc<str> = Arc::from(sql);
    let full: Arc<str> = Arc::from(rewritten.text.as_str());
    statement_ranges(&full)?
        .into_iter()
        .map(|(start, end)| {
            let text = &full[start..end];
            let mut parsed = if is_stop_job(text) {
                let offset = full[..start].chars().count();
                let stop = parse_stop_job(&original[start..end]).map_err(|mut e| {
                    e.position = e.position.map(|p| p + offset);
                    e
                })?;
                let stand_in: Arc<str> = Arc::from(format!("KILL {}", stop.id));
                let mut parsed = parse_one(&stand_in, 0, stand_in.len())?;
                parsed.stop_job = Some(stop);
                parsed.full = full.clone();
                parsed.start = start;
                parsed.end = end;
                parsed
            } else if is_flink_create_table(text) {
                let offset = full[..start].chars().count();
                let def = parse_create_table(&original[start..end]).map_err(|mut e| {
                    e.position = e.position.map(|p| p + offset);
                    e
                })?;
                let name = def
                    .name
                    .split('.')
                    .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
                    .collect::<Vec<_>>()
                    .join(".");
                let stand_in: Arc<str> = Arc::from(format!("CREATE TABLE {name} ()"));
                let mut parsed = parse_one(&stand_in, 0, stand_in.len())?;
                parsed.stream_table = Some(Arc::new(def));
                parsed.full = full.clone();
                parsed.start = start;
                parsed.end = end;
                parsed
            } else {
                parse_one(&full, start, end)?
            };
            parsed.original = original.clone();
            parsed.windows = rewritten
                .calls
                .iter()
                .filter(|call| text.contains(&format!("{} ", call.relation)))
                .cloned()
                .collect();
            Ok(parsed)
        })
        .collect()
}

/// Byte ranges of the statements of `sql` (split at top-level `;`, empty ones skipped),
/// without parsing them.
pub fn statement_ranges(sql: &str) -> Result<Vec<(usize, usize)>, SqlError> {
    let whole = TextMap::new(sql, 0, sql.len());
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| {
            SqlError::new(
                SqlState::SYNTAX_ERROR,
                format!("syntax error: {}", e.message),
            )
            .at(whole.position(e.location.line, e.location.column))
        })?;

    let mut ranges = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for token in &tokens {
        let start = whole.byte_offset(token.span.start.line, token.span.start.column);
        let end = whole.byte_offset(token.span.end.line, token.span.end.column);
        match &token.token {
            Token::SemiColon => {
                if let Some(range) = current.take() {
                    ranges.push(range);
                }
            }
            Token::Whitespace(_) | Token::EOF => {}
            _ => {
                if let (Some(start), Some(end)) = (start, end) {
                    current = Some(match current {
                        Some((s, _)) => (s, end),
                        None => (start, end),
                    });
                }
            }
        }
    }
    if let Some(range) = current {
        ranges.push(range);
    }
    Ok(ranges)
}

/// Parses the statement at bytes `start..end` of `full`.
pub fn parse_statement_at(
    full: &Arc<str>,
    start: usize,
    end: usize,
) -> Result<ParsedStatement, SqlError> {
    parse_one(full, start, end)
}

fn parse_one(full: &Arc<str>, start: usize, end: usize) -> Result<ParsedStatement, SqlError> {
    let text = &full[start..end];
    let map = TextMap::new(full, start, end);
    let dialect = PostgreSqlDialect {};
    let mut statements = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(text)
        .and_then(|mut parser| parser.parse_statements())
        .map_err(|e| SqlError::from_parser(&e, &map))?;
    if statements.len() != 1 {
        return Err(SqlError::new(
            SqlState::SYNTAX_ERROR,
            "syntax error: expected exactly one statement",
        )
        .at(map.position(1, 1)));
    }
    let mut statement = statements.remove(0);
    crate::flink::name_selected_fields(&mut statement);
    Ok(ParsedStatement {
        statement,
        stream_table: None,
        stop_job: None,
        windows: Vec::new(),
        full: full.clone(),
        original: full.clone(),
        start,
        end,
    })
}

/// Maps sqlparser's line/column locations inside one statement to positions in the query
/// string the client sent.
#[derive(Debug, Clone)]
pub struct TextMap<'a> {
    full: &'a str,
    /// Byte range of the statement in `full`.
    start: usize,
    end: usize,
    /// Byte offset of the start of each line of the statement text.
    line_starts: Vec<usize>,
}

impl<'a> TextMap<'a> {
    /// A map for the statement occupying bytes `start..end` of `full`.
    pub fn new(full: &'a str, start: usize, end: usize) -> Self {
        let text = &full[start..end];
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        TextMap {
            full,
            start,
            end,
            line_starts,
        }
    }

    /// A map for a standalone statement string.
    pub fn whole(text: &'a str) -> Self {
        TextMap::new(text, 0, text.len())
    }

    /// Byte offset in `full` of 1-based `line`/`column` (in characters) of the statement text.
    fn byte_offset(&self, line: u64, column: u64) -> Option<usize> {
        let line_index = usize::try_from(line).ok()?.checked_sub(1)?;
        let column_index = usize::try_from(column).ok()?.checked_sub(1)?;
        let line_start = *self.line_starts.get(line_index)?;
        let text = &self.full[self.start..self.end];
        let line_text = &text[line_start..];
        let in_line = match line_text.char_indices().nth(column_index) {
            Some((i, _)) => i,
            None => line_text.len(),
        };
        Some(self.start + line_start + in_line)
    }

    /// 1-based character position in the full string of a statement-relative `line`/`column`.
    pub fn position(&self, line: u64, column: u64) -> Option<usize> {
        let byte = self.byte_offset(line, column)?;
        Some(self.full[..byte].chars().count() + 1)
    }

    /// 1-based character position just past the end of the statement.
    pub fn end_position(&self) -> Option<usize> {
        Some(self.full[..self.end].chars().count() + 1)
    }

    /// 1-based character position of the first whole-word, case-insensitive occurrence of
    /// `identifier` in the statement, for errors DataFusion reports without a location.
    pub fn find_identifier(&self, identifier: &str) -> Option<usize> {
        if identifier.is_empty() {
            return None;
        }
        let text = &self.full[self.start..self.end];
        let lower_text = text.to_lowercase();
        let needle = identifier.to_lowercase();
        if lower_text.len() != text.len() {
            return None;
        }
        let is_word = |c: char| c.is_alphanumeric() || c == '_';
        let mut from = 0;
        while let Some(found) = lower_text[from..].find(&needle) {
            let at = from + found;
            let before = lower_text[..at].chars().next_back();
            let after = lower_text[at + needle.len()..].chars().next();
            if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
                return Some(self.full[..self.start + at].chars().count() + 1);
            }
            from = at + needle.len();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_top_level_semicolons_only() {
        let sql = "SELECT 'a;b'; -- c;d\n SELECT 2;;";
        let statements = parse_statements(sql).expect("parses");
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0].text(), "SELECT 'a;b'");
        assert_eq!(statements[1].text(), "SELECT 2");
    }

    #[test]
    fn empty_string_has_no_statements() {
        assert!(parse_statements(" ; ;").expect("parses").is_empty());
    }

    #[test]
    fn syntax_error_points_into_the_full_string() {
        let error = parse_statements("SELECT 1; SELEC 2").expect_err("must fail");
        assert_eq!(error.state, SqlState::SYNTAX_ERROR);
        assert_eq!(error.message, "syntax error at or near \"SELEC\"");
        assert_eq!(error.position, Some(11));
    }

    #[test]
    fn syntax_error_on_a_later_line() {
        let error = parse_statements("SELECT 1,\n  2 FROM t WHERE").expect_err("must fail");
        assert_eq!(error.message, "syntax error at end of input");
        assert!(error.position.is_some());
    }

    #[test]
    fn identifiers_are_found_as_whole_words() {
        let statements = parse_statements("SELECT tt FROM t").expect("parses");
        let map = statements[0].text_map();
        assert_eq!(map.find_identifier("t"), Some(16));
        assert_eq!(map.find_identifier("TT"), Some(8));
        assert_eq!(map.find_identifier("missing"), None);
    }
}
