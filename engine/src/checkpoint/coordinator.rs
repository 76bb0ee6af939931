//! The per-job checkpoint coordinator: triggers epochs, collects what every task reports for
//! them, and makes each epoch durable in one store write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, Receiver, Sender, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

use super::{CheckpointStats, JobKey, JobMeta, STATE_VERSION, SplitCheckpoint, StateOp};
use crate::storage::{Store, StoreWrite};
use crate::stream::StreamError;

/// What the tasks of a job tell the coordinator.
#[derive(Debug)]
pub enum Report {
    /// A source split sent the barrier of `epoch`, standing at `checkpoint`.
    Source {
        /// The epoch.
        epoch: u64,
        /// The split's index.
        split: usize,
        /// Its position and clocks.
        checkpoint: SplitCheckpoint,
    },
    /// A source split ended (it sends no more barriers); where it stands is final.
    SourceEnded {
        /// The split's index.
        split: usize,
        /// Its final position and clocks.
        checkpoint: SplitCheckpoint,
    },
    /// An operator instance's state changes for `epoch`.
    State {
        /// The epoch.
        epoch: u64,
        /// The changes.
        ops: Vec<StateOp>,
    },
    /// The barrier of `epoch` reached the sink: every task has reported the epoch.
    Sink {
        /// The epoch.
        epoch: u64,
        /// The sink's own changes.
        ops: Vec<StateOp>,
    },
    /// The end of the input reached the sink: the last changes of a finished job.
    Finished {
        /// The sink's last changes.
        ops: Vec<StateOp>,
    },
    /// The sink made the output of `epoch` visible ([`crate::stream::sink::SinkWriter::on_commit`]
    /// returned).
    Committed {
        /// The epoch.
        epoch: u64,
    },
}

/// What the coordinator asks a source split for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// The epoch of the barrier to send.
    pub epoch: u64,
    /// After this barrier the split reads no more (the job stops at this epoch).
    pub stop: bool,
}

/// Asks a running job's coordinator to stop the job at a checkpoint: the reply is the epoch
/// that is durable (and committed by the sink) with every source stopped right after it.
pub type StopHandle = Sender<StopReply>;

/// Where the coordinator answers a stop request.
pub type StopReply = oneshot::Sender<Result<u64, StreamError>>;

/// How a task reports to the coordinator; cloned into every task of a checkpointed job.
#[derive(Debug, Clone)]
pub struct CheckpointHandle {
    reports: UnboundedSender<Report>,
}

impl CheckpointHandle {
    /// Reports to the coordinator. A coordinator that is gone (the job is being torn down) is
    /// not an error of the reporting task.
    pub fn report(&self, report: Report) {
        let _ = self.reports.send(report);
    }
}

/// One epoch between its trigger and its durable write.
#[derive(Debug)]
struct InFlight {
    epoch: u64,
    started: Instant,
    ops: Vec<StateOp>,
    sources: BTreeMap<usize, SplitCheckpoint>,
}

/// Triggers and completes the checkpoints of one job. One epoch is in flight at a time.
#[derive(Debug)]
pub struct Coordinator {
    store: Arc<Store>,
    key: JobKey,
    interval: Duration,
    parallelism: usize,
    /// The last durable epoch.
    epoch: u64,
    triggers: Vec<Option<Sender<Trigger>>>,
    reports: UnboundedReceiver<Report>,
    stops: Option<Receiver<StopReply>>,
    commits: Vec<UnboundedSender<u64>>,
    stats: Arc<CheckpointStats>,
    ended: BTreeMap<usize, SplitCheckpoint>,
}

impl Coordinator {
    /// A coordinator for job `key` whose last durable epoch is `epoch` (0 for a fresh job),
    /// checkpointing every `interval`. Returns it with the handle tasks report through.
    pub fn new(
        store: Arc<Store>,
        key: JobKey,
        interval: Duration,
        parallelism: usize,
        epoch: u64,
        stats: Arc<CheckpointStats>,
    ) -> (Coordinator, CheckpointHandle) {
        let (sender, reports) = mpsc::unbounded_channel();
        stats.record(epoch, 0, 0);
        (
            Coordinator {
                store,
                key,
                interval,
                parallelism,
                epoch,
                triggers: Vec::new(),
                reports,
                stops: None,
                commits: Vec::new(),
                stats,
                ended: BTreeMap::new(),
            },
            CheckpointHandle { reports: sender },
        )
    }

    /// The handle that stops the job at a checkpoint ([`StopHandle`]).
    pub fn stopper(&mut self) -> StopHandle {
        let (sender, receiver) = mpsc::channel(1);
        self.stops = Some(receiver);
        sender
    }

    /// The trigger channel of the next source split (their order is the split order).
    pub fn add_source(&mut self) -> Receiver<Trigger> {
        let (sender, receiver) = mpsc::channel(1);
        self.triggers.push(Some(sender));
        receiver
    }

