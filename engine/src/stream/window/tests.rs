//! Window aggregation against hand-worked Flink semantics.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{
    DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMillisecondType,
};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::min_max::max_udaf;
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::Operator as BinaryOp;
use datafusion::physical_expr::aggregate::AggregateExprBuilder;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use datafusion::physical_plan::PhysicalExpr;
use datafusion::scalar::ScalarValue;

use super::{WindowAggregate, WindowAggregateSpec, WindowKind};
use crate::stream::watermark::WatermarkGenerator;
use crate::stream::{Message, Operator};

pub(crate) fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new("k", DataType::Utf8, true),
        Field::new("v", DataType::Int64, true),
    ]))
}

pub(crate) fn rows(rows: &[(i64, Option<&str>, i64)]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(TimestampMillisecondArray::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ],
    )
    .expect("batch")
}

/// COUNT(*) AS cnt, SUM(v) AS total, MAX(v) AS biggest.
pub(crate) fn aggregates() -> Vec<Arc<datafusion::physical_expr::aggregate::AggregateFunctionExpr>>
{
    let schema = schema();
    let v: Arc<dyn PhysicalExpr> = Arc::new(Column::new("v", 2));
    let one: Arc<dyn PhysicalExpr> = Arc::new(Literal::new(ScalarValue::Int64(Some(1))));
    let build = |udaf, arg: Arc<dyn PhysicalExpr>, name: &str| {
        Arc::new(
            AggregateExprBuilder::new(udaf, vec![arg])
                .schema(schema.clone())
                .alias(name)
                .build()
                .expect("aggregate"),
        )
    };
    vec![
        build(count_udaf(), one, "cnt"),
        build(sum_udaf(), v.clone(), "total"),
        build(max_udaf(), v, "biggest"),
    ]
}

/// COUNT(*), SUM(v), MAX(v) grouped by k.
pub(crate) fn spec(window: WindowKind) -> WindowAggregateSpec {
    WindowAggregateSpec {
        input_schema: schema(),
        time_column: 0,
        window,
        keys: vec![(Arc::new(Column::new("k", 1)), "k".to_string())],
        aggregates: aggregates(),
    }
}

/// `ts - INTERVAL 'delay' MILLISECOND`
pub(crate) fn watermark_expr(delay_ms: i64) -> Arc<dyn PhysicalExpr> {
    Arc::new(BinaryExpr::new(
        Arc::new(Column::new("ts", 0)),
        BinaryOp::Minus,
        Arc::new(Literal::new(ScalarValue::new_interval_mdn(
            0,
            0,
            delay_ms * 1_000_000,
        ))),
    ))
}

/// Runs `input` through a watermark generator and the operator in batches of `batch_size`,
/// sending the watermark after every batch, then ends the input. Returns the sorted result
/// lines `start end key count sum max` and the number of late rows.
pub(crate) fn run(
    window: WindowKind,
    delay_ms: i64,
    input: &[(i64, Option<&str>, i64)],
    batch_size: usize,
) -> (Vec<String>, u64) {
    let mut operator = WindowAggregate::try_new(spec(window)).expect("operator");
    let lines = drive(&mut operator, delay_ms, input, batch_size);
    assert_eq!(operator.open_windows(), 0, "all state freed at the end");
    (lines, operator.metrics().late_rows_dropped())
}

/// Feeds `input` to `operator` through a watermark generator (`ts - delay_ms`) in batches of
/// `batch_size`, sending the watermark after every batch, then ends the input. Returns the
/// sorted result lines (see [`result_lines`]).
pub(crate) fn drive(
    operator: &mut dyn Operator,
    delay_ms: i64,
    input: &[(i64, Option<&str>, i64)],
    batch_size: usize,
) -> Vec<String> {
    let mut generator = WatermarkGenerator::new(watermark_expr(delay_ms));
    let mut out = Vec::new();
    for chunk in input.chunks(batch_size) {
        let stamped = generator.stamp(rows(chunk)).expect("stamp");
        operator.on_batch(stamped, &mut out).expect("batch");
        settle(operator, &mut out);
        operator
            .on_watermark(generator.current(), &mut out)
            .expect("watermark");
        settle(operator, &mut out);
    }
    operator.on_end(&mut out).expect("end");
    settle(operator, &mut out);
    output_lines(out)
}

