//! Flink's `AVG`: over an integer column it returns the column's integer type, truncating
//! (`AVG` of 1 and 2 is 1), where DataFusion (like PostgreSQL) returns a fraction. Streaming
//! queries plan `AVG` with this function; other types defer to DataFusion's `avg`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::{cast, sum};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err, not_impl_err};
use datafusion::functions_aggregate::average::Avg;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Coercion, GroupsAccumulator, ReversedUDAF,
    Signature, TypeSignature, TypeSignatureClass, Volatility,
};

/// The `avg` aggregate with Flink's integer semantics.
pub fn flink_avg() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::new_from_impl(FlinkAvg::new()))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FlinkAvg {
    inner: Avg,
    signature: Signature,
    aliases: Vec<String>,
}

impl FlinkAvg {
    fn new() -> Self {
        let inner = Avg::new();
        let mut signatures = vec![TypeSignature::Coercible(vec![Coercion::new_exact(
            TypeSignatureClass::Integer,
        )])];
        if let TypeSignature::OneOf(others) = &inner.signature().type_signature {
            signatures.extend(others.iter().cloned());
        }
        FlinkAvg {
            inner,
            signature: Signature::one_of(signatures, Volatility::Immutable),
            aliases: vec!["mean".to_string()],
        }
    }
}

impl AggregateUDFImpl for FlinkAvg {
    fn name(&self) -> &str {
        "avg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(data_type) if data_type.is_integer() => Ok(data_type.clone()),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let input = args.expr_fields[0].data_type();
        if !input.is_integer() {
            return self.inner.accumulator(args);
        }
        if args.is_distinct {
            return not_impl_err!(
                "AVG(DISTINCT) over an integer column is not supported; write AVG(DISTINCT CAST(x AS DOUBLE))"
            );
        }
        Ok(Box::new(IntegerAvg {
            sum: 0,
            count: 0,
            return_type: args.return_type().clone(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if !args.input_fields[0].data_type().is_integer() {
            return self.inner.state_fields(args);
        }
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "count"),
                DataType::UInt64,
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "sum"),
                DataType::Int64,
                true,
            )),
        ])
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.expr_fields[0].data_type().is_integer()
            && self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        self.inner.create_groups_accumulator(args)
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }
}

/// Sum and count of an integer column; the average truncates toward zero.
#[derive(Debug)]
struct IntegerAvg {
    sum: i64,
    count: u64,
    return_type: DataType,
}

impl IntegerAvg {
    fn add(&mut self, sum: i64, count: u64) -> Result<()> {
        match self.sum.checked_add(sum) {
            Some(total) => self.sum = total,
            None => return exec_err!("AVG overflowed: the sum of its values exceeds BIGINT"),
        }
        self.count += count;
        Ok(())
    }
}

impl Accumulator for IntegerAvg {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = cast(&values[0], &DataType::Int64)?;
        let values = values.as_primitive::<Int64Type>();
        let count = (values.len() - values.null_count()) as u64;
        let total = values
            .iter()
            .flatten()
            .try_fold(0i64, |acc, v| acc.checked_add(v));
        match total {
            Some(total) => self.add(total, count),
            None => exec_err!("AVG overflowed: the sum of its values exceeds BIGINT"),
        }
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = states[0].as_primitive::<UInt64Type>();
        let sums = states[1].as_primitive::<Int64Type>();
        let count = sum(counts).unwrap_or(0);
        let mut total = 0i64;
        for value in sums.iter().flatten() {
            total = match total.checked_add(value) {
                Some(total) => total,
                None => return exec_err!("AVG overflowed: the sum of its values exceeds BIGINT"),
            };
        }
        self.add(total, count)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::UInt64(Some(self.count)),
            ScalarValue::Int64(Some(self.sum)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.count == 0 {
            return ScalarValue::try_from(&self.return_type);
        }
        // Rust's integer division truncates toward zero, as Java's does.
        ScalarValue::Int64(Some(self.sum / self.count as i64)).cast_to(&self.return_type)
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;

    #[test]
    fn integer_average_truncates_and_keeps_the_type() {
        let udaf = flink_avg();
        assert_eq!(
            udaf.return_type(&[DataType::Int32]).expect("type"),
            DataType::Int32
        );
        assert_eq!(
            udaf.return_type(&[DataType::Float64]).expect("type"),
            DataType::Float64
        );
        let mut avg = IntegerAvg {
            sum: 0,
            count: 0,
            return_type: DataType::Int32,
        };
        avg.update_batch(&[Arc::new(Int32Array::from(vec![Some(1), Some(2), None]))])
            .expect("update");
        assert_eq!(avg.evaluate().expect("avg"), ScalarValue::Int32(Some(1)));
        avg.update_batch(&[Arc::new(Int32Array::from(vec![-10]))])
            .expect("update");
        // (1 + 2 - 10) / 3 = -7 / 3 = -2 (toward zero)
        assert_eq!(avg.evaluate().expect("avg"), ScalarValue::Int32(Some(-2)));
    }
}
