//! The `datagen` source: Flink's data generator. Every column gets random values (numbers in
//! `[fields.#.min, fields.#.max]`, strings of `fields.#.length` characters, timestamps in
//! `[now - fields.#.max-past, now]`) or a `sequence` from `fields.#.start` to `fields.#.end`.
//!
//! The source is bounded when `number-of-rows` is set or a column is a sequence (it ends when
//! the shortest sequence does), unbounded otherwise. The rows, the sequences and the
//! `rows-per-second` rate are divided over the splits: split `i` of `n` generates rows
//! `[i * total / n, (i + 1) * total / n)` of the table, and sequence values `start + row`, so the
//! splits together produce every value once.
//!
//! Batches are generated column by column into flat buffers (no per-row allocation).
//! `seed` (a Runnel extension) makes the random values reproducible for a given parallelism.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, StringBuilder,
};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use datafusion::arrow::compute::kernels::cast_utils::parse_decimal;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, SchemaRef, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use rand::distr::{Distribution, Uniform};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use runnel_engine::stream::StreamError;
use runnel_engine::stream::source::SplitReader;

use crate::error::{ConnectorError, sql_type_name};
use crate::options::{Options, field_key, invalid};
use crate::pacing::Pacer;

/// Most rows in one generated batch.
pub const DATAGEN_BATCH_SIZE: usize = 4096;

/// Flink's default `rows-per-second`.
pub const DEFAULT_ROWS_PER_SECOND: u64 = 10_000;

/// Flink's default `fields.#.length`.
pub const DEFAULT_STRING_LENGTH: usize = 100;

/// The options of a `datagen` table.
#[derive(Debug, Clone, PartialEq)]
pub struct DatagenOptions {
    /// `rows-per-second`, over all splits.
    pub rows_per_second: u64,
    /// `number-of-rows`, over all splits.
    pub number_of_rows: Option<u64>,
    /// `seed` (Runnel extension): reproducible random values.
    pub seed: Option<u64>,
    /// One generator per column, in column order.
    pub fields: Vec<FieldGenerator>,
}

/// How one column is generated.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldGenerator {
    /// The column.
    pub name: String,
    /// Its type.
    pub data_type: DataType,
    /// `fields.#.null-rate`: the probability of NULL.
    pub null_rate: f64,
    /// The values.
    pub kind: GeneratorKind,
}

/// The values of a column.
#[derive(Debug, Clone, PartialEq)]
pub enum GeneratorKind {
    /// Integers (TINYINT..BIGINT) uniform in `[min, max]`.
    RandomInt {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// FLOAT/DOUBLE uniform in `[min, max]`.
    RandomFloat {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// DECIMAL: unscaled values uniform in `[min, max]`.
    RandomDecimal {
        /// Smallest unscaled value.
        min: i128,
        /// Largest unscaled value.
        max: i128,
    },
    /// BOOLEAN.
    RandomBool,
    /// STRING: lowercase letters and digits.
    RandomString {
        /// `fields.#.length`.
        length: usize,
        /// `fields.#.var-len`: lengths uniform in `[1, length]`.
        var_len: bool,
    },
    /// TIMESTAMP / TIMESTAMP_LTZ / DATE: `now` minus a uniform duration up to `max_past`.
    RandomTime {
        /// `fields.#.max-past`.
        max_past: Duration,
    },
    /// `start, start + 1, ..., end` (numbers, or their text for strings).
    Sequence {
        /// `fields.#.start`.
        start: i64,
        /// `fields.#.end`.
        end: i64,
    },
}

/// Every per-column option (`fields.#.<suffix>`).
const FIELD_SUFFIXES: &[&str] = &[
    "kind",
    "min",
    "max",
    "max-past",
    "length",
    "var-len",
    "start",
    "end",
    "null-rate",
];

/// Options of the `datagen` connector (without the source-wide `scan.*` ones).
pub const DATAGEN_OPTIONS: &[&str] = &[
    "connector",
    "rows-per-second",
    "number-of-rows",
    "seed",
    "fields.#.kind",
    "fields.#.min",
    "fields.#.max",
    "fields.#.max-past",
    "fields.#.length",
    "fields.#.var-len",
    "fields.#.start",
    "fields.#.end",
    "fields.#.null-rate",
];

/// The kinds of column `datagen` can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnClass {
    Int { min: i64, max: i64 },
    Float,
    Decimal { precision: u8, scale: i8 },
    Bool,
    String,
    Time,
}

fn column_class(data_type: &DataType) -> Option<ColumnClass> {
    Some(match data_type {
        DataType::Int8 => ColumnClass::Int {
            min: i8::MIN.into(),
            max: i8::MAX.into(),
        },
        DataType::Int16 => ColumnClass::Int {
            min: i16::MIN.into(),
            max: i16::MAX.into(),
        },
        DataType::Int32 => ColumnClass::Int {
            min: i32::MIN.into(),
            max: i32::MAX.into(),
        },
        DataType::Int64 => ColumnClass::Int {
            min: i64::MIN,
            max: i64::MAX,
        },
        DataType::Float32 | DataType::Float64 => ColumnClass::Float,
        DataType::Decimal128(precision, scale) => ColumnClass::Decimal {
            precision: *precision,
            scale: *scale,
        },
        DataType::Boolean => ColumnClass::Bool,
        DataType::Utf8 => ColumnClass::String,
        DataType::Timestamp(_, _) | DataType::Date32 => ColumnClass::Time,
        _ => return None,
    })
}

/// Reads (and consumes) the options of a `datagen` table over `schema`.
pub fn parse_options(
    options: &mut Options<'_>,
    schema: &SchemaRef,
) -> Result<DatagenOptions, ConnectorError> {
    options.declare(DATAGEN_OPTIONS);
    let rows_per_second = options
        .u64("rows-per-second")?
        .unwrap_or(DEFAULT_ROWS_PER_SECOND);
    if rows_per_second == 0 {
        return Err(invalid("rows-per-second", "0", "expected a positive rate"));
    }
    let number_of_rows = options.u64("number-of-rows")?;
    let seed = options.u64("seed")?;
    let mut fields = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        fields.push(parse_field(
            options,
            field.name(),
            field.data_type(),
            field.is_nullable(),
        )?);
    }
    // `fields.<x>.kind` where the table has no column `x`: say so rather than "unsupported".
    for (key, value) in options.unconsumed() {
        if let Some(rest) = key.strip_prefix("fields.")
            && let Some(dot) = rest.rfind('.')
            && FIELD_SUFFIXES.contains(&&rest[dot + 1..])
            && schema.field_with_name(&rest[..dot]).is_err()
        {
            let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(invalid(
                key,
                value,
                format!(
                    "the table has no column '{}' (columns: {})",
                    &rest[..dot],
                    columns.join(", ")
                ),
            ));
        }
    }
    Ok(DatagenOptions {
        rows_per_second,
        number_of_rows,
        seed,
        fields,
    })
}

