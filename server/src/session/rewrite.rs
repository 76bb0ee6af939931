//! PostgreSQL literal forms DataFusion reads differently, rewritten before planning.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Query,
    SelectItem, SetExpr, Statement, TableFactor, Value, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// `'\x00ff'::bytea` is hex input in PostgreSQL; DataFusion would cast the characters
/// themselves. Rewritten to `decode('00ff', 'hex')`.
pub fn postgres_literals(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        // LIKE with an ESCAPE other than backslash: convert the pattern, keep the semantics.
        if let Expr::Like {
            escape_char: Some(escape),
            pattern,
            ..
        }
        | Expr::ILike {
            escape_char: Some(escape),
            pattern,
            ..
        } = expr
            && escape.to_string() != "'\\'"
        {
            let call = format!(
                "{}(NULL, {escape})",
                crate::system_catalog::functions::LIKE_ESCAPE
            );
            if let Ok(Expr::Function(mut function)) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&call)
                .and_then(|mut p| p.parse_expr())
            {
                if let FunctionArguments::List(list) = &mut function.args
                    && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) =
                        list.args.first_mut()
                {
                    *first = (**pattern).clone();
                }
                **pattern = Expr::Function(function);
            }
        }
        if let Expr::Like { escape_char, .. } | Expr::ILike { escape_char, .. } = expr {
            *escape_char = None;
        }
        if let Some(query) = array_subquery(expr) {
            *expr = Expr::Subquery(query);
        }
        if let Expr::Subquery(query) = expr {
            aggregate_catalog_scalar_subquery(query);
        }
        if let Expr::Cast {
            data_type: DataType::Bytea,
            expr: inner,
            ..
        } = expr
            && let Expr::Value(value) = inner.as_ref()
            && let Value::SingleQuotedString(text) | Value::EscapedStringLiteral(text) =
                &value.value
            && let Some(hex) = text.strip_prefix("\\x")
            && hex.chars().all(|c| c.is_ascii_hexdigit())
        {
            let sql = format!("decode('{hex}', 'hex')");
            if let Ok(decoded) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&sql)
                .and_then(|mut p| p.parse_expr())
            {
                *expr = decoded;
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `ARRAY(SELECT x FROM ...)` (psql's `\\d` sends it) as `(SELECT array_agg(x) FROM ...)`.
fn array_subquery(expr: &Expr) -> Option<Box<Query>> {
    let Expr::Function(function) = expr else {
        return None;
    };
    if !function.name.to_string().eq_ignore_ascii_case("array") {
        return None;
    }
    let FunctionArguments::Subquery(query) = &function.args else {
        return None;
    };
    let mut query = query.clone();
    let SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    if select.projection.len() != 1 {
        return None;
    }
    let inner = match &select.projection[0] {
        SelectItem::UnnamedExpr(inner) | SelectItem::ExprWithAlias { expr: inner, .. } => {
            inner.clone()
        }
        _ => return None,
    };
    let aggregated = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&format!("array_agg({inner})"))
        .and_then(|mut p| p.parse_expr())
        .ok()?;
    select.projection[0] = SelectItem::UnnamedExpr(aggregated);
    query.order_by = None;
    Some(query)
}

/// DataFusion only plans correlated scalar subqueries that aggregate. Client catalog queries
/// (SQLAlchemy's column reflection, for one) use plain ones that return at most one row by
/// construction (a lookup by OID); over `pg_catalog` tables such a subquery is wrapped in `max`,
/// which gives the same row. User queries are left alone: there PostgreSQL's "more than one row"
/// check matters.
fn aggregate_catalog_scalar_subquery(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let only_catalog = !select.from.is_empty()
        && select.from.iter().all(|from| {
            std::iter::once(&from.relation)
                .chain(from.joins.iter().map(|j| &j.relation))
                .all(|relation| match relation {
                    TableFactor::Table { name, .. } => {
                        let text = name.to_string().to_ascii_lowercase();
                        text.starts_with("pg_catalog.") || text.starts_with("pg_")
                    }
                    _ => false,
                })
        });
    let grouped =
        !matches!(&select.group_by, GroupByExpr::Expressions(exprs, _) if exprs.is_empty());
    if !only_catalog || grouped || select.projection.len() != 1 {
        return;
    }
    let wrap = |inner: &Expr| -> Option<Expr> {
        let text = inner.to_string().to_ascii_lowercase();
        if [
            "count(",
            "max(",
            "min(",
            "sum(",
            "avg(",
            "array_agg(",
            "string_agg(",
        ]
        .iter()
        .any(|a| text.contains(a))
        {
            return None;
        }
        Parser::new(&PostgreSqlDialect {})
            .try_with_sql(&format!("max({inner})"))
            .and_then(|mut p| p.parse_expr())
            .ok()
    };
    if let SelectItem::UnnamedExpr(inner) | SelectItem::ExprWithAlias { expr: inner, .. } =
        &mut select.projection[0]
        && let Some(wrapped) = wrap(inner)
    {
        *inner = wrapped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_with_custom_escape_converts_the_pattern() {
        let mut statement =
            Parser::parse_sql(&PostgreSqlDialect {}, "SELECT 'a' LIKE 'pg/_%' ESCAPE '/'")
                .expect("parses")
                .remove(0);
        postgres_literals(&mut statement);
        assert_eq!(
            statement.to_string(),
            "SELECT 'a' LIKE runnel_like_escape('pg/_%', '/')"
        );
    }

    #[test]
    fn hex_bytea_literals_become_decode() {
        let mut statement =
            Parser::parse_sql(&PostgreSqlDialect {}, "SELECT CAST('\\x00ff41' AS BYTEA)")
                .expect("parses")
                .remove(0);
        postgres_literals(&mut statement);
        assert_eq!(statement.to_string(), "SELECT decode('00ff41', 'hex')");
    }
}
