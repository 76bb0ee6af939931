//! The options of a `kafka` table, with Flink's names and meanings.

use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use regex::Regex;

use super::metadata::{MetadataColumn, metadata_columns};
use crate::codec::{FormatSpec, RecordFormat, parse_format};
use crate::error::ConnectorError;
use crate::options::{Options, invalid};

/// The formats a Kafka table's key and value can have.
const FORMATS: &[&str] = &["json", "csv", "raw"];

/// Options every Kafka table has, read or written.
const COMMON_OPTIONS: &[&str] = &[
    "connector",
    "topic",
    "topic-pattern",
    "properties.bootstrap.servers",
    "properties.*",
    "format",
    "key.format",
    "key.fields",
    "key.fields-prefix",
    "value.format",
    "value.fields-include",
];
const SOURCE_OPTIONS: &[&str] = &[
    "scan.startup.mode",
    "scan.startup.timestamp-millis",
    "scan.startup.specific-offsets",
    "scan.bounded.mode",
    "scan.bounded.timestamp-millis",
    "scan.bounded.specific-offsets",
    "scan.topic-partition-discovery.interval",
];
const SINK_OPTIONS: &[&str] = &[
    "sink.delivery-guarantee",
    "sink.partitioner",
    "sink.transactional-id-prefix",
];

/// Which topics a table reads.
#[derive(Debug, Clone)]
pub enum Topics {
    /// `'topic' = 'a'` or `'topic' = 'a;b'`.
    Names(Vec<String>),
    /// `'topic-pattern' = 'regex'`: every topic whose whole name matches.
    Pattern(Regex),
}

/// Where a source starts reading each partition (`scan.startup.mode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupMode {
    /// `earliest-offset`.
    Earliest,
    /// `latest-offset`: only records produced after the job starts.
    Latest,
    /// `group-offsets` (Flink's default): the offsets committed by `properties.group.id`;
    /// partitions without one start as `properties.auto.offset.reset` says (`earliest` unless
    /// set).
    GroupOffsets,
    /// `timestamp`: the first record with a timestamp at or after this many epoch milliseconds.
    Timestamp(i64),
    /// `specific-offsets`: `partition:0,offset:42;partition:1,offset:300`; other partitions
    /// start at the earliest offset.
    SpecificOffsets(Vec<(i32, i64)>),
}

/// Where a source stops (`scan.bounded.mode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundedMode {
    /// `unbounded` (the default): read forever.
    Unbounded,
    /// `latest-offset`: up to the partitions' end offsets when the job starts.
    LatestOffset,
    /// `timestamp`: up to the first record with a timestamp after this many epoch milliseconds.
    Timestamp(i64),
    /// `specific-offsets`: up to (not including) these offsets; unlisted partitions end at once.
    SpecificOffsets(Vec<(i32, i64)>),
}

/// `sink.delivery-guarantee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryGuarantee {
    /// `none`: records are sent and not waited for; failed deliveries are logged.
    None,
    /// `at-least-once` (default): every record is acknowledged by the broker (`acks=all`)
    /// before the job finishes, and a failed delivery fails the job.
    AtLeastOnce,
    /// `exactly-once`: each checkpoint epoch's records go out in one Kafka transaction,
    /// committed once the epoch is durable.
    ExactlyOnce,
}

/// `sink.partitioner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioner {
    /// `default`: keyed records by the murmur2 hash of the key (as Kafka's Java client),
    /// records without a key spread by the producer.
    Default,
    /// `fixed`: every record of a sink instance to one partition (instance index modulo the
    /// partition count; Runnel writes a sink with one instance, so partition 0).
    Fixed,
    /// `round-robin`: records to partitions in turn, whatever their key.
    RoundRobin,
}

/// The key of a Kafka record: the columns it holds and their format.
#[derive(Debug, Clone)]
pub struct KeySpec {
    /// `key.format` and its options.
    pub format: FormatSpec,
    /// `key.fields`: indices of the key columns in the table's connector schema.
    pub columns: Vec<usize>,
}

