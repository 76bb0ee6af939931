//! The connectors by name: what the planner calls to check a table's `WITH (...)` options and
//! what the job runtime calls to open its sources and sinks.
//!
//! | connector    | source | sink |
//! |--------------|--------|------|
//! | `kafka`      | yes    | yes  |
//! | `filesystem` | yes    | yes  |
//! | `datagen`    | yes    | no   |
//! | `nexmark`    | yes    | no   |
//! | `print`      | no     | yes  |
//! | `blackhole`  | no     | yes  |
//!
//! Option keys are case-sensitive and an option a connector does not have is an error. Every
//! source accepts `scan.watermark.idle-timeout`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use runnel_engine::stream::sink::{SinkJob, SinkWriter};
use runnel_engine::stream::source::SplitReader;

use crate::codec::RecordFormat;
use crate::datagen::{self, DatagenOptions};
use crate::error::{ConnectorError, sql_type_name};
use crate::filesystem::{self, FileSplitReader, FileTableOptions};
use crate::kafka::{self, KafkaSink, KafkaTable};
use crate::nexmark::{self, NexmarkOptions};
use crate::options::Options;
use crate::sink::{BlackholeSink, FileSink, PrintSink};
use runnel_engine::stream::source::METADATA_COLUMN_KEY;

/// The option every source accepts: how long a split may go without rows before it stops
/// holding back the watermark.
pub const IDLE_TIMEOUT_OPTION: &str = "scan.watermark.idle-timeout";

/// A source opened for a job.
pub struct SourceSplits {
    /// The splits, read in parallel.
    pub splits: Vec<Box<dyn SplitReader>>,
    /// Whether every split ends by itself.
    pub bounded: bool,
    /// `scan.watermark.idle-timeout`.
    pub idle_timeout: Option<Duration>,
    /// Records skipped as malformed (`ignore-parse-errors`), counted by the readers as they go.
    pub skipped: Arc<AtomicU64>,
}

impl std::fmt::Debug for SourceSplits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSplits")
            .field("splits", &self.splits.len())
            .field("bounded", &self.bounded)
            .field("idle_timeout", &self.idle_timeout)
            .field("skipped", &self.skipped)
            .finish()
    }
}

enum SourceConfig {
    Kafka(Box<KafkaTable>),
    File(FileTableOptions),
    Datagen(DatagenOptions),
    Nexmark(Box<NexmarkOptions>),
}

enum SinkConfig {
    Kafka(Box<KafkaTable>),
    File(FileTableOptions),
    Print {
        identifier: Option<String>,
        standard_error: bool,
    },
    Blackhole,
}

fn connector_name(options: &[(String, String)]) -> Result<&str, ConnectorError> {
    options
        .iter()
        .find(|(key, _)| key == "connector")
        .map(|(_, value)| value.as_str())
        .ok_or_else(|| ConnectorError::MissingOption {
            connector: String::new(),
            option: "connector".to_string(),
        })
}

fn parse_source(
    options: &[(String, String)],
    schema: &SchemaRef,
) -> Result<(SourceConfig, Option<Duration>), ConnectorError> {
    let name = connector_name(options)?;
    let mut reader = Options::new(name, options);
    reader.string("connector");
    if name != "kafka" {
        check_no_metadata(name, schema)?;
    }
    let config = match name {
        "kafka" => SourceConfig::Kafka(Box::new(kafka::parse_table(&mut reader, schema, false)?)),
        "filesystem" => {
            let file = filesystem::parse_table_options(&mut reader)?;
            check_file_columns(&file, schema)?;
            SourceConfig::File(file)
        }
        "datagen" => SourceConfig::Datagen(datagen::parse_options(&mut reader, schema)?),
        "nexmark" => SourceConfig::Nexmark(Box::new(nexmark::parse_options(&mut reader, schema)?)),
        "print" | "blackhole" => {
            return Err(ConnectorError::NotASource {
                connector: name.to_string(),
            });
        }
        other => {
            return Err(ConnectorError::UnknownConnector {
                name: other.to_string(),
            });
        }
    };
    reader.declare(&[IDLE_TIMEOUT_OPTION]);
    let idle_timeout = reader.duration(IDLE_TIMEOUT_OPTION)?;
    reader.finish()?;
    Ok((config, idle_timeout))
}