    /// A channel on which the sink hears of each durable epoch.
    pub fn add_sink(&mut self) -> UnboundedReceiver<u64> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.commits.push(sender);
        receiver
    }

    /// Runs until the job finished (its last epoch is durable) or every task is gone.
    pub async fn run(mut self) -> Result<(), StreamError> {
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + self.interval, self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut in_flight: Option<InFlight> = None;
        let mut stops = self.stops.take();
        // A stop asked for, and the epoch it stops at once triggered.
        let mut stopping: Option<(StopReply, Option<u64>)> = None;
        loop {
            if let Some((_, at @ None)) = stopping.as_mut()
                && in_flight.is_none()
            {
                in_flight = self.trigger(true);
                match &in_flight {
                    Some(flight) => *at = Some(flight.epoch),
                    None => {
                        if let Some((reply, _)) = stopping.take() {
                            let _ = reply.send(Err(StreamError::Checkpoint(
                                "the job cannot stop at a checkpoint: its sources have ended"
                                    .to_string(),
                            )));
                        }
                    }
                }
            }
            tokio::select! {
                _ = ticker.tick(), if in_flight.is_none() && stopping.is_none() => {
                    in_flight = self.trigger(false);
                }
                request = async { stops.as_mut()?.recv().await }, if stops.is_some() && stopping.is_none() => {
                    match request {
                        Some(reply) => stopping = Some((reply, None)),
                        None => stops = None,
                    }
                }
                report = self.reports.recv() => {
                    let Some(report) = report else { return Ok(()) };
                    match report {
                        Report::Source { epoch, split, checkpoint } => {
                            if let Some(flight) = in_flight.as_mut().filter(|f| f.epoch == epoch) {
                                flight.sources.insert(split, checkpoint);
                            }
                        }
                        Report::SourceEnded { split, checkpoint } => {
                            self.ended.insert(split, checkpoint);
                        }
                        Report::State { epoch, ops } => {
                            if let Some(flight) = in_flight.as_mut().filter(|f| f.epoch == epoch) {
                                flight.ops.extend(ops);
                            }
                        }
                        Report::Sink { epoch, ops } => {
                            let Some(mut flight) = in_flight.take().filter(|f| f.epoch == epoch)
                            else {
                                return Err(StreamError::Internal(format!(
                                    "checkpoint barrier {epoch} reached the sink without being in flight"
                                )));
                            };
                            flight.ops.extend(ops);
                            self.complete(flight, false).await?;
                        }
                        Report::Finished { ops } => {
                            // An epoch triggered after every source ended never flows: the
                            // final write takes its number.
                            let epoch = in_flight.as_ref().map_or(self.epoch + 1, |f| f.epoch);
                            let flight = InFlight {
                                epoch,
                                started: Instant::now(),
                                ops,
                                sources: BTreeMap::new(),
                            };
                            self.complete(flight, true).await?;
                            if let Some((reply, _)) = stopping.take() {
                                let _ = reply.send(Err(StreamError::Checkpoint(
                                    "the job finished (its input ended) before it could stop"
                                        .to_string(),
                                )));
                            }
                            return Ok(());
                        }
                        Report::Committed { epoch } => {
                            if let Some((_, Some(at))) = &stopping
                                && epoch >= *at
                                && let Some((reply, _)) = stopping.take()
                            {
                                // Every source stopped after this epoch's barrier: nothing
                                // more flows, and the job can be torn down.
                                let _ = reply.send(Ok(epoch));
                                return Ok(());
                            }
                        }
                    }
                }
            }
        }
    }

    /// Asks every live source for the barrier of the next epoch (the last one, with `stop`).
    fn trigger(&mut self, stop: bool) -> Option<InFlight> {
        let epoch = self.epoch + 1;
        let mut asked = false;
        for trigger in &mut self.triggers {
            if let Some(sender) = trigger {
                match sender.try_send(Trigger { epoch, stop }) {
                    Ok(()) => asked = true,
                    // Still holding the previous trigger cannot happen with one epoch in
                    // flight; a closed channel is a split that ended.
                    Err(_) => *trigger = None,
                }
            }
        }
        asked.then(|| InFlight {
            epoch,
            started: Instant::now(),
            ops: Vec::new(),
            sources: BTreeMap::new(),
        })
    }

    /// Writes `flight` as one synced store write, then tells the sinks.
    async fn complete(&mut self, flight: InFlight, finished: bool) -> Result<(), StreamError> {
        let mut write = StoreWrite::default();
        let mut bytes = 0u64;
        if finished {
            // Nothing resumes a finished job: its operator state and positions go.
            write.delete_state_prefix(self.key.operators());
            write.delete_state_prefix(self.key.spaces());
            write.delete_state_prefix(self.key.sources());
        } else {
            for split in 0..self.triggers.len() {
                let checkpoint = flight
                    .sources
                    .get(&split)
                    .or_else(|| self.ended.get(&split))
                    .ok_or_else(|| {
                        StreamError::Internal(format!(
                            "epoch {} completed without a position for split {split}",
                            flight.epoch
                        ))
                    })?;
                let value = serde_json::to_vec(checkpoint)
                    .map_err(|e| StreamError::Internal(format!("split position: {e}")))?;
                bytes += value.len() as u64;
                write.put_state(self.key.source(split), value);
            }
        }
        for op in flight.ops {
            bytes += op.size() as u64;
            op.apply(&mut write);
        }
        let meta = JobMeta {
            version: STATE_VERSION,
            epoch: flight.epoch,
            parallelism: self.parallelism,
            splits: self.triggers.len(),
            finished,
            interval_ms: self.interval.as_millis() as u64,
        };
        let value = serde_json::to_vec(&meta)
            .map_err(|e| StreamError::Internal(format!("job metadata: {e}")))?;
        write.put_state(self.key.meta(), value);
        let store = self.store.clone();
        crate::failpoint::hit(crate::failpoint::BEFORE_CHECKPOINT_WRITE);
        tokio::task::spawn_blocking(move || store.commit(write))
            .await
            .map_err(|e| StreamError::Internal(format!("checkpoint write task: {e}")))?
            .map_err(|e| StreamError::Checkpoint(format!("epoch {}: {e}", flight.epoch)))?;
        self.epoch = flight.epoch;
        self.stats.record(
            flight.epoch,
            flight.started.elapsed().as_millis() as u64,
            bytes,
        );
        for commits in &self.commits {
            let _ = commits.send(flight.epoch);
        }
        Ok(())
    }
}