/// A parsed `kafka` table.
#[derive(Debug, Clone)]
pub struct KafkaTable {
    /// The topics.
    pub topics: Topics,
    /// `properties.*` without the prefix, passed to librdkafka.
    pub properties: Vec<(String, String)>,
    /// The record key, if the table has `key.format`.
    pub key: Option<KeySpec>,
    /// The value's format and options.
    pub value: FormatSpec,
    /// Indices of the columns the value holds (every physical column with
    /// `value.fields-include` = `ALL`, the non-key ones with `EXCEPT_KEY`).
    pub value_columns: Vec<usize>,
    /// The metadata columns.
    pub metadata: Vec<MetadataColumn>,
    /// `scan.startup.mode`.
    pub startup: StartupMode,
    /// `scan.bounded.mode`.
    pub bounded: BoundedMode,
    /// `scan.topic-partition-discovery.interval` (`None`: discovery off).
    pub discovery_interval: Option<Duration>,
    /// `sink.delivery-guarantee`.
    pub delivery: DeliveryGuarantee,
    /// `sink.partitioner`.
    pub partitioner: Partitioner,
    /// `sink.transactional-id-prefix` (required by `exactly-once`).
    pub transactional_id_prefix: Option<String>,
}

impl KafkaTable {
    /// `properties.group.id`, if set.
    pub fn group_id(&self) -> Option<&str> {
        self.property("group.id")
    }

    /// A `properties.*` value.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The single topic a sink writes to.
    pub fn sink_topic(&self) -> Result<&str, ConnectorError> {
        match &self.topics {
            Topics::Names(names) if names.len() == 1 => Ok(&names[0]),
            Topics::Names(names) => Err(invalid(
                "topic",
                &names.join(";"),
                "a Kafka sink writes to exactly one topic",
            )),
            Topics::Pattern(_) => Err(invalid(
                "topic-pattern",
                "",
                "a Kafka sink writes to one topic given by 'topic', not a pattern",
            )),
        }
    }
}

/// Flink's default partition discovery interval.
pub const DEFAULT_DISCOVERY_INTERVAL: Duration = Duration::from_secs(300);

