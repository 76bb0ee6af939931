//! Session windows (Flink's `SESSION(TABLE t, DESCRIPTOR(ts), gap)`): per key, rows closer than
//! `gap` form one session `[first, last + gap)`; sessions that overlap or touch merge.
//!
//! A session fires once, when the watermark reaches `end - 1 ms`, and is never reopened: a
//! later row that would have touched it starts a new session. As for the other windows, each
//! row is judged against the watermark at its arrival, so results do not depend on batching.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::PhysicalExpr;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;
use datafusion::scalar::ScalarValue;

use super::super::message::WATERMARK_MIN;
use super::super::{EventTime, Message, Operator, OperatorMetrics, StreamBatch, StreamError};
use super::layout::{Evaluated, Layout};
use super::state;
use crate::checkpoint::{StateEntries, StateWriter};

/// What a session-window aggregation computes.
#[derive(Debug, Clone)]
pub struct SessionAggregateSpec {
    /// Schema of the incoming rows.
    pub input_schema: SchemaRef,
    /// Index of the event-time column (a timestamp) in the input.
    pub time_column: usize,
    /// Inactivity gap in milliseconds.
    pub gap: i64,
    /// Grouping keys (sessions are per key), with their output names.
    pub keys: Vec<(Arc<dyn PhysicalExpr>, String)>,
    /// The aggregates.
    pub aggregates: Vec<Arc<AggregateFunctionExpr>>,
}

struct Session {
    start: EventTime,
    end: EventTime,
    accumulators: Vec<Box<dyn Accumulator>>,
    /// Rows of the current batch not yet fed to the accumulators.
    pending: Vec<u32>,
}

/// The session-window aggregate operator. Output rows: `window_start`, `window_end`,
/// `window_time`, the keys, then the aggregates.
pub struct SessionAggregate {
    spec: SessionAggregateSpec,
    layout: Layout,
    /// Columns of each aggregate's intermediate state (the checkpointed layout).
    state_widths: Vec<usize>,
    groups: Option<Box<dyn GroupValues>>,
    /// Key values of each group id, for output.
    key_values: Vec<Vec<ScalarValue>>,
    /// Open sessions of each group id, sorted by start, pairwise apart by more than touching.
    sessions: Vec<Vec<Session>>,
    /// `(end, group, start)` of every open session: firing order.
    by_end: BTreeSet<(EventTime, usize, EventTime)>,
    watermark: EventTime,
    group_ids: Vec<usize>,
    /// Sessions or the watermark changed since the last checkpoint barrier.
    dirty: bool,
    metrics: Arc<OperatorMetrics>,
}

impl std::fmt::Debug for SessionAggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionAggregate")
            .field("gap", &self.spec.gap)
            .field("open_sessions", &self.by_end.len())
            .finish()
    }
}

impl SessionAggregate {
    /// Builds the operator; the gap must be positive and the time column a timestamp.
    pub fn try_new(spec: SessionAggregateSpec) -> Result<Self, StreamError> {
        if spec.gap <= 0 {
            return Err(StreamError::InvalidWindow(format!(
                "the session gap must be positive, got {} ms",
                spec.gap
            )));
        }
        let layout = Layout::try_new(
            &spec.input_schema,
            spec.time_column,
            &spec.keys,
            &spec.aggregates,
        )?;
        let groups = if spec.keys.is_empty() {
            None
        } else {
            Some(new_group_values(
                layout.key_schema.clone(),
                &GroupOrdering::None,
            )?)
        };
        let state_widths = state::state_widths(&spec.aggregates)?;
        Ok(SessionAggregate {
            state_widths,
            layout,
            groups,
            key_values: Vec::new(),
            sessions: Vec::new(),
            by_end: BTreeSet::new(),
            watermark: WATERMARK_MIN,
            group_ids: Vec::new(),
            dirty: false,
            spec,
            metrics: Arc::default(),
        })
    }

    /// The schema of emitted rows.
    pub fn output_schema(&self) -> SchemaRef {
        self.layout.output_schema.clone()
    }

    /// Number of sessions holding state.
    pub fn open_sessions(&self) -> usize {
        self.by_end.len()
    }

