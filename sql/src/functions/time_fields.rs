//! `HOUR(ts)`, `MINUTE(ts)`, `SECOND(ts)`: Flink's timestamp fields, as BIGINT (NULL for a
//! NULL timestamp). Timestamps with a time zone give the field in UTC.

use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::array::{ArrayRef, Int64Array};
use datafusion::arrow::compute::kernels::cast_utils::string_to_datetime;
use datafusion::arrow::compute::{DatePart, cast, date_part};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// One of the field functions.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimeField {
    name: &'static str,
    part: Part,
    signature: Signature,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Hour,
    Minute,
    Second,
}

impl TimeField {
    fn new(name: &'static str, part: Part) -> Self {
        TimeField {
            name,
            part,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// `HOUR(ts)`: 0 to 23.
    pub fn hour() -> Self {
        Self::new("hour", Part::Hour)
    }

    /// `MINUTE(ts)`: 0 to 59.
    pub fn minute() -> Self {
        Self::new("minute", Part::Minute)
    }

    /// `SECOND(ts)`: 0 to 59.
    pub fn second() -> Self {
        Self::new("second", Part::Second)
    }
}

impl ScalarUDFImpl for TimeField {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(DataType::Timestamp(_, _) | DataType::Time32(_) | DataType::Time64(_))
            | Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) => {
                Ok(DataType::Int64)
            }
            Some(other) => exec_err!("{}: expected a timestamp, got {other}", self.name),
            None => exec_err!("{} takes one argument", self.name),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut array = args.args[0].to_array(args.number_rows)?;
        if let DataType::Timestamp(unit, Some(_)) = array.data_type() {
            array = cast(&array, &DataType::Timestamp(*unit, None))?;
        }
        if matches!(
            array.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        ) {
            // Strings are read as timestamps; this checks they are ones.
            let text = cast(&array, &DataType::Utf8)?;
            for value in text.as_string::<i32>().iter().flatten() {
                if string_to_datetime(&chrono::Utc, value).is_err() {
                    return exec_err!("{}: '{value}' is not a timestamp", self.name);
                }
            }
            array = cast(
                &text,
                &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
            )?;
        }
        let part = match self.part {
            Part::Hour => DatePart::Hour,
            Part::Minute => DatePart::Minute,
            Part::Second => DatePart::Second,
        };
        let values = date_part(&array, part)?;
        let values: Int64Array = values.as_primitive::<Int32Type>().unary(i64::from);
        let array: ArrayRef = Arc::new(values);
        Ok(ColumnarValue::Array(array))
    }
}
