//! Flink's group-window syntax, rewritten into the window TVF form once, before planning.
//!
//! ```sql
//! SELECT TUMBLE_START(order_time, INTERVAL '5' MINUTE), customer_id, COUNT(*)
//! FROM orders GROUP BY TUMBLE(order_time, INTERVAL '5' MINUTE), customer_id
//! ```
//! becomes, in meaning,
//! ```sql
//! SELECT window_start, customer_id, COUNT(*)
//! FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '5' MINUTE)) AS orders
//! GROUP BY window_start, window_end, customer_id
//! ```
//! `SESSION(time, gap)` group windows are sessions per group key (Flink's keyed session
//! windows), so the other group keys become the window's `PARTITION BY`.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, ObjectName,
    ObjectNamePart, Query, SetExpr, TableAlias, TableFactor, visit_expressions_mut,
};

use super::window_tvf::{WINDOW_RELATION_PREFIX, WindowCall, WindowFunction};
use crate::error::{SqlError, SqlState};
use crate::parser::TextMap;

/// Rewrites the group window of `query`'s SELECT (if it has one) and returns its window call.
/// `index` numbers the window relation.
pub fn rewrite_group_window(
    query: &mut Query,
    index: usize,
    map: &TextMap<'_>,
) -> Result<Option<WindowCall>, SqlError> {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Ok(None);
    };
    let GroupByExpr::Expressions(group_by, _) = &mut select.group_by else {
        return Ok(None);
    };
    let mut found = None;
    for (slot, expr) in group_by.iter().enumerate() {
        if let Expr::Function(function) = expr
            && let Some(kind) = window_function(&function.name)
        {
            if found.is_some() {
                return Err(SqlError::new(
                    SqlState::GROUPING_ERROR,
                    "a query can group by only one window",
                )
                .at(map.find_identifier(kind.name())));
            }
            found = Some((slot, kind, arguments(&function.args)));
        }
    }
    let Some((slot, function, args)) = found else {
        return Ok(None);
    };
    let position = map.find_identifier(function.name());
    let usage = match function {
        WindowFunction::Tumble => "TUMBLE(time_col, size)",
        WindowFunction::Hop => "HOP(time_col, slide, size)",
        WindowFunction::Session => "SESSION(time_col, gap)",
        WindowFunction::Cumulate => "CUMULATE(time_col, step, size)",
    };
    let wrong = || {
        SqlError::new(
            SqlState::SYNTAX_ERROR,
            format!("the group window is written {usage}"),
        )
        .at(position)
    };
    let args = args.ok_or_else(wrong)?;
    // The time column, plain or qualified by the table (`B.dateTime`).
    let time = match args.first() {
        Some(Expr::Identifier(time)) => time.clone(),
        Some(Expr::CompoundIdentifier(parts)) if parts.len() == 2 => parts[1].clone(),
        _ => return Err(wrong()),
    };
    let intervals = &args[1..];
    if intervals.len() != function_intervals(function) {
        return Err(wrong());
    }
    let mut millis = Vec::new();
    for interval in intervals {
        millis.push(interval_millis(interval).ok_or_else(wrong)?);
    }
    if matches!(function, WindowFunction::Tumble | WindowFunction::Hop) {
        millis.push(0);
    }
    let time_column = fold(&time);

    // The other group keys (plain columns) partition SESSION windows.
    let mut partition_by = Vec::new();
    if function == WindowFunction::Session {
        for (other, expr) in group_by.iter().enumerate() {
            if other == slot {
                continue;
            }
            match expr {
                Expr::Identifier(ident) => partition_by.push(fold(ident)),
                Expr::CompoundIdentifier(parts) => {
                    if let Some(last) = parts.last() {
                        partition_by.push(fold(last));
                    }
                }
                _ => {
                    return Err(SqlError::unsupported(
                        "SESSION group windows can only be keyed by plain columns",
                    )
                    .at(position));
                }
            }
        }
    }
    group_by.splice(
        slot..=slot,
        [
            Expr::Identifier(Ident::new("window_start")),
            Expr::Identifier(Ident::new("window_end")),
        ],
    );

    // FROM one table, which becomes the window relation.
    let relation = format!("{WINDOW_RELATION_PREFIX}{index}");
    let mut subquery = None;
    let table = match select.from.as_mut_slice() {
        [only] if only.joins.is_empty() => match &mut only.relation {
            TableFactor::Table {
                name, alias, args, ..
            } if args.is_none() => {
                let table = name
                    .0
                    .iter()
                    .map(|part| match part {
                        ObjectNamePart::Identifier(ident) => fold(ident),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(".");
                if alias.is_none() {
                    let last = name.0.last().and_then(|p| p.as_ident()).cloned();
                    *alias = last.map(|name| TableAlias {
                        explicit: true,
                        name,
                        columns: Vec::new(),
                        at: None,
                    });
                }
                *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(&relation))]);
                table
            }
            TableFactor::Derived {
                lateral: false,
                subquery: derived,
                alias: Some(alias),
                ..
            } => {
                // A derived table (Flink's `FROM (SELECT *, PROCTIME() AS p FROM t) AS b`):
                // the window reads its rows as it reads a view's.
                let name = fold(&alias.name);
                subquery = Some(derived.clone());
                only.relation = TableFactor::Table {
                    name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(&relation))]),
                    alias: Some(alias.clone()),
                    args: None,
                    with_hints: Vec::new(),
                    version: None,
                    with_ordinality: false,
                    partitions: Vec::new(),
                    json_path: None,
                    sample: None,
                    index_hints: Vec::new(),
                };
                name
            }
            _ => return Err(group_window_from(position)),
        },
        _ => return Err(group_window_from(position)),
    };

    // TUMBLE_START(...) -> window_start, and so on, wherever they appear.
    let mut failure = None;
    let mut rowtime = false;
    let _ = visit_expressions_mut(query, |expr| {
        if let Expr::Function(call) = expr {
            let name = call.name.to_string().to_ascii_uppercase();
            let column = ["_START", "_END", "_ROWTIME", "_PROCTIME"]
                .iter()
                .find(|suffix| {
                    name.strip_suffix(*suffix)
                        .is_some_and(|prefix| WindowFunction::from_sql_name(prefix).is_some())
                })
                .copied();
            match column {
                Some("_START") => *expr = Expr::Identifier(Ident::new("window_start")),
                Some("_END") => *expr = Expr::Identifier(Ident::new("window_end")),
                Some("_ROWTIME") => {
                    rowtime = true;
                    *expr = Expr::Identifier(Ident::new("window_time"));
                }
                Some(_) => {
                    failure = Some(
                        SqlError::unsupported(format!(
                            "{name} is not supported yet: a window's processing-time attribute, for a later window over it; use {}_END", name.trim_end_matches("_PROCTIME")
                        ))
                        .at(map.find_identifier(&name)),
                    );
                    return ControlFlow::Break(());
                }
                None => {}
            }
        }
        ControlFlow::Continue(())
    });
    if let Some(failure) = failure {
        return Err(failure);
    }
    // window_time is a function of the window: grouping by it too changes nothing.
    if rowtime
        && let SetExpr::Select(select) = query.body.as_mut()
        && let GroupByExpr::Expressions(group_by, _) = &mut select.group_by
    {
        group_by.push(Expr::Identifier(Ident::new("window_time")));
    }
    Ok(Some(WindowCall {
        relation,
        function,
        table,
        subquery,
        partition_by,
        time_column,
        intervals: millis,
        position,
    }))
}

