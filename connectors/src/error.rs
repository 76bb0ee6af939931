//! Errors in a table's connector options, as users see them in `CREATE TABLE`, `runnel check`
//! and when a job starts.

use datafusion::arrow::datatypes::DataType;
use runnel_engine::stream::StreamError;

/// The connectors Runnel knows, in the order error messages list them.
pub const AVAILABLE_CONNECTORS: &[&str] = &[
    "kafka",
    "filesystem",
    "datagen",
    "nexmark",
    "print",
    "blackhole",
];

/// Why a table's `WITH (...)` options cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// `'connector' = '<name>'` names no connector Runnel has.
    #[error(
        "unknown connector '{name}'; available connectors: {}",
        AVAILABLE_CONNECTORS.join(", ")
    )]
    UnknownConnector {
        /// The value of the `connector` option.
        name: String,
    },
    /// A required option is absent.
    #[error("{}", missing_option_message(connector, option))]
    MissingOption {
        /// The connector (empty when the `connector` option itself is missing).
        connector: String,
        /// The missing option.
        option: String,
    },
    /// An option the connector (or its format) does not have.
    #[error(
        "unsupported option '{option}' for connector '{connector}'; supported options: {}",
        supported.join(", ")
    )]
    UnknownOption {
        /// The connector.
        connector: String,
        /// The option as written.
        option: String,
        /// The options the connector accepts (`#` stands for a column name).
        supported: Vec<String>,
    },
    /// An option whose value cannot be used.
    #[error("invalid value '{value}' for option '{option}': {reason}")]
    InvalidOption {
        /// The option.
        option: String,
        /// Its value as written.
        value: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A column whose type the connector cannot produce or consume.
    #[error("connector '{connector}' does not support column '{column}' of type {data_type}")]
    UnsupportedColumnType {
        /// The connector.
        connector: String,
        /// The column.
        column: String,
        /// The column's type, in SQL spelling where there is one.
        data_type: String,
    },
    /// A metadata column with a key the connector does not have.
    #[error(
        "column '{column}': connector '{connector}' has no metadata '{key}'; available: {}",
        available.join(", ")
    )]
    UnknownMetadata {
        /// The connector.
        connector: String,
        /// The column.
        column: String,
        /// The key as written.
        key: String,
        /// The keys the connector has.
        available: Vec<String>,
    },
    /// A metadata column on a connector whose records have no metadata.
    #[error("column '{column}': connector '{connector}' provides no record metadata")]
    NoMetadata {
        /// The connector.
        connector: String,
        /// The column.
        column: String,
    },
    /// A sink-only connector used as a source.
    #[error(
        "connector '{connector}' can only be written to (INSERT INTO), not read from; sources: kafka, filesystem, datagen"
    )]
    NotASource {
        /// The connector.
        connector: String,
    },
    /// A source-only connector used as a sink.
    #[error(
        "connector '{connector}' can only be read from, not written to; sinks: kafka, filesystem, print, blackhole"
    )]
    NotASink {
        /// The connector.
        connector: String,
    },
    /// A file or directory could not be read or created (the message names it).
    #[error("{0}")]
    Io(String),
}

fn missing_option_message(connector: &str, option: &str) -> String {
    if connector.is_empty() {
        format!(
            "table option '{option}' is required (one of: {})",
            AVAILABLE_CONNECTORS.join(", ")
        )
    } else {
        format!("connector '{connector}' requires option '{option}'")
    }
}

impl From<ConnectorError> for StreamError {
    fn from(error: ConnectorError) -> Self {
        StreamError::Source(error.to_string())
    }
}

/// `data_type` as Flink SQL spells it (Arrow's name for types SQL has no name for).
pub fn sql_type_name(data_type: &DataType) -> String {
    use datafusion::arrow::datatypes::TimeUnit;
    let precision = |unit: &TimeUnit| match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    };
    match data_type {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTES".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Time32(unit) | DataType::Time64(unit) => format!("TIME({})", precision(unit)),
        DataType::Timestamp(unit, None) => format!("TIMESTAMP({})", precision(unit)),
        DataType::Timestamp(unit, Some(_)) => format!("TIMESTAMP_LTZ({})", precision(unit)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_option_and_the_alternatives() {
        let unknown = ConnectorError::UnknownOption {
            connector: "datagen".into(),
            option: "foo".into(),
            supported: vec!["rows-per-second".into(), "number-of-rows".into()],
        };
        assert_eq!(
            unknown.to_string(),
            "unsupported option 'foo' for connector 'datagen'; supported options: rows-per-second, number-of-rows"
        );
        let missing = ConnectorError::MissingOption {
            connector: "filesystem".into(),
            option: "path".into(),
        };
        assert_eq!(
            missing.to_string(),
            "connector 'filesystem' requires option 'path'"
        );
        let connector = ConnectorError::UnknownConnector {
            name: "kafak".into(),
        };
        assert_eq!(
            connector.to_string(),
            "unknown connector 'kafak'; available connectors: kafka, filesystem, datagen, nexmark, print, blackhole"
        );
    }

    #[test]
    fn sql_type_names() {
        use datafusion::arrow::datatypes::TimeUnit;
        assert_eq!(sql_type_name(&DataType::Int32), "INT");
        assert_eq!(
            sql_type_name(&DataType::Timestamp(
                TimeUnit::Millisecond,
                Some("+00:00".into())
            )),
            "TIMESTAMP_LTZ(3)"
        );
        assert_eq!(
            sql_type_name(&DataType::Decimal128(10, 2)),
            "DECIMAL(10, 2)"
        );
    }
}
