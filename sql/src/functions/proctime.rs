//! `PROCTIME()`: Flink's processing-time attribute, the wall-clock instant at which a row is
//! processed, as TIMESTAMP_LTZ(3).
//!
//! It is evaluated once per batch (every row of a batch is processed at the same instant) and
//! is volatile, so the planner never folds it into a constant. A window over a column that is
//! `PROCTIME()` is a processing-time window: the planner recognizes the call by
//! [`PROCTIME_NAME`] and gives the job a wall-clock watermark instead of the table's
//! WATERMARK (`runnel_engine::stream::source::SourceSpec::processing_time`), which reads the same clock.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use runnel_engine::stream::watermark::wall_clock_millis;

use crate::flink::UTC;

/// The function's name as DataFusion knows it.
pub const PROCTIME_NAME: &str = "proctime";

/// The type of `PROCTIME()`: TIMESTAMP_LTZ(3), a UTC instant in milliseconds.
fn proctime_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from(UTC)))
}

/// Whether `expr` is a call of `PROCTIME()` (aliased or not).
pub fn is_proctime_call(expr: &Expr) -> bool {
    let mut expr = expr;
    while let Expr::Alias(alias) = expr {
        expr = &alias.expr;
    }
    matches!(expr, Expr::ScalarFunction(call) if call.func.name() == PROCTIME_NAME)
}

/// The `PROCTIME` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Proctime {
    signature: Signature,
}

impl Proctime {
    /// `PROCTIME()`, no arguments.
    pub fn new() -> Self {
        Proctime {
            signature: Signature::nullary(Volatility::Volatile),
        }
    }
}

impl Default for Proctime {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for Proctime {
    fn name(&self) -> &str {
        PROCTIME_NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !arg_types.is_empty() {
            return exec_err!("PROCTIME takes no arguments");
        }
        Ok(proctime_type())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::TimestampMillisecond(
            Some(wall_clock_millis()),
            Some(Arc::from(UTC)),
        )))
    }
}