fn group_window_from(position: Option<usize>) -> SqlError {
    SqlError::unsupported(
        "a group window (GROUP BY TUMBLE/HOP/SESSION) must read one table, view or derived table (with an alias) directly",
    )
        .with_hint("use the window TVF form, e.g. FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))")
        .at(position)
}

impl WindowFunction {
    /// The group-window function named `name` (TUMBLE, HOP, SESSION; CUMULATE has no group
    /// window form in Flink).
    fn from_sql_name(name: &str) -> Option<Self> {
        match name {
            "TUMBLE" => Some(WindowFunction::Tumble),
            "HOP" => Some(WindowFunction::Hop),
            "SESSION" => Some(WindowFunction::Session),
            _ => None,
        }
    }
}

fn window_function(name: &ObjectName) -> Option<WindowFunction> {
    WindowFunction::from_sql_name(&name.to_string().to_ascii_uppercase())
}

fn function_intervals(function: WindowFunction) -> usize {
    match function {
        WindowFunction::Tumble | WindowFunction::Session => 1,
        WindowFunction::Hop | WindowFunction::Cumulate => 2,
    }
}

fn arguments(args: &FunctionArguments) -> Option<Vec<Expr>> {
    let FunctionArguments::List(list) = args else {
        return None;
    };
    list.args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Some(expr.clone()),
            _ => None,
        })
        .collect()
}

