//! Watermarks at a source: Flink's `WATERMARK FOR col AS expr`.
//!
//! The watermark of a source split is the largest value of the watermark expression seen so far
//! (for `col - INTERVAL '5' SECOND`: the largest event time minus five seconds). Each row is
//! stamped with the watermark in effect when it arrived, before its own value is counted, so a
//! later operator can decide exactly whether the row came too late.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use datafusion::physical_plan::PhysicalExpr;
use datafusion::scalar::ScalarValue;

use super::message::WATERMARK_MIN;
use super::{EventTime, StreamBatch, StreamError};

/// The wall clock in milliseconds since the epoch: processing time (`PROCTIME()`) and the
/// watermark of processing-time windows read the same clock.
pub fn wall_clock_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Converts a timestamp array of any unit to event-time milliseconds (Flink's precision for
/// time attributes); sub-millisecond digits are truncated.
pub fn event_time_millis(array: &dyn Array) -> Result<Int64Array, StreamError> {
    let millis = match array.data_type() {
        DataType::Timestamp(TimeUnit::Millisecond, _) => array.slice(0, array.len()),
        DataType::Timestamp(_, tz) => cast(
            array,
            &DataType::Timestamp(TimeUnit::Millisecond, tz.clone()),
        )?,
        other => {
            return Err(StreamError::Internal(format!(
                "event time must be a timestamp, got {other}"
            )));
        }
    };
    let millis = millis.as_primitive::<TimestampMillisecondType>();
    Ok(millis.reinterpret_cast::<datafusion::arrow::datatypes::Int64Type>())
}

/// Generates the watermark of one source split.
#[derive(Debug)]
pub struct WatermarkGenerator {
    expr: Arc<dyn PhysicalExpr>,
    /// `column - INTERVAL '<fixed>'` (or the column alone): the column and the delay in
    /// milliseconds, computed on the column's integers instead of by calendar arithmetic.
    delayed_column: Option<(usize, i64)>,
    current: EventTime,
}

/// The column and delay of a watermark expression of the form `column - INTERVAL '...'`
/// whose interval is a fixed number of milliseconds (no months), or `column` alone.
fn delayed_column(expr: &Arc<dyn PhysicalExpr>) -> Option<(usize, i64)> {
    if let Some(column) = expr.downcast_ref::<Column>() {
        return Some((column.index(), 0));
    }
    let binary = expr.downcast_ref::<BinaryExpr>()?;
    if *binary.op() != Operator::Minus {
        return None;
    }
    let column = binary.left().downcast_ref::<Column>()?;
    let delay = match binary.right().downcast_ref::<Literal>()?.value() {
        ScalarValue::IntervalDayTime(Some(v)) => {
            i64::from(v.days) * 86_400_000 + i64::from(v.milliseconds)
        }
        ScalarValue::IntervalMonthDayNano(Some(v))
            if v.months == 0 && v.nanoseconds % 1_000_000 == 0 =>
        {
            i64::from(v.days) * 86_400_000 + v.nanoseconds / 1_000_000
        }
        _ => return None,
    };
    Some((column.index(), delay))
}

impl WatermarkGenerator {
    /// A generator evaluating `expr` (a timestamp-valued expression over the source's rows).
    pub fn new(expr: Arc<dyn PhysicalExpr>) -> Self {
        WatermarkGenerator {
            delayed_column: delayed_column(&expr),
            expr,
            current: WATERMARK_MIN,
        }
    }

    /// The watermark expression's values for `data`, in milliseconds.
    fn values(&self, data: &RecordBatch) -> Result<Int64Array, StreamError> {
        if let Some((index, delay)) = self.delayed_column
            && let Some(column) = data.columns().get(index)
            && matches!(column.data_type(), DataType::Timestamp(_, _))
        {
            let millis = event_time_millis(column.as_ref())?;
            return Ok(millis.unary(|v: i64| v.saturating_sub(delay)));
        }
        let values = self.expr.evaluate(data)?.into_array(data.num_rows())?;
        event_time_millis(values.as_ref())
    }

    /// The split's current watermark.
    pub fn current(&self) -> EventTime {
        self.current
    }

    /// Resumes from a checkpointed watermark: the watermark never goes below `watermark`.
    pub fn restore(&mut self, watermark: EventTime) {
        self.current = self.current.max(watermark);
    }

    /// Stamps `data` with per-row arrival watermarks and advances the watermark past it.
    /// Rows whose watermark expression is NULL do not advance it.
    pub fn stamp(&mut self, data: RecordBatch) -> Result<StreamBatch, StreamError> {
        let values = self.values(&data)?;
        let mut arrival = Vec::with_capacity(values.len());
        let mut current = self.current;
        if values.null_count() == 0 {
            for &value in values.values() {
                arrival.push(current);
                current = current.max(value);
            }
        } else {
            for (i, &value) in values.values().iter().enumerate() {
                arrival.push(current);
                if values.is_valid(i) {
                    current = current.max(value);
                }
            }
        }
        self.current = current;
        StreamBatch::new(data, Int64Array::from(arrival))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::TimestampMillisecondArray;
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::logical_expr::Operator as BinaryOp;
    use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
    use datafusion::scalar::ScalarValue;

    fn batch(times: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        )]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(TimestampMillisecondArray::from(times.to_vec()))],
        )
        .expect("batch")
    }

    /// `ts - INTERVAL '5' SECOND`
    fn delayed_by_5s() -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(
            Arc::new(Column::new("ts", 0)),
            BinaryOp::Minus,
            Arc::new(Literal::new(ScalarValue::new_interval_mdn(
                0,
                0,
                5_000_000_000,
            ))),
        ))
    }

    #[test]
    fn rows_carry_the_watermark_before_them() {
        let mut generator = WatermarkGenerator::new(delayed_by_5s());
        let stamped = generator
            .stamp(batch(&[10_000, 20_000, 12_000]))
            .expect("stamp");
        assert_eq!(
            stamped.arrival_watermark.values().to_vec(),
            vec![WATERMARK_MIN, 5_000, 15_000]
        );
        assert_eq!(generator.current(), 15_000);
        // The watermark never goes back, also across batches.
        let stamped = generator.stamp(batch(&[1_000])).expect("stamp");
        assert_eq!(stamped.arrival_watermark.values().to_vec(), vec![15_000]);
        assert_eq!(generator.current(), 15_000);
    }

    #[test]
    fn stamps_do_not_depend_on_batch_boundaries() {
        let times = [3_000, 9_000, 1_000, 17_000, 16_000, 30_000, 2_000];
        let mut whole = WatermarkGenerator::new(delayed_by_5s());
        let expected = whole.stamp(batch(&times)).expect("stamp").arrival_watermark;
        let mut split = WatermarkGenerator::new(delayed_by_5s());
        let mut got: Vec<i64> = Vec::new();
        for chunk in times.chunks(2) {
            got.extend(
                split
                    .stamp(batch(chunk))
                    .expect("stamp")
                    .arrival_watermark
                    .values()
                    .iter(),
            );
        }
        assert_eq!(got, expected.values().to_vec());
    }

    #[test]
    fn fixed_delays_are_computed_on_the_integers_with_the_expressions_result() {
        let day_and_quarter = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("ts", 0)),
            BinaryOp::Minus,
            Arc::new(Literal::new(ScalarValue::IntervalDayTime(Some(
                datafusion::arrow::datatypes::IntervalDayTime::new(1, 250),
            )))),
        )) as Arc<dyn PhysicalExpr>;
        let column = Arc::new(Column::new("ts", 0)) as Arc<dyn PhysicalExpr>;
        let schema = Arc::new(Schema::new(vec![Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        )]));
        let data = RecordBatch::try_new(
            schema,
            vec![Arc::new(TimestampMillisecondArray::from(vec![
                Some(1_700_000_000_123),
                None,
                Some(86_400_000),
                Some(-5),
            ]))],
        )
        .expect("batch");
        for (expr, delay) in [
            (delayed_by_5s(), 5_000),
            (day_and_quarter, 86_400_250),
            (column, 0),
        ] {
            let generator = WatermarkGenerator::new(expr.clone());
            assert_eq!(generator.delayed_column, Some((0, delay)), "{expr}");
            let fast = generator.values(&data).expect("fast");
            let evaluated = expr
                .evaluate(&data)
                .and_then(|v| v.into_array(data.num_rows()))
                .expect("evaluates");
            assert_eq!(
                fast,
                event_time_millis(evaluated.as_ref()).expect("millis"),
                "{expr}"
            );
        }
        // Months are not a fixed number of milliseconds: evaluated as written.
        let month = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("ts", 0)),
            BinaryOp::Minus,
            Arc::new(Literal::new(ScalarValue::new_interval_mdn(1, 0, 0))),
        ));
        assert_eq!(WatermarkGenerator::new(month).delayed_column, None);
    }
}