/// Reads (and consumes) the options of a `kafka` table over `schema` (the connector schema:
/// physical and metadata columns). `sink` says whether the table is checked for writing.
pub fn parse_table(
    options: &mut Options<'_>,
    schema: &SchemaRef,
    sink: bool,
) -> Result<KafkaTable, ConnectorError> {
    options.declare(COMMON_OPTIONS);
    options.declare(SOURCE_OPTIONS);
    options.declare(SINK_OPTIONS);
    let topics = match (options.string("topic"), options.string("topic-pattern")) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "topic-pattern",
                options.peek("topic-pattern").unwrap_or_default(),
                "give either 'topic' or 'topic-pattern', not both",
            ));
        }
        (Some(list), None) => {
            let names: Vec<String> = list
                .split(';')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            if names.is_empty() {
                return Err(invalid("topic", list, "expected a topic name or 'a;b'"));
            }
            Topics::Names(names)
        }
        (None, Some(pattern)) => Topics::Pattern(
            Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| invalid("topic-pattern", pattern, e.to_string()))?,
        ),
        (None, None) => {
            return Err(ConnectorError::MissingOption {
                connector: "kafka".to_string(),
                option: "topic".to_string(),
            });
        }
    };
    options.required_string("properties.bootstrap.servers")?;
    let properties = properties(options);

    let metadata = metadata_columns(schema, sink)?;
    let physical: Vec<usize> = (0..schema.fields().len())
        .filter(|i| !metadata.iter().any(|m| m.index == *i))
        .collect();

    // Formats: `format` alone, or `value.format` (+ `key.format`).
    let value_format = match (options.string("format"), options.string("value.format")) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "value.format",
                options.peek("value.format").unwrap_or_default(),
                "give either 'format' or 'value.format', not both",
            ));
        }
        (Some(name), None) => parse_format(options, "format", name, "", FORMATS)?,
        (None, Some(name)) => parse_format(options, "value.format", name, "value.", FORMATS)?,
        (None, None) => {
            return Err(ConnectorError::MissingOption {
                connector: "kafka".to_string(),
                option: "format".to_string(),
            });
        }
    };
    if options.string("key.fields-prefix").is_some() {
        return Err(invalid(
            "key.fields-prefix",
            options.peek("key.fields-prefix").unwrap_or_default(),
            "not supported; name key columns as the key's fields",
        ));
    }
    let key = match (options.string("key.format"), options.string("key.fields")) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConnectorError::MissingOption {
                connector: "kafka".to_string(),
                option: "key.fields".to_string(),
            });
        }
        (None, Some(fields)) => {
            return Err(invalid(
                "key.fields",
                fields,
                "'key.fields' needs 'key.format'",
            ));
        }
        (Some(name), Some(fields)) => {
            let format = parse_format(options, "key.format", name, "key.", FORMATS)?;
            let mut columns = Vec::new();
            for field in fields.split(';').map(str::trim).filter(|f| !f.is_empty()) {
                let index = physical
                    .iter()
                    .copied()
                    .find(|&i| schema.field(i).name() == field)
                    .ok_or_else(|| {
                        invalid(
                            "key.fields",
                            fields,
                            format!("'{field}' is not a physical column of the table"),
                        )
                    })?;
                columns.push(index);
            }
            if columns.is_empty() {
                return Err(invalid("key.fields", fields, "expected column names 'a;b'"));
            }
            check_raw(&format, &columns, schema, "key.format")?;
            Some(KeySpec { format, columns })
        }
    };
    let except_key = match options.one_of("value.fields-include", &["ALL", "EXCEPT_KEY"])? {
        Some("EXCEPT_KEY") => {
            if key.is_none() {
                return Err(invalid(
                    "value.fields-include",
                    "EXCEPT_KEY",
                    "'EXCEPT_KEY' needs 'key.format' and 'key.fields'",
                ));
            }
            true
        }
        _ => false,
    };
    let value_columns: Vec<usize> = physical
        .iter()
        .copied()
        .filter(|i| !except_key || !key.as_ref().is_some_and(|k| k.columns.contains(i)))
        .collect();
    check_raw(&value_format, &value_columns, schema, "format")?;
    if matches!(value_format.format, RecordFormat::Csv { .. }) {
        crate::registry::check_flat_columns("kafka", schema, &value_columns, "csv")?;
    }

    let startup = startup_mode(options)?;
    let bounded = bounded_mode(options)?;
    let one_topic = matches!(&topics, Topics::Names(names) if names.len() == 1);
    for (option, specific) in [
        (
            "scan.startup.specific-offsets",
            matches!(startup, StartupMode::SpecificOffsets(_)),
        ),
        (
            "scan.bounded.specific-offsets",
            matches!(bounded, BoundedMode::SpecificOffsets(_)),
        ),
    ] {
        if specific && !one_topic {
            return Err(invalid(
                option,
                options.peek(option).unwrap_or_default(),
                "specific offsets name partitions of one topic: the table must read exactly one 'topic'",
            ));
        }
    }
    let discovery_interval = match options.string("scan.topic-partition-discovery.interval") {
        None => Some(DEFAULT_DISCOVERY_INTERVAL),
        Some(value) => {
            let interval = crate::options::parse_duration(value).map_err(|reason| {
                invalid("scan.topic-partition-discovery.interval", value, reason)
            })?;
            // Flink: zero or a negative interval turns discovery off.
            (!interval.is_zero()).then_some(interval)
        }
    };

    let delivery = match options.string("sink.delivery-guarantee") {
        None | Some("at-least-once") => DeliveryGuarantee::AtLeastOnce,
        Some("none") => DeliveryGuarantee::None,
        Some("exactly-once") => DeliveryGuarantee::ExactlyOnce,
        Some(other) => {
            return Err(invalid(
                "sink.delivery-guarantee",
                other,
                "expected one of: 'exactly-once', 'at-least-once', 'none'",
            ));
        }
    };
    let transactional_id_prefix = options
        .string("sink.transactional-id-prefix")
        .map(str::to_string);
    match (&transactional_id_prefix, delivery) {
        (None, DeliveryGuarantee::ExactlyOnce) => {
            return Err(invalid(
                "sink.delivery-guarantee",
                "exactly-once",
                "exactly-once also needs 'sink.transactional-id-prefix': the prefix of the Kafka transactional id, unique to this job",
            ));
        }
        (Some(prefix), DeliveryGuarantee::ExactlyOnce) if prefix.trim().is_empty() => {
            return Err(invalid(
                "sink.transactional-id-prefix",
                prefix,
                "the prefix of the sink's Kafka transactional id cannot be empty",
            ));
        }
        (Some(prefix), DeliveryGuarantee::AtLeastOnce | DeliveryGuarantee::None) => {
            return Err(invalid(
                "sink.transactional-id-prefix",
                prefix,
                "only 'sink.delivery-guarantee' = 'exactly-once' uses transactions",
            ));
        }
        _ => {}
    }
    if let Some((_, value)) = properties.iter().find(|(key, _)| key == "transactional.id") {
        return Err(invalid(
            "properties.transactional.id",
            value,
            "Runnel sets the transactional id itself: use 'sink.delivery-guarantee' = 'exactly-once' with 'sink.transactional-id-prefix'",
        ));
    }
    let partitioner =
        match options.one_of("sink.partitioner", &["default", "fixed", "round-robin"])? {
            None | Some("default") => Partitioner::Default,
            Some("fixed") => Partitioner::Fixed,
            _ => Partitioner::RoundRobin,
        };
    let table = KafkaTable {
        topics,
        properties,
        key,
        value: value_format,
        value_columns,
        metadata,
        startup,
        bounded,
        discovery_interval,
        delivery,
        partitioner,
        transactional_id_prefix,
    };
    if sink {
        table.sink_topic()?;
    }
    Ok(table)
}

