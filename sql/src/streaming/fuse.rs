//! Consecutive Calc stages fused into one: a view's filter and projection and the query's
//! projection over it (`SELECT auction, price FROM bid` over `bid AS SELECT bid.auction, ...
//! FROM nexmark WHERE event_type = 2`) become one operator that evaluates the predicate once
//! and copies only the values it outputs.
//!
//! Two stages `A` then `B` fuse when `B` has no predicate, or `A` only filters (its projection
//! is the identity): the result keeps `A`'s predicate (and `B`'s, ANDed), and computes `B`'s
//! projection with `A`'s expressions substituted for the columns `B` reads. A substitution
//! that would compute one of `A`'s expressions more than once (an expression other than a
//! selection, read twice) is not made.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, Column};
use datafusion::physical_plan::PhysicalExpr;
use runnel_engine::stream::calc::is_selection;

use super::plan::{CalcStage, Stage};

/// `stages` with consecutive Calc stages fused where that is safe.
pub fn fuse_calcs(stages: Vec<Stage>) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::with_capacity(stages.len());
    for stage in stages {
        let fused = match (out.last(), &stage) {
            (Some(Stage::Calc(first)), Stage::Calc(second)) => fuse(first, second),
            _ => None,
        };
        match fused {
            Some(calc) => {
                out.pop();
                out.push(Stage::Calc(calc));
            }
            None => out.push(stage),
        }
    }
    out
}

fn is_identity(calc: &CalcStage) -> bool {
    calc.projection.iter().enumerate().all(|(i, expr)| {
        expr.downcast_ref::<Column>()
            .is_some_and(|c| c.index() == i)
    })
}