fn parse_sink(
    options: &[(String, String)],
    schema: &SchemaRef,
) -> Result<SinkConfig, ConnectorError> {
    let name = connector_name(options)?;
    let mut reader = Options::new(name, options);
    reader.string("connector");
    if name != "kafka" {
        check_no_metadata(name, schema)?;
    }
    let config = match name {
        "kafka" => {
            let table = kafka::parse_table(&mut reader, schema, true)?;
            // The same table may be read too: its source option is checked, not used here.
            reader.declare(&[IDLE_TIMEOUT_OPTION]);
            reader.duration(IDLE_TIMEOUT_OPTION)?;
            SinkConfig::Kafka(Box::new(table))
        }
        "filesystem" => {
            let file = filesystem::parse_table_options(&mut reader)?;
            check_file_columns(&file, schema)?;
            // The same table may be read too: its source option is checked, not used here.
            reader.declare(&[IDLE_TIMEOUT_OPTION]);
            reader.duration(IDLE_TIMEOUT_OPTION)?;
            SinkConfig::File(file)
        }
        "print" => {
            reader.declare(&["connector", "print-identifier", "standard-error"]);
            let identifier = reader.string("print-identifier").map(str::to_string);
            let standard_error = reader.bool("standard-error")?.unwrap_or(false);
            SinkConfig::Print {
                identifier,
                standard_error,
            }
        }
        "blackhole" => {
            reader.declare(&["connector"]);
            SinkConfig::Blackhole
        }
        "datagen" | "nexmark" => {
            return Err(ConnectorError::NotASink {
                connector: name.to_string(),
            });
        }
        other => {
            return Err(ConnectorError::UnknownConnector {
                name: other.to_string(),
            });
        }
    };
    reader.finish()?;
    Ok(config)
}

/// Only Kafka records have metadata.
fn check_no_metadata(connector: &str, schema: &SchemaRef) -> Result<(), ConnectorError> {
    match schema
        .fields()
        .iter()
        .find(|f| f.metadata().contains_key(METADATA_COLUMN_KEY))
    {
        Some(field) => Err(ConnectorError::NoMetadata {
            connector: connector.to_string(),
            column: field.name().to_string(),
        }),
        None => Ok(()),
    }
}

/// CSV holds flat values only; JSON columns are checked by building Arrow's decoder.
fn check_file_columns(file: &FileTableOptions, schema: &SchemaRef) -> Result<(), ConnectorError> {
    if !matches!(file.format, RecordFormat::Csv { .. }) {
        return Ok(());
    }
    let columns: Vec<usize> = (0..schema.fields().len()).collect();
    check_flat_columns("filesystem", schema, &columns, "csv")
}

/// `columns` of `schema` must be flat (no lists, rows or maps): `format` cannot hold others.
pub(crate) fn check_flat_columns(
    connector: &str,
    schema: &SchemaRef,
    columns: &[usize],
    format: &str,
) -> Result<(), ConnectorError> {
    for &column in columns {
        let field = schema.field(column);
        let nested = matches!(
            field.data_type(),
            DataType::List(_)
                | DataType::LargeList(_)
                | DataType::FixedSizeList(_, _)
                | DataType::Struct(_)
                | DataType::Map(_, _)
                | DataType::Union(_, _)
                | DataType::Dictionary(_, _)
        );
        if nested {
            return Err(ConnectorError::UnsupportedColumnType {
                connector: connector.to_string(),
                column: field.name().to_string(),
                data_type: format!("{} (format '{format}')", sql_type_name(field.data_type())),
            });
        }
    }
    Ok(())
}

/// Checks a source table's options without touching files (for `runnel check` and
/// `CREATE TABLE`).
pub fn validate_source(
    options: &[(String, String)],
    schema: &SchemaRef,
) -> Result<(), ConnectorError> {
    parse_source(options, schema).map(|_| ())
}

/// Checks a sink table's options without touching files.
pub fn validate_sink(
    options: &[(String, String)],
    schema: &SchemaRef,
) -> Result<(), ConnectorError> {
    parse_sink(options, schema).map(|_| ())
}