fn parse_field(
    options: &mut Options<'_>,
    name: &str,
    data_type: &DataType,
    nullable: bool,
) -> Result<FieldGenerator, ConnectorError> {
    let key = |suffix: &str| field_key(name, suffix);
    let type_name = sql_type_name(data_type);
    let class = column_class(data_type).ok_or_else(|| ConnectorError::UnsupportedColumnType {
        connector: "datagen".to_string(),
        column: name.to_string(),
        data_type: type_name.clone(),
    })?;
    let sequence = options
        .one_of(&key("kind"), &["random", "sequence"])?
        .is_some_and(|kind| kind == "sequence");
    let null_rate = match options.f64(&key("null-rate"))? {
        None => 0.0,
        Some(rate) if (0.0..=1.0).contains(&rate) => rate,
        Some(_) => {
            return Err(invalid(
                &key("null-rate"),
                options.peek(&key("null-rate")).unwrap_or_default(),
                "expected a probability between 0 and 1",
            ));
        }
    };
    if null_rate > 0.0 && !nullable {
        return Err(invalid(
            &key("null-rate"),
            options.peek(&key("null-rate")).unwrap_or_default(),
            format!("column '{name}' is NOT NULL"),
        ));
    }
    let mut applicable: Vec<&str> = vec!["kind", "null-rate"];
    let kind = if sequence {
        applicable.extend(["start", "end"]);
        if matches!(class, ColumnClass::Bool | ColumnClass::Time) {
            return Err(invalid(
                &key("kind"),
                "sequence",
                format!(
                    "sequences are generated for numeric and string columns; column '{name}' is {type_name}"
                ),
            ));
        }
        reject_inapplicable(options, name, &applicable, "a sequence column")?;
        let start = options
            .i64(&key("start"))?
            .ok_or_else(|| ConnectorError::MissingOption {
                connector: "datagen".to_string(),
                option: key("start"),
            })?;
        let end = options
            .i64(&key("end"))?
            .ok_or_else(|| ConnectorError::MissingOption {
                connector: "datagen".to_string(),
                option: key("end"),
            })?;
        if start > end {
            return Err(invalid(
                &key("end"),
                &end.to_string(),
                format!("the sequence end must not be below its start ({start})"),
            ));
        }
        match class {
            ColumnClass::Int { min, max } => {
                for (suffix, value) in [("start", start), ("end", end)] {
                    if value < min || value > max {
                        return Err(invalid(
                            &key(suffix),
                            &value.to_string(),
                            format!("out of range for {type_name}"),
                        ));
                    }
                }
            }
            ColumnClass::Decimal { precision, scale } => {
                for (suffix, value) in [("start", start), ("end", end)] {
                    parse_decimal::<Decimal128Type>(&value.to_string(), precision, scale).map_err(
                        |_| {
                            invalid(
                                &key(suffix),
                                &value.to_string(),
                                format!("out of range for {type_name}"),
                            )
                        },
                    )?;
                }
            }
            _ => {}
        }
        GeneratorKind::Sequence { start, end }
    } else {
        match class {
            ColumnClass::Int {
                min: type_min,
                max: type_max,
            } => {
                applicable.extend(["min", "max"]);
                reject_inapplicable(options, name, &applicable, &type_name)?;
                let mut bound = |suffix: &str, default: i64| -> Result<i64, ConnectorError> {
                    match options.i64(&key(suffix))? {
                        None => Ok(default),
                        Some(v) if v >= type_min && v <= type_max => Ok(v),
                        Some(v) => Err(invalid(
                            &key(suffix),
                            &v.to_string(),
                            format!("out of range for {type_name}"),
                        )),
                    }
                };
                let min = bound("min", type_min)?;
                let max = bound("max", type_max)?;
                check_order(name, min <= max, &min.to_string(), &max.to_string())?;
                GeneratorKind::RandomInt { min, max }
            }
            ColumnClass::Float => {
                applicable.extend(["min", "max"]);
                reject_inapplicable(options, name, &applicable, &type_name)?;
                let type_max = if *data_type == DataType::Float32 {
                    f64::from(f32::MAX)
                } else {
                    f64::MAX
                };
                let min = options.f64(&key("min"))?.unwrap_or(0.0);
                let max = options.f64(&key("max"))?.unwrap_or(type_max);
                for (suffix, value) in [("min", min), ("max", max)] {
                    if value.abs() > type_max {
                        return Err(invalid(
                            &key(suffix),
                            &value.to_string(),
                            format!("out of range for {type_name}"),
                        ));
                    }
                }
                check_order(name, min <= max, &min.to_string(), &max.to_string())?;
                GeneratorKind::RandomFloat { min, max }
            }
            ColumnClass::Decimal { precision, scale } => {
                applicable.extend(["min", "max"]);
                reject_inapplicable(options, name, &applicable, &type_name)?;
                let limit = 10i128.pow(u32::from(precision)) - 1;
                let mut bound = |suffix: &str, default: i128| -> Result<i128, ConnectorError> {
                    options
                        .parsed(&key(suffix), |v| {
                            parse_decimal::<Decimal128Type>(v.trim(), precision, scale)
                                .map_err(|_| format!("expected a number that fits {type_name}"))
                        })
                        .map(|v| v.unwrap_or(default))
                };
                let min = bound("min", -limit)?;
                let max = bound("max", limit)?;
                check_order(name, min <= max, &min.to_string(), &max.to_string())?;
                GeneratorKind::RandomDecimal { min, max }
            }
            ColumnClass::Bool => {
                reject_inapplicable(options, name, &applicable, &type_name)?;
                GeneratorKind::RandomBool
            }
            ColumnClass::String => {
                applicable.extend(["length", "var-len"]);
                reject_inapplicable(options, name, &applicable, &type_name)?;
                let length = match options.u64(&key("length"))? {
                    None => DEFAULT_STRING_LENGTH,
                    Some(length) if (1..=1 << 20).contains(&length) => length as usize,
                    Some(length) => {
                        return Err(invalid(
                            &key("length"),
                            &length.to_string(),
                            "expected a length between 1 and 1048576",
                        ));
                    }
                };
                let var_len = options.bool(&key("var-len"))?.unwrap_or(false);
                GeneratorKind::RandomString { length, var_len }
            }
            ColumnClass::Time => {
                applicable.push("max-past");
                reject_inapplicable(options, name, &applicable, &type_name)?;
                let max_past = options.duration(&key("max-past"))?.unwrap_or_default();
                if max_past > Duration::from_secs(100 * 365 * 86_400) {
                    return Err(invalid(
                        &key("max-past"),
                        options.peek(&key("max-past")).unwrap_or_default(),
                        "expected at most 100 years",
                    ));
                }
                GeneratorKind::RandomTime { max_past }
            }
        }
    };
    Ok(FieldGenerator {
        name: name.to_string(),
        data_type: data_type.clone(),
        null_rate,
        kind,
    })
}

