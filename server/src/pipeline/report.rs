//! Errors of a pipeline file as compilers print them:
//!
//! ```text
//! pipeline.sql:12:8: column "totl" does not exist
//!    12 | SELECT totl FROM orders
//!       |        ^
//! ```

use runnel_sql::SqlError;

/// Formats `error` (positioned in `source`, the file's text) for `file`.
pub fn render(file: &str, source: &str, error: &SqlError) -> String {
    let Some(position) = error.position else {
        return format!(
            "{file}: {} [SQLSTATE {}]",
            error.message,
            error.state.code()
        );
    };
    let (line, column) = line_and_column(source, position);
    let text = source.lines().nth(line - 1).unwrap_or("");
    let gutter = line.to_string().len();
    let mut out = format!(
        "{file}:{line}:{column}: {} [SQLSTATE {}]\n{line:>width$} | {text}\n{:>width$} | {}^",
        error.message,
        error.state.code(),
        "",
        " ".repeat(column - 1),
        width = gutter + 1,
    );
    if let Some(hint) = &error.hint {
        out.push_str(&format!("\nhint: {hint}"));
    }
    out
}

/// 1-based line and column of the 1-based character `position` in `source`.
pub fn line_and_column(source: &str, position: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for (index, c) in source.chars().enumerate() {
        if index + 1 >= position {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_sql::SqlState;

    #[test]
    fn points_at_the_line_and_column() {
        let source = "CREATE TABLE t (a INT);\nSELECT totl\n  FROM t;\n";
        let error = SqlError::new(SqlState::UNDEFINED_COLUMN, "column \"totl\" does not exist")
            .at(Some(32));
        assert_eq!(line_and_column(source, 32), (2, 8));
        assert_eq!(
            render("p.sql", source, &error),
            "p.sql:2:8: column \"totl\" does not exist [SQLSTATE 42703]\n 2 | SELECT totl\n   |        ^"
        );
    }
}
