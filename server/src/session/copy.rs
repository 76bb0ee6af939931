//! `COPY (query) TO STDOUT` options, following PostgreSQL's `COPY` syntax.

use datafusion::sql::sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption};
use runnel_sql::SqlError;

/// The data format of a `COPY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    /// Tab-separated text with `\N` for NULL (the default).
    Text,
    /// Comma-separated values.
    Csv,
    /// PostgreSQL's binary `COPY` format.
    Binary,
}

/// Options of a `COPY ... TO STDOUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOptions {
    /// Data format.
    pub format: CopyFormat,
    /// Column separator.
    pub delimiter: String,
    /// How NULL is written.
    pub null: String,
    /// Whether a header line precedes the data (CSV only).
    pub header: bool,
    /// CSV quote character.
    pub quote: String,
    /// CSV escape character.
    pub escape: String,
}

impl CopyOptions {
    /// Reads the options of a `COPY` statement (modern `WITH (...)` and legacy forms).
    pub fn from_statement(
        options: &[CopyOption],
        legacy: &[CopyLegacyOption],
    ) -> Result<Self, SqlError> {
        let mut format = CopyFormat::Text;
        let mut delimiter = None;
        let mut null = None;
        let mut header = false;
        let mut quote = None;
        let mut escape = None;
        for option in options {
            match option {
                CopyOption::Format(name) => {
                    format = match name.value.to_ascii_lowercase().as_str() {
                        "text" => CopyFormat::Text,
                        "csv" => CopyFormat::Csv,
                        "binary" => CopyFormat::Binary,
                        other => {
                            return Err(SqlError::new(
                                runnel_sql::SqlState::INVALID_PARAMETER_VALUE,
                                format!("COPY format \"{other}\" not recognized"),
                            ));
                        }
                    }
                }
                CopyOption::Delimiter(c) => delimiter = Some(c.to_string()),
                CopyOption::Null(s) => null = Some(s.clone()),
                CopyOption::Header(h) => header = *h,
                CopyOption::Quote(c) => quote = Some(c.to_string()),
                CopyOption::Escape(c) => escape = Some(c.to_string()),
                CopyOption::Encoding(e)
                    if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
                other => {
                    return Err(SqlError::unsupported(format!(
                        "COPY option {other} is not supported"
                    )));
                }
            }
        }
        for option in legacy {
            match option {
                CopyLegacyOption::Binary => format = CopyFormat::Binary,
                CopyLegacyOption::Csv(csv_options) => {
                    format = CopyFormat::Csv;
                    for csv_option in csv_options {
                        match csv_option {
                            CopyLegacyCsvOption::Header => header = true,
                            CopyLegacyCsvOption::Quote(c) => quote = Some(c.to_string()),
                            CopyLegacyCsvOption::Escape(c) => escape = Some(c.to_string()),
                            other => {
                                return Err(SqlError::unsupported(format!(
                                    "COPY option {other} is not supported"
                                )));
                            }
                        }
                    }
                }
                CopyLegacyOption::Delimiter(c) => delimiter = Some(c.to_string()),
                CopyLegacyOption::Null(s) => null = Some(s.clone()),
                CopyLegacyOption::Header => header = true,
                other => {
                    return Err(SqlError::unsupported(format!(
                        "COPY option {other} is not supported"
                    )));
                }
            }
        }
        if header && format != CopyFormat::Csv {
            return Err(SqlError::new(
                runnel_sql::SqlState::FEATURE_NOT_SUPPORTED,
                "COPY HEADER available only in CSV mode",
            ));
        }
        let csv = format == CopyFormat::Csv;
        let quote = quote.unwrap_or_else(|| "\"".to_string());
        Ok(CopyOptions {
            format,
            delimiter: delimiter.unwrap_or_else(|| if csv { ",".into() } else { "\t".into() }),
            null: null.unwrap_or_else(|| if csv { String::new() } else { "\\N".into() }),
            header,
            escape: escape.unwrap_or_else(|| quote.clone()),
            quote,
        })
    }
}