/// Opens a source: `parallelism` is how many splits a generator is divided into (a
/// `filesystem` source has one split per file whatever it is).
pub fn open_source(
    options: &[(String, String)],
    schema: &SchemaRef,
    parallelism: usize,
    resume: Option<&std::collections::BTreeMap<String, i64>>,
) -> Result<SourceSplits, ConnectorError> {
    let (config, idle_timeout) = parse_source(options, schema)?;
    let skipped = Arc::new(AtomicU64::new(0));
    Ok(match config {
        SourceConfig::Kafka(table) => SourceSplits {
            splits: kafka::kafka_splits(&table, schema, parallelism, &skipped, resume),
            bounded: table.bounded != kafka::options::BoundedMode::Unbounded,
            idle_timeout,
            skipped,
        },
        SourceConfig::File(file) => SourceSplits {
            splits: filesystem::list_files(&file.path)
                .map_err(|e| ConnectorError::Io(e.to_string()))?
                .into_iter()
                .map(|path| {
                    Box::new(
                        FileSplitReader::with_options(
                            path,
                            file.format.clone(),
                            file.read.clone(),
                            schema.clone(),
                        )
                        .counting_skipped(skipped.clone())
                        .resuming(resume),
                    ) as Box<dyn SplitReader>
                })
                .collect(),
            bounded: true,
            idle_timeout,
            skipped,
        },
        SourceConfig::Datagen(datagen) => SourceSplits {
            splits: datagen.splits(schema, parallelism, resume),
            bounded: datagen.total_rows().is_some(),
            idle_timeout,
            skipped,
        },
        SourceConfig::Nexmark(nexmark) => SourceSplits {
            splits: nexmark.splits(parallelism, resume),
            bounded: nexmark.bounded(),
            idle_timeout,
            skipped,
        },
    })
}

/// Whether a sink of this table takes part in checkpoints, so that a job writing it can be
/// resumed after a restart without losing rows. The `filesystem` sink does not: its part
/// files are not committed with checkpoints yet, so a resumed job would leave the crashed
/// run's in-progress file behind.
pub fn sink_checkpoints(options: &[(String, String)]) -> bool {
    !options
        .iter()
        .any(|(key, value)| key == "connector" && value == "filesystem")
}