/// Takes all the output `operator` has pending, as the runtime does.
pub(crate) fn settle(operator: &mut dyn Operator, out: &mut Vec<Message>) {
    while operator.pending() {
        operator.resume(out).expect("resume");
    }
}

/// Sorted result lines (see [`result_lines`]) of the batches among `out`.
pub(crate) fn output_lines(out: Vec<Message>) -> Vec<String> {
    let batches: Vec<RecordBatch> = out
        .into_iter()
        .filter_map(|m| match m {
            Message::Batch(b) => Some(b.data),
            _ => None,
        })
        .collect();
    let Some(first) = batches.first() else {
        return Vec::new();
    };
    result_lines(&first.schema(), &batches)
}

/// `rows` rows over three keys with a wandering clock (steps of -4..8 ms); every
/// `behind_every`-th row is `behind_by` ms behind the clock, late for some windows.
pub(crate) fn wandering_input(
    rows: i64,
    behind_every: i64,
    behind_by: i64,
) -> Vec<(i64, Option<&'static str>, i64)> {
    let mut input = Vec::new();
    let mut time = 0i64;
    for i in 0..rows {
        time += (i * 7919) % 13 - 4;
        let row_time = if i % behind_every == 0 {
            time - behind_by
        } else {
            time
        };
        input.push((row_time, Some(["x", "y", "z"][(i % 3) as usize]), i));
    }
    input
}

