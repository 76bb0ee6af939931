//! Where a job's checkpointed state lives in the store's `state` column family.
//!
//! Every key of a job starts with `job/<name>\0`, so dropping the job is one range delete:
//! - `m`: the job's [`JobMeta`](super::JobMeta) (last durable epoch, parallelism, layout
//!   version);
//! - `s<split u32>`: where each source split stands ([`SplitCheckpoint`](super::SplitCheckpoint));
//! - `o<group u8><instance u32>…`: the state of one operator instance (keys below it belong to
//!   the operator);
//! - `t<group u8><instance u32>…`: what an operator instance writes to the store itself
//!   between barriers ([`StateSpace`](super::StateSpace): state larger than memory);
//! - `k…`: the sink's state (a materialized view's rows, one segment per epoch).

/// A key of the sink's namespace that says the job starts from a savepoint, taken after a
/// stop at which the sink committed everything: a transactional sink has nothing of an
/// earlier run to settle (see `SinkWriter::recover`).
pub const FROM_SAVEPOINT: &[u8] = b"savepoint";

/// The key space of one job, named after what the job maintains (a materialized view's name),
/// so it is the same after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobKey {
    prefix: Vec<u8>,
}

/// Operator groups of a job graph, each with instances of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorGroup {
    /// The chain after each source split (one instance per split).
    Source = 0,
    /// The keyed chain after the exchange (one instance per parallel slot).
    Keyed = 1,
    /// The merge in front of the sink.
    Merge = 2,
}

impl JobKey {
    /// The key space of job `name`.
    pub fn new(name: &str) -> Self {
        let mut prefix = b"job/".to_vec();
        prefix.extend_from_slice(name.as_bytes());
        prefix.push(0);
        JobKey { prefix }
    }

    /// The prefix of every key of the job.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The job's metadata record.
    pub fn meta(&self) -> Vec<u8> {
        self.with(b"m")
    }

    /// Prefix of the split positions.
    pub fn sources(&self) -> Vec<u8> {
        self.with(b"s")
    }

    /// The position of split `split`.
    pub fn source(&self, split: usize) -> Vec<u8> {
        let mut key = self.sources();
        key.extend_from_slice(&(split as u32).to_be_bytes());
        key
    }

    /// Prefix of every operator's state.
    pub fn operators(&self) -> Vec<u8> {
        self.with(b"o")
    }

    /// The namespace of one operator instance.
    pub fn operator(&self, group: OperatorGroup, instance: usize) -> Vec<u8> {
        let mut key = self.operators();
        key.push(group as u8);
        key.extend_from_slice(&(instance as u32).to_be_bytes());
        key
    }

    /// Prefix of every operator's own key space.
    pub fn spaces(&self) -> Vec<u8> {
        self.with(b"t")
    }

    /// The key space one operator instance writes itself ([`StateSpace`](super::StateSpace)).
    pub fn space(&self, group: OperatorGroup, instance: usize) -> Vec<u8> {
        let mut key = self.spaces();
        key.push(group as u8);
        key.extend_from_slice(&(instance as u32).to_be_bytes());
        key
    }

    /// The namespace of the sink.
    pub fn sink(&self) -> Vec<u8> {
        self.with(b"k")
    }

    fn with(&self, tag: &[u8]) -> Vec<u8> {
        [self.prefix.as_slice(), tag].concat()
    }
}