/// Opens a sink (a `filesystem` sink creates its directory) for `job`, when the job
/// checkpoints (`None`: it does not).
pub fn open_sink(
    options: &[(String, String)],
    schema: &SchemaRef,
    job: Option<&SinkJob>,
) -> Result<Box<dyn SinkWriter>, ConnectorError> {
    Ok(match parse_sink(options, schema)? {
        SinkConfig::Kafka(table) => Box::new(
            KafkaSink::new(&table, schema, job).map_err(|e| ConnectorError::Io(e.to_string()))?,
        ),
        SinkConfig::File(file) => {
            std::fs::create_dir_all(&file.path).map_err(|e| {
                ConnectorError::Io(format!(
                    "filesystem sink: cannot create directory {}: {e}",
                    file.path.display()
                ))
            })?;
            Box::new(FileSink::new(&file, schema.clone()).map_err(ConnectorError::Io)?)
        }
        SinkConfig::Print {
            identifier,
            standard_error,
        } => Box::new(PrintSink::new(identifier, standard_error)),
        SinkConfig::Blackhole => Box::new(BlackholeSink),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{Field, Schema};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    fn entries(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn source_error(pairs: &[(&str, &str)]) -> String {
        match validate_source(&entries(pairs), &schema()) {
            Ok(()) => panic!("expected an error for {pairs:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn sink_error(pairs: &[(&str, &str)]) -> String {
        match validate_sink(&entries(pairs), &schema()) {
            Ok(()) => panic!("expected an error for {pairs:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn connector_errors() {
        assert_eq!(
            source_error(&[("path", "/x")]),
            "table option 'connector' is required (one of: kafka, filesystem, datagen, nexmark, print, blackhole)"
        );
        assert_eq!(
            source_error(&[("connector", "kafak")]),
            "unknown connector 'kafak'; available connectors: kafka, filesystem, datagen, nexmark, print, blackhole"
        );
        assert!(
            source_error(&[("connector", "print")])
                .starts_with("connector 'print' can only be written to")
        );
        assert!(
            sink_error(&[("connector", "datagen")])
                .starts_with("connector 'datagen' can only be read from")
        );
        assert_eq!(
            source_error(&[("connector", "filesystem"), ("format", "json")]),
            "connector 'filesystem' requires option 'path'"
        );
        assert_eq!(
            sink_error(&[("connector", "blackhole"), ("foo", "1")]),
            "unsupported option 'foo' for connector 'blackhole'; supported options: connector"
        );
        assert_eq!(
            sink_error(&[("connector", "print"), ("sink.parallelism", "2")]),
            "unsupported option 'sink.parallelism' for connector 'print'; supported options: connector, print-identifier, standard-error"
        );
        assert!(
            source_error(&[
                ("connector", "datagen"),
                ("scan.watermark.idle-timeout", "soon")
            ])
            .contains("duration")
        );
        assert!(
            sink_error(&[
                ("connector", "print"),
                ("scan.watermark.idle-timeout", "5 s")
            ])
            .starts_with("unsupported option 'scan.watermark.idle-timeout'")
        );
    }

    #[test]
    fn valid_tables() {
        let file = [
            ("connector", "filesystem"),
            ("path", "/nonexistent/runnel"),
            ("format", "csv"),
            ("csv.ignore-parse-errors", "true"),
            ("sink.rolling-policy.file-size", "1 mb"),
            ("scan.watermark.idle-timeout", "5 s"),
        ];
        validate_source(&entries(&file), &schema()).expect("source");
        validate_sink(&entries(&file), &schema()).expect("sink");
        validate_sink(
            &entries(&[
                ("connector", "print"),
                ("print-identifier", "x"),
                ("standard-error", "true"),
            ]),
            &schema(),
        )
        .expect("print");
        validate_sink(&entries(&[("connector", "blackhole")]), &schema()).expect("blackhole");
    }

    #[test]
    fn csv_tables_hold_flat_columns() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        )]));
        let error = validate_source(
            &entries(&[
                ("connector", "filesystem"),
                ("path", "/d"),
                ("format", "csv"),
            ]),
            &schema,
        )
        .expect_err("list in csv");
        assert!(error.to_string().contains("column 'tags'"), "{error}");
    }

    #[tokio::test]
    async fn datagen_source_with_idle_timeout() {
        let options = entries(&[
            ("connector", "datagen"),
            ("number-of-rows", "10"),
            ("rows-per-second", "1000000"),
            ("scan.watermark.idle-timeout", "2 s"),
        ]);
        let source = open_source(&options, &schema(), 3, None).expect("open");
        assert_eq!(source.splits.len(), 3);
        assert!(source.bounded);
        assert_eq!(source.idle_timeout, Some(Duration::from_secs(2)));
        let mut rows = 0;
        for mut split in source.splits {
            while let Some(batch) = split.next_batch().await.expect("batch") {
                rows += batch.num_rows();
            }
        }
        assert_eq!(rows, 10);
        let unbounded =
            open_source(&entries(&[("connector", "datagen")]), &schema(), 2, None).expect("open");
        assert!(!unbounded.bounded);
    }

    #[tokio::test]
    async fn filesystem_sink_then_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join("out");
        let path_text = path.to_string_lossy().into_owned();
        let options = entries(&[
            ("connector", "filesystem"),
            ("path", &path_text),
            ("format", "json"),
        ]);
        let mut sink = open_sink(&options, &schema(), None).expect("sink");
        assert!(path.is_dir(), "the directory is created");
        let batch = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(datafusion::arrow::array::StringArray::from(vec!["a", "b"])),
            ],
        )
        .expect("batch");
        sink.write(batch.clone()).await.expect("write");
        sink.finish().await.expect("finish");
        let source = open_source(&options, &schema(), 4, None).expect("source");
        assert_eq!(source.splits.len(), 1, "one split per file");
        let mut read = Vec::new();
        for mut split in source.splits {
            while let Some(batch) = split.next_batch().await.expect("read") {
                read.push(batch);
            }
        }
        assert_eq!(read, vec![batch]);
        let missing = entries(&[
            ("connector", "filesystem"),
            ("path", "/nonexistent/runnel/in"),
            ("format", "json"),
        ]);
        let error = open_source(&missing, &schema(), 1, None).expect_err("missing");
        assert!(
            error.to_string().contains("/nonexistent/runnel/in"),
            "{error}"
        );
    }
}
