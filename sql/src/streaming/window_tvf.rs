//! Flink's window table-valued functions, found in the SQL text before it is parsed.
//!
//! ```sql
//! FROM TABLE(HOP(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' MINUTE, INTERVAL '10' MINUTES))
//! ```
//!
//! sqlparser cannot parse `TABLE orders` or `DESCRIPTOR(c)` as function arguments, nor the
//! plural units Flink accepts (`MINUTES`). So the tokens of each `TABLE(<window>(...))` are
//! read here and the call is replaced in the text by the name of a window relation
//! (`__window_0`, padded with spaces so every later position in the text stays where it was).
//! The planner later resolves that name to the source table plus the columns `window_start`,
//! `window_end` and `window_time`.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::error::{SqlError, SqlState};
use crate::parser::TextMap;

/// The prefix of window relation names; user objects cannot use it.
pub const WINDOW_RELATION_PREFIX: &str = "__window_";

/// Which window function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowFunction {
    /// `TUMBLE(data, timecol, size [, offset])`
    Tumble,
    /// `HOP(data, timecol, slide, size [, offset])`
    Hop,
    /// `CUMULATE(data, timecol, step, size [, offset])`
    Cumulate,
    /// `SESSION(data [PARTITION BY keys], timecol, gap)`
    Session,
}

impl WindowFunction {
    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "TUMBLE" => Some(WindowFunction::Tumble),
            "HOP" => Some(WindowFunction::Hop),
            "CUMULATE" => Some(WindowFunction::Cumulate),
            "SESSION" => Some(WindowFunction::Session),
            _ => None,
        }
    }

    /// The function's name as written in SQL.
    pub fn name(self) -> &'static str {
        match self {
            WindowFunction::Tumble => "TUMBLE",
            WindowFunction::Hop => "HOP",
            WindowFunction::Cumulate => "CUMULATE",
            WindowFunction::Session => "SESSION",
        }
    }

    /// Names of the interval parameters, in positional order.
    fn interval_params(self) -> &'static [&'static str] {
        match self {
            WindowFunction::Tumble => &["SIZE", "OFFSET"],
            WindowFunction::Hop => &["SLIDE", "SIZE", "OFFSET"],
            WindowFunction::Cumulate => &["STEP", "SIZE", "OFFSET"],
            WindowFunction::Session => &["GAP"],
        }
    }

    fn required_intervals(self) -> usize {
        match self {
            WindowFunction::Tumble | WindowFunction::Session => 1,
            WindowFunction::Hop | WindowFunction::Cumulate => 2,
        }
    }
}

/// One window function call: its relation name in the rewritten text and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowCall {
    /// The relation name that replaced the call (`__window_0`).
    pub relation: String,
    /// The window function.
    pub function: WindowFunction,
    /// The table the window reads (unquoted names folded to lower case); for a derived table,
    /// its alias.
    pub table: String,
    /// A group window over a derived table (`FROM (SELECT *, PROCTIME() AS p FROM t) AS b`):
    /// its query, whose rows the window reads as it reads a view's.
    pub subquery: Option<Box<datafusion::sql::sqlparser::ast::Query>>,
    /// `PARTITION BY` columns (SESSION only).
    pub partition_by: Vec<String>,
    /// The event-time column from `DESCRIPTOR(...)`.
    pub time_column: String,
    /// Interval arguments in milliseconds, in the order of the function's parameters
    /// (TUMBLE: size, offset; HOP: slide, size, offset; CUMULATE: step, size, offset;
    /// SESSION: gap). A missing offset is 0.
    pub intervals: Vec<i64>,
    /// 1-based character position of the call in the text, for errors.
    pub position: Option<usize>,
}

/// Text with every window TVF call replaced by its relation name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrittenText {
    /// The text to parse.
    pub text: String,
    /// The calls found, in order of appearance.
    pub calls: Vec<WindowCall>,
}

