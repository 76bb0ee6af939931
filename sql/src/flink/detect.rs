//! Telling a Flink `CREATE TABLE` from one PostgreSQL's grammar (and sqlparser) handles.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::cursor::is_word;

/// Words that only Flink's `CREATE TABLE` has after the column list.
const FLINK_CLAUSES: [&str; 3] = ["COMMENT", "PARTITIONED", "LIKE"];
/// Type names only Flink has.
const FLINK_TYPES: [&str; 2] = ["TIMESTAMP_LTZ", "BYTES"];
/// Type constructors Flink writes with angle brackets (`ARRAY<INT>`).
const ANGLE_TYPES: [&str; 4] = ["ARRAY", "MAP", "ROW", "MULTISET"];

/// True when `sql` (one statement) is a `CREATE TABLE` that needs this module's parser: a
/// `WITH (` option list (or another Flink-only clause) after the column list, a `WATERMARK FOR`
/// clause, a computed (`name AS expr`) or metadata column, `NOT ENFORCED`, or Flink-only type
/// syntax (`ARRAY<INT>`, `MAP<K, V>`, `ROW<...>`, `ROW(...)`, `INT ARRAY`, `TIMESTAMP_LTZ`,
/// `WITH LOCAL TIME ZONE`, `BYTES`).
///
/// Cheap: it only tokenizes. False for anything else, including `CREATE TABLE ... AS SELECT`,
/// plain PostgreSQL tables and text that does not tokenize.
pub fn is_flink_create_table(sql: &str) -> bool {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return false;
    };
    let tokens: Vec<Token> = tokens
        .into_iter()
        .filter(|token| !matches!(token, Token::Whitespace(_)))
        .collect();
    let Some(list) = column_list_start(&tokens) else {
        return false;
    };
    match scan_column_list(tokens.get(list..).unwrap_or_default()) {
        ListScan::Flink => true,
        ListScan::Plain(after) => after_column_list(tokens.get(list + after..).unwrap_or_default()),
        ListScan::Unbalanced => false,
    }
}

/// The index of the token after the `(` opening the column list of `CREATE [TEMPORARY] TABLE
/// [IF NOT EXISTS] name (`, if `tokens` start that way.
fn column_list_start(tokens: &[Token]) -> Option<usize> {
    let word = |i: usize, w: &str| tokens.get(i).is_some_and(|t| is_word(t, w));
    let mut i = 0;
    if !word(i, "CREATE") {
        return None;
    }
    i += 1;
    if word(i, "TEMPORARY") || word(i, "TEMP") {
        i += 1;
    }
    if !word(i, "TABLE") {
        return None;
    }
    i += 1;
    if word(i, "IF") && word(i + 1, "NOT") && word(i + 2, "EXISTS") {
        i += 3;
    }
    loop {
        if !matches!(tokens.get(i), Some(Token::Word(_))) {
            return None;
        }
        i += 1;
        if tokens.get(i) != Some(&Token::Period) {
            break;
        }
        i += 1;
    }
    (tokens.get(i) == Some(&Token::LParen)).then_some(i + 1)
}

/// What scanning the column list found.
enum ListScan {
    /// Something only Flink has.
    Flink,
    /// Nothing Flink-only; the list's `)` is just before this index.
    Plain(usize),
    /// The list never closes: not a statement either parser can take.
    Unbalanced,
}

/// Scans a column list (starting after its `(`) for Flink-only syntax.
fn scan_column_list(tokens: &[Token]) -> ListScan {
    let word = |i: usize, w: &str| tokens.get(i).is_some_and(|t| is_word(t, w));
    let mut depth = 1usize;
    // Index of the token within the current element (0 = the column name).
    let mut in_element = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        let flink = match token {
            Token::LParen | Token::LBracket => {
                depth += 1;
                false
            }
            Token::RParen | Token::RBracket => {
                depth -= 1;
                if depth == 0 {
                    return ListScan::Plain(i + 1);
                }
                false
            }
            Token::Comma if depth == 1 => {
                in_element = 0;
                continue;
            }
            Token::Lt => i > 0 && ANGLE_TYPES.iter().any(|w| word(i - 1, w)),
            Token::Word(_) if depth == 1 && in_element == 0 => {
                word(i, "WATERMARK") && word(i + 1, "FOR")
            }
            Token::Word(_) if depth == 1 && in_element == 1 => {
                word(i, "AS")
                    || (word(i, "ROW") && tokens.get(i + 1) == Some(&Token::LParen))
                    || FLINK_TYPES.iter().any(|w| word(i, w))
            }
            Token::Word(_) => {
                (depth == 1 && word(i, "METADATA"))
                    || (word(i, "NOT") && word(i + 1, "ENFORCED"))
                    || (word(i, "WITH") && word(i + 1, "LOCAL"))
                    || (word(i, "ARRAY")
                        && !matches!(tokens.get(i + 1), Some(Token::LBracket | Token::LParen)))
                    || FLINK_TYPES.iter().any(|w| word(i, w))
            }
            _ => false,
        };
        if flink {
            return ListScan::Flink;
        }
        in_element += 1;
    }
    ListScan::Unbalanced
}

/// Whether the tokens after the column list start a Flink-only clause.
fn after_column_list(tokens: &[Token]) -> bool {
    let word = |i: usize, w: &str| tokens.get(i).is_some_and(|t| is_word(t, w));
    (word(0, "WITH") && tokens.get(1) == Some(&Token::LParen))
        || FLINK_CLAUSES.iter().any(|w| word(0, w))
}
