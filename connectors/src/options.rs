//! Typed access to a table's `WITH ('key' = 'value', ...)` options.
//!
//! Keys are case-sensitive, as in Flink. Every key a connector reads is marked consumed;
//! [`Options::finish`] then reports the first key nobody read as
//! [`ConnectorError::UnknownOption`], so a misspelt option is an error rather than silently
//! ignored. Per-column keys (`fields.<column>.kind`) are read with [`field_key`] for each known
//! column; the supported-options list shows them as `fields.#.kind`, as Flink's docs do.

use std::time::Duration;

use crate::error::ConnectorError;

/// A connector's view of its options.
#[derive(Debug)]
pub struct Options<'a> {
    connector: String,
    entries: &'a [(String, String)],
    consumed: Vec<bool>,
    supported: Vec<String>,
}

/// `fields.<column>.<suffix>`: a per-column option key.
pub fn field_key(column: &str, suffix: &str) -> String {
    format!("fields.{column}.{suffix}")
}

impl<'a> Options<'a> {
    /// Options of `connector` (used in error messages).
    pub fn new(connector: &str, entries: &'a [(String, String)]) -> Self {
        Options {
            connector: connector.to_string(),
            entries,
            consumed: vec![false; entries.len()],
            supported: Vec::new(),
        }
    }

    /// The connector these options belong to.
    pub fn connector(&self) -> &str {
        &self.connector
    }

    /// Adds keys (or patterns such as `fields.#.kind`) to the list shown when an unknown key is
    /// found.
    pub fn declare(&mut self, keys: &[&str]) {
        for key in keys {
            if !self.supported.iter().any(|k| k == key) {
                self.supported.push((*key).to_string());
            }
        }
    }

    /// The value of `key` without consuming it.
    pub fn peek(&self, key: &str) -> Option<&'a str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, consuming it.
    pub fn string(&mut self, key: &str) -> Option<&'a str> {
        let mut value = None;
        for (index, (k, v)) in self.entries.iter().enumerate() {
            if k == key {
                self.consumed[index] = true;
                value.get_or_insert(v.as_str());
            }
        }
        value
    }

    /// The value of a required `key`.
    pub fn required_string(&mut self, key: &str) -> Result<&'a str, ConnectorError> {
        self.string(key)
            .ok_or_else(|| ConnectorError::MissingOption {
                connector: self.connector.clone(),
                option: key.to_string(),
            })
    }

    /// A non-negative integer.
    pub fn u64(&mut self, key: &str) -> Result<Option<u64>, ConnectorError> {
        self.parsed(key, |v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| "expected a non-negative integer".to_string())
        })
    }

    /// A signed integer.
    pub fn i64(&mut self, key: &str) -> Result<Option<i64>, ConnectorError> {
        self.parsed(key, |v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| "expected an integer".to_string())
        })
    }

    /// A finite floating-point number.
    pub fn f64(&mut self, key: &str) -> Result<Option<f64>, ConnectorError> {
        self.parsed(key, |v| match v.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err("expected a number".to_string()),
        })
    }

    /// `true` or `false` (any case, as Flink accepts).
    pub fn bool(&mut self, key: &str) -> Result<Option<bool>, ConnectorError> {
        self.parsed(key, parse_bool)
    }

    /// A duration such as `5 s`, `1 min`, `500 ms` or `10s` ([`parse_duration`]).
    pub fn duration(&mut self, key: &str) -> Result<Option<Duration>, ConnectorError> {
        self.parsed(key, parse_duration)
    }

    /// A memory size such as `128mb`, `1 kb` or `4096` ([`parse_memory_size`]).
    pub fn memory_size(&mut self, key: &str) -> Result<Option<u64>, ConnectorError> {
        self.parsed(key, parse_memory_size)
    }

    /// One of `allowed` (compared as written).
    pub fn one_of(
        &mut self,
        key: &str,
        allowed: &[&str],
    ) -> Result<Option<&'a str>, ConnectorError> {
        match self.string(key) {
            None => Ok(None),
            Some(value) if allowed.contains(&value) => Ok(Some(value)),
            Some(value) => Err(ConnectorError::InvalidOption {
                option: key.to_string(),
                value: value.to_string(),
                reason: format!("expected one of: {}", quoted_list(allowed)),
            }),
        }
    }

    /// The value of `key` parsed by `parse` (whose error is the reason shown to the user).
    pub fn parsed<T>(
        &mut self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConnectorError> {
        match self.string(key) {
            None => Ok(None),
            Some(value) => parse(value)
                .map(Some)
                .map_err(|reason| invalid(key, value, reason)),
        }
    }

    /// The keys not consumed so far, in the order written.
    pub fn unconsumed(&self) -> impl Iterator<Item = &'a (String, String)> + '_ {
        self.entries
            .iter()
            .zip(&self.consumed)
            .filter(|(_, consumed)| !**consumed)
            .map(|(entry, _)| entry)
    }

    /// Fails on the first key no one consumed.
    pub fn finish(self) -> Result<(), ConnectorError> {
        match self.unconsumed().next() {
            None => Ok(()),
            Some((key, _)) => Err(ConnectorError::UnknownOption {
                connector: self.connector.clone(),
                option: key.clone(),
                supported: self.supported.clone(),
            }),
        }
    }
}