/// Finds and replaces the window TVF calls in `sql`. Relation names are numbered from `first`
/// (so several texts can be rewritten without their names clashing).
///
/// Flink's backquoted identifiers are double-quoted first (in place), so the text returned
/// parses with PostgreSQL's rules.
pub fn rewrite_window_tvfs(sql: &str, first: usize) -> Result<RewrittenText, SqlError> {
    let quoted = crate::flink::backquotes_to_double_quotes(sql);
    let sql = quoted.as_ref();
    let map = TextMap::whole(sql);
    let tokens = match Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize_with_location() {
        Ok(tokens) => tokens,
        // The parser reports the same error with its position.
        Err(_) => {
            return Ok(RewrittenText {
                text: sql.to_string(),
                calls: Vec::new(),
            });
        }
    };
    let significant: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .collect();
    let mut calls = Vec::new();
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    let mut index = 0;
    while index + 3 < significant.len() {
        let function = match (
            &significant[index].token,
            &significant[index + 1].token,
            &significant[index + 2].token,
            &significant[index + 3].token,
        ) {
            (Token::Word(table), Token::LParen, Token::Word(name), Token::LParen)
                if table.keyword == Keyword::TABLE && table.quote_style.is_none() =>
            {
                WindowFunction::from_name(&name.value)
            }
            _ => None,
        };
        let Some(function) = function else {
            index += 1;
            continue;
        };
        let position = position_of(&map, significant[index]);
        // Arguments: from index + 4 to the matching `)`, which must be followed by `)`.
        let mut depth = 0usize;
        let mut close = None;
        for (offset, token) in significant[index + 4..].iter().enumerate() {
            match token.token {
                Token::LParen => depth += 1,
                Token::RParen if depth == 0 => {
                    close = Some(index + 4 + offset);
                    break;
                }
                Token::RParen => depth -= 1,
                _ => {}
            }
        }
        let close = close.ok_or_else(|| {
            syntax(
                format!("unterminated {} window call", function.name()),
                position,
            )
        })?;
        if !matches!(
            significant.get(close + 1).map(|t| &t.token),
            Some(Token::RParen)
        ) {
            return Err(syntax(
                format!("expected \")\" after the {} window call", function.name()),
                significant
                    .get(close + 1)
                    .and_then(|t| position_of(&map, t)),
            ));
        }
        let relation = format!("{WINDOW_RELATION_PREFIX}{}", first + calls.len());
        let call = parse_call(
            function,
            &significant[index + 4..close],
            relation.clone(),
            position,
            &map,
        )?;
        // Without an alias the relation is named after its table, so columns read
        // `orders.total_amount` rather than `__window_0.total_amount`.
        let aliased = matches!(
            significant.get(close + 2).map(|t| &t.token),
            Some(Token::Word(w)) if w.keyword == Keyword::AS || w.keyword == Keyword::NoKeyword || w.quote_style.is_some()
        );
        let replacement = if aliased {
            relation
        } else {
            let alias = call.table.rsplit('.').next().unwrap_or(&call.table);
            format!("{relation} AS \"{alias}\"")
        };
        calls.push(call);
        let start = byte_offset(sql, significant[index]);
        let end = byte_end(sql, significant[close + 1]);
        replacements.push((start, end, replacement));
        index = close + 2;
    }
    let mut text = String::with_capacity(sql.len());
    let mut at = 0;
    for (start, end, relation) in replacements {
        text.push_str(&sql[at..start]);
        let original = &sql[start..end];
        text.push_str(&relation);
        // Pad to the same characters per line, keeping line breaks.
        let mut written = relation.chars().count();
        for c in original.chars() {
            if c == '\n' {
                text.push('\n');
            } else if written > 0 {
                written -= 1;
            } else {
                text.push(' ');
            }
        }
        at = end;
    }
    text.push_str(&sql[at..]);
    Ok(RewrittenText { text, calls })
}

