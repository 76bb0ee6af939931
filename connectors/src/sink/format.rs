//! Rendering of single values for the sinks: Flink's JSON and CSV formats, and the print
//! connector's Java `toString` style.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
    Float64Array, LargeStringArray, PrimitiveArray, StringArray, StringViewArray,
};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// Where a value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// A JSON value; timestamps as `yyyy-MM-dd HH:mm:ss[.fraction]` (SQL) or with `T`
    /// (ISO-8601), the fraction without trailing zeros, `Z` appended for TIMESTAMP_LTZ.
    Json {
        /// `json.timestamp-format.standard` = `ISO-8601`.
        iso: bool,
    },
    /// A CSV field (quoted when it holds the delimiter, a quote or a line break); timestamps in
    /// the SQL format.
    Csv {
        /// `csv.field-delimiter`.
        delimiter: u8,
    },
    /// Java's `toString` of the value as Flink's print connector shows it: `2024-01-01T00:05:00`
    /// (seconds always shown), `1.0`, `1.0E10`, strings as they are.
    Print,
}

/// A column of a batch, downcast once so that rows render without dispatching on the type.
pub(crate) enum Column<'a> {
    Null,
    Bool(&'a BooleanArray),
    Int(IntColumn<'a>),
    F32(&'a Float32Array),
    F64(&'a Float64Array),
    Decimal(&'a Decimal128Array, i8),
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Timestamp {
        values: &'a [i64],
        unit: TimeUnit,
        ltz: bool,
    },
    Date(&'a Date32Array),
    Other(ArrayFormatter<'a>),
}

pub(crate) enum IntColumn<'a> {
    I8(&'a PrimitiveArray<Int8Type>),
    I16(&'a PrimitiveArray<Int16Type>),
    I32(&'a PrimitiveArray<Int32Type>),
    I64(&'a PrimitiveArray<Int64Type>),
    U8(&'a PrimitiveArray<UInt8Type>),
    U16(&'a PrimitiveArray<UInt16Type>),
    U32(&'a PrimitiveArray<UInt32Type>),
    U64(&'a PrimitiveArray<UInt64Type>),
}

/// A column and its null mask.
pub(crate) struct Cell<'a> {
    array: &'a dyn Array,
    column: Column<'a>,
}

fn timestamp_values<T: ArrowPrimitiveType<Native = i64>>(array: &ArrayRef) -> &[i64] {
    array.as_primitive::<T>().values()
}

impl<'a> Cell<'a> {
    pub(crate) fn new(array: &'a ArrayRef) -> Result<Cell<'a>, ArrowError> {
        use datafusion::arrow::datatypes::{
            TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
            TimestampSecondType,
        };
        let column = match array.data_type() {
            DataType::Null => Column::Null,
            DataType::Boolean => Column::Bool(array.as_boolean()),
            DataType::Int8 => Column::Int(IntColumn::I8(array.as_primitive())),
            DataType::Int16 => Column::Int(IntColumn::I16(array.as_primitive())),
            DataType::Int32 => Column::Int(IntColumn::I32(array.as_primitive())),
            DataType::Int64 => Column::Int(IntColumn::I64(array.as_primitive())),
            DataType::UInt8 => Column::Int(IntColumn::U8(array.as_primitive())),
            DataType::UInt16 => Column::Int(IntColumn::U16(array.as_primitive())),
            DataType::UInt32 => Column::Int(IntColumn::U32(array.as_primitive())),
            DataType::UInt64 => Column::Int(IntColumn::U64(array.as_primitive())),
            DataType::Float32 => Column::F32(array.as_primitive()),
            DataType::Float64 => Column::F64(array.as_primitive()),
            DataType::Decimal128(_, scale) => Column::Decimal(array.as_primitive(), *scale),
            DataType::Utf8 => Column::Utf8(array.as_string()),
            DataType::LargeUtf8 => Column::LargeUtf8(array.as_string()),
            DataType::Utf8View => Column::Utf8View(array.as_string_view()),
            DataType::Timestamp(unit, tz) => Column::Timestamp {
                values: match unit {
                    TimeUnit::Second => timestamp_values::<TimestampSecondType>(array),
                    TimeUnit::Millisecond => timestamp_values::<TimestampMillisecondType>(array),
                    TimeUnit::Microsecond => timestamp_values::<TimestampMicrosecondType>(array),
                    TimeUnit::Nanosecond => timestamp_values::<TimestampNanosecondType>(array),
                },
                unit: *unit,
                ltz: tz.is_some(),
            },
            DataType::Date32 => Column::Date(array.as_primitive()),
            _ => Column::Other(ArrayFormatter::try_new(
                array.as_ref(),
                &FormatOptions::default(),
            )?),
        };
        Ok(Cell {
            array: array.as_ref(),
            column,
        })
    }

    pub(crate) fn is_null(&self, row: usize) -> bool {
        matches!(self.column, Column::Null) || self.array.is_null(row)
    }

    /// Appends the value at `row` (not NULL: the caller writes NULLs its own way).
    pub(crate) fn write(&self, row: usize, style: Style, out: &mut Vec<u8>, scratch: &mut String) {
        match &self.column {
            Column::Null => {}
            Column::Bool(array) => {
                out.extend_from_slice(if array.value(row) { b"true" } else { b"false" });
            }
            Column::Int(ints) => {
                scratch.clear();
                let _ = match ints {
                    IntColumn::I8(a) => write!(scratch, "{}", a.value(row)),
                    IntColumn::I16(a) => write!(scratch, "{}", a.value(row)),
                    IntColumn::I32(a) => write!(scratch, "{}", a.value(row)),
                    IntColumn::I64(a) => write!(scratch, "{}", a.value(row)),
                    IntColumn::U8(a) => write!(scratch, "{}", a.value(row)),
                    IntColumn::U16(a) => write!(scratch, "{}", a.value(row)),
                    IntColumn::U32(a) => write!(scratch, "{}", a.value(row)),
                    IntColumn::U64(a) => write!(scratch, "{}", a.value(row)),
                };
                out.extend_from_slice(scratch.as_bytes());
            }
            Column::F32(array) => {
                let v = array.value(row);
                write_float(f64::from(v), v, style, out, scratch);
            }
            Column::F64(array) => {
                let v = array.value(row);
                write_float(v, v, style, out, scratch);
            }
            Column::Decimal(array, scale) => {
                scratch.clear();
                write_decimal(array.value(row), *scale, scratch);
                out.extend_from_slice(scratch.as_bytes());
            }
            Column::Utf8(array) => write_string(array.value(row), style, out),
            Column::LargeUtf8(array) => write_string(array.value(row), style, out),
            Column::Utf8View(array) => write_string(array.value(row), style, out),
            Column::Timestamp { values, unit, ltz } => {
                scratch.clear();
                let timestamp = TimestampText {
                    iso: matches!(style, Style::Json { iso: true } | Style::Print),
                    java_fraction: style == Style::Print,
                    ltz: *ltz,
                };
                timestamp.write(values[row], *unit, scratch);
                write_quoted_if_json(scratch, style, out);
            }
            Column::Date(array) => {
                scratch.clear();
                let days = array.value(row);
                match NaiveDate::from_epoch_days(days) {
                    Some(date) => {
                        let _ = write!(
                            scratch,
                            "{:04}-{:02}-{:02}",
                            date.year(),
                            date.month(),
                            date.day()
                        );
                    }
                    None => {
                        let _ = write!(scratch, "{days}");
                    }
                }
                write_quoted_if_json(scratch, style, out);
            }
            Column::Other(formatter) => {
                scratch.clear();
                let _ = write!(scratch, "{}", formatter.value(row));
                write_string(scratch, style, out);
            }
        }
    }
}

/// Text that needs no escaping in CSV or print, and quotes in JSON.
fn write_quoted_if_json(text: &str, style: Style, out: &mut Vec<u8>) {
    if matches!(style, Style::Json { .. }) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

fn write_string(text: &str, style: Style, out: &mut Vec<u8>) {
    match style {
        Style::Json { .. } => write_json_string(text, out),
        Style::Csv { delimiter } => write_csv_field(text, delimiter, out),
        Style::Print => out.extend_from_slice(text.as_bytes()),
    }
}

/// A JSON string literal.
pub(crate) fn write_json_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let _ = std::io::Write::write_fmt(out, format_args!("\\u{b:04x}"));
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A CSV field, quoted (quotes doubled) when it holds the delimiter, a quote or a line break.
fn write_csv_field(text: &str, delimiter: u8, out: &mut Vec<u8>) {
    let needs_quotes = text
        .bytes()
        .any(|b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
    if !needs_quotes {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.push(b'"');
    for b in text.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Java's `Double.toString`/`Float.toString` (which Flink's JSON, CSV and print use): plain
/// notation with at least one decimal for `1e-3 <= |v| < 1e7`, else `1.0E10`; NaN and the
/// infinities as `NaN`, `Infinity`, `-Infinity` (quoted in JSON, as Jackson writes them).
fn write_float<F: std::fmt::Display + std::fmt::LowerExp>(
    value: f64,
    original: F,
    style: Style,
    out: &mut Vec<u8>,
    scratch: &mut String,
) {
    scratch.clear();
    if value.is_nan() || value.is_infinite() {
        let text = if value.is_nan() {
            "NaN"
        } else if value > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        };
        write_quoted_if_json(text, style, out);
        return;
    }
    java_float_text(value, original, scratch);
    out.extend_from_slice(scratch.as_bytes());
}

fn java_float_text<F: std::fmt::Display + std::fmt::LowerExp>(
    value: f64,
    original: F,
    scratch: &mut String,
) {
    if value == 0.0 {
        scratch.push_str(if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        });
        return;
    }
    let magnitude = value.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let _ = write!(scratch, "{original}");
        if !scratch.contains('.') {
            scratch.push_str(".0");
        }
    } else {
        let _ = write!(scratch, "{original:e}");
        if let Some(e) = scratch.find('e') {
            let exponent = scratch.split_off(e);
            if !scratch.contains('.') {
                scratch.push_str(".0");
            }
            scratch.push('E');
            scratch.push_str(&exponent[1..]);
        }
    }
}

/// `unscaled * 10^-scale` in plain notation, keeping the scale's digits (`12.30`).
pub(crate) fn write_decimal(unscaled: i128, scale: i8, out: &mut String) {
    if unscaled < 0 {
        out.push('-');
    }
    let digits = unscaled.unsigned_abs().to_string();
    if scale <= 0 {
        out.push_str(&digits);
        if digits != "0" {
            out.extend(std::iter::repeat_n('0', usize::from(scale.unsigned_abs())));
        }
        return;
    }
    let scale = usize::from(scale.unsigned_abs());
    if digits.len() <= scale {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    } else {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    }
}

/// How a timestamp is spelled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimestampText {
    /// `T` between date and time (else a space).
    pub iso: bool,
    /// Java's `LocalDateTime.toString` fraction: 3, 6 or 9 digits (else trailing zeros
    /// removed, as Flink's formats do).
    pub java_fraction: bool,
    /// TIMESTAMP_LTZ: `Z` appended.
    pub ltz: bool,
}

impl TimestampText {
    pub(crate) fn write(&self, value: i64, unit: TimeUnit, out: &mut String) {
        let per_second: i64 = match unit {
            TimeUnit::Second => 1,
            TimeUnit::Millisecond => 1_000,
            TimeUnit::Microsecond => 1_000_000,
            TimeUnit::Nanosecond => 1_000_000_000,
        };
        let seconds = value.div_euclid(per_second);
        let nanos = (value.rem_euclid(per_second) * (1_000_000_000 / per_second)) as u32;
        let Some(time) = DateTime::from_timestamp(seconds, nanos) else {
            let _ = write!(out, "{value}");
            return;
        };
        let time = time.naive_utc();
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}",
            time.year(),
            time.month(),
            time.day(),
            if self.iso { 'T' } else { ' ' },
            time.hour(),
            time.minute(),
            time.second()
        );
        if nanos != 0 {
            let mut digits = 9;
            let mut fraction = nanos;
            if self.java_fraction {
                while digits > 3 && fraction.is_multiple_of(1000) {
                    fraction /= 1000;
                    digits -= 3;
                }
            } else {
                while fraction.is_multiple_of(10) {
                    fraction /= 10;
                    digits -= 1;
                }
            }
            let _ = write!(out, ".{fraction:0digits$}");
        }
        if self.ltz {
            out.push('Z');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut s = String::new();
        java_float_text(v, v, &mut s);
        s
    }

    #[test]
    fn floats_as_java_prints_them() {
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(-2.5), "-2.5");
        assert_eq!(float(0.001), "0.001");
        assert_eq!(float(0.0001), "1.0E-4");
        assert_eq!(float(1.5e-7), "1.5E-7");
        assert_eq!(float(1e7), "1.0E7");
        assert_eq!(float(1234567.0), "1234567.0");
        assert_eq!(float(1.2345e20), "1.2345E20");
        assert_eq!(float(0.0), "0.0");
        let mut s = String::new();
        java_float_text(f64::from(0.1f32), 0.1f32, &mut s);
        assert_eq!(s, "0.1");
    }

    #[test]
    fn decimals_keep_their_scale() {
        let text = |v: i128, s: i8| {
            let mut out = String::new();
            write_decimal(v, s, &mut out);
            out
        };
        assert_eq!(text(1230, 2), "12.30");
        assert_eq!(text(-5, 3), "-0.005");
        assert_eq!(text(0, 2), "0.00");
        assert_eq!(text(42, 0), "42");
        assert_eq!(text(7, -2), "700");
    }

    #[test]
    fn timestamps_in_each_style() {
        let text = |style: TimestampText, value: i64, unit: TimeUnit| {
            let mut out = String::new();
            style.write(value, unit, &mut out);
            out
        };
        let sql = TimestampText {
            iso: false,
            java_fraction: false,
            ltz: false,
        };
        let java = TimestampText {
            iso: true,
            java_fraction: true,
            ltz: false,
        };
        // 2024-01-01T00:05:00
        let t = 1_704_067_500_000i64;
        assert_eq!(text(sql, t, TimeUnit::Millisecond), "2024-01-01 00:05:00");
        assert_eq!(
            text(sql, t + 120, TimeUnit::Millisecond),
            "2024-01-01 00:05:00.12"
        );
        assert_eq!(text(java, t, TimeUnit::Millisecond), "2024-01-01T00:05:00");
        assert_eq!(
            text(java, t + 120, TimeUnit::Millisecond),
            "2024-01-01T00:05:00.120"
        );
        assert_eq!(
            text(java, (t + 1) * 1000 + 1, TimeUnit::Microsecond),
            "2024-01-01T00:05:00.001001"
        );
        assert_eq!(
            text(
                TimestampText { ltz: true, ..java },
                -1,
                TimeUnit::Millisecond
            ),
            "1969-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        write_json_string("a\"b\\c\nd\u{1}é", &mut out);
        assert_eq!(String::from_utf8_lossy(&out), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
