//! Sources: readers of splits (a file, a Kafka partition, a generator instance) and the task
//! that turns their batches into a stream with computed columns and watermarks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::PhysicalExpr;

use super::message::{EventTime, WATERMARK_MIN};
use super::narrow::Narrowed;
use super::runtime::Output;
use super::watermark::{WatermarkGenerator, wall_clock_millis};
use super::{Message, StreamBatch, StreamError};
use crate::checkpoint::{CheckpointHandle, Report, SplitCheckpoint, Trigger};

/// Arrow field-metadata key of a column a connector fills from record metadata (Flink's
/// `name TYPE METADATA FROM 'key'`): its value is the metadata key (`partition`, `offset`, ...).
pub const METADATA_COLUMN_KEY: &str = "runnel.metadata";
/// Arrow field-metadata key set to `true` on a `VIRTUAL` metadata column: read, never written.
pub const METADATA_VIRTUAL_KEY: &str = "runnel.metadata.virtual";

/// Reads one split of a source. Connectors implement it.
#[async_trait]
pub trait SplitReader: Send {
    /// Schema of the batches (the table's physical columns).
    fn schema(&self) -> SchemaRef;

    /// The next batch, or `None` when a bounded split is exhausted. Unbounded readers wait for
    /// data instead of returning `None`.
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError>;

    /// Where the split stands after the last event returned, as `(key, value)` pairs that the
    /// connector reads back to resume there (a Kafka partition's next offset, a file's byte
    /// offset). Keys are unique across the splits of a source. Called after each event while
    /// the job checkpoints.
    fn position(&self) -> Vec<(String, i64)> {
        Vec::new()
    }

    /// The next event of a split made of partitions (a Kafka reader owns several partitions,
    /// each with a watermark of its own). The default reads [`SplitReader::next_batch`] as the
    /// rows of partition 0, which exists from the start.
    async fn next_event(&mut self) -> Result<SplitEvent, StreamError> {
        Ok(match self.next_batch().await? {
            Some(batch) => SplitEvent::Batch {
                partition: 0,
                batch,
            },
            None => SplitEvent::End,
        })
    }
}

/// What a split reader produced. A partition exists once added (partition 0 exists from the
/// start) and holds back the split's watermark, until it ends or is idle.
#[derive(Debug)]
pub enum SplitEvent {
    /// Rows of one partition, in its order.
    Batch {
        /// The partition (the reader's own numbering).
        partition: u32,
        /// The rows.
        batch: RecordBatch,
    },
    /// The split reads these partitions from now on; every event of a partitioned reader comes
    /// after the one that added its partition. The first such event replaces partition 0.
    PartitionsAdded(Vec<u32>),
    /// The partition has no more rows (a bounded read reached its end offset).
    PartitionEnded(u32),
    /// Every partition ended.
    End,
}

/// What a source adds to the rows it reads.
#[derive(Debug, Clone, Default)]
pub struct SourceSpec {
    /// The table's columns in declaration order, computed from the physical ones read (a
    /// column reference for a physical column, the expression of a computed column
    /// `name AS expr`), with the output schema. `None`: the physical columns are the table.
    pub computed: Option<(Vec<Arc<dyn PhysicalExpr>>, SchemaRef)>,
    /// The WATERMARK expression, over the output columns (physical and computed).
    pub watermark: Option<Arc<dyn PhysicalExpr>>,
    /// `scan.watermark.idle-timeout`: a split without rows for this long says it is idle, so
    /// it stops holding back the watermark of the splits that do have rows.
    pub idle_timeout: Option<Duration>,
    /// `Some(tick)`: the job's windows are over processing time (`PROCTIME()`), so the
    /// watermark is the wall clock instead of `watermark`: sent after each batch and every
    /// `tick` while no rows come, so that windows close on time without data. The idle
    /// timeout does not apply (the clock never idles).
    pub processing_time: Option<Duration>,
}

/// How often a processing-time source sends the wall clock while no rows come (Flink's
/// default watermark interval): a processing-time window closes at most this late.
pub const PROCESSING_TIME_TICK: Duration = Duration::from_millis(200);

