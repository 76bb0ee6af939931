//! Turns a [`StreamPlan`] into running tasks.
//!
//! ```text
//! split 0: reader -> source task -> [Probe, Calc...] --hash(keys)--> window 0: [Window, Calc...] --\
//! split 1: reader -> source task -> [Probe, Calc...] --hash(keys)--> window 1: [Window, Calc...] ---+-> [Probe] -> sink
//! ```
//! Stages before the first window run once per split, chained in one task; the window and the
//! stages after it run `parallelism` times, fed by a hash exchange on the window's keys (one
//! instance when it has no keys); a final task merges the instances (watermark = minimum, end
//! when all ended) in front of the sink.

use std::sync::Arc;

use runnel_engine::stream::align::Aligned;
use runnel_engine::stream::calc::Calc;
use runnel_engine::stream::chain::{Chain, Probe, ProbeCounters};
use runnel_engine::stream::exchange::HashPartitioner;
use runnel_engine::stream::runtime::{Output, edge, run_operator};
use runnel_engine::stream::sink::{SinkWriter, run_sink};
use runnel_engine::stream::source::{SplitReader, run_source};
use runnel_engine::stream::window::{SessionAggregate, WindowAggregate};
use runnel_engine::stream::{Operator, OperatorMetrics, StreamError};
use runnel_sql::streaming::{Stage, StreamPlan, WindowAggregateKind};
use tokio::task::JoinSet;

/// Live counters of a job.
#[derive(Debug, Default)]
pub struct JobCounters {
    /// Rows read from the source, and the source's watermark.
    pub source: Arc<ProbeCounters>,
    /// Rows emitted to the sink, and the output watermark.
    pub output: Arc<ProbeCounters>,
    /// Metrics of every window operator instance (late rows).
    pub windows: Vec<Arc<OperatorMetrics>>,
    /// Malformed records the source skipped (`ignore-parse-errors`).
    pub malformed_skipped: Arc<std::sync::atomic::AtomicU64>,
}

impl JobCounters {
    /// Rows dropped as late, over all window instances.
    pub fn late_rows(&self) -> u64 {
        self.windows.iter().map(|m| m.late_rows_dropped()).sum()
    }
}

/// Spawns the tasks of `plan` reading `splits` and writing to `sink` onto `tasks`; splits
/// without rows for `idle_timeout` stop holding back the watermark.
pub fn spawn(
    plan: &StreamPlan,
    splits: Vec<Box<dyn SplitReader>>,
    parallelism: usize,
    sink: Box<dyn SinkWriter>,
    idle_timeout: Option<std::time::Duration>,
    tasks: &mut JoinSet<Result<(), StreamError>>,
) -> Result<JobCounters, StreamError> {
    let mut source_spec = plan.source.spec.clone();
    source_spec.idle_timeout = idle_timeout;
    let mut counters = JobCounters::default();
    let window_at = plan
        .stages
        .iter()
        .position(|s| matches!(s, Stage::Window(_)));
    let (pre, post) = match window_at {
        Some(at) => plan.stages.split_at(at),
        None => (plan.stages.as_slice(), &[][..]),
    };

    // The merge in front of the sink.
    let (sink_sender, sink_receiver) = edge();
    tasks.spawn(run_sink(sink, sink_receiver));
    let mut merge_inputs = Vec::new();

    // Keyed instances: the window and what follows it.
    let mut window_senders = Vec::new();
    let mut window_receivers: Vec<Vec<_>> = Vec::new();
    let mut partition_keys = Vec::new();
    if let Some(Stage::Window(window)) = post.first() {
        let instances = if window.partition_keys.is_empty() {
            1
        } else {
            parallelism.max(1)
        };
        partition_keys = window.partition_keys.clone();
        for _ in 0..instances {
            window_senders.push(Vec::new());
            window_receivers.push(Vec::new());
        }
        for _ in 0..splits.len() {
            for instance in 0..instances {
                let (sender, receiver) = edge();
                window_senders[instance].push(sender);
                window_receivers[instance].push(receiver);
            }
        }
        for receivers in window_receivers.drain(..) {
            let mut operators = operators(post)?;
            if let Some(first) = operators.first() {
                counters.windows.push(first.metrics().clone());
            }
            let (sender, receiver) = edge();
            merge_inputs.push(receiver);
            tasks.spawn(run_operator(
                Box::new(Chain::new(std::mem::take(&mut operators))),
                receivers,
                Output::Forward(sender),
            ));
        }
    }

    // Per split: the reader, then the stages before the window.
    let split_count = splits.len();
    for (index, reader) in splits.into_iter().enumerate() {
        let (source_sender, source_receiver) = edge();
        tasks.spawn(run_source(
            reader,
            source_spec.clone(),
            Output::Forward(source_sender),
        ));
        let mut chain: Vec<Box<dyn Operator>> = vec![Box::new(Probe::new(counters.source.clone()))];
        chain.extend(operators(pre)?);
        let output = if window_at.is_some() {
            let senders: Vec<_> = window_senders
                .iter()
                .map(|per_instance| per_instance[index].clone())
                .collect();
            Output::Partition(
                HashPartitioner::new(partition_keys.clone(), senders.len()),
                senders,
            )
        } else {
            let (sender, receiver) = edge();
            merge_inputs.push(receiver);
            Output::Forward(sender)
        };
        tasks.spawn(run_operator(
            Box::new(Chain::new(chain)),
            vec![source_receiver],
            output,
        ));
    }
    // The partition outputs hold clones; drop the originals so channels close with the tasks.
    drop(window_senders);
    if split_count == 0 {
        // Nothing to read: the job ends at once.
        let (sender, receiver) = edge();
        merge_inputs.push(receiver);
        tasks.spawn(async move {
            let _ = sender.send(runnel_engine::stream::Message::End).await;
            Ok(())
        });
    }
    tasks.spawn(run_operator(
        Box::new(Chain::new(vec![Box::new(Probe::new(
            counters.output.clone(),
        ))])),
        merge_inputs,
        Output::Forward(sink_sender),
    ));
    Ok(counters)
}

/// Fresh operator instances for `stages`.
fn operators(stages: &[Stage]) -> Result<Vec<Box<dyn Operator>>, StreamError> {
    let mut operators: Vec<Box<dyn Operator>> = Vec::with_capacity(stages.len());
    for stage in stages {
        match stage {
            Stage::Calc(calc) => operators.push(Box::new(Calc::new(
                calc.predicate.clone(),
                calc.projection.clone(),
                calc.schema.clone(),
            ))),
            Stage::Window(window) => match &window.aggregate {
                WindowAggregateKind::Windows(spec) => {
                    operators.push(Box::new(WindowAggregate::try_new(spec.clone())?))
                }
                // A session's rows merge with the sessions placed before them: fed in stamp
                // order, the result does not depend on how the splits interleave.
                WindowAggregateKind::Session(spec) => operators.push(Box::new(Aligned::new(
                    Box::new(SessionAggregate::try_new(spec.clone())?),
                ))),
            },
        }
    }
    Ok(operators)
}
