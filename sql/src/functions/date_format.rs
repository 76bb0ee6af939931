//! `DATE_FORMAT(ts, format)`: Flink's timestamp formatting with a Java date-time pattern
//! (`'yyyy-MM-dd'`, `'HH:mm'`, `'yyyy-MM-dd HH:mm:ss.SSS'`). The first argument may also be a
//! string, read as a timestamp (`'2024-01-01 10:00:00'`). Timestamps with a time zone are
//! formatted in UTC.
//!
//! Pattern letters: `y` year (`yy` two digits), `M` month (`MMM` short name, `MMMM` full
//! name), `d` day, `D` day of year, `H` hour 0-23, `h` hour 1-12, `a` AM/PM, `m` minute, `s`
//! second, `S` fraction (`SSS`, `SSSSSS` or `SSSSSSSSS`), `E` day name (`EEEE` full); a
//! doubled letter pads to two digits. Text in single quotes is literal (`''` is a quote);
//! other letters are refused.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDateTime};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The `DATE_FORMAT` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateFormat {
    signature: Signature,
}

impl DateFormat {
    /// `DATE_FORMAT(TIMESTAMP | STRING, STRING)`.
    pub fn new() -> Self {
        DateFormat {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl Default for DateFormat {
    fn default() -> Self {
        Self::new()
    }
}

/// A Java date-time pattern as a chrono format string; an error names what is not
/// supported.
pub fn java_pattern_to_strftime(pattern: &str) -> std::result::Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal text; '' is a quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(format!("unterminated quote in '{pattern}'")),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        out.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some('%') => {
                        out.push_str("%%");
                        j += 1;
                    }
                    Some(other) => {
                        out.push(*other);
                        j += 1;
                    }
                }
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            if c == '%' {
                out.push_str("%%");
            } else {
                out.push(c);
            }
            i += 1;
            continue;
        }
        let mut run = 1;
        while chars.get(i + run) == Some(&c) {
            run += 1;
        }
        let spec = match (c, run) {
            ('y', 2) => "%y",
            ('y', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('D', 1 | 2) => "%-j",
            ('D', _) => "%j",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', 1) => "%-I",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            _ => {
                return Err(format!(
                    "pattern letters '{}' are not supported in DATE_FORMAT (supported: y, M, d, D, H, h, a, m, s, SSS, E and quoted text)",
                    c.to_string().repeat(run)
                ));
            }
        };
        out.push_str(spec);
        i += run;
    }
    Ok(out)
}

/// The pattern, parsed once.
fn items(pattern: &str) -> Result<Vec<Item<'static>>> {
    let strftime = match java_pattern_to_strftime(pattern) {
        Ok(strftime) => strftime,
        Err(reason) => return exec_err!("DATE_FORMAT: {reason}"),
    };
    match StrftimeItems::new(&strftime).parse_to_owned() {
        Ok(items) => Ok(items),
        Err(e) => exec_err!("DATE_FORMAT: invalid pattern '{pattern}': {e}"),
    }
}

/// The timestamps as microseconds since the epoch (strings are cast).
fn micros(array: &ArrayRef) -> Result<ArrayRef> {
    let target = DataType::Timestamp(TimeUnit::Microsecond, None);
    match array.data_type() {
        DataType::Timestamp(_, _)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Date32
        | DataType::Date64
        | DataType::Null => {
            let naive = match array.data_type() {
                // Instants are formatted in UTC: drop the zone, keep the instant.
                DataType::Timestamp(unit, Some(_)) => {
                    cast(array, &DataType::Timestamp(*unit, None))?
                }
                _ => array.clone(),
            };
            Ok(cast(&naive, &target)?)
        }
        other => exec_err!("DATE_FORMAT: expected a timestamp or a string, got {other}"),
    }
}

impl ScalarUDFImpl for DateFormat {
    fn name(&self) -> &str {
        "date_format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let times = micros(&args.args[0].to_array(rows)?)?;
        let times = times.as_primitive::<TimestampMicrosecondType>();
        let mut out = StringBuilder::with_capacity(rows, rows * 16);
        let mut text = String::new();
        let mut write = |items: &[Item<'static>], micros: i64, out: &mut StringBuilder| {
            let Some(time) = DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc()) else {
                out.append_null();
                return;
            };
            text.clear();
            let _ = write!(text, "{}", format(&time, items));
            out.append_value(&text);
        };
        match &args.args[1] {
            ColumnarValue::Scalar(pattern) => {
                let pattern = match pattern {
                    ScalarValue::Utf8(p) | ScalarValue::LargeUtf8(p) | ScalarValue::Utf8View(p) => {
                        p.clone()
                    }
                    ScalarValue::Null => None,
                    other => {
                        return exec_err!(
                            "DATE_FORMAT: the format must be a string, got {}",
                            other.data_type()
                        );
                    }
                };
                let Some(pattern) = pattern else {
                    out.append_nulls(rows);
                    return Ok(ColumnarValue::Array(Arc::new(out.finish())));
                };
                let items = items(&pattern)?;
                for row in 0..rows {
                    if times.is_null(row) {
                        out.append_null();
                    } else {
                        write(&items, times.value(row), &mut out);
                    }
                }
            }
            ColumnarValue::Array(patterns) => {
                let patterns = cast(patterns, &DataType::Utf8)?;
                let patterns = patterns.as_string::<i32>();
                let mut parsed: Option<(String, Vec<Item<'static>>)> = None;
                for row in 0..rows {
                    if times.is_null(row) || patterns.is_null(row) {
                        out.append_null();
                        continue;
                    }
                    let pattern = patterns.value(row);
                    if parsed.as_ref().is_none_or(|(p, _)| p != pattern) {
                        parsed = Some((pattern.to_string(), items(pattern)?));
                    }
                    if let Some((_, items)) = &parsed {
                        write(items, times.value(row), &mut out);
                    }
                }
            }
        }
        let array: ArrayRef = Arc::new(out.finish());
        Ok(ColumnarValue::Array(array))
    }
}

fn format<'a>(
    time: &NaiveDateTime,
    items: &'a [Item<'static>],
) -> chrono::format::DelayedFormat<std::slice::Iter<'a, Item<'static>>> {
    time.format_with_items(items.iter())
}