/// How a source split of a checkpointed job takes part in checkpoints.
#[derive(Debug)]
pub struct SourceCheckpointing {
    /// The job's coordinator.
    pub handle: CheckpointHandle,
    /// The split's index.
    pub split: usize,
    /// Epochs to send a barrier for.
    pub triggers: tokio::sync::mpsc::Receiver<Trigger>,
    /// The split's clocks at the last durable epoch (recovery).
    pub restore: Option<SplitCheckpoint>,
}

/// Reads `reader` to its end: computes the computed columns, stamps rows with their arrival
/// watermark, and sends each batch followed by the watermark it reached. Ends with End (the
/// runtime treats End as watermark +infinity, so every window fires).
///
/// Each partition of the split has its own watermark; the split's is their minimum over the
/// partitions that are neither ended nor idle, and never moves back. With an idle timeout a
/// partition without rows for that long stops holding it back, and a wait for rows longer than
/// the timeout sends [`Message::Idle`] (once per wait). A split with no partitions is idle.
pub async fn run_source(
    reader: Box<dyn SplitReader>,
    spec: SourceSpec,
    output: Output,
) -> Result<(), StreamError> {
    run_source_checkpointed(reader, spec, output, None).await
}

/// [`run_source`] for a job that checkpoints: between two batches, a trigger from the
/// coordinator sends `Barrier(epoch)` downstream and reports the reader's position and the
/// split's clocks as of that point.
pub async fn run_source_checkpointed(
    reader: Box<dyn SplitReader>,
    spec: SourceSpec,
    mut output: Output,
    mut checkpointing: Option<SourceCheckpointing>,
) -> Result<(), StreamError> {
    let idle_timeout = match spec.processing_time {
        Some(_) => None,
        None => spec.idle_timeout,
    };
    let mut clocks = match spec.processing_time {
        Some(_) => PartitionClocks::wall_clock(),
        None => PartitionClocks::new(spec.watermark.clone(), idle_timeout),
    };
    // Computed columns read only their columns and fields of the (possibly wide) rows.
    let computed = spec.computed.as_ref().map(|(exprs, schema)| {
        let exprs = Narrowed::new(exprs);
        (exprs, schema.clone())
    });
    // Where the split stands as of the last event forwarded: at first, where it resumed (a
    // split that ends or meets a barrier before its first event must not report "nowhere",
    // which a later recovery would read as "from the start").
    let mut position = Vec::new();
    if let Some(restore) = checkpointing.as_mut().and_then(|c| c.restore.take()) {
        clocks.restore(&restore);
        position = restore.position;
    }
    let tracked = checkpointing.is_some();
    let mut batches = Batches::new(reader, idle_timeout, spec.processing_time, tracked);
    let mut triggers_open = tracked;
    let mut said_idle = false;
    loop {
        let next = match checkpointing.as_mut() {
            Some(checkpointing) => tokio::select! {
                biased;
                trigger = checkpointing.triggers.recv(), if triggers_open => match trigger {
                    Some(Trigger { epoch, stop }) => {
                        if !output.send(Message::Barrier(epoch)).await? {
                            return Ok(());
                        }
                        checkpointing.handle.report(Report::Source {
                            epoch,
                            split: checkpointing.split,
                            checkpoint: clocks.checkpoint(position.clone()),
                        });
                        if stop {
                            // The job stops at this epoch: nothing more is read or sent (the
                            // output stays open, so nothing downstream reads an end of input)
                            // until the job is torn down.
                            return std::future::pending().await;
                        }
                        continue;
                    }
                    None => {
                        triggers_open = false;
                        continue;
                    }
                },
                next = batches.next() => next?,
            },
            None => batches.next().await?,
        };
        let (partition, batch) = match next {
            Next::Event(event, at) => {
                if let Some(at) = at {
                    position = at;
                }
                match event {
                    SplitEvent::Batch { partition, batch } => (partition, batch),
                    SplitEvent::PartitionsAdded(partitions) => {
                        clocks.add(&partitions);
                        if !partitions_changed(&mut clocks, &mut said_idle, &mut output).await? {
                            return Ok(());
                        }
                        continue;
                    }
                    SplitEvent::PartitionEnded(partition) => {
                        clocks.end(partition);
                        if !partitions_changed(&mut clocks, &mut said_idle, &mut output).await? {
                            return Ok(());
                        }
                        continue;
                    }
                    SplitEvent::End => break,
                }
            }
            Next::Tick => {
                if !send_watermark(&mut clocks, &mut output).await? {
                    return Ok(());
                }
                continue;
            }
            Next::Idle => {
                // Every partition is idle: the split's watermark moves to the largest of
                // theirs (as the runtime does for idle inputs), then the split is idle.
                if let Some(watermark) = clocks.all_idle()
                    && !output.send(Message::Watermark(watermark)).await?
                {
                    return Ok(());
                }
                if !output.send(Message::Idle).await? {
                    return Ok(());
                }
                continue;
            }
        };
        if batch.num_rows() == 0 {
            continue;
        }
        said_idle = false;
        let batch = match &computed {
            Some((exprs, schema)) => with_computed(batch, exprs, schema)?,
            None => batch,
        };
        let stamped = clocks.stamp(partition, batch)?;
        if !output.send(Message::Batch(stamped)).await? {
            return Ok(());
        }
        if !send_watermark(&mut clocks, &mut output).await? {
            return Ok(());
        }
    }
    if let Some(checkpointing) = &checkpointing {
        // No barrier follows End: where the split ended counts for every later epoch.
        checkpointing.handle.report(Report::SourceEnded {
            split: checkpointing.split,
            checkpoint: clocks.checkpoint(position),
        });
    }
    output.send(Message::End).await?;
    Ok(())
}

