//! Flink quotes identifiers with backquotes (`` `day` ``), PostgreSQL with double quotes. Both
//! keep the identifier's case and let it be a keyword, so a backquoted identifier is rewritten
//! into a double-quoted one before parsing. The rewrite keeps every character in its place
//! (one quote for another), so error positions still point into the text as sent.
//!
//! String literals (`'...'`, `E'...'`, `$tag$...$tag$`), double-quoted identifiers and
//! comments are left alone. A backquoted identifier that contains a double quote is left as
//! written (the parser then reports it).

use std::borrow::Cow;

/// `sql` with its backquoted identifiers double-quoted.
pub fn backquotes_to_double_quotes(sql: &str) -> Cow<'_, str> {
    if !sql.contains('`') {
        return Cow::Borrowed(sql);
    }
    let bytes = sql.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => {
                // E'...' strings escape with a backslash; others double the quote.
                let escapes = i > 0 && matches!(bytes[i - 1], b'e' | b'E');
                i = skip_quoted(bytes, i, b'\'', escapes);
            }
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |p| i + 2 + p + 2);
            }
            b'$' => i = skip_dollar_quoted(sql, i),
            b'`' => {
                let close = bytes[i + 1..].iter().position(|&b| b == b'`');
                match close {
                    Some(length) if !bytes[i + 1..i + 1 + length].contains(&b'"') => {
                        out[i] = b'"';
                        out[i + 1 + length] = b'"';
                        i += length + 2;
                    }
                    _ => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    // Only ASCII quote bytes were replaced by ASCII quote bytes.
    Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| sql.to_string()))
}

/// The index after the quoted text starting at `start` (at its opening `quote`).
fn skip_quoted(bytes: &[u8], start: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if backslash_escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// The index after a `$tag$ ... $tag$` string starting at `start`, or `start + 1` when the
/// `$` opens none (a parameter such as `$1`).
fn skip_dollar_quoted(sql: &str, start: usize) -> usize {
    let rest = &sql[start + 1..];
    let Some(tag_end) = rest.find('$') else {
        return start + 1;
    };
    let tag = &rest[..tag_end];
    if !tag.chars().all(|c| c.is_alphanumeric() || c == '_')
        || tag.starts_with(|c: char| c.is_ascii_digit())
    {
        return start + 1;
    }
    let delimiter = format!("${tag}$");
    let body = start + 1 + tag_end + 1;
    sql[body..]
        .find(&delimiter)
        .map_or(sql.len(), |p| body + p + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backquoted_identifiers_become_double_quoted_in_place() {
        let sql =
            "SELECT DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS `day`, COUNT(*) FROM bid GROUP BY `day`";
        let rewritten = backquotes_to_double_quotes(sql);
        assert_eq!(
            rewritten,
            "SELECT DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS \"day\", COUNT(*) FROM bid GROUP BY \"day\""
        );
        assert_eq!(rewritten.len(), sql.len());
    }

    #[test]
    fn literals_comments_and_quoted_identifiers_are_left_alone() {
        let same = [
            "SELECT '`a`', E'\\'`b`', \"`c`\" FROM t -- `d`\n",
            "SELECT $$ `x` $$, $tag$ `y` $tag$ /* `z` */",
            "SELECT 'it''s `q`'",
            "SELECT `a\"b` FROM t",
        ];
        for sql in same {
            assert_eq!(backquotes_to_double_quotes(sql), sql);
        }
        assert_eq!(
            backquotes_to_double_quotes("SELECT $1, `x` FROM t"),
            "SELECT $1, \"x\" FROM t"
        );
    }
}
