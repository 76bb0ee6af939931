//! `REGEXP_EXTRACT(str, regex [, group])`: Flink's regular-expression extraction. Returns
//! group `group` (0, the default, is the whole match) of the first match of `regex` in `str`;
//! NULL when nothing matches, the group did not take part in the match, or any argument is
//! NULL. A group number beyond the pattern's groups is an error, as is a malformed pattern
//! (Flink logs and returns NULL there; an error says what is wrong). Patterns use the Rust
//! `regex` syntax, which covers Java's except look-around and back-references.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use regex::Regex;

/// The `REGEXP_EXTRACT` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RegexpExtract {
    signature: Signature,
}

impl RegexpExtract {
    /// `REGEXP_EXTRACT(STRING, STRING)` and `REGEXP_EXTRACT(STRING, STRING, INT)`.
    pub fn new() -> Self {
        RegexpExtract {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Utf8]),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Utf8, DataType::Int64]),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl Default for RegexpExtract {
    fn default() -> Self {
        Self::new()
    }
}

fn compile(pattern: &str) -> Result<Regex> {
    Regex::new(pattern)
        .or_else(|e| exec_err!("REGEXP_EXTRACT: invalid regular expression '{pattern}': {e}"))
}

impl ScalarUDFImpl for RegexpExtract {
    fn name(&self) -> &str {
        "regexp_extract"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let text = args.args[0].to_array(rows)?;
        let text = text.as_string::<i32>();
        let mut out = StringBuilder::with_capacity(rows, rows * 8);
        // The usual case: a literal pattern and group, compiled and checked once.
        let literal_group = match args.args.get(2) {
            None => Some(Some(0)),
            Some(ColumnarValue::Scalar(ScalarValue::Int64(group))) => Some(*group),
            Some(_) => None,
        };
        if let ColumnarValue::Scalar(ScalarValue::Utf8(pattern)) = &args.args[1]
            && let Some(group) = literal_group
        {
            let (Some(pattern), Some(group)) = (pattern, group) else {
                out.append_nulls(rows);
                return Ok(ColumnarValue::Array(Arc::new(out.finish())));
            };
            let regex = compile(pattern)?;
            let group = check_group(&regex, pattern, group)?;
            for row in 0..rows {
                let value = text
                    .is_valid(row)
                    .then(|| extract(&regex, text.value(row), group))
                    .flatten();
                out.append_option(value);
            }
            return Ok(ColumnarValue::Array(Arc::new(out.finish())));
        }
        let patterns = args.args[1].to_array(rows)?;
        let patterns = patterns.as_string::<i32>();
        let groups = match args.args.get(2) {
            Some(groups) => Some(groups.to_array(rows)?),
            None => None,
        };
        let groups = groups.as_ref().map(|g| g.as_primitive::<Int64Type>());
        let mut compiled: Option<(String, Regex)> = None;
        for row in 0..rows {
            if text.is_null(row) || patterns.is_null(row) || groups.is_some_and(|g| g.is_null(row))
            {
                out.append_null();
                continue;
            }
            let pattern = patterns.value(row);
            if compiled.as_ref().is_none_or(|(p, _)| p != pattern) {
                compiled = Some((pattern.to_string(), compile(pattern)?));
            }
            let Some((_, regex)) = compiled.as_ref() else {
                out.append_null();
                continue;
            };
            let group = check_group(regex, pattern, groups.map_or(0, |g| g.value(row)))?;
            out.append_option(extract(regex, text.value(row), group));
        }
        let array: ArrayRef = Arc::new(out.finish());
        Ok(ColumnarValue::Array(array))
    }
}

fn check_group(regex: &Regex, pattern: &str, group: i64) -> Result<usize> {
    match usize::try_from(group) {
        Ok(group) if group < regex.captures_len() => Ok(group),
        _ => exec_err!(
            "REGEXP_EXTRACT: group {group} does not exist in '{pattern}', which has {} group(s)",
            regex.captures_len() - 1
        ),
    }
}

/// Group `group` of the first match of `regex` in `text`.
pub fn extract<'a>(regex: &Regex, text: &'a str, group: usize) -> Option<&'a str> {
    if group == 0 {
        return regex.find(text).map(|m| m.as_str());
    }
    regex
        .captures(text)
        .and_then(|c| c.get(group))
        .map(|m| m.as_str())
}