/// How many times each input column is read by `exprs`.
fn reads(exprs: &[Arc<dyn PhysicalExpr>], columns: usize) -> Vec<usize> {
    let mut counts = vec![0; columns];
    for expr in exprs {
        let _ = expr.apply(|node| {
            if let Some(column) = node.downcast_ref::<Column>()
                && let Some(count) = counts.get_mut(column.index())
            {
                *count += 1;
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        });
    }
    counts
}

/// `expr` with each column `i` replaced by `inputs[i]`.
fn substitute(
    expr: &Arc<dyn PhysicalExpr>,
    inputs: &[Arc<dyn PhysicalExpr>],
) -> Option<Arc<dyn PhysicalExpr>> {
    expr.clone()
        .transform_up(|node| match node.downcast_ref::<Column>() {
            Some(column) => match inputs.get(column.index()) {
                Some(input) => Ok(Transformed::yes(input.clone())),
                None => Err(datafusion::error::DataFusionError::Internal(
                    "column out of range".into(),
                )),
            },
            None => Ok(Transformed::no(node)),
        })
        .ok()
        .map(|t| t.data)
}

fn fuse(first: &CalcStage, second: &CalcStage) -> Option<CalcStage> {
    let first_filters_only = is_identity(first);
    if second.predicate.is_some() && !first_filters_only {
        return None;
    }
    let mut needed: Vec<Arc<dyn PhysicalExpr>> = second.projection.clone();
    needed.extend(second.predicate.clone());
    let counts = reads(&needed, first.projection.len());
    let duplicated = counts
        .iter()
        .zip(&first.projection)
        .any(|(count, expr)| *count > 1 && !is_selection(expr));
    if duplicated {
        return None;
    }
    let projection = second
        .projection
        .iter()
        .map(|e| substitute(e, &first.projection))
        .collect::<Option<Vec<_>>>()?;
    let predicate = match (&first.predicate, &second.predicate) {
        (Some(a), Some(b)) => {
            let b = substitute(b, &first.projection)?;
            Some(Arc::new(BinaryExpr::new(a.clone(), Operator::And, b)) as Arc<dyn PhysicalExpr>)
        }
        (Some(a), None) => Some(a.clone()),
        (None, Some(b)) => Some(substitute(b, &first.projection)?),
        (None, None) => None,
    };
    Some(CalcStage {
        predicate,
        projection,
        schema: second.schema.clone(),
        description: format!("{} -> {}", first.description, second.description),
    })
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
    use datafusion::physical_expr::expressions::Literal;
    use datafusion::scalar::ScalarValue;

    use super::*;

    fn column(name: &str, index: usize) -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new(name, index))
    }

    fn times_two(input: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        let two = Arc::new(Literal::new(ScalarValue::Int32(Some(2))));
        Arc::new(BinaryExpr::new(input, Operator::Multiply, two))
    }

    fn schema(names: &[&str]) -> SchemaRef {
        Arc::new(Schema::new(
            names
                .iter()
                .map(|n| Field::new(*n, DataType::Int32, true))
                .collect::<Vec<_>>(),
        ))
    }

    fn calc(
        predicate: Option<Arc<dyn PhysicalExpr>>,
        projection: Vec<Arc<dyn PhysicalExpr>>,
        names: &[&str],
    ) -> Stage {
        Stage::Calc(CalcStage {
            predicate,
            projection,
            schema: schema(names),
            description: "Calc".to_string(),
        })
    }

    fn only_calc(stages: &[Stage]) -> &CalcStage {
        match stages {
            [Stage::Calc(calc)] => calc,
            other => panic!("expected one Calc, got {}", other.len()),
        }
    }

    #[test]
    fn a_filter_then_projections_become_one_calc() {
        let predicate = Arc::new(BinaryExpr::new(
            column("a", 0),
            Operator::Gt,
            Arc::new(Literal::new(ScalarValue::Int32(Some(2)))),
        )) as Arc<dyn PhysicalExpr>;
        let stages = vec![
            calc(
                Some(predicate.clone()),
                vec![column("a", 0), column("b", 1)],
                &["a", "b"],
            ),
            calc(
                None,
                vec![column("b", 1), times_two(column("a", 0))],
                &["b", "a2"],
            ),
            calc(None, vec![column("a2", 1)], &["a2"]),
        ];
        let fused = fuse_calcs(stages);
        let calc = only_calc(&fused);
        assert_eq!(
            calc.predicate.as_ref().map(|p| p.to_string()),
            Some(predicate.to_string())
        );
        assert_eq!(calc.projection.len(), 1);
        assert_eq!(
            calc.projection[0].to_string(),
            times_two(column("a", 0)).to_string()
        );
        assert_eq!(calc.schema.field(0).name(), "a2");
    }

    #[test]
    fn computations_are_not_duplicated_and_projections_are_not_filtered_through() {
        // SELECT a2 + a2 over SELECT a * 2: fusing would compute a * 2 twice.
        let sum = Arc::new(BinaryExpr::new(
            column("a2", 0),
            Operator::Plus,
            column("a2", 0),
        )) as Arc<dyn PhysicalExpr>;
        let stages = vec![
            calc(None, vec![times_two(column("a", 0))], &["a2"]),
            calc(None, vec![sum], &["s"]),
        ];
        assert_eq!(fuse_calcs(stages).len(), 2);
        // WHERE over a computed projection stays after it.
        let positive = Arc::new(BinaryExpr::new(
            column("a2", 0),
            Operator::Gt,
            Arc::new(Literal::new(ScalarValue::Int32(Some(0)))),
        )) as Arc<dyn PhysicalExpr>;
        let stages = vec![
            calc(None, vec![times_two(column("a", 0))], &["a2"]),
            calc(Some(positive), vec![column("a2", 0)], &["a2"]),
        ];
        assert_eq!(fuse_calcs(stages).len(), 2);
        // A column read twice is only selected: fused.
        let stages = vec![
            calc(None, vec![column("b", 1)], &["b"]),
            calc(
                None,
                vec![times_two(column("b", 0)), column("b", 0)],
                &["b2", "b"],
            ),
        ];
        assert_eq!(only_calc(&fuse_calcs(stages)).projection.len(), 2);
    }
}