/// Sends the split's watermark if it advanced; false when the consumer is gone.
async fn send_watermark(
    clocks: &mut PartitionClocks,
    output: &mut Output,
) -> Result<bool, StreamError> {
    match clocks.advance() {
        Some(watermark) => output.send(Message::Watermark(watermark)).await,
        None => Ok(true),
    }
}

/// After partitions came or went: the watermark may have advanced, and a split left without
/// partitions is idle (said once). False when the consumer is gone.
async fn partitions_changed(
    clocks: &mut PartitionClocks,
    said_idle: &mut bool,
    output: &mut Output,
) -> Result<bool, StreamError> {
    if !send_watermark(clocks, output).await? {
        return Ok(false);
    }
    if clocks.is_empty() && !*said_idle {
        *said_idle = true;
        return output.send(Message::Idle).await;
    }
    Ok(true)
}

/// One partition's watermark and when it last had rows.
#[derive(Debug)]
struct PartitionClock {
    partition: u32,
    /// `None` without a WATERMARK clause.
    generator: Option<WatermarkGenerator>,
    last_rows: Instant,
    idle: bool,
}

/// The watermarks of a split's partitions and the split's combined watermark.
#[derive(Debug)]
struct PartitionClocks {
    expr: Option<Arc<dyn PhysicalExpr>>,
    idle_timeout: Option<Duration>,
    /// Open partitions (not ended), few per split: a vector scanned linearly.
    open: Vec<PartitionClock>,
    /// Whether partition 0 is the default one, replaced by the first added partitions.
    implicit: bool,
    /// The split's watermark as last sent.
    sent: EventTime,
    /// Partition watermarks of the last durable epoch, applied when the partition opens.
    restored: Vec<(u32, EventTime)>,
    /// The watermark is the wall clock (processing time): rows are stamped with the split's
    /// watermark as last sent, and it advances to the clock's reading.
    wall_clock: bool,
}

impl PartitionClock {
    fn current(&self) -> EventTime {
        self.generator
            .as_ref()
            .map_or(WATERMARK_MIN, WatermarkGenerator::current)
    }
}

impl PartitionClocks {
    fn new(expr: Option<Arc<dyn PhysicalExpr>>, idle_timeout: Option<Duration>) -> Self {
        let mut clocks = PartitionClocks {
            expr,
            idle_timeout,
            open: Vec::new(),
            implicit: true,
            sent: WATERMARK_MIN,
            restored: Vec::new(),
            wall_clock: false,
        };
        clocks.push(0);
        clocks
    }