/// `properties.*`, consumed, without the prefix.
fn properties(options: &mut Options<'_>) -> Vec<(String, String)> {
    let keys: Vec<String> = options
        .unconsumed()
        .filter(|(k, _)| k.starts_with("properties."))
        .map(|(k, _)| k.clone())
        .collect();
    let mut properties = Vec::new();
    if let Some(servers) = options.peek("properties.bootstrap.servers") {
        properties.push(("bootstrap.servers".to_string(), servers.to_string()));
    }
    for key in keys {
        if let Some(value) = options.string(&key) {
            properties.push((key["properties.".len()..].to_string(), value.to_string()));
        }
    }
    properties
}

/// The raw format holds exactly one STRING or BYTES column.
fn check_raw(
    format: &FormatSpec,
    columns: &[usize],
    schema: &SchemaRef,
    option: &str,
) -> Result<(), ConnectorError> {
    use datafusion::arrow::datatypes::DataType;
    if format.format != RecordFormat::Raw {
        return Ok(());
    }
    let reason = match columns {
        [column] => match schema.field(*column).data_type() {
            DataType::Utf8 | DataType::Binary => return Ok(()),
            other => format!(
                "the raw format holds one STRING or BYTES column; '{}' is {}",
                schema.field(*column).name(),
                crate::error::sql_type_name(other)
            ),
        },
        _ => format!(
            "the raw format holds exactly one column, this one would hold {}",
            columns.len()
        ),
    };
    Err(invalid(option, "raw", reason))
}

/// `partition:0,offset:42;partition:1,offset:300`.
fn parse_offsets(value: &str) -> Result<Vec<(i32, i64)>, String> {
    let reason = "expected 'partition:0,offset:42;partition:1,offset:300'";
    let mut offsets = Vec::new();
    for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let mut partition = None;
        let mut offset = None;
        for part in entry.split(',') {
            let (name, number) = part.split_once(':').ok_or(reason)?;
            match name.trim() {
                "partition" => partition = number.trim().parse::<i32>().ok(),
                "offset" => offset = number.trim().parse::<i64>().ok(),
                _ => return Err(reason.to_string()),
            }
        }
        match (partition, offset) {
            (Some(p), Some(o)) if p >= 0 && o >= 0 => offsets.push((p, o)),
            _ => return Err(reason.to_string()),
        }
    }
    if offsets.is_empty() {
        return Err(reason.to_string());
    }
    Ok(offsets)
}

/// A `scan.startup` or `scan.bounded` mode with its companion options: `<prefix>.mode` (one of
/// `modes`), `<prefix>.timestamp-millis` (required by and only allowed with `timestamp`) and
/// `<prefix>.specific-offsets` (likewise with `specific-offsets`).
enum Bound<'a> {
    /// A mode without companion (or none given).
    Named(Option<&'a str>),
    /// `timestamp` with its epoch milliseconds.
    Timestamp(i64),
    /// `specific-offsets` with its (partition, offset) pairs.
    Offsets(Vec<(i32, i64)>),
}