    fn new_session(&self, start: EventTime, end: EventTime) -> Result<Session, StreamError> {
        let accumulators = self
            .spec
            .aggregates
            .iter()
            .map(|a| a.create_accumulator())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Session {
            start,
            end,
            accumulators,
            pending: Vec::new(),
        })
    }

    /// Feeds a session's pending rows of the current batch to its accumulators.
    fn flush(session: &mut Session, batch: &Evaluated) -> Result<(), StreamError> {
        if session.pending.is_empty() {
            return Ok(());
        }
        let indices = UInt32Array::from(std::mem::take(&mut session.pending));
        for (accumulator, values) in session.accumulators.iter_mut().zip(&batch.inputs) {
            let taken = values
                .iter()
                .map(|v| take(v.as_ref(), &indices, None))
                .collect::<Result<Vec<_>, _>>()?;
            accumulator.update_batch(&taken)?;
        }
        Ok(())
    }

    /// Emits and removes the sessions of `group` whose end - 1 is at or below `watermark`.
    fn fire_group(
        &mut self,
        group: usize,
        watermark: EventTime,
        batch: Option<&Evaluated>,
        emitted_under: EventTime,
        out: &mut Vec<Message>,
    ) -> Result<(), StreamError> {
        let Some(sessions) = self.sessions.get_mut(group) else {
            return Ok(());
        };
        let mut fired = Vec::new();
        let mut index = 0;
        while index < sessions.len() {
            if sessions[index].end - 1 > watermark {
                index += 1;
            } else {
                fired.push(sessions.remove(index));
            }
        }
        for mut session in fired {
            self.by_end.remove(&(session.end, group, session.start));
            if let Some(batch) = batch {
                Self::flush(&mut session, batch)?;
            }
            let row = self.emit(group, &mut session)?;
            self.metrics.add_rows_out(row.num_rows());
            out.push(Message::Batch(StreamBatch::uniform(row, emitted_under)));
        }
        Ok(())
    }

    fn emit(&self, group: usize, session: &mut Session) -> Result<RecordBatch, StreamError> {
        let mut keys = Vec::new();
        if let Some(values) = self.key_values.get(group) {
            for key in values {
                keys.push(key.to_array()?);
            }
        }
        let mut aggregates = Vec::with_capacity(session.accumulators.len());
        for accumulator in &mut session.accumulators {
            aggregates.push(accumulator.evaluate()?.to_array()?);
        }
        self.layout
            .output(session.start, session.end, 1, keys, aggregates)
    }

    /// Indices of `group`'s open sessions that overlap or touch `[start, end)`: a contiguous
    /// range, as sessions are sorted by start and apart from each other.
    fn touching(&self, group: usize, start: EventTime, end: EventTime) -> std::ops::Range<usize> {
        let sessions = &self.sessions[group];
        sessions.partition_point(|s| s.end < start)..sessions.partition_point(|s| s.start <= end)
    }

    /// Adds one row (index `row` of the batch) at `time` to `group`'s sessions.
    fn add_row(&mut self, group: usize, row: u32, time: EventTime) -> Result<(), StreamError> {
        let gap = self.spec.gap;
        let (start, end) = (time, time.saturating_add(gap));
        let std::ops::Range {
            start: first,
            end: last,
        } = self.touching(group, start, end);
        if first >= last {
            let mut session = self.new_session(start, end)?;
            session.pending.push(row);
            self.by_end.insert((end, group, start));
            self.sessions[group].insert(first, session);
            return Ok(());
        }
        // Merge the others into the first one.
        let absorbed: Vec<Session> = self.sessions[group].drain(first + 1..last).collect();
        let mut merged_start = start;
        let mut merged_end = end;
        let target = &mut self.sessions[group][first];
        self.by_end.remove(&(target.end, group, target.start));
        for mut other in absorbed {
            self.by_end.remove(&(other.end, group, other.start));
            merged_start = merged_start.min(other.start);
            merged_end = merged_end.max(other.end);
            for (into, from) in target.accumulators.iter_mut().zip(&mut other.accumulators) {
                let state = from
                    .state()?
                    .iter()
                    .map(|s| s.to_array())
                    .collect::<Result<Vec<_>, _>>()?;
                into.merge_batch(&state)?;
            }
            target.pending.append(&mut other.pending);
        }
        target.start = target.start.min(merged_start);
        target.end = target.end.max(merged_end);
        target.pending.push(row);
        self.by_end.insert((target.end, group, target.start));
        Ok(())
    }
}

