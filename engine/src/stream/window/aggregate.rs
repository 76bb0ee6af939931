//! Window aggregation: rows grouped by window and key, aggregated with DataFusion's
//! accumulators, emitted once per window when the watermark passes its end.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::GroupsAccumulatorAdapter;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::PhysicalExpr;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;

use super::super::message::WATERMARK_MIN;
use super::super::{EventTime, Message, Operator, OperatorMetrics, StreamBatch, StreamError};
use super::WindowKind;
use super::layout::{Evaluated, Layout};
use super::state;
use crate::checkpoint::{StateEntries, StateWriter};

/// What a window aggregation computes.
#[derive(Debug, Clone)]
pub struct WindowAggregateSpec {
    /// Schema of the incoming rows.
    pub input_schema: SchemaRef,
    /// Index of the event-time column (a timestamp) in the input.
    pub time_column: usize,
    /// The windows rows fall into.
    pub window: WindowKind,
    /// Grouping keys besides the window, with their output names.
    pub keys: Vec<(Arc<dyn PhysicalExpr>, String)>,
    /// The aggregates, over the input rows.
    pub aggregates: Vec<Arc<AggregateFunctionExpr>>,
}

/// The open state of one window: its groups and their accumulators.
struct WindowState {
    groups: Option<Box<dyn GroupValues>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    group_ids: Vec<usize>,
}

/// The window-aggregate operator.
///
/// Output rows: `window_start`, `window_end`, `window_time`, the keys, then the aggregates.
/// Each window is emitted once, on the watermark that reaches `window_end - 1 ms`, and its
/// state is then freed. Windows with no rows emit nothing.
pub struct WindowAggregate {
    spec: WindowAggregateSpec,
    layout: Layout,
    /// Columns of each aggregate's intermediate state (the checkpointed layout).
    state_widths: Vec<usize>,
    /// Open windows by `(end, start)`: firing order.
    open: BTreeMap<(EventTime, EventTime), WindowState>,
    watermark: EventTime,
    /// Windows updated since the last checkpoint barrier (their state is written at the next).
    dirty: BTreeSet<(EventTime, EventTime)>,
    /// Windows fired since the last checkpoint barrier (their state is deleted at the next).
    fired: Vec<(EventTime, EventTime)>,
    /// The watermark changed since the last checkpoint barrier.
    watermark_dirty: bool,
    metrics: Arc<OperatorMetrics>,
}

impl std::fmt::Debug for WindowAggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowAggregate")
            .field("window", &self.spec.window)
            .field("open_windows", &self.open.len())
            .field("watermark", &self.watermark)
            .finish()
    }
}

impl WindowAggregate {
    /// Builds the operator; checks the window sizes and the event-time column.
    pub fn try_new(spec: WindowAggregateSpec) -> Result<Self, StreamError> {
        spec.window.validate()?;
        let layout = Layout::try_new(
            &spec.input_schema,
            spec.time_column,
            &spec.keys,
            &spec.aggregates,
        )?;
        let state_widths = state::state_widths(&spec.aggregates)?;
        Ok(WindowAggregate {
            state_widths,
            layout,
            spec,
            open: BTreeMap::new(),
            watermark: WATERMARK_MIN,
            dirty: BTreeSet::new(),
            fired: Vec::new(),
            watermark_dirty: false,
            metrics: Arc::default(),
        })
    }

    /// The schema of emitted rows.
    pub fn output_schema(&self) -> SchemaRef {
        self.layout.output_schema.clone()
    }

    /// Number of windows holding state.
    pub fn open_windows(&self) -> usize {
        self.open.len()
    }

    fn new_window(&self) -> Result<WindowState, StreamError> {
        let groups = if self.spec.keys.is_empty() {
            None
        } else {
            Some(new_group_values(
                self.layout.key_schema.clone(),
                &GroupOrdering::None,
            )?)
        };
        let mut accumulators = Vec::with_capacity(self.spec.aggregates.len());
        for aggregate in &self.spec.aggregates {
            let accumulator: Box<dyn GroupsAccumulator> =
                if aggregate.groups_accumulator_supported() {
                    aggregate.create_groups_accumulator()?
                } else {
                    let factory = aggregate.clone();
                    Box::new(GroupsAccumulatorAdapter::new(move || {
                        factory.create_accumulator()
                    }))
                };
            accumulators.push(accumulator);
        }
        Ok(WindowState {
            groups,
            accumulators,
            group_ids: Vec::new(),
        })
    }

