//! PostgreSQL forms DataFusion reads differently (literals, LIKE ESCAPE, client catalog
//! subqueries), rewritten before planning.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, JoinOperator,
    Query, Select, SelectItem, SetExpr, Statement, TableFactor, Value, visit_expressions_mut,
    visit_relations,
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
        if let Expr::Subquery(query) = expr
            && empty_catalog_subquery(query)
        {
            *expr = Expr::Value(Value::Null.into());
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

/// True when `statement` reads tables and all of them are user tables (none in `pg_catalog` or
/// `information_schema`). Such statements skip the client-compatibility rewriter, whose rules
/// are written for catalog queries (it turns correlated subqueries in a select list into NULL).
pub fn reads_user_tables_only(statement: &Statement) -> bool {
    let mut user = 0;
    let mut system = 0;
    let _ = visit_relations(statement, |name| {
        let first = name
            .0
            .first()
            .map(|part| part.to_string().to_ascii_lowercase())
            .unwrap_or_default();
        if first == "pg_catalog" || first == "information_schema" || first.starts_with("pg_") {
            system += 1;
        } else {
            user += 1;
        }
        ControlFlow::<()>::Continue(())
    });
    user > 0 && system == 0
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

/// `pg_catalog` tables that are empty in every Runnel database, because Runnel has no objects of
/// their kind: sequences, column defaults, row-security policies, triggers, table inheritance,
/// extended statistics and publications (the DDL that would create them is refused).
const EMPTY_CATALOG_TABLES: &[&str] = &[
    "pg_sequence",
    "pg_attrdef",
    "pg_policy",
    "pg_trigger",
    "pg_inherits",
    "pg_statistic_ext",
    "pg_publication",
];

/// A scalar subquery that reads one of [`EMPTY_CATALOG_TABLES`] on a side every row must come
/// from (the first table, or an inner or cross join) returns no rows, so its value is NULL. It is
/// replaced by NULL: clients such as SQLAlchemy look up defaults and sequences with correlated
/// subqueries DataFusion cannot decorrelate (outer columns inside the selected expression).
/// Not for subqueries that aggregate with `count`, which answer 0 over no rows.
fn empty_catalog_subquery(query: &Query) -> bool {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    let is_empty_table = |relation: &TableFactor| match relation {
        TableFactor::Table { name, .. } => name.0.last().is_some_and(|last| {
            let last = last.to_string().to_ascii_lowercase();
            EMPTY_CATALOG_TABLES.contains(&last.as_str())
        }),
        _ => false,
    };
    let reads_empty = select.from.iter().any(|from| {
        is_empty_table(&from.relation)
            || from.joins.iter().any(|join| {
                matches!(
                    join.join_operator,
                    JoinOperator::Join(_) | JoinOperator::Inner(_) | JoinOperator::CrossJoin(_)
                ) && is_empty_table(&join.relation)
            })
    });
    let counts = select
        .projection
        .iter()
        .any(|item| item.to_string().to_ascii_lowercase().contains("count("));
    reads_empty && !counts && select.having.is_none() && reads_only_catalog(select)
}

/// True when every relation in the FROM clause is a `pg_catalog` table.
fn reads_only_catalog(select: &Select) -> bool {
    !select.from.is_empty()
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
        })
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
    let only_catalog = reads_only_catalog(select);
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

#[cfg(test)]
mod catalog_subquery_tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0);
        postgres_literals(&mut statement);
        statement.to_string()
    }

    #[test]
    fn lookups_in_empty_catalog_tables_are_null() {
        // SQLAlchemy's identity lookup: outer columns inside the selected expression.
        assert_eq!(
            rewritten(
                "SELECT CASE WHEN a.attidentity <> '' THEN (SELECT json_build_object('always', \
                 a.attidentity = 'a', 'start', s.seqstart) FROM pg_catalog.pg_sequence s \
                 WHERE s.seqrelid = a.attrelid) ELSE NULL END AS identity FROM pg_catalog.pg_attribute a"
            ),
            "SELECT CASE WHEN a.attidentity <> '' THEN NULL ELSE NULL END AS identity \
             FROM pg_catalog.pg_attribute a"
        );
    }

    #[test]
    fn counts_and_optional_joins_and_user_tables_are_kept() {
        for sql in [
            "SELECT (SELECT count(*) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = c.oid) FROM pg_catalog.pg_class c",
            "SELECT (SELECT max(c2.relname) FROM pg_catalog.pg_class c2 LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c2.oid WHERE c2.oid = c.oid) FROM pg_catalog.pg_class c",
            "SELECT (SELECT max(x) FROM pg_sequence_user WHERE k = c.oid) FROM pg_catalog.pg_class c",
        ] {
            assert!(
                !rewritten(sql).contains("NULL"),
                "{sql} -> {}",
                rewritten(sql)
            );
        }
    }

    #[test]
    fn user_queries_are_told_apart_from_catalog_queries() {
        let parse = |sql: &str| {
            Parser::parse_sql(&PostgreSqlDialect {}, sql)
                .expect("parses")
                .remove(0)
        };
        assert!(reads_user_tables_only(&parse(
            "SELECT t.id, (SELECT max(u.x) FROM u WHERE u.k = t.id) FROM t"
        )));
        for sql in [
            "SELECT 1",
            "SELECT relname FROM pg_catalog.pg_class",
            "SELECT * FROM pg_class JOIN t ON true",
            "SELECT table_name FROM information_schema.tables",
        ] {
            assert!(!reads_user_tables_only(&parse(sql)), "{sql}");
        }
    }
}
