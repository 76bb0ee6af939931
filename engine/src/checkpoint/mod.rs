//! Checkpoints: aligned barriers, durable epochs and recovery (DESIGN.md, "State, checkpoints,
//! recovery").
//!
//! Every `checkpoint.interval` the job's [`Coordinator`] asks each source split for a barrier of
//! a new epoch. A split sends `Barrier(epoch)` downstream between two batches and reports where
//! it stands (its [`SplitCheckpoint`]); an operator with several inputs aligns them (an input
//! that delivered the barrier waits until every other open input did), writes the state that
//! changed since the last barrier ([`StateWriter`]) and forwards the barrier; the sink reports
//! its own state (a materialized view's new rows) when the barrier reaches it. At that point
//! every part of the job has reported the epoch, and the coordinator writes state, positions
//! and the job's metadata as one synced store write: the epoch is durable entirely or not at
//! all. Only then are sinks told the epoch committed (a view publishes its rows).
//!
//! Operators capture their changes synchronously at the barrier and go on processing; the
//! store write happens in the coordinator meanwhile (an asynchronous snapshot).
//!
//! Recovery ([`Recovered::load`]) reads the last durable epoch: sources seek to the recorded
//! positions and restore their watermarks, operators reload their state, and the job resumes.

mod coordinator;
mod keys;
mod space;
mod state;

use std::collections::BTreeMap;

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

pub use coordinator::{CheckpointHandle, Coordinator, Report, StopHandle, Trigger};
pub use keys::{FROM_SAVEPOINT, JobKey, OperatorGroup};
pub use space::{MemoryBudget, StateSpace};
pub use state::{StateEntries, StateOp, StateWriter};

use crate::storage::{StorageError, Store};

/// Version of the checkpointed state's layout (operator state encodings, metadata). A job
/// refuses to restore state written by a version it does not know.
pub const STATE_VERSION: u32 = 2;

/// A job's durable metadata: which epoch is the last complete one, and the shape of the job
/// that wrote it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JobMeta {
    /// [`STATE_VERSION`] of the writer.
    pub version: u32,
    /// The last durable epoch.
    pub epoch: u64,
    /// Instances of each keyed operator when the state was written.
    pub parallelism: usize,
    /// Source splits when the state was written.
    pub splits: usize,
    /// The job's bounded input ended and every result is durable: nothing to resume.
    pub finished: bool,
    /// The job's checkpoint interval in milliseconds (it keeps it when resumed).
    #[serde(default)]
    pub interval_ms: u64,
}

/// Where one source split stands at a barrier: the connector's position (what to seek to) and
/// its watermark clocks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SplitCheckpoint {
    /// The connector's position as `(key, value)` pairs (a Kafka partition's next offset, a
    /// file's byte offset); see [`crate::stream::source::SplitReader::position`].
    pub position: Vec<(String, i64)>,
    /// The split's watermark as last sent downstream.
    pub watermark: i64,
    /// Each partition's own watermark, by the reader's partition number.
    pub partitions: Vec<(u32, i64)>,
    /// Whether the reader had announced its partitions (`PartitionsAdded`).
    pub explicit: bool,
}

/// Checkpoint figures of a job, shown in the jobs table.
#[derive(Debug, Default)]
pub struct CheckpointStats {
    epoch: AtomicU64,
    duration_ms: AtomicU64,
    bytes: AtomicU64,
}

impl CheckpointStats {
    /// The last durable epoch (0: none yet).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// How long the last checkpoint took, from its trigger to its durable write.
    pub fn duration_ms(&self) -> u64 {
        self.duration_ms.load(Ordering::Relaxed)
    }

    /// Bytes the last checkpoint wrote (keys and values).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn record(&self, epoch: u64, duration_ms: u64, bytes: u64) {
        self.duration_ms.store(duration_ms, Ordering::Relaxed);
        self.bytes.store(bytes, Ordering::Relaxed);
        self.epoch.store(epoch, Ordering::Relaxed);
    }
}

/// The last durable epoch of a job, read back at recovery.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The job's metadata.
    pub meta: JobMeta,
    /// Each split's checkpoint, by split index.
    pub splits: Vec<SplitCheckpoint>,
}

impl Recovered {
    /// Reads job `key`'s last durable epoch; `None` when it never completed one.
    pub fn load(store: &Store, key: &JobKey) -> Result<Option<Recovered>, StorageError> {
        let Some(bytes) = store.state_get(&key.meta())? else {
            return Ok(None);
        };
        let meta: JobMeta = serde_json::from_slice(&bytes)
            .map_err(|e| StorageError::Corrupt(format!("job metadata: {e}")))?;
        if meta.version != STATE_VERSION {
            return Err(StorageError::Corrupt(format!(
                "job state has layout version {}; this Runnel reads version {STATE_VERSION}",
                meta.version
            )));
        }
        let mut splits = Vec::with_capacity(meta.splits);
        for (_, value) in store.state_entries(&key.sources())? {
            splits.push(
                serde_json::from_slice(&value)
                    .map_err(|e| StorageError::Corrupt(format!("split position: {e}")))?,
            );
        }
        Ok(Some(Recovered { meta, splits }))
    }

    /// The checkpoint interval the job ran with (a resumed job keeps it), if recorded.
    pub fn interval(&self) -> Option<std::time::Duration> {
        (self.meta.interval_ms > 0).then(|| std::time::Duration::from_millis(self.meta.interval_ms))
    }

    /// The union of every split's position: what each source connector resumes from.
    pub fn positions(&self) -> BTreeMap<String, i64> {
        self.splits
            .iter()
            .flat_map(|split| split.position.iter().cloned())
            .collect()
    }
}
