//! `SPLIT_INDEX(str, sep, index)`: Flink's piece of a split string. `str` is split at every
//! occurrence of the whole separator `sep` (empty pieces kept), and piece `index` (from 0) is
//! returned; NULL when `index` is negative or past the last piece, or any argument is NULL.
//! The separator may be given as a character code (`SPLIT_INDEX(str, 47, 1)`). An empty
//! separator splits at whitespace, as Flink's does.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

/// The `SPLIT_INDEX` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SplitIndex {
    signature: Signature,
}

impl SplitIndex {
    /// `SPLIT_INDEX(STRING, STRING, INT)` and `SPLIT_INDEX(STRING, INT, INT)`.
    pub fn new() -> Self {
        SplitIndex {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Utf8, DataType::Int64]),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Int64, DataType::Int64]),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl Default for SplitIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// Piece `index` of `text` split at `separator`.
pub fn split_index<'a>(text: &'a str, separator: &str, index: i64) -> Option<&'a str> {
    let index = usize::try_from(index).ok()?;
    if separator.is_empty() {
        return text.split(char::is_whitespace).nth(index);
    }
    text.split(separator).nth(index)
}

impl ScalarUDFImpl for SplitIndex {
    fn name(&self) -> &str {
        "split_index"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [text, separator, index] = arrays.as_slice() else {
            return exec_err!("split_index takes 3 arguments");
        };
        let text = text.as_string::<i32>();
        let index: &Int64Array = index.as_primitive();
        // The separator as text, whichever way it was given.
        let codes: Option<Vec<Option<String>>> = match separator.data_type() {
            DataType::Int64 => Some(
                separator
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .iter()
                    .map(|c| {
                        c.and_then(|c| u32::try_from(c).ok())
                            .and_then(char::from_u32)
                            .map(String::from)
                    })
                    .collect(),
            ),
            _ => None,
        };
        let separators: Option<&StringArray> = codes.is_none().then(|| separator.as_string());
        let mut out = StringBuilder::with_capacity(rows, rows * 8);
        for row in 0..rows {
            let separator = match (&codes, separators) {
                (Some(codes), _) => codes[row].as_deref(),
                (None, Some(array)) => array.is_valid(row).then(|| array.value(row)),
                (None, None) => None,
            };
            let value = match separator {
                Some(separator) if text.is_valid(row) && index.is_valid(row) => {
                    split_index(text.value(row), separator, index.value(row))
                }
                _ => None,
            };
            out.append_option(value);
        }
        let array: ArrayRef = Arc::new(out.finish());
        Ok(ColumnarValue::Array(array))
    }
}
