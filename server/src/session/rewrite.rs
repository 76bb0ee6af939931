//! PostgreSQL literal forms DataFusion reads differently, rewritten before planning.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{DataType, Expr, Statement, Value, visit_expressions_mut};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// `'\x00ff'::bytea` is hex input in PostgreSQL; DataFusion would cast the characters
/// themselves. Rewritten to `decode('00ff', 'hex')`.
pub fn postgres_literals(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Cast { data_type: DataType::Bytea, expr: inner, .. } = expr {
            if let Expr::Value(value) = inner.as_ref() {
                if let Value::SingleQuotedString(text) | Value::EscapedStringLiteral(text) = &value.value {
                    if let Some(hex) = text.strip_prefix("\\x") {
                        if hex.chars().all(|c| c.is_ascii_hexdigit()) {
                            let sql = format!("decode('{hex}', 'hex')");
                            if let Ok(decoded) = Parser::new(&PostgreSqlDialect {}).try_with_sql(&sql).and_then(|mut p| p.parse_expr()) {
                                *expr = decoded;
                            }
                        }
                    }
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_bytea_literals_become_decode() {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, "SELECT CAST('\\x00ff41' AS BYTEA)")
            .expect("parses")
            .remove(0);
        postgres_literals(&mut statement);
        assert_eq!(statement.to_string(), "SELECT decode('00ff41', 'hex')");
    }
}