/// An [`ConnectorError::InvalidOption`].
pub fn invalid(option: &str, value: &str, reason: impl Into<String>) -> ConnectorError {
    ConnectorError::InvalidOption {
        option: option.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn quoted_list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `true`/`false`, case-insensitive (Flink's boolean options).
pub fn parse_bool(value: &str) -> Result<bool, String> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("expected 'true' or 'false'".to_string())
    }
}

/// `"10 s"` → `(10, "s")`: a non-negative integer, optional spaces, a lower-cased unit.
fn number_and_unit(value: &str) -> Option<(u64, String)> {
    let text = value.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number = text[..digits].parse().ok()?;
    Some((number, text[digits..].trim().to_lowercase()))
}

/// Flink's duration syntax (`TimeUtils.parseDuration`): a non-negative integer, optional spaces
/// and a unit; without a unit the number is milliseconds. Units (case-insensitive): `d`, `day`,
/// `days`; `h`, `hour`, `hours`; `min`, `m`, `minute`, `minutes`; `s`, `sec`, `secs`, `second`,
/// `seconds`; `ms`, `milli`, `millis`, `millisecond`, `milliseconds`; `µs`, `us`, `micro`,
/// `micros`, `microsecond`, `microseconds`; `ns`, `nano`, `nanos`, `nanosecond`, `nanoseconds`.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    const REASON: &str =
        "expected a duration such as '500 ms', '5 s', '10s', '1 min', '2 h' or '1 d'";
    let (number, unit) = number_and_unit(value).ok_or_else(|| REASON.to_string())?;
    let nanos_per_unit: u128 = match unit.as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "d" | "day" | "days" => 86_400 * 1_000_000_000,
        "h" | "hour" | "hours" => 3_600 * 1_000_000_000,
        "min" | "m" | "minute" | "minutes" => 60 * 1_000_000_000,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000_000_000,
        "µs" | "us" | "micro" | "micros" | "microsecond" | "microseconds" => 1_000,
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => 1,
        _ => return Err(REASON.to_string()),
    };
    let nanos = u128::from(number) * nanos_per_unit;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| REASON.to_string())?;
    // The remainder is below 10^9.
    let subsec = (nanos % 1_000_000_000) as u32;
    Ok(Duration::new(secs, subsec))
}

/// Flink's memory size syntax (`MemorySize.parse`): a non-negative integer, optional spaces and
/// a unit (1024-based, case-insensitive): `b`/`bytes`, `k`/`kb`/`kibibytes`,
/// `m`/`mb`/`mebibytes`, `g`/`gb`/`gibibytes`, `t`/`tb`/`tebibytes`; no unit is bytes.
pub fn parse_memory_size(value: &str) -> Result<u64, String> {
    const REASON: &str = "expected a size such as '128mb', '64 kb', '1 gb' or '1048576' (bytes)";
    let (number, unit) = number_and_unit(value).ok_or_else(|| REASON.to_string())?;
    let multiplier: u64 = match unit.as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kibibytes" => 1 << 10,
        "m" | "mb" | "mebibytes" => 1 << 20,
        "g" | "gb" | "gibibytes" => 1 << 30,
        "t" | "tb" | "tebibytes" => 1 << 40,
        _ => return Err(REASON.to_string()),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| REASON.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn durations_as_flink_writes_them() {
        assert_eq!(parse_duration("5 s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1 min"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500 ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("250"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1 H"), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration("3 days"),
            Ok(Duration::from_secs(3 * 86_400))
        );
        assert_eq!(parse_duration("7 us"), Ok(Duration::from_micros(7)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("five s").is_err());
        assert!(parse_duration("1.5 s").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("-5 s").is_err());
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_size("128mb"), Ok(128 << 20));
        assert_eq!(parse_memory_size("1 KB"), Ok(1024));
        assert_eq!(parse_memory_size("77"), Ok(77));
        assert!(parse_memory_size("lots").is_err());
    }

    #[test]
    fn typed_values_and_the_first_unconsumed_key() {
        let options = entries(&[
            ("rows-per-second", "5"),
            ("fields.id.kind", "sequence"),
            ("flag", "TRUE"),
            ("typo", "x"),
            ("later", "y"),
        ]);
        let mut reader = Options::new("datagen", &options);
        reader.declare(&["rows-per-second", "fields.#.kind"]);
        assert_eq!(reader.u64("rows-per-second"), Ok(Some(5)));
        assert_eq!(reader.u64("number-of-rows"), Ok(None));
        assert_eq!(reader.string(&field_key("id", "kind")), Some("sequence"));
        assert_eq!(reader.bool("flag"), Ok(Some(true)));
        let error = reader.finish().expect_err("typo is unknown");
        assert_eq!(
            error.to_string(),
            "unsupported option 'typo' for connector 'datagen'; supported options: rows-per-second, fields.#.kind"
        );
    }

    #[test]
    fn invalid_values_name_the_option() {
        let options = entries(&[("rows-per-second", "fast"), ("b", "yes"), ("d", "soon")]);
        let mut reader = Options::new("datagen", &options);
        let error = reader.u64("rows-per-second").expect_err("not a number");
        assert_eq!(
            error.to_string(),
            "invalid value 'fast' for option 'rows-per-second': expected a non-negative integer"
        );
        assert!(reader.bool("b").is_err());
        assert!(reader.duration("d").is_err());
        assert!(
            reader.finish().is_ok(),
            "rejected values are still consumed"
        );
    }

    #[test]
    fn required_and_one_of() {
        let options = entries(&[("format", "xml")]);
        let mut reader = Options::new("filesystem", &options);
        let missing = reader.required_string("path").expect_err("missing");
        assert_eq!(
            missing.to_string(),
            "connector 'filesystem' requires option 'path'"
        );
        let error = reader.one_of("format", &["json", "csv"]).expect_err("xml");
        assert_eq!(
            error.to_string(),
            "invalid value 'xml' for option 'format': expected one of: 'json', 'csv'"
        );
    }
}