fn parse_call(
    function: WindowFunction,
    tokens: &[&TokenWithSpan],
    relation: String,
    position: Option<usize>,
    map: &TextMap<'_>,
) -> Result<WindowCall, SqlError> {
    let mut table = None;
    let mut partition_by = Vec::new();
    let mut time_column = None;
    let mut intervals: Vec<Option<i64>> = vec![None; function.interval_params().len()];
    let mut next_interval = 0;
    for argument in split_arguments(tokens) {
        let Some(first) = argument.first() else {
            return Err(syntax(
                format!("empty argument in {} window call", function.name()),
                position,
            ));
        };
        let at = position_of(map, first);
        // `NAME => value`
        let (name, value) = match (argument.first(), argument.get(1)) {
            (
                Some(TokenWithSpan {
                    token: Token::Word(w),
                    ..
                }),
                Some(TokenWithSpan {
                    token: Token::RArrow,
                    ..
                }),
            ) => (Some(w.value.to_ascii_uppercase()), &argument[2..]),
            _ => (None, &argument[..]),
        };
        let head = value.first().map(|t| &t.token);
        match head {
            Some(Token::Word(w)) if w.keyword == Keyword::TABLE && w.quote_style.is_none() => {
                if table.is_some() {
                    return Err(syntax("the window call has two TABLE arguments", at));
                }
                let (name, keys) = parse_table_argument(&value[1..], function, at)?;
                table = Some(name);
                partition_by = keys;
            }
            Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("DESCRIPTOR") => {
                time_column = Some(parse_descriptor(&value[1..], at)?);
            }
            Some(Token::Word(w)) if w.keyword == Keyword::INTERVAL => {
                let millis = parse_interval(&value[1..], at)?;
                let slot = match &name {
                    Some(name) => function
                        .interval_params()
                        .iter()
                        .position(|p| p == name || (name == "MAX_SIZE" && *p == "SIZE"))
                        .ok_or_else(|| {
                            syntax(
                                format!(
                                    "{} has no parameter {name}; its interval parameters are {}",
                                    function.name(),
                                    function.interval_params().join(", ")
                                ),
                                at,
                            )
                        })?,
                    None => {
                        next_interval += 1;
                        next_interval - 1
                    }
                };
                match intervals.get_mut(slot) {
                    Some(value) => *value = Some(millis),
                    None => {
                        return Err(syntax(
                            format!(
                                "too many arguments for {}: it takes {}",
                                function.name(),
                                signature(function)
                            ),
                            at,
                        ));
                    }
                }
            }
            _ => {
                return Err(syntax(
                    format!(
                        "unexpected argument in {} window call; expected {}",
                        function.name(),
                        signature(function)
                    ),
                    at,
                ));
            }
        }
    }
    let table = table.ok_or_else(|| {
        syntax(
            format!(
                "{} needs a TABLE argument: {}",
                function.name(),
                signature(function)
            ),
            position,
        )
    })?;
    let time_column = time_column.ok_or_else(|| {
        syntax(
            format!(
                "{} needs a DESCRIPTOR(time column) argument: {}",
                function.name(),
                signature(function)
            ),
            position,
        )
    })?;
    let mut values = Vec::with_capacity(intervals.len());
    for (slot, value) in intervals.into_iter().enumerate() {
        match value {
            Some(value) => values.push(value),
            None if slot < function.required_intervals() => {
                return Err(syntax(
                    format!(
                        "{} is missing its {} interval: {}",
                        function.name(),
                        function.interval_params()[slot],
                        signature(function)
                    ),
                    position,
                ));
            }
            None => values.push(0),
        }
    }
    Ok(WindowCall {
        relation,
        function,
        table,
        subquery: None,
        partition_by,
        time_column,
        intervals: values,
        position,
    })
}

fn signature(function: WindowFunction) -> &'static str {
    match function {
        WindowFunction::Tumble => "TUMBLE(TABLE t, DESCRIPTOR(time_col), size [, offset])",
        WindowFunction::Hop => "HOP(TABLE t, DESCRIPTOR(time_col), slide, size [, offset])",
        WindowFunction::Cumulate => {
            "CUMULATE(TABLE t, DESCRIPTOR(time_col), step, max_size [, offset])"
        }
        WindowFunction::Session => "SESSION(TABLE t [PARTITION BY key], DESCRIPTOR(time_col), gap)",
    }
}

/// Splits call arguments at top-level commas. `PARTITION BY a, b` keeps its commas: a comma
/// directly after a `PARTITION BY` list item continues the list unless the next argument
/// starts with `DESCRIPTOR`, `INTERVAL` or a named parameter.
fn split_arguments<'a>(tokens: &[&'a TokenWithSpan]) -> Vec<Vec<&'a TokenWithSpan>> {
    let mut arguments = vec![Vec::new()];
    let mut depth = 0usize;
    let mut in_partition = false;
    for (i, token) in tokens.iter().enumerate() {
        match &token.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w) if w.keyword == Keyword::PARTITION => in_partition = true,
            Token::Comma if depth == 0 => {
                let continues = in_partition
                    && match tokens.get(i + 1).map(|t| &t.token) {
                        Some(Token::Word(w)) => {
                            !w.value.eq_ignore_ascii_case("DESCRIPTOR")
                                && w.keyword != Keyword::INTERVAL
                                && !matches!(
                                    tokens.get(i + 2).map(|t| &t.token),
                                    Some(Token::RArrow)
                                )
                        }
                        _ => false,
                    };
                if !continues {
                    in_partition = false;
                    arguments.push(Vec::new());
                    continue;
                }
            }
            _ => {}
        }
        if let Some(last) = arguments.last_mut() {
            last.push(*token);
        }
    }
    arguments
}