    /// Clocks whose watermark is the wall clock, for processing-time windows.
    fn wall_clock() -> Self {
        let mut clocks = Self::new(None, None);
        clocks.wall_clock = true;
        clocks
    }

    fn push(&mut self, partition: u32) {
        let mut generator = self.expr.clone().map(WatermarkGenerator::new);
        if let Some(generator) = generator.as_mut()
            && let Some((_, watermark)) = self.restored.iter().find(|(p, _)| *p == partition)
        {
            generator.restore(*watermark);
        }
        self.open.push(PartitionClock {
            partition,
            generator,
            last_rows: Instant::now(),
            idle: false,
        });
    }

    /// The clocks as of now, with the reader's `position`, for a checkpoint.
    fn checkpoint(&self, position: Vec<(String, i64)>) -> SplitCheckpoint {
        SplitCheckpoint {
            position,
            watermark: self.sent,
            partitions: self
                .open
                .iter()
                .map(|c| (c.partition, c.current()))
                .collect(),
            explicit: !self.implicit,
        }
    }

    /// Resumes the clocks of a checkpoint: the split's watermark never goes below the one it
    /// had sent, and each partition resumes its own when it opens again.
    fn restore(&mut self, checkpoint: &SplitCheckpoint) {
        self.sent = checkpoint.watermark;
        self.restored = checkpoint.partitions.clone();
        for clock in &mut self.open {
            if let Some(generator) = clock.generator.as_mut()
                && let Some((_, watermark)) =
                    self.restored.iter().find(|(p, _)| *p == clock.partition)
            {
                generator.restore(*watermark);
            }
        }
    }

    /// The reader speaks of its partitions: the default partition 0 is gone.
    fn leave_implicit(&mut self) {
        if self.implicit {
            self.implicit = false;
            self.open.clear();
        }
    }

    fn add(&mut self, partitions: &[u32]) {
        self.leave_implicit();
        for &partition in partitions {
            if !self.open.iter().any(|c| c.partition == partition) {
                self.push(partition);
            }
        }
    }

    fn end(&mut self, partition: u32) {
        self.leave_implicit();
        self.open.retain(|c| c.partition != partition);
    }

    fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Marks every partition idle; returns the split's watermark if it moved (to the largest
    /// partition watermark).
    fn all_idle(&mut self) -> Option<EventTime> {
        for clock in &mut self.open {
            clock.idle = true;
        }
        self.expr.as_ref()?;
        let largest = self.open.iter().map(PartitionClock::current).max()?;
        (largest > self.sent).then(|| {
            self.sent = largest;
            largest
        })
    }

    /// The minimum watermark of the partitions other than `except` that hold the split back
    /// (`None` when none does).
    fn others_min(&self, except: usize) -> Option<EventTime> {
        self.open
            .iter()
            .enumerate()
            .filter(|(i, c)| *i != except && !c.idle)
            .map(|(_, c)| c.current())
            .min()
    }

    /// Stamps the rows of `partition` with the split's watermark at their arrival.
    fn stamp(&mut self, partition: u32, batch: RecordBatch) -> Result<StreamBatch, StreamError> {
        let rows = batch.num_rows();
        let index = match self.open.iter().position(|c| c.partition == partition) {
            Some(index) => index,
            None => {
                // Rows of a partition never announced (or ended): it is open again.
                self.push(partition);
                self.open.len() - 1
            }
        };
        let now = Instant::now();
        if let Some(timeout) = self.idle_timeout {
            for (i, clock) in self.open.iter_mut().enumerate() {
                if i != index && now.duration_since(clock.last_rows) >= timeout {
                    clock.idle = true;
                }
            }
        }
        let others = self.others_min(index).unwrap_or(EventTime::MAX);
        let floor = self.sent;
        let clock = &mut self.open[index];
        clock.idle = false;
        clock.last_rows = now;
        if self.wall_clock {
            // Rows read now are processed at or after the clock as last sent: none is late.
            return StreamBatch::new(batch, Int64Array::from_value(floor, rows));
        }
        let Some(generator) = clock.generator.as_mut() else {
            return StreamBatch::new(batch, Int64Array::from_value(WATERMARK_MIN, rows));
        };
        let stamped = generator.stamp(batch)?;
        // A row's arrival watermark is the split's: its partition's, capped by the other open
        // partitions', never below what the split already sent.
        Ok(StreamBatch {
            arrival_watermark: stamped
                .arrival_watermark
                .unary(|v| v.min(others).max(floor)),
            data: stamped.data,
        })
    }

