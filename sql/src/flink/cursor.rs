//! A cursor over one statement's tokens: sqlparser's [`Parser`] plus what Flink DDL needs on
//! top of it (keyword matching by spelling, PostgreSQL-style errors with positions, and `>>`
//! closing two type argument lists at once).

use datafusion::sql::sqlparser::ast::Expr;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};

use crate::parser::TextMap;
use crate::{SqlError, SqlState};

/// How deeply nested an expression may be before parsing fails cleanly (as in `parser.rs`).
const RECURSION_LIMIT: usize = 200;

/// A 1-based character position in the statement, when known.
pub(super) type Position = Option<usize>;

/// Reads one statement token by token.
pub(super) struct Cursor<'a> {
    parser: Parser<'static>,
    text: TextMap<'a>,
    /// The rest of a `>>` (or longer) token whose first `>` closed a type argument list
    /// (`ARRAY<ARRAY<INT>>`): its `>`s are the next tokens.
    pending_gt: Option<PendingGt>,
}

/// `>` characters of one token that are still to be read, one by one.
#[derive(Debug, Clone, Copy)]
struct PendingGt {
    /// Where the next one is.
    at: Location,
    /// How many are left (at least one).
    count: usize,
}

impl<'a> Cursor<'a> {
    /// Tokenizes `sql` with PostgreSQL's rules.
    pub(super) fn new(sql: &'a str) -> Result<Self, SqlError> {
        let text = TextMap::whole(sql);
        let dialect = &PostgreSqlDialect {};
        let tokens = Tokenizer::new(dialect, sql)
            .tokenize_with_location()
            .map_err(|e| {
                SqlError::new(
                    SqlState::SYNTAX_ERROR,
                    format!("syntax error: {}", e.message),
                )
                .at(text.position(e.location.line, e.location.column))
            })?;
        let parser = Parser::new(dialect)
            .with_recursion_limit(RECURSION_LIMIT)
            .with_tokens_with_locations(tokens);
        Ok(Cursor {
            parser,
            text,
            pending_gt: None,
        })
    }

    /// The position of the next token (just past the end of the text at the end of input).
    pub(super) fn position(&self) -> Position {
        if let Some(PendingGt { at, .. }) = self.pending_gt {
            return self.text.position(at.line, at.column);
        }
        let next = self.parser.peek_token_ref();
        match next.token {
            Token::EOF => self.text.end_position(),
            _ => self
                .text
                .position(next.span.start.line, next.span.start.column),
        }
    }

    /// `syntax error at or near "<next token>"`, at the next token.
    pub(super) fn syntax_error(&self) -> SqlError {
        let message = if self.pending_gt.is_some() {
            "syntax error at or near \">\"".to_string()
        } else {
            match &self.parser.peek_token_ref().token {
                Token::EOF => "syntax error at end of input".to_string(),
                token => format!("syntax error at or near \"{token}\""),
            }
        };
        SqlError::new(SqlState::SYNTAX_ERROR, message).at(self.position())
    }

    /// An error with `state` and `message` at the next token.
    pub(super) fn error(&self, state: SqlState, message: impl Into<String>) -> SqlError {
        SqlError::new(state, message).at(self.position())
    }

    /// Whether the next token is the unquoted word `word` (any case).
    pub(super) fn peek_word(&self, word: &str) -> bool {
        self.peek_nth_word(0, word)
    }

    /// Whether the token `n` places ahead (0 = next) is the unquoted word `word` (any case).
    pub(super) fn peek_nth_word(&self, n: usize, word: &str) -> bool {
        self.pending_gt.is_none() && is_word(&self.parser.peek_nth_token_ref(n).token, word)
    }

    /// Consumes the unquoted word `word` if it is next.
    pub(super) fn consume_word(&mut self, word: &str) -> bool {
        let found = self.peek_word(word);
        if found {
            self.parser.advance_token();
        }
        found
    }

