//! Kafka record metadata as columns: `name TYPE METADATA FROM 'key' [VIRTUAL]`.
//!
//! | key              | type                      | read | written |
//! |------------------|---------------------------|------|---------|
//! | `topic`          | `STRING`                  | yes  | no      |
//! | `partition`      | `INT`                     | yes  | no      |
//! | `offset`         | `BIGINT`                  | yes  | no      |
//! | `timestamp`      | `TIMESTAMP_LTZ(3)`        | yes  | yes     |
//! | `timestamp-type` | `STRING`                  | yes  | no      |
//! | `headers`        | `MAP<STRING, BYTES>`      | yes  | yes     |
//! | `key`            | `BYTES` (the raw key)     | yes  | no      |
//!
//! A column may declare any type the metadata type casts to (Flink casts too).

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::{can_cast_types, cast};
use datafusion::arrow::datatypes::{DataType, Field, Fields, SchemaRef, TimeUnit};
use runnel_engine::stream::source::{METADATA_COLUMN_KEY, METADATA_VIRTUAL_KEY};

use crate::error::{ConnectorError, sql_type_name};

/// A metadata key Kafka records have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataKey {
    /// The record's topic.
    Topic,
    /// Its partition.
    Partition,
    /// Its offset.
    Offset,
    /// Its timestamp (create or log-append time).
    Timestamp,
    /// `CreateTime`, `LogAppendTime` or `NoTimestampType`.
    TimestampType,
    /// Its headers.
    Headers,
    /// Its key's bytes.
    Key,
}

impl MetadataKey {
    const ALL: [(&'static str, MetadataKey); 7] = [
        ("topic", MetadataKey::Topic),
        ("partition", MetadataKey::Partition),
        ("offset", MetadataKey::Offset),
        ("timestamp", MetadataKey::Timestamp),
        ("timestamp-type", MetadataKey::TimestampType),
        ("headers", MetadataKey::Headers),
        ("key", MetadataKey::Key),
    ];

    fn parse(key: &str) -> Option<MetadataKey> {
        Self::ALL.iter().find(|(k, _)| *k == key).map(|(_, m)| *m)
    }

    /// The key as written in `METADATA FROM '...'`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(k, _)| k)
    }

    /// Whether a sink writes it.
    pub fn writable(self) -> bool {
        matches!(self, MetadataKey::Timestamp | MetadataKey::Headers)
    }

    /// The type Kafka gives it.
    pub fn data_type(self) -> DataType {
        match self {
            MetadataKey::Topic | MetadataKey::TimestampType => DataType::Utf8,
            MetadataKey::Partition => DataType::Int32,
            MetadataKey::Offset => DataType::Int64,
            MetadataKey::Timestamp => {
                DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into()))
            }
            MetadataKey::Headers => headers_type(),
            MetadataKey::Key => DataType::Binary,
        }
    }
}

/// `MAP<STRING, BYTES>` as Runnel's type parser builds it.
pub fn headers_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(Fields::from(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Binary, true),
            ])),
            false,
        )),
        false,
    )
}

/// Whether `data_type` is a map of `STRING` keys to `BYTES` values (whatever its field names).
fn is_headers_type(data_type: &DataType) -> bool {
    let DataType::Map(entries, _) = data_type else {
        return false;
    };
    let DataType::Struct(fields) = entries.data_type() else {
        return false;
    };
    fields.len() == 2
        && fields[0].data_type() == &DataType::Utf8
        && fields[1].data_type() == &DataType::Binary
}

/// A metadata column of a table.
#[derive(Debug, Clone)]
pub struct MetadataColumn {
    /// Its index in the connector schema.
    pub index: usize,
    /// What it holds.
    pub key: MetadataKey,
    /// Its declared type.
    pub data_type: DataType,
}

impl MetadataColumn {
    /// `array` (of the key's own type) as the declared type.
    pub fn conform(&self, array: ArrayRef) -> Result<ArrayRef, String> {
        if array.data_type() == &self.data_type {
            return Ok(array);
        }
        cast(&array, &self.data_type).map_err(|e| e.to_string())
    }
}