    /// The split's watermark if it moved past the one last sent.
    fn advance(&mut self) -> Option<EventTime> {
        if self.wall_clock {
            let now = wall_clock_millis();
            return (now > self.sent).then(|| {
                self.sent = now;
                now
            });
        }
        self.expr.as_ref()?;
        let watermark = self
            .open
            .iter()
            .filter(|c| !c.idle)
            .map(PartitionClock::current)
            .min()?;
        (watermark > self.sent).then(|| {
            self.sent = watermark;
            watermark
        })
    }
}

/// An event with the reader's position after it (while the job checkpoints).
type Positioned = (SplitEvent, Option<Vec<(String, i64)>>);

/// What a split produced next.
enum Next {
    /// An event, with the reader's position after it (while the job checkpoints).
    Event(SplitEvent, Option<Vec<(String, i64)>>),
    /// No event within the idle timeout.
    Idle,
    /// The processing-time tick: time to send the wall clock.
    Tick,
}

/// A split's events, read directly or by a task of their own. The task is used with an idle
/// timeout (a timed-out wait never drops a half-read batch: the reader is never cancelled) and
/// while the job checkpoints (a barrier trigger can interrupt a wait for rows).
enum Batches {
    Direct(Box<dyn SplitReader>),
    Task {
        receiver: tokio::sync::mpsc::Receiver<Result<Positioned, StreamError>>,
        timeout: Option<Duration>,
        idle: bool,
        /// When the last event arrived (or the wait began): the idle timeout runs from here,
        /// so a wait interrupted by a barrier trigger does not start it again.
        since: tokio::time::Instant,
        /// The processing-time tick, if the watermark is the wall clock.
        tick: Option<tokio::time::Interval>,
        reader: tokio::task::JoinHandle<()>,
    },
}

