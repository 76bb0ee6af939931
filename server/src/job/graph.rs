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
use std::time::Duration;

use runnel_engine::Store;
use runnel_engine::checkpoint::{
    CheckpointHandle, CheckpointStats, Coordinator, JobKey, MemoryBudget, OperatorGroup, Recovered,
    StateEntries, StateSpace, StopHandle,
};
use runnel_engine::stream::align::Aligned;
use runnel_engine::stream::calc::Calc;
use runnel_engine::stream::chain::{Chain, Probe, ProbeCounters};
use runnel_engine::stream::exchange::HashPartitioner;
use runnel_engine::stream::runtime::{OperatorCheckpoint, Output, edge, run_checkpointed};
use runnel_engine::stream::sink::{SinkCheckpointing, SinkWriter, run_sink_checkpointed};
use runnel_engine::stream::source::{SourceCheckpointing, SplitReader, run_source_checkpointed};
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
    /// Checkpoint figures, when the job checkpoints.
    pub checkpoints: Option<Arc<CheckpointStats>>,
    /// Stops the job at a checkpoint, when it checkpoints.
    pub stopper: Option<StopHandle>,
}

/// How a job checkpoints: where, how often, and the epoch it resumes from.
#[derive(Debug, Clone)]
pub struct Checkpointing {
    /// The server's store.
    pub store: Arc<Store>,
    /// The job's key space.
    pub key: JobKey,
    /// Time between checkpoints.
    pub interval: Duration,
    /// The last durable epoch, when the job resumes.
    pub recovered: Option<Recovered>,
    /// The server's memory budget for operator state.
    pub budget: Arc<MemoryBudget>,
}

/// The checkpoint side of a job being spawned.
struct Participants {
    coordinator: Coordinator,
    handle: CheckpointHandle,
    config: Checkpointing,
}

impl Participants {
    /// The instance's namespace, with its state loaded when the job resumes.
    fn operator(
        &self,
        group: OperatorGroup,
        instance: usize,
        operator: &mut dyn Operator,
    ) -> Result<OperatorCheckpoint, StreamError> {
        let namespace = self.config.key.operator(group, instance);
        operator.attach(StateSpace::new(
            self.config.store.clone(),
            self.config.key.space(group, instance),
            self.config.budget.clone(),
        ));
        if self.config.recovered.is_some() {
            let entries = self
                .config
                .store
                .state_entries(&namespace)
                .map_err(|e| StreamError::Checkpoint(e.to_string()))?;
            operator.restore(&StateEntries::new(entries))?;
        }
        Ok(OperatorCheckpoint {
            handle: self.handle.clone(),
            namespace,
        })
    }
}

impl JobCounters {
    /// Rows dropped as late, over all window instances.
    pub fn late_rows(&self) -> u64 {
        self.windows.iter().map(|m| m.late_rows_dropped()).sum()
    }
}