/// The metadata columns of `schema` (tagged by the SQL layer), checked: known keys, types that
/// the metadata casts to (or from, when written), and for a sink only writable keys.
pub fn metadata_columns(
    schema: &SchemaRef,
    sink: bool,
) -> Result<Vec<MetadataColumn>, ConnectorError> {
    let mut columns = Vec::new();
    for (index, field) in schema.fields().iter().enumerate() {
        let Some(name) = field.metadata().get(METADATA_COLUMN_KEY) else {
            continue;
        };
        let key = MetadataKey::parse(name).ok_or_else(|| ConnectorError::UnknownMetadata {
            connector: "kafka".to_string(),
            column: field.name().to_string(),
            key: name.clone(),
            available: MetadataKey::ALL
                .iter()
                .map(|(k, _)| (*k).to_string())
                .collect(),
        })?;
        let virtual_column = field.metadata().contains_key(METADATA_VIRTUAL_KEY);
        if sink && !virtual_column && !key.writable() {
            return Err(ConnectorError::UnsupportedColumnType {
                connector: "kafka".to_string(),
                column: field.name().to_string(),
                data_type: format!(
                    "METADATA FROM '{name}' (read-only: declare it VIRTUAL to write to the table)"
                ),
            });
        }
        let own = key.data_type();
        let castable = if sink && !virtual_column {
            // Written as they are: a timestamp of any precision, headers as MAP<STRING, BYTES>.
            match key {
                MetadataKey::Timestamp => matches!(field.data_type(), DataType::Timestamp(..)),
                _ => is_headers_type(field.data_type()),
            }
        } else {
            can_cast_types(&own, field.data_type())
        };
        if !castable {
            return Err(ConnectorError::UnsupportedColumnType {
                connector: "kafka".to_string(),
                column: field.name().to_string(),
                data_type: format!(
                    "{} (METADATA FROM '{name}' is {})",
                    sql_type_name(field.data_type()),
                    sql_type_name(&own)
                ),
            });
        }
        columns.push(MetadataColumn {
            index,
            key,
            data_type: field.data_type().clone(),
        });
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use datafusion::arrow::datatypes::Schema;

    use super::*;

    fn column(name: &str, data_type: DataType, key: &str, is_virtual: bool) -> Field {
        let mut metadata = HashMap::from([(METADATA_COLUMN_KEY.to_string(), key.to_string())]);
        if is_virtual {
            metadata.insert(METADATA_VIRTUAL_KEY.to_string(), "true".to_string());
        }
        Field::new(name, data_type, true).with_metadata(metadata)
    }

    fn check(fields: Vec<Field>, sink: bool) -> Result<Vec<MetadataColumn>, ConnectorError> {
        metadata_columns(&Arc::new(Schema::new(fields)), sink)
    }

    #[test]
    fn keys_types_and_writability() {
        let ltz = DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into()));
        let read = check(
            vec![
                Field::new("id", DataType::Utf8, true),
                column("p", DataType::Int64, "partition", true),
                column("ts", ltz.clone(), "timestamp", false),
            ],
            false,
        )
        .expect("source");
        assert_eq!(read.len(), 2);
        assert_eq!((read[0].index, read[0].key), (1, MetadataKey::Partition));
        let unknown = check(
            vec![column("x", DataType::Int32, "leader-epoch", true)],
            false,
        )
        .expect_err("unknown key");
        assert!(
            unknown
                .to_string()
                .contains("has no metadata 'leader-epoch'")
        );
        // Written metadata: read-only keys must be VIRTUAL, written types must be Kafka's.
        assert!(check(vec![column("o", DataType::Int64, "offset", false)], true).is_err());
        assert!(check(vec![column("o", DataType::Int64, "offset", true)], true).is_ok());
        assert!(check(vec![column("ts", ltz, "timestamp", false)], true).is_ok());
        assert!(
            check(
                vec![column("ts", DataType::Int64, "timestamp", false)],
                true
            )
            .is_err()
        );
        assert!(check(vec![column("h", headers_type(), "headers", false)], true).is_ok());
        let text_headers = DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", DataType::Utf8, false),
                    Field::new("value", DataType::Utf8, true),
                ])),
                false,
            )),
            false,
        );
        assert!(check(vec![column("h", text_headers, "headers", false)], true).is_err());
    }
}