    /// Adds rows (already evaluated key and aggregate-input columns) to one window.
    fn update_window(
        &mut self,
        window: (EventTime, EventTime),
        keys: &[ArrayRef],
        inputs: &[Vec<ArrayRef>],
        rows: usize,
    ) -> Result<(), StreamError> {
        if !self.open.contains_key(&window) {
            let state = self.new_window()?;
            self.open.insert(window, state);
        }
        self.dirty.insert(window);
        let Some(state) = self.open.get_mut(&window) else {
            return Err(StreamError::Internal("window state vanished".into()));
        };
        let groups = match state.groups.as_mut() {
            Some(groups) => {
                groups.intern(keys, &mut state.group_ids)?;
                groups.len()
            }
            None => {
                state.group_ids.clear();
                state.group_ids.resize(rows, 0);
                1
            }
        };
        for (accumulator, values) in state.accumulators.iter_mut().zip(inputs) {
            accumulator.update_batch(values, &state.group_ids, None, groups)?;
        }
        Ok(())
    }

    /// Emits and frees every window whose end - 1 ms is at or below `watermark`.
    fn fire(&mut self, watermark: EventTime, out: &mut Vec<Message>) -> Result<(), StreamError> {
        let emitted_under = self.watermark;
        while let Some(entry) = self.open.first_entry() {
            let (end, start) = *entry.key();
            if end - 1 > watermark {
                break;
            }
            let mut state = entry.remove();
            // Fired: its state leaves the store at the next barrier.
            self.dirty.remove(&(end, start));
            self.fired.push((end, start));
            let key_columns = match state.groups.as_mut() {
                Some(groups) => groups.emit(EmitTo::All)?,
                None => Vec::new(),
            };
            let mut aggregates = Vec::with_capacity(state.accumulators.len());
            for accumulator in &mut state.accumulators {
                aggregates.push(accumulator.evaluate(EmitTo::All)?);
            }
            let rows = aggregates
                .first()
                .map(|a| a.len())
                .or_else(|| key_columns.first().map(|k| k.len()))
                .unwrap_or(1);
            let batch = self
                .layout
                .output(start, end, rows, key_columns, aggregates)?;
            self.metrics.add_rows_out(batch.num_rows());
            out.push(Message::Batch(StreamBatch::uniform(batch, emitted_under)));
        }
        Ok(())
    }
}

impl Operator for WindowAggregate {
    fn on_batch(&mut self, batch: StreamBatch, _out: &mut Vec<Message>) -> Result<(), StreamError> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        self.metrics.add_rows_in(rows);
        let Evaluated {
            times,
            keys,
            inputs,
        } = self.layout.evaluate(&batch.data)?;

        // (window end, window start, row) for every window each row still counts in.
        let arrival = batch.arrival_watermark.values();
        let mut assigned: Vec<(EventTime, EventTime, u32)> = Vec::with_capacity(rows);
        let mut late = 0;
        for (row, (&time, &arrived)) in times.values().iter().zip(arrival.iter()).enumerate() {
            let fired_at = arrived.max(self.watermark);
            let before = assigned.len();
            self.spec.window.for_each_window(time, |start, end| {
                if end - 1 > fired_at {
                    assigned.push((end, start, row as u32));
                }
            });
            if assigned.len() == before {
                late += 1;
            }
        }
        self.metrics.add_late_rows(late);
        if assigned.is_empty() {
            return Ok(());
        }

        // Fast path: every row in the same single window.
        let (first_end, first_start, _) = assigned[0];
        if assigned.len() == rows
            && assigned
                .iter()
                .all(|&(end, start, _)| end == first_end && start == first_start)
        {
            return self.update_window((first_end, first_start), &keys, &inputs, rows);
        }

