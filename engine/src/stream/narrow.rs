//! Expressions evaluated over only the columns and ROW fields they read.
//!
//! Some of DataFusion's expressions copy the batch they are given: `CASE` filters the whole
//! batch for each branch. Over a wide batch (Nexmark's ROW columns with their strings) that
//! copies far more than the expression reads. [`Narrowed`] expressions are rewritten to read a
//! batch of just the columns and ROW fields they use (selected without copying: they share the
//! input's buffers), and evaluated over that batch, which a filter can also cut down before
//! the expressions are computed.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_plan::PhysicalExpr;

use super::StreamError;

/// Expressions and the selections of the input they read.
#[derive(Debug, Clone)]
pub struct Narrowed {
    /// What the expressions read: columns and ROW fields of the input (see
    /// [`is_selection`]), each selected once, without copying.
    inputs: Vec<Arc<dyn PhysicalExpr>>,
    /// The expressions, over the batch of `inputs`.
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    /// The schema of the batch of `inputs`, from the first batch (the input's types do not
    /// change from batch to batch).
    schema: OnceLock<SchemaRef>,
}

/// Whether `expr` only selects: a column, a literal, or a ROW field of one (`get_field`),
/// which share the input's buffers instead of computing values.
pub fn is_selection(expr: &Arc<dyn PhysicalExpr>) -> bool {
    if expr.is::<Column>() || expr.is::<Literal>() {
        return true;
    }
    match expr.downcast_ref::<ScalarFunctionExpr>() {
        Some(function) => {
            function.name() == "get_field" && function.args().iter().all(is_selection)
        }
        None => false,
    }
}

/// A selection that reads the input (a column, or a field of one), as opposed to a literal.
fn reads_input(expr: &Arc<dyn PhysicalExpr>) -> bool {
    let mut reads = false;
    let _ = expr.apply(|node| {
        reads |= node.is::<Column>();
        Ok(TreeNodeRecursion::Continue)
    });
    reads && is_selection(expr)
}

impl Narrowed {
    /// `exprs` rewritten to read only the columns and ROW fields they use.
    pub fn new(exprs: &[Arc<dyn PhysicalExpr>]) -> Self {
        let mut inputs: Vec<Arc<dyn PhysicalExpr>> = Vec::new();
        let mut rewritten = Vec::with_capacity(exprs.len());
        for expr in exprs {
            let result = expr.clone().transform_down(|node| {
                if !reads_input(&node) {
                    return Ok(Transformed::no(node));
                }
                let index = match inputs.iter().position(|i| i.as_ref() == node.as_ref()) {
                    Some(index) => index,
                    None => {
                        inputs.push(node.clone());
                        inputs.len() - 1
                    }
                };
                let column = Arc::new(Column::new(&format!("input{index}"), index));
                Ok(Transformed::new(
                    column as Arc<dyn PhysicalExpr>,
                    true,
                    TreeNodeRecursion::Jump,
                ))
            });
            // The closure never fails.
            rewritten.push(result.map_or_else(|_| expr.clone(), |r| r.data));
        }
        Narrowed {
            inputs,
            exprs: rewritten,
            schema: OnceLock::new(),
        }
    }

    /// The batch of what the expressions read from `batch` (shared buffers, no copies).
    pub fn select(&self, batch: &RecordBatch) -> Result<RecordBatch, StreamError> {
        let rows = batch.num_rows();
        let arrays = self
            .inputs
            .iter()
            .map(|input| Ok(input.evaluate(batch)?.into_array(rows)?))
            .collect::<Result<Vec<ArrayRef>, StreamError>>()?;
        let schema = self.schema.get_or_init(|| {
            let fields: Vec<Field> = arrays
                .iter()
                .enumerate()
                .map(|(index, array)| {
                    Field::new(format!("input{index}"), array.data_type().clone(), true)
                })
                .collect();
            Arc::new(Schema::new(fields))
        });
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            arrays,
            &options,
        )?)
    }

    /// The expressions' values over `selected` (a batch from [`Narrowed::select`], possibly
    /// filtered since).
    pub fn compute(&self, selected: &RecordBatch) -> Result<Vec<ArrayRef>, StreamError> {
        let rows = selected.num_rows();
        self.exprs
            .iter()
            .map(|e| Ok(e.evaluate(selected)?.into_array(rows)?))
            .collect()
    }

    /// The expressions' values for `batch`.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>, StreamError> {
        self.compute(&self.select(batch)?)
    }

    /// What the expressions read.
    pub fn inputs(&self) -> &[Arc<dyn PhysicalExpr>] {
        &self.inputs
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, Int32Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{BinaryExpr, CaseExpr, Literal};
    use datafusion::scalar::ScalarValue;

    use super::*;

    #[test]
    fn an_expression_reads_a_projection_of_its_columns_with_the_same_result() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("wide", DataType::Utf8, true),
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Int32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["x".repeat(100); 4])),
                Arc::new(Int32Array::from(vec![1, 2, 3, 4])),
                Arc::new(Int32Array::from(vec![10, 20, 30, 40])),
            ],
        )
        .expect("batch");
        // CASE WHEN a > 2 THEN b ELSE a END
        let a: Arc<dyn PhysicalExpr> = Arc::new(Column::new("a", 1));
        let b: Arc<dyn PhysicalExpr> = Arc::new(Column::new("b", 2));
        let when = Arc::new(BinaryExpr::new(
            a.clone(),
            Operator::Gt,
            Arc::new(Literal::new(ScalarValue::Int32(Some(2)))),
        ));
        let case: Arc<dyn PhysicalExpr> =
            Arc::new(CaseExpr::try_new(None, vec![(when, b)], Some(a.clone())).expect("case"));
        let narrowed = Narrowed::new(&[case.clone(), a.clone()]);
        let inputs: Vec<String> = narrowed.inputs().iter().map(|i| i.to_string()).collect();
        assert_eq!(
            inputs,
            ["a@1", "b@2"],
            "each read once, the wide column not at all"
        );
        let values = narrowed.evaluate(&batch).expect("evaluates");
        assert_eq!(&values[1], batch.column(1));
        let values = values[0].clone();
        assert_eq!(
            values.as_primitive::<Int32Type>().values().to_vec(),
            vec![1, 2, 30, 40]
        );
        let whole = case
            .evaluate(&batch)
            .and_then(|v| v.into_array(4))
            .expect("evaluates");
        assert_eq!(&values, &whole);
        // A literal reads nothing and still has the batch's rows.
        let one: Arc<dyn PhysicalExpr> = Arc::new(Literal::new(ScalarValue::Int32(Some(1))));
        let literal = Narrowed::new(&[one]);
        assert!(literal.inputs().is_empty());
        assert_eq!(literal.evaluate(&batch).expect("evaluates")[0].len(), 4);
    }
}
