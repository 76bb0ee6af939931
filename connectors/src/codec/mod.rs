//! Record formats shared by connectors: Flink's `json`, `csv` and `raw` formats, their options,
//! and the decoder that turns a chunk of records (file lines, Kafka message values or keys) into
//! one Arrow batch.
//!
//! - [`decode`]: [`decode::RecordDecoder`] and [`decode::Chunk`]; [`encode`]: [`encode::RowEncoder`].

pub mod decode;
pub mod encode;

use crate::error::ConnectorError;
use crate::options::{Options, invalid};

/// A record format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordFormat {
    /// One JSON object per record, fields matched to columns by name.
    Json,
    /// One CSV line per record, columns in table order, no header (Flink's `csv` format).
    Csv {
        /// `csv.field-delimiter` (default `,`).
        delimiter: u8,
    },
    /// The record's bytes as the value of the table's only column (`STRING` or `BYTES`).
    Raw,
}

impl RecordFormat {
    /// The format's name as written in `'format' = '...'` (and a finished file's extension).
    pub fn name(&self) -> &'static str {
        match self {
            RecordFormat::Json => "json",
            RecordFormat::Csv { .. } => "csv",
            RecordFormat::Raw => "raw",
        }
    }
}

/// How the reader treats bad and special records (the options of Flink's `json` and `csv`
/// formats that concern reading).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// `json.ignore-parse-errors` / `csv.ignore-parse-errors`: skip malformed records (counted
    /// and logged) instead of failing.
    pub ignore_parse_errors: bool,
    /// `json.fail-on-missing-field`: a JSON object without one of the table's columns fails the
    /// job (by default the column is NULL).
    pub fail_on_missing_field: bool,
    /// `csv.null-literal`: a field equal to it is NULL (as is an empty field).
    pub null_literal: Option<String>,
    /// `csv.allow-comments`: lines starting with `#` are skipped.
    pub allow_comments: bool,
}

/// How timestamps are written as JSON strings (`json.timestamp-format.standard`). Reading
/// accepts both spellings whatever the setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimestampStandard {
    /// `SQL` (default): `2020-12-30 12:13:14.123`.
    #[default]
    Sql,
    /// `ISO-8601`: `2020-12-30T12:13:14.123`.
    Iso8601,
}

/// A format with its options, as a table declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatSpec {
    /// The format.
    pub format: RecordFormat,
    /// Reading options.
    pub read: ReadOptions,
    /// `json.timestamp-format.standard` (writing).
    pub timestamp_standard: TimestampStandard,
}

const JSON_OPTIONS: &[&str] = &[
    "json.ignore-parse-errors",
    "json.fail-on-missing-field",
    "json.timestamp-format.standard",
];
const CSV_OPTIONS: &[&str] = &[
    "csv.field-delimiter",
    "csv.ignore-parse-errors",
    "csv.null-literal",
    "csv.allow-comments",
];

/// Reads the options of the format `name` (the value of `format_option`, one of `allowed`).
/// Format options carry `prefix`: Flink writes `json.ignore-parse-errors` for `format` and
/// `key.json.ignore-parse-errors` for `key.format`.
pub fn parse_format(
    options: &mut Options<'_>,
    format_option: &str,
    name: &str,
    prefix: &str,
    allowed: &[&str],
) -> Result<FormatSpec, ConnectorError> {
    if !allowed.contains(&name) {
        return Err(invalid(
            format_option,
            name,
            format!(
                "connector '{}' supports the formats {}",
                options.connector(),
                allowed
                    .iter()
                    .map(|f| format!("'{f}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let key = |option: &str| format!("{prefix}{option}");
    let declare = |options: &mut Options<'_>, keys: &[&str]| {
        let keys: Vec<String> = keys.iter().map(|k| key(k)).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        options.declare(&keys);
    };
    let mut read = ReadOptions::default();
    let mut timestamp_standard = TimestampStandard::Sql;
    let format = match name {
        "json" => {
            declare(options, JSON_OPTIONS);
            read.ignore_parse_errors = options
                .bool(&key("json.ignore-parse-errors"))?
                .unwrap_or(false);
            read.fail_on_missing_field = options
                .bool(&key("json.fail-on-missing-field"))?
                .unwrap_or(false);
            if read.ignore_parse_errors && read.fail_on_missing_field {
                return Err(invalid(
                    &key("json.fail-on-missing-field"),
                    "true",
                    "'json.fail-on-missing-field' and 'json.ignore-parse-errors' cannot both be 'true'",
                ));
            }
            if options
                .one_of(&key("json.timestamp-format.standard"), &["SQL", "ISO-8601"])?
                .is_some_and(|standard| standard == "ISO-8601")
            {
                timestamp_standard = TimestampStandard::Iso8601;
            }
            RecordFormat::Json
        }
        "csv" => {
            declare(options, CSV_OPTIONS);
            let delimiter_key = key("csv.field-delimiter");
            let delimiter = match options.string(&delimiter_key) {
                None => b',',
                Some(value) => parse_delimiter(value)
                    .map_err(|reason| invalid(&delimiter_key, value, reason))?,
            };
            read.ignore_parse_errors = options
                .bool(&key("csv.ignore-parse-errors"))?
                .unwrap_or(false);
            read.allow_comments = options.bool(&key("csv.allow-comments"))?.unwrap_or(false);
            read.null_literal = options.string(&key("csv.null-literal")).map(str::to_string);
            if let Some(literal) = &read.null_literal {
                let delimiter = char::from(delimiter);
                if literal.contains([delimiter, '"', '\n', '\r']) {
                    return Err(invalid(
                        &key("csv.null-literal"),
                        literal,
                        "the null literal cannot contain the field delimiter, quotes or line breaks",
                    ));
                }
            }
            RecordFormat::Csv { delimiter }
        }
        _ => RecordFormat::Raw,
    };
    Ok(FormatSpec {
        format,
        read,
        timestamp_standard,
    })
}

/// `csv.field-delimiter`: one ASCII character, or `\t` for a tab as Flink allows.
fn parse_delimiter(value: &str) -> Result<u8, String> {
    let reason = "expected a single ASCII character such as ',', ';', '|' or '\\t' (tab)";
    let c = match value {
        "\\t" => '\t',
        _ => {
            let mut chars = value.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => return Err(reason.to_string()),
            }
        }
    };
    if !c.is_ascii() || c == '"' || c == '\n' || c == '\r' {
        return Err(reason.to_string());
    }
    Ok(c as u8)
}
