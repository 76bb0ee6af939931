//! PostgreSQL functions that client catalog queries call and the `pg_catalog` emulation lacks.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::logical_expr::{ScalarFunctionArgs, ScalarUDFImpl, Signature};

/// Every function of this module, to register on the session.
pub fn all() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(JsonBuildObject::new()),
        pg_get_serial_sequence(),
        always_visible("pg_collation_is_visible"),
        always_visible("pg_function_is_visible"),
        always_visible("pg_type_is_visible"),
        always_visible("pg_operator_is_visible"),
        like_escape(),
    ]
}

/// `json_build_object(k1, v1, ...)`: a JSON object text from alternating keys and values.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObject {
    signature: Signature,
}

impl JsonBuildObject {
    fn new() -> Self {
        JsonBuildObject {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if !args.args.len().is_multiple_of(2) {
            return datafusion::common::plan_err!(
                "argument list must have even number of elements"
            );
        }
        let rows = args.number_rows;
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<_>>()?;
        let mut out = StringBuilder::with_capacity(rows, rows * 16);
        for row in 0..rows {
            let mut object = serde_json::Map::new();
            for pair in arrays.chunks(2) {
                let key = ScalarValue::try_from_array(&pair[0], row)?;
                let value = ScalarValue::try_from_array(&pair[1], row)?;
                object.insert(scalar_text(&key).unwrap_or_default(), to_json(&value));
            }
            out.append_value(serde_json::Value::Object(object).to_string());
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

fn scalar_text(value: &ScalarValue) -> Option<String> {
    if value.is_null() {
        return None;
    }
    Some(match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        other => other.to_string(),
    })
}

fn to_json(value: &ScalarValue) -> serde_json::Value {
    use serde_json::Value;
    if value.is_null() {
        return Value::Null;
    }
    match value {
        ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
        ScalarValue::Int8(Some(_))
        | ScalarValue::Int16(Some(_))
        | ScalarValue::Int32(Some(_))
        | ScalarValue::Int64(Some(_))
        | ScalarValue::UInt8(Some(_))
        | ScalarValue::UInt16(Some(_))
        | ScalarValue::UInt32(Some(_))
        | ScalarValue::UInt64(Some(_))
        | ScalarValue::Float32(Some(_))
        | ScalarValue::Float64(Some(_))
        | ScalarValue::Decimal128(Some(_), _, _) => serde_json::from_str(&value.to_string())
            .unwrap_or_else(|_| Value::String(value.to_string())),
        other => Value::String(scalar_text(other).unwrap_or_default()),
    }
}

/// `pg_get_serial_sequence(table, column)`: Runnel has no sequences, so always NULL.
fn pg_get_serial_sequence() -> ScalarUDF {
    create_udf(
        "pg_get_serial_sequence",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)))),
    )
}

/// `pg_*_is_visible(oid)` for objects that all live in `pg_catalog` (always on the search path):
/// collations, functions, types and operators. True for any non-NULL OID.
fn always_visible(name: &str) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| match args.first() {
            Some(ColumnarValue::Array(array)) => {
                let values: BooleanArray = (0..array.len())
                    .map(|i| (!array.is_null(i)).then_some(true))
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(values)))
            }
            Some(ColumnarValue::Scalar(s)) => Ok(ColumnarValue::Scalar(ScalarValue::Boolean(
                (!s.is_null()).then_some(true),
            ))),
            None => Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None))),
        }),
    )
}

/// `runnel_like_escape(pattern, escape)`: rewrites a LIKE pattern written with a custom
/// `ESCAPE` character into the backslash-escaped form DataFusion's LIKE understands.
fn like_escape() -> ScalarUDF {
    create_udf(
        LIKE_ESCAPE,
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = args.iter().find_map(|a| match a {
                ColumnarValue::Array(array) => Some(array.len()),
                ColumnarValue::Scalar(_) => None,
            });
            let single = rows.is_none();
            let rows = rows.unwrap_or(1);
            let patterns = args.first().map(|a| a.to_array(rows)).transpose()?;
            let escapes = args.get(1).map(|a| a.to_array(rows)).transpose()?;
            let (Some(patterns), Some(escapes)) = (patterns, escapes) else {
                return datafusion::common::exec_err!("{LIKE_ESCAPE} takes two arguments");
            };
            let patterns = patterns.as_string::<i32>();
            let escapes = escapes.as_string::<i32>();
            let mut out = StringBuilder::with_capacity(rows, rows * 8);
            for row in 0..rows {
                if patterns.is_null(row) || escapes.is_null(row) {
                    out.append_null();
                    continue;
                }
                let escape = escapes.value(row).chars().next();
                let mut converted = String::with_capacity(patterns.value(row).len());
                let mut chars = patterns.value(row).chars();
                while let Some(c) = chars.next() {
                    if Some(c) == escape {
                        converted.push('\\');
                        if let Some(next) = chars.next() {
                            converted.push(next);
                        }
                    } else if c == '\\' {
                        converted.push_str("\\\\");
                    } else {
                        converted.push(c);
                    }
                }
                out.append_value(converted);
            }
            let array: ArrayRef = Arc::new(out.finish());
            if single {
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                    &array, 0,
                )?))
            } else {
                Ok(ColumnarValue::Array(array))
            }
        }),
    )
}

/// Name of the LIKE-pattern conversion function the SQL rewrite calls.
pub const LIKE_ESCAPE: &str = "runnel_like_escape";
