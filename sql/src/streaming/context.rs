//! What DataFusion's SQL planner sees while a streaming query is planned: the session's
//! tables and functions, plus the window relations of the query, and Flink's `AVG`.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, TableReference, plan_datafusion_err};
use datafusion::config::ConfigOptions;
use datafusion::datasource::provider_as_source;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::planner::{ContextProvider, ExprPlanner, TypePlanner};
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, TableSource, WindowUDF};
use datafusion::sql::planner::{ParserOptions, SqlToRel};
use datafusion::sql::sqlparser::ast::Statement;

use super::avg::flink_avg;

/// A [`ContextProvider`] over resolved tables.
pub(super) struct StreamContext<'a> {
    state: &'a SessionState,
    tables: HashMap<String, Arc<dyn TableSource>>,
    type_planner: Arc<dyn TypePlanner>,
    avg: Arc<AggregateUDF>,
}

impl<'a> StreamContext<'a> {
    pub fn new(state: &'a SessionState, tables: HashMap<String, Arc<dyn TableSource>>) -> Self {
        StreamContext {
            state,
            tables,
            type_planner: Arc::new(crate::types::RunnelTypePlanner::new(None)),
            avg: flink_avg(),
        }
    }

    /// Plans `statement` with DataFusion's SQL planner.
    pub fn plan(&self, statement: Statement) -> DfResult<LogicalPlan> {
        let options = &self.state.config_options().sql_parser;
        let parser_options = ParserOptions {
            parse_float_as_decimal: options.parse_float_as_decimal,
            enable_ident_normalization: options.enable_ident_normalization,
            enable_options_value_normalization: options.enable_options_value_normalization,
            support_varchar_with_length: options.support_varchar_with_length,
            map_string_types_to_utf8view: options.map_string_types_to_utf8view,
            collect_spans: options.collect_spans,
            default_null_ordering: options.default_null_ordering.as_str().into(),
        };
        SqlToRel::new_with_options(self, parser_options).sql_statement_to_plan(statement)
    }

    /// The map key of a table reference.
    pub fn key(reference: &TableReference) -> String {
        reference.table().to_string()
    }
}

impl ContextProvider for StreamContext<'_> {
    fn get_table_source(&self, name: TableReference) -> DfResult<Arc<dyn TableSource>> {
        self.tables
            .get(&Self::key(&name))
            .cloned()
            .ok_or_else(|| plan_datafusion_err!("table '{name}' not found"))
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        self.state.expr_planners()
    }

    fn get_type_planner(&self) -> Option<Arc<dyn TypePlanner>> {
        Some(self.type_planner.clone())
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.state.scalar_functions().get(name).cloned()
    }

    fn get_higher_order_meta(
        &self,
        name: &str,
    ) -> Option<Arc<datafusion::logical_expr::HigherOrderUDF>> {
        self.state.higher_order_functions().get(name).cloned()
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        if name.eq_ignore_ascii_case("avg") || name.eq_ignore_ascii_case("mean") {
            return Some(self.avg.clone());
        }
        self.state.aggregate_functions().get(name).cloned()
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.state.window_functions().get(name).cloned()
    }

    fn get_variable_type(&self, _variable_names: &[String]) -> Option<DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        self.state.config_options()
    }

    fn udf_names(&self) -> Vec<String> {
        self.state.scalar_functions().keys().cloned().collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        self.state
            .higher_order_functions()
            .keys()
            .cloned()
            .collect()
    }

    fn udaf_names(&self) -> Vec<String> {
        self.state.aggregate_functions().keys().cloned().collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        self.state.window_functions().keys().cloned().collect()
    }
}

/// Wraps a provider as a planner table source.
pub(super) fn source(
    provider: Arc<dyn datafusion::catalog::TableProvider>,
) -> Arc<dyn TableSource> {
    provider_as_source(provider)
}