fn bound<'a>(
    options: &mut Options<'a>,
    prefix: &str,
    modes: &[&str],
) -> Result<Bound<'a>, ConnectorError> {
    let mode_key = format!("{prefix}.mode");
    let timestamp_key = format!("{prefix}.timestamp-millis");
    let offsets_key = format!("{prefix}.specific-offsets");
    let mode = options.one_of(&mode_key, modes)?;
    let timestamp = options.i64(&timestamp_key)?;
    let offsets = options.string(&offsets_key);
    let missing = |option: &str| ConnectorError::MissingOption {
        connector: "kafka".to_string(),
        option: option.to_string(),
    };
    let only_with = |mode: &str| format!("only used with '{mode_key}' = '{mode}'");
    if let Some(millis) = timestamp
        && mode != Some("timestamp")
    {
        return Err(invalid(
            &timestamp_key,
            &millis.to_string(),
            only_with("timestamp"),
        ));
    }
    if let Some(value) = offsets
        && mode != Some("specific-offsets")
    {
        return Err(invalid(&offsets_key, value, only_with("specific-offsets")));
    }
    Ok(match mode {
        Some("timestamp") => Bound::Timestamp(timestamp.ok_or_else(|| missing(&timestamp_key))?),
        Some("specific-offsets") => {
            let value = offsets.ok_or_else(|| missing(&offsets_key))?;
            Bound::Offsets(
                parse_offsets(value).map_err(|reason| invalid(&offsets_key, value, reason))?,
            )
        }
        other => Bound::Named(other),
    })
}

fn startup_mode(options: &mut Options<'_>) -> Result<StartupMode, ConnectorError> {
    let modes = [
        "earliest-offset",
        "latest-offset",
        "group-offsets",
        "timestamp",
        "specific-offsets",
    ];
    Ok(match bound(options, "scan.startup", &modes)? {
        Bound::Timestamp(millis) => StartupMode::Timestamp(millis),
        Bound::Offsets(offsets) => StartupMode::SpecificOffsets(offsets),
        Bound::Named(Some("earliest-offset")) => StartupMode::Earliest,
        Bound::Named(Some("latest-offset")) => StartupMode::Latest,
        // Flink's default.
        Bound::Named(_) => StartupMode::GroupOffsets,
    })
}