impl Batches {
    fn new(
        mut reader: Box<dyn SplitReader>,
        idle_timeout: Option<Duration>,
        tick: Option<Duration>,
        tracked: bool,
    ) -> Self {
        if idle_timeout.is_none() && tick.is_none() && !tracked {
            return Batches::Direct(reader);
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(2);
        let task = tokio::spawn(async move {
            loop {
                let next = reader.next_event().await;
                let done = matches!(next, Ok(SplitEvent::End) | Err(_));
                let next = next.map(|event| (event, tracked.then(|| reader.position())));
                if sender.send(next).await.is_err() || done {
                    return;
                }
            }
        });
        Batches::Task {
            receiver,
            timeout: idle_timeout,
            idle: false,
            since: tokio::time::Instant::now(),
            tick: tick.map(|period| {
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick
            }),
            reader: task,
        }
    }

    /// The next event. Cancel-safe in the task mode: nothing is lost when the wait is dropped.
    async fn next(&mut self) -> Result<Next, StreamError> {
        match self {
            Batches::Direct(reader) => Ok(Next::Event(reader.next_event().await?, None)),
            Batches::Task {
                receiver,
                timeout,
                idle,
                since,
                tick,
                ..
            } => {
                // Already said, or no timeout: wait for rows without a deadline.
                let deadline = timeout.filter(|_| !*idle).map(|timeout| *since + timeout);
                // Biased: an event already waiting comes before an expired idle deadline (or
                // a tick), so a split with rows is never said idle.
                let received = tokio::select! {
                    biased;
                    received = receiver.recv() => received,
                    () = sleep_until(deadline) => {
                        *idle = true;
                        return Ok(Next::Idle);
                    }
                    _ = next_tick(tick) => return Ok(Next::Tick),
                };
                *idle = false;
                *since = tokio::time::Instant::now();
                match received {
                    Some(Ok((event, position))) => Ok(Next::Event(event, position)),
                    None => Ok(Next::Event(SplitEvent::End, None)),
                    Some(Err(error)) => Err(error),
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The next tick of `tick`, or never without one.
async fn next_tick(tick: &mut Option<tokio::time::Interval>) {
    match tick {
        Some(tick) => {
            tick.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        if let Batches::Task { reader, .. } = self {
            reader.abort();
        }
    }
}

fn with_computed(
    batch: RecordBatch,
    exprs: &Narrowed,
    schema: &SchemaRef,
) -> Result<RecordBatch, StreamError> {
    Ok(RecordBatch::try_new(
        schema.clone(),
        exprs.evaluate(&batch)?,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::runtime::edge;
    use crate::stream::window::tests::{rows, schema, watermark_expr};
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::logical_expr::Operator as BinaryOp;
    use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
    use datafusion::scalar::ScalarValue;

    struct Batches(Vec<RecordBatch>);

    #[async_trait]
    impl SplitReader for Batches {
        fn schema(&self) -> SchemaRef {
            schema()
        }
        async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
            Ok((!self.0.is_empty()).then(|| self.0.remove(0)))
        }
    }

    #[tokio::test]
    async fn computes_columns_stamps_rows_and_sends_watermarks_then_end() {
        // v2 AS v * 2; WATERMARK FOR ts AS ts - 3 ms
        let mut fields = schema().fields().to_vec();
        fields.push(Arc::new(Field::new("v2", DataType::Int64, true)));
        let output_schema = Arc::new(Schema::new(fields));
        let doubled: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("v", 2)),
            BinaryOp::Multiply,
            Arc::new(Literal::new(ScalarValue::Int64(Some(2)))),
        ));
        let spec = SourceSpec {
            computed: Some((
                vec![
                    Arc::new(Column::new("ts", 0)),
                    Arc::new(Column::new("k", 1)),
                    Arc::new(Column::new("v", 2)),
                    doubled,
                ],
                output_schema,
            )),
            watermark: Some(watermark_expr(3)),
            idle_timeout: None,
            processing_time: None,
        };
        let reader = Batches(vec![
            rows(&[(10, Some("a"), 1), (20, Some("a"), 2)]),
            rows(&[(5, Some("b"), 3)]),
        ]);
        let (sender, mut receiver) = edge();
        let task = tokio::spawn(run_source(Box::new(reader), spec, Output::Forward(sender)));
        let mut messages = Vec::new();
        while let Some(message) = receiver.recv().await {
            messages.push(message);
        }
        task.await.expect("task").expect("source");
        let shape: Vec<String> = messages
            .iter()
            .map(|m| match m {
                Message::Batch(b) => format!(
                    "batch {:?} {:?}",
                    b.data
                        .column(3)
                        .as_primitive::<Int64Type>()
                        .values()
                        .to_vec(),
                    b.arrival_watermark.values().to_vec()
                ),
                Message::Watermark(w) => format!("watermark {w}"),
                Message::Idle => "idle".to_string(),
                Message::Barrier(epoch) => format!("barrier {epoch}"),
                Message::End => "end".to_string(),
            })
            .collect();
        // The second batch does not move the watermark (5 - 3 < 17): no watermark after it.
        assert_eq!(
            shape,
            vec![
                format!("batch [2, 4] [{}, 7]", i64::MIN),
                "watermark 17".to_string(),
                "batch [6] [17]".to_string(),
                "end".to_string(),
            ]
        );
        assert!(messages.iter().all(|m| match m {
            Message::Batch(b) => b.data.num_columns() == 4 && b.data.column(3).null_count() == 0,
            _ => true,
        }));
    }

    /// Yields its batches, then waits forever (an unbounded split without new rows).
    struct Stalls(Vec<RecordBatch>);

    #[async_trait]
    impl SplitReader for Stalls {
        fn schema(&self) -> SchemaRef {
            schema()
        }
        async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
            if self.0.is_empty() {
                std::future::pending::<()>().await;
            }
            Ok(Some(self.0.remove(0)))
        }
    }

    #[tokio::test]
    async fn a_split_without_rows_for_the_idle_timeout_says_it_is_idle_once() {
        let spec = SourceSpec {
            computed: None,
            watermark: Some(watermark_expr(0)),
            idle_timeout: Some(Duration::from_millis(20)),
            processing_time: None,
        };
        let reader = Stalls(vec![rows(&[(10, Some("a"), 1)])]);
        let (sender, mut receiver) = edge();
        let task = tokio::spawn(run_source(Box::new(reader), spec, Output::Forward(sender)));
        let mut shape = Vec::new();
        for _ in 0..3 {
            match receiver.recv().await.expect("message") {
                Message::Batch(b) => shape.push(format!("batch {}", b.num_rows())),
                Message::Watermark(w) => shape.push(format!("watermark {w}")),
                Message::Idle => shape.push("idle".to_string()),
                Message::Barrier(epoch) => shape.push(format!("barrier {epoch}")),
                Message::End => shape.push("end".to_string()),
            }
        }
        assert_eq!(shape, vec!["batch 1", "watermark 10", "idle"]);
        // Idle is said once per wait, not every timeout.
        let more = tokio::time::timeout(Duration::from_millis(100), receiver.recv()).await;
        assert!(more.is_err(), "nothing after idle: {more:?}");
        task.abort();
    }

    #[tokio::test]
    async fn a_processing_time_split_sends_the_wall_clock_with_and_without_rows() {
        // The table's WATERMARK (over ts = 10 ms after the epoch) is not what counts: the
        // watermark is the wall clock, sent after the batch and then every tick, though no
        // more rows come and the idle timeout has long passed.
        let spec = SourceSpec {
            computed: None,
            watermark: Some(watermark_expr(0)),
            idle_timeout: Some(Duration::from_millis(10)),
            processing_time: Some(Duration::from_millis(20)),
        };
        let reader = Stalls(vec![rows(&[(10, Some("a"), 1), (11, Some("b"), 2)])]);
        let (sender, mut receiver) = edge();
        let started = wall_clock_millis();
        let task = tokio::spawn(run_source(Box::new(reader), spec, Output::Forward(sender)));
        let mut watermarks = Vec::new();
        while watermarks.len() < 5 {
            let next = tokio::time::timeout(Duration::from_secs(10), receiver.recv()).await;
            match next.expect("a watermark within 10 s").expect("message") {
                Message::Batch(batch) => {
                    // Rows read before any clock was sent are stamped with the minimum.
                    assert!(watermarks.is_empty());
                    let stamps = batch.arrival_watermark.values().to_vec();
                    assert_eq!(stamps, vec![WATERMARK_MIN, WATERMARK_MIN]);
                }
                Message::Watermark(watermark) => watermarks.push(watermark),
                other => panic!("only the batch and watermarks: {other:?}"),
            }
        }
        let finished = wall_clock_millis();
        assert!(watermarks.windows(2).all(|w| w[0] < w[1]), "{watermarks:?}");
        assert!(
            watermarks
                .iter()
                .all(|&w| (started..=finished).contains(&w)),
            "{watermarks:?} not within {started}..={finished}"
        );
        task.abort();
    }

    /// Plays a list of partition events.
    struct Partitioned(Vec<SplitEvent>);

    #[async_trait]
    impl SplitReader for Partitioned {
        fn schema(&self) -> SchemaRef {
            schema()
        }
        async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
            Ok(None)
        }
        async fn next_event(&mut self) -> Result<SplitEvent, StreamError> {
            if self.0.is_empty() {
                std::future::pending::<()>().await;
            }
            Ok(self.0.remove(0))
        }
    }

    fn shape_of(message: &Message) -> String {
        match message {
            Message::Batch(b) => format!("batch {:?}", b.arrival_watermark.values().to_vec()),
            Message::Watermark(w) => format!("watermark {w}"),
            Message::Idle => "idle".to_string(),
            Message::Barrier(epoch) => format!("barrier {epoch}"),
            Message::End => "end".to_string(),
        }
    }

    #[tokio::test]
    async fn the_split_watermark_is_the_minimum_of_its_partitions() {
        let spec = SourceSpec {
            computed: None,
            watermark: Some(watermark_expr(0)),
            idle_timeout: None,
            processing_time: None,
        };
        let reader = Partitioned(vec![
            SplitEvent::PartitionsAdded(vec![0, 1]),
            SplitEvent::Batch {
                partition: 0,
                batch: rows(&[(100, Some("a"), 1), (200, Some("a"), 2)]),
            },
            SplitEvent::Batch {
                partition: 1,
                batch: rows(&[(10, Some("b"), 3), (20, Some("b"), 4)]),
            },
            SplitEvent::Batch {
                partition: 0,
                batch: rows(&[(5, Some("a"), 5)]),
            },
            SplitEvent::PartitionEnded(1),
            SplitEvent::End,
        ]);
        let (sender, mut receiver) = edge();
        let task = tokio::spawn(run_source(Box::new(reader), spec, Output::Forward(sender)));
        let mut shape = Vec::new();
        while let Some(message) = receiver.recv().await {
            shape.push(shape_of(&message));
        }
        task.await.expect("task").expect("source");
        let min = i64::MIN;
        assert_eq!(
            shape,
            vec![
                // Partition 1 has no rows yet: it holds the split at MIN.
                format!("batch [{min}, {min}]"),
                // Partition 1's rows arrive under its own watermark, capped by partition 0's.
                format!("batch [{min}, 10]"),
                "watermark 20".to_string(),
                // Partition 0 is at 200, but the split is at 20: the late row is stamped 20.
                "batch [20]".to_string(),
                // Partition 1 ended: partition 0 alone decides.
                "watermark 200".to_string(),
                "end".to_string(),
            ]
        );
    }

    #[tokio::test]
    async fn an_idle_partition_stops_holding_back_the_split() {
        let spec = SourceSpec {
            computed: None,
            watermark: Some(watermark_expr(0)),
            idle_timeout: Some(Duration::from_millis(30)),
            processing_time: None,
        };
        let (events, receiver_events) = tokio::sync::mpsc::channel(8);
        struct Fed(tokio::sync::mpsc::Receiver<SplitEvent>);
        #[async_trait]
        impl SplitReader for Fed {
            fn schema(&self) -> SchemaRef {
                schema()
            }
            async fn next_batch(&mut self) -> Result<Option<RecordBatch>, StreamError> {
                Ok(None)
            }
            async fn next_event(&mut self) -> Result<SplitEvent, StreamError> {
                Ok(self.0.recv().await.unwrap_or(SplitEvent::End))
            }
        }
        let (sender, mut receiver) = edge();
        let task = tokio::spawn(run_source(
            Box::new(Fed(receiver_events)),
            spec,
            Output::Forward(sender),
        ));
        let send = |event| {
            let events = events.clone();
            async move { events.send(event).await.expect("send") }
        };
        send(SplitEvent::PartitionsAdded(vec![0, 1])).await;
        send(SplitEvent::Batch {
            partition: 0,
            batch: rows(&[(100, Some("a"), 1)]),
        })
        .await;
        let first = receiver.recv().await.expect("batch");
        assert_eq!(shape_of(&first), format!("batch [{}]", i64::MIN));
        // Partition 1 never has rows. Partition 0 has rows more often than the timeout, so
        // the split is never idle; once partition 1 has been silent for the timeout,
        // partition 0's rows move the split's watermark on their own.
        let mut shape = Vec::new();
        for i in 1..=8 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            send(SplitEvent::Batch {
                partition: 0,
                batch: rows(&[(100 + i, Some("a"), 2)]),
            })
            .await;
            shape.push(shape_of(&receiver.recv().await.expect("batch")));
        }
        let next = receiver.recv().await.expect("message");
        shape.push(shape_of(&next));
        assert!(!shape.iter().any(|m| m == "idle"), "{shape:?}");
        assert!(
            shape[0].starts_with(&format!("batch [{}", i64::MIN)),
            "{shape:?}"
        );
        assert!(
            shape.iter().any(|m| m.starts_with("watermark 10")),
            "partition 0 moved the watermark alone: {shape:?}"
        );
        drop(events);
        task.abort();
    }
}