/// `name[.name] [PARTITION BY key | PARTITION BY (k1, k2) | PARTITION BY k1, k2]`
fn parse_table_argument(
    tokens: &[&TokenWithSpan],
    function: WindowFunction,
    at: Option<usize>,
) -> Result<(String, Vec<String>), SqlError> {
    let mut parts = Vec::new();
    let mut i = 0;
    while let Some(token) = tokens.get(i) {
        match &token.token {
            Token::Word(w) if w.keyword == Keyword::PARTITION && w.quote_style.is_none() => break,
            Token::Word(w) => parts.push(identifier(w)),
            Token::Period => {}
            _ => return Err(syntax("expected a table name after TABLE", at)),
        }
        i += 1;
    }
    if parts.is_empty() {
        return Err(syntax("expected a table name after TABLE", at));
    }
    let mut keys = Vec::new();
    if i < tokens.len() {
        if function != WindowFunction::Session {
            return Err(syntax(
                format!(
                    "PARTITION BY is only allowed in SESSION, not {}",
                    function.name()
                ),
                at,
            ));
        }
        match tokens.get(i + 1).map(|t| &t.token) {
            Some(Token::Word(w)) if w.keyword == Keyword::BY => {}
            _ => return Err(syntax("expected BY after PARTITION", at)),
        }
        for token in &tokens[i + 2..] {
            match &token.token {
                Token::Word(w) => keys.push(identifier(w)),
                Token::Comma | Token::LParen | Token::RParen => {}
                _ => return Err(syntax("expected column names after PARTITION BY", at)),
            }
        }
        if keys.is_empty() {
            return Err(syntax("expected column names after PARTITION BY", at));
        }
    }
    Ok((parts.join("."), keys))
}

/// `(column)`
fn parse_descriptor(tokens: &[&TokenWithSpan], at: Option<usize>) -> Result<String, SqlError> {
    match tokens
        .iter()
        .map(|t| &t.token)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [Token::LParen, Token::Word(w), Token::RParen] => Ok(identifier(w)),
        _ => Err(syntax(
            "DESCRIPTOR takes exactly one column name: DESCRIPTOR(time_col)",
            at,
        )),
    }
}

/// The tokens after `INTERVAL`: `'5' MINUTE[S]`, `'5 minutes'`, or `'1.5' SECOND`.
fn parse_interval(tokens: &[&TokenWithSpan], at: Option<usize>) -> Result<i64, SqlError> {
    let kinds: Vec<&Token> = tokens.iter().map(|t| &t.token).collect();
    let (amount, unit) = match kinds.as_slice() {
        [Token::SingleQuotedString(amount), Token::Word(unit)] => {
            (amount.trim().to_string(), unit.value.clone())
        }
        // `SECOND(3)`: a precision, irrelevant to the length.
        [
            Token::SingleQuotedString(amount),
            Token::Word(unit),
            Token::LParen,
            Token::Number(..),
            Token::RParen,
        ] => (amount.trim().to_string(), unit.value.clone()),
        [Token::SingleQuotedString(text)] => {
            let mut parts = text.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(amount), Some(unit), None) => (amount.to_string(), unit.to_string()),
                _ => return Err(interval_error(at)),
            }
        }
        _ => return Err(interval_error(at)),
    };
    let unit_ms: i64 = match unit.to_ascii_uppercase().trim_end_matches('S') {
        "MILLISECOND" => 1,
        "SECOND" => 1_000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => return Err(interval_error(at)),
    };
    let amount: f64 = amount.parse().map_err(|_| interval_error(at))?;
    let millis = amount * unit_ms as f64;
    if !millis.is_finite() || millis.fract() != 0.0 || millis.abs() > i64::MAX as f64 / 2.0 {
        return Err(syntax(
            "window intervals must be a whole number of milliseconds",
            at,
        ));
    }
    Ok(millis as i64)
}

/// `INTERVAL '5' MINUTE` (the whole expression, as text) in milliseconds, if it is one.
pub(super) fn interval_millis(text: &str) -> Option<i64> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, text)
        .tokenize_with_location()
        .ok()?;
    let significant: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .collect();
    match significant.first().map(|t| &t.token) {
        Some(Token::Word(w)) if w.keyword == Keyword::INTERVAL => {
            parse_interval(&significant[1..], None).ok()
        }
        _ => None,
    }
}