fn bounded_mode(options: &mut Options<'_>) -> Result<BoundedMode, ConnectorError> {
    let modes = [
        "unbounded",
        "latest-offset",
        "timestamp",
        "specific-offsets",
    ];
    Ok(match bound(options, "scan.bounded", &modes)? {
        Bound::Timestamp(millis) => BoundedMode::Timestamp(millis),
        Bound::Offsets(offsets) => BoundedMode::SpecificOffsets(offsets),
        Bound::Named(Some("latest-offset")) => BoundedMode::LatestOffset,
        Bound::Named(_) => BoundedMode::Unbounded,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("amount", DataType::Int64, true),
        ]))
    }

    fn parse(pairs: &[(&str, &str)], sink: bool) -> Result<KafkaTable, ConnectorError> {
        let mut entries: Vec<(String, String)> = vec![
            ("connector".into(), "kafka".into()),
            (
                "properties.bootstrap.servers".into(),
                "127.0.0.1:9092".into(),
            ),
        ];
        entries.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut options = Options::new("kafka", &entries);
        options.string("connector");
        let table = parse_table(&mut options, &schema(), sink)?;
        options.finish()?;
        Ok(table)
    }

    fn error(pairs: &[(&str, &str)], sink: bool) -> String {
        match parse(pairs, sink) {
            Ok(_) => panic!("expected an error for {pairs:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn topics_formats_and_modes() {
        let table = parse(
            &[
                ("topic", "a; b"),
                ("format", "json"),
                ("properties.group.id", "g"),
                ("scan.startup.mode", "timestamp"),
                ("scan.startup.timestamp-millis", "1000"),
                ("scan.bounded.mode", "latest-offset"),
            ],
            false,
        )
        .expect("table");
        assert!(matches!(&table.topics, Topics::Names(n) if n == &["a", "b"]));
        assert_eq!(table.group_id(), Some("g"));
        assert_eq!(table.startup, StartupMode::Timestamp(1000));
        assert_eq!(table.bounded, BoundedMode::LatestOffset);
        let specific = parse(
            &[
                ("topic", "a"),
                ("format", "json"),
                ("scan.startup.mode", "specific-offsets"),
                (
                    "scan.startup.specific-offsets",
                    "partition:0,offset:42;partition:1,offset:7",
                ),
            ],
            false,
        )
        .expect("specific");
        assert_eq!(
            specific.startup,
            StartupMode::SpecificOffsets(vec![(0, 42), (1, 7)])
        );
        assert_eq!(table.value_columns, vec![0, 1]);
        assert_eq!(table.delivery, DeliveryGuarantee::AtLeastOnce);
        let exactly_once = parse(
            &[
                ("topic", "t"),
                ("format", "json"),
                ("sink.delivery-guarantee", "exactly-once"),
                ("sink.transactional-id-prefix", "orders-job"),
            ],
            true,
        )
        .expect("exactly-once");
        assert_eq!(exactly_once.delivery, DeliveryGuarantee::ExactlyOnce);
        assert_eq!(
            exactly_once.transactional_id_prefix.as_deref(),
            Some("orders-job")
        );

        let keyed = parse(
            &[
                ("topic", "t"),
                ("key.format", "raw"),
                ("key.fields", "id"),
                ("value.format", "csv"),
                ("value.csv.field-delimiter", ";"),
                ("value.fields-include", "EXCEPT_KEY"),
                ("sink.partitioner", "round-robin"),
            ],
            true,
        )
        .expect("keyed");
        assert_eq!(keyed.value_columns, vec![1]);
        assert_eq!(keyed.key.map(|k| k.columns), Some(vec![0]));
        assert_eq!(keyed.value.format, RecordFormat::Csv { delimiter: b';' });
        assert_eq!(keyed.partitioner, Partitioner::RoundRobin);
    }

    #[test]
    fn refusals_name_the_option() {
        assert!(
            error(
                &[
                    ("topic", "t"),
                    ("format", "json"),
                    ("scan.startup.timestamp-millis", "5")
                ],
                false
            )
            .contains("only used with 'scan.startup.mode' = 'timestamp'")
        );
        assert_eq!(
            error(
                &[
                    ("topic", "t"),
                    ("format", "json"),
                    ("scan.bounded.mode", "timestamp")
                ],
                false
            ),
            "connector 'kafka' requires option 'scan.bounded.timestamp-millis'"
        );
        assert!(
            error(
                &[
                    ("topic", "t"),
                    ("format", "json"),
                    ("sink.delivery-guarantee", "exactly-once")
                ],
                true
            )
            .contains("exactly-once also needs 'sink.transactional-id-prefix'")
        );
        assert!(
            error(
                &[
                    ("topic", "t"),
                    ("format", "json"),
                    ("sink.transactional-id-prefix", "p")
                ],
                true
            )
            .contains("only 'sink.delivery-guarantee' = 'exactly-once' uses transactions")
        );
        assert!(
            error(
                &[
                    ("topic", "t"),
                    ("format", "json"),
                    ("properties.transactional.id", "x")
                ],
                true
            )
            .contains("Runnel sets the transactional id itself")
        );
        assert!(
            error(
                &[("topic", "t"), ("topic-pattern", "t.*"), ("format", "json")],
                false
            )
            .contains("either 'topic' or 'topic-pattern'")
        );
        assert!(
            error(
                &[
                    ("topic", "t"),
                    ("format", "json"),
                    ("key.format", "json"),
                    ("key.fields", "nope")
                ],
                false
            )
            .contains("'nope' is not a physical column")
        );
        assert!(
            error(&[("topic", "t"), ("format", "raw")], false)
                .contains("the raw format holds exactly one column")
        );
        assert!(
            error(
                &[
                    ("topic", "t"),
                    ("format", "json"),
                    ("value.fields-include", "EXCEPT_KEY")
                ],
                false
            )
            .contains("needs 'key.format'")
        );
        assert!(
            error(
                &[
                    ("topic", "t"),
                    ("format", "json"),
                    ("scan.startup.mode", "specific-offsets"),
                    ("scan.startup.specific-offsets", "p0=42")
                ],
                false
            )
            .contains("partition:0,offset:42")
        );
        assert!(error(&[("topic", "a;b"), ("format", "json")], true).contains("exactly one topic"));
        assert!(
            error(
                &[
                    ("topic", "a;b"),
                    ("format", "json"),
                    ("scan.startup.mode", "specific-offsets"),
                    ("scan.startup.specific-offsets", "partition:0,offset:1")
                ],
                false
            )
            .contains("partitions of one topic")
        );
        assert!(
            error(&[("topic", "t"), ("format", "avro")], false)
                .contains("supports the formats 'json', 'csv', 'raw'")
        );
        assert!(
            error(
                &[
                    ("topic", "t"),
                    ("format", "json"),
                    ("scan.startup.mod", "x")
                ],
                false
            )
            .starts_with("unsupported option 'scan.startup.mod' for connector 'kafka'")
        );
    }
}