fn check_order(name: &str, ordered: bool, min: &str, max: &str) -> Result<(), ConnectorError> {
    if ordered {
        Ok(())
    } else {
        Err(invalid(
            &field_key(name, "max"),
            max,
            format!("below 'fields.{name}.min' ({min})"),
        ))
    }
}

/// A per-column option that does not apply to the column's kind or type is an error.
fn reject_inapplicable(
    options: &Options<'_>,
    name: &str,
    applicable: &[&str],
    what: &str,
) -> Result<(), ConnectorError> {
    for suffix in FIELD_SUFFIXES {
        if applicable.contains(suffix) {
            continue;
        }
        let key = field_key(name, suffix);
        if let Some(value) = options.peek(&key) {
            let reason = match *suffix {
                "start" | "end" => {
                    format!("applies to sequence columns ('fields.{name}.kind' = 'sequence')")
                }
                _ if what == "a sequence column" => {
                    format!(
                        "does not apply to a sequence column ('fields.{name}.kind' = 'sequence')"
                    )
                }
                _ => format!("does not apply to column '{name}' of type {what}"),
            };
            return Err(invalid(&key, value, reason));
        }
    }
    Ok(())
}

impl DatagenOptions {
    /// Total rows when bounded: `number-of-rows`, capped by the shortest sequence.
    pub fn total_rows(&self) -> Option<u64> {
        let sequences = self.fields.iter().filter_map(|f| match f.kind {
            GeneratorKind::Sequence { start, end } => {
                Some(u64::try_from(i128::from(end) - i128::from(start) + 1).unwrap_or(u64::MAX))
            }
            _ => None,
        });
        sequences.chain(self.number_of_rows).min()
    }