        // Otherwise, one run per window, rows in arrival order within it.
        assigned.sort_by_key(|&(end, start, _)| (end, start));
        let mut run_start = 0;
        while run_start < assigned.len() {
            let (end, start, _) = assigned[run_start];
            let run_end = assigned[run_start..]
                .iter()
                .position(|&(e, s, _)| e != end || s != start)
                .map_or(assigned.len(), |p| run_start + p);
            let indices =
                UInt32Array::from_iter_values(assigned[run_start..run_end].iter().map(|a| a.2));
            let taken_keys = keys
                .iter()
                .map(|k| take(k.as_ref(), &indices, None))
                .collect::<Result<Vec<_>, _>>()?;
            let taken_inputs = inputs
                .iter()
                .map(|values| {
                    values
                        .iter()
                        .map(|v| take(v.as_ref(), &indices, None))
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.update_window((end, start), &taken_keys, &taken_inputs, indices.len())?;
            run_start = run_end;
        }
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
        self.fire(watermark, out)?;
        self.watermark = watermark;
        self.watermark_dirty = true;
        out.push(Message::Watermark(watermark));
        Ok(())
    }

    fn on_end(&mut self, out: &mut Vec<Message>) -> Result<(), StreamError> {
        self.fire(EventTime::MAX, out)?;
        self.watermark = EventTime::MAX;
        Ok(())
    }

    fn checkpoint(&mut self, writer: &mut StateWriter) -> Result<(), StreamError> {
        for window in std::mem::take(&mut self.fired) {
            writer.delete(&state::window_key(window));
        }
        for window in std::mem::take(&mut self.dirty) {
            let value = self.snapshot_window(window)?;
            writer.put(&state::window_key(window), value);
        }
        if std::mem::take(&mut self.watermark_dirty) {
            writer.put(
                state::WATERMARK_KEY,
                state::encode_watermark(self.watermark),
            );
        }
        Ok(())
    }

    fn restore(&mut self, entries: &StateEntries) -> Result<(), StreamError> {
        for (key, value) in entries.iter() {
            if key == state::WATERMARK_KEY {
                self.watermark = state::decode_watermark(value)?;
                continue;
            }
            let window = state::parse_window_key(key)?;
            let (columns, rows) = state::decode_columns(value)?;
            let mut restored = self.new_window()?;
            self.load_window(&mut restored, &columns, rows)?;
            self.open.insert(window, restored);
        }
        Ok(())
    }

    fn metrics(&self) -> &Arc<OperatorMetrics> {
        &self.metrics
    }
}

impl WindowAggregate {
    /// The state of one open window as bytes: its group keys, then each aggregate's
    /// intermediate state. Taking the state empties the accumulators, so the window is rebuilt
    /// from what was taken (merging a state into fresh accumulators gives back the same state).
    fn snapshot_window(&mut self, window: (EventTime, EventTime)) -> Result<Vec<u8>, StreamError> {
        let Some(current) = self.open.get_mut(&window) else {
            return Err(StreamError::Internal("a dirty window has no state".into()));
        };
        let mut columns = match current.groups.as_mut() {
            Some(groups) => groups.emit(EmitTo::All)?,
            None => Vec::new(),
        };
        for accumulator in &mut current.accumulators {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        let rows = columns.first().map_or(1, |c| c.len());
        let mut rebuilt = self.new_window()?;
        self.load_window(&mut rebuilt, &columns, rows)?;
        self.open.insert(window, rebuilt);
        state::encode_columns(columns)
    }

    /// Fills a fresh window from state columns written by [`Self::snapshot_window`].
    fn load_window(
        &self,
        window: &mut WindowState,
        columns: &[ArrayRef],
        rows: usize,
    ) -> Result<(), StreamError> {
        let keys = self.spec.keys.len();
        let widths = &self.state_widths;
        state::check_width(columns, keys + widths.iter().sum::<usize>())?;
        let groups = match window.groups.as_mut() {
            Some(groups) => {
                groups.intern(&columns[..keys], &mut window.group_ids)?;
                groups.len()
            }
            None => {
                window.group_ids.clear();
                window.group_ids.resize(rows, 0);
                1
            }
        };
        let mut at = keys;
        for (accumulator, width) in window.accumulators.iter_mut().zip(widths) {
            accumulator.merge_batch(&columns[at..at + *width], &window.group_ids, groups)?;
            at += width;
        }
        Ok(())
    }
}
