//! PostgreSQL's text output for the types where the generic encoder's output differs from what
//! PostgreSQL prints: floating point (shortest exact digits, `Infinity`, `NaN`, exponent form past
//! 1e15), times and timestamps (fractional seconds without trailing zeros, `timestamptz` in the
//! session's `TimeZone` with its offset).
//!
//! Binary results are unaffected: they go through `arrow-pg`'s encoder.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike, Utc};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};

/// Whether [`format`] has its own text form for `data_type`.
pub fn handles(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Float32
            | DataType::Float64
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Timestamp(_, _)
    )
}

/// PostgreSQL's text for row `row` of `array` (`None` for NULL). `time_zone` is the session's
/// `TimeZone`, used for `timestamptz`.
pub fn format(array: &ArrayRef, row: usize, time_zone: &str) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row), 15),
        DataType::Float32 => float32(array.as_primitive::<Float32Type>().value(row)),
        DataType::Time32(TimeUnit::Second) => {
            time(i64::from(array.as_primitive::<Time32SecondType>().value(row)) * 1_000_000_000)
        }
        DataType::Time32(_) => {
            time(i64::from(array.as_primitive::<Time32MillisecondType>().value(row)) * 1_000_000)
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            time(array.as_primitive::<Time64MicrosecondType>().value(row) * 1_000)
        }
        DataType::Time64(_) => time(array.as_primitive::<Time64NanosecondType>().value(row)),
        DataType::Timestamp(unit, tz) => {
            let nanos = match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .value(row)
                    .saturating_mul(1_000_000_000),
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .value(row)
                    .saturating_mul(1_000_000),
                TimeUnit::Microsecond => array
                    .as_primitive::<TimestampMicrosecondType>()
                    .value(row)
                    .saturating_mul(1_000),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
            };
            let instant = DateTime::<Utc>::from_timestamp_nanos(nanos);
            match tz {
                None => timestamp(&instant.naive_utc()),
                Some(_) => timestamptz(&instant, time_zone),
            }
        }
        _ => return None,
    })
}

/// Shortest round-trip digits, in fixed notation for decimal exponents in `-4..limit`, else
/// PostgreSQL's `1e+100` form.
fn float(value: f64, limit: i32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let scientific = format!("{value:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..limit).contains(&exponent) {
        // Rust's Display prints the same shortest digits in fixed notation, without ".0".
        let fixed = format!("{value}");
        fixed
            .strip_suffix(".0")
            .map(str::to_string)
            .unwrap_or(fixed)
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// `f32` values print with their own shortest digits (1.1, not 1.100000023841858); PostgreSQL
/// switches `real` to exponent form past 1e6.
fn float32(value: f32) -> String {
    let widened = float(f64::from(value), 6);
    let own = format!("{value}");
    if !value.is_finite() || value == 0.0 {
        widened
    } else if widened.contains('e') {
        let scientific = format!("{value:e}");
        match scientific.split_once('e') {
            Some((mantissa, exponent)) => {
                let exponent: i32 = exponent.parse().unwrap_or(0);
                let sign = if exponent < 0 { '-' } else { '+' };
                format!("{mantissa}e{sign}{:02}", exponent.abs())
            }
            None => scientific,
        }
    } else {
        own.strip_suffix(".0").map(str::to_string).unwrap_or(own)
    }
}

fn fraction(nanos: u32) -> String {
    // PostgreSQL keeps microseconds and drops trailing zeros.
    let micros = nanos / 1_000;
    if micros == 0 {
        return String::new();
    }
    let digits = format!("{micros:06}");
    format!(".{}", digits.trim_end_matches('0'))
}

fn time(nanos_of_day: i64) -> String {
    let seconds = nanos_of_day.div_euclid(1_000_000_000);
    let nanos = nanos_of_day.rem_euclid(1_000_000_000);
    let Some(time) = u32::try_from(seconds).ok().and_then(|s| {
        NaiveTime::from_num_seconds_from_midnight_opt(s, u32::try_from(nanos).unwrap_or(0))
    }) else {
        return nanos_of_day.to_string();
    };
    format!("{}{}", time.format("%H:%M:%S"), fraction(time.nanosecond()))
}

fn timestamp(value: &NaiveDateTime) -> String {
    format!(
        "{}{}",
        value.format("%Y-%m-%d %H:%M:%S"),
        fraction(value.and_utc().timestamp_subsec_nanos())
    )
}

fn timestamptz(instant: &DateTime<Utc>, time_zone: &str) -> String {
    let local: DateTime<FixedOffset> =
        match Tz::from_str(time_zone).or_else(|_| Tz::from_str(&time_zone.to_ascii_uppercase())) {
            Ok(tz) => {
                let local = tz.from_utc_datetime(&instant.naive_utc());
                local.with_timezone(&local.offset().fix())
            }
            Err(_) => instant.fixed_offset(),
        };
    let offset = local.offset().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let hours = offset.abs() / 3600;
    let minutes = (offset.abs() % 3600) / 60;
    let offset = if minutes == 0 {
        format!("{sign}{hours:02}")
    } else {
        format!("{sign}{hours:02}:{minutes:02}")
    };
    format!(
        "{}{}{offset}",
        local.format("%Y-%m-%d %H:%M:%S"),
        fraction(local.nanosecond())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(float(20.0, 15), "20");
        assert_eq!(float(10.5, 15), "10.5");
        assert_eq!(float(-0.1, 15), "-0.1");
        assert_eq!(float(1e100, 15), "1e+100");
        assert_eq!(float(1.5e-7, 15), "1.5e-07");
        assert_eq!(float(123456789012345.0, 15), "123456789012345");
        assert_eq!(float(1e15, 15), "1e+15");
        assert_eq!(float(f64::INFINITY, 15), "Infinity");
        assert_eq!(float(f64::NAN, 15), "NaN");
        assert_eq!(float32(1.1), "1.1");
        assert_eq!(float32(1.5), "1.5");
    }

    #[test]
    fn times_and_timestamps_drop_trailing_zeros() {
        assert_eq!(time(45_296_000_000_000), "12:34:56");
        assert_eq!(time(45_296_500_000_000), "12:34:56.5");
        let ts = DateTime::<Utc>::from_timestamp_nanos(1_704_103_200_500_000_000);
        assert_eq!(timestamp(&ts.naive_utc()), "2024-01-01 10:00:00.5");
        assert_eq!(timestamptz(&ts, "UTC"), "2024-01-01 10:00:00.5+00");
        assert_eq!(
            timestamptz(&ts, "Asia/Kolkata"),
            "2024-01-01 15:30:00.5+05:30"
        );
        assert_eq!(timestamptz(&ts, "+02:00"), "2024-01-01 12:00:00.5+02");
    }
}
