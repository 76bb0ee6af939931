//! Window aggregation: rows grouped by window and key, aggregated with DataFusion's
//! accumulators, emitted once per window when the watermark passes its end.
//!
//! In a checkpointed job the operator keeps its state in its own key space ([`Runs`]): memory
//! holds only each open window's changes since the last barrier (or since the server's memory
//! budget last ran out), checkpoints write only those, and recovery reloads nothing but a few
//! keys. Without a key space (a job that does not checkpoint) everything stays in memory.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::PhysicalExpr;

use super::super::message::WATERMARK_MIN;
use super::super::{EventTime, Message, Operator, OperatorMetrics, StreamBatch, StreamError};
use super::WindowKind;
use super::groups::{GroupTable, Tables};
use super::layout::{Evaluated, Layout};
use super::runs::{BUCKETS, Runs};
use super::state;
use crate::checkpoint::{StateEntries, StateSpace, StateWriter};

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

type Window = (EventTime, EventTime);

/// The window-aggregate operator.
///
/// Output rows: `window_start`, `window_end`, `window_time`, the keys, then the aggregates.
/// Each window is emitted once, on the watermark that reaches `window_end - 1 ms`, and its
/// state is then freed. Windows with no rows emit nothing.
pub struct WindowAggregate {
    spec: WindowAggregateSpec,
    layout: Layout,
    tables: Tables,
    /// Open windows by `(end, start)` (firing order), with the changes held in memory (`None`:
    /// everything is in the store).
    open: BTreeMap<Window, Option<GroupTable>>,
    watermark: EventTime,
    /// The state in the store, in a checkpointed job.
    runs: Option<Runs>,
    /// Bytes of the in-memory tables, as last told to the memory budget.
    held: usize,
    /// Windows fired since the last checkpoint barrier (their state is deleted at the next).
    fired: Vec<Window>,
    /// Fired windows whose results are not all given yet, in firing order.
    firing: VecDeque<Firing>,
    /// The watermark to forward once `firing` is empty.
    pending_watermark: Option<EventTime>,
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
        let tables = Tables::try_new(
            layout.key_schema.clone(),
            spec.keys.len(),
            spec.aggregates.clone(),
        )?;
        Ok(WindowAggregate {
            tables,
            layout,
            spec,
            open: BTreeMap::new(),
            watermark: WATERMARK_MIN,
            runs: None,
            held: 0,
            fired: Vec::new(),
            firing: VecDeque::new(),
            pending_watermark: None,
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

    /// Bytes of state held in memory.
    pub fn memory(&self) -> usize {
        self.open.values().flatten().map(GroupTable::size).sum()
    }

    /// Adds rows (already evaluated key and aggregate-input columns) to one window.
    fn update_window(
        &mut self,
        window: Window,
        keys: &[ArrayRef],
        inputs: &[Vec<ArrayRef>],
        rows: usize,
    ) -> Result<(), StreamError> {
        let slot = self.open.entry(window).or_insert(None);
        let table = match slot {
            Some(table) => table,
            None => slot.insert(self.tables.fresh()?),
        };
        table.update(keys, inputs, rows)
    }

    /// Tells the memory budget what the in-memory tables hold; when the operators together hold
    /// more than it, moves this instance's tables to the store.
    fn account(&mut self) -> Result<(), StreamError> {
        let held = self.memory();
        let Some(runs) = self.runs.as_ref() else {
            return Ok(());
        };
        let over = runs.space().budget().update(self.held, held);
        self.held = held;
        if over {
            self.write_tables()?;
        }
        Ok(())
    }

    /// Moves every in-memory table to the store (a run per bucket it touches).
    fn write_tables(&mut self) -> Result<(), StreamError> {
        let Some(runs) = self.runs.as_mut() else {
            return Err(StreamError::Internal(
                "window state written without a state space".into(),
            ));
        };
        for (window, slot) in self.open.iter_mut() {
            if let Some(mut table) = slot.take() {
                runs.write(&self.tables, *window, table.take_state()?)?;
            }
        }
        runs.space().budget().update(self.held, 0);
        self.held = 0;
        Ok(())
    }

    /// Frees every window whose end - 1 ms is at or below `watermark` and queues its results,
    /// given by [`Operator::resume`].
    fn fire(&mut self, watermark: EventTime) -> Result<(), StreamError> {
        let emitted_under = self.watermark;
        while let Some(entry) = self.open.first_entry() {
            let (end, start) = *entry.key();
            if end - 1 > watermark {
                break;
            }
            let window = (end, start);
            let mut table = entry.remove();
            self.fired.push(window);
            if let Some(runs) = self.runs.as_mut()
                && runs.is_stored(window)
            {
                // The state is in the store: the changes still in memory join it, and it is
                // merged and emitted one bucket at a time.
                if let Some(mut changes) = table.take() {
                    runs.write(&self.tables, window, changes.take_state()?)?;
                }
            } else if table.is_none() {
                continue;
            }
            self.firing.push_back(Firing {
                window,
                emitted_under,
                table,
                next_bucket: 0,
            });
        }
        Ok(())
    }
}

/// A fired window whose results are being given.
struct Firing {
    window: Window,
    /// The watermark its rows are stamped with (the one before the watermark that fired it).
    emitted_under: EventTime,
    /// Its table, when its state is all in memory.
    table: Option<GroupTable>,
    /// Otherwise the next bucket of its state in the store.
    next_bucket: u16,
}

impl Drop for WindowAggregate {
    /// A stopped or failed job's tables no longer count against the server's budget.
    fn drop(&mut self) {
        if let Some(runs) = &self.runs {
            runs.space().budget().update(self.held, 0);
        }
    }
}

/// Emits the results of one window's table (or of one bucket of it).
fn emit(
    layout: &Layout,
    metrics: &OperatorMetrics,
    (end, start): Window,
    table: GroupTable,
    emitted_under: EventTime,
    out: &mut Vec<Message>,
) -> Result<(), StreamError> {
    let (keys, aggregates, rows) = table.evaluate()?;
    let batch = layout.output(start, end, rows, keys, aggregates)?;
    metrics.add_rows_out(batch.num_rows());
    out.push(Message::Batch(StreamBatch::uniform(batch, emitted_under)));
    Ok(())
}

impl Operator for WindowAggregate {
    fn on_batch(&mut self, batch: StreamBatch, _out: &mut Vec<Message>) -> Result<(), StreamError> {
        self.add(batch)?;
        self.account()
    }

    fn on_watermark(
        &mut self,
        watermark: EventTime,
        out: &mut Vec<Message>,
    ) -> Result<(), StreamError> {
        if watermark <= self.watermark {
            return Ok(());
        }
        self.fire(watermark)?;
        self.watermark = watermark;
        self.watermark_dirty = true;
        self.pending_watermark = Some(watermark);
        self.resume(out)?;
        self.account()
    }

    fn on_end(&mut self, out: &mut Vec<Message>) -> Result<(), StreamError> {
        self.fire(EventTime::MAX)?;
        self.watermark = EventTime::MAX;
        self.resume(out)?;
        self.account()
    }

    fn pending(&self) -> bool {
        !self.firing.is_empty() || self.pending_watermark.is_some()
    }

    /// Gives the results of the fired windows one table at a time (a window in memory, or one
    /// bucket of a window in the store), then the watermark that fired them.
    fn resume(&mut self, out: &mut Vec<Message>) -> Result<(), StreamError> {
        while let Some(front) = self.firing.front_mut() {
            let (window, emitted_under) = (front.window, front.emitted_under);
            if let Some(table) = front.table.take() {
                self.firing.pop_front();
                return emit(
                    &self.layout,
                    &self.metrics,
                    window,
                    table,
                    emitted_under,
                    out,
                );
            }
            if let Some(runs) = self.runs.as_ref() {
                while front.next_bucket < BUCKETS {
                    let bucket = front.next_bucket;
                    front.next_bucket += 1;
                    let mut merged = self.tables.fresh()?;
                    if runs
                        .read_bucket(&self.tables, window, bucket, &mut merged)?
                        .is_some()
                    {
                        return emit(
                            &self.layout,
                            &self.metrics,
                            window,
                            merged,
                            emitted_under,
                            out,
                        );
                    }
                }
            }
            self.firing.pop_front();
        }
        if let Some(watermark) = self.pending_watermark.take() {
            out.push(Message::Watermark(watermark));
        }
        Ok(())
    }

    fn attach(&mut self, space: StateSpace) {
        self.runs = Some(Runs::new(space));
    }

    fn checkpoint(&mut self, writer: &mut StateWriter) -> Result<(), StreamError> {
        // The changes since the last barrier go to the store; the epoch records them.
        self.write_tables()?;
        let Some(runs) = self.runs.as_mut() else {
            return Err(StreamError::Internal(
                "a window aggregation checkpoints without a state space".into(),
            ));
        };
        for window in std::mem::take(&mut self.fired) {
            writer.delete(&state::window_key(window));
            runs.forget(window, writer);
        }
        runs.checkpoint(writer);
        if std::mem::take(&mut self.watermark_dirty) {
            writer.put(
                state::WATERMARK_KEY,
                state::encode_watermark(self.watermark),
            );
        }
        Ok(())
    }

    fn restore(&mut self, entries: &StateEntries) -> Result<(), StreamError> {
        let mut seq = 0;
        let mut windows = Vec::new();
        for (key, value) in entries.iter() {
            if key == state::WATERMARK_KEY {
                self.watermark = state::decode_watermark(value)?;
            } else if key == state::RUN_SEQ_KEY {
                seq = state::decode_seq(value)?;
            } else {
                windows.push(state::parse_window_key(key)?);
            }
        }
        let Some(runs) = self.runs.as_mut() else {
            return Err(StreamError::Internal(
                "a window aggregation restores without a state space".into(),
            ));
        };
        runs.restore(seq, windows.iter().copied())?;
        for window in windows {
            self.open.insert(window, None);
        }
        Ok(())
    }

    fn metrics(&self) -> &Arc<OperatorMetrics> {
        &self.metrics
    }
}

impl WindowAggregate {
    /// Adds a batch's rows to the windows they fall into.
    fn add(&mut self, batch: StreamBatch) -> Result<(), StreamError> {
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
}