/// Spawns the tasks of `plan` reading `splits` and writing to `sink` onto `tasks`; splits
/// without rows for `idle_timeout` stop holding back the watermark. With `checkpointing`, a
/// coordinator task takes checkpoints, and a resumed job's operators reload their state.
pub fn spawn(
    plan: &StreamPlan,
    splits: Vec<Box<dyn SplitReader>>,
    parallelism: usize,
    sink: Box<dyn SinkWriter>,
    idle_timeout: Option<std::time::Duration>,
    checkpointing: Option<Checkpointing>,
    tasks: &mut JoinSet<Result<(), StreamError>>,
) -> Result<JobCounters, StreamError> {
    let mut source_spec = plan.source.spec.clone();
    source_spec.idle_timeout = idle_timeout;
    let mut counters = JobCounters::default();
    let mut participants = match checkpointing {
        Some(config) => {
            let epoch = match &config.recovered {
                Some(recovered) => {
                    if recovered.meta.parallelism != parallelism
                        || recovered.meta.splits != splits.len()
                    {
                        return Err(StreamError::Checkpoint(format!(
                            "the job's state was written with parallelism {} and {} source splits; it now runs with parallelism {parallelism} and {} splits, and state cannot be redistributed yet",
                            recovered.meta.parallelism,
                            recovered.meta.splits,
                            splits.len()
                        )));
                    }
                    recovered.meta.epoch
                }
                None => 0,
            };
            let stats = Arc::new(CheckpointStats::default());
            counters.checkpoints = Some(stats.clone());
            let (mut coordinator, handle) = Coordinator::new(
                config.store.clone(),
                config.key.clone(),
                config.interval,
                parallelism,
                epoch,
                stats,
            );
            counters.stopper = Some(coordinator.stopper());
            Some(Participants {
                coordinator,
                handle,
                config,
            })
        }
        None => None,
    };
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
    let sink_checkpointing = match participants.as_mut() {
        Some(p) => {
            let namespace = p.config.key.sink();
            let (epoch, state) = match &p.config.recovered {
                Some(recovered) if sink.reads_its_state() => (
                    recovered.meta.epoch,
                    StateEntries::new(
                        p.config
                            .store
                            .state_entries(&namespace)
                            .map_err(|e| StreamError::Checkpoint(e.to_string()))?,
                    ),
                ),
                Some(recovered) => (recovered.meta.epoch, StateEntries::default()),
                None => (0, StateEntries::default()),
            };
            Some(SinkCheckpointing {
                handle: p.handle.clone(),
                namespace,
                commits: p.coordinator.add_sink(),
                epoch,
                state,
            })
        }
        None => None,
    };
    tasks.spawn(run_sink_checkpointed(
        sink,
        sink_receiver,
        sink_checkpointing,
    ));
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
        for (instance, receivers) in window_receivers.drain(..).enumerate() {
            let operators = operators(post)?;
            if let Some(first) = operators.first() {
                counters.windows.push(first.metrics().clone());
            }
            let mut chain = Chain::new(operators);
            let checkpoint = participants
                .as_ref()
                .map(|p| p.operator(OperatorGroup::Keyed, instance, &mut chain))
                .transpose()?;
            let (sender, receiver) = edge();
            merge_inputs.push(receiver);
            tasks.spawn(run_checkpointed(
                Box::new(chain),
                receivers,
                Output::Forward(sender),
                checkpoint,
            ));
        }
    }

    // Per split: the reader, then the stages before the window.
    let split_count = splits.len();
    for (index, reader) in splits.into_iter().enumerate() {
        let (source_sender, source_receiver) = edge();
        let source_checkpointing = participants.as_mut().map(|p| SourceCheckpointing {
            handle: p.handle.clone(),
            split: index,
            triggers: p.coordinator.add_source(),
            restore: p
                .config
                .recovered
                .as_ref()
                .and_then(|r| r.splits.get(index).cloned()),
        });
        tasks.spawn(run_source_checkpointed(
            reader,
            source_spec.clone(),
            Output::Forward(source_sender),
            source_checkpointing,
        ));
        let mut operators: Vec<Box<dyn Operator>> =
            vec![Box::new(Probe::new(counters.source.clone()))];
        operators.extend(self::operators(pre)?);
        let mut chain = Chain::new(operators);
        let checkpoint = participants
            .as_ref()
            .map(|p| p.operator(OperatorGroup::Source, index, &mut chain))
            .transpose()?;
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
        tasks.spawn(run_checkpointed(
            Box::new(chain),
            vec![source_receiver],
            output,
            checkpoint,
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
    let mut merge = Chain::new(vec![Box::new(Probe::new(counters.output.clone()))]);
    let checkpoint = participants
        .as_ref()
        .map(|p| p.operator(OperatorGroup::Merge, 0, &mut merge))
        .transpose()?;
    tasks.spawn(run_checkpointed(
        Box::new(merge),
        merge_inputs,
        Output::Forward(sink_sender),
        checkpoint,
    ));
    if let Some(participants) = participants {
        tasks.spawn(participants.coordinator.run());
    }
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