impl Operator for SessionAggregate {
    fn on_batch(&mut self, batch: StreamBatch, out: &mut Vec<Message>) -> Result<(), StreamError> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        self.metrics.add_rows_in(rows);
        self.dirty = true;
        let evaluated = self.layout.evaluate(&batch.data)?;
        let mut group_ids = std::mem::take(&mut self.group_ids);
        match self.groups.as_mut() {
            Some(groups) => groups.intern(&evaluated.keys, &mut group_ids)?,
            None => {
                group_ids.clear();
                group_ids.resize(rows, 0);
            }
        }
        let known = self.sessions.len();
        let total = self.groups.as_ref().map_or(1, |g| g.len());
        if total > known {
            self.sessions.resize_with(total, Vec::new);
            self.key_values.resize_with(total, Vec::new);
            let mut first_row = vec![None; total - known];
            for (row, &group) in group_ids.iter().enumerate() {
                if group >= known && first_row[group - known].is_none() {
                    first_row[group - known] = Some(row);
                }
            }
            for (offset, row) in first_row.into_iter().enumerate() {
                if let Some(row) = row {
                    let mut values = Vec::with_capacity(evaluated.keys.len());
                    for key in &evaluated.keys {
                        values.push(ScalarValue::try_from_array(key, row)?);
                    }
                    self.key_values[known + offset] = values;
                }
            }
        }

        let arrival = batch.arrival_watermark.values();
        let emitted_under = self.watermark;
        let mut late = 0;
        let mut touched = Vec::new();
        for (row, (&time, &arrived)) in evaluated
            .times
            .values()
            .iter()
            .zip(arrival.iter())
            .enumerate()
        {
            let group = group_ids[row];
            let fired_at = arrived.max(self.watermark);
            // Sessions of this key that had fired by the time the row arrived are emitted now,
            // so the row cannot reopen them.
            self.fire_group(group, fired_at, Some(&evaluated), emitted_under, out)?;
            let end = time.saturating_add(self.spec.gap);
            let joins_open = !self.touching(group, time, end).is_empty();
            if !joins_open && end - 1 <= fired_at {
                late += 1;
                continue;
            }
            self.add_row(group, row as u32, time)?;
            touched.push(group);
        }
        self.metrics.add_late_rows(late);
        touched.sort_unstable();
        touched.dedup();
        for group in touched {
            for session in &mut self.sessions[group] {
                Self::flush(session, &evaluated)?;
            }
        }
        self.group_ids = group_ids;
        Ok(())
    }

    fn on_watermark(
        &mut self,
        watermark: EventTime,
        out: &mut Vec<Message>,
    ) -> Result<(), StreamError> {
        if watermark <= self.watermark {
            return Ok(());
        }
        self.dirty = true;
        let emitted_under = self.watermark;
        let due: Vec<usize> = self
            .by_end
            .iter()
            .take_while(|(end, _, _)| end - 1 <= watermark)
            .map(|(_, group, _)| *group)
            .collect();
        let mut groups = due;
        groups.dedup();
        for group in groups {
            self.fire_group(group, watermark, None, emitted_under, out)?;
        }
        self.watermark = watermark;
        out.push(Message::Watermark(watermark));
        Ok(())
    }

    fn on_end(&mut self, out: &mut Vec<Message>) -> Result<(), StreamError> {
        let emitted_under = self.watermark;
        for group in 0..self.sessions.len() {
            self.fire_group(group, EventTime::MAX, None, emitted_under, out)?;
        }
        self.watermark = EventTime::MAX;
        Ok(())
    }

    fn checkpoint(&mut self, writer: &mut StateWriter) -> Result<(), StreamError> {
        if !std::mem::take(&mut self.dirty) {
            return Ok(());
        }
        writer.put(
            state::WATERMARK_KEY,
            state::encode_watermark(self.watermark),
        );
        match self.snapshot()? {
            Some(value) => writer.put(state::ALL_KEY, value),
            None => writer.delete(state::ALL_KEY),
        }
        Ok(())
    }

    fn restore(&mut self, entries: &StateEntries) -> Result<(), StreamError> {
        for (key, value) in entries.iter() {
            if key == state::WATERMARK_KEY {
                self.watermark = state::decode_watermark(value)?;
            } else if key == state::ALL_KEY {
                self.load(value)?;
            }
        }
        Ok(())
    }

    fn metrics(&self) -> &Arc<OperatorMetrics> {
        &self.metrics
    }
}