/// An `INTERVAL '5' MINUTE` expression in milliseconds, read the way the TVF form reads it.
fn interval_millis(expr: &Expr) -> Option<i64> {
    super::window_tvf::interval_millis(&expr.to_string())
}

fn fold(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::Statement;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewrite(sql: &str) -> (String, Option<WindowCall>) {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        let Statement::Query(query) = &mut statements[0] else {
            panic!("query");
        };
        let call = rewrite_group_window(query, 0, &TextMap::whole(sql)).expect("rewrites");
        (query.to_string(), call)
    }

    #[test]
    fn tumble_group_window_becomes_the_tvf_form() {
        let (sql, call) = rewrite(
            "SELECT TUMBLE_START(order_time, INTERVAL '5' MINUTE) AS ws, TUMBLE_END(order_time, INTERVAL '5' MINUTE), customer_id, COUNT(*) FROM orders GROUP BY TUMBLE(order_time, INTERVAL '5' MINUTE), customer_id",
        );
        assert_eq!(
            sql,
            "SELECT window_start AS ws, window_end, customer_id, COUNT(*) FROM __window_0 AS orders GROUP BY window_start, window_end, customer_id"
        );
        let call = call.expect("window");
        assert_eq!(call.function, WindowFunction::Tumble);
        assert_eq!(call.table, "orders");
        assert_eq!(call.intervals, vec![300_000, 0]);
    }

    #[test]
    fn session_group_window_is_keyed_by_the_other_group_keys() {
        let (sql, call) = rewrite(
            "SELECT k, SESSION_ROWTIME(ts, INTERVAL '10' SECOND), SUM(v) FROM t AS x GROUP BY k, SESSION(ts, INTERVAL '10' SECOND)",
        );
        assert_eq!(
            sql,
            "SELECT k, window_time, SUM(v) FROM __window_0 AS x GROUP BY k, window_start, window_end, window_time"
        );
        let call = call.expect("window");
        assert_eq!(call.partition_by, vec!["k"]);
        assert_eq!(call.intervals, vec![10_000]);
    }

    #[test]
    fn a_group_window_over_a_derived_table_reads_its_query() {
        let (sql, call) = rewrite(
            "SELECT B.bidder, COUNT(*), TUMBLE_START(B.p_time, INTERVAL '10' SECOND) FROM (SELECT *, PROCTIME() AS p_time FROM bid) AS B GROUP BY B.bidder, TUMBLE(B.p_time, INTERVAL '10' SECOND)",
        );
        assert_eq!(
            sql,
            "SELECT B.bidder, COUNT(*), window_start FROM __window_0 AS B GROUP BY B.bidder, window_start, window_end"
        );
        let call = call.expect("window");
        assert_eq!(
            (call.table.as_str(), call.time_column.as_str()),
            ("b", "p_time")
        );
        assert_eq!(
            call.subquery.map(|q| q.to_string()),
            Some("SELECT *, PROCTIME() AS p_time FROM bid".to_string())
        );
    }

    #[test]
    fn queries_without_group_windows_are_untouched() {
        let (sql, call) = rewrite("SELECT k, COUNT(*) FROM t GROUP BY k");
        assert_eq!(sql, "SELECT k, COUNT(*) FROM t GROUP BY k");
        assert!(call.is_none());
    }
}
