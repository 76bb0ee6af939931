//! `MOD(a, b)`: the remainder of `a / b`, with the sign of `a` (Flink and PostgreSQL alike).
//! Integers give BIGINT, other numbers DOUBLE; a zero divisor is an error (SQLSTATE 22012 in
//! PostgreSQL), NULL gives NULL.

use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::numeric::rem;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The `MOD` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Modulo {
    signature: Signature,
}

impl Modulo {
    /// `MOD(BIGINT, BIGINT)` and `MOD(DOUBLE, DOUBLE)`.
    pub fn new() -> Self {
        Modulo {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for Modulo {
    fn default() -> Self {
        Self::new()
    }
}

fn common_type(types: &[DataType]) -> Result<DataType> {
    if types.len() != 2 {
        return exec_err!("MOD takes 2 arguments");
    }
    if types.iter().all(|t| t.is_integer() || t.is_null()) {
        Ok(DataType::Int64)
    } else if types.iter().all(|t| t.is_numeric() || t.is_null()) {
        Ok(DataType::Float64)
    } else {
        exec_err!("MOD takes numbers, got {} and {}", types[0], types[1])
    }
}

impl ScalarUDFImpl for Modulo {
    fn name(&self) -> &str {
        "mod"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let common = common_type(arg_types)?;
        Ok(vec![common.clone(), common])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        common_type(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let target = args.return_type().clone();
        let scalars = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if scalars { 1 } else { args.number_rows };
        let left = cast(&args.args[0].to_array(rows)?, &target)?;
        let right = cast(&args.args[1].to_array(rows)?, &target)?;
        let result = rem(&left, &right)?;
        if scalars {
            return Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&result, 0)?,
            ));
        }
        Ok(ColumnarValue::Array(result))
    }
}
