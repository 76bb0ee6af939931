//! State larger than memory: a key space an operator instance writes and reads itself, between
//! barriers, and the memory budget that decides when it must.
//!
//! An operator that keeps a lot of state (a window aggregation over millions of keys) keeps only
//! its recent changes in memory and moves the rest into its [`StateSpace`]: RocksDB keys of its
//! own, written without syncing the WAL and read back when needed. Such writes are not durable
//! on their own and belong to no epoch until a checkpoint declares them: the operator records,
//! through its [`StateWriter`](super::StateWriter), which of them the epoch includes (it writes
//! them before the barrier, and the coordinator's synced write of the epoch syncs the WAL up to
//! itself, so they are on disk with the epoch). Whatever a space holds beyond its last durable
//! epoch is the operator's to discard at recovery. Removing state that an earlier epoch still
//! refers to goes through the writer, so it happens with the epoch that no longer needs it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::storage::{Store, prefix_end};
use crate::stream::StreamError;

/// How much memory the operators of a server may hold as working state before they move it to
/// their [`StateSpace`]s (`state.memory-budget`). One budget is shared by every job.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        MemoryBudget {
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// The budget's size in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes the operators say they hold now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// An operator that held `before` bytes now holds `after`; true when the operators together
    /// hold more than the budget (the caller then moves its state out of memory).
    pub fn update(&self, before: usize, after: usize) -> bool {
        let used = if after >= before {
            self.used.fetch_add(after - before, Ordering::Relaxed) + (after - before)
        } else {
            self.used.fetch_sub(before - after, Ordering::Relaxed) - (before - after)
        };
        used > self.limit
    }
}

/// The key space of one operator instance in the server's store, for state it writes and reads
/// itself between barriers (see the module documentation), with the server's memory budget.
#[derive(Debug, Clone)]
pub struct StateSpace {
    store: Arc<Store>,
    prefix: Vec<u8>,
    budget: Arc<MemoryBudget>,
}

impl StateSpace {
    /// The space under `prefix` of `store`.
    pub fn new(store: Arc<Store>, prefix: Vec<u8>, budget: Arc<MemoryBudget>) -> Self {
        StateSpace {
            store,
            prefix,
            budget,
        }
    }

    /// The server's memory budget.
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    /// The space of a part of this one (an operator of a chain), tagged by `part`, like
    /// [`StateWriter::nested`](super::StateWriter::nested).
    pub fn nested(&self, part: u8) -> StateSpace {
        let mut prefix = self.prefix.clone();
        prefix.push(part);
        StateSpace {
            store: self.store.clone(),
            prefix,
            budget: self.budget.clone(),
        }
    }

    /// The absolute key of `key` (for [`StateWriter::delete_range_at`](super::StateWriter)).
    pub fn absolute(&self, key: &[u8]) -> Vec<u8> {
        [self.prefix.as_slice(), key].concat()
    }

    /// The first absolute key after every key starting with `prefix` (relative).
    pub fn absolute_end(&self, prefix: &[u8]) -> Vec<u8> {
        prefix_end(&self.absolute(prefix))
    }

    /// Stores `value` at `key`, not yet durable (see the module documentation).
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StreamError> {
        self.store
            .state_put_unsynced(&self.absolute(key), value)
            .map_err(|e| StreamError::Checkpoint(format!("state store write: {e}")))
    }

    /// Removes the keys in `[from, to)` (absolute keys of this space): state no durable epoch
    /// refers to.
    pub fn discard_absolute(&self, from: &[u8], to: &[u8]) -> Result<(), StreamError> {
        self.store
            .state_delete_range_unsynced(from, to)
            .map_err(|e| StreamError::Checkpoint(format!("state store delete: {e}")))
    }

    /// Calls `visit` with every `(key, value)` whose key starts with `prefix`, in key order;
    /// keys relative to the space.
    pub fn scan(
        &self,
        prefix: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), StreamError>,
    ) -> Result<(), StreamError> {
        let absolute = self.absolute(prefix);
        let skip = self.prefix.len();
        self.store
            .state_scan(&absolute, |key, value| visit(&key[skip..], value))
    }
}

impl From<crate::storage::StorageError> for StreamError {
    fn from(e: crate::storage::StorageError) -> Self {
        StreamError::Checkpoint(format!("state store read: {e}"))
    }
}