    /// `parallelism` splits (at least one) dividing the rows, sequences and rate between them.
    ///
    /// With `resume` (a checkpoint's positions), each split starts at the row it had reached.
    /// Random values are drawn from a generator seeded per batch by the split's seed and the
    /// batch's first row, so a resumed split with a `seed` produces the same rows as an
    /// uninterrupted one.
    pub fn splits(
        &self,
        schema: &SchemaRef,
        parallelism: usize,
        resume: Option<&std::collections::BTreeMap<String, i64>>,
    ) -> Vec<Box<dyn SplitReader>> {
        let count = parallelism.max(1);
        let total = self.total_rows();
        let base_seed = self.seed.unwrap_or_else(|| rand::rng().random());
        let fields = Arc::new(self.fields.clone());
        let rate = self.rows_per_second as f64 / count as f64;
        (0..count)
            .map(|index| {
                let (first_row, end_row) = match total {
                    Some(total) => {
                        let bound =
                            |i: usize| (u128::from(total) * i as u128 / count as u128) as u64;
                        (bound(index), Some(bound(index + 1)))
                    }
                    None => (0, None),
                };
                let key = format!("datagen:{index}");
                let next_row = resume
                    .and_then(|positions| positions.get(&key))
                    .map_or(first_row, |row| (*row).max(0) as u64);
                let seed = split_seed(base_seed, index as u64);
                Box::new(DatagenSplitReader {
                    schema: Arc::clone(schema),
                    fields: Arc::clone(&fields),
                    rng: StdRng::seed_from_u64(seed),
                    seed,
                    key,
                    next_row,
                    end_row,
                    rate,
                    emitted: 0,
                    pacer: Pacer::default(),
                    text: String::new(),
                }) as Box<dyn SplitReader>
            })
            .collect()
    }
}

/// SplitMix64 of `seed + index`: well-spread seeds for the splits of one seed.
fn split_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One split of a `datagen` source.
pub struct DatagenSplitReader {
    schema: SchemaRef,
    fields: Arc<Vec<FieldGenerator>>,
    rng: StdRng,
    /// The split's seed; each batch reseeds `rng` from it and the batch's first row.
    seed: u64,
    /// The split's position key (`datagen:<split>`).
    key: String,
    /// The table-wide index of the next row (sequences are `start + row`).
    next_row: u64,
    /// The end of this split's rows, when bounded.
    end_row: Option<u64>,
    /// Rows per second for this split.
    rate: f64,
    /// Rows this split emitted, which are due at `rate`.
    emitted: u64,
    pacer: Pacer,
    /// Reused text buffer for strings.
    text: String,
}

impl std::fmt::Debug for DatagenSplitReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagenSplitReader")
            .field("next_row", &self.next_row)
            .field("end_row", &self.end_row)
            .field("rate", &self.rate)
            .finish()
    }
}

#[async_trait]
impl SplitReader for DatagenSplitReader {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
        let remaining = match self.end_row {
            Some(end) if end <= self.next_row => return Ok(None),
            Some(end) => end - self.next_row,
            None => u64::MAX,
        };
        // About ten batches a second at low rates, so rows flow steadily rather than in bursts.
        let per_tenth = (self.rate / 10.0).ceil().max(1.0);
        let size = (DATAGEN_BATCH_SIZE as f64)
            .min(per_tenth)
            .min(remaining as f64) as usize;
        self.pacer
            .wait(Duration::from_secs_f64(self.emitted as f64 / self.rate))
            .await;
        self.rng = StdRng::seed_from_u64(split_seed(self.seed, self.next_row));
        let batch = self.generate(size)?;
        self.next_row += size as u64;
        self.emitted += size as u64;
        Ok(Some(batch))
    }

    fn position(&self) -> Vec<(String, i64)> {
        vec![(self.key.clone(), self.next_row as i64)]
    }
}

