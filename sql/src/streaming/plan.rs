//! A planned streaming query: the operators a job runs, in order, from one source to the
//! output. The job runtime instantiates each stage `parallelism` times (keyed stages) or once
//! per source split (stages before the first exchange).

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::PhysicalExpr;
use runnel_engine::stream::source::SourceSpec;
use runnel_engine::stream::window::{SessionAggregateSpec, WindowAggregateSpec};

use super::table::StreamTable;

/// A streaming query ready to run.
#[derive(Debug, Clone)]
pub struct StreamPlan {
    /// Where rows come from.
    pub source: SourceStage,
    /// What happens to them, in order.
    pub stages: Vec<Stage>,
    /// The rows the query emits.
    pub schema: SchemaRef,
}

/// The source of a plan.
#[derive(Debug, Clone)]
pub struct SourceStage {
    /// The table read.
    pub table: Arc<StreamTable>,
    /// Computed columns and watermark, evaluated by every split's reader task.
    pub spec: SourceSpec,
}

/// One operator of a plan.
#[derive(Debug, Clone)]
pub enum Stage {
    /// Filter and projection.
    Calc(CalcStage),
    /// A window aggregation, hash-partitioned by its keys.
    Window(WindowStage),
}

/// A filter and/or projection.
#[derive(Debug, Clone)]
pub struct CalcStage {
    /// Rows kept.
    pub predicate: Option<Arc<dyn PhysicalExpr>>,
    /// Columns computed.
    pub projection: Vec<Arc<dyn PhysicalExpr>>,
    /// The output schema.
    pub schema: SchemaRef,
    /// For EXPLAIN.
    pub description: String,
}

/// A window aggregation.
#[derive(Debug, Clone)]
pub struct WindowStage {
    /// TUMBLE/HOP/CUMULATE or SESSION.
    pub aggregate: WindowAggregateKind,
    /// Hash keys of the exchange in front of the aggregation (empty: one instance).
    pub partition_keys: Vec<Arc<dyn PhysicalExpr>>,
    /// For EXPLAIN.
    pub description: String,
}

/// The two window operators.
#[derive(Debug, Clone)]
pub enum WindowAggregateKind {
    /// TUMBLE, HOP and CUMULATE.
    Windows(WindowAggregateSpec),
    /// SESSION.
    Session(SessionAggregateSpec),
}

impl StreamPlan {
    /// The plan as EXPLAIN prints it: one line per operator, output first, indented by depth.
    pub fn description(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for stage in self.stages.iter().rev() {
            match stage {
                Stage::Calc(calc) => lines.push(calc.description.clone()),
                Stage::Window(window) => {
                    lines.push(window.description.clone());
                    if window.partition_keys.is_empty() {
                        lines.push("Exchange: single (no keys: one instance)".to_string());
                    } else {
                        let keys: Vec<String> = window
                            .partition_keys
                            .iter()
                            .map(|k| k.to_string())
                            .collect();
                        lines.push(format!("Exchange: hash({})", keys.join(", ")));
                    }
                }
            }
        }
        let table = &self.source.table;
        // The watermark as declared (the bound expression prints literals in Arrow's
        // internal spelling).
        let watermark = match &table.def.watermark {
            _ if self.source.spec.processing_time.is_some() => {
                ", watermark: the wall clock (processing time)".to_string()
            }
            Some(def) => format!(", watermark: {} AS {}", def.column, def.expr),
            None => ", no watermark".to_string(),
        };
        lines.push(format!(
            "Source: {} (connector: {}{watermark})",
            table.name(),
            table.connector().unwrap_or("?")
        ));
        lines
            .into_iter()
            .enumerate()
            .map(|(depth, line)| format!("{}{line}", "  ".repeat(depth)))
            .collect()
    }
}

impl fmt::Display for StreamPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.description() {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}