    /// Consumes the first of `words` that is next, returning it.
    pub(super) fn consume_any_word(&mut self, words: &[&'static str]) -> Option<&'static str> {
        let found = words.iter().copied().find(|word| self.peek_word(word))?;
        self.parser.advance_token();
        Some(found)
    }

    /// Consumes the unquoted word `word`, or fails with a syntax error.
    pub(super) fn expect_word(&mut self, word: &str) -> Result<(), SqlError> {
        if self.consume_word(word) {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// Whether the next token is `token`.
    pub(super) fn peek(&self, token: &Token) -> bool {
        match self.pending_gt {
            Some(_) => *token == Token::Gt,
            None => self.parser.peek_token_ref().token == *token,
        }
    }

    /// Consumes `token` if it is next.
    pub(super) fn consume(&mut self, token: &Token) -> bool {
        if !self.peek(token) {
            return false;
        }
        match &mut self.pending_gt {
            Some(pending) if pending.count > 1 => {
                pending.count -= 1;
                pending.at.column += 1;
            }
            Some(_) => self.pending_gt = None,
            None => self.parser.advance_token(),
        }
        true
    }

    /// Consumes `token`, or fails with a syntax error.
    pub(super) fn expect(&mut self, token: &Token) -> Result<(), SqlError> {
        if self.consume(token) {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// Consumes the `>` closing a type argument list. It may be the first character of a
    /// longer token: PostgreSQL's tokenizer reads `>>>` in `ARRAY<ARRAY<ROW<a INT>>>` as one
    /// operator, whose other `>`s then close the enclosing lists.
    pub(super) fn expect_gt(&mut self) -> Result<(), SqlError> {
        if self.consume(&Token::Gt) {
            return Ok(());
        }
        let next = self.parser.peek_token_ref();
        let count = match &next.token {
            Token::ShiftRight => 2,
            Token::CustomBinaryOperator(op) if op.chars().all(|c| c == '>') => op.len(),
            _ => 0,
        };
        if self.pending_gt.is_some() || count < 2 {
            return Err(self.syntax_error());
        }
        let start = next.span.start;
        self.pending_gt = Some(PendingGt {
            at: Location {
                line: start.line,
                column: start.column + 1,
            },
            count: count - 1,
        });
        self.parser.advance_token();
        Ok(())
    }

    /// Parses an identifier (or a type name), folding it to lower case unless it is quoted.
    /// Keywords are accepted, so columns may be called `watermark` or `comment`.
    pub(super) fn ident(&mut self) -> Result<(String, Position), SqlError> {
        self.no_pending_gt()?;
        let position = self.position();
        let Token::Word(word) = &self.parser.peek_token_ref().token else {
            return Err(self.syntax_error());
        };
        let name = match word.quote_style {
            Some(_) => word.value.clone(),
            None => word.value.to_lowercase(),
        };
        self.parser.advance_token();
        Ok((name, position))
    }

    /// Parses a possibly qualified name, each part folded like [`Cursor::ident`], joined by `.`.
    pub(super) fn object_name(&mut self) -> Result<String, SqlError> {
        let mut name = self.ident()?.0;
        while self.consume(&Token::Period) {
            name.push('.');
            name.push_str(&self.ident()?.0);
        }
        Ok(name)
    }

    /// Parses an expression with sqlparser; it stops before the first token that cannot
    /// continue it (`,`, `)`, `COMMENT`, ...).
    pub(super) fn expr(&mut self) -> Result<Expr, SqlError> {
        self.no_pending_gt()?;
        self.parser.parse_expr().map_err(|e| self.sql_error(&e))
    }

    /// Parses a string literal (`'...'` or `E'...'`).
    pub(super) fn string(&mut self) -> Result<(String, Position), SqlError> {
        self.no_pending_gt()?;
        let position = self.position();
        match &self.parser.peek_token_ref().token {
            Token::SingleQuotedString(s) | Token::EscapedStringLiteral(s) => {
                let s = s.clone();
                self.parser.advance_token();
                Ok((s, position))
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// Parses an unsigned integer literal.
    pub(super) fn unsigned(&mut self) -> Result<(u64, Position), SqlError> {
        self.no_pending_gt()?;
        let position = self.position();
        let value = self
            .parser
            .parse_literal_uint()
            .map_err(|e| self.sql_error(&e))?;
        Ok((value, position))
    }

    /// Accepts an optional `;`, then requires the end of input.
    pub(super) fn expect_end(&mut self) -> Result<(), SqlError> {
        let _ = self.consume(&Token::SemiColon);
        self.expect(&Token::EOF)
    }

    /// Fails with a syntax error at a pending `>` that sqlparser itself cannot see.
    fn no_pending_gt(&self) -> Result<(), SqlError> {
        match self.pending_gt {
            Some(_) => Err(self.syntax_error()),
            None => Ok(()),
        }
    }

    /// Converts one of sqlparser's errors, locating it in the statement.
    fn sql_error(&self, error: &ParserError) -> SqlError {
        SqlError::from_parser(error, &self.text)
    }
}

/// Whether `token` is the unquoted word `word`, in any case.
pub(super) fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}