/// Sorted result lines `start end key count sum max` of the operator built by [`spec`].
pub(crate) fn result_lines(
    schema: &datafusion::arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Vec<String> {
    let all = concat_batches(schema, batches).expect("concat");
    let mut lines = Vec::new();
    for row in 0..all.num_rows() {
        let ts = |c: usize| {
            all.column(c)
                .as_primitive::<TimestampMillisecondType>()
                .value(row)
        };
        let int = |c: usize| {
            let array = all.column(c);
            match array.data_type() {
                DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
                _ => format!("{:?}", array.slice(row, 1)),
            }
        };
        let key = all.column(3).as_string::<i32>();
        let key = if key.is_null(row) {
            "NULL"
        } else {
            key.value(row)
        };
        assert_eq!(ts(2), ts(1) - 1, "window_time is end - 1 ms");
        lines.push(format!(
            "{} {} {} {} {} {}",
            ts(0),
            ts(1),
            key,
            int(4),
            int(5),
            int(6)
        ));
    }
    lines.sort();
    lines
}

/// One window of each kind, small enough for hand-made inputs.
pub(crate) const WINDOW_KINDS: [WindowKind; 3] = [
    TUMBLE_10,
    WindowKind::Hop {
        slide: 5,
        size: 15,
        offset: 0,
    },
    WindowKind::Cumulate {
        step: 4,
        max_size: 12,
        offset: 0,
    },
];

const TUMBLE_10: WindowKind = WindowKind::Tumble {
    size: 10,
    offset: 0,
};

#[test]
fn tumble_groups_by_window_and_key_with_out_of_order_rows() {
    let input = [
        (1, Some("a"), 1),
        (12, Some("b"), 5),
        (3, Some("a"), 2),  // out of order, within the 5 ms delay: counted
        (9, Some("b"), 7),  // window end exactly 10: row at 9 belongs to [0, 10)
        (10, Some("a"), 4), // exactly on the boundary: [10, 20)
        (15, None, 3),      // NULL key is its own group
    ];
    let (lines, late) = run(TUMBLE_10, 5, &input, 100);
    assert_eq!(
        lines,
        vec![
            "0 10 a 2 3 2",
            "0 10 b 1 7 7",
            "10 20 NULL 1 3 3",
            "10 20 a 1 4 4",
            "10 20 b 1 5 5",
        ]
    );
    assert_eq!(late, 0);
}

#[test]
fn late_rows_are_dropped_and_counted_per_row() {
    // Delay 0: after the row at 25 the watermark is 25, so [0, 10) has fired for the row at 3,
    // even though all three rows arrive in one batch.
    let input = [
        (5, Some("a"), 1),
        (25, Some("a"), 1),
        (3, Some("a"), 1),
        (26, Some("a"), 1),
    ];
    let (lines, late) = run(TUMBLE_10, 0, &input, 100);
    assert_eq!(lines, vec!["0 10 a 1 1 1", "20 30 a 2 2 1"]);
    assert_eq!(late, 1);
}

#[test]
fn a_window_fires_when_the_watermark_reaches_end_minus_one() {
    // The row at 9 moves the watermark to 9 = end - 1 of [0, 10): the window fires, and the
    // next row at 9 is late. A row at 8 before that moment is not.
    let input = [(8, Some("a"), 1), (9, Some("a"), 1), (9, Some("a"), 1)];
    let (lines, late) = run(TUMBLE_10, 0, &input, 1);
    assert_eq!(lines, vec!["0 10 a 2 2 1"]);
    assert_eq!(late, 1);
}

#[test]
fn results_do_not_depend_on_batch_size() {
    let input = wandering_input(500, 17, 25);
    for window in WINDOW_KINDS {
        let (expected, expected_late) = run(window, 3, &input, 4096);
        assert!(expected_late > 0, "the input has late rows");
        for batch_size in [1, 7] {
            let (lines, late) = run(window, 3, &input, batch_size);
            assert_eq!(lines, expected, "{window:?} batch size {batch_size}");
            assert_eq!(late, expected_late);
        }
    }
}

#[test]
fn hop_counts_a_late_row_in_windows_still_open() {
    let hop = WindowKind::Hop {
        slide: 5,
        size: 10,
        offset: 0,
    };
    // After the row at 12 the watermark is 12: [0, 10) has fired, [5, 15) has not. The row at 7
    // belongs to both: it counts in [5, 15) only and is not dropped. The row at 2 belongs to
    // [-5, 5) and [0, 10), both fired: dropped.
    let input = [
        (6, Some("a"), 1),
        (12, Some("a"), 10),
        (7, Some("a"), 100),
        (2, Some("a"), 1000),
    ];
    let (lines, late) = run(hop, 0, &input, 100);
    assert_eq!(
        lines,
        vec!["0 10 a 1 1 1", "10 20 a 1 10 10", "5 15 a 3 111 100"]
    );
    assert_eq!(late, 1);
}

#[test]
fn cumulate_emits_each_growing_window() {
    let cumulate = WindowKind::Cumulate {
        step: 5,
        max_size: 15,
        offset: 0,
    };
    let input = [(1, Some("a"), 1), (7, Some("a"), 2), (14, Some("a"), 4)];
    let (lines, late) = run(cumulate, 0, &input, 1);
    assert_eq!(lines, vec!["0 10 a 2 3 2", "0 15 a 3 7 4", "0 5 a 1 1 1"]);
    assert_eq!(late, 0);
}

#[test]
fn null_event_time_is_an_error_naming_the_column() {
    let mut operator = WindowAggregate::try_new(spec(TUMBLE_10)).expect("operator");
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(TimestampMillisecondArray::from(vec![None, Some(1)])),
            Arc::new(StringArray::from(vec!["a", "b"])),
            Arc::new(Int64Array::from(vec![1, 2])),
        ],
    )
    .expect("batch");
    let stamped = crate::stream::StreamBatch::uniform(batch, i64::MIN);
    let error = operator
        .on_batch(stamped, &mut Vec::new())
        .expect_err("NULL time");
    assert!(error.to_string().contains("\"ts\" is NULL"), "{error}");
}
