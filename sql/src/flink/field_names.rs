//! Flink's names for selected ROW fields: `SELECT person.id FROM t` gives a column named `id`,
//! where DataFusion would name it after the whole access (`t.person[id]`). Views such as
//! Nexmark's `CREATE VIEW bid AS SELECT bid.auction, bid.price, ... FROM nexmark` depend on
//! it: queries over the view read `auction` and `price`.
//!
//! The rewrite is syntactic, done on the parsed statement: a selected `a.b` (or `a.b.c`) with
//! no alias is a field access when `a` names no relation of that SELECT's `FROM`, and then
//! gets the alias `b` (`c`). References to a table's column (`t.col`) are left alone.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, ObjectNamePart, Query, Select, SelectItem, SetExpr, Statement, TableFactor,
    TableWithJoins, VisitMut, VisitorMut,
};

/// Aliases every unaliased ROW field access in the SELECT lists of `statement` with the
/// field's name.
pub fn name_selected_fields(statement: &mut Statement) {
    let _ = statement.visit(&mut FieldNames);
}

struct FieldNames;

impl VisitorMut for FieldNames {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<Self::Break> {
        name_in_set_expr(query.body.as_mut());
        ControlFlow::Continue(())
    }
}

fn name_in_set_expr(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => name_in_select(select),
        SetExpr::SetOperation { left, right, .. } => {
            name_in_set_expr(left);
            name_in_set_expr(right);
        }
        // Nested queries are visited on their own.
        _ => {}
    }
}

/// Folds an identifier as the planner does: unquoted ones to lower case.
fn fold(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_ascii_lowercase(),
    }
}

fn relation_names(from: &[TableWithJoins], names: &mut Vec<String>) {
    for table in from {
        relation_name(&table.relation, names);
        for join in &table.joins {
            relation_name(&join.relation, names);
        }
    }
}

fn relation_name(factor: &TableFactor, names: &mut Vec<String>) {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            if let Some(alias) = alias {
                names.push(fold(&alias.name));
            }
            // Without an alias the table is referred to by its last name part (or the whole
            // name, which starts with a schema that is no column either).
            if let Some(ObjectNamePart::Identifier(last)) = name.0.last() {
                names.push(fold(last));
            }
            if let Some(ObjectNamePart::Identifier(first)) = name.0.first() {
                names.push(fold(first));
            }
        }
        TableFactor::NestedJoin {
            table_with_joins,
            alias,
        } => {
            if let Some(alias) = alias {
                names.push(fold(&alias.name));
            }
            relation_names(std::slice::from_ref(table_with_joins), names);
        }
        other => {
            if let Some(alias) = factor_alias(other) {
                names.push(fold(alias));
            }
        }
    }
}

fn factor_alias(factor: &TableFactor) -> Option<&Ident> {
    match factor {
        TableFactor::Derived { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. } => alias.as_ref().map(|a| &a.name),
        _ => None,
    }
}

fn name_in_select(select: &mut Select) {
    let mut relations = Vec::new();
    relation_names(&select.from, &mut relations);
    let mut items = std::mem::take(&mut select.projection);
    for item in &mut items {
        let SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) = item else {
            continue;
        };
        let Some(first) = parts.first() else {
            continue;
        };
        let field_access = match parts.len() {
            0 | 1 => false,
            2 => !relations.contains(&fold(first)),
            // `t.row.field` or `row.field.subfield`, unless it is `schema.table.column`.
            _ => !relations.contains(&fold(&parts[1])),
        };
        if !field_access {
            continue;
        }
        let Some(last) = parts.last().cloned() else {
            continue;
        };
        let expr = Expr::CompoundIdentifier(parts.clone());
        *item = SelectItem::ExprWithAlias { expr, alias: last };
    }
    select.projection = items;
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn rewrite(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        name_selected_fields(&mut statements[0]);
        statements[0].to_string()
    }

    #[test]
    fn selected_row_fields_are_named_after_the_field() {
        assert_eq!(
            rewrite(
                "SELECT bid.auction, bid.price AS p, dateTime FROM nexmark WHERE event_type = 2"
            ),
            "SELECT bid.auction AS auction, bid.price AS p, dateTime FROM nexmark WHERE event_type = 2"
        );
        // In a view's query, a subquery and a union alike.
        assert_eq!(
            rewrite(
                "CREATE VIEW v AS SELECT * FROM (SELECT person.id FROM t) UNION ALL SELECT auction.id FROM t"
            ),
            "CREATE VIEW v AS SELECT * FROM (SELECT person.id AS id FROM t) UNION ALL SELECT auction.id AS id FROM t"
        );
        assert_eq!(
            rewrite("SELECT t.person.\"Name\" FROM t"),
            "SELECT t.person.\"Name\" AS \"Name\" FROM t"
        );
    }

    #[test]
    fn table_columns_keep_their_qualified_form() {
        let same = [
            "SELECT B.auction, B.price FROM bid AS B",
            "SELECT bid.auction FROM bid",
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace",
            "SELECT x.a FROM (SELECT 1 AS a) AS x",
            "SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class",
        ];
        for sql in same {
            assert_eq!(rewrite(sql), sql);
        }
    }
}