impl DatagenSplitReader {
    /// The next `size` rows.
    fn generate(&mut self, size: usize) -> Result<RecordBatch, StreamError> {
        let now_nanos = now_nanos();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.fields.len());
        let fields = Arc::clone(&self.fields);
        for field in fields.iter() {
            let nulls = if field.null_rate > 0.0 {
                let rng = &mut self.rng;
                let rate = field.null_rate;
                Some(NullBuffer::new(BooleanBuffer::collect_bool(size, |_| {
                    !rng.random_bool(rate)
                })))
            } else {
                None
            };
            columns.push(self.column(field, size, nulls, now_nanos)?);
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }

    fn column(
        &mut self,
        field: &FieldGenerator,
        size: usize,
        nulls: Option<NullBuffer>,
        now_nanos: i128,
    ) -> Result<ArrayRef, StreamError> {
        let first = self.next_row;
        let rng = &mut self.rng;
        let array: ArrayRef = match (&field.kind, &field.data_type) {
            (GeneratorKind::Sequence { start, .. }, data_type) => {
                // `start + row` fits: the rows were capped by the sequence's length.
                let value = |i: usize| start.wrapping_add((first + i as u64) as i64);
                match data_type {
                    DataType::Int8 => primitive::<Int8Type>(size, nulls, |i| value(i) as i8),
                    DataType::Int16 => primitive::<Int16Type>(size, nulls, |i| value(i) as i16),
                    DataType::Int32 => primitive::<Int32Type>(size, nulls, |i| value(i) as i32),
                    DataType::Int64 => primitive::<Int64Type>(size, nulls, value),
                    DataType::Float32 => primitive::<Float32Type>(size, nulls, |i| value(i) as f32),
                    DataType::Float64 => primitive::<Float64Type>(size, nulls, |i| value(i) as f64),
                    DataType::Decimal128(_, scale) => {
                        let factor = decimal_factor(*scale);
                        Arc::new(
                            PrimitiveArray::<Decimal128Type>::new(
                                (0..size).map(|i| i128::from(value(i)) * factor).collect(),
                                nulls,
                            )
                            .with_data_type(field.data_type.clone()),
                        )
                    }
                    DataType::Utf8 => {
                        let mut builder = StringBuilder::with_capacity(size, size * 8);
                        for i in 0..size {
                            if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                                builder.append_null();
                            } else {
                                self.text.clear();
                                let _ = write!(self.text, "{}", value(i));
                                builder.append_value(&self.text);
                            }
                        }
                        Arc::new(builder.finish())
                    }
                    other => {
                        return Err(StreamError::Internal(format!(
                            "datagen: no sequence for {other}"
                        )));
                    }
                }
            }
            (GeneratorKind::RandomInt { min, max }, data_type) => {
                let dist = uniform(*min, *max)?;
                match data_type {
                    DataType::Int8 => {
                        primitive::<Int8Type>(size, nulls, |_| dist.sample(rng) as i8)
                    }
                    DataType::Int16 => {
                        primitive::<Int16Type>(size, nulls, |_| dist.sample(rng) as i16)
                    }
                    DataType::Int32 => {
                        primitive::<Int32Type>(size, nulls, |_| dist.sample(rng) as i32)
                    }
                    _ => primitive::<Int64Type>(size, nulls, |_| dist.sample(rng)),
                }
            }
            (GeneratorKind::RandomFloat { min, max }, data_type) => {
                // Interpolated so that the full range (-MAX..MAX) does not overflow.
                let mut value = || {
                    let u: f64 = rng.random();
                    min * (1.0 - u) + max * u
                };
                if *data_type == DataType::Float32 {
                    primitive::<Float32Type>(size, nulls, |_| value() as f32)
                } else {
                    primitive::<Float64Type>(size, nulls, |_| value())
                }
            }
            (GeneratorKind::RandomDecimal { min, max }, _) => {
                let dist = uniform(*min, *max)?;
                Arc::new(
                    PrimitiveArray::<Decimal128Type>::new(
                        (0..size).map(|_| dist.sample(rng)).collect(),
                        nulls,
                    )
                    .with_data_type(field.data_type.clone()),
                )
            }
            (GeneratorKind::RandomBool, _) => Arc::new(BooleanArray::new(
                BooleanBuffer::collect_bool(size, |_| rng.random()),
                nulls,
            )),
            (GeneratorKind::RandomString { length, var_len }, _) => {
                const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
                let lengths = uniform(1usize, *length)?;
                let mut builder = StringBuilder::with_capacity(size, size * length);
                for i in 0..size {
                    if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                        builder.append_null();
                        continue;
                    }
                    let len = if *var_len {
                        lengths.sample(rng)
                    } else {
                        *length
                    };
                    self.text.clear();
                    // Ten base-36 digits per 64 random bits (36^10 < 2^64 / 5000: no visible bias).
                    let mut bits = 0u64;
                    for j in 0..len {
                        if j % 10 == 0 {
                            bits = rng.random();
                        }
                        self.text.push(char::from(ALPHABET[(bits % 36) as usize]));
                        bits /= 36;
                    }
                    builder.append_value(&self.text);
                }
                Arc::new(builder.finish())
            }
            (GeneratorKind::RandomTime { max_past }, data_type) => {
                let (per_second, date) = match data_type {
                    DataType::Timestamp(TimeUnit::Second, _) => (1, false),
                    DataType::Timestamp(TimeUnit::Millisecond, _) => (1_000, false),
                    DataType::Timestamp(TimeUnit::Microsecond, _) => (1_000_000, false),
                    DataType::Timestamp(TimeUnit::Nanosecond, _) => (1_000_000_000, false),
                    _ => (1_000, true),
                };
                let now = (now_nanos / (1_000_000_000 / per_second)) as i64;
                let max_past = (max_past.as_nanos() / (1_000_000_000 / per_second as u128)) as i64;
                let past = uniform(0i64, max_past)?;
                let mut value = || {
                    if max_past == 0 {
                        now
                    } else {
                        now - past.sample(rng)
                    }
                };
                if date {
                    primitive::<Date32Type>(size, nulls, |_| value().div_euclid(86_400_000) as i32)
                } else {
                    let values: ScalarBuffer<i64> = (0..size).map(|_| value()).collect();
                    match data_type {
                        DataType::Timestamp(TimeUnit::Second, _) => {
                            timestamp::<TimestampSecondType>(values, nulls, data_type)
                        }
                        DataType::Timestamp(TimeUnit::Millisecond, _) => {
                            timestamp::<TimestampMillisecondType>(values, nulls, data_type)
                        }
                        DataType::Timestamp(TimeUnit::Microsecond, _) => {
                            timestamp::<TimestampMicrosecondType>(values, nulls, data_type)
                        }
                        _ => timestamp::<TimestampNanosecondType>(values, nulls, data_type),
                    }
                }
            }
        };
        Ok(array)
    }
}