impl SessionAggregate {
    /// Every open session as one batch: key columns, start, end, then each aggregate's
    /// intermediate state. `None` without open sessions. Taking an accumulator's state may
    /// consume it, so each is rebuilt from the state taken.
    fn snapshot(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        if self.by_end.is_empty() {
            return Ok(None);
        }
        let keys = self.spec.keys.len();
        let mut key_columns: Vec<Vec<ScalarValue>> = vec![Vec::new(); keys];
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut states: Vec<Vec<ScalarValue>> = Vec::new();
        let mut fresh = Vec::new();
        for (group, sessions) in self.sessions.iter_mut().enumerate() {
            for session in sessions.iter_mut() {
                if let Some(values) = self.key_values.get(group) {
                    for (column, value) in key_columns.iter_mut().zip(values) {
                        column.push(value.clone());
                    }
                }
                starts.push(session.start);
                ends.push(session.end);
                let mut at = 0;
                for accumulator in session.accumulators.iter_mut() {
                    let values = accumulator.state()?;
                    for value in &values {
                        if states.len() <= at {
                            states.push(Vec::new());
                        }
                        states[at].push(value.clone());
                        at += 1;
                    }
                    fresh.push(values);
                }
            }
        }
        // Rebuild the accumulators from the states just taken, in the same order.
        let mut taken = fresh.into_iter();
        for sessions in self.sessions.iter_mut() {
            for session in sessions.iter_mut() {
                for (index, accumulator) in session.accumulators.iter_mut().enumerate() {
                    let values = taken
                        .next()
                        .ok_or_else(|| StreamError::Internal("session state count".into()))?;
                    let mut rebuilt = self.spec.aggregates[index].create_accumulator()?;
                    let arrays = values
                        .iter()
                        .map(|v| v.to_array())
                        .collect::<Result<Vec<_>, _>>()?;
                    rebuilt.merge_batch(&arrays)?;
                    *accumulator = rebuilt;
                }
            }
        }
        let mut columns = Vec::with_capacity(keys + 2 + states.len());
        for column in key_columns {
            columns.push(ScalarValue::iter_to_array(column)?);
        }
        columns.push(
            std::sync::Arc::new(datafusion::arrow::array::Int64Array::from(starts))
                as datafusion::arrow::array::ArrayRef,
        );
        columns.push(std::sync::Arc::new(
            datafusion::arrow::array::Int64Array::from(ends),
        ));
        for column in states {
            columns.push(ScalarValue::iter_to_array(column)?);
        }
        state::encode_columns(columns).map(Some)
    }

    /// Reloads the sessions written by [`Self::snapshot`].
    fn load(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        use datafusion::arrow::array::AsArray;
        use datafusion::arrow::datatypes::Int64Type;
        let (columns, rows) = state::decode_columns(bytes)?;
        let keys = self.spec.keys.len();
        let widths = &self.state_widths;
        state::check_width(&columns, keys + 2 + widths.iter().sum::<usize>())?;
        let mut group_ids = Vec::new();
        match self.groups.as_mut() {
            Some(groups) => groups.intern(&columns[..keys], &mut group_ids)?,
            None => group_ids.resize(rows, 0),
        }
        let total = self.groups.as_ref().map_or(1, |g| g.len());
        self.sessions.resize_with(total, Vec::new);
        self.key_values.resize_with(total, Vec::new);
        let starts = columns[keys].as_primitive::<Int64Type>();
        let ends = columns[keys + 1].as_primitive::<Int64Type>();
        for (row, &group) in group_ids.iter().enumerate() {
            if self.key_values[group].is_empty() && keys > 0 {
                self.key_values[group] = columns[..keys]
                    .iter()
                    .map(|c| ScalarValue::try_from_array(c, row))
                    .collect::<Result<Vec<_>, _>>()?;
            }
            let (start, end) = (starts.value(row), ends.value(row));
            let mut session = self.new_session(start, end)?;
            let mut at = keys + 2;
            for (accumulator, width) in session.accumulators.iter_mut().zip(widths) {
                let slice: Vec<_> = columns[at..at + width]
                    .iter()
                    .map(|c| c.slice(row, 1))
                    .collect();
                accumulator.merge_batch(&slice)?;
                at += width;
            }
            self.by_end.insert((end, group, start));
            self.sessions[group].push(session);
        }
        Ok(())
    }
}
