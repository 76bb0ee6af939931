//! Views over stream tables: a streaming query may read a view (`CREATE VIEW bid AS SELECT
//! bid.auction, ..., dateTime FROM nexmark WHERE event_type = 2`), which DataFusion inlines
//! into the query's plan, and a window may read one, when the view passes the table's
//! event-time column through unchanged, or computes `PROCTIME()` (a processing-time window).

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::{ViewTable, source_as_provider};
use datafusion::logical_expr::{Expr, LogicalPlan};

use crate::functions::proctime::is_proctime_call;

use super::table::{StreamTable, StreamTableProvider, WindowRelationProvider};

/// The stream tables a plan scans (directly, or through window relations), in plan order.
pub fn scanned_stream_tables(plan: &LogicalPlan) -> Vec<Arc<StreamTable>> {
    let mut tables = Vec::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
        {
            if let Some(stream) = provider.downcast_ref::<StreamTableProvider>() {
                tables.push(stream.table.clone());
            } else if let Some(window) = provider.downcast_ref::<WindowRelationProvider>() {
                tables.push(window.table.clone());
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    tables
}

/// The plan of `provider` when it is a view that reads a stream table.
pub fn stream_view(provider: &Arc<dyn TableProvider>) -> Option<&LogicalPlan> {
    let view = provider.downcast_ref::<ViewTable>()?;
    let plan = view.logical_plan();
    (!scanned_stream_tables(plan).is_empty()).then_some(plan)
}

/// Where an output column of a view's plan comes from.
enum Origin<'a> {
    /// A column of the scanned stream table, passed through unchanged (renamed at most).
    Scanned(Arc<StreamTable>, String),
    /// An expression computed by a projection, passed through unchanged after that.
    Computed(&'a Expr),
}

/// Where output column `name` of `plan` comes from, through projections, filters and aliases.
fn origin<'a>(plan: &'a LogicalPlan, name: &str) -> Option<Origin<'a>> {
    match plan {
        LogicalPlan::Projection(projection) => {
            let index = projection
                .schema
                .fields()
                .iter()
                .position(|f| f.name() == name)?;
            let mut expr = &projection.expr[index];
            while let Expr::Alias(alias) = expr {
                expr = &alias.expr;
            }
            match expr {
                Expr::Column(column) => origin(&projection.input, &column.name),
                computed => Some(Origin::Computed(computed)),
            }
        }
        LogicalPlan::Filter(filter) => origin(&filter.input, name),
        LogicalPlan::SubqueryAlias(alias) => origin(&alias.input, name),
        LogicalPlan::TableScan(scan) => {
            let provider = source_as_provider(&scan.source).ok()?;
            let stream = provider.downcast_ref::<StreamTableProvider>()?;
            Some(Origin::Scanned(stream.table.clone(), name.to_string()))
        }
        _ => None,
    }
}

/// The column of the scanned table that output column `name` of `plan` is, when it is one
/// passed through unchanged (renamed at most) by projections, filters and aliases.
pub fn passed_through(plan: &LogicalPlan, name: &str) -> Option<String> {
    match origin(plan, name)? {
        Origin::Scanned(_, column) => Some(column),
        Origin::Computed(_) => None,
    }
}

/// Whether output column `name` of `plan` is processing time: `PROCTIME()` computed by a
/// projection, or a table's `name AS PROCTIME()` column, passed through unchanged after that.
pub fn is_processing_time(plan: &LogicalPlan, name: &str) -> bool {
    match origin(plan, name) {
        Some(Origin::Scanned(table, column)) => table
            .schema
            .index_of(&column)
            .is_ok_and(|index| table.is_processing_time(index)),
        Some(Origin::Computed(expr)) => is_proctime_call(expr),
        None => false,
    }
}