fn primitive<T: ArrowPrimitiveType>(
    size: usize,
    nulls: Option<NullBuffer>,
    value: impl FnMut(usize) -> T::Native,
) -> ArrayRef {
    let values: ScalarBuffer<T::Native> = (0..size).map(value).collect();
    Arc::new(PrimitiveArray::<T>::new(values, nulls))
}

fn timestamp<T: ArrowPrimitiveType<Native = i64>>(
    values: ScalarBuffer<i64>,
    nulls: Option<NullBuffer>,
    data_type: &DataType,
) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::new(values, nulls).with_data_type(data_type.clone()))
}

fn uniform<X: rand::distr::uniform::SampleUniform>(
    low: X,
    high: X,
) -> Result<Uniform<X>, StreamError> {
    Uniform::new_inclusive(low, high)
        .map_err(|e| StreamError::Internal(format!("datagen: bad range: {e}")))
}

fn decimal_factor(scale: i8) -> i128 {
    if scale >= 0 {
        10i128.pow(u32::from(scale.unsigned_abs()))
    } else {
        1
    }
}

fn now_nanos() -> i128 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => since.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::{BTreeMap, HashSet};

    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    fn schema(fields: Vec<Field>) -> SchemaRef {
        Arc::new(Schema::new(fields))
    }

    fn entries(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)], schema: &SchemaRef) -> Result<DatagenOptions, ConnectorError> {
        let entries = entries(pairs);
        let mut options = Options::new("datagen", &entries);
        let _ = options.string("connector");
        let parsed = parse_options(&mut options, schema)?;
        options.finish()?;
        Ok(parsed)
    }

    async fn collect(splits: Vec<Box<dyn SplitReader>>) -> Vec<Vec<RecordBatch>> {
        let mut all = Vec::new();
        for mut split in splits {
            let mut batches = Vec::new();
            while let Some(batch) = split.next_batch().await.expect("batch") {
                batches.push(batch);
            }
            all.push(batches);
        }
        all
    }

    fn rows(batches: &[RecordBatch]) -> usize {
        batches.iter().map(RecordBatch::num_rows).sum()
    }

    const FAST: (&str, &str) = ("rows-per-second", "1000000000");

    #[tokio::test]
    async fn number_of_rows_is_exact_across_splits() {
        let schema = schema(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        let options = parse(
            &[FAST, ("number-of-rows", "10001"), ("fields.s.length", "5")],
            &schema,
        )
        .expect("valid");
        for parallelism in [1, 3, 7] {
            let splits = options.splits(&schema, parallelism, None);
            assert_eq!(splits.len(), parallelism);
            let all = collect(splits).await;
            let total: usize = all.iter().map(|b| rows(b)).sum();
            assert_eq!(total, 10_001, "parallelism {parallelism}");
            for batches in &all {
                for batch in batches {
                    assert!(batch.num_rows() <= DATAGEN_BATCH_SIZE);
                    let s = batch.column(1).as_string::<i32>();
                    assert!((0..s.len()).all(|i| s.value(i).len() == 5));
                    assert!((0..s.len()).all(|i| {
                        s.value(i)
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    }));
                }
            }
        }
    }

    #[tokio::test]
    async fn sequences_cover_the_range_once_across_splits() {
        let schema = schema(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("code", DataType::Utf8, true),
            Field::new("price", DataType::Decimal128(10, 2), true),
        ]);
        let options = parse(
            &[
                FAST,
                ("fields.id.kind", "sequence"),
                ("fields.id.start", "-5"),
                ("fields.id.end", "9994"),
                ("fields.code.kind", "sequence"),
                ("fields.code.start", "1"),
                ("fields.code.end", "20000"),
                ("fields.price.kind", "sequence"),
                ("fields.price.start", "0"),
                ("fields.price.end", "100000"),
            ],
            &schema,
        )
        .expect("valid");
        assert_eq!(options.total_rows(), Some(10_000), "the shortest sequence");
        let all = collect(options.splits(&schema, 4, None)).await;
        let mut ids = HashSet::new();
        for batch in all.iter().flatten() {
            let id = batch.column(0).as_primitive::<Int64Type>();
            let code = batch.column(1).as_string::<i32>();
            let price = batch.column(2).as_primitive::<Decimal128Type>();
            for i in 0..batch.num_rows() {
                assert!(ids.insert(id.value(i)), "duplicate {}", id.value(i));
                assert_eq!(code.value(i), (id.value(i) + 6).to_string());
                assert_eq!(price.value(i), i128::from(id.value(i) + 5) * 100);
            }
        }
        assert_eq!(ids, (-5..=9994).collect::<HashSet<i64>>());
    }

    #[tokio::test]
    async fn random_values_respect_min_max_and_null_rate() {
        let schema = schema(vec![
            Field::new("small", DataType::Int8, true),
            Field::new("x", DataType::Float64, true),
            Field::new("d", DataType::Decimal128(5, 2), true),
            Field::new("n", DataType::Int32, true),
            Field::new("b", DataType::Boolean, true),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
                true,
            ),
            Field::new("day", DataType::Date32, true),
        ]);
        let options = parse(
            &[
                FAST,
                ("number-of-rows", "20000"),
                ("seed", "42"),
                ("fields.small.min", "-3"),
                ("fields.small.max", "4"),
                ("fields.x.min", "-1.5"),
                ("fields.x.max", "2.5"),
                ("fields.d.min", "1.25"),
                ("fields.d.max", "1.30"),
                ("fields.n.null-rate", "0.25"),
                ("fields.ts.max-past", "1 h"),
            ],
            &schema,
        )
        .expect("valid");
        let before = (now_nanos() / 1_000_000) as i64;
        let all = collect(options.splits(&schema, 2, None)).await;
        let after = (now_nanos() / 1_000_000) as i64;
        let mut nulls = 0;
        let mut trues = 0;
        let mut small_seen = HashSet::new();
        for batch in all.iter().flatten() {
            let small = batch.column(0).as_primitive::<Int8Type>();
            let x = batch.column(1).as_primitive::<Float64Type>();
            let d = batch.column(2).as_primitive::<Decimal128Type>();
            let ts = batch.column(5).as_primitive::<TimestampMillisecondType>();
            let day = batch.column(6).as_primitive::<Date32Type>();
            nulls += batch.column(3).null_count();
            trues += batch.column(4).as_boolean().true_count();
            assert_eq!(batch.column(0).null_count(), 0);
            for i in 0..batch.num_rows() {
                assert!((-3..=4).contains(&small.value(i)));
                small_seen.insert(small.value(i));
                assert!((-1.5..=2.5).contains(&x.value(i)));
                assert!((125..=130).contains(&d.value(i)));
                assert!(ts.value(i) >= before - 3_600_000 && ts.value(i) <= after);
                assert_eq!(i64::from(day.value(i)), after.div_euclid(86_400_000));
            }
        }
        assert_eq!(small_seen.len(), 8, "every value of the range");
        assert!(
            (4_000..6_000).contains(&nulls),
            "null rate 0.25: {nulls} of 20000"
        );
        assert!((9_000..11_000).contains(&trues), "{trues}");
    }

    #[tokio::test]
    async fn a_seed_makes_random_values_reproducible() {
        let schema = schema(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        let pairs = [FAST, ("number-of-rows", "100"), ("seed", "7")];
        let first = collect(
            parse(&pairs, &schema)
                .expect("valid")
                .splits(&schema, 2, None),
        )
        .await;
        let second = collect(
            parse(&pairs, &schema)
                .expect("valid")
                .splits(&schema, 2, None),
        )
        .await;
        assert_eq!(first, second);
        let unseeded = [FAST, ("number-of-rows", "100")];
        let third = collect(
            parse(&unseeded, &schema)
                .expect("valid")
                .splits(&schema, 2, None),
        )
        .await;
        assert_ne!(first, third);
    }

    #[tokio::test]
    async fn a_seeded_split_resumed_at_its_position_gives_the_rows_it_would_have_given() {
        let schema = schema(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        let pairs = [FAST, ("number-of-rows", "10000"), ("seed", "11")];
        let options = parse(&pairs, &schema).expect("valid");
        let whole = collect(options.splits(&schema, 1, None)).await.remove(0);
        assert!(whole.len() >= 3, "several batches");
        let mut split = options.splits(&schema, 1, None).remove(0);
        let first = split.next_batch().await.expect("read").expect("a batch");
        assert_eq!(first, whole[0]);
        let position: BTreeMap<String, i64> = split.position().into_iter().collect();
        assert_eq!(position.get("datagen:0"), Some(&(first.num_rows() as i64)));
        let resumed = collect(options.splits(&schema, 1, Some(&position)))
            .await
            .remove(0);
        assert_eq!(resumed, whole[1..]);
    }

    #[tokio::test]
    async fn the_rate_is_divided_over_splits() {
        let schema = schema(vec![Field::new("a", DataType::Int64, true)]);
        // 200 rows/s over 2 splits: 100 rows/s each, in batches of 10 every 100 ms.
        let options = parse(
            &[("rows-per-second", "200"), ("number-of-rows", "60")],
            &schema,
        )
        .expect("valid");
        let mut splits = options.splits(&schema, 2, None);
        let started = std::time::Instant::now();
        let mut batches = Vec::new();
        while let Some(batch) = splits[0].next_batch().await.expect("batch") {
            batches.push(batch.num_rows());
        }
        let elapsed = started.elapsed();
        assert_eq!(batches, vec![10, 10, 10]);
        assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }

    #[tokio::test]
    async fn without_rows_or_sequences_the_source_is_unbounded() {
        let schema = schema(vec![Field::new("a", DataType::Int64, true)]);
        let options = parse(&[FAST], &schema).expect("valid");
        assert_eq!(options.total_rows(), None);
        let mut splits = options.splits(&schema, 1, None);
        for _ in 0..3 {
            assert!(splits[0].next_batch().await.expect("batch").is_some());
        }
    }

    #[test]
    fn option_errors() {
        let schema = schema(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("s", DataType::Utf8, true),
        ]);
        let message = |pairs: &[(&str, &str)]| match parse(pairs, &schema) {
            Ok(_) => panic!("expected an error for {pairs:?}"),
            Err(error) => error.to_string(),
        };
        assert!(
            message(&[("rows-per-sec", "5")])
                .starts_with("unsupported option 'rows-per-sec' for connector 'datagen'; supported options: connector, rows-per-second, number-of-rows, seed, fields.#.kind"),
        );
        assert_eq!(
            message(&[("fields.idd.kind", "sequence")]),
            "invalid value 'sequence' for option 'fields.idd.kind': the table has no column 'idd' (columns: id, ts, s)"
        );
        assert_eq!(
            message(&[("fields.id.kind", "sequence"), ("fields.id.start", "1")]),
            "connector 'datagen' requires option 'fields.id.end'"
        );
        assert_eq!(
            message(&[("fields.ts.kind", "sequence")]),
            "invalid value 'sequence' for option 'fields.ts.kind': sequences are generated for numeric and string columns; column 'ts' is TIMESTAMP(3)"
        );
        assert_eq!(
            message(&[("fields.id.start", "1")]),
            "invalid value '1' for option 'fields.id.start': applies to sequence columns ('fields.id.kind' = 'sequence')"
        );
        assert_eq!(
            message(&[("fields.id.length", "3")]),
            "invalid value '3' for option 'fields.id.length': does not apply to column 'id' of type INT"
        );
        assert_eq!(
            message(&[("fields.id.max", "3000000000")]),
            "invalid value '3000000000' for option 'fields.id.max': out of range for INT"
        );
        assert_eq!(
            message(&[("fields.id.null-rate", "0.5")]),
            "invalid value '0.5' for option 'fields.id.null-rate': column 'id' is NOT NULL"
        );
        assert!(message(&[("fields.s.null-rate", "1.5")]).contains("between 0 and 1"));
        assert!(message(&[("fields.s.kind", "cyclic")]).contains("'random', 'sequence'"));
        assert!(message(&[("fields.id.min", "5"), ("fields.id.max", "4")]).contains("below"));
        assert!(message(&[("rows-per-second", "0")]).contains("positive"));
        assert!(
            message(&[("fields.id.foo", "1")]).starts_with("unsupported option 'fields.id.foo'")
        );

        let unsupported = schema_with_list();
        let error = parse(&[], &unsupported).expect_err("list");
        assert_eq!(
            error.to_string(),
            "connector 'datagen' does not support column 'tags' of type List(Utf8)"
        );
    }

    fn schema_with_list() -> SchemaRef {
        schema(vec![Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        )])
    }
}