fn interval_error(at: Option<usize>) -> SqlError {
    syntax(
        "expected a window interval such as INTERVAL '5' MINUTE (units: MILLISECOND, SECOND, MINUTE, HOUR, DAY)",
        at,
    )
}

fn identifier(word: &datafusion::sql::sqlparser::tokenizer::Word) -> String {
    if word.quote_style.is_some() {
        word.value.clone()
    } else {
        word.value.to_lowercase()
    }
}

fn syntax(message: impl Into<String>, position: Option<usize>) -> SqlError {
    SqlError::new(SqlState::SYNTAX_ERROR, message).at(position)
}

fn position_of(map: &TextMap<'_>, token: &TokenWithSpan) -> Option<usize> {
    map.position(token.span.start.line, token.span.start.column)
}

fn byte_offset(sql: &str, token: &TokenWithSpan) -> usize {
    locate(sql, token.span.start.line, token.span.start.column)
}

fn byte_end(sql: &str, token: &TokenWithSpan) -> usize {
    locate(sql, token.span.end.line, token.span.end.column)
}

fn locate(sql: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for (index, text) in sql.split_inclusive('\n').enumerate() {
        if index as u64 + 1 == line {
            let column = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
            return offset
                + text
                    .char_indices()
                    .nth(column)
                    .map(|(i, _)| i)
                    .unwrap_or(text.len());
        }
        offset += text.len();
    }
    sql.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_call_is_replaced_keeping_positions() {
        let sql = "SELECT window_start, COUNT(*)\nFROM TABLE(HOP(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' MINUTE, INTERVAL '10' MINUTES))\nGROUP BY window_start, window_end";
        let rewritten = rewrite_window_tvfs(sql, 0).expect("rewrites");
        assert_eq!(rewritten.calls.len(), 1);
        let call = &rewritten.calls[0];
        assert_eq!(call.function, WindowFunction::Hop);
        assert_eq!(call.table, "orders");
        assert_eq!(call.time_column, "order_time");
        assert_eq!(call.intervals, vec![60_000, 600_000, 0]);
        assert!(rewritten.text.contains("FROM __window_0 AS \"orders\" "));
        assert_eq!(rewritten.text.len(), sql.len());
        assert_eq!(
            rewritten.text.find("GROUP BY"),
            sql.find("GROUP BY"),
            "later text keeps its place"
        );
    }

    #[test]
    fn named_arguments_offsets_and_session_partitions() {
        let sql = "SELECT * FROM TABLE(TUMBLE(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '5' SECONDS, OFFSET => INTERVAL '1 second')) w, TABLE(SESSION(TABLE s PARTITION BY a, b, DESCRIPTOR(ts), INTERVAL '30' SECOND))";
        let rewritten = rewrite_window_tvfs(sql, 3).expect("rewrites");
        assert_eq!(rewritten.calls[0].relation, "__window_3");
        assert_eq!(rewritten.calls[0].intervals, vec![5_000, 1_000]);
        assert_eq!(rewritten.calls[1].function, WindowFunction::Session);
        assert_eq!(rewritten.calls[1].partition_by, vec!["a", "b"]);
        assert_eq!(rewritten.calls[1].intervals, vec![30_000]);
        assert!(rewritten.text.contains("__window_3"));
        assert!(rewritten.text.contains("__window_4"));
    }

    #[test]
    fn text_without_calls_is_unchanged() {
        let sql = "SELECT TABLE_NAME FROM information_schema.tables; SELECT hop(1)";
        let rewritten = rewrite_window_tvfs(sql, 0).expect("rewrites");
        assert_eq!(rewritten.text, sql);
        assert!(rewritten.calls.is_empty());
    }

    #[test]
    fn bad_arguments_are_syntax_errors_with_positions() {
        let error = rewrite_window_tvfs("SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts)))", 0)
            .expect_err("missing size");
        assert_eq!(error.state, SqlState::SYNTAX_ERROR);
        assert!(error.message.contains("SIZE"), "{}", error.message);
        assert_eq!(error.position, Some(15));
        let error = rewrite_window_tvfs(
            "SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' FORTNIGHTS))",
            0,
        )
        .expect_err("unit");
        assert!(error.message.contains("MINUTE"), "{}", error.message);
        assert_eq!(error.position, Some(53));
    }
}
